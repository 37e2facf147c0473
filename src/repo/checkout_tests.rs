//! Moving a branch by compare-and-swap and bringing the main checkout along, on real
//! repositories made with git.

use super::*;
use crate::repo::testing::{TestRepo, run};

/// A repository whose branch `main` (checked out) can move to `next`, a descendant adding
/// `new.txt` and changing `a.txt`.
fn repo_with_next() -> (TestRepo, ObjectId, ObjectId) {
    let repo = TestRepo::with_files(&[("a.txt", "a\n")]);
    let old = repo.rev("main");
    let next = repo.branch("next", "main", |r| {
        r.write(&[("a.txt", "a changed\n"), ("new.txt", "new\n")])
    });
    (repo, old, next)
}

fn reflog_subject(repo: &TestRepo, branch: &str) -> String {
    repo.git(&["reflog", "-1", "--format=%gs", &format!("refs/heads/{branch}")])
}

// Guards: a move that overwrites a branch another writer moved, or that treats the lost race
// as an error the caller cannot tell from a real failure.
#[test]
fn move_branch_is_a_compare_and_swap() {
    let (repo, old, next) = repo_with_next();
    repo.git(&["branch", "target", &old.to_string()]);

    let outcome = repo.repo().move_branch("target", old, next).unwrap();
    assert_eq!(outcome, MoveOutcome::Updated);
    assert_eq!(repo.rev("target"), next);
    assert_eq!(reflog_subject(&repo, "target"), "git-loom merge");

    // Another writer moved it since the candidate was built on `old`.
    let outcome = repo.repo().move_branch("target", old, old).unwrap();
    assert_eq!(outcome, MoveOutcome::Moved(next));
    assert_eq!(repo.rev("target"), next, "the other writer's value stays");
}

// Guards: a branch locked by another writer taken for a lost race (whose tip the caller would
// rebuild on although it did not move) or for a failure that loses the candidate.
#[test]
fn move_branch_on_a_locked_branch_is_retryable() {
    let (repo, old, next) = repo_with_next();
    repo.git(&["branch", "target", &old.to_string()]);
    let lock = repo.path.join(".git/refs/heads/target.lock");
    std::fs::write(&lock, format!("{next}\n")).unwrap();

    let result = repo.repo().move_branch("target", old, next);

    assert!(
        matches!(result, Err(Error::BranchLocked { ref branch }) if branch == "target"),
        "{result:?}"
    );
    assert_eq!(repo.rev("target"), old);
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(
        repo.repo().move_branch("target", old, next).unwrap(),
        MoveOutcome::Updated
    );
}

// Guards: a missing branch silently created (or reported as a lost race).
#[test]
fn move_branch_refuses_a_missing_branch() {
    let (repo, old, next) = repo_with_next();
    let result = repo.repo().move_branch("absent", old, next);
    assert!(
        matches!(result, Err(Error::NoSuchBranch { ref branch }) if branch == "absent"),
        "{result:?}"
    );
    assert!(repo.git(&["branch", "--list", "absent"]).is_empty());
}

// Guards: a clean checkout of the moved branch left showing the move reversed as staged
// changes, or updated by switching branches.
#[test]
fn clean_checkout_follows_the_branch() {
    let (repo, old, next) = repo_with_next();
    repo.write(&[("untracked.txt", "mine\n")]);
    assert_eq!(
        repo.repo().move_branch("main", old, next).unwrap(),
        MoveOutcome::Updated
    );

    let update = repo.repo().update_checkout("main", old, next).unwrap();

    let dir = repo.path.canonicalize().unwrap();
    assert!(
        matches!(&update, CheckoutUpdate::FastForwarded { dir: got } if got.canonicalize().unwrap() == dir),
        "{update:?}"
    );
    assert_eq!(std::fs::read_to_string(repo.path.join("a.txt")).unwrap(), "a changed\n");
    assert_eq!(std::fs::read_to_string(repo.path.join("new.txt")).unwrap(), "new\n");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("untracked.txt")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        repo.git(&["status", "--porcelain", "--untracked-files=no"]),
        "",
        "index and files match HEAD"
    );
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main", "still on main");
}

