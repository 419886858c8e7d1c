//! The backup sets of ZooKeeper's data beside the shared config: `<key>.backups/<id>/` in
//! the bucket, or `<path>.backups/<id>/` beside a file; each set a snapshot and the logs after
//! it ([`txnlog::BackupPlan`]), its `manifest.json` written last (a set without one is
//! incomplete and never restored). Upload, list, prune, download; who backs up and when is
//! `serve`'s business, a restore the membership's.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::cloud::aws_error;
use crate::store::{Location, Store};
use crate::zk::txnlog;

/// The lease key in the shared config.
pub const LEASE_KEY: &str = "mesos-boot.backup-lease";

/// Backups live under `<key><SUFFIX>`.
pub const SUFFIX: &str = ".backups/";

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// One file of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub bytes: u64,
}

/// A complete backup set (its `manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    pub server: u32,
    /// The snapshot's zxid and the last zxid the set holds.
    pub snapshot_zxid: u64,
    pub last_zxid: u64,
    pub files: Vec<Entry>,
    pub bytes: u64,
}

/// Where the sets live: beside an S3 shared config (`<key>.backups/`), or beside a file one
/// (`<path>.backups/`, for a local cluster).
enum Target {
    S3 {
        s3: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
    Dir(PathBuf),
}

/// A complete set as its id names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SetId {
    /// Unix seconds.
    pub created: u64,
    pub last_zxid: u64,
    pub id: String,
}

impl SetId {
    /// `<unix s>-<zxid, 16 hex>`, as [`Backups::upload`] names a set.
    pub fn parse(id: &str) -> Option<SetId> {
        let (created, zxid) = id.split_once('-')?;
        Some(SetId {
            created: created.parse().ok()?,
            last_zxid: u64::from_str_radix(zxid, 16).ok()?,
            id: id.to_string(),
        })
    }
}

/// The backups beside one shared config. Keys are relative: `<id>/<file>`.
pub struct Backups {
    target: Target,
}

impl Backups {
    pub fn of(store: &Store) -> Option<Backups> {
        let target = match store.location() {
            Location::S3 { bucket, key } => Target::S3 {
                s3: store.s3_client()?.clone(),
                bucket: bucket.clone(),
                prefix: format!("{key}{SUFFIX}"),
            },
            Location::File { path } => {
                let mut dir = path.as_os_str().to_owned();
                dir.push(SUFFIX.trim_end_matches('/'));
                Target::Dir(PathBuf::from(dir))
            }
        };
        Some(Backups { target })
    }

    pub fn url(&self) -> String {
        match &self.target {
            Target::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
            Target::Dir(d) => format!("file://{}/", d.display()),
        }
    }

