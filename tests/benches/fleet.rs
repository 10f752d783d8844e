//! A fleet-sized benchmark (issue #14 part 3): 5,000 ImageRepositories and ImagePolicies over
//! 2,000,000 tags, served paginated by the synthetic registry
//! (`imageautomation_tests::synthetic_registry`, sorted tag lists made before measuring),
//! measured against floors taken in the same run:
//!
//! - floor 1: raw `reqwest` GETs of every tags page of every repository, following `Link`,
//!   bodies read and not parsed; once sequentially (one request at a time, as the plugin
//!   harness scans) and once with 4 requests in flight (the scheduler's per-registry bound,
//!   `DEFAULT_MAX_CONCURRENT_PER_REGISTRY`), both on a current-thread runtime like the CLI's;
//! - floor 2: the selection alone: `TagSelector::select_latest` of every policy over its
//!   repository's stored tags (default exclusion list applied, Flux's order), already in memory;
//! - `imageautomation run --dry-run` as a child process, of the fleet repository
//!   (`synthetic_registry::fleet`) twice: its `clusters/fleet/images` (the 10,000 image
//!   objects: scan and select), and its whole `clusters/fleet` (also an ImageUpdateAutomation
//!   over 5,000 marked Deployments, all up to date: a `file://` clone and the setters). Wall
//!   time, CPU time and peak RSS (`ru_maxrss`, from GNU time's `wait4`: the workspace forbids
//!   the `unsafe` a direct `wait4` call needs), requests per route, and the time and sampled
//!   RSS of each phase, ended by the lines of its output;
//! - a diagnosis of the run's scan and selection through the engine (`scan_image_repository`,
//!   `Scheduler`), each variant in a fresh process: the results kept as the run keeps them
//!   (a clone of the scheduler's), as the scheduler's `Arc`, or dropped once selected, with
//!   every scan started at once as the run does or 8 at a time; wall time and `VmHWM`; and the
//!   cost of compiling the default exclusion list as often as the run does;
//! - the plugin as the engine harness (`tests/src/engine.rs`) drives it: an `up` creating the
//!   5,000 + 5,000 resources, then, each in a fresh plugin process as the engine starts one per
//!   operation, a preview with nothing pending (refresh-before-update `Read` of every
//!   ImageRepository, then `Check` and `Diff` of every resource), once within the scan
//!   interval and once with every scan due (`lastScanResult.scanTime` set back). Wall time,
//!   the plugin's `VmHWM` read before it stops, CPU time of the plugin, the harness and the
//!   registry, requests; floor 3: as many empty RPCs (`GetPluginInfo`) as the preview makes.
//!
//! Run: `cargo build --release -p imageautomation -p pulumi-resource-imageautomation && cargo
//! bench -p imageautomation-tests --bench fleet` (about 5 minutes; needs `git` and GNU time,
//! Debian package `time`). Settings (environment): `FLEET_IMAGES` (5000), `FLEET_TAGS`
//! (2000000), `FLEET_RUNS` (3: repetitions of the floors and of each `run`, medians reported),
//! `FLEET_INTERVAL` (`5m`: every ImageRepository's `interval`), `FLEET_AUTOMATION` (`1`: with
//! the automation and Deployments), `FLEET_PARTS` (`floors,run,diagnosis,plugin`),
//! `FLEET_HOLD` (seconds to keep the registry and the fleet repository up after writing it,
//! for profiling `imageautomation run` by hand; it prints the command). A smoke run:
//! `FLEET_IMAGES=50 FLEET_TAGS=20000 FLEET_RUNS=1`. Results: `BENCHMARKS.md`.

use std::collections::HashMap;
use std::hint::black_box;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imageautomation_engine::reconcile::scan_image_repository;
use imageautomation_engine::{ScanRequest, Scheduler, SchedulerConfig};
use imageautomation_policy::{ImagePolicySpec, TagSelector};
use imageautomation_proto::pulumirpc::diff_response::DiffChanges;
use imageautomation_registry::{ExclusionList, sort_descending};
use imageautomation_tests::engine::{Inputs, Plugin, StackState, Urn, plugin_binary};
use imageautomation_tests::synthetic_registry::fleet::{self, FleetOptions};
use imageautomation_tests::synthetic_registry::{
    Catalog, MAX_PAGE_SIZE, RequestCounts, SyntheticRegistry,
};
use serde_json::{Value, json};

