//! In-process fake providers for engine tests: closures behind the real ports, with
//! call counters and optional latency.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use outreach_core::providers::{
    ChatRequest, ChatResponse, Llm, SearchHit, SearchProvider, SearchQuery, SearchResults, Usage,
};
use outreach_core::{Enricher, EnricherConfig, Metrics, Result};

type SearchFn = dyn Fn(&SearchQuery) -> Result<SearchResults> + Send + Sync;
type LlmFn = dyn Fn(&ChatRequest) -> Result<String> + Send + Sync;

pub struct FnSearch {
    pub f: Box<SearchFn>,
    pub delay: Duration,
    pub calls: AtomicU64,
    pub queries: std::sync::Mutex<Vec<String>>,
}

impl std::fmt::Debug for FnSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSearch")
    }
}

#[async_trait]
impl SearchProvider for FnSearch {
    async fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.queries.lock().unwrap().push(query.q.clone());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.f)(query)
    }
}

pub struct FnLlm {
    pub f: Box<LlmFn>,
    pub delay: Duration,
    pub calls: AtomicU64,
}

impl std::fmt::Debug for FnLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnLlm")
    }
}

#[async_trait]
impl Llm for FnLlm {
    async fn complete(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let content = (self.f)(request)?;
        Ok(ChatResponse {
            usage: Usage {
                prompt_tokens: request
                    .messages
                    .iter()
                    .map(|m| m.content.len() as u64 / 4)
                    .sum(),
                completion_tokens: content.len() as u64 / 4,
            },
            content,
            ..ChatResponse::default()
        })
    }
}

pub fn search_fn(
    f: impl Fn(&SearchQuery) -> Result<SearchResults> + Send + Sync + 'static,
) -> Arc<FnSearch> {
    Arc::new(FnSearch {
        f: Box::new(f),
        delay: Duration::ZERO,
        calls: AtomicU64::new(0),
        queries: Default::default(),
    })
}

pub fn llm_fn(f: impl Fn(&ChatRequest) -> Result<String> + Send + Sync + 'static) -> Arc<FnLlm> {
    Arc::new(FnLlm {
        f: Box::new(f),
        delay: Duration::ZERO,
        calls: AtomicU64::new(0),
    })
}

/// Search results naming the query, with one link per query.
pub fn echo_search() -> Arc<FnSearch> {
    search_fn(|q| Ok(echo_results(q)))
}

/// One hit naming the query (so a good answer's facts verify).
pub fn echo_results(q: &SearchQuery) -> SearchResults {
    SearchResults {
        organic: vec![SearchHit {
            title: format!("About {}", q.q),
            link: format!("https://example.com/{}", q.q.replace(' ', "/")),
            snippet: format!("{} is growing fast.", q.q),
        }],
        knowledge_graph: None,
    }
}

/// Research JSON for JSON-mode requests (naming the prospect email it saw), a valid
/// opener otherwise; the combined shape when the system prompt asks for both.
pub fn good_llm() -> Arc<FnLlm> {
    llm_fn(|req| Ok(good_answer(req)))
}

/// The findings lines of a research prompt: (section, title, snippet, link).
pub fn finding_lines(user: &str) -> Vec<(String, String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in user.lines() {
        if line.starts_with("Person search") || line.starts_with("Company search") {
            section = line.split(' ').next().unwrap_or("").to_string();
            continue;
        }
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        let Some((body, link)) = rest.rsplit_once(" [") else {
            continue;
        };
        let Some((title, snippet)) = body.split_once(" — ") else {
            continue;
        };
        out.push((
            section.clone(),
            title.to_string(),
            snippet.to_string(),
            link.trim_end_matches(']').to_string(),
        ));
    }
    out
}

pub fn good_answer(req: &ChatRequest) -> String {
    let user = &req.messages[1].content;
    let email = user
        .lines()
        .find_map(|l| l.strip_prefix("Email: "))
        .unwrap_or("unknown");
    let mut person_info = Vec::new();
    let mut company_info = vec!["Raised a Series A".to_string()];
    // One invented fact with an invented source: the verifier must drop it.
    let mut evidence = vec![
        serde_json::json!({"fact": "Raised a Series A", "url": "https://invented.example/not-shown", "quote": "Acme raised a Series A round"}),
    ];
    for (section, _title, snippet, link) in finding_lines(user) {
        let fact = snippet.trim_end_matches('.').to_string();
        evidence.push(serde_json::json!({"fact": fact, "url": link, "quote": snippet}));
        if section == "Person" {
            person_info.push(fact);
        } else {
            company_info.push(fact);
        }
    }
    let research = serde_json::json!({
        "person": {"name": email, "title": "unknown", "info": person_info},
        "company": {"name": "Acme", "info": company_info, "moat": "unknown"},
        "evidence": evidence
    });
    if req.format.is_json() && req.messages[0].content.contains("copywriter") {
        serde_json::json!({"research": research, "opener": "Scaling outbound after a raise is hard. We help keep quality up."}).to_string()
    } else if req.format.is_json() {
        research.to_string()
    } else {
        let name = user
            .lines()
            .find_map(|l| l.strip_prefix("Name: "))
            .unwrap_or("you");
        format!("Noticed {name} is hiring. We make outreach easier.")
    }
}

pub fn enricher(
    search: Option<Arc<FnSearch>>,
    llm: Option<Arc<FnLlm>>,
    config: EnricherConfig,
) -> Enricher {
    Enricher::new(
        search.map(|s| s as Arc<dyn SearchProvider>),
        llm.map(|l| l as Arc<dyn Llm>),
        config,
        Arc::new(Metrics::default()),
    )
}

/// Write a CSV with the given header and rows into `dir`.
pub fn write_csv(dir: &Path, name: &str, header: &[&str], rows: &[Vec<String>]) -> PathBuf {
    let path = dir.join(name);
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
    path
}

/// Read a CSV back as (headers, rows).
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().from_path(path).unwrap();
    let headers = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    (headers, rows)
}

/// `n` prospects, `per_company` at each company: (id, name, email).
pub fn prospects(n: usize, per_company: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            vec![
                i.to_string(),
                format!("Person {i}"),
                format!("person{i}@company{}.com", i / per_company),
            ]
        })
        .collect()
}

/// A charged job on `file_path` (a stored upload) with every option at its default,
/// CSV out.
pub fn job_request(user: &str, file_path: String) -> outreach_core::jobs::CreateJob {
    outreach_core::jobs::CreateJob {
        user_id: user.into(),
        file_path,
        filename: "prospects.csv".into(),
        email_col: None,
        columns: Default::default(),
        service: outreach_core::ServiceContext::default(),
        output_columns: None,
        format: outreach_core::output::OutputFormat::Csv,
        limit: None,
        combined: false,
        charge: true,
        job_id: None,
        campaign: Default::default(),
    }
}
