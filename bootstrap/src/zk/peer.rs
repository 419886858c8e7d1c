//! A ZooKeeper member as mesos-boot talks to it, and the ensemble a shared config lists.

use crate::failure::Result;
use crate::store::{ServerKind, SharedConfig};

/// One ZooKeeper server as clients and four-letter words reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its server id (`server.<id>`).
    pub id: u32,
    /// `host:client-port`.
    pub addr: String,
    /// A voting member (participant), not an observer.
    pub voter: bool,
}

impl Peer {
    pub fn new(id: u32, addr: impl Into<String>, voter: bool) -> Self {
        Peer {
            id,
            addr: addr.into(),
            voter,
        }
    }
}

/// Every server the shared config lists, at its client port.
pub fn ensemble_of(config: &SharedConfig) -> Result<Vec<Peer>> {
    let port = config.client_port()?;
    let servers = config.servers()?;
    Ok(servers
        .into_iter()
        .map(|s| {
            let voter = s.kind == ServerKind::Standard;
            Peer::new(s.id, format!("{}:{port}", s.host), voter)
        })
        .collect())
}

/// `h1:2181,h2:2181` for a ZooKeeper client.
pub fn hosts(ensemble: &[Peer]) -> String {
    ensemble
        .iter()
        .map(|p| p.addr.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// `host:port` of server `id`'s client address in a dynamic config.
pub(crate) fn client_addr(dynamic: &str, id: u32) -> Option<String> {
    dynamic.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(&format!("server.{id}="))?;
        let client = rest.split_once(';')?.1.trim();
        let (host, port) = client.rsplit_once(':').unwrap_or(("", client));
        let host = if host.is_empty() || host == "0.0.0.0" {
            rest.split(':').next()?
        } else {
            host
        };
        Some(format!("{host}:{port}"))
    })
}
