//! The ZooKeeper member's files: zoo.cfg, its dynamic part, myid, the service's environment,
//! the data directories and, with quorum TLS, the member's key and the trusted CAs.

use serde::Serialize;

use super::{file, Node, Output, Templates};
use crate::failure::{Failure, Result};
use crate::node::paths::{self, at, under, ZK_USER};
use crate::store::{ServerKind, SharedConfig};
use crate::zk::tls;

#[derive(Serialize)]
struct Pair {
    key: String,
    value: String,
}

#[derive(Serialize)]
struct ZkServer {
    id: u32,
    host: String,
    role: &'static str,
}

/// Trees whose directories belong to the system: mesos-boot (root) gives the data and log
/// directories to the zookeeper user, so neither may be one of these or inside one.
const SYSTEM_TREES: [&str; 15] = [
    "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/dev",
    "/proc", "/sys", "/run", "/root", "/home",
];

/// Directories that hold others' (or everyone's) directories: not one to give away, though a
/// directory inside them may be (`/tmp` not even that: anyone can create paths there).
const SHARED_DIRS: [&str; 7] = ["/", "/var", "/var/lib", "/opt", "/srv", "/mnt", "/media"];

/// A ZooKeeper directory setting: `None` when empty; an error naming the key unless it is an
/// absolute path that fits on a zoo.cfg line, with no `.` or `..` in it, and is neither a
/// system directory ([`SYSTEM_TREES`], `/tmp`) nor a shared parent ([`SHARED_DIRS`]): the
/// shared config must not be able to make mesos-boot hand `/etc` to the zookeeper user.
fn zk_dir(config: &SharedConfig, name: &str) -> Result<Option<String>> {
    let d = config.get(name).trim();
    if d.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| {
        Err(Failure::bad_input(format!(
            "key com.netflix.exhibitor.{name}: `{d}` {why}"
        )))
    };
    if !d.starts_with('/') || d.contains(|c: char| c.is_control()) {
        return bad("is not an absolute directory path");
    }
    if d.split('/').any(|part| part == "." || part == "..") {
        return bad("has a `.` or `..` in it: name the directory itself");
    }
    let plain = format!(
        "/{}",
        d.split('/')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/")
    );
    let inside = |tree: &str| plain == tree || plain.starts_with(&format!("{tree}/"));
    if SYSTEM_TREES
        .iter()
        .chain(&["/tmp", "/var/tmp"])
        .any(|t| inside(t))
    {
        return bad("is a system or world-writable directory, which mesos-boot will not give to the zookeeper user");
    }
    if SHARED_DIRS.contains(&plain.as_str()) {
        return bad("holds other directories, which mesos-boot will not give to the zookeeper user: name one inside it");
    }
    Ok(Some(d.to_string()))
}

/// ZooKeeper's own purge of old snapshots and transaction logs (`autopurge.*`), from
/// Exhibitor's `cleanup-max-files` (snapshots kept; ZooKeeper keeps at least 3) and
/// `cleanup-period-ms` (ZooKeeper purges at start, then every period in whole hours: rounded
/// up; 0 turns purging off). Defaults as Exhibitor's: 3 files, every 12 h. A key that
/// zoo-cfg-extra sets itself is left to it.
#[derive(Debug, Clone, Serialize)]
struct Purge {
    retain: Option<u64>,
    hours: Option<u64>,
}

fn purge_settings(config: &SharedConfig, extra: &[Pair]) -> Result<Purge> {
    let number = |name: &str| -> Result<u64> {
        let raw = config.get(name).trim();
        raw.parse::<u64>().map_err(|_| {
            Failure::bad_input(format!(
                "key com.netflix.exhibitor.{name}: `{raw}` is not a whole number"
            ))
        })
    };
    let set_by_extra = |key: &str| extra.iter().any(|p| p.key == key);
    let retain = number("cleanup-max-files")?.max(3);
    let period_ms = number("cleanup-period-ms")?;
    let hours = period_ms.div_ceil(3_600_000);
    Ok(Purge {
        retain: (!set_by_extra("autopurge.snapRetainCount")).then_some(retain),
        hours: (!set_by_extra("autopurge.purgeInterval")).then_some(hours),
    })
}

/// zoo-cfg-extra's lines, refused when one would break zoo.cfg. Keys mesos-boot owns and
/// keys that weaken the ensemble never get here: the shared config refuses them when it is
/// read (exhibitor::check_zoo_cfg_key).
fn extra(config: &SharedConfig) -> Result<Vec<Pair>> {
    let mut extra = Vec::new();
    for (key, value) in config.zoo_cfg_extra()? {
        if key.contains(['\n', '\r', '=']) || value.contains(['\n', '\r']) {
            return Err(Failure::bad_input(format!(
                "key com.netflix.exhibitor.zoo-cfg-extra: `{key}` would break zoo.cfg"
            )));
        }
        extra.push(Pair { key, value });
    }
    Ok(extra)
}

/// The ensemble's servers as zoo.cfg.dynamic lists them.
fn servers(config: &SharedConfig) -> Result<Vec<ZkServer>> {
    Ok(config
        .servers()?
        .into_iter()
        .map(|sv| ZkServer {
            id: sv.id,
            host: sv.host,
            role: match sv.kind {
                ServerKind::Standard => "participant",
                ServerKind::Observer => "observer",
            },
        })
        .collect())
}

