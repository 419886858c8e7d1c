//! The boot pipeline, one named step each:
//! identity → settings → shared config → membership (ZooKeeper) / credentials (Mesos) →
//! TLS CA (ZooKeeper with `mesos:zk-tls`) → render → wait (before start) → `/mesos` ACL (masters) → start → join (ZooKeeper, by
//! reconfig) → wait (after start) → record.
//!
//! ZooKeeper membership is one step of its own ([`crate::zookeeper::membership`]); a member
//! that must start without the shared config (S3 unreachable) starts from its local state.

use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use tokio::time::Instant;

use crate::agent_registration;
use crate::cli::{layered, BootArgs};
use crate::credentials::{mesos_auth::Secrets, zk_acl};
use crate::failure::{Failure, Result};
use crate::identity::{self, Identity, Overrides};
use crate::instances::Aws;
use crate::lifecycle;
use crate::record::{EnsembleMember, Recorder};
use crate::render::{self, Node, Templates};
use crate::retry::{self, Attempt};
use crate::service;
use crate::settings::{self, Raw, Role, Settings};
use crate::shared_config::{Location, SharedConfig, Snapshot, Store, StoreError};
pub use crate::zookeeper::membership::ensemble_of;
use crate::zookeeper::membership::{self, Decision, Membership, Offline};
use crate::zookeeper::{backup, divergence, ensemble, quorum, rolling, tls, zkadmin};

/// Everything the pipeline carries from step to step.
pub struct Boot {
    pub args: BootArgs,
    pub matches: ArgMatches,
    pub root: PathBuf,
    pub deadline: Instant,
    pub rec: Recorder,
    /// The launch lifecycle hook to complete, and the region, once identity and tags are known.
    hook: Option<(lifecycle::Hook, String)>,
}

/// How a successful boot ended.
pub enum Outcome {
    Ready,
    Rendered,
    DryRun,
}

impl Boot {
    pub fn new(args: BootArgs, matches: ArgMatches, root: PathBuf) -> Self {
        let deadline = Instant::now() + args.timeout;
        Boot {
            args,
            matches,
            root,
            deadline,
            rec: Recorder::new(),
            hook: None,
        }
    }

    /// Runs the pipeline; the record is saved whatever the outcome (not on --dry-run).
    pub async fn run(mut self) -> Result<Outcome> {
        let mut result = self.pipeline().await;
        if let Some((hook, region)) = self.hook.take() {
            let ok = matches!(result, Ok(Outcome::Ready));
            let sdk = sdk_config(&region).await;
            // Its own budget: a boot that failed at its deadline must still ABANDON.
            let deadline = Instant::now() + Duration::from_secs(60);
            let action = lifecycle::result(ok);
            match lifecycle::complete(&sdk, &hook, ok, deadline).await {
                Ok(lifecycle::Completed::Now) => {
                    tracing::info!(hook = %hook.name, group = %hook.group, result = action, "completed the launch lifecycle hook");
                    self.rec.record.lifecycle = Some(action.to_string());
                }
                Ok(lifecycle::Completed::AlreadyInService) => {
                    tracing::info!(hook = %hook.name, group = %hook.group, "no launch action is pending: the instance is already in service (a reboot)");
                    self.rec.record.lifecycle = Some("already in service".to_string());
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not complete the launch lifecycle hook; the group's timeout will decide");
                    self.rec.record.lifecycle = Some(format!("{action} failed: {e}"));
                    if result.is_ok() {
                        result = Err(Failure::unreachable(e));
                    }
                }
            }
        }
        if !self.args.dry_run {
            let r = &mut self.rec.record;
            match &result {
                Ok(Outcome::Ready) => r.result = "ready".into(),
                Ok(_) => r.result = "rendered".into(),
                Err(f) => {
                    r.result = "failed".into();
                    r.error = Some(f.message.clone());
                    r.exit_code = f.kind.exit_code();
                }
            }
            if let Err(e) = self.rec.save(&self.root) {
                tracing::warn!(error = %e, "could not write the boot record");
            }
        }
        result
    }

