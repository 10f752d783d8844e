//! What the tests of `imageautomation run` share: the example fleet on the real registry and
//! Git over smart HTTP, and the built binary run on a checkout of it.
#![allow(dead_code)] // each test binary uses a part

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use imageautomation_tests::faults::FaultProxy;
use imageautomation_tests::git_server::{GitHttpServer, git, seed_repo};
use imageautomation_tests::registry::Registry;

pub const TOKEN: &str = "ghp_runEndToEndSecret0123456789";

/// The example fleet (`examples/fleet-infra/clusters/my-cluster`), pointed at
/// the local registry image and Git URL: `(path in the repository, contents)`.
pub fn fleet_files(image: &str, url: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fleet-infra");
    let mut files = Vec::new();
    let mut dirs = vec![root.join("clusters")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("the example fleet is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .expect("YAML text")
                .replace("ghcr.io/stefanprodan/podinfo", image)
                .replace("https://github.com/example/fleet-infra", url);
            let relative = path.strip_prefix(&root).expect("under the root");
            files.push((relative.to_string_lossy().into_owned(), text));
        }
    }
    files.sort();
    files
}

/// The example's marked Deployment at `5.0.0`.
pub fn deployment(image: &str) -> String {
    fleet_files(image, "")
        .into_iter()
        .find(|(path, _)| path.ends_with("podinfo-deployment.yaml"))
        .map(|(_, text)| text)
        .expect("the example has the marked Deployment")
}

pub struct Fleet {
    pub registry: Registry,
    pub git: GitHttpServer,
    pub bare: std::path::PathBuf,
    pub image: String,
    pub checkout: tempfile::TempDir,
}

impl Fleet {
    pub fn start() -> Fleet {
        let registry = Registry::anonymous();
        registry.storage().seed_tags(
            "stefanprodan/podinfo",
            &["5.0.0", "5.0.1", "5.0.3", "5.1.0", "6.0.0-rc.1", "latest"],
        );
        let image = registry.image("stefanprodan/podinfo");
        let server = GitHttpServer::start(&[("x-access-token", TOKEN)]);
        let bare = server.create_repo("fleet-infra");
        let url = server.url("fleet-infra");
        seed_repo(
            &bare,
            "main",
            &fleet_files(&image, &url)
                .iter()
                .map(|(path, text)| (path.as_str(), text.as_str()))
                .collect::<Vec<_>>(),
            "Add podinfo and its image automation",
        );
        // The manifests the user runs on: a local checkout of the fleet repository.
        let checkout = tempfile::tempdir().expect("tempdir");
        git(
            checkout.path(),
            &["clone", "-q", &format!("file://{}", bare.display()), "."],
        );
        Fleet {
            registry,
            git: server,
            bare,
            image,
            checkout,
        }
    }

    pub fn head(&self) -> String {
        git(&self.bare, &["rev-parse", "main"]).trim().to_owned()
    }

    pub fn deployment(&self) -> String {
        git(
            &self.bare,
            &["show", "main:clusters/my-cluster/podinfo-deployment.yaml"],
        )
    }

    pub fn run(&self, args: &[&str], token: Option<&str>) -> (Output, String, String) {
        run_in(&self.dir(), args, token, None)
    }

    pub fn dir(&self) -> std::path::PathBuf {
        self.checkout.path().join("clusters/my-cluster")
    }
}

/// The token goes on stdin (`--git-token-stdin`); `env_token` sets `GITHUB_TOKEN`.
pub fn run_in(
    dir: &Path,
    args: &[&str],
    token: Option<&str>,
    env_token: Option<&str>,
) -> (Output, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_imageautomation"));
    command
        .arg("run")
        .arg(dir)
        .args(args)
        .env_remove("GITHUB_TOKEN")
        .env("DOCKER_CONFIG", dir.join("no-docker-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = env_token {
        command.env("GITHUB_TOKEN", t);
    }
    if token.is_some() {
        command.arg("--git-token-stdin");
    }
    let mut child = command.spawn().expect("run imageautomation");
    if let Some(token) = token {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{token}").expect("write token");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token leaked:\n{stdout}\n{stderr}"
    );
    (out, stdout, stderr)
}

/// The fleet, its checkout pointing at the Git server through a fault proxy.
pub fn fleet_behind_fault_proxy() -> (Fleet, FaultProxy) {
    let fleet = Fleet::start();
    let url = fleet.git.url("fleet-infra");
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();
    let proxy = FaultProxy::start(&host);
    for entry in yaml_files(fleet.checkout.path()) {
        let text = std::fs::read_to_string(&entry).expect("read");
        if text.contains(&host) {
            std::fs::write(&entry, text.replace(&host, &proxy.host())).expect("write");
        }
    }
    (fleet, proxy)
}

/// The `*.yaml` files under `dir`, `.git` skipped.
pub fn yaml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files
}

/// How many commits `main` has.
pub fn commits(fleet: &Fleet) -> usize {
    git(&fleet.bare, &["rev-list", "--count", "main"])
        .trim()
        .parse()
        .expect("count")
}
