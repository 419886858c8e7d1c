//! A stand-in for Apache Mesos' `mesos-master` and `mesos-agent` daemons, for the booted image
//! test (`tests/image.rs`): installed by the test-only layer as `/usr/sbin/mesos-master` and
//! `/usr/sbin/mesos-agent` (symlinks: the role is the name it is run as, or the first argument
//! `master` / `agent`). It reads the configuration the real daemons read from the environment
//! (`MESOS_<FLAG>`, see the configuration docs) and behaves as documented where the rest of the
//! system can see it:
//!
//! * master: `MESOS_ZK` (`zk://host:port,.../path`, or `file:///path` of a file holding it) is required, and then so are `MESOS_QUORUM`
//!   and `MESOS_WORK_DIR` (Mesos refuses to start without them: the replicated log); it binds
//!   `MESOS_IP:MESOS_PORT` (5050), registers a replicated-log replica under `<path>/log_replicas/`
//!   and contends for leadership with an ephemeral sequential `<path>/json.info_<seq>` holding
//!   `MasterInfo` JSON (the lowest sequence leads, as Mesos' ZooKeeper detector decides). Its
//!   replica recovers as src/log/recover.cpp says, started at once on every master, leading or
//!   not (src/log/log.cpp): a replica already VOTING is recovered; otherwise it asks every
//!   replica in the log group its status (`POST /log-replica(1)/mesos.internal.log.RecoverRequest`,
//!   answered in the response here, where libprocess would send a message back; itself
//!   included) and becomes VOTING once a quorum answer VOTING (it catches up), or, with
//!   `MESOS_LOG_AUTO_INITIALIZE` (default true), through STARTING once all `2 * quorum - 1`
//!   answer EMPTY or STARTING, then STARTING or VOTING. Its status is kept in
//!   `<work_dir>/replicated_log/status`. Until it recovers it drops agent registrations, as a
//!   master whose registrar has not recovered does. It serves
//!   `/master/state` (`leader`, `cluster`, `slaves[]`), `/master/slaves`, `/master/redirect` (307
//!   to the leader), `/master/health` (200 while the process runs: src/master/http.cpp),
//!   `/metrics/snapshot` (`registrar/log/recovered`, `registrar/log/ensemble_size`: src/log/metrics.cpp
//!   with the registrar's prefix; `master/elected`) and `/health`. A lost ZooKeeper session makes
//!   it exit, as Mesos does.
//! * agent: `MESOS_MASTER` (`zk://...` or `host:port`) and `MESOS_WORK_DIR` are required; it binds
//!   `MESOS_IP:MESOS_PORT` (5051), finds the leading master (lowest `json.info_*`), registers
//!   with it by libprocess message (`POST /master/mesos.internal.RegisterSlaveMessage`,
//!   `Libprocess-From: slave(1)@ip:port`, the `SlaveInfo` fields as JSON), re-registers when the
//!   leader changes, keeps its agent id in `<work_dir>/meta/slaves/latest`, and serves `/state`.
//!   A `ShutdownMessage` from the master it registered with (`POST
//!   /slave(1)/mesos.internal.ShutdownMessage`, as a master sends one to an agent it marked gone)
//!   makes it exit 0; from anyone else it is ignored (src/slave/slave.cpp, `Slave::shutdown`).
//!
//! Authentication, as Mesos documents it (authentication.md):
//!
//! * ZooKeeper: `zk://user:secret@hosts/path` authenticates the session (digest) and the znodes it
//!   creates get `EVERYONE_READ_CREATOR_ALL`, as Mesos' group does; without it, an open ACL.
//! * master: `MESOS_CREDENTIALS` (JSON `{"credentials": [{"principal", "secret"}]}` or
//!   `principal secret` lines) holds whom it accepts. `MESOS_AUTHENTICATE_AGENTS=true`: an agent's
//!   registration is ignored (as Mesos drops it) unless that agent authenticated first by a
//!   CRAM-MD5 exchange (`AuthenticateMessage` → challenge, `AuthenticationStepMessage` with
//!   HMAC-MD5(secret, challenge)). `MESOS_AUTHENTICATE_HTTP_READONLY=true`: `/master/state`,
//!   `/state`, `/master/slaves` answer 401 (`WWW-Authenticate: Basic
//!   realm="mesos-master-readonly"`) without a valid Basic credential; `/master/redirect` and
//!   `/health` never ask.
//! * agent: `MESOS_CREDENTIAL` (JSON `{"principal", "secret"}` or one line) is what it
//!   authenticates with before registering; `MESOS_AUTHENTICATE_HTTP_READONLY=true` guards its
//!   `/state` with `MESOS_HTTP_CREDENTIALS` (realm `mesos-agent-readonly`), and
//!   `MESOS_AUTHENTICATE_HTTP_READWRITE=true` its operator API `POST /api/v1` (realm
//!   `mesos-agent-readwrite`, src/slave/slave.cpp's route). Built with SSL (the default here;
//!   `MESOS_EMULATOR_WITHOUT_SSL=1` is a build without: src/slave/flags.cpp adds the two flags
//!   only under `USE_SSL_SOCKET`, and stout's `FlagsBase::extract` ignores environment
//!   variables of unknown flags), `MESOS_AUTHENTICATE_HTTP_EXECUTORS=true` needs
//!   `MESOS_JWT_SECRET_KEY` (the agent exits without it, slave.cpp) and adds the JWT
//!   authenticator to every realm (`basic,jwt`): a `Bearer` token, HS256-signed with the key
//!   file's bytes (3rdparty/libprocess/src/jwt.cpp, jwt_authenticator.cpp: claims required, `exp`
//!   checked when present), is accepted as Basic credentials are. `/api/v1` answers
//!   `GET_CONTAINERS` (no containers run here).
//!
//! `--help` prints the daemon's flags on stdout and exits 0 (src/slave/main.cpp), the SSL-only
//! ones only in a build with SSL.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mesos_boot_tests::mesos;
use serde_json::{json, Value};
use zookeeper_client as zk;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required(name: &str, why: &str) -> anyhow::Result<String> {
    env(name).with_context(|| format!("{name} is required ({why})"))
}

