//! Tests of the task merge: one test per rule, and properties over many small records (symmetry,
//! one side unchanged, merging with itself, set contents, determinism, what counts as a conflict).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use proptest::prelude::*;

use crate::model::Entity;
use proptest::sample::select;
use serde_json::{Value, json};

use super::*;
use crate::model::id::TaskId;
use crate::model::task::{Priority, TASK_SCHEMA};

fn id(hex: &str) -> TaskId {
    TaskId::parse(&format!("loom-{hex}")).unwrap()
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap()
}

fn base() -> Task {
    let mut task = Task::new(id("0000abcd"), "Title".into(), Status::Pending, Priority::P2, at(100));
    task.labels = ["db".to_owned(), "ui".to_owned()].into();
    task.deps = [id("00000001"), id("00000002")].into();
    task
}

/// `base` rewritten once by `edit`, the way a writer would: clock and time move on.
fn edited(base: &Task, edit: impl FnOnce(&mut Task)) -> Task {
    let mut task = base.clone();
    edit(&mut task);
    task.touch(at(200));
    task
}

fn merge(base: Option<&Task>, ours: (&Task, &str), theirs: (&Task, &str)) -> Merged {
    let side = |(task, agent)| Side { task, agent };
    merge_tasks(base, side(ours), side(theirs))
}

fn conflict(field: &str, winner: Winner, rule: Rule) -> Conflict {
    Conflict {
        field: field.to_owned(),
        winner,
        rule,
    }
}

/// Both argument orders, checked to agree, for tests that state the outcome once.
fn merge_both_ways(base: Option<&Task>, ours: (&Task, &str), theirs: (&Task, &str)) -> Merged {
    let forward = merge(base, ours, theirs);
    let backward = merge(base, theirs, ours);
    assert_eq!(
        forward.task, backward.task,
        "the result does not depend on the argument order"
    );
    forward
}

#[test]
fn a_field_only_one_side_changed_takes_that_side() {
    let base = base();
    let ours = edited(&base, |t| t.title = "New title".into());
    let theirs = edited(&base, |t| t.priority = Priority::P0);
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "bob"));
    assert_eq!(merged.task.title, "New title");
    assert_eq!(merged.task.priority, Priority::P0);
    assert!(merged.conflicts.is_empty());
}

#[test]
fn the_same_change_on_both_sides_is_no_conflict() {
    let base = base();
    let ours = edited(&base, |t| t.description = "same".into());
    let theirs = edited(&base, |t| t.description = "same".into());
    let merged = merge(Some(&base), (&ours, "alice"), (&theirs, "bob"));
    assert_eq!(merged.task.description, "same");
    assert!(merged.conflicts.is_empty());
}

#[test]
fn the_higher_clock_wins_a_field_both_changed() {
    let base = base();
    let ours = edited(&base, |t| t.title = "ours".into());
    let theirs = edited(&edited(&base, |_| {}), |t| t.title = "theirs".into());
    let merged = merge_both_ways(Some(&base), (&ours, "zed"), (&theirs, "alice"));
    assert_eq!(merged.task.title, "theirs");
    assert_eq!(merged.conflicts, vec![conflict("title", Winner::Theirs, Rule::Lamport)]);
}

#[test]
fn equal_clocks_go_to_the_greater_agent_name() {
    let base = base();
    let ours = edited(&base, |t| t.parent = Some(id("0000000e")));
    let theirs = edited(&base, |t| t.parent = Some(id("0000000f")));
    let merged = merge_both_ways(Some(&base), (&ours, "bob"), (&theirs, "alice"));
    assert_eq!(merged.task.parent, Some(id("0000000e")));
    assert_eq!(merged.conflicts, vec![conflict("parent", Winner::Ours, Rule::Agent)]);
}

#[test]
fn equal_clocks_and_agents_go_to_the_greater_value() {
    let base = base();
    let ours = edited(&base, |t| t.files = vec!["a/**".into()]);
    let theirs = edited(&base, |t| t.files = vec!["b/**".into()]);
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "alice"));
    assert_eq!(merged.task.files, vec!["b/**".to_owned()]);
    assert_eq!(merged.conflicts, vec![conflict("files", Winner::Theirs, Rule::Value)]);
}

