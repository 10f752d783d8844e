//! `imageautomation select`: run an ImagePolicy selection over a tag list.
//!
//! Contract (kept stable): the selected original tag on stdout and exit 0;
//! exit 1 when no tag is selected; exit 2 when the policy or the arguments are
//! invalid. `--output json` prints `{"tag", "candidates", "rejected"}` (plus
//! `"error"` when there is one); `--explain` prints every rejection on stderr.
//!
//! Our options (not in Flux): `--minimum-age` and `--platform` read each best candidate's
//! metadata from the registry of `--image` (best first, until one qualifies); the tags passed
//! over are in `"passedOver": [{"tag", "reason"}]` and in `--explain`. `--hold` prints
//! `--current` and selects nothing (`"held": true`); `--downgrade Deny` prints `--current`
//! when the selection ranks below it (`"refused": "would downgrade A to B"`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use anyhow::{Context, bail};
use imageautomation_engine::reconcile::{
    DigestReflectionPolicy, MetadataCache, PassedOver, PolicyRequest, ReconcileError, select_image,
};
use imageautomation_engine::{
    DigestRequest, DockerConfig, REGISTRY_RETRY, ScanRequest, Scheduler, SchedulerConfig,
};
use imageautomation_model::policy_options::{Downgrade, PolicyOptions};
use imageautomation_policy::{ImagePolicySpec, Selection, TagSelector};
use imageautomation_registry::ImageReference;
use serde_json::{Value, json};

use crate::policy_flags::PolicyFlags;

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
    /// The image whose registry gives the tags (unless `--tags-file`) and, for
    /// `--minimum-age` and `--platform`, each candidate's metadata: `registry/repository`.
    /// Credentials: `--docker-config`, else the default Docker config, else anonymous.
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,
    /// Plain HTTP to `--image`'s registry.
    #[arg(long, requires = "image")]
    insecure: bool,
    /// Docker config JSON with an `auths` entry for `--image`'s registry.
    #[arg(long, value_name = "FILE", requires = "image")]
    docker_config: Option<PathBuf>,
    #[command(flatten)]
    options: PolicyFlags,
    /// Keep `--current`: print it and select nothing (`hold: true`).
    #[arg(long, requires = "current")]
    hold: bool,
    /// The tag in use now, for `--hold` and `--downgrade Deny`.
    #[arg(long, value_name = "TAG")]
    current: Option<String>,
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
/// The registry of `--image` failed: exit 1 too (no tag could be selected).
const REGISTRY_FAILED: u8 = 1;
const INVALID: u8 = 2;

/// Runs `imageautomation select`.
pub fn run(args: Args) -> ExitCode {
    let selector = match read_spec(&args.policy).and_then(|spec| Ok(TagSelector::new(&spec)?)) {
        Ok(selector) => selector,
        Err(e) => return fail(&args, INVALID, &format!("{e:#}")),
    };
    let options = match args.options.options(args.hold) {
        Ok(options) => options,
        Err(message) => return fail(&args, INVALID, &message),
    };
    if options.needs_metadata() && args.image.is_none() {
        return fail(
            &args,
            INVALID,
            "--minimum-age and --platform read each candidate's metadata from the registry: give --image IMAGE",
        );
    }
    if let (true, Some(current)) = (options.hold, &args.current) {
        if args.explain {
            eprintln!("held at {current:?} (--hold): nothing selected");
        }
        match args.output {
            Output::Json => println!(
                "{}",
                json!({"tag": current, "held": true, "candidates": [], "rejected": []})
            ),
            Output::Text => println!("{current}"),
        }
        return ExitCode::SUCCESS;
    }
    let registry = match &args.image {
        Some(image) => match Registry::new(image, args.insecure, args.docker_config.as_ref()) {
            Ok(r) => Some(r),
            Err(e) => return fail(&args, INVALID, &format!("{e:#}")),
        },
        None => None,
    };
    let tags = match (&registry, &args.tags_file) {
        (Some(registry), None) => match registry.tags() {
            Ok(tags) => tags,
            Err(e) => return fail(&args, REGISTRY_FAILED, &e),
        },
        _ => match read_tags(args.tags_file.as_ref()) {
            Ok(tags) => tags,
            Err(e) => return fail(&args, INVALID, &format!("{e:#}")),
        },
    };
    let simple = args.output == Output::Text
        && !args.explain
        && !options.needs_metadata()
        && args.current.is_none();
    if simple {
        return match selector.select_latest(&tags) {
            Ok(tag) => {
                println!("{tag}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&args, NO_TAG_SELECTED, &e.to_string()),
        };
    }
    let mut selection = selector.explain(&tags);
    let mut passed_over = Vec::new();
    if let (Some(registry), true, Ok(_)) = (&registry, options.needs_metadata(), &selection.result)
    {
        match registry.walk(&selector, &tags, &options) {
            Ok((tag, passed)) => {
                selection.prefer(&tag);
                passed_over = passed;
            }
            Err(WalkError::NoneQualifies(message)) => {
                return fail(&args, NO_TAG_SELECTED, &message);
            }
            Err(WalkError::Registry(message)) => return fail(&args, REGISTRY_FAILED, &message),
        }
    }
    let mut refused = None;
    if let (Ok(selected), Some(current)) = (&selection.result, &args.current)
        && options.downgrade == Downgrade::Deny
        && selector.compare(current, selected) == Some(std::cmp::Ordering::Greater)
    {
        refused = Some(format!("would downgrade {current} to {selected}"));
        selection.result = Ok(current.clone());
    }
    if args.explain {
        print_explanation(&selection, &passed_over, refused.as_deref());
    }
    let code = match &selection.result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(NO_TAG_SELECTED)
        }
    };
    match args.output {
        Output::Json => {
            let mut out = selection_json(&selection);
            if !passed_over.is_empty() {
                out["passedOver"] = passed_over
                    .iter()
                    .map(|p| json!({"tag": p.tag, "reason": p.reason}))
                    .collect();
            }
            if let Some(refused) = &refused {
                out["refused"] = json!(refused);
            }
            println!("{out}");
        }
        Output::Text => {
            if let Ok(tag) = &selection.result {
                println!("{tag}");
            }
        }
    }
    code
}

