//! `agora demo`: one complete repair against the embedded AgoraPlus
//! simulator, through the HTTP client over real loopback HTTP and the
//! SQLite store; a readable timeline, each step with the AgoraPlus code or
//! status it produced, then a summary. Every code and status shown is the
//! one observed after the step (AgoraPlus's answer, or its state as the
//! simulator holds it), never a label written in advance.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use agora_app::{Agora, AppConfig, CatalogKind, ClaimOutcome, Delivery, OperationAnswer};
use agora_domain::{
    ClaimId, ClaimStatus, DraftInvoiceNumber, InterventionId, InvoiceNumber, MandateId,
    MandateLightResponse, ManufacturerId, OrderNumber, Part, StateNature, StatusCode, WireDateTime,
};
use agora_http::{AgoraClient, ApiKey, ClientConfig, Environment};
use agora_mock::{SimConfig, Simulator};
use agora_ports::{AgoraError, OutboxState, SystemClock};
use agora_sim::SimServer;
use agora_store::{SqliteStore, Store};
use clap::Args;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};

use super::catalog::catalog_sync;
use crate::failure;
use crate::output::{Grid, Human, Out, Render};

/// The demo account's key (the simulator's, not a real one).
const KEY: &str = "demo-service-center";
const DELONGHI: ManufacturerId = ManufacturerId(19);

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Spare parts in the simulator's catalog per OEM (the demo syncs one OEM's).
    #[arg(long, default_value_t = 50_000)]
    pub catalog_size: u64,
    /// Keep the demo's local store instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}

/// One step of the demo: the code or status it produced, and what it did.
#[derive(Debug, Serialize)]
struct Step {
    step: usize,
    code: String,
    what: String,
}

/// The steps, shown to people as they happen (as JSON, at the end).
struct Timeline {
    out: Out,
    steps: Vec<Step>,
}

impl Timeline {
    fn step(&mut self, code: &str, text: &str) {
        let step = Step {
            step: self.steps.len() + 1,
            code: code.to_owned(),
            what: text.to_owned(),
        };
        if !self.out.json {
            self.out.line(&format!(
                "{:>3}. {:<16} {}",
                step.step, step.code, step.what
            ));
        }
        self.steps.push(step);
    }

    fn detail(&self, text: &str) {
        if !self.out.json {
            self.out.line(&format!("{:>21}{text}", ""));
        }
    }
}

pub(crate) async fn run(args: DemoArgs, out: Out) -> ExitCode {
    let db = std::env::temp_dir().join(format!("agora-demo-{}.db", std::process::id()));
    let result = demo(&args, out, &db).await;
    if !args.keep {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
    } else if !out.json {
        out.line(&format!("local store kept at {}", db.display()));
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure::report(&e, None, out),
    }
}

/// The simulator's state of the demo account.
fn remote_state(sim: &Simulator) -> Result<Value, AgoraError> {
    sim.state(KEY)
        .map_err(|e| AgoraError::Invalid(e.to_string()))
}

