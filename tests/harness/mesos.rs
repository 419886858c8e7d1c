//! A Mesos-master stand-in for ZooKeeper: registers the znodes a Mesos
//! master leaves under its ZooKeeper path, so tests can exercise leader and
//! master discovery without running Mesos.
//!
//! * [`register_master`]: as a Mesos master starts (src/master/main.cpp: the replicated log
//!   joins `PATH/log_replicas` before the master contends), `PATH/log_replicas/<seq>`, then
//!   `PATH/json.info_<seq>` (both ephemeral sequential) with `MasterInfo` JSON in Mesos' documented
//!   shape. A master whose credential may not create under `log_replicas` aborts
//!   (src/log/log.cpp, `LogProcess::failed`: "Failed to participate in ZooKeeper group");
//!   here it is an error with that text;
//! * [`register_log_replica`]: `PATH/log_replicas/<seq>` (ephemeral
//!   sequential, no label), as the replicated log does; discovery must skip it.
//!
//! Each registration owns its ZooKeeper session: the znode lives as long as
//! the handle. Dropping the handle closes the session (in the background, on
//! the tokio runtime that created it); [`Registration::close`] deletes the
//! znode and waits. Use from `#[tokio::test(flavor = "multi_thread")]`.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::Context as _;
use zookeeper_client as zk;

/// The Mesos version advertised in `MasterInfo`.
pub const MESOS_VERSION: &str = "1.11.0";

/// A live registration: the ZooKeeper session and the znode it owns.
#[derive(Debug)]
pub struct Registration {
    client: zk::Client,
    znode: String,
    data: Vec<u8>,
    /// A master's replica in the log group, which lives in the same session.
    replica: Option<String>,
}

impl Registration {
    /// Full path of the ephemeral znode, e.g. `/mesos/json.info_0000000000`.
    pub fn znode(&self) -> &str {
        &self.znode
    }

    /// The bytes stored in the znode.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The ZooKeeper session id (hex, as ZooKeeper logs it).
    pub fn session_id(&self) -> String {
        format!("{:#x}", self.client.session_id().0)
    }

    /// A master's `log_replicas/<seq>` znode.
    pub fn replica(&self) -> Option<&str> {
        self.replica.as_deref()
    }

    /// Deletes the znode (and a master's replica znode), then closes the session.
    pub async fn close(self) -> anyhow::Result<()> {
        for znode in std::iter::once(&self.znode).chain(&self.replica) {
            match self.client.delete(znode, None).await {
                Ok(()) | Err(zk::Error::NoNode) => {}
                Err(e) => return Err(e).with_context(|| format!("delete {znode}")),
            }
        }
        Ok(())
    }
}

/// Packs an IPv4 address the way Mesos' `MasterInfo.ip` does: the address
/// bytes in network order read as a little-endian `u32` (127.0.0.1 →
/// 16777343).
pub fn packed_ip(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// `MasterInfo` JSON as a Mesos 1.x master writes it to `json.info_*`.
pub fn master_info_json(ip: Ipv4Addr, hostname: &str, port: u16) -> serde_json::Value {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    serde_json::json!({
        "address": {"hostname": hostname, "ip": ip.to_string(), "port": port},
        "hostname": hostname,
        "id": id,
        "ip": packed_ip(ip),
        "pid": format!("master@{ip}:{port}"),
        "port": port,
        "version": MESOS_VERSION,
    })
}

/// ZooKeeper as a Mesos process sees it: `zk_connect` is `h1:2181,…` or, as in
/// `zk://user:secret@h1:2181/mesos`, `user:secret@h1:2181,…` (digest authentication).
/// Returns the client and whether it authenticated.
pub async fn connect(zk_connect: &str) -> anyhow::Result<(zk::Client, bool)> {
    let (auth, hosts) = match zk_connect.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, zk_connect),
    };
    let mut c = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(6))
        .with_connection_timeout(Duration::from_secs(5));
    if let Some(a) = auth {
        c = c.with_auth("digest", a.as_bytes());
    }
    let client = c
        .connect(hosts)
        .await
        .with_context(|| format!("connect to ZooKeeper {hosts}"))?;
    Ok((client, auth.is_some()))
}

