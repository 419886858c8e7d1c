//! An IMDSv2 (EC2 instance metadata service) emulator.
//!
//! It owns the token flow and the metadata paths `mesos-boot` reads, served by
//! axum on `127.0.0.1:<ephemeral>` from its own single-threaded tokio runtime
//! in a background thread, so sync and async tests can both use it. Dropping
//! the [`ImdsEmulator`] stops the server.
//!
//! Token flow as on AWS:
//! * `PUT /latest/api/token` needs `X-aws-ec2-metadata-token-ttl-seconds` in
//!   `1..=21600` (else 400) and returns a random token valid that long;
//! * every `GET` needs `X-aws-ec2-metadata-token` with a live token (else 401).
//!
//! Paths (under `/latest`): `meta-data/instance-id`, `local-ipv4`,
//! `local-hostname`, `hostname`, `placement/availability-zone`,
//! `placement/region`, `instance-type`, `tags/instance` (keys, one per line),
//! `tags/instance/<key>`, `autoscaling/target-lifecycle-state` (404 outside a group),
//! `user-data` (404 when none),
//! `dynamic/instance-identity/document`, the listings of `meta-data/`, `placement/`, `tags/`,
//! `dynamic/` and `dynamic/instance-identity/`
//! (as cloud-init crawls them), every dated API version (`/2009-04-04/...`) as `latest`;
//! anything else is 404. With tags
//! disabled ([`ImdsEmulator::set_tags_enabled`]) the tag paths answer 404, as
//! AWS does when instance metadata tags are off.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};

/// Header carrying the requested token lifetime on `PUT /latest/api/token`.
pub const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// Header carrying the session token on metadata requests.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Longest token lifetime AWS accepts (6 hours).
pub const MAX_TTL_SECONDS: u64 = 21600;

/// What the emulated instance looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    pub local_ipv4: Ipv4Addr,
    pub local_hostname: String,
    pub availability_zone: String,
    pub region: String,
    pub instance_type: String,
    /// Instance tags; keys may contain ':' (e.g. `mesos:cluster`).
    pub tags: BTreeMap<String, String>,
    pub user_data: Option<String>,
    /// `autoscaling/target-lifecycle-state` (`InService`, `Terminated`, ...); `None` (404)
    /// outside an Auto Scaling group. A test mirrors its group's state here
    /// ([`target_state_of`]), as EC2 does.
    pub target_lifecycle_state: Option<String>,
}

/// The target lifecycle state IMDS shows for an Auto Scaling lifecycle state: where the
/// instance is headed (`Pending:Wait` → `InService`, `Terminating:Wait` → `Terminated`).
pub fn target_state_of(lifecycle_state: &str) -> Option<&'static str> {
    match lifecycle_state {
        s if s.starts_with("Pending") || s == "InService" => Some("InService"),
        s if s.starts_with("Terminating") || s == "Terminated" => Some("Terminated"),
        s if s.starts_with("Detach") => Some("Detached"),
        s if s.starts_with("EnteringStandby") || s == "Standby" => Some("Standby"),
        _ => None,
    }
}

impl Instance {
    /// A plausible instance at `ip`: a random `i-…` id, hostname
    /// `ip-a-b-c-d.ec2.internal`, `us-east-1a`, `t3.medium`, no tags, no user data.
    pub fn at(ip: Ipv4Addr) -> Instance {
        let mut rng = rand::rng();
        let hex: String = (0..17)
            .map(|_| {
                let n = rand::Rng::random_range(&mut rng, 0..16u32);
                std::char::from_digit(n, 16).unwrap()
            })
            .collect();
        let [a, b, c, d] = ip.octets();
        Instance {
            instance_id: format!("i-{hex}"),
            local_ipv4: ip,
            local_hostname: format!("ip-{a}-{b}-{c}-{d}.ec2.internal"),
            availability_zone: "us-east-1a".into(),
            region: "us-east-1".into(),
            instance_type: "t3.medium".into(),
            tags: BTreeMap::new(),
            user_data: None,
            target_lifecycle_state: None,
        }
    }

    /// Builder: adds (or replaces) a tag.
    pub fn with_tag(mut self, key: &str, value: &str) -> Instance {
        self.tags.insert(key.to_string(), value.to_string());
        self
    }

    /// Builder: sets the user data.
    pub fn with_user_data(mut self, user_data: &str) -> Instance {
        self.user_data = Some(user_data.to_string());
        self
    }

    fn identity_document(&self) -> serde_json::Value {
        serde_json::json!({
            "accountId": "123456789012",
            "architecture": "x86_64",
            "availabilityZone": self.availability_zone,
            "billingProducts": null,
            "devpayProductCodes": null,
            "marketplaceProductCodes": null,
            "imageId": "ami-0123456789abcdef0",
            "instanceId": self.instance_id,
            "instanceType": self.instance_type,
            "kernelId": null,
            "pendingTime": "2024-01-01T00:00:00Z",
            "privateIp": self.local_ipv4.to_string(),
            "ramdiskId": null,
            "region": self.region,
            "version": "2017-09-30",
        })
    }
}

