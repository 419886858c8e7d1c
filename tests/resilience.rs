//! ZooKeeper membership under what AWS, time and operators do to it (issue 9), each scenario on
//! real ZooKeeper 3.8, moto (S3, EC2, Auto Scaling), the IMDS emulator and the fault proxy:
//! EC2 reusing a dead member's address, server ids past 255, an ensemble size that changes
//! under a formation, registrants that die before the ensemble forms, a look at the ensemble
//! during an election, a deleted shared config, a reboot while S3 is unreachable, throttling,
//! and a member that EC2 calls gone while its ZooKeeper still answers.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::cluster::*;
use common::*;
use mesos_boot_tests::fault::{Fault, FaultProxy};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::{block_on, http, mesos, net, poll_until, zk};

fn versioned_bucket_url() -> String {
    let moto = Moto::shared();
    let bucket = block_on(moto.unique_bucket("resilience"));
    block_on(moto.enable_versioning(&bucket));
    format!("s3://{bucket}/{KEY}")
}

fn exists(url: &str) -> bool {
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    block_on(Moto::shared().get_object(bucket, key)).is_some()
}

fn record(n: &Node) -> serde_json::Value {
    n.boot_record()
}

/// Writes `/survivor/<name>` through `hosts` (acknowledged when this returns).
fn write_znode(hosts: &str, name: &str) {
    block_on(async {
        let c = zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(hosts)
            .await
            .expect("connect");
        let opts = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        let _ = c.create("/survivor", b"", &opts).await;
        c.create(&format!("/survivor/{name}"), name.as_bytes(), &opts)
            .await
            .expect("acknowledged write");
    })
}

fn has_znode(hosts: &str, name: &str) -> bool {
    block_on(async {
        let c = zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(hosts)
            .await
            .expect("connect");
        c.sync("/").await.unwrap();
        c.check_stat(&format!("/survivor/{name}"))
            .await
            .unwrap()
            .is_some()
    })
}

fn hosts(nodes: &[&Node]) -> String {
    nodes
        .iter()
        .map(|n| n.client_addr())
        .collect::<Vec<_>>()
        .join(",")
}

/// An operator's edit of the live `zoo-cfg-extra` line of the shared config at `url`: `edit`
/// gets the whole line (`com.netflix.exhibitor.zoo-cfg-extra=...`, properties-escaped) and
/// returns its replacement.
fn edit_zoo_cfg_extra(url: &str, edit: impl FnOnce(&str) -> String) {
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let text = object(url);
    let line = text
        .lines()
        .find(|l| l.starts_with("com.netflix.exhibitor.zoo-cfg-extra="))
        .unwrap()
        .to_string();
    let changed = text.replace(&line, &edit(&line));
    block_on(Moto::shared().put_object(bucket, key, changed.into_bytes()));
}

fn formed_ensemble(url: &str) -> Vec<(Node, String)> {
    let nodes: Vec<(Node, String)> = (0..3).map(|_| zk_node(url, "3", &[])).collect();
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    assert_booted(&refs, &boot_all(&refs, 500));
    nodes
}

fn signal(node: &Node, sig: i32) {
    let pid = node.zk.as_ref().unwrap().pid().expect("zookeeper pid");
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// `/zookeeper/config` version as server `addr` reports it (`conf`).
fn config_version(addr: &str) -> Option<String> {
    let conf = zk::four_letter(addr, "conf", Duration::from_secs(2)).ok()?;
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("version=").map(str::to_string))
}

#[test]
fn a_new_instance_at_a_dead_members_address_is_a_new_server() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = formed_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    write_znode(&hosts(&refs), "before");
    let serves: Vec<Serve> = refs[..2].iter().map(|n| Serve::start(n)).collect();

    // A member dies; EC2 hands its address to the next instance at once.
    let (dead, dead_instance) = (&nodes[2].0, nodes[2].1.clone());
    let dead_id = record(dead)["myid"].as_u64().unwrap() as u32;
    assert!(dead.zk.as_ref().unwrap().kill());
    block_on(Moto::shared().terminate_instance(&dead_instance));
    let mut t = tags("zookeeper", &url);
    t.push(("mesos:ensemble-size", "3"));
    let (new_instance, _) = block_on(Moto::shared().run_instance(&t));
    let fresh = Node::zookeeper(dead.ip, &t).with_instance_id(&new_instance);
    let outs = boot_all(&[&fresh], 0);
    assert_booted(&[&fresh], &outs);

    let rec = record(&fresh);
    assert_ne!(
        rec["myid"], dead_id,
        "the dead member's id is not taken over: {rec:#}"
    );
    assert_eq!(rec["membership"], "joined", "{rec:#}");
    let live = live_voters(&refs[0].client_addr()).expect("conf");
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(
        !live.iter().any(|(id, _)| *id == dead_id),
        "server.{dead_id} removed: {live:?}"
    );
    let text = object(&url);
    let removed = text
        .lines()
        .find_map(|l| l.strip_prefix("mesos-boot.removed="))
        .unwrap_or_default()
        .replace("\\:", ":");
    assert!(removed.contains(&dead_instance), "{text}");
    assert!(
        !removed.contains(&new_instance),
        "the new instance is never marked removed: {text}"
    );
    assert!(
        has_znode(&fresh.client_addr(), "before"),
        "the data is kept"
    );
    drop(serves);
}

#[test]
fn server_ids_past_255_are_recycled() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    // Every id was handed out once (crash-looping joins burn them).
    put_object(
        &url,
        "com.netflix.exhibitor.servers-spec=\ncom.netflix.exhibitor.client-port=2181\n\
         com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=500&initLimit\\=10&syncLimit\\=5\n\
         mesos-boot.last-server-id=255\n",
    );
    let nodes = formed_ensemble(&url);
    let spec = servers_spec(&url);
    assert_eq!(spec.len(), 3, "{spec:?}");
    assert!(
        spec.iter().all(|(id, _)| (1..=255).contains(id)),
        "{spec:?}"
    );
    let addr = nodes[0].0.client_addr();
    assert_eq!(live_voters(&addr).map(|v| v.len()), Some(3));
}

