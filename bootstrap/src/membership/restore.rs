//! The restore of a new ensemble from a backup set: `mesos-boot restore` points the shared
//! config at a set ([`prepare_restore`], only when no listed server answers) and clears the
//! old membership; the members forming the next ensemble seed their empty data directories
//! from it before ZooKeeper starts ([`seed`]); the formation record clears the key.

use std::path::{Path, PathBuf};

use crate::membership::register::{self, RESTORE_KEY};
use crate::store::{SharedConfig, Store, StoreError};
use crate::zk::backups::{Backups, Manifest, LEASE_KEY};
use crate::zk::txnlog;

/// Before ZooKeeper starts on a member forming a new ensemble: when the shared config names a
/// set to restore and this member has no data yet, its data directories are seeded from it.
/// `Ok(None)`: nothing to do.
pub async fn seed(
    store: &Store,
    cfg: &SharedConfig,
    root: &Path,
) -> Result<Option<Manifest>, String> {
    let Some(id) = cfg.unknown.get(RESTORE_KEY).map(|v| v.trim().to_string()) else {
        return Ok(None);
    };
    let backups = Backups::of(store)
        .ok_or_else(|| format!("{RESTORE_KEY}={id}, but there is no backup store"))?;
    let (data, log) = crate::node::zk_state::zookeeper_data_dirs(root)
        .ok_or_else(|| "no dataDir in the rendered zoo.cfg".to_string())?;
    let snap_dir = PathBuf::from(&data).join("version-2");
    let log_dir = PathBuf::from(log.as_deref().unwrap_or(&data)).join("version-2");
    if txnlog::scan(&[snap_dir.clone(), log_dir.clone()])
        .map_err(|e| e.to_string())?
        .snapshot
        .is_some()
    {
        tracing::info!(backup = %id, "restore: this member has data already; not seeded");
        return Ok(None);
    }
    let sets = backups.list().await?;
    let m = sets
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| format!("{RESTORE_KEY}={id}: no complete set {}{id}/", backups.url()))?;
    let started = std::time::Instant::now();
    // ZooKeeper runs as its own user: the seeded data is its, given by descriptor as it is
    // written (the directories are the zookeeper user's: see crate::fsutil).
    let owner = crate::fsutil::Owner::of(crate::node::paths::ZK_USER).map_err(|e| e.to_string())?;
    for d in [&snap_dir, &log_dir] {
        crate::fsutil::ensure_dir_as(d, 0o750, owner)
            .map_err(|e| format!("{}: {e}", d.display()))?;
    }
    backups.download(m, &snap_dir, &log_dir, owner).await?;
    let bytes = m.bytes;
    tracing::warn!(backup = %m.id, bytes, last_zxid = %format!("{:#x}", m.last_zxid), ms = started.elapsed().as_millis() as u64, "restore: data seeded from the backup before ZooKeeper starts");
    Ok(Some(m.clone()))
}

/// `mesos-boot restore`: points the shared config at a set (the newest, or `wanted`) for the
/// next ensemble, after checking that no listed server answers. Returns the set chosen.
pub async fn prepare_restore(store: &Store, wanted: Option<&str>) -> Result<Manifest, String> {
    let url = store.location().to_string();
    let backups = Backups::of(store).ok_or("no backup store for this shared config")?;
    let snap = store
        .read()
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{url} does not exist"))?;
    let mut cfg = SharedConfig::parse(&snap.text).map_err(|e| format!("{url}: {e}"))?;
    for crate::zk::peer::Peer { id, addr, .. } in
        crate::zk::peer::ensemble_of(&cfg).map_err(|f| f.message)?
    {
        let mode = crate::zk::four_letter::mode(&addr).await;
        if mode != crate::zk::four_letter::Mode::Down {
            return Err(format!(
                "server.{id} at {addr} answers ({mode:?}): a restore seeds a new ensemble only once \
                 every member is gone; this one still has its data"
            ));
        }
    }
    let sets = backups.list().await?;
    let m = match wanted {
        Some(w) => sets
            .iter()
            .find(|m| m.id == w)
            .ok_or_else(|| format!("no complete backup {w} under {}", backups.url()))?,
        None => sets
            .last()
            .ok_or_else(|| format!("no complete backup under {}", backups.url()))?,
    };
    // The next ensemble forms at the old one's size (recorded if it was not: new members
    // must wait for each other, never form alone).
    if register::recorded_size(&cfg).is_none() {
        let voters = register::voters(&cfg.servers().map_err(|e| e.to_string())?);
        if voters > 0 {
            cfg.unknown
                .insert(register::SIZE_KEY.into(), voters.to_string());
        }
    }
    // The old membership goes: the next ensemble forms from new registrations, seeded.
    cfg.set_servers(&[]);
    for key in [
        register::FORMED_KEY,
        register::FORMING_KEY,
        register::INSTANCES_KEY,
        LEASE_KEY,
    ] {
        cfg.unknown.remove(key);
    }
    cfg.unknown.insert(RESTORE_KEY.into(), m.id.clone());
    let text = cfg.to_properties(&["Written by mesos-boot restore".to_string()]);
    match store.write(&text, Some(&snap.version)).await {
        Ok(_) => Ok(m.clone()),
        Err(StoreError::Conflict(_)) => Err(format!("{url} changed while restoring; run it again")),
        Err(e) => Err(e.to_string()),
    }
}
