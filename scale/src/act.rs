//! Carrying out a [`Decision`], all or nothing as far as one evaluation goes: each scaling
//! action in order, stopping at the first failure; then the idle marks; the persisted state
//! (cooldowns, counters) last, only when everything before succeeded. A failed drain thus
//! starts no cooldown and leaves no drain tag behind (the tag is removed again), and the next
//! run decides afresh.
//!
//! * scale-out: `SetDesiredCapacity`;
//! * a drain: the instance is tagged first ([`DRAIN_TAG`], which is how later invocations know),
//!   then `DRAIN_AGENT` (`mark_gone`, `max_grace_period` a v1 `Duration`, `{"seconds": N}`) on the
//!   v1 operator API, or a maintenance window added to the schedule (which
//!   `POST /master/maintenance/schedule` replaces as a whole); if the master refuses, the tag is
//!   removed again;
//! * `machine/down` for a maintenance drain whose agent has no task left;
//! * termination: `TerminateInstanceInAutoScalingGroup` with
//!   `ShouldDecrementDesiredCapacity=true`, then for a maintenance drain `machine/up` and the
//!   machine's removal from the schedule, so a new instance reusing the IP is not blocked;
//! * release: `machine/up` and removal from the schedule of a machine whose instance is gone
//!   (a run failed between the termination and `machine/up`);
//! * idle marks: [`IDLE_TAG`] set or removed, batched.
//!
//! With `dry_run`, every step is logged as what it would do and nothing is changed.

use aws_sdk_autoscaling::error::DisplayErrorContext;
use aws_sdk_ec2::types::Tag;

use crate::decide::{Action, Decision};
use crate::http::{Http, HttpError};
use crate::model::{Machine, DRAIN_TAG, IDLE_TAG, STATE_TAG};

/// An action that failed; names the call and its target.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("{call} on group {group}: {why}")]
    Aws {
        call: &'static str,
        group: String,
        why: String,
    },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: malformed maintenance schedule: {why}")]
    Schedule { url: String, why: String },
}

/// The acting side.
pub struct Actor<'a> {
    pub http: &'a Http,
    pub leader: &'a str,
    pub autoscaling: &'a aws_sdk_autoscaling::Client,
    pub ec2: &'a aws_sdk_ec2::Client,
    pub group: &'a str,
    pub drain_grace_s: u64,
    pub dry_run: bool,
}

fn machine_json(m: &Machine) -> serde_json::Value {
    serde_json::json!({"hostname": m.hostname, "ip": m.ip})
}

