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
//!
//! Whatever was made before the path was closed is not trusted: a host in the VPC could have
//! created `/mesos` first, open, with a `json.info_*` that every agent would follow as its
//! leader (and send its credentials to). The masters' boot closes an open path to the masters
//! alone, removes every member no master made ([`sweep`]), and only then lets the agents read
//! again; agents send nothing to a leader read from a path that is still open
//! (`mesos::leader::find_leader`).

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
    /// A member no master made, removed: `(znode, why)`.
    Removed(String),
}

/// Creates `path` (and missing parents) with [`acl`] and its log group with [`log_group_acl`],
/// or sets an ACL that differs (an open path from before, Mesos' own on the log group, a
/// rotation), and removes the members of both that no master made ([`sweep`]; an open path is
/// closed to the masters alone meanwhile). Returns what it did to each, `path` first, then each
/// member removed. Retried until `deadline` while
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
    let got = retry::until(
        "the ACLs of the Mesos znodes",
        deadline,
        Duration::from_secs(2),
        || {
            let want = &want;
            async move {
                let client = match crate::mesos::leader::connect_as(hosts, Some(master)).await {
                    Ok(c) => c,
                    Err(e) => {
                        return Attempt::Again(Failure::unreachable(format!(
                            "ZooKeeper {hosts}: {e}"
                        )))
                    }
                };
                let no_auth = |znode: &str| {
                    Attempt::Fail(Failure::bad_input(format!(
                "ZooKeeper {znode}: its ACL does not let the masters' credential ({}) change it; \
                 a ZooKeeper superuser must set it (see README, Threat model)",
                master.current.principal
            )))
                };
                // An open path is closed to the masters alone before its members are looked at,
                // so that no agent reads a leader that is about to be removed.
                let was_open = match close(&client, path, master).await {
                    Ok(was) => was,
                    Err(zk::Error::NoAuth) => return no_auth(path),
                    Err(e) => {
                        return Attempt::Again(Failure::unreachable(format!(
                            "ZooKeeper {path}: {e}"
                        )))
                    }
                };
                let fail = |znode: &str, e: zk::Error| match e {
                    zk::Error::NoAuth => no_auth(znode),
                    e => Attempt::Again(Failure::unreachable(format!("ZooKeeper {znode}: {e}"))),
                };
                let [(_, path_acl), (log, log_acl)] = want;
                // A closed path (or a missing one) gets its own ACL at once (created, or a rotation's).
                let mut first = None;
                if was_open.is_none() {
                    match once(&client, path, path_acl).await {
                        Ok(o) => first = Some(o),
                        Err(e) => return fail(path, e),
                    }
                }
                let second = match once(&client, log, log_acl).await {
                    Ok(o) => o,
                    Err(e) => return fail(log, e),
                };
                let mut removed = Vec::new();
                for (parent, members) in [(path, Some("json.info_")), (log.as_str(), None)] {
                    match sweep(&client, parent, members, master).await {
                        Ok(r) => removed.extend(r),
                        Err(e) => return fail(parent, e),
                    }
                }
                if let Some(was) = was_open {
                    // Clean: now the agents may read it again.
                    if let Err(e) = once(&client, path, path_acl).await {
                        return fail(path, e);
                    }
                    first = Some(Outcome::Corrected(was));
                }
                let mut done = vec![
                    (path.to_string(), first.unwrap_or(Outcome::Unchanged)),
                    (log.clone(), second),
                ];
                done.extend(
                    removed
                        .into_iter()
                        .map(|(z, why)| (z, Outcome::Removed(why))),
                );
                Attempt::Done(done)
            }
        },
    )
    .await;
    got.map_err(|last| {
        last.unwrap_or_else(|| {
            Failure::unreachable(format!("ZooKeeper {hosts}: no answer before the deadline"))
        })
    })
}

/// Closes `path` to the masters' credentials alone when its ACL lets anyone but digest
/// credentials do anything ([`crate::mesos::leader::open_entries`]); returns the ACL it had.
async fn close(
    client: &zk::Client,
    path: &str,
    master: &Credentials,
) -> std::result::Result<Option<String>, zk::Error> {
    let (have, stat) = match client.get_acl(path).await {
        Ok(got) => got,
        Err(zk::Error::NoNode) => return Ok(None),
        Err(e) => return Err(e),
    };
    if crate::mesos::leader::open_entries(&have).is_empty() {
        return Ok(None);
    }
    client
        .set_acl(path, &log_group_acl(master), Some(stat.aversion))
        .await?;
    Ok(Some(describe(&have)))
}

/// Removes the members of `parent` (its children, or only those named `prefix…`) that no
/// master made. Mesos' members are ephemeral and carry every right for the master credential
/// whose session created them (`EVERYONE_READ_CREATOR_ALL`, src/zookeeper/group.cpp); a
/// persistent one, or one whose ACL names none of the masters' credentials with every right
/// (the masters, holding ADMIN on their own, read it unmasked), was made by someone else
/// before the path was closed. Returns `(znode, why)` of each removed.
pub async fn sweep(
    client: &zk::Client,
    parent: &str,
    prefix: Option<&str>,
    master: &Credentials,
) -> std::result::Result<Vec<(String, String)>, zk::Error> {
    let children = match client.list_children(parent).await {
        Ok(c) => c,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let ours: BTreeSet<String> = master.all().map(|c| c.zk_digest()).collect();
    let mut removed = Vec::new();
    for child in children {
        if prefix.is_some_and(|p| !child.starts_with(p)) {
            continue;
        }
        let znode = format!("{}/{child}", parent.trim_end_matches('/'));
        let why = match client.get_acl(&znode).await {
            Err(zk::Error::NoNode) => continue,
            Err(zk::Error::NoAuth) => "the masters may not even read it".to_string(),
            Err(e) => return Err(e),
            Ok((_, stat)) if stat.ephemeral_owner == 0 => "persistent".to_string(),
            Ok((acls, _)) => {
                let by_master = acls.iter().any(|a| {
                    a.scheme() == "digest"
                        && a.permission() == zk::Permission::ALL
                        && ours.contains(a.id())
                });
                if by_master {
                    continue;
                }
                format!("made by no master credential ({})", describe(&acls))
            }
        };
        remove_tree(client, &znode).await?;
        removed.push((znode, why));
    }
    Ok(removed)
}

/// Deletes `znode` and whatever was created under it (a member Mesos makes has no children;
/// one made to resist removal may), depth first, at most 4 levels.
async fn remove_tree(client: &zk::Client, znode: &str) -> std::result::Result<(), zk::Error> {
    let mut stack = vec![(znode.to_string(), 0u8)];
    let mut budget = 1000;
    while let Some((z, depth)) = stack.pop() {
        budget -= 1;
        if budget == 0 {
            return Err(zk::Error::NotEmpty);
        }
        match client.delete(&z, None).await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(zk::Error::NotEmpty) if depth < 4 => {
                stack.push((z.clone(), depth));
                for c in client.list_children(&z).await? {
                    stack.push((format!("{z}/{c}"), depth + 1));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
