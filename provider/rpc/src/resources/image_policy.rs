//! `imageautomation:index:ImagePolicy` (doc: `image_policy.md`).
//!
//! The id is the marker identity `namespace:name`. `latestRef` is computed
//! from public tags and stays plain even when `imageRepositoryRef` arrives as
//! one secret object (SDKs do that when any nested value is secret), so a
//! preview shows `"5.0.0" => "5.0.3"`.

use imageautomation_engine::DigestRequest;
use imageautomation_engine::reconcile::{
    DigestReflectionPolicy, MetadataCache, PolicyRequest, PolicyStatus, select_image,
};
use imageautomation_model::policy_options::{Downgrade, PolicyOptions};
use imageautomation_policy::{Error as PolicyError, TagSelector};
use imageautomation_proto::codec;
use imageautomation_proto::pulumirpc::property_diff::Kind;
use imageautomation_update::LatestRef;
use serde_json::{Value, json};

use imageautomation_model::args::ImagePolicyArgs;

use super::common::{
    Inputs, check_duration, check_identity, default_str, failure, op_error, registry_access,
    with_plain,
};
use super::{Ctx, OpError, ReadResult, Resource, diff_inputs};
use crate::config::Failure;

const SECRET_INPUTS: &[&str] = &[
    "imageRepositoryRef.credentials.password",
    "imageRepositoryRef.dockerConfigJson",
    "imageRepositoryRef.certificate.keyPem",
    "imageRepositoryRef.proxy.password",
];
const COMPUTED: &[&str] = &[
    "latestRef",
    "latestImage",
    "imagePolicyRef",
    "held",
    "passedOverTags",
];

/// The ImagePolicy resource.
pub struct ImagePolicy;

/// The property path of a policy validation error.
fn property_of(e: &PolicyError) -> String {
    match e {
        PolicyError::InvalidRange { .. } => "policy.semver.range".into(),
        PolicyError::InvalidOrder { policy, .. } => format!("policy.{policy}.order"),
        PolicyError::InvalidPattern { .. } => "filterTags.pattern".into(),
        _ => "policy".into(),
    }
}

