//! `mesos-boot restore`: lists the backup sets, or points the shared config at one for the
//! next ensemble.

use crate::failure::{Failure, Result};

/// `mesos-boot restore`: prints the sets, or the one the next ensemble will seed from.
pub async fn run(url: &str, backup: Option<&str>, list: bool, region: Option<&str>) -> Result<()> {
    use crate::membership::restore;
    use crate::zk::backups::Backups;
    let store = super::store_at(url, region).await?;
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
    let m = restore::prepare_restore(&store, backup)
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
