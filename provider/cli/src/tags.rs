//! `imageautomation tags`: scan a registry for the tags of an image, as a Flux ImageRepository
//! would store them.
//!
//! Contract (kept stable):
//!
//! ```text
//! imageautomation tags IMAGE [--insecure] [--username USER --password-stdin] [--docker-config FILE]
//!                            [--ca-file PEM] [--cert-file PEM --key-file PEM]
//!                            [--exclude REGEX]... [--digest TAG] [--output text|json]
//! ```
//!
//! - text: the stored tags, one per line, in Flux's stored order (descending byte order);
//! - `--output json`: `{"canonicalImageName", "tags", "lastScanResult": {"revision",
//!   "tagCount", "scanTime", "latestTags"}, "observedExclusionList"}`;
//! - `--digest TAG`: the digest of TAG (`sha256:<hex>`) instead; with `--output json`
//!   `{"canonicalImageName", "tag", "digest"}`;
//! - credentials: `--username` with the password on stdin, else the `auths` entry for the
//!   registry in `--docker-config FILE`, else in `$DOCKER_CONFIG/config.json` or
//!   `~/.docker/config.json` when present, else anonymous;
//! - exit 0 on success, 1 when the registry fails (unreachable, authentication, not found,
//!   rate limited, timeout), 2 for invalid input (image, regex, files, arguments); the
//!   message is on stderr and never contains a secret.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use imageautomation_engine::{
    Credentials, DigestRequest, DockerConfig, Error, REGISTRY_RETRY, ScanRequest, Scheduler,
    SchedulerConfig, TlsOptions,
};
use imageautomation_registry::{ImageReference, Provider};
use serde_json::json;

/// Arguments of `imageautomation tags`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    imageautomation tags ghcr.io/fluxcd/source-controller\n  \
    imageautomation tags 127.0.0.1:5000/team/app --output json\n  \
    echo \"$TOKEN\" | imageautomation tags registry.example.com/team/app --username bot --password-stdin --digest v1.2.3")]
pub struct Args {
    /// The image without tag or URL scheme, as ImageRepository `spec.image`:
    /// `registry/repository` (`ghcr.io/org/app`), or a Docker Hub name (`alpine`).
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Use plain HTTP (`spec.insecure`). Loopback and private-network registries fall back to
    /// HTTP by themselves when they do not speak HTTPS.
    #[arg(long)]
    insecure: bool,
    /// User name for the registry; the password (or token) is read from standard input.
    #[arg(long, value_name = "USER", requires = "password_stdin")]
    username: Option<String>,
    /// Read the password for `--username` from standard input (one trailing newline removed).
    #[arg(long, requires = "username")]
    password_stdin: bool,
    /// Docker config JSON with an `auths` entry for the registry (`~/.docker/config.json`
    /// format, or a `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson`).
    #[arg(long, value_name = "FILE", conflicts_with = "username")]
    docker_config: Option<PathBuf>,
    /// PEM bundle of CA certificates to trust for the registry, beside the system roots.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// PEM client certificate to present to the registry (needs `--key-file`).
    #[arg(long, value_name = "PEM", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// PEM private key of `--cert-file`.
    #[arg(long, value_name = "PEM", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Exclusion regex (repeatable); the list replaces the default `^.*\.sig$`, as
    /// ImageRepository `spec.exclusionList` does.
    #[arg(long = "exclude", value_name = "REGEX")]
    exclude: Vec<String>,
    /// Print the digest of this tag instead of the tag list.
    #[arg(long, value_name = "TAG")]
    digest: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Where credentials come from, as an ImageRepository's `spec.provider`: `generic` (the
    /// flags above), `aws`, `azure` or `gcp` (the cloud's login for its own registries, from
    /// the environment: the AWS credential chain, `AZURE_*`, `GCE_METADATA_HOST` or
    /// `GOOGLE_APPLICATION_CREDENTIALS`).
    #[arg(long, value_name = "NAME", default_value = "generic", conflicts_with_all = ["username", "docker_config"])]
    provider: Provider,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// One tag (or the digest) per line.
    Text,
    /// One JSON object.
    Json,
}

const REGISTRY_FAILED: u8 = 1;
const INVALID: u8 = 2;

/// The whole command, including the registry's retries.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `imageautomation tags`.
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(INVALID, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run_async(args))
}

