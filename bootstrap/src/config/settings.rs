//! Every setting resolved with one precedence: flag > environment (`MESOS_BOOT_*`) >
//! instance tag (`mesos:*`) > default, and where each value came from. Validation lives
//! here, so a bad value is reported naming the layer that gave it.

use std::collections::BTreeMap;
use std::fmt;

use crate::failure::{Failure, Result};
use crate::store::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Zookeeper,
    Master,
    Agent,
}

impl Role {
    pub fn unit(self) -> &'static str {
        match self {
            Role::Zookeeper => "zookeeper.service",
            Role::Master => "mesos-master.service",
            Role::Agent => "mesos-agent.service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Zookeeper => "zookeeper",
            Role::Master => "master",
            Role::Agent => "agent",
        })
    }
}

/// One setting's raw layers, before parsing.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    /// From flag or environment: `(value, "flag" | "env")`.
    pub cli: BTreeMap<&'static str, (String, &'static str)>,
    /// The instance's `mesos:*` tags (empty when none could be read).
    pub tags: BTreeMap<String, String>,
}

/// A resolved value and the layer that gave it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Provenance {
    pub value: String,
    pub source: String,
}

/// The settings of one boot.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    pub cluster: String,
    pub shared_config: Location,
    /// Number of masters (required for the master role).
    pub masters: Option<u32>,
    pub ensemble_size: Option<u32>,
    pub attributes: Vec<(String, String)>,
    pub containerizers: String,
    pub zk_path: String,
    /// `host:port` through which Mesos reaches ZooKeeper (the `zookeeper.<cluster>.<fqdn>` load
    /// balancer, whose targets Auto Scaling keeps current); `None`: the servers-spec addresses.
    pub zk_endpoint: Option<String>,
    /// ZooKeeper nodes: join as an observer (never a voter, never counted in the size).
    pub zk_observer: bool,
    /// ZooKeeper nodes: quorum TLS and the secure client port, from the cluster CA
    /// ([`crate::zk::tls`]).
    pub zk_tls: bool,
    /// Masters and agents: whether their read-only HTTP endpoints (`/state`, `/metrics/snapshot`)
    /// need a credential too (the read-write ones always do).
    pub http_readonly_auth: bool,
    /// Agents: how HTTP executors authenticate with the agent ([`crate::mesos::executors`]).
    pub executor_auth: ExecutorAuthMode,
    pub provenance: BTreeMap<&'static str, Provenance>,
}

impl Settings {
    /// Where setting `name` came from, as error messages name it: `--name`,
    /// `MESOS_BOOT_NAME`, `tag mesos:name` or `default of name`.
    pub fn origin(&self, name: &str) -> String {
        let source = self.provenance.get(name).map(|p| p.source.as_str());
        origin_of(name, source.unwrap_or("default"))
    }
}

/// How error messages name the origin of setting `name` from its [`Provenance`] source.
fn origin_of(name: &str, source: &str) -> String {
    match source {
        "flag" => format!("--{name}"),
        "env" => format!("MESOS_BOOT_{}", name.to_uppercase().replace('-', "_")),
        s if s.starts_with("tag:") => format!("tag {}", &s[4..]),
        _ => format!("default of {name}"),
    }
}

/// `(setting, env var, tag)`; the flag is `--<setting>`.
const SETTINGS: [(&str, &str); 13] = [
    ("role", "mesos:role"),
    ("cluster", "mesos:cluster"),
    ("shared-config", "mesos:shared-config"),
    ("masters", "mesos:masters"),
    ("ensemble-size", "mesos:ensemble-size"),
    ("attributes", "mesos:attributes"),
    ("containerizers", "mesos:containerizers"),
    ("zk-path", "mesos:zk-path"),
    ("zk-endpoint", "mesos:zk-endpoint"),
    ("zk-observer", "mesos:zk-observer"),
    ("zk-tls", "mesos:zk-tls"),
    ("http-readonly-auth", "mesos:http-readonly-auth"),
    ("executor-auth", "mesos:executor-auth"),
];

/// `executor-auth`: how an agent's HTTP executors authenticate with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorAuthMode {
    /// `token` when the node's Mesos agent has it, `none` when not.
    Auto,
    /// Tokens the agent signs (Mesos built with SSL).
    Token,
    /// None: the agent's read-write API asks no credential.
    None,
}

