//! `log:`: level, format and output of the event log.

use std::path::Path;

use super::Ctx;
use crate::raw::{RawLog, Sp};
use crate::typed::{Log, LogFormat, LogLevel, LogOutput};

/// Validates `log:`; absent means `info`, `text`, `stderr`.
pub(super) fn log(ctx: &mut Ctx<'_>, raw: Option<&Sp<RawLog>>) -> Log {
    let mut log = Log::default();
    let Some(raw) = raw else { return log };
    let r = &raw.value;
    log.level = ctx.field(&r.level, "log.level", log.level, |s| {
        Ok(match s {
            "off" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => {
                return Err(format!(
                    "expected `error`, `warn`, `info`, `debug`, `trace` or `off`, got `{s}`"
                ))
            }
        })
    });
    log.format = ctx.field(&r.format, "log.format", log.format, |s| match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("expected `text` or `json`, got `{s}`")),
    });
    let base = ctx.base.to_path_buf();
    log.output = ctx.field(&r.output, "log.output", log.output, |s| match s {
        "stderr" => Ok(LogOutput::Stderr),
        "" => Err("must not be empty: `stderr` or a file path".into()),
        // Standard output carries the access log by default; mixing the
        // two would make both harder to read by programs.
        "stdout" => {
            Err("expected `stderr` or a file path; standard output is for the access log".into())
        }
        path => {
            let given = Path::new(path);
            Ok(LogOutput::File(if given.is_relative() {
                base.join(given)
            } else {
                given.to_path_buf()
            }))
        }
    });
    log
}
