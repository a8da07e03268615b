//! The month end against the in-memory simulator and a real SQLite store:
//! a month of accepted claims ends with the OEM's draft and its CSV; the
//! match is clean; a CSV missing one accepted claim, or carrying one never
//! claimed, is reported and its invoice refused.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agora_app::{Agora, AgoraError, AppConfig, Delivery, MonthEnd};
use agora_domain::lifecycle::ClaimState;
use agora_domain::month_end::{
    CsvDateForm, CsvEncoding, CsvHeaders, CsvLayout, CsvMapping, CsvSeparator, Period,
};
use agora_domain::{ClaimId, ClaimStatus, Lcid, MandateLightResponse, ManufacturerId};
use agora_mock::{SimClient, SimConfig, Simulator};
use agora_ports::{Clock, RepairFiles};
use agora_store_sqlite::SqliteStore;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;

struct ManualClock(Mutex<Timestamp>);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl ManualClock {
    fn set(&self, at: &str) {
        *self.0.lock().unwrap() = at.parse().unwrap();
    }
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

type App = Agora<SimClient, SqliteStore>;

fn setup(name: &str) -> (tempfile::TempDir, Simulator, App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock(Mutex::new(
        "2024-11-01T08:00:00Z".parse().unwrap(),
    )));
    let config = SimConfig {
        tenants: vec!["a".into()],
        seed: 5,
        catalog_size: 3000,
        ..SimConfig::default()
    };
    let dir = tempfile::Builder::new()
        .prefix(&format!("agora-month-{name}-"))
        .tempdir()
        .unwrap();
    let store = SqliteStore::open(dir.path().join("agora.db")).unwrap();
    let sim = Simulator::with_clock(config, clock.clone());
    let app = Agora::new(sim.client("a"), store, clock.clone(), AppConfig::default());
    (dir, sim, app, clock)
}

fn work_order(oem: u32) -> MandateLightResponse {
    serde_json::from_value(json!({
        "ManufacturerId": oem, "InterventionTypeId": 1,
        "Consumer": {"Title": "1", "LastName": "Hélène Gérard", "FirstName": "Claire", "Address1": "12 rue des Lilas"}
    }))
    .unwrap()
}

/// A repair of OEM 19 whose claim the OEM accepts, tracked here: its claim.
async fn accepted_claim(sim: &Simulator, app: &App, labor_cost: f64) -> ClaimId {
    sim.publish_mandate("a", work_order(19)).unwrap();
    let id = app.sync_work_orders().await.unwrap().accepted[0];
    let claim: agora_domain::WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"InterventionId": id.0, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Gérard", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-10-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-10-30T08:00:00Z",
                       "InterventionEndDateTime": "2024-10-30T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": labor_cost},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap();
    let how = agora_ports::ClaimSubmission {
        language: Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let created = agora_ports::Claims::create_claim(&sim.client("a"), &claim, how)
        .await
        .unwrap()
        .data;
    let claim_id = created.claim_id.unwrap();
    let mut local = app.repair(id).await.unwrap();
    local.claim_id = Some(claim_id);
    local.lifecycle.claim = Some(ClaimState::Valid { transferred: true });
    app.store().upsert_repair(&local).await.unwrap();
    sim.decide_claim("a", claim_id, ClaimStatus::ClosedAccepted, None)
        .unwrap();
    assert_eq!(app.track_claims().await.unwrap().done.len(), 1);
    claim_id
}

fn november(mapping: CsvMapping) -> MonthEnd {
    MonthEnd {
        mapping,
        oem: Some(ManufacturerId(19)),
        period: "2024-11".parse().unwrap(),
        zone: TimeZone::get("Europe/Paris").unwrap(),
    }
}

/// The CSV's lines (CRLF-separated bytes), the header first.
fn lines(csv: &[u8]) -> Vec<Vec<u8>> {
    csv.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| [l.as_slice(), b"\r\n"].concat())
        .collect()
}