struct Resolver<'a> {
    raw: &'a Raw,
    provenance: BTreeMap<&'static str, Provenance>,
}

impl Resolver<'_> {
    /// The value of `name` and a description of its origin for error messages.
    fn get(&mut self, name: &'static str, default: Option<&str>) -> Option<(String, String)> {
        let tag = SETTINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or("");
        let (value, source) = if let Some((v, src)) = self.raw.cli.get(name) {
            (v.clone(), src.to_string())
        } else if let Some(v) = self.raw.tags.get(tag) {
            (v.clone(), format!("tag:{tag}"))
        } else if let Some(d) = default {
            (d.to_string(), "default".into())
        } else {
            return None;
        };
        let origin = origin_of(name, &source);
        self.provenance.insert(
            name,
            Provenance {
                value: value.clone(),
                source,
            },
        );
        Some((value, origin))
    }

    fn required(&mut self, name: &'static str) -> Result<(String, String)> {
        let tag = SETTINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or("");
        match self.get(name, None) {
            Some((v, origin)) if !v.trim().is_empty() => Ok((v.trim().to_string(), origin)),
            Some((_, origin)) => Err(Failure::bad_input(format!("{origin} is empty"))),
            None => Err(Failure::bad_input(format!(
                "missing {name}: set instance tag {tag}, --{name} or MESOS_BOOT_{}",
                name.to_uppercase().replace('-', "_")
            ))),
        }
    }

    fn count(&mut self, name: &'static str) -> Result<Option<u32>> {
        match self.get(name, None) {
            None => Ok(None),
            Some((v, origin)) => match v.trim().parse::<u32>() {
                Ok(n) if (1..=255).contains(&n) => Ok(Some(n)),
                _ => Err(Failure::bad_input(format!(
                    "{origin}: `{v}` is not a count from 1 to 255"
                ))),
            },
        }
    }
}

/// Characters a value may not hold, because env files are read by systemd and by shells.
fn check_env_safe(origin: &str, v: &str) -> Result<()> {
    if let Some(c) = v
        .chars()
        .find(|c| matches!(c, '"' | '\\' | '$' | '`' | '\n' | '\r' | '\''))
    {
        return Err(Failure::bad_input(format!(
            "{origin}: `{v}` contains {c:?}, which is not allowed"
        )));
    }
    Ok(())
}

/// Whether a Mesos agent takes `v` as an attribute value, as `Attributes::parse` reads it
/// (src/common/values.cpp `parse`, src/common/attributes.cpp): brackets must match; `[a-b,...]`
/// is ranges of unsigned integers; a set (`{...}`) or a `[`/`{` anywhere else aborts the agent;
/// a number (stout's `numify<double>`, hexadecimal included) is a scalar, which must be finite,
/// not negative and not subnormal (src/common/validation.cpp `validateInputScalarValue`);
/// anything else is text.
fn mesos_attribute_value(v: &str) -> std::result::Result<(), &'static str> {
    let mut depth = [0i32; 3];
    for c in v.chars() {
        let (i, step) = match c {
            '{' => (0, 1),
            '}' => (0, -1),
            '[' => (1, 1),
            ']' => (1, -1),
            '(' => (2, 1),
            ')' => (2, -1),
            _ => continue,
        };
        depth[i] += step;
        if depth[i] < 0 {
            return Err("has mismatched brackets, which Mesos refuses");
        }
    }
    if depth != [0, 0, 0] {
        return Err("has mismatched brackets, which Mesos refuses");
    }
    if v.starts_with('[') {
        let bounds: Vec<&str> = v
            .split(['[', ']', '-', ','])
            .filter(|t| !t.is_empty())
            .collect();
        let integers = bounds.iter().all(|t| t.parse::<u64>().is_ok());
        if bounds.is_empty() || bounds.len() % 2 != 0 || !integers {
            return Err("is not ranges of unsigned integers (`[a-b]`), which Mesos refuses");
        }
        return Ok(());
    }
    if v.contains(['[', '{']) {
        return Err("is a set or has a bracket inside, which a Mesos attribute cannot be");
    }
    let hex = |s: &str| {
        let (neg, digits) = match s.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, s),
        };
        let digits = digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))?;
        let n = u64::from_str_radix(digits, 16).ok()? as f64;
        Some(if neg { -n } else { n })
    };
    match hex(v).or_else(|| v.parse::<f64>().ok()) {
        Some(x) if x.is_nan() || x.is_infinite() => {
            Err("is a NaN or infinite number, which Mesos refuses")
        }
        Some(x) if x < 0.0 => Err("is a negative number, which Mesos refuses"),
        Some(x) if x.is_subnormal() => Err("is a subnormal number, which Mesos refuses"),
        _ => Ok(()),
    }
}

