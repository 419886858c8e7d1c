//! The ACL of Mesos' ZooKeeper path (`/mesos`): all rights for the masters' digest credential,
//! read for the agents', nothing for anyone else. The masters' boot keeps it before Mesos
//! starts: Mesos, given `zk://user:secret@…`, creates a missing path with world read, so the path
//! must exist first. The znodes Mesos creates under it (`json.info_*`, `log_replicas/`) get
//! Mesos' own `EVERYONE_READ_CREATOR_ALL`: only the masters can write them; without a
//! credential, nothing under `/mesos` can be listed.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client as zk;

use crate::failure::{Failure, Result};
use crate::mesos::credentials::Credentials;
use crate::retry::{self, Attempt};

/// The path's ACL: every credential still accepted keeps its rights during a rotation.
pub fn acl(master: &Credentials, agent: &Credentials) -> Vec<zk::Acl> {
    let mut out: Vec<zk::Acl> = master
        .all()
        .map(|c| {
            zk::Acl::new(
                zk::Permission::ALL,
                zk::AuthId::new("digest", &c.zk_digest()),
            )
        })
        .collect();
    out.extend(agent.all().map(|c| {
        zk::Acl::new(
            zk::Permission::READ,
            zk::AuthId::new("digest", &c.zk_digest()),
        )
    }));
    out
}

fn key(acls: &[zk::Acl]) -> BTreeSet<(String, String, String)> {
    acls.iter()
        .map(|a| {
            (
                a.scheme().to_string(),
                a.id().to_string(),
                format!("{:?}", a.permission()),
            )
        })
        .collect()
}

/// `scheme:id:perms` of each entry (digests are hashes, not secrets).
pub fn describe(acls: &[zk::Acl]) -> String {
    acls.iter()
        .map(|a| format!("{}:{}:{:?}", a.scheme(), a.id(), a.permission()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What [`ensure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// The ACL it had before.
    Corrected(String),
    Unchanged,
}

/// Creates `path` (and missing parents) with [`acl`], or sets its ACL to [`acl`] when it
/// differs (an open path from before, a rotation). Retried until `deadline` while ZooKeeper
/// cannot be reached; a path whose ACL the masters cannot administer is an error naming it.
pub async fn ensure(
    hosts: &str,
    path: &str,
    master: &Credentials,
    agent: &Credentials,
    deadline: Instant,
) -> Result<Outcome> {
    let want = acl(master, agent);
    let got = retry::until("the ACL of the Mesos znode", deadline, Duration::from_secs(2), || {
        let want = &want;
        async move {
            let client = match crate::mesos::leader::connect_as(hosts, Some(master)).await {
                Ok(c) => c,
                Err(e) => return Attempt::Again(Failure::unreachable(format!("ZooKeeper {hosts}: {e}"))),
            };
            match once(&client, path, want).await {
                Ok(o) => Attempt::Done(o),
                Err(zk::Error::NoAuth) => Attempt::Fail(Failure::bad_input(format!(
                    "ZooKeeper {path}: its ACL does not let the masters' credential ({}) change it; \
                     a ZooKeeper superuser must set it (see README, Threat model)",
                    master.current.principal
                ))),
                Err(e) => Attempt::Again(Failure::unreachable(format!("ZooKeeper {path}: {e}"))),
            }
        }
    })
    .await;
    got.map_err(|last| {
        last.unwrap_or_else(|| {
            Failure::unreachable(format!("ZooKeeper {hosts}: no answer before the deadline"))
        })
    })
}

async fn once(
    client: &zk::Client,
    path: &str,
    want: &[zk::Acl],
) -> std::result::Result<Outcome, zk::Error> {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(want));
    // Parents first (created with the same ACL; existing ones are left as they are).
    let mut at = 0;
    while let Some(i) = path[at + 1..].find('/') {
        at += 1 + i;
        match client.create(&path[..at], &[], &options).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
    }
    match client.create(path, &[], &options).await {
        Ok(_) => return Ok(Outcome::Created),
        Err(zk::Error::NodeExists) => {}
        Err(e) => return Err(e),
    }
    let (have, stat) = client.get_acl(path).await?;
    if key(&have) == key(want) {
        return Ok(Outcome::Unchanged);
    }
    client.set_acl(path, want, Some(stat.aversion)).await?;
    Ok(Outcome::Corrected(describe(&have)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::credentials::Credential;

    #[test]
    fn masters_get_everything_agents_read_and_old_credentials_stay_during_a_rotation() {
        let one = |p: &str| Credentials {
            current: Credential::generate(p),
            previous: vec![],
        };
        let (m, a) = (one("mesos-master"), one("mesos-agent"));
        let a2 = a.rotated(crate::mesos::credentials::ZK_AGENT);
        let acls = acl(&m, &a2);
        assert_eq!(acls.len(), 3);
        assert_eq!(acls[0].permission(), zk::Permission::ALL);
        assert_eq!(acls[0].id(), m.current.zk_digest());
        assert!(acls[1..]
            .iter()
            .all(|x| x.permission() == zk::Permission::READ));
        assert!(acls.iter().all(|x| x.scheme() == "digest"));
        assert!(!describe(&acls).contains(m.current.secret()));
    }
}
