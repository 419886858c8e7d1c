//! An internal Network Load Balancer emulator for one TCP listener and its target group
//! (`terraform/modules/load_balancers`: `zookeeper.<cluster>.<fqdn>:2181` → the ZooKeeper
//! group's instances on 2181, health-checked by HTTP on 8080 `/health`, `mesos-boot serve`'s).
//!
//! As an NLB does: each new connection goes to one healthy target (round robin here; AWS
//! hashes the flow) and stays there; a registered target is healthy after
//! [`HEALTHY_THRESHOLD`] consecutive 200s of its health check and unhealthy after as many
//! failures; with no healthy target at all the NLB fails open (every registered target gets
//! traffic); a target that refuses the connection gets the client's connection reset.
//! Registration is what Auto Scaling does for its group's instances: the test registers and
//! deregisters. Traffic goes only between loopback addresses.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Consecutive checks that make a target healthy or unhealthy (AWS's range is 2-10).
pub const HEALTHY_THRESHOLD: u32 = 2;
/// Time between health checks (AWS: 10 or 30 s; shortened, as every timeout in the tests).
pub const CHECK_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    healthy: bool,
    streak: u32,
}

struct Inner {
    targets: Mutex<Vec<Target>>,
    health_port: u16,
    health_path: String,
    stop: AtomicBool,
    next: AtomicUsize,
    connections: AtomicU64,
}

/// A running NLB listener; stops on drop (connections already forwarded go on until closed).
pub struct Nlb {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Nlb {
    /// Listens on `listen`; targets are health-checked at `<target ip>:<health_port><path>`.
    pub fn start(listen: SocketAddr, health_port: u16, health_path: &str) -> Nlb {
        let listener =
            TcpListener::bind(listen).unwrap_or_else(|e| panic!("nlb bind {listen}: {e}"));
        let inner = Arc::new(Inner {
            targets: Mutex::new(Vec::new()),
            health_port,
            health_path: health_path.to_string(),
            stop: AtomicBool::new(false),
            next: AtomicUsize::new(0),
            connections: AtomicU64::new(0),
        });
        let accept = inner.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if accept.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(client) = conn {
                    let inner = accept.clone();
                    std::thread::spawn(move || forward(&inner, client));
                }
            }
        });
        let checks = inner.clone();
        std::thread::spawn(move || {
            while !checks.stop.load(Ordering::Relaxed) {
                let addrs: Vec<SocketAddr> = checks
                    .targets
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|t| t.addr)
                    .collect();
                for addr in addrs {
                    let ok = health(addr, checks.health_port, &checks.health_path);
                    let mut targets = checks.targets.lock().unwrap();
                    if let Some(t) = targets.iter_mut().find(|t| t.addr == addr) {
                        if ok == t.healthy {
                            t.streak = 0;
                        } else {
                            t.streak += 1;
                            if t.streak >= HEALTHY_THRESHOLD {
                                t.healthy = ok;
                                t.streak = 0;
                            }
                        }
                    }
                }
                std::thread::sleep(CHECK_INTERVAL);
            }
        });
        Nlb {
            addr: listen,
            inner,
        }
    }

    /// The listener's address (what the DNS name resolves to).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Registers a target (initially unhealthy, until its checks pass).
    pub fn register(&self, addr: SocketAddr) {
        let mut targets = self.inner.targets.lock().unwrap();
        if !targets.iter().any(|t| t.addr == addr) {
            targets.push(Target {
                addr,
                healthy: false,
                streak: 0,
            });
        }
    }

    /// Deregisters a target: no new connections go to it.
    pub fn deregister(&self, addr: SocketAddr) {
        self.inner
            .targets
            .lock()
            .unwrap()
            .retain(|t| t.addr != addr);
    }

    /// The targets that pass their health checks.
    pub fn healthy(&self) -> Vec<SocketAddr> {
        let targets = self.inner.targets.lock().unwrap();
        targets
            .iter()
            .filter(|t| t.healthy)
            .map(|t| t.addr)
            .collect()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Nlb {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// HTTP GET of the health check: a 200 within 2 s.
fn health(target: SocketAddr, port: u16, path: &str) -> bool {
    let addr = SocketAddr::new(target.ip(), port);
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn forward(inner: &Inner, client: TcpStream) {
    inner.connections.fetch_add(1, Ordering::Relaxed);
    let target = {
        let targets = inner.targets.lock().unwrap();
        let healthy: Vec<SocketAddr> = targets
            .iter()
            .filter(|t| t.healthy)
            .map(|t| t.addr)
            .collect();
        // Fail open: with no healthy target, every registered one gets traffic.
        let pool = if healthy.is_empty() {
            targets.iter().map(|t| t.addr).collect()
        } else {
            healthy
        };
        if pool.is_empty() {
            None
        } else {
            Some(pool[inner.next.fetch_add(1, Ordering::Relaxed) % pool.len()])
        }
    };
    let Some(target) = target else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let (mut c1, mut u1) = (client, upstream);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c1, &mut u1);
        let _ = u1.shutdown(Shutdown::Both);
        let _ = c1.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut u2, &mut c2);
    let _ = c2.shutdown(Shutdown::Both);
    let _ = u2.shutdown(Shutdown::Both);
    let _ = up.join();
}
