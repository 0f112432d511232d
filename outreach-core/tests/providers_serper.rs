//! `SerperClient` against a wiremock server speaking Serper's JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use outreach_core::providers::{
    KnowledgeGraph, SearchHit, SearchProvider, SearchQuery, SerperClient, SerperConfig,
};
use outreach_core::{Error, ProviderKind};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "test-serper-key";

/// A trimmed real Serper answer, with extra sections and fields the adapter must
/// ignore. Raw text, not `json!`: serde_json's map would sort `attributes` and hide
/// whether the adapter keeps document order.
const SERPER_BODY: &str = r#"{
  "searchParameters": {"q": "jane acme.io", "type": "search", "num": 5, "engine": "google"},
  "knowledgeGraph": {
    "title": "Acme",
    "type": "Software company",
    "website": "https://acme.io/",
    "imageUrl": "https://example.com/acme.png",
    "description": "Acme builds rockets for roadrunners.",
    "descriptionSource": "Wikipedia",
    "descriptionLink": "https://en.wikipedia.org/wiki/Acme",
    "attributes": {
      "Founded": "2012",
      "Headquarters": "Phoenix, AZ",
      "CEO": "Wile E. Coyote"
    }
  },
  "organic": [
    {
      "title": "Jane Doe - VP Sales - Acme | LinkedIn",
      "link": "https://www.linkedin.com/in/janedoe",
      "snippet": "Jane leads sales at Acme.",
      "position": 1
    },
    {
      "title": "Acme raises $20M",
      "link": "https://news.example.com/acme",
      "snippet": "Acme announced a Series B.",
      "date": "Mar 3, 2026",
      "sitelinks": [{"title": "Team", "link": "https://acme.io/team"}],
      "position": 2
    },
    {"link": "https://acme.io", "position": 3}
  ],
  "peopleAlsoAsk": [{"question": "What does Acme do?", "snippet": "Rockets.", "link": "https://acme.io"}],
  "relatedSearches": [{"query": "acme rockets"}],
  "credits": 1
}"#;

fn serper_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(SERPER_BODY, "application/json")
}

async fn client(server: &MockServer) -> SerperClient {
    SerperClient::new(SerperConfig {
        url: format!("{}/search", server.uri()),
        request_timeout: Duration::from_millis(500),
        ..SerperConfig::new(KEY)
    })
    .unwrap()
}

async fn answer(
    template: ResponseTemplate,
) -> Result<outreach_core::providers::SearchResults, Error> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(template)
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .await
        .search(&SearchQuery::new("acme.io"))
        .await
}

#[tokio::test]
async fn success_parses_results_and_sends_key_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .and(header("X-API-KEY", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"q": "jane acme.io", "num": 5})))
        .respond_with(serper_ok())
        .expect(1)
        .mount(&server)
        .await;

    let query = SearchQuery {
        q: "jane acme.io".into(),
        num: Some(5),
    };
    let results = client(&server).await.search(&query).await.unwrap();

    assert_eq!(results.organic.len(), 3);
    assert_eq!(
        results.organic[0],
        SearchHit {
            title: "Jane Doe - VP Sales - Acme | LinkedIn".into(),
            link: "https://www.linkedin.com/in/janedoe".into(),
            snippet: "Jane leads sales at Acme.".into(),
        }
    );
    assert_eq!(results.organic[1].snippet, "Acme announced a Series B.");
    assert_eq!(
        results.organic[2],
        SearchHit {
            title: String::new(),
            link: "https://acme.io".into(),
            snippet: String::new(),
        }
    );
    assert_eq!(
        results.knowledge_graph,
        Some(KnowledgeGraph {
            title: "Acme".into(),
            kind: Some("Software company".into()),
            description: Some("Acme builds rockets for roadrunners.".into()),
            website: Some("https://acme.io/".into()),
            // Document order, not alphabetical.
            attributes: vec![
                ("Founded".into(), "2012".into()),
                ("Headquarters".into(), "Phoenix, AZ".into()),
                ("CEO".into(), "Wile E. Coyote".into()),
            ],
        })
    );
}

