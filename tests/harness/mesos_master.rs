//! A Mesos master emulator for the autoscaler's tests: one leading master on
//! `127.0.0.1:<ephemeral port>` serving the documented JSON of
//!
//! * `GET /master/redirect` (307 to `//127.0.0.1:PORT`, 503 without a leader),
//! * `GET /metrics/snapshot` (`master/elected`, `master/{cpus,mem,gpus}_{total,used}`,
//!   `master/tasks_{staging,running}`, `master/slaves_active`: computed from the agents),
//! * `GET /master/state` (`version`, `slaves[]` with `pid`, `resources`, `used_resources`,
//!   `active`, `drain_info`; `frameworks[].tasks[]`),
//! * `GET|POST /master/maintenance/schedule`, `GET /master/maintenance/status`,
//!   `POST /master/machine/down|up` (with Mesos' checks: only scheduled machines go down, only
//!   down machines come up, a down machine cannot leave the schedule; `up` drops the machine
//!   from the schedule as Mesos' StopMaintenance does),
//! * `POST /api/v1` `DRAIN_AGENT` and `GET_AGENTS`.
//!
//! A draining agent becomes `DRAINED` on the first `/master/state` read after it has no task
//! left; agents of a down machine are not listed (the master shut them down).
//! Every request is recorded; tests set agents, their load and tasks, the staging count, the
//! version, leadership, and failures per path prefix.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One agent as the emulated master knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmuAgent {
    pub id: String,
    pub hostname: String,
    pub ip: String,
    pub cpus: f64,
    pub mem: f64,
    pub gpus: f64,
    pub used_cpus: f64,
    pub used_mem: f64,
    /// Running tasks.
    pub tasks: u32,
    /// `DRAINING` / `DRAINED`.
    pub drain: Option<String>,
    pub mark_gone: bool,
}

impl EmuAgent {
    /// An idle agent with 4 cpus and 8192 MB.
    pub fn new(id: &str, hostname: &str, ip: &str) -> EmuAgent {
        EmuAgent {
            id: id.into(),
            hostname: hostname.into(),
            ip: ip.into(),
            cpus: 4.0,
            mem: 8192.0,
            gpus: 0.0,
            used_cpus: 0.0,
            used_mem: 0.0,
            tasks: 0,
            drain: None,
            mark_gone: false,
        }
    }

    /// Runs `tasks` tasks using `fraction` of the agent's cpus and memory (0 tasks: idle).
    pub fn load(&mut self, tasks: u32, fraction: f64) {
        self.tasks = tasks;
        self.used_cpus = self.cpus * fraction;
        self.used_mem = self.mem * fraction;
    }

    fn machine(&self) -> Value {
        json!({"hostname": self.hostname, "ip": self.ip})
    }
}

/// A request the emulator answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: String,
}

