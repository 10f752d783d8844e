//! The fleet repository of a [`Catalog`]: what `imageautomation run` reads and clones in the
//! fleet-sized benchmark, laid out as a Flux fleet repository with one cluster:
//!
//! ```text
//! clusters/fleet/flux-system/gotk-sync.yaml          GitRepository flux-system (file:// remote)
//! clusters/fleet/flux-system/image-automation.yaml   ImageUpdateAutomation, update.path ./apps
//! clusters/fleet/images/team-07/app-0042.yaml        ImageRepository + ImagePolicy
//! apps/team-07/app-0042/deployment.yaml              Deployment with the `$imagepolicy` marker
//! ```
//!
//! Objects are `image.toolkit.fluxcd.io/v1` in `flux-system`, named `team-07-app-0042`, each
//! ImagePolicy with its repository's [`Repository::policy`]; the automation applies all of them
//! (no `policySelector`), as the Flux image automation guide sets it up. The repository is a
//! bare repository reached as `file://` (no server process), with a checkout beside it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::{Catalog, Repository};
use crate::git_server::{bare_repo, git};

/// The namespace of every Flux object of the fleet.
pub const NAMESPACE: &str = "flux-system";

/// What goes into the fleet repository besides the images.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Every ImageRepository's `spec.interval` (a Go duration, e.g. `"5m"`).
    pub interval: String,
    /// Whether to add the GitRepository, the ImageUpdateAutomation and one marked Deployment
    /// per image.
    pub automation: bool,
}

impl Default for FleetOptions {
    /// `interval: 5m`, with the automation.
    fn default() -> Self {
        FleetOptions {
            interval: "5m".into(),
            automation: true,
        }
    }
}

/// A written fleet repository; the files are removed when dropped.
pub struct FleetRepository {
    /// Holds the bare repository and the checkout.
    _root: TempDir,
    /// The bare repository (branch `main`), the GitRepository's `file://` remote.
    pub bare: PathBuf,
    /// A checkout of `main`.
    pub checkout: PathBuf,
    /// How many files the commit holds.
    pub files: usize,
}

impl FleetRepository {
    /// The cluster directory holding the Flux objects: what `imageautomation run` is given.
    pub fn flux_dir(&self) -> PathBuf {
        self.checkout.join("clusters/fleet")
    }
}

/// The Flux object name of `repository`'s ImageRepository and ImagePolicy:
/// `team-07/app-0042` -> `team-07-app-0042`.
pub fn object_name(repository: &Repository) -> String {
    repository.name.replace('/', "-")
}

/// The ImageRepository and ImagePolicy of `repository` on `registry_host`, as one
/// multi-document YAML text.
pub fn image_objects(repository: &Repository, registry_host: &str, interval: &str) -> String {
    let name = object_name(repository);
    let image_repository = json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImageRepository",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"image": format!("{registry_host}/{}", repository.name), "interval": interval},
    });
    let mut spec = json!({"imageRepositoryRef": {"name": name}});
    if let (Value::Object(spec), Value::Object(policy)) = (&mut spec, repository.policy()) {
        spec.extend(policy);
    }
    let image_policy = json!({
        "apiVersion": "image.toolkit.fluxcd.io/v1",
        "kind": "ImagePolicy",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": spec,
    });
    [image_repository, image_policy]
        .iter()
        .map(|o| serde_norway::to_string(o).expect("JSON values serialise as YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A Deployment of `repository`'s image at `tag`, its `image` marked for the ImagePolicy.
fn deployment(repository: &Repository, registry_host: &str, tag: &str) -> String {
    let (team, app) = repository
        .name
        .split_once('/')
        .unwrap_or(("default", &repository.name));
    let marker = format!(
        "{{\"$imagepolicy\": \"{NAMESPACE}:{}\"}}",
        object_name(repository)
    );
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}
  namespace: {team}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
        - name: {app}
          image: {registry_host}/{name}:{tag} # {marker}
          ports:
            - containerPort: 8080
              name: http
",
        name = repository.name
    )
}

fn sync_objects(bare: &Path) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: {NAMESPACE}
spec:
  interval: 1m0s
  ref:
    branch: main
  url: file://{}
",
        bare.display()
    )
}

fn automation() -> String {
    format!(
        "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: {NAMESPACE}
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
      messageTemplate: '{{{{range .Changed.Changes}}}}{{{{print .OldValue}}}} -> {{{{println .NewValue}}}}{{{{end}}}}'
    push:
      branch: main
  update:
    path: ./apps
    strategy: Setters
"
    )
}

/// Writes the fleet of `catalog` on `registry_host` (`127.0.0.1:PORT`) and commits it to a
/// new bare repository. `marked[i]` is the tag the Deployment of the `i`-th repository runs
/// (give each policy's selection for a fleet with nothing pending).
///
/// # Panics
/// When `marked` does not have one tag per repository, a file cannot be written, or git fails.
pub fn write(
    catalog: &Catalog,
    registry_host: &str,
    marked: &[String],
    options: &FleetOptions,
) -> FleetRepository {
    assert_eq!(
        marked.len(),
        catalog.repositories().len(),
        "one marked tag per repository"
    );
    let root = TempDir::new().expect("tempdir");
    let bare = root.path().join("fleet.git");
    let checkout = root.path().join("checkout");
    bare_repo(&bare);
    let write = |relative: &str, text: &str| {
        let path = checkout.join(relative);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write a fleet file");
    };
    let mut files = 0;
    for (repository, tag) in catalog.repositories().iter().zip(marked) {
        write(
            &format!("clusters/fleet/images/{}.yaml", repository.name),
            &image_objects(repository, registry_host, &options.interval),
        );
        files += 1;
        if options.automation {
            write(
                &format!("apps/{}/deployment.yaml", repository.name),
                &deployment(repository, registry_host, tag),
            );
            files += 1;
        }
    }
    if options.automation {
        write(
            "clusters/fleet/flux-system/gotk-sync.yaml",
            &sync_objects(&bare),
        );
        write(
            "clusters/fleet/flux-system/image-automation.yaml",
            &automation(),
        );
        files += 2;
    }
    git(&checkout, &["init", "-q", "-b", "main"]);
    git(&checkout, &["add", "-A"]);
    git(&checkout, &["commit", "-q", "-m", "The fleet"]);
    let url = format!("file://{}", bare.display());
    git(&checkout, &["push", "-q", &url, "HEAD:refs/heads/main"]);
    FleetRepository {
        _root: root,
        bare,
        checkout,
        files,
    }
}
