//! Backups of ZooKeeper's data to the cluster bucket, and the restore of a new ensemble from
//! them.
//!
//! - **Who**: `serve` on one member at a time, the holder of a lease in the shared config
//!   (`mesos-boot.backup-lease=<id>:<instance>:<until, unix s>`, taken or renewed by conditional
//!   write; a lapsed lease is anyone's).
//! - **What**: the snapshot ZooKeeper would load and the transaction logs after it
//!   ([`txnlog::backup_plan`], logs cut to their valid part), under
//!   `<key>.backups/<id>/` beside the shared config (`<path>.backups/<id>/` beside a file one), then `manifest.json` last (a set without
//!   one is incomplete and never restored). Encrypted by the bucket's default encryption
//!   (SSE-KMS with the cluster key in Terraform). Nothing new since the last set: nothing sent.
//! - **When**: every `backup-period-ms` (Exhibitor's key; 60 s by default, 0 turns backups
//!   off); sets older than `backup-max-store-ms` (a day) go, the newest always stays.
//! - **Restore** (`mesos-boot restore`): only when no listed server answers. It points the
//!   shared config at a set (`mesos-boot.restore=<id>`) and clears the old membership; the new
//!   members forming the next ensemble seed their empty data directories from that set before
//!   ZooKeeper starts ([`seed`]), and the ensemble's formation record clears the key.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::instances::aws_error;
use crate::shared_config::{Location, SharedConfig, Store, StoreError};
use crate::zookeeper::{ensemble, txnlog};

/// The lease key in the shared config.
pub const LEASE_KEY: &str = "mesos-boot.backup-lease";
/// The set the next formation seeds from.
pub const RESTORE_KEY: &str = "mesos-boot.restore";
/// Backups live under `<key><SUFFIX>`.
pub const SUFFIX: &str = ".backups/";

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// The backup lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: u32,
    pub instance: String,
    /// Unix seconds.
    pub until: u64,
}

impl Lease {
    pub fn parse(v: &str) -> Option<Lease> {
        let mut it = v.trim().splitn(3, ':');
        let holder = it.next()?.parse().ok()?;
        let instance = it.next()?.to_string();
        let until = it.next()?.parse().ok()?;
        Some(Lease {
            holder,
            instance,
            until,
        })
    }

    pub fn value(&self) -> String {
        format!("{}:{}:{}", self.holder, self.instance, self.until)
    }
}

/// Whether server `myid` may back up now (take or renew the lease), or who holds it.
pub fn may_back_up(current: Option<&Lease>, myid: u32, now: u64) -> Result<(), String> {
    match current {
        Some(l) if l.holder != myid && l.until > now => Err(format!(
            "server.{} holds the backup lease for {} s more",
            l.holder,
            l.until - now
        )),
        _ => Ok(()),
    }
}

/// Exhibitor's `backup-period-ms` and `backup-max-store-ms` of a shared config.
pub fn schedule(cfg: &SharedConfig) -> Result<(Duration, Duration), String> {
    let ms = |name: &str| {
        let raw = cfg.get(name).trim();
        raw.parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("key com.netflix.exhibitor.{name}: `{raw}` is not a whole number"))
    };
    Ok((ms("backup-period-ms")?, ms("backup-max-store-ms")?))
}

/// One file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
}

/// A complete backup set (its `manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    pub server: u32,
    /// The snapshot's zxid and the last zxid the set holds.
    pub snapshot_zxid: u64,
    pub last_zxid: u64,
    pub files: Vec<Entry>,
    pub bytes: u64,
}

/// Where the sets live: beside an S3 shared config (`<key>.backups/`), or beside a file one
/// (`<path>.backups/`, for a local cluster).
enum Target {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Dir(PathBuf),
}

/// A complete set as its id names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SetId {
    /// Unix seconds.
    pub created: u64,
    pub last_zxid: u64,
    pub id: String,
}

