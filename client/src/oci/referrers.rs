//! Receipts stored beside an image: an OCI 1.1 artifact manifest whose `subject` is the image
//! (image-spec 1.1 "artifacts guidance"), found again through the referrers API
//! (`GET /v2/<name>/referrers/<digest>`) or, on registries without it, the referrers tag
//! schema of distribution-spec 1.1: an image index of referrers under the tag
//! `sha256-<hex of the subject digest>`.

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use super::manifest::{
    AnyManifest, ArtifactManifest, Descriptor, IndexOut, Kind, MAX_MANIFEST_BYTES,
};
use super::reference::{Digest, Reference};
use super::session::{read_limited, registry_error_text, Access, Request, Session, Target};
use super::{fetch_manifest, Error, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST};

/// The artifact type of a Notarium receipt attached to an image.
pub const ARTIFACT_TYPE: &str = "application/vnd.notarium.receipt.v1+json";
/// The media type of the receipt JSON layer (docs/http-api.md's receipt).
pub const RECEIPT_MEDIA_TYPE: &str = "application/vnd.notarium.receipt.v1+json";
/// The media type of the C2SP tlog-proof layer (<https://c2sp.org/tlog-proof>).
pub const TLOG_PROOF_MEDIA_TYPE: &str = "application/vnd.notarium.tlog-proof.v1";
/// The largest receipt or proof pushed or read.
pub const MAX_RECEIPT_BYTES: usize = 1 << 20;

/// The empty config every artifact here carries (image-spec 1.1: `{}`).
const EMPTY_CONFIG: &[u8] = b"{}";
/// The layer annotation ORAS and others use as a file name.
const TITLE: &str = "org.opencontainers.image.title";
/// At most this many pages of a referrers list are read.
const MAX_PAGES: usize = 64;
/// At most this many receipts are fetched for one image.
const MAX_RECEIPTS: usize = 256;

/// How a registry lists an image's referrers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// The OCI 1.1 referrers API.
    ReferrersApi,
    /// The referrers tag schema: an index under this tag (`sha256-<hex>`).
    TagSchema {
        /// The tag.
        tag: String,
    },
}

/// A receipt pushed beside an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The image manifest (or index) it refers to.
    pub subject: Digest,
    /// The artifact manifest's digest.
    pub artifact: Digest,
    /// How the registry lists it.
    pub via: Via,
}

/// A receipt found beside an image, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachedReceipt {
    /// The artifact manifest's digest.
    pub artifact: Digest,
    /// The receipt JSON, byte for byte.
    pub receipt: Vec<u8>,
    /// The C2SP tlog-proof text, when the artifact has one.
    pub tlog_proof: Option<Vec<u8>>,
}

/// The receipts attached to an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The manifest they were looked up for: what the reference resolves to now.
    pub subject: Digest,
    /// How the registry lists referrers.
    pub via: Via,
    /// The receipts, in the registry's order.
    pub receipts: Vec<AttachedReceipt>,
}

/// The tag that holds an image's referrers on registries without the referrers API.
pub(crate) fn fallback_tag(subject: Digest) -> String {
    format!("sha256-{}", subject.hex())
}

