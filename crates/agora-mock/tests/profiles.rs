//! Through the ports: what an account's answer profile changes in the data
//! (warnings, per item too), broken work orders, unknown status codes and
//! faults scoped to a route.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use agora_domain::routes::Route;
use agora_domain::{
    CompleteRepairState, MandateLightResponse, ResponseStatus, StateNature, StatusCode,
};
use agora_mock::{AnswerProfile, EmptyList, Faults, SimConfig, Simulator};
use agora_ports::{AgoraError, Mandates, Repairs};
use serde_json::json;

fn sim(profiles: BTreeMap<String, AnswerProfile>) -> Simulator {
    let config = SimConfig {
        tenants: vec!["w".into(), "plain".into()],
        seed: 1,
        catalog_size: 10,
        profiles,
        ..SimConfig::default()
    };
    config.check().unwrap();
    Simulator::new(config)
}

fn work_order() -> MandateLightResponse {
    serde_json::from_value(json!({"ManufacturerId": 19, "InterventionTypeId": 1})).unwrap()
}

#[tokio::test]
async fn a_profile_from_the_configuration_warns_through_the_ports() {
    let profile = AnswerProfile {
        warning: Some("check the reseller".into()),
        item_warning: Some("phone missing".into()),
        ..AnswerProfile::default()
    };
    let sim = sim(BTreeMap::from([("w".to_owned(), profile.clone())]));
    assert_eq!(sim.profile("w").unwrap(), profile);
    sim.publish_mandate("w", work_order()).unwrap();
    sim.publish_mandate("plain", work_order()).unwrap();

    let reply = sim.client("w").new_mandates(true).await.unwrap();
    assert_eq!(reply.warning.as_deref(), Some("check the reseller"));
    let item = &reply.data[0];
    assert_eq!(item.response_status, Some(ResponseStatus::Warning));
    assert!(
        item.response_message
            .as_deref()
            .unwrap()
            .contains("phone missing")
    );
    assert!(item.intervention_id.is_some());
    let reply = sim.client("w").accepted_mandates().await.unwrap();
    assert_eq!(reply.warning.as_deref(), Some("check the reseller"));

    let reply = sim.client("plain").new_mandates(true).await.unwrap();
    assert_eq!(reply.warning, None);
    assert_eq!(reply.data[0].response_status, Some(ResponseStatus::Success));

    // Set back to the default: no more warnings.
    sim.set_profile("w", AnswerProfile::default()).unwrap();
    assert_eq!(
        sim.client("w").accepted_mandates().await.unwrap().warning,
        None
    );
}

#[test]
fn a_profile_for_no_account_or_an_invalid_one_is_refused() {
    let config = SimConfig {
        tenants: vec!["a".into()],
        profiles: BTreeMap::from([("b".to_owned(), AnswerProfile::default())]),
        ..SimConfig::default()
    };
    let err = config.check().unwrap_err();
    assert!(
        err.contains("does not exist") && !err.contains("\"b\""),
        "{err}"
    );
    let invalid = AnswerProfile {
        empty_lists_by_route: BTreeMap::from([(
            Route::UpdateRepair.name().to_owned(),
            EmptyList::NotFound,
        )]),
        ..AnswerProfile::default()
    };
    let sim = sim(BTreeMap::new());
    assert!(sim.set_profile("w", invalid).is_err());
    assert!(sim.set_profile("nobody", AnswerProfile::default()).is_err());
}

#[tokio::test]
async fn a_broken_work_order_is_refused_per_item_and_stays_new() {
    let sim = sim(BTreeMap::new());
    let api = sim.client("plain");
    let broken = sim.publish_broken_mandate("plain", work_order()).unwrap();
    let fine = sim.publish_mandate("plain", work_order()).unwrap();
    let reply = api.new_mandates(true).await.unwrap();
    assert_eq!(reply.data.len(), 2);
    let refused = reply
        .data
        .iter()
        .find(|i| i.mandate.as_ref().unwrap().mandate_id == Some(broken))
        .unwrap();
    assert_eq!(refused.is_valid, Some(false));
    assert_eq!(refused.response_status, Some(ResponseStatus::Error));
    assert!(refused.intervention_id.is_none());
    assert!(
        refused
            .response_error_message
            .as_deref()
            .unwrap()
            .contains(&broken.to_string())
    );
    assert_eq!(api.accepted_mandates().await.unwrap().data.len(), 1);
    let state = sim.state("plain").unwrap();
    assert_eq!(state["Repairs"].as_array().unwrap().len(), 1);
    // Still NEW: it comes again, and is accepted once repaired.
    assert_eq!(api.new_mandates(true).await.unwrap().data.len(), 1);
    sim.set_mandate_broken("plain", broken, false).unwrap();
    let reply = api.new_mandates(true).await.unwrap();
    assert_eq!(reply.data[0].is_valid, Some(true));
    assert!(
        sim.set_mandate_broken("plain", fine, true).is_err(),
        "accepted"
    );
}

