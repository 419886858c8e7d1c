//! Graceful leave, run by `serve`: when Auto Scaling terminates this instance (scale-in,
//! instance refresh, a replaced unhealthy instance), the termination lifecycle hook (tag
//! `mesos:termination-hook`) holds it in `Terminating:Wait`. `serve` sees it in IMDS
//! (`autoscaling/target-lifecycle-state` becomes `Terminated`) and, under the same majority
//! guard as a dead member's removal and one member at a time, takes this server out of
//! servers-spec (recorded in `mesos-boot.removed`, by conditional write) and out of the running
//! ensemble by reconfig, stops ZooKeeper, and completes the hook with `CONTINUE`. While the
//! guard says wait, it records heartbeats so the hook keeps holding the instance.
//!
//! [`judge`] is the pure part; [`Reconciler::leave_pass`] observes and acts.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::cloud::lifecycle::{self, Hook};
use crate::serve::reconcile::{self, Observed, Reconciler};

/// IMDS path of the Auto Scaling lifecycle state the instance is moving to.
pub const TARGET_STATE_PATH: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";

/// What a leaving server should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Take this server out (servers-spec, then the running ensemble).
    Leave(String),
    /// Not now: the reason.
    Wait(String),
    /// Out of both: stop ZooKeeper and complete the hook.
    Left,
}

/// The pure decision: this server's id, the live voters, the ids in servers-spec and the
/// live members that serve.
pub fn judge(myid: u32, voters: &[u32], spec: &[u32], serving: &BTreeSet<u32>) -> Step {
    let live = voters.contains(&myid);
    if !live && !spec.contains(&myid) {
        return Step::Left;
    }
    if !live {
        return Step::Leave("out of the running ensemble, still in servers-spec".into());
    }
    // Another voter already out of servers-spec is leaving (or being removed) right now.
    if let Some(other) = voters.iter().find(|v| **v != myid && !spec.contains(v)) {
        return Step::Wait(format!(
            "server.{other} is leaving the ensemble: one member at a time"
        ));
    }
    let survivors = voters
        .iter()
        .filter(|v| **v != myid && serving.contains(v))
        .count();
    if survivors * 2 <= voters.len() {
        return Step::Wait(format!(
            "only {survivors} of {} voters would remain serving, not a majority",
            voters.len()
        ));
    }
    Step::Leave(format!(
        "{survivors} of {} voters remain serving",
        voters.len()
    ))
}

/// `autoscaling/target-lifecycle-state` (`None`: not in a group, or IMDS did not answer).
pub async fn target_state(client: &aws_config::imds::Client) -> Option<String> {
    client
        .get(TARGET_STATE_PATH)
        .await
        .ok()
        .map(|v| String::from(v).trim().to_string())
}

/// Watches IMDS until Auto Scaling terminates this instance.
pub struct Watch {
    client: aws_config::imds::Client,
    poll: Duration,
    /// Set once the target state was `Terminated`.
    pub terminating: bool,
}

impl Watch {
    pub fn new(poll: Duration) -> Self {
        Watch {
            client: crate::config::identity::imds_client(),
            poll,
            terminating: false,
        }
    }

