//! Gathering one [`Snapshot`]: the leading master (the lowest `json.info_*` under the Mesos
//! znode, or a master URL's `/master/redirect`), its `/metrics/snapshot` and `/master/state`
//! (and `/master/maintenance/status` while a maintenance drain is in progress), the agent
//! Auto Scaling group and its instances (Auto Scaling and EC2 APIs), then agents matched to
//! instances by IP, else hostname.
//!
//! All or nothing: any source failing is an error and no snapshot is made, so nothing is ever
//! decided on partial information.

use std::collections::HashMap;

use aws_sdk_autoscaling::error::DisplayErrorContext;

use crate::http::{Http, HttpError};
use crate::mesos::{self, ParseError};
use crate::model::{
    Asg, DrainMethod, DrainTag, Instance, Machine, MasterState, Metrics, Node, Snapshot, State,
    DRAIN_TAG, IDLE_TAG, STATE_TAG,
};

/// Where the leading master is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterSource {
    /// A master (or the masters' load balancer): `/master/redirect` names the leader.
    Url(String),
    /// ZooKeeper: `hosts` (`h1:2181,h2:2181`), the Mesos znode (`/mesos`) and the digest
    /// credential (`user:secret`) its ACL asks for, from `zk://user:secret@hosts/path`.
    Zk {
        hosts: String,
        path: String,
        auth: Option<String>,
    },
}

impl MasterSource {
    /// Parses `--master` (`http(s)://host:port`) or `--zk` (`zk://[user:secret@]h1:2181,h2:2181/mesos`).
    pub fn parse(master: Option<&str>, zk: Option<&str>) -> Result<MasterSource, String> {
        match (master, zk) {
            (Some(_), Some(_)) => {
                Err("give --master (MESOS_MASTER) or --zk (MESOS_ZK), not both".into())
            }
            (None, None) => {
                Err("no master: give --master (MESOS_MASTER) or --zk (MESOS_ZK)".into())
            }
            (Some(url), None) => {
                let url = url.trim_end_matches('/');
                let rest = url
                    .strip_prefix("http://")
                    .or_else(|| url.strip_prefix("https://"))
                    .ok_or_else(|| {
                        format!("--master / MESOS_MASTER = {url:?}: not an http(s):// URL")
                    })?;
                if rest.is_empty() || rest.contains('/') {
                    return Err(format!(
                        "--master / MESOS_MASTER = {url:?}: want http(s)://host[:port] without a path"
                    ));
                }
                Ok(MasterSource::Url(url.to_string()))
            }
            (None, Some(zk)) => {
                // Never the secret in a message.
                let shown = match zk.split_once('@') {
                    Some((_, rest)) => format!("zk://<user>:<secret>@{rest}"),
                    None => zk.to_string(),
                };
                let bad = || {
                    format!(
                        "--zk / MESOS_ZK = {shown:?}: want zk://[user:secret@]host:port[,host:port...]/path"
                    )
                };
                let rest = zk.strip_prefix("zk://").ok_or_else(bad)?;
                let (hosts, path) = rest.split_once('/').ok_or_else(bad)?;
                let (auth, hosts) = match hosts.rsplit_once('@') {
                    Some((userinfo, hosts)) if userinfo.contains(':') => {
                        (Some(userinfo.to_string()), hosts)
                    }
                    Some(_) => return Err(bad()),
                    None => (None, hosts),
                };
                if hosts.is_empty() || path.is_empty() {
                    return Err(bad());
                }
                Ok(MasterSource::Zk {
                    hosts: hosts.to_string(),
                    path: format!("/{}", path.trim_end_matches('/')),
                    auth,
                })
            }
        }
    }
}

/// Why no snapshot could be made. Each names the source.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("no leading master: {0}")]
    NoLeader(String),
    #[error("master unreachable: {0}")]
    Http(#[from] HttpError),
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("malformed answer: {0}")]
    Parse(#[from] ParseError),
    #[error("ZooKeeper {hosts}: {why}")]
    Zk { hosts: String, why: String },
    #[error("Auto Scaling group {group}: {why}")]
    Asg { group: String, why: String },
    #[error("EC2 DescribeInstances of group {group}: {why}")]
    Ec2 { group: String, why: String },
}

