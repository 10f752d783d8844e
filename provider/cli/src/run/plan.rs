//! Flux manifests to a plan: every object validated and its references resolved, before
//! anything is scanned or cloned.

use super::{DEFAULT_INTERVAL, SecretInputs};
use std::collections::BTreeSet;

use imageautomation_engine::reconcile::{DigestReflectionPolicy, write_back_spec};
use imageautomation_engine::token_rule::{Withheld, token_destination};
use imageautomation_engine::{
    DockerConfig, Provider, ScanRequest, parse_go_duration, proxy_options,
};
use imageautomation_git::{
    Auth, Credentials as GitCredentials, MessageTemplate, NamespacedName, SigningKey, WriteBackSpec,
};
use imageautomation_model::checkout_ref;
use imageautomation_model::git::UpdateStrategy;
use imageautomation_model::policy_options::PolicyOptions;
use imageautomation_policy::TagSelector;
use imageautomation_registry::{ExclusionList, ImageReference};

use imageautomation_model::manifests::{
    ImageUpdateAutomationSpec, LabelSelector, Manifests, Object,
};
use kube_core::{Selector, SelectorExt as _};

/// One ImageRepository to scan.
pub(super) struct RepositoryTask {
    pub(super) id: String,
    pub(super) request: ScanRequest,
    pub(super) image: String,
}

/// One ImagePolicy to select.
pub(super) struct PolicyTask {
    pub(super) id: String,
    /// `namespace/name` of the ImageRepository.
    pub(super) repository: String,
    pub(super) selector: TagSelector,
    pub(super) digest_reflection: DigestReflectionPolicy,
    /// The annotations `imageautomation.pulumi.com/<option>`, with the command line's flags.
    pub(super) options: PolicyOptions,
}

/// One ImageUpdateAutomation to run.
pub(super) struct AutomationTask {
    pub(super) id: String,
    /// `namespace/name` of the policies it applies.
    pub(super) policies: Vec<String>,
    pub(super) write_back: WriteBackSpec,
    pub(super) update_path: String,
}

/// The policy options of the command line: defaults for every policy, and the policies held.
#[derive(Debug, Default)]
pub(super) struct PolicyDefaults {
    /// `--downgrade`, `--minimum-age`, `--platform`.
    pub(super) options: PolicyOptions,
    /// `--hold NAMESPACE/NAME`.
    pub(super) hold: BTreeSet<String>,
}

/// What one run does, checked before anything touches the network.
pub(super) struct Plan {
    pub(super) repositories: Vec<RepositoryTask>,
    pub(super) policies: Vec<PolicyTask>,
    pub(super) automations: Vec<AutomationTask>,
    pub(super) notes: Vec<String>,
}

