//! Git write-back for image update automation (work in progress).
mod changes;
mod error;
mod sprig;
mod template;

pub use changes::{Change, ChangeSet, NamespacedName, ObjectChanges, ObjectIdentifier};
pub use error::Error;
pub use template::{
    COMMIT_MESSAGE_TEMPLATE_NAME, DEFAULT_MESSAGE_TEMPLATE, MessageTemplate, TemplateData,
};
