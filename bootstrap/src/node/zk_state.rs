//! ZooKeeper's state on this node's disk, read and kept by mesos-boot: the data directories
//! and what ZooKeeper left after it ran (its id, its dynamic config), ZooKeeper's own rewrite
//! of zoo.cfg (adopted, not fought), the fingerprint of the settings zoo.cfg was rendered from
//! (what `serve`'s rolling change compares), and the check of the transaction log for a gap
//! before ZooKeeper starts (ZooKeeper 3.8.0 can leave one: see [`crate::zk::txnlog`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::node::paths::{self, at, under};
use crate::node::render::Output;
use crate::store::SharedConfig;
use crate::zk::four_letter::others_hold_now;
use crate::zk::four_letter::{self, Mode};
use crate::zk::{admin, txnlog};

/// Settings of a zoo.cfg as a map, comments and blank lines ignored.
fn zoo_settings(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `dataDir` and `dataLogDir` of the local zoo.cfg (ZooKeeper's own rewrite included).
pub fn zookeeper_data_dirs(root: &Path) -> Option<(String, Option<String>)> {
    let settings = zoo_settings(&std::fs::read_to_string(under(root, paths::ZOO_CFG)).ok()?);
    Some((
        settings.get("dataDir")?.clone(),
        settings.get("dataLogDir").cloned(),
    ))
}

/// Whether ZooKeeper already ran on this node: its rewrite of zoo.cfg points at a versioned
/// dynamic file (`zoo.cfg.dynamic.<version>`) that exists.
pub fn zookeeper_ran_before(root: &Path) -> bool {
    std::fs::read_to_string(under(root, paths::ZOO_CFG))
        .ok()
        .and_then(|text| zoo_settings(&text).get("dynamicConfigFile").cloned())
        .is_some_and(|d| d != at(root, paths::ZOO_CFG_DYNAMIC) && Path::new(&d).is_file())
}

/// What ZooKeeper left on this node after it ran: its server id and its current dynamic
/// config (the membership reconfig maintains).
#[derive(Debug, Clone)]
pub struct LocalZookeeper {
    pub myid: u32,
    /// `zoo.cfg.dynamic.<version>` (path, content).
    pub dynamic: (PathBuf, String),
}

/// [`LocalZookeeper`] when ZooKeeper ran here before and its files are readable.
pub fn local_zookeeper(root: &Path) -> Option<LocalZookeeper> {
    if !zookeeper_ran_before(root) {
        return None;
    }
    let settings = zoo_settings(&std::fs::read_to_string(under(root, paths::ZOO_CFG)).ok()?);
    let dynamic = PathBuf::from(settings.get("dynamicConfigFile")?);
    let text = std::fs::read_to_string(&dynamic).ok()?;
    let data_dir = settings.get("dataDir")?;
    let myid = std::fs::read_to_string(Path::new(data_dir).join("myid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(LocalZookeeper {
        myid,
        dynamic: (dynamic, text),
    })
}

/// After its first start, ZooKeeper rewrites zoo.cfg (no comments, its own order) and moves
/// membership to `zoo.cfg.dynamic.<version>`, which reconfig then maintains. A re-run accepts
/// that instead of fighting it: membership stays ZooKeeper's, and zoo.cfg is left as ZooKeeper
/// wrote it unless a static setting really changed (then it is rewritten, still pointing at
/// ZooKeeper's current dynamic file).
pub fn adopt_zookeeper_rewrites(root: &Path, outputs: &mut [Output]) {
    let Ok(existing) = std::fs::read_to_string(under(root, paths::ZOO_CFG)) else {
        return;
    };
    let current = zoo_settings(&existing);
    let Some(dynamic) = current
        .get("dynamicConfigFile")
        .filter(|d| *d != &at(root, paths::ZOO_CFG_DYNAMIC) && Path::new(d).is_file())
    else {
        return;
    };
    tracing::info!(dynamic = %dynamic, "ZooKeeper owns its membership since its first start; leaving it to reconfig");
    for o in outputs.iter_mut() {
        if o.path == paths::ZOO_CFG {
            let mut wanted = zoo_settings(&o.content);
            wanted.insert("dynamicConfigFile".into(), dynamic.clone());
            if wanted == current {
                o.content = existing.clone();
            } else {
                tracing::info!("static ZooKeeper settings changed; rewriting zoo.cfg");
                o.content = o
                    .content
                    .lines()
                    .map(|l| match l.starts_with("dynamicConfigFile=") {
                        true => format!("dynamicConfigFile={dynamic}\n"),
                        false => format!("{l}\n"),
                    })
                    .collect();
            }
        } else if o.path == paths::ZOO_CFG_DYNAMIC {
            if let Ok(old) = std::fs::read_to_string(under(root, paths::ZOO_CFG_DYNAMIC)) {
                o.content = old;
            }
        }
    }
}

/// The `version-2` directories of the local server (dataDir's, and dataLogDir's when apart),
/// from ZooKeeper's zoo.cfg.
pub fn data_dirs(root: &Path) -> Vec<PathBuf> {
    let Some((data, log)) = crate::node::zk_state::zookeeper_data_dirs(root) else {
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

/// Renames each `version-2` to `version-2.diverged-<unix time>` (ZooKeeper stopped).
pub fn move_aside(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
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
    /// ZooKeeper ran here, but its data is gone (no snapshot, no log) and not every other
    /// voter serves: starting it now could make a quorum without writes only that data held
    /// (ZAB amnesia). It must not start yet.
    Lost(String),
}

/// Before ZooKeeper starts on this node: a member whose data is gone although ZooKeeper ran
/// here (no snapshot, no log: a replaced disk) waits up to `wait` for every other voter to
/// serve, and is [`Checked::Lost`] if they do not. Otherwise checks the log it will replay ([`txnlog::scan`]); on a
/// gap, waits up to `wait` for every other voter of the local dynamic config to serve, then
/// moves the data aside (the server rejoins empty and takes a snapshot from the leader). While
/// they do not all serve, this server's data may hold writes the others lack: it is kept, and
/// started as it is, with an error line. Never fails: a check that cannot read leaves
/// ZooKeeper to start as it would have.
pub async fn check_before_start(root: &Path, wait: Duration) -> Checked {
    let dirs = data_dirs(root);
    let Some(local) = crate::node::zk_state::local_zookeeper(root) else {
        return Checked::Clean;
    };
    let text = &local.dynamic.1;
    let me = crate::zk::peer::client_addr(text, local.myid);
    if let Some(me) = &me {
        if four_letter::mode(me).await != Mode::Down {
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
    let others: Vec<String> = admin::parse_config(text)
        .map(|c| {
            c.members
                .iter()
                .filter(|m| m.participant && m.id != local.myid)
                .filter_map(|m| crate::zk::peer::client_addr(text, m.id))
                .collect()
        })
        .unwrap_or_default();
    if scan.snapshot.is_none() && scan.last.is_none() && !others.is_empty() {
        // ZooKeeper takes a snapshot when it first starts: none at all means the data is gone.
        tracing::warn!(myid = local.myid, dirs = ?dirs, "ZooKeeper ran here but this member lost its data: it may start only while every other voter serves");
        return match wait_until_others_hold(0, &others, wait).await {
            Ok(()) => {
                tracing::info!(others = others.len(), "every other voter serves: this member starts empty and takes a snapshot from the leader");
                Checked::Clean
            }
            Err(why) => {
                let why = format!(
                    "server.{} lost its data and, after {}, not every other voter serves ({why}): \
                     starting it could make a quorum without writes only its data held",
                    local.myid,
                    humantime::format_duration(wait)
                );
                tracing::error!(reason = %why, "not starting ZooKeeper");
                Checked::Lost(why)
            }
        };
    }
    let Some(gap) = scan.gap else {
        tracing::info!(
            snapshot = ?scan.snapshot.map(|z| format!("{z:#x}")),
            last = ?scan.last.map(|z| format!("{z:#x}")),
            replayed = scan.replayed,
            "transaction log: no gap"
        );
        return Checked::Clean;
    };
    tracing::warn!(%gap, myid = local.myid, "transaction log has a gap: ZooKeeper would replay a tree without acknowledged writes (ZooKeeper 3.8's DIFF-sync loss)");
    if others.is_empty() {
        let why = format!("{gap}; no other voter to take a snapshot from");
        tracing::error!(reason = %why, "starting ZooKeeper with a gap in its log");
        return Checked::KeptWithGap(why);
    }
    let last = txnlog::last_zxid(&dirs).ok().flatten().unwrap_or(gap.next);
    if let Err(why) = wait_until_others_hold(last, &others, wait).await {
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

/// Waits up to `wait` until every one of `others` (the other voters' client addresses) serves
/// and holds `last`; the last reason they do not, if they never do.
async fn wait_until_others_hold(
    last: u64,
    others: &[String],
    wait: Duration,
) -> std::result::Result<(), String> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let held = others_hold_now(last, others, others.len() + 1).await;
        if held.is_ok() || tokio::time::Instant::now() >= until {
            return held;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Where a member records the fingerprint of the settings its zoo.cfg was rendered from.
pub const APPLIED: &str = "/var/lib/mesos-boot/zookeeper-settings";

/// The shared config's settings that go into zoo.cfg, other than membership.
const STATIC: [&str; 7] = [
    "zoo-cfg-extra",
    "client-port",
    "connect-port",
    "election-port",
    "zookeeper-data-directory",
    "zookeeper-log-directory",
    "cleanup-max-files",
];

/// A fingerprint of the static settings (and `cleanup-period-ms`).
pub fn fingerprint(cfg: &SharedConfig) -> String {
    let mut h = Sha1::new();
    for name in STATIC.iter().chain(&["cleanup-period-ms"]) {
        h.update(name.as_bytes());
        h.update(b"=");
        h.update(cfg.get(name).trim().as_bytes());
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The recorded fingerprint of this member's zoo.cfg.
pub fn applied(root: &Path) -> Option<String> {
    std::fs::read_to_string(crate::node::paths::under(root, APPLIED))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Records the fingerprint of the settings zoo.cfg was just rendered from.
pub fn record_applied(root: &Path, cfg: &SharedConfig) -> std::io::Result<()> {
    crate::fsutil::write_atomic(
        &crate::node::paths::under(root, APPLIED),
        format!("{}\n", fingerprint(cfg)).as_bytes(),
        0o644,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_static_settings_only() {
        let base = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:a,2:b\ncom.netflix.exhibitor.zoo-cfg-extra=tickTime\\=500\n",
        )
        .unwrap();
        let mut other_members = base.clone();
        other_members.set("servers-spec", "1:a,2:b,3:c".into());
        assert_eq!(fingerprint(&base), fingerprint(&other_members));
        let mut changed = base.clone();
        changed.set("zoo-cfg-extra", "tickTime=500&maxClientCnxns=77".into());
        assert_ne!(fingerprint(&base), fingerprint(&changed));
        let mut port = base.clone();
        port.set("client-port", "2182".into());
        assert_ne!(fingerprint(&base), fingerprint(&port));
    }
}
