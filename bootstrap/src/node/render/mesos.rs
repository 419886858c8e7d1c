//! A Mesos master's and a Mesos agent's files: the ZooKeeper URL (with the node's digest
//! credential), the service's environment, the credentials Mesos reads, and an agent's key for
//! its executors' tokens.

use super::{file, zk_hosts, Node, Output, Templates};
use crate::config::settings::{master_quorum, Settings};
use crate::failure::{Failure, Result};
use crate::mesos::auth::{self, Secrets};
use crate::mesos::credentials::Credential;
use crate::mesos::executors::ExecutorAuth;
use crate::node::cgroups::Cgroups;
use crate::node::paths::{self, at, AGENT_PORT, MASTER_PORT};
use crate::store::SharedConfig;

/// The ZooKeeper URL Mesos is given: `zk://user:secret@<endpoint>/mesos` through the load
/// balancer when set ([`Settings::zk_endpoint`]), else the shared config's servers
/// ([`zk_url`]); the userinfo is the node's digest credential (`/mesos`'s ACL).
pub fn mesos_zk_url(
    settings: &Settings,
    config: &SharedConfig,
    credential: &Credential,
) -> Result<String> {
    let hosts = match &settings.zk_endpoint {
        Some(ep) => ep.clone(),
        None => zk_hosts(config)?,
    };
    Ok(format!(
        "zk://{}{hosts}{}",
        credential.userinfo(),
        settings.zk_path
    ))
}

/// Every file of a Mesos master.
pub(super) fn master(node: &Node, templates: &Templates) -> Result<Vec<Output>> {
    let (s, id) = (node.settings, node.identity);
    let mut out = Vec::new();
    let masters = s
        .masters
        .ok_or_else(|| Failure::internal("master render without a master count"))?;
    let Some(Secrets::Master(secrets)) = node.mesos else {
        return Err(Failure::internal(
            "master render without the masters' credentials",
        ));
    };
    let ctx = serde_json::json!({
        "cluster": s.cluster,
        "zk_url": mesos_zk_url(s, node.config, &secrets.zk.current)?,
        "zk_file": at(node.root, paths::MESOS_ZK),
        "credentials": at(node.root, paths::MASTER_CREDENTIALS),
        "authenticate_http_readonly": s.http_readonly_auth,
        "quorum": master_quorum(masters),
        "ip": id.ip.value,
        "hostname": id.hostname.value,
        "port": MASTER_PORT,
        "work_dir": at(node.root, paths::MASTER_WORK_DIR),
        "log_dir": at(node.root, paths::MESOS_LOG_DIR),
        "log_auto_initialize": !node.registry_formed,
    });
    // The ZooKeeper URL carries the credential: these are root's only.
    out.push(file(
        paths::MESOS_ZK,
        templates.render("mesos-zk.tera", &ctx)?,
        0o600,
    ));
    out.push(file(
        paths::MASTER_ENV,
        templates.render("mesos-master.env.tera", &ctx)?,
        0o600,
    ));
    out.push(file(
        paths::MASTER_CREDENTIALS,
        auth::master_credentials(secrets),
        0o600,
    ));
    // The Mesosphere package ships /etc/mesos-master/quorum = 1, and its init wrapper
    // turns that file into a flag that beats the environment: keep it right too.
    out.push(file(
        paths::MASTER_QUORUM,
        format!("{}\n", master_quorum(masters)),
        0o644,
    ));
    Ok(out)
}

/// Every file of a Mesos agent.
pub(super) fn agent(node: &Node, templates: &Templates) -> Result<Vec<Output>> {
    let (s, id) = (node.settings, node.identity);
    let mut out = Vec::new();
    let mut attributes = vec![
        ("az".to_string(), id.zone.value.clone()),
        ("instance_type".to_string(), id.instance_type.value.clone()),
        ("cluster".to_string(), s.cluster.clone()),
    ];
    for (k, v) in &s.attributes {
        if attributes.iter().any(|(b, _)| b == k) {
            let origin = &s.provenance["attributes"].source;
            return Err(Failure::bad_input(format!(
                "{origin}: attribute `{k}` is set by mesos-boot itself and cannot be overridden"
            )));
        }
        attributes.push((k.clone(), v.clone()));
    }
    let attributes: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    if node.cgroups != Cgroups::V1 && s.containerizers.split(',').any(|c| c == "docker") {
        let origin = s.origin("containerizers");
        return Err(Failure::bad_input(format!(
            "{origin}: `{}`: the docker containerizer of Mesos 1.11 needs the legacy cgroup (v1) \
             hierarchy, and this node booted the unified one (v2; the image boots agents with \
             systemd.unified_cgroup_hierarchy=0)",
            s.containerizers
        )));
    }
    let Some(Secrets::Agent(secrets)) = node.mesos else {
        return Err(Failure::internal(
            "agent render without the agents' credentials",
        ));
    };
    let executor_key = match &secrets.executors {
        ExecutorAuth::Jwt { key } => Some(key),
        ExecutorAuth::Off => None,
    };
    let ctx = serde_json::json!({
        "cluster": s.cluster,
        "zk_url": mesos_zk_url(s, node.config, &secrets.zk.current)?,
        "zk_file": at(node.root, paths::MESOS_ZK),
        "executor_key": executor_key.map(|_| at(node.root, paths::AGENT_EXECUTOR_KEY)),
        "credential": at(node.root, paths::AGENT_CREDENTIAL),
        "http_credentials": at(node.root, paths::AGENT_HTTP_CREDENTIALS),
        "authenticate_http_readonly": s.http_readonly_auth,
        "ip": id.ip.value,
        "hostname": id.hostname.value,
        "port": AGENT_PORT,
        "work_dir": at(node.root, paths::AGENT_WORK_DIR),
        "log_dir": at(node.root, paths::MESOS_LOG_DIR),
        "containerizers": s.containerizers,
        "cgroups_v1": node.cgroups == Cgroups::V1,
        "attributes": attributes.join(";"),
    });
    out.push(file(
        paths::MESOS_ZK,
        templates.render("mesos-zk.tera", &ctx)?,
        0o600,
    ));
    out.push(file(
        paths::AGENT_ENV,
        templates.render("mesos-agent.env.tera", &ctx)?,
        0o600,
    ));
    out.push(file(
        paths::AGENT_CREDENTIAL,
        auth::credential_json(&secrets.agent.current),
        0o600,
    ));
    out.push(file(
        paths::AGENT_HTTP_CREDENTIALS,
        auth::credentials_json(&[&secrets.http]),
        0o600,
    ));
    if let Some(key) = executor_key {
        out.push(file(paths::AGENT_EXECUTOR_KEY, format!("{key}\n"), 0o600));
    }
    Ok(out)
}
