//! A fault-injecting TCP proxy for the fault tests (issue #15 §2): it sits between the code
//! under test and a real server on loopback (the registry, Git over smart HTTP) and forwards
//! bytes both ways, until a request that contains an armed marker (`/tags/list`,
//! `git-receive-pack`) arrives. Then it breaks that connection as the armed [`Fault`] says:
//! a reset or a clean close part-way through the response, a request cut part-way, a
//! response the server sent in full but the client never gets, a stall, a delay.
//!
//! Faults match the bytes of HTTP/1.1 requests (plain text on loopback), which is all the
//! tests need; each armed fault fires on as many matching requests as it was armed for, and
//! the connections after it pass through untouched.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does to a connection once one of its requests matched an armed marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards the response's headers and `body_bytes` bytes of its body, then resets the
    /// connection (TCP RST): "connection reset by peer" in the middle of a body.
    ResetResponse {
        /// Bytes of the body the client gets.
        body_bytes: usize,
    },
    /// Forwards the response's headers and `body_bytes` bytes of its body, then closes the
    /// connection cleanly (FIN): a truncated body, shorter than its `Content-Length` or
    /// without its last chunk.
    TruncateResponse {
        /// Bytes of the body the client gets.
        body_bytes: usize,
    },
    /// Forwards `bytes` bytes of the matched request (counted from the marker's first byte),
    /// then resets both sides: the server gets a request that ends part-way.
    CutRequest {
        /// Bytes of the request the server gets, from the marker on.
        bytes: usize,
    },
    /// Forwards the whole request and lets the server answer in full, then resets the
    /// client's connection without forwarding a byte of the answer: the server did the work
    /// (a push landed), the client cannot know.
    DropResponse,
    /// As [`Fault::DropResponse`], but the client's connection is held open, silent, until
    /// [`FaultProxy::release`] or the client closes it: the client waits on a server that has
    /// already finished.
    HoldResponse,
    /// Forwards nothing more either way: the client waits until its own timeout, or until
    /// [`FaultProxy::release`], which resets the connection.
    Stall,
    /// Holds the response back for this long, then forwards it whole.
    Delay(Duration),
    /// Holds the response back until [`FaultProxy::release`], then forwards it whole: lets a
    /// test act while the client waits (push a competing commit, start a second run).
    Pause,
}

/// A fault armed for the next `times` requests that contain `marker`.
#[derive(Debug)]
struct Armed {
    marker: Vec<u8>,
    fault: Fault,
    times: usize,
}

#[derive(Debug, Default)]
struct State {
    armed: Vec<Armed>,
    /// Faults that fired, in order.
    fired: Vec<Fault>,
    /// Held or stalled responses whose server side has finished (see [`FaultProxy::wait_for_held`]).
    held: usize,
    /// Connections accepted.
    connections: usize,
    /// Bumped by [`FaultProxy::release`].
    releases: usize,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    /// Every connection's two sockets, to reset them all when the proxy stops.
    sockets: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The proxy, listening on `127.0.0.1:<port>` and forwarding to one upstream address; it
/// stops, resetting every open connection, when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`host:port`).
    ///
    /// # Panics
    /// When loopback cannot be bound.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let addr = listener.local_addr().expect("local addr");
        let upstream: SocketAddr = upstream.parse().expect("upstream is host:port");
        let shared = Arc::new(Shared::default());
        let accept = Arc::clone(&shared);
        thread::spawn(move || {
            for client in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                accept.state().connections += 1;
                let Ok(server) = TcpStream::connect(upstream) else {
                    reset(&client);
                    continue;
                };
                let shared = Arc::clone(&accept);
                thread::spawn(move || serve(client, server, &shared));
            }
        });
        FaultProxy { addr, shared }
    }

    /// `127.0.0.1:<port>`: put it where the server's address was.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Arms `fault` for the next `times` requests whose bytes contain `marker` (checked in
    /// the order armed).
    pub fn arm(&self, marker: &str, fault: Fault, times: usize) {
        self.shared.state().armed.push(Armed {
            marker: marker.as_bytes().to_vec(),
            fault,
            times,
        });
    }

    /// Disarms every fault not yet fired; connections already broken stay broken.
    pub fn disarm(&self) {
        self.shared.state().armed.clear();
    }

    /// The faults that fired so far.
    pub fn fired(&self) -> Vec<Fault> {
        self.shared.state().fired.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.state().connections
    }

    /// Waits until `n` faults have fired; `false` when `timeout` passes first.
    pub fn wait_for_fired(&self, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.fired.len() >= n)
    }

    /// Waits until `n` held, paused or stalled responses have been finished by the server (for
    /// [`Fault::HoldResponse`]) or have begun (for [`Fault::Pause`] and [`Fault::Stall`]);
    /// `false` when `timeout` passes first.
    pub fn wait_for_held(&self, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.held >= n)
    }

    /// Ends every hold, pause and stall: paused responses go on, held and stalled connections
    /// are reset.
    pub fn release(&self) {
        self.shared.state().releases += 1;
        self.shared.changed.notify_all();
    }

    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.release();
        let _ = TcpStream::connect(self.addr);
        let sockets = std::mem::take(
            &mut *self
                .shared
                .sockets
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for s in &sockets {
            reset(s);
        }
    }
}

