//! The claim rule engine: a claim generated valid passes its OEM's default
//! rule set, and removing any one mandatory field yields exactly that
//! field's error; messages follow the language asked for; rule sets load
//! from and save to JSON.

#![allow(clippy::unwrap_used)]

use agora_domain::rules::{Check, RuleBook, RuleSet, Severity, default_rule_set, is_valid};
use agora_domain::tables::{ManufacturerId, OEMS};
use agora_domain::{Lcid, MessageType, WarrantyClaim};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The exact serial length the set asks for, if any.
fn serial_length(set: &RuleSet) -> Option<usize> {
    set.rules.iter().find_map(|r| match r.check {
        Check::ExactLength { length } if r.path == "ClaimType.SerialNumber" => Some(length),
        _ => None,
    })
}

prop_compose! {
    fn arb_valid_claim(oem: ManufacturerId)(
        serial in "[0-9A-Z]{30}",
        name in "[A-Za-z][A-Za-z '-]{0,40}",
        street in "[0-9]{1,3} [a-z ]{3,30}",
        zip in "[0-9]{5}",
        city in "[A-Za-z -]{1,50}",
        mobile in "0[67][0-9]{8}",
        call_day in 1u32..20,
        start_h in 0i64..200,
        len_h in 1i64..5,
        parts in prop::collection::vec(("[0-9A-Z]{6,12}", 1u32..999), 0..4),
        origin in prop::sample::select(vec!["WAR", "EXTENDEDWAR", "OUTOFWAR"]),
        email in prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.fr"),
    ) -> WarrantyClaim {
        let set = default_rule_set(oem);
        let serial_len = serial_length(&set).unwrap_or(12);
        let call = format!("2024-03-{call_day:02}T09:00:00Z");
        let call_ts: jiff::Timestamp = call.parse().unwrap();
        let start = call_ts + jiff::SignedDuration::from_hours(start_h);
        let end = start + jiff::SignedDuration::from_hours(len_h);
        let mut doc = json!({
            "ClaimType": {
                "ManufacturerId": oem.0, "SerialNumber": serial[..serial_len],
                "CommercialRef": "ECAM22.110.B", "TechnicalRef": "0132213089"
            },
            "ClaimConso": {
                "LastName": name, "Address1": street, "Zip": zip, "City": city,
                "MobilePhone": mobile, "Title": 1
            },
            "ClaimInfos": {
                "CallDate": call, "InterventionStartDateTime": start.to_string(),
                "InterventionEndDateTime": end.to_string(),
                "IRISSymptom": "130", "IRISCondition": "1"
            },
            "ClaimLab": { "OriginCode": origin, "LaborHours": 1, "LaborCost": 45.5 },
            "ClaimParts": parts.iter().map(|(r, q)| json!({"PartReference": r, "Quantity": q})).collect::<Vec<_>>(),
        });
        if let Some(email) = email {
            doc["ClaimConso"]["Email"] = Value::String(email);
        }
        serde_json::from_value(doc).unwrap()
    }
}

fn arb_oem_and_claim() -> impl Strategy<Value = (ManufacturerId, WarrantyClaim)> {
    prop::sample::select(OEMS.iter().map(|o| o.id).collect::<Vec<_>>())
        .prop_flat_map(|oem| (Just(oem), arb_valid_claim(oem)))
}