fn latest_ref_of(v: Option<&Value>) -> Option<LatestRef> {
    v.filter(|v| v.is_object())
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Flux's JSON form of a reference: `digest` omitted when empty (`omitempty`), as Flux's
/// `status.latestRef` has it.
fn ref_json(r: &LatestRef) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

#[tonic::async_trait]
impl Resource for ImagePolicy {
    fn check(&self, ctx: &Ctx, _olds: &Value, news: &Value) -> (Value, Vec<Failure>) {
        let mut failures = Vec::new();
        let checked = with_plain(news, SECRET_INPUTS, |map| {
            default_str(map, "digestReflectionPolicy", "Never");
            default_str(map, "namespace", &ctx.config.flux_namespace);
            default_str(map, "name", &ctx.name);
        });
        let inputs = match Inputs::<ImagePolicyArgs>::parse(&checked) {
            Ok(inputs) => inputs,
            Err(f) => return (checked, vec![f]),
        };
        let args = &inputs.args;
        if args.image_repository_ref.is_none() && !inputs.is_unknown("imageRepositoryRef") {
            failures.push(failure(
                "imageRepositoryRef",
                "imageRepositoryRef is required: pass an ImageRepository's imageRepositoryRef output",
            ));
        }
        if !inputs.is_unknown("policy")
            && !inputs.is_unknown("filterTags")
            && let Err(e) = TagSelector::new(&args.selection())
        {
            failures.push(failure(property_of(&e), e.to_string()));
        }
        if args.digest_reflection_policy == DigestReflectionPolicy::Always
            && args.interval.is_none()
            && !inputs.is_unknown("interval")
        {
            failures.push(failure(
                "interval",
                "interval is required with digestReflectionPolicy Always (how often to check the digest), e.g. \"10m\"",
            ));
        }
        if let Err(e) = args.options() {
            let property = e.option.clone();
            failures.push(failure(property, e.message));
        }
        check_duration("interval", args.interval.as_deref(), &mut failures);
        check_identity(
            args.namespace.as_deref(),
            args.name.as_deref(),
            &mut failures,
        );
        (checked, failures)
    }

    /// A changed tag list shows as one line (`imageRepositoryRef.revision`),
    /// not as hundreds of shifted list entries.
    fn diff(&self, old_inputs: &Value, news: &Value) -> Vec<(String, Kind)> {
        let strip = |v: &Value| {
            let (mut plain, _) = codec::reveal(v);
            if let Some(r) = plain
                .get_mut("imageRepositoryRef")
                .and_then(Value::as_object_mut)
            {
                r.remove("tags");
            }
            plain
        };
        let mut entries = diff_inputs(&strip(old_inputs), &strip(news));
        let tags = |v: &Value| {
            codec::reveal(v)
                .0
                .pointer("/imageRepositoryRef/tags")
                .cloned()
        };
        let tags_changed = tags(old_inputs) != tags(news);
        if tags_changed
            && !entries
                .iter()
                .any(|(p, _)| p.starts_with("imageRepositoryRef.revision"))
        {
            entries.push(("imageRepositoryRef.tags".into(), Kind::Update));
        }
        entries
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["namespace", "name"]
    }

    fn secret_inputs(&self) -> &'static [&'static str] {
        SECRET_INPUTS
    }

    fn derived_outputs(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[
            ("imageRepositoryRef", &["latestRef", "latestImage"]),
            ("policy", &["latestRef", "latestImage"]),
            ("filterTags", &["latestRef", "latestImage"]),
            ("minimumAge", &["latestRef", "latestImage"]),
            ("platforms", &["latestRef", "latestImage"]),
            ("hold", &["latestRef", "latestImage"]),
            ("downgrade", &["imagePolicyRef"]),
        ]
    }

    /// `Always` tracks re-pushed tags; `minimumAge` lets a tag qualify as time passes, with no
    /// change of input.
    fn pending_change(&self, olds: &Value) -> Option<&'static str> {
        let (plain, _) = codec::reveal(olds);
        let pending = plain.get("pendingLatestRef")?;
        (Some(pending) != plain.get("latestRef")).then_some("latestRef")
    }

    fn refresh_before_update(&self, inputs: &Value) -> bool {
        let args = Inputs::<ImagePolicyArgs>::lenient(inputs);
        args.digest_reflection_policy == DigestReflectionPolicy::Always
            || (args.minimum_age.is_some() && !args.hold)
    }

    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        _preview: bool,
    ) -> Result<(String, Value), OpError> {
        let outputs = reconcile(ctx, inputs, &Value::Null, Announce::Yes).await?;
        Ok((identity(inputs), outputs))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        olds: &Value,
        news: &Value,
        _preview: bool,
    ) -> Result<Value, OpError> {
        reconcile(ctx, news, olds, Announce::Yes).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        outputs: Option<&Value>,
        inputs: Option<&Value>,
    ) -> Result<ReadResult, OpError> {
        let (Some(outputs), Some(inputs)) = (outputs, inputs) else {
            return Err(OpError::InvalidArgument(format!(
                "an ImagePolicy cannot be imported ({id:?}): declare it with the imageRepositoryRef of an ImageRepository instead"
            )));
        };
        // Only `Always` and `minimumAge` change without an input change. A new digest
        // (`Always`) is taken at once, as Flux does; a new tag is only recorded as
        // `pendingLatestRef`, for the update that follows to select under the new inputs
        // (a `hold` added in the same update keeps the old tag).
        let outputs = if self.refresh_before_update(inputs) {
            // Quiet: the update that follows reports what it selects (once, not twice).
            let refreshed = reconcile(ctx, inputs, outputs, Announce::No).await?;
            let tag = |v: &Value| codec::reveal(v).0.pointer("/latestRef/tag").cloned();
            if tag(&refreshed) == tag(outputs) {
                refreshed
            } else {
                let show = |t: Option<Value>| t.and_then(|t| t.as_str().map(str::to_owned));
                ctx.log
                    .status(
                        &ctx.urn,
                        format!(
                            "{} now selects {} (was {}): the update selects under the current inputs",
                            id,
                            show(tag(&refreshed)).unwrap_or_default(),
                            show(tag(outputs)).unwrap_or_default()
                        ),
                    )
                    .await;
                let mut kept = outputs.clone();
                if let (Value::Object(map), Some(pending)) = (
                    &mut kept,
                    codec::reveal(&refreshed).0.get("latestRef").cloned(),
                ) {
                    map.insert("pendingLatestRef".into(), pending);
                }
                kept
            }
        } else {
            outputs.clone()
        };
        Ok(ReadResult {
            id: id.to_owned(),
            outputs,
            inputs: inputs.clone(),
        })
    }

    async fn delete(&self, _ctx: &Ctx, _id: &str, _outputs: &Value) -> Result<(), OpError> {
        Ok(())
    }
}

fn identity(inputs: &Value) -> String {
    let args = Inputs::<ImagePolicyArgs>::lenient(inputs);
    format!(
        "{}:{}",
        args.namespace.unwrap_or_default(),
        args.name.unwrap_or_default()
    )
}

/// Whether a reconcile reports its selection as diagnostics (held, tags passed over, a new
/// latest tag): a refresh does not, as the update after it reports the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announce {
    Yes,
    No,
}

