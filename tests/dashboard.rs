//! The dashboard in a real browser: the binary runs with two upstream
//! targets and the admin API; load is driven on loopback; headless
//! Chromium renders the admin listener's `/` and the test reads the DOM.
//! `TOLLGATE_UPDATE_SCREENSHOT=1` rewrites docs/dashboard.png.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_testkit::{get, render, request, Chromium, TempDir, TollgateProcess, Upstream};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

const CONFIG: &str = r#"
server: {workers: 1, shutdown_timeout: 2s}
access_log: {output: off}
admin: {address: "127.0.0.1:0"}
listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams:
  - name: app
    targets: [{address: "{a}"}, {address: "{b}"}]
    health:
      active: {type: tcp, interval: 200ms, unhealthy: 2, healthy: 2}
routes:
  - {name: api, match: {path: {prefix: /api/}}, upstream: app}
  - {name: missing, match: {path: {prefix: /gone/}}, respond: {status: 503}}
  - {name: site, upstream: app}
"#;

/// Requests sent to `web` from a thread, pausing `pause` between them,
/// one in ten to a route that answers 503 so the error rate is not zero;
/// until [`Load::stop`], and never past 60 s.
struct Load {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    fn start(web: SocketAddr, pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(60);
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                let path = match n % 10 {
                    0 => "/gone/x",
                    1..=4 => "/api/items",
                    _ => "/",
                };
                let _ = get(web, path);
                n += 1;
                std::thread::sleep(pause);
            }
        });
        Self { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("load thread");
    }
}

/// The text of the element with `id` in `dom`.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in the page"))
        + open.len();
    let end = dom[start..].find('<').expect("element closes") + start;
    &dom[start..end]
}

/// The rendered table row whose `attr` is `value`.
fn row<'a>(dom: &'a str, attr: &str, value: &str) -> &'a str {
    let key = format!("{attr}=\"{value}\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no row {key} in the page"));
    let end = dom[start..].find("</tr>").expect("row closes") + start;
    &dom[start..end]
}

/// Waits (up to 10 s) until `/upstreams` shows `target` unhealthy.
fn wait_unhealthy(admin: SocketAddr, target: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ups = request(admin, "GET", "/upstreams", &[], b"").json();
        let t = ups["upstreams"][0]["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["address"] == target).cloned());
        if t.is_some_and(|t| t["healthy"] == false) {
            return;
        }
        assert!(Instant::now() < deadline, "{target} never turned unhealthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_dashboard_shows_live_rates_and_a_killed_target_in_chromium() {
    let browser = Chromium::find();
    let (a, b) = (Upstream::echo(), Upstream::echo());
    let target_b = b.addr().to_string();
    let dir = TempDir::new();
    let config = dir.write(
        "tollgate.yaml",
        render(CONFIG, &[("a", &a.addr()), ("b", &b.addr())]),
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let (web, admin) = (tg.addr("web"), tg.admin_addr());
    let page = format!("http://{admin}/");
    let budget = Duration::from_secs(3);

    // Paced load across at least two samples of the dashboard's ring, and
    // on while the browser renders, so the last interval has traffic.
    let paced = Load::start(web, Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(4500));
    let first = browser.dump_dom(&page, budget);
    paced.stop();
    let rps1: f64 = text_of(&first, "total-rps").parse().expect("a rate");
    let total1: u64 = text_of(&first, "total-requests").parse().expect("a count");
    assert!(rps1 > 0.0, "no request rate shown under load");
    assert!(total1 > 0);
    let api = row(&first, "data-route", "api");
    assert!(api.contains("class=\"num rps\""), "{api}");
    assert!(
        text_of(&first, "total-errors") != "0.0 %",
        "503s not counted as errors"
    );
    assert!(row(&first, "data-target", &target_b).contains(">healthy<"));

    // Kill one target; load again, unpaced this time.
    drop(b);
    let unpaced = Load::start(web, Duration::ZERO);
    std::thread::sleep(Duration::from_millis(4500));
    wait_unhealthy(admin, &target_b);
    let second = browser.dump_dom(&page, budget);
    unpaced.stop();
    let rps2: f64 = text_of(&second, "total-rps").parse().expect("a rate");
    let total2: u64 = text_of(&second, "total-requests").parse().expect("a count");
    assert!(
        total2 > total1,
        "request count did not move: {total1} then {total2}"
    );
    assert!(
        rps2 != rps1,
        "the rate did not move between two loads: {rps1}"
    );
    let killed = row(&second, "data-target", &target_b);
    assert!(killed.contains(">unhealthy<"), "{killed}");
    assert!(
        killed.contains("active check failed"),
        "no reason shown: {killed}"
    );
    assert!(row(&second, "data-target", &a.addr().to_string()).contains(">healthy<"));

    let shot = if std::env::var_os("TOLLGATE_UPDATE_SCREENSHOT").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dashboard.png")
    } else {
        dir.path().join("dashboard.png")
    };
    // Under load, so the picture shows traffic.
    let load = Load::start(web, Duration::from_millis(5));
    std::thread::sleep(Duration::from_millis(2500));
    browser.screenshot(&page, &shot, (1280, 900), budget);
    load.stop();
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "an empty screenshot"
    );
}

#[test]
fn the_page_is_served_without_the_token_and_its_data_needs_it() {
    let dir = TempDir::new();
    dir.write("admin.token", "dash-s3cret\n");
    let config = dir.write(
        "tollgate.yaml",
        "admin: {address: \"127.0.0.1:0\", token: {file: admin.token}}\nlisteners: [{name: web, address: \"127.0.0.1:0\"}]\nroutes: [{name: r, respond: {status: 204}}]\n",
    );
    let mut tg = TollgateProcess::start(BIN, &config, &[], &["web"]);
    let admin = tg.admin_addr();
    let page = request(admin, "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("<script src=\"/dashboard.js\""));
    assert!(page.header("content-security-policy").is_some());
    let script = request(admin, "GET", "/dashboard.js", &[], b"");
    assert!(script.text().contains("sessionStorage"));
    assert_eq!(
        request(admin, "GET", "/dashboard/data", &[], b"").status,
        401
    );
    let auth = [("authorization", "Bearer dash-s3cret")];
    let data = request(admin, "GET", "/dashboard/data", &auth, b"");
    assert_eq!(data.status, 200);
    assert_eq!(data.json()["interval_seconds"], 2);
}
