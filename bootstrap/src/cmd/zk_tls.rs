//! `mesos-boot zk-tls`: the cluster CA's authorities, the certificates clients trust, or a
//! rotation's step; never a key.

use crate::failure::{Failure, Result};

/// `mesos-boot zk-tls`: the CA's authorities, the certificates clients trust, or a rotation's
/// step; never a key.
pub async fn run(
    action: crate::config::cli::ZkTlsAction,
    url: &str,
    region: Option<&str>,
) -> Result<()> {
    use crate::config::cli::ZkTlsAction;
    use crate::zk::tls;
    let store = super::store_at(url, region).await?;
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
