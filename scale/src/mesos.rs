//! Mesos' documented JSON, parsed: `/metrics/snapshot` into [`Metrics`], `/master/state` into
//! [`MasterState`], a `json.info_*` znode (MasterInfo) into a master URL. Pure functions; the
//! errors name the source (URL or znode) and the field.

use std::collections::HashMap;

use serde::Deserialize;

use crate::model::{Agent, AgentDrain, MasterState, Metrics};

/// Bad JSON from a master or ZooKeeper.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{source_name}: not the expected JSON: {error}")]
    Json {
        source_name: String,
        error: serde_json::Error,
    },
    #[error("{source_name}: {what}")]
    Field { source_name: String, what: String },
    #[error("{source_name}: this master is not the leader (master/elected = {elected})")]
    NotLeader { source_name: String, elected: f64 },
}

/// Metric names read from `/metrics/snapshot`: the required ones, then the optional ones.
const REQUIRED: [&str; 6] = [
    "master/elected",
    "master/cpus_total",
    "master/cpus_used",
    "master/mem_total",
    "master/mem_used",
    "master/tasks_staging",
];

/// Parses `/metrics/snapshot` of the leading master. Every required metric must be a finite,
/// non-negative number, and `master/elected` must be 1.
pub fn parse_metrics(source_name: &str, body: &[u8]) -> Result<Metrics, ParseError> {
    let map: HashMap<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|error| ParseError::Json {
            source_name: source_name.into(),
            error,
        })?;
    let get = |name: &str, required: bool| -> Result<f64, ParseError> {
        let bad = |what: String| ParseError::Field {
            source_name: source_name.into(),
            what,
        };
        match map.get(name) {
            None if required => Err(bad(format!("metric {name} is missing"))),
            None => Ok(0.0),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => Err(bad(format!(
                    "metric {name} = {v} is not a non-negative number"
                ))),
            },
        }
    };
    for name in REQUIRED {
        get(name, true)?;
    }
    let elected = get("master/elected", true)?;
    if elected != 1.0 {
        return Err(ParseError::NotLeader {
            source_name: source_name.into(),
            elected,
        });
    }
    let m = Metrics {
        cpus_total: get("master/cpus_total", true)?,
        cpus_used: get("master/cpus_used", true)?,
        mem_total: get("master/mem_total", true)?,
        mem_used: get("master/mem_used", true)?,
        gpus_total: get("master/gpus_total", false)?,
        gpus_used: get("master/gpus_used", false)?,
        tasks_staging: get("master/tasks_staging", true)? as u64,
    };
    for (used, total, what) in [
        (m.cpus_used, m.cpus_total, "cpus"),
        (m.mem_used, m.mem_total, "mem"),
        (m.gpus_used, m.gpus_total, "gpus"),
    ] {
        // A little slack for floating-point sums on the master's side.
        if used > total * 1.0001 + 1e-6 {
            return Err(ParseError::Field {
                source_name: source_name.into(),
                what: format!("master/{what}_used ({used}) exceeds master/{what}_total ({total})"),
            });
        }
    }
    Ok(m)
}

#[derive(Deserialize)]
struct RawState {
    version: String,
    slaves: Vec<RawAgent>,
    /// Agents the registry knows that have not re-registered since the leader was elected
    /// (`SlaveInfo` only: id, hostname, port, attributes; src/master/readonly_handler.cpp).
    #[serde(default)]
    recovered_slaves: Vec<RawRecovered>,
    #[serde(default)]
    frameworks: Vec<RawFramework>,
}

#[derive(Deserialize, Default)]
struct RawResources {
    #[serde(default)]
    cpus: f64,
    #[serde(default)]
    mem: f64,
    #[serde(default)]
    gpus: f64,
}

#[derive(Deserialize)]
struct RawDrainInfo {
    state: String,
}

#[derive(Deserialize)]
struct RawAgent {
    id: String,
    hostname: String,
    #[serde(default)]
    pid: String,
    #[serde(default)]
    used_resources: RawResources,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    deactivated: bool,
    #[serde(default)]
    drain_info: Option<RawDrainInfo>,
}

