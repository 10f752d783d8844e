//! `ImageRepository` and its registry Secrets.

use super::*;

/// Renders a Flux `ImageRepository` and, with [`SecretsMode::Include`], its
/// Secrets: `<name>-registry-auth` (`kubernetes.io/dockerconfigjson`, key
/// `.dockerconfigjson`) when it has credentials, `<name>-registry-tls`
/// (`Opaque`, keys `ca.crt`/`tls.crt`/`tls.key`) when it has TLS settings.
/// Secrets come first (apply order).
///
/// # Errors
/// [`Error::InvalidInput`] for a namespace or name Kubernetes refuses, an
/// empty image or one with a scheme, an interval or timeout Flux's CRD
/// refuses, more than 25 exclusion patterns, a `dockerConfigJson` that is not
/// a JSON object with `auths`, or a client certificate without its key.
pub fn render_image_repository(
    input: &ImageRepositoryInput,
    mode: SecretsMode,
) -> Result<Vec<Manifest>> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImageRepository, ns, name);
    cx.check_names(ns, name)?;
    if input.image.is_empty() || input.image.contains("://") {
        return Err(cx.invalid(
            "image",
            format!(
                "{:?} is not an image repository: give `registry/repository` without scheme or \
                 tag, e.g. \"ghcr.io/org/app\"",
                input.image
            ),
        ));
    }
    let interval = input
        .interval
        .as_deref()
        .unwrap_or(DEFAULT_IMAGE_REPOSITORY_INTERVAL);
    cx.check_duration("interval", interval, true)?;
    if let Some(t) = &input.timeout {
        cx.check_duration("timeout", t, false)?;
    }

    let mut out = Vec::new();
    let mut spec = Map::new();
    spec.insert("image".into(), input.image.clone().into());
    spec.insert("interval".into(), interval.into());
    put_opt(&mut spec, "timeout", input.timeout.as_deref());
    if let Some(list) = &input.exclusion_list {
        if list.len() > 25 {
            return Err(cx.invalid(
                "exclusionList",
                format!("has {} patterns; Flux accepts at most 25", list.len()),
            ));
        }
        spec.insert("exclusionList".into(), json!(list));
    }
    put_true(&mut spec, "insecure", input.insecure);
    put_true(&mut spec, "suspend", input.suspend);

    if let Some(creds) = &input.credentials {
        let secret_name = registry_auth_secret_name(name);
        cx.check_object_name("name", &secret_name)?;
        spec.insert("secretRef".into(), json!({"name": secret_name}));
        if mode == SecretsMode::Include {
            let config = match creds {
                RegistryCredentials::Basic { username, password } => {
                    let auth = BASE64.encode(format!("{username}:{}", password.expose_secret()));
                    let mut auths = Map::new();
                    auths.insert(
                        docker_config_registry_key(&input.image),
                        json!({"username": username, "password": password.expose_secret(), "auth": auth}),
                    );
                    serde_json::to_string(&json!({ "auths": auths }))
                        .expect("a JSON value serialises")
                }
                RegistryCredentials::DockerConfigJson(text) => {
                    let parsed: Value =
                        serde_json::from_str(text.expose_secret()).map_err(|e| {
                            // serde_json's message gives line and column, never content.
                            cx.invalid("dockerConfigJson", format!("is not JSON: {e}"))
                        })?;
                    if !parsed.get("auths").is_some_and(Value::is_object) {
                        return Err(cx.invalid(
                            "dockerConfigJson",
                            "has no `auths` object; give a Docker config such as \
                             {\"auths\": {\"ghcr.io\": {\"auth\": \"<base64 user:password>\"}}}",
                        ));
                    }
                    text.expose_secret().to_owned()
                }
            };
            out.push(secret(
                ns,
                &secret_name,
                "kubernetes.io/dockerconfigjson",
                BTreeMap::from([(".dockerconfigjson", config.as_bytes())]),
            ));
        }
    }

    if let Some(cert) = &input.certificate {
        if cert.cert_pem.is_some() != cert.key_pem.is_some() {
            return Err(cx.invalid(
                "certificate",
                "certPem and keyPem go together: give both for a client certificate, or neither",
            ));
        }
        if cert.ca_pem.is_some() || cert.cert_pem.is_some() {
            let secret_name = registry_tls_secret_name(name);
            cx.check_object_name("name", &secret_name)?;
            spec.insert("certSecretRef".into(), json!({"name": secret_name}));
            if mode == SecretsMode::Include {
                let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
                if let Some(ca) = &cert.ca_pem {
                    data.insert("ca.crt", ca.as_bytes());
                }
                if let (Some(c), Some(k)) = (&cert.cert_pem, &cert.key_pem) {
                    data.insert("tls.crt", c.as_bytes());
                    data.insert("tls.key", k.expose_secret().as_bytes());
                }
                out.push(secret(ns, &secret_name, "Opaque", data));
            }
        }
    }

    match input.provider.as_deref() {
        None | Some("generic") => {}
        Some(p @ ("aws" | "azure" | "gcp")) => {
            if input.credentials.is_some() {
                return Err(cx.invalid(
                    "provider",
                    format!(
                        "{p}: Flux ignores secretRef with a cloud provider; remove credentials"
                    ),
                ));
            }
            spec.insert("provider".into(), p.into());
        }
        Some(other) => {
            return Err(cx.invalid(
                "provider",
                format!("{other:?} is not one of Flux's generic, aws, azure, gcp"),
            ));
        }
    }
    if let Some(proxy) = &input.proxy {
        render_proxy(
            &cx,
            ns,
            proxy,
            &format!("{name}-registry-proxy"),
            mode,
            &mut spec,
            &mut out,
        )?;
    }

    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    out.push(object(
        Kind::ImageRepository,
        ns,
        name,
        metadata(ns, name, &[]),
        rest,
    ));
    Ok(out)
}
