//! One ImagePolicy reconcile: select the latest tag, then reflect its digest
//! (Flux IRC `imagepolicy_controller.go`, flux-spec 2.1 and 2.6).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use imageautomation_model::policy_options::{Platform, PolicyOptions};
use imageautomation_policy::{RejectReason, TagSelector};
use imageautomation_registry::ImageMetadata;
use imageautomation_update::LatestRef;

use super::ReconcileError;
use crate::{DigestRequest, Scheduler, TagSource};

pub use imageautomation_model::DigestReflectionPolicy;

/// Image metadata known per manifest digest (`sha256:...`), kept across runs (the Pulumi
/// output `tagMetadata`): a digest's content never changes.
pub type MetadataCache = BTreeMap<String, ImageMetadata>;

/// How far down the ranking `minimumAge` and `platforms` look for a qualifying tag: each look
/// costs a `HEAD` and, for a digest not in the cache, 2 or 3 `GET`s.
pub const MAX_CANDIDATES_CHECKED: usize = 20;

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
    /// `minimumAge`, `platforms` and `hold` (`downgrade` is the automation's).
    pub options: &'a PolicyOptions,
    /// Metadata of earlier runs, per digest.
    pub known_metadata: &'a MetadataCache,
    /// The time image ages are measured at.
    pub now: DateTime<Utc>,
}

/// Flux `ImagePolicy.status` after a selection, and what our options did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyStatus {
    /// `status.latestRef`.
    pub latest_ref: LatestRef,
    /// `status.observedPreviousRef`: the previous `latestRef` once it changed.
    pub observed_previous_ref: Option<LatestRef>,
    /// `hold` kept the previous `latestRef`; nothing was selected.
    pub held: bool,
    /// Better-ranked tags that `minimumAge` or `platforms` passed over, best first, with the
    /// reason ("younger than minimumAge 24h: created 2h ago", "lacks linux/arm64").
    pub passed_over: Vec<PassedOver>,
    /// The metadata looked at in this selection, per digest: what to keep for the next one.
    pub metadata: MetadataCache,
}

/// A tag the policy ranked above the selected one, and why it was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedOver {
    /// The tag.
    pub tag: String,
    /// Why.
    pub reason: String,
}

/// Selects the latest tag and reflects its digest per `digest_reflection`; a digest lookup
/// goes through the scheduler (retries, per-registry bound).
///
/// Our options: with `hold` and a previous `latestRef`, that is kept and nothing is read.
/// With `minimumAge` or `platforms`, the candidates are checked best first, reading each one's
/// metadata (cached per digest in `known_metadata`), until one qualifies; at most
/// [`MAX_CANDIDATES_CHECKED`] are checked, so a repository's other tags cost nothing.
///
/// # Errors
/// [`ReconcileError::NoTagSelected`] with the reasons tag by tag (as
/// `imageautomation select --explain` gives them); [`ReconcileError::Registry`]
/// when a digest or metadata cannot be read.
pub async fn select_image<S: TagSource>(
    scheduler: &Scheduler<S>,
    request: PolicyRequest<'_>,
) -> Result<PolicyStatus, ReconcileError> {
    let previous = request.previous;
    if request.options.hold
        && let Some(previous) = previous
    {
        return Ok(PolicyStatus {
            latest_ref: previous.clone(),
            observed_previous_ref: request.previous_observed.cloned(),
            held: true,
            passed_over: Vec::new(),
            metadata: MetadataCache::new(),
        });
    }
    let mut walk = Walk::default();
    let (tag, known_digest) = if request.options.needs_metadata() {
        walk.run(scheduler, &request).await?
    } else {
        match request.selector.select_latest(request.tags) {
            Ok(tag) => (tag, None),
            Err(e) if e.is_invalid_policy() => return Err(ReconcileError::InvalidPolicy(e)),
            Err(e) => {
                return Err(ReconcileError::NoTagSelected {
                    message: explain_no_tag(request.selector, request.tags, &e),
                });
            }
        }
    };
    let same_tag = previous.is_some_and(|p| p.name == request.image && p.tag == tag);
    let digest = match (request.digest_reflection, known_digest) {
        (DigestReflectionPolicy::Never, _) => String::new(),
        // Read moments ago by the walk: as fresh as another HEAD would be.
        (_, Some(digest)) => digest,
        (DigestReflectionPolicy::IfNotPresent, None) if same_tag => {
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
        held: false,
        passed_over: walk.passed_over,
        metadata: walk.metadata,
    })
}

/// The candidate walk of `minimumAge` and `platforms`.
#[derive(Default)]
struct Walk {
    passed_over: Vec<PassedOver>,
    metadata: MetadataCache,
}

