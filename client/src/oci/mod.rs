//! Container images as subjects (docs/oci.md): image references, resolving them through the
//! OCI distribution API to the manifest digest a registry serves, and receipts stored beside
//! an image as OCI 1.1 artifacts that refer to it.
//!
//! - [`Reference`] parses `oci://REGISTRY/REPO:TAG` and `oci://REGISTRY/REPO@sha256:…` by
//!   docker's rules.
//! - [`RegistryClient::resolve`] fetches the manifest (OCI or Docker, image or index), hashes
//!   the bytes it received and answers with that digest — a `Docker-Content-Digest` header is
//!   checked against it, never believed instead of it. For an index, every platform
//!   manifest's digest and platform come with it ([`Resolved::subjects`] lists what to
//!   notarize).
//! - [`RegistryClient::attach`] pushes receipt bytes as an artifact whose `subject` is the
//!   image; [`RegistryClient::find_receipts`] finds them again, through the referrers API or,
//!   on registries without it, the referrers tag schema (`sha256-<hex>`) of distribution-spec
//!   1.1, and returns the bytes as stored.
//!
//! Authentication (anonymous, `Basic`, docker's `Bearer` token flow), credentials (docker's
//! `config.json` with its helpers, or `NOTARIUM_OCI_*` variables), a CA bundle, and plain HTTP
//! for loopback registries only: [`Options`].
//!
//! Out of scope: verifying receipts (the bytes found here are claims until the caller's
//! verification accepts them), pulling layers, pushing images, and registries that only serve
//! schema 1 manifests or non-sha256 digests (refused with [`Error::Unsupported`]).

mod credentials;
mod manifest;
mod reference;
mod referrers;
mod session;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::sync::Mutex;

pub use credentials::{Basic, CredentialSources, EnvCredentials};
pub use manifest::{
    Descriptor, Platform, PlatformManifest, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_EMPTY,
    OCI_INDEX, OCI_MANIFEST,
};
pub use reference::{Digest, Reference, DEFAULT_TAG, DOCKER_HUB, SCHEME};
pub use referrers::{
    Attached, AttachedReceipt, Found, Via, ARTIFACT_TYPE, MAX_RECEIPT_BYTES, RECEIPT_MEDIA_TYPE,
    TLOG_PROOF_MEDIA_TYPE,
};
pub use session::is_loopback;

use manifest::{AnyManifest, Kind, ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES};
use session::{read_limited, registry_error_text, Access, Request, Session, Target};

/// Environment variable: user name for registries (with [`ENV_PASSWORD`]).
pub const ENV_USERNAME: &str = "NOTARIUM_OCI_USERNAME";
/// Environment variable: password or access token for registries (with [`ENV_USERNAME`]).
pub const ENV_PASSWORD: &str = "NOTARIUM_OCI_PASSWORD";
/// Environment variable: the one registry the credentials above are for (default: all).
pub const ENV_REGISTRY: &str = "NOTARIUM_OCI_REGISTRY";
/// Environment variable: a PEM file of CA certificates trusted besides the system's.
pub const ENV_CA_BUNDLE: &str = "NOTARIUM_OCI_CA_BUNDLE";
/// Environment variable: `1`/`true` to speak plain HTTP (loopback registries only).
pub const ENV_PLAIN_HTTP: &str = "NOTARIUM_OCI_PLAIN_HTTP";

/// The kind an image index (or Docker manifest list) is notarized as.
pub const KIND_INDEX: &str = "oci-index";
/// The kind an image manifest (single-platform, or one platform of an index) is notarized as.
pub const KIND_MANIFEST: &str = "oci-manifest";

