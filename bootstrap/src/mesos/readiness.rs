//! Whether this Mesos master is ready to count as one of the cluster's masters: its process
//! answers `/master/health`, and its replica of the replicated log has recovered
//! (`registrar/log/recovered` is 1 on its own `/metrics/snapshot`: src/log/metrics.cpp, under the
//! registrar's prefix). Mesos starts that recovery on every master at once, leading or not
//! (src/log/log.cpp), and it completes only with a quorum of replicas answering
//! (src/log/recover.cpp), so a recovered replica is one that caught up. That another master
//! leads says nothing of this one: a roll of the masters that went on at "some master leads"
//! could take down a replica the log's quorum still needs.

use std::time::Duration;

use tokio::time::Instant;

use crate::mesos::http::get;
use crate::retry::{self, Attempt};

/// The gauge Mesos sets to 1 once the master's log replica has recovered.
pub const RECOVERED: &str = "registrar/log/recovered";
/// How many replicas the log sees (a number Mesos keeps beside it).
pub const ENSEMBLE: &str = "registrar/log/ensemble_size";

/// Why the master was not ready in time.
#[derive(Debug, thiserror::Error)]
#[error("the Mesos master at {addr} was not ready before the deadline ({why})")]
pub struct NotReady {
    pub addr: String,
    pub why: String,
}

impl From<NotReady> for crate::failure::Failure {
    fn from(e: NotReady) -> Self {
        crate::failure::Failure::no_quorum(e.to_string())
    }
}

/// What one look at the master says: `Ok(replicas)` once recovered, else why not.
pub fn recovered(body: &[u8]) -> Result<u64, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("/metrics/snapshot is not JSON: {e}"))?;
    let replicas = v[ENSEMBLE].as_f64().unwrap_or(0.0) as u64;
    match v[RECOVERED].as_f64() {
        Some(x) if x >= 1.0 => Ok(replicas),
        Some(_) => Err(format!(
            "its replicated log has not recovered yet ({replicas} replicas seen; it needs a \
             quorum of the masters' replicas)"
        )),
        None => Err(format!("/metrics/snapshot has no {RECOVERED}")),
    }
}

async fn look(addr: &str, authorization: Option<&str>) -> Result<u64, String> {
    let timeout = Duration::from_secs(10);
    match get(addr, "/master/health", None, timeout).await? {
        (200, _) => {}
        (status, _) => return Err(format!("/master/health answered HTTP {status}")),
    }
    match get(addr, "/metrics/snapshot", authorization, timeout).await? {
        (200, body) => recovered(&body),
        (401, _) => Err(
            "/metrics/snapshot refused the operators' credential (HTTP 401): the \
                         master does not have it yet?"
                .to_string(),
        ),
        (status, _) => Err(format!("/metrics/snapshot answered HTTP {status}")),
    }
}

/// Waits until the master at `addr` (this node's own, `ip:port`) is healthy and its replica
/// recovered, asking with `authorization` (the read-only endpoints may want a credential).
/// Returns the number of replicas it saw.
pub async fn wait_ready(
    addr: &str,
    authorization: Option<&str>,
    deadline: Instant,
) -> Result<u64, NotReady> {
    let said = std::sync::Mutex::new(String::new());
    let said = &said;
    let got = retry::until(
        "this master healthy, with its replicated log recovered",
        deadline,
        Duration::from_secs(3),
        || async move {
            match look(addr, authorization).await {
                Ok(n) => Attempt::Done(n),
                Err(why) => {
                    // Every new reason once at info level: a wait of minutes is not silent.
                    let mut last = said.lock().unwrap_or_else(|e| e.into_inner());
                    if *last != why {
                        tracing::info!(%addr, why = %why, "this master is not ready yet");
                        last.clone_from(&why);
                    }
                    Attempt::Again(why)
                }
            }
        },
    )
    .await;
    got.map_err(|last| NotReady {
        addr: addr.to_string(),
        why: last.unwrap_or_else(|| "it never answered".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_recovered_replica_counts() {
        let snap = |v: serde_json::Value| serde_json::to_vec(&v).unwrap();
        assert_eq!(
            recovered(&snap(serde_json::json!({RECOVERED: 1.0, ENSEMBLE: 3.0}))),
            Ok(3)
        );
        let e = recovered(&snap(serde_json::json!({RECOVERED: 0.0, ENSEMBLE: 1.0}))).unwrap_err();
        assert!(
            e.contains("not recovered") && e.contains("1 replicas"),
            "{e}"
        );
        assert!(recovered(&snap(serde_json::json!({"master/elected": 1.0})))
            .unwrap_err()
            .contains(RECOVERED));
        assert!(recovered(b"<html>").is_err());
    }
}
