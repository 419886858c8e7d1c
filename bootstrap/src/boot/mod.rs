//! The boot pipeline: [`Boot::run`] runs the named steps of [`Boot::pipeline`], one a line,
//! then completes the launch lifecycle hook and saves the boot record whatever the outcome.
//!
//! identity (IMDS) → tags → hold the launch hook → settings → shared config → place
//! (ZooKeeper: membership, [`crate::membership`]) → credentials (Mesos) → executor
//! authentication (agents) → registry record (masters) → TLS CA (ZooKeeper
//! with `mesos:zk-tls`) → render → write → seed from a backup → wait before start → `/mesos`
//! ACL (masters) → start → join (ZooKeeper, by reconfig) → wait after start → mark formed.
//!
//! The steps themselves are in [`steps`]; a member that must start without the shared config
//! (S3 unreachable) starts from its local state instead. Nothing imports from here but
//! [`crate::cmd`].

use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use tokio::time::Instant;

use crate::cloud::{lifecycle, LazySdk};
use crate::config::cli::BootArgs;
use crate::failure::{Failure, Result};
use crate::node::cgroups::Cgroups;
use crate::node::record::Recorder;
use crate::node::render::Node;

mod steps;

use steps::{open_store, print_dry_run, Joined, Placed};

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
            let sdk = crate::cloud::sdk_config(&region).await;
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

    /// The pipeline, one named step a line (see the module doc).
    async fn pipeline(&mut self) -> Result<Outcome> {
        let identity = self.identity().await?;
        let cloud = LazySdk::new(&identity.region.value);
        let identity = self.tags(identity, &cloud).await?;
        self.hold_launch_hook(&identity);
        let settings = self.settings(&identity, &cloud).await?;
        let store = open_store(&settings.shared_config, &cloud).await;
        let place = match self.place(&store, &settings, &identity, &cloud).await? {
            Placed::Online(place) => place,
            Placed::Offline(o) => return self.start_offline(&settings, o).await,
        };
        let secrets = self.credentials(&store, &settings).await?;
        let secrets = self.executor_auth(&settings, secrets).await?;
        let registry = self.mesos_registry(&store, &settings).await?;
        let tls_ca = self.tls_ca(&settings, &store).await?;
        let root = self.root.clone();
        let node = Node {
            root: &root,
            settings: &settings,
            identity: &identity,
            config: &place.config,
            myid: place.myid(),
            zk_super_digest: place.zk.as_ref().map(|m| m.secret.super_digest()),
            mesos: secrets.as_ref(),
            zk_tls: tls_ca.as_ref(),
            registry_formed: registry.is_some(),
            cgroups: Cgroups::detect(&root),
        };
        let outputs = self.render(&node)?;
        if self.args.dry_run {
            print_dry_run(&self.root, &outputs, secrets.as_ref());
            return Ok(Outcome::DryRun);
        }
        self.write(&store, &settings, &place, &outputs)?;
        self.seed_from_backup(&store, &place).await?;
        let ensemble = self.ensemble(&place.config)?;
        self.wait_before_start(&settings, &ensemble, secrets.as_ref())
            .await?;
        self.mesos_acl(&settings, &ensemble, secrets.as_ref())
            .await?;
        if !self.start(&settings).await? {
            return Ok(Outcome::Rendered);
        }
        self.join(place.zk.as_deref()).await?;
        let joined = Joined {
            settings: &settings,
            identity: &identity,
            place: &place,
            ensemble: &ensemble,
            secrets: secrets.as_ref(),
            registry: registry.as_deref(),
        };
        self.wait_after_start(&joined).await?;
        self.mark_formed(&store, &settings, &identity, &place).await;
        self.mark_registry_formed(&store, &settings, &identity, registry.as_deref())
            .await;
        tracing::info!(role = %settings.role, "ready");
        Ok(Outcome::Ready)
    }
}
