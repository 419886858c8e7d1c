//! The whole system: `terraform apply` of `terraform/sample` to moto, then mesos-boot for every
//! instance moto launched in the ZooKeeper, master and agent Auto Scaling groups, each with an
//! IMDSv2 emulator serving that instance's id, tags and user-data from moto and a loopback
//! address of its own, with real ZooKeeper. The ensemble forms from an empty shared config,
//! masters render the quorum for the master count and wait for their own Mesos master (the
//! emulator, tests/bin/mesos_emulator.rs, one per master) to recover the replicated log, agents
//! register with the leading one, every launch hook is completed; then a ZooKeeper instance is terminated, and the
//! replacement the group launched joins by reconfig while the survivors remove the dead one.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use base64::Engine;
use common::cluster::Serve;
use common::*;
use mesos_boot_tests::imds::Instance;
use mesos_boot_tests::moto::{Moto, REGION};
use mesos_boot_tests::{block_on, net, poll_until, workspace_root, zk};

const CLUSTER: &str = "whole1";
const TOP_FQDN: &str = "mesos.example.test";

fn terraform() -> PathBuf {
    let found = std::env::var_os("TERRAFORM")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|d| d.join("terraform"))
                .find(|p| p.is_file())
        });
    found.unwrap_or_else(|| {
        panic!("\n\n*** terraform NOT FOUND (TERRAFORM or PATH): the whole-system test cannot run ***\n")
    })
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

/// Applies the sample to the shared moto server; returns the Terraform copy (kept for logs).
fn apply(dir: &Path) {
    let tf = terraform();
    copy_dir(&workspace_root().join("terraform"), dir);
    let zip = dir.join("autoscaler.zip");
    // moto stores the Lambda's code and never runs it: any zip with a `bootstrap` will do.
    let status = Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w'); z.writestr('bootstrap', '#!/bin/sh\\n'); z.close()"])
        .arg(&zip)
        .status()
        .unwrap();
    assert!(status.success());
    let vars = serde_json::json!({
        "aws_endpoint_url": Moto::shared().endpoint(),
        "aws_region": REGION,
        "cluster_name": CLUSTER,
        "top_fqdn": TOP_FQDN,
        "ami_id": "ami-0123456789abcdef0",
        "autoscaler_zip_path": zip,
        "lb_deletion_protection": false,
        "force_destroy_bucket": true,
        "wait_for_capacity_timeout": "0",
    });
    let varfile = dir.join("moto.tfvars.json");
    std::fs::write(&varfile, vars.to_string()).unwrap();
    let run = |args: &[&str]| {
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
        assert!(out.status.success(), "terraform {args:?}: {}", show(&out));
    };
    run(&["init", "-backend=false", "-input=false"]);
    run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-parallelism=30",
        &format!("-var-file={}", varfile.display()),
    ]);
}

fn group(role: &str) -> String {
    format!("{CLUSTER}-{role}")
}

/// What IMDS would serve for a moto instance: its id, its tags, its user-data; a loopback
/// address instead of moto's.
fn instance(id: &str, ip: Ipv4Addr) -> Instance {
    let moto = Moto::shared();
    let (tags, user_data) = block_on(async {
        let ec2 = moto.ec2();
        let tags = ec2
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let tags: BTreeMap<String, String> = tags
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
        (tags, user_data)
    });
    let mut inst = Instance::at(ip);
    inst.instance_id = id.to_string();
    inst.tags = tags;
    inst.user_data = user_data;
    inst
}

/// A node for moto instance `id`: IMDS serves it, at a fresh loopback address.
fn node_for(id: &str) -> Node {
    let ip = net::alloc_ip();
    let node = Node::zookeeper(ip, &[]);
    node.imds.set_instance(instance(id, ip));
    node
}

