//! Membership reconciliation, run by `mesos-boot serve` on every ZooKeeper node at a jittered
//! interval: finds members whose instance is gone *and* whose ZooKeeper does not answer, and
//! removes them, first from servers-spec by a conditional write that re-checks the instance id
//! it decided on (so exactly one node acts per change, and a new instance at a reused address
//! is never taken for the dead one), then from the running ensemble by `reconfig` remove, and
//! only while the surviving voters keep a majority. A live member missing from servers-spec is
//! put back. A node that finds itself removed stops its ZooKeeper: a removed server must not
//! rejoin by itself. When the shared config is missing, a voter restores it from its newest
//! earlier version and the live membership (conditional create).
//!
//! `/zookeeper/config` is read without credentials; the superuser secret is sent only for
//! reconfig, and only to the current voters. A refused secret is read again (rotation).
//!
//! [`decide`] is the pure part (what the observations call for); [`Reconciler::pass`] observes
//! and acts, and logs every decision with its reason.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use crate::cloud::instances::Aws;
use crate::membership::register;
use crate::serve::divergence;
use crate::store::{Server, SharedConfig, Store, StoreError};
use crate::zk::admin::{self, LiveConfig};
use crate::zk::four_letter;
use crate::zk::secret::{self, Secret};

/// Whether server `id`'s ZooKeeper answers at `host`: `conf` on the client port names this
/// server (another id there is another server at a reused address), or says it is not serving
/// (something runs there: never judged dead); with no client answer, its election port
/// accepting a connection (a paused or electing server) counts as alive too.
async fn answers(id: u32, host: &str, ports: (u16, u16, u16)) -> bool {
    let (_, election, client) = ports;
    match four_letter::four_letter(&format!("{host}:{client}"), four_letter::FourLetter::Conf).await
    {
        Ok(conf) if !conf.trim().is_empty() => {
            match conf
                .lines()
                .find_map(|l| l.trim().strip_prefix("serverId="))
                .and_then(|v| v.trim().parse::<u32>().ok())
            {
                Some(sid) => sid == id,
                None => true,
            }
        }
        _ => {
            let addr = format!("{host}:{election}");
            matches!(
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                    .await,
                Ok(Ok(_))
            )
        }
    }
}

/// `/zookeeper/config` read without credentials through any of `hosts` (`None`: unreadable).
pub(crate) async fn live_config(hosts: &[String]) -> Option<LiveConfig> {
    let client = admin::connect_anonymous(&hosts.join(",")).await.ok()?;
    admin::get(&client).await.ok()
}

/// The ids of the members of `live` that serve (leader, follower or observer), asked on their
/// client `port`.
pub(crate) async fn serving_members(live: Option<&LiveConfig>, port: u16) -> BTreeSet<u32> {
    let Some(live) = live else {
        return BTreeSet::new();
    };
    four_letter::ensemble_state(&admin::peers(live, port))
        .await
        .servers
        .into_iter()
        .filter(|s| s.mode.serving())
        .map(|s| s.id)
        .collect()
}

/// What one pass saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub myid: u32,
    pub my_instance: String,
    /// servers-spec of the shared config.
    pub spec: Vec<Server>,
    /// Instances removed as dead (`mesos-boot.removed`).
    pub removed: Vec<String>,
    /// `/zookeeper/config`, when it could be read.
    pub live: Option<LiveConfig>,
    /// Ids of the live members that serve (leader or follower).
    pub serving: BTreeSet<u32>,
    /// Members whose instance is gone: for how long, and why.
    pub gone: BTreeMap<u32, (Duration, String)>,
    /// Members whose ZooKeeper answers at their address (as themselves): alive, whatever
    /// EC2 says.
    pub answering: BTreeSet<u32>,
    /// Server ids recorded as removed (`mesos-boot.removed`).
    pub removed_ids: BTreeSet<u32>,
}

