//! A REAL Kubernetes API server for the cluster-mode tests: `kube-apiserver`
//! and etcd built from their Go modules (`tools/kube`) and started on
//! loopback by `scripts/test-cluster.sh`, with the Flux CRDs of
//! `tests/fixtures/flux-crds` installed.
//!
//! [`shared`] starts one cluster per test process on first use (about 10 s;
//! the first build of the binaries takes minutes and is cached outside the
//! checkout) and the script stops it when the process ends. Each test works
//! in a namespace of its own ([`Cluster::namespace`]), so tests run in
//! parallel on one server. [`Cluster::start_without_crds`] starts a second,
//! separate cluster for the cases that need a server without the CRDs.
//!
//! What the applier asked for is read from the API server's audit log
//! ([`Namespace::calls`]): one JSON line per request with its verb, URI and
//! query, object and status code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

/// A running API server (its directory is removed, and its processes
/// stopped, on drop).
pub struct Cluster {
    dir: tempfile::TempDir,
    kubeconfig: String,
    server: String,
    token: String,
}

/// One request the API server received, from its audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The Kubernetes verb: `get`, `patch`, `delete`, `create`, `update`, `list`.
    pub verb: String,
    /// The resource (plural), `secrets` or `imagerepositories` for example.
    pub resource: String,
    /// The object's name.
    pub name: String,
    /// The query parameters of the request URI (`dryRun`, `fieldManager`, ...).
    pub query: BTreeMap<String, String>,
    /// The status code of the answer.
    pub code: u16,
}

/// The kinds the provider renders, by plural: API group, version and kind.
const KINDS: [(&str, &str, &str, &str); 5] = [
    ("secrets", "", "v1", "Secret"),
    (
        "gitrepositories",
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
    ),
    (
        "imagerepositories",
        "image.toolkit.fluxcd.io",
        "v1",
        "ImageRepository",
    ),
    (
        "imagepolicies",
        "image.toolkit.fluxcd.io",
        "v1",
        "ImagePolicy",
    ),
    (
        "imageupdateautomations",
        "image.toolkit.fluxcd.io",
        "v1",
        "ImageUpdateAutomation",
    ),
];

