//! Edits of a JSON document addressed by JSON Pointers (RFC 6901), on the
//! order-keeping [`Json`] tree. A pointer arrives as its reference tokens,
//! already unescaped (`~1` → `/`, `~0` → `~`) by the configuration.
//!
//! - `set`: replaces the value at the path, or creates it; missing parent
//!   objects are created on the way. On an array, a token is an existing
//!   index (replaced) or `-` (appended).
//! - `add`: as RFC 6902 `add`: an object member is created or replaced; on
//!   an array, the value is inserted at the index (0 ..= length) or
//!   appended for `-`. The parent must exist.
//! - `remove`: takes the value out; a missing path is left as it is.
//! - `rename`: gives an object member a new name in the same place (a
//!   member already holding the new name is replaced).
//! - `move`: `remove` at `from` then `add` at `to`; nothing happens when
//!   `from` is missing or `to` lies inside `from`.
//!
//! An edit that cannot apply (a parent that is missing or a scalar, an
//! index out of range) leaves the document unchanged and says why.

use std::fmt;

use crate::xml::Json;

/// Why an edit left the document unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The parent of the target is missing.
    NoParent,
    /// The parent is a string, number, boolean or null.
    NotContainer,
    /// An array token that is not an index in range (or `-`).
    BadIndex(String),
    /// The target of a move lies inside what is moved.
    IntoItself,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::NoParent => f.write_str("the parent of the target does not exist"),
            EditError::NotContainer => f.write_str("the parent is not an object or array"),
            EditError::BadIndex(t) => write!(f, "`{t}` is not an index in range"),
            EditError::IntoItself => f.write_str("cannot move a value inside itself"),
        }
    }
}

impl std::error::Error for EditError {}

/// The value at `path`, if any.
pub fn get<'j>(root: &'j Json, path: &[String]) -> Option<&'j Json> {
    path.iter().try_fold(root, |node, token| match node {
        Json::Object(entries) => entries.iter().find(|(k, _)| k == token).map(|(_, v)| v),
        Json::Array(items) => index(token, items.len()).and_then(|i| items.get(i)),
        _ => None,
    })
}

fn get_mut<'j>(root: &'j mut Json, path: &[String]) -> Option<&'j mut Json> {
    path.iter().try_fold(root, |node, token| match node {
        Json::Object(entries) => entries.iter_mut().find(|(k, _)| k == token).map(|(_, v)| v),
        Json::Array(items) => {
            let len = items.len();
            index(token, len).and_then(move |i| items.get_mut(i))
        }
        _ => None,
    })
}

/// An array index token: digits without a leading zero, below `len`... or
/// at most `len` for inserts (the caller checks the bound it needs).
fn index(token: &str, len: usize) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok().filter(|&i| i <= len)
}

/// Sets the value at `path`, creating it and any missing parent objects.
pub fn set(root: &mut Json, path: &[String], value: Json) -> Result<(), EditError> {
    let Some((last, parents)) = path.split_last() else {
        *root = value;
        return Ok(());
    };
    let mut node = root;
    for token in parents {
        node = match node {
            Json::Object(entries) => {
                let at = match entries.iter().position(|(k, _)| k == token) {
                    Some(at) => at,
                    None => {
                        entries.push((token.clone(), Json::Object(Vec::new())));
                        entries.len() - 1
                    }
                };
                &mut entries[at].1
            }
            Json::Array(items) => {
                let len = items.len();
                let i = index(token, len)
                    .filter(|&i| i < len)
                    .ok_or_else(|| EditError::BadIndex(token.clone()))?;
                &mut items[i]
            }
            _ => return Err(EditError::NotContainer),
        };
    }
    match node {
        Json::Object(entries) => {
            match entries.iter_mut().find(|(k, _)| k == last) {
                Some((_, v)) => *v = value,
                None => entries.push((last.clone(), value)),
            }
            Ok(())
        }
        Json::Array(items) if last == "-" => {
            items.push(value);
            Ok(())
        }
        Json::Array(items) => {
            let len = items.len();
            let i = index(last, len)
                .filter(|&i| i < len)
                .ok_or_else(|| EditError::BadIndex(last.clone()))?;
            items[i] = value;
            Ok(())
        }
        _ => Err(EditError::NotContainer),
    }
}

/// Adds `value` at `path` (RFC 6902 `add`); the parent must exist.
pub fn add(root: &mut Json, path: &[String], value: Json) -> Result<(), EditError> {
    let Some((last, parents)) = path.split_last() else {
        *root = value;
        return Ok(());
    };
    match get_mut(root, parents).ok_or(EditError::NoParent)? {
        Json::Object(entries) => {
            match entries.iter_mut().find(|(k, _)| k == last) {
                Some((_, v)) => *v = value,
                None => entries.push((last.clone(), value)),
            }
            Ok(())
        }
        Json::Array(items) => {
            let at = if last == "-" {
                items.len()
            } else {
                index(last, items.len()).ok_or_else(|| EditError::BadIndex(last.clone()))?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(EditError::NotContainer),
    }
}

/// Takes the value at `path` out; `None` when there is none.
pub fn remove(root: &mut Json, path: &[String]) -> Option<Json> {
    let Some((last, parents)) = path.split_last() else {
        return Some(std::mem::replace(root, Json::Null));
    };
    match get_mut(root, parents)? {
        Json::Object(entries) => {
            let at = entries.iter().position(|(k, _)| k == last)?;
            Some(entries.remove(at).1)
        }
        Json::Array(items) => {
            let len = items.len();
            let i = index(last, len).filter(|&i| i < len)?;
            Some(items.remove(i))
        }
        _ => None,
    }
}

/// Renames the object member at `path` to `to`, keeping its place; a
/// missing member is left alone (`Ok(false)`).
pub fn rename(root: &mut Json, path: &[String], to: &str) -> Result<bool, EditError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(EditError::NoParent);
    };
    match get_mut(root, parents) {
        Some(Json::Object(entries)) => {
            let Some(at) = entries.iter().position(|(k, _)| k == last) else {
                return Ok(false);
            };
            if last == to {
                return Ok(true);
            }
            entries.retain(|(k, _)| k != to);
            let at = entries.iter().position(|(k, _)| k == last).unwrap_or(at);
            entries[at].0 = to.to_owned();
            Ok(true)
        }
        Some(_) => Err(EditError::NotContainer),
        None => Ok(false),
    }
}

/// Moves the value at `from` to `to`; a missing `from` is left alone
/// (`Ok(false)`). On failure to add, the value goes back where it was.
pub fn move_value(root: &mut Json, from: &[String], to: &[String]) -> Result<bool, EditError> {
    if to.len() > from.len() && to.starts_with(from) {
        return Err(EditError::IntoItself);
    }
    if from == to {
        return Ok(get(root, from).is_some());
    }
    let Some(value) = remove(root, from) else {
        return Ok(false);
    };
    match add(root, to, value.clone()) {
        Ok(()) => Ok(true),
        Err(e) => {
            // Put it back so a failed move changes nothing.
            let _ = add(root, from, value);
            Err(e)
        }
    }
}
