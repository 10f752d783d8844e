//! `imageautomation:index:ImageRepository` (doc: `image_repository.md`).
//!
//! The id is the image as written (`ghcr.io/stefanprodan/podinfo`), so
//! `pulumi import imageautomation:index:ImageRepository podinfo ghcr.io/stefanprodan/podinfo`
//! works with nothing else. Scans go through the embedded scheduler, at most
//! once per `interval`: the previous result travels in the resource's outputs.

use std::time::Duration;

use chrono::Utc;
use imageautomation_engine::reconcile::scan_image_repository;
use imageautomation_engine::{ScanRequest, parse_go_duration, proxy_options};
use imageautomation_proto::codec;
use imageautomation_registry::{ExclusionList, ImageReference, Provider, ScanResult};
use serde_json::{Value, json};

use imageautomation_model::args::ImageRepositoryArgs;
use secrecy::ExposeSecret;

use super::common::{
    Inputs, check_duration, check_identity, default_str, failure, op_error, registry_access,
    with_plain,
};
use super::{Ctx, OpError, ReadResult, Resource};
use crate::config::Failure;

/// Input paths holding secrets.
const SECRET_INPUTS: &[&str] = &[
    "credentials.password",
    "dockerConfigJson",
    "certificate.keyPem",
    "proxy.password",
];
/// Output paths holding secrets.
const SECRET_OUTPUTS: &[&str] = &[
    "credentials.password",
    "dockerConfigJson",
    "certificate.keyPem",
    "proxy.password",
    "imageRepositoryRef.credentials.password",
    "imageRepositoryRef.dockerConfigJson",
    "imageRepositoryRef.certificate.keyPem",
    "imageRepositoryRef.proxy.password",
];
/// The computed outputs.
const COMPUTED: &[&str] = &[
    "canonicalImageName",
    "tags",
    "lastScanResult",
    "observedExclusionList",
    "imageRepositoryRef",
];

/// The ImageRepository resource.
pub struct ImageRepository;

/// The previous scan, from outputs.
fn previous_scan(outputs: &Value) -> Option<ScanResult> {
    let (plain, _) = codec::reveal(outputs);
    let v = json!({
        "canonicalImageName": plain.get("canonicalImageName")?,
        "tags": plain.get("tags")?,
        "lastScanResult": plain.get("lastScanResult")?,
        "observedExclusionList": plain.get("observedExclusionList")?,
    });
    serde_json::from_value(v).ok()
}

impl ImageRepository {
    fn scan_request(&self, ctx: &Ctx, args: &ImageRepositoryArgs) -> Result<ScanRequest, OpError> {
        let image = args.image.clone().unwrap_or_default();
        let access = registry_access(ctx, &args.access(), &image)?;
        let duration = |key: &str, value: Option<&str>| {
            value
                .map(parse_go_duration)
                .transpose()
                .map_err(|e| OpError::InvalidArgument(format!("{key}: {e}")))
        };
        let mut request = ScanRequest::new(image);
        request.insecure = args.insecure;
        request.exclusion_list = args.exclusion_list.clone().filter(|l| !l.is_empty());
        request.credentials = access.credentials;
        request.tls = access.tls;
        request.proxy = access.proxy;
        request.provider = access.provider;
        request.interval =
            duration("interval", args.interval.as_deref())?.unwrap_or(Duration::from_secs(300));
        request.timeout = duration("timeout", args.timeout.as_deref())?;
        Ok(request)
    }

    /// Scans when due against `previous` and returns the outputs.
    async fn reconcile(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        previous: Option<ScanResult>,
    ) -> Result<Value, OpError> {
        let parsed = Inputs::<ImageRepositoryArgs>::of(inputs)?;
        if parsed.any_unknown() {
            // Preview with inputs that are not known yet: the scan results are not either.
            return Ok(outputs(inputs, None));
        }
        let args = parsed.args;
        let image = args.image.clone().unwrap_or_default();
        let scan = match previous {
            Some(previous) if args.suspend => std::sync::Arc::new(previous),
            previous => {
                let request = self.scan_request(ctx, &args)?;
                ctx.log.status(&ctx.urn, format!("scanning {image}")).await;
                let scan =
                    scan_image_repository(&ctx.scheduler, &request, previous.as_ref(), Utc::now())
                        .await
                        .map_err(op_error)?;
                if let Some(reason) = scan.scanned {
                    ctx.log
                        .status(
                            &ctx.urn,
                            format!(
                                "scanned {image} ({reason}): {} tags",
                                scan.result.tags.len()
                            ),
                        )
                        .await;
                } else {
                    // The interval has not passed: say so, not "scanning", last.
                    ctx.log
                        .status(
                            &ctx.urn,
                            format!(
                                "{image}: last scan still current ({} tags; interval not passed)",
                                scan.result.tags.len()
                            ),
                        )
                        .await;
                }
                scan.result
            }
        };
        Ok(outputs(inputs, Some(&scan)))
    }
}

