//! Serving: the accept loop, TLS handshakes, HTTP/1.1 connections and graceful shutdown.
//!
//! Connections are served with hyper's HTTP/1 connection builder rather than `axum::serve`,
//! which offers no header-read or idle timeout and no way to cap or evict connections: here
//! every connection is admitted by [`Connections`] (caps per server and per client address,
//! eviction of the longest-waiting one), watched for its phase and closed when a time limit of
//! its phase passes, and its bytes pass through [`Watched`] so that hyper's own answers to
//! unparsable requests carry the JSON error body.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::config::MAX_HEAD_BYTES;
use crate::connections::{Admitted, Connections, Phase, Refused, Watched};
use crate::state::AppState;
use crate::tls::Certificates;

/// Serves `state` on `listener` until `shutdown` completes, then stops accepting, closes idle
/// connections, finishes the requests in flight (bounded by `shutdown_timeout`), and closes
/// every ledger after its queued batches are committed. Prints `notariumd ready on <url>` on
/// stdout once it accepts.
///
/// # Errors
/// When the listener's address cannot be read, or the TLS files do not load.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let tls = match &state.config().tls {
        Some(files) => {
            let certs =
                Certificates::load(files).map_err(|e| io::Error::other(format!("{e:#}")))?;
            let acceptor = certs
                .acceptor()
                .map_err(|e| io::Error::other(format!("{e:#}")))?;
            Some((certs, acceptor))
        }
        None => None,
    };
    let connections = Arc::new(Connections::new(&state.config().connections));
    if let Some(limit) = crate::connections::open_files_limit() {
        if connections.max() + 64 > limit {
            tracing::warn!(
                max_connections = connections.max(),
                open_files_limit = limit,
                "max_connections is close to the open-files limit: accept may run out of \
                 descriptors; raise the limit (LimitNOFILE) or lower max_connections"
            );
        }
    }
    let reaper = tokio::spawn(reap(connections.clone()));
    let watcher = tls
        .as_ref()
        .map(|(certs, _)| tokio::spawn(certs.clone().watch()));
    let acceptor = tls.map(|(_, a)| a);
    let router = crate::app(state.clone());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // A backstop only: `Connections` enforces the precise limits per phase.
        .header_read_timeout(
            state.config().connections.idle_timeout
                + state.config().connections.header_read_timeout,
        )
        .max_header_size(MAX_HEAD_BYTES)
        // Room for a whole head; bodies pass through in chunks.
        .max_buf_size(MAX_HEAD_BYTES * 2);
    let builder = Arc::new(builder);
    // Each connection task holds a sender; when all are gone, every connection has ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let (drain_tx, drain_rx) = watch::channel(false);

    let scheme = if acceptor.is_some() { "https" } else { "http" };
    state.set_ready(true);
    tracing::info!(%addr, max_connections = connections.max(), "notariumd ready on {scheme}://{addr}");
    println!("notariumd ready on {scheme}://{addr}");

    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(&e, &connections).await;
                    continue;
                }
            },
        };
        let admitted = match connections.admit(remote.ip()) {
            Ok(a) => a,
            Err(why) => {
                refuse(&stream, why, acceptor.is_none());
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let task = Task {
            admitted,
            remote,
            router: router.clone(),
            builder: builder.clone(),
            drain: drain_rx.clone(),
            _alive: alive_tx.clone(),
            handshake_timeout: connections.handshake_timeout(),
        };
        tokio::spawn(task.run(stream, acceptor.clone()));
    }

    drop(listener);
    state.set_ready(false);
    tracing::info!(
        open = connections.open(),
        "shutting down: closing idle connections, finishing requests in flight"
    );
    let _ = drain_tx.send(true);
    drop(alive_tx);
    let grace = state.config().shutdown_timeout;
    if tokio::time::timeout(grace, alive_rx.recv()).await.is_err() {
        tracing::warn!("requests still in flight after the shutdown timeout; stopping anyway");
    }
    reaper.abort();
    if let Some(w) = watcher {
        w.abort();
    }
    let closing = state.clone();
    tokio::task::spawn_blocking(move || closing.close())
        .await
        .map_err(io::Error::other)?;
    tracing::info!("stopped; every ledger closed");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn reap(connections: Arc<Connections>) {
    let every = connections.reap_interval();
    loop {
        tokio::time::sleep(every).await;
        let closed = connections.reap();
        if closed > 0 {
            tracing::debug!(closed, "closed connections past their time limit");
        }
    }
}

/// `accept` failed. Out of descriptors: close the longest-waiting connection and go on at
/// once; anything else: go on after a short pause (it is the client's connection that failed,
/// or the system is briefly out of memory).
async fn accept_failed(e: &io::Error, connections: &Connections) {
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    if matches!(e.raw_os_error(), Some(EMFILE | ENFILE)) {
        let evicted = connections.evict_one();
        tracing::warn!(
            open = connections.open(),
            evicted,
            "out of file descriptors; closing a waiting connection"
        );
        tokio::time::sleep(Duration::from_millis(if evicted { 1 } else { 50 })).await;
    } else {
        tracing::debug!(error = %e, "accept failed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Turns a connection away: on plain HTTP with a 503 JSON answer if the socket takes it at
/// once, on TLS by closing (no handshake is spent on it).
fn refuse(stream: &TcpStream, why: Refused, plain: bool) {
    tracing::debug!(?why, "connection refused");
    if plain {
        let _ = stream.try_write(&crate::error::connection_refused());
    }
}

/// One connection's task.
struct Task {
    admitted: Admitted,
    remote: SocketAddr,
    router: Router,
    builder: Arc<hyper::server::conn::http1::Builder>,
    drain: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
    handshake_timeout: Duration,
}

impl Task {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let conn = self.admitted.conn.clone();
        match tls {
            None => self.http(Watched::new(stream, conn)).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream));
                let stream = tokio::select! {
                    r = handshake => match r {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, remote = %self.remote, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    },
                    () = conn.closed() => return,
                };
                self.http(Watched::new(stream, conn)).await;
            }
        }
    }

    async fn http<IO>(self, io: Watched<IO>)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Task {
            admitted,
            remote,
            router,
            builder,
            mut drain,
            _alive: alive,
            ..
        } = self;
        // Held to the end: the server waits for every connection's `alive` at shutdown.
        let _alive = alive;
        let conn = admitted.conn.clone();
        let service = ConnService {
            router,
            conn: conn.clone(),
            remote,
        };
        let http = builder.serve_connection(TokioIo::new(io), service);
        let mut http = std::pin::pin!(http);
        let mut draining = false;
        loop {
            tokio::select! {
                r = http.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, %remote, "connection ended with an error");
                    }
                    return;
                }
                // Evicted or past its time limit: dropping the connection closes the socket.
                () = conn.closed() => return,
                _ = drain.wait_for(|d| *d), if !draining => {
                    draining = true;
                    if conn.phase() != Phase::Busy {
                        return;
                    }
                    http.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The router as one connection's hyper service: it marks the connection busy while a request
/// is in flight (until its response body is done) and gives handlers the client address.
#[derive(Clone)]
struct ConnService {
    router: Router,
    conn: Arc<crate::connections::Conn>,
    remote: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = hyper::Response<axum::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        use tower::ServiceExt;
        let guard = self.conn.begin();
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.remote));
        let router = self.router.clone();
        Box::pin(async move {
            let resp = router.oneshot(req).await?;
            Ok(resp.map(|body| {
                axum::body::Body::new(Finished {
                    body,
                    _guard: guard,
                })
            }))
        })
    }
}

/// A response body that ends its request when it is done (or dropped).
struct Finished {
    body: axum::body::Body,
    _guard: crate::connections::RequestGuard,
}

impl hyper::body::Body for Finished {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::Body::size_hint(&self.body)
    }
}
