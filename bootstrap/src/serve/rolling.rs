//! Rolling change of ZooKeeper's static settings, run by `serve`: an operator edits
//! `zoo-cfg-extra` (or a port, a directory, the purge settings) in the shared config; each
//! member applies it by a restart, one member at a time.
//!
//! - A member knows what its running ZooKeeper was configured from: a fingerprint of those
//!   settings ([`fingerprint`]), recorded when it rendered zoo.cfg ([`APPLIED`]). A shared
//!   config with another fingerprint calls for the change here.
//! - One at a time: the member takes a lease in the shared config
//!   (`mesos-boot.rolling-lease=<id>:<instance>:<until>`, by conditional write) only while every
//!   voter serves and the ensemble has a leader.
//! - It renders again (the boot's own render, with the settings, identity and templates its
//!   boot record kept; ZooKeeper's dynamic config stays), stops and starts ZooKeeper, and waits until it is back as a voter of an ensemble
//!   with a leader; then it records the fingerprint and gives the lease back.
//! - A member that does not come back (within `--rolling-timeout`, 120 s) stops the change for
//!   everyone:
//!   `mesos-boot.rolling-stopped=<reason>` in the shared config, one error line; the lease stays
//!   held. The operator fixes the setting and deletes the key.

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::membership::register;
use crate::node::zk_state::{applied, fingerprint, record_applied};
use crate::serve::reconcile::Reconciler;
use crate::store::lease::{may_back_up as may_take, Lease};
use crate::store::{SharedConfig, StoreError};
use crate::zk::four_letter;
use crate::zk::peer::Peer;

/// The lease key in the shared config.
pub const LEASE_KEY: &str = "mesos-boot.rolling-lease";
/// Set when a member did not come back: the change stops there.
pub const STOPPED_KEY: &str = "mesos-boot.rolling-stopped";
/// The members that applied the current change: `<fingerprint>:<id>,<id>,...`.
pub const APPLIED_KEY: &str = "mesos-boot.rolling-applied";

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(12)]
}

