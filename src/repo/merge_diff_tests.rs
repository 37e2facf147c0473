//! The in-process merge against git's own `merge-tree` on the same commits: both must call the
//! same cases clean or conflicted and write the same tree when clean; the conflicted paths each
//! names are pinned per case (they agree except where git names paths it moved aside).

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::repo::testing::TestRepo;

/// One merge case: the base files, then what each side does to them.
struct Case {
    name: &'static str,
    base: &'static [(&'static str, &'static str)],
    ours: fn(&TestRepo),
    theirs: fn(&TestRepo),
    clean: bool,
    /// The conflicted paths both must name (empty when clean).
    paths: &'static [&'static str],
    /// Where git names other paths than gix (see the case), git's, with the commit id in a
    /// `path~<commit>` name cut to `path~`.
    git_paths: Option<&'static [&'static str]>,
}

fn rm(repo: &TestRepo, path: &str) {
    repo.git(&["rm", "--quiet", "-r", path]);
}

fn make_executable(repo: &TestRepo, path: &str) {
    let file = repo.path.join(path);
    let mut permissions = std::fs::metadata(&file).unwrap().permissions();
    permissions.set_mode(0o755);
    std::fs::set_permissions(&file, permissions).unwrap();
}

const TEN: &str = "line 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "disjoint edits",
            base: &[("a.txt", "a\n"), ("b.txt", "b\n")],
            ours: |r| r.write(&[("a.txt", "a ours\n")]),
            theirs: |r| r.write(&[("b.txt", "b theirs\n")]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        Case {
            name: "edits to different parts of one file",
            base: &[("f.txt", TEN)],
            ours: |r| r.write(&[("f.txt", &TEN.replace("line 2\n", "line two\n"))]),
            theirs: |r| r.write(&[("f.txt", &TEN.replace("line 9\n", "line nine\n"))]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        Case {
            name: "same-line conflict",
            base: &[("f.txt", TEN)],
            ours: |r| r.write(&[("f.txt", &TEN.replace("line 5\n", "ours\n"))]),
            theirs: |r| r.write(&[("f.txt", &TEN.replace("line 5\n", "theirs\n"))]),
            clean: false,
            paths: &["f.txt"],
            git_paths: None,
        },
        Case {
            name: "add/add, same content",
            base: &[("a.txt", "a\n")],
            ours: |r| r.write(&[("new.txt", "same\n")]),
            theirs: |r| r.write(&[("new.txt", "same\n")]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        Case {
            name: "add/add, different content",
            base: &[("a.txt", "a\n")],
            ours: |r| r.write(&[("new.txt", "ours\n")]),
            theirs: |r| r.write(&[("new.txt", "theirs\n")]),
            clean: false,
            paths: &["new.txt"],
            git_paths: None,
        },
        Case {
            name: "delete/modify",
            base: &[("a.txt", "a\n"), ("f.txt", TEN)],
            ours: |r| rm(r, "f.txt"),
            theirs: |r| r.write(&[("f.txt", &TEN.replace("line 5\n", "theirs\n"))]),
            clean: false,
            paths: &["f.txt"],
            git_paths: None,
        },
        Case {
            name: "both delete",
            base: &[("a.txt", "a\n"), ("f.txt", TEN)],
            ours: |r| rm(r, "f.txt"),
            theirs: |r| rm(r, "f.txt"),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        Case {
            name: "rename/modify",
            base: &[("old.txt", TEN)],
            ours: |r| {
                r.git(&["mv", "old.txt", "renamed.txt"]);
            },
            theirs: |r| r.write(&[("old.txt", &TEN.replace("line 5\n", "theirs\n"))]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        // git also leaves the rename source with conflict stages; gix names where each side
        // put the file.
        Case {
            name: "rename/rename to different names",
            base: &[("old.txt", TEN)],
            ours: |r| {
                r.git(&["mv", "old.txt", "ours.txt"]);
            },
            theirs: |r| {
                r.git(&["mv", "old.txt", "theirs.txt"]);
            },
            clean: false,
            paths: &["ours.txt", "theirs.txt"],
            git_paths: Some(&["old.txt", "ours.txt", "theirs.txt"]),
        },
        // git moves our file aside to `thing~<commit>` and names only that; gix names both sides'
        // locations.
        Case {
            name: "directory/file",
            base: &[("a.txt", "a\n")],
            ours: |r| r.write(&[("thing", "a file\n")]),
            theirs: |r| r.write(&[("thing/inner.txt", "in a directory\n")]),
            clean: false,
            paths: &["thing", "thing/inner.txt"],
            git_paths: Some(&["thing~"]),
        },
        Case {
            name: "binary conflict",
            base: &[("a.txt", "a\n")],
            ours: |r| r.write_bytes("blob.bin", b"\0\x01ours\0binary"),
            theirs: |r| r.write_bytes("blob.bin", b"\0\x02theirs\0binary"),
            clean: false,
            paths: &["blob.bin"],
            git_paths: None,
        },
        Case {
            name: "mode change on one side, content change on the other",
            base: &[("run.sh", "echo one\n")],
            ours: |r| make_executable(r, "run.sh"),
            theirs: |r| r.write(&[("run.sh", "echo two\n")]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
        Case {
            name: "identical edits on both sides",
            base: &[("f.txt", TEN)],
            ours: |r| r.write(&[("f.txt", &TEN.replace("line 5\n", "both\n"))]),
            theirs: |r| r.write(&[("f.txt", &TEN.replace("line 5\n", "both\n"))]),
            clean: true,
            paths: &[],
            git_paths: None,
        },
    ]
}

// Guards: the in-process merge and git disagreeing on whether a merge needs a human, or on the
// tree a clean merge produces (a candidate gix builds must be the commit git would build).
#[test]
fn in_process_merge_agrees_with_git_merge_tree() {
    let cases = cases();
    assert!(cases.len() >= 8);
    for case in cases {
        let repo = TestRepo::with_files(case.base);
        let ours = repo.branch("ours", "main", case.ours);
        let theirs = repo.branch("theirs", "main", case.theirs);
        let handle = repo.repo();

        let gix = handle.merge_tree_in_process(ours, theirs).unwrap();
        let git = handle.merge_tree_with_git(ours, theirs).unwrap();

        match (&gix, &git) {
            (TreeMerge::Clean { tree: gix_tree }, TreeMerge::Clean { tree: git_tree }) => {
                assert!(case.clean, "{}: both call it clean, expected a conflict", case.name);
                assert_eq!(gix_tree, git_tree, "{}: the merged trees differ", case.name);
            }
            (TreeMerge::Conflict { paths: gix_paths }, TreeMerge::Conflict { paths: git_paths }) => {
                assert!(!case.clean, "{}: both call it conflicted, expected clean", case.name);
                assert_eq!(gix_paths, case.paths, "{}: gix's conflicted paths", case.name);
                let git_paths: Vec<String> = git_paths
                    .iter()
                    .map(|path| match path.split_once('~') {
                        Some((path, _commit)) => format!("{path}~"),
                        None => path.clone(),
                    })
                    .collect();
                assert_eq!(
                    git_paths,
                    case.git_paths.unwrap_or(case.paths),
                    "{}: git's conflicted paths",
                    case.name
                );
            }
            _ => panic!("{}: gix says {gix:?}, git says {git:?}", case.name),
        }
    }
}

// Guards: `merge_tree` returning gix's "cannot decide" to a caller instead of asking git.
#[test]
fn merge_tree_is_always_decided() {
    let repo = TestRepo::with_files(&[("a.txt", "a\n")]);
    let ours = repo.branch("ours", "main", |r| r.write(&[("b.txt", "b\n")]));
    let theirs = repo.branch("theirs", "main", |r| r.write(&[("c.txt", "c\n")]));
    let handle = repo.repo();
    let merged = handle.merge_tree(ours, theirs).unwrap();
    assert_eq!(merged, handle.merge_tree_with_git(ours, theirs).unwrap());
}
