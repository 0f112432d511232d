//! The OpenAPI 3.1 document of the API, written by hand (a derive macro crate would
//! cost more build time than this file). The integration tests check that every route
//! the router serves is listed here and that every listed route is served;
//! `scripts/test-openapi.sh` runs schemathesis over it against a real server (every
//! status documented, every response matching its schema, no server error).

use serde_json::{json, Value};

use super::extract::Page;
use super::web::local_auth::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};

/// One operation of the API. Adding a route to the document is one line here (plus
/// its body and success response in `operation_details` if they are not the default);
/// `tests/api_access.rs` fails while a served route is missing.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Unique; OpenAPI links name operations by it.
    pub operation_id: &'static str,
    pub summary: &'static str,
    /// Needs a bearer token (401 without one).
    pub auth: bool,
    /// Runs under `OUTREACH_REQUEST_TIMEOUT_SECS` (408 when it runs out).
    pub timed: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    auth: bool,
    timed: bool,
) -> Route {
    Route {
        method,
        path,
        operation_id,
        summary,
        auth,
        timed,
    }
}

const AUTH: bool = true;
const PUBLIC: bool = false;
const TIMED: bool = true;
const STREAMS: bool = false;

/// Every operation of the API.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("post", "/files", "uploadFile", "Upload a CSV or XLSX file (multipart field `file`)", AUTH, STREAMS),
    route("post", "/parse_headers", "parseHeaders", "Headers, row count, email-column guess, cost and balance of an upload", AUTH, TIMED),
    route("post", "/jobs", "createJob", "Reserve credits and queue a job", AUTH, TIMED),
    route("get", "/jobs", "listJobs", "The caller's jobs, newest first", AUTH, TIMED),
    route("get", "/jobs/{id}", "getJob", "A job with its logs and timings", AUTH, TIMED),
    route("get", "/jobs/{id}/events", "jobEvents", "Live progress as Server-Sent Events until the job ends", AUTH, STREAMS),
    route("get", "/jobs/{id}/download", "downloadResult", "The result file", AUTH, STREAMS),
    route("get", "/jobs/{id}/preview", "previewResult", "The first rows of the result as JSON", AUTH, TIMED),
    route("post", "/jobs/{id}/retry", "retryJob", "Run a failed job again (charged again)", AUTH, TIMED),
    route("post", "/jobs/{id}/cancel", "cancelJob", "Stop a queued or running job; unprocessed rows are refunded", AUTH, TIMED),
    route("get", "/me", "getAccount", "The caller's plan and credits", AUTH, TIMED),
    route("get", "/ledger", "listLedger", "The caller's credit ledger, newest first", AUTH, TIMED),
    route("get", "/plans", "listPlans", "Plans and add-ons for sale", PUBLIC, TIMED),
    route("post", "/create_checkout_session", "createCheckoutSession", "A Stripe Checkout URL for a plan or an add-on", AUTH, TIMED),
    route("post", "/stripe/webhook", "stripeWebhook", "Stripe events (signed with STRIPE_WEBHOOK_SECRET)", PUBLIC, TIMED),
    route("get", "/healthz", "health", "Liveness, including the database", PUBLIC, TIMED),
    route("get", "/openapi.json", "openapi", "This document", PUBLIC, STREAMS),
    route("post", "/auth/signup", "signup", "Create a password account (servers without Supabase Auth)", PUBLIC, TIMED),
    route("post", "/auth/login", "login", "Sign in with a password (servers without Supabase Auth)", PUBLIC, TIMED),
    route("get", "/ui/config.json", "uiConfig", "What the web app needs: sign-in mode, plans, defaults", PUBLIC, TIMED),
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// A response object: every property listed is always present.
fn obj(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({ "type": "object", "properties": properties, "required": required })
}

