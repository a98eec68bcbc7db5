//! Container images in the ledger (docs/oci.md): what an `oci://` subject stands for (the
//! manifest a registry serves, and for an index each platform manifest), the near-miss
//! diagnostics of an image that authenticates as `unknown`, and the offline verification of
//! receipts attached beside an image. Registries are reached through [`crate::oci`], the
//! ledger only through [`Verifier`]'s verified flows.
//!
//! Out of scope: presentation (the tools print [`ImageInfo`] and [`NearMiss::text`]), and
//! proving a near miss complete: each entry a near miss names is verified, but a search is
//! not proven complete, so a server can leave one out — a near miss is a hint for a human,
//! never a verdict.

use std::collections::BTreeSet;

use notarium_core::{Entry, Sha256, VerifiedIdentity, VerifiedReceipt, VerifierKey};
use serde::Serialize;

use crate::api::SearchParams;
use crate::oci::{
    self, AttachedReceipt, Digest, Reference, RegistryClient, Via, ATTR_CONFIG, ATTR_INDEX,
    ATTR_PLATFORM, KIND_MANIFEST,
};
use crate::receipts::parse_receipt;
use crate::{Error, Found, Verdict, Verifier};

/// At most this many pages of a search are read for one near miss.
const MAX_SEARCH_PAGES: usize = 10;
/// At most this many manifests are named for one image ID.
const MAX_IMAGE_ID_MANIFESTS: usize = 3;

/// One artifact an `oci://` subject stands for: the manifest the registry serves, or one
/// platform manifest of the index it serves.
#[derive(Clone, Debug)]
pub struct ImageSubject {
    /// The reference as given (normalized).
    pub reference: Reference,
    /// What to record or look up: name, digest, kind, platform, attributes.
    pub subject: oci::Subject,
    /// `false` for a pinned digest the registry does not serve now: it is looked up as given.
    pub served: bool,
    /// Why it is not served, as the registry showed it.
    pub not_served: Option<String>,
}

impl ImageSubject {
    /// What a result row calls it: the reference, and for a platform manifest its platform
    /// (`oci://ghcr.io/acme/app:1.4 (linux/arm64)`).
    pub fn display(&self) -> String {
        match &self.subject.platform {
            Some((p, _)) => format!("{} ({p})", self.reference),
            None => self.reference.to_string(),
        }
    }

    /// The artifact hash: the manifest digest's SHA-256.
    pub fn sha256(&self) -> Sha256 {
        self.subject.digest.sha256()
    }

    /// The reference pinned to this manifest: where its receipts are attached.
    pub fn pinned(&self) -> Reference {
        self.reference.with_digest(self.subject.digest)
    }

    /// A name for its receipt files: the entry name, and the platform for a platform
    /// manifest, so that an index and its platforms never share a file.
    pub fn receipt_name(&self) -> String {
        match &self.subject.platform {
            Some((p, _)) => format!("{} {p}", self.subject.name),
            None => self.subject.name.clone(),
        }
    }

    /// What a result row says about it, before anything is added.
    pub fn info(&self) -> ImageInfo {
        ImageInfo {
            reference: self.reference.to_string(),
            digest: self.subject.digest.to_string(),
            media_type: self.subject.attributes.get(oci::ATTR_MEDIA_TYPE).cloned(),
            platform: self.subject.platform.as_ref().map(|(p, _)| p.clone()),
            index: self.subject.platform.as_ref().map(|(_, i)| i.to_string()),
            served: self.served,
            ..ImageInfo::default()
        }
    }
}

