//! ZooKeeper membership in the shared config: registration by compare-and-swap and safe
//! first formation.
//!
//! A node registers itself in `servers-spec` with a conditional write (`If-None-Match: *` on a
//! new object, `If-Match: <etag>` otherwise); on a conflict it re-reads, re-applies and retries
//! with jittered backoff, so no registration is ever lost. A node is found in servers-spec by
//! its instance id first (`mesos-boot.instances`); an entry at its address recorded for
//! another instance is another server (EC2 reuses private addresses), never this one. New ids
//! are the highest id ever handed out plus one (`mesos-boot.last-server-id`); past 255 an id
//! is recycled only when no listed member, no member of the running ensemble and no recorded
//! instance holds it.
//! The ensemble size is one fact: the first registrant records it (`mesos-boot.ensemble-size`)
//! and every node uses that value. Formation: no node starts ZooKeeper for a new ensemble
//! until the config lists that many members; then all start with the same full membership, so
//! one ensemble forms. A node that gives up before starting ZooKeeper takes its registration
//! back; while no ensemble is live, a waiting node removes registrants whose instances are gone.
//! A full ensemble makes a new node wait (until a dead member is removed, or the deadline).
//! Each member's instance id is kept in `mesos-boot.instances` (for the liveness checks of
//! `reconcile`), and instances removed as dead in `mesos-boot.removed`: they never rejoin.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::cloud::instances::Aws;
use crate::failure::{Failure, Kind, Result};
use crate::retry::{self, Attempt};
use crate::store::{Server, ServerKind, SharedConfig, Snapshot, Store, StoreError};
use crate::zk::admin::{self, LiveConfig, Probe};

/// Key (kept among unknown keys) holding the highest server id ever handed out.
pub const LAST_ID_KEY: &str = "mesos-boot.last-server-id";
/// Key holding `id:instance-id` for every member mesos-boot registered.
pub const INSTANCES_KEY: &str = "mesos-boot.instances";
/// Key holding the instance ids removed from the ensemble as dead (most recent last).
pub const REMOVED_KEY: &str = "mesos-boot.removed";
/// The backup set the next formation seeds from (`mesos-boot restore` sets it).
pub const RESTORE_KEY: &str = "mesos-boot.restore";
/// Key holding the ensemble size, recorded by the first registrant.
pub const SIZE_KEY: &str = "mesos-boot.ensemble-size";
/// Key set once an ensemble formed from this config (its time): a new node that finds no
/// member serving then waits for the ensemble instead of forming a second one.
pub const FORMED_KEY: &str = "mesos-boot.formed";
/// Key written, by a conditional write of the complete servers-spec, by the first registrant
/// that decides to form (its time): from then on the spec of the forming ensemble is frozen (no
/// registrant is swept or withdrawn), so no two registrants form from different specs.
pub const FORMING_KEY: &str = "mesos-boot.forming";
/// How many removed instance ids are remembered.
const REMOVED_KEPT: usize = 50;
/// The highest server id ZooKeeper accepts.
pub const MAX_ID: u32 = 255;

/// The recorded ensemble size ([`SIZE_KEY`]).
pub fn recorded_size(cfg: &SharedConfig) -> Option<u32> {
    cfg.unknown
        .get(SIZE_KEY)
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
}

/// Whether an ensemble ever formed from this config ([`FORMED_KEY`]).
pub fn formed(cfg: &SharedConfig) -> bool {
    cfg.unknown.contains_key(FORMED_KEY)
}

/// Whether a registrant committed to forming the first ensemble from this servers-spec
/// ([`FORMING_KEY`]) and it has not formed yet: the spec is frozen until [`FORMED_KEY`].
pub fn forming(cfg: &SharedConfig) -> bool {
    cfg.unknown.contains_key(FORMING_KEY) && !formed(cfg)
}

/// Marks the config as having formed an ensemble.
pub fn set_formed(cfg: &mut SharedConfig) {
    stamp(cfg, FORMED_KEY);
}

/// Sets marker `key` to the current time.
fn stamp(cfg: &mut SharedConfig, key: &str) {
    cfg.unknown.insert(
        key.into(),
        humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    );
}

/// Records `mesos-boot.formed` in `cfg` read at `version`, by a conditional write on behalf of
/// `host` (`ip`). `Ok(false)` when the marker is already there (nothing written); a conflict is
/// the caller's to retry from a fresh read.
pub async fn write_formed(
    store: &Store,
    cfg: &SharedConfig,
    version: &str,
    host: &str,
    ip: &str,
) -> std::result::Result<bool, StoreError> {
    if formed(cfg) {
        return Ok(false);
    }
    let mut cfg = cfg.clone();
    set_formed(&mut cfg);
    // A restore is done once its ensemble formed: the next formation must not seed again.
    cfg.unknown.remove(RESTORE_KEY);
    store
        .write(&cfg.to_properties(&comments(host, ip)), Some(version))
        .await?;
    Ok(true)
}

/// Number of voters (observers never count) in servers-spec.
pub fn voters(servers: &[Server]) -> usize {
    servers
        .iter()
        .filter(|s| s.kind == ServerKind::Standard)
        .count()
}

