//! `mesos-scale`: the autoscaler of a Mesos cluster's agents on AWS.
//!
//! One evaluation ([`evaluate`]) is gather → decide → act:
//! [`gather`] builds a [`model::Snapshot`] from the leading master and the agent Auto Scaling
//! group (all or nothing), [`decide`] turns it into a [`decide::Decision`] (a pure function),
//! which is logged as one structured line, then [`act`] carries it out (or, in a dry run, logs
//! what it would do). [`policy`] holds the knobs; [`mesos`] parses Mesos' JSON; [`http`] is the
//! client for the master.
//!
//! The binary runs one evaluation per Lambda invocation (`provided.al2023`, scheduled by
//! EventBridge), or one with `--once` from a shell.

pub mod act;
pub mod credential;
pub mod decide;
pub mod gather;
pub mod http;
pub mod mesos;
pub mod model;
pub mod policy;

/// Why an evaluation failed (nothing was changed unless an action itself failed).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Gather(#[from] gather::GatherError),
    #[error("acting on the decision failed: {0}")]
    Act(#[from] act::ActError),
}

/// What an evaluation did, as returned to Lambda.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub decision: decide::Decision,
    pub leader: String,
    pub dry_run: bool,
    /// Scaling actions carried out.
    pub done: usize,
}

/// One gather → decide → act.
pub async fn evaluate(
    g: &gather::Gatherer,
    policy: &policy::Policy,
    now: u64,
    dry_run: bool,
) -> Result<Report, EvalError> {
    let gathered = g.gather(now).await?;
    let snap = &gathered.snapshot;
    let d = decide::decide(snap, policy, &gathered.state);
    let m = &snap.metrics;
    let registered = snap.nodes.iter().filter(|n| n.agent.is_some()).count();
    let never_registered = snap
        .nodes
        .iter()
        .filter(|n| n.agent.is_none() && n.instance.drain.is_none())
        .count();
    let draining = snap
        .nodes
        .iter()
        .filter(|n| n.instance.drain.is_some())
        .count();
    let scaling: Vec<&decide::Action> = d.actions.iter().filter(|a| a.is_scaling()).collect();
    tracing::info!(
        rule = d.rule,
        reason = %d.reason,
        group = %snap.asg.name,
        leader = %gathered.leader,
        mesos_version = %snap.master_version,
        utilisation = d.utilisation.max,
        cpus = d.utilisation.cpus,
        mem = d.utilisation.mem,
        gpus = d.utilisation.gpus,
        cpus_total = m.cpus_total,
        mem_total = m.mem_total,
        tasks_staging = m.tasks_staging,
        desired = snap.asg.desired,
        min = snap.asg.min,
        max = snap.asg.max,
        instances = snap.nodes.len(),
        registered,
        never_registered,
        unmatched_agents = snap.unmatched_agents,
        draining,
        target = d.target,
        actions = %serde_json::to_string(&scaling).expect("JSON"),
        state_before = %gathered.state,
        state_after = %d.state,
        now,
        dry_run,
        "decision"
    );
    let actor = act::Actor {
        http: &g.http,
        leader: &gathered.leader,
        autoscaling: &g.autoscaling,
        ec2: &g.ec2,
        group: &g.group,
        drain_grace_s: policy.drain_grace_s,
        dry_run,
    };
    let done = actor.act(&d, &gathered.state, now).await?;
    Ok(Report {
        decision: d,
        leader: gathered.leader,
        dry_run,
        done,
    })
}
