use super::json_of;
use crate::xml::{json_bytes_to_xml, json_to_xml, xml_to_json, Json, XmlError, XmlOptions};

fn forced() -> XmlOptions {
    XmlOptions {
        arrays: vec!["/orders/order".into(), "/orders/order/line".into()],
        ..XmlOptions::default()
    }
}

/// Documents in the writer's own form (no indentation, attributes before
/// children, no mixed content): XML → JSON → XML gives the same bytes.
pub(super) const EXACT: &[&str] = &[
    r#"<a id="7">hi</a>"#,
    r#"<a id="7"/>"#,
    "<a/>",
    "<e><z>1</z><z>3</z><a>2</a></e>",
    r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><t:Token xmlns:t="urn:t">k</t:Token></soap:Header><soap:Body><m:Get xmlns:m="urn:m"><m:id>1</m:id></m:Get></soap:Body></soap:Envelope>"#,
    r#"<orders><order id="1"><line>x</line></order></orders>"#,
    r#"<orders><order id="1"><line>x</line><line>y</line></order><order id="2"/><order id="3"><line>z</line></order></orders>"#,
    "<a>&lt;b&gt; &amp; \"q\" 'a'</a>",
    r#"<a t="&lt;&amp;&quot;&apos;&#9;&#10;&#13;">x&#13;y</a>"#,
    "<u name=\"日本\"><ключ>значение 😀</ключ><é>ü</é></u>",
];

#[test]
fn documents_in_canonical_form_round_trip_byte_for_byte() {
    for opts in [XmlOptions::default(), forced()] {
        for doc in EXACT {
            let json = xml_to_json(doc.as_bytes(), &opts).expect(doc);
            let back = json_to_xml(&json, &opts).expect(doc);
            assert_eq!(&back, doc, "via {}", json.to_json_string());
        }
    }
}

/// Documents whose form changes (indentation, CDATA, entities, mixed
/// content, empty pairs): the JSON is what must survive a trip through XML.
pub(super) const STABLE: &[&str] = &[
    // Interleaved repeats are grouped where the first one stood.
    "<e><z>1</z><a>2</a><z>3</z></e>",
    "<o>\n  <i>1</i>\n  <i>2</i>\n</o>",
    "<p>Hi <b>you</b> there<i>!</i></p>",
    "<a><![CDATA[<x> & ]]>y<![CDATA[]]]]><![CDATA[>]]></a>",
    "<a>&#x41;&#66;&#233;&#x1F600;</a>",
    "<a></a>",
    "<a>&quot;q&quot; &apos;a&apos;</a>",
    r#"<?xml version="1.0" encoding="UTF-8"?><!-- c --><a><?pi x?><b c='1'/></a>"#,
    "<orders><order>only</order></orders>",
    "<orders><order><line>1</line></order></orders>",
];

#[test]
fn json_survives_a_trip_through_xml() {
    for opts in [XmlOptions::default(), forced()] {
        for doc in STABLE.iter().chain(EXACT) {
            let json = xml_to_json(doc.as_bytes(), &opts).expect(doc);
            let xml = json_to_xml(&json, &opts).expect(doc);
            let again = xml_to_json(xml.as_bytes(), &opts).expect(&xml);
            assert_eq!(again, json, "{doc} -> {xml}");
        }
    }
}

#[test]
fn forced_arrays_keep_one_and_many_items_the_same_shape_both_ways() {
    let opts = forced();
    let one = json_of("<orders><order><line>1</line></order></orders>", &opts);
    assert_eq!(one, r#"{"orders":{"order":[{"line":["1"]}]}}"#);
    let xml = json_bytes_to_xml(one.as_bytes(), &opts).unwrap();
    assert_eq!(xml, "<orders><order><line>1</line></order></orders>");
    // Without the paths the same one-item document loses its arrays.
    let plain = json_of(&xml, &XmlOptions::default());
    assert_eq!(plain, r#"{"orders":{"order":{"line":"1"}}}"#);
}

#[test]
fn json_documents_round_trip_through_xml() {
    let opts = forced();
    for json in [
        r#"{"orders":{"@xmlns:x":"urn:x","order":[{"@id":"1","x:note":"a"},{"@id":"2","line":["p","q"]}]}}"#,
        r##"{"a":{"@k":"v","b":"","#text":"t"}}"##,
        r#"{"unicode":{"名前":"値","emoji":"😀"}}"#,
    ] {
        let xml = json_bytes_to_xml(json.as_bytes(), &opts).unwrap();
        assert_eq!(json_of(&xml, &opts), json, "via {xml}");
    }
}

#[test]
fn infer_types_round_trips_values() {
    let opts = XmlOptions {
        infer_types: true,
        ..XmlOptions::default()
    };
    let json = Json::parse(br#"{"v":{"@n":-3,"f":2.5,"t":true,"z":null,"s":"007"}}"#).unwrap();
    let xml = json_to_xml(&json, &opts).unwrap();
    assert_eq!(xml, r#"<v n="-3"><f>2.5</f><t>true</t><z/><s>007</s></v>"#);
    assert_eq!(xml_to_json(xml.as_bytes(), &opts).unwrap(), json);
}

#[test]
fn xxe_document_is_refused() {
    let xxe = r#"<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
    let result = xml_to_json(xxe.as_bytes(), &XmlOptions::default());
    assert_eq!(result, Err(XmlError::DoctypeRefused));
    // Parameter entities and external DTD subsets meet the same refusal.
    let external = r#"<!DOCTYPE foo SYSTEM "http://127.0.0.1:1/x.dtd"><foo/>"#;
    assert_eq!(
        xml_to_json(external.as_bytes(), &XmlOptions::default()),
        Err(XmlError::DoctypeRefused)
    );
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let refs = format!(
            "&lol{};",
            if i == 1 {
                String::new()
            } else {
                (i - 1).to_string()
            }
        );
        doc.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", refs.repeat(10)));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>");
    let result = xml_to_json(doc.as_bytes(), &XmlOptions::default());
    assert_eq!(result, Err(XmlError::DoctypeRefused));
    // The references alone, without their declarations, are unknown entities.
    let refs_only = "<lolz>&lol9;&lol9;</lolz>";
    let result = xml_to_json(refs_only.as_bytes(), &XmlOptions::default());
    assert_eq!(result, Err(XmlError::UnknownEntity("lol9".into())));
}

#[test]
fn depth_bomb_is_refused_at_the_depth_limit() {
    let bomb = "<a>".repeat(200_000);
    let result = xml_to_json(bomb.as_bytes(), &XmlOptions::default());
    assert_eq!(result, Err(XmlError::TooDeep { limit: 64 }));
    let json_bomb = format!(
        "{}{}",
        r#"{"a":"#.repeat(100),
        "1".to_owned() + &"}".repeat(100)
    );
    let result = json_bytes_to_xml(json_bomb.as_bytes(), &XmlOptions::default());
    assert_eq!(result, Err(XmlError::TooDeep { limit: 64 }));
}
