//! Figures of `mesos-scale --once` (run by `bench/scale.sh`, which builds the static release
//! binary and points `MESOS_SCALE_BIN` at it): peak RSS and wall time of one evaluation
//! against the Mesos master emulator (1,000 agents, 4,000 tasks) and moto (a group of 100
//! instances, which are 100 of the agents), in dry-run and for real.
//! Goal: peak RSS well inside a 128 MB Lambda.

use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mesos_boot_tests::asg;
use mesos_boot_tests::mesos_master::{EmuAgent, MasterEmulator};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::scale::mesos_scale_bin;

const AGENTS: usize = 1000;
const INSTANCES: i32 = 100;

/// Runs the binary; returns (exit code, peak RSS in KiB, seconds).
fn measure(cmd: &mut Command) -> (i32, i64, f64) {
    let t = Instant::now();
    let child = cmd.process_group(0).spawn().expect("spawn mesos-scale");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain FFI call on our own child; `usage` is a valid, zeroed out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let secs = t.elapsed().as_secs_f64();
    std::mem::forget(child);
    (libc::WEXITSTATUS(status), usage.ru_maxrss, secs)
}

fn main() {
    let moto = Moto::shared();
    let bin = mesos_scale_bin();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let group = rt.block_on(asg::create_group(moto, "bench", INSTANCES, 1, 2000));
    let g = rt.block_on(asg::group(moto, &group));
    let master = MasterEmulator::start("1.11.0");
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let (ip, host) = match g.instances.get(i) {
            Some(inst) => (inst.ip.clone(), inst.hostname.clone()),
            None => (
                format!("127.65.{}.{}", i / 250, i % 250 + 1),
                format!("other-{i}"),
            ),
        };
        let mut a = EmuAgent::new(&format!("S{i}"), &host, &ip);
        if i % 5 != 0 {
            a.load(4, 0.5);
        }
        agents.push(a);
    }
    master.set_agents(agents);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let state_bytes = mesos_boot_tests::http::get(&format!("{}/master/state", master.url()), &[])
        .expect("state")
        .body
        .len();
    for (label, dry) in [("dry run", true), ("real", false)] {
        let mut cmd = Command::new(&bin);
        cmd.env_clear()
            .envs(moto.env())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("LOG_FORMAT", "json")
            .args(["--once", "--asg", &group, "--master", &master.url()])
            .arg("--now")
            .arg(now.to_string())
            .stderr(std::process::Stdio::null());
        if dry {
            cmd.arg("--dry-run");
        }
        let (code, rss_kib, secs) = measure(&mut cmd);
        assert_eq!(code, 0, "mesos-scale --once ({label}) failed");
        println!(
            "mesos-scale --once ({label}): {AGENTS} agents (/master/state {:.1} MB), {INSTANCES} instances: peak RSS {:.1} MB, {:.2} s (goal: well below 128 MB)",
            state_bytes as f64 / 1e6,
            rss_kib as f64 / 1024.0,
            secs
        );
    }
}
