//! What an offline verification holds each receipt to: the key, the status proof and its age,
//! the signer policy (docs/cli.md, "Offline").

use std::path::{Path, PathBuf};

use anyhow::Result;
use notarium_client::exit::usage;
use notarium_client::results::Row;
use notarium_client::status::{Offline, StatusFile};
use notarium_client::Client;
use notarium_core::{Entry, Sha256, Status, VerifierKey};

use crate::args::AuthenticateArgs;
use crate::{code, Global};

/// The key for offline checks: pinned, else the one this machine stored for the ledger.
pub(crate) fn offline_key(g: &Global) -> Result<VerifierKey> {
    if let Some(k) = g.pinned_key()? {
        return Ok(k);
    }
    let sf = notarium_client::trust::StateFile::open(
        &g.state_dir(),
        Client::new(&g.server, &g.ledger, None)?.server().as_str(),
        &g.ledger,
    )?;
    let k = sf.state.verifier_key.clone().ok_or_else(|| {
        usage("offline verification needs the ledger's verifier key: pass --verifier-key (or NOTARIUM_VERIFIER_KEY)")
    })?;
    Ok(VerifierKey::parse(&k)?)
}

/// `3h 12m` for a number of seconds.
fn age_text(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h {}m", s / 3600, s / 60 % 60),
        s => format!("{}d {}h", s / 86_400, s / 3600 % 24),
    }
}

/// What an offline verification holds each receipt to: the flags, the status proof's path,
/// the time now, the signer policy.
pub(crate) struct OfflineCheck<'a> {
    a: &'a AuthenticateArgs,
    /// The status file: `--status`, else `notarium-status.json` next to the receipt file.
    pub status_path: Option<PathBuf>,
    now: u64,
    policy: notarium_core::SignerPolicy,
}

impl<'a> OfflineCheck<'a> {
    pub(crate) fn new(a: &'a AuthenticateArgs, receipt: Option<&Path>) -> OfflineCheck<'a> {
        let status_path = a.status.clone().or_else(|| {
            let beside = StatusFile::beside(receipt?);
            beside.is_file().then_some(beside)
        });
        OfflineCheck {
            a,
            status_path,
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            policy: a.policy.policy(),
        }
    }

    /// The signer policy's outcome on an entry; an unknown stays unknown: the policy holds
    /// only an entry that decides.
    fn policy_outcome(
        &self,
        entry: Option<&notarium_core::entry::ArtifactEntry>,
    ) -> Option<notarium_core::api::PolicyOutcome> {
        let e = entry.filter(|_| !self.policy.is_empty())?;
        Some(notarium_core::api::PolicyOutcome::of(self.policy.check(e)))
    }

    /// The row of `display`, whose verified receipt `v` (of the artifact entry `art`) is
    /// about it, with what the status proof (`proven`, verified) adds.
    pub(crate) fn row(
        &self,
        display: String,
        sha: Sha256,
        v: &notarium_core::VerifiedReceipt,
        art: &notarium_core::entry::ArtifactEntry,
        proven: Option<&Offline>,
        receipt_line: String,
    ) -> Row {
        let (a, now) = (self.a, self.now);
        let mut row = Row {
            subject: display,
            sha256: sha.to_hex(),
            index: Some(v.index.0),
            signer: Some(art.signer.clone()),
            time: Some(art.time.clone()),
            details: vec![receipt_line],
            ..Row::default()
        }
        .provenance(Some(&v.entry));
        let set = |row: &mut Row, s: Status| {
            row.status = s.as_str().to_owned();
            row.code = code::for_status(s);
            row.reason = code::reason(row.code);
        };
        match proven {
            Some(Offline::Proven(p)) => {
                set(&mut row, p.status);
                if let Some(d) = &p.deciding {
                    row.index = Some(d.index.0);
                    row.signer = Some(d.entry.signer().to_owned());
                    row.time = Some(d.entry.time().to_owned());
                    row = row.provenance(Some(&d.entry));
                }
                // The policy holds the entry that decides now, not the receipt's.
                let decided = match p.deciding.as_ref().map(|d| &d.entry) {
                    Some(Entry::Artifact(d)) => Some(d),
                    _ => None,
                };
                row = row.under(self.policy_outcome(decided));
                let age = now.saturating_sub(p.time);
                let at = i64::try_from(p.time)
                    .ok()
                    .and_then(|t| t.checked_mul(1_000_000))
                    .map_or_else(
                        || p.time.to_string(),
                        |us| notarium_core::Timestamp(us).to_string(),
                    );
                row.details.push(format!(
                    "offline: status proven current at checkpoint {} as of {at} ({} ago)",
                    p.checkpoint.size(),
                    age_text(age)
                ));
                if p.time > now + 300 {
                    row.details.push(format!(
                        "the status proof is dated {} ahead of this machine's clock",
                        age_text(p.time - now)
                    ));
                }
                if let Some(max) = a.max_status_age.filter(|m| age > *m) {
                    stale(&mut row, format!(
                        "the status proof is {} old, more than --max-status-age {}: save a fresh one with `notarium authenticate FILE --save-status {}`",
                        age_text(age), age_text(max), self.status_path.as_deref().map_or(String::new(), |p| p.display().to_string())
                    ));
                }
            }
            other => {
                set(&mut row, Status::from(art.status));
                row = row.under(self.policy_outcome(Some(art)));
                if let Some(Offline::NotCovered(why)) = other {
                    row.details.push(format!("offline: {why}"));
                }
                row.details.push(
                    "offline: later status changes and key revocations cannot be seen without a status proof (save one with `notarium authenticate FILE --save-status notarium-status.json`)".into(),
                );
                if a.max_status_age.is_some() {
                    stale(
                        &mut row,
                        "no status proof covers this receipt, so --max-status-age cannot be met"
                            .into(),
                    );
                }
            }
        }
        row
    }
}

/// Marks a row whose status is not proven recent enough (exit 6: ask the server again),
/// unless a worse outcome (a signer mismatch) already stands.
fn stale(row: &mut Row, why: String) {
    if row.code > code::UNREACHABLE {
        row.details.push(why);
        return;
    }
    row.status = "status too old".to_owned();
    row.code = code::UNREACHABLE;
    row.reason = "status_stale";
    row.details.push(why);
}