pub(crate) async fn attach(
    s: &Session,
    image: &Reference,
    receipt_json: &[u8],
    tlog_proof: &[u8],
) -> Result<Attached, Error> {
    for (what, bytes) in [("receipt", receipt_json), ("tlog-proof", tlog_proof)] {
        if bytes.is_empty() || bytes.len() > MAX_RECEIPT_BYTES {
            return Err(Error::Malformed {
                what: what.into(),
                reason: format!(
                    "{} bytes; a receipt layer has 1 to {MAX_RECEIPT_BYTES}",
                    bytes.len()
                ),
            });
        }
    }
    let target = fetch_manifest(s, image, &image.manifest_ref(), image.digest()).await?;
    let subject = Descriptor::of(&target.media_type, &target.bytes);
    let repo = image.repository();
    let config = push_blob(s, repo, EMPTY_CONFIG, OCI_EMPTY).await?;
    let mut receipt = push_blob(s, repo, receipt_json, RECEIPT_MEDIA_TYPE).await?;
    receipt
        .annotations
        .insert(TITLE.into(), "receipt.json".into());
    let mut proof = push_blob(s, repo, tlog_proof, TLOG_PROOF_MEDIA_TYPE).await?;
    proof
        .annotations
        .insert(TITLE.into(), "receipt.tlog-proof".into());
    let manifest = ArtifactManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        artifact_type: ARTIFACT_TYPE,
        config,
        layers: vec![receipt, proof],
        subject,
    };
    let bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    let artifact = Digest::of(&bytes);
    let resp = put_manifest(s, repo, &artifact.to_string(), &bytes, OCI_MANIFEST).await?;
    let subject_header = resp
        .headers()
        .get("oci-subject")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if subject_header.as_deref() == Some(target.digest.to_string().as_str()) {
        return Ok(Attached {
            subject: target.digest,
            artifact,
            via: Via::ReferrersApi,
        });
    }
    // No OCI-Subject header: some registries with the API do not send it; ask the API.
    if list_api(s, repo, target.digest).await?.is_some() {
        return Ok(Attached {
            subject: target.digest,
            artifact,
            via: Via::ReferrersApi,
        });
    }
    let tag = fallback_tag(target.digest);
    let mut listed = list_tag(s, image, &tag).await?.unwrap_or_default();
    if !listed.iter().any(|d| d.digest == artifact.to_string()) {
        let mut entry = Descriptor::of(OCI_MANIFEST, &bytes);
        entry.artifact_type = Some(ARTIFACT_TYPE.into());
        listed.push(entry);
        let index = IndexOut {
            schema_version: 2,
            media_type: OCI_INDEX,
            manifests: &listed,
        };
        let index_bytes = serde_json::to_vec(&index).expect("indexes serialize");
        put_manifest(s, repo, &tag, &index_bytes, OCI_INDEX).await?;
    }
    Ok(Attached {
        subject: target.digest,
        artifact,
        via: Via::TagSchema { tag },
    })
}

pub(crate) async fn find(s: &Session, image: &Reference) -> Result<Found, Error> {
    let target = fetch_manifest(s, image, &image.manifest_ref(), image.digest()).await?;
    let repo = image.repository();
    let (via, listed) = match list_api(s, repo, target.digest).await? {
        Some(l) => (Via::ReferrersApi, l),
        None => {
            let tag = fallback_tag(target.digest);
            let l = list_tag(s, image, &tag).await?.unwrap_or_default();
            (Via::TagSchema { tag }, l)
        }
    };
    let mut seen = Vec::new();
    let mut receipts = Vec::new();
    // Registries that derive a referrer's type from its config (rather than its
    // `artifactType`) list ours as the empty type: those are fetched and checked too.
    let candidates = listed.iter().filter(|d| {
        d.media_type == OCI_MANIFEST
            && matches!(
                d.artifact_type.as_deref(),
                None | Some(ARTIFACT_TYPE) | Some(OCI_EMPTY)
            )
    });
    for d in candidates {
        let digest = d.sha256_digest()?;
        if seen.contains(&digest) {
            continue;
        }
        seen.push(digest);
        if seen.len() > MAX_RECEIPTS {
            return Err(Error::Malformed {
                what: "referrers list".into(),
                reason: format!("more than {MAX_RECEIPTS} candidate receipts"),
            });
        }
        let m = fetch_manifest(s, image, &digest.to_string(), Some(digest)).await?;
        let refers_here = m.parsed.subject.as_ref().map(|x| x.digest.as_str())
            == Some(&target.digest.to_string());
        if m.kind != Kind::Image
            || m.parsed.artifact_type.as_deref() != Some(ARTIFACT_TYPE)
            || !refers_here
        {
            continue;
        }
        receipts.push(read_receipt(s, repo, digest, &m.parsed).await?);
    }
    Ok(Found {
        subject: target.digest,
        via,
        receipts,
    })
}

async fn read_receipt(
    s: &Session,
    repo: &str,
    artifact: Digest,
    m: &AnyManifest,
) -> Result<AttachedReceipt, Error> {
    let layers = m.layers.as_deref().unwrap_or_default();
    let layer = |t: &str| layers.iter().find(|l| l.media_type == t);
    let Some(receipt) = layer(RECEIPT_MEDIA_TYPE) else {
        return Err(Error::Malformed {
            what: format!("receipt artifact {artifact}"),
            reason: format!("no {RECEIPT_MEDIA_TYPE} layer"),
        });
    };
    let receipt = fetch_blob(s, repo, receipt).await?;
    let tlog_proof = match layer(TLOG_PROOF_MEDIA_TYPE) {
        Some(l) => Some(fetch_blob(s, repo, l).await?),
        None => None,
    };
    Ok(AttachedReceipt {
        artifact,
        receipt,
        tlog_proof,
    })
}

