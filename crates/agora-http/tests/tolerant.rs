//! Answers AgoraPlus may give that our simulator does not (issue 11): the
//! client reads them, keeping odd values and setting aside unreadable list
//! elements, and tells the caller.
#![allow(clippy::unwrap_used)]

mod support;

use agora_domain::InterventionId;
use agora_domain::{Lcid, LogisticStatus, ManufacturerId, Title};
use agora_ports::DeltaQuery;
use serde_json::json;
use support::{client_for, fixture, ok};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_work_order_titled_mr_is_read_and_an_unreadable_one_set_aside() {
    let server = support::server().await;
    let mut order = fixture("full/work-order.json");
    order["Mandate"]["Consumer"]["Title"] = json!("Mr.");
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetNewMandates"))
        .respond_with(ok(json!([order, 42])))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let reply = client.new_mandates(true).await.unwrap();
    assert_eq!(reply.data.len(), 1);
    let consumer = reply.data[0].mandate.as_ref().unwrap().consumer.as_ref();
    assert_eq!(consumer.unwrap().title.map(|t| t.0), Some(Title::Mr));
    assert_eq!(reply.data[0].intervention_id, Some(InterventionId(880_001)));
    assert_eq!(reply.set_aside.len(), 1);
    assert_eq!(
        (reply.set_aside[0].index, &reply.set_aside[0].raw),
        (1, &json!(42))
    );
}

#[tokio::test]
async fn a_numeric_logistic_status_code_is_read() {
    let server = support::server().await;
    let mut line = fixture("full/part-order-line.json");
    line["StatusCode"] = json!(208);
    Mock::given(method("GET"))
        .and(path("/api/Repair/GetSparepartOrderTracking"))
        .respond_with(ok(json!([line])))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let reply = client
        .order_tracking(InterventionId(880_001))
        .await
        .unwrap();
    assert_eq!(reply.data[0].status_code, Some(LogisticStatus::Shipped));
    assert_eq!(serde_json::to_value(&reply.data[0]).unwrap(), line);
    assert!(reply.set_aside.is_empty());
}

#[tokio::test]
async fn a_delta_sets_aside_what_it_cannot_read_and_says_so_in_its_summary() {
    let server = support::server().await;
    let body = r#"{"ResponseStatus":"S","IsValid":true,"ResponseData":[{"Reference":"A"},"junk",{"Reference":7,"Label":"kept"},{"Reference":"C"}]}"#;
    Mock::given(method("GET"))
        .and(path(
            "/api/Product/PrintManufacturerSpareParts/19/01-01-2020/English",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server.uri());
    let mut stream = client
        .spare_parts_delta(DeltaQuery {
            manufacturer: ManufacturerId(19),
            since: jiff::civil::date(2020, 1, 1),
            language: Lcid::ENGLISH,
        })
        .await
        .unwrap();
    let mut all = Vec::new();
    while let Some(batch) = stream.next_batch().await.unwrap() {
        all.extend(batch);
    }
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].raw("Reference"), Some(&json!(7)));
    let summary = stream.summary();
    assert_eq!(summary.records, 3);
    assert_eq!(summary.set_aside_total, 1);
    assert_eq!(summary.set_aside[0].index, 1);
    assert_eq!(summary.set_aside[0].raw, json!("junk"));
}
