//! The scaling policy: every knob of [`crate::decide`] and [`crate::act`], from flags or
//! environment variables (flag > environment > default), checked once at start-up.
//!
//! The Lambda gets its settings from the function's environment (Terraform's `environment`
//! map): `SCALE_SETPOINT=0.6`, `SCALE_OUT_COOLDOWN=10m`, ... Durations are humantime
//! (`90s`, `5m`, `1h`).

use std::time::Duration;

use clap::{Args, ValueEnum};

/// How an agent is taken out of service before its instance is terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrainMode {
    /// `DRAIN_AGENT` when the master runs Mesos 1.9 or later, else `maintenance`.
    Auto,
    /// The v1 operator API's `DRAIN_AGENT` (Mesos 1.9+), with `mark_gone`.
    DrainAgent,
    /// A maintenance window in the schedule, then `/master/machine/down`.
    Maintenance,
}

/// The policy knobs, as flags with environment fallbacks.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    /// Utilisation the autoscaler steers to (max of the cpus, mem and gpus used fractions).
    #[arg(long, env = "SCALE_SETPOINT", default_value_t = 0.7)]
    pub setpoint: f64,
    /// Half-width of the band around the setpoint inside which nothing happens.
    #[arg(long, env = "SCALE_MARGIN", default_value_t = 0.1)]
    pub margin: f64,
    /// Scale out after this many consecutive evaluations with staging tasks.
    #[arg(long, env = "SCALE_STAGING_EVALUATIONS", default_value_t = 3)]
    pub staging_evaluations: u32,
    /// Most instances added or removed by one decision.
    #[arg(long, env = "SCALE_MAX_STEP", default_value_t = 2)]
    pub max_step: u32,
    /// No scaling at all for this long after a scale-out.
    #[arg(long, env = "SCALE_OUT_COOLDOWN", default_value = "5m", value_parser = humantime::parse_duration)]
    pub scale_out_cooldown: Duration,
    /// No further scale-in for this long after a scale-in started.
    #[arg(long, env = "SCALE_IN_COOLDOWN", default_value = "10m", value_parser = humantime::parse_duration)]
    pub scale_in_cooldown: Duration,
    /// No scale-in for this long after the cluster lost an agent it did not remove itself.
    #[arg(long, env = "SCALE_IN_HOLD_AFTER_LOSS", default_value = "15m", value_parser = humantime::parse_duration)]
    pub hold_after_loss: Duration,
    /// How long an agent must have been idle (no task, nothing used), or an instance must have
    /// been running without registering, before it may be removed.
    #[arg(long, env = "SCALE_UNNEEDED_TIME", default_value = "10m", value_parser = humantime::parse_duration)]
    pub unneeded_time: Duration,
    /// Allow draining agents that still run tasks (fewest tasks first) when no idle one is left.
    #[arg(long, env = "SCALE_DRAIN_BUSY", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub drain_busy: bool,
    /// Grace period given to tasks of a draining agent (`max_grace_period` of DRAIN_AGENT,
    /// duration of the maintenance window).
    #[arg(long, env = "SCALE_DRAIN_GRACE", default_value = "10m", value_parser = humantime::parse_duration)]
    pub drain_grace: Duration,
    /// How agents are drained.
    #[arg(long, env = "SCALE_DRAIN_MODE", value_enum, default_value_t = DrainMode::Auto)]
    pub drain_mode: DrainMode,
}

/// A checked policy.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Policy {
    pub setpoint: f64,
    pub margin: f64,
    pub staging_evaluations: u32,
    pub max_step: u32,
    pub scale_out_cooldown_s: u64,
    pub scale_in_cooldown_s: u64,
    pub hold_after_loss_s: u64,
    pub unneeded_time_s: u64,
    pub drain_busy: bool,
    pub drain_grace_s: u64,
    pub drain_mode: DrainMode,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            setpoint: 0.7,
            margin: 0.1,
            staging_evaluations: 3,
            max_step: 2,
            scale_out_cooldown_s: 300,
            scale_in_cooldown_s: 600,
            hold_after_loss_s: 900,
            unneeded_time_s: 600,
            drain_busy: false,
            drain_grace_s: 600,
            drain_mode: DrainMode::Auto,
        }
    }
}

/// A policy value that makes no sense; the message names the flag and its variable.
#[derive(Debug, thiserror::Error)]
#[error("bad policy: {0}")]
pub struct PolicyError(String);

impl TryFrom<&PolicyArgs> for Policy {
    type Error = PolicyError;

    fn try_from(a: &PolicyArgs) -> Result<Policy, PolicyError> {
        if !(a.setpoint > 0.0 && a.setpoint < 1.0) {
            return Err(PolicyError(format!(
                "--setpoint / SCALE_SETPOINT = {} must be strictly between 0 and 1",
                a.setpoint
            )));
        }
        if !(a.margin >= 0.0 && a.margin < a.setpoint && a.setpoint + a.margin <= 1.0) {
            return Err(PolicyError(format!(
                "--margin / SCALE_MARGIN = {} must be >= 0, below the setpoint ({}) and keep setpoint + margin <= 1",
                a.margin, a.setpoint
            )));
        }
        if a.max_step == 0 {
            return Err(PolicyError(
                "--max-step / SCALE_MAX_STEP must be at least 1".into(),
            ));
        }
        if a.staging_evaluations == 0 {
            return Err(PolicyError(
                "--staging-evaluations / SCALE_STAGING_EVALUATIONS must be at least 1".into(),
            ));
        }
        Ok(Policy {
            setpoint: a.setpoint,
            margin: a.margin,
            staging_evaluations: a.staging_evaluations,
            max_step: a.max_step,
            scale_out_cooldown_s: a.scale_out_cooldown.as_secs(),
            scale_in_cooldown_s: a.scale_in_cooldown.as_secs(),
            hold_after_loss_s: a.hold_after_loss.as_secs(),
            unneeded_time_s: a.unneeded_time.as_secs(),
            drain_busy: a.drain_busy,
            drain_grace_s: a.drain_grace.as_secs(),
            drain_mode: a.drain_mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        p: PolicyArgs,
    }

    fn parse(args: &[&str]) -> Result<Policy, String> {
        let t = T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Policy::try_from(&t.p).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_the_issue() {
        let p = parse(&[]).unwrap();
        assert_eq!((p.setpoint, p.margin), (0.7, 0.1));
        assert_eq!(p.scale_out_cooldown_s, 300);
        assert_eq!(p.drain_mode, DrainMode::Auto);
        assert!(!p.drain_busy);
    }

    #[test]
    fn bad_values_name_their_flag() {
        let e = parse(&["--setpoint", "1.5"]).unwrap_err();
        assert!(e.contains("SCALE_SETPOINT"), "{e}");
        let e = parse(&["--margin", "0.5", "--setpoint", "0.7"]).unwrap_err();
        assert!(e.contains("SCALE_MARGIN"), "{e}");
        let e = parse(&["--max-step", "0"]).unwrap_err();
        assert!(e.contains("SCALE_MAX_STEP"), "{e}");
        let e = parse(&["--scale-out-cooldown", "soon"]).unwrap_err();
        assert!(e.contains("--scale-out-cooldown"), "{e}");
        let p = parse(&["--drain-busy", "--drain-mode", "maintenance"]).unwrap();
        assert!(p.drain_busy);
        assert_eq!(p.drain_mode, DrainMode::Maintenance);
    }
}
