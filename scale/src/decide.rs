//! The decision: a pure function from a [`Snapshot`], the [`Policy`] and the [`State`] left by
//! the previous evaluation to a [`Decision`] (actions, the rule that fired, the next state).
//! No I/O and no clock here: `snapshot.now` is the time.
//!
//! Rules, in order:
//! 1. Drains in progress are carried on: a drained agent's instance is terminated, a
//!    maintenance machine whose agent has no task left is taken down.
//! 2. Scale-out when utilisation (max of the cpus, mem and, when present, gpus used fractions)
//!    is above `setpoint + margin`, or tasks have been staging for `staging_evaluations`
//!    consecutive evaluations; bounded by the group's max and `max_step`, not within
//!    `scale_out_cooldown` of the last scale-out.
//! 3. Scale-in when utilisation is below `setpoint - margin` and nothing is staging; not within
//!    either cooldown, nor within `hold_after_loss` of losing an agent; only instances that never
//!    registered or agents idle for `unneeded_time` (busy agents only with `drain_busy`), never
//!    below the group's min nor below what keeps utilisation at the setpoint; never-registered
//!    instances first, then idle agents, then (allowed) busy ones, each time from the
//!    availability zone with the most instances.
//! 4. Otherwise nothing (within the band, or a bound or cooldown holds).

use std::collections::BTreeMap;

use crate::model::{AgentDrain, DrainMethod, DrainTag, Machine, Node, Snapshot, State};
use crate::policy::{DrainMode, Policy};

/// One thing to do, in the order listed by [`Decision::actions`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// `SetDesiredCapacity` (scale-out).
    SetDesired { from: u32, to: u32 },
    /// Tag the instance with `tag`, then drain its agent.
    StartDrain {
        instance_id: String,
        #[serde(skip)]
        tag: DrainTag,
        method: &'static str,
        agent_id: String,
        tasks: u32,
    },
    /// `machine/down` of a maintenance drain whose agent has no task left.
    MachineDown {
        instance_id: String,
        machine: Machine,
    },
    /// `TerminateInstanceInAutoScalingGroup` (decrementing desired); then, for a maintenance
    /// drain, `machine/up` and removal from the schedule.
    Terminate {
        instance_id: String,
        reason: &'static str,
        cleanup: Option<Machine>,
    },
    /// The instance of a maintenance drain is gone but its machine is still down (`down`:
    /// `machine/up`) or scheduled: release it (a run failed after the termination).
    Release { machine: Machine, down: bool },
    /// Set the instance's idle-since tag.
    MarkIdle { instance_id: String, since: u64 },
    /// Remove the instance's idle-since tag.
    ClearIdle { instance_id: String },
}

impl Action {
    /// Whether the action changes the cluster's size or an agent (idle marks do not).
    pub fn is_scaling(&self) -> bool {
        !matches!(self, Action::MarkIdle { .. } | Action::ClearIdle { .. })
    }
}

/// Utilisation fractions.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Utilisation {
    pub cpus: f64,
    pub mem: f64,
    pub gpus: Option<f64>,
    pub max: f64,
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// The rule that fired (`scale-out`, `scale-in`, `within-band`, `cooldown-out`, ...).
    pub rule: &'static str,
    /// Why, in words.
    pub reason: String,
    pub utilisation: Utilisation,
    pub desired: u32,
    /// Desired capacity once the actions are done.
    pub target: u32,
    pub actions: Vec<Action>,
    /// State to persist for the next evaluation.
    pub state: State,
}

fn frac(used: f64, total: f64) -> f64 {
    if total > 0.0 {
        used / total
    } else {
        0.0
    }
}

/// Utilisation of the cluster: max of the used fractions (gpus only when the cluster has some).
pub fn utilisation(m: &crate::model::Metrics) -> Utilisation {
    let cpus = frac(m.cpus_used, m.cpus_total);
    let mem = frac(m.mem_used, m.mem_total);
    let gpus = (m.gpus_total > 0.0).then(|| frac(m.gpus_used, m.gpus_total));
    let max = cpus.max(mem).max(gpus.unwrap_or(0.0));
    Utilisation {
        cpus,
        mem,
        gpus,
        max,
    }
}

/// The drain method for a master of `version` under `mode`.
pub fn drain_method(mode: DrainMode, version: &str) -> DrainMethod {
    match mode {
        DrainMode::DrainAgent => DrainMethod::DrainAgent,
        DrainMode::Maintenance => DrainMethod::Maintenance,
        DrainMode::Auto => {
            let mut it = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
            let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            if (major, minor) >= (1, 9) {
                DrainMethod::DrainAgent
            } else {
                DrainMethod::Maintenance
            }
        }
    }
}

fn within(now: u64, since: Option<u64>, window: u64) -> bool {
    since.is_some_and(|t| now < t.saturating_add(window))
}

/// Candidate classes for scale-in, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    NeverRegistered,
    Idle,
    Busy,
}

