//! Backups of ZooKeeper's data to the cluster bucket, and the restore of a new ensemble from
//! them.
//!
//! - **Who**: `serve` on one member at a time, the holder of a lease in the shared config
//!   (`mesos-boot.backup-lease=<id>:<instance>:<until, unix s>`, taken or renewed by conditional
//!   write; a lapsed lease is anyone's). A set is completed only if the lease is still the one
//!   its uploader took: an upload that outlived its lease is discarded.
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

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::membership::register;
use crate::store::lease::{may_back_up, Lease};
use crate::store::{SharedConfig, Snapshot, Store, StoreError};
use crate::zk::backups::{now_s, Backups, SetId, LEASE_KEY};
use crate::zk::txnlog;

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

/// The shortest lease: longer than an upload of a large data directory to S3 takes, so that a
/// holder busy uploading is not overtaken.
pub const LEASE_FLOOR: Duration = Duration::from_secs(30);

/// How long a lease taken now lasts: three periods, so that a holder that stops lets go soon,
/// and never less than [`LEASE_FLOOR`].
pub fn lease_length(period: Duration) -> Duration {
    (3 * period).max(LEASE_FLOOR)
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

    /// Takes the lease in `snap` (the shared config `cfg`), or renews it: when `held` is the
    /// lease this node took, only if the shared config still holds exactly that one. `None`
    /// (and why, logged once) when it may not.
    async fn take_lease(
        &mut self,
        snap: Snapshot,
        mut cfg: SharedConfig,
        held: Option<&Lease>,
        period: Duration,
    ) -> Result<Option<Lease>, String> {
        let now = now_s();
        let current = cfg.unknown.get(LEASE_KEY).and_then(|v| Lease::parse(v));
        match held {
            Some(mine) if current.as_ref() != Some(mine) => {
                self.say(format!(
                    "lost the backup lease while uploading (now {}): the set is discarded",
                    current.map_or("none".into(), |l| l.value())
                ));
                return Ok(None);
            }
            Some(_) => {}
            None => {
                if let Err(why) = may_back_up(current.as_ref(), self.myid, now) {
                    self.say(why);
                    return Ok(None);
                }
            }
        }
        let lease = Lease {
            holder: self.myid,
            instance: self.instance.clone(),
            until: now + lease_length(period).as_secs(),
        };
        cfg.unknown.insert(LEASE_KEY.into(), lease.value());
        let text = cfg.to_properties(&register::comments(
            &format!("server.{}", self.myid),
            &self.local,
        ));
        match self.store.write(&text, Some(&snap.version)).await {
            Ok(_) => Ok(Some(lease)),
            Err(StoreError::Conflict(_)) => {
                self.say("the shared config changed while taking the lease".into());
                Ok(None)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// The lease renewed, if this node still holds `lease`, read fresh from the store.
    async fn still_holds(
        &mut self,
        lease: &Lease,
        period: Duration,
    ) -> Result<Option<Lease>, String> {
        let (snap, cfg) = self.read_config().await?;
        self.take_lease(snap, cfg, Some(lease), period).await
    }

    /// The shared config as it is now, with the version a conditional write needs.
    async fn read_config(&self) -> Result<(Snapshot, SharedConfig), String> {
        let snap = self
            .store
            .read()
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let cfg = SharedConfig::parse(&snap.text).map_err(|e| e.to_string())?;
        Ok((snap, cfg))
    }

    /// One period: returns the time to the next.
    async fn tick(&mut self, backups: &Backups) -> Result<Duration, String> {
        let (snap, cfg) = self.read_config().await?;
        let (period, keep) = schedule(&cfg)?;
        let period = self.every.unwrap_or(period);
        if period.is_zero() {
            self.say("backup-period-ms is 0: backups are off".into());
            return Ok(Duration::from_secs(60));
        }
        if !crate::zk::four_letter::mode(&self.local).await.serving() {
            self.say(format!(
                "the local ZooKeeper at {} does not serve",
                self.local
            ));
            return Ok(period);
        }
        let Some(lease) = self.take_lease(snap, cfg, None, period).await? else {
            return Ok(period);
        };
        let dirs = crate::node::zk_state::data_dirs(&self.root);
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
        let m = backups.upload_files(&plan, self.myid).await?;
        // The fence: the set is completed only if the lease is still the one this node took
        // (an upload that outlived it may overlap another holder's): renewed, then the manifest.
        if self.still_holds(&lease, period).await?.is_none() {
            backups.discard(&m).await?;
            return Ok(period);
        }
        backups.commit(&m).await?;
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
    fn the_schedule_is_exhibitors_and_names_a_bad_key() {
        let cfg = SharedConfig::parse("").unwrap();
        assert_eq!(
            schedule(&cfg).unwrap(),
            (Duration::from_secs(60), Duration::from_secs(86400))
        );
        let cfg = SharedConfig::parse("com.netflix.exhibitor.backup-period-ms=often\n").unwrap();
        assert!(schedule(&cfg).unwrap_err().contains("backup-period-ms"));
    }

    /// The fence of a set (issue 24's CI run saw two members' sets while both lived): an
    /// upload completes only while the lease its uploader took is still there, untouched; a
    /// lease lasts long enough for an upload however short the period.
    #[test]
    fn a_set_is_completed_only_under_the_lease_its_uploader_took() {
        assert_eq!(lease_length(Duration::from_secs(1)), LEASE_FLOOR);
        assert_eq!(
            lease_length(Duration::from_secs(60)),
            Duration::from_secs(180)
        );
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            crate::store::Location::File {
                path: dir.path().join("exhibitor.properties"),
            },
            None,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            store.write("", None).await.unwrap();
            let period = Duration::from_secs(1);
            let mut one = Backer::new(
                store.clone(),
                1,
                "i-1".into(),
                dir.path().into(),
                "127.0.0.1:2181".into(),
            );
            let read = || async {
                let snap = store.read().await.unwrap().unwrap();
                let cfg = SharedConfig::parse(&snap.text).unwrap();
                (snap, cfg)
            };
            let (snap, cfg) = read().await;
            let lease = one.take_lease(snap, cfg, None, period).await.unwrap();
            let lease = lease.expect("a free lease is taken");
            assert!(lease.until >= now_s() + LEASE_FLOOR.as_secs() - 1);
            // Another member may not take it while it runs...
            let mut two = Backer::new(
                store.clone(),
                2,
                "i-2".into(),
                dir.path().into(),
                "127.0.0.2:2181".into(),
            );
            let (snap, cfg) = read().await;
            assert_eq!(two.take_lease(snap, cfg, None, period).await.unwrap(), None);
            // ...the holder renews it while it is untouched...
            let lease = one.still_holds(&lease, period).await.unwrap();
            let lease = lease.expect("an untouched lease is renewed");
            // ...and, once another member took it over (as after a lapse), the old holder's
            // upload is not completed.
            let (snap, mut cfg) = read().await;
            let theirs = Lease {
                holder: 2,
                instance: "i-2".into(),
                until: now_s() + 60,
            };
            cfg.unknown.insert(LEASE_KEY.into(), theirs.value());
            store
                .write(&cfg.to_properties(&[]), Some(&snap.version))
                .await
                .unwrap();
            let renewed = {
                let snap = store.read().await.unwrap().unwrap();
                SharedConfig::parse(&snap.text).unwrap().unknown[LEASE_KEY].clone()
            };
            assert_eq!(renewed, theirs.value());
            assert_eq!(one.still_holds(&lease, period).await.unwrap(), None);
        });
    }
}
