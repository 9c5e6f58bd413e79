//! Validation of the `validate` policy: the JSON Schema is read (inline,
//! or from a JSON or YAML file with `file:line:col` on a syntax error) and
//! compiled here, once, so a broken schema is a configuration error.

use std::path::Path;

use super::super::{p, Ctx, Loc};
use crate::raw::*;
use crate::typed::*;

/// Default most bytes of a body read for validation.
pub(crate) const DEFAULT_MAX_BODY: u64 = 1 << 20;

/// `validate:` → [`ValidatePolicy`].
pub(super) fn validate(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawValidate>,
    path: &str,
) -> Option<ValidatePolicy> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let given = [
        r.schema.as_ref().map(|_| "schema"),
        r.schema_file.as_ref().map(|_| "schema_file"),
        r.openapi.as_ref().map(|_| "openapi"),
    ];
    let needs = "`validate` needs exactly one of `schema`, `schema_file` or `openapi`";
    let errors = ctx.field(
        &r.errors,
        &p(path, "errors"),
        ErrorFormat::Json,
        |s| match s {
            "json" => Ok(ErrorFormat::Json),
            "problem" => Ok(ErrorFormat::Problem),
            _ => Err(format!(
                "unknown error format `{s}`: expected `json` or `problem`"
            )),
        },
    );
    let max_body = ctx.size(
        &r.max_body,
        &p(path, "max_body"),
        DEFAULT_MAX_BODY,
        1,
        1 << 30,
    );
    let pass_unknown = ctx.field(
        &r.unknown_operation,
        &p(path, "unknown_operation"),
        false,
        |s| match s {
            "reject" => Ok(false),
            "pass" => Ok(true),
            _ => Err(format!("unknown value `{s}`: expected `reject` or `pass`")),
        },
    );
    if let (Some(u), None) = (&r.unknown_operation, &r.openapi) {
        let loc = ctx.at(u);
        ctx.err(loc, &p(path, "unknown_operation"), "only with `openapi`");
    }
    if !ctx.exactly_one(here, path, &given, needs) {
        return None;
    }
    let against = match &r.openapi {
        None => ValidateAgainst::Schema(schema_source(ctx, &r.schema, &r.schema_file, path)?),
        Some(f) => {
            let at = p(path, "openapi");
            let loc = ctx.at(f);
            // The operations' `responses` are needed only when answers are
            // checked against them (no schema of their own).
            let responses = r
                .answers
                .as_ref()
                .is_some_and(|a| a.value.schema.is_none() && a.value.schema_file.is_none());
            let options = super::openapi::ReadOptions {
                pass_unknown,
                responses,
            };
            let api = super::openapi::read(&ctx.base.join(&f.value), &f.value, options);
            match api {
                Ok(api) => ValidateAgainst::OpenApi(Box::new(api)),
                Err(e) => {
                    ctx.err(loc, &at, e);
                    return None;
                }
            }
        }
    };
    let answers = match &r.answers {
        Some(a) => Some(answers(ctx, a, &p(path, "answers"), r.openapi.is_some())?),
        None => None,
    };
    Some(ValidatePolicy {
        against,
        errors,
        max_body,
        answers,
    })
}

/// `validate.answers:` → what answers are checked against: their own
/// schema, or (with `openapi` and no schema) the matched operation's
/// `responses`.
fn answers(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawAnswerCheck>,
    path: &str,
    openapi: bool,
) -> Option<AnswerCheck> {
    let r = &raw.value;
    let here = ctx.at(raw);
    ctx.field(&r.mode, &p(path, "mode"), (), |s| match s {
        "report" => Ok(()),
        _ => Err(format!(
            "unknown mode `{s}`: expected `report` (answers are checked, logged and counted, never blocked)"
        )),
    });
    let given = [
        r.schema.as_ref().map(|_| "schema"),
        r.schema_file.as_ref().map(|_| "schema_file"),
    ];
    if openapi && given.iter().all(Option::is_none) {
        return Some(AnswerCheck::Operation);
    }
    let needs = if openapi {
        "`answers` takes at most one of `schema` or `schema_file` (none: the OpenAPI operation's `responses`)"
    } else {
        "`answers` needs exactly one of `schema` or `schema_file`"
    };
    if !ctx.exactly_one(here, path, &given, needs) {
        return None;
    }
    schema_source(ctx, &r.schema, &r.schema_file, path).map(AnswerCheck::Schema)
}

/// An inline `schema` or a `schema_file`, compiled.
fn schema_source(
    ctx: &mut Ctx<'_>,
    inline: &Option<Sp<serde_json::Value>>,
    file: &Text,
    path: &str,
) -> Option<JsonSchema> {
    if let Some(s) = inline {
        let (loc, at) = (ctx.at(s), p(path, "schema"));
        return compile(ctx, &s.value, "inline".into(), loc, &at);
    }
    let f = file.as_ref()?;
    let at = p(path, "schema_file");
    let loc = ctx.at(f);
    match read_document(&ctx.base.join(&f.value)) {
        Ok(value) => compile(ctx, &value, f.value.clone(), loc, &at),
        Err(e) => {
            ctx.err(loc, &at, e);
            None
        }
    }
}

/// Compiles a schema; no remote or file `$ref` is fetched (the crate is
/// built without those resolvers), so such a reference is an error here.
fn compile(
    ctx: &mut Ctx<'_>,
    value: &serde_json::Value,
    source: String,
    loc: Loc,
    at: &str,
) -> Option<JsonSchema> {
    match compile_schema(value, None, source) {
        Ok(s) => Some(s),
        Err(e) => {
            ctx.err(loc, at, e);
            None
        }
    }
}

/// Compiles `value` (its draft from `$schema`, else `draft`, else 2020-12).
pub(super) fn compile_schema(
    value: &serde_json::Value,
    draft: Option<jsonschema::Draft>,
    source: String,
) -> Result<JsonSchema, String> {
    JsonSchema::compile(value, draft, source).map_err(|e| {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or("").to_string();
        format!("invalid JSON Schema: {first}")
    })
}

/// Reads a JSON (`.json`) or YAML document; errors say `file:line:col`.
pub(super) fn read_document(file: &Path) -> Result<serde_json::Value, String> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let json = file.extension().is_some_and(|e| e == "json");
    parse_document(&text, &shown, json)
}

/// Parses a JSON (`json`) or YAML document; errors say `shown:line:col`.
pub(crate) fn parse_document(
    text: &str,
    shown: &str,
    json: bool,
) -> Result<serde_json::Value, String> {
    if json {
        return serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            // serde_json appends " at line L column C"; the prefix says it.
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            format!("{shown}:{}:{}: {msg}", e.line(), e.column())
        });
    }
    serde_saphyr::from_str::<serde_json::Value>(text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let msg = e.to_string();
        let msg = msg.lines().next().unwrap_or("");
        format!("{shown}:{line}:{col}: {msg}")
    })
}
