//! What an image says about itself: when it was built and which platforms it provides, read
//! from its manifest (or image index) and config, for the ImagePolicy options `minimumAge` and
//! `platforms` (an imageautomation addition; Flux reads no metadata).
//!
//! The documents are read with small serde structs of their own rather than oci-client's
//! `ConfigFile`, which requires fields (`rootfs`) that only the age and platforms do not need:
//! a registry's minimal config must not make a tag unreadable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The OCI annotation for the build time (OCI image-spec `annotations.md`).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// Build time and platforms of one manifest digest. Cached by callers per digest: a digest's
/// content never changes.
///
/// JSON shape (the Pulumi output `tagMetadata` stores it per digest):
/// `{"created": "2026-12-01T10:00:00Z", "platforms": ["linux/amd64", "linux/arm64"]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    /// The annotation [`CREATED_ANNOTATION`] of the manifest (or image index), else of the
    /// first platform's manifest, else the image config's `created`; `None` when none says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Each platform the image provides, `os/architecture[/variant]`, in manifest order: the
    /// index entries' `platform` (attestation entries, `unknown/unknown`, left out), or the
    /// config's `os`, `architecture` and `variant` for a single image.
    #[serde(default)]
    pub platforms: Vec<String>,
}

/// A manifest or image index, only the fields read here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManifestDoc {
    /// Present in an image index (or Docker manifest list).
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    /// Present in an image manifest.
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A content descriptor.
#[derive(Debug, Deserialize)]
pub(crate) struct Descriptor {
    pub digest: String,
    #[serde(default)]
    pub platform: Option<PlatformDoc>,
}

/// An index entry's `platform`.
#[derive(Debug, Deserialize)]
pub(crate) struct PlatformDoc {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image config, only the fields read here.
#[derive(Debug, Deserialize)]
pub(crate) struct ConfigDoc {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub variant: Option<String>,
}

impl ManifestDoc {
    /// The build time its annotations give.
    pub(crate) fn created(&self) -> Option<DateTime<Utc>> {
        self.annotations
            .get(CREATED_ANNOTATION)
            .and_then(|t| parse_time(t))
    }

    /// The platform entries of an index, attestations left out.
    pub(crate) fn platform_entries(&self) -> Vec<(&Descriptor, String)> {
        self.manifests
            .iter()
            .flatten()
            .filter_map(|d| {
                let p = d.platform.as_ref()?;
                if p.os.is_empty() || p.os == "unknown" || p.architecture == "unknown" {
                    return None;
                }
                Some((
                    d,
                    platform_string(&p.os, &p.architecture, p.variant.as_deref()),
                ))
            })
            .collect()
    }
}

impl ConfigDoc {
    /// `os/architecture[/variant]`, when the config names both.
    pub(crate) fn platform(&self) -> Option<String> {
        match (self.os.as_deref(), self.architecture.as_deref()) {
            (Some(os), Some(arch)) if !os.is_empty() && !arch.is_empty() => {
                Some(platform_string(os, arch, self.variant.as_deref()))
            }
            _ => None,
        }
    }

    /// `created`, when it is RFC 3339.
    pub(crate) fn created(&self) -> Option<DateTime<Utc>> {
        self.created.as_deref().and_then(parse_time)
    }
}

fn platform_string(os: &str, arch: &str, variant: Option<&str>) -> String {
    match variant.filter(|v| !v.is_empty()) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_platforms_skip_attestations_and_keep_variants() {
        let doc: ManifestDoc = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
                {"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
                {"digest":"sha256:b","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
                {"digest":"sha256:c","platform":{"os":"unknown","architecture":"unknown"}}],
              "annotations":{"org.opencontainers.image.created":"2026-12-01T10:00:00+01:00"}}"#,
        )
        .expect("valid");
        let platforms: Vec<String> = doc.platform_entries().into_iter().map(|(_, p)| p).collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
        assert_eq!(
            doc.created().map(|t| t.to_rfc3339()),
            Some("2026-12-01T09:00:00+00:00".into())
        );
    }

    #[test]
    fn a_minimal_config_reads_and_a_bad_time_is_unknown() {
        let config: ConfigDoc =
            serde_json::from_str(r#"{"architecture":"arm64","os":"linux","created":"yesterday"}"#)
                .expect("valid");
        assert_eq!(config.platform().as_deref(), Some("linux/arm64"));
        assert_eq!(config.created(), None);
    }
}
