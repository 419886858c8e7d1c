//! Where the shared config lives: `s3://bucket/key` (AWS SDK) or `file:///path`.
//!
//! Reads are one request (`GetObject`), refused without reading the body when the object is
//! larger than [`MAX_OBJECT_BYTES`] (a shared config is a few KiB; a huge object is a mistake
//! or an attack, never a config). Writes are compare-and-swap: on S3 with
//! `If-None-Match: *` (create) or `If-Match: <etag>` (update), 412 meaning someone else
//! wrote first; on a file with an exclusive lock on `<path>.lock` and a comparison of the
//! content's version, then a temp file renamed over the old one.

use std::fmt;
use std::path::{Path, PathBuf};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

/// The largest shared config (or secret) object mesos-boot reads: 1 MiB.
pub const MAX_OBJECT_BYTES: u64 = 1024 * 1024;

fn too_large(loc: &Location, size: Option<u64>) -> StoreError {
    let size = size.map_or("more than 1048576".to_string(), |n| n.to_string());
    StoreError::Other(
        loc.to_string(),
        format!(
            "object is {size} bytes, larger than the {MAX_OBJECT_BYTES} bytes (1 MiB) a shared \
             config may have; refusing to read it"
        ),
    )
}

/// A parsed shared-config URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, key: String },
    File { path: PathBuf },
}

impl Location {
    /// Parses `s3://bucket/key` or `file:///absolute/path`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| format!("`{url}` has no object key (expected s3://bucket/key)"))?;
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                && !bucket.starts_with(['.', '-'])
                && !bucket.ends_with(['.', '-']);
            if !bucket_ok {
                return Err(format!("`{url}`: `{bucket}` is not a valid S3 bucket name"));
            }
            if key.is_empty() || key.ends_with('/') {
                return Err(format!(
                    "`{url}` has no object key (expected s3://bucket/key)"
                ));
            }
            Ok(Location::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            })
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') || path.ends_with('/') {
                return Err(format!("`{url}` is not file:///absolute/path/to/file"));
            }
            Ok(Location::File { path: path.into() })
        } else {
            Err(format!(
                "`{url}` is neither s3://bucket/key nor file:///path"
            ))
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::File { path } => write!(f, "file://{}", path.display()),
        }
    }
}

/// The object as read, with the version a conditional write must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub text: String,
    /// S3 ETag, or a hash of a file's content.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}: bucket does not exist")]
    NoBucket(String),
    #[error("{0}: access denied ({1})")]
    Denied(String, String),
    #[error("{0}: unreachable: {1}")]
    Unreachable(String, String),
    #[error("{0}: changed since it was read (conditional write refused)")]
    Conflict(String),
    #[error("{0}: {1}")]
    Other(String, String),
}

impl StoreError {
    /// Worth retrying within the deadline: the store did not answer, or asked to slow down.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unreachable(..))
    }
}

/// An earlier version of the object (a versioned bucket keeps every write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: String,
    /// A delete marker, not content.
    pub deleted: bool,
}

/// A handle on one shared-config object.
#[derive(Clone)]
pub struct Store {
    location: Location,
    s3: Option<aws_sdk_s3::Client>,
    /// Mode of a file store's file (0644; 0600 for secrets).
    file_mode: u32,
}

impl Store {
    /// A store for `location`; S3 uses `sdk` (path-style addressing when an endpoint
    /// override such as `AWS_ENDPOINT_URL` is set, as S3-compatible servers need).
    pub fn new(location: Location, sdk: Option<&aws_config::SdkConfig>) -> Self {
        let s3 = match (&location, sdk) {
            (Location::S3 { .. }, Some(sdk)) => {
                let path_style = sdk.endpoint_url().is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
                let conf = aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(path_style)
                    .build();
                Some(aws_sdk_s3::Client::from_conf(conf))
            }
            _ => None,
        };
        Store {
            location,
            s3,
            file_mode: 0o644,
        }
    }

