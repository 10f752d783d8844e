//! `imageautomation-model`: one typed model of what the provider and the command line work
//! on, parsed once at their boundaries.
//!
//! - [`args`]: the Pulumi resources' inputs (`schema.json`), parsed from property values.
//! - [`flux`]: Flux's objects as manifests spell them (`imageautomation run`, `render`).
//! - [`manifests`]: the Flux objects of a directory of YAML files, read into [`flux`]'s types.
//! - [`git`]: the Git shapes both share, and Flux's checkout-ref and strategy rules.
//! - [`duration`]: Flux's Go duration grammar; [`token_rule`]: where a Git token may go;
//!   [`url_forms`]: the scp-like Git URL form.
//!
//! The crate knows no protocol: Pulumi's unknowns and secrets are handled by the plugin
//! before [`args::parse`], Kubernetes by `imageautomation-kube`.

pub mod args;
mod de;
pub mod duration;
pub mod flux;
pub mod git;
pub mod manifests;
pub mod policy_options;
pub mod token_rule;
pub mod url_forms;

use std::sync::LazyLock;

pub use duration::parse_go_duration;
pub use flux::DigestReflectionPolicy;
pub use git::{CheckoutRef, GitRef, checkout_ref};

/// A serde message without the values it quotes: `invalid type: integer `12345`, expected a
/// string` becomes `invalid type: integer, expected a string` (field names, which serde also
/// quotes, are kept: `missing field `auths``). serde's messages quote the offending value,
/// which may be a password given with the wrong type (found by fuzzing, issue #15).
pub fn without_values(message: &str) -> String {
    static VALUE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"(invalid (?:type|value): [a-z ]+?) (?:`[^`]*`|"(?:[^"\\]|\\.)*")"#)
            .expect("static regex is valid")
    });
    VALUE.replace_all(message, "$1").into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_messages_lose_their_values_and_keep_field_names() {
        use super::without_values as w;
        assert_eq!(
            w(
                "invalid type: integer `222222222222222`, expected struct RawConfig at line 1 column 15"
            ),
            "invalid type: integer, expected struct RawConfig at line 1 column 15"
        );
        assert_eq!(
            w(r#"invalid type: string "hunter2 \"x\"", expected a map"#),
            "invalid type: string, expected a map"
        );
        assert_eq!(
            w("invalid value: string \"s3cret\", expected one of `a`, `b`"),
            "invalid value: string, expected one of `a`, `b`"
        );
        assert_eq!(w("missing field `auths`"), "missing field `auths`");
    }
}
