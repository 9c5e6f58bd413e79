//! Validation of the `static` route target. The root is resolved against
//! the configuration file's directory and must exist as a directory when
//! the configuration is loaded.

use std::path::Path;

use http::HeaderValue;

use super::{header_value, p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_bool;

/// Returns the validated target, `None` when the root is unusable.
pub(super) fn static_files(
    ctx: &mut Ctx<'_>,
    raw: &Sp<RawStatic>,
    path: &str,
) -> Option<Box<StaticFiles>> {
    let r = &raw.value;
    let here = ctx.at(raw);
    let flag =
        |ctx: &mut Ctx<'_>, v: &Text, field: &str| ctx.field(v, &p(path, field), false, parse_bool);
    let listing = flag(ctx, &r.listing, "listing");
    let precompressed = flag(ctx, &r.precompressed, "precompressed");
    let follow = flag(
        ctx,
        &r.follow_symlinks_outside_root,
        "follow_symlinks_outside_root",
    );
    let allow_hidden = flag(ctx, &r.allow_hidden, "allow_hidden");
    let index = ctx.field(&r.index, &p(path, "index"), "index.html".to_string(), |s| {
        if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\', '\0']) {
            return Err(format!(
                "invalid index `{s}`: expected a file name such as `index.html`"
            ));
        }
        Ok(s.to_string())
    });
    let mut content_types = Vec::new();
    if let Some(map) = &r.content_types {
        for (k, v) in &map.value.0 {
            let at = format!("{}.{}", p(path, "content_types"), k.value);
            let ext = ctx.value(k, &at, |s| {
                let ext = s.strip_prefix('.').unwrap_or(s).to_ascii_lowercase();
                let ok = !ext.is_empty()
                    && ext
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_+".contains(&b));
                if ok {
                    Ok(ext)
                } else {
                    Err(format!(
                        "invalid extension `{s}`: expected letters and digits, e.g. `md` or `webmanifest`"
                    ))
                }
            });
            let ty = ctx.value(v, &at, header_value);
            if let (Some(ext), Some(ty)) = (ext, ty) {
                content_types.push((ext, ty));
            }
        }
    }
    let default_content_type = ctx.field(
        &r.default_content_type,
        &p(path, "default_content_type"),
        HeaderValue::from_static("application/octet-stream"),
        header_value,
    );
    let root_path = p(path, "root");
    let written = ctx.required(&r.root, here, &root_path)?;
    let base = ctx.base.to_path_buf();
    let root = ctx.value(written, &root_path, |s| {
        let given = Path::new(s);
        let full = if given.is_relative() {
            base.join(given)
        } else {
            given.to_path_buf()
        };
        let canonical = std::fs::canonicalize(&full)
            .map_err(|e| format!("cannot use `{}` as root: {e}", full.display()))?;
        if !canonical.is_dir() {
            return Err(format!("root `{}` is not a directory", full.display()));
        }
        Ok(canonical)
    })?;
    Some(Box::new(StaticFiles {
        root,
        index,
        listing,
        precompressed,
        follow_symlinks_outside_root: follow,
        allow_hidden,
        content_types,
        default_content_type,
    }))
}
