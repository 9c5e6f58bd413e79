//! Finding the file on disk (blocking: runs on tokio's blocking pool).
//!
//! The path is joined onto the canonical root and, unless symlinks may
//! lead outside it, canonicalized again and checked to still be under the
//! root (and not hidden); the checked real path is what is opened. The
//! opened file is checked to be a regular file, so a FIFO or device that
//! appears in the tree is never read.

use std::ffi::OsString;
use std::fs::File;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_config::Coding;

use super::encoding::extension;
use super::listing;
use super::path::{is_hidden, Relative};

/// What to look for, owned so it can move to the blocking pool.
#[derive(Debug)]
pub(crate) struct Lookup {
    pub(crate) root: PathBuf,
    pub(crate) rel: Relative,
    pub(crate) index: String,
    pub(crate) listing: bool,
    pub(crate) follow_outside: bool,
    pub(crate) allow_hidden: bool,
    /// Precompressed siblings to try, best first.
    pub(crate) encodings: [Option<Coding>; 3],
}

/// What the lookup found.
#[derive(Debug)]
pub(crate) enum Found {
    /// A file, opened.
    File(Opened),
    /// A directory asked for without a trailing `/`.
    Directory,
    /// A directory without index, listed.
    Listing(String),
}

/// An open regular file and what the answer needs to know about it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    /// The name the content type comes from (as requested, not the
    /// symlink target's or the compressed sibling's).
    pub(crate) name: String,
    pub(crate) len: u64,
    pub(crate) modified: SystemTime,
    pub(crate) encoding: Option<Coding>,
}

/// Why nothing is served.
#[derive(Debug)]
pub(crate) enum Miss {
    /// Missing, unreadable, outside the root, hidden or not a regular file.
    NotFound,
    /// Any other I/O failure.
    Io(std::io::Error),
}

fn miss(e: std::io::Error) -> Miss {
    match e.kind() {
        ErrorKind::NotFound
        | ErrorKind::NotADirectory
        | ErrorKind::PermissionDenied
        | ErrorKind::InvalidInput
        | ErrorKind::InvalidFilename => Miss::NotFound,
        _ => Miss::Io(e),
    }
}

/// Finds what `l` names; `request_path` titles a listing.
pub(crate) fn locate(l: &Lookup, request_path: &str) -> Result<Found, Miss> {
    let mut joined = l.root.join(&l.rel.path);
    let meta = std::fs::metadata(&joined).map_err(miss)?;
    let mut real = confine(l, &joined)?;
    let name;
    if meta.is_dir() {
        if !l.rel.trailing_slash {
            return Ok(Found::Directory);
        }
        let index = joined.join(&l.index);
        match std::fs::metadata(&index) {
            Ok(m) if m.is_file() => {
                real = confine(l, &index)?;
                joined = index;
                name = l.index.clone();
            }
            _ if l.listing => {
                return listing::render(&real, request_path, l.allow_hidden)
                    .map(Found::Listing)
                    .map_err(miss);
            }
            _ => return Err(Miss::NotFound),
        }
    } else if l.rel.trailing_slash || !meta.is_file() {
        return Err(Miss::NotFound);
    } else {
        name = l
            .rel
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let mut encoding = None;
    for enc in l.encodings.iter().flatten() {
        // Next to the file as requested (a symlinked `app.js` has its
        // `app.js.gz` beside the link).
        let mut sibling = OsString::from(joined.as_os_str());
        sibling.push(".");
        sibling.push(extension(*enc));
        let sibling = PathBuf::from(sibling);
        if std::fs::metadata(&sibling).is_ok_and(|m| m.is_file()) {
            if let Ok(r) = confine(l, &sibling) {
                real = r;
                encoding = Some(*enc);
                break;
            }
        }
    }
    let file = File::open(&real).map_err(miss)?;
    let m = file.metadata().map_err(miss)?;
    if !m.is_file() {
        return Err(Miss::NotFound);
    }
    Ok(Found::File(Opened {
        file,
        name,
        len: m.len(),
        modified: m.modified().unwrap_or(UNIX_EPOCH),
        encoding,
    }))
}

/// The path to open for `p`: itself when symlinks may lead anywhere, else
/// its real path, which must be under the root and not hidden.
fn confine(l: &Lookup, p: &Path) -> Result<PathBuf, Miss> {
    if l.follow_outside {
        return Ok(p.to_path_buf());
    }
    let real = std::fs::canonicalize(p).map_err(miss)?;
    let inside = real.strip_prefix(&l.root).map_err(|_| Miss::NotFound)?;
    if !l.allow_hidden
        && inside
            .components()
            .any(|c| is_hidden(&c.as_os_str().to_string_lossy()))
    {
        return Err(Miss::NotFound);
    }
    Ok(real)
}
