//! Rendering: Tera templates embedded in the binary (overridable from `--templates DIR`),
//! a context per role, and the list of files to write. Everything is rendered in memory
//! first; nothing is written unless every file rendered.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::credentials::mesos_auth::{self, Secrets};
use crate::credentials::Credential;
use crate::failure::{Failure, Result};
use crate::identity::Identity;
use crate::settings::{master_quorum, Role, Settings};
use crate::shared_config::{ServerKind, SharedConfig};
use crate::zookeeper::tls::{self, ClusterCa};

/// Embedded templates: (name, text).
pub const EMBEDDED: [(&str, &str); 6] = [
    ("zoo.cfg.tera", include_str!("../templates/zoo.cfg.tera")),
    (
        "zookeeper.env.tera",
        include_str!("../templates/zookeeper.env.tera"),
    ),
    (
        "zoo.cfg.dynamic.tera",
        include_str!("../templates/zoo.cfg.dynamic.tera"),
    ),
    ("mesos-zk.tera", include_str!("../templates/mesos-zk.tera")),
    (
        "mesos-master.env.tera",
        include_str!("../templates/mesos-master.env.tera"),
    ),
    (
        "mesos-agent.env.tera",
        include_str!("../templates/mesos-agent.env.tera"),
    ),
];

/// Paths on the node (before `--root`).
pub mod paths {
    pub const ZK_CONF_DIR: &str = "/etc/zookeeper/conf";
    pub const ZOO_CFG: &str = "/etc/zookeeper/conf/zoo.cfg";
    pub const ZOO_CFG_DYNAMIC: &str = "/etc/zookeeper/conf/zoo.cfg.dynamic";
    pub const ZK_DATA_DIR: &str = "/var/lib/zookeeper";
    pub const ZK_ENV: &str = "/etc/mesos-boot/zookeeper.env";
    pub const MESOS_ZK: &str = "/etc/mesos/zk";
    pub const MASTER_ENV: &str = "/etc/mesos-boot/mesos-master.env";
    pub const MASTER_QUORUM: &str = "/etc/mesos-master/quorum";
    pub const AGENT_ENV: &str = "/etc/mesos-boot/mesos-agent.env";
    /// The masters' `--credentials` (every principal they accept).
    pub const MASTER_CREDENTIALS: &str = "/etc/mesos-boot/mesos-credentials.json";
    /// An agent's `--credential` (CRAM-MD5 registration).
    pub const AGENT_CREDENTIAL: &str = "/etc/mesos-boot/mesos-agent-credential.json";
    /// An agent's `--http_credentials` (its own operator endpoints).
    pub const AGENT_HTTP_CREDENTIALS: &str = "/etc/mesos-boot/mesos-agent-http-credentials.json";
    pub const MASTER_WORK_DIR: &str = "/var/lib/mesos/master";
    pub const AGENT_WORK_DIR: &str = "/var/lib/mesos/agent";
    pub const MESOS_LOG_DIR: &str = "/var/log/mesos";
    pub const BOOT_RECORD: &str = "/var/lib/mesos-boot/boot.json";
}

pub const MASTER_PORT: u16 = 5050;
pub const AGENT_PORT: u16 = 5051;

/// `abs` under `root`, as a path.
pub fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// `abs` under `root`, as text for rendered files.
fn at(root: &Path, abs: &str) -> String {
    under(root, abs).display().to_string()
}

/// The template set in use.
pub struct Templates {
    tera: tera::Tera,
    /// Which templates came from the override directory.
    pub overridden: Vec<String>,
}

impl Templates {
    /// Embedded templates, each replaced by `<dir>/<name>` when that file exists. A `*.tera`
    /// file in `dir` that matches no template is an error (a typo would otherwise be ignored).
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut tera = tera::Tera::default();
        let mut overridden = Vec::new();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| Failure::bad_input(format!("--templates {}: {e}", dir.display())))?;
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".tera") && !EMBEDDED.iter().any(|(n, _)| *n == name) {
                    let known: Vec<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
                    return Err(Failure::bad_input(format!(
                        "{}: no template is named {name} (known: {})",
                        entry.path().display(),
                        known.join(", ")
                    )));
                }
            }
        }
        for (name, text) in EMBEDDED {
            let custom = dir.map(|d| d.join(name)).filter(|p| p.is_file());
            let result = match &custom {
                Some(path) => {
                    overridden.push(name.to_string());
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
                    tera.add_raw_template(name, &text)
                }
                None => tera.add_raw_template(name, text),
            };
            result.map_err(|e| {
                let origin = custom.map_or(format!("embedded template {name}"), |p| {
                    p.display().to_string()
                });
                Failure::bad_input(format!("{origin}: {}", crate::failure::chain(&e)))
            })?;
        }
        Ok(Templates { tera, overridden })
    }

    fn render(&self, name: &str, ctx: &impl Serialize) -> Result<String> {
        let ctx = tera::Context::from_serialize(ctx)
            .map_err(|e| Failure::internal(format!("template context for {name}: {e}")))?;
        self.tera.render(name, &ctx).map_err(|e| {
            let origin = if self.overridden.iter().any(|n| n == name) {
                "template override"
            } else {
                "embedded template"
            };
            Failure::bad_input(format!("{origin} {name}: {}", crate::failure::chain(&e)))
        })
    }
}

