//! `git loom mcp`: serve the agent-facing operations as Model Context Protocol tools over
//! stdio, for as long as the client keeps the pipe open. The server itself is
//! `git_loom::mcp`; this command resolves who acts and when, and owns the async runtime the
//! protocol library needs (the rest of git-loom stays synchronous).
//!
//! stdout carries the protocol and nothing else: notes go to stderr.

use clap::Args;
use rmcp::ServiceExt;

use git_loom::mcp::LoomServer;

use super::context::{Context, TEST_NOW_VARIABLE};
use super::error::{CommandError, Exit};
use super::ui::Ui;

/// Serve git-loom's agent operations as MCP tools over stdio
///
/// One long-lived process per agent: the client (Claude Code, Codex, ...) starts it and speaks
/// newline-delimited JSON-RPC on its stdin and stdout. Tools: ready, show, next, claim,
/// heartbeat, handoff, done, fail, release, create, update, dep, graph, status, verify, idea,
/// merge_queue. Results are the JSON `--json` prints; errors are tool errors with the code,
/// message and hints the command line gives. Register it in `.mcp.json`:
/// {"mcpServers":{"loom":{"command":"git","args":["loom","mcp"]}}}
#[derive(Debug, Args)]
pub struct McpArgs {
    /// List the tools and exit, without serving
    #[arg(long)]
    list_tools: bool,
}

pub fn run(args: &McpArgs, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    let loom = context.loom()?;
    let agent = context.actor(loom.store())?.agent;
    // A test clock is kept as an offset, so a server's clock still moves between calls.
    let offset = match std::env::var_os(TEST_NOW_VARIABLE) {
        Some(_) => context.now().duration_since(jiff::Timestamp::now()),
        None => jiff::SignedDuration::ZERO,
    };
    let base = context.user_path(std::path::Path::new(""));
    let server = LoomServer::new(loom, agent, offset, base);
    if args.list_tools {
        for name in server.tool_names() {
            ui.line(name)?;
        }
        return Ok(Exit::Success);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| CommandError::new(Exit::Error, format!("cannot start the MCP server: {err}")))?;
    runtime.block_on(async {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|err| CommandError::new(Exit::Error, format!("MCP session did not start: {err}")))?;
        running
            .waiting()
            .await
            .map_err(|err| CommandError::new(Exit::Error, format!("MCP server stopped: {err}")))?;
        Ok(Exit::Success)
    })
}
