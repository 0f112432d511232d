#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The web app as the router serves it: the shell at the page URLs (and at `/jobs`,
//! `/jobs/{id}` only for browser navigations), the embedded assets with their content
//! types and cache headers, `/ui/config.json`, and the built-in sign-up and sign-in.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use outreach_core::backends::SqliteStore;
use outreach_core::ports::LocalAccounts;
use outreach_server::server::web::assets::{self, version};
use outreach_server::server::web::rate_limit::{Backoff, LoginLimiter};
use outreach_server::server::web::{SupabaseAuth, WebConfig, WebState};
use serde_json::{json, Value};
use support::*;

const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

/// A harness whose state has the web app's local accounts (in the harness's database).
async fn harness_with(config: WebConfig, limiter: LoginLimiter) -> (Harness, Arc<SqliteStore>) {
    let mut h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let accounts = Arc::new(
        SqliteStore::open(&h.dir.path().join("data/outreach.db"))
            .await
            .unwrap(),
    );
    let web = WebState {
        config,
        accounts: Some(accounts.clone()),
        limiter,
        ..WebState::default()
    };
    h.state = h.state.clone().with_web(web);
    (h, accounts)
}

async fn harness() -> (Harness, Arc<SqliteStore>) {
    harness_with(WebConfig::default(), LoginLimiter::default()).await
}

/// `Harness::call` without its "no 5xx" check, for the 503s asserted here.
async fn call_any(h: &Harness, req: Request<Body>) -> Resp {
    use tower::ServiceExt;
    let resp = h.app().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

fn browser_get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT, BROWSER_ACCEPT)
        .body(Body::empty())
        .unwrap()
}