/// Selects the latest image for `inputs`, given the previous outputs `olds`.
async fn reconcile(
    ctx: &Ctx,
    inputs: &Value,
    olds: &Value,
    announce: Announce,
) -> Result<Value, OpError> {
    let parsed = Inputs::<ImagePolicyArgs>::of(inputs)?;
    if parsed.any_unknown() {
        return Ok(with_plain(inputs, SECRET_INPUTS, |map| {
            for key in COMPUTED {
                map.insert((*key).to_owned(), Value::String(codec::UNKNOWN.to_owned()));
            }
        }));
    }
    let args = parsed.args;
    let selector =
        TagSelector::new(&args.selection()).map_err(|e| OpError::InvalidArgument(e.to_string()))?;
    let options = args
        .options()
        .map_err(|e| OpError::InvalidArgument(e.to_string()))?;
    let reference = args.image_repository_ref.unwrap_or_default();
    let image = reference.image.clone().unwrap_or_default();
    let tags = reference.tags.clone();
    let digest_reflection = args.digest_reflection_policy;
    // Credentials (and the Docker config file) are only needed to read a digest or metadata.
    let access = match digest_reflection {
        DigestReflectionPolicy::Never if !options.needs_metadata() => Default::default(),
        _ => registry_access(ctx, &reference.access(), &image)?,
    };
    let digest_access = DigestRequest {
        image: image.clone(),
        insecure: reference.insecure,
        tag: String::new(),
        credentials: access.credentials,
        tls: access.tls,
        proxy: access.proxy,
        provider: access.provider,
        timeout: reference
            .timeout
            .as_deref()
            .and_then(|t| imageautomation_engine::parse_go_duration(t).ok()),
    };
    let (olds_plain, _) = codec::reveal(olds);
    let previous = latest_ref_of(olds_plain.get("latestRef"));
    let previous_observed = latest_ref_of(olds_plain.get("observedPreviousRef"));
    let known: MetadataCache = olds_plain
        .get("tagMetadata")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let status = select_image(
        &ctx.scheduler,
        PolicyRequest {
            selector: &selector,
            image: &image,
            tags: &tags,
            digest_reflection,
            digest_access,
            previous: previous.as_ref(),
            previous_observed: previous_observed.as_ref(),
            options: &options,
            known_metadata: &known,
            now: chrono::Utc::now(),
        },
    )
    .await
    .map_err(op_error)?;
    if announce == Announce::Yes {
        announce_selection(ctx, &image, &options, previous.as_ref(), &status).await;
    }
    // Held: the cache of the last selection stays for the next one.
    let metadata = if status.held { known } else { status.metadata };
    let latest = status.latest_ref;
    Ok(with_plain(inputs, SECRET_INPUTS, |map| {
        map.insert("latestRef".into(), ref_json(&latest));
        map.insert("latestImage".into(), Value::String(latest.full()));
        if let Some(observed) = &status.observed_previous_ref {
            map.insert("observedPreviousRef".into(), ref_json(observed));
        }
        map.insert("held".into(), Value::Bool(status.held));
        map.insert(
            "passedOverTags".into(),
            status
                .passed_over
                .iter()
                .map(|p| json!({"tag": p.tag, "reason": p.reason}))
                .collect(),
        );
        if !metadata.is_empty() {
            map.insert(
                "tagMetadata".into(),
                serde_json::to_value(&metadata).unwrap_or_default(),
            );
        }
        let mut policy_ref = json!({
            "namespace": map.get("namespace").cloned().unwrap_or_default(),
            "name": map.get("name").cloned().unwrap_or_default(),
            "latestRef": ref_json(&latest),
        });
        // What the automation needs to order tags for `downgrade: Deny`.
        if options.downgrade == Downgrade::Deny {
            policy_ref["downgrade"] = json!(Downgrade::Deny.as_str());
            for key in ["policy", "filterTags"] {
                if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
                    policy_ref[key] = v.clone();
                }
            }
        }
        map.insert("imagePolicyRef".into(), policy_ref);
    }))
}

/// The selection's diagnostics: a hold with nothing to keep, a hold, each tag passed over, and
/// a new latest tag.
async fn announce_selection(
    ctx: &Ctx,
    image: &str,
    options: &PolicyOptions,
    previous: Option<&LatestRef>,
    status: &PolicyStatus,
) {
    if options.hold && previous.is_none() {
        ctx.log
            .info(
                &ctx.urn,
                format!("{image}: hold: true, but there is no earlier latestRef to keep: selected as usual"),
            )
            .await;
    }
    if status.held {
        ctx.log
            .warning(
                &ctx.urn,
                format!(
                    "{image}: held at {} (hold: true): nothing selected",
                    status.latest_ref.tag
                ),
            )
            .await;
    }
    for p in &status.passed_over {
        ctx.log
            .info(
                &ctx.urn,
                format!("{image}: passed over {}: {}", p.tag, p.reason),
            )
            .await;
    }
    if let Some(before) = previous.filter(|p| **p != status.latest_ref) {
        ctx.log
            .info(
                &ctx.urn,
                format!(
                    "{image}: latest tag {} => {}",
                    before.tag, status.latest_ref.tag
                ),
            )
            .await;
    }
}