/// This node as the shared config lists it.
#[derive(Debug, Clone)]
pub struct Me {
    pub ip: String,
    pub hostname: String,
    pub instance_id: String,
    /// The server id of this node's ZooKeeper data, when it ran before: a member whose entry
    /// was lost re-registers with it (never with a new id over old data).
    pub local_id: Option<u32>,
    /// Joins as an observer (tag `mesos:zk-observer`): never a voter, never counted in the
    /// ensemble size, never part of a formation.
    pub observer: bool,
}

/// `id -> instance id` from [`INSTANCES_KEY`].
pub fn instances(cfg: &SharedConfig) -> std::collections::BTreeMap<u32, String> {
    cfg.unknown
        .get(INSTANCES_KEY)
        .map(|v| {
            v.split(',')
                .filter_map(|item| item.trim().split_once(':'))
                .filter_map(|(id, inst)| Some((id.parse().ok()?, inst.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn set_instances(cfg: &mut SharedConfig, map: &std::collections::BTreeMap<u32, String>) {
    let v: Vec<String> = map.iter().map(|(id, i)| format!("{id}:{i}")).collect();
    if v.is_empty() {
        cfg.unknown.remove(INSTANCES_KEY);
    } else {
        cfg.unknown.insert(INSTANCES_KEY.into(), v.join(","));
    }
}

/// Keeps only the instance records of servers `ids`.
pub fn keep_instances(cfg: &mut SharedConfig, ids: &[u32]) {
    let mut map = instances(cfg);
    map.retain(|id, _| ids.contains(id));
    set_instances(cfg, &map);
}

/// Instance ids removed as dead.
pub fn removed(cfg: &SharedConfig) -> Vec<String> {
    removed_entries(cfg).into_iter().map(|(_, i)| i).collect()
}

/// `(server id when recorded, instance id)` removed as dead. Entries are `id:instance`
/// (older configs: a bare `instance`).
pub fn removed_entries(cfg: &SharedConfig) -> Vec<(Option<u32>, String)> {
    cfg.unknown
        .get(REMOVED_KEY)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|e| match e.split_once(':') {
                    Some((id, inst)) => (id.parse().ok(), inst.to_string()),
                    None => (None, e.to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Takes server `id` out of servers-spec and the instance map; its instance (if known) joins
/// the removed list. Returns the removed instance id.
pub fn remove_member(
    cfg: &mut SharedConfig,
    id: u32,
) -> std::result::Result<Option<String>, String> {
    let instance = withdraw(cfg, id)?;
    if let Some(i) = &instance {
        let mut gone: Vec<String> = removed_entries(cfg)
            .into_iter()
            .filter(|(_, g)| g != i)
            .map(|(gid, g)| match gid {
                Some(gid) => format!("{gid}:{g}"),
                None => g,
            })
            .collect();
        gone.push(format!("{id}:{i}"));
        let skip = gone.len().saturating_sub(REMOVED_KEPT);
        cfg.unknown
            .insert(REMOVED_KEY.into(), gone[skip..].join(","));
    }
    Ok(instance)
}

/// Takes server `id` out of servers-spec and the instance map without marking its instance
/// removed (a registration taken back, or one whose instance never ran ZooKeeper).
pub fn withdraw(cfg: &mut SharedConfig, id: u32) -> std::result::Result<Option<String>, String> {
    let mut servers = cfg.servers().map_err(|e| e.to_string())?;
    servers.retain(|s| s.id != id);
    cfg.set_servers(&servers);
    let mut map = instances(cfg);
    let instance = map.remove(&id);
    set_instances(cfg, &map);
    Ok(instance)
}

/// The comment lines mesos-boot writes on top of the shared config.
pub fn comments(host: &str, ip: &str) -> Vec<String> {
    vec![
        format!("Auto-generated by mesos-boot {host} ({ip})"),
        humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    ]
}

impl Me {
    fn at(&self, s: &Server) -> bool {
        s.host == self.ip || s.host.eq_ignore_ascii_case(&self.hostname)
    }
}

/// What one look at the shared config says about this node.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Already listed with this id.
    Listed(u32),
    /// Not listed and there is room: register with this id.
    Register(u32),
    /// Not listed and the ensemble already has its size.
    Full(usize),
    /// This node's address is listed as server `id` of another instance (EC2 reused the
    /// address): wait until that server is removed, never take its id.
    Occupied { id: u32, instance: String },
    /// This instance was removed from the ensemble as dead: it must not rejoin.
    Removed,
}

/// Decides what to do with a config (pure, unit-tested). `size` is the ensemble size this
/// node would record if none is recorded yet; `live_ids` are the server ids of the running
/// ensemble's `/zookeeper/config`, when known (an id held there is never recycled).
pub fn plan(
    cfg: &SharedConfig,
    me: &Me,
    size: Option<u32>,
    live_ids: &[u32],
) -> std::result::Result<Plan, String> {
    let servers = cfg.servers().map_err(|e| e.to_string())?;
    let map = instances(cfg);
    if !me.instance_id.is_empty() {
        if let Some((id, _)) = map
            .iter()
            .find(|(id, inst)| **inst == me.instance_id && servers.iter().any(|s| s.id == **id))
        {
            return Ok(Plan::Listed(*id));
        }
    }
    if let Some(s) = servers.iter().find(|s| me.at(s)) {
        match map.get(&s.id) {
            Some(other) if !me.instance_id.is_empty() && *other != me.instance_id => {
                return Ok(Plan::Occupied {
                    id: s.id,
                    instance: other.clone(),
                })
            }
            _ => return Ok(Plan::Listed(s.id)),
        }
    }
    if !me.instance_id.is_empty() && removed(cfg).contains(&me.instance_id) {
        return Ok(Plan::Removed);
    }
    if let Some(id) = me.local_id {
        if !servers.iter().any(|s| s.id == id) && map.get(&id).is_none_or(|i| *i == me.instance_id)
        {
            return Ok(Plan::Register(id));
        }
    }
    let voters = voters(&servers);
    // Observers never count: one registers whatever the voters' number.
    let size = if me.observer { None } else { size };
    match recorded_size(cfg).filter(|_| !me.observer).or(size) {
        None if me.observer => {}
        Some(n) if voters >= n as usize => return Ok(Plan::Full(voters)),
        None => return Ok(Plan::Full(voters)),
        _ => {}
    }
    let next = servers
        .iter()
        .map(|s| s.id)
        .max()
        .unwrap_or(0)
        .max(last_id(cfg))
        + 1;
    if next <= MAX_ID {
        return Ok(Plan::Register(next));
    }
    // Every id was handed out once: recycle the lowest one nobody holds.
    let held = |id: u32| {
        servers.iter().any(|s| s.id == id) || map.contains_key(&id) || live_ids.contains(&id)
    };
    match (1..=MAX_ID).find(|id| !held(*id)) {
        Some(id) => Ok(Plan::Register(id)),
        None => Err(format!(
            "no ZooKeeper server id left: ids 1-{MAX_ID} are all held by listed or live members"
        )),
    }
}

/// What registration needs besides the store: who this node is, its view of the ensemble
/// size, and (on AWS) how to tell that a registrant's instance is gone.
pub struct Registrar<'a> {
    pub store: &'a Store,
    pub me: &'a Me,
    /// This node's view of the size (tag, or the group's desired capacity); recorded by the
    /// first voter of a spec with none ([`Registrar::list_me`]), and used to grow a running
    /// ensemble.
    pub size: Option<u32>,
    pub sweeper: &'a tokio::sync::Mutex<Sweeper>,
    pub deadline: Instant,
}

/// Live server ids of the ensemble the config lists, or why they cannot be known yet.
async fn live_of(cfg: &SharedConfig) -> std::result::Result<Option<LiveConfig>, String> {
    let servers = crate::zk::peer::ensemble_of(cfg).map_err(|f| f.message)?;
    if servers.is_empty() {
        return Ok(None);
    }
    match admin::probe(&servers).await {
        Probe::Live(l) => Ok(Some(l)),
        Probe::Down => Ok(None),
        Probe::Unsettled(why) => Err(why),
    }
}

/// The id an attempt chose for this node.
enum Chosen {
    /// Already listed with this instance: nothing to write.
    Listed(u32),
    /// To be written (a new id, or a listing adopted or grown).
    New(u32),
}

impl Registrar<'_> {
    /// Registers this node (or finds it already listed); returns its id, the config and its
    /// version after the write.
    pub async fn register(&self) -> Result<(u32, SharedConfig, Snapshot)> {
        let url = self.store.location().to_string();
        let got = retry::until(
            "registration",
            self.deadline,
            Duration::from_secs(2),
            || self.register_once(&url),
        )
        .await;
        got.map_err(|last| {
            last.unwrap_or_else(|| {
                Failure::unreachable(format!("{url}: no answer before the deadline"))
            })
        })
    }

    /// One registration attempt: read the shared config, choose this node's id, list it and
    /// write the config back on the version read.
    async fn register_once(&self, url: &str) -> Attempt<(u32, SharedConfig, Snapshot), Failure> {
        let (mut cfg, snap) = match read_config(self.store).await {
            Ok(Some(got)) => got,
            Ok(None) => (SharedConfig::default(), None),
            Err(a) => return a,
        };
        let id = match self.choose_id(url, &mut cfg, snap.as_ref()).await {
            Ok(Chosen::New(id)) => id,
            Ok(Chosen::Listed(id)) => {
                let snap = snap.expect("a listed node implies an object");
                return Attempt::Done((id, cfg, snap));
            }
            Err(a) => return a,
        };
        self.list_me(&mut cfg, id);
        let me = self.me;
        let text = cfg.to_properties(&comments(&me.hostname, &me.ip));
        match self
            .store
            .write(&text, snap.as_ref().map(|s| s.version.as_str()))
            .await
        {
            Ok(version) => {
                tracing::info!(id, host = %me.ip, spec = %cfg.get("servers-spec"), size = ?recorded_size(&cfg), "registered in servers-spec");
                Attempt::Done((id, cfg, Snapshot { text, version }))
            }
            Err(StoreError::Conflict(_)) => {
                tracing::info!("the shared config changed since it was read; re-reading");
                Attempt::Again(Failure::unreachable(format!(
                    "{url}: every registration attempt conflicted"
                )))
            }
            Err(e) if e.is_transient() => Attempt::Again(Failure::unreachable(e.to_string())),
            Err(e) => Attempt::Fail(Failure::bad_input(e.to_string())),
        }
    }

    /// This node's id in `cfg`, which it may change (an Exhibitor-era entry adopted, the
    /// ensemble grown); or what the attempt ends with instead.
    async fn choose_id(
        &self,
        url: &str,
        cfg: &mut SharedConfig,
        snap: Option<&Snapshot>,
    ) -> std::result::Result<Chosen, Attempt<(u32, SharedConfig, Snapshot), Failure>> {
        let me = self.me;
        let mut planned = plan(cfg, me, self.size, &[]);
        if let Ok(Plan::Register(id)) = planned {
            if id <= last_id(cfg) {
                // A recycled id: never one the running ensemble still holds.
                match live_of(cfg).await {
                    Ok(live) => {
                        let ids: Vec<u32> = live
                            .iter()
                            .flat_map(|l| l.members.iter().map(|m| m.id))
                            .collect();
                        planned = plan(cfg, me, self.size, &ids);
                    }
                    Err(why) => {
                        return Err(Attempt::Again(Failure::no_quorum(format!(
                            "{url}: recycling a server id needs the running membership: {why}"
                        ))))
                    }
                }
            }
        }
        match planned {
            Err(e) => Err(Attempt::Fail(Failure::bad_input(format!("{url}: {e}")))),
            Ok(Plan::Listed(id)) => {
                let mut map = instances(cfg);
                if me.instance_id.is_empty() || map.get(&id) == Some(&me.instance_id) {
                    return Ok(Chosen::Listed(id));
                }
                // Listed by address with no instance recorded (an Exhibitor-era entry): ours.
                map.insert(id, me.instance_id.clone());
                set_instances(cfg, &map);
                Ok(Chosen::New(id))
            }
            Ok(Plan::Removed) => Err(Attempt::Fail(Failure::bad_input(format!(
                "{url}: instance {} was removed from the ensemble as dead (key {REMOVED_KEY}); \
                 it must not rejoin: terminate it and let the ASG launch a replacement",
                me.instance_id
            )))),
            Ok(Plan::Occupied { id, instance }) => {
                tracing::info!(server = id, %instance, address = %me.ip, "this address is still listed for another instance (EC2 reused it); waiting until that server is removed");
                self.sweep_when_no_ensemble(cfg, snap).await;
                Err(Attempt::Again(Failure::bad_input(format!(
                    "{url}: address {} is listed as server.{id} of instance {instance}, which must be removed first",
                    me.ip
                ))))
            }
            Ok(Plan::Full(n)) => self.when_full(url, cfg, snap, n).await.map(Chosen::New),
            Ok(Plan::Register(id)) => Ok(Chosen::New(id)),
        }
    }

    /// The ensemble has `n` voters and this node is not one: grow a running ensemble when this
    /// node's size is larger than the recorded one, else wait for room (with a size) or give
    /// up (without one).
    async fn when_full(
        &self,
        url: &str,
        cfg: &mut SharedConfig,
        snap: Option<&Snapshot>,
        n: usize,
    ) -> std::result::Result<u32, Attempt<(u32, SharedConfig, Snapshot), Failure>> {
        let me = self.me;
        let recorded = recorded_size(cfg);
        let grow = match (self.size, recorded) {
            (Some(mine), Some(rec)) if mine > rec && mine as usize > n => {
                // Growth: only into a running ensemble (a new one forms at the recorded size,
                // whatever a late node's view says).
                matches!(live_of(cfg).await, Ok(Some(_)))
            }
            _ => false,
        };
        if grow {
            let mine = self.size.unwrap_or_default();
            tracing::info!(from = ?recorded, to = mine, "the running ensemble is at its recorded size; this node's view is larger: growing");
            cfg.unknown.insert(SIZE_KEY.into(), mine.to_string());
            return match plan(cfg, me, self.size, &[]) {
                Ok(Plan::Register(id)) => Ok(id),
                _ => Err(Attempt::Again(Failure::bad_input(format!(
                    "{url}: no room after growing"
                )))),
            };
        }
        self.sweep_when_no_ensemble(cfg, snap).await;
        let size = recorded.or(self.size);
        let f = Failure::bad_input(format!(
            "{url}: this node ({} / {}) is not listed and the ensemble already has {n} voters{}",
            me.ip,
            me.hostname,
            if size.is_none() {
                " (set mesos:ensemble-size to let new nodes register)"
            } else {
                ""
            }
        ));
        // With a size, room comes when the survivors remove a dead member (mesos-boot serve);
        // without one it never comes.
        Err(if size.is_some() {
            Attempt::Again(f)
        } else {
            Attempt::Fail(f)
        })
    }

    /// Lists this node as server `id` (with its instance), and records the last id and, for
    /// the first voter, the ensemble's size. The first voter of a spec with no voter (a new
    /// cluster, every registrant withdrawn, a restore) records its own size even over one
    /// recorded before: nobody waits on the old one, which may be a wrong first view or an
    /// ensemble that was scaled in.
    fn list_me(&self, cfg: &mut SharedConfig, id: u32) {
        let me = self.me;
        let mut servers = cfg.servers().unwrap_or_default();
        let first_voter = !me.observer && voters(&servers) == 0 && !formed(cfg);
        if let (true, Some(n)) = (first_voter, self.size) {
            if let Some(old) = recorded_size(cfg).filter(|old| *old != n) {
                tracing::info!(recorded = old, size = n, "the first registrant records the ensemble size anew (nobody waits on the old one)");
            }
            cfg.unknown.insert(SIZE_KEY.into(), n.to_string());
        }
        if !servers.iter().any(|s| s.id == id) {
            servers.push(Server {
                id,
                host: me.ip.clone(),
                kind: if me.observer {
                    ServerKind::Observer
                } else {
                    ServerKind::Standard
                },
            });
            cfg.set_servers(&servers);
            let last = last_id(cfg);
            cfg.unknown
                .insert(LAST_ID_KEY.into(), last.max(id).to_string());
        }
        if recorded_size(cfg).is_none() && !me.observer {
            if let Some(n) = self.size {
                cfg.unknown.insert(SIZE_KEY.into(), n.to_string());
            }
        }
        if !me.instance_id.is_empty() {
            let mut map = instances(cfg);
            map.insert(id, me.instance_id.clone());
            set_instances(cfg, &map);
        }
    }

    /// How often a registrant re-reads the shared config while waiting for the others: every
    /// 250 ms (with jitter, at most 8 GETs per second per node) for an ensemble of up to 5,
    /// slower for larger ones so that all registrants together stay near 20 GETs per second
    /// (50 registrants: every 2.5 s); only until the ensemble is complete (bench/boot.rs prints
    /// the S3 requests per node per second of a whole boot).
    pub fn members_poll(expected: u32) -> Duration {
        Duration::from_millis(250) * expected.div_ceil(5).max(1)
    }

    /// Waits until the config lists the recorded number of voters (first formation); returns
    /// that config, or the running ensemble's membership when one turns out to be live
    /// (`Ok(Err(live))`: join it instead). Meanwhile, registrants whose instance is gone are
    /// removed (no ensemble is live to do it).
    ///
    /// A registrant no longer listed as `myid` (removed meanwhile by another registrant that
    /// found its instance gone) gives up at once instead of waiting on a count it is not part
    /// of: the boot fails and the group replaces the instance.
    pub async fn wait_for_members(
        &self,
        myid: u32,
        expected: u32,
    ) -> Result<std::result::Result<(SharedConfig, Snapshot), LiveConfig>> {
        let url = self.store.location().to_string();
        let got = retry::until(
            "ensemble members",
            self.deadline,
            Self::members_poll(expected),
            || async {
                let (cfg, snap) = match read_config(self.store).await {
                    Ok(Some((cfg, Some(snap)))) => (cfg, snap),
                    Ok(_) => {
                        return Attempt::Again(Failure::unreachable(format!(
                            "{url} does not exist"
                        )))
                    }
                    Err(a) => return a,
                };
                let servers = cfg.servers().unwrap_or_default();
                if !servers.iter().any(|s| s.id == myid && self.me.at(s)) {
                    return Attempt::Fail(Failure::no_quorum(format!(
                        "{url}: this node ({}) is no longer listed as server.{myid} in servers-spec ({}): \
                         it was removed while the members registered",
                        self.me.ip,
                        cfg.get("servers-spec")
                    )));
                }
                let expected = recorded_size(&cfg).unwrap_or(expected);
                let voters = voters(&servers);
                if forming(&cfg) && voters >= expected as usize {
                    // Another registrant committed this spec: form with exactly it.
                    return Attempt::Done(Ok((cfg, snap)));
                }
                if voters >= expected as usize {
                    // Never start a new ensemble with a registrant whose instance is gone.
                    if self.sweep(&cfg, &snap, true).await {
                        return Attempt::Again(Failure::no_quorum(format!(
                            "{url}: a registrant's instance is gone (or EC2 cannot tell yet); waiting until it is removed"
                        )));
                    }
                    // Commit the spec (conditional on the version read): a registrant removed
                    // or withdrawn meanwhile makes this fail, and the next look decides again.
                    let mut next = cfg.clone();
                    stamp(&mut next, FORMING_KEY);
                    let text = next.to_properties(&comments(&self.me.hostname, &self.me.ip));
                    return match self.store.write(&text, Some(&snap.version)).await {
                        Ok(version) => {
                            tracing::info!(spec = %next.get("servers-spec"), "committed the servers-spec of the new ensemble");
                            Attempt::Done(Ok((next, Snapshot { text, version })))
                        }
                        Err(e) => Attempt::Again(Failure::unreachable(format!(
                            "{url}: committing the new ensemble's servers-spec: {e}; looking again"
                        ))),
                    };
                }
                // Keep probing: a member may have formed (or been running) meanwhile.
                match live_of(&cfg).await {
                    Ok(Some(live)) => return Attempt::Done(Err(live)),
                    Ok(None) => {
                        self.sweep(&cfg, &snap, false).await;
                    }
                    Err(_) => {}
                }
                Attempt::Again(Failure::no_quorum(format!(
                    "{url}: {voters} of {expected} ZooKeeper members registered"
                )))
            },
        )
        .await;
        got.map_err(|last| {
            let f = last.unwrap_or_else(|| {
                Failure::new(
                    Kind::NoQuorum,
                    format!("{url}: no answer before the deadline"),
                )
            });
            Failure::new(f.kind, format!("{} (gave up at the deadline)", f.message))
        })
    }

    /// Takes this node's registration back (it gives up before starting ZooKeeper), by a
    /// conditional write; best effort, logged.
    pub async fn withdraw(&self, id: u32) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let got = retry::until(
            "withdrawing the registration",
            deadline,
            Duration::from_secs(2),
            || async {
                let (mut cfg, snap) = match read_config::<bool>(self.store).await {
                    Ok(Some((cfg, Some(snap)))) => (cfg, snap),
                    Ok(_) => return Attempt::Done(false),
                    Err(Attempt::Fail(f) | Attempt::Again(f)) => return Attempt::Again(f.message),
                    Err(Attempt::Done(_)) => unreachable!(),
                };
                let mine = cfg.servers().unwrap_or_default().iter().any(|s| s.id == id)
                    && instances(&cfg)
                        .get(&id)
                        .is_none_or(|i| *i == self.me.instance_id);
                if !mine {
                    return Attempt::Done(false);
                }
                if forming(&cfg) {
                    // The others form with this node listed; serve removes it once it is gone.
                    tracing::info!(
                        server = id,
                        "the ensemble's spec is committed; the registration stays"
                    );
                    return Attempt::Done(false);
                }
                if let Err(e) = withdraw(&mut cfg, id) {
                    return Attempt::Again(e);
                }
                let text = cfg.to_properties(&comments(&self.me.hostname, &self.me.ip));
                match self.store.write(&text, Some(&snap.version)).await {
                    Ok(_) => Attempt::Done(true),
                    Err(e) => Attempt::Again(e.to_string()),
                }
            },
        )
        .await;
        match got {
            Ok(true) => tracing::info!(
                server = id,
                "gave up before starting ZooKeeper: took this node's registration back"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(server = id, error = %e.unwrap_or_default(), "could not take this node's registration back")
            }
        }
    }

    async fn sweep_when_no_ensemble(&self, cfg: &SharedConfig, snap: Option<&Snapshot>) {
        if let (Some(snap), Ok(None)) = (snap, live_of(cfg).await) {
            self.sweep(cfg, snap, false).await;
        }
    }

    /// While no ensemble is live: removes registrants whose instance has been gone for longer
    /// than the grace period (one conditional write; a conflict waits for the next look).
    /// Whether any registrant looks gone (removed now, or still within the grace).
    ///
    /// A committed spec ([`FORMING_KEY`]) is formed as it is (its dead members are `serve`'s to
    /// remove), unless every one of its registrants is gone: that formation failed for good
    /// (blocked ports, a bad setting, every registrant abandoned), and the spec is opened again
    /// so that new nodes can form.
    async fn sweep(&self, cfg: &SharedConfig, snap: &Snapshot, fresh: bool) -> bool {
        let mut sweeper = self.sweeper.lock().await;
        let (gone, pending) = sweeper.gone(cfg, self.me, fresh).await;
        let mut cfg = cfg.clone();
        if forming(&cfg) {
            let listed = cfg.servers().map(|s| s.len()).unwrap_or(0);
            if listed == 0 || gone.len() < listed {
                return false;
            }
            cfg.unknown.remove(FORMING_KEY);
            tracing::warn!(registrants = listed, "membership: every registrant of the committed formation is gone (it never formed): opening the spec again");
        }
        if gone.is_empty() {
            return pending;
        }
        for (id, why) in &gone {
            if let Err(e) = withdraw(&mut cfg, *id) {
                tracing::warn!(error = %e, "membership: cannot remove a dead registrant");
                return true;
            }
            tracing::info!(server = id, reason = %why, "membership: removing a registrant whose instance is gone (no ensemble is live)");
        }
        let text = cfg.to_properties(&comments(&self.me.hostname, &self.me.ip));
        match self.store.write(&text, Some(&snap.version)).await {
            Ok(_) => {
                tracing::info!(spec = %cfg.get("servers-spec"), "membership: dead registrants removed")
            }
            Err(e) => {
                tracing::info!(error = %e, "membership: the shared config changed meanwhile; looking again")
            }
        }
        true
    }
}

/// Tells registrants whose instance is gone (EC2 or the group says so) for longer than the
/// grace period. Without AWS (a file store) nobody is ever judged gone.
pub struct Sweeper {
    aws: Option<(Aws, Option<String>)>,
    grace: Duration,
    first_gone: std::collections::HashMap<(u32, String), Instant>,
    /// When AWS was last asked, and what it said (looks are frequent; AWS is asked at most
    /// every [`Sweeper::every`]).
    last: Option<(Instant, bool)>,
    started: Instant,
}

impl Sweeper {
    pub fn new(aws: Option<(Aws, Option<String>)>, grace: Duration) -> Self {
        Sweeper {
            aws,
            grace,
            first_gone: Default::default(),
            last: None,
            started: Instant::now(),
        }
    }

    /// How often AWS is asked: a tenth of the grace, between 1 s and 10 s.
    fn every(&self) -> Duration {
        (self.grace / 10).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }

    /// Registrants gone past the grace (with why), and whether others look gone within it.
    /// `fresh`: ask AWS now (a formation is about to start).
    async fn gone(
        &mut self,
        cfg: &SharedConfig,
        me: &Me,
        fresh: bool,
    ) -> (Vec<(u32, String)>, bool) {
        let now = Instant::now();
        if !fresh && now - self.started < self.every() {
            return (Vec::new(), false);
        }
        if let Some((at, pending)) = &self.last {
            if !fresh && now - *at < self.every() {
                // What AWS said a moment ago; removals happen only on a fresh answer.
                return (Vec::new(), *pending);
            }
        }
        let got = self.ask(cfg, me, fresh).await;
        self.last = Some((now, got.1));
        got
    }

    /// `fresh`: a formation is about to start, so an AWS that cannot answer holds it back
    /// (a registrant that may be gone never goes into a new ensemble); otherwise nothing is
    /// removed and nothing held.
    async fn ask(
        &mut self,
        cfg: &SharedConfig,
        me: &Me,
        fresh: bool,
    ) -> (Vec<(u32, String)>, bool) {
        let Some((aws, group)) = &self.aws else {
            return (Vec::new(), false);
        };
        let servers = cfg.servers().unwrap_or_default();
        let known: Vec<(u32, String)> = instances(cfg)
            .into_iter()
            .filter(|(id, i)| *i != me.instance_id && servers.iter().any(|s| s.id == *id))
            .collect();
        if known.is_empty() {
            return (Vec::new(), false);
        }
        let ids: Vec<String> = known.iter().map(|(_, i)| i.clone()).collect();
        let gone = match aws.gone(&ids, group.as_deref()).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, formation = fresh, "membership: cannot tell whether registrants are gone");
                return (Vec::new(), fresh);
            }
        };
        let mut pending = false;
        let now = Instant::now();
        self.first_gone.retain(|(_, i), _| gone.contains_key(i));
        let mut out = Vec::new();
        for (id, inst) in known {
            if let Some(why) = gone.get(&inst) {
                let since = *self.first_gone.entry((id, inst.clone())).or_insert(now);
                if now - since >= self.grace {
                    out.push((
                        id,
                        format!("instance {inst}: {why}, for {}s", (now - since).as_secs()),
                    ));
                } else {
                    // EC2 not knowing an id may be its eventual consistency (a launch seconds
                    // ago): only a known end (terminated, shutting down, leaving its group)
                    // holds a formation back before the grace has passed.
                    pending |= !why.starts_with(crate::cloud::instances::UNKNOWN_TO_EC2);
                    tracing::info!(server = id, instance = %inst, reason = %why, "membership: registrant looks gone; waiting out the grace period");
                }
            }
        }
        (out, pending)
    }
}

fn last_id(cfg: &SharedConfig) -> u32 {
    cfg.unknown
        .get(LAST_ID_KEY)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// One read of the config: `Ok(None)` when the object does not exist and never did (a new
/// cluster); a missing object with earlier versions is waited out, never taken as new.
pub(crate) async fn read_config<T>(
    store: &Store,
) -> std::result::Result<Option<(SharedConfig, Option<Snapshot>)>, Attempt<T, Failure>> {
    let url = store.location().to_string();
    match store.read().await {
        Ok(Some(snap)) => match SharedConfig::parse(&snap.text) {
            Ok(cfg) => Ok(Some((cfg, Some(snap)))),
            Err(e) => Err(Attempt::Fail(Failure::bad_input(format!("{url}: {e}")))),
        },
        Ok(None) => match store.history().await {
            Ok(0) => Ok(None),
            Ok(n) => {
                tracing::warn!(%url, versions = n, "the shared config is missing but the key has earlier versions: the cluster is not new; waiting for a member's `serve` to restore it");
                Err(Attempt::Again(Failure::unreachable(format!(
                    "{url} is missing but has {n} earlier version(s) or delete marker(s): the cluster is not new, so no new ensemble is started; a running member's `mesos-boot serve` restores the object"
                ))))
            }
            Err(e) if e.is_transient() => Err(Attempt::Again(Failure::unreachable(e.to_string()))),
            Err(e) => Err(Attempt::Fail(Failure::bad_input(e.to_string()))),
        },
        Err(e) if e.is_transient() => Err(Attempt::Again(Failure::unreachable(e.to_string()))),
        Err(e) => Err(Attempt::Fail(Failure::bad_input(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(ip: &str) -> Me {
        Me {
            ip: ip.into(),
            hostname: format!("host-{ip}"),
            instance_id: format!("i-{}", ip.replace('.', "")),
            local_id: None,
            observer: false,
        }
    }

    #[test]
    fn plans() {
        let cfg =
            SharedConfig::parse("com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:host-10.0.0.2\n")
                .unwrap();
        assert_eq!(
            plan(&cfg, &me("10.0.0.1"), Some(3), &[]),
            Ok(Plan::Listed(1))
        );
        assert_eq!(
            plan(&cfg, &me("10.0.0.2"), Some(3), &[]),
            Ok(Plan::Listed(2)),
            "by hostname"
        );
        assert_eq!(
            plan(&cfg, &me("10.0.0.3"), Some(3), &[]),
            Ok(Plan::Register(3))
        );
        assert_eq!(plan(&cfg, &me("10.0.0.3"), Some(2), &[]), Ok(Plan::Full(2)));
        assert_eq!(plan(&cfg, &me("10.0.0.3"), None, &[]), Ok(Plan::Full(2)));
        assert_eq!(
            plan(&SharedConfig::default(), &me("10.0.0.9"), Some(3), &[]),
            Ok(Plan::Register(1))
        );
    }

    #[test]
    fn a_removed_instance_does_not_rejoin() {
        let mut cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:10.0.0.2\n\
             mesos-boot.instances=1:i-1001,2:i-1002\n",
        )
        .unwrap();
        assert_eq!(
            remove_member(&mut cfg, 2).unwrap().as_deref(),
            Some("i-1002")
        );
        assert_eq!(cfg.get("servers-spec"), "1:10.0.0.1");
        assert_eq!(
            instances(&cfg).into_iter().collect::<Vec<_>>(),
            vec![(1, "i-1001".to_string())]
        );
        assert_eq!(removed(&cfg), vec!["i-1002".to_string()]);
        let back = Me {
            ip: "10.0.0.9".into(),
            hostname: "h".into(),
            instance_id: "i-1002".into(),
            local_id: None,
            observer: false,
        };
        assert_eq!(plan(&cfg, &back, Some(3), &[]), Ok(Plan::Removed));
    }

    #[test]
    fn a_reused_address_is_another_server_and_instance_ids_come_first() {
        let cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:10.0.0.2,3:10.0.0.3\n\
             mesos-boot.instances=1:i-1,2:i-2,3:i-dead\n",
        )
        .unwrap();
        let new = Me {
            ip: "10.0.0.3".into(),
            hostname: "ip-10-0-0-3".into(),
            instance_id: "i-new".into(),
            local_id: None,
            observer: false,
        };
        assert_eq!(
            plan(&cfg, &new, Some(3), &[]),
            Ok(Plan::Occupied {
                id: 3,
                instance: "i-dead".into()
            })
        );
        // Found by instance id even when the address differs.
        let moved = Me {
            ip: "10.0.0.9".into(),
            hostname: "h".into(),
            instance_id: "i-2".into(),
            local_id: None,
            observer: false,
        };
        assert_eq!(plan(&cfg, &moved, Some(3), &[]), Ok(Plan::Listed(2)));
        // An Exhibitor-era entry (no instance recorded) is matched by address.
        let old = SharedConfig::parse("com.netflix.exhibitor.servers-spec=1:10.0.0.3\n").unwrap();
        assert_eq!(plan(&old, &new, Some(3), &[]), Ok(Plan::Listed(1)));
    }

    #[test]
    fn past_255_ids_are_recycled_only_when_nobody_holds_them() {
        let mut cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,3:10.0.0.3\n\
             mesos-boot.instances=1:i-1,3:i-3,4:i-4\n",
        )
        .unwrap();
        cfg.unknown.insert(LAST_ID_KEY.into(), "255".into());
        // 1 and 3 listed, 4 recorded for an instance, 2 still in the running ensemble.
        assert_eq!(
            plan(&cfg, &me("10.0.0.9"), Some(5), &[2]),
            Ok(Plan::Register(5))
        );
        assert_eq!(
            plan(&cfg, &me("10.0.0.9"), Some(5), &[]),
            Ok(Plan::Register(2))
        );
    }

    #[test]
    fn the_recorded_size_wins_over_this_nodes_view() {
        let mut cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:10.0.0.2,3:10.0.0.3\n",
        )
        .unwrap();
        cfg.unknown.insert(SIZE_KEY.into(), "3".into());
        assert_eq!(plan(&cfg, &me("10.0.0.4"), Some(5), &[]), Ok(Plan::Full(3)));
        // Observers never count as voters.
        let cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:10.0.0.2,O:3:10.0.0.3\n\
             mesos-boot.ensemble-size=3\n",
        )
        .unwrap();
        assert_eq!(
            plan(&cfg, &me("10.0.0.4"), None, &[]),
            Ok(Plan::Register(4))
        );
    }

    #[test]
    fn a_member_with_local_data_keeps_its_id() {
        let cfg = SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.0.1,2:10.0.0.2,3:10.0.0.3\n\
             mesos-boot.ensemble-size=3\nmesos-boot.last-server-id=7\n",
        )
        .unwrap();
        let mut back = me("10.0.0.9");
        back.local_id = Some(6);
        assert_eq!(plan(&cfg, &back, Some(3), &[]), Ok(Plan::Register(6)));
    }

    #[test]
    fn ids_are_never_reused() {
        let mut cfg =
            SharedConfig::parse("com.netflix.exhibitor.servers-spec=1:10.0.0.1\n").unwrap();
        cfg.unknown.insert(LAST_ID_KEY.into(), "7".into());
        assert_eq!(
            plan(&cfg, &me("10.0.0.3"), Some(3), &[]),
            Ok(Plan::Register(8))
        );
    }

    #[tokio::test]
    async fn concurrent_registrations_in_a_file_store_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exhibitor.properties");
        let store = Store::new(crate::store::Location::File { path }, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let sweeper = tokio::sync::Mutex::new(Sweeper::new(None, Duration::from_secs(60)));
                let me = me(&format!("10.0.1.{i}"));
                Registrar {
                    store: &store,
                    me: &me,
                    size: Some(20),
                    sweeper: &sweeper,
                    deadline,
                }
                .register()
                .await
                .map(|r| r.0)
            }));
        }
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap().unwrap());
        }
        ids.sort_unstable();
        assert_eq!(ids, (1..=20).collect::<Vec<_>>());
        let snap = store.read().await.unwrap().unwrap();
        let cfg = SharedConfig::parse(&snap.text).unwrap();
        assert_eq!(cfg.servers().unwrap().len(), 20);
        assert!(snap
            .text
            .starts_with("#Auto-generated by mesos-boot host-10.0.1."));
    }
}
