#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The account's campaign settings end to end: a destination key stored sealed and
//! never shown, the do-not-contact list (API, CSV upload) applied to a job before any
//! provider call, a push of the finished job to a wiremock Instantly as a push of its
//! own (progress, per-row results), a second push that creates nothing, and the
//! push.finished and job.finished webhooks verified with an HMAC implementation other
//! than the server's.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use outreach_server::server::campaigns::CampaignState;
use outreach_server::server::secrets::SecretBox;
use serde_json::{json, Value};
use support::{get, post_json, token, Harness, SECRETS_KEY};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request as WireRequest, Respond, ResponseTemplate};

/// Instantly API v2 `POST /api/v2/leads/add` keeping a campaign (reply fields from
/// Instantly's "Add leads in bulk" reference; see outreach-core/tests/campaign_push.rs).
#[derive(Clone, Default)]
struct Instantly {
    leads: Arc<Mutex<HashSet<String>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Respond for Instantly {
    fn respond(&self, request: &WireRequest) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some("Bearer inst-key-123456") {
            return ResponseTemplate::new(401).set_body_json(json!({
                "statusCode": 401, "error": "Unauthorized", "message": "Invalid API key"
            }));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["campaign_id"], "camp-1");
        let leads = body["leads"].as_array().unwrap();
        let mut created = Vec::new();
        for (i, lead) in leads.iter().enumerate() {
            let email = lead["email"].as_str().unwrap().to_string();
            self.seen.lock().unwrap().push(email.clone());
            if self.leads.lock().unwrap().insert(email.clone()) {
                created.push(json!({"id": format!("lead-{i}"), "index": i, "email": email}));
            }
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "total_sent": leads.len(),
            "leads_uploaded": created.len(),
            "in_blocklist": 0,
            "already_in_campaign": leads.len() - created.len(),
            "skipped_count": leads.len() - created.len(),
            "invalid_email_count": 0,
            "duplicate_email_count": 0,
            "remaining_in_plan": 1000,
            "created_leads": created,
        }))
    }
}

