//! Accepting and serving HTTP/1.1 connections, with the limits `axum::serve` lacks.
//!
//! * **Per-IP connection limit**: a connection from an address that already holds
//!   [`ConnLimits::max_connections_per_ip`] open connections is closed at once, before
//!   any TLS handshake or read.
//! * **Header read timeout** (Vault's `http_read_header_timeout`): from the connection's
//!   start, or from the first byte of a later request, the request line and headers must
//!   arrive within this time, or the connection is closed (slowloris, silent sockets).
//! * **Idle timeout** (Vault's `http_idle_timeout`): a keep-alive connection with no
//!   request in flight and no traffic for this long is closed.
//!
//! While a request is being handled no timeout of this module runs (the handler has
//! its own deadline, `max_request_duration`). A zero duration disables that timeout,
//! a zero limit the per-IP limit.
//!
//! Shutdown: when `shutdown` resolves, the listener stops accepting and every connection
//! is asked to finish gracefully (in-flight requests complete, idle keep-alives close);
//! [`serve`] returns once all connections are gone. The timeouts keep running, so a
//! stalled client cannot hold shutdown up.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use hyper::body::Incoming;
use hyper::service::Service as _;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::http::PeerAddr;

/// Connection limits of the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time allowed for a request's line and headers (zero: no limit).
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection stays open (zero: no limit).
    pub idle_timeout: Duration,
    /// Open connections allowed from one IP address (zero: no limit).
    pub max_connections_per_ip: usize,
}

impl Default for ConnLimits {
    /// Vault's listener defaults for the timeouts (10 s, 5 min); 512 connections per
    /// address leaves room for heavily concurrent clients on one host while keeping a
    /// single host from using up the server's file descriptors.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_connections_per_ip: 512,
        }
    }
}

/// What turns an accepted TCP stream into the stream HTTP is spoken on (the TLS
/// handshake, or nothing).
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream after the handshake.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Performs the handshake.
    fn handshake(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

/// Plain HTTP.
#[derive(Clone)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// Serves `router` on `tcp` until `shutdown` resolves and every connection has ended.
pub async fn serve<H: Handshake>(
    tcp: TcpListener,
    handshake: H,
    router: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(());
    let per_ip = PerIp::default();
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = per_ip.acquire(peer.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(%peer, "too many connections from this address; closing");
            drop(stream);
            continue;
        };
        let handshake = handshake.clone();
        let service = service.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            connection(stream, peer, handshake, service, limits, stop).await;
        });
    }
    drop(tcp);
    drop(stop_rx);
    // Tell every connection, then wait until all have dropped their receiver.
    let _ = stop_tx.send(());
    stop_tx.closed().await;
}

async fn connection<H: Handshake>(
    stream: TcpStream,
    peer: SocketAddr,
    handshake: H,
    service: TowerToHyperService<Router>,
    limits: ConnLimits,
    mut stop: watch::Receiver<()>,
) {
    let state = Arc::new(ConnState::new());
    // The handshake counts against the header read timeout: it precedes the headers.
    let io = match deadline(limits.header_read_timeout, handshake.handshake(stream)).await {
        Some(Ok(io)) => io,
        Some(Err(e)) => {
            tracing::debug!(%peer, error = %e, "handshake failed");
            return;
        }
        None => {
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let io = TokioIo::new(Tracked {
        inner: io,
        state: state.clone(),
    });
    let svc_state = state.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
        let busy = Busy::start(svc_state.clone());
        let call = service.call(req);
        async move {
            let response = call.await;
            drop(busy);
            response
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // This module enforces the header timeout itself: hyper's also runs while a
    // keep-alive connection is idle, which would make the idle timeout meaningless.
    http.header_read_timeout(None);
    let conn = http.serve_connection(io, svc);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            why = state.expired(limits) => {
                tracing::debug!(%peer, reason = why, "closing connection");
                break;
            }
        }
    }
}

/// `None` when `fut` did not finish within `limit` (zero: no limit).
async fn deadline<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    if limit.is_zero() {
        Some(fut.await)
    } else {
        tokio::time::timeout(limit, fut).await.ok()
    }
}

