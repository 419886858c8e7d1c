//! The image, booted for real: `packer/local-image.sh` builds the AMI's root filesystem (the
//! Packer provisioning scripts applied to a debootstrapped Debian 12 with cloud-init), cached
//! outside the checkout; `terraform apply` of the sample to moto; then, for every instance the
//! groups launched, a systemd-nspawn container booting the image with systemd as PID 1, that
//! instance's IP in a network namespace of its own, and an IMDSv2 emulator at 169.254.169.254
//! (in a hub namespace the test creates: a bridge, moto, the emulator) serving its instance id,
//! tags and the user-data from moto. cloud-init runs the user-data, the units start, the
//! ensemble forms, masters elect, agents register, every hook is completed, every container is
//! `running` with no failed unit; then a ZooKeeper node and a master reboot; every ZooKeeper
//! container powers off and starts again (data kept); a ZooKeeper instance is terminated and
//! its replacement joins while the dead member is removed.
//!
//! A test-only layer (an overlayfs lower dir above the image, never the image scripts) adds the
//! Mesos stand-ins (`mesos-emulator` as /usr/sbin/mesos-master and /usr/sbin/mesos-agent), the
//! AWS endpoint of moto and test credentials (drop-ins), a resolver that answers at once, hosts
//! entries for the private zone's two NLB names, and short reconcile timings for
//! `mesos-boot serve`.
//!
//! The sample runs as applied: Mesos reaches ZooKeeper at `zookeeper.<domain>:2181`. Both names
//! lead to NLB emulators in the hub, which forward to the healthy targets of their groups. Every
//! namespace enforces the applied security groups as nftables filters made from
//! `terraform show -json` (tests/image/security_groups.py: stateful, default drop, ingress and
//! egress per group), so a flow the groups lack fails the boot as it would on AWS. The same
//! groups are checked against terraform/README.md's flow table.
//!
//! Needs root, `debootstrap`, `systemd-container` (scripts/setup.sh installs them) and
//! terraform. Traffic stays between the namespaces the test creates. Everything it creates
//! (network namespaces, cgroups, containers and their mounts, processes) is removed on drop,
//! also when an assertion fails; a run killed outright is cleaned up by the next one.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use mesos_boot_tests::imds::{ImdsEmulator, Instance};
use mesos_boot_tests::moto::{Moto, REGION};
use mesos_boot_tests::nlb::Nlb;
use mesos_boot_tests::{bin, block_on, poll_until, proc, workspace_root, zk};

const CLUSTER: &str = "image1";
const TOP_FQDN: &str = "mesos.example.test";
/// Cgroup (in both hierarchies) holding every container of the test.
const CGROUP: &str = "mesos-boot-image-test";
/// Prefix of the network namespaces the test creates.
const NS_PREFIX: &str = "mbimg-";
/// Prefix of the test's work directory (in the temp dir).
const TMP_PREFIX: &str = "mesos-boot-image.";
const IMDS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The hub's address for the services the nodes use besides IMDS (moto).
const HUB: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 1);
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
/// The sample's VPC (its default `vpc_cidr_block`); its subnets are the first /20s.
const VPC_CIDR: &str = "10.40.0.0/16";
/// The internal NLBs' addresses (outside the subnets, on the hub's bridge), where their
/// emulators listen; the names of the private zone's alias records resolve to them.
const NLB_ZOOKEEPER: Ipv4Addr = Ipv4Addr::new(10, 40, 255, 10);
const NLB_MASTER: Ipv4Addr = Ipv4Addr::new(10, 40, 255, 20);
/// The one address every NLB emulator connects to its targets from (the hub's route to the
/// VPC), a member of both NLB security groups. The test's own probes (`srvr`, `/master/state`,
/// a ZooKeeper client) come from it too, so they pass the targets' filters as the NLBs do.
const NLB_SOURCE: Ipv4Addr = Ipv4Addr::new(10, 40, 255, 1);

fn run(cmd: &str) -> String {
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", cmd])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn try_run(cmd: &str) -> Option<String> {
    let out = Command::new("bash")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// Removes what a previous run (killed before its drops ran) left: containers, cgroups, netns.
fn sweep() {
    for h in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"] {
        let top = Path::new(h).join(CGROUP);
        if top.is_dir() {
            kill_cgroup(&top);
        }
    }
    // The work directories of killed runs (node disks, Terraform state); their overlay mounts
    // lived in the nodes' mount namespaces, gone with the processes killed above.
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for e in dir.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.starts_with(NS_PREFIX) {
                let _ = try_run(&format!("ip netns del {n}"));
            }
        }
    }
}

/// Runs [`sweep`] on drop.
struct Sweep;

impl Drop for Sweep {
    fn drop(&mut self) {
        sweep();
    }
}

/// SIGKILLs every process in the cgroup tree `dir`, then removes it (deepest first).
fn kill_cgroup(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut any = false;
        walk(dir, &mut |d| {
            if let Ok(procs) = std::fs::read_to_string(d.join("cgroup.procs")) {
                for pid in procs
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok())
                {
                    any = true;
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        });
        if !any || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    fn rmdirs(d: &Path) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    rmdirs(&e.path());
                }
            }
        }
        let _ = std::fs::remove_dir(d);
    }
    rmdirs(dir);
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    f(dir);
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(&e.path(), f);
            }
        }
    }
}

/// The hub network namespace (a bridge, 169.254.169.254 for IMDS, [`HUB`] for moto) that the
/// test thread moves into; every node namespace is joined to its bridge by a veth pair.
struct Net {
    hub: String,
    nodes: Vec<String>,
    /// (namespace, security group, address) of every node, for the packet filters.
    members: Vec<(String, String, Ipv4Addr)>,
    vpc: String,
    next: usize,
}

