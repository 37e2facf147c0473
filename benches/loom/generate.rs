//! The seeded graph generator and the fixture repositories built from it through the library.

use super::*;

/// xorshift64*: small, fast and fully determined by its seed.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        // Never zero, and different seeds spread apart.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(super) fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// A number in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Epic,
    Idea,
    Task,
}

/// What becomes of a planned task once it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
    /// Stays as created: pending (ready or blocked), an open epic, or an idea.
    Open,
    Done,
    Cancelled,
    /// Claimed, then failed once (retried after a backoff).
    Failed,
    /// Claimed, then failed with no retries allowed.
    Dead,
    /// Claimed by a worker that is still on it.
    Claimed,
}

#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub(super) role: Role,
    pub(super) priority: Priority,
    pub(super) labels: Vec<usize>,
    /// Indices of earlier tasks this one depends on.
    pub(super) deps: Vec<usize>,
    pub(super) parent: Option<usize>,
    pub(super) fate: Fate,
}

/// An epic and the consecutive tasks that are its children.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) epic: usize,
    pub(super) children: std::ops::Range<usize>,
    /// Whether its children depend on each other (and so are created with a whole-graph read).
    pub(super) chained: bool,
}

/// A creation unit: a whole epic block, or one free task.
#[derive(Debug, Clone)]
pub(super) enum Unit {
    Block(Block),
    Free(usize),
}

pub(super) struct Plan {
    pub(super) tasks: Vec<Planned>,
    pub(super) units: Vec<Unit>,
}

impl Plan {
    /// The order tasks are created in: blocks whose children depend on each other first (they
    /// read the whole graph, so while it is small), then everything else in index order.
    pub(super) fn creation_order(&self) -> impl Iterator<Item = &Unit> {
        let chained = |unit: &&Unit| matches!(unit, Unit::Block(block) if block.chained);
        self.units
            .iter()
            .filter(chained)
            .chain(self.units.iter().filter(move |unit| !chained(unit)))
    }

    pub(super) fn fate_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for task in &self.tasks {
            let name = match (task.role, task.fate) {
                (Role::Epic, _) => "epic",
                (Role::Idea, Fate::Cancelled) => "idea dropped",
                (Role::Idea, _) => "idea",
                (Role::Task, Fate::Open) => "open",
                (Role::Task, Fate::Done) => "done",
                (Role::Task, Fate::Cancelled) => "cancelled",
                (Role::Task, Fate::Failed) => "failed",
                (Role::Task, Fate::Dead) => "dead",
                (Role::Task, Fate::Claimed) => "claimed",
            };
            *counts.entry(name).or_default() += 1;
        }
        counts
    }
}

pub(super) fn priority(rng: &mut Rng) -> Priority {
    match rng.below(100) {
        0..8 => Priority::P0,
        8..30 => Priority::P1,
        30..75 => Priority::P2,
        _ => Priority::P3,
    }
}

pub(super) fn labels(rng: &mut Rng) -> Vec<usize> {
    match rng.below(10) {
        0..2 => vec![],
        2..8 => vec![rng.below(8)],
        _ => {
            let a = rng.below(8);
            vec![a, (a + 1 + rng.below(7)) % 8]
        }
    }
}

