//! `mesos-scale`: parse flags (environment fallbacks), set up logging, then either serve Lambda
//! invocations (when started by the Lambda runtime, `AWS_LAMBDA_RUNTIME_API` set) or run one
//! evaluation (`--once`). Exit codes: 0 done, 1 the evaluation failed (a source unreachable or
//! malformed, an action failed), 2 bad input (flags, environment).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use mesos_scale::gather::{Gatherer, MasterSource};
use mesos_scale::http::Http;
use mesos_scale::policy::{Policy, PolicyArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Plain,
}

/// Autoscaler of Mesos agents: reads the leading master and the agent Auto Scaling group,
/// decides, then scales out (SetDesiredCapacity) or drains and terminates idle agents.
///
/// Exit codes: 0 done, 1 evaluation failed (nothing decided on partial information),
/// 2 bad input.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// A master or the masters' load balancer (`http://mesos-master.example:5050`); the leader
    /// is found through `/master/redirect`.
    #[arg(long, env = "MESOS_MASTER")]
    master: Option<String>,
    /// ZooKeeper URL of the masters (`zk://10.0.0.1:2181,10.0.0.2:2181/mesos`); the leader is
    /// the lowest `json.info_*`. Instead of --master.
    #[arg(long, env = "MESOS_ZK")]
    zk: Option<String>,
    /// The principal for the master's HTTP endpoints: `s3://bucket/<shared-config>.mesos-scale`
    /// (created by the masters) or a file of `principal secret` lines; read at every evaluation.
    /// Without it, requests carry no credential (a master that authenticates answers 401).
    #[arg(long, env = "MESOS_SCALE_CREDENTIAL")]
    credential: Option<String>,
    /// Name of the agents' Auto Scaling group.
    #[arg(long = "asg", env = "AGENT_ASG_NAME")]
    asg: String,
    /// Name of the Mesos cluster (for the logs).
    #[arg(long, env = "MESOS_CLUSTER")]
    cluster: Option<String>,
    /// Run one evaluation and exit (outside Lambda).
    #[arg(long)]
    once: bool,
    /// Decide and log, change nothing.
    #[arg(long, env = "DRY_RUN", action = clap::ArgAction::Set, num_args = 0..=1,
          default_value_t = false, default_missing_value = "true")]
    dry_run: bool,
    /// The evaluation's time (epoch seconds or RFC 3339) instead of the clock: for trying a
    /// policy over a simulated timeline.
    #[arg(long, env = "MESOS_SCALE_NOW")]
    now: Option<String>,
    /// Deadline of each request to the master.
    #[arg(long, env = "MESOS_SCALE_HTTP_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    http_timeout: Duration,
    /// Log lines as JSON (CloudWatch) or plain text.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    #[command(flatten)]
    policy: PolicyArgs,
}

/// Checked inputs.
struct Config {
    master: MasterSource,
    policy: Policy,
    now: Option<u64>,
}

fn parse_now(s: &str) -> Result<u64, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| {
            format!("--now / MESOS_SCALE_NOW = {s:?}: not epoch seconds nor RFC 3339: {e}")
        })
        .map(|t| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

fn check(cli: &Cli) -> Result<Config, String> {
    let master = MasterSource::parse(cli.master.as_deref(), cli.zk.as_deref())?;
    let policy = Policy::try_from(&cli.policy).map_err(|e| e.to_string())?;
    if cli.asg.trim().is_empty() {
        return Err("--asg / AGENT_ASG_NAME is empty".into());
    }
    let now = cli.now.as_deref().map(parse_now).transpose()?;
    Ok(Config {
        master,
        policy,
        now,
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => b.json().flatten_event(true).init(),
        LogFormat::Plain => b.with_ansi(false).init(),
    }
}

/// Reads the credential (when one is given) and has every request to the master carry it.
async fn authenticate(
    g: &Gatherer,
    source: Option<&str>,
    sdk: &aws_config::SdkConfig,
) -> Result<(), String> {
    let Some(source) = source else {
        return Ok(());
    };
    let basic = mesos_scale::credential::load(source, sdk).await?;
    tracing::debug!(principal = %basic.principal, "authenticating to the master");
    g.http.set_authorization(Some(basic.header().to_string()));
    Ok(())
}

fn clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let cfg = match check(&cli) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "bad input");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async_main(cli, cfg))
}

async fn async_main(cli: Cli, cfg: Config) -> ExitCode {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let g = Gatherer {
        http: Http::new(cli.http_timeout),
        master: cfg.master.clone(),
        autoscaling: aws_sdk_autoscaling::Client::new(&sdk),
        ec2: aws_sdk_ec2::Client::new(&sdk),
        group: cli.asg.clone(),
    };
    let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty());
    if lambda && !cli.once {
        tracing::info!(cluster = ?cli.cluster, group = %cli.asg, dry_run = cli.dry_run, "serving Lambda invocations");
        let (g, policy, dry_run) = (&g, &cfg.policy, cli.dry_run);
        let (credential, sdk) = (cli.credential.as_deref(), &sdk);
        let handler = lambda_runtime::service_fn(
            move |_event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
                let now = cfg.now.unwrap_or_else(clock);
                if let Err(e) = authenticate(g, credential, sdk).await {
                    tracing::error!(error = %e, "evaluation failed");
                    return Err(lambda_runtime::Error::from(e));
                }
                match mesos_scale::evaluate(g, policy, now, dry_run).await {
                    Ok(report) => Ok(serde_json::to_value(&report).expect("JSON")),
                    Err(e) => {
                        tracing::error!(error = %e, "evaluation failed");
                        Err(lambda_runtime::Error::from(e.to_string()))
                    }
                }
            },
        );
        return match lambda_runtime::run(handler).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "Lambda runtime failed");
                ExitCode::from(1)
            }
        };
    }
    if !cli.once {
        tracing::error!("bad input: run with --once (outside Lambda)");
        return ExitCode::from(2);
    }
    let now = cfg.now.unwrap_or_else(clock);
    if let Err(e) = authenticate(&g, cli.credential.as_deref(), &sdk).await {
        tracing::error!(error = %e, "evaluation failed");
        return ExitCode::from(1);
    }
    match mesos_scale::evaluate(&g, &cfg.policy, now, cli.dry_run).await {
        Ok(report) => {
            tracing::info!(
                rule = report.decision.rule,
                done = report.done,
                dry_run = report.dry_run,
                "evaluation done"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "evaluation failed");
            ExitCode::from(1)
        }
    }
}