/// Parses `k:v;k:v` agent attributes.
pub fn parse_attributes(origin: &str, v: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for item in v.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, val)) = item.split_once(':') else {
            return Err(Failure::bad_input(format!(
                "{origin}: attribute `{item}` is not `key:value`"
            )));
        };
        let (k, val) = (k.trim(), val.trim());
        let key_ok = !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !key_ok || val.is_empty() || val.contains([':', ';', ' ', ',']) {
            return Err(Failure::bad_input(format!(
                "{origin}: attribute `{item}` is not `key:value`"
            )));
        }
        if out.iter().any(|(o, _)| o == k) {
            return Err(Failure::bad_input(format!(
                "{origin}: attribute `{k}` is given twice"
            )));
        }
        mesos_attribute_value(val).map_err(|why| {
            Failure::bad_input(format!("{origin}: attribute `{k}`: `{val}` {why}"))
        })?;
        out.push((k.to_string(), val.to_string()));
    }
    Ok(out)
}

/// Resolves all settings.
/// The settings a boot record kept (`settings`: name → `{value, source}`), resolved again (what
/// `serve` renders zoo.cfg with for a rolling change).
pub fn from_record(kept: &serde_json::Value) -> Result<Settings> {
    let mut raw = Raw::default();
    for (name, _) in SETTINGS {
        if let Some(v) = kept[name]["value"].as_str() {
            raw.cli.insert(name, (v.to_string(), "record"));
        }
    }
    resolve(&raw)
}

