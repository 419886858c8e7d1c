//! Files root writes, safely: atomic writes (a temp file in the same directory, fsync, mode,
//! owner, rename, fsync of the directory; a crash leaves either the old file or the new one,
//! never half of one) and directories created with their owner, all by descriptor. mesos-boot
//! runs as root and writes inside directories the zookeeper user owns (its data directory,
//! `/etc/zookeeper/conf`), so nothing here acts on a path by name after it opened it: a
//! directory is walked one component at a time with `O_NOFOLLOW`, a symlink followed only where
//! root alone could have put it, and mode and owner are set on the open descriptor (`fchmod`,
//! `fchown`) before the rename, never by path after it. A directory that exists is never given
//! away: only one mesos-boot creates.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};

/// Who owns what root writes for a less privileged user: its uid and primary group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
    name: &'static str,
}

impl Owner {
    /// `user` and its primary group, when mesos-boot runs as root; `None` otherwise (a
    /// developer's `--root` run: nothing can be given). A missing user is an error: the image
    /// lacks the package that runs as it.
    pub fn of(user: &'static str) -> std::io::Result<Option<Owner>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let found = nix::unistd::User::from_name(user).map_err(std::io::Error::from)?;
        let u = found
            .ok_or_else(|| std::io::Error::other(format!("no user `{user}` on this system")))?;
        Ok(Some(Owner {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            name: user,
        }))
    }

    fn give(&self, fd: impl AsFd) -> std::io::Result<()> {
        fchown(
            fd,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
        )
        .map_err(Into::into)
    }
}

