//! Objects beside the shared config, each with one owner: read or created once with a
//! create-only write ([`ensure_object`]: every node agrees on one value), and rewritten only
//! by a conditional write on the version read ([`update_object`]).

use std::time::Duration;

use rand::RngCore;
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};
use crate::store::{Store, StoreError};

/// 256 random bits, hex: safe in a URL's userinfo, a JSON string and a `principal secret` line.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads an object beside `shared`, creating it with `generate()` (a create-only write) when it
/// does not exist yet; a racing creator's value wins. `parse` checks what is read.
pub async fn ensure_object<T>(
    store: &Store,
    deadline: Instant,
    what: &str,
    generate: impl Fn() -> String,
    parse: impl Fn(&str, &str) -> std::result::Result<T, String>,
) -> Result<T> {
    let url = store.location().to_string();
    let got = retry::until(what, deadline, Duration::from_secs(2), || async {
        match store.read().await {
            Ok(Some(snap)) => match parse(&snap.text, &url) {
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::Fail(Failure::bad_input(e)),
            },
            Ok(None) => {
                let text = generate();
                match store.write(&text, None).await {
                    Ok(_) => match parse(&text, &url) {
                        Ok(v) => {
                            tracing::info!(object = %url, "created the {what}");
                            Attempt::Done(v)
                        }
                        Err(e) => Attempt::Fail(Failure::internal(e)),
                    },
                    // Another node created it first: read theirs.
                    Err(StoreError::Conflict(_)) => {
                        Attempt::Again(Failure::unreachable(format!("{url}: creation raced")))
                    }
                    Err(e) => store_failure(e),
                }
            }
            Err(e) => store_failure(e),
        }
    })
    .await;
    got.map_err(|last| {
        last.unwrap_or_else(|| {
            Failure::unreachable(format!("{url}: no answer before the deadline"))
        })
    })
}

pub fn store_failure<T>(e: StoreError) -> Attempt<T, Failure> {
    match e {
        e @ StoreError::Unreachable(..) => Attempt::Again(Failure::unreachable(e.to_string())),
        e => Attempt::Fail(Failure::bad_input(e.to_string())),
    }
}

/// Rewrites the object in `store` with `change` applied to what `parse` read, conditional on
/// the version read (a concurrent rotation step fails instead of being lost). `missing` says
/// who creates the object when it does not exist.
pub async fn update_object<T>(
    store: &Store,
    missing: &str,
    parse: impl Fn(&str, &str) -> std::result::Result<T, String>,
    change: impl Fn(&T) -> std::result::Result<T, String>,
    render: impl Fn(&T) -> String,
) -> Result<T> {
    let url = store.location().to_string();
    let snap = store
        .read()
        .await
        .map_err(|e| Failure::unreachable(e.to_string()))?
        .ok_or_else(|| Failure::bad_input(format!("{url} does not exist ({missing})")))?;
    let old = parse(&snap.text, &url).map_err(Failure::bad_input)?;
    let new = change(&old).map_err(|e| Failure::bad_input(format!("{url}: {e}")))?;
    store
        .write(&render(&new), Some(&snap.version))
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => Failure::bad_input(format!(
                "{url} changed while it was being rewritten (another rotation?): run again"
            )),
            e => Failure::unreachable(e.to_string()),
        })?;
    Ok(new)
}
