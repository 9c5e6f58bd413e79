//! Whole-file tests: real YAML text through `parse_str_with_env` (or a file
//! through `load`), one module per part of the file. The helpers here are
//! shared by all of them.

mod admin;
mod api;
mod core;
mod edge;
mod external_auth;
mod gateway;
mod json_doc;
mod l4;
mod log;
mod openapi;
mod policies;
mod probes;
mod ratelimit;
mod tls;
mod trace;
mod transform;
mod upstream;

use std::path::PathBuf;
use std::time::Duration;

pub(super) use crate::*;

/// Parses `text` as `test.yaml`, with no environment variable set.
fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_str_with_env(text, "test.yaml", |_| None)
}

/// The errors of `text`, which must not be valid.
fn errors(text: &str) -> Vec<ConfigError> {
    match parse(text) {
        Ok(_) => panic!("expected errors in:\n{text}"),
        Err(e) => e.0,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// (line, path, message fragment) of each error.
fn summary(errs: &[ConfigError]) -> Vec<(usize, &str, &str)> {
    errs.iter()
        .map(|e| {
            (
                e.location.map_or(0, |l| l.0),
                e.path.as_str(),
                e.message.as_str(),
            )
        })
        .collect()
}

/// Compares `errs`, in order, with (line, path, message fragment) triples.
fn assert_errors(errs: &[ConfigError], want: &[(usize, &str, &str)]) {
    let got = summary(errs);
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0, g.1), (w.0, w.1), "{got:#?}");
        assert!(g.2.contains(w.2), "`{}` should contain `{}`", g.2, w.2);
    }
}

/// [`assert_errors`] on the errors of `text`.
fn expect_errors(text: &str, want: &[(usize, &str, &str)]) {
    assert_errors(&errors(text), want);
}

/// A directory under the temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "tollgate-config-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
mod shape;
