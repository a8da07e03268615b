//! Answer profiles: how the simulated AgoraPlus words its answers to one
//! account. The default profile answers as the simulator always has (an
//! empty list is `[]`, a `ConsumerLight.Title` is a numeric string, a
//! logistic `StatusCode` a string, every envelope `S`). The options answer
//! in the other ways the reference allows, so a client can be tried
//! against them:
//!
//! - an empty list as 404 "No results match your request" (reference
//!   5.3.3), or as a success whose `ResponseData` is null or missing (every
//!   `ResponseData` is optional, 2.1.1);
//! - `W` envelopes carrying a warning, and a per-item `W` on work orders
//!   accepted through `autoAccept` (2.1.1);
//! - `ConsumerLight.Title` as its label, `"Mr."` (2.1.1 types it a string);
//! - a logistic `StatusCode` as a JSON number;
//! - one order number for all the parts of one `PlaceRepairSparepartOrder`
//!   (2.3: "a single spare part order"), answered as lines sharing it or
//!   as one object;
//! - `ResponseData` as an array of one on the routes about one thing
//!   (5.3.4.5: "ResponseData is an Array");
//! - the per-item acceptance fields of `GetNewMandates` without auto-accept
//!   present but unfilled (2.1.1: "populated in case you called … with the
//!   Autoaccept parameter"): `IsValid` false, `ResponseStatus` null,
//!   `InterventionId` 0;
//! - a refused claim's reason in its own `ErrorMessage`, `ValidationErrors`
//!   null (2.5.2);
//! - messages that echo the account's api_key;
//! - `UpdateRepair` replacing the stored file with the one received, its
//!   status history included (2.2: "allows to update the entire repair
//!   file"), instead of merging the statuses it has not seen: the update
//!   that arrives last wins;
//! - `UpdateRepair` refusing a file that lacks a field the reference marks
//!   required (2.2.1 marks them in the update's own models), as
//!   `CreateRepair` always does, instead of taking a file that fills in
//!   over its life.
//!
//! What changes the data (warnings) applies to both faces of the
//! simulator; what changes only the wording on the wire (empty lists,
//! titles, numbers) is applied by the HTTP face through
//! [`AnswerProfile::empty_list`] and [`AnswerProfile::shape_data`].

use std::collections::BTreeMap;

use agora_domain::routes::Route;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Answer, SimError};
use crate::faults::route_named;

/// How an empty list answers on a list or search route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EmptyList {
    /// 200, `S`, `ResponseData: []` (the default).
    #[default]
    Array,
    /// 404 with an `E` envelope whose `ResponseErrorMessage` is "No results
    /// match your request" (reference 5.3.3).
    NotFound,
    /// 200, `S`, `ResponseData: null`.
    NullData,
    /// 200, `S`, no `ResponseData` at all.
    NoData,
}

/// How `PlaceRepairSparepartOrder` numbers the parts it orders in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OrderNumbers {
    /// One order number per part (the default).
    #[default]
    PerLine,
    /// One order number for every part of the call: "a single spare part
    /// order" (reference 2.3).
    PerCall,
}

