//! `ImageUpdateAutomation`, its `GitRepository` and the Git auth Secret.

use super::*;

/// Turns a Git URL into one Flux's `GitRepository` accepts
/// (`^(http|https|ssh)://`): scp-like `user@host:path` becomes
/// `ssh://user@host/path`.
///
/// # Errors
/// Returns the reason as a message when the URL has another scheme or
/// carries a password.
pub fn flux_git_url(url: &str) -> std::result::Result<String, String> {
    if let Some(scp) = ScpLike::parse(url) {
        return Ok(scp.to_ssh_url());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(
            "is neither a URL (https://, http://, ssh://) nor scp-like user@host:path".into(),
        );
    };
    if !matches!(scheme, "http" | "https" | "ssh") {
        return Err(format!(
            "has scheme {scheme:?}; Flux's GitRepository takes http, https or ssh"
        ));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && userinfo.contains(':')
    {
        return Err("carries a password in the URL; remove it and use git.auth instead".into());
    }
    Ok(url.to_owned())
}

fn git_ref_json(r: &GitRef) -> Value {
    let mut m = Map::new();
    put_opt(&mut m, "branch", r.branch.as_deref());
    put_opt(&mut m, "tag", r.tag.as_deref());
    put_opt(&mut m, "semver", r.semver.as_deref());
    put_opt(&mut m, "name", r.name.as_deref());
    put_opt(&mut m, "commit", r.commit.as_deref());
    Value::Object(m)
}

/// Renders a Flux `ImageUpdateAutomation` whose `policySelector` matches
/// exactly `input.policies` (by [`POLICY_LABEL`]), and, unless
/// `input.source_ref` names an existing one, the `GitRepository` for
/// `git.url` (same name as the automation) and, with
/// [`SecretsMode::Include`] and auth or a CA, its Secret `<name>-git-auth`
/// (`Opaque`; `username`/`password` for a token or basic auth,
/// `identity`/`known_hosts` (and `password` for a passphrase) for SSH, `ca.crt`). Order: Secret,
/// GitRepository, ImageUpdateAutomation.
///
/// # Errors
/// [`Error::InvalidInput`] for bad names or durations, a Git URL Flux cannot
/// use, SSH auth with an HTTP URL or a token with an SSH URL, no policies, a
/// policy in another namespace (Flux only selects policies in the
/// automation's namespace), or a policy name that cannot be a label value.
pub fn render_update_automation(
    input: &UpdateAutomationInput,
    mode: SecretsMode,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImageUpdateAutomation, ns, name);
    cx.check_names(ns, name)?;
    let interval = input
        .interval
        .as_deref()
        .unwrap_or(DEFAULT_AUTOMATION_INTERVAL);
    cx.check_duration("interval", interval, true)?;

    if input.policies.is_empty() {
        return Err(cx.invalid(
            "policies",
            "is empty; Flux would select every ImagePolicy in the namespace, so give the \
             policies this automation applies",
        ));
    }
    let mut policy_names = Vec::new();
    for p in &input.policies {
        if let Some(pns) = &p.namespace
            && pns != ns
        {
            return Err(cx.invalid(
                "policies",
                format!(
                    "ImagePolicy {pns}/{} is in another namespace; Flux's ImageUpdateAutomation \
                     only selects policies in its own namespace {ns:?}: put both in one namespace",
                    p.name
                ),
            ));
        }
        if p.name.len() > 63 {
            return Err(cx.invalid(
                "policies",
                format!("ImagePolicy name {:?} is longer than 63 characters", p.name),
            ));
        }
        cx.check_object_name("policies", &p.name)?;
        policy_names.push(p.name.clone());
    }
    policy_names.sort();
    policy_names.dedup();

    let git = &input.git;
    if git.commit.author.email.trim().is_empty() {
        return Err(cx.invalid(
            "git.commit.author.email",
            "is required by Flux; give the commit author's email",
        ));
    }
    let mut out = Vec::new();
    let source_ref = match &input.source_ref {
        Some(existing) => {
            cx.check_object_name("sourceRef.name", &existing.name)?;
            let mut r = Map::new();
            r.insert("kind".into(), "GitRepository".into());
            r.insert("name".into(), existing.name.clone().into());
            put_opt(&mut r, "namespace", existing.namespace.as_deref());
            Value::Object(r)
        }
        None => {
            out.extend(render_git_repository(input, interval, mode, &cx)?);
            json!({"kind": "GitRepository", "name": name})
        }
    };

    let mut checkout = Map::new();
    if let Some(r) = &git.checkout
        && !r.is_empty()
    {
        checkout.insert("ref".into(), git_ref_json(r));
    }
    let mut author = Map::new();
    if !git.commit.author.name.is_empty() {
        author.insert("name".into(), git.commit.author.name.clone().into());
    }
    author.insert("email".into(), git.commit.author.email.clone().into());
    let mut commit = Map::new();
    commit.insert("author".into(), Value::Object(author));
    put_opt(
        &mut commit,
        "messageTemplate",
        git.commit.message_template.as_deref(),
    );
    if !git.commit.message_template_values.is_empty() {
        commit.insert(
            "messageTemplateValues".into(),
            json!(git.commit.message_template_values),
        );
    }
    if let Some(key) = &git.commit.signing_key {
        // Flux's Secret shapes (IAC signing.go): `git.asc` and `passphrase` for type `gpg`,
        // `identity` and `password` for type `ssh`.
        let (format, pair) = key
            .inline()
            .map_err(|e| cx.invalid("git.commit.signingKey", e))?;
        let (kind, key_field, passphrase_field) = format.flux_names();
        let secret_name = signing_key_secret_name(name);
        cx.check_object_name("name", &secret_name)?;
        commit.insert(
            "signingKey".into(),
            json!({"secretRef": {"name": secret_name}, "type": kind}),
        );
        if mode == SecretsMode::Include {
            let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
            if let Some(k) = &pair.private_key {
                data.insert(key_field, k.expose_secret().as_bytes());
            }
            if let Some(p) = &pair.passphrase {
                data.insert(passphrase_field, p.expose_secret().as_bytes());
            }
            out.insert(0, secret(ns, &secret_name, "Opaque", data));
        }
    }
    let mut git_spec = Map::new();
    if !checkout.is_empty() {
        git_spec.insert("checkout".into(), Value::Object(checkout));
    }
    git_spec.insert("commit".into(), Value::Object(commit));
    // The CRD's rule (`pattern: ^$|^[^+:]`, image-automation-controller v1.2.4): no force
    // refspec and no deletion refspec.
    if let Some(refspec) = &git.push.refspec
        && (refspec.starts_with('+') || refspec.starts_with(':'))
    {
        return Err(cx.invalid(
            "git.push.refspec",
            format!(
                "{refspec:?}: Flux refuses force ('+') and deletion (':<dst>') refspecs; \
                 use refs/heads/<src>:refs/heads/<dst>"
            ),
        ));
    }
    let mut push = Map::new();
    put_opt(&mut push, "branch", git.push.branch.as_deref());
    put_opt(&mut push, "refspec", git.push.refspec.as_deref());
    if !git.push.options.is_empty() {
        push.insert("options".into(), json!(git.push.options));
    }
    if !push.is_empty() {
        git_spec.insert("push".into(), Value::Object(push));
    }
    let mut update = Map::new();
    put_opt(&mut update, "path", input.update_path.as_deref());
    update.insert("strategy".into(), "Setters".into());

    let mut spec = Map::new();
    spec.insert("interval".into(), interval.into());
    spec.insert("sourceRef".into(), source_ref);
    spec.insert("git".into(), Value::Object(git_spec));
    spec.insert("update".into(), Value::Object(update));
    spec.insert(
        "policySelector".into(),
        json!({"matchExpressions": [{"key": POLICY_LABEL, "operator": "In", "values": policy_names}]}),
    );
    put_true(&mut spec, "suspend", input.suspend);
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::ImageUpdateAutomation,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}

