//! The month end: the OEM's CSV read in every form it comes in, written
//! and read back in every layout (property), and the matching rule.
#![allow(clippy::unwrap_used)]

use agora_domain::lifecycle::ClaimState;
use agora_domain::month_end::{
    CsvClaim, CsvDateForm, CsvEncoding, CsvError, CsvHeaders, CsvLayout, CsvLine, CsvMapping,
    CsvSeparator, LocalClaim, Period, read_claims_csv, reconcile, write_claims_csv,
};
use agora_domain::{ClaimId, InterventionId, ManufacturerId};
use jiff::civil::Date;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn read(bytes: &[u8]) -> agora_domain::month_end::ClaimsCsv {
    read_claims_csv(bytes, &CsvMapping::default()).unwrap()
}

/// A row as read: claim, file, amount, date.
type Row = (i64, Option<i64>, Option<Decimal>, Option<Date>);

/// (claim, file, amount, date) of each row.
fn rows(bytes: &[u8]) -> Vec<Row> {
    read(bytes)
        .claims
        .iter()
        .map(|c| {
            (
                c.claim_id.0,
                c.intervention_id.map(|i| i.0),
                c.amount,
                c.date,
            )
        })
        .collect()
}

fn nov(day: i8) -> Option<Date> {
    Date::new(2026, 11, day).ok()
}

#[test]
fn semicolons_decimal_comma_and_french_headers() {
    let file = "N° réclamation;N° dossier;Montant HT;Date d'acceptation\r\n\
                5000001;500001;45,50;30/11/2026\r\n\
                5000002;500002;1 234,00;01.11.2026\r\n";
    let csv = read(file.as_bytes());
    assert_eq!(csv.separator, ';');
    assert_eq!(csv.encoding, CsvEncoding::Utf8);
    assert_eq!(csv.columns.claim_id, "N° réclamation");
    assert_eq!(
        rows(file.as_bytes()),
        vec![
            (5_000_001, Some(500_001), Some(dec("45.50")), nov(30)),
            (5_000_002, Some(500_002), Some(dec("1234.00")), nov(1)),
        ]
    );
    // The rows are those of the file, the header being row 1.
    assert_eq!(csv.claims[1].row, 3);
}

#[test]
fn commas_quoted_cells_decimal_point_and_english_headers() {
    let file = "\"Claim ID\",\"Intervention ID\",\"Amount\",\"Acceptance date\",\"Customer\"\n\
                \"5000001\",\"500001\",\"1,234.56\",\"2026-11-30\",\"Martin, Paul\"\n\
                5000002,500002,12.5,2026-11-02T10:00:00,Dupont\n";
    let csv = read(file.as_bytes());
    assert_eq!(csv.separator, ',');
    assert_eq!(
        rows(file.as_bytes()),
        vec![
            (5_000_001, Some(500_001), Some(dec("1234.56")), nov(30)),
            (5_000_002, Some(500_002), Some(dec("12.5")), nov(2)),
        ]
    );
}

#[test]
fn a_bom_is_utf8_and_not_part_of_the_first_header() {
    let mut file = b"\xEF\xBB\xBF".to_vec();
    file.extend_from_slice("ClaimID;Montant\n5000001;10,00\n".as_bytes());
    let csv = read(&file);
    assert_eq!(csv.encoding, CsvEncoding::Utf8Bom);
    assert_eq!(csv.columns.claim_id, "ClaimID");
    assert_eq!(csv.claims[0].amount, Some(dec("10.00")));
}

#[test]
fn windows_1252_with_accented_names_is_detected() {
    // "N° réclamation;Client;Montant TTC" and "Hélène Gérard" in Windows-1252.
    let file: Vec<u8> = [
        &b"N\xB0 r\xE9clamation;Client;Montant TTC;N\xB0 de dossier\r\n"[..],
        &b"5000001;H\xE9l\xE8ne G\xE9rard;99,90;500001\r\n"[..],
    ]
    .concat();
    assert!(std::str::from_utf8(&file).is_err());
    let csv = read(&file);
    assert_eq!(csv.encoding, CsvEncoding::Windows1252);
    assert_eq!(csv.columns.claim_id, "N° réclamation");
    assert_eq!(csv.columns.amount.as_deref(), Some("Montant TTC"));
    assert_eq!(
        csv.columns.intervention_id.as_deref(),
        Some("N° de dossier")
    );
    assert_eq!(csv.claims[0].amount, Some(dec("99.90")));
    assert_eq!(csv.claims[0].intervention_id, Some(InterventionId(500_001)));
}

