//! What a verified token says: the registered claims checked (RFC 7519 §4.1: `iss`, `sub`,
//! `aud`, `exp`, `nbf`, `iat`, each with its JSON type required — a string `exp` is an error,
//! not an absent one), the signer id derived from issuer and subject, and the CI context an
//! entry records, mapped per provider.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notarium_core::entry::MAX_VALUE_BYTES;
use serde_json::{Map, Value};

use super::config::{scalar_text, IssuerConfig, Provider};
use super::error::OidcError;

/// Keys of the verified CI context that `notarium_core::entry::CI_KEYS` does not have (yet).
/// The others it uses are CI_KEYS' own: `provider`, `repository`, `commit`, `ref`, `run_id`,
/// `run_url`, `pipeline_id`, `pipeline_url`, `workflow`, `actor`, `server_url`.
pub const NEW_CI_KEYS: &[&str] = &[
    "issuer",
    "subject",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
    "environment",
    "runner_environment",
    "ref_type",
    "ref_protected",
    "run_attempt",
];

/// The prefix of every OIDC signer id.
pub const SIGNER_PREFIX: &str = notarium_core::entry::OIDC_SIGNER_PREFIX;

/// The stable signer id of a token's subject at an issuer:
/// `oidc:` + lowercase unpadded RFC 4648 base32 of the first 20 bytes of
/// `SHA-256("notarium/oidc-signer/v1" || u32be(len(iss)) || iss || u32be(len(sub)) || sub)`.
/// 37 characters (the prefix, then 32 of `a-z 2-7`): safe in entries, URLs (a path segment, a
/// query value, a comma-separated `?signer=` list) and file names; 160 bits, so that no one
/// can find another subject with the same id. Defined in `notarium-core`
/// ([`notarium_core::entry::oidc_signer_id`]), so that clients and the ledger recompute it from
/// an entry's identity.
pub fn signer_id(issuer: &str, subject: &str) -> String {
    notarium_core::entry::oidc_signer_id(issuer, subject)
}

/// The registered claims, typed.
pub(crate) struct Registered {
    pub subject: String,
    pub expires_at: i64,
}

fn string_claim(claims: &Map<String, Value>, name: &'static str) -> Result<String, OidcError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(OidcError::MissingClaim(name)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not a non-empty string",
        }),
    }
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, floored.
fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(t) => Ok(Some(t)),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| Some(f.floor() as i64))
                .ok_or(OidcError::InvalidClaim {
                    claim: name,
                    reason: "not a time in seconds",
                }),
        },
        Some(_) => Err(OidcError::InvalidClaim {
            claim: name,
            reason: "not a number of seconds",
        }),
    }
}

/// The issuer named by the `iss` claim, before the signature is checked: only to choose the
/// issuer whose keys will check it.
pub(crate) fn claimed_issuer(claims: &Map<String, Value>) -> Result<String, OidcError> {
    string_claim(claims, "iss")
}

