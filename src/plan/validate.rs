//! The checks that span fields and stages of a lowered plan.
//!
//! Every check runs and every finding is returned, each with the line it is about, so one
//! reading of a plan lists all that is wrong with it. Stages whose id was missing or not a
//! string were reported while lowering and are left out of the id checks here, so one mistake
//! is reported once. An accepted plan has unique, valid ids, dependencies that all name stages
//! of the plan, names that fit on one line of a listing, no dependency cycle, no empty command, wiring patterns that compile and context
//! budgets within 1–100.

use std::collections::{HashMap, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use super::parse::StageLines;
use super::{Plan, PlanError, PlanErrorKind};
use crate::model::checks::Check;
use crate::model::stage::check_stage_id;

/// Run every check; the errors come in no particular order.
pub(super) fn validate(plan: &Plan, lines: &[StageLines]) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let mut error = |line: usize, kind| errors.push(PlanError { line: Some(line), kind });
    let index = stage_index(plan, lines, &mut error);
    for (position, (stage, lines)) in plan.stages.iter().zip(lines).enumerate() {
        // The same name lowering gave a stage without a usable id.
        let name = match lines.id {
            Some(_) => stage.id.clone(),
            None => format!("#{}", position + 1),
        };
        if let (Some(line), Some(reason)) = (lines.name, crate::model::title_problem(&stage.name)) {
            let kind = PlanErrorKind::InvalidName {
                stage: name.clone(),
                name: stage.name.clone(),
                reason,
            };
            error(line, kind);
        }
        for (dependency, line) in stage.dependencies.iter().zip(&lines.dependencies) {
            if !index.contains_key(dependency.as_str()) {
                let kind = PlanErrorKind::UnknownDependency {
                    stage: name.clone(),
                    dependency: dependency.clone(),
                };
                error(*line, kind);
            }
        }
        let commands = checks(&stage.acceptance, &lines.acceptance, "acceptance")
            .chain(checks(&stage.truths, &lines.truths, "truth"))
            .chain(checks(&stage.before_stage, &lines.before_stage, "before_stage"))
            .chain(checks(&stage.after_stage, &lines.after_stage, "after_stage"))
            .chain(
                stage
                    .wiring_tests
                    .iter()
                    .zip(&lines.wiring_tests)
                    .map(|(test, line)| (&test.check.command, *line, "wiring test")),
            )
            .chain(
                stage
                    .setup
                    .iter()
                    .zip(&lines.setup)
                    .map(|(command, line)| (command, *line, "setup")),
            );
        if let Some(dir) = &stage.working_dir {
            let trimmed = dir.trim();
            let reason =
                if trimmed.starts_with('/') || trimmed.starts_with('\\') || std::path::Path::new(trimmed).is_absolute()
                {
                    Some("is absolute: it must name a directory inside the worktree (\".\" for its root)")
                } else if trimmed.split(['/', '\\']).any(|segment| segment == "..") {
                    Some("leaves the worktree through `..`")
                } else {
                    None
                };
            if let Some(reason) = reason {
                let kind = PlanErrorKind::InvalidWorkingDir {
                    stage: name.clone(),
                    dir: dir.clone(),
                    reason,
                };
                error(stage.line, kind);
            }
        }
        if stage.extra.get("bug_fix") == Some(&serde_json::Value::Bool(true)) && stage.regression_test.is_none() {
            error(
                stage.line,
                PlanErrorKind::BugFixWithoutRegressionTest { stage: name.clone() },
            );
        }
        for (command, line, field) in commands {
            if command.trim().is_empty() {
                let kind = PlanErrorKind::EmptyCommand {
                    stage: name.clone(),
                    field,
                };
                error(line, kind);
            }
        }
        for (wiring, line) in stage.wiring.iter().zip(&lines.wiring) {
            if let Err(problem) = regex::Regex::new(&wiring.pattern) {
                let kind = PlanErrorKind::InvalidPattern {
                    stage: name.clone(),
                    pattern: wiring.pattern.clone(),
                    reason: regex_reason(&problem),
                };
                error(*line, kind);
            }
        }
        if let Some((percent, line)) = lines.context_budget
            && !(1..=100).contains(&percent)
        {
            let kind = PlanErrorKind::ContextBudget {
                stage: name.clone(),
                found: percent,
            };
            error(line, kind);
        }
    }
    for (line, cycle) in cycles(plan, &index) {
        error(line, PlanErrorKind::Cycle { cycle });
    }
    errors
}

fn checks<'a>(
    checks: &'a [Check],
    lines: &'a [usize],
    field: &'static str,
) -> impl Iterator<Item = (&'a String, usize, &'static str)> {
    checks
        .iter()
        .zip(lines)
        .map(move |(check, line)| (&check.command, *line, field))
}

