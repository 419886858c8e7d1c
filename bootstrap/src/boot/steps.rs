//! The boot's steps, in pipeline order: each takes what earlier steps returned, returns what
//! later ones need, and closes itself in the boot record ([`Recorder::step`]).

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::{Boot, Outcome};
use crate::cloud::instances::Aws;
use crate::cloud::{lifecycle, LazySdk};
use crate::config::cli::layered;
use crate::config::identity::{self, Identity, Overrides};
use crate::config::settings::{self, Raw, Role, Settings};
use crate::failure::{Failure, Result};
use crate::membership::register;
use crate::membership::restore;
use crate::membership::{self, Decision, Membership, Offline};
use crate::mesos::auth::{self, Secrets};
use crate::mesos::executors::{self, ExecutorAuth};
use crate::mesos::{acl, leader, readiness, registration, registry};
use crate::node::record::EnsembleMember;
use crate::node::render::{self, Node, Output, Templates};
use crate::node::{paths, service, zk_state};
use crate::retry::{self, Attempt};
use crate::store::{Location, SharedConfig, Snapshot, Store, StoreError};
use crate::zk::peer::{ensemble_of, hosts, Peer};
use crate::zk::{admin, backups, four_letter, tls};

/// Where a node stands once it read the shared config (ZooKeeper nodes: once their membership
/// is decided).
pub(super) struct Place {
    /// The shared config (a ZooKeeper node's with servers-spec replaced by its membership).
    pub config: SharedConfig,
    pub snapshot: Snapshot,
    /// A ZooKeeper node's membership.
    pub zk: Option<Box<Membership>>,
}

impl Place {
    pub fn myid(&self) -> Option<u32> {
        self.zk.as_ref().map(|m| m.myid)
    }

    fn formed(&self) -> bool {
        self.zk.as_ref().is_some_and(|m| m.how == "formed")
    }
}

/// What the waits after the start look at: the node as it was placed and rendered.
pub(super) struct Joined<'a> {
    pub settings: &'a Settings,
    pub identity: &'a Identity,
    pub place: &'a Place,
    pub ensemble: &'a [Peer],
    pub secrets: Option<&'a Secrets>,
    /// Masters: the record that their registry formed, if it has.
    pub registry: Option<&'a str>,
}

/// What the placement step found.
pub(super) enum Placed {
    Online(Place),
    /// A ZooKeeper member that cannot read the shared config starts from its local state.
    Offline(Offline),
}

/// The shared config's store; the SDK is loaded only for S3.
pub(super) async fn open_store(location: &Location, cloud: &LazySdk) -> Store {
    match location {
        Location::S3 { .. } => Store::new(location.clone(), Some(cloud.get().await)),
        Location::File { .. } => Store::new(location.clone(), None),
    }
}

/// `--dry-run`: every file as it would be written, never a secret (journald keeps stdout).
pub(super) fn print_dry_run(root: &Path, outputs: &[Output], secrets: Option<&Secrets>) {
    let hidden = secrets.map(Secrets::secrets).unwrap_or_default();
    for o in outputs {
        println!(
            "--- {} (mode {:o})",
            paths::under(root, &o.path).display(),
            o.mode
        );
        print!("{}", auth::redact(&o.content, &hidden));
    }
}

impl Boot {
    /// ZooKeeper nodes with `mesos:zk-tls`: the cluster CA, created on the cluster's first boot.
    /// A dry run writes nothing: a CA not created yet is shown by a throwaway one.
    pub(super) async fn tls_ca(
        &mut self,
        settings: &Settings,
        store: &Store,
    ) -> Result<Option<tls::ClusterCa>> {
        if settings.role != Role::Zookeeper || !settings.zk_tls {
            return Ok(None);
        }
        let ca = match self.args.dry_run {
            false => tls::ensure(store, self.deadline).await?,
            true => match tls::read(store).await? {
                Some(ca) => ca,
                None => {
                    tracing::info!("--dry-run: no ZooKeeper TLS CA yet; rendering with a throwaway one, not saved");
                    tls::ClusterCa::generate().map_err(Failure::internal)?
                }
            },
        };
        self.rec.step("tls");
        Ok(Some(ca))
    }

