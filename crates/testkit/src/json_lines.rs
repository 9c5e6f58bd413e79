//! Reading JSON-lines files a running tollgate writes (the access log, the
//! event log in JSON), which fill in asynchronously.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every line of `path` parsed as JSON (none when the file is missing);
/// panics on a line that is not JSON, naming it.
pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The lines of `path` once at least `want` are there, or what is there
/// after `wait` (the caller asserts on the count).
pub fn wait_json_lines(path: &Path, want: usize, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let lines = json_lines(path);
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
