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
    /// Percent of people whose person search returns only a same-name stranger (a
    /// pastry chef elsewhere), chosen by a stable hash of the query.
    pub stranger_percent: u8,
    /// Percent of research answers that add one invented company fact (with a made-up
    /// quote, sometimes a made-up URL), by a stable hash of the prospect's address.
    pub invented_fact_percent: u8,
    /// Percent of first openers that add an invented claim (an office that no source
    /// mentions), by a stable hash of the prospect's address. The retry drops it.
    pub invented_claim_percent: u8,
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
                stranger_percent: options.stranger_percent,
                count: search_requests.clone(),
            })
            .mount(&search)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(FakeLlm {
                latency: options.llm_latency,
                fail_every: options.fail_every,
                behaviour: Behaviour {
                    invented_fact_percent: options.invented_fact_percent,
                    invented_claim_percent: options.invented_claim_percent,
                },
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
    stranger_percent: u8,
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
            .set_body_json(serper_answer_with(&q, self.stranger_percent))
            .set_delay(self.latency)
    }
}

/// A stable percentage bucket (0..100) for a text: FNV-1a, so every run and every
/// process picks the same rows.
pub fn bucket(text: &str) -> u8 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.to_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % 100) as u8
}

/// What a search query asks about.
enum Query {
    /// A person: their name, their company's name and domain.
    Person {
        name: String,
        user: String,
        company: String,
        domain: String,
    },
    /// A company, by domain (or by name, for free-mail prospects).
    Company { company: String, domain: String },
}

/// Read a query the way the pipeline builds them: `<user> <domain>` and `<Name> <Company>`
/// are person searches, `<domain>` and a bare company name company searches, an address a
/// person search too.
fn read_query(q: &str) -> Query {
    let words: Vec<&str> = q.split_whitespace().collect();
    if let [one] = words.as_slice() {
        if let Some((user, domain)) = one.split_once('@') {
            return Query::Person {
                name: person_name(user),
                user: user.to_string(),
                company: company_name(domain),
                domain: domain.to_string(),
            };
        }
        if one.contains('.') {
            return Query::Company {
                company: company_name(one),
                domain: one.to_string(),
            };
        }
    }
    let domain_at = words
        .iter()
        .rposition(|w| w.contains('.') && !w.contains('@'));
    match domain_at {
        // `jane.doe acme.io`, `Jane Doe acme.io`
        Some(i) if i > 0 => {
            let who = words[..i].join(" ");
            let user = who.to_lowercase().replace(' ', ".");
            Query::Person {
                name: person_name(&user),
                user,
                company: company_name(words[i]),
                domain: words[i].to_string(),
            }
        }
        _ if words.len() >= 3 => {
            // `Jane Doe Northwind Logistics`: the first two words are the person.
            let company = words[2..].join(" ");
            let user = format!("{}.{}", words[0], words[1]).to_lowercase();
            Query::Person {
                name: format!("{} {}", words[0], words[1]),
                user,
                domain: format!("{}.com", company.to_lowercase().replace(' ', "-")),
                company,
            }
        }
        _ => {
            // A company name alone (free-mail prospects).
            let company = words.join(" ");
            Query::Company {
                domain: format!("{}.com", company.to_lowercase().replace(' ', "-")),
                company,
            }
        }
    }
}

/// A Serper response for `q` (no strangers).
pub fn serper_answer(q: &str) -> Value {
    serper_answer_with(q, 0)
}

/// A Serper response for `q`, in the shape Serper's `/search` returns (`searchParameters`,
/// `knowledgeGraph`, `organic` with `title`/`link`/`snippet`/`position`), as in the
/// response recorded in `outreach-core/tests/providers_serper.rs`. For
/// `stranger_percent` of person queries the results are about a same-name stranger.
pub fn serper_answer_with(q: &str, stranger_percent: u8) -> Value {
    let params = json!({"q": q, "type": "search", "engine": "google"});
    match read_query(q) {
        Query::Person {
            name,
            user,
            company,
            domain,
        } => {
            let slug = user.replace('.', "-");
            if bucket(q) < stranger_percent {
                return json!({
                    "searchParameters": params,
                    "organic": [
                        {"title": format!("{name} - Pastry Chef - Blue Bakery | LinkedIn"), "link": format!("https://www.linkedin.com/in/{slug}-lyon"),
                         "snippet": format!("{name} is a pastry chef at Blue Bakery in Lyon. Winner of the 2021 Golden Whisk award."), "position": 1},
                        {"title": format!("{name} opens a second bakery"), "link": format!("https://lyon-news.example/{slug}-bakery"),
                         "snippet": format!("{name} opened a second Blue Bakery shop in Lyon in 2023."), "position": 2}
                    ]
                });
            }
            json!({
                "searchParameters": params,
                "organic": [
                    {"title": format!("{name} - {company} | LinkedIn"), "link": format!("https://www.linkedin.com/in/{slug}"),
                     "snippet": format!("{name} leads revenue at {company}. Previously scaled sales teams at two SaaS startups."), "position": 1},
                    {"title": format!("{name} on building pipeline"), "link": format!("https://blog.{domain}/{slug}"),
                     "snippet": format!("{name} writes about outbound, hiring SDRs and keeping reply rates up while growing."), "position": 2}
                ]
            })
        }
        Query::Company { company, domain } => json!({
            "searchParameters": params,
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
    behaviour: Behaviour,
    count: Arc<AtomicU64>,
}

/// How often the fake model makes things up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    pub invented_fact_percent: u8,
    pub invented_claim_percent: u8,
}

impl Respond for FakeLlm {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if should_fail(&self.count, self.fail_every) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "overloaded"}}));
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let content = llm_answer_with(&body, self.behaviour);
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