/// The attributes notarizing an image records (docs/oci.md): the manifest's media type.
pub const ATTR_MEDIA_TYPE: &str = "oci.media_type";
/// `REGISTRY/REPOSITORY`, on every entry of an image.
pub const ATTR_REPOSITORY: &str = "oci.repository";
/// The tag the image was named by, when it was.
pub const ATTR_TAG: &str = "oci.tag";
/// The config digest of an image manifest: the local image ID `docker images` shows.
pub const ATTR_CONFIG: &str = "oci.config";
/// On a platform manifest: the digest of the index that lists it.
pub const ATTR_INDEX: &str = "oci.index";
/// On a platform manifest: `os/architecture[/variant]`.
pub const ATTR_PLATFORM: &str = "oci.platform";

/// How long one registry request may take, unless [`Options::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What can go wrong, by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed image reference or digest.
    #[error("image reference {input:?}: {reason}")]
    Reference {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something this module deliberately does not handle (schema 1, sha512 digests, …).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Unusable settings: the CA bundle, docker's config.json, a credential helper, the
    /// environment variables.
    #[error("registry settings: {0}")]
    Config(String),
    /// Plain HTTP to a host that is not a loopback address.
    #[error(
        "{context}: refusing plain HTTP to {host}: plain HTTP is only allowed for registries on \
         loopback addresses (localhost, 127.0.0.0/8, ::1); use HTTPS (with NOTARIUM_OCI_CA_BUNDLE \
         for a private CA)"
    )]
    PlainHttpRefused {
        /// The host.
        host: String,
        /// Where the URL came from (a redirect, a token realm, the settings).
        context: String,
    },
    /// The registry (or its token server) could not be reached.
    #[error("cannot reach {url}: {cause}")]
    Unreachable {
        /// The URL tried (without query).
        url: String,
        /// Why.
        cause: String,
    },
    /// The registry wants credentials that were not found, or refused the ones given.
    #[error("{registry}: authentication failed: {detail}")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// What it said.
        detail: String,
    },
    /// Authenticated, but not allowed (e.g. push to a repository one may only pull).
    #[error("{registry}: access denied: {detail}")]
    Denied {
        /// The registry.
        registry: String,
        /// What it said.
        detail: String,
    },
    /// No such repository, tag or digest.
    #[error("{reference}: not found: {detail}")]
    NotFound {
        /// The reference asked for.
        reference: String,
        /// What the registry said (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`).
        detail: String,
    },
    /// Another answer than the protocol allows.
    #[error("{url}: {}{detail}", .status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
    Registry {
        /// The URL (without query).
        url: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// What went wrong.
        detail: String,
    },
    /// Bytes whose digest is not the one they were asked for or announced with: the registry
    /// (or something between) served other content than it claims.
    #[error("{what}: expected {expected}, the bytes received hash to {actual}")]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// The digest asked for or announced.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// A document that is not what it should be (bad JSON, too large, missing fields).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which document.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<Error> for crate::Error {
    /// Bad references and settings are usage errors, a digest mismatch is tampering, a
    /// registry that cannot be reached is unreachable; the rest are the registry's answers.
    fn from(e: Error) -> crate::Error {
        match e {
            Error::Reference { .. }
            | Error::Unsupported(_)
            | Error::Config(_)
            | Error::PlainHttpRefused { .. } => crate::Error::Usage(e.to_string()),
            Error::Unreachable { url, cause } => crate::Error::Unreachable { url, cause },
            Error::DigestMismatch { .. } => crate::Error::Tampering(e.to_string()),
            Error::Unauthorized { ref registry, .. } => api(registry, 401, "unauthorized", &e),
            Error::Denied { ref registry, .. } => api(registry, 403, "denied", &e),
            Error::NotFound { ref reference, .. } => api(reference, 404, "not_found", &e),
            Error::Registry {
                ref url, status, ..
            } => api(url, status.unwrap_or(0), "registry_error", &e),
            Error::Malformed { .. } => api("registry", 0, "malformed", &e),
        }
    }
}

