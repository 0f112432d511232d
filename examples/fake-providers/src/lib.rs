//! Fake providers that speak Serper's and the OpenAI chat-completions wire formats,
//! with plausible, deterministic answers derived from the request. Used by the demo in
//! the README, the CLI and engine tests, and the benchmarks.
//!
//! Run with `cargo run -p outreach-fake-providers` to get two URLs to point
//! `SERPER_URL` and `LLM_BASE_URL` at.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// How the fakes behave.
#[derive(Debug, Clone, Default)]
pub struct FakeOptions {
    pub search_latency: Duration,
    pub llm_latency: Duration,
    /// Every n-th request to each provider answers 500 (0 = never).
    pub fail_every: u64,
}

/// Both fakes, running on loopback until dropped.
pub struct FakeProviders {
    pub search: MockServer,
    pub llm: MockServer,
    pub search_requests: Arc<AtomicU64>,
    pub llm_requests: Arc<AtomicU64>,
}

impl FakeProviders {
    pub async fn start(options: FakeOptions) -> Self {
        // Request recording off: a benchmark sends hundreds of thousands of requests.
        let search = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let llm = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let search_requests = Arc::new(AtomicU64::new(0));
        let llm_requests = Arc::new(AtomicU64::new(0));
        Mock::given(method("POST"))
            .and(path("/search"))
            .respond_with(FakeSerper {
                latency: options.search_latency,
                fail_every: options.fail_every,
                count: search_requests.clone(),
            })
            .mount(&search)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(FakeLlm {
                latency: options.llm_latency,
                fail_every: options.fail_every,
                count: llm_requests.clone(),
            })
            .mount(&llm)
            .await;
        Self {
            search,
            llm,
            search_requests,
            llm_requests,
        }
    }

    /// The value for `SERPER_URL`.
    pub fn serper_url(&self) -> String {
        format!("{}/search", self.search.uri())
    }

    /// The value for `LLM_BASE_URL`.
    pub fn llm_base_url(&self) -> String {
        format!("{}/v1", self.llm.uri())
    }
}

fn should_fail(count: &AtomicU64, fail_every: u64) -> bool {
    let n = count.fetch_add(1, Ordering::Relaxed) + 1;
    fail_every > 0 && n.is_multiple_of(fail_every)
}

struct FakeSerper {
    latency: Duration,
    fail_every: u64,
    count: Arc<AtomicU64>,
}

impl Respond for FakeSerper {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if should_fail(&self.count, self.fail_every) {
            return ResponseTemplate::new(500).set_body_string("upstream hiccup");
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let q = body
            .get("q")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        ResponseTemplate::new(200)
            .set_body_json(serper_answer(&q))
            .set_delay(self.latency)
    }
}

/// A Serper response for `q`: "<user> <domain>" is a person search, "<domain>" a company one.
pub fn serper_answer(q: &str) -> Value {
    let mut parts = q.split_whitespace();
    let (user, domain) = match (parts.next(), parts.next()) {
        (Some(u), Some(d)) => (Some(u), d),
        (Some(d), None) => (None, d),
        _ => (None, "example.com"),
    };
    let company = company_name(domain);
    match user {
        Some(user) => {
            let person = person_name(user);
            json!({
                "searchParameters": {"q": q, "type": "search", "engine": "google"},
                "organic": [
                    {"title": format!("{person} - {company} | LinkedIn"), "link": format!("https://www.linkedin.com/in/{}", user.replace('.', "-")),
                     "snippet": format!("{person} leads revenue at {company}. Previously scaled sales teams at two SaaS startups."), "position": 1},
                    {"title": format!("{person} on building pipeline"), "link": format!("https://blog.{domain}/{}", user.replace('.', "-")),
                     "snippet": format!("{person} writes about outbound, hiring SDRs and keeping reply rates up while growing."), "position": 2}
                ]
            })
        }
        None => json!({
            "searchParameters": {"q": q, "type": "search", "engine": "google"},
            "knowledgeGraph": {"title": company, "type": "Company", "description": format!("{company} builds software for mid-market operations teams."),
                "website": format!("https://{domain}"), "attributes": {"Founded": "2016", "Headquarters": "Berlin"}},
            "organic": [
                {"title": format!("{company} raises Series B"), "link": format!("https://news.example.com/{domain}-series-b"),
                 "snippet": format!("{company} raised a $30M Series B to expand into North America and double its sales team."), "position": 1},
                {"title": format!("About {company}"), "link": format!("https://{domain}/about"),
                 "snippet": format!("{company} serves 2,000 customers with a platform known for fast onboarding."), "position": 2}
            ]
        }),
    }
}

