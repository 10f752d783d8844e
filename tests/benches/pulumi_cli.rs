//! `pulumi preview` through the real CLI (built by `scripts/install-pulumi.sh`), against the CLI's
//! own floor measured in the same run:
//!
//! - floor: `pulumi preview` of an empty Pulumi YAML stack (CLI start, YAML language host, state
//!   backend; no provider);
//! - `examples/local` with nothing pending, the scan within its interval (the default `1m`): the
//!   plugin starts, the ImageRepository reuses its last scan, the UpdateAutomation clones the fleet
//!   repository read-only to compare the marked values;
//! - the same with a scan due (`interval: 1s`): the registry is scanned as well.
//!
//! Run: `cargo build --release -p pulumi-resource-imageautomation && cargo bench -p
//! imageautomation-tests --bench pulumi_cli` (needs what `scripts/test.sh` installs). Results:
//! `BENCHMARKS.md`.

use criterion::{Criterion, criterion_group, criterion_main};
use imageautomation_tests::fleet::{Fleet, repo_root};
use imageautomation_tests::pulumi::Project;

const GIT_TOKEN: &str = "ghs_benchGitToken0123456789";

fn local_stack(fleet: &Fleet, interval: Option<&str>) -> Project {
    let project = Project::copy_of(&repo_root().join("examples/local"));
    project.ok(&["stack", "init", "dev", "--non-interactive"]);
    project.set("registry", &fleet.registry.host());
    project.set("gitUrl", &fleet.url());
    if let Some(interval) = interval {
        project.set("interval", interval);
    }
    project.set_secret("gitToken", GIT_TOKEN);
    project.ok(&["up", "--yes", "--non-interactive"]);
    project
}

fn preview(c: &mut Criterion) {
    let empty_source = tempfile::TempDir::new().expect("tempdir");
    std::fs::write(
        empty_source.path().join("Pulumi.yaml"),
        "name: empty\nruntime: yaml\n",
    )
    .expect("write Pulumi.yaml");
    let empty = Project::copy_of(empty_source.path());
    empty.ok(&["stack", "init", "dev", "--non-interactive"]);
    empty.ok(&["up", "--yes", "--non-interactive"]);

    let fleet = Fleet::start(&[GIT_TOKEN]);
    let within_interval = local_stack(&fleet, None);
    let scan_due = local_stack(&fleet, Some("1s"));
    let args = ["preview", "--non-interactive", "--expect-no-changes"];

    let mut group = c.benchmark_group("pulumi_preview");
    group.sample_size(10);
    group.bench_function("baseline_empty_yaml_stack", |b| b.iter(|| empty.ok(&args)));
    group.bench_function("local_nothing_pending", |b| {
        b.iter(|| within_interval.ok(&args))
    });
    group.bench_function("local_nothing_pending_scan_due", |b| {
        b.iter(|| scan_due.ok(&args))
    });
    group.finish();
}

criterion_group!(benches, preview);
criterion_main!(benches);
