//! `${NAME}` expansion in the configuration text, before YAML parsing, and
//! `${file:PATH}`: the contents of a file (a mounted secret), without its
//! final line break.
//!
//! `$${` stands for a literal `${`. A `$` not followed by `{` is kept as is.
//! Expansion shifts columns (and lines, when a value holds a newline), so
//! [`Expanded::original`] maps a position in the expanded text back to the
//! file as written; every location reported to the user goes through it.

/// One problem found while expanding: 1-based (line, column) and message.
pub(crate) type EnvError = ((usize, usize), String);

/// Expanded text plus what is needed to map positions back to the original.
#[derive(Debug)]
pub(crate) struct Expanded {
    /// The text with every `${NAME}` replaced.
    pub(crate) text: String,
    /// Sorted by output position; empty when nothing was replaced.
    anchors: Vec<Anchor>,
}

/// Start of a run of output that maps to one place of the input.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// Output (line, column), 1-based, in characters.
    out: (usize, usize),
    /// Input (line, column) of the first character of the run.
    orig: (usize, usize),
    /// Copied text (columns advance together) or a substituted value
    /// (every position maps to the `$` of `${NAME}`).
    literal: bool,
}

impl Expanded {
    /// Maps a 1-based (line, column) of the expanded text to the original text.
    pub(crate) fn original(&self, pos: (usize, usize)) -> (usize, usize) {
        let i = self.anchors.partition_point(|a| a.out <= pos);
        if i == 0 {
            return pos;
        }
        let a = self.anchors[i - 1];
        if a.literal && a.out.0 == pos.0 {
            (a.orig.0, a.orig.1 + (pos.1 - a.out.1))
        } else if a.literal {
            // Cannot happen: every copied line starts a new anchor.
            pos
        } else {
            a.orig
        }
    }
}

/// Position tracker counting lines and characters.
#[derive(Clone, Copy)]
struct Pos {
    line: usize,
    col: usize,
}

impl Pos {
    fn advance(&mut self, c: char) {
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
    }