impl Net {
    fn new() -> Net {
        let hub = format!("{NS_PREFIX}{}-hub", std::process::id());
        run(&format!(
            "ip netns add {hub}
             ip -n {hub} link set lo up
             ip -n {hub} link add br0 type bridge
             ip -n {hub} link set br0 up
             ip -n {hub} addr add {IMDS}/32 dev br0
             ip -n {hub} addr add {HUB}/32 dev br0"
        ));
        Net {
            hub,
            nodes: Vec::new(),
            members: Vec::new(),
            vpc: String::new(),
            next: 0,
        }
    }

    /// Routes the VPC's addresses (the instances') over the bridge; nothing else is routed, so
    /// a lookup of the host's resolver from the hub fails at once instead of timing out. The
    /// NLB emulators' addresses go on the bridge too, and the hub reaches the VPC from
    /// [`NLB_SOURCE`].
    fn set_vpc(&mut self, vpc_cidr: &str) {
        if self.vpc != vpc_cidr {
            assert_eq!(
                vpc_cidr, VPC_CIDR,
                "the sample's VPC moved: move the NLB addresses"
            );
            let hub = &self.hub;
            run(&format!(
                "ip -n {hub} addr add {NLB_SOURCE}/32 dev br0
                 ip -n {hub} addr add {NLB_ZOOKEEPER}/32 dev br0
                 ip -n {hub} addr add {NLB_MASTER}/32 dev br0
                 ip -n {hub} route add {vpc_cidr} dev br0 src {NLB_SOURCE}"
            ));
            self.vpc = vpc_cidr.to_string();
        }
    }

    /// Every namespace's packet filter, made from the applied security groups
    /// (tests/image/security_groups.py): default drop, stateful, ingress and egress per group.
    /// Run again whenever a node comes or goes (the groups' member sets change).
    fn enforce(&self, state: &Path, aws_api: &str, dir: &Path) {
        let mut members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (_, group, ip) in &self.members {
            members
                .entry(group.as_str())
                .or_default()
                .push(ip.to_string());
        }
        members.insert(
            "lb-zookeeper",
            vec![NLB_ZOOKEEPER.to_string(), NLB_SOURCE.to_string()],
        );
        members.insert(
            "lb-master",
            vec![NLB_MASTER.to_string(), NLB_SOURCE.to_string()],
        );
        let layout = serde_json::json!({
            "vpc_cidr": self.vpc,
            "aws_api": aws_api,
            "members": members,
            "nodes": self.members.iter().map(|(ns, group, _)| serde_json::json!({"netns": ns, "group": group})).collect::<Vec<_>>(),
            "hub": {
                "netns": self.hub,
                "listeners": {"lb-zookeeper": NLB_ZOOKEEPER.to_string(), "lb-master": NLB_MASTER.to_string()},
                "source": NLB_SOURCE.to_string(),
            },
        });
        let path = dir.join("filters.json");
        std::fs::write(&path, layout.to_string()).unwrap();
        let script = workspace_root().join("tests/image/security_groups.py");
        run(&format!(
            "python3 {} apply {} {}",
            script.display(),
            state.display(),
            path.display()
        ));
    }

    /// Moves the calling thread (and what it starts from now on) into the hub.
    fn enter_hub(&self) {
        let f = std::fs::File::open(format!("/run/netns/{}", self.hub)).unwrap();
        use std::os::fd::AsRawFd;
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "setns {}: {}",
            self.hub,
            std::io::Error::last_os_error()
        );
    }

    /// A namespace for the instance at `ip` (of security group `group`): `eth0` on the hub's
    /// bridge.
    fn add_node(&mut self, ip: Ipv4Addr, group: &str) -> String {
        let n = self.next;
        self.next += 1;
        let ns = format!("{NS_PREFIX}{}-{n}", std::process::id());
        let hub = &self.hub;
        let vpc = &self.vpc;
        run(&format!(
            "ip netns add {ns}
             ip -n {ns} link set lo up
             ip -n {hub} link add v{n} type veth peer name eth0 netns {ns}
             ip -n {hub} link set v{n} master br0 up
             ip -n {ns} addr add {ip}/32 dev eth0
             ip -n {ns} link set eth0 up
             ip -n {ns} route add {vpc} dev eth0
             ip -n {ns} route add {IMDS}/32 dev eth0
             ip -n {ns} route add {HUB}/32 dev eth0"
        ));
        self.nodes.push(ns.clone());
        self.members.push((ns.clone(), group.to_string(), ip));
        ns
    }
}

impl Net {
    fn remove_node(&mut self, ns: &str) {
        let _ = try_run(&format!("ip netns del {ns}"));
        self.nodes.retain(|n| n != ns);
        self.members.retain(|(n, _, _)| n != ns);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            let _ = try_run(&format!("ip netns del {ns}"));
        }
    }
}

/// One instance booted as a container.
struct Container {
    name: String,
    ip: Ipv4Addr,
    role: String,
    instance_id: String,
    netns: String,
    state: PathBuf,
    lower: String,
    log: PathBuf,
    child: Option<Child>,
    started: Instant,
}

impl Container {
    fn cgroup(&self) -> PathBuf {
        Path::new("/sys/fs/cgroup/systemd")
            .join(CGROUP)
            .join(&self.name)
    }

    fn start(&mut self) {
        // The cgroups a powered-off run left (empty) go first: nspawn makes them anew.
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(workspace_root().join("tests/image/node.sh"));
        cmd.args([&self.name, &self.lower])
            .arg(&self.state)
            .args([&self.netns, CGROUP])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.started = Instant::now();
        self.child = Some(proc::spawn_bound(cmd).unwrap());
    }