// Guards: the user's uncommitted edits overwritten (or mixed with the new tip) when the branch
// they have checked out moves.
#[test]
fn dirty_checkout_is_left_alone() {
    let (repo, old, next) = repo_with_next();
    repo.write(&[("a.txt", "my edit\n")]);
    repo.repo().move_branch("main", old, next).unwrap();

    let update = repo.repo().update_checkout("main", old, next).unwrap();

    assert!(matches!(update, CheckoutUpdate::LeftDirty { .. }), "{update:?}");
    assert_eq!(std::fs::read_to_string(repo.path.join("a.txt")).unwrap(), "my edit\n");
    assert!(!repo.path.join("new.txt").exists());

    // Staged but otherwise unchanged counts as dirty too.
    let (repo, old, next) = repo_with_next();
    repo.write(&[("staged.txt", "staged\n")]);
    repo.git(&["add", "staged.txt"]);
    repo.repo().move_branch("main", old, next).unwrap();
    let update = repo.repo().update_checkout("main", old, next).unwrap();
    assert!(matches!(update, CheckoutUpdate::LeftDirty { .. }), "{update:?}");
    assert!(!repo.path.join("new.txt").exists());
}

// Guards: updating a checkout of another branch, or a linked worktree, or a bare repository.
#[test]
fn only_the_main_checkout_of_that_branch_is_updated() {
    let (repo, old, next) = repo_with_next();
    repo.git(&["branch", "target", &old.to_string()]);
    repo.repo().move_branch("target", old, next).unwrap();
    assert_eq!(
        repo.repo().update_checkout("target", old, next).unwrap(),
        CheckoutUpdate::NotCheckedOut
    );
    assert!(!repo.path.join("new.txt").exists(), "main's checkout untouched");

    // `target` checked out in a linked worktree only: not the main working tree's business.
    let linked = repo.path.parent().unwrap().join("linked");
    repo.git(&["worktree", "add", "--quiet", linked.to_str().unwrap(), "target"]);
    assert_eq!(
        repo.repo().update_checkout("target", next, old).unwrap(),
        CheckoutUpdate::NotCheckedOut
    );

    let bare = repo.path.parent().unwrap().join("bare.git");
    run(
        repo.path.parent().unwrap(),
        &[
            "clone",
            "--quiet",
            "--bare",
            repo.path.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let bare_repo = gix::open(&bare).unwrap();
    let bare_repo = Repo::new(&bare_repo);
    assert_eq!(
        bare_repo.update_checkout("main", old, next).unwrap(),
        CheckoutUpdate::NotCheckedOut
    );
}

// Guards: a clean checkout whose update git refuses (an untracked file in the way) reported as
// done, or half updated.
#[test]
fn untracked_file_in_the_way_blocks_the_update() {
    let (repo, old, next) = repo_with_next();
    repo.write(&[("new.txt", "untracked, in the way\n")]);
    repo.repo().move_branch("main", old, next).unwrap();

    let update = repo.repo().update_checkout("main", old, next).unwrap();

    assert!(matches!(update, CheckoutUpdate::Blocked { .. }), "{update:?}");
    assert_eq!(
        std::fs::read_to_string(repo.path.join("new.txt")).unwrap(),
        "untracked, in the way\n"
    );
    assert_eq!(std::fs::read_to_string(repo.path.join("a.txt")).unwrap(), "a\n");
}

// Guards: git-loom running inside a linked worktree (where agents work) taking that worktree
// for the main one, so the user's checkout of the target is never brought along.
#[test]
fn update_from_a_linked_worktree_reaches_the_main_checkout() {
    let (repo, old, next) = repo_with_next();
    let linked = repo.path.parent().unwrap().join("agent");
    repo.git(&["worktree", "add", "--quiet", "--detach", linked.to_str().unwrap()]);
    let from_linked = gix::open(&linked).unwrap();
    let handle = Repo::new(&from_linked);

    assert_eq!(handle.move_branch("main", old, next).unwrap(), MoveOutcome::Updated);
    let update = handle.update_checkout("main", old, next).unwrap();

    assert!(matches!(update, CheckoutUpdate::FastForwarded { .. }), "{update:?}");
    assert_eq!(std::fs::read_to_string(repo.path.join("new.txt")).unwrap(), "new\n");
    assert!(
        !linked.join("new.txt").exists(),
        "the linked worktree stays where it was"
    );
}
