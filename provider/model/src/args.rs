//! The Pulumi resources' inputs (`schema.json`), parsed once from the checked property
//! values (secrets revealed, unknowns removed) by [`parse`]. Field names are the schema's,
//! which are Flux's in lowerCamelCase; an empty string is no value. Secret fields are
//! [`SecretString`]s from the moment they are read.

use std::collections::BTreeMap;

use imageautomation_policy::{FilterTags, PolicyChoice};
use imageautomation_update::{DowngradeGuards, LatestRef};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::de;
use crate::flux::DigestReflectionPolicy;
use crate::git::{GitCheckout, GitCommit, GitPush, UpdateStrategy};
use crate::policy_options::{Downgrade, OptionError, PolicyOptions};

/// A property value that does not have the schema's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ShapeError {
    /// The property path, as Pulumi spells it: `git.commit.author`, `policies[0].latestRef`.
    pub property: String,
    /// What serde found wrong, without the value, e.g. `invalid type: integer, expected a
    /// string`.
    pub reason: String,
}

/// Parses property values (an object, secrets revealed, unknowns removed) into `T`.
///
/// # Errors
/// [`ShapeError`] naming the property whose value has the wrong type.
pub fn parse<T: DeserializeOwned>(plain: &Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(plain).map_err(|e| {
        let property = e.path().to_string();
        ShapeError {
            property: if property == "." {
                String::new()
            } else {
                property
            },
            reason: crate::without_values(&e.into_inner().to_string()),
        }
    })
}

/// `credentials`: basic credentials for the registry.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryCredentials {
    /// `username`.
    #[serde(default, deserialize_with = "de::text")]
    pub username: Option<String>,
    /// `password` (secret).
    #[serde(default, deserialize_with = "de::secret")]
    pub password: Option<SecretString>,
}

/// `certificate`: TLS settings for the registry, as Flux's `certSecretRef`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// `caPem`: PEM CA bundle (`ca.crt`).
    #[serde(default, deserialize_with = "de::text")]
    pub ca_pem: Option<String>,
    /// `certPem`: PEM client certificate (`tls.crt`).
    #[serde(default, deserialize_with = "de::text")]
    pub cert_pem: Option<String>,
    /// `keyPem`: PEM client key (`tls.key`, secret).
    #[serde(default, deserialize_with = "de::secret")]
    pub key_pem: Option<SecretString>,
}

impl Certificate {
    /// No field set.
    pub fn is_empty(&self) -> bool {
        self.ca_pem.is_none() && self.cert_pem.is_none() && self.key_pem.is_none()
    }
}

/// `proxy`: an HTTP proxy for the resource's traffic, with the fields of Flux's
/// `proxySecretRef` Secret (fluxcd/pkg `runtime/secrets`: `address`, `username`, `password`).
/// Without it, the environment's `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` apply.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Proxy {
    /// `address` (required): the proxy's URL, `http://host:port` (or `https://`).
    #[serde(default, deserialize_with = "de::text")]
    pub address: Option<String>,
    /// `username` for the proxy's Basic authentication.
    #[serde(default, deserialize_with = "de::text")]
    pub username: Option<String>,
    /// `password` (secret).
    #[serde(default, deserialize_with = "de::secret")]
    pub password: Option<SecretString>,
}

impl Proxy {
    /// The proxy's address, checked: an `http://` or `https://` URL with a host and without
    /// user info (the credentials are `username` and `password`), as Flux's `ParseURL`.
    ///
    /// # Errors
    /// A message saying what is wrong with `address` and what to write instead.
    pub fn url(&self) -> Result<url::Url, String> {
        let address = self
            .address
            .as_deref()
            .ok_or("address is required, e.g. http://proxy.example.com:3128")?;
        let url = url::Url::parse(address)
            .map_err(|e| format!("address is not a URL ({e}); write it as http://host:port"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "address has scheme {:?}; write it as http://host:port or https://host:port",
                url.scheme()
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "address carries credentials; give them as username and password, which stay secret"
                    .into(),
            );
        }
        if self.password.is_some() && self.username.is_none() {
            return Err("password needs a username".into());
        }
        Ok(url)
    }
}

