//! The integration tests, as one binary: each module is one area of the `git-loom` command line,
//! driven end to end through the built binary against real git repositories in temporary
//! directories. Run one area with `cargo test --test runner <module>::`.

mod common;

mod agent_sessions;
mod board;
mod cache;
mod claim_race;
mod claims;
mod cli_graph;
mod cli_history;
mod cli_ids;
mod cli_lifecycle;
mod cli_output;
mod cli_setup;
mod cli_tasks;
mod concurrency;
mod config;
mod doctor;
mod gate;
mod hooks;
mod mcp;
mod merge;
mod plans;
mod plans_import;
mod remote;
mod remote_agents;
mod run;
mod run_scenarios;
mod session;
mod setup;
mod shell;
mod store_damage;
mod store_format;
mod store_safety;
mod verify_plans;