/// The gathering side: HTTP, ZooKeeper and AWS clients.
pub struct Gatherer {
    pub http: Http,
    pub master: MasterSource,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub group: String,
}

/// A gathered snapshot with what came with it.
pub struct Gathered {
    pub leader: String,
    pub snapshot: Snapshot,
    pub state: State,
}

async fn expect_ok(http: &Http, url: &str) -> Result<bytes::Bytes, GatherError> {
    let r = http.get(url).await?;
    if r.status != 200 {
        return Err(GatherError::Status {
            url: url.into(),
            status: r.status,
            body: String::from_utf8_lossy(&r.body).chars().take(200).collect(),
        });
    }
    Ok(r.body)
}

impl Gatherer {
    /// Base URL of the leading master (`http://10.0.0.5:5050`).
    pub async fn leader(&self) -> Result<String, GatherError> {
        match &self.master {
            MasterSource::Url(base) => {
                let url = format!("{base}/master/redirect");
                let r = self.http.get(&url).await?;
                if !(300..400).contains(&r.status) {
                    return Err(GatherError::NoLeader(format!(
                        "{url} answered HTTP {} instead of a redirect: {}",
                        r.status,
                        String::from_utf8_lossy(&r.body)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    )));
                }
                let loc = r.location.ok_or_else(|| {
                    GatherError::NoLeader(format!("{url}: redirect without a Location"))
                })?;
                let scheme = if base.starts_with("https://") {
                    "https:"
                } else {
                    "http:"
                };
                let leader = if loc.starts_with("//") {
                    format!("{scheme}{loc}")
                } else {
                    loc
                };
                // Keep scheme://host:port only.
                let after = leader.find("//").map_or(0, |i| i + 2);
                let end = leader[after..]
                    .find('/')
                    .map_or(leader.len(), |i| after + i);
                let leader = leader[..end].to_string();
                if leader.len() <= after {
                    return Err(GatherError::NoLeader(format!("{url}: empty Location")));
                }
                Ok(leader)
            }
            MasterSource::Zk { hosts, path, auth } => {
                let zerr = |why: String| GatherError::Zk {
                    hosts: hosts.clone(),
                    why,
                };
                let client = tokio::time::timeout(std::time::Duration::from_secs(10), {
                    let mut c = zookeeper_client::Client::connector()
                        .with_session_timeout(std::time::Duration::from_secs(10))
                        .with_connection_timeout(std::time::Duration::from_secs(3));
                    if let Some(a) = auth {
                        c = c.with_auth("digest", a.as_bytes());
                    }
                    c.connect(hosts)
                })
                .await
                .map_err(|_| zerr("no session within 10s".into()))?
                .map_err(|e| zerr(format!("connect: {e}")))?;
                if auth.is_some() {
                    // Its credential goes only to a leader the masters registered: as
                    // mesos-boot's agents check (bootstrap/src/mesos/leader.rs), the path must
                    // grant nothing to anyone but digest credentials (the masters' boot closes it
                    // and removes what others made), and the leader's znode must be ephemeral.
                    let (acls, _) = match client.get_acl(path).await {
                        Ok(got) => got,
                        Err(zookeeper_client::Error::NoNode) => {
                            return Err(GatherError::NoLeader(format!("{hosts}: no znode {path}")))
                        }
                        Err(e) => return Err(zerr(format!("reading the ACL of {path}: {e}"))),
                    };
                    let open: Vec<String> = acls
                        .iter()
                        .filter(|a| {
                            a.scheme() != "digest"
                                && a.permission() != zookeeper_client::Permission::NONE
                        })
                        .map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission()))
                        .collect();
                    if !open.is_empty() {
                        return Err(GatherError::NoLeader(format!(
                            "{hosts}: {path} is open to {}: no credential is sent to a leader read from it",
                            open.join(", ")
                        )));
                    }
                }
                let children = match client.list_children(path).await {
                    Ok(c) => c,
                    Err(zookeeper_client::Error::NoNode) => {
                        return Err(GatherError::NoLeader(format!("{hosts}: no znode {path}")))
                    }
                    Err(e) => return Err(zerr(format!("listing {path}: {e}"))),
                };
                let leader = children
                    .iter()
                    .filter_map(|c| {
                        c.strip_prefix("json.info_")
                            .and_then(|s| s.parse::<u64>().ok())
                            .map(|n| (n, c))
                    })
                    .min_by_key(|(n, _)| *n)
                    .map(|(_, c)| format!("{path}/{c}"))
                    .ok_or_else(|| {
                        GatherError::NoLeader(format!("{hosts}: no json.info_* under {path}"))
                    })?;
                let (data, stat) = client
                    .get_data(&leader)
                    .await
                    .map_err(|e| zerr(format!("reading {leader}: {e}")))?;
                if auth.is_some() && stat.ephemeral_owner == 0 {
                    return Err(GatherError::NoLeader(format!(
                        "{hosts}: {leader} is persistent: no Mesos master made it"
                    )));
                }
                Ok(mesos::master_info_url(&leader, &data)?)
            }
        }
    }

    /// The master's side: metrics and state of the leader.
    pub async fn master(&self, leader: &str) -> Result<(Metrics, MasterState), GatherError> {
        let url = format!("{leader}/metrics/snapshot");
        let metrics = mesos::parse_metrics(&url, &expect_ok(&self.http, &url).await?)?;
        let url = format!("{leader}/master/state");
        let state = mesos::parse_state(&url, &expect_ok(&self.http, &url).await?)?;
        Ok((metrics, state))
    }

    /// Machines the master reports down, and those scheduled but not down.
    pub async fn maintenance_status(
        &self,
        leader: &str,
    ) -> Result<(Vec<Machine>, Vec<Machine>), GatherError> {
        #[derive(serde::Deserialize)]
        struct Status {
            #[serde(default)]
            down_machines: Vec<Machine2>,
            #[serde(default)]
            draining_machines: Vec<Draining>,
        }
        #[derive(serde::Deserialize)]
        struct Draining {
            id: Machine2,
        }
        #[derive(serde::Deserialize)]
        struct Machine2 {
            #[serde(default)]
            hostname: String,
            #[serde(default)]
            ip: String,
        }
        let url = format!("{leader}/master/maintenance/status");
        let body = expect_ok(&self.http, &url).await?;
        let s: Status = serde_json::from_slice(&body).map_err(|error| ParseError::Json {
            source_name: url,
            error,
        })?;
        let m = |m: Machine2| Machine {
            hostname: m.hostname,
            ip: m.ip,
        };
        Ok((
            s.down_machines.into_iter().map(m).collect(),
            s.draining_machines.into_iter().map(|d| m(d.id)).collect(),
        ))
    }

    /// Machines of terminated instances that carry a maintenance drain tag.
    pub async fn released(&self) -> Result<Vec<Machine>, GatherError> {
        use aws_sdk_ec2::types::Filter;
        let eerr = |why: String| GatherError::Ec2 {
            group: self.group.clone(),
            why,
        };
        let mut pages = self
            .ec2
            .describe_instances()
            .filters(Filter::builder().name("tag-key").values(DRAIN_TAG).build())
            .filters(
                Filter::builder()
                    .name("instance-state-name")
                    .values("shutting-down")
                    .values("terminated")
                    .build(),
            )
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| eerr(DisplayErrorContext(&e).to_string()))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                for t in i.tags() {
                    if t.key() == Some(DRAIN_TAG) {
                        if let Some(d) = t.value().and_then(DrainTag::parse) {
                            if d.method == DrainMethod::Maintenance && !out.contains(&d.machine) {
                                out.push(d.machine);
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The group, its instances (with their EC2 data and our tags) and the persisted state.
    pub async fn group(&self) -> Result<(Asg, Vec<Instance>, State), GatherError> {
        let group = self.group.clone();
        let aerr = |why: String| GatherError::Asg {
            group: group.clone(),
            why,
        };
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(&self.group)
            .send()
            .await
            .map_err(|e| {
                aerr(format!(
                    "DescribeAutoScalingGroups: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        let g = match out.auto_scaling_groups() {
            [g] => g,
            [] => return Err(aerr("no such group".into())),
            _ => return Err(aerr("more than one group of that name".into())),
        };
        let asg = Asg {
            name: self.group.clone(),
            desired: g.desired_capacity().unwrap_or(0).max(0) as u32,
            min: g.min_size().unwrap_or(0).max(0) as u32,
            max: g.max_size().unwrap_or(0).max(0) as u32,
        };
        let state = match g.tags().iter().find(|t| t.key() == Some(STATE_TAG)) {
            Some(t) => State::parse(t.value().unwrap_or_default()).map_err(aerr)?,
            None => State::default(),
        };
        let mut instances: Vec<Instance> = g
            .instances()
            .iter()
            .filter_map(|i| {
                Some(Instance {
                    id: i.instance_id()?.to_string(),
                    az: i.availability_zone().unwrap_or_default().to_string(),
                    lifecycle: i
                        .lifecycle_state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    healthy: i.health_status() == Some("Healthy"),
                    ip: None,
                    hostname: None,
                    launched_at: None,
                    idle_since: None,
                    drain: None,
                })
            })
            .collect();
        let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
        let eerr = |why: String| GatherError::Ec2 {
            group: group.clone(),
            why,
        };
        let mut by_id: HashMap<String, aws_sdk_ec2::types::Instance> = HashMap::new();
        for chunk in ids.chunks(200) {
            let mut pages = self
                .ec2
                .describe_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| eerr(DisplayErrorContext(&e).to_string()))?;
                for r in page.reservations() {
                    for i in r.instances() {
                        if let Some(id) = i.instance_id() {
                            by_id.insert(id.to_string(), i.clone());
                        }
                    }
                }
            }
        }
        for inst in &mut instances {
            let Some(e) = by_id.get(&inst.id) else {
                return Err(eerr(format!(
                    "instance {} of the group is unknown to EC2",
                    inst.id
                )));
            };
            inst.ip = e.private_ip_address().map(str::to_string);
            inst.hostname = e
                .private_dns_name()
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            inst.launched_at = e.launch_time().map(|t| t.secs().max(0) as u64);
            for t in e.tags() {
                match (t.key(), t.value()) {
                    (Some(IDLE_TAG), Some(v)) => inst.idle_since = v.parse().ok(),
                    (Some(DRAIN_TAG), Some(v)) => inst.drain = DrainTag::parse(v),
                    _ => {}
                }
            }
        }
        Ok((asg, instances, state))
    }

    /// Gathers everything, or fails.
    pub async fn gather(&self, now: u64) -> Result<Gathered, GatherError> {
        let leader = self.leader().await?;
        let (metrics, master) = self.master(&leader).await?;
        let (asg, instances, state) = self.group().await?;
        let released = self.released().await?;
        let (down_machines, draining_machines) = if !released.is_empty()
            || instances.iter().any(|i| {
                i.drain
                    .as_ref()
                    .is_some_and(|d| d.method == DrainMethod::Maintenance)
            }) {
            self.maintenance_status(&leader).await?
        } else {
            (Vec::new(), Vec::new())
        };
        let (nodes, unmatched_agents) = match_agents(instances, master.agents);
        Ok(Gathered {
            leader,
            snapshot: Snapshot {
                now,
                master_version: master.version,
                metrics,
                asg,
                nodes,
                unmatched_agents,
                down_machines,
                draining_machines,
                released,
            },
            state,
        })
    }
}

fn short(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// Pairs each instance with the agent announcing its IP, else its hostname (full or short).
/// Returns the nodes and how many agents matched no instance.
pub fn match_agents(
    instances: Vec<Instance>,
    agents: Vec<crate::model::Agent>,
) -> (Vec<Node>, usize) {
    let mut by_ip: HashMap<String, usize> = HashMap::new();
    let mut by_host: HashMap<String, usize> = HashMap::new();
    for (k, a) in agents.iter().enumerate() {
        if let Some(ip) = &a.ip {
            by_ip.insert(ip.clone(), k);
        }
        by_host.insert(a.hostname.clone(), k);
        by_host.entry(short(&a.hostname).to_string()).or_insert(k);
    }
    let mut agents: Vec<Option<crate::model::Agent>> = agents.into_iter().map(Some).collect();
    let nodes: Vec<Node> = instances
        .into_iter()
        .map(|instance| {
            let k = instance
                .ip
                .as_ref()
                .and_then(|ip| by_ip.get(ip))
                .or_else(|| {
                    instance
                        .hostname
                        .as_ref()
                        .and_then(|h| by_host.get(h.as_str()).or_else(|| by_host.get(short(h))))
                })
                .copied();
            let agent = k.and_then(|k| agents[k].take());
            Node { instance, agent }
        })
        .collect();
    let unmatched = agents.iter().filter(|a| a.is_some()).count();
    (nodes, unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Agent;

    #[test]
    fn master_sources_parse_or_name_the_flag() {
        assert_eq!(
            MasterSource::parse(Some("http://m.example:5050/"), None).unwrap(),
            MasterSource::Url("http://m.example:5050".into())
        );
        assert_eq!(
            MasterSource::parse(None, Some("zk://10.0.0.1:2181,10.0.0.2:2181/mesos")).unwrap(),
            MasterSource::Zk {
                hosts: "10.0.0.1:2181,10.0.0.2:2181".into(),
                path: "/mesos".into(),
                auth: None,
            }
        );
        assert_eq!(
            MasterSource::parse(None, Some("zk://mesos-agent:s3cr3t@10.0.0.1:2181/mesos")).unwrap(),
            MasterSource::Zk {
                hosts: "10.0.0.1:2181".into(),
                path: "/mesos".into(),
                auth: Some("mesos-agent:s3cr3t".into()),
            }
        );
        let e = MasterSource::parse(None, Some("zk://u:s3cr3t@10.0.0.1:2181")).unwrap_err();
        assert!(e.contains("MESOS_ZK") && !e.contains("s3cr3t"), "{e}");
        for (m, z, flag) in [
            (Some("m.example:5050"), None, "MESOS_MASTER"),
            (Some("http://m:5050/master"), None, "MESOS_MASTER"),
            (None, Some("10.0.0.1:2181/mesos"), "MESOS_ZK"),
            (None, Some("zk://10.0.0.1:2181"), "MESOS_ZK"),
            (None, None, "MESOS_MASTER"),
        ] {
            let e = MasterSource::parse(m, z).unwrap_err();
            assert!(e.contains(flag), "{e}");
        }
    }

    fn inst(id: &str, ip: &str, host: &str) -> Instance {
        Instance {
            id: id.into(),
            az: "a".into(),
            lifecycle: "InService".into(),
            healthy: true,
            ip: Some(ip.into()),
            hostname: Some(host.into()),
            launched_at: None,
            idle_since: None,
            drain: None,
        }
    }

    fn agent(id: &str, ip: Option<&str>, host: &str) -> Agent {
        Agent {
            id: id.into(),
            hostname: host.into(),
            ip: ip.map(str::to_string),
            tasks: 0,
            used_cpus: 0.0,
            used_mem: 0.0,
            used_gpus: 0.0,
            active: true,
            drain: None,
        }
    }

    #[test]
    fn agents_match_by_ip_then_hostname() {
        let instances = vec![
            inst("i-1", "10.0.0.1", "ip-10-0-0-1.ec2.internal"),
            inst("i-2", "10.0.0.2", "ip-10-0-0-2.ec2.internal"),
            inst("i-3", "10.0.0.3", "ip-10-0-0-3.ec2.internal"),
        ];
        let agents = vec![
            agent("S1", Some("10.0.0.1"), "whatever"),
            agent("S2", None, "ip-10-0-0-2"),
            agent("S9", Some("10.0.0.9"), "ip-10-0-0-9.ec2.internal"),
        ];
        let (nodes, unmatched) = match_agents(instances, agents);
        let ids: Vec<Option<&str>> = nodes
            .iter()
            .map(|n| n.agent.as_ref().map(|a| a.id.as_str()))
            .collect();
        assert_eq!(ids, vec![Some("S1"), Some("S2"), None]);
        assert_eq!(unmatched, 1);
    }
}
