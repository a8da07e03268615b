//! The OpenAPI description of the AgoraPlus wire (feature `openapi`, off by
//! default): the schema of every wire model and code, derived from their
//! own declarations ([`WireSchema`]: each model's fields with their types
//! and the reference's required marks, each code with its known values),
//! and one operation per route of the route table, with its parameters, its
//! request body and the envelope it answers ([`agoraplus_paths`]). The
//! simulator adds its own control routes and serves the whole document.
//!
//! What a schema says is what the simulator takes and answers with its
//! default answer profile; a real AgoraPlus, or another profile, may word
//! answers otherwise (the client reads them tolerantly).

use std::collections::BTreeMap;

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    AllOfBuilder, ArrayBuilder, ContentBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, PathItem,
    Paths, Ref, RefOr, Required, ResponseBuilder, Schema, SchemaFormat, Type,
};

use crate::catalog::{
    BomLine, CreateRepairResult, InvoiceReference, PartOrderLine, Product, ProductSearchHit,
    SparePart,
};
use crate::claim::{ClaimTracking, WarrantyClaim, WarrantyClaimResult};
use crate::codes::ResponseStatus;
use crate::ids::{
    ClaimId, DraftInvoiceNumber, InterventionId, InvoiceNumber, MandateId, OrderNumber,
};
use crate::mandate::NewMandateResponseData;
use crate::money::Money;
use crate::repair::CompleteRepairState;
use crate::routes::{Method, Route};
use crate::status::StatusCode;
use crate::tables::{
    CountryCode, InterventionTypeId, LANGUAGES, Lcid, ManufacturerId, Title, TitleText,
};
use crate::time::WireDateTime;
use crate::wire::OneOrMany;

/// Named schemas, by name (`#/components/schemas/NAME`).
pub type Components = BTreeMap<String, RefOr<Schema>>;

/// The name of the API key's security scheme (reference 5.5.1).
pub const API_KEY_SCHEME: &str = "api_key";

/// A type of the wire with its OpenAPI schema.
pub trait WireSchema {
    /// The schema where a value of this type appears (a field, an array's
    /// items, a body): inline, or a reference to a named schema.
    fn schema() -> RefOr<Schema>;

    /// Adds the named schemas [`WireSchema::schema`] refers to, and theirs.
    fn components(_out: &mut Components) {}
}

/// `schema` with `doc` (a field's documentation, its lines joined) as its
/// description; a blank `doc` leaves it as it is.
pub fn described(schema: RefOr<Schema>, doc: &str) -> RefOr<Schema> {
    let doc = doc
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if doc.is_empty() {
        return schema;
    }
    match schema {
        RefOr::Ref(mut r) => {
            r.description = doc;
            RefOr::Ref(r)
        }
        RefOr::T(Schema::Object(mut o)) => {
            o.description = Some(doc);
            RefOr::T(Schema::Object(o))
        }
        RefOr::T(Schema::Array(mut a)) => {
            a.description = Some(doc);
            RefOr::T(Schema::Array(a))
        }
        RefOr::T(Schema::OneOf(mut o)) => {
            o.description = Some(doc);
            RefOr::T(Schema::OneOf(o))
        }
        other => other,
    }
}

/// The schema of a model's field of type `T`: described by `doc`; an
/// optional field also takes null (read as absent).
pub fn field<T: WireSchema>(required: bool, doc: &str) -> RefOr<Schema> {
    let schema = if required {
        // A required text holds more than blanks (`Route::missing_fields`).
        match T::schema() {
            RefOr::T(Schema::Object(mut o)) if is_plain_string(&o) => {
                o.pattern = Some(NON_BLANK.to_owned());
                RefOr::T(Schema::Object(o))
            }
            other => other,
        }
    } else {
        OneOfBuilder::new()
            .item(T::schema())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .into()
    };
    described(schema, doc)
}

/// The pattern of a text holding more than blanks.
const NON_BLANK: &str = "\\S";

/// Whether `o` is a string schema without values or pattern of its own.
fn is_plain_string(o: &utoipa::openapi::Object) -> bool {
    o.schema_type == utoipa::openapi::schema::SchemaType::Type(Type::String)
        && o.enum_values.is_none()
        && o.pattern.is_none()
}

/// A string schema taking exactly `values`.
pub fn string_enum<'a>(description: &str, values: impl Iterator<Item = &'a str>) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
            .enum_values(Some(values.map(str::to_owned)))
            .build(),
    )
}

