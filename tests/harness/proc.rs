//! Process lifetime plumbing: child processes that must not outlive the test
//! process, and killing processes found through pid files.
//!
//! * [`spawn_bound`] starts a child with `PR_SET_PDEATHSIG=SIGKILL` in its own
//!   process group. The spawn happens on a dedicated thread that lives as long
//!   as the process, because Linux delivers the parent-death signal when the
//!   *thread* that forked exits (a test thread, a tokio blocking thread...).
//! * Children and pid files handed to [`register_pid`] / [`register_pidfile`]
//!   are also killed by an `atexit` hook when the test binary exits normally
//!   (which covers failed tests: the libtest harness calls `exit`).
//! * [`terminate_pid`] / [`terminate_child`]: SIGTERM, then SIGKILL after a
//!   grace period, polling with deadlines.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

enum Target {
    /// A child process group leader started by [`spawn_bound`].
    Group(i32),
    /// A pid file; the pid is killed only if its command line contains the marker.
    PidFile(PathBuf, String),
}

static REGISTRY: Mutex<Vec<Target>> = Mutex::new(Vec::new());
static ATEXIT: Once = Once::new();

extern "C" fn kill_registered_at_exit() {
    // try_lock: never block inside exit().
    let Ok(reg) = REGISTRY.try_lock() else { return };
    for t in reg.iter() {
        match t {
            Target::Group(pid) => unsafe {
                libc::kill(-*pid, libc::SIGKILL);
                libc::kill(*pid, libc::SIGKILL);
            },
            Target::PidFile(path, marker) => {
                if let Some(pid) = read_pidfile(path) {
                    if cmdline_contains(pid, marker) {
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                    }
                }
            }
        }
    }
}

fn ensure_atexit() {
    ATEXIT.call_once(|| unsafe {
        libc::atexit(kill_registered_at_exit);
    });
}

/// Kill the process group led by `pid` (and `pid` itself) when the test
/// process exits, unless [`unregister_pid`] is called first.
pub fn register_pid(pid: u32) {
    ensure_atexit();
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Target::Group(pid as i32));
}

/// Undo [`register_pid`].
pub fn unregister_pid(pid: u32) {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|t| !matches!(t, Target::Group(p) if *p == pid as i32));
}

/// At process exit, kill the pid written in `pidfile` if its command line
/// contains `marker` (guards against pid reuse).
pub fn register_pidfile(pidfile: &Path, marker: &str) {
    ensure_atexit();
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Target::PidFile(pidfile.to_path_buf(), marker.to_string()));
}

/// Undo [`register_pidfile`].
pub fn unregister_pidfile(pidfile: &Path) {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|t| !matches!(t, Target::PidFile(p, _) if p == pidfile));
}

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("harness-spawner".into())
            .spawn(move || {
                // Lives until the process exits: the sender sits in a static.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start harness spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` so that it dies with the test process: `PR_SET_PDEATHSIG`
/// (SIGKILL) set from a thread that never exits, its own process group, and
/// registration with the `atexit` killer. The caller owns the [`Child`] and
/// should end it with [`terminate_child`].
pub fn spawn_bound(mut cmd: Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    cmd.process_group(0);
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent died between fork and prctl: the signal was missed.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("harness spawner thread is gone"))?;
    let child = reply_rx
        .recv()
        .map_err(|_| io::Error::other("harness spawner thread dropped the request"))??;
    register_pid(child.id());
    Ok(child)
}

/// Ends a child started by [`spawn_bound`]: SIGTERM to its process group,
/// SIGKILL after `grace`, then reaps it.
pub fn terminate_child(child: &mut Child, grace: Duration) {
    let pid = child.id() as libc::pid_t;
    if matches!(child.try_wait(), Ok(None)) {
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    // Leftovers of the group (none expected), then forget it.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
    unregister_pid(pid as u32);
}

/// Reads a pid file holding one decimal pid.
pub fn read_pidfile(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

/// Whether `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    if unsafe { libc::kill(pid, 0) } != 0 {
        // ESRCH: gone. EPERM: exists but not ours; count as alive.
        return io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // State is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// The NUL-separated command line of `pid`, joined with spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn cmdline_contains(pid: i32, marker: &str) -> bool {
    cmdline(pid).is_some_and(|c| c.contains(marker))
}

/// SIGTERM `pid`, SIGKILL it if still alive after `grace`, and wait (up to
/// 10 s more) for it to vanish. Returns whether it is gone. `pid` need not be
/// a child of this process.
pub fn terminate_pid(pid: i32, grace: Duration) -> bool {
    if pid <= 0 || !pid_alive(pid) {
        return true;
    }
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let wait_gone = |limit: Duration| {
        let deadline = Instant::now() + limit;
        while pid_alive(pid) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    };
    if wait_gone(grace) {
        return true;
    }
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    wait_gone(Duration::from_secs(10))
}
