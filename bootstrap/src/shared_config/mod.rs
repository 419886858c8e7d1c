//! The ensemble's shared configuration in Exhibitor's format: the text format
//! (`properties`), Exhibitor's model (`exhibitor`), both from the I/O-free `exhibitor-config`
//! crate, and where it lives (`store`: S3 or a file, with compare-and-swap writes).

pub use exhibitor_config::{exhibitor, properties};
pub mod store;

pub use exhibitor::{Server, ServerKind, SharedConfig};
pub use store::{Location, Snapshot, Store, StoreError, Version};