/// An integer between `min` and `max`, with a description.
fn integer(min: i64, max: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
        .description(Some(description))
        .into()
}

/// A string holding more than blanks.
fn non_blank() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(NON_BLANK))
        .into()
}

/// A string with a description.
fn string(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .into()
}

impl WireSchema for String {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

impl WireSchema for bool {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).into()
    }
}

impl WireSchema for i64 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(i64::MIN))
            .maximum(Some(i64::MAX))
            .into()
    }
}

impl<T: WireSchema> WireSchema for Vec<T> {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new().items(T::schema()).into()
    }

    fn components(out: &mut Components) {
        T::components(out);
    }
}

/// `ResponseData` as AgoraPlus sends it: an array, or a single object.
impl<T: WireSchema> WireSchema for OneOrMany<T> {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(T::schema())
            .item(ArrayBuilder::new().items(T::schema()))
            .into()
    }

    fn components(out: &mut Components) {
        T::components(out);
    }
}

macro_rules! numeric_ids {
    ($($name:ident: $what:literal),* $(,)?) => {$(
        impl WireSchema for $name {
            fn schema() -> RefOr<Schema> {
                integer(i64::MIN, i64::MAX, $what)
            }
        }
    )*};
}

numeric_ids! {
    MandateId: "A work order's identifier in AgoraPlus.",
    InterventionId: "A repair file's identifier in AgoraPlus.",
    ClaimId: "A claim's identifier in AgoraPlus.",
}

macro_rules! text_ids {
    ($($name:ident: $what:literal),* $(,)?) => {$(
        impl WireSchema for $name {
            fn schema() -> RefOr<Schema> {
                string($what)
            }
        }
    )*};
}

text_ids! {
    OrderNumber: "A spare-part order number.",
    InvoiceNumber: "The service center's invoice number.",
    DraftInvoiceNumber: "The number of the OEM's draft invoice.",
}

impl WireSchema for ManufacturerId {
    fn schema() -> RefOr<Schema> {
        integer(
            0,
            u32::MAX.into(),
            "An OEM's AgoraPlus identifier (reference 6.3).",
        )
    }
}

impl WireSchema for InterventionTypeId {
    fn schema() -> RefOr<Schema> {
        integer(0, u32::MAX.into(), "A repair type (reference 6.4).")
    }
}

impl WireSchema for CountryCode {
    fn schema() -> RefOr<Schema> {
        integer(
            0,
            u16::MAX.into(),
            "A country as its ISO 3166 numeric code (250: France).",
        )
    }
}

impl WireSchema for Lcid {
    fn schema() -> RefOr<Schema> {
        integer(
            0,
            u32::MAX.into(),
            "A language as a Microsoft LCID (1033: English, 1036: French).",
        )
    }
}

impl WireSchema for Title {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some([1, 2, 3, 4]))
            .description(Some("1: Mrs. ; 2: Ms. ; 3: Mr. ; 4: Company."))
            .into()
    }
}

impl WireSchema for TitleText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["1", "2", "3", "4"]))
            .description(Some(
                "1: Mrs. ; 2: Ms. ; 3: Mr. ; 4: Company (as a string).",
            ))
            .into()
    }
}

impl WireSchema for WireDateTime {
    fn schema() -> RefOr<Schema> {
        // No `format`: a text that is no date is kept as it came, as
        // AgoraPlus may send one.
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "ISO 8601 (2022-05-02T08:00:00.000Z); also read without milliseconds, \
                 with an offset, without a zone, or as a bare date; another text is kept \
                 as it came.",
            ))
            .into()
    }
}

impl WireSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(-1e28))
            .maximum(Some(1e28))
            .description(Some("An amount."))
            .into()
    }
}

impl WireSchema for StatusCode {
    fn schema() -> RefOr<Schema> {
        Ref::from_schema_name("StatusCode").into()
    }

    fn components(out: &mut Components) {
        out.entry("StatusCode".to_owned()).or_insert_with(|| {
            string_enum(
                "A repair status code (reference 2.2.2).",
                StatusCode::KNOWN.iter().map(StatusCode::as_str),
            )
            .into()
        });
    }
}

/// The security scheme of the AgoraPlus routes: the account's key in the
/// `api_key` header (reference 5.5.1).
pub fn api_key_scheme() -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
        "api_key",
        "The account's key (reference 5.5.1). The AgoraPlus routes also take it as the \
         query parameter api_key (5.1), the header winning when both are sent.",
    )))
}

