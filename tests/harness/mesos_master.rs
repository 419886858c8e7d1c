//! A Mesos master emulator for the autoscaler's tests: one leading master on
//! `127.0.0.1:<ephemeral port>` serving the documented JSON of
//!
//! * `GET /master/redirect` (307 to `//127.0.0.1:PORT`, 503 without a leader),
//! * `GET /metrics/snapshot` (`master/elected`, `master/{cpus,mem,gpus}_{total,used}`,
//!   `master/tasks_{staging,running}`, `master/slaves_active`: computed from the agents),
//! * `GET /master/slaves` (`slaves[]` as in `/master/state`, `recovered_slaves`),
//! * `GET /master/state` (`version`, `slaves[]` with `pid`, `resources`, `used_resources`,
//!   `active`, `drain_info`; `frameworks[].tasks[]`),
//! * `GET|POST /master/maintenance/schedule`, `GET /master/maintenance/status`,
//!   `POST /master/machine/down|up` (with Mesos' checks: only scheduled machines go down, only
//!   down machines come up, a down machine cannot leave the schedule; `up` drops the machine
//!   from the schedule as Mesos' StopMaintenance does),
//! * `POST /api/v1` `DRAIN_AGENT` and `GET_AGENTS`.
//!
//! Leadership and recovery as src/master/http.cpp (1.11.0) has them: a master that is not the
//! elected leader answers every endpoint above but `/metrics/snapshot` (and `/health`) with `redirect()`: 307
//! to `//<leader's hostname>:<port><path and query>` (`/master/redirect`: to the leader's base
//! URL), or 503 "No leader elected" while it knows no leader ([`MasterEmulator::set_leader`],
//! [`MasterEmulator::follow`]); the elected leader answers `/api/v1` with 503 "Master has not
//! finished recovery" until its registry is recovered ([`MasterEmulator::set_recovered`]), and
//! then refuses a call without `Content-Type` (400) or with one other than JSON or protobuf (415).
//!
//! Request bodies go through [`proto`], Mesos' JSON-to-protobuf conversion: a missing required
//! field (e.g. `nanoseconds` of a `DurationInfo`) is a 400 "Missing required fields", unknown
//! fields are ignored, as a real master does.
//!
//! A draining agent without task left, on the first `/master/state` read after, becomes
//! `DRAINED`, or with `mark_gone` is marked gone and listed nowhere again (removed, shut down:
//! it never shows `DRAINED`; src/master/master.cpp, `checkAndTransitionDrainingAgent`);
//! agents of a down machine are not listed (the master shut them down).
//! Every request is recorded; tests set agents, their load and tasks, the staging count, the
//! version, leadership, and failures per path prefix.
//!
//! HTTP authentication is on, as mesos-boot renders it (`MESOS_AUTHENTICATE_HTTP_READWRITE`
//! and `_READONLY`): without a Basic credential the master accepts, `/metrics/snapshot`,
//! `/master/state`, `/master/slaves` and `/master/maintenance/status` answer 401 with
//! `WWW-Authenticate: Basic realm="mesos-master-readonly"`, and `/api/v1`, the maintenance
//! schedule and `/master/machine/*` with realm `mesos-master-readwrite`; `/master/redirect` and
//! `/health` never ask. It accepts the principal of [`MasterEmulator::credential_file`]
//! (`mesos-scale`) and those [`MasterEmulator::accept`] adds.

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
    /// The grace its tasks get, as the master understood `DRAIN_AGENT`'s `max_grace_period`
    /// (nanoseconds, after `devolve`: `seconds * 10^9 + nanos` of the v1 `Duration`;
    /// src/internal/devolve.cpp); `None` when the call carried none.
    pub max_grace_ns: Option<i64>,
    /// Known from the registry but not re-registered since the last fail-over: listed in
    /// `recovered_slaves` (SlaveInfo: id, hostname, port, attributes), not in `slaves`
    /// (src/master/readonly_handler.cpp, `SlavesWriter`; src/common/http.cpp, `json(SlaveInfo)`).
    pub recovered: bool,
    /// Marked gone (a `mark_gone` drain that ended): in no list, refused for good.
    pub gone: bool,
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
            max_grace_ns: None,
            recovered: false,
            gone: false,
        }
    }

    /// Runs `tasks` tasks using `fraction` of the agent's cpus and memory (0 tasks: idle).
    pub fn load(&mut self, tasks: u32, fraction: f64) {
        self.tasks = tasks;
        self.used_cpus = self.cpus * fraction;
        self.used_mem = self.mem * fraction;
    }

    /// The agent as `recovered_slaves` lists it (`json(SlaveInfo)`: no pid, no resources).
    fn recovered_info(&self) -> Value {
        json!({"id": self.id, "hostname": self.hostname, "port": 5051, "attributes": {}})
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
    /// Answered 401 (no or a wrong credential): the master did nothing.
    pub unauthorized: bool,
    /// The `Authorization` header it came with (what a master impostor would collect).
    pub authorization: Option<String>,
}

