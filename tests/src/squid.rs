//! A second real forward proxy for tests: Debian's `squid`, on a free loopback port with its
//! own configuration, logs and `htpasswd` file in a temporary directory, optionally demanding
//! HTTP Basic proxy authentication (`basic_ncsa_auth`). Git over HTTPS with proxy
//! authentication is tested through it: libgit2 1.9 cannot follow tinyproxy's `407` (which
//! closes the connection, HTTP/1.0: "http parser error: Expected HTTP/"), and squid keeps it.
//!
//! Started as root, squid runs as the `proxy` user, so the directory is world-writable. Its
//! `access_log` names the user of each request: [`Squid::log`].

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::{free_port, wait_for_port};

/// A running squid, stopped on drop.
#[derive(Debug)]
pub struct Squid {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl Squid {
    /// Starts squid on `127.0.0.1`, allowing only `(user, password)` (Basic) when given,
    /// everyone otherwise, caching nothing.
    ///
    /// # Panics
    /// When `/usr/sbin/squid` (Debian package `squid`) or `htpasswd` is missing, or squid does
    /// not listen within 20 s.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ia-squid-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let port = free_port();
        let mut config = format!(
            "http_port 127.0.0.1:{port}\ncache deny all\nshutdown_lifetime 0 seconds\n\
             access_log stdio:{0}/access.log\ncache_log {0}/cache.log\n\
             pid_filename {0}/squid.pid\ncoredump_dir {0}\n",
            d.display()
        );
        match basic_auth {
            Some((user, password)) => {
                let passwd = d.join("passwd");
                let status = Command::new("htpasswd")
                    .args(["-b", "-c"])
                    .arg(&passwd)
                    .args([user, password])
                    .stderr(Stdio::null())
                    .status()
                    .expect("htpasswd (Debian package apache2-utils)");
                assert!(status.success(), "htpasswd failed");
                std::fs::set_permissions(&passwd, std::fs::Permissions::from_mode(0o644))
                    .expect("chmod passwd");
                config.push_str(&format!(
                    "auth_param basic program /usr/lib/squid/basic_ncsa_auth {}\n\
                     auth_param basic realm imageautomation-test\n\
                     acl authed proxy_auth REQUIRED\nhttp_access allow authed\n\
                     http_access deny all\n",
                    passwd.display()
                ));
            }
            None => config.push_str("http_access allow all\n"),
        }
        let conf = d.join("squid.conf");
        std::fs::write(&conf, config).expect("write squid.conf");
        let mut child = Command::new("/usr/sbin/squid")
            .args(["-N", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/squid (Debian package squid)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !wait_for_port(port, Duration::from_millis(200)) {
            let exited = child.try_wait().ok().flatten().is_some();
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(d.join("cache.log")).unwrap_or_default();
                panic!("squid did not start on port {port}: {log}");
            }
        }
        Self {
            port,
            dir,
            child: Some(child),
        }
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access log so far: one line per request, e.g. `... TCP_TUNNEL/200 3226 CONNECT
    /// 127.0.0.1:33457 fleet HIER_DIRECT/127.0.0.1 -` (the user name after the target).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