fn person_name(user: &str) -> String {
    user.split(['.', '_', '-'])
        .filter(|p| !p.is_empty())
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ")
}

fn company_name(domain: &str) -> String {
    let base = domain.split('.').next().unwrap_or(domain);
    base.split('-')
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

struct FakeLlm {
    latency: Duration,
    fail_every: u64,
    count: Arc<AtomicU64>,
}

impl Respond for FakeLlm {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if should_fail(&self.count, self.fail_every) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "overloaded"}}));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let content = llm_answer(&body);
        let prompt_tokens = request.body.len() as u64 / 4;
        let completion_tokens = content.len() as u64 / 4;
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model").cloned().unwrap_or(Value::Null),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
            }))
            .set_delay(self.latency)
    }
}

/// The assistant's content for a chat request: research JSON, an opener, or both.
pub fn llm_answer(body: &Value) -> String {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let text = |role: &str| {
        messages
            .iter()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some(role))
            .filter_map(|m| m.get("content").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let system = text("system");
    let user = text("user");
    let json_mode = body.get("response_format").is_some();
    let research = research_from_findings(&user);
    // The personalization prompt carries the research JSON rather than the findings.
    let company = user
        .split("\"company\":{\"name\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .or_else(|| research["company"]["name"].as_str())
        .unwrap_or("your company")
        .to_string();
    let opener = format!(
        "Doubling the sales team after a Series B usually strains pipeline quality at {company}. We keep every first line grounded in real research, so replies keep pace."
    );
    if json_mode && system.contains("copywriter") {
        json!({"research": research, "opener": opener}).to_string()
    } else if json_mode {
        research.to_string()
    } else {
        opener
    }
}

fn research_from_findings(user: &str) -> Value {
    let email = user
        .lines()
        .find_map(|l| l.strip_prefix("Prospect email: "))
        .unwrap_or("someone@example.com");
    let (name, domain) = email.split_once('@').unwrap_or(("someone", "example.com"));
    let sources: Vec<String> = user
        .lines()
        .filter_map(|l| {
            l.rsplit_once('[')
                .and_then(|(_, rest)| rest.strip_suffix(']'))
        })
        .take(3)
        .map(str::to_string)
        .collect();
    json!({
        "person": {"name": person_name(name), "info": ["Leads revenue", "Scaled sales teams at two SaaS startups"]},
        "company": {"name": company_name(domain), "info": ["Raised a $30M Series B", "Expanding into North America"], "moat": "fast onboarding"},
        "sources": sources
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openers_name_the_company_from_the_research() {
        let body = json!({
            "messages": [
                {"role": "system", "content": "Write an opener."},
                {"role": "user", "content": "Research:\n{\"person\":{\"name\":\"Jane\",\"info\":[]},\"company\":{\"name\":\"Northwind Logistics\",\"info\":[],\"moat\":\"unknown\"},\"sources\":[]}\n\nOur service:\n…"}
            ]
        });
        let opener = llm_answer(&body);
        assert!(opener.contains("at Northwind Logistics."), "{opener}");
    }

    #[test]
    fn research_names_the_prospect_and_cites_shown_urls() {
        let body = json!({
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": "You are a B2B sales researcher."},
                {"role": "user", "content": "Prospect email: jane.doe@acme-corp.com\n- About — snippet [https://acme-corp.com/about]"}
            ]
        });
        let v: Value = serde_json::from_str(&llm_answer(&body)).unwrap();
        assert_eq!(v["person"]["name"], "Jane Doe");
        assert_eq!(v["company"]["name"], "Acme Corp");
        assert_eq!(v["sources"][0], "https://acme-corp.com/about");
    }
}
