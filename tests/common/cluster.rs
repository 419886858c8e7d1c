//! Helpers for the membership scenarios: ZooKeeper nodes backed by moto instances at their
//! loopback addresses, concurrent boots with random delays, `mesos-boot serve` per node, a
//! client that writes and remembers every acknowledged write, and views of servers-spec and of
//! ZooKeeper's own membership.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::{block_on, net, poll_until, proc, zk};
use rand::Rng;

/// One at a time: each test runs 3 to 5 JVMs on a 2-core machine.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn empty_bucket_url() -> String {
    let bucket = block_on(Moto::shared().unique_bucket("member"));
    format!("s3://{bucket}/{KEY}")
}

/// Writes the object at `url` (unconditionally, as an operator would).
pub fn put_object(url: &str, text: &str) {
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    block_on(Moto::shared().put_object(bucket, key, text.as_bytes().to_vec()));
}

pub fn object(url: &str) -> String {
    try_object(url).expect("object written")
}

/// The object at `url`, if there is one.
pub fn try_object(url: &str) -> Option<String> {
    let (bucket, key) = url.trim_start_matches("s3://").split_once('/').unwrap();
    let (bytes, _) = block_on(Moto::shared().get_object(bucket, key))?;
    Some(String::from_utf8(bytes).unwrap())
}

/// `(id, host)` of servers-spec.
pub fn servers_spec(url: &str) -> Vec<(u32, String)> {
    spec_of(&object(url))
}

/// `(id, host)` of the servers-spec in a shared config's text, sorted.
pub fn spec_of(text: &str) -> Vec<(u32, String)> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("com.netflix.exhibitor.servers-spec="))
        .unwrap_or("")
        .replace("\\:", ":"); // Java's Properties.store escapes `:` in values
    let mut out: Vec<(u32, String)> = line
        .split(',')
        .filter(|i| !i.is_empty())
        .map(|i| {
            let (id, host) = i.split_once(':').unwrap();
            (id.parse().unwrap(), host.to_string())
        })
        .collect();
    out.sort();
    out
}

/// `(id, host)` of the voting members as ZooKeeper at `addr` reports them (`conf`).
pub fn live_voters(addr: &str) -> Option<BTreeSet<(u32, String)>> {
    let conf = zk::four_letter(addr, "conf", Duration::from_secs(2)).ok()?;
    let voters: BTreeSet<(u32, String)> = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server."))
        .filter_map(|rest| {
            let (id, spec) = rest.split_once('=')?;
            let server = spec.split(';').next()?;
            server.ends_with(":participant").then(|| {
                (
                    id.parse().unwrap(),
                    server.split(':').next().unwrap().to_string(),
                )
            })
        })
        .collect();
    (!voters.is_empty()).then_some(voters)
}

/// A ZooKeeper node backed by a real moto instance at its loopback address.
pub fn zk_node(url: &str, size: &str, extra: &[(&str, &str)]) -> (Node, String) {
    let ip = net::alloc_ips(1)[0];
    let mut t = tags("zookeeper", url);
    t.push(("mesos:ensemble-size", size));
    t.extend_from_slice(extra);
    let (id, _) = block_on(Moto::shared().run_instance_at(ip, &t));
    (Node::zookeeper(ip, &t).with_instance_id(&id), id)
}

pub fn boot_all(nodes: &[&Node], max_delay_ms: u64) -> Vec<(Output, Duration)> {
    boot_all_with(nodes, max_delay_ms, &["--timeout", "120s"])
}

