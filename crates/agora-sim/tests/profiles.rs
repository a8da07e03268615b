//! Answer profiles over HTTP: each option of a profile, per account and
//! from a configuration file; broken work orders refused per item; unknown
//! status codes refused; both spellings of the claim's transfer flag;
//! faults scoped to one route.
#![allow(clippy::unwrap_used)]

mod support;

use agora_mock::SimConfig;
use agora_sim::SimServer;
use serde_json::{Value, json};
use support::{Got, Http, serve};

async fn start(tenants: &[&str]) -> SimServer {
    let config = SimConfig {
        tenants: tenants.iter().map(|s| (*s).to_owned()).collect(),
        seed: 3,
        catalog_size: 100,
        ..SimConfig::default()
    };
    serve(config).await
}

impl Http {
    async fn control(&self, key: &str, path: &str, body: Value) -> Got {
        self.call("POST", path, Some(key), Some(body)).await
    }

    async fn set_profile(&self, key: &str, profile: Value) {
        let got = self
            .control(key, "/_sim/profile", json!({ "Profile": profile }))
            .await;
        assert_eq!(got.status, 200, "{}", got.body);
    }

    async fn publish(&self, key: &str, title: &str, broken: bool) -> i64 {
        let got = self
            .control(
                key,
                "/_sim/mandates",
                json!({"Broken": broken, "Mandate": {
                    "ManufacturerId": 19, "InterventionTypeId": 1,
                    "Consumer": {"Title": title, "LastName": "Martin"}
                }}),
            )
            .await;
        assert_eq!(got.status, 200, "{}", got.body);
        got.body["MandateId"].as_i64().unwrap()
    }

    /// A repair file created directly (DeLonghi, under warranty).
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

const NEW: &str = "/api/Repair/GetNewMandates?autoAccept=true";
const ACCEPTED: &str = "/api/Repair/GetAcceptedMandates";
const EMPTY_DELTA: &str = "/api/Product/PrintManufacturerSpareParts/19/01-01-2099/English";
const NO_PRODUCT: &str =
    "/api/Product/SearchProductByRef?manufacturerId=19&keyWord=NO-SUCH-REF&countryCode=250";

#[tokio::test]
async fn empty_lists_answer_as_the_accounts_profile_says() {
    let server = start(&["plain", "ref"]).await;
    let http = Http::new(&server);
    let tracking = |id: i64| format!("/api/Repair/GetSparepartOrderTracking?interventionId={id}");
    let file = http.repair_file("ref").await;
    let plain_file = http.repair_file("plain").await;

    for (mode, status) in [
        ("NotFound", 404),
        ("NullData", 200),
        ("NoData", 200),
        ("Array", 200),
    ] {
        http.set_profile("ref", json!({"EmptyLists": mode})).await;
        for path in [
            NEW.to_owned(),
            ACCEPTED.to_owned(),
            tracking(file),
            NO_PRODUCT.to_owned(),
            EMPTY_DELTA.to_owned(),
        ] {
            let got = http.get(&path, "ref").await;
            assert_eq!(got.status, status, "{mode} {path}: {}", got.body);
            let body = &got.body;
            match mode {
                "NotFound" => {
                    assert_eq!(body["ResponseStatus"], "E", "{path}: {body}");
                    assert_eq!(body["IsValid"], false, "{path}: {body}");
                    assert_eq!(
                        body["ResponseErrorMessage"], "No results match your request",
                        "{path}: {body}"
                    );
                }
                "NullData" => {
                    assert_eq!(body["ResponseStatus"], "S", "{path}: {body}");
                    assert!(
                        body.as_object().unwrap().contains_key("ResponseData"),
                        "{path}: {body}"
                    );
                    assert_eq!(body["ResponseData"], Value::Null, "{path}: {body}");
                }
                "NoData" => {
                    assert_eq!(body["ResponseStatus"], "S", "{path}: {body}");
                    assert!(
                        !body.as_object().unwrap().contains_key("ResponseData"),
                        "{path}: {body}"
                    );
                }
                _ => assert_eq!(body["ResponseData"], json!([]), "{path}: {body}"),
            }
        }
        // Another account keeps answering as before.
        for path in [NEW.to_owned(), tracking(plain_file), EMPTY_DELTA.to_owned()] {
            let got = http.get(&path, "plain").await;
            assert_eq!(got.status, 200, "{path}: {}", got.body);
            assert_eq!(got.body["ResponseData"], json!([]), "{path}");
        }
    }

    // Routes about one thing never answer "no results"; lists that are not
    // empty are lists.
    http.set_profile("ref", json!("reference-style")).await;
    let got = http
        .get("/api/Product/PrintBOMData?productKey=PK-nope", "ref")
        .await;
    assert_eq!(got.status, 404);
    assert_ne!(
        got.body["ResponseErrorMessage"],
        "No results match your request"
    );
    let got = http.get(&tracking(999_999), "ref").await;
    assert_eq!(got.status, 404, "an unknown file is not found");
    assert_ne!(
        got.body["ResponseErrorMessage"],
        "No results match your request"
    );
    let got = http
        .get("/api/Repair/GetWarrantyClaimStatus?claimId=1", "ref")
        .await;
    assert_eq!(got.status, 404);
    assert_ne!(
        got.body["ResponseErrorMessage"],
        "No results match your request"
    );
    // Per route: the preset answers null data for the accepted list.
    assert_eq!(http.get(NEW, "ref").await.status, 404);
    let got = http.get(ACCEPTED, "ref").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["ResponseData"], Value::Null, "{}", got.body);
    http.publish("ref", "3", false).await;
    let got = http.get(NEW, "ref").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["ResponseData"].as_array().unwrap().len(), 1);

    // The profile reads back; a bad one is refused and changes nothing.
    let got = http.get("/_sim/profile", "ref").await;
    assert_eq!(got.body["EmptyLists"], "NotFound", "{}", got.body);
    assert_eq!(
        got.body["EmptyListsByRoute"]["GetAcceptedMandates"],
        "NullData"
    );
    for bad in [
        json!("loud"),
        json!({"EmptyLists": "Sometimes"}),
        json!({"EmptyListsByRoute": {"PrintBOMData": "NotFound"}}),
    ] {
        let got = http
            .control("ref", "/_sim/profile", json!({ "Profile": bad }))
            .await;
        assert_eq!(got.status, 400, "{bad}: {}", got.body);
    }
    let got = http
        .control("nobody", "/_sim/profile", json!({"Profile": "default"}))
        .await;
    assert_eq!(got.status, 401, "an unknown key: {}", got.body);
    assert_eq!(
        http.get("/_sim/profile", "ref").await.body["EmptyLists"],
        "NotFound"
    );
}

