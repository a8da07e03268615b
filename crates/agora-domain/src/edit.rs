//! Changing a repair file by hand: `PATH=VALUE` assignments on its wire
//! names (`Consumer.Phone`, `Parts[0].Quantity`), and the checks a whole
//! edited file must pass before it is sent (`agora repairs set` and
//! `agora repairs edit`).

use serde_json::Value;

use crate::repair::{CompleteRepairState, Consumer, Intervention, Part, Reseller, StateNature};
use crate::wire::{ReadLenient, Reading, decode_json};

/// Why an edit of a repair file was refused; each names the path at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The path is not `Name.Name[n]…`.
    #[error("malformed path `{path}`: {reason}")]
    MalformedPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A name the model at that level does not know.
    #[error("unknown field `{name}` in `{path}`; {hint}")]
    UnknownField {
        /// The path as given.
        path: String,
        /// The unknown name.
        name: String,
        /// The close names, or every known one.
        hint: String,
    },
    /// `[n]` beyond the list's end, or on something not a list.
    #[error("bad index in `{path}`: {reason}")]
    BadIndex {
        /// The path as given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The value does not read as the field's type.
    #[error("bad value for `{path}`: {reason}")]
    BadValue {
        /// The path (or the file's field) at fault.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A field that names the file, or its history, which an edit may not change.
    #[error("`{path}` may not be changed{reason}")]
    Immutable {
        /// The field.
        path: String,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl EditError {
    /// The path the error is about.
    pub fn path(&self) -> &str {
        match self {
            Self::MalformedPath { path, .. }
            | Self::UnknownField { path, .. }
            | Self::BadIndex { path, .. }
            | Self::BadValue { path, .. }
            | Self::Immutable { path, .. } => path,
        }
    }
}

/// One step of a path: a field's name, or a list's index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Index(usize),
}

/// The models of the repair file, by what a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    File,
    Consumer,
    Reseller,
    Intervention,
    Part,
    StateNature,
    /// A value that is not a model (string, number, …).
    Leaf,
}

impl Model {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Self::File => CompleteRepairState::WIRE_FIELDS,
            Self::Consumer => Consumer::WIRE_FIELDS,
            Self::Reseller => Reseller::WIRE_FIELDS,
            Self::Intervention => Intervention::WIRE_FIELDS,
            Self::Part => Part::WIRE_FIELDS,
            Self::StateNature => StateNature::WIRE_FIELDS,
            Self::Leaf => &[],
        }
    }

    /// What the field `wire` of this model holds, and whether it is a list.
    fn child(self, wire: &str) -> (Self, bool) {
        match (self, wire) {
            (Self::File, "Consumer") => (Self::Consumer, false),
            (Self::File, "Reseller") => (Self::Reseller, false),
            (Self::File, "Intervention") => (Self::Intervention, false),
            (Self::File | Self::StateNature, "Parts") => (Self::Part, true),
            (Self::File, "StateNatures") => (Self::StateNature, true),
            _ => (Self::Leaf, false),
        }
    }
}

/// The fields of the file an edit may not change: they name the file.
const IDS: &[&str] = &["InterventionId", "MandateId"];

/// Parses `Consumer.Phone`, `Parts[1].Quantity` into steps.
fn parse_path(path: &str) -> Result<Vec<Step>, EditError> {
    let malformed = |reason: &str| EditError::MalformedPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if path.is_empty() {
        return Err(malformed("empty"));
    }
    let mut steps = Vec::new();
    for segment in path.split('.') {
        let (name, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if name.is_empty() {
            return Err(malformed("a field name is missing"));
        }
        steps.push(Step::Name(name.to_owned()));
        while !rest.is_empty() {
            let inner = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .ok_or_else(|| malformed("`[` without `]`"))?;
            let index = inner
                .0
                .parse::<usize>()
                .map_err(|_| malformed(&format!("`[{}]` is not a list index", inner.0)))?;
            steps.push(Step::Index(index));
            rest = inner.1;
        }
    }
    Ok(steps)
}

/// The names of `known` close to `name` (sharing a prefix or contained),
/// else all of them, as a hint.
fn known_names(name: &str, known: &[&str]) -> String {
    let lower = name.to_ascii_lowercase();
    let close: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            k.contains(&lower) || lower.contains(&k) || k.get(..3) == lower.get(..3)
        })
        .collect();
    if close.is_empty() {
        format!("known: {}", known.join(", "))
    } else {
        format!("did you mean {}?", close.join(", "))
    }
}

