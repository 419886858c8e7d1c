//! `GET /`: a read-only status page for operators, plain HTML with no script (it refreshes
//! itself every 10 s): the ensemble's members as servers-spec lists them with each one's mode
//! and the leader, whether it has quorum, this node's last membership decision and its last
//! backup, and the local server's main figures (`mntr`). Every figure is read when asked.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Api;
use crate::store::ServerKind;
use crate::zk::four_letter::{self, FourLetter, Mode};

/// `&`, `<`, `>`, `"` and `'` escaped.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn ago(t: std::time::SystemTime) -> String {
    let secs = t.elapsed().unwrap_or_default().as_secs();
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string() + " ago"
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:20px}h2{font-size:16px;margin-top:1.6em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}\
th{background:#f3f3f3}.ok{color:#176f2c;font-weight:600}.bad{color:#a4161a;font-weight:600}";

pub async fn page(State(api): State<Arc<Api>>) -> Response {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>mesos-boot: ZooKeeper ensemble</title><style>{STYLE}</style></head><body>\
         <h1>ZooKeeper ensemble <small>(seen from server.{} at {})</small></h1>",
        api.myid,
        esc(&api.local)
    );
    match api.config().await {
        Err(e) => {
            let _ = write!(
                h,
                "<p class=\"bad\" id=\"config\">The shared config cannot be read: {}</p>",
                esc(&e)
            );
        }
        Ok(cfg) => {
            let servers = cfg.servers().unwrap_or_default();
            let ensemble = crate::zk::peer::ensemble_of(&cfg).unwrap_or_default();
            let state = four_letter::ensemble_state(&ensemble).await;
            let (class, text) = if state.has_quorum {
                ("ok", "has quorum")
            } else {
                ("bad", "has NO quorum")
            };
            let _ = write!(
                h,
                "<p id=\"quorum\" class=\"{class}\">The ensemble {text}.</p>\
                 <h2>Members</h2><table id=\"members\"><tr><th>Server</th><th>Address</th>\
                 <th>Kind</th><th>Mode</th></tr>"
            );
            for s in &servers {
                let st = state.servers.iter().find(|st| st.id == s.id);
                let mode = st.map_or(Mode::Down, |st| st.mode);
                let addr = st.map_or(s.host.clone(), |st| st.addr.clone());
                let kind = match s.kind {
                    ServerKind::Standard => "voter",
                    ServerKind::Observer => "observer",
                };
                let class = if mode.serving() { "ok" } else { "bad" };
                let mode = match mode {
                    Mode::Leader => "leader".to_string(),
                    m => format!("{m:?}").to_lowercase(),
                };
                let _ = write!(
                    h,
                    "<tr><td>server.{}</td><td>{}</td><td>{kind}</td><td class=\"{class}\">{}</td></tr>",
                    s.id,
                    esc(&addr),
                    esc(&mode)
                );
            }
            h.push_str("</table>");
        }
    }
    h.push_str("<h2>This node</h2><table id=\"node\">");
    let last = api
        .last_pass
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let decision = match last {
        Some(l) => format!("{} ({})", l.outcome, ago(l.at)),
        None => "none yet (or membership checks are off)".into(),
    };
    let backup = api
        .last_backup
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let backup = match backup {
        Some(b) => format!("{} ({} bytes, {})", b.id, b.bytes, ago(b.at)),
        None => "none by this node (another member may hold the backup lease)".into(),
    };
    let _ = write!(
        h,
        "<tr><th>Last membership decision</th><td id=\"decision\">{}</td></tr>\
         <tr><th>Last backup</th><td id=\"backup\">{}</td></tr>",
        esc(&decision),
        esc(&backup)
    );
    let mntr = four_letter::four_letter(&api.local, FourLetter::Mntr)
        .await
        .unwrap_or_default();
    for key in [
        "zk_server_state",
        "zk_znode_count",
        "zk_approximate_data_size",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_avg_latency",
        "zk_digest_mismatches_count",
    ] {
        if let Some(v) = mntr.lines().find_map(|l| {
            l.strip_prefix(key)
                .filter(|r| r.starts_with(char::is_whitespace))
        }) {
            let _ = write!(h, "<tr><th>{key}</th><td>{}</td></tr>", esc(v.trim()));
        }
    }
    h.push_str(
        "</table><p><a href=\"/metrics\">/metrics</a> · \
         <a href=\"/exhibitor/v1/cluster/status\">cluster/status</a></p></body></html>",
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], h).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_is_escaped() {
        assert_eq!(
            super::esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
