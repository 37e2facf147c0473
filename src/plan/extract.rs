//! Finding the machine-readable block of a markdown plan.
//!
//! A markdown plan is prose for people with one fenced ` ```yaml ` (or ` ```toml `) block
//! between the lines `<!-- loom METADATA -->` and `<!-- END loom METADATA -->`. This module
//! returns that block's text as a slice of the input, together with the file line its first
//! line sits on, so every line reported later counts lines of the whole file. It guarantees that
//! when no block can be found the error says which part is missing and where the search stopped.

use super::{Format, PlanError, PlanErrorKind};

/// The opening marker; anything may follow it on its line (`<!-- loom METADATA - do not edit -->`).
const START_MARKER: &str = "<!-- loom METADATA";
/// The closing marker.
const END_MARKER: &str = "<!-- END loom METADATA";

/// The text a parser reads, and where it sits in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block<'a> {
    pub text: &'a str,
    /// The 1-based file line of the block's first line.
    pub first_line: usize,
    pub format: Format,
}

impl Block<'_> {
    /// The file line of a 1-based line counted within the block.
    pub fn file_line(&self, block_line: usize) -> usize {
        self.first_line + block_line.max(1) - 1
    }
}

/// One line of the input: its 1-based number, its text without the line break, and the byte
/// offsets where it and the next line start, so the block can be sliced from the input without
/// copying.
#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    text: &'a str,
    start: usize,
    end: usize,
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n').enumerate().map(move |(index, raw)| {
        let line = Line {
            number: index + 1,
            text: raw.trim_end_matches(['\n', '\r']),
            start,
            end: start + raw.len(),
        };
        start = line.end;
        line
    })
}

fn is_marker(line: &Line<'_>, marker: &str) -> bool {
    line.text.trim_start().starts_with(marker)
}

/// A fence opener: its character, its length and the language named after it.
fn fence_opener(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let fence_char = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let length = trimmed.chars().take_while(|c| *c == fence_char).count();
    if length < 3 {
        return None;
    }
    let info = trimmed[length..].split_whitespace().next().unwrap_or("");
    Some((fence_char, length, info))
}

/// Whether `line` closes a fence opened with `length` times `fence_char`: CommonMark allows a
/// longer closing fence, and nothing but spaces around it.
fn closes_fence(line: &str, fence_char: char, length: usize) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= length && trimmed.chars().all(|c| c == fence_char)
}

fn format_of(info: &str) -> Option<Format> {
    match info.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => Some(Format::Yaml),
        "toml" => Some(Format::Toml),
        _ => None,
    }
}

/// The fenced block between the loom METADATA markers of a markdown plan.
///
/// Only the first start marker counts, and the first end marker after it; fences in the prose
/// outside the markers are ignored, and so are fences inside them in other languages.
pub(super) fn metadata_block(text: &str) -> Result<Block<'_>, PlanError> {
    let all: Vec<Line<'_>> = lines(text).collect();
    let error = |line, kind| PlanError { line, kind };
    let start = all
        .iter()
        .position(|line| is_marker(line, START_MARKER))
        .ok_or_else(|| error(None, PlanErrorKind::MissingMetadata))?;
    let start_line = Some(all[start].number);
    let end = all[start + 1..]
        .iter()
        .position(|line| is_marker(line, END_MARKER))
        .map(|offset| start + 1 + offset)
        .ok_or_else(|| error(start_line, PlanErrorKind::MissingEndMarker))?;
    let inside = &all[start + 1..end];
    let (open, fence_char, length, format) = inside
        .iter()
        .enumerate()
        .find_map(|(index, line)| {
            let (fence_char, length, info) = fence_opener(line.text)?;
            Some((index, fence_char, length, format_of(info)?))
        })
        .ok_or_else(|| error(start_line, PlanErrorKind::MissingFence))?;
    let opener = inside[open];
    let close = inside[open + 1..]
        .iter()
        .find(|line| closes_fence(line.text, fence_char, length))
        .ok_or_else(|| error(Some(opener.number), PlanErrorKind::UnclosedFence))?;
    Ok(Block {
        text: &text[opener.end..close.start],
        first_line: opener.number + 1,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> (Option<usize>, PlanErrorKind) {
        let error = metadata_block(text).unwrap_err();
        (error.line, error.kind)
    }

    #[test]
    fn finds_the_block_and_its_first_line() {
        let text = "# Plan\n\n```yaml\nnot: this\n```\n<!-- loom METADATA - do not edit -->\n\n```yaml\nloom:\n  version: 1\n```\n<!-- END loom METADATA -->\n";
        let block = metadata_block(text).unwrap();
        assert_eq!(block.text, "loom:\n  version: 1\n");
        assert_eq!(block.first_line, 9);
        assert_eq!(block.format, Format::Yaml);
        assert_eq!(block.file_line(2), 10);
    }

    #[test]
    fn longer_fences_keep_inner_fences_and_crlf_is_accepted() {
        let text = "<!-- loom METADATA -->\r\n````toml\r\na = \"\"\"\r\n```\r\n\"\"\"\r\n````\r\n<!-- END loom METADATA -->\r\n";
        let block = metadata_block(text).unwrap();
        assert_eq!(block.text, "a = \"\"\"\r\n```\r\n\"\"\"\r\n");
        assert_eq!(block.first_line, 3);
        assert_eq!(block.format, Format::Toml);
    }

    #[test]
    fn empty_block_is_found() {
        let block = metadata_block("<!-- loom METADATA -->\n```yaml\n```\n<!-- END loom METADATA -->").unwrap();
        assert_eq!(block.text, "");
        assert_eq!(block.first_line, 3);
    }

    #[test]
    fn each_missing_part_is_named_with_its_line() {
        assert_eq!(error_of("# Plan\n"), (None, PlanErrorKind::MissingMetadata));
        assert_eq!(
            error_of("x\n<!-- loom METADATA -->\n```yaml\na: 1\n```\n"),
            (Some(2), PlanErrorKind::MissingEndMarker)
        );
        assert_eq!(
            error_of("<!-- loom METADATA -->\n```text\nx\n```\n<!-- END loom METADATA -->\n"),
            (Some(1), PlanErrorKind::MissingFence)
        );
        assert_eq!(
            error_of("<!-- loom METADATA -->\n\n```yaml\na: 1\n<!-- END loom METADATA -->\n"),
            (Some(3), PlanErrorKind::UnclosedFence)
        );
        assert_eq!(
            error_of("<!-- loom METADATA -->\n```yaml\na: 1\n```\n"),
            (Some(1), PlanErrorKind::MissingEndMarker)
        );
    }
}