#[tokio::test]
async fn warnings_come_as_w_envelopes_and_on_each_accepted_work_order() {
    let server = start(&["w", "plain"]).await;
    let http = Http::new(&server);
    http.set_profile(
        "w",
        json!({"Warning": "Partial data: reseller unknown", "ItemWarning": "Consumer phone missing"}),
    )
    .await;
    http.publish("w", "2", false).await;
    http.publish("plain", "2", false).await;

    let got = http.get(NEW, "w").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["ResponseStatus"], "W", "{}", got.body);
    assert_eq!(got.body["IsValid"], true);
    assert_eq!(
        got.body["ResponseMessage"],
        "Partial data: reseller unknown"
    );
    let item = &got.body["ResponseData"][0];
    assert_eq!(item["ResponseStatus"], "W", "{item}");
    assert_eq!(item["IsValid"], true, "{item}");
    assert!(
        item["ResponseMessage"]
            .as_str()
            .unwrap()
            .contains("Consumer phone missing"),
        "{item}"
    );
    assert!(
        item["InterventionId"].as_i64().is_some(),
        "accepted: {item}"
    );

    for path in [
        ACCEPTED,
        EMPTY_DELTA,
        "/api/Product/PrintManufacturerSpareParts/19/01-01-2020/English",
    ] {
        let got = http.get(path, "w").await;
        assert_eq!(got.body["ResponseStatus"], "W", "{path}");
        assert_eq!(
            got.body["ResponseMessage"], "Partial data: reseller unknown",
            "{path}"
        );
    }
    // An update's envelope warns too.
    let file = http.repair_file("w").await;
    let got = http
        .post(
            "/api/Repair/UpdateRepair",
            "w",
            json!({"InterventionId": file, "ManufacturerId": 19}),
        )
        .await;
    assert_eq!(got.body["ResponseStatus"], "W", "{}", got.body);

    let got = http.get(NEW, "plain").await;
    assert_eq!(got.body["ResponseStatus"], "S");
    assert_eq!(got.body["ResponseData"][0]["ResponseStatus"], "S");
    let got = http.get(EMPTY_DELTA, "plain").await;
    assert_eq!(got.body["ResponseStatus"], "S");
}