/// A file (or directory) to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Output {
    /// Path on the node (without `--root`).
    pub path: String,
    #[serde(skip)]
    pub content: String,
    pub mode: u32,
    /// The user (and its group) that must own it; `None`: root, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<&'static str>,
    /// A directory to create (mode applied only when it is created), not a file.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dir: bool,
}

/// The user ZooKeeper runs as (Debian's package, `User=` of zookeeper.service).
pub const ZK_USER: &str = "zookeeper";

/// Everything a render needs.
pub struct Node<'a> {
    pub root: &'a Path,
    pub settings: &'a Settings,
    pub identity: &'a Identity,
    pub config: &'a SharedConfig,
    /// This node's ZooKeeper id (zookeeper role only).
    pub myid: Option<u32>,
    /// `super:<digest>` of the reconfig superuser (zookeeper role only), written into zoo.cfg
    /// (mode 0600, owned by zookeeper), never onto the JVM's command line.
    pub zk_super_digest: Option<String>,
    /// The credentials of a master or an agent (see [`crate::credentials`]).
    pub mesos: Option<&'a Secrets>,
    /// The cluster CA, when this ZooKeeper node runs TLS ([`Settings::zk_tls`]).
    pub zk_tls: Option<&'a ClusterCa>,
}

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

/// A ZooKeeper directory setting: `None` when empty; an error naming the key unless it is an
/// absolute path that fits on a zoo.cfg line.
fn zk_dir(config: &SharedConfig, name: &str) -> Result<Option<String>> {
    match config.get(name).trim() {
        "" => Ok(None),
        d if d.starts_with('/') && !d.contains(|c: char| c.is_control()) && d != "/" => {
            Ok(Some(d.to_string()))
        }
        d => Err(Failure::bad_input(format!(
            "key com.netflix.exhibitor.{name}: `{d}` is not an absolute directory path"
        ))),
    }
}

/// The ZooKeeper URL Mesos is given: `zk://user:secret@<endpoint>/mesos` through the load
/// balancer when set ([`Settings::zk_endpoint`]), else the shared config's servers
/// ([`zk_url`]); the userinfo is the node's digest credential (`/mesos`'s ACL).
pub fn mesos_zk_url(
    settings: &Settings,
    config: &SharedConfig,
    credential: &Credential,
) -> Result<String> {
    let hosts = match &settings.zk_endpoint {
        Some(ep) => ep.clone(),
        None => zk_hosts(config)?,
    };
    Ok(format!(
        "zk://{}{hosts}{}",
        credential.userinfo(),
        settings.zk_path
    ))
}

/// `h1:2181,h2:2181` from the shared config's servers.
pub fn zk_hosts(config: &SharedConfig) -> Result<String> {
    let port = config.client_port()?;
    let servers = config.servers()?;
    let hosts: Vec<String> = servers
        .iter()
        .map(|s| format!("{}:{port}", s.host))
        .collect();
    Ok(hosts.join(","))
}

/// `zk://h1:2181,h2:2181/mesos` from the shared config's servers.
pub fn zk_url(config: &SharedConfig, path: &str) -> Result<String> {
    Ok(format!("zk://{}{path}", zk_hosts(config)?))
}

/// Renders every file of the node's role.
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