/// Checks `sub`, `aud`, `exp`, `nbf` and `iat` of a token whose signature verified.
///
/// # Errors
/// [`OidcError::MissingClaim`], [`OidcError::InvalidClaim`], [`OidcError::Expired`],
/// [`OidcError::NotYetValid`], [`OidcError::WrongAudience`].
pub(crate) fn check(
    claims: &Map<String, Value>,
    issuer: &IssuerConfig,
    now: SystemTime,
) -> Result<Registered, OidcError> {
    let now = unix(now);
    let leeway = issuer.leeway.as_secs() as i64;
    let exp = time_claim(claims, "exp")?.ok_or(OidcError::MissingClaim("exp"))?;
    let nbf = time_claim(claims, "nbf")?;
    let iat = time_claim(claims, "iat")?;
    if now > exp.saturating_add(leeway) {
        return Err(OidcError::Expired);
    }
    if [nbf, iat]
        .into_iter()
        .flatten()
        .any(|t| t > now.saturating_add(leeway))
    {
        return Err(OidcError::NotYetValid);
    }
    let audience_ok = match claims.get("aud") {
        None | Some(Value::Null) => return Err(OidcError::MissingClaim("aud")),
        Some(Value::String(a)) => *a == issuer.audience,
        Some(Value::Array(list)) => {
            if !list.iter().all(Value::is_string) {
                return Err(OidcError::InvalidClaim {
                    claim: "aud",
                    reason: "not a string or a list of strings",
                });
            }
            list.iter()
                .any(|a| a.as_str() == Some(issuer.audience.as_str()))
        }
        Some(_) => {
            return Err(OidcError::InvalidClaim {
                claim: "aud",
                reason: "not a string or a list of strings",
            })
        }
    };
    if !audience_ok {
        return Err(OidcError::WrongAudience {
            expected: issuer.audience.clone(),
        });
    }
    let subject = string_claim(claims, "sub")?;
    Ok(Registered {
        subject,
        expires_at: exp,
    })
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64
}

/// (context key, claim) pairs copied as they are, per provider.
fn copied(provider: Provider) -> &'static [(&'static str, &'static str)] {
    match provider {
        Provider::Github => &[
            ("repository", "repository"),
            ("repository_id", "repository_id"),
            ("repository_owner", "repository_owner"),
            ("repository_owner_id", "repository_owner_id"),
            ("commit", "sha"),
            ("ref", "ref"),
            ("ref_type", "ref_type"),
            ("ref_protected", "ref_protected"),
            ("workflow", "workflow"),
            ("workflow_ref", "workflow_ref"),
            ("job_workflow_ref", "job_workflow_ref"),
            ("run_id", "run_id"),
            ("run_attempt", "run_attempt"),
            ("actor", "actor"),
            ("event_name", "event_name"),
            ("environment", "environment"),
            ("runner_environment", "runner_environment"),
        ],
        Provider::Gitlab => &[
            ("repository", "project_path"),
            ("repository_id", "project_id"),
            ("repository_owner", "namespace_path"),
            ("repository_owner_id", "namespace_id"),
            ("commit", "sha"),
            ("ref_type", "ref_type"),
            ("ref_protected", "ref_protected"),
            ("workflow_ref", "ci_config_ref_uri"),
            ("pipeline_id", "pipeline_id"),
            ("run_id", "job_id"),
            ("actor", "user_login"),
            ("event_name", "pipeline_source"),
            ("environment", "environment"),
            ("runner_environment", "runner_environment"),
        ],
        // The plugin's default build claims are `sub` (the job URL) and `build_number`; the
        // others exist when the operator adds the claim templates `docs/oidc.md` lists.
        Provider::Jenkins => &[
            ("workflow", "sub"),
            ("run_id", "build_number"),
            ("commit", "git_commit"),
            ("ref", "git_branch"),
        ],
        Provider::Generic => &[],
    }
}