/// What to measure, from the environment.
struct Settings {
    images: usize,
    tags: usize,
    runs: usize,
    interval: String,
    automation: bool,
    parts: Vec<String>,
    hold: Option<Duration>,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("{key}={v:?} is not a number")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            images: env_or("FLEET_IMAGES", 5_000),
            tags: env_or("FLEET_TAGS", 2_000_000),
            runs: env_or("FLEET_RUNS", 3).max(1),
            interval: std::env::var("FLEET_INTERVAL").unwrap_or_else(|_| "5m".into()),
            automation: std::env::var("FLEET_AUTOMATION").map_or(true, |v| v != "0"),
            parts: std::env::var("FLEET_PARTS")
                .unwrap_or_else(|_| "floors,run,diagnosis,plugin".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect(),
            hold: std::env::var("FLEET_HOLD")
                .ok()
                .map(|_| Duration::from_secs(env_or("FLEET_HOLD", 0))),
        }
    }

    fn wants(&self, part: &str) -> bool {
        self.parts.iter().any(|p| p == part)
    }
}

/// The 1-, 5- and 15-minute load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS:`, `VmHWM:`); `None` once the process is gone.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU time of a process or thread from its `/proc/.../stat` (fields 14 and 15,
/// in USER_HZ ticks, 100 a second on Linux).
fn cpu_time(stat_path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time of this process, split into the synthetic registry's threads and the rest (the
/// harness or the floors' clients).
fn own_cpu() -> (Duration, Duration) {
    let (mut registry, mut rest) = (Duration::ZERO, Duration::ZERO);
    let total = cpu_time("/proc/self/stat").unwrap_or_default();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.starts_with("synthetic-regis") {
            registry += cpu_time(&dir.join("stat").display().to_string()).unwrap_or_default();
        }
    }
    // Threads that ended count in the total only: they were not the registry's.
    rest += total.saturating_sub(registry);
    (registry, rest)
}