/// What a pass should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Everything is as it should be.
    Nothing,
    /// Server `id` looks gone; it is removed once the grace period has passed.
    Wait { id: u32, reason: String },
    /// Remove server `id`.
    Remove { id: u32, reason: String },
    /// Server `id` should go, but removing it would leave the survivors without a majority.
    Hold { id: u32, reason: String },
    /// This node was removed from the ensemble: stop its ZooKeeper.
    StopSelf { reason: String },
    /// Server `id` serves in the running ensemble but servers-spec lost it: put it back.
    Restore { id: u32, reason: String },
}

/// The pure decision over one pass's observations.
pub fn decide(o: &Observed, grace: Duration) -> Decision {
    let in_spec = |id: u32| o.spec.iter().any(|s| s.id == id);
    if !in_spec(o.myid) {
        if !o.my_instance.is_empty() && o.removed.contains(&o.my_instance) {
            return Decision::StopSelf {
                reason: format!(
                    "instance {} was removed from the ensemble as dead ({})",
                    o.my_instance,
                    register::REMOVED_KEY
                ),
            };
        }
        return Decision::Nothing;
    }
    let gone_past_grace = |id: u32| o.gone.get(&id).is_some_and(|(d, _)| *d >= grace);
    // Candidates, lowest id first: live members no longer in servers-spec (a removal that
    // stopped between its two steps, or an entry lost), then listed members gone for longer
    // than the grace.
    let mut candidate = None;
    if let Some(live) = &o.live {
        for m in live
            .members
            .iter()
            .filter(|m| m.id != o.myid && !in_spec(m.id))
        {
            let removing = o.removed_ids.contains(&m.id);
            if o.answering.contains(&m.id) && !removing {
                return Decision::Restore {
                    id: m.id,
                    reason: format!(
                        "server.{} ({}) answers in the running ensemble but servers-spec lost it",
                        m.id, m.host
                    ),
                };
            }
            if removing || (gone_past_grace(m.id) && !o.answering.contains(&m.id)) {
                candidate = Some((
                    m.id,
                    "in the running ensemble but no longer in servers-spec, and dead".to_string(),
                ));
                break;
            }
        }
    }
    // A member held (it answers) or still within its grace does not keep the next one from
    // being looked at: the first of them is reported only when no member is to be removed.
    let mut first_not_yet = None;
    if candidate.is_none() {
        for (id, (for_how_long, why)) in &o.gone {
            if *id == o.myid || !in_spec(*id) {
                continue;
            }
            if o.answering.contains(id) {
                first_not_yet.get_or_insert(Decision::Hold {
                    id: *id,
                    reason: format!(
                        "{why}, but its ZooKeeper answers: a live voter is never removed"
                    ),
                });
                continue;
            }
            if *for_how_long < grace {
                first_not_yet.get_or_insert(Decision::Wait {
                    id: *id,
                    reason: format!(
                        "{why}, for {}s of the {}s grace period",
                        for_how_long.as_secs(),
                        grace.as_secs()
                    ),
                });
                continue;
            }
            candidate = Some((
                *id,
                format!(
                    "{why}, for {}s, and its ZooKeeper does not answer",
                    for_how_long.as_secs()
                ),
            ));
            break;
        }
    }
    let Some((id, reason)) = candidate else {
        return first_not_yet.unwrap_or(Decision::Nothing);
    };
    let Some(live) = &o.live else {
        return Decision::Hold {
            id,
            reason: format!("{reason}; /zookeeper/config could not be read"),
        };
    };
    let voters: Vec<u32> = live.voters().map(|m| m.id).collect();
    if voters.contains(&id) {
        let survivors = voters
            .iter()
            .filter(|v| **v != id && o.serving.contains(v))
            .count();
        if survivors * 2 <= voters.len() {
            return Decision::Hold {
                id,
                reason: format!(
                    "{reason}; only {survivors} of {} voters would remain serving, not a majority",
                    voters.len()
                ),
            };
        }
    }
    Decision::Remove { id, reason }
}

