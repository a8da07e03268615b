//! The subcommands.

use std::process::ExitCode;
use std::sync::Arc;

use agora_app::{
    Agora, AppConfig, CatalogKind, ClaimOutcome, Delivery, FileOrders, OperationAnswer, Pass,
    Resolution, Warning, WorkOrderSync,
};
use agora_domain::tables::{OEMS, REPAIR_TYPES, coverage};
use agora_domain::{
    CountryCode, ManufacturerId, Part, StateNature, StatusCode, WarrantyClaim, WireDateTime,
};
use agora_http::{AgoraClient, ClientConfig};
use agora_ports::{AgoraError, OutboxState, RepairFiles, SystemClock};
use agora_store::Store;
use serde_json::json;

use crate::failure::{self, code};
use crate::output::{Out, cell, warning_lines};
use crate::settings::{Flags, Settings};
use crate::{
    CatalogCmd, ClaimsCmd, Command, InvoicesCmd, OutboxCmd, PartsCmd, RefCmd, RepairsCmd,
    ResolveAs, StateArg, StatusCmd, WorkOrdersCmd,
};

pub(crate) type App = Agora<AgoraClient, Store>;

/// Builds the use cases from the settings, and recovers an interrupted outbox.
pub(crate) async fn app(settings: &Settings) -> Result<App, AgoraError> {
    let client = AgoraClient::new(settings.client.clone())?;
    let store = Store::open(&settings.db, settings.db_options.clone()).await?;
    let config = AppConfig {
        language: settings.language,
        auto_accept: settings.auto_accept,
        transfer_if_valid: settings.transfer_if_valid,
        ..AppConfig::default()
    };
    let app = Agora::new(client, store, Arc::new(SystemClock), config);
    let parked = app.recover().await?;
    if !parked.is_empty() {
        eprintln!(
            "warning: {} operation(s) were interrupted mid-send (their process stopped) and are in doubt: `agora outbox list --state in-doubt`",
            parked.len()
        );
    }
    Ok(app)
}

pub(crate) async fn run(command: Command, flags: Flags, out: Out) -> ExitCode {
    match command {
        Command::Demo(args) => return crate::demo::run(args, out).await,
        Command::Sim(args) => return sim(args).await,
        Command::Reference(cmd) => {
            reference(cmd, out);
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let settings = match Settings::resolve(&flags) {
        Ok(s) => s,
        Err(e) => return failure::report(&e, None),
    };
    let result = match app(&settings).await {
        Ok(app) => execute(&app, command, out, &settings.client).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(exit) => ExitCode::from(exit),
        Err(e) => failure::report(&e, Some(&settings.client)),
    }
}

async fn sim(args: crate::SimArgs) -> ExitCode {
    let mut config = agora_mock::SimConfig {
        tenants: args.tenants,
        locked: args.locked,
        seed: args.seed,
        catalog_size: args.catalog_size,
        ..agora_mock::SimConfig::default()
    };
    if config.tenants.is_empty() {
        config.tenants.push("demo".to_owned());
    }
    let server =
        match agora_sim::SimServer::start(agora_mock::Simulator::new(config), args.listen).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                return ExitCode::from(code::CONFIG);
            }
        };
    // Listening for the signals before the URL is printed: a signal sent
    // as soon as it is read stops the server cleanly.
    let shutdown = agora_sim::Shutdown::install();
    Out { json: false }.line(&server.url());
    eprintln!("agora sim: serving AgoraPlus; Ctrl-C to stop");
    shutdown.wait().await;
    let _ = server.shutdown().await;
    ExitCode::SUCCESS
}

fn delivery_exit(d: &Delivery) -> u8 {
    match d {
        Delivery::Delivered { .. } => code::OK,
        Delivery::Queued { .. } => code::UNREACHABLE,
        Delivery::InDoubt { .. } => code::IN_DOUBT,
        Delivery::Failed { .. } => code::REFUSED,
    }
}

fn describe(d: &Delivery) -> String {
    match d {
        Delivery::Delivered { entry, warning, .. } => match warning {
            Some(w) => format!("delivered (entry {entry}); AgoraPlus warns: {w}"),
            None => format!("delivered (entry {entry})"),
        },
        Delivery::Queued { entry, error } => {
            format!(
                "queued as entry {entry}, AgoraPlus not reachable now ({error}); `agora outbox flush` later"
            )
        }
        Delivery::InDoubt { entry, error } => format!(
            "entry {entry} is IN DOUBT ({error}); check AgoraPlus, then `agora outbox resolve {entry} --as ...`"
        ),
        Delivery::Failed { entry, error } => {
            format!("refused by AgoraPlus (entry {entry}): {error}")
        }
    }
}

