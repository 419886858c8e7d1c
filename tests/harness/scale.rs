//! The `mesos-scale` binary under test.
//!
//! [`mesos_scale_bin`] builds it once per test process the way [`crate::bin`] builds
//! mesos-boot (same cargo, profile and target directory); `MESOS_SCALE_BIN` overrides it with
//! a prebuilt binary. [`run_once`] runs `mesos-scale --once` against moto with a clean
//! environment (no inherited policy or `DRY_RUN` variables) and parses its JSON log lines.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::bin::target_dir;
use crate::moto::Moto;
use crate::workspace_root;

/// Env var naming a prebuilt `mesos-scale` binary to use instead of building.
pub const BIN_ENV: &str = "MESOS_SCALE_BIN";

/// Path of the `mesos-scale` binary, built on first call.
pub fn mesos_scale_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os(BIN_ENV).filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            assert!(p.is_file(), "{BIN_ENV}={} is not a file", p.display());
            return p;
        }
        let release = !cfg!(debug_assertions);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = target_dir();
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace_root())
            .args([
                "build",
                "-p",
                "mesos-scale",
                "--bin",
                "mesos-scale",
                "--quiet",
            ])
            .arg("--target-dir")
            .arg(&target);
        if release {
            cmd.arg("--release");
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
        assert!(
            out.status.success(),
            "building mesos-scale failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target
            .join(if release { "release" } else { "debug" })
            .join("mesos-scale");
        assert!(bin.is_file(), "cargo built no {}", bin.display());
        bin
    })
    .clone()
}

/// What one run printed and returned.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stderr: String,
    /// The JSON log lines.
    pub lines: Vec<serde_json::Value>,
}

impl Run {
    /// The `decision` log line.
    pub fn decision(&self) -> Option<&serde_json::Value> {
        self.lines.iter().find(|l| l["message"] == "decision")
    }

    /// The rule of the decision line (`""` when there is none).
    pub fn rule(&self) -> String {
        self.decision()
            .and_then(|d| d["rule"].as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Runs `mesos-scale --once --asg GROUP SOURCE... --now NOW ARGS...` with moto's environment
/// plus `env`; JSON logs. `source` names the master: `["--master", url]` or `["--zk", url]`.
pub async fn run_once(
    moto: &Moto,
    group: &str,
    source: &[&str],
    now: u64,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = tokio::process::Command::new(mesos_scale_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(moto.env())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LOG_FORMAT", "json")
        .args(["--once", "--asg", group])
        .args(source)
        .arg("--now")
        .arg(now.to_string())
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run mesos-scale: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Run {
        code: out.status.code(),
        stderr,
        lines,
    }
}
