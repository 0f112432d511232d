//! Who may do what, and how bad requests are answered: auth (Supabase-style tokens),
//! isolation between users, the error format for hostile input, and the OpenAPI
//! document against the router.
// Test helpers fail loudly: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::http::StatusCode;
use base64::Engine;
use serde_json::json;
use support::*;

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_checked_like_supabase_does() {
    let h = Harness::with(Options {
        worker: false,
        free_credits: 50,
        ..Options::default()
    })
    .await;
    let claims = |patch: serde_json::Value| {
        let mut c = json!({ "sub": "u1", "email": "u1@example.com", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 600 });
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let none_token = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims(json!({})))
    );
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().unwrap().remove("exp");
    let rejected: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        (
            "expired",
            Some(token_with(claims(json!({ "exp": now() - 3600 })), SECRET)),
        ),
        (
            "wrong audience",
            Some(token_with(claims(json!({ "aud": "anon" })), SECRET)),
        ),
        (
            "wrong issuer",
            Some(token_with(
                claims(json!({ "iss": "https://evil.example" })),
                SECRET,
            )),
        ),
        (
            "no issuer",
            Some(token_with(
                {
                    let mut c = claims(json!({}));
                    c.as_object_mut().unwrap().remove("iss");
                    c
                },
                SECRET,
            )),
        ),
        ("no exp", Some(token_with(no_exp, SECRET))),
        ("alg none", Some(none_token)),
        ("other algorithm", Some(hs512)),
        (
            "other secret",
            Some(token_with(
                claims(json!({})),
                "another-secret-another-secret-another",
            )),
        ),
        ("garbage", Some("not.a.token".into())),
        (
            "unsafe subject",
            Some(token_with(claims(json!({ "sub": "../u2" })), SECRET)),
        ),
    ];
    for (why, t) in &rejected {
        let r = h.call(get("/me", t.as_deref())).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.text());
        assert_eq!(r.code(), "unauthorized", "{why}");
    }
    let basic = axum::http::Request::get("/me")
        .header("authorization", "Basic dTE6cGFzcw==")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(h.call(basic).await.status, StatusCode::UNAUTHORIZED);

    // None of the rejected tokens created an account; a valid one does, once.
    assert!(h
        .state
        .jobs
        .ledger()
        .find_by_email("u1@example.com")
        .await
        .unwrap()
        .is_none());
    let me = h.me(&token_with(claims(json!({})), SECRET)).await;
    assert_eq!(me["email"], "u1@example.com");
    assert_eq!(me["credits_remaining"], 50);
    assert_eq!(me["plan_type"], "free");
    let me = h.me(&token_with(claims(json!({})), SECRET)).await;
    assert_eq!(me["credits_remaining"], 50, "first sight only");
    let ledger = h
        .call(get("/ledger", Some(&token_with(claims(json!({})), SECRET))))
        .await
        .json();
    assert_eq!(ledger["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_never_see_each_others_jobs_files_or_results() {
    let h = Harness::start().await;
    let (a, b) = (token("usera"), token("userb"));
    let a_file = h.upload(&a, "prospects.csv", &sample()).await;
    let a_job = h
        .create_job(&a, json!({ "file_path": a_file, "limit": 3 }))
        .await;
    assert_eq!(h.wait_job(&a, &a_job).await["status"], "succeeded");
    let b_file = h.upload(&b, "mine.csv", &prospects_csv(3)).await;

    for path in [
        format!("/jobs/{a_job}"),
        format!("/jobs/{a_job}/download"),
        format!("/jobs/{a_job}/preview"),
        format!("/jobs/{a_job}/events"),
    ] {
        let r = h.call(get(&path, Some(&b))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text());
        assert_eq!(r.code(), "not_found");
    }
    for path in [
        format!("/jobs/{a_job}/retry"),
        format!("/jobs/{a_job}/cancel"),
    ] {
        let r = h.call(post_json(&path, Some(&b), &json!({}))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let jobs = h.call(get("/jobs", Some(&b))).await.json();
    assert_eq!(jobs["total"], 0);

    // Another user's upload is a 404; escaping paths are refused outright.
    let b_dir = b_file.rsplit_once('/').unwrap().0;
    let cases = [
        (a_file.clone(), StatusCode::NOT_FOUND),
        (
            format!("{b_dir}/../../usera/x/prospects.csv"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "uploads/userb/../usera/prospects.csv".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/etc/passwd".into(), StatusCode::BAD_REQUEST),
        ("../../outreach.db".into(), StatusCode::BAD_REQUEST),
        (
            format!("inputs/usera/{a_job}/prospects.csv"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "uploads/userb/nonexistent/x.csv".into(),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (file_path, status) in cases {
        for route in ["/parse_headers", "/jobs"] {
            let r = h
                .call(post_json(
                    route,
                    Some(&b),
                    &json!({ "file_path": file_path }),
                ))
                .await;
            assert_eq!(r.status, status, "{route} {file_path}: {}", r.text());
        }
    }
    // B's own file works, and nobody was charged for the refusals.
    let r = h
        .call(post_json(
            "/parse_headers",
            Some(&b),
            &json!({ "file_path": b_file }),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.me(&b).await["credits_remaining"], 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_4xx_never_a_500() {
    let h = Harness::with(Options {
        worker: false,
        max_upload_bytes: 100_000,
        ..Options::default()
    })
    .await;
    let t = token("frank");
    let file = h.upload(&t, "prospects.csv", &sample()).await;

    let raw = |body: &str| {
        post_raw(
            "/jobs",
            Some(&t),
            Some("application/json"),
            body.as_bytes().to_vec(),
        )
    };
    let cases = vec![
        ("malformed JSON", raw("{\"file_path\": "), StatusCode::BAD_REQUEST, "malformed_json"),
        ("not an object", raw("[1,2]"), StatusCode::BAD_REQUEST, "invalid_request"),
        ("wrong type", raw(&json!({ "file_path": 42 }).to_string()), StatusCode::BAD_REQUEST, "invalid_request"),
        ("missing field", raw("{}"), StatusCode::BAD_REQUEST, "invalid_request"),
        ("unknown field", raw(&json!({ "file_path": file, "emailcol": "x" }).to_string()), StatusCode::BAD_REQUEST, "invalid_request"),
        ("wrong format", raw(&json!({ "file_path": file, "format": "pdf" }).to_string()), StatusCode::BAD_REQUEST, "invalid_request"),
        ("negative limit", raw(&json!({ "file_path": file, "limit": -1 }).to_string()), StatusCode::BAD_REQUEST, "invalid_request"),
        ("zero limit", raw(&json!({ "file_path": file, "limit": 0 }).to_string()), StatusCode::BAD_REQUEST, "invalid_request"),
        ("unknown email column", raw(&json!({ "file_path": file, "email_col": "nope" }).to_string()), StatusCode::BAD_REQUEST, "invalid_input"),
        ("unknown output column", raw(&json!({ "file_path": file, "output_columns": ["nope"] }).to_string()), StatusCode::BAD_REQUEST, "invalid_input"),
        ("no content type", post_raw("/jobs", Some(&t), None, b"{}".to_vec()), StatusCode::BAD_REQUEST, "invalid_content_type"),
        ("huge body", raw(&format!("{{\"file_path\": \"{}\"}}", "x".repeat(2 << 20))), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ("bad query", get("/jobs?offset=-3", Some(&t)), StatusCode::BAD_REQUEST, "invalid_query"),
        ("non-UTF-8 id", get("/jobs/%FF%FE", Some(&t)), StatusCode::BAD_REQUEST, "invalid_path"),
        ("huge webhook", post_raw("/stripe/webhook", None, Some("application/json"), vec![b' '; 2 << 20]), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ("unknown route", get("/nope", Some(&t)), StatusCode::NOT_FOUND, "not_found"),
        ("wrong method", get("/parse_headers", Some(&t)), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ("oversized upload", multipart("/files", Some(&t), "big.csv", &prospects_csv(5000)), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ("pdf upload", multipart("/files", Some(&t), "list.pdf", b"%PDF-1.4"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type"),
        ("no extension", multipart("/files", Some(&t), "list", b"a,b"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type"),
        ("not multipart", post_json("/files", Some(&t), &json!({})), StatusCode::BAD_REQUEST, "invalid_multipart"),
        ("no file field", post_raw("/files", Some(&t), Some("multipart/form-data; boundary=X"), b"--X\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--X--\r\n".to_vec()), StatusCode::BAD_REQUEST, "missing_file"),
        ("truncated multipart", post_raw("/files", Some(&t), Some("multipart/form-data; boundary=X"), b"--X\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nname,email\n".to_vec()), StatusCode::BAD_REQUEST, "invalid_multipart"),
    ];
    for (why, req, status, code) in cases {
        let r = h.call(req).await;
        assert_eq!(r.status, status, "{why}: {}", r.text());
        assert_eq!(r.code(), code, "{why}");
    }

    // Unreadable files: 422 at parse_headers and at job creation, nothing charged.
    let corrupt_xlsx = h
        .upload(&t, "broken.xlsx", b"PK\x03\x04 definitely not a zip")
        .await;
    let empty_csv = h.upload(&t, "empty.csv", b"").await;
    let header_only = h.upload(&t, "header.csv", b"name,email\n").await;
    let binary_csv = h
        .upload(&t, "binary.csv", &[0u8, 159, 146, 150, 0, 0, 255, 254])
        .await;
    for file_path in [&corrupt_xlsx, &empty_csv, &header_only] {
        for route in ["/parse_headers", "/jobs"] {
            let r = h
                .call(post_json(
                    route,
                    Some(&t),
                    &json!({ "file_path": file_path }),
                ))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{route} {file_path}: {}",
                r.text()
            );
            assert_eq!(r.code(), "unreadable_file");
        }
    }
    let r = h
        .call(post_json(
            "/jobs",
            Some(&t),
            &json!({ "file_path": binary_csv }),
        ))
        .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert_eq!(h.me(&t).await["credits_remaining"], 100);

    // The upload limit is exact: a file of exactly the limit is accepted.
    let mut exact = b"name,email\n".to_vec();
    exact.resize(100_000, b'a');
    let r = h
        .call(multipart("/files", Some(&t), "exact.csv", &exact))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["size"], 100_000);
    // Hostile names are reduced to a safe last component.
    let r = h
        .call(multipart(
            "/files",
            Some(&t),
            "../../../etc/evil name;.csv",
            b"name,email\na,a@b.co\n",
        ))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let v = r.json();
    assert_eq!(v["filename"], "evil name_.csv");
    assert!(v["file_path"]
        .as_str()
        .unwrap()
        .starts_with("uploads/frank/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_carry_a_request_id() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let r = h.call(get("/healthz", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    assert!(!r.headers["x-request-id"].is_empty());
    let req = axum::http::Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(h.call(req).await.headers["x-request-id"], "abc-123");
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_health_reports_the_providers_preflight() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let searches = || {
        h.fakes
            .search_requests
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let r = h.call(get("/healthz", None)).await;
    assert_eq!(r.json()["status"], "ok");
    assert!(r.json().get("providers").is_none());
    assert_eq!(searches(), 0, "the plain health check calls no provider");

    let r = h.call(get("/healthz?deep=1", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["providers"]["search"]["status"], "ok", "{v}");
    assert_eq!(v["providers"]["llm"]["status"], "ok", "{v}");
    assert_eq!(searches(), 1);
    // Reused for a minute: an unauthenticated URL must not spend provider calls.
    h.call(get("/healthz?deep=1", None)).await;
    assert_eq!(searches(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_the_configured_origins() {
    let h = Harness::with(Options {
        worker: false,
        cors_origins: vec!["https://app.example.com".into()],
        ..Options::default()
    })
    .await;
    let preflight = |origin: &str| {
        axum::http::Request::options("/jobs")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = h.call(preflight("https://app.example.com")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = r.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed.contains("authorization"), "{allowed}");
    let r = h.call(preflight("https://evil.example.com")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());

    // Without configured origins no CORS headers are sent.
    let plain = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let r = plain.call(preflight("https://app.example.com")).await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
}