    /// PID 1 of the container (systemd), once it runs.
    fn pid1(&self) -> Option<i32> {
        let procs =
            std::fs::read_to_string(self.cgroup().join("payload/init.scope/cgroup.procs")).ok()?;
        procs.split_whitespace().next()?.parse().ok()
    }

    /// Runs `cmd` (sh) inside the container; its stdout when it succeeded.
    fn exec(&self, cmd: &str) -> Option<String> {
        let pid = self.pid1()?;
        let out = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-a", "/bin/sh", "-c", cmd])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn system_state(&self) -> String {
        let pid = match self.pid1() {
            Some(p) => p,
            None => return "no pid 1".into(),
        };
        Command::new("nsenter")
            .args([
                "-t",
                &pid.to_string(),
                "-a",
                "systemctl",
                "is-system-running",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// Waits for `running`; fails at once on `degraded` (a failed unit), with the journal.
    fn wait_running(&self, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.system_state();
            if s == "running" {
                return self.started.elapsed();
            }
            if s == "degraded" || Instant::now() > deadline {
                panic!(
                    "{} ({} {}): system {s}\n{}",
                    self.name,
                    self.role,
                    self.ip,
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn diagnostics(&self) -> String {
        let failed = self
            .exec("systemctl --failed --no-legend --plain")
            .unwrap_or_default();
        let journal = self
            .exec("journalctl -b --no-pager -n 80 -u 'mesos-boot*' -u zookeeper -u 'mesos-*' -u cloud-final")
            .unwrap_or_default();
        let console = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = console.lines().rev().take(30).collect();
        format!(
            "failed units: {failed}\n--- journal\n{journal}\n--- console (last lines)\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// One paragraph for a failure message: the system's state and the last lines of
    /// mesos-boot's units.
    fn summary(&self) -> String {
        let state = self.system_state();
        let journal = self
            .exec("journalctl -b --no-pager -n 12 -o cat -u 'mesos-boot*'")
            .unwrap_or_else(|| "(no shell)".into());
        format!("- {} ({}): system {state}\n{journal}", self.name, self.ip)
    }

    fn failed_units(&self) -> String {
        self.exec("systemctl --failed --no-legend --plain")
            .unwrap_or_else(|| "(cannot ask systemd)".into())
    }

    /// The final boot record of this boot. A running system only means that `mesos-boot@` sent
    /// READY=1 (Type=notify), which it does before it starts the role's service, waits for
    /// quorum and completes the hook; until then the record says `"result": "starting"`.
    fn boot_record(&self) -> serde_json::Value {
        poll_until(BOOT_TIMEOUT, "the final boot record", || {
            let text = self.exec("cat /var/lib/mesos-boot/boot.json")?;
            let rec: serde_json::Value = serde_json::from_str(&text).ok()?;
            (rec["result"] != "starting").then_some(rec)
        })
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.name, self.diagnostics()))
    }

    /// `ActiveState/Result` of a unit.
    fn unit(&self, unit: &str) -> String {
        self.exec(&format!(
            "systemctl show -P ActiveState {unit}; systemctl show -P Result {unit}"
        ))
        .unwrap_or_default()
        .replace('\n', "/")
    }

    /// Waits until the container has gone (power-off: node.sh exits 0).
    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let mut child = self.child.take().expect("running");
        let code = poll_until(timeout, "the container to power off", || {
            child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1))
        })
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.name, self.diagnostics()));
        proc::unregister_pid(child.id());
        code
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            proc::unregister_pid(c.id());
        }
        for h in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"] {
            let d = Path::new(h).join(CGROUP).join(&self.name);
            if d.is_dir() {
                kill_cgroup(&d);
            }
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.kill();
    }
}

fn terraform() -> PathBuf {
    std::env::var_os("TERRAFORM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("terraform"))
                .find(|p| p.is_file())
        })
        .expect("terraform (TERRAFORM or PATH)")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name == ".terraform" || name.contains(".tfstate") || name == ".terraform.lock.hcl" {
            continue;
        }
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(&name));
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

/// `terraform apply` of the sample to `moto` (as tests/whole_system.rs does); returns the path
/// of its `terraform show -json`.
fn apply(dir: &Path, moto: &Moto) -> PathBuf {
    let tf = terraform();
    copy_dir(&workspace_root().join("terraform"), dir);
    let zip = dir.join("autoscaler.zip");
    run(&format!(
        "python3 -c \"import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); z.writestr('bootstrap', '#!/bin/sh\\n'); z.close()\" {}",
        zip.display()
    ));
    let vars = serde_json::json!({
        "aws_endpoint_url": moto.endpoint(),
        "aws_region": REGION,
        "cluster_name": CLUSTER,
        "top_fqdn": TOP_FQDN,
        "ami_id": "ami-0123456789abcdef0",
        "autoscaler_zip_path": zip,
        "lb_deletion_protection": false,
        "force_destroy_bucket": true,
        "wait_for_capacity_timeout": "0",
        "agent_count": 2,
        // Everything else as the sample's defaults: Mesos reaches ZooKeeper through the
        // zookeeper NLB's name (mesos:zk-endpoint), here its emulator in the hub.
    });
    let varfile = dir.join("moto.tfvars.json");
    std::fs::write(&varfile, vars.to_string()).unwrap();
    let tf_run = |args: &[&str]| {
        let mut cmd = Command::new(&tf);
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.starts_with("TF_") {
                cmd.env_remove(k);
            }
        }
        let out = cmd
            .args(args)
            .arg("-no-color")
            .current_dir(dir.join("sample"))
            .env("TF_CLI_CONFIG_FILE", dir.join("ci.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "terraform {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    tf_run(&["init", "-backend=false", "-input=false"]);
    tf_run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-parallelism=30",
        &format!("-var-file={}", varfile.display()),
    ]);
    let state = dir.join("state.json");
    std::fs::write(&state, tf_run(&["show", "-json"])).unwrap();
    state
}

/// What EC2's IMDS serves for moto instance `id`: id, private IP, zone, type, tags, and the
/// user-data (EC2 keeps it base64; IMDS serves it decoded).
fn instance(moto: &Moto, id: &str) -> (Instance, String) {
    block_on(async {
        let ec2 = moto.ec2();
        let d = ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        let i = d.reservations()[0].instances()[0].clone();
        let ip: Ipv4Addr = i.private_ip_address().unwrap().parse().unwrap();
        let vpc = i.vpc_id().unwrap().to_string();
        let vpcs = ec2.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        let cidr = vpcs.vpcs()[0].cidr_block().unwrap().to_string();
        let tags: BTreeMap<String, String> = i
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        let attr = ec2
            .describe_instance_attribute()
            .instance_id(id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .unwrap();
        let user_data = attr.user_data().and_then(|u| u.value()).map(|b64| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap(),
            )
            .unwrap()
        });
        let mut inst = Instance::at(ip);
        inst.instance_id = id.to_string();
        inst.tags = tags;
        inst.user_data = user_data;
        if let Some(az) = i.placement().and_then(|p| p.availability_zone()) {
            inst.availability_zone = az.to_string();
        }
        if let Some(t) = i.instance_type() {
            inst.instance_type = t.as_str().to_string();
        }
        (inst, cidr)
    })
}

