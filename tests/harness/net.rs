//! Loopback address and port allocation.
//!
//! Every node of a test gets its own 127.0.0.x address so ZooKeeper's fixed
//! ports (2181 client, 2888 quorum, 3888 election) never clash between nodes
//! or tests. Addresses are handed out once per process (an atomic counter
//! starting at 127.0.0.11, or at `MESOS_BOOT_TEST_NET` such as `127.0.100.11`
//! so that two test processes use disjoint ranges); an address where
//! something already listens on one of those ports (another test process, a
//! leftover JVM) is skipped.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

/// The ZooKeeper ports probed before an address is handed out.
pub const ZK_PORTS: [u16; 3] = [2181, 2888, 3888];

/// First address handed out: 127.0.0.11.
const FIRST: u32 = u32::from_be_bytes([127, 0, 0, 11]);

/// Environment variable naming the first address instead of [`FIRST`].
pub const BASE_ENV: &str = "MESOS_BOOT_TEST_NET";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn next() -> u32 {
    if NEXT.load(Ordering::Relaxed) == 0 {
        let first = std::env::var(BASE_ENV)
            .ok()
            .and_then(|v| v.parse::<Ipv4Addr>().ok())
            .filter(|ip| ip.octets()[0] == 127)
            .map(u32::from)
            .unwrap_or(FIRST);
        let _ = NEXT.compare_exchange(0, first, Ordering::Relaxed, Ordering::Relaxed);
    }
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Whether nothing listens on `ip` at any of [`ZK_PORTS`].
pub fn zk_ports_free(ip: Ipv4Addr) -> bool {
    ZK_PORTS
        .iter()
        .all(|port| TcpListener::bind((ip, *port)).is_ok())
}

/// `n` loopback addresses unique within this process, each with the
/// ZooKeeper ports free at the time of the call.
pub fn alloc_ips(n: usize) -> Vec<Ipv4Addr> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let raw = next();
        assert!(
            raw >> 24 == 127,
            "ran out of loopback addresses in 127.0.0.0/8"
        );
        let ip = Ipv4Addr::from(raw);
        let last = ip.octets()[3];
        if last == 0 || last == 255 {
            continue;
        }
        if zk_ports_free(ip) {
            out.push(ip);
        }
    }
    out
}

/// One address, see [`alloc_ips`].
pub fn alloc_ip() -> Ipv4Addr {
    alloc_ips(1)[0]
}

/// A TCP port free on `ip` right now (bound then released: another process
/// could take it before use, which is unlikely on loopback aliases).
pub fn free_port(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on {ip}: {e}"))
}
