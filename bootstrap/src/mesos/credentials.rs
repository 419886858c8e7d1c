//! The credentials that keep ZooKeeper's `/mesos` and the Mesos masters closed to anyone who can
//! merely reach them: one object per credential beside the shared config
//! (`<shared-config><suffix>`, the same bucket: VPC endpoint and TLS only; a 0600 file beside a
//! file store), created by the masters on the cluster's first boot with a create-only write, so
//! every node agrees on one value. Never in user-data, the AMI, Terraform state or a log line:
//! what a role may read is its instance role's business (terraform/modules/node).
//!
//! | object | principal | used by | checked by |
//! |---|---|---|---|
//! | `.zk-mesos-master` | `mesos-master` | Mesos masters, in `zk://user:secret@…` | `/mesos`'s ACL: all rights |
//! | `.zk-mesos-agent` | `mesos-agent` | Mesos agents (they only read) | `/mesos`'s ACL: read |
//! | `.mesos-agent` | `agent` | agents registering (CRAM-MD5) | masters (`--credentials`) |
//! | `.mesos-agent-http` | `agent-http` | operators calling an agent's endpoints | agents (`--http_credentials`) |
//! | `.mesos-scale` | `mesos-scale` | the autoscaler's operator calls | masters |
//! | `.mesos-operator` | `operator` | people operating the cluster | masters |
//! | `.mesos-framework` | `framework` | frameworks registering | masters |
//!
//! An object holds lines `principal secret`: the first is the one clients use; any others are
//! still accepted by whoever checks them: a rotation in progress ([`rotate`], then roll the
//! nodes, then [`retire`]). [`zk_acl`] keeps `/mesos`'s ACL, [`mesos_auth`] renders what Mesos
//! reads.

use std::time::Duration;

use base64::Engine;
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::retry::{self, Attempt};
use crate::store::typed::{ensure_object, random_secret, store_failure, update_object};
use crate::store::Store;
use crate::zk::zk_digest_hash;

/// One kind of credential: its object and the principal it starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The object's name after the shared config's key and a dot.
    pub name: &'static str,
    /// The first principal (a rotation appends `-2`, `-3`, …).
    pub principal: &'static str,
}

pub const ZK_MASTER: Kind = Kind {
    name: "zk-mesos-master",
    principal: "mesos-master",
};
pub const ZK_AGENT: Kind = Kind {
    name: "zk-mesos-agent",
    principal: "mesos-agent",
};
pub const MESOS_AGENT: Kind = Kind {
    name: "mesos-agent",
    principal: "agent",
};
pub const MESOS_AGENT_HTTP: Kind = Kind {
    name: "mesos-agent-http",
    principal: "agent-http",
};
pub const MESOS_SCALE: Kind = Kind {
    name: "mesos-scale",
    principal: "mesos-scale",
};
pub const MESOS_OPERATOR: Kind = Kind {
    name: "mesos-operator",
    principal: "operator",
};
pub const MESOS_FRAMEWORK: Kind = Kind {
    name: "mesos-framework",
    principal: "framework",
};

/// Every kind; the masters create them all.
pub const ALL: [Kind; 7] = [
    ZK_MASTER,
    ZK_AGENT,
    MESOS_AGENT,
    MESOS_AGENT_HTTP,
    MESOS_SCALE,
    MESOS_OPERATOR,
    MESOS_FRAMEWORK,
];

/// What an agent reads (and all its role may read).
pub const AGENT_READS: [Kind; 3] = [ZK_AGENT, MESOS_AGENT, MESOS_AGENT_HTTP];

impl Kind {
    /// The kind named `name` (`zk-mesos-agent`, …).
    pub fn named(name: &str) -> Option<Kind> {
        ALL.into_iter().find(|k| k.name == name)
    }

    /// The object holding it, beside `shared`.
    pub fn store(&self, shared: &Store) -> Store {
        shared.private_sibling(&format!(".{}", self.name))
    }
}

/// One principal and its secret. The secret is never printed (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub principal: String,
    secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, ..)", self.principal)
    }
}

