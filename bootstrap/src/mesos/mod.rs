//! Everything Mesos-specific: the credentials beside the shared config ([`credentials`]), the
//! files Mesos reads them from ([`auth`]), the ACL of Mesos' ZooKeeper path ([`acl`]), the
//! leading master as ZooKeeper lists it ([`leader`]) and an agent's registration with it
//! ([`registration`]).

pub mod acl;
pub mod auth;
pub mod credentials;
pub mod leader;
pub mod registration;
