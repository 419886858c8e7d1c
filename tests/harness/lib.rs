//! Integration-test harness for `mesos-boot`.
//!
//! Everything here talks to real software on the loopback network only
//! (127.0.0.0/8): an IMDSv2 emulator served in-process ([`imds`]), one
//! `moto_server` per test process ([`moto`]), real ZooKeeper JVMs ([`zk`]),
//! a Mesos-master stand-in that registers in ZooKeeper ([`mesos`]), loopback
//! address allocation ([`net`]), the `mesos-boot` binary under test ([`bin`])
//! and a tiny blocking HTTP/1.1 client for assertions ([`http`]).
//!
//! Conventions:
//! * Nothing sleeps to synchronise: use [`poll_until`] / [`poll_until_async`]
//!   (poll with a deadline) instead.
//! * Child processes started by the harness die with the test process
//!   (`PR_SET_PDEATHSIG` plus an `atexit` hook), see [`proc`].
//! * Async helpers expect `#[tokio::test(flavor = "multi_thread")]`; sync tests
//!   can drive them with [`block_on`].

pub mod asg;
pub mod bin;
pub mod fault;
pub mod http;
pub mod imds;
pub mod lambda_api;
pub mod mesos;
pub mod mesos_master;
pub mod moto;
pub mod net;
pub mod nlb;
pub mod proc;
pub mod scale;
pub mod zk;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Root of the cargo workspace (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Interval between two attempts of [`poll_until`] / [`poll_until_async`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `f` until it returns `Some`, or fails once `timeout` has elapsed.
///
/// `what` names the awaited condition in the error message.
pub fn poll_until<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Async twin of [`poll_until`]: awaits `f()` until it yields `Some`, or fails
/// once `timeout` has elapsed.
pub async fn poll_until_async<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut f: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(v)) = tokio::time::timeout_at(deadline, f()).await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Runs a future to completion on a fresh current-thread tokio runtime, for
/// sync tests that want the async helpers ([`moto::Moto::put_object`], ...).
///
/// Do not call it from inside a tokio runtime.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build tokio runtime")
        .block_on(fut)
}
