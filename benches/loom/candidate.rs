//! Building one merge candidate: gix in process (`Repo::merge_tree_in_process`, what the engine
//! tries first) against git (`Repo::merge_tree_with_git`, its fallback, and `git merge-tree
//! --write-tree` run from the command line for reference), on a generated repository of
//! realistic size, for a branch with a handful of changes and for a branch that renames a
//! thousand files.
//!
//! The repository is written by `git fast-import` from a seeded generator: 3,000 text files
//! of 40 lines in 60 directories, 300 commits on `main` each changing 6 lines in random files.
//! Both branches fork at commit 250, so `main` has moved on by 50 commits (300 changed lines)
//! and the merge is a real three-way merge. Each figure also says whether gix and git produced
//! the same tree: a difference is a finding, not noise.

use std::collections::BTreeSet;

use git_loom::repo::{ObjectId, TreeMerge};
use git_loom::store::Store;

use super::merge::fast_import;
use super::*;

const DIRS: usize = 60;
const FILES_PER_DIR: usize = 50;
const LINES: usize = 40;
const COMMITS: usize = 300;
/// The commit both branches fork from.
const FORK: usize = 250;
const CHANGES_PER_COMMIT: usize = 6;
/// Directories the rename branch moves (50 files each).
const MOVED_DIRS: usize = 20;
/// Every this many moved files is also edited (an inexact rename).
const EDIT_EVERY: usize = 10;
/// Timed runs of each way, after one untimed first call.
const CANDIDATE_RUNS: usize = 11;
/// No one way may take longer than this over all its runs.
const CANDIDATE_BUDGET: Duration = Duration::from_secs(120);

/// One merge measured three ways.
pub(super) struct CandidateRow {
    pub(super) case: String,
    pub(super) first_in_process_ms: f64,
    pub(super) in_process: Figure,
    pub(super) with_git: Figure,
    pub(super) git_cli: Figure,
    /// What each way decided, and whether they agree.
    pub(super) verdict: String,
}

fn path_of(file: usize) -> String {
    format!("src/d{:02}/f{:03}.txt", file / FILES_PER_DIR, file % FILES_PER_DIR)
}

fn moved_path_of(file: usize) -> String {
    format!("lib/d{:02}/f{:03}.txt", file / FILES_PER_DIR, file % FILES_PER_DIR)
}

fn blob(stream: &mut String, path: &str, lines: &[String]) {
    let content: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let _ = writeln!(stream, "M 100644 inline {path}\ndata {}\n{content}", content.len());
}

fn commit_header(stream: &mut String, branch: &str, mark: Option<usize>, message: &str, time: usize) {
    let _ = writeln!(stream, "commit refs/heads/{branch}");
    if let Some(mark) = mark {
        let _ = writeln!(stream, "mark :{mark}");
    }
    let _ = write!(
        stream,
        "committer bench <bench@example.invalid> {} +0000\ndata {}\n{message}\n",
        1_700_000_000 + time * 60,
        message.len() + 1
    );
}

/// Generate the repository in `dir`: `main`, `topic` (a handful of changes) and `renames`.
fn generate_repository(dir: &Path, seed: u64) -> (usize, usize) {
    std::fs::create_dir_all(dir).expect("the work directory is writable");
    git(dir, &["init", "-q", "-b", "main"]);
    let files = DIRS * FILES_PER_DIR;
    let mut rng = Rng::new(seed ^ 0x006d_6572_6765);
    let mut contents: Vec<Vec<String>> = (0..files)
        .map(|file| {
            (0..LINES)
                .map(|line| format!("{} line {line}: {:016x}", path_of(file), rng.next()))
                .collect()
        })
        .collect();
    let mut stream = String::new();
    commit_header(&mut stream, "main", Some(1), "initial", 1);
    for (file, lines) in contents.iter().enumerate() {
        blob(&mut stream, &path_of(file), lines);
    }
    let mut at_fork = Vec::new();
    let mut changed_after_fork = BTreeSet::new();
    for commit in 2..=COMMITS {
        commit_header(&mut stream, "main", Some(commit), &format!("change {commit}"), commit);
        for _ in 0..CHANGES_PER_COMMIT {
            let file = rng.below(files);
            // `main` changes lines 10 and after; the branches change the first ones, so the
            // merges are clean but need a content merge where both touched a file.
            let line = 10 + rng.below(LINES - 10);
            contents[file][line] = format!("{} line {line}: main {commit}", path_of(file));
            blob(&mut stream, &path_of(file), &contents[file]);
            if commit > FORK {
                changed_after_fork.insert(file);
            }
        }
        if commit == FORK {
            at_fork = contents.clone();
        }
    }
    // `topic`: three commits touching ten files, four of them changed on `main` too.
    let both: Vec<usize> = changed_after_fork.iter().copied().take(4).collect();
    let only: Vec<usize> = (0..files)
        .filter(|file| !changed_after_fork.contains(file))
        .step_by(397)
        .take(5)
        .collect();
    commit_header(&mut stream, "topic", None, "topic: edit", COMMITS + 1);
    let _ = writeln!(stream, "from :{FORK}");
    let mut topic = at_fork.clone();
    for &file in both.iter().chain(&only[..4]) {
        topic[file][2] = format!("{} line 2: topic", path_of(file));
        blob(&mut stream, &path_of(file), &topic[file]);
    }
    commit_header(&mut stream, "topic", None, "topic: add", COMMITS + 2);
    blob(&mut stream, "src/new/feature.txt", &["a new file".to_owned()]);
    commit_header(&mut stream, "topic", None, "topic: remove", COMMITS + 3);
    let _ = writeln!(stream, "D {}", path_of(only[4]));
    // `renames`: one commit moving MOVED_DIRS directories, editing every EDIT_EVERY-th file.
    commit_header(&mut stream, "renames", None, "move src/d00-d19 to lib/", COMMITS + 1);
    let _ = writeln!(stream, "from :{FORK}");
    let moved = MOVED_DIRS * FILES_PER_DIR;
    for (file, at_fork) in at_fork.iter().enumerate().take(moved) {
        let mut lines = at_fork.clone();
        if file % EDIT_EVERY == 0 {
            lines[0] = format!("{} line 0: moved", moved_path_of(file));
        }
        let _ = writeln!(stream, "D {}", path_of(file));
        blob(&mut stream, &moved_path_of(file), &lines);
    }
    fast_import(dir, stream.as_bytes());
    let followed = changed_after_fork.iter().filter(|&&file| file < moved).count();
    (moved, followed)
}