/// Quorum TLS and the secure client port: the member's key and certificate (kept while still
/// right, else issued now) and every trusted CA certificate; `None` without TLS.
fn tls_files(node: &Node) -> Result<Option<(String, String)>> {
    let (s, id) = (node.settings, node.identity);
    match (s.zk_tls, node.zk_tls) {
        (false, _) => Ok(None),
        (true, None) => Err(Failure::internal("a TLS ZooKeeper render without the CA")),
        (true, Some(ca)) => {
            let names = tls::node_names(&id.ip.value, &id.hostname.value, s.zk_endpoint.as_deref());
            let existing = std::fs::read_to_string(under(node.root, tls::paths::NODE_PEM));
            let node_pem = ca
                .node_pem(&names, existing.ok().as_deref())
                .map_err(|e| Failure::internal(format!("ZooKeeper TLS: {e}")))?;
            Ok(Some((node_pem, ca.trust_bundle())))
        }
    }
}

/// Every file and directory of a ZooKeeper member.
/// What rendering a member would refuse in `config` alone (its directories, purge settings
/// and zoo-cfg-extra lines), each error naming the key: `mesos-boot config` checks a change
/// with it before writing.
pub fn check(config: &SharedConfig) -> Result<()> {
    let extra = extra(config)?;
    purge_settings(config, &extra)?;
    zk_dir(config, "zookeeper-data-directory")?;
    zk_dir(config, "zookeeper-log-directory")?;
    Ok(())
}

pub(super) fn plan(node: &Node, templates: &Templates) -> Result<Vec<Output>> {
    let (s, id) = (node.settings, node.identity);
    let myid = node
        .myid
        .ok_or_else(|| Failure::internal("zookeeper render without an id"))?;
    let extra = extra(node.config)?;
    let purge = purge_settings(node.config, &extra)?;
    // Exhibitor's zookeeper-data-directory is dataDir, its zookeeper-log-directory dataLogDir
    // (the transaction logs; empty: in dataDir). Both must be owned by the zookeeper user, or
    // ZooKeeper cannot write its snapshots and logs.
    let data_dir = match zk_dir(node.config, "zookeeper-data-directory")? {
        None => paths::ZK_DATA_DIR.to_string(),
        Some(d) => d,
    };
    let data_log_dir_path = zk_dir(node.config, "zookeeper-log-directory")?;
    let data_log_dir = data_log_dir_path.as_deref().map(|d| at(node.root, d));
    let tls_files = tls_files(node)?;
    let ctx = serde_json::json!({
        "cluster": s.cluster,
        "hostname": id.hostname.value,
        "ip": id.ip.value,
        "tls": tls_files.as_ref().map(|_| serde_json::json!({
            "key_store": at(node.root, tls::paths::NODE_PEM),
            "trust_store": at(node.root, tls::paths::TRUST_PEM),
            "secure_client_port": tls::SECURE_CLIENT_PORT,
            "classpath": tls::NETTY_CLASSPATH,
        })),
        "extra": extra,
        "data_dir": at(node.root, &data_dir),
        "data_log_dir": data_log_dir,
        "dynamic_file": at(node.root, paths::ZOO_CFG_DYNAMIC),
        "servers": servers(node.config)?,
        "client_port": node.config.client_port()?,
        "connect_port": node.config.connect_port()?,
        "election_port": node.config.election_port()?,
        "purge": purge,
        "super_digest": node.zk_super_digest.clone().unwrap_or_default(),
        "four_letter_words": crate::zk::four_letter::FourLetter::ALL
            .map(|w| w.as_str())
            .join(","),
    });
    // zoo.cfg carries the superuser digest: 0600 and ZooKeeper's own, since ZooKeeper rewrites
    // it (and writes zoo.cfg.dynamic.<version> beside it) on every reconfig.
    let zk_owned = |mut o: Output| {
        o.owner = Some(ZK_USER);
        o
    };
    let mut out = vec![
        zk_owned(file(
            paths::ZOO_CFG,
            templates.render("zoo.cfg.tera", &ctx)?,
            0o600,
        )),
        zk_owned(file(
            paths::ZOO_CFG_DYNAMIC,
            templates.render("zoo.cfg.dynamic.tera", &ctx)?,
            0o644,
        )),
        file(
            &format!("{}/myid", data_dir.trim_end_matches('/')),
            format!("{myid}\n"),
            0o644,
        ),
        file(
            paths::ZK_ENV,
            templates.render("zookeeper.env.tera", &ctx)?,
            0o600,
        ),
    ];
    let dir = |path: &str| Output {
        path: path.trim_end_matches('/').to_string(),
        content: String::new(),
        mode: 0o750,
        owner: Some(ZK_USER),
        dir: true,
    };
    out.push(dir(&data_dir));
    if let Some(d) = &data_log_dir_path {
        out.push(dir(d));
    }
    // ZooKeeper writes its versioned dynamic config and rewrites zoo.cfg there.
    out.push(Output {
        mode: 0o755,
        ..dir(paths::ZK_CONF_DIR)
    });
    if let Some((node_pem, trust_pem)) = tls_files {
        // The key is ZooKeeper's alone; the CA certificates and their directory are public.
        out.push(zk_owned(file(tls::paths::NODE_PEM, node_pem, 0o600)));
        out.push(file(tls::paths::TRUST_PEM, trust_pem, 0o644));
        out.push(Output {
            mode: 0o755,
            owner: None,
            ..dir(tls::paths::DIR)
        });
    }
    Ok(out)
}
