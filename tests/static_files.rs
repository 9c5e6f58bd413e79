//! The `static` target over real sockets: index files, validators and
//! conditional requests, ranges, HEAD, content types, precompressed
//! siblings, streaming of large files, HTTP/2, and every traversal attempt
//! refused without leaking what lies outside the root.

use std::io::Write;
use std::net::SocketAddr;

use tollgate_testkit::{
    connect, get, h2_get, parse_response, raw_request, read_all, render, request, HttpResponse,
    TempDir, Tollgate,
};

/// What lies outside the served root; no answer may contain it.
const SECRET: &str = "TOP-SECRET-CONTENT";

/// A site under `<tmp>/site`, with a secret next to it (outside the root).
struct Site {
    dir: TempDir,
}

impl Site {
    fn new() -> Self {
        let dir = TempDir::tagged("static");
        dir.write("secret.txt", SECRET);
        dir.write("site/index.html", "<h1>home</h1>\n");
        dir.write("site/style.css", "body{}\n");
        dir.write("site/data.json", "{\"a\":1}");
        dir.write("site/notes.md", "# notes");
        dir.write("site/README", "plain");
        dir.write("site/docs/index.html", "docs index");
        dir.write("site/docs/page.html", "docs page");
        dir.write("site/empty/.keep", "");
        dir.write("site/.env", format!("KEY={SECRET}"));
        dir.write("site/.git/config", SECRET);
        dir.write("site/.well-known/security.txt", "Contact: sec@example.com");
        dir.write("site/app.js", "console.log('plain')");
        dir.write("site/app.js.br", "BROTLI-BYTES");
        dir.write("site/app.js.gz", "GZIP-BYTES");
        dir.write("site/my file.txt", "spaced");
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        dir.write("site/big.bin", big);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                dir.path().join("secret.txt"),
                dir.path().join("site/escape.txt"),
            )
            .expect("symlink");
            std::os::unix::fs::symlink(dir.path(), dir.path().join("site/up")).expect("symlink");
        }
        Self { dir }
    }

    fn root(&self) -> String {
        self.dir.path().join("site").display().to_string()
    }

    fn big(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("site/big.bin")).expect("big file")
    }
}

fn start(site: &Site, listener_extra: &str) -> Tollgate {
    Tollgate::start_with_defaults(&render(
        r#"
listeners:
  - {name: web, address: 127.0.0.1:0{extra}}
routes:
  - name: site
    static:
      root: "{root}"
      precompressed: true
      content_types: {md: "text/markdown; charset=utf-8"}
  - name: assets
    match: {path: {prefix: /assets}}
    rewrite: {strip_prefix: /assets}
    static: {root: "{root}", listing: true}
"#,
        &[("root", &site.root()), ("extra", &listener_extra)],
    ))
}

/// A GET of `path` with `fields`.
fn get_with(addr: SocketAddr, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
    request(addr, "GET", path, fields, b"")
}

