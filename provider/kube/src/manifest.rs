//! One rendered Kubernetes object ([`Manifest`]), its identity ([`ObjectKey`],
//! [`Kind`]) and its redacted view.

use std::fmt;

use serde_json::Value;

/// The label every object this crate renders carries (Kubernetes recommended
/// label `app.kubernetes.io/managed-by`).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "pulumi-imageautomation";
/// What a redacted Secret shows instead of each value of `data`/`stringData`.
pub const REDACTED: &str = "[redacted]";

/// The kinds of object this crate renders and applies. Each knows its REST
/// coordinates, so no API discovery request is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Core `v1` `Secret`.
    Secret,
    /// Flux source-controller `source.toolkit.fluxcd.io/v1` `GitRepository`.
    GitRepository,
    /// Flux image-reflector-controller `image.toolkit.fluxcd.io/v1` `ImageRepository`.
    ImageRepository,
    /// Flux image-reflector-controller `image.toolkit.fluxcd.io/v1` `ImagePolicy`.
    ImagePolicy,
    /// Flux image-automation-controller `image.toolkit.fluxcd.io/v1` `ImageUpdateAutomation`.
    ImageUpdateAutomation,
}

impl Kind {
    /// Every kind, in the order objects are applied (Secrets before the
    /// objects that reference them; deletion goes the other way).
    pub const ALL: [Kind; 5] = [
        Kind::Secret,
        Kind::GitRepository,
        Kind::ImageRepository,
        Kind::ImagePolicy,
        Kind::ImageUpdateAutomation,
    ];

