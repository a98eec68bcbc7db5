//! Who built an artifact, as the verified entry says, and the signer policy checked against it
//! (docs/ledger.md, "Entries"; docs/cli.md, "Signer policy"). An entry written with a CI token carries the `identity` the
//! server verified; every entry may carry the `ci` context its client asserted. Tools show the
//! two apart and never let the asserted one satisfy a policy.
//!
//! The policy (`--signer-issuer`, `--signer-repository`, `--signer-workflow`, `--signer-ref`)
//! is evaluated here, on the entry whose proof the [`crate::Verifier`] checked, with
//! `notarium_core`'s [`SignerPolicy::check`]: the server's own evaluation is a claim and is
//! not read.

use clap::Args;
use notarium_core::api::PolicyOutcome;
use notarium_core::entry::ArtifactEntry;
use notarium_core::{Entry, SignerPolicy, Status};

use crate::Verdict;

/// The signer policy flags, shared by every tool that authenticates.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Require the deciding entry's verified issuer (the CI token's `iss`, an https:// URL).
    #[arg(long, value_name = "URL")]
    pub signer_issuer: Option<String>,
    /// Require its verified repository (`acme/app`, optionally `github.com/acme/app`).
    #[arg(long, value_name = "REPO")]
    pub signer_repository: Option<String>,
    /// Require its verified workflow (`acme/app/.github/workflows/release.yml`, GitLab's
    /// `host/group/project//.gitlab-ci.yml`, Jenkins' job URL), with or without `@ref`.
    #[arg(long, value_name = "WORKFLOW")]
    pub signer_workflow: Option<String>,
    /// Require its verified Git ref (`refs/heads/main`, `refs/tags/v1.2.0`).
    #[arg(long, value_name = "REF")]
    pub signer_ref: Option<String>,
}

impl PolicyArgs {
    /// The policy the flags ask for.
    pub fn policy(&self) -> SignerPolicy {
        SignerPolicy {
            issuer: self.signer_issuer.clone(),
            repository: self.signer_repository.clone(),
            workflow: self.signer_workflow.clone(),
            git_ref: self.signer_ref.clone(),
        }
    }
}

/// The artifact entry of a verdict, if one decided.
pub fn deciding_entry(v: &Verdict) -> Option<&ArtifactEntry> {
    match v.receipt.as_ref().map(|r| &r.entry) {
        Some(Entry::Artifact(a)) => Some(a),
        _ => None,
    }
}

/// The policy's outcome on a verdict: `None` when no policy is asked for or nothing decides
/// (`unknown` stays unknown: there is no signer to hold to the policy).
pub fn evaluate(policy: &SignerPolicy, v: &Verdict) -> Option<PolicyOutcome> {
    if policy.is_empty() || v.status == Status::Unknown {
        return None;
    }
    deciding_entry(v).map(|e| PolicyOutcome::of(policy.check(e)))
}
