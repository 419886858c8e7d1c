//! What AWS says about instances: the Auto Scaling group's desired capacity (the default
//! ensemble size) and whether a member's instance is gone (EC2 says terminated or not found,
//! or its Auto Scaling group no longer lists it).

use std::collections::BTreeMap;

use aws_sdk_ec2::error::ProvideErrorMetadata;

/// EC2 and Auto Scaling clients.
#[derive(Clone)]
pub struct Aws {
    ec2: aws_sdk_ec2::Client,
    asg: aws_sdk_autoscaling::Client,
}

impl Aws {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Aws {
            ec2: aws_sdk_ec2::Client::new(sdk),
            asg: aws_sdk_autoscaling::Client::new(sdk),
        }
    }

    /// The desired capacity of Auto Scaling group `group`.
    pub async fn desired_capacity(&self, group: &str) -> Result<u32, String> {
        let out = self
            .asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "autoscaling:DescribeAutoScalingGroups {group}: {}",
                    aws_error(&e)
                )
            })?;
        let g = out
            .auto_scaling_groups()
            .first()
            .ok_or_else(|| format!("Auto Scaling group {group} does not exist"))?;
        g.desired_capacity()
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| format!("Auto Scaling group {group} has no desired capacity"))
    }

    /// The running instance whose private address is `ip`, if any.
    pub async fn instance_at(&self, ip: &str) -> Result<Option<String>, String> {
        let out = self
            .ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("private-ip-address")
                    .values(ip)
                    .build(),
            )
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ec2:DescribeInstances private-ip-address={ip}: {}",
                    aws_error(&e)
                )
            })?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.instance_id().map(str::to_string)))
    }

    /// Which of `ids` are gone, each with the reason. `Err` when AWS could not say for all of
    /// them (then nobody may be judged gone).
    pub async fn gone(
        &self,
        ids: &[String],
        group: Option<&str>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut gone = BTreeMap::new();
        for id in ids {
            let out = self.ec2.describe_instances().instance_ids(id).send().await;
            match out {
                Ok(out) => {
                    let state = out
                        .reservations()
                        .iter()
                        .flat_map(|r| r.instances())
                        .find(|i| i.instance_id() == Some(id))
                        .and_then(|i| i.state())
                        .and_then(|s| s.name())
                        .map(|n| n.as_str().to_string());
                    match state.as_deref() {
                        None => {
                            gone.insert(id.clone(), "EC2 does not know it".into());
                        }
                        Some(s @ ("terminated" | "shutting-down")) => {
                            gone.insert(id.clone(), format!("EC2 state {s}"));
                        }
                        Some(_) => {}
                    }
                }
                Err(e) if e.code() == Some("InvalidInstanceID.NotFound") => {
                    gone.insert(id.clone(), "EC2 does not know it".into());
                }
                Err(e) => return Err(format!("ec2:DescribeInstances {id}: {}", aws_error(&e))),
            }
        }
        if let Some(group) = group {
            let alive: Vec<&String> = ids.iter().filter(|i| !gone.contains_key(*i)).collect();
            if !alive.is_empty() {
                let out = self
                    .asg
                    .describe_auto_scaling_instances()
                    .set_instance_ids(Some(alive.iter().map(|s| s.to_string()).collect()))
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "autoscaling:DescribeAutoScalingInstances: {}",
                            aws_error(&e)
                        )
                    })?;
                for id in alive {
                    let listed = out.auto_scaling_instances().iter().find(|i| {
                        i.instance_id() == Some(id.as_str())
                            && i.auto_scaling_group_name() == Some(group)
                    });
                    match listed.and_then(|i| i.lifecycle_state()) {
                        None => {
                            gone.insert(
                                id.clone(),
                                format!("no longer in Auto Scaling group {group}"),
                            );
                        }
                        Some(s) if s.starts_with("Terminat") || s.starts_with("Detach") => {
                            gone.insert(id.clone(), format!("{s} in Auto Scaling group {group}"));
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        Ok(gone)
    }
}

/// An SDK error with its code and message (the SDK's Display says only "service error").
pub fn aws_error<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &E) -> String {
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => crate::failure::chain(e),
    }
}
