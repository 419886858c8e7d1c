//! `mesos-boot config`: the shared config as an operator changes it (what Exhibitor's Config tab
//! did), safely beside `serve`, which rewrites it: every write is conditional on the version
//! the change was made from (S3 `If-Match`), so a concurrent change is a conflict, never a lost
//! update; a new text is checked as mesos-boot and ZooKeeper would check it before anything is
//! written; the change is shown by key; the keys mesos-boot keeps (`mesos-boot.*`: membership
//! records, markers, sizes) are not changed unless forced.
//!
//! The diff is by key rather than by line: the object is Java properties, whose order,
//! comments and escapes change with every writer while the settings do not.

use std::collections::BTreeMap;
use std::path::Path;

use crate::failure::{Failure, Result};
use crate::node::render;
use crate::store::{properties, SharedConfig, Snapshot, Store, StoreError};

/// What `mesos-boot config` does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Print the object; its version on standard error.
    Get,
    /// Check a file as the boot would check the object.
    Validate { file: String },
    /// The changes a file would make, by key.
    Diff { file: String },
    /// Write a file in place of the object, conditional on `if_version` (default: the version
    /// read now).
    Set {
        file: String,
        if_version: Option<String>,
        force: bool,
    },
    /// Edit the object in `$VISUAL`/`$EDITOR`, then write it as `set` does.
    Edit { force: bool },
}

/// The prefix of the keys mesos-boot keeps itself.
const OWN_PREFIX: &str = "mesos-boot.";

/// Runs one `config` action on the shared config at `url` (`Validate` reads no object).
pub async fn run(action: Action, url: Option<&str>, region: Option<&str>) -> Result<()> {
    if let Action::Validate { file } = &action {
        check(&read_file(file)?, file)?;
        println!("{file}: valid");
        return Ok(());
    }
    let url = url.ok_or_else(|| {
        Failure::bad_input("name the shared config (s3://bucket/key or a file path)")
    })?;
    let store = super::store_at(url, region).await?;
    let current = read(&store).await?;
    match action {
        Action::Validate { .. } => unreachable!("handled above"),
        Action::Get => {
            let snap =
                current.ok_or_else(|| Failure::bad_input(format!("{url} does not exist")))?;
            print!("{}", snap.text);
            eprintln!("version {}", snap.version);
            Ok(())
        }
        Action::Diff { file } => {
            let text = read_file(&file)?;
            let before = current.as_ref().map(|s| s.text.as_str()).unwrap_or("");
            print_changes(&changes(before, &text, &file)?);
            Ok(())
        }
        Action::Set {
            file,
            if_version,
            force,
        } => {
            let text = read_file(&file)?;
            write(
                &store,
                url,
                current,
                &text,
                &file,
                if_version.as_deref(),
                force,
            )
            .await
        }
        Action::Edit { force } => {
            let snap =
                current.ok_or_else(|| Failure::bad_input(format!("{url} does not exist")))?;
            let dir = tempfile::Builder::new()
                .prefix("mesos-boot-config-")
                .tempdir()
                .map_err(|e| Failure::internal(format!("a temporary directory: {e}")))?;
            let path = dir.path().join("exhibitor.properties");
            std::fs::write(&path, &snap.text)
                .map_err(|e| Failure::internal(format!("{}: {e}", path.display())))?;
            edit(&path)?;
            let path_s = path.display().to_string();
            let text = read_file(&path_s)?;
            if text == snap.text {
                println!("no change");
                return Ok(());
            }
            let version = snap.version.clone();
            let written = write(
                &store,
                url,
                Some(snap),
                &text,
                &path_s,
                Some(&version),
                force,
            )
            .await;
            if written.is_err() {
                // Keep the edit: the operator fixes it and runs `config set`.
                let kept = dir.keep();
                eprintln!(
                    "your edit is kept in {}",
                    kept.join("exhibitor.properties").display()
                );
            }
            written
        }
    }
}

async fn read(store: &Store) -> Result<Option<Snapshot>> {
    store.read().await.map_err(store_error)
}

/// A store error as an exit: 3 when the store may answer later, 2 otherwise.
fn store_error(e: StoreError) -> Failure {
    if e.is_transient() {
        Failure::unreachable(e.to_string())
    } else {
        Failure::bad_input(e.to_string())
    }
}

fn read_file(file: &str) -> Result<String> {
    std::fs::read_to_string(file).map_err(|e| Failure::bad_input(format!("{file}: {e}")))
}

/// Checks `text` as the boot checks the shared config: Exhibitor's layouts and values, and what
/// rendering a ZooKeeper member from it would refuse. Errors name `source` and the key.
pub fn check(text: &str, source: &str) -> Result<SharedConfig> {
    let cfg =
        SharedConfig::parse(text).map_err(|e| Failure::bad_input(format!("{source}: {e}")))?;
    render::zookeeper::check(&cfg)
        .map_err(|f| Failure::new(f.kind, format!("{source}: {}", f.message)))?;
    Ok(cfg)
}

/// One key's change.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Added(String, String),
    Removed(String, String),
    Changed(String, String, String),
}

