//! Who this instance is: IMDSv2 (through `aws-config`'s IMDS client: token flow, retries)
//! and the instance's own tags, from instance metadata tags or, when that category is off,
//! one EC2 `DescribeTags` call for this instance only.
//!
//! Values given by flag or environment are not fetched; `--no-imds` skips IMDS entirely so
//! the binary runs off AWS.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::imds::client::error::ImdsError;
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};

/// Tags mesos-boot reads (all others are ignored, to keep IMDS requests few).
pub const TAG_PREFIX: &str = "mesos:";
/// The ASG an instance belongs to, set by Auto Scaling.
pub const ASG_TAG: &str = "aws:autoscaling:groupName";

/// What IMDS (or the overrides) said about this instance.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Identity {
    pub instance_id: Field,
    pub ip: Field,
    pub hostname: Field,
    pub zone: Field,
    pub region: Field,
    pub instance_type: Field,
    /// `None` when the instance metadata tags category is off (IMDS 404) or IMDS is not used.
    pub tags: Option<BTreeMap<String, String>>,
    pub tags_source: &'static str,
}

impl Identity {
    /// The identity a boot record kept (`identity`).
    pub fn from_record(kept: &serde_json::Value) -> Identity {
        let field = |k: &str| Field {
            value: kept[k]["value"].as_str().unwrap_or_default().to_string(),
            source: "boot record",
        };
        Identity {
            instance_id: field("instance_id"),
            ip: field("ip"),
            hostname: field("hostname"),
            zone: field("zone"),
            region: field("region"),
            instance_type: field("instance_type"),
            tags: serde_json::from_value(kept["tags"].clone()).ok(),
            tags_source: "boot record",
        }
    }
}

/// One value and where it came from.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Field {
    pub value: String,
    pub source: &'static str,
}

