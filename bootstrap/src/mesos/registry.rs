//! Whether the masters' replicated log (Mesos' registry: maintenance schedules, agents marked
//! gone, quota, weights) has formed, recorded beside the shared config as the object
//! `<key>.mesos-registry` by the first master whose replica recovered (as `mesos-boot.formed`
//! records ZooKeeper's formation). Once it has, masters render `MESOS_LOG_AUTO_INITIALIZE=false`:
//! Mesos auto-initialises a log only when every replica answers empty
//! (src/log/recover.cpp), which after the first formation means every master lost its disk at
//! once; it would then start a new, empty registry without a word. With the record, it waits
//! for an operator instead (README: "The masters' registry").

use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::store::typed::{ensure_object, store_failure};
use crate::store::Store;

/// The object's suffix beside the shared config.
pub const SUFFIX: &str = ".mesos-registry";

/// The object beside `shared`.
pub fn store(shared: &Store) -> Store {
    shared.private_sibling(SUFFIX)
}

/// What the record says (`formed <RFC 3339 time> by <instance> at <zk path>`), if the
/// registry has formed.
pub async fn formed(shared: &Store, deadline: Instant) -> Result<Option<String>> {
    let store = store(shared);
    let got = crate::retry::until(
        "the registry's record",
        deadline,
        std::time::Duration::from_secs(2),
        || async {
            match store.read().await {
                Ok(snap) => crate::retry::Attempt::Done(snap.map(|s| s.text.trim().to_string())),
                Err(e) => store_failure(e),
            }
        },
    )
    .await;
    got.map_err(|last| {
        last.unwrap_or_else(|| {
            Failure::unreachable(format!(
                "{}: no answer before the deadline",
                store.location()
            ))
        })
    })
}

/// Records that the registry formed (a create-only write: the first master's record stays).
pub async fn record(shared: &Store, by: &str, zk_path: &str, deadline: Instant) -> Result<String> {
    let when = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    ensure_object(
        &store(shared),
        deadline,
        "record that the masters' registry formed",
        || format!("formed {when} by {by} at {zk_path}\n"),
        |text, _| Ok(text.trim().to_string()),
    )
    .await
}
