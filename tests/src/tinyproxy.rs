//! A real forward HTTP proxy for tests: Debian's `tinyproxy` (1.11) on a free loopback port,
//! optionally demanding HTTP Basic proxy authentication (`BasicAuth`), with its own config and
//! log in a temporary directory. Usable for any HTTP client traffic (registry scans, Git over
//! HTTP): plain `http://` requests are forwarded in absolute form, `https://` ones through
//! `CONNECT` (tinyproxy's default `ConnectPort` list allows 443 and 563 only; [`TinyProxy::start`]
//! allows every port, as loopback test servers use high ones).
//!
//! tinyproxy refuses `Port 0`, so the port comes from [`crate::free_port`]; a lost race with
//! another process for it shows in the log ("Could not create listening sockets") and is
//! retried on another port. The process is killed and reaped on drop.
//!
//! Quirk: tinyproxy 1.11 answers a *wrong* proxy password with `401` and `WWW-Authenticate:
//! Basic realm="Tinyproxy"` (a missing one with `407`), which clients take for the origin's
//! own 401.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{free_port, wait_for_port};

const TINYPROXY_BIN: &str = "/usr/bin/tinyproxy";

/// A running tinyproxy, stopped on drop.
#[derive(Debug)]
pub struct TinyProxy {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl TinyProxy {
    /// Starts tinyproxy on `127.0.0.1`, requiring `Proxy-Authorization: Basic` for `(user,
    /// password)` when given (tinyproxy answers 407 otherwise). It logs every request line at
    /// `LogLevel Info` ([`TinyProxy::log`], [`TinyProxy::requests`]).
    ///
    /// # Panics
    /// When `/usr/bin/tinyproxy` (Debian package `tinyproxy`) is missing or does not listen
    /// within 10 s on three ports in a row.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ia-tinyproxy-")
            .tempdir()
            .expect("tempdir");
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = dir.path().join("tinyproxy.log");
            let _ = std::fs::remove_file(&log);
            let mut config = format!(
                "Port {port}\nListen 127.0.0.1\nBind 127.0.0.1\nTimeout 60\nMaxClients 100\n\
                 LogFile \"{}\"\nLogLevel Info\nDisableViaHeader Yes\n",
                log.display()
            );
            if let Some((user, password)) = basic_auth {
                config.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            // No ConnectPort line: every CONNECT port is allowed.
            let conf = dir.path().join("tinyproxy.conf");
            std::fs::write(&conf, config).expect("write tinyproxy.conf");
            let mut child = Command::new(TINYPROXY_BIN)
                .arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start /usr/bin/tinyproxy (Debian package tinyproxy)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                last_log = std::fs::read_to_string(&log).unwrap_or_default();
                if last_log.contains("Accepting connections")
                    && wait_for_port(port, Duration::from_millis(500))
                {
                    return Self {
                        port,
                        dir,
                        child: Some(child),
                    };
                }
                let exited = child.try_wait().ok().flatten().is_some();
                if exited || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("tinyproxy did not start: {last_log}");
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The request lines tinyproxy logged, in order (`GET http://127.0.0.1:5000/v2/ HTTP/1.1`,
    /// `CONNECT 127.0.0.1:5443 HTTP/1.1`), including those it then refused with 407.
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor ").map(|(_, r)| r))
            .filter_map(|r| r.split_once("): ").map(|(_, line)| line.to_string()))
            .collect()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("tinyproxy.log")
    }
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
