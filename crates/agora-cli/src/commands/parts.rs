//! `agora parts`: the spare parts of a repair: marking them to be ordered,
//! ordering them, and tracking their orders.

use agora_app::{Delivery, FileOrders, OperationAnswer, Pass};
use agora_domain::Part;
use agora_http::ClientConfig;
use agora_ports::AgoraError;
use clap::Subcommand;
use serde_json::json;

use super::{App, delivery_exit, describe, report_pass};
use crate::output::{Out, cell};

#[derive(Debug, Subcommand)]
pub(crate) enum PartsCmd {
    /// Add a part to the repair, marked to be ordered.
    Add {
        /// The repair file.
        id: i64,
        /// The spare part reference.
        reference: String,
        /// Quantity.
        #[arg(long, default_value_t = 1)]
        quantity: i64,
    },
    /// Order the parts marked to be ordered.
    Order {
        /// The repair file.
        id: i64,
    },
    /// The logistic status of a repair's orders; without a file, of every
    /// file with an order not yet shipped or cancelled.
    Track {
        /// The repair file (none: every file with open orders).
        id: Option<i64>,
    },
}

pub(super) async fn run(
    app: &App,
    cmd: PartsCmd,
    out: Out,
    client: &ClientConfig,
) -> Result<u8, AgoraError> {
    match cmd {
        PartsCmd::Add {
            id,
            reference,
            quantity,
        } => {
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
        PartsCmd::Order { id } => {
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
        PartsCmd::Track { id } => {
            let pass = match id {
                Some(id) => app.track_part_orders(id).await?,
                None => app.track_all_part_orders().await?,
            };
            print_orders(&pass, id.is_some(), out);
            Ok(report_pass(&pass, out, client))
        }
    }
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