/// One warning line on stderr for each item (local rules, items set aside).
fn warn_all<T: std::fmt::Display>(what: &str, items: &[T]) {
    for item in items {
        eprintln!("warning: {what}{item}");
    }
}

fn date(s: &str) -> Result<WireDateTime, AgoraError> {
    WireDateTime::parse(s).map_err(|e| AgoraError::Invalid(e.to_string()))
}

/// Shows what a work-order sync did: the counts on stdout (or the whole
/// report as JSON); AgoraPlus's warnings, the work orders it refused and
/// the half that failed on stderr. The exit code is the failed half's,
/// else 1 when a work order was refused, else 0.
fn print_work_order_sync(report: &WorkOrderSync, out: Out, client: &ClientConfig) -> u8 {
    let value = json!({
        "accepted": report.accepted, "recovered": report.recovered,
        "awaiting_acceptance": report.awaiting_acceptance,
        "refused": report.refused.iter().map(|(m, e)| json!({"MandateId": m, "message": e})).collect::<Vec<_>>(),
        "already_known": report.already_known,
        "warnings": warning_lines(&report.warnings),
        "failed": report.failed.as_ref().map(|f| json!({
            "step": f.step.to_string(), "error": f.error.to_string(),
            "exit_code": failure::exit_code(&f.error),
        })),
    });
    out.say(
        &format!(
            "{} accepted, {} recovered, {} awaiting acceptance, {} refused, {} already known{}",
            report.accepted.len(),
            report.recovered.len(),
            report.awaiting_acceptance.len(),
            report.refused.len(),
            report.already_known,
            if report.failed.is_some() {
                " (incomplete)"
            } else {
                ""
            }
        ),
        &value,
    );
    out.warnings(&report.warnings);
    for (mandate, message) in &report.refused {
        eprintln!(
            "error: work order {} was not accepted by AgoraPlus: {message}",
            cell(*mandate)
        );
    }
    match &report.failed {
        Some(failure) => failure::report_step(failure, Some(client)),
        None if !report.refused.is_empty() => code::REFUSED,
        None => code::OK,
    }
}

/// Shows the warnings and failures of a tracking pass on stderr and
/// returns its exit code: that of the failure that stopped the pass, else
/// of the first failure, else 0.
fn report_pass<T>(pass: &Pass<T>, out: Out, client: &ClientConfig) -> u8 {
    out.warnings(&pass.warnings);
    let codes: Vec<u8> = pass
        .failed
        .iter()
        .map(|f| failure::report_step(f, Some(client)))
        .collect();
    if !pass.not_reached.is_empty() {
        let left: Vec<String> = pass.not_reached.iter().map(ToString::to_string).collect();
        eprintln!(
            "error: stopped there; {} not reached: {}",
            left.len(),
            left.join("; ")
        );
        return codes.last().copied().unwrap_or(code::REFUSED);
    }
    codes.first().copied().unwrap_or(code::OK)
}

/// Prints tracked order lines: a table, or as JSON the lines (one file)
/// or each file with its lines (a pass).
fn print_orders(pass: &Pass<FileOrders>, one_file: bool, out: Out) {
    let rows = pass
        .done
        .iter()
        .flat_map(|f| {
            f.lines.iter().map(move |l| {
                vec![
                    f.intervention_id.to_string(),
                    cell(l.order_number.as_deref()),
                    cell(l.reference.as_deref()),
                    l.status_code.as_ref().map_or_else(
                        || "in transit".to_owned(),
                        |s| format!("{s} {}", s.description().unwrap_or("")),
                    ),
                    cell(l.status_date.as_ref()),
                ]
            })
        })
        .collect();
    let value = if one_file {
        json!(pass.done.iter().flat_map(|f| &f.lines).collect::<Vec<_>>())
    } else {
        json!(
            pass.done
                .iter()
                .map(|f| json!({"InterventionId": f.intervention_id, "Lines": f.lines}))
                .collect::<Vec<_>>()
        )
    };
    out.table(&["file", "order", "part", "status", "since"], rows, &value);
}

