//! Everything Mesos-specific: the credentials beside the shared config ([`credentials`]), the
//! files Mesos reads them from ([`auth`]), the ACL of Mesos' ZooKeeper path ([`acl`]), the
//! leading master as ZooKeeper lists it ([`leader`]), a master's own readiness ([`readiness`]),
//! the record that the masters' registry formed ([`registry`]),
//! an agent's registration with the leader ([`registration`]), how an agent's executors
//! authenticate ([`executors`]), over one HTTP `GET` ([`http`]).

pub mod acl;
pub mod auth;
pub mod credentials;
pub mod executors;
pub mod http;
pub mod leader;
pub mod readiness;
pub mod registration;
pub mod registry;