/// How the simulated AgoraPlus words its answers to one account
/// (`POST /_sim/profile`, or `profiles` in a configuration file). Every
/// option off is the simulator's historical behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AnswerProfile {
    /// How an empty list answers on list and search routes.
    #[serde(default)]
    pub empty_lists: EmptyList,
    /// Per route (by AgoraPlus name, a list or search route), overriding
    /// `EmptyLists`.
    #[serde(default)]
    pub empty_lists_by_route: BTreeMap<String, EmptyList>,
    /// When set, every successful answer says `W` with this message as its
    /// `ResponseMessage`.
    #[serde(default)]
    pub warning: Option<String>,
    /// When set, every work order accepted through `autoAccept` carries its
    /// own `ResponseStatus` `W` with this message.
    #[serde(default)]
    pub item_warning: Option<String>,
    /// `ConsumerLight.Title` as its label (`"Mr."`) instead of its number
    /// as a string (`"3"`).
    #[serde(default)]
    pub title_labels: bool,
    /// A logistic `StatusCode` as a JSON number (`208`) instead of a string.
    #[serde(default)]
    pub numeric_logistic_codes: bool,
    /// How the parts of one order call are numbered.
    #[serde(default)]
    pub order_numbers: OrderNumbers,
    /// `PlaceRepairSparepartOrder` answers one object, the order
    /// (`{"OrderNumber": …}`), when every part of the call has one number.
    #[serde(default)]
    pub order_as_object: bool,
    /// The routes about one thing (`CreateRepair`, the claim calls and
    /// `GetWarrantyClaimStatus`) answer `ResponseData` as an array of one.
    #[serde(default)]
    pub single_as_array: bool,
    /// `GetNewMandates` without auto-accept gives each work order its
    /// acceptance fields unfilled: `IsValid` false, `ResponseStatus` null,
    /// `InterventionId` 0.
    #[serde(default)]
    pub unfilled_item_fields: bool,
    /// A refused claim (`IsValid` false) says why in its own
    /// `ErrorMessage`, its `ValidationErrors` null.
    #[serde(default)]
    pub claim_error_message: bool,
    /// Every message (envelope and item) ends by echoing the account's
    /// api_key, as a careless server may.
    #[serde(default)]
    pub echo_key: bool,
    /// `UpdateRepair` replaces the stored file with the one received, its
    /// `StateNatures` included, instead of appending the statuses it has
    /// not seen: whatever update arrives last is the file. The statuses
    /// new to it are still judged.
    #[serde(default)]
    pub update_replaces: bool,
    /// `UpdateRepair` refuses, with a 400 naming them, a file lacking any
    /// field the reference marks required (`ManufacturingCode`, the
    /// consumer's address, `Intervention.RepairOriginCode`…), as
    /// `CreateRepair` always does. Off, an update needs only its
    /// `InterventionId`: a file made from a work order lacks what the
    /// technician fills in later.
    #[serde(default)]
    pub strict_updates: bool,
}

