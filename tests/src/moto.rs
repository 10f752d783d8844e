//! moto in server mode (PyPI `moto[server]` 5.2.5): the AWS APIs on loopback, for the ECR
//! login tests. Any AWS keys are accepted; ECR `GetAuthorizationToken` answers
//! `base64("AWS:<account>-auth-token")` (account `123456789012` unless the keys name another)
//! with an expiry in 2015.
//!
//! The server is found at `$IMAGEAUTOMATION_MOTO_SERVER` (what `scripts/test.sh` exports),
//! else at `~/.cache/imageautomation/moto-5.2.5/bin/moto_server` (where it installs it), else
//! as `moto_server` on the `PATH`. It binds port 0 and the port is read from its banner. It is
//! killed and reaped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The version `scripts/test.sh` installs.
pub const MOTO_VERSION: &str = "5.2.5";

/// The ECR password moto issues for `account`.
pub fn ecr_password(account: &str) -> String {
    format!("{account}-auth-token")
}

/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

/// A running `moto_server`.
#[derive(Debug)]
pub struct Moto {
    port: u16,
    child: Option<Child>,
}

/// Where `moto_server` is, if anywhere.
pub fn moto_server_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("IMAGEAUTOMATION_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let p = PathBuf::from(home).join(format!(
            ".cache/imageautomation/moto-{MOTO_VERSION}/bin/moto_server"
        ));
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    })
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p 0`.
    ///
    /// # Panics
    /// When `moto_server` is not installed (run `scripts/test.sh`, which installs it) or does
    /// not print its address within 30 s.
    pub fn start() -> Self {
        let bin = moto_server_bin().expect(
            "moto_server not found: run scripts/test.sh (it installs moto[server] into \
             ~/.cache/imageautomation) or set IMAGEAUTOMATION_MOTO_SERVER",
        );
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        // werkzeug prints " * Running on http://127.0.0.1:PORT" on stderr (stdout in some
        // versions): read both.
        let (tx, rx) = mpsc::channel::<String>();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        // Keep draining so moto never blocks on a full pipe.
                        continue;
                    }
                }
            });
        }
        drop(tx);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        while std::time::Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(port) = line
                        .split("http://127.0.0.1:")
                        .nth(1)
                        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|p| p.parse::<u16>().ok())
                    {
                        return Self {
                            port,
                            child: Some(child),
                        };
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server did not start: {seen:?}");
    }

    /// `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
