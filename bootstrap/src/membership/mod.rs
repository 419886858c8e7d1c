//! The membership step of a ZooKeeper node's boot: where this node stands in the ensemble,
//! decided before anything is written.
//!
//! 1. A node with local ZooKeeper state (it ran before) that cannot read the shared config
//!    within `offline_after` starts from that state: its own id and dynamic config.
//! 2. Otherwise it registers in servers-spec ([`Registrar`]) and looks at the listed servers:
//!    - an ensemble serves: take its membership from `/zookeeper/config`, and join by reconfig
//!      when this server is not in it;
//!    - servers answer but none serves, or their membership cannot be read: nothing can be
//!      concluded; look again until the deadline (a restarting member starts anyway: the
//!      others may need its vote; so does a member of a formation still in progress);
//!    - nobody answers: a new ensemble forms once the recorded size is registered, unless an
//!      ensemble formed from this config before ([`register::FORMED_KEY`]): then a new node
//!      waits, so that no second ensemble starts beside the data of the first.
//! 3. A node that gives up before starting ZooKeeper takes its registration back.

pub mod register;
pub mod restore;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use self::register::{Me, Registrar, Sweeper};
use crate::cloud::instances::Aws;
use crate::failure::{Failure, Kind, Result};
use crate::node::zk_state;
use crate::retry::{self, Attempt};
use crate::store::{Server, ServerKind, SharedConfig, Snapshot, Store};
use crate::zk::admin::{self, LiveConfig, Probe};
use crate::zk::peer::{client_addr, ensemble_of, Peer};
use crate::zk::secret::{self, Secret};

/// What the step needs.
pub struct Inputs<'a> {
    pub store: &'a Store,
    pub me: Me,
    /// This node's view of the ensemble size (tag, or the group's desired capacity).
    pub size: Option<u32>,
    pub root: &'a Path,
    pub deadline: Instant,
    /// EC2 / Auto Scaling and the node's group, to tell dead registrants (None off AWS).
    pub aws: Option<(Aws, Option<String>)>,
    /// How long a registrant's instance must look gone before a waiting node removes it.
    pub grace: Duration,
    /// How long a member with local state tries the shared config before starting without it.
    pub offline_after: Duration,
}

/// The node joins a running ensemble by reconfig.
#[derive(Debug, Clone)]
pub struct Join {
    /// `server.N=...` of this node.
    pub line: String,
    /// `host:port` of the current voters (reconfig goes through them).
    pub through: String,
}

/// This node's place, with the shared config.
pub struct Membership {
    pub myid: u32,
    /// The shared config with servers-spec replaced by the membership to start with.
    pub view: SharedConfig,
    pub snapshot: Snapshot,
    pub secret: Secret,
    pub join: Option<Join>,
    /// `formed`, `joined` or `member` (the boot record's `membership`).
    pub how: &'static str,
}

/// A member starting from its local state, without the shared config.
pub struct Offline {
    pub myid: u32,
    /// This server's client address from its dynamic config.
    pub client_addr: String,
    pub dynamic: PathBuf,
    /// `(id, host:client-port, voter)` of the members in the local dynamic config.
    pub servers: Vec<Peer>,
    /// Why the shared config was not used.
    pub reason: String,
}

pub enum Decision {
    Online(Box<Membership>),
    Offline(Offline),
}

