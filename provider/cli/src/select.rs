//! `imageautomation select`: run an ImagePolicy selection over a tag list.
//!
//! Contract (kept stable): the selected original tag on stdout and exit 0;
//! exit 1 when no tag is selected; exit 2 when the policy or the arguments are
//! invalid. `--output json` prints `{"tag", "candidates", "rejected"}` (plus
//! `"error"` when there is one); `--explain` prints every rejection on stderr.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use imageautomation_policy::{ImagePolicySpec, Selection, TagSelector};
use serde_json::{Value, json};

/// Arguments of `imageautomation select`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  printf '5.0.0\\n5.0.3\\n5.1.0\\n' | imageautomation select --policy '{\"policy\":{\"semver\":{\"range\":\"5.0.x\"}}}'"
)]
pub struct Args {
    /// The ImagePolicy spec, as JSON or YAML text, or `@PATH` to read it from a
    /// file: `{"policy": {"semver": {"range": "5.0.x"}}, "filterTags":
    /// {"pattern": "...", "extract": "$ts"}}`. A whole ImagePolicy object
    /// (with `spec:`) is accepted too.
    #[arg(long, value_name = "SPEC")]
    policy: String,
    /// File with one tag per line (blank lines ignored); standard input when absent.
    #[arg(long, value_name = "PATH")]
    tags_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Print on stderr why each tag was not selected.
    #[arg(long)]
    explain: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// The selected tag and a newline.
    Text,
    /// The selection as one JSON object.
    Json,
}

const NO_TAG_SELECTED: u8 = 1;
const INVALID: u8 = 2;

/// Runs `imageautomation select`.
pub fn run(args: Args) -> ExitCode {
    let selector = match read_spec(&args.policy).and_then(|spec| Ok(TagSelector::new(&spec)?)) {
        Ok(selector) => selector,
        Err(e) => return fail(&args, INVALID, &format!("{e:#}")),
    };
    let tags = match read_tags(args.tags_file.as_ref()) {
        Ok(tags) => tags,
        Err(e) => return fail(&args, INVALID, &format!("{e:#}")),
    };
    if args.output == Output::Text && !args.explain {
        return match selector.select_latest(&tags) {
            Ok(tag) => {
                println!("{tag}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&args, NO_TAG_SELECTED, &e.to_string()),
        };
    }
    let selection = selector.explain(&tags);
    if args.explain {
        print_explanation(&selection);
    }
    let code = match &selection.result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(NO_TAG_SELECTED)
        }
    };
    match args.output {
        Output::Json => println!("{}", selection_json(&selection)),
        Output::Text => {
            if let Ok(tag) = &selection.result {
                println!("{tag}");
            }
        }
    }
    code
}

/// Reports an error on stderr (and as JSON on stdout with `--output json`).
fn fail(args: &Args, code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    if args.output == Output::Json {
        let out = json!({"tag": null, "candidates": [], "rejected": [], "error": message});
        println!("{out}");
    }
    ExitCode::from(code)
}

/// Reads SPEC: JSON or YAML text, or `@PATH`; a whole object with `spec:` too.
fn read_spec(arg: &str) -> anyhow::Result<ImagePolicySpec> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("--policy: cannot read {path}"))?,
            path.to_owned(),
        ),
        None => (arg.to_owned(), "--policy".to_owned()),
    };
    let mut value: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).with_context(|| format!("{origin}: not valid JSON"))?
    } else {
        serde_norway::from_str(&text).with_context(|| format!("{origin}: not valid YAML"))?
    };
    if !value.is_object() {
        bail!(
            "{origin}: expected an ImagePolicy spec object like {{\"policy\": {{\"semver\": {{\"range\": \"1.x\"}}}}}}"
        );
    }
    if let Some(spec) = value.get_mut("spec").filter(|s| s.is_object()) {
        value = spec.take();
    }
    serde_json::from_value(value).with_context(|| format!("{origin}: not an ImagePolicy spec"))
}

/// Reads one tag per line from `path` or standard input; blank lines ignored.
fn read_tags(path: Option<&PathBuf>) -> anyhow::Result<Vec<String>> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("--tags-file: cannot read {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the tags from standard input")?;
            text
        }
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

fn selection_json(selection: &Selection) -> Value {
    let mut out = json!({
        "tag": selection.result.as_ref().ok(),
        "candidates": selection.candidates,
        "rejected": selection.rejected.iter()
            .map(|r| json!({"tag": r.tag, "reason": r.reason.to_string()}))
            .collect::<Vec<_>>(),
    });
    if let Err(e) = &selection.result {
        out["error"] = json!(e.to_string());
    }
    out
}

fn print_explanation(selection: &Selection) {
    let mut err = std::io::stderr().lock();
    let width = selection
        .rejected
        .iter()
        .map(|r| r.tag.len())
        .max()
        .unwrap_or(0)
        .min(40);
    // Write errors on stderr cannot be reported anywhere; ignore them.
    let count = match selection.candidates.len() {
        1 => "1 candidate".to_owned(),
        n => format!("{n} candidates"),
    };
    let _ = match &selection.result {
        Ok(tag) => writeln!(err, "selected {tag:?} out of {count}"),
        Err(_) => writeln!(err, "no tag selected ({count})"),
    };
    if selection.rejected.is_empty() {
        return;
    }
    let _ = writeln!(err, "rejected:");
    for r in &selection.rejected {
        let _ = writeln!(err, "  {:<width$}  {}", r.tag, r.reason);
    }
}
