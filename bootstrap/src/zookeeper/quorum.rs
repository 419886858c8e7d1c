//! Quorum checks: ZooKeeper's four-letter words (`srvr` for the mode, `conf` for voting
//! membership) and the leading Mesos master under `<zk-path>/json.info_*` (lowest sequence;
//! `log_replicas` skipped), read with the `zookeeper-client` crate.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};

const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the local server is asked whether it joined (`srvr`/`conf` on loopback or the
/// node's own address; no AWS request).
pub const LOCAL_POLL: Duration = Duration::from_millis(100);

/// The four-letter words mesos-boot sends (boot, `status`, `serve`); zoo.cfg's
/// `4lw.commands.whitelist` is exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FourLetter {
    /// The server's mode.
    Srvr,
    /// The server's view of the membership.
    Conf,
    /// The server's figures (`serve`'s /metrics and `cluster/4ltr/mntr`).
    Mntr,
}

impl FourLetter {
    pub const ALL: [FourLetter; 3] = [FourLetter::Srvr, FourLetter::Conf, FourLetter::Mntr];

    pub fn parse(word: &str) -> Option<FourLetter> {
        FourLetter::ALL.into_iter().find(|w| w.as_str() == word)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FourLetter::Srvr => "srvr",
            FourLetter::Conf => "conf",
            FourLetter::Mntr => "mntr",
        }
    }
}

/// Sends a four-letter word and reads the whole answer.
pub async fn four_letter(addr: &str, cmd: FourLetter) -> std::io::Result<String> {
    let io = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(cmd.as_str().as_bytes()).await?;
        let mut buf = Vec::new();
        stream.read_to_end(&mut buf).await?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(FOUR_LETTER_TIMEOUT, io)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no answer",
            ))
        })
}

/// A server's state as `srvr` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// Answers, but has no quorum ("not currently serving requests").
    NotServing,
    /// Does not answer.
    Down,
}

impl Mode {
    pub fn serving(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower | Mode::Observer)
    }
}

pub fn parse_srvr(text: &str) -> Mode {
    let mode = text
        .lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(str::trim);
    match mode {
        Some("leader") => Mode::Leader,
        Some("follower") => Mode::Follower,
        Some("observer") => Mode::Observer,
        Some("standalone") => Mode::Standalone,
        _ => Mode::NotServing,
    }
}

/// `srvr`'s mode and last processed zxid (`Zxid: 0x...`); `None` without an answer.
pub async fn mode_and_zxid(addr: &str) -> Option<(Mode, Option<u64>)> {
    let text = four_letter(addr, FourLetter::Srvr).await.ok()?;
    let zxid = text
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok());
    Some((parse_srvr(&text), zxid))
}

pub async fn mode(addr: &str) -> Mode {
    match four_letter(addr, FourLetter::Srvr).await {
        Ok(text) => parse_srvr(&text),
        Err(_) => Mode::Down,
    }
}

/// Whether `conf` output lists `server.<id>` as a voting participant.
/// Whether `conf` lists server `id` with `role` (`participant` or `observer`).
fn conf_lists_as(conf: &str, id: u32, role: &str) -> bool {
    let prefix = format!("server.{id}=");
    let suffix = format!(":{role}");
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix(&prefix))
        .any(|rest| {
            rest.split(';')
                .next()
                .is_some_and(|addr| addr.ends_with(&suffix))
        })
}

/// Whether `conf` lists server `id` as an observer.
pub fn conf_lists_observer(conf: &str, id: u32) -> bool {
    conf_lists_as(conf, id, "observer")
}

pub fn conf_lists_participant(conf: &str, id: u32) -> bool {
    conf_lists_as(conf, id, "participant")
}

/// One server's live state.
#[derive(Debug, Clone, Serialize)]
pub struct ServerState {
    pub id: u32,
    pub addr: String,
    pub voter: bool,
    pub mode: Mode,
}

/// The ensemble's live state.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleState {
    pub servers: Vec<ServerState>,
    pub has_quorum: bool,
}

/// `srvr` to every server at once; quorum = a strict majority of voters serving, one leader.
pub async fn ensemble_state(servers: &[(u32, String, bool)]) -> EnsembleState {
    let checks = servers.iter().map(|(id, addr, voter)| async move {
        ServerState {
            id: *id,
            addr: addr.clone(),
            voter: *voter,
            mode: mode(addr).await,
        }
    });
    let mut states: Vec<ServerState> = futures::future::join_all(checks).await;
    recognise_quiet_leader(&mut states);
    let voters = states.iter().filter(|s| s.voter).count();
    let serving = states
        .iter()
        .filter(|s| s.voter && s.mode.serving())
        .count();
    let leaders = states.iter().filter(|s| s.mode == Mode::Leader).count();
    EnsembleState {
        has_quorum: voters > 0 && serving * 2 > voters && leaders == 1,
        servers: states,
    }
}

/// A leader started with `leaderServes=no` answers every four-letter word as a server without
/// quorum does ("This ZooKeeper instance is not currently serving requests"). Followers serve only
/// once they are synced with a leader that has quorum, so when no server says `leader` but some
/// voter serves as a follower, the leader is among the voters that answer "not serving"; when
/// exactly one does, it is that leader, and it counts as a serving leader in every check.
fn recognise_quiet_leader(states: &mut [ServerState]) {
    if states.iter().any(|s| s.mode == Mode::Leader) {
        return;
    }
    let follows = states.iter().any(|s| s.voter && s.mode == Mode::Follower);
    let mut quiet = states
        .iter_mut()
        .filter(|s| s.voter && s.mode == Mode::NotServing);
    if let (true, Some(leader), None) = (follows, quiet.next(), quiet.next()) {
        leader.mode = Mode::Leader;
    }
}

