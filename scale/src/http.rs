//! A small HTTP/1.1 client for the Mesos master (hyper-util's pooled client, rustls for
//! `https://` masters with the system's roots). Redirects are not followed: `/master/redirect`
//! is read as such. Every request has a deadline; errors name the method and URL.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// A request that failed before a response was read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{method} {url}: bad URL: {why}")]
    Url {
        method: &'static str,
        url: String,
        why: String,
    },
    #[error("{method} {url}: {why}")]
    Transport {
        method: &'static str,
        url: String,
        why: String,
    },
    #[error("{method} {url}: no answer within {timeout:?}")]
    Timeout {
        method: &'static str,
        url: String,
        timeout: Duration,
    },
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub location: Option<String>,
    pub body: Bytes,
}

/// The client; cheap to clone.
#[derive(Clone)]
pub struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    /// The `Authorization` every request carries (the master's HTTP authentication).
    authorization: std::sync::Arc<std::sync::RwLock<Option<String>>>,
}

impl Http {
    /// A client whose requests each get `timeout`.
    pub fn new(timeout: Duration) -> Http {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            // No usable system roots: plain http still works, https fails at the handshake.
            Err(_) => {
                let config = rustls::ClientConfig::builder_with_provider(provider.into())
                    .with_safe_default_protocol_versions()
                    .expect("aws-lc-rs supports the default TLS versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Http {
            client,
            timeout,
            authorization: Default::default(),
        }
    }

    /// Sends `value` as `Authorization` on every request from now on.
    pub fn set_authorization(&self, value: Option<String>) {
        *self
            .authorization
            .write()
            .unwrap_or_else(|e| e.into_inner()) = value;
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Response, HttpError> {
        self.send("GET", url, None).await
    }

    /// `POST url` with a JSON body.
    pub async fn post_json(&self, url: &str, body: Vec<u8>) -> Result<Response, HttpError> {
        self.send("POST", url, Some(body)).await
    }

    async fn send(
        &self,
        method: &'static str,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, HttpError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| HttpError::Url {
                method,
                url: url.into(),
                why: e.to_string(),
            })?;
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::ACCEPT, "application/json");
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let auth = self
            .authorization
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(a) = auth {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| HttpError::Url {
                method,
                url: url.into(),
                why: e.to_string(),
            })?;
        let transport = |why: String| HttpError::Transport {
            method,
            url: url.into(),
            why,
        };
        let work = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| transport(error_chain(&e)))?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(format!("reading the body: {}", error_chain(&e))))?
                .to_bytes();
            Ok(Response {
                status,
                location,
                body,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| HttpError::Timeout {
                method,
                url: url.into(),
                timeout: self.timeout,
            })?
    }
}

/// `e: cause: cause`, so that "connection refused" is not hidden behind "client error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