#[tokio::test]
async fn a_month_of_repairs_ends_with_a_draft_whose_csv_matches() {
    let (_dir, sim, app, clock) = setup("month");
    // A month of repairs: a claim accepted every few days of November.
    let mut claims = Vec::new();
    for (i, cost) in [45.5, 120.0, 89.9, 15.25].into_iter().enumerate() {
        clock.advance(Duration::from_secs(6 * 86_400));
        claims.push(accepted_claim(&sim, &app, cost + i as f64).await);
    }
    // One more seen accepted at 00:30 on 1 December in Paris (23:30 UTC
    // on 30 November): December's in our files, yet the OEM lists it in
    // November's CSV; it matches, and is nobody's missing claim.
    clock.set("2024-11-30T23:30:00Z");
    let late = accepted_claim(&sim, &app, 30.0).await;
    claims.push(late);
    for claim in &claims {
        let file = app.store().repair_by_claim(*claim).await.unwrap().unwrap();
        assert!(
            file.accepted_at.is_some(),
            "claim {claim}: no acceptance time"
        );
    }

    // The OEM's month end: the draft and its CSV, a French Windows export.
    clock.set("2024-12-01T09:00:00Z");
    let (draft, drafted) = sim
        .draft_invoice_in("a", ManufacturerId(19), &CsvLayout::default())
        .unwrap();
    assert_eq!(drafted, claims);
    let csv = sim.draft_invoice_csv("a", &draft).unwrap();
    assert_eq!(csv.encoding, CsvEncoding::Windows1252);
    assert!(
        std::str::from_utf8(&csv.bytes).is_err(),
        "accented names in Windows-1252"
    );

    let report = app
        .match_draft_csv(&draft, &csv.bytes, &november(CsvMapping::default()))
        .await
        .unwrap();
    let r = &report.reconciliation;
    assert!(report.is_clean(), "{}", r.summary());
    assert_eq!(report.encoding, "windows-1252");
    assert_eq!(report.separator, ';');
    assert_eq!(r.claims(), claims);
    let late_match = r.matched.iter().find(|m| m.claim_id == late).unwrap();
    assert_eq!(
        late_match.accepted_in,
        Some("2024-12".parse::<Period>().unwrap())
    );
    assert_eq!(late_match.amount, Some("30.00".parse().unwrap()));

    // Missing one accepted claim: reported, and its invoice refused.
    let all = lines(&csv.bytes);
    let without_one = join(&[&all[..2], &all[3..]].concat());
    let report = app
        .match_draft_csv(&draft, &without_one, &november(CsvMapping::default()))
        .await
        .unwrap();
    let missing: Vec<ClaimId> = report
        .reconciliation
        .missing
        .iter()
        .map(|m| m.claim_id)
        .collect();
    assert_eq!(missing, vec![claims[1]]);
    assert!(!report.is_clean());
    let refused = app
        .register_invoice_from_csv(
            &draft,
            &"F-2024-11".into(),
            &without_one,
            &november(CsvMapping::default()),
            false,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, AgoraError::Invalid(m) if m.contains("does not match")),
        "{refused}"
    );

    // Carrying a claim never claimed here: reported, refused.
    let mut extra = all.clone();
    extra.push(b"9999999;999999;10,00;30/11/2024;Inconnu".to_vec());
    let with_stranger = join(&extra);
    let report = app
        .match_draft_csv(&draft, &with_stranger, &november(CsvMapping::default()))
        .await
        .unwrap();
    let strangers: Vec<(i64, &str)> = report
        .reconciliation
        .not_accepted
        .iter()
        .map(|n| (n.claim_id.0, n.local_state.as_str()))
        .collect();
    assert_eq!(strangers, vec![(9_999_999, "unknown")]);
    assert_eq!(report.reconciliation.not_accepted[0].row, 7);
    assert!(
        app.register_invoice_from_csv(
            &draft,
            &"F-2024-11".into(),
            &with_stranger,
            &november(CsvMapping::default()),
            false,
        )
        .await
        .is_err()
    );
    // Nothing went out for the refusals.
    for claim in &claims {
        let file = app.store().repair_by_claim(*claim).await.unwrap().unwrap();
        assert!(!file.lifecycle.invoiced);
    }

    // The clean CSV registers the invoice, through the outbox, once.
    let (report, delivery) = app
        .register_invoice_from_csv(
            &draft,
            &"F-2024-11".into(),
            &csv.bytes,
            &november(CsvMapping::default()),
            false,
        )
        .await
        .unwrap();
    assert!(report.is_clean());
    assert!(
        matches!(delivery, Delivery::Delivered { .. }),
        "{delivery:?}"
    );
    for claim in &claims {
        let file = app.store().repair_by_claim(*claim).await.unwrap().unwrap();
        assert!(file.lifecycle.invoiced, "claim {claim}");
    }
    let again = app
        .register_invoice_from_csv(
            &draft,
            &"F-2024-11".into(),
            &csv.bytes,
            &november(CsvMapping::default()),
            true,
        )
        .await
        .unwrap_err();
    assert!(matches!(again, AgoraError::Invalid(_)), "{again}");
}

