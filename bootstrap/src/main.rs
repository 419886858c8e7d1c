//! `mesos-boot`: parse the command line, set up logging, run, map the outcome to an exit code.

use clap::{CommandFactory, FromArgMatches};

use mesos_boot::cli::{Cli, Command, LogFormat};
use mesos_boot::failure::{self, Failure};
use mesos_boot::{boot, image, serve, status};

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MESOS_BOOT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        // journald stamps each line itself: plain lines, no time, no colour.
        LogFormat::Plain => builder.without_time().with_ansi(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn main() {
    let matches = Cli::command().get_matches();
    if let Err(e) = mesos_boot::cli::check_subcommand_flags(&matches) {
        e.exit()
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = runtime.block_on(async {
        match cli.command {
            Some(Command::Status { json, timeout }) => {
                match status::run(&cli.root, json, timeout).await {
                    Ok(true) => 0,
                    Ok(false) => failure::Kind::NoQuorum.exit_code(),
                    Err(f) => report(&f),
                }
            }
            Some(Command::CheckImage) => match image::run(&cli.root) {
                Ok(()) => 0,
                Err(f) => report(&f),
            },
            Some(Command::CheckLog { wait }) => {
                mesos_boot::zookeeper::divergence::check_before_start(&cli.root, wait).await;
                0
            }
            Some(Command::Serve(args)) => match serve::run(&cli.root, &args).await {
                Ok(()) => 0,
                Err(f) => report(&f),
            },
            None => match boot::Boot::new(cli.boot, matches, cli.root).run().await {
                Ok(_) => 0,
                Err(f) => report(&f),
            },
        }
    });
    std::process::exit(code);
}

fn report(f: &Failure) -> i32 {
    tracing::error!("{}", f.message);
    f.kind.exit_code()
}
