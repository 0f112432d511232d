//! The generated OpenAPI document against the router that serves it:
//!
//! - the routes are read from the router itself (its `Debug` output names every path
//!   and the methods it allows), never from a hand-written list: every served API route
//!   is documented and every documented operation is served, with the auth it claims;
//! - the links name operations that exist, and the examples in the document validate
//!   against their own schemas;
//! - real responses of a whole flow (upload → parse → create → detail → events → list)
//!   validate against the document's schemas.
//!
//! The validator below understands the subset of JSON Schema the document uses
//! (`type`, `properties`, `required`, `additionalProperties: false`, `enum`, bounds,
//! `items`, `$ref`, `oneOf`), so a schema that drifts from what the server sends fails
//! here before schemathesis runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use outreach_server::server::web::assets::PAGES;
use serde_json::{json, Value};
use support::*;

/// `(method, path)` of every route the router serves, from its `Debug` output:
/// `RouteId(n): MethodRouter(MethodRouter { …, allow_header: Bytes(b"GET,HEAD,POST") })`
/// and `paths: {RouteId(n): "/path", …}`.
fn served_routes(router: &axum::Router) -> BTreeSet<(String, String)> {
    let debug = format!("{router:?}");
    // The main path router comes first; the fallback router's paths follow it.
    let main = debug.split("fallback_router").next().unwrap();
    let mut methods = std::collections::BTreeMap::new();
    for part in main.split("RouteId(").skip(1) {
        let (id, rest) = part.split_once(')').unwrap();
        if let Some(allow) = rest
            .split_once("allow_header: Bytes(b\"")
            .map(|(_, a)| a.split('"').next().unwrap())
        {
            // Only the MethodRouter entries carry an allow header; the first one seen
            // for an id is its own (the next `RouteId(` starts another entry).
            if !rest
                .split("RouteId(")
                .next()
                .unwrap()
                .contains("allow_header")
            {
                continue;
            }
            methods.entry(id.to_string()).or_insert(allow.to_string());
        }
    }
    let paths_part = main.split("paths: {").nth(1).unwrap();
    let mut routes = BTreeSet::new();
    for entry in paths_part.split("RouteId(").skip(1) {
        let (id, rest) = entry.split_once(')').unwrap();
        let path = rest.split('"').nth(1).unwrap().to_string();
        let allow = methods
            .get(id)
            .unwrap_or_else(|| panic!("no methods for {path}"));
        for method in allow.split(',') {
            // HEAD comes with every GET.
            if method != "HEAD" && !method.is_empty() {
                routes.insert((method.to_lowercase(), path.clone()));
            }
        }
    }
    assert!(!routes.is_empty(), "could not read the router: {debug}");
    routes
}

/// The web app's pages and assets: served by the router, not part of the API.
fn is_page(path: &str) -> bool {
    path.starts_with("/assets/") || PAGES.iter().any(|p| !p.api && p.path == path)
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut listed = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    listed
}