async fn execute(
    app: &App,
    command: Command,
    out: Out,
    client: &ClientConfig,
) -> Result<u8, AgoraError> {
    match command {
        Command::WorkOrders(WorkOrdersCmd::Sync { no_accept }) => {
            let report = if no_accept {
                let mut config = app.config().clone();
                config.auto_accept = false;
                Agora::new(
                    app.api().clone(),
                    app.store().clone(),
                    Arc::new(SystemClock),
                    config,
                )
                .sync_work_orders()
                .await?
            } else {
                app.sync_work_orders().await?
            };
            Ok(print_work_order_sync(&report, out, client))
        }
        Command::Repairs(RepairsCmd::List) => {
            let repairs = app.store().repairs().await?;
            let rows = repairs
                .iter()
                .map(|r| {
                    vec![
                        r.intervention_id.to_string(),
                        cell(r.mandate_id),
                        cell(r.file.manufacturer_id.and_then(|m| m.name())),
                        cell(
                            r.file
                                .last_status()
                                .map(|s| format!("{s} {}", s.description().unwrap_or(""))),
                        ),
                        format!("{:?}", r.lifecycle.phase),
                        cell(r.claim_id),
                        cell(r.lifecycle.claim.map(|c| c.last_status().to_string())),
                        cell(r.attention.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = repairs
                .iter()
                .map(|r| {
                    json!({"InterventionId": r.intervention_id, "MandateId": r.mandate_id,
                    "Phase": format!("{:?}", r.lifecycle.phase), "ClaimID": r.claim_id,
                    "LastStatus": r.lifecycle.claim.map(|c| c.last_status()),
                    "Invoiced": r.lifecycle.invoiced, "Attention": r.attention})
                })
                .collect();
            out.table(
                &[
                    "file",
                    "work order",
                    "OEM",
                    "last status",
                    "phase",
                    "claim",
                    "claim status",
                    "attention",
                ],
                rows,
                &value,
            );
            Ok(code::OK)
        }
        Command::Repairs(RepairsCmd::Show { id }) => {
            let r = app.repair(id).await?;
            out.json(
                &json!({"File": r.file, "Lifecycle": r.lifecycle, "ClaimID": r.claim_id,
                "Orders": r.orders, "Attention": r.attention}),
            );
            Ok(code::OK)
        }
        Command::Status(StatusCmd::Report {
            id,
            code: status_code,
            comment,
            start,
            end,
            parts,
        }) => {
            let status_code = StatusCode::parse_known(&status_code)
                .map_err(|e| AgoraError::Invalid(format!("{e}: see `agora ref status-codes`")))?;
            let mut status = StateNature::new(status_code.clone(), comment);
            status.appointment_date = start.as_deref().map(date).transpose()?;
            status.appointment_end_date = end.as_deref().map(date).transpose()?;
            if !parts.is_empty() {
                status.parts = Some(
                    parts
                        .iter()
                        .map(|p| {
                            let (reference, order) = p
                                .split_once(':')
                                .map_or((p.as_str(), None), |(r, o)| (r, Some(o)));
                            Part {
                                reference: Some(reference.to_owned()),
                                order_number: order.map(str::to_owned),
                                quantity: Some(1),
                                ..Part::default()
                            }
                        })
                        .collect(),
                );
            }
            let checked = app.report_status(id, status).await?;
            warn_all("", &checked.warnings);
            let d = checked.outcome;
            out.say(
                &format!(
                    "{status_code} {}: {}",
                    status_code.description().unwrap_or(""),
                    describe(&d)
                ),
                &json!({"code": status_code, "entry": d.entry(), "delivery": describe(&d)}),
            );
            Ok(delivery_exit(&d))
        }
        Command::Parts(PartsCmd::Add {
            id,
            reference,
            quantity,
        }) => {
            let d = app
                .update_file(id, |f| {
                    f.parts.get_or_insert_with(Vec::new).push(Part {
                        reference: Some(reference.clone()),
                        quantity: Some(quantity),
                        to_be_ordered: Some(true),
                        ..Part::default()
                    });
                })
                .await?;
            out.say(
                &format!("part {reference} added: {}", describe(&d)),
                &json!({"entry": d.entry()}),
            );
            Ok(delivery_exit(&d))
        }
        Command::Parts(PartsCmd::Order { id }) => {
            let d = app.order_parts(id).await?;
            if let Delivery::Delivered {
                answer: OperationAnswer::Ordered(lines),
                ..
            } = &d
            {
                let rows = lines
                    .iter()
                    .map(|l| {
                        vec![
                            cell(l.order_number.as_deref()),
                            cell(l.reference.as_deref()),
                            cell(l.quantity),
                        ]
                    })
                    .collect();
                out.table(&["order", "part", "quantity"], rows, lines);
            } else {
                out.say(
                    &describe(&d),
                    &json!({"entry": d.entry(), "delivery": describe(&d)}),
                );
            }
            Ok(delivery_exit(&d))
        }
        Command::Parts(PartsCmd::Track { id }) => {
            let pass = match id {
                Some(id) => app.track_part_orders(id).await?,
                None => app.track_all_part_orders().await?,
            };
            print_orders(&pass, id.is_some(), out);
            Ok(report_pass(&pass, out, client))
        }
        Command::Claims(ClaimsCmd::Submit {
            id,
            file,
            precheck,
            call_date,
            serial,
        }) => {
            let mut claim: WarrantyClaim = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        AgoraError::Invalid(format!("cannot read {}: {e}", path.display()))
                    })?;
                    agora_domain::decode_json(text.as_bytes())
                        .map_err(|e| AgoraError::Invalid(format!("{}: {e}", path.display())))?
                }
                None => app.draft_claim(id).await?,
            };
            if let Some(d) = call_date {
                claim
                    .claim_infos
                    .get_or_insert_with(Default::default)
                    .call_date = Some(date(&d)?);
            }
            if let Some(s) = serial {
                claim
                    .claim_type
                    .get_or_insert_with(Default::default)
                    .serial_number = Some(s);
            }
            let checked = app.submit_claim(id, claim, precheck).await?;
            warn_all("", &checked.warnings);
            Ok(print_claim_outcome(&checked.outcome, out))
        }
        Command::Claims(ClaimsCmd::Track) => {
            let pass = app.track_claims().await?;
            let rows = pass
                .done
                .iter()
                .map(|u| {
                    vec![
                        u.claim_id.to_string(),
                        u.intervention_id.to_string(),
                        u.status.to_string(),
                        cell(u.comment.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = pass
                .done
                .iter()
                .map(|u| json!({"ClaimID": u.claim_id, "InterventionId": u.intervention_id, "LastStatus": u.status, "Comment": u.comment}))
                .collect();
            out.table(&["claim", "file", "status", "comment"], rows, &value);
            Ok(report_pass(&pass, out, client))
        }
        Command::Invoices(InvoicesCmd::Register {
            draft,
            invoice,
            claims,
        }) => {
            let d = app.register_invoice(&draft, &invoice, &claims).await?;
            out.say(
                &format!("invoice {invoice} for draft {draft}: {}", describe(&d)),
                &json!({"entry": d.entry(), "delivery": describe(&d)}),
            );
            Ok(delivery_exit(&d))
        }
        Command::Catalog(CatalogCmd::Sync { oem, products }) => {
            let kind = if products {
                CatalogKind::Products
            } else {
                CatalogKind::SpareParts
            };
            let sync = catalog_sync(app, ManufacturerId(oem), kind, !out.json).await?;
            if let Some(w) = &sync.warning {
                eprintln!("warning: catalog: AgoraPlus warns: {w}");
            }
            warn_all("catalog: ", &sync.set_aside);
            if let Some(more) = sync
                .set_aside_total
                .checked_sub(sync.set_aside.len() as u64)
                .filter(|n| *n > 0)
            {
                eprintln!("warning: catalog: {more} more record(s) set aside");
            }
            out.say(
                &format!(
                    "{} {} of OEM {oem} synced since {} (cursor {})",
                    sync.records,
                    if products { "products" } else { "spare parts" },
                    sync.since,
                    sync.cursor
                ),
                &json!({"records": sync.records, "since": sync.since.to_string(), "cursor": sync.cursor.to_string(), "message": sync.message, "warning": sync.warning, "set_aside": sync.set_aside_total}),
            );
            Ok(code::OK)
        }
        Command::Bom(args) => {
            match app
                .bom(
                    ManufacturerId(args.oem),
                    &args.reference,
                    CountryCode(args.country),
                )
                .await?
            {
                None => {
                    out.say(
                        &format!("no product {} for OEM {}", args.reference, args.oem),
                        &json!(null),
                    );
                    Ok(code::REFUSED)
                }
                Some(found) => {
                    let rows = found
                        .lines
                        .iter()
                        .map(|l| {
                            vec![
                                cell(l.reference.as_deref()),
                                cell(l.label.as_deref()),
                                cell(l.quantity),
                            ]
                        })
                        .collect();
                    out.table(&["part", "label", "quantity"], rows, &found.lines);
                    Ok(code::OK)
                }
            }
        }
        Command::Outbox(OutboxCmd::List { state }) => {
            let states: &[OutboxState] = match state {
                StateArg::Pending => &[OutboxState::Pending],
                StateArg::InDoubt => &[OutboxState::InDoubt],
                StateArg::Failed => &[OutboxState::Failed],
                StateArg::Delivered => &[OutboxState::Delivered],
                StateArg::All => &[
                    OutboxState::Pending,
                    OutboxState::Sending,
                    OutboxState::InDoubt,
                    OutboxState::Failed,
                    OutboxState::Delivered,
                ],
            };
            let mut entries = Vec::new();
            for s in states {
                entries.extend(app.outbox(*s).await?);
            }
            entries.sort_by_key(|e| e.id);
            let rows = entries
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.operation.name().to_owned(),
                        cell(e.intervention_id),
                        e.state.as_str().to_owned(),
                        e.attempts.to_string(),
                        cell(e.last_error.as_deref()),
                    ]
                })
                .collect();
            let value: Vec<_> = entries
                .iter()
                .map(|e| json!({"id": e.id, "operation": e.operation.name(), "InterventionId": e.intervention_id,
                    "state": e.state.as_str(), "owner": e.lease.as_ref().map(|l| &l.owner), "attempts": e.attempts, "last_error": e.last_error,
                    "created_at": e.created_at.to_string(), "next_attempt_at": e.next_attempt_at.to_string()}))
                .collect();
            out.table(
                &[
                    "entry",
                    "operation",
                    "file",
                    "state",
                    "attempts",
                    "last error",
                ],
                rows,
                &value,
            );
            Ok(code::OK)
        }
        Command::Outbox(OutboxCmd::Flush) => {
            let r = app.flush_outbox().await?;
            out.say(
                &format!("{} delivered, {} to retry, {} in doubt, {} refused", r.delivered, r.queued, r.in_doubt, r.failed),
                &json!({"delivered": r.delivered, "queued": r.queued, "in_doubt": r.in_doubt, "failed": r.failed}),
            );
            Ok(if r.in_doubt > 0 {
                code::IN_DOUBT
            } else if r.queued > 0 {
                code::UNREACHABLE
            } else {
                code::OK
            })
        }
        Command::Outbox(OutboxCmd::Resolve {
            id,
            resolution,
            claim_id,
            intervention_id,
        }) => {
            let resolution = match resolution {
                ResolveAs::Applied => Resolution::Applied {
                    intervention_id,
                    claim_id,
                },
                ResolveAs::Resend => Resolution::Resend,
                ResolveAs::Abandon => Resolution::Abandon,
            };
            let state = app.resolve(id, resolution).await?;
            out.say(
                &format!("entry {id} is now {}", state.as_str()),
                &json!({"id": id, "state": state.as_str()}),
            );
            Ok(code::OK)
        }
        Command::Demo(_) | Command::Sim(_) | Command::Reference(_) => Ok(code::OK),
    }
}

/// Table rows of validation findings: field, message (verbatim), type.
fn finding_rows(findings: &[agora_domain::ValidationResult]) -> Vec<Vec<String>> {
    findings
        .iter()
        .map(|f| {
            vec![
                cell(f.field.as_deref()),
                cell(f.error_message.as_deref()),
                cell(f.message_type.as_ref()),
            ]
        })
        .collect()
}

/// Prints a claim's outcome: AgoraPlus's messages verbatim.
pub(crate) fn print_claim_outcome(outcome: &ClaimOutcome, out: Out) -> u8 {
    match outcome {
        ClaimOutcome::PrecheckFailed(findings) => {
            let rows = finding_rows(findings);
            out.table(
                &["field (local pre-check; nothing sent)", "message", "type"],
                rows,
                findings,
            );
            code::REFUSED
        }
        ClaimOutcome::Judged(result) => {
            let valid = result.is_valid == Some(true);
            out.warnings(&Warning::of_findings(
                "claim verdict",
                result.claim_id,
                result.validation_errors.as_deref().unwrap_or_default(),
            ));
            if !out.json {
                out.line(&format!(
                    "claim {} is {}",
                    cell(result.claim_id),
                    if valid { "VALID" } else { "NOTVALID" }
                ));
            }
            let rows = finding_rows(result.validation_errors.as_deref().unwrap_or_default());
            if out.json || !rows.is_empty() {
                out.table(&["field", "message (AgoraPlus)", "type"], rows, result);
            }
            if valid { code::OK } else { code::REFUSED }
        }
        ClaimOutcome::Queued { entry, error } => {
            out.say(
                &format!("claim queued as entry {entry}: {error}"),
                &json!({"entry": entry, "queued": error}),
            );
            code::UNREACHABLE
        }
        ClaimOutcome::InDoubt { entry, error } => {
            out.say(
                &format!("claim submission IN DOUBT (entry {entry}): {error}; check AgoraPlus, then `agora outbox resolve {entry} --as ...`"),
                &json!({"entry": entry, "in_doubt": error}),
            );
            code::IN_DOUBT
        }
        ClaimOutcome::Refused(e) => {
            out.say(
                &format!("claim refused by AgoraPlus: {e}"),
                &json!({"refused": e}),
            );
            code::REFUSED
        }
    }
}

/// A catalog sync with a progress bar on stderr.
pub(crate) async fn catalog_sync(
    app: &App,
    oem: ManufacturerId,
    kind: CatalogKind,
    show_progress: bool,
) -> Result<agora_app::CatalogSync, AgoraError> {
    let bar = if show_progress {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    let what = if kind == CatalogKind::Products {
        "products"
    } else {
        "spare parts"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} catalog sync: {{pos}} {what} stored ({{per_sec}}, {{elapsed}})"
    )) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let language = app.config().language;
    let progress_bar = bar.clone();
    let result = app
        .sync_catalog(oem, language, kind, &mut move |n| {
            progress_bar.set_position(n)
        })
        .await;
    bar.finish_and_clear();
    result
}

