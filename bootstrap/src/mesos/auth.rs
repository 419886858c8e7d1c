//! The credentials a master or an agent boot gathers, and the files Mesos reads from them
//! (all 0600): the masters' `--credentials` (every principal a master accepts: agents, the
//! autoscaler, operators, frameworks; JSON as Mesos documents it), an agent's `--credential`
//! (its current principal, for CRAM-MD5 registration) and its `--http_credentials`. The flags
//! that turn authentication on are in the env templates.

use serde_json::json;
use tokio::time::Instant;

use crate::failure::Result;
use crate::mesos::credentials::{
    ensure, wait, Credential, Credentials, MESOS_AGENT, MESOS_AGENT_HTTP, MESOS_FRAMEWORK,
    MESOS_OPERATOR, MESOS_SCALE, ZK_AGENT, ZK_MASTER,
};
use crate::mesos::executors::ExecutorAuth;
use crate::store::Store;

/// What a master needs: it creates every credential on the cluster's first boot.
#[derive(Debug, Clone)]
pub struct MasterSecrets {
    pub zk: Credentials,
    /// The agents' ZooKeeper credential (read rights in `/mesos`'s ACL).
    pub zk_agent: Credentials,
    pub agent: Credentials,
    pub agent_http: Credentials,
    pub scale: Credentials,
    pub operator: Credentials,
    pub framework: Credentials,
}

/// What an agent needs (and all its role can read), and how its executors authenticate.
#[derive(Debug, Clone)]
pub struct AgentSecrets {
    pub zk: Credentials,
    pub agent: Credentials,
    pub http: Credentials,
    /// Decided from the node's Mesos by the boot's `executor-auth` step
    /// ([`crate::mesos::executors`]); `Off` until then.
    pub executors: ExecutorAuth,
}

/// A Mesos node's credentials.
// One per boot: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Secrets {
    Master(MasterSecrets),
    Agent(AgentSecrets),
}

impl Secrets {
    /// The masters': created when missing.
    pub async fn master(shared: &Store, deadline: Instant) -> Result<Secrets> {
        Ok(Secrets::Master(MasterSecrets {
            zk: ensure(shared, ZK_MASTER, deadline).await?,
            zk_agent: ensure(shared, ZK_AGENT, deadline).await?,
            agent: ensure(shared, MESOS_AGENT, deadline).await?,
            agent_http: ensure(shared, MESOS_AGENT_HTTP, deadline).await?,
            scale: ensure(shared, MESOS_SCALE, deadline).await?,
            operator: ensure(shared, MESOS_OPERATOR, deadline).await?,
            framework: ensure(shared, MESOS_FRAMEWORK, deadline).await?,
        }))
    }

    /// An agent's: waits for the masters to create them.
    pub async fn agent(shared: &Store, deadline: Instant) -> Result<Secrets> {
        Ok(Secrets::Agent(AgentSecrets {
            zk: wait(shared, ZK_AGENT, deadline).await?,
            agent: wait(shared, MESOS_AGENT, deadline).await?,
            http: wait(shared, MESOS_AGENT_HTTP, deadline).await?,
            executors: ExecutorAuth::Off,
        }))
    }

    /// The ZooKeeper credential this node's Mesos (and its boot) connects with.
    pub fn zk(&self) -> &Credentials {
        match self {
            Secrets::Master(m) => &m.zk,
            Secrets::Agent(a) => &a.zk,
        }
    }

    /// The credential this node's boot reads the master's endpoints with.
    pub fn http(&self) -> &Credential {
        match self {
            Secrets::Master(m) => &m.operator.current,
            Secrets::Agent(a) => &a.agent.current,
        }
    }

    /// Every secret held, to keep them out of printed output.
    pub fn secrets(&self) -> Vec<String> {
        let sets: Vec<&Credentials> = match self {
            Secrets::Master(m) => vec![
                &m.zk,
                &m.zk_agent,
                &m.agent,
                &m.agent_http,
                &m.scale,
                &m.operator,
                &m.framework,
            ],
            Secrets::Agent(a) => vec![&a.zk, &a.agent, &a.http],
        };
        let mut all: Vec<String> = sets.into_iter().flat_map(|c| c.secrets()).collect();
        if let Secrets::Agent(AgentSecrets {
            executors: ExecutorAuth::Jwt { key },
            ..
        }) = self
        {
            all.push(key.clone());
        }
        all
    }
}

