//! `agora ref`: the reference tables compiled into the domain (status
//! codes, OEMs, repair types); no settings, no network.

use agora_domain::tables::{OEMS, REPAIR_TYPES, coverage};
use agora_domain::{
    InterventionTypeId, ManufacturerId, StatusCode, StatusFamily, WarrantyCondition,
};
use clap::Subcommand;
use serde::Serialize;

use crate::output::{List, Out, Row, cell};

#[derive(Debug, Subcommand)]
pub(crate) enum RefCmd {
    /// Every status code with its family and what it requires.
    StatusCodes,
    /// The OEMs.
    Oems,
    /// Repair types, with warranty condition and coverage.
    RepairTypes {
        /// Only this OEM.
        #[arg(long)]
        oem: Option<u32>,
    },
}

pub(super) fn run(cmd: RefCmd, out: Out) {
    match cmd {
        RefCmd::StatusCodes => out.show(&List(
            StatusCode::KNOWN.iter().map(StatusCodeRow::of).collect(),
        )),
        RefCmd::Oems => out.show(&List(
            OEMS.iter()
                .map(|o| OemRow {
                    id: o.id,
                    name: o.name,
                    repair_table_name: o.repair_table_name,
                    repair_types: o.id.repair_types().count(),
                })
                .collect(),
        )),
        RefCmd::RepairTypes { oem } => out.show(&List(
            REPAIR_TYPES
                .iter()
                .filter(|r| oem.is_none_or(|m| r.manufacturer == ManufacturerId(m)))
                .map(|r| RepairTypeRow {
                    manufacturer: r.manufacturer,
                    name: r.manufacturer_name,
                    intervention_type: r.intervention_type,
                    short_description: r.short_description,
                    condition: WarrantyCondition::from(r.condition),
                    claimable: coverage(r.manufacturer, r.intervention_type).is_claimable(),
                })
                .collect(),
        )),
    }
}

/// A status code, its family and what it requires.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatusCodeRow {
    code: StatusCode,
    description: Option<&'static str>,
    #[serde(serialize_with = "display")]
    family: Option<StatusFamily>,
    requires: String,
}

impl StatusCodeRow {
    fn of(code: &StatusCode) -> Self {
        Self {
            code: code.clone(),
            description: code.description(),
            family: code.family(),
            requires: code.requirement().to_string(),
        }
    }
}

impl Row for StatusCodeRow {
    const HEADERS: &'static [&'static str] = &["code", "description", "family", "requires"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.code.as_str().to_owned(),
            self.description.unwrap_or("").to_owned(),
            cell(self.family),
            self.requires.clone(),
        ]
    }
}

/// An OEM: its names in tables 6.3 and 6.4, its number of repair types.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct OemRow {
    #[serde(rename = "ManufacturerId")]
    id: ManufacturerId,
    name: Option<&'static str>,
    repair_table_name: Option<&'static str>,
    repair_types: usize,
}

impl Row for OemRow {
    const HEADERS: &'static [&'static str] = &["id", "name (6.3)", "name (6.4)", "repair types"];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            cell(self.name),
            cell(self.repair_table_name),
            self.repair_types.to_string(),
        ]
    }
}

/// A repair type of table 6.4, its warranty condition and coverage.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RepairTypeRow {
    #[serde(rename = "ManufacturerId")]
    manufacturer: ManufacturerId,
    name: &'static str,
    #[serde(rename = "InterventionTypeId")]
    intervention_type: InterventionTypeId,
    short_description: &'static str,
    #[serde(rename = "ConditionCode")]
    condition: WarrantyCondition,
    claimable: bool,
}

impl Row for RepairTypeRow {
    const HEADERS: &'static [&'static str] = &[
        "OEM",
        "name",
        "type",
        "description",
        "condition",
        "claimable",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.manufacturer.to_string(),
            self.name.to_owned(),
            self.intervention_type.to_string(),
            self.short_description.to_owned(),
            self.condition.to_string(),
            if self.claimable { "yes" } else { "no" }.to_owned(),
        ]
    }
}

/// An optional value as its text (`null` when absent).
fn display<T: std::fmt::Display, S: serde::Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.collect_str(v),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Grid, Render};

    /// Every row has one cell per header, and its JSON keeps the wire's
    /// names.
    #[test]
    fn rows_fit_their_headers() {
        fn check<T: Row>(rows: Vec<T>) {
            let grid: Grid = List(rows).human().table.unwrap_or(Grid {
                headers: &[],
                rows: Vec::new(),
            });
            assert!(!grid.rows.is_empty());
            assert!(grid.rows.iter().all(|r| r.len() == grid.headers.len()));
        }
        check(StatusCode::KNOWN.iter().map(StatusCodeRow::of).collect());
        let oems: Vec<OemRow> = OEMS
            .iter()
            .map(|o| OemRow {
                id: o.id,
                name: o.name,
                repair_table_name: o.repair_table_name,
                repair_types: 0,
            })
            .collect();
        let json = serde_json::to_value(&oems[0]).unwrap_or_default();
        assert!(json.get("ManufacturerId").is_some(), "{json}");
        check(oems);
    }
}
