//! The merge engine beside the runner: a thread of its own serves the merge queue whenever it
//! has open requests, so the runner's heartbeats go on while candidates are tested. The engine
//! takes the repository's merge lease (`merge_run` does), so with a coordination remote one
//! engine serves the queue whichever runner it is in; a runner that finds the lease held
//! leaves the queue to its holder and looks again later. With a coordination remote, passing
//! candidates land on the remote's target first (as `merge --ci` does).
//!
//! Guarantees: the thread never outlives the run ([`Merger::stop`] joins it after the round
//! under way), and every decision it makes reaches the run's events, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::options::{Clock, RunEvent};
use crate::loom::{Actor, Error, Loom};
use crate::merge::MergeEvent;

/// How long the thread waits between two looks at the queue.
const IDLE: Duration = Duration::from_millis(250);

/// The running merge thread.
pub struct Merger {
    stop: Arc<AtomicBool>,
    events: Receiver<RunEvent>,
    thread: Option<JoinHandle<()>>,
}

impl Merger {
    /// Serve the queue of `loom` as `agent` until stopped. The merge lease is held under a
    /// name unique to this process (`<agent> on <host> pid <pid>`): two runs under one runner
    /// name must not both believe they hold it.
    pub fn start(loom: Loom, agent: String, host: &str, clock: Clock) -> Merger {
        let holder = format!("{agent} on {host} pid {}", std::process::id());
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, events) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("merge-engine".into())
            .spawn(move || serve(&loom, &agent, &holder, &clock, &flag, &sender))
            .ok();
        Merger { stop, events, thread }
    }

    /// The events reported since the last call.
    pub fn drain(&self) -> Vec<RunEvent> {
        self.events.try_iter().collect()
    }

    /// Stop after the round under way; the events not yet drained.
    pub fn stop(mut self) -> Vec<RunEvent> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.drain()
    }
}

fn serve(loom: &Loom, agent: &str, holder: &str, clock: &Clock, stop: &AtomicBool, events: &Sender<RunEvent>) {
    let mut last_problem = None;
    while !stop.load(Ordering::SeqCst) {
        let open = loom
            .merge_queue()
            .map(|queue| queue.entries.iter().any(|entry| entry.request.state.is_open()))
            .unwrap_or(false);
        if open {
            let actor = Actor {
                agent: agent.to_owned(),
                now: clock(),
            };
            // With a coordination remote the work lands there first (as `merge --ci` does),
            // so runners in other clones build on it, and the local target follows.
            let options = crate::merge::RunOptions {
                holder: Some(holder.to_owned()),
                remote: loom.store().publish_remote().map(str::to_owned),
                ..crate::merge::RunOptions::default()
            };
            let ran = loom.merge_run(&options, &actor, |event| {
                if let MergeEvent::Decided(decision) = event {
                    let _ = events.send(RunEvent::Merge {
                        task: decision.task.clone(),
                        state: decision.state.to_string(),
                        note: decision.note.clone(),
                    });
                }
            });
            let problem = match ran {
                Ok(_) => None,
                // Another engine serves the queue: it is in good hands.
                Err(Error::MergeLeaseHeld { .. }) => None,
                Err(err) => Some(format!("merge: {err}")),
            };
            // The same problem every round would flood the events.
            if problem.is_some() && problem != last_problem {
                let _ = events.send(RunEvent::Warning {
                    message: problem.clone().unwrap_or_default(),
                });
            }
            last_problem = problem;
        }
        std::thread::sleep(IDLE);
    }
}
