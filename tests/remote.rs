//! Coordination through a real remote: bare repositories served by a real `git daemon` on
//! 127.0.0.1, clones made with `git clone`, and the built binary publishing every write to the
//! remote. Proves that claims are exclusive across clones (sixteen agents in four clones take
//! every task exactly once, and the remote's claims are exactly the ones the agents were told
//! about); that offline edits on two clones converge to identical refs whichever syncs first,
//! with the documented merge rules, and that a cycle closed by two clones' edits is broken the
//! same way on both; that a holder cut off from the remote whose lease expired and was taken by
//! another clone cannot record its work; that missing, unknown, unreachable and push-refusing
//! remotes fail with the right exit codes and change nothing locally (while `--offline` keeps
//! working); and that a sync fetches only the objects of what changed.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::hub::{Hub, Site, served};
use common::{GitDaemon, Run, TestEnv, unreachable_url};
use serde_json::Value;

/// The longest the racing agents may run before the test fails.
const RACE_DEADLINE: Duration = Duration::from_secs(150);

/// Create `count` tasks offline in `site`, four processes at a time; returns their ids.
fn create_offline(site: &Site<'_>, count: usize) -> Vec<String> {
    const WRITERS: usize = 4;
    let mut ids: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                scope.spawn(move || {
                    (w..count)
                        .step_by(WRITERS)
                        .map(|i| site.create(&["--offline", &format!("task {i}")]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    ids.sort();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), count, "every create made a new task");
    ids
}

/// Lines of `text` without trailing whitespace, as a set.
fn line_set(text: &str) -> BTreeSet<String> {
    text.lines().map(|line| line.trim_end().to_owned()).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|item| item.as_str().unwrap().to_owned())
        .collect()
}

/// What one racing agent was told.
struct AgentLog {
    agent: String,
    claimed: Vec<String>,
    /// Every run that exited neither 0 nor 4.
    unexpected: Vec<Run>,
    /// Whether the agent stopped on `nothing is ready to claim` (rather than the deadline).
    finished: bool,
}

/// One agent's loop: `claim --next` until it exits 4 (bounded by [`RACE_DEADLINE`] from
/// `started`, and by a cap on unexpected exits).
fn race_agent(env: &TestEnv, dir: &Path, agent: String, started: Instant) -> AgentLog {
    let mut log = AgentLog {
        agent,
        claimed: Vec::new(),
        unexpected: Vec::new(),
        finished: false,
    };
    while started.elapsed() < RACE_DEADLINE && log.unexpected.len() < 20 {
        let run = env.loom(
            dir,
            &["--agent", &log.agent, "--json", "claim", "--next", "--ttl", "3600"],
        );
        match run.code {
            0 => {
                let json = run.json();
                assert_eq!(json["claim"]["agent"].as_str(), Some(log.agent.as_str()), "{run}");
                log.claimed.push(json["id"].as_str().unwrap().to_owned());
            }
            4 => {
                assert_eq!(run.stdout, "null\n", "{run}");
                log.finished = true;
                break;
            }
            _ => log.unexpected.push(run),
        }
    }
    log
}

// Guards: two agents in different clones both being granted the same task, a grant the remote
// recorded that no agent was told about, and a claim told to an agent that the remote lacks.
#[test]
fn sixteen_agents_in_four_clones_claim_each_task_exactly_once_through_the_remote() {
    const TASKS: usize = 200;
    const CLONES: usize = 4;
    const AGENTS_PER_CLONE: usize = 4;
    let setup = Instant::now();
    let hub = Hub::new();
    hub.bare("origin");
    let creator = hub.seeded("creator");
    let tasks = create_offline(&creator, TASKS);
    let sync = creator.ok(&["sync"]);
    assert_eq!(
        sync.stdout,
        format!("origin: 0 fetched, 0 fast-forwarded, 0 merged, {TASKS} pushed\n"),
        "{sync}"
    );
    let clones: Vec<Site<'_>> = (0..CLONES)
        .map(|n| hub.clone_of_origin(&format!("clone-{n}")))
        .collect();
    eprintln!("race setup: {:?}", setup.elapsed());

    let started = Instant::now();
    let logs: Vec<AgentLog> = thread::scope(|scope| {
        let mut handles = Vec::new();
        for (c, clone) in clones.iter().enumerate() {
            for a in 0..AGENTS_PER_CLONE {
                let (env, dir) = (&hub.env, clone.dir.as_path());
                let agent = format!("clone{c}-agent{a}");
                handles.push(scope.spawn(move || race_agent(env, dir, agent, started)));
            }
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let race_time = started.elapsed();
    let granted: usize = logs.iter().map(|log| log.claimed.len()).sum();
    let unexpected: Vec<&Run> = logs.iter().flat_map(|log| &log.unexpected).collect();
    eprintln!(
        "race: {granted} claims by {} agents in {race_time:?}; {} unexpected exits",
        logs.len(),
        unexpected.len()
    );

    // What the agents were told.
    let mut told: BTreeMap<String, String> = BTreeMap::new();
    let mut told_twice = Vec::new();
    for log in &logs {
        for id in &log.claimed {
            if let Some(other) = told.insert(id.clone(), log.agent.clone()) {
                told_twice.push(format!("{id}: {other} and {}", log.agent));
            }
        }
    }
    // What the remote recorded: one `claim by` commit per grant in each task's history.
    let history = hub.bare_git(
        "origin",
        &[
            "log",
            "--glob=refs/loom/tasks/*",
            "--format=%(trailers:key=Loom-Task,valueonly,separator=%x2C)%x09%s",
        ],
    );
    let mut grants: BTreeMap<&str, usize> = tasks.iter().map(|id| (id.as_str(), 0)).collect();
    for line in history.lines() {
        if let Some((task, subject)) = line.split_once('\t')
            && subject.starts_with("claim by ")
        {
            *grants.entry(task).or_default() += 1;
        }
    }
    let double: Vec<(&str, usize)> = grants
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, n)| (*id, *n))
        .collect();
    let never: Vec<&str> = grants.iter().filter(|(_, n)| **n == 0).map(|(id, _)| *id).collect();
    // The remote's claims, with the agent each names.
    let claim_refs = hub.bare_git(
        "origin",
        &["for-each-ref", "--format=%(refname:lstrip=3)", "refs/loom/claims/"],
    );
    let remote_claims: BTreeSet<String> = claim_refs.lines().map(str::to_owned).collect();
    let holders = claim_holders(&hub, &remote_claims);
    let told_ids: BTreeSet<String> = told.keys().cloned().collect();
    let not_told: Vec<&String> = remote_claims.difference(&told_ids).collect();
    let not_on_remote: Vec<&String> = told_ids.difference(&remote_claims).collect();
    let wrong_holder: Vec<String> = told
        .iter()
        .filter(|(id, agent)| holders.get(*id).is_some_and(|holder| holder != *agent))
        .map(|(id, agent)| format!("{id}: told {agent}, remote names {}", holders[id]))
        .collect();
    let stopped_early: Vec<&str> = logs
        .iter()
        .filter(|log| !log.finished)
        .map(|log| log.agent.as_str())
        .collect();

    // Every finding at once, so that one failure does not hide another.
    let mut problems = Vec::new();
    if !told_twice.is_empty() {
        problems.push(format!("tasks told to two agents: {told_twice:?}"));
    }
    if !double.is_empty() {
        problems.push(format!("tasks granted more than once on the remote: {double:?}"));
    }
    if !never.is_empty() {
        problems.push(format!("tasks never claimed: {} of {TASKS}: {never:?}", never.len()));
    }
    if !not_told.is_empty() || !not_on_remote.is_empty() || !wrong_holder.is_empty() {
        problems.push(format!(
            "the remote's claims differ from what the agents were told: held on the remote but \
             told to nobody: {not_told:?}; told but not on the remote: {not_on_remote:?}; other \
             holder: {wrong_holder:?}"
        ));
    }
    if !stopped_early.is_empty() {
        problems.push(format!("agents that never ran out of work: {stopped_early:?}"));
    }
    if !unexpected.is_empty() {
        let mut kinds: BTreeMap<String, (usize, &Run)> = BTreeMap::new();
        for run in &unexpected {
            let kind = format!("exit {}: {}", run.code, error_kind(&run.stderr));
            kinds.entry(kind).or_insert((0, run)).0 += 1;
        }
        let mut text = format!(
            "claim --next exited with something else than 0 or 4, {} times:",
            unexpected.len()
        );
        for (kind, (count, sample)) in &kinds {
            text.push_str(&format!("\n  {count} × {kind}\n    e.g. {sample}"));
        }
        problems.push(text);
    }
    let busy_clones = logs
        .chunks(AGENTS_PER_CLONE)
        .filter(|agents| agents.iter().any(|log| !log.claimed.is_empty()))
        .count();
    if busy_clones < 2 {
        problems.push(format!(
            "the work was not shared between clones: {busy_clones} got some"
        ));
    }
    // Every clone ends up with exactly the remote's refs.
    for (n, clone) in clones.iter().enumerate() {
        let sync = clone.loom(&["sync"]);
        if sync.code != 0 {
            problems.push(format!("the final sync of clone-{n} failed: {sync}"));
        } else {
            let (here, there) = (clone.loom_refs(), hub.remote_loom_refs("origin"));
            if here != there {
                let here: BTreeSet<&str> = here.lines().collect();
                let there: BTreeSet<&str> = there.lines().collect();
                let only_here: Vec<&&str> = here.difference(&there).collect();
                let only_there: Vec<&&str> = there.difference(&here).collect();
                problems.push(format!(
                    "clone-{n} differs from the remote after its final sync ({sync}): only here {only_here:?}, only there {only_there:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What kind of error `stderr` reports: its first line with ids, object names and ref names
/// blanked out, so that the same failure on different tasks reads the same.
fn error_kind(stderr: &str) -> String {
    let first = stderr.lines().next().unwrap_or("");
    // A message naming several refs goes on with `; `: its start says what happened.
    let first = first.split("; ").next().unwrap_or(first);
    let words: Vec<&str> = first
        .split(' ')
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let hex = bare.len() >= 7 && bare.bytes().all(|b| b.is_ascii_hexdigit());
            match hex || word.contains("refs/") || word.contains("loom-") {
                true => "…",
                false => word,
            }
        })
        .collect();
    words.join(" ")
}

/// The agent named by each claim's `claim.json` on the remote, read in one `git cat-file`.
fn claim_holders(hub: &Hub, ids: &BTreeSet<String>) -> BTreeMap<String, String> {
    let revs: Vec<String> = ids
        .iter()
        .map(|id| format!("refs/loom/claims/{id}:claim.json"))
        .collect();
    ids.iter()
        .zip(hub.blobs("origin", &revs))
        .map(|(id, claim)| (id.clone(), claim["agent"].as_str().unwrap().to_owned()))
        .collect()
}

/// The tasks of the convergence scenario, created by `a` and published.
struct Scenario {
    /// A changes title and labels, B priority and labels.
    fields: String,
    /// Both change the title once: equal clocks, so the greater agent name (bob) wins.
    same: String,
    /// A writes twice, B once: A's higher clock wins the title although `alice` < `bob`.
    clock: String,
    /// A cancels, B changes the title.
    cancelled: String,
    /// A marks it done, B cancels: done wins.
    done: String,
    /// A removes one dependency and adds another, B adds a third.
    deps: String,
    dep: [String; 4],
}

fn scenario(a: &Site<'_>) -> Scenario {
    let dep = ["dep one", "dep two", "dep three", "dep four"].map(|title| a.create(&[title]));
    Scenario {
        fields: a.create(&["fields", "--label", "shared"]),
        same: a.create(&["same field"]),
        clock: a.create(&["clock"]),
        cancelled: a.create(&["cancel against title"]),
        done: a.create(&["done against cancel"]),
        deps: a.create(&["deps", "--dep", &dep[0], "--dep", &dep[1]]),
        dep,
    }
}

fn edit_as_alice(a: &Site<'_>, s: &Scenario) {
    let alice = |args: &[&str]| {
        let mut all = vec!["--offline", "--agent", "alice"];
        all.extend_from_slice(args);
        a.ok(&all);
    };
    alice(&[
        "update",
        &s.fields,
        "--title",
        "fields, retitled by alice",
        "--rm-label",
        "shared",
        "--add-label",
        "alice",
    ]);
    alice(&["update", &s.same, "--title", "same field by alice"]);
    alice(&["update", &s.clock, "-d", "alice was here"]);
    alice(&["update", &s.clock, "--title", "clock by alice"]);
    alice(&["cancel", &s.cancelled]);
    alice(&["update", &s.done, "--status", "done"]);
    alice(&["dep", "rm", &s.deps, &s.dep[0]]);
    alice(&["dep", "add", &s.deps, &s.dep[2]]);
}

fn edit_as_bob(b: &Site<'_>, s: &Scenario) {
    let bob = |args: &[&str]| {
        let mut all = vec!["--offline", "--agent", "bob"];
        all.extend_from_slice(args);
        b.ok(&all);
    };
    bob(&["update", &s.fields, "-p", "p0", "--add-label", "bob"]);
    bob(&["update", &s.same, "--title", "same field by bob"]);
    bob(&["update", &s.clock, "--title", "clock by bob"]);
    bob(&[
        "update",
        &s.cancelled,
        "--title",
        "cancel against title, retitled by bob",
    ]);
    bob(&["cancel", &s.done]);
    bob(&["dep", "add", &s.deps, &s.dep[3]]);
}

/// Two clones edit the same tasks offline, then sync `first`, `second`, `first` again.
fn offline_edits_converge(a_first: bool) {
    let hub = Hub::new();
    hub.bare("origin");
    let a = hub.seeded("a");
    let s = scenario(&a);
    let b = hub.clone_of_origin("b");
    let before = a.loom_refs();
    edit_as_alice(&a, &s);
    edit_as_bob(&b, &s);
    assert_eq!(hub.remote_loom_refs("origin"), before, "offline edits reach nobody");

    let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
    let pushed = first.ok(&["sync"]);
    assert_eq!(
        pushed.stdout, "origin: 0 fetched, 0 fast-forwarded, 0 merged, 6 pushed\n",
        "the first to sync has nothing to merge: {pushed}"
    );
    let merged = second.ok(&["sync"]);
    let expected_lines: BTreeSet<String> = [
        format!("merged {}", s.fields),
        format!("merged {} (both changed: title)", s.same),
        format!("merged {} (both changed: title)", s.clock),
        format!("merged {}", s.cancelled),
        format!("merged {} (both changed: status)", s.done),
        format!("merged {}", s.deps),
        "origin: 6 fetched, 0 fast-forwarded, 6 merged, 6 pushed".to_owned(),
    ]
    .into();
    assert_eq!(line_set(&merged.stdout), expected_lines, "{merged}");
    let caught_up = first.ok(&["sync"]);
    assert_eq!(
        caught_up.stdout, "origin: 6 fetched, 6 fast-forwarded, 0 merged, 0 pushed\n",
        "{caught_up}"
    );

    let refs = a.loom_refs();
    assert_eq!(refs, b.loom_refs(), "both clones hold identical loom refs");
    assert_eq!(refs, hub.remote_loom_refs("origin"), "and so does the remote");
    for clone in [&a, &b] {
        let again = clone.ok(&["sync"]);
        assert_eq!(
            again.stdout, "origin: 0 fetched, 0 fast-forwarded, 0 merged, 0 pushed\n",
            "{again}"
        );
    }

    // Each merged version joins both sides' tips.
    for id in [&s.fields, &s.same, &s.clock, &s.cancelled, &s.done, &s.deps] {
        let parents = a.git(&["log", "-1", "--format=%P", &format!("refs/loom/tasks/{id}")]);
        assert_eq!(parents.split_whitespace().count(), 2, "{id}: {parents}");
    }
    let subject = a.git(&["log", "-1", "--format=%s", &format!("refs/loom/tasks/{}", s.same)]);
    assert_eq!(subject.trim(), format!("merge {} (both changed: title)", s.same));

    let fields = a.stored(&s.fields);
    assert_eq!(
        fields["title"], "fields, retitled by alice",
        "a field only A changed survives"
    );
    assert_eq!(fields["priority"], "p0", "a field only B changed survives");
    assert_eq!(strings(&fields["labels"]), ["alice", "bob"], "labels merge as sets");
    assert_eq!(fields["status"], "pending");
    assert_eq!(
        a.stored(&s.same)["title"],
        "same field by bob",
        "equal clocks: the greater agent name wins"
    );
    let clock = a.stored(&s.clock);
    assert_eq!(clock["title"], "clock by alice", "the higher clock wins");
    assert_eq!(clock["description"], "alice was here");
    let cancelled = a.stored(&s.cancelled);
    assert_eq!(cancelled["status"], "cancelled", "cancelled wins over pending");
    assert_eq!(cancelled["title"], "cancel against title, retitled by bob");
    assert_eq!(a.stored(&s.done)["status"], "done", "done wins over cancelled");
    let deps = strings(&a.stored(&s.deps)["deps"]);
    let mut expected = vec![s.dep[1].clone(), s.dep[2].clone(), s.dep[3].clone()];
    expected.sort();
    assert_eq!(deps, expected, "dependencies merge as sets");
    // Both clones show the same thing.
    for id in [&s.fields, &s.same, &s.clock, &s.cancelled, &s.done, &s.deps] {
        assert_eq!(
            a.ok(&["show", id, "--json"]).json(),
            b.ok(&["show", id, "--json"]).json()
        );
    }
}

// Guards: clones that disagree after syncing, and merge rules applied differently depending on
// which clone merges.
#[test]
fn offline_edits_converge_when_the_first_editor_syncs_first() {
    offline_edits_converge(true);
}

// Guards: the same, with the other clone doing the merging.
#[test]
fn offline_edits_converge_when_the_second_editor_syncs_first() {
    offline_edits_converge(false);
}

// Guards: a dependency cycle assembled from two clones' edits, each harmless alone, surviving
// a sync, or being broken differently on the two clones.
#[test]
fn a_cycle_closed_by_two_offline_edits_is_broken_the_same_way_on_both_clones() {
    let hub = Hub::new();
    hub.bare("origin");
    let a = hub.seeded("a");
    let x = a.create(&["x"]);
    let y = a.create(&["y"]);
    let b = hub.clone_of_origin("b");
    a.ok(&["--offline", "--agent", "alice", "dep", "add", &x, &y]);
    b.ok(&["--offline", "--agent", "bob", "dep", "add", &y, &x]);

    let mut outputs = String::new();
    for site in [&a, &b, &a] {
        let sync = site.ok(&["sync"]);
        outputs.push_str(&sync.stdout);
    }
    // The greatest edge of the cycle, by dependent id then dependency id, goes.
    let (from, to) = if x > y { (&x, &y) } else { (&y, &x) };
    let line = format!("dropped dependency {from} → {to}: it closed a cycle");
    let refs = a.loom_refs();
    assert_eq!(refs, b.loom_refs(), "both clones hold identical loom refs");
    assert_eq!(refs, hub.remote_loom_refs("origin"));
    for site in [&a, &b] {
        let graph = site.ok(&["graph", "--json"]);
        let cycle = &graph.json()["cycle"];
        assert_eq!(
            cycle,
            &Value::Null,
            "no cycle is left ({}), but `graph` found one: {cycle}; the syncs printed:\n{outputs}",
            site.dir.file_name().unwrap().to_string_lossy()
        );
        assert_eq!(
            strings(&site.stored(from)["deps"]),
            Vec::<String>::new(),
            "{from} lost {to}"
        );
        assert_eq!(strings(&site.stored(to)["deps"]), [from.as_str()], "{to} keeps {from}");
    }
    assert!(
        outputs.contains(&line),
        "a sync reports the dropped edge ({line}):\n{outputs}"
    );
    let subject = a.git(&["log", "-1", "--format=%s", &format!("refs/loom/tasks/{from}")]);
    assert_eq!(
        subject.trim(),
        format!("drop dependency on {to} (it closed a cycle when histories were merged)")
    );
}

// Guards: a holder whose lease expired and was taken over elsewhere, while it could not reach
// the remote, recording its work over the new holder's claim.
#[test]
fn a_claim_swept_while_its_holder_was_cut_off_refuses_the_holders_done() {
    let hub = Hub::new();
    hub.bare("origin");
    let a = hub.seeded("a");
    let id = a.create(&["contested"]);
    let b = hub.clone_of_origin("b");
    let claim_ref = format!("refs/loom/claims/{id}");
    let task_ref = format!("refs/loom/tasks/{id}");

    a.ok(&["--agent", "alice", "claim", &id, "--ttl", "1"]);
    let on_remote = hub.bare_git("origin", &["show", &format!("{claim_ref}:claim.json")]);
    assert!(
        on_remote.contains("\"agent\": \"alice\""),
        "the claim was published: {on_remote}"
    );

    // A loses the remote.
    let origin_url = hub.url("origin");
    a.set_origin(&unreachable_url("origin.git"));

    // B, once the lease has run out, sweeps it and claims the task (every clone of the hub
    // shares one clock).
    hub.env.advance_clock(2.1);
    b.ok(&["sync"]);
    let swept = b.ok(&["--agent", "bob", "sweep"]);
    assert_eq!(
        swept.stdout,
        format!("{id}  requeued: lease of alice expired\n"),
        "{swept}"
    );
    assert_eq!(
        hub.bare_git("origin", &["for-each-ref", &claim_ref]),
        "",
        "the sweep removed the claim on the remote"
    );
    b.ok(&["--agent", "bob", "claim", &id]);
    let bobs_claim = hub.bare_git("origin", &["rev-parse", &claim_ref]);
    let bobs_task = hub.bare_git("origin", &["rev-parse", &task_ref]);

    // While cut off, A's done fails without changing anything.
    let a_before = a.loom_refs();
    let cut_off = a.fail(1, &["--agent", "alice", "done", &id]);
    assert!(
        cut_off.stderr.contains("\"origin\""),
        "the error names the remote: {cut_off}"
    );
    assert_eq!(a.loom_refs(), a_before, "nothing moved locally");

    // Back in touch, A's done is refused: the claim is bob's now.
    a.set_origin(&origin_url);
    let refused = a.fail(3, &["--agent", "alice", "done", &id]);
    assert!(
        refused.stderr.contains("claimed by bob"),
        "the refusal is about the claim: {refused}"
    );
    assert_eq!(
        hub.bare_git("origin", &["rev-parse", &claim_ref]),
        bobs_claim,
        "bob's claim is intact"
    );
    assert_eq!(
        hub.bare_git("origin", &["rev-parse", &task_ref]),
        bobs_task,
        "the remote task is untouched"
    );
    let remote_task: Value =
        serde_json::from_str(&hub.bare_git("origin", &["show", &format!("{task_ref}:task.json")])).unwrap();
    assert_eq!(remote_task["status"], "pending");
    let history = hub.bare_git("origin", &["log", "--format=%s", &task_ref]);
    assert!(!history.contains("done by"), "{history}");
    for site in [&a, &b] {
        assert_eq!(site.stored(&id)["status"], "pending", "not done anywhere");
        let shown = site.ok(&["show", &id, "--json"]).json();
        assert_eq!(shown["status"], "claimed");
        assert_eq!(shown["claim"]["agent"], "bob");
    }

    // Bob finishes it.
    b.ok(&["--agent", "bob", "done", &id]);
    let finished: Value =
        serde_json::from_str(&hub.bare_git("origin", &["show", &format!("{task_ref}:task.json")])).unwrap();
    assert_eq!(finished["status"], "done");
}

// Guards: a sync with nowhere to go doing something, or failing without saying why.
#[test]
fn sync_without_a_remote_is_a_usage_error_and_an_unknown_remote_is_named() {
    let env = TestEnv::new();
    let site = Site {
        env: &env,
        dir: env.new_repo("lonely"),
    };
    site.ok(&["init"]);
    let before = site.git(&["for-each-ref"]);
    let none = site.fail(2, &["sync"]);
    assert!(none.stderr.contains("no coordination remote set"), "{none}");
    assert!(none.stderr.contains("\nhint: "), "a hint follows: {none}");
    let unknown = site.fail(1, &["sync", "nosuch"]);
    assert!(unknown.stderr.contains("\"nosuch\""), "the remote is named: {unknown}");
    assert_eq!(site.git(&["for-each-ref"]), before, "nothing was written");
}

// Guards: a write whose push the remote refused moving local refs anyway.
#[test]
fn a_remote_that_refuses_pushes_fails_a_write_and_leaves_local_refs_alone() {
    let hub = Hub::new();
    hub.bare("origin");
    let a = hub.seeded("a");
    a.create(&["published"]);
    // The same repositories, served once more without receive-pack.
    let read_only = GitDaemon::start_read_only(&hub.env, &served(&hub.env));
    a.git(&["remote", "add", "mirror", &read_only.url("origin.git")]);
    let fetched = a.ok(&["sync", "mirror"]);
    assert_eq!(
        fetched.stdout, "mirror: 2 fetched, 0 fast-forwarded, 0 merged, 0 pushed\n",
        "the read-only remote can be read: {fetched}"
    );
    a.ok(&["remote", "mirror"]);

    let before = a.loom_refs();
    let remote_before = hub.remote_loom_refs("origin");
    let refused = a.fail(1, &["create", "never published"]);
    assert!(
        refused.stderr.contains("\"mirror\""),
        "the error names the remote: {refused}"
    );
    assert_eq!(a.loom_refs(), before, "no local ref moved");
    assert_eq!(hub.remote_loom_refs("origin"), remote_before, "nor any on the remote");
    let listed = a.ok(&["list", "--json"]).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

// Guards: a write with an unreachable remote half-happening, and `--offline` not working
// without the remote.
#[test]
fn an_unreachable_remote_fails_a_write_and_offline_keeps_it_local() {
    let env = TestEnv::new();
    let site = Site {
        env: &env,
        dir: env.new_repo("cut-off"),
    };
    site.ok(&["init"]);
    site.git(&["remote", "add", "gone", &unreachable_url("gone.git")]);
    site.ok(&["remote", "gone"]);

    let before = site.loom_refs();
    let created = site.fail(1, &["create", "lost"]);
    assert!(
        created.stderr.contains("\"gone\""),
        "the error names the remote: {created}"
    );
    assert_eq!(site.loom_refs(), before, "nothing changed locally");
    let synced = site.fail(1, &["sync"]);
    assert!(synced.stderr.contains("\"gone\""), "{synced}");
    assert_eq!(site.loom_refs(), before);

    let id = site.create(&["--offline", "kept"]);
    assert!(site.loom_refs().contains(&format!("refs/loom/tasks/{id}")));
    let claim = site.ok(&["--offline", "claim", &id]);
    assert!(claim.stdout.starts_with(&format!("{id}  token ")), "{claim}");
    assert!(
        claim.stderr.contains("claimed offline: gone does not know yet"),
        "a note says the claim was not published: {claim}"
    );
    assert!(site.loom_refs().contains(&format!("refs/loom/claims/{id}")));
}

/// `count:` of `git count-objects -v`: the number of loose objects.
fn loose_objects(site: &Site<'_>) -> usize {
    let counts = site.git(&["count-objects", "-v"]);
    counts
        .lines()
        .find_map(|line| line.strip_prefix("count: "))
        .expect("a count line")
        .parse()
        .unwrap()
}

// Guards: a sync whose cost grows with the number of tasks rather than with what changed.
#[test]
fn a_sync_fetches_only_the_objects_of_what_changed() {
    const TASKS: usize = 1_000;
    const CHANGED: usize = 10;
    let started = Instant::now();
    let hub = Hub::new();
    hub.bare("origin");
    let a = hub.seeded("a");
    let tasks = create_offline(&a, TASKS);
    let pushed = a.ok(&["sync"]);
    assert_eq!(
        pushed.stdout,
        format!("origin: 0 fetched, 0 fast-forwarded, 0 merged, {TASKS} pushed\n"),
        "{pushed}"
    );
    let b = hub.clone_of_origin("b");
    eprintln!("{TASKS} tasks created and cloned: {:?}", started.elapsed());
    // Keep every fetched object loose, so that counting loose objects counts what came.
    b.git(&["config", "fetch.unpackLimit", "100000"]);
    let before = loose_objects(&b);

    for id in &tasks[..CHANGED] {
        a.ok(&["--offline", "update", id, "-p", "p0"]);
    }
    let pushed = a.ok(&["sync"]);
    assert_eq!(
        pushed.stdout,
        format!("origin: 0 fetched, 0 fast-forwarded, 0 merged, {CHANGED} pushed\n"),
        "{pushed}"
    );
    let synced = Instant::now();
    let fetched = b.ok(&["sync"]);
    eprintln!("sync of {CHANGED} changes among {TASKS}: {:?}", synced.elapsed());
    assert_eq!(
        fetched.stdout,
        format!("origin: {CHANGED} fetched, {CHANGED} fast-forwarded, 0 merged, 0 pushed\n"),
        "{fetched}"
    );
    // One commit, one tree and one task.json blob per changed task, and nothing else.
    assert_eq!(loose_objects(&b) - before, 3 * CHANGED);
    assert_eq!(b.loom_refs(), a.loom_refs());
    for id in &tasks[..CHANGED] {
        assert_eq!(b.stored(id)["priority"], "p0");
    }
    eprintln!("cost test: {:?}", started.elapsed());
}
