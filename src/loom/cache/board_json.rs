//! The `--json` text of the board: every task's object exactly as `list --json` and
//! `ready --json` print it, kept in a file beside the board so that a listing an agent asks for
//! copies bytes instead of reading, deriving and rendering every task again.
//!
//! Guarantees:
//! - the text belongs to exactly one board: the board records the random id of the text written
//!   with it, and text under any other id (a concurrent builder's, an older one) is never shown;
//! - the text is rendered by the layer that owns the wire shapes ([`JsonRenderer`]), from the
//!   same snapshot the board's rows come from, so the bytes are those a fresh rendering prints;
//! - a missing, damaged or foreign file is rebuilt, never misread (magic line, id, CRC-32).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::loom::Loom;
use crate::loom::read::TaskEntry;
use crate::loom::snapshot::{ReadyTask, Snapshot};
use crate::model::{Claim, Derived, TaskId};

const MAGIC: &[u8] = b"git-loom board json v1\n";

/// Which listing's text: the rows (`list --json`) or the ready tasks (`ready --json`), each in
/// a file of its own so that either is read without the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonListing {
    List,
    Ready,
}

impl JsonListing {
    pub(super) const ALL: [JsonListing; 2] = [JsonListing::List, JsonListing::Ready];

    /// Its place in [`JsonListing::ALL`] (and in what [`build`] returns).
    pub(super) fn index(self) -> usize {
        match self {
            JsonListing::List => 0,
            JsonListing::Ready => 1,
        }
    }

    pub(super) fn file_name(self) -> &'static str {
        match self {
            JsonListing::List => "board.json",
            JsonListing::Ready => "board.ready.json",
        }
    }
}

