//! The command line: flags (each with its `MESOS_BOOT_*` environment variable) and
//! subcommands. Knows nothing of tags or defaults; `settings` does the layering.

use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  ready (the node is configured, started and has quorum)
  1  internal failure (e.g. the start command failed)
  2  bad input or configuration (tag, flag, shared config, template)
  3  a dependency (IMDS, S3, EC2, ZooKeeper) unreachable before the deadline
  4  quorum (or a leading master) not reached before the deadline

Precedence of every setting: flag > environment (MESOS_BOOT_*) > instance tag > default.";

#[derive(Debug, Parser)]
#[command(
    name = "mesos-boot",
    version,
    about = "Configure and start a ZooKeeper, Mesos master or Mesos agent node from IMDSv2, \
             instance tags and the Exhibitor shared config",
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub boot: BootArgs,

    /// Prefix of every path the node uses, inside rendered files too.
    #[arg(long, env = "MESOS_BOOT_ROOT", default_value = "/", global = true)]
    pub root: PathBuf,

    /// Log line format on stderr.
    #[arg(
        long,
        env = "MESOS_BOOT_LOG_FORMAT",
        value_enum,
        default_value = "plain",
        global = true
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the last boot record (var/lib/mesos-boot/boot.json) and a live quorum check.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// How long the live check may take.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// ZooKeeper nodes: serve Exhibitor's REST API (cluster list/status/state) and /health.
    Serve(ServeArgs),
    /// Verify an image (Packer's last step): units and their programs, ZooKeeper's and
    /// Mesos' files, templates that render for every role. Exit 2 names what is missing.
    CheckImage,
}

/// Flags of `mesos-boot serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "MESOS_BOOT_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// Mean time between membership checks (±50% jitter); 0 turns them off.
    #[arg(long, env = "MESOS_BOOT_RECONCILE_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub reconcile_interval: Duration,
    /// How long a member's instance must look gone before it is removed.
    #[arg(long, env = "MESOS_BOOT_GRACE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// Command that stops the local ZooKeeper when this server was removed from the ensemble
    /// (run with `sh -c`).
    #[arg(
        long,
        env = "MESOS_BOOT_STOP_COMMAND",
        default_value = "systemctl stop zookeeper.service"
    )]
    pub stop_command: String,
}

/// Flags of the boot pipeline (the default command).
#[derive(Debug, Args)]
pub struct BootArgs {
    /// Node role: zookeeper, master or agent [tag mesos:role].
    #[arg(long, env = "MESOS_BOOT_ROLE")]
    pub role: Option<String>,
    /// Cluster name [tag mesos:cluster].
    #[arg(long, env = "MESOS_BOOT_CLUSTER")]
    pub cluster: Option<String>,
    /// Exhibitor shared config: s3://bucket/key or file:///path [tag mesos:shared-config].
    #[arg(long, env = "MESOS_BOOT_SHARED_CONFIG")]
    pub shared_config: Option<String>,
    /// Number of Mesos masters; quorum = floor(n/2)+1 [tag mesos:masters].
    #[arg(long, env = "MESOS_BOOT_MASTERS")]
    pub masters: Option<String>,
    /// ZooKeeper ensemble size [tag mesos:ensemble-size].
    #[arg(long, env = "MESOS_BOOT_ENSEMBLE_SIZE")]
    pub ensemble_size: Option<String>,
    /// Extra agent attributes, `k:v;k:v` [tag mesos:attributes].
    #[arg(long, env = "MESOS_BOOT_ATTRIBUTES")]
    pub attributes: Option<String>,
    /// Agent containerizers [tag mesos:containerizers] [default: mesos].
    #[arg(long, env = "MESOS_BOOT_CONTAINERIZERS")]
    pub containerizers: Option<String>,
    /// ZooKeeper path of the Mesos masters [tag mesos:zk-path] [default: /mesos].
    #[arg(long, env = "MESOS_BOOT_ZK_PATH")]
    pub zk_path: Option<String>,

    /// Instance id (instead of IMDS).
    #[arg(long, env = "MESOS_BOOT_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Node address (instead of IMDS local-ipv4).
    #[arg(long, env = "MESOS_BOOT_IP")]
    pub ip: Option<String>,
    /// Node hostname (instead of IMDS local-hostname).
    #[arg(long, env = "MESOS_BOOT_HOSTNAME")]
    pub hostname: Option<String>,
    /// Availability zone (instead of IMDS).
    #[arg(long, env = "MESOS_BOOT_ZONE")]
    pub zone: Option<String>,
    /// Region (instead of IMDS).
    #[arg(long, env = "MESOS_BOOT_REGION")]
    pub region: Option<String>,
    /// Instance type (instead of IMDS).
    #[arg(long, env = "MESOS_BOOT_INSTANCE_TYPE")]
    pub instance_type: Option<String>,
    /// Do not use IMDS at all (off AWS); --ip is then required and tags are not read.
    #[arg(long, env = "MESOS_BOOT_NO_IMDS")]
    pub no_imds: bool,

    /// Directory whose `*.tera` files replace the embedded templates of the same name.
    #[arg(long, env = "MESOS_BOOT_TEMPLATES")]
    pub templates: Option<PathBuf>,
    /// Command that starts the role's service (run with `sh -c`, must return once launched)
    /// [default: systemctl start <unit>].
    #[arg(long, env = "MESOS_BOOT_START_COMMAND")]
    pub start_command: Option<String>,
    /// Render only: do not start the service, nor wait for what only a start brings.
    #[arg(long, env = "MESOS_BOOT_NO_START")]
    pub no_start: bool,
    /// Do not wait for quorum or a leading master at all.
    #[arg(long, env = "MESOS_BOOT_NO_WAIT")]
    pub no_wait: bool,
    /// Overall deadline (e.g. 90s, 10m).
    #[arg(long, env = "MESOS_BOOT_TIMEOUT", default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Print what would be written (paths and contents) and change nothing.
    #[arg(long, env = "MESOS_BOOT_DRY_RUN")]
    pub dry_run: bool,
    /// ZooKeeper nodes: how long a registrant's instance must look gone (EC2 / the group)
    /// before a node waiting for a new ensemble removes its registration.
    #[arg(long, env = "MESOS_BOOT_GRACE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub grace: Duration,
    /// ZooKeeper nodes that ran before: how long to try the shared config before starting
    /// from the local state (S3 or the VPC endpoint unreachable, the object unreadable).
    #[arg(long, env = "MESOS_BOOT_OFFLINE_AFTER", default_value = "30s", value_parser = humantime::parse_duration)]
    pub offline_after: Duration,
}

/// Where a flag's value came from, for the boot record and error messages.
pub fn source_of(matches: &ArgMatches, id: &str) -> &'static str {
    match matches.value_source(id) {
        Some(ValueSource::CommandLine) => "flag",
        Some(ValueSource::EnvVariable) => "env",
        _ => "default",
    }
}

/// A flag's value with its source, `None` when neither flag nor environment gave it.
pub fn layered(
    matches: &ArgMatches,
    id: &str,
    value: &Option<String>,
) -> Option<(String, &'static str)> {
    value.clone().map(|v| (v, source_of(matches, id)))
}
