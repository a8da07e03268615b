//! Property tests of the wire: every model round-trips, unknown extra
//! fields included (at every nesting level); status codes parse and format
//! back; arbitrary bytes never panic the decoders.

#![allow(clippy::unwrap_used)]

mod common;

use agora_domain::InterventionId;
use agora_domain::MandateId;
use agora_domain::wire::{WriteJson, to_json_vec};
use agora_domain::{
    BomLine, ClaimStatus, ClaimTracking, CompleteRepairState, CreateRepairResult, Envelope,
    EnvelopeHead, InvoiceReference, LogisticStatus, NewMandateResponseData, OneOrMany,
    PartOrderLine, Product, ProductSearchHit, SparePart, StatusCode, WarrantyClaim,
    WarrantyClaimResult,
};
use common::assert_lossless;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys whose string values must stay numeric strings (the work order's
/// `Title`); every other string field of the models keeps any text.
const KEEP_STRING: &[&str] = &["Title"];

fn full(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/full/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn arb_extra_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A random edit of a document: drop known fields, change string values,
/// add unknown fields (prefixed `X_` so they never collide with a known one).
#[derive(Debug, Clone)]
struct Edit {
    drops: Vec<bool>,
    strings: Vec<String>,
    extras: Vec<(String, Value)>,
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    (
        prop::collection::vec(prop::bool::weighted(0.2), 64),
        prop::collection::vec(".{0,16}", 64),
        prop::collection::vec(("X_[A-Za-z]{1,10}", arb_extra_value()), 0..6),
    )
        .prop_map(|(drops, strings, extras)| Edit {
            drops,
            strings,
            extras,
        })
}

fn apply(doc: &Value, edit: &Edit, counter: &mut usize) -> Value {
    match doc {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                *counter += 1;
                let i = *counter % 64;
                if edit.drops[i] {
                    continue;
                }
                let v = match v {
                    Value::String(_) if !KEEP_STRING.contains(&k.as_str()) && *counter % 3 == 0 => {
                        Value::String(edit.strings[i].clone())
                    }
                    other => apply(other, edit, counter),
                };
                out.insert(k.clone(), v);
            }
            // Extras go on the objects at a few levels, not only the top.
            let (name, value) = &edit.extras[*counter % edit.extras.len().max(1)..]
                .first()
                .cloned()
                .unwrap_or_default();
            if !name.is_empty() {
                out.insert(name.clone(), value.clone());
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| apply(v, edit, counter)).collect())
        }
        other => other.clone(),
    }
}

fn edited(doc: &Value, edit: &Edit) -> Value {
    let mut counter = 0;
    let mut out = apply(doc, edit, &mut counter);
    if let Value::Object(map) = &mut out {
        for (k, v) in &edit.extras {
            map.insert(k.clone(), v.clone());
        }
    }
    out
}

fn envelope_of(data: Value) -> Value {
    serde_json::json!({
        "ResponseStatus": "S", "IsValid": true, "ResponseMessage": "m",
        "ResponseErrorMessage": "", "ResponseData": data, "X_Envelope": {"a": [1, 2]}
    })
}

/// The direct writer (request bodies) writes the very bytes of the model's
/// `Serialize` form.
fn assert_writers_agree<T: serde::de::DeserializeOwned + serde::Serialize + WriteJson>(
    doc: &Value,
) {
    let model: T = serde_json::from_value(doc.clone()).unwrap();
    let direct = to_json_vec(&model, 0).unwrap();
    let serde = serde_json::to_vec(&model).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&direct),
        String::from_utf8_lossy(&serde)
    );
}

