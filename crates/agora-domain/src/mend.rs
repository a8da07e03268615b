//! Mending repair files that earlier versions of agora left wrong
//! (`agora doctor`): pure judgements over a file, what AgoraPlus answered
//! (the outbox's delivered order answers and copies) and the work order
//! kept. Each judgement finds nothing on a file it already mended, so
//! mending twice changes nothing the second time.
//!
//! What earlier versions left wrong:
//! - a part still marked to be ordered though AgoraPlus ordered it: when
//!   one `PlaceRepairSparepartOrder` numbered several parts (one number
//!   for the call, reference 2.3), only the first part got the number,
//!   and its other lines were not kept;
//! - a status AgoraPlus refused (an `UpdateRepair` answered `E`) kept in
//!   the file and sent again in every later whole-file update;
//! - the consumer's, appliance's and reseller's fields of the work order
//!   (Zip, Town, Country, Phone, SerialNumber…) not carried into the file.

use crate::catalog::PartOrderLine;
use crate::mandate::MandateLightResponse;
use crate::repair::{APPLIANCE_FIELDS, CompleteRepairState, StateNature};
use crate::{InterventionId, OrderNumber};

/// The order lines one `PlaceRepairSparepartOrder` made: `answer` as
/// AgoraPlus gave it, a line without reference (one number for the whole
/// call) standing for every part `ordered_from` (the file as AgoraPlus
/// knew it when it ordered: the last copy it accepted before the order)
/// marked to be ordered. Without that copy, a line without reference
/// cannot be told apart and is kept as it is.
pub fn ordered_lines(
    ordered_from: Option<&CompleteRepairState>,
    answer: &[PartOrderLine],
) -> Vec<PartOrderLine> {
    let mut lines: Vec<PartOrderLine> = Vec::new();
    for line in answer {
        if line.reference.is_some() {
            lines.push(line.clone());
            continue;
        }
        let mut numbered: Vec<PartOrderLine> = Vec::new();
        for part in ordered_from
            .into_iter()
            .flat_map(CompleteRepairState::all_parts)
            .filter(|p| p.is_to_be_ordered() && p.reference.is_some())
        {
            if !numbered.iter().any(|l| l.reference == part.reference) {
                numbered.push(PartOrderLine {
                    reference: part.reference.clone(),
                    quantity: part.quantity,
                    ..line.clone()
                });
            }
        }
        if numbered.is_empty() {
            numbered.push(line.clone());
        }
        lines.extend(numbered);
    }
    lines
}

/// A part given the number AgoraPlus had already given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartNumbered {
    /// The part's reference.
    pub reference: String,
    /// Its order number.
    pub order_number: OrderNumber,
}

impl CompleteRepairState {
    /// Gives each part still marked to be ordered the number an order line
    /// of `lines` ([`ordered_lines`]) gives its reference, and stops it
    /// being to be ordered: AgoraPlus ordered it, it must never be ordered
    /// again. A part is left alone when the file already has a part of
    /// that reference under that number (that order's part is the other
    /// one; this one was added since, to be ordered anew). Returns one
    /// entry per (reference, number) given.
    pub fn mend_orders(&mut self, lines: &[PartOrderLine]) -> Vec<PartNumbered> {
        let mut given = Vec::new();
        for line in lines {
            let (Some(reference), Some(number)) = (&line.reference, &line.order_number) else {
                continue;
            };
            let already = self.all_parts().any(|p| {
                p.reference.as_ref() == Some(reference) && p.order_number.as_ref() == Some(number)
            });
            if already {
                continue;
            }
            let mut numbered = false;
            for part in self
                .all_parts_mut()
                .filter(|p| p.is_to_be_ordered() && p.reference.as_ref() == Some(reference))
            {
                part.order_number = Some(number.clone());
                part.to_be_ordered = Some(false);
                numbered = true;
            }
            if numbered {
                given.push(PartNumbered {
                    reference: reference.clone(),
                    order_number: number.clone(),
                });
            }
        }
        given
    }

