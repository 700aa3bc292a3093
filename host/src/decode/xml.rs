//! XML bodies (`application/xml`, `text/xml`, any `application/*+xml`), read in the
//! shape Piston writes (django-piston's): the root element holds the document; an
//! element whose children are all `<resource>` is a list; other elements with children
//! are objects keyed by child name (a repeated name collects a list, `<item key="...">`
//! names a key that is not an XML name); an element with text is a string.
//! `nil="true"` is null and `encoding="base64"` text is decoded, as Piston writes them.
//!
//! XML carries text, so values arrive as strings. A DOCTYPE is refused outright, and
//! so is any entity other than XML's five and character references: no external
//! entity is fetched and no entity is expanded, so there is no "billion laughs".

use super::{DecodeError, Decoder, Limits, text, to_json};
use base64::Engine as _;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

/// XML.
pub struct Xml;

impl Decoder for Xml {
    fn media_types(&self) -> &'static [&'static str] {
        &["application/xml", "text/xml"]
    }

    fn suffix(&self) -> Option<&'static str> {
        Some("xml")
    }

    fn decode(
        &self,
        body: &[u8],
        content_type: &mime::Mime,
        limits: Limits,
    ) -> Result<String, DecodeError> {
        let root = parse(text(body, content_type)?, limits.max_depth)?;
        to_json(&root.into_value()?, limits)
    }
}

/// An element, as read.
#[derive(Default)]
struct Element {
    name: String,
    /// `key` or `key-base64`: the object key an `<item>` stands for.
    key: Option<String>,
    nil: bool,
    base64: bool,
    text: String,
    children: Vec<Element>,
}

fn parse(text: &str, max_depth: usize) -> Result<Element, DecodeError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let position = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|error| malformed(format!("{error}"), reader.error_position()))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(malformed("content after the root element".into(), position));
                }
                if stack.len() >= max_depth {
                    return Err(DecodeError::TooDeep(max_depth));
                }
                stack.push(element(&start, position)?);
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(malformed("content after the root element".into(), position));
                }
                let element = element(&start, position)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| malformed("an end tag without a start".into(), position))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
                }
            }
            Event::Text(text) => append_text(&mut stack, &text.xml10_content(), position)?,
            Event::CData(data) => append_text(&mut stack, &data.xml10_content(), position)?,
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => predefined(&reference).ok_or_else(|| {
                        malformed(
                            format!("entity `&{};` is not allowed", &*reference),
                            position,
                        )
                    })?,
                    Err(error) => return Err(malformed(format!("{error}"), position)),
                };
                append_text(&mut stack, resolved.encode_utf8(&mut [0; 4]), position)?;
            }
            Event::DocType(_) => {
                return Err(malformed(
                    "a DOCTYPE is not allowed (no DTDs, no entities)".into(),
                    position,
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(malformed(
            "the document ends inside an element".into(),
            text.len() as u64,
        ));
    }
    root.ok_or_else(|| malformed("there is no root element".into(), 0))
}

fn predefined(name: &str) -> Option<char> {
    Some(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => return None,
    })
}

fn append_text(stack: &mut [Element], text: &str, position: u64) -> Result<(), DecodeError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element".into(), position)),
    }
}

fn element(start: &BytesStart<'_>, position: u64) -> Result<Element, DecodeError> {
    let mut element = Element {
        name: start.name().as_ref().to_owned(),
        ..Element::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| malformed(format!("{error}"), position))?;
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|error| malformed(format!("{error}"), position))?;
        match attribute.key.as_ref() {
            "key" => element.key = Some(value.into_owned()),
            "key-base64" => element.key = Some(from_base64(&value, position)?),
            "nil" => element.nil = value == "true",
            "encoding" => element.base64 = value == "base64",
            _ => {}
        }
    }
    Ok(element)
}

fn from_base64(text: &str, position: u64) -> Result<String, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| malformed("text marked base64 is not base64".into(), position))?;
    String::from_utf8(bytes)
        .map_err(|_| malformed("base64 text that is not UTF-8".into(), position))
}

impl Element {
    fn into_value(self) -> Result<Value, DecodeError> {
        if self.nil {
            return Ok(Value::Null);
        }
        if self.children.is_empty() {
            return Ok(Value::String(if self.base64 {
                from_base64(&self.text, 0)?
            } else {
                self.text
            }));
        }
        if !self.text.trim().is_empty() {
            return Err(DecodeError::Malformed(format!(
                "malformed XML: element `{}` has both text and child elements",
                self.name
            )));
        }
        if self
            .children
            .iter()
            .all(|child| child.name == "resource" && child.key.is_none())
        {
            return self
                .children
                .into_iter()
                .map(Element::into_value)
                .collect::<Result<_, _>>()
                .map(Value::Array);
        }
        let mut members = Map::new();
        for child in self.children {
            let key = match (&child.key, child.name.as_str()) {
                (Some(key), "item") => key.clone(),
                _ => child.name.clone(),
            };
            super::form::add(&mut members, key, child.into_value()?);
        }
        Ok(Value::Object(members))
    }
}

fn malformed(reason: String, offset: u64) -> DecodeError {
    DecodeError::Malformed(format!("malformed XML at byte offset {offset}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(xml: &str) -> Result<Value, DecodeError> {
        let limits = Limits {
            max_depth: 8,
            max_output: 1 << 20,
        };
        let json = Xml.decode(xml.as_bytes(), &"application/xml".parse().unwrap(), limits)?;
        Ok(serde_json::from_str(&json).unwrap())
    }

    #[test]
    fn reads_what_piston_writes() {
        let value = decode(
            "<?xml version=\"1.0\"?>\n<response><title>a &lt; b &#x26; c</title>\
             <tags><resource>x</resource><resource>y</resource></tags>\
             <none nil=\"true\"/><empty></empty><item key=\"has space\">1</item>\
             <bell encoding=\"base64\">Bw==</bell><cr>a&#xD;b</cr></response>",
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "title": "a < b & c",
                "tags": ["x", "y"],
                "none": null,
                "empty": "",
                "has space": "1",
                "bell": "\u{7}",
                "cr": "a\rb",
            })
        );
    }

    #[test]
    fn repeated_names_collect() {
        let value = decode("<request><tag>a</tag><tag>b</tag><one>1</one></request>").unwrap();
        assert_eq!(value, serde_json::json!({"tag": ["a", "b"], "one": "1"}));
    }

    #[test]
    fn refuses_dtds_entities_and_depth() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\
                    <lolz>&lol2;</lolz>";
        assert!(decode(bomb).unwrap_err().to_string().contains("DOCTYPE"));
        assert!(
            decode("<a>&custom;</a>")
                .unwrap_err()
                .to_string()
                .contains("entity `&custom;`")
        );
        let deep = "<a>".repeat(9) + &"</a>".repeat(9);
        assert!(matches!(decode(&deep), Err(DecodeError::TooDeep(8))));
        assert!(decode("<a><b></a>").is_err());
        assert!(decode("<a>1</a><b/>").is_err());
        assert!(decode("<a>text<b/></a>").is_err());
        assert!(decode("").is_err());
    }
}