fn api(url: &str, status: u16, code: &str, e: &Error) -> crate::Error {
    crate::Error::Api {
        url: url.to_owned(),
        status,
        code: code.to_owned(),
        message: e.to_string(),
    }
}

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where credentials come from.
    pub credentials: CredentialSources,
    /// A PEM file of CA certificates trusted besides the system's roots (private registries).
    pub ca_bundle: Option<PathBuf>,
    /// Speak plain HTTP; refused unless the registry is on a loopback address. Without it,
    /// loopback registries still get plain HTTP when they do not speak HTTPS, as with docker.
    pub plain_http: bool,
    /// How long one request may take ([`DEFAULT_TIMEOUT`] when `None`).
    pub timeout: Option<Duration>,
}

impl Options {
    /// The options the environment asks for: [`ENV_USERNAME`], [`ENV_PASSWORD`],
    /// [`ENV_REGISTRY`], [`ENV_CA_BUNDLE`], [`ENV_PLAIN_HTTP`], and docker's `config.json`
    /// in `$DOCKER_CONFIG` or `$HOME/.docker`.
    ///
    /// # Errors
    /// [`Error::Config`] for a user name without a password (or the reverse), or a
    /// [`ENV_PLAIN_HTTP`] that is not a boolean.
    pub fn from_env() -> Result<Options, Error> {
        Options::from_vars(|k| std::env::var(k).ok())
    }

    /// [`Options::from_env`] with the variables read through `var`.
    ///
    /// # Errors
    /// As [`Options::from_env`].
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Options, Error> {
        let get = |k: &str| var(k).filter(|v| !v.is_empty());
        let env = match (get(ENV_USERNAME), get(ENV_PASSWORD)) {
            (Some(username), Some(password)) => Some(EnvCredentials {
                registry: get(ENV_REGISTRY).map(|r| r.to_ascii_lowercase()),
                basic: Basic { username, password },
            }),
            (None, None) => None,
            _ => {
                return Err(Error::Config(format!(
                    "{ENV_USERNAME} and {ENV_PASSWORD} go together: set both or neither"
                )))
            }
        };
        let docker_config = get("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .map(|d| d.join("config.json"));
        let plain_http = match get(ENV_PLAIN_HTTP).as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => {
                return Err(Error::Config(format!(
                    "{ENV_PLAIN_HTTP}={other:?}: use 1/true or 0/false"
                )))
            }
        };
        Ok(Options {
            credentials: CredentialSources { env, docker_config },
            ca_bundle: get(ENV_CA_BUNDLE).map(PathBuf::from),
            plain_http,
            timeout: None,
        })
    }
}

/// What a reference resolves to: the manifest the registry serves now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The reference asked about.
    pub reference: Reference,
    /// The digest of the manifest bytes received: for an index, the index's digest.
    pub digest: Digest,
    /// The manifest's media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// For an index (or Docker manifest list): the manifests it lists, in its order; empty
    /// for a single image.
    pub manifests: Vec<PlatformManifest>,
    /// For an image manifest: the digest of its config, the image ID `docker images` shows.
    pub config: Option<Digest>,
}

/// One thing to notarize for an image: a name, the digest as the artifact hash, attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// [`Reference::name`]: `oci://REGISTRY/REPO:TAG` (or `oci://REGISTRY/REPO` by digest),
    /// the same for an index and its platform manifests; the attributes tell them apart.
    pub name: String,
    /// The manifest digest: its SHA-256 is the artifact hash.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
    /// [`KIND_INDEX`] or [`KIND_MANIFEST`].
    pub kind: &'static str,
    /// For a platform manifest: its platform (`linux/arm64/v8`), and the index that lists it.
    pub platform: Option<(String, Digest)>,
    /// [`ATTR_MEDIA_TYPE`], [`ATTR_REPOSITORY`], [`ATTR_TAG`] when tagged, [`ATTR_CONFIG`]
    /// for an image manifest whose config is known; for a platform manifest also
    /// [`ATTR_INDEX`], [`ATTR_PLATFORM`], `oci.os`, `oci.architecture`, and `oci.variant` /
    /// `oci.os_version` when the index gives them.
    pub attributes: BTreeMap<String, String>,
}