    /// Takes out of this file the statuses of `refused` (a whole-file
    /// update AgoraPlus refused: it did not apply it) that no copy in
    /// `carried` holds: the copies AgoraPlus accepted, and those still to
    /// be sent or in doubt (a status one of them carries may be, or be
    /// about to be, in AgoraPlus). Returns the statuses taken out.
    pub fn take_out_refused(
        &mut self,
        refused: &CompleteRepairState,
        carried: &[&CompleteRepairState],
    ) -> Vec<StateNature> {
        let mut taken = Vec::new();
        for status in refused.state_natures.iter().flatten() {
            let kept_elsewhere = carried
                .iter()
                .any(|c| c.state_natures.iter().flatten().any(|s| s == status));
            if kept_elsewhere {
                continue;
            }
            if let Some(mine) = self.state_natures.as_mut() {
                if let Some(at) = mine.iter().position(|s| s == status) {
                    taken.push(mine.remove(at));
                }
            }
        }
        taken
    }

    /// Fills the fields this file lacks that the work order it came from
    /// gives (the consumer's, the appliance's and the reseller's, as
    /// [`CompleteRepairState::from_work_order`] carries them). A field the
    /// file has, whatever its value, is left as it is; one it lacks (absent
    /// or null, in any case of its name) is taken from the work order.
    /// Returns the wire path of each field filled (`Consumer.Zip`).
    pub fn fill_from_work_order(
        &mut self,
        work_order: &MandateLightResponse,
        intervention_id: InterventionId,
    ) -> Vec<String> {
        use serde_json::Value;
        let made = Self::from_work_order(work_order, intervention_id);
        let (Ok(Value::Object(made)), Ok(Value::Object(mut mine))) =
            (serde_json::to_value(&made), serde_json::to_value(&*self))
        else {
            return Vec::new();
        };
        let mut filled = Vec::new();
        for (key, value) in &made {
            if value.is_null() {
                continue;
            }
            let nested = matches!(key.as_str(), "Consumer" | "Reseller");
            if !nested && !APPLIANCE_FIELDS.contains(&key.as_str()) {
                continue;
            }
            let at = mine
                .keys()
                .find(|k| k.eq_ignore_ascii_case(key))
                .cloned()
                .unwrap_or_else(|| key.clone());
            match (mine.get_mut(&at), value) {
                (Some(Value::Object(theirs)), Value::Object(given)) if nested => {
                    for (field, v) in given {
                        if v.is_null() || has_value(theirs, field) {
                            continue;
                        }
                        theirs.remove(field);
                        theirs.insert(field.clone(), v.clone());
                        filled.push(format!("{key}.{field}"));
                    }
                }
                (Some(v), _) if !v.is_null() => {}
                _ => {
                    mine.insert(at, value.clone());
                    match value {
                        Value::Object(given) if nested => {
                            filled.extend(given.keys().map(|f| format!("{key}.{f}")));
                        }
                        _ => filled.push(key.clone()),
                    }
                }
            }
        }
        if filled.is_empty() {
            return filled;
        }
        let json = Value::Object(mine).to_string();
        match crate::wire::decode_json::<Self>(json.as_bytes()) {
            Ok(back) => {
                *self = back;
                filled
            }
            Err(_) => Vec::new(),
        }
    }
}

