//! The simulator playing the OEM by itself (the autopilot), on a clock
//! frozen and advanced through the simulator's clock controls: no test
//! here waits.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use agora_domain::{
    ClaimStatus, CompleteRepairState, InterventionId, LogisticStatus, Part, WarrantyClaim,
};
use agora_mock::{Autopilot, ClockChange, SimConfig, Simulator};
use agora_ports::{ClaimSubmission, Claims, Clock, Mandates, PartOrders, Repairs};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// A real clock that the test does not move: the simulator's own clock
/// controls move time.
struct FixedClock(Mutex<Timestamp>);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

fn sim(seed: u64, pilot: Autopilot) -> Simulator {
    let clock = Arc::new(FixedClock(Mutex::new(
        "2026-01-31T20:00:00Z".parse().unwrap(),
    )));
    let config = SimConfig {
        tenants: vec!["a".into(), "b".into()],
        seed,
        catalog_size: 20,
        autopilot: Some(Autopilot {
            accounts: vec!["a".into()],
            ..pilot
        }),
        ..SimConfig::default()
    };
    let sim = Simulator::with_clock(config, clock);
    sim.change_clock(Some("a"), &ClockChange::Freeze).unwrap();
    sim
}

fn advance(sim: &Simulator, by: &str) {
    let by: SignedDuration = by.parse().unwrap();
    sim.change_clock(Some("a"), &ClockChange::Advance(by))
        .unwrap();
}

fn pilot() -> Autopilot {
    Autopilot {
        work_orders_per_hour: 6.0,
        ship_after_seconds: 600,
        unavailable_rate: 0.3,
        decide_after_seconds: 900,
        not_conform_rate: 0.3,
        monthly_drafts: true,
        accounts: Vec::new(),
    }
}

fn claim_for(intervention: InterventionId) -> WarrantyClaim {
    serde_json::from_value(json!({
        "ClaimType": {"InterventionId": intervention.0, "ManufacturerId": 19,
                      "CommercialRef": "ECAM22.110.B", "SerialNumber": "1234567890123456789"},
        "ClaimConso": {"LastName": "Martin", "Address1": "12 rue des Lilas", "Zip": "69003",
                       "City": "Lyon", "MobilePhone": "0612345678"},
        "ClaimInfos": {"CallDate": "2026-01-28T10:00:00Z",
                       "InterventionStartDateTime": "2026-01-30T08:00:00Z",
                       "InterventionEndDateTime": "2026-01-30T09:00:00Z"},
        "ClaimLab": {"OriginCode": "WAR", "LaborHours": 1, "LaborCost": 45.5},
        "ClaimParts": [{"PartReference": "00019-00000001", "Quantity": 1}]
    }))
    .unwrap()
}

fn statuses<'a>(state: &'a Value, list: &str, field: &str) -> Vec<&'a Value> {
    state[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.pointer(field).unwrap_or(&Value::Null))
        .collect()
}

