//! The data that flows one way through an evaluation: [`crate::gather`] builds a [`Snapshot`],
//! [`crate::decide`] turns it (with the [`State`] persisted by the previous evaluation) into a
//! decision, [`crate::act`] carries the decision out.
//!
//! Also the formats of what survives between invocations (a Lambda keeps nothing): the
//! [`State`] in the Auto Scaling group's tag [`STATE_TAG`], and per instance the tags
//! [`IDLE_TAG`] and [`DRAIN_TAG`].

use std::collections::BTreeMap;
use std::fmt;

/// ASG tag holding [`State`] (not propagated to instances).
pub const STATE_TAG: &str = "mesos-scale:state";
/// Instance tag: epoch second since which the agent has been idle (or the instance unregistered).
pub const IDLE_TAG: &str = "mesos-scale:idle-since";
/// Instance tag: the drain in progress, see [`DrainTag`].
pub const DRAIN_TAG: &str = "mesos-scale:drain";

/// The leading master's cluster-wide figures (from `/metrics/snapshot`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub cpus_total: f64,
    pub cpus_used: f64,
    pub mem_total: f64,
    pub mem_used: f64,
    pub gpus_total: f64,
    pub gpus_used: f64,
    pub tasks_staging: u64,
}

/// Drain state the master reports for an agent (`drain_info.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentDrain {
    Draining,
    Drained,
}

/// One agent of `/master/state`.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub hostname: String,
    /// From the agent's `pid` (`slave(1)@10.0.0.5:5051`).
    pub ip: Option<String>,
    /// Tasks on the agent that are not terminal (staging, starting, running, killing, ...).
    pub tasks: u32,
    pub used_cpus: f64,
    pub used_mem: f64,
    pub used_gpus: f64,
    pub active: bool,
    pub drain: Option<AgentDrain>,
}

impl Agent {
    /// No task and nothing used.
    pub fn idle(&self) -> bool {
        self.tasks == 0 && self.used_cpus <= 0.0 && self.used_mem <= 0.0 && self.used_gpus <= 0.0
    }
}

/// `/master/state`, reduced to what the autoscaler needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterState {
    /// Mesos version of the master (`1.11.0`).
    pub version: String,
    pub agents: Vec<Agent>,
}

/// How a drain was started; picks how it is watched and cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainMethod {
    /// v1 operator API `DRAIN_AGENT` with `mark_gone` (Mesos 1.9+).
    DrainAgent,
    /// Maintenance schedule, then `machine/down`; `machine/up` after termination.
    Maintenance,
}

impl DrainMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DrainMethod::DrainAgent => "drain-agent",
            DrainMethod::Maintenance => "maintenance",
        }
    }
}

/// A Mesos machine id: what the agent announces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Machine {
    pub hostname: String,
    pub ip: String,
}

/// Value of [`DRAIN_TAG`]: `<method> <since> <agent-id> <hostname> <ip>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainTag {
    pub method: DrainMethod,
    pub since: u64,
    pub agent_id: String,
    pub machine: Machine,
}

impl fmt::Display for DrainTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.method.as_str(),
            self.since,
            self.agent_id,
            self.machine.hostname,
            self.machine.ip
        )
    }
}

impl DrainTag {
    /// Parses a tag value; `None` when it is not one of ours (it is then ignored and replaced).
    pub fn parse(s: &str) -> Option<DrainTag> {
        let mut it = s.split(' ');
        let method = match it.next()? {
            "drain-agent" => DrainMethod::DrainAgent,
            "maintenance" => DrainMethod::Maintenance,
            _ => return None,
        };
        let since = it.next()?.parse().ok()?;
        let agent_id = it.next()?.to_string();
        let hostname = it.next()?.to_string();
        let ip = it.next()?.to_string();
        if it.next().is_some() {
            return None;
        }
        Some(DrainTag {
            method,
            since,
            agent_id,
            machine: Machine { hostname, ip },
        })
    }
}

/// One instance of the agent Auto Scaling group.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: String,
    pub az: String,
    /// ASG lifecycle state (`InService`, `Pending`, `Terminating`, ...).
    pub lifecycle: String,
    pub healthy: bool,
    pub ip: Option<String>,
    /// Private DNS name (`ip-10-0-0-5.ec2.internal`).
    pub hostname: Option<String>,
    /// Launch time, epoch seconds.
    pub launched_at: Option<u64>,
    /// [`IDLE_TAG`].
    pub idle_since: Option<u64>,
    /// [`DRAIN_TAG`].
    pub drain: Option<DrainTag>,
}