/// Boots `nodes` at once (each after a random delay up to `max_delay_ms`) with `args`.
pub fn boot_all_with(nodes: &[&Node], max_delay_ms: u64, args: &[&str]) -> Vec<(Output, Duration)> {
    let handles: Vec<_> = nodes
        .iter()
        .map(|n| {
            let mut cmd = n.command(args);
            let delay = Duration::from_millis(rand::rng().random_range(0..=max_delay_ms));
            std::thread::spawn(move || {
                // The random start delay under test, not a synchronisation.
                std::thread::sleep(delay);
                let started = Instant::now();
                let out = cmd
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .output()
                    .unwrap();
                (out, started.elapsed())
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

pub fn assert_booted(nodes: &[&Node], outs: &[(Output, Duration)]) {
    for (n, (out, _)) in nodes.iter().zip(outs) {
        assert!(
            out.status.success(),
            "{} failed: {}\n--- zookeeper log\n{}",
            n.ip,
            show(out),
            zk::log_tail(&n.zk.as_ref().unwrap().log_path(), 40)
        );
    }
}

/// `mesos-boot serve` on a node, killed when dropped; its log is kept in a file.
pub struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    pub fn start(node: &Node) -> Serve {
        Serve::start_with(node, &[])
    }

    /// `serve` with extra environment (e.g. `AWS_ENDPOINT_URL` through a fault proxy).
    pub fn start_with(node: &Node, env: &[(&str, &str)]) -> Serve {
        let log = node.root.join("serve.log");
        let listen = format!("{}:8080", node.ip);
        let mut cmd = node.command(&[
            "serve",
            "--listen",
            &listen,
            "--reconcile-interval",
            "1s",
            "--grace",
            "2s",
            "--stop-command",
            "kill $(cat \"$MESOS_BOOT_ROOT/run/zookeeper.pid\")",
        ]);
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = proc::spawn_bound(cmd).expect("spawn mesos-boot serve");
        Serve { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        proc::terminate_child(&mut self.child, Duration::from_secs(2));
    }
}

/// A client that writes `/writer/<n>` as fast as it can through `hosts`, and remembers every
/// write ZooKeeper acknowledged (and when). It behaves as a careful application does: a write
/// that was not acknowledged is retried, a missing `/writer` is created again, and a session
/// that ended (expired, or no host answered) is replaced by a new one.
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<(u64, Instant)>>>,
    last_error: Arc<Mutex<Option<String>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Starts writing, and returns once the first write is acknowledged, so that whatever the
    /// test does next happens under writes.
    pub fn start(hosts: String) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let last_error = Arc::new(Mutex::new(None));
        let (flag, log, error) = (stop.clone(), acked.clone(), last_error.clone());
        let handle = std::thread::spawn(move || {
            block_on(write_until(hosts, flag, log, error));
        });
        let writer = Writer {
            stop,
            acked,
            last_error,
            handle: Some(handle),
        };
        poll_until(Duration::from_secs(60), "the writer's first write", || {
            (!writer.acked.lock().unwrap().is_empty()).then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}; last error: {:?}", writer.last_error.lock().unwrap()));
        writer
    }

    /// The writes acknowledged so far.
    pub fn acked(&self) -> Vec<(u64, Instant)> {
        self.acked.lock().unwrap().clone()
    }

    pub fn finish(mut self) -> Vec<(u64, Instant)> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().unwrap();
        self.acked()
    }
}

/// The writer's loop: write `/writer/<n>` until `stop`, pushing each acknowledged `n` to `log`.
async fn write_until(
    hosts: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<(u64, Instant)>>>,
    last_error: Arc<Mutex<Option<String>>>,
) {
    use zookeeper_client::{Acls, Client, CreateMode, Error};
    let opts = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let note = |e: String| *last_error.lock().unwrap() = Some(e);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let client = match Client::connector()
            .with_session_timeout(Duration::from_secs(20))
            .connect(&hosts)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                note(format!("connect {hosts}: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            match client
                .create(&format!("/writer/{n:08}"), n.to_string().as_bytes(), &opts)
                .await
            {
                Ok(_) | Err(Error::NodeExists) => {
                    log.lock().unwrap().push((n, Instant::now()));
                    n += 1;
                }
                Err(Error::NoNode) => match client.create("/writer", b"", &opts).await {
                    Ok(_) | Err(Error::NodeExists) => {}
                    Err(e) => note(format!("create /writer: {e}")),
                },
                // The session is over: a new one retries the same write.
                Err(
                    e @ (Error::SessionExpired
                    | Error::NoHosts
                    | Error::ClientClosed
                    | Error::AuthFailed),
                ) => {
                    note(format!("write {n}: {e}; a new session"));
                    break;
                }
                // Not acknowledged: retry the same write (it may have landed).
                Err(e) => {
                    note(format!("write {n}: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// The acknowledged writes of `acked` that `/writer` at `hosts` does not hold.
pub fn lost_writes(acked: &[(u64, Instant)], hosts: &str) -> Vec<u64> {
    let stored = children(hosts, "/writer");
    acked
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !stored.contains(n))
        .collect()
}

pub fn children(hosts: &str, path: &str) -> BTreeSet<u64> {
    try_children(hosts, path).unwrap_or_else(|e| panic!("{e}"))
}

/// [`children`], with a lost connection or session (a member restarting) as an error to
/// retry instead of a panic.
pub fn try_children(hosts: &str, path: &str) -> Result<BTreeSet<u64>, String> {
    block_on(async {
        let c = zookeeper_client::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(hosts)
            .await
            .map_err(|e| format!("connect {hosts}: {e}"))?;
        c.sync(path)
            .await
            .map_err(|e| format!("sync {path}: {e}"))?;
        match c.list_children(path).await {
            Ok(names) => Ok(names.into_iter().map(|s| s.parse().unwrap()).collect()),
            // The writer has not created its parent yet.
            Err(zookeeper_client::Error::NoNode) => Ok(BTreeSet::new()),
            Err(e) => Err(format!("list {path}: {e}")),
        }
    })
}

pub fn pid(node: &Node) -> i32 {
    node.zk.as_ref().unwrap().pid().expect("zookeeper pid")
}
