//! Drawing a task graph for other tools: Graphviz DOT (through petgraph) and Mermaid.
//!
//! Arrows point the way work flows: from a dependency to the task that needs it, and from a
//! child to its epic (dashed). Labels carry the id, title and the status a user sees.

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;

use super::EdgeKind;
use crate::model::{TaskId, View};

/// What a drawing shows of one task.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: TaskId,
    pub title: String,
    pub view: View,
}

/// An edge `(waiter, awaited, kind)` as returned by [`super::TaskGraph::edges`].
pub type Edge = (TaskId, TaskId, EdgeKind);

/// Render as a Graphviz `digraph`.
pub fn to_dot(nodes: &[Node], edges: &[Edge]) -> String {
    let mut graph: DiGraph<String, EdgeKind> = DiGraph::new();
    let mut index = HashMap::new();
    for node in nodes {
        let label = format!("{}\n{}\n({})", node.id, node.title, node.view);
        index.insert(&node.id, graph.add_node(label));
    }
    for (waiter, awaited, kind) in edges {
        if let (Some(&waiter), Some(&awaited)) = (index.get(waiter), index.get(awaited)) {
            graph.add_edge(awaited, waiter, *kind);
        }
    }
    let views: Vec<View> = nodes.iter().map(|n| n.view).collect();
    let edge_attrs = |_, edge: petgraph::graph::EdgeReference<'_, EdgeKind>| match edge.weight() {
        EdgeKind::Dep => String::new(),
        EdgeKind::Child => "style = dashed".to_owned(),
    };
    let node_attrs = |_, (index, _): (petgraph::graph::NodeIndex, &String)| {
        format!(
            "shape = box, style = filled, fillcolor = \"{}\"",
            fill_for(views[index.index()])
        )
    };
    let dot = Dot::with_attr_getters(&graph, &[Config::EdgeNoLabel], &edge_attrs, &node_attrs);
    format!("{dot}")
}

fn fill_for(view: View) -> &'static str {
    match view {
        View::Done => "palegreen",
        View::Ready => "lightskyblue",
        View::Claimed => "gold",
        View::Blocked => "lightgrey",
        View::Failed | View::Dead => "salmon",
        View::Cancelled => "white",
        View::Epic => "plum",
        View::Idea => "lightyellow",
    }
}

/// Render as a Mermaid flowchart.
pub fn to_mermaid(nodes: &[Node], edges: &[Edge]) -> String {
    let mut out = String::from("flowchart TD\n");
    let known: std::collections::HashSet<&TaskId> = nodes.iter().map(|n| &n.id).collect();
    for node in nodes {
        let _ = writeln!(
            out,
            "    {}[\"{}: {} ({})\"]",
            mermaid_id(&node.id),
            node.id,
            mermaid_text(&node.title),
            node.view
        );
    }
    for (waiter, awaited, kind) in edges {
        if !known.contains(waiter) || !known.contains(awaited) {
            continue;
        }
        let arrow = match kind {
            EdgeKind::Dep => "-->",
            EdgeKind::Child => "-.->",
        };
        let _ = writeln!(out, "    {} {arrow} {}", mermaid_id(awaited), mermaid_id(waiter));
    }
    out
}

fn mermaid_id(id: &TaskId) -> String {
    id.as_str().replace('-', "_")
}

/// Mermaid labels are quoted; quotes and markup characters are written as entity codes.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<Node> {
        vec![
            Node {
                id: TaskId::parse("loom-00000001").unwrap(),
                title: "Say \"hi\"".into(),
                view: View::Ready,
            },
            Node {
                id: TaskId::parse("loom-00000002").unwrap(),
                title: "Then <this>".into(),
                view: View::Blocked,
            },
        ]
    }

    fn edges() -> Vec<Edge> {
        vec![(
            TaskId::parse("loom-00000002").unwrap(),
            TaskId::parse("loom-00000001").unwrap(),
            EdgeKind::Dep,
        )]
    }

    #[test]
    fn mermaid_points_from_dependency_to_dependent() {
        let text = to_mermaid(&nodes(), &edges());
        assert!(text.starts_with("flowchart TD\n"));
        assert!(text.contains("loom_00000001[\"loom-00000001: Say #quot;hi#quot; (ready)\"]"));
        assert!(text.contains("loom_00000001 --> loom_00000002"));
    }

    #[test]
    fn dot_escapes_labels() {
        let text = to_dot(&nodes(), &edges());
        assert!(text.starts_with("digraph {"));
        assert!(text.contains("Say \\\"hi\\\""));
        assert!(text.contains("0 -> 1"), "{text}");
    }
}