/// Closes with a TCP reset: SO_LINGER 0, then close.
fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Both);
}

/// One connection's fault, once a request matched.
#[derive(Debug, Default)]
struct Connection {
    fault: Option<Fault>,
    /// The connection is over: both pumps stop.
    done: bool,
}

fn serve(client: TcpStream, server: TcpStream, shared: &Arc<Shared>) {
    {
        let mut sockets = shared
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in [&client, &server] {
            if let Ok(s) = s.try_clone() {
                sockets.push(s);
            }
        }
    }
    let connection = Arc::new(Mutex::new(Connection::default()));
    let (c, s) = (client.try_clone(), server.try_clone());
    let (Ok(client2), Ok(server2)) = (c, s) else {
        return;
    };
    let up = {
        let (shared, connection) = (Arc::clone(shared), Arc::clone(&connection));
        thread::spawn(move || requests(client2, server2, &shared, &connection))
    };
    responses(server, client, shared, &connection);
    let _ = up.join();
}

fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Client to server: watches for armed markers and cuts requests.
fn requests(
    mut client: TcpStream,
    mut server: TcpStream,
    shared: &Shared,
    connection: &Mutex<Connection>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // The last bytes seen, so that a marker split between two reads still matches.
    let mut window: VecDeque<u8> = VecDeque::new();
    // For CutRequest: bytes still to forward.
    let mut budget: Option<usize> = None;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        if lock(connection).fault.is_none() {
            window.extend(chunk);
            if let Some((fault, at)) = match_marker(shared, &window) {
                lock(connection).fault = Some(fault);
                shared.changed.notify_all();
                if let Fault::CutRequest { bytes } = fault {
                    // `at` counts from the window's start; the chunk is the window's tail.
                    let in_chunk = at.saturating_sub(window.len() - n);
                    budget = Some(in_chunk + bytes);
                }
                if matches!(fault, Fault::Stall) {
                    shared.state().held += 1;
                    shared.changed.notify_all();
                }
            }
            let keep = window.len().saturating_sub(256);
            window.drain(..keep);
        }
        let fault = lock(connection).fault;
        match fault {
            Some(Fault::Stall) => continue, // swallowed: the server never sees it
            Some(Fault::CutRequest { .. }) => {
                let left = budget.unwrap_or(0);
                if chunk.len() >= left {
                    chunk = &chunk[..left];
                    let _ = server.write_all(chunk);
                    thread::sleep(Duration::from_millis(50));
                    reset(&server);
                    reset(&client);
                    lock(connection).done = true;
                    shared.changed.notify_all();
                    break;
                }
                budget = Some(left - chunk.len());
            }
            _ => {}
        }
        if lock(connection).done || server.write_all(chunk).is_err() {
            break;
        }
    }
    // The client is gone (or the request was cut): the server may still answer, unless the
    // fault says the connection is over.
    let _ = server.shutdown(Shutdown::Write);
    let stalled = matches!(lock(connection).fault, Some(Fault::Stall));
    if stalled {
        reset(&server);
        lock(connection).done = true;
        shared.changed.notify_all();
    }
}