#[tokio::test]
async fn titles_come_as_labels_and_logistic_codes_as_numbers() {
    let server = start(&["ref", "plain"]).await;
    let http = Http::new(&server);
    http.set_profile(
        "ref",
        json!({"TitleLabels": true, "NumericLogisticCodes": true}),
    )
    .await;
    for (title, label) in [("1", "Mrs."), ("2", "Ms."), ("3", "Mr."), ("4", "Company")] {
        http.publish("ref", title, false).await;
        http.publish("plain", title, false).await;
        let got = http.get(NEW, "ref").await;
        assert_eq!(
            got.body["ResponseData"][0]["Mandate"]["Consumer"]["Title"], label,
            "{}",
            got.body
        );
        let got = http.get(NEW, "plain").await;
        assert_eq!(
            got.body["ResponseData"][0]["Mandate"]["Consumer"]["Title"], title,
            "{}",
            got.body
        );
    }
    let got = http.get(ACCEPTED, "ref").await;
    let titles: Vec<&str> = got.body["ResponseData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Mandate"]["Consumer"]["Title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Mrs.", "Ms.", "Mr.", "Company"]);

    for key in ["ref", "plain"] {
        let file = http.repair_file(key).await;
        let got = http
            .post(
                "/api/Repair/UpdateRepair",
                key,
                json!({"InterventionId": file, "ManufacturerId": 19,
                       "Parts": [{"Reference": "00019-00000001", "Quantity": 1, "ToBeOrdered": true}]}),
            )
            .await;
        assert_eq!(got.body["ResponseStatus"], "S", "{}", got.body);
        let got = http
            .post(
                &format!("/api/Repair/PlaceRepairSparepartOrder?interventionId={file}"),
                key,
                json!({}),
            )
            .await;
        let order = got.body["ResponseData"][0]["OrderNumber"]
            .as_str()
            .unwrap()
            .to_owned();
        let got = http
            .control(
                key,
                &format!("/_sim/orders/{order}/logistic"),
                json!({"StatusCode": "208"}),
            )
            .await;
        assert_eq!(got.status, 200);
        let got = http
            .get(
                &format!("/api/Repair/GetSparepartOrderTracking?interventionId={file}"),
                key,
            )
            .await;
        let expected = if key == "ref" {
            json!(208)
        } else {
            json!("208")
        };
        assert_eq!(got.body["ResponseData"][0]["StatusCode"], expected, "{key}");
    }
}

