//! [`SerperClient`]: the [`SearchProvider`] adapter for Serper (`google.serper.dev`).
//! Serper's JSON stays in this file; callers see [`SearchResults`].

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::HeaderValue;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::http;
use super::policy::{ProviderPolicy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SEARCH_TIMEOUT};
use super::search::{KnowledgeGraph, SearchHit, SearchProvider, SearchQuery, SearchResults};
use crate::error::{Error, ProviderKind, Result};

/// Serper's search endpoint.
pub const DEFAULT_SERPER_URL: &str = "https://google.serper.dev/search";

const PROVIDER: ProviderKind = ProviderKind::Search;

/// How to reach Serper. `Debug` never prints the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SerperConfig {
    pub url: String,
    pub api_key: String,
    pub connect_timeout: Duration,
    /// Bounds the whole request, body included.
    pub request_timeout: Duration,
    /// A 429 asking to wait longer than this stops the run ([`Error::QuotaExhausted`]).
    pub max_wait: Duration,
}

impl SerperConfig {
    /// The default endpoint and timeouts with this key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            url: DEFAULT_SERPER_URL.to_owned(),
            api_key: api_key.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_SEARCH_TIMEOUT,
            max_wait: http::DEFAULT_MAX_WAIT,
        }
    }

    /// Reads `SERPER_API_KEY`, `SERPER_URL` and `OUTREACH_MAX_WAIT_SECS`. `None` when the key is absent or empty:
    /// the engine then writes the "missing SERPER_API_KEY" fallback instead of searching.
    pub fn from_env() -> Option<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable source (tests, config files).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut config = Self::new(var("SERPER_API_KEY")?);
        if let Some(url) = var("SERPER_URL") {
            config.url = url;
        }
        if let Some(wait) = http::max_wait_from(&var) {
            config.max_wait = wait;
        }
        Some(config)
    }

    /// Takes the connect and request timeouts from `policy`.
    pub fn with_timeouts(mut self, policy: &ProviderPolicy) -> Self {
        self.connect_timeout = policy.connect_timeout;
        self.request_timeout = policy.request_timeout;
        self
    }
}

impl fmt::Debug for SerperConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerperConfig")
            .field("url", &self.url)
            .field("api_key", &"<redacted>")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

/// Serper over HTTP. Cheap to share: hold it in an `Arc` (or wrap it with
/// [`crate::providers::wrap_search`]); the connection pool is inside.
#[derive(Debug)]
pub struct SerperClient {
    url: String,
    api_key: HeaderValue,
    client: reqwest::Client,
    max_wait: Duration,
}

impl SerperClient {
    /// Fails only on an unusable configuration (a key that cannot be an HTTP header,
    /// a TLS backend that cannot start).
    pub fn new(config: SerperConfig) -> Result<Self> {
        Ok(Self {
            api_key: http::secret_header(PROVIDER, &config.api_key)?,
            client: http::build_client(PROVIDER, config.connect_timeout, config.request_timeout)?,
            url: config.url,
            max_wait: config.max_wait,
        })
    }
}

#[async_trait]
impl SearchProvider for SerperClient {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        let request = self
            .client
            .post(&self.url)
            .header("X-API-KEY", self.api_key.clone())
            .json(&WireQuery {
                q: &query.q,
                num: query.num,
            });
        match http::send(PROVIDER, request).await? {
            http::Reply::Success(bytes) => {
                Ok(http::parse_body::<WireResponse>(PROVIDER, &bytes)?.into())
            }
            http::Reply::Failure {
                status,
                headers,
                body,
            } => {
                let error =
                    http::status_error(PROVIDER, status, &headers, &body, SystemTime::now());
                let error = out_of_credit_as_400(error);
                Err(http::over_max_wait(
                    error,
                    &http::ErrorBody::parse(&body),
                    self.max_wait,
                ))
            }
        }
    }
}

/// Serper has been seen answering an exhausted account with `400 {"message": "Not
/// enough credits"}` rather than 402 (user reports, not Serper's documentation). That
/// is the same situation as a 402 and must stop the run, not fail every row one by one.
fn out_of_credit_as_400(error: Error) -> Error {
    match error {
        Error::Upstream {
            status: 400,
            ref body,
            ..
        } if body.to_ascii_lowercase().contains("not enough credits") => {
            Error::ProviderOutOfCredit { provider: PROVIDER }
        }
        other => other,
    }
}

