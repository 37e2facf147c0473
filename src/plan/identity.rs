//! A plan's identity: the key its tasks record in `plan`, which tells an import which existing
//! tasks are the plan's own.
//!
//! Guarantees:
//! - a plan with a `plan_id` is known by it, wherever its file lives and whatever it is called;
//! - otherwise it is known by its path within the repository with the lifecycle prefixes the
//!   Rust loom adds to a plan's file name (`IN_PROGRESS-`, `DONE-`) removed, so renaming
//!   `PLAN-x.md` to `IN_PROGRESS-PLAN-x.md` and then `DONE-PLAN-x.md` keeps the same key, while
//!   two files called `plan.md` in different folders are two plans;
//! - the keys an earlier git-loom stored (the bare file name, as it was given) are listed by
//!   [`earlier_keys`], so that tasks imported before keep being recognised instead of being
//!   duplicated.
//!
//! Nothing here touches the file system: the caller passes the path relative to the
//! repository root.

use super::Plan;

/// What the Rust loom puts before a plan's file name as the plan moves through its life.
pub const LIFECYCLE_PREFIXES: &[&str] = &["IN_PROGRESS-", "DONE-"];

/// The key of `plan`, read from `path`: its `plan_id`, or else [`path_key`] of `path`.
pub fn plan_key(plan: &Plan, path: &str) -> String {
    match &plan.plan_id {
        Some(id) => id.clone(),
        None => path_key(path),
    }
}

/// `path` (relative to the repository root) with `/` between folders and the lifecycle
/// prefixes removed from its file name: `doc/plans/DONE-PLAN-x.md` is `doc/plans/PLAN-x.md`.
pub fn path_key(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.trim_start_matches("./");
    let (folder, name) = match path.rsplit_once('/') {
        Some((folder, name)) => (Some(folder), name),
        None => (None, path),
    };
    let name = bare_name(name);
    match folder {
        Some(folder) => format!("{folder}/{name}"),
        None => name.to_owned(),
    }
}

/// A file name without its lifecycle prefixes (repeated ones too, as in `DONE-IN_PROGRESS-x`).
fn bare_name(mut name: &str) -> &str {
    while let Some(rest) = LIFECYCLE_PREFIXES.iter().find_map(|prefix| name.strip_prefix(prefix)) {
        if rest.is_empty() {
            break;
        }
        name = rest;
    }
    name
}

/// How a plan is named where space is short: its key without folders and without a markdown or
/// toml extension (`doc/plans/PLAN-x.md` is `PLAN-x`; a `plan_id` is itself). Listings show a
/// task's stage as `SHORT:STAGE`, and that form names the task wherever a task id is accepted.
pub fn short_name(key: &str) -> &str {
    let name = bare_name(key.rsplit('/').next().unwrap_or(key));
    match name.rsplit_once('.') {
        Some((stem, "md" | "markdown" | "toml")) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Keys under which tasks of the plan at `path` may already be stored, other than `key`: the
/// path key (for a plan that has since been given a `plan_id`) and the bare file name in each
/// lifecycle form (what an earlier git-loom stored). Tasks found under one of these belong to
/// this plan only for the stage ids the plan still has.
pub fn earlier_keys(path: &str, key: &str) -> Vec<String> {
    let normal = path_key(path);
    let name = normal.rsplit('/').next().unwrap_or(&normal).to_owned();
    let mut keys = vec![normal.clone(), name.clone()];
    keys.extend(LIFECYCLE_PREFIXES.iter().map(|prefix| format!("{prefix}{name}")));
    keys.retain(|candidate| candidate != key);
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn plan(plan_id: Option<&str>) -> Plan {
        Plan {
            version: 1,
            plan_id: plan_id.map(str::to_owned),
            auto_merge: None,
            sandbox: None,
            stages: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn lifecycle_renames_keep_the_key_and_folders_tell_plans_apart() {
        // Guards: a plan renamed PLAN-x → IN_PROGRESS-PLAN-x → DONE-PLAN-x must keep its identity, and two plan.md in different folders must not share one.
        let keys: Vec<String> = [
            "doc/plans/PLAN-x.md",
            "doc/plans/IN_PROGRESS-PLAN-x.md",
            "./doc/plans/DONE-PLAN-x.md",
            "doc\\plans\\DONE-IN_PROGRESS-PLAN-x.md",
        ]
        .iter()
        .map(|path| plan_key(&plan(None), path))
        .collect();
        assert!(keys.iter().all(|key| key == "doc/plans/PLAN-x.md"), "{keys:?}");
        assert_ne!(path_key("a/plan.md"), path_key("b/plan.md"));
        assert_eq!(path_key("DONE-"), "DONE-");
        assert_eq!(plan_key(&plan(Some("rate-limit")), "a/DONE-plan.md"), "rate-limit");
        assert_eq!(short_name("doc/plans/PLAN-x.md"), "PLAN-x");
        assert_eq!(short_name("DONE-PLAN-x.md"), "PLAN-x");
        assert_eq!(short_name("rate-limit"), "rate-limit");
        assert_eq!(short_name("plans/v1.2"), "v1.2");
    }

    #[test]
    fn earlier_keys_cover_the_old_file_name_keys() {
        assert_eq!(
            earlier_keys("doc/plans/DONE-PLAN-x.md", "doc/plans/PLAN-x.md"),
            ["PLAN-x.md", "IN_PROGRESS-PLAN-x.md", "DONE-PLAN-x.md"]
        );
        assert_eq!(
            earlier_keys("plan.md", "my-plan"),
            ["plan.md", "IN_PROGRESS-plan.md", "DONE-plan.md"]
        );
    }
}
