//! Exhibitor's shared-config model: its key layout, its 22 settings and their defaults,
//! `servers-spec` and `zoo-cfg-extra`.
//!
//! Reads every layout Exhibitor users have in the wild (both prefixes, root prefix only,
//! `--defaultconfig` names without prefix) and writes the layout Exhibitor writes: all 22
//! settings under both prefixes plus the rolling-hostnames keys. Unknown keys are kept.
//! Unlike Exhibitor, malformed values are errors that name the key, never silently dropped.

use std::collections::BTreeMap;
use std::fmt;

use crate::properties;

pub const ROOT_PREFIX: &str = "com.netflix.exhibitor.";
pub const ROLLING_PREFIX: &str = "com.netflix.exhibitor-rolling.";
pub const ROLLING_HOSTNAMES: &str = "com.netflix.exhibitor-rolling-hostnames";
pub const ROLLING_HOSTNAMES_INDEX: &str = "com.netflix.exhibitor-rolling-hostnames-index";

/// Exhibitor's 22 settings with their defaults, in Exhibitor's order.
pub const SETTINGS: [(&str, &str); 22] = [
    ("log-index-directory", ""),
    ("zookeeper-install-directory", ""),
    ("zookeeper-data-directory", ""),
    ("zookeeper-log-directory", ""),
    ("servers-spec", ""),
    ("backup-extra", ""),
    ("zoo-cfg-extra", "syncLimit=5&tickTime=2000&initLimit=10"),
    ("java-environment", ""),
    ("log4j-properties", ""),
    ("client-port", "2181"),
    ("connect-port", "2888"),
    ("election-port", "3888"),
    ("check-ms", "30000"),
    ("cleanup-period-ms", "43200000"),
    ("cleanup-max-files", "3"),
    ("backup-max-store-ms", "86400000"),
    ("backup-period-ms", "60000"),
    ("auto-manage-instances", "0"),
    ("auto-manage-instances-settling-period-ms", "180000"),
    ("observer-threshold", "999"),
    ("auto-manage-instances-fixed-ensemble-size", "0"),
    ("auto-manage-instances-apply-all-at-once", "1"),
];

fn is_setting(name: &str) -> bool {
    SETTINGS.iter().any(|(n, _)| *n == name)
}

fn default_of(name: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| *d)
        .unwrap_or("")
}

/// A malformed shared config, naming the key (or line) at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Syntax(#[from] properties::SyntaxError),
    #[error("key {key}: {message}")]
    Value { key: String, message: String },
}

fn value_error(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        key: format!("{ROOT_PREFIX}{name}"),
        message: message.into(),
    }
}

/// Whether a server votes or observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Standard,
    Observer,
}

/// One `servers-spec` item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Server {
    pub id: u32,
    pub host: String,
    pub kind: ServerKind,
}

impl fmt::Display for Server {
    /// Exhibitor's own writing: `id:host` for standard servers, `O:id:host` for observers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ServerKind::Standard => write!(f, "{}:{}", self.id, self.host),
            ServerKind::Observer => write!(f, "O:{}:{}", self.id, self.host),
        }
    }
}

