//! Candidates stacked on real repositories made with git: clean merges, conflicts that are
//! skipped, picks already merged, renames, and that nothing outside the object database moves.

use super::*;
use crate::repo::testing::TestRepo;

fn signature() -> CandidateSignature {
    CandidateSignature {
        name: "git-loom".into(),
        email: "loom@example.com".into(),
        time: Timestamp::from_second(1_700_000_000).expect("a valid time"),
    }
}

fn pick(tip: ObjectId, message: &str) -> Pick {
    Pick {
        tip,
        message: message.into(),
    }
}

/// The parents of `commit`, as git reads them.
fn parents(repo: &TestRepo, commit: ObjectId) -> Vec<ObjectId> {
    repo.git(&["rev-list", "--parents", "-n1", &commit.to_string()])
        .split_whitespace()
        .skip(1)
        .map(|hex| ObjectId::from_hex(hex.as_bytes()).expect("git prints ids"))
        .collect()
}

/// Every ref and its value, plus HEAD and the index's own hash: the state nothing may change.
fn refs_head_and_index(repo: &TestRepo) -> (String, String, Vec<u8>) {
    let refs = repo.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);
    let head = repo.git(&["symbolic-ref", "HEAD"]) + " " + &repo.git(&["rev-parse", "HEAD"]);
    let index = std::fs::read(repo.path.join(".git/index")).expect("the index exists");
    (refs, head, index)
}

// Guards: a candidate that loses a side, gets the parents wrong, or moves a ref, HEAD or the
// index while it is built.
#[test]
fn clean_merge_of_two_branches_writes_only_objects() {
    let repo = TestRepo::with_files(&[("a.txt", "a\n"), ("b.txt", "b\n")]);
    let one = repo.branch("one", "main", |r| r.write(&[("a.txt", "a from one\n")]));
    let two = repo.branch("two", "main", |r| r.write(&[("c.txt", "new from two\n")]));
    let base = repo.rev("main");
    let before = refs_head_and_index(&repo);

    let stack = repo
        .repo()
        .stack_candidate(base, &[pick(one, "merge one"), pick(two, "merge two")], &signature())
        .unwrap();

    assert_eq!(stack.base, base);
    assert_eq!(stack.outcomes.len(), 2);
    let PickOutcome::Merged { commit: first, .. } = stack.outcomes[0] else {
        panic!("one merges cleanly: {:?}", stack.outcomes);
    };
    let PickOutcome::Merged { commit: second, tree } = stack.outcomes[1] else {
        panic!("two merges cleanly: {:?}", stack.outcomes);
    };
    assert_eq!(stack.head, second);
    assert_eq!(stack.head_tree, tree);
    assert_eq!(repo.repo().tree_of(second).unwrap(), tree);
    assert_eq!(parents(&repo, first), vec![base, one]);
    assert_eq!(parents(&repo, second), vec![first, two]);
    assert_eq!(repo.show(second, "a.txt").as_deref(), Some("a from one\n"));
    assert_eq!(repo.show(second, "b.txt").as_deref(), Some("b\n"));
    assert_eq!(repo.show(second, "c.txt").as_deref(), Some("new from two\n"));
    assert_eq!(
        repo.git(&["log", "-1", "--format=%s|%an|%ae", &second.to_string()]),
        "merge two|git-loom|loom@example.com"
    );
    assert_eq!(refs_head_and_index(&repo), before, "no ref, HEAD or index moved");
    assert_eq!(
        repo.git(&["status", "--porcelain"]),
        "",
        "the working tree is untouched"
    );
}