/// Resolves `reference` to what it stands for now: the manifest the registry serves, then
/// (for an index) each platform manifest. `notarizing` also fetches each platform manifest,
/// to record its config digest (the image ID). When only looking up, a pinned digest the
/// registry does not serve is still looked up as given (`served: false`): a digest names
/// the same bytes wherever they are, and a local image ID given by mistake is found that way.
///
/// # Errors
/// The registry's errors (a tag that does not exist, no access, a digest mismatch); when
/// notarizing, a pinned digest the registry does not serve is a usage error that says what
/// a local image ID is.
pub async fn expand(
    registry: &RegistryClient,
    reference: &Reference,
    notarizing: bool,
) -> Result<Vec<ImageSubject>, Error> {
    let mut resolved = match registry.resolve(reference).await {
        Ok(r) => r,
        Err(e) => {
            let Some(digest) = reference.digest() else {
                return Err(e.into());
            };
            let why = not_served(registry, reference, digest, e).await?;
            if notarizing {
                return Err(Error::Usage(format!(
                    "{reference}: {why}; a local image ID (`docker images`, `docker inspect \
                     --format '{{{{.Id}}}}'`) is the config digest, not the manifest digest a \
                     registry serves: `docker inspect --format '{{{{index .RepoDigests 0}}}}' \
                     IMAGE` prints the registry's"
                )));
            }
            return Ok(vec![ImageSubject {
                reference: reference.clone(),
                subject: oci::Subject {
                    name: reference.name(),
                    digest,
                    size: 0,
                    kind: KIND_MANIFEST,
                    platform: None,
                    attributes: Default::default(),
                },
                served: false,
                not_served: Some(why),
            }]);
        }
    };
    if notarizing {
        registry.resolve_platforms(&mut resolved).await?;
    }
    Ok(resolved
        .subjects()
        .into_iter()
        .map(|subject| ImageSubject {
            reference: reference.clone(),
            subject,
            served: true,
            not_served: None,
        })
        .collect())
}

/// Why a pinned digest that failed to resolve is simply not served as a manifest, or the
/// failure itself when it stands. A digest the repository holds as a blob (a
/// config or a layer) is not a manifest, whatever the registry answered for it: distribution
/// 2.8 answers `500` when asked for a config as a manifest.
async fn not_served(
    registry: &RegistryClient,
    reference: &Reference,
    digest: Digest,
    e: oci::Error,
) -> Result<String, oci::Error> {
    let missing = matches!(e, oci::Error::NotFound { .. });
    let odd = matches!(e, oci::Error::Registry { status: Some(s), .. } if s >= 500);
    if !missing && !odd {
        return Err(e);
    }
    match registry.has_blob(reference, digest).await {
        Ok(true) => Ok(format!(
            "the repository holds {digest} as a blob (a config or a layer), not as a manifest"
        )),
        Ok(false) if missing => Ok(format!("the registry serves no manifest {digest} ({e})")),
        _ => Err(e),
    }
}

/// What a result row says about the image it is for (`image` in `--output json`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImageInfo {
    /// The reference as given, normalized.
    pub reference: String,
    /// The manifest digest the row is about.
    pub digest: String,
    /// Its media type, when the registry serves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// For a platform manifest: its platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// For a platform manifest: the index that lists it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Whether the registry serves the digest now (`false`: a pinned digest looked up as
    /// given).
    pub served: bool,
    /// `notarize --attach`: the receipt pushed beside the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached: Option<AttachedInfo>,
    /// `authenticate --offline`: each receipt found beside the image and what verifying it
    /// gave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receipts: Vec<ReceiptCheck>,
}

/// A receipt pushed beside an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachedInfo {
    /// The artifact manifest's digest.
    pub artifact: String,
    /// `referrers_api` or `tag_schema`.
    pub via: &'static str,
    /// The referrers tag, for `tag_schema`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl AttachedInfo {
    /// From what the registry client reports.
    pub fn of(a: &oci::Attached) -> AttachedInfo {
        let (via, tag) = via(&a.via);
        AttachedInfo {
            artifact: a.artifact.to_string(),
            via,
            tag,
        }
    }

    /// One line for humans.
    pub fn text(&self) -> String {
        match &self.tag {
            Some(t) => format!(
                "attached: receipt artifact {} beside the image (referrers tag {t}: this registry has no referrers API)",
                self.artifact
            ),
            None => format!(
                "attached: receipt artifact {} beside the image (OCI referrers API)",
                self.artifact
            ),
        }
    }
}

/// `referrers_api`, or `tag_schema` with its tag.
pub fn via(v: &Via) -> (&'static str, Option<String>) {
    match v {
        Via::ReferrersApi => ("referrers_api", None),
        Via::TagSchema { tag } => ("tag_schema", Some(tag.clone())),
    }
}

/// An entry a near miss points at, verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntrySummary {
    /// The artifact hash as a digest (`sha256:…`).
    pub digest: String,
    /// The name it was notarized under.
    pub name: String,
    /// The status it records.
    pub status: String,
    /// Its index in the ledger.
    pub index: u64,
    /// When.
    pub time: String,
    /// Who signed it (the key id or the CI identity's signer id).
    pub signer: String,
    /// Its platform, for a platform manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Who built it, as the server verified it from a CI token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_identity: Option<VerifiedIdentity>,
}