fn valid_principal(p: &str) -> bool {
    (1..=64).contains(&p.len())
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn valid_secret(s: &str) -> bool {
    // URL-unreserved characters only: the secret goes into `zk://user:secret@…` unescaped.
    (32..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
}

impl Credential {
    pub fn new(principal: &str, secret: &str) -> std::result::Result<Credential, String> {
        if !valid_principal(principal) {
            return Err(format!(
                "principal `{principal}`: expected 1 to 64 of A-Z a-z 0-9 . _ -"
            ));
        }
        if !valid_secret(secret) {
            return Err(format!(
                "the secret of `{principal}`: expected 32 to 256 of A-Z a-z 0-9 . _ ~ - \
                 ({} characters found)",
                secret.len()
            ));
        }
        Ok(Credential {
            principal: principal.to_string(),
            secret: secret.to_string(),
        })
    }

    pub fn generate(principal: &str) -> Credential {
        Credential {
            principal: principal.to_string(),
            secret: random_secret(),
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `<user>:<hash>`: the id of a `digest` ACL entry.
    pub fn zk_digest(&self) -> String {
        format!(
            "{}:{}",
            self.principal,
            zk_digest_hash(&self.principal, &self.secret)
        )
    }

    /// The `digest` scheme's auth bytes for a ZooKeeper client.
    pub fn zk_auth(&self) -> Vec<u8> {
        format!("{}:{}", self.principal, self.secret).into_bytes()
    }

    /// `user:secret@`, the userinfo of a `zk://` URL.
    pub fn userinfo(&self) -> String {
        format!("{}:{}@", self.principal, self.secret)
    }

    /// `Basic base64(principal:secret)`, an HTTP Authorization header's value.
    pub fn basic_auth(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.principal, self.secret))
        )
    }
}

/// An object's credentials: the current one first, then those still accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub current: Credential,
    pub previous: Vec<Credential>,
}

impl Credentials {
    /// Parses `principal secret` lines; an error names `what` and the line.
    pub fn parse(text: &str, what: &str) -> std::result::Result<Credentials, String> {
        let mut all = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (p, s) = line
                .split_once(' ')
                .ok_or_else(|| format!("{what} line {}: expected `principal secret`", n + 1))?;
            let c = Credential::new(p, s).map_err(|e| format!("{what} line {}: {e}", n + 1))?;
            if all.iter().any(|o: &Credential| o.principal == c.principal) {
                return Err(format!(
                    "{what} line {}: principal `{p}` is listed twice",
                    n + 1
                ));
            }
            all.push(c);
        }
        let mut all = all.into_iter();
        let current = all.next().ok_or_else(|| {
            format!("{what}: no credential in it (delete it to have a new one created)")
        })?;
        Ok(Credentials {
            current,
            previous: all.collect(),
        })
    }

    pub fn render(&self) -> String {
        self.all()
            .map(|c| format!("{} {}\n", c.principal, c.secret))
            .collect()
    }

    /// The current credential, then those still accepted.
    pub fn all(&self) -> impl Iterator<Item = &Credential> {
        std::iter::once(&self.current).chain(self.previous.iter())
    }

    /// A new current credential, under the next principal (`agent` → `agent-2` → `agent-3`:
    /// Mesos keeps one secret per principal), every one before it still accepted.
    pub fn rotated(&self, kind: Kind) -> Credentials {
        let generation = self
            .all()
            .filter_map(|c| {
                if c.principal == kind.principal {
                    Some(1)
                } else {
                    c.principal
                        .strip_prefix(kind.principal)?
                        .strip_prefix('-')?
                        .parse::<u32>()
                        .ok()
                }
            })
            .max()
            .unwrap_or(1);
        let mut previous = vec![self.current.clone()];
        previous.extend(self.previous.iter().cloned());
        Credentials {
            current: Credential::generate(&format!("{}-{}", kind.principal, generation + 1)),
            previous,
        }
    }

    /// The current credential alone: the rotation is over.
    pub fn retired(&self) -> Credentials {
        Credentials {
            current: self.current.clone(),
            previous: Vec::new(),
        }
    }

    /// Every secret in it (to keep them out of printed output).
    pub fn secrets(&self) -> Vec<String> {
        self.all().map(|c| c.secret.clone()).collect()
    }
}

/// The masters: reads `kind` beside `shared`, creating it on the cluster's first boot.
pub async fn ensure(shared: &Store, kind: Kind, deadline: Instant) -> Result<Credentials> {
    let what = format!("{} credential", kind.name);
    ensure_object(
        &kind.store(shared),
        deadline,
        &what,
        || {
            Credentials {
                current: Credential::generate(kind.principal),
                previous: Vec::new(),
            }
            .render()
        },
        Credentials::parse,
    )
    .await
}