// Guards: a conflicting pick that aborts the whole stack, hides its paths, or poisons the
// picks after it.
#[test]
fn conflicting_pick_is_skipped_and_later_picks_still_stack() {
    let repo = TestRepo::with_files(&[("f.txt", "line\n"), ("g.txt", "g\n")]);
    let first = repo.branch("first", "main", |r| r.write(&[("f.txt", "first\n")]));
    let clash = repo.branch("clash", "main", |r| {
        r.write(&[("f.txt", "clash\n"), ("g.txt", "g clash\n")])
    });
    let later = repo.branch("later", "main", |r| r.write(&[("h.txt", "h\n")]));
    repo.git(&["checkout", "--quiet", "main"]);
    repo.write(&[("g.txt", "g on main\n")]);
    let base = repo.commit_all("main moves");

    let stack = repo
        .repo()
        .stack_candidate(
            base,
            &[pick(first, "first"), pick(clash, "clash"), pick(later, "later")],
            &signature(),
        )
        .unwrap();

    let PickOutcome::Merged {
        commit: after_first, ..
    } = stack.outcomes[0]
    else {
        panic!("first merges: {:?}", stack.outcomes);
    };
    assert_eq!(
        stack.outcomes[1],
        PickOutcome::Conflict {
            paths: vec!["f.txt".into(), "g.txt".into()]
        }
    );
    let PickOutcome::Merged {
        commit: after_later, ..
    } = stack.outcomes[2]
    else {
        panic!("later merges: {:?}", stack.outcomes);
    };
    assert_eq!(
        parents(&repo, after_later),
        vec![after_first, later],
        "later stacks on the last good"
    );
    assert_eq!(stack.head, after_later);
    assert_eq!(repo.show(after_later, "f.txt").as_deref(), Some("first\n"));
    assert_eq!(repo.show(after_later, "g.txt").as_deref(), Some("g on main\n"));
    assert_eq!(repo.show(after_later, "h.txt").as_deref(), Some("h\n"));
}

// Guards: merging a branch the target already contains (an empty merge commit), and a pick
// already brought in earlier in the same stack.
#[test]
fn already_merged_pick_writes_nothing() {
    let repo = TestRepo::with_files(&[("a.txt", "a\n")]);
    let old = repo.branch("old", "main", |r| r.write(&[("b.txt", "b\n")]));
    repo.git(&["merge", "--quiet", "--no-ff", "-m", "old in", "old"]);
    let base = repo.rev("main");
    let fresh = repo.branch("fresh", "main", |r| r.write(&[("c.txt", "c\n")]));

    let stack = repo
        .repo()
        .stack_candidate(
            base,
            &[pick(old, "old"), pick(fresh, "fresh"), pick(fresh, "fresh again")],
            &signature(),
        )
        .unwrap();

    assert_eq!(stack.outcomes[0], PickOutcome::AlreadyMerged);
    assert!(matches!(stack.outcomes[1], PickOutcome::Merged { .. }));
    assert_eq!(stack.outcomes[2], PickOutcome::AlreadyMerged);

    let nothing = repo
        .repo()
        .stack_candidate(base, &[pick(old, "old")], &signature())
        .unwrap();
    assert_eq!(nothing.head, base, "nothing merged: the head is the base");
    assert_eq!(nothing.head_tree, repo.repo().tree_of(base).unwrap());
}

// Guards: rename detection off (or broken) in the in-process merge, which would turn a rename
// on one side and an edit on the other into a conflict or a lost edit.
#[test]
fn rename_on_one_side_and_edit_on_the_other_merge_clean() {
    let body: String = (1..=20).map(|n| format!("line {n}\n")).collect();
    let repo = TestRepo::with_files(&[("old_name.txt", &body)]);
    let renamed = repo.branch("renamed", "main", |r| {
        r.git(&["mv", "old_name.txt", "new_name.txt"]);
    });
    let edited = repo.branch("edited", "main", |r| {
        r.write(&[("old_name.txt", &body.replace("line 3\n", "line three\n"))]);
    });

    let stack = repo
        .repo()
        .stack_candidate(
            repo.rev("main"),
            &[pick(renamed, "rename"), pick(edited, "edit")],
            &signature(),
        )
        .unwrap();

    assert!(
        stack
            .outcomes
            .iter()
            .all(|outcome| matches!(outcome, PickOutcome::Merged { .. })),
        "{:?}",
        stack.outcomes
    );
    assert_eq!(repo.show(stack.head, "old_name.txt"), None);
    let merged = repo.show(stack.head, "new_name.txt").expect("the renamed file exists");
    assert!(
        merged.contains("line three\n") && !merged.contains("line 3\n"),
        "{merged}"
    );
}

