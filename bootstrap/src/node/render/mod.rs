//! Rendering: Tera templates embedded in the binary (overridable from `--templates DIR`),
//! the list of files to write ([`plan`]: one module per role, [`zookeeper`] and [`mesos`]),
//! and their atomic writes ([`write`]). Everything is rendered in memory first; nothing is
//! written unless every file rendered.

use std::path::Path;

use serde::Serialize;

use crate::config::identity::Identity;
use crate::config::settings::{Role, Settings};
use crate::failure::{Failure, Result};
use crate::mesos::auth::Secrets;
use crate::node::cgroups::Cgroups;
use crate::node::paths::under;
use crate::store::SharedConfig;
use crate::zk::tls::ClusterCa;

mod mesos;
pub mod zookeeper;

pub use mesos::mesos_zk_url;

/// Embedded templates: (name, text).
pub const EMBEDDED: [(&str, &str); 6] = [
    (
        "zoo.cfg.tera",
        include_str!("../../../templates/zoo.cfg.tera"),
    ),
    (
        "zookeeper.env.tera",
        include_str!("../../../templates/zookeeper.env.tera"),
    ),
    (
        "zoo.cfg.dynamic.tera",
        include_str!("../../../templates/zoo.cfg.dynamic.tera"),
    ),
    (
        "mesos-zk.tera",
        include_str!("../../../templates/mesos-zk.tera"),
    ),
    (
        "mesos-master.env.tera",
        include_str!("../../../templates/mesos-master.env.tera"),
    ),
    (
        "mesos-agent.env.tera",
        include_str!("../../../templates/mesos-agent.env.tera"),
    ),
];

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
    /// The credentials of a master or an agent (see [`crate::mesos::credentials`]).
    pub mesos: Option<&'a Secrets>,
    /// The cluster CA, when this ZooKeeper node runs TLS ([`Settings::zk_tls`]).
    pub zk_tls: Option<&'a ClusterCa>,
    /// Masters: the replicated log has formed ([`crate::mesos::registry`]): Mesos must not
    /// initialise an empty one by itself.
    pub registry_formed: bool,
    /// Agents: the cgroup hierarchy the node booted ([`super::cgroups`]).
    pub cgroups: Cgroups,
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
pub fn plan(node: &Node, templates: &Templates) -> Result<Vec<Output>> {
    match node.settings.role {
        Role::Zookeeper => zookeeper::plan(node, templates),
        Role::Master => mesos::master(node, templates),
        Role::Agent => mesos::agent(node, templates),
    }
}

/// A root-owned file at `path` on the node.
fn file(path: &str, content: String, mode: u32) -> Output {
    Output {
        path: path.to_string(),
        content,
        mode,
        owner: None,
        dir: false,
    }
}

/// A written file and whether its content changed.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: String,
    pub changed: bool,
}

