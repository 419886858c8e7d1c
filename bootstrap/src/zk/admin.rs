//! ZooKeeper's own view of its membership (`/zookeeper/config`) and changes to it by
//! incremental `reconfig`: add a joining server, remove a dead one. Every change is
//! authenticated as the digest superuser and counts only once `/zookeeper/config` shows it.

use std::time::Duration;

use tokio::time::Instant;
use zookeeper_client::{Client, EnsembleUpdate, Error as ZkError};

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};
use crate::zk::four_letter;
use crate::zk::peer::Peer;
use crate::zk::secret::Secret;

// The pure text side (`/zookeeper/config` and dynamic-config parsing, the `server.N=` line)
// lives in the I/O-free exhibitor-config crate, so it can be fuzzed without the SDK.
pub use exhibitor_config::dynamic::{
    parse_config, server_line, server_line_as, LiveConfig, Member,
};

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

/// The members of `live` as peers asked on their client `port` (every member of an ensemble
/// listens on the same one).
pub fn peers(live: &LiveConfig, port: u16) -> Vec<Peer> {
    live.members
        .iter()
        .map(|m| Peer::new(m.id, format!("{}:{port}", m.host), m.participant))
        .collect()
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
pub async fn probe(servers: &[Peer]) -> Probe {
    let state = four_letter::ensemble_state(servers).await;
    if state
        .servers
        .iter()
        .all(|s| s.mode == four_letter::Mode::Down)
    {
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
            .filter(|s| s.mode != four_letter::Mode::Down)
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
        |cfg| {
            cfg.member(id)
                .is_some_and(|m| m.participant == line.contains(":participant;"))
        },
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
