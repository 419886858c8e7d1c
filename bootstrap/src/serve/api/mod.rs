//! `serve`'s HTTP API: Exhibitor's REST API for ZooKeeper clients and load balancers, served
//! from the shared config and live four-letter-word checks.

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

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::serve::backup;
use crate::serve::reconcile::LastPassCell;
use crate::store::{SharedConfig, Store};
use crate::zk::four_letter::{self, Mode};

mod exhibitor;
mod metrics;
mod status_page;
/// What the API needs: where the shared config lives and which server is local.
pub struct Api {
    pub store: Store,
    /// `host:client-port` of the local server.
    pub local: String,
    /// The local server's id.
    pub myid: u32,
    /// The reconcile loop's last outcome (none while membership checks are off).
    pub last_pass: LastPassCell,
    /// This node's last backup.
    pub last_backup: backup::LastBackupCell,
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
    let ensemble = crate::zk::peer::ensemble_of(&cfg).unwrap_or_default();
    let state = four_letter::ensemble_state(&ensemble).await;
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
        Ok(cfg) => crate::zk::peer::ensemble_of(&cfg).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    four_letter::mode_among(&api.local, &ensemble).await
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