#[test]
fn the_direct_writer_escapes_like_serde_json() {
    let mut file = CompleteRepairState {
        commercial_ref: Some("a\"b\\c\u{1}\n\t\u{7f}é/𝄞".to_owned()),
        intervention_id: Some(InterventionId(i64::MIN)),
        mandate_id: Some(MandateId(0)),
        ..CompleteRepairState::default()
    };
    file.extra.insert(
        "X \"odd\" key\n".to_owned(),
        serde_json::json!({"k": [1.5, null]}),
    );
    // An unknown field named like a known one is not written twice.
    file.extra
        .insert("CommercialRef".to_owned(), Value::from("shadow"));
    assert_eq!(
        to_json_vec(&file, 0).unwrap(),
        serde_json::to_vec(&file).unwrap()
    );
    assert_eq!(
        to_json_vec(&CompleteRepairState::default(), 0).unwrap(),
        b"{}"
    );
    let only_extra = CompleteRepairState {
        extra: [("A".to_owned(), Value::from(1))].into_iter().collect(),
        ..CompleteRepairState::default()
    };
    assert_eq!(to_json_vec(&only_extra, 0).unwrap(), br#"{"A":1}"#);
}

/// A JSON text of an envelope-like object, from random keys, values and
/// whitespace, sometimes damaged afterwards.
fn arb_head_text() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![
        Just("ResponseStatus"),
        Just("IsValid"),
        Just("ResponseMessage"),
        Just("ResponseErrorMessage"),
        Just("ResponseData"),
        Just("X"),
        Just("Response\\u0053tatus"),
    ];
    let value = prop_oneof![
        ".{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just("\"S\"".to_owned()),
        Just("\"E\"".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("null".to_owned()),
        Just("12".to_owned()),
        Just("[]".to_owned()),
        Just("{\"a\":[1,{}]}".to_owned()),
    ];
    let ws = prop_oneof![Just(""), Just(" "), Just("\n\t"), Just("\r ")];
    let damage = prop_oneof![
        3 => Just(None),
        1 => (any::<prop::sample::Index>(), prop::sample::select(vec!["", "}", "{", ",", "\"", ":", "\\", "x", "\u{1}", "]"]))
            .prop_map(Some),
    ];
    (
        prop::collection::vec((key, ws.clone(), value, ws.clone()), 0..6),
        ws,
        damage,
    )
        .prop_map(|(fields, pad, damage)| {
            let body: Vec<String> = fields
                .iter()
                .map(|(k, w1, v, w2)| format!("{w1}\"{k}\"{w2}:{w1}{v}{w2}"))
                .collect();
            let mut bytes = format!("{pad}{{{}}}{pad}", body.join(",")).into_bytes();
            // Damage works on bytes: it may also break the UTF-8.
            if let Some((at, with)) = damage {
                // One index in ten past the end: junk after the object.
                let at = at.index(bytes.len() * 10 / 9 + 1);
                if at < bytes.len() {
                    bytes.splice(at..at + 1, with.bytes());
                } else {
                    bytes.extend_from_slice(with.as_bytes());
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_envelope_head_reads_as_serde_json_does(bytes in arb_head_text()) {
        let fast = EnvelopeHead::from_slice(&bytes);
        let serde = serde_json::from_slice::<EnvelopeHead<'_>>(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        match (fast, serde) {
            (Ok(fast), Ok(serde)) => prop_assert_eq!(fast, serde, "{}", text),
            (Err(_), Err(_)) => {}
            (fast, serde) => prop_assert!(false, "{text:?}: {fast:?} against {serde:?}"),
        }
    }

    #[test]
    fn every_model_round_trips_with_unknown_fields(edit in arb_edit()) {
        assert_lossless::<CompleteRepairState>(&edited(&full("repair-file.json"), &edit));
        assert_writers_agree::<CompleteRepairState>(&edited(&full("repair-file.json"), &edit));
        assert_writers_agree::<NewMandateResponseData>(&edited(&full("work-order.json"), &edit));
        assert_writers_agree::<WarrantyClaim>(&edited(&full("claim.json"), &edit));
        assert_writers_agree::<WarrantyClaimResult>(&edited(&full("claim-result.json"), &edit));
        assert_writers_agree::<ClaimTracking>(&edited(&full("claim-tracking.json"), &edit));
        assert_writers_agree::<SparePart>(&edited(&full("spare-part.json"), &edit));
        assert_writers_agree::<Product>(&edited(&full("product.json"), &edit));
        assert_writers_agree::<ProductSearchHit>(&edited(&full("product-search-hit.json"), &edit));
        assert_writers_agree::<BomLine>(&edited(&full("bom-line.json"), &edit));
        assert_writers_agree::<PartOrderLine>(&edited(&full("part-order-line.json"), &edit));
        assert_writers_agree::<InvoiceReference>(&edited(&full("invoice-reference.json"), &edit));
        assert_writers_agree::<CreateRepairResult>(&edited(&full("create-repair-result.json"), &edit));
        assert_lossless::<NewMandateResponseData>(&edited(&full("work-order.json"), &edit));
        assert_lossless::<WarrantyClaim>(&edited(&full("claim.json"), &edit));
        assert_lossless::<WarrantyClaimResult>(&edited(&full("claim-result.json"), &edit));
        assert_lossless::<ClaimTracking>(&edited(&full("claim-tracking.json"), &edit));
        assert_lossless::<SparePart>(&edited(&full("spare-part.json"), &edit));
        assert_lossless::<Product>(&edited(&full("product.json"), &edit));
        assert_lossless::<ProductSearchHit>(&edited(&full("product-search-hit.json"), &edit));
        assert_lossless::<BomLine>(&edited(&full("bom-line.json"), &edit));
        assert_lossless::<PartOrderLine>(&edited(&full("part-order-line.json"), &edit));
        assert_lossless::<InvoiceReference>(&edited(&full("invoice-reference.json"), &edit));
        assert_lossless::<CreateRepairResult>(&edited(&full("create-repair-result.json"), &edit));
        let many = Value::Array(vec![edited(&full("work-order.json"), &edit)]);
        assert_lossless::<Envelope<Vec<NewMandateResponseData>>>(&envelope_of(many));
        let one = edited(&full("claim-result.json"), &edit);
        assert_lossless::<Envelope<OneOrMany<WarrantyClaimResult>>>(&envelope_of(one));
    }

    #[test]
    fn status_codes_format_back_to_what_was_parsed(s in ".{0,6}") {
        let code = StatusCode::lenient(&s);
        prop_assert_eq!(code.as_str(), s.as_str());
        let json = serde_json::to_string(&code).unwrap();
        prop_assert_eq!(serde_json::from_str::<StatusCode>(&json).unwrap(), code);
    }

    #[test]
    fn string_enums_keep_unknown_values(s in "[A-Z0-9]{0,16}") {
        let claim = ClaimStatus::lenient(&s);
        prop_assert_eq!(claim.as_str(), s.as_str());
        prop_assert_eq!(claim.is_known(), ClaimStatus::KNOWN.iter().any(|k| k.as_str() == s));
        let logistic: LogisticStatus = serde_json::from_value(Value::String(s.clone())).unwrap();
        prop_assert_eq!(serde_json::to_value(&logistic).unwrap(), Value::String(s));
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Envelope::<Vec<NewMandateResponseData>>::from_slice(&bytes);
        let _ = Envelope::<OneOrMany<WarrantyClaimResult>>::from_slice(&bytes);
        let _ = agora_domain::decode_json::<CompleteRepairState>(&bytes);
    }
}

/// Every number a status code can be written with, and beyond: known
/// exactly when the reference lists it (an exhaustive loop costs less than
/// sampling).
#[test]
fn numeric_codes_are_known_exactly_when_in_the_reference() {
    let ranges = [
        101..=111,
        200..=207,
        300..=305,
        400..=406,
        500..=503,
        601..=602,
        901..=909,
    ];
    let mut known = 0;
    for n in 0u16..10_000 {
        let text = n.to_string();
        let code = StatusCode::lenient(&text);
        let listed = ranges.iter().any(|r| r.contains(&n));
        assert_eq!(code.is_known(), listed, "{n}");
        assert_eq!(StatusCode::parse_known(&text).is_ok(), listed, "{n}");
        assert_eq!(code.as_str(), text);
        if listed {
            known += 1;
            assert_eq!(code.number(), Some(n));
            assert!(
                code.family().is_some() && code.description().is_some(),
                "{n}"
            );
        } else {
            assert_eq!(code.family(), None, "{n}");
            assert_eq!(code.description(), None, "{n}");
        }
        // Written with a leading zero, it is another (unknown) code.
        let padded = format!("0{text}");
        assert!(!StatusCode::lenient(&padded).is_known(), "{padded}");
    }
    assert_eq!(known, StatusCode::KNOWN.len());
}

/// A document cut anywhere, at every byte, is a truncation error, never a
/// panic nor a partial value.
#[test]
fn truncated_documents_are_typed_errors_wherever_they_are_cut() {
    let mandates = envelope_of(Value::Array(vec![
        full("work-order.json"),
        full("work-order.json"),
    ]))
    .to_string();
    for cut in 0..mandates.len() {
        let err = Envelope::<Vec<NewMandateResponseData>>::from_slice(&mandates.as_bytes()[..cut])
            .unwrap_err();
        assert!(err.is_truncated() && err.is_syntax(), "cut at {cut}: {err}");
    }
    let result = envelope_of(full("claim-result.json")).to_string();
    for cut in 0..result.len() {
        let err = Envelope::<OneOrMany<WarrantyClaimResult>>::from_slice(&result.as_bytes()[..cut])
            .unwrap_err();
        assert!(err.is_truncated(), "cut at {cut}: {err}");
    }
    let file = full("repair-file.json").to_string();
    for cut in 0..file.len() {
        let err =
            agora_domain::decode_json::<CompleteRepairState>(&file.as_bytes()[..cut]).unwrap_err();
        assert!(err.is_truncated(), "cut at {cut}: {err}");
    }
    // Whole, each decodes.
    assert!(Envelope::<Vec<NewMandateResponseData>>::from_slice(mandates.as_bytes()).is_ok());
}

#[test]
fn display_and_serde_agree() {
    // Display (used in messages and tables) and serde (the wire) must say
    // the same for every known value.
    for code in StatusCode::KNOWN {
        assert_eq!(code.to_string(), code.as_str());
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            Value::String(code.as_str().into())
        );
    }
    for status in ClaimStatus::KNOWN {
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            Value::String(status.to_string())
        );
        assert_eq!(
            ClaimStatus::parse_known(status.as_str()).as_ref(),
            Ok(status)
        );
    }
}

#[test]
fn wrong_types_name_the_field() {
    let mut doc = full("repair-file.json");
    doc["Consumer"]["Country"] = Value::String("France".into());
    let err =
        agora_domain::decode_json::<CompleteRepairState>(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path, "Consumer.Country");
    let mut doc = full("repair-file.json");
    doc["Parts"][0]["Quantity"] = serde_json::json!(-1.5);
    let err =
        agora_domain::decode_json::<CompleteRepairState>(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path, "Parts[0].Quantity");
    let mut doc = full("claim.json");
    doc["ClaimType"]["ManufacturerId"] = serde_json::json!(-19);
    let err = agora_domain::decode_json::<WarrantyClaim>(doc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path, "ClaimType.ManufacturerId");
    assert!(
        err.to_string().contains("ClaimType.ManufacturerId"),
        "{err}"
    );
}

#[test]
fn unknown_codes_do_not_fail_a_response() {
    let doc = serde_json::json!({
        "StateNatures": [{"Code": "777", "Comment": "new code"}, {"Code": "102"}],
        "ManufacturerId": 4242,
        "Intervention": {"RepairOriginCode": "WEBSHOP"}
    });
    let file: CompleteRepairState = serde_json::from_value(doc).unwrap();
    assert_eq!(
        file.state_natures.as_ref().unwrap()[0].code,
        Some(StatusCode::Unknown("777".into()))
    );
    assert!(matches!(
        file.manufacturer_id.unwrap().resolve(),
        agora_domain::tables::OemRef::Unknown(_)
    ));
    assert_eq!(
        file.intervention
            .unwrap()
            .repair_origin_code
            .unwrap()
            .as_str(),
        "WEBSHOP"
    );
}