/// Renders the `--json` object of every listed task (in list order) and of every ready task
/// (in ready order), each as it appears as an element of a pretty-printed array (indented one
/// level, without the separating comma). Given by the layer that owns the wire shapes; the
/// core only stores and copies the bytes.
pub type JsonRenderer = fn(
    snapshot: &Snapshot,
    rows: &[(&TaskEntry, Derived)],
    ready: &[ReadyTask<'_>],
    claims: &BTreeMap<TaskId, Claim>,
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// The text of one listing of one board as decoded, borrowing from the file's bytes.
#[derive(Debug, Serialize, Deserialize)]
pub struct BoardJson<'a> {
    /// Claims that could not be read while rendering, as warnings (their tasks show no claim);
    /// only the list's text has them, as only `list --json` shows claims.
    #[serde(borrow)]
    pub warnings: Vec<&'a str>,
    /// The list's text: one object per board row, in row order. The ready text: one object per
    /// ready task, in ready order (with how many tasks it unblocks).
    #[serde(borrow)]
    pub items: Vec<&'a [u8]>,
}

/// Render the text for a board built from `snapshot`: the bytes of the list's file and of the
/// ready file.
pub(super) fn build(
    loom: &Loom,
    render: JsonRenderer,
    snapshot: &Snapshot,
    rows: &[(&TaskEntry, Derived)],
    ready: &[ReadyTask<'_>],
    id: u64,
) -> [Vec<u8>; 2] {
    let mut claims = BTreeMap::new();
    let mut warnings = Vec::new();
    // A void claim is not shown, as in every listing.
    for (task, tip) in snapshot.live_claims() {
        match loom.read_claim(task, tip) {
            Ok(claim) => {
                claims.insert(task.clone(), claim);
            }
            Err(err) => warnings.push(format!("skipping claim: {err}")),
        }
    }
    let (row_text, ready_text) = render(snapshot, rows, ready, &claims);
    let list = BoardJson {
        warnings: warnings.iter().map(String::as_str).collect(),
        items: row_text.iter().map(Vec::as_slice).collect(),
    };
    let ready = BoardJson {
        warnings: Vec::new(),
        items: ready_text.iter().map(Vec::as_slice).collect(),
    };
    [encode(&list, id), encode(&ready, id)]
}

/// The magic line, the board's id, a CRC-32 of the body, then the body.
fn encode(text: &BoardJson<'_>, id: u64) -> Vec<u8> {
    let body = postcard::to_stdvec(text).expect("encoding into memory cannot fail because a Vec grows as needed");
    let mut bytes = Vec::with_capacity(MAGIC.len() + 12 + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&id.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Decode the text of the board whose JSON id is `id`, or `None` when the bytes are damaged,
/// of another version, belong to another board, or do not have `items` entries.
pub(super) fn decode(bytes: &[u8], id: u64, items: usize) -> Option<BoardJson<'_>> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (found, rest) = rest.split_first_chunk::<8>()?;
    if id == 0 || u64::from_le_bytes(*found) != id {
        return None;
    }
    let (checksum, body) = rest.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*checksum) != crc32fast::hash(body) {
        return None;
    }
    let text: BoardJson<'_> = postcard::from_bytes(body).ok()?;
    (text.items.len() == items).then_some(text)
}

/// Write the text files; failing only costs a rebuild later, so errors are ignored. Written
/// before the board that names them, so a board never names text that is not there yet.
pub(super) fn save(dir: &Path, files: &[Vec<u8>; 2]) -> bool {
    let _ = std::fs::create_dir_all(dir);
    JsonListing::ALL.iter().zip(files).all(|(listing, bytes)| {
        let Ok(mut file) = tempfile::NamedTempFile::new_in(dir) else {
            return false;
        };
        file.write_all(bytes).is_ok() && file.persist(dir.join(listing.file_name())).is_ok()
    })
}

/// Write `items` (elements as a [`JsonRenderer`] renders them) as one pretty-printed JSON
/// array followed by a newline: the bytes `serde_json::to_writer_pretty` prints for the
/// array of the same values.
pub fn write_array<'a>(
    out: &mut impl std::io::Write,
    items: impl IntoIterator<Item = &'a [u8]>,
) -> std::io::Result<()> {
    let mut first = true;
    for item in items {
        out.write_all(if first { b"[\n" } else { b",\n" })?;
        out.write_all(item)?;
        first = false;
    }
    out.write_all(if first { b"[]\n" } else { b"\n]\n" })
}

/// One value rendered as an element of a pretty-printed array, for a [`JsonRenderer`].
pub fn array_element(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer_pretty(&mut bytes, &[value])
        .expect("serializing into memory cannot fail because every shape is plain data with string keys");
    // An array of one prints as "[\n" + element + "\n]".
    bytes.truncate(bytes.len().saturating_sub(2));
    bytes.drain(..2.min(bytes.len()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: the copied listing differing in any byte from serde_json's own pretty array.
    #[test]
    fn write_array_prints_what_serde_json_prints() {
        let values = [
            serde_json::json!({"id": "a", "list": [], "map": {}, "nested": {"x": [1, 2]}, "text": "line\nbreak"}),
            serde_json::json!({"id": "b", "empty": null}),
        ];
        for count in 0..=values.len() {
            let expected = {
                let mut out = serde_json::to_vec_pretty(&values[..count]).expect("plain values serialize");
                out.push(b'\n');
                out
            };
            let items: Vec<Vec<u8>> = values[..count].iter().map(array_element).collect();
            let mut out = Vec::new();
            write_array(&mut out, items.iter().map(Vec::as_slice)).expect("writing to memory works");
            assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&expected));
        }
    }

    // Guards: text of another board (or damaged text) shown with this board.
    #[test]
    fn decode_refuses_foreign_or_damaged_text() {
        let text = BoardJson {
            warnings: vec![],
            items: vec![b"  {}".as_slice()],
        };
        let mut bytes = encode(&text, 7);
        assert!(decode(&bytes, 7, 1).is_some());
        assert!(decode(&bytes, 8, 1).is_none(), "another board's id");
        assert!(decode(&bytes, 7, 2).is_none(), "another number of rows");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        assert!(decode(&bytes, 7, 1).is_none(), "a damaged body");
    }
}