/// Decides. Pure: same inputs, same decision. One rule after the other, as the module doc
/// lists them; the first that decides ends the evaluation.
pub fn decide(snap: &Snapshot, policy: &Policy, prev: &State) -> Decision {
    let mut out = Outcome {
        actions: idle_marks(snap),
        state: prev.clone(),
    };
    let agents_now = observe(snap, prev, &mut out.state);
    let (draining, terminating) = carry_drains(snap, policy, &mut out.actions);
    release_machines(snap, &mut out.actions);
    let ev = Eval::new(
        snap,
        policy,
        prev,
        &out.state,
        agents_now,
        draining,
        terminating,
    );

    if ev.high || ev.staging {
        return ev.scale_out(out);
    }
    if !ev.low {
        let (p, u) = (policy, ev.util.max);
        let reason = format!(
            "utilisation {u:.3} within {:.3}..={:.3}",
            p.setpoint - p.margin,
            p.setpoint + p.margin
        );
        return ev.finish("within-band", reason, ev.after_terminations, out);
    }
    if let Some((rule, what)) = ev.hold(&out.state) {
        let reason = format!("{}, but {what}", ev.why_low());
        return ev.finish(rule, reason, ev.after_terminations, out);
    }
    ev.scale_in(out)
}

/// What the rules add to as they go: the actions and the state for the next evaluation.
struct Outcome {
    actions: Vec<Action>,
    state: State,
}

/// The inputs and the figures every rule reads, derived once.
struct Eval<'a> {
    snap: &'a Snapshot,
    policy: &'a Policy,
    prev: &'a State,
    now: u64,
    util: Utilisation,
    /// Registered agents not being drained by us.
    agents_now: u32,
    /// Desired capacity once the drained instances are terminated.
    after_terminations: u32,
    /// Desired capacity once every drain in flight is done.
    effective: u32,
    /// Utilisation above the band (the band's edges belong to it, with slack for sums of
    /// floating-point figures).
    high: bool,
    /// Tasks have been staging for `staging_evaluations` evaluations.
    staging: bool,
    /// Utilisation below the band.
    low: bool,
}

impl<'a> Eval<'a> {
    fn new(
        snap: &'a Snapshot,
        policy: &'a Policy,
        prev: &'a State,
        state: &State,
        agents_now: u32,
        draining: u32,
        terminating: u32,
    ) -> Self {
        let util = utilisation(&snap.metrics);
        let u = util.max;
        let desired = snap.asg.desired;
        Eval {
            snap,
            policy,
            prev,
            now: snap.now,
            util,
            agents_now,
            after_terminations: desired.saturating_sub(terminating),
            effective: desired.saturating_sub(draining + terminating),
            high: u > policy.setpoint + policy.margin + 1e-9,
            staging: state.staging_streak >= policy.staging_evaluations,
            low: u < policy.setpoint - policy.margin - 1e-9,
        }
    }

    fn finish(&self, rule: &'static str, reason: String, target: u32, out: Outcome) -> Decision {
        Decision {
            rule,
            reason,
            utilisation: self.util,
            desired: self.snap.asg.desired,
            target,
            actions: out.actions,
            state: out.state,
        }
    }

    fn why_low(&self) -> String {
        let p = self.policy;
        format!(
            "utilisation {:.3} below {:.3}",
            self.util.max,
            p.setpoint - p.margin
        )
    }

    /// Rule 2: scale out, bounded by the group's max and `max_step`, not within the cooldown,
    /// counting instances launched but not registered yet as capacity on its way.
    fn scale_out(&self, mut out: Outcome) -> Decision {
        let (snap, policy, now, u) = (self.snap, self.policy, self.now, self.util.max);
        let (agents_now, base_desired) = (self.agents_now, self.after_terminations);
        let why = if self.high {
            format!(
                "utilisation {u:.3} above {:.3}",
                policy.setpoint + policy.margin
            )
        } else {
            format!(
                "tasks staging for {} evaluations (threshold {})",
                out.state.staging_streak, policy.staging_evaluations
            )
        };
        if within(now, self.prev.last_scale_out, policy.scale_out_cooldown_s) {
            let reason = format!(
                "{why}, but the last scale-out was less than {}s ago",
                policy.scale_out_cooldown_s
            );
            return self.finish("cooldown-out", reason, base_desired, out);
        }
        let base = agents_now.max(1) as f64;
        let needed = if self.high {
            ((base * u / policy.setpoint - 1e-9).ceil() as u32).max(agents_now + 1)
        } else {
            agents_now + 1
        };
        // Instances launched but not registered yet (within the unneeded time) are capacity
        // on its way.
        let in_flight = snap
            .nodes
            .iter()
            .filter(|n| {
                n.agent.is_none()
                    && n.instance.drain.is_none()
                    && n.instance
                        .launched_at
                        .is_none_or(|t| now < t.saturating_add(policy.unneeded_time_s))
            })
            .count() as u32;
        let extra = needed.saturating_sub(agents_now + in_flight);
        if extra == 0 {
            let reason =
                format!("{why}, but {in_flight} launched instances have not registered yet");
            return self.finish("capacity-pending", reason, base_desired, out);
        }
        let want = base_desired + extra;
        let to = want
            .min(base_desired.saturating_add(policy.max_step))
            .min(snap.asg.max);
        if to <= base_desired {
            let reason = format!("{why}, but the group is at its max ({})", snap.asg.max);
            return self.finish("at-max", reason, base_desired, out);
        }
        out.state.last_scale_out = Some(now);
        out.actions.push(Action::SetDesired {
            from: base_desired,
            to,
        });
        let reason = format!(
            "{why}: {agents_now} serving agents need about {needed}; +{} (max step {}, max {})",
            to - base_desired,
            policy.max_step,
            snap.asg.max
        );
        self.finish("scale-out", reason, to, out)
    }

