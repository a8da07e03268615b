//! The simulator over HTTP as the reference describes it: every envelope
//! carries the five fields of 5.3.4; `GetNewMandates` reads `AUTOACCEPTED`
//! (2.1); the key may come as a query parameter (5.1); master-data paths
//! take an LCID (4.1, 4.2, 6.2); `PlaceRepairSparepartOrder` orders the
//! parts a status marks (2.2.2's 205 sample) once; a 405 says what the
//! path takes.
#![allow(clippy::unwrap_used)]

mod support;

use agora_mock::SimConfig;
use agora_sim::SimServer;
use serde_json::{Value, json};
use support::{Got, Http, serve};

async fn start() -> SimServer {
    let config = SimConfig {
        tenants: vec!["a".to_owned(), "b".to_owned()],
        locked: vec!["locked".to_owned()],
        seed: 5,
        catalog_size: 50,
        ..SimConfig::default()
    };
    serve(config).await
}

impl Http {
    async fn control(&self, key: &str, path: &str, body: Value) -> Got {
        let got = self.call("POST", path, Some(key), Some(body)).await;
        assert_eq!(got.status, 200, "{path}: {}", got.body);
        got
    }

    async fn publish(&self, key: &str) {
        self.control(
            key,
            "/_sim/mandates",
            json!({"Mandate": {"ManufacturerId": 19, "InterventionTypeId": 1}}),
        )
        .await;
    }

    async fn repair_file(&self, key: &str) -> i64 {
        let got = self
            .post(
                "/api/Repair/CreateRepair",
                key,
                agora_mock::sample::walk_in_with(json!({"CommercialRef": "ECAM22.110.B"})),
            )
            .await;
        assert_eq!(got.body["IsValid"], true, "{}", got.body);
        got.body["ResponseData"]["InterventionId"].as_i64().unwrap()
    }
}

const FIELDS: [&str; 5] = [
    "ResponseStatus",
    "IsValid",
    "ResponseMessage",
    "ResponseErrorMessage",
    "ResponseData",
];

/// The body is an envelope with all five fields of 5.3.4 (`ResponseData`
/// only when `with_data`).
fn assert_five_fields(what: &str, got: &Got, with_data: bool) {
    let object = got
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: {}", got.body));
    for field in FIELDS {
        if field == "ResponseData" && !with_data {
            assert!(!object.contains_key(field), "{what}: {}", got.body);
        } else {
            assert!(
                object.contains_key(field),
                "{what}: {field} in {}",
                got.body
            );
        }
    }
}