/// Plan a graph of `size` tasks. About one task in 25 is an epic followed by 4–12 children;
/// free tasks continue chains (the previous free task), lean on a few hub tasks (fan-out),
/// depend on up to two of the 200 tasks before them, and now and then gather many (fan-in).
/// Earlier tasks are more likely done; a task is done only when everything it waits on is.
pub(super) fn plan(size: usize, seed: u64) -> Plan {
    let mut rng = Rng::new(seed);
    let mut tasks: Vec<Planned> = Vec::with_capacity(size);
    let mut units = Vec::new();
    let expected_children = (size as f64 * 0.32).max(1.0);
    let chain_share = (CHAINED_CHILDREN as f64 / expected_children).min(1.0);
    let mut chained_children = 0;
    let mut hubs: Vec<usize> = Vec::new();
    let mut last_free: Option<usize> = None;
    // Closed-ness as the library will see it, to decide fates that are legal.
    let mut done: Vec<bool> = Vec::with_capacity(size);
    let mut closed: Vec<bool> = Vec::with_capacity(size);

    // The fate of a task that has just been planned (its deps are already decided).
    let decide = |rng: &mut Rng, deps: &[usize], done: &[bool], position: f64| -> Fate {
        let ready = deps.iter().all(|&d| done[d]);
        let roll = rng.unit();
        if !ready {
            return if roll < 0.04 { Fate::Cancelled } else { Fate::Open };
        }
        let p_done = 0.97 - 0.4 * position;
        let bands = [
            (p_done, Fate::Done),
            (0.04, Fate::Cancelled),
            (0.03, Fate::Failed),
            (0.006, Fate::Dead),
            (0.01, Fate::Claimed),
        ];
        let mut edge = 0.0;
        for (width, fate) in bands {
            edge += width;
            if roll < edge {
                return fate;
            }
        }
        Fate::Open
    };

    let mut i = 0;
    while i < size {
        let position = i as f64 / size as f64;
        if i.is_multiple_of(25) && i + 1 < size {
            // An epic and its children.
            let epic = i;
            let count = (4 + rng.below(9)).min(size - i - 1);
            let chained = chained_children + count <= CHAINED_CHILDREN && rng.chance(chain_share);
            if chained {
                chained_children += count;
            }
            tasks.push(Planned {
                role: Role::Epic,
                priority: priority(&mut rng),
                labels: labels(&mut rng),
                deps: vec![],
                parent: None,
                fate: Fate::Open,
            });
            done.push(false);
            closed.push(false);
            let children = epic + 1..epic + 1 + count;
            for child in children.clone() {
                let mut deps = Vec::new();
                if chained && child > epic + 1 {
                    if rng.chance(0.6) {
                        deps.push(child - 1);
                    }
                    if child > epic + 2 && rng.chance(0.25) {
                        let other = epic + 1 + rng.below(child - epic - 2);
                        if !deps.contains(&other) {
                            deps.push(other);
                        }
                    }
                }
                let fate = decide(&mut rng, &deps, &done, child as f64 / size as f64);
                done.push(fate == Fate::Done);
                closed.push(matches!(fate, Fate::Done | Fate::Cancelled));
                tasks.push(Planned {
                    role: Role::Task,
                    priority: priority(&mut rng),
                    labels: labels(&mut rng),
                    deps,
                    parent: Some(epic),
                    fate,
                });
            }
            // The library closes an epic once every child is closed and one of them is done.
            let all_closed = children.clone().all(|c| closed[c]);
            let any_done = children.clone().any(|c| done[c]);
            if all_closed && any_done {
                done[epic] = true;
                closed[epic] = true;
            }
            units.push(Unit::Block(Block {
                epic,
                children: children.clone(),
                chained,
            }));
            i = children.end;
            continue;
        }
        // A free task or idea.
        if rng.chance(0.05) {
            let fate = if rng.chance(0.2) { Fate::Cancelled } else { Fate::Open };
            tasks.push(Planned {
                role: Role::Idea,
                priority: priority(&mut rng),
                labels: labels(&mut rng),
                deps: vec![],
                parent: None,
                fate,
            });
            done.push(false);
            closed.push(fate == Fate::Cancelled);
            units.push(Unit::Free(i));
            i += 1;
            continue;
        }
        let is_dep = |tasks: &[Planned], d: usize| tasks[d].role != Role::Idea;
        let mut deps: Vec<usize> = Vec::new();
        let add = |deps: &mut Vec<usize>, d: usize| {
            if !deps.contains(&d) {
                deps.push(d);
            }
        };
        // A chain: the previous free task.
        if let Some(prev) = last_free
            && rng.chance(0.35)
        {
            add(&mut deps, prev);
        }
        // Fan-out: a few hub tasks many others wait on.
        if !hubs.is_empty() && rng.chance(0.25) {
            let recent = &hubs[hubs.len().saturating_sub(8)..];
            add(&mut deps, recent[rng.below(recent.len())]);
        }
        // Up to two of the 200 tasks before it.
        let window = i.min(200);
        if window > 0 {
            for _ in 0..rng.below(3) {
                let d = i - 1 - rng.below(window);
                if is_dep(&tasks, d) {
                    add(&mut deps, d);
                }
            }
        }
        // Fan-in: now and then a task that gathers many.
        if i > 50 && rng.chance(0.015) {
            let window = i.min(400);
            for _ in 0..5 + rng.below(8) {
                let d = i - 1 - rng.below(window);
                if is_dep(&tasks, d) {
                    add(&mut deps, d);
                }
            }
        }
        deps.sort_unstable();
        let fate = decide(&mut rng, &deps, &done, position);
        if rng.chance(0.03) {
            hubs.push(i);
        }
        done.push(fate == Fate::Done);
        closed.push(matches!(fate, Fate::Done | Fate::Cancelled));
        tasks.push(Planned {
            role: Role::Task,
            priority: priority(&mut rng),
            labels: labels(&mut rng),
            deps,
            parent: None,
            fate,
        });
        units.push(Unit::Free(i));
        last_free = Some(i);
        i += 1;
    }
    Plan { tasks, units }
}

