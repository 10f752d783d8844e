//! The real OCI registry for tests: Debian `docker-registry` (distribution 2.8) on a free
//! loopback port, anonymous, with htpasswd Basic auth, with TLS under a test CA (optionally
//! requiring client certificates), or with token (Bearer) auth through
//! `fixtures/registry/token_server.py`; plus `fixtures/registry/registry_proxy.py` in front of
//! it for Link pagination and injected failures.
//!
//! Repositories are seeded by writing distribution's filesystem storage layout directly
//! ([`Storage`]): the registry reads tags and manifests from disk on every request, so seeding
//! works before or after start and 10,000 tags take a second or two instead of minutes of
//! pushes. Configs, readiness checks and pitfalls follow the shared test environment that
//! the fixture scripts were copied from (`fixtures/registry/README.md`): bcrypt cost 4 for
//! htpasswd (the registry hashes on every request), a real CA plus CA:FALSE leaves for rustls,
//! explicit `Accept` headers on manifest requests.
//!
//! Every process started here is killed and reaped on drop.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::wait_for_port;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/registry");

/// OCI media types used in seeded images.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Docker schema 2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A test user of the htpasswd and token modes.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "s3cret-pw";

/// Test certificates, made once per test process with the `openssl` command: a CA, a server
/// certificate for `127.0.0.1`/`localhost` and a client certificate signed by it (EC P-256),
/// and an RSA token-signing certificate for the token server.
#[derive(Debug)]
pub struct TestCerts {
    _dir: TempDir,
    /// CA certificate (PEM).
    pub ca: PathBuf,
    /// Server certificate (PEM).
    pub server_cert: PathBuf,
    /// Server key (PEM).
    pub server_key: PathBuf,
    /// Client certificate (PEM), `extendedKeyUsage=clientAuth`.
    pub client_cert: PathBuf,
    /// Client key (PKCS#8 PEM).
    pub client_key: PathBuf,
    /// Token signing certificate (RSA, self-signed).
    pub token_cert: PathBuf,
    /// Token signing key.
    pub token_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test certificates of this process.
///
/// # Panics
/// When `openssl` is missing or fails.
pub fn certs() -> &'static TestCerts {
    static CERTS: OnceLock<TestCerts> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("ia-certs-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-sha256",
            "-days",
            "3650",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=imageautomation test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(d, &ca);
        for (name, cn, usage, san) in [
            (
                "server",
                "localhost",
                "serverAuth",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
            ),
            ("client", "imageautomation-test-client", "clientAuth", ""),
        ] {
            let mut req = vec!["req"];
            req.extend(ec);
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let crt = format!("{name}.crt");
            let ext = format!("{name}.ext");
            let subj = format!("/CN={cn}");
            req.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
            openssl(d, &req);
            std::fs::write(
                d.join(&ext),
                format!(
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                     extendedKeyUsage={usage}\n{san}"
                ),
            )
            .expect("write ext");
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "3650",
                    "-sha256",
                    "-extfile",
                    &ext,
                    "-out",
                    &crt,
                ],
            );
        }
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-keyout",
                "token.key",
                "-out",
                "token.crt",
                "-subj",
                "/CN=test token signer",
            ],
        );
        TestCerts {
            ca: d.join("ca.crt"),
            server_cert: d.join("server.crt"),
            server_key: d.join("server.key"),
            client_cert: d.join("client.crt"),
            client_key: d.join("client.key"),
            token_cert: d.join("token.crt"),
            token_key: d.join("token.key"),
            _dir: dir,
        }
    })
}

/// How the registry authenticates.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No authentication.
    #[default]
    Anonymous,
    /// htpasswd (bcrypt cost 4) with [`USER`]/[`PASSWORD`].
    Basic,
    /// htpasswd (bcrypt cost 4) with these users and passwords instead of [`USER`], e.g. the
    /// user name and token a cloud login issues.
    Users(Vec<(String, String)>),
    /// Token auth through the token server, which knows [`USER`]/[`PASSWORD`].
    Token {
        /// Tokens with `pull` for anonymous clients (`--anonymous-pull`).
        anonymous_pull: bool,
        /// Repositories nobody may access (`--deny`).
        deny: Vec<String>,
        /// OAuth2 refresh tokens accepted for [`USER`] (Docker config `identitytoken`).
        refresh_tokens: Vec<String>,
    },
}