/// Each usable id and the position of the stage that first defines it, reporting invalid and
/// duplicate ids on the way. An invalid id still names its stage, so that dependencies on it
/// are not reported a second time as unknown.
fn stage_index<'a>(
    plan: &'a Plan,
    lines: &[StageLines],
    error: &mut impl FnMut(usize, PlanErrorKind),
) -> HashMap<&'a str, usize> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (position, (stage, stage_lines)) in plan.stages.iter().zip(lines).enumerate() {
        let Some(line) = stage_lines.id else { continue };
        if let Err(reason) = check_stage_id(&stage.id) {
            let id = stage.id.clone();
            error(line, PlanErrorKind::InvalidStageId { id, reason });
        }
        match index.get(stage.id.as_str()) {
            Some(first) => {
                // Only stages with an id line are indexed, so the fallback is never taken.
                let first_line = lines.get(*first).and_then(|first| first.id).unwrap_or(line);
                let id = stage.id.clone();
                error(line, PlanErrorKind::DuplicateStageId { id, first_line, line });
            }
            None => {
                index.insert(&stage.id, position);
            }
        }
    }
    index
}

/// One cycle per knot of stages that wait on each other, as the ids along it starting and
/// ending with the knot's earliest stage, with that stage's line. Knots are found as strongly
/// connected components, so a tangle of several loops is reported once rather than once per
/// loop.
fn cycles(plan: &Plan, index: &HashMap<&str, usize>) -> Vec<(usize, Vec<String>)> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(plan.stages.len(), 0);
    let nodes: Vec<NodeIndex> = (0..plan.stages.len())
        .map(|position| graph.add_node(position))
        .collect();
    for (position, stage) in plan.stages.iter().enumerate() {
        // A stage that repeats an id is not the one the id names, so its edges would describe
        // a graph that does not exist.
        if index.get(stage.id.as_str()) != Some(&position) {
            continue;
        }
        for dependency in &stage.dependencies {
            if let Some(&target) = index.get(dependency.as_str()) {
                graph.update_edge(nodes[position], nodes[target], ());
            }
        }
    }
    let mut found: Vec<(usize, Vec<String>)> = tarjan_scc(&graph)
        .into_iter()
        .filter(|component| component.len() > 1 || graph.contains_edge(component[0], component[0]))
        .filter_map(|component| {
            let start = component.iter().map(|node| graph[*node]).min()?;
            let path = loop_through(&graph, &nodes, &component, start);
            let ids = path.iter().map(|position| plan.stages[*position].id.clone()).collect();
            Some((start, ids))
        })
        .collect();
    found.sort_by_key(|(start, _)| *start);
    found
        .into_iter()
        .map(|(start, ids)| (plan.stages[start].line, ids))
        .collect()
}

/// The shortest path from `start` back to itself within `component`, as stage positions with
/// `start` at both ends. Breadth-first, following dependencies in the order they are written,
/// so the same plan always prints the same cycle.
fn loop_through(graph: &DiGraph<usize, ()>, nodes: &[NodeIndex], component: &[NodeIndex], start: usize) -> Vec<usize> {
    let mut came_from: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([nodes[start]]);
    while let Some(node) = queue.pop_front() {
        // petgraph lists the newest edge first; reversing gives the order of the document.
        let mut next: Vec<NodeIndex> = graph.neighbors(node).collect();
        next.reverse();
        for target in next {
            if target == nodes[start] {
                let mut back = Vec::new();
                let mut step = node;
                while step != nodes[start] {
                    back.push(graph[step]);
                    // Every node reached was recorded with the node it was reached from.
                    let Some(previous) = came_from.get(&step) else { break };
                    step = *previous;
                }
                back.reverse();
                return std::iter::once(start).chain(back).chain([start]).collect();
            }
            if component.contains(&target) && !came_from.contains_key(&target) {
                came_from.insert(target, node);
                queue.push_back(target);
            }
        }
    }
    vec![start, start]
}

/// The one line of a regex error that says what is wrong; the rest of its message draws the
/// pattern with a caret under the spot, which does not fit on one line of a report.
fn regex_reason(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map_or_else(|| text.trim().to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_ids_follow_the_rust_loom() {
        // Guards: stage ids the Rust loom accepts (capitals, underscores, hex-looking words, up to 128 characters) must be accepted, and the ones it refuses refused.
        let long = "a".repeat(128);
        for good in [
            "a",
            "setup-db",
            "stage-2",
            "Setup_DB",
            "facade",
            "bc579",
            "1st",
            "a--b",
            "-a",
            long.as_str(),
        ] {
            assert_eq!(check_stage_id(good), Ok(()), "{good}");
        }
        let too_long = "a".repeat(129);
        for bad in [
            "",
            "a b",
            "é",
            "a/b",
            "../x",
            "a.b",
            "CON",
            "nul",
            "01-setup",
            too_long.as_str(),
        ] {
            assert!(check_stage_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn regex_reason_is_one_line() {
        // Built at run time so the linter does not refuse the deliberately broken pattern.
        let pattern = String::from("(unclosed");
        let error = regex::Regex::new(&pattern).unwrap_err();
        assert_eq!(regex_reason(&error), "unclosed group");
    }
}
