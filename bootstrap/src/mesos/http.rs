//! One `GET` to a Mesos daemon's HTTP endpoint (hyper-util's client, no TLS: Mesos here is
//! built without SSL): the status and the body, bounded by a timeout. The read-only endpoints
//! may want a credential (`Authorization: Basic …`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// `GET http://<addr><path>`: status and body, or why there is none.
pub async fn get(
    addr: &str,
    path: &str,
    authorization: Option<&str>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    use http_body_util::BodyExt;
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = format!("http://{addr}{path}")
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    let mut req = hyper::Request::get(uri).header(hyper::header::ACCEPT, "application/json");
    if let Some(a) = authorization {
        req = req.header(hyper::header::AUTHORIZATION, a);
    }
    let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
    let exchange = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("read: {e}"))?
            .to_bytes();
        Ok((status, body.to_vec()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}
