//! Test support for the end-to-end tests: the real servers (registry, Git over
//! HTTP and SSH) that the tests start on free loopback ports and stop on drop,
//! the engine harness, and the real `pulumi` CLI run offline.
//!
//! Nothing here is used by the product crates; it knows only how to start and
//! stop the components described in `README.md` ("Tests").

pub mod cloud_fakes;
pub mod engine;
pub mod faults;
pub mod fleet;
pub mod git_server;
pub mod github_fake;
pub mod kube_cluster;
pub mod kube_samples;
pub mod kube_schema;
pub mod moto;
pub mod pulumi;
pub mod registry;
pub mod signing_keys;
pub mod squid;
pub mod synthetic_registry;
pub mod tinyproxy;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this
/// process has not handed out before.
///
/// The port is found by binding `127.0.0.1:0` and closing the socket: a port where
/// nothing listens, for tests of an unreachable server. Servers never get one: lighttpd
/// and sshd are handed a bound socket (`git_server`), docker-registry and the Python
/// fixtures bind port 0 and report the port they got (`registry`).
///
/// # Panics
/// When the loopback interface cannot be bound (the test machine is broken).
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
///
/// Returns `false` when `timeout` passes first.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
