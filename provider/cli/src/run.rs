//! `imageautomation run`: one reconcile of the Flux image automation objects
//! of a directory, without a cluster, through the engine the Pulumi provider
//! uses (`imageautomation_engine::reconcile`).
//!
//! Contract (kept stable):
//! `imageautomation run DIR [--dry-run] [--git-token-stdin] [--docker-config FILE]`.
//! - Reads the `ImageRepository`, `ImagePolicy`, `ImageUpdateAutomation`
//!   (`image.toolkit.fluxcd.io/v1`, `v1beta2`) and `GitRepository`
//!   (`source.toolkit.fluxcd.io/v1`, `v1beta2`, `v1beta1`) objects of every
//!   `*.yaml`/`*.yml` file under DIR ([`manifests`]); other kinds are ignored.
//! - Scans every ImageRepository, selects every ImagePolicy (its
//!   `imageRepositoryRef.namespace` defaulting to the policy's), then runs every
//!   ImageUpdateAutomation with the policies of its namespace that its
//!   `policySelector` matches (none = all), on the GitRepository of its
//!   `sourceRef`, checking out `git.checkout.ref`, else the GitRepository's
//!   `spec.ref`, else branch `master` (flux-spec 5.2). Suspended objects are skipped.
//! - Credentials: Kubernetes Secrets are not read (each `secretRef` is reported).
//!   HTTP(S) Git remotes get the token from `--git-token-stdin`, else `GITHUB_TOKEN` for
//!   github.com only (`imageautomation_engine::token_rule`), sent as
//!   `x-access-token:<token>`; registries get the Docker config
//!   (`--docker-config FILE`, else `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
//! - `--dry-run`: a read-only clone; the pending changes are printed as a
//!   unified diff (`a/<path>`, `b/<path>` relative to the repository root, so
//!   `git apply` takes it); nothing is written, committed or pushed.
//! - stdout: what was scanned, what each policy selected, what changed
//!   (`<file>: <image> <old tag> => <new tag>`) and the pushed commit
//!   (`pushed commit <7 hex> to branch <branch>`). Errors go to stderr.
//! - Exit 0 on success (changed or not); 1 when a reconcile failed (the others
//!   still run and every failure is reported); 2 for invalid arguments or
//!   manifests (nothing is run).

mod execute;
mod plan;
mod print;

use plan::{Plan, PolicyDefaults};

use crate::policy_flags::PolicyFlags;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use imageautomation_engine::DockerConfig;
use imageautomation_engine::reconcile::RunMode;
use imageautomation_engine::token_rule::TokenOrigin;
use imageautomation_model::args::Proxy;
use secrecy::SecretString;

use imageautomation_model::manifests::{self, Manifests};

/// Arguments of `imageautomation run`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  echo \"$TOKEN\" | imageautomation run ./clusters/my-cluster --git-token-stdin --dry-run\n\n\
        Kubernetes Secrets (secretRef) are not read: Git credentials come from --git-token-stdin\n\
        (the remotes the manifests name; plain http:// only on loopback) or GITHUB_TOKEN\n\
        (github.com only), the commit signing key from --signing-key FILE, registry credentials\n\
        from the Docker config.\n\
        Exit codes: 0 success (changed or not), 1 a reconcile failed, 2 invalid arguments or manifests."
)]
pub struct Args {
    /// The directory holding the Flux manifests, read recursively (`*.yaml`, `*.yml`,
    /// multi-document files).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Write nothing: clone read-only and print the pending changes as a unified diff.
    #[arg(long)]
    dry_run: bool,
    /// Read the token for the HTTP(S) Git remotes the manifests name from stdin (sent as
    /// `x-access-token:<token>`; over plain http:// to loopback hosts only); default: the
    /// `GITHUB_TOKEN` environment variable, for github.com remotes only.
    #[arg(long)]
    git_token_stdin: bool,
    /// The Docker config JSON with registry credentials; default `$DOCKER_CONFIG/config.json`,
    /// else `~/.docker/config.json` when it exists.
    #[arg(long, value_name = "FILE")]
    docker_config: Option<PathBuf>,
    /// The key that signs the commits of automations with `spec.git.commit.signingKey`, in
    /// place of its Secret: the `git.asc` (an armored OpenPGP secret key) for `type: gpg`, the
    /// `identity` (an OpenSSH private key) for `type: ssh`.
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// A file holding the signing key's passphrase (the Secret's `passphrase` or `password`).
    #[arg(long, value_name = "FILE", requires = "signing_key")]
    signing_key_passphrase_file: Option<PathBuf>,
    /// The proxy of the objects with `spec.proxySecretRef` (ImageRepository, GitRepository), in
    /// place of its Secret's `address`: `http://host:port`. Other objects use the environment's
    /// `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// The Secret's `username` for the proxy's Basic authentication.
    #[arg(long, value_name = "USER", requires = "proxy")]
    proxy_username: Option<String>,
    /// A file holding the Secret's `password`.
    #[arg(long, value_name = "FILE", requires = "proxy_username")]
    proxy_password_file: Option<PathBuf>,
    /// Policy options for every ImagePolicy; a policy's annotations
    /// `imageautomation.pulumi.com/<option>` take precedence, except that `Deny` wins.
    #[command(flatten)]
    policy_options: PolicyFlags,
    /// Hold this ImagePolicy (`NAMESPACE/NAME`, repeatable): select nothing for it and leave its
    /// markers as they are, like the annotation `imageautomation.pulumi.com/hold: "true"`.
    #[arg(long = "hold", value_name = "NAMESPACE/NAME")]
    hold: Vec<String>,
}

