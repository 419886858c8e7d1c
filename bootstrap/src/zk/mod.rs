//! ZooKeeper primitives, no policy: what a member is ([`peer`]), the four-letter words and
//! quorum waits ([`four_letter`]), ZooKeeper's own membership and incremental reconfig
//! ([`admin`]), the superuser secret ([`secret`]), quorum TLS and the cluster CA ([`tls`]), the
//! data on disk ([`txnlog`]) and the backup sets of it beside the shared config ([`backups`]).

use base64::Engine;
use sha1::{Digest, Sha1};

pub mod admin;
pub mod backups;
pub mod four_letter;
pub mod peer;
pub mod secret;
pub mod tls;
pub mod txnlog;

/// `base64(sha1("<user>:<secret>"))`, what ZooKeeper's digest scheme compares.
pub fn zk_digest_hash(user: &str, secret: &str) -> String {
    let hash = Sha1::digest(format!("{user}:{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash)
}