impl Walk {
    /// The first candidate that qualifies, with its digest.
    async fn run<S: TagSource>(
        &mut self,
        scheduler: &Scheduler<S>,
        request: &PolicyRequest<'_>,
    ) -> Result<(String, Option<String>), ReconcileError> {
        let selection = request.selector.explain(request.tags);
        if let Err(e) = &selection.result {
            if e.is_invalid_policy() {
                return Err(ReconcileError::InvalidPolicy(e.clone()));
            }
            return Err(ReconcileError::NoTagSelected {
                message: explain_no_tag(request.selector, request.tags, e),
            });
        }
        for candidate in selection.candidates.iter().take(MAX_CANDIDATES_CHECKED) {
            let mut access = request.digest_access.clone();
            access.tag = candidate.tag.clone();
            let digest = scheduler.digest(&access).await?;
            let known =
                (request.known_metadata.get(&digest)).or_else(|| self.metadata.get(&digest));
            let metadata = match known {
                Some(known) => known.clone(),
                None => scheduler.metadata(&access, &digest).await?,
            };
            let reason = disqualification(request.options, &metadata, request.now);
            self.metadata.insert(digest.clone(), metadata);
            match reason {
                None => return Ok((candidate.tag.clone(), Some(digest))),
                Some(reason) => self.passed_over.push(PassedOver {
                    tag: candidate.tag.clone(),
                    reason,
                }),
            }
        }
        let mut message = format!(
            "no tag selected: none of the {} best candidate(s) qualifies",
            self.passed_over.len()
        );
        if selection.candidates.len() > MAX_CANDIDATES_CHECKED {
            message.push_str(&format!(
                " ({} more not checked: at most {MAX_CANDIDATES_CHECKED} are)",
                selection.candidates.len() - MAX_CANDIDATES_CHECKED
            ));
        }
        for p in &self.passed_over {
            message.push_str(&format!("\n  {}: {}", p.tag, p.reason));
        }
        Err(ReconcileError::NoTagSelected { message })
    }
}

/// Why an image with `metadata` is not a candidate under `options` at `now`, or `None`.
pub fn disqualification(
    options: &PolicyOptions,
    metadata: &ImageMetadata,
    now: DateTime<Utc>,
) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some(minimum) = options.minimum_age {
        let minimum_text = imageautomation_model::duration::format_go_duration(minimum);
        match metadata.created {
            None => reasons.push(format!(
                "age unknown (no {} annotation and no created time in its config), so minimumAge {minimum_text} cannot be checked",
                imageautomation_registry::CREATED_ANNOTATION
            )),
            Some(created) => {
                let age = (now - created).to_std().unwrap_or_default();
                if age < minimum {
                    reasons.push(format!(
                        "younger than minimumAge {minimum_text}: created {} ago",
                        ago(age)
                    ));
                }
            }
        }
    }
    let offered: Vec<Platform> = metadata
        .platforms
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let missing: Vec<String> = options
        .platforms
        .iter()
        .filter(|wanted| !offered.iter().any(|o| wanted.is_served_by(o)))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        reasons.push(format!("lacks {}", missing.join(", ")));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// `2h`, `3d`, `45m`, `10s`: the largest whole unit, as a reason reads best.
fn ago(age: std::time::Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..172_800 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
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
    fn disqualification_gives_the_age_and_the_missing_platforms() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let options = PolicyOptions::parse(
            Default::default(),
            Some("24h"),
            &["linux/amd64".into(), "linux/arm64".into()],
            false,
        )
        .expect("valid");
        let young = ImageMetadata {
            created: Some(now - chrono::Duration::hours(2)),
            platforms: vec!["linux/amd64".into()],
        };
        assert_eq!(
            disqualification(&options, &young, now).as_deref(),
            Some("younger than minimumAge 24h: created 2h ago; lacks linux/arm64")
        );
        let unknown = ImageMetadata {
            created: None,
            platforms: vec!["linux/amd64".into(), "linux/arm64/v8".into()],
        };
        let reason = disqualification(&options, &unknown, now).expect("age unknown");
        assert!(reason.starts_with("age unknown"), "{reason}");
        let ready = ImageMetadata {
            created: Some(now - chrono::Duration::days(3)),
            platforms: unknown.platforms.clone(),
        };
        assert_eq!(disqualification(&options, &ready, now), None);
    }

    #[test]
    fn digest_reflection_policy_parses_the_crd_spelling() {
        assert_eq!("".parse(), Ok(DigestReflectionPolicy::Never));
        assert_eq!("Always".parse(), Ok(DigestReflectionPolicy::Always));
        assert!("always".parse::<DigestReflectionPolicy>().is_err());
    }
}