#[test]
fn sets_apply_both_sides_additions_and_removals() {
    let base = base();
    let ours = edited(&base, |t| {
        t.labels.remove("db");
        t.labels.insert("api".into());
    });
    let theirs = edited(&base, |t| {
        t.labels.insert("perf".into());
        t.deps.remove(&id("00000002"));
        t.children.insert(id("0000000c"));
    });
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "bob"));
    let labels: BTreeSet<String> = ["api", "perf", "ui"].map(String::from).into();
    assert_eq!(
        merged.task.labels, labels,
        "db removed by ours, kept by theirs: removed"
    );
    assert_eq!(merged.task.deps, [id("00000001")].into());
    assert_eq!(merged.task.children, [id("0000000c")].into());
    assert!(merged.conflicts.is_empty(), "sets never conflict");
}

#[test]
fn without_a_base_every_difference_is_a_conflict_and_sets_unite() {
    let ours = edited(&base(), |t| t.labels = ["a".to_owned()].into());
    let theirs = edited(&base(), |t| {
        t.labels = ["b".to_owned()].into();
        t.title = "other".into();
        t.extra.insert("x".into(), json!(1));
    });
    let merged = merge_both_ways(None, (&ours, "alice"), (&theirs, "bob"));
    assert_eq!(merged.task.labels, ["a".to_owned(), "b".to_owned()].into());
    assert_eq!(merged.task.title, "other");
    assert_eq!(merged.task.extra, BTreeMap::from([("x".to_owned(), json!(1))]));
    assert_eq!(
        merged.conflicts,
        vec![
            conflict("title", Winner::Theirs, Rule::Agent),
            conflict("x", Winner::Theirs, Rule::Agent),
        ]
    );
}

#[test]
fn a_conflicting_status_goes_by_precedence_whatever_the_clocks() {
    let order = [
        Status::Done,
        Status::Cancelled,
        Status::Dead,
        Status::Failed,
        Status::Epic,
        Status::Pending,
        Status::Idea,
    ];
    let start = base();
    for (high_rank, &high) in order.iter().enumerate() {
        for &low in &order[high_rank + 1..] {
            // The lower status has the higher clock, so only precedence can pick the other.
            let winner = edited(&start, |t| t.status = high);
            let loser = edited(&edited(&start, |_| {}), |t| t.status = low);
            let merged = merge_both_ways(None, (&winner, "alice"), (&loser, "bob"));
            assert_eq!(merged.task.status, high, "{high} beats {low}");
            assert_eq!(
                merged.conflicts,
                vec![conflict("status", Winner::Ours, Rule::StatusPrecedence)]
            );
        }
    }
}

#[test]
fn fields_travelling_with_the_status_come_from_the_winning_status() {
    let base = base();
    let done = edited(&base, |t| {
        t.status = Status::Done;
        t.output = Some(json!({"tables": 4}));
        t.branch = Some("loom/done".into());
    });
    let failed = edited(&edited(&base, |_| {}), |t| {
        t.status = Status::Failed;
        t.retries = 1;
        t.retry_after = Some(at(300));
        t.last_failure = Some("tests fail".into());
        t.output = Some(json!("partial"));
    });
    let merged = merge_both_ways(Some(&base), (&failed, "alice"), (&done, "bob"));
    let task = merged.task;
    assert_eq!(task.status, Status::Done);
    assert_eq!(
        (task.retries, task.retry_after, task.last_failure),
        (0, None, None),
        "the failure's record is dropped with its status, though its clock is higher"
    );
    assert_eq!(task.output, Some(json!({"tables": 4})));
    assert_eq!(task.branch.as_deref(), Some("loom/done"));
    let fields: Vec<&str> = merged.conflicts.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["status", "retries", "retry_after", "output", "last_failure"]);
    assert!(merged.conflicts.iter().all(|c| c.winner == Winner::Theirs));
    assert_eq!(merged.conflicts[1].rule, Rule::FollowsStatus);
}

