//! One ImagePolicy reconcile: select the latest tag, then reflect its digest
//! (Flux IRC `imagepolicy_controller.go`, flux-spec 2.1 and 2.6).

use std::collections::BTreeMap;

use imageautomation_policy::{RejectReason, TagSelector};
use imageautomation_update::LatestRef;

use super::ReconcileError;
use crate::{DigestRequest, Scheduler, TagSource};

pub use imageautomation_model::DigestReflectionPolicy;

/// The inputs of one selection.
#[derive(Debug, Clone)]
pub struct PolicyRequest<'a> {
    /// The compiled policy.
    pub selector: &'a TagSelector,
    /// The ImageRepository's `spec.image` as written: `latestRef.name`.
    pub image: &'a str,
    /// The stored tags of the repository.
    pub tags: &'a [String],
    /// `spec.digestReflectionPolicy`.
    pub digest_reflection: DigestReflectionPolicy,
    /// How to reach the registry for a digest (its `tag` is filled in here).
    pub digest_access: DigestRequest,
    /// `status.latestRef` of the previous run.
    pub previous: Option<&'a LatestRef>,
    /// `status.observedPreviousRef` of the previous run.
    pub previous_observed: Option<&'a LatestRef>,
}

/// Flux `ImagePolicy.status` after a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// `status.latestRef`.
    pub latest_ref: LatestRef,
    /// `status.observedPreviousRef`: the previous `latestRef` once it changed.
    pub observed_previous_ref: Option<LatestRef>,
}

/// Selects the latest tag and reflects its digest per
/// `digest_reflection`; a digest lookup goes through the scheduler (retries,
/// per-registry bound).
///
/// # Errors
/// [`ReconcileError::NoTagSelected`] with the reasons tag by tag (as
/// `imageautomation select --explain` gives them); [`ReconcileError::Registry`]
/// when the digest cannot be read.
pub async fn select_image<S: TagSource>(
    scheduler: &Scheduler<S>,
    request: PolicyRequest<'_>,
) -> Result<PolicyStatus, ReconcileError> {
    let tag = match request.selector.select_latest(request.tags) {
        Ok(tag) => tag,
        Err(e) if e.is_invalid_policy() => return Err(ReconcileError::InvalidPolicy(e)),
        Err(e) => {
            return Err(ReconcileError::NoTagSelected {
                message: explain_no_tag(request.selector, request.tags, &e),
            });
        }
    };
    let previous = request.previous;
    let same_tag = previous.is_some_and(|p| p.name == request.image && p.tag == tag);
    let digest = match request.digest_reflection {
        DigestReflectionPolicy::Never => String::new(),
        DigestReflectionPolicy::IfNotPresent if same_tag => {
            match previous.map(|p| p.digest.clone()).filter(|d| !d.is_empty()) {
                Some(kept) => kept,
                None => digest_of(scheduler, &request.digest_access, &tag).await?,
            }
        }
        _ => digest_of(scheduler, &request.digest_access, &tag).await?,
    };
    let latest_ref = LatestRef {
        name: request.image.to_owned(),
        tag,
        digest,
    };
    let observed_previous_ref = match previous {
        Some(p) if *p != latest_ref => Some(p.clone()),
        _ => request.previous_observed.cloned(),
    };
    Ok(PolicyStatus {
        latest_ref,
        observed_previous_ref,
    })
}

async fn digest_of<S: TagSource>(
    scheduler: &Scheduler<S>,
    access: &DigestRequest,
    tag: &str,
) -> Result<String, ReconcileError> {
    let mut request = access.clone();
    request.tag = tag.to_owned();
    Ok(scheduler.digest(&request).await?)
}

/// The error, then the rejected tags grouped by reason (at most 5 tags named
/// per reason), so that "why was my tag not picked?" is answered in place.
fn explain_no_tag(
    selector: &TagSelector,
    tags: &[String],
    error: &imageautomation_policy::Error,
) -> String {
    let selection = selector.explain(tags);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rejection in &selection.rejected {
        let reason = match &rejection.reason {
            RejectReason::LostTo(_) | RejectReason::SameKeyAs(_) => continue,
            other => other.to_string(),
        };
        groups
            .entry(reason)
            .or_default()
            .push(rejection.tag.clone());
    }
    let mut message = error.to_string();
    for (reason, tags) in groups {
        let shown: Vec<&str> = tags.iter().take(5).map(String::as_str).collect();
        let more = tags.len().saturating_sub(shown.len());
        message.push_str(&format!("\n  {reason}: {}", shown.join(", ")));
        if more > 0 {
            message.push_str(&format!(" and {more} more"));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use imageautomation_policy::{ImagePolicySpec, PolicyChoice, SemVerPolicy};

    fn selector(range: &str) -> TagSelector {
        TagSelector::new(&ImagePolicySpec {
            policy: PolicyChoice {
                semver: Some(SemVerPolicy {
                    range: range.into(),
                }),
                ..Default::default()
            },
            filter_tags: None,
        })
        .expect("valid range")
    }

    #[test]
    fn no_tag_selected_says_why_per_reason() {
        let tags: Vec<String> = ["5.1.0", "latest", "5.0.1-rc.1"].map(String::from).to_vec();
        let s = selector("5.0.x");
        let e = s.select_latest(&tags).expect_err("nothing in 5.0.x");
        let message = explain_no_tag(&s, &tags, &e);
        assert!(message.starts_with("no tag selected"), "{message}");
        assert!(message.contains("outside the range: 5.1.0"), "{message}");
        assert!(
            message.contains("not three dot-separated parts"),
            "{message}"
        );
        assert!(
            message.contains("prerelease excluded by the range"),
            "{message}"
        );
    }

    #[test]
    fn digest_reflection_policy_parses_the_crd_spelling() {
        assert_eq!("".parse(), Ok(DigestReflectionPolicy::Never));
        assert_eq!("Always".parse(), Ok(DigestReflectionPolicy::Always));
        assert!("always".parse::<DigestReflectionPolicy>().is_err());
    }
}
