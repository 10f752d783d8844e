//! ImagePolicy options beyond Flux (issue 14): `downgrade`, `minimumAge`, `platforms`, `hold`.
//!
//! One rule for the three ways they arrive: Pulumi inputs ([`ImagePolicyArgs`]), annotations
//! `imageautomation.pulumi.com/<option>` on a Flux `ImagePolicy` manifest, and the flags of
//! `imageautomation select` and `run`. Flux ignores all four, so a manifest without the
//! annotations behaves exactly as in Flux; so does a policy that sets none of them.
//!
//! [`ImagePolicyArgs`]: crate::args::ImagePolicyArgs

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::parse_go_duration;

/// The annotation prefix on Flux manifests: `imageautomation.pulumi.com/minimumAge: 24h`.
pub const ANNOTATION_PREFIX: &str = "imageautomation.pulumi.com/";

/// The option names, as inputs and annotations spell them.
pub const OPTIONS: [&str; 4] = ["downgrade", "minimumAge", "platforms", "hold"];

/// `downgrade`: whether an UpdateAutomation may write a tag that ranks below the file's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Option<String>")]
pub enum Downgrade {
    /// Write whatever the policy selected (default, as Flux).
    #[default]
    Allow,
    /// Keep a file whose tag ranks above the selection under the policy's own ordering, and
    /// report the refusal.
    Deny,
}

impl Downgrade {
    /// The value as spelled in inputs and annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Downgrade::Allow => "Allow",
            Downgrade::Deny => "Deny",
        }
    }
}

impl FromStr for Downgrade {
    type Err = String;

    /// `Allow` or `Deny`; `""` is `Allow`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Allow" => Ok(Downgrade::Allow),
            "Deny" => Ok(Downgrade::Deny),
            other => Err(format!(
                "unknown downgrade {other:?}; use \"Allow\" (default) or \"Deny\""
            )),
        }
    }
}

impl TryFrom<Option<String>> for Downgrade {
    type Error = String;

    fn try_from(value: Option<String>) -> Result<Self, Self::Error> {
        value.as_deref().unwrap_or_default().parse()
    }
}

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A platform an image must provide: `os/architecture[/variant]`, as OCI image indexes and
/// `docker buildx --platform` spell it (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    /// `os`, e.g. `linux`.
    pub os: String,
    /// `architecture`, e.g. `arm64`.
    pub architecture: String,
    /// `variant`, e.g. `v8`; `None` matches any variant.
    pub variant: Option<String>,
}

impl Platform {
    /// Whether an image for `other` serves this platform: same os and architecture, and the
    /// same variant when this one names one.
    pub fn is_served_by(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

impl FromStr for Platform {
    type Err = String;

    /// `os/architecture` or `os/architecture/variant`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        match parts.as_slice() {
            [os, arch] if valid(os) && valid(arch) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: None,
            }),
            [os, arch, variant] if valid(os) && valid(arch) && valid(variant) => Ok(Platform {
                os: (*os).to_owned(),
                architecture: (*arch).to_owned(),
                variant: Some((*variant).to_owned()),
            }),
            _ => Err(format!(
                "{s:?} is not a platform: write os/architecture[/variant], e.g. \"linux/amd64\" or \"linux/arm64/v8\""
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The four options, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOptions {
    /// `downgrade`, default [`Downgrade::Allow`].
    pub downgrade: Downgrade,
    /// `minimumAge`: a tag is a candidate only when its image is at least this old.
    pub minimum_age: Option<Duration>,
    /// `platforms`: a tag is a candidate only when its image provides every one of them.
    pub platforms: Vec<Platform>,
    /// `hold`: keep `latestRef` at its last value.
    pub hold: bool,
}

/// An option that does not parse: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    /// The option (`minimumAge`, `platforms[1]`, ...).
    pub option: String,
    /// What is wrong and how to write it.
    pub message: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.option, self.message)
    }
}

impl std::error::Error for OptionError {}