fn raw(tg: &Tollgate, request_line: &str) -> Vec<u8> {
    raw_request(
        tg.addr("web"),
        format!("{request_line}\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn index_files_content_types_and_head() {
    let site = Site::new();
    let tg = start(&site, "");
    let addr = tg.addr("web");
    let home = get(addr, "/");
    assert_eq!(home.status, 200);
    assert_eq!(home.text(), "<h1>home</h1>\n");
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(home.header("accept-ranges"), Some("bytes"));
    assert!(home.header("x-request-id").is_some());
    for (path, ty) in [
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/notes.md", "text/markdown; charset=utf-8"),
        ("/README", "application/octet-stream"),
        ("/my%20file.txt", "text/plain; charset=utf-8"),
    ] {
        let r = get(addr, path);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(ty)),
            "{path}"
        );
    }
    assert_eq!(get(addr, "/docs/").text(), "docs index");
    let dir = get(addr, "/docs?v=1");
    assert_eq!(dir.status, 301);
    assert_eq!(dir.header("location"), Some("/docs/?v=1"));
    assert_eq!(get(addr, "/nope.html").status, 404);
    assert_eq!(get(addr, "/nope.html").json()["error"], "not found");
    assert_eq!(get(addr, "/empty/").status, 404, "no index, no listing");

    // HEAD: the GET's fields, Content-Length included, and no body.
    let head = raw(&tg, "HEAD /style.css HTTP/1.1");
    let text = String::from_utf8_lossy(&head);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("content-length: 7\r\n"), "{text}");
    assert!(
        text.ends_with("\r\n\r\n"),
        "no body after the head: {text:?}"
    );

    let post = request(addr, "POST", "/style.css", &[], b"x");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn etags_and_conditional_requests() {
    let site = Site::new();
    let tg = start(&site, "");
    let addr = tg.addr("web");
    let first = get(addr, "/style.css");
    let etag = first.header("etag").expect("etag").to_owned();
    let modified = first
        .header("last-modified")
        .expect("last-modified")
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let not_modified = get_with(addr, "/style.css", &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    let weak = format!("W/{etag}");
    let r = get_with(addr, "/style.css", &[("If-None-Match", &weak)]);
    assert_eq!(r.status, 304, "If-None-Match compares weakly");
    let r = request(addr, "HEAD", "/style.css", &[("If-None-Match", &etag)], b"");
    assert_eq!(r.status, 304);
    let r = get_with(addr, "/style.css", &[("If-None-Match", "\"other\"")]);
    assert_eq!(r.status, 200);

    let r = get_with(addr, "/style.css", &[("If-Modified-Since", &modified)]);
    assert_eq!(r.status, 304);
    let r = get_with(
        addr,
        "/style.css",
        &[("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    );
    assert_eq!(r.status, 200);
    // If-None-Match takes precedence over If-Modified-Since.
    let r = get_with(
        addr,
        "/style.css",
        &[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &modified),
        ],
    );
    assert_eq!(r.status, 200);

    let r = get_with(addr, "/style.css", &[("If-Match", "\"other\"")]);
    assert_eq!(r.status, 412);
    assert_eq!(r.json()["error"], "precondition failed");
    let r = get_with(addr, "/style.css", &[("If-Match", &etag)]);
    assert_eq!(r.status, 200);
    let r = get_with(
        addr,
        "/style.css",
        &[("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT")],
    );
    assert_eq!(r.status, 412);
}

#[test]
fn ranges() {
    let site = Site::new();
    let tg = start(&site, "");
    let addr = tg.addr("web");
    let big = site.big();
    let part = get_with(addr, "/big.bin", &[("Range", "bytes=1000-1999")]);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some("bytes 1000-1999/1000000")
    );
    assert_eq!(part.header("content-length"), Some("1000"));
    assert_eq!(&part.body[..], &big[1000..2000]);

    let tail = get_with(addr, "/big.bin", &[("Range", "bytes=-10")]);
    assert_eq!(&tail.body[..], &big[999_990..]);
    let open = get_with(addr, "/big.bin", &[("Range", "bytes=999000-")]);
    assert_eq!(&open.body[..], &big[999_000..]);

    let unsatisfiable = get_with(addr, "/big.bin", &[("Range", "bytes=2000000-")]);
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(
        unsatisfiable.header("content-range"),
        Some("bytes */1000000")
    );

    let several = get_with(addr, "/style.css", &[("Range", "bytes=0-1,3-4")]);
    assert_eq!(several.status, 200, "several ranges get the whole file");
    assert_eq!(several.text(), "body{}\n");

    let etag = part.header("etag").expect("etag").to_owned();
    let r = get_with(
        addr,
        "/big.bin",
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    );
    assert_eq!((r.status, r.body.len()), (206, 10));
    let r = get_with(
        addr,
        "/big.bin",
        &[("Range", "bytes=0-9"), ("If-Range", "\"changed\"")],
    );
    assert_eq!(
        (r.status, r.body.len()),
        (200, big.len()),
        "stale If-Range: whole file"
    );
}

#[test]
fn large_files_stream_intact_over_http1_and_http2() {
    let site = Site::new();
    let tg = start(&site, "");
    let big = site.big();
    let r = get(tg.addr("web"), "/big.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("1000000"));
    assert!(r.body[..] == big[..], "HTTP/1.1 body differs");
    let r = h2_get(tg.addr("web"), "/big.bin");
    assert_eq!(r.status, 200);
    assert!(r.body[..] == big[..], "HTTP/2 body differs");
    let r = h2_get(tg.addr("web"), "/style.css");
    assert_eq!(r.text(), "body{}\n");

    // Two requests on one keep-alive connection: the file body ends cleanly.
    let mut s = connect(tg.addr("web"));
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let both = read_all(&mut s);
    let first = parse_response(&both);
    assert!(first.body[..] == big[..]);
    let text = String::from_utf8_lossy(&both[both.len() - 200..]).into_owned();
    assert!(
        text.ends_with("body{}\n"),
        "second answer follows: {text:?}"
    );
}

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let site = Site::new();
    let tg = start(&site, "");
    let addr = tg.addr("web");
    let br = get_with(addr, "/app.js", &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(br.text(), "BROTLI-BYTES");
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(
        br.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    let gz = get_with(addr, "/app.js", &[("Accept-Encoding", "br;q=0.1, gzip")]);
    assert_eq!(gz.text(), "GZIP-BYTES");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let plain = get(addr, "/app.js");
    assert_eq!(plain.text(), "console.log('plain')");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("accept-encoding"));
    let tags = [&br, &gz, &plain].map(|r| r.header("etag").unwrap_or("").to_owned());
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    // A tag of one encoding does not validate another.
    let r = get_with(
        addr,
        "/app.js",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &tags[0])],
    );
    assert_eq!(r.status, 200);
    let r = get_with(
        addr,
        "/app.js",
        &[("Accept-Encoding", "br"), ("If-None-Match", &tags[0])],
    );
    assert_eq!(r.status, 304);
}

#[test]
fn rewrite_strips_the_prefix_and_listing_is_opt_in() {
    let site = Site::new();
    let tg = start(&site, "");
    let addr = tg.addr("web");
    assert_eq!(get(addr, "/assets/style.css").text(), "body{}\n");
    assert_eq!(get(addr, "/assets/docs/page.html").text(), "docs page");
    let redirect = get(addr, "/assets/docs");
    assert_eq!(redirect.header("location"), Some("/assets/docs/"));
    let listing = get(addr, "/assets/empty/");
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        listing.text().contains("Index of /assets/empty/"),
        "{}",
        listing.text()
    );
    assert!(
        !listing.text().contains(".keep"),
        "hidden entries are not listed"
    );
    let root_listing = get(addr, "/assets/").text();
    assert!(root_listing.contains("index.html") || root_listing.contains("home"));
}

