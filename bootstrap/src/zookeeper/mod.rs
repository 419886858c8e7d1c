//! ZooKeeper membership: everything a ZooKeeper node does to form, join, heal and check its
//! ensemble.
//!
//! - [`ensemble`]: registration in the shared config's servers-spec (compare-and-swap) and safe
//!   first formation;
//! - [`membership`]: the boot's membership step (register, look, form or join, or start
//!   from local state);
//! - [`zkadmin`]: ZooKeeper's own view of its membership (`/zookeeper/config`) and incremental
//!   reconfig;
//! - [`reconcile`]: removal of dead members, run by `serve`;
//! - [`backup`]: backups of the data to the cluster bucket (`serve`) and restore;
//! - [`rolling`]: a changed static setting applied by restarts, one member at a time (`serve`);
//! - [`leave`]: a terminating member's graceful leave (termination hook), run by `serve`;
//! - [`divergence`]: resynchronisation of a follower whose tree diverged, run by `serve`,
//!   and of a log with a gap, before ZooKeeper starts;
//! - [`txnlog`]: ZooKeeper's snapshots and transaction logs on disk, checked for a gap;
//! - [`secret`]: the superuser secret that authenticates reconfig;
//! - [`tls`]: quorum TLS and the secure client port (optional): the cluster CA, each member's
//!   certificate;
//! - [`quorum`]: four-letter words and the leading Mesos master.

pub mod backup;
pub mod divergence;
pub mod ensemble;
pub mod leave;
pub mod membership;
pub mod quorum;
pub mod reconcile;
pub mod rolling;
pub mod secret;
pub mod tls;
pub mod txnlog;
pub mod zkadmin;