/// The verified CI context of a token: issuer, subject and provider, the provider's claims
/// under the entry's context keys, and the URLs derived from them.
///
/// # Errors
/// [`OidcError::InvalidClaim`] when a value an entry would carry is longer than an entry
/// allows or holds control characters: the token is refused rather than recorded altered.
pub(crate) fn context(
    claims: &Map<String, Value>,
    issuer: &IssuerConfig,
    subject: &str,
) -> Result<BTreeMap<String, String>, OidcError> {
    let mut m = BTreeMap::new();
    m.insert("provider".to_owned(), issuer.provider.as_str().to_owned());
    m.insert("issuer".to_owned(), issuer.issuer.clone());
    m.insert("subject".to_owned(), subject.to_owned());
    if let Some(s) = &issuer.server_url {
        m.insert("server_url".to_owned(), s.clone());
    }
    for (key, claim) in copied(issuer.provider) {
        if let Some(v) = scalar_text(claims.get(*claim)).filter(|v| !v.is_empty()) {
            m.insert((*key).to_owned(), v);
        }
    }
    let get = |k: &str| m.get(k).cloned();
    let derived: Vec<(&str, String)> = match issuer.provider {
        Provider::Github => match (get("server_url"), get("repository"), get("run_id")) {
            (Some(s), Some(r), Some(id)) => vec![("run_url", format!("{s}/{r}/actions/runs/{id}"))],
            _ => vec![],
        },
        Provider::Gitlab => {
            let mut v = Vec::new();
            // GitLab's `ref` is a bare name; `ref_path` is the full ref, as GitHub gives it.
            if let Some(r) = scalar_text(claims.get("ref_path"))
                .or_else(|| scalar_text(claims.get("ref")))
                .filter(|r| !r.is_empty())
            {
                v.push(("ref", r));
            }
            if let (Some(s), Some(p)) = (get("server_url"), get("repository")) {
                if let Some(id) = get("pipeline_id") {
                    v.push(("pipeline_url", format!("{s}/{p}/-/pipelines/{id}")));
                }
                if let Some(id) = get("run_id") {
                    v.push(("run_url", format!("{s}/{p}/-/jobs/{id}")));
                }
            }
            v
        }
        Provider::Jenkins => {
            let mut v = Vec::new();
            if let Some(url) = scalar_text(claims.get("git_url")) {
                v.push(("repository", strip_credentials(&url)));
            }
            if let (Some(job), Some(n)) = (get("workflow"), get("run_id")) {
                if job.starts_with("https://") && job.ends_with('/') {
                    v.push(("run_url", format!("{job}{n}/")));
                }
            }
            v
        }
        Provider::Generic => vec![],
    };
    for (k, v) in derived {
        m.insert(k.to_owned(), v);
    }
    for (k, v) in &m {
        if v.len() > MAX_VALUE_BYTES || v.chars().any(char::is_control) {
            return Err(OidcError::InvalidClaim {
                claim: claim_name(issuer.provider, k),
                reason: "longer than an entry allows, or holds control characters",
            });
        }
    }
    Ok(m)
}

/// The claim behind a context key, for error messages.
fn claim_name(provider: Provider, key: &str) -> &'static str {
    copied(provider).iter().find(|(k, _)| *k == key).map_or(
        match key {
            "subject" => "sub",
            "repository" => "git_url",
            "ref" => "ref_path",
            _ => "derived",
        },
        |(_, c)| c,
    )
}

/// Removes `user:password@` from a URL: Jenkins' `GIT_URL` may carry a token.
fn strip_credentials(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_ids() {
        let a = signer_id(
            "https://token.actions.githubusercontent.com",
            "repo:acme/app:ref:refs/heads/main",
        );
        assert_eq!(a.len(), SIGNER_PREFIX.len() + 32);
        assert!(a[SIGNER_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        assert_eq!(
            a,
            signer_id(
                "https://token.actions.githubusercontent.com",
                "repo:acme/app:ref:refs/heads/main"
            )
        );
        // Issuer and subject cannot trade characters.
        assert_ne!(signer_id("https://a", "bc"), signer_id("https://ab", "c"));
        assert_ne!(
            a,
            signer_id("https://gitlab.com", "repo:acme/app:ref:refs/heads/main")
        );
        // Pinned (computed independently with Python's hashlib and base64.b32encode): the id
        // is a contract that receipts and policies name.
        assert_eq!(
            signer_id("https://issuer.example", "subject"),
            "oidc:7csxohlh4wzjclcs4qsoyrbaz24giuul"
        );
    }

    #[test]
    fn strips() {
        assert_eq!(
            strip_credentials("https://user:tok@git.example/r.git"),
            "https://git.example/r.git"
        );
        assert_eq!(strip_credentials("git@host:r.git"), "git@host:r.git");
    }
}