// ---------------------------------------------------------------------------------------------
// Building fixtures through the library

pub(super) const GEN_AGENT: &str = "generator";
pub(super) const WORKER_AGENT: &str = "worker";

pub(super) fn new_task(index: usize, planned: &Planned, ids: &[Option<String>]) -> NewTask {
    let kind = match planned.role {
        Role::Epic => Kind::Epic,
        Role::Idea => Kind::Idea,
        Role::Task => Kind::Task,
    };
    let area = planned.labels.first().copied().unwrap_or(index % 8);
    let title = match planned.role {
        Role::Epic => format!("Epic {index}: area{area} milestone"),
        Role::Idea => format!("Idea {index}: explore area{area}"),
        Role::Task => format!("Task {index}: change area{area}"),
    };
    let mut new = NewTask::titled(title, kind);
    new.priority = Some(planned.priority);
    new.labels = planned.labels.iter().map(|l| format!("area{l}")).collect();
    if index.is_multiple_of(2) {
        new.description = format!("Generated task {index} of the benchmark graph, in area{area}.");
    }
    if planned.role == Role::Task {
        if index.is_multiple_of(3) {
            new.acceptance = vec!["cargo test".to_owned()];
        }
        if index.is_multiple_of(5) {
            new.files = vec![format!("src/area{area}/part{}.rs", index % 37)];
        }
    }
    new.deps = planned
        .deps
        .iter()
        .map(|&d| ids[d].clone().expect("dependencies are created first"))
        .collect();
    new.parent = planned
        .parent
        .map(|p| ids[p].clone().expect("an epic is created before its children"));
    if planned.fate == Fate::Dead {
        new.max_retries = Some(0);
    }
    new
}

pub(super) fn apply_fate(loom: &Loom, id: &str, planned: &Planned) {
    let status = |status| {
        loom.update(
            id,
            &Changes {
                status: Some(status),
                ..Changes::default()
            },
            &actor(GEN_AGENT),
        )
        .unwrap_or_else(|err| panic!("{id} to {status:?}: {err}"));
    };
    let claim = || {
        loom.claim(id, &ClaimOptions::default(), &actor(WORKER_AGENT))
            .unwrap_or_else(|err| panic!("claim {id}: {err}"));
    };
    let fail = || {
        loom.fail(id, Credentials::default(), "tests failed", &actor(WORKER_AGENT))
            .unwrap_or_else(|err| panic!("fail {id}: {err}"));
    };
    match planned.fate {
        Fate::Open => {}
        Fate::Done => status(Status::Done),
        Fate::Cancelled => status(Status::Cancelled),
        Fate::Failed | Fate::Dead => {
            claim();
            fail();
        }
        Fate::Claimed => claim(),
    }
}

/// What a fixture holds, for the report.
pub(super) struct FixtureInfo {
    pub(super) dir: PathBuf,
    pub(super) generation_secs: f64,
    pub(super) generated_now: bool,
    /// Tasks by the status a user sees, right after generation.
    pub(super) views: BTreeMap<String, usize>,
}

pub(super) fn init_repository(dir: &Path, name: &str) -> Loom {
    std::fs::create_dir_all(dir).expect("the bench directory is writable");
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "initial commit"]);
    let store = Store::discover(dir).expect("the repository was just created");
    let (loom, _) = Loom::init(store, Some(name), &actor(GEN_AGENT)).expect("a new repository initialises");
    loom
}

