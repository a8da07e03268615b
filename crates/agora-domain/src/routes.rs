//! The route table: every AgoraPlus endpoint this project speaks, with its
//! method, path and whether it is idempotent. The reference names most
//! endpoints without a path; the paths here are the project's choice
//! (docs/wire-notes.md). The HTTP client and the simulator both read this
//! one table.

/// An HTTP method of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// An AgoraPlus endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// New work orders (`?autoAccept=true|false`).
    GetNewMandates,
    /// Accepted work orders.
    GetAcceptedMandates,
    /// Create a repair file.
    CreateRepair,
    /// Update a whole repair file.
    UpdateRepair,
    /// Order the parts of a repair (`?interventionId=N`).
    PlaceRepairSparepartOrder,
    /// Logistic tracking of a repair's orders (`?interventionId=N`).
    GetSparepartOrderTracking,
    /// Create a claim (`?language=LCID&transferIfValid=bool`).
    CreateWarrantyClaims,
    /// Correct a claim (`?language=LCID&transferIfValid=bool`).
    UpdateWarrantyClaim,
    /// A claim's `LastStatus` (`?claimId=N`).
    GetWarrantyClaimStatus,
    /// Send an invoice reference.
    CreateeInvoice,
    /// Spare-parts delta (`/{ManufacturerId}/{MM-DD-YYYY}/{Language}`).
    PrintManufacturerSpareParts,
    /// Products delta (`/{ManufacturerId}/{MM-DD-YYYY}/{Language}`).
    PrintManufacturerProducts,
    /// Product search (`?manufacturerId=&keyWord=&countryCode=`).
    SearchProductByRef,
    /// Bill of materials (`?productKey=`).
    PrintBomData,
}