impl Resolved {
    /// Whether the registry served an index (multi-platform image).
    pub fn is_index(&self) -> bool {
        matches!(self.media_type.as_str(), OCI_INDEX | DOCKER_MANIFEST_LIST)
    }

    /// The reference pinned to the digest served.
    pub fn pinned(&self) -> Reference {
        self.reference.with_digest(self.digest)
    }

    /// What to notarize: the manifest served, then (for an index) each platform manifest
    /// with its platform as attributes. buildx's attestation manifests are left out: they
    /// are not images anyone runs.
    pub fn subjects(&self) -> Vec<Subject> {
        let name = self.reference.name();
        let attributes = |media_type: &str, config: Option<Digest>| {
            let mut a = BTreeMap::new();
            a.insert(ATTR_MEDIA_TYPE.to_owned(), media_type.to_owned());
            a.insert(ATTR_REPOSITORY.to_owned(), self.reference.full_name());
            if let Some(t) = self.reference.tag() {
                a.insert(ATTR_TAG.to_owned(), t.to_owned());
            }
            if let Some(c) = config {
                a.insert(ATTR_CONFIG.to_owned(), c.to_string());
            }
            a
        };
        let mut out = vec![Subject {
            name: name.clone(),
            digest: self.digest,
            size: self.size,
            kind: if self.is_index() {
                KIND_INDEX
            } else {
                KIND_MANIFEST
            },
            platform: None,
            attributes: attributes(&self.media_type, self.config),
        }];
        for m in self.manifests.iter().filter(|m| !m.attestation) {
            let mut a = attributes(&m.media_type, m.config);
            a.insert(ATTR_INDEX.to_owned(), self.digest.to_string());
            let platform = m.platform.as_ref().map(|p| {
                a.insert(ATTR_PLATFORM.to_owned(), p.name());
                a.insert("oci.os".to_owned(), p.os.clone());
                a.insert("oci.architecture".to_owned(), p.architecture.clone());
                if let Some(v) = &p.variant {
                    a.insert("oci.variant".to_owned(), v.clone());
                }
                if let Some(v) = &p.os_version {
                    a.insert("oci.os_version".to_owned(), v.clone());
                }
                p.name()
            });
            out.push(Subject {
                name: name.clone(),
                digest: m.digest,
                size: m.size,
                kind: KIND_MANIFEST,
                platform: Some((
                    platform.unwrap_or_else(|| "unknown platform".to_owned()),
                    self.digest,
                )),
                attributes: a,
            });
        }
        out
    }
}

