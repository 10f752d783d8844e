//! An engine harness: drives the built `pulumi-resource-imageautomation` the way
//! the Pulumi engine does (Pulumi `pkg/resource/plugin/plugin.go` and
//! `provider_plugin.go`; notes in the engine guide, sections (a) and (b)).
//!
//! It launches the binary with the address of its own `Engine` service (which
//! records every `Log` call), reads the port from the plugin's stdout, connects,
//! and offers the RPCs with JSON property values. Sequences such as preview,
//! up, refresh, import and destroy are composed by the tests from these calls,
//! as pulumi-go-provider's `LifeCycleTest` does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imageautomation_proto::codec::{from_struct, to_struct};
use imageautomation_proto::pulumirpc::{
    CheckRequest, ConfigureRequest, CreateRequest, DeleteRequest, DiffRequest, DiffResponse,
    GetSchemaRequest, LogRequest, ProviderHandshakeRequest, ReadRequest, UpdateRequest,
    engine_server::{Engine, EngineServer},
    resource_provider_client::ResourceProviderClient,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

/// The plugin binary built by `cargo test --workspace` (target/<profile>/).
pub fn plugin_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/<profile>/deps/<test> -> target/<profile>/pulumi-resource-imageautomation
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let binary = dir.join("pulumi-resource-imageautomation");
    let release = if dir.ends_with("release") {
        " --release"
    } else {
        ""
    };
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build{release} -p pulumi-resource-imageautomation` first (`cargo test --workspace` builds it)",
        binary.display()
    );
    binary
}

/// The `Engine` service of the harness: records `Log` calls.
#[derive(Clone, Default)]
struct RecordingEngine {
    logs: Arc<Mutex<Vec<LogRequest>>>,
}

#[tonic::async_trait]
impl Engine for RecordingEngine {
    async fn log(
        &self,
        request: tonic::Request<LogRequest>,
    ) -> Result<tonic::Response<()>, tonic::Status> {
        self.logs
            .lock()
            .expect("log lock")
            .push(request.into_inner());
        Ok(tonic::Response::new(()))
    }
}

/// A running plugin and the harness's engine.
pub struct Plugin {
    child: Child,
    /// The `ResourceProvider` client.
    pub client: ResourceProviderClient<Channel>,
    logs: Arc<Mutex<Vec<LogRequest>>>,
    output: Arc<Mutex<String>>,
    /// The tasks reading stdout and stderr to their end.
    readers: Vec<tokio::task::JoinHandle<()>>,
    engine_task: tokio::task::JoinHandle<()>,
}

/// One resource's identity in requests.
#[derive(Debug, Clone)]
pub struct Urn {
    /// The resource type token.
    pub token: String,
    /// The resource name.
    pub name: String,
}

impl Urn {
    /// `urn:pulumi:test::project::<token>::<name>`.
    pub fn new(token: &str, name: &str) -> Urn {
        Urn {
            token: token.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The URN string.
    pub fn urn(&self) -> String {
        format!("urn:pulumi:test::project::{}::{}", self.token, self.name)
    }
}

impl Plugin {
    /// Launches the plugin as the engine does, with `env` added to its
    /// environment, and performs `Handshake` and `GetPluginInfo`.
    pub async fn start(env: &[(&str, &str)]) -> Plugin {
        let engine = RecordingEngine::default();
        let logs = Arc::clone(&engine.logs);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the engine");
        let engine_address = listener.local_addr().expect("engine address").to_string();
        let engine_task = tokio::spawn(async move {
            use tokio_stream::StreamExt;
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|stream| {
                if let Ok(stream) = &stream {
                    let _ = stream.set_nodelay(true);
                }
                stream
            });
            let _ = tonic::transport::Server::builder()
                .add_service(EngineServer::new(engine))
                .serve_with_incoming(incoming)
                .await;
        });

        let mut command = Command::new(plugin_binary());
        command
            .arg(&engine_address)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the plugin starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
            .await
            .expect("the plugin prints its port within 10 s")
            .expect("stdout is readable");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("port line, got {line:?}"));

        // Keep whatever else the plugin prints, for the secret grep.
        let output = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let streams: [Box<dyn tokio::io::AsyncRead + Unpin + Send>; 2] =
            [Box::new(stdout), Box::new(stderr)];
        let readers = streams
            .into_iter()
            .map(|mut stream| {
                let output = Arc::clone(&output);
                tokio::spawn(async move {
                    let mut text = String::new();
                    let _ = stream.read_to_string(&mut text).await;
                    output.lock().expect("output lock").push_str(&text);
                })
            })
            .collect();

        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("the plugin accepts a connection");
        let mut client = ResourceProviderClient::new(channel)
            .max_decoding_message_size(400 * 1024 * 1024)
            .max_encoding_message_size(400 * 1024 * 1024);
        let handshake = client
            .handshake(ProviderHandshakeRequest {
                engine_address: engine_address.clone(),
                root_directory: Some(".".into()),
                program_directory: Some(".".into()),
                configure_with_urn: true,
                supports_views: true,
                supports_refresh_before_update: true,
                invoke_with_preview: true,
                ..Default::default()
            })
            .await
            .expect("Handshake succeeds")
            .into_inner();
        assert!(handshake.accept_secrets && handshake.accept_resources);
        client
            .get_plugin_info(())
            .await
            .expect("GetPluginInfo succeeds");
        Plugin {
            child,
            client,
            logs,
            output,
            readers,
            engine_task,
        }
    }

    /// `CheckConfig` then `Configure`, as for a default provider whose stack
    /// config is `config` (values as the engine sends them).
    pub async fn configure(&mut self, config: Value) -> Result<Value, tonic::Status> {
        let checked = self
            .client
            .check_config(CheckRequest {
                urn: "urn:pulumi:test::project::pulumi:providers:imageautomation::default".into(),
                name: "default".into(),
                r#type: "pulumi:providers:imageautomation".into(),
                news: Some(to_struct(&config)),
                ..Default::default()
            })
            .await?
            .into_inner();
        assert!(
            checked.failures.is_empty(),
            "config failures: {:?}",
            checked.failures
        );
        let inputs = from_struct(checked.inputs.as_ref());
        self.client
            .configure(ConfigureRequest {
                args: Some(to_struct(&inputs)),
                accept_secrets: true,
                accept_resources: true,
                ..Default::default()
            })
            .await?;
        Ok(inputs)
    }

    /// `GetSchema`.
    pub async fn schema(&mut self) -> String {
        self.client
            .get_schema(GetSchemaRequest::default())
            .await
            .expect("GetSchema succeeds")
            .into_inner()
            .schema
    }

    /// `Check`: the checked inputs, or the failures as `(property, reason)`.
    pub async fn check(
        &mut self,
        urn: &Urn,
        olds: &Value,
        news: &Value,
    ) -> Result<Result<Value, Vec<(String, String)>>, tonic::Status> {
        let response = self
            .client
            .check(CheckRequest {
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                olds: Some(to_struct(olds)),
                news: Some(to_struct(news)),
                random_seed: vec![0; 32],
                ..Default::default()
            })
            .await?
            .into_inner();
        if response.failures.is_empty() {
            Ok(Ok(from_struct(response.inputs.as_ref())))
        } else {
            Ok(Err(response
                .failures
                .into_iter()
                .map(|f| (f.property, f.reason))
                .collect()))
        }
    }

    /// `Diff` of old outputs and inputs against new checked inputs.
    pub async fn diff(
        &mut self,
        urn: &Urn,
        id: &str,
        olds: &Value,
        old_inputs: &Value,
        news: &Value,
    ) -> Result<DiffResponse, tonic::Status> {
        Ok(self
            .client
            .diff(DiffRequest {
                id: id.into(),
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                olds: Some(to_struct(olds)),
                old_inputs: Some(to_struct(old_inputs)),
                news: Some(to_struct(news)),
                ..Default::default()
            })
            .await?
            .into_inner())
    }

    /// `Create`: `(id, outputs, refresh_before_update)`.
    pub async fn create(
        &mut self,
        urn: &Urn,
        inputs: &Value,
        preview: bool,
    ) -> Result<(String, Value, bool), tonic::Status> {
        let r = self
            .client
            .create(CreateRequest {
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                properties: Some(to_struct(inputs)),
                preview,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok((
            r.id,
            from_struct(r.properties.as_ref()),
            r.refresh_before_update,
        ))
    }

    /// `Update`: the new outputs.
    pub async fn update(
        &mut self,
        urn: &Urn,
        id: &str,
        olds: &Value,
        old_inputs: &Value,
        news: &Value,
        preview: bool,
    ) -> Result<Value, tonic::Status> {
        let r = self
            .client
            .update(UpdateRequest {
                id: id.into(),
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                olds: Some(to_struct(olds)),
                old_inputs: Some(to_struct(old_inputs)),
                news: Some(to_struct(news)),
                preview,
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(from_struct(r.properties.as_ref()))
    }

    /// `Read`: `(id, outputs, inputs)`; `id` is empty when the resource is gone.
    pub async fn read(
        &mut self,
        urn: &Urn,
        id: &str,
        outputs: Option<&Value>,
        inputs: Option<&Value>,
    ) -> Result<(String, Value, Value), tonic::Status> {
        let r = self
            .client
            .read(ReadRequest {
                id: id.into(),
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                properties: outputs.map(to_struct),
                inputs: inputs.map(to_struct),
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok((
            r.id,
            from_struct(r.properties.as_ref()),
            from_struct(r.inputs.as_ref()),
        ))
    }

    /// `Delete`.
    pub async fn delete(
        &mut self,
        urn: &Urn,
        id: &str,
        outputs: &Value,
    ) -> Result<(), tonic::Status> {
        self.client
            .delete(DeleteRequest {
                id: id.into(),
                urn: urn.urn(),
                name: urn.name.clone(),
                r#type: urn.token.clone(),
                properties: Some(to_struct(outputs)),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    /// Every `Log` the plugin sent so far.
    pub fn logs(&self) -> Vec<LogRequest> {
        self.logs.lock().expect("log lock").clone()
    }

    /// The persistent (non-ephemeral) diagnostics on `urn`.
    pub fn diagnostics(&self, urn: &Urn) -> Vec<String> {
        let urn = urn.urn();
        self.logs()
            .into_iter()
            .filter(|l| l.urn == urn && !l.ephemeral)
            .map(|l| l.message)
            .collect()
    }

    /// Shuts the plugin down as the engine does (`Cancel`, close, SIGINT) and
    /// returns its exit status and everything it printed after the port.
    pub async fn stop(mut self) -> (ExitStatus, String) {
        let _ = self.client.cancel(()).await;
        drop(self.client);
        if let Some(pid) = self.child.id() {
            // SIGINT to the plugin, as the engine sends it to the process group.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        let status = tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .expect("the plugin exits within 5 s of Cancel and SIGINT")
            .expect("wait for the plugin");
        self.engine_task.abort();
        // The readers end at the pipes' end of file: all the output is in before the grep.
        for reader in self.readers {
            tokio::time::timeout(Duration::from_secs(5), reader)
                .await
                .expect("the plugin's stdout and stderr close when it exits")
                .expect("the reader task ends");
        }
        let output = self.output.lock().expect("output lock").clone();
        (status, output)
    }
}

/// Everything the plugin returned or logged, as one text, for the secret grep.
pub fn all_text(values: &[&Value], logs: &[LogRequest], output: &str) -> String {
    let mut text = String::from(output);
    for v in values {
        text.push_str(&v.to_string());
    }
    for l in logs {
        text.push_str(&l.message);
    }
    text
}

/// The detailed diff of a `DiffResponse`: path -> kind name.
pub fn detailed(diff: &DiffResponse) -> HashMap<String, i32> {
    diff.detailed_diff
        .iter()
        .map(|(k, v)| (k.clone(), v.kind))
        .collect()
}

/// A resource as the engine keeps it in state.
#[derive(Debug, Clone)]
pub struct ResourceState {
    /// The id from `Create`.
    pub id: String,
    /// The checked inputs.
    pub inputs: Value,
    /// The outputs.
    pub outputs: Value,
    /// Whether the last `Create`/`Update`/`Read` asked for refresh before update.
    pub refresh_before_update: bool,
}

/// What one resource did in a deployment.
#[derive(Debug, Clone)]
pub enum Step {
    /// `Create` ran.
    Create,
    /// `Diff` said `DIFF_SOME` and `Update` ran; the diff is kept.
    Update(DiffResponse),
    /// `Diff` said `DIFF_NONE`.
    Same,
}

/// The state of a stack: resource name -> state.
pub type StackState = std::collections::BTreeMap<String, ResourceState>;

/// Produces a resource's program inputs from the resources before it.
pub type Inputs = Box<dyn Fn(&StackState) -> Value + Send + Sync>;

impl Plugin {
    /// Refresh-before-update (Pulumi `deploymentExecutor.refresh`): `Read` each
    /// resource that asked for it and take its outputs and inputs.
    pub async fn refresh_before_update(
        &mut self,
        program: &[(Urn, Inputs)],
        state: &mut StackState,
    ) -> Result<(), tonic::Status> {
        for (urn, _) in program {
            let Some(resource) = state.get(&urn.name).cloned() else {
                continue;
            };
            if !resource.refresh_before_update {
                continue;
            }
            let (id, outputs, inputs) = self
                .read(
                    urn,
                    &resource.id,
                    Some(&resource.outputs),
                    Some(&resource.inputs),
                )
                .await?;
            state.insert(
                urn.name.clone(),
                ResourceState {
                    id,
                    inputs,
                    outputs,
                    refresh_before_update: true,
                },
            );
        }
        Ok(())
    }

    /// Runs the program's resources in order as the engine's step generator
    /// does (Check, then Create, or Diff and Update when `DIFF_SOME`), after a
    /// refresh-before-update. `state` is updated in place (a caller doing a
    /// preview passes a copy). Returns each resource's step.
    pub async fn deploy(
        &mut self,
        program: &[(Urn, Inputs)],
        state: &mut StackState,
        preview: bool,
    ) -> Result<Vec<(String, Step)>, tonic::Status> {
        self.refresh_before_update(program, state).await?;
        let mut steps = Vec::new();
        for (urn, inputs) in program {
            let news = inputs(state);
            let old = state.get(&urn.name).cloned();
            let olds = old
                .as_ref()
                .map_or(Value::Object(Default::default()), |o| o.inputs.clone());
            let checked = match self.check(urn, &olds, &news).await? {
                Ok(checked) => checked,
                Err(failures) => {
                    return Err(tonic::Status::invalid_argument(format!(
                        "{}: check failures {failures:?}",
                        urn.name
                    )));
                }
            };
            let (resource, step) = match old {
                None => {
                    let (id, outputs, refresh) = self.create(urn, &checked, preview).await?;
                    (
                        ResourceState {
                            id,
                            inputs: checked,
                            outputs,
                            refresh_before_update: refresh,
                        },
                        Step::Create,
                    )
                }
                Some(old) => {
                    let diff = self
                        .diff(urn, &old.id, &old.outputs, &old.inputs, &checked)
                        .await?;
                    if diff.changes == 2 {
                        let outputs = self
                            .update(urn, &old.id, &old.outputs, &old.inputs, &checked, preview)
                            .await?;
                        (
                            ResourceState {
                                outputs,
                                inputs: checked,
                                ..old
                            },
                            Step::Update(diff),
                        )
                    } else {
                        (
                            ResourceState {
                                inputs: checked,
                                ..old
                            },
                            Step::Same,
                        )
                    }
                }
            };
            state.insert(urn.name.clone(), resource);
            steps.push((urn.name.clone(), step));
        }
        Ok(steps)
    }
}

/// `v` with every secret replaced by `"[secret]"`: what the engine would show
/// or store unencrypted.
pub fn without_secrets(v: &Value) -> Value {
    if imageautomation_proto::codec::is_secret(v) {
        return Value::String("[secret]".into());
    }
    match v {
        Value::Array(a) => Value::Array(a.iter().map(without_secrets).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), without_secrets(x)))
                .collect(),
        ),
        other => other.clone(),
    }
}