pub fn plan(node: &Node, templates: &Templates) -> Result<Vec<Output>> {
    let s = node.settings;
    let id = node.identity;
    let mut out = Vec::new();
    let file = |path: &str, content: String, mode: u32| Output {
        path: path.to_string(),
        content,
        mode,
        owner: None,
        dir: false,
    };
    match s.role {
        Role::Zookeeper => {
            let myid = node
                .myid
                .ok_or_else(|| Failure::internal("zookeeper render without an id"))?;
            let mut extra = Vec::new();
            for (key, value) in node.config.zoo_cfg_extra()? {
                if key.contains(['\n', '\r', '=']) || value.contains(['\n', '\r']) {
                    return Err(Failure::bad_input(format!(
                        "key com.netflix.exhibitor.zoo-cfg-extra: `{key}` would break zoo.cfg"
                    )));
                }
                // Keys mesos-boot owns and keys that weaken the ensemble never get here: the
                // shared config refuses them when it is read (exhibitor::check_zoo_cfg_key).
                extra.push(Pair { key, value });
            }
            let purge = purge_settings(node.config, &extra)?;
            // Exhibitor's zookeeper-data-directory is dataDir, its zookeeper-log-directory
            // dataLogDir (the transaction logs; empty: in dataDir). Both must be owned by the
            // zookeeper user, or ZooKeeper cannot write its snapshots and logs.
            let data_dir = match zk_dir(node.config, "zookeeper-data-directory")? {
                None => paths::ZK_DATA_DIR.to_string(),
                Some(d) => d,
            };
            let data_log_dir_path = zk_dir(node.config, "zookeeper-log-directory")?;
            let data_log_dir = data_log_dir_path.as_deref().map(|d| at(node.root, d));
            let servers: Vec<ZkServer> = node
                .config
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
                .collect();
            // Quorum TLS and the secure client port: the member's key and certificate (kept
            // while still right, else issued now) and every trusted CA certificate.
            let tls_files = match (s.zk_tls, node.zk_tls) {
                (false, _) => None,
                (true, None) => {
                    return Err(Failure::internal("a TLS ZooKeeper render without the CA"))
                }
                (true, Some(ca)) => {
                    let names =
                        tls::node_names(&id.ip.value, &id.hostname.value, s.zk_endpoint.as_deref());
                    let existing = std::fs::read_to_string(under(node.root, tls::paths::NODE_PEM));
                    let node_pem = ca
                        .node_pem(&names, existing.ok().as_deref())
                        .map_err(|e| Failure::internal(format!("ZooKeeper TLS: {e}")))?;
                    Some((node_pem, ca.trust_bundle()))
                }
            };
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
                "servers": servers,
                "client_port": node.config.client_port()?,
                "connect_port": node.config.connect_port()?,
                "election_port": node.config.election_port()?,
                "purge": purge,
                "super_digest": node.zk_super_digest.clone().unwrap_or_default(),
                "four_letter_words": crate::zookeeper::quorum::FourLetter::ALL
                    .map(|w| w.as_str())
                    .join(","),
            });
            // zoo.cfg carries the superuser digest: 0600 and ZooKeeper's own, since ZooKeeper
            // rewrites it (and writes zoo.cfg.dynamic.<version> beside it) on every reconfig.
            let zk_owned = |mut o: Output| {
                o.owner = Some(ZK_USER);
                o
            };
            out.push(zk_owned(file(
                paths::ZOO_CFG,
                templates.render("zoo.cfg.tera", &ctx)?,
                0o600,
            )));
            out.push(zk_owned(file(
                paths::ZOO_CFG_DYNAMIC,
                templates.render("zoo.cfg.dynamic.tera", &ctx)?,
                0o644,
            )));
            out.push(file(
                &format!("{}/myid", data_dir.trim_end_matches('/')),
                format!("{myid}\n"),
                0o644,
            ));
            out.push(file(
                paths::ZK_ENV,
                templates.render("zookeeper.env.tera", &ctx)?,
                0o600,
            ));
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
                // The key is ZooKeeper's alone; the CA certificates and their directory are
                // public.
                out.push(zk_owned(file(tls::paths::NODE_PEM, node_pem, 0o600)));
                out.push(file(tls::paths::TRUST_PEM, trust_pem, 0o644));
                out.push(Output {
                    mode: 0o755,
                    owner: None,
                    ..dir(tls::paths::DIR)
                });
            }
        }
        Role::Master => {
            let masters = s
                .masters
                .ok_or_else(|| Failure::internal("master render without a master count"))?;
            let Some(Secrets::Master(secrets)) = node.mesos else {
                return Err(Failure::internal(
                    "master render without the masters' credentials",
                ));
            };
            let ctx = serde_json::json!({
                "cluster": s.cluster,
                "zk_url": mesos_zk_url(s, node.config, &secrets.zk.current)?,
                "zk_file": at(node.root, paths::MESOS_ZK),
                "credentials": at(node.root, paths::MASTER_CREDENTIALS),
                "authenticate_http_readonly": s.http_readonly_auth,
                "quorum": master_quorum(masters),
                "ip": id.ip.value,
                "hostname": id.hostname.value,
                "port": MASTER_PORT,
                "work_dir": at(node.root, paths::MASTER_WORK_DIR),
                "log_dir": at(node.root, paths::MESOS_LOG_DIR),
            });
            // The ZooKeeper URL carries the credential: these are root's only.
            out.push(file(
                paths::MESOS_ZK,
                templates.render("mesos-zk.tera", &ctx)?,
                0o600,
            ));
            out.push(file(
                paths::MASTER_ENV,
                templates.render("mesos-master.env.tera", &ctx)?,
                0o600,
            ));
            out.push(file(
                paths::MASTER_CREDENTIALS,
                mesos_auth::master_credentials(secrets),
                0o600,
            ));
            // The Mesosphere package ships /etc/mesos-master/quorum = 1, and its init wrapper
            // turns that file into a flag that beats the environment: keep it right too.
            out.push(file(
                paths::MASTER_QUORUM,
                format!("{}\n", master_quorum(masters)),
                0o644,
            ));
        }
        Role::Agent => {
            let mut attributes = vec![
                ("az".to_string(), id.zone.value.clone()),
                ("instance_type".to_string(), id.instance_type.value.clone()),
                ("cluster".to_string(), s.cluster.clone()),
            ];
            for (k, v) in &s.attributes {
                if attributes.iter().any(|(b, _)| b == k) {
                    let origin = &s.provenance["attributes"].source;
                    return Err(Failure::bad_input(format!(
                        "{origin}: attribute `{k}` is set by mesos-boot itself and cannot be overridden"
                    )));
                }
                attributes.push((k.clone(), v.clone()));
            }
            let attributes: Vec<String> =
                attributes.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let Some(Secrets::Agent(secrets)) = node.mesos else {
                return Err(Failure::internal(
                    "agent render without the agents' credentials",
                ));
            };
            let ctx = serde_json::json!({
                "cluster": s.cluster,
                "zk_url": mesos_zk_url(s, node.config, &secrets.zk.current)?,
                "zk_file": at(node.root, paths::MESOS_ZK),
                "credential": at(node.root, paths::AGENT_CREDENTIAL),
                "http_credentials": at(node.root, paths::AGENT_HTTP_CREDENTIALS),
                "authenticate_http_readonly": s.http_readonly_auth,
                "ip": id.ip.value,
                "hostname": id.hostname.value,
                "port": AGENT_PORT,
                "work_dir": at(node.root, paths::AGENT_WORK_DIR),
                "log_dir": at(node.root, paths::MESOS_LOG_DIR),
                "containerizers": s.containerizers,
                "attributes": attributes.join(";"),
            });
            out.push(file(
                paths::MESOS_ZK,
                templates.render("mesos-zk.tera", &ctx)?,
                0o600,
            ));
            out.push(file(
                paths::AGENT_ENV,
                templates.render("mesos-agent.env.tera", &ctx)?,
                0o600,
            ));
            out.push(file(
                paths::AGENT_CREDENTIAL,
                mesos_auth::credential_json(&secrets.agent.current),
                0o600,
            ));
            out.push(file(
                paths::AGENT_HTTP_CREDENTIALS,
                mesos_auth::credentials_json(&[&secrets.http]),
                0o600,
            ));
        }
    }
    Ok(out)
}