#[derive(Serialize)]
struct WireQuery<'a> {
    q: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    num: Option<u32>,
}

/// The parts of Serper's answer we use. Everything is optional and `null`-tolerant;
/// other fields (`searchParameters`, `peopleAlsoAsk`, `credits`, …) are ignored.
#[derive(Deserialize)]
struct WireResponse {
    organic: Option<Vec<WireHit>>,
    #[serde(rename = "knowledgeGraph")]
    knowledge_graph: Option<WireKnowledgeGraph>,
}

#[derive(Deserialize)]
struct WireHit {
    title: Option<String>,
    link: Option<String>,
    snippet: Option<String>,
}

#[derive(Deserialize)]
struct WireKnowledgeGraph {
    title: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    website: Option<String>,
    #[serde(default, deserialize_with = "ordered_attributes")]
    attributes: Vec<(String, String)>,
}

impl From<WireResponse> for SearchResults {
    fn from(wire: WireResponse) -> Self {
        SearchResults {
            organic: wire
                .organic
                .unwrap_or_default()
                .into_iter()
                .map(|hit| SearchHit {
                    title: hit.title.unwrap_or_default(),
                    link: hit.link.unwrap_or_default(),
                    snippet: hit.snippet.unwrap_or_default(),
                })
                .collect(),
            knowledge_graph: wire.knowledge_graph.map(|kg| KnowledgeGraph {
                title: kg.title.unwrap_or_default(),
                kind: kg.kind,
                description: kg.description,
                website: kg.website,
                attributes: kg.attributes,
            }),
        }
    }
}

/// `attributes` is a JSON object whose key order is meaningful (Serper lists the most
/// telling facts first). A map type would sort it, so the entries are collected in
/// document order. Non-string values are kept as their JSON text; `null`s are dropped.
fn ordered_attributes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<(String, String)>, D::Error> {
    struct Ordered;

    impl<'de> Visitor<'de> for Ordered {
        type Value = Vec<(String, String)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of attributes")
        }

        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_none<E>(self) -> std::result::Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            deserializer.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
            while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                match value {
                    serde_json::Value::Null => {}
                    serde_json::Value::String(s) => entries.push((key, s)),
                    other => entries.push((key, other.to_string())),
                }
            }
            Ok(entries)
        }
    }

    deserializer.deserialize_option(Ordered)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn from_lookup_needs_a_non_empty_key() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(SerperConfig::from_lookup(env(&[])), None);
        assert_eq!(
            SerperConfig::from_lookup(env(&[("SERPER_API_KEY", "  ")])),
            None
        );
        let config = SerperConfig::from_lookup(env(&[("SERPER_API_KEY", "k1\n")])).unwrap();
        assert_eq!(config.api_key, "k1");
        assert_eq!(config.url, DEFAULT_SERPER_URL);
        let config = SerperConfig::from_lookup(env(&[
            ("SERPER_API_KEY", "k1"),
            ("SERPER_URL", "http://localhost:9/s"),
        ]))
        .unwrap();
        assert_eq!(config.url, "http://localhost:9/s");
    }

    #[test]
    fn debug_hides_the_key() {
        let config = SerperConfig::new("secret-key-123");
        assert!(!format!("{config:?}").contains("secret-key-123"));
        let client = SerperClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("secret-key-123"));
    }

    #[test]
    fn tolerates_nulls_and_keeps_attribute_order() {
        let wire: WireResponse = serde_json::from_str(
            r#"{"organic": [{"title": null, "link": "https://a"}],
                "knowledgeGraph": {"title": "A", "attributes": {"Z": "1", "A": 2, "M": null}}}"#,
        )
        .unwrap();
        let results = SearchResults::from(wire);
        assert_eq!(results.organic[0].link, "https://a");
        assert_eq!(results.organic[0].title, "");
        let kg = results.knowledge_graph.unwrap();
        assert_eq!(
            kg.attributes,
            vec![("Z".into(), "1".into()), ("A".into(), "2".into())]
        );
        let wire: WireResponse =
            serde_json::from_str(r#"{"organic": null, "knowledgeGraph": {"attributes": null}}"#)
                .unwrap();
        let results = SearchResults::from(wire);
        assert!(results.organic.is_empty());
        assert!(results.knowledge_graph.unwrap().attributes.is_empty());
    }
}