struct Inner {
    /// Principals and secrets accepted; which realms ask for one (read-only, read-write).
    accepted: Vec<(String, String)>,
    realms: (bool, bool),
    version: String,
    leader: bool,
    /// Not leading: the elected leader's `hostname:port`, if this master knows one.
    leader_at: Option<String>,
    /// The registry recovered (the elected leader serves `/api/v1` only then).
    recovered: bool,
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
    /// Holds the credential file.
    dir: tempfile::TempDir,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MasterEmulator {
    /// Starts a leading master of Mesos `version` with no agent.
    pub fn start(version: &str) -> MasterEmulator {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), version)
    }

    /// Starts a leading master of Mesos `version` with no agent, listening on `addr`.
    pub fn start_on(addr: SocketAddr, version: &str) -> MasterEmulator {
        let listener = std::net::TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("bind master emulator on {addr}: {e}"));
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("master emulator address");
        let secret: u128 = rand::random();
        let scale = ("mesos-scale".to_string(), format!("{secret:032x}"));
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("mesos-scale"),
            format!("{} {}\n", scale.0, scale.1),
        )
        .expect("write the credential file");
        let state: Shared = Arc::new(Mutex::new(Inner {
            accepted: vec![scale],
            realms: (true, true),
            version: version.into(),
            leader: true,
            leader_at: None,
            recovered: true,
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
            dir,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A file with the `mesos-scale` principal this master accepts, as `mesos-scale
    /// --credential` reads it.
    pub fn credential_file(&self) -> String {
        self.dir.path().join("mesos-scale").display().to_string()
    }

    /// Accepts `user:secret` too (e.g. the agents' principal from the shared config's objects).
    pub fn accept(&self, userinfo: &str) {
        let (p, s) = userinfo.split_once(':').expect("user:secret");
        self.lock().accepted.push((p.into(), s.into()));
    }

    /// Which realms ask for a credential (`MESOS_AUTHENTICATE_HTTP_READONLY`, `_READWRITE`).
    pub fn set_http_auth(&self, readonly: bool, readwrite: bool) {
        self.lock().realms = (readonly, readwrite);
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

    /// A leader fail-over after which the agents `recovering` selects have not re-registered
    /// yet: the new leader lists them under `recovered_slaves` only, until [`Self::reregister`].
    pub fn fail_over(&self, mut recovering: impl FnMut(&EmuAgent) -> bool) {
        for a in &mut self.lock().agents {
            a.recovered = recovering(a);
        }
    }

    /// The agent `id` re-registered with the leader.
    pub fn reregister(&self, id: &str) {
        for a in self.lock().agents.iter_mut().filter(|a| a.id == id) {
            a.recovered = false;
        }
    }

    /// Leading, or not leading with no leader known (every redirecting endpoint answers 503
    /// "No leader elected"; `master/elected` is 0).
    pub fn set_leader(&self, leader: bool) {
        let mut s = self.lock();
        s.leader = leader;
        s.leader_at = None;
    }

    /// Not leading, and `leader` (`hostname:port`) is: endpoints redirect there (307).
    pub fn follow(&self, leader: &str) {
        let mut s = self.lock();
        s.leader = false;
        s.leader_at = Some(leader.to_string());
    }

    /// Whether the registry is recovered: until it is, the leader answers `/api/v1` with 503.
    pub fn set_recovered(&self, recovered: bool) {
        self.lock().recovered = recovered;
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
            .filter(|r| r.method == "POST" && !r.unauthorized)
            .collect()
    }

    /// Requests answered 401.
    pub fn unauthorized(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.unauthorized)
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

/// Not listed in `slaves`: its machine is down (the master shut it down), or it has not
/// re-registered since the fail-over.
fn is_down(s: &Inner, a: &EmuAgent) -> bool {
    a.recovered || a.gone || s.down.contains(&a.machine())
}

fn recovered_slaves(s: &Inner) -> Vec<Value> {
    s.agents
        .iter()
        .filter(|a| a.recovered && !a.gone)
        .map(EmuAgent::recovered_info)
        .collect()
}

fn state(s: &mut Inner, port: u16) -> Value {
    for a in &mut s.agents {
        if a.drain.as_deref() == Some("DRAINING") && a.tasks == 0 {
            if a.mark_gone {
                a.gone = true;
            } else {
                a.drain = Some("DRAINED".into());
            }
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
        "recovered_slaves": recovered_slaves(s),
        "frameworks": [{"id": "fw-1", "name": "test", "active": true, "tasks": tasks}],
        "completed_frameworks": [],
    })
}

fn machine_list(body: &[u8]) -> Result<Vec<Value>, String> {
    let list = proto::parse_list(body, proto::MACHINE_ID)
        .map_err(|e| format!("Failed to convert JSON into MachineID protobuf: {e}"))?;
    for m in &list {
        if !(m["hostname"].is_string() || m["ip"].is_string()) {
            return Err(format!("Machine {m} needs a hostname or an ip"));
        }
    }
    Ok(list)
}

/// The realm `path` is in (`None`: never authenticated), as Mesos routes its endpoints.
fn realm(path: &str) -> Option<&'static str> {
    match path {
        "/master/redirect" | "/health" | "/master/health" => None,
        "/metrics/snapshot" | "/master/state" | "/master/slaves" | "/master/maintenance/status" => {
            Some("mesos-master-readonly")
        }
        _ => Some("mesos-master-readwrite"),
    }
}

/// A 401 unless `path` needs no credential or `headers` carry one the master accepts.
fn unauthorized(s: &Inner, path: &str, headers: &axum::http::HeaderMap) -> Option<Response> {
    use base64::Engine;
    let realm = realm(path)?;
    let asks = if realm.ends_with("readonly") {
        s.realms.0
    } else {
        s.realms.1
    };
    if !asks {
        return None;
    }
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let ok = given
        .as_deref()
        .and_then(|g| g.split_once(':'))
        .is_some_and(|(p, sec)| s.accepted.iter().any(|(ap, asec)| ap == p && asec == sec));
    if ok {
        return None;
    }
    Some(
        Response::builder()
            .status(401)
            .header("www-authenticate", format!("Basic realm=\"{realm}\""))
            .body(axum::body::Body::empty())
            .expect("401"),
    )
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
    let refused = unauthorized(&s, &path, &headers);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
        unauthorized: refused.is_some(),
        authorization: headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    if let Some(r) = refused {
        return r;
    }
    if let Some((_, status, body)) = s.failures.iter().find(|(p, _, _)| path.starts_with(p)) {
        return text(*status, body);
    }
    let port = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(5050u16);
    // src/master/http.cpp, `Master::Http::redirect`: every endpoint but the metrics redirects
    // while this master is not the elected leader.
    let own = path == "/metrics/snapshot" || path.ends_with("/health");
    if !own && !s.leader {
        let Some(leader) = s.leader_at.clone() else {
            return text(503, "No leader elected");
        };
        let to = if path == "/master/redirect" || path == "/redirect" {
            format!("//{leader}")
        } else {
            let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            format!("//{leader}{path}{query}")
        };
        return Response::builder()
            .status(307)
            .header("location", to)
            .body(axum::body::Body::empty())
            .expect("redirect");
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/master/redirect") => Response::builder()
            .status(307)
            .header("location", format!("//127.0.0.1:{port}"))
            .body(axum::body::Body::empty())
            .expect("redirect"),
        ("GET", "/metrics/snapshot") => reply(200, metrics(&s)),
        ("GET", "/master/state") => reply(200, state(&mut s, port)),
        ("GET", "/master/slaves") => {
            let slaves = state(&mut s, port)["slaves"].clone();
            reply(
                200,
                json!({"slaves": slaves, "recovered_slaves": recovered_slaves(&s)}),
            )
        }
        ("GET", "/master/maintenance/schedule") => reply(200, s.schedule.clone()),
        ("POST", "/master/maintenance/schedule") => {
            let mut v = match proto::parse(&body, proto::SCHEDULE) {
                Ok(v) => v,
                Err(e) => {
                    return text(
                        400,
                        &format!("Failed to convert JSON into Schedule protobuf: {e}"),
                    )
                }
            };
            if v.get("windows").is_none() {
                v["windows"] = json!([]);
            }
            for w in v["windows"].as_array().expect("converted") {
                let ok = w["machine_ids"].as_array().is_some_and(|ids| {
                    !ids.is_empty()
                        && ids
                            .iter()
                            .all(|m| m["hostname"].is_string() || m["ip"].is_string())
                });
                if !ok {
                    return text(400, &format!("List of machines in window {w} must be non-empty, each with a hostname or an ip"));
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
            // `Master::Http::api`: recovery, then the content type, then the body.
            if !s.recovered {
                return text(503, "Master has not finished recovery");
            }
            match headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
            {
                None => return text(400, "Expecting 'Content-Type' to be present"),
                Some("application/json" | "application/x-protobuf") => {}
                Some(_) => {
                    return text(
                        415,
                        "Expecting 'Content-Type' of application/json or application/x-protobuf",
                    )
                }
            }
            let v = match proto::parse(&body, proto::CALL) {
                Ok(v) => v,
                Err(e) => {
                    return text(
                        400,
                        &format!("Failed to convert JSON into Call protobuf: {e}"),
                    )
                }
            };
            match v["type"].as_str() {
                None => text(400, "Expecting 'type' to be present"),
                Some("DRAIN_AGENT") if v.get("drain_agent").is_none() => {
                    text(400, "Expecting 'drain_agent' to be present")
                }
                Some("DRAIN_AGENT") => {
                    let id = v["drain_agent"]["agent_id"]["value"].as_str().unwrap_or("");
                    let mark_gone = v["drain_agent"]["mark_gone"].as_bool().unwrap_or(false);
                    // devolve(): DurationInfo.nanoseconds = seconds * 10^9 + nanos, 0 for a
                    // Duration with neither (e.g. one whose keys were all unknown).
                    let grace = v["drain_agent"].get("max_grace_period").map(|d| {
                        let n = |k: &str| d[k].as_i64().unwrap_or(0);
                        n("seconds") * 1_000_000_000 + n("nanos")
                    });
                    let Some(a) = s.agents.iter_mut().find(|a| a.id == id && !a.gone) else {
                        return text(400, &format!("unknown agent {id:?}"));
                    };
                    if a.drain.is_none() {
                        a.drain = Some("DRAINING".into());
                    }
                    a.mark_gone = mark_gone;
                    a.max_grace_ns = grace;
                    text(200, "")
                }
                Some("GET_AGENTS") => {
                    let agents: Vec<Value> = s
                        .agents
                        .iter()
                        .filter(|a| !a.recovered && !a.gone)
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
                        json!({"type": "GET_AGENTS", "get_agents": {
                            "agents": agents,
                            "recovered_agents": s.agents.iter().filter(|a| a.recovered && !a.gone)
                                .map(|a| json!({"id": {"value": a.id}, "hostname": a.hostname, "port": 5051}))
                                .collect::<Vec<_>>(),
                        }}),
                    )
                }
                other => text(400, &format!("unsupported call {other:?}")),
            }
        }
        _ => text(404, "not found"),
    }
}

/// Mesos' conversion of a JSON request body into its protobuf message (stout's
/// `protobuf::parse`), for every message the project sends: fields are looked up by name,
/// JSON keys the message does not have are ignored, a value of the wrong JSON type is an error,
/// and a message whose required fields are not all set is refused with "Missing required
/// fields: <paths>" (protobuf's `InitializationErrorString`). The result keeps only the
/// message's fields.
pub mod proto {
    use serde_json::{Map, Value};

    #[derive(Clone, Copy, PartialEq)]
    pub enum Label {
        Required,
        Optional,
        Repeated,
    }

    #[derive(Clone, Copy)]
    pub enum Kind {
        Str,
        I64,
        Bool,
        Enum(&'static [&'static str]),
        Msg(&'static [Field]),
    }

    #[derive(Clone, Copy)]
    pub struct Field {
        pub name: &'static str,
        pub label: Label,
        pub kind: Kind,
    }

    const fn field(name: &'static str, label: Label, kind: Kind) -> Field {
        Field { name, label, kind }
    }
    use Kind::*;
    use Label::*;

    /// `mesos.DurationInfo` / `mesos.TimeInfo`: `required int64 nanoseconds = 1;`
    pub const DURATION_INFO: &[Field] = &[field("nanoseconds", Required, I64)];
    pub const TIME_INFO: &[Field] = &[field("nanoseconds", Required, I64)];
    /// `google.protobuf.Duration` (v1 API, e.g. `DrainAgent.max_grace_period`;
    /// include/mesos/v1/master/master.proto): `int64 seconds = 1; int32 nanos = 2;`, both
    /// optional. Its JSON is parsed field by field like any message (stout's `protobuf::parse`):
    /// a DurationInfo's `nanoseconds` is an unknown key here, ignored.
    pub const DURATION: &[Field] = &[
        field("seconds", Optional, I64),
        field("nanos", Optional, I64),
    ];
    /// `mesos.AgentID` (`SlaveID`): `required string value = 1;`
    pub const AGENT_ID: &[Field] = &[field("value", Required, Str)];
    /// `mesos.MachineID`: `optional string hostname = 1; optional string ip = 2;`
    pub const MACHINE_ID: &[Field] =
        &[field("hostname", Optional, Str), field("ip", Optional, Str)];
    /// `mesos.Unavailability`
    pub const UNAVAILABILITY: &[Field] = &[
        field("start", Required, Msg(TIME_INFO)),
        field("duration", Optional, Msg(DURATION_INFO)),
    ];
    /// `mesos.maintenance.Window`
    pub const WINDOW: &[Field] = &[
        field("machine_ids", Repeated, Msg(MACHINE_ID)),
        field("unavailability", Required, Msg(UNAVAILABILITY)),
    ];
    /// `mesos.maintenance.Schedule`
    pub const SCHEDULE: &[Field] = &[field("windows", Repeated, Msg(WINDOW))];
    /// `mesos.master.Call.DrainAgent` (Mesos 1.9+)
    pub const DRAIN_AGENT: &[Field] = &[
        field("agent_id", Required, Msg(AGENT_ID)),
        field("max_grace_period", Optional, Msg(DURATION)),
        field("mark_gone", Optional, Bool),
    ];
    /// `mesos.v1.master.Call.Type`
    pub const CALL_TYPES: &[&str] = &[
        "UNKNOWN",
        "GET_HEALTH",
        "GET_FLAGS",
        "GET_VERSION",
        "GET_METRICS",
        "GET_LOGGING_LEVEL",
        "SET_LOGGING_LEVEL",
        "LIST_FILES",
        "READ_FILE",
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_EXECUTORS",
        "GET_OPERATIONS",
        "GET_TASKS",
        "GET_ROLES",
        "GET_WEIGHTS",
        "UPDATE_WEIGHTS",
        "GET_MASTER",
        "SUBSCRIBE",
        "RESERVE_RESOURCES",
        "UNRESERVE_RESOURCES",
        "CREATE_VOLUMES",
        "DESTROY_VOLUMES",
        "GROW_VOLUME",
        "SHRINK_VOLUME",
        "GET_MAINTENANCE_STATUS",
        "GET_MAINTENANCE_SCHEDULE",
        "UPDATE_MAINTENANCE_SCHEDULE",
        "START_MAINTENANCE",
        "STOP_MAINTENANCE",
        "DRAIN_AGENT",
        "DEACTIVATE_AGENT",
        "REACTIVATE_AGENT",
        "GET_QUOTA",
        "UPDATE_QUOTA",
        "SET_QUOTA",
        "REMOVE_QUOTA",
        "TEARDOWN",
        "MARK_AGENT_GONE",
    ];
    /// `mesos.v1.master.Call`, the fields the project uses (others are ignored like unknown ones).
    pub const CALL: &[Field] = &[
        field("type", Optional, Enum(CALL_TYPES)),
        field("drain_agent", Optional, Msg(DRAIN_AGENT)),
    ];

    fn one(v: &Value, f: &Field, missing: &mut Vec<String>, path: &str) -> Result<Value, String> {
        let wrong = |what: &str| -> Result<Value, String> {
            Err(format!(
                "Not expecting a JSON {what} for field '{}'",
                f.name
            ))
        };
        let kind_of = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        match (f.kind, v) {
            (Str, Value::String(_)) | (Bool, Value::Bool(_)) => Ok(v.clone()),
            (I64, Value::Number(n)) if n.is_i64() => Ok(v.clone()),
            (I64, Value::String(s)) => s
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("Failed to convert '{s}' to int64 for field '{}'", f.name)),
            (Enum(names), Value::String(s)) => {
                if names.contains(&s.as_str()) {
                    Ok(v.clone())
                } else {
                    Err(format!("Failed to find enum for '{s}'"))
                }
            }
            (Msg(fields), Value::Object(o)) => message(o, fields, missing, path),
            _ => wrong(kind_of(v)),
        }
    }

    fn message(
        o: &Map<String, Value>,
        fields: &[Field],
        missing: &mut Vec<String>,
        prefix: &str,
    ) -> Result<Value, String> {
        let mut out = Map::new();
        for f in fields {
            let path = format!("{prefix}{}", f.name);
            match (o.get(f.name), f.label) {
                (None | Some(Value::Null), Required) => missing.push(path),
                (None | Some(Value::Null), _) => {}
                (Some(Value::Array(items)), Repeated) => {
                    let mut list = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        list.push(one(item, f, missing, &format!("{path}[{i}].")));
                    }
                    out.insert(
                        f.name.into(),
                        Value::Array(list.into_iter().collect::<Result<_, _>>()?),
                    );
                }
                (Some(_), Repeated) => {
                    return Err(format!(
                        "Not expecting a non-array JSON value for repeated field '{}'",
                        f.name
                    ))
                }
                (Some(v), _) => {
                    out.insert(f.name.into(), one(v, f, missing, &format!("{path}."))?);
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// Converts `body` (JSON) into message `fields`, as Mesos does before acting on a request.
    pub fn parse(body: &[u8], fields: &[Field]) -> Result<Value, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("Malformed JSON: {e}"))?;
        let Value::Object(o) = &v else {
            return Err("Expecting a JSON object".into());
        };
        let mut missing = Vec::new();
        let out = message(o, fields, &mut missing, "")?;
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(format!("Missing required fields: {}", missing.join(", ")))
        }
    }

    /// A JSON array of `fields` messages (`RepeatedPtrField`, e.g. the machine ids of
    /// `/master/machine/down`).
    pub fn parse_list(body: &[u8], fields: &[Field]) -> Result<Vec<Value>, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("Malformed JSON: {e}"))?;
        let Value::Array(items) = &v else {
            return Err("Expecting a JSON array".into());
        };
        let mut missing = Vec::new();
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Value::Object(o) = item else {
                return Err(format!("Expecting a JSON object at index {i}"));
            };
            out.push(message(o, fields, &mut missing, &format!("[{i}]."))?);
        }
        if missing.is_empty() {
            Ok(out)
        } else {
            Err(format!("Missing required fields: {}", missing.join(", ")))
        }
    }
}