/// Registry options.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Authentication mode.
    pub auth: Auth,
    /// Serve HTTPS with the test CA's server certificate (the token server too).
    pub tls: bool,
    /// Require client certificates signed by the test CA (implies `tls`).
    pub client_certs: bool,
}

/// A running `docker-registry`, stopped on drop.
#[derive(Debug)]
pub struct Registry {
    port: u16,
    dir: TempDir,
    registry: Option<Child>,
    token_server: Option<Child>,
}

fn scratch_dir(prefix: &str) -> TempDir {
    // tmpfs makes seeding thousands of tags fast; fall back to the default temp dir.
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        b
    };
    if shm.is_dir()
        && let Ok(d) = builder.tempdir_in(shm)
    {
        return d;
    }
    builder.tempdir().expect("tempdir")
}

impl Registry {
    /// An anonymous plain-HTTP registry.
    pub fn anonymous() -> Self {
        Self::start(RegistryOptions::default())
    }

    /// Starts a registry.
    ///
    /// # Panics
    /// When `docker-registry` (or, for token auth, `python3`) is missing or does not start
    /// within 10 s.
    pub fn start(options: RegistryOptions) -> Self {
        let dir = scratch_dir("ia-registry-");
        let d = dir.path();
        std::fs::create_dir_all(d.join("data")).expect("data dir");
        let tls = options.tls || options.client_certs;
        let mut tls_block = String::new();
        if tls {
            let c = certs();
            tls_block = format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                c.server_cert.display(),
                c.server_key.display()
            );
            if options.client_certs {
                tls_block.push_str(&format!("    clientcas:\n      - {}\n", c.ca.display()));
            }
        }
        let mut token_server = None;
        let auth_block = match &options.auth {
            Auth::Anonymous => String::new(),
            Auth::Basic | Auth::Users(_) => {
                let users = match &options.auth {
                    Auth::Users(users) => users.clone(),
                    _ => vec![(USER.to_string(), PASSWORD.to_string())],
                };
                let mut lines = String::new();
                for (user, password) in &users {
                    let out = Command::new("htpasswd")
                        .args(["-Bbn", "-C", "4", user, password])
                        .output()
                        .expect("run htpasswd (Debian package apache2-utils)");
                    assert!(out.status.success(), "htpasswd failed");
                    let line = String::from_utf8(out.stdout).expect("utf8");
                    lines.push_str(line.trim());
                    lines.push('\n');
                }
                let path = d.join("htpasswd");
                std::fs::write(&path, lines).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token {
                anonymous_pull,
                deny,
                refresh_tokens,
            } => {
                let c = certs();
                let mut cmd = Command::new("python3");
                cmd.arg(format!("{FIXTURES}/token_server.py"))
                    .args(["--port", "0", "--issuer", "test-issuer", "--service"])
                    .arg("test-registry")
                    .arg("--cert")
                    .arg(&c.token_cert)
                    .arg("--key")
                    .arg(&c.token_key)
                    .arg("--user")
                    .arg(format!("{USER}:{PASSWORD}"))
                    .arg("--log")
                    .arg(d.join("tokens.jsonl"));
                if *anonymous_pull {
                    cmd.arg("--anonymous-pull");
                }
                if tls {
                    // The realm is served over HTTPS under the same test CA.
                    cmd.arg("--tls-cert")
                        .arg(&c.server_cert)
                        .arg("--tls-key")
                        .arg(&c.server_key);
                }
                for r in deny {
                    cmd.args(["--deny", r]);
                }
                for t in refresh_tokens {
                    cmd.arg("--refresh-token").arg(format!("{t}:{USER}"));
                }
                let mut child = cmd
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("start token_server.py (python3)");
                let mut line = String::new();
                BufReader::new(child.stdout.take().expect("stdout"))
                    .read_line(&mut line)
                    .expect("read token server banner");
                // "token_server: listening on http://127.0.0.1:PORT/token (...)"
                let realm = line
                    .split_whitespace()
                    .find(|w| w.starts_with("http://") || w.starts_with("https://"))
                    .unwrap_or_else(|| panic!("token server banner: {line:?}"))
                    .to_string();
                token_server = Some(child);
                format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: test-registry\n    \
                     issuer: test-issuer\n    rootcertbundle: {}\n",
                    c.token_cert.display()
                )
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n  \
             maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:0\n  secret: test-only-secret\n{tls_block}{auth_block}",
            data = d.join("data").display()
        );
        std::fs::write(d.join("config.yml"), config).expect("write config");
        let log = std::fs::File::create(d.join("registry.log")).expect("log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start /usr/bin/docker-registry (Debian package docker-registry)");
        // The registry binds port 0 and logs the port it got ("listening on 127.0.0.1:PORT"),
        // so no other process can take it between our choice and its bind.
        let mut registry = Self {
            port: 0,
            dir,
            registry: Some(child),
            token_server,
        };
        let log_path = registry.dir.path().join("registry.log");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(port) = listening_port(&log) {
                registry.port = port;
                break;
            }
            let exited = registry
                .registry
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || std::time::Instant::now() > deadline {
                registry.stop();
                panic!("docker-registry did not start ({exited:?}): {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            wait_for_port(registry.port, Duration::from_secs(10)),
            "docker-registry logged port {} but does not accept connections",
            registry.port
        );
        registry
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repository>`.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The storage to seed repositories in.
    pub fn storage(&self) -> Storage {
        Storage::new(self.dir.path().join("data"))
    }

    /// The requests the registry answered so far, oldest first, as `METHOD URI`
    /// (`GET /v2/app/manifests/sha256:...`), read from its log.
    pub fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("msg=\"response completed"))
            .filter_map(|l| {
                let field = |name: &str| {
                    let start = l.find(name)? + name.len();
                    l[start..]
                        .split(' ')
                        .next()
                        .map(|v| v.trim_matches('"').to_owned())
                };
                Some(format!(
                    "{} {}",
                    field("http.request.method=")?,
                    field("http.request.uri=")?
                ))
            })
            .collect()
    }

    /// The token server's request log (JSON lines), empty without token auth.
    pub fn token_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tokens.jsonl")).unwrap_or_default()
    }

    /// Stops the registry (and token server) now.
    pub fn stop(&mut self) {
        for child in [self.registry.take(), self.token_server.take()]
            .into_iter()
            .flatten()
        {
            stop_child(child);
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The port of docker-registry's "listening on 127.0.0.1:PORT" log line.
fn listening_port(log: &str) -> Option<u16> {
    let at = log.find("listening on 127.0.0.1:")? + "listening on 127.0.0.1:".len();
    let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn stop_child(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `registry_proxy.py` in front of a registry: tag pagination (`--max-page`), injected
/// failures, a repeating `Link`, a missing digest header. Stopped on drop.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    child: Option<Child>,
}

impl Proxy {
    /// Starts the proxy for the plain-HTTP registry at `upstream` (`127.0.0.1:PORT`) with
    /// extra arguments (`["--max-page", "100"]`, `["--fail-first", "2", "--retry-after",
    /// "1"]`).
    ///
    /// # Panics
    /// When `python3` is missing or the proxy does not listen within 10 s.
    pub fn start(upstream: &str, args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg(format!("{FIXTURES}/registry_proxy.py"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--upstream")
            .arg(upstream)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start registry_proxy.py (python3)");
        // "tags_paginating_proxy: http://127.0.0.1:PORT -> http://UPSTREAM": the port the
        // proxy bound (port 0), printed once it listens.
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok());
        let Some(port) = port else {
            stop_child(child);
            panic!("registry_proxy.py did not start: {line:?}");
        };
        Self {
            port,
            child: Some(child),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repository>`.
    pub fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.host())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop_child(c);
        }
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Writes repositories straight into distribution's filesystem storage layout
/// (`docker/registry/v2/{blobs,repositories}`), as `populate_registry.py --storage-dir` does.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    fn new(data: PathBuf) -> Self {
        Self {
            root: data.join("docker/registry/v2"),
        }
    }

    fn write(&self, path: PathBuf, bytes: &[u8]) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(bytes).expect("write");
    }

    fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let hex = &digest[7..];
        let path = self
            .root
            .join(format!("blobs/sha256/{}/{hex}/data", &hex[..2]));
        if !path.exists() {
            self.write(path, bytes);
        }
        digest
    }

    fn layer_link(&self, repository: &str, digest: &str) {
        let path = self.root.join(format!(
            "repositories/{repository}/_layers/sha256/{}/link",
            &digest[7..]
        ));
        self.write(path, digest.as_bytes());
    }

    /// Stores a manifest (revision link) and returns its digest.
    fn manifest(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = self.blob(bytes);
        let path = self.root.join(format!(
            "repositories/{repository}/_manifests/revisions/sha256/{}/link",
            &digest[7..]
        ));
        self.write(path, digest.as_bytes());
        digest
    }

    /// Points `tag` at `digest`.
    pub fn tag(&self, repository: &str, tag: &str, digest: &str) {
        let tags = self
            .root
            .join(format!("repositories/{repository}/_manifests/tags/{tag}"));
        self.write(tags.join("current/link"), digest.as_bytes());
        self.write(
            tags.join(format!("index/sha256/{}/link", &digest[7..])),
            digest.as_bytes(),
        );
    }

    /// Removes `tag` (the registry stops listing it at once).
    pub fn untag(&self, repository: &str, tag: &str) {
        let _ = std::fs::remove_dir_all(
            self.root
                .join(format!("repositories/{repository}/_manifests/tags/{tag}")),
        );
    }

    /// Stores a single-platform OCI image for `arch`; `annotation` makes its digest unique.
    /// Returns the manifest bytes and digest.
    pub fn image(
        &self,
        repository: &str,
        arch: &str,
        annotation: Option<&str>,
    ) -> (Vec<u8>, String) {
        let layer = format!("imageautomation test layer {arch}\n").into_bytes();
        let layer_digest = self.blob(&layer);
        self.layer_link(repository, &layer_digest);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {}
        }))
        .expect("json");
        let config_digest = self.blob(&config);
        self.layer_link(repository, &config_digest);
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer.len()}]
        });
        if let Some(a) = annotation {
            manifest["annotations"] = serde_json::json!({"org.opencontainers.image.version": a});
        }
        let bytes = serde_json::to_vec(&manifest).expect("json");
        let digest = self.manifest(repository, &bytes);
        (bytes, digest)
    }

    /// Stores a Docker schema 2 image (`application/vnd.docker.distribution.manifest.v2+json`)
    /// for `arch` and returns the manifest bytes and digest. `label` makes the digest unique.
    pub fn docker_image(&self, repository: &str, arch: &str, label: &str) -> (Vec<u8>, String) {
        let layer = format!("imageautomation docker layer {arch}\n").into_bytes();
        let layer_digest = self.blob(&layer);
        self.layer_link(repository, &layer_digest);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Labels": {"test": label}},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
        }))
        .expect("json");
        let config_digest = self.blob(&config);
        self.layer_link(repository, &config_digest);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": layer_digest, "size": layer.len()}]
        }))
        .expect("json");
        let digest = self.manifest(repository, &manifest);
        (manifest, digest)
    }

    /// Tags a Docker manifest list (linux/amd64 and linux/arm64 schema 2 images) with `tag`;
    /// returns the list's digest.
    pub fn seed_docker_list(&self, repository: &str, tag: &str) -> String {
        let mut entries = Vec::new();
        for arch in ["amd64", "arm64"] {
            let (bytes, digest) = self.docker_image(repository, arch, tag);
            entries.push(serde_json::json!({
                "mediaType": DOCKER_MANIFEST, "digest": digest, "size": bytes.len(),
                "platform": {"architecture": arch, "os": "linux"}
            }));
        }
        let list = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": entries
        }))
        .expect("json");
        let digest = self.manifest(repository, &list);
        self.tag(repository, tag, &digest);
        digest
    }

    /// Tags one shared image with every tag in `tags`; returns its digest.
    pub fn seed_tags<S: AsRef<str>>(&self, repository: &str, tags: &[S]) -> String {
        let (_, digest) = self.image(repository, "amd64", None);
        for t in tags {
            self.tag(repository, t.as_ref(), &digest);
        }
        digest
    }

    /// Tags a distinct image (its own digest) with `tag`; returns the digest.
    pub fn seed_unique(&self, repository: &str, tag: &str) -> String {
        let (_, digest) = self.image(repository, "amd64", Some(tag));
        self.tag(repository, tag, &digest);
        digest
    }

    /// Stores a linux/`arch` OCI image whose config says `created` (omitted when `None`); with
    /// `annotate`, the manifest also carries `org.opencontainers.image.created`. `label` makes
    /// the digest unique. Returns the manifest bytes and digest.
    fn dated_image(
        &self,
        repository: &str,
        arch: &str,
        created: Option<&str>,
        annotate: bool,
        label: &str,
    ) -> (Vec<u8>, String) {
        let layer = format!("imageautomation dated layer {arch} {label}\n").into_bytes();
        let layer_digest = self.blob(&layer);
        self.layer_link(repository, &layer_digest);
        let mut config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]}, "config": {}
        });
        if let Some(created) = created {
            config["created"] = serde_json::json!(created);
        }
        let config = serde_json::to_vec(&config).expect("json");
        let config_digest = self.blob(&config);
        self.layer_link(repository, &config_digest);
        let mut manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer.len()}]
        });
        if let (true, Some(created)) = (annotate, created) {
            manifest["annotations"] =
                serde_json::json!({"org.opencontainers.image.created": created});
        }
        let bytes = serde_json::to_vec(&manifest).expect("json");
        let digest = self.manifest(repository, &bytes);
        (bytes, digest)
    }

    /// Tags a linux/`arch` image built at `created` (config only, or with `annotate` the
    /// manifest annotation too; `None`: no time at all) with `tag`; returns its digest.
    pub fn seed_dated(
        &self,
        repository: &str,
        tag: &str,
        arch: &str,
        created: Option<&str>,
        annotate: bool,
    ) -> String {
        let (_, digest) = self.dated_image(repository, arch, created, annotate, tag);
        self.tag(repository, tag, &digest);
        digest
    }

    /// Tags an OCI image index of linux/`archs` with `tag`; every child's config says
    /// `created`, and only the index's annotation does with `annotate`. Returns the digest.
    pub fn seed_dated_index(
        &self,
        repository: &str,
        tag: &str,
        archs: &[&str],
        created: &str,
        annotate: bool,
    ) -> String {
        let mut entries = Vec::new();
        for arch in archs {
            let (bytes, digest) = self.dated_image(repository, arch, Some(created), false, tag);
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(),
                "platform": {"architecture": arch, "os": "linux"}
            }));
        }
        let mut index = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries
        });
        if annotate {
            index["annotations"] = serde_json::json!({"org.opencontainers.image.created": created});
        }
        let bytes = serde_json::to_vec(&index).expect("json");
        let digest = self.manifest(repository, &bytes);
        self.tag(repository, tag, &digest);
        digest
    }

    /// Tags a multi-arch OCI image index (linux/amd64 and linux/arm64) with `tag`; returns the
    /// index digest and the child manifest digests.
    pub fn seed_index(&self, repository: &str, tag: &str) -> (String, Vec<String>) {
        let mut entries = Vec::new();
        let mut children = Vec::new();
        for arch in ["amd64", "arm64"] {
            let (bytes, digest) = self.image(repository, arch, Some(tag));
            entries.push(serde_json::json!({
                "mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(),
                "platform": {"architecture": arch, "os": "linux"}
            }));
            children.push(digest);
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries
        }))
        .expect("json");
        let digest = self.manifest(repository, &index);
        self.tag(repository, tag, &digest);
        (digest, children)
    }
}

/// `n` distinct semver tags `0.0.0`, `0.0.1`, … (100 patches per minor, 100 minors per major),
/// as `populate_registry.py --gen-semver` makes them.
pub fn semver_tags(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{}.{}.{}", i / 10_000, (i / 100) % 100, i % 100))
        .collect()
}