impl Actor<'_> {
    fn aws(&self, call: &'static str, why: String) -> ActError {
        ActError::Aws {
            call,
            group: self.group.to_string(),
            why,
        }
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> Result<(), ActError> {
        let url = format!("{}{path}", self.leader);
        let r = self
            .http
            .post_json(&url, serde_json::to_vec(&body).expect("JSON"))
            .await?;
        if !(200..300).contains(&r.status) {
            return Err(ActError::Status {
                url,
                status: r.status,
                body: String::from_utf8_lossy(&r.body).chars().take(300).collect(),
            });
        }
        Ok(())
    }

    async fn schedule(&self) -> Result<serde_json::Value, ActError> {
        let url = format!("{}/master/maintenance/schedule", self.leader);
        let r = self.http.get(&url).await?;
        if r.status != 200 {
            return Err(ActError::Status {
                url,
                status: r.status,
                body: String::from_utf8_lossy(&r.body).chars().take(300).collect(),
            });
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(&r.body).map_err(|e| ActError::Schedule {
                url: url.clone(),
                why: e.to_string(),
            })?;
        if v.get("windows").is_none() {
            v["windows"] = serde_json::json!([]);
        }
        if !v["windows"].is_array() {
            return Err(ActError::Schedule {
                url,
                why: "`windows` is not a list".into(),
            });
        }
        Ok(v)
    }

    /// Adds a window for `m` (starting `now`, lasting the drain grace) unless it has one.
    async fn schedule_add(&self, m: &Machine, now: u64) -> Result<(), ActError> {
        let mut s = self.schedule().await?;
        let windows = s["windows"].as_array_mut().expect("checked");
        let want = machine_json(m);
        let listed = windows.iter().any(|w| {
            w["machine_ids"]
                .as_array()
                .is_some_and(|ids| ids.contains(&want))
        });
        if listed {
            return Ok(());
        }
        windows.push(serde_json::json!({
            "machine_ids": [want],
            "unavailability": {
                "start": {"nanoseconds": now.saturating_mul(1_000_000_000)},
                "duration": {"nanoseconds": self.drain_grace_s.saturating_mul(1_000_000_000)},
            }
        }));
        self.post("/master/maintenance/schedule", s).await
    }

    /// Removes `m` from every window (dropping emptied windows), if it is listed.
    async fn schedule_remove(&self, m: &Machine) -> Result<(), ActError> {
        let mut s = self.schedule().await?;
        let want = machine_json(m);
        let windows = s["windows"].as_array_mut().expect("checked");
        let before = windows.clone();
        for w in windows.iter_mut() {
            if let Some(ids) = w["machine_ids"].as_array_mut() {
                ids.retain(|id| id != &want);
            }
        }
        windows.retain(|w| {
            w["machine_ids"]
                .as_array()
                .is_some_and(|ids| !ids.is_empty())
        });
        if *windows == before {
            return Ok(());
        }
        self.post("/master/maintenance/schedule", s).await
    }

    async fn tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), ActError> {
        self.ec2
            .create_tags()
            .set_resources(Some(ids))
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map_err(|e| self.aws("CreateTags", DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    /// Runs the scaling actions, then the idle marks, then persists the next state in the
    /// group's tag (when it changed): the state only when everything else succeeded.
    pub async fn act(
        &self,
        decision: &Decision,
        prev: &crate::model::State,
        now: u64,
    ) -> Result<usize, ActError> {
        let mut done = 0;
        for a in decision.actions.iter().filter(|a| a.is_scaling()) {
            let what = serde_json::to_string(a).expect("JSON");
            if self.dry_run {
                tracing::info!(action = %what, "dry run: would act");
                continue;
            }
            self.one(a, now).await?;
            done += 1;
            tracing::info!(action = %what, "done");
        }

        // Idle marks, batched: all new marks carry the same time.
        let mark: Vec<String> = decision
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::MarkIdle { instance_id, .. } => Some(instance_id.clone()),
                _ => None,
            })
            .collect();
        let clear: Vec<String> = decision
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::ClearIdle { instance_id } => Some(instance_id.clone()),
                _ => None,
            })
            .collect();
        if self.dry_run {
            if !mark.is_empty() || !clear.is_empty() {
                tracing::info!(?mark, ?clear, "dry run: would update idle tags");
            }
        } else {
            for chunk in mark.chunks(500) {
                self.tag(chunk.to_vec(), IDLE_TAG, &now.to_string()).await?;
            }
            for chunk in clear.chunks(500) {
                self.ec2
                    .delete_tags()
                    .set_resources(Some(chunk.to_vec()))
                    .tags(Tag::builder().key(IDLE_TAG).build())
                    .send()
                    .await
                    .map_err(|e| self.aws("DeleteTags", DisplayErrorContext(&e).to_string()))?;
            }
        }

        if decision.state != *prev {
            let value = decision.state.to_string();
            if self.dry_run {
                tracing::info!(tag = STATE_TAG, %value, "dry run: would tag the group");
            } else {
                self.autoscaling
                    .create_or_update_tags()
                    .tags(
                        aws_sdk_autoscaling::types::Tag::builder()
                            .resource_id(self.group)
                            .resource_type("auto-scaling-group")
                            .key(STATE_TAG)
                            .value(&value)
                            .propagate_at_launch(false)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        self.aws("CreateOrUpdateTags", DisplayErrorContext(&e).to_string())
                    })?;
            }
        }
        Ok(done)
    }

    async fn one(&self, a: &Action, now: u64) -> Result<(), ActError> {
        match a {
            Action::SetDesired { to, .. } => {
                self.autoscaling
                    .set_desired_capacity()
                    .auto_scaling_group_name(self.group)
                    .desired_capacity(*to as i32)
                    .honor_cooldown(false)
                    .send()
                    .await
                    .map_err(|e| {
                        self.aws("SetDesiredCapacity", DisplayErrorContext(&e).to_string())
                    })?;
            }
            Action::StartDrain {
                instance_id, tag, ..
            } => {
                self.tag(vec![instance_id.clone()], DRAIN_TAG, &tag.to_string())
                    .await?;
                let drained = match tag.method {
                    crate::model::DrainMethod::DrainAgent => {
                        self.post(
                            "/api/v1",
                            serde_json::json!({
                                "type": "DRAIN_AGENT",
                                "drain_agent": {
                                    "agent_id": {"value": tag.agent_id},
                                    // A v1 google.protobuf.Duration (`seconds`, `nanos`;
                                    // include/mesos/v1/master/master.proto): the master
                                    // ignores keys it does not have, so `nanoseconds` would
                                    // be a grace of 0.
                                    "max_grace_period": {"seconds": self.drain_grace_s},
                                    "mark_gone": true,
                                }
                            }),
                        )
                        .await
                    }
                    crate::model::DrainMethod::Maintenance => {
                        self.schedule_add(&tag.machine, now).await
                    }
                };
                if let Err(e) = drained {
                    // Nothing of this drain stays: the next run decides again.
                    if let Err(untag) = self
                        .ec2
                        .delete_tags()
                        .resources(instance_id)
                        .tags(Tag::builder().key(DRAIN_TAG).build())
                        .send()
                        .await
                    {
                        tracing::warn!(instance = %instance_id, error = %DisplayErrorContext(&untag), "could not remove the drain tag of a failed drain");
                    }
                    return Err(e);
                }
            }
            Action::MachineDown { machine, .. } => {
                // Only scheduled machines may go down; the window is there unless the run
                // that tagged the instance failed before adding it.
                self.schedule_add(machine, now).await?;
                self.post(
                    "/master/machine/down",
                    serde_json::json!([machine_json(machine)]),
                )
                .await?;
            }
            Action::Terminate {
                instance_id,
                cleanup,
                ..
            } => {
                self.autoscaling
                    .terminate_instance_in_auto_scaling_group()
                    .instance_id(instance_id)
                    .should_decrement_desired_capacity(true)
                    .send()
                    .await
                    .map_err(|e| {
                        self.aws(
                            "TerminateInstanceInAutoScalingGroup",
                            format!("{instance_id}: {}", DisplayErrorContext(&e)),
                        )
                    })?;
                if let Some(m) = cleanup {
                    self.post("/master/machine/up", serde_json::json!([machine_json(m)]))
                        .await?;
                    self.schedule_remove(m).await?;
                }
            }
            Action::Release { machine, down } => {
                if *down {
                    self.post(
                        "/master/machine/up",
                        serde_json::json!([machine_json(machine)]),
                    )
                    .await?;
                }
                self.schedule_remove(machine).await?;
            }
            Action::MarkIdle { .. } | Action::ClearIdle { .. } => {}
        }
        Ok(())
    }
}
