//! The `ResourceProvider` gRPC service: protocol glue only. Resource behaviour
//! lives in `resources`; configuration in `config`; the wire codec in `codec`.
//! RPCs not listed here answer `Unimplemented` (generated default stubs).

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use imageautomation_engine::{Scheduler, SchedulerConfig};
use imageautomation_proto::pulumirpc::{
    CheckFailure, CheckRequest, CheckResponse, ConfigureRequest, ConfigureResponse, CreateRequest,
    CreateResponse, DeleteRequest, DiffRequest, DiffResponse, GetSchemaRequest, GetSchemaResponse,
    PluginInfo, ProviderHandshakeRequest, ProviderHandshakeResponse, ReadRequest, ReadResponse,
    UpdateRequest, UpdateResponse, diff_response::DiffChanges, property_diff::Kind,
    resource_provider_server::ResourceProvider,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::config::{self, Failure, ProviderConfig};
use crate::engine_log::EngineLog;
use crate::resources::{self, Ctx, OpError, Resource, cluster, keep_derived_secrets};
use crate::schema;
use imageautomation_proto::codec::{from_struct, to_struct};
use serde_json::Value;

/// The provider: configuration, the engine logger, and the cancellation token.
pub struct Provider {
    config: RwLock<Arc<ProviderConfig>>,
    log: Arc<EngineLog>,
    cancel: CancellationToken,
    scheduler: Arc<Scheduler>,
}

impl Provider {
    /// A provider that logs to the engine at `engine_address`.
    pub fn new(engine_address: Option<String>) -> Provider {
        Provider {
            config: RwLock::new(Arc::new(ProviderConfig {
                flux_namespace: config::DEFAULT_FLUX_NAMESPACE.to_owned(),
                ..ProviderConfig::default()
            })),
            log: Arc::new(EngineLog::new(engine_address)),
            cancel: CancellationToken::new(),
            scheduler: Arc::new(Scheduler::new(SchedulerConfig::default())),
        }
    }

    /// Cancelled by `Cancel` and on shutdown.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    fn ctx(&self, urn: &str, name: &str) -> Ctx {
        let config = self
            .config
            .read()
            .map(|c| Arc::clone(&c))
            .unwrap_or_default();
        Ctx {
            urn: urn.to_owned(),
            name: name.to_owned(),
            config,
            log: Arc::clone(&self.log),
            cancel: self.cancel.clone(),
            scheduler: Arc::clone(&self.scheduler),
        }
    }
}

fn resource(token: &str) -> Result<&'static dyn Resource, Status> {
    resources::for_token(token).ok_or_else(|| {
        Status::invalid_argument(format!(
            "unknown resource type {token:?}; this provider has {}, {} and {}",
            schema::IMAGE_REPOSITORY,
            schema::IMAGE_POLICY,
            schema::UPDATE_AUTOMATION
        ))
    })
}

fn failures(list: Vec<Failure>) -> Vec<CheckFailure> {
    list.into_iter()
        .map(|f| {
            // The CLI prints "property <path> value ... has a problem: <reason>"
            // (Pulumi step_generator.go issueCheckFailures): say the path once.
            let reason = match f.reason.strip_prefix(&format!("{}: ", f.property)) {
                Some(rest) if !f.property.is_empty() => rest.to_owned(),
                _ => f.reason,
            };
            CheckFailure {
                property: f.property,
                reason,
            }
        })
        .collect()
}

/// Runs `op` under the request's timeout (seconds; 0 = none) and the
/// cancellation token.
async fn bounded<T>(
    ctx: &Ctx,
    timeout_seconds: f64,
    op: impl Future<Output = Result<T, OpError>>,
) -> Result<T, OpError> {
    let op = async {
        tokio::select! {
            result = op => result,
            () = ctx.cancel.cancelled() => Err(OpError::Cancelled),
        }
    };
    if timeout_seconds > 0.0 && timeout_seconds.is_finite() {
        tokio::time::timeout(Duration::from_secs_f64(timeout_seconds), op)
            .await
            .unwrap_or_else(|_| {
                Err(OpError::DeadlineExceeded(format!(
                    "timed out after {timeout_seconds}s (customTimeouts)"
                )))
            })
    } else {
        op.await
    }
}

