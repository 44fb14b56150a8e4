//! A small element tree over quick-xml, for the XML formats: parse a document into [`Element`]s (names
//! without namespace prefixes, namespace URIs kept), and write documents with escaping done right.
//!
//! Documents are read whole: Yonyou and SAF-T files of a period fit in memory, and a tree keeps the
//! adapters readable. Nesting is bounded by [`DEPTH_MAX`].

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::ExchangeError;

/// Deepest element nesting accepted.
pub const DEPTH_MAX: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (prefix removed).
    pub name: String,
    /// The namespace the prefix (or default namespace) resolved to; empty when none.
    pub namespace: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
    /// 1-based line of the start tag, for error messages.
    pub line: usize,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }
    /// The trimmed text of a child, or "" when absent.
    pub fn text_of(&self, name: &str) -> &str {
        self.child(name).map_or("", |child| child.text.trim())
    }
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn local(name: &str) -> String {
    match name.split_once(':') {
        Some((_, local)) => local.to_owned(),
        None => name.to_owned(),
    }
}

/// Line numbers of byte positions that only grow: counts the newlines since the last position asked for,
/// so numbering every element of a file costs one pass over it (not one pass per element).
struct Lines<'b> {
    bytes: &'b [u8],
    counted_to: usize,
    line: usize,
}

impl<'b> Lines<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        Lines {
            bytes,
            counted_to: 0,
            line: 1,
        }
    }

    fn at(&mut self, position: u64) -> usize {
        let end = usize::try_from(position)
            .unwrap_or(self.bytes.len())
            .min(self.bytes.len());
        if end > self.counted_to {
            self.line += self.bytes[self.counted_to..end]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.counted_to = end;
        }
        self.line
    }
}

/// Parses a UTF-8 document (a leading byte-order mark is skipped).
pub fn parse(bytes: &[u8]) -> Result<Element, ExchangeError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<(Element, Vec<(String, String)>)> = Vec::new();
    let mut buffer = Vec::new();
    let mut root = None;
    let mut lines = Lines::new(bytes);
    loop {
        let position = reader.buffer_position();
        let event = reader.read_event_into(&mut buffer).map_err(|error| {
            ExchangeError::at(
                format!("line {}", lines.at(position)),
                format!("not well-formed XML: {error}"),
            )
        })?;
        match event {
            Event::Start(start) => open(&mut stack, &start, lines.at(position))?,
            Event::Empty(start) => {
                open(&mut stack, &start, lines.at(position))?;
                close(&mut stack, &mut root);
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(text) => {
                if let Some((element, _)) = stack.last_mut() {
                    element.text.push_str(&text.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                if let Some((element, _)) = stack.last_mut() {
                    let name = reference.as_ref().to_owned();
                    let resolved = match name.as_str() {
                        "amp" => Some("&".to_owned()),
                        "lt" => Some("<".to_owned()),
                        "gt" => Some(">".to_owned()),
                        "quot" => Some("\"".to_owned()),
                        "apos" => Some("'".to_owned()),
                        other => other
                            .strip_prefix("#x")
                            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                            .or_else(|| other.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                            .and_then(char::from_u32)
                            .map(String::from),
                    };
                    let Some(resolved) = resolved else {
                        return Err(ExchangeError::at(
                            format!("line {}", element.line),
                            format!("unknown entity &{name};"),
                        ));
                    };
                    element.text.push_str(&resolved);
                }
            }
            Event::CData(data) => {
                if let Some((element, _)) = stack.last_mut() {
                    element.text.push_str(data.as_ref());
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buffer.clear();
    }
    if !stack.is_empty() {
        return Err(ExchangeError::at(
            "end of file",
            "the document ends inside an element",
        ));
    }
    root.ok_or_else(|| ExchangeError::at("line 1", "the document has no root element"))
}

fn open(
    stack: &mut Vec<(Element, Vec<(String, String)>)>,
    start: &BytesStart<'_>,
    line: usize,
) -> Result<(), ExchangeError> {
    let mut element = Element {
        name: local(start.name().as_ref()),
        line,
        ..Element::default()
    };
    let mut namespaces = stack.last().map(|(_, ns)| ns.clone()).unwrap_or_default();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|error| {
            ExchangeError::at(
                format!("line {}", element.line),
                format!("bad attribute: {error}"),
            )
        })?;
        let key = attribute.key.as_ref().to_owned();
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|error| {
                ExchangeError::at(format!("line {}", element.line), error.to_string())
            })?
            .into_owned();
        if key == "xmlns" {
            namespaces.push((String::new(), value.clone()));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            namespaces.push((prefix.to_owned(), value.clone()));
        }
        element.attributes.push((key, value));
    }
    let raw_name = start.name().as_ref().to_owned();
    let prefix = raw_name.split_once(':').map_or("", |(prefix, _)| prefix);
    element.namespace = namespaces
        .iter()
        .rev()
        .find(|(candidate, _)| candidate == prefix)
        .map(|(_, uri)| uri.clone())
        .unwrap_or_default();
    if stack.len() >= DEPTH_MAX {
        return Err(ExchangeError::at(
            format!("line {}", element.line),
            "elements nest too deep",
        ));
    }
    stack.push((element, namespaces));
    Ok(())
}

fn close(stack: &mut Vec<(Element, Vec<(String, String)>)>, root: &mut Option<Element>) {
    if let Some((element, _)) = stack.pop() {
        match stack.last_mut() {
            Some((parent, _)) => parent.children.push(element),
            None => *root = Some(element),
        }
    }
}

/// Writes an indented UTF-8 document.
pub struct XmlOut {
    writer: Writer<Vec<u8>>,
}

impl Default for XmlOut {
    fn default() -> Self {
        XmlOut::new()
    }
}

impl XmlOut {
    pub fn new() -> XmlOut {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        let _ = writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        XmlOut { writer }
    }

    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (key, value) in attributes {
            start.push_attribute((*key, *value));
        }
        let _ = self.writer.write_event(Event::Start(start));
    }

    pub fn close(&mut self, name: &str) {
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) {
        let _ = self.writer.write_event(Event::Start(BytesStart::new(name)));
        let _ = self.writer.write_event(Event::Text(BytesText::new(text)));
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
    }

    pub fn leaf_with(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        let mut start = BytesStart::new(name);
        for (key, value) in attributes {
            start.push_attribute((*key, *value));
        }
        let _ = self.writer.write_event(Event::Start(start));
        let _ = self.writer.write_event(Event::Text(BytesText::new(text)));
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
    }

    pub fn finish(self) -> Vec<u8> {
        let mut bytes = self.writer.into_inner();
        bytes.push(b'\n');
        bytes
    }
}