/// Removes the value at a wire path (every element for `[]` segments).
fn remove(doc: &mut Value, path: &str) {
    let (head, last) = match path.rsplit_once('.') {
        Some((head, last)) => (Some(head), last),
        None => (None, path),
    };
    let mut targets: Vec<&mut Value> = vec![doc];
    if let Some(head) = head {
        for seg in head.split('.') {
            let mut next = Vec::new();
            for t in targets {
                match seg.strip_suffix("[]") {
                    Some(name) => {
                        if let Some(Value::Array(items)) = t.get_mut(name) {
                            next.extend(items.iter_mut());
                        }
                    }
                    None => next.extend(t.get_mut(seg)),
                }
            }
            targets = next;
        }
    }
    for t in targets {
        if let Value::Object(map) = t {
            map.remove(last.trim_end_matches("[]"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn valid_claims_pass_and_each_missing_mandatory_field_is_named(
        (oem, claim) in arb_oem_and_claim(),
        french in any::<bool>(),
    ) {
        let book = RuleBook::defaults();
        let language = if french { Lcid::FRENCH } else { Lcid::ENGLISH };
        let findings = book.check(&claim, language);
        prop_assert!(findings.is_empty(), "OEM {}: {:?}", oem, findings);

        let set = book.get(oem).unwrap().rules().clone();
        for rule in set.rules.iter().filter(|r| r.check == Check::Mandatory) {
            let mut doc = serde_json::to_value(&claim).unwrap();
            remove(&mut doc, &rule.path);
            if doc == serde_json::to_value(&claim).unwrap() {
                continue; // nothing there to remove (an empty parts list)
            }
            let broken: WarrantyClaim = serde_json::from_value(doc).unwrap();
            let findings = book.check(&broken, language);
            prop_assert!(!findings.is_empty(), "removing {} went unnoticed", rule.path);
            for f in &findings {
                prop_assert_eq!(f.field.as_deref(), Some(rule.field.as_str()), "{:?}", findings);
                let expected = if french { "Donnée obligatoire" } else { "Data is mandatory" };
                prop_assert_eq!(f.error_message.as_deref(), Some(expected));
                prop_assert_eq!(f.message_type.clone(), Some(MessageType::Error));
            }
            prop_assert!(!is_valid(&findings));
        }
    }
}

#[test]
fn the_reference_sample_is_reproduced_for_delonghi() {
    let claim: WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 19, "SerialNumber": "12345", "CommercialRef": "X"},
        "ClaimConso": {"City": "Lyon"},
        "ClaimInfos": {}
    }))
    .unwrap();
    let findings = RuleBook::defaults().check(&claim, Lcid::ENGLISH);
    let got: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.field.as_deref().unwrap(),
                f.error_message.as_deref().unwrap(),
            )
        })
        .collect();
    for expected in [
        (
            "Serial Number",
            "The size of the field should be 19 character(s)",
        ),
        ("Call date", "Data is mandatory"),
        ("ConsumerDto.LastName", "Data is mandatory"),
        ("ConsumerDto.Address1", "Data is mandatory"),
        ("ConsumerDto.Zip", "Data is mandatory"),
        ("ConsumerDto.MobilePhone", "Data is mandatory"),
    ] {
        assert!(got.contains(&expected), "{expected:?} not in {got:?}");
    }
    let french = RuleBook::defaults().check(&claim, Lcid::FRENCH);
    assert!(
        french.iter().any(|f| f.error_message.as_deref()
            == Some("La taille du champ doit être de 19 caractère(s)"))
    );
}

#[test]
fn checks_each_kind_of_rule() {
    let set = RuleSet {
        manufacturer_id: ManufacturerId(1),
        rules: serde_json::from_value(json!([
            {"path": "ClaimType.SerialNumber", "field": "Serial", "check": "max_length", "max": 3},
            {"path": "ClaimConso.Zip", "field": "Zip", "check": "pattern", "regex": "[0-9]{5}"},
            {"path": "ClaimLab.OriginCode", "field": "Origin", "check": "allowed_values", "values": ["WAR"]},
            {"path": "ClaimInfos.InterventionStartDateTime", "field": "Start", "check": "not_before",
             "other_path": "ClaimInfos.CallDate", "other_field": "Call date"},
            {"path": "ClaimParts[].PartReference", "field": "Part", "check": "mandatory", "severity": "W"}
        ]))
        .unwrap(),
    };
    let mut book = RuleBook::empty();
    book.replace(set).unwrap();
    let claim: WarrantyClaim = serde_json::from_value(json!({
        "ClaimType": {"ManufacturerId": 1, "SerialNumber": "ABCD"},
        "ClaimConso": {"Zip": "69A03"},
        "ClaimLab": {"OriginCode": "OUTOFWAR"},
        "ClaimInfos": {"CallDate": "2024-03-02T10:00:00Z", "InterventionStartDateTime": "2024-03-01T10:00:00Z"},
        "ClaimParts": [{"PartReference": "P1"}, {"Quantity": 1}]
    }))
    .unwrap();
    let findings = book.check(&claim, Lcid::ENGLISH);
    let fields: Vec<_> = findings
        .iter()
        .map(|f| f.field.as_deref().unwrap())
        .collect();
    assert_eq!(fields, ["Serial", "Zip", "Origin", "Start", "Part"]);
    assert_eq!(findings[4].message_type, Some(MessageType::Warning));
    assert_eq!(
        findings[3].error_message.as_deref(),
        Some("The date should not be before Call date")
    );
    // Only the warning left: the claim is valid.
    assert!(!is_valid(&findings));
    assert!(is_valid(&findings[4..]));
}