/// Waits until the ensemble has quorum. Exit class: 3 when no server ever answered, 4 when
/// servers answered but never formed a quorum.
pub async fn wait_ensemble(
    servers: &[(u32, String, bool)],
    deadline: Instant,
) -> Result<EnsembleState> {
    let answered = Cell::new(false);
    let answered = &answered;
    let got = retry::until(
        "zookeeper quorum",
        deadline,
        Duration::from_secs(2),
        move || async move {
            let state = ensemble_state(servers).await;
            if state.servers.iter().any(|s| s.mode != Mode::Down) {
                answered.set(true);
            }
            if state.has_quorum {
                Attempt::Done(state)
            } else {
                Attempt::Again(describe(&state))
            }
        },
    )
    .await;
    got.map_err(|last| {
        let detail = last.unwrap_or_else(|| "no answer".into());
        if answered.get() {
            Failure::no_quorum(format!(
                "ZooKeeper ensemble has no quorum before the deadline: {detail}"
            ))
        } else {
            Failure::unreachable(format!(
                "no ZooKeeper server answered before the deadline: {detail}"
            ))
        }
    })
}

/// The mode of the server at `addr`, one of `servers`: a "not serving" answer is checked
/// against the others, since a leader with `leaderServes=no` answers just so.
pub async fn mode_among(addr: &str, servers: &[(u32, String, bool)]) -> Mode {
    let mode = mode(addr).await;
    if mode != Mode::NotServing || !servers.iter().any(|(_, a, _)| a == addr) {
        return mode;
    }
    ensemble_state(servers)
        .await
        .servers
        .into_iter()
        .find(|s| s.addr == addr)
        .map_or(mode, |s| s.mode)
}

/// Waits until the local server is a voting member of an ensemble that has a leader.
/// `servers` (the ensemble, the local server included) recognise a local leader that does not
/// serve clients (`leaderServes=no`): a leader is always a voting member.
pub async fn wait_local_member(
    addr: &str,
    myid: u32,
    servers: &[(u32, String, bool)],
    deadline: Instant,
) -> Result<Mode> {
    let answered = Cell::new(false);
    let answered = &answered;
    let got = retry::until(
        "local zookeeper membership",
        deadline,
        // Local four-letter words only: cheap, so asked often (boot-to-quorum, bench/boot.rs).
        LOCAL_POLL,
        move || async move {
            let mode = mode_among(addr, servers).await;
            if mode != Mode::Down {
                answered.set(true);
            }
            if mode == Mode::Observer {
                // An observer serves without a vote.
                return match four_letter(addr, FourLetter::Conf).await {
                    Ok(conf) if conf_lists_observer(&conf, myid) => Attempt::Done(mode),
                    Ok(_) => Attempt::Again(format!(
                        "{addr} observes but server.{myid} is not listed as an observer yet"
                    )),
                    Err(e) => Attempt::Again(format!("{addr}: conf: {e}")),
                };
            }
            if !matches!(mode, Mode::Leader | Mode::Follower) {
                return Attempt::Again(format!("{addr} is {mode:?}"));
            }
            if mode == Mode::Leader {
                // Only a voter leads (and a quiet leader would not answer `conf`).
                return Attempt::Done(mode);
            }
            match four_letter(addr, FourLetter::Conf).await {
                Ok(conf) if conf_lists_participant(&conf, myid) => Attempt::Done(mode),
                Ok(_) => Attempt::Again(format!(
                    "{addr} serves but server.{myid} is not a voting member yet"
                )),
                Err(e) => Attempt::Again(format!("{addr}: conf: {e}")),
            }
        },
    )
    .await;
    got.map_err(|last| {
        let detail = last.unwrap_or_else(|| "no answer".into());
        if answered.get() {
            Failure::no_quorum(format!(
                "local ZooKeeper did not join a quorum before the deadline: {detail}"
            ))
        } else {
            Failure::unreachable(format!(
                "local ZooKeeper at {addr} never answered: {detail}"
            ))
        }
    })
}

fn describe(state: &EnsembleState) -> String {
    state
        .servers
        .iter()
        .map(|s| format!("{} {:?}", s.addr, s.mode))
        .collect::<Vec<_>>()
        .join(", ")
}

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
    auth: Option<&crate::credentials::Credentials>,
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

/// One look for the leading master. `Err` when ZooKeeper cannot be reached.
pub async fn find_leader(
    client: &zookeeper_client::Client,
    zk_path: &str,
) -> std::result::Result<Option<MasterInfo>, String> {
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
    auth: Option<&crate::credentials::Credentials>,
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
            let result = find_leader(&c, zk_path).await;
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
    fn srvr_modes() {
        assert_eq!(
            parse_srvr("Zookeeper version: 3.8.0\nMode: leader\nNode count: 5\n"),
            Mode::Leader
        );
        assert_eq!(parse_srvr("Mode: follower\n"), Mode::Follower);
        assert_eq!(
            parse_srvr("This ZooKeeper instance is not currently serving requests\n"),
            Mode::NotServing
        );
    }

    #[test]
    fn conf_membership() {
        let conf = "clientPort=2181\nserver.1=127.0.0.11:2888:3888:participant;127.0.0.11:2181\n\
                    server.2=127.0.0.12:2888:3888:observer;127.0.0.12:2181\nversion=100000000\n";
        assert!(conf_lists_participant(conf, 1));
        assert!(!conf_lists_participant(conf, 2));
        assert!(!conf_lists_participant(conf, 3));
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