/// The name of the envelope schema of `route`'s answer:
/// `GetNewMandatesResponse`, as the reference names them.
pub fn envelope_name(route: Route) -> String {
    format!("{}Response", route.name())
}

/// What `route` answers in `ResponseData`: its schema and its components.
fn response_data(route: Route, out: &mut Components) -> Option<RefOr<Schema>> {
    fn of<T: WireSchema>(out: &mut Components) -> Option<RefOr<Schema>> {
        T::components(out);
        Some(T::schema())
    }
    match route {
        Route::GetNewMandates | Route::GetAcceptedMandates => {
            of::<Vec<NewMandateResponseData>>(out)
        }
        Route::CreateRepair => of::<CreateRepairResult>(out),
        Route::PlaceRepairSparepartOrder | Route::GetSparepartOrderTracking => {
            of::<Vec<PartOrderLine>>(out)
        }
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => of::<WarrantyClaimResult>(out),
        Route::GetWarrantyClaimStatus => of::<ClaimTracking>(out),
        Route::PrintManufacturerSpareParts => of::<Vec<SparePart>>(out),
        Route::PrintManufacturerProducts => of::<Vec<Product>>(out),
        Route::SearchProductByRef => of::<Vec<ProductSearchHit>>(out),
        Route::PrintBomData => of::<Vec<BomLine>>(out),
        // UpdateRepair, CreateeInvoice: no data.
        _ => None,
    }
}

/// The response envelope (reference 5.3.4) with `data` as its
/// `ResponseData` (null when `None`, and on an error).
pub fn envelope(data: Option<RefOr<Schema>>) -> Schema {
    let nullable = |t: Type| {
        ObjectBuilder::new().schema_type(
            [t, Type::Null]
                .into_iter()
                .collect::<utoipa::openapi::schema::SchemaType>(),
        )
    };
    let data: RefOr<Schema> = match data {
        Some(data) => OneOfBuilder::new()
            .item(data)
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "The answer's content; null on an error (and on an empty list where the \
                 account's answer profile says so).",
            ))
            .into(),
        None => ObjectBuilder::new()
            .schema_type(Type::Null)
            .description(Some("This route answers no data."))
            .into(),
    };
    Schema::Object(
        ObjectBuilder::new()
            .property("ResponseStatus", ResponseStatus::schema())
            .property(
                "IsValid",
                described(bool::schema(), "Whether the answer holds no error."),
            )
            .property(
                "ResponseMessage",
                nullable(Type::String).description(Some("A summary message.")),
            )
            .property(
                "ResponseErrorMessage",
                nullable(Type::String).description(Some("The error message, if any.")),
            )
            .property("ResponseData", data)
            .required("ResponseStatus")
            .required("IsValid")
            .build(),
    )
}

/// The error envelope: `ResponseStatus` E, `IsValid` false, the message.
pub fn error_envelope() -> Schema {
    envelope(None)
}

/// The schema requiring `paths` (dotted) in an object: each present, not
/// null and, when a string, holding more than blanks (`pattern` constrains
/// strings only).
fn requiring(paths: &[&str]) -> ObjectBuilder {
    let mut nested: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut object = ObjectBuilder::new();
    for path in paths {
        match path.split_once('.') {
            Some((head, rest)) => nested.entry(head).or_default().push(rest),
            None => {
                object = object.required(*path).property(
                    *path,
                    // Any type but null.
                    ObjectBuilder::new()
                        .schema_type(
                            [
                                Type::String,
                                Type::Number,
                                Type::Integer,
                                Type::Boolean,
                                Type::Object,
                                Type::Array,
                            ]
                            .into_iter()
                            .collect::<utoipa::openapi::schema::SchemaType>(),
                        )
                        .pattern(Some(NON_BLANK)),
                );
            }
        }
    }
    for (head, rest) in nested {
        object = object.required(head).property(head, requiring(&rest));
    }
    object
}

/// The suffix of a model's name as an update reads it ([`relaxed`]).
const RELAXED: &str = "Update";

