use tollgate_config::{BodyEdit, EditValue, Pointer, Template};

use super::*;

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