/// The live child of `parent` running `binary`, from `/proc`.
fn child_running(parent: u32, binary: &Path) -> Option<u32> {
    let binary = binary.canonicalize().ok()?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after its `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent)
            && std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .as_deref()
                == Some(binary.as_path())
        {
            return Some(pid);
        }
    }
    None
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn requests(c: &RequestCounts, pages: usize) -> String {
    format!(
        "{} tag pages ({:.3} per page), {} manifest, {} /v2/, {} 404, {} other, {} connections, {:.1} MB of tag pages",
        c.tag_pages,
        c.tag_pages as f64 / pages as f64,
        c.manifests,
        c.base,
        c.not_found,
        c.other,
        c.connections,
        c.tag_bytes as f64 / 1e6
    )
}

/// The target of `Link: <target>; rel="next"` as the synthetic registry writes it.
fn link_target(value: &str) -> Option<&str> {
    value.split_once('<')?.1.split_once('>').map(|(t, _)| t)
}

/// Floor 1: every tags page of every repository, `concurrency` requests in flight on one
/// current-thread runtime and one connection pool. Returns the pages read.
fn raw_gets(host: &str, names: &Arc<Vec<String>>, concurrency: usize) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (client, names, next) = (client.clone(), Arc::clone(names), Arc::clone(&next));
            let host = host.to_owned();
            workers.spawn(async move {
                let mut pages = 0;
                while let Some(name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut url = format!("http://{host}/v2/{name}/tags/list?n={MAX_PAGE_SIZE}");
                    loop {
                        let response = client.get(&url).send().await.expect("GET a tags page");
                        assert!(response.status().is_success(), "{url}");
                        let link = response
                            .headers()
                            .get(reqwest::header::LINK)
                            .and_then(|v| v.to_str().ok())
                            .and_then(link_target)
                            .map(str::to_owned);
                        black_box(response.bytes().await.expect("the body").len());
                        pages += 1;
                        match link {
                            Some(target) => url = format!("http://{host}{target}"),
                            None => break,
                        }
                    }
                }
                pages
            });
        }
        let mut pages = 0;
        while let Some(done) = workers.join_next().await {
            pages += done.expect("a worker");
        }
        pages
    })
}

/// Floor 2 and the tag each policy selects.
struct Selection {
    compile: Duration,
    select: Vec<Duration>,
    latest: Vec<String>,
}

fn selection_floor(catalog: &Catalog, runs: usize) -> Selection {
    let exclusion = ExclusionList::new(None).expect("the default exclusion list");
    let stored: Vec<Vec<String>> = catalog
        .repositories()
        .iter()
        .map(|r| sort_descending(exclusion.filter(r.tags())))
        .collect();
    let specs: Vec<ImagePolicySpec> = catalog
        .repositories()
        .iter()
        .map(|r| serde_json::from_value(r.policy()).expect("an ImagePolicy spec"))
        .collect();
    let started = Instant::now();
    let selectors: Vec<TagSelector> = specs
        .iter()
        .map(|s| TagSelector::new(s).expect("a valid policy"))
        .collect();
    let compile = started.elapsed();
    let mut select = Vec::new();
    let mut latest = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        latest = selectors
            .iter()
            .zip(&stored)
            .map(|(s, tags)| s.select_latest(tags).expect("a tag is selected"))
            .collect();
        select.push(started.elapsed());
    }
    Selection {
        compile,
        select,
        latest,
    }
}

/// The phases of `imageautomation run`, each ended by a line of its output.
const PHASES: [(&str, &str); 4] = [
    ("read the manifests and plan", "Read "),
    ("scan every ImageRepository", "ImageRepositories:"),
    (
        "print the scans, select every ImagePolicy",
        "ImageUpdateAutomations:",
    ),
    ("run the ImageUpdateAutomation (clone, setters)", ""),
];

/// One `imageautomation run --dry-run`.
struct RunSample {
    wall: Duration,
    peak_rss_kib: Option<u64>,
    /// User + system CPU time of `imageautomation` (from GNU time).
    cpu: Option<Duration>,
    requests: RequestCounts,
    /// Per phase: how long, and the greatest RSS sampled in it (KiB).
    phases: Vec<(Duration, u64)>,
    load: (String, String),
}

fn run_dry_run(
    binary: &Path,
    dir: &Path,
    automation: bool,
    registry: &SyntheticRegistry,
    names_to_latest: &HashMap<String, String>,
    docker_config: &Path,
) -> RunSample {
    let scratch = tempfile::tempdir().expect("tempdir");
    let time_file = scratch.path().join("time.txt");
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut command = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M %U %S")
            .arg("-o")
            .arg(&time_file)
            .arg(binary);
        c
    } else {
        Command::new(binary)
    };
    command
        .arg("run")
        .arg(dir)
        .arg("--dry-run")
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("GITHUB_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let load_before = load_average();
    let before = registry.counts();
    let started = Instant::now();
    let mut child = command.spawn().expect("imageautomation starts");
    let spawned = child.id();
    let phase = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let peaks = Arc::new(Mutex::new(vec![0u64; PHASES.len()]));
    let sampled_hwm = Arc::new(Mutex::new(0u64));
    let sampler = {
        let (phase, done, peaks, hwm) = (
            Arc::clone(&phase),
            Arc::clone(&done),
            Arc::clone(&peaks),
            Arc::clone(&sampled_hwm),
        );
        let binary = binary.to_owned();
        std::thread::spawn(move || {
            let mut pid = (!gnu_time).then_some(spawned);
            while !done.load(Ordering::Relaxed) {
                if pid.is_none() {
                    pid = child_running(spawned, &binary);
                }
                if let Some(pid) = pid
                    && let Some(rss) = status_kib(pid, "VmRSS:")
                {
                    let p = phase.load(Ordering::Relaxed).min(PHASES.len() - 1);
                    let mut peaks = peaks.lock().expect("peaks");
                    peaks[p] = peaks[p].max(rss);
                    if let Some(h) = status_kib(pid, "VmHWM:") {
                        let mut hwm = hwm.lock().expect("hwm");
                        *hwm = (*hwm).max(h);
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut ends = vec![None; PHASES.len()];
    let (mut scanned, mut wrong, mut selected, mut unchanged) = (0, Vec::new(), 0, false);
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    for line in stdout.lines() {
        let line = line.expect("UTF-8 output");
        let p = phase.load(Ordering::Relaxed);
        if p < PHASES.len() - 1 && line.starts_with(PHASES[p].1) {
            ends[p] = Some(started.elapsed());
            phase.store(p + 1, Ordering::Relaxed);
        }
        if line.contains(": scanned ") {
            scanned += 1;
        }
        if let Some((id, reference)) = line.trim().split_once(": selected ") {
            selected += 1;
            let name = id.rsplit_once('/').map_or(id, |(_, n)| n);
            let tag = reference.rsplit_once(':').map_or("", |(_, t)| t);
            if names_to_latest.get(name).map(String::as_str) != Some(tag) {
                wrong.push(line.clone());
            }
        }
        unchanged |= line.contains("no change: the markers are up to date");
    }
    let status = child.wait().expect("wait for imageautomation");
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler");
    let stderr = stderr_reader.join().expect("the stderr reader");
    let failed = stderr.lines().filter(|l| l.starts_with("error:")).count();
    let stderr: Vec<&str> = stderr.lines().take(20).collect();
    let stderr = format!("{failed} error line(s); the first:\n{}", stderr.join("\n"));
    assert!(status.success(), "imageautomation run failed: {stderr}");
    assert_eq!(scanned, names_to_latest.len(), "scans: {stderr}");
    assert_eq!(selected, names_to_latest.len(), "selections: {stderr}");
    assert!(
        wrong.is_empty(),
        "selections differ from the floor: {:?}",
        &wrong[..wrong.len().min(5)]
    );
    assert!(
        unchanged || !automation,
        "the markers were expected up to date"
    );
    // GNU time's last line: `<max RSS KiB> <user s> <system s>`.
    let time_line = std::fs::read_to_string(&time_file)
        .ok()
        .and_then(|t| t.lines().last().map(str::to_owned))
        .unwrap_or_default();
    let time_fields: Vec<&str> = time_line.split_whitespace().collect();
    let peak_rss_kib = if gnu_time {
        time_fields.first().and_then(|v| v.parse().ok())
    } else {
        Some(*sampled_hwm.lock().expect("hwm"))
    };
    let cpu = match time_fields[..] {
        [_, user, system] => user
            .parse::<f64>()
            .ok()
            .zip(system.parse::<f64>().ok())
            .map(|(u, s)| Duration::from_secs_f64(u + s)),
        _ => None,
    };
    let peaks = peaks.lock().expect("peaks").clone();
    let mut phases = Vec::new();
    let mut previous = Duration::ZERO;
    for (i, end) in ends.iter().enumerate() {
        let end = end.unwrap_or(wall);
        phases.push((end.saturating_sub(previous), peaks[i]));
        previous = end;
    }
    RunSample {
        wall,
        peak_rss_kib,
        cpu,
        requests: registry.counts() - before,
        phases,
        load: (load_before, load_average()),
    }
}

/// The Pulumi program: an ImageRepository and an ImagePolicy per repository.
fn program(registry: &SyntheticRegistry, interval: &str) -> Vec<(Urn, Inputs)> {
    let mut program: Vec<(Urn, Inputs)> = Vec::new();
    for repository in registry.catalog().repositories() {
        let name = fleet::object_name(repository);
        let image = registry.image(&repository.name);
        let interval = interval.to_owned();
        program.push((
            Urn::new("imageautomation:index:ImageRepository", &name),
            Box::new(move |_: &StackState| json!({"image": image, "interval": interval})),
        ));
        let policy = repository.policy();
        let repo = name.clone();
        program.push((
            Urn::new(
                "imageautomation:index:ImagePolicy",
                &format!("{name}-policy"),
            ),
            Box::new(move |s: &StackState| {
                let mut inputs = policy.clone();
                inputs["name"] = json!(repo);
                inputs["imageRepositoryRef"] = s[&repo].outputs["imageRepositoryRef"].clone();
                inputs
            }),
        ));
    }
    program
}

/// One plugin operation.
struct PluginSample {
    wall: Duration,
    /// Preview only: the refresh (`Read`s) and the `Check` + `Diff` calls.
    refresh: Duration,
    check_diff: Duration,
    peak_rss_kib: Option<u64>,
    /// CPU time of the plugin process, of the harness (this process but the registry), of the
    /// registry's threads.
    cpu: (Option<Duration>, Duration, Duration),
    requests: RequestCounts,
    load: (String, String),
}

/// CPU time of `plugin` (alive), and of this process's harness and registry threads since
/// `before` (from [`own_cpu`]).
fn cpu_split(
    plugin: Option<u32>,
    before: (Duration, Duration),
) -> (Option<Duration>, Duration, Duration) {
    let (registry, harness) = own_cpu();
    (
        plugin.and_then(|p| cpu_time(&format!("/proc/{p}/stat"))),
        harness.saturating_sub(before.1),
        registry.saturating_sub(before.0),
    )
}

async fn start_plugin(docker_config: &Path) -> (Plugin, Option<u32>) {
    let docker = docker_config.display().to_string();
    let mut plugin = Plugin::start(&[("DOCKER_CONFIG", &docker)]).await;
    plugin.configure(json!({})).await.expect("Configure");
    let pid = child_running(std::process::id(), &plugin_binary());
    (plugin, pid)
}

async fn plugin_up(
    program: &[(Urn, Inputs)],
    registry: &SyntheticRegistry,
    docker_config: &Path,
) -> (StackState, PluginSample) {
    let load_before = load_average();
    let before = registry.counts();
    let cpu_before = own_cpu();
    let started = Instant::now();
    let (mut plugin, pid) = start_plugin(docker_config).await;
    let mut state = StackState::new();
    plugin
        .deploy(program, &mut state, false)
        .await
        .expect("the up");
    let wall = started.elapsed();
    let peak_rss_kib = pid.and_then(|p| status_kib(p, "VmHWM:"));
    let cpu = cpu_split(pid, cpu_before);
    plugin.stop().await;
    let sample = PluginSample {
        wall,
        refresh: Duration::ZERO,
        check_diff: wall,
        peak_rss_kib,
        cpu,
        requests: registry.counts() - before,
        load: (load_before, load_average()),
    };
    (state, sample)
}

/// A preview with nothing pending, as the engine runs it on a fresh plugin process: the
/// refresh-before-update `Read`s, then `Check` and `Diff` of every resource in program order.
async fn plugin_preview(
    program: &[(Urn, Inputs)],
    state: &StackState,
    registry: &SyntheticRegistry,
    docker_config: &Path,
) -> PluginSample {
    let mut state = state.clone();
    let load_before = load_average();
    let before = registry.counts();
    let cpu_before = own_cpu();
    let started = Instant::now();
    let (mut plugin, pid) = start_plugin(docker_config).await;
    let refreshing = Instant::now();
    plugin
        .refresh_before_update(program, &mut state)
        .await
        .expect("the refresh");
    let refresh = refreshing.elapsed();
    let diffing = Instant::now();
    for (urn, inputs) in program {
        let old = state[&urn.name].clone();
        let news = inputs(&state);
        let checked = plugin
            .check(urn, &old.inputs, &news)
            .await
            .expect("Check")
            .unwrap_or_else(|f| panic!("{}: check failures {f:?}", urn.name));
        let diff = plugin
            .diff(urn, &old.id, &old.outputs, &old.inputs, &checked)
            .await
            .expect("Diff");
        assert_eq!(
            diff.changes,
            DiffChanges::DiffNone as i32,
            "{}: a change is pending: {:?}",
            urn.name,
            diff.diffs
        );
        if let Some(resource) = state.get_mut(&urn.name) {
            resource.inputs = checked;
        }
    }
    let check_diff = diffing.elapsed();
    let wall = started.elapsed();
    let peak_rss_kib = pid.and_then(|p| status_kib(p, "VmHWM:"));
    let cpu = cpu_split(pid, cpu_before);
    plugin.stop().await;
    PluginSample {
        wall,
        refresh,
        check_diff,
        peak_rss_kib,
        cpu,
        requests: registry.counts() - before,
        load: (load_before, load_average()),
    }
}

/// `state` as it is once every scan is due: each ImageRepository's `lastScanResult.scanTime`
/// set back to the start of 2026.
fn aged(state: &StackState) -> StackState {
    let mut state = state.clone();
    for resource in state.values_mut() {
        if let Some(scan) = resource.outputs.get_mut("lastScanResult")
            && scan.get("scanTime").is_some()
        {
            scan["scanTime"] = Value::String("2026-01-01T00:00:00Z".into());
        }
    }
    state
}

/// `GetPluginInfo` `calls` times on a fresh plugin: the floor of the engine's round trips.
async fn rpc_floor(calls: usize, docker_config: &Path) -> Duration {
    let (mut plugin, _) = start_plugin(docker_config).await;
    let started = Instant::now();
    for _ in 0..calls {
        plugin
            .client
            .get_plugin_info(())
            .await
            .expect("GetPluginInfo");
    }
    let took = started.elapsed();
    plugin.stop().await;
    took
}

/// The environment variable that makes this benchmark a diagnosis child; its value is the
/// variant (one of [`VARIANTS`]). The registry's host is in [`CHILD_REGISTRY`].
const CHILD_VARIANT: &str = "FLEET_CHILD";
const CHILD_REGISTRY: &str = "FLEET_CHILD_REGISTRY";

/// How the diagnosis keeps the scan results of `imageautomation run`'s scan and selection.
const VARIANTS: [(&str, &str); 4] = [
    (
        "clone",
        "every `scan_image_repository` result kept, then every selection (as `imageautomation run` did before it streamed; the result used to be a clone of the scheduler's, now it is shared)",
    ),
    (
        "arc",
        "the scheduler's `Arc<ScanResult>` kept instead of a clone",
    ),
    (
        "streamed",
        "each policy selected as its scan completes, then its tags dropped and the scheduler's result forgotten",
    ),
    (
        "bounded",
        "streamed, with at most 8 scans started at a time instead of all of them",
    ),
];

/// Scans started at once by the `bounded` variant: twice the scheduler's per-registry bound.
const BOUNDED: usize = 8;

/// What a diagnosis task keeps.
enum Kept {
    Arc(Arc<imageautomation_registry::ScanResult>),
    Selected(String),
}

/// In a child process: `imageautomation run`'s scan and selection (`provider/cli/src/run/
/// execute.rs`: every scan started at once through one `Scheduler`, on a current-thread
/// runtime) with the results kept as `variant` says; prints the time and `VmHWM`. The `clone`
/// variant also times the default exclusion list's compilation, 3 per ImageRepository as the
/// run does it (`run/plan.rs`, `reconcile/image_repository.rs`, `Scheduler::scan`).
fn scan_child(variant: &str, host: &str, settings: &Settings) {
    let catalog = Catalog::fleet(settings.images, settings.tags);
    let n = catalog.repositories().len();
    if variant == "clone" {
        let started = Instant::now();
        for _ in 0..3 * n {
            black_box(ExclusionList::new(None).expect("the default exclusion list"));
        }
        println!(
            "    ExclusionList::new(None) x {}: {}",
            3 * n,
            secs(started.elapsed())
        );
    }
    let work: Vec<(ScanRequest, Arc<TagSelector>)> = catalog
        .repositories()
        .iter()
        .map(|r| {
            let spec: ImagePolicySpec =
                serde_json::from_value(r.policy()).expect("an ImagePolicy spec");
            (
                ScanRequest::new(format!("{host}/{}", r.name)),
                Arc::new(TagSelector::new(&spec).expect("a valid policy")),
            )
        })
        .collect();
    let rss_before = status_kib(std::process::id(), "VmRSS:").unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let scheduler = Arc::new(Scheduler::new(SchedulerConfig::default()));
    let started = Instant::now();
    let selected = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        let mut kept: Vec<Option<Kept>> = (0..n).map(|_| None).collect();
        for (i, (request, selector)) in work.iter().cloned().enumerate() {
            if variant == "bounded" && tasks.len() >= BOUNDED {
                let (i, k) = tasks
                    .join_next()
                    .await
                    .expect("a task is running")
                    .expect("a scan task");
                kept[i] = Some(k);
            }
            let scheduler = Arc::clone(&scheduler);
            let variant = variant.to_owned();
            tasks.spawn(async move {
                let kept = match variant.as_str() {
                    // The engine's reconcile (it used to copy the scan result; now it shares it).
                    "clone" => Kept::Arc(
                        scan_image_repository(&scheduler, &request, None, chrono::Utc::now())
                            .await
                            .expect("a scan")
                            .result,
                    ),
                    "arc" => Kept::Arc(scheduler.scan(&request).await.expect("a scan")),
                    _ => {
                        let result = scheduler.scan(&request).await.expect("a scan");
                        let tag = selector.select_latest(&result.tags).expect("a selection");
                        drop(result);
                        scheduler.forget(&request);
                        Kept::Selected(tag)
                    }
                };
                (i, kept)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (i, k) = done.expect("a scan task");
            kept[i] = Some(k);
        }
        kept.iter()
            .zip(&work)
            .map(|(k, (_, selector))| match k {
                Some(Kept::Arc(result)) => selector.select_latest(&result.tags),
                Some(Kept::Selected(tag)) => Ok(tag.clone()),
                None => panic!("a scan did not finish"),
            })
            .collect::<Result<Vec<String>, _>>()
            .expect("every policy selects a tag")
    });
    let wall = started.elapsed();
    println!(
        "    {variant}: scan + select {}, VmHWM {} (VmRSS before the scans {}), {} selected",
        secs(wall),
        status_kib(std::process::id(), "VmHWM:").map_or("?".into(), mib),
        mib(rss_before),
        selected.len()
    );
}

/// Runs [`scan_child`] for every variant, each in a fresh process.
fn diagnosis(registry: &SyntheticRegistry, pages: usize) {
    println!("diagnosis of run's scan and selection, each in a fresh process:");
    let exe = std::env::current_exe().expect("the benchmark's path");
    for (variant, what) in VARIANTS {
        let before = registry.counts();
        let out = Command::new(&exe)
            .env(CHILD_VARIANT, variant)
            .env(CHILD_REGISTRY, registry.host())
            .env("DOCKER_CONFIG", "/nonexistent")
            .output()
            .expect("the diagnosis child");
        assert!(
            out.status.success(),
            "diagnosis {variant} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
        println!(
            "        ({what}; requests: {})",
            requests(&(registry.counts() - before), pages)
        );
    }
}

fn report_plugin(what: &str, s: &PluginSample, pages: usize) {
    println!(
        "{what}: {} (refresh {}, Check + Diff {}), peak RSS {}, CPU: plugin {}, harness {}, registry {}; load {} -> {}\n    requests: {}",
        secs(s.wall),
        secs(s.refresh),
        secs(s.check_diff),
        s.peak_rss_kib.map_or("?".into(), mib),
        s.cpu.0.map_or("?".into(), secs),
        secs(s.cpu.1),
        secs(s.cpu.2),
        s.load.0,
        s.load.1,
        requests(&s.requests, pages)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; this is no criterion benchmark (one long run each).
    let settings = Settings::from_env();
    if let (Ok(variant), Ok(host)) = (std::env::var(CHILD_VARIANT), std::env::var(CHILD_REGISTRY)) {
        scan_child(&variant, &host, &settings);
        return;
    }
    println!(
        "fleet benchmark: {} images, {} tags, {} run(s), interval {}, automation {}, parts {:?}; load {}",
        settings.images,
        settings.tags,
        settings.runs,
        settings.interval,
        settings.automation,
        settings.parts,
        load_average()
    );
    let catalog = Arc::new(Catalog::fleet(settings.images, settings.tags));
    let pages = catalog.tag_pages();
    let mut counts: Vec<usize> = catalog.repositories().iter().map(|r| r.tag_count).collect();
    counts.sort_unstable();
    println!(
        "catalog: {} tags, {} pages of {MAX_PAGE_SIZE}; per repository: greatest {}, median {}, least {}, {} with 10,000 or more",
        catalog.total_tags(),
        pages,
        counts[counts.len() - 1],
        counts[counts.len() / 2],
        counts[0],
        counts.iter().filter(|&&c| c >= 10_000).count()
    );
    let registry = SyntheticRegistry::start(Arc::clone(&catalog));
    println!(
        "registry on {}: every sorted tag list made in {}",
        registry.host(),
        secs(registry.warm())
    );
    let names: Arc<Vec<String>> = Arc::new(
        catalog
            .repositories()
            .iter()
            .map(|r| r.name.clone())
            .collect(),
    );
    let docker_config = tempfile::tempdir().expect("an empty Docker config directory");

    let mut floors = Vec::new();
    if settings.wants("floors") {
        for (what, concurrency) in [("sequential", 1), ("4 in flight", 4)] {
            let mut walls = Vec::new();
            let mut last = RequestCounts::default();
            let mut cpu = (Duration::ZERO, Duration::ZERO);
            for _ in 0..settings.runs {
                let before = registry.counts();
                let cpu_before = own_cpu();
                let started = Instant::now();
                let read = raw_gets(&registry.host(), &names, concurrency);
                walls.push(started.elapsed());
                let cpu_after = own_cpu();
                cpu = (cpu_after.0 - cpu_before.0, cpu_after.1 - cpu_before.1);
                last = registry.counts() - before;
                assert_eq!(read, pages, "pages read");
            }
            println!(
                "floor 1, raw GETs of every tags page, {what}: median {} of {:?}; CPU of the last: client {}, registry {}; load {}\n    requests: {}; server generated {} tags in {}",
                secs(median(walls.clone())),
                walls.iter().map(|w| secs(*w)).collect::<Vec<_>>(),
                secs(cpu.1),
                secs(cpu.0),
                load_average(),
                requests(&last, pages),
                last.generated_tags,
                secs(last.generate_time)
            );
            floors.push(median(walls));
        }
    }

    let selection = selection_floor(&catalog, settings.runs);
    println!(
        "floor 2, selection of {} policies over tags in memory: median {} of {:?} (compiling the policies: {})",
        catalog.repositories().len(),
        secs(median(selection.select.clone())),
        selection
            .select
            .iter()
            .map(|w| format!("{:.1} ms", w.as_secs_f64() * 1e3))
            .collect::<Vec<_>>(),
        secs(selection.compile)
    );

    if settings.wants("run") {
        let binary = plugin_binary().with_file_name("imageautomation");
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build --release -p imageautomation` first",
            binary.display()
        );
        let writing = Instant::now();
        let fleet = fleet::write(
            &catalog,
            &registry.host(),
            &selection.latest,
            &FleetOptions {
                interval: settings.interval.clone(),
                automation: settings.automation,
            },
        );
        println!(
            "fleet repository: {} files written and committed in {}",
            fleet.files,
            secs(writing.elapsed())
        );
        if let Some(hold) = settings.hold {
            println!(
                "holding for {} s: `{} run {} --dry-run` (DOCKER_CONFIG={})",
                hold.as_secs(),
                binary.display(),
                fleet.flux_dir().display(),
                docker_config.path().display()
            );
            std::thread::sleep(hold);
        }
        let names_to_latest: HashMap<String, String> = catalog
            .repositories()
            .iter()
            .zip(&selection.latest)
            .map(|(r, t)| (fleet::object_name(r), t.clone()))
            .collect();
        let mut targets = vec![(
            "the image objects only (clusters/fleet/images: scan and select)",
            fleet.flux_dir().join("images"),
            false,
        )];
        if settings.automation {
            targets.push((
                "the whole cluster (clusters/fleet: scan, select, the automation)",
                fleet.flux_dir(),
                true,
            ));
        }
        for (what, dir, automation) in targets {
            let mut walls = Vec::new();
            for i in 0..settings.runs {
                let s = run_dry_run(
                    &binary,
                    &dir,
                    automation,
                    &registry,
                    &names_to_latest,
                    docker_config.path(),
                );
                println!(
                    "run --dry-run of {what} #{}: {} (CPU {}), peak RSS {}, load {} -> {}\n    requests: {}",
                    i + 1,
                    secs(s.wall),
                    s.cpu.map_or("?".into(), secs),
                    s.peak_rss_kib.map_or("?".into(), mib),
                    s.load.0,
                    s.load.1,
                    requests(&s.requests, pages)
                );
                for ((phase, _), (took, rss)) in PHASES.iter().zip(&s.phases) {
                    if automation || !phase.starts_with("run the ImageUpdateAutomation") {
                        println!(
                            "    {phase}: {}, RSS sampled up to {}",
                            secs(*took),
                            mib(*rss)
                        );
                    }
                }
                walls.push(s.wall);
            }
            let wall = median(walls);
            print!("run --dry-run of {what}: median {}", secs(wall));
            if let [sequential, concurrent] = floors[..] {
                print!(
                    ", {:.2}x the 4-in-flight floor, {:.2}x the sequential floor, {:.2}x floor 1 (4 in flight) + floor 2",
                    wall.as_secs_f64() / concurrent.as_secs_f64(),
                    wall.as_secs_f64() / sequential.as_secs_f64(),
                    wall.as_secs_f64()
                        / (concurrent + median(selection.select.clone())).as_secs_f64()
                );
            }
            println!();
        }
    }

    if settings.wants("diagnosis") {
        diagnosis(&registry, pages);
    }

    if settings.wants("plugin") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let program = program(&registry, &settings.interval);
        runtime.block_on(async {
            let (state, up) = plugin_up(&program, &registry, docker_config.path()).await;
            report_plugin("plugin up (Check + Create of every resource)", &up, pages);
            let within = plugin_preview(&program, &state, &registry, docker_config.path()).await;
            report_plugin(
                "plugin preview, nothing pending, scans within their interval",
                &within,
                pages,
            );
            let due =
                plugin_preview(&program, &aged(&state), &registry, docker_config.path()).await;
            report_plugin(
                "plugin preview, nothing pending, every scan due",
                &due,
                pages,
            );
            let calls = 5 * catalog.repositories().len();
            let rpc = rpc_floor(calls, docker_config.path()).await;
            println!(
                "floor 3, {calls} empty RPCs (GetPluginInfo; a preview makes as many: a Read per ImageRepository, a Check and a Diff per resource): {}",
                secs(rpc)
            );
            if let [sequential, _] = floors[..] {
                println!(
                    "plugin preview with every scan due: {:.2}x the sequential floor, {:.2}x the sequential floor + floor 3",
                    due.wall.as_secs_f64() / sequential.as_secs_f64(),
                    due.wall.as_secs_f64() / (sequential + rpc).as_secs_f64()
                );
            }
        });
    }
    println!("load at the end: {}", load_average());
}