/// Parses a `servers-spec` value. Every malformed item is reported (Exhibitor drops them).
pub fn parse_servers_spec(spec: &str) -> Result<Vec<Server>, String> {
    let mut servers: Vec<Server> = Vec::new();
    let mut problems = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let parts: Vec<&str> = item.split(':').map(str::trim).collect();
        let (kind, id, host) = match parts.as_slice() {
            [id, host] => (ServerKind::Standard, *id, *host),
            [code, id, host] if code.eq_ignore_ascii_case("s") => {
                (ServerKind::Standard, *id, *host)
            }
            [code, id, host] if code.eq_ignore_ascii_case("o") => {
                (ServerKind::Observer, *id, *host)
            }
            _ => {
                problems.push(format!("`{item}` is not `id:host` or `S|O:id:host`"));
                continue;
            }
        };
        let id = match id.parse::<u32>() {
            Ok(id) if (1..=255).contains(&id) => id,
            _ => {
                problems.push(format!("`{item}`: id `{id}` is not a number from 1 to 255"));
                continue;
            }
        };
        if let Err(why) = check_host(host) {
            problems.push(format!("`{item}`: {why}"));
            continue;
        }
        if let Some(other) = servers.iter().find(|s| s.id == id) {
            problems.push(format!("`{item}`: id {id} is already used by `{other}`"));
            continue;
        }
        if let Some(other) = servers.iter().find(|s| s.host.eq_ignore_ascii_case(host)) {
            problems.push(format!(
                "`{item}`: host {host} is already listed as `{other}`"
            ));
            continue;
        }
        servers.push(Server {
            id,
            host: host.to_string(),
            kind,
        });
    }
    if problems.is_empty() {
        Ok(servers)
    } else {
        Err(problems.join("; "))
    }
}

fn check_host(host: &str) -> Result<(), String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!("host `{host}` is not a hostname or IPv4 address"))
    }
}

