//! mesos-boot: configures and starts a ZooKeeper, Mesos master or Mesos agent node from
//! IMDSv2, instance tags and the Exhibitor shared config, and on ZooKeeper nodes keeps the
//! ensemble healthy afterwards (`serve`).
//!
//! The folders are layers, listed here from the bottom up; a module imports only from layers
//! below its own (`scripts/check-layers.py` checks it, in CI):
//!
//! | layer | modules | what it owns |
//! |---|---|---|
//! | 0 | [`notify`] | telling systemd (`READY=1`, `STATUS=`) |
//! | 1 | [`failure`], [`retry`], [`fsutil`] | exit codes, the one retry policy, atomic writes |
//! | 2 | [`cloud`] | the AWS SDK's configuration, EC2 and Auto Scaling, lifecycle hooks |
//! | 3 | [`store`] | the shared config and the objects beside it (S3 or a file) |
//! | 4 | [`config`] | the command line, the settings with their sources, the instance's identity |
//! | 5 | [`zk`] | ZooKeeper primitives, no policy: peers, four-letter words, reconfig, TLS, logs on disk, backup sets |
//! | 6 | [`mesos`] | Mesos: credentials, the `/mesos` ACL, the leading master, agent registration |
//! | 7 | [`node`] | this node's files: paths, rendering, local ZooKeeper state, the boot record, the service |
//! | 8 | [`membership`] | a ZooKeeper node's boot-time policy: register, form, join, restore |
//! | 9 | [`boot`], [`serve`] | the boot pipeline; the long-running `serve` and its loops |
//! | 10 | [`cmd`] | one module per subcommand |

pub mod notify;

pub mod failure;
pub mod fsutil;
pub mod retry;

pub mod cloud;
pub mod store;

pub mod config;

pub mod zk;

pub mod mesos;

pub mod node;

pub mod membership;

pub mod boot;
pub mod serve;

pub mod cmd;
