//! Helpers shared by the scenario tests: running mesos-boot as a node would (its own IMDS
//! emulator, moto as AWS, a root directory), and booting real ZooKeeper ensembles with it.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use mesos_boot_tests::imds::{ImdsEmulator, Instance};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::zk::{zk_start_script, ZkNodeGuard};
use mesos_boot_tests::{bin, block_on, net};

pub mod cluster;

pub const KEY: &str = "exhibitor/exhibitor.properties";

/// One emulated node: an address, an IMDS emulator, a root directory.
pub struct Node {
    pub ip: Ipv4Addr,
    pub imds: ImdsEmulator,
    pub root: PathBuf,
    pub zk: Option<ZkNodeGuard>,
    _dir: tempfile::TempDir,
}

impl Node {
    pub fn new(ip: Ipv4Addr, tags: &[(&str, &str)]) -> Node {
        let mut instance = Instance::at(ip);
        for (k, v) in tags {
            instance = instance.with_tag(k, v);
        }
        let dir = tempfile::Builder::new()
            .prefix("mesos-boot-node.")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        // Mesos as the image installs it (the emulator, as tests/image.rs's layer does): the
        // agent's boot asks its program which authentication its executors can use.
        let sbin = root.join("usr/sbin");
        std::fs::create_dir_all(&sbin).unwrap();
        for name in ["mesos-master", "mesos-agent"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mesos-emulator"), sbin.join(name))
                .unwrap();
        }
        Node {
            ip,
            imds: ImdsEmulator::start(instance),
            root,
            zk: None,
            _dir: dir,
        }
    }

    /// A ZooKeeper node: kills its JVM when dropped.
    pub fn zookeeper(ip: Ipv4Addr, tags: &[(&str, &str)]) -> Node {
        let mut n = Node::new(ip, tags);
        n.zk = Some(ZkNodeGuard::new(&n.root));
        n
    }

    /// Builder: the instance id IMDS serves (e.g. one moto launched).
    pub fn with_instance_id(self, id: &str) -> Node {
        let mut inst = self.imds.instance();
        inst.instance_id = id.to_string();
        self.imds.set_instance(inst);
        self
    }

    /// The command line mesos-boot runs with on this node.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin::mesos_boot_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("MESOS_BOOT_") || k.starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(Moto::shared().env())
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", self.imds.endpoint())
            .env("MESOS_BOOT_ROOT", &self.root)
            .env(
                "MESOS_BOOT_START_COMMAND",
                format!("{} \"$MESOS_BOOT_ROOT\"", zk_start_script().display()),
            )
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run mesos-boot")
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mesos-boot")
    }

    pub fn file(&self, path: &str) -> String {
        let p = self.root.join(path.trim_start_matches('/'));
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    pub fn boot_record(&self) -> serde_json::Value {
        serde_json::from_str(&self.file("/var/lib/mesos-boot/boot.json")).unwrap()
    }

    /// Every regular file under the root, relative, sorted.
    /// Every file under the root but the Mesos programs [`Node::new`] installed.
    pub fn files(&self) -> Vec<String> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.retain(|f| !f.starts_with("usr/sbin/mesos-"));
        out.sort();
        out
    }

    pub fn client_addr(&self) -> String {
        format!("{}:2181", self.ip)
    }
}

/// stdout + stderr of a finished run, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Exhibitor shared config listing `ips` as servers 1..n.
pub fn shared_config(ips: &[Ipv4Addr]) -> String {
    let spec: Vec<String> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!("{}:{ip}", i + 1))
        .collect();
    format!(
        "#Auto-generated by Exhibitor test\n\
         com.netflix.exhibitor.servers-spec={}\n\
         com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=500&initLimit\\=10&syncLimit\\=5\n\
         com.netflix.exhibitor.client-port=2181\n",
        spec.join(",")
    )
}

/// A fresh bucket holding `text` at [`KEY`]; returns `s3://bucket/key`.
pub fn s3_config(text: &str) -> String {
    block_on(async {
        let moto = Moto::shared();
        let bucket = moto.unique_bucket("mb").await;
        moto.put_object(&bucket, KEY, text.as_bytes().to_vec())
            .await;
        format!("s3://{bucket}/{KEY}")
    })
}

