//! `imageautomation update`: apply the `$imagepolicy` setters to a directory.
//!
//! Contract (kept stable):
//! `imageautomation update --path DIR --policy NAMESPACE:NAME=REFERENCE... [--dry-run]
//! [--output text|json]`.
//! - `REFERENCE` is a policy's `latestRef`, `name:tag` or `name:tag@digest` (the registry part of
//!   `name` may have a port).
//! - Without `--dry-run` the changed files are rewritten in place (atomically) and a summary is
//!   printed on stdout; with `--dry-run` nothing is written and stdout carries a unified diff
//!   (`a/<path>`, `b/<path>`, applicable with `git apply` in DIR), the summary going to stderr.
//! - `--output json` prints `{"files": [{"path", "objects": [{"apiVersion", "kind", "name",
//!   "namespace", "changes": [{"oldValue", "newValue", "setter"}]}]}], "skipped": [{"path",
//!   "reason"}]}` (the [`imageautomation_update::UpdateResult`] shape); `files` is empty when
//!   nothing changed.
//! - Exit 0 whether or not anything changed; 2 for invalid arguments (clap's usage-error code);
//!   1 for I/O errors.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use imageautomation_update::{
    Error, LatestRef, Mode, ObjectId, Policies, UpdateResult, apply_setters,
};

/// Arguments of `imageautomation update`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  imageautomation update --path ./clusters/prod \\\n    \
        --policy flux-system:podinfo=ghcr.io/stefanprodan/podinfo:6.5.4 --dry-run\n\n\
        Marks a scalar with a line comment: image: ghcr.io/stefanprodan/podinfo:6.5.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n\
        (also \"<namespace>:<name>:name\", \":tag\" and \":digest\" for the parts)."
)]
pub struct Args {
    /// The directory to update, walked recursively (`*.yaml`, `*.yml`, `Kustomization`).
    /// Paths in the output are relative to it.
    #[arg(long, value_name = "DIR")]
    path: PathBuf,
    /// A policy and its latestRef: `NAMESPACE:NAME=REFERENCE`, REFERENCE being `name:tag` or
    /// `name:tag@digest`, e.g. `flux-system:podinfo=ghcr.io/stefanprodan/podinfo:6.5.4`.
    /// Repeat the flag, or give several values after it.
    #[arg(long = "policy", value_name = "NAMESPACE:NAME=REFERENCE", required = true, num_args = 1.., value_parser = parse_policy)]
    policies: Vec<PolicyArg>,
    /// Write nothing; print a unified diff of what would change.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A summary (or, with `--dry-run`, a unified diff).
    Text,
    /// The result as one JSON object.
    Json,
}

/// One parsed `--policy`.
#[derive(Debug, Clone)]
struct PolicyArg {
    key: String,
    latest: LatestRef,
}

const IO_ERROR: u8 = 1;
const INVALID: u8 = 2;

/// A Kubernetes object name: lowercase alphanumerics, '-' and '.', starting and ending with an
/// alphanumeric, at most 253 characters (DNS-1123 subdomain).
fn valid_object_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
}

fn parse_policy(s: &str) -> Result<PolicyArg, String> {
    const SHAPE: &str = "expected NAMESPACE:NAME=REFERENCE, e.g. flux-system:podinfo=ghcr.io/stefanprodan/podinfo:6.5.4";
    let Some((key, reference)) = s.split_once('=') else {
        return Err(format!("no '=' in {s:?}: {SHAPE}"));
    };
    let Some((namespace, name)) = key.split_once(':') else {
        return Err(format!("{key:?} is not NAMESPACE:NAME: {SHAPE}"));
    };
    for (what, v) in [("namespace", namespace), ("name", name)] {
        if !valid_object_name(v) {
            return Err(format!(
                "{what} {v:?} is not a Kubernetes object name (lowercase letters, digits, '-' and '.'): {SHAPE}"
            ));
        }
    }
    let latest: LatestRef = reference.parse().map_err(|e: Error| format!("{e}"))?;
    Ok(PolicyArg {
        key: format!("{namespace}:{name}"),
        latest,
    })
}

/// Runs `imageautomation update`.
pub fn run(args: Args) -> ExitCode {
    let mut policies = Policies::new();
    for p in &args.policies {
        if let Some(previous) = policies.insert(p.key.clone(), p.latest.clone())
            && previous != p.latest
        {
            return fail(
                INVALID,
                &format!(
                    "--policy {} is given twice with different references ({previous} and {}); give each policy once",
                    p.key, p.latest
                ),
            );
        }
    }
    let mode = if args.dry_run {
        Mode::DryRun
    } else {
        Mode::Write
    };
    let result = match apply_setters(&args.path, ".", &policies, mode) {
        Ok(r) => r,
        Err(e) => {
            let code = match e {
                Error::Io { .. } | Error::Walk { .. } => IO_ERROR,
                _ => INVALID,
            };
            return fail(code, &format!("--path {}: {e}", args.path.display()));
        }
    };
    let printed = match args.output {
        Output::Json => serde_json::to_string_pretty(&result)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(std::io::stdout(), "{json}")),
        Output::Text => print_text(&result, args.dry_run),
    };
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(IO_ERROR, &format!("writing the output: {e}")),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn describe(o: &ObjectId) -> String {
    let kind = if o.kind.is_empty() {
        "(no kind)"
    } else {
        &o.kind
    };
    match (o.namespace.as_str(), o.name.as_str()) {
        ("", "") => kind.to_owned(),
        ("", name) => format!("{kind} {name}"),
        (ns, name) => format!("{kind} {ns}/{name}"),
    }
}

/// The summary; with `dry_run`, the diff on stdout and the summary on stderr.
fn print_text(result: &UpdateResult, dry_run: bool) -> std::io::Result<()> {
    let mut summary = String::new();
    let mut values = 0;
    for file in &result.files {
        summary.push_str(&format!(
            "{} {}\n",
            if dry_run { "would update" } else { "updated" },
            file.path
        ));
        for o in &file.objects {
            summary.push_str(&format!("  {}\n", describe(&o.object)));
            for c in &o.changes {
                values += 1;
                summary.push_str(&format!(
                    "    {} -> {} ({})\n",
                    shown(&c.old_value),
                    shown(&c.new_value),
                    c.setter
                ));
            }
        }
    }
    let mut skipped = BTreeMap::new();
    for s in &result.skipped {
        skipped.insert(&s.path, &s.reason);
    }
    let files = result.files.len();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    summary.push_str(&if files == 0 {
        "no changes\n".to_owned()
    } else {
        format!(
            "{} {} in {}{}\n",
            if dry_run { "would change" } else { "changed" },
            plural(values, "value", "values"),
            plural(files, "file", "files"),
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        )
    });

    let mut err = std::io::stderr().lock();
    for (path, reason) in skipped {
        writeln!(err, "warning: skipped {path}: {reason}")?;
    }
    let mut out = std::io::stdout().lock();
    if dry_run {
        for file in &result.files {
            if let Some(diff) = &file.diff {
                out.write_all(diff.as_bytes())?;
            }
        }
        out.flush()?;
        err.write_all(summary.as_bytes())
    } else {
        out.write_all(summary.as_bytes())
    }
}

fn shown(v: &str) -> String {
    if v.is_empty() {
        "\"\"".to_owned()
    } else {
        v.to_owned()
    }
}