    /// Every complete set (one with its manifest), oldest first, from one listing: its id
    /// says when it was made and the last zxid it holds (`<unix s>-<zxid, 16 hex>`).
    pub async fn complete_sets(&self) -> Result<Vec<SetId>, String> {
        let mut keys = Vec::new();
        match &self.target {
            Target::S3 { s3, bucket, prefix } => {
                let mut token = None;
                loop {
                    let out = s3
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_continuation_token(token)
                        .send()
                        .await
                        .map_err(|e| {
                            format!("s3:ListObjectsV2 {}: {}", self.url(), aws_error(&e))
                        })?;
                    keys.extend(
                        out.contents()
                            .iter()
                            .filter_map(|o| o.key()?.strip_prefix(prefix.as_str()))
                            .filter(|k| k.ends_with("/manifest.json"))
                            .map(str::to_string),
                    );
                    token = out.next_continuation_token().map(str::to_string);
                    if token.is_none() {
                        break;
                    }
                }
            }
            Target::Dir(d) => {
                let entries = match std::fs::read_dir(d) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(format!("{}: {e}", d.display())),
                };
                for e in entries.flatten() {
                    if e.path().join("manifest.json").is_file() {
                        keys.push(format!("{}/manifest.json", e.file_name().to_string_lossy()));
                    }
                }
            }
        }
        let mut sets: Vec<SetId> = keys
            .iter()
            .filter_map(|k| SetId::parse(k.strip_suffix("/manifest.json")?))
            .collect();
        sets.sort();
        Ok(sets)
    }

    /// The manifest of set `id`.
    pub async fn manifest(&self, id: &str) -> Result<Manifest, String> {
        let key = format!("{id}/manifest.json");
        let bytes = self.get(&key).await?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}{key}: {e}", self.url()))
    }

    /// Every complete set's manifest, oldest first (restore, `--list`).
    pub async fn list(&self) -> Result<Vec<Manifest>, String> {
        let mut sets = Vec::new();
        for set in self.complete_sets().await? {
            sets.push(self.manifest(&set.id).await?);
        }
        Ok(sets)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => {
                let out = s3
                    .get_object()
                    .bucket(bucket)
                    .key(format!("{prefix}{key}"))
                    .send()
                    .await
                    .map_err(|e| format!("s3:GetObject {}{key}: {}", self.url(), aws_error(&e)))?;
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading {}{key}: {e}", self.url()))?;
                Ok(body.into_bytes().to_vec())
            }
            Target::Dir(d) => {
                std::fs::read(d.join(key)).map_err(|e| format!("{}: {e}", d.join(key).display()))
            }
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => s3
                .put_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("s3:PutObject {}{key}: {}", self.url(), aws_error(&e))),
            Target::Dir(d) => crate::fsutil::write_atomic(&d.join(key), &bytes, 0o600)
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", d.join(key).display())),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), String> {
        match &self.target {
            Target::S3 { s3, bucket, prefix } => s3
                .delete_object()
                .bucket(bucket)
                .key(format!("{prefix}{key}"))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| format!("s3:DeleteObject {}{key}: {}", self.url(), aws_error(&e))),
            Target::Dir(d) => {
                let path = d.join(key);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        // The set's directory goes with its last file.
                        if let Some(parent) = path.parent() {
                            let _ = std::fs::remove_dir(parent);
                        }
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(format!("{}: {e}", path.display())),
                }
            }
        }
    }

    /// Uploads the files of one set from `plan`, and returns its manifest, not yet written: the
    /// set is incomplete (never listed, never restored) until [`Backups::commit`] writes it, or
    /// [`Backups::discard`] removes the files.
    pub async fn upload_files(
        &self,
        plan: &txnlog::BackupPlan,
        server: u32,
    ) -> Result<Manifest, String> {
        let created = now_s();
        let id = format!("{created}-{:016x}", plan.last);
        let mut files = Vec::new();
        let mut sources: Vec<(PathBuf, Option<u64>)> = vec![(plan.snapshot.0.clone(), None)];
        sources.extend(plan.logs.iter().map(|(p, n)| (p.clone(), Some(*n))));
        for (path, limit) in sources {
            let mut bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(n) = limit {
                bytes.truncate(n as usize);
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let len = bytes.len() as u64;
            self.put(&format!("{id}/{name}"), bytes).await?;
            files.push(Entry { name, bytes: len });
        }
        Ok(Manifest {
            id: id.clone(),
            created,
            server,
            snapshot_zxid: plan.snapshot.1,
            last_zxid: plan.last,
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
        })
    }

    /// Completes a set whose files are uploaded: writes its manifest.
    pub async fn commit(&self, manifest: &Manifest) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
        self.put(&format!("{}/manifest.json", manifest.id), text)
            .await
    }

    /// Removes the files of a set that is not to be completed.
    pub async fn discard(&self, manifest: &Manifest) -> Result<(), String> {
        for f in &manifest.files {
            self.delete(&format!("{}/{}", manifest.id, f.name)).await?;
        }
        Ok(())
    }

    /// Deletes the sets older than `max_age` but the newest (`sets` oldest first); returns how
    /// many went. Only the manifests of the sets that go are read.
    pub async fn prune(&self, sets: &[SetId], max_age: Duration) -> Result<usize, String> {
        let cutoff = now_s().saturating_sub(max_age.as_secs());
        let mut gone = 0;
        for set in sets.iter().rev().skip(1).filter(|s| s.created < cutoff) {
            let m = self.manifest(&set.id).await?;
            // The manifest first: a set without one is never restored.
            let mut keys = vec![format!("{}/manifest.json", m.id)];
            keys.extend(m.files.iter().map(|f| format!("{}/{}", m.id, f.name)));
            for key in keys {
                self.delete(&key).await?;
            }
            gone += 1;
        }
        Ok(gone)
    }

    /// Downloads set `m`: the snapshot into `snap_dir`, the logs into `log_dir` (each file
    /// written to a temp file, given to `owner` by descriptor, and renamed). Returns the files
    /// written.
    pub async fn download(
        &self,
        m: &Manifest,
        snap_dir: &Path,
        log_dir: &Path,
        owner: Option<crate::fsutil::Owner>,
    ) -> Result<Vec<PathBuf>, String> {
        if let Some(bad) = m.files.iter().find(|f| !txnlog::is_data_file(&f.name)) {
            return Err(format!(
                "{}{}/manifest.json: file `{}` is not a ZooKeeper snapshot or log \
                 (`snapshot.<hex>` (`.gz`, `.snappy`), `log.<hex>`); the set is refused",
                self.url(),
                m.id,
                bad.name
            ));
        }
        let mut written = Vec::new();
        for f in &m.files {
            let bytes = self.get(&format!("{}/{}", m.id, f.name)).await?;
            if bytes.len() as u64 != f.bytes {
                return Err(format!(
                    "{}{}/{}: {} bytes, the manifest says {}",
                    self.url(),
                    m.id,
                    f.name,
                    bytes.len(),
                    f.bytes
                ));
            }
            let dir = if f.name.starts_with("log.") {
                log_dir
            } else {
                snap_dir
            };
            let path = dir.join(&f.name);
            crate::fsutil::write_atomic_as(&path, &bytes, 0o600, owner)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Beside a file shared config: a set goes to `<path>.backups/<id>/` (manifest last), lists,
    /// downloads byte for byte, and an old set is pruned while the newest stays.
    #[test]
    fn sets_beside_a_file_config_upload_list_download_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("version-2");
        std::fs::create_dir_all(&data).unwrap();
        let snap = data.join("snapshot.100000000");
        std::fs::write(&snap, b"snapshot bytes").unwrap();
        let log = data.join("log.100000001");
        std::fs::write(&log, b"log bytes and preallocated zeros").unwrap();
        let plan = txnlog::BackupPlan {
            snapshot: (snap, 0x1_0000_0000),
            logs: vec![(log, 9)],
            last: 0x1_0000_0005,
        };
        let config = dir.path().join("exhibitor.properties");
        let store = Store::new(
            Location::File {
                path: config.clone(),
            },
            None,
        );
        let backups = Backups::of(&store).unwrap();
        assert!(
            backups.url().ends_with("exhibitor.properties.backups/"),
            "{}",
            backups.url()
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let m = backups.upload_files(&plan, 2).await.unwrap();
            assert_eq!(m.bytes, 14 + 9);
            assert_eq!(backups.list().await.unwrap(), vec![], "no manifest yet");
            backups.commit(&m).await.unwrap();
            let sets = backups.list().await.unwrap();
            assert_eq!(sets, vec![m.clone()]);
            let to = dir.path().join("restored");
            std::fs::create_dir_all(&to).unwrap();
            backups.download(&m, &to, &to, None).await.unwrap();
            assert_eq!(
                std::fs::read(to.join("log.100000001")).unwrap(),
                b"log bytes"
            );
            // An older set (made up, a day old) goes; the newest stays.
            let mut old = m.clone();
            old.id = "1-0000000000000000".into();
            old.created = 1;
            let text = serde_json::to_vec(&old).unwrap();
            backups
                .put("1-0000000000000000/manifest.json", text)
                .await
                .unwrap();
            let sets = backups.complete_sets().await.unwrap();
            assert_eq!(sets.len(), 2);
            assert_eq!(sets[0].created, 1);
            assert_eq!(
                backups
                    .prune(&sets, Duration::from_secs(3600))
                    .await
                    .unwrap(),
                1
            );
            assert_eq!(backups.list().await.unwrap(), vec![m]);
            assert!(!dir
                .path()
                .join("exhibitor.properties.backups/1-0000000000000000")
                .exists());
        });
    }

    /// Restore writes, as root, the files a manifest names: only ZooKeeper's own names
    /// (`snapshot.<hex>`, `log.<hex>`) are taken, never a path out of the data directory.
    #[test]
    fn a_manifest_naming_a_path_out_of_the_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("exhibitor.properties");
        let store = Store::new(Location::File { path: config }, None);
        let backups = Backups::of(&store).unwrap();
        // Deep enough that `../../` from it stays inside this test's directory.
        let to = dir.path().join("a/b/c/data/version-2");
        std::fs::create_dir_all(&to).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for name in [
            "../../escaped",
            "/tmp/absolute-escape",
            "version-2/../x",
            "zoo.cfg",
            "log.1/../x",
        ] {
            let id = "5-0000000100000005";
            let manifest = Manifest {
                id: id.into(),
                created: 5,
                server: 1,
                snapshot_zxid: 0x1_0000_0000,
                last_zxid: 0x1_0000_0005,
                files: vec![Entry {
                    name: name.into(),
                    bytes: 4,
                }],
                bytes: 4,
            };
            let err = rt.block_on(async {
                backups
                    .put(&format!("{id}/{name}"), b"evil".to_vec())
                    .await
                    .ok();
                backups
                    .download(&manifest, &to, &to, None)
                    .await
                    .unwrap_err()
            });
            assert!(
                err.contains(&format!("`{name}`")) && err.contains("manifest.json"),
                "{name}: {err}"
            );
            assert!(!dir.path().join("a/b/c/escaped").exists(), "{name}");
            assert!(!Path::new("/tmp/absolute-escape").exists(), "{name}");
        }
    }
}
