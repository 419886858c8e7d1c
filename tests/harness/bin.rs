//! The `mesos-boot` binary under test.
//!
//! [`mesos_boot_bin`] builds it once per test process with the same cargo
//! and profile as the tests (`$CARGO build -p mesos-boot --quiet`, adding
//! `--release` when the tests are built without debug assertions) and returns
//! its path. `MESOS_BOOT_BIN` overrides this with a prebuilt binary.
//! The target directory is `$CARGO_TARGET_DIR` (relative paths are taken from
//! the workspace root), else `<workspace>/target`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::workspace_root;

/// Env var naming a prebuilt `mesos-boot` binary to use instead of building.
pub const BIN_ENV: &str = "MESOS_BOOT_BIN";

/// The cargo target directory the harness builds into.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Path of the `mesos-boot` binary, built on first call (panics with cargo's
/// output if the build fails).
pub fn mesos_boot_bin() -> PathBuf {
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
                "mesos-boot",
                "--bin",
                "mesos-boot",
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
            "building mesos-boot failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target
            .join(if release { "release" } else { "debug" })
            .join("mesos-boot");
        assert!(bin.is_file(), "cargo built no {}", bin.display());
        bin
    })
    .clone()
}