/// A request object as strict as the server's validation: listed properties only
/// (`deny_unknown_fields`), `required` as given.
fn strict(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// OpenAPI links from a response that names a job (`$response.body#/{field}`) to the
/// operations on that job, so clients and fuzzers can follow them.
fn job_links(field: &str) -> Value {
    let id = json!({ "id": format!("$response.body#/{field}") });
    let mut links = serde_json::Map::new();
    for (name, operation_id) in [
        ("GetJob", "getJob"),
        ("JobEvents", "jobEvents"),
        ("DownloadResult", "downloadResult"),
        ("PreviewResult", "previewResult"),
        ("RetryJob", "retryJob"),
        ("CancelJob", "cancelJob"),
    ] {
        links.insert(
            name.into(),
            json!({ "operationId": operation_id, "parameters": id }),
        );
    }
    Value::Object(links)
}

/// Request body, success status and response of each operation.
fn operation_details(method: &str, path: &str) -> (Option<Value>, &'static str, Value) {
    let string = json!({ "type": "string" });
    let int = json!({ "type": "integer" });
    let count = json!({ "type": "integer", "minimum": 0 });
    let nullable_string = json!({ "type": ["string", "null"] });
    let timestamp = json!({ "type": "string", "format": "date-time" });
    let nullable_timestamp = json!({ "type": ["string", "null"], "format": "date-time" });
    let summary = json!({ "$ref": "#/components/schemas/JobSummary" });
    let email = json!({ "type": "string", "minLength": 3, "maxLength": 254, "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$" });
    match (method, path) {
        ("post", "/files") => {
            let mut created = ok(
                "Stored",
                obj(json!({ "file_path": string, "filename": string, "size": count })),
            );
            let file_path = json!({ "file_path": "$response.body#/file_path" });
            created["links"] = json!({
                "ParseHeaders": { "operationId": "parseHeaders", "requestBody": file_path },
                "CreateJob": { "operationId": "createJob", "requestBody": file_path },
            });
            (
                Some(
                    json!({ "required": true, "content": { "multipart/form-data": {
                    "schema": { "type": "object", "required": ["file"],
                        "properties": { "file": { "type": "string", "format": "binary" } } } } } }),
                ),
                "201",
                created,
            )
        }
        ("post", "/parse_headers") => (
            Some(json_body(strict(
                json!({ "file_path": string }),
                &["file_path"],
            ))),
            "200",
            ok(
                "Summary",
                obj(
                    json!({ "headers": { "type": "array", "items": string }, "rows": count, "email_column": nullable_string, "credit_cost": count, "credits_remaining": int }),
                ),
            ),
        ),
        ("post", "/jobs") => {
            let mut created = ok(
                "Queued",
                obj(
                    json!({ "job_id": string, "status": { "$ref": "#/components/schemas/JobStatus" }, "rows": count, "credits_charged": int }),
                ),
            );
            created["links"] = job_links("job_id");
            (
                Some(json_body(
                    json!({ "$ref": "#/components/schemas/CreateJob" }),
                )),
                "201",
                created,
            )
        }
        ("get", "/jobs") => (
            None,
            "200",
            ok(
                "Jobs",
                obj(
                    json!({ "jobs": { "type": "array", "items": summary }, "total": count, "offset": count, "limit": count }),
                ),
            ),
        ),
        ("get", "/jobs/{id}") => (
            None,
            "200",
            ok(
                "Job detail (the summary plus the request, timings and logs)",
                json!({ "$ref": "#/components/schemas/JobDetail" }),
            ),
        ),
        ("get", "/jobs/{id}/events") => (
            None,
            "200",
            json!({ "description": "`event: progress` on every change, `event: done` last (`event: error` if the job cannot be read); data is the job's progress as JSON", "content": { "text/event-stream": { "schema": {
                "type": "object", "required": ["event", "data"],
                "properties": { "event": { "enum": ["progress", "done", "error"] }, "data": { "type": "string", "contentMediaType": "application/json" } } } } } }),
        ),
        ("get", "/jobs/{id}/download") => (
            None,
            "200",
            json!({ "description": "The result (`<input stem>.enriched.xlsx` or `.csv`)", "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { "schema": { "type": "string", "format": "binary" } },
            "text/csv": { "schema": { "type": "string" } } } }),
        ),
        ("get", "/jobs/{id}/preview") => (
            None,
            "200",
            ok(
                "First rows",
                obj(
                    json!({ "headers": { "type": "array", "items": string }, "rows": { "type": "array", "items": { "type": "array", "items": string } } }),
                ),
            ),
        ),
        ("post", "/jobs/{id}/retry") | ("post", "/jobs/{id}/cancel") => {
            (None, "200", ok("The job", summary))
        }
        ("get", "/me") => (
            None,
            "200",
            ok(
                "Account",
                json!({ "type": "object", "required": ["user_id", "email", "plan_type", "credits_remaining", "max_credits", "subscription_status"],
                    "properties": { "user_id": string, "email": string, "plan_type": string, "credits_remaining": count, "credit_debt": count, "max_credits": int, "subscription_status": string, "renewal_date": nullable_timestamp } }),
            ),
        ),
        ("get", "/ledger") => (
            None,
            "200",
            ok(
                "Entries",
                obj(
                    json!({ "entries": { "type": "array", "items": { "type": "object", "required": ["id", "change", "reason", "balance_after", "ts"],
                        "properties": { "id": int, "change": int, "amount_usd": { "type": ["number", "null"] }, "reason": string, "balance_after": count, "ts": timestamp } } }, "total": count }),
                ),
            ),
        ),
        ("get", "/plans") => (
            None,
            "200",
            ok(
                "Catalog",
                obj(json!({ "plans": { "type": "array" }, "addons": { "type": "array" } })),
            ),
        ),
        ("post", "/create_checkout_session") => (
            Some(json_body(json!({ "oneOf": [
                strict(json!({ "plan": string }), &["plan"]),
                strict(json!({ "addon": string }), &["addon"]),
            ] }))),
            "200",
            ok("Redirect the browser here", obj(json!({ "url": string }))),
        ),
        ("post", "/stripe/webhook") => (
            Some(json_body(json!({ "type": "object" }))),
            "200",
            ok(
                "Received",
                json!({ "type": "object", "required": ["received", "applied"], "properties": { "received": { "type": "boolean" }, "applied": { "type": "boolean" }, "reason": string } }),
            ),
        ),
        ("get", "/healthz") => (None, "200", ok("Alive", obj(json!({ "status": string })))),
        ("post", "/auth/signup") | ("post", "/auth/login") => (
            Some(json_body(strict(
                json!({ "email": email, "password": { "type": "string", "minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_BYTES } }),
                &["email", "password"],
            ))),
            if path == "/auth/signup" { "201" } else { "200" },
            ok(
                "A session",
                obj(
                    json!({ "access_token": string, "token_type": string, "expires_in": int, "user": obj(json!({ "id": string, "email": string })) }),
                ),
            ),
        ),
        ("get", "/ui/config.json") => (
            None,
            "200",
            ok(
                "Web app configuration",
                json!({ "type": "object", "properties": { "auth": { "type": "object" }, "billing": { "type": "object" }, "service_defaults": { "type": "object" } } }),
            ),
        ),
        _ => (
            None,
            "200",
            ok("OpenAPI document", json!({ "type": "object" })),
        ),
    }
}

/// Every error status the operation can answer, from what it does (auth, body, path,
/// query, timeout) and what its handler refuses.
fn error_statuses(route: &Route, has_json_body: bool) -> Vec<(&'static str, &'static str)> {
    let (method, path) = (route.method, route.path);
    let mut errors = Vec::new();
    let has_query =
        method == "get" && (path == "/jobs" || path == "/ledger" || path.ends_with("/preview"));
    if has_json_body || has_query || method == "post" {
        errors.push(("400", "Bad input"));
    }
    if route.auth {
        errors.push(("401", "Missing or invalid bearer token"));
    }
    if path.contains("{id}") || path == "/parse_headers" || (path == "/jobs" && method == "post") {
        errors.push(("404", "Not found (or not the caller's)"));
    }
    if route.timed {
        errors.push((
            "408",
            "The request took longer than OUTREACH_REQUEST_TIMEOUT_SECS",
        ));
    }
    if has_json_body {
        errors.push(("413", "The body is larger than the JSON limit"));
    }
    match (method, path) {
        ("post", "/jobs") => errors.extend([
            ("402", "Not enough credits (`needed`, `available`)"),
            ("409", "A job with this id exists"),
            (
                "413",
                "The body is larger than the JSON limit, or the workbook inflates beyond the limit",
            ),
            ("415", "Not .csv or .xlsx"),
            ("422", "Unreadable file, or over a reading limit"),
            ("429", "Files are already being read for this account"),
        ]),
        ("post", "/parse_headers") => errors.extend([
            (
                "413",
                "The body is larger than the JSON limit, or the workbook inflates beyond the limit",
            ),
            ("415", "Not .csv or .xlsx"),
            ("422", "Unreadable file, or over a reading limit"),
            ("429", "Files are already being read for this account"),
        ]),
        ("post", "/files") => errors.extend([
            ("413", "Larger than OUTREACH_MAX_UPLOAD_BYTES"),
            ("415", "Not .csv or .xlsx"),
        ]),
        ("post", p) if p.ends_with("/retry") || p.ends_with("/cancel") => {
            errors.push(("409", "The job is not in a state that allows this"))
        }
        ("get", p) if p.ends_with("/events") => errors.push((
            "429",
            "Five event streams are already open for this account",
        )),
        ("get", p) if p.ends_with("/download") || p.ends_with("/preview") => {
            errors.push(("409", "The job has no result yet"))
        }
        ("get", "/me") | ("get", "/ledger") => errors.push(("404", "No account")),
        ("post", "/create_checkout_session") => errors.extend([
            ("404", "No account"),
            ("502", "Stripe failed"),
            ("503", "Billing not configured"),
        ]),
        ("post", "/stripe/webhook") => errors.extend([
            ("404", "The event names an account that does not exist"),
            ("503", "Billing not configured (no STRIPE_WEBHOOK_SECRET)"),
        ]),
        ("get", "/healthz") => errors.push(("503", "Database unreachable")),
        ("post", "/auth/signup") => errors.extend([
            ("409", "An account with this email exists"),
            ("429", "Too many attempts from this address"),
            ("503", "Sign-in goes through Supabase on this server"),
        ]),
        ("post", "/auth/login") => errors.extend([
            ("401", "Wrong email or password"),
            ("429", "Too many failed attempts (`Retry-After`)"),
            ("503", "Sign-in goes through Supabase on this server"),
        ]),
        _ => {}
    }
    errors
}

fn operation(route: &Route) -> Value {
    let (method, path) = (route.method, route.path);
    let (body, status, response) = operation_details(method, path);
    let has_json_body = body
        .as_ref()
        .is_some_and(|b| b["content"].get("application/json").is_some());
    let mut responses = serde_json::Map::new();
    responses.insert(status.to_string(), response);
    // The last description of a status wins (the route's own over the generic one).
    for (code, description) in error_statuses(route, has_json_body) {
        responses.insert(code.to_string(), error_response(description));
    }
    let mut op = json!({ "operationId": route.operation_id, "summary": route.summary, "responses": responses });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    let mut parameters = Vec::new();
    if path.contains("{id}") {
        parameters.push(
            json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "minLength": 1 } }),
        );
    }
    if method == "get" && (path == "/jobs" || path == "/ledger") {
        parameters.push(json!({ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": i64::MAX } }));
        parameters.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": Page::MAX_LIMIT } }));
    }
    if path.ends_with("/preview") {
        parameters.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } }));
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if !route.auth {
        op["security"] = json!([]);
    }
    op
}

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation(route);
    }
    let nullable_string = json!({ "type": ["string", "null"] });
    let nullable_timestamp = json!({ "type": ["string", "null"], "format": "date-time" });
    let summary_properties = json!({
        "id": { "type": "string" },
        "status": { "$ref": "#/components/schemas/JobStatus" },
        "filename": { "type": "string" },
        "rows": { "type": "integer", "minimum": 0 },
        "rows_processed": { "type": "integer", "minimum": 0 },
        "progress_percent": { "type": "number", "minimum": 0, "maximum": 100 },
        "created_at": { "type": "string", "format": "date-time" },
        "started_at": nullable_timestamp, "finished_at": nullable_timestamp,
        "error": nullable_string,
        "attempt": { "type": "integer", "minimum": 1 },
        "format": { "enum": ["xlsx", "csv"] },
        "credits_charged": { "type": "integer" }, "credits_refunded": { "type": "integer" },
        "download_ready": { "type": "boolean" }
    });
    let summary_required: Vec<String> = summary_properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut detail_properties = summary_properties.clone();
    if let Some(detail) = detail_properties.as_object_mut() {
        detail.insert("email_col".into(), json!({ "type": "string" }));
        detail.insert(
            "output_columns".into(),
            json!({ "type": ["array", "null"], "items": { "type": "string" } }),
        );
        detail.insert("limit".into(), json!({ "type": ["integer", "null"] }));
        detail.insert("combined".into(), json!({ "type": "boolean" }));
        detail.insert("service".into(), json!({ "type": "object" }));
        detail.insert("timing".into(), json!({ "type": ["object", "null"] }));
        detail.insert("logs".into(), json!({ "type": "array", "items": obj(json!({ "step": { "type": "integer" }, "total": { "type": "integer" }, "message": { "type": "string" }, "created_at": { "type": "string", "format": "date-time" } })) }));
    }
    let mut detail_required = summary_required.clone();
    detail_required.extend(["service".to_string(), "logs".to_string()]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "outreach API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Turn prospect lists (CSV/XLSX) into research-backed, personalized openers. One credit per row."
        },
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "Error": obj(json!({ "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string" }, "message": { "type": "string" },
                    "needed": { "type": "integer" }, "available": { "type": "integer" },
                    "retry_after": { "type": "integer" } } } })),
                "JobStatus": { "enum": ["queued", "in_progress", "succeeded", "failed", "cancelled"] },
                "CreateJob": strict(json!({
                    "file_path": { "type": "string", "minLength": 1 },
                    "email_col": nullable_string,
                    "service": { "type": "object", "properties": {
                        "core_offer": { "type": "string" }, "key_differentiator": { "type": "string" },
                        "cta": { "type": "string" }, "timeline": { "type": "string" },
                        "goal": { "type": "string" }, "fallback_action": { "type": "string" } } },
                    "output_columns": { "type": ["array", "null"], "items": { "type": "string" } },
                    "format": { "enum": ["xlsx", "csv", null] },
                    "limit": { "type": ["integer", "null"], "minimum": 1, "maximum": u64::MAX },
                    "combined": { "type": "boolean" },
                    "subject_template": { "type": ["string", "null"], "description": "MiniJinja template of the email subject (with body_template)" },
                    "body_template": { "type": ["string", "null"], "description": "MiniJinja template of the email body" },
                    "variants": { "type": "array", "items": { "type": "object", "required": ["subject", "body"], "properties": {
                        "name": { "type": "string" }, "subject": { "type": "string" }, "body": { "type": "string" },
                        "weight": { "type": "integer", "minimum": 0, "maximum": u32::MAX } } } },
                    "variant_seed": { "type": ["string", "null"] },
                    "suppress": { "type": "array", "items": { "type": "string" }, "description": "do-not-contact entries for this run: emails, domains, @domains" }
                }), &["file_path"]),
                "JobSummary": { "type": "object", "properties": summary_properties, "required": summary_required },
                "JobDetail": { "type": "object", "properties": detail_properties, "required": detail_required }
            }
        }
    })
}