impl SetId {
    /// `<unix s>-<zxid, 16 hex>`, as [`Backups::upload`] names a set.
    pub fn parse(id: &str) -> Option<SetId> {
        let (created, zxid) = id.split_once('-')?;
        Some(SetId {
            created: created.parse().ok()?,
            last_zxid: u64::from_str_radix(zxid, 16).ok()?,
            id: id.to_string(),
        })
    }
}

/// The backups beside one shared config. Keys are relative: `<id>/<file>`.
pub struct Backups {
    target: Target,
}

impl Backups {
    pub fn of(store: &Store) -> Option<Backups> {
        let target = match store.location() {
            Location::S3 { bucket, key } => Target::S3 {
                s3: store.s3_client()?.clone(),
                bucket: bucket.clone(),
                prefix: format!("{key}{SUFFIX}"),
            },
            Location::File { path } => {
                let mut dir = path.as_os_str().to_owned();
                dir.push(SUFFIX.trim_end_matches('/'));
                Target::Dir(PathBuf::from(dir))
            }
        };
        Some(Backups { target })
    }

    pub fn url(&self) -> String {
        match &self.target {
            Target::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            Target::Dir(d) => format!("file://{}/", d.display()),
        }
    }

    /// Every complete set (one with its manifest), oldest first, from one listing: its id
    /// says when it was made and the last zxid it holds (`<unix s>-<zxid, 16 hex>`).
    pub async fn complete_sets(&self) -> Result<Vec<SetId>, String> {
        let mut keys = Vec::new();
        match &self.target {
            Target::S3 { s3, bucket, prefix } => {
                let mut token = None;
                loop {
                    let out = s3
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_continuation_token(token)
                        .send()
                        .await
                        .map_err(|e| {
                            format!("s3:ListObjectsV2 {}: {}", self.url(), aws_error(&e))
                        })?;
                    keys.extend(
                        out.contents()
                            .iter()
                            .filter_map(|o| o.key()?.strip_prefix(prefix.as_str()))
                            .filter(|k| k.ends_with("/manifest.json"))
                            .map(str::to_string),
                    );
                    token = out.next_continuation_token().map(str::to_string);
                    if token.is_none() {
                        break;
                    }
                }
            }
            Target::Dir(d) => {
                let entries = match std::fs::read_dir(d) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(format!("{}: {e}", d.display())),
                };
                for e in entries.flatten() {
                    if e.path().join("manifest.json").is_file() {
                        keys.push(format!("{}/manifest.json", e.file_name().to_string_lossy()));
                    }
                }
            }
        }
        let mut sets: Vec<SetId> = keys
            .iter()
            .filter_map(|k| SetId::parse(k.strip_suffix("/manifest.json")?))
            .collect();
        sets.sort();
        Ok(sets)
    }

    /// The manifest of set `id`.
    pub async fn manifest(&self, id: &str) -> Result<Manifest, String> {
        let key = format!("{id}/manifest.json");
        let bytes = self.get(&key).await?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}{key}: {e}", self.url()))
    }

    /// Every complete set's manifest, oldest first (restore, `--list`).
    pub async fn list(&self) -> Result<Vec<Manifest>, String> {
        let mut sets = Vec::new();
        for set in self.complete_sets().await? {
            sets.push(self.manifest(&set.id).await?);
        }
        Ok(sets)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => {
                let out = s3
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{key}"))
                    .send()
                    .await
                    .map_err(|e| format!("s3:GetObject {}{key}: {}", self.url(), aws_error(&e)))?;
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading {}{key}: {e}", self.url()))?;
                Ok(body.into_bytes().to_vec())
            }
            Target::Dir(d) => {
                std::fs::read(d.join(key)).map_err(|e| format!("{}: {e}", d.join(key).display()))
            }
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => s3
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("s3:PutObject {}{key}: {}", self.url(), aws_error(&e))),
            Target::Dir(d) => crate::fsutil::write_atomic(&d.join(key), &bytes, 0o600)
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", d.join(key).display())),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => s3
                .delete_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("s3:DeleteObject {}{key}: {}", self.url(), aws_error(&e))),
            Target::Dir(d) => {
                let path = d.join(key);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        // The set's directory goes with its last file.
                        if let Some(parent) = path.parent() {
                            let _ = std::fs::remove_dir(parent);
                        }
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("{}: {e}", path.display())),
                }
            }
        }
    }

    /// Uploads one set from `plan`; the manifest last.
    pub async fn upload(&self, plan: &txnlog::BackupPlan, server: u32) -> Result<Manifest, String> {
        let created = now_s();
        let id = format!("{created}-{:016x}", plan.last);
        let mut files = Vec::new();
        let mut sources: Vec<(PathBuf, Option<u64>)> = vec![(plan.snapshot.0.clone(), None)];
        sources.extend(plan.logs.iter().map(|(p, n)| (p.clone(), Some(*n))));
        for (path, limit) in sources {
            let mut bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(n) = limit {
                bytes.truncate(n as usize);
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let len = bytes.len() as u64;
            self.put(&format!("{id}/{name}"), bytes).await?;
            files.push(Entry { name, bytes: len });
        }
        let manifest = Manifest {
            id: id.clone(),
            created,
            server,
            snapshot_zxid: plan.snapshot.1,
            last_zxid: plan.last,
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
        };
        let text = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        self.put(&format!("{id}/manifest.json"), text).await?;
        Ok(manifest)
    }

    /// Deletes the sets older than `max_age` but the newest (`sets` oldest first); returns how
    /// many went. Only the manifests of the sets that go are read.
    pub async fn prune(&self, sets: &[SetId], max_age: Duration) -> Result<usize, String> {
        let cutoff = now_s().saturating_sub(max_age.as_secs());
        let mut gone = 0;
        for set in sets.iter().rev().skip(1).filter(|s| s.created < cutoff) {
            let m = self.manifest(&set.id).await?;
            // The manifest first: a set without one is never restored.
            let mut keys = vec![format!("{}/manifest.json", m.id)];
            keys.extend(m.files.iter().map(|f| format!("{}/{}", m.id, f.name)));
            for key in keys {
                self.delete(&key).await?;
            }
            gone += 1;
        }
        Ok(gone)
    }

    /// Downloads set `m`: the snapshot into `snap_dir`, the logs into `log_dir` (each file
    /// written to a temp file and renamed). Returns the files written.
    pub async fn download(
        &self,
        m: &Manifest,
        snap_dir: &Path,
        log_dir: &Path,
    ) -> Result<Vec<PathBuf>, String> {
        let mut written = Vec::new();
        for f in &m.files {
            let bytes = self.get(&format!("{}/{}", m.id, f.name)).await?;
            if bytes.len() as u64 != f.bytes {
                return Err(format!(
                    "{}{}/{}: {} bytes, the manifest says {}",
                    self.url(),
                    m.id,
                    f.name,
                    bytes.len(),
                    f.bytes
                ));
            }
            let dir = if f.name.starts_with("log.") {
                log_dir
            } else {
                snap_dir
            };
            let path = dir.join(&f.name);
            crate::fsutil::write_atomic(&path, &bytes, 0o600)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

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
    let (data, log) = crate::render::zookeeper_data_dirs(root)
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
    for d in [&snap_dir, &log_dir] {
        crate::fsutil::ensure_dir(d, 0o750).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let written = backups.download(m, &snap_dir, &log_dir).await?;
    // ZooKeeper runs as its own user: the seeded data is its.
    for p in [&snap_dir, &log_dir].into_iter().chain(written.iter()) {
        crate::fsutil::give_to(p, crate::render::ZK_USER)
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
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
    for (id, addr, _) in crate::boot::ensemble_of(&cfg).map_err(|f| f.message)? {
        let mode = crate::zookeeper::quorum::mode(&addr).await;
        if mode != crate::zookeeper::quorum::Mode::Down {
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
    if ensemble::recorded_size(&cfg).is_none() {
        let voters = ensemble::voters(&cfg.servers().map_err(|e| e.to_string())?);
        if voters > 0 {
            cfg.unknown
                .insert(ensemble::SIZE_KEY.into(), voters.to_string());
        }
    }
    // The old membership goes: the next ensemble forms from new registrations, seeded.
    cfg.set_servers(&[]);
    for key in [
        ensemble::FORMED_KEY,
        ensemble::FORMING_KEY,
        ensemble::INSTANCES_KEY,
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

/// The last backup this node made (for `serve`'s /metrics).
#[derive(Debug, Clone)]
pub struct LastBackup {
    pub at: SystemTime,
    pub bytes: u64,
    pub id: String,
}

pub type LastBackupCell = std::sync::Arc<std::sync::Mutex<Option<LastBackup>>>;

/// `serve`'s backup loop: every period (`every`, else the shared config's
/// `backup-period-ms`), the lease holder backs up what is new and prunes old sets. One log
/// line per decision that changes.
pub struct Backer {
    pub store: Store,
    pub myid: u32,
    pub instance: String,
    pub root: PathBuf,
    /// The local server's client address: only a serving server backs up.
    pub local: String,
    pub every: Option<Duration>,
    pub last: LastBackupCell,
    said: Option<String>,
}

impl Backer {
    pub fn new(store: Store, myid: u32, instance: String, root: PathBuf, local: String) -> Self {
        Backer {
            store,
            myid,
            instance,
            root,
            local,
            every: None,
            last: LastBackupCell::default(),
            said: None,
        }
    }

    fn say(&mut self, why: String) {
        if self.said.as_ref() != Some(&why) {
            tracing::info!(reason = %why, "backup: not backing up now");
            self.said = Some(why);
        }
    }

    /// Runs forever.
    pub async fn run(mut self) {
        let Some(backups) = Backups::of(&self.store) else {
            tracing::info!("backups are off: no backup store for this shared config");
            return;
        };
        loop {
            let period = match self.tick(&backups).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "backup: failed; trying again next period");
                    self.every.unwrap_or(Duration::from_secs(60))
                }
            };
            tokio::time::sleep(period.max(Duration::from_millis(200))).await;
        }
    }

    /// One period: returns the time to the next.
    async fn tick(&mut self, backups: &Backups) -> Result<Duration, String> {
        let snap = self
            .store
            .read()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let mut cfg = SharedConfig::parse(&snap.text).map_err(|e| e.to_string())?;
        let (period, keep) = schedule(&cfg)?;
        let period = self.every.unwrap_or(period);
        if period.is_zero() {
            self.say("backup-period-ms is 0: backups are off".into());
            return Ok(Duration::from_secs(60));
        }
        if !crate::zookeeper::quorum::mode(&self.local).await.serving() {
            self.say(format!(
                "the local ZooKeeper at {} does not serve",
                self.local
            ));
            return Ok(period);
        }
        let now = now_s();
        let current = cfg.unknown.get(LEASE_KEY).and_then(|v| Lease::parse(v));
        if let Err(why) = may_back_up(current.as_ref(), self.myid, now) {
            self.say(why);
            return Ok(period);
        }
        // Take or renew the lease: three periods, so a holder that stops lets go soon.
        let lease = Lease {
            holder: self.myid,
            instance: self.instance.clone(),
            until: now + 3 * period.as_secs().max(1),
        };
        cfg.unknown.insert(LEASE_KEY.into(), lease.value());
        let text = cfg.to_properties(&ensemble::comments(
            &format!("server.{}", self.myid),
            &self.local,
        ));
        match self.store.write(&text, Some(&snap.version)).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                self.say("the shared config changed while taking the lease".into());
                return Ok(period);
            }
            Err(e) => return Err(e.to_string()),
        }
        let dirs = crate::zookeeper::divergence::data_dirs(&self.root);
        let plan = tokio::task::spawn_blocking(move || txnlog::backup_plan(&dirs))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading the data to back up: {e}"))?;
        let Some(plan) = plan else {
            self.say("no snapshot yet".into());
            return Ok(period);
        };
        let mut sets = backups.complete_sets().await?;
        if sets.last().is_some_and(|s| s.last_zxid >= plan.last) {
            self.say(format!("nothing new since zxid {:#x}", plan.last));
            return Ok(period);
        }
        let m = backups.upload(&plan, self.myid).await?;
        self.said = None;
        tracing::info!(id = %m.id, bytes = m.bytes, files = m.files.len(), last_zxid = %format!("{:#x}", m.last_zxid), to = %backups.url(), "backup: uploaded");
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastBackup {
            at: SystemTime::now(),
            bytes: m.bytes,
            id: m.id.clone(),
        });
        sets.extend(SetId::parse(&m.id));
        let gone = backups.prune(&sets, keep).await?;
        if gone > 0 {
            tracing::info!(sets = gone, older_than = ?keep, "backup: old sets deleted");
        }
        Ok(period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_goes_to_its_holder_or_to_anyone_once_it_lapsed() {
        let l = Lease::parse("2:i-0abc:1000").unwrap();
        assert_eq!(l.value(), "2:i-0abc:1000");
        assert_eq!(may_back_up(Some(&l), 2, 999), Ok(()));
        let e = may_back_up(Some(&l), 1, 999).unwrap_err();
        assert!(e.contains("server.2"), "{e}");
        assert_eq!(may_back_up(Some(&l), 1, 1000), Ok(()));
        assert_eq!(may_back_up(None, 1, 0), Ok(()));
        assert_eq!(Lease::parse("x:y"), None);
    }

    /// Beside a file shared config: a set goes to `<path>.backups/<id>/` (manifest last), lists,
    /// downloads byte for byte, and an old set is pruned while the newest stays.
    #[test]
    fn sets_beside_a_file_config_upload_list_download_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("version-2");
        std::fs::create_dir_all(&data).unwrap();
        let snap = data.join("snapshot.100000000");
        std::fs::write(&snap, b"snapshot bytes").unwrap();
        let log = data.join("log.100000001");
        std::fs::write(&log, b"log bytes and preallocated zeros").unwrap();
        let plan = txnlog::BackupPlan {
            snapshot: (snap, 0x1_0000_0000),
            logs: vec![(log, 9)],
            last: 0x1_0000_0005,
        };
        let config = dir.path().join("exhibitor.properties");
        let store = Store::new(
            Location::File {
                path: config.clone(),
            },
            None,
        );
        let backups = Backups::of(&store).unwrap();
        assert!(
            backups.url().ends_with("exhibitor.properties.backups/"),
            "{}",
            backups.url()
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let m = backups.upload(&plan, 2).await.unwrap();
            assert_eq!(m.bytes, 14 + 9);
            let sets = backups.list().await.unwrap();
            assert_eq!(sets, vec![m.clone()]);
            let to = dir.path().join("restored");
            std::fs::create_dir_all(&to).unwrap();
            backups.download(&m, &to, &to).await.unwrap();
            assert_eq!(
                std::fs::read(to.join("log.100000001")).unwrap(),
                b"log bytes"
            );
            // An older set (made up, a day old) goes; the newest stays.
            let mut old = m.clone();
            old.id = "1-0000000000000000".into();
            old.created = 1;
            let text = serde_json::to_vec(&old).unwrap();
            backups
                .put("1-0000000000000000/manifest.json", text)
                .await
                .unwrap();
            let sets = backups.complete_sets().await.unwrap();
            assert_eq!(sets.len(), 2);
            assert_eq!(sets[0].created, 1);
            assert_eq!(
                backups
                    .prune(&sets, Duration::from_secs(3600))
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(backups.list().await.unwrap(), vec![m]);
            assert!(!dir
                .path()
                .join("exhibitor.properties.backups/1-0000000000000000")
                .exists());
        });
    }

    #[test]
    fn the_schedule_is_exhibitors_and_names_a_bad_key() {
        let cfg = SharedConfig::parse("").unwrap();
        assert_eq!(
            schedule(&cfg).unwrap(),
            (Duration::from_secs(60), Duration::from_secs(86400))
        );
        let cfg = SharedConfig::parse("com.netflix.exhibitor.backup-period-ms=often\n").unwrap();
        assert!(schedule(&cfg).unwrap_err().contains("backup-period-ms"));
    }
}