/// How to reach a registry: what an ImageRepository's inputs and its `imageRepositoryRef`
/// output share (each has these fields itself, so that a shape error names its property).
#[derive(Debug, Clone, Default)]
pub struct RegistryAccess {
    /// `insecure`: plain HTTP.
    pub insecure: bool,
    /// `credentials`.
    pub credentials: Option<RegistryCredentials>,
    /// `dockerConfigJson` (secret).
    pub docker_config_json: Option<SecretString>,
    /// `certificate`.
    pub certificate: Option<Certificate>,
    /// `provider`: Flux's `generic` (the default), `aws`, `azure` or `gcp`.
    pub provider: Option<String>,
    /// `proxy`.
    pub proxy: Option<Proxy>,
}

impl RegistryAccess {
    /// `credentials` when both the username and the password are set.
    pub fn basic(&self) -> Option<(&str, &SecretString)> {
        let c = self.credentials.as_ref()?;
        Some((c.username.as_deref()?, c.password.as_ref()?))
    }
}

/// `ImageRepository` inputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositoryArgs {
    /// `image`: the repository to scan, e.g. `ghcr.io/org/app` (required).
    #[serde(default, deserialize_with = "de::text")]
    pub image: Option<String>,
    /// `interval`: Go duration, default `5m`.
    #[serde(default, deserialize_with = "de::text")]
    pub interval: Option<String>,
    /// `timeout`: Go duration of one scan.
    #[serde(default, deserialize_with = "de::text")]
    pub timeout: Option<String>,
    /// `exclusionList`: regexes of tags not stored; `None` is Flux's default.
    #[serde(default)]
    pub exclusion_list: Option<Vec<String>>,
    /// `insecure`: plain HTTP.
    #[serde(default, deserialize_with = "de::flag")]
    pub insecure: bool,
    /// `credentials`.
    #[serde(default)]
    pub credentials: Option<RegistryCredentials>,
    /// `dockerConfigJson` (secret): the `.dockerconfigjson` of a pull secret.
    #[serde(default, deserialize_with = "de::secret")]
    pub docker_config_json: Option<SecretString>,
    /// `certificate`.
    #[serde(default)]
    pub certificate: Option<Certificate>,
    /// `provider`: where credentials come from, Flux's `spec.provider`: `generic` (the
    /// default: `credentials`, `dockerConfigJson`, the provider config), `aws`, `azure`, `gcp`.
    #[serde(default, deserialize_with = "de::text")]
    pub provider: Option<String>,
    /// `proxy`: the proxy for registry traffic (Flux's `proxySecretRef`).
    #[serde(default)]
    pub proxy: Option<Proxy>,
    /// `namespace` of the Flux identity.
    #[serde(default, deserialize_with = "de::text")]
    pub namespace: Option<String>,
    /// `name` of the Flux identity.
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// `suspend`: keep the stored result.
    #[serde(default, deserialize_with = "de::flag")]
    pub suspend: bool,
}

impl ImageRepositoryArgs {
    /// `insecure`, `credentials`, `dockerConfigJson`, `certificate`, `provider` and `proxy`.
    pub fn access(&self) -> RegistryAccess {
        RegistryAccess {
            insecure: self.insecure,
            credentials: self.credentials.clone(),
            docker_config_json: self.docker_config_json.clone(),
            certificate: self.certificate.clone(),
            provider: self.provider.clone(),
            proxy: self.proxy.clone(),
        }
    }
}

/// `ImageRepository.imageRepositoryRef`, what an ImagePolicy takes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRepositoryRef {
    /// `namespace` of the ImageRepository.
    #[serde(default, deserialize_with = "de::text")]
    pub namespace: Option<String>,
    /// `name` of the ImageRepository.
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// `image` as written.
    #[serde(default, deserialize_with = "de::text")]
    pub image: Option<String>,
    /// `timeout`: Go duration of one registry call sequence.
    #[serde(default, deserialize_with = "de::text")]
    pub timeout: Option<String>,
    /// `insecure`: plain HTTP.
    #[serde(default, deserialize_with = "de::flag")]
    pub insecure: bool,
    /// `credentials`.
    #[serde(default)]
    pub credentials: Option<RegistryCredentials>,
    /// `dockerConfigJson` (secret): the `.dockerconfigjson` of a pull secret.
    #[serde(default, deserialize_with = "de::secret")]
    pub docker_config_json: Option<SecretString>,
    /// `certificate`.
    #[serde(default)]
    pub certificate: Option<Certificate>,
    /// `provider`: where credentials come from, Flux's `spec.provider`: `generic` (the
    /// default: `credentials`, `dockerConfigJson`, the provider config), `aws`, `azure`, `gcp`.
    #[serde(default, deserialize_with = "de::text")]
    pub provider: Option<String>,
    /// `proxy`: the proxy for registry traffic (Flux's `proxySecretRef`).
    #[serde(default)]
    pub proxy: Option<Proxy>,
    /// `revision` of the scan the tags come from.
    #[serde(default, deserialize_with = "de::text")]
    pub revision: Option<String>,
    /// `tags`: the stored tags.
    #[serde(default, deserialize_with = "de::list")]
    pub tags: Vec<String>,
}