impl Instance {
    pub fn in_service(&self) -> bool {
        self.lifecycle == "InService"
    }
}

/// An instance and the agent running on it, if it registered.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub instance: Instance,
    pub agent: Option<Agent>,
}

/// The agent Auto Scaling group's sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct Asg {
    pub name: String,
    pub desired: u32,
    pub min: u32,
    pub max: u32,
}

/// Everything one evaluation knows. Built only when every source answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Epoch seconds of the evaluation.
    pub now: u64,
    pub master_version: String,
    pub metrics: Metrics,
    pub asg: Asg,
    pub nodes: Vec<Node>,
    /// Agents of the master that match no instance of the group.
    pub unmatched_agents: usize,
    /// Machines the master reports down (`/master/maintenance/status`); read only when a
    /// maintenance drain is in progress or [`Snapshot::released`] is not empty.
    pub down_machines: Vec<Machine>,
    /// Machines scheduled for maintenance but not down (same source and condition).
    pub draining_machines: Vec<Machine>,
    /// Machines of instances terminated after a maintenance drain (EC2 keeps terminated
    /// instances and their tags for a while): any still down or scheduled is released.
    pub released: Vec<Machine>,
}

/// What one evaluation leaves to the next, in [`STATE_TAG`]:
/// `out=<epoch> in=<epoch> loss=<epoch> stg=<n> agents=<n>` (absent keys are unset).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct State {
    /// Last scale-out (SetDesiredCapacity up).
    pub last_scale_out: Option<u64>,
    /// Last scale-in decision (drains started or instances terminated).
    pub last_scale_in: Option<u64>,
    /// Last time the group lost an agent the autoscaler did not remove.
    pub last_loss: Option<u64>,
    /// Consecutive evaluations that saw staging tasks.
    pub staging_streak: u32,
    /// Registered agents (not drained by us) seen by the last evaluation.
    pub agents: Option<u32>,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(v) = self.last_scale_out {
            parts.push(format!("out={v}"));
        }
        if let Some(v) = self.last_scale_in {
            parts.push(format!("in={v}"));
        }
        if let Some(v) = self.last_loss {
            parts.push(format!("loss={v}"));
        }
        parts.push(format!("stg={}", self.staging_streak));
        if let Some(v) = self.agents {
            parts.push(format!("agents={v}"));
        }
        f.write_str(&parts.join(" "))
    }
}

impl State {
    /// Parses [`STATE_TAG`]'s value. Unknown keys are ignored; a malformed number is an error
    /// naming the tag.
    pub fn parse(s: &str) -> Result<State, String> {
        let mut kv = BTreeMap::new();
        for part in s.split_whitespace() {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("tag {STATE_TAG}: `{part}` is not key=value"))?;
            let n: u64 = v
                .parse()
                .map_err(|_| format!("tag {STATE_TAG}: `{part}`: not a number"))?;
            kv.insert(k, n);
        }
        Ok(State {
            last_scale_out: kv.get("out").copied(),
            last_scale_in: kv.get("in").copied(),
            last_loss: kv.get("loss").copied(),
            staging_streak: kv.get("stg").copied().unwrap_or(0) as u32,
            agents: kv.get("agents").map(|&n| n as u32),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let s = State {
            last_scale_out: Some(100),
            last_scale_in: None,
            last_loss: Some(7),
            staging_streak: 2,
            agents: Some(12),
        };
        assert_eq!(s.to_string(), "out=100 loss=7 stg=2 agents=12");
        assert_eq!(State::parse(&s.to_string()).unwrap(), s);
        assert_eq!(State::parse("").unwrap(), State::default());
        let e = State::parse("out=soon").unwrap_err();
        assert!(e.contains(STATE_TAG), "{e}");
    }

    #[test]
    fn drain_tag_round_trips() {
        let t = DrainTag {
            method: DrainMethod::Maintenance,
            since: 1700000000,
            agent_id: "5e1f-S3".into(),
            machine: Machine {
                hostname: "ip-10-0-0-5.ec2.internal".into(),
                ip: "10.0.0.5".into(),
            },
        };
        assert_eq!(DrainTag::parse(&t.to_string()), Some(t));
        assert_eq!(DrainTag::parse("maintenance soon x y z"), None);
        assert_eq!(DrainTag::parse("other 1 a b c"), None);
    }
}