    pub(super) async fn identity(&mut self) -> Result<Identity> {
        let (a, m) = (&self.args, &self.matches);
        let ov = Overrides {
            instance_id: layered(m, "instance_id", &a.instance_id),
            ip: layered(m, "ip", &a.ip),
            hostname: layered(m, "hostname", &a.hostname),
            zone: layered(m, "zone", &a.zone),
            region: layered(m, "region", &a.region),
            instance_type: layered(m, "instance_type", &a.instance_type),
        };
        let id = identity::discover(ov, !a.no_imds, self.deadline).await?;
        tracing::info!(
            instance_id = %id.instance_id.value, ip = %id.ip.value, hostname = %id.hostname.value,
            zone = %id.zone.value, region = %id.region.value, instance_type = %id.instance_type.value,
            "identity"
        );
        Ok(id)
    }

    /// The instance's tags: from instance metadata, or with `ec2:DescribeTags` when that
    /// category is off. Closes the identity step.
    pub(super) async fn tags(
        &mut self,
        mut identity: Identity,
        cloud: &LazySdk,
    ) -> Result<Identity> {
        if identity.tags.is_none() && !self.args.no_imds {
            tracing::info!("instance metadata tags are off; reading tags with ec2:DescribeTags");
            let id = &identity.instance_id.value;
            let tags = identity::describe_tags(cloud.get().await, id, self.deadline).await?;
            identity.tags = Some(tags);
        }
        self.rec.record.identity = serde_json::to_value(&identity).unwrap_or_default();
        self.rec.step("identity");
        Ok(identity)
    }

    /// With `mesos:lifecycle-hook` (and a group), [`Boot::run`] completes the launch hook with
    /// the boot's outcome; `--dry-run` and `--no-start` leave it alone.
    pub(super) fn hold_launch_hook(&mut self, identity: &Identity) {
        let tags = identity.tags.clone().unwrap_or_default();
        let (Some(name), Some(group)) =
            (tags.get(lifecycle::HOOK_TAG), tags.get(identity::ASG_TAG))
        else {
            return;
        };
        if self.args.dry_run || self.args.no_start {
            tracing::info!(hook = %name, "--dry-run/--no-start: the launch lifecycle hook is left alone");
            return;
        }
        let hook = lifecycle::Hook {
            group: group.clone(),
            name: name.clone(),
            instance_id: identity.instance_id.value.clone(),
        };
        self.hook = Some((hook, identity.region.value.clone()));
    }

    /// Every setting with its source; a ZooKeeper node with no ensemble size takes its Auto
    /// Scaling group's desired capacity.
    pub(super) async fn settings(
        &mut self,
        identity: &Identity,
        cloud: &LazySdk,
    ) -> Result<Settings> {
        let mut settings = self.resolve_settings(identity)?;
        let group = identity
            .tags
            .as_ref()
            .and_then(|t| t.get(identity::ASG_TAG));
        if let (Role::Zookeeper, None, Some(group)) = (settings.role, settings.ensemble_size, group)
        {
            let n = Aws::new(cloud.get().await)
                .desired_capacity(group, self.deadline)
                .await?;
            tracing::info!(
                group,
                ensemble_size = n,
                "no mesos:ensemble-size tag; using the Auto Scaling group's desired capacity"
            );
            settings.ensemble_size = Some(n);
        }
        self.rec.step("settings");
        Ok(settings)
    }

    fn resolve_settings(&mut self, identity: &Identity) -> Result<Settings> {
        let (a, m) = (&self.args, &self.matches);
        let mut raw = Raw {
            tags: identity.tags.clone().unwrap_or_default(),
            ..Default::default()
        };
        let flags = [
            ("role", "role", &a.role),
            ("cluster", "cluster", &a.cluster),
            ("shared-config", "shared_config", &a.shared_config),
            ("masters", "masters", &a.masters),
            ("ensemble-size", "ensemble_size", &a.ensemble_size),
            ("attributes", "attributes", &a.attributes),
            ("containerizers", "containerizers", &a.containerizers),
            ("zk-path", "zk_path", &a.zk_path),
            ("zk-endpoint", "zk_endpoint", &a.zk_endpoint),
            ("zk-observer", "zk_observer", &a.zk_observer),
            ("zk-tls", "zk_tls", &a.zk_tls),
            (
                "http-readonly-auth",
                "http_readonly_auth",
                &a.http_readonly_auth,
            ),
            ("executor-auth", "executor_auth", &a.executor_auth),
        ];
        for (name, id, value) in flags {
            if let Some(v) = layered(m, id, value) {
                raw.cli.insert(name, v);
            }
        }
        let s = settings::resolve(&raw)?;
        for (name, p) in &s.provenance {
            tracing::info!(setting = name, value = %p.value, source = %p.source, "setting");
        }
        self.rec.record.role = Some(s.role.to_string());
        self.rec.record.cluster = Some(s.cluster.clone());
        self.rec.record.zk_path = Some(s.zk_path.clone());
        self.rec.record.settings = serde_json::to_value(&s.provenance).unwrap_or_default();
        Ok(s)
    }

