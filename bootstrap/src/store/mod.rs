//! The ensemble's shared configuration and the objects kept beside it.
//!
//! - The text format (`properties`) and Exhibitor's model (`exhibitor`), from the I/O-free
//!   `exhibitor-config` crate;
//! - [`object`]: where an object lives (`s3://bucket/key` or a file) and its compare-and-swap
//!   reads and writes;
//! - [`typed`]: an object beside the shared config read or created once (get-or-create) and
//!   rewritten by conditional write (the secrets, the CA, the credentials);
//! - [`lease`]: a lease kept in the shared config (who backs up, who rolls a change).

pub use exhibitor_config::{exhibitor, properties};
pub mod lease;
pub mod object;
pub mod typed;

pub use exhibitor::{Server, ServerKind, SharedConfig};
pub use object::{Location, Snapshot, Store, StoreError, Version};
