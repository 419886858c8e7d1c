//! ZooKeeper TLS (issue 13, item 3), on real ZooKeeper 3.8 with moto as EC2 and S3: an ensemble
//! with `mesos:zk-tls` forms over quorum TLS from a CA its first boot creates, replaces a dead
//! member, and rotates its CA, one member at a time, without losing quorum or a write; a real
//! TLS client (kazoo) connects to the secure client port with the cluster's CA certificates,
//! and nothing signed by another CA gets in.

mod common;

use std::time::Duration;

use common::cluster::*;
use common::*;
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::{block_on, poll_until, zk};

const TLS: [(&str, &str); 1] = [("mesos:zk-tls", "true")];

/// `tests/harness/tls_probe.py` with `args`: one JSON line.
fn probe(args: &[&str]) -> serde_json::Value {
    let python = mesos_boot_tests::moto::moto_server_path()
        .expect("the venv (scripts/setup.sh)")
        .with_file_name("python");
    let out = std::process::Command::new(python)
        .arg(mesos_boot_tests::workspace_root().join("tests/harness/tls_probe.py"))
        .args(args)
        .output()
        .expect("run tls_probe.py");
    assert!(out.status.success(), "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)))
}

/// A file in a temp dir holding `text` (a CA bundle or a key and certificate for the probe).
fn pem_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `mesos-boot zk-tls ACTION URL` on `node`: its stdout.
fn zk_tls(node: &Node, action: &str, url: &str) -> String {
    let out = node.run(&["zk-tls", action, url]);
    assert!(out.status.success(), "zk-tls {action}: {}", show(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The member at `node` takes a handshake that presents `cert` (`-`: none), checked against
/// `ca`: "accepted" or why not.
fn quorum_handshake(node: &Node, ca: &str, cert: &str) -> String {
    let v = probe(&["quorum", &format!("{}:3888", node.ip), ca, cert]);
    v["handshake"].as_str().unwrap_or_default().to_string()
}

fn secure_hosts(nodes: &[&Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("{}:2281", n.ip))
        .collect::<Vec<_>>()
        .join(",")
}

/// Restarts `node` as its operator would (`systemctl restart mesos-boot@zookeeper zookeeper`):
/// ZooKeeper stops, mesos-boot renders again (certificates included) and starts it, and waits
/// until it serves in the ensemble.
fn restart(node: &Node) {
    assert!(node.zk.as_ref().unwrap().kill(), "{} was running", node.ip);
    assert_booted(&[node], &boot_all(&[node], 0));
}

/// Forms an ensemble of three TLS members, concurrently with random delays.
fn tls_ensemble(url: &str) -> Vec<(Node, String)> {
    let nodes: Vec<(Node, String)> = (0..3).map(|_| zk_node(url, "3", &TLS)).collect();
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    assert_booted(&refs, &boot_all(&refs, 1000));
    nodes
}

#[test]
fn a_tls_ensemble_forms_replaces_a_member_and_takes_tls_clients() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = tls_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    let dir = tempfile::tempdir().unwrap();

    // No CA beside another shared config: the CLI says so, naming the object.
    let none = refs[0].run(&["zk-tls", "rotate", &format!("{url}-none")]);
    assert!(!none.status.success());
    assert!(
        show(&none).contains(".zk-tls-ca does not exist"),
        "{}",
        show(&none)
    );

    // The CA the first boot created: one authority, readable as a trust bundle.
    let listed = zk_tls(refs[0], "list", &url);
    assert_eq!(listed.matches("issues:").count(), 1, "{listed}");
    let trust = zk_tls(refs[0], "trust", &url);
    assert_eq!(trust.matches("BEGIN CERTIFICATE").count(), 1, "{trust}");
    assert!(!trust.contains("PRIVATE KEY"));
    let ca = pem_file(&dir, "ca.pem", &trust);
    for n in &refs {
        assert_eq!(n.file("/etc/zookeeper/tls/ca.pem"), trust, "{}", n.ip);
        let zoo = n.file("/etc/zookeeper/conf/zoo.cfg");
        assert!(zoo.contains("\nsslQuorum=true\n"), "{zoo}");
    }

    // Quorum TLS: a member takes another member's certificate, and nothing else.
    let member = pem_file(
        &dir,
        "member.pem",
        &refs[0].file("/etc/zookeeper/tls/node.pem"),
    );
    let (wrong_ca, foreign) = foreign(&dir, &refs[0].ip.to_string());
    for n in &refs[1..] {
        assert_eq!(quorum_handshake(n, &ca, &member), "accepted", "{}", n.ip);
        let without = quorum_handshake(n, &ca, "-");
        assert!(without.starts_with("refused"), "no certificate: {without}");
        let other = quorum_handshake(n, &ca, &foreign);
        assert!(other.starts_with("refused"), "another CA's: {other}");
    }

    // A TLS client with the cluster's CA certificates reads and writes; with another CA's, or
    // in the clear on the TLS port, it does not get in.
    let hosts = secure_hosts(&refs);
    let ok = probe(&["client", &hosts, &ca]);
    assert_eq!(
        (&ok["connect"], &ok["write"]),
        (&"ok".into(), &"ok".into()),
        "{ok}"
    );
    let refused = probe(&["client", &format!("{}:2281", refs[1].ip), &wrong_ca]);
    assert_ne!(refused["connect"], "ok", "another CA: {refused}");
    assert!(
        zk::mode(&format!("{}:2281", refs[1].ip)).is_none(),
        "the TLS port in the clear"
    );

    // A member dies; the survivors remove it; its replacement joins by reconfig over TLS.
    let serves: Vec<Serve> = refs.iter().map(|n| Serve::start(n)).collect();
    let writer = Writer::start(
        refs.iter()
            .map(|n| n.client_addr())
            .collect::<Vec<_>>()
            .join(","),
    );
    let (dead, dead_instance) = (&nodes[2].0, &nodes[2].1);
    assert!(dead.zk.as_ref().unwrap().kill());
    block_on(Moto::shared().terminate_instance(dead_instance));
    let survivor = refs[0].client_addr();
    poll_until(Duration::from_secs(60), "the dead member's removal", || {
        let live = live_voters(&survivor)?;
        (servers_spec(&url).len() == 2 && live.len() == 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n--- serve\n{}", serves[0].log()));
    let (fresh, _) = zk_node(&url, "3", &TLS);
    assert_booted(&[&fresh], &boot_all(&[&fresh], 0));
    assert_eq!(fresh.boot_record()["membership"], "joined");
    let live = live_voters(&survivor).expect("conf");
    assert!(
        live.len() == 3 && live.iter().any(|(_, h)| *h == fresh.ip.to_string()),
        "{live:?}"
    );
    assert_eq!(
        fresh.file("/etc/zookeeper/tls/ca.pem"),
        trust,
        "the same CA"
    );
    assert_eq!(quorum_handshake(&fresh, &ca, &member), "accepted");
    let through_fresh = probe(&["client", &format!("{}:2281", fresh.ip), &ca]);
    assert_eq!(through_fresh["write"], "ok", "{through_fresh}");
    let acked = writer.finish();
    let lost = lost_writes(&acked, &fresh.client_addr());
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    eprintln!(
        "tls replacement: {} acknowledged writes, none lost",
        acked.len()
    );
}

/// The documented rotation: `rotate` (restart every member: they trust both), `promote`
/// (restart every member: certificates from the new authority), `retire` (restart every
/// member: the old one is trusted no more), one member at a time under writes. Quorum holds
/// throughout, no acknowledged write is lost, and afterwards a certificate of the old CA is
/// refused while clients with the new CA's certificate connect.
#[test]
fn the_cluster_ca_rotates_one_member_at_a_time_without_losing_quorum() {
    let _serial = one_at_a_time();
    let url = empty_bucket_url();
    let nodes = tls_ensemble(&url);
    let refs: Vec<&Node> = nodes.iter().map(|(n, _)| n).collect();
    let dir = tempfile::tempdir().unwrap();
    let old_trust = zk_tls(refs[0], "trust", &url);
    let old_ca = pem_file(&dir, "old-ca.pem", &old_trust);
    let old_member = pem_file(
        &dir,
        "old.pem",
        &refs[0].file("/etc/zookeeper/tls/node.pem"),
    );
    let writer = Writer::start(
        refs.iter()
            .map(|n| n.client_addr())
            .collect::<Vec<_>>()
            .join(","),
    );

    let rotation_began = std::time::Instant::now();
    for (step, trusted) in [("rotate", 2), ("promote", 2), ("retire", 1)] {
        let out = zk_tls(refs[0], step, &url);
        assert!(out.contains("next: re-run mesos-boot"), "{out}");
        for n in &refs {
            restart(n);
            let bundle = n.file("/etc/zookeeper/tls/ca.pem");
            assert_eq!(
                bundle.matches("BEGIN CERTIFICATE").count(),
                trusted,
                "{step}"
            );
        }
        let conf = live_voters(&refs[0].client_addr()).expect("quorum");
        assert_eq!(conf.len(), 3, "after {step}: {conf:?}");
    }

    let new_trust = zk_tls(refs[0], "trust", &url);
    assert_ne!(new_trust, old_trust);
    let new_ca = pem_file(&dir, "new-ca.pem", &new_trust);
    let new_member = pem_file(
        &dir,
        "new.pem",
        &refs[0].file("/etc/zookeeper/tls/node.pem"),
    );
    for n in &refs[1..] {
        assert_eq!(
            quorum_handshake(n, &new_ca, &new_member),
            "accepted",
            "{}",
            n.ip
        );
        let old = quorum_handshake(n, &new_ca, &old_member);
        assert!(
            old.starts_with("refused"),
            "the old CA's certificate: {old}"
        );
    }
    let hosts = secure_hosts(&refs);
    assert_eq!(probe(&["client", &hosts, &new_ca])["write"], "ok");
    let stale = probe(&["client", &format!("{}:2281", refs[1].ip), &old_ca]);
    assert_ne!(
        stale["connect"], "ok",
        "a client trusting only the old CA: {stale}"
    );

    let acked = writer.finish();
    let lost = lost_writes(&acked, &refs[0].client_addr());
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let during = acked.iter().filter(|(_, at)| *at > rotation_began).count();
    assert!(
        during > 100,
        "only {during} writes acknowledged during the rotation"
    );
    eprintln!(
        "tls rotation: 9 restarts, {} acknowledged writes, none lost",
        acked.len()
    );
}

/// Another cluster's CA and a member certificate from it (made by Python's cryptography, not
/// by mesos-boot), in `dir`: `(ca.pem, member.pem)`.
fn foreign(dir: &tempfile::TempDir, ip: &str) -> (String, String) {
    let sub = dir.path().join("foreign");
    std::fs::create_dir_all(&sub).unwrap();
    let v = probe(&["foreign", ip, sub.to_str().unwrap()]);
    (
        v["ca"].as_str().unwrap().to_string(),
        v["member"].as_str().unwrap().to_string(),
    )
}
