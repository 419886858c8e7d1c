//! Atomic file writes: a temp file in the same directory, fsync, mode, rename, fsync of the
//! directory. A crash leaves either the old file or the new one, never half of one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically with `mode`. Returns whether the content changed
/// (an identical file is left alone, so re-runs do not touch mtimes).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    if let Ok(existing) = std::fs::read(path) {
        if existing == bytes {
            let perms = std::fs::metadata(path)?.permissions();
            if perms.mode() & 0o7777 != mode {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            }
            return Ok(false);
        }
    }
    let dir = path.parent().ok_or_else(|| {
        std::io::Error::other(format!("{} has no parent directory", path.display()))
    })?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".mesos-boot.")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(true)
}

/// Creates directory `path` (and its parents) when missing, with `mode` for the directory
/// itself. An existing directory keeps its mode. Returns whether it was created.
pub fn ensure_dir(path: &Path, mode: u32) -> std::io::Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(true)
}

/// Gives `path` (not what is inside it) to `user` and that user's primary group. Needs root:
/// when mesos-boot does not run as root (a developer's `--root` run), nothing can be given and
/// nothing is done. A missing user is an error: the image lacks the package that runs as it.
pub fn give_to(path: &Path, user: &str) -> std::io::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let found = nix::unistd::User::from_name(user).map_err(std::io::Error::from)?;
    let user =
        found.ok_or_else(|| std::io::Error::other(format!("no user `{user}` on this system")))?;
    std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_reports_change() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/file");
        assert!(write_atomic(&p, b"one", 0o600).unwrap());
        assert!(!write_atomic(&p, b"one", 0o600).unwrap());
        assert!(write_atomic(&p, b"two", 0o644).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }
}
