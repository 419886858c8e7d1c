//! ZooKeeper TLS (optional: `mesos:zk-tls`): the cluster CA and each member's certificate.
//!
//! - The **cluster CA** is one object beside the shared config (`<shared-config>.zk-tls-ca`:
//!   the same bucket, VPC endpoint and TLS only; a 0600 file beside a file store), created on
//!   the first boot of a ZooKeeper node that wants TLS by a create-only write, so every member
//!   agrees on one CA. It is readable by the ZooKeeper instance role only
//!   (terraform/modules/node), never in user-data, the AMI or a log line. It holds one or two
//!   authorities (key and certificate, JSON): the first issues, every one is trusted: a
//!   rotation in progress ([`rotate`], [`promote`], [`retire`]).
//! - Each **member's certificate** is issued at boot from the issuing authority (its own new
//!   P-256 key; SANs: its address, its hostname and the ZooKeeper endpoint's name), and kept
//!   while it is still the right one (same authority, same names, more than
//!   [`RENEW_BEFORE_DAYS`] left), so a re-run writes nothing new.
//!
//! What ZooKeeper is told is in `zoo.cfg.tera`: quorum TLS (`sslQuorum`, mutual, the cluster CA
//! only) and a secure client port ([`SECURE_CLIENT_PORT`]) whose clients check the server
//! against the cluster CA and authenticate as before (digest).
//!
//! Members are not checked against their address (`ssl.quorum.hostnameVerification=false`):
//! every member holds the CA's key to issue its own certificate, so a certificate for any
//! address is one a member could mint; the CA signature is what keeps everyone else out.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tokio::time::Instant;

use crate::failure::{Failure, Result};
use crate::store::Store;

/// Suffix of the CA's object name after the shared config's.
pub const SUFFIX: &str = ".zk-tls-ca";
/// ZooKeeper's TLS client port (`secureClientPort`); the plain one stays for Mesos.
pub const SECURE_CLIENT_PORT: u16 = 2281;
/// What ZooKeeper's Netty connection factory (TLS needs it) loads beyond the jars Debian's
/// zookeeper.jar names in its manifest: appended to the class path (`MESOS_BOOT_ZK_CLASSPATH`).
pub const NETTY_CLASSPATH: &str = ":/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar";
/// How long a cluster CA is valid.
pub const CA_DAYS: i64 = 3650;
/// How long a member's certificate is valid.
pub const NODE_DAYS: i64 = 730;
/// A member's certificate with less than this left is reissued at boot.
pub const RENEW_BEFORE_DAYS: i64 = 365;

/// Paths on the node (before `--root`).
pub mod paths {
    pub const DIR: &str = "/etc/zookeeper/tls";
    /// The member's key and certificate (ZooKeeper's PEM key store), 0600, zookeeper's.
    pub const NODE_PEM: &str = "/etc/zookeeper/tls/node.pem";
    /// Every trusted CA certificate (ZooKeeper's PEM trust store; clients' `ca`).
    pub const TRUST_PEM: &str = "/etc/zookeeper/tls/ca.pem";
}

/// One authority: its key and self-signed certificate, PEM.
#[derive(Clone, Serialize, Deserialize)]
struct Authority {
    key: String,
    cert: String,
}

/// The cluster CA object: the issuing authority first, then one still trusted (a rotation).
#[derive(Clone, Serialize, Deserialize)]
pub struct ClusterCa {
    authorities: Vec<Authority>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClusterCa({} authorities, ..)", self.authorities.len())
    }
}

/// What `mesos-boot zk-tls list` shows of one authority (never its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityInfo {
    pub subject: String,
    pub not_after: String,
    pub issuing: bool,
}

fn parse_cert(pem_text: &str, what: &str) -> std::result::Result<Vec<u8>, String> {
    let p = pem::parse(pem_text).map_err(|e| format!("{what}: {e}"))?;
    if p.tag() != "CERTIFICATE" {
        return Err(format!("{what}: a `{}` block, not a CERTIFICATE", p.tag()));
    }
    x509_parser::parse_x509_certificate(p.contents())
        .map_err(|e| format!("{what}: not an X.509 certificate ({e})"))?;
    Ok(p.contents().to_vec())
}

impl ClusterCa {
    /// A new CA with one authority.
    pub fn generate() -> std::result::Result<ClusterCa, String> {
        Ok(ClusterCa {
            authorities: vec![new_authority()?],
        })
    }