/// The last pass's outcome, shared with `serve`'s /metrics.
#[derive(Debug, Clone)]
pub struct LastPass {
    pub at: std::time::SystemTime,
    /// `nothing`, `wait`, `remove`, `hold`, `stop-self`, `restore`, or `skipped` (something
    /// needed could not be observed, or the pass ran past its deadline).
    pub outcome: &'static str,
}

/// Where the reconcile loop leaves its last outcome.
pub type LastPassCell = std::sync::Arc<std::sync::Mutex<Option<LastPass>>>;

impl Decision {
    /// The decision's name, for the last-pass record (its reason is in the log line).
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Nothing => "nothing",
            Decision::Wait { .. } => "wait",
            Decision::Remove { .. } => "remove",
            Decision::Hold { .. } => "hold",
            Decision::StopSelf { .. } => "stop-self",
            Decision::Restore { .. } => "restore",
        }
    }
}

/// How long one pass may take.
pub const PASS_DEADLINE: Duration = Duration::from_secs(120);

/// The reconcile loop's state.
pub struct Reconciler {
    pub store: Store,
    pub aws: Aws,
    /// The Auto Scaling group of the ZooKeeper nodes, when known.
    pub group: Option<String>,
    pub myid: u32,
    pub my_instance: String,
    pub grace: Duration,
    pub stop_command: String,
    pub root: std::path::PathBuf,
    /// This server's client address (where `/zookeeper/config` is read when the shared config
    /// is missing).
    pub local: String,
    /// When each member was first seen gone.
    first_gone: HashMap<u32, Instant>,
    secret: Option<Secret>,
    pub(super) stopped: bool,
    /// The last pass's outcome (read by `serve`).
    pub last: LastPassCell,
    /// Starts the local ZooKeeper again after a resynchronisation ([`divergence`]).
    pub start_command: String,
    /// How long a member may take to come back after a rolling change's restart.
    pub rolling_timeout: Duration,
}

impl Reconciler {
    /// The loop's state for `member`: a member gone for `grace` is removed; `stop_command`
    /// stops the local ZooKeeper (a removed member, a leave); `root` holds its files.
    pub fn new(
        member: &crate::serve::member::Member,
        grace: Duration,
        stop_command: String,
        root: std::path::PathBuf,
    ) -> Self {
        Reconciler {
            store: member.store.clone(),
            aws: Aws::new(&member.sdk),
            group: member.group.clone(),
            myid: member.myid,
            my_instance: member.instance.clone(),
            grace,
            stop_command,
            root,
            local: member.local.clone(),
            first_gone: HashMap::new(),
            secret: None,
            stopped: false,
            last: LastPassCell::default(),
            start_command: "systemctl start zookeeper.service".into(),
            rolling_timeout: Duration::from_secs(120),
        }
    }

    /// Starts the local ZooKeeper with `command` after a resynchronisation.
    pub fn restarting_with(mut self, command: String) -> Self {
        self.start_command = command;
        self
    }