    /// Reads and parses the shared config, waiting (until the deadline) while it does not
    /// exist yet or lists no ZooKeeper server: in a new cluster, masters and agents may boot
    /// before the ensemble has written it.
    pub(super) async fn shared_config(
        &self,
        store: &Store,
        settings: &Settings,
    ) -> Result<(SharedConfig, Snapshot)> {
        let url = store.location().to_string();
        let got = retry::until(
            "shared config",
            self.deadline,
            Duration::from_secs(5),
            || async {
                match store.read().await {
                    Ok(Some(snap)) => match SharedConfig::parse(&snap.text) {
                        Ok(cfg) => match ensemble_listed(&cfg, settings) {
                            Ok(()) => Attempt::Done((cfg, snap)),
                            Err(why) => {
                                Attempt::Again(Failure::unreachable(format!("{url}: {why}")))
                            }
                        },
                        Err(e) => Attempt::Fail(Failure::bad_input(format!("{url}: {e}"))),
                    },
                    Ok(None) => {
                        Attempt::Again(Failure::unreachable(format!("{url} does not exist")))
                    }
                    Err(e @ StoreError::Unreachable(..)) => {
                        Attempt::Again(Failure::unreachable(e.to_string()))
                    }
                    Err(e) => Attempt::Fail(Failure::bad_input(e.to_string())),
                }
            },
        )
        .await;
        got.map_err(|last| {
            last.map(|f| Failure::new(f.kind, format!("{} (gave up at the deadline)", f.message)))
                .unwrap_or_else(|| {
                    Failure::unreachable(format!("{url}: no answer before the deadline"))
                })
        })
    }

    /// Where this node stands: a ZooKeeper node's membership ([`membership`]), or for masters
    /// and agents the shared config once it lists the ensemble.
    pub(super) async fn place(
        &mut self,
        store: &Store,
        settings: &Settings,
        identity: &Identity,
        cloud: &LazySdk,
    ) -> Result<Placed> {
        if settings.role != Role::Zookeeper {
            let (config, snapshot) = self.shared_config(store, settings).await?;
            self.rec.step("shared-config");
            let zk = None;
            return Ok(Placed::Online(Place {
                config,
                snapshot,
                zk,
            }));
        }
        let aws = match store.location() {
            Location::S3 { .. } if !self.args.no_imds => {
                let tags = identity.tags.as_ref();
                let group = tags.and_then(|t| t.get(identity::ASG_TAG)).cloned();
                Some((Aws::new(cloud.get().await), group))
            }
            _ => None,
        };
        let decision = membership::decide(membership::Inputs {
            store,
            me: me(identity, settings),
            size: settings.ensemble_size,
            root: &self.root,
            deadline: self.deadline,
            aws,
            grace: self.args.grace,
            offline_after: self.args.offline_after,
        })
        .await?;
        if let Decision::Online(m) = &decision {
            self.rec.record.myid = Some(m.myid);
            self.rec.record.membership = Some(m.how.into());
        }
        self.rec.step("membership");
        Ok(match decision {
            Decision::Online(m) => Placed::Online(Place {
                config: m.view.clone(),
                snapshot: m.snapshot.clone(),
                zk: Some(m),
            }),
            Decision::Offline(o) => Placed::Offline(o),
        })
    }