impl EntrySummary {
    fn of(f: &Found) -> Option<EntrySummary> {
        let Entry::Artifact(a) = &f.entry else {
            return None;
        };
        Some(EntrySummary {
            digest: Digest::from(a.sha256).to_string(),
            name: a.name.clone(),
            status: a.status.as_str().to_owned(),
            index: f.receipt.index,
            time: a.time.clone(),
            signer: a.signer.clone(),
            platform: a.attributes.get(ATTR_PLATFORM).cloned(),
            verified_identity: a.identity.clone(),
        })
    }

    /// `entry 12, trusted, 2025-03-01T…Z, signer k_… (built by ISSUER SUBJECT)`.
    fn text(&self) -> String {
        let by = match &self.verified_identity {
            Some(id) => format!(", built by {} {}", id.issuer, id.subject),
            None => String::new(),
        };
        format!(
            "entry {}, {}, {}, signer {}{by}",
            self.index, self.status, self.time, self.signer
        )
    }
}

/// One platform manifest's verdict, for [`NearMiss::PlatformsNotarized`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlatformStatus {
    /// `os/architecture[/variant]`.
    pub platform: String,
    /// Its digest.
    pub digest: String,
    /// Its verified status.
    pub status: String,
    /// The deciding entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

/// Why an image that authenticates as `unknown` may be a near miss of one that does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NearMiss {
    /// The tag was notarized at another digest: it moved since.
    TagMoved {
        /// The name searched (`oci://REGISTRY/REPO:TAG`).
        name: String,
        /// The registry's digest now.
        served: String,
        /// The latest entry under the name for another digest.
        notarized: Box<EntrySummary>,
        /// How many other digests the name was notarized with, the one shown included.
        other_digests: usize,
    },
    /// The digest given is the config digest (the local image ID `docker images` shows) of
    /// notarized image manifests.
    ImageId {
        /// The digest given.
        image_id: String,
        /// The latest entry of each manifest with that config.
        manifests: Vec<EntrySummary>,
    },
    /// An index that is not notarized lists platform manifests that are.
    PlatformsNotarized {
        /// The platforms that are.
        platforms: Vec<PlatformStatus>,
    },
    /// A platform manifest that is not notarized is listed by an index that is.
    IndexNotarized {
        /// The index digest.
        index: String,
        /// Its verified status.
        status: String,
        /// Its deciding entry.
        #[serde(skip_serializing_if = "Option::is_none")]
        entry: Option<u64>,
    },
}

impl NearMiss {
    /// One line for humans, saying what to do.
    pub fn text(&self) -> String {
        match self {
            NearMiss::TagMoved {
                name,
                served,
                notarized,
                other_digests,
            } => {
                let more = match other_digests {
                    0 | 1 => String::new(),
                    n => format!(" ({n} other digests were notarized under it)"),
                };
                format!(
                    "near miss: the tag moved: {name} was notarized at {} ({}){more}; the registry now serves {served}, which is not",
                    notarized.digest,
                    notarized.text()
                )
            }
            NearMiss::ImageId {
                image_id,
                manifests,
            } => {
                let list: Vec<String> = manifests
                    .iter()
                    .map(|m| {
                        let platform = m
                            .platform
                            .as_ref()
                            .map_or_else(String::new, |p| format!(" {p}"));
                        format!("{}{platform} {} ({})", m.name, m.digest, m.text())
                    })
                    .collect();
                format!(
                    "near miss: {image_id} is a local image ID (the config digest `docker images` shows), not a registry's manifest digest; it is the image ID of {}: authenticate the manifest digest (`docker inspect --format '{{{{index .RepoDigests 0}}}}' IMAGE` prints it)",
                    list.join("; ")
                )
            }
            NearMiss::PlatformsNotarized { platforms } => {
                let list: Vec<String> = platforms
                    .iter()
                    .map(|p| {
                        let at = p.index.map_or_else(String::new, |i| format!(", entry {i}"));
                        format!("{} {} ({}{at})", p.platform, p.digest, p.status)
                    })
                    .collect();
                format!(
                    "near miss: this index is not notarized, but platform manifests it lists are: {}; notarize the index (`notarium notarize` of its reference records it with every platform), or authenticate a platform manifest by its digest",
                    list.join(", ")
                )
            }
            NearMiss::IndexNotarized {
                index,
                status,
                entry,
            } => {
                let at = entry.map_or_else(String::new, |i| format!(", entry {i}"));
                format!(
                    "near miss: this platform manifest is not notarized, but the index that lists it is: {index} ({status}{at}); notarizing the index's reference records every platform manifest with it"
                )
            }
        }
    }
}

