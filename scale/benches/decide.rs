//! Parse + decide over a generated 1,000-agent `/master/state` (goal: ≤ 50 ms), printed as
//! figures: `cargo bench -p mesos-scale --bench decide`.
//!
//! Timed per iteration: parsing `/metrics/snapshot` and `/master/state` (1,000 agents, 4,000
//! tasks), matching agents to 1,000 instances, and the decision.

use std::time::{Duration, Instant};

use mesos_scale::decide::decide;
use mesos_scale::gather::match_agents;
use mesos_scale::mesos::{parse_metrics, parse_state};
use mesos_scale::model::{Asg, Instance, Snapshot, State};
use mesos_scale::policy::Policy;
use serde_json::json;

const AGENTS: usize = 1000;
const NOW: u64 = 1_800_000_000;

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256)
}

fn generate() -> (Vec<u8>, Vec<u8>, Vec<Instance>) {
    let mut slaves = Vec::new();
    let mut tasks = Vec::new();
    let mut instances = Vec::new();
    for i in 0..AGENTS {
        let busy = i % 5 != 0;
        let id = format!("4f6c1a2e-0d7b-4c53-9d1e-1b2c3d4e5f60-S{i}");
        slaves.push(json!({
            "id": id,
            "pid": format!("slave(1)@{}:5051", ip(i)),
            "hostname": format!("ip-{}.ec2.internal", ip(i).replace('.', "-")),
            "port": 5051,
            "resources": {"cpus": 16.0, "mem": 65536.0, "gpus": 0.0, "disk": 100000.0, "ports": "[31000-32000]"},
            "used_resources": {"cpus": if busy { 4.0 } else { 0.0 }, "mem": if busy { 8192.0 } else { 0.0 }, "gpus": 0.0, "disk": 0.0},
            "offered_resources": {"cpus": 0.0, "mem": 0.0},
            "attributes": {"az": format!("us-east-1{}", ["a", "b", "c"][i % 3]), "instance_type": "m5.4xlarge"},
            "active": true,
            "version": "1.11.0",
        }));
        if busy {
            for t in 0..5 {
                tasks.push(json!({
                    "id": format!("task-{i}-{t}"), "name": "web", "framework_id": "fw-1",
                    "slave_id": id, "state": "TASK_RUNNING",
                    "resources": {"cpus": 0.8, "mem": 1638.4},
                    "statuses": [{"state": "TASK_RUNNING", "timestamp": 1.7e9}],
                }));
            }
        }
        instances.push(Instance {
            id: format!("i-{i:017x}"),
            az: format!("us-east-1{}", ["a", "b", "c"][i % 3]),
            lifecycle: "InService".into(),
            healthy: true,
            ip: Some(ip(i)),
            hostname: Some(format!("ip-{}.ec2.internal", ip(i).replace('.', "-"))),
            launched_at: Some(NOW - 86400),
            idle_since: (!busy).then_some(NOW - 3600),
            drain: None,
        });
    }
    let state = json!({
        "version": "1.11.0", "leader": "master@10.0.0.1:5050", "cluster": "bench",
        "activated_slaves": AGENTS, "slaves": slaves,
        "frameworks": [{"id": "fw-1", "name": "marathon", "tasks": tasks}],
    });
    let busy = AGENTS * 4 / 5;
    let metrics = json!({
        "master/elected": 1, "master/cpus_total": 16.0 * AGENTS as f64,
        "master/cpus_used": 4.0 * busy as f64, "master/mem_total": 65536.0 * AGENTS as f64,
        "master/mem_used": 8192.0 * busy as f64, "master/gpus_total": 0, "master/gpus_used": 0,
        "master/tasks_staging": 0, "master/tasks_running": busy * 5,
    });
    (
        serde_json::to_vec(&metrics).unwrap(),
        serde_json::to_vec(&state).unwrap(),
        instances,
    )
}

fn main() {
    let (metrics, state, instances) = generate();
    let policy = Policy {
        max_step: 50,
        ..Policy::default()
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..30 {
        let instances = instances.clone();
        let t = Instant::now();
        let m = parse_metrics("bench/metrics/snapshot", &metrics).unwrap();
        let s = parse_state("bench/master/state", &state).unwrap();
        let (nodes, unmatched_agents) = match_agents(instances, s.agents);
        let snap = Snapshot {
            now: NOW,
            master_version: s.version,
            metrics: m,
            asg: Asg {
                name: "bench".into(),
                desired: AGENTS as u32,
                min: 10,
                max: 2000,
            },
            nodes,
            unmatched_agents,
            down_machines: vec![],
            draining_machines: vec![],
            released: vec![],
        };
        let d = decide(&snap, &policy, &State::default());
        times.push(t.elapsed());
        last = Some(d);
    }
    times.sort();
    let d = last.unwrap();
    let median = times[times.len() / 2];
    let max = *times.last().unwrap();
    println!(
        "decide: {AGENTS} agents, /master/state {:.1} MB: parse + match + decide median {:.1} ms, max {:.1} ms (goal <= 50 ms): {}",
        state.len() as f64 / 1e6,
        ms(median),
        ms(max),
        if max <= Duration::from_millis(50) { "ok" } else { "OVER" }
    );
    println!(
        "decide: rule {}, {} scaling actions ({})",
        d.rule,
        d.actions.iter().filter(|a| a.is_scaling()).count(),
        d.reason
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
