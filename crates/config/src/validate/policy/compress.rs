//! Validation of the `compress` policy.

use super::super::{p, Ctx};
use crate::raw::*;
use crate::typed::*;
use crate::units::parse_size;

/// `compress:` → [`CompressPolicy`], defaults filled in.
pub(super) fn compress(ctx: &mut Ctx<'_>, raw: &Sp<RawCompress>, path: &str) -> CompressPolicy {
    let r = &raw.value;
    let mut out = CompressPolicy {
        algorithms: vec![Coding::Zstd, Coding::Brotli, Coding::Gzip],
        min_length: 1024,
        types: DEFAULT_TYPES
            .iter()
            .filter_map(|t| TypePattern::parse(t).ok())
            .collect(),
        gzip_level: 6,
        brotli_level: 4,
        zstd_level: 3,
    };
    if let Some(list) = &r.algorithms {
        let at = p(path, "algorithms");
        if list.value.is_empty() {
            let loc = ctx.at(list);
            ctx.err(loc, &at, "list at least one of `zstd`, `br`, `gzip`");
        }
        let mut algorithms = Vec::new();
        for (i, item) in list.value.iter().enumerate() {
            let item_at = format!("{at}[{i}]");
            let coding = ctx.value(item, &item_at, |s| match s {
                "gzip" => Ok(Coding::Gzip),
                "br" => Ok(Coding::Brotli),
                "zstd" => Ok(Coding::Zstd),
                _ => Err(format!(
                    "unknown algorithm `{s}`: expected `zstd`, `br` or `gzip`"
                )),
            });
            if let Some(c) = coding {
                if algorithms.contains(&c) {
                    let loc = ctx.at(item);
                    ctx.err(loc, &item_at, format!("`{}` is listed twice", c.token()));
                } else {
                    algorithms.push(c);
                }
            }
        }
        if !algorithms.is_empty() {
            out.algorithms = algorithms;
        }
    }
    out.min_length = ctx.field(
        &r.min_length,
        &p(path, "min_length"),
        out.min_length,
        parse_size,
    );
    if let Some(list) = &r.types {
        let at = p(path, "types");
        if list.value.is_empty() {
            let loc = ctx.at(list);
            ctx.err(
                loc,
                &at,
                "list at least one media type, or leave `types` out for the defaults",
            );
        }
        let types = ctx.each(list, &at, TypePattern::parse);
        if !types.is_empty() {
            out.types = types;
        }
    }
    if let Some(levels) = &r.levels {
        let l = &levels.value;
        let at = p(path, "levels");
        out.gzip_level = ctx.count(&l.gzip, &p(&at, "gzip"), 6, 1, 9) as u32;
        out.brotli_level = ctx.count(&l.br, &p(&at, "br"), 4, 0, 11) as u32;
        out.zstd_level = ctx.count(&l.zstd, &p(&at, "zstd"), 3, 1, 22) as i32;
    }
    out
}
