//! The OpenAPI document: docs/openapi.yaml is the one generated from the
//! route table and the wire models (`cargo xtask openapi`), a real OpenAPI
//! parser reads it as a valid OpenAPI 3.1 document naming exactly the
//! served routes, the simulator serves the same document at
//! `/openapi.json`, and its schemas carry the reference's required marks,
//! every field of the models and the codes' values.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;

use agora_domain::routes::Route;
use agora_mock::{SimConfig, Simulator};
use agora_sim::openapi::{OPENAPI_PATH, document};
use agora_sim::{CONTROL_ROUTES, SimServer};
use serde_json::Value;

fn committed() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.yaml"
    ))
    .unwrap()
}

/// The committed document, read by a real OpenAPI 3.1 parser: the YAML
/// into JSON, then into oas3's typed model (which fails on a document
/// missing what OpenAPI requires or holding a value of the wrong type).
fn parsed() -> (oas3::Spec, Value) {
    let value: Value = serde_norway::from_str(&committed())
        .unwrap_or_else(|e| panic!("docs/openapi.yaml is not valid YAML: {e}"));
    let spec: oas3::Spec = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("docs/openapi.yaml is not a valid OpenAPI document: {e}"));
    (spec, value)
}

/// Every (METHOD, path) the simulator serves.
fn served() -> BTreeSet<(String, String)> {
    let mut served: BTreeSet<(String, String)> = Route::ALL
        .iter()
        .map(|r| (r.method().as_str().to_owned(), r.path().to_owned()))
        .collect();
    served.extend(
        CONTROL_ROUTES
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
    );
    served.insert(("GET".to_owned(), OPENAPI_PATH.to_owned()));
    served
}

#[test]
fn docs_openapi_yaml_is_the_generated_document() {
    let generated = document().to_yaml().unwrap();
    assert!(
        committed() == generated,
        "docs/openapi.yaml is not the document the code generates: run `cargo xtask openapi`"
    );
}

#[test]
fn a_real_openapi_parser_reads_it_and_it_names_exactly_the_served_routes() {
    let (spec, _) = parsed();
    assert_eq!(spec.validate_version().unwrap().to_string(), "3.1.0");
    let documented: BTreeSet<(String, String)> = spec
        .operations()
        .map(|(path, method, _)| (method.as_str().to_owned(), path))
        .collect();
    assert_eq!(documented, served());
    // Each AgoraPlus route under its AgoraPlus name, with the api_key.
    for route in Route::ALL {
        let op = spec.operation_by_id(route.name()).unwrap();
        assert_eq!(op.security.len(), 1, "{}", route.name());
        assert!(op.responses.as_ref().unwrap().contains_key("200"));
    }
    let components = spec.components.as_ref().unwrap();
    assert!(components.security_schemes.contains_key("api_key"));
}

#[tokio::test]
async fn the_simulator_serves_the_same_document_at_openapi_json() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = SimServer::start(Simulator::new(SimConfig::default()), addr)
        .await
        .unwrap();
    let resp = reqwest::get(format!("{}{OPENAPI_PATH}", server.url()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(served, parsed().1);
    assert!(oas3::from_json(served.to_string()).is_ok());
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

fn required(doc: &Value, name: &str) -> Vec<String> {
    schema(doc, name)["required"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn the_schemas_carry_the_references_marks_every_field_and_the_codes_values() {
    let (_, doc) = parsed();
    // What the reference marks required (a type without ", optional").
    assert_eq!(
        required(&doc, "CompleteRepairState"),
        ["CommercialRef", "ManufacturingCode"]
    );
    assert_eq!(
        required(&doc, "Consumer"),
        [
            "Title",
            "LastName",
            "FirstName",
            "Address1",
            "Zip",
            "Town",
            "Country",
            "Phone"
        ]
    );
    assert_eq!(
        required(&doc, "Intervention"),
        ["InterventionType", "RepairOriginCode"]
    );
    assert_eq!(required(&doc, "WarrantyClaimType"), ["ManufacturerId"]);
    assert_eq!(required(&doc, "Reseller"), Vec::<String>::new());
    // CreateRepair holds a file to the marks; UpdateRepair (by default)
    // only to its InterventionId: the same models, none required, a
    // required field's null taken.
    let body = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["allOf"]
            [0]["$ref"]
            .clone()
    };
    assert_eq!(
        body("/api/Repair/CreateRepair"),
        "#/components/schemas/CompleteRepairState"
    );
    assert_eq!(
        body("/api/Repair/UpdateRepair"),
        "#/components/schemas/CompleteRepairStateUpdate"
    );
    for name in [
        "CompleteRepairStateUpdate",
        "ConsumerUpdate",
        "InterventionUpdate",
    ] {
        assert_eq!(required(&doc, name), Vec::<String>::new(), "{name}");
    }
    let update = &schema(&doc, "CompleteRepairStateUpdate")["properties"];
    assert_eq!(
        update["Consumer"]["oneOf"][0]["$ref"],
        "#/components/schemas/ConsumerUpdate"
    );
    assert_eq!(update["ManufacturingCode"]["oneOf"][1]["type"], "null");
    assert_eq!(
        update["Parts"],
        schema(&doc, "CompleteRepairState")["properties"]["Parts"]
    );
    // Every field of a model, with its type.
    let fields = |name: &str| -> BTreeSet<String> {
        schema(&doc, name)["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        fields("CompleteRepairState"),
        agora_domain::CompleteRepairState::WIRE_FIELDS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    );
    assert_eq!(
        fields("WarrantyClaimLab"),
        agora_domain::WarrantyClaimLab::WIRE_FIELDS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    );
    let consumer = &schema(&doc, "Consumer")["properties"];
    assert_eq!(consumer["Title"]["enum"], serde_json::json!([1, 2, 3, 4]));
    assert_eq!(consumer["Country"]["type"], "integer");
    // An optional field also takes null (read as absent).
    assert_eq!(consumer["OptInSurvey"]["oneOf"][0]["type"], "boolean");
    assert_eq!(consumer["OptInSurvey"]["oneOf"][1]["type"], "null");
    assert_eq!(
        schema(&doc, "CompleteRepairState")["properties"]["Consumer"]["oneOf"][0]["$ref"],
        "#/components/schemas/Consumer"
    );
    // Codes with their values.
    assert_eq!(
        schema(&doc, "ClaimStatus")["enum"],
        serde_json::json!(["NOTVALID", "VALID", "NOTCONFORM", "CLOSEDACCEPTED"])
    );
    assert_eq!(
        schema(&doc, "RepairOriginCode")["enum"],
        serde_json::json!(["CONSUMER", "RESELLER"])
    );
    let codes = schema(&doc, "StatusCode")["enum"].as_array().unwrap();
    assert!(codes.contains(&Value::from("102")) && codes.contains(&Value::from("909")));
    // The envelope of each route, its ResponseData typed.
    let envelope = &schema(&doc, "GetSparepartOrderTrackingResponse")["properties"];
    assert_eq!(
        envelope["ResponseStatus"]["$ref"],
        "#/components/schemas/ResponseStatus"
    );
    assert_eq!(
        envelope["ResponseData"]["oneOf"][0]["items"]["$ref"],
        "#/components/schemas/PartOrderLine"
    );
    assert_eq!(
        schema(&doc, "ResponseStatus")["enum"],
        serde_json::json!(["S", "E", "W"])
    );
}