    fn get(self) -> (usize, usize) {
        (self.line, self.col)
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Copies one character of the text as written, starting a new literal
/// anchor run when one is due (after a substitution, an escape, a line end).
fn copy_literal(
    c: char,
    out: &mut String,
    anchors: &mut Vec<Anchor>,
    inp: &mut Pos,
    outp: &mut Pos,
    need_anchor: &mut bool,
) {
    if *need_anchor {
        anchors.push(Anchor {
            out: outp.get(),
            orig: inp.get(),
            literal: true,
        });
        *need_anchor = false;
    }
    out.push(c);
    inp.advance(c);
    outp.advance(c);
    if c == '\n' {
        *need_anchor = true;
    }
}

/// Replaces every `${NAME}` in `text` with `lookup(NAME)` and every
/// `${file:PATH}` with `read(PATH)`; collects every unset variable,
/// unreadable file and malformed reference.
pub(crate) fn expand_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<Expanded, Vec<EnvError>> {
    let mut out = String::with_capacity(text.len());
    let mut anchors = Vec::new();
    let mut errors = Vec::new();
    let mut inp = Pos { line: 1, col: 1 };
    let mut outp = Pos { line: 1, col: 1 };
    let mut need_anchor = false;
    let mut substituted = false;
    let mut rest = text;

    while let Some(c) = rest.chars().next() {
        if rest.starts_with("$${") {
            // Escape: drop the first `$`, copy `${`.
            inp.advance('$');
            rest = &rest[1..];
            need_anchor = true;
            for c in ['$', '{'] {
                copy_literal(
                    c,
                    &mut out,
                    &mut anchors,
                    &mut inp,
                    &mut outp,
                    &mut need_anchor,
                );
            }
            rest = &rest[2..];
            continue;
        }
        if rest.starts_with("${") {
            let at = inp.get();
            let Some(end) = rest.find('}').filter(|&e| !rest[..e].contains('\n')) else {
                errors.push((
                    at,
                    "unterminated `${`: expected `${NAME}`; write `$${` for a literal `${`"
                        .to_string(),
                ));
                // Copy the rest of the line literally and carry on.
                let line_end = rest.find('\n').unwrap_or(rest.len());
                for c in rest[..line_end].chars() {
                    inp.advance(c);
                }
                rest = &rest[line_end..];
                need_anchor = true;
                continue;
            };
            let name = &rest[2..end];
            let value = match name.strip_prefix("file:") {
                Some("") => Err("`${file:}` needs a path: `${file:/run/secrets/key}`".to_string()),
                Some(path) => read(path),
                None if !valid_name(name) => Err(format!(
                    "invalid variable reference `${{{name}}}`: expected `${{NAME}}` with NAME made of letters, digits and `_` (defaults like `${{X:-y}}` are not supported), or `${{file:PATH}}`; write `$${{` for a literal `${{`"
                )),
                None => lookup(name).ok_or_else(|| format!("environment variable `{name}` is not set")),
            };
            match value {
                Err(e) => errors.push((at, e)),
                Ok(value) => {
                    anchors.push(Anchor {
                        out: outp.get(),
                        orig: at,
                        literal: false,
                    });
                    for v in value.chars() {
                        outp.advance(v);
                    }
                    out.push_str(&value);
                    substituted = true;
                }
            }
            for c in rest[..=end].chars() {
                inp.advance(c);
            }
            rest = &rest[end + 1..];
            need_anchor = true;
            continue;
        }
        copy_literal(
            c,
            &mut out,
            &mut anchors,
            &mut inp,
            &mut outp,
            &mut need_anchor,
        );
        rest = &rest[c.len_utf8()..];
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    if !substituted && !text.contains("$${") {
        anchors.clear();
    }
    Ok(Expanded { text: out, anchors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            "MULTI" => Some("a\nb".into()),
            _ => None,
        }
    }

    fn no_files(path: &str) -> Result<String, String> {
        match path {
            "/run/secrets/key" => Ok("s3cret".into()),
            _ => Err(format!("cannot read `{path}`")),
        }
    }

    #[test]
    fn file_references_expand_and_missing_files_are_located() {
        let e = expand_env("a: ${file:/run/secrets/key}\n", env, no_files).unwrap();
        assert_eq!(e.text, "a: s3cret\n");
        let errs = expand_env("a: 1\nb: x ${file:/nope}\nc: ${file:}", env, no_files).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].0, (2, 6));
        assert!(errs[0].1.contains("cannot read `/nope`"), "{errs:?}");
        assert_eq!(errs[1].0, (3, 4));
        assert!(errs[1].1.contains("needs a path"), "{errs:?}");
    }

    #[test]
    fn expands_and_escapes() {
        let e = expand_env(
            "a: ${HOST}:${PORT}\nb: $${HOST} $HOST $$x\nc: '${EMPTY}'\n",
            env,
            no_files,
        )
        .unwrap();
        assert_eq!(e.text, "a: example.com:8080\nb: ${HOST} $HOST $$x\nc: ''\n");
    }

    #[test]
    fn unset_and_malformed_are_all_reported() {
        let errs = expand_env(
            "a: ${NOPE}\nb: x ${1X} ${OK\nc: ${ALSO_NOPE}",
            env,
            no_files,
        )
        .unwrap_err();
        let got: Vec<_> = errs.iter().map(|(pos, msg)| (*pos, msg.as_str())).collect();
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].0, (1, 4));
        assert!(got[0].1.contains("`NOPE` is not set"));
        assert_eq!(got[1].0, (2, 6));
        assert!(got[1].1.contains("invalid variable reference `${1X}`"));
        assert_eq!(got[2].0, (2, 12));
        assert!(got[2].1.contains("unterminated"));
        assert_eq!(got[3].0, (3, 4));
        assert!(got[3].1.contains("`ALSO_NOPE` is not set"));
    }

    #[test]
    fn positions_map_back() {
        let text = "a: ${HOST} x: 1\nb: ${MULTI} y\nc: $${z} w\nd: 1\n";
        let e = expand_env(text, env, no_files).unwrap();
        assert_eq!(e.text, "a: example.com x: 1\nb: a\nb y\nc: ${z} w\nd: 1\n");
        // `x` after the value: expanded column 16, original column 12.
        assert_eq!(e.original((1, 16)), (1, 12));
        // Inside the value: the `$` of `${HOST}`.
        assert_eq!(e.original((1, 6)), (1, 4));
        assert_eq!(e.original((1, 1)), (1, 1));
        // The multi-line value pushes later lines down by one.
        assert_eq!(e.original((3, 1)), (2, 4));
        assert_eq!(e.original((3, 3)), (2, 13));
        assert_eq!(e.original((4, 1)), (3, 1));
        // After the escape: `w` at expanded column 9, original column 10.
        assert_eq!(e.original((4, 9)), (3, 10));
        assert_eq!(e.original((5, 4)), (4, 4));
    }

    #[test]
    fn identity_without_substitution() {
        let e = expand_env("a: 1\nb: 2\n", env, no_files).unwrap();
        assert_eq!(e.original((2, 4)), (2, 4));
    }
}