/// Writes every output atomically under `root` (directories first: created when missing,
/// with their mode), each with its owner set by descriptor ([`crate::fsutil`]: root writes
/// inside directories the zookeeper user owns). A directory that exists already and is not its
/// owner's is refused (exit 2), never given away.
pub fn write(root: &Path, outputs: &[Output]) -> Result<Vec<Written>> {
    use crate::fsutil::{ensure_dir_as, write_atomic_as, Owner};
    let dirs = outputs.iter().filter(|o| o.dir);
    dirs.chain(outputs.iter().filter(|o| !o.dir))
        .map(|o| {
            let target = under(root, &o.path);
            let failed =
                |e: std::io::Error| Failure::internal(format!("writing {}: {e}", target.display()));
            let owner = match o.owner {
                Some(user) => Owner::of(user).map_err(|e| {
                    Failure::internal(format!("giving {} to {user}: {e}", target.display()))
                })?,
                None => None,
            };
            let changed = if o.dir {
                ensure_dir_as(&target, o.mode, owner).map_err(|e| {
                    Failure::bad_input(format!("directory {}: {e}", target.display()))
                })?
            } else {
                write_atomic_as(&target, o.content.as_bytes(), o.mode, owner).map_err(failed)?
            };
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
    use crate::config::identity::Field;
    use crate::config::settings::{resolve, Raw};
    use crate::node::paths::{self, ZK_USER};
    use crate::zk::tls;

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
        let secrets = crate::mesos::auth::placeholder(s.role);
        let node = Node {
            root: Path::new(root),
            settings: &s,
            identity: &id,
            config: &cfg,
            myid,
            zk_super_digest: myid.map(|_| {
                crate::zk::secret::Secret::parse(&"s".repeat(32), "test")
                    .unwrap()
                    .super_digest()
            }),
            mesos: secrets.as_ref(),
            zk_tls: None,
            registry_formed: false,
            cgroups: Default::default(),
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
                registry_formed: false,
                cgroups: Default::default(),
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

    /// zoo.cfg allows exactly the four-letter words mesos-boot sends (four_letter::FourLetter), no
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
        let mut sent: Vec<&str> = crate::zk::four_letter::FourLetter::ALL
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
        let digest = crate::zk::secret::Secret::parse(&"s".repeat(32), "test")
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
            registry_formed: false,
            cgroups: Default::default(),
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
            registry_formed: false,
            cgroups: Default::default(),
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
                registry_formed: false,
                cgroups: Default::default(),
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
        // mesos-boot gives these directories to the zookeeper user: never a system directory,
        // a world-writable one, or one reached through `..`.
        for dir in [
            "/etc",
            "/etc/zk",
            "/usr/local/zk",
            "/",
            "/var",
            "/var/lib",
            "/root/zk",
            "/boot",
            "/tmp/zk",
            "/home/zk",
            "/opt",
            "/srv/../etc",
            "/srv/./zk",
            "/run/zk",
            "/lib64/zk",
        ] {
            for key in ["zookeeper-data-directory", "zookeeper-log-directory"] {
                let err = plan_with(&format!(
                    "com.netflix.exhibitor.servers-spec=1:10.0.1.12\ncom.netflix.exhibitor.{key}={dir}\n"
                ))
                .unwrap_err();
                assert!(
                    err.message
                        .starts_with(&format!("key com.netflix.exhibitor.{key}: `{dir}`")),
                    "{dir}: {}",
                    err.message
                );
            }
        }
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
            let secrets = crate::mesos::auth::placeholder(settings(role, &extra).role)
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
        let secrets = crate::mesos::auth::placeholder(s.role);
        let node = Node {
            root: Path::new("/"),
            settings: &s,
            identity: &id,
            config: &cfg,
            myid: None,
            zk_super_digest: None,
            mesos: secrets.as_ref(),
            zk_tls: None,
            registry_formed: false,
            cgroups: Default::default(),
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

    use crate::node::zk_state::{adopt_zookeeper_rewrites, zookeeper_ran_before};

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

    /// Issue 25, item 3: the zookeeper user owns the data directory's parent and puts a
    /// symlink where a directory root gives it is written: root must not give away (or write
    /// into) what the link points to.
    #[test]
    fn a_directory_swapped_for_a_symlink_is_refused_and_what_it_points_to_stays_roots() {
        use std::os::unix::fs::MetadataExt;
        assert!(
            nix::unistd::geteuid().is_root(),
            "runs as root, as CI and the nodes do"
        );
        let zk = nix::unistd::User::from_name(ZK_USER)
            .unwrap()
            .expect("the zookeeper user");
        let root = tempfile::tempdir().unwrap();
        let theirs = root.path().join("var/lib/zookeeper");
        std::fs::create_dir_all(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(zk.uid.as_raw()), Some(zk.gid.as_raw())).unwrap();
        let victim = root.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::os::unix::fs::symlink(&victim, theirs.join("version-2")).unwrap();
        let out = Output {
            path: "/var/lib/zookeeper/version-2".into(),
            content: String::new(),
            mode: 0o750,
            owner: Some(ZK_USER),
            dir: true,
        };
        let got = write(root.path(), &[out]);
        assert_eq!(
            std::fs::metadata(&victim).unwrap().uid(),
            0,
            "the link's target was given away"
        );
        let e = got.expect_err("a symlink in the zookeeper user's directory");
        assert!(e.message.contains("not followed"), "{}", e.message);
    }
}