/// A flag's value, or what the file a `file:///path` value names holds (Mesos' `--zk` and
/// `--master` take either).
fn from_file(name: &str, value: String) -> anyhow::Result<String> {
    match value.strip_prefix("file://") {
        Some(path) => Ok(std::fs::read_to_string(path)
            .with_context(|| format!("{name}={value}"))?
            .trim()
            .to_string()),
        None => Ok(value),
    }
}

/// `zk://h1:2181,h2:2181/mesos` → (`h1:2181,h2:2181`, `/mesos`).
fn parse_zk(url: &str) -> anyhow::Result<(String, String)> {
    let rest = url
        .strip_prefix("zk://")
        .with_context(|| format!("{url}: not a zk:// URL"))?;
    let (hosts, path) = rest
        .split_once('/')
        .with_context(|| format!("{url}: no znode path"))?;
    if hosts.is_empty() {
        bail!("{url}: no ZooKeeper host");
    }
    Ok((hosts.to_string(), format!("/{path}")))
}

fn ip_port(default_port: u16) -> anyhow::Result<(Ipv4Addr, u16)> {
    let ip: Ipv4Addr = env("MESOS_IP")
        .unwrap_or_else(|| "0.0.0.0".into())
        .parse()
        .context("MESOS_IP")?;
    let port = match env("MESOS_PORT") {
        Some(p) => p.parse().context("MESOS_PORT")?,
        None => default_port,
    };
    Ok((ip, port))
}

/// `MESOS_<name>` as a boolean flag (Mesos takes `true`/`false`).
fn flag(name: &str) -> anyhow::Result<bool> {
    match env(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(v) => bail!("{name}={v:?}: expected true or false"),
    }
}

/// Credentials from a file: Mesos' JSON (a list under `credentials`, or one object) or
/// `principal secret` lines.
fn read_credentials(var: &str) -> anyhow::Result<Vec<(String, String)>> {
    let Some(path) = env(var) else {
        return Ok(Vec::new());
    };
    let path = path.strip_prefix("file://").unwrap_or(&path).to_string();
    let text = std::fs::read_to_string(&path).with_context(|| format!("{var}={path}"))?;
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        let list = match v.get("credentials") {
            Some(l) => l.as_array().cloned().unwrap_or_default(),
            None => vec![v],
        };
        return list
            .iter()
            .map(|c| match (c["principal"].as_str(), c["secret"].as_str()) {
                (Some(p), Some(s)) => Ok((p.to_string(), s.to_string())),
                _ => bail!("{var}={path}: a credential without principal and secret"),
            })
            .collect();
    }
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(p, s)| (p.to_string(), s.trim().to_string()))
        .collect())
}

