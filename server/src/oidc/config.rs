//! Trusted issuers and their rules: the YAML shape ([`RawOidc`]), checked once at start-up into
//! an [`OidcConfig`] so that a mistake (an `http://` issuer, an HMAC algorithm, a rule that pins
//! no immutable id, an unreadable CA bundle) stops the server instead of failing per request.
//!
//! ```yaml
//! oidc:
//!   issuers:
//!     - issuer: https://token.actions.githubusercontent.com
//!       provider: github
//!       audience: https://notarium.example.com
//!       rules:
//!         - name: release builds
//!           ledger: release
//!           role: write
//!           claims:
//!             repository_id: "892345617"
//!             ref: refs/tags/v*
//!             workflow_ref: acme/app/.github/workflows/release.yml@refs/tags/*
//! ```
//!
//! `docs/oidc.md` documents every key, with examples for GitHub, GitLab and Jenkins.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use notarium_core::{LedgerName, Role};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jws::Algorithm;

/// Default largest token, in bytes: real GitHub and GitLab tokens are 1–3 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Largest `max_token_bytes` accepted.
pub const MAX_TOKEN_BYTES_LIMIT: usize = 64 * 1024;
/// Default time an issuer's fetched keys are used before they are fetched again.
pub const DEFAULT_JWKS_CACHE: Duration = Duration::from_secs(600);
/// Default shortest time between two fetches of one issuer's keys.
pub const DEFAULT_JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// Default limit on one discovery or JWKS request.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default clock leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Largest leeway accepted: more would keep expired tokens alive.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The `oidc` section of the configuration file, before validation. Unknown keys are refused.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    /// The issuers whose tokens are accepted, each with its rules.
    #[serde(default)]
    pub issuers: Vec<RawIssuer>,
    /// Largest token accepted, in bytes (default 8,192; at most 65,536).
    pub max_token_bytes: Option<u64>,
    /// How long fetched keys are used before they are fetched again (default 600 s).
    pub jwks_cache_seconds: Option<u64>,
    /// Fewest seconds between two fetches of one issuer's keys, whatever tokens arrive
    /// (default 30): an unknown `kid` cannot make the server hammer the issuer.
    pub jwks_min_refresh_seconds: Option<u64>,
    /// Time limit of one discovery or JWKS request (default 5,000 ms).
    pub fetch_timeout_ms: Option<u64>,
}

/// One trusted issuer, before validation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIssuer {
    /// The issuer URL, exactly as tokens carry it in `iss` (`https://` only).
    pub issuer: String,
    /// Which CI this issuer is: how its claims become the entry's CI context.
    pub provider: Provider,
    /// The audience tokens must be minted for (`aud` must contain it).
    pub audience: String,
    /// Signature algorithms accepted from this issuer: any of `RS256`, `ES256`, `EdDSA`
    /// (default `[RS256]`, what GitHub, GitLab and Jenkins sign with).
    pub algorithms: Option<Vec<String>>,
    /// A PEM file of CA certificates trusted for this issuer, besides the system's roots
    /// (self-managed instances with an internal CA).
    pub ca_bundle: Option<PathBuf>,
    /// Clock leeway for `exp`, `nbf` and `iat`, in seconds (default 60, at most 300).
    pub leeway_seconds: Option<u64>,
    /// The CI's web address, for run and pipeline URLs in the context; derived from the issuer
    /// for GitHub (github.com and GitHub Enterprise Server) and GitLab when absent.
    pub server_url: Option<String>,
    /// Rules, tried in order; the first whose ledger and claims match decides the role.
    pub rules: Vec<RawRule>,
}

/// One rule, before validation.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A name for logs and for the identity (default `rule N`, counting from 1).
    pub name: Option<String>,
    /// The ledger the rule grants.
    pub ledger: LedgerName,
    /// `read` or `write`; `admin` is never granted to a CI token.
    pub role: Role,
    /// Claim name → pattern, or a list of patterns (any may match). Every claim must match.
    pub claims: BTreeMap<String, Patterns>,
}