/// The referrers of `subject` through the referrers API, or `None` when the registry has no
/// such API (it answers `404`, as distribution-spec 1.1 says a registry with it must not).
async fn list_api(
    s: &Session,
    repo: &str,
    subject: Digest,
) -> Result<Option<Vec<Descriptor>>, Error> {
    let mut target = Target::Path(format!(
        "v2/{repo}/referrers/{subject}?artifactType={}",
        urlencode(ARTIFACT_TYPE)
    ));
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let resp = s
            .send(Request {
                method: Method::GET,
                target,
                repository: repo,
                access: Access::Pull,
                accept: Some(OCI_INDEX),
                body: None,
            })
            .await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND && out.is_empty() {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::Registry {
                url: format!("{}v2/{repo}/referrers/{subject}", s.base()),
                status: Some(status.as_u16()),
                detail: registry_error_text(resp).await,
            });
        }
        let next = next_link(resp.headers(), s.base());
        let bytes = read_limited(resp, MAX_MANIFEST_BYTES, "referrers list").await?;
        out.extend(parse_list(&bytes, "referrers list")?);
        match next {
            Some(u) => target = Target::Url(u),
            None => return Ok(Some(out)),
        }
    }
    Err(Error::Malformed {
        what: "referrers list".into(),
        reason: format!("more than {MAX_PAGES} pages"),
    })
}

/// The referrers index under the fallback tag, or `None` when there is no such tag.
async fn list_tag(
    s: &Session,
    image: &Reference,
    tag: &str,
) -> Result<Option<Vec<Descriptor>>, Error> {
    match fetch_manifest(s, image, tag, None).await {
        Ok(f) if f.kind == Kind::Index => Ok(Some(parse_list(&f.bytes, "referrers tag")?)),
        Ok(_) => Err(Error::Malformed {
            what: format!("referrers tag {tag}"),
            reason: "it holds an image manifest, not an index of referrers".into(),
        }),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_list(bytes: &[u8], what: &str) -> Result<Vec<Descriptor>, Error> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        manifests: Vec<Descriptor>,
    }
    serde_json::from_slice::<List>(bytes)
        .map(|l| l.manifests)
        .map_err(|e| Error::Malformed {
            what: what.into(),
            reason: e.to_string(),
        })
}

/// The `rel="next"` target of a `Link` header (distribution-spec pagination).
fn next_link(headers: &reqwest::header::HeaderMap, base: &Url) -> Option<Url> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.replace(' ', "").contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        base.join(target).ok()
    })
}

/// Uploads a blob unless the repository has it (monolithic upload: `POST` then `PUT`).
async fn push_blob(
    s: &Session,
    repo: &str,
    bytes: &[u8],
    media_type: &str,
) -> Result<Descriptor, Error> {
    let desc = Descriptor::of(media_type, bytes);
    let head = s
        .send(Request {
            method: Method::HEAD,
            target: Target::Path(format!("v2/{repo}/blobs/{}", desc.digest)),
            repository: repo,
            access: Access::Push,
            accept: None,
            body: None,
        })
        .await?;
    if head.status().is_success() {
        return Ok(desc);
    }
    let start = s
        .send(Request {
            method: Method::POST,
            target: Target::Path(format!("v2/{repo}/blobs/uploads/")),
            repository: repo,
            access: Access::Push,
            accept: None,
            body: None,
        })
        .await?;
    let url = format!("{}v2/{repo}/blobs/uploads/", s.base());
    if start.status() != StatusCode::ACCEPTED {
        let status = start.status().as_u16();
        return Err(Error::Registry {
            url,
            status: Some(status),
            detail: registry_error_text(start).await,
        });
    }
    let location = start
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| s.base().join(l).ok())
        .ok_or_else(|| Error::Registry {
            url: url.clone(),
            status: Some(202),
            detail: "upload started without a usable Location".into(),
        })?;
    let mut put = location;
    put.query_pairs_mut().append_pair("digest", &desc.digest);
    let done = s
        .send(Request {
            method: Method::PUT,
            target: Target::Url(put),
            repository: repo,
            access: Access::Push,
            accept: None,
            body: Some((bytes.to_vec(), "application/octet-stream")),
        })
        .await?;
    if done.status() != StatusCode::CREATED {
        let status = done.status().as_u16();
        return Err(Error::Registry {
            url,
            status: Some(status),
            detail: registry_error_text(done).await,
        });
    }
    Ok(desc)
}

