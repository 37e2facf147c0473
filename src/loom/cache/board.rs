//! The board: what `ready` and `list` show, kept in one local file so that showing it again
//! while nothing changed costs little more than listing the refs.
//!
//! Guarantees:
//! - it is only a cache: it is used only when every task ref and claim ref still points at the
//!   commit it pointed at when the board was built (any ref change, by git-loom, `git fetch` or
//!   `git update-ref`, makes it stale; a task's work being marked merged is such a change),
//!   only under the `[merge] gate` it was built under (the gate decides which tasks are
//!   ready), and only before the earliest moment a failed task's
//!   retry falls due (the one way the passing of time changes what is shown); deleting the file
//!   loses nothing;
//! - a board that is missing, unreadable or from another version is rebuilt, never misread;
//! - it is replaced atomically (temporary file, then rename).
//!
//! `claim --next` may also start from a board built a few seconds ago without listing refs
//! (see [`Loom::next_candidates`]): every candidate is then checked against its refs before it
//! is claimed, so a stale board can cost a worse pick but never a wrong claim, and local writes
//! that can make a task ready delete the board and change its epoch, so that the next pick
//! sees them.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::board_json::{self, BoardJson, JsonListing, JsonRenderer};
use crate::loom::snapshot::Snapshot;
use crate::loom::{ListFilter, Loom, Result};
use crate::model::{Gate, Priority, View};
use crate::store::{self, RefTip, Store};

/// The first bytes of a board file; a different version is ignored, never misread.
const MAGIC: &[u8] = b"git-loom board v4\n";
// After the magic: a CRC-32 of the rest (little-endian), then the postcard-encoded view. A
// damaged file is rebuilt instead of shown.
const FILE_NAME: &str = "board.cache";
/// The ready rows alone, for `claim --next`.
const NEXT_FILE: &str = "board.next";
const NEXT_MAGIC: &[u8] = b"git-loom board ready v3\n";
/// Ids `claim --next` took since the board was built, one per line: a hint for the others.
const TAKEN_FILE: &str = "board.taken";
/// Changed by every write that can make a task ready.
const EPOCH_FILE: &str = "board.epoch";
/// How old a board `claim --next` uses without listing refs may be.
pub const NEXT_TRUSTS_BOARD_FOR: SignedDuration = SignedDuration::from_secs(30);

/// One task as the board shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoardRow<'a> {
    pub id: &'a str,
    pub view: View,
    pub priority: Priority,
    pub title: &'a str,
    #[serde(borrow)]
    pub labels: Vec<&'a str>,
    /// The plan and stage the task was imported from, if it was.
    #[serde(borrow)]
    pub plan: Option<&'a str>,
    #[serde(borrow)]
    pub stage: Option<&'a str>,
    /// Blocked only until the work of done dependencies is merged (gate `merged`).
    pub awaiting_merge: bool,
}

/// A ready task: its row and how many open tasks wait on it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct BoardReady {
    pub row: u32,
    pub unblocks: u32,
}

/// A ref the board could not read, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoardProblem<'a> {
    pub ref_name: &'a str,
    pub problem: &'a str,
}

/// The board as decoded, borrowing its text from the file's bytes.
#[derive(Debug, Serialize, Deserialize)]
pub struct BoardView<'a> {
    built_at: i128,
    #[serde(borrow)]
    epoch: &'a str,
    /// The `[merge] gate` the tasks were judged under.
    #[serde(borrow)]
    gate: &'a str,
    valid_until: Option<i128>,
    #[serde(borrow)]
    key: &'a [u8],
    /// The id of the `--json` text written with this board (see [`board_json`]); 0 for none.
    json_id: u64,
    /// Every readable task, in list order: priority, then age, then id.
    #[serde(borrow)]
    pub rows: Vec<BoardRow<'a>>,
    /// The ready tasks, best first.
    pub ready: Vec<BoardReady>,
    #[serde(borrow)]
    pub problems: Vec<BoardProblem<'a>>,
}

