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

use crate::node::service::sh;
use crate::node::zk_state::{data_dirs, move_aside};
use crate::zk::four_letter::others_hold_now;
use crate::zk::four_letter::{self, FourLetter, Mode};
use crate::zk::txnlog;

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

/// `zk_digest_mismatches_count` from `mntr` (`None`: no answer).
pub async fn mismatches(addr: &str) -> Option<u64> {
    let mntr = four_letter::four_letter(addr, FourLetter::Mntr)
        .await
        .ok()?;
    mntr.lines()
        .find_map(|l| l.strip_prefix("zk_digest_mismatches_count"))
        .and_then(|v| v.trim().parse().ok())
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
    while four_letter::mode(local).await != Mode::Down {
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

#[cfg(test)]
mod tests {
    use super::*;

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