/// Fixed stand-ins, for renders that are only checked (`check-image`, golden files): never
/// used by a boot.
pub fn placeholder(role: crate::config::settings::Role) -> Option<Secrets> {
    let c = |k: crate::mesos::credentials::Kind| Credentials {
        current: Credential::new(
            k.principal,
            &format!("placeholder-{}-0123456789abcdef", k.name),
        )
        .expect("a valid placeholder"),
        previous: Vec::new(),
    };
    match role {
        crate::config::settings::Role::Zookeeper => None,
        crate::config::settings::Role::Master => Some(Secrets::Master(MasterSecrets {
            zk: c(ZK_MASTER),
            zk_agent: c(ZK_AGENT),
            agent: c(MESOS_AGENT),
            agent_http: c(MESOS_AGENT_HTTP),
            scale: c(MESOS_SCALE),
            operator: c(MESOS_OPERATOR),
            framework: c(MESOS_FRAMEWORK),
        })),
        crate::config::settings::Role::Agent => Some(Secrets::Agent(AgentSecrets {
            zk: c(ZK_AGENT),
            agent: c(MESOS_AGENT),
            http: c(MESOS_AGENT_HTTP),
            executors: ExecutorAuth::Jwt {
                key: "placeholder-executor-key-0123456789abcdef".into(),
            },
        })),
    }
}

/// `{"credentials": [{"principal", "secret"}, …]}`: every principal of `sets`, the ones still
/// accepted during a rotation included.
pub fn credentials_json(sets: &[&Credentials]) -> String {
    let list: Vec<_> = sets
        .iter()
        .flat_map(|s| s.all())
        .map(|c| json!({"principal": c.principal, "secret": c.secret()}))
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({ "credentials": list })).unwrap_or_default();
    s.push('\n');
    s
}

/// `{"principal", "secret"}`: one credential, as an agent's `--credential`.
pub fn credential_json(c: &Credential) -> String {
    let mut s =
        serde_json::to_string_pretty(&json!({"principal": c.principal, "secret": c.secret()}))
            .unwrap_or_default();
    s.push('\n');
    s
}

/// The masters' `--credentials`.
pub fn master_credentials(m: &MasterSecrets) -> String {
    credentials_json(&[&m.agent, &m.scale, &m.operator, &m.framework])
}

/// `text` with every secret replaced (what `--dry-run` prints).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let text = secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "<secret>"));
    redact_private_keys(&text)
}

/// `text` with every PEM private key block (ZooKeeper TLS's `node.pem`) replaced by `<secret>`.
fn redact_private_keys(text: &str) -> String {
    const END: &str = "-----END PRIVATE KEY-----";
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PRIVATE KEY-----") {
        out.push_str(&rest[..start]);
        out.push_str("<secret>");
        rest = match rest[start..].find(END) {
            Some(end) => &rest[start + end + END.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_never_reach_the_output() {
        let text = "a\n-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let out = redact(text, &[]);
        assert_eq!(
            out,
            "a\n<secret>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(
            redact("x -----BEGIN PRIVATE KEY----- cut", &[]),
            "x <secret>"
        );
    }

    #[test]
    fn the_masters_file_lists_every_accepted_principal_and_nothing_else() {
        let one = |p: &str| Credentials {
            current: Credential::generate(p),
            previous: vec![],
        };
        let m = MasterSecrets {
            zk: one("mesos-master"),
            zk_agent: one("mesos-agent"),
            agent: one("agent").rotated(MESOS_AGENT),
            agent_http: one("agent-http"),
            scale: one("mesos-scale"),
            operator: one("operator"),
            framework: one("framework"),
        };
        let v: serde_json::Value = serde_json::from_str(&master_credentials(&m)).unwrap();
        let principals: Vec<&str> = v["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["principal"].as_str().unwrap())
            .collect();
        assert_eq!(
            principals,
            ["agent-2", "agent", "mesos-scale", "operator", "framework"]
        );
        let text = master_credentials(&m);
        assert!(
            !text.contains(m.zk.current.secret()),
            "the ZooKeeper secret is not Mesos'"
        );
        let redacted = redact(&text, &Secrets::Master(m.clone()).secrets());
        assert!(!redacted.contains(m.scale.current.secret()) && redacted.contains("<secret>"));
    }
}
