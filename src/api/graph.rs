//! The dependency graph as every front end returns it: the shown tasks as task objects, the
//! edges between them, the critical path and any cycle. The shape is interface, documented in
//! `doc/cli.md` (`graph --json`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::task::TaskJson;
use crate::model::{Claim, TaskId};
use crate::tasks::GraphView;

/// The graph `graph --json` prints.
#[derive(Debug, Serialize)]
pub struct GraphJson<'a> {
    /// The tasks shown, in work order, each with its claim.
    pub nodes: Vec<TaskJson<'a>>,
    pub edges: Vec<EdgeJson<'a>>,
    pub critical_path: &'a [TaskId],
    pub cycle: Option<&'a [TaskId]>,
}

/// One edge: `from` waits for `to`, as a dependency (`dep`) or a child (`child`).
#[derive(Debug, Serialize)]
pub struct EdgeJson<'a> {
    pub from: &'a TaskId,
    pub to: &'a TaskId,
    pub kind: String,
}

impl<'a> GraphJson<'a> {
    /// The graph `view` holds, with the claims read for its tasks.
    pub fn new(view: &'a GraphView, claims: &'a BTreeMap<TaskId, Claim>) -> Self {
        GraphJson {
            nodes: view
                .rows()
                .into_iter()
                .map(|(entry, derived)| TaskJson::new(&entry.task, derived).with_claim(claims.get(&entry.task.id)))
                .collect(),
            edges: view
                .edges
                .iter()
                .map(|(from, to, kind)| EdgeJson {
                    from,
                    to,
                    kind: kind.to_string(),
                })
                .collect(),
            critical_path: &view.critical_path,
            cycle: view.cycle.as_ref().map(|cycle| cycle.0.as_slice()),
        }
    }
}