/// What a rule asks of one claim: one glob pattern or several alternatives, written in YAML
/// as a string, number or boolean, or a list of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Patterns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean, or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_owned()]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Patterns, E> {
                Ok(Patterns(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Patterns, A::Error> {
                let mut out = Vec::new();
                while let Some(Scalar(s)) = seq.next_element()? {
                    out.push(s);
                }
                Ok(Patterns(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One string, number or boolean, as text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Patterns::deserialize(d)? {
            Patterns(mut v) if v.len() == 1 => Ok(Scalar(v.remove(0))),
            _ => Err(de::Error::custom("lists of patterns cannot be nested")),
        }
    }
}

/// The CI behind an issuer: decides which immutable ids a rule must pin and how claims become
/// the entry's CI context (see `docs/oidc.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub Actions (github.com, GHE.com, GitHub Enterprise Server).
    Github,
    /// GitLab CI `id_tokens` (GitLab.com, self-managed, Dedicated).
    Gitlab,
    /// Jenkins with the oidc-provider plugin.
    Jenkins,
    /// Any other issuer: only `iss` and `sub` are recorded.
    Generic,
}

impl Provider {
    /// The lowercase name, as written in the context's `provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Jenkins => "jenkins",
            Provider::Generic => "generic",
        }
    }

    /// The claims that identify a project for good: renames and transfers keep them, and a
    /// deleted name taken again by someone else gets new ones. Every rule of this provider
    /// must pin one of them, literally.
    pub fn immutable_claims(self) -> &'static [&'static str] {
        match self {
            Provider::Github => &["repository_id", "repository_owner_id"],
            Provider::Gitlab => &["project_id", "namespace_id"],
            // Jenkins has no ids: its job URL, under the operator's own instance, is the pin.
            Provider::Jenkins => &["sub"],
            Provider::Generic => &[],
        }
    }
}

/// The validated `oidc` section.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// Trusted issuers, in configuration order.
    pub issuers: Vec<IssuerConfig>,
    /// Largest token accepted.
    pub max_token_bytes: usize,
    /// How long fetched keys are used.
    pub jwks_cache: Duration,
    /// Shortest time between two fetches of one issuer's keys.
    pub jwks_min_refresh: Duration,
    /// Time limit of one discovery or JWKS request.
    pub fetch_timeout: Duration,
}

/// One validated issuer.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    /// The exact `iss` value.
    pub issuer: String,
    /// The CI behind it.
    pub provider: Provider,
    /// The audience required in `aud`.
    pub audience: String,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Extra CA certificates (PEM) for HTTPS to this issuer.
    pub ca_certificates: Vec<reqwest::Certificate>,
    /// Clock leeway.
    pub leeway: Duration,
    /// The CI's web address (no trailing slash), for run URLs.
    pub server_url: Option<String>,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

/// One validated rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// The ledger it grants.
    pub ledger: LedgerName,
    /// The role it grants (`read` or `write`).
    pub role: Role,
    /// Claim → alternatives; all claims must match one of their alternatives.
    pub claims: Vec<(String, Vec<glob::Pattern>)>,
}

/// How patterns match: case-sensitive, `*` and `?` stay within a `/`-separated segment, `**`
/// (a whole segment) crosses segments, and a leading `.` needs no literal dot.
const MATCH: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Claims a rule may not name: the verifier itself checks them.
const CHECKED_CLAIMS: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "jti"];

impl Rule {
    /// True when every claim of the rule matches the token's claims. A claim that is absent,
    /// or not a string, number or boolean, matches nothing.
    pub fn matches(&self, claims: &serde_json::Map<String, Value>) -> bool {
        self.claims.iter().all(|(name, patterns)| {
            scalar_text(claims.get(name))
                .is_some_and(|v| patterns.iter().any(|p| p.matches_with(&v, MATCH)))
        })
    }
}

/// A claim's value as text, when it is a string, a number or a boolean.
pub(crate) fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn seconds(v: Option<u64>, default: Duration) -> Duration {
    v.map_or(default, Duration::from_secs)
}