#[tokio::test]
async fn num_is_omitted_when_unset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json(json!({"q": "acme.io"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"organic": []})))
        .expect(1)
        .mount(&server)
        .await;
    let results = client(&server)
        .await
        .search(&SearchQuery::new("acme.io"))
        .await
        .unwrap();
    assert!(results.organic.is_empty());
    assert_eq!(results.knowledge_graph, None);
}

#[tokio::test]
async fn empty_object_is_empty_results() {
    let results = answer(ResponseTemplate::new(200).set_body_json(json!({}))).await;
    let results = results.unwrap();
    assert!(results.organic.is_empty() && results.knowledge_graph.is_none());
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_auth_errors() {
    for status in [401, 403] {
        let body = json!({"message": "Unauthorized.", "statusCode": status});
        match answer(ResponseTemplate::new(status).set_body_json(body)).await {
            Err(Error::ProviderAuth {
                provider: ProviderKind::Search,
                status: s,
            }) => assert_eq!(s, status),
            other => panic!("{status}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn payment_required_is_out_of_credit() {
    let err = answer(ResponseTemplate::new(402)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ProviderOutOfCredit {
                provider: ProviderKind::Search
            }
        ),
        "{err:?}"
    );
    assert!(err.is_fatal());
}

#[tokio::test]
async fn not_enough_credits_400_is_out_of_credit() {
    let body = json!({"message": "Not enough credits", "statusCode": 400});
    let err = answer(ResponseTemplate::new(400).set_body_json(body))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProviderOutOfCredit { .. }), "{err:?}");
}

#[tokio::test]
async fn other_400_is_upstream() {
    let body = json!({"message": "Query is required", "statusCode": 400});
    match answer(ResponseTemplate::new(400).set_body_json(body)).await {
        Err(e @ Error::Upstream { status: 400, .. }) => {
            assert!(e.to_string().contains("Query is required"), "{e}");
            assert!(!e.is_retryable());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let err = answer(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .await
        .unwrap_err();
    match err {
        Error::RateLimited {
            provider: ProviderKind::Search,
            retry_after,
        } => assert_eq!(retry_after, Some(Duration::from_secs(7))),
        other => panic!("unexpected {other:?}"),
    }

    let err = answer(ResponseTemplate::new(429)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );

    // An HTTP-date in the future: some positive delay, no more than asked.
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    let err = answer(ResponseTemplate::new(429).insert_header("Retry-After", at.as_str()))
        .await
        .unwrap_err();
    let wait = err.retry_after().unwrap();
    assert!(
        wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
}

#[tokio::test]
async fn server_error_keeps_a_short_body() {
    let long = "x".repeat(5000);
    let err = answer(ResponseTemplate::new(503).set_body_string(long))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    match err {
        Error::Upstream {
            status: 503, body, ..
        } => assert!(body.chars().count() <= 201, "{}", body.len()),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn unparseable_success_is_bad_response() {
    for template in [
        ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
        ResponseTemplate::new(200).set_body_json(json!(["not", "an", "object"])),
        ResponseTemplate::new(200).set_body_json(json!({"organic": "nope"})),
    ] {
        let err = answer(template).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::BadResponse {
                    provider: ProviderKind::Search,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn slow_answer_is_timeout() {
    let template = serper_ok().set_delay(Duration::from_secs(3));
    let err = answer(template).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                provider: ProviderKind::Search
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn refused_connection_is_network() {
    // Bind a port, then free it: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = SerperClient::new(SerperConfig {
        url: format!("http://{addr}/search"),
        ..SerperConfig::new(KEY)
    })
    .unwrap();
    let err = client.search(&SearchQuery::new("x")).await.unwrap_err();
    match &err {
        Error::Network { message, .. } => assert!(!message.contains(KEY)),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
}

#[test]
fn a_key_that_cannot_be_a_header_is_a_config_error() {
    let err = SerperClient::new(SerperConfig::new("bad\nkey")).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("bad\nkey"));
}