/// The near misses that the verdicts of one image show by themselves, one list per subject
/// (in the order given): an index that is `unknown` while platform manifests it lists are
/// not, and a platform manifest that is `unknown` while its index is not. `subjects` are what
/// [`expand`] gave for one reference; `verdicts` theirs, in the same order.
pub fn platform_near_misses(
    subjects: &[ImageSubject],
    verdicts: &[&Verdict],
) -> Vec<Vec<NearMiss>> {
    use notarium_core::Status;
    let mut out = vec![Vec::new(); subjects.len()];
    let top = subjects
        .iter()
        .zip(verdicts)
        .position(|(s, _)| s.subject.platform.is_none());
    let Some(top) = top else {
        return out;
    };
    let index_verdict: &Verdict = verdicts[top];
    let known = |v: &Verdict| v.status != Status::Unknown;
    let entry = |v: &Verdict| v.receipt.as_ref().map(|r| r.index.0);
    if !known(index_verdict) {
        let platforms: Vec<PlatformStatus> = subjects
            .iter()
            .zip(verdicts.iter().copied())
            .filter_map(|(s, v)| {
                let (p, _) = s.subject.platform.as_ref()?;
                known(v).then(|| PlatformStatus {
                    platform: p.clone(),
                    digest: s.subject.digest.to_string(),
                    status: v.status.as_str().to_owned(),
                    index: entry(v),
                })
            })
            .collect();
        if !platforms.is_empty() {
            out[top].push(NearMiss::PlatformsNotarized { platforms });
        }
        return out;
    }
    for (i, (s, v)) in subjects.iter().zip(verdicts.iter().copied()).enumerate() {
        if s.subject.platform.is_some() && !known(v) {
            out[i].push(NearMiss::IndexNotarized {
                index: subjects[top].subject.digest.to_string(),
                status: index_verdict.status.as_str().to_owned(),
                entry: entry(index_verdict),
            });
        }
    }
    out
}

impl Verifier {
    /// The near miss of a tag that moved: the latest entry notarized under the reference's
    /// name (`oci://REGISTRY/REPO:TAG`) for another digest than `served`, platform manifests
    /// aside. `None` for a reference without a tag, or when the name holds no other digest.
    ///
    /// # Errors
    /// [`Error::Tampering`] when a search page does not verify; network and API errors.
    pub async fn tag_moved(
        &mut self,
        reference: &Reference,
        served: &Sha256,
    ) -> Result<Option<NearMiss>, Error> {
        if reference.tag().is_none() {
            return Ok(None);
        }
        let name = reference.name();
        let found = self
            .search_all(SearchParams {
                name: Some(name.clone()),
                ..SearchParams::default()
            })
            .await?;
        let mut others = BTreeSet::new();
        let mut latest = None;
        for f in &found {
            let Entry::Artifact(a) = &f.entry else {
                continue;
            };
            if a.name != name || a.sha256 == *served || a.attributes.contains_key(ATTR_INDEX) {
                continue;
            }
            others.insert(a.sha256);
            latest = Some(f);
        }
        Ok(latest
            .and_then(EntrySummary::of)
            .map(|notarized| NearMiss::TagMoved {
                name,
                served: Digest::from(*served).to_string(),
                notarized: Box::new(notarized),
                other_digests: others.len(),
            }))
    }

    /// The near miss of a local image ID: the image manifests notarized with `digest` as
    /// their config digest (attribute `oci.config`), the latest entry of each.
    ///
    /// # Errors
    /// [`Error::Tampering`] when a search page does not verify; network and API errors.
    pub async fn image_id(&mut self, digest: &Sha256) -> Result<Option<NearMiss>, Error> {
        let id = Digest::from(*digest).to_string();
        let found = self
            .search_all(SearchParams {
                attr: Some(format!("{ATTR_CONFIG}:{id}")),
                ..SearchParams::default()
            })
            .await?;
        let mut manifests: Vec<EntrySummary> = Vec::new();
        for f in found.iter().rev() {
            let Entry::Artifact(a) = &f.entry else {
                continue;
            };
            if a.attributes.get(ATTR_CONFIG) != Some(&id) {
                continue;
            }
            let Some(s) = EntrySummary::of(f) else {
                continue;
            };
            if manifests.iter().all(|m| m.digest != s.digest) {
                manifests.push(s);
            }
            if manifests.len() == MAX_IMAGE_ID_MANIFESTS {
                break;
            }
        }
        Ok((!manifests.is_empty()).then_some(NearMiss::ImageId {
            image_id: id,
            manifests,
        }))
    }