fn time_call(mut call: impl FnMut()) -> Duration {
    let start = Instant::now();
    call();
    start.elapsed()
}

/// Run `call` [`CANDIDATE_RUNS`] times (fewer, but at least 3, past [`CANDIDATE_BUDGET`]).
fn timed_runs(mut call: impl FnMut() -> Duration) -> Figure {
    measure_within(CANDIDATE_RUNS, CANDIDATE_BUDGET, || {}, |_| call())
}

fn verdict_text(merge: &TreeMerge) -> String {
    match merge {
        TreeMerge::Clean { tree } => format!("clean, tree {}", &tree.to_string()[..12]),
        TreeMerge::Conflict { paths } => format!("{} conflicting paths", paths.len()),
        TreeMerge::Undecidable { reason } => format!("undecidable ({reason})"),
    }
}

/// Measure both merges on a freshly generated repository under `work`.
pub(super) fn candidate_builds(work: &Path, seed: u64) -> (Vec<CandidateRow>, String) {
    let dir = work.join("candidates");
    let generated = Instant::now();
    let (moved, followed) = generate_repository(&dir, seed);
    let context = format!(
        "{} files in {DIRS} directories, {COMMITS} commits on `main` ({CHANGES_PER_COMMIT} changed \
         lines each), generated in {:.1} s; both branches fork at commit {FORK}. `topic`: 3 commits \
         changing 8 files (4 of them also changed on `main` since the fork), adding one, \
         removing one. `renames`: one commit moving {} files to another directory, one in \
         {EDIT_EVERY} also edited; {followed} of the moved files were changed on `main` since \
         the fork, so the merge must follow the renames to stay clean",
        thousands(DIRS * FILES_PER_DIR),
        generated.elapsed().as_secs_f64(),
        thousands(moved)
    );
    let store = Store::discover(&dir).expect("the generated repository opens");
    let repo = store.repo();
    let id = |rev: &str| ObjectId::from_hex(git(&dir, &["rev-parse", rev]).as_bytes()).expect("rev-parse prints an id");
    let ours = id("main");
    let mut rows = Vec::new();
    for case in ["topic", "renames"] {
        let theirs = id(case);
        let mut first = None;
        let first_ms = time_call(|| {
            first = Some(repo.merge_tree_in_process(ours, theirs).expect("gix merges"));
        })
        .as_secs_f64()
            * 1_000.0;
        let in_process = timed_runs(|| {
            time_call(|| {
                repo.merge_tree_in_process(ours, theirs).expect("gix merges");
            })
        });
        let mut by_git = None;
        let with_git = timed_runs(|| {
            time_call(|| {
                by_git = Some(repo.merge_tree_with_git(ours, theirs).expect("git merges"));
            })
        });
        let git_cli = timed_runs(|| {
            time_process(
                git_cmd(&dir)
                    .args(["merge-tree", "--write-tree", "main", case])
                    .stdout(Stdio::null()),
            )
        });
        let (first, by_git) = (
            first.expect("the first call ran"),
            by_git.expect("git ran at least once"),
        );
        let verdict = match first == by_git {
            true => format!("both {}", verdict_text(&first)),
            false => format!(
                "**differ**: gix {}, git {}",
                verdict_text(&first),
                verdict_text(&by_git)
            ),
        };
        eprintln!(
            "  {case:<8} in process {:.1} ms median (first {first_ms:.1}), with git {:.1} ms, git merge-tree {:.1} ms; {verdict}",
            in_process.median, with_git.median, git_cli.median
        );
        rows.push(CandidateRow {
            case: case.to_owned(),
            first_in_process_ms: first_ms,
            in_process,
            with_git,
            git_cli,
            verdict,
        });
    }
    (rows, context)
}

/// The candidate builds' part of the report.
pub(super) fn candidate_report(out: &mut String, rows: &[CandidateRow], context: &str) {
    let _ = writeln!(
        out,
        "One candidate built on a generated repository: {context}. *in process* is \
         `Repo::merge_tree_in_process` (gix, the repository opened once; the first call, which \
         loads what gix caches, is shown apart); *with git* is `Repo::merge_tree_with_git` (the \
         engine's fallback: a `git merge-tree --write-tree -z --name-only` process, parsed); *git \
         merge-tree* is `git merge-tree --write-tree main <branch>` run from the command line. \
         Median and p90 of up to {CANDIDATE_RUNS} runs each; every way writes the merged tree."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| branch | in process, first ms | in process median ms | p90 ms | with git median ms | p90 ms | \
         git merge-tree median ms | runs | in process ÷ with git | verdicts |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            row.case,
            ms(row.first_in_process_ms),
            ms(row.in_process.median),
            ms(row.in_process.p90),
            ms(row.with_git.median),
            ms(row.with_git.p90),
            ms(row.git_cli.median),
            row.in_process.runs.min(row.with_git.runs).min(row.git_cli.runs),
            row.in_process.median / row.with_git.median,
            row.verdict
        );
    }
    let _ = writeln!(out);
}