async fn document(h: &Harness) -> Value {
    let r = h.call(get("/api/openapi.json", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    // The alias serves the same document.
    assert_eq!(h.call(get("/openapi.json", None)).await.json(), doc);
    doc
}

#[tokio::test(flavor = "multi_thread")]
async fn every_served_route_is_documented_and_every_documented_one_is_served() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let doc = document(&h).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let served: BTreeSet<_> = served_routes(&h.app())
        .into_iter()
        .filter(|(_, path)| !is_page(path))
        .collect();
    let listed = documented(&doc);
    for (method, path) in &listed {
        assert!(path.starts_with("/api/"), "{method} {path}: not under /api");
    }
    // Every documented path also answers without the prefix (for existing clients),
    // and nothing else is served.
    let aliases: BTreeSet<_> = listed
        .iter()
        .map(|(m, p)| (m.clone(), p["/api".len()..].to_string()))
        .collect();
    let served: BTreeSet<_> = served.difference(&aliases).cloned().collect();
    assert_eq!(
        served_routes(&h.app())
            .into_iter()
            .filter(|r| aliases.contains(r))
            .count(),
        aliases.len(),
        "an old path lost its alias"
    );
    let undocumented: Vec<_> = served.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in the OpenAPI document (register the route with \
         utoipa_axum::routes! and annotate its handler with #[utoipa::path]): {undocumented:?}"
    );
    let unserved: Vec<_> = listed.difference(&served).collect();
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
    // The pages are served too (the filter above hid nothing else).
    assert!(served_routes(&h.app()).contains(&("get".into(), "/billing".into())));

    // Every documented operation answers (no 404/405 from the router), at its path and
    // at its alias, and the ones that claim a token say so with a 401.
    let paths = doc["paths"].as_object().unwrap();
    let both = listed.iter().flat_map(|(m, p)| {
        [
            (m.clone(), p.clone(), p.clone()),
            (m.clone(), p.clone(), p["/api".len()..].to_string()),
        ]
    });
    for (method, path, served_at) in both {
        let op = &paths[path.as_str()][method.as_str()];
        let uri = served_at
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{to}", "instantly")
            .replace("{push}", "push_00");
        let req = match method.as_str() {
            "get" => get(&uri, None),
            "delete" => delete(&uri, None),
            "post" => post_json(&uri, None, &json!({})),
            other => {
                let mut req = post_json(&uri, None, &json!({}));
                *req.method_mut() = other.to_uppercase().parse().unwrap();
                req
            }
        };
        let r = h.call(req).await;
        assert!(
            r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            r.status
        );
        let needs_token = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
        assert_eq!(
            r.status == StatusCode::UNAUTHORIZED,
            needs_token,
            "{method} {path}: {}",
            r.status
        );
        if needs_token {
            assert!(op["responses"].get("401").is_some(), "{method} {path}");
        }
        assert!(
            op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k.starts_with('2')),
            "{method} {path}"
        );
        assert!(op["operationId"].is_string(), "{method} {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn operation_ids_are_unique_links_resolve_and_examples_validate() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let doc = document(&h).await;
    let mut ids = BTreeSet::new();
    let mut links = Vec::new();
    let mut examples = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate operationId {id}");
            for (status, response) in op["responses"].as_object().unwrap() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links.push((format!("{method} {path} {status} {name}"), link.clone()));
                }
                for (media, content) in response["content"].as_object().into_iter().flatten() {
                    if let Some(example) = content.get("example") {
                        examples.push((
                            format!("{method} {path} {status} {media}"),
                            content["schema"].clone(),
                            example.clone(),
                        ));
                    }
                }
            }
            for (media, content) in op["requestBody"]["content"]
                .as_object()
                .into_iter()
                .flatten()
            {
                if let Some(example) = content.get("example") {
                    examples.push((
                        format!("{method} {path} request {media}"),
                        content["schema"].clone(),
                        example.clone(),
                    ));
                }
            }
        }
    }
    // Schema-level examples (`#[schema(example = …)]`).
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            examples.push((format!("schema {name}"), schema.clone(), example.clone()));
        }
    }
    // The flow a client follows: upload → parse/create; create → every job operation.
    let mut targets = BTreeSet::new();
    for (at, link) in &links {
        let target = link["operationId"].as_str().unwrap();
        assert!(ids.contains(target), "{at}: no operation {target}");
        targets.insert(target.to_string());
    }
    for op in [
        "parseHeaders",
        "createJob",
        "getJob",
        "jobEvents",
        "downloadResult",
        "previewResult",
        "retryJob",
        "cancelJob",
    ] {
        assert!(targets.contains(op), "no link leads to {op}");
    }
    assert!(examples.len() >= 3, "too few examples: {}", examples.len());
    for (at, schema, example) in &examples {
        let errors = validate(&doc, schema, example, "$");
        assert!(
            errors.is_empty(),
            "{at}: example {example} fails: {errors:?}"
        );
    }
    // The validator can fail: a wrong example is caught.
    let create = &doc["components"]["schemas"]["CreateJobRequest"];
    assert!(!validate(&doc, create, &json!({ "file_path": "x", "nope": 1 }), "$").is_empty());
    assert!(!validate(&doc, create, &json!({ "limit": 3 }), "$").is_empty());
    assert!(!validate(&doc, create, &json!({ "file_path": "x", "limit": 0 }), "$").is_empty());
}

/// Bounds written as literals in the annotations match the constants they mirror.
#[tokio::test(flavor = "multi_thread")]
async fn documented_bounds_match_the_code() {
    use outreach_server::server::extract::Page;
    use outreach_server::server::web::local_auth::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let doc = document(&h).await;
    let params = doc["paths"]["/api/jobs"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], json!(Page::MAX_LIMIT));
    let credentials = &doc["components"]["schemas"]["Credentials"]["properties"]["password"];
    assert_eq!(credentials["minLength"], json!(MIN_PASSWORD_CHARS));
    assert_eq!(credentials["maxLength"], json!(MAX_PASSWORD_BYTES));
}