impl OidcConfig {
    /// Checks the raw section; CA bundles are read now (relative paths from the working
    /// directory), so that a missing file stops the start.
    ///
    /// # Errors
    /// Naming the issuer, rule and key at fault.
    pub fn from_raw(raw: RawOidc) -> anyhow::Result<OidcConfig> {
        let max_token_bytes = match raw.max_token_bytes {
            None => DEFAULT_MAX_TOKEN_BYTES,
            Some(n) if (1024..=MAX_TOKEN_BYTES_LIMIT as u64).contains(&n) => n as usize,
            Some(n) => {
                bail!("oidc.max_token_bytes must be 1024..={MAX_TOKEN_BYTES_LIMIT}, not {n}")
            }
        };
        let jwks_cache = seconds(raw.jwks_cache_seconds, DEFAULT_JWKS_CACHE);
        let jwks_min_refresh = seconds(raw.jwks_min_refresh_seconds, DEFAULT_JWKS_MIN_REFRESH);
        if jwks_cache.is_zero() || jwks_cache < jwks_min_refresh {
            bail!(
                "oidc.jwks_cache_seconds ({}) must be positive and at least jwks_min_refresh_seconds ({})",
                jwks_cache.as_secs(),
                jwks_min_refresh.as_secs()
            );
        }
        let fetch_timeout = raw
            .fetch_timeout_ms
            .map_or(DEFAULT_FETCH_TIMEOUT, Duration::from_millis);
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&fetch_timeout) {
            bail!("oidc.fetch_timeout_ms must be 100..=60000");
        }
        let mut issuers: Vec<IssuerConfig> = Vec::new();
        for (i, raw) in raw.issuers.into_iter().enumerate() {
            let name = raw.issuer.clone();
            let issuer = IssuerConfig::from_raw(raw)
                .with_context(|| format!("oidc.issuers[{i}] ({name})"))?;
            if issuers.iter().any(|o| o.issuer == issuer.issuer) {
                bail!(
                    "oidc.issuers[{i}]: issuer {} is configured twice",
                    issuer.issuer
                );
            }
            issuers.push(issuer);
        }
        Ok(OidcConfig {
            issuers,
            max_token_bytes,
            jwks_cache,
            jwks_min_refresh,
            fetch_timeout,
        })
    }
}

/// Checks an `https://` URL with a host and no user, query or fragment.
fn check_https(what: &str, s: &str) -> anyhow::Result<url::Url> {
    let u = url::Url::parse(s).with_context(|| format!("{what} {s:?} is not a URL"))?;
    if u.scheme() != "https" {
        bail!("{what} must be an https:// URL, not {s:?}");
    }
    if u.host_str().is_none_or(str::is_empty)
        || !u.username().is_empty()
        || u.password().is_some()
        || u.query().is_some()
        || u.fragment().is_some()
    {
        bail!("{what} {s:?} must have a host and no user, query or fragment");
    }
    Ok(u)
}

