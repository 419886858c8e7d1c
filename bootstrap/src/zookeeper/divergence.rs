//! Repair of a follower whose data diverged from the leader's, run by `serve` before each
//! membership check.
//!
//! ZooKeeper 3.8.0 (Debian 12's) can lose transactions on a follower that restarts soon after a
//! DIFF synchronisation (ZOOKEEPER-4785, -4646, -4394: the follower's transaction log gets a
//! gap). The follower then replays a tree without those writes and keeps following with it:
//! reads from it miss acknowledged writes, and were it elected it would spread the loss.
//! ZooKeeper notices (every transaction carries the leader's digest of the tree;
//! `mntr`'s `zk_digest_mismatches_count` counts mismatches) but does nothing. Here a follower
//! with mismatches, while every other voter serves, stops its ZooKeeper, moves its snapshots
//! and transaction logs aside (`version-2.diverged-<unix time>`, kept for inspection), and
//! starts it again: it rejoins empty and takes a full snapshot from the leader.
//!
//! The same bug is caught earlier, before ZooKeeper starts ([`check_before_start`], run by the
//! boot and by `mesos-boot check-log`, zookeeper.service's `ExecStartPre`): a transaction log
//! with a gap ([`txnlog`]) is moved aside the same way, so the server never serves, nor is
//! elected with, a tree that lacks acknowledged writes. A diverged leader cannot be repaired
//! once it leads: every follower it synchronises takes its tree.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::service::sh;
use crate::zookeeper::quorum::{self, FourLetter, Mode};
use crate::zookeeper::{membership, txnlog, zkadmin};

/// What the local server's figures call for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing diverged (or nothing can be said).
    Consistent,
    /// Diverged, but resynchronising now would leave the ensemble short: wait.
    Wait(String),
    /// Diverged: resynchronise from the leader.
    Resync(String),
}

/// The pure decision: `mismatches` from `mntr`, the local mode, and how many of the other
/// voters serve out of how many there are.
pub fn judge(mismatches: u64, mode: Mode, others_serving: usize, others: usize) -> Verdict {
    if mismatches == 0 {
        return Verdict::Consistent;
    }
    if mode != Mode::Follower {
        // A leader's tree is the reference; an observer or a server in election waits.
        return Verdict::Wait(format!(
            "{mismatches} digest mismatches, but this server is {mode:?}, not a follower"
        ));
    }
    if others == 0 || others_serving < others {
        return Verdict::Wait(format!(
            "{mismatches} digest mismatches, but only {others_serving} of the {others} other voters serve"
        ));
    }
    Verdict::Resync(format!(
        "{mismatches} digest mismatches: this follower's tree differs from the leader's \
         (ZooKeeper 3.8 lost transactions in its log); every other voter serves"
    ))
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
) -> Result<(), String> {
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
) -> Result<(), String> {
    let answers = futures::future::join_all(others.iter().map(|a| quorum::mode_and_zxid(a))).await;
    let seen: Vec<(Mode, Option<u64>)> = answers
        .into_iter()
        .map(|a| a.unwrap_or((Mode::Down, None)))
        .collect();
    others_hold(local_last, &seen, voters)
}

/// `zk_digest_mismatches_count` from `mntr` (`None`: no answer).
pub async fn mismatches(addr: &str) -> Option<u64> {
    let mntr = quorum::four_letter(addr, FourLetter::Mntr).await.ok()?;
    mntr.lines()
        .find_map(|l| l.strip_prefix("zk_digest_mismatches_count"))
        .and_then(|v| v.trim().parse().ok())
}

/// The `version-2` directories of the local server (dataDir's, and dataLogDir's when apart),
/// from ZooKeeper's zoo.cfg.
pub fn data_dirs(root: &Path) -> Vec<PathBuf> {
    let Some((data, log)) = crate::render::zookeeper_data_dirs(root) else {
        return Vec::new();
    };
    let mut dirs = vec![PathBuf::from(data).join("version-2")];
    if let Some(l) = log {
        let l = PathBuf::from(l).join("version-2");
        if !dirs.contains(&l) {
            dirs.push(l);
        }
    }
    dirs
}

/// Stops the local ZooKeeper, moves its data aside and starts it again.
pub async fn resync(
    local: &str,
    root: &Path,
    stop_command: &str,
    start_command: &str,
    others: &[String],
    voters: usize,
) -> Result<Vec<PathBuf>, String> {
    let dirs = data_dirs(root);
    if dirs.is_empty() {
        return Err("no dataDir in zoo.cfg".into());
    }
    sh(stop_command, root, None).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while quorum::mode(local).await != Mode::Down {
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "ZooKeeper at {local} still answers 60 s after `{stop_command}`"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Stopped: what it has on disk is all it has. Fresh answers from the others now.
    let last = {
        let dirs = dirs.clone();
        tokio::task::spawn_blocking(move || txnlog::last_zxid(&dirs))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the local data: {e}"))?
    };
    if let Some(last) = last {
        if let Err(why) = others_hold_now(last, others, voters).await {
            sh(start_command, root, None).await?;
            return Err(format!(
                "not resynchronised, started again as it was: {why}"
            ));
        }
    }
    let moved = move_aside(&dirs)?;
    sh(start_command, root, None).await?;
    Ok(moved)
}

/// Renames each `version-2` to `version-2.diverged-<unix time>` (ZooKeeper stopped).
fn move_aside(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut moved = Vec::new();
    for dir in dirs.iter().filter(|d| d.exists()) {
        let to = dir.with_file_name(format!("version-2.diverged-{stamp}"));
        std::fs::rename(dir, &to)
            .map_err(|e| format!("moving {} to {}: {e}", dir.display(), to.display()))?;
        moved.push(to);
    }
    Ok(moved)
}

/// How long [`check_before_start`] waits, at most, for the other voters to serve.
pub const CHECK_WAIT: Duration = Duration::from_secs(60);

/// What [`check_before_start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// No data, or a log without a gap (or ZooKeeper already runs here).
    Clean,
    /// A gap; the data was moved to these directories.
    MovedAside(Vec<PathBuf>),
    /// A gap, but no other voter set could take over this one's data: started as it is.
    KeptWithGap(String),
}