impl ImageRepositoryRef {
    /// `insecure`, `credentials`, `dockerConfigJson`, `certificate`, `provider` and `proxy`.
    pub fn access(&self) -> RegistryAccess {
        RegistryAccess {
            insecure: self.insecure,
            credentials: self.credentials.clone(),
            docker_config_json: self.docker_config_json.clone(),
            certificate: self.certificate.clone(),
            provider: self.provider.clone(),
            proxy: self.proxy.clone(),
        }
    }
}

/// `ImagePolicy` inputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyArgs {
    /// `imageRepositoryRef` (required).
    #[serde(default)]
    pub image_repository_ref: Option<ImageRepositoryRef>,
    /// `policy` (required): exactly one of semver, alphabetical, numerical.
    #[serde(default)]
    pub policy: Option<PolicyChoice>,
    /// `filterTags`.
    #[serde(default)]
    pub filter_tags: Option<FilterTags>,
    /// `digestReflectionPolicy`, default `Never`.
    #[serde(default)]
    pub digest_reflection_policy: DigestReflectionPolicy,
    /// `interval`: Go duration between digest checks under `Always`.
    #[serde(default, deserialize_with = "de::text")]
    pub interval: Option<String>,
    /// `namespace` of the Flux identity.
    #[serde(default, deserialize_with = "de::text")]
    pub namespace: Option<String>,
    /// `name` of the Flux identity.
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// `downgrade`: `Allow` (default) or `Deny` ([`PolicyOptions`]).
    #[serde(default)]
    pub downgrade: Downgrade,
    /// `minimumAge`: Go duration.
    #[serde(default, deserialize_with = "de::text")]
    pub minimum_age: Option<String>,
    /// `platforms`: `os/architecture[/variant]` each.
    #[serde(default, deserialize_with = "de::list")]
    pub platforms: Vec<String>,
    /// `hold`: keep `latestRef` at its last value.
    #[serde(default, deserialize_with = "de::flag")]
    pub hold: bool,
}

impl ImagePolicyArgs {
    /// `downgrade`, `minimumAge`, `platforms` and `hold`, checked.
    ///
    /// # Errors
    /// [`PolicyOptions::parse`]'s, naming the input.
    pub fn options(&self) -> Result<PolicyOptions, OptionError> {
        PolicyOptions::parse(
            self.downgrade,
            self.minimum_age.as_deref(),
            &self.platforms,
            self.hold,
        )
    }

    /// The policy crate's view: `policy` and `filterTags`.
    pub fn selection(&self) -> imageautomation_policy::ImagePolicySpec {
        imageautomation_policy::ImagePolicySpec {
            policy: self.policy.clone().unwrap_or_default(),
            filter_tags: self.filter_tags.clone(),
        }
    }
}

/// `git.auth`: credentials for the Git remote.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitAuth {
    /// `token` (secret): an HTTPS token.
    #[serde(default, deserialize_with = "de::secret")]
    pub token: Option<SecretString>,
    /// `username` for HTTPS basic auth.
    #[serde(default, deserialize_with = "de::text")]
    pub username: Option<String>,
    /// `password` (secret) for HTTPS basic auth.
    #[serde(default, deserialize_with = "de::secret")]
    pub password: Option<SecretString>,
    /// `sshPrivateKey` (secret).
    #[serde(default, deserialize_with = "de::secret")]
    pub ssh_private_key: Option<SecretString>,
    /// `knownHosts` lines for the SSH server.
    #[serde(default, deserialize_with = "de::text")]
    pub known_hosts: Option<String>,
}

impl GitAuth {
    /// How many of the three kinds (token; username and password; SSH key) are given.
    pub fn kinds(&self) -> usize {
        [
            self.token.is_some(),
            self.username.is_some() || self.password.is_some(),
            self.ssh_private_key.is_some(),
        ]
        .into_iter()
        .filter(|k| *k)
        .count()
    }
}