fn group(role: &str) -> String {
    format!("{CLUSTER}-{role}")
}

fn lifecycle(moto: &Moto, id: &str) -> String {
    block_on(moto.asg_instance_state(id))
        .map(|s| s.0)
        .unwrap_or_else(|| "not in a group".into())
}

/// The instance's "hardware" as EC2 shows it to the guest: `/sys/hypervisor/uuid` starting with
/// `ec2` (a Xen-based instance; tests/image/node.sh binds `STATE/hw/hypervisor` there). cloud-init
/// 22.4 identifies the platform as AWS from it (`identify_aws`, uuid_source "hypervisor"; it
/// ignores DMI inside a container), and only on AWS does its Ec2 datasource ask for an IMDSv2
/// token, which the sample's launch template (and so the emulator) requires.
fn ec2_hardware(state: &Path, instance_id: &str) {
    let hex: String = instance_id
        .trim_start_matches("i-")
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .chain(std::iter::repeat('0'))
        .take(29)
        .collect();
    let u = format!("ec2{hex}");
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        &u[..8],
        &u[8..12],
        &u[12..16],
        &u[16..20],
        &u[20..]
    );
    let hv = state.join("hw/hypervisor");
    std::fs::create_dir_all(&hv).unwrap();
    std::fs::write(hv.join("uuid"), format!("{uuid}\n")).unwrap();
}

