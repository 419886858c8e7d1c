//! Real ZooKeeper processes (Debian's `zookeeper` 3.8 package) and the
//! four-letter-word probes used to check them.
//!
//! Two ways to run a server:
//! * through mesos-boot: [`zk_start_script`] is the committed
//!   `tests/harness/zk-start.sh`, usable as `--start-command` (`zk-start.sh
//!   ROOT` starts a detached `QuorumPeerMain` on `ROOT/etc/zookeeper/conf/zoo.cfg`
//!   and writes `ROOT/run/zookeeper.pid`); a [`ZkNodeGuard`] per node root
//!   kills that JVM when the test ends;
//! * by hand: [`ZkProcess::spawn`] runs `QuorumPeerMain` as a direct child
//!   (config written e.g. by [`write_ensemble_config`]), killed on drop and
//!   with the test process.
//!
//! Environment: `JAVA` (default `/usr/bin/java`), `ZK_CLASSPATH` (default
//! `/etc/zookeeper/conf:/usr/share/java/zookeeper.jar` plus the log4j slf4j
//! binding when installed), `JVMFLAGS` (extra JVM flags, space-separated).

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proc;

/// ZooKeeper's main class.
pub const MAIN_CLASS: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

/// JVM flags for a small, fast-starting server on a 2-core box.
pub const JVM_FLAGS: [&str; 5] = [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xshare:auto",
    "-Dzookeeper.root.logger=INFO,CONSOLE",
];

/// The java executable (`$JAVA`, default `/usr/bin/java`).
pub fn java() -> PathBuf {
    std::env::var_os("JAVA")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/java"))
}

/// The ZooKeeper classpath (`$ZK_CLASSPATH`, else Debian's plus log4j).
pub fn classpath() -> String {
    if let Some(cp) = std::env::var("ZK_CLASSPATH").ok().filter(|s| !s.is_empty()) {
        return cp;
    }
    let mut cp = String::from("/etc/zookeeper/conf:/usr/share/java/zookeeper.jar");
    for jar in [
        "/usr/share/java/slf4j-log4j12.jar",
        "/usr/share/java/log4j-1.2.jar",
    ] {
        if Path::new(jar).is_file() {
            cp.push(':');
            cp.push_str(jar);
        }
    }
    cp
}

/// A loopback address, or any address from a network namespace of the test's own (as
/// [`crate::http`] allows: tests/image.rs).
fn resolve(addr: &str) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?
        .find(|a| a.ip().is_loopback() || crate::http::in_own_netns())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("refusing non-loopback ZooKeeper address {addr}"),
            )
        })
}

/// Sends a four-letter word (`srvr`, `conf`, `ruok`, `mntr`...) to `addr`
/// (`ip:port`) and returns the whole answer.
pub fn four_letter(addr: &str, cmd: &str, timeout: Duration) -> io::Result<String> {
    let sock = resolve(addr)?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The `Mode:` line of `srvr` (`leader`, `follower`, `standalone`...), or
/// `None` when the server is unreachable or not serving.
pub fn mode(addr: &str) -> Option<String> {
    let out = four_letter(addr, "srvr", Duration::from_secs(2)).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix("Mode:"))
        .map(|m| m.trim().to_string())
}

