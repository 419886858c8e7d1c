//! ZooKeeper's own view of its membership (`/zookeeper/config`) and changes to it by
//! incremental `reconfig`: add a joining server, remove a dead one. Every change is
//! authenticated as the digest superuser and counts only once `/zookeeper/config` shows it.

use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::{Client, EnsembleUpdate, Error as ZkError};

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};
use crate::zookeeper::quorum;
use crate::zookeeper::secret::Secret;

/// One server line of `/zookeeper/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u32,
    pub host: String,
    pub participant: bool,
}

/// `/zookeeper/config` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    pub members: Vec<Member>,
    /// `version=` (hex zxid of the config).
    pub version: String,
}

impl LiveConfig {
    pub fn member(&self, id: u32) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn voters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.participant)
    }
}

/// Parses `server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181` lines and `version=`.
pub fn parse_config(text: &str) -> std::result::Result<LiveConfig, String> {
    let mut members = Vec::new();
    let mut version = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("version=") {
            version = v.to_string();
            continue;
        }
        let bad = || format!("/zookeeper/config line {}: `{line}`", n + 1);
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        let Some(id) = key.strip_prefix("server.") else {
            continue;
        };
        let id: u32 = id.parse().map_err(|_| bad())?;
        let server = value.split(';').next().unwrap_or_default();
        let mut parts = server.split(':');
        let host = parts.next().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let role = parts.nth(2).unwrap_or("participant");
        members.push(Member {
            id,
            host: host.to_string(),
            participant: role != "observer",
        });
    }
    members.sort_by_key(|m| m.id);
    Ok(LiveConfig { members, version })
}

/// The `server.N=...` line that adds a voting server.
pub fn server_line(id: u32, host: &str, ports: (u16, u16, u16)) -> String {
    let (quorum, election, client) = ports;
    format!("server.{id}={host}:{quorum}:{election}:participant;{host}:{client}")
}

/// Connects to `hosts` (`h1:2181,h2:2181`) without credentials: enough to read
/// `/zookeeper/config`, which ZooKeeper lets anyone read. The superuser secret is sent only
/// for reconfig ([`connect`]).
pub async fn connect_anonymous(hosts: &str) -> std::result::Result<Client, ZkError> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(3))
        .connect(hosts)
        .await
}

/// Connects to `hosts` (`h1:2181,h2:2181`) as the digest superuser.
pub async fn connect(hosts: &str, secret: &Secret) -> std::result::Result<Client, ZkError> {
    Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .with_connection_timeout(Duration::from_secs(3))
        .with_auth("digest", &secret.auth())
        .connect(hosts)
        .await
}

/// Reads `/zookeeper/config` through `client`, after a sync so it is the leader's.
pub async fn get(client: &Client) -> std::result::Result<LiveConfig, String> {
    client
        .sync("/zookeeper/config")
        .await
        .map_err(|e| format!("sync /zookeeper/config: {e}"))?;
    let (data, _) = client
        .get_config()
        .await
        .map_err(|e| format!("reading /zookeeper/config: {e}"))?;
    parse_config(&String::from_utf8_lossy(&data))
}

/// What a look at the listed servers says about a running ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Servers serve with quorum; their membership.
    Live(LiveConfig),
    /// No listed server answers at all.
    Down,
    /// Servers answer but none serves (a leader election, a lost quorum), or their
    /// `/zookeeper/config` could not be read: nothing can be concluded yet.
    Unsettled(String),
}

/// Looks at `servers` (`(id, host:port, voter)`): [`Probe::Live`] with `/zookeeper/config`
/// (read without credentials, after a sync) when any serves. A failed read is
/// [`Probe::Unsettled`], never "no ensemble".
pub async fn probe(servers: &[(u32, String, bool)]) -> Probe {
    let state = quorum::ensemble_state(servers).await;
    if state.servers.iter().all(|s| s.mode == quorum::Mode::Down) {
        return Probe::Down;
    }
    let serving: Vec<&str> = state
        .servers
        .iter()
        .filter(|s| s.mode.serving())
        .map(|s| s.addr.as_str())
        .collect();
    if serving.is_empty() {
        let answering: Vec<&str> = state
            .servers
            .iter()
            .filter(|s| s.mode != quorum::Mode::Down)
            .map(|s| s.addr.as_str())
            .collect();
        return Probe::Unsettled(format!(
            "{} answer{} but none serves (leader election or no quorum)",
            answering.join(","),
            if answering.len() == 1 { "s" } else { "" }
        ));
    }
    let hosts = serving.join(",");
    let read = async {
        let c = connect_anonymous(&hosts)
            .await
            .map_err(|e| format!("{hosts}: {e}"))?;
        get(&c).await
    };
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Ok(Ok(cfg)) => Probe::Live(cfg),
        Ok(Err(e)) => Probe::Unsettled(format!("{hosts} serve but /zookeeper/config: {e}")),
        Err(_) => Probe::Unsettled(format!(
            "{hosts} serve but /zookeeper/config did not answer in 10s"
        )),
    }
}