/// Settings of a zoo.cfg as a map, comments and blank lines ignored.
fn zoo_settings(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// `dataDir` and `dataLogDir` of the local zoo.cfg (ZooKeeper's own rewrite included).
pub fn zookeeper_data_dirs(root: &Path) -> Option<(String, Option<String>)> {
    let settings = zoo_settings(&std::fs::read_to_string(under(root, paths::ZOO_CFG)).ok()?);
    Some((
        settings.get("dataDir")?.clone(),
        settings.get("dataLogDir").cloned(),
    ))
}

/// Whether ZooKeeper already ran on this node: its rewrite of zoo.cfg points at a versioned
/// dynamic file (`zoo.cfg.dynamic.<version>`) that exists.
pub fn zookeeper_ran_before(root: &Path) -> bool {
    std::fs::read_to_string(under(root, paths::ZOO_CFG))
        .ok()
        .and_then(|text| zoo_settings(&text).get("dynamicConfigFile").cloned())
        .is_some_and(|d| d != at(root, paths::ZOO_CFG_DYNAMIC) && Path::new(&d).is_file())
}

/// What ZooKeeper left on this node after it ran: its server id and its current dynamic
/// config (the membership reconfig maintains).
#[derive(Debug, Clone)]
pub struct LocalZookeeper {
    pub myid: u32,
    /// `zoo.cfg.dynamic.<version>` (path, content).
    pub dynamic: (PathBuf, String),
}

/// [`LocalZookeeper`] when ZooKeeper ran here before and its files are readable.
pub fn local_zookeeper(root: &Path) -> Option<LocalZookeeper> {
    if !zookeeper_ran_before(root) {
        return None;
    }
    let settings = zoo_settings(&std::fs::read_to_string(under(root, paths::ZOO_CFG)).ok()?);
    let dynamic = PathBuf::from(settings.get("dynamicConfigFile")?);
    let text = std::fs::read_to_string(&dynamic).ok()?;
    let data_dir = settings.get("dataDir")?;
    let myid = std::fs::read_to_string(Path::new(data_dir).join("myid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(LocalZookeeper {
        myid,
        dynamic: (dynamic, text),
    })
}

/// After its first start, ZooKeeper rewrites zoo.cfg (no comments, its own order) and moves
/// membership to `zoo.cfg.dynamic.<version>`, which reconfig then maintains. A re-run accepts
/// that instead of fighting it: membership stays ZooKeeper's, and zoo.cfg is left as ZooKeeper
/// wrote it unless a static setting really changed (then it is rewritten, still pointing at
/// ZooKeeper's current dynamic file).
pub fn adopt_zookeeper_rewrites(root: &Path, outputs: &mut [Output]) {
    let Ok(existing) = std::fs::read_to_string(under(root, paths::ZOO_CFG)) else {
        return;
    };
    let current = zoo_settings(&existing);
    let Some(dynamic) = current
        .get("dynamicConfigFile")
        .filter(|d| *d != &at(root, paths::ZOO_CFG_DYNAMIC) && Path::new(d).is_file())
    else {
        return;
    };
    tracing::info!(dynamic = %dynamic, "ZooKeeper owns its membership since its first start; leaving it to reconfig");
    for o in outputs.iter_mut() {
        if o.path == paths::ZOO_CFG {
            let mut wanted = zoo_settings(&o.content);
            wanted.insert("dynamicConfigFile".into(), dynamic.clone());
            if wanted == current {
                o.content = existing.clone();
            } else {
                tracing::info!("static ZooKeeper settings changed; rewriting zoo.cfg");
                o.content = o
                    .content
                    .lines()
                    .map(|l| match l.starts_with("dynamicConfigFile=") {
                        true => format!("dynamicConfigFile={dynamic}\n"),
                        false => format!("{l}\n"),
                    })
                    .collect();
            }
        } else if o.path == paths::ZOO_CFG_DYNAMIC {
            if let Ok(old) = std::fs::read_to_string(under(root, paths::ZOO_CFG_DYNAMIC)) {
                o.content = old;
            }
        }
    }
}

/// A written file and whether its content changed.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: String,
    pub changed: bool,
}