pub(super) fn generate(dir: &Path, size: usize, seed: u64) -> BTreeMap<String, usize> {
    let plan = plan(size, seed);
    let loom = init_repository(dir, &format!("bench-{size}"));
    let mut ids: Vec<Option<String>> = vec![None; size];
    let mut created = 0;
    let mut next_report = Instant::now() + Duration::from_secs(10);
    let start = Instant::now();
    let mut create = |index: usize, ids: &mut Vec<Option<String>>| {
        let new = new_task(index, &plan.tasks[index], ids);
        let task = loom
            .create(&new, &actor(GEN_AGENT))
            .unwrap_or_else(|err| panic!("creating task {index}: {err}"));
        ids[index] = Some(task.id.to_string());
        created += 1;
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(10);
            eprintln!(
                "  … {created}/{size} tasks after {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
    };
    for unit in plan.creation_order() {
        match unit {
            Unit::Free(index) => {
                create(*index, &mut ids);
                let id = ids[*index].clone().expect("just created");
                apply_fate(&loom, &id, &plan.tasks[*index]);
            }
            Unit::Block(block) => {
                create(block.epic, &mut ids);
                for child in block.children.clone() {
                    create(child, &mut ids);
                }
                // Children change state only once all exist: an epic closes with its last
                // open child, and a closed epic takes no more children.
                for child in block.children.clone() {
                    let id = ids[child].clone().expect("just created");
                    apply_fate(&loom, &id, &plan.tasks[child]);
                }
            }
        }
    }
    let snapshot = loom.snapshot(jiff::Timestamp::now()).expect("the fixture reads back");
    assert_eq!(snapshot.tasks.len(), size, "every planned task exists");
    assert!(snapshot.problems.is_empty(), "the fixture reads cleanly");
    let planned = plan.fate_counts();
    let done = snapshot
        .tasks
        .values()
        .filter(|e| e.task.status() == Status::Done)
        .count();
    let planned_done = planned.get("done").copied().unwrap_or(0);
    assert!(
        done >= planned_done,
        "{done} tasks done, fewer than the {planned_done} planned"
    );
    snapshot
        .counts()
        .into_iter()
        .map(|(view, count)| (view.to_owned(), count))
        .collect()
}

pub(super) fn fixture(repos: &Path, size: usize, seed: u64) -> FixtureInfo {
    let dir = repos.join(format!("{size}-{seed}"));
    let marker = repos.join(format!("{size}-{seed}.done"));
    let parse = |text: &str| -> Option<(f64, BTreeMap<String, usize>)> {
        let mut lines = text.lines();
        if lines.next()? != format!("generator {GENERATOR}") {
            return None;
        }
        let secs = lines.next()?.strip_prefix("seconds ")?.parse().ok()?;
        let views = lines
            .map(|line| {
                let (view, count) = line.split_once(' ')?;
                Some((view.to_owned(), count.parse().ok()?))
            })
            .collect::<Option<_>>()?;
        Some((secs, views))
    };
    if dir.is_dir()
        && let Some((generation_secs, views)) = std::fs::read_to_string(&marker).ok().as_deref().and_then(parse)
    {
        return FixtureInfo {
            dir,
            generation_secs,
            generated_now: false,
            views,
        };
    }
    eprintln!("generating {size} tasks (seed {seed}) in target/bench-repos/{size}-{seed} …");
    std::fs::remove_file(&marker).ok();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("an old fixture can be removed");
    }
    let start = Instant::now();
    let views = generate(&dir, size, seed);
    let generation_secs = start.elapsed().as_secs_f64();
    eprintln!("  generated {size} tasks in {generation_secs:.1} s");
    let mut text = format!("generator {GENERATOR}\nseconds {generation_secs:.1}\n");
    for (view, count) in &views {
        let _ = writeln!(text, "{view} {count}");
    }
    std::fs::write(&marker, text).expect("the marker can be written");
    FixtureInfo {
        dir,
        generation_secs,
        generated_now: true,
        views,
    }
}

/// Copy a repository for measuring. Objects and loose refs are only ever replaced (written to a
/// new file and renamed), never changed in place, so they are hard-linked (falling back to a
/// copy); everything else (config, the read cache) is copied.
///
/// Hard links also keep the measurements clean: packing the copy's refs, and removing the copy
/// afterwards, only drop links instead of deleting files. On ext4 creating files for about a
/// minute after many files were deleted costs noticeably more (the inode allocator steps over
/// recently deleted inodes), which had made every write on a freshly packed copy up to twice
/// as slow.
pub(super) fn copy_repository(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).expect("an old work copy can be removed");
    }
    std::fs::create_dir_all(to.join(".git")).expect("the work directory is writable");
    for entry in std::fs::read_dir(from.join(".git")).expect("the fixture has a .git directory") {
        let entry = entry.expect("the fixture is readable");
        let source = entry.path();
        let target = to.join(".git").join(entry.file_name());
        let linked = (entry.file_name() == "objects" || entry.file_name() == "refs")
            && Command::new("cp")
                .arg("-al")
                .arg(&source)
                .arg(&target)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !linked {
            if target.exists() {
                std::fs::remove_dir_all(&target).ok();
            }
            let status = Command::new("cp")
                .arg("-a")
                .arg(&source)
                .arg(&target)
                .status()
                .expect("cp runs");
            assert!(status.success(), "copying {}", entry.file_name().to_string_lossy());
        }
    }
}

/// Let the copy's writes reach the disk before anything is timed, so that the figures do not
/// pay for writing back what copying left behind.
pub(super) fn settle() {
    let _ = Command::new("sync").status();
}

/// How long after many files were deleted (as generating a fixture does: every ref update
/// replaces a file) creating files on ext4 stays slower.
pub(super) const RECENTLY_DELETED: Duration = Duration::from_secs(65);
