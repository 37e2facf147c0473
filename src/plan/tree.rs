//! Yaml and toml parsed into one located tree.
//!
//! Both parsers are asked for a generic tree rather than for the plan's types, so that one
//! bad field does not stop the reading of the others (serde stops at its first error), and so
//! the plan is lowered by one piece of code whatever the notation. Every node and every map key
//! carries the line of the whole input file it came from. A syntax error is returned with the
//! parser's message and file line, never with the parser's own line numbers, which count from
//! the start of the fenced block.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use toml::de::{DeTable, DeValue};

use super::extract::Block;
use super::{Format, PlanError, PlanErrorKind};

/// How deeply yaml may nest. A plan needs a handful of levels; the limit keeps a hostile
/// document from exhausting the stack in the recursive conversions below.
const MAX_YAML_DEPTH: usize = 64;

/// A value of the document, with the file line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Node {
    pub line: usize,
    pub value: NodeValue,
    /// For a yaml plain scalar read as a number or true/false, the text as written (see
    /// [`Node::text`]).
    pub written: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum NodeValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    /// A toml date or time, in its toml spelling.
    Date(String),
    List(Vec<Node>),
    /// In document order for yaml, by line for toml.
    Map(Vec<Entry>),
}

/// One key of a map, with the line of the key itself.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pub key: String,
    pub line: usize,
    pub value: Node,
}

impl Node {
    /// What the node is, as an error message names it.
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "nothing",
            NodeValue::Bool(_) => "true/false",
            NodeValue::Int(_) => "a whole number",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Date(_) => "a date",
            NodeValue::List(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    /// The node as a string, for fields that want one. Besides strings, that is a yaml plain
    /// scalar that yaml reads as a number or true/false (`name: 2024`, `- true`): a plan
    /// deserialized straight into strings gets the text as written there, and plans written
    /// for that must read the same here. Toml says which values are strings, so it gets no
    /// such leeway.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(text) => Some(text),
            _ => self.written.as_deref(),
        }
    }

    /// The node as JSON, for fields kept verbatim. Numbers JSON cannot hold (integers wider
    /// than 64 bits, infinities, NaN) and dates become strings rather than being lost.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(flag) => Value::Bool(*flag),
            NodeValue::Int(number) => i64::try_from(*number)
                .map(Value::from)
                .or_else(|_| u64::try_from(*number).map(Value::from))
                .unwrap_or_else(|_| Value::String(number.to_string())),
            NodeValue::Float(number) => {
                serde_json::Number::from_f64(*number).map_or_else(|| Value::String(number.to_string()), Value::Number)
            }
            NodeValue::Str(text) | NodeValue::Date(text) => Value::String(text.clone()),
            NodeValue::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|entry| (entry.key.clone(), entry.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parse the block in its notation.
pub(super) fn parse(block: &Block<'_>) -> Result<Node, Vec<PlanError>> {
    match block.format {
        Format::Yaml => parse_yaml(block),
        Format::Toml => parse_toml(block),
    }
}

/// Yaml as serde-saphyr reads it, each child with its location.
enum Yaml {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Spanned<Yaml>>),
    Map(Vec<(Spanned<String>, Spanned<Yaml>)>),
}

impl<'de> Deserialize<'de> for Yaml {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(YamlVisitor)
    }
}

struct YamlVisitor;