    /// A follower whose tree diverged from the leader's (ZooKeeper's digest mismatches) is
    /// resynchronised, while every other voter serves ([`divergence`]). One log line per
    /// decision.
    pub(super) async fn repair_divergence(&self) {
        let Some(count) = divergence::mismatches(&self.local).await else {
            return;
        };
        if count == 0 {
            return;
        }
        let Ok(Some((cfg, _))) = self.read().await else {
            return;
        };
        let ensemble = crate::zk::peer::ensemble_of(&cfg).unwrap_or_default();
        let state = four_letter::ensemble_state(&ensemble).await;
        let mode = state
            .servers
            .iter()
            .find(|s| s.id == self.myid)
            .map_or(four_letter::Mode::Down, |s| s.mode);
        let others: Vec<_> = state
            .servers
            .iter()
            .filter(|s| s.voter && s.id != self.myid)
            .collect();
        let serving = others
            .iter()
            .filter(|s| {
                matches!(
                    s.mode,
                    four_letter::Mode::Leader | four_letter::Mode::Follower
                )
            })
            .count();
        match divergence::judge(count, mode, serving, others.len()) {
            divergence::Verdict::Consistent => {}
            divergence::Verdict::Wait(reason) => {
                tracing::warn!(
                    server = self.myid,
                    reason,
                    "divergence: not resynchronising yet"
                )
            }
            divergence::Verdict::Resync(reason) => {
                tracing::warn!(server = self.myid, reason, "divergence: resynchronising this follower from the leader (stop, move its data aside, start)");
                let addrs: Vec<String> = others.iter().map(|s| s.addr.clone()).collect();
                match divergence::resync(
                    &self.local,
                    &self.root,
                    &self.stop_command,
                    &self.start_command,
                    &addrs,
                    others.len() + 1,
                )
                .await
                {
                    Ok(moved) => {
                        tracing::warn!(server = self.myid, moved = ?moved, "divergence: ZooKeeper restarted empty; it takes a full snapshot from the leader")
                    }
                    Err(e) => {
                        tracing::error!(server = self.myid, error = %e, "divergence: resynchronisation failed")
                    }
                }
            }
        }
    }

    /// Leaves each pass's outcome in `cell` (for `serve`'s /metrics).
    pub fn reporting_to(mut self, cell: LastPassCell) -> Self {
        self.last = cell;
        self
    }

