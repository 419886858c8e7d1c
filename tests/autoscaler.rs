//! The autoscaler (`mesos-scale --once`) against a Mesos master emulator and moto's Auto
//! Scaling and EC2. Time is simulated with `--now` (the binary keeps everything else in tags),
//! so a test can run an hour of one-minute evaluations without waiting.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mesos_boot_tests::asg::{self, Group, Throttler};
use mesos_boot_tests::lambda_api::{LambdaApi, Outcome};
use mesos_boot_tests::mesos_master::{EmuAgent, MasterEmulator};
use mesos_boot_tests::moto::Moto;
use mesos_boot_tests::scale::{mesos_scale_bin, run_once, Run};
use mesos_boot_tests::{mesos, net, zk};

const IDLE_TAG: &str = "mesos-scale:idle-since";
const DRAIN_TAG: &str = "mesos-scale:drain";
const STATE_TAG: &str = "mesos-scale:state";

/// A group in moto and an emulated master whose agents run on the group's instances.
struct Cluster {
    moto: &'static Moto,
    master: MasterEmulator,
    group: String,
    /// Simulated start time (the real clock, so that moto's launch times are in the past).
    t0: u64,
}

impl Cluster {
    async fn new(version: &str, desired: i32, min: i32, max: i32) -> Cluster {
        let moto = Moto::shared();
        let group = asg::create_group(moto, "agents", desired, min, max).await;
        let c = Cluster {
            moto,
            master: MasterEmulator::start(version),
            group,
            t0: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        };
        c.sync_agents(0, 0.0).await;
        c
    }

    async fn group(&self) -> Group {
        asg::group(self.moto, &self.group).await
    }

    /// Registers an agent (with this load) for every instance of the group that has none, and
    /// forgets agents whose instance left the group. Returns the instances.
    async fn sync_agents(&self, tasks: u32, fraction: f64) -> Group {
        let g = self.group().await;
        let mut agents: Vec<EmuAgent> = self
            .master
            .agents()
            .into_iter()
            .filter(|a| g.instances.iter().any(|i| i.ip == a.ip))
            .collect();
        for i in &g.instances {
            if !agents.iter().any(|a| a.ip == i.ip) {
                let mut a = EmuAgent::new(&format!("S-{}", i.id), &i.hostname, &i.ip);
                a.load(tasks, fraction);
                agents.push(a);
            }
        }
        self.master.set_agents(agents);
        g
    }

    /// Sets the load of every agent.
    fn load_all(&self, tasks: u32, fraction: f64) {
        self.master.update_agents(|a| a.load(tasks, fraction));
    }

    /// `mesos-scale --once` at `t0 + secs`.
    async fn run(&self, secs: u64, args: &[&str]) -> Run {
        self.run_env(secs, args, &[]).await
    }

    async fn run_env(&self, secs: u64, args: &[&str], env: &[(&str, &str)]) -> Run {
        let credential = self.master.credential_file();
        let mut env = env.to_vec();
        env.push(("MESOS_SCALE_CREDENTIAL", &credential));
        run_once(
            self.moto,
            &self.group,
            &["--master", &self.master.url()],
            self.t0 + secs,
            args,
            &env,
        )
        .await
    }
}

fn ok(r: &Run) {
    assert_eq!(r.code, Some(0), "mesos-scale failed:\n{}", r.stderr);
}

fn agent_id_of(instance: &str) -> String {
    format!("S-{instance}")
}

