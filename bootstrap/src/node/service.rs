//! Service control: runs the role's start command (`systemctl start <unit>` by default, or
//! `--start-command` through `sh -c`), which must return once the service is launched.

use std::path::Path;
use std::process::Stdio;

use crate::config::settings::Role;
use crate::failure::{Failure, Result};

/// Starts the role's service and returns the command that ran.
pub async fn start(role: Role, command: Option<&str>, root: &Path) -> Result<String> {
    let default = format!("systemctl start {}", role.unit());
    let command = command.unwrap_or(&default).to_string();
    tracing::info!(command, "starting {}", role.unit());
    sh(&command, root, Some(role))
        .await
        .map_err(|e| Failure::internal(format!("start command {e}")))?;
    Ok(command)
}

/// Runs `command` with `sh -c`, `MESOS_BOOT_ROOT` (and `MESOS_BOOT_ROLE` when given) set, its
/// output on our stderr (stdout is reserved for --dry-run and status). The error names the
/// command: "`<command>`: <why>" or "`<command>` failed: <status>".
pub async fn sh(command: &str, root: &Path, role: Option<Role>) -> std::result::Result<(), String> {
    let stderr_out = std::os::fd::AsFd::as_fd(&std::io::stderr())
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c").arg(command).env("MESOS_BOOT_ROOT", root);
    if let Some(role) = role {
        cmd.env("MESOS_BOOT_ROLE", role.to_string());
    }
    let status = cmd
        .stdin(Stdio::null())
        .stdout(stderr_out)
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| format!("`{command}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{command}` failed: {status}"))
    }
}

/// Tells systemd (`Type=notify`) that the configuration is rendered, so the role's service,
/// ordered after mesos-boot's unit, may start. A no-op when not run by systemd.
pub fn notify_ready() {
    match crate::notify::send("READY=1\nSTATUS=configuration rendered; starting the service\n") {
        Ok(true) => tracing::info!("told systemd READY=1"),
        Ok(false) => {}
        // The run goes on: systemd's own start timeout reports a missing READY.
        Err(e) => tracing::warn!(error = %e, "could not notify systemd"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn notify_ready_reaches_the_socket() {
        let _env = crate::notify::ENV.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // SAFETY: the tests that touch NOTIFY_SOCKET hold crate::notify::ENV.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        super::notify_ready();
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("READY=1\n"));
    }
}