/// The members recorded as having applied the change of fingerprint `want`.
fn applied_ids(cfg: &SharedConfig, want: &str) -> std::collections::BTreeSet<u32> {
    cfg.unknown
        .get(APPLIED_KEY)
        .and_then(|v| v.split_once(':'))
        .filter(|(fp, _)| *fp == short(want))
        .map(|(_, ids)| {
            ids.split(',')
                .filter_map(|i| i.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What one pass found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roll {
    /// Nothing to change here.
    Current,
    /// The change waits: the reason.
    Wait(String),
    /// Applied here.
    Applied,
    /// This member did not come back: the change stopped.
    Stopped(String),
}

impl Reconciler {
    /// One look at the rolling change, and this member's turn when it is its turn.
    pub async fn roll(&mut self) -> Result<Roll, String> {
        let Some((cfg, version)) = self.read().await? else {
            return Ok(Roll::Current);
        };
        if let Some(why) = cfg.unknown.get(STOPPED_KEY) {
            return Ok(Roll::Wait(format!(
                "the rolling change stopped ({why}); delete {STOPPED_KEY} from the shared config to go on"
            )));
        }
        let want = fingerprint(&cfg);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let lease = cfg.unknown.get(LEASE_KEY).and_then(|v| Lease::parse(v));
        match applied(&self.root) {
            None => {
                // Rendered before fingerprints were recorded: what it runs is what it rendered.
                record_applied(&self.root, &cfg).map_err(|e| e.to_string())?;
                return Ok(Roll::Current);
            }
            Some(have) if have == want => {
                if lease.as_ref().is_some_and(|l| l.holder == self.myid) {
                    self.give_back(None).await?;
                }
                return Ok(Roll::Current);
            }
            Some(_) => {}
        }
        if may_take(lease.as_ref(), self.myid, now).is_err() {
            let holder = lease.as_ref().map(|l| l.holder).unwrap_or_default();
            return Ok(Roll::Wait(format!(
                "server.{holder} holds the rolling-change lease: one member at a time"
            )));
        }
        // Every voter serves, with a leader: a restart here leaves a quorum.
        let ensemble = crate::zk::peer::ensemble_of(&cfg).map_err(|f| f.message)?;
        let state = four_letter::ensemble_state(&ensemble).await;
        let voters: Vec<_> = state.servers.iter().filter(|s| s.voter).collect();
        let down: Vec<String> = voters
            .iter()
            .filter(|s| !s.mode.serving())
            .map(|s| format!("server.{}", s.id))
            .collect();
        if !down.is_empty() || !voters.iter().any(|s| s.mode == four_letter::Mode::Leader) {
            return Ok(Roll::Wait(format!(
                "not every voter serves with a leader (down: {down:?}): no restart now"
            )));
        }
        let mut taken = cfg.clone();
        taken.unknown.insert(
            LEASE_KEY.into(),
            Lease {
                holder: self.myid,
                instance: self.my_instance.clone(),
                until: now + 2 * self.rolling_timeout.as_secs().max(1),
            }
            .value(),
        );
        match self.store.write(&self.text(&taken), Some(&version)).await {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                return Ok(Roll::Wait("the shared config changed meanwhile".into()))
            }
            Err(e) => return Err(e.to_string()),
        }
        tracing::warn!(
            server = self.myid,
            "rolling change: this member's turn: rendering zoo.cfg again and restarting ZooKeeper"
        );
        if let Err(why) = self.restart_with_new_settings(&cfg, &ensemble).await {
            let why = format!(
                "server.{} did not come back after the change: {why}",
                self.myid
            );
            self.stop_the_change(&why).await;
            return Ok(Roll::Stopped(why));
        }
        record_applied(&self.root, &cfg).map_err(|e| e.to_string())?;
        self.give_back(Some(&want)).await?;
        tracing::info!(
            server = self.myid,
            "rolling change: applied here; lease given back"
        );
        Ok(Roll::Applied)
    }

    /// Renders this member's files again from `cfg`, with the settings, identity and
    /// templates its boot record kept (ZooKeeper's own dynamic config stays, as on a re-run).
    async fn render_again(&self, cfg: &SharedConfig) -> Result<(), String> {
        let rec =
            crate::node::record::load(&self.root).map_err(|e| format!("the boot record: {e}"))?;
        let settings =
            crate::config::settings::from_record(&rec.settings).map_err(|f| f.message)?;
        let identity = crate::config::identity::Identity::from_record(&rec.identity);
        let secret = crate::zk::secret::read(&self.store).await?;
        let templates =
            crate::node::render::Templates::load(rec.templates.as_deref().map(Path::new))
                .map_err(|f| f.message)?;
        let ca = match settings.zk_tls {
            true => crate::zk::tls::read(&self.store)
                .await
                .map_err(|f| f.message)?,
            false => None,
        };
        let node = crate::node::render::Node {
            root: &self.root,
            settings: &settings,
            identity: &identity,
            config: cfg,
            myid: Some(self.myid),
            zk_super_digest: Some(secret.super_digest()),
            mesos: None,
            zk_tls: ca.as_ref(),
            registry_formed: false,
            cgroups: Default::default(),
        };
        let mut outputs = crate::node::render::plan(&node, &templates).map_err(|f| f.message)?;
        crate::node::zk_state::adopt_zookeeper_rewrites(&self.root, &mut outputs);
        crate::node::render::write(&self.root, &outputs).map_err(|f| f.message)?;
        Ok(())
    }

    async fn restart_with_new_settings(
        &self,
        cfg: &SharedConfig,
        ensemble: &[Peer],
    ) -> Result<(), String> {
        self.render_again(cfg).await?;
        crate::node::service::sh(&self.stop_command, &self.root, None)
            .await
            .map_err(|e| format!("stop command {e}"))?;
        let deadline = Instant::now() + self.rolling_timeout;
        while four_letter::mode(&self.local).await != four_letter::Mode::Down {
            if Instant::now() > deadline {
                return Err("ZooKeeper did not stop".into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        crate::node::service::sh(&self.start_command, &self.root, None)
            .await
            .map_err(|e| format!("start command {e}"))?;
        // Back as it was: leader, a follower that `conf` lists as a participant, or (an observer)
        // an observer that `conf` lists as one.
        let mut last;
        loop {
            let mode = four_letter::mode_among(&self.local, ensemble).await;
            let voting = match mode {
                four_letter::Mode::Leader => true,
                four_letter::Mode::Follower => {
                    four_letter::four_letter(&self.local, four_letter::FourLetter::Conf)
                        .await
                        .is_ok_and(|c| four_letter::conf_lists_participant(&c, self.myid))
                }
                four_letter::Mode::Observer => {
                    four_letter::four_letter(&self.local, four_letter::FourLetter::Conf)
                        .await
                        .is_ok_and(|c| four_letter::conf_lists_observer(&c, self.myid))
                }
                _ => false,
            };
            if voting {
                tracing::info!(
                    server = self.myid,
                    ?mode,
                    "rolling change: back as a voter of an ensemble with a leader"
                );
                return Ok(());
            }
            last = format!("{mode:?}");
            if Instant::now() > deadline {
                return Err(format!(
                    "not a voter {} s after its restart (last: {last})",
                    self.rolling_timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The shared config as this member writes it.
    fn text(&self, cfg: &SharedConfig) -> String {
        cfg.to_properties(&register::comments(
            &format!("server.{}", self.myid),
            &self.local,
        ))
    }

    /// Reads the shared config, lets `change` edit it (`false`: nothing to write) and writes it
    /// back by conditional write, again after a conflict (up to 5 times).
    async fn update(
        &self,
        mut change: impl FnMut(&mut SharedConfig) -> bool,
    ) -> Result<(), String> {
        for _ in 0..5 {
            let Some((mut cfg, version)) = self.read().await? else {
                return Ok(());
            };
            if !change(&mut cfg) {
                return Ok(());
            }
            match self.store.write(&self.text(&cfg), Some(&version)).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        Err("the shared config kept changing meanwhile".into())
    }

    /// Gives the lease back (when this member holds it) and, with `applied`, records this
    /// member among those that applied that change.
    async fn give_back(&self, applied: Option<&str>) -> Result<(), String> {
        let myid = self.myid;
        self.update(|cfg| {
            let held = cfg
                .unknown
                .get(LEASE_KEY)
                .and_then(|v| Lease::parse(v))
                .is_some_and(|l| l.holder == myid);
            if !held {
                return false;
            }
            cfg.unknown.remove(LEASE_KEY);
            if let Some(want) = applied {
                let mut ids = applied_ids(cfg, want);
                ids.insert(myid);
                let list: Vec<String> = ids.iter().map(u32::to_string).collect();
                cfg.unknown.insert(
                    APPLIED_KEY.into(),
                    format!("{}:{}", short(want), list.join(",")),
                );
            }
            true
        })
        .await
        .map_err(|e| format!("giving the lease back: {e}"))
    }

    async fn stop_the_change(&self, why: &str) {
        tracing::error!(server = self.myid, reason = why, "rolling change: STOPPED; the lease stays held until {STOPPED_KEY} is deleted from the shared config");
        for _ in 0..5 {
            let stopped = self.update(|cfg| {
                cfg.unknown.insert(STOPPED_KEY.into(), why.to_string());
                true
            });
            if stopped.await.is_ok() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {}