#[tokio::test]
async fn a_broken_work_order_is_refused_per_item_and_no_file_is_created() {
    let server = start(&["a"]).await;
    let http = Http::new(&server);
    let broken = http.publish("a", "3", true).await;
    let fine = http.publish("a", "3", false).await;

    // Listed without accepting: the broken one looks like any other.
    let got = http
        .get("/api/Repair/GetNewMandates?autoAccept=false", "a")
        .await;
    assert_eq!(got.body["ResponseData"].as_array().unwrap().len(), 2);

    let got = http.get(NEW, "a").await;
    assert_eq!(got.status, 200);
    let items = got.body["ResponseData"].as_array().unwrap();
    let of = |id: i64| {
        items
            .iter()
            .find(|i| i["Mandate"]["MandateId"] == id)
            .unwrap()
    };
    let refused = of(broken);
    assert_eq!(refused["IsValid"], false, "{refused}");
    assert_eq!(refused["ResponseStatus"], "E", "{refused}");
    assert!(
        refused["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains(&broken.to_string()),
        "{refused}"
    );
    assert!(refused.get("InterventionId").is_none(), "{refused}");
    assert_eq!(of(fine)["IsValid"], true);
    assert!(of(fine)["InterventionId"].as_i64().is_some());

    let state = http.get("/_sim/state", "a").await.body;
    assert_eq!(state["Repairs"].as_array().unwrap().len(), 1, "{state}");
    let status_of = |state: &Value, id: i64| {
        state["Mandates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Mandate"]["MandateId"] == id)
            .unwrap()["Status"]
            .clone()
    };
    assert_eq!(status_of(&state, broken), "NEW");

    // Repaired: the next pull accepts it. An accepted one cannot be flagged.
    let got = http
        .control(
            "a",
            &format!("/_sim/mandates/{broken}/broken"),
            json!({"Broken": false}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    let got = http.get(NEW, "a").await;
    assert_eq!(got.body["ResponseData"][0]["IsValid"], true, "{}", got.body);
    let state = http.get("/_sim/state", "a").await.body;
    assert_eq!(status_of(&state, broken), "ACCEPTED");
    assert_eq!(state["Repairs"].as_array().unwrap().len(), 2);
    let got = http
        .control(
            "a",
            &format!("/_sim/mandates/{fine}/broken"),
            json!({"Broken": true}),
        )
        .await;
    assert_eq!(got.status, 409, "{}", got.body);
    let got = http
        .control("a", "/_sim/mandates/424242/broken", json!({"Broken": true}))
        .await;
    assert_eq!(got.status, 404, "{}", got.body);
}

#[tokio::test]
async fn a_status_code_outside_the_reference_is_refused_naming_it() {
    let server = start(&["a"]).await;
    let http = Http::new(&server);
    let got = http
        .post(
            "/api/Repair/CreateRepair",
            "a",
            agora_mock::sample::walk_in_with(json!({"CommercialRef": "X",
                   "StateNatures": [{"Code": "999", "Comment": "?"}]})),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["ResponseStatus"], "E", "{}", got.body);
    assert_eq!(got.body["IsValid"], false);
    assert!(
        got.body["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains("999"),
        "{}",
        got.body
    );
    let state = http.get("/_sim/state", "a").await.body;
    assert!(
        state["Repairs"].as_array().unwrap().is_empty(),
        "nothing created"
    );

    let file = http.repair_file("a").await;
    let update = |code: Value| {
        json!({"InterventionId": file, "ManufacturerId": 19,
               "StateNatures": [{"Code": code, "Comment": "c"}]})
    };
    for code in [json!("777"), json!(777), json!("1O2"), json!("")] {
        let got = http
            .post("/api/Repair/UpdateRepair", "a", update(code.clone()))
            .await;
        assert_eq!(got.body["ResponseStatus"], "E", "{code}: {}", got.body);
        let wanted = code
            .as_str()
            .map_or_else(|| code.to_string(), str::to_owned);
        assert!(
            got.body["ResponseErrorMessage"]
                .as_str()
                .unwrap()
                .contains(&format!("`{wanted}`")),
            "{code}: {}",
            got.body
        );
    }
    // A code of the tables passes, as a string or a number.
    for code in [json!("406"), json!(503)] {
        let got = http
            .post("/api/Repair/UpdateRepair", "a", update(code.clone()))
            .await;
        assert_eq!(got.body["ResponseStatus"], "S", "{code}: {}", got.body);
    }
    let state = http.get("/_sim/state", "a").await.body;
    let codes: Vec<&Value> = state["Repairs"][0]["File"]["StateNatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["Code"])
        .collect();
    assert_eq!(codes, [&json!("406"), &json!("503")]);
}

fn claim(intervention: i64) -> Value {
    json!({
        "ClaimType": {"InterventionId": intervention, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2024-02-28T10:00:00Z",
                       "InterventionStartDateTime": "2024-03-02T08:00:00Z",
                       "InterventionEndDateTime": "2024-03-02T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    })
}

#[tokio::test]
async fn claims_take_either_spelling_of_the_transfer_flag() {
    let server = start(&["a"]).await;
    let http = Http::new(&server);
    // Whether the claim was transferred shows in whether the OEM can decide on it.
    for (query, transferred) in [
        ("transferIfValid=true", true),
        ("transferIsValid=true", true),
        ("TRANSFERISVALID=true", true),
        ("transferIfValid=true&transferIsValid=true", true),
        ("transferIsValid=false", false),
        ("", false),
    ] {
        let file = http.repair_file("a").await;
        let got = http
            .post(
                &format!("/api/Repair/CreateWarrantyClaims?language=1033&{query}"),
                "a",
                claim(file),
            )
            .await;
        assert_eq!(got.body["ResponseStatus"], "S", "{query}: {}", got.body);
        assert_eq!(
            got.body["ResponseData"]["IsValid"], true,
            "{query}: {}",
            got.body
        );
        let id = got.body["ResponseData"]["ClaimID"].as_i64().unwrap();
        let got = http
            .control(
                "a",
                &format!("/_sim/claims/{id}/decision"),
                json!({"LastStatus": "CLOSEDACCEPTED"}),
            )
            .await;
        assert_eq!(got.status == 200, transferred, "{query}: {}", got.body);
    }
    // Both spellings that disagree: refused, nothing created.
    let file = http.repair_file("a").await;
    let before = http.get("/_sim/state", "a").await.body["Claims"]
        .as_array()
        .unwrap()
        .len();
    let got = http
        .post(
            "/api/Repair/CreateWarrantyClaims?language=1033&transferIfValid=true&transferIsValid=false",
            "a",
            claim(file),
        )
        .await;
    assert_eq!(got.status, 400, "{}", got.body);
    assert!(
        got.body["ResponseErrorMessage"]
            .as_str()
            .unwrap()
            .contains("disagree")
    );
    let after = http.get("/_sim/state", "a").await.body["Claims"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);

    // A correction reads either spelling too: NOTVALID, then corrected with transferIsValid.
    let file = http.repair_file("a").await;
    let mut bad = claim(file);
    bad["ClaimType"]["SerialNumber"] = json!("12345");
    let got = http
        .post("/api/Repair/CreateWarrantyClaims?language=1033", "a", bad)
        .await;
    assert_eq!(got.body["ResponseData"]["IsValid"], false, "{}", got.body);
    let id = got.body["ResponseData"]["ClaimID"].as_i64().unwrap();
    let mut fixed = claim(file);
    fixed["ClaimID"] = json!(id);
    let got = http
        .post(
            "/api/Repair/UpdateWarrantyClaim?language=1033&transferIsValid=true",
            "a",
            fixed,
        )
        .await;
    assert_eq!(got.body["ResponseData"]["IsValid"], true, "{}", got.body);
    let got = http
        .control(
            "a",
            &format!("/_sim/claims/{id}/decision"),
            json!({"LastStatus": "CLOSEDACCEPTED"}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
}

#[tokio::test]
async fn faults_scoped_to_a_route_leave_the_others_alone() {
    let server = start(&["a"]).await;
    let http = Http::new(&server);
    let got = http
        .control(
            "a",
            "/_sim/faults",
            json!({"Status500Rate": 1.0, "Routes": ["GetNewMandates"]}),
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(http.get(NEW, "a").await.status, 500);
    assert_eq!(http.get(ACCEPTED, "a").await.status, 200);
    let got = http
        .control(
            "a",
            "/_sim/faults",
            json!({"Status500Rate": 1.0, "Routes": ["Nope"]}),
        )
        .await;
    assert_eq!(got.status, 400, "{}", got.body);
    assert_eq!(
        http.get(NEW, "a").await.status,
        500,
        "the faults in force stay"
    );
}

#[test]
fn a_configuration_file_gives_accounts_their_profiles() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profiles.json");
    std::fs::write(
        &path,
        json!({"tenants": ["k1", "k2", "k3"],
               "profiles": {"k1": "reference-style", "k3": {"EmptyLists": "NullData"}}})
        .to_string(),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            path.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url.trim().trim_start_matches("http://").to_owned();
    let get = |key: &str| {
        let mut sock = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            sock,
            "GET /api/Repair/GetNewMandates HTTP/1.1\r\nHost: {addr}\r\napi_key: {key}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        sock.read_to_string(&mut out).unwrap();
        out
    };
    let k1 = get("k1");
    let k2 = get("k2");
    let k3 = get("k3");
    let _ = child.kill();
    let _ = child.wait();
    assert!(k1.starts_with("HTTP/1.1 404"), "{k1}");
    assert!(k1.contains("No results match your request"), "{k1}");
    assert!(
        k2.starts_with("HTTP/1.1 200") && k2.contains(r#""ResponseData":[]"#),
        "{k2}"
    );
    assert!(
        k3.starts_with("HTTP/1.1 200") && k3.contains(r#""ResponseData":null"#),
        "{k3}"
    );

    // A profile for no account, or an unknown preset: a clear error, exit 2.
    for (config, needle) in [
        (
            json!({"tenants": ["k1"], "profiles": {"ghost": "default"}}),
            "does not exist",
        ),
        (
            json!({"tenants": ["k1"], "profiles": {"k1": "loud"}}),
            "no profile preset `loud`",
        ),
    ] {
        std::fs::write(&path, config.to_string()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_agora-sim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--config",
                path.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{config}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
        assert!(!err.contains("ghost"), "keys are not shown: {err}");
    }
}
