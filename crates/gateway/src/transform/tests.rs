use tollgate_config::{BodyEdit, EditValue, Pointer, Template};

use super::*;
use crate::xml::XmlError;

fn ptr(s: &str) -> Pointer {
    Pointer::parse(s).unwrap()
}

fn s(v: &str) -> Json {
    Json::String(v.into())
}

fn edit(doc: &str, edits: &[BodyEdit], values: Vec<Json>) -> String {
    String::from_utf8(edit_body(doc.as_bytes(), edits, values).unwrap()).unwrap()
}

fn tv() -> EditValue {
    EditValue::Template(Template::parse("x").unwrap())
}

#[test]
fn set_replaces_and_creates_with_parents_keeping_order() {
    let edits = [
        BodyEdit::Set(ptr("/b"), tv()),
        BodyEdit::Set(ptr("/c/d"), tv()),
        BodyEdit::Set(ptr("/list/1"), tv()),
        BodyEdit::Set(ptr("/list/-"), tv()),
    ];
    let out = edit(
        r#"{"z":0,"b":1,"list":[1,2]}"#,
        &edits,
        vec![s("B"), s("D"), s("L1"), s("L2")],
    );
    assert_eq!(out, r#"{"z":0,"b":"B","list":[1,"L1","L2"],"c":{"d":"D"}}"#);
}

#[test]
fn add_inserts_into_arrays_and_needs_a_parent() {
    let edits = [
        BodyEdit::Add(ptr("/a/0"), tv()),
        BodyEdit::Add(ptr("/missing/x"), tv()),
        BodyEdit::Add(ptr("/a/9"), tv()),
    ];
    let out = edit(r#"{"a":[1]}"#, &edits, vec![s("first"), s("no"), s("no")]);
    assert_eq!(out, r#"{"a":["first",1]}"#);
}

#[test]
fn remove_rename_and_move_keep_the_rest() {
    let edits = [
        BodyEdit::Remove(ptr("/secret")),
        BodyEdit::Remove(ptr("/absent")),
        BodyEdit::Rename(ptr("/user/fullName"), "name".into()),
        BodyEdit::Move(ptr("/user/id"), ptr("/id")),
        BodyEdit::Move(ptr("/user"), ptr("/user/inside")),
    ];
    let out = edit(
        r#"{"secret":"s","user":{"id":7,"fullName":"Ann","age":3}}"#,
        &edits,
        vec![],
    );
    assert_eq!(out, r#"{"user":{"name":"Ann","age":3},"id":7}"#);
}

#[test]
fn escaped_tokens_and_leading_zeros() {
    let edits = [
        BodyEdit::Remove(ptr("/a~1b")),
        BodyEdit::Remove(ptr("/c~0d")),
        BodyEdit::Remove(ptr("/l/01")),
    ];
    let out = edit(r#"{"a/b":1,"c~d":2,"l":[0,1]}"#, &edits, vec![]);
    assert_eq!(out, r#"{"l":[0,1]}"#);
    assert!(Pointer::parse("a").is_err());
    assert!(Pointer::parse("/a~2").is_err());
}

#[test]
fn constant_values_and_not_json() {
    let v: serde_json::Value = serde_json::from_str(r#"{"n":1,"t":[true,null]}"#).unwrap();
    let edits = [BodyEdit::Set(ptr("/k"), EditValue::Json(v.clone()))];
    let out = edit("{}", &edits, vec![from_value(&v)]);
    assert_eq!(out, r#"{"k":{"n":1,"t":[true,null]}}"#);
    assert!(edit_body(b"not json", &edits, vec![]).is_err());
}

#[test]
fn content_types() {
    assert!(is_json(Some(b"application/json; charset=utf-8")));
    assert!(is_json(Some(b"application/problem+json")));
    assert!(!is_json(Some(b"text/plain")));
    assert!(!is_json(None));
    assert!(is_xml(Some(b"text/xml")));
    assert!(is_xml(Some(b"application/soap+xml; action=x")));
    assert!(!is_xml(Some(b"application/json")));
}

/// The edit of the whole parsed tree, as `edit_body` did before it read
/// only the edited paths: the reference the lazy reading must match.
fn edit_whole(doc: &str, edits: &[BodyEdit], values: Vec<Json>) -> Result<String, XmlError> {
    let mut tree = Json::parse(doc.as_bytes())?;
    apply_edits(&mut tree, edits, values);
    let mut out = Vec::new();
    tree.write_to(&mut out);
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn reading_only_the_edited_paths_gives_what_the_whole_tree_gives() {
    let docs = [
        // Spacing, escapes written two ways, numbers in several spellings.
        " {\"keep\" : {\"s\":\"\\u0041\\/\\n\\u001f\\\"\", \"f\":[1.50, 1e2, -0, -0.0, 12345678901234567890]},\n\t\"user\":{\"id\":7, \"fullName\":\"Ann\", \"x\":{\"y\":[1, {\"z\":null}]}}, \"list\":[3,2,1], \"é\":\"ü\"} ",
        r#"{"user":{"id":1,"id":2},"user":"dup","a":{"b":{"c":true}}}"#,
        r#"[1,{"user":2}]"#,
        r#""just a string""#,
        r#"{"list":[{"id":1},{"id":2}],"internal":{"shard":7}}"#,
    ];
    let edit_sets: Vec<Vec<BodyEdit>> = vec![
        vec![
            BodyEdit::Remove(ptr("/internal")),
            BodyEdit::Rename(ptr("/user/fullName"), "name".into()),
            BodyEdit::Set(ptr("/gateway"), tv()),
        ],
        // A move brings a value under a path a later edit goes into.
        vec![
            BodyEdit::Move(ptr("/keep"), ptr("/user/kept")),
            BodyEdit::Set(ptr("/user/kept/s"), tv()),
            BodyEdit::Remove(ptr("/user/kept/f/0")),
        ],
        // An insert shifts the indexes of the array it goes into.
        vec![
            BodyEdit::Add(ptr("/list/0"), tv()),
            BodyEdit::Set(ptr("/list/1/id"), tv()),
            BodyEdit::Rename(ptr("/a/b"), "c".into()),
            BodyEdit::Set(ptr("/a/c/d"), tv()),
        ],
        vec![BodyEdit::Set(ptr(""), tv())],
        vec![
            BodyEdit::Remove(ptr("/1/user")),
            BodyEdit::Add(ptr("/-"), tv()),
        ],
    ];
    for doc in docs {
        for edits in &edit_sets {
            let values = || edits.iter().map(|_| s("v")).collect::<Vec<_>>();
            let lazy = edit_body(doc.as_bytes(), edits, values())
                .map(|out| String::from_utf8(out).unwrap());
            assert_eq!(
                lazy,
                edit_whole(doc, edits, values()),
                "{doc} with {edits:?}"
            );
        }
    }
}

#[test]
fn bodies_that_are_not_json_are_refused_with_the_parser_s_reason() {
    let edits = [BodyEdit::Remove(ptr("/a/b"))];
    for doc in [
        "",
        "{",
        r#"{"a":1} x"#,
        r#"{"a":{"b":1},"c":[1,]}"#,
        r#"{"c":"\ud800"}"#,
        r#"{"c":1e999}"#,
    ] {
        let lazy = edit_body(doc.as_bytes(), &edits, vec![]);
        let whole = edit_whole(doc, &edits, vec![]);
        assert!(lazy.is_err(), "{doc}");
        assert_eq!(lazy.unwrap_err(), whole.unwrap_err(), "{doc}");
    }
}

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let text: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
    let mut out = Vec::new();
    Json::String(text.clone()).write_to(&mut out);
    assert_eq!(out, serde_json::to_vec(&text).unwrap());
}