/// Runs what the user-data's unit runs: `mesos-boot --role <role>` (role from the user-data).
fn spawn_boot(node: &Node, extra: &[&str]) -> Child {
    let user_data = node.imds.instance().user_data.expect("user-data");
    let role = ["zookeeper", "master", "agent"]
        .into_iter()
        .find(|r| user_data.contains(&format!("mesos-boot@{r}.service")))
        .unwrap_or_else(|| panic!("user-data starts no mesos-boot unit:\n{user_data}"));
    let mut args = vec!["--role", role, "--timeout", "120s"];
    args.extend_from_slice(extra);
    node.spawn(&args)
}

fn finish(nodes: &[Node], children: Vec<Child>) -> Vec<Output> {
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (n, out) in nodes.iter().zip(&outs) {
        assert!(
            out.status.success(),
            "{} ({}): {}",
            n.ip,
            n.imds.instance().instance_id,
            show(out)
        );
    }
    outs
}

fn lifecycle(id: &str) -> String {
    block_on(Moto::shared().asg_instance_state(id))
        .map(|s| s.0)
        .unwrap_or_else(|| "not in a group".into())
}

#[test]
fn terraform_sample_applied_to_moto_boots_a_whole_cluster_and_replaces_a_zookeeper() {
    let dir = tempfile::Builder::new()
        .prefix("whole-system.")
        .tempdir()
        .unwrap();
    apply(dir.path());
    let moto = Moto::shared();

    // ZooKeeper: the ensemble forms from an empty shared config.
    let zk_ids = block_on(moto.asg_instances(&group("zookeeper")));
    assert_eq!(zk_ids.len(), 3, "the sample's ZooKeeper group");
    let zks: Vec<Node> = zk_ids.iter().map(|id| node_for(id)).collect();
    let url = zks[0].imds.instance().tags["mesos:shared-config"].clone();
    assert_eq!(
        url,
        format!("s3://{CLUSTER}.{TOP_FQDN}/exhibitor/exhibitor.properties")
    );
    // moto evaluates a bucket policy's Deny statements without their conditions, so the
    // sample's "deny unless through the VPC endpoint over TLS" would deny every request,
    // even the ones AWS allows. tests/terraform checks that policy; here it goes.
    block_on(async {
        moto.s3()
            .delete_bucket_policy()
            .bucket(format!("{CLUSTER}.{TOP_FQDN}"))
            .send()
            .await
            .unwrap()
    });
    let children: Vec<Child> = zks.iter().map(|n| spawn_boot(n, &[])).collect();
    finish(&zks, children);
    let modes: Vec<String> = zks
        .iter()
        .map(|n| zk::mode(&n.client_addr()).unwrap_or_default())
        .collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    for n in &zks {
        assert_eq!(n.boot_record()["membership"], "formed");
    }

    // Masters wait for the ensemble, render the quorum, start Mesos (emulated, one per master:
    // tests/bin/mesos_emulator.rs) and wait until their own master answers with its replicated
    // log recovered (a quorum of the masters' replicas) and a master leads.
    let master_ids = block_on(moto.asg_instances(&group("master")));
    let masters: Vec<Node> = master_ids.iter().map(|id| node_for(id)).collect();
    let children: Vec<Child> = masters
        .iter()
        .map(|n| spawn_boot(n, &["--start-command", "true"]))
        .collect();
    let hosts = zks
        .iter()
        .map(|n| n.client_addr())
        .collect::<Vec<_>>()
        .join(",");
    // The daemons are given the ensemble's addresses in place of the NLB's name, which
    // nothing resolves here; everything else as rendered.
    let started = |n: &Node, role: &str, cred: &str| {
        let env = format!("/etc/mesos-boot/mesos-{role}.env");
        poll_until(Duration::from_secs(90), "the rendered environment", || {
            n.root.join(&env[1..]).exists().then_some(())
        })
        .unwrap();
        let var = if role == "master" {
            "MESOS_ZK"
        } else {
            "MESOS_MASTER"
        };
        let zk_url = format!("zk://{}@{hosts}/mesos", credential(&url, cred));
        mesos_daemon_with(n, role, &env, &[(var, zk_url)], role)
    };
    let mut daemons: Vec<Child> = masters
        .iter()
        .map(|n| started(n, "master", "zk-mesos-master"))
        .collect();
    finish(&masters, children);
    let quorum = master_ids.len() / 2 + 1;
    for m in &masters {
        // The sample tags masters and agents with the ZooKeeper NLB's name (mesos:zk-endpoint).
        assert_eq!(
            m.file("/etc/mesos/zk"),
            format!(
                "zk://{}@zookeeper.{CLUSTER}.{TOP_FQDN}:2181/mesos\n",
                credential(&url, "zk-mesos-master")
            )
        );
        assert!(
            m.file("/etc/mesos-boot/mesos-master.env")
                .contains(&format!("MESOS_QUORUM=\"{quorum}\"\n")),
            "{}",
            m.file("/etc/mesos-boot/mesos-master.env")
        );
    }
    let master_ips: Vec<String> = masters.iter().map(|m| m.ip.to_string()).collect();

    // Agents find the leading master, start Mesos (emulated: it authenticates with the agents'
    // secret and registers), and complete their hook once the leader lists them.
    let agent_ids = block_on(moto.asg_instances(&group("agent")));
    let agents: Vec<Node> = agent_ids.iter().map(|id| node_for(id)).collect();
    let children: Vec<Child> = agents
        .iter()
        .map(|n| spawn_boot(n, &["--start-command", "true"]))
        .collect();
    daemons.extend(agents.iter().map(|n| started(n, "agent", "zk-mesos-agent")));
    finish(&agents, children);
    for a in &agents {
        let leader = a.boot_record()["leader"]["ip"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            master_ips.contains(&leader),
            "{leader} is not a master: {master_ips:?}"
        );
    }

    // Every launch hook was completed with CONTINUE.
    for id in zk_ids.iter().chain(&master_ids).chain(&agent_ids) {
        assert_eq!(lifecycle(id), "InService", "{id}");
    }
    for n in zks.iter().chain(&masters).chain(&agents) {
        assert_eq!(n.boot_record()["lifecycle"], "CONTINUE");
    }

    // A ZooKeeper instance dies; the group launches a replacement, which joins.
    let serves: Vec<Serve> = zks[..2].iter().map(Serve::start).collect();
    assert!(zks[2].zk.as_ref().unwrap().kill());
    block_on(async {
        moto.autoscaling()
            .terminate_instance_in_auto_scaling_group()
            .instance_id(&zk_ids[2])
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .unwrap()
    });
    let replacement = poll_until(
        Duration::from_secs(30),
        "the group's replacement instance",
        || {
            block_on(moto.asg_instances(&group("zookeeper")))
                .into_iter()
                .find(|id| !zk_ids.contains(id))
        },
    )
    .unwrap();
    let survivor = zks[0].client_addr();
    poll_until(Duration::from_secs(60), "the dead member's removal", || {
        let conf = zk::four_letter(&survivor, "conf", Duration::from_secs(2)).ok()?;
        (!conf.contains(&format!("={}:", zks[2].ip))).then_some(())
    })
    .unwrap();
    let fresh = node_for(&replacement);
    finish(std::slice::from_ref(&fresh), vec![spawn_boot(&fresh, &[])]);
    assert_eq!(fresh.boot_record()["membership"], "joined");
    let conf = zk::four_letter(&survivor, "conf", Duration::from_secs(2)).unwrap();
    assert!(
        conf.contains(&format!("={}:2888:3888:participant", fresh.ip)),
        "{conf}"
    );
    assert_eq!(lifecycle(&replacement), "InService");
    drop(serves);
    for d in &mut daemons {
        mesos_boot_tests::proc::terminate_child(d, Duration::from_secs(2));
    }
}