/// Values given by flag or environment (already merged by the CLI layer).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub instance_id: Option<(String, &'static str)>,
    pub ip: Option<(String, &'static str)>,
    pub hostname: Option<(String, &'static str)>,
    pub zone: Option<(String, &'static str)>,
    pub region: Option<(String, &'static str)>,
    pub instance_type: Option<(String, &'static str)>,
}

fn endpoint_name() -> String {
    std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or_else(|_| "http://169.254.169.254".into())
}

/// The IMDSv2 client (endpoint from `AWS_EC2_METADATA_SERVICE_ENDPOINT`), with short timeouts:
/// callers retry within their own deadlines.
pub fn imds_client() -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .max_attempts(2)
        .connect_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(2))
        .build()
}

struct Imds {
    client: aws_config::imds::Client,
    deadline: Instant,
}

impl Imds {
    /// GET `path`; `Ok(None)` on 404. Transient failures are retried until the deadline.
    async fn get(&self, path: &str) -> Result<Option<String>> {
        let got = retry::until(path, self.deadline, retry::MAX_DELAY, || async {
            match self.client.get(path).await {
                Ok(v) => Attempt::Done(Some(String::from(v))),
                Err(ImdsError::ErrorResponse(r)) if r.response().status().as_u16() == 404 => {
                    Attempt::Done(None)
                }
                // 429: IMDS throttles; back off like for a 5xx.
                Err(ImdsError::ErrorResponse(r))
                    if r.response().status().as_u16() < 500
                        && r.response().status().as_u16() != 429 =>
                {
                    Attempt::Fail(format!(
                        "IMDS at {} answered {} for {path}",
                        endpoint_name(),
                        r.response().status().as_u16()
                    ))
                }
                Err(e) => Attempt::Again(format!(
                    "IMDS at {} unreachable for {path}: {}",
                    endpoint_name(),
                    crate::failure::chain(&e)
                )),
            }
        })
        .await;
        match got {
            Ok(v) => Ok(v),
            Err(Some(msg)) if msg.contains("answered") => Err(Failure::bad_input(msg)),
            Err(Some(msg)) => Err(Failure::unreachable(msg)),
            Err(None) => Err(Failure::unreachable(format!(
                "IMDS at {} did not answer {path} before the deadline",
                endpoint_name()
            ))),
        }
    }

    async fn required(&self, path: &str) -> Result<String> {
        match self.get(path).await? {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(Failure::bad_input(format!(
                "IMDS at {} has no value for {path}",
                endpoint_name()
            ))),
        }
    }
}

/// Fills every field not overridden: from IMDS, or (with `use_imds == false`) from defaults
/// that make sense off AWS.
pub async fn discover(ov: Overrides, use_imds: bool, deadline: Instant) -> Result<Identity> {
    if !use_imds {
        let ip = ov.ip.clone().ok_or_else(|| {
            Failure::bad_input("--no-imds needs the node's address: --ip or MESOS_BOOT_IP")
        })?;
        let field = |o: Option<(String, &'static str)>, default: &str| match o {
            Some((value, source)) => Field { value, source },
            None => Field {
                value: default.to_string(),
                source: "default",
            },
        };
        let hostname = field(ov.hostname, &ip.0);
        let instance_id = field(ov.instance_id, &hostname.value);
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        return Ok(Identity {
            ip: Field {
                value: ip.0,
                source: ip.1,
            },
            hostname,
            instance_id,
            zone: field(ov.zone, "local"),
            region: field(ov.region, &region),
            instance_type: field(ov.instance_type, "unknown"),
            tags: None,
            tags_source: "none (--no-imds)",
        });
    }

    let client = imds_client();
    let imds = Imds { client, deadline };
    async fn pick(imds: &Imds, o: Option<(String, &'static str)>, path: &str) -> Result<Field> {
        Ok(match o {
            Some((value, source)) => Field { value, source },
            None => Field {
                value: imds.required(path).await?,
                source: "imds",
            },
        })
    }
    let instance_id = pick(&imds, ov.instance_id, "/latest/meta-data/instance-id").await?;
    let ip = pick(&imds, ov.ip, "/latest/meta-data/local-ipv4").await?;
    let hostname = pick(&imds, ov.hostname, "/latest/meta-data/local-hostname").await?;
    let zone = pick(
        &imds,
        ov.zone,
        "/latest/meta-data/placement/availability-zone",
    )
    .await?;
    let region = pick(&imds, ov.region, "/latest/meta-data/placement/region").await?;
    let instance_type = pick(&imds, ov.instance_type, "/latest/meta-data/instance-type").await?;

    let (tags, tags_source) = match imds.get("/latest/meta-data/tags/instance").await? {
        Some(keys) => {
            let mut tags = BTreeMap::new();
            for key in keys
                .lines()
                .map(str::trim)
                .filter(|k| k.starts_with(TAG_PREFIX) || *k == ASG_TAG)
            {
                if let Some(v) = imds
                    .get(&format!("/latest/meta-data/tags/instance/{key}"))
                    .await?
                {
                    tags.insert(key.to_string(), v);
                }
            }
            (Some(tags), "imds")
        }
        None => (None, "ec2:DescribeTags"),
    };
    Ok(Identity {
        instance_id,
        ip,
        hostname,
        zone,
        region,
        instance_type,
        tags,
        tags_source,
    })
}

/// The fallback when instance metadata tags are off: one `DescribeTags` for this instance.
pub async fn describe_tags(
    sdk: &aws_config::SdkConfig,
    instance_id: &str,
    deadline: Instant,
) -> Result<BTreeMap<String, String>> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let what =
        format!("instance metadata tags are off and EC2 DescribeTags for {instance_id} failed");
    let got = retry::until("ec2:DescribeTags", deadline, retry::MAX_DELAY, || async {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("resource-id")
            .values(instance_id)
            .build();
        let mut tags = BTreeMap::new();
        let mut pages = ec2.describe_tags().filters(filter).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    let detail = crate::cloud::aws_error(&e);
                    return if crate::cloud::transient(&e) {
                        Attempt::Again(Failure::unreachable(format!("{what}: {detail}")))
                    } else {
                        Attempt::Fail(Failure::bad_input(format!("{what}: {detail}")))
                    };
                }
            };
            for t in page.tags() {
                if let (Some(k), Some(v)) = (t.key(), t.value()) {
                    if k.starts_with(TAG_PREFIX) || k == ASG_TAG {
                        tags.insert(k.to_string(), v.to_string());
                    }
                }
            }
        }
        Attempt::Done(tags)
    })
    .await;
    got.map_err(|last| {
        last.unwrap_or_else(|| {
            Failure::unreachable(format!("{what}: no answer before the deadline"))
        })
    })
}