    /// Every page of a search, up to [`MAX_SEARCH_PAGES`] of the server's largest pages.
    async fn search_all(&mut self, mut params: SearchParams) -> Result<Vec<Found>, Error> {
        params.limit = Some(self.limits().await?.page_max);
        let mut out = Vec::new();
        for _ in 0..MAX_SEARCH_PAGES {
            let (found, next) = self.search(&params).await?;
            out.extend(found);
            match next {
                Some(n) => params.after = Some(n),
                None => break,
            }
        }
        Ok(out)
    }
}

/// What verifying one receipt found beside an image gave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptCheck {
    /// The artifact manifest that holds it.
    pub artifact: String,
    /// `verified`; `other_signer` (verified, but not by a signer asked for); `other_ledger`
    /// (its checkpoint bears no signature of the pinned key's name and id: it speaks for
    /// another ledger, and is left aside); `failed` (it does not verify, or is the receipt of
    /// something else: tampering).
    pub outcome: &'static str,
    /// The entry it proves, when it verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// The status that entry records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it failed, or whose it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The receipts found beside one manifest, verified with the pinned key alone.
#[derive(Clone, Debug)]
pub struct AttachedVerdict {
    /// Each receipt and what verifying it gave, in the registry's order.
    pub checks: Vec<ReceiptCheck>,
    /// The latest verified receipt (highest entry index) about the manifest by a signer
    /// asked for: the one that decides, as far as attached receipts can tell.
    pub deciding: Option<VerifiedReceipt>,
}

impl AttachedVerdict {
    /// Whether any receipt failed: tampering, whatever the others say.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.outcome == "failed")
    }
}

/// Verifies the receipts found beside the manifest whose SHA-256 is `sha` with nothing but
/// the pinned `key`: each receipt JSON, and its tlog-proof layer when there is one, which
/// must prove the same entry. A receipt that does not verify, or that is a genuine receipt
/// of something else, fails; one whose checkpoint is not signed under the key's name and id
/// belongs to another ledger and is left aside (it cannot make anything trusted). `signers`
/// (when not empty) limits which verified receipts may decide.
pub fn check_attached(
    key: &VerifierKey,
    sha: &Sha256,
    signers: &[String],
    receipts: &[AttachedReceipt],
) -> AttachedVerdict {
    let mut checks = Vec::with_capacity(receipts.len());
    let mut deciding: Option<VerifiedReceipt> = None;
    for r in receipts {
        let artifact = r.artifact.to_string();
        let check = |outcome: &'static str, reason: String| ReceiptCheck {
            artifact: artifact.clone(),
            outcome,
            index: None,
            status: None,
            reason: Some(reason),
        };
        let verified = match verify_one(key, r) {
            Ok(Some(v)) => v,
            Ok(None) => {
                checks.push(check(
                    "other_ledger",
                    "its checkpoint is not signed by the pinned key: another ledger's receipt"
                        .into(),
                ));
                continue;
            }
            Err(why) => {
                checks.push(check("failed", why));
                continue;
            }
        };
        let Entry::Artifact(a) = &verified.entry else {
            checks.push(check("failed", "it is the receipt of a key entry".into()));
            continue;
        };
        if a.sha256 != *sha {
            checks.push(check(
                "failed",
                format!(
                    "it is the receipt of {:?} with SHA-256 {}, not of this manifest",
                    a.name, a.sha256
                ),
            ));
            continue;
        }
        let counts = signers.is_empty() || signers.contains(&a.signer);
        checks.push(ReceiptCheck {
            artifact,
            outcome: if counts { "verified" } else { "other_signer" },
            index: Some(verified.index.0),
            status: Some(a.status.as_str().to_owned()),
            reason: (!counts).then(|| format!("signed by {}", a.signer)),
        });
        if counts && deciding.as_ref().is_none_or(|d| d.index < verified.index) {
            deciding = Some(verified);
        }
    }
    AttachedVerdict { checks, deciding }
}

