//! Real Git servers on loopback for the write-back tests, started on a free
//! port and stopped on drop:
//!
//! - [`GitHttpServer`]: lighttpd + `git http-backend` (smart HTTP, or HTTPS
//!   with a test CA), HTTP Basic auth from a bcrypt htpasswd file, as
//!   `shared/test-env/git_http_fixture.sh` configures it (GitHub-like
//!   `x-access-token:<TOKEN>` users).
//! - [`GitSshServer`]: a private `sshd` with a generated ed25519 host key and
//!   client key, `known_hosts`, and a forced command that allows only the git
//!   transport (`tests/fixtures/git/git_ssh_shell.sh`), as
//!   `shared/test-env/git_sshd_fixture.sh` does.
//! - [`bare_repo`], [`seed_repo`], [`git`]: bare repositories (also served as
//!   `file://`) and the `git` CLI to prepare and inspect them.
//!
//! Debian packages: lighttpd, lighttpd-mod-openssl, apache2-utils,
//! openssh-server, openssh-client, openssl, git.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

/// How the test starts lighttpd: with the listening socket the test bound (on stdin, moved to
/// fd 3), by systemd socket activation (`LISTEN_FDS`, `LISTEN_PID`; lighttpd's
/// `server.systemd-socket-activation`), so that no other process can take the port between
/// choosing and binding it.
const LIGHTTPD_WITH_SOCKET: &str =
    "exec 3<&0 </dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec lighttpd -D -f \"$0\"";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/git")
}

