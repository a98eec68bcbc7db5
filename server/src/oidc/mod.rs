//! Keyless CI identity: OIDC ID tokens from issuers the operator trusts (GitHub Actions, GitLab
//! CI, Jenkins' oidc-provider plugin, any other) as credentials, like API keys.
//!
//! In scope: trusted issuers in the configuration ([`config`]); their keys, discovered and
//! cached, fetched over HTTPS with the system's roots plus a per-issuer CA bundle ([`keys`]);
//! the JWS checks ([`jws`]) and the claim checks ([`claims`]); rules that map verified claims
//! to a ledger and a role; and what a token proves — an [`OidcIdentity`] with a stable signer id
//! and the verified CI context an entry records. Out of scope: HTTP status codes (an
//! [`OidcError`] has a [`code`](OidcError::code) and a [`class`](OidcError::class) that
//! `error.rs` maps), request extraction, entry writing.
//!
//! The interface is two calls: [`Oidc::new`] at start-up, then [`Oidc::authenticate`] with the
//! bearer and the ledger a request is for ([`looks_like_jwt`] tells a token from an API key).
//!
//! Why no JWT crate: `jsonwebtoken` 9, the last on ring, lets a string `exp`/`nbf` skip the
//! time checks (CVE-2026-25537); later versions use aws-lc-rs, which the workspace avoids, or
//! RustCrypto's `rsa`, which carries RUSTSEC-2023-0071. A compact JWS is three base64url
//! segments; the signature check is ring's (`RSA_PKCS1_2048_8192_SHA256`,
//! `ECDSA_P256_SHA256_FIXED`, `ED25519`), the code that already verifies every TLS handshake
//! here; and the claim checks must be typed and strict for stable error codes anyway.
//!
//! A token is never logged, stored, or put in an error: errors carry only the configured
//! issuer, audience or ledger, and fixed text.

pub mod alg;
pub mod claims;
pub mod config;
pub mod error;
pub mod jws;
pub mod keys;

use std::collections::BTreeMap;
use std::sync::Arc;

use notarium_core::{LedgerName, Role, VerifiedIdentity};
use serde_json::{Map, Value};

pub use claims::{signer_id, NEW_CI_KEYS, SIGNER_PREFIX};
pub use config::{OidcConfig, Provider, RawOidc};
pub use error::{ErrorClass, OidcError};
pub use jws::{looks_like_jwt, Algorithm};
pub use keys::{Clock, SystemClock};

use config::IssuerConfig;
use keys::IssuerKeys;

/// The verifier: trusted issuers, their cached keys, their rules.
pub struct Oidc {
    issuers: Vec<Issuer>,
    max_token_bytes: usize,
    min_refresh: std::time::Duration,
    clock: Arc<dyn Clock>,
}

struct Issuer {
    config: Arc<IssuerConfig>,
    keys: IssuerKeys,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| i.config.issuer.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A token whose signature and registered claims verified; no rule consulted yet.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    /// The stable signer id ([`signer_id`]).
    pub signer: String,
    /// The issuer (`iss`), as configured.
    pub issuer: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The CI behind the issuer.
    pub provider: Provider,
    /// When the token expires (`exp`, Unix seconds).
    pub expires_at: i64,
    /// The verified CI context to record in entries: keys of
    /// `notarium_core::entry::CI_KEYS` and of [`NEW_CI_KEYS`]; values fit an entry's limits.
    pub context: BTreeMap<String, String>,
    claims: Map<String, Value>,
    config: Arc<IssuerConfig>,
}

/// What a token proves for one ledger: who, with which role, and the verified CI context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The stable signer id ([`signer_id`]), the `signer` of the entries it makes.
    pub signer: String,
    /// The issuer (`iss`), as configured.
    pub issuer: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The CI behind the issuer.
    pub provider: Provider,
    /// The ledger granted.
    pub ledger: LedgerName,
    /// The role granted (`read` or `write`).
    pub role: Role,
    /// The name of the rule that granted it.
    pub rule: String,
    /// When the token expires (`exp`, Unix seconds).
    pub expires_at: i64,
    /// The verified CI context ([`VerifiedToken::context`]).
    pub context: BTreeMap<String, String>,
}

/// Keys of [`VerifiedToken::context`] that an entry's identity holds as fields of its own.
const IDENTITY_FIELDS: &[&str] = &["provider", "issuer", "subject"];

