//! Serving the API on a TCP listener with bounds on connections, for clients that are
//! slow on purpose. A review held one half-sent request open 75 s+, and 19,990 of them
//! exhausted the file descriptors. This is `axum::serve`'s accept loop plus:
//!
//! - a **header-read timeout** (hyper's, default 10 s): a request whose headers have
//!   not all arrived by then gets `408` and the connection closes;
//! - an **idle timeout** (default 120 s): a connection that neither sends nor receives
//!   a byte for that long is closed (event streams send a keep-alive every 15 s, so
//!   they stay open);
//! - a **connection limit** (default 4096): beyond it the loop stops accepting, so new
//!   connections wait in the kernel's backlog instead of using descriptors;
//! - a **per-address cap** (default 64; IPv6 per /64): a further connection from the
//!   same address is closed at once.
//!
//! Behind a reverse proxy every connection comes from the proxy: raise the per-address
//! cap there and let the proxy bound its clients.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::server::web::rate_limit::Key;

/// Connection bounds (`OUTREACH_HEADER_TIMEOUT_SECS`, `OUTREACH_IDLE_TIMEOUT_SECS`,
/// `OUTREACH_MAX_CONNECTIONS`, `OUTREACH_MAX_CONNECTIONS_PER_ADDR`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_per_address: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 4096,
            max_per_address: 64,
        }
    }
}

impl ConnLimits {
    pub fn from_env() -> Result<Self, outreach_core::Error> {
        let mut limits = Self::default();
        let number = |name: &str| -> Result<Option<u64>, outreach_core::Error> {
            match std::env::var(name).ok().map(|v| v.trim().to_string()) {
                None => Ok(None),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                    outreach_core::Error::Config(format!(
                        "{name} must be a whole number, got `{v}`"
                    ))
                }),
            }
        };
        if let Some(n) = number("OUTREACH_HEADER_TIMEOUT_SECS")? {
            limits.header_read_timeout = Duration::from_secs(n.max(1));
        }
        if let Some(n) = number("OUTREACH_IDLE_TIMEOUT_SECS")? {
            limits.idle_timeout = Duration::from_secs(n.max(1));
        }
        if let Some(n) = number("OUTREACH_MAX_CONNECTIONS")? {
            limits.max_connections = n.max(1) as usize;
        }
        if let Some(n) = number("OUTREACH_MAX_CONNECTIONS_PER_ADDR")? {
            limits.max_per_address = n.max(1) as usize;
        }
        Ok(limits)
    }
}

/// Serves `router` until `shutdown` resolves, then lets open connections finish
/// (callers bound that wait). Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.as_mut() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.as_mut() => break,
        };
        let Some(slot) = AddressSlot::take(&per_address, peer.ip(), limits.max_per_address) else {
            tracing::debug!(%peer, "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle_timeout, permit, slot));
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let conn = builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// One connection's place in the per-address count.
struct AddressSlot {
    key: String,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl AddressSlot {
    fn take(counts: &Arc<Mutex<HashMap<String, usize>>>, ip: IpAddr, cap: usize) -> Option<Self> {
        let key = Key::client_of(ip);
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Self {
            key,
            counts: counts.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// A TCP stream that fails with `TimedOut` after `idle` without a byte either way, and
/// holds the connection's slots until it is dropped.
struct IdleTimeout {
    inner: TcpStream,
    idle: Duration,
    timer: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
}

impl IdleTimeout {
    fn new(
        inner: TcpStream,
        idle: Duration,
        permit: OwnedSemaphorePermit,
        slot: AddressSlot,
    ) -> Self {
        Self {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
            _permit: permit,
            _slot: slot,
        }
    }

    fn progress(&mut self) {
        self.timer.as_mut().reset(Instant::now() + self.idle);
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle")
}

impl AsyncRead for IdleTimeout {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.progress();
                }
                Poll::Ready(r)
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for IdleTimeout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }
}
