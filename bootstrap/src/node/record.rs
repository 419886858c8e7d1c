//! The boot record, `var/lib/mesos-boot/boot.json`: what was discovered and from where,
//! what was written, how long each step took, and how the boot ended. `status` reads it.

use std::path::Path;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::node::paths::{self, under};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub ms: u64,
}

/// One ZooKeeper server as the record keeps it, for live checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnsembleMember {
    pub id: u32,
    pub addr: String,
    pub voter: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BootRecord {
    pub mesos_boot_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub role: Option<String>,
    pub cluster: Option<String>,
    pub identity: serde_json::Value,
    pub settings: serde_json::Value,
    pub shared_config: Option<serde_json::Value>,
    pub myid: Option<u32>,
    /// ZooKeeper: `formed` (new ensemble), `joined` (added by reconfig) or `member` (already one).
    pub membership: Option<String>,
    pub ensemble: Vec<EnsembleMember>,
    pub zk_path: Option<String>,
    /// `--templates DIR` of the boot (a rolling change renders with it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
    /// The backup this member's data was seeded from (after `mesos-boot restore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    pub files: serde_json::Value,
    pub start_command: Option<String>,
    pub leader: Option<serde_json::Value>,
    /// Agents: the id the leading master gave this agent (listed active in `/master/slaves`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    pub steps: Vec<Step>,
    /// The launch lifecycle hook's completion: `CONTINUE`, `ABANDON`, or what failed.
    pub lifecycle: Option<String>,
    /// `ready`, `rendered` (--no-start) or `failed`; `starting` while the run goes on after
    /// READY=1 (the role's service started, quorum and the hook not yet done).
    pub result: String,
    pub error: Option<String>,
    pub exit_code: i32,
}

/// Times the steps of one boot.
pub struct Recorder {
    pub record: BootRecord,
    step_started: Instant,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            record: BootRecord {
                mesos_boot_version: env!("CARGO_PKG_VERSION").into(),
                started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                ..Default::default()
            },
            step_started: Instant::now(),
        }
    }

    /// Closes the current step under `name` and logs its duration.
    pub fn step(&mut self, name: &str) {
        let ms = self.step_started.elapsed().as_millis() as u64;
        tracing::info!(step = name, ms, "step done");
        self.record.steps.push(Step {
            name: name.into(),
            ms,
        });
        self.step_started = Instant::now();
    }

    /// Writes the record atomically under `root`.
    pub fn save(&mut self, root: &Path) -> std::io::Result<()> {
        self.record.finished_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let text =
            serde_json::to_string_pretty(&self.record).map_err(std::io::Error::other)? + "\n";
        crate::fsutil::write_atomic(&under(root, paths::BOOT_RECORD), text.as_bytes(), 0o644)?;
        Ok(())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads the last record under `root`.
pub fn load(root: &Path) -> Result<BootRecord, String> {
    let path = under(root, paths::BOOT_RECORD);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