/// The named schema `name` with none of its fields required, nor those of
/// the named schemas it holds, each such copy named with [`RELAXED`] after
/// its own name; a field that was required also takes null. A schema
/// without required fields anywhere within is itself.
fn relaxed(name: &str, out: &mut Components) -> RefOr<Schema> {
    let target = format!("{name}{RELAXED}");
    if out.contains_key(&target) {
        return Ref::from_schema_name(target).into();
    }
    let Some(RefOr::T(Schema::Object(mut model))) = out.get(name).cloned() else {
        return Ref::from_schema_name(name).into();
    };
    let required = std::mem::take(&mut model.required);
    let mut changed = !required.is_empty();
    for (field, schema) in model.properties.iter_mut() {
        changed |= relax_refs(schema, out);
        if required.contains(field) {
            if let RefOr::T(Schema::Object(o)) = schema {
                if o.pattern.as_deref() == Some(NON_BLANK) {
                    o.pattern = None;
                }
            }
            let nullable = OneOfBuilder::new()
                .item(schema.clone())
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .into();
            *schema = nullable;
        }
    }
    if !changed {
        return Ref::from_schema_name(name).into();
    }
    out.insert(target.clone(), RefOr::T(Schema::Object(model)));
    Ref::from_schema_name(target).into()
}

/// Points every reference within `schema` (directly, in a one-of, or as an
/// array's items) at its [`relaxed`] copy; whether any changed.
fn relax_refs(schema: &mut RefOr<Schema>, out: &mut Components) -> bool {
    match schema {
        RefOr::Ref(r) => {
            let Some(name) = r.ref_location.rsplit('/').next().map(str::to_owned) else {
                return false;
            };
            let RefOr::Ref(copy) = relaxed(&name, out) else {
                return false;
            };
            let changed = copy.ref_location != r.ref_location;
            r.ref_location = copy.ref_location;
            changed
        }
        RefOr::T(Schema::OneOf(one)) => one
            .items
            .iter_mut()
            .fold(false, |changed, item| relax_refs(item, out) | changed),
        RefOr::T(Schema::Array(array)) => match &mut array.items {
            utoipa::openapi::schema::ArrayItems::RefOrSchema(items) => relax_refs(items, out),
            utoipa::openapi::schema::ArrayItems::False => false,
        },
        _ => false,
    }
}

/// The model a request of `route` carries as its body.
fn request_body(route: Route, out: &mut Components) -> Option<RefOr<Schema>> {
    fn of<T: WireSchema>(out: &mut Components) -> RefOr<Schema> {
        T::components(out);
        T::schema()
    }
    let model = match route {
        Route::CreateRepair => of::<CompleteRepairState>(out),
        // A file fills in over its life: the simulator holds an update to
        // the reference's marks only when the account's profile says so.
        Route::UpdateRepair => {
            of::<CompleteRepairState>(out);
            relaxed("CompleteRepairState", out)
        }
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => of::<WarrantyClaim>(out),
        Route::CreateeInvoice => of::<InvoiceReference>(out),
        _ => return None,
    };
    let required = route.body_requirements();
    if required.is_empty() {
        return Some(model);
    }
    Some(
        AllOfBuilder::new()
            .item(model)
            .item(requiring(required))
            .into(),
    )
}

/// A query parameter.
fn query(
    name: &str,
    required: bool,
    schema: RefOr<Schema>,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A path parameter.
fn in_path(
    name: &str,
    schema: RefOr<Schema>,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// The `MM-DD-YYYY` date of a delta path (February 29th is taken too).
const DELTA_DATE_PATTERN: &str = "^(((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01]))|((0[469]|11)-(0[1-9]|[12][0-9]|30))|(02-(0[1-9]|1[0-9]|2[0-8])))-[0-9]{4}$";

/// The parameters of `route`.
fn parameters(route: Route) -> Vec<utoipa::openapi::path::Parameter> {
    let flag = || bool::schema();
    match route {
        Route::GetNewMandates => vec![query(
            "autoAccept",
            false,
            flag(),
            "Accept each work order and create its repair file (default false). The \
             reference also spells it AUTOACCEPTED; sent both ways, both must agree.",
        )],
        Route::PlaceRepairSparepartOrder | Route::GetSparepartOrderTracking => vec![query(
            "interventionId",
            true,
            InterventionId::schema(),
            "The repair file.",
        )],
        Route::CreateWarrantyClaims | Route::UpdateWarrantyClaim => vec![
            query(
                "language",
                false,
                Lcid::schema(),
                "The LCID of the validation messages (default 1033, English).",
            ),
            query(
                "transferIfValid",
                false,
                flag(),
                "Transfer the claim to the OEM when it is VALID (default false). The \
                 reference also spells it transferIsValid; sent both ways, both must agree.",
            ),
        ],
        Route::GetWarrantyClaimStatus => {
            vec![query("claimId", true, ClaimId::schema(), "The claim.")]
        }
        Route::PrintManufacturerSpareParts | Route::PrintManufacturerProducts => {
            let names: Vec<&str> = LANGUAGES.iter().map(|(_, n)| *n).collect();
            vec![
                in_path(
                    "ManufacturerId",
                    ManufacturerId::schema(),
                    "The OEM (reference 6.3).",
                ),
                in_path(
                    "Date",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(DELTA_DATE_PATTERN))
                        .into(),
                    "The date of the last call, MM-DD-YYYY: only what changed since is sent.",
                ),
                in_path(
                    "Language",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(format!("^([0-9]{{1,9}}|{})$", names.join("|"))))
                        .into(),
                    "The language's English name (English, French) or its LCID (1033, 1036).",
                ),
            ]
        }
        Route::SearchProductByRef => vec![
            query("manufacturerId", true, ManufacturerId::schema(), "The OEM."),
            query(
                "keyWord",
                true,
                non_blank(),
                "The product's commercial or technical reference.",
            ),
            query(
                "countryCode",
                true,
                CountryCode::schema(),
                "The market the product is sold in.",
            ),
        ],
        Route::PrintBomData => vec![query(
            "productKey",
            true,
            String::schema(),
            "The temporary product key of a search hit; it expires.",
        )],
        _ => Vec::new(),
    }
}