/// A client for any number of registries: one HTTP client, one session (scheme, credentials,
/// tokens) per registry, opened on first use.
pub struct RegistryClient {
    options: Options,
    http: reqwest::Client,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

impl RegistryClient {
    /// A client with `options`.
    ///
    /// # Errors
    /// [`Error::Config`] when the CA bundle cannot be read or holds no certificate.
    pub fn new(options: Options) -> Result<RegistryClient, Error> {
        let pem = match &options.ca_bundle {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| Error::Config(format!("CA bundle {}: {e}", p.display())))?,
            ),
            None => None,
        };
        let http =
            session::http_client(pem.as_deref(), options.timeout.unwrap_or(DEFAULT_TIMEOUT))?;
        Ok(RegistryClient {
            options,
            http,
            sessions: Mutex::new(HashMap::new()),
        })
    }

    /// Resolves `reference` to the manifest the registry serves now.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a missing repository, tag or digest; [`Error::DigestMismatch`]
    /// when the bytes do not hash to the digest asked for or announced; authentication,
    /// transport and protocol errors as [`Error`] says.
    pub async fn resolve(&self, reference: &Reference) -> Result<Resolved, Error> {
        let s = self.session(reference).await?;
        let fetched =
            fetch_manifest(&s, reference, &reference.manifest_ref(), reference.digest()).await?;
        let manifests = match fetched.kind {
            Kind::Index => fetched
                .parsed
                .manifests
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(PlatformManifest::from_descriptor)
                .collect::<Result<Vec<_>, _>>()?,
            Kind::Image => Vec::new(),
        };
        let config = config_of(&fetched);
        Ok(Resolved {
            reference: reference.clone(),
            digest: fetched.digest,
            media_type: fetched.media_type,
            size: fetched.bytes.len() as u64,
            manifests,
            config,
        })
    }

    /// Fetches each platform manifest an index lists (attestation manifests aside), checks
    /// it against its digest and size, and records its config digest — the image ID that
    /// notarizing records for it. Nothing to do for a single image.
    ///
    /// # Errors
    /// As [`RegistryClient::resolve`]; [`Error::Malformed`] when a listed manifest is not an
    /// image manifest or not of the size its index says.
    pub async fn resolve_platforms(&self, resolved: &mut Resolved) -> Result<(), Error> {
        let image = &resolved.reference;
        let s = self.session(image).await?;
        for m in resolved.manifests.iter_mut().filter(|m| !m.attestation) {
            let f = fetch_manifest(&s, image, &m.digest.to_string(), Some(m.digest)).await?;
            if f.kind != Kind::Image || f.bytes.len() as u64 != m.size {
                return Err(Error::Malformed {
                    what: format!("index {}", resolved.digest),
                    reason: format!(
                        "it lists {} as a {}-byte image manifest; the registry serves {} bytes of {}",
                        m.digest,
                        m.size,
                        f.bytes.len(),
                        f.media_type
                    ),
                });
            }
            m.config = config_of(&f);
        }
        Ok(())
    }

    /// Whether `image`'s repository holds `digest` as a blob (a config or a layer): a digest
    /// given as a manifest that is a blob is usually a local image ID, the config digest.
    ///
    /// # Errors
    /// Authentication and transport errors; [`Error::Registry`] for an answer that is neither
    /// a blob nor `404`.
    pub async fn has_blob(&self, image: &Reference, digest: Digest) -> Result<bool, Error> {
        let s = self.session(image).await?;
        let path = format!("v2/{}/blobs/{digest}", image.repository());
        let resp = s
            .send(Request {
                method: Method::HEAD,
                target: Target::Path(path.clone()),
                repository: image.repository(),
                access: Access::Pull,
                accept: None,
                body: None,
            })
            .await?;
        match resp.status() {
            st if st.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            st => Err(Error::Registry {
                url: format!("{}{path}", s.base()),
                status: Some(st.as_u16()),
                detail: registry_error_text(resp).await,
            }),
        }
    }

    /// Pushes a receipt as an artifact referring to the manifest `image` resolves to (for a
    /// tag: the manifest it names now; pin a digest to attach to the one notarized):
    /// artifact type [`ARTIFACT_TYPE`], the receipt JSON and the C2SP tlog-proof text as two
    /// layers. Attaching the same bytes twice pushes the same manifest (nothing is
    /// timestamped), so it is listed once.
    ///
    /// Uses the referrers API where the registry has it; else adds the artifact to the
    /// `sha256-<hex>` tag's index (two concurrent attaches to one image on such a registry
    /// can lose one of the two; run them one after the other).
    ///
    /// # Errors
    /// [`Error::Malformed`] for an empty or oversized receipt or proof; those of
    /// [`RegistryClient::resolve`]; [`Error::Denied`] without push access.
    pub async fn attach(
        &self,
        image: &Reference,
        receipt_json: &[u8],
        tlog_proof: &[u8],
    ) -> Result<Attached, Error> {
        let s = self.session(image).await?;
        referrers::attach(&s, image, receipt_json, tlog_proof).await
    }

    /// Finds the receipts attached to the manifest `image` resolves to, and returns their
    /// bytes exactly as stored: whether they prove anything is the caller's to verify.
    /// Artifacts of other types (signatures, SBOMs) are skipped.
    ///
    /// # Errors
    /// Those of [`RegistryClient::resolve`]; [`Error::DigestMismatch`] for a receipt whose
    /// bytes do not hash to the digest its manifest gives; [`Error::Malformed`] for an
    /// artifact of our type without a receipt layer.
    pub async fn find_receipts(&self, image: &Reference) -> Result<Found, Error> {
        let s = self.session(image).await?;
        referrers::find(&s, image).await
    }

    async fn session(&self, reference: &Reference) -> Result<Arc<Session>, Error> {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(reference.registry()) {
            return Ok(s.clone());
        }
        let sources = self.options.credentials.clone();
        let registry = reference.registry().to_owned();
        // A credential helper is a process: keep it off the async workers.
        let credentials = tokio::task::spawn_blocking(move || sources.lookup(&registry))
            .await
            .map_err(|e| Error::Config(format!("credential lookup: {e}")))??;
        let s = Arc::new(
            Session::open(
                self.http.clone(),
                reference.registry(),
                reference.api_host(),
                credentials,
                self.options.plain_http,
            )
            .await?,
        );
        sessions.insert(reference.registry().to_owned(), s.clone());
        Ok(s)
    }
}