/// Why the metadata walk gave no tag.
enum WalkError {
    /// No candidate qualifies (exit 1); the message lists them.
    NoneQualifies(String),
    /// The registry failed (exit 1).
    Registry(String),
}

/// `--image`: the registry the tags and the metadata come from.
struct Registry {
    runtime: tokio::runtime::Runtime,
    scheduler: Scheduler,
    access: DigestRequest,
}

impl Registry {
    fn new(image: &str, insecure: bool, docker_config: Option<&PathBuf>) -> anyhow::Result<Self> {
        let reference = ImageReference::parse(image, insecure)?;
        let docker = match docker_config {
            Some(path) => Some(DockerConfig::from_file(path)?),
            None => DockerConfig::load_default()?,
        };
        let credentials = docker
            .map(|d| d.credentials_for(reference.registry()))
            .unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Registry {
            runtime,
            // An interactive command: three attempts.
            scheduler: Scheduler::new(SchedulerConfig {
                retry: REGISTRY_RETRY.with_max_times(2),
                ..SchedulerConfig::default()
            }),
            access: DigestRequest {
                image: image.to_owned(),
                insecure,
                tag: String::new(),
                credentials,
                tls: Default::default(),
                proxy: None,
                provider: Default::default(),
                timeout: Some(Duration::from_secs(120)),
            },
        })
    }

    /// The stored tags, as an ImageRepository with the default exclusion list has them.
    fn tags(&self) -> Result<Vec<String>, String> {
        let request = ScanRequest {
            insecure: self.access.insecure,
            credentials: self.access.credentials.clone(),
            timeout: self.access.timeout,
            ..ScanRequest::new(self.access.image.clone())
        };
        self.runtime
            .block_on(self.scheduler.scan(&request))
            .map(|r| r.tags.clone())
            .map_err(|e| e.to_string())
    }

    /// The engine's candidate walk for `--minimum-age` and `--platform`.
    fn walk(
        &self,
        selector: &TagSelector,
        tags: &[String],
        options: &PolicyOptions,
    ) -> Result<(String, Vec<PassedOver>), WalkError> {
        let known = MetadataCache::new();
        let request = PolicyRequest {
            selector,
            image: &self.access.image,
            tags,
            digest_reflection: DigestReflectionPolicy::Never,
            digest_access: self.access.clone(),
            previous: None,
            previous_observed: None,
            options,
            known_metadata: &known,
            now: chrono::Utc::now(),
        };
        match self
            .runtime
            .block_on(select_image(&self.scheduler, request))
        {
            Ok(status) => Ok((status.latest_ref.tag, status.passed_over)),
            Err(ReconcileError::NoTagSelected { message }) => {
                Err(WalkError::NoneQualifies(message))
            }
            Err(e) => Err(WalkError::Registry(e.to_string())),
        }
    }
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

fn print_explanation(selection: &Selection, passed_over: &[PassedOver], refused: Option<&str>) {
    let mut err = std::io::stderr().lock();
    let width = selection
        .rejected
        .iter()
        .map(|r| r.tag.len())
        .chain(passed_over.iter().map(|p| p.tag.len()))
        .max()
        .unwrap_or(0)
        .min(40);
    // Write errors on stderr cannot be reported anywhere; ignore them.
    let count = match selection.candidates.len() {
        1 => "1 candidate".to_owned(),
        n => format!("{n} candidates"),
    };
    let _ = match (&selection.result, refused) {
        (Ok(tag), Some(refused)) => {
            writeln!(
                err,
                "kept {tag:?} out of {count}: the selection {refused} (--downgrade Deny)"
            )
        }
        (Ok(tag), None) => writeln!(err, "selected {tag:?} out of {count}"),
        (Err(_), _) => writeln!(err, "no tag selected ({count})"),
    };
    if !passed_over.is_empty() {
        let _ = writeln!(err, "passed over:");
        for p in passed_over {
            let _ = writeln!(err, "  {:<width$}  {}", p.tag, p.reason);
        }
    }
    if selection.rejected.is_empty() {
        return;
    }
    let _ = writeln!(err, "rejected:");
    for r in &selection.rejected {
        let _ = writeln!(err, "  {:<width$}  {}", r.tag, r.reason);
    }
}
