//! `mesos-boot serve`: Exhibitor's REST API for ZooKeeper clients and load balancers, served
//! from the shared config and live four-letter-word checks.
//!
//! - `GET /exhibitor/v1/cluster/list`: `{"servers":[...],"port":2181}`, or with
//!   `Accept: application/x-www-form-urlencoded` the form Apache Curator's
//!   ExhibitorEnsembleProvider reads: `count=3&server0=h1&server1=h2&server2=h3&port=2181`;
//! - `GET /exhibitor/v1/cluster/status`: one `{hostname, code, description, isLeader}` per server
//!   (codes: LATENT 0, DOWN 1, NOT_SERVING 2, SERVING 3);
//! - `GET /exhibitor/v1/cluster/state`: this node only; `cluster/state/{host}`: a listed server;
//! - `GET /exhibitor/v1/cluster/4ltr/{word}[/{host}]`, `GET /exhibitor/v1/config/get-state`:
//!   see [`exhibitor`];
//! - `GET /metrics`: Prometheus text, see [`metrics`];
//! - `GET /health`: 200 while the local server serves with quorum, 503 otherwise;
//! - `GET /`: a read-only status page for operators, see [`status_page`].
//!
//! Alongside, the membership reconcile loop ([`crate::zookeeper::reconcile`]) removes dead
//! members and, once Auto Scaling terminates this instance, leaves the ensemble
//! ([`crate::zookeeper::leave`]); the backup loop ([`crate::zookeeper::backup`]) copies the data
//! to the cluster bucket.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::cli::ServeArgs;
use crate::failure::{Failure, Result};
use crate::instances::Aws;
use crate::lifecycle::Hook;
use crate::record;
use crate::shared_config::{Location, SharedConfig, Store};
use crate::zookeeper::quorum::{self, Mode};
use crate::zookeeper::reconcile::{LastPassCell, Reconciler};
use crate::zookeeper::{backup, leave};

mod exhibitor;
mod metrics;
mod status_page;

/// What the API needs: where the shared config lives and which server is local.
pub struct Api {
    store: Store,
    /// `host:client-port` of the local server.
    local: String,
    /// The local server's id.
    myid: u32,
    /// The reconcile loop's last outcome (none while membership checks are off).
    last_pass: LastPassCell,
    /// This node's last backup.
    last_backup: backup::LastBackupCell,
}

pub(crate) fn code(mode: Mode) -> (u8, &'static str) {
    match mode {
        Mode::Leader | Mode::Follower | Mode::Observer | Mode::Standalone => (3, "serving"),
        Mode::NotServing => (2, "not serving"),
        Mode::Down => (1, "down"),
    }
}

impl Api {
    async fn config(&self) -> std::result::Result<SharedConfig, String> {
        let snap = self.store.read().await.map_err(|e| e.to_string())?;
        let snap = snap.ok_or_else(|| format!("{} does not exist", self.store.location()))?;
        let cfg = SharedConfig::parse(&snap.text)
            .map_err(|e| format!("{}: {e}", self.store.location()))?;
        cfg.validate().map_err(|e| e.to_string())?;
        Ok(cfg)
    }
}

pub(crate) fn unavailable(message: String) -> Response {
    tracing::warn!(error = %message, "shared config unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": message })),
    )
        .into_response()
}

async fn list(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let cfg = match api.config().await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let servers: Vec<String> = cfg
        .servers()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.host)
        .collect();
    let port = cfg.client_port().unwrap_or(2181);
    let wants_form = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/x-www-form-urlencoded"));
    if wants_form {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("count", &servers.len().to_string());
        for (i, s) in servers.iter().enumerate() {
            form.append_pair(&format!("server{i}"), s);
        }
        form.append_pair("port", &port.to_string());
        (
            [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
            form.finish(),
        )
            .into_response()
    } else {
        Json(json!({ "servers": servers, "port": port })).into_response()
    }
}

async fn status(State(api): State<Arc<Api>>) -> Response {
    let cfg = match api.config().await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let servers = cfg.servers().unwrap_or_default();
    // One look at the whole ensemble, so that a leader with leaderServes=no is recognised.
    let ensemble = crate::boot::ensemble_of(&cfg).unwrap_or_default();
    let state = quorum::ensemble_state(&ensemble).await;
    let entries: Vec<_> = servers
        .iter()
        .map(|s| {
            let mode = state
                .servers
                .iter()
                .find(|st| st.id == s.id)
                .map_or(Mode::Down, |st| st.mode);
            let (code, description) = code(mode);
            json!({ "hostname": s.host, "code": code, "description": description, "isLeader": mode == Mode::Leader })
        })
        .collect();
    Json(entries).into_response()
}

/// The local server's mode; a "not serving" answer is checked against the ensemble, since a
/// leader with leaderServes=no answers so.
pub(crate) async fn local_mode(api: &Api) -> Mode {
    let ensemble = match api.config().await {
        Ok(cfg) => crate::boot::ensemble_of(&cfg).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    quorum::mode_among(&api.local, &ensemble).await
}

async fn state(State(api): State<Arc<Api>>) -> Response {
    Json(exhibitor::state_json(local_mode(&api).await)).into_response()
}

async fn health(State(api): State<Arc<Api>>) -> Response {
    let mode = local_mode(&api).await;
    let body = json!({ "server": api.local, "mode": mode });
    if matches!(mode, Mode::Leader | Mode::Follower) {
        (StatusCode::OK, Json(body)).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}

/// The API's routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/exhibitor/v1/cluster/list", get(list))
        .route("/exhibitor/v1/cluster/status", get(status))
        .route("/exhibitor/v1/cluster/state", get(state))
        .route(
            "/exhibitor/v1/cluster/state/{host}",
            get(exhibitor::state_of),
        )
        .route(
            "/exhibitor/v1/cluster/4ltr/{word}",
            get(exhibitor::four_letter_word),
        )
        .route(
            "/exhibitor/v1/cluster/4ltr/{word}/{host}",
            get(exhibitor::four_letter_word_of),
        )
        .route("/exhibitor/v1/config/get-state", get(exhibitor::get_state))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(status_page::page))
        .route("/health", get(health))
        .with_state(Arc::new(api))
}