pub fn resolve(raw: &Raw) -> Result<Settings> {
    let mut r = Resolver {
        raw,
        provenance: BTreeMap::new(),
    };
    let (role, origin) = r.required("role")?;
    let role = match role.to_ascii_lowercase().as_str() {
        "zookeeper" => Role::Zookeeper,
        "master" => Role::Master,
        "agent" | "slave" => Role::Agent,
        other => {
            return Err(Failure::bad_input(format!(
                "{origin}: unknown role `{other}` (expected zookeeper, master or agent)"
            )))
        }
    };
    let (cluster, origin) = r.required("cluster")?;
    if !cluster
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::bad_input(format!(
            "{origin}: cluster name `{cluster}` may use only letters, digits, `-` and `_`"
        )));
    }
    let (url, origin) = r.required("shared-config")?;
    let shared_config =
        Location::parse(&url).map_err(|e| Failure::bad_input(format!("{origin}: {e}")))?;
    let masters = r.count("masters")?;
    if role == Role::Master && masters.is_none() {
        return Err(Failure::bad_input(
            "missing masters (the master count decides the quorum): set instance tag mesos:masters, \
             --masters or MESOS_BOOT_MASTERS",
        ));
    }
    if let (Role::Master, Some(n)) = (role, masters) {
        if n % 2 == 0 {
            let (_, origin) = r.get("masters", None).unwrap_or_default();
            return Err(Failure::bad_input(format!(
                "{origin}: {n} masters need a quorum of {}, and tolerate no more failures than {} \
                 would: run an odd number of masters",
                master_quorum(n),
                n - 1
            )));
        }
    }
    let ensemble_size = r.count("ensemble-size")?;
    let attributes = match r.get("attributes", Some("")) {
        Some((v, origin)) => {
            check_env_safe(&origin, &v)?;
            parse_attributes(&origin, &v)?
        }
        None => Vec::new(),
    };
    let (containerizers, origin) = r.get("containerizers", Some("mesos")).unwrap_or_default();
    // The agent splits the flag on `,` and takes each name as it is (no trimming), once.
    let known = ["mesos", "docker"];
    let names: Vec<&str> = containerizers.split(',').collect();
    let duplicate = names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n));
    if duplicate || names.iter().any(|c| !known.contains(c)) {
        return Err(Failure::bad_input(format!(
            "{origin}: `{containerizers}` is not a comma list of mesos, docker (each at most \
             once, no spaces)"
        )));
    }
    let (zk_path, origin) = r.get("zk-path", Some("/mesos")).unwrap_or_default();
    let path_ok = zk_path.starts_with('/')
        && zk_path.len() > 1
        && !zk_path.ends_with('/')
        && zk_path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if !path_ok {
        return Err(Failure::bad_input(format!(
            "{origin}: `{zk_path}` is not a ZooKeeper path like /mesos"
        )));
    }
    let zk_endpoint = match r.get("zk-endpoint", None) {
        Some((ep, origin)) => Some(endpoint(&ep).map_err(|why| {
            Failure::bad_input(format!("{origin}: `{ep}` is not host:port ({why})"))
        })?),
        None => None,
    };
    let mut flag = |name: &'static str, default: &str| -> Result<bool> {
        let (value, origin) = r.get(name, Some(default)).unwrap_or_default();
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(Failure::bad_input(format!(
                "{origin}: `{value}` is not true or false"
            ))),
        }
    };
    let zk_observer = flag("zk-observer", "false")?;
    let zk_tls = flag("zk-tls", "false")?;
    let http_readonly_auth = flag("http-readonly-auth", "true")?;
    let (mode, origin) = r.get("executor-auth", Some("auto")).unwrap_or_default();
    let executor_auth = match mode.trim().to_ascii_lowercase().as_str() {
        "auto" => ExecutorAuthMode::Auto,
        "token" => ExecutorAuthMode::Token,
        "none" => ExecutorAuthMode::None,
        _ => {
            return Err(Failure::bad_input(format!(
                "{origin}: `{mode}` is not auto, token or none"
            )))
        }
    };
    Ok(Settings {
        role,
        cluster,
        shared_config,
        masters,
        ensemble_size,
        attributes,
        containerizers,
        zk_path,
        zk_endpoint,
        zk_observer,
        zk_tls,
        http_readonly_auth,
        executor_auth,
        provenance: r.provenance,
    })
}

/// A `host:port` (a DNS name or an IPv4 address, a port 1-65535), trimmed.
fn endpoint(v: &str) -> std::result::Result<String, &'static str> {
    let v = v.trim();
    let (host, port) = v.rsplit_once(':').ok_or("no port")?;
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok {
        return Err("not a host name");
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(v.to_string()),
        _ => Err("not a port"),
    }
}