impl AnswerProfile {
    /// The names of the presets [`AnswerProfile::preset`] knows.
    pub const PRESETS: &'static [&'static str] = &[
        "default",
        "reference-style",
        "per-call-orders",
        "order-object",
        "array-of-one",
        "unfilled-items",
        "claim-error-message",
        "echo-key",
        "update-replaces",
        "strict-updates",
        "odd",
    ];

    /// The profile that answers in every other way the reference allows:
    /// empty lists as 404 "No results match your request" (accepted work
    /// orders and order tracking as a null `ResponseData`), `W` envelopes,
    /// per-item `W` on accepted work orders, titles as labels, numeric
    /// logistic codes.
    pub fn reference_style() -> Self {
        Self {
            empty_lists: EmptyList::NotFound,
            empty_lists_by_route: BTreeMap::from([
                (
                    Route::GetAcceptedMandates.name().to_owned(),
                    EmptyList::NullData,
                ),
                (
                    Route::GetSparepartOrderTracking.name().to_owned(),
                    EmptyList::NullData,
                ),
            ]),
            warning: Some("Answered with warnings (simulated)".to_owned()),
            item_warning: Some("Repair file created with warnings (simulated)".to_owned()),
            title_labels: true,
            numeric_logistic_codes: true,
            ..Self::default()
        }
    }

    /// Every odd shape at once: [`AnswerProfile::reference_style`], one
    /// order number per call answered as one object, arrays of one,
    /// unfilled acceptance fields, claim reasons in `ErrorMessage`, the
    /// api_key echoed in every message, and whole-file updates that
    /// replace the file and must hold every field the reference marks
    /// required.
    pub fn odd() -> Self {
        Self {
            update_replaces: true,
            strict_updates: true,
            order_numbers: OrderNumbers::PerCall,
            order_as_object: true,
            single_as_array: true,
            unfilled_item_fields: true,
            claim_error_message: true,
            echo_key: true,
            ..Self::reference_style()
        }
    }

    /// A preset by name (see [`AnswerProfile::PRESETS`]): `default`,
    /// `reference-style`, one per shape (`per-call-orders`, `order-object`,
    /// `array-of-one`, `unfilled-items`, `claim-error-message`,
    /// `echo-key`, `update-replaces`, `strict-updates`), and `odd`, every
    /// one at once.
    pub fn preset(name: &str) -> Option<Self> {
        let base = Self::default();
        Some(match name.trim() {
            "default" => base,
            "reference-style" => Self::reference_style(),
            "per-call-orders" => Self {
                order_numbers: OrderNumbers::PerCall,
                ..base
            },
            "order-object" => Self {
                order_numbers: OrderNumbers::PerCall,
                order_as_object: true,
                ..base
            },
            "array-of-one" => Self {
                single_as_array: true,
                ..base
            },
            "unfilled-items" => Self {
                unfilled_item_fields: true,
                ..base
            },
            "claim-error-message" => Self {
                claim_error_message: true,
                ..base
            },
            "echo-key" => Self {
                echo_key: true,
                ..base
            },
            "update-replaces" => Self {
                update_replaces: true,
                ..base
            },
            "strict-updates" => Self {
                strict_updates: true,
                ..base
            },
            "odd" => Self::odd(),
            _ => return None,
        })
    }

    /// Whether [`AnswerProfile::shape_data`] may change an answer's data.
    pub fn shapes_data(&self) -> bool {
        self.title_labels
            || self.numeric_logistic_codes
            || self.order_as_object
            || self.single_as_array
            || self.unfilled_item_fields
            || self.claim_error_message
            || self.echo_key
    }

    /// A profile as a configuration gives it: a preset's name, or the
    /// options as an object.
    pub fn from_setting(setting: Value) -> Result<Self, SimError> {
        let profile = match setting {
            Value::String(name) => Self::preset(&name).ok_or_else(|| {
                SimError::BadRequest(format!(
                    "no profile preset `{name}`: {}",
                    Self::PRESETS.join(", ")
                ))
            })?,
            other => agora_domain::decode_json::<Self>(other.to_string().as_bytes())
                .map_err(|e| SimError::BadRequest(format!("profile: {e}")))?,
        };
        profile.validate()?;
        Ok(profile)
    }

    /// Refuses a per-route setting for a route that does not answer a list.
    pub fn validate(&self) -> Result<(), SimError> {
        for name in self.empty_lists_by_route.keys() {
            match route_named(name) {
                Some(route) if route.no_results_is_empty() => {}
                Some(_) => {
                    return Err(SimError::BadRequest(format!(
                        "EmptyListsByRoute: {name} does not answer a list"
                    )));
                }
                None => {
                    return Err(SimError::BadRequest(format!(
                        "EmptyListsByRoute: `{name}` is not an AgoraPlus route name"
                    )));
                }
            }
        }
        Ok(())
    }

    /// How an empty answer to `route` is worded: always
    /// [`EmptyList::Array`] on a route that does not answer a list.
    pub fn empty_list(&self, route: Route) -> EmptyList {
        if !route.no_results_is_empty() {
            return EmptyList::Array;
        }
        self.empty_lists_by_route
            .iter()
            .find(|(name, _)| route.name().eq_ignore_ascii_case(name))
            .map_or(self.empty_lists, |(_, mode)| *mode)
    }

    /// The answer with its envelope as this profile words it: `W`, with the
    /// profile's warning as `ResponseMessage`, when the profile has one
    /// (an answer already warning keeps its own message).
    pub fn word_envelope<T>(&self, mut answer: Answer<T>) -> Answer<T> {
        if let Some(w) = &self.warning {
            if !answer.warning {
                answer.warning = true;
                answer.message = Some(w.clone());
            }
        }
        answer
    }

    /// Rewrites the `ResponseData` of an answer to `route` for the account
    /// of `key` as this profile words it: titles as labels in work orders,
    /// logistic codes as numbers in order lines, an order as one object,
    /// arrays of one, unfilled acceptance fields, claim reasons in
    /// `ErrorMessage`, the key echoed in messages. Values it does not
    /// recognise are left as they are.
    pub fn shape_data(&self, route: Route, data: &mut Value, key: &str) {
        match route {
            Route::GetNewMandates | Route::GetAcceptedMandates if self.title_labels => {
                for item in data.as_array_mut().into_iter().flatten() {
                    if let Some(title) = item.pointer_mut("/Mandate/Consumer/Title") {
                        if let Some(label) = title_label(title) {
                            *title = Value::String(label.to_owned());
                        }
                    }
                }
            }
            Route::GetSparepartOrderTracking | Route::PlaceRepairSparepartOrder
                if self.numeric_logistic_codes =>
            {
                for line in data.as_array_mut().into_iter().flatten() {
                    if let Some(code) = line.get_mut("StatusCode") {
                        if let Some(n) = code.as_str().and_then(|s| s.trim().parse::<u64>().ok()) {
                            *code = Value::from(n);
                        }
                    }
                }
            }
            _ => {}
        }
        match route {
            Route::GetNewMandates if self.unfilled_item_fields => {
                for item in data.as_array_mut().into_iter().flatten() {
                    unfill_acceptance(item);
                }
            }
            Route::PlaceRepairSparepartOrder if self.order_as_object => order_as_object(data),
            Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim
                if self.claim_error_message =>
            {
                reason_in_error_message(data);
            }
            _ => {}
        }
        if self.single_as_array && is_about_one_thing(route) && data.is_object() {
            *data = Value::Array(vec![data.take()]);
        }
        if self.echo_key {
            echo_in_messages(data, key);
        }
    }

    /// The envelope's message as this profile words it: with the api_key
    /// echoed when the profile says so.
    pub fn word_message(&self, message: Option<String>, key: &str) -> Option<String> {
        match message {
            Some(m) if self.echo_key => Some(echoed(&m, key)),
            other => other,
        }
    }
}

