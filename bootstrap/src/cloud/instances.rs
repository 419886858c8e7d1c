//! What AWS says about instances: the Auto Scaling group's desired capacity (the default
//! ensemble size) and whether a member's instance is gone (EC2 says terminated or not found,
//! or its Auto Scaling group no longer lists it).

use std::collections::BTreeMap;

use tokio::time::Instant;

use crate::cloud::{aws_error, transient};
use crate::failure::Failure;
use crate::retry::{self, Attempt};

/// The reason [`Aws::gone`] gives for an instance id EC2 does not know.
pub const UNKNOWN_TO_EC2: &str = "EC2 does not know it";

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

    /// The desired capacity of Auto Scaling group `group`; throttling and 5xx answers are
    /// retried until `deadline`.
    pub async fn desired_capacity(&self, group: &str, deadline: Instant) -> Result<u32, Failure> {
        let what = format!("autoscaling:DescribeAutoScalingGroups {group}");
        let got = retry::until(&what, deadline, retry::MAX_DELAY, || async {
            let out = match self
                .asg
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(group)
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if transient(&e) => {
                    return Attempt::Again(Failure::unreachable(format!(
                        "{what}: {}",
                        aws_error(&e)
                    )))
                }
                Err(e) => {
                    return Attempt::Fail(Failure::bad_input(format!("{what}: {}", aws_error(&e))))
                }
            };
            let Some(g) = out.auto_scaling_groups().first() else {
                return Attempt::Fail(Failure::bad_input(format!(
                    "Auto Scaling group {group} does not exist"
                )));
            };
            match g.desired_capacity().and_then(|d| u32::try_from(d).ok()) {
                Some(n) => Attempt::Done(n),
                None => Attempt::Fail(Failure::bad_input(format!(
                    "Auto Scaling group {group} has no desired capacity"
                ))),
            }
        })
        .await;
        got.map_err(|last| {
            last.unwrap_or_else(|| {
                Failure::unreachable(format!("{what}: no answer before the deadline"))
            })
        })
    }

    /// The instance (pending to stopped) at `host`, as servers-spec lists it: a private IPv4
    /// address, an EC2 private DNS name (`ip-10-0-1-5.ec2.internal`: an Exhibitor-era spec
    /// lists hostnames), or another name, resolved. `Ok(None)` only when EC2 says no instance
    /// has it; a name that does not resolve is an `Err`: nothing can be said, so nothing is
    /// judged gone.
    pub async fn instance_at(&self, host: &str) -> Result<Option<String>, String> {
        let private_dns = host.ends_with(".ec2.internal") || host.ends_with(".compute.internal");
        let (filter, values): (&str, Vec<String>) = if host.parse::<std::net::Ipv4Addr>().is_ok() {
            ("private-ip-address", vec![host.to_string()])
        } else if private_dns {
            ("private-dns-name", vec![host.to_string()])
        } else {
            let ips: Vec<String> = tokio::net::lookup_host((host, 0))
                .await
                .map_err(|e| format!("{host} does not resolve: {e}"))?
                .filter(|a| a.is_ipv4())
                .map(|a| a.ip().to_string())
                .collect();
            if ips.is_empty() {
                return Err(format!("{host} resolves to no IPv4 address"));
            }
            ("private-ip-address", ips)
        };
        let out = self
            .ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(filter)
                    .set_values(Some(values))
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
            .map_err(|e| format!("ec2:DescribeInstances {filter}={host}: {}", aws_error(&e)))?;
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
        if ids.is_empty() {
            return Ok(gone);
        }
        // One call for all: a filter (unlike InstanceIds) answers for ids EC2 does not know
        // by leaving them out instead of failing the request.
        let out = self
            .ec2
            .describe_instances()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-id")
                    .set_values(Some(ids.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("ec2:DescribeInstances {}: {}", ids.join(","), aws_error(&e)))?;
        let states: BTreeMap<String, String> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| {
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())?;
                Some((i.instance_id()?.to_string(), state))
            })
            .collect();
        for id in ids {
            match states.get(id).map(String::as_str) {
                None => {
                    gone.insert(id.clone(), UNKNOWN_TO_EC2.into());
                }
                Some(s @ ("terminated" | "shutting-down")) => {
                    gone.insert(id.clone(), format!("EC2 state {s}"));
                }
                Some(_) => {}
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
                    // A member in another group (moved by an operator) is not gone for that.
                    let listed = out
                        .auto_scaling_instances()
                        .iter()
                        .find(|i| i.instance_id() == Some(id.as_str()));
                    match listed {
                        None => {
                            gone.insert(
                                id.clone(),
                                "in no Auto Scaling group any more".to_string(),
                            );
                        }
                        Some(i) if i.auto_scaling_group_name() == Some(group) => {
                            if let Some(s) = i.lifecycle_state() {
                                if s.starts_with("Terminat") || s.starts_with("Detach") {
                                    gone.insert(
                                        id.clone(),
                                        format!("{s} in Auto Scaling group {group}"),
                                    );
                                }
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        Ok(gone)
    }
}