#[derive(Deserialize)]
struct RawRecovered {
    id: String,
    hostname: String,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawFramework {
    #[serde(default)]
    tasks: Vec<RawTask>,
}

#[derive(Deserialize)]
struct RawTask {
    slave_id: String,
    state: String,
}

/// Task states that are over (the task uses nothing on the agent any more).
fn terminal(state: &str) -> bool {
    matches!(
        state,
        "TASK_FINISHED"
            | "TASK_FAILED"
            | "TASK_KILLED"
            | "TASK_LOST"
            | "TASK_ERROR"
            | "TASK_DROPPED"
            | "TASK_GONE"
            | "TASK_GONE_BY_OPERATOR"
    )
}

/// The IP of an agent's libprocess pid (`slave(1)@10.0.0.5:5051`).
pub fn pid_ip(pid: &str) -> Option<String> {
    let (_, addr) = pid.rsplit_once('@')?;
    let (ip, _) = addr.rsplit_once(':')?;
    ip.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Parses `/master/state`: agents with their used resources, live task counts and drain state,
/// and the agents still re-registering after a fail-over (`recovered_slaves`, inactive).
pub fn parse_state(source_name: &str, body: &[u8]) -> Result<MasterState, ParseError> {
    let raw: RawState = serde_json::from_slice(body).map_err(|error| ParseError::Json {
        source_name: source_name.into(),
        error,
    })?;
    let mut tasks: HashMap<&str, u32> = HashMap::new();
    for t in raw.frameworks.iter().flat_map(|f| &f.tasks) {
        if !terminal(&t.state) {
            *tasks.entry(t.slave_id.as_str()).or_default() += 1;
        }
    }
    let mut agents = Vec::with_capacity(raw.slaves.len());
    for a in &raw.slaves {
        let drain = match a.drain_info.as_ref().map(|d| d.state.as_str()) {
            None => None,
            Some("DRAINING") => Some(AgentDrain::Draining),
            Some("DRAINED") => Some(AgentDrain::Drained),
            Some(other) => {
                return Err(ParseError::Field {
                    source_name: source_name.into(),
                    what: format!("agent {}: unknown drain_info.state {other:?}", a.id),
                })
            }
        };
        agents.push(Agent {
            id: a.id.clone(),
            hostname: a.hostname.clone(),
            ip: pid_ip(&a.pid),
            tasks: tasks.get(a.id.as_str()).copied().unwrap_or(0),
            used_cpus: a.used_resources.cpus,
            used_mem: a.used_resources.mem,
            used_gpus: a.used_resources.gpus,
            active: a.active && !a.deactivated,
            drain,
        });
    }
    // Re-registering after a fail-over: not capacity (inactive), and not an instance that never
    // registered either, so never removed while it comes back.
    for a in &raw.recovered_slaves {
        agents.push(Agent {
            id: a.id.clone(),
            hostname: a.hostname.clone(),
            ip: a
                .hostname
                .parse::<std::net::Ipv4Addr>()
                .ok()
                .map(|ip| ip.to_string()),
            tasks: 0,
            used_cpus: 0.0,
            used_mem: 0.0,
            used_gpus: 0.0,
            active: false,
            drain: None,
        });
    }
    Ok(MasterState {
        version: raw.version,
        agents,
    })
}

/// `http://<ip>:<port>` of a MasterInfo znode's JSON (reads `address`; the packed `ip` is
/// deprecated).
pub fn master_info_url(znode: &str, data: &[u8]) -> Result<String, ParseError> {
    #[derive(Deserialize)]
    struct Address {
        ip: String,
        port: u16,
    }
    #[derive(Deserialize)]
    struct Info {
        address: Address,
    }
    let info: Info = serde_json::from_slice(data).map_err(|error| ParseError::Json {
        source_name: znode.into(),
        error,
    })?;
    Ok(format!("http://{}:{}", info.address.ip, info.address.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_need_every_required_number_and_leadership() {
        let ok = br#"{"master/elected":1,"master/cpus_total":8,"master/cpus_used":2,
            "master/mem_total":100,"master/mem_used":50,"master/tasks_staging":1,
            "master/gpus_total":0,"master/gpus_used":0,"master/tasks_running":4}"#;
        let m = parse_metrics("http://m/metrics/snapshot", ok).unwrap();
        assert_eq!((m.cpus_used, m.mem_total, m.tasks_staging), (2.0, 100.0, 1));

        let e = parse_metrics("http://m/metrics/snapshot", br#"{"master/elected":1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http://m/metrics/snapshot") && e.contains("master/cpus_total"),
            "{e}"
        );
        let bad = String::from_utf8_lossy(ok)
            .replace("\"master/cpus_used\":2", "\"master/cpus_used\":\"x\"");
        let e = parse_metrics("u", bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("master/cpus_used"), "{e}");
        let bad =
            String::from_utf8_lossy(ok).replace("\"master/cpus_used\":2", "\"master/cpus_used\":9");
        let e = parse_metrics("u", bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("exceeds"), "{e}");
        let follower =
            String::from_utf8_lossy(ok).replace("\"master/elected\":1", "\"master/elected\":0");
        assert!(matches!(
            parse_metrics("u", follower.as_bytes()),
            Err(ParseError::NotLeader { .. })
        ));
        assert!(parse_metrics("u", b"<html>")
            .unwrap_err()
            .to_string()
            .starts_with("u: "));
    }

    #[test]
    fn agents_re_registering_after_a_fail_over_are_listed_inactive() {
        // recovered_slaves: SlaveInfo only (src/common/http.cpp `json(SlaveInfo)`).
        let body = br#"{"version":"1.11.0","slaves":[],"recovered_slaves":[
            {"id":"S9","hostname":"ip-10-0-0-9.ec2.internal","port":5051,"attributes":{}},
            {"id":"S8","hostname":"10.0.0.8","port":5051,"attributes":{}}]}"#;
        let s = parse_state("u", body).unwrap();
        assert_eq!(s.agents.len(), 2);
        assert!(s.agents.iter().all(|a| !a.active && a.drain.is_none()));
        assert_eq!(s.agents[0].hostname, "ip-10-0-0-9.ec2.internal");
        assert_eq!(s.agents[0].ip, None);
        assert_eq!(s.agents[1].ip.as_deref(), Some("10.0.0.8"));
    }

    #[test]
    fn state_counts_live_tasks_per_agent_and_reads_drain_info() {
        let body = br#"{"version":"1.11.0","leader":"master@10.0.0.1:5050","slaves":[
            {"id":"S1","hostname":"ip-10-0-0-5","pid":"slave(1)@10.0.0.5:5051",
             "resources":{"cpus":4,"mem":4096},"used_resources":{"cpus":1,"mem":128},"active":true},
            {"id":"S2","hostname":"ip-10-0-0-6","pid":"slave(1)@10.0.0.6:5051",
             "used_resources":{"cpus":0,"mem":0},"active":true,"drain_info":{"state":"DRAINED"}}],
          "frameworks":[{"tasks":[{"slave_id":"S1","state":"TASK_RUNNING"},
             {"slave_id":"S1","state":"TASK_STAGING"},{"slave_id":"S2","state":"TASK_FINISHED"}]}]}"#;
        let s = parse_state("u", body).unwrap();
        assert_eq!(s.version, "1.11.0");
        assert_eq!(s.agents[0].tasks, 2);
        assert_eq!(s.agents[0].ip.as_deref(), Some("10.0.0.5"));
        assert!(!s.agents[0].idle());
        assert_eq!(s.agents[1].tasks, 0);
        assert!(s.agents[1].idle());
        assert_eq!(s.agents[1].drain, Some(AgentDrain::Drained));

        let e = parse_state("http://m/master/state", br#"{"version":"1.11.0"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http://m/master/state") && e.contains("slaves"),
            "{e}"
        );
    }

    #[test]
    fn master_info_reads_address() {
        let data = br#"{"address":{"hostname":"m1","ip":"10.0.0.5","port":5050},"hostname":"m1","id":"x","ip":84017162,"pid":"master@10.0.0.5:5050","port":5050,"version":"1.11.0"}"#;
        assert_eq!(
            master_info_url("/mesos/json.info_0000000001", data).unwrap(),
            "http://10.0.0.5:5050"
        );
        let e = master_info_url("/mesos/json.info_0000000001", b"{}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("json.info_0000000001"), "{e}");
    }
}