/// Writes every output atomically under `root` (directories first: created when missing,
/// with their mode), then gives it to its owner.
pub fn write(root: &Path, outputs: &[Output]) -> Result<Vec<Written>> {
    let dirs = outputs.iter().filter(|o| o.dir);
    dirs.chain(outputs.iter().filter(|o| !o.dir))
        .map(|o| {
            let target = under(root, &o.path);
            let failed =
                |e: std::io::Error| Failure::internal(format!("writing {}: {e}", target.display()));
            let changed = if o.dir {
                crate::fsutil::ensure_dir(&target, o.mode).map_err(failed)?
            } else {
                crate::fsutil::write_atomic(&target, o.content.as_bytes(), o.mode)
                    .map_err(failed)?
            };
            if let Some(user) = o.owner {
                crate::fsutil::give_to(&target, user).map_err(|e| {
                    Failure::internal(format!("giving {} to {user}: {e}", target.display()))
                })?;
            }
            Ok(Written {
                path: target.display().to_string(),
                changed,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Field;
    use crate::settings::{resolve, Raw};

    fn field(v: &str) -> Field {
        Field {
            value: v.into(),
            source: "test",
        }
    }

    fn identity() -> Identity {
        Identity {
            instance_id: field("i-0abc"),
            ip: field("10.0.1.12"),
            hostname: field("ip-10-0-1-12.ec2.internal"),
            zone: field("us-east-1b"),
            region: field("us-east-1"),
            instance_type: field("m5.large"),
            tags: None,
            tags_source: "test",
        }
    }

    fn settings(role: &str, extra: &[(&'static str, &str)]) -> Settings {
        let mut cli: std::collections::BTreeMap<&'static str, (String, &'static str)> = [
            ("role", role),
            ("cluster", "prod"),
            (
                "shared-config",
                "s3://prod.example.com/exhibitor.properties",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k, (v.to_string(), "flag")))
        .collect();
        for (k, v) in extra {
            cli.insert(k, (v.to_string(), "flag"));
        }
        resolve(&Raw {
            cli,
            tags: Default::default(),
        })
        .unwrap()
    }

    fn config() -> SharedConfig {
        SharedConfig::parse(
            "com.netflix.exhibitor.servers-spec=1:10.0.1.11,2:10.0.1.12,3:10.0.1.13,O:4:10.0.1.14\n\
             com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=2000&initLimit\\=10&syncLimit\\=5&autopurge.purgeInterval\\=6\n",
        )
        .unwrap()
    }

    /// Compares with `tests/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the golden files.
    fn golden(name: &str, outputs: &[Output]) {
        let mut text = String::new();
        for o in outputs {
            text.push_str(&format!(
                "--- {} (mode {:o})\n{}",
                o.path, o.mode, o.content
            ));
        }
        let path = format!("{}/../tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e} (run with UPDATE_GOLDEN=1)"));
        assert_eq!(text, want, "rendered output differs from {path}");
    }

    fn render(
        role: &str,
        extra: &[(&'static str, &str)],
        root: &str,
        myid: Option<u32>,
    ) -> Result<Vec<Output>> {
        let s = settings(role, extra);
        let id = identity();
        let cfg = config();
        let secrets = crate::credentials::mesos_auth::placeholder(s.role);
        let node = Node {
            root: Path::new(root),
            settings: &s,
            identity: &id,
            config: &cfg,
            myid,
            zk_super_digest: myid.map(|_| {
                crate::zookeeper::secret::Secret::parse(&"s".repeat(32), "test")
                    .unwrap()
                    .super_digest()
            }),
            mesos: secrets.as_ref(),
            zk_tls: None,
        };
        plan(&node, &Templates::load(None)?)
    }

    #[test]
    fn golden_zookeeper() {
        golden(
            "zookeeper.txt",
            &render("zookeeper", &[], "/", Some(2)).unwrap(),
        );
    }

    /// Purging is on by default (Exhibitor's 3 files every 12 h), follows cleanup-max-files and
    /// cleanup-period-ms (rounded up to whole hours, at least ZooKeeper's 3 files), leaves a key
    /// zoo-cfg-extra sets to it, and refuses a value that is not a number, naming the key.
    #[test]
    fn purge_follows_exhibitors_cleanup_settings() {
        let zoo_cfg = |text: &str| -> Result<String> {
            let cfg = SharedConfig::parse(text).unwrap();
            let (s, id) = (settings("zookeeper", &[]), identity());
            let node = Node {
                root: Path::new("/"),
                settings: &s,
                identity: &id,
                config: &cfg,
                myid: Some(1),
                zk_super_digest: None,
                mesos: None,
                zk_tls: None,
            };
            Ok(plan(&node, &Templates::load(None)?)?.remove(0).content)
        };
        let keys = |cfg: &str| -> Vec<String> {
            cfg.lines()
                .filter(|l| l.starts_with("autopurge."))
                .map(str::to_string)
                .collect()
        };
        let spec = "com.netflix.exhibitor.servers-spec=1:10.0.1.11\n";
        assert_eq!(
            keys(&zoo_cfg(spec).unwrap()),
            ["autopurge.snapRetainCount=3", "autopurge.purgeInterval=12"]
        );
        let text = format!(
            "{spec}com.netflix.exhibitor.cleanup-max-files=10\ncom.netflix.exhibitor.cleanup-period-ms=5400000\n"
        );
        assert_eq!(
            keys(&zoo_cfg(&text).unwrap()),
            ["autopurge.snapRetainCount=10", "autopurge.purgeInterval=2"]
        );
        let text = format!(
            "{spec}com.netflix.exhibitor.cleanup-max-files=1\ncom.netflix.exhibitor.cleanup-period-ms=1000\n"
        );
        assert_eq!(
            keys(&zoo_cfg(&text).unwrap()),
            ["autopurge.snapRetainCount=3", "autopurge.purgeInterval=1"]
        );
        let text = format!("{spec}com.netflix.exhibitor.cleanup-period-ms=0\n");
        assert!(keys(&zoo_cfg(&text).unwrap()).contains(&"autopurge.purgeInterval=0".to_string()));
        // zoo-cfg-extra's own key stays, once; the other is still rendered.
        let text =
            format!("{spec}com.netflix.exhibitor.zoo-cfg-extra=autopurge.purgeInterval\\=6\n");
        assert_eq!(
            keys(&zoo_cfg(&text).unwrap()),
            ["autopurge.purgeInterval=6", "autopurge.snapRetainCount=3"]
        );
        let text = format!("{spec}com.netflix.exhibitor.cleanup-max-files=lots\n");
        let err = zoo_cfg(&text).unwrap_err().message;
        assert!(
            err.contains("com.netflix.exhibitor.cleanup-max-files") && err.contains("lots"),
            "{err}"
        );
    }

    #[test]
    fn golden_zookeeper_under_root() {
        let out = render("zookeeper", &[], "/tmp/node2", Some(2)).unwrap();
        golden("zookeeper-root.txt", &out);
        assert!(out[0]
            .content
            .contains("dataDir=/tmp/node2/var/lib/zookeeper\n"));
    }

    /// zoo.cfg allows exactly the four-letter words mesos-boot sends (quorum::FourLetter), no
    /// more (ZooKeeper's default whitelist would answer `ruok`, `mntr`, ... to anyone).
    #[test]
    fn four_letter_whitelist_is_what_mesos_boot_sends() {
        let out = render("zookeeper", &[], "/", Some(2)).unwrap();
        let line = out[0]
            .content
            .lines()
            .find_map(|l| l.strip_prefix("4lw.commands.whitelist="))
            .unwrap();
        let mut allowed: Vec<&str> = line.split(',').collect();
        allowed.sort();
        let mut sent: Vec<&str> = crate::zookeeper::quorum::FourLetter::ALL
            .iter()
            .map(|w| w.as_str())
            .collect();
        sent.sort();
        assert_eq!(allowed, sent);
    }

    /// The digest is in zoo.cfg, 0600 and zookeeper's; nothing carries it on a command line.
    #[test]
    fn the_superuser_digest_is_in_a_private_zoo_cfg_only() {
        let out = render("zookeeper", &[], "/", Some(2)).unwrap();
        let digest = crate::zookeeper::secret::Secret::parse(&"s".repeat(32), "test")
            .unwrap()
            .super_digest();
        let zoo = &out[0];
        assert_eq!(zoo.path, paths::ZOO_CFG);
        assert!(zoo.content.contains(&format!(
            "\nDigestAuthenticationProvider.superDigest={digest}\n"
        )));
        assert_eq!((zoo.mode, zoo.owner), (0o600, Some(ZK_USER)));
        for o in &out[1..] {
            assert!(
                !o.content.contains(&digest[6..]),
                "{}: {}",
                o.path,
                o.content
            );
        }
    }

    /// With mesos:zk-tls: zoo.cfg turns on quorum TLS and the secure client port on the node's
    /// address; the key and certificate are ZooKeeper's alone (0600), the CA certificates
    /// public; a re-render keeps the certificate (nothing changes on a re-run); off, none of it.
    #[test]
    fn tls_files_and_settings_follow_mesos_zk_tls() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let ca = ClusterCa::generate().unwrap();
        let s = settings("zookeeper", &[("zk-tls", "true")]);
        let (id, cfg) = (identity(), config());
        let node = Node {
            root: dir.path(),
            settings: &s,
            identity: &id,
            config: &cfg,
            myid: Some(2),
            zk_super_digest: Some("super:x".into()),
            mesos: None,
            zk_tls: Some(&ca),
        };
        let out = plan(&node, &Templates::load(None).unwrap()).unwrap();
        let get = |out: &[Output], p: &str| out.iter().find(|o| o.path == p).cloned().unwrap();
        let zoo = get(&out, paths::ZOO_CFG).content;
        for line in [
            "sslQuorum=true".to_string(),
            "ssl.quorum.keyStore.type=PEM".to_string(),
            format!("ssl.quorum.keyStore.location={root}/etc/zookeeper/tls/node.pem"),
            format!("ssl.quorum.trustStore.location={root}/etc/zookeeper/tls/ca.pem"),
            "secureClientPort=2281".to_string(),
            "secureClientPortAddress=10.0.1.12".to_string(),
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".to_string(),
        ] {
            assert!(zoo.lines().any(|l| l == line), "{line} not in\n{zoo}");
        }
        let env = get(&out, paths::ZK_ENV).content;
        assert!(env.contains("MESOS_BOOT_ZK_CLASSPATH=\":/usr/share/java/netty-codec.jar"));
        let key = get(&out, tls::paths::NODE_PEM);
        assert_eq!((key.mode, key.owner), (0o600, Some(ZK_USER)));
        assert!(key.content.contains("PRIVATE KEY"));
        let trust = get(&out, tls::paths::TRUST_PEM);
        assert_eq!(trust.mode, 0o644);
        assert_eq!(trust.content, ca.trust_bundle());
        assert!(!trust.content.contains("PRIVATE KEY"));
        // Written, then rendered again: the same certificate, nothing rewritten.
        write(dir.path(), &out).unwrap();
        let again = plan(&node, &Templates::load(None).unwrap()).unwrap();
        assert_eq!(get(&again, tls::paths::NODE_PEM).content, key.content);
        assert!(write(dir.path(), &again)
            .unwrap()
            .iter()
            .all(|w| !w.changed));
        // Off: no TLS key in zoo.cfg, no TLS file.
        let off = render("zookeeper", &[], "/", Some(2)).unwrap();
        assert!(!get(&off, paths::ZOO_CFG).content.contains("ssl"));
        assert!(off.iter().all(|o| !o.path.starts_with(tls::paths::DIR)));
        // On without the CA: refused, not rendered without TLS.
        let no_ca = Node {
            zk_tls: None,
            ..node
        };
        assert!(plan(&no_ca, &Templates::load(None).unwrap()).is_err());
    }

    /// Exhibitor's data and transaction-log directories become dataDir and dataLogDir,
    /// created for the zookeeper user; anything but an absolute path is refused by name.
    #[test]
    fn custom_data_and_log_directories() {
        let s = settings("zookeeper", &[]);
        let id = identity();
        let plan_with = |text: &str| {
            let cfg = SharedConfig::parse(text).unwrap();
            let node = Node {
                root: Path::new("/r"),
                settings: &s,
                identity: &id,
                config: &cfg,
                myid: Some(1),
                zk_super_digest: None,
                mesos: None,
                zk_tls: None,
            };
            plan(&node, &Templates::load(None).unwrap())
        };
        let out = plan_with(
            "com.netflix.exhibitor.servers-spec=1:10.0.1.12\n\
             com.netflix.exhibitor.zookeeper-data-directory=/opt/zk/snap/\n\
             com.netflix.exhibitor.zookeeper-log-directory=/opt/zk/log\n",
        )
        .unwrap();
        assert!(
            out[0].content.contains("\ndataDir=/r/opt/zk/snap/\n"),
            "{}",
            out[0].content
        );
        assert!(
            out[0].content.contains("\ndataLogDir=/r/opt/zk/log\n"),
            "{}",
            out[0].content
        );
        let dirs: Vec<(&str, u32, Option<&str>)> = out
            .iter()
            .filter(|o| o.dir)
            .map(|o| (o.path.as_str(), o.mode, o.owner))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("/opt/zk/snap", 0o750, Some(ZK_USER)),
                ("/opt/zk/log", 0o750, Some(ZK_USER)),
                (paths::ZK_CONF_DIR, 0o755, Some(ZK_USER)),
            ]
        );
        assert!(out.iter().any(|o| o.path == "/opt/zk/snap/myid"));
        let err = plan_with("com.netflix.exhibitor.servers-spec=1:10.0.1.12\ncom.netflix.exhibitor.zookeeper-log-directory=logs\n")
            .unwrap_err();
        assert!(
            err.message
                .contains("key com.netflix.exhibitor.zookeeper-log-directory: `logs`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn golden_master() {
        golden(
            "master.txt",
            &render("master", &[("masters", "3")], "/", None).unwrap(),
        );
    }

    #[test]
    fn golden_agent() {
        let out = render("agent", &[("attributes", "rack:r1;spot:true")], "/", None).unwrap();
        golden("agent.txt", &out);
    }

    /// With a ZooKeeper endpoint (the load balancer), masters and agents are given it instead
    /// of the addresses of this boot's members, which replacements make stale.
    #[test]
    fn masters_and_agents_reach_zookeeper_through_the_endpoint_when_set() {
        let ep = ("zk-endpoint", "zookeeper.prod.example.com:2181");
        let master = render("master", &[("masters", "3"), ep], "/", None).unwrap();
        golden("master-endpoint.txt", &master);
        let agent = render("agent", &[ep], "/", None).unwrap();
        let all: String = master
            .iter()
            .chain(&agent)
            .map(|o| o.content.clone())
            .collect();
        assert_eq!(
            all.matches("@zookeeper.prod.example.com:2181/mesos")
                .count(),
            2,
            "both /etc/mesos/zk (the env files name the file): {all}"
        );
        assert!(
            !all.contains(":2181,"),
            "no member address list left: {all}"
        );
    }

    /// Every file that holds a secret is root's alone; Mesos is told to authenticate agents,
    /// frameworks and read-write HTTP always, read-only HTTP unless the operator says not.
    #[test]
    fn credentials_are_in_private_files_and_authentication_is_on() {
        for (role, extra) in [("master", vec![("masters", "3")]), ("agent", vec![])] {
            let out = render(role, &extra, "/", None).unwrap();
            let secrets = crate::credentials::mesos_auth::placeholder(settings(role, &extra).role)
                .unwrap()
                .secrets();
            for o in &out {
                if secrets.iter().any(|x| o.content.contains(x.as_str())) {
                    assert_eq!((o.mode, o.owner), (0o600, None), "{}", o.path);
                }
            }
            let env = &out
                .iter()
                .find(|o| o.path.ends_with(".env"))
                .unwrap()
                .content;
            assert!(
                env.contains("MESOS_AUTHENTICATE_HTTP_READWRITE=\"true\""),
                "{env}"
            );
            assert!(
                env.contains("MESOS_AUTHENTICATE_HTTP_READONLY=\"true\""),
                "{env}"
            );
            assert!(
                env.contains("=\"file:///etc/mesos/zk\""),
                "Mesos reads the ZooKeeper URL from the file: {env}"
            );
            let zk = &out
                .iter()
                .find(|o| o.path == paths::MESOS_ZK)
                .unwrap()
                .content;
            assert!(
                zk.starts_with("zk://mesos-"),
                "a digest credential in the URL: {zk}"
            );
            let mut off = extra.clone();
            off.push(("http-readonly-auth", "false"));
            let out = render(role, &off, "/", None).unwrap();
            let env = &out
                .iter()
                .find(|o| o.path.ends_with(".env"))
                .unwrap()
                .content;
            assert!(
                env.contains("MESOS_AUTHENTICATE_HTTP_READONLY=\"false\""),
                "{env}"
            );
        }
        let master = render("master", &[("masters", "3")], "/", None).unwrap();
        let env = &master
            .iter()
            .find(|o| o.path == paths::MASTER_ENV)
            .unwrap()
            .content;
        for flag in ["AGENTS", "FRAMEWORKS", "HTTP_FRAMEWORKS"] {
            assert!(
                env.contains(&format!("MESOS_AUTHENTICATE_{flag}=\"true\"")),
                "{env}"
            );
        }
        let creds = &master
            .iter()
            .find(|o| o.path == paths::MASTER_CREDENTIALS)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&creds.content).unwrap();
        assert_eq!(
            v["credentials"].as_array().unwrap().len(),
            4,
            "{}",
            creds.content
        );
    }

    #[test]
    fn agent_cannot_override_builtin_attributes() {
        let err = render("agent", &[("attributes", "az:elsewhere")], "/", None).unwrap_err();
        assert!(err.message.contains("attribute `az`"), "{}", err.message);
    }

    #[test]
    fn override_dir_replaces_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mesos-zk.tera"), "custom {{ zk_url }}\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(t.overridden, vec!["mesos-zk.tera"]);
        std::fs::write(dir.path().join("mesos-zk.tera"), "{{ no_such_variable }}\n").unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let s = settings("agent", &[]);
        let (id, cfg) = (identity(), config());
        let secrets = crate::credentials::mesos_auth::placeholder(s.role);
        let node = Node {
            root: Path::new("/"),
            settings: &s,
            identity: &id,
            config: &cfg,
            myid: None,
            zk_super_digest: None,
            mesos: secrets.as_ref(),
            zk_tls: None,
        };
        let err = plan(&node, &t).unwrap_err();
        assert!(err.message.contains("mesos-zk.tera"), "{}", err.message);
        std::fs::write(dir.path().join("zoo.cfg.trea.tera"), "x").unwrap();
        let err = Templates::load(Some(dir.path())).err().unwrap();
        assert!(
            err.message
                .contains("no template is named zoo.cfg.trea.tera"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rerun_keeps_zookeepers_own_rewrite_unless_a_static_setting_changed() {
        let root = tempfile::tempdir().unwrap();
        let mut outputs = render("zookeeper", &[], root.path().to_str().unwrap(), Some(2)).unwrap();
        write(root.path(), &outputs).unwrap();
        // What ZooKeeper does at first start: its own rewrite, a versioned dynamic file.
        let versioned = under(root.path(), "/etc/zookeeper/conf/zoo.cfg.dynamic.100000000");
        std::fs::write(
            &versioned,
            "server.2=10.0.1.12:2888:3888:participant;10.0.1.12:2181",
        )
        .unwrap();
        let mut rewritten: Vec<String> = outputs[0]
            .content
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                if l.starts_with("dynamicConfigFile=") {
                    format!("dynamicConfigFile={}", versioned.display())
                } else {
                    l.to_string()
                }
            })
            .collect();
        rewritten.reverse();
        let rewritten = rewritten.join("\n") + "\n";
        assert!(!zookeeper_ran_before(root.path()));
        std::fs::write(under(root.path(), paths::ZOO_CFG), &rewritten).unwrap();
        assert!(zookeeper_ran_before(root.path()));
        adopt_zookeeper_rewrites(root.path(), &mut outputs);
        assert_eq!(outputs[0].content, rewritten);
        let written = write(root.path(), &outputs).unwrap();
        assert!(written.iter().all(|w| !w.changed), "{written:?}");

        // A changed static setting is applied, still pointing at ZooKeeper's dynamic file.
        let mut outputs = render("zookeeper", &[], root.path().to_str().unwrap(), Some(2)).unwrap();
        outputs[0].content = outputs[0].content.replace("syncLimit=5", "syncLimit=7");
        adopt_zookeeper_rewrites(root.path(), &mut outputs);
        assert!(outputs[0].content.contains("syncLimit=7\n"));
        assert!(outputs[0]
            .content
            .contains(&format!("dynamicConfigFile={}\n", versioned.display())));
    }
}
