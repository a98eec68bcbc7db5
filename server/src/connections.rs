//! The connections the server holds, and the limits that keep it answering when they pile up.
//!
//! Every connection is in one phase: `Fresh` (accepted, nothing read yet), `Reading` (bytes of
//! a request head arrived, the request has not started), `Busy` (requests in flight), `Idle`
//! (between requests). Time limits per phase: a fresh or reading connection must deliver a
//! whole request head within `header_read_timeout` (slow-header clients), an idle one is closed
//! after `idle_timeout`; a busy one is bounded by the request timeout of the router, never
//! closed here.
//!
//! Counts: at most `max` connections at once (by default the file-descriptor limit minus what
//! the ledgers' files need, so that `accept` never fails for lack of descriptors) and at most
//! `per_address` from one client address. A new connection over either cap evicts the
//! connection that has waited longest without a request in flight — of the same address for
//! the address cap — and is refused only when every candidate is busy. So a client that opens
//! thousands of idle connections pushes out its own, and `/healthz` and notarizations from
//! anyone still get a connection; the cost of idleness falls on the idle.
//!
//! hyper answers requests it cannot parse (400, 414, 431) by itself, with an empty body;
//! [`Watched`] replaces exactly those answers with the API's JSON error
//! ([`crate::error::protocol_answer`]), so every answer of the server has the one error shape.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::config::ConnectionLimits;

/// Descriptors kept for everything but connections: ledgers' database files, the listener,
/// the lock file, logs.
const RESERVED_DESCRIPTORS: usize = 256;

/// What a connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted (or in its TLS handshake); no request byte read yet.
    Fresh,
    /// Part of a request head has arrived.
    Reading,
    /// Requests in flight.
    Busy,
    /// Between requests.
    Idle,
}

/// One open connection.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    ip: IpAddr,
    state: Mutex<ConnState>,
    close: Notify,
}

#[derive(Debug)]
struct ConnState {
    phase: Phase,
    since: Instant,
    in_flight: usize,
}

impl Conn {
    /// The connection's phase now.
    pub fn phase(&self) -> Phase {
        self.lock().phase
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived: a fresh or idle connection starts reading a request head.
    fn on_read(&self) {
        let mut s = self.lock();
        if matches!(s.phase, Phase::Fresh | Phase::Idle) {
            s.phase = Phase::Reading;
            s.since = Instant::now();
        }
    }

    /// A request starts; the guard ends it when dropped (with its response body).
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        let mut s = self.lock();
        s.in_flight += 1;
        s.phase = Phase::Busy;
        RequestGuard(self.clone())
    }

    /// Resolves once the connection is to be closed at once (evicted or timed out).
    pub async fn closed(&self) {
        self.close.notified().await;
    }

    /// The deadline of its phase, if it has one.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let s = self.lock();
        match s.phase {
            Phase::Fresh | Phase::Reading => Some(s.since + limits.header_read_timeout),
            Phase::Idle => Some(s.since + limits.idle_timeout),
            Phase::Busy => None,
        }
    }

    /// How eager eviction is to close it: `None` when busy; otherwise waiting connections
    /// first (`Fresh`, `Idle`), then those still reading a head, each oldest first.
    fn eviction_rank(&self) -> Option<(u8, Instant)> {
        let s = self.lock();
        match s.phase {
            Phase::Fresh | Phase::Idle => Some((0, s.since)),
            Phase::Reading => Some((1, s.since)),
            Phase::Busy => None,
        }
    }
}

/// Ends a request of a connection when dropped.
#[derive(Debug)]
pub struct RequestGuard(Arc<Conn>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.phase = Phase::Idle;
            s.since = Instant::now();
        }
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// `max` connections are open and every one is busy.
    Full,
    /// `per_address` connections of this address are open and every one is busy.
    Address,
}

