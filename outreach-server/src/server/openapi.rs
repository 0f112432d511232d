//! The OpenAPI 3.1 document of the API, written by hand (a derive macro crate would
//! cost more build time than this file). The integration tests check that every route
//! the router serves is listed here and that every listed route is served.

use serde_json::{json, Value};

/// `(method, path, summary, needs auth)` of every route.
pub const ROUTES: &[(&str, &str, &str, bool)] = &[
    (
        "post",
        "/files",
        "Upload a CSV or XLSX file (multipart field `file`)",
        true,
    ),
    (
        "post",
        "/parse_headers",
        "Headers, row count, email-column guess, cost and balance of an upload",
        true,
    ),
    ("post", "/jobs", "Reserve credits and queue a job", true),
    ("get", "/jobs", "The caller's jobs, newest first", true),
    ("get", "/jobs/{id}", "A job with its logs and timings", true),
    (
        "get",
        "/jobs/{id}/events",
        "Live progress as Server-Sent Events until the job ends",
        true,
    ),
    ("get", "/jobs/{id}/download", "The result file", true),
    (
        "get",
        "/jobs/{id}/preview",
        "The first rows of the result as JSON",
        true,
    ),
    (
        "post",
        "/jobs/{id}/retry",
        "Run a failed job again (charged again)",
        true,
    ),
    (
        "post",
        "/jobs/{id}/cancel",
        "Stop a queued or running job; unprocessed rows are refunded",
        true,
    ),
    ("get", "/me", "The caller's plan and credits", true),
    (
        "get",
        "/ledger",
        "The caller's credit ledger, newest first",
        true,
    ),
    ("get", "/plans", "Plans and add-ons for sale", false),
    (
        "post",
        "/create_checkout_session",
        "A Stripe Checkout URL for a plan or an add-on",
        true,
    ),
    (
        "post",
        "/stripe/webhook",
        "Stripe events (signed with STRIPE_WEBHOOK_SECRET)",
        false,
    ),
    ("get", "/healthz", "Liveness, including the database", false),
    ("get", "/openapi.json", "This document", false),
    (
        "post",
        "/auth/signup",
        "Create a password account (servers without Supabase Auth)",
        false,
    ),
    (
        "post",
        "/auth/login",
        "Sign in with a password (servers without Supabase Auth)",
        false,
    ),
    (
        "get",
        "/ui/config.json",
        "What the web app needs: sign-in mode, plans, defaults",
        false,
    ),
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

fn obj(properties: Value) -> Value {
    json!({ "type": "object", "properties": properties })
}

/// Request body, success status and response of each operation.
fn operation_details(method: &str, path: &str) -> (Option<Value>, &'static str, Value) {
    let string = json!({ "type": "string" });
    let int = json!({ "type": "integer" });
    let job = json!({ "$ref": "#/components/schemas/Job" });
    match (method, path) {
        ("post", "/files") => (
            Some(
                json!({ "required": true, "content": { "multipart/form-data": { "schema": obj(json!({ "file": { "type": "string", "format": "binary" } })) } } }),
            ),
            "201",
            ok(
                "Stored",
                obj(json!({ "file_path": string, "filename": string, "size": int })),
            ),
        ),
        ("post", "/parse_headers") => (
            Some(json_body(obj(json!({ "file_path": string })))),
            "200",
            ok(
                "Summary",
                obj(
                    json!({ "headers": { "type": "array", "items": string }, "rows": int, "email_column": { "type": ["string", "null"] }, "credit_cost": int, "credits_remaining": int }),
                ),
            ),
        ),
        ("post", "/jobs") => (
            Some(json_body(
                json!({ "$ref": "#/components/schemas/CreateJob" }),
            )),
            "201",
            ok(
                "Queued",
                obj(
                    json!({ "job_id": string, "status": string, "rows": int, "credits_charged": int }),
                ),
            ),
        ),
        ("get", "/jobs") => (
            None,
            "200",
            ok(
                "Jobs",
                obj(
                    json!({ "jobs": { "type": "array", "items": job }, "total": int, "offset": int, "limit": int }),
                ),
            ),
        ),
        ("get", "/jobs/{id}") => (
            None,
            "200",
            ok("Job detail (adds timing, logs, request fields)", job),
        ),
        ("get", "/jobs/{id}/events") => (
            None,
            "200",
            json!({ "description": "`event: progress` on every change, `event: done` last; data is the job's progress as JSON", "content": { "text/event-stream": {} } }),
        ),
        ("get", "/jobs/{id}/download") => (
            None,
            "200",
            json!({ "description": "The result (`<input stem>.enriched.xlsx` or `.csv`)", "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}, "text/csv": {} } }),
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
            (None, "200", ok("The job", job))
        }
        ("get", "/me") => (
            None,
            "200",
            ok(
                "Account",
                obj(
                    json!({ "user_id": string, "email": string, "plan_type": string, "credits_remaining": int, "max_credits": int, "subscription_status": string, "renewal_date": { "type": ["string", "null"], "format": "date-time" } }),
                ),
            ),
        ),
        ("get", "/ledger") => (
            None,
            "200",
            ok(
                "Entries",
                obj(
                    json!({ "entries": { "type": "array", "items": obj(json!({ "id": int, "change": int, "amount_usd": { "type": ["number", "null"] }, "reason": string, "balance_after": int, "ts": string })) }, "total": int }),
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
            Some(json_body(
                json!({ "oneOf": [obj(json!({ "plan": string })), obj(json!({ "addon": string }))] }),
            )),
            "200",
            ok("Redirect the browser here", obj(json!({ "url": string }))),
        ),
        ("post", "/stripe/webhook") => (
            Some(json_body(json!({ "type": "object" }))),
            "200",
            ok(
                "Received",
                obj(json!({ "received": { "type": "boolean" }, "applied": { "type": "boolean" } })),
            ),
        ),
        ("get", "/healthz") => (None, "200", ok("Alive", obj(json!({ "status": string })))),
        ("post", "/auth/signup") | ("post", "/auth/login") => (
            Some(json_body(obj(
                json!({ "email": string, "password": { "type": "string", "minLength": 8 } }),
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
                obj(
                    json!({ "auth": { "type": "object" }, "billing": { "type": "object" }, "service_defaults": { "type": "object" } }),
                ),
            ),
        ),
        _ => (
            None,
            "200",
            ok("OpenAPI document", json!({ "type": "object" })),
        ),
    }
}

fn operation(method: &str, path: &str, summary: &str, auth: bool) -> Value {
    let (body, status, response) = operation_details(method, path);
    let mut responses = serde_json::Map::new();
    responses.insert(status.to_string(), response);
    let mut errors = vec![("400", "Bad input")];
    if auth {
        errors.push(("401", "Missing or invalid bearer token"));
    }
    if path.contains("{id}") || path == "/parse_headers" || path == "/jobs" && method == "post" {
        errors.push(("404", "Not found (or not the caller's)"));
    }
    match (method, path) {
        ("post", "/jobs") => errors.extend([
            ("402", "Not enough credits (`needed`, `available`)"),
            ("413", "The workbook inflates beyond the limit"),
            ("422", "Unreadable file, or over a reading limit"),
            ("429", "Files are already being read for this account"),
        ]),
        ("post", "/parse_headers") => errors.extend([
            ("413", "The workbook inflates beyond the limit"),
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
        ("post", "/create_checkout_session") => {
            errors.extend([("502", "Stripe failed"), ("503", "Billing not configured")])
        }
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
    for (code, description) in errors {
        responses.insert(code.to_string(), error_response(description));
    }
    let mut op = json!({ "summary": summary, "responses": responses });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    let mut parameters = Vec::new();
    if path.contains("{id}") {
        parameters.push(
            json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }),
        );
    }
    if method == "get" && (path == "/jobs" || path == "/ledger") {
        parameters.push(json!({ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0 } }));
        parameters.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } }));
    }
    if path.ends_with("/preview") {
        parameters.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100 } }));
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if !auth {
        op["security"] = json!([]);
    }
    op
}

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, auth) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation(method, path, summary, *auth);
    }
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
                "Error": obj(json!({ "error": obj(json!({
                    "code": { "type": "string" }, "message": { "type": "string" },
                    "needed": { "type": "integer" }, "available": { "type": "integer" } })) })),
                "CreateJob": {
                    "type": "object",
                    "required": ["file_path"],
                    "properties": {
                        "file_path": { "type": "string" },
                        "email_col": { "type": ["string", "null"] },
                        "service": obj(json!({ "core_offer": { "type": "string" }, "key_differentiator": { "type": "string" }, "cta": { "type": "string" }, "timeline": { "type": "string" }, "goal": { "type": "string" }, "fallback_action": { "type": "string" } })),
                        "output_columns": { "type": ["array", "null"], "items": { "type": "string" } },
                        "format": { "enum": ["xlsx", "csv"] },
                        "limit": { "type": ["integer", "null"], "minimum": 1 },
                        "combined": { "type": "boolean" }
                    }
                },
                "Job": obj(json!({
                    "id": { "type": "string" },
                    "status": { "enum": ["queued", "in_progress", "succeeded", "failed", "cancelled"] },
                    "filename": { "type": "string" }, "rows": { "type": "integer" },
                    "rows_processed": { "type": "integer" }, "progress_percent": { "type": "number" },
                    "created_at": { "type": "string", "format": "date-time" },
                    "started_at": { "type": ["string", "null"] }, "finished_at": { "type": ["string", "null"] },
                    "error": { "type": ["string", "null"] }, "attempt": { "type": "integer" },
                    "credits_charged": { "type": "integer" }, "credits_refunded": { "type": "integer" },
                    "download_ready": { "type": "boolean" },
                    "timing": { "type": ["object", "null"] },
                    "logs": { "type": "array", "items": obj(json!({ "step": { "type": "integer" }, "total": { "type": "integer" }, "message": { "type": "string" }, "created_at": { "type": "string" } })) }
                }))
            }
        }
    })
}