    /// The kind as Kubernetes spells it (`ImageRepository`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::GitRepository => "GitRepository",
            Kind::ImageRepository => "ImageRepository",
            Kind::ImagePolicy => "ImagePolicy",
            Kind::ImageUpdateAutomation => "ImageUpdateAutomation",
        }
    }

    /// The API group (`""` for core).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Secret => "",
            Kind::GitRepository => "source.toolkit.fluxcd.io",
            Kind::ImageRepository | Kind::ImagePolicy | Kind::ImageUpdateAutomation => {
                "image.toolkit.fluxcd.io"
            }
        }
    }

    /// The version (`v1` for all).
    pub fn version(self) -> &'static str {
        "v1"
    }

    /// `apiVersion` as written in objects (`image.toolkit.fluxcd.io/v1`, `v1`).
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Secret => "v1",
            Kind::GitRepository => "source.toolkit.fluxcd.io/v1",
            Kind::ImageRepository | Kind::ImagePolicy | Kind::ImageUpdateAutomation => {
                "image.toolkit.fluxcd.io/v1"
            }
        }
    }

    /// The resource's plural name in REST paths (`imagerepositories`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Secret => "secrets",
            Kind::GitRepository => "gitrepositories",
            Kind::ImageRepository => "imagerepositories",
            Kind::ImagePolicy => "imagepolicies",
            Kind::ImageUpdateAutomation => "imageupdateautomations",
        }
    }

    /// The kind whose `apiVersion` and `kind` are these, if this crate knows it.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.api_version() == api_version && k.as_str() == kind)
    }

    pub(crate) fn api_resource(self) -> kube::discovery::ApiResource {
        kube::discovery::ApiResource {
            group: self.group().to_owned(),
            version: self.version().to_owned(),
            api_version: self.api_version().to_owned(),
            kind: self.as_str().to_owned(),
            plural: self.plural().to_owned(),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object: kind, namespace and name. Displays as `Kind namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace (all kinds here are namespaced).
    pub namespace: String,
    /// The object's `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One rendered Kubernetes object: the complete body that is server-side
/// applied (`apiVersion`, `kind`, `metadata`, then `spec` or, for Secrets,
/// `type` and base64 `data`).
///
/// A Secret's body holds credentials, so the body is only reachable through
/// [`Manifest::expose_body`]; `Debug` and [`Manifest::redacted`] replace every
/// value under `data` and `stringData` with [`REDACTED`].
#[derive(Clone, PartialEq)]
pub struct Manifest {
    key: ObjectKey,
    body: Value,
}

impl Manifest {
    pub(crate) fn new(key: ObjectKey, body: Value) -> Self {
        Self { key, body }
    }

    /// Builds a manifest from a complete object body, e.g. one stored in a
    /// Pulumi state as the applied object.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when the body has no known
    /// `apiVersion`/`kind` pair or no `metadata.name`/`metadata.namespace`.
    pub fn from_body(body: Value) -> crate::Result<Self> {
        let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let invalid = |field, reason: &str| crate::Error::InvalidInput {
            object: "a stored object".to_owned(),
            field,
            reason: reason.to_owned(),
        };
        let api_version = text("/apiVersion").ok_or_else(|| invalid("apiVersion", "missing"))?;
        let kind_name = text("/kind").ok_or_else(|| invalid("kind", "missing"))?;
        let kind = Kind::from_type(&api_version, &kind_name).ok_or_else(|| {
            invalid(
                "kind",
                &format!("{api_version} {kind_name} is not a kind this provider applies"),
            )
        })?;
        let name = text("/metadata/name").ok_or_else(|| invalid("metadata.name", "missing"))?;
        let namespace =
            text("/metadata/namespace").ok_or_else(|| invalid("metadata.namespace", "missing"))?;
        Ok(Self {
            key: ObjectKey {
                kind,
                namespace,
                name,
            },
            body,
        })
    }

    /// The object's identity.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// True for a `Secret` (its body holds credentials).
    pub fn is_secret(&self) -> bool {
        self.key.kind == Kind::Secret
    }

    /// The complete body, Secret data included. Do not log it; use
    /// [`Manifest::redacted`] for anything a person may see.
    pub fn expose_body(&self) -> &Value {
        &self.body
    }

    /// The body with every value under a Secret's `data` and `stringData`
    /// replaced by [`REDACTED`] (the keys stay, so one sees which are set).
    /// Other kinds hold no credentials and are returned as they are. This is
    /// the shape of the provider's `fluxObjects` output.
    pub fn redacted(&self) -> Value {
        redact(&self.key, &self.body)
    }
}

/// The objects of `old` that `new` no longer has (by [`ObjectKey`]), in
/// deletion order (reverse of `old`): what an update must delete after
/// applying `new`, e.g. the registry Secret once credentials are removed, or
/// the rendered `GitRepository` and its Secret once the automation names an
/// existing one in `sourceRef`.
pub fn removed_objects(old: &[Manifest], new: &[Manifest]) -> Vec<ObjectKey> {
    old.iter()
        .rev()
        .filter(|o| new.iter().all(|n| n.key != o.key))
        .map(|o| o.key.clone())
        .collect()
}

/// Redacts a Secret's data in any object body of the given kind (used for
/// objects read back from the cluster as well).
pub(crate) fn redact(key: &ObjectKey, body: &Value) -> Value {
    let mut out = body.clone();
    if key.kind == Kind::Secret
        && let Some(obj) = out.as_object_mut()
    {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = obj.get_mut(field) {
                for v in map.values_mut() {
                    *v = Value::String(REDACTED.to_owned());
                }
            }
        }
    }
    out
}

impl fmt::Debug for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manifest")
            .field("key", &self.key)
            .field("body", &self.redacted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_debug_and_redacted_hide_data() {
        let m = Manifest::new(
            ObjectKey {
                kind: Kind::Secret,
                namespace: "flux-system".into(),
                name: "s".into(),
            },
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"password": "aHVudGVyMg=="},
                   "stringData": {"token": "ghp_x"}}),
        );
        let debug = format!("{m:?}");
        assert!(!debug.contains("aHVudGVyMg"), "{debug}");
        assert!(!debug.contains("ghp_x"), "{debug}");
        assert_eq!(m.redacted()["data"]["password"], REDACTED);
        assert_eq!(m.expose_body()["data"]["password"], "aHVudGVyMg==");
    }

    #[test]
    fn from_body_round_trips_key() {
        let body = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
                          "metadata": {"name": "p", "namespace": "ns"}});
        let m = Manifest::from_body(body).expect("valid");
        assert_eq!(m.key().to_string(), "ImagePolicy ns/p");
        assert!(
            Manifest::from_body(json!({"apiVersion": "apps/v1", "kind": "Deployment"})).is_err()
        );
    }
}
