//! Whether this Mesos agent is registered with the leading master: its libprocess pid
//! (`slave(1)@<ip>:<port>`) listed and active in the leader's `GET /master/slaves` (Mesos'
//! documented JSON: `{"slaves": [{"id", "pid", "hostname", "active", ...}], ...}`). The agent's
//! launch lifecycle hook is completed with `CONTINUE` only then, not when its files are merely
//! rendered: an agent that cannot start (e.g. cgroups) or reach the master never counts as
//! joined.

use std::time::Duration;

use tokio::time::Instant;

use crate::mesos::http::get;

use crate::retry::{self, Attempt};

/// Why the registration could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("agent {pid} not registered (active) with the leading master {master} before the deadline{last}")]
    NotRegistered {
        pid: String,
        master: String,
        last: String,
    },
}

/// The pid Mesos lists for an agent on `ip:port` (the agent runs one `slave(1)` process).
pub fn agent_pid(ip: &str, port: u16) -> String {
    format!("slave(1)@{ip}:{port}")
}

/// The id of the active agent whose pid is `pid` in a `/master/slaves` body, if listed.
pub fn registered_id(body: &[u8], pid: &str) -> Result<Option<String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not the expected JSON: {e}"))?;
    let slaves = v["slaves"]
        .as_array()
        .ok_or("no `slaves` list in the answer")?;
    Ok(slaves
        .iter()
        .find(|s| s["pid"].as_str() == Some(pid) && s["active"].as_bool().unwrap_or(false))
        .and_then(|s| s["id"].as_str().map(str::to_string)))
}

/// Waits until the agent on `ip:port` is listed active by the master `leader()` names
/// (`ip:port`, asked again at every try, so a new leader is followed), asked with
/// `authorization` (see [`get`]). Returns the agent's id.
pub async fn wait_registered<F, Fut>(
    mut leader: F,
    ip: &str,
    port: u16,
    authorization: Option<&str>,
    deadline: Instant,
) -> Result<String, RegistrationError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let pid = agent_pid(ip, port);
    let master = std::sync::Mutex::new(String::new());
    let master = &master;
    let got = retry::until(
        "agent registered with the leading master",
        deadline,
        Duration::from_secs(5),
        || {
            let pid = pid.clone();
            let found = leader();
            async move {
                let m = match found.await {
                    Ok(m) => m,
                    Err(e) => return Attempt::Again(e),
                };
                *master.lock().unwrap_or_else(|e| e.into_inner()) = m.clone();
                match get(&m, "/master/slaves", authorization, Duration::from_secs(10)).await {
                    Ok((200, body)) => match registered_id(&body, &pid) {
                        Ok(Some(id)) => Attempt::Done(id),
                        Ok(None) => Attempt::Again(format!("{m} does not list {pid} as active")),
                        Err(why) => Attempt::Again(format!("{m}: {why}")),
                    },
                    // A rotation the masters have not rolled yet: they will.
                    Ok((401, _)) => Attempt::Again(format!(
                        "{m} refused this agent's credential (HTTP 401): the masters have not \
                         re-rendered since it was rotated?"
                    )),
                    // 307: not (or no longer) the leader; 503: still recovering.
                    Ok((status, _)) => Attempt::Again(format!("{m} answered HTTP {status}")),
                    Err(why) => Attempt::Again(format!("{m}: {why}")),
                }
            }
        },
    )
    .await;
    let master = master.lock().unwrap_or_else(|e| e.into_inner()).clone();
    got.map_err(|last| RegistrationError::NotRegistered {
        pid,
        master,
        last: last.map(|l| format!(" (last: {l})")).unwrap_or_default(),
    })
}

impl From<RegistrationError> for crate::failure::Failure {
    fn from(e: RegistrationError) -> Self {
        crate::failure::Failure::no_quorum(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A leading master's `/master/slaves` in Mesos' documented shape, on 127.0.0.1.
    async fn master(body: Arc<Mutex<serde_json::Value>>) -> String {
        let app = axum::Router::new().route(
            "/master/slaves",
            axum::routing::get(move || {
                let body = body.clone();
                async move { axum::Json(body.lock().unwrap().clone()) }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        addr
    }

    fn slave(id: &str, pid: &str, active: bool) -> serde_json::Value {
        serde_json::json!({"id": id, "pid": pid, "hostname": "ip-10-0-1-12", "port": 5051,
            "active": active, "resources": {"cpus": 4.0, "mem": 7000.0}, "attributes": {}})
    }

    #[test]
    fn only_the_active_agent_with_our_pid_counts() {
        let pid = agent_pid("10.0.1.12", 5051);
        let body = serde_json::json!({"slaves": [slave("S0", "slave(1)@10.0.1.13:5051", true),
            slave("S1", &pid, false)], "recovered_slaves": []});
        let raw = serde_json::to_vec(&body).unwrap();
        assert_eq!(registered_id(&raw, &pid).unwrap(), None);
        let body = serde_json::json!({"slaves": [slave("S1", &pid, true)]});
        assert_eq!(
            registered_id(&serde_json::to_vec(&body).unwrap(), &pid).unwrap(),
            Some("S1".to_string())
        );
        assert!(registered_id(b"{}", &pid).unwrap_err().contains("slaves"));
    }

    #[tokio::test]
    async fn waits_until_the_leader_lists_the_agent_then_returns_its_id() {
        let body = Arc::new(Mutex::new(serde_json::json!({"slaves": []})));
        let addr = master(body.clone()).await;
        let pid = agent_pid("127.0.0.1", 5051);
        // Not registered: times out naming the pid and the master.
        let a = addr.clone();
        let e = wait_registered(
            || {
                let a = a.clone();
                async move { Ok(a) }
            },
            "127.0.0.1",
            5051,
            None,
            Instant::now() + Duration::from_secs(1),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains(&pid) && e.contains(&addr), "{e}");

        let later = body.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            *later.lock().unwrap() = serde_json::json!({"slaves": [slave("S7", &pid, true)]});
        });
        let a = addr.clone();
        let id = wait_registered(
            || {
                let a = a.clone();
                async move { Ok(a) }
            },
            "127.0.0.1",
            5051,
            None,
            Instant::now() + Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert_eq!(id, "S7");
    }
}
