//! `agora ref`: the reference tables compiled into the domain (status
//! codes, OEMs, repair types); no settings, no network.

use agora_domain::tables::{OEMS, REPAIR_TYPES, coverage};
use agora_domain::{ManufacturerId, StatusCode};
use clap::Subcommand;
use serde_json::json;

use crate::output::{Out, cell};

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
