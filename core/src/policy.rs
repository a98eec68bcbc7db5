//! Signer policy at authenticate time: "this artifact must have been built by that issuer,
//! repository, workflow and ref" (what `gh attestation verify --signer-workflow` gives GitHub
//! users), checked against the verified identity of the entry that decides an artifact's
//! status. Only the entry's `identity` — what the server verified from a CI token — is
//! consulted, never its `ci` (what a client asserted): an entry written with an API key has no
//! identity and matches no policy.
//!
//! The client evaluates the policy on the entry it verified; the server evaluates the same
//! code for callers that do not verify (curl), as a convenience. No I/O here.

use serde::{Deserialize, Serialize};

use crate::entry::{ArtifactEntry, VerifiedIdentity};

/// What a caller requires of the deciding entry's verified identity. Every given part must
/// match; an empty policy matches everything, API-key entries included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignerPolicy {
    /// The issuer URL, exactly (a trailing `/` is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The repository (`acme/app`; GitLab's project path; Jenkins' Git URL), optionally
    /// prefixed by the CI's host (`github.com/acme/app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The workflow that built it: GitHub's `job_workflow_ref` (else `workflow_ref`) or
    /// GitLab's `ci_config_ref_uri`, with or without its `@ref` and with or without the CI's
    /// host (`acme/app/.github/workflows/release.yml`); Jenkins' job URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The Git ref, exactly (`refs/heads/main`, `refs/tags/v1.2.0`).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
}

/// Why an entry does not match a policy: one line per failed part, for people.
pub type Mismatches = Vec<String>;

impl SignerPolicy {
    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        self.issuer.is_none()
            && self.repository.is_none()
            && self.workflow.is_none()
            && self.git_ref.is_none()
    }

    /// Checks the deciding entry of an authentication.
    ///
    /// # Errors
    /// The parts that do not match, each in words; an entry without a verified identity fails
    /// every non-empty policy.
    pub fn check(&self, entry: &ArtifactEntry) -> Result<(), Mismatches> {
        if self.is_empty() {
            return Ok(());
        }
        let Some(id) = &entry.identity else {
            return Err(vec![format!(
                "entry signed by {} has no verified identity: it was written with an API key, \
                 and its CI context is only what the client asserted",
                entry.signer
            )]);
        };
        self.check_identity(id)
    }

    /// Checks a verified identity.
    ///
    /// # Errors
    /// As [`SignerPolicy::check`].
    pub fn check_identity(&self, id: &VerifiedIdentity) -> Result<(), Mismatches> {
        let mut out = Vec::new();
        let ctx = |k: &str| id.context.get(k).map(String::as_str);
        let host = ctx("server_url").map(host_of);
        if let Some(want) = &self.issuer {
            if want.trim_end_matches('/') != id.issuer.trim_end_matches('/') {
                out.push(format!("issuer: required {want}, verified {}", id.issuer));
            }
        }
        if let Some(want) = &self.repository {
            let got = ctx("repository");
            let ok = got.is_some_and(|r| normal(r, host) == normal(want, host));
            if !ok {
                out.push(format!(
                    "repository: required {want}, verified {}",
                    got.unwrap_or("none")
                ));
            }
        }
        if let Some(want) = &self.workflow {
            let got = workflow_of(id);
            let ok = got.is_some_and(|w| {
                let bare = w.rsplit_once('@').map_or(w, |(path, _)| path);
                [w, bare]
                    .iter()
                    .any(|c| normal(c, host) == normal(want, host))
            });
            if !ok {
                out.push(format!(
                    "workflow: required {want}, verified {}",
                    got.unwrap_or("none")
                ));
            }
        }
        if let Some(want) = &self.git_ref {
            let got = ctx("ref");
            if got != Some(want.as_str()) {
                out.push(format!(
                    "ref: required {want}, verified {}",
                    got.unwrap_or("none")
                ));
            }
        }
        if out.is_empty() {
            Ok(())
        } else {
            Err(out)
        }
    }
}

/// The workflow an identity was verified to run: the reusable workflow that ran the job
/// (`job_workflow_ref`), else the top-level one (`workflow_ref`, GitLab's `ci_config_ref_uri`),
/// else, for Jenkins, the job URL (its `workflow`). GitHub's `workflow` alone is a display
/// name any repository may choose, so it never identifies a workflow here.
fn workflow_of(id: &VerifiedIdentity) -> Option<&str> {
    let ctx = |k: &str| id.context.get(k).map(String::as_str);
    ctx("job_workflow_ref")
        .or_else(|| ctx("workflow_ref"))
        .or_else(|| {
            (id.provider == "jenkins")
                .then(|| ctx("workflow"))
                .flatten()
        })
}

/// `https://github.com` → `github.com`.
fn host_of(url: &str) -> &str {
    let rest = strip(url);
    rest.split('/').next().unwrap_or(rest)
}

/// A value without a leading `https://`.
fn strip(s: &str) -> &str {
    s.strip_prefix("https://").unwrap_or(s)
}

