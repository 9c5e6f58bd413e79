//! `serve` against real files in a temp directory.

use std::path::PathBuf;
use std::time::SystemTime;

use super::*;

/// A directory under the temp dir, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "tollgate-edge-static-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(std::fs::canonicalize(dir).unwrap())
    }

    fn file(&self, rel: &str, content: &[u8]) -> &Self {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    fn cfg(&self) -> StaticFiles {
        StaticFiles {
            root: self.0.clone(),
            index: "index.html".into(),
            listing: false,
            precompressed: false,
            follow_symlinks_outside_root: false,
            allow_hidden: false,
            content_types: Vec::new(),
            default_content_type: HeaderValue::from_static("application/octet-stream"),
        }
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn get(
    cfg: &StaticFiles,
    method: Method,
    path: &str,
    fields: &[(&'static str, &str)],
) -> Result<Answer, Refusal> {
    let mut headers = HeaderMap::new();
    for (n, v) in fields {
        headers.append(*n, HeaderValue::from_str(v).unwrap());
    }
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    block_on(async {
        let req = StaticRequest {
            method: &method,
            request_path: path,
            query,
            lookup_path: path,
            headers: &headers,
        };
        let resp = serve(cfg, req).await?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let body = match body {
            StaticBody::Empty => Vec::new(),
            StaticBody::Full(b) => b.to_vec(),
            StaticBody::File(mut f) => {
                let mut out = Vec::new();
                while let Some(chunk) = std::future::poll_fn(|cx| f.poll_chunk(cx)).await {
                    out.extend_from_slice(&chunk.unwrap());
                }
                out
            }
        };
        Ok(Answer {
            status,
            headers: parts.headers,
            body,
        })
    })
}

#[test]
fn files_index_and_redirects() {
    let root = Root::new();
    root.file("index.html", b"<h1>home</h1>")
        .file("docs/index.html", b"docs")
        .file("a.css", b"b{}");
    let cfg = root.cfg();
    let a = get(&cfg, Method::GET, "/", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((a.status, a.body.as_slice()), (200, &b"<h1>home</h1>"[..]));
    assert_eq!(a.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(a.headers["content-length"], "13");
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
    assert_eq!(a.headers["accept-ranges"], "bytes");
    assert!(a.headers["etag"].to_str().unwrap().starts_with("\"d-"));
    assert!(a.headers["last-modified"]
        .to_str()
        .unwrap()
        .ends_with(" GMT"));
    let d = get(&cfg, Method::GET, "/docs?x=1", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(d.status, 301);
    assert_eq!(d.headers["location"], "/docs/?x=1");
    // Without normalization `//docs` would make `//docs/`, a link to host `docs`.
    let d = get(&cfg, Method::GET, "//docs", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(d.headers["location"], "/docs/");
    assert_eq!(
        get(&cfg, Method::GET, "/docs/", &[]).ok().map(|a| a.body),
        Some(b"docs".to_vec())
    );
    let head = get(&cfg, Method::HEAD, "/a.css", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], "3");
    assert!(matches!(
        get(&cfg, Method::POST, "/a.css", &[]),
        Err(Refusal::MethodNotAllowed)
    ));
    assert!(matches!(
        get(&cfg, Method::GET, "/a.css/", &[]),
        Err(Refusal::NotFound)
    ));
    assert!(matches!(
        get(&cfg, Method::GET, "/nope", &[]),
        Err(Refusal::NotFound)
    ));
}

#[test]
fn directories_without_index() {
    let root = Root::new();
    root.file("d/b.txt", b"b")
        .file("d/<a>.txt", b"a")
        .file("d/.secret", b"s");
    std::fs::create_dir_all(root.0.join("d/sub")).unwrap();
    let mut cfg = root.cfg();
    assert!(matches!(
        get(&cfg, Method::GET, "/d/", &[]),
        Err(Refusal::NotFound)
    ));
    cfg.listing = true;
    let a = get(&cfg, Method::GET, "/d/", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    let page = String::from_utf8(a.body).unwrap();
    assert!(page.contains("<a href=\"sub/\">sub/</a>"), "{page}");
    assert!(
        page.contains("<a href=\"%3Ca%3E.txt\">&lt;a&gt;.txt</a>"),
        "{page}"
    );
    assert!(page.contains("b.txt"));
    assert!(!page.contains("secret"));
    assert!(
        page.find("sub/").unwrap() < page.find("b.txt").unwrap(),
        "directories first"
    );
}

#[test]
fn large_files_stream_and_ranges_cut() {
    let root = Root::new();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    root.file("big.bin", &big);
    let cfg = root.cfg();
    let a = get(&cfg, Method::GET, "/big.bin", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(a.body, big);
    assert_eq!(a.headers["content-type"], "application/octet-stream");
    let r = get(
        &cfg,
        Method::GET,
        "/big.bin",
        &[("range", "bytes=100000-299999")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.status, 206);
    assert_eq!(r.headers["content-range"], "bytes 100000-299999/300000");
    assert_eq!(r.body, &big[100_000..]);
    let s = get(&cfg, Method::GET, "/big.bin", &[("range", "bytes=-5")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(s.body, &big[299_995..]);
    assert!(matches!(
        get(&cfg, Method::GET, "/big.bin", &[("range", "bytes=300000-")]),
        Err(Refusal::RangeNotSatisfiable { len: 300_000 })
    ));
    let h = get(&cfg, Method::HEAD, "/big.bin", &[("range", "bytes=0-1")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(h.status, 200, "HEAD ignores Range");
}

#[test]
fn conditionals() {
    let root = Root::new();
    root.file("a.txt", b"hello");
    let cfg = root.cfg();
    let first = get(&cfg, Method::GET, "/a.txt", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let lm = first.headers["last-modified"].to_str().unwrap().to_owned();
    let nm = get(&cfg, Method::GET, "/a.txt", &[("if-none-match", &etag)])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(nm.status, 304);
    assert_eq!(nm.headers["etag"], etag.as_str());
    assert!(nm.body.is_empty() && !nm.headers.contains_key("content-length"));
    let ims = get(&cfg, Method::GET, "/a.txt", &[("if-modified-since", &lm)])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ims.status, 304);
    assert!(matches!(
        get(&cfg, Method::GET, "/a.txt", &[("if-match", "\"other\"")]),
        Err(Refusal::PreconditionFailed)
    ));
    let ir = get(
        &cfg,
        Method::GET,
        "/a.txt",
        &[("range", "bytes=1-2"), ("if-range", &etag)],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((ir.status, ir.body.as_slice()), (206, &b"el"[..]));
    let stale = get(
        &cfg,
        Method::GET,
        "/a.txt",
        &[("range", "bytes=1-2"), ("if-range", "\"old\"")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((stale.status, stale.body.as_slice()), (200, &b"hello"[..]));
}

#[test]
fn precompressed_siblings() {
    let root = Root::new();
    root.file("app.js", b"plain")
        .file("app.js.gz", b"gzipped")
        .file("app.js.br", b"brotli");
    let mut cfg = root.cfg();
    cfg.precompressed = true;
    let br = get(
        &cfg,
        Method::GET,
        "/app.js",
        &[("accept-encoding", "gzip, br")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(br.body, b"brotli");
    assert_eq!(br.headers["content-encoding"], "br");
    assert_eq!(br.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(br.headers["vary"], "accept-encoding");
    assert!(br.headers["etag"].to_str().unwrap().ends_with("-br\""));
    let gz = get(
        &cfg,
        Method::GET,
        "/app.js",
        &[("accept-encoding", "gzip, br;q=0.5")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(gz.body, b"gzipped");
    assert_eq!(gz.headers["content-encoding"], "gzip");
    let plain = get(&cfg, Method::GET, "/app.js", &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(plain.body, b"plain");
    assert!(!plain.headers.contains_key("content-encoding"));
    assert_eq!(plain.headers["vary"], "accept-encoding");
    assert_ne!(plain.headers["etag"], br.headers["etag"]);
    cfg.precompressed = false;
    let off = get(&cfg, Method::GET, "/app.js", &[("accept-encoding", "br")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(off.body, b"plain");
    assert!(!off.headers.contains_key("vary"));
}

#[cfg(unix)]
#[test]
fn symlinks_and_hidden_files() {
    let outside = Root::new();
    outside.file("secret.txt", b"secret");
    let root = Root::new();
    root.file("in.txt", b"inside")
        .file(".env", b"KEY=1")
        .file(".well-known/x", b"wk");
    std::os::unix::fs::symlink(outside.0.join("secret.txt"), root.0.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(root.0.join("in.txt"), root.0.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(root.0.join(".env"), root.0.join("env.txt")).unwrap();
    std::os::unix::fs::symlink(&outside.0, root.0.join("outdir")).unwrap();
    let mut cfg = root.cfg();
    for refused in [
        "/out.txt",
        "/outdir/secret.txt",
        "/.env",
        "/env.txt",
        "/%2eenv",
    ] {
        assert!(
            matches!(get(&cfg, Method::GET, refused, &[]), Err(Refusal::NotFound)),
            "{refused}"
        );
    }
    assert_eq!(
        get(&cfg, Method::GET, "/link.txt", &[])
            .ok()
            .map(|a| a.body),
        Some(b"inside".to_vec())
    );
    assert_eq!(
        get(&cfg, Method::GET, "/.well-known/x", &[])
            .ok()
            .map(|a| a.body),
        Some(b"wk".to_vec())
    );
    cfg.follow_symlinks_outside_root = true;
    assert_eq!(
        get(&cfg, Method::GET, "/out.txt", &[]).ok().map(|a| a.body),
        Some(b"secret".to_vec())
    );
    cfg.allow_hidden = true;
    assert_eq!(
        get(&cfg, Method::GET, "/.env", &[]).ok().map(|a| a.body),
        Some(b"KEY=1".to_vec())
    );
}

#[test]
fn traversal_never_leaves_the_root() {
    let root = Root::new();
    root.file("pub/a.txt", b"a");
    let cfg = StaticFiles {
        root: root.0.join("pub"),
        ..root.cfg()
    };
    root.file("private.txt", b"private");
    for bad in [
        "/../private.txt",
        "/%2e%2e/private.txt",
        "/%2E%2E%2Fprivate.txt",
        "/..%2fprivate.txt",
        "/..%5cprivate.txt",
        "/..\\private.txt",
        "/a.txt%00.png",
        "/./../private.txt",
    ] {
        match get(&cfg, Method::GET, bad, &[]) {
            Err(Refusal::NotFound) => {}
            other => panic!("{bad}: {:?}", other.map(|a| a.status)),
        }
    }
    let abs = format!("/{}", root.0.join("private.txt").display());
    assert!(
        matches!(get(&cfg, Method::GET, &abs, &[]), Err(Refusal::NotFound)),
        "{abs}"
    );
}