/// Sets the value at `path` (wire names in any case, `[n]` for a list
/// item, `[len]` appending one; missing objects are created) and returns
/// the file it makes, checked by [`check_edit`].
///
/// `value` is read as JSON when it is JSON and that reads as the field's
/// type, else taken as a string: `Consumer.Zip=69001` is the string
/// `"69001"` (Zip is a string), `Quantity=2` the number 2,
/// `OptInSurvey=true` a boolean, `Consumer.Country=France` an error
/// (Country is a number), and `Consumer.Phone=null` removes the phone.
pub fn set_path(
    file: &CompleteRepairState,
    path: &str,
    value: &str,
) -> Result<CompleteRepairState, EditError> {
    let steps = resolve(path)?;
    let Ok(before) = serde_json::to_value(file) else {
        return Err(bad_value(path, "the file does not write as JSON"));
    };
    let as_json = serde_json::from_str::<Value>(value).ok();
    let as_string = Value::String(value.to_owned());
    let mut last = None;
    for candidate in as_json.into_iter().chain([as_string]) {
        let mut doc = before.clone();
        place(&mut doc, &steps, candidate, path)?;
        match check_value(file, &doc, path) {
            Ok(edited) => return Ok(edited),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| bad_value(path, "no value")))
}

/// The path's steps with each name as its model spells it; refuses unknown
/// names, the ids, and indexes on what is not a list.
fn resolve(path: &str) -> Result<Vec<Step>, EditError> {
    let mut model = Model::File;
    let mut in_list = false;
    let mut out = Vec::new();
    for step in parse_path(path)? {
        match step {
            Step::Name(name) => {
                if in_list {
                    return Err(EditError::BadIndex {
                        path: path.to_owned(),
                        reason: "a list needs `[n]` before its items' fields".to_owned(),
                    });
                }
                let fields = model.fields();
                let Some(wire) = fields.iter().find(|f| f.eq_ignore_ascii_case(&name)) else {
                    let hint = if model == Model::Leaf {
                        "the field before it holds no fields".to_owned()
                    } else {
                        known_names(&name, fields)
                    };
                    return Err(EditError::UnknownField {
                        path: path.to_owned(),
                        name,
                        hint,
                    });
                };
                if model == Model::File && IDS.contains(wire) {
                    return Err(EditError::Immutable {
                        path: path.to_owned(),
                        reason: ": it names the repair file".to_owned(),
                    });
                }
                (model, in_list) = model.child(wire);
                out.push(Step::Name((*wire).to_owned()));
            }
            Step::Index(i) => {
                if !in_list {
                    return Err(EditError::BadIndex {
                        path: path.to_owned(),
                        reason: format!("`[{i}]` on a field that is not a list"),
                    });
                }
                in_list = false;
                out.push(Step::Index(i));
            }
        }
    }
    Ok(out)
}

/// Puts `value` at `steps` in `doc`, creating the missing objects and lists.
fn place(doc: &mut Value, steps: &[Step], value: Value, path: &str) -> Result<(), EditError> {
    let Some((step, rest)) = steps.split_first() else {
        *doc = value;
        return Ok(());
    };
    let next_default = || match rest.first() {
        Some(Step::Index(_)) => Value::Array(Vec::new()),
        _ => Value::Object(serde_json::Map::new()),
    };
    match step {
        Step::Name(name) => {
            if !doc.is_object() {
                *doc = Value::Object(serde_json::Map::new());
            }
            let Value::Object(map) = doc else {
                unreachable!("made an object above")
            };
            // The file may hold the name in another case: it is one field.
            let existing = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
            let slot = match existing {
                Some(k) if rest.is_empty() || !map[&k].is_null() => {
                    let v = map.remove(&k).unwrap_or(Value::Null);
                    map.entry(name.clone()).or_insert(v)
                }
                _ => map.entry(name.clone()).or_insert_with(next_default),
            };
            if slot.is_null() && !rest.is_empty() {
                *slot = next_default();
            }
            place(slot, rest, value, path)
        }
        Step::Index(i) => {
            if !doc.is_array() {
                *doc = Value::Array(Vec::new());
            }
            let Value::Array(items) = doc else {
                unreachable!("made a list above")
            };
            if *i == items.len() {
                items.push(next_default());
            }
            let len = items.len();
            let item = items.get_mut(*i).ok_or_else(|| EditError::BadIndex {
                path: path.to_owned(),
                reason: format!("the list has {len} item(s): `[{len}]` adds one, no further"),
            })?;
            place(item, rest, value, path)
        }
    }
}