    /// Masters and agents: the Mesos credentials beside the shared config (the masters create
    /// them on the cluster's first boot).
    pub(super) async fn credentials(
        &mut self,
        store: &Store,
        settings: &Settings,
    ) -> Result<Option<Secrets>> {
        let secrets = match settings.role {
            Role::Zookeeper => return Ok(None),
            Role::Master => Secrets::master(store, self.deadline).await?,
            Role::Agent => Secrets::agent(store, self.deadline).await?,
        };
        self.rec.step("credentials");
        Ok(Some(secrets))
    }

    /// Agents: how their HTTP executors authenticate ([`executors`]), by the `executor-auth`
    /// setting and the node's Mesos agent program; the signing key kept across boots.
    pub(super) async fn executor_auth(
        &mut self,
        settings: &Settings,
        secrets: Option<Secrets>,
    ) -> Result<Option<Secrets>> {
        let Some(Secrets::Agent(mut agent)) = secrets else {
            return Ok(secrets);
        };
        let program = paths::under(&self.root, paths::MESOS_AGENT_PROGRAM);
        let origin = settings.origin("executor-auth");
        agent.executors = executors::decide(
            settings.executor_auth,
            &origin,
            &program,
            &paths::under(&self.root, paths::AGENT_EXECUTOR_KEY),
        )
        .await?;
        match agent.executors {
            ExecutorAuth::Jwt { .. } => tracing::info!(
                "executors authenticate with tokens this agent signs: its read-write API requires credentials"
            ),
            ExecutorAuth::Off => tracing::warn!(
                program = %program.display(),
                "executors cannot authenticate with this agent (Mesos without SSL, or executor-auth=none): its read-write API asks no credential, so that task groups run (README, Threat model)"
            ),
        }
        self.rec.step("executor-auth");
        Ok(Some(Secrets::Agent(agent)))
    }

    /// Masters: whether their replicated log has formed ([`registry`]); what the record says.
    pub(super) async fn mesos_registry(
        &mut self,
        store: &Store,
        settings: &Settings,
    ) -> Result<Option<String>> {
        if settings.role != Role::Master {
            return Ok(None);
        }
        let formed = registry::formed(store, self.deadline).await?;
        match &formed {
            Some(record) => tracing::info!(record = %record, "the masters' registry has formed: Mesos will not initialise an empty one (MESOS_LOG_AUTO_INITIALIZE=false)"),
            None => tracing::info!("the masters' registry has not formed yet: Mesos initialises it once every master's replica answers"),
        }
        self.rec.step("mesos-registry");
        Ok(formed)
    }

    /// Masters whose replica recovered (`wait-after-start`): the registry has formed; the
    /// first records it. A record that cannot be written is a warning: the next boot tries
    /// again, and until then Mesos may still auto-initialise.
    pub(super) async fn mark_registry_formed(
        &self,
        store: &Store,
        settings: &Settings,
        identity: &Identity,
        recorded: Option<&str>,
    ) {
        if settings.role != Role::Master || self.args.no_wait || recorded.is_some() {
            return;
        }
        let by = &identity.instance_id.value;
        match registry::record(store, by, &settings.zk_path, self.deadline).await {
            Ok(record) => {
                tracing::info!(record = %record, "recorded that the masters' registry formed")
            }
            Err(f) => {
                tracing::warn!(error = %f.message, "could not record that the masters' registry formed; the next master boot tries again")
            }
        }
    }

    /// Every file the role needs, rendered in memory from the templates (ZooKeeper's own
    /// rewrite of zoo.cfg adopted).
    pub(super) fn render(&mut self, node: &Node) -> Result<Vec<Output>> {
        let templates = Templates::load(self.args.templates.as_deref())?;
        self.rec.record.templates = self
            .args
            .templates
            .as_ref()
            .map(|t| t.display().to_string());
        let mut outputs = render::plan(node, &templates)?;
        if node.settings.role == Role::Zookeeper {
            zk_state::adopt_zookeeper_rewrites(&self.root, &mut outputs);
        }
        Ok(outputs)
    }