#[test]
fn header_variants_are_recognised() {
    for (header, column) in [
        ("Claim ID;Repair file", "Repair file"),
        ("claim_id;intervention_id", "intervention_id"),
        ("WarrantyClaimId;InterventionId", "InterventionId"),
        ("Numéro de réclamation;Dossier", "Dossier"),
        ("N° demande garantie;N° intervention", "N° intervention"),
        ("RECLAMATION;REPARATION", "REPARATION"),
    ] {
        let file = format!("{header}\n5000001;500001\n");
        let csv = read_claims_csv(file.as_bytes(), &CsvMapping::default())
            .unwrap_or_else(|e| panic!("{header}: {e}"));
        assert_eq!(
            csv.columns.intervention_id.as_deref(),
            Some(column),
            "{header}"
        );
        assert_eq!(csv.claims[0].claim_id, ClaimId(5_000_001), "{header}");
    }
}

#[test]
fn the_mapping_names_what_cannot_be_detected() {
    // Headers no rule knows, a tab-less pipe separator, US dates.
    let file = "Ref|Job|Sum|When\n5000001|500001|1.234,5|11/30/2026\n";
    let mapping = CsvMapping {
        claim_id: Some("Ref".into()),
        intervention_id: Some("job".into()),
        amount: Some("Sum".into()),
        date: Some("When".into()),
        separator: Some('|'),
        decimal_comma: Some(true),
        date_format: Some("%m/%d/%Y".into()),
        ..CsvMapping::default()
    };
    let csv = read_claims_csv(file.as_bytes(), &mapping).unwrap();
    assert_eq!(csv.claims[0].claim_id, ClaimId(5_000_001));
    assert_eq!(csv.claims[0].intervention_id, Some(InterventionId(500_001)));
    assert_eq!(csv.claims[0].amount, Some(dec("1234.5")));
    assert_eq!(csv.claims[0].date, nov(30));
    // Without it, no claim column is found: an error naming the headers.
    let err = read_claims_csv(file.as_bytes(), &CsvMapping::default()).unwrap_err();
    assert!(
        matches!(
            err,
            CsvError::NoColumn {
                what: "claim id",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Ref|Job|Sum|When"), "{err}");
    // A column the mapping names that the file lacks is named.
    let missing = CsvMapping {
        amount: Some("Montant remboursé".into()),
        ..CsvMapping::default()
    };
    let err = read_claims_csv("Claim;Amount\n1;2\n".as_bytes(), &missing).unwrap_err();
    assert!(err.to_string().contains("\"Montant remboursé\""), "{err}");
}

#[test]
fn a_bad_cell_names_its_row_and_column() {
    let file = "Claim ID;Intervention ID;Amount;Date\n\
                5000001;500001;10,00;30/11/2026\n\
                5000002;500002;dix euros;30/11/2026\n";
    let err = read_claims_csv(file.as_bytes(), &CsvMapping::default()).unwrap_err();
    assert_eq!(
        err,
        CsvError::Cell {
            row: 3,
            column: 3,
            header: "Amount".into(),
            value: "dix euros".into(),
            expected: "an amount",
        }
    );
    assert_eq!(
        err.to_string(),
        "row 3, column 3 (\"Amount\"): \"dix euros\" is not an amount"
    );
    for (line, column, expected) in [
        ("ABC;500001;1;30/11/2026", 1, "a claim id"),
        (";500001;1;30/11/2026", 1, "a claim id"),
        ("5000001;x;1;30/11/2026", 2, "a repair file id"),
        (
            "5000001;500001;1;31/11/2026",
            4,
            "a date (yyyy-mm-dd, dd/mm/yyyy or dd.mm.yyyy)",
        ),
    ] {
        let file = format!("Claim ID;Intervention ID;Amount;Date\n{line}\n");
        match read_claims_csv(file.as_bytes(), &CsvMapping::default()).unwrap_err() {
            CsvError::Cell {
                row: 2,
                column: c,
                expected: e,
                ..
            } => {
                assert_eq!((c, e), (column, expected), "{line}");
            }
            other => panic!("{line}: {other}"),
        }
    }
}

#[test]
fn empty_files_and_blank_lines() {
    assert_eq!(
        read_claims_csv(b"", &CsvMapping::default()).unwrap_err(),
        CsvError::Empty
    );
    let csv = read("Claim ID\n\n5000001\n\n".as_bytes());
    assert_eq!(csv.claims.len(), 1);
    // Empty optional cells are no value, not an error.
    let csv = read("Claim ID;Amount;Date\n5000001;;\n".as_bytes());
    assert_eq!((csv.claims[0].amount, csv.claims[0].date), (None, None));
}

fn layouts() -> impl Strategy<Value = CsvLayout> {
    (
        prop_oneof![Just(CsvSeparator::Semicolon), Just(CsvSeparator::Comma)],
        prop_oneof![
            Just(CsvEncoding::Utf8),
            Just(CsvEncoding::Utf8Bom),
            Just(CsvEncoding::Windows1252)
        ],
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(CsvHeaders::French), Just(CsvHeaders::English)],
        prop_oneof![
            Just(CsvDateForm::Iso),
            Just(CsvDateForm::Slashes),
            Just(CsvDateForm::Dots)
        ],
    )
        .prop_map(
            |(separator, encoding, decimal_comma, quote_all, headers, dates)| CsvLayout {
                separator,
                encoding,
                decimal_comma,
                quote_all,
                headers,
                dates,
            },
        )
}

fn lines() -> impl Strategy<Value = Vec<CsvLine>> {
    proptest::collection::vec(
        (
            1i64..9_999_999_999,
            1i64..9_999_999_999,
            -100_000_000_i64..100_000_000,
            (2000i16..2100, 1i8..=12, 1i8..=28),
            "[A-Za-zéèàçôüÉ ,;'\"-]{0,20}",
        )
            .prop_map(|(claim, file, cents, (y, m, d), customer)| CsvLine {
                claim_id: ClaimId(claim),
                intervention_id: InterventionId(file),
                amount: Decimal::new(cents, 2),
                date: Date::new(y, m, d).unwrap(),
                customer,
            }),
        0..30,
    )
}

proptest! {
    /// Any set of claims written in any supported layout reads back as the
    /// same claims, repair files, amounts and dates.
    #[test]
    fn any_claims_in_any_layout_read_back_the_same(lines in lines(), layout in layouts()) {
        let bytes = write_claims_csv(&lines, &layout);
        let csv = read_claims_csv(&bytes, &CsvMapping::default())
            .map_err(|e| TestCaseError::fail(format!("{layout:?}: {e}")))?;
        // Windows-1252 holding ASCII alone is valid UTF-8: read as such,
        // to the same text.
        let expected = match layout.encoding {
            CsvEncoding::Windows1252 if std::str::from_utf8(&bytes).is_ok() => CsvEncoding::Utf8,
            other => other,
        };
        prop_assert_eq!(csv.encoding, expected);
        prop_assert_eq!(csv.separator, layout.separator.as_char());
        let back: Vec<_> = csv
            .claims
            .iter()
            .map(|c| (c.claim_id, c.intervention_id, c.amount, c.date))
            .collect();
        let sent: Vec<_> = lines
            .iter()
            .map(|l| (l.claim_id, Some(l.intervention_id), Some(l.amount), Some(l.date)))
            .collect();
        prop_assert_eq!(back, sent);
    }
}

fn accepted(claim: i64, period: Option<Period>) -> LocalClaim {
    LocalClaim {
        claim_id: ClaimId(claim),
        intervention_id: InterventionId(claim / 10),
        manufacturer: Some(ManufacturerId(19)),
        state: Some(ClaimState::ClosedAccepted),
        invoiced: false,
        accepted_in: period,
        amount: None,
    }
}

fn in_csv(claim: i64, row: u64) -> CsvClaim {
    CsvClaim {
        row,
        claim_id: ClaimId(claim),
        intervention_id: Some(InterventionId(claim / 10)),
        amount: Some(dec("45.50")),
        date: None,
    }
}

#[test]
fn the_month_s_claims_match_and_every_difference_is_reported() {
    let nov: Period = "2026-11".parse().unwrap();
    let oct = nov.previous();
    let mut local = vec![
        accepted(10, Some(nov)),
        accepted(20, Some(nov)),
        // Accepted in November, absent from the CSV: missing.
        accepted(30, Some(nov)),
        // Accepted in October, absent: not this month's, not missing.
        accepted(40, Some(oct)),
        // Accepted in November, invoiced already: not missing.
        LocalClaim {
            invoiced: true,
            ..accepted(50, Some(nov))
        },
        // NOTCONFORM here.
        LocalClaim {
            state: Some(ClaimState::NotConform),
            ..accepted(60, None)
        },
        // Another OEM's, accepted in November.
        LocalClaim {
            manufacturer: Some(ManufacturerId(3)),
            ..accepted(70, Some(nov))
        },
    ];
    let clean = reconcile(
        &[in_csv(10, 2), in_csv(20, 3), in_csv(30, 4)],
        &local,
        nov,
        Some(ManufacturerId(19)),
    );
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!(clean.claims(), vec![ClaimId(10), ClaimId(20), ClaimId(30)]);
    assert!(clean.summary().ends_with(": clean"), "{}", clean.summary());

    let csv = [
        in_csv(10, 2),
        in_csv(20, 3),
        in_csv(50, 4),
        in_csv(60, 5),
        in_csv(99, 6),
        in_csv(10, 7),
        in_csv(70, 8),
    ];
    local[1].amount = Some(dec("45.5"));
    local[0].amount = Some(dec("40"));
    let r = reconcile(&csv, &local, nov, Some(ManufacturerId(19)));
    assert!(!r.is_clean());
    assert_eq!(r.claims(), vec![ClaimId(10), ClaimId(20)]);
    let states: Vec<(i64, &str)> = r
        .not_accepted
        .iter()
        .map(|n| (n.claim_id.0, n.local_state.as_str()))
        .collect();
    assert_eq!(
        states,
        vec![
            (50, "invoiced already"),
            (60, "NOTCONFORM"),
            (99, "unknown"),
            (70, "of OEM 3")
        ]
    );
    assert_eq!(
        r.missing.iter().map(|m| m.claim_id.0).collect::<Vec<_>>(),
        vec![30]
    );
    // 45.50 and 45.5 are one amount; 45.50 and 40 are not.
    assert_eq!(r.differs.len(), 1);
    assert_eq!(
        (
            r.differs[0].claim_id.0,
            r.differs[0].what,
            r.differs[0].local.as_str()
        ),
        (10, "amount", "40")
    );
    assert_eq!(r.duplicated.len(), 1);
    assert_eq!(r.duplicated[0].row, 7);

    // Without an OEM, every OEM's claims are expected.
    let all = reconcile(&[in_csv(10, 2), in_csv(20, 3)], &local, nov, None);
    let missing: Vec<i64> = all.missing.iter().map(|m| m.claim_id.0).collect();
    assert_eq!(missing, vec![30, 70]);
    // A repair file that differs is reported.
    let other_file = CsvClaim {
        intervention_id: Some(InterventionId(7)),
        ..in_csv(10, 2)
    };
    let r = reconcile(&[other_file], &local[..1], nov, None);
    assert_eq!(r.differs[0].what, "repair file");
}

#[test]
fn a_claim_s_month_is_taken_in_the_time_zone_given() {
    let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
    // 23:30 UTC on 30 November is 00:30 on 1 December in Paris.
    let at: jiff::Timestamp = "2026-11-30T23:30:00Z".parse().unwrap();
    assert_eq!(Period::of(at, &paris).to_string(), "2026-12");
    assert_eq!(
        Period::of(at, &jiff::tz::TimeZone::UTC).to_string(),
        "2026-11"
    );
    assert_eq!(
        "2026-01".parse::<Period>().unwrap().previous().to_string(),
        "2025-12"
    );
    for bad in ["2026-13", "2026-1", "26-11", "november", "2026-00"] {
        assert!(bad.parse::<Period>().is_err(), "{bad}");
    }
}