/// Formats servers the way Exhibitor writes them.
pub fn format_servers_spec(servers: &[Server]) -> String {
    servers
        .iter()
        .map(Server::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses `zoo-cfg-extra` / `backup-extra`: `k=v&k=v`, each part URL-decoded.
pub fn parse_extra(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in value.split('&').filter(|i| !i.trim().is_empty()) {
        if !item.contains('=') {
            return Err(format!("item `{item}` has no `=`"));
        }
        let (k, v) = form_urlencoded::parse(item.as_bytes())
            .next()
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .unwrap_or_default();
        if k.is_empty() {
            return Err(format!("item `{item}` has an empty name"));
        }
        pairs.push((k, v));
    }
    Ok(pairs)
}

/// zoo.cfg keys mesos-boot writes itself: zoo-cfg-extra may not set them.
pub const OWNED_ZOO_KEYS: [&str; 9] = [
    "dataDir",
    "dataLogDir",
    "clientPort",
    "clientPortAddress",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "4lw.commands.whitelist",
    "admin.enableServer",
];

/// zoo.cfg's TLS keys (besides every `ssl.*`): mesos-boot's, from `mesos:zk-tls`.
pub const TLS_ZOO_KEYS: [&str; 6] = [
    "sslQuorum",
    "sslQuorumReloadCertFiles",
    "serverCnxnFactory",
    "secureClientPort",
    "secureClientPortAddress",
    "portUnification",
];

/// Prefixes of ZooKeeper's membership keys, which belong in the dynamic config (reconfig's).
pub const MEMBERSHIP_PREFIXES: [&str; 3] = ["server.", "group.", "weight."];

/// zoo-cfg-extra keys that would weaken the ensemble, and why.
pub const WEAKENING_ZOO_KEYS: [(&str, &str); 2] = [
    ("skipACL", "would turn off every ACL check"),
    (
        "DigestAuthenticationProvider.superDigest",
        "would name a superuser other than the one mesos-boot authenticates reconfig with",
    ),
];

/// Whether zoo-cfg-extra may set zoo.cfg key `key`; the error says why not.
pub fn check_zoo_cfg_key(key: &str) -> Result<(), String> {
    // ZooKeeper reads zoo.cfg with java.util.Properties.load: a key ends at the first `=`, `:`
    // or whitespace, and a backslash escapes (`skip\ACL` is `skipACL`). Only a plain key is
    // read as it is written, so only a plain key can be checked.
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !plain {
        return Err(format!(
            "`{key}` would not be read by ZooKeeper as it is written (zoo.cfg is read as Java \
             properties: escapes, `:` and whitespace make another key); use only letters, \
             digits, `.`, `_` and `-`"
        ));
    }
    if let Some((_, why)) = WEAKENING_ZOO_KEYS.iter().find(|(k, _)| *k == key) {
        return Err(format!("`{key}` {why}; remove it"));
    }
    if OWNED_ZOO_KEYS.contains(&key) {
        return Err(format!(
            "`{key}` is set by mesos-boot itself (zoo.cfg's owned keys: {}); remove it",
            OWNED_ZOO_KEYS.join(", ")
        ));
    }
    if TLS_ZOO_KEYS.contains(&key) || key.starts_with("ssl.") {
        return Err(format!(
            "`{key}` is TLS, which mesos-boot sets itself from the cluster CA (the mesos:zk-tls \
             tag); remove it"
        ));
    }
    if MEMBERSHIP_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return Err(format!(
            "`{key}` is membership, which is servers-spec's and ZooKeeper's dynamic config's; \
             remove it"
        ));
    }
    Ok(())
}

/// The inverse of [`parse_extra`].
pub fn format_extra(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let k: String = form_urlencoded::byte_serialize(k.as_bytes()).collect();
            let v: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The shared config as read: live ("root") settings, the rolling copy, and unknown keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharedConfig {
    /// Live settings present in the object, by setting name.
    pub root: BTreeMap<String, String>,
    /// Settings of a rolling change, by setting name.
    pub rolling: BTreeMap<String, String>,
    pub rolling_hostnames: Option<String>,
    pub rolling_hostnames_index: Option<String>,
    /// Keys that are not Exhibitor settings, kept verbatim (full key).
    pub unknown: BTreeMap<String, String>,
}

impl SharedConfig {
    /// Parses properties text in any of Exhibitor's layouts.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let entries = properties::parse(text)?;
        let prefixed = entries
            .iter()
            .any(|e| e.key.starts_with("com.netflix.exhibitor"));
        let mut cfg = SharedConfig::default();
        for e in entries {
            let (key, value) = (e.key, e.value);
            if key == ROLLING_HOSTNAMES {
                cfg.rolling_hostnames = Some(value);
            } else if key == ROLLING_HOSTNAMES_INDEX {
                cfg.rolling_hostnames_index = Some(value);
            } else if let Some(name) = key.strip_prefix(ROOT_PREFIX).filter(|n| is_setting(n)) {
                cfg.root.insert(name.to_string(), value);
            } else if let Some(name) = key.strip_prefix(ROLLING_PREFIX).filter(|n| is_setting(n)) {
                cfg.rolling.insert(name.to_string(), value);
            } else if !prefixed && is_setting(&key) {
                cfg.root.insert(key, value);
            } else {
                cfg.unknown.insert(key, value);
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every value mesos-boot relies on, so that a bad object fails at read time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.servers()?;
        self.client_port()?;
        self.connect_port()?;
        self.election_port()?;
        self.zoo_cfg_extra()?;
        Ok(())
    }

    /// A live setting, or Exhibitor's default.
    pub fn get(&self, name: &str) -> &str {
        self.root
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| default_of(name))
    }

    pub fn servers(&self) -> Result<Vec<Server>, ConfigError> {
        parse_servers_spec(self.get("servers-spec")).map_err(|m| value_error("servers-spec", m))
    }

    fn port(&self, name: &str) -> Result<u16, ConfigError> {
        let raw = self.get(name);
        match raw.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(value_error(name, format!("`{raw}` is not a TCP port"))),
        }
    }

    pub fn client_port(&self) -> Result<u16, ConfigError> {
        self.port("client-port")
    }

    pub fn connect_port(&self) -> Result<u16, ConfigError> {
        self.port("connect-port")
    }

    pub fn election_port(&self) -> Result<u16, ConfigError> {
        self.port("election-port")
    }

    /// zoo-cfg-extra's pairs; a key that would weaken the ensemble or that mesos-boot owns is
    /// an error naming it ([`check_zoo_cfg_key`]).
    pub fn zoo_cfg_extra(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let pairs =
            parse_extra(self.get("zoo-cfg-extra")).map_err(|m| value_error("zoo-cfg-extra", m))?;
        for (key, value) in &pairs {
            check_zoo_cfg_key(key).map_err(|m| value_error("zoo-cfg-extra", m))?;
            if value.contains('\\') {
                return Err(value_error(
                    "zoo-cfg-extra",
                    format!(
                        "`{key}`: its value holds a backslash, which ZooKeeper's properties \
                         reading takes as an escape or, at the end, as the start of a line \
                         continuation that joins the next setting; remove it"
                    ),
                ));
            }
        }
        Ok(pairs)
    }

    /// Whether a rolling change is in progress (Exhibitor's own notion).
    pub fn rolling_in_progress(&self) -> bool {
        self.rolling_hostnames
            .as_deref()
            .is_some_and(|h| !h.trim().is_empty())
    }

    /// Sets a live setting; while no roll is in progress the rolling copy follows, so that
    /// Exhibitor and its clients see one consistent config.
    pub fn set(&mut self, name: &str, value: String) {
        if !self.rolling_in_progress() {
            self.rolling.insert(name.to_string(), value.clone());
        }
        self.root.insert(name.to_string(), value);
    }

    pub fn set_servers(&mut self, servers: &[Server]) {
        self.set("servers-spec", format_servers_spec(servers));
    }

    /// Writes Exhibitor's full layout: all 22 settings under both prefixes, the rolling keys,
    /// then unknown keys; sorted, so equal configs give equal bytes.
    pub fn to_properties(&self, comments: &[String]) -> String {
        let mut pairs: BTreeMap<String, String> = BTreeMap::new();
        for (name, default) in SETTINGS {
            let live = self
                .root
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.into());
            let rolling = self
                .rolling
                .get(name)
                .cloned()
                .unwrap_or_else(|| live.clone());
            pairs.insert(format!("{ROOT_PREFIX}{name}"), live);
            pairs.insert(format!("{ROLLING_PREFIX}{name}"), rolling);
        }
        pairs.insert(
            ROLLING_HOSTNAMES.into(),
            self.rolling_hostnames.clone().unwrap_or_default(),
        );
        pairs.insert(
            ROLLING_HOSTNAMES_INDEX.into(),
            self.rolling_hostnames_index
                .clone()
                .unwrap_or_else(|| "0".into()),
        );
        for (k, v) in &self.unknown {
            pairs.entry(k.clone()).or_insert_with(|| v.clone());
        }
        properties::store(
            comments,
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(id: u32, host: &str) -> Server {
        Server {
            id,
            host: host.into(),
            kind: ServerKind::Standard,
        }
    }

    #[test]
    fn servers_spec_forms() {
        let s = parse_servers_spec(" 1:h1 , S:2:h2,o:3:h3,").unwrap();
        assert_eq!(s[0], std(1, "h1"));
        assert_eq!(s[1], std(2, "h2"));
        assert_eq!(s[2].kind, ServerKind::Observer);
        assert_eq!(format_servers_spec(&s), "1:h1,2:h2,O:3:h3");
        assert_eq!(parse_servers_spec("").unwrap(), vec![]);
    }

    #[test]
    fn servers_spec_reports_every_bad_item() {
        let err = parse_servers_spec("1:h1,x:h2,3:h1,1:h4,X:5:h5,6:bad/host,7").unwrap_err();
        for needle in [
            "`x:h2`",
            "host h1 is already",
            "id 1 is already",
            "`X:5:h5`",
            "bad/host",
            "`7`",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        assert!(parse_servers_spec("0:h").is_err());
        assert!(parse_servers_spec("256:h").is_err());
    }

    #[test]
    fn extra_round_trip_and_errors() {
        let pairs = parse_extra("syncLimit=5&tickTime=2000&a%20b=c%26d").unwrap();
        assert_eq!(pairs[2], ("a b".into(), "c&d".into()));
        assert_eq!(parse_extra(&format_extra(&pairs)).unwrap(), pairs);
        assert!(parse_extra("syncLimit").unwrap_err().contains("syncLimit"));
    }

    /// ZooKeeper reads zoo.cfg with `java.util.Properties.load`: escapes in a key, a `:` or
    /// whitespace inside it, or a trailing backslash that joins the next line would make
    /// ZooKeeper read another key (or value) than the one checked: `skip\ACL` is `skipACL`.
    #[test]
    fn zoo_cfg_extra_is_read_by_zookeeper_as_it_is_written() {
        let extra = |v: &str| {
            SharedConfig::parse(&format!("com.netflix.exhibitor.zoo-cfg-extra={v}\n"))
                .map(|c| c.zoo_cfg_extra().unwrap())
        };
        for (v, key) in [
            ("skip%5CACL\\=yes", "skip\\ACL"),
            ("skip%5Cu0041CL\\=yes", "skip\\u0041CL"),
            ("skip%20ACL\\=yes", "skip ACL"),
            ("skipACL%3Ax\\=yes", "skipACL:x"),
        ] {
            let err = extra(v).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "key com.netflix.exhibitor.zoo-cfg-extra: `{key}` "
                )),
                "{v}: {err}"
            );
        }
        let err = extra("tickTime\\=2000%5C&skipACL2\\=yes")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("key com.netflix.exhibitor.zoo-cfg-extra: `tickTime`: "),
            "{err}"
        );
        assert!(err.contains("backslash"), "{err}");
    }

    #[test]
    fn zoo_cfg_extra_may_not_weaken_the_ensemble_or_set_owned_keys() {
        let extra = |v: &str| {
            SharedConfig::parse(&format!("com.netflix.exhibitor.zoo-cfg-extra={v}\n"))
                .map(|c| c.zoo_cfg_extra().unwrap())
        };
        for (v, key) in [
            ("skipACL\\=yes", "skipACL"),
            ("skipACL\\=no", "skipACL"),
            (
                "tickTime\\=2000&DigestAuthenticationProvider.superDigest\\=super:abc",
                "DigestAuthenticationProvider.superDigest",
            ),
            ("dataDir\\=/x", "dataDir"),
            ("admin.enableServer\\=true", "admin.enableServer"),
            ("server.4\\=h:1:2", "server.4"),
            ("weight.1\\=0", "weight.1"),
            ("sslQuorum\\=false", "sslQuorum"),
            (
                "ssl.quorum.hostnameVerification\\=true",
                "ssl.quorum.hostnameVerification",
            ),
            ("secureClientPort\\=2282", "secureClientPort"),
        ] {
            let err = extra(v).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "key com.netflix.exhibitor.zoo-cfg-extra: `{key}` "
                )),
                "{err}"
            );
        }
        let ok = extra("tickTime\\=2000&leaderServes\\=no&quorumListenOnAllIPs\\=true").unwrap();
        assert_eq!(ok.len(), 3);
    }

    #[test]
    fn bad_port_names_the_key() {
        let err = SharedConfig::parse("com.netflix.exhibitor.client-port=21x81\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "key com.netflix.exhibitor.client-port: `21x81` is not a TCP port"
        );
    }

    #[test]
    fn write_then_read_is_identity_and_stable() {
        let mut cfg =
            SharedConfig::parse("com.netflix.exhibitor.check-ms=2000\nmy.own.key=kept\n").unwrap();
        cfg.set_servers(&[std(1, "10.0.0.1"), std(2, "10.0.0.2")]);
        let text = cfg.to_properties(&["Auto-generated by mesos-boot test".into()]);
        let back = SharedConfig::parse(&text).unwrap();
        assert_eq!(back.servers().unwrap(), cfg.servers().unwrap());
        assert_eq!(back.get("check-ms"), "2000");
        assert_eq!(
            back.unknown.get("my.own.key").map(String::as_str),
            Some("kept")
        );
        assert_eq!(back.root.len(), 22);
        assert_eq!(back.rolling.len(), 22);
        assert_eq!(
            back.to_properties(&[]),
            cfg.to_properties(&[])
                .replace("#Auto-generated by mesos-boot test\n", "")
        );
        // Exhibitor's key layout: 46 keys plus the unknown one.
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 47);
    }

    /// Every real Exhibitor file we ship as a fixture loads, with the right values.
    #[test]
    fn real_exhibitor_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/exhibitor/");
        let load = |name: &str| std::fs::read_to_string(format!("{dir}{name}")).unwrap();
        let extra = |cfg: &SharedConfig| cfg.zoo_cfg_extra().unwrap();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());

        let full = SharedConfig::parse(&load("full-46-keys.properties")).unwrap();
        assert_eq!(full.root.len(), 22);
        assert_eq!(full.rolling.len(), 22);
        assert_eq!(full.servers().unwrap(), vec![]);
        assert_eq!(
            (
                full.client_port(),
                full.connect_port(),
                full.election_port()
            ),
            (Ok(2181), Ok(2888), Ok(3888))
        );
        assert_eq!(
            extra(&full),
            vec![
                pair("syncLimit", "5"),
                pair("tickTime", "2000"),
                pair("initLimit", "10")
            ]
        );
        assert_eq!(
            full.get("zookeeper-data-directory"),
            "/opt/moldata/zookeeper/snapshot"
        );
        assert_eq!(
            full.rolling["zookeeper-data-directory"],
            "/opt/moldata/zookeeper/rolling-data-dir"
        );
        assert_eq!(
            full.get("backup-extra"),
            "directory=/opt/moldata/zookeeper/backup-extra"
        );
        assert!(!full.rolling_in_progress());
        // Writing it back keeps every value, the rolling copy included.
        assert_eq!(SharedConfig::parse(&full.to_properties(&[])).unwrap(), full);

        let root_only = SharedConfig::parse(&load("root-keys-only.properties")).unwrap();
        assert_eq!(
            root_only.get("java-environment"),
            "export JAVA_OPTS=\"-Xms1000m -Xmx1000m\""
        );
        assert_eq!(root_only.get("check-ms"), "2000");
        assert_eq!(
            root_only.get("backup-period-ms"),
            "60000",
            "absent keys fall back to defaults"
        );
        assert_eq!(root_only.client_port(), Ok(2181));
        assert_eq!(extra(&root_only).len(), 3);

        let unprefixed = SharedConfig::parse(&load("defaultconfig-unprefixed.properties")).unwrap();
        assert_eq!(
            unprefixed.get("zookeeper-data-directory"),
            "/zookeeper/data"
        );
        assert_eq!(unprefixed.get("observer-threshold"), "3");
        assert_eq!(extra(&unprefixed)[3], pair("quorumListenOnAllIPs", "true"));
        assert!(unprefixed.unknown.is_empty());

        let dcos = load("dcos-defaults.template")
            .replace("{zookeeper_data_dir}", "/var/lib/dcos/exhibitor/zookeeper")
            .replace("{zookeeper_log_dir}", "/var/lib/dcos/exhibitor/zookeeper")
            .replace("{check_ms}", "30000")
            .replace("{zookeeper_cluster_size}", "3");
        let dcos = SharedConfig::parse(&dcos).unwrap();
        assert_eq!(dcos.get("auto-manage-instances-fixed-ensemble-size"), "3");
        assert_eq!(
            dcos.unknown["zookeeper-pid-path"],
            "/var/lib/dcos/exhibitor/zk.pid"
        );
        assert_eq!(dcos.unknown.len(), 2);
        assert_eq!(extra(&dcos).len(), 7);
        // Unknown keys survive a write.
        let back = SharedConfig::parse(&dcos.to_properties(&[])).unwrap();
        assert_eq!(back.unknown, dcos.unknown);
    }
}