impl BoardView<'_> {
    /// The rows `filter` selects, in list order.
    pub fn list<'v>(&'v self, filter: &'v ListFilter) -> impl Iterator<Item = &'v BoardRow<'v>> + 'v {
        self.list_indices(filter).map(|index| &self.rows[index])
    }

    /// The indices of the rows `filter` selects, in list order.
    pub fn list_indices<'v>(&'v self, filter: &'v ListFilter) -> impl Iterator<Item = usize> + 'v {
        let default_hidden = [View::Done, View::Cancelled, View::Idea];
        self.rows.iter().enumerate().filter_map(move |(index, row)| {
            let labelled = filter.label.as_deref().is_none_or(|label| row.labels.contains(&label));
            let shown = if filter.statuses.is_empty() {
                filter.all || !default_hidden.contains(&row.view)
            } else {
                filter.statuses.contains(&row.view)
            };
            (labelled && shown).then_some(index)
        })
    }

    /// The ready tasks, best first, with how many open tasks wait on each.
    pub fn ready(&self) -> impl Iterator<Item = (&BoardRow<'_>, u32)> + '_ {
        self.ready
            .iter()
            .map(|ready| (&self.rows[ready.row as usize], ready.unblocks))
    }

    /// How many objects the text of `listing` holds for this board.
    fn json_items(&self, listing: JsonListing) -> usize {
        match listing {
            JsonListing::List => self.rows.len(),
            JsonListing::Ready => self.ready.len(),
        }
    }

    fn usable_at(&self, now: Timestamp, gate: Gate) -> bool {
        let now = now.as_nanosecond();
        self.built_at <= now && self.valid_until.is_none_or(|until| now < until) && self.gate == gate.as_str()
    }
}

/// What `claim --next` reads: the ready rows in ready order, kept in a file of their own so
/// that picking a task never decodes the whole board.
#[derive(Debug, Serialize, Deserialize)]
struct NextView<'a> {
    built_at: i128,
    #[serde(borrow)]
    epoch: &'a str,
    #[serde(borrow)]
    gate: &'a str,
    valid_until: Option<i128>,
    #[serde(borrow)]
    ready: Vec<BoardRow<'a>>,
}

impl NextView<'_> {
    /// Whether `claim --next` may start from this without listing refs at `now`.
    fn trusted_at(&self, now: Timestamp, current_epoch: &str, gate: Gate) -> bool {
        let now = now.as_nanosecond();
        self.gate == gate.as_str()
            && self.built_at <= now
            && self.valid_until.is_none_or(|until| now < until)
            && now - self.built_at < NEXT_TRUSTS_BOARD_FOR.as_nanos()
            && self.epoch == current_epoch
    }
}

/// Every task ref and claim ref with its tip, and every ref under them that could not be
/// read, as one byte string: equal keys mean nothing the board shows can differ.
fn listing_key(tasks: &Listing, claims: &Listing) -> Vec<u8> {
    let mut key = Vec::with_capacity((tasks.0.len() + claims.0.len()) * 64 + 8);
    for (section, (tips, broken)) in [(b"tasks\n", tasks), (b"claim\n", claims)] {
        key.extend_from_slice(section);
        for tip in tips {
            key.extend_from_slice(tip.name.as_bytes());
            key.push(0);
            key.extend_from_slice(tip.tip.as_slice());
        }
        for err in broken {
            key.extend_from_slice(b"\nbroken ");
            key.extend_from_slice(err.to_string().as_bytes());
        }
    }
    key
}

/// Refs listed under one prefix: the readable ones and the errors of the others.
type Listing = (Vec<RefTip>, Vec<store::Error>);

/// The files of one board: the board, the ready rows for `claim --next`, and the `--json`
/// text when it was rendered.
struct Built {
    board: Vec<u8>,
    next: Vec<u8>,
    json: Option<[Vec<u8>; 2]>,
}