fn render_git_repository(
    input: &UpdateAutomationInput,
    interval: &str,
    mode: SecretsMode,
    cx: &Ctx,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let git = &input.git;
    let url = flux_git_url(&git.url)
        .map_err(|reason| cx.invalid("git.url", format!("{}: {reason}", redact_url(&git.url))))?;
    let is_ssh = url.starts_with("ssh://");
    match (&git.auth, is_ssh) {
        (Some(GitAuth::Ssh { .. }), false) => {
            return Err(cx.invalid(
                "git.auth",
                "sshPrivateKey needs an ssh:// (or user@host:path) git.url",
            ));
        }
        (Some(GitAuth::Token(_) | GitAuth::Basic { .. }), true) => {
            return Err(cx.invalid(
                "git.auth",
                "a token or password needs an https:// git.url; use sshPrivateKey for ssh://",
            ));
        }
        _ => {}
    }
    let mut out = Vec::new();
    let mut spec = Map::new();
    spec.insert("url".into(), url.into());
    spec.insert("interval".into(), interval.into());
    if let Some(r) = &git.checkout
        && !r.is_empty()
    {
        spec.insert("ref".into(), git_ref_json(r));
    }
    if git.auth.is_some() || git.ca_pem.is_some() {
        let secret_name = git_auth_secret_name(name);
        cx.check_object_name("name", &secret_name)?;
        spec.insert("secretRef".into(), json!({"name": secret_name}));
        if mode == SecretsMode::Include {
            let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
            match &git.auth {
                Some(GitAuth::Token(token)) => {
                    data.insert("username", b"git");
                    data.insert("password", token.expose_secret().as_bytes());
                }
                Some(GitAuth::Basic { username, password }) => {
                    data.insert("username", username.as_bytes());
                    data.insert("password", password.expose_secret().as_bytes());
                }
                Some(GitAuth::Ssh {
                    private_key,
                    known_hosts,
                    passphrase,
                }) => {
                    data.insert("identity", private_key.expose_secret().as_bytes());
                    data.insert("known_hosts", known_hosts.as_bytes());
                    if let Some(p) = passphrase {
                        data.insert("password", p.expose_secret().as_bytes());
                    }
                }
                None => {}
            }
            if let Some(ca) = &git.ca_pem {
                data.insert("ca.crt", ca.as_bytes());
            }
            out.push(secret(ns, &secret_name, "Opaque", data));
        }
    }
    if let Some(proxy) = &git.proxy {
        render_proxy(
            cx,
            ns,
            proxy,
            &format!("{name}-git-proxy"),
            mode,
            &mut spec,
            &mut out,
        )?;
    }
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::GitRepository,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}