/// Outputs: the inputs, the scan, and `imageRepositoryRef`; computed values
/// unknown when there is no scan (a preview with unknown inputs).
fn outputs(inputs: &Value, scan: Option<&ScanResult>) -> Value {
    with_plain(inputs, SECRET_OUTPUTS, |map| {
        let Some(scan) = scan else {
            for key in COMPUTED {
                map.insert((*key).to_owned(), Value::String(codec::UNKNOWN.to_owned()));
            }
            return;
        };
        let scan_json = serde_json::to_value(scan).unwrap_or_default();
        for key in [
            "canonicalImageName",
            "tags",
            "lastScanResult",
            "observedExclusionList",
        ] {
            map.insert(key.to_owned(), scan_json[key].clone());
        }
        // `latestTags` is omitted when empty in Flux's JSON; keep the schema's shape.
        if map["lastScanResult"].get("latestTags").is_none() {
            map["lastScanResult"]["latestTags"] = json!([]);
        }
        let mut reference = json!({
            "namespace": map.get("namespace").cloned().unwrap_or_default(),
            "name": map.get("name").cloned().unwrap_or_default(),
            "image": map.get("image").cloned().unwrap_or_default(),
            "canonicalImageName": scan.canonical_image_name,
            "insecure": map.get("insecure").cloned().unwrap_or(Value::Bool(false)),
            "revision": scan.last_scan_result.revision,
            "tags": scan.tags,
        });
        for key in [
            "timeout",
            "credentials",
            "dockerConfigJson",
            "certificate",
            "provider",
            "proxy",
        ] {
            if let Some(v) = map.get(key).filter(|v| !v.is_null()) {
                reference[key] = v.clone();
            }
        }
        map.insert("imageRepositoryRef".to_owned(), reference);
    })
}

#[tonic::async_trait]
impl Resource for ImageRepository {
    fn check(&self, ctx: &Ctx, _olds: &Value, news: &Value) -> (Value, Vec<Failure>) {
        let mut failures = Vec::new();
        let checked = with_plain(news, SECRET_INPUTS, |map| {
            default_str(map, "interval", "5m");
            default_str(map, "namespace", &ctx.config.flux_namespace);
            default_str(map, "name", &ctx.name);
        });
        let inputs = match Inputs::<ImageRepositoryArgs>::parse(&checked) {
            Ok(inputs) => inputs,
            Err(f) => return (checked, vec![f]),
        };
        let args = &inputs.args;
        match &args.image {
            None if !inputs.is_unknown("image") => failures.push(failure(
                "image",
                "image is required: the repository to scan, e.g. ghcr.io/stefanprodan/podinfo",
            )),
            Some(image) if !inputs.is_unknown("insecure") => {
                if let Err(e) = ImageReference::parse(image, args.insecure) {
                    failures.push(failure("image", e.to_string()));
                }
            }
            _ => {}
        }
        check_duration("interval", args.interval.as_deref(), &mut failures);
        check_duration("timeout", args.timeout.as_deref(), &mut failures);
        for (i, p) in args.exclusion_list.iter().flatten().enumerate() {
            if let Err(e) = ExclusionList::new(Some(std::slice::from_ref(p))) {
                let at = format!("exclusionList[{}]", inputs.index("exclusionList", i));
                failures.push(failure(at, e.to_string()));
            }
        }
        if let Some(credentials) = &args.credentials
            && !inputs.is_unknown("credentials")
        {
            let given = [
                ("username", credentials.username.is_some()),
                ("password", credentials.password.is_some()),
            ];
            for (key, _) in given.iter().filter(|(_, given)| !given) {
                failures.push(failure(
                    format!("credentials.{key}"),
                    format!("{key} is required with credentials"),
                ));
            }
        }
        if let Some(json) = &args.docker_config_json
            && let Err(e) = imageautomation_registry::DockerConfig::from_json(
                json.expose_secret().as_bytes(),
                "dockerConfigJson",
            )
        {
            failures.push(failure("dockerConfigJson", e.to_string()));
        }
        if let Some(provider) = &args.provider {
            match provider.parse::<Provider>() {
                Err(e) => failures.push(failure("provider", e.to_string())),
                Ok(p) => {
                    // Flux: the registry decides which provider may log in to it.
                    if let Some(Ok(image)) = args
                        .image
                        .as_deref()
                        .filter(|_| !inputs.is_unknown("insecure"))
                        .map(|i| ImageReference::parse(i, args.insecure))
                        && let Err(e) = p.check_registry(image.registry())
                    {
                        failures.push(failure("provider", e.to_string()));
                    }
                    if p.is_cloud()
                        && (args.credentials.is_some() || args.docker_config_json.is_some())
                    {
                        failures.push(failure(
                            "provider",
                            format!("with provider {p} the credentials come from the cloud's login; remove credentials and dockerConfigJson"),
                        ));
                    }
                }
            }
        }
        if let Some(Err(e)) = args.proxy.as_ref().map(proxy_options)
            && !inputs.is_unknown("proxy")
        {
            failures.push(failure("proxy", e));
        }
        check_identity(
            args.namespace.as_deref(),
            args.name.as_deref(),
            &mut failures,
        );
        (checked, failures)
    }