/// Build the board's bytes from a snapshot whose refs were listed as `key`, with the `--json`
/// text when `render` is given.
fn build(loom: &Loom, snapshot: &Snapshot, key: &[u8], epoch: &str, render: Option<JsonRenderer>) -> Built {
    let everything = ListFilter {
        all: true,
        ..ListFilter::default()
    };
    let listed = snapshot.list(&everything);
    let index: HashMap<&str, u32> = listed
        .iter()
        .enumerate()
        .map(|(i, (entry, _))| (entry.task.id.as_str(), i as u32))
        .collect();
    let rows = listed
        .iter()
        .map(|(entry, derived)| BoardRow {
            id: entry.task.id.as_str(),
            view: derived.view,
            priority: entry.task.priority,
            title: &entry.task.title,
            labels: entry.task.labels.iter().map(String::as_str).collect(),
            plan: entry.task.plan(),
            stage: entry.task.stage(),
            awaiting_merge: !derived.awaiting_merge.is_empty() && derived.awaiting_merge == derived.blocked_by,
        })
        .collect();
    let ready_tasks = snapshot.ready();
    let ready = ready_tasks
        .iter()
        .filter_map(|ready| {
            Some(BoardReady {
                row: *index.get(ready.entry.task.id.as_str())?,
                unblocks: u32::try_from(ready.unblocks).unwrap_or(u32::MAX),
            })
        })
        .collect();
    let now = snapshot.now;
    let valid_until = snapshot
        .tasks
        .values()
        .filter_map(|entry| entry.task.retry_after)
        .filter(|at| *at > now)
        .min()
        .map(Timestamp::as_nanosecond);
    // Never 0, which means "no text".
    let json_id = render.map_or(0, |_| {
        getrandom::u64().unwrap_or_else(|_| now.as_nanosecond() as u64) | 1
    });
    let json = render.map(|render| board_json::build(loom, render, snapshot, &listed, &ready_tasks, json_id));
    let view = BoardView {
        built_at: now.as_nanosecond(),
        epoch,
        gate: snapshot.gate.as_str(),
        valid_until,
        key,
        json_id,
        rows,
        ready,
        problems: snapshot
            .problems
            .iter()
            .map(|problem| BoardProblem {
                ref_name: &problem.ref_name,
                problem: &problem.problem,
            })
            .collect(),
    };
    let next = NextView {
        built_at: view.built_at,
        epoch,
        gate: view.gate,
        valid_until,
        ready: view.ready().map(|(row, _)| row.clone()).collect(),
    };
    Built {
        board: encode(MAGIC, &view),
        next: encode(NEXT_MAGIC, &next),
        json,
    }
}

/// The magic line, a CRC-32 of the body, then the body.
fn encode(magic: &[u8], value: &impl Serialize) -> Vec<u8> {
    let body = postcard::to_stdvec(value).expect("encoding into memory cannot fail because a Vec grows as needed");
    let mut bytes = Vec::with_capacity(magic.len() + 4 + body.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// The body of a file written by [`encode`], or `None` when it is damaged or of another version.
fn checked_body<'b>(magic: &[u8], bytes: &'b [u8]) -> Option<&'b [u8]> {
    let rest = bytes.strip_prefix(magic)?;
    let (checksum, body) = rest.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*checksum) == crc32fast::hash(body)).then_some(body)
}

/// Decode a board file, or `None` when it is not a whole, undamaged board of this version.
fn decode(bytes: &[u8]) -> Option<BoardView<'_>> {
    let view: BoardView<'_> = postcard::from_bytes(checked_body(MAGIC, bytes)?).ok()?;
    let rows = view.rows.len();
    view.ready
        .iter()
        .all(|ready| (ready.row as usize) < rows)
        .then_some(view)
}

