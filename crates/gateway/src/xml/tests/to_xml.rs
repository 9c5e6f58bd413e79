use crate::xml::{json_bytes_to_xml, Limits, XmlError, XmlOptions};

/// JSON text → XML with the given options (panics on refusal).
fn xml_of(json: &str, opts: &XmlOptions) -> String {
    match json_bytes_to_xml(json.as_bytes(), opts) {
        Ok(xml) => xml,
        Err(e) => panic!("{json} refused: {e}"),
    }
}

fn xml(json: &str) -> String {
    xml_of(json, &XmlOptions::default())
}

#[test]
fn keys_become_elements_attributes_and_text_in_key_order() {
    assert_eq!(xml(r#"{"a":"hi"}"#), "<a>hi</a>");
    assert_eq!(
        xml(r##"{"a":{"@id":"7","#text":"hi"}}"##),
        r#"<a id="7">hi</a>"#
    );
    assert_eq!(
        xml(r#"{"a":{"z":"1","b":{"@k":2}}}"#),
        r#"<a><z>1</z><b k="2"/></a>"#
    );
    assert_eq!(
        xml(r#"{"a":{"n":1.5,"t":true,"x":null,"e":""}}"#),
        "<a><n>1.5</n><t>true</t><x/><e/></a>"
    );
}

#[test]
fn arrays_become_repeated_elements() {
    assert_eq!(xml(r#"{"o":{"i":["1","2"]}}"#), "<o><i>1</i><i>2</i></o>");
    // An empty array writes no element at all (it reads back as an empty <o>).
    assert_eq!(xml(r#"{"o":{"i":[]}}"#), "<o></o>");
    let nested = json_bytes_to_xml(br#"{"o":{"i":[["1"]]}}"#, &XmlOptions::default());
    assert!(
        matches!(nested, Err(XmlError::Unrepresentable(_))),
        "{nested:?}"
    );
}

#[test]
fn json_without_a_single_root_is_wrapped_in_the_root_option() {
    let opts = XmlOptions {
        root: "doc".into(),
        item: "entry".into(),
        ..XmlOptions::default()
    };
    assert_eq!(
        xml_of(r#"{"a":"1","b":"2"}"#, &opts),
        "<doc><a>1</a><b>2</b></doc>"
    );
    assert_eq!(
        xml_of(r#"[1,{"k":"v"}]"#, &opts),
        "<doc><entry>1</entry><entry><k>v</k></entry></doc>"
    );
    assert_eq!(xml_of(r#""text""#, &opts), "<doc>text</doc>");
    assert_eq!(
        xml_of(r#"{"a":["1","2"]}"#, &opts),
        "<doc><a>1</a><a>2</a></doc>"
    );
    assert_eq!(xml_of(r#"{"@v":"1"}"#, &opts), r#"<doc v="1"/>"#);
    assert_eq!(xml_of("{}", &opts), "<doc/>");
}

#[test]
fn text_and_attribute_values_are_escaped() {
    assert_eq!(
        xml(r##"{"a":{"@q":"\"<&>'\t\n","#text":"<b>&amp;\r</b>"}}"##),
        r#"<a q="&quot;&lt;&amp;&gt;&apos;&#9;&#10;">&lt;b&gt;&amp;amp;&#13;&lt;/b&gt;</a>"#
    );
    assert_eq!(xml(r#"{"a":"é😀"}"#), "<a>é😀</a>");
}

#[test]
fn invalid_names_and_shapes_are_errors_never_output() {
    let opts = XmlOptions::default();
    for (json, what) in [
        (r#"{"1a":"x"}"#, "digit first"),
        (r#"{"a b":"x"}"#, "space"),
        (r#"{"a":{"<b>":"x"}}"#, "markup in a name"),
        (r#"{"a":{"@":"x"}}"#, "empty attribute name"),
        (r#"{"a":{"@x y":"x"}}"#, "space in an attribute"),
        (r#"{"a:b:c":"x"}"#, "two colons"),
        (r#"{"":"x"}"#, "empty name"),
    ] {
        let result = json_bytes_to_xml(json.as_bytes(), &opts);
        assert!(
            matches!(result, Err(XmlError::InvalidName(_))),
            "{what}: {result:?}"
        );
    }
    for json in [
        r#"{"a":{"@x":{"y":1}}}"#,
        r#"{"a":{"@x":[1]}}"#,
        r##"{"a":{"#text":{"y":1}}}"##,
        r#"{"a":"\u0001"}"#,
        r#"{"a":{"@x":"1","@x":"2"}}"#,
    ] {
        let result = json_bytes_to_xml(json.as_bytes(), &opts);
        assert!(
            matches!(result, Err(XmlError::Unrepresentable(_))),
            "{json}: {result:?}"
        );
    }
    let bad_root = XmlOptions {
        root: "no root".into(),
        ..XmlOptions::default()
    };
    assert!(matches!(
        json_bytes_to_xml(b"[1]", &bad_root),
        Err(XmlError::InvalidName(_))
    ));
    assert!(matches!(
        json_bytes_to_xml(b"{", &opts),
        Err(XmlError::InvalidJson(_))
    ));
}

#[test]
fn writing_is_bounded_by_the_same_limits() {
    let opts = XmlOptions {
        limits: Limits {
            max_bytes: 1000,
            max_depth: 2,
            max_nodes: 3,
        },
        ..XmlOptions::default()
    };
    let deep = json_bytes_to_xml(br#"{"a":{"b":{"c":"1"}}}"#, &opts);
    assert_eq!(deep, Err(XmlError::TooDeep { limit: 2 }));
    let wide = json_bytes_to_xml(br#"{"a":{"b":["1","2","3"]}}"#, &opts);
    assert_eq!(wide, Err(XmlError::TooManyNodes { limit: 3 }));
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(2000));
    assert_eq!(
        json_bytes_to_xml(big.as_bytes(), &opts),
        Err(XmlError::TooLarge { limit: 1000 })
    );
}