/// Has every credential beside the shared config `url` created, as the masters' first boot
/// does (`mesos-boot credentials create`): for tests that boot agents without masters.
pub fn create_credentials(url: &str) {
    let mut cmd = Command::new(bin::mesos_boot_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("MESOS_BOOT_") || k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .envs(Moto::shared().env())
        .args(["credentials", "create", url])
        .stdin(Stdio::null())
        .output()
        .expect("run mesos-boot credentials create");
    assert!(out.status.success(), "{}", show(&out));
}

/// The text of the object `<url>.<name>` (S3 through moto, or a file).
pub fn credential_object(url: &str, name: &str) -> Option<String> {
    match url.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, key) = rest.split_once('/').unwrap();
            block_on(Moto::shared().get_object(bucket, &format!("{key}.{name}")))
                .map(|(b, _)| String::from_utf8(b).unwrap())
        }
        None => {
            std::fs::read_to_string(format!("{}.{name}", url.trim_start_matches("file://"))).ok()
        }
    }
}

/// `user:secret` of the current credential in `<url>.<name>` (e.g. `zk-mesos-master`).
pub fn credential(url: &str, name: &str) -> String {
    let text = credential_object(url, name).unwrap_or_else(|| panic!("no {url}.{name}"));
    let line = text.lines().next().unwrap();
    let (p, s) = line.split_once(' ').unwrap();
    format!("{p}:{s}")
}

/// Tags of a node of `role` in cluster `test` reading `url`.
pub fn tags<'a>(role: &'a str, url: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("mesos:role", role),
        ("mesos:cluster", "test"),
        ("mesos:shared-config", url),
    ]
}

/// A real ZooKeeper ensemble of `n` nodes, each booted by `mesos-boot --role zookeeper`
/// concurrently from a shared config in S3 that lists them all.
pub struct Ensemble {
    pub nodes: Vec<Node>,
    pub url: String,
    pub outputs: Vec<Output>,
}

impl Ensemble {
    pub fn boot(n: usize) -> Ensemble {
        let ips = net::alloc_ips(n);
        let url = s3_config(&shared_config(&ips));
        let nodes: Vec<Node> = ips
            .iter()
            .map(|ip| Node::zookeeper(*ip, &tags("zookeeper", &url)))
            .collect();
        let children: Vec<Child> = nodes
            .iter()
            .map(|n| n.spawn(&["--timeout", "120s"]))
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        // As the masters' first boot would: agents booted by the tests find their credentials.
        create_credentials(&url);
        Ensemble {
            nodes,
            url,
            outputs,
        }
    }

    /// The connect string a Mesos master given the masters' ZooKeeper credential uses
    /// (`user:secret@h1:2181,…`, see `mesos::connect`).
    pub fn master_connect(&self) -> String {
        format!(
            "{}@{}",
            credential(&self.url, "zk-mesos-master"),
            self.connect_string()
        )
    }

    pub fn connect_string(&self) -> String {
        self.nodes
            .iter()
            .map(Node::client_addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn modes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| mesos_boot_tests::zk::mode(&n.client_addr()).unwrap_or_else(|| "down".into()))
            .collect()
    }
}

pub const LONG: Duration = Duration::from_secs(120);

/// The environment a rendered `KEY="value"` file gives a daemon (systemd's EnvironmentFile).
pub fn env_file(node: &Node, path: &str) -> Vec<(String, String)> {
    node.file(path)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// [`env_file`] by name.
pub fn env_map(node: &Node, path: &str) -> std::collections::BTreeMap<String, String> {
    env_file(node, path).into_iter().collect()
}

/// A Mesos daemon (the emulator, as `mesos-master` / `mesos-agent`) started with a node's
/// rendered environment; its work directory under the node's root.
pub fn mesos_daemon(node: &Node, role: &str, env_path: &str) -> std::process::Child {
    mesos_daemon_with(node, role, env_path, &[], role)
}

/// [`mesos_daemon`] with `extra` environment over the rendered one, logging to `<log>.log`.
pub fn mesos_daemon_with(
    node: &Node,
    role: &str,
    env_path: &str,
    extra: &[(&str, String)],
    log: &str,
) -> std::process::Child {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mesos-emulator"));
    cmd.arg(role)
        .envs(env_file(node, env_path))
        .env(
            "MESOS_WORK_DIR",
            node.root.join(format!("var/lib/mesos/{log}")),
        )
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(node.root.join(format!("{log}.log"))).unwrap());
    mesos_boot_tests::proc::spawn_bound(cmd).expect("spawn the Mesos emulator")
}