fn header_str<'a>(r: &'a Resp, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_shell(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text());
    assert_eq!(
        header_str(r, "content-type"),
        "text/html; charset=utf-8",
        "{what}"
    );
    assert_eq!(header_str(r, "cache-control"), "no-cache", "{what}");
    assert!(header_str(r, "vary").contains("Accept"), "{what}");
    let csp = header_str(r, "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = r.text();
    assert!(html.starts_with("<!doctype html>"), "{what}");
    assert!(
        html.contains(&format!("src=\"/assets/{}/app.js\"", version())),
        "{what}: the shell loads the current app.js"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{what}: nothing external"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shell_is_served_at_every_page_url() {
    let (h, _) = harness().await;
    let id = "5b0c8a2e-0000-4000-8000-000000000000";
    for page in assets::PAGES {
        let path = &page.url(id);
        assert_shell(&h.call(browser_get(path)).await, path);
        if page.api {
            // Browser navigations only; a trailing slash is the same page.
            assert_shell(&h.call(browser_get(&format!("{path}/"))).await, path);
        } else {
            // Whatever the Accept header: these URLs are only pages.
            assert_shell(&h.call(get(path, None)).await, path);
        }
    }
    // The app routes exactly these pages.
    let r = h.call(get("/ui/config.json", None)).await;
    assert_eq!(
        r.json()["pages"],
        serde_json::to_value(assets::PAGES).unwrap()
    );
    // Not pages: the API's JSON 404 stays.
    for path in ["/nope", "/assets", "/upload/x"] {
        let r = h.call(browser_get(path)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.code(), "not_found", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn get_jobs_stays_the_json_api_for_api_clients() {
    let (h, _) = harness().await;
    let t = token("api-client");
    let path = h.upload(&t, "leads.csv", &prospects_csv(3)).await;
    let id = h.create_job(&t, json!({ "file_path": path })).await;

    // A bearer token always means the API, even from a browser-like Accept header.
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some(BROWSER_ACCEPT),
    ] {
        let mut b = Request::get("/jobs").header(header::AUTHORIZATION, format!("Bearer {t}"));
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        let r = h.call(b.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{accept:?}");
        assert!(header_str(&r, "content-type").starts_with("application/json"));
        let v = r.json();
        assert_eq!(v["total"], 1, "{accept:?}: {v}");
        assert_eq!(v["jobs"][0]["id"], id.as_str());
    }
    let r = h.call(get(&format!("/jobs/{id}"), Some(&t))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["id"], id.as_str());

    // Without a token and without asking for HTML: still the API's 401.
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut b = Request::get("/jobs");
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        let r = h.call(b.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{accept:?}");
        assert_eq!(r.code(), "unauthorized");
    }
    // Sub-resources of a job are never pages.
    for sub in ["events", "download", "preview"] {
        let r = h.call(browser_get(&format!("/jobs/{id}/{sub}"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{sub}");
    }
    // POST /jobs is untouched by a browser-like Accept header.
    let r = h
        .call(
            Request::post("/jobs")
                .header(header::ACCEPT, BROWSER_ACCEPT)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The API's canonical paths are under `/api`: there a browser-like request gets the API
/// (no sniffing of `Accept` or `Authorization`), and the page URLs stay pages.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_under_api_is_never_a_page() {
    let (h, _) = harness().await;
    let t = token("api-prefix-user");
    let path = h.upload(&t, "leads.csv", &prospects_csv(2)).await;
    let id = h.create_job(&t, json!({ "file_path": path })).await;
    for uri in ["/api/jobs".to_string(), format!("/api/jobs/{id}")] {
        // A browser navigation without a token: the API's 401, not the shell.
        let r = h.call(browser_get(&uri)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(r.code(), "unauthorized");
        // With a token and a browser's Accept: JSON.
        let r = h
            .call(
                Request::get(uri.as_str())
                    .header(header::ACCEPT, BROWSER_ACCEPT)
                    .header(header::AUTHORIZATION, format!("Bearer {t}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert!(header_str(&r, "content-type").starts_with("application/json"));
    }
    // The page at the same place is still a page.
    let r = h.call(browser_get(&format!("/jobs/{id}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(header_str(&r, "content-type").starts_with("text/html"));
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_have_content_types_and_cache_headers() {
    let (h, _) = harness().await;
    let v = version();
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("pages/upload.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = h.call(get(&format!("/assets/{v}/{file}"), None)).await;
        assert_eq!(r.status, StatusCode::OK, "{file}");
        assert_eq!(header_str(&r, "content-type"), content_type, "{file}");
        assert_eq!(
            header_str(&r, "cache-control"),
            "public, max-age=31536000, immutable",
            "{file}"
        );
        assert_eq!(header_str(&r, "x-content-type-options"), "nosniff");
        assert_eq!(r.body.as_ref(), assets::find(file).unwrap().body, "{file}");
    }
    // Every page module the router imports exists.
    for page in assets::PAGES {
        let module = page.module;
        let r = h
            .call(get(&format!("/assets/{v}/pages/{module}.js"), None))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{module}");
    }
    // Another version (a page from before an upgrade) gets the file, not cached.
    let r = h.call(get("/assets/000000000000/app.js", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header_str(&r, "cache-control"), "no-cache");
    // Revalidation.
    let etag = header_str(&r, "etag").to_string();
    let r = h
        .call(
            Request::get(format!("/assets/{v}/app.js"))
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    // Unknown files and escapes are 404s.
    for path in [
        format!("/assets/{v}/nope.js"),
        format!("/assets/{v}/../Cargo.toml"),
        format!("/assets/{v}/%2e%2e/Cargo.toml"),
        format!("/assets/{v}/index.html"),
    ] {
        let r = h.call(get(&path, None)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ui_config_says_how_to_sign_in_and_what_is_for_sale() {
    let (h, _) = harness().await;
    let r = h.call(get("/ui/config.json", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["auth"], json!({ "mode": "local", "signup": true }));
    assert_eq!(v["billing"]["checkout"], true);
    let plans: Vec<&str> = v["billing"]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(plans, ["starter", "growth", "pro"]);
    assert_eq!(v["billing"]["plans"][0]["credits"], 1000);
    assert_eq!(v["billing"]["plans"][0]["price"], "$29/month");
    assert!(
        v["billing"]["addons"][0]["price_id"].is_null(),
        "no Stripe ids"
    );
    assert_eq!(v["free_credits"], 100);
    assert!(v["service_defaults"]["core_offer"].as_str().unwrap().len() > 5);
    // The service form comes from the core's one definition: names, defaults, limits.
    let fields = v["service"]["fields"].as_array().unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    let core: Vec<&str> = outreach_core::service::SERVICE_FIELDS
        .iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, core);
    for f in fields {
        let name = f["name"].as_str().unwrap();
        assert_eq!(f["default"], v["service_defaults"][name], "{name}");
        assert_eq!(f["max_chars"], outreach_core::service::MAX_FIELD_CHARS);
        assert!(!f["label"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        v["service"]["copy"]["defaults"],
        serde_json::to_value(outreach_core::personalize::rules::CopyRules::default()).unwrap()
    );
    assert_eq!(
        v["service"]["copy"]["limits"]["words_per_sentence"],
        json!([5, 60])
    );

    let supabase = WebConfig {
        supabase: Some(SupabaseAuth {
            url: "https://project.supabase.co".into(),
            anon_key: "anon-key".into(),
        }),
        ..WebConfig::default()
    };
    let (h, _) = harness_with(supabase, LoginLimiter::default()).await;
    let v = h.call(get("/ui/config.json", None)).await.json();
    assert_eq!(
        v["auth"],
        json!({ "mode": "supabase", "supabase_url": "https://project.supabase.co", "supabase_anon_key": "anon-key" })
    );
    // The browser may talk to the Supabase project, and only to it.
    let r = h.call(browser_get("/login")).await;
    assert!(header_str(&r, "content-security-policy")
        .contains("connect-src 'self' https://project.supabase.co;"));
    // Local accounts are off when Supabase signs people in.
    let r = call_any(
        &h,
        post_json(
            "/auth/signup",
            None,
            &json!({ "email": "a@example.com", "password": "long enough" }),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "local_auth_disabled");
}

async fn signup(h: &Harness, email: &str, password: &str) -> Resp {
    h.call(post_json(
        "/auth/signup",
        None,
        &json!({ "email": email, "password": password }),
    ))
    .await
}

async fn login(h: &Harness, email: &str, password: &str) -> Resp {
    h.call(post_json(
        "/auth/login",
        None,
        &json!({ "email": email, "password": password }),
    ))
    .await
}

fn session_token(r: &Resp) -> String {
    let v = r.json();
    assert_eq!(v["token_type"], "bearer", "{v}");
    assert_eq!(v["expires_in"], 24 * 3600, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_hashes_the_password_and_the_token_works() {
    let (h, accounts) = harness().await;
    let r = signup(&h, "  Ada@Example.com ", "correct horse").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["user"]["email"], "ada@example.com");
    let id = v["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a uuid: {id}");
    let t = session_token(&r);

    // The token is accepted everywhere; the free credits wait for the email to be
    // verified (tests/attack_verification.rs).
    let me = h.me(&t).await;
    assert_eq!(me["user_id"], id.as_str());
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["credits_remaining"], 0);
    assert_eq!(v["user"]["email_verified"], false);
    let claims = h.state.auth.verify(&t).unwrap();
    assert_eq!(claims.sub, id);

    // Stored as an Argon2id hash, never as the password.
    let stored = accounts
        .user_by_email("ADA@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.user_id, id);
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains("correct horse"));

    // Sign in with any spelling of the email.
    let r = login(&h, "ADA@example.com", "correct horse").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t2 = session_token(&r);
    assert_eq!(r.json()["user"]["id"], id.as_str());
    assert_eq!(
        h.me(&t2).await["credits_remaining"],
        0,
        "signing in grants nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_validates_and_refuses_duplicates() {
    let (h, _) = harness().await;
    let cases: &[(Value, &str)] = &[
        (
            json!({ "email": "not-an-email", "password": "long enough" }),
            "invalid_email",
        ),
        (
            json!({ "email": "a@b", "password": "long enough" }),
            "invalid_email",
        ),
        (
            json!({ "email": "a b@c.com", "password": "long enough" }),
            "invalid_email",
        ),
        (
            json!({ "email": "bob@example.com", "password": "short" }),
            "weak_password",
        ),
        (
            json!({ "email": "bob@example.com", "password": "1234567" }),
            "weak_password",
        ),
        (
            json!({ "email": "bob@example.com", "password": "x".repeat(1025) }),
            "invalid_password",
        ),
        (json!({ "email": "bob@example.com" }), "invalid_request"),
        (json!({ "password": "long enough" }), "invalid_request"),
    ];
    for (body, code) in cases {
        let r = h.call(post_json("/auth/signup", None, body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        assert_eq!(r.code(), *code, "{body}");
    }
    let r = h
        .call(post_raw(
            "/auth/signup",
            None,
            Some("application/json"),
            b"{oops".to_vec(),
        ))
        .await;
    assert_eq!(r.code(), "malformed_json");

    // Ten characters are enough (counted as characters, not bytes; issue 12 item 4).
    let r = signup(&h, "bob@example.com", "äöüäöüäöüä").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for again in ["bob@example.com", "BOB@example.com", " bob@example.com"] {
        let r = signup(&h, again, "another password").await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{again}");
        assert_eq!(r.code(), "email_taken");
    }
    // The first password still works; the second was never stored.
    assert_eq!(
        login(&h, "bob@example.com", "äöüäöüäöüä").await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&h, "bob@example.com", "another password")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_and_unknown_email_look_the_same() {
    let (h, _) = harness().await;
    assert_eq!(
        signup(&h, "cy@example.com", "the right one").await.status,
        StatusCode::CREATED
    );
    let wrong = login(&h, "cy@example.com", "the wrong one").await;
    let unknown = login(&h, "nobody@example.com", "the right one").await;
    let empty = login(&h, "", "").await;
    for r in [&wrong, &unknown, &empty] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
        assert_eq!(r.code(), "unauthorized");
    }
    assert_eq!(wrong.json(), unknown.json(), "same body for both");
    assert!(wrong.text().contains("wrong email or password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_rate_limited_per_email() {
    // `n` free failures, then a 10-minute pause (longer than the hold: refused).
    let limits = |n| Backoff::after(n, Duration::from_secs(600));
    let (h, _) = harness_with(
        WebConfig::default(),
        LoginLimiter::new(limits(3), limits(100)),
    )
    .await;
    assert_eq!(
        signup(&h, "dee@example.com", "the right one").await.status,
        StatusCode::CREATED
    );
    for _ in 0..3 {
        assert_eq!(
            login(&h, "dee@example.com", "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password waits, for this email only.
    for password in ["guess", "the right one"] {
        let r = login(&h, "DEE@example.com", password).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
        assert_eq!(r.code(), "rate_limited");
        let wait: u64 = header_str(&r, "retry-after").parse().unwrap();
        assert!((590..=600).contains(&wait), "{wait}");
    }
    assert_eq!(
        signup(&h, "eve@example.com", "the right one").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        login(&h, "eve@example.com", "the right one").await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_local_accounts_sign_up_is_unavailable() {
    // An embedder that builds AppState::new without with_web: no accounts.
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let body = json!({ "email": "a@example.com", "password": "long enough" });
    let r = call_any(&h, post_json("/auth/signup", None, &body)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "local_auth_disabled");
    let v = h.call(get("/ui/config.json", None)).await.json();
    assert_eq!(v["auth"], json!({ "mode": "local", "signup": false }));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_address_cannot_sign_up_or_guess_without_bound() {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;

    // `n` free failures, then a 10-minute pause (longer than the hold: refused).
    let limits = |n| Backoff::after(n, Duration::from_secs(600));
    let (h, _) = harness_with(
        WebConfig::default(),
        LoginLimiter::new(limits(100), limits(3)),
    )
    .await;
    let from = |ip: &str, path: &str, email: &str| {
        let mut req = post_json(
            path,
            None,
            &json!({ "email": email, "password": "long enough" }),
        );
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    };
    for i in 0..3 {
        let r = h
            .call(from(
                "10.0.0.1",
                "/auth/signup",
                &format!("u{i}@example.com"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let r = h
        .call(from("10.0.0.1", "/auth/signup", "u3@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.code(), "rate_limited");
    // Another address is not affected, and counts its failed guesses across emails.
    for i in 0..3 {
        let r = h
            .call(from(
                "10.0.0.2",
                "/auth/login",
                &format!("u{i}@example.com"),
            ))
            .await;
        assert_eq!(r.status, StatusCode::OK, "the right password: {}", r.text());
    }
    for i in 0..3 {
        let mut req = post_json(
            "/auth/login",
            None,
            &json!({ "email": format!("u{i}@example.com"), "password": "wrong guess" }),
        );
        req.extensions_mut()
            .insert(ConnectInfo("10.0.0.3:1".parse::<SocketAddr>().unwrap()));
        assert_eq!(h.call(req).await.status, StatusCode::UNAUTHORIZED);
    }
    let r = h
        .call(from("10.0.0.3", "/auth/login", "u0@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    let r = h
        .call(from("10.0.0.4", "/auth/login", "u0@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
