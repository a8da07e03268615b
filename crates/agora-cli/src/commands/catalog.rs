//! `agora catalog` and `agora bom`: syncing an OEM's spare parts or
//! products (with a progress bar), and a product's bill of materials.

use agora_app::CatalogKind;
use agora_domain::{CountryCode, ManufacturerId};
use agora_ports::AgoraError;
use clap::{Args, Subcommand};
use serde_json::json;

use super::{App, warn_all};
use crate::failure::code;
use crate::output::{Out, cell};

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

pub(super) async fn bom(app: &App, args: BomArgs, out: Out) -> Result<u8, AgoraError> {
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
