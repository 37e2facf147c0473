//! Where command output goes: results to stdout (human text or JSON), warnings and notes to
//! stderr. `--json` changes only stdout; errors are always text on stderr. `-q` silences
//! notes and warnings but never a result a script asked for.
//!
//! Everything written as text passes through [`sanitize`], so no title, description, handoff,
//! label or command output stored by someone else can steer the terminal it is shown on.
//! JSON needs no such care: serde escapes every control character.
//!
//! Colour (see [`super::terminal`]) is added only after sanitizing, to whole words: the
//! `warning:` prefix and task status cells. Long output may go through the user's pager
//! ([`Ui::page`]); [`Ui::finish`] then waits for the reader to leave it.

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::terminal::{self as color, Pager, Style};

pub struct Ui {
    out: BufWriter<Box<dyn Write>>,
    pager: Option<Pager>,
    /// Whether stdout is coloured.
    color: bool,
    pub json: bool,
    pub quiet: bool,
}

impl Ui {
    pub fn new(json: bool, quiet: bool) -> Self {
        Ui {
            out: BufWriter::new(Box::new(io::stdout())),
            pager: None,
            color: color::stdout_enabled(),
            json,
            quiet,
        }
    }

    /// Send the rest of the output through git's pager for `dir`, when one applies (see
    /// [`Pager::start`]); `--json` output is never paged.
    pub fn page(&mut self, dir: &Path) -> io::Result<()> {
        if self.json || self.pager.is_some() {
            return Ok(());
        }
        if let Some((pager, stdin)) = Pager::start(dir) {
            self.out.flush()?;
            self.out = BufWriter::new(Box::new(stdin));
            self.pager = Some(pager);
        }
        Ok(())
    }

    /// Flush the output and, if it went to a pager, close it and wait for the reader to quit.
    pub fn finish(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        if let Some(pager) = self.pager.take() {
            // Dropping the old writer closes the pager's stdin, so it sees the end.
            self.out = BufWriter::new(Box::new(io::stdout()));
            pager.wait()?;
        }
        flushed
    }

    /// One line whose last word is a task status, coloured like the status cells of tables.
    pub fn status_line(&mut self, text: impl AsRef<str>, status: &str) -> io::Result<()> {
        let text = sanitize(text.as_ref());
        match (self.color, color::status_style(status), text.strip_suffix(status)) {
            (true, Some(style), Some(head)) => {
                writeln!(self.out, "{head}{}", color::paint(status, style, true))
            }
            _ => writeln!(self.out, "{text}"),
        }
    }

    /// One line of human output, through [`sanitize`].
    pub fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        writeln!(self.out, "{}", sanitize(text.as_ref()))
    }

    /// Text written as it is but for [`sanitize`] (it carries its own newlines).
    pub fn text(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        self.out.write_all(sanitize(text.as_ref()).as_bytes())
    }

    /// The JSON result of a command, pretty-printed, followed by a newline.
    pub fn json_value(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value).map_err(io::Error::from)?;
        writeln!(self.out)
    }

    /// A JSON array result from elements already rendered (see `git_loom::loom::write_array`):
    /// the same bytes [`Ui::json_value`] prints for the array of their values.
    pub fn json_items<'a>(&mut self, items: impl IntoIterator<Item = &'a [u8]>) -> io::Result<()> {
        // Gathered first: one large write goes straight through the buffers.
        let mut bytes = Vec::new();
        git_loom::loom::write_array(&mut bytes, items)?;
        self.out.write_all(&bytes)
    }

    /// Something the user should know that is not the result (to stderr).
    pub fn note(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.out.flush();
            eprintln!("{}", sanitize(text.as_ref()));
        }
    }

    pub fn warn(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.out.flush();
            let prefix = color::paint("warning:", Style::Warning, color::stderr_enabled());
            eprintln!("{prefix} {}", sanitize(text.as_ref()));
        }
    }

    /// A suggestion (`hint: …` on stderr), coloured like the hints of errors.
    pub fn hint(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.out.flush();
            let prefix = color::paint("hint:", Style::Hint, color::stderr_enabled());
            eprintln!("{prefix} {}", sanitize(text.as_ref()));
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Print rows as aligned columns; the last column is not padded. Cells are sanitized
    /// before they are measured, so what replaces a control character keeps the columns aligned.
    /// With colour on, a cell other than the last that is exactly a task status is coloured
    /// (the last column is free text, such as a title, and is never painted).
    pub fn table(&mut self, rows: &[Vec<String>]) -> io::Result<()> {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| row.iter().map(|cell| sanitize(cell).into_owned()).collect())
            .collect();
        if !self.color {
            for line in align(&rows) {
                self.line(line)?;
            }
            return Ok(());
        }
        // Align plain text first, then paint each status cell within its padded place.
        for (row, line) in rows.iter().zip(align(&rows)) {
            let mut painted = String::with_capacity(line.len() + 16);
            let mut rest = line.as_str();
            for (i, cell) in row.iter().enumerate() {
                let Some(at) = rest.find(cell.as_str()) else { break };
                painted.push_str(&rest[..at]);
                match (i + 1 < row.len(), color::status_style(cell)) {
                    (true, Some(style)) => painted.push_str(&color::paint(cell, style, true)),
                    _ => painted.push_str(cell),
                }
                rest = &rest[at + cell.len()..];
            }
            painted.push_str(rest);
            writeln!(self.out, "{painted}")?;
        }
        Ok(())
    }
}

/// Align all but the last column with two spaces between columns.
pub fn align(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 < row.len() {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count() + 2));
                } else {
                    line.push_str(cell);
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

/// `n` with its noun in the right number: `1 task`, `3 tasks`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    match n {
        1 => format!("1 {singular}"),
        _ => format!("{n} {plural}"),
    }
}

/// `text` as it is safe to show on a terminal: every control character but line feed and tab
/// (ESC, BEL, carriage return, …), and every invisible bidirectional-text control (U+202E and
/// its kin), is replaced by its escape (`\u{1b}`), so it is seen instead of obeyed. Text with
/// nothing to replace is returned as it is, without copying.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| (c.is_control() && c != '\n' && c != '\t') || git_loom::model::stage::is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match unsafe_char(c) {
            true => clean.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            false => clean.push(c),
        }
    }
    Cow::Owned(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_shows_control_characters_instead_of_sending_them() {
        // Guards: titles, descriptions and handoff text holding ESC, BEL, CR or U+202E were written raw to the terminal.
        assert!(matches!(sanitize("plain\ttext\nnext line"), Cow::Borrowed(_)));
        assert_eq!(
            sanitize("red \u{1b}[31m bell\u{7} cr\r"),
            "red \\u{1b}[31m bell\\u{7} cr\\u{d}"
        );
        assert_eq!(sanitize("evil \u{202e}txt"), "evil \\u{202e}txt");
        assert_eq!(sanitize("ünï — ok"), "ünï — ok");
    }
}
