//! `mesos-boot`: parse the command line, set up logging, run the command, exit with its code.

use clap::{CommandFactory, FromArgMatches};

use mesos_boot::config::cli::{self, Cli, LogFormat};

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
    if let Err(e) = cli::check_subcommand_flags(&matches) {
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
    let code = runtime.block_on(mesos_boot::cmd::run(cli, matches));
    std::process::exit(code);
}