fn reference(cmd: RefCmd, out: Out) {
    match cmd {
        RefCmd::StatusCodes => {
            let rows = StatusCode::KNOWN
                .iter()
                .map(|c| {
                    vec![
                        c.as_str().to_owned(),
                        c.description().unwrap_or("").to_owned(),
                        cell(c.family()),
                        c.requirement().to_string(),
                    ]
                })
                .collect();
            let value: Vec<_> = StatusCode::KNOWN
                .iter()
                .map(|c| json!({"Code": c, "Description": c.description(), "Family": c.family().map(|f| f.to_string()), "Requires": c.requirement().to_string()}))
                .collect();
            out.table(&["code", "description", "family", "requires"], rows, &value);
        }
        RefCmd::Oems => {
            let rows = OEMS
                .iter()
                .map(|o| {
                    vec![
                        o.id.to_string(),
                        cell(o.name),
                        cell(o.repair_table_name),
                        o.id.repair_types().count().to_string(),
                    ]
                })
                .collect();
            let value: Vec<_> = OEMS
                .iter()
                .map(|o| json!({"ManufacturerId": o.id, "Name": o.name, "RepairTableName": o.repair_table_name}))
                .collect();
            out.table(
                &["id", "name (6.3)", "name (6.4)", "repair types"],
                rows,
                &value,
            );
        }
        RefCmd::RepairTypes { oem } => {
            let types: Vec<_> = REPAIR_TYPES
                .iter()
                .filter(|r| oem.is_none_or(|m| r.manufacturer == ManufacturerId(m)))
                .collect();
            let rows = types
                .iter()
                .map(|r| {
                    vec![
                        r.manufacturer.to_string(),
                        r.manufacturer_name.to_owned(),
                        r.intervention_type.to_string(),
                        r.short_description.to_owned(),
                        agora_domain::WarrantyCondition::from(r.condition).to_string(),
                        if coverage(r.manufacturer, r.intervention_type).is_claimable() {
                            "yes"
                        } else {
                            "no"
                        }
                        .to_owned(),
                    ]
                })
                .collect();
            let value: Vec<_> = types
                .iter()
                .map(|r| json!({"ManufacturerId": r.manufacturer, "Name": r.manufacturer_name,
                    "InterventionTypeId": r.intervention_type, "ShortDescription": r.short_description,
                    "ConditionCode": agora_domain::WarrantyCondition::from(r.condition),
                    "Claimable": coverage(r.manufacturer, r.intervention_type).is_claimable()}))
                .collect();
            out.table(
                &[
                    "OEM",
                    "name",
                    "type",
                    "description",
                    "condition",
                    "claimable",
                ],
                rows,
                &value,
            );
        }
    }
}