#[test]
fn without_a_status_conflict_its_fields_merge_one_by_one() {
    let base = edited(&base(), |t| {
        t.status = Status::Failed;
        t.retries = 2;
        t.last_failure = Some("flaky".into());
    });
    let swept = edited(&base, |t| t.status = Status::Pending);
    let cleared = edited(&base, |t| t.last_failure = None);
    let merged = merge_both_ways(Some(&base), (&swept, "alice"), (&cleared, "bob"));
    assert_eq!(merged.task.status, Status::Pending);
    assert_eq!(merged.task.last_failure, None);
    assert_eq!(merged.task.retries, 2);
    assert!(merged.conflicts.is_empty());
}

#[test]
fn attempts_keep_the_larger_count() {
    let base = base();
    let ours = edited(&base, |t| t.attempts = 3);
    let theirs = edited(&edited(&base, |_| {}), |t| t.attempts = 2);
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "bob"));
    assert_eq!(merged.task.attempts, 3);
    assert_eq!(merged.conflicts, vec![conflict("attempts", Winner::Ours, Rule::Larger)]);
}

#[test]
fn bookkeeping_advances_the_clock_and_spans_both_times() {
    let base = base();
    let mut ours = edited(&base, |_| {});
    ours.lamport = 7;
    ours.created_at = at(50);
    let mut theirs = edited(&base, |_| {});
    theirs.updated_at = at(900);
    let task = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "bob")).task;
    assert_eq!((task.lamport, task.created_at, task.updated_at), (8, at(50), at(900)));
}

#[test]
fn unknown_fields_merge_key_by_key_and_a_missing_key_differs_from_null() {
    let mut base = base();
    base.extra.insert("kept".into(), json!(1));
    base.extra.insert("dropped".into(), json!(2));
    let ours = edited(&base, |t| {
        t.extra.remove("dropped");
        t.extra.insert("tie".into(), Value::Null);
    });
    let theirs = edited(&base, |t| {
        t.extra.insert("kept".into(), json!(3));
    });
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "alice"));
    let expected = BTreeMap::from([("kept".to_owned(), json!(3)), ("tie".to_owned(), Value::Null)]);
    assert_eq!(merged.task.extra, expected);
    assert!(merged.conflicts.is_empty());

    // Without a base, one side's `null` and the other's missing key are two different values.
    let with_null = edited(&base, |t| {
        t.extra.insert("new".into(), Value::Null);
    });
    let without = edited(&base, |_| {});
    let merged = merge_both_ways(None, (&with_null, "alice"), (&without, "alice"));
    assert_eq!(merged.task.extra.get("new"), Some(&Value::Null));
    assert_eq!(merged.conflicts, vec![conflict("new", Winner::Ours, Rule::Value)]);
}

#[test]
fn stage_fields_merge_key_by_key_like_unknown_ones() {
    // Guards: typing a plan stage's fields taking them out of the key-by-key merge, so two
    // clones' edits of different stage fields (or of a stage field and an unknown one) lost one.
    let with = |task: &mut Task, fields: Value| {
        let mut all = task.flat_fields();
        all.extend(fields.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())));
        task.set_flat_fields(all);
    };
    let mut base = base();
    with(
        &mut base,
        json!({"plan": "p", "stage": "s", "truths": [{"command": "a"}], "zz": 1}),
    );
    let ours = edited(&base, |t| {
        with(t, json!({"truths": [{"command": "b"}], "artifacts": ["x"]}))
    });
    let theirs = edited(&base, |t| {
        with(t, json!({"truths": "unreadable", "zz": 2, "stage": "s2"}))
    });
    let merged = merge_both_ways(Some(&base), (&ours, "alice"), (&theirs, "bob"));
    let task = &merged.task;
    assert_eq!(task.stage(), Some("s2"));
    assert_eq!(task.extra, BTreeMap::from([("zz".to_owned(), json!(2))]));
    assert!(task.stage_data.artifacts.is_some());
    // Both changed `truths`: equal clocks, so the greater agent wins, as for any unknown key.
    assert_eq!(task.stage_data.truths.as_ref().unwrap().json(), &json!("unreadable"));
    assert_eq!(merged.conflicts, vec![conflict("truths", Winner::Theirs, Rule::Agent)]);
}