/// Polls `srvr` on `addr` until it reports `Mode: leader|follower|standalone`
/// and returns that mode, or fails after `timeout` with the last answer.
pub fn wait_serving(addr: &str, timeout: Duration) -> io::Result<String> {
    let deadline = Instant::now() + timeout;
    let mut last: String;
    loop {
        match four_letter(addr, "srvr", Duration::from_secs(2)) {
            Ok(out) => {
                if let Some(m) = out
                    .lines()
                    .find_map(|l| l.strip_prefix("Mode:"))
                    .map(|m| m.trim().to_string())
                    .filter(|m| matches!(m.as_str(), "leader" | "follower" | "standalone"))
                {
                    return Ok(m);
                }
                last = out;
            }
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("ZooKeeper at {addr} not serving after {timeout:?}; last srvr: {last}"),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The committed `tests/harness/zk-start.sh` (made executable if the
/// checkout lost the mode bit).
pub fn zk_start_script() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("harness/zk-start.sh");
    let meta = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if meta.permissions().mode() & 0o111 != 0o111 {
        let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
    }
    p
}

/// Last `n` lines of a text file (for failure messages); empty if unreadable.
pub fn log_tail(path: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Kills, on drop, the ZooKeeper started for a node root by `zk-start.sh`
/// (the pid in `ROOT/run/zookeeper.pid`): SIGTERM, then SIGKILL after 3 s.
/// Create one per node root before starting anything there. The pid is
/// only killed if its command line mentions ROOT (guards against pid reuse).
#[derive(Debug)]
pub struct ZkNodeGuard {
    root: PathBuf,
}

impl ZkNodeGuard {
    /// Guards the node rooted at `root` (also killed by the `atexit` hook).
    pub fn new(root: impl Into<PathBuf>) -> ZkNodeGuard {
        let g = ZkNodeGuard { root: root.into() };
        proc::register_pidfile(&g.pidfile(), &g.marker());
        g
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `ROOT/run/zookeeper.pid`.
    pub fn pidfile(&self) -> PathBuf {
        self.root.join("run/zookeeper.pid")
    }

    /// `ROOT/var/log/zookeeper/zookeeper.out`.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("var/log/zookeeper/zookeeper.out")
    }

    /// `ROOT/etc/zookeeper/conf/zoo.cfg`.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("etc/zookeeper/conf/zoo.cfg")
    }

    fn marker(&self) -> String {
        self.config_path().to_string_lossy().into_owned()
    }

    /// The live ZooKeeper JVM of this root, if any.
    pub fn pid(&self) -> Option<i32> {
        proc::read_pidfile(&self.pidfile()).filter(|pid| {
            proc::pid_alive(*pid) && proc::cmdline(*pid).is_some_and(|c| c.contains(&self.marker()))
        })
    }

    /// Kills the JVM now (same as drop). Returns whether it is gone.
    pub fn kill(&self) -> bool {
        match self.pid() {
            Some(pid) => proc::terminate_pid(pid, Duration::from_secs(3)),
            None => true,
        }
    }
}

impl Drop for ZkNodeGuard {
    fn drop(&mut self) {
        self.kill();
        proc::unregister_pidfile(&self.pidfile());
    }
}

/// A `QuorumPeerMain` run as a direct child of the test process; killed on
/// drop and when the test process dies.
#[derive(Debug)]
pub struct ZkProcess {
    child: Child,
    log_path: PathBuf,
}

impl ZkProcess {
    /// Starts ZooKeeper on `cfg_path`, stdout and stderr appended to `log_path`
    /// (its directory is also `zookeeper.log.dir`).
    pub fn spawn(cfg_path: &Path, log_path: &Path) -> io::Result<ZkProcess> {
        let log_dir = log_path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(log_dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)?;
        let mut cmd = Command::new(java());
        cmd.arg("-cp")
            .arg(classpath())
            .arg(format!("-Dzookeeper.log.dir={}", log_dir.display()))
            .args(JVM_FLAGS);
        if let Ok(extra) = std::env::var("JVMFLAGS") {
            cmd.args(extra.split_whitespace());
        }
        cmd.arg(MAIN_CLASS)
            .arg(cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = proc::spawn_bound(cmd)?;
        Ok(ZkProcess {
            child,
            log_path: log_path.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Whether the JVM is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, SIGKILL after 3 s, reap.
    pub fn kill(&mut self) {
        proc::terminate_child(&mut self.child, Duration::from_secs(3));
    }
}

impl Drop for ZkProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a minimal ZooKeeper 3.8 ensemble member configuration into `dir`:
/// `zoo.cfg` (no standalone, admin server off, 4lw `srvr,conf,ruok,mntr`,
/// reconfig on), `zoo.cfg.dynamic` with
/// `server.N=ip:2888:3888:participant;ip:2181` for each `(N, ip)` in
/// `servers`, and `data/myid`. Returns the `zoo.cfg` path.
pub fn write_ensemble_config(
    dir: &Path,
    myid: u32,
    servers: &[(u32, Ipv4Addr)],
) -> io::Result<PathBuf> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    std::fs::write(data.join("myid"), format!("{myid}\n"))?;
    let dynamic = dir.join("zoo.cfg.dynamic");
    let mut dyn_cfg = String::new();
    for (id, ip) in servers {
        let _ = writeln!(dyn_cfg, "server.{id}={ip}:2888:3888:participant;{ip}:2181");
    }
    std::fs::write(&dynamic, dyn_cfg)?;
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             standaloneEnabled=false\n\
             reconfigEnabled=true\n\
             admin.enableServer=false\n\
             4lw.commands.whitelist=srvr,conf,ruok,mntr\n\
             dynamicConfigFile={}\n",
            data.display(),
            dynamic.display()
        ),
    )?;
    Ok(cfg)
}