/// `git`: the repository and how to write to it (Flux `spec.git` plus the GitRepository's
/// URL and credentials).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitArgs {
    /// `url` (required): `https://...`, `ssh://...`, `user@host:path` or `file://...`.
    #[serde(default, deserialize_with = "de::text")]
    pub url: Option<String>,
    /// `auth`.
    #[serde(default)]
    pub auth: Option<GitAuth>,
    /// `caPem`: PEM CA bundle for HTTPS.
    #[serde(default, deserialize_with = "de::text")]
    pub ca_pem: Option<String>,
    /// `proxy`: the proxy for Git over HTTP(S) (the GitRepository's `proxySecretRef`).
    #[serde(default)]
    pub proxy: Option<Proxy>,
    /// `checkout`.
    #[serde(default)]
    pub checkout: Option<GitCheckout>,
    /// `commit`.
    #[serde(default)]
    pub commit: GitCommit,
    /// `push`.
    #[serde(default)]
    pub push: Option<GitPush>,
}

/// One `policies` entry: `ImagePolicy.imagePolicyRef`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePolicyRef {
    /// `namespace`: the first part of `$imagepolicy` markers.
    #[serde(default, deserialize_with = "de::text")]
    pub namespace: Option<String>,
    /// `name`: the second part.
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// `latestRef`: the selected image.
    #[serde(default)]
    pub latest_ref: Option<LatestRef>,
    /// `downgrade`: with `Deny`, the automation keeps a file whose tag ranks above
    /// `latestRef.tag` under `policy` and `filterTags` (the ImagePolicy's output carries them
    /// only then).
    #[serde(default)]
    pub downgrade: Downgrade,
    /// `policy` of the ImagePolicy (with `downgrade: Deny`).
    #[serde(default)]
    pub policy: Option<PolicyChoice>,
    /// `filterTags` of the ImagePolicy (with `downgrade: Deny`).
    #[serde(default)]
    pub filter_tags: Option<FilterTags>,
}

impl ImagePolicyRef {
    /// The marker identity `namespace:name`.
    pub fn marker(&self) -> String {
        format!(
            "{}:{}",
            self.namespace.as_deref().unwrap_or_default(),
            self.name.as_deref().unwrap_or_default()
        )
    }
}

/// `pullRequest`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestArgs {
    /// `title`: Go template.
    #[serde(default, deserialize_with = "de::text")]
    pub title: Option<String>,
    /// `body`: Go template.
    #[serde(default, deserialize_with = "de::text")]
    pub body: Option<String>,
    /// `labels`.
    #[serde(default, deserialize_with = "de::list")]
    pub labels: Vec<String>,
    /// `apiBaseUrl`, default `https://api.github.com`.
    #[serde(default, deserialize_with = "de::text")]
    pub api_base_url: Option<String>,
    /// `groupBy`: `none` (default), `policy` or `image`.
    #[serde(default, deserialize_with = "group_by")]
    pub group_by: GroupBy,
    /// `branch`: Go template of each group's head branch (with `groupBy` `policy` or
    /// `image`); default per [`GroupBy`].
    #[serde(default, deserialize_with = "de::text")]
    pub branch: Option<String>,
}

/// `sourceRef`: an existing Flux `GitRepository`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectRef {
    /// `namespace`; default the automation's.
    #[serde(default, deserialize_with = "de::text")]
    pub namespace: Option<String>,
    /// `name` (required).
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
}

/// `UpdateAutomation` inputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAutomationArgs {
    /// `git` (required).
    #[serde(default)]
    pub git: GitArgs,
    /// `update`.
    #[serde(default)]
    pub update: Option<UpdateStrategy>,
    /// `policies` (required).
    #[serde(default)]
    pub policies: Option<Vec<ImagePolicyRef>>,
    /// `pullRequest`.
    #[serde(default)]
    pub pull_request: Option<PullRequestArgs>,
    /// `suspend`: do nothing.
    #[serde(default, deserialize_with = "de::flag")]
    pub suspend: bool,
    /// `name` of the Flux automation object; default the resource name.
    #[serde(default, deserialize_with = "de::text")]
    pub name: Option<String>,
    /// `interval` (cluster mode): Go duration.
    #[serde(default, deserialize_with = "de::text")]
    pub interval: Option<String>,
    /// `sourceRef` (cluster mode).
    #[serde(default)]
    pub source_ref: Option<ObjectRef>,
}

impl UpdateAutomationArgs {
    /// `"namespace:name"` -> `latestRef` of each `policies` entry that has one.
    pub fn latest_refs(&self) -> BTreeMap<String, LatestRef> {
        self.policies
            .iter()
            .flatten()
            .filter_map(|p| Some((p.marker(), p.latest_ref.clone()?)))
            .collect()
    }