async fn run_async(args: Args) -> ExitCode {
    // Validate the image first: its registry picks the Docker config entry.
    let reference = match ImageReference::parse(&args.image, args.insecure) {
        Ok(r) => r,
        Err(e) => return fail(INVALID, &e.to_string()),
    };
    let credentials = match credentials(&args, reference.registry()) {
        Ok(c) => c,
        Err(message) => return fail(INVALID, &message),
    };
    let tls = match tls(&args) {
        Ok(t) => t,
        Err(message) => return fail(INVALID, &message),
    };
    // An interactive command: three attempts (0.5 s and 1 s apart, or as `Retry-After` says).
    let scheduler = Scheduler::new(SchedulerConfig {
        retry: REGISTRY_RETRY.with_max_times(2),
        ..SchedulerConfig::default()
    });

    if let Some(tag) = &args.digest {
        let request = DigestRequest {
            image: args.image.clone(),
            insecure: args.insecure,
            tag: tag.clone(),
            credentials,
            tls,
            proxy: None,
            provider: args.provider,
            timeout: Some(TIMEOUT),
        };
        return match scheduler.digest(&request).await {
            Ok(digest) => {
                match args.output {
                    Output::Text => println!("{digest}"),
                    Output::Json => println!(
                        "{}",
                        json!({
                            "canonicalImageName": reference.canonical_name(),
                            "tag": tag,
                            "digest": digest,
                        })
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail_engine(&e),
        };
    }

    let request = ScanRequest {
        insecure: args.insecure,
        exclusion_list: (!args.exclude.is_empty()).then(|| args.exclude.clone()),
        credentials,
        tls,
        provider: args.provider,
        timeout: Some(TIMEOUT),
        ..ScanRequest::new(args.image.clone())
    };
    match scheduler.scan(&request).await {
        Ok(result) => {
            match args.output {
                Output::Text => {
                    let mut out =
                        String::with_capacity(result.tags.iter().map(|t| t.len() + 1).sum());
                    for t in &result.tags {
                        out.push_str(t);
                        out.push('\n');
                    }
                    print!("{out}");
                }
                Output::Json => match serde_json::to_string_pretty(&*result) {
                    Ok(s) => println!("{s}"),
                    Err(e) => return fail(REGISTRY_FAILED, &format!("cannot encode JSON: {e}")),
                },
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail_engine(&e),
    }
}

/// `--username` + stdin, `--docker-config`, the default Docker config, or anonymous.
fn credentials(args: &Args, registry: &str) -> Result<Credentials, String> {
    if let Some(user) = &args.username {
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .map_err(|e| format!("--password-stdin: cannot read standard input: {e}"))?;
        let password = password
            .strip_suffix("\r\n")
            .or_else(|| password.strip_suffix('\n'))
            .unwrap_or(&password)
            .to_string();
        if password.is_empty() {
            return Err("--password-stdin: standard input is empty; pipe the password in".into());
        }
        return Ok(Credentials::basic(user.clone(), password));
    }
    if let Some(path) = &args.docker_config {
        let config = DockerConfig::from_file(path).map_err(|e| format!("--docker-config: {e}"))?;
        return Ok(config.credentials_for(registry));
    }
    match DockerConfig::default_path() {
        Some(path) if path.is_file() => {
            let config = DockerConfig::from_file(&path).map_err(|e| {
                format!("{e} (pass --docker-config FILE or --username to use other credentials)")
            })?;
            Ok(config.credentials_for(registry))
        }
        _ => Ok(Credentials::Anonymous),
    }
}

fn tls(args: &Args) -> Result<TlsOptions, String> {
    let read = |flag: &str, path: &Path| {
        std::fs::read(path).map_err(|e| format!("{flag}: cannot read {}: {e}", path.display()))
    };
    let ca_pem = args
        .ca_file
        .as_deref()
        .map(|p| read("--ca-file", p))
        .transpose()?;
    let client_cert_pem = args
        .cert_file
        .as_deref()
        .map(|p| read("--cert-file", p))
        .transpose()?;
    let client_key_pem = match args.key_file.as_deref() {
        Some(p) => Some(
            String::from_utf8(read("--key-file", p)?)
                .map_err(|_| format!("--key-file: {} is not a PEM text file", p.display()))?
                .into(),
        ),
        None => None,
    };
    Ok(TlsOptions {
        ca_pem,
        client_cert_pem,
        client_key_pem,
    })
}

fn fail_engine(e: &Error) -> ExitCode {
    let code = match e {
        Error::Invalid { .. } => INVALID,
        _ => REGISTRY_FAILED,
    };
    fail(code, &e.to_string())
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
