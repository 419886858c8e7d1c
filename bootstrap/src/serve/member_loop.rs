//! The member loop `serve` runs on every ZooKeeper node: at a jittered interval, the repair of
//! a diverged follower ([`crate::serve::divergence`]), one membership pass
//! ([`crate::serve::reconcile`]) and a look at a rolling change ([`crate::serve::rolling`]);
//! once Auto Scaling terminates this instance, the leave ([`crate::serve::leave`]) instead,
//! until it is over. Every step has its own deadline: a hung call ends that step, never the
//! loop.

use std::time::Duration;

use crate::serve::reconcile::{Reconciler, PASS_DEADLINE};
use crate::serve::{leave, rolling};

impl Reconciler {
    /// Runs passes forever, `interval` apart with ±50% jitter so members do not act at once.
    /// Every pass has its own deadline: a hung call ends that pass, never the loop. With a
    /// `leave` watch, once Auto Scaling terminates this instance the passes give way to the
    /// leave ([`leave`](crate::serve::leave)), `leave_every` apart, until it is over.
    pub async fn run(
        mut self,
        interval: Duration,
        mut leave: Option<(leave::Watch, leave::Held)>,
        leave_every: Duration,
    ) {
        let mut rolled_said: Option<String> = None;
        loop {
            let jitter = rand::random_range(0.5..1.5);
            let pause = tokio::time::sleep(interval.mul_f64(jitter));
            match leave.as_mut() {
                Some((watch, _)) if !watch.terminating => {
                    tokio::select! {
                        _ = pause => {}
                        _ = watch.terminated() => {}
                    }
                }
                Some(_) => tokio::time::sleep(leave_every).await,
                None => pause.await,
            }
            if let Some((watch, held)) = leave.as_mut().filter(|(w, _)| w.terminating) {
                let _ = watch;
                match tokio::time::timeout(PASS_DEADLINE, self.leave_pass(held)).await {
                    Ok(Ok(true)) => {
                        self.record("left");
                        return;
                    }
                    Ok(Ok(false)) => self.record("leaving"),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "leave: step failed; trying again");
                        self.record("skipped");
                    }
                    Err(_) => {
                        tracing::warn!(deadline = ?PASS_DEADLINE, "leave: step did not finish before its deadline");
                        self.record("skipped");
                    }
                }
                continue;
            }
            if !self.stopped {
                let _ = tokio::time::timeout(PASS_DEADLINE, self.repair_divergence()).await;
            }
            let outcome = match tokio::time::timeout(PASS_DEADLINE, self.pass()).await {
                Ok(Ok(decision)) => decision.outcome(),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "membership check skipped");
                    "skipped"
                }
                Err(_) => {
                    tracing::warn!(
                        deadline = ?PASS_DEADLINE,
                        "membership check did not finish before its deadline; skipped"
                    );
                    "skipped"
                }
            };
            self.record(outcome);
            if !self.stopped {
                match tokio::time::timeout(3 * PASS_DEADLINE, self.roll()).await {
                    Ok(Ok(rolling::Roll::Wait(why))) => {
                        if rolled_said.as_ref() != Some(&why) {
                            tracing::info!(reason = %why, "rolling change: waiting");
                            rolled_said = Some(why);
                        }
                    }
                    Ok(Ok(_)) => rolled_said = None,
                    Ok(Err(e)) => tracing::warn!(error = %e, "rolling change: look skipped"),
                    Err(_) => tracing::warn!(
                        "rolling change: the step did not finish before its deadline"
                    ),
                }
            }
        }
    }
}