/// The status of a work order as AgoraPlus holds it.
fn work_order_status(sim: &Simulator, mandate: MandateId) -> Result<String, AgoraError> {
    let state = remote_state(sim)?;
    Ok(state["Mandates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["Mandate"]["MandateId"] == json!(mandate))
        .and_then(|m| m["Status"].as_str())
        .unwrap_or("none")
        .to_owned())
}

/// The status codes of a repair file as AgoraPlus holds them, oldest first.
fn remote_codes(sim: &Simulator, id: InterventionId) -> Result<Vec<String>, AgoraError> {
    let state = remote_state(sim)?;
    Ok(state["Repairs"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["File"]["InterventionId"] == json!(id))
        .and_then(|r| r["File"]["StateNatures"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|s| s["Code"].as_str().map(str::to_owned))
        .collect())
}

/// The latest status code of a repair file as AgoraPlus holds it.
fn remote_status(sim: &Simulator, id: InterventionId) -> Result<String, AgoraError> {
    Ok(remote_codes(sim, id)?
        .pop()
        .unwrap_or_else(|| "none".to_owned()))
}

/// A claim's `LastStatus`, as `GetWarrantyClaimStatus` answers it.
async fn last_status(client: &AgoraClient, claim: ClaimId) -> Result<String, AgoraError> {
    Ok(client
        .claim_status(claim)
        .await?
        .data
        .last_status
        .map_or_else(|| "none".to_owned(), |s| s.to_string()))
}

fn ts(at: Timestamp) -> WireDateTime {
    WireDateTime::from_timestamp(at)
}

fn expect_delivered(
    d: Delivery,
    what: &str,
) -> Result<(OperationAnswer, Option<String>), AgoraError> {
    match d {
        Delivery::Delivered {
            answer, warning, ..
        } => Ok((answer, warning)),
        other => Err(AgoraError::Invalid(format!(
            "{what} was not delivered: {}",
            super::describe(&other)
        ))),
    }
}

async fn demo(args: &DemoArgs, out: Out, db: &std::path::Path) -> Result<(), AgoraError> {
    let started = Instant::now();
    let sim_config = SimConfig {
        tenants: vec![KEY.to_owned()],
        seed: 2024,
        catalog_size: args.catalog_size,
        ..SimConfig::default()
    };
    let server = SimServer::start(Simulator::new(sim_config), ([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| AgoraError::Config(format!("cannot start the embedded simulator: {e}")))?;
    let sim = server.simulator().clone();
    let client = AgoraClient::new(ClientConfig::new(
        Environment::Custom(server.url()),
        ApiKey::new(KEY),
    ))?;
    let store = Store::Sqlite(SqliteStore::open(db)?);
    let app = Agora::new(client, store, Arc::new(SystemClock), AppConfig::default());
    let mut t = Timeline {
        out,
        steps: Vec::new(),
    };
    if !out.json {
        out.line(&format!(
            "agora demo: one repair, start to finish, against the embedded AgoraPlus simulator at {}",
            server.url()
        ));
        out.line(&format!(
            "           (HTTP over loopback; local store {})\n",
            db.display()
        ));
    }

    // The OEM's call center assigns a work order to the service center.
    let mandate: MandateLightResponse = serde_json::from_value(json!({
        "ManufacturerId": DELONGHI.0, "OEMId": DELONGHI.0, "ClientCode": "SC-LYON-03",
        "OrderMission": "Coffee machine: no hot water", "InterventionTypeId": 1,
        "InterventionType": {"InterventionTypeId": 1, "Label": "Sous-garantie",
                              "ShortDescription": "1 - Sous-garantie", "IsUnderWarranty": true},
        "Consumer": {"Title": "2", "LastName": "Martin", "FirstName": "Claire", "Address1": "12 rue des Lilas"},
        "SuggestedParts": [{"SuggestedPartRef": "00019-00000042", "Quantity": 1, "Label": "Water pump"}]
    }))
    .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    let mandate_id = sim
        .publish_mandate(KEY, mandate)
        .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    t.step(&work_order_status(&sim, mandate_id)?, &format!("DeLonghi sends work order {mandate_id}: coffee machine, no hot water (repair type 1, under warranty)"));

    let sync = app.sync_work_orders().await?;
    let id = *sync
        .accepted
        .first()
        .ok_or_else(|| AgoraError::Invalid("the work order was not accepted".to_owned()))?;
    t.step(&work_order_status(&sim, mandate_id)?, &format!("GetNewMandates?autoAccept=true: work order {mandate_id} accepted, repair file {id} saved locally"));

    let now = Timestamp::now_for_demo();
    let call = now - SignedDuration::from_hours(48);
    let start = now - SignedDuration::from_hours(24);
    let end = start + SignedDuration::from_hours(1);
    let serial = "DL2211B0000458812AB";
    expect_delivered(
        app.update_file(id, |f| {
            agora_mock::sample::fill_appliance_and_consumer(f, serial);
        })
        .await?,
        "the file update",
    )?;
    t.step(
        "UpdateRepair",
        "appliance and consumer details completed in the repair file",
    );

    let mut appointment = StateNature::new(
        StatusCode::AppointmentConfirmed,
        "Appointment confirmed by phone",
    );
    appointment.appointment_number = Some(1);
    appointment.appointment_date = Some(ts(start));
    appointment.appointment_end_date = Some(ts(end));
    expect_delivered(
        app.report_status(id, appointment).await?.outcome,
        "status 102",
    )?;
    t.step(
        &remote_status(&sim, id)?,
        &format!("APPOINTMENT CONFIRMED  {} to {}", ts(start), ts(end)),
    );

    expect_delivered(
        app.report_status(
            id,
            StateNature::new(StatusCode::Diagnosis, "Pump blocked; replace"),
        )
        .await?
        .outcome,
        "status 406",
    )?;
    t.step(&remote_status(&sim, id)?, "DIAGNOSIS  water pump blocked");

    let part_ref = "00019-00000042";
    expect_delivered(
        app.update_file(id, |f| {
            f.parts.get_or_insert_with(Vec::new).push(Part {
                reference: Some(part_ref.into()),
                quantity: Some(1),
                note: Some("Key spare part for the repair".into()),
                to_be_ordered: Some(true),
                ..Part::default()
            });
        })
        .await?,
        "the part",
    )?;
    let mut ordered = StateNature::new(StatusCode::PartsOrdered, "Spare part ordered");
    ordered.parts = Some(vec![Part {
        reference: Some(part_ref.into()),
        quantity: Some(1),
        to_be_ordered: Some(true),
        ..Part::default()
    }]);
    expect_delivered(app.report_status(id, ordered).await?.outcome, "status 205")?;
    t.step(
        &remote_status(&sim, id)?,
        &format!("SPAREPARTS ORDERED  {part_ref} marked to be ordered"),
    );

    let (answer, _) = expect_delivered(app.order_parts(id).await?, "the part order")?;
    let OperationAnswer::Ordered(lines) = answer else {
        return Err(AgoraError::Invalid("the order returned no line".to_owned()));
    };
    let order = lines
        .first()
        .and_then(|l| l.order_number.clone())
        .ok_or_else(|| AgoraError::Invalid("the order returned no order number".to_owned()))?;
    t.step(
        "order",
        &format!("PlaceRepairSparepartOrder: order {order} for {part_ref}"),
    );

    sim.set_logistic(KEY, &order, "208")
        .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    let tracked = app.track_part_orders(id).await?;
    let logistic = tracked
        .done
        .iter()
        .flat_map(|f| &f.lines)
        .find(|l| l.order_number.as_deref() == Some(order.as_str()))
        .and_then(|l| l.status_code.clone());
    let logistic_code = logistic
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    let status = logistic.map_or_else(
        || "no status yet".to_owned(),
        |s| format!("{s} {}", s.description().unwrap_or("")),
    );
    t.step(
        &logistic_code,
        &format!("DeLonghi ships it; logistic tracking of {order}: {status}"),
    );

    let mut received = StateNature::new(StatusCode::PartsReceived, "Spare part received");
    received.parts = Some(vec![Part {
        reference: Some(part_ref.into()),
        quantity: Some(1),
        order_number: Some(order.clone()),
        ..Part::default()
    }]);
    expect_delivered(app.report_status(id, received).await?.outcome, "status 201")?;
    t.step(
        &remote_status(&sim, id)?,
        &format!("SPAREPARTS RECEIVED  {part_ref}, order {order}"),
    );

    expect_delivered(
        app.report_status(
            id,
            StateNature::new(StatusCode::RepairFinished, "Repair completed"),
        )
        .await?
        .outcome,
        "status 305",
    )?;
    t.step(&remote_status(&sim, id)?, "REPAIR FINISHED");

    // The claim, first with the technician's typo and no mobile phone.
    let mut claim = app.draft_claim(id).await?;
    claim
        .claim_infos
        .get_or_insert_with(Default::default)
        .call_date = Some(ts(call));
    let lab = claim.claim_lab.get_or_insert_with(Default::default);
    lab.labor_hours = Some(1);
    lab.labor_minutes = Some(15);
    lab.labor_cost = Some(agora_domain::Money(agora_domain::money_from_cents(5250)));
    let mut mistaken = claim.clone();
    mistaken
        .claim_type
        .get_or_insert_with(Default::default)
        .serial_number = Some("DL2211B000045".into());
    mistaken
        .claim_conso
        .get_or_insert_with(Default::default)
        .mobile_phone = None;
    let first = app.submit_claim(id, mistaken, false).await?.outcome;
    let ClaimOutcome::Judged { result, .. } = first else {
        return Err(AgoraError::Invalid(format!(
            "the claim was not judged: {}",
            outcome_text(&first)
        )));
    };
    let claim_id = result.claim_id.unwrap_or_default();
    let first_status = last_status(app.api(), claim_id).await?;
    t.step(
        &first_status,
        &format!(
            "CreateWarrantyClaims: claim {claim_id} rejected by DeLonghi's rules, AgoraPlus says:"
        ),
    );
    for finding in result.validation_errors.iter().flatten() {
        t.detail(&format!(
            "- {}: {}",
            finding.field.as_deref().unwrap_or("?"),
            finding.error_message.as_deref().unwrap_or("?")
        ));
    }
    t.step(
        &remote_status(&sim, id)?,
        "CLOSED WITH WARRANTY INTERVENTION  set by AgoraPlus once the claim exists",
    );

    let second = app.submit_claim(id, claim, true).await?.outcome;
    let ClaimOutcome::Judged { result, .. } = second else {
        return Err(AgoraError::Invalid(format!(
            "the corrected claim was not judged: {}",
            outcome_text(&second)
        )));
    };
    if result.is_valid != Some(true) {
        return Err(AgoraError::Invalid(format!(
            "the corrected claim is still not valid: {}",
            findings_text(&result)
        )));
    }
    let second_status = last_status(app.api(), claim_id).await?;
    t.step(&second_status, &format!("UpdateWarrantyClaim: claim {claim_id} corrected (serial {serial}, mobile phone), VALID and transferred"));

    sim.decide_claim(
        KEY,
        claim_id,
        ClaimStatus::ClosedAccepted,
        Some("Accepted for reimbursement".into()),
    )
    .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    let updates = app.track_claims().await?;
    if let Some(failure) = updates.failed.into_iter().next() {
        return Err(failure.error);
    }
    let last = updates
        .done
        .iter()
        .find(|u| u.claim_id == claim_id)
        .map_or_else(|| "unchanged".to_owned(), |u| u.status.to_string());
    t.step(
        &last,
        &format!("GetWarrantyClaimStatus: DeLonghi accepted claim {claim_id}"),
    );

    let (draft, claims) = sim
        .draft_invoice(KEY, DELONGHI)
        .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    let invoice = InvoiceNumber::from("F-2026-000731");
    expect_delivered(
        app.register_invoice(&draft, &invoice, &claims).await?,
        "the invoice reference",
    )?;
    t.step(
        "CreateeInvoice",
        &format!(
            "draft invoice {draft} ({} claim) matched; invoice reference {invoice} sent",
            claims.len()
        ),
    );

    let sync = catalog_sync(&app, DELONGHI, CatalogKind::SpareParts, out.progress()).await?;
    t.step(
        "catalog",
        &format!(
            "PrintManufacturerSpareParts: {} DeLonghi spare parts streamed into the local store",
            sync.records
        ),
    );

    // The simulator and the local store agree.
    let state = remote_state(&sim)?;
    let sent = remote_codes(&sim, id)?;
    let local = app.repair(id).await?;
    let in_doubt = app.outbox(OutboxState::InDoubt).await?.len();
    let delivered = app.outbox(OutboxState::Delivered).await?.len();
    let invoiced_remote = state["Repairs"][0]["Invoiced"] == json!(true);
    if !(local.lifecycle.invoiced && invoiced_remote) || in_doubt > 0 {
        return Err(AgoraError::Invalid(
            "the simulator and the local store disagree".to_owned(),
        ));
    }
    let summary = Summary {
        work_order: mandate_id,
        repair_file: id,
        order,
        claim: claim_id,
        claim_status: last.clone(),
        draft_invoice: draft,
        invoice,
        statuses: sent,
        logistic_status: logistic_code,
        claim_statuses: [first_status, second_status, last],
        outbox: OutboxCounts {
            delivered,
            in_doubt,
        },
        catalog_records: sync.records,
        seconds: started.elapsed().as_secs_f64(),
    };
    out.show(&DemoReport {
        timeline: t.steps,
        summary,
    });
    server
        .shutdown()
        .await
        .map_err(|e| AgoraError::Invalid(e.to_string()))?;
    Ok(())
}

/// A claim's outcome that is not a verdict, in words.
fn outcome_text(outcome: &ClaimOutcome) -> String {
    match outcome {
        ClaimOutcome::PrecheckFailed(findings) => format!(
            "the local pre-check found {} problem(s): {}",
            findings.len(),
            findings
                .iter()
                .map(|f| f.error_message.as_deref().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        ClaimOutcome::Judged { result, .. } => findings_text(result),
        ClaimOutcome::Queued { entry, error } => format!("queued as entry {entry}: {error}"),
        ClaimOutcome::InDoubt { entry, error } => format!("in doubt (entry {entry}): {error}"),
        ClaimOutcome::Refused(error) => format!("refused: {error}"),
    }
}

/// A verdict's findings, in words.
fn findings_text(result: &agora_domain::WarrantyClaimResult) -> String {
    let findings: Vec<String> = result
        .validation_errors
        .iter()
        .flatten()
        .map(|f| {
            format!(
                "{}: {}",
                f.field.as_deref().unwrap_or("?"),
                f.error_message.as_deref().unwrap_or("?")
            )
        })
        .collect();
    format!(
        "claim {} judged {}: {}",
        result
            .claim_id
            .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        if result.is_valid == Some(true) {
            "VALID"
        } else {
            "NOTVALID"
        },
        if findings.is_empty() {
            "no message".to_owned()
        } else {
            findings.join("; ")
        }
    )
}

/// What the demo did: its timeline (already shown to people step by
/// step) and a summary.
#[derive(Debug, Serialize)]
struct DemoReport {
    timeline: Vec<Step>,
    summary: Summary,
}

/// The demo's outcome, end to end.
#[derive(Debug, Serialize)]
struct Summary {
    work_order: MandateId,
    repair_file: InterventionId,
    order: OrderNumber,
    claim: ClaimId,
    claim_status: String,
    draft_invoice: DraftInvoiceNumber,
    invoice: InvoiceNumber,
    statuses: Vec<String>,
    logistic_status: String,
    claim_statuses: [String; 3],
    outbox: OutboxCounts,
    catalog_records: u64,
    seconds: f64,
}

/// The outbox at the end of the demo.
#[derive(Debug, Serialize)]
struct OutboxCounts {
    delivered: usize,
    in_doubt: usize,
}

impl Render for DemoReport {
    fn human(&self) -> Human {
        let s = &self.summary;
        let [first, second, last] = &s.claim_statuses;
        Human {
            line: Some(String::new()),
            table: Some(Grid {
                headers: &["summary", ""],
                rows: vec![
                    vec![
                        "work order → repair file".into(),
                        format!("{} → {}", s.work_order, s.repair_file),
                    ],
                    vec!["statuses".into(), s.statuses.join(", ")],
                    vec![
                        "part order".into(),
                        format!("{} (logistic status {})", s.order, s.logistic_status),
                    ],
                    vec![
                        "claim".into(),
                        format!("{}: {first} → {second} → {last}", s.claim),
                    ],
                    vec![
                        "invoice".into(),
                        format!("{} for draft {}", s.invoice, s.draft_invoice),
                    ],
                    vec![
                        "outbox".into(),
                        format!(
                            "{} delivered, {} in doubt",
                            s.outbox.delivered, s.outbox.in_doubt
                        ),
                    ],
                    vec![
                        "catalog".into(),
                        format!("{} spare parts", s.catalog_records),
                    ],
                    vec!["time".into(), format!("{:.1} s", s.seconds)],
                ],
            }),
        }
    }
}

/// The demo reads the wall clock for its dates (the one place it may).
trait DemoNow {
    fn now_for_demo() -> Timestamp;
}

impl DemoNow for Timestamp {
    #[allow(clippy::disallowed_methods)]
    fn now_for_demo() -> Timestamp {
        Timestamp::now()
    }
}
