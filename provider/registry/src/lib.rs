//! `imageautomation-registry`: scanning an OCI registry for tags, as Flux's
//! image-reflector-controller does for an `ImageRepository`.
//!
//! One responsibility: turn `spec.image` plus credentials and TLS options into Flux's scan
//! result. [`ImageReference::parse`] validates the image like Flux (GGCR defaults, no scheme, no
//! tag); [`RegistryClient::list_tags`] lists every tag (authentication: anonymous, Basic, the
//! Bearer token flow; `Link` paging); [`ScanResult::new`] applies the [`ExclusionList`], sorts
//! in Flux's stored order (descending byte order) and computes the [`revision`] (decimal
//! Adler-32 of the JSON array, exactly what Flux's default Badger database reports, so
//! `lastScanResult.revision` matches a cluster's for the same tags); [`RegistryClient::digest`]
//! resolves a tag's digest for `digestReflectionPolicy`. [`scan`] does all of it in one call.
//!
//! [`RegistryClient::cloud_credentials`] logs in with a cloud identity for Flux's
//! `spec.provider` ([`Provider`]: `aws`, `azure`, `gcp`; see [`cloud`]), and registry traffic
//! goes through an explicit proxy ([`ProxyOptions`], Flux `spec.proxySecretRef`) or the
//! environment's (`HTTPS_PROXY`, `NO_PROXY`; see [`proxy`]).
//!
//! It deliberately knows nothing of scheduling, retries, intervals or caches (that is
//! `imageautomation-engine`), nor of tag selection policies, Kubernetes or Pulumi. Its one
//! [`Error`] type says whether a failure is transient ([`Error::is_transient`]).
//!
//! The wire protocol runs on `reqwest` rather than oci-client's `Client`; [`client`] says why.

pub mod client;
pub mod cloud;
mod credentials;
mod error;
mod metadata;
pub mod proxy;
mod reference;
mod scan;

pub use client::{ClientOptions, MANIFEST_ACCEPT, PAGE_SIZE, RegistryClient, TlsOptions};
pub use cloud::{CloudOptions, Provider};
pub use credentials::{Credentials, DockerConfig};
pub use error::{Error, Result};
pub use metadata::{CREATED_ANNOTATION, ImageMetadata};
pub use proxy::{EnvProxy, ProxyOptions};
pub use reference::{DOCKER_HUB, ImageReference};
pub use scan::{
    DEFAULT_EXCLUSION_LIST, ExclusionList, LATEST_TAGS_COUNT, LastScanResult, ScanResult, revision,
    sort_descending,
};

/// Lists the tags of `image` and builds the stored [`ScanResult`] (scan time: now).
///
/// # Errors
/// As [`RegistryClient::list_tags`].
pub async fn scan(
    client: &RegistryClient,
    image: &ImageReference,
    credentials: &Credentials,
    exclusion: &ExclusionList,
) -> Result<ScanResult> {
    let tags = client.list_tags(image, credentials).await?;
    Ok(ScanResult::new(
        image.canonical_name(),
        tags,
        exclusion,
        chrono::Utc::now(),
    ))
}

/// Entry points for the fuzz targets (`fuzz/`), built only with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::client::fuzzing::*;
}