impl PolicyOptions {
    /// Checks the options as given (inputs or flags).
    ///
    /// # Errors
    /// The first option that does not parse: `minimumAge` not a Go duration (`"24h"`,
    /// `"90m"`), a `platforms` entry not `os/architecture[/variant]`.
    pub fn parse(
        downgrade: Downgrade,
        minimum_age: Option<&str>,
        platforms: &[String],
        hold: bool,
    ) -> Result<Self, OptionError> {
        let minimum_age = match minimum_age.filter(|s| !s.is_empty()) {
            None => None,
            Some(text) => Some(parse_go_duration(text).map_err(|e| OptionError {
                option: "minimumAge".into(),
                message: format!("{e} (a Go duration, e.g. \"24h\" or \"90m\")"),
            })?),
        };
        let platforms = platforms
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.trim().parse().map_err(|message| OptionError {
                    option: format!("platforms[{i}]"),
                    message,
                })
            })
            .collect::<Result<Vec<Platform>, _>>()?;
        Ok(PolicyOptions {
            downgrade,
            minimum_age,
            platforms,
            hold,
        })
    }

    /// Reads the annotations `imageautomation.pulumi.com/<option>` of a Flux `ImagePolicy`:
    /// `downgrade: Deny`, `minimumAge: 24h`, `platforms: linux/amd64,linux/arm64` (comma
    /// separated), `hold: "true"`. Other annotations are ignored.
    ///
    /// # Errors
    /// An unknown option under the prefix (a typo would otherwise silently do nothing), or
    /// a value that does not parse; `option` names the annotation.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, OptionError> {
        let mut downgrade = Downgrade::Allow;
        let (mut minimum_age, mut platforms, mut hold) = (None, Vec::new(), false);
        for (key, value) in annotations {
            let Some(option) = key.strip_prefix(ANNOTATION_PREFIX) else {
                continue;
            };
            let error = |message: String| OptionError {
                option: format!("metadata.annotations[{key:?}]"),
                message,
            };
            match option {
                "downgrade" => downgrade = value.trim().parse().map_err(error)?,
                "minimumAge" => minimum_age = Some(value.trim()),
                "platforms" => {
                    platforms = value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "hold" => {
                    hold = match value.trim() {
                        "true" => true,
                        "false" | "" => false,
                        other => {
                            return Err(error(format!("{other:?} is not \"true\" or \"false\"")));
                        }
                    }
                }
                other => {
                    return Err(error(format!(
                        "unknown option {other:?}; the options are {}",
                        OPTIONS.join(", ")
                    )));
                }
            }
        }
        Self::parse(downgrade, minimum_age, &platforms, hold).map_err(|e| OptionError {
            option: format!(
                "metadata.annotations[\"{ANNOTATION_PREFIX}{}\"]",
                e.option.split('[').next().unwrap_or_default()
            ),
            message: e.message,
        })
    }

    /// These options (a manifest's annotations) with `defaults` (command-line flags) filling
    /// in what they leave unset; the stricter of the two for `downgrade` and `hold`.
    pub fn or(self, defaults: &PolicyOptions) -> PolicyOptions {
        PolicyOptions {
            downgrade: if defaults.downgrade == Downgrade::Deny {
                Downgrade::Deny
            } else {
                self.downgrade
            },
            minimum_age: self.minimum_age.or(defaults.minimum_age),
            platforms: if self.platforms.is_empty() {
                defaults.platforms.clone()
            } else {
                self.platforms
            },
            hold: self.hold || defaults.hold,
        }
    }

    /// The first option set away from its default (`downgrade`, `minimumAge`, `platforms`,
    /// `hold`), `None` for a policy that selects as Flux does.
    pub fn first_set(&self) -> Option<&'static str> {
        let set = [
            self.downgrade != Downgrade::Allow,
            self.minimum_age.is_some(),
            !self.platforms.is_empty(),
            self.hold,
        ];
        OPTIONS
            .into_iter()
            .zip(set)
            .find_map(|(o, set)| set.then_some(o))
    }

    /// Whether selection needs image metadata from the registry.
    pub fn needs_metadata(&self) -> bool {
        self.minimum_age.is_some() || !self.platforms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_parse_and_typos_are_refused() {
        let read = |pairs: &[(&str, &str)]| {
            PolicyOptions::from_annotations(
                &pairs
                    .iter()
                    .map(|(k, v)| (format!("{ANNOTATION_PREFIX}{k}"), (*v).to_owned()))
                    .collect(),
            )
        };
        let options = read(&[
            ("downgrade", "Deny"),
            ("minimumAge", "2h"),
            ("platforms", "linux/amd64, linux/arm64/v8"),
            ("hold", "true"),
        ])
        .expect("valid");
        assert_eq!(options.downgrade, Downgrade::Deny);
        assert_eq!(options.minimum_age, Some(Duration::from_secs(7200)));
        assert_eq!(
            options
                .platforms
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["linux/amd64", "linux/arm64/v8"]
        );
        assert!(options.hold);
        assert_eq!(read(&[]).expect("none"), PolicyOptions::default());
        assert_eq!(options.first_set(), Some("downgrade"));
        assert_eq!(
            read(&[("hold", "true")]).expect("hold").first_set(),
            Some("hold")
        );
        assert_eq!(PolicyOptions::default().first_set(), None);
        let e = read(&[("minimumage", "2h")]).expect_err("typo");
        assert!(e.message.contains("unknown option \"minimumage\""), "{e}");
        let e = read(&[("minimumAge", "2 days")]).expect_err("not Go");
        assert!(
            e.to_string()
                .starts_with("metadata.annotations[\"imageautomation.pulumi.com/minimumAge\"]"),
            "{e}"
        );
        let e = read(&[("platforms", "linux")]).expect_err("no arch");
        assert!(e.message.contains("os/architecture"), "{e}");
        let e = read(&[("downgrade", "deny")]).expect_err("case");
        assert!(e.message.contains("\"Allow\" (default) or \"Deny\""), "{e}");
    }

    #[test]
    fn a_platform_without_variant_is_served_by_any_variant() {
        let arm64: Platform = "linux/arm64".parse().expect("valid");
        let v8: Platform = "linux/arm64/v8".parse().expect("valid");
        assert!(arm64.is_served_by(&v8));
        assert!(!v8.is_served_by(&arm64));
        assert!(!arm64.is_served_by(&"linux/amd64".parse().expect("valid")));
    }
}
