//! Small hyper-based clients (HTTP/1.1, and HTTP/2 with prior knowledge),
//! one new connection per request, and the response types tests look at.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::{runtime, CLIENT_TIMEOUT};

/// A whole response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Protocol version it came in.
    pub version: Version,
    /// Header fields.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    /// The body of an echo upstream, parsed; panics when it is not one.
    pub fn echo(&self) -> Echo {
        Echo::from_json(&self.json())
    }
}

/// What an echo upstream reported about the request it received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Protocol version (`HTTP/1.1`, `HTTP/2.0`).
    pub version: String,
    /// Header fields by lowercase name, values in order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// Body length in bytes.
    pub body_len: u64,
    /// Body as lossy UTF-8.
    pub body: String,
}

impl Echo {
    /// Parses the JSON an echo upstream answers with.
    pub fn from_json(v: &serde_json::Value) -> Self {
        let s = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("echo field {k} missing in {v}"))
                .to_owned()
        };
        let headers = v["headers"]
            .as_object()
            .unwrap_or_else(|| panic!("echo headers missing in {v}"))
            .iter()
            .map(|(k, vals)| {
                let vals = vals
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| x.as_str().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                (k.clone(), vals)
            })
            .collect();
        Self {
            method: s("method"),
            path: s("path"),
            version: s("version"),
            headers,
            body_len: v["body_len"].as_u64().expect("echo body_len"),
            body: s("body"),
        }
    }

    /// The first value of header `name` (any case) as received upstream.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of header `name` (any case) as received upstream.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether header `name` (any case) reached the upstream.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.contains_key(&name.to_ascii_lowercase())
    }
}

/// `GET path` over HTTP/1.1 with `Host: <addr>`.
pub fn get(addr: SocketAddr, path: &str) -> HttpResponse {
    request(addr, "GET", path, &[], b"")
}

/// One HTTP/1.1 request on a new connection. `Host: <addr>` is added
/// unless `headers` has a Host; a non-empty body is sent with
/// Content-Length.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(path)
        .version(Version::HTTP_11);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        builder = builder.header("host", addr.to_string());
    }
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let req = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request");
    block_on(async move {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(conn);
        let resp = sender.send_request(req).await.expect("HTTP/1.1 request");
        collect(resp).await
    })
}

/// `GET path` over HTTP/2 with prior knowledge, authority `<addr>`.
pub fn h2_get(addr: SocketAddr, path: &str) -> HttpResponse {
    h2_request(addr, "GET", path, &[], b"")
}

/// One HTTP/2 (prior knowledge) request on a new connection. A `host` in
/// `headers` becomes the `:authority` (default `<addr>`).
pub fn h2_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let authority = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map_or_else(|| addr.to_string(), |(_, v)| (*v).to_owned());
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(format!("http://{authority}{path}"))
        .version(Version::HTTP_2);
    for (n, v) in headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(*n, *v);
    }
    let req = builder
        .body(Full::new(Bytes::copy_from_slice(body)))
        .expect("request");
    block_on(async move {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(conn);
        let resp = sender.send_request(req).await.expect("HTTP/2 request");
        collect(resp).await
    })
}

pub(crate) async fn collect(resp: http::Response<hyper::body::Incoming>) -> HttpResponse {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    HttpResponse {
        status: parts.status.as_u16(),
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

/// Runs `fut` on the kit's runtime, failing the test after [`CLIENT_TIMEOUT`].
fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    runtime().block_on(async {
        tokio::time::timeout(CLIENT_TIMEOUT, fut)
            .await
            .unwrap_or_else(|_| panic!("client request took longer than {CLIENT_TIMEOUT:?}"))
    })
}
