//! The simulator's OpenAPI document, served at `GET /openapi.json` and
//! written to docs/openapi.yaml (`cargo xtask openapi`): the AgoraPlus
//! routes as agora-domain describes them from its route table and its wire
//! models, then the `/_sim` control routes ([`CONTROL_ROUTES`]).

use agora_domain::openapi::{
    API_KEY_SCHEME, Components, ERROR_RESPONSE, WireSchema, agoraplus_paths, api_key_scheme,
    error_envelope,
};
use agora_domain::{ClaimId, MandateId, MandateLightResponse, ManufacturerId, Product, SparePart};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, ComponentsBuilder, ContentBuilder, InfoBuilder, ObjectBuilder, OneOfBuilder,
    OpenApi, OpenApiBuilder, PathItem, Ref, RefOr, Required, ResponseBuilder, Schema,
    ServerBuilder, Type,
};

use crate::CONTROL_ROUTES;

/// Where the simulator serves its OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The name of the admin token's security scheme.
const ADMIN_SCHEME: &str = "admin_token";

/// The simulator's OpenAPI document.
pub fn document() -> OpenApi {
    let mut schemas = Components::new();
    let mut paths = agoraplus_paths(&mut schemas);
    for (method, path) in CONTROL_ROUTES {
        let (method, operation) = control_operation(method, path, &mut schemas);
        paths
            .paths
            .entry((*path).to_owned())
            .or_default()
            .merge_operations(PathItem::new(method, operation));
    }
    paths
        .paths
        .entry(OPENAPI_PATH.to_owned())
        .or_default()
        .merge_operations(PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .summary(Some("This document."))
                .tag("simulator")
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("The OpenAPI document of the simulator.")
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                                .build(),
                        ),
                )
                .build(),
        ));
    let mut components = ComponentsBuilder::new()
        .security_scheme(API_KEY_SCHEME, api_key_scheme())
        .security_scheme(
            ADMIN_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The simulator's admin token (--admin-token, off by default): it \
                         reaches every account's /_sim controls, the api_key header naming \
                         the account.",
                    ))
                    .build(),
            ),
        )
        .response(
            ERROR_RESPONSE,
            ResponseBuilder::new()
                .description(
                    "An AgoraPlus envelope with ResponseStatus E (400, 401, 403, 404, 405, \
                     408, 409, 413, 500, 503); a 405 names the path's method in Allow.",
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                        .build(),
                )
                .build(),
        )
        .build();
    schemas.insert("ErrorEnvelope".to_owned(), error_envelope().into());
    components.schemas = schemas.into_iter().collect();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("AgoraPlus API v2 as served by agora-sim")
                .version("2")
                .description(Some(
                    "Every route the agora simulator serves: the AgoraPlus routes (paths \
                     chosen by this project where the reference names none, see \
                     docs/wire-notes.md; matched case-insensitively) and the /_sim control \
                     routes (each scoped to the account of its api_key header, or reached \
                     with the admin token). Generated from the route table and the wire \
                     models (cargo xtask openapi); the simulator serves it at /openapi.json.",
                ))
                .build(),
        )
        .servers(Some([
            ServerBuilder::new().url("http://127.0.0.1:8787").build(),
            ServerBuilder::new()
                .url("https://preprod-api.agoraplus.com")
                .build(),
            ServerBuilder::new()
                .url("https://api.agoraplus.com")
                .build(),
        ]))
        .paths(paths)
        .components(Some(components))
        .build()
}

/// A JSON object with these properties (none required).
fn object(properties: &[(&str, RefOr<Schema>)]) -> ObjectBuilder {
    properties
        .iter()
        .fold(ObjectBuilder::new(), |o, (name, schema)| {
            o.property(*name, schema.clone())
        })
}

fn string() -> RefOr<Schema> {
    String::schema()
}

fn boolean() -> RefOr<Schema> {
    bool::schema()
}

fn any_object(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .into()
}

fn rate() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(0.0))
        .maximum(Some(1.0))
        .into()
}

fn millis() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .into()
}