    /// The object next to this one whose name adds `suffix` (same bucket and client, or the
    /// same directory), readable by its owner only when it is a file.
    pub fn private_sibling(&self, suffix: &str) -> Store {
        let location = match &self.location {
            Location::S3 { bucket, key } => Location::S3 {
                bucket: bucket.clone(),
                key: format!("{key}{suffix}"),
            },
            Location::File { path } => {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                Location::File { path: p.into() }
            }
        };
        Store {
            location,
            s3: self.s3.clone(),
            file_mode: 0o600,
        }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The S3 client of an S3 location (for objects beside the shared config: backups).
    pub fn s3_client(&self) -> Option<&aws_sdk_s3::Client> {
        self.s3.as_ref()
    }

    /// Reads the object; `None` when it does not exist (yet).
    pub async fn read(&self) -> Result<Option<Snapshot>, StoreError> {
        match &self.location {
            Location::S3 { bucket, key } => self.read_s3(bucket, key).await,
            Location::File { path } => read_file(path, &self.location),
        }
    }

    /// Writes `text` if the object is still at `expected` (`None`: only if it does not exist).
    /// Returns the new version.
    pub async fn write(&self, text: &str, expected: Option<&str>) -> Result<String, StoreError> {
        match &self.location {
            Location::S3 { bucket, key } => self.write_s3(bucket, key, text, expected).await,
            Location::File { path } => {
                write_file(path, text, expected, &self.location, self.file_mode)
            }
        }
    }

    /// The versions and delete markers the key has, newest first (a file store has none).
    /// A key that is missing but has versions was deleted: the cluster is not new.
    pub async fn versions(&self) -> Result<Vec<Version>, StoreError> {
        let Location::S3 { bucket, key } = &self.location else {
            return Ok(Vec::new());
        };
        let out = self
            .client()
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .max_keys(50)
            .send()
            .await
            .map_err(|e| classify(&self.location, e))?;
        let mut all: Vec<(Option<aws_sdk_s3::primitives::DateTime>, Version)> = Vec::new();
        for v in out.versions() {
            if v.key() == Some(key.as_str()) {
                all.push((
                    v.last_modified().cloned(),
                    Version {
                        id: v.version_id().unwrap_or("null").to_string(),
                        deleted: false,
                    },
                ));
            }
        }
        for m in out.delete_markers() {
            if m.key() == Some(key.as_str()) {
                all.push((
                    m.last_modified().cloned(),
                    Version {
                        id: m.version_id().unwrap_or("null").to_string(),
                        deleted: true,
                    },
                ));
            }
        }
        all.sort_by_key(|v| std::cmp::Reverse(v.0));
        Ok(all.into_iter().map(|(_, v)| v).collect())
    }

    /// How many versions and delete markers the key has.
    pub async fn history(&self) -> Result<usize, StoreError> {
        Ok(self.versions().await?.len())
    }

    /// The content of an earlier version.
    pub async fn read_version(&self, version: &str) -> Result<String, StoreError> {
        let Location::S3 { bucket, key } = &self.location else {
            return Err(StoreError::Other(
                self.location.to_string(),
                "a file store keeps no versions".into(),
            ));
        };
        let out = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .version_id(version)
            .send()
            .await
            .map_err(|e| classify(&self.location, e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unreachable(self.location.to_string(), e.to_string()))?
            .into_bytes();
        String::from_utf8(bytes.to_vec()).map_err(|_| {
            StoreError::Other(self.location.to_string(), "object is not UTF-8 text".into())
        })
    }

    fn client(&self) -> &aws_sdk_s3::Client {
        self.s3.as_ref().expect("S3 location always has a client")
    }

    async fn read_s3(&self, bucket: &str, key: &str) -> Result<Option<Snapshot>, StoreError> {
        let out = match self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                if let SdkError::ServiceError(se) = &e {
                    if se.err().is_no_such_key() {
                        return Ok(None);
                    }
                }
                return Err(classify(&self.location, e));
            }
        };
        let version = out.e_tag().unwrap_or_default().to_string();
        // Content-Length first, so a huge object is refused before its body is read; then a
        // capped read, in case the length was absent or wrong.
        if let Some(len) = out
            .content_length()
            .filter(|n| *n as u64 > MAX_OBJECT_BYTES)
        {
            return Err(too_large(&self.location, Some(len as u64)));
        }
        let mut body = out.body;
        let mut bytes: Vec<u8> = Vec::new();
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StoreError::Unreachable(self.location.to_string(), e.to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > MAX_OBJECT_BYTES {
                return Err(too_large(&self.location, None));
            }
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            StoreError::Other(self.location.to_string(), "object is not UTF-8 text".into())
        })?;
        Ok(Some(Snapshot { text, version }))
    }

    async fn write_s3(
        &self,
        bucket: &str,
        key: &str,
        text: &str,
        expected: Option<&str>,
    ) -> Result<String, StoreError> {
        let mut put = self
            .client()
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("text/plain; charset=utf-8")
            .body(ByteStream::from(text.as_bytes().to_vec()));
        put = match expected {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            Err(e) => match classify(&self.location, e) {
                // The SDK retries a write whose answer was lost; if the first try landed, the
                // retry meets this very write (412). The object holding exactly this text is
                // the write done, not someone else's.
                StoreError::Conflict(loc) => match self.read_s3(bucket, key).await {
                    Ok(Some(now)) if now.text == text => {
                        tracing::debug!(%loc, "a retried write met itself: done");
                        Ok(now.version)
                    }
                    _ => Err(StoreError::Conflict(loc)),
                },
                other => Err(other),
            },
        }
    }
}

