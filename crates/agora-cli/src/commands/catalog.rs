//! `agora catalog` and `agora bom`: syncing an OEM's spare parts or
//! products (with a progress bar), and a product's bill of materials.

use agora_app::{CatalogKind, CatalogSync};
use agora_domain::{BomLine, CountryCode, ManufacturerId};
use agora_ports::AgoraError;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{App, warn_all};
use crate::failure::code;
use crate::output::{Grid, Human, Out, Render, cell};

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCmd {
    /// Sync one OEM's spare parts (or products) since the last sync.
    Sync {
        /// The OEM (ManufacturerId; `agora ref oems`).
        #[arg(long)]
        oem: u32,
        /// Products instead of spare parts.
        #[arg(long)]
        products: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BomArgs {
    /// The OEM.
    #[arg(long)]
    pub oem: u32,
    /// The product's commercial or technical reference.
    #[arg(long = "ref")]
    pub reference: String,
    /// The market (ISO 3166 numeric).
    #[arg(long, default_value_t = 250)]
    pub country: u16,
}

pub(super) async fn run(app: &App, cmd: CatalogCmd, out: Out) -> Result<u8, AgoraError> {
    let CatalogCmd::Sync { oem, products } = cmd;
    let kind = if products {
        CatalogKind::Products
    } else {
        CatalogKind::SpareParts
    };
    let sync = catalog_sync(app, ManufacturerId(oem), kind, out.progress()).await?;
    if let Some(w) = &sync.warning {
        out.note(format_args!("warning: catalog: AgoraPlus warns: {w}"));
    }
    warn_all(out, "catalog: ", &sync.set_aside);
    if let Some(more) = sync
        .set_aside_total
        .checked_sub(sync.set_aside.len() as u64)
        .filter(|n| *n > 0)
    {
        out.note(format_args!(
            "warning: catalog: {more} more record(s) set aside"
        ));
    }
    out.show(&Synced {
        oem: ManufacturerId(oem),
        kind: if products { "products" } else { "spare parts" },
        sync: &sync,
    });
    Ok(code::OK)
}

/// What a catalog sync did.
#[derive(Debug)]
struct Synced<'a> {
    oem: ManufacturerId,
    kind: &'static str,
    sync: &'a CatalogSync,
}

impl Serialize for Synced<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            oem: ManufacturerId,
            kind: &'static str,
            records: u64,
            since: String,
            cursor: String,
            message: Option<&'a str>,
            warning: Option<&'a str>,
            set_aside: u64,
        }
        Json {
            oem: self.oem,
            kind: self.kind,
            records: self.sync.records,
            since: self.sync.since.to_string(),
            cursor: self.sync.cursor.to_string(),
            message: self.sync.message.as_deref(),
            warning: self.sync.warning.as_deref(),
            set_aside: self.sync.set_aside_total,
        }
        .serialize(serializer)
    }
}

impl Render for Synced<'_> {
    fn human(&self) -> Human {
        Human::line(format!(
            "{} {} of OEM {} synced since {} (cursor {})",
            self.sync.records, self.kind, self.oem, self.sync.since, self.sync.cursor
        ))
    }
}

/// A product's bill of materials, or none (`bom`).
#[derive(Debug)]
enum Bom<'a> {
    /// No such product: as JSON, `null`.
    None { reference: &'a str, oem: u32 },
    /// Its lines, as AgoraPlus sends them.
    Lines(&'a [BomLine]),
}

impl Serialize for Bom<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::None { .. } => serializer.serialize_none(),
            Self::Lines(lines) => lines.serialize(serializer),
        }
    }
}

impl Render for Bom<'_> {
    fn human(&self) -> Human {
        match self {
            Self::None { reference, oem } => {
                Human::line(format!("no product {reference} for OEM {oem}"))
            }
            Self::Lines(lines) => Human::table(Grid {
                headers: &["part", "label", "quantity"],
                rows: lines
                    .iter()
                    .map(|l| {
                        vec![
                            cell(l.reference.as_deref()),
                            cell(l.label.as_deref()),
                            cell(l.quantity),
                        ]
                    })
                    .collect(),
            }),
        }
    }
}

pub(super) async fn bom(app: &App, args: BomArgs, out: Out) -> Result<u8, AgoraError> {
    let found = app
        .bom(
            ManufacturerId(args.oem),
            &args.reference,
            CountryCode(args.country),
        )
        .await?;
    match &found {
        None => {
            out.show(&Bom::None {
                reference: &args.reference,
                oem: args.oem,
            });
            Ok(code::REFUSED)
        }
        Some(found) => {
            out.show(&Bom::Lines(&found.lines));
            Ok(code::OK)
        }
    }
}

/// A catalog sync with a progress bar on stderr.
pub(crate) async fn catalog_sync(
    app: &App,
    oem: ManufacturerId,
    kind: CatalogKind,
    show_progress: bool,
) -> Result<CatalogSync, AgoraError> {
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