struct Inner {
    version: String,
    leader: bool,
    /// (path prefix, status, body) answered instead of the real thing.
    failures: Vec<(String, u16, String)>,
    agents: Vec<EmuAgent>,
    staging: u32,
    schedule: Value,
    down: Vec<Value>,
    requests: Vec<Recorded>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running emulator; stops on drop.
pub struct MasterEmulator {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MasterEmulator {
    /// Starts a leading master of Mesos `version` with no agent.
    pub fn start(version: &str) -> MasterEmulator {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("bind master emulator on 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("master emulator address");
        let state: Shared = Arc::new(Mutex::new(Inner {
            version: version.into(),
            leader: true,
            failures: Vec::new(),
            agents: Vec::new(),
            staging: 0,
            schedule: json!({"windows": []}),
            down: Vec::new(),
            requests: Vec::new(),
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let thread = std::thread::Builder::new()
            .name(format!("mesos-master-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("master emulator runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        r = axum::serve(listener, app) => {
                            if let Err(e) = r {
                                eprintln!("master emulator on {addr} stopped: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
            })
            .expect("start master emulator thread");
        MasterEmulator {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the agents.
    pub fn set_agents(&self, agents: Vec<EmuAgent>) {
        self.lock().agents = agents;
    }

    /// The agents (drain state included).
    pub fn agents(&self) -> Vec<EmuAgent> {
        self.lock().agents.clone()
    }

    /// Changes every agent through `f`.
    pub fn update_agents(&self, mut f: impl FnMut(&mut EmuAgent)) {
        self.lock().agents.iter_mut().for_each(&mut f);
    }

    /// Tasks reported staging.
    pub fn set_staging(&self, n: u32) {
        self.lock().staging = n;
    }

    /// Without a leader `/master/redirect` answers 503 and `master/elected` is 0.
    pub fn set_leader(&self, leader: bool) {
        self.lock().leader = leader;
    }

    /// Answers requests whose path starts with `prefix` with `status` and `body`.
    pub fn fail(&self, prefix: &str, status: u16, body: &str) {
        self.lock()
            .failures
            .push((prefix.into(), status, body.into()));
    }

    /// Stops the failures set with [`MasterEmulator::fail`].
    pub fn clear_failures(&self) {
        self.lock().failures.clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The `POST` requests so far (what the autoscaler asked the master to change).
    pub fn posts(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// `DRAIN_AGENT` calls so far: the agent ids.
    pub fn drain_calls(&self) -> Vec<String> {
        self.posts()
            .iter()
            .filter(|r| r.path == "/api/v1")
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter(|v| v["type"] == "DRAIN_AGENT")
            .filter_map(|v| {
                v["drain_agent"]["agent_id"]["value"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }

    /// The maintenance schedule.
    pub fn schedule(&self) -> Value {
        self.lock().schedule.clone()
    }

    /// Machines (`{"hostname","ip"}`) in any window of the schedule.
    pub fn scheduled_machines(&self) -> Vec<Value> {
        scheduled(&self.lock().schedule)
    }

    /// Machines down.
    pub fn down_machines(&self) -> Vec<Value> {
        self.lock().down.clone()
    }
}

impl Drop for MasterEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn scheduled(schedule: &Value) -> Vec<Value> {
    schedule["windows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|w| w["machine_ids"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn reply(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn text(status: u16, body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, body.to_string()).into_response()
}

fn metrics(s: &Inner) -> Value {
    let listed: Vec<&EmuAgent> = s.agents.iter().filter(|a| !is_down(s, a)).collect();
    let sum = |f: fn(&EmuAgent) -> f64| listed.iter().map(|a| f(a)).sum::<f64>();
    let (ct, cu, mt, mu, gt) = (
        sum(|a| a.cpus),
        sum(|a| a.used_cpus),
        sum(|a| a.mem),
        sum(|a| a.used_mem),
        sum(|a| a.gpus),
    );
    let frac = |u: f64, t: f64| if t > 0.0 { u / t } else { 0.0 };
    let elected = if s.leader { 1 } else { 0 };
    json!({
        "master/elected": elected,
        "master/uptime_secs": 3600.0,
        "master/cpus_total": ct, "master/cpus_used": cu, "master/cpus_percent": frac(cu, ct),
        "master/mem_total": mt, "master/mem_used": mu, "master/mem_percent": frac(mu, mt),
        "master/gpus_total": gt, "master/gpus_used": 0.0, "master/gpus_percent": 0.0,
        "master/disk_total": 0.0, "master/disk_used": 0.0, "master/disk_percent": 0.0,
        "master/slaves_active": listed.len(),
        "master/tasks_staging": s.staging,
        "master/tasks_starting": 0,
        "master/tasks_running": listed.iter().map(|a| a.tasks).sum::<u32>(),
        "master/frameworks_active": 1,
        "master/outstanding_offers": 0,
    })
}

fn is_down(s: &Inner, a: &EmuAgent) -> bool {
    s.down.contains(&a.machine())
}

fn state(s: &mut Inner, port: u16) -> Value {
    for a in &mut s.agents {
        if a.drain.as_deref() == Some("DRAINING") && a.tasks == 0 {
            a.drain = Some("DRAINED".into());
        }
    }
    let mut slaves = Vec::new();
    let mut tasks = Vec::new();
    for a in s.agents.iter().filter(|a| !is_down(s, a)) {
        let mut slave = json!({
            "id": a.id,
            "pid": format!("slave(1)@{}:5051", a.ip),
            "hostname": a.hostname,
            "port": 5051,
            "registered_time": 1_700_000_000.0,
            "resources": {"cpus": a.cpus, "mem": a.mem, "gpus": a.gpus, "disk": 10000.0},
            "used_resources": {"cpus": a.used_cpus, "mem": a.used_mem, "gpus": 0.0, "disk": 0.0},
            "offered_resources": {"cpus": 0.0, "mem": 0.0, "gpus": 0.0, "disk": 0.0},
            "attributes": {},
            "active": a.drain.is_none(),
            "deactivated": a.drain.is_some(),
            "version": s.version,
        });
        if let Some(d) = &a.drain {
            slave["drain_info"] = json!({"state": d, "config": {"mark_gone": a.mark_gone}});
        }
        slaves.push(slave);
        for t in 0..a.tasks {
            tasks.push(json!({
                "id": format!("task-{}-{t}", a.id),
                "framework_id": "fw-1",
                "slave_id": a.id,
                "state": "TASK_RUNNING",
                "resources": {"cpus": a.used_cpus / a.tasks as f64, "mem": a.used_mem / a.tasks as f64},
            }));
        }
    }
    json!({
        "version": s.version,
        "leader": format!("master@127.0.0.1:{port}"),
        "leader_info": {"address": {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": port}},
        "cluster": "emulated",
        "activated_slaves": slaves.len(),
        "slaves": slaves,
        "frameworks": [{"id": "fw-1", "name": "test", "active": true, "tasks": tasks}],
        "completed_frameworks": [],
    })
}

fn machine_list(body: &[u8]) -> Result<Vec<Value>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    let list = v.as_array().ok_or("expected a list of machine ids")?;
    for m in list {
        if !(m["hostname"].is_string() && m["ip"].is_string()) {
            return Err(format!("bad machine id {m}"));
        }
    }
    Ok(list.clone())
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    let path = uri.path().to_string();
    s.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some((_, status, body)) = s.failures.iter().find(|(p, _, _)| path.starts_with(p)) {
        return text(*status, body);
    }
    let port = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5050u16);
    match (method.as_str(), path.as_str()) {
        ("GET", "/master/redirect") => {
            if !s.leader {
                return text(503, "No leader elected");
            }
            Response::builder()
                .status(307)
                .header("location", format!("//127.0.0.1:{port}"))
                .body(axum::body::Body::empty())
                .expect("redirect")
        }
        ("GET", "/metrics/snapshot") => reply(200, metrics(&s)),
        ("GET", "/master/state") => {
            if !s.leader {
                return text(307, "not the leader");
            }
            reply(200, state(&mut s, port))
        }
        ("GET", "/master/maintenance/schedule") => reply(200, s.schedule.clone()),
        ("POST", "/master/maintenance/schedule") => {
            let v: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return text(400, &format!("bad JSON: {e}")),
            };
            let Some(windows) = v["windows"].as_array() else {
                return text(400, "schedule without windows");
            };
            for w in windows {
                let ok = w["machine_ids"].as_array().is_some_and(|ids| {
                    !ids.is_empty()
                        && ids
                            .iter()
                            .all(|m| m["hostname"].is_string() && m["ip"].is_string())
                }) && w["unavailability"]["start"]["nanoseconds"].is_number();
                if !ok {
                    return text(400, &format!("bad window {w}"));
                }
            }
            let now_listed = scheduled(&v);
            if let Some(m) = s.down.iter().find(|m| !now_listed.contains(m)) {
                return text(400, &format!("machine {m} is DOWN: bring it up first"));
            }
            s.schedule = v;
            text(200, "")
        }
        ("GET", "/master/maintenance/status") => {
            let draining: Vec<Value> = scheduled(&s.schedule)
                .into_iter()
                .filter(|m| !s.down.contains(m))
                .map(|m| json!({"id": m, "statuses": []}))
                .collect();
            reply(
                200,
                json!({"draining_machines": draining, "down_machines": s.down}),
            )
        }
        ("POST", "/master/machine/down") => {
            let list = match machine_list(&body) {
                Ok(l) => l,
                Err(e) => return text(400, &e),
            };
            let listed = scheduled(&s.schedule);
            for m in &list {
                if !listed.contains(m) {
                    return text(
                        400,
                        &format!("machine {m} is not in the maintenance schedule"),
                    );
                }
                if s.down.contains(m) {
                    return text(400, &format!("machine {m} is already DOWN"));
                }
            }
            s.down.extend(list);
            text(200, "")
        }
        ("POST", "/master/machine/up") => {
            let list = match machine_list(&body) {
                Ok(l) => l,
                Err(e) => return text(400, &e),
            };
            for m in &list {
                if !s.down.contains(m) {
                    return text(400, &format!("machine {m} is not DOWN"));
                }
            }
            s.down.retain(|m| !list.contains(m));
            // Mesos' StopMaintenance also drops the machines from the schedule.
            if let Some(ws) = s.schedule["windows"].as_array_mut() {
                for w in ws.iter_mut() {
                    if let Some(ids) = w["machine_ids"].as_array_mut() {
                        ids.retain(|m| !list.contains(m));
                    }
                }
                ws.retain(|w| w["machine_ids"].as_array().is_some_and(|i| !i.is_empty()));
            }
            text(200, "")
        }
        ("POST", "/api/v1") => {
            let v: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return text(400, &format!("bad JSON: {e}")),
            };
            match v["type"].as_str() {
                Some("DRAIN_AGENT") => {
                    let id = v["drain_agent"]["agent_id"]["value"].as_str().unwrap_or("");
                    let mark_gone = v["drain_agent"]["mark_gone"].as_bool().unwrap_or(false);
                    let Some(a) = s.agents.iter_mut().find(|a| a.id == id) else {
                        return text(400, &format!("unknown agent {id:?}"));
                    };
                    if a.drain.is_none() {
                        a.drain = Some("DRAINING".into());
                    }
                    a.mark_gone = mark_gone;
                    text(200, "")
                }
                Some("GET_AGENTS") => {
                    let agents: Vec<Value> = s
                        .agents
                        .iter()
                        .map(|a| {
                            let mut v = json!({
                                "agent_info": {"id": {"value": a.id}, "hostname": a.hostname},
                                "pid": format!("slave(1)@{}:5051", a.ip),
                                "active": a.drain.is_none(),
                                "deactivated": a.drain.is_some(),
                            });
                            if let Some(d) = &a.drain {
                                v["drain_info"] = json!({"state": d});
                            }
                            v
                        })
                        .collect();
                    reply(
                        200,
                        json!({"type": "GET_AGENTS", "get_agents": {"agents": agents}}),
                    )
                }
                other => text(400, &format!("unsupported call {other:?}")),
            }
        }
        _ => text(404, "not found"),
    }
}
