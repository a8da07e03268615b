//! Tolerant reading of answers (docs/wire-notes.md, "Tolerant reading"):
//! one odd value never fails a whole answer and is written back as it
//! came; a list element that cannot be read at all is set aside while the
//! rest is used; a body that is not a readable envelope still fails.

#![allow(clippy::unwrap_used)]

mod common;

use agora_domain::wire::{ReadAnswer, ReadLenient, WriteJson, to_json_vec};
use agora_domain::{
    BomLine, ClaimStatus, ClaimTracking, CreateRepairResult, Envelope, LogisticStatus,
    NewMandateResponseData, OneOrMany, PartOrderLine, Product, ProductSearchHit, SparePart, Title,
    WarrantyClaimResult,
};
use agora_domain::{ClaimId, InterventionId, MandateId, Reading};
use common::strip_nulls;
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

fn full(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/full/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn envelope_of(data: Value) -> Value {
    json!({"ResponseStatus": "S", "IsValid": true, "ResponseData": data})
}

fn tolerant<T: DeserializeOwned + ReadAnswer>(
    doc: &Value,
) -> (Envelope<T>, Vec<agora_domain::SetAside>) {
    Envelope::<T>::from_slice_tolerant(doc.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("{doc} does not decode: {e}"))
}

/// The issue's table: a work order whose `ConsumerLight.Title` is `"Mr."`
/// (2.1.1 types it `string` and lists the labels).
#[test]
fn a_title_label_reads_as_the_title_and_is_written_back_as_it_came() {
    for (label, title) in [
        ("Mr.", Title::Mr),
        ("mrs.", Title::Mrs),
        ("MS", Title::Ms),
        ("Company", Title::Company),
    ] {
        let mut order = full("work-order.json");
        order["Mandate"]["Consumer"]["Title"] = json!(label);
        let doc = envelope_of(json!([order]));
        let (env, set_aside) = tolerant::<Vec<NewMandateResponseData>>(&doc);
        assert!(set_aside.is_empty());
        let data = env.response_data.unwrap();
        let consumer = data[0].mandate.as_ref().unwrap().consumer.as_ref().unwrap();
        assert_eq!(consumer.title.map(|t| t.0), Some(title), "{label}");
        assert_eq!(consumer.raw("Title"), Some(&json!(label)));
        // Read, so not reported as unread; written back as it came.
        assert!(data[0].unread_values().is_empty());
        assert_eq!(serde_json::to_value(&data[0]).unwrap(), order);
        // The rest of the work order is all there.
        assert_eq!(
            data[0].mandate.as_ref().unwrap().mandate_id,
            Some(MandateId(770_001))
        );
    }
    // A number and a numeric string written otherwise read too.
    for raw in [json!(3), json!(" 3"), json!("03")] {
        let mut order = full("work-order.json");
        order["Mandate"]["Consumer"]["Title"] = raw.clone();
        let (env, _) = tolerant::<Vec<NewMandateResponseData>>(&envelope_of(json!([order])));
        let data = env.response_data.unwrap();
        let consumer = data[0].mandate.as_ref().unwrap().consumer.clone().unwrap();
        assert_eq!(consumer.title.map(|t| t.0), Some(Title::Mr), "{raw}");
        assert_eq!(serde_json::to_value(&consumer).unwrap()["Title"], raw);
    }
}

#[test]
fn strict_reading_still_refuses_what_the_tolerant_path_keeps() {
    let mut order = full("work-order.json");
    order["Mandate"]["Consumer"]["Title"] = json!("Mr.");
    let doc = envelope_of(json!([order]));
    let err = Envelope::<Vec<NewMandateResponseData>>::from_slice(doc.to_string().as_bytes())
        .unwrap_err();
    assert_eq!(err.path, "ResponseData[0].Mandate.Consumer.Title");
}

/// The issue's table: a logistic `StatusCode` sent as a JSON number.
#[test]
fn a_numeric_logistic_status_reads_as_the_code_and_is_written_back_as_the_number() {
    let mut shipped = full("part-order-line.json");
    shipped["StatusCode"] = json!(208);
    let mut odd = full("part-order-line.json");
    odd["StatusCode"] = json!(209.5);
    let doc = envelope_of(json!([shipped, odd]));
    let (env, set_aside) = tolerant::<Vec<PartOrderLine>>(&doc);
    assert!(set_aside.is_empty());
    let lines = env.response_data.unwrap();
    assert_eq!(lines[0].status_code, Some(LogisticStatus::Shipped));
    assert_eq!(
        lines[1].status_code,
        Some(LogisticStatus::Unknown("209.5".into()))
    );
    for (line, input) in lines.iter().zip([&shipped, &odd]) {
        assert_eq!(&serde_json::to_value(line).unwrap(), input);
        assert_eq!(
            to_json_vec(line, 0).unwrap(),
            serde_json::to_vec(line).unwrap()
        );
    }
    // A status changed here is written in its own form.
    let mut changed = lines[0].clone();
    changed.status_code = Some(LogisticStatus::Cancelled);
    assert_eq!(serde_json::to_value(&changed).unwrap()["StatusCode"], "207");
    // Codes of other answers read numbers alike.
    let (env, _) = tolerant::<ClaimTracking>(&envelope_of(
        json!({"ClaimID": 1, "LastStatus": 7, "Comment": "c"}),
    ));
    let tracking = env.response_data.unwrap();
    assert_eq!(tracking.last_status, Some(ClaimStatus::Unknown("7".into())));
    assert_eq!(serde_json::to_value(&tracking).unwrap()["LastStatus"], 7);
}

/// The issue's table: an element of a list answer that is not an object.
#[test]
fn a_list_element_that_cannot_be_read_is_set_aside_and_the_rest_used() {
    let doc = envelope_of(json!([
        {"Reference": "A", "Label": "first"},
        5,
        "not a part",
        null,
        [{"Reference": "B"}],
        {"Reference": "C"}
    ]));
    let (env, set_aside) = tolerant::<Vec<SparePart>>(&doc);
    let parts = env.response_data.unwrap();
    let refs: Vec<_> = parts.iter().map(|p| p.reference.as_deref()).collect();
    assert_eq!(refs, [Some("A"), Some("C")]);
    let indices: Vec<_> = set_aside.iter().map(|a| a.index).collect();
    assert_eq!(indices, [1, 2, 3, 4]);
    for aside in &set_aside {
        assert_eq!(aside.raw, doc["ResponseData"][aside.index]);
        assert!(
            aside.reason.contains("expected a JSON object (SparePart)"),
            "{}",
            aside.reason
        );
    }
    assert!(set_aside[0].to_string().starts_with("item 1 set aside: "));
}

#[test]
fn a_value_that_does_not_read_is_kept_raw_and_reported_with_its_path() {
    let mut order = full("work-order.json");
    order["Mandate"]["SuggestedParts"][0]["Quantity"] = json!("two");
    order["Mandate"]["MandateId"] = json!("770001-B");
    order["Mandate"]["InterventionType"]["IsUnderWarranty"] = json!("yes");
    order["InterventionId"] = json!(1.5);
    let doc = envelope_of(json!([order]));
    let (env, set_aside) = tolerant::<Vec<NewMandateResponseData>>(&doc);
    assert!(set_aside.is_empty());
    let item = &env.response_data.unwrap()[0];
    let mandate = item.mandate.as_ref().unwrap();
    assert_eq!(mandate.mandate_id, None);
    assert_eq!(mandate.raw("MandateId"), Some(&json!("770001-B")));
    assert_eq!(mandate.unread_fields(), [("MandateId", &json!("770001-B"))]);
    assert_eq!(mandate.suggested_parts.as_ref().unwrap()[0].quantity, None);
    // What did read is all there.
    assert_eq!(mandate.repair_type().map(|t| t.0), Some(1));
    assert_eq!(
        mandate.consumer.as_ref().unwrap().last_name.as_deref(),
        Some("Durand")
    );
    let unread: Vec<(String, String)> = item
        .unread_values()
        .into_iter()
        .map(|u| (u.path.clone(), u.text().into_owned()))
        .collect();
    assert_eq!(
        unread,
        [
            ("Mandate.MandateId".to_owned(), "770001-B".to_owned()),
            (
                "Mandate.InterventionType.IsUnderWarranty".to_owned(),
                "yes".to_owned()
            ),
            (
                "Mandate.SuggestedParts[0].Quantity".to_owned(),
                "two".to_owned()
            ),
            ("InterventionId".to_owned(), "1.5".to_owned()),
        ]
    );
    // Written back unchanged, by both writers.
    assert_eq!(serde_json::to_value(item).unwrap(), order);
    assert_eq!(
        to_json_vec(item, 0).unwrap(),
        serde_json::to_vec(item).unwrap()
    );
    // A field set here replaces the kept value.
    let mut fixed = mandate.clone();
    fixed.mandate_id = Some(MandateId(1));
    assert_eq!(serde_json::to_value(&fixed).unwrap()["MandateId"], 1);
}

#[test]
fn one_object_answers_read_tolerantly_too() {
    let mut result = full("claim-result.json");
    result["ClaimID"] = json!("5272901");
    result["ValidationErrors"][0]["MessageType"] = json!(1);
    let (env, _) = tolerant::<OneOrMany<WarrantyClaimResult>>(&envelope_of(result.clone()));
    let OneOrMany::One(read) = env.response_data.unwrap() else {
        panic!("one object in, one object out")
    };
    // An id written as text is read, and written back as it came.
    assert_eq!(read.claim_id, Some(ClaimId(5_272_901)));
    assert_eq!(read.is_valid, Some(false));
    assert_eq!(serde_json::to_value(&read).unwrap(), result);
    let (env, _) = tolerant::<CreateRepairResult>(&envelope_of(json!({"InterventionId": "9"})));
    let created = env.response_data.unwrap();
    assert_eq!(created.intervention_id, Some(InterventionId(9)));
    assert_eq!(created.raw("InterventionId"), Some(&json!("9")));
    let (env, _) = tolerant::<CreateRepairResult>(&envelope_of(json!({"InterventionId": "nine"})));
    assert_eq!(env.response_data.unwrap().intervention_id, None);
}

#[test]
fn a_body_that_is_no_readable_envelope_still_fails() {
    for (body, path) in [
        (
            r#"{"ResponseStatus":"S","ResponseData":[{"Reference":"A"},"#,
            "ResponseData",
        ),
        (
            r#"{"ResponseStatus":"S","ResponseData":[5,{"Reference":"A","Label":"x"#,
            "ResponseData[1].Label",
        ),
        (r#"<html>502 Bad Gateway</html>"#, "."),
        (
            r#"{"ResponseStatus":"S","IsValid":"yes","ResponseData":[5]}"#,
            "IsValid",
        ),
        (
            r#"{"ResponseStatus":"S","ResponseData":{"Reference":"A"}}"#,
            "ResponseData",
        ),
        (r#"{"ResponseStatus":"S","ResponseData":[5]} trailing"#, "."),
    ] {
        let err = Envelope::<Vec<SparePart>>::from_slice_tolerant(body.as_bytes()).unwrap_err();
        assert_eq!(err.path, path, "{body}: {err}");
    }
    let err =
        Envelope::<ClaimTracking>::from_slice_tolerant(br#"{"ResponseData":[{}]}"#).unwrap_err();
    assert_eq!(err.path, "ResponseData");
    let err = Envelope::<ClaimTracking>::from_slice_tolerant(
        br#"{"ResponseData":{"ClaimID":"1","Comment":"#,
    )
    .unwrap_err();
    assert!(err.is_truncated(), "{err}");
}

#[test]
fn a_well_formed_answer_takes_the_strict_path() {
    let doc = envelope_of(json!([full("spare-part.json"), full("spare-part.json")]));
    let bytes = doc.to_string();
    let (env, set_aside) =
        Envelope::<Vec<SparePart>>::from_slice_tolerant(bytes.as_bytes()).unwrap();
    let strict = Envelope::<Vec<SparePart>>::from_slice(bytes.as_bytes()).unwrap();
    assert_eq!(env, strict);
    assert!(set_aside.is_empty());
}

// ----- properties -----

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        prop::sample::select(vec![1.0e300, -0.5, 208.0, 3.0]).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "208",
            "Mr.",
            " 3",
            "3",
            "2022-05-04",
            "NOTVALID",
            "true"
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Where to put values of the wrong type: for the n-th object member met
/// (any depth), `Some(value)` replaces its value.
#[derive(Debug, Clone)]
struct Injection {
    at: Vec<Option<Value>>,
    items: Vec<Option<Value>>,
}

fn arb_injection() -> impl Strategy<Value = Injection> {
    let slot = || {
        prop_oneof![
            4 => Just(None),
            1 => arb_value().prop_map(Some),
        ]
    };
    (
        prop::collection::vec(slot(), 48),
        prop::collection::vec(
            prop_oneof![3 => Just(None), 1 => arb_value().prop_map(Some)],
            4,
        ),
    )
        .prop_map(|(at, items)| Injection { at, items })
}

fn inject(doc: &Value, injection: &Injection, counter: &mut usize) -> Value {
    match doc {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    *counter += 1;
                    let replaced = injection.at[*counter % injection.at.len()].clone();
                    (
                        k.clone(),
                        replaced.unwrap_or_else(|| inject(v, injection, counter)),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| inject(v, injection, counter))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A list answer of `doc`'s model, three times over with values of the
/// wrong type injected, and some elements replaced by any value.
fn list_answer(doc: &Value, injection: &Injection) -> Value {
    let mut counter = 0;
    let items: Vec<Value> = (0..4)
        .map(|i| match &injection.items[i] {
            Some(other) => other.clone(),
            None => inject(doc, injection, &mut counter),
        })
        .collect();
    envelope_of(Value::Array(items))
}

/// Decoding succeeds; the elements that are objects are read and written
/// back equal to the input (same values, same types), by both writers; the
/// others are set aside with their raw JSON.
fn assert_list_kept<T>(doc: &Value, injection: &Injection) -> Result<(), TestCaseError>
where
    T: ReadLenient + Serialize + WriteJson + std::fmt::Debug,
{
    let answer = list_answer(doc, injection);
    let input = answer["ResponseData"].as_array().unwrap();
    let bytes = serde_json::to_vec(&answer).unwrap();
    let (env, set_aside) = Envelope::<Vec<T>>::from_slice_tolerant(&bytes)
        .map_err(|e| TestCaseError::fail(format!("{answer}: {e}")))?;
    let data = env.response_data.unwrap();
    let objects: Vec<&Value> = input.iter().filter(|v| v.is_object()).collect();
    prop_assert_eq!(data.len(), objects.len());
    for (model, original) in data.iter().zip(objects) {
        let written = serde_json::to_value(model).unwrap();
        prop_assert_eq!(strip_nulls(&written), strip_nulls(original), "{:?}", model);
        prop_assert_eq!(
            to_json_vec(model, 0).unwrap(),
            serde_json::to_vec(model).unwrap()
        );
    }
    let expected: Vec<usize> = (0..input.len())
        .filter(|i| !input[*i].is_object())
        .collect();
    prop_assert_eq!(
        set_aside.iter().map(|a| a.index).collect::<Vec<_>>(),
        expected
    );
    for aside in &set_aside {
        prop_assert_eq!(&aside.raw, &input[aside.index]);
    }
    Ok(())
}

/// The same for an answer of one object.
fn assert_one_kept<T>(doc: &Value, injection: &Injection) -> Result<(), TestCaseError>
where
    T: ReadLenient + ReadAnswer + Serialize + WriteJson + std::fmt::Debug,
{
    let mut counter = 0;
    let one = inject(doc, injection, &mut counter);
    let bytes = serde_json::to_vec(&envelope_of(one.clone())).unwrap();
    let (env, set_aside) = Envelope::<T>::from_slice_tolerant(&bytes)
        .map_err(|e| TestCaseError::fail(format!("{one}: {e}")))?;
    prop_assert!(set_aside.is_empty());
    let model = env.response_data.unwrap();
    prop_assert_eq!(
        strip_nulls(&serde_json::to_value(&model).unwrap()),
        strip_nulls(&one)
    );
    prop_assert_eq!(
        to_json_vec(&model, 0).unwrap(),
        serde_json::to_vec(&model).unwrap()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn any_answer_with_values_of_the_wrong_type_decodes_and_writes_back_what_it_kept(
        injection in arb_injection(),
    ) {
        assert_list_kept::<NewMandateResponseData>(&full("work-order.json"), &injection)?;
        assert_list_kept::<PartOrderLine>(&full("part-order-line.json"), &injection)?;
        assert_list_kept::<WarrantyClaimResult>(&full("claim-result.json"), &injection)?;
        assert_list_kept::<SparePart>(&full("spare-part.json"), &injection)?;
        assert_list_kept::<Product>(&full("product.json"), &injection)?;
        assert_list_kept::<ProductSearchHit>(&full("product-search-hit.json"), &injection)?;
        assert_list_kept::<BomLine>(&full("bom-line.json"), &injection)?;
        assert_one_kept::<ClaimTracking>(&full("claim-tracking.json"), &injection)?;
        assert_one_kept::<CreateRepairResult>(&full("create-repair-result.json"), &injection)?;
        assert_one_kept::<WarrantyClaimResult>(&full("claim-result.json"), &injection)?;
    }

    /// Every value kept unread is reported, at its path, as it arrived.
    #[test]
    fn every_value_kept_unread_is_reported_at_its_path(injection in arb_injection()) {
        let mut counter = 0;
        let order = inject(&full("work-order.json"), &injection, &mut counter);
        let (env, _) = Envelope::<Vec<NewMandateResponseData>>::from_slice_tolerant(
            &serde_json::to_vec(&envelope_of(json!([order.clone()]))).unwrap(),
        ).unwrap();
        let Some(item) = env.response_data.unwrap().pop() else {
            return Err(TestCaseError::fail("the work order is missing"));
        };
        for unread in item.unread_values() {
            let pointer = format!(
                "/{}",
                unread.path.replace(['.', '['], "/").replace(']', "")
            );
            prop_assert_eq!(order.pointer(&pointer), Some(&unread.raw), "{}", unread.path);
            // Nothing read as its type is reported.
            prop_assert!(!unread.raw.is_null());
        }
    }
}

#[test]
fn field_names_in_another_case_are_the_same_fields() {
    // A camelCase server: read into the typed fields, strictly and
    // tolerantly alike, and written back under the wire names.
    let camel = json!({"interventionId": 500_001, "mandateId": "100001", "serialNumber": "SN-1"});
    let strict: agora_domain::CompleteRepairState = serde_json::from_value(json!({
        "interventionId": 500_001, "serialNumber": "SN-1"
    }))
    .unwrap();
    assert_eq!(strict.intervention_id, Some(InterventionId(500_001)));
    assert_eq!(strict.serial_number.as_deref(), Some("SN-1"));
    assert!(strict.extra.is_empty(), "{:?}", strict.extra);

    let (Reading::Reinterpreted(read, _) | Reading::Exact(read)) =
        agora_domain::CompleteRepairState::read_lenient(camel)
    else {
        panic!("an object reads")
    };
    assert_eq!(read.intervention_id, Some(InterventionId(500_001)));
    assert_eq!(read.mandate_id, Some(MandateId(100_001)));
    let written = serde_json::to_value(&read).unwrap();
    assert_eq!(
        written,
        json!({"InterventionId": 500_001, "MandateId": "100001", "SerialNumber": "SN-1"})
    );
}