/// Whether `object` holds `field` (any case) with a value that is not null.
fn has_value(object: &serde_json::Map<String, serde_json::Value>, field: &str) -> bool {
    object
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case(field) && !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::Part;

    impl Part {
        /// A part of `reference`, to be ordered.
        fn to_order(reference: &str, quantity: i64) -> Self {
            Self {
                reference: Some(reference.to_owned()),
                quantity: Some(quantity),
                to_be_ordered: Some(true),
                ..Self::default()
            }
        }
    }

    fn line(number: &str, reference: Option<&str>) -> PartOrderLine {
        PartOrderLine {
            order_number: Some(OrderNumber::from(number)),
            reference: reference.map(str::to_owned),
            ..PartOrderLine::default()
        }
    }

    fn file(parts: Vec<Part>) -> CompleteRepairState {
        CompleteRepairState {
            parts: Some(parts),
            ..CompleteRepairState::default()
        }
    }

    #[test]
    fn one_number_for_the_call_numbers_every_part_agoraplus_ordered() {
        let sent = file(vec![Part::to_order("A", 1), Part::to_order("B", 2)]);
        let lines = ordered_lines(Some(&sent), &[line("O-1", None)]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].reference.as_deref(), Some("B"));
        assert_eq!(lines[1].quantity, Some(2));
        // As earlier versions left it: A numbered, B still to be ordered,
        // and C added since.
        let mut mine = sent.clone();
        let parts = mine.parts.as_mut().unwrap();
        parts[0].order_number = Some(OrderNumber::from("O-1"));
        parts[0].to_be_ordered = Some(false);
        parts.push(Part::to_order("C", 1));
        let given = mine.mend_orders(&lines);
        assert_eq!(
            given,
            vec![PartNumbered {
                reference: "B".into(),
                order_number: OrderNumber::from("O-1")
            }]
        );
        let parts = mine.parts.as_ref().unwrap();
        assert!(!parts[1].is_to_be_ordered());
        assert!(parts[2].is_to_be_ordered(), "added since: not ordered");
        assert!(mine.mend_orders(&lines).is_empty(), "twice: nothing");
    }

    #[test]
    fn a_part_of_a_reference_ordered_before_is_ordered_anew() {
        let mut mine = file(vec![
            Part {
                order_number: Some(OrderNumber::from("O-1")),
                to_be_ordered: Some(false),
                ..Part::to_order("A", 1)
            },
            Part::to_order("A", 1),
        ]);
        assert!(mine.mend_orders(&[line("O-1", Some("A"))]).is_empty());
        assert!(mine.parts.as_ref().unwrap()[1].is_to_be_ordered());
    }

    #[test]
    fn refused_statuses_go_unless_a_copy_carries_them() {
        let s = |code: &str| StateNature::new(code.parse().unwrap(), code);
        let accepted = CompleteRepairState {
            state_natures: Some(vec![s("102")]),
            ..CompleteRepairState::default()
        };
        let refused = CompleteRepairState {
            state_natures: Some(vec![s("102"), s("305")]),
            ..CompleteRepairState::default()
        };
        let mut mine = CompleteRepairState {
            state_natures: Some(vec![s("102"), s("305"), s("406")]),
            ..CompleteRepairState::default()
        };
        let pending_with_305 = refused.clone();
        let mut kept = mine.clone();
        assert!(
            kept.take_out_refused(&refused, &[&accepted, &pending_with_305])
                .is_empty()
        );
        assert_eq!(
            mine.take_out_refused(&refused, &[&accepted]),
            vec![s("305")]
        );
        assert_eq!(mine.state_natures, Some(vec![s("102"), s("406")]));
        assert!(mine.take_out_refused(&refused, &[&accepted]).is_empty());
    }

    #[test]
    fn missing_work_order_fields_are_filled_and_present_ones_kept() {
        let work_order: MandateLightResponse = serde_json::from_value(serde_json::json!({
            "MandateId": 7, "ManufacturerId": 2, "SerialNumber": "SN-1",
            "Consumer": {"LastName": "Durand", "Zip": "69001", "Town": "Lyon", "Phone": "0102"}
        }))
        .unwrap();
        let mut mine: CompleteRepairState = serde_json::from_value(serde_json::json!({
            "InterventionId": 5, "MandateId": 7,
            "Consumer": {"LastName": "Dupont", "town": "Paris"},
            "Unknown": 1
        }))
        .unwrap();
        let mut filled = mine.fill_from_work_order(&work_order, InterventionId(5));
        filled.sort();
        assert_eq!(
            filled,
            vec!["Consumer.Phone", "Consumer.Zip", "SerialNumber"]
        );
        let consumer = mine.consumer.as_ref().unwrap();
        assert_eq!(consumer.last_name.as_deref(), Some("Dupont"), "kept");
        assert_eq!(consumer.zip.as_deref(), Some("69001"));
        assert_eq!(mine.serial_number.as_deref(), Some("SN-1"));
        assert_eq!(serde_json::to_value(&mine).unwrap()["Unknown"], 1);
        assert!(
            mine.fill_from_work_order(&work_order, InterventionId(5))
                .is_empty()
        );
    }
}