/// Decides this node's membership (see the module doc).
pub async fn decide(inp: Inputs<'_>) -> Result<Decision> {
    let local = zk_state::local_zookeeper(inp.root);
    let mut me = inp.me.clone();
    me.local_id = local.as_ref().map(|l| l.myid);
    if let Some(local) = &local {
        let until = inp.deadline.min(Instant::now() + inp.offline_after);
        if let Err(reason) = readable(inp.store, until).await {
            let (dynamic, text) = &local.dynamic;
            let client_addr = client_addr(text, local.myid).ok_or_else(|| {
                Failure::bad_input(format!(
                    "{}: no client address for server.{} (and the shared config is unreadable: {reason})",
                    dynamic.display(),
                    local.myid
                ))
            })?;
            let servers = admin::parse_config(text)
                .map(|c| {
                    c.members
                        .iter()
                        .filter_map(|m| {
                            let addr = crate::zk::peer::client_addr(text, m.id)?;
                            Some(Peer::new(m.id, addr, m.participant))
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Decision::Offline(Offline {
                myid: local.myid,
                client_addr,
                dynamic: dynamic.clone(),
                servers,
                reason,
            }));
        }
    }
    let sweeper = tokio::sync::Mutex::new(Sweeper::new(inp.aws.clone(), inp.grace));
    let reg = Registrar {
        store: inp.store,
        me: &me,
        size: inp.size,
        sweeper: &sweeper,
        deadline: inp.deadline,
    };
    let (myid, config, snapshot) = reg.register().await?;
    match place(&reg, myid, config, snapshot, local.is_some()).await {
        Ok(m) => Ok(Decision::Online(Box::new(m))),
        Err(f) => {
            if local.is_none() {
                reg.withdraw(myid).await;
            }
            Err(f)
        }
    }
}

/// Whether the shared config can be read (its content parsed) before `until`.
async fn readable(store: &Store, until: Instant) -> std::result::Result<(), String> {
    let url = store.location().to_string();
    let got = retry::until("shared config", until, Duration::from_secs(2), || async {
        match register::read_config::<()>(store).await {
            Ok(Some(_)) => Attempt::Done(()),
            Ok(None) => Attempt::Again(Failure::unreachable(format!("{url} does not exist"))),
            Err(again_or_fail) => again_or_fail,
        }
    })
    .await;
    got.map_err(|e| e.map_or_else(|| format!("{url}: no answer"), |f| f.to_string()))
}

async fn place(
    reg: &Registrar<'_>,
    myid: u32,
    config: SharedConfig,
    snapshot: Snapshot,
    ran_before: bool,
) -> Result<Membership> {
    let me = reg.me;
    let secret = secret::ensure(reg.store, reg.deadline).await?;
    let ports = (
        config.connect_port()?,
        config.election_port()?,
        config.client_port()?,
    );
    let size = register::recorded_size(&config).or(reg.size);
    let formed_before = register::formed(&config);
    let url = reg.store.location().to_string();
    let said = std::sync::Mutex::new(None::<String>);
    // Say each reason once, not on every look.
    let say_once = |why: &str| {
        let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
        let new = said.as_deref() != Some(why);
        *said = Some(why.to_string());
        new
    };
    let (config_ref, url_ref, say_once) = (&config, &url, &say_once);
    let observer = me.observer;
    // Look until the ensemble's state says what to do.
    let looked = retry::until("ensemble state", reg.deadline, Duration::from_secs(2), || {
        let (config, url) = (config_ref, url_ref);
        async move {
            let others: Vec<Peer> = ensemble_of(config)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.id != myid)
                .collect();
            let probe = if others.is_empty() {
                Probe::Down
            } else {
                admin::probe(&others).await
            };
            match probe {
                Probe::Live(live) => Attempt::Done(Some(live)),
                _ if ran_before => Attempt::Done(None),
                // An observer joins a running ensemble; it never forms one.
                _ if observer => {
                    let why = "an observer joins a running ensemble, and none serves yet".to_string();
                    if say_once(&why) {
                        tracing::info!(reason = %why, "waiting for the ensemble");
                    }
                    Attempt::Again(Failure::no_quorum(format!("{url}: {why}")))
                }
                Probe::Unsettled(_) if !formed_before => Attempt::Done(None),
                Probe::Down if !formed_before => Attempt::Done(None),
                Probe::Unsettled(why) => {
                    if say_once(&why) {
                        tracing::info!(reason = %why, "the running ensemble is not settled; looking again (a failed look is not a new ensemble)");
                    }
                    Attempt::Again(Failure::no_quorum(format!("{url}: {why}")))
                }
                Probe::Down => {
                    let why = format!(
                        "an ensemble formed from this config before ({}) and no listed server answers; \
                         a new node does not start a second ensemble: start the old members, or restore",
                        register::FORMED_KEY
                    );
                    if say_once(&why) {
                        tracing::warn!(reason = %why, "waiting for the ensemble");
                    }
                    Attempt::Again(Failure::no_quorum(format!("{url}: {why}")))
                }
            }
        }
    })
    .await
    .map_err(|last| {
        let f = last.unwrap_or_else(|| Failure::no_quorum(format!("{url}: no answer")));
        Failure::new(f.kind, format!("{} (gave up at the deadline)", f.message))
    })?;
    let live = match looked {
        Some(live) => Some(live),
        None => match size {
            // A member restarting rejoins what is listed; a new ensemble forms only from a
            // committed spec (register::FORMING_KEY): the registrant that completes the count
            // commits it too, after checking that no registrant's instance is gone, instead of
            // forming at once from what it registered into (which may list a dead registrant
            // that the waiting ones are removing: two specs, two ensembles).
            Some(n) if !ran_before => {
                tracing::info!(
                    myid,
                    expected = n,
                    "new ensemble: waiting until every member is registered and the spec is committed"
                );
                match reg.wait_for_members(myid, n).await? {
                    Ok((config, snapshot)) => {
                        return formed(myid, config, snapshot, secret, false);
                    }
                    Err(live) => {
                        tracing::info!(myid, "an ensemble is running meanwhile: joining it");
                        Some(live)
                    }
                }
            }
            _ => None,
        },
    };
    let Some(live) = live else {
        return formed(myid, config, snapshot, secret, ran_before);
    };
    join(me, myid, &config, snapshot, secret, &live, ports)
}

/// A new ensemble (every registered member), or a member that ran before restarting with
/// what ZooKeeper keeps locally (no other member serves right now).
fn formed(
    myid: u32,
    config: SharedConfig,
    snapshot: Snapshot,
    secret: Secret,
    ran_before: bool,
) -> Result<Membership> {
    if ran_before {
        tracing::info!(
            myid,
            "restarting with this member's own membership (no other member serves yet)"
        );
    } else {
        tracing::info!(myid, spec = %config.get("servers-spec"), "new ensemble: starting with every registered member");
    }
    check_in(&config, myid)?;
    Ok(Membership {
        myid,
        view: config,
        snapshot,
        secret,
        join: None,
        how: if ran_before { "member" } else { "formed" },
    })
}

fn join(
    me: &Me,
    myid: u32,
    config: &SharedConfig,
    snapshot: Snapshot,
    secret: Secret,
    live: &LiveConfig,
    ports: (u16, u16, u16),
) -> Result<Membership> {
    if let Some(m) = live.member(myid) {
        if m.host != me.ip && !m.host.eq_ignore_ascii_case(&me.hostname) {
            return Err(Failure::bad_input(format!(
                "server.{myid} is a live member at {} in /zookeeper/config (version {}), not this node ({})",
                m.host, live.version, me.ip
            )));
        }
    }
    let mut members: Vec<Server> = live
        .members
        .iter()
        .filter(|m| m.id != myid)
        .map(|m| Server {
            id: m.id,
            host: m.host.clone(),
            kind: if m.participant {
                ServerKind::Standard
            } else {
                ServerKind::Observer
            },
        })
        .collect();
    members.push(Server {
        id: myid,
        host: me.ip.clone(),
        kind: if me.observer {
            ServerKind::Observer
        } else {
            ServerKind::Standard
        },
    });
    members.sort_by_key(|s| s.id);
    let mut view = config.clone();
    view.set_servers(&members);
    let (join, how) = if live.member(myid).is_some() {
        tracing::info!(myid, version = %live.version, "already a member of the running ensemble");
        (None, "member")
    } else {
        tracing::info!(myid, version = %live.version, "the ensemble is running without this server: joining");
        let through: Vec<String> = live
            .voters()
            .map(|m| format!("{}:{}", m.host, ports.2))
            .collect();
        (
            Some(Join {
                line: admin::server_line_as(myid, &me.ip, ports, me.observer),
                through: through.join(","),
            }),
            "joined",
        )
    };
    check_in(&view, myid)?;
    Ok(Membership {
        myid,
        view,
        snapshot,
        secret,
        join,
        how,
    })
}

fn check_in(view: &SharedConfig, myid: u32) -> Result<()> {
    if view.servers()?.iter().all(|s| s.id != myid) {
        return Err(Failure::new(
            Kind::Internal,
            format!("server.{myid} missing from its own membership"),
        ));
    }
    Ok(())
}

/// Records in the shared config that an ensemble formed from it (once; a conditional write,
/// best effort: `serve` sets it too).
pub async fn mark_formed(store: &Store, me: &Me) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = retry::until(
        "marking the ensemble formed",
        deadline,
        Duration::from_secs(2),
        || async {
            let snap = match store.read().await {
                Ok(Some(s)) => s,
                Ok(None) => return Attempt::Done(false),
                Err(e) => return Attempt::Again(e.to_string()),
            };
            let Ok(cfg) = SharedConfig::parse(&snap.text) else {
                return Attempt::Done(false);
            };
            match register::write_formed(store, &cfg, &snap.version, &me.hostname, &me.ip).await {
                Ok(wrote) => Attempt::Done(wrote),
                Err(e) => Attempt::Again(e.to_string()),
            }
        },
    )
    .await;
    match got {
        Ok(true) => tracing::info!(
            key = register::FORMED_KEY,
            "recorded that the ensemble formed"
        ),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e.unwrap_or_default(), "could not record that the ensemble formed; serve will")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_from_a_dynamic_config() {
        let text = "server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\n\
                    server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
                    server.3=10.0.0.3:2888:3888:participant;2182\n\
                    version=100000000\n";
        assert_eq!(client_addr(text, 1).as_deref(), Some("10.0.0.1:2181"));
        assert_eq!(client_addr(text, 2).as_deref(), Some("10.0.0.2:2181"));
        assert_eq!(client_addr(text, 3).as_deref(), Some("10.0.0.3:2182"));
        assert_eq!(client_addr(text, 4), None);
    }
}