impl Route {
    /// Every route.
    pub const ALL: &'static [Route] = &[
        Route::GetNewMandates,
        Route::GetAcceptedMandates,
        Route::CreateRepair,
        Route::UpdateRepair,
        Route::PlaceRepairSparepartOrder,
        Route::GetSparepartOrderTracking,
        Route::CreateWarrantyClaims,
        Route::UpdateWarrantyClaim,
        Route::GetWarrantyClaimStatus,
        Route::CreateeInvoice,
        Route::PrintManufacturerSpareParts,
        Route::PrintManufacturerProducts,
        Route::SearchProductByRef,
        Route::PrintBomData,
    ];

    /// The operation's AgoraPlus name (`GetNewMandates`, `PrintBOMData`…).
    pub fn name(self) -> &'static str {
        match self {
            Self::GetNewMandates => "GetNewMandates",
            Self::GetAcceptedMandates => "GetAcceptedMandates",
            Self::CreateRepair => "CreateRepair",
            Self::UpdateRepair => "UpdateRepair",
            Self::PlaceRepairSparepartOrder => "PlaceRepairSparepartOrder",
            Self::GetSparepartOrderTracking => "GetSparepartOrderTracking",
            Self::CreateWarrantyClaims => "CreateWarrantyClaims",
            Self::UpdateWarrantyClaim => "UpdateWarrantyClaim",
            Self::GetWarrantyClaimStatus => "GetWarrantyClaimStatus",
            Self::CreateeInvoice => "CreateeInvoice",
            Self::PrintManufacturerSpareParts => "PrintManufacturerSpareParts",
            Self::PrintManufacturerProducts => "PrintManufacturerProducts",
            Self::SearchProductByRef => "SearchProductByRef",
            Self::PrintBomData => "PrintBOMData",
        }
    }

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Self::CreateRepair
            | Self::UpdateRepair
            | Self::PlaceRepairSparepartOrder
            | Self::CreateWarrantyClaims
            | Self::UpdateWarrantyClaim
            | Self::CreateeInvoice => Method::Post,
            _ => Method::Get,
        }
    }

    /// The path, with `{ManufacturerId}`, `{Date}` and `{Language}`
    /// placeholders for the two delta routes.
    pub fn path(self) -> &'static str {
        match self {
            Self::GetNewMandates => "/api/Repair/GetNewMandates",
            Self::GetAcceptedMandates => "/api/Repair/GetAcceptedMandates",
            Self::CreateRepair => "/api/Repair/CreateRepair",
            Self::UpdateRepair => "/api/Repair/UpdateRepair",
            Self::PlaceRepairSparepartOrder => "/api/Repair/PlaceRepairSparepartOrder",
            Self::GetSparepartOrderTracking => "/api/Repair/GetSparepartOrderTracking",
            Self::CreateWarrantyClaims => "/api/Repair/CreateWarrantyClaims",
            Self::UpdateWarrantyClaim => "/api/Repair/UpdateWarrantyClaim",
            Self::GetWarrantyClaimStatus => "/api/Repair/GetWarrantyClaimStatus",
            Self::CreateeInvoice => "/api/Repair/CreateeInvoice",
            Self::PrintManufacturerSpareParts => {
                "/api/Product/PrintManufacturerSpareParts/{ManufacturerId}/{Date}/{Language}"
            }
            Self::PrintManufacturerProducts => {
                "/api/Product/PrintManufacturerProducts/{ManufacturerId}/{Date}/{Language}"
            }
            Self::SearchProductByRef => "/api/Product/SearchProductByRef",
            Self::PrintBomData => "/api/Product/PrintBOMData",
        }
    }

    /// Whether sending the request twice has the effect of sending it once:
    /// the GETs, `UpdateRepair` (a whole-state update) and
    /// `UpdateWarrantyClaim` (a whole-claim correction). `GetNewMandates`
    /// with `autoAccept=true` changes state but converges: a repeat returns
    /// no order twice, and what it accepted is recovered through
    /// `GetAcceptedMandates`.
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Self::CreateRepair
                | Self::PlaceRepairSparepartOrder
                | Self::CreateWarrantyClaims
                | Self::CreateeInvoice
        )
    }

    /// Whether a claim submission on this route has, sent twice, the effect
    /// of one: a correction (`UpdateWarrantyClaim`) has, unless it asks for
    /// the transfer: once a first attempt transferred the claim, a second
    /// is refused as not correctable. A creation never has.
    pub fn is_idempotent_claim_submission(self, transfer_if_valid: bool) -> bool {
        self.is_idempotent() && !transfer_if_valid
    }

    /// Whether the route is a master-data delta: a body that may run to
    /// millions of records and minutes of transfer, read as a stream.
    pub fn is_delta(self) -> bool {
        matches!(
            self,
            Self::PrintManufacturerSpareParts | Self::PrintManufacturerProducts
        )
    }

    /// Whether the answer's data carries its own verdict (claims: the
    /// `ValidationErrors` come back as data, not as an error).
    pub fn data_carries_verdict(self) -> bool {
        matches!(self, Self::CreateWarrantyClaims | Self::UpdateWarrantyClaim)
    }

    /// Whether "no results" is an empty answer on this route: the list and
    /// search routes (work orders new and accepted, order tracking, claim
    /// tracking, the two master-data deltas, product search). There, a 404
    /// (reference 5.3.3: "No results match your request") and a success
    /// envelope whose `ResponseData` is null or missing both mean an empty
    /// result. On routes about one thing (a BOM by product key, an update of
    /// a repair file, the creations), a 404 stays "not found" and a success
    /// without data stays an error.
    pub fn no_results_is_empty(self) -> bool {
        matches!(
            self,
            Self::GetNewMandates
                | Self::GetAcceptedMandates
                | Self::GetSparepartOrderTracking
                | Self::GetWarrantyClaimStatus
                | Self::PrintManufacturerSpareParts
                | Self::PrintManufacturerProducts
                | Self::SearchProductByRef
        )
    }

    /// What a request body of this route must hold beyond what the
    /// reference marks required in its model, as dotted paths
    /// (`ClaimType.InterventionId`): what names the object an update is
    /// about, and what a creation cannot do without. Each must be present
    /// and, when a string, not blank; a request without one is incomplete
    /// (400, reference 5.3.3).
    pub fn body_requirements(self) -> &'static [&'static str] {
        match self {
            Self::CreateRepair => &[
                "ManufacturerId",
                "CommercialRef",
                "Intervention.InterventionType",
            ],
            Self::UpdateRepair => &["InterventionId"],
            Self::CreateWarrantyClaims => &["ClaimType.InterventionId"],
            Self::UpdateWarrantyClaim => &["ClaimID"],
            Self::CreateeInvoice => &["InvoiceNumber", "DraftInvoiceNumber"],
            _ => &[],
        }
    }

    /// Everything `body` lacks for this route (absent, null, or a string
    /// of blanks), as dotted paths, each once: first what the route itself
    /// needs ([`Route::body_requirements`]), then, when `marks`, what the
    /// reference marks required ([`Route::missing_marked`]). A body lacking
    /// any is incomplete (400, reference 5.3.3).
    pub fn missing_fields(self, body: &serde_json::Value, marks: bool) -> Vec<String> {
        let mut missing: Vec<String> = self
            .body_requirements()
            .iter()
            .filter(|path| lacks(at_path(body, path)))
            .map(|path| (*path).to_owned())
            .collect();
        if marks {
            for path in self.missing_marked(body) {
                if !missing.contains(&path) {
                    missing.push(path);
                }
            }
        }
        missing
    }

    /// The models of this route's request body whose fields the reference
    /// marks required (a type without ", optional"), each with the dotted
    /// path where it sits in the body (`""` for the body itself) and its
    /// marks (the models' `FIELD_MARKS`, the one record of them).
    pub fn marked_models(self) -> &'static [(&'static str, &'static [(&'static str, bool)])] {
        use crate::claim::WarrantyClaimType;
        use crate::repair::{CompleteRepairState, Consumer, Intervention};
        match self {
            Self::CreateRepair | Self::UpdateRepair => &[
                ("", CompleteRepairState::FIELD_MARKS),
                ("Consumer", Consumer::FIELD_MARKS),
                ("Intervention", Intervention::FIELD_MARKS),
            ],
            Self::CreateWarrantyClaims | Self::UpdateWarrantyClaim => {
                &[("ClaimType", WarrantyClaimType::FIELD_MARKS)]
            }
            _ => &[],
        }
    }

    /// Every field the reference marks required ([`Route::marked_models`])
    /// that `body` lacks (absent, null, or a string of blanks), as dotted
    /// paths (`Consumer.LastName`), in the models' order. A nested model
    /// the body does not hold is not looked into: whether it must be there
    /// is the route's own rule ([`Route::body_requirements`]).
    pub fn missing_marked(self, body: &serde_json::Value) -> Vec<String> {
        let mut missing = Vec::new();
        for (at, marks) in self.marked_models() {
            let model = if at.is_empty() {
                Some(body)
            } else {
                at_path(body, at)
            };
            let Some(model @ serde_json::Value::Object(_)) = model else {
                continue;
            };
            for (field, _) in marks.iter().filter(|(_, required)| *required) {
                if lacks(model.get(field)) {
                    missing.push(if at.is_empty() {
                        (*field).to_owned()
                    } else {
                        format!("{at}.{field}")
                    });
                }
            }
        }
        missing
    }

    /// The route of a method and path, matched case-insensitively as the
    /// reference's own examples do; delta paths match with their three
    /// parameters.
    pub fn match_path(method: Method, path: &str) -> Option<Route> {
        let path = path.trim_end_matches('/');
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.method() == method && r.matches(path))
    }

    /// Whether a path is this route's, whatever the method.
    pub fn matches(self, path: &str) -> bool {
        let template = self.path();
        match template.find("/{") {
            None => template.eq_ignore_ascii_case(path),
            Some(prefix_len) => {
                let prefix = &template[..prefix_len];
                path.len() > prefix_len
                    && path.is_char_boundary(prefix_len)
                    && path[..prefix_len].eq_ignore_ascii_case(prefix)
                    && path.as_bytes()[prefix_len] == b'/'
                    && path[prefix_len + 1..].split('/').count() == 3
                    && path[prefix_len + 1..].split('/').all(|s| !s.is_empty())
            }
        }
    }
}

