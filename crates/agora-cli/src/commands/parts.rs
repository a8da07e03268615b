//! `agora parts`: the spare parts of a repair: marking them to be ordered,
//! ordering them, and tracking their orders.

use agora_app::{Delivery, FileOrders, OperationAnswer, Warning};
use agora_domain::{InterventionId, Part, PartOrderLine};
use agora_http::ClientConfig;
use agora_ports::AgoraError;
use clap::Subcommand;
use serde::Serialize;

use super::{App, Sent, delivery_exit, report_pass};
use crate::output::{Grid, Human, List, Out, Render, Row, cell};

#[derive(Debug, Subcommand)]
pub(crate) enum PartsCmd {
    /// Add a part to the repair, marked to be ordered.
    Add {
        /// The repair file.
        id: InterventionId,
        /// The spare part reference.
        reference: String,
        /// Quantity.
        #[arg(long, default_value_t = 1)]
        quantity: i64,
    },
    /// Order the parts marked to be ordered.
    Order {
        /// The repair file.
        id: InterventionId,
    },
    /// The logistic status of a repair's orders; without a file, of every
    /// file with an order not yet shipped or cancelled.
    Track {
        /// The repair file (none: every file with open orders).
        id: Option<InterventionId>,
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
            let what = format!("part {reference} added");
            out.show(&Sent::new(PartAdded { reference }, what, &d));
            Ok(delivery_exit(&d))
        }
        PartsCmd::Order { id } => {
            let d = app.order_parts(id).await?;
            if let Delivery::Delivered {
                answer: OperationAnswer::Ordered(answered),
                warning,
                ..
            } = &d
            {
                out.warnings(&Warning::of_envelope(
                    "PlaceRepairSparepartOrder",
                    warning.as_deref(),
                ));
                // The file's lines of the orders answered: one per part,
                // whether AgoraPlus gave a number per part or per call.
                let lines: Vec<PartOrderLine> = app
                    .repair(id)
                    .await?
                    .orders
                    .into_iter()
                    .filter(|l| answered.iter().any(|a| a.order_number == l.order_number))
                    .collect();
                out.show(&List(lines.iter().map(OrderedLine).collect()));
            } else {
                out.show(&Sent::new(Nothing {}, "", &d));
            }
            Ok(delivery_exit(&d))
        }
        PartsCmd::Track { id } => {
            let pass = match id {
                Some(id) => app.track_part_orders(id).await?,
                None => app.track_all_part_orders().await?,
            };
            out.show(&Tracked {
                files: &pass.done,
                one_file: id.is_some(),
            });
            Ok(report_pass(&pass, out, client))
        }
    }
}

/// A part marked to be ordered.
#[derive(Debug, Serialize)]
struct PartAdded {
    reference: String,
}

/// No change to say more of than its delivery.
#[derive(Debug, Serialize)]
struct Nothing {}

/// An order line as AgoraPlus answered the order (`parts order`).
#[derive(Debug, Serialize)]
#[serde(transparent)]
struct OrderedLine<'a>(&'a PartOrderLine);

impl Row for OrderedLine<'_> {
    const HEADERS: &'static [&'static str] = &["order", "part", "quantity"];
    fn cells(&self) -> Vec<String> {
        vec![
            cell(self.0.order_number.as_deref()),
            cell(self.0.reference.as_deref()),
            cell(self.0.quantity),
        ]
    }
}

/// Tracked order lines (`parts track`): for people one row per line; as
/// JSON the lines (one file) or each file with its lines (a pass).
#[derive(Debug)]
struct Tracked<'a> {
    files: &'a [FileOrders],
    one_file: bool,
}

/// A file's tracked lines, as JSON.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct FileLines<'a> {
    intervention_id: InterventionId,
    lines: &'a [PartOrderLine],
}

impl Serialize for Tracked<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.one_file {
            serializer.collect_seq(self.files.iter().flat_map(|f| &f.lines))
        } else {
            serializer.collect_seq(self.files.iter().map(|f| FileLines {
                intervention_id: f.intervention_id,
                lines: &f.lines,
            }))
        }
    }
}

impl Render for Tracked<'_> {
    fn human(&self) -> Human {
        let rows = self
            .files
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
        Human::table(Grid {
            headers: &["file", "order", "part", "status", "since"],
            rows,
        })
    }
}