// Guards: a stack that merges each pick onto the base instead of onto the previous result.
#[test]
fn three_branches_stack_in_order() {
    let repo = TestRepo::with_files(&[("shared.txt", "top\nmiddle\nbottom\n")]);
    let tips: Vec<ObjectId> = (1..=3)
        .map(|n| {
            repo.branch(&format!("b{n}"), "main", |r| {
                r.write(&[(format!("file{n}.txt").as_str(), format!("{n}\n").as_str())]);
            })
        })
        .collect();
    let base = repo.rev("main");
    let picks: Vec<Pick> = tips.iter().map(|tip| pick(*tip, "merge")).collect();

    let stack = repo.repo().stack_candidate(base, &picks, &signature()).unwrap();

    let commits: Vec<ObjectId> = stack
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            PickOutcome::Merged { commit, .. } => *commit,
            other => panic!("every pick merges: {other:?}"),
        })
        .collect();
    assert_eq!(parents(&repo, commits[0]), vec![base, tips[0]]);
    assert_eq!(parents(&repo, commits[1]), vec![commits[0], tips[1]]);
    assert_eq!(parents(&repo, commits[2]), vec![commits[1], tips[2]]);
    for n in 1..=3 {
        assert_eq!(repo.show(stack.head, &format!("file{n}.txt")), Some(format!("{n}\n")));
    }
    let first_parents = repo.git(&[
        "rev-list",
        "--first-parent",
        "--count",
        &format!("{base}..{}", stack.head),
    ]);
    assert_eq!(first_parents, "3", "one merge per pick on the first-parent line");
}

// Guards: a submodule change on both sides, which gix cannot decide (it has no submodule
// history), reported as gix's guess instead of git's verdict, or failing the stack.
#[test]
fn submodule_changed_on_both_sides_is_decided_by_git() {
    let repo = TestRepo::with_files(&[("a.txt", "a\n")]);
    let commits: Vec<String> = (1..=3).map(|n| repo.commit_all(&format!("c{n}")).to_string()).collect();
    let set_gitlink = |commit: &str, message: &str| {
        repo.git(&["update-index", "--add", "--cacheinfo", &format!("160000,{commit},sub")]);
        repo.git(&["commit", "--quiet", "-m", message]);
    };
    set_gitlink(&commits[0], "add sub");
    let base = repo.rev("main");
    repo.git(&["checkout", "--quiet", "-b", "ours"]);
    set_gitlink(&commits[1], "ours");
    let ours = repo.rev("ours");
    repo.git(&["checkout", "--quiet", "-b", "theirs", &base.to_string()]);
    set_gitlink(&commits[2], "theirs");
    let theirs = repo.rev("theirs");
    let handle = repo.repo();

    let in_process = handle.merge_tree_in_process(ours, theirs).unwrap();
    assert!(matches!(in_process, TreeMerge::Undecidable { .. }), "{in_process:?}");
    let decided = handle.merge_tree(ours, theirs).unwrap();
    assert_eq!(decided, handle.merge_tree_with_git(ours, theirs).unwrap());
    assert_eq!(
        decided,
        TreeMerge::Conflict {
            paths: vec!["sub".into()]
        }
    );

    let stack = handle
        .stack_candidate(ours, &[pick(theirs, "theirs")], &signature())
        .unwrap();
    assert_eq!(
        stack.outcomes,
        vec![PickOutcome::Conflict {
            paths: vec!["sub".into()]
        }]
    );
    assert_eq!(stack.head, ours);
}