/// The assistant's content for a chat request (a model that never invents).
pub fn llm_answer(body: &Value) -> String {
    llm_answer_with(body, Behaviour::default())
}

/// The assistant's content for a chat request: research JSON, an opener, or both.
///
/// Like a real model it reads the findings and copies facts with their quotes; unlike a
/// careful one it does not tell a same-name stranger from the prospect, and (per
/// `behaviour`) sometimes invents a company fact or an opener claim.
pub fn llm_answer_with(body: &Value, behaviour: Behaviour) -> String {
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
    let email = user
        .lines()
        .find_map(|l| l.strip_prefix("Email: "))
        .unwrap_or("someone@example.com")
        .to_string();
    let is_retry = messages.len() > 2;
    let research = research_from_findings(&user, &email, behaviour);
    let opener = opener(&user, &research, &email, behaviour, is_retry);
    if json_mode && system.contains("copywriter") {
        json!({"research": research, "opener": opener}).to_string()
    } else if json_mode {
        research.to_string()
    } else {
        opener
    }
}

/// An opener from the research in the prompt (the personalization prompt carries the
/// verified research JSON; the combined one the findings).
fn opener(
    user: &str,
    research: &Value,
    email: &str,
    behaviour: Behaviour,
    is_retry: bool,
) -> String {
    let shown: Option<Value> = user
        .lines()
        .skip_while(|l| !l.starts_with("Research:"))
        .nth(1)
        .and_then(|l| serde_json::from_str(l).ok());
    let research = shown.as_ref().unwrap_or(research);
    let company = research["company"]["name"]
        .as_str()
        .filter(|c| *c != "unknown")
        .map(str::to_string)
        .or_else(|| {
            user.lines()
                .find_map(|l| l.strip_prefix("Company: "))
                .map(str::to_string)
        });
    let fact = research["company"]["info"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(|f| f.split_whitespace().take(18).collect::<Vec<_>>().join(" "));
    let invent = !is_retry && bucket(&format!("claim {email}")) < behaviour.invented_claim_percent;
    let tie = "Keeping every first line grounded in research could help your team book more qualified meetings.";
    match (company, fact) {
        (Some(company), Some(_)) if invent => {
            format!("Saw that {company} opened a Hamburg office with 300 staff. {tie}")
        }
        (Some(company), Some(fact)) => {
            format!(
                "Saw this about {company}: {}. {tie}",
                lowercase_first(&fact)
            )
        }
        (Some(company), None) => {
            format!("Curious how outbound is going at {company} this quarter. {tie}")
        }
        (None, _) => format!("Curious how outbound is going this quarter. {tie}"),
    }
}

fn lowercase_first(s: &str) -> String {
    s.trim_end_matches('.').to_string()
}

/// One finding line of the prompt: `- <title> — <snippet> [<link>]`, in its section.
struct Finding {
    person_search: bool,
    snippet: String,
    link: String,
}

fn findings(user: &str) -> Vec<Finding> {
    let mut person_search = false;
    let mut out = Vec::new();
    for line in user.lines() {
        if line.starts_with("Person search") {
            person_search = true;
        } else if line.starts_with("Company search") {
            person_search = false;
        }
        let Some(rest) = line.strip_prefix("- ") else {
            continue;
        };
        if rest.starts_with("Knowledge panel") {
            continue;
        }
        let Some((body, link)) = rest.rsplit_once(" [") else {
            continue;
        };
        let Some((_title, snippet)) = body.split_once(" \u{2014} ") else {
            continue;
        };
        out.push(Finding {
            person_search,
            snippet: snippet.to_string(),
            link: link.trim_end_matches(']').to_string(),
        });
    }
    out
}

/// The research a plain extraction model gives: the first sentence of each finding as
/// a fact, quoted verbatim; person findings as person facts, whoever they are about.
fn research_from_findings(user: &str, email: &str, behaviour: Behaviour) -> Value {
    let (local, domain) = email.split_once('@').unwrap_or(("someone", "example.com"));
    let name = user
        .lines()
        .find_map(|l| l.strip_prefix("Name: "))
        .map(str::to_string)
        .unwrap_or_else(|| person_name(local));
    let company = user
        .lines()
        .find_map(|l| l.strip_prefix("Company: "))
        .map(str::to_string)
        .unwrap_or_else(|| company_name(domain));
    let mut person_info = Vec::new();
    let mut company_info = Vec::new();
    let mut evidence = Vec::new();
    let mut moat = "unknown".to_string();
    for f in findings(user) {
        let sentence = f
            .snippet
            .split(". ")
            .next()
            .unwrap_or(&f.snippet)
            .trim_end_matches('.')
            .to_string();
        if sentence.is_empty() {
            continue;
        }
        evidence.push(json!({"fact": sentence, "url": f.link, "quote": sentence}));
        if f.person_search {
            person_info.push(sentence);
        } else if f.snippet.contains("known for ") && moat == "unknown" {
            moat = f
                .snippet
                .split("known for ")
                .nth(1)
                .unwrap_or("")
                .trim_end_matches('.')
                .to_string();
            let quote = format!("known for {moat}");
            evidence.push(json!({"fact": moat, "url": f.link, "quote": quote}));
            company_info.push(sentence);
        } else {
            company_info.push(sentence);
        }
    }
    if bucket(&format!("fact {email}")) < behaviour.invented_fact_percent {
        let fact = format!("{company} opened a Hamburg office with 300 staff in 2024");
        let url = evidence
            .first()
            .and_then(|e| e["url"].as_str())
            .map(str::to_string)
            .filter(|_| bucket(email).is_multiple_of(2))
            .unwrap_or_else(|| format!("https://press.example.org/{}", domain.replace('.', "-")));
        evidence.push(json!({"fact": fact, "url": url, "quote": fact}));
        company_info.push(fact);
    }
    json!({
        "person": {"name": name, "title": "unknown", "info": person_info},
        "company": {"name": company, "info": company_info, "moat": moat},
        "evidence": evidence
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
                {"role": "user", "content": "Prospect's row:\nEmail: jane@northwind.com\nResearch:\n{\"person\":{\"name\":\"Jane\",\"info\":[]},\"company\":{\"name\":\"Northwind Logistics\",\"info\":[\"Northwind Logistics raised a $30M Series B\"],\"moat\":\"unknown\"}}\n\nOur service:\n…"}
            ]
        });
        let opener = llm_answer(&body);
        assert!(
            opener.starts_with(
                "Saw this about Northwind Logistics: Northwind Logistics raised a $30M Series B."
            ),
            "{opener}"
        );
    }

    #[test]
    fn research_quotes_the_findings_it_cites() {
        let body = json!({
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": "You are a B2B sales researcher."},
                {"role": "user", "content": "The prospect's row says:\nEmail: jane.doe@acme-corp.com\n\nCompany search \"acme-corp.com\":\n- About — Acme Corp serves 2,000 customers with a platform known for fast onboarding. [https://acme-corp.com/about]"}
            ]
        });
        let v: Value = serde_json::from_str(&llm_answer(&body)).unwrap_or(Value::Null);
        assert_eq!(v["person"]["name"], "Jane Doe");
        assert_eq!(v["company"]["name"], "Acme Corp");
        assert_eq!(v["company"]["moat"], "fast onboarding");
        assert_eq!(v["evidence"][0]["url"], "https://acme-corp.com/about");
        assert_eq!(v["evidence"][0]["quote"], v["evidence"][0]["fact"]);
    }

    #[test]
    fn strangers_and_inventions_follow_the_percentages() {
        let strangers = (0..200)
            .filter(|i| {
                serper_answer_with(&format!("person{i} company{i}.com"), 30)["organic"][0]["title"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Pastry Chef")
            })
            .count();
        assert!((40..=80).contains(&strangers), "{strangers} of 200");
        assert!(
            !serper_answer_with("person1 company1.com", 0)["organic"][0]["title"]
                .as_str()
                .unwrap_or("")
                .contains("Pastry")
        );
    }

    #[test]
    fn queries_are_read_like_the_pipeline_builds_them() {
        let v = serper_answer("Jane Doe Northwind Logistics");
        assert_eq!(
            v["organic"][0]["title"],
            "Jane Doe - Northwind Logistics | LinkedIn"
        );
        let v = serper_answer("jane.doe acme-corp.com");
        assert_eq!(v["organic"][0]["title"], "Jane Doe - Acme Corp | LinkedIn");
        let v = serper_answer("acme-corp.com");
        assert_eq!(v["knowledgeGraph"]["title"], "Acme Corp");
    }
}