/// Before ZooKeeper starts on this node: checks the log it will replay ([`txnlog::scan`]); on a
/// gap, waits up to `wait` for every other voter of the local dynamic config to serve, then
/// moves the data aside (the server rejoins empty and takes a snapshot from the leader). While
/// they do not all serve, this server's data may hold writes the others lack: it is kept, and
/// started as it is, with an error line. Never fails: a check that cannot read leaves
/// ZooKeeper to start as it would have.
pub async fn check_before_start(root: &Path, wait: Duration) -> Checked {
    let dirs = data_dirs(root);
    let Some(local) = crate::render::local_zookeeper(root) else {
        return Checked::Clean;
    };
    let text = &local.dynamic.1;
    let me = membership::client_addr(text, local.myid);
    if let Some(me) = &me {
        if quorum::mode(me).await != Mode::Down {
            tracing::debug!(addr = %me, "ZooKeeper already runs here: its log is not checked");
            return Checked::Clean;
        }
    }
    let scan = {
        let dirs = dirs.clone();
        match tokio::task::spawn_blocking(move || txnlog::scan(&dirs)).await {
            Ok(Ok(scan)) => scan,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read ZooKeeper's data to check its log; starting it as it is");
                return Checked::Clean;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the log check did not finish; starting ZooKeeper as it is");
                return Checked::Clean;
            }
        }
    };
    let Some(gap) = scan.gap else {
        tracing::info!(
            snapshot = ?scan.snapshot.map(|z| format!("{z:#x}")),
            last = ?scan.last.map(|z| format!("{z:#x}")),
            replayed = scan.replayed,
            "transaction log: no gap"
        );
        return Checked::Clean;
    };
    let others: Vec<String> = zkadmin::parse_config(text)
        .map(|c| {
            c.members
                .iter()
                .filter(|m| m.participant && m.id != local.myid)
                .filter_map(|m| membership::client_addr(text, m.id))
                .collect()
        })
        .unwrap_or_default();
    tracing::warn!(%gap, myid = local.myid, "transaction log has a gap: ZooKeeper would replay a tree without acknowledged writes (ZooKeeper 3.8's DIFF-sync loss)");
    if others.is_empty() {
        let why = format!("{gap}; no other voter to take a snapshot from");
        tracing::error!(reason = %why, "starting ZooKeeper with a gap in its log");
        return Checked::KeptWithGap(why);
    }
    let last = txnlog::last_zxid(&dirs).ok().flatten().unwrap_or(gap.next);
    let voters = others.len() + 1;
    let until = tokio::time::Instant::now() + wait;
    let held = loop {
        let held = others_hold_now(last, &others, voters).await;
        if held.is_ok() || tokio::time::Instant::now() >= until {
            break held;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if let Err(why) = held {
        let why = format!(
            "{gap}; after {}: {why}: this server's data may hold writes they lack",
            humantime::format_duration(wait)
        );
        tracing::error!(reason = %why, "starting ZooKeeper with a gap in its log");
        return Checked::KeptWithGap(why);
    }
    match move_aside(&dirs) {
        Ok(moved) => {
            tracing::warn!(moved = ?moved, others = others.len(), "the other voters hold everything this member has: data moved aside; ZooKeeper starts empty and takes a snapshot from the leader");
            Checked::MovedAside(moved)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not move the data aside; starting ZooKeeper as it is");
            Checked::KeptWithGap(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn only_a_diverged_follower_resyncs_and_only_while_every_other_voter_serves() {
        assert_eq!(judge(0, Mode::Follower, 2, 2), Verdict::Consistent);
        assert!(matches!(judge(5, Mode::Follower, 2, 2), Verdict::Resync(_)));
        assert!(matches!(judge(5, Mode::Follower, 4, 4), Verdict::Resync(_)));
        // Another voter down: wiping this one could leave a write on one server only.
        assert!(matches!(judge(5, Mode::Follower, 1, 2), Verdict::Wait(_)));
        assert!(matches!(judge(5, Mode::Follower, 3, 4), Verdict::Wait(_)));
        // The leader's tree is the reference; nobody else to sync from.
        assert!(matches!(judge(5, Mode::Leader, 2, 2), Verdict::Wait(_)));
        assert!(matches!(judge(5, Mode::Follower, 0, 0), Verdict::Wait(_)));
        assert!(matches!(judge(5, Mode::NotServing, 2, 2), Verdict::Wait(_)));
    }
}
