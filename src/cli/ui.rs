//! Where command output goes: results to stdout (human text or JSON), warnings and notes to
//! stderr. `--json` changes only stdout; errors are always text on stderr. `-q` silences
//! notes and warnings but never a result a script asked for.

use std::io::{self, BufWriter, Stdout, Write};

use serde::Serialize;

pub struct Ui {
    out: BufWriter<Stdout>,
    pub json: bool,
    pub quiet: bool,
}

impl Ui {
    pub fn new(json: bool, quiet: bool) -> Self {
        Ui {
            out: BufWriter::new(io::stdout()),
            json,
            quiet,
        }
    }

    /// One line of human output.
    pub fn line(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        writeln!(self.out, "{}", text.as_ref())
    }

    /// Text written as is (it carries its own newlines).
    pub fn text(&mut self, text: impl AsRef<str>) -> io::Result<()> {
        self.out.write_all(text.as_ref().as_bytes())
    }

    /// The JSON result of a command, pretty-printed, followed by a newline.
    pub fn json_value(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, value).map_err(io::Error::from)?;
        writeln!(self.out)
    }

    /// Something the user should know that is not the result (to stderr).
    pub fn note(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.out.flush();
            eprintln!("{}", text.as_ref());
        }
    }

    pub fn warn(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = self.out.flush();
            eprintln!("warning: {}", text.as_ref());
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Print rows as aligned columns; the last column is not padded.
    pub fn table(&mut self, rows: &[Vec<String>]) -> io::Result<()> {
        for line in align(rows) {
            self.line(line)?;
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