    async fn pipeline(&mut self) -> Result<Outcome> {
        let mut identity = self.identity().await?;
        // Loaded only when an AWS API is used (DescribeTags fallback, S3 shared config).
        let sdk = tokio::sync::OnceCell::new();
        let sdk = || sdk.get_or_init(|| sdk_config(&identity.region.value));
        if identity.tags.is_none() && !self.args.no_imds {
            tracing::info!("instance metadata tags are off; reading tags with ec2:DescribeTags");
            let tags =
                identity::describe_tags(sdk().await, &identity.instance_id.value, self.deadline)
                    .await?;
            identity.tags = Some(tags);
        }
        self.rec.record.identity = serde_json::to_value(&identity).unwrap_or_default();
        self.rec.step("identity");

        let tags = identity.tags.clone().unwrap_or_default();
        if let (Some(name), Some(group)) =
            (tags.get(lifecycle::HOOK_TAG), tags.get(identity::ASG_TAG))
        {
            if self.args.dry_run || self.args.no_start {
                tracing::info!(hook = %name, "--dry-run/--no-start: the launch lifecycle hook is left alone");
            } else {
                let hook = lifecycle::Hook {
                    group: group.clone(),
                    name: name.clone(),
                    instance_id: identity.instance_id.value.clone(),
                };
                self.hook = Some((hook, identity.region.value.clone()));
            }
        }
        let mut settings = self.settings(&identity)?;
        if settings.role == Role::Zookeeper && settings.ensemble_size.is_none() {
            if let Some(group) = identity
                .tags
                .as_ref()
                .and_then(|t| t.get(identity::ASG_TAG))
            {
                let n = Aws::new(sdk().await)
                    .desired_capacity(group, self.deadline)
                    .await?;
                tracing::info!(
                    group,
                    ensemble_size = n,
                    "no mesos:ensemble-size tag; using the Auto Scaling group's desired capacity"
                );
                settings.ensemble_size = Some(n);
            }
        }
        self.rec.step("settings");

        let store = match settings.shared_config {
            Location::S3 { .. } => Store::new(settings.shared_config.clone(), Some(sdk().await)),
            Location::File { .. } => Store::new(settings.shared_config.clone(), None),
        };
        let (config, snapshot, zk) = match settings.role {
            Role::Zookeeper => match self.membership(&store, &settings, &identity, sdk).await? {
                Decision::Online(m) => (m.view.clone(), m.snapshot.clone(), Some(m)),
                Decision::Offline(o) => return self.start_offline(&settings, o).await,
            },
            _ => {
                let (config, snapshot) = self.shared_config(&store, &settings).await?;
                self.rec.step("shared-config");
                (config, snapshot, None)
            }
        };
        let myid = zk.as_ref().map(|m| m.myid);
        let secrets = match settings.role {
            Role::Zookeeper => None,
            Role::Master => Some(Secrets::master(&store, self.deadline).await?),
            Role::Agent => Some(Secrets::agent(&store, self.deadline).await?),
        };
        if secrets.is_some() {
            self.rec.step("credentials");
        }
        let tls_ca = self.tls_ca(&settings, &store).await?;

        let templates = Templates::load(self.args.templates.as_deref())?;
        self.rec.record.templates = self
            .args
            .templates
            .as_ref()
            .map(|t| t.display().to_string());
        let node = Node {
            root: &self.root,
            settings: &settings,
            identity: &identity,
            config: &config,
            myid,
            zk_super_digest: zk.as_ref().map(|m| m.secret.super_digest()),
            mesos: secrets.as_ref(),
            zk_tls: tls_ca.as_ref(),
        };
        let mut outputs = render::plan(&node, &templates)?;
        if settings.role == Role::Zookeeper {
            render::adopt_zookeeper_rewrites(&self.root, &mut outputs);
        }
        if self.args.dry_run {
            for o in &outputs {
                println!(
                    "--- {} (mode {:o})",
                    render::under(&self.root, &o.path).display(),
                    o.mode
                );
                // Never a secret on stdout (journald keeps it).
                let hidden = secrets.as_ref().map(Secrets::secrets).unwrap_or_default();
                print!(
                    "{}",
                    crate::credentials::mesos_auth::redact(&o.content, &hidden)
                );
            }
            return Ok(Outcome::DryRun);
        }
        let written = render::write(&self.root, &outputs)?;
        self.rec.record.files = serde_json::to_value(&written).unwrap_or_default();
        self.rec.record.shared_config = Some(serde_json::json!({
            "location": store.location().to_string(),
            "version": snapshot.version,
            "servers-spec": config.get("servers-spec"),
        }));
        if settings.role == Role::Zookeeper && !self.args.no_start {
            // What the ZooKeeper started now is configured from (serve's rolling change).
            if let Err(e) = rolling::record_applied(&self.root, &config) {
                tracing::warn!(error = %e, "could not record the applied ZooKeeper settings");
            }
        }
        self.rec.step("render");

        if zk.as_ref().is_some_and(|m| m.how == "formed") {
            self.seed_from_backup(&store, &config).await?;
        }

        let ensemble = ensemble_of(&config)?;
        self.rec.record.ensemble = ensemble
            .iter()
            .map(|(id, addr, voter)| EnsembleMember {
                id: *id,
                addr: addr.clone(),
                voter: *voter,
            })
            .collect();
        if self.args.no_wait {
            tracing::info!("--no-wait: not waiting for quorum");
        } else {
            self.wait_before_start(&settings, &ensemble, secrets.as_ref())
                .await?;
            self.rec.step("wait-before-start");
        }
        // Before Mesos starts, or it creates the path itself, open to every reader.
        if let (Some(Secrets::Master(m)), false) = (&secrets, self.args.no_start) {
            self.mesos_acl(&settings, &ensemble, m).await?;
        }
        if !self.start(&settings).await? {
            return Ok(Outcome::Rendered);
        }
        if let Some(Membership {
            myid,
            secret,
            join: Some(join),
            ..
        }) = zk.as_deref()
        {
            tracing::info!(myid, line = %join.line, through = %join.through, "joining the running ensemble by reconfig");
            let live =
                zkadmin::add(&join.through, secret, *myid, &join.line, self.deadline).await?;
            tracing::info!(myid, version = %live.version, "membership committed in /zookeeper/config");
            self.rec.step("join");
        }
        if !self.args.no_wait {
            self.wait_after_start(
                &settings,
                &identity,
                &config,
                myid,
                &ensemble,
                secrets.as_ref(),
            )
            .await?;
            self.rec.step("wait-after-start");
            if zk.as_ref().is_some_and(|m| m.how == "formed") {
                membership::mark_formed(&store, &me(&identity, &settings)).await;
            }
        }
        tracing::info!(role = %settings.role, "ready");
        Ok(Outcome::Ready)
    }