    /// Checks a stored CA; errors name the object (`what`).
    pub fn parse(text: &str, what: &str) -> std::result::Result<ClusterCa, String> {
        let ca: ClusterCa = serde_json::from_str(text).map_err(|e| {
            format!(
                "{what}: not a ZooKeeper TLS CA ({e}); delete it to have a new one generated \
                 (then re-run mesos-boot on every ZooKeeper node)"
            )
        })?;
        if !(1..=2).contains(&ca.authorities.len()) {
            return Err(format!(
                "{what}: {} authorities (expected 1, or 2 during a rotation)",
                ca.authorities.len()
            ));
        }
        for (i, a) in ca.authorities.iter().enumerate() {
            let which = format!("{what}: authority {}", i + 1);
            KeyPair::from_pem(&a.key).map_err(|e| format!("{which}: its key: {e}"))?;
            parse_cert(&a.cert, &format!("{which}: its certificate"))?;
        }
        Ok(ca)
    }

    pub fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Every trusted CA certificate, PEM: ZooKeeper's trust store and clients' `ca`.
    pub fn trust_bundle(&self) -> String {
        self.authorities.iter().map(|a| a.cert.as_str()).collect()
    }

    /// The authorities, issuing first (never a key).
    pub fn list(&self) -> Vec<AuthorityInfo> {
        self.authorities
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let der = parse_cert(&a.cert, "").unwrap_or_default();
                let (subject, not_after) = x509_parser::parse_x509_certificate(&der)
                    .map(|(_, c)| (c.subject().to_string(), c.validity().not_after.to_string()))
                    .unwrap_or_default();
                AuthorityInfo {
                    subject,
                    not_after,
                    issuing: i == 0,
                }
            })
            .collect()
    }

    /// A rotation's first step: a new authority, trusted but not yet issuing.
    pub fn rotated(&self) -> std::result::Result<ClusterCa, String> {
        if self.authorities.len() > 1 {
            return Err(
                "a rotation is already in progress (two authorities): `promote` or \
                        `retire` first"
                    .into(),
            );
        }
        let mut next = self.clone();
        next.authorities.push(new_authority()?);
        Ok(next)
    }

    /// A rotation's second step: the new authority issues; the old one is still trusted.
    pub fn promoted(&self) -> std::result::Result<ClusterCa, String> {
        if self.authorities.len() != 2 {
            return Err("no rotation in progress: `rotate` first".into());
        }
        let mut next = self.clone();
        next.authorities.swap(0, 1);
        Ok(next)
    }

    /// A rotation's last step: only the issuing authority is trusted.
    pub fn retired(&self) -> std::result::Result<ClusterCa, String> {
        if self.authorities.len() != 2 {
            return Err("no rotation in progress: nothing to retire".into());
        }
        let mut next = self.clone();
        next.authorities.truncate(1);
        Ok(next)
    }

    /// The member certificate for `names` (addresses and DNS names): `existing` (a `node.pem`)
    /// when it is still right, else a new key and certificate. Returns the PEM of both.
    pub fn node_pem(
        &self,
        names: &[String],
        existing: Option<&str>,
    ) -> std::result::Result<String, String> {
        let issuing = &self.authorities[0];
        if let Some(text) = existing {
            if still_right(text, issuing, names, OffsetDateTime::now_utc()) {
                return Ok(text.to_string());
            }
        }
        issue(issuing, names, OffsetDateTime::now_utc())
    }
}