#[test]
fn merging_a_task_with_itself_only_advances_the_clock() {
    let base = base();
    let task = edited(&base, |t| t.title = "changed".into());
    for base in [None, Some(&base)] {
        let merged = merge(base, (&task, "alice"), (&task, "bob"));
        let mut expected = task.clone();
        expected.lamport += 1;
        assert_eq!(merged.task, expected);
        assert!(merged.conflicts.is_empty());
    }
}

// Property tests draw every field from a few values, so that sides often agree with the base
// or with each other and every branch of the rules is reached.

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // A failing case is printed, shrunk; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn text(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
    select(choices).prop_map(String::from)
}

fn some_ids() -> impl Strategy<Value = BTreeSet<TaskId>> {
    prop::collection::btree_set(
        select(&["00000001", "00000002", "00000003", "00000004"][..]).prop_map(id),
        0..=3,
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    select(vec![json!(1), json!("text"), json!({"a": [1, 2]}), json!(false)])
}

fn arb_task() -> impl Strategy<Value = Task> {
    let time = || (0i64..3).prop_map(at);
    let small = || 0u32..3;
    let list = || prop::collection::vec(text(&["x", "y"]), 0..=2);
    let first = (
        text(&["a", "b", "c"]),
        text(&["", "d"]),
        select(Status::ALL.to_vec()),
        select(Priority::ALL.to_vec()),
        some_ids(),
        prop::option::of(select(&["0000000e", "0000000f"][..]).prop_map(id)),
        some_ids(),
        prop::collection::btree_set(text(&["x", "y", "z"]), 0..=3),
        list(),
        list(),
    );
    let second = (
        time(),
        time(),
        0u64..3,
        (small(), small(), prop::option::of(time()), prop::option::of(small())),
        prop::option::of(json_value()),
        prop::option::of(text(&["main", "work"])),
        prop::option::of(text(&["oops", "boom"])),
        // A stage field and an unknown one: both are merged key by key, by the same rule.
        prop::collection::btree_map(
            text(&["k1", "truths"]),
            prop_oneof![Just(Value::Null), json_value()],
            0..=2,
        ),
    );
    (first, second).prop_map(
        |(
            (title, description, status, priority, deps, parent, children, labels, acceptance, files),
            (
                created_at,
                updated_at,
                lamport,
                (attempts, retries, retry_after, max_retries),
                output,
                branch,
                last_failure,
                extra,
            ),
        )| {
            let mut task = Task {
                schema: TASK_SCHEMA,
                id: id("0000abcd"),
                title,
                description,
                status,
                priority,
                deps,
                parent,
                children,
                labels,
                acceptance,
                files,
                created_at,
                updated_at,
                lamport,
                attempts,
                retries,
                retry_after,
                max_retries,
                output,
                branch,
                last_failure,
                stage_data: Box::default(),
                extra: BTreeMap::new(),
            };
            task.set_flat_fields(extra);
            task
        },
    )
}

fn agent() -> impl Strategy<Value = &'static str> {
    select(&["alice", "bob"][..])
}

/// What a result must hold apart from the fields the merge decides: the bookkeeping.
fn with_bookkeeping(mut task: Task, ours: &Task, theirs: &Task) -> Task {
    task.lamport = ours.lamport.max(theirs.lamport) + 1;
    task.created_at = ours.created_at.min(theirs.created_at);
    task.updated_at = ours.updated_at.max(theirs.updated_at);
    task
}

/// Start from the base, take out what a side removed, put in what a side added.
fn expected_set<T: Ord + Clone>(base: Option<&BTreeSet<T>>, ours: &BTreeSet<T>, theirs: &BTreeSet<T>) -> BTreeSet<T> {
    let empty = BTreeSet::new();
    let base = base.unwrap_or(&empty);
    let mut set = base.clone();
    for side in [ours, theirs] {
        set.retain(|item| !base.contains(item) || side.contains(item));
    }
    for side in [ours, theirs] {
        set.extend(side.difference(base).cloned());
    }
    set
}