    /// What holds a scale-in back, first match: staging tasks, either cooldown, a recent loss.
    fn hold(&self, state: &State) -> Option<(&'static str, String)> {
        let (p, now, prev) = (self.policy, self.now, self.prev);
        if self.snap.metrics.tasks_staging > 0 {
            Some(("staging", "tasks are staging".to_string()))
        } else if within(now, prev.last_scale_out, p.scale_out_cooldown_s) {
            let s = p.scale_out_cooldown_s;
            Some((
                "cooldown-out",
                format!("the last scale-out was less than {s}s ago"),
            ))
        } else if within(now, prev.last_scale_in, p.scale_in_cooldown_s) {
            let s = p.scale_in_cooldown_s;
            Some((
                "cooldown-in",
                format!("the last scale-in was less than {s}s ago"),
            ))
        } else if within(now, state.last_loss, p.hold_after_loss_s) {
            let s = p.hold_after_loss_s;
            Some((
                "hold-after-loss",
                format!("an agent was lost less than {s}s ago"),
            ))
        } else {
            None
        }
    }

    /// Rule 3: scale in, never below the group's min nor below what keeps utilisation at the
    /// setpoint; drains agents, terminates instances that never registered.
    fn scale_in(&self, mut out: Outcome) -> Decision {
        let (snap, policy, now) = (self.snap, self.policy, self.now);
        let agents_now = self.agents_now;
        // How many serving agents must stay for utilisation to stay at or below the setpoint.
        let keep = ((agents_now as f64) * self.util.max / policy.setpoint - 1e-9)
            .ceil()
            .max(0.0) as u32;
        let agent_budget = agents_now.saturating_sub(keep.max(1));
        let budget = self
            .effective
            .saturating_sub(snap.asg.min)
            .min(policy.max_step);
        let (picked, agent_budget) = pick(snap, self.candidates(), budget, agent_budget);
        let why = self.why_low();
        if picked.is_empty() {
            let reason = if self.effective <= snap.asg.min {
                format!("{why}, but the group is at its min ({})", snap.asg.min)
            } else if agent_budget == 0 {
                format!("{why}, but removing an agent would push utilisation above the setpoint")
            } else {
                format!(
                    "{why}, but no agent has been idle for {}s (and no instance failed to register)",
                    policy.unneeded_time_s
                )
            };
            return self.finish("no-candidate", reason, self.after_terminations, out);
        }
        let method = drain_method(policy.drain_mode, &snap.master_version);
        for (class, n) in &picked {
            out.actions.push(removal(*class, n, method, now));
        }
        let removed = picked.len() as u32;
        // Drained agents leave the serving count now, so their removal is not a loss later.
        let drains = picked
            .iter()
            .filter(|(c, _)| *c != Class::NeverRegistered)
            .count() as u32;
        out.state.agents = Some(agents_now.saturating_sub(drains));
        out.state.last_scale_in = Some(now);
        let reason = format!(
            "{why}: {agents_now} serving agents, {keep} keep utilisation at the setpoint; removing {removed} (min {}, max step {})",
            snap.asg.min, policy.max_step
        );
        let target = self.after_terminations.saturating_sub(removed);
        self.finish("scale-in", reason, target, out)
    }

    /// The instances scale-in may remove: those that never registered (once they had time to,
    /// and only when every agent of the master is matched to an instance), agents idle for
    /// the unneeded time, and busy agents when `drain_busy` allows.
    fn candidates(&self) -> Vec<(Class, &'a Node)> {
        let (snap, policy, now) = (self.snap, self.policy, self.now);
        let mut candidates = Vec::new();
        for n in &snap.nodes {
            let i = &n.instance;
            if i.drain.is_some() || !i.in_service() {
                continue;
            }
            match &n.agent {
                None => {
                    // Never registered: removable once it had time to register, unless the
                    // master has agents we could not match (it might be one of them).
                    let old = i
                        .launched_at
                        .is_some_and(|t| now >= t.saturating_add(policy.unneeded_time_s));
                    if old && snap.unmatched_agents == 0 {
                        candidates.push((Class::NeverRegistered, n));
                    }
                }
                Some(a) if a.drain.is_some() || !a.active => {}
                Some(a) if a.idle() => {
                    if i.idle_since
                        .is_some_and(|t| now >= t.saturating_add(policy.unneeded_time_s))
                    {
                        candidates.push((Class::Idle, n));
                    }
                }
                Some(_) if policy.drain_busy => candidates.push((Class::Busy, n)),
                Some(_) => {}
            }
        }
        candidates
    }
}

/// The idle marks: an agent idle now keeps (or gets) its idle-since tag; a busy one loses it.
/// Unregistered instances are judged by their launch time instead.
fn idle_marks(snap: &Snapshot) -> Vec<Action> {
    let mut actions = Vec::new();
    for n in &snap.nodes {
        let i = &n.instance;
        let Some(agent) = n.agent.as_ref().filter(|_| i.drain.is_none()) else {
            continue;
        };
        match (agent.idle(), i.idle_since) {
            (true, None) => actions.push(Action::MarkIdle {
                instance_id: i.id.clone(),
                since: snap.now,
            }),
            (false, Some(_)) => actions.push(Action::ClearIdle {
                instance_id: i.id.clone(),
            }),
            _ => {}
        }
    }
    actions
}