impl Plan {
    /// Validates the objects and resolves their references.
    ///
    /// # Errors
    /// Every problem, each naming the object and its file: an invalid image,
    /// duration, policy, selector or Git setting; a reference to an object that
    /// is not under the directory; an unsupported setting.
    pub(super) fn new(
        manifests: &Manifests,
        docker: &DockerConfig,
        secrets: &SecretInputs,
        defaults: &PolicyDefaults,
    ) -> Result<Plan, Vec<String>> {
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        let mut plan = Plan {
            repositories: Vec::new(),
            policies: Vec::new(),
            automations: Vec::new(),
            notes: Vec::new(),
        };
        let name = |kind: &str, o: &dyn Named| format!("{kind} {} ({})", o.id(), o.origin());
        let mut repository_ids = BTreeSet::new();
        let mut suspended_repositories = BTreeSet::new();
        for r in &manifests.repositories {
            let what = name("ImageRepository", r);
            if !repository_ids.insert(r.id()) {
                errors.push(format!("{what}: defined twice"));
                continue;
            }
            if r.spec.suspend {
                notes.push(format!("{what}: suspended, not scanned"));
                suspended_repositories.insert(r.id());
                continue;
            }
            let provider = match r.spec.provider.as_deref().map(str::parse::<Provider>) {
                None => Provider::Generic,
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    errors.push(format!("{what}: spec.provider: {e}"));
                    continue;
                }
            };
            for (field, secret) in [
                ("secretRef", &r.spec.secret_ref),
                ("certSecretRef", &r.spec.cert_secret_ref),
                ("proxySecretRef", &r.spec.proxy_secret_ref),
            ] {
                let Some(secret) = secret else { continue };
                let hint = match field {
                    // Flux: a cloud provider's login replaces the Secret.
                    "secretRef" if provider.is_cloud() => continue,
                    "secretRef" => "registry credentials come from the Docker config",
                    "proxySecretRef" if secrets.proxy.is_some() => continue,
                    "proxySecretRef" => {
                        "give its address with --proxy URL, else the environment's HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply"
                    }
                    _ => "scanning without it",
                };
                notes.push(format!(
                    "{what}: {field} {} is not read (Kubernetes Secrets are not read); {hint}",
                    secret.name
                ));
            }
            let reference = match ImageReference::parse(&r.spec.image, r.spec.insecure) {
                Ok(reference) => reference,
                Err(e) => {
                    errors.push(format!("{what}: spec.image: {e}"));
                    continue;
                }
            };
            if let Err(e) = ExclusionList::new(r.spec.exclusion_list.as_deref()) {
                errors.push(format!("{what}: spec.exclusionList: {e}"));
                continue;
            }
            let duration = |field: &str, value: &Option<String>| {
                value
                    .as_deref()
                    .map(parse_go_duration)
                    .transpose()
                    .map_err(|e| format!("{what}: spec.{field}: {e}"))
            };
            let (interval, timeout) = match (
                duration("interval", &r.spec.interval),
                duration("timeout", &r.spec.timeout),
            ) {
                (Ok(i), Ok(t)) => (i, t),
                (Err(e), _) | (_, Err(e)) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Err(e) = provider.check_registry(reference.registry()) {
                errors.push(format!("{what}: spec.provider: {e}"));
                continue;
            }
            let proxy = match (&r.spec.proxy_secret_ref, &secrets.proxy) {
                (Some(_), Some(p)) => match proxy_options(p) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        errors.push(format!("--proxy: {e}"));
                        continue;
                    }
                },
                _ => None,
            };
            let mut request = ScanRequest::new(r.spec.image.clone());
            request.insecure = r.spec.insecure;
            request.provider = provider;
            request.proxy = proxy;
            request.exclusion_list = r.spec.exclusion_list.clone().filter(|l| !l.is_empty());
            request.credentials = docker.credentials_for(reference.registry());
            request.interval = interval.unwrap_or(DEFAULT_INTERVAL);
            request.timeout = timeout;
            plan.repositories.push(RepositoryTask {
                id: r.id(),
                request,
                image: r.spec.image.clone(),
            });
        }

        let mut policy_ids = BTreeSet::new();
        for p in &manifests.policies {
            let what = name("ImagePolicy", p);
            if !policy_ids.insert(p.id()) {
                errors.push(format!("{what}: defined twice"));
                continue;
            }
            if p.spec.spec.suspend {
                notes.push(format!("{what}: suspended, not selected"));
                continue;
            }
            let reference = &p.spec.spec.image_repository_ref;
            let repository = format!(
                "{}/{}",
                reference
                    .namespace
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(&p.metadata.namespace),
                reference.name
            );
            if !repository_ids.contains(&repository) {
                errors.push(format!(
                    "{what}: spec.imageRepositoryRef names ImageRepository {repository}, which is not in the directory"
                ));
                continue;
            }
            if suspended_repositories.contains(&repository) {
                notes.push(format!(
                    "{what}: not selected, its ImageRepository {repository} is suspended"
                ));
                continue;
            }
            let selector = match TagSelector::new(&p.spec.selection) {
                Ok(s) => s,
                Err(e) => {
                    errors.push(format!("{what}: spec: {e}"));
                    continue;
                }
            };
            let digest_reflection = p.spec.spec.digest_reflection_policy;
            let mut options = p.spec.options.clone().or(&defaults.options);
            options.hold |= defaults.hold.contains(&p.id());
            plan.policies.push(PolicyTask {
                id: p.id(),
                repository,
                selector,
                digest_reflection,
                options,
            });
        }

        for g in &manifests.git_repositories {
            if let Some(secret) = &g.spec.proxy_secret_ref
                && secrets.proxy.is_none()
            {
                notes.push(format!(
                    "{}: proxySecretRef {} is not read (Kubernetes Secrets are not read); give its address with --proxy URL, else the environment's HTTPS_PROXY, HTTP_PROXY and NO_PROXY apply",
                    name("GitRepository", g),
                    secret.name
                ));
            }
            if let Some(secret) = &g.spec.secret_ref {
                let hint = if is_http(&g.spec.url) {
                    "HTTP(S) remotes use --git-token-stdin (or GITHUB_TOKEN, for github.com)"
                } else {
                    "an SSH remote cannot be reached without it: use its HTTPS URL with --git-token-stdin (or GITHUB_TOKEN, for github.com)"
                };
                notes.push(format!(
                    "{}: secretRef {} is not read (Kubernetes Secrets are not read); {hint}",
                    name("GitRepository", g),
                    secret.name
                ));
            }
        }

        let mut automation_ids = BTreeSet::new();
        for a in &manifests.automations {
            let what = name("ImageUpdateAutomation", a);
            if !automation_ids.insert(a.id()) {
                errors.push(format!("{what}: defined twice"));
                continue;
            }
            if a.spec.suspend {
                notes.push(format!("{what}: suspended, not run"));
                continue;
            }
            match automation_task(a, manifests, secrets, &mut notes) {
                Ok(task) => plan.automations.push(task),
                Err(e) => errors.push(format!("{what}: {e}")),
            }
        }
        if secrets.signing_key.is_some() && !manifests.automations.iter().any(|a| signs(&a.spec)) {
            notes.push(
                "--signing-key is not used: no ImageUpdateAutomation has spec.git.commit.signingKey"
                    .into(),
            );
        }
        plan.notes = notes;
        if errors.is_empty() {
            Ok(plan)
        } else {
            Err(errors)
        }
    }
}

