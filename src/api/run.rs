//! `git loom run --json`: one JSON object per line for each event of the run, and a last one
//! for its end. Every object has `event` (its kind) and `at` (when the runner reported it);
//! the fields of each kind are documented in `doc/cli.md`.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::run::{RunEnd, RunEvent, RunReport, Summary};

fn summary_json(summary: &Summary) -> Value {
    json!({
        "ready": summary.ready,
        "running": summary.running,
        "queued": summary.queued,
        "done": summary.done,
        "merged": summary.merged,
        "failed": summary.failed,
        "dead": summary.dead,
        "blocked": summary.blocked,
    })
}

/// The line an event prints.
pub fn run_event_json(event: &RunEvent, at: Timestamp) -> Value {
    let (kind, mut body) = match event {
        RunEvent::Swept { expired, revived } => ("swept", json!({ "expired": expired, "revived": revived })),
        RunEvent::RunnerLost { session, task, agent } => (
            "runner_lost",
            json!({ "session": session, "task": task, "agent": agent }),
        ),
        RunEvent::Started {
            session,
            task,
            title,
            agent,
            attempt,
            pid,
            worktree,
            log,
        } => (
            "started",
            json!({
                "session": session, "task": task, "title": title, "agent": agent,
                "attempt": attempt, "pid": pid, "worktree": worktree, "log": log,
            }),
        ),
        RunEvent::Output { session, line } => ("output", json!({ "session": session, "line": line })),
        RunEvent::Heartbeat {
            session,
            task,
            commits,
            progress,
        } => (
            "heartbeat",
            json!({ "session": session, "task": task, "commits": commits, "progress": progress }),
        ),
        RunEvent::Stopping { session, why } => ("stopping", json!({ "session": session, "why": why })),
        RunEvent::Ended {
            session,
            task,
            reason,
            summary,
        } => {
            let mut body = json!({ "session": session, "task": task, "summary": summary });
            if let (Value::Object(body), Ok(Value::Object(reason))) = (&mut body, serde_json::to_value(reason)) {
                body.extend(reason);
            }
            ("ended", body)
        }
        RunEvent::Done { session, task } => ("done", json!({ "session": session, "task": task })),
        RunEvent::Failed {
            session,
            task,
            reason,
            dead,
        } => (
            "failed",
            json!({ "session": session, "task": task, "reason": reason, "dead": dead }),
        ),
        RunEvent::Released { session, task } => ("released", json!({ "session": session, "task": task })),
        RunEvent::Merge { task, state, note } => ("merge", json!({ "task": task, "state": state, "note": note })),
        RunEvent::Summary(summary) => ("summary", summary_json(summary)),
        RunEvent::Interrupted { kill } => ("interrupted", json!({ "kill": kill })),
        RunEvent::Warning { message } => ("warning", json!({ "message": message })),
    };
    let mut line = serde_json::Map::new();
    line.insert("event".into(), Value::from(kind));
    line.insert("at".into(), Value::from(at.to_string()));
    if let Value::Object(fields) = body.take() {
        line.extend(fields);
    }
    Value::Object(line)
}

/// The last line: how the run ended.
pub fn run_end_json(report: &RunReport, at: Timestamp) -> Value {
    let end = match report.end {
        RunEnd::AllDone => "all_done",
        RunEnd::Stuck => "stuck",
        RunEnd::Interrupted => "interrupted",
    };
    json!({
        "event": "end",
        "at": at.to_string(),
        "end": end,
        "sessions": report.sessions,
        "summary": summary_json(&report.summary),
    })
}