/// Reads an edited document as the file, strictly, and checks it against
/// the file it came from; errors name `path`.
fn check_value(
    before: &CompleteRepairState,
    doc: &Value,
    path: &str,
) -> Result<CompleteRepairState, EditError> {
    let edited = decode(before, doc).map_err(|reason| bad_value(path, &reason))?;
    check_edit(before, &edited)?;
    Ok(edited)
}

/// Reads an edited file from JSON text (`agora repairs edit`) and checks it
/// against the file it came from with [`check_edit`].
pub fn read_edited(
    before: &CompleteRepairState,
    text: &str,
) -> Result<CompleteRepairState, EditError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| EditError::BadValue {
        path: ".".to_owned(),
        reason: format!("not JSON: {e}"),
    })?;
    let edited = decode(before, &doc).map_err(|reason| {
        let (path, reason) = reason
            .split_once('\u{0}')
            .map_or((".".to_owned(), reason.clone()), |(p, r)| {
                (p.to_owned(), r.to_owned())
            });
        EditError::BadValue { path, reason }
    })?;
    check_edit(before, &edited)?;
    Ok(edited)
}

/// Decodes `doc` strictly as a repair file. A file that came with values
/// of its own form (kept by tolerant reading) is read tolerantly instead,
/// and only a value that did not read before is an error. The error is
/// `PATH\0REASON`.
fn decode(before: &CompleteRepairState, doc: &Value) -> Result<CompleteRepairState, String> {
    let bytes = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
    match decode_json::<CompleteRepairState>(&bytes) {
        Ok(file) => Ok(file),
        Err(e) if before.unread_values().is_empty() => Err(format!("{}\u{0}{}", e.path, e.message)),
        Err(e) => {
            let Reading::Exact(file) = CompleteRepairState::read_lenient(doc.clone()) else {
                return Err(format!("{}\u{0}{}", e.path, e.message));
            };
            let old: Vec<String> = before.unread_values().into_iter().map(|u| u.path).collect();
            match file
                .unread_values()
                .into_iter()
                .find(|u| !old.contains(&u.path))
            {
                Some(u) => Err(format!(
                    "{}\u{0}{} does not read as its field's type",
                    u.path, u.raw
                )),
                None => Ok(file),
            }
        }
    }
}

/// The checks an edited file must pass against the file it came from: the
/// ids that name it are unchanged, and so is its status history (a status
/// is reported with `agora status report`, which checks it against the
/// lifecycle).
pub fn check_edit(
    before: &CompleteRepairState,
    after: &CompleteRepairState,
) -> Result<(), EditError> {
    if after.intervention_id != before.intervention_id {
        return Err(immutable("InterventionId", ": it names the repair file"));
    }
    if after.mandate_id != before.mandate_id {
        return Err(immutable("MandateId", ": it names the repair file"));
    }
    if after.state_natures != before.state_natures {
        return Err(immutable(
            "StateNatures",
            " here: report a status with `agora status report`",
        ));
    }
    Ok(())
}