#[tokio::test]
async fn an_unknown_status_code_is_refused_naming_it() {
    let sim = sim(BTreeMap::new());
    let api = sim.client("plain");
    let mut file: CompleteRepairState = serde_json::from_value(agora_mock::sample::walk_in_with(
        json!({"CommercialRef": "X"
        }),
    ))
    .unwrap();
    file.state_natures = Some(vec![StateNature::new(StatusCode::lenient("1001"), "")]);
    let err = api.create_repair(&file).await.unwrap_err();
    assert!(
        matches!(&err, AgoraError::Rejected(m) if m.message.as_deref().unwrap().contains("`1001`")),
        "{err:?}"
    );
    file.state_natures = Some(vec![StateNature::new(StatusCode::Diagnosis, "")]);
    let id = api.create_repair(&file).await.unwrap().data;
    file.intervention_id = Some(id);
    file.state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(StatusCode::lenient("299"), ""));
    let err = api.update_repair(&file).await.unwrap_err();
    assert!(err.to_string().contains("`299`"), "{err}");
    file.state_natures.as_mut().unwrap().pop();
    file.state_natures
        .as_mut()
        .unwrap()
        .push(StateNature::new(StatusCode::WorkshopRepairs, ""));
    api.update_repair(&file).await.unwrap();
}

#[tokio::test]
async fn faults_on_one_route_spare_the_others() {
    let sim = sim(BTreeMap::new());
    let api = sim.client("plain");
    sim.set_faults(
        "plain",
        Faults {
            status500_rate: 1.0,
            routes: vec!["getnewmandates".into()],
            ..Faults::default()
        },
    )
    .unwrap();
    assert!(matches!(
        api.new_mandates(true).await.unwrap_err(),
        AgoraError::ServerError(_)
    ));
    api.accepted_mandates().await.unwrap();
    assert!(
        sim.set_faults(
            "plain",
            Faults {
                routes: vec!["GetEverything".into()],
                ..Faults::default()
            }
        )
        .is_err()
    );
}

/// `UpdateReplaces`: the file an `UpdateRepair` carries replaces the stored
/// one, its history included, so an older file arriving last wins; by
/// default the statuses not seen before are appended and none is lost.
/// Either way, a status new to AgoraPlus is judged.
#[tokio::test]
async fn an_update_replaces_the_file_when_the_profile_says_so() {
    let replacing = AnswerProfile::preset("update-replaces").unwrap();
    assert!(replacing.update_replaces && AnswerProfile::odd().update_replaces);
    assert!(!AnswerProfile::default().update_replaces);
    let sim = sim(BTreeMap::from([("w".to_owned(), replacing)]));
    for key in ["w", "plain"] {
        let api = sim.client(key);
        let mut v1: CompleteRepairState = serde_json::from_value(agora_mock::sample::walk_in_with(
            json!({"CommercialRef": "X", "SerialNumber": "SN-1"
            }),
        ))
        .unwrap();
        v1.state_natures = Some(vec![StateNature::new(StatusCode::Diagnosis, "d")]);
        let id = api.create_repair(&v1).await.unwrap().data;
        v1.intervention_id = Some(id);
        let mut v2 = v1.clone();
        v2.serial_number = Some("SN-2".into());
        v2.state_natures
            .as_mut()
            .unwrap()
            .push(StateNature::new(StatusCode::WorkshopRepairs, "w"));
        api.update_repair(&v2).await.unwrap();
        // Version 1 arrives last.
        api.update_repair(&v1).await.unwrap();
        let state = sim.state(key).unwrap();
        let file = state["Repairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["File"]["InterventionId"] == json!(id))
            .unwrap()["File"]
            .clone();
        let comments: Vec<&str> = file["StateNatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Comment"].as_str().unwrap())
            .collect();
        assert_eq!(file["SerialNumber"], json!("SN-1"), "{key}");
        if key == "w" {
            assert_eq!(comments, ["d"], "replaced: version 2's status is gone");
        } else {
            assert_eq!(comments, ["d", "w"], "merged: no status is lost");
        }
        // A status new to AgoraPlus is still judged.
        let mut unknown = v1.clone();
        unknown
            .state_natures
            .as_mut()
            .unwrap()
            .push(StateNature::new(StatusCode::lenient("299"), ""));
        let err = api.update_repair(&unknown).await.unwrap_err();
        assert!(err.to_string().contains("`299`"), "{key}: {err}");
    }
}
