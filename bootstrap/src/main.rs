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
            Some(Command::Restore {
                shared_config,
                backup,
                list,
                region,
            }) => match restore(&shared_config, backup.as_deref(), list, &region).await {
                Ok(()) => 0,
                Err(f) => report(&f),
            },
            Some(Command::Credentials {
                action,
                shared_config,
                name,
                region,
            }) => match credentials(action, &shared_config, name.as_deref(), &region).await {
                Ok(()) => 0,
                Err(f) => report(&f),
            },
            Some(Command::ZkTls {
                action,
                shared_config,
                region,
            }) => match zk_tls(action, &shared_config, &region).await {
                Ok(()) => 0,
                Err(f) => report(&f),
            },
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

/// `mesos-boot restore`: prints the sets, or the one the next ensemble will seed from.
async fn restore(url: &str, backup: Option<&str>, list: bool, region: &str) -> Result<(), Failure> {
    use mesos_boot::shared_config::{Location, Store};
    use mesos_boot::zookeeper::backup::{self, Backups};
    let location = Location::parse(url).map_err(Failure::bad_input)?;
    let sdk = boot::sdk_config(region).await;
    let store = Store::new(location, Some(&sdk));
    if list {
        let backups = Backups::of(&store)
            .ok_or_else(|| Failure::bad_input("no backup store for this shared config"))?;
        for m in backups.list().await.map_err(Failure::unreachable)? {
            println!(
                "{}  server.{}  zxid {:#x}  {} bytes  {} files",
                m.id,
                m.server,
                m.last_zxid,
                m.bytes,
                m.files.len()
            );
        }
        return Ok(());
    }
    let m = backup::prepare_restore(&store, backup)
        .await
        .map_err(Failure::bad_input)?;
    println!(
        "restore: {url} now names backup {} (server.{}, zxid {:#x}, {} bytes); its old membership \
         is cleared. Boot the new ZooKeeper members: those that form the next ensemble seed their \
         data from this backup before ZooKeeper starts.",
        m.id, m.server, m.last_zxid, m.bytes
    );
    Ok(())
}

/// `mesos-boot zk-tls`: the CA's authorities, the certificates clients trust, or a rotation's
/// step; never a key.
async fn zk_tls(
    action: mesos_boot::cli::ZkTlsAction,
    url: &str,
    region: &str,
) -> Result<(), Failure> {
    use mesos_boot::cli::ZkTlsAction;
    use mesos_boot::zookeeper::tls;
    let store = store_at(url, region).await?;
    let ca = match action {
        ZkTlsAction::List | ZkTlsAction::Trust => match tls::read(&store).await? {
            Some(ca) => ca,
            None => {
                return Err(Failure::bad_input(format!(
                    "{url}{}: not created yet (ZooKeeper nodes with mesos:zk-tls create it on \
                     their first boot)",
                    tls::SUFFIX
                )))
            }
        },
        ZkTlsAction::Rotate => tls::rotate(&store).await?,
        ZkTlsAction::Promote => tls::promote(&store).await?,
        ZkTlsAction::Retire => tls::retire(&store).await?,
    };
    if let ZkTlsAction::Trust = action {
        print!("{}", ca.trust_bundle());
        return Ok(());
    }
    for a in ca.list() {
        let role = if a.issuing { "issues" } else { "trusted" };
        println!("{role}: {} (valid until {})", a.subject, a.not_after);
    }
    let next = match action {
        ZkTlsAction::Rotate => Some(
            "re-run mesos-boot on every ZooKeeper node, one at a time \
             (they now trust both); then `mesos-boot zk-tls promote`",
        ),
        ZkTlsAction::Promote => Some(
            "re-run mesos-boot on every ZooKeeper node, one at a time \
             (each gets a certificate from the new authority); then `mesos-boot zk-tls retire`",
        ),
        ZkTlsAction::Retire => Some(
            "re-run mesos-boot on every ZooKeeper node, one at a time: \
             the old authority is no longer trusted after",
        ),
        _ => None,
    };
    if let Some(next) = next {
        println!("next: {next}");
    }
    Ok(())
}

/// The store at `url` (s3:// or a file path).
async fn store_at(url: &str, region: &str) -> Result<mesos_boot::shared_config::Store, Failure> {
    use mesos_boot::shared_config::{Location, Store};
    let location = Location::parse(url).map_err(Failure::bad_input)?;
    Ok(match location {
        Location::S3 { .. } => Store::new(location, Some(&boot::sdk_config(region).await)),
        Location::File { .. } => Store::new(location, None),
    })
}

/// `mesos-boot credentials`: principals, or a rotation's step; never a secret.
async fn credentials(
    action: mesos_boot::cli::CredentialAction,
    url: &str,
    name: Option<&str>,
    region: &str,
) -> Result<(), Failure> {
    use mesos_boot::cli::CredentialAction;
    use mesos_boot::credentials::{self, Kind};
    let store = store_at(url, region).await?;
    let names: Vec<&str> = credentials::ALL.iter().map(|k| k.name).collect();
    let kind = |name: Option<&str>| -> Result<Kind, Failure> {
        let name = name.ok_or_else(|| {
            Failure::bad_input(format!("name the credential: one of {}", names.join(", ")))
        })?;
        Kind::named(name).ok_or_else(|| {
            Failure::bad_input(format!(
                "`{name}` is not a credential: one of {}",
                names.join(", ")
            ))
        })
    };
    let show = |k: Kind, c: &credentials::Credentials| {
        let old: Vec<&str> = c.previous.iter().map(|p| p.principal.as_str()).collect();
        let accepted = if old.is_empty() {
            String::new()
        } else {
            format!(" (still accepted: {})", old.join(", "))
        };
        println!("{}: {}{accepted}", k.name, c.current.principal);
    };
    match action {
        CredentialAction::List => {
            for k in credentials::ALL {
                match k.store(&store).read().await {
                    Ok(Some(snap)) => {
                        let url = k.store(&store).location().to_string();
                        let c = credentials::Credentials::parse(&snap.text, &url)
                            .map_err(Failure::bad_input)?;
                        show(k, &c)
                    }
                    Ok(None) => println!("{}: not created yet", k.name),
                    Err(e) => println!("{}: {e}", k.name),
                }
            }
        }
        CredentialAction::Create => {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            for k in credentials::ALL {
                let c = credentials::ensure(&store, k, deadline).await?;
                show(k, &c);
            }
        }
        CredentialAction::Rotate => {
            let k = kind(name)?;
            let c = credentials::rotate(&store, k).await?;
            show(k, &c);
            println!(
                "next: re-run mesos-boot on the masters (they accept both), then on the nodes that \
                 use it; then `mesos-boot credentials retire {url} {}`",
                k.name
            );
        }
        CredentialAction::Retire => {
            let k = kind(name)?;
            let c = credentials::retire(&store, k).await?;
            show(k, &c);
            println!("next: re-run mesos-boot on the masters: the old principal is refused after");
        }
    }
    Ok(())
}

fn report(f: &Failure) -> i32 {
    tracing::error!("{}", f.message);
    f.kind.exit_code()
}
