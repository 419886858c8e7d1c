//! The leading Mesos master as ZooKeeper lists it: `<zk-path>/json.info_*` (lowest sequence;
//! `log_replicas` skipped), Mesos' MasterInfo JSON, read with the `zookeeper-client` crate
//! authenticated by the Mesos digest credentials.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};

/// The leading master as registered in ZooKeeper.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MasterInfo {
    pub znode: String,
    pub hostname: String,
    pub ip: String,
    pub port: u16,
}

/// Parses Mesos' MasterInfo JSON (reads `address`; the packed `ip` is deprecated).
pub fn parse_master_info(znode: &str, data: &[u8]) -> std::result::Result<MasterInfo, String> {
    let v: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| format!("{znode}: not JSON: {e}"))?;
    let addr = &v["address"];
    let ip = addr["ip"]
        .as_str()
        .ok_or_else(|| format!("{znode}: no address.ip"))?;
    let port = addr["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| format!("{znode}: no address.port"))?;
    let hostname = addr["hostname"]
        .as_str()
        .or(v["hostname"].as_str())
        .unwrap_or(ip)
        .to_string();
    Ok(MasterInfo {
        znode: znode.to_string(),
        hostname,
        ip: ip.to_string(),
        port,
    })
}

/// The child with the lowest sequence among `json.info_*`.
pub fn leader_child(children: &[String]) -> Option<&String> {
    children
        .iter()
        .filter_map(|c| {
            c.strip_prefix("json.info_")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|n| (n, c))
        })
        .min_by_key(|(n, _)| *n)
        .map(|(_, c)| c)
}

/// Connects to ZooKeeper (`h1:2181,h2:2181`).
pub async fn connect(
    hosts: &str,
) -> std::result::Result<zookeeper_client::Client, zookeeper_client::Error> {
    connect_as(hosts, None).await
}

/// Connects to ZooKeeper authenticated as every credential of `auth` (digest scheme; the
/// current one and those still accepted, so an ACL written before a rotation still lets the
/// session in).
pub async fn connect_as(
    hosts: &str,
    auth: Option<&crate::mesos::credentials::Credentials>,
) -> std::result::Result<zookeeper_client::Client, zookeeper_client::Error> {
    let mut c = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(3))
        .with_readonly(false);
    for cred in auth.into_iter().flat_map(|a| a.all()) {
        c = c.with_auth("digest", &cred.zk_auth());
    }
    c.connect(hosts).await
}

/// The entries of an ACL that grant something to a principal other than a digest credential
/// (`world:anyone`, `ip:…`, `auth`): with any of them, the znode's children may have been
/// made by anyone who can reach ZooKeeper. ZooKeeper shows a reader without ADMIN each digest
/// as `principal:x` (FinalRequestProcessor, `getACL`), so only the schemes can be judged.
pub fn open_entries(acls: &[zookeeper_client::Acl]) -> Vec<String> {
    acls.iter()
        .filter(|a| a.scheme() != "digest" && a.permission() != zookeeper_client::Permission::NONE)
        .map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission()))
        .collect()
}

/// One look for the leading master. `Err` when ZooKeeper cannot be reached, or, with
/// `verify` (a client that holds credentials, about to send one to the leader), when the
/// leader is not proven to be a master's:
/// - `zk_path`'s ACL must grant nothing to anyone but digest credentials. A client that can
///   list it then holds one of the credentials named in it, which only a holder of the
///   cluster's credentials (the masters' boot, `mesos::acl`) could have written, and only the
///   masters' credential may create children there.
/// - The leader's znode must be ephemeral, as every member Mesos creates is
///   (src/zookeeper/group.cpp): a persistent `json.info_*` was made by someone else.
///
/// Children made before the path was closed are removed by the masters' boot, which closes
/// the path to the masters alone while it looks at them.
pub async fn find_leader(
    client: &zookeeper_client::Client,
    zk_path: &str,
    verify: bool,
) -> std::result::Result<Option<MasterInfo>, String> {
    if verify {
        match client.get_acl(zk_path).await {
            Ok((acls, _)) => {
                let open = open_entries(&acls);
                if !open.is_empty() {
                    return Err(format!(
                        "ZooKeeper {zk_path} is open to {}: its children may not be the masters'; \
                         no credential is sent to a leader read from it until a master's boot closes it",
                        open.join(", ")
                    ));
                }
            }
            Err(zookeeper_client::Error::NoNode) => return Ok(None),
            Err(e) => return Err(format!("reading the ACL of {zk_path}: {e}")),
        }
    }
    let children = match client.list_children(zk_path).await {
        Ok(c) => c,
        Err(zookeeper_client::Error::NoNode) => return Ok(None),
        Err(e) => return Err(format!("listing {zk_path}: {e}")),
    };
    let Some(child) = leader_child(&children) else {
        return Ok(None);
    };
    let znode = format!("{zk_path}/{child}");
    match client.get_data(&znode).await {
        Ok((_, stat)) if verify && stat.ephemeral_owner == 0 => Err(format!(
            "{znode} is persistent: no Mesos master made it (their members are ephemeral); \
             no credential is sent to it until a master's boot removes it"
        )),
        Ok((data, _)) => parse_master_info(&znode, &data).map(Some),
        // The leader just went away: look again.
        Err(zookeeper_client::Error::NoNode) => Ok(None),
        Err(e) => Err(format!("reading {znode}: {e}")),
    }
}

