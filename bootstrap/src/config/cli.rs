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
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub boot: BootArgs,

    /// Prefix of every path the node uses, inside rendered files too.
    #[arg(long, env = "MESOS_BOOT_ROOT", default_value = "/", global = true)]
    pub root: PathBuf,

    /// Log line format on stderr. Which lines: `MESOS_BOOT_LOG` (tracing's filter syntax:
    /// `info` by default, `debug`, or per module, e.g. `info,mesos_boot::serve=debug`).
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
        #[arg(long, env = "MESOS_BOOT_STATUS_JSON")]
        json: bool,
        /// How long the live check may take.
        #[arg(long, env = "MESOS_BOOT_STATUS_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
    /// ZooKeeper nodes: serve Exhibitor's REST API (cluster list/status/state) and /health.
    Serve(ServeArgs),
    /// Verify an image (Packer's last step): units and their programs, ZooKeeper's and
    /// Mesos' files, templates that render for every role. Exit 2 names what is missing.
    CheckImage,
    /// ZooKeeper nodes, before ZooKeeper starts (zookeeper.service's ExecStartPre; the boot
    /// does it too): check the transaction log ZooKeeper will replay for a gap (ZooKeeper 3.8's
    /// DIFF-sync loss) and, on one, move the data aside once every other voter serves, so the
    /// server starts empty and takes a snapshot from the leader. A member that lost its data
    /// (ZooKeeper ran, no snapshot left) starts only while every other voter serves: until
    /// then it exits 1 (the start fails; systemd tries again). Otherwise exits 0.
    CheckLog {
        /// How long to wait, on a gap, for every other voter to serve.
        #[arg(long, env = "MESOS_BOOT_CHECK_LOG_WAIT", default_value = "60s", value_parser = humantime::parse_duration)]
        wait: Duration,
    },
    /// After every ZooKeeper member is gone: point the shared config at a backup (the newest,
    /// or --backup) and clear the old membership; the members that form the next ensemble seed
    /// their data from it before ZooKeeper starts. Refused while any listed server answers.
    Restore {
        /// The shared config, s3://bucket/key (backups are under <key>.backups/).
        #[arg(env = "MESOS_BOOT_RESTORE_FROM")]
        shared_config: String,
        /// The backup set to restore (an id from `--list`) [default: the newest].
        #[arg(long, env = "MESOS_BOOT_RESTORE_BACKUP")]
        backup: Option<String>,
        /// List the complete backup sets and change nothing.
        #[arg(long, env = "MESOS_BOOT_RESTORE_LIST")]
        list: bool,
        /// AWS region of the bucket [default: the SDK's: AWS_REGION, the profile, the instance].
        #[arg(long, env = "MESOS_BOOT_RESTORE_REGION")]
        region: Option<String>,
    },
    /// The credentials beside the shared config (see README, Threat model): list them
    /// (principals only, never a secret), create those not there yet (the masters do on their
    /// first boot; agents wait for them), or rotate one: `rotate NAME` adds a new current
    /// principal and keeps the old one accepted; roll the nodes that check it, then those that
    /// use it; `retire NAME` then drops the old one (roll the checkers again).
    Credentials {
        /// list, create, rotate or retire.
        #[arg(value_enum, env = "MESOS_BOOT_CREDENTIALS_ACTION")]
        action: CredentialAction,
        /// The shared config, s3://bucket/key or a file path.
        #[arg(env = "MESOS_BOOT_CREDENTIALS_SHARED_CONFIG")]
        shared_config: String,
        /// The credential to rotate or retire (`zk-mesos-agent`, `mesos-scale`, …).
        #[arg(env = "MESOS_BOOT_CREDENTIALS_NAME")]
        name: Option<String>,
        /// AWS region of the bucket [default: the SDK's: AWS_REGION, the profile, the instance].
        #[arg(long, env = "MESOS_BOOT_CREDENTIALS_REGION")]
        region: Option<String>,
    },
    /// ZooKeeper TLS's cluster CA beside the shared config (see README, Threat model): list its
    /// authorities (never a key), print the CA certificates clients trust (`trust`), or take a
    /// rotation's step: `rotate` adds a new authority every member trusts once re-run; `promote`
    /// makes it issue (re-run every member); `retire` drops the old one (re-run every member).
    ZkTls {
        /// list, trust, rotate, promote or retire.
        #[arg(value_enum, env = "MESOS_BOOT_ZK_TLS_ACTION")]
        action: ZkTlsAction,
        /// The shared config, s3://bucket/key or a file path.
        #[arg(env = "MESOS_BOOT_ZK_TLS_SHARED_CONFIG")]
        shared_config: String,
        /// AWS region of the bucket [default: the SDK's: AWS_REGION, the profile, the instance].
        #[arg(long, env = "MESOS_BOOT_ZK_TLS_REGION")]
        region: Option<String>,
    },
    /// The shared config as an operator changes it (Exhibitor's Config tab): `get` prints it
    /// (its version on standard error), `validate FILE` checks a file as the boot would,
    /// `diff FILE` shows by key what it would change, `set FILE` writes it and `edit` opens it in
    /// $VISUAL/$EDITOR. A write is checked first, shown, and conditional on the version it was
    /// made from (`--if-version`, default: the one read now): a concurrent change (`serve`,
    /// another operator) is a conflict, exit 2, nothing written. Keys mesos-boot keeps
    /// (`mesos-boot.*`) are not changed without --force.
    Config {
        /// get, validate, diff, set or edit.
        #[arg(value_enum, env = "MESOS_BOOT_CONFIG_ACTION")]
        action: ConfigAction,
        /// The shared config (s3://bucket/key or a file path); for `validate`, the file.
        #[arg(env = "MESOS_BOOT_CONFIG_SHARED_CONFIG")]
        target: String,
        /// The file to compare or write (diff, set).
        #[arg(env = "MESOS_BOOT_CONFIG_FILE")]
        file: Option<String>,
        /// set: write only over this version (what `get` printed).
        #[arg(long, env = "MESOS_BOOT_CONFIG_IF_VERSION")]
        if_version: Option<String>,
        /// set, edit: change keys mesos-boot keeps (`mesos-boot.*`) too.
        #[arg(long, env = "MESOS_BOOT_CONFIG_FORCE")]
        force: bool,
        /// AWS region of the bucket [default: the SDK's: AWS_REGION, the profile, the instance].
        #[arg(long, env = "MESOS_BOOT_CONFIG_REGION")]
        region: Option<String>,
    },
}