fn classify<E>(
    location: &Location,
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let loc = location.to_string();
    match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let message = se.err().message().unwrap_or(code).to_string();
            match code {
                "NoSuchBucket" => StoreError::NoBucket(loc),
                "AccessDenied" | "Forbidden" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                    StoreError::Denied(loc, message)
                }
                "PreconditionFailed" | "ConditionalRequestConflict" => StoreError::Conflict(loc),
                "InternalError"
                | "ServiceUnavailable"
                | "SlowDown"
                | "RequestTimeout"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequests" => StoreError::Unreachable(loc, message),
                _ if matches!(se.raw().status().as_u16(), 429 | 500..=599) => {
                    StoreError::Unreachable(
                        loc,
                        format!("HTTP {}: {code} {message}", se.raw().status().as_u16()),
                    )
                }
                "" => {
                    // No S3 error document: say what the response was.
                    let mut raw = format!("{:?}", se.raw());
                    raw.truncate(400);
                    StoreError::Other(loc, format!("unexpected response: {raw}"))
                }
                _ => StoreError::Other(loc, format!("{code}: {message}")),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unreachable(loc, crate::failure::chain(&err))
        }
        _ => StoreError::Other(loc, crate::failure::chain(&err)),
    }
}

/// FNV-1a over the content: a file's version for compare-and-swap.
fn content_version(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}-{}", text.len())
}

fn read_file(path: &Path, loc: &Location) -> Result<Option<Snapshot>, StoreError> {
    use std::io::Read;
    let read = std::fs::File::open(path).and_then(|file| {
        let mut bytes = Vec::new();
        // One byte more than the cap tells "too large" without reading a huge file whole.
        file.take(MAX_OBJECT_BYTES + 1).read_to_end(&mut bytes)?;
        Ok(bytes)
    });
    match read {
        Ok(bytes) if bytes.len() as u64 > MAX_OBJECT_BYTES => {
            let size = std::fs::metadata(path).ok().map(|m| m.len());
            Err(too_large(loc, size))
        }
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| StoreError::Other(loc.to_string(), "file is not UTF-8 text".into()))?;
            Ok(Some(Snapshot {
                version: content_version(&text),
                text,
            }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(StoreError::Denied(loc.to_string(), e.to_string()))
        }
        Err(e) => Err(StoreError::Other(loc.to_string(), e.to_string())),
    }
}

fn write_file(
    path: &Path,
    text: &str,
    expected: Option<&str>,
    loc: &Location,
    mode: u32,
) -> Result<String, StoreError> {
    use nix::fcntl::{Flock, FlockArg};
    let other = |e: &dyn fmt::Display| StoreError::Other(loc.to_string(), e.to_string());
    let dir = path
        .parent()
        .ok_or_else(|| other(&"has no parent directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| other(&e))?;
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| other(&e))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive).map_err(|(_, e)| other(&e))?;
    let current = read_file(path, loc)?.map(|s| s.version);
    if current.as_deref() != expected {
        return Err(StoreError::Conflict(loc.to_string()));
    }
    crate::fsutil::write_atomic(path, text.as_bytes(), mode).map_err(|e| other(&e))?;
    Ok(content_version(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_names_the_bad_ones() {
        assert_eq!(
            Location::parse("s3://my.bucket/path/exhibitor.properties").unwrap(),
            Location::S3 {
                bucket: "my.bucket".into(),
                key: "path/exhibitor.properties".into()
            }
        );
        assert!(Location::parse("file:///etc/x.properties").is_ok());
        for bad in [
            "s3://bucket",
            "s3://Bad_Bucket/k",
            "s3://bucket/",
            "http://x/y",
            "file://rel/x",
            "",
        ] {
            let err = Location::parse(bad).unwrap_err();
            assert!(err.contains(&format!("`{bad}")), "{err}");
        }
    }

    /// An object over 1 MiB is refused with its size, without being read whole (a sparse
    /// 16 GiB file answers at once).
    #[tokio::test]
    async fn objects_over_1_mib_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exhibitor.properties");
        let store = Store::new(Location::File { path: path.clone() }, None);
        std::fs::write(&path, "#".repeat(MAX_OBJECT_BYTES as usize)).unwrap();
        assert!(
            store.read().await.unwrap().is_some(),
            "exactly 1 MiB is fine"
        );
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(16 << 30).unwrap();
        let err = store.read().await.unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "file://{}: object is 17179869184 bytes, larger than the 1048576 bytes (1 MiB) \
                 a shared config may have; refusing to read it",
                path.display()
            )
        );
    }

    #[tokio::test]
    async fn file_store_is_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exhibitor.properties");
        let store = Store::new(Location::File { path: path.clone() }, None);
        assert!(store.read().await.unwrap().is_none());
        let v1 = store.write("a=1\n", None).await.unwrap();
        assert!(matches!(
            store.write("a=2\n", None).await,
            Err(StoreError::Conflict(_))
        ));
        let snap = store.read().await.unwrap().unwrap();
        assert_eq!(snap.version, v1);
        let v2 = store.write("a=2\n", Some(&v1)).await.unwrap();
        assert!(matches!(
            store.write("a=3\n", Some(&v1)).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            store.read().await.unwrap().unwrap(),
            Snapshot {
                text: "a=2\n".into(),
                version: v2
            }
        );
    }
}