/// The whole story on the account's clock, and what it left: work orders
/// arrive, the files' parts ship or not, claims are decided, a draft is
/// issued on the first of the month.
async fn story(seed: u64) -> Value {
    let sim = sim(seed, pilot());
    let api = sim.client("a");

    // Nothing is due yet: the first work order comes 10 minutes in.
    assert!(api.new_mandates(false).await.unwrap().data.is_empty());
    advance(&sim, "9m 59s");
    assert!(api.new_mandates(false).await.unwrap().data.is_empty());
    advance(&sim, "1s");
    assert_eq!(api.new_mandates(false).await.unwrap().data.len(), 1);
    // An hour in: six, at a steady rate; none for the other account.
    advance(&sim, "50m");
    let accepted = api.new_mandates(true).await.unwrap().data;
    assert_eq!(accepted.len(), 6);
    assert!(
        sim.state("b").unwrap()["Mandates"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Each file orders a part; 10 minutes later every line has its fate.
    let files: Vec<InterventionId> = accepted
        .iter()
        .map(|m| m.intervention_id.unwrap())
        .collect();
    for id in &files {
        let file = CompleteRepairState {
            intervention_id: Some(*id),
            parts: Some(vec![Part {
                reference: Some("00019-00000001".into()),
                quantity: Some(1),
                to_be_ordered: Some(true),
                ..Part::default()
            }]),
            ..CompleteRepairState::default()
        };
        api.update_repair(&file).await.unwrap();
        api.place_order(*id).await.unwrap();
    }
    advance(&sim, "9m 59s");
    for id in &files {
        assert_eq!(
            api.order_tracking(*id).await.unwrap().data[0].status_code,
            None
        );
    }
    advance(&sim, "1s");
    let mut shipped = 0;
    for id in &files {
        let line = &api.order_tracking(*id).await.unwrap().data[0];
        match line.status_code.as_ref().unwrap() {
            LogisticStatus::Shipped => shipped += 1,
            LogisticStatus::Unavailable => {}
            other => panic!("{other:?}"),
        }
    }

    // Claims, transferred: decided 15 minutes later.
    let how = ClaimSubmission {
        language: agora_domain::Lcid::ENGLISH,
        transfer_if_valid: true,
    };
    let mut claims = Vec::new();
    for id in &files {
        let result = api.create_claim(&claim_for(*id), how).await.unwrap().data;
        assert_eq!(result.is_valid, Some(true), "{result:?}");
        claims.push(result.claim_id.unwrap());
    }
    advance(&sim, "14m 59s");
    for id in &claims {
        let status = api.claim_status(*id).await.unwrap().data.last_status;
        assert_eq!(status, Some(ClaimStatus::Valid));
    }
    advance(&sim, "1s");
    let mut accepted_claims = Vec::new();
    for id in &claims {
        match api.claim_status(*id).await.unwrap().data.last_status {
            Some(ClaimStatus::ClosedAccepted) => accepted_claims.push(json!(id)),
            Some(ClaimStatus::NotConform) => {}
            other => panic!("{other:?}"),
        }
    }

    // No draft until the first of the month; then one, of the accepted
    // claims, issued as the control API issues it.
    assert!(
        sim.state("a").unwrap()["DraftInvoices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    sim.change_clock(
        Some("a"),
        &ClockChange::Set("2026-02-01T00:00:00Z".parse().unwrap()),
    )
    .unwrap();
    let state = sim.state("a").unwrap();
    let drafts = state["DraftInvoices"].as_array().unwrap();
    assert_eq!(
        drafts.len(),
        usize::from(!accepted_claims.is_empty()),
        "{drafts:?}"
    );
    if let Some(draft) = drafts.first() {
        assert_eq!(draft["ClaimIDs"].as_array().unwrap(), &accepted_claims);
        assert_eq!(draft["ManufacturerId"], 19);
    }
    // Nothing more to draft the next month but the new claims.
    json!({
        "shipped": shipped,
        "accepted": accepted_claims.len(),
        "state": {
            "Mandates": state["Mandates"], "Orders": statuses(&state, "Orders", "/Line"),
            "Claims": statuses(&state, "Claims", "/LastStatus"),
            "DraftInvoices": state["DraftInvoices"],
        },
    })
}

#[tokio::test]
async fn the_autopilot_plays_the_oem_on_the_account_s_clock() {
    let run = story(7).await;
    let shipped = run["shipped"].as_u64().unwrap();
    let accepted = run["accepted"].as_u64().unwrap();
    // Both fates of a line and of a claim happen with these rates and seed.
    assert!((1..6).contains(&shipped), "{run}");
    assert!((1..6).contains(&accepted), "{run}");
}

#[tokio::test]
async fn the_autopilot_is_deterministic_for_a_seed() {
    let first = story(7).await;
    assert_eq!(first, story(7).await);
    let mut differs = false;
    for seed in [8, 9, 10] {
        differs |= story(seed).await["state"] != first["state"];
    }
    assert!(differs, "other seeds draw other work orders and fates");
}

#[tokio::test]
async fn an_account_s_clock_is_its_own_and_never_goes_back() {
    let sim = sim(
        3,
        Autopilot {
            work_orders_per_hour: 0.0,
            not_conform_rate: 0.0,
            ..pilot()
        },
    );
    // The other account's clock is the simulator's, untouched.
    let b = sim.clock(Some("b")).unwrap();
    assert!(!b.frozen);
    assert_eq!(b.now, "2026-01-31T20:00:00Z".parse::<Timestamp>().unwrap());
    // Months pass with no claim: no draft, and no work order at 0 an hour.
    sim.change_clock(
        Some("a"),
        &ClockChange::Set("2026-03-15T00:00:00Z".parse().unwrap()),
    )
    .unwrap();
    assert!(
        sim.state("a").unwrap()["DraftInvoices"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        sim.state("a").unwrap()["Mandates"]
            .as_array()
            .unwrap()
            .is_empty(),
        "0 an hour"
    );
    // The clock never goes back.
    assert!(
        sim.change_clock(
            Some("a"),
            &ClockChange::Set("2026-03-01T00:00:00Z".parse().unwrap())
        )
        .is_err()
    );
}
