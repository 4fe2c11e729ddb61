//! A minimal HTTP/1.1 client over hyper, with the registry's authorization header.

use anyhow::{bail, Context};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub base: String,
    pub authorization: Option<String>,
    pub pid: u32,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
}

pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Target {
    pub fn new(
        name: &'static str,
        base: String,
        authorization: Option<String>,
        pid: u32,
    ) -> Target {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build(connector);
        Target {
            name,
            base,
            authorization,
            pid,
            client,
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{}", self.base, path_or_url)
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder().method(method).uri(self.url(path));
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a);
        }
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let response = self
            .client
            .request(req.body(body)?)
            .await
            .context("request failed")?;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            location,
            headers,
            body,
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        self.send(method, path, headers, Full::new(body).boxed())
            .await
    }

    /// Sends `chunks` as one streamed body.
    pub async fn stream(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        chunks: Vec<Bytes>,
    ) -> anyhow::Result<Answer> {
        let stream = futures_util::stream::iter(chunks).map(|c| Ok(Frame::data(c)));
        self.send(
            method,
            path,
            headers,
            BodyExt::boxed(StreamBody::new(stream)),
        )
        .await
    }

    /// GETs a path and returns the status, the bytes received and their sha256 digest.
    pub async fn download(&self, path: &str) -> anyhow::Result<(StatusCode, u64, String)> {
        use sha2::Digest;
        let mut req = Request::builder().method(Method::GET).uri(self.url(path));
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a);
        }
        let response = self
            .client
            .request(req.body(Full::new(Bytes::new()).boxed())?)
            .await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut n = 0u64;
        let mut hasher = sha2::Sha256::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                n += data.len() as u64;
                hasher.update(&data);
            }
        }
        Ok((
            status,
            n,
            format!("sha256:{}", hex::encode(hasher.finalize())),
        ))
    }

    /// Starts an upload and returns its Location.
    pub async fn start_upload(&self, repo: &str) -> anyhow::Result<String> {
        let a = self
            .call(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/"),
                &[],
                Bytes::new(),
            )
            .await?;
        if a.status != StatusCode::ACCEPTED {
            bail!("{}: POST upload answered {}", self.name, a.status);
        }
        a.location.context("no Location")
    }

    /// The URL to finish an upload at `location` with `digest`.
    pub fn with_digest(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }
}