    /// Writes the rendered files (atomically) and records them, with the shared config they
    /// came from; a ZooKeeper node records the settings its zoo.cfg was rendered from.
    pub(super) fn write(
        &mut self,
        store: &Store,
        settings: &Settings,
        place: &Place,
        outputs: &[Output],
    ) -> Result<()> {
        let written = render::write(&self.root, outputs)?;
        self.rec.record.files = serde_json::to_value(&written).unwrap_or_default();
        self.rec.record.shared_config = Some(serde_json::json!({
            "location": store.location().to_string(),
            "version": place.snapshot.version,
            "servers-spec": place.config.get("servers-spec"),
        }));
        if settings.role == Role::Zookeeper && !self.args.no_start {
            // What the ZooKeeper started now is configured from (serve's rolling change).
            if let Err(e) = zk_state::record_applied(&self.root, &place.config) {
                tracing::warn!(error = %e, "could not record the applied ZooKeeper settings");
            }
        }
        self.rec.step("render");
        Ok(())
    }

    /// The ensemble the rendered files name, recorded.
    pub(super) fn ensemble(&mut self, config: &SharedConfig) -> Result<Vec<Peer>> {
        let ensemble = ensemble_of(config)?;
        self.record_ensemble(&ensemble);
        Ok(ensemble)
    }

    fn record_ensemble(&mut self, peers: &[Peer]) {
        self.rec.record.ensemble = peers
            .iter()
            .map(|p| EnsembleMember {
                id: p.id,
                addr: p.addr.clone(),
                voter: p.voter,
            })
            .collect();
    }

    /// A ZooKeeper node joining a running ensemble: added by reconfig once it started.
    pub(super) async fn join(&mut self, zk: Option<&Membership>) -> Result<()> {
        let Some(Membership {
            myid,
            secret,
            join: Some(join),
            ..
        }) = zk
        else {
            return Ok(());
        };
        tracing::info!(myid, line = %join.line, through = %join.through, "joining the running ensemble by reconfig");
        let live = admin::add(&join.through, secret, *myid, &join.line, self.deadline).await?;
        tracing::info!(myid, version = %live.version, "membership committed in /zookeeper/config");
        self.rec.step("join");
        Ok(())
    }

    /// The member that formed the ensemble records it beside the shared config, once it has
    /// quorum (not with `--no-wait`: quorum was not seen).
    pub(super) async fn mark_formed(
        &self,
        store: &Store,
        settings: &Settings,
        identity: &Identity,
        place: &Place,
    ) {
        if place.formed() && !self.args.no_wait {
            membership::mark_formed(store, &me(identity, settings)).await;
        }
    }