const FAILED: u8 = 1;
const INVALID: u8 = 2;
/// An interactive command: a failing registry is retried briefly, not for minutes.
pub(super) const REGISTRY_ATTEMPTS: usize = 3;
/// Flux's `ImageRepository.spec.interval` is required; what the scheduler is told when absent.
pub(super) const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Runs `imageautomation run`.
pub fn run(args: Args) -> ExitCode {
    let token = match git_token(args.git_token_stdin) {
        Ok(t) => t,
        Err(message) => return fail(INVALID, &message),
    };
    let docker = match &args.docker_config {
        Some(path) => DockerConfig::from_file(path).map(Some),
        None => DockerConfig::load_default(),
    };
    let docker = match docker {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => {
            return fail(
                INVALID,
                &format!("{e}; fix the file or give another with --docker-config FILE"),
            );
        }
    };
    if !args.dir.is_dir() {
        return fail(
            INVALID,
            &format!(
                "{}: does not exist or is not a directory",
                args.dir.display()
            ),
        );
    }
    let manifests = match manifests::read_dir(&args.dir) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: {} problem(s) in the manifests under {}; nothing was run",
                errors.len(),
                args.dir.display()
            );
            return ExitCode::from(INVALID);
        }
    };
    let signing_key = match &args.signing_key {
        None => None,
        Some(path) => {
            let passphrase = args
                .signing_key_passphrase_file
                .as_deref()
                .map(|p| secret_file("--signing-key-passphrase-file", p, true))
                .transpose();
            match (secret_file("--signing-key", path, false), passphrase) {
                (Ok(key), Ok(passphrase)) => Some((key, passphrase)),
                (Err(e), _) | (_, Err(e)) => return fail(INVALID, &e),
            }
        }
    };
    let proxy = match &args.proxy {
        None => None,
        Some(address) => {
            let password = args
                .proxy_password_file
                .as_deref()
                .map(|p| secret_file("--proxy-password-file", p, true))
                .transpose();
            let proxy = password.map(|password| Proxy {
                address: Some(address.clone()),
                username: args.proxy_username.clone(),
                password,
            });
            match proxy.and_then(|p| p.url().map(|_| p).map_err(|e| format!("--proxy: {e}"))) {
                Ok(p) => Some(p),
                Err(e) => return fail(INVALID, &e),
            }
        }
    };
    let secrets = SecretInputs {
        token,
        signing_key,
        proxy,
    };
    let defaults = match args.policy_options.options(false) {
        Ok(options) => PolicyDefaults {
            options,
            hold: args.hold.iter().cloned().collect(),
        },
        Err(message) => return fail(INVALID, &message),
    };
    if let Some(unknown) = defaults
        .hold
        .iter()
        .find(|id| !manifests.policies.iter().any(|p| &&p.id() == id))
    {
        return fail(
            INVALID,
            &format!(
                "--hold {unknown}: no ImagePolicy {unknown} in {}; write NAMESPACE/NAME",
                args.dir.display()
            ),
        );
    }
    let plan = match Plan::new(&manifests, &docker, &secrets, &defaults) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!(
                "error: {} problem(s) in the manifests under {}; nothing was run",
                errors.len(),
                args.dir.display()
            );
            return ExitCode::from(INVALID);
        }
    };
    println!(
        "Read {} from {} ({} YAML file{}).",
        summary(&manifests),
        args.dir.display(),
        manifests.files,
        if manifests.files == 1 { "" } else { "s" }
    );
    for note in &plan.notes {
        println!("note: {note}");
    }
    if manifests.repositories.is_empty()
        && manifests.policies.is_empty()
        && manifests.automations.is_empty()
    {
        println!(
            "Nothing to do: no ImageRepository, ImagePolicy or ImageUpdateAutomation (image.toolkit.fluxcd.io/v1 or v1beta2) under {}.",
            args.dir.display()
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(FAILED, &format!("cannot start the async runtime: {e}")),
    };
    let mode = if args.dry_run {
        RunMode::Preview
    } else {
        RunMode::Apply
    };
    let failures = runtime.block_on(plan.reconcile(mode));
    if failures > 0 {
        eprintln!("error: {failures} reconcile(s) failed; see above");
        ExitCode::from(FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// What was read, suspended objects included: `1 ImageRepository, 2 ImagePolicies, ...`.
fn summary(manifests: &Manifests) -> String {
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    [
        count(
            manifests.repositories.len(),
            "ImageRepository",
            "ImageRepositories",
        ),
        count(manifests.policies.len(), "ImagePolicy", "ImagePolicies"),
        count(
            manifests.automations.len(),
            "ImageUpdateAutomation",
            "ImageUpdateAutomations",
        ),
        count(
            manifests.git_repositories.len(),
            "GitRepository",
            "GitRepositories",
        ),
    ]
    .join(", ")
}

/// A Git token and where it came from, which decides where it may go
/// ([`imageautomation_engine::token_rule`]).
pub(super) type GitToken = (SecretString, TokenOrigin);

/// What the command line gives in place of the Kubernetes Secrets the manifests name.
#[derive(Default)]
pub(super) struct SecretInputs {
    /// `--git-token-stdin` or `GITHUB_TOKEN`.
    pub(super) token: Option<GitToken>,
    /// `--signing-key` and `--signing-key-passphrase-file`: the key and its passphrase.
    pub(super) signing_key: Option<(SecretString, Option<SecretString>)>,
    /// `--proxy`, `--proxy-username` and `--proxy-password-file`: the fields of a
    /// `proxySecretRef` Secret.
    pub(super) proxy: Option<Proxy>,
}

/// Reads a secret file given by `flag` (a trailing newline removed from a passphrase).
fn secret_file(flag: &str, path: &std::path::Path, trim: bool) -> Result<SecretString, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{flag} {}: cannot read it: {e}", path.display()))?;
    let text = if trim {
        text.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        text
    };
    if text.is_empty() {
        return Err(format!("{flag} {}: the file is empty", path.display()));
    }
    Ok(SecretString::from(text))
}

/// The Git token: stdin with `--git-token-stdin` (trailing newline removed; explicit),
/// else `GITHUB_TOKEN` when set and not empty (ambient: github.com only).
fn git_token(from_stdin: bool) -> Result<Option<GitToken>, String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("--git-token-stdin: cannot read stdin: {e}"))?;
        let token = text.trim();
        if token.is_empty() {
            return Err("--git-token-stdin: stdin is empty; pipe the token in, e.g. `echo \"$TOKEN\" | imageautomation run DIR --git-token-stdin`".into());
        }
        if token.contains(['\n', '\r']) {
            return Err(
                "--git-token-stdin: stdin holds more than one line; give only the token".into(),
            );
        }
        return Ok(Some((
            SecretString::from(token.to_owned()),
            TokenOrigin::Explicit,
        )));
    }
    Ok(std::env::var("GITHUB_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            (
                SecretString::from(t.trim().to_owned()),
                TokenOrigin::Ambient,
            )
        }))
}
