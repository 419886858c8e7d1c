//! mesos-boot: configures and starts a ZooKeeper, Mesos master or Mesos agent node from
//! IMDSv2, instance tags and the Exhibitor shared config. One module per concern; `boot`
//! runs them as a pipeline.

pub mod agent_registration;
pub mod boot;
pub mod cli;
pub mod credentials;
pub mod failure;
pub mod fsutil;
pub mod identity;
pub mod image;
pub mod instances;
pub mod lifecycle;
pub mod record;
pub mod render;
pub mod retry;
pub mod serve;
pub mod service;
pub mod settings;
pub mod shared_config;
pub mod status;
pub mod zookeeper;
