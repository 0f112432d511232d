#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property: for any chunk size and concurrency, and providers answering in random
//! order, the output is the input, row for row, in order.

mod support;

use std::sync::Arc;
use std::time::Duration;

use outreach_core::output::OutputFormat;
use outreach_core::providers::{SearchProvider, SearchQuery, SearchResults};
use outreach_core::{enrich_file, EnrichOptions, EnricherConfig, Metrics, NoProgress};
use proptest::prelude::*;
use support::*;

/// Answers after a delay derived from the query, so rows finish out of order.
#[derive(Debug)]
struct Jittery;

#[async_trait::async_trait]
impl SearchProvider for Jittery {
    async fn search(&self, q: &SearchQuery) -> outreach_core::Result<SearchResults> {
        let h =
            q.q.bytes()
                .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
        tokio::time::sleep(Duration::from_micros(h % 3000)).await;
        // Results the good model can quote, so rows are enriched (not abstentions).
        Ok(echo_results(q))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn output_is_input_in_order(rows in 0usize..300, chunk in 1usize..70, concurrency in 1usize..100) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let mut data = prospects(rows.max(1), 3);
            // Every 7th row invalid: fallbacks must keep their place too.
            for (i, r) in data.iter_mut().enumerate() { if i % 7 == 3 { r[2] = format!("bad{i}"); } }
            let input = write_csv(dir.path(), "in.csv", &["id", "name", "email"], &data);
            let out = dir.path().join("out.csv");
            let e = outreach_core::Enricher::new(
                Some(Arc::new(Jittery)), Some(good_llm()), EnricherConfig::default(), Arc::new(Metrics::default()));
            let options = EnrichOptions { chunk_size: chunk, concurrency, format: Some(OutputFormat::Csv), ..Default::default() };
            enrich_file(&e, &input, &out, &options, &NoProgress).await.unwrap();
            let (_, got) = read_csv(&out);
            assert_eq!(got.len(), data.len());
            for (g, d) in got.iter().zip(&data) {
                assert_eq!(g[..3], d[..]);
                if d[2].starts_with("bad") {
                    assert_eq!(g[3], "Research unavailable: invalid email.");
                } else {
                    let v: serde_json::Value = serde_json::from_str(&g[3]).unwrap();
                    // The row names the person; that name is what the research is about.
                    assert_eq!(v["person"]["name"], d[1]);
                }
            }
        });
    }
}
