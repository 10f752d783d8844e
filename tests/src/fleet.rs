//! The fleet of the Flux image automation guide on local servers, as `scripts/demo.sh` sets it
//! up: the real registry with podinfo-like tags, and Git over smart HTTP holding
//! `examples/fleet-infra` with its image and URL pointed at them.

use std::path::{Path, PathBuf};

use crate::git_server::{GitHttpServer, git, seed_repo};
use crate::pulumi::files_under;
use crate::registry::Registry;

/// The repository path of the image in the registry.
pub const IMAGE_PATH: &str = "stefanprodan/podinfo";
/// The marked manifest, relative to the repository root.
pub const MANIFEST: &str = "clusters/my-cluster/podinfo-deployment.yaml";
/// The tags the registry starts with (5.0.3 is the latest 5.0.x).
pub const TAGS: &[&str] = &["5.0.0", "5.0.1", "5.0.3", "5.1.0", "6.0.0-rc.1", "latest"];

/// The workspace root (the checkout).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// The registry and the fleet repository `fluxcd/fleet-infra` (branch `main`); both stop
/// when dropped.
pub struct Fleet {
    /// The registry holding [`IMAGE_PATH`] with [`TAGS`].
    pub registry: Registry,
    /// The Git server.
    pub git: GitHttpServer,
    /// The bare repository on disk.
    pub bare: PathBuf,
    /// `127.0.0.1:PORT/stefanprodan/podinfo`.
    pub image: String,
}

impl Fleet {
    /// Starts both servers; the Git server accepts `x-access-token:<token>` for each of
    /// `tokens`, or anyone when `tokens` is empty.
    ///
    /// # Panics
    /// When a server does not start.
    pub fn start(tokens: &[&str]) -> Fleet {
        let registry = Registry::anonymous();
        registry.storage().seed_tags(IMAGE_PATH, TAGS);
        let image = registry.image(IMAGE_PATH);
        let users: Vec<(&str, &str)> = tokens.iter().map(|t| ("x-access-token", *t)).collect();
        let git = GitHttpServer::start(&users);
        let bare = git.create_repo("fluxcd/fleet-infra");
        let url = git.url("fluxcd/fleet-infra");
        let examples = repo_root().join("examples/fleet-infra");
        let files: Vec<(String, String)> = files_under(&examples.join("clusters"))
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .expect("read fleet file")
                    .replace("ghcr.io/stefanprodan/podinfo", &image)
                    .replace("https://github.com/example/fleet-infra", &url);
                let rel = path.strip_prefix(&examples).expect("under examples");
                (rel.display().to_string(), text)
            })
            .collect();
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        seed_repo(
            &bare,
            "main",
            &files,
            "Add podinfo and its image automation",
        );
        Fleet {
            registry,
            git,
            bare,
            image,
        }
    }

    /// The clone URL of the fleet repository.
    pub fn url(&self) -> String {
        self.git.url("fluxcd/fleet-infra")
    }

    /// The commit `main` points at.
    pub fn head(&self) -> String {
        git(&self.bare, &["rev-parse", "main"]).trim().to_owned()
    }

    /// How many commits `main` has.
    pub fn commits(&self) -> usize {
        git(&self.bare, &["rev-list", "--count", "main"])
            .trim()
            .parse()
            .expect("a count")
    }

    /// The marked manifest on `main`.
    pub fn manifest(&self) -> String {
        git(&self.bare, &["show", &format!("main:{MANIFEST}")])
    }

    /// Pushes a commit that sets the marked manifest to `text`, as a person would.
    pub fn edit_manifest(&self, text: &str, message: &str) {
        seed_repo(&self.bare, "main", &[(MANIFEST, text)], message);
    }
}
