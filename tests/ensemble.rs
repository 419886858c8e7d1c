//! Ensemble formation without Exhibitor: ZooKeeper nodes register themselves in an empty
//! shared config in S3 (moto) with conditional writes and form exactly one ensemble, started
//! concurrently, many times, with random delays. Real ZooKeeper 3.8.

mod common;

use std::process::{Child, Output};
use std::time::Duration;

use common::cluster::{empty_bucket_url, object, one_at_a_time, spec_of};
use common::*;
use mesos_boot_tests::{net, zk};
use rand::Rng;

/// How many formation runs: `var` (bench/split-brain.sh sets it) or `default`.
fn runs(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Boots `n` ZooKeeper nodes from an empty config, each after a random delay; checks that
/// exactly one ensemble with every member formed.
fn form_once(n: usize, run: usize) {
    let url = empty_bucket_url();
    let size = n.to_string();
    let ips = net::alloc_ips(n);
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", &size));
    let nodes: Vec<Node> = ips.iter().map(|ip| Node::zookeeper(*ip, &t)).collect();
    let delays: Vec<u64> = (0..n).map(|_| rand::rng().random_range(0..1500)).collect();
    let handles: Vec<std::thread::JoinHandle<Output>> = nodes
        .iter()
        .zip(&delays)
        .map(|(node, delay)| {
            let mut cmd = node.command(&["--timeout", "120s"]);
            let delay = Duration::from_millis(*delay);
            std::thread::spawn(move || {
                // The random start delay under test, not a synchronisation.
                std::thread::sleep(delay);
                let child: Child = cmd
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child.wait_with_output().unwrap()
            })
        })
        .collect();
    let outputs: Vec<Output> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (node, out) in nodes.iter().zip(&outputs) {
        if !out.status.success() {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    format!(
                        "--- ZooKeeper {}:\n{}",
                        n.ip,
                        zk::log_tail(&n.zk.as_ref().unwrap().log_path(), 25)
                    )
                })
                .collect();
            panic!(
                "run {run}, node {} (delays {delays:?}): {}\n{}",
                node.ip,
                show(out),
                logs.join("\n")
            );
        }
    }
    let spec = spec_of(&object(&url));
    let mut want: Vec<(u32, String)> = Vec::new();
    for node in &nodes {
        let id: u32 = node.file("/var/lib/zookeeper/myid").trim().parse().unwrap();
        want.push((id, node.ip.to_string()));
    }
    want.sort();
    assert_eq!(
        spec, want,
        "run {run}: every registration present, one id each"
    );
    assert_eq!(
        spec.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (1..=n as u32).collect::<Vec<_>>()
    );
    let modes: Vec<String> = nodes
        .iter()
        .map(|n| zk::mode(&n.client_addr()).unwrap_or_default())
        .collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "run {run}: {modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        n - 1,
        "run {run}: {modes:?}"
    );
    // Every member sees the whole membership: one ensemble, not several.
    for node in &nodes {
        let conf = zk::four_letter(&node.client_addr(), "conf", Duration::from_secs(2)).unwrap();
        let members = conf
            .lines()
            .filter(|l| l.starts_with("server.") && l.contains(":participant"))
            .count();
        assert_eq!(members, n, "run {run}: {} conf:\n{conf}", node.ip);
    }
}

#[test]
fn concurrent_first_boot_of_3_from_empty_config_repeated() {
    let _serial = one_at_a_time();
    for run in 0..runs("FORMATION_RUNS_3", 12) {
        form_once(3, run);
    }
}

#[test]
fn concurrent_first_boot_of_5_from_empty_config_repeated() {
    let _serial = one_at_a_time();
    for run in 0..runs("FORMATION_RUNS_5", 8) {
        form_once(5, run);
    }
}

#[test]
fn fifty_concurrent_registrations_all_land() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let ips = net::alloc_ips(50);
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", "50"));
    let nodes: Vec<Node> = ips.iter().map(|ip| Node::new(*ip, &t)).collect();
    let children: Vec<Child> = nodes
        .iter()
        .map(|n| n.spawn(&["--no-start", "--timeout", "120s"]))
        .collect();
    for (node, child) in nodes.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}: {}", node.ip, show(&out));
    }
    let spec = spec_of(&object(&url));
    assert_eq!(spec.len(), 50, "{spec:?}");
    assert_eq!(
        spec.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        (1..=50).collect::<Vec<_>>()
    );
    for node in &nodes {
        let dynamic = node.file("/etc/zookeeper/conf/zoo.cfg.dynamic");
        assert_eq!(
            dynamic.lines().count(),
            50,
            "every node renders the full membership"
        );
    }
}

#[test]
fn a_node_beyond_the_ensemble_size_does_not_write() {
    let url = empty_bucket_url();
    let ips = net::alloc_ips(2);
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", "1"));
    let first = Node::new(ips[0], &t);
    assert!(first.run(&["--no-start"]).status.success());
    let before = object(&url);
    let second = Node::new(ips[1], &t);
    // It waits for room (a dead member's removal) until its deadline, then fails.
    let out = second.run(&["--no-start", "--timeout", "4s"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already has 1 voters"),
        "{}",
        show(&out)
    );
    assert_eq!(object(&url), before, "no write");
}
