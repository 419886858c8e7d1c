//! ZooKeeper's membership text: the `/zookeeper/config` znode and the dynamic config file
//! (`zoo.cfg.dynamic[.<version>]`), both `server.N=host:quorum:election[:role][;client]`
//! lines (the znode adds `version=<hex zxid>`).

/// One server line of `/zookeeper/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u32,
    pub host: String,
    pub participant: bool,
}

/// `/zookeeper/config` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    pub members: Vec<Member>,
    /// `version=` (hex zxid of the config).
    pub version: String,
}

impl LiveConfig {
    pub fn member(&self, id: u32) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn voters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.participant)
    }
}

/// Parses `server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181` lines and `version=`.
pub fn parse_config(text: &str) -> std::result::Result<LiveConfig, String> {
    let mut members = Vec::new();
    let mut version = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("version=") {
            version = v.to_string();
            continue;
        }
        let bad = || format!("/zookeeper/config line {}: `{line}`", n + 1);
        let (key, value) = line.split_once('=').ok_or_else(bad)?;
        let Some(id) = key.strip_prefix("server.") else {
            continue;
        };
        let id: u32 = id.parse().map_err(|_| bad())?;
        let server = value.split(';').next().unwrap_or_default();
        let mut parts = server.split(':');
        let host = parts.next().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        let role = parts.nth(2).unwrap_or("participant");
        members.push(Member {
            id,
            host: host.to_string(),
            participant: role != "observer",
        });
    }
    members.sort_by_key(|m| m.id);
    Ok(LiveConfig { members, version })
}

/// The `server.N=...` line that adds a voting server.
pub fn server_line(id: u32, host: &str, ports: (u16, u16, u16)) -> String {
    server_line_as(id, host, ports, false)
}

/// [`server_line`] for a participant, or (`observer`) an observer.
pub fn server_line_as(id: u32, host: &str, ports: (u16, u16, u16), observer: bool) -> String {
    let (quorum, election, client) = ports;
    let role = if observer { "observer" } else { "participant" };
    format!("server.{id}={host}:{quorum}:{election}:{role};{host}:{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zookeepers_config_znode() {
        let cfg = parse_config(
            "server.1=127.0.0.11:2888:3888:participant;0.0.0.0:2181\n\
             server.3=127.0.0.13:2888:3888:observer;127.0.0.13:2181\n\
             server.2=127.0.0.12:2888:3888:participant;127.0.0.12:2181\n\
             version=100000003\n",
        )
        .unwrap();
        assert_eq!(cfg.version, "100000003");
        assert_eq!(
            cfg.members
                .iter()
                .map(|m| (m.id, m.host.as_str(), m.participant))
                .collect::<Vec<_>>(),
            vec![
                (1, "127.0.0.11", true),
                (2, "127.0.0.12", true),
                (3, "127.0.0.13", false)
            ]
        );
        assert_eq!(cfg.voters().count(), 2);
        assert!(parse_config("server.x=1.2.3.4:1:2\n")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn server_lines() {
        assert_eq!(
            server_line(4, "10.0.0.4", (2888, 3888, 2181)),
            "server.4=10.0.0.4:2888:3888:participant;10.0.0.4:2181"
        );
    }
}
