//! One module per subcommand; [`run`] dispatches the parsed command line to it and turns its
//! outcome into the process's exit code (the one place errors become exit codes).
//!
//! - no subcommand: the boot ([`crate::boot`]);
//! - `serve`: [`crate::serve`];
//! - `status`, `check-image`, `check-log`, `restore`, `credentials`, `zk-tls`, `config`: here.

use clap::ArgMatches;

use crate::config::cli::{Cli, Command};
use crate::failure::{self, Failure, Result};
use crate::store::{Location, Store};

pub mod check_image;
pub mod config;
pub mod credentials;
pub mod restore;
pub mod status;
pub mod zk_tls;

/// Runs the command `cli` names; returns the exit code.
pub async fn run(cli: Cli, matches: ArgMatches) -> i32 {
    let outcome = match cli.command {
        Some(Command::Status { json, timeout }) => {
            match status::run(&cli.root, json, timeout).await {
                Ok(true) => Ok(()),
                Ok(false) => return failure::Kind::NoQuorum.exit_code(),
                Err(f) => Err(f),
            }
        }
        Some(Command::CheckImage) => check_image::run(&cli.root),
        Some(Command::CheckLog { wait }) => {
            match crate::node::zk_state::check_before_start(&cli.root, wait).await {
                // zookeeper.service's ExecStartPre: the start fails, systemd tries again.
                crate::node::zk_state::Checked::Lost(_) => return 1,
                _ => Ok(()),
            }
        }
        Some(Command::Restore {
            shared_config,
            backup,
            list,
            region,
        }) => restore::run(&shared_config, backup.as_deref(), list, region.as_deref()).await,
        Some(Command::Credentials {
            action,
            shared_config,
            name,
            region,
        }) => credentials::run(action, &shared_config, name.as_deref(), region.as_deref()).await,
        Some(Command::ZkTls {
            action,
            shared_config,
            region,
        }) => zk_tls::run(action, &shared_config, region.as_deref()).await,
        Some(Command::Config {
            action,
            target,
            file,
            if_version,
            force,
            region,
        }) => config_command(action, target, file, if_version, force, region).await,
        Some(Command::Serve(args)) => crate::serve::run(&cli.root, &args).await,
        None => {
            let done = crate::boot::Boot::new(cli.boot, matches, cli.root)
                .run()
                .await
                .map(|_| ());
            // The unit's last status replaces the last wait's.
            match &done {
                Ok(()) => crate::notify::status("done: the node is configured and running"),
                Err(f) => crate::notify::status(&format!(
                    "failed (exit {}): {}",
                    f.kind.exit_code(),
                    f.message
                )),
            }
            done
        }
    };
    match outcome {
        Ok(()) => 0,
        Err(f) => report(&f),
    }
}

/// `mesos-boot config ACTION TARGET [FILE]`: the action with what it needs.
async fn config_command(
    action: crate::config::cli::ConfigAction,
    target: String,
    file: Option<String>,
    if_version: Option<String>,
    force: bool,
    region: Option<String>,
) -> Result<()> {
    use crate::config::cli::ConfigAction as A;
    let file = || {
        file.clone()
            .ok_or_else(|| Failure::bad_input("name the file (after the shared config)"))
    };
    let (action, url) = match action {
        A::Get => (config::Action::Get, Some(target.as_str())),
        A::Validate => (
            config::Action::Validate {
                file: target.clone(),
            },
            None,
        ),
        A::Diff => (
            config::Action::Diff { file: file()? },
            Some(target.as_str()),
        ),
        A::Set => (
            config::Action::Set {
                file: file()?,
                if_version,
                force,
            },
            Some(target.as_str()),
        ),
        A::Edit => (config::Action::Edit { force }, Some(target.as_str())),
    };
    config::run(action, url, region.as_deref()).await
}

/// The store at `url` (`s3://…` or a file path); the SDK is loaded only for S3, in `region`
/// or, without one, the region the SDK finds ([`crate::cloud::operator_region`]).
async fn store_at(url: &str, region: Option<&str>) -> Result<Store> {
    let location = Location::parse(url).map_err(Failure::bad_input)?;
    Ok(match location {
        Location::S3 { .. } => {
            let region = crate::cloud::operator_region(region)
                .await
                .map_err(Failure::bad_input)?;
            Store::new(location, Some(&crate::cloud::sdk_config(&region).await))
        }
        Location::File { .. } => Store::new(location, None),
    })
}

fn report(f: &Failure) -> i32 {
    tracing::error!("{}", f.message);
    f.kind.exit_code()
}