/// What `route` does, in a sentence.
fn summary(route: Route) -> &'static str {
    match route {
        Route::GetNewMandates => {
            "Work orders with status NEW; with autoAccept=true each is accepted and its repair file created."
        }
        Route::GetAcceptedMandates => {
            "Work orders with status ACCEPTED, each with its InterventionId."
        }
        Route::CreateRepair => "Creates a repair file without a prior work order. Not idempotent.",
        Route::UpdateRepair => {
            "Replaces the whole repair file named by InterventionId; new statuses are judged by the repair lifecycle."
        }
        Route::PlaceRepairSparepartOrder => {
            "Orders the file's parts marked ToBeOrdered. Not idempotent."
        }
        Route::GetSparepartOrderTracking => "The logistic status of each order line of the file.",
        Route::CreateWarrantyClaims => {
            "Creates a claim; the OEM's rules answer ValidationErrors in the language asked for. Not idempotent."
        }
        Route::UpdateWarrantyClaim => "Corrects the claim named by ClaimID.",
        Route::GetWarrantyClaimStatus => "The claim's LastStatus.",
        Route::CreateeInvoice => {
            "Links the service center's invoice number to a draft invoice, once. Not idempotent."
        }
        Route::PrintManufacturerSpareParts => "Spare parts changed since Date, streamed.",
        Route::PrintManufacturerProducts => "Products changed since Date, streamed.",
        Route::SearchProductByRef => {
            "Products by commercial or technical reference, each with a temporary ProductKey."
        }
        Route::PrintBomData => {
            "The bill of materials of a temporary product key (404 once it expired)."
        }
    }
}

/// The error answer every operation may give, by reference.
pub const ERROR_RESPONSE: &str = "Error";

/// The operation of `route`: parameters, body, the envelope of its answer
/// (registered in `out` as [`envelope_name`]), errors as envelopes.
pub fn operation(route: Route, out: &mut Components) -> Operation {
    let data = response_data(route, out);
    out.insert(envelope_name(route), envelope(data).into());
    ResponseStatus::components(out);
    let ok = ResponseBuilder::new()
        .description(
            "An envelope with ResponseStatus S or W (a business refusal: E, IsValid false, \
             still 200).",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(envelope_name(route))))
                .build(),
        );
    let mut op = OperationBuilder::new()
        .operation_id(Some(route.name()))
        .summary(Some(summary(route)))
        .parameters(Some(parameters(route)))
        .security(SecurityRequirement::new(
            API_KEY_SCHEME,
            Vec::<String>::new(),
        ))
        .response("200", ok)
        .response("default", Ref::from_response_name(ERROR_RESPONSE));
    if let Some(body) = request_body(route, out) {
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                )
                .build(),
        ));
    }
    op.build()
}

/// The HTTP method of the table as OpenAPI's.
pub fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
    }
}

/// Every route of the table as a path with its operation; the schemas
/// they use are added to `out`.
pub fn agoraplus_paths(out: &mut Components) -> Paths {
    let mut paths = Paths::new();
    for route in Route::ALL {
        let item = PathItem::new(http_method(route.method()), operation(*route, out));
        paths
            .paths
            .entry(route.path().to_owned())
            .or_default()
            .merge_operations(item);
    }
    paths
}