const DIR: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// The file type bits of `st` (`S_IFREG`, `S_IFLNK`, ...).
fn kind(st: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// `path` made absolute, with `.` and `..` resolved by name (the walk below then meets no
/// `..`: a `..` after a symlink would leave the place root checked).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// Whether a symlink inside the directory `dir` can be trusted: only root could have put it
/// there (the directory is root's and no group or other user may write it), as Debian's
/// `/etc/alternatives` links are.
fn trusted(dir: impl AsFd) -> std::io::Result<bool> {
    let st = fstat(dir)?;
    Ok(st.st_uid == 0 && st.st_mode & 0o022 == 0)
}

/// Opens the directory `path` by descriptor, one component at a time from `/` with
/// `O_NOFOLLOW`; a symlink is followed only where [`trusted`]. With `create`, missing
/// directories are made (root's, 0755), as `create_dir_all` would.
pub fn open_dir(path: &Path, create: bool) -> std::io::Result<OwnedFd> {
    walk(path, create, 0)
}

/// [`open_dir`], `hops` symlinks followed so far.
fn walk(path: &Path, create: bool, hops: usize) -> std::io::Result<OwnedFd> {
    let mut todo: Vec<OsString> = absolute(path)?
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .rev()
        .collect();
    let mut fd = openat(nix::fcntl::AT_FDCWD, "/", DIR, Mode::empty())?;
    let mut at = PathBuf::from("/");
    while let Some(name) = todo.pop() {
        match openat(&fd, name.as_os_str(), DIR, Mode::empty()) {
            Ok(next) => {
                fd = next;
                at.push(&name);
            }
            Err(Errno::ENOENT) if create => {
                match mkdirat(&fd, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => todo.push(name),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                let here = at.join(&name);
                let st = fstatat(&fd, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
                if kind(&st) != SFlag::S_IFLNK {
                    return Err(std::io::Error::other(format!(
                        "{}: not a directory",
                        here.display()
                    )));
                }
                if !trusted(&fd)? {
                    return Err(std::io::Error::other(format!(
                        "{}: a symlink in a directory another user can write; not followed",
                        here.display()
                    )));
                }
                if hops >= 40 {
                    return Err(Errno::ELOOP.into());
                }
                // Resolved from the (symlink-free) place it sits in, then walked again.
                let target = PathBuf::from(readlinkat(&fd, name.as_os_str())?);
                let rest: PathBuf = todo.iter().rev().collect();
                let again = absolute(&at.join(target).join(rest))?;
                return walk(&again, create, hops + 1);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(fd)
}

fn split(path: &Path) -> std::io::Result<(PathBuf, OsString)> {
    let path = absolute(path)?;
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.to_os_string())),
        _ => Err(std::io::Error::other(format!(
            "{} has no parent directory",
            path.display()
        ))),
    }
}

/// Writes `bytes` to `path` atomically with `mode`, root's. See [`write_atomic_as`].
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<bool> {
    write_atomic_as(path, bytes, mode, None)
}

/// Writes `bytes` to `path` atomically with `mode` and `owner` (root when `None`), both set on
/// the temp file's descriptor before the rename. Returns whether the content changed (an
/// identical file is left alone, so re-runs do not touch mtimes; its mode and owner are set
/// on its descriptor, opened without following a symlink). A symlink or anything else in
/// the file's place is replaced, never followed.
pub fn write_atomic_as(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<Owner>,
) -> std::io::Result<bool> {
    let (dir, name) = split(path)?;
    let dir = open_dir(&dir, true)?;
    let mode_bits = Mode::from_bits_truncate(mode);
    let existing = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    if let Ok(fd) = openat(&dir, name.as_os_str(), existing, Mode::empty()) {
        let st = fstat(&fd)?;
        if kind(&st) == SFlag::S_IFREG {
            let mut file = std::fs::File::from(fd);
            let mut have = Vec::new();
            file.read_to_end(&mut have)?;
            if have == bytes {
                if st.st_mode & 0o7777 != mode {
                    fchmod(&file, mode_bits)?;
                }
                if let Some(o) = owner.filter(|o| (o.uid, o.gid) != (st.st_uid, st.st_gid)) {
                    o.give(&file)?;
                }
                return Ok(false);
            }
        }
    }
    let tmp = format!(".mesos-boot.{:016x}", rand::random::<u64>());
    let create =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(&dir, tmp.as_str(), create, Mode::from_bits_truncate(0o600))?;
    let mut file = std::fs::File::from(fd);
    let written = (|| {
        file.write_all(bytes)?;
        fchmod(&file, mode_bits)?;
        if let Some(o) = owner {
            o.give(&file)?;
        }
        file.sync_all()?;
        renameat(&dir, tmp.as_str(), &dir, name.as_os_str())?;
        Ok::<_, std::io::Error>(())
    })();
    if let Err(e) = written {
        let _ = unlinkat(&dir, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(e);
    }
    nix::unistd::fsync(&dir)?;
    Ok(true)
}

/// Creates directory `path` (and root's parents) when missing, root's. See [`ensure_dir_as`].
pub fn ensure_dir(path: &Path, mode: u32) -> std::io::Result<bool> {
    ensure_dir_as(path, mode, None)
}

/// Creates directory `path` when missing (its parents root's, 0755), with `mode` and `owner`
/// set on its descriptor. An existing directory keeps its mode and its owner: one that is not
/// `owner`'s is an error naming it, since only a directory mesos-boot created is given away
/// (a data directory set to `/etc` must never make it the zookeeper user's). Returns whether it
/// was created.
pub fn ensure_dir_as(path: &Path, mode: u32, owner: Option<Owner>) -> std::io::Result<bool> {
    match open_dir(path, false) {
        Ok(fd) => {
            let st = fstat(&fd)?;
            match owner {
                Some(o) if (o.uid, o.gid) != (st.st_uid, st.st_gid) => {
                    Err(std::io::Error::other(format!(
                    "{} exists and is not {}'s (uid {}, gid {}): mesos-boot gives away only the \
                     directories it creates; `chown {}: {}` it, or choose another",
                    path.display(),
                    o.name,
                    st.st_uid,
                    st.st_gid,
                    o.name,
                    path.display()
                )))
                }
                _ => Ok(false),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (dir, name) = split(path)?;
            let dir = open_dir(&dir, true)?;
            match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o700)) {
                Ok(()) => {}
                // Made meanwhile: it exists, and is treated as such.
                Err(Errno::EEXIST) => return ensure_dir_as(path, mode, owner),
                Err(e) => return Err(e.into()),
            }
            let fd = openat(&dir, name.as_os_str(), DIR, Mode::empty())?;
            fchmod(&fd, Mode::from_bits_truncate(mode))?;
            if let Some(o) = owner {
                o.give(&fd)?;
            }
            nix::unistd::fsync(&dir)?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// The less privileged user of these tests; they run as root, as CI and the nodes do.
    fn nobody() -> Owner {
        assert!(
            nix::unistd::geteuid().is_root(),
            "runs as root, as CI and the nodes do"
        );
        Owner::of("nobody").unwrap().unwrap()
    }

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

    /// Issue 25, item 3. As root (as CI and every node run): a directory the zookeeper user
    /// owns (here: nobody's) holds a symlink it put in place of a file or directory root writes;
    /// root replaces the file and refuses the directory, and what the links point to stays
    /// root's and unchanged.
    #[test]
    fn root_never_follows_a_symlink_a_less_privileged_user_put_in_its_way() {
        let nobody = nobody();
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("shadow"), b"secret").unwrap();
        let theirs = t.path().join("data");
        ensure_dir_as(&theirs, 0o750, Some(nobody)).unwrap();
        assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), nobody.uid);
        std::os::unix::fs::symlink(&victim, theirs.join("version-2")).unwrap();
        std::os::unix::fs::symlink(victim.join("shadow"), theirs.join("zoo.cfg")).unwrap();

        let e = ensure_dir_as(&theirs.join("version-2"), 0o750, Some(nobody)).unwrap_err();
        assert!(e.to_string().contains("not followed"), "{e}");
        let e = write_atomic_as(
            &theirs.join("version-2/snapshot.1"),
            b"x",
            0o600,
            Some(nobody),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not followed"), "{e}");
        assert!(write_atomic_as(
            &theirs.join("zoo.cfg"),
            b"tickTime=2000\n",
            0o600,
            Some(nobody)
        )
        .unwrap());
        let cfg = std::fs::symlink_metadata(theirs.join("zoo.cfg")).unwrap();
        assert!(
            cfg.file_type().is_file(),
            "the link is replaced, not followed"
        );
        assert_eq!((cfg.uid(), cfg.mode() & 0o777), (nobody.uid, 0o600));
        let v = std::fs::metadata(&victim).unwrap();
        assert_eq!(v.uid(), 0);
        assert!(!victim.join("snapshot.1").exists());
        let s = std::fs::metadata(victim.join("shadow")).unwrap();
        assert_eq!(s.uid(), 0);
        assert_eq!(std::fs::read(victim.join("shadow")).unwrap(), b"secret");
    }

    /// An existing directory is never given away; one mesos-boot made is; a symlink that only
    /// root could have made (a root-only directory) is followed, as Debian's alternatives are.
    #[test]
    fn only_created_directories_are_given_and_root_placed_links_are_followed() {
        let nobody = nobody();
        let t = tempfile::tempdir().unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let etc = t.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let e = ensure_dir_as(&etc, 0o750, Some(nobody)).unwrap_err();
        assert!(
            e.to_string()
                .contains("gives away only the directories it creates"),
            "{e}"
        );
        assert_eq!(std::fs::metadata(&etc).unwrap().uid(), 0);
        // A root-placed link to a directory of its own.
        let real = t.path().join("conf_example");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink("conf_example", t.path().join("conf")).unwrap();
        assert!(write_atomic(&t.path().join("conf/zoo.cfg"), b"a", 0o644).unwrap());
        assert_eq!(std::fs::read(real.join("zoo.cfg")).unwrap(), b"a");
        assert!(ensure_dir_as(&t.path().join("conf/sub"), 0o750, Some(nobody)).unwrap());
        assert_eq!(
            std::fs::metadata(real.join("sub")).unwrap().uid(),
            nobody.uid
        );
        assert!(!ensure_dir_as(&t.path().join("conf/sub"), 0o750, Some(nobody)).unwrap());
    }
}