/// Quorum of the Mesos replicated log for `masters` masters: a strict majority.
pub fn master_quorum(masters: u32) -> u32 {
    masters / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(cli: &[(&'static str, &str, &'static str)], tags: &[(&str, &str)]) -> Raw {
        Raw {
            cli: cli
                .iter()
                .map(|(k, v, s)| (*k, (v.to_string(), *s)))
                .collect(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_zookeeper_endpoint_is_host_and_port_or_named_as_bad() {
        let base = [BASE.as_slice(), &[("mesos:masters", "3")]].concat();
        let mut tags = base.clone();
        tags.push(("mesos:zk-endpoint", "zookeeper.prod.example.com:2181"));
        let s = resolve(&raw(&[], &tags)).unwrap();
        assert_eq!(
            s.zk_endpoint.as_deref(),
            Some("zookeeper.prod.example.com:2181")
        );
        assert_eq!(resolve(&raw(&[], &base)).unwrap().zk_endpoint, None);
        for bad in [
            "zookeeper.prod",
            "zk..x:2181",
            "zk:0",
            "zk:99999",
            ":2181",
            "zk_1:2181",
        ] {
            let mut tags = base.clone();
            tags.push(("mesos:zk-endpoint", bad));
            let e = resolve(&raw(&[], &tags)).unwrap_err().message;
            assert!(
                e.contains("tag mesos:zk-endpoint") && e.contains(bad),
                "{e}"
            );
        }
        // The flag wins over the tag.
        let mut tags = base.clone();
        tags.push(("mesos:zk-endpoint", "bad"));
        let s = resolve(&raw(&[("zk-endpoint", "10.0.0.9:2181", "flag")], &tags)).unwrap();
        assert_eq!(s.zk_endpoint.as_deref(), Some("10.0.0.9:2181"));
    }

    const BASE: [(&str, &str); 3] = [
        ("mesos:role", "master"),
        ("mesos:cluster", "prod"),
        ("mesos:shared-config", "s3://bucket/exhibitor.properties"),
    ];

    #[test]
    fn flag_beats_env_beats_tag_beats_default() {
        let mut tags = BASE.to_vec();
        tags.push(("mesos:masters", "3"));
        tags.push(("mesos:cluster", "from-tag"));
        let s = resolve(&raw(
            &[("cluster", "from-flag", "flag"), ("masters", "5", "env")],
            &tags,
        ))
        .unwrap();
        assert_eq!(s.cluster, "from-flag");
        assert_eq!(s.provenance["cluster"].source, "flag");
        assert_eq!(s.masters, Some(5));
        assert_eq!(s.provenance["masters"].source, "env");
        assert_eq!(s.provenance["role"].source, "tag:mesos:role");
        assert_eq!(s.zk_path, "/mesos");
        assert_eq!(s.provenance["zk-path"].source, "default");
        assert_eq!(master_quorum(5), 3);
        assert_eq!(master_quorum(3), 2);
        assert_eq!(master_quorum(1), 1);
        assert_eq!(master_quorum(4), 3);
    }

    #[test]
    fn errors_name_the_tag_or_flag() {
        let err = |cli: &[(&'static str, &str, &'static str)], tags: &[(&str, &str)]| {
            resolve(&raw(cli, tags)).unwrap_err().message
        };
        assert!(err(&[], &BASE).contains("missing masters"));
        let mut tags = BASE.to_vec();
        tags.push(("mesos:masters", "three"));
        assert_eq!(
            err(&[], &tags),
            "tag mesos:masters: `three` is not a count from 1 to 255"
        );
        assert!(
            err(&[("role", "bogus", "flag")], &tags).starts_with("--role: unknown role `bogus`")
        );
        assert!(err(&[], &[]).contains("mesos:role"));
        let mut tags = BASE.to_vec();
        tags[2] = ("mesos:shared-config", "s3:/bucket");
        assert!(err(&[], &tags).starts_with("tag mesos:shared-config: `s3:/bucket`"));
        let mut tags = BASE.to_vec();
        tags[0] = ("mesos:role", "agent");
        tags.push(("mesos:attributes", "rack:r1;bad"));
        assert_eq!(
            err(&[], &tags),
            "tag mesos:attributes: attribute `bad` is not `key:value`"
        );
    }

    #[test]
    fn attribute_values_mesos_aborts_on_are_refused() {
        for ok in [
            "r1",
            "2.5",
            "0",
            "-0",
            "0x10",
            "[1000-2000]",
            "[1-2,5-9]",
            "a(b)",
            "us-east-1a",
        ] {
            assert!(mesos_attribute_value(ok).is_ok(), "{ok}");
        }
        for bad in [
            "{a}", "a{b}", "[1-x]", "[1-5", "a]", "[1-2-3]", "nan", "NaN", "inf", "-inf", "-2.5",
            "-0x5", "1e-310", "a[1]",
        ] {
            assert!(mesos_attribute_value(bad).is_err(), "{bad}");
        }
        let e = parse_attributes("tag mesos:attributes", "rack:r1;w:nan").unwrap_err();
        assert!(
            e.message
                .starts_with("tag mesos:attributes: attribute `w`: `nan` is a NaN"),
            "{}",
            e.message
        );
    }

    #[test]
    fn attributes_parse() {
        let a = parse_attributes("x", " rack:r1 ; gpu:true;").unwrap();
        assert_eq!(
            a,
            vec![("rack".into(), "r1".into()), ("gpu".into(), "true".into())]
        );
        assert!(parse_attributes("x", "a:1;a:2").is_err());
    }
}