/// Waits until a leading master is registered. Exit class: 3 when ZooKeeper never answered,
/// 4 when it did but no master leads before the deadline.
/// `auth`: the digest credentials to connect with (`/mesos`'s ACL lets no one else list it).
pub async fn wait_leader(
    hosts: &str,
    zk_path: &str,
    auth: Option<&crate::mesos::credentials::Credentials>,
    deadline: Instant,
) -> Result<MasterInfo> {
    let client: RefCell<Option<zookeeper_client::Client>> = RefCell::new(None);
    let connected = Cell::new(false);
    let (client, connected) = (&client, &connected);
    let got = retry::until(
        "leading mesos master",
        deadline,
        Duration::from_secs(2),
        move || async move {
            let existing = client.borrow().clone();
            let c = match existing {
                Some(c) => c,
                None => match connect_as(hosts, auth).await {
                    Ok(c) => c,
                    Err(e) => return Attempt::Again(format!("ZooKeeper {hosts}: {e}")),
                },
            };
            connected.set(true);
            let result = find_leader(&c, zk_path, auth.is_some()).await;
            *client.borrow_mut() = Some(c);
            match result {
                Ok(Some(m)) => Attempt::Done(m),
                Ok(None) => Attempt::Again(format!("no json.info_* under {zk_path} yet")),
                Err(e) => {
                    // Reconnect on the next attempt.
                    *client.borrow_mut() = None;
                    Attempt::Again(e)
                }
            }
        },
    )
    .await;
    got.map_err(|last| {
        let detail = last.unwrap_or_else(|| "no answer".into());
        if connected.get() {
            Failure::no_quorum(format!(
                "no leading Mesos master under {zk_path} before the deadline: {detail}"
            ))
        } else {
            Failure::unreachable(format!(
                "ZooKeeper {hosts} unreachable before the deadline: {detail}"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digest_credentials_may_hold_rights_on_a_trusted_path() {
        use zookeeper_client::{Acl, AuthId, Permission};
        let ours = [
            Acl::new(Permission::ALL, AuthId::new("digest", "mesos-master:x")),
            Acl::new(Permission::READ, AuthId::new("digest", "mesos-agent:x")),
        ];
        assert!(open_entries(&ours).is_empty());
        let mesos_own = [
            Acl::new(Permission::READ, AuthId::anyone()),
            Acl::new(Permission::ALL, AuthId::new("digest", "mesos-master:x")),
        ];
        assert_eq!(open_entries(&mesos_own), vec!["world:anyone:READ"]);
        let by_ip = [Acl::new(
            Permission::CREATE | Permission::READ,
            AuthId::new("ip", "10.0.0.0/8"),
        )];
        assert_eq!(open_entries(&by_ip), vec!["ip:10.0.0.0/8:READ|CREATE"]);
    }

    #[test]
    fn leader_is_lowest_sequence_and_replicas_are_skipped() {
        let children: Vec<String> = [
            "json.info_0000000012",
            "log_replicas",
            "json.info_0000000003",
            "info_0000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(leader_child(&children).unwrap(), "json.info_0000000003");
        let m = parse_master_info(
            "/mesos/json.info_0000000003",
            br#"{"address":{"hostname":"m1","ip":"10.0.0.5","port":5050},"hostname":"m1","id":"x","ip":84017162,"pid":"master@10.0.0.5:5050","port":5050,"version":"1.11.0"}"#,
        )
        .unwrap();
        assert_eq!(
            (m.ip.as_str(), m.port, m.hostname.as_str()),
            ("10.0.0.5", 5050, "m1")
        );
        assert!(parse_master_info("/mesos/x", b"{}")
            .unwrap_err()
            .contains("address.ip"));
    }
}