    fn replace_on(&self) -> &'static [&'static str] {
        &["image", "namespace", "name"]
    }

    fn secret_inputs(&self) -> &'static [&'static str] {
        SECRET_INPUTS
    }

    fn derived_outputs(&self) -> &'static [(&'static str, &'static [&'static str])] {
        &[(
            "image",
            &[
                "canonicalImageName",
                "tags",
                "lastScanResult",
                "imageRepositoryRef",
            ],
        )]
    }

    fn refresh_before_update(&self, inputs: &Value) -> bool {
        !Inputs::<ImageRepositoryArgs>::lenient(inputs).suspend
    }

    async fn create(
        &self,
        ctx: &Ctx,
        inputs: &Value,
        _preview: bool,
    ) -> Result<(String, Value), OpError> {
        // Scans are read-only and allowed in previews: that is how tags are resolved.
        let outputs = self.reconcile(ctx, inputs, None).await?;
        let id = Inputs::<ImageRepositoryArgs>::lenient(inputs)
            .image
            .unwrap_or_default();
        Ok((id, outputs))
    }

    async fn update(
        &self,
        ctx: &Ctx,
        _id: &str,
        olds: &Value,
        news: &Value,
        _preview: bool,
    ) -> Result<Value, OpError> {
        self.reconcile(ctx, news, previous_scan(olds)).await
    }

    async fn read(
        &self,
        ctx: &Ctx,
        id: &str,
        outputs: Option<&Value>,
        inputs: Option<&Value>,
    ) -> Result<ReadResult, OpError> {
        let inputs = match inputs {
            Some(inputs) => inputs.clone(),
            // Import: the id is the image; the rest takes its defaults.
            None => {
                let (checked, failures) = self.check(ctx, &json!({}), &json!({"image": id}));
                if let Some(f) = failures.first() {
                    return Err(OpError::InvalidArgument(format!(
                        "cannot import {id:?}: {}: {}",
                        f.property, f.reason
                    )));
                }
                checked
            }
        };
        let previous = outputs.and_then(previous_scan);
        let outputs = match (self.reconcile(ctx, &inputs, previous).await, outputs) {
            (Ok(fresh), _) => fresh,
            // As Flux keeps serving the last scan when the registry fails, a
            // refresh keeps it too: a registry that is down for a moment must
            // not fail every preview.
            (Err(e), Some(stored)) if e.is_transient() => {
                ctx.log
                    .warning(
                        &ctx.urn,
                        format!("kept the last scan, the registry failed: {e}"),
                    )
                    .await;
                stored.clone()
            }
            (Err(e), _) => return Err(e),
        };
        Ok(ReadResult {
            id: id.to_owned(),
            outputs,
            inputs,
        })
    }

    async fn delete(&self, _ctx: &Ctx, _id: &str, _outputs: &Value) -> Result<(), OpError> {
        // Nothing outside the stack to remove (cluster objects are not applied here).
        Ok(())
    }
}
