//! The real `pulumi` CLI, run offline and isolated on a copy of a Pulumi YAML project.
//!
//! The CLI and its YAML language host are built from their Go modules by
//! `scripts/install-pulumi.sh` (`tools/pulumi/`); `scripts/test.sh` exports their directory as
//! `IMAGEAUTOMATION_PULUMI_BIN`. Every run gets its own `PULUMI_HOME` and a `file://` state
//! backend in temporary directories, a passphrase secrets provider, no update check and no
//! plugin downloads, and a cleared environment (no `GITHUB_TOKEN`, no Docker config, no
//! kubeconfig from the machine). The provider is the plugin built by `cargo test`, found
//! through `plugins.providers` in the project's `Pulumi.yaml`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::engine::plugin_binary;

/// The Pulumi release the tools are built from (`tools/pulumi/cli/go.mod`).
pub const PULUMI_VERSION: &str = "v3.274.1";

/// How long one CLI command may take before the test fails (and the command is killed).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The passphrase of the test stacks' secrets provider.
pub const PASSPHRASE: &str = "imageautomation-test-passphrase";

/// The directory holding `pulumi`, `pulumi-language-yaml` and `esc-eval`:
/// `IMAGEAUTOMATION_PULUMI_BIN`, else the cache `scripts/install-pulumi.sh` builds into.
///
/// # Panics
/// When the CLI is not there, saying how to build it.
pub fn bin_dir() -> PathBuf {
    let dir = std::env::var_os("IMAGEAUTOMATION_PULUMI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let tools = std::env::var_os("IMAGEAUTOMATION_TOOLS")
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join(".cache/imageautomation-tools"));
            tools.join(format!("pulumi-{PULUMI_VERSION}/bin"))
        });
    for tool in ["pulumi", "pulumi-language-yaml", "esc-eval"] {
        assert!(
            dir.join(tool).is_file(),
            "{} is missing: run scripts/install-pulumi.sh (scripts/test.sh does) to build the pulumi CLI {PULUMI_VERSION} from its Go modules",
            dir.join(tool).display()
        );
    }
    dir
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from)
}

/// One CLI command's result.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Its exit status.
    pub status: ExitStatus,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ pulumi {}\n[{}]\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// A Pulumi project copied into a temporary directory, with its own CLI home and state.
pub struct Project {
    bin: PathBuf,
    root: TempDir,
    /// Every run so far, for the secret grep.
    runs: std::cell::RefCell<Vec<String>>,
}

