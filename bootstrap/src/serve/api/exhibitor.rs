//! The rest of Exhibitor's REST API that clients and operators use: one listed server's state
//! (`cluster/state/{host}`), a whitelisted four-letter word sent to the local or a listed
//! server (`cluster/4ltr/{word}[/{host}]`), and the config as Exhibitor's UI reads it
//! (`config/get-state`: camel-case keys, the local `serverId`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{code, local_mode, unavailable, Api};
use crate::store::exhibitor::{parse_extra, SETTINGS};
use crate::zk::four_letter::{self, FourLetter, Mode};
use crate::zk::peer::Peer;

fn not_found(message: String) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// `host:client-port` of a server listed in servers-spec, and the ensemble it is judged in.
async fn listed(api: &Api, host: &str) -> Result<(String, Vec<Peer>), Response> {
    let cfg = api.config().await.map_err(unavailable)?;
    let ensemble = crate::zk::peer::ensemble_of(&cfg).unwrap_or_default();
    let port = cfg.client_port().unwrap_or(2181);
    let addr = format!("{host}:{port}");
    if !ensemble.iter().any(|p| p.addr == addr) {
        return Err(not_found(format!(
            "{host} is not a server of servers-spec ({})",
            cfg.get("servers-spec")
        )));
    }
    Ok((addr, ensemble))
}

/// What `cluster/state` answers for a server in `mode`.
pub(super) fn state_json(mode: Mode) -> Value {
    let (code, description) = code(mode);
    json!({
        "switches": { "restarts": false, "unlistedRestarts": false, "cleanup": false, "backups": false },
        "state": code,
        "description": description,
        "isLeader": mode == Mode::Leader,
    })
}

/// `GET /exhibitor/v1/cluster/state/{host}`: what `cluster/state` answers on that server.
pub async fn state_of(State(api): State<Arc<Api>>, Path(host): Path<String>) -> Response {
    match listed(&api, &host).await {
        Ok((addr, ensemble)) => {
            Json(state_json(four_letter::mode_among(&addr, &ensemble).await)).into_response()
        }
        Err(r) => r,
    }
}

async fn send_word(word: &str, addr: &str) -> Response {
    let Some(w) = FourLetter::parse(word) else {
        let allowed: Vec<&str> = FourLetter::ALL.iter().map(|w| w.as_str()).collect();
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("four-letter word `{word}` is not allowed (allowed: {})", allowed.join(", ")) })),
        )
            .into_response();
    };
    match four_letter::four_letter(addr, w).await {
        Ok(text) => Json(json!({ "response": text })).into_response(),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": format!("{word} to {addr}: {e}") })),
        )
            .into_response(),
    }
}

/// `GET /exhibitor/v1/cluster/4ltr/{word}`: `{"response": "..."}` from the local server.
pub async fn four_letter_word(State(api): State<Arc<Api>>, Path(word): Path<String>) -> Response {
    send_word(&word, &api.local).await
}

/// `GET /exhibitor/v1/cluster/4ltr/{word}/{host}`: the same from a listed server.
pub async fn four_letter_word_of(
    State(api): State<Arc<Api>>,
    Path((word, host)): Path<(String, String)>,
) -> Response {
    match listed(&api, &host).await {
        Ok((addr, _)) => send_word(&word, &addr).await,
        Err(r) => r,
    }
}

/// `cleanup-period-ms` → `cleanupPeriodMs`.
fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET /exhibitor/v1/config/get-state`: every setting under its camel-case name (numbers as
/// numbers, zoo-cfg-extra and backup-extra as objects), `serverId` and `hostname` of the local
/// server, and whether a rolling change is in progress.
pub async fn get_state(State(api): State<Arc<Api>>) -> Response {
    let cfg = match api.config().await {
        Ok(c) => c,
        Err(e) => return unavailable(e),
    };
    let mut config = Map::new();
    for (name, default) in SETTINGS {
        let raw = cfg.get(name);
        let value = if name.ends_with("-extra") {
            let pairs = parse_extra(raw).unwrap_or_default();
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        } else if default.parse::<i64>().is_ok() {
            // Exhibitor reads an unparseable integer as 0.
            json!(raw.trim().parse::<i64>().unwrap_or(0))
        } else {
            json!(raw)
        };
        config.insert(camel(name), value);
    }
    let host = api
        .local
        .rsplit_once(':')
        .map_or(api.local.as_str(), |(h, _)| h);
    config.insert("serverId".into(), json!(api.myid));
    config.insert("hostname".into(), json!(host));
    config.insert("rollInProgress".into(), json!(cfg.rolling_in_progress()));
    let running = matches!(
        local_mode(&api).await,
        Mode::Leader | Mode::Follower | Mode::Observer
    );
    Json(json!({
        "running": running,
        "backupActive": false,
        "standaloneMode": false,
        "nodeMutationsAllowed": false,
        "config": config,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_get_exhibitors_camel_case_names() {
        assert_eq!(super::camel("cleanup-period-ms"), "cleanupPeriodMs");
        assert_eq!(super::camel("servers-spec"), "serversSpec");
        assert_eq!(
            super::camel("auto-manage-instances-fixed-ensemble-size"),
            "autoManageInstancesFixedEnsembleSize"
        );
    }
}