/// A `DiffResponse` from detailed entries; entries under `replace_on` become
/// `*_REPLACE` and their top-level names go to `replaces` (derived from the
/// paths, as pulumi-go-provider does).
fn diff_response(entries: &[(String, Kind)], replace_on: &[&str]) -> DiffResponse {
    let entries: Vec<(String, Kind)> = entries
        .iter()
        .map(|(path, kind)| {
            let replace = replace_on.contains(&resources::top_level(path).as_str());
            let kind = match (replace, kind) {
                (true, Kind::Add) => Kind::AddReplace,
                (true, Kind::Delete) => Kind::DeleteReplace,
                (true, Kind::Update) => Kind::UpdateReplace,
                (_, other) => *other,
            };
            (path.clone(), kind)
        })
        .collect();
    let mut diffs: Vec<String> = entries
        .iter()
        .map(|(p, _)| resources::top_level(p))
        .collect();
    diffs.sort();
    diffs.dedup();
    let mut replaces: Vec<String> = entries
        .iter()
        .filter(|(_, k)| {
            matches!(
                k,
                Kind::AddReplace | Kind::DeleteReplace | Kind::UpdateReplace
            )
        })
        .map(|(p, _)| resources::top_level(p))
        .collect();
    replaces.sort();
    replaces.dedup();
    DiffResponse {
        changes: if entries.is_empty() {
            DiffChanges::DiffNone
        } else {
            DiffChanges::DiffSome
        } as i32,
        diffs,
        replaces,
        detailed_diff: resources::detailed_diff(&entries),
        has_detailed_diff: true,
        ..DiffResponse::default()
    }
}

#[tonic::async_trait]
impl ResourceProvider for Provider {
    async fn handshake(
        &self,
        request: Request<ProviderHandshakeRequest>,
    ) -> Result<Response<ProviderHandshakeResponse>, Status> {
        self.log.set_address(&request.get_ref().engine_address);
        Ok(Response::new(ProviderHandshakeResponse {
            accept_secrets: true,
            accept_resources: true,
            accept_outputs: false,
            supports_autonaming_configuration: false,
            ..ProviderHandshakeResponse::default()
        }))
    }

    async fn get_plugin_info(&self, _: Request<()>) -> Result<Response<PluginInfo>, Status> {
        Ok(Response::new(PluginInfo {
            version: schema::VERSION.to_owned(),
        }))
    }

    async fn get_schema(
        &self,
        _: Request<GetSchemaRequest>,
    ) -> Result<Response<GetSchemaResponse>, Status> {
        Ok(Response::new(GetSchemaResponse {
            schema: schema::schema_text(),
        }))
    }

    async fn check_config(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let news = from_struct(request.get_ref().news.as_ref());
        let (inputs, problems) = config::check_config(&news);
        Ok(Response::new(CheckResponse {
            inputs: Some(to_struct(&inputs)),
            failures: failures(problems),
        }))
    }

    async fn diff_config(
        &self,
        request: Request<DiffRequest>,
    ) -> Result<Response<DiffResponse>, Status> {
        let r = request.get_ref();
        let olds = from_struct(r.old_inputs.as_ref().or(r.olds.as_ref()));
        let news = from_struct(r.news.as_ref());
        let entries: Vec<_> = config::changed_keys(&olds, &news)
            .into_iter()
            .map(|k| {
                (
                    k,
                    imageautomation_proto::pulumirpc::property_diff::Kind::Update,
                )
            })
            .collect();
        Ok(Response::new(diff_response(&entries, &[])))
    }

    async fn configure(
        &self,
        request: Request<ConfigureRequest>,
    ) -> Result<Response<ConfigureResponse>, Status> {
        let args = from_struct(request.get_ref().args.as_ref());
        let configured = config::configure(&args, std::env::var("GITHUB_TOKEN").ok())
            .map_err(Status::invalid_argument)?;
        if let Ok(mut c) = self.config.write() {
            *c = Arc::new(configured);
        }
        Ok(Response::new(ConfigureResponse {
            accept_secrets: true,
            supports_preview: true,
            accept_resources: true,
            accept_outputs: false,
            supports_autonaming_configuration: false,
        }))
    }

    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let (inputs, mut problems) = resource.check(
            &ctx,
            &from_struct(r.olds.as_ref()),
            &from_struct(r.news.as_ref()),
        );
        if problems.is_empty()
            && cluster::enabled(&ctx)
            && let Some(problem) = cluster::check(&ctx, &r.r#type, &inputs)
        {
            problems.push(problem);
        }
        Ok(Response::new(CheckResponse {
            inputs: Some(to_struct(&inputs)),
            failures: failures(problems),
        }))
    }

    async fn diff(&self, request: Request<DiffRequest>) -> Result<Response<DiffResponse>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let old_inputs = from_struct(r.old_inputs.as_ref());
        let news = from_struct(r.news.as_ref());
        let mut response = diff_response(&resource.diff(&old_inputs, &news), resource.replace_on());
        if response.changes == DiffChanges::DiffNone as i32
            && let Some(output) = resource.pending_change(&from_struct(r.olds.as_ref()))
        {
            // As for cluster drift below: no detailed diff, as `output` is not an input.
            response.changes = DiffChanges::DiffSome as i32;
            response.diffs = vec![output.to_owned()];
            response.detailed_diff.clear();
            response.has_detailed_diff = false;
        }
        if cluster::enabled(&ctx) {
            if !response.replaces.is_empty() {
                // The new objects have the old ones' names (a new image keeps the
                // ImageRepository's name): deleting the old resource after
                // creating the new one would delete the new objects.
                response.delete_before_replace = true;
            } else if response.changes == DiffChanges::DiffNone as i32
                && cluster::drifted(&ctx, &r.r#type, &from_struct(r.olds.as_ref()), &news)
            {
                // Drift (the refreshed `fluxObjects` output differs from what the
                // inputs render) or cluster mode newly on: the update re-applies.
                // Deliberately no detailedDiff: a `fluxObjects` path would be looked
                // up in the new *inputs*, where it does not exist, and the CLI would
                // render it as a deletion (engine guide, section (c)). With
                // `hasDetailedDiff: false` the CLI diffs old and new inputs itself
                // (nothing to show), the progress row says `[diff: ~fluxObjects]`,
                // and the update's diagnostics name each re-applied object.
                response.changes = DiffChanges::DiffSome as i32;
                response.diffs = vec![cluster::FLUX_OBJECTS.to_owned()];
                response.detailed_diff.clear();
                response.has_detailed_diff = false;
            }
        }
        Ok(Response::new(response))
    }