impl IssuerConfig {
    fn from_raw(raw: RawIssuer) -> anyhow::Result<IssuerConfig> {
        let url = check_https("issuer", &raw.issuer)?;
        if raw.audience.trim().is_empty() {
            bail!("audience must not be empty");
        }
        let names = raw.algorithms.unwrap_or_else(|| vec!["RS256".into()]);
        if names.is_empty() {
            bail!("algorithms must not be empty");
        }
        let mut algorithms = Vec::new();
        for name in &names {
            let Some(alg) = Algorithm::from_name(name) else {
                bail!("algorithm {name:?} is not accepted; use RS256, ES256 or EdDSA (never none or HMAC)");
            };
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        let ca_certificates = match &raw.ca_bundle {
            Some(path) => read_ca_bundle(path)?,
            None => Vec::new(),
        };
        let leeway = seconds(raw.leeway_seconds, DEFAULT_LEEWAY);
        if leeway > MAX_LEEWAY {
            bail!("leeway_seconds must be at most {}", MAX_LEEWAY.as_secs());
        }
        let server_url = match raw.server_url {
            Some(s) => Some(
                check_https("server_url", &s)?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => default_server_url(raw.provider, &url),
        };
        if raw.rules.is_empty() {
            bail!("no rules: no token of this issuer could be accepted");
        }
        let rules = raw
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| Rule::from_raw(r, i, raw.provider))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(IssuerConfig {
            issuer: raw.issuer,
            provider: raw.provider,
            audience: raw.audience,
            algorithms,
            ca_certificates,
            leeway,
            server_url,
            rules,
        })
    }
}

/// GitHub's public issuer serves github.com; GitHub Enterprise Server's is
/// `https://HOST/_services/token`; GitLab's issuer is the instance itself.
fn default_server_url(provider: Provider, issuer: &url::Url) -> Option<String> {
    let origin = issuer.origin().ascii_serialization();
    match provider {
        Provider::Github if issuer.host_str() == Some("token.actions.githubusercontent.com") => {
            Some("https://github.com".into())
        }
        Provider::Github if issuer.path().trim_end_matches('/') == "/_services/token" => {
            Some(origin)
        }
        Provider::Gitlab => Some(issuer.as_str().trim_end_matches('/').to_owned()),
        _ => None,
    }
}

fn read_ca_bundle(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading ca_bundle {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("ca_bundle {} is not PEM", path.display()))?;
    if certs.is_empty() {
        bail!("ca_bundle {} holds no certificate", path.display());
    }
    Ok(certs)
}

impl Rule {
    fn from_raw(raw: RawRule, index: usize, provider: Provider) -> anyhow::Result<Rule> {
        let name = raw.name.unwrap_or_else(|| format!("rule {}", index + 1));
        let at = || format!("rule {name:?}");
        if raw.role == Role::Admin {
            bail!(
                "{}: role admin is never granted to a CI token; use read or write",
                at()
            );
        }
        if raw.claims.is_empty() {
            bail!(
                "{}: no claims: it would grant every token of the issuer",
                at()
            );
        }
        let mut claims = Vec::new();
        for (claim, Patterns(alternatives)) in raw.claims {
            if CHECKED_CLAIMS.contains(&claim.as_str()) {
                bail!(
                    "{}: claim {claim} is checked by the verifier, not by rules",
                    at()
                );
            }
            if alternatives.is_empty() {
                bail!(
                    "{}: claim {claim} has an empty list: it could never match",
                    at()
                );
            }
            let patterns = alternatives
                .iter()
                .map(|p| {
                    glob::Pattern::new(p)
                        .with_context(|| format!("{}: claim {claim}: bad pattern {p:?}", at()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            claims.push((claim, patterns));
        }
        let pins = provider.immutable_claims();
        let pinned = claims.iter().any(|(claim, patterns)| {
            pins.contains(&claim.as_str())
                && (provider == Provider::Jenkins
                    || patterns
                        .iter()
                        .all(|p| glob::Pattern::escape(p.as_str()) == p.as_str()))
        });
        if !pins.is_empty() && !pinned {
            bail!(
                "{}: a {} rule must pin {} {} (names can be renamed and taken again; ids cannot)",
                at(),
                provider.as_str(),
                if pins.len() == 1 {
                    "claim"
                } else {
                    "one of the claims"
                },
                pins.join(" or ")
            );
        }
        Ok(Rule {
            name,
            ledger: raw.ledger,
            role: raw.role,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> anyhow::Result<OidcConfig> {
        OidcConfig::from_raw(yaml_serde::from_str(yaml)?)
    }

    const GOOD: &str = r#"
issuers:
  - issuer: https://token.actions.githubusercontent.com
    provider: github
    audience: https://notarium.example.com
    rules:
      - ledger: release
        role: write
        claims:
          repository_id: 892345617
          ref: [refs/heads/main, "refs/tags/v*"]
          ref_protected: true
"#;

    #[test]
    fn good_github() {
        let c = parse(GOOD).unwrap();
        let i = &c.issuers[0];
        assert_eq!(i.algorithms, vec![Algorithm::Rs256]);
        assert_eq!(i.server_url.as_deref(), Some("https://github.com"));
        assert_eq!(i.rules[0].name, "rule 1");
        let claims = serde_json::json!({
            "repository_id": "892345617", "ref": "refs/tags/v1.2", "ref_protected": "true"
        });
        assert!(i.rules[0].matches(claims.as_object().unwrap()));
        for (k, v) in [
            ("repository_id", serde_json::json!("892345618")),
            ("ref", serde_json::json!("refs/tags/v1/x")),
            ("ref", serde_json::json!("refs/heads/main2")),
            ("ref_protected", serde_json::json!(false)),
            ("ref", serde_json::json!(["refs/heads/main"])),
        ] {
            let mut c = claims.as_object().unwrap().clone();
            c.insert(k.into(), v.clone());
            assert!(!i.rules[0].matches(&c), "{k}={v}");
        }
        let mut c = claims.as_object().unwrap().clone();
        c.remove("ref");
        assert!(!i.rules[0].matches(&c));
    }

    #[test]
    fn refused() {
        for (yaml, needle) in [
            (GOOD.replace("https://token", "http://token"), "https://"),
            (GOOD.replace("role: write", "role: admin"), "admin"),
            (
                GOOD.replace("repository_id: 892345617", "repository_id: \"8923*\""),
                "must pin",
            ),
            (
                GOOD.replace("repository_id: 892345617", "repository: acme/app"),
                "must pin",
            ),
            (
                GOOD.replace("ref_protected: true", "exp: 5"),
                "checked by the verifier",
            ),
            (
                GOOD.replace("ref_protected: true", "ref_type: []"),
                "empty list",
            ),
            (
                GOOD.replace("ref_protected: true", "ref_type: \"a**b\""),
                "bad pattern",
            ),
            (
                GOOD.replace(
                    "provider: github",
                    "provider: github\n    algorithms: [HS256]",
                ),
                "never none or HMAC",
            ),
            (
                GOOD.replace(
                    "provider: github",
                    "provider: github\n    leeway_seconds: 3600",
                ),
                "leeway",
            ),
            (
                GOOD.replace(
                    "provider: github",
                    "provider: github\n    ca_bundle: /nonexistent/ca.pem",
                ),
                "ca_bundle",
            ),
            (
                GOOD.replace("provider: github", "provider: github\n    colour: blue"),
                "unknown field",
            ),
            (
                format!(
                    "{GOOD}{}",
                    GOOD.lines().skip(2).collect::<Vec<_>>().join("\n")
                ),
                "twice",
            ),
        ] {
            let err = format!("{:#}", parse(&yaml).unwrap_err());
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn providers() {
        let yaml = r#"
issuers:
  - issuer: https://gitlab.example.com
    provider: gitlab
    audience: notarium
    algorithms: [RS256, ES256, EdDSA]
    rules:
      - {ledger: default, role: read, claims: {namespace_id: "72"}}
  - issuer: https://jenkins.example.com/oidc
    provider: jenkins
    audience: notarium
    rules:
      - {ledger: default, role: write, claims: {sub: "https://jenkins.example.com/job/app/**"}}
  - issuer: https://ghe.example.com/_services/token
    provider: github
    audience: notarium
    rules:
      - {ledger: default, role: write, claims: {repository_owner_id: "3"}}
"#;
        let c = parse(yaml).unwrap();
        assert_eq!(
            c.issuers[0].server_url.as_deref(),
            Some("https://gitlab.example.com")
        );
        assert_eq!(c.issuers[0].algorithms.len(), 3);
        assert_eq!(c.issuers[1].server_url, None);
        assert_eq!(
            c.issuers[2].server_url.as_deref(),
            Some("https://ghe.example.com")
        );
        let sub = serde_json::json!({"sub": "https://jenkins.example.com/job/app/job/main/"});
        assert!(c.issuers[1].rules[0].matches(sub.as_object().unwrap()));
    }
}
