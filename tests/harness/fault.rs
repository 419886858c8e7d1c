//! An HTTP fault proxy in front of moto (or any HTTP/1.1 server on loopback): tests point
//! `AWS_ENDPOINT_URL` at it and switch faults on per request pattern.
//!
//! Every client connection carries one request (the response says `Connection: close`, which
//! the AWS SDK honours), forwarded on a fresh upstream connection unless a [`Fault`] whose
//! pattern occurs in the request head (request line and headers) or body has tries left:
//! then it answers with the fault's status and body (AWS's throttling answers: S3's 503
//! `SlowDown`, EC2's `RequestLimitExceeded`, Auto Scaling's `Throttling`, a bare 429), delays
//! it, drops the connection without an answer, or forwards it and then drops the answer (a
//! write applied whose response is lost). It counts what it saw, so tests can assert
//! that a fault was hit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a fault does to a matching request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer with this status, content type and body.
    Answer(u16, &'static str, String),
    /// Forward, after this delay.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Forward it (the server applies it), then close the connection without passing the
    /// answer on: a write that landed but whose response was lost, which the SDK retries.
    ApplyThenDrop,
}

/// A fault for requests whose head or body contains `pattern` (empty: every request),
/// `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub pattern: String,
    pub action: Action,
    pub times: usize,
}

impl Fault {
    /// S3's throttling answer: 503 SlowDown.
    pub fn s3_slow_down(pattern: &str, times: usize) -> Fault {
        Fault {
            pattern: pattern.into(),
            action: Action::Answer(
                503,
                "application/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                 <Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>"
                    .into(),
            ),
            times,
        }
    }

    /// A 429 with no error document (a proxy's or a gateway's throttling).
    pub fn too_many_requests(pattern: &str, times: usize) -> Fault {
        Fault {
            pattern: pattern.into(),
            action: Action::Answer(429, "text/plain", "Too Many Requests".into()),
            times,
        }
    }

    /// EC2's throttling answer: 503 RequestLimitExceeded.
    pub fn ec2_throttled(pattern: &str, times: usize) -> Fault {
        Fault {
            pattern: pattern.into(),
            action: Action::Answer(
                503,
                "text/xml",
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                 <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
                 </Error></Errors><RequestID>fault</RequestID></Response>"
                    .into(),
            ),
            times,
        }
    }

    /// Auto Scaling's throttling answer: 400 Throttling (a query-protocol error).
    pub fn autoscaling_throttled(pattern: &str, times: usize) -> Fault {
        Fault {
            pattern: pattern.into(),
            action: Action::Answer(
                400,
                "text/xml",
                "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\
                 <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>\
                 </Error><RequestId>fault</RequestId></ErrorResponse>"
                    .into(),
            ),
            times,
        }
    }
}

#[derive(Default)]
struct State {
    faults: Vec<Fault>,
    /// Requests seen, and faults applied.
    seen: u64,
    faulted: u64,
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Option<std::thread::JoinHandle<()>>,
    stop: Arc<tokio::sync::Notify>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream.to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(tokio::sync::Notify::new());
        let (tx, rx) = std::sync::mpsc::channel();
        let (st, stop2) = (state.clone(), stop.clone());
        let task = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    tokio::select! {
                        _ = stop2.notified() => break,
                        got = listener.accept() => {
                            let Ok((conn, _)) = got else { continue };
                            let (st, up) = (st.clone(), upstream.clone());
                            tokio::spawn(async move {
                                let _ = serve(conn, &up, &st).await;
                            });
                        }
                    }
                }
            });
        });
        let addr = rx.recv().expect("proxy address");
        FaultProxy {
            addr,
            state,
            task: Some(task),
            stop,
        }
    }

    /// `http://127.0.0.1:port`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a fault (they apply in the order added).
    pub fn add(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// How many requests got a fault.
    pub fn faulted(&self) -> u64 {
        self.state.lock().unwrap().faulted
    }

    /// How many requests the proxy saw.
    pub fn seen(&self) -> u64 {
        self.state.lock().unwrap().seen
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.task.take() {
            let _ = t.join();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (head and a Content-Length body).
async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..].to_vec();
    Ok(Some((buf[..head_end].to_vec(), body)))
}

/// The request head with `Connection: close` (one request per upstream connection).
fn close_head(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

async fn serve(mut conn: TcpStream, upstream: &str, state: &Mutex<State>) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut conn).await? else {
        return Ok(());
    };
    let action = {
        let mut st = state.lock().unwrap();
        st.seen += 1;
        let text = [head.as_slice(), body.as_slice()].concat();
        let hit = st
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && find(&text, f.pattern.as_bytes()).is_some())
            .map(|f| {
                f.times -= 1;
                f.action.clone()
            });
        if hit.is_some() {
            st.faulted += 1;
        }
        hit
    };
    match action {
        Some(Action::Drop) => return Ok(()),
        Some(Action::Answer(status, ctype, text)) => {
            let reply = format!(
                "HTTP/1.1 {status} Fault\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            conn.write_all(reply.as_bytes()).await?;
            return conn.shutdown().await;
        }
        Some(Action::Delay(d)) => tokio::time::sleep(d).await,
        Some(Action::ApplyThenDrop) => {
            let mut up = TcpStream::connect(upstream).await?;
            up.write_all(&close_head(&head)).await?;
            up.write_all(&body).await?;
            let mut reply = Vec::new();
            up.read_to_end(&mut reply).await?;
            return Ok(());
        }
        None => {}
    }
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(&close_head(&head)).await?;
    up.write_all(&body).await?;
    let mut reply = Vec::new();
    up.read_to_end(&mut reply).await?;
    // Make the client close too: one request per client connection.
    if let Some(end) = find(&reply, b"\r\n\r\n") {
        let head = close_head(&reply[..end + 4]);
        conn.write_all(&head).await?;
        conn.write_all(&reply[end + 4..]).await?;
    } else {
        conn.write_all(&reply).await?;
    }
    conn.shutdown().await
}