/// A manifest as fetched: the bytes, their digest, and what they are.
pub(crate) struct Fetched {
    bytes: Vec<u8>,
    digest: Digest,
    media_type: String,
    kind: Kind,
    parsed: AnyManifest,
}

/// `GET /v2/<name>/manifests/<reference>`; the digest is of the bytes received, checked
/// against `expected` and against `Docker-Content-Digest`.
pub(crate) async fn fetch_manifest(
    s: &Session,
    image: &Reference,
    reference: &str,
    expected: Option<Digest>,
) -> Result<Fetched, Error> {
    let resp = s
        .send(Request {
            method: Method::GET,
            target: Target::Path(format!("v2/{}/manifests/{reference}", image.repository())),
            repository: image.repository(),
            access: Access::Pull,
            accept: Some(ACCEPT_MANIFESTS),
            body: None,
        })
        .await?;
    let status = resp.status();
    let shown = || {
        format!(
            "{}{}/{}{}",
            SCHEME,
            image.registry(),
            image.repository(),
            at(reference)
        )
    };
    if status == StatusCode::NOT_FOUND {
        return Err(Error::NotFound {
            reference: shown(),
            detail: registry_error_text(resp).await,
        });
    }
    if !status.is_success() {
        let url = format!(
            "{}v2/{}/manifests/{reference}",
            s.base(),
            image.repository()
        );
        return Err(Error::Registry {
            url,
            status: Some(status.as_u16()),
            detail: registry_error_text(resp).await,
        });
    }
    let announced = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = read_limited(resp, MAX_MANIFEST_BYTES, "manifest").await?;
    let digest = Digest::of(&bytes);
    if let Some(want) = expected {
        if want != digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest {}", shown()),
                expected: want.to_string(),
                actual: digest.to_string(),
            });
        }
    }
    if let Some(h) = announced.filter(|h| h.starts_with("sha256:")) {
        if h != digest.to_string() {
            return Err(Error::DigestMismatch {
                what: format!("manifest {} (Docker-Content-Digest header)", shown()),
                expected: h,
                actual: digest.to_string(),
            });
        }
    }
    let (parsed, media_type, kind) = AnyManifest::parse(&bytes, content_type.as_deref())?;
    Ok(Fetched {
        bytes,
        digest,
        media_type,
        kind,
        parsed,
    })
}

/// The config digest of an image manifest (`None` for an index, or a config digest of
/// another algorithm than sha256).
fn config_of(f: &Fetched) -> Option<Digest> {
    match f.kind {
        Kind::Image => f.parsed.config.as_ref()?.sha256_digest().ok(),
        Kind::Index => None,
    }
}