/// Runs `git` with `args` in `dir` and returns its stdout; the environment is
/// cleaned of variables that would redirect git (`GIT_DIR`, CA overrides...).
///
/// # Panics
/// When git cannot run or exits non-zero (a broken test setup).
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_SSL_CAINFO")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Seeder")
        .env("GIT_AUTHOR_EMAIL", "seeder@example.com")
        .env("GIT_COMMITTER_NAME", "Seeder")
        .env("GIT_COMMITTER_EMAIL", "seeder@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a bare repository at `path` (default branch `main`, pushes over
/// HTTP allowed).
pub fn bare_repo(path: &Path) {
    std::fs::create_dir_all(path).expect("create repo dir");
    git(path, &["init", "-q", "--bare", "-b", "main"]);
    git(path, &["config", "http.receivepack", "true"]);
    git(path, &["config", "receive.advertisePushOptions", "true"]);
}

/// Pushes one commit with `files` (path, content) to `branch` of the bare
/// repository at `bare` (through `file://`), on top of the branch when it
/// exists. Returns the new commit id.
pub fn seed_repo(bare: &Path, branch: &str, files: &[(&str, &str)], message: &str) -> String {
    let work = TempDir::new().expect("tempdir");
    let url = format!("file://{}", bare.display());
    let heads = git(work.path(), &["ls-remote", "--heads", &url, branch]);
    if heads.trim().is_empty() {
        git(work.path(), &["init", "-q", "-b", branch]);
    } else {
        git(work.path(), &["clone", "-q", "-b", branch, &url, "."]);
    }
    for (path, content) in files {
        let p = work.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
    git(work.path(), &["add", "-A"]);
    git(
        work.path(),
        &["commit", "-q", "--allow-empty", "-m", message],
    );
    git(
        work.path(),
        &["push", "-q", &url, &format!("HEAD:refs/heads/{branch}")],
    );
    git(work.path(), &["rev-parse", "HEAD"]).trim().to_string()
}

/// Kills and reaps a child process we spawned.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// lighttpd + `git http-backend` with HTTP Basic auth on a free loopback port.
pub struct GitHttpServer {
    dir: TempDir,
    child: Child,
    /// `http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`.
    pub base_url: String,
    /// The test CA (PEM) when serving HTTPS.
    pub ca_pem: Option<String>,
}

impl GitHttpServer {
    /// Starts the server; `users` are `(user, password)` pairs accepted by
    /// Basic auth (GitHub style: `("x-access-token", "<token>")`). With no
    /// users, clone and push need no credentials.
    ///
    /// # Panics
    /// When lighttpd, htpasswd or git are missing or the server does not
    /// come up within 10 s.
    pub fn start(users: &[(&str, &str)]) -> Self {
        Self::start_with(users, None)
    }

    /// As [`GitHttpServer::start`], over HTTPS with a fresh test CA
    /// (`tests/fixtures/git/gen_certs.sh`).
    ///
    /// # Panics
    /// As [`GitHttpServer::start`], or when openssl is missing.
    pub fn start_tls(users: &[(&str, &str)]) -> Self {
        Self::start_with(users, Some(false))
    }

    /// As [`GitHttpServer::start_tls`], with a private CA that has an
    /// intermediate: the server presents its leaf and the intermediate, and
    /// [`GitHttpServer::ca_pem`] is the root alone (what a user's `ca.crt` holds).
    ///
    /// # Panics
    /// As [`GitHttpServer::start_tls`].
    pub fn start_tls_with_intermediate(users: &[(&str, &str)]) -> Self {
        Self::start_with(users, Some(true))
    }

    /// `tls`: `None` for plain HTTP, `Some(intermediate)` for HTTPS.
    fn start_with(users: &[(&str, &str)], tls: Option<bool>) -> Self {
        let dir = TempDir::new().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("repos")).expect("repos dir");
        std::fs::create_dir_all(d.join("www")).expect("www dir");
        let mut htpasswd = String::new();
        for (user, password) in users {
            let out = Command::new("htpasswd")
                .args(["-Bbn", "-C", "4", user, password])
                .output()
                .expect("run htpasswd (Debian apache2-utils)");
            assert!(out.status.success(), "htpasswd failed");
            htpasswd.push_str(String::from_utf8_lossy(&out.stdout).trim());
            htpasswd.push('\n');
        }
        std::fs::write(d.join("htpasswd"), htpasswd).expect("write htpasswd");
        let exec_path = String::from_utf8(
            Command::new("git")
                .arg("--exec-path")
                .output()
                .expect("git --exec-path")
                .stdout,
        )
        .expect("utf-8");
        let backend = format!("{}/git-http-backend", exec_path.trim());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let mut modules = String::from(
            r#""mod_alias", "mod_auth", "mod_authn_file", "mod_setenv", "mod_cgi", "mod_accesslog""#,
        );
        let mut ssl = String::new();
        let mut ca_pem = None;
        if let Some(intermediate) = tls {
            let certs = d.join("certs");
            let status = Command::new(fixtures().join("gen_certs.sh"))
                .arg(&certs)
                .stdout(Stdio::null())
                .status()
                .expect("run gen_certs.sh (needs openssl)");
            assert!(status.success(), "gen_certs.sh failed");
            modules.push_str(r#", "mod_openssl""#);
            ssl = format!(
                "ssl.engine = \"enable\"\nssl.pemfile = \"{}\"\nssl.privkey = \"{}\"\n",
                certs
                    .join(if intermediate {
                        "inter-server-chain.crt"
                    } else {
                        "server.crt"
                    })
                    .display(),
                certs
                    .join(if intermediate {
                        "inter-server.key"
                    } else {
                        "server.key"
                    })
                    .display()
            );
            ca_pem = Some(std::fs::read_to_string(certs.join("ca.crt")).expect("read ca.crt"));
        }
        // Same directives as shared/test-env/git_http_fixture.sh.
        let conf = format!(
            r#"server.bind = "127.0.0.1"
server.port = {port}
server.systemd-socket-activation = "enable"
server.document-root = "{www}"
server.errorlog = "{d}/lighttpd-error.log"
accesslog.filename = "{d}/access.log"
server.modules = ( {modules} )
alias.url = ( "/" => "{backend}/" )
cgi.assign = ( "" => "" )
setenv.set-environment = ( "GIT_PROJECT_ROOT" => "{d}/repos", "GIT_HTTP_EXPORT_ALL" => "1" )
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "{d}/htpasswd"
{auth}{ssl}"#,
            auth = if users.is_empty() {
                ""
            } else {
                "auth.require = ( \"/\" => ( \"method\" => \"basic\", \"realm\" => \"GitHub\", \"require\" => \"valid-user\" ) )\n"
            },
            www = d.join("www").display(),
            d = d.display(),
        );
        let conf_path = d.join("lighttpd.conf");
        std::fs::write(&conf_path, conf).expect("write lighttpd.conf");
        let log = std::fs::File::create(d.join("lighttpd.out")).expect("log file");
        let mut child = Command::new("sh")
            .args(["-c", LIGHTTPD_WITH_SOCKET])
            .arg(&conf_path)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start lighttpd (Debian lighttpd)");
        // The socket accepts connections already; wait until lighttpd serves them.
        let started = || {
            std::fs::read_to_string(d.join("lighttpd-error.log"))
                .is_ok_and(|log| log.contains("server started"))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !started() {
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || std::time::Instant::now() > deadline {
                stop(&mut child);
                panic!(
                    "lighttpd did not start: {}{}",
                    std::fs::read_to_string(d.join("lighttpd.out")).unwrap_or_default(),
                    std::fs::read_to_string(d.join("lighttpd-error.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        GitHttpServer {
            dir,
            child,
            base_url: format!("{scheme}://127.0.0.1:{port}"),
            ca_pem,
        }
    }

    /// Creates the bare repository `org/name` (branch `main`) and returns its
    /// path on disk.
    pub fn create_repo(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("repos").join(format!("{name}.git"));
        bare_repo(&path);
        path
    }

    /// The clone URL of `org/name` (no credentials in it).
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}.git", self.base_url)
    }

    /// lighttpd's access log (one line per request).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A private sshd serving the git transport only, on a loopback port the test bound: each
/// connection accepted there is handed to `sshd -i` (inetd mode), so no other process can
/// take the port between its choice and the server's bind.
pub struct GitSshServer {
    dir: TempDir,
    acceptor: Option<std::thread::JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    sessions: Arc<Mutex<Vec<Child>>>,
    /// The port sshd listens on.
    pub port: u16,
    /// The user to connect as (the local user running sshd).
    pub user: String,
    /// The client's private key (OpenSSH format), authorised by the server.
    pub client_key: String,
    /// A `known_hosts` line for `[127.0.0.1]:<port>` with the host key.
    pub known_hosts: String,
}

impl GitSshServer {
    /// Starts sshd with a generated ed25519 host key and client key; the
    /// forced command serves repositories under [`GitSshServer::repos`].
    ///
    /// # Panics
    /// When sshd or ssh-keygen are missing or sshd does not come up in 10 s.
    pub fn start() -> Self {
        let dir = TempDir::new().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir_all(d.join("repos")).expect("repos dir");
        for (file, comment) in [("host_ed25519", "test-host"), ("client_key", "test-client")] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
                .arg(d.join(file))
                .status()
                .expect("run ssh-keygen (Debian openssh-client)");
            assert!(status.success(), "ssh-keygen failed");
        }
        let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
            .expect("utf-8")
            .trim()
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let client_pub = std::fs::read_to_string(d.join("client_key.pub")).expect("client pub");
        let shell = fixtures().join("git_ssh_shell.sh");
        std::fs::write(
            d.join("authorized_keys"),
            format!(
                "command=\"{} {}\",no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty {}",
                shell.display(),
                d.join("repos").display(),
                client_pub.trim()
            ),
        )
        .expect("authorized_keys");
        let host_pub = std::fs::read_to_string(d.join("host_ed25519.pub")).expect("host pub");
        let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let known_hosts = format!("[127.0.0.1]:{port} {}\n", host_key.join(" "));
        // Same directives as shared/test-env/git_sshd_fixture.sh.
        let conf = format!(
            "HostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             AllowUsers {user}\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), conf).expect("sshd_config");
        // sshd exits without its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let log = std::fs::File::create(d.join("sshd.log")).expect("log file");
        // A configuration sshd refuses fails here, not at the first connection.
        let check = Command::new("/usr/sbin/sshd")
            .args(["-t", "-f"])
            .arg(d.join("sshd_config"))
            .output()
            .expect("run /usr/sbin/sshd (Debian openssh-server)");
        assert!(
            check.status.success(),
            "sshd refuses its configuration: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let stopping = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(Mutex::new(Vec::<Child>::new()));
        let acceptor = {
            let (stopping, sessions, config) =
                (stopping.clone(), sessions.clone(), d.join("sshd_config"));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (Ok(output), Ok(log)) = (stream.try_clone(), log.try_clone()) else {
                        continue;
                    };
                    let session = Command::new("/usr/sbin/sshd")
                        .args(["-i", "-e", "-f"])
                        .arg(&config)
                        .stdin(Stdio::from(std::os::fd::OwnedFd::from(stream)))
                        .stdout(Stdio::from(std::os::fd::OwnedFd::from(output)))
                        .stderr(log)
                        .spawn();
                    let mut sessions = sessions.lock().unwrap_or_else(PoisonError::into_inner);
                    sessions.retain_mut(|c| c.try_wait().ok().flatten().is_none());
                    sessions.extend(session);
                }
            })
        };
        let client_key = std::fs::read_to_string(d.join("client_key")).expect("client key");
        GitSshServer {
            dir,
            acceptor: Some(acceptor),
            stopping,
            sessions,
            port,
            user,
            client_key,
            known_hosts,
        }
    }

    /// The directory under which `org/name.git` repositories are served.
    pub fn repos(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    /// Creates the bare repository `org/name` and returns its path.
    pub fn create_repo(&self, name: &str) -> PathBuf {
        let path = self.repos().join(format!("{name}.git"));
        bare_repo(&path);
        path
    }

    /// `ssh://<user>@127.0.0.1:<port>/org/name.git`.
    pub fn url(&self, name: &str) -> String {
        format!("ssh://{}@127.0.0.1:{}/{name}.git", self.user, self.port)
    }

    /// sshd's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for GitSshServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees `stopping`.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        for session in sessions.iter_mut() {
            stop(session);
        }
    }
}