fn mirrored(conflicts: &[Conflict]) -> Vec<Conflict> {
    let flip = |winner| match winner {
        Winner::Ours => Winner::Theirs,
        Winner::Theirs => Winner::Ours,
    };
    conflicts
        .iter()
        .map(|c| conflict(&c.field, flip(c.winner), c.rule))
        .collect()
}

/// A base (or none), two sides and their agents.
fn three_way() -> impl Strategy<Value = (Option<Task>, Task, Task, &'static str, &'static str)> {
    (prop::option::of(arb_task()), arb_task(), arb_task(), agent(), agent())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn prop_symmetric((base, a, b, x, y) in three_way()) {
        let forward = merge(base.as_ref(), (&a, x), (&b, y));
        let backward = merge(base.as_ref(), (&b, y), (&a, x));
        prop_assert_eq!(forward.task.to_blob(), backward.task.to_blob());
        prop_assert_eq!(&forward.task, &backward.task);
        prop_assert_eq!(mirrored(&forward.conflicts), backward.conflicts);
    }

    #[test]
    fn prop_one_side_unchanged_gives_the_other((_, base, other, x, y) in three_way()) {
        let expected = with_bookkeeping(other.clone(), &base, &other);
        let forward = merge(Some(&base), (&base, x), (&other, y));
        let backward = merge(Some(&base), (&other, y), (&base, x));
        for merged in [forward, backward] {
            prop_assert_eq!(&merged.task, &expected);
            prop_assert!(merged.conflicts.is_empty());
        }
    }

    #[test]
    fn prop_merging_a_task_with_itself_gives_it_back((base, task, _, x, y) in three_way()) {
        let merged = merge(base.as_ref(), (&task, x), (&task, y));
        prop_assert_eq!(merged.task, with_bookkeeping(task.clone(), &task, &task));
        prop_assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn prop_sets_hold_exactly_the_expected_elements((base, a, b, x, y) in three_way()) {
        let merged = merge(base.as_ref(), (&a, x), (&b, y)).task;
        let base = base.as_ref();
        prop_assert_eq!(merged.deps, expected_set(base.map(|t| &t.deps), &a.deps, &b.deps));
        prop_assert_eq!(merged.children, expected_set(base.map(|t| &t.children), &a.children, &b.children));
        prop_assert_eq!(merged.labels, expected_set(base.map(|t| &t.labels), &a.labels, &b.labels));
    }

    #[test]
    fn prop_deterministic_and_never_invents_a_value((base, a, b, x, y) in three_way()) {
        let first = merge(base.as_ref(), (&a, x), (&b, y));
        let again = merge(base.clone().as_ref(), (&a.clone(), x), (&b.clone(), y));
        prop_assert_eq!(&first, &again);
        let task = first.task;
        prop_assert!(task.title == a.title || task.title == b.title);
        prop_assert!(task.status == a.status || task.status == b.status);
        prop_assert!(task.output == a.output || task.output == b.output);
        prop_assert!(task.attempts == a.attempts || task.attempts == b.attempts);
        // The merged record is what gets stored, so it must survive being written and read back.
        prop_assert_eq!(Task::from_blob(&task.to_blob(), Some(&task.id)).unwrap(), task);
    }

    #[test]
    fn prop_conflicts_name_only_fields_both_sides_changed((_, base, a, x, y) in three_way(), b in arb_task()) {
        let merged = merge(Some(&base), (&a, x), (&b, y));
        let json = |task: &Task| serde_json::to_value(task).unwrap();
        let (base, a, b) = (json(&base), json(&a), json(&b));
        // A missing key (an unknown field one side lacks) is `None`, unlike a `null` one.
        let changed = |side: &Value, field: &str| side.get(field) != base.get(field);
        let status_moved = changed(&a, "status") && changed(&b, "status");
        for c in &merged.conflicts {
            let field = c.field.as_str();
            prop_assert!(a.get(field) != b.get(field), "{} differs between the sides", field);
            // Either both changed it, or it travels with a status both changed.
            prop_assert!((changed(&a, field) && changed(&b, field)) || status_moved, "{}", field);
        }
    }
}
