//! What Kubernetes and Flux's CRDs would refuse, checked before anything is sent: object
//! names, durations; each error names the object and the input field.

use super::*;

pub(super) static DNS_SUBDOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("static regex")
});
pub(super) static DNS_LABEL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("static regex"));

/// Accumulates one object's checks and builds its pieces.
pub(super) struct Ctx {
    object: String,
}

impl Ctx {
    pub(super) fn new(kind: Kind, namespace: &str, name: &str) -> Self {
        Self {
            object: format!("{kind} {namespace}/{name}"),
        }
    }

    pub(super) fn invalid(&self, field: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidInput {
            object: self.object.clone(),
            field,
            reason: reason.into(),
        }
    }

    pub(super) fn check_names(&self, namespace: &str, name: &str) -> Result<()> {
        if namespace.len() > 63 || !DNS_LABEL.is_match(namespace) {
            return Err(self.invalid(
                "namespace",
                format!(
                    "{namespace:?} is not a Kubernetes namespace name (lowercase letters, digits \
                     and '-', at most 63 characters)"
                ),
            ));
        }
        self.check_object_name("name", name)
    }

    pub(super) fn check_object_name(&self, field: &'static str, name: &str) -> Result<()> {
        if name.len() > 253 || !DNS_SUBDOMAIN.is_match(name) {
            return Err(self.invalid(
                field,
                format!(
                    "{name:?} is not a Kubernetes object name (lowercase letters, digits, '-' \
                     and '.', starting and ending with a letter or digit, at most 253 characters)"
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn check_duration(
        &self,
        field: &'static str,
        value: &str,
        hours: bool,
    ) -> Result<()> {
        let parsed = if hours {
            parse_go_duration(value)
        } else {
            parse_flux_timeout(value)
        };
        if parsed.is_err() {
            let units = if hours { "ms, s, m or h" } else { "ms, s or m" };
            return Err(self.invalid(
                field,
                format!("{value:?} is not a Go duration Flux accepts (e.g. \"5m\", \"1m30s\"; units {units})"),
            ));
        }
        Ok(())
    }
}