#[tokio::test]
async fn every_envelope_carries_the_five_fields_with_nulls() {
    let server = start().await;
    let http = Http::new(&server);
    http.publish("a").await;
    let file = http.repair_file("a").await;
    let successes = [
        ("GET", "/api/Repair/GetNewMandates".to_owned(), None),
        ("GET", "/api/Repair/GetAcceptedMandates".to_owned(), None),
        (
            "POST",
            "/api/Repair/UpdateRepair".to_owned(),
            Some(json!({"InterventionId": file, "ManufacturerId": 19})),
        ),
        (
            "POST",
            format!("/api/Repair/PlaceRepairSparepartOrder?interventionId={file}"),
            Some(json!({})),
        ),
        (
            "GET",
            format!("/api/Repair/GetSparepartOrderTracking?interventionId={file}"),
            None,
        ),
        (
            "GET",
            "/api/Product/PrintManufacturerSpareParts/19/01-01-2000/English".to_owned(),
            None,
        ),
        (
            "GET",
            "/api/Product/PrintManufacturerSpareParts/19/01-01-2099/English".to_owned(),
            None,
        ),
        (
            "GET",
            "/api/Product/SearchProductByRef?manufacturerId=19&keyWord=NOPE&countryCode=250"
                .to_owned(),
            None,
        ),
    ];
    for (method, path, body) in successes {
        let got = http.call(method, &path, Some("a"), body).await;
        assert_eq!(got.status, 200, "{path}: {}", got.body);
        assert!(
            got.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert_five_fields(&path, &got, true);
        assert_eq!(got.body["IsValid"], true, "{path}: {}", got.body);
    }
    // UpdateRepair answers no data: null, as the reference's samples show.
    let got = http
        .post(
            "/api/Repair/UpdateRepair",
            "a",
            json!({"InterventionId": file, "ManufacturerId": 19}),
        )
        .await;
    assert_eq!(got.body["ResponseData"], Value::Null, "{}", got.body);

    let errors = [
        ("GET", "/api/Repair/GetAcceptedMandates", None, None, 401),
        (
            "GET",
            "/api/Repair/GetAcceptedMandates",
            Some("locked"),
            None,
            403,
        ),
        ("GET", "/api/Repair/NoSuchThing", Some("a"), None, 404),
        (
            "GET",
            "/api/Repair/GetSparepartOrderTracking?interventionId=999",
            Some("a"),
            None,
            404,
        ),
        (
            "POST",
            "/api/Repair/GetAcceptedMandates",
            Some("a"),
            Some(json!({})),
            405,
        ),
        ("GET", "/_sim/mandates", None, None, 405),
        (
            "GET",
            "/api/Repair/GetSparepartOrderTracking",
            Some("a"),
            None,
            400,
        ),
        (
            "POST",
            "/_sim/faults",
            Some("a"),
            Some(json!({"Status503Rate": 2})),
            400,
        ),
    ];
    for (method, path, key, body, status) in errors {
        let got = http.call(method, path, key, body).await;
        assert_eq!(got.status, status, "{method} {path}: {}", got.body);
        assert_five_fields(path, &got, true);
        assert_eq!(got.body["ResponseStatus"], "E", "{path}: {}", got.body);
        assert_eq!(got.body["ResponseMessage"], Value::Null, "{path}");
        assert_eq!(got.body["ResponseData"], Value::Null, "{path}");
    }
    // Injected faults too.
    http.control("a", "/_sim/faults", json!({"Status503Rate": 1.0}))
        .await;
    let got = http.get("/api/Repair/GetAcceptedMandates", "a").await;
    assert_eq!(got.status, 503);
    assert_five_fields("503", &got, true);
    http.control("a", "/_sim/faults", json!({})).await;

    // The profiles keep their wording: NullData a null, NoData no
    // ResponseData (a server variant), the other four fields still there.
    for (option, with_data) in [("NullData", true), ("NoData", false), ("Array", true)] {
        http.control(
            "b",
            "/_sim/profile",
            json!({"Profile": {"EmptyLists": option}}),
        )
        .await;
        let got = http.get("/api/Repair/GetAcceptedMandates", "b").await;
        assert_eq!(got.status, 200, "{option}: {}", got.body);
        assert_five_fields(option, &got, with_data);
    }
    http.control(
        "b",
        "/_sim/profile",
        json!({"Profile": {"Warning": "check the reseller"}}),
    )
    .await;
    let got = http.get("/api/Repair/GetAcceptedMandates", "b").await;
    assert_five_fields("Warning", &got, true);
    assert_eq!(got.body["ResponseStatus"], "W", "{}", got.body);
}

#[tokio::test]
async fn new_mandates_read_the_autoaccepted_spelling() {
    let server = start().await;
    let http = Http::new(&server);
    http.publish("a").await;
    let got = http
        .get("/api/Repair/GetNewMandates?AUTOACCEPTED=true", "a")
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(
        got.body["ResponseData"][0]["InterventionId"].is_i64(),
        "accepted, with its repair file: {}",
        got.body
    );
    let got = http.get("/api/Repair/GetAcceptedMandates", "a").await;
    assert_eq!(got.body["ResponseData"].as_array().unwrap().len(), 1);
    // The other spelling still works; both sent must agree.
    http.publish("a").await;
    let got = http
        .get("/api/Repair/GetNewMandates?autoAccept=true", "a")
        .await;
    assert!(got.body["ResponseData"][0]["InterventionId"].is_i64());
    let got = http
        .get(
            "/api/Repair/GetNewMandates?autoAccept=true&autoAccepted=false",
            "a",
        )
        .await;
    assert_eq!(got.status, 400, "{}", got.body);
    let got = http
        .get("/api/Repair/GetNewMandates?autoAccepted=maybe", "a")
        .await;
    assert_eq!(got.status, 400, "{}", got.body);
}

#[tokio::test]
async fn the_key_may_come_as_a_query_parameter() {
    let server = start().await;
    let http = Http::new(&server);
    let path = "/api/Repair/GetAcceptedMandates";
    let got = http
        .call("GET", &format!("{path}?api_key=a"), None, None)
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let got = http
        .call(
            "GET",
            "/api/Product/PrintManufacturerProducts/19/01-01-2000/English?api_key=a",
            None,
            None,
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let got = http
        .call("GET", &format!("{path}?api_key=locked"), None, None)
        .await;
    assert_eq!(got.status, 403, "{}", got.body);
    let got = http
        .call("GET", &format!("{path}?api_key=nobody"), None, None)
        .await;
    assert_eq!(got.status, 401, "{}", got.body);
    // The header wins when both are sent.
    let got = http
        .call("GET", &format!("{path}?api_key=a"), Some("nobody"), None)
        .await;
    assert_eq!(got.status, 401, "{}", got.body);
    let got = http
        .call("GET", &format!("{path}?api_key=nobody"), Some("a"), None)
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    // The account is the key's: a query key reaches its own data.
    http.publish("b").await;
    let got = http
        .call(
            "GET",
            "/api/Repair/GetNewMandates?api_key=b&autoAccept=false",
            None,
            None,
        )
        .await;
    assert_eq!(got.body["ResponseData"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deltas_take_the_language_as_a_name_or_an_lcid() {
    let server = start().await;
    let http = Http::new(&server);
    for kind in ["PrintManufacturerSpareParts", "PrintManufacturerProducts"] {
        for (name, lcid) in [("English", "1033"), ("French", "1036")] {
            let by_name = http
                .get(&format!("/api/Product/{kind}/19/01-01-2000/{name}"), "a")
                .await;
            let by_lcid = http
                .get(&format!("/api/Product/{kind}/19/01-01-2000/{lcid}"), "a")
                .await;
            assert_eq!(by_lcid.status, 200, "{kind} {lcid}: {}", by_lcid.body);
            assert!(!by_lcid.body["ResponseData"].as_array().unwrap().is_empty());
            assert_eq!(by_name.body, by_lcid.body, "{kind} {lcid}");
        }
        let got = http
            .get(&format!("/api/Product/{kind}/19/01-01-2000/Klingon"), "a")
            .await;
        assert_eq!(got.status, 400, "{}", got.body);
    }
}

#[tokio::test]
async fn an_order_takes_the_parts_a_status_marks_once() {
    let server = start().await;
    let http = Http::new(&server);
    let file = http.repair_file("a").await;
    let part =
        |reference: &str| json!({"Reference": reference, "Quantity": 1, "ToBeOrdered": true});
    let sent = json!({
        "InterventionId": file, "ManufacturerId": 19,
        "Parts": [part("A"), {"Reference": "C", "Quantity": 1, "OrderNumber": "EARLIER-1"}],
        "StateNatures": [{"Code": "205", "Comment": "Spare part Ordered",
                          "Parts": [part("A"), part("B"), part("B"), part("C")]}]
    });
    let got = http
        .post("/api/Repair/UpdateRepair", "a", sent.clone())
        .await;
    assert_eq!(got.body["IsValid"], true, "{}", got.body);
    let order = format!("/api/Repair/PlaceRepairSparepartOrder?interventionId={file}");
    let got = http.post(&order, "a", json!({})).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let lines = got.body["ResponseData"].as_array().unwrap().clone();
    let ordered: Vec<&str> = lines
        .iter()
        .map(|l| l["Reference"].as_str().unwrap())
        .collect();
    assert_eq!(ordered, ["A", "B"], "one line per part: {}", got.body);
    let number = |r: &str| {
        lines
            .iter()
            .find(|l| l["Reference"] == r)
            .map(|l| l["OrderNumber"].clone())
            .unwrap()
    };
    let state = http.call("GET", "/_sim/state", Some("a"), None).await.body;
    let stored = &state["Repairs"][0]["File"];
    let marks = |parts: &Value| -> Vec<(Value, Value)> {
        parts
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["OrderNumber"].clone(), p["ToBeOrdered"].clone()))
            .collect()
    };
    assert_eq!(
        marks(&stored["StateNatures"][0]["Parts"]),
        [
            (number("A"), json!(false)),
            (number("B"), json!(false)),
            (number("B"), json!(false)),
            (json!("EARLIER-1"), json!(false)),
        ],
        "{stored}"
    );
    assert_eq!(
        marks(&stored["Parts"]),
        [
            (number("A"), json!(false)),
            (json!("EARLIER-1"), Value::Null)
        ]
    );
    // Nothing is ordered twice, and the client's copy of the status (still
    // marked to be ordered) sent back is the same status, not a new one.
    let mut copy = sent;
    copy["Parts"][0]["OrderNumber"] = number("A");
    copy["Parts"][0]["ToBeOrdered"] = json!(false);
    let got = http.post("/api/Repair/UpdateRepair", "a", copy).await;
    assert_eq!(got.body["IsValid"], true, "{}", got.body);
    let got = http.post(&order, "a", json!({})).await;
    assert_eq!(got.body["ResponseData"], json!([]), "{}", got.body);
    let state = http.call("GET", "/_sim/state", Some("a"), None).await.body;
    assert_eq!(
        state["Repairs"][0]["File"]["StateNatures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(state["Orders"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_405_says_which_method_the_path_takes() {
    let server = start().await;
    let http = Http::new(&server);
    for (method, path, allow) in [
        ("POST", "/api/Repair/GetAcceptedMandates", "GET"),
        ("PUT", "/api/Repair/GetNewMandates", "GET"),
        ("GET", "/api/Repair/UpdateRepair", "POST"),
        ("DELETE", "/api/repair/createrepair", "POST"),
        (
            "POST",
            "/api/Product/PrintManufacturerProducts/19/01-01-2020/English",
            "GET",
        ),
        ("GET", "/_sim/mandates", "POST"),
    ] {
        let got = http.call(method, path, Some("a"), None).await;
        assert_eq!(got.status, 405, "{method} {path}");
        let header = got
            .headers
            .get("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
            .to_str()
            .unwrap();
        assert!(
            header.split(',').any(|m| m.trim() == allow),
            "{method} {path}: Allow {header}"
        );
    }
}
