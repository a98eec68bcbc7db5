//! HTTPS with rustls on ring: the certificate chain and key come from PEM files
//! (`tls_cert`, `tls_key`) and are read again when either file changes (checked every
//! [`WATCH_INTERVAL`]) or on SIGHUP. Each TLS handshake takes the pair current at that moment,
//! so a reload never touches a connection: those open keep their session, new ones get the
//! new certificate. A pair that does not load (half-written files, a key that does not match
//! the certificate) is logged and the previous one stays in use.
//!
//! Only HTTP/1.1 is offered (ALPN `http/1.1`), as on plain connections.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// How often the files are checked for changes.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// The current certificate and what it was loaded from.
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' identity (modification time, length, inode) when last loaded or tried.
    seen: Mutex<Option<Stamp>>,
}

type Stamp = [(Option<SystemTime>, u64, u64); 2];

impl Certificates {
    /// Loads the pair from `files`.
    ///
    /// # Errors
    /// When a file cannot be read, holds no certificate or key, or the key does not belong to
    /// the certificate.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Arc<Certificates>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = stamp(files);
        let key = load_pair(files, &provider)?;
        Ok(Arc::new(Certificates {
            files: files.clone(),
            provider,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        }))
    }

    /// The TLS acceptor that serves the current pair.
    ///
    /// # Errors
    /// When rustls refuses the provider's protocol versions (never with ring's defaults).
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The end-entity certificate served now (DER).
    pub fn current_leaf(&self) -> CertificateDer<'static> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).cert[0].clone()
    }

    /// Loads the pair again when the files changed since the last try (or always, with
    /// `force`). Returns whether a new pair is in use.
    ///
    /// # Errors
    /// When the files changed but do not load; the previous pair stays in use.
    pub fn reload(&self, force: bool) -> anyhow::Result<bool> {
        let now = stamp(&self.files);
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if !force && *seen == now {
                return Ok(false);
            }
            *seen = now;
        }
        let key = load_pair(&self.files, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(true)
    }

    /// Reloads on SIGHUP and when the files change, until the task is dropped.
    pub async fn watch(self: Arc<Self>) {
        #[cfg(unix)]
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; certificates reload on file changes only");
                None
            }
        };
        loop {
            #[cfg(unix)]
            let forced = tokio::select! {
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
                () = tokio::time::sleep(WATCH_INTERVAL) => false,
            };
            #[cfg(not(unix))]
            let forced = {
                tokio::time::sleep(WATCH_INTERVAL).await;
                false
            };
            let this = self.clone();
            let result = tokio::task::spawn_blocking(move || this.reload(forced)).await;
            match result {
                Ok(Ok(true)) => tracing::info!(
                    cert = %self.files.cert.display(),
                    trigger = if forced { "SIGHUP" } else { "file change" },
                    "TLS certificate reloaded; new connections use it"
                ),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"),
                    "TLS certificate not reloaded; the previous one stays in use"),
                Err(e) => tracing::error!(error = %e, "TLS reload task failed"),
            }
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn stamp(files: &TlsFiles) -> Option<Stamp> {
    let one = |p: &Path| -> Option<(Option<SystemTime>, u64, u64)> {
        let m = std::fs::metadata(p).ok()?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let ino = 0;
        Some((m.modified().ok(), m.len(), ino))
    };
    Some([one(&files.cert)?, one(&files.key)?])
}

fn load_pair(files: &TlsFiles, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("tls_cert: cannot read {}", files.cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("tls_cert: {} holds no certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| {
        format!(
            "tls_key: cannot read a private key from {}",
            files.key.display()
        )
    })?;
    CertifiedKey::from_der(chain, key, provider).with_context(|| {
        format!(
            "tls_key: {} is not the key of the certificate in {}",
            files.key.display(),
            files.cert.display()
        )
    })
}