/// The routes whose `ResponseData` is about one thing.
fn is_about_one_thing(route: Route) -> bool {
    matches!(
        route,
        Route::CreateRepair
            | Route::CreateWarrantyClaims
            | Route::UpdateWarrantyClaim
            | Route::GetWarrantyClaimStatus
    )
}

/// A work order of `GetNewMandates` called without auto-accept, with its
/// acceptance fields present but unfilled, as a server that always writes
/// them does. An item that carries a verdict (auto-accept) is left alone.
fn unfill_acceptance(item: &mut Value) {
    let Some(item) = item.as_object_mut() else {
        return;
    };
    if item.get("ResponseStatus").is_some_and(|s| !s.is_null())
        || item.get("InterventionId").is_some_and(|i| !i.is_null())
    {
        return;
    }
    item.insert("IsValid".to_owned(), Value::Bool(false));
    item.insert("ResponseStatus".to_owned(), Value::Null);
    item.insert("ResponseMessage".to_owned(), Value::Null);
    item.insert("InterventionId".to_owned(), Value::from(0));
}

/// Order lines that all share one order number, answered as that one
/// order: `{"OrderNumber": …}`, the parts left to tracking.
fn order_as_object(data: &mut Value) {
    let Some(lines) = data.as_array() else {
        return;
    };
    let mut numbers: Vec<&Value> = lines.iter().filter_map(|l| l.get("OrderNumber")).collect();
    numbers.dedup();
    if let [number] = numbers[..] {
        let mut order = serde_json::Map::new();
        order.insert("OrderNumber".to_owned(), number.clone());
        *data = Value::Object(order);
    }
}

/// A refused claim's findings said in its own `ErrorMessage`, one
/// sentence each, `ValidationErrors` null.
fn reason_in_error_message(data: &mut Value) {
    let Some(result) = data.as_object_mut() else {
        return;
    };
    if result.get("IsValid") != Some(&Value::Bool(false)) {
        return;
    }
    let findings = result
        .get("ValidationErrors")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .map(|v| {
                    let field = v.get("Field").and_then(Value::as_str).unwrap_or("");
                    let message = v.get("ErrorMessage").and_then(Value::as_str).unwrap_or("");
                    format!("{field}: {message}")
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if findings.is_empty() {
        return;
    }
    result.insert("ErrorMessage".to_owned(), Value::String(findings));
    result.insert("ValidationErrors".to_owned(), Value::Null);
}

/// Every message field (`ResponseMessage`, `ResponseErrorMessage`,
/// `ErrorMessage`), at any depth, with the api_key echoed at its end.
fn echo_in_messages(data: &mut Value, key: &str) {
    match data {
        Value::Array(items) => items.iter_mut().for_each(|v| echo_in_messages(v, key)),
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                match value {
                    Value::String(text)
                        if matches!(
                            name.as_str(),
                            "ResponseMessage" | "ResponseErrorMessage" | "ErrorMessage"
                        ) =>
                    {
                        *text = echoed(text, key);
                    }
                    other => echo_in_messages(other, key),
                }
            }
        }
        _ => {}
    }
}