/// Replace the board files. Failing to write only costs speed later, so errors are ignored.
fn save(dir: &Path, built: &Built) {
    let _ = std::fs::create_dir_all(dir);
    // The text first: a board never names text that is not there yet.
    if let Some(json) = &built.json
        && !board_json::save(dir, json)
    {
        return;
    }
    let (board, next) = (&built.board, &built.next);
    let write = |name: &str, bytes: &[u8]| -> bool {
        let Ok(mut file) = tempfile::NamedTempFile::new_in(dir) else {
            return false;
        };
        file.write_all(bytes).is_ok() && file.persist(dir.join(name)).is_ok()
    };
    if write(FILE_NAME, board) && write(NEXT_FILE, next) {
        // Claims taken from the previous board are in this one's listing.
        let _ = std::fs::remove_file(dir.join(TAKEN_FILE));
    }
}

/// Delete the board (and its hints) and start a new epoch: called after writes that can make a
/// task ready, so that `claim --next` does not pick from a board that cannot know it. The
/// epoch covers a board being built at the same moment from refs listed before the write:
/// it carries the epoch read before its listing, which no longer matches.
pub(crate) fn forget(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE_NAME));
    let _ = std::fs::remove_file(dir.join(NEXT_FILE));
    let _ = std::fs::remove_file(dir.join(TAKEN_FILE));
    for listing in JsonListing::ALL {
        let _ = std::fs::remove_file(dir.join(listing.file_name()));
    }
    let epoch = getrandom::u64().map_or_else(|_| "unknown".to_owned(), |n| format!("{n:016x}"));
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(EPOCH_FILE), epoch);
}

/// The current epoch (see [`forget`]); empty before the first write that set one.
fn epoch(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(EPOCH_FILE)).unwrap_or_default()
}

/// Note that `id` was just claimed, so that `claim --next` elsewhere skips it without a look.
pub(crate) fn note_taken(dir: &Path, id: &str) {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(TAKEN_FILE));
    if let Ok(mut file) = file {
        // One short write in append mode: concurrent notes never interleave.
        let _ = file.write_all(format!("{id}\n").as_bytes());
    }
}

/// If the board file would be shown as it is (no ref changed since it was built) but
/// disagrees with a fresh read of every task (the readable ids, and the refs that could
/// not be read), what differs.
pub(crate) fn board_disagreement(
    store: &Store,
    readable: &std::collections::BTreeSet<&str>,
    unreadable: &std::collections::BTreeSet<&str>,
) -> Result<Option<String>> {
    let dir = store.local_dir();
    let tasks = store.list(store::TASKS_PREFIX)?;
    let claims = store.list(store::CLAIMS_PREFIX)?;
    let key = listing_key(&tasks, &claims);
    let Ok(bytes) = std::fs::read(dir.join(FILE_NAME)) else {
        return Ok(None);
    };
    let Some(view) = decode(&bytes).filter(|view| view.key == key.as_slice()) else {
        return Ok(None);
    };
    let shown: std::collections::BTreeSet<&str> = view.rows.iter().map(|row| row.id).collect();
    let reported: std::collections::BTreeSet<&str> = view.problems.iter().map(|p| p.ref_name).collect();
    let hidden: Vec<&str> = unreadable.difference(&reported).copied().collect();
    if shown != *readable {
        return Ok(Some(format!(
            "the board shows {} tasks where {} can be read",
            shown.len(),
            readable.len()
        )));
    }
    Ok((!hidden.is_empty()).then(|| format!("the board does not report {}", hidden.join(", "))))
}