/// The ACL Mesos gives the znodes it creates: `ZOO_OPEN_ACL_UNSAFE` without a credential,
/// `EVERYONE_READ_CREATOR_ALL` with one (src/zookeeper/group.cpp).
pub fn mesos_acls(authenticated: bool) -> zk::Acls<'static> {
    static READ_CREATOR_ALL: [zk::Acl; 2] = [
        zk::Acl::new_const(zk::Permission::READ, "world", "anyone"),
        zk::Acl::new_const(zk::Permission::ALL, "auth", ""),
    ];
    if authenticated {
        zk::Acls::new(&READ_CREATOR_ALL)
    } else {
        zk::Acls::anyone_all()
    }
}

/// Joins the group at `parent` as src/zookeeper/group.cpp does: creates `parent` (and its
/// parents) with Mesos' ACL when missing (`create`, recursive; an existing one is left as it
/// is), then an ephemeral sequential member `parent/prefix<seq>` with the same ACL (`doJoin`).
/// Returns the member's path.
pub async fn join(
    client: &zk::Client,
    authenticated: bool,
    parent: &str,
    prefix: &str,
    data: &[u8],
) -> anyhow::Result<String> {
    let parent = parent.trim_end_matches('/');
    let persistent = zk::CreateMode::Persistent.with_acls(mesos_acls(authenticated));
    client
        .mkdir(parent, &persistent)
        .await
        .with_context(|| format!("Failed to create '{parent}' in ZooKeeper"))?;
    let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(mesos_acls(authenticated));
    let path = format!("{parent}/{prefix}");
    let (_, seq) = client
        .create(&path, data, &ephemeral)
        .await
        .with_context(|| format!("Failed to create ephemeral node at '{path}' in ZooKeeper"))?;
    Ok(format!("{path}{seq}"))
}

async fn register(
    zk_connect: &str,
    parent: &str,
    prefix: &str,
    data: Vec<u8>,
) -> anyhow::Result<Registration> {
    let (client, authenticated) = connect(zk_connect).await?;
    let znode = join(&client, authenticated, parent, prefix, &data).await?;
    Ok(Registration {
        client,
        znode,
        data,
        replica: None,
    })
}

/// Registers a Mesos master at `ip:port` under `path` (e.g. `/mesos`), connected as [`connect`]
/// says (with `user:secret@` as a master given the masters' credential does): its replica
/// joins `path/log_replicas`, then it contends under `path` with `json.info_<seq>` holding
/// [`master_info_json`]. A refused join is Mesos' fatal "Failed to participate in ZooKeeper
/// group" (src/log/log.cpp), the master never contends.
pub async fn register_master(
    zk_connect: &str,
    path: &str,
    ip: Ipv4Addr,
    hostname: &str,
    port: u16,
) -> anyhow::Result<Registration> {
    let (client, authenticated) = connect(zk_connect).await?;
    let base = path.trim_end_matches('/');
    let replica_data = format!("log-replica(1)@{ip}:{port}").into_bytes();
    let replica = join(
        &client,
        authenticated,
        &format!("{base}/log_replicas"),
        "",
        &replica_data,
    )
    .await
    .context("Failed to participate in ZooKeeper group")?;
    let data = serde_json::to_vec(&master_info_json(ip, hostname, port))?;
    let znode = join(&client, authenticated, base, "json.info_", &data).await?;
    Ok(Registration {
        client,
        znode,
        data,
        replica: Some(replica),
    })
}

/// Registers a replicated-log replica under `path/log_replicas/<seq>` (no
/// label, ephemeral sequential, data `log-replica(1)@ip:port`), which master
/// discovery must ignore.
pub async fn register_log_replica(
    zk_connect: &str,
    path: &str,
    ip: Ipv4Addr,
    port: u16,
) -> anyhow::Result<Registration> {
    let parent = format!("{}/log_replicas", path.trim_end_matches('/'));
    let data = format!("log-replica(1)@{ip}:{port}").into_bytes();
    register(zk_connect, &parent, "", data).await
}

/// `Basic base64(user:secret)`: the `Authorization` a Mesos operator sends.
pub fn basic(userinfo: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(userinfo)
    )
}