#[tokio::test(flavor = "multi_thread")]
async fn sustained_high_utilisation_scales_out_bounded_by_step_and_max_with_cooldown() {
    let c = Cluster::new("1.11.0", 6, 1, 9).await;
    c.load_all(2, 1.0);

    // 6 full agents need ceil(6 / 0.7) = 9: the step (2) bounds the first move.
    let r = c.run(0, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out", "{}", r.stderr);
    let g = c.sync_agents(2, 1.0).await;
    assert_eq!((g.desired, g.instances.len()), (8, 8));

    // Within the cooldown (5 min): nothing, however hot.
    for secs in [60, 120, 299] {
        let r = c.run(secs, &[]).await;
        ok(&r);
        assert_eq!(r.rule(), "cooldown-out", "{}", r.stderr);
        assert_eq!(c.group().await.desired, 8);
    }

    // After it: bounded by max (9), then at max.
    let r = c.run(300, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out", "{}", r.stderr);
    c.sync_agents(2, 1.0).await;
    assert_eq!(c.group().await.desired, 9);
    let r = c.run(600, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "at-max", "{}", r.stderr);
    assert_eq!(c.group().await.desired, 9);

    // The decision line carries its inputs.
    let d = r.decision().expect("decision line");
    assert_eq!(d["utilisation"], 1.0);
    assert_eq!(d["desired"], 9);
    assert_eq!(d["max"], 9);
    // Scaling out never drains anything.
    assert!(c.master.posts().is_empty(), "{:?}", c.master.posts());
}

#[tokio::test(flavor = "multi_thread")]
async fn staging_tasks_scale_out_after_three_evaluations() {
    let c = Cluster::new("1.11.0", 2, 1, 5).await;
    c.load_all(1, 0.6);
    c.master.set_staging(4);
    for minute in 0..2 {
        let r = c.run(minute * 60, &[]).await;
        ok(&r);
        assert_eq!(r.rule(), "within-band", "{}", r.stderr);
    }
    assert_eq!(c.group().await.desired, 2);
    let r = c.run(120, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out", "{}", r.stderr);
    assert_eq!(c.group().await.desired, 3);
}

/// 4 agents: 2 busy, 2 idle; utilisation 2 / 16 = 0.125. Returns the busy and idle instances.
async fn half_idle(c: &Cluster) -> (BTreeSet<String>, BTreeSet<String>) {
    let g = c.group().await;
    let busy: BTreeSet<String> = g.instances[..2].iter().map(|i| i.id.clone()).collect();
    let idle: BTreeSet<String> = g.instances[2..].iter().map(|i| i.id.clone()).collect();
    c.master.update_agents(|a| {
        if busy.contains(a.id.trim_start_matches("S-")) {
            a.load(1, 0.25);
        }
    });
    (busy, idle)
}

fn tagged(g: &Group, key: &str) -> BTreeSet<String> {
    g.instances
        .iter()
        .filter(|i| i.tags.contains_key(key))
        .map(|i| i.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_agents_are_drained_then_terminated_never_busy_ones() {
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let (busy, idle) = half_idle(&c).await;

    // First look: the idle agents are marked, nothing else happens.
    let r = c.run(0, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "no-candidate", "{}", r.stderr);
    let g = c.group().await;
    assert_eq!(tagged(&g, IDLE_TAG), idle);
    assert!(c.master.posts().is_empty());

    // Idle for the unneeded time (10 min): both drained (DRAIN_AGENT, mark_gone), tagged.
    let r = c.run(600, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
    let drained: BTreeSet<String> = c.master.drain_calls().into_iter().collect();
    let want: BTreeSet<String> = idle.iter().map(|i| agent_id_of(i)).collect();
    assert_eq!(drained, want);
    let body = &c.master.posts()[0].body;
    assert!(body.contains("\"mark_gone\":true"), "{body}");
    let g = c.group().await;
    assert_eq!(tagged(&g, DRAIN_TAG), idle);
    assert_eq!(
        g.desired, 4,
        "nothing is terminated before the drain is over"
    );

    // Next minute the master has marked them gone (mark_gone: they never show DRAINED, they
    // leave every list): terminated, desired decremented.
    let r = c.run(660, &[]).await;
    ok(&r);
    let g = c.sync_agents(0, 0.0).await;
    assert_eq!(g.desired, 2);
    assert_eq!(g.instance_ids().into_iter().collect::<BTreeSet<_>>(), busy);
    for id in &idle {
        assert_eq!(asg::instance_state(c.moto, id).await, "terminated");
    }
    // Busy agents were never drained; no maintenance left behind.
    assert_eq!(c.master.drain_calls().len(), 2);
    assert!(c.master.scheduled_machines().is_empty());
    assert!(c.master.down_machines().is_empty());

    // Utilisation is now 2/8 = 0.25 but both agents are busy: nothing more to do, ever.
    for minute in 12..30 {
        let r = c.run(minute * 60, &[]).await;
        ok(&r);
        assert!(
            ["no-candidate", "cooldown-in"].contains(&r.rule().as_str()),
            "{}",
            r.stderr
        );
    }
    assert_eq!(c.group().await.desired, 2);
    assert_eq!(c.master.drain_calls().len(), 2);
}

/// `DRAIN_AGENT` as a real master parses it: `max_grace_period` is a v1
/// `google.protobuf.Duration` (`seconds`, `nanos`); keys it does not have are ignored, so a
/// `DurationInfo`'s `nanoseconds` would give the tasks no grace at all.
#[tokio::test(flavor = "multi_thread")]
async fn drain_agent_gives_the_tasks_the_grace_period_mesos_reads() {
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let (_, idle) = half_idle(&c).await;
    ok(&c.run(0, &[]).await);
    let r = c.run(600, &["--drain-grace", "90s"]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
    let drains: Vec<serde_json::Value> = c
        .master
        .posts()
        .iter()
        .filter(|p| p.path == "/api/v1")
        .map(|p| serde_json::from_str(&p.body).unwrap())
        .collect();
    assert_eq!(drains.len(), idle.len());
    for d in &drains {
        assert_eq!(
            d["drain_agent"]["max_grace_period"],
            serde_json::json!({"seconds": 90}),
            "{d}"
        );
    }
    let drained: Vec<_> = c
        .master
        .agents()
        .into_iter()
        .filter(|a| idle.contains(a.id.trim_start_matches("S-")))
        .collect();
    assert_eq!(drained.len(), idle.len());
    for a in drained {
        assert!(a.drain.is_some(), "{a:?}");
        assert_eq!(
            a.max_grace_ns,
            Some(90_000_000_000),
            "the master's grace for {a:?}"
        );
    }
}

/// After a leader fail-over, an agent that has not re-registered yet is listed only under
/// `recovered_slaves`: its instance is neither capacity nor an instance that never registered,
/// so it is not terminated (idle agents that are listed still are drained).
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_re_registering_after_a_fail_over_is_not_terminated() {
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let g = c.group().await;
    let recovering = g.instances[0].id.clone();
    let id = agent_id_of(&recovering);
    c.master.fail_over(|a| a.id == id);
    // Past the unneeded time since launch: an instance with no agent at all would go now.
    for secs in [600, 1300] {
        let r = c.run(secs, &[]).await;
        ok(&r);
        let g = c.group().await;
        assert!(
            g.instances.iter().any(|i| i.id == recovering),
            "at +{secs}s the re-registering agent's instance was removed:\n{}",
            r.stderr
        );
        assert!(!tagged(&g, DRAIN_TAG).contains(&recovering), "{}", r.stderr);
        assert!(!c.master.drain_calls().contains(&id), "{}", r.stderr);
    }
    // The listed idle agents were drained meanwhile: the evaluation itself went on.
    assert!(!c.master.drain_calls().is_empty());
    c.master.reregister(&id);
    ok(&c.run(1400, &[]).await);
    assert!(c.group().await.instances.iter().any(|i| i.id == recovering));
}

/// One evaluation is all or nothing: a drain the master refuses leaves no state behind (no
/// scale-in cooldown, no drain tag), so the next run simply tries again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_drain_saves_no_state_and_the_next_run_drains() {
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let (_, idle) = half_idle(&c).await;
    ok(&c.run(0, &[]).await);
    let before = c.group().await;
    c.master.fail("/api/v1", 500, "injected failure");
    let r = c.run(600, &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("injected failure"), "{}", r.stderr);
    let after = c.group().await;
    assert_eq!(
        after.tags.get(STATE_TAG),
        before.tags.get(STATE_TAG),
        "a failed evaluation must not start the scale-in cooldown"
    );
    assert!(tagged(&after, DRAIN_TAG).is_empty(), "{after:?}");
    assert_eq!(after.desired, 4);

    c.master.clear_failures();
    let r = c.run(660, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
    assert_eq!(tagged(&c.group().await, DRAIN_TAG), idle);
}

/// Leadership and recovery as a real master has them (src/master/http.cpp, 1.11.0): a master
/// that is not the leader redirects the autoscaler to the one that is; the leader answers
/// `/api/v1` with 503 until its registry is recovered (after a fail-over), and a drain asked
/// then changes nothing (no drain tag, no cooldown started) and is asked again by the next run.
#[tokio::test(flavor = "multi_thread")]
async fn a_follower_redirects_and_a_leader_still_recovering_gets_the_drain_again_later() {
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let (_, idle) = half_idle(&c).await;
    let follower = MasterEmulator::start("1.11.0");
    follower.follow(c.master.url().trim_start_matches("http://"));
    let credential = c.master.credential_file();
    let r = run_once(
        c.moto,
        &c.group,
        &["--master", &follower.url()],
        c.t0,
        &[],
        &[("MESOS_SCALE_CREDENTIAL", credential.as_str())],
    )
    .await;
    ok(&r);
    assert_eq!(
        r.decision().unwrap()["leader"],
        c.master.url(),
        "{}",
        r.stderr
    );
    let before = c.group().await;
    c.master.set_recovered(false);
    let r = c.run(600, &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("Master has not finished recovery"),
        "{}",
        r.stderr
    );
    let after = c.group().await;
    assert_eq!(after.tags.get(STATE_TAG), before.tags.get(STATE_TAG));
    assert!(tagged(&after, DRAIN_TAG).is_empty(), "{after:?}");
    assert_eq!(after.desired, before.desired);
    c.master.set_recovered(true);
    let r = c.run(660, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
    assert_eq!(tagged(&c.group().await, DRAIN_TAG), idle);
}

#[tokio::test(flavor = "multi_thread")]
async fn before_mesos_1_9_idle_agents_go_through_maintenance_which_is_cleaned_up() {
    let c = Cluster::new("1.8.1", 4, 1, 6).await;
    let (busy, idle) = half_idle(&c).await;
    ok(&c.run(0, &[]).await);

    // Scheduled for maintenance.
    let r = c.run(600, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
    assert!(c.master.drain_calls().is_empty());
    let g = c.group().await;
    let idle_machines: BTreeSet<String> = g
        .instances
        .iter()
        .filter(|i| idle.contains(&i.id))
        .map(|i| i.ip.clone())
        .collect();
    let ips = |ms: Vec<serde_json::Value>| -> BTreeSet<String> {
        ms.iter()
            .map(|m| m["ip"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ips(c.master.scheduled_machines()), idle_machines);
    assert!(c.master.down_machines().is_empty());

    // No task on them: down.
    ok(&c.run(660, &[]).await);
    assert_eq!(ips(c.master.down_machines()), idle_machines);
    assert_eq!(c.group().await.desired, 4);

    // Down: terminated, then up and out of the schedule; when machine/up fails right after a
    // termination, the run fails and the next one brings the machine up.
    c.master.fail("/master/machine/up", 500, "injected failure");
    let r = c.run(720, &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("/master/machine/up"), "{}", r.stderr);
    assert_eq!(
        c.group().await.desired,
        3,
        "one termination, then the failure"
    );
    assert_eq!(ips(c.master.down_machines()), idle_machines);
    c.master.clear_failures();
    ok(&c.run(780, &[]).await);
    let g = c.group().await;
    assert_eq!(g.desired, 2);
    assert_eq!(g.instance_ids().into_iter().collect::<BTreeSet<_>>(), busy);
    assert!(c.master.down_machines().is_empty());
    assert!(c.master.scheduled_machines().is_empty());
    // Nothing left to do.
    ok(&c.run(840, &[]).await);
    let ups = c
        .master
        .posts()
        .into_iter()
        .filter(|p| p.path == "/master/machine/up")
        .count();
    assert_eq!(ups, 3, "one refused, then one per machine");
}

#[tokio::test(flavor = "multi_thread")]
async fn oscillating_load_does_not_flap_over_an_hour() {
    let c = Cluster::new("1.11.0", 4, 2, 10).await;
    let mut desired = vec![c.group().await.desired];
    let mut rules = Vec::new();
    for minute in 0..60u64 {
        // 3 minutes at 0.95, 3 minutes idle.
        let high = (minute / 3) % 2 == 0;
        let (tasks, load) = if high { (2, 0.95) } else { (0, 0.0) };
        c.sync_agents(tasks, load).await;
        c.load_all(tasks, load);
        let r = c.run(minute * 60, &[]).await;
        ok(&r);
        rules.push(r.rule());
        desired.push(c.group().await.desired);
    }
    let changes: Vec<(i32, i32)> = desired
        .windows(2)
        .filter(|w| w[0] != w[1])
        .map(|w| (w[0], w[1]))
        .collect();
    // Never down (the idle spells are shorter than the unneeded time), so no reversal;
    // at most one scale-out per cooldown, never above max.
    assert!(changes.iter().all(|(a, b)| b > a), "{changes:?} {rules:?}");
    assert!(
        !changes.is_empty(),
        "the hot spells must scale out: {rules:?}"
    );
    assert!(changes.len() <= 12, "{changes:?}");
    assert!(*desired.iter().max().unwrap() <= 10);
    assert!(c.master.drain_calls().is_empty());
    assert!(!rules.iter().any(|r| r == "scale-in"), "{rules:?}");
}

/// Hot enough to scale out: everything that follows must still do nothing.
async fn hot_cluster() -> (Cluster, Group) {
    let c = Cluster::new("1.11.0", 2, 1, 6).await;
    c.load_all(2, 1.0);
    let g = c.group().await;
    (c, g)
}

async fn assert_untouched(c: &Cluster, before: &Group) {
    assert_eq!(&c.group().await, before, "moto changed");
    assert!(c.master.posts().is_empty(), "{:?}", c.master.posts());
}

#[tokio::test(flavor = "multi_thread")]
async fn master_down_no_leader_or_malformed_metrics_mean_no_action() {
    let (c, before) = hot_cluster().await;

    // Nothing listens there.
    let dead = format!(
        "http://127.0.0.1:{}",
        mesos_boot_tests::net::free_port(std::net::Ipv4Addr::LOCALHOST)
    );
    let r = run_once(c.moto, &c.group, &["--master", &dead], c.t0, &[], &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("master unreachable") && r.stderr.contains(&dead),
        "{}",
        r.stderr
    );
    assert!(r.decision().is_none());
    assert_untouched(&c, &before).await;

    // No leader elected.
    c.master.set_leader(false);
    let r = c.run(0, &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("no leading master"), "{}", r.stderr);
    c.master.set_leader(true);

    // Malformed metrics.
    c.master.fail(
        "/metrics/snapshot",
        200,
        "{\"master/elected\": 1, \"master/cpus_total\": \"lots\"}",
    );
    let r = c.run(0, &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("master/cpus_total"), "{}", r.stderr);
    assert!(r.decision().is_none());
    assert_untouched(&c, &before).await;

    // The same cluster does scale out once the master answers properly (the faults were the
    // only reason nothing happened).
    let healthy = MasterEmulator::start("1.11.0");
    healthy.set_agents(c.master.agents());
    let r = run_once(
        c.moto,
        &c.group,
        &["--master", &healthy.url()],
        c.t0,
        &[],
        &[("MESOS_SCALE_CREDENTIAL", &healthy.credential_file())],
    )
    .await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out");
}

/// The master authenticates its HTTP endpoints, as mesos-boot renders Mesos: without the
/// autoscaler's credential, or with a wrong secret, every read is a 401 the error names and
/// nothing changes; with it, the same cluster scales out.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_autoscalers_credential_nothing_is_read_or_changed() {
    let (c, before) = hot_cluster().await;
    let master = ["--master", &c.master.url()];
    let r = run_once(c.moto, &c.group, &master, c.t0, &[], &[]).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    assert!(r.decision().is_none());
    assert_untouched(&c, &before).await;

    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrong");
    std::fs::write(&wrong, "mesos-scale 0000000000000000000000000000000000\n").unwrap();
    let wrong = wrong.display().to_string();
    let env = [("MESOS_SCALE_CREDENTIAL", wrong.as_str())];
    let r = run_once(c.moto, &c.group, &master, c.t0, &[], &env).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("0000000000000000"),
        "the secret is never logged: {}",
        r.stderr
    );
    assert_untouched(&c, &before).await;
    assert!(!c.master.unauthorized().is_empty());

    let r = c.run(0, &[]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_autoscaling_api_means_no_action() {
    let (c, before) = hot_cluster().await;
    let throttler = Throttler::start();
    let r = c
        .run_env(
            0,
            &[],
            &[
                ("AWS_ENDPOINT_URL_AUTO_SCALING", &throttler.url()),
                ("AWS_MAX_ATTEMPTS", "2"),
            ],
        )
        .await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("Throttling") && r.stderr.contains(&c.group),
        "{}",
        r.stderr
    );
    assert!(throttler.hits() >= 1);
    assert!(r.decision().is_none());
    assert_untouched(&c, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_changes_nothing() {
    // Hot: would scale out.
    let (c, before) = hot_cluster().await;
    let r = c.run(0, &["--dry-run"]).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out", "{}", r.stderr);
    assert_eq!(r.decision().unwrap()["dry_run"], true);
    assert_untouched(&c, &before).await;

    // Idle for an hour already: would drain two agents and persist its state;
    // DRY_RUN=true from the environment.
    let c = Cluster::new("1.11.0", 4, 1, 6).await;
    let g = c.group().await;
    c.moto
        .ec2()
        .create_tags()
        .set_resources(Some(g.instance_ids()))
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(IDLE_TAG)
                .value((c.t0 - 3600).to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = c.group().await;
    for secs in [0, 600, 1200] {
        let r = c.run_env(secs, &[], &[("DRY_RUN", "true")]).await;
        ok(&r);
        assert_eq!(r.rule(), "scale-in", "{}", r.stderr);
        assert!(r.stderr.contains("dry run: would act"), "{}", r.stderr);
        assert!(r.stderr.contains("start-drain"), "{}", r.stderr);
    }
    assert_untouched(&c, &before).await;
    assert!(!before.tags.contains_key(STATE_TAG));
    assert!(tagged(&before, DRAIN_TAG).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_policy_is_bad_input_naming_the_variable() {
    let (c, before) = hot_cluster().await;
    let r = c.run_env(0, &[], &[("SCALE_SETPOINT", "1.5")]).await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("SCALE_SETPOINT"), "{}", r.stderr);
    assert_untouched(&c, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_is_found_through_zookeeper() {
    let (c, before) = hot_cluster().await;
    let tmp = tempfile::tempdir().unwrap();
    let ip = net::alloc_ip();
    let dir = tmp.path().join("zk");
    let cfg = zk::write_ensemble_config(&dir, 1, &[(1, ip)]).unwrap();
    let log = dir.join("zookeeper.out");
    let _zk = zk::ZkProcess::spawn(&cfg, &log).unwrap();
    let addr = format!("{ip}:2181");
    let a = addr.clone();
    tokio::task::spawn_blocking(move || zk::wait_serving(&a, Duration::from_secs(120)))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e}\n{}", zk::log_tail(&log, 40)));
    let zk_url = format!("zk://{addr}/mesos");

    // No master registered yet: no leader, no action.
    let cred = c.master.credential_file();
    let cred = [("MESOS_SCALE_CREDENTIAL", cred.as_str())];
    let r = run_once(c.moto, &c.group, &["--zk", &zk_url], c.t0, &[], &cred).await;
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("no leading master"), "{}", r.stderr);
    assert_untouched(&c, &before).await;

    // The emulator leads (lowest sequence); a later master and a log replica do not.
    let port: u16 = c.master.url().rsplit(':').next().unwrap().parse().unwrap();
    let _leader = mesos::register_master(&addr, "/mesos", Ipv4Addr::LOCALHOST, "localhost", port)
        .await
        .unwrap();
    let _replica = mesos::register_log_replica(&addr, "/mesos", Ipv4Addr::LOCALHOST, port)
        .await
        .unwrap();
    let dead = net::free_port(Ipv4Addr::LOCALHOST);
    let _other = mesos::register_master(&addr, "/mesos", Ipv4Addr::LOCALHOST, "localhost", dead)
        .await
        .unwrap();
    let cred = c.master.credential_file();
    let cred = [("MESOS_SCALE_CREDENTIAL", cred.as_str())];
    let r = run_once(c.moto, &c.group, &["--zk", &zk_url], c.t0, &[], &cred).await;
    ok(&r);
    assert_eq!(r.rule(), "scale-out", "{}", r.stderr);
    assert_eq!(r.decision().unwrap()["leader"], c.master.url());
    assert_eq!(c.group().await.desired, 3);
}

/// The binary as Lambda runs it: each invocation is one evaluation; a failed one is a failed
/// invocation (the error names the cause) and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn under_lambda_each_invocation_is_one_evaluation() {
    let (c, before) = hot_cluster().await;
    let api = LambdaApi::start();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr");
    let mut child = tokio::process::Command::new(mesos_scale_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(c.moto.env())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
        .env("AWS_LAMBDA_FUNCTION_NAME", "test-autoscaler")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        // What the Terraform module sets.
        .env("MESOS_CLUSTER", "test")
        .env("MESOS_MASTER", c.master.url())
        .env("MESOS_SCALE_CREDENTIAL", c.master.credential_file())
        .env("AGENT_ASG_NAME", &c.group)
        .env("MESOS_SCALE_NOW", c.t0.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let event = r#"{"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-27T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}"#;
    let wait = |id: String| {
        let api = &api;
        let log = &log;
        async move {
            mesos_boot_tests::poll_until_async(
                Duration::from_secs(60),
                "the invocation's outcome",
                || {
                    let o = api.outcome(&id);
                    async move { o }
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(log).unwrap_or_default()))
        }
    };

    c.master.set_leader(false);
    let outcome = wait(api.invoke(event)).await;
    match &outcome {
        Outcome::Error(body) => assert!(body.contains("no leading master"), "{body}"),
        other => panic!("{other:?}"),
    }
    assert_untouched(&c, &before).await;

    c.master.set_leader(true);
    let outcome = wait(api.invoke(event)).await;
    let Outcome::Response(body) = &outcome else {
        panic!(
            "{outcome:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    let report: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(report["decision"]["rule"], "scale-out", "{body}");
    assert_eq!(report["done"], 1, "{body}");
    assert_eq!(c.group().await.desired, 3);
    child.kill().await.unwrap();
}