async fn put_manifest(
    s: &Session,
    repo: &str,
    reference: &str,
    bytes: &[u8],
    media_type: &str,
) -> Result<reqwest::Response, Error> {
    let resp = s
        .send(Request {
            method: Method::PUT,
            target: Target::Path(format!("v2/{repo}/manifests/{reference}")),
            repository: repo,
            access: Access::Push,
            accept: None,
            body: Some((bytes.to_vec(), media_type)),
        })
        .await?;
    let url = format!("{}v2/{repo}/manifests/{reference}", s.base());
    if resp.status() != StatusCode::CREATED {
        let status = resp.status().as_u16();
        return Err(Error::Registry {
            url,
            status: Some(status),
            detail: registry_error_text(resp).await,
        });
    }
    let digest = Digest::of(bytes).to_string();
    if let Some(h) = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
    {
        if h.starts_with("sha256:") && h != digest {
            return Err(Error::DigestMismatch {
                what: format!("manifest pushed to {url} (Docker-Content-Digest header)"),
                expected: digest,
                actual: h.to_owned(),
            });
        }
    }
    Ok(resp)
}

/// Downloads a blob and checks its size and digest against the descriptor.
async fn fetch_blob(s: &Session, repo: &str, d: &Descriptor) -> Result<Vec<u8>, Error> {
    let digest = d.sha256_digest()?;
    if d.size > MAX_RECEIPT_BYTES as u64 {
        return Err(Error::Malformed {
            what: format!("blob {digest}"),
            reason: format!("{} bytes, more than {MAX_RECEIPT_BYTES}", d.size),
        });
    }
    let resp = s
        .send(Request {
            method: Method::GET,
            target: Target::Path(format!("v2/{repo}/blobs/{digest}")),
            repository: repo,
            access: Access::Pull,
            accept: None,
            body: None,
        })
        .await?;
    let url = format!("{}v2/{repo}/blobs/{digest}", s.base());
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(Error::NotFound {
            reference: url,
            detail: registry_error_text(resp).await,
        });
    }
    if !resp.status().is_success() {
        let status = resp.status().as_u16();
        return Err(Error::Registry {
            url,
            status: Some(status),
            detail: registry_error_text(resp).await,
        });
    }
    let bytes = read_limited(resp, MAX_RECEIPT_BYTES, "receipt layer").await?;
    let got = Digest::of(&bytes);
    if got != digest || bytes.len() as u64 != d.size {
        return Err(Error::DigestMismatch {
            what: format!("blob {url} ({} bytes, {} announced)", bytes.len(), d.size),
            expected: digest.to_string(),
            actual: got.to_string(),
        });
    }
    Ok(bytes)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_next_link() {
        use reqwest::header::{HeaderMap, HeaderValue, LINK};
        let base = Url::parse("https://r.io/").unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(next_link(&h, &base), None);
        h.insert(
            LINK,
            HeaderValue::from_static(r#"</v2/a/referrers/sha256:x?n=2&last=y>; rel="prev", </v2/a/referrers/sha256:x?last=z>; rel="next""#),
        );
        assert_eq!(
            next_link(&h, &base).unwrap().as_str(),
            "https://r.io/v2/a/referrers/sha256:x?last=z"
        );
        h.insert(
            LINK,
            HeaderValue::from_static(r#"<https://other.example/v2/a>; rel = "next""#),
        );
        assert_eq!(
            next_link(&h, &base).unwrap().as_str(),
            "https://other.example/v2/a"
        );
    }

    #[test]
    fn the_fallback_tag_is_alg_dash_hex() {
        let d = Digest::of(b"x");
        assert_eq!(fallback_tag(d), format!("sha256-{}", d.hex()));
        assert!(Reference::parse("r.io/a")
            .unwrap()
            .with_tag(&fallback_tag(d))
            .is_ok());
    }

    #[test]
    fn artifact_manifests_follow_the_1_1_guidance() {
        let m = ArtifactManifest {
            schema_version: 2,
            media_type: OCI_MANIFEST,
            artifact_type: ARTIFACT_TYPE,
            config: Descriptor::of(OCI_EMPTY, EMPTY_CONFIG),
            layers: vec![Descriptor::of(RECEIPT_MEDIA_TYPE, b"{}")],
            subject: Descriptor::of(OCI_MANIFEST, b"image"),
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["artifactType"], ARTIFACT_TYPE);
        assert_eq!(
            v["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(v["config"]["size"], 2);
        assert_eq!(v["subject"]["digest"], Digest::of(b"image").to_string());
        assert!(v["layers"][0].get("platform").is_none());
        assert!(v["layers"][0].get("annotations").is_none());
    }
}