fn api_resource(plural: &str) -> ApiResource {
    let (_, group, version, kind) = KINDS
        .iter()
        .find(|k| k.0 == plural)
        .unwrap_or_else(|| panic!("unknown plural {plural}"));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// `scripts/test-cluster.sh COMMAND DIR ARGS...`, ready to run.
fn script(command: &str, dir: &Path, args: &[&str]) -> Command {
    let mut script = Command::new("bash");
    script
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/test-cluster.sh"))
        .arg(command)
        .arg(dir)
        .args(args);
    script
}

/// Runs [`script`].
///
/// # Panics
/// When it fails, with its messages.
fn run_script(command: &str, dir: &Path, args: &[&str]) {
    let out = script(command, dir, args)
        .output()
        .expect("run scripts/test-cluster.sh");
    assert!(
        out.status.success(),
        "scripts/test-cluster.sh {command} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The cluster shared by the tests of this process, started on first use.
///
/// # Panics
/// When the cluster cannot be built or started (the script's messages are
/// in the panic).
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| Cluster::start(&[]))
}

impl Cluster {
    fn start(extra: &[&str]) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("imageautomation-cluster-")
            .tempdir()
            .expect("tempdir");
        let owner = std::process::id().to_string();
        run_script("start", dir.path(), &[&["--owner", &owner], extra].concat());
        let read = |name: &str| {
            std::fs::read_to_string(dir.path().join(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .trim()
                .to_owned()
        };
        Cluster {
            kubeconfig: read("kubeconfig"),
            server: read("server.url"),
            token: read("token"),
            dir,
        }
    }

    /// A second cluster of its own, without the Flux CRDs (the namespace
    /// `flux-system` exists). Stopped on drop.
    pub fn start_without_crds() -> Cluster {
        Cluster::start(&["--without-crds"])
    }

    /// A cluster of its own with the CRDs that Flux's controllers ship
    /// (`scripts/test-cluster.sh start --flux-crds`: every kind they watch),
    /// for [`Cluster::start_flux_controllers`]. Stopped on drop.
    pub fn start_with_flux_crds() -> Cluster {
        Cluster::start(&["--flux-crds"])
    }

    /// Starts Flux's source-controller, image-reflector-controller and
    /// image-automation-controller against this cluster
    /// (`scripts/test-cluster.sh flux`); they stop with the cluster.
    ///
    /// # Panics
    /// When they cannot be built or do not become ready.
    pub fn start_flux_controllers(&self) {
        run_script("flux", self.dir.path(), &[]);
    }

    /// The log of one of the cluster's processes (`kube-apiserver`, `etcd`,
    /// `image-reflector-controller`, ...), empty when there is none.
    pub fn log(&self, process: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{process}.log"))).unwrap_or_default()
    }

    /// The kubeconfig (YAML) of the cluster's admin: a bearer token, the
    /// cluster's CA, context `test`.
    pub fn kubeconfig(&self) -> String {
        self.kubeconfig.clone()
    }

    /// The admin's bearer token (in [`Cluster::kubeconfig`]).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The PEM of the CA that signed the API server's certificate.
    ///
    /// # Panics
    /// When the file is gone.
    pub fn ca_certificate(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("ca.crt")).expect("ca.crt")
    }

    /// A kubeconfig that presents a client certificate that expired in 2020
    /// (signed by the cluster's client CA, group `system:masters`).
    pub fn kubeconfig_with_expired_certificate(&self) -> String {
        use base64::Engine as _;
        let b64 = |name: &str| {
            base64::engine::general_purpose::STANDARD
                .encode(std::fs::read(self.dir.path().join(name)).expect("certificate files"))
        };
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    \
             certificate-authority-data: {}\nusers:\n- name: expired\n  user:\n    \
             client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: test\n  \
             context:\n    cluster: test\n    user: expired\ncurrent-context: test\n",
            self.server,
            b64("ca.crt"),
            b64("client-expired.crt"),
            b64("client-expired.key")
        )
    }

    /// A client as the cluster's admin (for the tests' own changes, as a
    /// second user's `kubectl` would make them).
    ///
    /// # Panics
    /// When the kubeconfig does not load.
    pub async fn client(&self) -> kube::Client {
        // As the applier does: kube-rs needs a process-wide rustls provider when both ring and
        // aws-lc-rs are linked.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let config = kube::config::Kubeconfig::from_yaml(&self.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
            .await
            .expect("config");
        kube::Client::try_from(config).expect("client")
    }

    /// Creates a namespace of its own for one test: `<prefix>-<n>`.
    ///
    /// # Panics
    /// When the API server refuses.
    pub async fn namespace(&self, prefix: &str) -> Namespace<'_> {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let client = self.client().await;
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        let body = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
        namespaces
            .create(&PostParams::default(), &body)
            .await
            .expect("create namespace");
        Namespace {
            cluster: self,
            name,
            client,
        }
    }

    /// An existing namespace (`flux-system`, which the cluster starts with,
    /// for one), shared with whatever else uses it.
    pub async fn existing_namespace(&self, name: &str) -> Namespace<'_> {
        Namespace {
            cluster: self,
            name: name.to_owned(),
            client: self.client().await,
        }
    }

    fn audit_log(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = script("stop", self.dir.path(), &[]).status();
    }
}

/// A namespace of a [`Cluster`], for one test.
pub struct Namespace<'a> {
    cluster: &'a Cluster,
    name: String,
    client: kube::Client,
}

