//! This node's own files and service: where everything is ([`paths`]), the rendered
//! configuration ([`render`]), ZooKeeper's state on this disk ([`zk_state`]), the boot record
//! ([`record`]), the role's service ([`service`]) and the cgroup hierarchy it booted
//! ([`cgroups`]).

pub mod cgroups;
pub mod paths;
pub mod record;
pub mod render;
pub mod service;
pub mod zk_state;
