//! `GET /metrics`: the node's view in Prometheus' text format (0.0.4): the membership in
//! servers-spec and each listed server's mode, whether the ensemble has quorum, the reconcile
//! loop's last outcome and its age, and the local ZooKeeper's own figures (`mntr`, each numeric
//! `zk_*` line as `mesos_boot_zk_*`). Every figure is read when asked; nothing is cached.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Api;
use crate::store::ServerKind;
use crate::zk::four_letter::{self, FourLetter, Mode};

/// Prometheus text, one family at a time.
#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} gauge");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", labels.join(","))
        };
        let _ = writeln!(self.0, "{name}{labels} {value}");
    }
}

fn metric_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The handler: every family, each read now.
pub async fn metrics(State(api): State<Arc<Api>>) -> Response {
    let mut t = Text::default();
    membership(&mut t, &api).await;
    last_pass(&mut t, &api);
    last_backup(&mut t, &api);
    zookeeper(&mut t, &api).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t.0).into_response()
}

/// Whether the shared config reads, its servers by kind, each listed server's mode and the
/// ensemble's quorum.
async fn membership(t: &mut Text, api: &Api) {
    let cfg = api.config().await;
    t.family(
        "mesos_boot_shared_config_up",
        "1 when the shared config could be read and is valid.",
    );
    t.sample(
        "mesos_boot_shared_config_up",
        &[],
        f64::from(u8::from(cfg.is_ok())),
    );
    if let Ok(cfg) = &cfg {
        let servers = cfg.servers().unwrap_or_default();
        t.family(
            "mesos_boot_servers",
            "Servers listed in servers-spec, by kind.",
        );
        for (kind, label) in [
            (ServerKind::Standard, "participant"),
            (ServerKind::Observer, "observer"),
        ] {
            let n = servers.iter().filter(|s| s.kind == kind).count();
            t.sample("mesos_boot_servers", &[("kind", label)], n as f64);
        }
        let ensemble = crate::zk::peer::ensemble_of(cfg).unwrap_or_default();
        let state = four_letter::ensemble_state(&ensemble).await;
        t.family(
            "mesos_boot_server_serving",
            "1 when the listed server serves (leader, follower or observer).",
        );
        for s in &state.servers {
            let serving = matches!(s.mode, Mode::Leader | Mode::Follower | Mode::Observer);
            let id = s.id.to_string();
            let mode = serde_json::to_value(s.mode)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            t.sample(
                "mesos_boot_server_serving",
                &[("id", &id), ("addr", &s.addr), ("mode", &mode)],
                f64::from(u8::from(serving)),
            );
        }
        t.family(
            "mesos_boot_ensemble_quorum",
            "1 when a majority of voters serve with one leader.",
        );
        t.sample(
            "mesos_boot_ensemble_quorum",
            &[],
            f64::from(u8::from(state.has_quorum)),
        );
    }
}

/// The membership check's last outcome and its age.
fn last_pass(t: &mut Text, api: &Api) {
    let last = api
        .last_pass
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(last) = last {
        t.family(
            "mesos_boot_reconcile_last_pass",
            "The membership check's last outcome (nothing, wait, remove, hold, stop-self, restore, skipped).",
        );
        t.sample(
            "mesos_boot_reconcile_last_pass",
            &[("outcome", last.outcome)],
            1.0,
        );
        t.family(
            "mesos_boot_reconcile_last_pass_age_seconds",
            "Seconds since the membership check's last pass ended.",
        );
        let age = last.at.elapsed().unwrap_or_default().as_secs_f64();
        t.sample(
            "mesos_boot_reconcile_last_pass_age_seconds",
            &[],
            (age * 1000.0).round() / 1000.0,
        );
    }
}

/// This node's last backup: its age and size.
fn last_backup(t: &mut Text, api: &Api) {
    let backup = api
        .last_backup
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if let Some(b) = backup {
        t.family(
            "mesos_boot_backup_last_age_seconds",
            "Seconds since this node's last backup to the cluster bucket.",
        );
        let age = b.at.elapsed().unwrap_or_default().as_secs_f64();
        t.sample(
            "mesos_boot_backup_last_age_seconds",
            &[("id", &b.id)],
            (age * 1000.0).round() / 1000.0,
        );
        t.family(
            "mesos_boot_backup_last_bytes",
            "Bytes of this node's last backup (snapshot and logs).",
        );
        t.sample(
            "mesos_boot_backup_last_bytes",
            &[("id", &b.id)],
            b.bytes as f64,
        );
    }
}

/// Whether the local ZooKeeper answers `mntr`, and each of its numeric figures.
async fn zookeeper(t: &mut Text, api: &Api) {
    let mntr = four_letter::four_letter(&api.local, FourLetter::Mntr).await;
    t.family(
        "mesos_boot_zk_up",
        "1 when the local ZooKeeper answered mntr.",
    );
    let figures: Vec<(String, f64)> = mntr
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            let v: f64 = v.trim().parse().ok()?;
            k.starts_with("zk_")
                .then(|| (format!("mesos_boot_{}", metric_name(k)), v))
        })
        .collect();
    t.sample(
        "mesos_boot_zk_up",
        &[],
        f64::from(u8::from(!figures.is_empty())),
    );
    for (name, value) in figures {
        t.family(&name, "ZooKeeper's own figure of the same name (mntr).");
        t.sample(&name, &[], value);
    }
}
