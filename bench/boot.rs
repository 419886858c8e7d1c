//! mesos-boot's figures: binary size, peak RSS of one boot per role, its own time per boot
//! (waits excluded), AWS and IMDS requests per agent boot, 3- and 5-node boot-to-quorum from
//! an empty shared config via mesos-boot against the same ZooKeepers started by hand with a
//! fixed config, and a replacement member's time from start to committed membership.
//! `bench/split-brain.sh` runs the 100 formation trials.
//!
//! Run with `bench/run.sh` (it builds the static release binary and points MESOS_BOOT_BIN at
//! it). Prints figures; asserts nothing about them.

#[path = "../tests/common/mod.rs"]
mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cluster::Serve;
use common::*;
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::zk::{wait_serving, write_ensemble_config, ZkProcess};
use mesos_boot_tests::{bin, block_on, http, mesos, net};

/// Runs `cmd` to completion; returns (exit ok, peak RSS in KiB) from wait4's rusage.
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which std cannot see
fn run_measured(mut cmd: Command) -> (bool, i64) {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; status and usage are valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    (
        std::process::ExitStatus::from_raw(status).success(),
        usage.ru_maxrss,
    )
}

fn own_ms(node: &Node) -> u64 {
    let rec = node.boot_record();
    rec["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| !s["name"].as_str().unwrap().starts_with("wait") && s["name"] != "start")
        .map(|s| s["ms"].as_u64().unwrap())
        .sum()
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// `n` ZooKeeper nodes started at once by mesos-boot from an empty shared config, until every
/// one is a voting member. Returns the time, the S3 requests all nodes made (moto's recorder),
/// and each node's boot steps (name, ms).
fn via_boot(n: usize) -> (Duration, usize, Vec<Vec<(String, u64)>>) {
    let bucket = block_on(Moto::shared().unique_bucket("bench"));
    let url = format!("s3://{bucket}/{KEY}");
    let size = n.to_string();
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", &size));
    let nodes: Vec<Node> = net::alloc_ips(n)
        .iter()
        .map(|ip| Node::zookeeper(*ip, &t))
        .collect();
    moto_recorded("reset-recording");
    moto_recorded("start-recording");
    let started = Instant::now();
    let children: Vec<_> = nodes
        .iter()
        .map(|n| n.spawn(&["--timeout", "120s"]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
    }
    let took = started.elapsed();
    moto_recorded("stop-recording");
    let s3 = recorded()
        .iter()
        .filter(|r| r["body"].as_str().is_none_or(|b| !b.contains("Action=")))
        .count();
    let steps = nodes
        .iter()
        .map(|n| {
            n.boot_record()["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["name"].as_str().unwrap().to_string(),
                        s["ms"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .collect();
    drop(nodes);
    (took, s3, steps)
}

/// The same `n` ZooKeepers started by hand with a fixed config (tickTime 2000), until every one
/// serves.
fn by_hand(n: usize) -> Duration {
    let ips = net::alloc_ips(n);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let servers: Vec<(u32, std::net::Ipv4Addr)> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| (i as u32 + 1, *ip))
        .collect();
    let procs: Vec<ZkProcess> = servers
        .iter()
        .map(|(id, _)| {
            let d = dir.path().join(format!("zk{id}"));
            let cfg = write_ensemble_config(&d, *id, &servers).unwrap();
            ZkProcess::spawn(&cfg, &d.join("zookeeper.log")).unwrap()
        })
        .collect();
    for ip in &ips {
        wait_serving(&format!("{ip}:2181"), Duration::from_secs(120)).unwrap();
    }
    let took = started.elapsed();
    drop(procs);
    took
}

/// Boot-to-quorum via mesos-boot and by hand, alternated `rounds` times (which goes first
/// alternates too); prints the median ratio and its spread, where mesos-boot's time goes
/// (median per step over every node of every round), and the S3 requests per node per second.
fn boot_to_quorum(n: usize, rounds: usize) {
    let (mut ratios, mut boots, mut hands) = (Vec::new(), Vec::new(), Vec::new());
    let (mut s3_total, mut node_seconds) = (0usize, 0f64);
    let mut steps: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let mut order: Vec<String> = Vec::new();
    for round in 0..rounds {
        let (boot, hand) = if round % 2 == 0 {
            let b = via_boot(n);
            (b, by_hand(n))
        } else {
            let h = by_hand(n);
            (via_boot(n), h)
        };
        let (took, s3, node_steps) = boot;
        s3_total += s3;
        node_seconds += took.as_secs_f64() * n as f64;
        for node in node_steps {
            for (name, ms) in node {
                if !order.contains(&name) {
                    order.push(name.clone());
                }
                steps.entry(name).or_default().push(ms);
            }
        }
        ratios.push(took.as_secs_f64() / hand.as_secs_f64());
        boots.push(took.as_millis() as u64);
        hands.push(hand.as_millis() as u64);
    }
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
    println!(
        "{n}-node boot-to-quorum from an empty shared config, {rounds} alternated rounds: \
         mesos-boot median {:.2} s, by hand median {:.2} s; ratio median {:.2} \
         (quartiles {:.2}..{:.2}, min {:.2}, max {:.2})",
        median(boots) as f64 / 1e3,
        median(hands) as f64 / 1e3,
        q(0.5),
        q(0.25),
        q(0.75),
        sorted[0],
        sorted[sorted.len() - 1]
    );
    let per_step: Vec<String> = order
        .iter()
        .map(|name| format!("{name} {} ms", median(steps[name].clone())))
        .collect();
    println!(
        "  mesos-boot's steps (median per node): {}",
        per_step.join(", ")
    );
    println!(
        "  S3 requests: {:.1} per node per second of boot ({} in all)",
        s3_total as f64 / node_seconds,
        s3_total
    );
}

/// A 3-node ensemble loses a member (its JVM and its instance); once the survivors' `serve`
/// removed it, a replacement boots. Returns (its start to committed membership, whole boot).
fn replacement() -> (Duration, Duration) {
    let moto = Moto::shared();
    let bucket = block_on(moto.unique_bucket("bench"));
    let url = format!("s3://{bucket}/{KEY}");
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", "3"));
    let node = |ip| {
        let (id, _) = block_on(moto.run_instance_at(ip, &t));
        (Node::zookeeper(ip, &t).with_instance_id(&id), id)
    };
    let nodes: Vec<(Node, String)> = net::alloc_ips(3).into_iter().map(node).collect();
    let children: Vec<_> = nodes
        .iter()
        .map(|(n, _)| n.spawn(&["--timeout", "120s"]))
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let serves: Vec<Serve> = nodes[..2].iter().map(|(n, _)| Serve::start(n)).collect();
    assert!(nodes[2].0.zk.as_ref().unwrap().kill());
    block_on(moto.terminate_instance(&nodes[2].1));
    let (bucket, key) = (bucket.clone(), KEY.to_string());
    mesos_boot_tests::poll_until(Duration::from_secs(60), "removal", || {
        let (text, _) = block_on(moto.get_object(&bucket, &key))?;
        let text = String::from_utf8(text).ok()?;
        let spec = text
            .lines()
            .find(|l| l.contains("servers-spec="))?
            .to_string();
        (spec.matches(',').count() == 1).then_some(())
    })
    .unwrap();
    let (fresh, _) = node(net::alloc_ips(1)[0]);
    let started = Instant::now();
    let out = fresh.run(&["--timeout", "120s"]);
    let total = started.elapsed();
    assert!(out.status.success(), "{}", show(&out));
    let rec = fresh.boot_record();
    assert_eq!(rec["membership"], "joined");
    let steps = rec["steps"].as_array().unwrap();
    let through_join: u64 = steps
        .iter()
        .take_while(|s| s["name"] != "wait-after-start")
        .map(|s| s["ms"].as_u64().unwrap())
        .sum();
    drop(serves);
    (Duration::from_millis(through_join), total)
}

fn moto_recorded(path: &str) -> serde_json::Value {
    let url = format!("{}/moto-api/recorder/{path}", Moto::shared().endpoint());
    let r = if path.starts_with("download") {
        http::get(&url, &[])
    } else {
        http::request("POST", &url, &[], b"")
    };
    let r = r.unwrap();
    serde_json::Value::String(r.text())
}

/// The requests moto recorded since `start-recording`, one JSON object each.
fn recorded() -> Vec<serde_json::Value> {
    moto_recorded("download-recording")
        .as_str()
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn main() {
    let binary = bin::mesos_boot_bin();
    let size = std::fs::metadata(&binary).unwrap().len();
    println!("binary: {} ({:.1} MB)", binary.display(), size as f64 / 1e6);
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    // BENCH_ONLY=quorum: only the boot-to-quorum comparison.
    if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "quorum") {
        for n in [3, 5] {
            boot_to_quorum(n, rounds);
        }
        return;
    }

    // A running ensemble for the master and agent boots.
    let e = Ensemble::boot(3);
    assert!(
        e.outputs.iter().all(|o| o.status.success()),
        "ensemble did not boot"
    );

    // Peak RSS per role.
    let zk_ips = net::alloc_ips(3);
    let zk_url = s3_config(&shared_config(&zk_ips));
    let zk_node = Node::new(zk_ips[0], &tags("zookeeper", &zk_url));
    let (ok, zk_rss) = run_measured(zk_node.command(&["--no-start"]));
    assert!(ok);
    let mut t = tags("master", &e.url);
    t.push(("mesos:masters", "3"));
    let master = Node::new(net::alloc_ip(), &t);
    let (ok, master_rss) = run_measured(master.command(&["--no-start"]));
    assert!(ok);
    let _leader = block_on(mesos::register_master(
        &e.connect_string(),
        "/mesos",
        net::alloc_ip(),
        "m1",
        5050,
    ))
    .unwrap();
    let agent = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    let (ok, agent_rss) = run_measured(agent.command(&["--no-start"]));
    assert!(ok);
    println!(
        "peak RSS per boot: zookeeper {:.1} MB, master {:.1} MB, agent {:.1} MB",
        zk_rss as f64 / 1024.0,
        master_rss as f64 / 1024.0,
        agent_rss as f64 / 1024.0
    );

    // Own time per agent boot (identity .. render), 10 runs against moto + IMDS emulator.
    let mut times = Vec::new();
    for _ in 0..10 {
        let n = Node::new(net::alloc_ip(), &tags("agent", &e.url));
        assert!(n.run(&["--no-start"]).status.success());
        times.push(own_ms(&n));
    }
    println!(
        "own work per agent boot (waits excluded): median {} ms, max {} ms over 10",
        median(times.clone()),
        times.iter().max().unwrap()
    );

    // Requests per agent boot: IMDS from the emulator's counter, AWS from moto's recorder.
    moto_recorded("reset-recording");
    moto_recorded("start-recording");
    let n = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    assert!(n.run(&["--no-start"]).status.success());
    moto_recorded("stop-recording");
    let lines = recorded();
    let s3_gets = lines
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["headers"]["Host"]
                    .as_str()
                    .is_some_and(|h| !h.contains("ec2"))
        })
        .count();
    let ec2 = lines
        .iter()
        .filter(|r| r["body"].as_str().is_some_and(|b| b.contains("Action=")))
        .count();
    println!(
        "requests per agent boot: AWS {} (S3 GET {}, EC2 {}), IMDS {} (token PUTs {})",
        lines.len(),
        s3_gets,
        ec2,
        n.imds.requests(),
        n.imds.requests_for("/latest/api/token")
    );
    drop(e);

    // Boot-to-quorum from an empty shared config vs the same ZooKeepers started by hand.
    for n in [3, 5] {
        boot_to_quorum(n, rounds);
    }

    let (join, total) = replacement();
    println!(
        "replacement: start to committed membership {:.2} s (whole boot {:.2} s)",
        join.as_secs_f64(),
        total.as_secs_f64()
    );
}
