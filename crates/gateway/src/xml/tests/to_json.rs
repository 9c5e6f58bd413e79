use super::{json, json_of};
use crate::xml::{xml_to_json, Limits, XmlError, XmlOptions};

#[test]
fn text_only_element_is_a_string_and_attributes_take_the_prefix() {
    assert_eq!(json("<a>hi</a>"), r#"{"a":"hi"}"#);
    assert_eq!(
        json(r#"<a id="7">hi</a>"#),
        r##"{"a":{"@id":"7","#text":"hi"}}"##
    );
    assert_eq!(json(r#"<a id="7"/>"#), r#"{"a":{"@id":"7"}}"#);
    assert_eq!(json("<a/>"), r#"{"a":""}"#);
    assert_eq!(json("<a></a>"), r#"{"a":""}"#);
}

#[test]
fn prefix_and_text_key_are_configurable() {
    let opts = XmlOptions {
        attribute_prefix: "-".into(),
        text_key: "$".into(),
        ..XmlOptions::default()
    };
    assert_eq!(
        json_of(r#"<a id="7">hi</a>"#, &opts),
        r#"{"a":{"-id":"7","$":"hi"}}"#
    );
}

#[test]
fn children_keep_document_order_and_indentation_is_dropped() {
    let xml = "<e>\n  <z>1</z>\n  <a>2</a>\n</e>";
    assert_eq!(json(xml), r#"{"e":{"z":"1","a":"2"}}"#);
    // A text-only element keeps its whitespace exactly.
    assert_eq!(json("<a>  x \n</a>"), r#"{"a":"  x \n"}"#);
}

#[test]
fn namespaces_stay_prefixes_and_declarations_stay_attributes() {
    let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body><m:Get xmlns:m="urn:m">1</m:Get></soap:Body></soap:Envelope>"#;
    assert_eq!(
        json(xml),
        r##"{"soap:Envelope":{"@xmlns:soap":"http://schemas.xmlsoap.org/soap/envelope/","soap:Header":"","soap:Body":{"m:Get":{"@xmlns:m":"urn:m","#text":"1"}}}}"##
    );
}

#[test]
fn repeated_siblings_become_arrays() {
    let xml = "<o><i>1</i><x/><i>2</i><i>3</i></o>";
    assert_eq!(json(xml), r#"{"o":{"i":["1","2","3"],"x":""}}"#);
}

#[test]
fn forced_array_paths_give_one_item_the_shape_of_many() {
    let opts = XmlOptions {
        arrays: vec!["/orders/order".into()],
        ..XmlOptions::default()
    };
    let one = json_of(r#"<orders><order id="1"/></orders>"#, &opts);
    assert_eq!(one, r#"{"orders":{"order":[{"@id":"1"}]}}"#);
    let three = json_of(
        "<orders><order>a</order><order>b</order><order>c</order></orders>",
        &opts,
    );
    assert_eq!(three, r#"{"orders":{"order":["a","b","c"]}}"#);
    // The path is exact: an <order> elsewhere is not forced.
    let elsewhere = json_of("<x><order>a</order></x>", &opts);
    assert_eq!(elsewhere, r#"{"x":{"order":"a"}}"#);
}

#[test]
fn infer_types_follows_the_documented_rule() {
    let opts = XmlOptions {
        infer_types: true,
        ..XmlOptions::default()
    };
    let xml = r#"<v n="-12"><a>0</a><b>007</b><c>1.5</c><d>-2e3</d><e>true</e><f>false</f><g/><h>1.</h><i>99999999999999999999</i><j>x</j></v>"#;
    assert_eq!(
        json_of(xml, &opts),
        r#"{"v":{"@n":-12,"a":0,"b":"007","c":1.5,"d":-2000.0,"e":true,"f":false,"g":null,"h":"1.","i":"99999999999999999999","j":"x"}}"#
    );
    // Without the option everything stays a string.
    assert_eq!(json("<a>1</a>"), r#"{"a":"1"}"#);
}

#[test]
fn mixed_content_text_is_concatenated_after_the_children() {
    let xml = "<p>Hi <b>you</b> there<i>!</i></p>";
    assert_eq!(
        json(xml),
        r##"{"p":{"b":"you","i":"!","#text":"Hi  there"}}"##
    );
}

#[test]
fn cdata_entities_and_character_references_are_text() {
    assert_eq!(json("<a><![CDATA[<x> & y]]></a>"), r#"{"a":"<x> & y"}"#);
    assert_eq!(
        json(r#"<a t="&quot;&#x41;&apos;">&lt;&gt;&amp;&#233;&#x1F600;</a>"#),
        r##"{"a":{"@t":"\"A'","#text":"<>&é😀"}}"##
    );
}

#[test]
fn doctype_is_refused_whatever_it_declares() {
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
    assert_eq!(
        xml_to_json(xxe.as_bytes(), &XmlOptions::default()),
        Err(XmlError::DoctypeRefused)
    );
    let plain = "<!DOCTYPE html><html/>";
    assert_eq!(
        xml_to_json(plain.as_bytes(), &XmlOptions::default()),
        Err(XmlError::DoctypeRefused)
    );
}

#[test]
fn unknown_entities_are_refused_in_text_and_attributes() {
    let opts = XmlOptions::default();
    let text = xml_to_json(b"<a>&xxe;</a>", &opts);
    assert_eq!(text, Err(XmlError::UnknownEntity("xxe".into())));
    let attr = xml_to_json(br#"<a b="&lol;"/>"#, &opts);
    assert!(matches!(attr, Err(XmlError::UnknownEntity(_))), "{attr:?}");
    let nul = xml_to_json(b"<a>&#0;</a>", &opts);
    assert!(matches!(nul, Err(XmlError::UnknownEntity(_))), "{nul:?}");
}

#[test]
fn limits_name_what_was_exceeded() {
    let opts = XmlOptions {
        limits: Limits {
            max_bytes: 64,
            max_depth: 3,
            max_nodes: 4,
        },
        ..XmlOptions::default()
    };
    let big = format!("<a>{}</a>", "x".repeat(100));
    assert_eq!(
        xml_to_json(big.as_bytes(), &opts),
        Err(XmlError::TooLarge { limit: 64 })
    );
    let deep = "<a><b><c><d/></c></b></a>";
    assert_eq!(
        xml_to_json(deep.as_bytes(), &opts),
        Err(XmlError::TooDeep { limit: 3 })
    );
    let wide = r#"<a x="1"><b/><b/><b/></a>"#;
    assert_eq!(
        xml_to_json(wide.as_bytes(), &opts),
        Err(XmlError::TooManyNodes { limit: 4 })
    );
    assert!(XmlError::TooDeep { limit: 3 }
        .to_string()
        .contains("deeper than 3"));
    // Exactly at the limits is accepted.
    assert!(xml_to_json(b"<a><b><c/></b></a>", &opts).is_ok());
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    let opts = XmlOptions::default();
    for bad in [
        "",
        "   ",
        "text",
        "<a>",
        "<a></b>",
        "</a>",
        "<a/><b/>",
        "<a/>tail",
        "<a x='1' x='2'/>",
        "<1a/>",
        "<a:b:c/>",
        "<a",
        "<a b=c/>",
        "<a>&amp</a>",
        "<a>\u{0}</a>x",
    ] {
        let result = xml_to_json(bad.as_bytes(), &opts);
        assert!(result.is_err(), "{bad:?} accepted: {result:?}");
    }
    assert_eq!(xml_to_json(b"<a>\xff</a>", &opts), Err(XmlError::NotUtf8));
}

#[test]
fn json_text_is_what_the_tree_writes() {
    let forced = XmlOptions {
        arrays: vec!["/o/i".into(), "/o/w/c".into()],
        ..XmlOptions::default()
    };
    let typed = XmlOptions {
        infer_types: true,
        attribute_prefix: String::new(),
        ..XmlOptions::default()
    };
    // Wider than the point where an element indexes its keys, with repeats.
    let wide: String = (0..40)
        .map(|i| format!("<c{}>{i}</c{}>", i % 25, i % 25))
        .collect();
    let docs = [
        r#"<o a="1&amp;2" b="&#9;"><i>x</i><x/><i>y</i></o>"#.to_owned(),
        "<p>Hi <b>you</b> th&lt;ere<![CDATA[ <x> ]]>\"\\\u{1}</p>".to_owned(),
        r#"<o id="7"><id>8</id><i n="1">1.5</i><w><c/></w><e></e><t>true</t></o>"#.to_owned(),
        format!("<o><w>{wide}<c1>again</c1></w></o>"),
        "<s:E xmlns:s=\"urn:x\">\r\n  <s:B>é</s:B>\n</s:E>".to_owned(),
    ];
    for doc in &docs {
        for opts in [&XmlOptions::default(), &forced, &typed] {
            let text = crate::xml::xml_to_json_text(doc.as_bytes(), opts).unwrap();
            let tree = xml_to_json(doc.as_bytes(), opts).unwrap().to_json_string();
            assert_eq!(String::from_utf8(text).unwrap(), tree, "{doc}");
        }
    }
    let err = crate::xml::xml_to_json_text(b"<!DOCTYPE a><a/>", &forced);
    assert_eq!(err, Err(XmlError::DoctypeRefused));
}

#[test]
fn wide_elements_group_repeats_as_narrow_ones_do() {
    let wide: String = (0..40).map(|i| format!("<c{}/>", i % 20)).collect();
    let out = json(&format!("<w>{wide}</w>"));
    let expected: Vec<String> = (0..20).map(|i| format!(r#""c{i}":["",""]"#)).collect();
    assert_eq!(out, format!(r#"{{"w":{{{}}}}}"#, expected.join(",")));
}

#[test]
fn an_empty_prefix_lets_an_attribute_and_a_child_share_a_key() {
    let opts = XmlOptions {
        infer_types: true,
        attribute_prefix: String::new(),
        ..XmlOptions::default()
    };
    assert_eq!(
        json_of(r#"<o id="7"><id>8</id></o>"#, &opts),
        r#"{"o":{"id":[7,8]}}"#
    );
}