#[tokio::test]
async fn accepting_the_differences_sends_the_matched_claims_alone() {
    let (_dir, sim, app, clock) = setup("accept");
    let a = accepted_claim(&sim, &app, 10.0).await;
    clock.advance(Duration::from_secs(86_400));
    let b = accepted_claim(&sim, &app, 20.0).await;
    clock.set("2024-12-01T09:00:00Z");
    let layout = CsvLayout {
        separator: CsvSeparator::Comma,
        encoding: CsvEncoding::Utf8Bom,
        decimal_comma: false,
        quote_all: true,
        headers: CsvHeaders::English,
        dates: CsvDateForm::Iso,
    };
    let (draft, _) = sim
        .draft_invoice_in("a", ManufacturerId(19), &layout)
        .unwrap();
    let csv = sim.draft_invoice_csv("a", &draft).unwrap();
    assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF\"Claim ID\","));
    // The OEM's CSV lists the first claim only.
    let all = lines(&csv.bytes);
    let only_a = join(&all[..2]);
    let (report, delivery) = app
        .register_invoice_from_csv(
            &draft,
            &"F-1".into(),
            &only_a,
            &november(CsvMapping::default()),
            true,
        )
        .await
        .unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.reconciliation.claims(), vec![a]);
    assert!(
        matches!(delivery, Delivery::Delivered { .. }),
        "{delivery:?}"
    );
    let file_a = app.store().repair_by_claim(a).await.unwrap().unwrap();
    let file_b = app.store().repair_by_claim(b).await.unwrap().unwrap();
    assert!(file_a.lifecycle.invoiced);
    assert!(!file_b.lifecycle.invoiced);
}

#[tokio::test]
async fn amounts_are_compared_with_the_local_amount_the_mapping_names() {
    let (_dir, sim, app, clock) = setup("amounts");
    let a = accepted_claim(&sim, &app, 45.5).await;
    // The local file holds the amount claimed, under a field of its own.
    let mut file = app.store().repair_by_claim(a).await.unwrap().unwrap();
    file.file.extra.insert("ClaimAmount".into(), json!("45,50"));
    app.store().upsert_repair(&file).await.unwrap();
    clock.set("2024-12-01T09:00:00Z");
    let (draft, _) = sim.draft_invoice("a", ManufacturerId(19)).unwrap();
    let csv = sim.draft_invoice_csv("a", &draft).unwrap();
    let mapping = CsvMapping {
        local_amount: Some("/ClaimAmount".into()),
        ..CsvMapping::default()
    };
    let report = app
        .match_draft_csv(&draft, &csv.bytes, &november(mapping.clone()))
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.reconciliation.summary());
    // The OEM pays less than claimed: reported.
    // (The file is Windows-1252: the amount replaced byte for byte.)
    let at = csv.bytes.windows(5).position(|w| w == b"45,50").unwrap();
    let mut cheaper = csv.bytes.clone();
    cheaper[at..at + 5].copy_from_slice(b"40,00");
    let report = app
        .match_draft_csv(&draft, &cheaper, &november(mapping))
        .await
        .unwrap();
    let d = &report.reconciliation.differs;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].what, d[0].csv.as_str(), d[0].local.as_str()),
        ("amount", "40.00", "45.50")
    );
}

#[tokio::test]
async fn an_unreadable_csv_is_refused_naming_row_and_column() {
    let (_dir, _sim, app, _clock) = setup("bad");
    let csv = "Claim ID;Amount\n5000001;12,00\n5000002;douze\n";
    let err = app
        .match_draft_csv(
            &"DR-1".into(),
            csv.as_bytes(),
            &november(CsvMapping::default()),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("row 3, column 2 (\"Amount\"): \"douze\" is not an amount"),
        "{err}"
    );
}
