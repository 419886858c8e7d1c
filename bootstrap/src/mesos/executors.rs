//! How an agent's HTTP executors authenticate with it (Mesos' docs/authentication.md,
//! "Executor"; src/slave/slave.cpp and src/slave/flags.cpp of 1.11). The default executor, which
//! runs every task group, calls the agent's operator API (`/api/v1`, read-write realm) to launch
//! and wait for its nested containers:
//!
//! - a Mesos built with SSL (`USE_SSL_SOCKET`: it has `--jwt_secret_key`) signs a token for each
//!   executor with a key of the agent's (`MESOS_EXECUTOR_AUTHENTICATION_TOKEN` in its
//!   environment), and with `--authenticate_http_executors` the agent's realms accept those
//!   tokens besides Basic credentials: the operator API keeps asking for authentication;
//! - a Mesos built without SSL has neither flag (given in the environment, Mesos ignores them:
//!   stout's `FlagsBase::extract` keeps known flags only): executors call the API without
//!   credentials, so the agent cannot require them on it (`--authenticate_http_readwrite` off),
//!   or task groups fail.
//!
//! Which of the two a node's Mesos is, is read from `mesos-agent --help` (setting
//! `executor-auth=auto`), or stated (`token`, `none`). The key is the agent's own, kept across
//! boots: executors that survive an agent restart keep their tokens.

use std::path::Path;
use std::time::Duration;

use crate::config::settings::ExecutorAuthMode;
use crate::failure::{Failure, Result};
use crate::store::typed::random_secret;

/// The flag a Mesos built with SSL has, and one without does not (src/slave/flags.cpp).
const JWT_FLAG: &str = "--jwt_secret_key";

/// What an agent renders for its executors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutorAuth {
    /// Executors authenticate with tokens the agent signs with `key` (HMAC-SHA256); the
    /// agent's read-write API requires authentication.
    Jwt { key: String },
    /// Executors do not authenticate: the agent's read-write API does not ask for
    /// credentials, so that task groups run.
    Off,
}

/// Decides by `mode` (the setting, from `origin`) and the agent program at `agent` (its
/// `--help`), reusing the key in `key_file` when it holds one. `token` with no agent program
/// (a render without Mesos installed) trusts the setting.
pub async fn decide(
    mode: ExecutorAuthMode,
    origin: &str,
    agent: &Path,
    key_file: &Path,
) -> Result<ExecutorAuth> {
    let jwt = match mode {
        ExecutorAuthMode::None => return Ok(ExecutorAuth::Off),
        ExecutorAuthMode::Token if !agent.exists() => true,
        ExecutorAuthMode::Token => {
            if !supports_jwt(agent).await? {
                return Err(Failure::bad_input(format!(
                    "{origin}: `token`, but {} was built without SSL (its --help has no {JWT_FLAG}): \
                     it cannot authenticate executors; use `none` or a Mesos built with SSL",
                    agent.display()
                )));
            }
            true
        }
        ExecutorAuthMode::Auto => supports_jwt(agent).await.map_err(|f| {
            Failure::new(
                f.kind,
                format!(
                    "{} ({origin}: auto; set token or none to render without asking)",
                    f.message
                ),
            )
        })?,
    };
    if !jwt {
        return Ok(ExecutorAuth::Off);
    }
    let key = match std::fs::read_to_string(key_file) {
        Ok(k) if valid_key(k.trim()) => k.trim().to_string(),
        Ok(_) => {
            tracing::warn!(file = %key_file.display(), "the executors' signing key is not 64 hex digits: a new one is made (running executors' tokens stop working)");
            random_secret()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => random_secret(),
        Err(e) => return Err(Failure::internal(format!("{}: {e}", key_file.display()))),
    };
    Ok(ExecutorAuth::Jwt { key })
}

fn valid_key(k: &str) -> bool {
    k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether the agent at `agent` was built with SSL (lists `--jwt_secret_key` in its help).
async fn supports_jwt(agent: &Path) -> Result<bool> {
    let run = tokio::process::Command::new(agent)
        .arg("--help")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .map_err(|_| {
            Failure::internal(format!(
                "`{} --help` did not finish in 30 s (asked which authentication its executors can use)",
                agent.display()
            ))
        })?
        .map_err(|e| {
            Failure::internal(format!(
                "{}: {e} (the Mesos agent this node runs; asked which authentication its executors can use)",
                agent.display()
            ))
        })?;
    // Mesos prints its usage on stdout, and exits 0 for --help (stout's flags); either stream
    // is read, in case a wrapper moves it.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !text.contains("--work_dir") {
        return Err(Failure::internal(format!(
            "`{} --help` printed no Mesos agent usage (exit {:?})",
            agent.display(),
            out.status.code()
        )));
    }
    Ok(text.contains(JWT_FLAG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn program(dir: &Path, usage: &str) -> std::path::PathBuf {
        let p = dir.join("mesos-agent");
        std::fs::write(&p, format!("#!/bin/sh\ncat <<'EOF'\n{usage}\nEOF\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn an_ssl_build_gets_a_key_kept_across_boots_and_one_without_gets_none() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        use ExecutorAuthMode::{Auto, None, Token};
        let tag = "tag mesos:executor-auth";
        rt.block_on(async {
            let ssl = program(dir.path(), "  --work_dir=VALUE\n  --jwt_secret_key=VALUE\n");
            let ExecutorAuth::Jwt { key } = decide(Auto, tag, &ssl, &key_file).await.unwrap()
            else {
                panic!("an SSL build authenticates executors");
            };
            assert!(valid_key(&key), "{key}");
            std::fs::write(&key_file, format!("{key}\n")).unwrap();
            assert_eq!(
                decide(Auto, tag, &ssl, &key_file).await.unwrap(),
                ExecutorAuth::Jwt { key: key.clone() },
                "the key is kept"
            );
            assert_eq!(
                decide(None, tag, &ssl, &key_file).await.unwrap(),
                ExecutorAuth::Off
            );
            let plain = program(dir.path(), "  --work_dir=VALUE\n");
            assert_eq!(
                decide(Auto, tag, &plain, &key_file).await.unwrap(),
                ExecutorAuth::Off
            );
            let e = decide(Token, tag, &plain, &key_file).await.unwrap_err();
            assert!(
                e.message.contains(tag) && e.message.contains("without SSL"),
                "{}",
                e.message
            );
            assert_eq!(e.kind.exit_code(), 2);
            let not_mesos = program(dir.path(), "usage: something else");
            let e = decide(Auto, tag, &not_mesos, &key_file).await.unwrap_err();
            assert!(e.message.contains("no Mesos agent usage"), "{}", e.message);
            let absent = dir.path().join("absent");
            let e = decide(Auto, tag, &absent, &key_file).await.unwrap_err();
            assert!(
                e.message.contains("absent") && e.message.contains("token or none"),
                "{}",
                e.message
            );
            assert!(matches!(
                decide(Token, tag, &absent, &key_file).await.unwrap(),
                ExecutorAuth::Jwt { .. }
            ));
        });
    }
}