impl Project {
    /// Copies the files of the project directory `source` (not its subdirectories) and points
    /// `plugins.providers` at the plugin that `cargo test` built: a `path:` line under
    /// `plugins:` is replaced.
    ///
    /// # Panics
    /// When the CLI is missing ([`bin_dir`]) or `source` cannot be read.
    pub fn copy_of(source: &Path) -> Self {
        let bin = bin_dir();
        let root = TempDir::new().expect("tempdir");
        for dir in ["project", "home", "state", "docker", "work"] {
            std::fs::create_dir_all(root.path().join(dir)).expect("create dir");
        }
        let plugin_dir = plugin_binary()
            .parent()
            .expect("the plugin has a directory")
            .to_path_buf();
        for entry in std::fs::read_dir(source).expect("read the project directory") {
            let entry = entry.expect("directory entry");
            if !entry.file_type().expect("file type").is_file() {
                continue;
            }
            let mut text = std::fs::read_to_string(entry.path()).expect("read project file");
            if entry.file_name() == "Pulumi.yaml" {
                text = point_plugins_at(&text, &plugin_dir);
            }
            std::fs::write(root.path().join("project").join(entry.file_name()), text)
                .expect("write project file");
        }
        Project {
            bin,
            root,
            runs: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// The project directory (holding `Pulumi.yaml`).
    pub fn dir(&self) -> PathBuf {
        self.root.path().join("project")
    }

    /// The `file://` state backend's directory.
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// `PULUMI_HOME` (workspaces, logs, plugins).
    pub fn pulumi_home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// Runs `pulumi ARGS` in the project directory; never panics on a failed command.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs `pulumi ARGS` with `stdin` as standard input (how `config set --secret` takes a
    /// value without putting it on a command line).
    ///
    /// # Panics
    /// When the CLI cannot be started or runs past the timeout.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let work = self.root.path().join("work");
        let input = work.join("stdin");
        std::fs::write(&input, stdin).expect("write stdin");
        let (out_path, err_path) = (work.join("stdout"), work.join("stderr"));
        let mut child = Command::new(self.bin.join("pulumi"))
            .args(args)
            .current_dir(self.dir())
            .env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.root.path())
            .env("PULUMI_HOME", self.pulumi_home())
            .env(
                "PULUMI_BACKEND_URL",
                format!("file://{}", self.state_dir().display()),
            )
            .env("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
            .env("PULUMI_SKIP_UPDATE_CHECK", "true")
            .env("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "true")
            .env("PULUMI_SKIP_CONFIRMATIONS", "true")
            .env("DOCKER_CONFIG", self.root.path().join("docker"))
            .env("NO_COLOR", "1")
            .stdin(std::fs::File::open(&input).expect("open stdin"))
            .stdout(std::fs::File::create(&out_path).expect("create stdout"))
            .stderr(std::fs::File::create(&err_path).expect("create stderr"))
            .spawn()
            .expect("start pulumi");
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for pulumi") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "pulumi {} ran past {COMMAND_TIMEOUT:?}; stdout so far:\n{}",
                    args.join(" "),
                    std::fs::read_to_string(&out_path).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let run = Run {
            command: args.join(" "),
            status,
            stdout: std::fs::read_to_string(&out_path).expect("read stdout"),
            stderr: std::fs::read_to_string(&err_path).expect("read stderr"),
        };
        self.runs.borrow_mut().push(run.output());
        run
    }

    /// Runs `pulumi ARGS` and panics with its whole output when it fails.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert!(run.status.success(), "{run}");
        run
    }

    /// `pulumi config set --secret KEY` with the value on standard input.
    pub fn set_secret(&self, key: &str, value: &str) {
        let run = self.run_with_stdin(&["config", "set", "--secret", key], value);
        assert!(run.status.success(), "{run}");
    }

    /// `pulumi config set --path --secret KEY` with the value on standard input: `KEY` names a
    /// field of an object (`imageautomation:kubernetes.kubeconfig`).
    pub fn set_secret_path(&self, key: &str, value: &str) {
        let run = self.run_with_stdin(&["config", "set", "--path", "--secret", key], value);
        assert!(run.status.success(), "{run}");
    }

    /// `pulumi config set KEY VALUE`.
    pub fn set(&self, key: &str, value: &str) {
        self.ok(&["config", "set", key, value]);
    }

    /// `pulumi stack export` (secrets stay encrypted), parsed.
    pub fn export(&self) -> Value {
        let run = self.ok(&["stack", "export"]);
        serde_json::from_str(&run.stdout).expect("stack export is JSON")
    }

    /// The current stack's outputs (`stack output --json`; secrets print as `[secret]`).
    pub fn outputs(&self) -> Value {
        let run = self.ok(&["stack", "output", "--json"]);
        serde_json::from_str(&run.stdout).expect("stack output is JSON")
    }

    /// Every run's output so far, and the text of every file under the state backend, the
    /// CLI home (logs included) and the project directory: where a secret must not appear.
    pub fn everything_written(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .runs
            .borrow()
            .iter()
            .enumerate()
            .map(|(i, out)| (format!("output of command {i}"), out.clone()))
            .collect();
        for dir in [self.state_dir(), self.pulumi_home()] {
            for file in files_under(&dir) {
                let bytes = std::fs::read(&file).expect("read state file");
                all.push((
                    file.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
        all
    }

    fn path_var(&self) -> String {
        // The CLI finds pulumi-language-yaml on the PATH; git (used by nothing here but kept
        // for the CLI's VCS probe) and the system tools stay reachable.
        format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display())
    }
}

/// The process ids of the provider plugins that the CLI started for the project whose
/// `PULUMI_HOME` is `home` ([`Project::pulumi_home`]): the running
/// `pulumi-resource-imageautomation` processes whose environment holds it (a plugin inherits
/// the CLI's environment). For the tests that kill the plugin in the middle of an `up`.
pub fn plugin_processes(home: &Path) -> Vec<u32> {
    let wanted = format!("PULUMI_HOME={}", home.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            program.ends_with(b"pulumi-resource-imageautomation")
                && environ
                    .split(|b| *b == 0)
                    .any(|var| var == wanted.as_bytes())
        })
        .collect()
}

/// One leaf of an ESC environment's `pulumiConfig`, as `esc-eval` prints it
/// (`tools/pulumi/esc`): stack config key, property path inside it, value, secretness.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct EscLeaf {
    /// `imageautomation:githubToken`.
    pub key: String,
    /// `kubeconfig` inside an object value; empty for a scalar.
    pub path: String,
    /// The value.
    pub value: Value,
    /// Whether the environment marks it (or a container of it) secret.
    pub secret: bool,
}

/// Evaluates an ESC environment file offline with the evaluator the CLI links, and returns the
/// leaves of its `pulumiConfig`.
///
/// # Panics
/// When `esc-eval` is missing or the file does not evaluate.
pub fn esc_eval(file: &Path) -> Vec<EscLeaf> {
    let out = Command::new(bin_dir().join("esc-eval"))
        .arg(file)
        .output()
        .expect("run esc-eval");
    assert!(
        out.status.success(),
        "esc-eval {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("esc-eval prints JSON lines"))
        .collect()
}

/// Every regular file below `dir` (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect()
}

/// Replaces the `path:` of the provider plugin in a `Pulumi.yaml` with `dir`.
fn point_plugins_at(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut in_plugins = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_plugins = line.starts_with("plugins:");
        }
        if in_plugins && line.trim_start().starts_with("path:") {
            let indent = &line[..line.len() - line.trim_start().len()];
            out.push_str(&format!("{indent}path: {}\n", dir.display()));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_path_is_replaced_only_under_plugins() {
        let text = "name: x\nplugins:\n  providers:\n    - name: imageautomation\n      path: ../../target/release   # note\nresources:\n  a:\n    properties:\n      path: ./keep\n";
        let out = point_plugins_at(text, Path::new("/t/debug"));
        assert!(out.contains("      path: /t/debug\n"), "{out}");
        assert!(out.contains("      path: ./keep\n"), "{out}");
        assert!(!out.contains("target/release"), "{out}");
    }
}