/// Serves until SIGTERM or Ctrl-C. The shared config's location and the local server come
/// from the last boot record, so `serve` needs no settings of its own.
pub async fn run(root: &std::path::Path, args: &ServeArgs) -> Result<()> {
    let rec = record::load(root)
        .map_err(|e| Failure::bad_input(format!("mesos-boot serve needs a boot record: {e}")))?;
    if rec.role.as_deref() != Some("zookeeper") {
        return Err(Failure::bad_input(
            "mesos-boot serve runs on ZooKeeper nodes only",
        ));
    }
    let url = rec
        .shared_config
        .as_ref()
        .and_then(|s| s["location"].as_str())
        .ok_or_else(|| Failure::bad_input("the boot record names no shared config"))?;
    let location = Location::parse(url).map_err(Failure::bad_input)?;
    let region = rec.identity["region"]["value"]
        .as_str()
        .unwrap_or("us-east-1")
        .to_string();
    let sdk = crate::boot::sdk_config(&region).await;
    let store = match location {
        Location::S3 { .. } => Store::new(location, Some(&sdk)),
        Location::File { .. } => Store::new(location, None),
    };
    let myid = rec.myid.unwrap_or_default();
    let local = rec
        .ensemble
        .iter()
        .find(|m| m.id == myid)
        .map(|m| m.addr.clone())
        .ok_or_else(|| Failure::bad_input(format!("the boot record lists no server.{myid}")))?;
    // The node's own address by default: the API is for the VPC's load balancer and clients,
    // not for every interface the host has.
    let listen = match args.listen {
        Some(l) => l,
        None => {
            let ip = rec.identity["ip"]["value"].as_str().unwrap_or_default();
            let ip: std::net::IpAddr = ip.parse().map_err(|_| {
                Failure::bad_input(format!(
                    "the boot record has no node address (`{ip}`): give --listen"
                ))
            })?;
            std::net::SocketAddr::new(ip, 8080)
        }
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::bad_input(format!("--listen {listen}: {e}")))?;
    tracing::info!(%listen, local, shared_config = url, "serving Exhibitor's REST API");
    let last_pass = LastPassCell::default();
    let instance = rec.identity["instance_id"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let reconcile = if args.reconcile_interval.is_zero() {
        tracing::info!("membership checks are off (--reconcile-interval 0)");
        None
    } else {
        let group = rec.identity["tags"][crate::identity::ASG_TAG]
            .as_str()
            .map(str::to_string);
        tracing::info!(interval = ?args.reconcile_interval, grace = ?args.grace, group = ?group, "checking membership for dead members");
        let r = Reconciler::new(
            store.clone(),
            Aws::new(&sdk),
            group.clone(),
            myid,
            instance.clone(),
            args.grace,
            args.stop_command.clone(),
            root.to_path_buf(),
            local.clone(),
        );
        let mut r = r
            .reporting_to(last_pass.clone())
            .restarting_with(args.start_command.clone());
        r.rolling_timeout = args.rolling_timeout;
        let leave = if args.leave_poll.is_zero() {
            tracing::info!("graceful leave is off (--leave-poll 0)");
            None
        } else {
            let tags = &rec.identity["tags"];
            let hook = group.as_deref().map(|group| Hook {
                group: group.to_string(),
                name: tags[leave::HOOK_TAG]
                    .as_str()
                    .unwrap_or(leave::DEFAULT_HOOK)
                    .to_string(),
                instance_id: instance.clone(),
            });
            tracing::info!(poll = ?args.leave_poll, hook = ?hook.as_ref().map(|h| &h.name), "watching for this instance's termination (IMDS autoscaling/target-lifecycle-state)");
            Some((
                leave::Watch::new(args.leave_poll),
                leave::Held::new(hook, sdk.clone()),
            ))
        };
        Some(tokio::spawn(r.run(
            args.reconcile_interval,
            leave,
            args.leave_poll,
        )))
    };
    let last_backup = backup::LastBackupCell::default();
    let backups = {
        let mut b = backup::Backer::new(
            store.clone(),
            myid,
            instance,
            root.to_path_buf(),
            local.clone(),
        );
        b.every = args.backup_period;
        b.last = last_backup.clone();
        if args.backup_period.is_some_and(|p| p.is_zero()) {
            tracing::info!("backups are off (--backup-period 0)");
            None
        } else {
            Some(tokio::spawn(b.run()))
        }
    };
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {},
        }
        tracing::info!("stopping");
    };
    let served = axum::serve(
        listener,
        router(Api {
            store,
            local,
            myid,
            last_pass,
            last_backup,
        }),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(|e| Failure::internal(format!("serving on {listen}: {e}")));
    if let Some(r) = reconcile {
        r.abort();
    }
    if let Some(b) = backups {
        b.abort();
    }
    served
}
