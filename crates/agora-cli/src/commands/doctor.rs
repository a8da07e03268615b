//! `agora doctor`: what earlier versions of agora left wrong in the repair
//! files, listed; with `--fix`, mended (the use case is
//! `agora_app::Agora::doctor`).

use agora_app::{Checkup, Mend};
use agora_domain::InterventionId;
use agora_ports::AgoraError;
use clap::Args;
use serde::Serialize;

use super::App;
use crate::failure::code;
use crate::output::{Grid, Human, Out, Render, Row, cell};

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Make the changes (each listed); without it, only list them.
    #[arg(long)]
    fix: bool,
}

pub(super) async fn run(app: &App, args: DoctorArgs, out: Out) -> Result<u8, AgoraError> {
    let checkup = app.doctor(args.fix).await?;
    out.show(&Report(&checkup));
    // Something left to mend (listed, not fixed) is the one failure.
    Ok(if checkup.fixed || checkup.mends.is_empty() {
        code::OK
    } else {
        code::REFUSED
    })
}

/// What `agora doctor` found or mended.
#[derive(Debug)]
struct Report<'a>(&'a Checkup);

impl Serialize for Report<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            fixed: bool,
            mends: Vec<MendRow<'a>>,
        }
        Json {
            fixed: self.0.fixed,
            mends: self.0.mends.iter().map(MendRow).collect(),
        }
        .serialize(serializer)
    }
}

impl Render for Report<'_> {
    fn human(&self) -> Human {
        let c = self.0;
        let line = match (c.mends.len(), c.fixed) {
            (0, _) => "nothing to mend".to_owned(),
            (n, true) => format!("{n} change(s) made"),
            (n, false) => format!("{n} change(s) to make: `agora doctor --fix` makes them"),
        };
        let table = (!c.mends.is_empty())
            .then(|| Grid::of(&c.mends.iter().map(MendRow).collect::<Vec<_>>()));
        Human {
            line: Some(line),
            table,
        }
    }
}

/// One change to one file.
#[derive(Debug)]
struct MendRow<'a>(&'a Mend);

impl Serialize for MendRow<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            #[serde(rename = "InterventionId")]
            intervention_id: InterventionId,
            kind: &'static str,
            change: &'a str,
            update_entry: Option<u64>,
        }
        let m = self.0;
        Json {
            intervention_id: m.intervention_id,
            kind: m.kind.as_str(),
            change: &m.change,
            update_entry: m.update_entry,
        }
        .serialize(serializer)
    }
}

impl Row for MendRow<'_> {
    const HEADERS: &'static [&'static str] = &["file", "kind", "change", "update entry"];
    fn cells(&self) -> Vec<String> {
        let m = self.0;
        vec![
            m.intervention_id.to_string(),
            m.kind.as_str().to_owned(),
            m.change.clone(),
            cell(m.update_entry),
        ]
    }
}