    /// ZooKeeper nodes with `mesos:zk-tls`: the cluster CA, created on the cluster's first boot.
    /// A dry run writes nothing: a CA not created yet is shown by a throwaway one.
    async fn tls_ca(
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

    async fn identity(&mut self) -> Result<Identity> {
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

    fn settings(&mut self, identity: &Identity) -> Result<Settings> {
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
    async fn shared_config(
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

    /// ZooKeeper nodes: this node's place in the ensemble (see [`membership`]).
    async fn membership<'a, F, Fut>(
        &mut self,
        store: &Store,
        settings: &Settings,
        identity: &Identity,
        sdk: F,
    ) -> Result<Decision>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = &'a aws_config::SdkConfig>,
    {
        let aws = match store.location() {
            Location::S3 { .. } if !self.args.no_imds => {
                let group = identity
                    .tags
                    .as_ref()
                    .and_then(|t| t.get(identity::ASG_TAG))
                    .cloned();
                Some((Aws::new(sdk().await), group))
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
        Ok(decision)
    }

    /// A member forming the ensemble after `mesos-boot restore` seeds its data from the backup
    /// the shared config names ([`backup::seed`]); no restore pending, nothing done. A seed
    /// that fails fails the boot: an empty ensemble must not form in place of the restore.
    async fn seed_from_backup(&mut self, store: &Store, config: &SharedConfig) -> Result<()> {
        match backup::seed(store, config, &self.root).await {
            Ok(Some(m)) => {
                self.rec.record.restored_from = Some(m.id);
                self.rec.step("restore");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(Failure::unreachable(format!(
                "restore from {}{}: {e}",
                store.location(),
                backup::SUFFIX
            ))),
        }
    }

    /// Tells systemd the node is configured, then starts the role's service; `false` with
    /// --no-start (rendered only).
    async fn start(&mut self, settings: &Settings) -> Result<bool> {
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
                divergence::CHECK_WAIT.min(self.deadline.saturating_duration_since(Instant::now()));
            if let divergence::Checked::MovedAside(_) =
                divergence::check_before_start(&self.root, wait).await
            {
                self.rec.step("log-gap-moved-aside");
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
    async fn start_offline(&mut self, settings: &Settings, o: Offline) -> Result<Outcome> {
        tracing::warn!(myid = o.myid, reason = %o.reason, dynamic = %o.dynamic.display(), "the shared config cannot be read: starting ZooKeeper from this member's local state");
        self.rec.record.myid = Some(o.myid);
        self.rec.record.membership = Some("local".into());
        if self.args.dry_run {
            return Ok(Outcome::DryRun);
        }
        if !self.start(settings).await? {
            return Ok(Outcome::Rendered);
        }
        if !self.args.no_wait {
            let mode = quorum::wait_local_member(&o.client_addr, o.myid, &o.servers, self.deadline)
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

    /// Masters: `/mesos` exists with its ACL before Mesos starts (see [`zk_acl`]).
    async fn mesos_acl(
        &mut self,
        settings: &Settings,
        ensemble: &[(u32, String, bool)],
        m: &crate::credentials::mesos_auth::MasterSecrets,
    ) -> Result<()> {
        let path = &settings.zk_path;
        // --no-wait: a short look; an ensemble that does not answer yet is the next boot's.
        let deadline = if self.args.no_wait {
            self.deadline.min(Instant::now() + Duration::from_secs(10))
        } else {
            self.deadline
        };
        let done = zk_acl::ensure(&hosts(ensemble), path, &m.zk, &m.zk_agent, deadline).await;
        let done = match done {
            Err(f) if self.args.no_wait && f.kind == crate::failure::Kind::Unreachable => {
                tracing::warn!(path, error = %f.message, "--no-wait: ZooKeeper does not answer; the Mesos znode's ACL is left to the next boot");
                return Ok(());
            }
            other => other?,
        };
        match done {
            zk_acl::Outcome::Created => {
                tracing::info!(path, "created the Mesos znode with its ACL")
            }
            zk_acl::Outcome::Corrected(was) => {
                tracing::warn!(path, was, "set the Mesos znode's ACL (it was different)")
            }
            zk_acl::Outcome::Unchanged => {
                tracing::info!(path, "the Mesos znode's ACL is as it should be")
            }
        }
        self.rec.step("mesos-acl");
        Ok(())
    }

    async fn wait_before_start(
        &mut self,
        settings: &Settings,
        ensemble: &[(u32, String, bool)],
        secrets: Option<&Secrets>,
    ) -> Result<()> {
        match settings.role {
            Role::Zookeeper => Ok(()),
            Role::Master => {
                let state = quorum::wait_ensemble(ensemble, self.deadline).await?;
                tracing::info!(
                    servers = state.servers.len(),
                    "ZooKeeper ensemble has quorum"
                );
                Ok(())
            }
            Role::Agent => {
                let auth = secrets.map(Secrets::zk);
                let leader =
                    quorum::wait_leader(&hosts(ensemble), &settings.zk_path, auth, self.deadline)
                        .await?;
                tracing::info!(leader = %leader.znode, ip = %leader.ip, port = leader.port, "leading master found");
                self.rec.record.leader = serde_json::to_value(&leader).ok();
                Ok(())
            }
        }
    }

    async fn wait_after_start(
        &mut self,
        settings: &Settings,
        identity: &Identity,
        config: &SharedConfig,
        myid: Option<u32>,
        ensemble: &[(u32, String, bool)],
        secrets: Option<&Secrets>,
    ) -> Result<()> {
        let auth = secrets.map(Secrets::zk);
        match settings.role {
            Role::Zookeeper => {
                let port = config.client_port()?;
                let addr = format!("{}:{port}", identity.ip.value);
                let id = myid.unwrap_or_default();
                let mode = quorum::wait_local_member(&addr, id, ensemble, self.deadline).await?;
                tracing::info!(?mode, id, "local ZooKeeper is a voting member of a quorum");
                Ok(())
            }
            Role::Master => {
                let leader =
                    quorum::wait_leader(&hosts(ensemble), &settings.zk_path, auth, self.deadline)
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
                        quorum::wait_leader(&hosts, &zk_path, auth, soon)
                            .await
                            .map(|m| format!("{}:{}", m.ip, m.port))
                            .map_err(|e| e.to_string())
                    }
                };
                let ip = &identity.ip.value;
                let basic = secrets.map(|s| s.http().basic_auth());
                let id = agent_registration::wait_registered(
                    leader,
                    ip,
                    render::AGENT_PORT,
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

/// The AWS SDK configuration for `region`: every client gets connect, read and operation
/// timeouts (a hung call never stops a boot or a reconcile pass), and the SDK's standard
/// retries with backoff for throttling and 5xx answers; callers retry further inside their
/// own deadline. Loading it makes no request.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(40))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

/// Whether the shared config lists the ensemble a master or agent should use. While a new
/// ensemble forms, servers-spec grows one registrant at a time: a master that read it then
/// would render (and wait for quorum among) only the first registrants, so it waits until an
/// ensemble formed from the config ([`ensemble::FORMED_KEY`]) or servers-spec lists the
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
    let listed = ensemble::voters(&servers);
    if ensemble::formed(cfg) && listed > 0 {
        return Ok(());
    }
    // The size the first registrant recorded is the one fact every node uses (issue 9 #3).
    match ensemble::recorded_size(cfg).or(settings.ensemble_size) {
        Some(size) if (listed as u32) < size => Err(format!(
            "the ZooKeeper ensemble is still forming: servers-spec lists {listed} of {size} servers"
        )),
        _ if servers.is_empty() => Err("servers-spec lists no ZooKeeper server yet".into()),
        _ => Ok(()),
    }
}

/// This node as the shared config lists it.
fn me(identity: &Identity, settings: &Settings) -> ensemble::Me {
    ensemble::Me {
        ip: identity.ip.value.clone(),
        hostname: identity.hostname.value.clone(),
        instance_id: identity.instance_id.value.clone(),
        local_id: None,
        observer: settings.zk_observer,
    }
}

/// `h1:2181,h2:2181` for a ZooKeeper client.
pub fn hosts(ensemble: &[(u32, String, bool)]) -> String {
    ensemble
        .iter()
        .map(|(_, a, _)| a.as_str())
        .collect::<Vec<_>>()
        .join(",")
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