/// One attached receipt: `Ok(None)` when it is another ledger's, `Err` with the reason when
/// it does not verify.
fn verify_one(key: &VerifierKey, r: &AttachedReceipt) -> Result<Option<VerifiedReceipt>, String> {
    let text = std::str::from_utf8(&r.receipt).map_err(|_| "the receipt is not UTF-8")?;
    let receipt = parse_receipt(text).map_err(|e| format!("the receipt layer: {e}"))?;
    let note = notarium_core::note::Note::parse(&receipt.checkpoint)
        .map_err(|e| format!("the receipt's checkpoint: {e}"))?;
    if !note
        .signatures
        .iter()
        .any(|s| s.name == key.name() && s.id == key.id())
    {
        return Ok(None);
    }
    let verified = receipt.verify(key).map_err(|e| e.to_string())?;
    if let Some(proof) = &r.tlog_proof {
        let text = std::str::from_utf8(proof).map_err(|_| "the tlog-proof is not UTF-8")?;
        let other = parse_receipt(text)
            .and_then(|p| p.verify(key).map_err(|e| Error::Tampering(e.to_string())))
            .map_err(|e| format!("the tlog-proof layer does not verify: {e}"))?;
        if other.index != verified.index || other.leaf != verified.leaf {
            return Err(format!(
                "the tlog-proof layer proves entry {}, the receipt entry {}",
                other.index.0, verified.index.0
            ));
        }
    }
    Ok(Some(verified))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use base64::Engine;
    use notarium_core::checkpoint::{Checkpoint, Origin};
    use notarium_core::entry::{ArtifactEntry, ArtifactStatus};
    use notarium_core::note::SignerKey;
    use notarium_core::{leaf_hash, Receipt, Status, TreeSize};

    use super::*;

    /// A one-entry ledger's receipt of an artifact with `sha`, by `signer`, under `origin`.
    fn receipt(origin: &str, sha: Sha256, signer: &str) -> (Receipt, VerifierKey) {
        let key = SignerKey::from_seed(origin, [7; 32]).unwrap();
        let leaf = Entry::Artifact(ArtifactEntry {
            v: 1,
            ledger: "default".into(),
            sha256: sha,
            name: "oci://r.io/app:v1".into(),
            kind: KIND_MANIFEST.into(),
            size: None,
            status: ArtifactStatus::Trusted,
            attributes: BTreeMap::new(),
            ci: BTreeMap::new(),
            identity: None,
            signer: signer.into(),
            time: "2026-11-21T10:00:00.000000Z".into(),
        })
        .to_bytes()
        .unwrap();
        let checkpoint = Checkpoint {
            origin: Origin::new(origin).unwrap(),
            size: TreeSize(1),
            root: leaf_hash(&leaf),
            extensions: vec![],
        }
        .sign(&key)
        .unwrap();
        let r = Receipt {
            ledger: "default".into(),
            index: 0,
            entry: serde_json::from_slice(&leaf).unwrap(),
            leaf: base64::engine::general_purpose::STANDARD.encode(&leaf),
            leaf_hash: leaf_hash(&leaf),
            checkpoint: checkpoint.note().to_owned(),
            inclusion_proof: vec![],
            verifier_key: key.verifier().to_string(),
        };
        (r, key.verifier())
    }

    fn attached(r: &Receipt, proof: bool) -> AttachedReceipt {
        let (json, tlog) = crate::receipts::receipt_files(r).unwrap();
        AttachedReceipt {
            artifact: Digest::of(json.as_bytes()),
            receipt: json.into_bytes(),
            tlog_proof: proof.then(|| tlog.into_bytes()),
        }
    }

    fn outcome(key: &VerifierKey, sha: Sha256, signers: &[&str], a: AttachedReceipt) -> String {
        let signers: Vec<String> = signers.iter().map(|s| s.to_string()).collect();
        let v = check_attached(key, &sha, &signers, &[a]);
        assert_eq!(v.checks.len(), 1);
        assert_eq!(
            v.deciding.is_some(),
            v.checks[0].outcome == "verified",
            "only a verified receipt decides"
        );
        v.checks[0].outcome.to_owned()
    }

    #[test]
    fn attached_receipts_are_held_to_the_pinned_key_and_the_manifest() {
        let sha = Sha256::of(b"manifest");
        let (genuine, key) = receipt("example.com/notarium/default", sha, "k_1");
        assert_eq!(
            outcome(&key, sha, &[], attached(&genuine, true)),
            "verified"
        );
        assert_eq!(
            outcome(&key, sha, &[], attached(&genuine, false)),
            "verified"
        );
        assert_eq!(
            outcome(&key, sha, &["k_2"], attached(&genuine, true)),
            "other_signer"
        );
        // A genuine receipt of something else attached here is a lie about this manifest.
        assert_eq!(
            outcome(&key, Sha256::of(b"other"), &[], attached(&genuine, true)),
            "failed"
        );
        // Another ledger's receipt is left aside: it cannot make anything trusted.
        let (foreign, _) = receipt("example.com/notarium/staging", sha, "k_1");
        assert_eq!(
            outcome(&key, sha, &[], attached(&foreign, true)),
            "other_ledger"
        );
        // The entry changed: the leaf no longer matches.
        let mut forged = genuine.clone();
        forged.entry["status"] = "untrusted".into();
        let mut a = attached(&forged, false);
        assert_eq!(outcome(&key, sha, &[], a.clone()), "failed");
        // A tlog-proof layer of another entry than the receipt's.
        let (other, _) = receipt("example.com/notarium/default", Sha256::of(b"o"), "k_1");
        a = attached(&genuine, false);
        a.tlog_proof = attached(&other, true).tlog_proof;
        assert_eq!(outcome(&key, sha, &[], a.clone()), "failed");
        a.receipt = b"\xff not a receipt".to_vec();
        assert_eq!(outcome(&key, sha, &[], a), "failed");
    }

    fn image(digest: &[u8], platform: Option<&str>) -> ImageSubject {
        let reference = Reference::parse_subject("oci://r.io/app:v1").unwrap();
        ImageSubject {
            subject: oci::Subject {
                name: reference.name(),
                digest: Digest::of(digest),
                size: 1,
                kind: KIND_MANIFEST,
                platform: platform.map(|p| (p.to_owned(), Digest::of(b"index"))),
                attributes: BTreeMap::new(),
            },
            reference,
            served: true,
            not_served: None,
        }
    }

    fn verdict(s: &ImageSubject, status: Status) -> Verdict {
        Verdict {
            sha256: s.sha256(),
            status,
            receipt: None,
            raw: None,
        }
    }

    #[test]
    fn an_index_and_its_platforms_are_held_against_each_other() {
        let subjects = vec![
            image(b"index", None),
            image(b"amd64", Some("linux/amd64")),
            image(b"arm64", Some("linux/arm64")),
        ];
        let of = |statuses: [Status; 3]| {
            let verdicts: Vec<Verdict> = subjects
                .iter()
                .zip(statuses)
                .map(|(s, st)| verdict(s, st))
                .collect();
            let refs: Vec<&Verdict> = verdicts.iter().collect();
            platform_near_misses(&subjects, &refs)
        };
        let all_known = of([Status::Trusted, Status::Trusted, Status::Untrusted]);
        assert!(all_known.iter().all(Vec::is_empty));
        let all_unknown = of([Status::Unknown; 3]);
        assert!(all_unknown.iter().all(Vec::is_empty));

        let index_unknown = of([Status::Unknown, Status::Trusted, Status::Unknown]);
        match index_unknown[0].as_slice() {
            [NearMiss::PlatformsNotarized { platforms }] => {
                assert_eq!(platforms.len(), 1);
                assert_eq!(platforms[0].platform, "linux/amd64");
                assert_eq!(platforms[0].status, "trusted");
            }
            other => panic!("{other:?}"),
        }
        assert!(index_unknown[1..].iter().all(Vec::is_empty));

        let platform_unknown = of([Status::Untrusted, Status::Trusted, Status::Unknown]);
        assert!(platform_unknown[0].is_empty() && platform_unknown[1].is_empty());
        match platform_unknown[2].as_slice() {
            [m @ NearMiss::IndexNotarized { status, index, .. }] => {
                assert_eq!(status, "untrusted");
                assert_eq!(index, &Digest::of(b"index").to_string());
                assert!(m.text().contains("the index that lists it is"));
                let json = serde_json::to_value(m).unwrap();
                assert_eq!(json["kind"], "index_notarized");
            }
            other => panic!("{other:?}"),
        }
    }
}