/// Each refused request must not reveal anything from outside the root or
/// any hidden file.
fn assert_refused(answer: &[u8], what: &str) {
    let text = String::from_utf8_lossy(answer);
    assert!(!text.contains(SECRET), "{what} leaked: {text}");
    let status = tollgate_testkit::parse_status(answer);
    assert!(matches!(status, 400 | 404), "{what}: {status}\n{text}");
}

fn traversal_attempts(site: &Site) -> Vec<String> {
    let abs = site.dir.path().join("secret.txt").display().to_string();
    vec![
        "/../secret.txt".into(),
        "/../../../../etc/passwd".into(),
        "/%2e%2e/secret.txt".into(),
        "/%2E%2E/secret.txt".into(),
        "/.%2e/secret.txt".into(),
        "/%2f../secret.txt".into(),
        "/%2f..%2fsecret.txt".into(),
        "/docs/..%2f..%2fsecret.txt".into(),
        "/..%5csecret.txt".into(),
        "/..%5c..%5csecret.txt".into(),
        "/..\\secret.txt".into(),
        "/style.css%00.png".into(),
        format!("/{abs}"),
        format!("//{}", abs.trim_start_matches('/')),
        "/escape.txt".into(),
        "/up/secret.txt".into(),
        "/.env".into(),
        "/%2eenv".into(),
        "/.git/config".into(),
        "/docs/../.env".into(),
        "/assets/../secret.txt".into(),
        "/assets/%2e%2e/secret.txt".into(),
    ]
}

#[test]
fn traversal_is_refused_with_and_without_normalization() {
    let site = Site::new();
    for extra in ["", ", normalize_path: false"] {
        let tg = start(&site, extra);
        for path in traversal_attempts(&site) {
            let answer = raw(&tg, &format!("GET {path} HTTP/1.1"));
            assert_refused(&answer, &format!("{path} ({extra:?})"));
        }
        // Absolute-form targets go through the same checks.
        let answer = raw(&tg, "GET http://x/../secret.txt HTTP/1.1");
        assert_refused(&answer, "absolute-form");
        // `.well-known` is served even though hidden files are not.
        let wk = get(tg.addr("web"), "/.well-known/security.txt");
        assert_eq!(wk.text(), "Contact: sec@example.com", "{extra:?}");
    }
}

#[test]
fn static_config_errors() {
    let site = Site::new();
    let yaml = format!(
        "listeners: [{{name: web, address: 127.0.0.1:0}}]\nroutes:\n  - {{name: s, static: {{root: \"{}/nope\"}}}}\n  - {{name: t, static: {{root: \"{}\"}}, respond: {{}}}}\n",
        site.root(),
        site.root()
    );
    let err = tollgate_config::parse_str(&yaml, "t.yaml").expect_err("invalid");
    let text = err.to_string();
    assert!(text.contains("t.yaml:3:"), "{text}");
    assert!(text.contains("routes[0].static.root: cannot use"), "{text}");
    assert!(
        text.contains("routes[1]: a route needs exactly one of"),
        "{text}"
    );
}
