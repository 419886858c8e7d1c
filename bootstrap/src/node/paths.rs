//! Where things are on a node (before `--root`), and the ports Mesos listens on.

use std::path::{Path, PathBuf};

pub const ZK_CONF_DIR: &str = "/etc/zookeeper/conf";
pub const ZOO_CFG: &str = "/etc/zookeeper/conf/zoo.cfg";
pub const ZOO_CFG_DYNAMIC: &str = "/etc/zookeeper/conf/zoo.cfg.dynamic";
pub const ZK_DATA_DIR: &str = "/var/lib/zookeeper";
pub const ZK_ENV: &str = "/etc/mesos-boot/zookeeper.env";
pub const MESOS_ZK: &str = "/etc/mesos/zk";
pub const MASTER_ENV: &str = "/etc/mesos-boot/mesos-master.env";
pub const MASTER_QUORUM: &str = "/etc/mesos-master/quorum";
pub const AGENT_ENV: &str = "/etc/mesos-boot/mesos-agent.env";
/// The masters' `--credentials` (every principal they accept).
pub const MASTER_CREDENTIALS: &str = "/etc/mesos-boot/mesos-credentials.json";
/// An agent's `--credential` (CRAM-MD5 registration).
pub const AGENT_CREDENTIAL: &str = "/etc/mesos-boot/mesos-agent-credential.json";
/// An agent's `--http_credentials` (its own operator endpoints).
pub const AGENT_HTTP_CREDENTIALS: &str = "/etc/mesos-boot/mesos-agent-http-credentials.json";
/// The key an agent signs its executors' tokens with (`--jwt_secret_key`), kept across boots.
pub const AGENT_EXECUTOR_KEY: &str = "/etc/mesos-boot/mesos-agent-executor.key";
/// The Mesos agent program (the image's package; `ExecStart=` of mesos-agent.service).
pub const MESOS_AGENT_PROGRAM: &str = "/usr/sbin/mesos-agent";
pub const MASTER_WORK_DIR: &str = "/var/lib/mesos/master";
pub const AGENT_WORK_DIR: &str = "/var/lib/mesos/agent";
pub const MESOS_LOG_DIR: &str = "/var/log/mesos";
pub const BOOT_RECORD: &str = "/var/lib/mesos-boot/boot.json";

pub const MASTER_PORT: u16 = 5050;
pub const AGENT_PORT: u16 = 5051;

/// `abs` under `root`, as a path.
pub fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// `abs` under `root`, as text for rendered files.
pub fn at(root: &Path, abs: &str) -> String {
    under(root, abs).display().to_string()
}

/// The user ZooKeeper runs as (Debian's package, `User=` of zookeeper.service).
pub const ZK_USER: &str = "zookeeper";
