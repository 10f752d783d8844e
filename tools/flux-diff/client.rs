//! The Rust end of the flux-diff protocol (`tools/flux-diff/README.md`): starts one of the Go
//! oracles, sends it requests in batches, and runs proptest-generated cases against it.
//!
//! Shared by the differential tests of imageautomation-policy and imageautomation-update, which
//! include this file with `#[path]`: the protocol's two ends live side by side.

use std::fmt::Debug;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::Value;

/// The script that builds the oracles.
pub const BUILD_SCRIPT: &str = "scripts/build-flux-diff.sh";

/// Cases per property unless `DIFF_CASES` says otherwise.
const DEFAULT_CASES: usize = 10_000;

/// Requests per round trip: large enough that the pipe latency does not matter, small enough
/// that both processes work at the same time.
const BATCH: usize = 250;

/// Shrinking stops after this many oracle round trips.
const MAX_SHRINK_STEPS: usize = 4_000;

/// `IMAGEAUTOMATION_FLUX_DIFF_BIN`, else where the build script puts the oracles by default.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IMAGEAUTOMATION_FLUX_DIFF_BIN") {
        return dir.into();
    }
    let tools = std::env::var_os("IMAGEAUTOMATION_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .expect("HOME is set (or set IMAGEAUTOMATION_FLUX_DIFF_BIN)");
            PathBuf::from(home).join(".cache/imageautomation-tools")
        });
    tools.join("flux-diff/bin")
}

/// `/dev/shm` when it is a directory: a tmpfs, where writing the many small files of a run costs
/// nothing.
pub fn memory_dir() -> Option<&'static std::path::Path> {
    let shm = std::path::Path::new("/dev/shm");
    shm.is_dir().then_some(shm)
}

/// One running oracle process.
pub struct Oracle {
    program: String,
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    answers: mpsc::Receiver<String>,
}