/// Everyone else: reads `kind`, waiting (until the deadline) while the masters have not
/// created it yet.
pub async fn wait(shared: &Store, kind: Kind, deadline: Instant) -> Result<Credentials> {
    let store = kind.store(shared);
    let url = store.location().to_string();
    let got = retry::until(kind.name, deadline, Duration::from_secs(3), || async {
        match store.read().await {
            Ok(Some(snap)) => match Credentials::parse(&snap.text, &url) {
                Ok(c) => Attempt::Done(c),
                Err(e) => Attempt::Fail(Failure::bad_input(e)),
            },
            Ok(None) => Attempt::Again(Failure::unreachable(format!(
                "{url} does not exist yet (the masters create it on their first boot)"
            ))),
            Err(e) => store_failure(e),
        }
    })
    .await;
    got.map_err(|last| {
        last.map(|f| Failure::new(f.kind, format!("{} (gave up at the deadline)", f.message)))
            .unwrap_or_else(|| {
                Failure::unreachable(format!("{url}: no answer before the deadline"))
            })
    })
}

async fn update(
    shared: &Store,
    kind: Kind,
    change: impl Fn(&Credentials) -> Credentials,
) -> Result<Credentials> {
    update_object(
        &kind.store(shared),
        "the masters create it on their first boot",
        Credentials::parse,
        |c| Ok(change(c)),
        Credentials::render,
    )
    .await
}

/// Starts a rotation: a new current credential; the old ones stay accepted until [`retire`].
pub async fn rotate(shared: &Store, kind: Kind) -> Result<Credentials> {
    update(shared, kind, |c| c.rotated(kind)).await
}

/// Ends a rotation: only the current credential is accepted once the checkers re-render.
pub async fn retire(shared: &Store, kind: Kind) -> Result<Credentials> {
    update(shared, kind, Credentials::retired).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_render_and_errors_name_the_object_and_line() {
        let c = Credentials {
            current: Credential::generate("agent"),
            previous: vec![],
        };
        let url = "s3://b/k.mesos-agent";
        assert_eq!(Credentials::parse(&c.render(), url).unwrap(), c);
        for (text, want) in [
            ("", "no credential"),
            ("agent\n", "line 1: expected `principal secret`"),
            ("agent short\n", "line 1: the secret of `agent`"),
            (
                &format!("a {}\na {}\n", random_secret(), random_secret()),
                "line 2: principal `a` is listed twice",
            ),
            (
                &format!("a:b {}\n", random_secret()),
                "line 1: principal `a:b`",
            ),
        ] {
            let e = Credentials::parse(text, url).unwrap_err();
            assert!(e.contains(url) && e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn rotation_moves_to_the_next_principal_and_keeps_the_old_until_retired() {
        let c = Credentials {
            current: Credential::generate("agent"),
            previous: vec![],
        };
        let r = c.rotated(MESOS_AGENT);
        assert_eq!(r.current.principal, "agent-2");
        assert_eq!(r.previous, vec![c.current.clone()]);
        let r3 = r.rotated(MESOS_AGENT);
        assert_eq!(r3.current.principal, "agent-3");
        assert_eq!(r3.previous.len(), 2);
        let done = r3.retired();
        assert_eq!(
            (done.current.principal.as_str(), done.previous.len()),
            ("agent-3", 0)
        );
        assert_ne!(r3.current.secret(), r.current.secret());
    }

    #[test]
    fn digest_and_headers_are_what_zookeeper_and_http_expect() {
        // DigestAuthenticationProvider.generateDigest("super:secret").
        assert_eq!(
            zk_digest_hash("super", "secret"),
            "lK75jTNcA+U9vtVEw5vB51mj/w4="
        );
        let c = Credential::new("mesos-scale", &"a".repeat(32)).unwrap();
        let want = base64::engine::general_purpose::STANDARD
            .encode(format!("mesos-scale:{}", "a".repeat(32)));
        assert_eq!(c.basic_auth(), format!("Basic {want}"));
        assert!(!format!("{c:?}").contains("aaaa"));
    }

    #[tokio::test]
    async fn concurrent_masters_create_one_credential_then_rotate_and_retire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            crate::store::Location::File {
                path: dir.path().join("exhibitor.properties"),
            },
            None,
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { ensure(&store, MESOS_SCALE, deadline).await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        assert!(got.iter().all(|c| c == &got[0]));
        let rotated = rotate(&store, MESOS_SCALE).await.unwrap();
        assert_eq!(wait(&store, MESOS_SCALE, deadline).await.unwrap(), rotated);
        let retired = retire(&store, MESOS_SCALE).await.unwrap();
        assert_eq!(retired.previous, vec![]);
        assert_eq!(retired.current, rotated.current);
        use std::os::unix::fs::PermissionsExt;
        let file = dir.path().join("exhibitor.properties.mesos-scale");
        assert_eq!(
            std::fs::metadata(file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
