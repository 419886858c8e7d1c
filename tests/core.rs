//! End-to-end tests of `mesos-boot` for each role, against real ZooKeeper 3.8 ensembles,
//! moto as S3/EC2, and an IMDSv2 emulator per node. Nothing of mesos-boot is mocked.

mod common;

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use mesos_boot_tests::mesos_master::{EmuAgent, MasterEmulator};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::{block_on, mesos, net, poll_until};

/// One 3-node ensemble booted by mesos-boot, shared by the tests that need a running one.
fn ensemble() -> &'static Ensemble {
    static E: OnceLock<Ensemble> = OnceLock::new();
    E.get_or_init(|| Ensemble::boot(3))
}

/// A shared config of its own for `e`'s ensemble (a new bucket and key, no Mesos credentials
/// and no registry record yet): masters that form a replicated log record it beside their
/// shared config, and a later master of another test must not see that record.
fn own_shared_config(e: &Ensemble) -> String {
    let (bucket, key) = e.url["s3://".len()..].split_once('/').unwrap();
    let (text, _) = block_on(Moto::shared().get_object(bucket, key)).unwrap();
    s3_config(&String::from_utf8(text).unwrap())
}

fn assert_one_leader(e: &Ensemble) {
    let modes = e.modes();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "modes: {modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        e.nodes.len() - 1,
        "modes: {modes:?}"
    );
}

#[test]
fn zookeeper_nodes_listed_in_s3_boot_concurrently_into_one_ensemble() {
    let e = ensemble();
    for (node, out) in e.nodes.iter().zip(&e.outputs) {
        assert!(out.status.success(), "{}: {}", node.ip, show(out));
        let rec = node.boot_record();
        assert_eq!(rec["result"], "ready");
        assert_eq!(rec["identity"]["tags_source"], "imds");
        assert_eq!(rec["settings"]["role"]["source"], "tag:mesos:role");
        let zoo = node.file("/etc/zookeeper/conf/zoo.cfg");
        assert!(zoo.contains("standaloneEnabled=false\n"), "{zoo}");
        assert!(
            zoo.contains(&format!(
                "dataDir={}/var/lib/zookeeper\n",
                node.root.display()
            )),
            "{zoo}"
        );
        let dynamic = node.file("/etc/zookeeper/conf/zoo.cfg.dynamic");
        assert!(
            dynamic.contains(&format!(":participant;{}:2181", node.ip)),
            "{dynamic}"
        );
        let myid: u32 = node.file("/var/lib/zookeeper/myid").trim().parse().unwrap();
        assert_eq!(rec["myid"], myid);
    }
    assert_one_leader(e);
}

