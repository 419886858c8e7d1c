//! The ACLs of Mesos' ZooKeeper path (`/mesos`) and of its replicated log's group
//! (`/mesos/log_replicas`). `/mesos`: all rights for the masters' digest credentials, read for
//! the agents', nothing for anyone else. `log_replicas`: all rights for the masters' credentials
//! only. The masters' boot keeps both before Mesos starts: Mesos, given `zk://user:secret@…`,
//! creates a missing one with `EVERYONE_READ_CREATOR_ALL` (src/zookeeper/group.cpp), world read
//! and every right for the one credential that created it, so after a rotation of the masters'
//! credential a master on the new one could not join the log group and would abort
//! (src/log/log.cpp, `LogProcess::failed`). The ephemeral members Mesos creates under them
//! (`json.info_*`, `log_replicas/<seq>`) keep Mesos' ACL: only their session's master writes
//! them; without a credential, nothing under `/mesos` can be listed.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client as zk;

use crate::failure::{Failure, Result};
use crate::mesos::credentials::Credentials;
use crate::retry::{self, Attempt};

/// The path's ACL: every credential still accepted keeps its rights during a rotation.
pub fn acl(master: &Credentials, agent: &Credentials) -> Vec<zk::Acl> {
    let mut out = log_group_acl(master);
    out.extend(agent.all().map(|c| {
        zk::Acl::new(
            zk::Permission::READ,
            zk::AuthId::new("digest", &c.zk_digest()),
        )
    }));
    out
}

/// The log group's ACL: every right for each of the masters' credentials still accepted.
pub fn log_group_acl(master: &Credentials) -> Vec<zk::Acl> {
    master
        .all()
        .map(|c| {
            zk::Acl::new(
                zk::Permission::ALL,
                zk::AuthId::new("digest", &c.zk_digest()),
            )
        })
        .collect()
}

/// Where Mesos' replicated log keeps its group under the masters' `path`
/// (src/master/main.cpp: `path::join(url->path, "log_replicas")`).
pub fn log_group(path: &str) -> String {
    format!("{}/log_replicas", path.trim_end_matches('/'))
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

/// Creates `path` (and missing parents) with [`acl`] and its log group with [`log_group_acl`],
/// or sets an ACL that differs (an open path from before, Mesos' own on the log group, a
/// rotation). Returns what it did to each, `path` first. Retried until `deadline` while
/// ZooKeeper cannot be reached; a znode whose ACL the masters cannot administer is an error
/// naming it.
pub async fn ensure(
    hosts: &str,
    path: &str,
    master: &Credentials,
    agent: &Credentials,
    deadline: Instant,
) -> Result<Vec<(String, Outcome)>> {
    let want = [
        (path.to_string(), acl(master, agent)),
        (log_group(path), log_group_acl(master)),
    ];
    let got = retry::until("the ACLs of the Mesos znodes", deadline, Duration::from_secs(2), || {
        let want = &want;
        async move {
            let client = match crate::mesos::leader::connect_as(hosts, Some(master)).await {
                Ok(c) => c,
                Err(e) => return Attempt::Again(Failure::unreachable(format!("ZooKeeper {hosts}: {e}"))),
            };
            let mut done = Vec::new();
            for (znode, acl) in want {
                match once(&client, znode, acl).await {
                    Ok(o) => done.push((znode.clone(), o)),
                    Err(zk::Error::NoAuth) => return Attempt::Fail(Failure::bad_input(format!(
                        "ZooKeeper {znode}: its ACL does not let the masters' credential ({}) change it; \
                         a ZooKeeper superuser must set it (see README, Threat model)",
                        master.current.principal
                    ))),
                    Err(e) => return Attempt::Again(Failure::unreachable(format!("ZooKeeper {znode}: {e}"))),
                }
            }
            Attempt::Done(done)
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

    #[test]
    fn the_log_group_is_the_masters_alone_with_every_credential_still_accepted() {
        let m = Credentials {
            current: Credential::generate("mesos-master"),
            previous: vec![],
        };
        let m2 = m.rotated(crate::mesos::credentials::ZK_MASTER);
        let acls = log_group_acl(&m2);
        assert_eq!(acls.len(), 2, "the new and the still accepted one");
        assert!(acls.iter().all(|x| x.permission() == zk::Permission::ALL));
        assert_eq!(acls[0].id(), m2.current.zk_digest());
        assert_eq!(acls[1].id(), m.current.zk_digest());
        assert_eq!(log_group("/mesos/"), "/mesos/log_replicas");
    }
}
