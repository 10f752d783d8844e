//! The ImagePolicy option flags `imageautomation select` and `run` share: `--downgrade`,
//! `--minimum-age`, `--platform` (rules in `imageautomation_model::policy_options`).

use imageautomation_model::policy_options::{Downgrade, PolicyOptions};

/// `--downgrade`, `--minimum-age`, `--platform`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyFlags {
    /// `Deny`: never write (`run`) or print (`select`, with `--current`) a tag that ranks
    /// below the one in use under the policy's own ordering; `Allow` (default) as Flux.
    #[arg(long, value_name = "Allow|Deny", value_parser = parse_downgrade)]
    pub downgrade: Option<Downgrade>,
    /// Only images at least this old are candidates (a Go duration: `24h`, `90m`). The age is
    /// the image's `org.opencontainers.image.created` annotation, else its config's `created`.
    #[arg(long, value_name = "DURATION")]
    pub minimum_age: Option<String>,
    /// Only images that provide this platform are candidates (repeatable):
    /// `os/architecture[/variant]`, e.g. `linux/arm64`.
    #[arg(long = "platform", value_name = "OS/ARCH")]
    pub platforms: Vec<String>,
}

fn parse_downgrade(text: &str) -> Result<Downgrade, String> {
    text.parse()
}

impl PolicyFlags {
    /// The flags as [`PolicyOptions`] (with `hold`).
    ///
    /// # Errors
    /// A message naming the flag that does not parse.
    pub fn options(&self, hold: bool) -> Result<PolicyOptions, String> {
        PolicyOptions::parse(
            self.downgrade.unwrap_or_default(),
            self.minimum_age.as_deref(),
            &self.platforms,
            hold,
        )
        .map_err(|e| {
            let flag = if e.option.starts_with("platforms") {
                "--platform"
            } else {
                "--minimum-age"
            };
            format!("{flag}: {}", e.message)
        })
    }
}
