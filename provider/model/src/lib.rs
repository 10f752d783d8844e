//! `imageautomation-model`: one typed model of what the provider and the command line work
//! on, parsed once at their boundaries.
//!
//! - [`args`]: the Pulumi resources' inputs (`schema.json`), parsed from property values.
//! - [`flux`]: Flux's objects as manifests spell them (`imageautomation run`, `render`).
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
pub mod token_rule;
pub mod url_forms;

pub use duration::parse_go_duration;
pub use flux::DigestReflectionPolicy;
pub use git::{CheckoutRef, GitRef, checkout_ref};