impl Oracle {
    /// Starts `program` (`flux-diff-policy` or `flux-diff-setters`) from [`bin_dir`].
    ///
    /// Panics, naming the build script, when it is missing: a differential test that cannot
    /// run must fail, not pass silently.
    pub fn start(program: &str) -> Oracle {
        let path = bin_dir().join(program);
        if !path.is_file() {
            panic!(
                "{} is missing: run {BUILD_SCRIPT} (it builds Flux's own code into {}), or point \
                 IMAGEAUTOMATION_FLUX_DIFF_BIN at the bin directory it prints",
                path.display(),
                bin_dir().display()
            );
        }
        let mut command = Command::new(&path);
        // flux-diff-setters writes every case to files: in memory when the machine has a tmpfs.
        if let Some(shm) = memory_dir() {
            command.env("TMPDIR", shm);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stdin = child.stdin.take().expect("stdin is piped");
        // A reader thread drains the answers while requests are written, so neither pipe
        // can fill up and block both processes.
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Oracle {
            program: program.to_owned(),
            child,
            stdin: Some(BufWriter::with_capacity(1 << 20, stdin)),
            answers,
        }
    }

    /// Sends `requests` (one JSON line each) and returns the answers in the same order.
    pub fn ask(&mut self, requests: &[Value]) -> Vec<Value> {
        self.send(requests);
        self.receive(requests.len())
    }

    /// Sends `requests` without waiting for the answers (see [`Oracle::receive`]).
    pub fn send(&mut self, requests: &[Value]) {
        let stdin = self.stdin.as_mut().expect("stdin is open until drop");
        for request in requests {
            serde_json::to_writer(&mut *stdin, request).expect("writing a request");
            stdin.write_all(b"\n").expect("writing a request");
        }
        stdin.flush().expect("writing requests");
    }

    /// The next `n` answers, in the order the requests were sent.
    pub fn receive(&mut self, n: usize) -> Vec<Value> {
        let program = &self.program;
        (0..n)
            .map(|_| {
                let line = self
                    .answers
                    .recv()
                    .unwrap_or_else(|_| panic!("{program} stopped answering (its error is above)"));
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("{program} answered {line:?}: {e}"))
            })
            .collect()
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        drop(self.stdin.take()); // end of input: the oracle exits
        let _ = self.child.wait();
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

/// `DIFF_CASES`, default 10,000.
pub fn cases() -> usize {
    env_number("DIFF_CASES").unwrap_or(DEFAULT_CASES)
}

/// `DIFF_SEED`, or a fresh seed that the failure message prints.
fn seed() -> u64 {
    match env_number("DIFF_SEED") {
        Some(seed) => seed,
        None => {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            h.finish()
        }
    }
}

/// Runs [`cases`] inputs from `strategy` through `oracle`, in batches: `request` turns an input
/// into the oracle's request, `check` compares the oracle's answer with ours and explains a
/// disagreement. On disagreement the first failing input is shrunk (one oracle round trip per
/// step) and the test panics with the smallest input found, the oracle's answer, the
/// explanation, the number of failing inputs and the seed to replay the run (`DIFF_SEED`);
/// `DIFF_SHOW=<n>` prints the first n disagreements as they are found.
pub fn run<S, Q, C>(name: &str, oracle: &mut Oracle, strategy: S, request: Q, check: C)
where
    S: Strategy,
    S::Value: Debug,
    Q: Fn(&S::Value) -> Value,
    C: Fn(&S::Value, &Value) -> Result<(), String>,
{
    let total = cases();
    let seed = seed();
    let show = env_number("DIFF_SHOW").unwrap_or(0);
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let start = Instant::now();
    let mut failing = 0usize;
    let mut first: Option<S::Tree> = None;
    // A pipeline: the oracle answers one batch while the next is generated and the previous
    // one checked here, so that both processes work at the same time.
    let (mut generating, mut waiting, mut checking) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut generate = |runner: &mut TestRunner, n: usize| {
        let t = Instant::now();
        let trees: Vec<S::Tree> = (0..n)
            .map(|_| {
                strategy
                    .new_tree(runner)
                    .expect("the strategy generates inputs")
            })
            .collect();
        let requests: Vec<Value> = trees.iter().map(|t| request(&t.current())).collect();
        generating += t.elapsed();
        (trees, requests)
    };
    let mut in_flight = None;
    let mut done = 0;
    while done < total || in_flight.is_some() {
        let next = (done < total).then(|| {
            let n = BATCH.min(total - done);
            done += n;
            generate(&mut runner, n)
        });
        if let Some((trees, n)) = in_flight.take() {
            let t = Instant::now();
            let answers = oracle.receive(n);
            waiting += t.elapsed();
            if let Some((next_trees, requests)) = next {
                oracle.send(&requests);
                in_flight = Some((next_trees, requests.len()));
            }
            let t = Instant::now();
            for (tree, answer) in Vec::<S::Tree>::into_iter(trees).zip(answers) {
                if let Err(why) = check(&tree.current(), &answer) {
                    failing += 1;
                    if failing <= show {
                        eprintln!(
                            "{name}: disagreement {failing}:\nrequest: {}\nFlux:    {answer}\n{why}",
                            request(&tree.current())
                        );
                    }
                    first.get_or_insert(tree);
                }
            }
            checking += t.elapsed();
        } else if let Some((next_trees, requests)) = next {
            oracle.send(&requests);
            in_flight = Some((next_trees, requests.len()));
        }
    }
    eprintln!(
        "{name}: {total} cases against Flux in {:.2?} (generating {generating:.2?}, ours and \
         comparing {checking:.2?}, waiting for Flux {waiting:.2?}; DIFF_SEED={seed})",
        start.elapsed()
    );
    let Some(mut tree) = first else { return };

    // Shrink as proptest does: simplify while the input still disagrees, else complicate.
    let mut smallest = tree.current();
    let mut answer = oracle.ask(&[request(&smallest)]).remove(0);
    let mut why = check(&smallest, &answer).err().unwrap_or_default();
    let mut steps = 0;
    if tree.simplify() {
        while steps < MAX_SHRINK_STEPS {
            steps += 1;
            let candidate = tree.current();
            let a = oracle.ask(&[request(&candidate)]).remove(0);
            match check(&candidate, &a) {
                Err(w) => {
                    (smallest, answer, why) = (candidate, a, w);
                    if !tree.simplify() {
                        break;
                    }
                }
                Ok(()) => {
                    if !tree.complicate() {
                        break;
                    }
                }
            }
        }
    }
    panic!(
        "{name}: {failing} of {total} cases disagree with Flux (replay with DIFF_SEED={seed}).\n\
         Smallest disagreement found ({steps} shrink steps):\n{smallest:#?}\n\
         request: {}\nFlux:    {answer}\n{why}",
        request(&smallest)
    );
}