impl Loom {
    /// Show the board as of `now`: from the board file when no ref changed since it was built,
    /// else from a fresh read of every task (which also replaces the file).
    pub fn with_board<R>(&self, now: Timestamp, show: impl FnOnce(&BoardView<'_>) -> R) -> Result<R> {
        self.board_files(now, None, |view, _| show(view))
    }

    /// Show the board with the `--json` text of its tasks, as [`Loom::with_board`] does; a
    /// board kept without text (or with text that does not belong to it) is rebuilt with text
    /// rendered by `render`.
    pub fn with_board_json<R>(
        &self,
        now: Timestamp,
        render: JsonRenderer,
        listing: JsonListing,
        show: impl FnOnce(&BoardView<'_>, &BoardJson<'_>) -> R,
    ) -> Result<R> {
        self.board_files(now, Some((render, listing)), |view, json| {
            show(
                view,
                json.expect("board_files hands text over whenever it was asked for"),
            )
        })
    }

    /// The board (and its text when `json` asks for it), from the files when they are still
    /// good, else rebuilt from a fresh read of every task (which also replaces the files).
    fn board_files<R>(
        &self,
        now: Timestamp,
        json: Option<(JsonRenderer, JsonListing)>,
        show: impl FnOnce(&BoardView<'_>, Option<&BoardJson<'_>>) -> R,
    ) -> Result<R> {
        let dir = self.store.local_dir();
        let epoch = epoch(&dir);
        let tasks = self.store.list(store::TASKS_PREFIX)?;
        let claims = self.store.list(store::CLAIMS_PREFIX)?;
        let key = listing_key(&tasks, &claims);
        if let Ok(bytes) = std::fs::read(dir.join(FILE_NAME))
            && let Some(view) = decode(&bytes)
            && view.key == key.as_slice()
            && view.usable_at(now, self.settings().merge.gate())
        {
            let Some((_, listing)) = json else {
                return Ok(show(&view, None));
            };
            if let Ok(text) = std::fs::read(dir.join(listing.file_name()))
                && let Some(text) = board_json::decode(&text, view.json_id, view.json_items(listing))
            {
                return Ok(show(&view, Some(&text)));
            }
        }
        let snapshot = self.snapshot_of(tasks, claims, now)?;
        let render = json.map(|(render, _)| render).or(self.json_renderer);
        let built = build(self, &snapshot, &key, &epoch, render);
        save(&dir, &built);
        let view = decode(&built.board).expect("a board just encoded decodes because both use one layout");
        let text = json.and_then(|(_, listing)| {
            let bytes = &built.json.as_ref()?[listing.index()];
            let text = board_json::decode(bytes, view.json_id, view.json_items(listing));
            Some(text.expect("text just encoded for this board decodes because both use one layout"))
        });
        Ok(show(&view, text.as_ref()))
    }

    /// Ids of ready tasks in best-first order for `claim --next`, and whether they come from a
    /// fresh read. A board built less than [`NEXT_TRUSTS_BOARD_FOR`] ago is used without
    /// listing refs unless `fresh` is asked for, minus the ids other claimers noted as taken.
    pub(crate) fn next_candidates(
        &self,
        now: Timestamp,
        fresh: bool,
        keep: impl Fn(&BoardRow<'_>) -> bool,
    ) -> Result<(Vec<String>, bool)> {
        let dir = self.store.local_dir();
        if !fresh
            && let Ok(bytes) = std::fs::read(dir.join(NEXT_FILE))
            && let Some(next) =
                checked_body(NEXT_MAGIC, &bytes).and_then(|body| postcard::from_bytes::<NextView<'_>>(body).ok())
            && next.trusted_at(now, &epoch(&dir), self.settings().merge.gate())
        {
            let taken = std::fs::read_to_string(dir.join(TAKEN_FILE)).unwrap_or_default();
            let taken: std::collections::HashSet<&str> = taken.lines().collect();
            let ids = next
                .ready
                .iter()
                .filter(|row| !taken.contains(row.id) && keep(row))
                .map(|row| row.id.to_owned())
                .collect();
            return Ok((ids, false));
        }
        let ids = self.with_board(now, |view| {
            view.ready()
                .filter(|(row, _)| keep(row))
                .map(|(row, _)| row.id.to_owned())
                .collect()
        })?;
        Ok((ids, true))
    }
}