    /// `pullRequest.groupBy`; [`GroupBy::None`] without a `pullRequest`.
    pub fn group_by(&self) -> GroupBy {
        self.pull_request
            .as_ref()
            .map_or(GroupBy::None, |pr| pr.group_by)
    }

    /// `"namespace:name"` -> the compiled policy of each `policies` entry with
    /// `downgrade: Deny`, for the setters' downgrade check.
    ///
    /// # Errors
    /// A [`ShapeError`] naming `policies[i].policy` when an entry's policy does not compile
    /// or is missing.
    pub fn downgrade_guards(&self) -> Result<DowngradeGuards, ShapeError> {
        let mut guards = DowngradeGuards::new();
        for (i, p) in self.policies.iter().flatten().enumerate() {
            if p.downgrade != Downgrade::Deny {
                continue;
            }
            let spec = imageautomation_policy::ImagePolicySpec {
                policy: p.policy.clone().unwrap_or_default(),
                filter_tags: p.filter_tags.clone(),
            };
            let selector =
                imageautomation_policy::TagSelector::new(&spec).map_err(|e| ShapeError {
                    property: format!("policies[{i}].policy"),
                    reason: format!(
                        "downgrade: Deny needs the ImagePolicy's policy to order tags: {e}"
                    ),
                })?;
            guards.insert(p.marker(), selector);
        }
        Ok(guards)
    }
}

/// `pullRequest.groupBy`: how the pending bumps are split into pull requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// `none` (default): one branch (`git.push.branch`) and one pull request for all bumps.
    #[default]
    None,
    /// `policy`: one branch and pull request per policy.
    Policy,
    /// `image`: one branch and pull request per image (`latestRef.name`), holding the bumps
    /// of every policy that selects it.
    Image,
}

impl GroupBy {
    /// The value as the schema spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::None => "none",
            GroupBy::Policy => "policy",
            GroupBy::Image => "image",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(GroupBy::None),
            "policy" => Ok(GroupBy::Policy),
            "image" => Ok(GroupBy::Image),
            other => Err(format!(
                "unknown groupBy {other:?}: expected none, policy or image"
            )),
        }
    }
}

/// `null`, absent and `""` are [`GroupBy::None`].
fn group_by<'de, D: serde::Deserializer<'de>>(d: D) -> Result<GroupBy, D::Error> {
    de::text(d)?
        .map_or(Ok(GroupBy::None), |s| s.parse())
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    #[test]
    fn secrets_flags_and_empty_strings_take_their_typed_form() {
        let args: ImageRepositoryArgs = parse(&json!({
            "image": "ghcr.io/a/b", "insecure": "true", "interval": "",
            "credentials": {"username": "bot", "password": "pw"},
        }))
        .expect("valid");
        assert!(args.insecure);
        assert_eq!(args.interval, None);
        let access = args.access();
        let (user, password) = access.basic().expect("basic");
        assert_eq!((user, password.expose_secret()), ("bot", "pw"));
    }

    #[test]
    fn group_by_is_none_unless_given() {
        let pr = |v: Value| parse::<PullRequestArgs>(&v);
        assert_eq!(pr(json!({})).expect("empty").group_by, GroupBy::None);
        assert_eq!(
            pr(json!({"groupBy": ""})).expect("empty").group_by,
            GroupBy::None
        );
        assert_eq!(
            pr(json!({"groupBy": "image"})).expect("image").group_by,
            GroupBy::Image
        );
        let e = pr(json!({"groupBy": "Policy"})).expect_err("case matters");
        assert_eq!(e.property, "groupBy");
        assert!(e.reason.contains("expected none, policy or image"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_its_property() {
        let e =
            parse::<UpdateAutomationArgs>(&json!({"git": {"commit": {"author": {"email": 5}}}}))
                .expect_err("integer email");
        assert_eq!(e.property, "git.commit.author.email");
        let e = parse::<UpdateAutomationArgs>(
            &json!({"policies": [{"name": "a"}, {"latestRef": "x"}]}),
        )
        .expect_err("string latestRef");
        assert_eq!(e.property, "policies[1].latestRef");
        let e = parse::<ImageRepositoryArgs>(&json!({"credentials": {"username": 5}}))
            .expect_err("integer username");
        assert_eq!(e.property, "credentials.username");
        let e = parse::<ImagePolicyArgs>(&json!({"digestReflectionPolicy": "Sometimes"}))
            .expect_err("unknown value");
        assert!(e.reason.contains("\"Sometimes\""), "{e}");
    }
}
