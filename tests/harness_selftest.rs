//! Self-test of the integration-test harness: each piece is exercised with
//! real requests and processes, and its behaviour asserted.

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use mesos_boot_tests::http;
use mesos_boot_tests::imds::{ImdsEmulator, Instance, TOKEN_HEADER, TTL_HEADER};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::{bin, mesos, net, poll_until, proc, zk};

fn token(endpoint: &str) -> String {
    let r = http::put(
        &format!("{endpoint}/latest/api/token"),
        &[(TTL_HEADER, "60")],
    )
    .unwrap();
    assert_eq!(r.status, 200, "token PUT: {}", r.text());
    r.text()
}

fn md(endpoint: &str, tok: &str, path: &str) -> http::Response {
    http::get(&format!("{endpoint}{path}"), &[(TOKEN_HEADER, tok)]).unwrap()
}

#[test]
fn imds_token_flow_and_paths() {
    let ip = Ipv4Addr::new(127, 0, 0, 42);
    let inst = Instance::at(ip)
        .with_tag("mesos:cluster", "alpha")
        .with_tag("mesos:role", "zookeeper");
    let imds = ImdsEmulator::start(inst.clone());
    let ep = imds.endpoint();
    assert!(ep.starts_with("http://127.0.0.1:"), "{ep}");

    // No token: 401. Token PUT without / with bad TTL: 400.
    let r = http::get(&format!("{ep}/latest/meta-data/instance-id"), &[]).unwrap();
    assert_eq!(r.status, 401);
    let url = format!("{ep}/latest/api/token");
    assert_eq!(http::put(&url, &[]).unwrap().status, 400);
    for bad in ["0", "21601", "abc", "-1"] {
        assert_eq!(
            http::put(&url, &[(TTL_HEADER, bad)]).unwrap().status,
            400,
            "ttl {bad}"
        );
    }
    assert_eq!(http::get(&url, &[(TTL_HEADER, "60")]).unwrap().status, 405);
    assert_eq!(
        http::put(&url, &[(TTL_HEADER, "21600")]).unwrap().status,
        200
    );
    // Wrong token: 401.
    assert_eq!(
        md(&ep, "not-a-token", "/latest/meta-data/instance-id").status,
        401
    );

    let tok = token(&ep);
    assert!(tok.len() >= 40, "{tok}");
    assert_ne!(tok, token(&ep), "tokens must be random");
    let cases = [
        ("/latest/meta-data/instance-id", inst.instance_id.clone()),
        ("/latest/meta-data/local-ipv4", "127.0.0.42".to_string()),
        (
            "/latest/meta-data/local-hostname",
            "ip-127-0-0-42.ec2.internal".to_string(),
        ),
        (
            "/latest/meta-data/hostname",
            "ip-127-0-0-42.ec2.internal".to_string(),
        ),
        (
            "/latest/meta-data/placement/availability-zone",
            "us-east-1a".to_string(),
        ),
        (
            "/latest/meta-data/placement/region",
            "us-east-1".to_string(),
        ),
        ("/latest/meta-data/instance-type", "t3.medium".to_string()),
        (
            "/latest/meta-data/tags/instance",
            "mesos:cluster\nmesos:role".to_string(),
        ),
        (
            "/latest/meta-data/tags/instance/mesos:cluster",
            "alpha".to_string(),
        ),
        (
            "/latest/meta-data/tags/instance/mesos%3Arole",
            "zookeeper".to_string(),
        ),
    ];
    for (path, want) in &cases {
        let r = md(&ep, &tok, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(&r.text(), want, "{path}");
    }
    let r = md(&ep, &tok, "/latest/meta-data/tags/instance");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    for path in [
        "/latest/meta-data/tags/instance/nope",
        "/latest/meta-data/nope",
        "/latest/user-data",
        "/nope",
    ] {
        assert_eq!(md(&ep, &tok, path).status, 404, "{path}");
    }

    let doc: serde_json::Value =
        serde_json::from_slice(&md(&ep, &tok, "/latest/dynamic/instance-identity/document").body)
            .unwrap();
    assert_eq!(doc["instanceId"], inst.instance_id.as_str());
    assert_eq!(doc["region"], "us-east-1");
    assert_eq!(doc["availabilityZone"], "us-east-1a");
    assert_eq!(doc["instanceType"], "t3.medium");
    assert_eq!(doc["privateIp"], "127.0.0.42");

    // Changing data; user data.
    imds.set_instance(inst.clone().with_user_data("#!/bin/sh\necho hi\n"));
    assert_eq!(
        md(&ep, &tok, "/latest/user-data").text(),
        "#!/bin/sh\necho hi\n"
    );

    // Tags off: the tag tree is 404, the rest still answers.
    imds.set_tags_enabled(false);
    assert_eq!(md(&ep, &tok, "/latest/meta-data/tags/instance").status, 404);
    assert_eq!(
        md(&ep, &tok, "/latest/meta-data/tags/instance/mesos:cluster").status,
        404
    );
    assert_eq!(md(&ep, &tok, "/latest/meta-data/instance-id").status, 200);
    imds.set_tags_enabled(true);
    assert_eq!(md(&ep, &tok, "/latest/meta-data/tags/instance").status, 200);

    // Injected failures apply to everything, token PUT included.
    imds.set_fail(Some(503));
    assert_eq!(http::put(&url, &[(TTL_HEADER, "60")]).unwrap().status, 503);
    assert_eq!(md(&ep, &tok, "/latest/meta-data/instance-id").status, 503);
    imds.set_fail(None);
    assert_eq!(md(&ep, &tok, "/latest/meta-data/instance-id").status, 200);

    // Counters.
    let total = imds.requests();
    let token_puts = imds.requests_for("/latest/api/token");
    assert_eq!(token_puts, 10, "token requests");
    assert!(imds.requests_for("/latest/meta-data/tags/instance") >= 6);
    md(&ep, &tok, "/latest/meta-data/local-ipv4");
    assert_eq!(imds.requests(), total + 1);
    assert_eq!(imds.requests_for("/latest/api/token"), token_puts);

    // Stops on drop.
    let addr = imds.addr();
    drop(imds);
    // A child forked concurrently by another test holds a copy of the
    // listening socket until it execs: poll instead of checking once.
    poll_until(Duration::from_secs(10), "IMDS listener to close", || {
        std::net::TcpStream::connect(addr).is_err().then_some(())
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_usable_from_async_tests() {
    let imds = ImdsEmulator::start(Instance::at(Ipv4Addr::new(127, 0, 0, 43)));
    let ep = imds.endpoint();
    let body = tokio::task::spawn_blocking(move || {
        let tok = token(&ep);
        md(&ep, &tok, "/latest/meta-data/local-ipv4").text()
    })
    .await
    .unwrap();
    assert_eq!(body, "127.0.0.43");
    assert_eq!(imds.requests(), 2);
}

#[test]
fn net_allocation() {
    let ips = net::alloc_ips(5);
    let mut uniq = ips.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 5, "{ips:?}");
    for ip in &ips {
        assert!(ip.is_loopback() && u32::from(*ip) >= u32::from(Ipv4Addr::new(127, 0, 0, 11)));
        assert!(net::zk_ports_free(*ip));
        let port = net::free_port(*ip);
        TcpListener::bind((*ip, port)).expect("free_port gave a bindable port");
    }
    let more = net::alloc_ips(2);
    assert!(more.iter().all(|ip| !ips.contains(ip)));
    // An address with a ZooKeeper port taken is reported busy.
    let busy = more[0];
    let _l = TcpListener::bind((busy, 3888)).unwrap();
    assert!(!net::zk_ports_free(busy));
}

#[test]
fn bound_children_outlive_their_spawning_thread_and_are_terminated() {
    let mut child = std::thread::spawn(|| {
        let mut c = Command::new("sleep");
        c.arg("600");
        proc::spawn_bound(c).unwrap()
    })
    .join()
    .unwrap();
    // The spawning thread is gone; PDEATHSIG must not have fired.
    assert!(matches!(child.try_wait(), Ok(None)));
    let pid = child.id() as i32;
    assert!(proc::pid_alive(pid));
    proc::terminate_child(&mut child, Duration::from_secs(2));
    assert!(child.try_wait().unwrap().is_some());
}

const HELPER_ENV: &str = "HARNESS_SELFTEST_HELPER";

/// In the child test process `bound_children_die_with_test_process` starts (the same test,
/// with [`HELPER_ENV`] set): spawns a bound `sleep`, prints its pid and SIGKILLs its own
/// process. One test, not an ignored helper: CI fails on any skipped test.
#[allow(clippy::zombie_processes)] // the point: this process dies, not the child
fn spawn_then_die() -> ! {
    let mut c = Command::new("sleep");
    c.arg("600");
    let child = proc::spawn_bound(c).unwrap();
    println!("CHILD_PID={}", child.id());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL")
}

#[test]
fn bound_children_die_with_test_process() {
    if std::env::var_os(HELPER_ENV).is_some() {
        spawn_then_die();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "bound_children_die_with_test_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid: i32 = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD_PID=").map(|(_, p)| p))
        .unwrap_or_else(|| panic!("helper printed no pid: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    poll_until(Duration::from_secs(10), "orphaned child to die", || {
        (!proc::pid_alive(pid)).then_some(())
    })
    .unwrap();
}

#[test]
fn mesos_boot_binary_builds_and_runs() {
    let path = bin::mesos_boot_bin();
    assert!(path.is_file(), "{}", path.display());
    assert_eq!(bin::mesos_boot_bin(), path, "built once, same path");
    let st = Command::new(&path).arg("--help").output().unwrap();
    assert!(st.status.success(), "{} --help: {st:?}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_s3_and_ec2() {
    let moto = Moto::shared();
    assert!(std::ptr::eq(moto, Moto::shared()), "one server per process");
    let ep = moto.endpoint();
    assert!(ep.starts_with("http://127.0.0.1:"), "{ep}");
    let env = moto.env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("AWS_ENDPOINT_URL"), Some(ep.clone()));
    assert_eq!(get("AWS_ACCESS_KEY_ID").as_deref(), Some("testing"));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY").as_deref(), Some("testing"));
    assert_eq!(get("AWS_REGION").as_deref(), Some("us-east-1"));
    assert_eq!(get("AWS_EC2_METADATA_DISABLED"), None);

    // S3.
    let b1 = moto.unique_bucket("Exhibitor_Config").await;
    let b2 = moto.unique_bucket("Exhibitor_Config").await;
    assert_ne!(b1, b2);
    assert!(b1.starts_with("exhibitor-config-"), "{b1}");
    assert_eq!(moto.get_object(&b1, "shared.properties").await, None);
    let etag = moto
        .put_object(&b1, "shared.properties", b"servers-spec=1\\:a\n".to_vec())
        .await;
    assert!(!etag.is_empty());
    let (body, etag2) = moto.get_object(&b1, "shared.properties").await.unwrap();
    assert_eq!(body, b"servers-spec=1\\:a\n");
    assert_eq!(etag, etag2);
    assert_eq!(moto.get_object(&b2, "shared.properties").await, None);

    // EC2.
    let cluster = format!("selftest-{}", std::process::id());
    let (id1, ip1) = moto
        .run_instance(&[("mesos:cluster", &cluster), ("mesos:role", "zookeeper")])
        .await;
    assert!(id1.starts_with("i-"), "{id1}");
    assert!(!ip1.is_unspecified());
    let want_ip = net::alloc_ip();
    let (id2, ip2) = moto
        .run_instance_at(want_ip, &[("mesos:cluster", &cluster)])
        .await;
    assert_eq!(ip2, want_ip);
    let mut running = moto
        .running_instances_tagged("mesos:cluster", &cluster)
        .await;
    running.sort();
    let mut want = vec![id1.clone(), id2.clone()];
    want.sort();
    assert_eq!(running, want);
    let d = moto
        .ec2()
        .describe_instances()
        .instance_ids(&id1)
        .send()
        .await
        .unwrap();
    let tags = d.reservations()[0].instances()[0].tags();
    assert!(tags
        .iter()
        .any(|t| t.key() == Some("mesos:role") && t.value() == Some("zookeeper")));
    moto.terminate_instance(&id1).await;
    assert_eq!(
        moto.running_instances_tagged("mesos:cluster", &cluster)
            .await,
        vec![id2]
    );
}

/// S3's conditional writes are atomic: of concurrent `If-None-Match: *` creates (or `If-Match`
/// updates on one ETag) of a key, exactly one succeeds and the others get 412 (AWS S3 user
/// guide, "Conditional writes"). The formation of a new ensemble relies on it: two nodes that
/// both "created" the shared config would each wait on a spec that lost the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_conditional_writes_are_atomic() {
    let moto = Moto::shared();
    let bucket = moto.unique_bucket("conditional").await;
    let s3 = moto.s3();
    const WRITERS: usize = 8;
    for round in 0..25 {
        let key = format!("k{round}");
        // Creates.
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (s3, bucket, key) = (s3.clone(), bucket.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .if_none_match("*")
                    .body(format!("writer {w}").into_bytes().into())
                    .send()
                    .await
                    .map(|o| o.e_tag().unwrap_or_default().to_string())
            }));
        }
        let mut won = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(etag) => won.push(etag),
                Err(e) => {
                    let code = e.raw_response().map(|r| r.status().as_u16());
                    assert_eq!(code, Some(412), "round {round}: {e:?}");
                }
            }
        }
        assert_eq!(
            won.len(),
            1,
            "round {round}: {} creates succeeded",
            won.len()
        );
        // Updates on the one ETag.
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (s3, bucket, key, etag) = (s3.clone(), bucket.clone(), key.clone(), won[0].clone());
            tasks.push(tokio::spawn(async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .if_match(etag)
                    .body(format!("update {w}").into_bytes().into())
                    .send()
                    .await
                    .is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap() as usize;
        }
        assert_eq!(ok, 1, "round {round}: {ok} updates on one ETag succeeded");
    }
}