/// Finds the first armed marker in `window`; returns its fault and where the marker starts.
fn match_marker(shared: &Shared, window: &VecDeque<u8>) -> Option<(Fault, usize)> {
    let mut state = shared.state();
    let bytes: Vec<u8> = window.iter().copied().collect();
    let (i, at) = state.armed.iter().enumerate().find_map(|(i, a)| {
        bytes
            .windows(a.marker.len())
            .position(|w| w == a.marker.as_slice())
            .map(|at| (i, at))
    })?;
    let fault = state.armed[i].fault;
    state.armed[i].times -= 1;
    if state.armed[i].times == 0 {
        state.armed.remove(i);
    }
    state.fired.push(fault);
    Some((fault, at))
}

/// Server to client: applies the connection's fault to the response.
fn responses(
    mut server: TcpStream,
    mut client: TcpStream,
    shared: &Shared,
    connection: &Mutex<Connection>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // Response bytes seen since the fault fired (for the header/body split and the end).
    let mut response: Vec<u8> = Vec::new();
    // How much of `response` the client got.
    let mut forwarded = 0usize;
    // Delay and Pause: the wait is over.
    let mut delayed = false;
    loop {
        let read = server.read(&mut buf);
        let n = match read {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        let fault = lock(connection).fault;
        let Some(fault) = fault else {
            if n == 0 || client.write_all(&buf[..n]).is_err() {
                break;
            }
            continue;
        };
        match fault {
            Fault::Delay(d) => {
                if !delayed {
                    thread::sleep(d);
                    delayed = true;
                }
                if n == 0 || client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Fault::ResetResponse { body_bytes } | Fault::TruncateResponse { body_bytes } => {
                response.extend_from_slice(&buf[..n]);
                let Some(header_end) = header_end(&response) else {
                    if n == 0 {
                        break;
                    }
                    continue;
                };
                let want = (header_end + body_bytes).min(response.len());
                if want > forwarded {
                    let _ = client.write_all(&response[forwarded..want]);
                    forwarded = want;
                }
                if want == header_end + body_bytes || n == 0 {
                    let _ = client.flush();
                    thread::sleep(Duration::from_millis(50));
                    if matches!(fault, Fault::ResetResponse { .. }) {
                        reset(&client);
                    } else {
                        let _ = client.shutdown(Shutdown::Both);
                    }
                    reset(&server);
                    break;
                }
            }
            Fault::DropResponse | Fault::HoldResponse => {
                response.extend_from_slice(&buf[..n]);
                if n > 0 && !response_complete(&response) {
                    continue;
                }
                if fault == Fault::HoldResponse {
                    hold(shared, connection, &client);
                }
                reset(&client);
                break;
            }
            Fault::Stall => {
                if n == 0 {
                    hold(shared, connection, &client);
                    reset(&client);
                    break;
                }
            }
            Fault::CutRequest { .. } => {
                if n == 0 || lock(connection).done || client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Fault::Pause => {
                if !delayed {
                    hold(shared, connection, &client);
                    delayed = true;
                }
                if n == 0 || client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// Counts a held response and waits until a release, the client leaving, or the proxy
/// stopping.
fn hold(shared: &Shared, connection: &Mutex<Connection>, client: &TcpStream) {
    let releases = {
        let mut state = shared.state();
        if !matches!(lock(connection).fault, Some(Fault::Stall)) {
            state.held += 1;
        }
        state.releases
    };
    shared.changed.notify_all();
    let _ = client.set_read_timeout(Some(Duration::from_millis(100)));
    let mut probe = [0u8; 1];
    loop {
        if shared.state().releases != releases || shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if lock(connection).done {
            return;
        }
        // The client's side: EOF or an error means it gave up (or was killed).
        match client.peek(&mut probe) {
            Ok(0) => return,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
            Ok(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Where the body starts: after the first `\r\n\r\n`.
fn header_end(response: &[u8]) -> Option<usize> {
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Whether `response` holds one whole HTTP response: its `Content-Length` bytes of body, or
/// the last chunk of a chunked body.
fn response_complete(response: &[u8]) -> bool {
    let Some(end) = header_end(response) else {
        return false;
    };
    let headers = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let body = &response[end..];
    if let Some(length) = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= length;
    }
    if headers.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_responses_are_recognised() {
        let cl = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab";
        assert!(!response_complete(cl));
        assert!(response_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        ));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        assert!(!response_complete(chunked));
        let mut whole = chunked.to_vec();
        whole.extend_from_slice(b"0\r\n\r\n");
        assert!(response_complete(&whole));
    }
}
