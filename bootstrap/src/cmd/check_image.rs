//! `mesos-boot check-image`: run by Packer's last provisioner, it verifies that the image holds
//! everything a node of any role needs, so a broken AMI fails its build instead of its first
//! boot: the systemd units and the programs their `ExecStart=` names, ZooKeeper's and Mesos'
//! files, and templates (embedded, and the copies in `/usr/share/mesos-boot/templates`) that
//! render for every role. Paths are under `--root`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::identity::{Field, Identity};
use crate::config::settings::{resolve, Raw};
use crate::failure::{Failure, Result};
use crate::node::paths::under;
use crate::node::render::{self, Node, Templates};
use crate::store::SharedConfig;

/// Units mesos-boot's nodes run.
pub const UNITS: [&str; 5] = [
    "mesos-boot@.service",
    "mesos-boot-serve.service",
    "zookeeper.service",
    "mesos-master.service",
    "mesos-agent.service",
];

/// Where the image keeps them.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The reference copy of the default templates (a starting point for `--templates`).
pub const TEMPLATE_DIR: &str = "/usr/share/mesos-boot/templates";

/// Files the roles need besides the units' programs (with the Netty jars ZooKeeper TLS adds to
/// the class path, `crate::zk::tls::NETTY_CLASSPATH`).
const FILES: [&str; 6] = [
    "/usr/share/java/zookeeper.jar",
    "/etc/zookeeper/conf/environment",
    "/usr/bin/java",
    "/usr/share/java/netty-codec.jar",
    "/usr/share/java/netty-resolver.jar",
    "/usr/share/java/netty-transport-native-unix-common.jar",
];

/// One check's outcome.
pub struct Check {
    pub what: String,
    pub problem: Option<String>,
}

fn executable(root: &Path, path: &str) -> Option<String> {
    let p = under(root, path);
    match std::fs::metadata(&p) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => None,
        Ok(_) => Some(format!("{} is not an executable file", p.display())),
        Err(e) => Some(format!("{}: {e}", p.display())),
    }
}

/// The program an `ExecStart=` line runs (prefixes such as `-` or `@` stripped).
fn exec_program(unit_text: &str) -> Option<String> {
    unit_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))
        .and_then(|cmd| cmd.split_whitespace().next())
        .map(|p| p.trim_start_matches(['-', '@', '+', '!', ':']).to_string())
}

fn sample_render(templates: &Templates, origin: &str) -> Vec<Check> {
    let field = |v: &str| Field {
        value: v.into(),
        source: "check-image",
    };
    let identity = Identity {
        instance_id: field("i-0123456789abcdef0"),
        ip: field("10.0.1.10"),
        hostname: field("ip-10-0-1-10.ec2.internal"),
        zone: field("us-east-1a"),
        region: field("us-east-1"),
        instance_type: field("m5.large"),
        tags: None,
        tags_source: "check-image",
    };
    let config = SharedConfig::parse(
        "com.netflix.exhibitor.servers-spec=1:10.0.1.10,2:10.0.1.11,3:10.0.1.12\n",
    )
    .expect("a valid sample config");
    ["zookeeper", "master", "agent"]
        .into_iter()
        .map(|role| {
            let cli = [
                ("role", role),
                ("cluster", "image-check"),
                ("shared-config", "s3://image-check/exhibitor.properties"),
                ("masters", "3"),
            ]
            .into_iter()
            .map(|(k, v)| (k, (v.to_string(), "flag")))
            .collect();
            let problem = resolve(&Raw {
                cli,
                tags: Default::default(),
            })
            .and_then(|settings| {
                let zk = role == "zookeeper";
                let secrets = crate::mesos::auth::placeholder(settings.role);
                let node = Node {
                    root: Path::new("/"),
                    settings: &settings,
                    identity: &identity,
                    config: &config,
                    myid: zk.then_some(1),
                    zk_super_digest: zk.then(|| "super:check-image".to_string()),
                    mesos: secrets.as_ref(),
                    zk_tls: None,
                    registry_formed: false,
                    cgroups: Default::default(),
                };
                render::plan(&node, templates)
            })
            .err()
            .map(|f| f.message);
            Check {
                what: format!("{origin} templates render a {role} node"),
                problem,
            }
        })
        .collect()
}

/// Every check, in order.
pub fn checks(root: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    for unit in UNITS {
        let path = under(root, &format!("{UNIT_DIR}/{unit}"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                out.push(Check {
                    what: format!("unit {unit}"),
                    problem: None,
                });
                if let Some(program) = exec_program(&text) {
                    out.push(Check {
                        what: format!("{unit} runs {program}"),
                        problem: executable(root, &program),
                    });
                }
            }
            Err(e) => out.push(Check {
                what: format!("unit {unit}"),
                problem: Some(format!("{}: {e}", path.display())),
            }),
        }
    }
    for file in FILES {
        let p = under(root, file);
        out.push(Check {
            what: file.to_string(),
            problem: (!p.exists()).then(|| format!("{} does not exist", p.display())),
        });
    }
    match Templates::load(None) {
        Ok(t) => out.extend(sample_render(&t, "embedded")),
        Err(f) => out.push(Check {
            what: "embedded templates".into(),
            problem: Some(f.message),
        }),
    }
    let dir = under(root, TEMPLATE_DIR);
    if dir.is_dir() {
        match Templates::load(Some(&dir)) {
            Ok(t) => out.extend(sample_render(&t, &dir.display().to_string())),
            Err(f) => out.push(Check {
                what: dir.display().to_string(),
                problem: Some(f.message),
            }),
        }
    }
    out
}

/// Prints one line per check; fails (exit 2) naming every problem.
pub fn run(root: &Path) -> Result<()> {
    let checks = checks(root);
    let mut problems = Vec::new();
    for c in &checks {
        match &c.problem {
            None => println!("ok       {}", c.what),
            Some(p) => {
                println!("MISSING  {}: {p}", c.what);
                problems.push(format!("{}: {p}", c.what));
            }
        }
    }
    if problems.is_empty() {
        println!("image ok: {} checks", checks.len());
        Ok(())
    } else {
        Err(Failure::bad_input(format!(
            "the image is not ready ({} of {} checks failed): {}",
            problems.len(),
            checks.len(),
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_programs() {
        assert_eq!(
            exec_program("[Service]\nExecStart=-/usr/sbin/mesos-agent --x\n").as_deref(),
            Some("/usr/sbin/mesos-agent")
        );
        assert_eq!(exec_program("[Unit]\n"), None);
    }

    /// Every jar TLS appends to ZooKeeper's class path is one the image check looks for.
    #[test]
    fn the_tls_class_path_is_checked() {
        let cp = crate::zk::tls::NETTY_CLASSPATH;
        let jars: Vec<&str> = cp.split(':').filter(|j| !j.is_empty()).collect();
        assert_eq!(jars.len(), 3);
        assert!(jars.iter().all(|j| FILES.contains(j)), "{cp}");
    }

    #[test]
    fn the_embedded_templates_render_every_role() {
        let t = Templates::load(None).unwrap();
        for c in sample_render(&t, "embedded") {
            assert!(c.problem.is_none(), "{}: {:?}", c.what, c.problem);
        }
    }
}