fn new_authority() -> std::result::Result<Authority, String> {
    let key = KeyPair::generate().map_err(|e| format!("generating a CA key: {e}"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let now = OffsetDateTime::now_utc();
    // Distinct names, so a rotation's two authorities never look alike to a verifier.
    dn.push(
        DnType::CommonName,
        format!(
            "mesos-boot ZooKeeper CA {}-{}",
            now.unix_timestamp(),
            &crate::store::typed::random_secret()[..8]
        ),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(CA_DAYS);
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("signing the CA certificate: {e}"))?;
    Ok(Authority {
        key: key.serialize_pem(),
        cert: cert.pem(),
    })
}

fn san(name: &str) -> std::result::Result<SanType, String> {
    match name.parse::<IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => Ok(SanType::DnsName(
            name.to_string()
                .try_into()
                .map_err(|e| format!("`{name}` is not a DNS name: {e}"))?,
        )),
    }
}

fn issue(
    ca: &Authority,
    names: &[String],
    now: OffsetDateTime,
) -> std::result::Result<String, String> {
    let ca_key = KeyPair::from_pem(&ca.key).map_err(|e| format!("the CA's key: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key)
        .map_err(|e| format!("the CA's certificate: {e}"))?;
    let key = KeyPair::generate().map_err(|e| format!("generating a key: {e}"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.distinguished_name = dn;
    params.subject_alt_names = names
        .iter()
        .map(|n| san(n))
        .collect::<std::result::Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(NODE_DAYS);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|e| format!("issuing the member's certificate: {e}"))?;
    Ok(format!("{}{}", key.serialize_pem(), cert.pem()))
}

/// Whether `text` (a `node.pem`) holds a key and the certificate of that key, issued and signed
/// by `ca`, naming exactly `names`, with more than [`RENEW_BEFORE_DAYS`] left at `now`.
fn still_right(text: &str, ca: &Authority, names: &[String], now: OffsetDateTime) -> bool {
    let check = || -> Option<bool> {
        let blocks = pem::parse_many(text).ok()?;
        let key = blocks.iter().find(|b| b.tag() == "PRIVATE KEY")?;
        let cert = blocks.iter().find(|b| b.tag() == "CERTIFICATE")?;
        let key = KeyPair::from_pem(&pem::encode(key)).ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(cert.contents()).ok()?;
        let ca_der = parse_cert(&ca.cert, "").ok()?;
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).ok()?;
        let signed = cert.issuer() == ca_cert.subject()
            && cert.verify_signature(Some(ca_cert.public_key())).is_ok();
        let own_key = cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw();
        let left = cert.validity().not_after.timestamp() - now.unix_timestamp();
        let fresh = left > Duration::days(RENEW_BEFORE_DAYS).whole_seconds();
        let mut have: Vec<String> = cert
            .subject_alternative_name()
            .ok()??
            .value
            .general_names
            .iter()
            .map(|g| match g {
                x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
                x509_parser::extensions::GeneralName::IPAddress(b) => <[u8; 4]>::try_from(*b)
                    .map(IpAddr::from)
                    .or_else(|_| <[u8; 16]>::try_from(*b).map(IpAddr::from))
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        let mut want = names.to_vec();
        have.sort();
        want.sort();
        Some(signed && own_key && fresh && have == want)
    };
    check().unwrap_or(false)
}

/// The names a member's certificate carries: its address, its hostname and the ZooKeeper
/// endpoint's host (the load balancer's name), each once, the address first.
pub fn node_names(ip: &str, hostname: &str, endpoint: Option<&str>) -> Vec<String> {
    let mut names = vec![ip.to_string()];
    let endpoint_host = endpoint.and_then(|e| e.rsplit_once(':').map(|(h, _)| h));
    for n in [Some(hostname), endpoint_host].into_iter().flatten() {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if !n.is_empty() && !names.contains(&n) && san(&n).is_ok() {
            names.push(n);
        }
    }
    names
}

/// Reads the CA beside `shared`, creating it when it does not exist yet (ZooKeeper nodes).
pub async fn ensure(shared: &Store, deadline: Instant) -> Result<ClusterCa> {
    // Made before it is known to be needed (a millisecond): a CA that cannot be made fails the
    // boot here, never leaving an empty object behind.
    let fresh = ClusterCa::generate()
        .map_err(|e| Failure::internal(format!("ZooKeeper TLS CA: {e}")))?
        .render();
    crate::store::typed::ensure_object(
        &shared.private_sibling(SUFFIX),
        deadline,
        "ZooKeeper TLS CA",
        || fresh.clone(),
        ClusterCa::parse,
    )
    .await
}

/// Reads the CA (`mesos-boot zk-tls list|trust`); `None` when not created yet.
pub async fn read(shared: &Store) -> Result<Option<ClusterCa>> {
    let store = shared.private_sibling(SUFFIX);
    let url = store.location().to_string();
    match store.read().await {
        Ok(Some(snap)) => ClusterCa::parse(&snap.text, &url)
            .map(Some)
            .map_err(Failure::bad_input),
        Ok(None) => Ok(None),
        Err(e) => Err(Failure::unreachable(e.to_string())),
    }
}

/// Rewrites the CA with `change` applied (a rotation's step), conditional on the version read.
async fn update(
    shared: &Store,
    change: impl Fn(&ClusterCa) -> std::result::Result<ClusterCa, String>,
) -> Result<ClusterCa> {
    crate::store::typed::update_object(
        &shared.private_sibling(SUFFIX),
        "ZooKeeper nodes with mesos:zk-tls create it on their first boot",
        ClusterCa::parse,
        change,
        ClusterCa::render,
    )
    .await
}

pub async fn rotate(shared: &Store) -> Result<ClusterCa> {
    update(shared, ClusterCa::rotated).await
}

pub async fn promote(shared: &Store) -> Result<ClusterCa> {
    update(shared, ClusterCa::promoted).await
}

pub async fn retire(shared: &Store) -> Result<ClusterCa> {
    update(shared, ClusterCa::retired).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        node_names(
            "10.0.1.5",
            "ip-10-0-1-5.ec2.internal",
            Some("zookeeper.c.example.com:2181"),
        )
    }

    #[test]
    fn names_are_the_address_hostname_and_endpoint_once() {
        assert_eq!(
            names(),
            [
                "10.0.1.5",
                "ip-10-0-1-5.ec2.internal",
                "zookeeper.c.example.com"
            ]
        );
        assert_eq!(node_names("10.0.1.5", "10.0.1.5", None), ["10.0.1.5"]);
    }

    #[test]
    fn a_member_certificate_is_kept_while_right_and_reissued_when_not() {
        let ca = ClusterCa::generate().unwrap();
        let first = ca.node_pem(&names(), None).unwrap();
        assert!(first.contains("BEGIN PRIVATE KEY") && first.contains("BEGIN CERTIFICATE"));
        // A re-run keeps it: same key, same certificate.
        assert_eq!(ca.node_pem(&names(), Some(&first)).unwrap(), first);
        // Another address: a new one.
        let moved = node_names("10.0.1.6", "ip-10-0-1-6.ec2.internal", None);
        assert_ne!(ca.node_pem(&moved, Some(&first)).unwrap(), first);
        // Close to expiry: a new one.
        let later = OffsetDateTime::now_utc() + Duration::days(NODE_DAYS - RENEW_BEFORE_DAYS + 1);
        assert!(!still_right(&first, &ca.authorities[0], &names(), later));
        // Another CA issues: a new one, from it.
        let other = ClusterCa::generate().unwrap();
        let reissued = other.node_pem(&names(), Some(&first)).unwrap();
        assert_ne!(reissued, first);
        assert!(still_right(
            &reissued,
            &other.authorities[0],
            &names(),
            OffsetDateTime::now_utc()
        ));
        // A damaged file: a new one.
        assert_ne!(ca.node_pem(&names(), Some("garbage")).unwrap(), "garbage");
    }

    #[test]
    fn rotation_adds_trust_first_then_issues_from_the_new_then_drops_the_old() {
        let ca = ClusterCa::generate().unwrap();
        let old = ca.authorities[0].cert.clone();
        let r = ca.rotated().unwrap();
        assert_eq!(r.authorities[0].cert, old, "the old one still issues");
        assert_eq!(r.trust_bundle().matches("BEGIN CERTIFICATE").count(), 2);
        assert!(r.rotated().is_err(), "one rotation at a time");
        let p = r.promoted().unwrap();
        assert_ne!(p.authorities[0].cert, old);
        assert!(p.trust_bundle().contains(&old));
        let done = p.retired().unwrap();
        assert!(!done.trust_bundle().contains(&old));
        assert_eq!(done.trust_bundle().matches("BEGIN CERTIFICATE").count(), 1);
        assert!(done.retired().is_err() && done.promoted().is_err());
        let listed = p.list();
        assert!(listed[0].issuing && !listed[1].issuing);
        assert!(listed[0].subject.contains("mesos-boot ZooKeeper CA"));
    }

    /// Eight first boots at once: one CA, created once, private beside the shared config.
    #[tokio::test]
    async fn concurrent_first_boots_agree_on_one_ca() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(
            crate::store::Location::File {
                path: dir.path().join("exhibitor.properties"),
            },
            None,
        );
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        let boots = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { ensure(&store, deadline).await.unwrap().trust_bundle() })
        });
        let got: Vec<String> = futures::future::join_all(boots)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        assert!(got.iter().all(|b| b == &got[0]));
        let meta = std::fs::metadata(dir.path().join("exhibitor.properties.zk-tls-ca")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&store).await.unwrap().unwrap().trust_bundle(), got[0]);
    }

    #[test]
    fn parse_round_trips_and_errors_name_the_object() {
        let ca = ClusterCa::generate().unwrap();
        let back = ClusterCa::parse(&ca.render(), "x").unwrap();
        assert_eq!(back.trust_bundle(), ca.trust_bundle());
        let url = "s3://b/k.zk-tls-ca";
        for (text, want) in [
            ("nonsense", "not a ZooKeeper TLS CA"),
            (r#"{"authorities": []}"#, "0 authorities"),
            (
                r#"{"authorities": [{"key": "x", "cert": "y"}]}"#,
                "authority 1: its key",
            ),
        ] {
            let e = ClusterCa::parse(text, url).unwrap_err();
            assert!(e.contains(url) && e.contains(want), "{text}: {e}");
        }
    }
}
