//! `mesos-boot status`: the last boot record and a live look at the ensemble (and, for
//! masters and agents, the leading master).

use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::node::record;
use crate::zk::four_letter;
use crate::zk::peer::Peer;

/// Prints the status; `Ok(true)` when the live check is healthy.
pub async fn run(root: &Path, json: bool, timeout: Duration) -> Result<bool> {
    let rec = record::load(root).map_err(|e| Failure::bad_input(format!("no boot record: {e}")))?;
    let recorded: Vec<Peer> = rec
        .ensemble
        .iter()
        .map(|m| Peer::new(m.id, m.addr.clone(), m.voter))
        .collect();
    let (ensemble, members_from) = members(&recorded).await;
    let state = four_letter::ensemble_state(&ensemble).await;
    let wants_leader = matches!(rec.role.as_deref(), Some("master" | "agent"));
    let leader = if wants_leader && state.has_quorum {
        let zk_path = rec.zk_path.clone().unwrap_or_else(|| "/mesos".into());
        let hosts = crate::zk::peer::hosts(&ensemble);
        let auth = rendered_zk_credential(root);
        crate::mesos::leader::wait_leader(&hosts, &zk_path, auth.as_ref(), Instant::now() + timeout)
            .await
            .ok()
    } else {
        None
    };
    let healthy = state.has_quorum && (!wants_leader || leader.is_some());
    if json {
        let out = serde_json::json!({
            "boot": rec,
            "live": {
                "ensemble": state,
                "members_from": members_from,
                "leader": leader,
                "healthy": healthy,
            },
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return Ok(healthy);
    }
    let total: u64 = rec.steps.iter().map(|s| s.ms).sum();
    println!(
        "{} node {} of cluster {}: {} at {} ({} ms)",
        rec.role.as_deref().unwrap_or("?"),
        rec.identity["hostname"]["value"].as_str().unwrap_or("?"),
        rec.cluster.as_deref().unwrap_or("?"),
        rec.result,
        rec.finished_at,
        total
    );
    if let Some(err) = &rec.error {
        println!("  last error: {err}");
    }
    if let Some(sc) = &rec.shared_config {
        let read = match (sc["version"].as_str(), sc["unreadable"].as_str()) {
            (Some(v), _) => format!("version {v}"),
            (None, Some(why)) => format!("unreadable at boot, started from local state: {why}"),
            (None, None) => "version ?".to_string(),
        };
        println!(
            "  shared config: {} ({read})",
            sc["location"].as_str().unwrap_or("?")
        );
    }
    for step in &rec.steps {
        println!("  step {:<18} {:>7} ms", step.name, step.ms);
    }
    println!(
        "ZooKeeper ensemble ({members_from}): {}",
        if state.has_quorum {
            "has quorum"
        } else {
            "NO QUORUM"
        }
    );
    for s in &state.servers {
        let mode = serde_json::to_value(s.mode)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        println!(
            "  server.{:<3} {:<22} {:<9} {}",
            s.id,
            s.addr,
            if s.voter { "voter" } else { "observer" },
            mode
        );
    }
    if wants_leader {
        match &leader {
            Some(m) => println!(
                "Leading master: {} {}:{} ({})",
                m.hostname, m.ip, m.port, m.znode
            ),
            None => println!("Leading master: none registered"),
        }
    }
    Ok(healthy)
}

/// The members to check: the running ensemble's (`/zookeeper/config`, read without
/// credentials through any member recorded at boot) when it can be read, else those recorded
/// at boot. Members replaced since the boot are not missing voters.
async fn members(recorded: &[Peer]) -> (Vec<Peer>, &'static str) {
    let addrs: Vec<String> = recorded.iter().map(|p| p.addr.clone()).collect();
    let port = recorded
        .first()
        .and_then(|p| p.addr.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let look = crate::serve::reconcile::live_config(&addrs);
    match (
        port,
        tokio::time::timeout(Duration::from_secs(5), look).await,
    ) {
        (Some(port), Ok(Some(live))) if !live.members.is_empty() => {
            (crate::zk::admin::peers(&live, port), "live membership")
        }
        _ => (recorded.to_vec(), "members recorded at boot"),
    }
}

/// The digest credential in the rendered `/etc/mesos/zk` (`zk://user:secret@…`), which lets
/// the live check list `/mesos` as this node's Mesos does.
fn rendered_zk_credential(root: &Path) -> Option<crate::mesos::credentials::Credentials> {
    let text = std::fs::read_to_string(crate::node::paths::under(
        root,
        crate::node::paths::MESOS_ZK,
    ))
    .ok()?;
    let rest = text.trim().strip_prefix("zk://")?;
    let (userinfo, _) = rest.split_once('@')?;
    let (user, secret) = userinfo.split_once(':')?;
    let current = crate::mesos::credentials::Credential::new(user, secret).ok()?;
    Some(crate::mesos::credentials::Credentials {
        current,
        previous: Vec::new(),
    })
}