/// The test-only layer above the image.
fn test_layer(dir: &Path, moto: &Moto) {
    // The private zone's alias records of the NLBs, as the VPC's resolver answers them: their
    // emulators in the hub (the image has no /etc/hosts of its own; cloud-init leaves it alone).
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(
        dir.join("etc/hosts"),
        format!(
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n\
             {NLB_ZOOKEEPER} zookeeper.{CLUSTER}.{TOP_FQDN}\n\
             {NLB_MASTER} mesos-master.{CLUSTER}.{TOP_FQDN}\n"
        ),
    )
    .unwrap();
    let emu = PathBuf::from(env!("CARGO_BIN_EXE_mesos-emulator"));
    let sbin = dir.join("usr/sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    std::fs::create_dir_all(dir.join("usr/local/lib")).unwrap();
    std::fs::copy(&emu, dir.join("usr/local/lib/mesos-emulator")).unwrap();
    for b in ["mesos-master", "mesos-agent"] {
        std::os::unix::fs::symlink("/usr/local/lib/mesos-emulator", sbin.join(b)).unwrap();
    }
    let env = format!(
        "[Service]\nEnvironment=AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing\n",
        moto.endpoint()
    );
    for unit in ["mesos-boot@.service", "mesos-boot-serve.service"] {
        let d = dir.join(format!("etc/systemd/system/{unit}.d"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("test-aws.conf"), &env).unwrap();
    }
    std::fs::write(
        dir.join("etc/systemd/system/mesos-boot-serve.service.d/test-timing.conf"),
        "[Service]\nExecStart=\nExecStart=/usr/local/bin/mesos-boot serve --reconcile-interval 2s --grace 3s\n",
    )
    .unwrap();
    // Nothing listens on the container's loopback port 53: a lookup fails at once.
    std::fs::write(dir.join("etc/resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
}

/// The sample's internal NLBs (terraform/modules/load_balancers: listeners, target ports and
/// health checks, which tests/terraform checks in the applied sample): one emulated listener
/// each, forwarding to the target port on the instances of its group, as Auto Scaling
/// registers them.
struct Nlbs {
    /// (the role whose instances are the targets, target port, listener)
    listeners: Vec<(&'static str, u16, Nlb)>,
}

impl Nlbs {
    fn start() -> Nlbs {
        let l = |role, ip: Ipv4Addr, port: u16, target, health_port, path| {
            let nlb = Nlb::start(SocketAddr::from((ip, port)), health_port, path);
            (role, target, nlb)
        };
        Nlbs {
            listeners: vec![
                l("zookeeper", NLB_ZOOKEEPER, 2181, 2181, 8080, "/health"),
                l("zookeeper", NLB_ZOOKEEPER, 2281, 2281, 8080, "/health"),
                l("zookeeper", NLB_ZOOKEEPER, 8080, 8080, 8080, "/health"),
                l("zookeeper", NLB_ZOOKEEPER, 80, 8080, 8080, "/health"),
                l("master", NLB_MASTER, 5050, 5050, 5050, "/master/health"),
                l("master", NLB_MASTER, 80, 5050, 5050, "/master/health"),
            ],
        }
    }

    fn register(&self, role: &str, ip: Ipv4Addr) {
        for (r, port, nlb) in &self.listeners {
            if *r == role {
                nlb.register(SocketAddr::from((ip, *port)));
            }
        }
    }

    fn deregister(&self, role: &str, ip: Ipv4Addr) {
        for (r, port, nlb) in &self.listeners {
            if *r == role {
                nlb.deregister(SocketAddr::from((ip, *port)));
            }
        }
    }

    /// Connections the listener on `ip:port` accepted.
    fn connections(&self, ip: Ipv4Addr, port: u16) -> u64 {
        self.listeners
            .iter()
            .find(|(_, _, n)| n.addr() == SocketAddr::from((ip, port)))
            .map(|(_, _, n)| n.connections())
            .unwrap_or(0)
    }
}

/// `/master/state` of the leading master, asked of every master container with the operators'
/// credential (the masters' read-only endpoints ask for one).
fn leader_state(containers: &[Container], moto: &Moto) -> Option<serde_json::Value> {
    let auth = mesos_boot_tests::mesos::basic(&credential(moto, "mesos-operator")?);
    containers
        .iter()
        .filter(|c| c.role == "master" && c.child.is_some())
        .find_map(|m| {
            let r = mesos_boot_tests::http::get(
                &format!("http://{}:5050/master/state", m.ip),
                &[("Authorization", auth.as_str())],
            )
            .ok()?;
            let v: serde_json::Value = serde_json::from_str(&r.text()).ok()?;
            (v["leader"] == v["pid"]).then_some(v)
        })
}

/// `user:secret` of the cluster bucket's `<shared-config>.<name>` (the masters create it).
fn credential(moto: &Moto, name: &str) -> Option<String> {
    let bucket = format!("{CLUSTER}.{TOP_FQDN}");
    let (bytes, _) =
        block_on(moto.get_object(&bucket, &format!("exhibitor/exhibitor.properties.{name}")))?;
    let text = String::from_utf8(bytes).ok()?;
    let (p, s) = text.lines().next()?.split_once(' ')?;
    Some(format!("{p}:{s}"))
}

fn zk_mode(ip: Ipv4Addr) -> Option<String> {
    zk::mode(&format!("{ip}:2181"))
}

/// The shared config's text, or why there is none (for failure messages).
fn shared_config(moto: &Moto) -> String {
    let bucket = format!("{CLUSTER}.{TOP_FQDN}");
    match block_on(moto.get_object(&bucket, "exhibitor/exhibitor.properties")) {
        Some((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
        None => "(no object)".into(),
    }
}

fn servers_spec(moto: &Moto) -> String {
    let bucket = format!("{CLUSTER}.{TOP_FQDN}");
    let text = block_on(async {
        let o = moto
            .s3()
            .get_object()
            .bucket(&bucket)
            .key("exhibitor/exhibitor.properties")
            .send()
            .await
            .unwrap();
        String::from_utf8(o.body.collect().await.unwrap().to_vec()).unwrap()
    });
    text.lines()
        .find(|l| l.starts_with("com.netflix.exhibitor.servers-spec="))
        .unwrap_or_default()
        .to_string()
}

/// scripts/demo-image.sh: leaves the cluster running until Ctrl-C (or SIGTERM); the caller's
/// drops then remove everything.
fn demo_wait(
    containers: &[Container],
    image_time: Duration,
    quorum_time: Duration,
    running: &BTreeMap<String, Vec<f64>>,
) {
    println!(
        "\ndemo-image: the cluster is running (image {:.0} s, quorum {:.1} s, running {running:?})",
        image_time.as_secs_f64(),
        quorum_time.as_secs_f64()
    );
    for c in containers {
        println!(
            "  {:<11} {:<15} {}",
            c.name,
            c.ip.to_string(),
            c.instance_id
        );
    }
    let first = &containers[0].name;
    println!(
        "demo-image: a shell in a node: tests/image/shell.sh {first}\n\
         demo-image: its boot: tests/image/shell.sh {first} journalctl -u mesos-boot@zookeeper\n\
         demo-image: press Ctrl-C to stop and remove every container"
    );
    block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    println!("demo-image: stopping");
}

#[test]
fn the_image_boots_the_sample_cluster_under_systemd() {
    if unsafe { libc::geteuid() } != 0 {
        panic!("the image test needs root (debootstrap, network namespaces, systemd-nspawn)");
    }
    sweep();
    // Dropped last (declared first): whatever the drops below left (the top cgroup, a namespace
    // of a half-made node) goes too, also when an assertion fails.
    let _sweep = Sweep;

    // The image, as packer/local-image.sh builds it (cached).
    let t = Instant::now();
    let out = Command::new(workspace_root().join("packer/local-image.sh"))
        .arg("--binary")
        .arg(bin::mesos_boot_bin())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "packer/local-image.sh failed");
    let image = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let image_time = t.elapsed();

    let dir = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempdir()
        .unwrap();

    // The hub first (the test thread moves in: moto, IMDS and terraform run there).
    let mut net = Net::new();
    net.enter_hub();
    let moto = Moto::start_on(HUB).unwrap();
    let imds = ImdsEmulator::start_at(
        SocketAddr::from((IMDS, 80)),
        Instance::at(Ipv4Addr::new(192, 0, 2, 1)),
    );
    let tf_state = apply(&dir.path().join("tf"), &moto);
    // The flows of these security groups are terraform/README.md's table (the filters below are
    // made from the same groups).
    run(&format!(
        "python3 {} flows {} {} {VPC_CIDR}",
        workspace_root()
            .join("tests/image/security_groups.py")
            .display(),
        tf_state.display(),
        workspace_root().join("terraform/README.md").display()
    ));
    let aws_api = moto.host_port();
    net.set_vpc(VPC_CIDR);
    let nlbs = Nlbs::start();
    // moto evaluates a bucket policy's Deny statements without their conditions (see
    // tests/whole_system.rs): the sample's policy would deny every request here.
    block_on(async {
        moto.s3()
            .delete_bucket_policy()
            .bucket(format!("{CLUSTER}.{TOP_FQDN}"))
            .send()
            .await
            .unwrap()
    });
    let layer = dir.path().join("layer");
    test_layer(&layer, &moto);
    let lower = format!("{}:{image}", layer.display());

    let mut containers: Vec<Container> = Vec::new();
    let add = |containers: &mut Vec<Container>, net: &mut Net, role: &str, id: &str| {
        let (inst, cidr) = instance(&moto, id);
        net.set_vpc(&cidr);
        let user_data = inst.user_data.clone().expect("user-data");
        assert!(
            user_data.contains(&format!("mesos-boot@{role}.service")),
            "{user_data}"
        );
        let ip = inst.local_ipv4;
        imds.set_instance_for(ip, inst);
        let netns = net.add_node(ip, role);
        nlbs.register(role, ip);
        let n = containers.len();
        let name = format!("{role}{n}");
        let state = dir.path().join("nodes").join(&name);
        std::fs::create_dir_all(&state).unwrap();
        ec2_hardware(&state, id);
        containers.push(Container {
            log: dir.path().join(format!("{name}.console.log")),
            name,
            ip,
            role: role.to_string(),
            instance_id: id.to_string(),
            netns,
            state,
            lower: lower.clone(),
            child: None,
            started: Instant::now(),
        });
    };
    let zk_ids = block_on(moto.asg_instances(&group("zookeeper")));
    let master_ids = block_on(moto.asg_instances(&group("master")));
    let agent_ids = block_on(moto.asg_instances(&group("agent")));
    assert_eq!(zk_ids.len(), 3);
    for id in &zk_ids {
        add(&mut containers, &mut net, "zookeeper", id);
    }
    for id in &master_ids {
        add(&mut containers, &mut net, "master", id);
    }
    for id in &agent_ids {
        add(&mut containers, &mut net, "agent", id);
    }

    // Every namespace filters packets as the security groups do, before anything boots.
    net.enforce(&tf_state, &aws_api, dir.path());

    // Boot them all at once.
    let boot_start = Instant::now();
    for c in containers.iter_mut() {
        c.start();
    }
    let zk_ips: Vec<Ipv4Addr> = containers[..3].iter().map(|c| c.ip).collect();
    // Watched together, so that each figure is the moment it happened: the quorum of the three
    // ZooKeeper containers, and every container's `running` (fails at once on `degraded`).
    let mut running_at: Vec<Option<Duration>> = vec![None; containers.len()];
    let mut quorum_at = None;
    let deadline = Instant::now() + BOOT_TIMEOUT;
    while quorum_at.is_none() || running_at.iter().any(Option::is_none) {
        if quorum_at.is_none() {
            let modes: Vec<String> = zk_ips.iter().filter_map(|ip| zk_mode(*ip)).collect();
            if modes.len() == 3 && modes.iter().filter(|m| *m == "leader").count() == 1 {
                quorum_at = Some(boot_start.elapsed());
            }
        }
        for (c, at) in containers.iter().zip(running_at.iter_mut()) {
            if at.is_none() {
                match c.system_state().as_str() {
                    "running" => *at = Some(c.started.elapsed()),
                    "degraded" => {
                        c.wait_running(Duration::ZERO); // panics with the journal
                    }
                    _ => {}
                }
            }
        }
        if Instant::now() > deadline {
            // Every late container's own account (a formation waits on all three), then the
            // shared config they all read.
            let late: Vec<String> = containers
                .iter()
                .zip(&running_at)
                .filter(|(_, at)| at.is_none())
                .map(|(c, _)| c.summary())
                .collect();
            let late_zk = containers[..3]
                .iter()
                .zip(&running_at)
                .find(|(_, at)| at.is_none())
                .map(|(c, _)| c)
                .unwrap_or(&containers[0]);
            panic!(
                "after {BOOT_TIMEOUT:?}: quorum at {quorum_at:?}, running at {running_at:?}\n\
                 --- late containers\n{}\n--- shared config\n{}\n--- {} in full\n{}",
                late.join("\n"),
                shared_config(&moto),
                late_zk.name,
                late_zk.diagnostics()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let quorum_time = quorum_at.unwrap();
    let mut running: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (c, at) in containers.iter().zip(&running_at) {
        running
            .entry(c.role.clone())
            .or_default()
            .push((at.unwrap().as_secs_f64() * 10.0).round() / 10.0);
    }

    // mesos-boot check-image on the image with the test layer (Mesos stand-ins) on top.
    poll_until(BOOT_TIMEOUT, "a shell in the first container", || {
        containers[0].exec("true")
    })
    .unwrap();
    let check = containers[0]
        .exec("/usr/local/bin/mesos-boot check-image")
        .unwrap_or_else(|| panic!("check-image failed in {}", containers[0].name));
    assert!(check.contains("image ok"), "{check}");

    // Every hook completed; every container running, no failed unit.
    let all_ids: Vec<&String> = zk_ids.iter().chain(&master_ids).chain(&agent_ids).collect();
    poll_until(BOOT_TIMEOUT, "every launch hook completed", || {
        all_ids
            .iter()
            .all(|id| lifecycle(&moto, id) == "InService")
            .then_some(())
    })
    .unwrap_or_else(|e| {
        let states: Vec<String> = all_ids.iter().map(|id| lifecycle(&moto, id)).collect();
        panic!("{e}: {states:?}\n{}", containers[3].diagnostics())
    });
    for c in &containers {
        c.wait_running(BOOT_TIMEOUT);
        assert_eq!(c.failed_units(), "", "{}: failed units", c.name);
        let rec = c.boot_record();
        assert_eq!(rec["lifecycle"], "CONTINUE", "{}: {rec}", c.name);
        assert_eq!(c.unit(&format!("mesos-boot@{}", c.role)), "active/success");
        // systemctl status: the boot's last word, not its last wait.
        assert_eq!(
            c.exec(&format!(
                "systemctl show -P StatusText mesos-boot@{}",
                c.role
            ))
            .map(|t| t.trim().to_string()),
            Some("done: the node is configured and running".to_string()),
            "{}",
            c.name
        );
        if c.role == "zookeeper" {
            assert_eq!(rec["membership"], "formed", "{}", c.name);
            assert_eq!(c.unit("zookeeper"), "active/success");
            assert_eq!(c.unit("mesos-boot-serve"), "active/success");
            // serve runs as root with a bounded set of capabilities and no new privileges.
            let status = c
                .exec("cat /proc/$(systemctl show -P MainPID mesos-boot-serve)/status")
                .unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::trim)
                    .unwrap_or_default()
                    .to_string()
            };
            assert_eq!(field("NoNewPrivs:"), "1", "{}: {status}", c.name);
            let bounded = u64::from_str_radix(&field("CapBnd:"), 16).unwrap_or(u64::MAX);
            // CAP_NET_ADMIN 12, CAP_SYS_MODULE 16, CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21,
            // CAP_SYS_TIME 25: none of them.
            for bit in [12, 16, 19, 21, 25] {
                assert_eq!(
                    bounded & (1 << bit),
                    0,
                    "{}: capability {bit} in {status}",
                    c.name
                );
            }
            // The sample's quorum TLS (mesos:zk-tls): the ensemble above formed over it, and
            // Mesos reached ZooKeeper through Netty's factory with the jars the unit adds.
            let zoo = c
                .exec("cat /etc/zookeeper/conf/zoo.cfg")
                .unwrap_or_default();
            assert!(zoo.contains("\nsslQuorum=true\n"), "{}: {zoo}", c.name);
            let key = c.exec("stat -c %a:%U /etc/zookeeper/tls/node.pem");
            assert_eq!(
                key.as_deref().map(str::trim),
                Some("600:zookeeper"),
                "{}",
                c.name
            );
        }
    }
    // One leading master; every agent registered with it.
    let state = poll_until(
        Duration::from_secs(60),
        "agents registered with the leader",
        || {
            leader_state(&containers, &moto)
                .filter(|s| s["slaves"].as_array().map(|a| a.len()) == Some(agent_ids.len()))
        },
    )
    .unwrap();
    assert_eq!(state["cluster"], CLUSTER);
    let spec = servers_spec(&moto);
    // Mesos reached ZooKeeper through the zookeeper NLB's name (the sample's default), and
    // the filters hold: an agent cannot open ZooKeeper's quorum port, which no rule allows.
    assert!(
        nlbs.connections(NLB_ZOOKEEPER, 2181) > 0,
        "nothing connected to zookeeper.{CLUSTER}.{TOP_FQDN}:2181"
    );
    let agent = containers.iter().find(|c| c.role == "agent").unwrap();
    assert_eq!(
        agent.exec(&format!("timeout 3 bash -c '</dev/tcp/{}/2888'", zk_ips[0])),
        None,
        "{}: agent -> zookeeper:2888 is open, but no security group rule allows it",
        agent.name
    );

    if std::env::var_os("MESOS_BOOT_IMAGE_DEMO").is_some() {
        demo_wait(&containers, image_time, quorum_time, &running);
        return;
    }

    // Reboot one ZooKeeper node and one master: back as members, no failed unit, nothing
    // registered again.
    for idx in [1usize, 4] {
        let c = &mut containers[idx];
        let old_pid = c.pid1();
        c.exec("systemctl start reboot.target --job-mode=replace-irreversibly --no-block");
        poll_until(BOOT_TIMEOUT, "the rebooted container's new PID 1", || {
            c.pid1().filter(|p| Some(*p) != old_pid)
        })
        .unwrap();
        c.started = Instant::now();
        let d = c.wait_running(BOOT_TIMEOUT);
        eprintln!(
            "image: {} rebooted to running in {:.1} s",
            c.name,
            d.as_secs_f64()
        );
        assert_eq!(c.failed_units(), "", "{}", c.name);
        assert_eq!(c.unit(&format!("mesos-boot@{}", c.role)), "active/success");
        if c.role == "zookeeper" {
            assert_eq!(c.boot_record()["membership"], "member");
        }
    }
    poll_until(Duration::from_secs(60), "quorum after the reboots", || {
        let modes: Vec<String> = zk_ips.iter().filter_map(|ip| zk_mode(*ip)).collect();
        (modes.len() == 3).then_some(())
    })
    .unwrap();
    assert_eq!(
        servers_spec(&moto),
        spec,
        "the reboot changed the membership"
    );
    poll_until(
        Duration::from_secs(60),
        "a leading master after the reboot",
        || leader_state(&containers, &moto),
    )
    .unwrap();

    // Power off every ZooKeeper container, start them again: the ensemble recovers with the
    // data a client wrote before.
    let hosts = zk_ips
        .iter()
        .map(|ip| format!("{ip}:2181"))
        .collect::<Vec<_>>()
        .join(",");
    block_on(async {
        let client = zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&hosts)
            .await
            .unwrap();
        let mode = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        client.create("/image-test", b"kept", &mode).await.unwrap();
        client.sync("/image-test").await.unwrap();
    });
    for c in containers[..3].iter() {
        c.exec("systemctl start poweroff.target --job-mode=replace-irreversibly --no-block");
    }
    for c in containers[..3].iter_mut() {
        assert_eq!(
            c.wait_exit(Duration::from_secs(90)),
            0,
            "{}: power-off",
            c.name
        );
    }
    let restart = Instant::now();
    for c in containers[..3].iter_mut() {
        c.start();
    }
    poll_until(BOOT_TIMEOUT, "quorum after power-off and start", || {
        let modes: Vec<String> = zk_ips.iter().filter_map(|ip| zk_mode(*ip)).collect();
        (modes.len() == 3 && modes.iter().filter(|m| *m == "leader").count() == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", containers[0].diagnostics()));
    let requorum_time = restart.elapsed();
    for c in containers[..3].iter() {
        c.wait_running(BOOT_TIMEOUT);
        assert_eq!(c.failed_units(), "", "{}", c.name);
        assert_eq!(c.boot_record()["membership"], "member", "{}", c.name);
    }
    let data = block_on(async {
        let client = zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&hosts)
            .await
            .unwrap();
        client.get_data("/image-test").await.unwrap().0
    });
    assert_eq!(data, b"kept");
    assert_eq!(
        servers_spec(&moto),
        spec,
        "the restart changed the membership"
    );

    // A ZooKeeper instance is terminated: its container stops, the group's replacement boots
    // as a new container and joins; the survivors remove the dead member.
    let dead = 2usize;
    block_on(async {
        moto.autoscaling()
            .terminate_instance_in_auto_scaling_group()
            .instance_id(&zk_ids[dead])
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .unwrap()
    });
    containers[dead].kill();
    let dead_ip = containers[dead].ip;
    imds.remove_instance_for(dead_ip);
    nlbs.deregister("zookeeper", dead_ip);
    net.remove_node(&containers[dead].netns);
    let replacement = poll_until(Duration::from_secs(60), "the group's replacement", || {
        block_on(moto.asg_instances(&group("zookeeper")))
            .into_iter()
            .find(|id| !zk_ids.contains(id))
    })
    .unwrap();
    add(&mut containers, &mut net, "zookeeper", &replacement);
    net.enforce(&tf_state, &aws_api, dir.path());
    let fresh = containers.len() - 1;
    containers[fresh].start();
    let fresh_running = containers[fresh].wait_running(BOOT_TIMEOUT);
    let survivor = format!("{}:2181", zk_ips[0]);
    let fresh_ip = containers[fresh].ip;
    poll_until(
        Duration::from_secs(120),
        "the replacement in, the dead member out",
        || {
            let conf = zk::four_letter(&survivor, "conf", Duration::from_secs(2)).ok()?;
            (conf.contains(&format!("={fresh_ip}:2888:3888:participant"))
                && !conf.contains(&format!("={dead_ip}:")))
            .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", containers[fresh].diagnostics()));
    let rec = containers[fresh].boot_record();
    assert_eq!(rec["membership"], "joined", "{rec}");
    assert_eq!(rec["lifecycle"], "CONTINUE", "{rec}");
    assert_eq!(containers[fresh].failed_units(), "");
    assert_eq!(lifecycle(&moto, &replacement), "InService");
    // Issue 23, item 6: the leading master shuts down an agent it marked gone (the end of the
    // autoscaler's mark_gone drain; libprocess' ShutdownMessage, from the leader's own
    // container): the agent exits 0 and stays stopped. Under Restart=always it would be started
    // again every RestartSec, only to be refused by the master for as long as it lives.
    let state = leader_state(&containers, &moto).expect("a leading master");
    let leader = state["leader"].as_str().unwrap().to_string();
    let leader_ip = leader.split_once('@').unwrap().1.split_once(':').unwrap().0;
    let master = containers
        .iter()
        .find(|c| c.role == "master" && c.ip.to_string() == leader_ip)
        .unwrap();
    let agent = containers
        .iter()
        .find(|c| c.role == "agent" && c.child.is_some())
        .unwrap();
    let sent = master.exec(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' -X POST -H 'Libprocess-From: {leader}' \
         'http://{}:5051/slave(1)/mesos.internal.ShutdownMessage'",
        agent.ip
    ));
    assert_eq!(
        sent.as_deref(),
        Some("202"),
        "{}: ShutdownMessage",
        master.name
    );
    let after = poll_until(
        Duration::from_secs(30),
        "the shut-down agent's process to exit",
        || {
            let s = agent.exec(
                "systemctl show -P MainPID mesos-agent; systemctl show -P SubState mesos-agent",
            )?;
            let mut lines = s.lines();
            let (pid, sub) = (lines.next()?, lines.next()?);
            (pid.trim() == "0").then(|| sub.trim().to_string())
        },
    )
    .unwrap();
    assert_eq!(
        after, "dead",
        "{}: mesos-agent after its master shut it down",
        agent.name
    );
    for c in containers.iter().filter(|c| c.child.is_some()) {
        assert_eq!(c.failed_units(), "", "{}", c.name);
    }

    println!(
        "image figures: ZooKeeper power-off and start to quorum {:.1} s, replacement to running {:.1} s",
        requorum_time.as_secs_f64(),
        fresh_running.as_secs_f64()
    );
    println!(
        "image figures: image build {:.1} s ({}), boot-to-quorum of 3 ZooKeeper containers {:.1} s, \
         boot to running (s) per role: {:?}",
        image_time.as_secs_f64(),
        if image_time > Duration::from_secs(30) { "built" } else { "cached" },
        quorum_time.as_secs_f64(),
        running
    );
    drop(containers);
    drop(nlbs);
    drop(imds);
    drop(net);
}