    /// A member forming the ensemble after `mesos-boot restore` seeds its data from the backup
    /// the shared config names ([`backup::seed`]); no restore pending, nothing done. A seed
    /// that fails fails the boot: an empty ensemble must not form in place of the restore.
    pub(super) async fn seed_from_backup(&mut self, store: &Store, place: &Place) -> Result<()> {
        if !place.formed() {
            return Ok(());
        }
        match restore::seed(store, &place.config, &self.root).await {
            Ok(Some(m)) => {
                self.rec.record.restored_from = Some(m.id);
                self.rec.step("restore");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(Failure::unreachable(format!(
                "restore from {}{}: {e}",
                store.location(),
                backups::SUFFIX
            ))),
        }
    }

    /// Tells systemd the node is configured, then starts the role's service; `false` with
    /// --no-start (rendered only).
    pub(super) async fn start(&mut self, settings: &Settings) -> Result<bool> {
        // The record of this boot so far (result "starting"), before READY=1: the units ordered
        // After= this one (mesos-boot-serve reads the record) start at READY=1, long before the
        // run ends (quorum, the hook) and saves the final record.
        if !self.args.dry_run {
            self.rec.record.result = "starting".into();
            if let Err(e) = self.rec.save(&self.root) {
                tracing::warn!(error = %e, "could not write the boot record");
            }
        }
        service::notify_ready();
        if self.args.no_start {
            tracing::info!("--no-start: configuration rendered, service not started");
            return Ok(false);
        }
        if settings.role == Role::Zookeeper {
            let wait =
                zk_state::CHECK_WAIT.min(self.deadline.saturating_duration_since(Instant::now()));
            match zk_state::check_before_start(&self.root, wait).await {
                zk_state::Checked::MovedAside(_) => self.rec.step("log-gap-moved-aside"),
                zk_state::Checked::Lost(why) => {
                    return Err(crate::failure::Failure::no_quorum(why));
                }
                _ => {}
            }
        }
        let cmd = service::start(
            settings.role,
            self.args.start_command.as_deref(),
            &self.root,
        )
        .await?;
        self.rec.record.start_command = Some(cmd);
        self.rec.step("start");
        Ok(true)
    }

    /// A member that cannot read the shared config starts from its local state: ZooKeeper's
    /// own zoo.cfg and dynamic config stay as they are; nothing is rendered.
    pub(super) async fn start_offline(
        &mut self,
        settings: &Settings,
        o: Offline,
    ) -> Result<Outcome> {
        tracing::warn!(myid = o.myid, reason = %o.reason, dynamic = %o.dynamic.display(), "the shared config cannot be read: starting ZooKeeper from this member's local state");
        self.rec.record.myid = Some(o.myid);
        self.rec.record.membership = Some("local".into());
        // What `serve` needs to run beside it while S3 is down: where the shared config lives
        // (no version was read) and the members of the local dynamic config.
        self.rec.record.shared_config = Some(serde_json::json!({
            "location": settings.shared_config.to_string(),
            "version": null,
            "unreadable": o.reason,
        }));
        self.record_ensemble(&o.servers);
        if self.args.dry_run {
            return Ok(Outcome::DryRun);
        }
        if !self.start(settings).await? {
            return Ok(Outcome::Rendered);
        }
        if !self.args.no_wait {
            let mode =
                four_letter::wait_local_member(&o.client_addr, o.myid, &o.servers, self.deadline)
                    .await?;
            tracing::info!(
                ?mode,
                id = o.myid,
                "local ZooKeeper is a voting member of a quorum"
            );
            self.rec.step("wait-after-start");
        }
        Ok(Outcome::Ready)
    }

    /// Masters: `/mesos` exists with its ACL before Mesos starts (see [`acl`]).
    pub(super) async fn mesos_acl(
        &mut self,
        settings: &Settings,
        ensemble: &[Peer],
        secrets: Option<&Secrets>,
    ) -> Result<()> {
        // Before Mesos starts, or it creates the path itself, open to every reader.
        let (Some(Secrets::Master(m)), false) = (secrets, self.args.no_start) else {
            return Ok(());
        };
        let path = &settings.zk_path;
        // --no-wait: a short look; an ensemble that does not answer yet is the next boot's.
        let deadline = if self.args.no_wait {
            self.deadline.min(Instant::now() + Duration::from_secs(10))
        } else {
            self.deadline
        };
        let done = acl::ensure(&hosts(ensemble), path, &m.zk, &m.zk_agent, deadline).await;
        let done = match done {
            Err(f) if self.args.no_wait && f.kind == crate::failure::Kind::Unreachable => {
                tracing::warn!(path, error = %f.message, "--no-wait: ZooKeeper does not answer; the Mesos znode's ACL is left to the next boot");
                return Ok(());
            }
            other => other?,
        };
        for (znode, outcome) in done {
            let znode = znode.as_str();
            match outcome {
                acl::Outcome::Created => {
                    tracing::info!(path = znode, "created the Mesos znode with its ACL")
                }
                acl::Outcome::Corrected(was) => {
                    tracing::warn!(
                        path = znode,
                        was,
                        "set the Mesos znode's ACL (it was different)"
                    )
                }
                acl::Outcome::Unchanged => {
                    tracing::info!(path = znode, "the Mesos znode's ACL is as it should be")
                }
                acl::Outcome::Removed(why) => {
                    tracing::warn!(
                        znode,
                        why,
                        "removed a member no Mesos master made (it was created while the path was open)"
                    )
                }
            }
        }
        self.rec.step("mesos-acl");
        Ok(())
    }

    /// Before the service starts: masters wait for a ZooKeeper quorum, agents for a leading
    /// master (`--no-wait`: no wait).
    pub(super) async fn wait_before_start(
        &mut self,
        settings: &Settings,
        ensemble: &[Peer],
        secrets: Option<&Secrets>,
    ) -> Result<()> {
        if self.args.no_wait {
            tracing::info!("--no-wait: not waiting for quorum");
            return Ok(());
        }
        self.wait_for_dependencies(settings, ensemble, secrets)
            .await?;
        self.rec.step("wait-before-start");
        Ok(())
    }

    async fn wait_for_dependencies(
        &mut self,
        settings: &Settings,
        ensemble: &[Peer],
        secrets: Option<&Secrets>,
    ) -> Result<()> {
        match settings.role {
            Role::Zookeeper => Ok(()),
            Role::Master => {
                let state = four_letter::wait_ensemble(ensemble, self.deadline).await?;
                tracing::info!(
                    servers = state.servers.len(),
                    "ZooKeeper ensemble has quorum"
                );
                Ok(())
            }
            Role::Agent => {
                let auth = secrets.map(Secrets::zk);
                let leader =
                    leader::wait_leader(&hosts(ensemble), &settings.zk_path, auth, self.deadline)
                        .await?;
                tracing::info!(leader = %leader.znode, ip = %leader.ip, port = leader.port, "leading master found");
                self.rec.record.leader = serde_json::to_value(&leader).ok();
                Ok(())
            }
        }
    }

    /// Once the service started: a ZooKeeper node waits until it votes in a quorum, a master
    /// until it answers with its replicated log recovered and a leader is registered, an agent
    /// until the leader lists it (`--no-wait`: no wait).
    pub(super) async fn wait_after_start(&mut self, j: &Joined<'_>) -> Result<()> {
        if self.args.no_wait {
            return Ok(());
        }
        self.wait_until_joined(j).await?;
        self.rec.step("wait-after-start");
        Ok(())
    }

    async fn wait_until_joined(&mut self, j: &Joined<'_>) -> Result<()> {
        let (settings, identity, ensemble, secrets) =
            (j.settings, j.identity, j.ensemble, j.secrets);
        let (config, myid) = (&j.place.config, j.place.myid());
        let auth = secrets.map(Secrets::zk);
        match settings.role {
            Role::Zookeeper => {
                let port = config.client_port()?;
                let addr = format!("{}:{port}", identity.ip.value);
                let id = myid.unwrap_or_default();
                let mode =
                    four_letter::wait_local_member(&addr, id, ensemble, self.deadline).await?;
                tracing::info!(?mode, id, "local ZooKeeper is a voting member of a quorum");
                Ok(())
            }
            Role::Master => {
                // Its own master, not any master: see mesos::readiness.
                let addr = format!("{}:{}", identity.ip.value, paths::MASTER_PORT);
                let basic = secrets.map(|s| s.http().basic_auth());
                tracing::info!(%addr, "waiting for this master to answer with its replicated log recovered (it needs a quorum of the masters)");
                let replicas = readiness::wait_ready(&addr, basic.as_deref(), self.deadline)
                    .await
                    .map_err(|e| {
                        let mut f = crate::failure::Failure::from(e);
                        if let Some(record) = j.registry {
                            f.message.push_str(&format!(
                                "; Mesos may not initialise an empty log since the masters' \
                                 registry formed (<shared config>{}: {record}): if every master \
                                 lost its replica, see README, \"The masters' registry\"",
                                registry::SUFFIX
                            ));
                        }
                        f
                    })?;
                tracing::info!(%addr, replicas, "this master is healthy and its replicated log recovered");
                let leader =
                    leader::wait_leader(&hosts(ensemble), &settings.zk_path, auth, self.deadline)
                        .await?;
                tracing::info!(leader = %leader.znode, ip = %leader.ip, "a leading master is registered");
                self.rec.record.leader = serde_json::to_value(&leader).ok();
                Ok(())
            }
            Role::Agent => {
                let (hosts, zk_path) = (hosts(ensemble), settings.zk_path.clone());
                let deadline = self.deadline;
                let leader = || {
                    let (hosts, zk_path) = (hosts.clone(), zk_path.clone());
                    async move {
                        let soon = (Instant::now() + Duration::from_secs(5)).min(deadline);
                        leader::wait_leader(&hosts, &zk_path, auth, soon)
                            .await
                            .map(|m| format!("{}:{}", m.ip, m.port))
                            .map_err(|e| e.to_string())
                    }
                };
                let ip = &identity.ip.value;
                let basic = secrets.map(|s| s.http().basic_auth());
                let id = registration::wait_registered(
                    leader,
                    ip,
                    paths::AGENT_PORT,
                    basic.as_deref(),
                    self.deadline,
                )
                .await?;
                tracing::info!(agent_id = %id, "the agent is registered with the leading master");
                self.rec.record.agent_id = Some(id);
                Ok(())
            }
        }
    }
}

/// Whether the shared config lists the ensemble a master or agent should use. While a new
/// ensemble forms, servers-spec grows one registrant at a time: a master that read it then
/// would render (and wait for quorum among) only the first registrants, so it waits until an
/// ensemble formed from the config ([`register::FORMED_KEY`]) or servers-spec lists the
/// expected ensemble size (the size the first registrant recorded, else the mesos:ensemble-size
/// setting); with neither known, until it lists a server. ZooKeeper nodes take any config.
fn ensemble_listed(cfg: &SharedConfig, settings: &Settings) -> std::result::Result<(), String> {
    if settings.role == Role::Zookeeper {
        return Ok(());
    }
    let Ok(servers) = cfg.servers() else {
        // Malformed servers-spec: rendering reports it.
        return Ok(());
    };
    let listed = register::voters(&servers);
    if register::formed(cfg) && listed > 0 {
        return Ok(());
    }
    // The size the first registrant recorded is the one fact every node uses (issue 9 #3).
    match register::recorded_size(cfg).or(settings.ensemble_size) {
        Some(size) if (listed as u32) < size => Err(format!(
            "the ZooKeeper ensemble is still forming: servers-spec lists {listed} of {size} servers"
        )),
        _ if servers.is_empty() => Err("servers-spec lists no ZooKeeper server yet".into()),
        _ => Ok(()),
    }
}

/// This node as the shared config lists it.
fn me(identity: &Identity, settings: &Settings) -> register::Me {
    register::Me {
        ip: identity.ip.value.clone(),
        hostname: identity.hostname.value.clone(),
        instance_id: identity.instance_id.value.clone(),
        local_id: None,
        observer: settings.zk_observer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(role: &str, size: Option<&str>) -> Settings {
        let mut cli: std::collections::BTreeMap<&'static str, (String, &'static str)> = [
            ("role", role),
            ("cluster", "prod"),
            ("shared-config", "s3://prod.example.com/e.properties"),
            ("masters", "3"),
        ]
        .into_iter()
        .map(|(k, v)| (k, (v.to_string(), "flag")))
        .collect();
        if let Some(n) = size {
            cli.insert("ensemble-size", (n.to_string(), "flag"));
        }
        settings::resolve(&Raw {
            cli,
            tags: Default::default(),
        })
        .unwrap()
    }

    fn spec(servers: &str, extra: &str) -> SharedConfig {
        SharedConfig::parse(&format!(
            "com.netflix.exhibitor.servers-spec={servers}\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn a_master_waits_for_the_whole_ensemble_while_it_forms() {
        let master = settings("master", Some("3"));
        let forming = spec("1:10.0.0.1", "");
        assert!(ensemble_listed(&forming, &master)
            .unwrap_err()
            .contains("lists 1 of 3"));
        assert!(ensemble_listed(&spec("1:10.0.0.1,2:10.0.0.2,3:10.0.0.3", ""), &master).is_ok());
        // Formed, then one member removed (its replacement not yet in): the live ensemble.
        let formed = spec(
            "1:10.0.0.1,2:10.0.0.2",
            "mesos-boot.formed=2024-01-01T00:00:00Z\n",
        );
        assert!(ensemble_listed(&formed, &master).is_ok());
        // No size setting: the size the first registrant recorded.
        let agent = settings("agent", None);
        let recorded = spec("1:10.0.0.1", "mesos-boot.ensemble-size=3\n");
        assert!(ensemble_listed(&recorded, &agent).is_err());
        // Nothing known: any listed server (a config written by hand or by Exhibitor).
        assert!(ensemble_listed(&forming, &agent).is_ok());
        assert!(ensemble_listed(&spec("", ""), &agent).is_err());
        // ZooKeeper nodes take any config (they register themselves).
        assert!(ensemble_listed(&spec("", ""), &settings("zookeeper", Some("3"))).is_ok());
    }
}