#[test]
fn the_ensemble_size_is_recorded_once_and_a_changed_desired_capacity_does_not_split_formation() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let group = format!("zk-size-{}", std::process::id());
    block_on(Moto::shared().create_asg(&group, 3));
    let t = [("aws:autoscaling:groupName", group.as_str())];
    // The group's own instances, each served at a loopback address.
    let nodes: Vec<(Node, String)> = block_on(Moto::shared().asg_instances(&group))
        .into_iter()
        .map(|id| {
            let ip = net::alloc_ips(1)[0];
            let mut tg = tags("zookeeper", &url);
            tg.extend_from_slice(&t);
            (Node::zookeeper(ip, &tg).with_instance_id(&id), id)
        })
        .collect();
    assert_eq!(nodes.len(), 3);
    // The first registers while the group wants 3 ...
    let first = nodes[0].0.spawn(&["--timeout", "60s"]);
    poll_until(Duration::from_secs(30), "the first registration", || {
        (exists(&url) && servers_spec(&url).len() == 1).then_some(())
    })
    .unwrap();
    // ... then an operator raises it to 5 before the others boot.
    block_on(Moto::shared().set_desired(&group, 5));
    let rest: Vec<&Node> = nodes[1..].iter().map(|(n, _)| n).collect();
    let outs = boot_all(&rest, 500);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", show(&first));
    assert_booted(&rest, &outs);
    assert!(
        object(&url).contains("mesos-boot.ensemble-size=3"),
        "{}",
        object(&url)
    );
    assert_eq!(
        live_voters(&nodes[0].0.client_addr()).map(|v| v.len()),
        Some(3)
    );
}

#[test]
fn registrants_that_die_before_the_ensemble_forms_do_not_block_it() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    // Two register, the third launch is late: they give up at their deadline (and their
    // launch hook ABANDONs them); the group terminates them.
    let early: Vec<(Node, String)> = (0..2).map(|_| zk_node(&url, "3", &[])).collect();
    for (n, _) in &early {
        let out = n.run(&["--timeout", "4s"]);
        assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    }
    assert_eq!(
        servers_spec(&url),
        vec![],
        "both took their registration back"
    );
    // Another registers and dies hard (no chance to take anything back).
    let (hard, hard_instance) = zk_node(&url, "3", &[]);
    let mut child = hard.spawn(&["--timeout", "60s"]);
    poll_until(Duration::from_secs(30), "its registration", || {
        (exists(&url) && servers_spec(&url).len() == 1).then_some(())
    })
    .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    for (_, id) in &early {
        block_on(Moto::shared().terminate_instance(id));
    }
    block_on(Moto::shared().terminate_instance(&hard_instance));

    // The replacements form an ensemble: the dead registrant is removed while none is live.
    let fresh: Vec<(Node, String)> = (0..3).map(|_| zk_node(&url, "3", &[])).collect();
    let refs: Vec<&Node> = fresh.iter().map(|(n, _)| n).collect();
    let handles: Vec<_> = refs
        .iter()
        .map(|n| {
            let mut cmd = n.command(&["--timeout", "90s", "--grace", "2s"]);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    let outs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    if outs.iter().any(|o| !o.status.success()) {
        let report: Vec<String> = refs
            .iter()
            .zip(&outs)
            .map(|(n, o)| {
                format!(
                    "=== {}: {}\n--- conf\n{}\n--- zookeeper log\n{}",
                    n.ip,
                    show(o),
                    zk::four_letter(&n.client_addr(), "conf", Duration::from_secs(2))
                        .unwrap_or_else(|e| e.to_string()),
                    zk::log_tail(&n.zk.as_ref().unwrap().log_path(), 30)
                )
            })
            .collect();
        panic!(
            "a replacement failed; the object: {}\n{}",
            object(&url),
            report.join("\n")
        );
    }
    let spec: Vec<String> = servers_spec(&url).into_iter().map(|(_, h)| h).collect();
    let mut want: Vec<String> = refs.iter().map(|n| n.ip.to_string()).collect();
    want.sort();
    let mut got = spec.clone();
    got.sort();
    assert_eq!(got, want, "only the live nodes are listed");
    // Every node exited ready; the voters as any of them reports them (polled: a node may be
    // between sync and serving for a moment).
    let all = hosts(&refs);
    poll_until(Duration::from_secs(30), "three voters", || {
        refs.iter()
            .find_map(|n| live_voters(&n.client_addr()))
            .filter(|v| v.len() == 3)
    })
    .unwrap_or_else(|e| panic!("{e}: {all}"));
}

#[test]
fn a_look_during_an_election_does_not_send_a_replacement_down_the_formation_path() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = formed_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    let serves: Vec<Serve> = refs[..2].iter().map(|n| Serve::start(n)).collect();
    assert!(refs[2].zk.as_ref().unwrap().kill());
    block_on(Moto::shared().terminate_instance(&nodes[2].1));
    let survivor = refs[0].client_addr();
    poll_until(Duration::from_secs(60), "the dead member's removal", || {
        (live_voters(&survivor)?.len() == 2 && servers_spec(&url).len() == 2).then_some(())
    })
    .unwrap();
    drop(serves);

    // One of the two voters stalls: the other loses its quorum and elects.
    signal(refs[1], libc::SIGSTOP);
    let (fresh, _) = zk_node(&url, "3", &[]);
    let log = fresh.root.join("boot.log");
    let mut cmd = fresh.command(&["--timeout", "120s"]);
    cmd.stderr(std::fs::File::create(&log).unwrap())
        .stdout(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let seen = poll_until(
        Duration::from_secs(60),
        "the replacement to wait for the election",
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("not settled").then_some(())
        },
    );
    signal(refs[1], libc::SIGCONT);
    let out = child.wait_with_output().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    seen.unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(out.status.success(), "{text}");
    assert_eq!(record(&fresh)["membership"], "joined", "{text}");
    let live = live_voters(&survivor).expect("conf");
    assert!(
        live.iter().any(|(_, h)| *h == fresh.ip.to_string()),
        "{live:?}"
    );
}

