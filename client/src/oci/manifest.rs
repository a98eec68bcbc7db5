//! The JSON documents of the OCI image spec (v1.1) and Docker's schema 2 that this module
//! reads and writes: descriptors, image manifests, indexes and manifest lists, platforms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::reference::Digest;
use super::Error;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (Docker's multi-platform index).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The empty JSON object `{}`, the config of artifacts that need none (image spec 1.1).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// The `Accept` header for manifests: every kind this module understands. Docker's schema 1
/// is left out on purpose: its digests are of a signed, rewritten form.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest read: the distribution spec asks registries to accept 4 MiB.
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// The annotation buildx puts on the attestation manifests it stores in an index.
const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";

/// A content descriptor: what a manifest or index says about another blob or manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the content.
    pub media_type: String,
    /// Its digest, as written (possibly of an algorithm this module does not support).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// The artifact type, for artifacts and in referrers lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The platform, in indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// A descriptor of `bytes` with `media_type` and no annotations.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The digest, parsed.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an algorithm other than sha256, [`Error::Malformed`] for a
    /// malformed digest.
    pub fn sha256_digest(&self) -> Result<Digest, Error> {
        Digest::parse(&self.digest).map_err(|e| match e {
            Error::Unsupported(m) => Error::Unsupported(m),
            other => Error::Malformed {
                what: "descriptor".into(),
                reason: other.to_string(),
            },
        })
    }
}

/// The platform of one manifest of an index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, as Go's `GOARCH` (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system, as Go's `GOOS` (`linux`, `windows`).
    pub os: String,
    /// OS version (Windows images).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/architecture[/variant]`, as docker's `--platform` writes it.
    pub fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }

    /// Registries hand these strings over untouched and they end up in ledger attributes
    /// and terminal output: short printable text only.
    fn check(&self) -> Result<(), Error> {
        let fields = [
            Some(&self.architecture),
            Some(&self.os),
            self.os_version.as_ref(),
            self.variant.as_ref(),
        ];
        for f in fields.into_iter().flatten() {
            if f.len() > 128 || f.chars().any(char::is_control) {
                return Err(Error::Malformed {
                    what: "platform".into(),
                    reason: format!("{f:?} is not a short printable string"),
                });
            }
        }
        Ok(())
    }
}

/// Any manifest or index, read leniently: only the fields this module uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnyManifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub subject: Option<Descriptor>,
}

/// What a manifest is, decided from its own `mediaType` (or, when it has none, the
/// `Content-Type` it was served with) and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Image,
    Index,
}

impl AnyManifest {
    /// Parses manifest bytes served with `content_type`.
    pub(crate) fn parse(
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<(AnyManifest, String, Kind), Error> {
        let m: AnyManifest = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: "manifest".into(),
            reason: format!("not a JSON manifest: {e}"),
        })?;
        if m.schema_version != Some(2) {
            return Err(Error::Unsupported(format!(
                "manifest schemaVersion {:?}: only schema 2 (OCI and Docker v2) manifests are supported",
                m.schema_version
            )));
        }
        let header = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_owned());
        let media_type = match (&m.media_type, header) {
            (Some(t), _) => t.clone(),
            (None, Some(h)) if !h.is_empty() => h,
            _ if m.manifests.is_some() => OCI_INDEX.to_owned(),
            _ => OCI_MANIFEST.to_owned(),
        };
        let kind = match media_type.as_str() {
            OCI_INDEX | DOCKER_MANIFEST_LIST => Kind::Index,
            OCI_MANIFEST | DOCKER_MANIFEST => Kind::Image,
            other => {
                return Err(Error::Unsupported(format!("manifest media type {other:?}")));
            }
        };
        match kind {
            Kind::Index if m.manifests.is_none() => Err(Error::Malformed {
                what: "index".into(),
                reason: "no manifests".into(),
            }),
            Kind::Image if m.config.is_none() => Err(Error::Malformed {
                what: "manifest".into(),
                reason: "no config".into(),
            }),
            _ => Ok((m, media_type, kind)),
        }
    }
}

/// One manifest listed in an index, with its platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformManifest {
    /// Its digest: what `docker pull` on that platform fetches.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The platform, when the index names one.
    pub platform: Option<Platform>,
    /// Whether this is not an image but buildx's attestation manifest (platform
    /// `unknown/unknown`, annotation `vnd.docker.reference.type: attestation-manifest`).
    pub attestation: bool,
    /// The digest of its config: the image ID `docker images` shows for it. Known once the
    /// manifest itself was fetched ([`super::RegistryClient::resolve_platforms`]).
    pub config: Option<Digest>,
}

impl PlatformManifest {
    pub(crate) fn from_descriptor(d: &Descriptor) -> Result<PlatformManifest, Error> {
        if let Some(p) = &d.platform {
            p.check()?;
        }
        Ok(PlatformManifest {
            digest: d.sha256_digest()?,
            media_type: d.media_type.clone(),
            size: d.size,
            platform: d.platform.clone(),
            attestation: d.annotations.get(DOCKER_REFERENCE_TYPE).map(String::as_str)
                == Some("attestation-manifest"),
            config: None,
        })
    }
}

/// The OCI image manifest of an artifact (image spec 1.1 "artifacts guidance": an empty
/// config, the content as layers, `artifactType` set, `subject` the image it refers to).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArtifactManifest<'a> {
    pub schema_version: u32,
    pub media_type: &'static str,
    pub artifact_type: &'a str,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    pub subject: Descriptor,
}

/// An OCI image index, as the referrers tag schema stores referrers lists.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexOut<'a> {
    pub schema_version: u32,
    pub media_type: &'static str,
    pub manifests: &'a [Descriptor],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_document_then_the_header() {
        let idx = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert_eq!(
            AnyManifest::parse(idx, Some(OCI_MANIFEST)).unwrap().2,
            Kind::Index
        );
        let bare = br#"{"schemaVersion":2,"manifests":[]}"#;
        let (_, t, k) = AnyManifest::parse(
            bare,
            Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
        )
        .unwrap();
        assert_eq!((t.as_str(), k), (DOCKER_MANIFEST_LIST, Kind::Index));
        let img = br#"{"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:x","size":1},"layers":[]}"#;
        assert_eq!(AnyManifest::parse(img, None).unwrap().2, Kind::Image);
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        let v1 = br#"{"schemaVersion":1,"name":"a","tag":"b"}"#;
        assert!(matches!(
            AnyManifest::parse(v1, None),
            Err(Error::Unsupported(_))
        ));
        let other = br#"{"schemaVersion":2,"mediaType":"text/plain"}"#;
        assert!(matches!(
            AnyManifest::parse(other, None),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            AnyManifest::parse(b"<html>", None),
            Err(Error::Malformed { .. })
        ));
        let no_list =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}"#;
        assert!(matches!(
            AnyManifest::parse(no_list, None),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn platform_strings_must_be_printable() {
        let d = Descriptor {
            platform: Some(Platform {
                architecture: "amd64\u{1b}[2J".into(),
                os: "linux".into(),
                os_version: None,
                variant: None,
            }),
            ..Descriptor::of(OCI_MANIFEST, b"x")
        };
        assert!(matches!(
            PlatformManifest::from_descriptor(&d),
            Err(Error::Malformed { .. })
        ));
    }
}
