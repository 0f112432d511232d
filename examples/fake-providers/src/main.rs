//! Run with `cargo run -p outreach-fake-providers [-- SEARCH_MS LLM_MS STRANGER% FACT% CLAIM%]`:
//! starts fake Serper and LLM servers on loopback and prints the environment to point
//! at them. The three percentages make the web serve same-name strangers and the model
//! invent facts and opener claims (default 0).

use std::time::Duration;

use outreach_fake_providers::{FakeOptions, FakeProviders};

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().unwrap_or(0));
    let options = FakeOptions {
        search_latency: Duration::from_millis(args.next().unwrap_or(0)),
        llm_latency: Duration::from_millis(args.next().unwrap_or(0)),
        fail_every: 0,
        stranger_percent: args.next().unwrap_or(0).min(100) as u8,
        invented_fact_percent: args.next().unwrap_or(0).min(100) as u8,
        invented_claim_percent: args.next().unwrap_or(0).min(100) as u8,
    };
    let fakes = FakeProviders::start(options).await;
    println!(
        "export SERPER_URL={} SERPER_API_KEY=fake",
        fakes.serper_url()
    );
    println!(
        "export LLM_BASE_URL={} LLM_API_KEY=fake",
        fakes.llm_base_url()
    );
    eprintln!("fake providers running; Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
}
