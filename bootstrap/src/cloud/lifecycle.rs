//! The Auto Scaling launch lifecycle hook (tag `mesos:lifecycle-hook`): the instance stays in
//! `Pending:Wait` until mesos-boot says how its boot ended. A node that joined (ZooKeeper member
//! with quorum, master registered, agent configured) completes it with `CONTINUE`; a failed boot
//! with `ABANDON`, so that a broken node never counts as healthy and the group replaces it.
//! Completion uses the instance's own credentials (its role may complete its own group's hook).

use std::time::Duration;

use tokio::time::Instant;

use crate::cloud::aws_error;
use crate::retry::{self, Attempt};

/// Tag naming the launch hook.
pub const HOOK_TAG: &str = "mesos:lifecycle-hook";

/// Tag naming the termination hook (ZooKeeper nodes: `serve` completes it once it left).
pub const TERMINATION_HOOK_TAG: &str = "mesos:termination-hook";

/// The termination hook's name in Terraform (`terraform/modules/node`): used when an instance
/// launched before the tag existed lacks it.
pub const DEFAULT_TERMINATION_HOOK: &str = "mesos-boot-left";

/// The hook to complete for one instance.
#[derive(Debug, Clone)]
pub struct Hook {
    pub group: String,
    pub name: String,
    pub instance_id: String,
}

/// `CONTINUE` or `ABANDON`.
pub fn result(ok: bool) -> &'static str {
    if ok {
        "CONTINUE"
    } else {
        "ABANDON"
    }
}

/// How a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completed {
    /// The hook held the instance and now has its result.
    Now,
    /// No launch action is pending: the instance is already in service (a reboot; tags
    /// persist, so every later boot finds the hook tag). AWS answers `ValidationError: No
    /// active Lifecycle Action found`, which is success here.
    AlreadyInService,
}

/// Completes the hook, retrying transient errors until `deadline`.
pub async fn complete(
    sdk: &aws_config::SdkConfig,
    hook: &Hook,
    ok: bool,
    deadline: Instant,
) -> Result<Completed, String> {
    let client = aws_sdk_autoscaling::Client::new(sdk);
    let what = format!(
        "autoscaling:CompleteLifecycleAction {} for {} in {} ({})",
        result(ok),
        hook.instance_id,
        hook.group,
        hook.name
    );
    let got = retry::until(&what, deadline, Duration::from_secs(5), || async {
        let sent = client
            .complete_lifecycle_action()
            .auto_scaling_group_name(&hook.group)
            .lifecycle_hook_name(&hook.name)
            .instance_id(&hook.instance_id)
            .lifecycle_action_result(result(ok))
            .send()
            .await;
        match sent {
            Ok(_) => Attempt::Done(Completed::Now),
            Err(e) => {
                let detail = aws_error(&e);
                if detail.starts_with("ValidationError")
                    && detail.contains("No active Lifecycle Action")
                {
                    return Attempt::Done(Completed::AlreadyInService);
                }
                // A wrong hook name, group or instance will not get better by retrying.
                if detail.starts_with("ValidationError") || detail.contains("AccessDenied") {
                    Attempt::Fail(detail)
                } else {
                    Attempt::Again(detail)
                }
            }
        }
    })
    .await;
    got.map_err(|last| {
        format!(
            "{what}: {}",
            last.unwrap_or_else(|| "no answer before the deadline".into())
        )
    })
}

/// Records a heartbeat for the hook (it keeps holding the instance for another heartbeat
/// timeout). One attempt: the caller beats again later.
pub async fn heartbeat(sdk: &aws_config::SdkConfig, hook: &Hook) -> Result<(), String> {
    aws_sdk_autoscaling::Client::new(sdk)
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(&hook.group)
        .lifecycle_hook_name(&hook.name)
        .instance_id(&hook.instance_id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "autoscaling:RecordLifecycleActionHeartbeat for {} in {} ({}): {}",
                hook.instance_id,
                hook.group,
                hook.name,
                aws_error(&e)
            )
        })
}