    pub(super) fn record(&self, outcome: &'static str) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastPass {
            at: std::time::SystemTime::now(),
            outcome,
        });
    }

    async fn secret(&mut self) -> Result<Secret, String> {
        if self.secret.is_none() {
            self.secret = Some(secret::read(&self.store).await?);
        }
        Ok(self.secret.clone().expect("just set"))
    }

    /// One look and, when called for, one action. `Err` when something needed could not be
    /// observed (then nothing is done).
    pub async fn pass(&mut self) -> Result<Decision, String> {
        let (cfg, _) = match self.read().await? {
            Some(got) => got,
            None => {
                self.restore().await?;
                return Ok(Decision::Nothing);
            }
        };
        let spec = cfg.servers().map_err(|e| e.to_string())?;
        let port = cfg.client_port().map_err(|e| e.to_string())?;
        let all_hosts: Vec<String> = spec.iter().map(|s| format!("{}:{port}", s.host)).collect();
        // /zookeeper/config first, servers-spec again after: a server is registered in
        // servers-spec before it is added, so a member seen live is then seen in the spec.
        let live = live_config(&all_hosts).await;
        let (cfg, version) = self
            .read()
            .await?
            .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let spec = cfg.servers().map_err(|e| e.to_string())?;
        let serving = serving_members(live.as_ref(), port).await;
        if let Some(l) = &live {
            if !register::formed(&cfg) && l.voters().any(|m| m.id == self.myid) {
                self.mark_formed(&cfg, &version).await;
            }
        }
        // Every member but this one: those of servers-spec, and those only the running
        // ensemble lists (an entry deleted, a removal stopped between its steps).
        let mut members: Vec<(u32, String)> = spec.iter().map(|s| (s.id, s.host.clone())).collect();
        if let Some(l) = &live {
            for m in &l.members {
                if !members.iter().any(|(id, _)| *id == m.id) {
                    members.push((m.id, m.host.clone()));
                }
            }
        }
        let gone = self.gone(&cfg, &members).await?;
        // Who answers as themselves: every member that looks gone, and every live member
        // missing from servers-spec.
        let mut to_check: BTreeMap<u32, String> = BTreeMap::new();
        for id in gone.keys() {
            if let Some(s) = spec.iter().find(|s| s.id == *id) {
                to_check.insert(*id, s.host.clone());
            }
        }
        if let Some(l) = &live {
            for m in l
                .members
                .iter()
                .filter(|m| !spec.iter().any(|s| s.id == m.id))
            {
                to_check.insert(m.id, m.host.clone());
            }
        }
        let (q, e) = (
            cfg.connect_port().map_err(|e| e.to_string())?,
            cfg.election_port().map_err(|e| e.to_string())?,
        );
        let mut answering = BTreeSet::new();
        for (id, host) in &to_check {
            if answers(*id, host, (q, e, port)).await {
                answering.insert(*id);
            }
        }
        let removed_ids = register::removed_entries(&cfg)
            .into_iter()
            .filter_map(|(id, _)| id)
            .collect();
        let observed = Observed {
            myid: self.myid,
            my_instance: self.my_instance.clone(),
            removed: register::removed(&cfg),
            spec,
            live,
            serving,
            gone,
            answering,
            removed_ids,
        };
        let decision = decide(&observed, self.grace);
        match &decision {
            Decision::Nothing => tracing::debug!("membership: nothing to do"),
            Decision::Wait { id, reason } => {
                tracing::info!(
                    server = id,
                    reason,
                    "membership: member looks dead; waiting out the grace period"
                )
            }
            Decision::Hold { id, reason } => {
                tracing::warn!(server = id, reason, "membership: not removing a member")
            }
            Decision::Remove { id, reason } => {
                tracing::info!(server = id, reason, "membership: removing a dead member");
                let instance = register::instances(&cfg).get(id).cloned();
                if let Err(e) = self.remove(*id, instance, &observed, port).await {
                    if admin::refused_secret(&e) {
                        tracing::warn!("membership: ZooKeeper refused the superuser secret; reading it again (rotation?)");
                        self.secret = None;
                    }
                    return Err(e);
                }
            }
            Decision::Restore { id, reason } => {
                tracing::warn!(
                    server = id,
                    reason,
                    "membership: putting a live member back into servers-spec"
                );
                self.put_back(*id, &observed).await?;
            }
            Decision::StopSelf { reason } => {
                if !self.stopped {
                    tracing::error!(reason, command = %self.stop_command, "membership: this server was removed; stopping ZooKeeper so that it does not rejoin");
                    self.stop().await?;
                    self.stopped = true;
                }
            }
        }
        Ok(decision)
    }

    async fn mark_formed(&self, cfg: &SharedConfig, version: &str) {
        let host = format!("server.{}", self.myid);
        match register::write_formed(&self.store, cfg, version, &host, &self.local).await {
            Ok(true) => tracing::info!(
                key = register::FORMED_KEY,
                "membership: recorded that the ensemble formed"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::debug!(error = %e, "membership: could not record that the ensemble formed; next pass")
            }
        }
    }

    /// The shared config is missing: a voter restores it from its newest earlier version with
    /// the live membership, by a create-only write (one member wins).
    async fn restore(&mut self) -> Result<(), String> {
        let client = admin::connect_anonymous(&self.local).await.map_err(|e| {
            format!(
                "the shared config is missing and {} does not answer: {e}",
                self.local
            )
        })?;
        let live = admin::get(&client).await?;
        if !live.voters().any(|m| m.id == self.myid) {
            return Err(format!(
                "{} is missing; server.{} is not a voter, so it leaves the restore to one",
                self.store.location(),
                self.myid
            ));
        }
        let versions = self.store.versions().await.map_err(|e| e.to_string())?;
        let mut base = None;
        for v in versions.iter().filter(|v| !v.deleted) {
            match self.store.read_version(&v.id).await {
                Ok(text) => match SharedConfig::parse(&text) {
                    Ok(cfg) => {
                        base = Some((v.id.clone(), cfg));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(version = %v.id, error = %e, "membership: earlier version unusable")
                    }
                },
                Err(e) => {
                    tracing::warn!(version = %v.id, error = %e, "membership: earlier version unreadable")
                }
            }
        }
        let (from, mut cfg) = match base {
            Some((id, cfg)) => (id, cfg),
            None => {
                tracing::warn!("membership: no earlier version of the shared config is readable; restoring the membership with default settings");
                ("none".to_string(), SharedConfig::default())
            }
        };
        let servers: Vec<Server> = live
            .members
            .iter()
            .map(|m| Server {
                id: m.id,
                host: m.host.clone(),
                kind: if m.participant {
                    crate::store::ServerKind::Standard
                } else {
                    crate::store::ServerKind::Observer
                },
            })
            .collect();
        cfg.set_servers(&servers);
        register::keep_instances(&mut cfg, &servers.iter().map(|s| s.id).collect::<Vec<_>>());
        register::set_formed(&mut cfg);
        let text = cfg.to_properties(&register::comments(
            &format!("server.{}", self.myid),
            &self.local,
        ));
        match self.store.write(&text, None).await {
            Ok(_) => {
                tracing::warn!(from_version = %from, spec = %cfg.get("servers-spec"), live_version = %live.version, "membership: the shared config was missing; restored it from the live membership");
                Ok(())
            }
            Err(StoreError::Conflict(_)) => {
                tracing::info!("membership: another member restored the shared config first");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Puts live member `id` back into servers-spec (its address from `/zookeeper/config`).
    async fn put_back(&mut self, id: u32, o: &Observed) -> Result<(), String> {
        let Some(m) = o.live.as_ref().and_then(|l| l.member(id)) else {
            return Ok(());
        };
        let (mut cfg, version) = self
            .read()
            .await?
            .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let mut servers = cfg.servers().map_err(|e| e.to_string())?;
        if servers.iter().any(|s| s.id == id) {
            return Ok(());
        }
        servers.push(Server {
            id,
            host: m.host.clone(),
            kind: if m.participant {
                crate::store::ServerKind::Standard
            } else {
                crate::store::ServerKind::Observer
            },
        });
        servers.sort_by_key(|s| s.id);
        cfg.set_servers(&servers);
        let (host, ip) = self.whoami(o);
        let text = cfg.to_properties(&register::comments(&host, &ip));
        match self.store.write(&text, Some(&version)).await {
            Ok(_) => {
                tracing::info!(server = id, spec = %cfg.get("servers-spec"), "membership: put back into servers-spec");
                Ok(())
            }
            Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(crate) async fn read(&self) -> Result<Option<(SharedConfig, String)>, String> {
        let Some(snap) = self.store.read().await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let cfg = SharedConfig::parse(&snap.text)
            .map_err(|e| format!("{}: {e}", self.store.location()))?;
        Ok(Some((cfg, snap.version)))
    }

    /// Which of `members` (`(id, host)`; this one skipped) have an instance that is gone,
    /// with for how long: the instance recorded for the id, else the one at its address.
    async fn gone(
        &mut self,
        cfg: &SharedConfig,
        members: &[(u32, String)],
    ) -> Result<BTreeMap<u32, (Duration, String)>, String> {
        let known = register::instances(cfg);
        let mut by_instance: BTreeMap<String, u32> = BTreeMap::new();
        let mut gone_now: BTreeMap<u32, String> = BTreeMap::new();
        for (id, host) in members.iter().filter(|(id, _)| *id != self.myid) {
            match known.get(id) {
                Some(i) => {
                    by_instance.insert(i.clone(), *id);
                }
                None => match self.aws.instance_at(host).await? {
                    Some(i) => {
                        by_instance.insert(i, *id);
                    }
                    None => {
                        gone_now.insert(*id, format!("no instance has address {host}"));
                    }
                },
            }
        }
        let ids: Vec<String> = by_instance.keys().cloned().collect();
        for (instance, why) in self.aws.gone(&ids, self.group.as_deref()).await? {
            gone_now.insert(
                by_instance[&instance],
                format!("instance {instance}: {why}"),
            );
        }
        let now = Instant::now();
        self.first_gone.retain(|id, _| gone_now.contains_key(id));
        Ok(gone_now
            .into_iter()
            .map(|(id, why)| {
                let since = *self.first_gone.entry(id).or_insert(now);
                (id, (now - since, why))
            })
            .collect())
    }

    pub(crate) async fn remove(
        &mut self,
        id: u32,
        instance: Option<String>,
        o: &Observed,
        port: u16,
    ) -> Result<(), String> {
        // 1. servers-spec, by conditional write: the one writer that succeeds acts. The write
        //    re-checks that server `id` is still the instance decided on (EC2 reuses addresses:
        //    a new instance must never land in the removed list).
        if o.spec.iter().any(|s| s.id == id) {
            let (mut cfg, version) = self
                .read()
                .await?
                .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
            let listed = cfg
                .servers()
                .map_err(|e| e.to_string())?
                .iter()
                .any(|s| s.id == id);
            let now = register::instances(&cfg).get(&id).cloned();
            if listed && now != instance {
                tracing::info!(server = id, decided = ?instance, now = ?now, "membership: server.{id} belongs to another instance since the decision; not removing it");
                return Ok(());
            }
            if listed {
                let instance = register::remove_member(&mut cfg, id)?;
                let (host, ip) = self.whoami(o);
                let text = cfg.to_properties(&register::comments(&host, &ip));
                match self.store.write(&text, Some(&version)).await {
                    Ok(_) => {
                        tracing::info!(server = id, instance = ?instance, spec = %cfg.get("servers-spec"), "membership: removed from servers-spec")
                    }
                    Err(StoreError::Conflict(_)) => {
                        tracing::info!(server = id, "membership: the shared config changed meanwhile (another member acting?); looking again next pass");
                        return Ok(());
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        // 2. the running ensemble, through its voters that serve (only they get the secret).
        if o.live.as_ref().is_some_and(|l| l.member(id).is_some()) {
            let through: Vec<String> = o
                .live
                .iter()
                .flat_map(|l| l.voters())
                .filter(|m| m.id != id && o.serving.contains(&m.id))
                .map(|m| format!("{}:{port}", m.host))
                .collect();
            let secret = self.secret().await?;
            let deadline = Instant::now() + Duration::from_secs(60);
            let live = admin::remove(&through.join(","), &secret, id, deadline)
                .await
                .map_err(|f| f.message)?;
            self.first_gone.remove(&id);
            tracing::info!(server = id, version = %live.version, "membership: removed from the running ensemble");
        }
        Ok(())
    }

    fn whoami(&self, o: &Observed) -> (String, String) {
        let ip = o
            .spec
            .iter()
            .find(|s| s.id == self.myid)
            .map(|s| s.host.clone())
            .unwrap_or_default();
        (format!("server.{}", self.myid), ip)
    }

    async fn stop(&self) -> Result<(), String> {
        crate::node::service::sh(&self.stop_command, &self.root, None)
            .await
            .map_err(|e| format!("stop command {e}"))
    }

    /// Stops the local ZooKeeper once (a leave's last step).
    pub(crate) async fn stop_zookeeper(&mut self) -> Result<(), String> {
        if !self.stopped {
            self.stop().await?;
            self.stopped = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ServerKind;
    use crate::zk::admin::Member;

    const GRACE: Duration = Duration::from_secs(60);

    fn observed(n: u32, serving: &[u32]) -> Observed {
        Observed {
            myid: 1,
            my_instance: "i-1".into(),
            spec: (1..=n)
                .map(|id| Server {
                    id,
                    host: format!("10.0.0.{id}"),
                    kind: ServerKind::Standard,
                })
                .collect(),
            removed: vec![],
            live: Some(LiveConfig {
                members: (1..=n)
                    .map(|id| Member {
                        id,
                        host: format!("10.0.0.{id}"),
                        participant: true,
                    })
                    .collect(),
                version: "100000000".into(),
            }),
            serving: serving.iter().copied().collect(),
            gone: BTreeMap::new(),
            answering: serving.iter().copied().collect(),
            removed_ids: BTreeSet::new(),
        }
    }

    #[test]
    fn a_healthy_ensemble_needs_nothing() {
        assert_eq!(decide(&observed(3, &[1, 2, 3]), GRACE), Decision::Nothing);
    }

    #[test]
    fn a_dead_member_is_removed_after_the_grace_period() {
        let mut o = observed(3, &[1, 2]);
        o.gone
            .insert(3, (Duration::from_secs(10), "EC2 state terminated".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Wait { id: 3, .. }));
        o.gone
            .insert(3, (Duration::from_secs(61), "EC2 state terminated".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 3, .. }));
    }

    #[test]
    fn no_removal_without_a_majority_of_survivors() {
        // 5 voters, 2 serving besides the dead one's peers: removing 5 leaves 2 of 5.
        let mut o = observed(5, &[1, 2]);
        o.gone
            .insert(5, (Duration::from_secs(600), "EC2 does not know it".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Hold { id: 5, .. }));
        // 3 of 5 serving: removing a dead one leaves 3 of 5 serving.
        let mut o = observed(5, &[1, 2, 3]);
        o.gone
            .insert(5, (Duration::from_secs(600), "EC2 does not know it".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 5, .. }));
        // Without /zookeeper/config, nothing is removed.
        o.live = None;
        assert!(matches!(decide(&o, GRACE), Decision::Hold { id: 5, .. }));
    }

    #[test]
    fn a_live_member_missing_from_the_spec_is_put_back_and_a_dead_one_removed() {
        // Server 3 answers: servers-spec lost it (an edit): put it back.
        let mut o = observed(3, &[1, 2, 3]);
        o.spec.retain(|s| s.id != 3);
        assert!(matches!(decide(&o, GRACE), Decision::Restore { id: 3, .. }));
        // A removal that stopped between its two steps: the id is recorded as removed.
        o.removed_ids.insert(3);
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 3, .. }));
        // Not answering, gone past the grace: the second step of a removal.
        let mut o = observed(3, &[1, 2]);
        o.spec.retain(|s| s.id != 3);
        o.gone
            .insert(3, (Duration::from_secs(90), "EC2 state terminated".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 3, .. }));
        // Not answering, but nothing says its instance is gone: nothing is done.
        o.gone.clear();
        assert_eq!(decide(&o, GRACE), Decision::Nothing);
    }

    #[test]
    fn a_held_or_waiting_member_does_not_shield_a_dead_one_with_a_higher_id() {
        // 5 voters: 2 answers although EC2 calls it gone; 3 is within its grace; 5 is dead.
        let mut o = observed(5, &[1, 2, 3, 4]);
        o.gone
            .insert(2, (Duration::from_secs(600), "EC2 state terminated".into()));
        o.gone
            .insert(3, (Duration::from_secs(5), "EC2 state terminated".into()));
        o.answering.remove(&3);
        o.gone
            .insert(5, (Duration::from_secs(600), "EC2 state terminated".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 5, .. }));
        // Nothing to remove: the lowest one held or waiting is what the pass reports.
        o.gone.remove(&5);
        assert!(matches!(decide(&o, GRACE), Decision::Hold { id: 2, .. }));
    }

    #[test]
    fn a_member_that_answers_is_never_removed_whatever_ec2_says() {
        let mut o = observed(3, &[1, 2, 3]);
        o.gone
            .insert(3, (Duration::from_secs(600), "EC2 state terminated".into()));
        assert!(matches!(decide(&o, GRACE), Decision::Hold { id: 3, .. }));
        o.answering.remove(&3);
        assert!(matches!(decide(&o, GRACE), Decision::Remove { id: 3, .. }));
    }

    #[test]
    fn a_removed_node_stops_and_others_never_remove_themselves() {
        let mut o = observed(3, &[1, 2, 3]);
        o.spec.retain(|s| s.id != 1);
        o.removed = vec!["i-1".into()];
        assert!(matches!(decide(&o, GRACE), Decision::StopSelf { .. }));
        let mut o = observed(3, &[1, 2, 3]);
        o.gone.insert(1, (Duration::from_secs(600), "x".into()));
        assert_eq!(decide(&o, GRACE), Decision::Nothing);
    }
}