#[tokio::test(flavor = "multi_thread")]
async fn real_responses_match_their_schemas() {
    let h = Harness::start().await;
    let doc = document(&h).await;
    let token = token("schema-user");
    let t = Some(token.as_str());
    let check = |method: &str, path: &str, status: u16, body: &Value| {
        let path = format!("/api{path}");
        let schema = &doc["paths"][path.as_str()][method]["responses"][status.to_string()]
            ["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "{method} {path} {status}: not documented"
        );
        let errors = validate(&doc, schema, body, "$");
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:?}\n{body}"
        );
    };
    let csv = b"email,name\nada@example.com,Ada\nbob@example.com,Bob\n";
    let r = h.call(multipart("/api/files", t, "people.csv", csv)).await;
    check("post", "/files", 201, &r.json());
    let file_path = r.json()["file_path"].as_str().unwrap().to_string();
    let r = h
        .call(post_json(
            "/parse_headers",
            t,
            &json!({ "file_path": file_path }),
        ))
        .await;
    check("post", "/parse_headers", 200, &r.json());
    let r = h
        .call(post_json(
            "/api/jobs",
            t,
            &json!({ "file_path": file_path }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    check("post", "/jobs", 201, &r.json());
    let id = r.json()["job_id"].as_str().unwrap().to_string();
    h.wait_job(&token, &id).await;
    let r = h.call(get(&format!("/api/jobs/{id}"), t)).await;
    check("get", "/jobs/{id}", 200, &r.json());
    let r = h.call(get("/api/jobs", t)).await;
    check("get", "/jobs", 200, &r.json());
    let r = h.call(get(&format!("/jobs/{id}/preview"), t)).await;
    check("get", "/jobs/{id}/preview", 200, &r.json());
    let r = h.call(get("/api/me", t)).await;
    check("get", "/me", 200, &r.json());
    let r = h.call(get("/api/ledger", t)).await;
    check("get", "/ledger", 200, &r.json());
    let r = h.call(get("/api/ui/config.json", None)).await;
    check("get", "/ui/config.json", 200, &r.json());
    let r = h.call(get("/api/plans", None)).await;
    check("get", "/plans", 200, &r.json());
    let r = h
        .call(post_json("/api/jobs", t, &json!({ "file_path": 7 })))
        .await;
    check("post", "/jobs", 400, &r.json());
    let r = h.call(get("/api/jobs/nope", t)).await;
    check("get", "/jobs/{id}", 404, &r.json());
    // The events of a finished job: one `done` event whose data is a Progress.
    let r = h.call(get(&format!("/jobs/{id}/events"), t)).await;
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap()
        .trim();
    let progress = &doc["components"]["schemas"]["Progress"];
    let errors = validate(&doc, progress, &serde_json::from_str(data).unwrap(), "$");
    assert!(errors.is_empty(), "{errors:?}");
}

/// Errors of `value` against `schema` (the subset of JSON Schema the document uses).
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling {reference}");
        return validate(doc, target, value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| validate(doc, o, value, at).is_empty())
            .count();
        if matching != 1 {
            errors.push(format!("{at}: matches {matching} of oneOf"));
        }
        return errors;
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            errors.extend(validate(doc, s, value, at));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let type_ok = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
        errors.push(format!("{at}: {value} is not {types:?}"));
        return errors;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|m| n < m) {
            errors.push(format!("{at}: {n} < minimum"));
        }
        if schema["maximum"].as_f64().is_some_and(|m| n > m) {
            errors.push(format!("{at}: {n} > maximum"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema["minLength"].as_u64().is_some_and(|m| len < m) {
            errors.push(format!("{at}: shorter than minLength"));
        }
        if schema["maxLength"].as_u64().is_some_and(|m| len > m) {
            errors.push(format!("{at}: longer than maxLength"));
        }
    }
    if let (Some(object), true) = (value.as_object(), value.is_object()) {
        let properties = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(name.as_str().unwrap()) {
                errors.push(format!("{at}: missing required {name}"));
            }
        }
        for (name, v) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(s) => errors.extend(validate(doc, s, v, &format!("{at}.{name}"))),
                None if schema["additionalProperties"] == json!(false) => {
                    errors.push(format!("{at}: unexpected property {name}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            errors.extend(validate(doc, items, v, &format!("{at}[{i}]")));
        }
    }
    errors
}