const REFUSED: &str = "ZooKeeper refused the superuser";

/// Whether a reconfig error says the secret was refused (read it again: it may have rotated).
pub fn refused_secret(message: &str) -> bool {
    message.contains(REFUSED)
}

/// What one reconfig attempt's error means.
fn classify(e: ZkError, what: &str) -> Attempt<LiveConfig, Failure> {
    match e {
        ZkError::NoAuth | ZkError::AuthFailed => Attempt::Fail(Failure::bad_input(format!(
            "{what}: {REFUSED} ({e}); the servers were started with \
             another secret than the one next to the shared config"
        ))),
        ZkError::ReconfigDisabled => Attempt::Fail(Failure::bad_input(format!(
            "{what}: reconfigEnabled is false on the ensemble"
        ))),
        e => Attempt::Again(Failure::no_quorum(format!("{what}: {e}"))),
    }
}

/// Adds server `id` (`line` from [`server_line`]) by incremental reconfig, through `hosts`,
/// until `/zookeeper/config` lists it. Idempotent: an already listed server is not re-added.
pub async fn add(
    hosts: &str,
    secret: &Secret,
    id: u32,
    line: &str,
    deadline: Instant,
) -> Result<LiveConfig> {
    change(
        hosts,
        secret,
        deadline,
        &format!("reconfig add server.{id}"),
        |cfg| cfg.member(id).is_some_and(|m| m.participant),
        &[line],
        &[],
    )
    .await
}

/// Removes server `id` by incremental reconfig until `/zookeeper/config` no longer lists it.
pub async fn remove(
    hosts: &str,
    secret: &Secret,
    id: u32,
    deadline: Instant,
) -> Result<LiveConfig> {
    let leaving = id.to_string();
    change(
        hosts,
        secret,
        deadline,
        &format!("reconfig remove server.{id}"),
        |cfg| cfg.member(id).is_none(),
        &[],
        &[leaving.as_str()],
    )
    .await
}

async fn change(
    hosts: &str,
    secret: &Secret,
    deadline: Instant,
    what: &str,
    done: impl Fn(&LiveConfig) -> bool,
    joinings: &[&str],
    leavings: &[&str],
) -> Result<LiveConfig> {
    let done = &done;
    let got = retry::until(what, deadline, Duration::from_secs(2), || async move {
        let client = match connect(hosts, secret).await {
            Ok(c) => c,
            Err(e) => return classify(e, &format!("{what}: connecting to {hosts}")),
        };
        match get(&client).await {
            Ok(cfg) if done(&cfg) => return Attempt::Done(cfg),
            Ok(_) => {}
            Err(e) => return Attempt::Again(Failure::no_quorum(format!("{what}: {e}"))),
        }
        let update = EnsembleUpdate::Incremental {
            joinings: joinings.iter().copied(),
            leavings: leavings.iter().copied(),
        };
        if let Err(e) = client.update_ensemble(update, None).await {
            return classify(e, what);
        }
        match get(&client).await {
            Ok(cfg) if done(&cfg) => {
                tracing::info!(version = %cfg.version, "{what}: committed");
                Attempt::Done(cfg)
            }
            Ok(cfg) => Attempt::Again(Failure::no_quorum(format!(
                "{what}: accepted but /zookeeper/config (version {}) does not show it yet",
                cfg.version
            ))),
            Err(e) => Attempt::Again(Failure::no_quorum(format!("{what}: {e}"))),
        }
    })
    .await;
    got.map_err(|last| {
        let f = last.unwrap_or_else(|| Failure::no_quorum(format!("{what}: no answer")));
        Failure::new(f.kind, format!("{} (gave up at the deadline)", f.message))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zookeepers_config_znode() {
        let cfg = parse_config(
            "server.1=127.0.0.11:2888:3888:participant;0.0.0.0:2181\n\
             server.3=127.0.0.13:2888:3888:observer;127.0.0.13:2181\n\
             server.2=127.0.0.12:2888:3888:participant;127.0.0.12:2181\n\
             version=100000003\n",
        )
        .unwrap();
        assert_eq!(cfg.version, "100000003");
        assert_eq!(
            cfg.members
                .iter()
                .map(|m| (m.id, m.host.as_str(), m.participant))
                .collect::<Vec<_>>(),
            vec![
                (1, "127.0.0.11", true),
                (2, "127.0.0.12", true),
                (3, "127.0.0.13", false)
            ]
        );
        assert_eq!(cfg.voters().count(), 2);
        assert!(parse_config("server.x=1.2.3.4:1:2\n")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn server_lines() {
        assert_eq!(
            server_line(4, "10.0.0.4", (2888, 3888, 2181)),
            "server.4=10.0.0.4:2888:3888:participant;10.0.0.4:2181"
        );
    }
}