/// What AgoraPlus answers with a 404 when nothing matches (reference
/// 5.3.3). On the routes where [`Route::no_results_is_empty`], the client
/// reads AgoraPlus's 404 (its envelope, JSON, no body, or this text) as an
/// empty result; the simulator answers with this text.
pub const NO_RESULTS_MESSAGE: &str = "No results match your request";

/// Formats the date of a delta path: month-day-year (`01-01-2020`).
pub fn delta_path_date(date: jiff::civil::Date) -> String {
    format!("{:02}-{:02}-{:04}", date.month(), date.day(), date.year())
}

/// Parses the date of a delta path (`MM-DD-YYYY`).
pub fn parse_delta_path_date(s: &str) -> Option<jiff::civil::Date> {
    let mut it = s.split('-');
    let month: i8 = it.next()?.parse().ok()?;
    let day: i8 = it.next()?.parse().ok()?;
    let year: i16 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    jiff::civil::Date::new(year, month, day).ok()
}

/// The value at a dotted path (`ClaimType.InterventionId`) of a body.
fn at_path<'a>(body: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.')
        .try_fold(body, |v, key| v.as_object().and_then(|o| o.get(key)))
}

/// Whether a field's value counts as missing: absent, null, or a string
/// of blanks.
fn lacks(value: Option<&serde_json::Value>) -> bool {
    match value {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_case_insensitively() {
        assert_eq!(
            Route::match_path(
                Method::Get,
                "/api/product/printmanufacturerproducts/19/01-01-2020/English"
            ),
            Some(Route::PrintManufacturerProducts)
        );
        assert_eq!(
            Route::match_path(Method::Get, "/Api/Repair/GetNewMandates"),
            Some(Route::GetNewMandates)
        );
        assert_eq!(
            Route::match_path(Method::Post, "/api/Repair/GetNewMandates"),
            None
        );
        assert!(Route::GetNewMandates.matches("/api/repair/getnewmandates"));
        assert_eq!(
            Route::match_path(Method::Get, "/api/Product/PrintManufacturerProducts/19"),
            None
        );
        assert_eq!(Route::match_path(Method::Get, "/nope"), None);
    }

    #[test]
    fn delta_dates_are_month_day_year() {
        let d = jiff::civil::date(2020, 1, 31);
        assert_eq!(delta_path_date(d), "01-31-2020");
        assert_eq!(parse_delta_path_date("01-31-2020"), Some(d));
        assert_eq!(parse_delta_path_date("31-01-2020"), None);
        assert_eq!(parse_delta_path_date("01-31-2020-1"), None);
    }

    #[test]
    fn no_results_is_empty_on_list_and_search_routes_only() {
        let lists: Vec<_> = Route::ALL
            .iter()
            .filter(|r| r.no_results_is_empty())
            .map(|r| r.name())
            .collect();
        assert_eq!(
            lists,
            [
                "GetNewMandates",
                "GetAcceptedMandates",
                "GetSparepartOrderTracking",
                "GetWarrantyClaimStatus",
                "PrintManufacturerSpareParts",
                "PrintManufacturerProducts",
                "SearchProductByRef"
            ]
        );
        // Every one of them is a read: an empty answer changes nothing.
        assert!(
            Route::ALL
                .iter()
                .filter(|r| r.no_results_is_empty())
                .all(|r| r.method() == Method::Get)
        );
    }

    #[test]
    fn the_non_idempotent_posts() {
        let posts: Vec<_> = Route::ALL
            .iter()
            .filter(|r| !r.is_idempotent())
            .map(|r| r.name())
            .collect();
        assert_eq!(
            posts,
            [
                "CreateRepair",
                "PlaceRepairSparepartOrder",
                "CreateWarrantyClaims",
                "CreateeInvoice"
            ]
        );
    }

    #[test]
    fn the_reference_marks_name_what_a_body_lacks_nested_models_only_when_present() {
        let bare = serde_json::json!({"ManufacturerId": 19, "CommercialRef": "  "});
        assert_eq!(
            Route::CreateRepair.missing_marked(&bare),
            ["CommercialRef", "ManufacturingCode"]
        );
        let nested = serde_json::json!({
            "CommercialRef": "EC685.B",
            "ManufacturingCode": "2301",
            "Consumer": {"Title": 3, "LastName": "Martin", "FirstName": null, "Address1": "1 rue Neuve",
                         "Zip": "69001", "Town": "Lyon", "Country": 250, "Phone": "0600000000"},
            "Intervention": {"InterventionType": 1},
        });
        assert_eq!(
            Route::UpdateRepair.missing_marked(&nested),
            ["Consumer.FirstName", "Intervention.RepairOriginCode"]
        );
        let claim = serde_json::json!({"ClaimType": {"InterventionId": 5}});
        assert_eq!(
            Route::CreateWarrantyClaims.missing_marked(&claim),
            ["ClaimType.ManufacturerId"]
        );
        assert!(
            Route::CreateWarrantyClaims
                .missing_marked(&serde_json::json!({}))
                .is_empty()
        );
        assert!(Route::CreateeInvoice.missing_marked(&bare).is_empty());
        // The route's own needs first, then the marks, each once.
        assert_eq!(
            Route::CreateRepair.missing_fields(&bare, true),
            [
                "CommercialRef",
                "Intervention.InterventionType",
                "ManufacturingCode"
            ]
        );
        assert_eq!(
            Route::CreateRepair.missing_fields(&bare, false),
            ["CommercialRef", "Intervention.InterventionType"]
        );
    }
}