/// Every open connection, with the caps and time limits.
#[derive(Debug)]
pub struct Connections {
    limits: ConnectionLimits,
    max: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Table {
    fn remove(&mut self, id: u64) -> Option<Arc<Conn>> {
        let conn = self.conns.remove(&id)?;
        if let Some(n) = self.per_ip.get_mut(&conn.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&conn.ip);
            }
        }
        Some(conn)
    }

    /// Removes and signals the connection eviction prefers, among those `filter` allows.
    fn evict(&mut self, filter: impl Fn(&Conn) -> bool) -> bool {
        let victim = self
            .conns
            .values()
            .filter(|c| filter(c))
            .filter_map(|c| c.eviction_rank().map(|rank| (rank, c.id)))
            .min()
            .map(|(_, id)| id);
        match victim.and_then(|id| self.remove(id)) {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Connections {
    /// The table for `limits`; `max` defaults to the descriptor limit minus a reserve.
    pub fn new(limits: &ConnectionLimits) -> Self {
        let max = limits.max.unwrap_or_else(default_max);
        Connections {
            limits: limits.clone(),
            max,
            table: Mutex::new(Table::default()),
        }
    }

    /// The most connections held at once.
    pub fn max(&self) -> usize {
        self.max
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.table().conns.len()
    }

    /// Admits a new connection from `ip`, evicting a waiting one where a cap is reached.
    ///
    /// # Errors
    /// [`Refused`] when a cap is reached and every connection under it is busy.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refused> {
        let mut t = self.table();
        let per_address = self.limits.per_address;
        if per_address > 0
            && t.per_ip.get(&ip).copied().unwrap_or(0) >= per_address
            && !t.evict(|c| c.ip == ip)
        {
            return Err(Refused::Address);
        }
        if t.conns.len() >= self.max && !t.evict(|_| true) {
            return Err(Refused::Full);
        }
        t.next_id += 1;
        let conn = Arc::new(Conn {
            id: t.next_id,
            ip,
            state: Mutex::new(ConnState {
                phase: Phase::Fresh,
                since: Instant::now(),
                in_flight: 0,
            }),
            close: Notify::new(),
        });
        t.conns.insert(conn.id, conn.clone());
        *t.per_ip.entry(ip).or_default() += 1;
        Ok(Admitted {
            conn,
            table: self.clone(),
        })
    }

    /// Closes the connection eviction prefers (when `accept` ran out of descriptors).
    pub fn evict_one(&self) -> bool {
        self.table().evict(|_| true)
    }

    /// Closes every connection past its phase's deadline; returns how many.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let mut t = self.table();
        let late: Vec<u64> = t
            .conns
            .values()
            .filter(|c| c.deadline(&self.limits).is_some_and(|d| d <= now))
            .map(|c| c.id)
            .collect();
        for id in &late {
            if let Some(conn) = t.remove(*id) {
                conn.close.notify_one();
            }
        }
        late.len()
    }

    /// How often [`Connections::reap`] should run: a quarter of the shorter time limit,
    /// between 50 ms and 1 s.
    pub fn reap_interval(&self) -> Duration {
        (self
            .limits
            .header_read_timeout
            .min(self.limits.idle_timeout)
            / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// The time limit for a TLS handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.limits.header_read_timeout
    }
}

/// A connection in the table; removed from it when dropped.
#[derive(Debug)]
pub struct Admitted {
    /// The connection.
    pub conn: Arc<Conn>,
    table: Arc<Connections>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.table.table().remove(self.conn.id);
    }
}