#[test]
fn five_node_ensemble_forms_with_one_leader() {
    let e = Ensemble::boot(5);
    for out in &e.outputs {
        assert!(out.status.success(), "{}", show(out));
    }
    assert_one_leader(&e);
    // `status` sees the same.
    let out = e.nodes[4].run(&["status", "--json"]);
    assert!(out.status.success(), "{}", show(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["live"]["ensemble"]["has_quorum"], true);
    assert_eq!(
        status["live"]["ensemble"]["servers"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn rerun_on_a_running_zookeeper_node_changes_nothing() {
    let e = ensemble();
    let node = &e.nodes[0];
    let before: Vec<(String, String)> = node
        .files()
        .into_iter()
        .filter(|f| f.starts_with("etc/") || f.ends_with("myid"))
        .map(|f| (f.clone(), node.file(&f)))
        .collect();
    let out = node.run(&["--timeout", "60s"]);
    assert!(out.status.success(), "{}", show(&out));
    let after: Vec<(String, String)> = before
        .iter()
        .map(|(f, _)| (f.clone(), node.file(f)))
        .collect();
    assert_eq!(before, after);
    let rec = node.boot_record();
    assert!(
        rec["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["changed"] == false),
        "{rec}"
    );
    assert_one_leader(e);
}

#[test]
fn master_waits_for_quorum_renders_quorum_and_waits_for_a_leading_master() {
    let e = ensemble();
    let url = own_shared_config(e);
    let ip = net::alloc_ip();
    let mut t = tags("master", &url);
    t.push(("mesos:masters", "3"));
    t.push(("mesos:zk-path", "/mesos-master-test"));
    let node = Node::new(ip, &t);
    let mut child = node
        .command(&["--timeout", "60s", "--start-command", "true"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It starts the service, then waits for its master to answer, recovered, and a master to
    // lead: poll its boot record's absence and its log, never sleep.
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    poll_until(Duration::from_secs(30), "master env rendered", || {
        node.root
            .join("etc/mesos-boot/mesos-master.env")
            .exists()
            .then_some(())
    })
    .unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "must wait for a leading master"
    );
    // Mesos (emulated) on its own address, as rendered (the masters' credential:
    // /mesos-master-test is theirs alone now), and the two other masters: the first
    // formation of the replicated log needs every replica of the three.
    let env = "/etc/mesos-boot/mesos-master.env";
    let others = net::alloc_ips(2);
    let mut daemons = vec![mesos_daemon(&node, "master", env)];
    for (i, other) in others.iter().enumerate() {
        let extra = [("MESOS_IP", other.to_string())];
        daemons.push(mesos_daemon_with(
            &node,
            "master",
            env,
            &extra,
            &format!("master-{i}"),
        ));
    }
    let status = child.wait().unwrap();
    for d in &mut daemons {
        mesos_boot_tests::proc::terminate_child(d, Duration::from_secs(2));
    }
    let log = log.join().unwrap();
    assert!(status.success(), "exit {status}: {log}");
    let env = node.file("/etc/mesos-boot/mesos-master.env");
    assert!(env.contains("MESOS_QUORUM=\"2\"\n"), "{env}");
    assert!(env.contains(&format!("MESOS_IP=\"{ip}\"\n")), "{env}");
    let zk = format!(
        "zk://{}@{}/mesos-master-test",
        credential(&url, "zk-mesos-master"),
        e.connect_string()
    );
    // The credential stays in the 0600 file: Mesos is given the file, not the URL.
    let zk_file = node.root.join("etc/mesos/zk");
    assert!(
        env.contains(&format!("MESOS_ZK=\"file://{}\"\n", zk_file.display())),
        "{env}"
    );
    assert!(
        !env.contains(credential(&url, "zk-mesos-master").as_str()),
        "{env}"
    );
    assert_eq!(node.file("/etc/mesos/zk"), format!("{zk}\n"));
    for f in [
        "etc/mesos/zk",
        "etc/mesos-boot/mesos-master.env",
        "etc/mesos-boot/mesos-credentials.json",
    ] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(node.root.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f} holds a credential");
    }
    assert_eq!(node.file("/etc/mesos-master/quorum"), "2\n");
    let rec = node.boot_record();
    let leader = rec["leader"]["ip"].as_str().unwrap().to_string();
    assert!(
        leader == ip.to_string() || others.iter().any(|o| o.to_string() == leader),
        "{rec}"
    );
    assert_eq!(rec["result"], "ready");
}

/// `path` as the masters' boot leaves it (`mesos::acl`: closed to all but the masters' and
/// the agents' credentials); returns what a master connects with (`user:secret@hosts`).
fn masters_path(e: &Ensemble, path: &str) -> String {
    let mut t = tags("master", &e.url);
    t.push(("mesos:masters", "1"));
    t.push(("mesos:zk-path", path));
    let node = Node::new(net::alloc_ip(), &t);
    let out = node.run(&["--no-wait", "--start-command", "true", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", show(&out));
    format!(
        "{}@{}",
        credential(&e.url, "zk-mesos-master"),
        e.connect_string()
    )
}

#[test]
fn agent_waits_until_a_master_leads_and_skips_log_replicas() {
    let e = ensemble();
    let ip = net::alloc_ip();
    let mut t = tags("agent", &e.url);
    t.push(("mesos:zk-path", "/mesos-agent-test"));
    t.push(("mesos:attributes", "rack:r7"));
    let node = Node::new(ip, &t);
    let as_master = masters_path(e, "/mesos-agent-test");
    // A replica and no master: the agent must keep waiting.
    let _replica = block_on(mesos::register_log_replica(
        &as_master,
        "/mesos-agent-test",
        ip,
        5050,
    ))
    .unwrap();
    let mut child = node.spawn(&["--timeout", "60s", "--start-command", "true"]);
    poll_until(Duration::from_secs(30), "agent env rendered", || {
        node.root
            .join("etc/mesos-boot/mesos-agent.env")
            .exists()
            .then_some(())
    })
    .unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "agent must wait for a leading master"
    );
    let m1 = net::alloc_ip();
    let m2 = net::alloc_ip();
    // The leading master's HTTP side (Mesos' `/master/slaves`), at the address its znode names.
    let master = MasterEmulator::start_on((m1, 5050).into(), "1.11.0");
    // It asks for a credential (as Mesos renders it): the agents' principal is one it accepts.
    master.accept(&credential(&e.url, "mesos-agent"));
    let _first = block_on(mesos::register_master(
        &as_master,
        "/mesos-agent-test",
        m1,
        "m1",
        5050,
    ))
    .unwrap();
    let _second = block_on(mesos::register_master(
        &as_master,
        "/mesos-agent-test",
        m2,
        "m2",
        5050,
    ))
    .unwrap();
    // Started, but not registered with the leader: the agent keeps waiting (its launch hook is
    // not completed for an agent that is merely configured).
    poll_until(
        Duration::from_secs(30),
        "agent asks the leader for its agents",
        || {
            master
                .requests()
                .iter()
                .any(|r| r.path == "/master/slaves")
                .then_some(())
        },
    )
    .unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "an agent the leader does not list must keep waiting"
    );
    // Another agent registered, then this one, first inactive: still waiting; then active.
    let other = EmuAgent::new("S-other", "ip-other", &net::alloc_ip().to_string());
    let mut mine = EmuAgent::new("S-mine", "ip-mine", &ip.to_string());
    mine.drain = Some("DRAINING".into());
    master.set_agents(vec![other.clone(), mine.clone()]);
    let asked = master.requests().len();
    poll_until(Duration::from_secs(30), "agent asks again", || {
        (master.requests().len() > asked + 1).then_some(())
    })
    .unwrap();
    assert!(
        child.try_wait().unwrap().is_none(),
        "an inactive agent has not joined"
    );
    mine.drain = None;
    master.set_agents(vec![other, mine]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let rec = node.boot_record();
    assert_eq!(rec["agent_id"], "S-mine");
    assert_eq!(rec["leader"]["ip"], m1.to_string(), "lowest sequence leads");
    let env = node.file("/etc/mesos-boot/mesos-agent.env");
    assert!(
        env.contains(
            "MESOS_ATTRIBUTES=\"az:us-east-1a;instance_type:t3.medium;cluster:test;rack:r7\"\n"
        ),
        "{env}"
    );
    assert!(
        env.contains(&format!(
            "MESOS_MASTER=\"file://{}\"\n",
            node.root.join("etc/mesos/zk").display()
        )),
        "{env}"
    );
    assert_eq!(
        node.file("/etc/mesos/zk"),
        format!(
            "zk://{}@{}/mesos-agent-test\n",
            credential(&e.url, "zk-mesos-agent"),
            e.connect_string()
        )
    );
}

#[test]
fn an_agent_the_leader_never_lists_exits_4_naming_its_pid() {
    let e = ensemble();
    let ip = net::alloc_ip();
    let mut t = tags("agent", &e.url);
    t.push(("mesos:zk-path", "/mesos-unlisted"));
    let node = Node::new(ip, &t);
    let m = net::alloc_ip();
    let master = MasterEmulator::start_on((m, 5050).into(), "1.11.0");
    master.accept(&credential(&e.url, "mesos-agent"));
    master.set_agents(vec![EmuAgent::new(
        "S-other",
        "ip-other",
        &net::alloc_ip().to_string(),
    )]);
    let _leader = block_on(mesos::register_master(
        &masters_path(e, "/mesos-unlisted"),
        "/mesos-unlisted",
        m,
        "m",
        5050,
    ))
    .unwrap();
    let out = node.run(&["--timeout", "6s", "--start-command", "true"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("slave(1)@{ip}:5051")) && err.contains("not registered"),
        "{}",
        show(&out)
    );
    assert_eq!(node.boot_record()["result"], "failed");
}

#[test]
fn agent_with_no_master_exits_4_and_with_no_zookeeper_exits_3() {
    let e = ensemble();
    let mut t = tags("agent", &e.url);
    t.push(("mesos:zk-path", "/mesos-nobody"));
    let node = Node::new(net::alloc_ip(), &t);
    let out = node.run(&["--timeout", "3s", "--no-start"]);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no leading Mesos master under /mesos-nobody"),
        "{}",
        show(&out)
    );

    // A shared config naming servers where nothing listens.
    let dead = net::alloc_ips(3);
    let url = s3_config(&shared_config(&dead));
    let node = Node::new(net::alloc_ip(), &tags("agent", &url));
    let out = node.run(&["--timeout", "3s", "--no-start"]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_eq!(node.boot_record()["exit_code"], 3);
}

/// An HS256 token for an executor, as a Mesos agent built with SSL signs one with its
/// `--jwt_secret_key` file (src/authentication/executor/jwt_secret_generator.cpp: the
/// executor's framework, executor and container ids as claims).
fn executor_token(key: &[u8]) -> String {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64.encode(br#"{"fid":"f-0001","eid":"default-executor","cid":"c-0001"}"#);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{header}.{claims}").as_bytes());
    let signature = b64.encode(mac.finalize().into_bytes());
    format!("{header}.{claims}.{signature}")
}

/// Issue 23, item 4: the default executor (every task group) launches its tasks through the
/// agent's operator API (`/api/v1`, read-write realm), authenticated only by the token its
/// agent signed for it, which Mesos offers only when built with SSL. Such an agent renders
/// executor authentication with a key of its own (kept across boots) and its API accepts the
/// executor's token; on a Mesos without SSL, the API asks no credential and the boot warns;
/// `--executor-auth token` there is refused, naming the flag.
#[test]
fn a_task_groups_executor_can_call_its_agents_api() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let env_path = "/etc/mesos-boot/mesos-agent.env";
    let call = |node: &Node, auth: Option<String>| {
        let url = format!("http://{}:5051/api/v1", node.ip);
        let mut headers = vec![("Content-Type", "application/json".to_string())];
        headers.extend(auth.map(|a| ("Authorization", a)));
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        poll_until(Duration::from_secs(30), "the agent's API answers", || {
            http::request("POST", &url, &headers, br#"{"type":"GET_CONTAINERS"}"#).ok()
        })
        .unwrap()
    };

    // A Mesos built with SSL (the image's).
    let node = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    let out = node.run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    let env = env_map(&node, env_path);
    assert_eq!(env["MESOS_AUTHENTICATE_HTTP_READWRITE"], "true", "{env:?}");
    assert_eq!(env["MESOS_AUTHENTICATE_HTTP_EXECUTORS"], "true", "{env:?}");
    let key_path = std::path::PathBuf::from(&env["MESOS_JWT_SECRET_KEY"]);
    let key = std::fs::read(&key_path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", key_path.display());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(String::from_utf8_lossy(&key).trim()));
    let _agent = KillOnDrop(mesos_daemon(&node, "agent", env_path));
    let r = call(&node, Some(format!("Bearer {}", executor_token(&key))));
    assert_eq!(
        r.status,
        200,
        "the executor's token: {}",
        String::from_utf8_lossy(&r.body)
    );
    let r = call(&node, None);
    assert_eq!(r.status, 401, "no credential");
    let r = call(
        &node,
        Some(format!("Bearer {}", executor_token(b"another key"))),
    );
    assert_eq!(r.status, 401, "a token another key signed");
    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(credential(&e.url, "mesos-agent-http"));
    assert_eq!(
        call(&node, Some(format!("Basic {basic}"))).status,
        200,
        "an operator"
    );
    // The key is kept by the next boot: executors outlive an agent restart.
    let out = node.run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(std::fs::read(&key_path).unwrap(), key, "the key is kept");

    // A Mesos built without SSL: no executor authentication exists, the API asks nothing.
    let plain = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    let out = plain
        .command(&["--no-start", "--no-wait"])
        .env("MESOS_EMULATOR_WITHOUT_SSL", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("executors cannot authenticate"),
        "the boot warns: {}",
        show(&out)
    );
    let env = env_map(&plain, env_path);
    assert_eq!(env["MESOS_AUTHENTICATE_HTTP_READWRITE"], "false", "{env:?}");
    assert!(!env.contains_key("MESOS_JWT_SECRET_KEY"), "{env:?}");
    let _plain_agent = KillOnDrop(mesos_daemon_with(
        &plain,
        "agent",
        env_path,
        &[("MESOS_EMULATOR_WITHOUT_SSL", "1".into())],
        "agent",
    ));
    assert_eq!(
        call(&plain, None).status,
        200,
        "the executor, unauthenticated"
    );

    // Asked for tokens there: refused, naming the flag.
    let out = plain
        .command(&["--no-start", "--no-wait", "--executor-auth", "token"])
        .env("MESOS_EMULATOR_WITHOUT_SSL", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--executor-auth") && stderr.contains("without SSL"),
        "{stderr}"
    );
}

#[test]
fn tags_off_in_metadata_fall_back_to_one_describe_tags_call() {
    let e = ensemble();
    let ip = net::alloc_ip();
    let (id, _) = block_on(Moto::shared().run_instance(&[
        ("mesos:role", "agent"),
        ("mesos:cluster", "fromec2"),
        ("mesos:shared-config", &e.url),
    ]));
    let node = Node::new(ip, &[]);
    let mut inst = node.imds.instance();
    inst.instance_id = id;
    node.imds.set_instance(inst);
    node.imds.set_tags_enabled(false);
    let out = node.run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    let rec = node.boot_record();
    assert_eq!(rec["identity"]["tags_source"], "ec2:DescribeTags");
    assert_eq!(rec["cluster"], "fromec2");
    assert_eq!(rec["settings"]["cluster"]["source"], "tag:mesos:cluster");
}

/// Makes `node` one that booted the legacy cgroup (v1) hierarchy: a mount per controller.
fn cgroup_v1(node: &Node) {
    let base = node.root.join("sys/fs/cgroup");
    for c in ["memory", "cpu,cpuacct", "pids"] {
        std::fs::create_dir_all(base.join(c)).unwrap();
    }
    std::os::unix::fs::symlink("cpu,cpuacct", base.join("cpu")).unwrap();
}

/// Issue 23, item 8: Mesos 1.11 enforces resource limits only through cgroup v1. An agent
/// that booted the legacy hierarchy renders the linux launcher with the cgroups isolators;
/// on the unified one (v2), the posix ones (which enforce nothing) and docker, which needs v1,
/// is refused at boot naming the setting, instead of an agent that aborts at start.
#[test]
fn an_agent_enforces_limits_on_cgroup_v1_and_refuses_docker_on_v2() {
    let e = ensemble();
    let env_path = "/etc/mesos-boot/mesos-agent.env";
    let v1 = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    cgroup_v1(&v1);
    let out = v1.run(&[
        "--no-start",
        "--no-wait",
        "--containerizers",
        "mesos,docker",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let env = env_map(&v1, env_path);
    assert_eq!(env["MESOS_LAUNCHER"], "linux", "{env:?}");
    assert_eq!(
        env["MESOS_ISOLATION"], "cgroups/cpu,cgroups/mem,filesystem/posix",
        "{env:?}"
    );
    assert_eq!(env["MESOS_CONTAINERIZERS"], "mesos,docker");
    assert!(!env.contains_key("MESOS_SYSTEMD_ENABLE_SUPPORT"), "{env:?}");

    let v2 = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    std::fs::create_dir_all(v2.root.join("sys/fs/cgroup")).unwrap();
    std::fs::write(
        v2.root.join("sys/fs/cgroup/cgroup.controllers"),
        "cpu memory\n",
    )
    .unwrap();
    let out = v2.run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    let env = env_map(&v2, env_path);
    assert_eq!(env["MESOS_LAUNCHER"], "posix", "{env:?}");
    assert_eq!(env["MESOS_SYSTEMD_ENABLE_SUPPORT"], "false", "{env:?}");
    let out = v2
        .command(&["--no-start", "--no-wait"])
        .env("MESOS_BOOT_CONTAINERIZERS", "mesos,docker")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MESOS_BOOT_CONTAINERIZERS: `mesos,docker`") && stderr.contains("cgroup"),
        "{stderr}"
    );
}

#[test]
fn flag_beats_env_beats_tag() {
    let e = ensemble();
    let node = Node::new(net::alloc_ip(), &tags("agent", &e.url));
    // docker needs cgroup v1 (see the test above).
    cgroup_v1(&node);
    let out = node
        .command(&[
            "--no-start",
            "--no-wait",
            "--containerizers",
            "mesos,docker",
        ])
        .env("MESOS_BOOT_CLUSTER", "fromenv")
        .env("MESOS_BOOT_CONTAINERIZERS", "docker")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let rec = node.boot_record();
    assert_eq!(rec["settings"]["cluster"]["source"], "env");
    assert_eq!(rec["settings"]["containerizers"]["source"], "flag");
    assert_eq!(rec["settings"]["role"]["source"], "tag:mesos:role");
    let env = node.file("/etc/mesos-boot/mesos-agent.env");
    assert!(
        env.contains("MESOS_CONTAINERIZERS=\"mesos,docker\""),
        "{env}"
    );
    assert!(env.contains("cluster:fromenv"), "{env}");
}

/// Kills the child on drop, so a failed assertion leaves no server behind.
struct KillOnDrop(std::process::Child);

/// `mesos-boot serve` on `node` with `args`, output discarded, killed when dropped.
fn serve(node: &Node, args: &[&str]) -> KillOnDrop {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    KillOnDrop(
        node.command(&all)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_exhibitors_rest_api_as_curator_and_patroni_read_it() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let node = &e.nodes[1];
    let listen = format!("{}:8080", node.ip);
    let _serve = serve(node, &["--listen", &listen]);
    let base = format!("http://{listen}");
    let health = poll_until(Duration::from_secs(30), "serve /health", || {
        http::get(&format!("{base}/health"), &[]).ok()
    })
    .unwrap();
    assert_eq!(health.status, 200, "{}", health.text());

    // Patroni reads the JSON.
    let list = http::get(&format!("{base}/exhibitor/v1/cluster/list"), &[]).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let hosts: Vec<String> = e.nodes.iter().map(|n| n.ip.to_string()).collect();
    assert_eq!(json, serde_json::json!({ "servers": hosts, "port": 2181 }));

    // Curator's ExhibitorEnsembleProvider reads the form.
    let form = http::get(
        &format!("{base}/exhibitor/v1/cluster/list"),
        &[("Accept", "application/x-www-form-urlencoded")],
    )
    .unwrap();
    let want = format!(
        "count=3&server0={}&server1={}&server2={}&port=2181",
        hosts[0], hosts[1], hosts[2]
    );
    assert_eq!(form.text(), want);

    // DC/OS waits for exactly one leader and everyone serving.
    let status = http::get(&format!("{base}/exhibitor/v1/cluster/status"), &[]).unwrap();
    let status: Vec<serde_json::Value> = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(status.len(), 3);
    assert_eq!(
        status.iter().filter(|s| s["isLeader"] == true).count(),
        1,
        "{status:?}"
    );
    assert!(
        status
            .iter()
            .all(|s| s["code"] == 3 && s["description"] == "serving"),
        "{status:?}"
    );

    let state = http::get(&format!("{base}/exhibitor/v1/cluster/state"), &[]).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state.body).unwrap();
    assert_eq!(state["state"], 3);
    let leader_here = mesos_boot_tests::zk::mode(&node.client_addr()).as_deref() == Some("leader");
    assert_eq!(state["isLeader"], leader_here);
}

#[test]
fn a_booted_node_completes_its_launch_hook_and_a_failed_boot_abandons_it() {
    let moto = Moto::shared();
    let group = format!("masters-{}", std::process::id());
    block_on(moto.create_asg_with_launch_hook(&group, 2, "launch"));
    let instances = block_on(moto.asg_instances(&group));
    assert_eq!(instances.len(), 2);
    let state = block_on(moto.asg_instance_state(&instances[0])).unwrap();
    assert_eq!(state.0, "Pending:Wait", "a launch hook holds new instances");
    let url = s3_config(&shared_config(&net::alloc_ips(1)));
    let node = |instance: &str, masters: &str| {
        let mut t = tags("master", &url);
        t.push(("mesos:masters", masters));
        t.push(("aws:autoscaling:groupName", &group));
        t.push(("mesos:lifecycle-hook", "launch"));
        Node::new(net::alloc_ip(), &t).with_instance_id(instance)
    };

    let good = node(&instances[0], "1");
    let out = good.run(&["--no-wait", "--start-command", "true"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(good.boot_record()["lifecycle"], "CONTINUE");
    let state = block_on(moto.asg_instance_state(&instances[0])).unwrap();
    assert_eq!(state, ("InService".to_string(), "Healthy".to_string()));
    // A reboot: the tags persist, so the boot completes the hook again; AWS answers
    // "No active Lifecycle Action found", which is success for an instance in service.
    let out = good.run(&["--no-wait", "--start-command", "true"]);
    assert!(
        out.status.success(),
        "a reboot of an in-service instance: {}",
        show(&out)
    );
    assert_eq!(good.boot_record()["lifecycle"], "already in service");
    let state = block_on(moto.asg_instance_state(&instances[0])).unwrap();
    assert_eq!(state, ("InService".to_string(), "Healthy".to_string()));

    let bad = node(&instances[1], "two");
    let out = bad.run(&["--no-wait", "--start-command", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert_eq!(bad.boot_record()["lifecycle"], "ABANDON");
    let state = block_on(moto.asg_instance_state(&instances[1])).unwrap();
    assert_eq!(state, ("Terminating".to_string(), "Unhealthy".to_string()));

    // --no-start leaves the hook alone (an image check, a dry run of the configuration).
    let out = node(&instances[1], "1").run(&["--no-start", "--no-wait"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lifecycle hook is left alone"));
}

#[test]
fn check_image_accepts_a_complete_image_and_names_what_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let put = |path: &str, text: &str, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        let p = root.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // What packer/scripts install: the repository's units, the programs they run, the
    // default templates' reference copy.
    let repo = mesos_boot_tests::workspace_root();
    for unit in std::fs::read_dir(repo.join("systemd")).unwrap().flatten() {
        let name = unit.file_name().to_string_lossy().to_string();
        if name.ends_with(".service") {
            let text = std::fs::read_to_string(unit.path()).unwrap();
            put(&format!("/etc/systemd/system/{name}"), &text, 0o644);
        }
    }
    for program in [
        "/usr/local/bin/mesos-boot",
        "/usr/sbin/mesos-master",
        "/usr/sbin/mesos-agent",
        "/usr/bin/java",
    ] {
        put(program, "#!/bin/sh\n", 0o755);
    }
    for jar in [
        "zookeeper",
        "netty-codec",
        "netty-resolver",
        "netty-transport-native-unix-common",
    ] {
        put(&format!("/usr/share/java/{jar}.jar"), "", 0o644);
    }
    put("/etc/zookeeper/conf/environment", "", 0o644);
    for t in std::fs::read_dir(repo.join("bootstrap/templates"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(t.path()).unwrap();
        put(
            &format!(
                "/usr/share/mesos-boot/templates/{}",
                t.file_name().to_string_lossy()
            ),
            &text,
            0o644,
        );
    }
    let node = Node::new(net::alloc_ip(), &[]);
    let check = || {
        let mut cmd = node.command(&["check-image"]);
        cmd.env("MESOS_BOOT_ROOT", root.path());
        cmd.output().unwrap()
    };
    let out = check();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("image ok"),
        "{}",
        show(&out)
    );

    std::fs::remove_file(root.path().join("usr/sbin/mesos-agent")).unwrap();
    put(
        "/usr/share/mesos-boot/templates/mesos-zk.tera",
        "{{ no_such_value }}\n",
        0o644,
    );
    let out = check();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("usr/sbin/mesos-agent"), "{}", show(&out));
    assert!(stderr.contains("mesos-zk.tera"), "{}", show(&out));
}

/// Prometheus text: every sample line is `name{labels} number`; the samples of `name`.
fn samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        assert!(value.parse::<f64>().is_ok(), "not a number: {line}");
        let metric = series.split('{').next().unwrap();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad name: {line}"
        );
    }
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            (series == name || series.starts_with(&format!("{name}{{")))
                .then(|| (series, value.parse().unwrap()))
        })
        .collect()
}

/// The rest of Exhibitor's API that operators use (one server's state, whitelisted
/// four-letter words, the config as Exhibitor's UI reads it) and `/metrics` in Prometheus'
/// format: membership, each server's mode, quorum, the last membership check and ZooKeeper's
/// own figures.
#[test]
fn serve_answers_server_state_four_letter_words_config_state_and_metrics() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let node = &e.nodes[0];
    let listen = format!("{}:8080", node.ip);
    let _serve = serve(node, &["--listen", &listen, "--reconcile-interval", "1s"]);
    let base = format!("http://{listen}");
    poll_until(Duration::from_secs(30), "serve /health", || {
        http::get(&format!("{base}/health"), &[])
            .ok()
            .filter(|r| r.status == 200)
    })
    .unwrap();
    let get = |path: &str| {
        let r = http::get(&format!("{base}{path}"), &[]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        (r.status, json, r.text())
    };

    // cluster/state/{host}: every listed server, as that server would answer.
    for n in &e.nodes {
        let (status, state, _) = get(&format!("/exhibitor/v1/cluster/state/{}", n.ip));
        assert_eq!(status, 200);
        let leader = mesos_boot_tests::zk::mode(&n.client_addr()).as_deref() == Some("leader");
        assert_eq!(
            (&state["state"], &state["isLeader"]),
            (&3.into(), &leader.into()),
            "{}: {state}",
            n.ip
        );
    }
    let (status, body, _) = get("/exhibitor/v1/cluster/state/10.9.9.9");
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("10.9.9.9"),
        "{body}"
    );

    // cluster/4ltr/{word}[/{host}]: the whitelisted words only.
    let (status, body, _) = get("/exhibitor/v1/cluster/4ltr/srvr");
    assert_eq!(status, 200);
    assert!(
        body["response"].as_str().unwrap().contains("Mode: "),
        "{body}"
    );
    let other = &e.nodes[2];
    let (_, body, _) = get(&format!("/exhibitor/v1/cluster/4ltr/conf/{}", other.ip));
    let conf = body["response"].as_str().unwrap();
    let myid_other = other.file("/var/lib/zookeeper/myid");
    assert!(
        conf.contains(&format!("serverId={}", myid_other.trim())),
        "{conf}"
    );
    let (status, body, _) = get("/exhibitor/v1/cluster/4ltr/mntr");
    assert_eq!(status, 200);
    assert!(
        body["response"]
            .as_str()
            .unwrap()
            .contains("zk_znode_count"),
        "{body}"
    );
    for word in ["ruok", "dump", "wchp"] {
        let (status, body, _) = get(&format!("/exhibitor/v1/cluster/4ltr/{word}"));
        assert_eq!(status, 400, "{word}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(word) && error.contains("srvr"), "{error}");
    }

    // config/get-state: Exhibitor's camel-case settings, the local serverId.
    let (status, state, _) = get("/exhibitor/v1/config/get-state");
    assert_eq!(status, 200);
    let config = &state["config"];
    let myid: u64 = node.file("/var/lib/zookeeper/myid").trim().parse().unwrap();
    assert_eq!(config["serverId"], myid, "{state}");
    assert_eq!(config["hostname"], node.ip.to_string());
    assert_eq!(config["clientPort"], 2181);
    assert_eq!(config["cleanupMaxFiles"], 3);
    assert_eq!(config["cleanupPeriodMs"], 43200000);
    let spec = config["serversSpec"].as_str().unwrap();
    for n in &e.nodes {
        assert!(spec.contains(&n.ip.to_string()), "{spec}");
    }
    assert!(config["zooCfgExtra"].is_object(), "{state}");
    assert_eq!(state["running"], true);

    // /metrics: membership, modes, quorum, the membership check and ZooKeeper's figures.
    let text = poll_until(
        Duration::from_secs(30),
        "a membership check in /metrics",
        || {
            let (_, _, text) = get("/metrics");
            text.contains("mesos_boot_reconcile_last_pass{")
                .then_some(text)
        },
    )
    .unwrap();
    assert_eq!(
        samples(&text, "mesos_boot_shared_config_up"),
        [("mesos_boot_shared_config_up", 1.0)]
    );
    assert_eq!(
        samples(&text, "mesos_boot_servers"),
        [
            ("mesos_boot_servers{kind=\"participant\"}", 3.0),
            ("mesos_boot_servers{kind=\"observer\"}", 0.0)
        ]
    );
    let serving = samples(&text, "mesos_boot_server_serving");
    assert_eq!(serving.len(), 3, "{text}");
    assert!(serving.iter().all(|(_, v)| *v == 1.0), "{serving:?}");
    assert_eq!(
        serving
            .iter()
            .filter(|(s, _)| s.contains("mode=\"leader\""))
            .count(),
        1,
        "{serving:?}"
    );
    assert_eq!(
        samples(&text, "mesos_boot_ensemble_quorum"),
        [("mesos_boot_ensemble_quorum", 1.0)]
    );
    // This fixture's instances are not in EC2: the check sees them gone and holds (removing
    // any would leave no majority). What it decided is there, once.
    let last = samples(&text, "mesos_boot_reconcile_last_pass");
    assert_eq!(last.len(), 1, "{text}");
    assert!(
        ["nothing", "wait", "hold"]
            .iter()
            .any(|o| last[0].0 == format!("mesos_boot_reconcile_last_pass{{outcome=\"{o}\"}}")),
        "{last:?}"
    );
    let age = samples(&text, "mesos_boot_reconcile_last_pass_age_seconds");
    assert!(age.len() == 1 && age[0].1 < 10.0, "{age:?}");
    assert_eq!(
        samples(&text, "mesos_boot_zk_up"),
        [("mesos_boot_zk_up", 1.0)]
    );
    let znodes = samples(&text, "mesos_boot_zk_znode_count");
    assert!(znodes.len() == 1 && znodes[0].1 >= 4.0, "{znodes:?}");
}

/// Runs Debian's headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=...`);
/// its stdout.
fn chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("timeout")
        .arg("90")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1000,700",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .current_dir(profile.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("chromium (Debian's package; scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "chromium {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Issue 12, item 7: `serve`'s status page at `/`, read-only HTML: every member with its mode
/// and the leader, quorum, this node's last decision and backup, the local figures. Rendered
/// in headless Chromium; the screenshot is kept in `target/test-artifacts/status-page.png`.
#[test]
fn the_status_page_shows_the_ensemble_in_a_browser() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let node = &e.nodes[1];
    let listen = format!("{}:8080", node.ip);
    let _serve = serve(node, &["--listen", &listen, "--reconcile-interval", "1s"]);
    let base = format!("http://{listen}");
    // After one membership pass: the page shows its decision.
    let page = poll_until(
        Duration::from_secs(30),
        "the status page after a pass",
        || {
            http::get(&format!("{base}/"), &[])
                .ok()
                .filter(|r| r.status == 200 && !r.text().contains("none yet"))
        },
    )
    .unwrap();
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    let dom = chromium(&format!("{base}/"), &["--dump-dom"]);
    assert!(dom.contains("has quorum"), "{dom}");
    for n in &e.nodes {
        assert!(
            dom.contains(&n.client_addr()),
            "{} listed: {dom}",
            n.client_addr()
        );
    }
    let leaders = dom.matches("class=\"ok\">leader<").count();
    assert_eq!(leaders, 1, "one leader among the members: {dom}");
    let decision = ["nothing", "wait", "hold", "remove", "restore", "skipped"]
        .iter()
        .any(|o| dom.contains(&format!("id=\"decision\">{o} (")));
    assert!(decision, "the last decision and its age: {dom}");
    assert!(dom.contains("zk_znode_count"), "{dom}");

    let artifacts = mesos_boot_tests::workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &format!("{base}/"),
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
        "{} bytes",
        png.len()
    );
}

/// Issue 13, item 4: without `--listen`, `serve` binds the node's own address (port 8080), not
/// every address of the host: another local address gets no answer on 8080.
#[test]
fn serve_listens_on_the_nodes_own_address_by_default() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let node = &e.nodes[2];
    let _serve = serve(
        node,
        &["--reconcile-interval", "0s", "--backup-period", "0s"],
    );
    poll_until(
        Duration::from_secs(30),
        "serve on the node's address",
        || {
            http::get(&format!("http://{}:8080/health", node.ip), &[])
                .ok()
                .filter(|r| r.status == 200)
        },
    )
    .unwrap();
    let elsewhere = net::alloc_ip();
    let other =
        std::net::TcpStream::connect_timeout(&(elsewhere, 8080).into(), Duration::from_secs(2));
    assert!(
        other.is_err(),
        "{elsewhere}:8080 answered: serve listens on every address"
    );
}

/// What kazoo may do at `path` as `auth` (`user:secret`, or `-`: nobody), and at `leader`.
fn zk_probe(hosts: &str, path: &str, auth: &str, leader: &str) -> serde_json::Value {
    let python = mesos_boot_tests::moto::moto_server_path()
        .expect("the venv (scripts/setup.sh)")
        .with_file_name("python");
    let out = std::process::Command::new(python)
        .arg(mesos_boot_tests::workspace_root().join("tests/harness/zk_probe.py"))
        .args([hosts, path, auth, leader])
        .output()
        .expect("run zk_probe.py");
    assert!(out.status.success(), "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)))
}

/// Issue 13, item 1: the masters' first boot creates the ZooKeeper credentials beside the
/// shared config and `/mesos` with an ACL that gives the masters' credential every right, the
/// agents' read, and nobody else anything; Mesos (emulated) registers its leader with it.
/// Checked with a real client (kazoo): without a credential, `/mesos` cannot be read, listed
/// or written; the agents' credential reads; the masters' writes. A path left open (a cluster
/// from before) is closed by the next master boot; a rotation keeps both credentials until it
/// is retired.
#[test]
fn only_the_masters_credential_writes_mesos_and_the_agents_reads_it() {
    let e = ensemble();
    let hosts = e.connect_string();
    // A shared config of its own (the same ensemble): its credentials are rotated below.
    let url = own_shared_config(e);
    let path = "/mesos-acl";
    let ip = net::alloc_ip();
    let mut t = tags("master", &url);
    t.push(("mesos:masters", "1"));
    t.push(("mesos:zk-path", path));
    let node = Node::new(ip, &t);
    let boot = || {
        let out = node.run(&["--no-wait", "--start-command", "true", "--timeout", "60s"]);
        assert!(out.status.success(), "{}", show(&out));
        out
    };
    let out = boot();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("created the Mesos znode with its ACL"),
        "{}",
        show(&out)
    );
    let leader = block_on(mesos::register_master(
        &format!("{}@{hosts}", credential(&url, "zk-mesos-master")),
        path,
        ip,
        "m1",
        5050,
    ))
    .unwrap();
    let master = credential(&url, "zk-mesos-master");
    let agent = credential(&url, "zk-mesos-agent");
    let nobody = zk_probe(&hosts, path, "-", leader.znode());
    for op in ["get", "children", "set", "create"] {
        assert_eq!(
            nobody[op], "NoAuthError",
            "nobody may {op} {path}: {nobody}"
        );
    }
    assert_eq!(nobody["set_leader"], "NoAuthError", "{nobody}");
    let as_agent = zk_probe(&hosts, path, &agent, leader.znode());
    for op in ["get", "children", "read_leader"] {
        assert_eq!(as_agent[op], "ok", "an agent may {op}: {as_agent}");
    }
    for op in ["set", "create", "set_leader"] {
        assert_eq!(
            as_agent[op], "NoAuthError",
            "an agent may not {op}: {as_agent}"
        );
    }
    let as_master = zk_probe(&hosts, path, &master, "");
    for op in ["get", "children", "set", "create", "delete"] {
        assert_eq!(as_master[op], "ok", "a master may {op}: {as_master}");
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(master.split(':').nth(1).unwrap()),
        "no secret in the log"
    );
    // The replicated log's group: made by the boot before Mesos (which would give it world
    // read and every right to its one creating credential), for the masters' credentials alone.
    let log_group = format!("{path}/log_replicas");
    let nobody = zk_probe(&hosts, &log_group, "-", "");
    for op in ["children", "create"] {
        assert_eq!(
            nobody[op], "NoAuthError",
            "nobody may {op} {log_group}: {nobody}"
        );
    }
    assert_eq!(
        zk_probe(&hosts, &log_group, &agent, "")["create"],
        "NoAuthError"
    );

    // A path left open by an older boot: the next master boot closes it.
    let other = "/mesos-acl-open";
    let _open = block_on(mesos::register_master(&hosts, other, ip, "m1", 5050)).unwrap();
    assert_eq!(zk_probe(&hosts, other, "-", "")["create"], "ok");
    let mut t2 = t.clone();
    t2.retain(|(k, _)| *k != "mesos:zk-path");
    t2.push(("mesos:zk-path", other));
    let out = Node::new(net::alloc_ip(), &t2).run(&["--no-wait", "--start-command", "true"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set the Mesos znode's ACL"),
        "{}",
        show(&out)
    );
    assert_eq!(zk_probe(&hosts, other, "-", "")["children"], "NoAuthError");
    let other_log = format!("{other}/log_replicas");
    assert_eq!(
        zk_probe(&hosts, &other_log, "-", "")["create"],
        "NoAuthError",
        "the log group of a cluster from before is closed too"
    );

    // Rotation of the agents' credential: both read until the old one is retired.
    let mb = |args: &[&str]| {
        let out = std::process::Command::new(mesos_boot_tests::bin::mesos_boot_bin())
            .envs(Moto::shared().env())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = mb(&["credentials", "rotate", &url, "zk-mesos-agent"]);
    assert!(
        said.contains("zk-mesos-agent: mesos-agent-2 (still accepted: mesos-agent)"),
        "{said}"
    );
    let new = credential(&url, "zk-mesos-agent");
    assert_ne!(new, agent);
    assert_eq!(
        zk_probe(&hosts, path, &new, "")["children"],
        "NoAuthError",
        "not before the masters re-render"
    );
    boot();
    assert_eq!(zk_probe(&hosts, path, &new, "")["children"], "ok");
    assert_eq!(
        zk_probe(&hosts, path, &agent, "")["children"],
        "ok",
        "the old one still works"
    );
    mb(&["credentials", "retire", &url, "zk-mesos-agent"]);
    boot();
    assert_eq!(zk_probe(&hosts, path, &new, "")["children"], "ok");
    assert_eq!(
        zk_probe(&hosts, path, &agent, "")["children"],
        "NoAuthError",
        "retired"
    );
    let listed = mb(&["credentials", "list", &url]);
    assert!(
        listed.contains("zk-mesos-agent: mesos-agent-2\n"),
        "{listed}"
    );

    // Rotation of the masters' credential. The log group keeps the ACL its first creator gave
    // it (Mesos' EVERYONE_READ_CREATOR_ALL), so a master on the new credential could not join it
    // and would abort (src/log/log.cpp): once the masters re-render it can, with the old one
    // still working until it is retired.
    drop(leader);
    let m1 = |cred: &str| {
        block_on(mesos::register_master(
            &format!("{cred}@{hosts}"),
            path,
            ip,
            "m1",
            5050,
        ))
    };
    let first = m1(&master).expect("a master on the first credential");
    mb(&["credentials", "rotate", &url, "zk-mesos-master"]);
    let new_master = credential(&url, "zk-mesos-master");
    assert_ne!(new_master, master);
    boot();
    let second =
        m1(&new_master).unwrap_or_else(|e| panic!("a master on the new credential: {e:#}"));
    assert!(second.replica().is_some());
    drop((first, second));
    m1(&master).expect("the old credential still works during the rotation");
    mb(&["credentials", "retire", &url, "zk-mesos-master"]);
    boot();
    m1(&new_master).expect("a master on the new credential after the old is retired");
    let refused = m1(&master).expect_err("the retired credential");
    assert!(
        format!("{refused:#}").contains("Failed to participate in ZooKeeper group"),
        "{refused:#}"
    );
    assert!(
        !listed.contains(new.split(':').nth(1).unwrap()),
        "list never shows a secret"
    );
}

/// Issue 25, item 1: a host in the VPC that reaches ZooKeeper before the masters' first boot
/// creates `/mesos` open, with a persistent `json.info_*` and a live (ephemeral) one naming an
/// address of its own, and a log replica. An agent holding the cluster's credentials sends
/// none of them to that "leader" (it waits, and says why); the masters' boot closes the path,
/// removes every member no master made and lets the agents read again; then the agent follows
/// the real master.
#[test]
fn no_credential_goes_to_a_leader_made_before_the_masters_closed_the_path() {
    let e = ensemble();
    let hosts = e.connect_string();
    let path = "/mesos-taken";
    let thief_ip = net::alloc_ip();
    let thief = MasterEmulator::start_on((thief_ip, 5050).into(), "1.11.0");
    // Its sessions live (a runtime of their own keeps them going) until the end of the test.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let squatter = rt.block_on(async {
        let (client, _) = mesos::connect(&hosts).await.unwrap();
        let open = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        client.create(path, &[], &open).await.unwrap();
        let info = serde_json::to_vec(&mesos::master_info_json(thief_ip, "thief", 5050)).unwrap();
        client
            .create(&format!("{path}/json.info_0000000000"), &info, &open)
            .await
            .unwrap();
        client
    });
    let live = rt
        .block_on(mesos::register_master(
            &hosts, path, thief_ip, "thief", 5050,
        ))
        .unwrap();
    let ip = net::alloc_ip();
    let mut t = tags("agent", &e.url);
    t.push(("mesos:zk-path", path));
    let agent = Node::new(ip, &t);
    let out = agent.run(&["--timeout", "12s", "--start-command", "true"]);
    let sent: Vec<_> = thief
        .requests()
        .into_iter()
        .filter_map(|r| r.authorization)
        .collect();
    assert!(
        sent.is_empty(),
        "the agent sent {sent:?} to the impostor\n{}",
        show(&out)
    );
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("ZooKeeper {path} is open to world:anyone")),
        "{}",
        show(&out)
    );

    // The masters' boot closes it and removes the three members no master made.
    let mut t = tags("master", &e.url);
    t.push(("mesos:masters", "1"));
    t.push(("mesos:zk-path", path));
    let out = Node::new(net::alloc_ip(), &t).run(&[
        "--no-wait",
        "--start-command",
        "true",
        "--timeout",
        "60s",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("removed a member no Mesos master made").count(),
        3,
        "{}",
        show(&out)
    );
    let master = credential(&e.url, "zk-mesos-master");
    let listed = block_on(async {
        let (client, _) = mesos::connect(&format!("{master}@{hosts}")).await.unwrap();
        let top = client.list_children(path).await.unwrap();
        let log = client
            .list_children(&format!("{path}/log_replicas"))
            .await
            .unwrap();
        (top, log)
    });
    assert_eq!(
        listed,
        (vec!["log_replicas".to_string()], vec![]),
        "{}",
        show(&out)
    );
    assert_eq!(zk_probe(&hosts, path, "-", "")["children"], "NoAuthError");
    drop((squatter, live));

    // The real master (on the masters' credential) leads; the agent follows it, not the thief.
    let m = net::alloc_ip();
    let real = MasterEmulator::start_on((m, 5050).into(), "1.11.0");
    real.accept(&credential(&e.url, "mesos-agent"));
    real.set_agents(vec![EmuAgent::new("S-1", "ip-1", &ip.to_string())]);
    let _leader = block_on(mesos::register_master(
        &format!("{master}@{hosts}"),
        path,
        m,
        "m",
        5050,
    ))
    .unwrap();
    let out = agent.run(&["--timeout", "60s", "--start-command", "true"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(agent.boot_record()["leader"]["ip"], m.to_string());
    assert!(thief.requests().iter().all(|r| r.authorization.is_none()));
}

/// Issue 13, item 4: the Exhibitor API only reads. Exhibitor's endpoints that change state
/// (config set, rolling set, restart, stop) are not served, nor is any other method on the
/// ones that read; asking changes nothing (the shared config stays at its version, ZooKeeper
/// keeps serving).
#[test]
fn the_exhibitor_api_changes_nothing_whatever_it_is_asked() {
    use mesos_boot_tests::http;
    let e = ensemble();
    let node = &e.nodes[1];
    let _serve = serve(
        node,
        &[
            "--reconcile-interval",
            "0s",
            "--backup-period",
            "0s",
            "--listen",
            &format!("{}:18080", node.ip),
        ],
    );
    let base = format!("http://{}:18080", node.ip);
    poll_until(Duration::from_secs(30), "serve answers", || {
        http::get(&format!("{base}/health"), &[])
            .ok()
            .filter(|r| r.status == 200)
    })
    .unwrap();
    let (bucket, key) = e.url["s3://".len()..].split_once('/').unwrap();
    let version = || block_on(Moto::shared().get_object(bucket, key)).unwrap().1;
    let before = version();
    let body = br#"{"serversSpec":"1:10.9.9.9","clientPort":"2181"}"#;
    for (method, path) in [
        ("POST", "/exhibitor/v1/config/set"),
        ("PUT", "/exhibitor/v1/config/set"),
        ("POST", "/exhibitor/v1/config/rolling-set"),
        ("GET", "/exhibitor/v1/control/restart"),
        ("GET", "/exhibitor/v1/control/stop"),
        ("GET", "/exhibitor/v1/cluster/restart/localhost"),
        ("GET", "/exhibitor/v1/cluster/stop/localhost"),
        ("POST", "/exhibitor/v1/cluster/list"),
        ("DELETE", "/exhibitor/v1/cluster/state"),
        ("PUT", "/exhibitor/v1/config/get-state"),
        ("POST", "/metrics"),
    ] {
        let r = http::request(
            method,
            &format!("{base}{path}"),
            &[("Content-Type", "application/json")],
            body,
        )
        .unwrap();
        assert!(
            r.status == 404 || r.status == 405,
            "{method} {path} answered {}: it must not exist",
            r.status
        );
    }
    assert_eq!(version(), before, "the shared config was not written");
    assert!(
        mesos_boot_tests::zk::mode(&node.client_addr()).is_some(),
        "ZooKeeper still serves"
    );
}

/// Issue 23, item 3: a master's boot waits for its own master, not for any master: until its
/// `/master/health` answers and its `/metrics/snapshot` says `registrar/log/recovered` is 1
/// (its replica caught up or, at the first formation, every replica answered). Another master
/// leading already, with two of the three replicas up, the boot keeps waiting and says why;
/// with the third it completes.
#[test]
fn a_master_is_ready_when_its_own_replicated_log_recovered_not_when_any_master_leads() {
    let e = ensemble();
    let url = own_shared_config(e);
    let path = "/mesos-ready";
    let ip = net::alloc_ip();
    let mut t = tags("master", &url);
    t.push(("mesos:masters", "3"));
    t.push(("mesos:zk-path", path));
    let node = Node::new(ip, &t);
    let log = node.root.join("boot.log");
    let mut boot = node
        .command(&["--start-command", "true", "--timeout", "120s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let env = "/etc/mesos-boot/mesos-master.env";
    // Mesos starts when systemd would start it: after the boot's start step (its znodes'
    // ACLs set by then).
    poll_until(Duration::from_secs(90), "the boot's start step", || {
        if let Some(status) = boot.try_wait().unwrap() {
            panic!(
                "the boot ended ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("step=\"start\"")
            .then_some(())
    })
    .unwrap();
    let other = |i: usize| {
        let extra = [("MESOS_IP", net::alloc_ip().to_string())];
        mesos_daemon_with(&node, "master", env, &extra, &format!("other-{i}"))
    };
    // Another master leads (it contends first), then this one starts.
    let mut daemons = vec![other(0)];
    let as_master = format!(
        "{}@{}",
        credential(&url, "zk-mesos-master"),
        e.connect_string()
    );
    let other_log = || std::fs::read_to_string(node.root.join("other-0.log")).unwrap_or_default();
    poll_until(LONG, "the other master leads", || {
        if let Some(status) = daemons[0].try_wait().unwrap() {
            panic!("the other master exited ({status}):\n{}", other_log());
        }
        block_on(async {
            let (c, _) = mesos::connect(&as_master).await.ok()?;
            let children = c.list_children(path).await.ok()?;
            children
                .iter()
                .any(|c| c.starts_with("json.info_"))
                .then_some(())
        })
    })
    .unwrap_or_else(|e| panic!("{e}\nthe other master's log:\n{}", other_log()));
    daemons.push(mesos_daemon(&node, "master", env));
    let said = |what: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(what)
    };
    poll_until(LONG, "the boot says why it waits", || {
        if let Some(status) = boot.try_wait().unwrap() {
            panic!(
                "the boot ended ({status}) while its master's log had not recovered:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        said("has not recovered yet (2 replicas seen").then_some(())
    })
    .unwrap();
    daemons.push(other(1));
    let status = poll_until(LONG, "the boot ends", || boot.try_wait().unwrap()).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("its replicated log recovered"), "{text}");
    let leader = node.boot_record()["leader"]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(leader, ip.to_string(), "the other master led first: {text}");
    for d in &mut daemons {
        mesos_boot_tests::proc::terminate_child(d, Duration::from_secs(2));
    }
}

/// Issue 23, item 3: once the masters' replicated log has formed, the first master whose
/// replica recovered records it beside the shared config (`<key>.mesos-registry`) and masters
/// render `MESOS_LOG_AUTO_INITIALIZE=false`: a master whose disk, like every other master's,
/// was lost never starts a new, empty registry (Mesos would, with every replica empty:
/// src/log/recover.cpp); its boot fails naming the record instead.
#[test]
fn once_the_registry_formed_an_empty_log_is_never_initialised_again() {
    let e = ensemble();
    let url = own_shared_config(e);
    let mut t = tags("master", &url);
    t.push(("mesos:masters", "1"));
    t.push(("mesos:zk-path", "/mesos-registry"));
    let env = "/etc/mesos-boot/mesos-master.env";
    let boot_with_mesos = |node: &Node, timeout: &str| {
        let mut boot = node.spawn(&["--start-command", "true", "--timeout", timeout]);
        poll_until(Duration::from_secs(60), "the master's environment", || {
            node.root.join(&env[1..]).exists().then_some(())
        })
        .unwrap();
        let mut daemon = mesos_daemon(node, "master", env);
        let status = poll_until(LONG, "the boot ends", || boot.try_wait().unwrap()).unwrap();
        mesos_boot_tests::proc::terminate_child(&mut daemon, Duration::from_secs(2));
        let out = boot.wait_with_output().unwrap();
        (status, out, node.file("/master.log"))
    };
    // The first master: the log forms (auto-initialised), and the boot records it.
    let first = Node::new(net::alloc_ip(), &t);
    let (status, out, _) = boot_with_mesos(&first, "120s");
    assert!(status.success(), "{}", show(&out));
    assert!(first
        .file(env)
        .contains("MESOS_LOG_AUTO_INITIALIZE=\"true\"\n"));
    let (bucket, key) = url["s3://".len()..].split_once('/').unwrap();
    let (record, _) = block_on(Moto::shared().get_object(bucket, &format!("{key}.mesos-registry")))
        .expect("the registry's record beside the shared config");
    let record = String::from_utf8(record).unwrap();
    assert!(
        record.starts_with("formed ") && record.contains("/mesos-registry"),
        "{record}"
    );
    // Every master lost: a new one, with an empty disk, is told not to initialise, and stays
    // empty; its boot fails (no quorum, exit 4) and says why.
    let second = Node::new(net::alloc_ip(), &t);
    let (status, out, mesos_log) = boot_with_mesos(&second, "15s");
    assert!(second
        .file(env)
        .contains("MESOS_LOG_AUTO_INITIALIZE=\"false\"\n"));
    assert_eq!(status.code(), Some(4), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has not recovered"), "{err}");
    assert!(
        err.contains(".mesos-registry"),
        "the failure names the record: {err}"
    );
    assert!(!mesos_log.contains("recovered"), "{mesos_log}");
    // The record is the first master's, unchanged.
    let (again, _) =
        block_on(Moto::shared().get_object(bucket, &format!("{key}.mesos-registry"))).unwrap();
    assert_eq!(String::from_utf8(again).unwrap(), record);
}