/// What `mesos-boot config` does.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConfigAction {
    Get,
    Validate,
    Diff,
    Set,
    Edit,
}

/// What `mesos-boot zk-tls` does.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ZkTlsAction {
    List,
    Trust,
    Rotate,
    Promote,
    Retire,
}

/// What `mesos-boot credentials` does.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CredentialAction {
    List,
    Create,
    Rotate,
    Retire,
}

/// Flags of `mesos-boot serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: this node's own address (its boot record's),
    /// port 8080; never every address unless told, e.g. 0.0.0.0:8080].
    #[arg(long, env = "MESOS_BOOT_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
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
    /// Command that starts the local ZooKeeper again after `serve` resynchronised a follower
    /// whose data diverged from the leader's (run with `sh -c`).
    #[arg(
        long,
        env = "MESOS_BOOT_START_COMMAND",
        default_value = "systemctl start zookeeper.service"
    )]
    pub start_command: String,
    /// How often to read IMDS's Auto Scaling target lifecycle state; once it is `Terminated`,
    /// the member leaves the ensemble (reconfig, one at a time, under the majority guard) and
    /// completes the termination hook (tag mesos:termination-hook). 0 turns it off.
    #[arg(long, env = "MESOS_BOOT_LEAVE_POLL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub leave_poll: Duration,
    /// Time between backups of ZooKeeper's data to `<key>.backups/` in the cluster bucket (by
    /// one member at a time, the lease holder); 0 turns them off [default: the shared config's
    /// backup-period-ms, Exhibitor's 60 s].
    #[arg(long, env = "MESOS_BOOT_BACKUP_PERIOD", value_parser = humantime::parse_duration)]
    pub backup_period: Option<Duration>,
    /// How long a member may take to be back as a voter after a rolling change restarted it;
    /// past it the change stops for every member (mesos-boot.rolling-stopped in the shared config).
    #[arg(long, env = "MESOS_BOOT_ROLLING_TIMEOUT", default_value = "120s", value_parser = humantime::parse_duration)]
    pub rolling_timeout: Duration,
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
    /// Masters and agents: `host:port` through which Mesos reaches ZooKeeper, e.g. the
    /// `zookeeper.<cluster>.<fqdn>:2181` load balancer, which stays current as members are
    /// replaced [tag mesos:zk-endpoint] [default: the servers-spec addresses of this boot].
    #[arg(long, env = "MESOS_BOOT_ZK_ENDPOINT")]
    pub zk_endpoint: Option<String>,
    /// ZooKeeper nodes: join the running ensemble as an observer (never a voter, never counted
    /// in the ensemble size, never part of a formation) [tag mesos:zk-observer] [default: false].
    #[arg(long, env = "MESOS_BOOT_ZK_OBSERVER")]
    pub zk_observer: Option<String>,
    /// ZooKeeper nodes: quorum TLS and a TLS client port (2281) with certificates from the
    /// cluster CA beside the shared config (created on first boot); every member of an ensemble
    /// must agree [tag mesos:zk-tls] [default: false].
    #[arg(long, env = "MESOS_BOOT_ZK_TLS")]
    pub zk_tls: Option<String>,
    /// Masters and agents: their read-only HTTP endpoints (`/master/state`, `/metrics/snapshot`)
    /// need a credential too, as the read-write ones always do [tag mesos:http-readonly-auth]
    /// [default: true].
    #[arg(long, env = "MESOS_BOOT_HTTP_READONLY_AUTH")]
    pub http_readonly_auth: Option<String>,
    /// Agents: how HTTP executors (the default executor of task groups) authenticate with the
    /// agent's API: `token` (tokens the agent signs; needs Mesos built with SSL), `none` (the
    /// agent's read-write API then asks no credential: Mesos without SSL), or `auto`: `token`
    /// when the node's mesos-agent has it [tag mesos:executor-auth] [default: auto].
    #[arg(long, env = "MESOS_BOOT_EXECUTOR_AUTH")]
    pub executor_auth: Option<String>,

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

