//! AWS: the SDK's configuration (timeouts, retries), what EC2 and Auto Scaling say about
//! instances ([`instances`]), and the launch lifecycle hook ([`lifecycle`]).

use std::time::Duration;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

pub mod instances;
pub mod lifecycle;
/// Whether an SDK error is worth retrying: no answer (dispatch, timeout), throttling
/// (`Throttling`, `RequestLimitExceeded`, `SlowDown`, HTTP 429) or a 5xx.
pub fn transient<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => {
            matches!(
                se.err().code(),
                Some(
                    "Throttling"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "SlowDown"
                        | "TooManyRequests"
                        | "RequestThrottled"
                        | "ServiceUnavailable"
                        | "InternalError"
                        | "InternalFailure"
                        | "Unavailable"
                )
            )
        }
        _ => false,
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

/// The region of an operator's command (`restore`, `credentials`, `zk-tls`): its `--region`
/// (or the flag's `MESOS_BOOT_*_REGION`), else the SDK's own chain: `AWS_REGION`, the profile
/// (`AWS_PROFILE`, `~/.aws/config`), the instance's (IMDS) on a node. Never a silent default:
/// an operator in eu-west-1 must not be sent to us-east-1.
pub async fn operator_region(flag: Option<&str>) -> Result<String, String> {
    let region = match flag {
        Some(r) => r.to_string(),
        None => aws_config::meta::region::RegionProviderChain::default_provider()
            .region()
            .await
            .map(|r| r.to_string())
            .ok_or(
                "no AWS region: give --region, or set AWS_REGION (or a profile's region); on a \
                 node the instance's region is used",
            )?,
    };
    tracing::info!(%region, from = if flag.is_some() { "--region" } else { "the SDK's chain" }, "AWS region");
    Ok(region)
}

/// The AWS SDK configuration for `region`: every client gets connect, read and operation
/// timeouts (a hung call never stops a boot or a reconcile pass), and the SDK's standard
/// retries with backoff for throttling and 5xx answers; callers retry further inside their
/// own deadline. Loading it makes no request.
pub async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(40))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

/// The SDK configuration for one region, loaded on first use: a boot that reads no AWS API
/// (a file shared config, tags from IMDS) never loads it.
pub struct LazySdk {
    region: String,
    cell: tokio::sync::OnceCell<aws_config::SdkConfig>,
}

impl LazySdk {
    pub fn new(region: &str) -> Self {
        LazySdk {
            region: region.to_string(),
            cell: tokio::sync::OnceCell::new(),
        }
    }

    /// The configuration, loaded now if it was not yet.
    pub async fn get(&self) -> &aws_config::SdkConfig {
        self.cell.get_or_init(|| sdk_config(&self.region)).await
    }
}
