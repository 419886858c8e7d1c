//! Quorum checks: ZooKeeper's four-letter words (`srvr` for the mode, `conf` for voting
//! membership) and the leading Mesos master under `<zk-path>/json.info_*` (lowest sequence;
//! `log_replicas` skipped), read with the `zookeeper-client` crate.

use std::cell::Cell;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};
use crate::zk::peer::Peer;

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
pub async fn ensemble_state(servers: &[Peer]) -> EnsembleState {
    let checks = servers.iter().map(|Peer { id, addr, voter }| async move {
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
pub async fn wait_ensemble(servers: &[Peer], deadline: Instant) -> Result<EnsembleState> {
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
pub async fn mode_among(addr: &str, servers: &[Peer]) -> Mode {
    let mode = mode(addr).await;
    if mode != Mode::NotServing || !servers.iter().any(|p| p.addr == addr) {
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
    servers: &[Peer],
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

/// Whether the other voters hold everything this member has, so that its data may go: of the
/// `voters` (this member included), a majority **without this member** serves with a last
/// zxid at least `local_last`, the leader among them. Serving alone is not enough: a voter just
/// resumed from a pause may still answer "follower" while thousands of writes behind, and the
/// wiped member and that one would then outvote the only up-to-date copy (the 200-step soak
/// lost 6,411 writes so).
pub fn others_hold(
    local_last: u64,
    others: &[(Mode, Option<u64>)],
    voters: usize,
) -> std::result::Result<(), String> {
    let need = voters / 2 + 1;
    let caught_up = others
        .iter()
        .filter(|(m, z)| m.serving() && z.is_some_and(|z| z >= local_last))
        .count();
    let leader = others
        .iter()
        .any(|(m, z)| *m == Mode::Leader && z.is_some_and(|z| z >= local_last));
    if caught_up >= need && leader {
        Ok(())
    } else {
        Err(format!(
            "only {caught_up} other voters (leader: {leader}) have zxid {local_last:#x} or later; \
             {need} of the {voters}, the leader among them, must hold everything this member has"
        ))
    }
}

/// [`others_hold`] with fresh answers from `others` (their client addresses).
pub async fn others_hold_now(
    local_last: u64,
    others: &[String],
    voters: usize,
) -> std::result::Result<(), String> {
    let answers = futures::future::join_all(others.iter().map(|a| mode_and_zxid(a))).await;
    let seen: Vec<(Mode, Option<u64>)> = answers
        .into_iter()
        .map(|a| a.unwrap_or((Mode::Down, None)))
        .collect();
    others_hold(local_last, &seen, voters)
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
    fn data_goes_only_when_a_majority_without_it_holds_everything_it_has() {
        let (l, f) = (Mode::Leader, Mode::Follower);
        // 3 voters: both others must have caught up, the leader among them.
        assert!(others_hold(100, &[(l, Some(100)), (f, Some(120))], 3).is_ok());
        // The soak's loss: a follower just resumed from a pause answers "follower", thousands
        // of writes behind.
        let e = others_hold(100, &[(l, Some(150)), (f, Some(40))], 3).unwrap_err();
        assert!(e.contains("only 1"), "{e}");
        assert!(
            others_hold(100, &[(f, Some(150)), (f, Some(150))], 3).is_err(),
            "no leader"
        );
        assert!(
            others_hold(100, &[(l, Some(99)), (f, Some(150))], 3).is_err(),
            "the leader behind"
        );
        assert!(others_hold(100, &[(l, None), (f, Some(150))], 3).is_err());
        // 5 voters: 3 of the 4 others.
        let ok = [
            (l, Some(100)),
            (f, Some(100)),
            (f, Some(100)),
            (Mode::Down, None),
        ];
        assert!(others_hold(100, &ok, 5).is_ok());
        let short = [
            (l, Some(100)),
            (f, Some(100)),
            (f, Some(9)),
            (Mode::Down, None),
        ];
        assert!(others_hold(100, &short, 5).is_err());
    }
}