fn hmac_md5(secret: &str, challenge: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<md5::Md5>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(challenge.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// HTTP authentication of one realm: `None` when it is off.
#[derive(Clone)]
struct HttpAuth {
    realm: &'static str,
    accepted: Option<Vec<(String, String)>>,
    /// The JWT authenticator's secret, when it is loaded besides Basic.
    jwt: Option<Vec<u8>>,
}

impl HttpAuth {
    fn new(realm: &'static str, on: bool, accepted: &[(String, String)]) -> HttpAuth {
        HttpAuth {
            realm,
            accepted: on.then(|| accepted.to_vec()),
            jwt: None,
        }
    }

    fn with_jwt(mut self, secret: Option<Vec<u8>>) -> HttpAuth {
        self.jwt = secret;
        self
    }

    /// A 401 unless off, or `headers` carry a Basic credential it accepts (or a valid token,
    /// with the JWT authenticator).
    fn refuse(&self, headers: &HeaderMap) -> Option<Response> {
        let accepted = self.accepted.as_ref()?;
        use base64::Engine;
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        let given = authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let ok = given
            .as_deref()
            .and_then(|g| g.split_once(':'))
            .is_some_and(|(p, s)| accepted.iter().any(|(ap, as_)| ap == p && as_ == s));
        let token_ok = match (
            &self.jwt,
            authorization.and_then(|v| v.strip_prefix("Bearer ")),
        ) {
            (Some(secret), Some(token)) => jwt_claims(token, secret).is_ok(),
            _ => false,
        };
        if ok || token_ok {
            return None;
        }
        // The combined authenticator answers with every scheme's challenge.
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        let h = response.headers_mut();
        h.append(
            "www-authenticate",
            format!("Basic realm=\"{}\"", self.realm).parse().unwrap(),
        );
        if self.jwt.is_some() {
            h.append(
                "www-authenticate",
                format!("Bearer realm=\"{}\"", self.realm).parse().unwrap(),
            );
        }
        Some(response)
    }
}

/// The claims of an HS256 JWT signed with `secret`, as libprocess' `JWT::parse` checks it
/// (3rdparty/libprocess/src/jwt.cpp): three base64url parts, `alg` HS256, the signature over
/// `header.payload`, an `exp` in the future when present; claims must not be empty
/// (jwt_authenticator.cpp).
fn jwt_claims(token: &str, secret: &[u8]) -> Result<serde_json::Map<String, Value>, String> {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("Expected 3 components in token".into());
    };
    let decode = |p: &str| -> Result<Value, String> {
        let bytes = b64
            .decode(p)
            .map_err(|e| format!("Failed to base64url-decode: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    };
    if decode(header)?["alg"] != "HS256" {
        return Err("Token 'alg' is not HS256".into());
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key");
    mac.update(format!("{header}.{payload}").as_bytes());
    let given = b64.decode(signature).map_err(|e| e.to_string())?;
    mac.verify_slice(&given)
        .map_err(|_| "Token signature does not match".to_string())?;
    let claims = decode(payload)?;
    let claims = claims
        .as_object()
        .cloned()
        .ok_or("Token payload is not a JSON object")?;
    if let Some(exp) = claims.get("exp") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if exp.as_u64().is_none_or(|e| e < now) {
            return Err("Token has expired".into());
        }
    }
    if claims.is_empty() {
        return Err("JWT claims missing".into());
    }
    Ok(claims)
}

/// Whether this "build" has SSL (`USE_SSL_SOCKET`): see the module doc.
fn built_with_ssl() -> bool {
    std::env::var("MESOS_EMULATOR_WITHOUT_SSL").as_deref() != Ok("1")
}

/// `--help`: the flags the daemon reads (a subset of Mesos' usage, one `  --name=VALUE` line
/// each), the SSL-only ones only with SSL.
fn usage(role: &str) -> String {
    let mut flags: Vec<&str> = match role {
        "master" => vec![
            "zk",
            "quorum",
            "work_dir",
            "ip",
            "port",
            "hostname",
            "credentials",
        ],
        _ => vec![
            "master",
            "work_dir",
            "ip",
            "port",
            "hostname",
            "credential",
            "http_credentials",
            "authenticate_http_readonly",
            "authenticate_http_readwrite",
        ],
    };
    if role == "agent" && built_with_ssl() {
        flags.extend(["authenticate_http_executors", "jwt_secret_key"]);
    }
    let lines: Vec<String> = flags.iter().map(|f| format!("  --{f}=VALUE")).collect();
    format!("Usage: mesos-{role} [options]\n\n{}\n", lines.join("\n"))
}

async fn connect(hosts: &str) -> anyhow::Result<(zk::Client, bool)> {
    mesos::connect(hosts).await
}

/// The leading master's `MasterInfo`: the lowest `json.info_*` under `path`.
async fn leader(client: &zk::Client, path: &str) -> Option<Value> {
    let mut children = client.list_children(path).await.ok()?;
    children.retain(|c| c.starts_with("json.info_"));
    children.sort();
    let first = children.first()?;
    let (data, _) = client.get_data(&format!("{path}/{first}")).await.ok()?;
    serde_json::from_slice(&data).ok()
}

struct MasterState {
    me: Value,
    leader: Option<Value>,
    cluster: Option<String>,
    agents: BTreeMap<String, Value>,
    /// Whom the master accepts (`MESOS_CREDENTIALS`).
    credentials: Vec<(String, String)>,
    authenticate_agents: bool,
    readonly: HttpAuth,
    /// CRAM-MD5 challenges sent, by pid, and the pids that answered one right.
    challenges: BTreeMap<String, String>,
    authenticated: BTreeMap<String, String>,
    /// The replicas in the log group (`log/ensemble_size`), and whether this one recovered.
    replicas: usize,
    recovered: bool,
    /// This replica's status (src/log/log.proto, `Metadata.Status`).
    log_status: String,
}

type Shared = Arc<Mutex<MasterState>>;

fn pid_of(info: &Value) -> String {
    info["pid"].as_str().unwrap_or_default().to_string()
}

async fn master_state(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let st = st.lock().unwrap();
    if let Some(r) = st.readonly.refuse(&headers) {
        return r;
    }
    let leader = st.leader.as_ref();
    let mut body = json!({
        "version": mesos::MESOS_VERSION,
        "id": st.me["id"],
        "pid": pid_of(&st.me),
        "hostname": st.me["hostname"],
        "activated_slaves": st.agents.len(),
        "slaves": st.agents.values().cloned().collect::<Vec<_>>(),
        "frameworks": [],
    });
    if let Some(l) = leader {
        body["leader"] = json!(pid_of(l));
        body["leader_info"] = l.clone();
    }
    if let Some(c) = &st.cluster {
        body["cluster"] = json!(c);
    }
    axum::Json(body).into_response()
}

/// `/metrics/snapshot` (libprocess' metrics endpoint, behind the read-only realm): the
/// replicated log's gauges under the registrar's prefix, and whether this master leads.
async fn metrics_snapshot(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let st = st.lock().unwrap();
    if let Some(r) = st.readonly.refuse(&headers) {
        return r;
    }
    let elected = st
        .leader
        .as_ref()
        .is_some_and(|l| pid_of(l) == pid_of(&st.me));
    axum::Json(json!({
        "registrar/log/recovered": if st.recovered { 1.0 } else { 0.0 },
        "registrar/log/ensemble_size": st.replicas as f64,
        "master/elected": if elected { 1.0 } else { 0.0 },
    }))
    .into_response()
}

/// A replica's answer to a recover request: its status (src/log/replica.cpp).
async fn recover_request(State(st): State<Shared>) -> Response {
    let status = st.lock().unwrap().log_status.clone();
    axum::Json(json!({ "status": status })).into_response()
}

/// One round of src/log/recover.cpp's protocol for this replica, given every replica's answer
/// (its own included; a replica that does not answer is not counted): its next status.
fn recover_round(own: &str, answers: &[String], quorum: usize, auto_initialize: bool) -> String {
    let count = |s: &str| answers.iter().filter(|a| a.as_str() == s).count();
    let cluster = 2 * quorum - 1;
    if own == "VOTING" || count("VOTING") >= quorum {
        return "VOTING".into();
    }
    if auto_initialize {
        if own == "EMPTY" && count("EMPTY") + count("STARTING") >= cluster {
            return "STARTING".into();
        }
        if own == "STARTING" && count("STARTING") + count("VOTING") >= cluster {
            return "VOTING".into();
        }
    }
    own.to_string()
}

/// How many replicas `path/log_replicas` lists (`log-replica(1)@ip:port` each), and the
/// statuses of those that answer.
async fn replica_statuses(
    client: &zk::Client,
    path: &str,
    own_pid: &str,
    own: &str,
) -> (usize, Vec<String>) {
    let group = format!("{path}/log_replicas");
    let mut pids = Vec::new();
    for child in client.list_children(&group).await.unwrap_or_default() {
        if let Ok((data, _)) = client.get_data(&format!("{group}/{child}")).await {
            pids.push(String::from_utf8_lossy(&data).into_owned());
        }
    }
    let members = pids.len();
    let own_pid = own_pid.to_string();
    let own = own.to_string();
    let answers = tokio::task::spawn_blocking(move || {
        pids.iter()
            .filter_map(|pid| {
                if *pid == own_pid {
                    return Some(own.clone());
                }
                let (id, addr) = pid.split_once('@')?;
                let url = format!("http://{addr}/{id}/mesos.internal.log.RecoverRequest");
                let r = mesos_boot_tests::http::request("POST", &url, &[], b"").ok()?;
                let v: Value = serde_json::from_slice(&r.body).ok()?;
                v["status"].as_str().map(str::to_string)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    (members, answers)
}

/// `/master/slaves`: the registered agents on the leader; a non-leading master redirects to the
/// leader (307), or answers 503 while none is elected, as Mesos does.
async fn master_slaves(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let leading = {
        let st = st.lock().unwrap();
        if let Some(r) = st.readonly.refuse(&headers) {
            return r;
        }
        st.leader
            .as_ref()
            .is_some_and(|l| pid_of(l) == pid_of(&st.me))
    };
    if !leading {
        return master_redirect(State(st)).await;
    }
    let st = st.lock().unwrap();
    axum::Json(json!({
        "slaves": st.agents.values().cloned().collect::<Vec<_>>(),
        "recovered_slaves": [],
    }))
    .into_response()
}

async fn master_redirect(State(st): State<Shared>) -> Response {
    let st = st.lock().unwrap();
    match &st.leader {
        Some(l) => {
            let loc = format!(
                "//{}:{}",
                l["address"]["ip"].as_str().unwrap_or_default(),
                l["port"]
            );
            (StatusCode::TEMPORARY_REDIRECT, [("location", loc)]).into_response()
        }
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn libprocess_from(headers: &HeaderMap) -> String {
    headers
        .get("libprocess-from")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// CRAM-MD5's first step: a challenge for the pid (`{"challenge"}`).
async fn authenticate(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let from = libprocess_from(&headers);
    let r: u128 = rand::random();
    let challenge = format!("<{r:032x}@mesos-master>");
    st.lock()
        .unwrap()
        .challenges
        .insert(from, challenge.clone());
    axum::Json(json!({ "challenge": challenge })).into_response()
}

/// CRAM-MD5's answer (`{"principal", "response"}`): 200 and the pid is authenticated, or 401.
async fn authentication_step(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let from = libprocess_from(&headers);
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut st = st.lock().unwrap();
    let Some(challenge) = st.challenges.remove(&from) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let principal = v["principal"].as_str().unwrap_or_default().to_string();
    let ok = st.credentials.iter().any(|(p, s)| {
        *p == principal && v["response"].as_str() == Some(hmac_md5(s, &challenge).as_str())
    });
    if !ok {
        eprintln!("master: authentication of {from} as {principal:?} refused");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    eprintln!("master: {from} authenticated as {principal}");
    st.authenticated.insert(from, principal);
    StatusCode::OK.into_response()
}

/// A libprocess message from an agent: accepted only by the leader (others drop it, as a
/// non-leading Mesos master does), and with `MESOS_AUTHENTICATE_AGENTS` only from an agent that
/// authenticated (Mesos drops the others too), answered 202 as libprocess does. A registration
/// the master accepts is acknowledged by a message to the agent's pid
/// (`SlaveRegisteredMessage`, `SlaveReregisteredMessage`: src/master/master.cpp); a dropped one
/// gets nothing, and the agent sends it again (src/slave/slave.cpp, `doReliableRegistration`).
async fn register_agent(
    State(st): State<Shared>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let reregister = uri.path().ends_with("ReregisterSlaveMessage");
    let from = headers
        .get("libprocess-from")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let Some((_, addr)) = from.split_once('@') else {
        return (StatusCode::BAD_REQUEST, "missing Libprocess-From").into_response();
    };
    let Ok(info) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "SlaveInfo is not JSON").into_response();
    };
    let mut st = st.lock().unwrap();
    let leading = st
        .leader
        .as_ref()
        .is_some_and(|l| pid_of(l) == pid_of(&st.me));
    if !leading {
        return StatusCode::ACCEPTED.into_response();
    }
    if !st.recovered {
        eprintln!("master: dropping the registration of {from}: the registry has not recovered");
        return StatusCode::ACCEPTED.into_response();
    }
    if st.authenticate_agents && !st.authenticated.contains_key(&from) {
        eprintln!("master: refusing the registration of {from}: it is not authenticated");
        return StatusCode::ACCEPTED.into_response();
    }
    let id = info["id"].as_str().unwrap_or_default().to_string();
    let agent = json!({
        "id": id,
        "pid": from,
        "hostname": info["hostname"],
        "port": addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()),
        "attributes": info["attributes"],
        "active": true,
        "registered_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default(),
    });
    eprintln!("master: agent {id} at {addr} registered");
    st.agents.insert(id.clone(), agent);
    let message = if reregister {
        "SlaveReregisteredMessage"
    } else {
        "SlaveRegisteredMessage"
    };
    let url = format!("http://{addr}/slave(1)/mesos.internal.{message}");
    let me = format!(
        "master@{}",
        pid_of(&st.me)
            .split_once('@')
            .map(|x| x.1)
            .unwrap_or_default()
    );
    let ack = json!({ "slave_id": id, "master_hostname": st.me["hostname"] }).to_string();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = mesos_boot_tests::http::request(
            "POST",
            &url,
            &[("Libprocess-From", &me)],
            ack.as_bytes(),
        ) {
            eprintln!("master: {url}: {e}");
        }
    });
    StatusCode::ACCEPTED.into_response()
}

async fn run_master() -> anyhow::Result<()> {
    let zk_url = from_file("MESOS_ZK", required("MESOS_ZK", "the master's --zk")?)?;
    let (hosts, path) = parse_zk(&zk_url)?;
    let quorum: usize = required("MESOS_QUORUM", "--quorum must be given with --zk")?
        .parse()
        .context("MESOS_QUORUM")?;
    let work_dir = required("MESOS_WORK_DIR", "--work_dir: the replicated log")?;
    let log_dir = std::path::Path::new(&work_dir).join("replicated_log");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("MESOS_WORK_DIR {work_dir}"))?;
    let status_file = log_dir.join("status");
    let log_status = std::fs::read_to_string(&status_file)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "EMPTY".to_string());
    let auto_initialize =
        env("MESOS_LOG_AUTO_INITIALIZE").is_none() || flag("MESOS_LOG_AUTO_INITIALIZE")?;
    let (ip, port) = ip_port(5050)?;
    let hostname = env("MESOS_HOSTNAME").unwrap_or_else(|| ip.to_string());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, port)))
        .await
        .with_context(|| format!("bind {ip}:{port}"))?;

    let credentials = read_credentials("MESOS_CREDENTIALS")?;
    let authenticate_agents = flag("MESOS_AUTHENTICATE_AGENTS")?;
    let readonly = HttpAuth::new(
        "mesos-master-readonly",
        flag("MESOS_AUTHENTICATE_HTTP_READONLY")?,
        &credentials,
    );
    let (client, authenticated) = connect(&hosts).await?;
    // The replica joins the log group, then the master contends (src/master/main.cpp), each
    // as src/zookeeper/group.cpp joins a group; a refused join aborts (src/log/log.cpp).
    let replica_pid = format!("log-replica(1)@{ip}:{port}");
    let log_group = format!("{path}/log_replicas");
    mesos::join(
        &client,
        authenticated,
        &log_group,
        "",
        replica_pid.as_bytes(),
    )
    .await
    .context("Failed to participate in ZooKeeper group")?;
    let info = mesos::master_info_json(ip, &hostname, port);
    let data = serde_json::to_vec(&info)?;
    let znode = mesos::join(&client, authenticated, &path, "json.info_", &data).await?;
    eprintln!("master: {ip}:{port} contending as {znode} (quorum {quorum})");

    let state: Shared = Arc::new(Mutex::new(MasterState {
        me: info,
        leader: None,
        cluster: env("MESOS_CLUSTER"),
        agents: BTreeMap::new(),
        credentials,
        authenticate_agents,
        readonly,
        challenges: BTreeMap::new(),
        authenticated: BTreeMap::new(),
        replicas: 0,
        recovered: false,
        log_status: log_status.clone(),
    }));
    let app = axum::Router::new()
        .route("/master/state", get(master_state))
        .route("/state", get(master_state))
        .route("/master/redirect", get(master_redirect))
        .route("/master/slaves", get(master_slaves))
        .route("/health", get(|| async { StatusCode::OK }))
        .route("/master/health", get(|| async { StatusCode::OK }))
        .route("/metrics/snapshot", get(metrics_snapshot))
        .route(
            "/log-replica(1)/mesos.internal.log.RecoverRequest",
            post(recover_request),
        )
        .route(
            "/master/mesos.internal.RegisterSlaveMessage",
            post(register_agent),
        )
        .route(
            "/master/mesos.internal.ReregisterSlaveMessage",
            post(register_agent),
        )
        .route(
            "/master/mesos.internal.AuthenticateMessage",
            post(authenticate),
        )
        .route(
            "/master/mesos.internal.AuthenticationStepMessage",
            post(authentication_step),
        )
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut events = client.state_watcher();
    let mut was_leader = false;
    loop {
        let l = leader(&client, &path).await;
        let leading = l.as_ref().is_some_and(|l| {
            let st = state.lock().unwrap();
            pid_of(l) == pid_of(&st.me)
        });
        if leading && !was_leader {
            eprintln!("master: elected leader");
        }
        was_leader = leading;
        let own = state.lock().unwrap().log_status.clone();
        let (members, answers) = replica_statuses(&client, &path, &replica_pid, &own).await;
        let next = recover_round(&own, &answers, quorum, auto_initialize);
        if next != own {
            std::fs::write(&status_file, &next).context("replicated_log/status")?;
            eprintln!("master: replica {own} -> {next} (answers {answers:?}, quorum {quorum})");
        }
        {
            let mut st = state.lock().unwrap();
            st.leader = l;
            st.replicas = members;
            st.log_status.clone_from(&next);
            if !st.recovered && next == "VOTING" {
                eprintln!("master: replicated log recovered");
                st.recovered = true;
            }
        }
        tokio::select! {
            s = events.changed() => {
                if matches!(s, zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed) {
                    bail!("lost the ZooKeeper session ({s:?}): exiting, as Mesos does");
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

type AgentShared = Arc<(Mutex<Value>, HttpAuth, HttpAuth)>;

/// Set by the registered master's `ShutdownMessage`: the agent's loop exits 0.
static SHUT_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn agent_shutdown(State(st): State<AgentShared>, headers: HeaderMap) -> Response {
    let from = headers
        .get("libprocess-from")
        .and_then(|v| v.to_str().ok())
        .and_then(|f| f.split_once('@'))
        .map(|(_, a)| a.to_string());
    let registered = st.0.lock().unwrap()["registered_with"]
        .as_str()
        .map(str::to_string);
    if from.is_some() && from == registered {
        eprintln!(
            "agent: asked to shut down by master@{}",
            from.unwrap_or_default()
        );
        SHUT_DOWN.store(true, std::sync::atomic::Ordering::SeqCst);
    } else {
        eprintln!("agent: ignoring a shutdown message from {from:?}: not the registered master");
    }
    StatusCode::ACCEPTED.into_response()
}

/// The agent's operator API (`POST /api/v1`, read-write realm): `GET_CONTAINERS`.
async fn agent_api(State(st): State<AgentShared>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = st.2.refuse(&headers) {
        return r;
    }
    let call: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body into JSON: {e}"),
            )
                .into_response()
        }
    };
    match call["type"].as_str() {
        Some("GET_CONTAINERS") => axum::Json(json!({
            "type": "GET_CONTAINERS",
            "get_containers": {"containers": []},
        }))
        .into_response(),
        other => (
            StatusCode::BAD_REQUEST,
            format!("Failed to validate agent::Call: unsupported here: {other:?}"),
        )
            .into_response(),
    }
}

/// The master's acknowledgement: the agent is registered with the master that sent it
/// (`registered_with` is its address; `master_hostname` what `/state` shows).
async fn agent_registered(
    State(st): State<AgentShared>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let from = headers
        .get("libprocess-from")
        .and_then(|v| v.to_str().ok())
        .and_then(|f| f.split_once('@'))
        .map(|(_, a)| a.to_string());
    let (Some(from), Ok(ack)) = (from, serde_json::from_str::<Value>(&body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut s = st.0.lock().unwrap();
    s["master_hostname"] = ack["master_hostname"].clone();
    s["registered_with"] = json!(from);
    StatusCode::ACCEPTED.into_response()
}

async fn agent_state(State(st): State<AgentShared>, headers: HeaderMap) -> Response {
    if let Some(r) = st.1.refuse(&headers) {
        return r;
    }
    axum::Json(st.0.lock().unwrap().clone()).into_response()
}

/// CRAM-MD5 with the master at `addr` as `pid`, with `credential`: whether it accepted.
fn authenticate_with(addr: &str, pid: &str, credential: &(String, String)) -> Result<bool, String> {
    let url = format!("http://{addr}/master/mesos.internal.AuthenticateMessage");
    let r = mesos_boot_tests::http::request("POST", &url, &[("Libprocess-From", pid)], b"")
        .map_err(|e| format!("{url}: {e}"))?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("{url}: {e}"))?;
    let challenge = v["challenge"]
        .as_str()
        .ok_or(format!("{url}: no challenge"))?;
    let step = json!({
        "principal": credential.0,
        "response": hmac_md5(&credential.1, challenge),
    });
    let url = format!("http://{addr}/master/mesos.internal.AuthenticationStepMessage");
    let r = mesos_boot_tests::http::request(
        "POST",
        &url,
        &[("Libprocess-From", pid)],
        step.to_string().as_bytes(),
    )
    .map_err(|e| format!("{url}: {e}"))?;
    Ok(r.status == 200)
}

fn attributes(spec: &str) -> Value {
    spec.split(';')
        .filter_map(|kv| kv.split_once(':'))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn run_agent() -> anyhow::Result<()> {
    let master = from_file(
        "MESOS_MASTER",
        required("MESOS_MASTER", "the agent's --master")?,
    )?;
    let work_dir = required("MESOS_WORK_DIR", "the agent's --work_dir")?;
    let (ip, port) = ip_port(5051)?;
    let hostname = env("MESOS_HOSTNAME").unwrap_or_else(|| ip.to_string());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((ip, port)))
        .await
        .with_context(|| format!("bind {ip}:{port}"))?;
    let meta = std::path::Path::new(&work_dir).join("meta/slaves");
    std::fs::create_dir_all(&meta).with_context(|| format!("MESOS_WORK_DIR {work_dir}"))?;
    let latest = meta.join("latest");
    let id = match std::fs::read_to_string(&latest) {
        Ok(id) => id.trim().to_string(),
        Err(_) => {
            let r: u64 = rand::random();
            let id = format!("{r:016x}-S0");
            std::fs::write(&latest, &id).with_context(|| format!("{}", latest.display()))?;
            id
        }
    };
    let slave_info = json!({
        "id": id,
        "hostname": hostname,
        "port": port,
        "attributes": attributes(&env("MESOS_ATTRIBUTES").unwrap_or_default()),
        "containerizers": env("MESOS_CONTAINERIZERS").unwrap_or_else(|| "mesos".into()),
    });
    let credential = read_credentials("MESOS_CREDENTIAL")?.into_iter().next();
    let http_auth = HttpAuth::new(
        "mesos-agent-readonly",
        flag("MESOS_AUTHENTICATE_HTTP_READONLY")?,
        &read_credentials("MESOS_HTTP_CREDENTIALS")?,
    );
    // src/slave/slave.cpp: with SSL, `authenticate_http_executors` needs the key, and loads
    // the JWT authenticator (with Basic) into every realm; without SSL both flags do not exist.
    let jwt = if built_with_ssl() && flag("MESOS_AUTHENTICATE_HTTP_EXECUTORS")? {
        let Some(path) = env("MESOS_JWT_SECRET_KEY") else {
            bail!("--jwt_secret_key must be specified when --authenticate_http_executors is set to true");
        };
        Some(
            std::fs::read(&path)
                .context("Failed to read the file specified by --jwt_secret_key")?,
        )
    } else {
        None
    };
    let readwrite = HttpAuth::new(
        "mesos-agent-readwrite",
        flag("MESOS_AUTHENTICATE_HTTP_READWRITE")?,
        &read_credentials("MESOS_HTTP_CREDENTIALS")?,
    )
    .with_jwt(jwt.clone());
    let state = Arc::new((
        Mutex::new(json!({
            "id": id, "hostname": hostname, "pid": format!("slave(1)@{ip}:{port}"),
            "version": mesos::MESOS_VERSION, "master_hostname": null,
        })),
        http_auth.with_jwt(jwt),
        readwrite,
    ));
    let app = axum::Router::new()
        .route("/state", get(agent_state))
        .route("/slave(1)/state", get(agent_state))
        .route("/api/v1", post(agent_api))
        .route(
            "/slave(1)/mesos.internal.ShutdownMessage",
            post(agent_shutdown),
        )
        .route("/slave(1)/api/v1", post(agent_api))
        .route(
            "/slave(1)/mesos.internal.SlaveRegisteredMessage",
            post(agent_registered),
        )
        .route(
            "/slave(1)/mesos.internal.SlaveReregisteredMessage",
            post(agent_registered),
        )
        .route("/health", get(|| async { StatusCode::OK }))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let zk_source = if master.starts_with("zk://") {
        let (hosts, path) = parse_zk(&master)?;
        Some((connect(&hosts).await?.0, path))
    } else {
        None
    };
    // Whom it authenticated with, and whom it ever registered with (the next registration with
    // another master is a re-registration).
    let mut authenticated_with: Option<String> = None;
    let mut ever_registered = false;
    loop {
        if SHUT_DOWN.load(std::sync::atomic::Ordering::SeqCst) {
            // No framework runs here: the agent terminates at once, and main returns 0.
            return Ok(());
        }
        if let Some((client, _)) = &zk_source {
            let s = client.state();
            if s.is_terminated() {
                bail!("lost the ZooKeeper session ({s:?})");
            }
        }
        let target = match &zk_source {
            Some((client, path)) => leader(client, path).await.map(|l| {
                (
                    format!(
                        "{}:{}",
                        l["address"]["ip"].as_str().unwrap_or_default(),
                        l["port"]
                    ),
                    l["hostname"].clone(),
                )
            }),
            None => Some((master.clone(), json!(master))),
        };
        let acknowledged = state.0.lock().unwrap()["registered_with"]
            .as_str()
            .map(str::to_string);
        if acknowledged.is_some() {
            ever_registered = true;
        }
        if let Some((addr, _)) = target {
            if acknowledged.as_deref() != Some(addr.as_str()) {
                let message = if ever_registered {
                    "ReregisterSlaveMessage"
                } else {
                    "RegisterSlaveMessage"
                };
                let url = format!("http://{addr}/master/mesos.internal.{message}");
                let from = format!("slave(1)@{ip}:{port}");
                if let Some(c) = credential
                    .clone()
                    .filter(|_| authenticated_with.as_deref() != Some(addr.as_str()))
                {
                    let (a, f) = (addr.clone(), from.clone());
                    let ok =
                        tokio::task::spawn_blocking(move || authenticate_with(&a, &f, &c)).await?;
                    match ok {
                        Ok(true) => {
                            eprintln!("agent: authenticated with {addr}");
                            authenticated_with = Some(addr.clone());
                        }
                        Ok(false) => {
                            eprintln!("agent: {addr} refused the credential");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                        Err(e) => {
                            eprintln!("agent: authenticating with {addr}: {e}");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    }
                }
                let sent = tokio::task::spawn_blocking({
                    let body = slave_info.to_string();
                    move || {
                        mesos_boot_tests::http::request(
                            "POST",
                            &url,
                            &[("Libprocess-From", from.as_str())],
                            body.as_bytes(),
                        )
                    }
                })
                .await?;
                match sent {
                    // Sent; until the master acknowledges it, sent again (every second here:
                    // Mesos backs off from `registration_backoff_factor`, 1 s).
                    Ok(r) if r.status == 202 => {
                        eprintln!("agent: {message} sent to the leading master {addr}");
                    }
                    Ok(r) => eprintln!("agent: {addr} answered {}", r.status),
                    Err(e) => eprintln!("agent: {addr}: {e}"),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn main() {
    let argv0 = std::env::args().next().unwrap_or_default();
    let name = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let role = match (name.as_str(), std::env::args().nth(1).as_deref()) {
        ("mesos-master", _) | (_, Some("master")) => "master",
        ("mesos-agent" | "mesos-slave", _) | (_, Some("agent")) => "agent",
        _ => {
            eprintln!("mesos-emulator: run as mesos-master or mesos-agent (or with master|agent)");
            std::process::exit(2);
        }
    };
    if std::env::args().any(|a| a == "--version") {
        println!("mesos {}", mesos::MESOS_VERSION);
        return;
    }
    if std::env::args().any(|a| a == "--help") {
        print!("{}", usage(role));
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        if role == "master" {
            run_master().await
        } else {
            run_agent().await
        }
    });
    if let Err(e) = result {
        eprintln!("mesos-{role}: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::recover_round;

    fn all(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn recovery_as_src_log_recover_cpp_decides_it() {
        // Formation (quorum 2, three replicas): all must answer, in two phases.
        assert_eq!(
            recover_round("EMPTY", &all(&["EMPTY", "EMPTY"]), 2, true),
            "EMPTY"
        );
        assert_eq!(
            recover_round("EMPTY", &all(&["EMPTY", "EMPTY", "STARTING"]), 2, true),
            "STARTING"
        );
        assert_eq!(
            recover_round(
                "STARTING",
                &all(&["STARTING", "STARTING", "EMPTY"]),
                2,
                true
            ),
            "STARTING"
        );
        assert_eq!(
            recover_round(
                "STARTING",
                &all(&["STARTING", "VOTING", "STARTING"]),
                2,
                true
            ),
            "VOTING"
        );
        // A new replica catches up from a quorum of VOTING ones; one is not enough.
        assert_eq!(
            recover_round("EMPTY", &all(&["EMPTY", "VOTING"]), 2, true),
            "EMPTY"
        );
        assert_eq!(
            recover_round("EMPTY", &all(&["EMPTY", "VOTING", "VOTING"]), 2, false),
            "VOTING"
        );
        // Without auto-initialisation, all empty stays empty.
        assert_eq!(
            recover_round("EMPTY", &all(&["EMPTY", "EMPTY", "EMPTY"]), 2, false),
            "EMPTY"
        );
        assert_eq!(
            recover_round("VOTING", &all(&["VOTING"]), 2, false),
            "VOTING"
        );
    }
}
