//! The cgroup hierarchy this node booted, which decides what a Mesos 1.11 agent can enforce.
//! Mesos 1.11 knows cgroup v1 only (its `cgroups2` isolators came later): on v1 (the legacy
//! hierarchy, `systemd.unified_cgroup_hierarchy=0`, as the image boots) an agent runs the linux
//! launcher with the `cgroups/cpu` and `cgroups/mem` isolators, which hold every task to its
//! cpu shares and memory limit, and the docker containerizer may run; on v2 (Debian 12's
//! default) the linux launcher and those isolators stop the agent at start, so the posix ones
//! run: they measure usage and enforce nothing, and docker is refused.

use std::path::Path;

use super::paths::under;

/// The hierarchy at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cgroups {
    /// The unified hierarchy (or none that Mesos 1.11 can use).
    #[default]
    V2,
    /// The legacy hierarchy: a mount per controller (`memory`, `cpu`).
    V1,
}

impl Cgroups {
    /// From `<root>/sys/fs/cgroup`: v1 when the memory and cpu controllers are mounted there
    /// as directories of their own (`cpu` may be the link to `cpu,cpuacct`).
    pub fn detect(root: &Path) -> Cgroups {
        let base = under(root, "/sys/fs/cgroup");
        if base.join("memory").is_dir() && base.join("cpu").is_dir() {
            Cgroups::V1
        } else {
            Cgroups::V2
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cgroups::V1 => "v1",
            Cgroups::V2 => "v2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_controller_per_directory_is_v1_anything_else_v2() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Cgroups::detect(dir.path()), Cgroups::V2);
        let base = dir.path().join("sys/fs/cgroup");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(Cgroups::detect(dir.path()), Cgroups::V2);
        std::fs::create_dir_all(base.join("memory")).unwrap();
        std::fs::create_dir_all(base.join("cpu,cpuacct")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", base.join("cpu")).unwrap();
        assert_eq!(Cgroups::detect(dir.path()), Cgroups::V1);
    }
}