/// What one control route does, takes and answers.
struct Control {
    summary: &'static str,
    params: Vec<(&'static str, RefOr<Schema>)>,
    body: Option<RefOr<Schema>>,
    answer: RefOr<Schema>,
    content: &'static str,
}

fn control(method: &str, path: &str, out: &mut Components) -> Control {
    let json = "application/json";
    let reply = |d: &str| any_object(d);
    match (method, path) {
        ("POST", "/_sim/mandates") => {
            MandateLightResponse::components(out);
            Control {
                summary: "Publishes a work order to the account (Broken: accepting it will fail).",
                params: vec![],
                body: Some(
                    object(&[
                        ("Mandate", MandateLightResponse::schema()),
                        ("Broken", boolean()),
                    ])
                    .required("Mandate")
                    .into(),
                ),
                answer: reply("{MandateId, Broken}"),
                content: json,
            }
        }
        ("POST", "/_sim/mandates/{MandateId}/broken") => Control {
            summary: "Flags a published work order broken (or mends it).",
            params: vec![("MandateId", MandateId::schema())],
            body: Some(object(&[("Broken", boolean())]).required("Broken").into()),
            answer: reply("{MandateId, Broken}"),
            content: json,
        },
        ("POST", "/_sim/claims/{ClaimID}/decision") => Control {
            summary: "The OEM decides on a transferred claim.",
            params: vec![("ClaimID", ClaimId::schema())],
            body: Some(
                object(&[
                    (
                        "LastStatus",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["NOTCONFORM", "CLOSEDACCEPTED"]))
                            .into(),
                    ),
                    ("Comment", string()),
                ])
                .required("LastStatus")
                .into(),
            ),
            answer: reply("{ClaimID, LastStatus}"),
            content: json,
        },
        ("POST", "/_sim/orders/{OrderNumber}/logistic") => Control {
            summary: "The OEM sets an order line's logistic status (202, 207, 208); without \
                      Reference, every line of the order.",
            params: vec![("OrderNumber", string())],
            body: Some(
                object(&[
                    (
                        "StatusCode",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["202", "207", "208"]))
                            .into(),
                    ),
                    ("Reference", string()),
                ])
                .required("StatusCode")
                .into(),
            ),
            answer: reply("{OrderNumber, Reference, StatusCode}"),
            content: json,
        },
        ("POST", "/_sim/invoices/draft") => Control {
            summary: "The OEM issues a draft invoice of the account's CLOSEDACCEPTED claims.",
            params: vec![],
            body: Some(
                object(&[
                    ("ManufacturerId", ManufacturerId::schema()),
                    (
                        "Csv",
                        any_object(
                            "The CSV's layout: Separator, Encoding, DecimalComma, Headers, \
                             Dates, QuoteAll.",
                        ),
                    ),
                ])
                .required("ManufacturerId")
                .into(),
            ),
            answer: reply("{DraftInvoiceNumber, ClaimIDs, Csv}"),
            content: json,
        },
        ("GET", "/_sim/invoices/{DraftInvoiceNumber}/csv") => Control {
            summary: "The CSV of a draft invoice's claims, raw, in the layout asked on the \
                      draft call.",
            params: vec![("DraftInvoiceNumber", string())],
            body: None,
            answer: ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The file's bytes; Content-Type text/csv with its charset (utf-8 or \
                     windows-1252).",
                ))
                .into(),
            content: "text/csv",
        },
        ("POST", "/_sim/catalog/{ManufacturerId}/spareparts") => {
            SparePart::components(out);
            Control {
                summary: "Publishes or changes spare parts (change date: now).",
                params: vec![("ManufacturerId", ManufacturerId::schema())],
                body: Some(ArrayBuilder::new().items(SparePart::schema()).into()),
                answer: reply("{Published}"),
                content: json,
            }
        }
        ("POST", "/_sim/catalog/{ManufacturerId}/products") => {
            Product::components(out);
            Control {
                summary: "Publishes or changes products (change date: now).",
                params: vec![("ManufacturerId", ManufacturerId::schema())],
                body: Some(ArrayBuilder::new().items(Product::schema()).into()),
                answer: reply("{Published}"),
                content: json,
            }
        }
        ("POST", "/_sim/faults") => Control {
            summary: "Sets the faults injected on the account's calls.",
            params: vec![],
            body: Some(
                object(&[
                    ("Status503Rate", rate()),
                    ("Status500Rate", rate()),
                    ("DelayMs", millis()),
                    ("SlowRate", rate()),
                    ("SlowMs", millis()),
                    ("DropAfterCommitRate", rate()),
                    ("HoldRate", rate()),
                    ("HoldMs", millis()),
                    ("RetryAfterSeconds", millis()),
                    ("Routes", ArrayBuilder::new().items(string()).into()),
                ])
                .into(),
            ),
            answer: reply("The faults in force."),
            content: json,
        },
        ("GET", "/_sim/faults") => Control {
            summary: "The faults in force on the account.",
            params: vec![],
            body: None,
            answer: reply("The faults in force."),
            content: json,
        },
        ("GET", "/_sim/state") => Control {
            summary: "The account's whole state.",
            params: vec![],
            body: None,
            answer: reply("Work orders, repair files, orders, claims, drafts, catalog."),
            content: json,
        },
        ("GET", "/_sim/accounts") => Control {
            summary: "The accounts the caller may act on: with the admin token and no \
                      api_key header every account, else the one the header names; each \
                      with whether it is locked (the console's account picker).",
            params: vec![],
            body: None,
            answer: object(&[
                ("Admin", boolean()),
                (
                    "Accounts",
                    ArrayBuilder::new()
                        .items(any_object(
                            "An account: its ApiKey and whether it is Locked.",
                        ))
                        .into(),
                ),
            ])
            .into(),
            content: json,
        },
        ("GET", "/_sim/journal") => Control {
            summary: "The account's request journal (every change applied, in order, with \
                      its intent and the record it duplicates).",
            params: vec![],
            body: None,
            answer: ArrayBuilder::new()
                .items(any_object("A journal record."))
                .into(),
            content: json,
        },
        ("POST", "/_sim/profile") => Control {
            summary: "Sets how AgoraPlus words its answers to the account (its answer profile).",
            params: vec![],
            body: Some(
                object(&[(
                    "Profile",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(SchemaType::AnyValue)
                            .description(Some(
                                "A preset's name (default, reference-style) or the options: \
                                 EmptyLists (Array, NotFound, NullData, NoData), \
                                 EmptyListsByRoute, Warning, ItemWarning, TitleLabels, \
                                 NumericLogisticCodes.",
                            ))
                            .build(),
                    )),
                )])
                .required("Profile")
                .into(),
            ),
            answer: reply("The answer profile."),
            content: json,
        },
        ("GET", "/_sim/profile") => Control {
            summary: "The account's answer profile.",
            params: vec![],
            body: None,
            answer: reply("The answer profile."),
            content: json,
        },
        ("GET", "/_sim/clock") => Control {
            summary: "The account's clock, or with the admin token and no api_key header the \
                      simulator's.",
            params: vec![],
            body: None,
            answer: reply("{Now, Frozen, Scope, OwnSetting}"),
            content: json,
        },
        ("POST", "/_sim/clock") => Control {
            summary: "Freezes, advances, sets or resumes the account's clock (the simulator's \
                      with the admin token and no api_key header).",
            params: vec![],
            body: Some(
                object(&[
                    (
                        "Action",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["freeze", "advance", "set", "resume"]))
                            .into(),
                    ),
                    (
                        "By",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some("advance only: a duration such as 2h, 90s or PT2H"))
                            .into(),
                    ),
                    (
                        "To",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some("set only: a later time"))
                            .into(),
                    ),
                ])
                .required("Action")
                .into(),
            ),
            answer: reply("{Now, Frozen, Scope, OwnSetting}"),
            content: json,
        },
        ("GET", "/_sim/autopilot") => Control {
            summary: "The account's autopilot (null when off).",
            params: vec![],
            body: None,
            answer: RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .build(),
            )),
            content: json,
        },
        ("POST", "/_sim/autopilot") => Control {
            summary: "Starts, changes or stops the account's autopilot.",
            params: vec![],
            body: Some(
                OneOfBuilder::new()
                    .item(boolean())
                    .item(any_object(
                        "The settings of the configuration file's autopilot object.",
                    ))
                    .description(Some("true (the defaults), false (off), or the settings."))
                    .into(),
            ),
            answer: RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::AnyValue)
                    .build(),
            )),
            content: json,
        },
        _ => Control {
            summary: "",
            params: vec![],
            body: None,
            answer: reply(""),
            content: json,
        },
    }
}

/// The operation of one control route.
fn control_operation(
    method: &str,
    path: &str,
    out: &mut Components,
) -> (HttpMethod, utoipa::openapi::path::Operation) {
    let c = control(method, path, out);
    let mut op = OperationBuilder::new()
        .summary(Some(c.summary))
        .tag("simulator control")
        .security(SecurityRequirement::new(
            API_KEY_SCHEME,
            Vec::<String>::new(),
        ))
        .security(SecurityRequirement::new(ADMIN_SCHEME, Vec::<String>::new()))
        .parameters(Some(c.params.into_iter().map(|(name, schema)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })))
        .response(
            "200",
            ResponseBuilder::new()
                .description("The change applied, or what was asked for.")
                .content(
                    c.content,
                    ContentBuilder::new().schema(Some(c.answer)).build(),
                ),
        )
        .response("default", Ref::from_response_name(ERROR_RESPONSE));
    if let Some(body) = c.body {
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
    let method = if method == "GET" {
        HttpMethod::Get
    } else {
        HttpMethod::Post
    };
    (method, op.build())
}
