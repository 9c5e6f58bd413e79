//! Headless Chromium (Debian's `chromium`), for tests that check what a
//! page shows once its scripts ran: `--dump-dom` prints the rendered DOM,
//! `--screenshot` writes a PNG. Each run has its own profile directory and
//! is killed after [`LIMIT`].

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// How to install the browser, printed when it is missing.
pub const CHROMIUM_INSTALL: &str = "apt-get install -y chromium";

/// The longest one browser run may take.
const LIMIT: Duration = Duration::from_secs(40);

/// A headless Chromium found on `PATH`.
#[derive(Debug)]
pub struct Chromium {
    program: String,
}

impl Chromium {
    /// `chromium` or `chromium-browser`; panics with the install line when
    /// neither is there (a test that needs a browser never skips).
    pub fn find() -> Self {
        for program in ["chromium", "chromium-browser"] {
            let found = Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if found {
                return Self {
                    program: program.to_string(),
                };
            }
        }
        panic!("headless Chromium is needed and neither `chromium` nor `chromium-browser` is on PATH: {CHROMIUM_INSTALL}");
    }

    /// The DOM of `url` after its scripts ran for `budget` of virtual time
    /// (network fetches pause that clock, so they finish inside it).
    pub fn dump_dom(&self, url: &str, budget: Duration) -> String {
        let budget = format!("--virtual-time-budget={}", budget.as_millis());
        self.run(&["--dump-dom", &budget, url])
    }

    /// Writes a PNG of `url`, `width` × `height`, after `budget` of
    /// virtual time.
    pub fn screenshot(&self, url: &str, out: &Path, (width, height): (u32, u32), budget: Duration) {
        let shot = format!("--screenshot={}", out.display());
        let size = format!("--window-size={width},{height}");
        let budget = format!("--virtual-time-budget={}", budget.as_millis());
        self.run(&[&shot, &size, "--hide-scrollbars", &budget, url]);
        assert!(
            out.exists(),
            "chromium wrote no screenshot at {}",
            out.display()
        );
    }

    /// Runs the browser with `args` and returns what it printed; panics
    /// past [`LIMIT`] (after killing it) or when it fails.
    fn run(&self, args: &[&str]) -> String {
        let profile = TempDir::tagged("chromium");
        let mut child = Command::new(&self.program)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--mute-audio",
            ])
            // Chromium's own calls home (updates, sync, field trials) fail
            // on a machine without outside network and slow every start.
            .args([
                "--disable-quic",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let mut stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let errors = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stderr.read_to_string(&mut out);
            out
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break status;
            }
            if start.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium {args:?} took over {LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = reader.join().unwrap_or_default();
        let err = errors.join().unwrap_or_default();
        assert!(
            status.success(),
            "chromium {args:?} failed ({status}): {err}"
        );
        out
    }
}