fn immutable(path: &str, reason: &str) -> EditError {
    EditError::Immutable {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

fn bad_value(path: &str, reason: &str) -> EditError {
    let reason = match reason.split_once('\u{0}') {
        Some((at, why)) if at != path && at != "." => format!("{why} (at `{at}`)"),
        Some((_, why)) => why.to_owned(),
        None => reason.to_owned(),
    };
    EditError::BadValue {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InterventionId, MandateId};
    use crate::status::StatusCode;

    fn file() -> CompleteRepairState {
        CompleteRepairState {
            intervention_id: Some(InterventionId(500_001)),
            mandate_id: Some(MandateId(42)),
            state_natures: Some(vec![StateNature::new(StatusCode::RepairFinished, "done")]),
            ..CompleteRepairState::default()
        }
    }

    #[test]
    fn sets_a_top_level_and_a_nested_field_creating_the_object() {
        let f = set_path(&file(), "SerialNumber", "SN-42").unwrap();
        assert_eq!(f.serial_number.as_deref(), Some("SN-42"));
        let f = set_path(&f, "Consumer.Phone", "+33 4 72 00 00 00").unwrap();
        assert_eq!(
            f.consumer.as_ref().unwrap().phone.as_deref(),
            Some("+33 4 72 00 00 00")
        );
        assert_eq!(f.serial_number.as_deref(), Some("SN-42"));
    }

    #[test]
    fn names_match_in_any_case() {
        let f = set_path(&file(), "consumer.LASTNAME", "Durand").unwrap();
        assert_eq!(f.consumer.unwrap().last_name.as_deref(), Some("Durand"));
    }

    #[test]
    fn a_string_field_takes_digits_as_a_string_and_a_number_field_as_a_number() {
        let f = set_path(&file(), "Consumer.Zip", "69001").unwrap();
        assert_eq!(f.consumer.as_ref().unwrap().zip.as_deref(), Some("69001"));
        let f = set_path(&f, "Consumer.Country", "250").unwrap();
        assert_eq!(
            f.consumer.as_ref().unwrap().country,
            Some(crate::tables::CountryCode(250))
        );
        let f = set_path(&f, "Consumer.OptInSurvey", "true").unwrap();
        assert_eq!(f.consumer.as_ref().unwrap().opt_in_survey, Some(true));
        let f = set_path(&f, "Consumer.Zip", "null").unwrap();
        assert_eq!(f.consumer.as_ref().unwrap().zip, None);
    }

    #[test]
    fn list_items_are_indexed_and_appended_one_at_a_time() {
        let f = set_path(&file(), "Parts[0].Reference", "REF-1").unwrap();
        let f = set_path(&f, "Parts[0].Quantity", "2").unwrap();
        let f = set_path(&f, "Parts[1].Reference", "REF-2").unwrap();
        let parts = f.parts.clone().unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].quantity, Some(2));
        assert_eq!(parts[1].reference.as_deref(), Some("REF-2"));
        let err = set_path(&f, "Parts[5].Reference", "X").unwrap_err();
        assert!(matches!(err, EditError::BadIndex { .. }), "{err}");
        assert!(err.to_string().contains("Parts[5].Reference"), "{err}");
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_known_names() {
        let err = set_path(&file(), "Consumer.Phon", "1").unwrap_err();
        assert!(matches!(err, EditError::UnknownField { ref name, .. } if name == "Phon"));
        assert!(err.to_string().contains("Phone"), "{err}");
        let err = set_path(&file(), "Serial", "1").unwrap_err();
        assert!(err.to_string().contains("SerialNumber"), "{err}");
        assert!(set_path(&file(), "SerialNumber.X", "1").is_err());
        assert!(set_path(&file(), "Consumer[0]", "1").is_err());
        assert!(set_path(&file(), "Parts.Reference", "1").is_err());
        assert!(matches!(
            set_path(&file(), "Parts[x]", "1"),
            Err(EditError::MalformedPath { .. })
        ));
        assert!(set_path(&file(), "", "1").is_err());
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_naming_the_path() {
        let err = set_path(&file(), "Consumer.Country", "France").unwrap_err();
        assert_eq!(err.path(), "Consumer.Country");
        assert!(matches!(err, EditError::BadValue { .. }), "{err}");
        let err = set_path(&file(), "Parts[0].Quantity", "two").unwrap_err();
        assert_eq!(err.path(), "Parts[0].Quantity");
    }

    #[test]
    fn the_ids_and_the_status_history_are_not_changed() {
        for path in ["InterventionId", "mandateid"] {
            let err = set_path(&file(), path, "7").unwrap_err();
            assert!(matches!(err, EditError::Immutable { .. }), "{err}");
        }
        let err = set_path(&file(), "StateNatures[0].Comment", "x").unwrap_err();
        assert!(matches!(err, EditError::Immutable { .. }), "{err}");
    }

    #[test]
    fn an_edited_text_is_read_strictly_and_checked() {
        let before = file();
        let mut text = serde_json::to_value(&before).unwrap();
        text["SerialNumber"] = "SN-1".into();
        let edited = read_edited(&before, &text.to_string()).unwrap();
        assert_eq!(edited.serial_number.as_deref(), Some("SN-1"));
        text["Consumer"] = serde_json::json!({"Country": "France"});
        let err = read_edited(&before, &text.to_string()).unwrap_err();
        assert_eq!(err.path(), "Consumer.Country", "{err}");
        text["Consumer"] = serde_json::json!({});
        text["InterventionId"] = 1.into();
        assert!(matches!(
            read_edited(&before, &text.to_string()),
            Err(EditError::Immutable { .. })
        ));
        assert!(read_edited(&before, "{").is_err());
    }
}