#[test]
fn rule_books_load_from_and_save_to_json() {
    let defaults = RuleBook::defaults();
    let json = defaults.to_json();
    let reloaded = RuleBook::from_json(&json).unwrap();
    for oem in OEMS {
        assert_eq!(
            reloaded.get(oem.id).unwrap().rules(),
            defaults.get(oem.id).unwrap().rules()
        );
    }
    // A replacement from a file overrides the default of that OEM only.
    let mut book = RuleBook::defaults();
    book.overlay(
        RuleBook::from_json(
            r#"[{"manufacturer_id": 19, "rules": [
                {"path": "ClaimConso.Email", "field": "Email", "check": "mandatory"}]}]"#,
        )
        .unwrap(),
    );
    assert_eq!(book.get(ManufacturerId(19)).unwrap().rules().rules.len(), 1);
    assert!(book.get(ManufacturerId(4)).unwrap().rules().rules.len() > 1);
    assert_eq!(Severity::default(), Severity::Error);
}

#[test]
fn bad_rule_files_are_typed_errors() {
    let err = RuleBook::from_json(
        r#"[{"manufacturer_id": 1, "rules": [{"path": "A.B", "field": "x", "check": "pattern", "regex": "("}]}]"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("invalid pattern"), "{err}");
    let err = RuleBook::from_json(
        r#"[{"manufacturer_id": 1, "rules": [{"path": "A..B", "field": "x", "check": "mandatory"}]}]"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a claim field path"), "{err}");
    assert!(RuleBook::from_json("{").is_err());
    assert!(
        RuleBook::from_json(r#"[{"manufacturer_id": 1, "rules": [{"check": "nope"}]}]"#).is_err()
    );
}

/// One rule of each kind on OEM 1, the value it judges, and the value's
/// place in a claim.
fn single_rule(check: Value, path: &str) -> RuleBook {
    let mut rule = json!({"path": path, "field": "F"});
    for (k, v) in check.as_object().unwrap() {
        rule[k] = v.clone();
    }
    let mut book = RuleBook::empty();
    book.replace(RuleSet {
        manufacturer_id: ManufacturerId(1),
        rules: vec![serde_json::from_value(rule).unwrap()],
    })
    .unwrap();
    book
}

fn claim_with(section: &str, field: &str, value: Value) -> WarrantyClaim {
    let mut doc = json!({"ClaimType": {"ManufacturerId": 1}, "ClaimInfos": {"CallDate": "2024-03-10T12:00:00Z"}});
    doc[section][field] = value;
    serde_json::from_value(doc).unwrap()
}

/// A kind of rule, a value it refuses (and the message it gives), and a
/// value it accepts.
#[derive(Debug, Clone)]
struct Case {
    check: Value,
    section: &'static str,
    field: &'static str,
    invalid: Value,
    valid: Value,
    english: String,
    french: String,
}

fn arb_case() -> impl Strategy<Value = Case> {
    let blank = prop_oneof![Just(Value::Null), "[ \t]{0,4}".prop_map(Value::String),];
    let mandatory = (blank, "[A-Za-z][A-Za-z0-9 ]{0,20}").prop_map(|(invalid, valid)| Case {
        check: json!({"check": "mandatory"}),
        section: "ClaimConso",
        field: "LastName",
        invalid,
        valid: Value::String(valid),
        english: "Data is mandatory".into(),
        french: "Donnée obligatoire".into(),
    });
    let exact = (1usize..25)
        .prop_flat_map(|n| {
            let other = (1usize..40).prop_filter("another length", move |k| *k != n);
            (Just(n), other, any::<u32>())
        })
        .prop_map(|(n, other, seed)| {
            // Any characters, multi-byte ones included: characters count.
            let chars = ['a', 'é', '7', 'Ж', '-', '😀'];
            let text = |len: usize| -> String {
                (0..len)
                    .map(|i| chars[(seed as usize + i) % chars.len()])
                    .collect()
            };
            Case {
                check: json!({"check": "exact_length", "length": n}),
                section: "ClaimType",
                field: "SerialNumber",
                invalid: Value::String(text(other)),
                valid: Value::String(text(n)),
                english: format!("The size of the field should be {n} character(s)"),
                french: format!("La taille du champ doit être de {n} caractère(s)"),
            }
        });
    let max = (1usize..30, 1usize..20).prop_map(|(max, over)| Case {
        check: json!({"check": "max_length", "max": max}),
        section: "ClaimConso",
        field: "City",
        invalid: Value::String("é".repeat(max + over)),
        valid: Value::String("é".repeat(max)),
        english: format!("The size of the field should not exceed {max} character(s)"),
        french: format!("La taille du champ ne doit pas dépasser {max} caractère(s)"),
    });
    let pattern = (
        prop_oneof![
            "[0-9]{1,4}",
            "[0-9]{6,9}",
            "[0-9]{0,4}[A-Za-z ._-][0-9]{0,4}",
            // The whole value must match, not a part of it.
            "[0-9]{5}[A-Z]",
            "[A-Z][0-9]{5}",
        ]
        // A blank value is missing, not badly formatted.
        .prop_filter("not blank", |v: &String| !v.trim().is_empty()),
        "[0-9]{5}",
    )
        .prop_map(|(invalid, valid)| Case {
            check: json!({"check": "pattern", "regex": "[0-9]{5}"}),
            section: "ClaimConso",
            field: "Zip",
            invalid: Value::String(invalid),
            valid: Value::String(valid),
            english: "The format of the field is not valid".into(),
            french: "Le format du champ n'est pas valide".into(),
        });
    let not_before = (1i64..5_000_000, 0i64..5_000_000).prop_map(|(before, after)| {
        let call: jiff::Timestamp = "2024-03-10T12:00:00Z".parse().unwrap();
        let at = |s: i64| (call + jiff::SignedDuration::from_secs(s)).to_string();
        Case {
            check: json!({"check": "not_before", "other_path": "ClaimInfos.CallDate",
                          "other_field": "Call date"}),
            section: "ClaimInfos",
            field: "InterventionStartDateTime",
            invalid: Value::String(at(-before)),
            valid: Value::String(at(after)),
            english: "The date should not be before Call date".into(),
            french: "La date ne doit pas être antérieure à Call date".into(),
        }
    });
    let allowed = (
        "[A-Z]{1,12}".prop_filter("not allowed", |v| {
            !["WAR", "EXTENDEDWAR"].contains(&v.as_str())
        }),
        prop::sample::select(vec!["WAR", "EXTENDEDWAR"]),
    )
        .prop_map(|(invalid, valid)| Case {
            check: json!({"check": "allowed_values", "values": ["WAR", "EXTENDEDWAR"]}),
            section: "ClaimLab",
            field: "OriginCode",
            // Case matters: "war" is not "WAR".
            invalid: Value::String(if invalid == "W" {
                "war".into()
            } else {
                invalid
            }),
            valid: Value::String(valid.into()),
            english: "The value is not allowed".into(),
            french: "La valeur n'est pas autorisée".into(),
        });
    prop_oneof![mandatory, exact, max, pattern, not_before, allowed]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the kind of rule, a value it refuses is found once, with
    /// the kind's message in the language asked for, and makes the claim
    /// not valid; a value it accepts is not found.
    #[test]
    fn a_refused_value_of_each_kind_is_found_once_in_the_language_asked(case in arb_case()) {
        let path = format!("{}.{}", case.section, case.field);
        let book = single_rule(case.check.clone(), &path);
        let invalid = claim_with(case.section, case.field, case.invalid.clone());
        for (language, message) in [
            (Lcid::ENGLISH, &case.english),
            (Lcid::FRENCH, &case.french),
            (Lcid(1031), &case.english),
        ] {
            let findings = book.check(&invalid, language);
            prop_assert_eq!(findings.len(), 1, "{:?}: {:?}", case, findings);
            prop_assert_eq!(findings[0].field.as_deref(), Some("F"));
            prop_assert_eq!(findings[0].error_message.as_ref(), Some(message));
            prop_assert_eq!(findings[0].message_type.clone(), Some(MessageType::Error));
            prop_assert!(!is_valid(&findings));
        }
        let valid = claim_with(case.section, case.field, case.valid.clone());
        let findings = book.check(&valid, Lcid::ENGLISH);
        prop_assert!(findings.is_empty(), "{:?}: {:?}", case, findings);
    }
}
