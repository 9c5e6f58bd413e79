//! Content types by file extension: the configured mappings first, then a
//! built-in table of common types (text types with `charset=utf-8`), then
//! the configured default.

use http::HeaderValue;
use tollgate_config::StaticFiles;

/// Built-in extension → type table, extensions lowercase, sorted for
/// binary search.
const TYPES: &[(&str, &str)] = &[
    ("7z", "application/x-7z-compressed"),
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("atom", "application/atom+xml"),
    ("avif", "image/avif"),
    ("bin", "application/octet-stream"),
    ("bmp", "image/bmp"),
    ("bz2", "application/x-bzip2"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("eot", "application/vnd.ms-fontobject"),
    ("epub", "application/epub+zip"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("gz", "application/gzip"),
    ("htm", "text/html; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("ico", "image/x-icon"),
    ("ics", "text/calendar; charset=utf-8"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("jsonld", "application/ld+json"),
    ("m4a", "audio/mp4"),
    ("map", "application/json"),
    ("md", "text/markdown; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpeg", "video/mpeg"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("rss", "application/rss+xml"),
    ("rtf", "application/rtf"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("toml", "application/toml"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("weba", "audio/webm"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("xml", "application/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// The Content-Type of a file called `name`.
pub(crate) fn content_type(cfg: &StaticFiles, name: &str) -> HeaderValue {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return cfg.default_content_type.clone();
    };
    // Extensions are short: compare in place, allocate nothing.
    let configured = cfg
        .content_types
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext));
    if let Some((_, ty)) = configured {
        return ty.clone();
    }
    let mut lower = [0u8; 16];
    let Some(slot) = lower.get_mut(..ext.len()) else {
        return cfg.default_content_type.clone();
    };
    slot.copy_from_slice(ext.as_bytes());
    slot.make_ascii_lowercase();
    match TYPES.binary_search_by(|(e, _)| e.as_bytes().cmp(slot)) {
        Ok(i) => HeaderValue::from_static(TYPES[i].1),
        Err(_) => cfg.default_content_type.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> StaticFiles {
        StaticFiles {
            root: "/".into(),
            index: "index.html".into(),
            listing: false,
            precompressed: false,
            follow_symlinks_outside_root: false,
            allow_hidden: false,
            content_types: vec![
                ("md".into(), HeaderValue::from_static("text/x-markdown")),
                ("log".into(), HeaderValue::from_static("text/plain")),
            ],
            default_content_type: HeaderValue::from_static("application/octet-stream"),
        }
    }

    #[test]
    fn table_is_sorted_and_valid() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, t) in TYPES {
            assert!(HeaderValue::from_str(t).is_ok());
        }
    }

    #[test]
    fn lookups() {
        let c = cfg();
        assert_eq!(content_type(&c, "index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type(&c, "A.PNG"), "image/png");
        assert_eq!(
            content_type(&c, "app.min.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type(&c, "notes.md"), "text/x-markdown");
        assert_eq!(content_type(&c, "x.LOG"), "text/plain");
        assert_eq!(content_type(&c, "README"), "application/octet-stream");
        assert_eq!(content_type(&c, "x.unknown"), "application/octet-stream");
        assert_eq!(
            content_type(&c, "x.averyveryverylongextension"),
            "application/octet-stream"
        );
    }
}