struct Inner {
    instance: Instance,
    tags_enabled: bool,
    fail: Option<u16>,
    /// Requests left to fail with `fail` (`None`: until cleared).
    fail_left: Option<u64>,
    /// token → (expiry, the address it was issued to: a token is good only on its instance).
    tokens: HashMap<String, (Instant, std::net::IpAddr)>,
    /// Per-source instances ([`ImdsEmulator::set_instance_for`]): one emulator at
    /// 169.254.169.254 answering many instances, each by its own address, as each EC2 host does.
    by_source: HashMap<Ipv4Addr, Instance>,
    total: u64,
    per_path: HashMap<String, u64>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running IMDSv2 emulator; stops on drop.
pub struct ImdsEmulator {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ImdsEmulator {
    /// Starts serving `instance` on `127.0.0.1:<ephemeral port>`. Tags are
    /// enabled and no failure is injected.
    pub fn start(instance: Instance) -> ImdsEmulator {
        ImdsEmulator::start_at(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), instance)
    }

    /// Starts serving on `addr` (e.g. `169.254.169.254:80` inside a network namespace of the
    /// test's own). Requests from an address given to [`ImdsEmulator::set_instance_for`] get
    /// that instance; any other source gets `instance`.
    pub fn start_at(addr: SocketAddr, instance: Instance) -> ImdsEmulator {
        let listener = std::net::TcpListener::bind(addr)
            .unwrap_or_else(|e| panic!("bind IMDS emulator on {addr}: {e}"));
        listener
            .set_nonblocking(true)
            .expect("set IMDS listener non-blocking");
        let addr = listener.local_addr().expect("IMDS listener address");
        let state: Shared = Arc::new(Mutex::new(Inner {
            instance,
            tags_enabled: true,
            fail: None,
            fail_left: None,
            tokens: HashMap::new(),
            by_source: HashMap::new(),
            total: 0,
            per_path: HashMap::new(),
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let thread = std::thread::Builder::new()
            .name(format!("imds-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("IMDS runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("IMDS tokio listener");
                    let app = app.into_make_service_with_connect_info::<SocketAddr>();
                    tokio::select! {
                        r = axum::serve(listener, app) => {
                            if let Err(e) = r {
                                eprintln!("IMDS emulator on {addr} stopped: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
                // Dropping the runtime cancels open connections too.
            })
            .expect("start IMDS emulator thread");
        ImdsEmulator {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, to hand to the code under test.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns instance metadata tags on or off (off: tag paths answer 404).
    pub fn set_tags_enabled(&self, enabled: bool) {
        self.lock().tags_enabled = enabled;
    }

    /// `Some(status)`: answer every request (token `PUT` included) with that
    /// status and an empty body. `None`: behave normally again.
    pub fn set_fail(&self, status: Option<u16>) {
        if let Some(s) = status {
            assert!(
                StatusCode::from_u16(s).is_ok(),
                "invalid HTTP status {s} for set_fail"
            );
        }
        let mut st = self.lock();
        st.fail = status;
        st.fail_left = None;
    }

    /// Answers the next `n` requests with `status` (e.g. 429, IMDS throttling), then behaves
    /// normally again.
    pub fn set_fail_for(&self, status: u16, n: u64) {
        let mut st = self.lock();
        st.fail = Some(status);
        st.fail_left = Some(n);
    }

    /// Replaces the instance data served from now on (tokens stay valid).
    pub fn set_instance(&self, instance: Instance) {
        self.lock().instance = instance;
    }

    /// Serves `instance` to requests from `source` (its own address).
    pub fn set_instance_for(&self, source: Ipv4Addr, instance: Instance) {
        self.lock().by_source.insert(source, instance);
    }

    /// Stops serving the instance at `source` (it answers as to any other source).
    pub fn remove_instance_for(&self, source: Ipv4Addr) {
        self.lock().by_source.remove(&source);
    }

    /// The instance data currently served.
    pub fn instance(&self) -> Instance {
        self.lock().instance.clone()
    }

    /// Requests received so far, whatever their outcome.
    pub fn requests(&self) -> u64 {
        self.lock().total
    }

    /// Requests received so far whose path starts with `path_prefix`
    /// (e.g. `/latest/api/token`, `/latest/meta-data/tags/instance`).
    pub fn requests_for(&self, path_prefix: &str) -> u64 {
        self.lock()
            .per_path
            .iter()
            .filter(|(p, _)| p.starts_with(path_prefix))
            .map(|(_, n)| *n)
            .sum()
    }
}

impl Drop for ImdsEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn status_only(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

/// IMDS serves every API version (`/latest/`, `/2009-04-04/`, `/2021-03-23/`, ...) the same
/// way: versioned paths are answered as `/latest/...`.
fn versioned(path: &str) -> String {
    let mut parts = path.splitn(3, '/');
    let (_, version, rest) = (parts.next(), parts.next(), parts.next());
    match (version, rest) {
        (Some(v), Some(rest))
            if v.len() == 10 && v.bytes().all(|b| b.is_ascii_digit() || b == b'-') =>
        {
            format!("/latest/{rest}")
        }
        _ => path.to_string(),
    }
}

/// Decodes `%XX` escapes (tag keys may arrive with ':' escaped).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    State(state): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = versioned(uri.path());
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    st.total += 1;
    *st.per_path.entry(path.clone()).or_default() += 1;

    if let Some(code) = st.fail {
        let fail_now = match st.fail_left {
            Some(0) => {
                st.fail = None;
                st.fail_left = None;
                false
            }
            Some(n) => {
                st.fail_left = Some(n - 1);
                true
            }
            None => true,
        };
        if fail_now {
            return status_only(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
    }

    let now = Instant::now();
    st.tokens.retain(|_, (exp, _)| *exp > now);

    if path == "/latest/api/token" {
        if method != Method::PUT {
            return status_only(StatusCode::METHOD_NOT_ALLOWED);
        }
        let ttl = headers
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        return match ttl {
            Some(ttl @ 1..=MAX_TTL_SECONDS) => {
                let token = Alphanumeric.sample_string(&mut rand::rng(), 56);
                st.tokens
                    .insert(token.clone(), (now + Duration::from_secs(ttl), peer.ip()));
                let mut r = text(StatusCode::OK, token);
                r.headers_mut().insert(TTL_HEADER, HeaderValue::from(ttl));
                r
            }
            _ => status_only(StatusCode::BAD_REQUEST),
        };
    }

    if method != Method::GET && method != Method::HEAD {
        return status_only(StatusCode::METHOD_NOT_ALLOWED);
    }
    let token_ok = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| st.tokens.get(t).is_some_and(|(_, ip)| *ip == peer.ip()));
    if !token_ok {
        return status_only(StatusCode::UNAUTHORIZED);
    }

    let i = match peer.ip() {
        std::net::IpAddr::V4(v4) => st.by_source.get(&v4).unwrap_or(&st.instance),
        _ => &st.instance,
    };
    let found = |s: String| text(StatusCode::OK, s);
    let not_found = || status_only(StatusCode::NOT_FOUND);
    let md = path.strip_prefix("/latest/meta-data/");
    match (path.as_str(), md) {
        // Directory listings, as cloud-init's Ec2 datasource crawls them.
        ("/latest/meta-data/" | "/latest/meta-data", _) => found(
            "ami-id\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\nplacement/\ntags/"
                .to_string(),
        ),
        (_, Some("ami-id")) => found("ami-0123456789abcdef0".to_string()),
        (_, Some("autoscaling/" | "autoscaling")) if i.target_lifecycle_state.is_some() => {
            found("target-lifecycle-state".to_string())
        }
        (_, Some("autoscaling/target-lifecycle-state")) => match &i.target_lifecycle_state {
            Some(state) => found(state.clone()),
            None => not_found(),
        },
        (_, Some("placement/" | "placement")) => {
            found("availability-zone\nregion".to_string())
        }
        (_, Some("tags/" | "tags")) if st.tags_enabled => found("instance".to_string()),
        ("/latest/user-data", _) => match &i.user_data {
            Some(u) => found(u.clone()),
            None => not_found(),
        },
        // EC2 lists the identity documents; cloud-init (on AWS) crawls the listing first.
        ("/latest/dynamic/" | "/latest/dynamic", _) => found("instance-identity/".to_string()),
        ("/latest/dynamic/instance-identity/" | "/latest/dynamic/instance-identity", _) => {
            found("document".to_string())
        }
        ("/latest/dynamic/instance-identity/document", _) => {
            let mut r = axum::Json(i.identity_document()).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            r
        }
        (_, Some("instance-id")) => found(i.instance_id.clone()),
        (_, Some("local-ipv4")) => found(i.local_ipv4.to_string()),
        (_, Some("local-hostname" | "hostname")) => found(i.local_hostname.clone()),
        (_, Some("placement/availability-zone")) => found(i.availability_zone.clone()),
        (_, Some("placement/region")) => found(i.region.clone()),
        (_, Some("instance-type")) => found(i.instance_type.clone()),
        (_, Some(rest)) if rest == "tags/instance" || rest.starts_with("tags/instance/") => {
            if !st.tags_enabled {
                return not_found();
            }
            match rest.strip_prefix("tags/instance").unwrap_or("") {
                "" | "/" => found(i.tags.keys().cloned().collect::<Vec<_>>().join("\n")),
                key => {
                    let key = percent_decode(&key[1..]);
                    match i.tags.get(&key) {
                        Some(v) => found(v.clone()),
                        None => not_found(),
                    }
                }
            }
        }
        _ => not_found(),
    }
}
