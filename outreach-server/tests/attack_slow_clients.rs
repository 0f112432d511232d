//! Issue 12, item 6: slow clients. A review kept a half-sent request open 75 s+ and
//! exhausted file descriptors with 19,990 of them. Here, over loopback TCP against the
//! server's own accept loop (`server::listen`): a half-sent request is cut at the
//! header-read timeout, and connections beyond the per-address cap are closed at once
//! while the ones within it keep working.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use outreach_server::server::listen::{self, ConnLimits};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes); returns what was
/// read and when the connection ended.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(start.elapsed()),
                )
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_requests_are_cut_and_one_address_cannot_take_every_connection() {
    let h = Harness::with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let limits = ConnLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(30),
        max_connections: 100,
        max_per_address: 5,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(listen::serve(listener, h.app(), limits, async {
        let _ = stopped.await;
    }));

    // A complete request is served.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut ok, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed.is_some());

    // A slowloris: headers never finished. Cut at the 1 s header-read timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: 1\r\n")
        .await
        .unwrap();
    let (response, closed) = read_until_closed(&mut slow, Duration::from_secs(15)).await;
    let closed = closed.expect("the half-sent request was never cut");
    assert!(
        closed >= Duration::from_millis(800) && closed < Duration::from_secs(8),
        "cut after {closed:?}: {response}"
    );
    assert!(!response.contains("200 OK"), "{response}");
    drop(slow);

    // Five connections from one address are held open; the sixth is closed at once.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut sixth = TcpStream::connect(addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut sixth, Duration::from_secs(5)).await;
    let closed = closed.expect("the sixth connection stayed open");
    assert!(
        closed < Duration::from_millis(500),
        "closed after {closed:?}"
    );
    // The held ones still work.
    let first = &mut held[0];
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (response, _) = read_until_closed(first, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Closing them frees the address's places.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(addr).await.unwrap();
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (response, _) = read_until_closed(&mut again, Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap();
}