/// One 3-node ensemble: two members run by hand ([`zk::ZkProcess`]), one
/// through `zk-start.sh` under a [`zk::ZkNodeGuard`]; then the Mesos stand-in
/// registers in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_ensemble_and_mesos_registration() {
    let tmp = tempfile::tempdir().unwrap();
    let ips = net::alloc_ips(3);
    let servers: Vec<(u32, Ipv4Addr)> = (1..=3).zip(ips.iter().copied()).collect();

    let mut by_hand = Vec::new();
    for (id, _) in &servers[..2] {
        let dir = tmp.path().join(format!("zk{id}"));
        let cfg = zk::write_ensemble_config(&dir, *id, &servers).unwrap();
        by_hand.push(zk::ZkProcess::spawn(&cfg, &dir.join("zookeeper.out")).unwrap());
    }
    let root = tmp.path().join("node3");
    let guard = zk::ZkNodeGuard::new(&root);
    zk::write_ensemble_config(&root.join("etc/zookeeper/conf"), 3, &servers).unwrap();
    let script = zk::zk_start_script();
    let run_script = || {
        let out = Command::new(&script).arg(&root).output().unwrap();
        assert!(out.status.success(), "zk-start.sh: {out:?}");
    };
    run_script();
    let pid = guard
        .pid()
        .expect("zk-start.sh wrote the pid of a live JVM");
    run_script();
    assert_eq!(guard.pid(), Some(pid), "zk-start.sh is idempotent");
    // nohup and setsid exec into the JVM: the pid becomes java itself.
    poll_until(Duration::from_secs(10), "pid to become java", || {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .filter(|c| c.trim() == "java")
    })
    .unwrap();
    run_script();
    assert_eq!(guard.pid(), Some(pid), "zk-start.sh is idempotent");

    let addrs: Vec<String> = ips.iter().map(|ip| format!("{ip}:2181")).collect();
    let a2 = addrs.clone();
    let logs: Vec<_> = by_hand
        .iter()
        .map(|p| p.log_path().to_path_buf())
        .chain([guard.log_path()])
        .collect();
    let modes = tokio::task::spawn_blocking(move || {
        a2.iter()
            .zip(&logs)
            .map(|(a, log)| {
                zk::wait_serving(a, Duration::from_secs(120)).unwrap_or_else(|e| {
                    panic!("{e}\n--- {}:\n{}", log.display(), zk::log_tail(log, 40))
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let leaders = modes.iter().filter(|m| *m == "leader").count();
    let followers = modes.iter().filter(|m| *m == "follower").count();
    assert_eq!((leaders, followers), (1, 2), "{modes:?}");
    assert_eq!(
        zk::four_letter(&addrs[0], "ruok", Duration::from_secs(5)).unwrap(),
        "imok"
    );
    let conf = zk::four_letter(&addrs[2], "conf", Duration::from_secs(5)).unwrap();
    assert!(conf.contains("serverId=3"), "{conf}");
    assert_eq!(zk::mode(&addrs[1]).as_deref(), Some(modes[1].as_str()));

    // Mesos stand-in.
    let connect = addrs.join(",");
    let master_ip = Ipv4Addr::new(10, 0, 0, 5);
    let master = mesos::register_master(&connect, "/mesos", master_ip, "myhost", 5050)
        .await
        .unwrap();
    assert!(
        master.znode().starts_with("/mesos/json.info_"),
        "{}",
        master.znode()
    );
    let replica = mesos::register_log_replica(&connect, "/mesos", master_ip, 5050)
        .await
        .unwrap();
    assert!(replica.znode().starts_with("/mesos/log_replicas/"));

    let reader = zookeeper_client::Client::connect(&connect).await.unwrap();
    let (data, stat) = reader.get_data(master.znode()).await.unwrap();
    assert_ne!(stat.ephemeral_owner, 0, "json.info_ must be ephemeral");
    let info: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(info["address"]["hostname"], "myhost");
    assert_eq!(info["address"]["ip"], "10.0.0.5");
    assert_eq!(info["address"]["port"], 5050);
    assert_eq!(info["hostname"], "myhost");
    assert_eq!(info["ip"], 83886090u32); // 10.0.0.5 packed as Mesos does
    assert_eq!(info["pid"], "master@10.0.0.5:5050");
    assert_eq!(info["port"], 5050);
    assert_eq!(info["version"], "1.11.0");
    assert_eq!(info["id"].as_str().unwrap().len(), 36);
    assert_eq!(mesos::packed_ip(Ipv4Addr::LOCALHOST), 16777343);
    let mut children = reader.list_children("/mesos").await.unwrap();
    children.sort();
    assert_eq!(children.len(), 2, "{children:?}");
    assert!(children[0].starts_with("json.info_"));
    assert_eq!(children[1], "log_replicas");

    // The znode lives as long as the registration.
    master.close().await.unwrap();
    // The reader may be on another server: catch up with the leader before looking.
    reader.sync("/mesos").await.unwrap();
    let gone = reader.check_stat(&format!("/mesos/{}", &children[0])).await;
    assert!(matches!(gone, Ok(None)), "{gone:?}");
    drop(replica);
    let replicas_gone =
        mesos_boot_tests::poll_until_async(Duration::from_secs(20), "replica znode to go", || {
            let r = reader.clone();
            async move {
                r.list_children("/mesos/log_replicas")
                    .await
                    .ok()
                    .filter(|c| c.is_empty())
            }
        })
        .await;
    replicas_gone.unwrap();

    // Guards end what they own.
    drop(reader);
    drop(guard);
    assert!(!proc::pid_alive(pid), "ZkNodeGuard left pid {pid} running");
    let pids: Vec<u32> = by_hand.iter().map(|p| p.pid()).collect();
    drop(by_hand);
    for p in pids {
        assert!(!proc::pid_alive(p as i32), "ZkProcess left pid {p} running");
    }
    let start = Instant::now();
    assert!(zk::four_letter(&addrs[2], "ruok", Duration::from_secs(2)).is_err());
    assert!(start.elapsed() < Duration::from_secs(5));
}