impl OidcIdentity {
    /// What an entry records of this identity (`docs/ledger.md`, "Entries"): issuer, subject,
    /// provider, and the verified context without those three, which are fields of their own.
    pub fn entry_identity(&self) -> VerifiedIdentity {
        VerifiedIdentity {
            context: self
                .context
                .iter()
                .filter(|(k, _)| !IDENTITY_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            issuer: self.issuer.clone(),
            provider: self.provider.as_str().to_owned(),
            subject: self.subject.clone(),
        }
    }
}

impl VerifiedToken {
    /// The first rule of the token's issuer that grants `ledger` and whose claims match.
    ///
    /// # Errors
    /// [`OidcError::NoRuleMatches`].
    pub fn grant(&self, ledger: &LedgerName) -> Result<OidcIdentity, OidcError> {
        let rule = self
            .config
            .rules
            .iter()
            .find(|r| r.ledger == *ledger && r.matches(&self.claims))
            .ok_or_else(|| OidcError::NoRuleMatches {
                issuer: self.issuer.clone(),
                ledger: ledger.to_string(),
            })?;
        Ok(OidcIdentity {
            signer: self.signer.clone(),
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            provider: self.provider,
            ledger: rule.ledger.clone(),
            role: rule.role,
            rule: rule.name.clone(),
            expires_at: self.expires_at,
            context: self.context.clone(),
        })
    }
}

impl Oidc {
    /// The verifier for `config`, on the system's clock. Fetches nothing yet (see
    /// [`Oidc::warm`]).
    ///
    /// # Errors
    /// When a TLS client cannot be built.
    pub fn new(config: OidcConfig) -> anyhow::Result<Oidc> {
        Oidc::with_clock(config, Arc::new(SystemClock))
    }

    /// The verifier on another clock (tests).
    ///
    /// # Errors
    /// When a TLS client cannot be built.
    pub fn with_clock(config: OidcConfig, clock: Arc<dyn Clock>) -> anyhow::Result<Oidc> {
        let issuers = config
            .issuers
            .iter()
            .map(|c| {
                Ok(Issuer {
                    keys: IssuerKeys::new(c, &config, clock.clone())?,
                    config: Arc::new(c.clone()),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Oidc {
            issuers,
            max_token_bytes: config.max_token_bytes,
            min_refresh: config.jwks_min_refresh,
            clock,
        })
    }

    /// True when no issuer is configured: every token is refused as untrusted.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Fetches every issuer's keys, logging those that cannot be reached: start-up then
    /// knows early, and the first requests need not wait. Failures are not fatal — requests
    /// for an unreachable issuer fail closed until it answers. `notariumd` runs this beside
    /// serving: a request for an issuer still being fetched waits for that one fetch, and
    /// requests for other issuers fetch their own.
    pub async fn warm(&self) {
        for issuer in &self.issuers {
            if let Err(e) = issuer.keys.warm().await {
                tracing::warn!(issuer = %issuer.config.issuer, error = %e, "OIDC issuer not reachable at start-up");
            }
        }
    }

    /// The shortest time between two fetches of one issuer's keys: how long a caller refused
    /// with [`OidcError::IssuerUnavailable`] should wait before trying again.
    pub fn retry_after(&self) -> std::time::Duration {
        self.min_refresh
    }

    /// Verifies `token` and grants it `ledger` by the first matching rule.
    ///
    /// # Errors
    /// Every [`OidcError`]: see [`Oidc::verify`] and [`VerifiedToken::grant`].
    pub async fn authenticate(
        &self,
        token: &str,
        ledger: &LedgerName,
    ) -> Result<OidcIdentity, OidcError> {
        self.verify(token).await?.grant(ledger)
    }

    /// Verifies a token's structure, algorithm, issuer, signature and registered claims, and
    /// derives its signer id and CI context. No rule is consulted.
    ///
    /// # Errors
    /// Every [`OidcError`] but [`OidcError::NoRuleMatches`].
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, OidcError> {
        let result = self.verify_inner(token).await;
        if let Err(e) = &result {
            tracing::debug!(code = e.code(), error = %e, "OIDC token refused");
        }
        result
    }

    async fn verify_inner(&self, token: &str) -> Result<VerifiedToken, OidcError> {
        let unverified = jws::parse(token, self.max_token_bytes)?;
        let claimed = claims::claimed_issuer(&unverified.claims)?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == claimed)
            .ok_or(OidcError::UntrustedIssuer)?;
        let config = &issuer.config;
        if !config.algorithms.contains(&unverified.alg) {
            return Err(OidcError::AlgNotAllowed {
                alg: unverified.alg,
                issuer: config.issuer.clone(),
            });
        }
        let kid = unverified.kid.as_deref().ok_or(OidcError::MissingKid)?;
        let key = issuer.keys.key(kid).await?;
        key.verify(&unverified)?;
        let claims = unverified.claims;
        let registered = claims::check(&claims, config, self.clock.now())?;
        let context = claims::context(&claims, config, &registered.subject)?;
        Ok(VerifiedToken {
            signer: signer_id(&config.issuer, &registered.subject),
            issuer: config.issuer.clone(),
            subject: registered.subject,
            provider: config.provider,
            expires_at: registered.expires_at,
            context,
            claims,
            config: config.clone(),
        })
    }
}