/// A message with the api_key echoed at its end.
fn echoed(message: &str, key: &str) -> String {
    format!("{message} (api_key {key})")
}

/// The label of a title number (reference 2.1.1, `ConsumerLight.Title`:
/// "1 : Mrs. ; 2 : Ms. ; 3 : Mr. ; 4 : Company"), from the domain's table.
fn title_label(title: &Value) -> Option<&'static str> {
    agora_domain::Title::from_any(title)?.label()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_profile_changes_nothing() {
        let p = AnswerProfile::default();
        for route in Route::ALL {
            assert_eq!(p.empty_list(*route), EmptyList::Array);
        }
        let mut data = json!([{"Mandate": {"Consumer": {"Title": "3"}}, "StatusCode": "208"}]);
        let before = data.clone();
        p.shape_data(Route::GetNewMandates, &mut data, "k");
        p.shape_data(Route::GetSparepartOrderTracking, &mut data, "k");
        assert_eq!(data, before);
    }

    #[test]
    fn reference_style_words_titles_codes_and_empty_lists() {
        let p = AnswerProfile::reference_style();
        assert_eq!(p.empty_list(Route::GetNewMandates), EmptyList::NotFound);
        assert_eq!(
            p.empty_list(Route::GetAcceptedMandates),
            EmptyList::NullData
        );
        assert_eq!(p.empty_list(Route::PrintBomData), EmptyList::Array);
        assert_eq!(p.empty_list(Route::UpdateRepair), EmptyList::Array);
        let mut mandates = json!([
            {"Mandate": {"Consumer": {"Title": "3"}}},
            {"Mandate": {"Consumer": {"Title": 1}}},
            {"Mandate": {"Consumer": {"Title": "9"}}},
            {"Mandate": {}}
        ]);
        p.shape_data(Route::GetAcceptedMandates, &mut mandates, "k");
        assert_eq!(mandates[0]["Mandate"]["Consumer"]["Title"], "Mr.");
        assert_eq!(mandates[1]["Mandate"]["Consumer"]["Title"], "Mrs.");
        assert_eq!(mandates[2]["Mandate"]["Consumer"]["Title"], "9");
        let mut lines = json!([{"StatusCode": "208"}, {"StatusCode": null}, {}]);
        p.shape_data(Route::GetSparepartOrderTracking, &mut lines, "k");
        assert_eq!(
            lines,
            json!([{"StatusCode": 208}, {"StatusCode": null}, {}])
        );
    }

    #[test]
    fn settings_name_a_preset_or_give_options_and_are_checked() {
        assert_eq!(
            AnswerProfile::from_setting(json!("reference-style")).unwrap(),
            AnswerProfile::reference_style()
        );
        let p = AnswerProfile::from_setting(json!({
            "EmptyLists": "NullData", "EmptyListsByRoute": {"getnewmandates": "NotFound"}
        }))
        .unwrap();
        assert_eq!(p.empty_list(Route::GetNewMandates), EmptyList::NotFound);
        assert_eq!(p.empty_list(Route::SearchProductByRef), EmptyList::NullData);
        for bad in [
            json!("loud"),
            json!({"EmptyLists": "Sometimes"}),
            json!({"Titles": true}),
            json!({"EmptyListsByRoute": {"PrintBOMData": "NotFound"}}),
            json!({"EmptyListsByRoute": {"Nope": "NotFound"}}),
        ] {
            let err = AnswerProfile::from_setting(bad.clone()).unwrap_err();
            assert!(matches!(err, SimError::BadRequest(_)), "{bad}: {err:?}");
        }
    }
}
