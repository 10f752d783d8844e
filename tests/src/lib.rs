//! Test support for the end-to-end tests: the real servers (registry, Git over
//! HTTP and SSH) that the tests start on free loopback ports and stop on drop,
//! the engine harness, and the real `pulumi` CLI run offline.
//!
//! Nothing here is used by the product crates; it knows only how to start and
//! stop the components described in `README.md` ("Tests").

pub mod engine;
pub mod fleet;
pub mod git_server;
pub mod github_fake;
pub mod kube_cluster;
pub mod kube_samples;
pub mod kube_schema;
pub mod pulumi;
pub mod registry;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is found by binding `127.0.0.1:0` and closing the socket, so a
/// server started right after gets it unless another process races for it.
///
/// # Panics
/// When the loopback interface cannot be bound (the test machine is broken).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
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
