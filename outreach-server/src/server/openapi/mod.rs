//! The OpenAPI 3.1 document, generated: the schemas come from the request and response
//! types (`#[derive(ToSchema)]`), the operations from the handlers' `#[utoipa::path]`
//! annotations, and the paths from the router itself: every API route is registered
//! with `utoipa_axum::routes!`, which adds the handler and its documentation in one
//! call ([`ApiRouter`]), so a route cannot be served undocumented and a documented one
//! cannot be missing. `tests/openapi.rs` checks both directions against the served
//! router; `scripts/test-openapi.sh` runs schemathesis over the document against a real
//! server (every status documented, every response matching its schema, no server
//! error).
//!
//! What the annotations share lives here: the error body, the groups of error statuses
//! every route of a kind can answer ([`Authed`], [`Timed`], [`JsonBody`],
//! [`ShortOfCredits`], [`JobStateConflict`], …), the links
//! from a created job to the operations on it, and the security scheme.

pub mod schemas;

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// The API's routers are utoipa-axum routers: `routes!(handler)` registers the route
/// and its operation together.
pub type ApiRouter<S> = OpenApiRouter<S>;

/// The security scheme's name in the document (`security(("bearer" = []))`).
pub const BEARER: &str = "bearer";

/// Every error body: `{"error": {"code", "message", …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`insufficient_credits`, `not_found`, …).
    pub code: String,
    /// For people.
    pub message: String,
    /// 402: credits the job needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needed: Option<i64>,
    /// 402: credits the account has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
}

/// The document's frame: title, version, the error schema and the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "outreach API",
        description = "Turn prospect lists (CSV/XLSX) into research-backed, personalized openers. One credit per row.\n\nThe paths under `/api/` are canonical. The same operations answer at the paths without the prefix (`/jobs`, `/me`, …), kept as aliases for existing clients."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// A response whose body is the [`ErrorBody`].
pub fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ErrorBody::schema_ref()))
                .build(),
        )
        .build()
        .into()
}

trait SchemaRef {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema>;
}

impl<T: ToSchema> SchemaRef for T {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
    }
}

/// A group of error statuses with their descriptions, for `responses(…)`.
macro_rules! error_group {
    ($(#[$doc:meta])* $name:ident: $(($status:literal, $description:literal)),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$(($status.to_string(), error_response($description))),+])
            }
        }
    };
}

error_group!(
    /// Needs a bearer token.
    Authed: ("401", "Missing or invalid bearer token")
);
error_group!(
    /// Runs under `OUTREACH_REQUEST_TIMEOUT_SECS`.
    Timed: ("408", "The request took longer than OUTREACH_REQUEST_TIMEOUT_SECS")
);
error_group!(
    /// Takes a JSON body (or query parameters): malformed → 400, over the limit → 413.
    JsonBody: ("400", "Bad input"), ("413", "The body is larger than the JSON limit")
);
error_group!(
    /// Takes query parameters or is a POST without a JSON body.
    BadInput: ("400", "Bad input")
);
error_group!(
    /// Names a job (or an upload) that must be the caller's.
    NotFound: ("404", "Not found (or not the caller's)")
);
error_group!(
    /// Spends credits (creating or retrying a job).
    ShortOfCredits: ("402", "Not enough credits (`needed`, `available`)")
);
error_group!(
    /// Changes a job's state (retry, cancel), which its current state may not allow.
    JobStateConflict: ("409", "The job is not in a state that allows this")
);
error_group!(
    /// Reads a job's result, which exists only once the job succeeded.
    NoResultYet: ("409", "The job has no result yet")
);
error_group!(
    /// Reads an uploaded file.
    ReadsUpload:
        ("413", "The body is larger than the JSON limit, or the workbook inflates beyond the limit"),
        ("415", "Not .csv or .xlsx"),
        ("422", "Unreadable file, or over a reading limit"),
        ("429", "Files are already being read for this account"),
);

/// The document of a router built from [`ApiRouter`]s, with the frame of [`ApiDoc`].
pub fn document_of<S: Clone + Send + Sync + 'static>(
    router: ApiRouter<S>,
) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(router.into_openapi());
    doc
}

/// The generated document, as served by `GET /openapi.json` (an extension of the
/// router: the document is complete only once every route is registered).
#[derive(Debug, Clone)]
/// Serialized once when the app is built.
pub struct OpenApiDocument(pub axum::body::Bytes);