/// The boot pipeline's flags belong to the default command: given on the command line together
/// with a subcommand they are refused, naming the flag (global flags such as `--root` and
/// `--log-format` go before or after the subcommand; environment variables never conflict).
pub fn check_subcommand_flags(matches: &ArgMatches) -> std::result::Result<(), clap::Error> {
    let Some((name, _)) = matches.subcommand() else {
        return Ok(());
    };
    let globals = ["root", "log_format"];
    let cmd = <Cli as clap::CommandFactory>::command();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if globals.contains(&id) || matches.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        let flag = arg.get_long().unwrap_or(id);
        return Err(cmd.clone().error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "--{flag} is a flag of the boot pipeline (mesos-boot without a subcommand); \
                 `mesos-boot {name}` does not take it"
            ),
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        let matches = Cli::command().try_get_matches_from(args)?;
        check_subcommand_flags(&matches)?;
        Cli::from_arg_matches(&matches)
    }

    use clap::FromArgMatches;

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        for args in [
            &["mesos-boot", "--root", "/tmp/r", "serve"][..],
            &["mesos-boot", "serve", "--root", "/tmp/r"],
            &[
                "mesos-boot",
                "--log-format",
                "json",
                "--root",
                "/tmp/r",
                "status",
            ],
            &[
                "mesos-boot",
                "status",
                "--json",
                "--root",
                "/tmp/r",
                "--log-format",
                "json",
            ],
            &["mesos-boot", "--root", "/tmp/r", "check-image"],
            &[
                "mesos-boot",
                "check-log",
                "--wait",
                "5s",
                "--root",
                "/tmp/r",
            ],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.root, PathBuf::from("/tmp/r"), "{args:?}");
            assert!(cli.command.is_some(), "{args:?}");
        }
        let cli = parse(&["mesos-boot", "--root", "/tmp/r", "--role", "agent"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.boot.role.as_deref(), Some("agent"));
    }

    #[test]
    fn a_boot_flag_with_a_subcommand_is_refused_by_name() {
        let err = parse(&["mesos-boot", "--role", "zookeeper", "serve"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let text = err.to_string();
        assert!(
            text.contains("--role") && text.contains("mesos-boot serve"),
            "{text}"
        );
        let err = parse(&["mesos-boot", "--dry-run", "status"]).unwrap_err();
        assert!(err.to_string().contains("--dry-run"), "{err}");
    }

    #[test]
    fn every_flag_of_every_command_shows_its_environment_variable_and_default() {
        let mut cmd = Cli::command();
        cmd.build();
        let mut commands = vec![cmd.clone()];
        commands.extend(
            cmd.get_subcommands()
                .filter(|c| c.get_name() != "help")
                .cloned(),
        );
        for mut c in commands {
            let help = c.render_long_help().to_string();
            for arg in c.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let env = arg
                    .get_env()
                    .unwrap_or_else(|| {
                        panic!("{}: --{id} has no environment variable", c.get_name())
                    })
                    .to_string_lossy()
                    .to_string();
                assert!(
                    env.starts_with("MESOS_BOOT_") && help.contains(&format!("[env: {env}")),
                    "{}: --{id}: {env} not in its help:\n{help}",
                    c.get_name()
                );
                // A flag without a value (--dry-run) shows no default.
                let defaults = if arg.get_action().takes_values() {
                    arg.get_default_values()
                } else {
                    &[]
                };
                for default in defaults {
                    let value = default.to_string_lossy();
                    // clap quotes a default with spaces.
                    let shown = [
                        format!("[default: {value}]"),
                        format!("[default: \"{value}\"]"),
                    ];
                    assert!(
                        shown.iter().any(|s| help.contains(s)),
                        "{}: --{id}: {} not in its help",
                        c.get_name(),
                        shown[0]
                    );
                }
            }
        }
    }
}