/// A value without a leading `https://` nor, when the CI's host is known, `<host>/`: so that
/// `github.com/acme/app` and `acme/app` compare equal on GitHub, and GitLab's
/// `gitlab.example.com/acme/app//.gitlab-ci.yml` equals `acme/app//.gitlab-ci.yml`.
fn normal<'a>(v: &'a str, host: Option<&str>) -> &'a str {
    let v = strip(v);
    match host.filter(|h| !h.is_empty()) {
        Some(h) => v
            .strip_prefix(h)
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(v),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::entry::ArtifactStatus;
    use crate::Sha256;

    fn github() -> VerifiedIdentity {
        let ctx = [
            ("repository", "acme/app"),
            ("ref", "refs/heads/main"),
            ("server_url", "https://github.com"),
            ("workflow", "release"),
            (
                "workflow_ref",
                "acme/app/.github/workflows/release.yml@refs/heads/main",
            ),
            (
                "job_workflow_ref",
                "acme/workflows/.github/workflows/build.yml@refs/tags/v2",
            ),
        ];
        VerifiedIdentity {
            context: ctx
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            provider: "github".into(),
            subject: "repo:acme/app:ref:refs/heads/main".into(),
        }
    }

    fn entry(identity: Option<VerifiedIdentity>) -> ArtifactEntry {
        ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: Sha256::of(b"x"),
            name: "x".into(),
            kind: "file".into(),
            size: None,
            status: ArtifactStatus::Trusted,
            attributes: BTreeMap::new(),
            // What a client asserted matches everything asked below: it must not count.
            ci: [
                ("repository", "acme/app"),
                ("ref", "refs/heads/main"),
                ("workflow", "acme/app/.github/workflows/release.yml"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            identity,
            signer: "k_1".into(),
            time: "2026-11-21T10:00:00.000000Z".into(),
        }
    }

    fn policy(issuer: &str, repository: &str, workflow: &str, git_ref: &str) -> SignerPolicy {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        SignerPolicy {
            issuer: opt(issuer),
            repository: opt(repository),
            workflow: opt(workflow),
            git_ref: opt(git_ref),
        }
    }

    #[test]
    fn matches() {
        let e = entry(Some(github()));
        for p in [
            policy("", "", "", ""),
            policy("https://token.actions.githubusercontent.com/", "", "", ""),
            policy("", "acme/app", "", ""),
            policy("", "github.com/acme/app", "", ""),
            policy("", "https://github.com/acme/app", "", ""),
            policy("", "", "acme/workflows/.github/workflows/build.yml", ""),
            policy(
                "",
                "",
                "github.com/acme/workflows/.github/workflows/build.yml@refs/tags/v2",
                "",
            ),
            policy(
                "https://token.actions.githubusercontent.com",
                "acme/app",
                "acme/workflows/.github/workflows/build.yml",
                "refs/heads/main",
            ),
        ] {
            assert_eq!(p.check(&e), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn mismatches() {
        let e = entry(Some(github()));
        for (p, needle) in [
            (policy("https://gitlab.com", "", "", ""), "issuer"),
            (policy("", "acme/other", "", ""), "repository"),
            (policy("", "acme/app/", "", ""), "repository"),
            (policy("", "gitlab.com/acme/app", "", ""), "repository"),
            // The caller's workflow, not the reusable workflow that ran the job.
            (
                policy("", "", "acme/app/.github/workflows/release.yml", ""),
                "workflow",
            ),
            // The display name is not a workflow identity.
            (policy("", "", "release", ""), "workflow"),
            (policy("", "", "", "refs/heads/dev"), "ref"),
            (policy("", "", "", "main"), "ref"),
        ] {
            let m = p.check(&e).unwrap_err();
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(m[0].starts_with(needle), "{needle}: {m:?}");
        }
        let all = policy("https://x", "a/b", "w", "refs/x")
            .check(&e)
            .unwrap_err();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn an_api_key_entry_matches_no_policy_whatever_it_asserts() {
        let e = entry(None);
        assert_eq!(SignerPolicy::default().check(&e), Ok(()));
        let m = policy("", "acme/app", "", "").check(&e).unwrap_err();
        assert!(m[0].contains("no verified identity"), "{m:?}");
    }

    #[test]
    fn workflows_of_other_providers() {
        let mut id = github();
        id.context.remove("job_workflow_ref");
        let e = entry(Some(id));
        assert_eq!(
            policy("", "", "acme/app/.github/workflows/release.yml", "").check(&e),
            Ok(())
        );
        let gitlab = VerifiedIdentity {
            context: [
                ("repository", "acme/app"),
                ("server_url", "https://gitlab.example.com"),
                (
                    "workflow_ref",
                    "gitlab.example.com/acme/app//.gitlab-ci.yml@refs/heads/main",
                ),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            issuer: "https://gitlab.example.com".into(),
            provider: "gitlab".into(),
            subject: "project_path:acme/app:ref_type:branch:ref:main".into(),
        };
        let e = entry(Some(gitlab));
        for w in [
            "gitlab.example.com/acme/app//.gitlab-ci.yml",
            "acme/app//.gitlab-ci.yml",
        ] {
            assert_eq!(policy("", "", w, "").check(&e), Ok(()), "{w}");
        }
        assert_eq!(
            policy("", "gitlab.example.com/acme/app", "", "").check(&e),
            Ok(())
        );
        let jenkins = VerifiedIdentity {
            context: [(
                "workflow",
                "https://jenkins.example.com/job/acme/job/app/job/main/",
            )]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
            issuer: "https://jenkins.example.com/oidc".into(),
            provider: "jenkins".into(),
            subject: "https://jenkins.example.com/job/acme/job/app/job/main/".into(),
        };
        let e = entry(Some(jenkins));
        assert_eq!(
            policy(
                "",
                "",
                "https://jenkins.example.com/job/acme/job/app/job/main/",
                ""
            )
            .check(&e),
            Ok(())
        );
    }
}
