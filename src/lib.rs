//! git-loom coordinates many coding agents on one repository, with git as its only database.
//!
//! Every piece of state is a JSON blob in a commit under `refs/loom/`, and every change is a
//! compare-and-swap ref transaction. The library is layered so data flows one way:
//!
//! - [`model`] — task types, ids, settings and the state machine (the only code that changes a
//!   task's status);
//! - [`store`] — the only code that touches refs and objects;
//! - [`repo`] — the user's repository: working trees, branches, commits and git config;
//! - [`exec`] — child processes under supervision (process groups, timeouts, output tails);
//! - [`graph`] — dependency analysis: cycles, ready order, critical path, exports;
//! - [`ops`] — the operations a command performs, composed from the three above;
//! - [`history`] — a task's audit log read back from its commit chain.
//!
//! The library never prints, prompts or reads the process environment: callers pass in who is
//! acting and when (see [`ops::Actor`]) and render the returned values themselves.

pub mod exec;
pub mod graph;
pub mod history;
pub mod model;
pub mod ops;
pub mod plan;
pub mod repo;
pub mod store;
pub mod verify;
