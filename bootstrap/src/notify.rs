//! Telling systemd (`Type=notify` units: `mesos-boot@`) what the process is doing, by
//! `sd_notify`'s datagram to `$NOTIFY_SOCKET`: `READY=1` once the configuration is rendered,
//! and `STATUS=` lines (`systemctl status` shows the last one) while the boot waits. A no-op
//! when not run by systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The longest `STATUS=` text sent (systemd keeps the line whole; a status is one glance).
const MAX_STATUS: usize = 240;

/// Sends `message` (`KEY=value` lines) to `$NOTIFY_SOCKET`; `Ok(false)` when not under systemd.
pub fn send(message: &str) -> std::io::Result<bool> {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = socket.to_string_lossy().into_owned();
    let addr = match socket.strip_prefix('@') {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None => SocketAddr::from_pathname(&socket)?,
    };
    UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), &addr)?;
    Ok(true)
}

/// `STATUS=<text>` (one line, at most [`MAX_STATUS`] characters). Failures are not the
/// caller's concern: a status is advice.
pub fn status(text: &str) {
    let mut line: String = text.replace('\n', " ").chars().take(MAX_STATUS).collect();
    if text.chars().count() > MAX_STATUS {
        line.push('…');
    }
    if let Err(e) = send(&format!("STATUS={line}\n")) {
        tracing::debug!(error = %e, "could not send systemd a status");
    }
}

/// Serialises the tests that set `NOTIFY_SOCKET` (one process environment).
#[cfg(test)]
pub static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    #[test]
    fn a_long_status_is_one_short_line() {
        let _env = super::ENV.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // SAFETY: the tests that touch NOTIFY_SOCKET hold ENV.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        super::status(&format!("waiting\nfor {}", "x".repeat(500)));
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        let mut buf = [0u8; 1024];
        let n = listener.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(got.starts_with("STATUS=waiting for xxx"), "{got}");
        assert_eq!(got.matches('\n').count(), 1, "{got}");
        assert!(got.chars().count() <= super::MAX_STATUS + 10, "{got}");
    }
}
