//! git-loom coordinates many coding agents on one repository, with git as its only database.
//!
//! Every piece of state is a JSON blob in a commit under `refs/loom/`, and every change is a
//! compare-and-swap ref transaction. The library is layered so data flows one way, from the use
//! cases down to the refs:
//!
//! - use cases, one module per capability: [`tasks`] (create, edit, import, history, the graph
//!   view), [`claims`] (claims, leases, sweeping), [`session`] (`next`, worktrees, signals,
//!   handoffs, `done` and its verify gate), [`project`] (init, settings, doctor) and [`hooks`]
//!   (git hooks: the task trailer, heartbeats on commit, the push guard);
//! - [`loom`] — the transaction core they all build on: [`loom::Loom`], snapshots, the workset
//!   that writes one atomic transaction, publishing through a coordination remote, the caches;
//! - [`sync`] — reconciling the refs with a remote's, below the core;
//! - [`api`] — the shapes every front end shares: JSON of tasks and claims, error codes and
//!   hints;
//! - [`store`] — the only code that touches refs and objects;
//! - [`repo`] — the user's repository: working trees, branches, commits and git config;
//! - [`exec`] — child processes under supervision (process groups, timeouts, output tails);
//! - [`model`] — task types, ids, settings, the entity codec and the state machine (the only
//!   code that changes a task's status); [`graph`] — dependency analysis; [`plan`] — plan
//!   files; [`verify`] — running a task's checks.
//!
//! The library never prints, prompts or reads the process environment: callers pass in who is
//! acting and when (see [`loom::Actor`]) and render the returned values themselves.

pub mod api;
pub mod claims;
pub mod exec;
pub mod graph;
pub mod hooks;
pub mod loom;
pub mod mcp;
pub mod merge;
pub mod model;
pub mod plan;
pub mod project;
pub mod repo;
pub mod run;
pub mod session;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod verify;
