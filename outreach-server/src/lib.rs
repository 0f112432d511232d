//! `outreach-server`: the hosted HTTP API over `outreach-core` ([`server`]), used by the
//! `outreach serve` subcommand of the `outreach` binary and by the integration tests,
//! which drive [`server::app`] without a socket.

pub mod metrics_exporter;
pub mod server;
