//! `mesos-boot serve`, the long-running companion of a ZooKeeper member: Exhibitor's REST API
//! and the operators' pages ([`api`]), and the loops that keep the ensemble healthy:
//! removal of dead members and the graceful leave of this one ([`reconcile`], [`leave`]), the
//! rolling change of static settings ([`rolling`]), the repair of a diverged follower
//! ([`divergence`]) and backups to the cluster bucket ([`backup`]).

use crate::cloud::lifecycle::Hook;
use crate::config::cli::ServeArgs;
use crate::failure::{Failure, Result};
use crate::serve::api::Api;
use crate::serve::member::Member;
use crate::serve::reconcile::{LastPassCell, Reconciler};

pub mod api;
pub mod backup;
pub mod divergence;
pub mod leave;
pub mod member;
pub mod member_loop;
pub mod reconcile;
pub mod rolling;

/// Serves until SIGTERM or Ctrl-C: the API, the member loop and the backup loop.
pub async fn run(root: &std::path::Path, args: &ServeArgs) -> Result<()> {
    let member = Member::from_record(root).await?;
    // The node's own address by default: the API is for the VPC's load balancer and clients,
    // not for every interface the host has.
    let listen = match args.listen {
        Some(l) => l,
        None => {
            let ip: std::net::IpAddr = member.ip.parse().map_err(|_| {
                Failure::bad_input(format!(
                    "the boot record has no node address (`{}`): give --listen",
                    member.ip
                ))
            })?;
            std::net::SocketAddr::new(ip, 8080)
        }
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::bad_input(format!("--listen {listen}: {e}")))?;
    let url = member.store.location().to_string();
    tracing::info!(%listen, local = member.local, shared_config = url, "serving Exhibitor's REST API");
    let api = Api {
        store: member.store.clone(),
        local: member.local.clone(),
        myid: member.myid,
        last_pass: LastPassCell::default(),
        last_backup: backup::LastBackupCell::default(),
    };
    let member_loop = spawn_member_loop(&member, root, args, api.last_pass.clone());
    let backups = spawn_backups(&member, root, args, api.last_backup.clone());
    let served = axum::serve(listener, api::router(api))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Failure::internal(format!("serving on {listen}: {e}")));
    for task in [member_loop, backups].into_iter().flatten() {
        task.abort();
    }
    served
}

/// The member loop ([`member_loop`]), unless `--reconcile-interval 0`; with the leave watch
/// unless `--leave-poll 0`.
fn spawn_member_loop(
    member: &Member,
    root: &std::path::Path,
    args: &ServeArgs,
    last_pass: LastPassCell,
) -> Option<tokio::task::JoinHandle<()>> {
    if args.reconcile_interval.is_zero() {
        tracing::info!("membership checks are off (--reconcile-interval 0)");
        return None;
    }
    tracing::info!(interval = ?args.reconcile_interval, grace = ?args.grace, group = ?member.group, "checking membership for dead members");
    let mut r = Reconciler::new(
        member,
        args.grace,
        args.stop_command.clone(),
        root.to_path_buf(),
    )
    .reporting_to(last_pass)
    .restarting_with(args.start_command.clone());
    r.rolling_timeout = args.rolling_timeout;
    let leave = if args.leave_poll.is_zero() {
        tracing::info!("graceful leave is off (--leave-poll 0)");
        None
    } else {
        let hook = member.group.as_deref().map(|group| Hook {
            group: group.to_string(),
            name: member.termination_hook.clone(),
            instance_id: member.instance.clone(),
        });
        tracing::info!(poll = ?args.leave_poll, hook = ?hook.as_ref().map(|h| &h.name), "watching for this instance's termination (IMDS autoscaling/target-lifecycle-state)");
        Some((
            leave::Watch::new(args.leave_poll),
            leave::Held::new(hook, member.sdk.clone()),
        ))
    };
    Some(tokio::spawn(r.run(
        args.reconcile_interval,
        leave,
        args.leave_poll,
    )))
}

/// The backup loop ([`backup`]), unless `--backup-period 0`.
fn spawn_backups(
    member: &Member,
    root: &std::path::Path,
    args: &ServeArgs,
    last: backup::LastBackupCell,
) -> Option<tokio::task::JoinHandle<()>> {
    if args.backup_period.is_some_and(|p| p.is_zero()) {
        tracing::info!("backups are off (--backup-period 0)");
        return None;
    }
    let mut b = backup::Backer::new(
        member.store.clone(),
        member.myid,
        member.instance.clone(),
        root.to_path_buf(),
        member.local.clone(),
    );
    b.every = args.backup_period;
    b.last = last;
    Some(tokio::spawn(b.run()))
}

/// Resolves at SIGTERM (systemd's stop) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("stopping");
}