impl Change {
    fn key(&self) -> &str {
        match self {
            Change::Added(k, _) | Change::Removed(k, _) | Change::Changed(k, _, _) => k,
        }
    }
}

fn entries(text: &str, source: &str) -> Result<BTreeMap<String, String>> {
    let parsed =
        properties::parse(text).map_err(|e| Failure::bad_input(format!("{source}: {e}")))?;
    Ok(parsed.into_iter().map(|e| (e.key, e.value)).collect())
}

/// The changes from `before` to `after`, by key (sorted).
pub fn changes(before: &str, after: &str, source: &str) -> Result<Vec<Change>> {
    let (old, new) = (entries(before, "the object")?, entries(after, source)?);
    let mut out = Vec::new();
    for (k, v) in &old {
        match new.get(k) {
            None => out.push(Change::Removed(k.clone(), v.clone())),
            Some(n) if n != v => out.push(Change::Changed(k.clone(), v.clone(), n.clone())),
            Some(_) => {}
        }
    }
    for (k, v) in &new {
        if !old.contains_key(k) {
            out.push(Change::Added(k.clone(), v.clone()));
        }
    }
    out.sort_by(|a, b| a.key().cmp(b.key()));
    Ok(out)
}

fn print_changes(changes: &[Change]) {
    if changes.is_empty() {
        println!("no change");
    }
    for c in changes {
        match c {
            Change::Added(k, v) => println!("+ {k}={v}"),
            Change::Removed(k, v) => println!("- {k}={v}"),
            Change::Changed(k, o, n) => println!("~ {k}: {o} -> {n}"),
        }
    }
}

/// Whether `key` is one mesos-boot keeps (any layout: prefixed or not).
fn owned(key: &str) -> bool {
    key.starts_with(OWN_PREFIX)
}

/// Checks, shows and writes `text` over `current`, conditional on `if_version` (or the version
/// of `current`; a missing object is created only if still missing).
async fn write(
    store: &Store,
    url: &str,
    current: Option<Snapshot>,
    text: &str,
    source: &str,
    if_version: Option<&str>,
    force: bool,
) -> Result<()> {
    check(text, source)?;
    // A change made from another version than the current one is a conflict before anything
    // else: compared with the current text, it would undo the write in between.
    let expected = match (if_version, &current) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(s)) => Some(s.version.clone()),
        (None, None) => None,
    };
    if let (Some(want), Some(now)) = (&expected, &current) {
        if *want != now.version {
            return Err(conflict(url, want));
        }
    }
    let before = current.as_ref().map(|s| s.text.as_str()).unwrap_or("");
    let changes = changes(before, text, source)?;
    let touched: Vec<&str> = changes
        .iter()
        .map(Change::key)
        .filter(|k| owned(k))
        .collect();
    if !touched.is_empty() && !force {
        return Err(Failure::bad_input(format!(
            "{source} changes keys mesos-boot keeps ({}): they record the ensemble's membership \
             and its markers; nothing written (--force writes them anyway)",
            touched.join(", ")
        )));
    }
    print_changes(&changes);
    if changes.is_empty() {
        return Ok(());
    }
    match store.write(text, expected.as_deref()).await {
        Ok(version) => {
            eprintln!("written: version {version}");
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Err(conflict(url, expected.as_deref().unwrap_or("(none)"))),
        Err(e) => Err(store_error(e)),
    }
}

fn conflict(url: &str, version: &str) -> Failure {
    Failure::bad_input(format!(
        "{url} changed since version {version} was read (serve or another operator wrote it): \
         nothing written; read it again (`mesos-boot config get`) and redo the change"
    ))
}

/// Runs the operator's editor on `path` (`$VISUAL`, `$EDITOR`, else `vi`; empty is unset), the
/// file name passed as an argument, never in the command text.
fn edit(path: &Path) -> Result<()> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let editor = set("VISUAL")
        .or_else(|| set("EDITOR"))
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("mesos-boot-config")
        .arg(path)
        .status()
        .map_err(|e| Failure::internal(format!("running the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(Failure::bad_input(format!(
            "the editor `{editor}` exited with {status}: nothing written"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_by_key_whatever_the_order_and_escapes() {
        let before = "com.netflix.exhibitor.servers-spec=1\\:a,2\\:b\ncom.netflix.exhibitor.cleanup-max-files=3\nmesos-boot.formed=x\n";
        let after = "# edited\nmesos-boot.formed=x\ncom.netflix.exhibitor.cleanup-max-files=5\ncom.netflix.exhibitor.servers-spec=1:a,2:b\ncom.netflix.exhibitor.log-index-directory=/var/lib/zk-index\n";
        let c = changes(before, after, "f").unwrap();
        assert_eq!(
            c,
            vec![
                Change::Changed(
                    "com.netflix.exhibitor.cleanup-max-files".into(),
                    "3".into(),
                    "5".into()
                ),
                Change::Added(
                    "com.netflix.exhibitor.log-index-directory".into(),
                    "/var/lib/zk-index".into()
                ),
            ]
        );
        assert!(owned("mesos-boot.instances"));
        assert!(!owned("com.netflix.exhibitor.servers-spec"));
    }
}
