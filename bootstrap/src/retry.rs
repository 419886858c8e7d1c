//! The one retry policy: jittered exponential backoff (250 ms doubling to 5 s) inside an
//! overall deadline. Every wait in mesos-boot polls through here; nothing sleeps blindly.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// What one attempt says about trying again.
pub enum Attempt<T, E> {
    Done(T),
    /// Not yet (or a transient error): try again until the deadline.
    Again(E),
    /// Permanent: stop now.
    Fail(E),
}

pub const FIRST_DELAY: Duration = Duration::from_millis(250);
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// Runs `op` until it is done, fails permanently, or the deadline passes. The error is the
/// last one seen, or `None` when the deadline passed during the very first attempt.
/// `what` names the wait: each time the reason to wait changes, one info line says it and
/// systemd's `STATUS=` shows it (`systemctl status`); every attempt is a debug line.
pub async fn until<T, E, F, Fut>(
    what: &str,
    deadline: Instant,
    max_delay: Duration,
    mut op: F,
) -> Result<T, Option<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
    E: std::fmt::Display,
{
    let mut delay = FIRST_DELAY.min(max_delay);
    let mut attempt = 1u32;
    let mut last = None;
    let mut said = String::new();
    loop {
        let Ok(outcome) = tokio::time::timeout_at(deadline, op()).await else {
            return Err(last);
        };
        match outcome {
            Attempt::Done(v) => return Ok(v),
            Attempt::Fail(e) => return Err(Some(e)),
            Attempt::Again(e) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Some(e));
                }
                let reason = e.to_string();
                if reason != said {
                    tracing::info!(wait = what, %reason, "waiting");
                    crate::notify::status(&format!("waiting for {what}: {reason}"));
                    said = reason;
                }
                tracing::debug!(wait = what, attempt, error = %e, "not yet; retrying");
                last = Some(e);
                let jitter = rand::rng().random_range(0.5..1.0);
                let pause = delay.mul_f64(jitter).min(deadline - now);
                tokio::time::sleep(pause).await;
                delay = (delay * 2).min(max_delay);
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_until_done_and_stops_at_deadline() {
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        let got: Result<u32, Option<String>> =
            until("count", deadline, Duration::from_millis(20), || {
                n += 1;
                let n = n;
                async move {
                    if n < 3 {
                        Attempt::Again(format!("n={n}"))
                    } else {
                        Attempt::Done(n)
                    }
                }
            })
            .await;
        assert_eq!(got.unwrap(), 3);

        let deadline = Instant::now() + Duration::from_millis(100);
        let err = until::<(), _, _, _>("never", deadline, Duration::from_millis(20), || async {
            Attempt::Again("still not".to_string())
        })
        .await
        .unwrap_err();
        assert_eq!(err.as_deref(), Some("still not"));
        assert!(Instant::now() >= deadline);

        let err = until::<(), _, _, _>(
            "fatal",
            Instant::now() + Duration::from_secs(5),
            MAX_DELAY,
            || async { Attempt::Fail("bad".to_string()) },
        )
        .await
        .unwrap_err();
        assert_eq!(err.as_deref(), Some("bad"));
    }
}