    /// Returns once the instance is terminating (at once when already seen). Cancel-safe.
    pub async fn terminated(&mut self) {
        while !self.terminating {
            if target_state(&self.client).await.as_deref() == Some("Terminated") {
                tracing::warn!("leave: Auto Scaling is terminating this instance (IMDS target lifecycle state Terminated)");
                self.terminating = true;
                return;
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

/// The termination hook held for this instance, with heartbeats no more often than needed.
pub struct Held {
    pub hook: Option<Hook>,
    sdk: aws_config::SdkConfig,
    last_heartbeat: Option<Instant>,
    /// The last reason to wait (logged when it changes).
    last_wait: Option<String>,
}

impl Held {
    pub fn new(hook: Option<Hook>, sdk: aws_config::SdkConfig) -> Self {
        Held {
            hook,
            sdk,
            last_heartbeat: None,
            last_wait: None,
        }
    }
}

/// Heartbeats are this far apart (the hook's heartbeat timeout is 600 s in Terraform).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

impl Reconciler {
    /// One step of the leave: `true` once it is over (ZooKeeper stopped, hook completed).
    pub async fn leave_pass(&mut self, held: &mut Held) -> Result<bool, String> {
        let (cfg, _) = self
            .read()
            .await?
            .ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let spec = cfg.servers().map_err(|e| e.to_string())?;
        let port = cfg.client_port().map_err(|e| e.to_string())?;
        let mut hosts: Vec<String> = spec.iter().map(|s| format!("{}:{port}", s.host)).collect();
        hosts.push(self.local.clone());
        let live = reconcile::live_config(&hosts).await;
        let serving = reconcile::serving_members(live.as_ref(), port).await;
        let step = match &live {
            None => Step::Wait("/zookeeper/config could not be read".into()),
            Some(l) => {
                let voters: Vec<u32> = l.voters().map(|m| m.id).collect();
                let ids: Vec<u32> = spec.iter().map(|s| s.id).collect();
                judge(self.myid, &voters, &ids, &serving)
            }
        };
        match step {
            Step::Wait(reason) => {
                if held.last_wait.as_ref() != Some(&reason) {
                    tracing::warn!(
                        server = self.myid,
                        reason,
                        "leave: not leaving yet; the hook holds the instance (heartbeats)"
                    );
                    held.last_wait = Some(reason);
                }
                self.heartbeat(held).await;
                Ok(false)
            }
            Step::Leave(reason) => {
                tracing::info!(
                    server = self.myid,
                    reason,
                    "leave: leaving the ensemble (servers-spec, then reconfig)"
                );
                let observed = Observed {
                    myid: self.myid,
                    my_instance: self.my_instance.clone(),
                    spec,
                    live,
                    serving,
                    ..Observed::default()
                };
                let instance = Some(self.my_instance.clone()).filter(|i| !i.is_empty());
                self.remove(self.myid, instance, &observed, port).await?;
                Ok(false)
            }
            Step::Left => {
                tracing::info!(
                    server = self.myid,
                    "leave: out of servers-spec and the running ensemble; stopping ZooKeeper"
                );
                self.stop_zookeeper().await?;
                if let Some(hook) = &held.hook {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    match lifecycle::complete(&held.sdk, hook, true, deadline).await {
                        Ok(done) => {
                            tracing::info!(hook = %hook.name, ?done, "leave: termination hook completed with CONTINUE")
                        }
                        // The member is out either way; the hook's timeout ends the wait.
                        Err(e) => {
                            tracing::warn!(hook = %hook.name, error = %e, "leave: the termination hook could not be completed; Auto Scaling goes on at its timeout")
                        }
                    }
                } else {
                    tracing::info!(
                        "leave: not in an Auto Scaling group: no termination hook to complete"
                    );
                }
                Ok(true)
            }
        }
    }

    async fn heartbeat(&self, held: &mut Held) {
        let Some(hook) = held.hook.as_ref() else {
            return;
        };
        if held
            .last_heartbeat
            .is_some_and(|t| t.elapsed() < HEARTBEAT_EVERY)
        {
            return;
        }
        match lifecycle::heartbeat(&held.sdk, hook).await {
            Ok(()) => held.last_heartbeat = Some(Instant::now()),
            Err(e) => tracing::warn!(error = %e, "leave: heartbeat not recorded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u32]) -> BTreeSet<u32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_member_leaves_only_with_a_majority_left_serving_and_one_at_a_time() {
        // 3 voters, all serving: 2 stay, a majority.
        assert!(matches!(
            judge(1, &[1, 2, 3], &[1, 2, 3], &set(&[1, 2, 3])),
            Step::Leave(_)
        ));
        // One of the others is down: leaving would leave 1 of 3 serving.
        assert!(matches!(
            judge(1, &[1, 2, 3], &[1, 2, 3], &set(&[1, 2])),
            Step::Wait(_)
        ));
        // Another member is leaving (out of servers-spec, still live): wait for it.
        let w = judge(1, &[1, 2, 3, 4, 5], &[1, 2, 3, 4], &set(&[1, 2, 3, 4, 5]));
        assert!(
            matches!(&w, Step::Wait(r) if r.contains("server.5")),
            "{w:?}"
        );
        // The last voter never leaves.
        assert!(matches!(judge(1, &[1], &[1], &set(&[1])), Step::Wait(_)));
        // Half way: out of servers-spec (written first), still live: go on with the reconfig.
        assert!(matches!(
            judge(1, &[1, 2, 3], &[2, 3], &set(&[1, 2, 3])),
            Step::Leave(_)
        ));
        // Out of the ensemble but still listed: take it out of servers-spec.
        assert!(matches!(
            judge(1, &[2, 3], &[1, 2, 3], &set(&[2, 3])),
            Step::Leave(_)
        ));
        assert_eq!(judge(1, &[2, 3], &[2, 3], &set(&[2, 3])), Step::Left);
    }
}