/// Counts the serving agents (registered, active, not being drained by us), records a loss
/// when there are fewer than last time, and counts the evaluations that saw staging tasks.
fn observe(snap: &Snapshot, prev: &State, state: &mut State) -> u32 {
    let agents_now = snap
        .nodes
        .iter()
        .filter(|n| {
            n.instance.drain.is_none()
                && n.instance.in_service()
                && n.agent
                    .as_ref()
                    .is_some_and(|a| a.active && a.drain.is_none())
        })
        .count() as u32;
    if prev.agents.is_some_and(|before| agents_now < before) {
        state.last_loss = Some(snap.now);
    }
    state.agents = Some(agents_now);
    state.staging_streak = if snap.metrics.tasks_staging > 0 {
        prev.staging_streak.saturating_add(1)
    } else {
        0
    };
    agents_now
}

/// Rule 1: drains in progress are carried on. Returns how many instances are still draining
/// and how many are terminated now.
fn carry_drains(snap: &Snapshot, policy: &Policy, actions: &mut Vec<Action>) -> (u32, u32) {
    let (mut draining, mut terminating) = (0u32, 0u32);
    for n in &snap.nodes {
        let Some(tag) = &n.instance.drain else {
            continue;
        };
        let id = n.instance.id.clone();
        let carried = match tag.method {
            DrainMethod::DrainAgent => carry_drain_agent(n, tag, id),
            DrainMethod::Maintenance => carry_maintenance(snap, policy, n, tag, id),
        };
        match carried {
            Carried::Terminate(a) => {
                terminating += 1;
                actions.push(a);
            }
            Carried::Draining(a) => {
                draining += 1;
                actions.extend(a);
            }
        }
    }
    (draining, terminating)
}

/// What a drain in progress does this evaluation.
enum Carried {
    /// Done: its instance is terminated.
    Terminate(Action),
    /// Still draining, with what (if anything) moves it on.
    Draining(Option<Action>),
}

/// A DRAIN_AGENT drain: terminated once drained (or once the master forgot the agent).
fn carry_drain_agent(n: &Node, tag: &DrainTag, id: String) -> Carried {
    let drained = match &n.agent {
        None => true,
        Some(a) => a.drain == Some(AgentDrain::Drained),
    };
    if drained {
        Carried::Terminate(Action::Terminate {
            instance_id: id,
            reason: "drained",
            cleanup: None,
        })
    } else if let Some(a) = n.agent.as_ref().filter(|a| a.drain.is_none()) {
        // Tagged but the master knows no drain (the call failed after tagging): ask again;
        // DRAIN_AGENT is idempotent.
        Carried::Draining(Some(Action::StartDrain {
            instance_id: id,
            tag: tag.clone(),
            method: tag.method.as_str(),
            agent_id: tag.agent_id.clone(),
            tasks: a.tasks,
        }))
    } else {
        Carried::Draining(None)
    }
}

/// A maintenance drain: the machine goes down once its agent has no task left (or its grace
/// is over), and the instance is terminated once the machine is down.
fn carry_maintenance(
    snap: &Snapshot,
    policy: &Policy,
    n: &Node,
    tag: &DrainTag,
    id: String,
) -> Carried {
    if snap.down_machines.contains(&tag.machine) {
        return Carried::Terminate(Action::Terminate {
            instance_id: id,
            reason: "machine down",
            cleanup: Some(tag.machine.clone()),
        });
    }
    let quiet = n.agent.as_ref().is_none_or(|a| a.tasks == 0);
    let overdue = snap.now >= tag.since.saturating_add(policy.drain_grace_s);
    Carried::Draining((quiet || overdue).then(|| Action::MachineDown {
        instance_id: id,
        machine: tag.machine.clone(),
    }))
}

/// Machines left down or scheduled by a run that failed after terminating their instance.
fn release_machines(snap: &Snapshot, actions: &mut Vec<Action>) {
    for m in &snap.released {
        let down = snap.down_machines.contains(m);
        if down || snap.draining_machines.contains(m) {
            actions.push(Action::Release {
                machine: m.clone(),
                down,
            });
        }
    }
}

/// Picks up to `budget` candidates, never-registered instances first, then idle agents, then
/// busy ones (agents only while `agent_budget` lasts), each time from the availability zone
/// with the most instances, then the fewest tasks. Returns the picks and the agent budget left.
fn pick<'a>(
    snap: &Snapshot,
    mut candidates: Vec<(Class, &'a Node)>,
    mut budget: u32,
    mut agent_budget: u32,
) -> (Vec<(Class, &'a Node)>, u32) {
    let mut per_az: BTreeMap<&str, u32> = BTreeMap::new();
    for n in &snap.nodes {
        if n.instance.drain.is_none() {
            *per_az.entry(n.instance.az.as_str()).or_default() += 1;
        }
    }
    let mut picked = Vec::new();
    while budget > 0 && !candidates.is_empty() {
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(_, (c, _))| *c == Class::NeverRegistered || agent_budget > 0)
            .min_by(|(_, (ca, na)), (_, (cb, nb))| {
                let key = |c: &Class, n: &Node| {
                    (
                        *c,
                        std::cmp::Reverse(per_az.get(n.instance.az.as_str()).copied()),
                        n.agent.as_ref().map_or(0, |a| a.tasks),
                        n.instance.id.clone(),
                    )
                };
                key(ca, na).cmp(&key(cb, nb))
            })
            .map(|(idx, _)| idx);
        let Some(idx) = best else { break };
        let (class, n) = candidates.swap_remove(idx);
        if class != Class::NeverRegistered {
            agent_budget -= 1;
        }
        budget -= 1;
        if let Some(c) = per_az.get_mut(n.instance.az.as_str()) {
            *c -= 1;
        }
        picked.push((class, n));
    }
    (picked, agent_budget)
}

