//! A Lambda Runtime API emulator (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`) for running the
//! autoscaler's `bootstrap` as Lambda runs it: `GET /2018-06-01/runtime/invocation/next` hands
//! out the queued events one at a time (with the `Lambda-Runtime-*` headers) and holds the
//! request open while the queue is empty; the function's
//! `POST .../invocation/<id>/response` and `.../error` are recorded.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(String),
    Error(String),
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, String)>,
    outcomes: Vec<(String, Outcome)>,
    next: u64,
}

type Shared = Arc<(Mutex<Inner>, tokio::sync::Notify)>;

/// A running emulator; stops on drop.
pub struct LambdaApi {
    addr: SocketAddr,
    state: Shared,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LambdaApi {
    pub fn start() -> LambdaApi {
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind Lambda API");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("Lambda API address");
        let state: Shared = Arc::new((Mutex::new(Inner::default()), tokio::sync::Notify::new()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("Lambda API runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = rx => {}
                }
            });
        });
        LambdaApi {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one invocation with this JSON event; returns its request id.
    pub fn invoke(&self, event: &str) -> String {
        let (m, notify) = &*self.state;
        let mut s = m.lock().unwrap_or_else(|e| e.into_inner());
        s.next += 1;
        let id = format!("req-{}", s.next);
        s.queue.push_back((id.clone(), event.to_string()));
        notify.notify_waiters();
        id
    }

    /// The outcome of invocation `id`, once the function answered.
    pub fn outcome(&self, id: &str) -> Option<Outcome> {
        let s = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        s.outcomes
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, o)| o.clone())
    }
}

impl Drop for LambdaApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(State(shared): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_string();
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        loop {
            let (m, notify) = &*shared;
            let waiter = notify.notified();
            if let Some((id, event)) = m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .queue
                .pop_front()
            {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64)
                    + 60_000;
                return Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("lambda-runtime-aws-request-id", id)
                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:test-autoscaler",
                    )
                    .header(
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000",
                    )
                    .body(axum::body::Body::from(event))
                    .expect("invocation");
            }
            waiter.await;
        }
    }
    let rest = path.strip_prefix("/2018-06-01/runtime/invocation/");
    if let (true, Some(rest)) = (method == Method::POST, rest) {
        let text = String::from_utf8_lossy(&body).into_owned();
        let (id, outcome) = if let Some(id) = rest.strip_suffix("/response") {
            (id, Outcome::Response(text))
        } else if let Some(id) = rest.strip_suffix("/error") {
            (id, Outcome::Error(text))
        } else {
            return (StatusCode::NOT_FOUND, "unknown path").into_response();
        };
        shared
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .outcomes
            .push((id.to_string(), outcome));
        return (StatusCode::ACCEPTED, "{\"status\":\"OK\"}").into_response();
    }
    (StatusCode::NOT_FOUND, "unknown path").into_response()
}