/// The default connection cap: the soft limit on open files minus [`RESERVED_DESCRIPTORS`],
/// at least 16.
fn default_max() -> usize {
    let limit = open_files_limit().unwrap_or(1024);
    limit
        .saturating_sub(RESERVED_DESCRIPTORS.min(limit / 2))
        .clamp(16, 1 << 20)
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits` (Linux).
pub fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(1 << 20),
        n => n.parse().ok(),
    }
}

/// A connection's byte stream as hyper sees it: reads move the connection's phase, and the
/// answers hyper writes by itself for requests it cannot parse are replaced by JSON errors.
#[derive(Debug)]
pub struct Watched<IO> {
    io: IO,
    conn: Arc<Conn>,
    /// A replacement being written, and how many bytes of hyper's buffer it stands for.
    replacing: Option<(Vec<u8>, usize, usize)>,
}

impl<IO> Watched<IO> {
    /// Watches `io` for `conn`.
    pub fn new(io: IO, conn: Arc<Conn>) -> Self {
        Watched {
            io,
            conn,
            replacing: None,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.on_read();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> Watched<IO> {
    /// Writes the pending replacement; `Ready(Ok(n))` reports hyper's `n` bytes as written.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, stands_for)) = &mut self.replacing {
            if *written == bytes.len() {
                let n = *stands_for;
                self.replacing = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(0))
    }

    /// Whether `buf` is hyper's own answer to an unparsable request: only then can the
    /// connection be outside a request (the router always answers with a body).
    fn replace(&mut self, buf: &[u8]) -> bool {
        if self.conn.phase() == Phase::Busy {
            return false;
        }
        match crate::error::protocol_answer(buf) {
            Some(bytes) => {
                self.replacing = Some((bytes, 0, buf.len()));
                true
            }
            None => false,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_some() || this.replace(buf) {
            return this.poll_replacement(cx);
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_some() {
            return this.poll_replacement(cx);
        }
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            if this.replace(first) {
                return this.poll_replacement(cx);
            }
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replacing.is_some() {
            match this.poll_replacement(cx) {
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize, max: usize) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(60),
            max: Some(max),
            per_address,
        }
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_full_table_evicts_the_longest_waiting_and_never_a_busy_one() {
        let t = Arc::new(Connections::new(&limits(0, 3)));
        let first = t.admit(A).unwrap();
        let busy = t.admit(A).unwrap();
        let _r1 = busy.conn.begin();
        let third = t.admit(B).unwrap();
        assert_eq!(t.open(), 3);
        let fourth = t.admit(B).unwrap();
        assert_eq!(t.open(), 3, "one was evicted");
        tokio_test_ready(first.conn.close.notified());
        let r3 = third.conn.begin();
        let _r4 = fourth.conn.begin();
        assert_eq!(
            t.admit(A).map(|_| ()),
            Err(Refused::Full),
            "only busy connections left to evict"
        );
        drop(r3);
        assert_eq!(third.conn.phase(), Phase::Idle);
        let _fifth = t.admit(A).unwrap();
        tokio_test_ready(third.conn.close.notified());
        drop(first);
        assert_eq!(
            t.open(),
            3,
            "dropping an evicted connection changes nothing"
        );
    }

    #[test]
    fn the_address_cap_evicts_the_same_address_first() {
        let t = Arc::new(Connections::new(&limits(2, 100)));
        let a1 = t.admit(A).unwrap();
        let b1 = t.admit(B).unwrap();
        let a2 = t.admit(A).unwrap();
        let _a3 = t.admit(A).unwrap();
        assert_eq!(t.open(), 3);
        tokio_test_ready(a1.conn.close.notified());
        let _r1 = a2.conn.begin();
        let a3_busy = t.admit(A).unwrap();
        let _r2 = a3_busy.conn.begin();
        // a2 and the fourth A are busy; the third was evicted by the fourth.
        assert_eq!(t.admit(A).map(|_| ()), Err(Refused::Address));
        assert!(
            b1.conn.phase() == Phase::Fresh,
            "other addresses are untouched"
        );
    }

    #[test]
    fn deadlines_by_phase() {
        let t = Arc::new(Connections::new(&limits(0, 10)));
        let fresh = t.admit(A).unwrap();
        let idle = t.admit(A).unwrap();
        drop(idle.conn.begin());
        assert_eq!(idle.conn.phase(), Phase::Idle);
        let busy = t.admit(A).unwrap();
        let _r = busy.conn.begin();
        let reading = t.admit(A).unwrap();
        reading.conn.on_read();
        assert_eq!(reading.conn.phase(), Phase::Reading);
        assert_eq!(t.reap(), 0);
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(200) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(t.reap(), 2, "fresh and reading, past the header timeout");
        tokio_test_ready(fresh.conn.close.notified());
        tokio_test_ready(reading.conn.close.notified());
        assert_eq!(t.open(), 2, "idle (60 s) and busy stay");
    }

    /// Asserts that a `Notify` future is ready at once (a stored permit).
    fn tokio_test_ready(f: impl std::future::Future<Output = ()>) {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        assert!(
            f.as_mut().poll(&mut cx).is_ready(),
            "the connection was told to close"
        );
    }

    #[test]
    fn the_descriptor_limit_is_read() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }
}
