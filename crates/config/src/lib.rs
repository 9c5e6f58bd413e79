//! tollgate's configuration in stages: `${ENV}` expansion of the text
//! (`env`), the YAML file as written (`raw`, strict serde structs with
//! spans, read through `lenient` so that every unknown field is reported,
//! not just the first), validation into typed values (`validate` → `typed`, using the
//! unit parsers in `units`), and errors that name file, line, column and
//! field path (`error`). Start-up, `validate` and reload all go through
//! [`load`]. The file format is documented in `docs/configuration.md`.

mod env;
mod error;
mod lenient;
mod raw;
mod shape;
pub mod typed;
mod units;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use typed::*;
pub use validate::policy::openapi::openapi_from_str;

use std::path::Path;

/// Reads, expands `${ENV}`, parses and validates a configuration file.
/// Relative paths in it (static roots) are resolved against the file's
/// directory.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::single(ConfigError::new(
            path.display().to_string(),
            None,
            "",
            format!("cannot read file: {e}"),
        ))
    })?;
    // Files the configuration names (certificates, keys) are relative to
    // the directory it is in, not to wherever tollgate was started.
    let base = path.parent().filter(|p| !p.as_os_str().is_empty());
    parse_text(
        &text,
        &path.display().to_string(),
        base.unwrap_or(Path::new(".")),
        |name| std::env::var(name).ok(),
    )
}

/// Parses and validates `text` as if it were the file at `path` (named
/// in errors, relative paths taken from its directory), with `${NAME}`
/// from the process environment: for a new configuration handed over by
/// the admin API before it is written anywhere.
pub fn load_text(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let base = path.parent().filter(|p| !p.as_os_str().is_empty());
    parse_text(
        text,
        &path.display().to_string(),
        base.unwrap_or(Path::new(".")),
        |name| std::env::var(name).ok(),
    )
}

/// Parses and validates configuration text; `file` names it in errors.
/// `${NAME}` is taken from the process environment.
pub fn parse_str(text: &str, file: &str) -> Result<Config, ConfigErrors> {
    parse_str_with_env(text, file, |name| std::env::var(name).ok())
}

/// Like [`parse_str`], with `${NAME}` looked up through `env` instead of the
/// process environment (for tests and tools).
pub fn parse_str_with_env(
    text: &str,
    file: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    parse_text(text, file, Path::new("."), env)
}

/// The contents of a `${file:PATH}` secret (relative to `base`), without
/// the line break a file usually ends with.
fn read_secret(base: &Path, path: &str) -> Result<String, String> {
    let full = base.join(path);
    let mut text = std::fs::read_to_string(&full)
        .map_err(|e| format!("cannot read secret file `{}`: {e}", full.display()))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// Parses and validates `text`; relative file paths in it are taken
/// relative to `base`.
fn parse_text(
    text: &str,
    file: &str,
    base: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let expanded = env::expand_env(text, env, |p| read_secret(base, p)).map_err(|errors| {
        ConfigErrors(
            errors
                .into_iter()
                .map(|(loc, message)| ConfigError::new(file, Some(loc), "", message))
                .collect(),
        )
    })?;
    on_large_stack(file, || parse_expanded(&expanded, file, base))
}

/// Stack of the thread that parses and validates: serde's derived
/// visitors and the validators take a frame per level of the document, and
/// unoptimized a policy's frame is tens of kilobytes (`RawPolicy` holds
/// every policy kind inline), so a 2 MiB thread (a test's, the admin
/// API's) overflowed on `auth: {any: [...]}`. Only touched pages are used.
const PARSE_STACK: usize = 64 << 20;

/// Runs `parse` on a thread with [`PARSE_STACK`] and waits for it.
fn on_large_stack(
    file: &str,
    parse: impl FnOnce() -> Result<Config, ConfigErrors> + Send,
) -> Result<Config, ConfigErrors> {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("tollgate-config".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, parse);
        match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(e) => Err(ConfigErrors::single(ConfigError::new(
                file,
                None,
                "",
                format!("cannot start a thread to read the configuration: {e}"),
            ))),
        }
    })
}

/// Parses and validates text whose `${...}` are already expanded.
fn parse_expanded(
    expanded: &env::Expanded,
    file: &str,
    base: &Path,
) -> Result<Config, ConfigErrors> {
    let mut ctx = validate::Ctx::new(file, expanded, base);
    let read = parse_yaml(&expanded.text).map_err(|(line, column, message)| {
        ConfigErrors::single(ConfigError::new(file, ctx.map(line, column), "", message))
    })?;
    let mut errors = Vec::new();
    for u in &read.unknown {
        errors.push(ConfigError::new(
            file,
            ctx.map(u.at.0, u.at.1),
            u.path.clone(),
            u.message(),
        ));
    }
    for f in &read.failures {
        errors.push(ConfigError::new(
            file,
            ctx.map(f.at.0, f.at.1),
            f.path.clone(),
            shape::explain(&f.path, &f.message).unwrap_or_else(|| f.message.clone()),
        ));
    }
    // Validation runs unless the file could not be read at all; unknown
    // fields do not prevent it (they are left out of `raw`).
    if let Some(raw) = &read.value {
        let config = validate::validate(&mut ctx, raw);
        // A misspelt field is also a missing one: say it once.
        let implied: Vec<(String, String)> = read
            .unknown
            .iter()
            .filter_map(|u| Some((u.suggested_path()?, u.suggestion()?.to_string())))
            .collect();
        errors.extend(ctx.errors.into_iter().filter(|e| {
            !implied.iter().any(|(path, field)| {
                e.path == *path
                    && e.message
                        .starts_with(&format!("missing required field `{field}`"))
            })
        }));
        if errors.is_empty() {
            return Ok(config);
        }
    }
    errors.sort_by_key(|e| e.location.unwrap_or((0, 0)));
    Err(ConfigErrors(errors))
}

/// YAML text → raw structs, with every unknown field and every other serde
/// error (each with line 0 when serde-saphyr does not know the place); an
/// empty file is an error of its own.
fn parse_yaml(text: &str) -> Result<lenient::Outcome<raw::RawConfig>, (u64, u64, String)> {
    use serde::Deserialize;
    use serde_saphyr::MessageFormatter;

    if text.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l == "---"
    }) {
        return Err((
            0,
            0,
            "the file is empty: define at least `listeners` and `routes`".into(),
        ));
    }
    Ok(lenient::read(
        |rec| {
            let options = serde_saphyr::options! { with_snippet: false };
            serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
                raw::RawConfig::deserialize(lenient::Lenient::new(de, rec))
            })
        },
        |e| {
            let e = e.without_snippet();
            let at = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let mut message = serde_saphyr::DefaultMessageFormatter
                .format_message(e)
                .into_owned();
            // Drop advice aimed at developers using serde-saphyr.
            if let Some(i) = message.find(", set DuplicateKeyPolicy") {
                message.truncate(i);
            }
            (at, message)
        },
    ))
}

#[cfg(test)]
mod tests;
