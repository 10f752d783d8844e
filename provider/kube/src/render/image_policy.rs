//! `ImagePolicy`.

use super::*;

/// Renders a Flux `ImagePolicy` labelled [`POLICY_LABEL`]`: <name>` so that an
/// automation can select exactly it.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad namespace or name (names longer than 63
/// characters cannot be label values), an empty semver range, or an
/// `interval` without `digestReflectionPolicy: Always` (or the reverse),
/// which the CRD's CEL rules refuse.
pub fn render_image_policy(input: &ImagePolicyInput) -> Result<Manifest> {
    let ns = input.namespace.as_str();
    let name = input.name.as_str();
    let cx = Ctx::new(Kind::ImagePolicy, ns, name);
    cx.check_names(ns, name)?;
    if name.len() > 63 {
        return Err(cx.invalid(
            "name",
            "is longer than 63 characters, so it cannot be the label value an \
             ImageUpdateAutomation selects it by; choose a shorter name",
        ));
    }
    cx.check_object_name("imageRepositoryRef.name", &input.image_repository_ref.name)?;
    let mut repo_ref = Map::new();
    repo_ref.insert(
        "name".into(),
        input.image_repository_ref.name.clone().into(),
    );
    put_opt(
        &mut repo_ref,
        "namespace",
        input.image_repository_ref.namespace.as_deref(),
    );
    let policy = match &input.policy {
        Policy::Semver { range } => {
            if range.trim().is_empty() {
                return Err(cx.invalid(
                    "policy.semver.range",
                    "is empty; give a range such as \">=1.0.0\"",
                ));
            }
            json!({"semver": {"range": range}})
        }
        Policy::Alphabetical { order } => {
            json!({"alphabetical": order.map(|o| json!({"order": o.as_str()})).unwrap_or_else(|| json!({}))})
        }
        Policy::Numerical { order } => {
            json!({"numerical": order.map(|o| json!({"order": o.as_str()})).unwrap_or_else(|| json!({}))})
        }
    };
    let always = input.digest_reflection_policy == DigestReflectionPolicy::Always;
    match (&input.interval, always) {
        (Some(i), true) => cx.check_duration("interval", i, true)?,
        (Some(_), false) => {
            return Err(cx.invalid(
                "interval",
                "is only accepted when digestReflectionPolicy is set to 'Always' (Flux CRD rule); \
                 remove it or set digestReflectionPolicy: Always",
            ));
        }
        (None, true) => {
            return Err(cx.invalid(
                "interval",
                "must be set when digestReflectionPolicy is set to 'Always' (Flux CRD rule)",
            ));
        }
        (None, false) => {}
    }
    let mut spec = Map::new();
    spec.insert("imageRepositoryRef".into(), Value::Object(repo_ref));
    spec.insert("policy".into(), policy);
    if input.filter_tags_pattern.is_some() || input.filter_tags_extract.is_some() {
        let mut ft = Map::new();
        put_opt(&mut ft, "pattern", input.filter_tags_pattern.as_deref());
        put_opt(&mut ft, "extract", input.filter_tags_extract.as_deref());
        spec.insert("filterTags".into(), Value::Object(ft));
    }
    if input.digest_reflection_policy != DigestReflectionPolicy::Never {
        spec.insert(
            "digestReflectionPolicy".into(),
            input.digest_reflection_policy.as_str().into(),
        );
    }
    put_opt(&mut spec, "interval", input.interval.as_deref());
    put_true(&mut spec, "suspend", input.suspend);
    let mut rest = Map::new();
    rest.insert("spec".into(), Value::Object(spec));
    Ok(object(
        Kind::ImagePolicy,
        ns,
        name,
        metadata(ns, name, &[(POLICY_LABEL, name)]),
        rest,
    ))
}