/// The action that removes a picked candidate: a never-registered instance is terminated, an
/// agent's instance is tagged and its agent drained by `method`.
fn removal(class: Class, n: &Node, method: DrainMethod, now: u64) -> Action {
    let i = &n.instance;
    match (class, &n.agent) {
        (Class::NeverRegistered, _) | (_, None) => Action::Terminate {
            instance_id: i.id.clone(),
            reason: "never registered",
            cleanup: None,
        },
        (_, Some(a)) => {
            let tag = DrainTag {
                method,
                since: now,
                agent_id: a.id.clone(),
                machine: Machine {
                    hostname: a.hostname.clone(),
                    ip: a
                        .ip
                        .clone()
                        .or_else(|| i.ip.clone())
                        .unwrap_or_else(|| a.hostname.clone()),
                },
            };
            Action::StartDrain {
                instance_id: i.id.clone(),
                tag,
                method: method.as_str(),
                agent_id: a.id.clone(),
                tasks: a.tasks,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Agent, Asg, Instance, Metrics};

    const NOW: u64 = 1_800_000_000;

    fn agent(i: usize, tasks: u32, used: f64) -> Agent {
        Agent {
            id: format!("S{i}"),
            hostname: format!("ip-10-0-0-{i}"),
            ip: Some(format!("10.0.0.{i}")),
            tasks,
            used_cpus: used,
            used_mem: used * 1024.0,
            used_gpus: 0.0,
            active: true,
            drain: None,
        }
    }

    fn node(i: usize, az: &str, agent: Option<Agent>) -> Node {
        Node {
            instance: Instance {
                id: format!("i-{i:04}"),
                az: az.into(),
                lifecycle: "InService".into(),
                healthy: true,
                ip: Some(format!("10.0.0.{i}")),
                hostname: Some(format!("ip-10-0-0-{i}")),
                launched_at: Some(NOW - 3600),
                idle_since: None,
                drain: None,
            },
            agent,
        }
    }

    /// `n` agents of 4 cpus, `busy` of them running one task using `used` cpus.
    fn snap(n: usize, busy: usize, used: f64) -> Snapshot {
        let nodes: Vec<Node> = (1..=n)
            .map(|i| {
                let az = if i % 2 == 0 { "az-b" } else { "az-a" };
                let a = if i <= busy {
                    agent(i, 1, used)
                } else {
                    agent(i, 0, 0.0)
                };
                node(i, az, Some(a))
            })
            .collect();
        let mut s = Snapshot {
            now: NOW,
            master_version: "1.11.0".into(),
            metrics: Metrics::default(),
            asg: Asg {
                name: "agents".into(),
                desired: n as u32,
                min: 1,
                max: 10,
            },
            nodes,
            unmatched_agents: 0,
            down_machines: vec![],
            draining_machines: vec![],
            released: vec![],
        };
        recompute(&mut s);
        s
    }

    fn recompute(s: &mut Snapshot) {
        let agents: Vec<&Agent> = s.nodes.iter().filter_map(|n| n.agent.as_ref()).collect();
        s.metrics.cpus_total = 4.0 * agents.len() as f64;
        s.metrics.mem_total = 4096.0 * agents.len() as f64;
        s.metrics.cpus_used = agents.iter().map(|a| a.used_cpus).sum();
        s.metrics.mem_used = agents.iter().map(|a| a.used_mem).sum();
    }

    fn idle_for(s: &mut Snapshot, secs: u64) {
        for n in &mut s.nodes {
            if n.agent.as_ref().is_some_and(|a| a.idle()) {
                n.instance.idle_since = Some(s.now - secs);
            }
        }
    }

    fn scaling(d: &Decision) -> Vec<&Action> {
        d.actions.iter().filter(|a| a.is_scaling()).collect()
    }

    fn pol() -> Policy {
        Policy::default()
    }

    #[test]
    fn utilisation_is_the_max_fraction_and_gpus_count_only_when_present() {
        let m = Metrics {
            cpus_total: 10.0,
            cpus_used: 5.0,
            mem_total: 100.0,
            mem_used: 80.0,
            ..Default::default()
        };
        let u = utilisation(&m);
        assert_eq!((u.cpus, u.mem, u.gpus, u.max), (0.5, 0.8, None, 0.8));
        let m = Metrics {
            gpus_total: 2.0,
            gpus_used: 2.0,
            ..m
        };
        assert_eq!(utilisation(&m).max, 1.0);
        assert_eq!(utilisation(&Metrics::default()).max, 0.0);
    }

    #[test]
    fn within_the_band_nothing_happens() {
        // 4 agents, all busy at 0.7 of their cpus.
        let s = snap(4, 4, 2.8);
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "within-band");
        assert!(scaling(&d).is_empty());
        assert_eq!(d.target, 4);
        // Right at the band's edges too.
        let s = snap(4, 4, 3.2);
        assert_eq!(decide(&s, &pol(), &State::default()).rule, "within-band");
    }

    #[test]
    fn high_utilisation_scales_out_by_what_is_needed_bounded_by_step_and_max() {
        // 4 agents at 0.9: about ceil(4*0.9/0.7) = 6 needed: +2.
        let s = snap(4, 4, 3.6);
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "scale-out");
        assert_eq!(d.actions, vec![Action::SetDesired { from: 4, to: 6 }]);
        assert_eq!(d.state.last_scale_out, Some(NOW));
        // Fully used: ceil(4/0.7) = 6, but max step 1.
        let s = snap(4, 4, 4.0);
        let p = Policy {
            max_step: 1,
            ..pol()
        };
        let d = decide(&s, &p, &State::default());
        assert_eq!(d.actions, vec![Action::SetDesired { from: 4, to: 5 }]);
        // Bounded by max.
        let mut s = snap(4, 4, 4.0);
        s.asg.max = 5;
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.actions, vec![Action::SetDesired { from: 4, to: 5 }]);
        s.asg.max = 4;
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "at-max");
        assert!(scaling(&d).is_empty());
    }

    #[test]
    fn instances_still_booting_count_as_capacity_on_its_way() {
        // 4 full agents need 6; one instance launched a minute ago has not registered yet.
        let mut s = snap(4, 4, 4.0);
        let mut young = node(5, "az-b", None);
        young.instance.launched_at = Some(NOW - 60);
        s.nodes.push(young);
        s.asg.desired = 5;
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.actions, vec![Action::SetDesired { from: 5, to: 6 }]);
        // Staging asks for one more agent, which is already on its way.
        let mut s2 = snap(4, 4, 2.4);
        s2.metrics.tasks_staging = 1;
        s2.nodes.push(s.nodes[4].clone());
        s2.asg.desired = 5;
        let prev = State {
            staging_streak: 5,
            ..Default::default()
        };
        assert_eq!(decide(&s2, &pol(), &prev).rule, "capacity-pending");
        // Not once it had time to register: then it is broken, not booting.
        s2.nodes[4].instance.launched_at = Some(NOW - 3600);
        assert_eq!(decide(&s2, &pol(), &prev).rule, "scale-out");
    }

    #[test]
    fn scale_out_cooldown_holds_then_expires() {
        let s = snap(4, 4, 4.0);
        let prev = State {
            last_scale_out: Some(NOW - 299),
            ..Default::default()
        };
        let d = decide(&s, &pol(), &prev);
        assert_eq!(d.rule, "cooldown-out");
        assert!(scaling(&d).is_empty());
        assert_eq!(d.state.last_scale_out, Some(NOW - 299));
        let prev = State {
            last_scale_out: Some(NOW - 300),
            ..Default::default()
        };
        assert_eq!(decide(&s, &pol(), &prev).rule, "scale-out");
    }

    #[test]
    fn staging_tasks_scale_out_after_n_evaluations() {
        let mut s = snap(4, 4, 2.4); // 0.6: within the band
        s.metrics.tasks_staging = 3;
        let mut state = State::default();
        for i in 1..=2 {
            let d = decide(&s, &pol(), &state);
            assert_eq!(d.rule, "within-band", "evaluation {i}");
            assert_eq!(d.state.staging_streak, i);
            state = d.state;
        }
        let d = decide(&s, &pol(), &state);
        assert_eq!(d.rule, "scale-out");
        assert_eq!(d.actions, vec![Action::SetDesired { from: 4, to: 5 }]);
        // The streak resets when nothing stages.
        s.metrics.tasks_staging = 0;
        assert_eq!(decide(&s, &pol(), &state).state.staging_streak, 0);
    }

    #[test]
    fn idle_agents_get_marked_and_busy_ones_unmarked() {
        let mut s = snap(3, 1, 1.0);
        s.nodes[0].instance.idle_since = Some(NOW - 5); // busy: unmark
        let d = decide(&s, &pol(), &State::default());
        assert!(d.actions.contains(&Action::ClearIdle {
            instance_id: "i-0001".into()
        }));
        assert!(d.actions.contains(&Action::MarkIdle {
            instance_id: "i-0002".into(),
            since: NOW
        }));
        assert!(d.actions.contains(&Action::MarkIdle {
            instance_id: "i-0003".into(),
            since: NOW
        }));
    }

    #[test]
    fn scale_in_waits_for_unneeded_time_then_drains_only_idle_agents() {
        // 4 agents, 2 busy at 1 cpu each: utilisation 2/16 = 0.125.
        let mut s = snap(4, 2, 1.0);
        idle_for(&mut s, 599);
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "no-candidate");
        assert!(scaling(&d).is_empty());

        idle_for(&mut s, 600);
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "scale-in", "{}", d.reason);
        let drained: Vec<&str> = d
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::StartDrain { agent_id, .. } => Some(agent_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(drained.len(), 2);
        assert!(drained.iter().all(|id| *id == "S3" || *id == "S4"));
        assert_eq!(d.target, 2);
        assert_eq!(d.state.last_scale_in, Some(NOW));
        assert_eq!(d.state.agents, Some(2));
        match &d
            .actions
            .iter()
            .find(|a| matches!(a, Action::StartDrain { .. }))
        {
            Some(Action::StartDrain { tag, .. }) => {
                assert_eq!(tag.method, DrainMethod::DrainAgent);
                assert_eq!(tag.since, NOW);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn busy_agents_are_never_drained_unless_allowed() {
        // All agents busy but lightly: utilisation 4*0.4/16 = 0.1.
        let s = snap(4, 4, 0.4);
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "no-candidate");
        assert!(scaling(&d).is_empty());
        let p = Policy {
            drain_busy: true,
            ..pol()
        };
        let d = decide(&s, &p, &State::default());
        assert_eq!(d.rule, "scale-in");
        assert_eq!(scaling(&d).len(), 2);
    }

    #[test]
    fn scale_in_keeps_min_and_the_setpoint_and_the_step() {
        let mut s = snap(6, 0, 0.0);
        idle_for(&mut s, 3600);
        // Everything idle: bounded by max step (2).
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(scaling(&d).len(), 2);
        // Bounded by min.
        s.asg.min = 5;
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(scaling(&d).len(), 1);
        s.asg.min = 6;
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(d.rule, "no-candidate");
        // Bounded by the setpoint: 6 agents, 3 busy at 2.2/4 → u = 6.6/24 = 0.275 < 0.6;
        // keep ceil(6*0.275/0.7) = 3, so up to 3 may go, max step 2.
        let mut s = snap(6, 3, 2.2);
        idle_for(&mut s, 3600);
        let p = Policy {
            max_step: 5,
            ..pol()
        };
        let d = decide(&s, &p, &State::default());
        assert_eq!(scaling(&d).len(), 3);
    }

    #[test]
    fn scale_in_holds_after_cooldowns_and_after_losing_an_agent() {
        let mut s = snap(4, 0, 0.0);
        idle_for(&mut s, 3600);
        let prev = State {
            last_scale_in: Some(NOW - 10),
            ..Default::default()
        };
        assert_eq!(decide(&s, &pol(), &prev).rule, "cooldown-in");
        let prev = State {
            last_scale_out: Some(NOW - 10),
            ..Default::default()
        };
        assert_eq!(decide(&s, &pol(), &prev).rule, "cooldown-out");
        // The last evaluation saw 5 agents, now 4: a loss.
        let prev = State {
            agents: Some(5),
            ..Default::default()
        };
        let d = decide(&s, &pol(), &prev);
        assert_eq!(d.rule, "hold-after-loss");
        assert_eq!(d.state.last_loss, Some(NOW));
        // Still held a while later, free after the hold.
        let prev = State {
            agents: Some(4),
            last_loss: Some(NOW - 899),
            ..Default::default()
        };
        assert_eq!(decide(&s, &pol(), &prev).rule, "hold-after-loss");
        let prev = State {
            agents: Some(4),
            last_loss: Some(NOW - 900),
            ..Default::default()
        };
        assert_eq!(decide(&s, &pol(), &prev).rule, "scale-in");
    }

    #[test]
    fn never_registered_instances_go_first_and_without_a_drain() {
        let mut s = snap(4, 0, 0.0);
        idle_for(&mut s, 3600);
        s.nodes.push(node(5, "az-a", None));
        s.asg.desired = 5;
        let d = decide(&s, &pol(), &State::default());
        let first = scaling(&d)[0].clone();
        assert_eq!(
            first,
            Action::Terminate {
                instance_id: "i-0005".into(),
                reason: "never registered",
                cleanup: None
            }
        );
        // A young one is left alone (it may still be booting).
        s.nodes[4].instance.launched_at = Some(NOW - 60);
        let d = decide(&s, &pol(), &State::default());
        assert!(!scaling(&d)
            .iter()
            .any(|a| matches!(a, Action::Terminate { .. })));
        // With agents the master cannot place, an unregistered instance might be one of them.
        s.nodes[4].instance.launched_at = Some(NOW - 3600);
        s.unmatched_agents = 1;
        let d = decide(&s, &pol(), &State::default());
        assert!(!scaling(&d)
            .iter()
            .any(|a| matches!(a, Action::Terminate { .. })));
    }

    #[test]
    fn scale_in_balances_availability_zones() {
        // 5 idle agents: 3 in az-a (1, 3, 5), 2 in az-b; removing 2 must take one from each.
        let mut s = snap(5, 0, 0.0);
        idle_for(&mut s, 3600);
        let d = decide(&s, &pol(), &State::default());
        let azs: Vec<&str> = scaling(&d)
            .iter()
            .map(|a| match a {
                Action::StartDrain { instance_id, .. } => {
                    let n = s
                        .nodes
                        .iter()
                        .find(|n| &n.instance.id == instance_id)
                        .unwrap();
                    n.instance.az.as_str()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(azs, vec!["az-a", "az-b"]);
    }

    #[test]
    fn drains_in_progress_are_carried_on() {
        let mut s = snap(3, 0, 0.0);
        let tag = |i: usize, method| DrainTag {
            method,
            since: NOW - 60,
            agent_id: format!("S{i}"),
            machine: Machine {
                hostname: format!("ip-10-0-0-{i}"),
                ip: format!("10.0.0.{i}"),
            },
        };
        // 1: still draining; 2: drained; 3: agent gone.
        s.nodes[0].instance.drain = Some(tag(1, DrainMethod::DrainAgent));
        s.nodes[0].agent.as_mut().unwrap().drain = Some(AgentDrain::Draining);
        s.nodes[0].agent.as_mut().unwrap().tasks = 1;
        s.nodes[1].instance.drain = Some(tag(2, DrainMethod::DrainAgent));
        s.nodes[1].agent.as_mut().unwrap().drain = Some(AgentDrain::Drained);
        s.nodes[2].instance.drain = Some(tag(3, DrainMethod::DrainAgent));
        s.nodes[2].agent = None;
        let d = decide(&s, &pol(), &State::default());
        let terms: Vec<&str> = d
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Terminate { instance_id, .. } => Some(instance_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(terms, vec!["i-0002", "i-0003"]);
        assert_eq!(d.target, 1);

        // Maintenance: down once quiet, terminate (and clean up) once down.
        let mut s = snap(2, 0, 0.0);
        s.master_version = "1.8.1".into();
        s.nodes[0].instance.drain = Some(tag(1, DrainMethod::Maintenance));
        s.nodes[1].instance.drain = Some(tag(2, DrainMethod::Maintenance));
        s.down_machines = vec![tag(2, DrainMethod::Maintenance).machine];
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(
            scaling(&d),
            vec![
                &Action::MachineDown {
                    instance_id: "i-0001".into(),
                    machine: tag(1, DrainMethod::Maintenance).machine
                },
                &Action::Terminate {
                    instance_id: "i-0002".into(),
                    reason: "machine down",
                    cleanup: Some(tag(2, DrainMethod::Maintenance).machine)
                }
            ]
        );
        // A busy maintenance agent waits until the grace period is over.
        s.down_machines.clear();
        s.nodes[1].instance.drain = None;
        s.nodes[0].agent.as_mut().unwrap().tasks = 2;
        s.nodes[0].agent.as_mut().unwrap().used_cpus = 1.0;
        let d = decide(&s, &pol(), &State::default());
        assert!(scaling(&d).is_empty(), "{:?}", d.actions);
        s.now = NOW - 60 + 600;
        let d = decide(&s, &pol(), &State::default());
        assert!(matches!(scaling(&d)[..], [Action::MachineDown { .. }]));
    }

    #[test]
    fn machines_of_terminated_instances_are_released() {
        let mut s = snap(2, 2, 2.8);
        let m = |i: usize| Machine {
            hostname: format!("ip-10-0-0-{i}"),
            ip: format!("10.0.0.{i}"),
        };
        s.released = vec![m(7), m(8), m(9)];
        s.down_machines = vec![m(7)];
        s.draining_machines = vec![m(8)];
        let d = decide(&s, &pol(), &State::default());
        assert_eq!(
            scaling(&d),
            vec![
                &Action::Release {
                    machine: m(7),
                    down: true
                },
                &Action::Release {
                    machine: m(8),
                    down: false
                }
            ]
        );
    }

    #[test]
    fn drain_method_follows_the_master_version() {
        assert_eq!(
            drain_method(DrainMode::Auto, "1.9.0"),
            DrainMethod::DrainAgent
        );
        assert_eq!(
            drain_method(DrainMode::Auto, "1.11.0"),
            DrainMethod::DrainAgent
        );
        assert_eq!(
            drain_method(DrainMode::Auto, "1.8.1"),
            DrainMethod::Maintenance
        );
        assert_eq!(
            drain_method(DrainMode::Auto, "garbage"),
            DrainMethod::Maintenance
        );
        assert_eq!(
            drain_method(DrainMode::DrainAgent, "1.0.0"),
            DrainMethod::DrainAgent
        );
    }

    #[test]
    fn oscillating_load_does_not_flap() {
        // One evaluation a minute for an hour; load alternates every 3 minutes between 0.95
        // and 0.05. Count direction changes of scaling actions.
        let mut state = State::default();
        let mut dirs = Vec::new();
        let mut size = 4usize;
        for minute in 0..60u64 {
            let high = (minute / 3) % 2 == 0;
            let mut s = snap(size, if high { size } else { 0 }, 3.8);
            s.now = NOW + minute * 60;
            // Idle tags as the previous evaluations left them.
            if !high {
                for n in &mut s.nodes {
                    n.instance.idle_since = Some(NOW + (minute - minute % 3) * 60);
                }
            }
            let d = decide(&s, &pol(), &state);
            for a in scaling(&d) {
                match a {
                    Action::SetDesired { to, .. } => {
                        dirs.push('+');
                        size = *to as usize;
                    }
                    _ => dirs.push('-'),
                }
            }
            state = d.state;
        }
        assert!(!dirs.contains(&'-'), "{dirs:?}");
        // At most one scale-out per cooldown, and never above max.
        assert!(dirs.len() <= 12, "{dirs:?}");
        assert!(size <= 10);
    }
}