impl Namespace<'_> {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn api(&self, plural: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.name, &api_resource(plural))
    }

    /// The stored object, as JSON, if it exists.
    ///
    /// # Panics
    /// On an answer other than the object or 404.
    pub async fn object(&self, plural: &str, name: &str) -> Option<Value> {
        let object = self.api(plural).get_opt(name).await.expect("GET");
        object.map(|o| serde_json::to_value(o).expect("JSON"))
    }

    /// Sets the field at `path` to `value` as another user's `kubectl edit`
    /// does: a whole-object update (PUT) with field manager `manager`. When
    /// the object changed between the read and the update (409, a controller
    /// wrote its status), it reads and tries again, up to 5 times.
    ///
    /// # Panics
    /// When the object does not exist or the update is refused.
    pub async fn edit(&self, plural: &str, name: &str, path: &[&str], value: Value, manager: &str) {
        let api = self.api(plural);
        let params = PostParams {
            dry_run: false,
            field_manager: Some(manager.to_owned()),
        };
        for attempt in 1.. {
            let mut object = serde_json::to_value(api.get(name).await.expect("GET")).expect("JSON");
            let mut at = &mut object;
            for key in &path[..path.len() - 1] {
                at = at
                    .as_object_mut()
                    .expect("object")
                    .entry(key.to_string())
                    .or_insert_with(|| json!({}));
            }
            at[path[path.len() - 1]] = value.clone();
            let object: DynamicObject = serde_json::from_value(object).expect("object");
            match api.replace(name, &params, &object).await {
                Ok(_) => return,
                Err(kube::Error::Api(status)) if status.code == 409 && attempt < 5 => continue,
                Err(e) => panic!("PUT {plural}/{name}: {e}"),
            }
        }
    }

    /// Deletes the object as another user's `kubectl delete` does; `false`
    /// when it did not exist.
    ///
    /// # Panics
    /// On an answer other than success or 404.
    pub async fn remove(&self, plural: &str, name: &str) -> bool {
        match self
            .api(plural)
            .delete(name, &DeleteParams::default())
            .await
        {
            Ok(_) => true,
            Err(kube::Error::Api(status)) if status.code == 404 => false,
            Err(e) => panic!("DELETE {plural}/{name}: {e}"),
        }
    }

    /// The names of the objects of the kinds the provider renders, as
    /// `<plural>/<name>`, sorted.
    ///
    /// # Panics
    /// When a list is refused.
    pub async fn objects(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (plural, ..) in KINDS {
            let list = self
                .api(plural)
                .list(&Default::default())
                .await
                .expect("LIST");
            all.extend(
                list.items
                    .into_iter()
                    .filter_map(|o| o.metadata.name)
                    .map(|n| format!("{plural}/{n}")),
            );
        }
        all.sort();
        all
    }

    /// The requests made on objects of this namespace so far, in the order
    /// the API server answered them, as its audit log records them.
    ///
    /// A fence request is made first and waited for in the log, so that
    /// every request answered before this call is included.
    ///
    /// # Panics
    /// When the audit log cannot be read, or the fence does not appear in it
    /// within 10 s.
    pub async fn calls(&self) -> Vec<Call> {
        static FENCES: AtomicU32 = AtomicU32::new(1);
        let fence = format!("fence-{}", FENCES.fetch_add(1, Ordering::Relaxed));
        let _ = self
            .api("secrets")
            .get_opt(&fence)
            .await
            .expect("fence GET");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let calls = self.read_calls();
            if let Some(at) = calls.iter().position(|c| c.name == fence) {
                return calls[..at].to_vec();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the fence request is not in the audit log"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    fn read_calls(&self) -> Vec<Call> {
        let log = std::fs::read_to_string(self.cluster.audit_log()).expect("audit log");
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|e| {
                e["stage"] == "ResponseComplete" && e["objectRef"]["namespace"] == *self.name
            })
            .map(|e| {
                let uri = e["requestURI"].as_str().unwrap_or_default();
                let query = uri
                    .split_once('?')
                    .map(|(_, q)| {
                        url::form_urlencoded::parse(q.as_bytes())
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Call {
                    verb: e["verb"].as_str().unwrap_or_default().to_owned(),
                    resource: e["objectRef"]["resource"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    name: e["objectRef"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    query,
                    code: e["responseStatus"]["code"]
                        .as_u64()
                        .and_then(|c| u16::try_from(c).ok())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }
}