/// The automation asks for signed commits.
fn signs(spec: &ImageUpdateAutomationSpec) -> bool {
    spec.git
        .as_ref()
        .is_some_and(|g| g.commit.signing_key.is_some())
}

/// `http://` or `https://`.
pub(super) fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// What messages need of an object.
trait Named {
    fn id(&self) -> String;
    fn origin(&self) -> String;
}

impl<S> Named for Object<S> {
    fn id(&self) -> String {
        Object::id(self)
    }
    fn origin(&self) -> String {
        self.origin.to_string()
    }
}

/// The policies an automation applies: those of its namespace that its
/// `policySelector` (`selector`) matches (all when it has none), as
/// `namespace/name` (IAC `getPolicies`, flux-spec 1.3).
pub(super) fn policies_of(
    automation: &Object<ImageUpdateAutomationSpec>,
    selector: Option<&Selector>,
    manifests: &Manifests,
) -> Vec<String> {
    manifests
        .policies
        .iter()
        .filter(|p| p.metadata.namespace == automation.metadata.namespace)
        .filter(|p| selector.is_none_or(|s| s.matches(&p.metadata.labels)))
        .map(Object::id)
        .collect()
}

pub(super) fn automation_task(
    a: &Object<ImageUpdateAutomationSpec>,
    manifests: &Manifests,
    secrets: &SecretInputs,
    notes: &mut Vec<String>,
) -> Result<AutomationTask, String> {
    let spec = &a.spec;
    let selector = spec
        .policy_selector
        .as_ref()
        .map(LabelSelector::selector)
        .transpose()
        .map_err(|e| format!("spec.policySelector: {e}"))?;
    if let Some(update) = &spec.update {
        update
            .check()
            .map_err(|e| format!("spec.update.strategy: {e}"))?;
    }
    let source = &spec.source_ref;
    if let Some(kind) = source.kind.as_deref().filter(|k| *k != "GitRepository") {
        return Err(format!(
            "spec.sourceRef.kind: {kind:?} is not supported; use GitRepository"
        ));
    }
    let source_id = format!(
        "{}/{}",
        source
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&a.metadata.namespace),
        source.name
    );
    let git_repository = manifests
        .git_repositories
        .iter()
        .find(|g| g.id() == source_id)
        .ok_or_else(|| {
            format!("spec.sourceRef names GitRepository {source_id}, which is not in the directory")
        })?;
    let git = spec.git.as_ref().ok_or(
        "spec.git is missing: it gives the commit author and the push branch (flux-spec 1.3)",
    )?;
    if git.commit.author.email.is_empty() {
        return Err("spec.git.commit.author.email is required".into());
    }
    MessageTemplate::commit_message(git.commit.message_template.as_deref())
        .map_err(|e| format!("spec.git.commit.messageTemplate: {e}"))?;
    let signing_key = match &git.commit.signing_key {
        None => None,
        Some(key) => {
            let format = key
                .flux_format()
                .map_err(|e| format!("spec.git.commit.signingKey: {e}"))?;
            let secret = key.secret_ref.as_ref().map_or("", |r| r.name.as_str());
            let Some((private_key, passphrase)) = secrets.signing_key.clone() else {
                let (_, field, _) = format.flux_names();
                return Err(format!(
                    "spec.git.commit.signingKey names Secret {secret:?}, which is not read: give its {field} with --signing-key FILE"
                ));
            };
            let key = SigningKey::new(format, private_key, passphrase);
            key.check().map_err(|e| format!("--signing-key: {e}"))?;
            Some(key)
        }
    };
    // Flux: the automation's checkout ref replaces the GitRepository's as a whole.
    let checkout = checkout_ref(
        git.checkout.as_ref(),
        git_repository.spec.reference.as_ref(),
    )
    .checkout()?;
    let url = git_repository.spec.url.clone();
    let credentials = match &secrets.token {
        Some((token, origin)) if is_http(&url) => match token_destination(&url, *origin, false) {
            Ok(host) => {
                notes.push(format!(
                    "ImageUpdateAutomation {}: the Git token goes to {host}",
                    a.id()
                ));
                GitCredentials::Token(token.clone())
            }
            Err(e @ Withheld::PlainHttp { .. }) => {
                return Err(format!("GitRepository {source_id}: {e}"));
            }
            Err(e) => {
                notes.push(format!(
                        "ImageUpdateAutomation {}: no Git credentials: {e}; give the token for it with --git-token-stdin",
                        a.id()
                    ));
                GitCredentials::Anonymous
            }
        },
        _ => GitCredentials::Anonymous,
    };
    let update_path = UpdateStrategy::path(spec.update.as_ref()).to_owned();
    Ok(AutomationTask {
        id: a.id(),
        policies: policies_of(a, selector.as_ref(), manifests),
        write_back: write_back_spec(
            url,
            Auth {
                credentials,
                ca_bundle: None,
                known_hosts: None,
                proxy: git_repository
                    .spec
                    .proxy_secret_ref
                    .as_ref()
                    .and(secrets.proxy.clone()),
            },
            checkout,
            &git.commit,
            signing_key,
            git.push.as_ref(),
            NamespacedName {
                namespace: a.metadata.namespace.clone(),
                name: a.metadata.name.clone(),
            },
        ),
        update_path,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use imageautomation_engine::token_rule::TokenOrigin;
    use imageautomation_git::CheckoutRef;
    use secrecy::SecretString;

    use imageautomation_model::manifests::read_file;

    use super::super::summary;
    use super::*;

    fn manifests(text: &str) -> Manifests {
        let mut m = Manifests::default();
        let mut errors = Vec::new();
        read_file(
            text,
            Path::new("f.yaml"),
            &mut m,
            &mut errors,
            Path::new("f.yaml"),
        );
        assert!(errors.is_empty(), "{errors:?}");
        m
    }

    fn policy(ns: &str, name: &str, labels: &str) -> String {
        format!(
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\nspec:\n  imageRepositoryRef: {{name: app, namespace: apps}}\n  policy: {{semver: {{range: 1.x}}}}\n---\n"
        )
    }

    const REPOSITORY: &str = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: app, namespace: apps}\nspec: {image: 127.0.0.1:5000/app, interval: 1m}\n---\n";

    fn automation(ns: &str, selector: &str) -> String {
        format!(
            "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: fleet, namespace: {ns}}}\nspec: {{url: http://127.0.0.1:1/fleet.git, ref: {{branch: main}}, secretRef: {{name: creds}}}}\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\nmetadata: {{name: auto, namespace: {ns}}}\nspec:\n  sourceRef: {{kind: GitRepository, name: fleet}}\n  git:\n    commit: {{author: {{email: bot@example.com}}}}\n    push: {{branch: updates}}\n{selector}---\n"
        )
    }

    /// A plan with `token` given explicitly (`--git-token-stdin`).
    fn plan_of(text: &str, token: Option<&str>) -> Result<Plan, Vec<String>> {
        plan_with(text, token.map(|t| (t, TokenOrigin::Explicit)))
    }

    fn plan_with(text: &str, token: Option<(&str, TokenOrigin)>) -> Result<Plan, Vec<String>> {
        let secrets = SecretInputs {
            token: token.map(|(t, origin)| (SecretString::from(t.to_owned()), origin)),
            ..SecretInputs::default()
        };
        Plan::new(
            &manifests(text),
            &DockerConfig::default(),
            &secrets,
            &PolicyDefaults::default(),
        )
    }

    /// GITHUB_TOKEN goes to github.com only; an explicit token to the remote named, but
    /// never over plain http:// off loopback; the notes name the host that gets it.
    #[test]
    fn the_token_goes_only_where_the_rule_allows() {
        let local = [REPOSITORY.to_owned(), automation("flux-system", "")].concat();
        let plan = plan_with(&local, Some(("tok", TokenOrigin::Ambient))).expect("plan");
        assert!(matches!(
            plan.automations[0].write_back.auth.credentials,
            GitCredentials::Anonymous
        ));
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("goes to github.com only")),
            "{:?}",
            plan.notes
        );
        let plan = plan_with(&local, Some(("tok", TokenOrigin::Explicit))).expect("plan");
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("the Git token goes to 127.0.0.1:1")),
            "{:?}",
            plan.notes
        );
        let github = local.replace(
            "http://127.0.0.1:1/fleet.git",
            "https://github.com/org/fleet.git",
        );
        let plan = plan_with(&github, Some(("tok", TokenOrigin::Ambient))).expect("plan");
        assert!(matches!(
            plan.automations[0].write_back.auth.credentials,
            GitCredentials::Token(_)
        ));
        let remote = local.replace("http://127.0.0.1:1/", "http://git.example.com/");
        let errors = plan_with(&remote, Some(("tok", TokenOrigin::Explicit)))
            .err()
            .expect("refused");
        assert!(
            errors[0].contains("never sent over plain http://"),
            "{errors:?}"
        );
    }

    #[test]
    fn an_automation_takes_the_policies_of_its_namespace_that_its_selector_matches() {
        let text = [
            REPOSITORY.to_owned(),
            policy("flux-system", "web", "{team: web}"),
            policy("flux-system", "api", "{team: api}"),
            policy("other", "web", "{team: web}"),
            automation(
                "flux-system",
                "  policySelector:\n    matchLabels: {team: web}\n",
            ),
        ]
        .concat();
        let plan = plan_of(&text, None).expect("plan");
        assert_eq!(plan.automations[0].policies, ["flux-system/web"]);

        let text = [
            REPOSITORY.to_owned(),
            policy("flux-system", "web", "{team: web}"),
            policy("flux-system", "api", "{team: api}"),
            policy("other", "web", "{team: web}"),
            automation("flux-system", ""),
        ]
        .concat();
        let plan = plan_of(&text, None).expect("plan");
        assert_eq!(
            plan.automations[0].policies,
            ["flux-system/web", "flux-system/api"],
            "no selector: every policy of the namespace"
        );
    }

    #[test]
    fn the_git_repository_gives_url_and_ref_and_the_token_goes_to_http_remotes() {
        let text = [REPOSITORY.to_owned(), automation("flux-system", "")].concat();
        let plan = plan_of(&text, Some("tok")).expect("plan");
        let spec = &plan.automations[0].write_back;
        assert_eq!(spec.url, "http://127.0.0.1:1/fleet.git");
        assert_eq!(spec.checkout, CheckoutRef::Branch("main".into()));
        assert_eq!(spec.push_branch.as_deref(), Some("updates"));
        assert!(matches!(spec.auth.credentials, GitCredentials::Token(_)));
        assert_eq!(plan.automations[0].update_path, ".");
        assert!(
            plan.notes
                .iter()
                .any(|n| n.contains("secretRef creds is not read")),
            "{:?}",
            plan.notes
        );
        let text = text.replace("  git:\n", "  git:\n    checkout: {ref: {tag: v1}}\n");
        let plan = plan_of(&text, None).expect("plan");
        let spec = &plan.automations[0].write_back;
        assert_eq!(
            spec.checkout,
            CheckoutRef::Tag("v1".into()),
            "git.checkout.ref wins"
        );
        assert!(matches!(spec.auth.credentials, GitCredentials::Anonymous));
        // An empty ref replaces the GitRepository's too, as in Flux and `render` (`run` used to
        // fall back to the GitRepository's branch).
        let text = text.replace("checkout: {ref: {tag: v1}}", "checkout: {ref: {}}");
        let plan = plan_of(&text, None).expect("plan");
        assert_eq!(
            plan.automations[0].write_back.checkout,
            CheckoutRef::Branch("master".into())
        );
    }

    #[test]
    fn dangling_references_and_invalid_specs_are_reported_together() {
        let text = [
            policy("flux-system", "web", "{}").replace("name: app, namespace: apps", "name: nope"),
            policy("apps", "bad", "{}").replace("range: 1.x", "range: '>>1'"),
            REPOSITORY.to_owned(),
            automation("flux-system", "").replace("name: fleet}\n", "name: gone}\n"),
        ]
        .concat();
        let errors = plan_of(&text, None).err().expect("errors");
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors[0].contains("ImageRepository flux-system/nope, which is not in the directory")
        );
        assert!(
            errors[1].starts_with("ImagePolicy apps/bad (f.yaml (document 2)): spec:"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].contains("GitRepository flux-system/gone"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn invalid_images_durations_and_exclusion_patterns_are_manifest_errors() {
        let text = [
            REPOSITORY.replace("interval: 1m", "interval: 1d"),
            REPOSITORY
                .replace("name: app", "name: b")
                .replace("interval: 1m", "exclusionList: ['(']"),
            REPOSITORY
                .replace("name: app", "name: c")
                .replace("127.0.0.1:5000/app", "UPPER/Case"),
        ]
        .concat();
        let errors = plan_of(&text, None).err().expect("errors");
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors[0].contains("apps/app (f.yaml (document 1)): spec.interval:"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("apps/b (f.yaml (document 2)): spec.exclusionList:"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].contains("apps/c (f.yaml (document 3)): spec.image:"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn suspended_objects_are_skipped_with_a_note() {
        let text = [
            REPOSITORY.replace("interval: 1m", "interval: 1m, suspend: true"),
            policy("apps", "a", "{}"),
            automation("apps", "  suspend: true\n"),
        ]
        .concat();
        let plan = plan_of(&text, None).expect("plan");
        assert!(plan.repositories.is_empty() && plan.policies.is_empty());
        assert!(plan.automations.is_empty());
        let notes = plan.notes.join("\n");
        assert!(
            notes.contains("ImageRepository apps/app (f.yaml (document 1)): suspended"),
            "{notes}"
        );
        assert!(
            notes.contains("ImageRepository apps/app is suspended"),
            "{notes}"
        );
        assert!(notes.contains("ImageUpdateAutomation apps/auto"), "{notes}");
    }

    #[test]
    fn summary_counts_each_kind_read() {
        let text = [
            REPOSITORY.replace("interval: 1m", "interval: 1m, suspend: true"),
            policy("apps", "a", "{}"),
            policy("apps", "b", "{}"),
            automation("apps", ""),
        ]
        .concat();
        assert_eq!(
            summary(&manifests(&text)),
            "1 ImageRepository, 2 ImagePolicies, 1 ImageUpdateAutomation, 1 GitRepository"
        );
    }
}