impl<'de> Visitor<'de> for YamlVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a yaml value")
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Yaml, D::Error> {
        Yaml::deserialize(deserializer)
    }
    fn visit_bool<E>(self, value: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Yaml, E> {
        Ok(Yaml::Int(value.into()))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Yaml, E> {
        Ok(Yaml::Int(value.into()))
    }
    fn visit_i128<E>(self, value: i128) -> Result<Yaml, E> {
        Ok(Yaml::Int(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Yaml, E> {
        Ok(Yaml::Float(value))
    }
    fn visit_str<E>(self, value: &str) -> Result<Yaml, E> {
        Ok(Yaml::Str(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Yaml, E> {
        Ok(Yaml::Str(value))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Yaml>>()? {
            items.push(item);
        }
        Ok(Yaml::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Yaml>>()?;
            entries.push((key, value));
        }
        Ok(Yaml::Map(entries))
    }
}

fn parse_yaml(block: &Block<'_>) -> Result<Node, Vec<PlanError>> {
    let options = serde_saphyr::Options {
        // The snippet would quote block lines under block line numbers.
        with_snippet: false,
        budget: Some(serde_saphyr::Budget {
            max_depth: MAX_YAML_DEPTH,
            ..serde_saphyr::Budget::default()
        }),
        ..serde_saphyr::Options::default()
    };
    match serde_saphyr::from_str_with_options::<Spanned<Yaml>>(block.text, options) {
        Ok(root) => {
            let lines: Vec<&str> = block.text.lines().collect();
            Ok(yaml_node(root, block, &lines))
        }
        Err(error) => Err(vec![yaml_error(&error, block)]),
    }
}

fn yaml_line(location: serde_saphyr::Location, block: &Block<'_>) -> usize {
    block.file_line(usize::try_from(location.line()).unwrap_or(usize::MAX))
}

fn yaml_node(spanned: Spanned<Yaml>, block: &Block<'_>, lines: &[&str]) -> Node {
    let line = yaml_line(spanned.referenced, block);
    // Where the value is defined rather than used, so an alias yields its anchor's text.
    let written = written_text(&spanned.value, spanned.defined, lines);
    let value = match spanned.value {
        Yaml::Null => NodeValue::Null,
        Yaml::Bool(flag) => NodeValue::Bool(flag),
        Yaml::Int(number) => NodeValue::Int(number),
        Yaml::Float(number) => NodeValue::Float(number),
        Yaml::Str(text) => NodeValue::Str(text),
        Yaml::List(items) => NodeValue::List(items.into_iter().map(|item| yaml_node(item, block, lines)).collect()),
        Yaml::Map(entries) => NodeValue::Map(
            entries
                .into_iter()
                .map(|(key, value)| Entry {
                    line: yaml_line(key.referenced, block),
                    key: key.value,
                    value: yaml_node(value, block, lines),
                })
                .collect(),
        ),
    };
    Node { line, value, written }
}

/// The text of a number or true/false as written at `location`.
///
/// The location's line and column find it; its span is not used. The parser counts columns in
/// characters on some paths and in bytes on others (they differ after a non-ascii character on
/// the same line), so both readings are tried. Such a scalar is one token (`2024`, `yes`,
/// `0x1F`), so it runs to the next blank or flow indicator. A token is read again on its own and
/// kept only if it gives the same value, so a misread column yields nothing rather than the
/// wrong text.
fn written_text(value: &Yaml, location: serde_saphyr::Location, lines: &[&str]) -> Option<String> {
    if !matches!(value, Yaml::Bool(_) | Yaml::Int(_) | Yaml::Float(_)) {
        return None;
    }
    let line = lines.get(usize::try_from(location.line()).ok()?.checked_sub(1)?)?;
    let column = usize::try_from(location.column()).ok()?.checked_sub(1)?;
    let by_chars: String = line.chars().skip(column).collect();
    let by_bytes = line.get(column..).unwrap_or("");
    [by_chars.as_str(), by_bytes].into_iter().find_map(|rest| {
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}' | '#'))
            .collect();
        let again = serde_saphyr::from_str::<Yaml>(&token).ok()?;
        let same = match (value, &again) {
            (Yaml::Bool(a), Yaml::Bool(b)) => a == b,
            (Yaml::Int(a), Yaml::Int(b)) => a == b,
            (Yaml::Float(a), Yaml::Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        };
        same.then_some(token)
    })
}

/// The parser's message without its own ` at line L, column C` suffix, which counts lines of
/// the block rather than of the file.
fn yaml_error(error: &serde_saphyr::Error, block: &Block<'_>) -> PlanError {
    let location = error.location();
    let mut message = error.to_string();
    if let Some(location) = location {
        let suffix = format!(" at line {}, column {}", location.line(), location.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = format!("{stripped} (column {})", location.column());
        }
    }
    PlanError {
        line: Some(location.map_or(block.first_line, |location| yaml_line(location, block))),
        kind: PlanErrorKind::Syntax {
            format: Format::Yaml,
            message,
        },
    }
}

/// Byte offsets of the starts of lines, to turn toml's byte spans into lines.
struct LineStarts(Vec<usize>);

impl LineStarts {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(offset, _)| offset + 1))
            .collect();
        LineStarts(starts)
    }

    /// The 1-based block line holding byte `offset`.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|start| *start <= offset).max(1)
    }
}

fn parse_toml(block: &Block<'_>) -> Result<Node, Vec<PlanError>> {
    let starts = LineStarts::new(block.text);
    let (root, errors) = DeTable::parse_recoverable(block.text);
    if errors.is_empty() {
        let line = block.file_line(starts.line(root.span().start));
        let value = toml_table(root.get_ref(), block, &starts);
        return Ok(Node {
            line,
            value,
            written: None,
        });
    }
    // The parser recovers and goes on, which finds independent mistakes on later lines but
    // also echoes one mistake (an unclosed array) on each line after it; one per line keeps
    // the first, which is the one that explains the line.
    let mut reported: Vec<PlanError> = Vec::new();
    for error in errors {
        let line = error
            .span()
            .map_or(block.first_line, |span| block.file_line(starts.line(span.start)));
        if reported.iter().any(|earlier| earlier.line == Some(line)) {
            continue;
        }
        reported.push(PlanError {
            line: Some(line),
            kind: PlanErrorKind::Syntax {
                format: Format::Toml,
                message: error.message().to_owned(),
            },
        });
    }
    Err(reported)
}

fn toml_table(table: &DeTable<'_>, block: &Block<'_>, starts: &LineStarts) -> NodeValue {
    let mut entries: Vec<Entry> = table
        .iter()
        .map(|(key, value)| Entry {
            key: key.get_ref().to_string(),
            line: block.file_line(starts.line(key.span().start)),
            value: toml_node(value, block, starts),
        })
        .collect();
    // The toml map orders keys by name unless a feature says otherwise; the document's order
    // reads better in warnings and keeps kept fields in the order they were written.
    entries.sort_by_key(|entry| entry.line);
    NodeValue::Map(entries)
}

fn toml_node(spanned: &toml::Spanned<DeValue<'_>>, block: &Block<'_>, starts: &LineStarts) -> Node {
    let line = block.file_line(starts.line(spanned.span().start));
    let value = match spanned.get_ref() {
        DeValue::String(text) => NodeValue::Str(text.to_string()),
        DeValue::Integer(number) => i128::from_str_radix(number.as_str(), number.radix())
            .map_or_else(|_| NodeValue::Str(number.to_string()), NodeValue::Int),
        DeValue::Float(number) => number
            .as_str()
            .parse::<f64>()
            .map_or_else(|_| NodeValue::Str(number.to_string()), NodeValue::Float),
        DeValue::Boolean(flag) => NodeValue::Bool(*flag),
        DeValue::Datetime(date) => NodeValue::Date(date.to_string()),
        DeValue::Array(items) => NodeValue::List(items.iter().map(|item| toml_node(item, block, starts)).collect()),
        DeValue::Table(table) => toml_table(table, block, starts),
    };
    Node {
        line,
        value,
        written: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str, format: Format) -> Block<'_> {
        Block {
            text,
            first_line: 10,
            format,
        }
    }

    #[test]
    fn yaml_lines_count_from_the_block_start() {
        let node = parse(&block("a:\n  - x\n  - {b: 1}\n", Format::Yaml)).unwrap();
        let NodeValue::Map(entries) = &node.value else {
            panic!("{node:?}")
        };
        assert_eq!((entries[0].key.as_str(), entries[0].line), ("a", 10));
        let NodeValue::List(items) = &entries[0].value.value else {
            panic!()
        };
        assert_eq!((items[0].line, items[1].line), (11, 12));
    }

    #[test]
    fn toml_lines_count_from_the_block_start() {
        let node = parse(&block("z = 1\n[t]\na = [1,\n  2]\n", Format::Toml)).unwrap();
        let NodeValue::Map(entries) = &node.value else {
            panic!("{node:?}")
        };
        assert_eq!(entries[0].key, "z", "sorted by line, not by name");
        let NodeValue::Map(inner) = &entries[1].value.value else {
            panic!()
        };
        let NodeValue::List(items) = &inner[0].value.value else {
            panic!()
        };
        assert_eq!((entries[1].line, inner[0].line, items[1].line), (11, 12, 13));
    }

    #[test]
    fn syntax_errors_name_file_lines() {
        let errors = parse(&block("a: 1\nb: [1,\n", Format::Yaml)).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, Some(11));
        assert!(!errors[0].to_string().contains("at line"), "{}", errors[0]);
        let errors = parse(&block("a = 1\nb = \nc = 2\nd = \"x\n", Format::Toml)).unwrap_err();
        let lines: Vec<_> = errors.iter().map(|error| error.line).collect();
        assert_eq!(lines, [Some(11), Some(13)]);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&block(&deep, Format::Yaml)).is_err());
        assert!(parse(&block(&format!("a = {deep}"), Format::Toml)).is_err());
    }

    #[test]
    fn unusual_values_survive_as_json() {
        let node = parse(&block("a = 1979-05-27\nb = inf\nc = 0x1f\n", Format::Toml)).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "1979-05-27", "b": "inf", "c": 31})
        );
    }
}