/// `:tag` or `@digest`, as a reference writes it.
fn at(reference: &str) -> String {
    if reference.contains(':') {
        format!("@{reference}")
    } else {
        format!(":{reference}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn options_from_the_environment() {
        let o = Options::from_vars(vars(&[
            (ENV_USERNAME, "ci"),
            (ENV_PASSWORD, "secret"),
            (ENV_REGISTRY, "Registry.Example.com"),
            (ENV_CA_BUNDLE, "ca.pem"),
            (ENV_PLAIN_HTTP, "true"),
            ("HOME", "/home/u"),
        ]))
        .unwrap();
        let env = o.credentials.env.unwrap();
        assert_eq!(env.registry.as_deref(), Some("registry.example.com"));
        assert_eq!(env.basic.username, "ci");
        assert_eq!(
            o.credentials.docker_config,
            Some(PathBuf::from("/home/u/.docker/config.json"))
        );
        assert_eq!(o.ca_bundle, Some(PathBuf::from("ca.pem")));
        assert!(o.plain_http);

        let o = Options::from_vars(vars(&[("DOCKER_CONFIG", "/d"), ("HOME", "/home/u")])).unwrap();
        assert_eq!(
            o.credentials.docker_config,
            Some(PathBuf::from("/d/config.json"))
        );
        assert!(o.credentials.env.is_none());
        assert!(!o.plain_http);
    }

    #[test]
    fn half_credentials_and_odd_booleans_are_refused() {
        for bad in [
            &[(ENV_USERNAME, "u")][..],
            &[(ENV_PASSWORD, "p")][..],
            &[(ENV_PLAIN_HTTP, "yes")][..],
        ] {
            let e = Options::from_vars(vars(bad)).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{e}");
        }
    }

    #[test]
    fn subjects_list_the_index_then_its_platforms() {
        let r = Reference::parse_subject("oci://r.io/app:v1").unwrap();
        let d = |b: &[u8]| Digest::of(b);
        let platform = |os: &str, arch: &str, variant: Option<&str>| Platform {
            architecture: arch.into(),
            os: os.into(),
            os_version: None,
            variant: variant.map(str::to_owned),
        };
        let resolved = Resolved {
            reference: r,
            digest: d(b"index"),
            media_type: OCI_INDEX.into(),
            size: 5,
            config: None,
            manifests: vec![
                PlatformManifest {
                    digest: d(b"amd64"),
                    media_type: OCI_MANIFEST.into(),
                    size: 1,
                    platform: Some(platform("linux", "amd64", None)),
                    attestation: false,
                    config: Some(d(b"amd64 config")),
                },
                PlatformManifest {
                    digest: d(b"arm"),
                    media_type: OCI_MANIFEST.into(),
                    size: 1,
                    platform: Some(platform("linux", "arm", Some("v7"))),
                    attestation: false,
                    config: None,
                },
                PlatformManifest {
                    digest: d(b"att"),
                    media_type: OCI_MANIFEST.into(),
                    size: 1,
                    platform: Some(platform("unknown", "unknown", None)),
                    attestation: true,
                    config: None,
                },
            ],
        };
        assert!(resolved.is_index());
        let s = resolved.subjects();
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|x| x.name == "oci://r.io/app:v1"));
        assert!(
            s.iter()
                .all(|x| x.attributes[ATTR_REPOSITORY] == "r.io/app"
                    && x.attributes[ATTR_TAG] == "v1")
        );
        assert_eq!(s[0].digest, d(b"index"));
        assert_eq!((s[0].kind, s[0].platform.clone()), (KIND_INDEX, None));
        assert!(!s[0].attributes.contains_key(ATTR_CONFIG));
        assert_eq!(s[1].kind, KIND_MANIFEST);
        assert_eq!(s[1].platform, Some(("linux/amd64".to_owned(), d(b"index"))));
        assert_eq!(s[1].attributes[ATTR_CONFIG], d(b"amd64 config").to_string());
        assert!(!s[2].attributes.contains_key(ATTR_CONFIG));
        assert_eq!(s[2].attributes["oci.platform"], "linux/arm/v7");
        assert_eq!(s[2].attributes["oci.variant"], "v7");
        assert_eq!(s[1].attributes["oci.index"], d(b"index").to_string());
        assert!(!s[1].attributes.contains_key("oci.variant"));
        assert_eq!(resolved.pinned().digest(), Some(d(b"index")));
    }
}
