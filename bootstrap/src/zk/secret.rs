//! The ZooKeeper superuser secret that authenticates `reconfig`.
//!
//! One random secret per shared config, kept next to it (`<shared-config>.zk-super`: the same
//! bucket, or a 0600 file beside the file store). The first ZooKeeper node to need it creates
//! it with a create-only write, so every node agrees on one secret. Servers get only its digest,
//! as `DigestAuthenticationProvider.superDigest=super:<digest>` in zoo.cfg (mode 0600, owned by
//! zookeeper; ZooKeeper takes unknown zoo.cfg keys as `zookeeper.*` system properties), never
//! on the JVM's command line; mesos-boot authenticates as `super` with the secret itself. It is never in user-data or in the AMI:
//! who can read the object is the ZooKeeper instance role (see terraform/modules/node).

use tokio::time::Instant;

use crate::failure::Result;
use crate::store::Store;

/// Suffix of the secret's object name after the shared config's.
pub const SUFFIX: &str = ".zk-super";

/// The superuser secret.
#[derive(Clone)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Checks a stored secret: one line of 32 to 256 printable ASCII characters.
    pub fn parse(text: &str, what: &str) -> std::result::Result<Secret, String> {
        let s = text.trim_end_matches('\n');
        if !(32..=256).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "{what}: not a ZooKeeper superuser secret (expected one line of 32 to 256 \
                 printable characters, found {} bytes); delete it to have a new one generated",
                text.len()
            ));
        }
        Ok(Secret(s.to_string()))
    }

    /// A new random secret (256 bits, hex).
    pub fn generate() -> Secret {
        Secret(crate::store::typed::random_secret())
    }

    /// `super:<base64(sha1("super:<secret>"))>`, what ZooKeeper's DigestAuthenticationProvider
    /// compares against.
    pub fn super_digest(&self) -> String {
        format!("super:{}", crate::zk::zk_digest_hash("super", &self.0))
    }

    /// The `digest` scheme's auth bytes for a client.
    pub fn auth(&self) -> Vec<u8> {
        format!("super:{}", self.0).into_bytes()
    }
}

/// Reads the secret next to `shared`, creating it when it does not exist yet.
pub async fn ensure(shared: &Store, deadline: Instant) -> Result<Secret> {
    crate::store::typed::ensure_object(
        &shared.private_sibling(SUFFIX),
        deadline,
        "ZooKeeper superuser secret",
        || format!("{}\n", Secret::generate().0),
        Secret::parse,
    )
    .await
}

/// Reads the existing secret (serve: it never creates one).
pub async fn read(shared: &Store) -> std::result::Result<Secret, String> {
    let store = shared.private_sibling(SUFFIX);
    let url = store.location().to_string();
    match store.read().await {
        Ok(Some(snap)) => Secret::parse(&snap.text, &url),
        Ok(None) => Err(format!("{url} does not exist")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn digest_is_zookeepers() {
        // DigestAuthenticationProvider.generateDigest("super:secret"), as `java -cp
        // zookeeper.jar org.apache.zookeeper.server.auth.DigestAuthenticationProvider super:secret` prints.
        let s = Secret("secret".into());
        assert_eq!(s.super_digest(), "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
        assert_eq!(s.auth(), b"super:secret");
    }

    #[test]
    fn generated_secrets_parse_and_differ() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a.0, b.0);
        assert!(Secret::parse(&format!("{}\n", a.0), "x").is_ok());
        let err = Secret::parse("short\n", "s3://b/k.zk-super").unwrap_err();
        assert!(err.contains("s3://b/k.zk-super"), "{err}");
    }

    #[tokio::test]
    async fn every_node_gets_the_same_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exhibitor.properties");
        let store = Store::new(crate::store::Location::File { path: path.clone() }, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { ensure(&store, deadline).await.unwrap().0 })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        assert!(got.iter().all(|s| s == &got[0]));
        let file = dir.path().join("exhibitor.properties.zk-super");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
