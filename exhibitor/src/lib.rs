//! The pure, I/O-free text formats of mesos-boot, in a crate of their own so that they can be
//! fuzzed and property-tested without building the AWS SDK or tokio:
//!
//! - [`properties`]: Java `.properties` reading and writing (`java.util.Properties`);
//! - [`exhibitor`]: Exhibitor's shared-config model on top of it (its 22 settings, both key
//!   prefixes, `servers-spec`, `zoo-cfg-extra`);
//! - [`dynamic`]: ZooKeeper's membership text (`/zookeeper/config` and the dynamic config
//!   file) and the `server.N=` line of a reconfig.
//!
//! mesos-boot re-exports these modules where it uses them (`mesos_boot::store::{properties,
//! exhibitor}`, `mesos_boot::zk::admin::{LiveConfig, Member, ...}`).

#![forbid(unsafe_code)]

pub mod dynamic;
pub mod exhibitor;
pub mod properties;
