//! `mesos-boot credentials`: the principals, or a rotation's step; never a secret.

use crate::failure::{Failure, Result};

/// `mesos-boot credentials`: principals, or a rotation's step; never a secret.
pub async fn run(
    action: crate::config::cli::CredentialAction,
    url: &str,
    name: Option<&str>,
    region: Option<&str>,
) -> Result<()> {
    use crate::config::cli::CredentialAction;
    use crate::mesos::credentials::{self, Kind};
    let store = super::store_at(url, region).await?;
    let names: Vec<&str> = credentials::ALL.iter().map(|k| k.name).collect();
    let kind = |name: Option<&str>| -> Result<Kind> {
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