    async fn create(
        &self,
        request: Request<CreateRequest>,
    ) -> Result<Response<CreateResponse>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let inputs = from_struct(r.properties.as_ref());
        let (id, outputs) = bounded(&ctx, r.timeout, async {
            let (id, mut outputs) = resource.create(&ctx, &inputs, r.preview).await?;
            if cluster::enabled(&ctx) {
                let objects =
                    cluster::sync(&ctx, &r.r#type, &inputs, &Value::Null, r.preview).await?;
                cluster::set_output(&mut outputs, objects);
            }
            keep_derived_secrets(resource, &inputs, &mut outputs);
            Ok((id, outputs))
        })
        .await?;
        let refresh_before_update =
            resource.refresh_before_update(&inputs) || cluster::enabled(&ctx);
        Ok(Response::new(CreateResponse {
            id,
            properties: Some(to_struct(&outputs)),
            refresh_before_update,
        }))
    }

    async fn update(
        &self,
        request: Request<UpdateRequest>,
    ) -> Result<Response<UpdateResponse>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let olds = from_struct(r.olds.as_ref());
        let news = from_struct(r.news.as_ref());
        let outputs = bounded(&ctx, r.timeout, async {
            let mut outputs = resource
                .update(&ctx, &r.id, &olds, &news, r.preview)
                .await?;
            if cluster::enabled(&ctx) {
                let objects = cluster::sync(&ctx, &r.r#type, &news, &olds, r.preview).await?;
                cluster::set_output(&mut outputs, objects);
            }
            keep_derived_secrets(resource, &news, &mut outputs);
            Ok(outputs)
        })
        .await?;
        Ok(Response::new(UpdateResponse {
            properties: Some(to_struct(&outputs)),
            refresh_before_update: resource.refresh_before_update(&news) || cluster::enabled(&ctx),
        }))
    }

    async fn read(&self, request: Request<ReadRequest>) -> Result<Response<ReadResponse>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let outputs = r.properties.as_ref().map(|s| from_struct(Some(s)));
        let inputs = r.inputs.as_ref().map(|s| from_struct(Some(s)));
        let read = bounded(&ctx, r.timeout, async {
            let mut read = resource
                .read(&ctx, &r.id, outputs.as_ref(), inputs.as_ref())
                .await?;
            if !read.id.is_empty() && cluster::enabled(&ctx) {
                let objects = cluster::observe(&ctx, &r.r#type, &read.inputs).await?;
                cluster::set_output(&mut read.outputs, objects);
            }
            if !read.id.is_empty() {
                keep_derived_secrets(resource, &read.inputs, &mut read.outputs);
            }
            Ok(read)
        })
        .await?;
        let refresh_before_update = !read.id.is_empty()
            && (resource.refresh_before_update(&read.inputs) || cluster::enabled(&ctx));
        let gone = read.id.is_empty();
        Ok(Response::new(ReadResponse {
            id: read.id,
            properties: (!gone).then(|| to_struct(&read.outputs)),
            inputs: (!gone).then(|| to_struct(&read.inputs)),
            refresh_before_update,
        }))
    }

    async fn delete(&self, request: Request<DeleteRequest>) -> Result<Response<()>, Status> {
        let r = request.get_ref();
        let resource = resource(&r.r#type)?;
        let ctx = self.ctx(&r.urn, &r.name);
        let outputs = from_struct(r.properties.as_ref());
        bounded(&ctx, r.timeout, async {
            if cluster::enabled(&ctx) {
                cluster::remove(&ctx, &outputs).await?;
            } else if outputs.get(cluster::FLUX_OBJECTS).is_some_and(Value::is_array) {
                ctx.log
                    .warning(
                        &ctx.urn,
                        "cluster mode is off (imageautomation:kubernetes): the Flux objects this resource applied stay in the cluster".into(),
                    )
                    .await;
            }
            resource.delete(&ctx, &r.id, &outputs).await
        })
        .await?;
        Ok(Response::new(()))
    }

    async fn cancel(&self, _: Request<()>) -> Result<Response<()>, Status> {
        self.cancel.cancel();
        Ok(Response::new(()))
    }
}