/// Open connections per address.
#[derive(Clone, Default)]
struct PerIp(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's share of its address's count, released on drop.
struct Slot {
    per_ip: PerIp,
    ip: IpAddr,
}

impl PerIp {
    fn acquire(&self, ip: IpAddr, limit: usize) -> Option<Slot> {
        // A poisoned map only means another connection panicked while counting; the
        // counts themselves are still meaningful.
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = map.entry(ip).or_insert(0);
        if limit != 0 && *count >= limit {
            return None;
        }
        *count += 1;
        Some(Slot {
            per_ip: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.per_ip.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = map.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Sentinel for "not set" in the millisecond timestamps of [`ConnState`].
const UNSET: u64 = u64::MAX;

/// What a connection is doing, as the timeouts need it. Times are milliseconds since
/// the connection started.
struct ConnState {
    start: Instant,
    /// When the head of the request now arriving started ([`UNSET`]: none arriving).
    /// The connection's start counts as such for its first request.
    head_since: AtomicU64,
    /// Requests being handled.
    busy: AtomicUsize,
    /// Last traffic or request completion while no request is in flight ([`UNSET`]:
    /// not idle).
    idle_since: AtomicU64,
    /// Wakes the timeout watcher when a deadline may have moved earlier or appeared.
    changed: Notify,
}

impl ConnState {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            head_since: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(UNSET),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn on_read(&self) {
        if self.busy.load(Ordering::Acquire) == 0 {
            let now = self.now();
            self.idle_since.store(UNSET, Ordering::Release);
            if self
                .head_since
                .compare_exchange(UNSET, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.changed.notify_one();
            }
        }
    }

    fn on_write(&self) {
        if self.busy.load(Ordering::Acquire) == 0
            && self.idle_since.load(Ordering::Acquire) != UNSET
        {
            self.idle_since.store(self.now(), Ordering::Release);
        }
    }

    /// Resolves with the reason once a timeout has passed.
    async fn expired(&self, limits: ConnLimits) -> &'static str {
        loop {
            let now = self.now();
            let head = self.head_since.load(Ordering::Acquire);
            let idle = self.idle_since.load(Ordering::Acquire);
            let due = if head != UNSET && !limits.header_read_timeout.is_zero() {
                Some((
                    head + millis(limits.header_read_timeout),
                    "header read timeout",
                ))
            } else if head == UNSET
                && idle != UNSET
                && self.busy.load(Ordering::Acquire) == 0
                && !limits.idle_timeout.is_zero()
            {
                Some((idle + millis(limits.idle_timeout), "idle timeout"))
            } else {
                None
            };
            let notified = self.changed.notified();
            match due {
                Some((at, why)) if at <= now => return why,
                Some((at, _)) => {
                    let sleep = tokio::time::sleep(Duration::from_millis(at - now));
                    tokio::select! {
                        _ = sleep => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2)
}

/// A request in flight on a connection.
struct Busy(Arc<ConnState>);

impl Busy {
    fn start(state: Arc<ConnState>) -> Self {
        state.busy.fetch_add(1, Ordering::AcqRel);
        state.head_since.store(UNSET, Ordering::Release);
        state.idle_since.store(UNSET, Ordering::Release);
        state.changed.notify_one();
        Self(state)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle_since.store(self.0.now(), Ordering::Release);
        }
        self.0.changed.notify_one();
    }
}

/// A stream that reports its traffic to the connection's [`ConnState`].
struct Tracked<T> {
    inner: T,
    state: Arc<ConnState>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.on_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.state.on_write();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.state.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_counts_and_releases() {
        let per_ip = PerIp::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = per_ip.acquire(a, 2).unwrap();
        let _second = per_ip.acquire(a, 2).unwrap();
        assert!(per_ip.acquire(a, 2).is_none());
        assert!(per_ip.acquire(b, 2).is_some());
        drop(first);
        assert!(per_ip.acquire(a, 2).is_some());
        // Zero: unlimited.
        let many: Vec<_> = (0..10).filter_map(|_| per_ip.acquire(b, 0)).collect();
        assert_eq!(many.len(), 10);
    }

    fn limits(header_ms: u64, idle_ms: u64) -> ConnLimits {
        ConnLimits {
            header_read_timeout: Duration::from_millis(header_ms),
            idle_timeout: Duration::from_millis(idle_ms),
            max_connections_per_ip: 0,
        }
    }

    #[tokio::test]
    async fn a_fresh_silent_connection_hits_the_header_timeout() {
        let state = ConnState::new();
        assert_eq!(
            state.expired(limits(200, 60_000)).await,
            "header read timeout"
        );
        assert!(state.start.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn idle_after_a_request_then_header_timeout_on_a_partial_one() {
        let state = Arc::new(ConnState::new());
        let limits = limits(200, 400);
        drop(Busy::start(state.clone()));
        let t0 = Instant::now();
        assert_eq!(state.expired(limits).await, "idle timeout");
        assert!(t0.elapsed() >= Duration::from_millis(400));
        // A request in flight is never timed out.
        let busy = Busy::start(state.clone());
        let waited = tokio::time::timeout(Duration::from_secs(1), state.expired(limits)).await;
        assert!(waited.is_err());
        drop(busy);
        // The first byte of the next request starts the header clock.
        state.on_read();
        let t1 = Instant::now();
        assert_eq!(state.expired(limits).await, "header read timeout");
        assert!(t1.elapsed() >= Duration::from_millis(200));
        // Disabled timeouts never fire.
        let state = ConnState::new();
        let never =
            tokio::time::timeout(Duration::from_millis(500), state.expired(limits0())).await;
        assert!(never.is_err());
    }

    fn limits0() -> ConnLimits {
        limits(0, 0)
    }
}
