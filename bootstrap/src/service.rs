//! Service control: runs the role's start command (`systemctl start <unit>` by default, or
//! `--start-command` through `sh -c`), which must return once the service is launched.

use std::path::Path;
use std::process::Stdio;

use crate::failure::{Failure, Result};
use crate::settings::Role;

/// Starts the role's service and returns the command that ran.
pub async fn start(role: Role, command: Option<&str>, root: &Path) -> Result<String> {
    let default = format!("systemctl start {}", role.unit());
    let command = command.unwrap_or(&default).to_string();
    tracing::info!(command, "starting {}", role.unit());
    // The command's output goes to our stderr: stdout is reserved for --dry-run and status.
    let stderr_out = std::os::fd::AsFd::as_fd(&std::io::stderr())
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null());
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("MESOS_BOOT_ROLE", role.to_string())
        .env("MESOS_BOOT_ROOT", root)
        .stdin(Stdio::null())
        .stdout(stderr_out)
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| Failure::internal(format!("start command `{command}`: {e}")))?;
    if !status.success() {
        return Err(Failure::internal(format!(
            "start command `{command}` failed: {status}"
        )));
    }
    Ok(command)
}