#[test]
fn a_deleted_shared_config_never_starts_a_second_ensemble() {
    let _serial = one_at_a_time();
    let url = versioned_bucket_url();
    let nodes = formed_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    write_znode(&hosts(&refs), "before-delete");
    poll_until(Duration::from_secs(30), "the formed marker", || {
        object(&url).contains("mesos-boot.formed=").then_some(())
    })
    .unwrap();
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    block_on(Moto::shared().delete_object(bucket, key));

    // A new node (a fourth) waits for the object instead of starting an ensemble of its own
    // (the members' serves start once it is seen waiting, so it always sees the object gone).
    let (fresh, _) = zk_node(&url, "4", &[]);
    let log = fresh.root.join("boot.stderr");
    let mut cmd = fresh.command(&["--timeout", "120s"]);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();
    poll_until(Duration::from_secs(60), "the new node waiting", || {
        stderr().contains("earlier versions").then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", stderr()));
    assert!(!exists(&url), "nobody wrote the object meanwhile");
    let serves: Vec<Serve> = refs.iter().map(|n| Serve::start(n)).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", stderr());
    assert_eq!(record(&fresh)["membership"], "joined");
    let restores: usize = serves
        .iter()
        .map(|s| {
            s.log()
                .matches("restored it from the live membership")
                .count()
        })
        .sum();
    assert_eq!(restores, 1, "one member restores the object");

    // An old member reboots: it comes back as a member of the same ensemble.
    assert!(refs[0].zk.as_ref().unwrap().kill());
    let out = refs[0].run(&["--timeout", "60s"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(record(refs[0])["membership"], "member");

    let all: Vec<&Node> = refs.iter().copied().chain([&fresh]).collect();
    let versions: std::collections::BTreeSet<Option<String>> = all
        .iter()
        .map(|n| config_version(&n.client_addr()))
        .collect();
    assert_eq!(versions.len(), 1, "one ensemble: {versions:?}");
    assert_eq!(live_voters(&fresh.client_addr()).map(|v| v.len()), Some(4));
    assert!(
        has_znode(&fresh.client_addr(), "before-delete"),
        "same data"
    );
}

#[test]
fn members_reboot_from_local_state_while_s3_is_unreachable() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = formed_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    write_znode(&hosts(&refs), "before-outage");
    for n in &refs {
        assert!(n.zk.as_ref().unwrap().kill());
    }
    // S3 (the VPC endpoint) is gone: nothing listens there.
    let closed = format!(
        "http://127.0.0.1:{}",
        net::free_port("127.0.0.1".parse().unwrap())
    );
    let handles: Vec<_> = refs
        .iter()
        .map(|n| {
            let mut cmd = n.command(&["--timeout", "90s", "--offline-after", "3s"]);
            cmd.env("AWS_ENDPOINT_URL", &closed);
            std::thread::spawn(move || cmd.output().unwrap())
        })
        .collect();
    let outs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (n, o) in refs.iter().zip(&outs) {
        assert!(o.status.success(), "{}", show(o));
        assert_eq!(record(n)["membership"], "local");
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("starting ZooKeeper from this member's local state"),
            "{}",
            show(o)
        );
    }
    assert!(has_znode(&hosts(&refs), "before-outage"));

    // Issue 24, finding 3: `serve` starts on a member that booted from its local state, while
    // S3 is still down: /health answers for the NLB, and the loops wait for S3.
    let serve = Serve::start_with(refs[0], &[("AWS_ENDPOINT_URL", closed.as_str())]);
    let health = format!("http://{}:8080/health", refs[0].ip);
    poll_until(Duration::from_secs(30), "serve's /health", || {
        http::get(&health, &[]).ok().filter(|r| r.status == 200)
    })
    .unwrap_or_else(|e| panic!("{e}\n--- serve\n{}", serve.log()));
}

#[test]
fn throttling_and_slow_downs_are_retried_inside_the_deadline() {
    let moto = Moto::shared();
    let proxy = FaultProxy::start(&moto.host_port());
    let url = s3_config(&shared_config(&net::alloc_ips(1)));
    let key = url.rsplit_once('/').unwrap().1.to_string();
    proxy.add(Fault::s3_slow_down(&key, 2));
    proxy.add(Fault::too_many_requests(&key, 2));
    proxy.add(Fault::ec2_throttled("Action=DescribeTags", 3));
    let mut t = tags("master", &url);
    t.push(("mesos:masters", "1"));
    let (instance, _) = block_on(moto.run_instance(&t));
    let node = Node::new(net::alloc_ip(), &t).with_instance_id(&instance);
    // Tags are off in instance metadata: DescribeTags (throttled); IMDS throttles too.
    node.imds.set_tags_enabled(false);
    node.imds.set_fail_for(429, 3);
    let mut cmd = node.command(&["--no-wait", "--start-command", "true", "--timeout", "60s"]);
    cmd.env("AWS_ENDPOINT_URL", proxy.endpoint());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        proxy.faulted() >= 7,
        "every fault was hit: {}",
        proxy.faulted()
    );
}

#[test]
fn a_member_whose_zookeeper_answers_is_never_removed_and_a_lost_entry_is_put_back() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = formed_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    let serves: Vec<Serve> = refs.iter().map(|n| Serve::start(n)).collect();
    // EC2 says server 3's instance is gone, but its ZooKeeper serves.
    block_on(Moto::shared().terminate_instance(&nodes[2].1));
    poll_until(Duration::from_secs(30), "a hold on the live voter", || {
        serves[..2]
            .iter()
            .any(|s| s.log().contains("a live voter is never removed"))
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", serves[0].log()));
    let survivor = refs[0].client_addr();
    assert_eq!(live_voters(&survivor).map(|v| v.len()), Some(3));
    assert_eq!(servers_spec(&url).len(), 3);

    // An operator's edit loses server 2 from servers-spec: it is put back, not removed.
    let text = object(&url);
    let spec_line = text
        .lines()
        .find(|l| l.starts_with("com.netflix.exhibitor.servers-spec="))
        .unwrap()
        .to_string();
    let kept: Vec<String> = spec_line
        .trim_start_matches("com.netflix.exhibitor.servers-spec=")
        .split(',')
        .filter(|i| !i.starts_with("2\\:") && !i.starts_with("2:"))
        .map(str::to_string)
        .collect();
    put_object(
        &url,
        &text.replace(
            &spec_line,
            &format!("com.netflix.exhibitor.servers-spec={}", kept.join(",")),
        ),
    );
    poll_until(
        Duration::from_secs(30),
        "server 2 back in servers-spec",
        || {
            servers_spec(&url)
                .iter()
                .any(|(id, _)| *id == 2)
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", serves[0].log()));
    assert_eq!(live_voters(&survivor).map(|v| v.len()), Some(3));
}

/// `DigestAuthenticationProvider.superDigest` in a node's zoo.cfg.
fn super_digest(node: &Node) -> String {
    node.file("/etc/zookeeper/conf/zoo.cfg")
        .lines()
        .find(|l| l.starts_with("DigestAuthenticationProvider.superDigest="))
        .expect("superDigest in zoo.cfg")
        .to_string()
}

/// Waits until servers-spec and ZooKeeper's own membership (through `via`) list `n` servers.
fn wait_members(url: &str, via: &Node, n: usize, serves: &[Serve]) {
    poll_until(Duration::from_secs(60), "the membership", || {
        (servers_spec(url).len() == n
            && live_voters(&via.client_addr()).map(|v| v.len()) == Some(n))
        .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", serves[0].log()));
}

#[test]
fn a_rotated_secret_is_read_again_after_zookeeper_refuses_the_old_one() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let mut nodes = formed_ensemble(&url);
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let secret_key = format!("{key}.zk-super");
    let old = block_on(Moto::shared().get_object(bucket, &secret_key)).expect("the secret");
    let old_digest = super_digest(&nodes[0].0);
    // One serve, so that the one that read the old secret is the one that removes next.
    let serves: Vec<Serve> = nodes[..1].iter().map(|(n, _)| Serve::start(n)).collect();

    // A first removal: serve has read the secret (server 3 dies with its instance).
    let (dead, dead_id) = nodes.pop().unwrap();
    assert!(dead.zk.as_ref().unwrap().kill());
    block_on(Moto::shared().terminate_instance(&dead_id));
    wait_members(&url, &nodes[0].0, 2, &serves);
    let (fourth, fourth_id) = zk_node(&url, "3", &[]);
    assert_booted(&[&fourth], &boot_all(&[&fourth], 0));
    wait_members(&url, &nodes[0].0, 3, &serves);

    // README's rotation: delete the secret, re-run mesos-boot and restart ZooKeeper on every
    // node, one at a time (the running serves keep the secret they read).
    block_on(Moto::shared().delete_object(bucket, &secret_key));
    for n in nodes.iter().map(|(n, _)| n).chain([&fourth]) {
        assert!(n.zk.as_ref().unwrap().kill());
        let out = n.run(&["--timeout", "90s"]);
        assert!(out.status.success(), "{}", show(&out));
        assert_eq!(record(n)["membership"], "member");
        wait_members(&url, n, 3, &serves);
    }
    let new = block_on(Moto::shared().get_object(bucket, &secret_key)).expect("a new secret");
    assert_ne!(new.0, old.0, "a new secret");
    assert_ne!(super_digest(&nodes[0].0), old_digest);
    assert_eq!(super_digest(&nodes[0].0), super_digest(&fourth));

    // The next removal: ZooKeeper refuses the old secret; serve reads the new one and removes.
    assert!(fourth.zk.as_ref().unwrap().kill());
    block_on(Moto::shared().terminate_instance(&fourth_id));
    wait_members(&url, &nodes[0].0, 2, &serves);
    let logs: String = serves.iter().map(Serve::log).collect();
    assert!(
        logs.contains("refused the superuser secret; reading it again"),
        "{logs}"
    );
}

/// Scale-in (issue 12, item 3): the group's termination hook holds the chosen instance in
/// `Terminating:Wait`; its `serve` sees the target state `Terminated` in IMDS, leaves the
/// ensemble by reconfig (servers-spec first, recorded as removed), stops ZooKeeper and
/// completes the hook, after which Auto Scaling terminates the instance. Meanwhile a client
/// writes: no acknowledged write is lost, and no dead voter is left behind.
#[test]
fn a_member_scaled_in_leaves_the_ensemble_before_its_instance_goes() {
    let _serial = one_at_a_time();
    let moto = Moto::shared();
    let url = empty_bucket_url();
    let group = format!("zk-leave-{}", std::process::id());
    let hook = "mesos-boot-left";
    block_on(moto.create_asg(&group, 3));
    block_on(moto.put_termination_hook(&group, hook));
    let nodes: Vec<(Node, String)> = block_on(moto.asg_instances(&group))
        .into_iter()
        .map(|id| {
            let mut t = tags("zookeeper", &url);
            t.push(("aws:autoscaling:groupName", &group));
            t.push(("mesos:termination-hook", hook));
            t.push(("mesos:ensemble-size", "3"));
            let node = Node::zookeeper(net::alloc_ips(1)[0], &t).with_instance_id(&id);
            (node, id)
        })
        .collect();
    assert_eq!(nodes.len(), 3);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    assert_booted(&refs, &boot_all(&refs, 300));
    // IMDS shows where each instance is headed, as EC2 does.
    let mirror = || {
        for (node, id) in &nodes {
            let state = block_on(moto.asg_instance_state(id)).map(|(s, _)| s);
            let target = state
                .as_deref()
                .and_then(mesos_boot_tests::imds::target_state_of)
                .unwrap_or("Terminated");
            let mut inst = node.imds.instance();
            if inst.target_lifecycle_state.as_deref() != Some(target) {
                inst.target_lifecycle_state = Some(target.to_string());
                node.imds.set_instance(inst);
            }
        }
    };
    mirror();
    let serves: Vec<Serve> = nodes
        .iter()
        .map(|(n, _)| Serve::start_with(n, &[("MESOS_BOOT_LEAVE_POLL", "1s")]))
        .collect();
    let writer = Writer::start(hosts(&refs));
    poll_until(Duration::from_secs(30), "the first writes", || {
        (writer.acked().len() > 50).then_some(())
    })
    .unwrap();

    block_on(moto.set_desired(&group, 2));
    let leaving = poll_until(
        Duration::from_secs(30),
        "an instance held by the hook",
        || {
            nodes.iter().position(|(_, id)| {
                block_on(moto.asg_instance_state(id)).is_some_and(|(s, _)| s == "Terminating:Wait")
            })
        },
    )
    .unwrap();
    let (gone, gone_id) = &nodes[leaving];
    let stay: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leaving)
        .map(|(_, (n, _))| n)
        .collect();
    let want: std::collections::BTreeSet<(u32, String)> = stay
        .iter()
        .map(|n| (record(n)["myid"].as_u64().unwrap() as u32, n.ip.to_string()))
        .collect();
    let done = poll_until(
        Duration::from_secs(90),
        "the member left and its instance terminated",
        || {
            mirror();
            let terminated = block_on(moto.asg_instance_state(gone_id)).is_none();
            let live = live_voters(&stay[0].client_addr());
            (terminated && live.as_ref() == Some(&want)).then_some(())
        },
    );
    let serve_log = serves[leaving].log();
    done.unwrap_or_else(|e| {
        panic!(
            "{e}: state {:?}, live {:?}\n--- serve of the leaving member:\n{serve_log}",
            block_on(moto.asg_instance_state(gone_id)),
            live_voters(&stay[0].client_addr())
        )
    });
    assert!(
        serve_log.contains("termination hook completed with CONTINUE"),
        "{serve_log}"
    );
    assert_eq!(
        block_on(mesos_boot_tests::asg::instance_state(moto, gone_id)),
        "terminated",
        "Auto Scaling terminated the instance once the hook was completed"
    );
    // servers-spec lists the two that stay; the instance that left is recorded as removed.
    let spec: std::collections::BTreeSet<(u32, String)> = servers_spec(&url).into_iter().collect();
    assert_eq!(spec, want);
    assert!(
        object(&url).contains(gone_id.as_str()),
        "recorded as removed: {}",
        object(&url)
    );
    assert_eq!(
        zk::mode(&gone.client_addr()),
        None,
        "its ZooKeeper is stopped"
    );

    let acked = writer.finish();
    let stored = children(&hosts(&stay), "/writer");
    let lost: Vec<u64> = acked
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !stored.contains(n))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
    assert!(acked.len() > 50);
    drop(serves);
}

/// `/master/state`, asked with `auth` (the masters' read-only endpoints want a credential).
fn master_state(ip: std::net::Ipv4Addr, auth: &str) -> Option<serde_json::Value> {
    let r = mesos_boot_tests::http::get(
        &format!("http://{ip}:5050/master/state"),
        &[("Authorization", auth)],
    )
    .ok()?;
    serde_json::from_slice(&r.body).ok()
}

/// Issue 12, item 4: Mesos is given ZooKeeper by a name that stays right, the internal NLB
/// `zookeeper.<cluster>.<fqdn>:2181` (tag `mesos:zk-endpoint`; emulated here at a loopback
/// address: registration as Auto Scaling does it, health by `serve`'s /health). Every original
/// member is replaced, one at a time, by an instance at a new address: the leading master keeps
/// its ZooKeeper session (and so its leadership) throughout, and a master and an agent
/// restarted afterwards, with the configuration of their first boot, find the ensemble and
/// each other.
#[test]
fn mesos_finds_zookeeper_through_its_load_balancer_after_every_member_is_replaced() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let mut members = formed_ensemble(&url);
    let mut serves: Vec<Serve> = members.iter().map(|(n, _)| Serve::start(n)).collect();
    let nlb = mesos_boot_tests::nlb::Nlb::start((net::alloc_ip(), 2181).into(), 8080, "/health");
    for (n, _) in &members {
        nlb.register(n.client_addr().parse().unwrap());
    }
    poll_until(
        Duration::from_secs(30),
        "every member healthy behind the NLB",
        || (nlb.healthy().len() == 3).then_some(()),
    )
    .unwrap();
    let endpoint = nlb.addr().to_string();
    let mesos_node = |role: &str| {
        let mut t = tags(role, &url);
        t.push(("mesos:masters", "1"));
        t.push(("mesos:zk-endpoint", &endpoint));
        let node = Node::new(net::alloc_ip(), &t);
        let out = node.run(&["--no-wait", "--start-command", "true"]);
        assert!(out.status.success(), "{role}: {}", show(&out));
        node
    };
    let master = mesos_node("master");
    let agent = mesos_node("agent");
    let zk_url = |cred: &str| format!("zk://{}@{endpoint}/mesos", credential(&url, cred));
    assert_eq!(
        master.file("/etc/mesos/zk").trim(),
        zk_url("zk-mesos-master")
    );
    assert_eq!(agent.file("/etc/mesos/zk").trim(), zk_url("zk-mesos-agent"));
    let operator = mesos::basic(&credential(&url, "mesos-operator"));
    let agent_http = mesos::basic(&credential(&url, "mesos-agent-http"));
    let master_state = |ip| master_state(ip, &operator);

    let mut master_daemon = mesos_daemon(&master, "master", "/etc/mesos-boot/mesos-master.env");
    let leads =
        |ip| master_state(ip).is_some_and(|s| s["leader"].is_string() && s["leader"] == s["pid"]);
    poll_until(LONG, "the master elected", || {
        leads(master.ip).then_some(())
    })
    .unwrap();
    let mut agent_daemon = mesos_daemon(&agent, "agent", "/etc/mesos-boot/mesos-agent.env");
    // Registered: the agent says so (`master_hostname`, set on the master's 202) and the
    // leading master lists it.
    let registered = |ip: std::net::Ipv4Addr| {
        let pid = format!("slave(1)@{ip}:5051");
        let agent_says = mesos_boot_tests::http::get(
            &format!("http://{ip}:5051/state"),
            &[("Authorization", agent_http.as_str())],
        )
        .ok()
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
        .is_some_and(|s| !s["master_hostname"].is_null());
        agent_says
            && master_state(master.ip).is_some_and(|s| {
                s["slaves"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["pid"] == pid.as_str()))
            })
    };
    poll_until(LONG, "the agent registered", || {
        registered(agent.ip).then_some(())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nmaster.log:\n{}\nagent.log:\n{}",
            master.file("/master.log"),
            agent.file("/agent.log")
        )
    });
    // An agent without the agents' secret authenticates in vain and is never registered (the
    // master drops its registration, as Mesos does).
    let impostor = net::alloc_ip();
    let wrong = agent.root.join("wrong-credential.json");
    std::fs::write(
        &wrong,
        r#"{"principal":"agent","secret":"0000000000000000000000000000000000"}"#,
    )
    .unwrap();
    let mut impostor_daemon = mesos_daemon_with(
        &agent,
        "agent",
        "/etc/mesos-boot/mesos-agent.env",
        &[
            ("MESOS_IP", impostor.to_string()),
            ("MESOS_CREDENTIAL", wrong.display().to_string()),
        ],
        "impostor",
    );
    poll_until(LONG, "the impostor refused", || {
        master
            .file("/master.log")
            .contains(&format!(
                "authentication of slave(1)@{impostor}:5051 as \"agent\" refused"
            ))
            .then_some(())
    })
    .unwrap();
    assert!(
        !registered(impostor),
        "an agent with a wrong secret registered: {}",
        master.file("/master.log")
    );
    mesos_boot_tests::proc::terminate_child(&mut impostor_daemon, Duration::from_secs(2));

    let originals: Vec<String> = members.iter().map(|(n, _)| n.ip.to_string()).collect();
    for round in 0..3 {
        let (old, old_instance) = members.remove(0);
        drop(serves.remove(0));
        assert!(old.zk.as_ref().unwrap().kill());
        nlb.deregister(old.client_addr().parse().unwrap());
        block_on(Moto::shared().terminate_instance(&old_instance));
        let (fresh, instance) = zk_node(&url, "3", &[]);
        assert_booted(&[&fresh], &boot_all(&[&fresh], 0));
        serves.push(Serve::start(&fresh));
        nlb.register(fresh.client_addr().parse().unwrap());
        members.push((fresh, instance));
        let want: std::collections::BTreeSet<String> =
            members.iter().map(|(n, _)| n.ip.to_string()).collect();
        poll_until(LONG, "the dead member removed", || {
            let live = live_voters(&members[2].0.client_addr())?;
            (live
                .iter()
                .map(|(_, h)| h.clone())
                .collect::<std::collections::BTreeSet<_>>()
                == want)
                .then_some(())
        })
        .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            master_daemon.try_wait().unwrap().is_none(),
            "round {round}: the master lost its ZooKeeper session and exited: {}",
            master.file("/master.log")
        );
        assert!(leads(master.ip), "round {round}: the master still leads");
    }
    let now: Vec<String> = members.iter().map(|(n, _)| n.ip.to_string()).collect();
    assert!(
        now.iter().all(|ip| !originals.contains(ip)),
        "{originals:?} -> {now:?}"
    );

    // Restarted with the configuration of their first boot: both find the ensemble.
    mesos_boot_tests::proc::terminate_child(&mut master_daemon, Duration::from_secs(2));
    let mut master_daemon = mesos_daemon(&master, "master", "/etc/mesos-boot/mesos-master.env");
    poll_until(LONG, "the restarted master elected", || {
        leads(master.ip).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}: {}", master.file("/master.log")));
    mesos_boot_tests::proc::terminate_child(&mut agent_daemon, Duration::from_secs(2));
    let mut agent_daemon = mesos_daemon(&agent, "agent", "/etc/mesos-boot/mesos-agent.env");
    poll_until(LONG, "the restarted agent registered", || {
        registered(agent.ip).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}: {}", agent.file("/agent.log")));
    assert!(nlb.connections() > 0);
    mesos_boot_tests::proc::terminate_child(&mut agent_daemon, Duration::from_secs(2));
    mesos_boot_tests::proc::terminate_child(&mut master_daemon, Duration::from_secs(2));
    drop(serves);
}

/// Creates `/restore/<n>` for n in 0..count through `hosts` (each acknowledged).
fn create_many(hosts: &str, count: u64) {
    block_on(async {
        let client = zookeeper_client::Client::connector()
            .connect(hosts)
            .await
            .expect("connect");
        let opts = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        let _ = client.create("/restore", b"", &opts).await;
        for n in 0..count {
            client
                .create(&format!("/restore/{n:06}"), &[7u8; 512], &opts)
                .await
                .expect("create");
        }
    })
}

/// The zxid the server at `addr` has seen last (`srvr`).
fn zxid(addr: &str) -> Option<u64> {
    let srvr = zk::four_letter(addr, "srvr", Duration::from_secs(2)).ok()?;
    let hex = srvr.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Issue 12, item 2: `serve` backs up ZooKeeper's data to `<key>.backups/` (one member, the
/// lease holder); after every member is destroyed, `mesos-boot restore` (refused while the
/// ensemble is live) points the shared config at the newest backup, and new members form an
/// ensemble seeded from it: every acknowledged write is there.
#[test]
fn a_backup_restores_every_write_after_every_member_is_lost() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let (bucket, key) = (bucket.to_string(), key.to_string());
    let members = formed_ensemble(&url);
    let refs: Vec<&Node> = members.iter().map(|(n, _)| n).collect();
    let serves: Vec<Serve> = refs
        .iter()
        .map(|n| Serve::start_with(n, &[("MESOS_BOOT_BACKUP_PERIOD", "1s")]))
        .collect();
    let written = 2000u64;
    create_many(&hosts(&refs), written);
    let last = refs
        .iter()
        .filter_map(|n| zxid(&n.client_addr()))
        .max()
        .unwrap();

    // A set that holds the last write, and only the lease holder uploads.
    let moto = Moto::shared();
    let manifests = || -> Vec<serde_json::Value> {
        let keys = block_on(moto.list_keys(&bucket, &format!("{key}.backups/")));
        keys.iter()
            .filter(|k| k.ends_with("/manifest.json"))
            .filter_map(|k| block_on(moto.get_object(&bucket, k)))
            .filter_map(|(b, _)| serde_json::from_slice(&b).ok())
            .collect()
    };
    let newest = poll_until(LONG, "a backup holding the last write", || {
        manifests()
            .into_iter()
            .find(|m| m["last_zxid"].as_u64().is_some_and(|z| z >= last))
    })
    .unwrap_or_else(|e| panic!("{e}\n--- serve:\n{}", serves[0].log()));
    let servers: std::collections::BTreeSet<u64> = manifests()
        .iter()
        .filter_map(|m| m["server"].as_u64())
        .collect();
    assert_eq!(
        servers.len(),
        1,
        "one member backs up at a time: {servers:?}"
    );
    let backup_bytes = newest["bytes"].as_u64().unwrap();

    // Refused while the ensemble lives: it still has the data.
    let tool = Node::new(net::alloc_ip(), &[]);
    let out = tool.run(&["restore", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answers"),
        "{}",
        show(&out)
    );

    // Every member is lost: the processes, the instances, the disks.
    drop(serves);
    for (n, id) in &members {
        assert!(n.zk.as_ref().unwrap().kill());
        block_on(moto.terminate_instance(id));
    }
    drop(members);
    let started = std::time::Instant::now();
    let out = tool.run(&["restore", &url]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        object(&url).contains("mesos-boot.restore="),
        "{}",
        object(&url)
    );

    let fresh: Vec<(Node, String)> = (0..3).map(|_| zk_node(&url, "3", &[])).collect();
    let refs: Vec<&Node> = fresh.iter().map(|(n, _)| n).collect();
    assert_booted(&refs, &boot_all(&refs, 500));
    let stored = try_children(&hosts(&refs), "/restore").unwrap();
    let restore_time = started.elapsed();
    assert_eq!(
        stored.len() as u64,
        written,
        "every acknowledged write is back"
    );
    for n in &refs {
        assert_eq!(record(n)["membership"], "formed");
        assert!(record(n)["restored_from"].is_string(), "{}", record(n));
    }
    let text = object(&url);
    assert!(
        !text.contains("mesos-boot.restore="),
        "the restore is done: {text}"
    );
    assert!(text.contains("mesos-boot.formed="), "{text}");
    eprintln!(
        "backup: {backup_bytes} bytes for {written} znodes of 512 bytes; restore (command to a \
         formed, seeded ensemble of 3): {restore_time:?}"
    );
}

/// Issue 12, item 5: an operator adds a setting to `zoo-cfg-extra` in the shared config; every
/// member's `serve` applies it by a restart, one member at a time (a lease in the object), each
/// waiting until the restarted member is back as a voter with a leader, the leader last; quorum
/// is kept throughout (never two members restarting at once), under client load, on 3 and 5
/// members.
#[test]
fn a_changed_setting_rolls_through_the_members_one_at_a_time() {
    let _serial = one_at_a_time();
    for n in [3usize, 5] {
        let url = s3_config(
            "com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=500&initLimit\\=10&syncLimit\\=5\n",
        );
        let size = n.to_string();
        let members: Vec<(Node, String)> = (0..n).map(|_| zk_node(&url, &size, &[])).collect();
        let refs: Vec<&Node> = members.iter().map(|(m, _)| m).collect();
        assert_booted(&refs, &boot_all(&refs, 300));
        let serves: Vec<Serve> = refs
            .iter()
            .map(|m| Serve::start_with(m, &[("MESOS_BOOT_BACKUP_PERIOD", "0s")]))
            .collect();
        let writer = Writer::start(hosts(&refs));
        poll_until(Duration::from_secs(30), "the first writes", || {
            (writer.acked().len() > 20).then_some(())
        })
        .unwrap();

        // How many members do not serve at once, sampled while the change rolls.
        let addrs: Vec<String> = refs.iter().map(|m| m.client_addr()).collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let (addrs, stop) = (addrs.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut worst = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Restarting: no answer at all (an election's "not serving" is an answer).
                    let down = addrs
                        .iter()
                        .filter(|a| zk::four_letter(a, "srvr", Duration::from_secs(1)).is_err())
                        .count();
                    worst = worst.max(down);
                    std::thread::sleep(Duration::from_millis(50));
                }
                worst
            })
        };
        let acked_before = writer.acked().len();
        edit_zoo_cfg_extra(&url, |line| format!("{line}&maxClientCnxns\\=77"));

        let applied = poll_until(
            Duration::from_secs(60 * n as u64),
            "the change on every member",
            || {
                let given_back = !object(&url).contains("mesos-boot.rolling-lease=")
                    && serves
                        .iter()
                        .all(|s| s.log().contains("rolling change: applied here"));
                let running = addrs.iter().all(|a| {
                    zk::four_letter(a, "conf", Duration::from_secs(2))
                        .is_ok_and(|c| c.contains("maxClientCnxns=77"))
                });
                (given_back && running).then_some(())
            },
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let worst = watcher.join().unwrap();
        let logs: Vec<String> = serves.iter().map(|s| s.log()).collect();
        applied
            .unwrap_or_else(|e| panic!("{n} members: {e}\n--- serve:\n{}", logs.join("\n---\n")));
        assert!(worst <= 1, "{n} members: {worst} were down at once");
        for (m, log) in refs.iter().zip(&logs) {
            assert_eq!(
                log.matches("rolling change: applied here").count(),
                1,
                "{n} members: {} restarted once: {log}\n--- all serve logs:\n{}",
                m.ip,
                logs.join("\n---\n")
            );
            assert!(m
                .file("/etc/zookeeper/conf/zoo.cfg")
                .contains("maxClientCnxns=77"));
        }
        assert!(
            !object(&url).contains("mesos-boot.rolling-lease="),
            "the lease is given back"
        );
        let acked = writer.finish();
        assert!(
            acked.len() > acked_before,
            "writes went on during the change"
        );
        let stored = children(&hosts(&refs), "/writer");
        let lost = acked.iter().filter(|(w, _)| !stored.contains(w)).count();
        assert_eq!(lost, 0, "{n} members: acknowledged writes lost");
        drop(serves);
        eprintln!("{n} members: the change rolled through, at most {worst} down at once");
    }
}

/// Issue 12, item 6: a node tagged `mesos:zk-observer=true` joins the running ensemble as an
/// observer (`O:` in servers-spec, `:observer` by reconfig): it serves reads, it is not counted
/// in the ensemble size, and it never counts toward quorum.
#[test]
fn an_observer_joins_without_a_vote_and_never_counts() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let voters = formed_ensemble(&url);
    let serves: Vec<Serve> = voters.iter().map(|(n, _)| Serve::start(n)).collect();
    let (obs, _) = zk_node(&url, "3", &[("mesos:zk-observer", "true")]);
    let outs = boot_all(&[&obs], 0);
    assert_booted(&[&obs], &outs);
    let rec = record(&obs);
    assert_eq!(rec["membership"], "joined", "{rec:#}");
    let id = rec["myid"].as_u64().unwrap();
    assert_eq!(zk::mode(&obs.client_addr()).as_deref(), Some("observer"));
    let conf = zk::four_letter(&voters[0].0.client_addr(), "conf", Duration::from_secs(2)).unwrap();
    assert!(
        conf.contains(&format!("server.{id}={}:2888:3888:observer", obs.ip)),
        "{conf}"
    );
    let text = object(&url);
    assert!(
        text.contains(&format!("O\\:{id}\\:{}", obs.ip)),
        "O: in servers-spec: {text}"
    );
    assert!(text.contains("mesos-boot.ensemble-size=3\n"), "{text}");
    assert_eq!(
        live_voters(&voters[0].0.client_addr()).map(|v| v.len()),
        Some(3)
    );
    // It reads what the voters wrote.
    let voter_nodes: Vec<&Node> = voters.iter().map(|(n, _)| n).collect();
    write_znode(&hosts(&voter_nodes), "seen-by-the-observer");
    assert!(has_znode(&obs.client_addr(), "seen-by-the-observer"));

    // A rolling change reaches it too: back as an observer, it counts as back.
    let obs_serve = Serve::start_with(&obs, &[("MESOS_BOOT_ROLLING_TIMEOUT", "30s")]);
    edit_zoo_cfg_extra(&url, |line| format!("{line}&maxClientCnxns\\=78"));
    poll_until(
        Duration::from_secs(120),
        "the change on the observer",
        || {
            obs_serve
                .log()
                .contains("rolling change: applied here")
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {}", obs_serve.log()));
    assert_eq!(zk::mode(&obs.client_addr()).as_deref(), Some("observer"));
    assert!(
        !object(&url).contains("mesos-boot.rolling-stopped="),
        "{}",
        object(&url)
    );
    drop(obs_serve);

    // Two of the three voters go: one voter and the observer are no quorum.
    drop(serves);
    assert!(voters[0].0.zk.as_ref().unwrap().kill());
    assert!(voters[1].0.zk.as_ref().unwrap().kill());
    poll_until(
        Duration::from_secs(30),
        "no quorum without two voters",
        || {
            (zk::mode(&voters[2].0.client_addr()).is_none()
                && zk::mode(&obs.client_addr()).is_none())
            .then_some(())
        },
    )
    .unwrap();
}

/// Issue 12, item 5: a change a member does not survive (a `tickTime` ZooKeeper cannot parse)
/// stops the rolling change there: that member is not back within `--rolling-timeout`, the
/// shared config says why (`mesos-boot.rolling-stopped`), one error line says so, no other
/// member restarts, and the two others keep the quorum.
#[test]
fn a_rolling_change_a_member_does_not_survive_stops_there() {
    let _serial = one_at_a_time();
    let url = s3_config(
        "com.netflix.exhibitor.zoo-cfg-extra=tickTime\\=500&initLimit\\=10&syncLimit\\=5\n",
    );
    let members: Vec<(Node, String)> = (0..3).map(|_| zk_node(&url, "3", &[])).collect();
    let refs: Vec<&Node> = members.iter().map(|(m, _)| m).collect();
    assert_booted(&refs, &boot_all(&refs, 300));
    let serves: Vec<Serve> = refs
        .iter()
        .map(|m| {
            Serve::start_with(
                m,
                &[
                    ("MESOS_BOOT_BACKUP_PERIOD", "0s"),
                    ("MESOS_BOOT_ROLLING_TIMEOUT", "8s"),
                ],
            )
        })
        .collect();
    edit_zoo_cfg_extra(&url, |line| {
        line.replace("tickTime\\=500", "tickTime\\=half-a-second")
    });

    let stopped = poll_until(Duration::from_secs(90), "the change stopped", || {
        object(&url)
            .lines()
            .find_map(|l| l.strip_prefix("mesos-boot.rolling-stopped="))
            .map(str::to_string)
    })
    .unwrap_or_else(|e| {
        let logs: Vec<String> = serves.iter().map(|s| s.log()).collect();
        panic!("{e}\n--- serve:\n{}", logs.join("\n---\n"))
    });
    assert!(stopped.contains("did not come back"), "{stopped}");
    let logs: Vec<String> = serves.iter().map(|s| s.log()).collect();
    let turns: Vec<usize> = (0..3)
        .filter(|i| logs[*i].contains("this member's turn"))
        .collect();
    assert_eq!(turns.len(), 1, "one member tried: {logs:?}");
    assert!(
        logs[turns[0]].contains("rolling change: STOPPED"),
        "{}",
        logs[turns[0]]
    );
    // The others see the stop on their next pass and wait; nobody else takes a turn, and the
    // other two keep the quorum.
    poll_until(
        Duration::from_secs(30),
        "the others waiting on the stop",
        || {
            (0..3)
                .filter(|i| *i != turns[0])
                .all(|i| serves[i].log().contains("the rolling change stopped"))
                .then_some(())
        },
    )
    .unwrap();
    for (i, m) in refs.iter().enumerate().filter(|(i, _)| *i != turns[0]) {
        assert!(!serves[i].log().contains("this member's turn"), "{}", m.ip);
        assert!(
            matches!(
                zk::mode(&m.client_addr()).as_deref(),
                Some("leader" | "follower")
            ),
            "{} serves",
            m.ip
        );
    }
    assert!(
        object(&url).contains("mesos-boot.rolling-lease="),
        "the lease stays held"
    );
    drop(serves);
}