fn request(method: Method, uri: &str, token: &str, body: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// Checks `Outreach-Signature: t=…,v1=…` with aws-lc-rs's HMAC (the server signs with
/// the `hmac` crate).
fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_string()),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Some(tag) = (0..v1.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(v1.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    aws_lc_rs::hmac::verify(&key, &message, &tag).is_ok()
}

async fn wait_push(h: &Harness, token: &str, job: &str, push: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = h
            .call(get(&format!("/jobs/{job}/pushes/{push}"), Some(token)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        if v["push"]["status"] != "running" {
            return v;
        }
        assert!(Instant::now() < deadline, "the push did not end: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn destinations_suppression_push_and_webhook() {
    let mut h = Harness::start().await;
    let instantly = Instantly::default();
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/leads/add"))
        .respond_with(instantly.clone())
        .mount(&fake)
        .await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let settings = h.state.campaigns.as_ref().unwrap().settings.clone();
    h.state = h.state.clone().with_campaigns(
        CampaignState::new(
            settings.clone(),
            Some(SecretBox::from_hex(SECRETS_KEY).unwrap()),
        )
        .with_base_url(
            outreach_core::campaign::push::DestinationKind::Instantly,
            fake.uri(),
        ),
    );
    let (alice, bob) = (token("alice-campaigns"), token("bob-campaigns"));

    // A destination: the key is sealed at rest and never comes back.
    let r = h
        .call(request(
            Method::PUT,
            "/destinations/instantly",
            &alice,
            Some(json!({"api_key": "inst-key-123456", "campaign": "camp-1"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(!r.text().contains("inst-key"), "{}", r.text());
    assert_eq!(r.json()["key_hint"], "…3456");
    let r = h.call(get("/destinations", Some(&alice))).await;
    assert!(!r.text().contains("inst-key"));
    assert_eq!(r.json()["destinations"][0]["campaign"], "camp-1");
    let stored = settings.destinations("alice-campaigns").await.unwrap();
    assert!(
        !stored[0].sealed_key.contains("inst-key"),
        "the key is stored in clear"
    );
    let r = h.call(get("/destinations", Some(&bob))).await;
    assert_eq!(r.json()["destinations"], json!([]));
    let r = h
        .call(request(
            Method::PUT,
            "/destinations/apollo",
            &alice,
            Some(json!({"api_key": "x", "campaign": "c"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The do-not-contact list: JSON entries, a CSV upload, a delete.
    let r = h
        .call(post_json(
            "/suppression",
            Some(&alice),
            &json!({"entries": ["@Blocked.io", "oops@"]}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["added"], 1);
    assert_eq!(r.json()["rejected"][0]["value"], "oops@");
    let upload = Request::builder()
        .method(Method::POST)
        .uri("/suppression/upload")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "text/csv")
        .body(Body::from(
            "name,email\nSam,Sam+news@Nope.com\nKeep,keep@delete.me\n",
        ))
        .unwrap();
    let r = h.call(upload).await;
    assert_eq!(r.json()["added"], 2, "{}", r.text());
    let r = h
        .call(request(
            Method::DELETE,
            "/suppression?entry=keep@delete.me",
            &alice,
            None,
        ))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.call(get("/suppression", Some(&alice))).await;
    assert_eq!(r.json()["entries"], json!(["@blocked.io", "sam@nope.com"]));

    // The webhook: the secret is shown once.
    let r = h
        .call(request(
            Method::PUT,
            "/webhook",
            &alice,
            Some(json!({"url": format!("{}/hook", hooks.uri())})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert!(!h
        .call(get("/webhook", Some(&alice)))
        .await
        .text()
        .contains(&secret));

    // A job: the account's list applies before any provider call, and is not charged.
    let before = h.me(&alice).await["credits_remaining"].as_i64().unwrap();
    let csv = "email,name\njane@acme.com,Jane Roe\nann@blocked.io,Ann\nbob@beta.io,Bob Poe\nsam@nope.com,Sam\n";
    let file = h.upload(&alice, "list.csv", csv.as_bytes()).await;
    let job = h
        .create_job(&alice, json!({"file_path": file, "format": "csv"}))
        .await;
    let detail = h.wait_job(&alice, &job).await;
    assert_eq!(detail["status"], "succeeded", "{detail}");
    let r = h
        .call(get(&format!("/jobs/{job}/preview?limit=10"), Some(&alice)))
        .await;
    let preview = r.json();
    let headers: Vec<&str> = preview["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let status = headers.iter().position(|h| *h == "sif_status").unwrap();
    let statuses: Vec<&str> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[status].as_str().unwrap())
        .collect();
    assert_eq!(statuses[1], "suppressed");
    assert_eq!(statuses[3], "suppressed");
    let charged = before - h.me(&alice).await["credits_remaining"].as_i64().unwrap();
    assert!(charged <= 2, "suppressed rows were charged ({charged})");

    // The push: a job of its own, with per-row results; suppressed rows never sent.
    let r = h
        .call(post_json(
            &format!("/jobs/{job}/push"),
            Some(&alice),
            &json!({"to": "instantly"}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let push = r.json()["push"]["id"].as_str().unwrap().to_string();
    let done = wait_push(&h, &alice, &job, &push).await;
    assert_eq!(done["push"]["status"], "succeeded", "{done}");
    assert_eq!(
        (
            done["push"]["pushed"].as_u64(),
            done["push"]["skipped"].as_u64()
        ),
        (Some(2), Some(2)),
        "{done}"
    );
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[1]["status"], "skipped");
    assert_eq!(results[1]["reason"], "suppressed");
    assert_eq!(
        *instantly.seen.lock().unwrap(),
        ["jane@acme.com", "bob@beta.io"]
    );

    // Again: nothing new in the campaign.
    let r = h
        .call(post_json(
            &format!("/jobs/{job}/push"),
            Some(&alice),
            &json!({"to": "instantly"}),
        ))
        .await;
    let again = r.json()["push"]["id"].as_str().unwrap().to_string();
    let done = wait_push(&h, &alice, &job, &again).await;
    assert_eq!(
        (
            done["push"]["pushed"].as_u64(),
            done["push"]["skipped"].as_u64()
        ),
        (Some(0), Some(4)),
        "{done}"
    );
    assert_eq!(instantly.leads.lock().unwrap().len(), 2);
    let r = h
        .call(get(&format!("/jobs/{job}/pushes"), Some(&alice)))
        .await;
    assert_eq!(r.json()["pushes"].as_array().unwrap().len(), 2);

    // Another account sees none of it.
    let r = h
        .call(get(&format!("/jobs/{job}/pushes/{push}"), Some(&bob)))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h
        .call(post_json(
            &format!("/jobs/{job}/push"),
            Some(&bob),
            &json!({"to": "instantly"}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // One signed job.finished (sent by the finalize that flipped the status) and two
    // signed push.finished deliveries, nothing more.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut deliveries = loop {
        let got = hooks.received_requests().await.unwrap_or_default();
        if got.len() >= 3 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = hooks.received_requests().await.unwrap_or_default();
    assert_eq!(
        late.len(),
        deliveries.len(),
        "a duplicate delivery came late"
    );
    deliveries = late;
    assert_eq!(deliveries.len(), 3);
    let mut kinds = Vec::new();
    for d in &deliveries {
        let header = d
            .headers
            .get("outreach-signature")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(verify(&secret, header, &d.body), "bad signature {header}");
        assert!(!verify("whsec_other", header, &d.body));
        let event: Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(event["data"]["job_id"], job.as_str());
        kinds.push(event["type"].as_str().unwrap().to_string());
        if event["type"] == "job.finished" {
            let data = &event["data"];
            assert_eq!(data["status"], "succeeded", "{event}");
            assert_eq!(data["rows"], 4, "{event}");
            assert_eq!(data["rows_processed"], 4, "{event}");
            assert_eq!(
                data["download_path"],
                format!("/jobs/{job}/download").as_str()
            );
            let reserved = data["credits_charged"].as_i64().unwrap();
            let refunded = data["credits_refunded"].as_i64().unwrap();
            assert!(reserved >= refunded && refunded >= 0, "{event}");
            assert!(data.get("user_id").is_none(), "{event}");
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["job.finished", "push.finished", "push.finished"]);

    // Erasure (`DELETE /me/data`) takes the campaign settings and the push records
    // with it; bob's settings stay.
    let r = h
        .call(request(
            Method::PUT,
            "/destinations/lemlist",
            &bob,
            Some(json!({"api_key": "lem-key-9876", "campaign": "cam_b"})),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let storage = h.state.jobs.storage().clone();
    assert!(!storage
        .list("pushes/alice-campaigns/")
        .await
        .unwrap()
        .is_empty());
    let r = h
        .call(request(Method::DELETE, "/me/data", &alice, None))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(settings
        .destinations("alice-campaigns")
        .await
        .unwrap()
        .is_empty());
    assert!(settings
        .suppressions("alice-campaigns")
        .await
        .unwrap()
        .is_empty());
    assert!(settings.webhook("alice-campaigns").await.unwrap().is_none());
    assert_eq!(
        storage.list("pushes/alice-campaigns/").await.unwrap(),
        Vec::<String>::new(),
        "push records and results erased"
    );
    let r = h.call(get("/destinations", Some(&alice))).await;
    assert_eq!(r.json()["destinations"], json!([]));
    assert_eq!(
        settings.destinations("bob-campaigns").await.unwrap().len(),
        1
    );
}
