//! A Model Context Protocol server: the agent-facing operations as MCP tools, a front end
//! beside the CLI. One server process keeps one [`Loom`] open (following `refs/loom/meta`), so
//! a tool call costs a few ref reads and writes, not a process start.
//!
//! What it guarantees: every tool runs the same use case as its CLI command and answers with
//! the same wire shape (`crate::api`) as compact JSON; every failure is a tool result marked
//! `isError` with the CLI's code, message and hints, never a protocol error. Claims are the
//! store's compare-and-swap like any other writer's, so several servers (one per agent) on one
//! repository are exactly as safe as several CLI processes.
//!
//! The server is handed everything from outside — the loom, the agent name, the clock's
//! offset, the directory relative paths start from — and reads no environment; the front end
//! that runs it (`git loom mcp`) owns the transport and the async runtime.

mod params;
mod tools;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rmcp::ServerHandler;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::tool_handler;

use crate::loom::{Actor, Loom};

use tools::Refusal;

/// What a client is told once, at the start of a session.
const INSTRUCTIONS: &str = "git-loom task graph. Work loop: next (or claim) -> heartbeat while working -> \
    handoff before your context runs out -> done, or fail with a reason. Results are the JSON of \
    `git loom ... --json`; errors carry a code, a message and hints.";

/// The MCP server of one repository, acting as one agent.
#[derive(Clone)]
pub struct LoomServer {
    loom: Arc<Loom>,
    agent: String,
    clock_offset: SignedDuration,
    base: PathBuf,
    tool_router: ToolRouter<LoomServer>,
}

impl LoomServer {
    /// A server acting as `agent` on `loom`. Each call reads the real clock moved by
    /// `clock_offset` (zero but in tests); relative paths in arguments start at `base`.
    pub fn new(loom: Loom, agent: String, clock_offset: SignedDuration, base: PathBuf) -> LoomServer {
        LoomServer {
            loom: Arc::new(loom.follow_meta()),
            agent,
            clock_offset,
            base,
            tool_router: LoomServer::tool_router(),
        }
    }

    /// The names of the tools, in the order they are listed.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect()
    }

    fn now(&self) -> Timestamp {
        // An offset beyond the representable range was refused when the server was made.
        Timestamp::now()
            .checked_add(self.clock_offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Who acts in this call: the server's agent, now.
    fn actor(&self) -> Actor {
        Actor {
            agent: self.agent.clone(),
            now: self.now(),
        }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.base.join(Path::new(path))
    }

    /// Run one tool's work and turn its outcome into the tool result.
    fn answer(&self, work: impl FnOnce() -> Result<String, Refusal>) -> CallToolResult {
        match work() {
            Ok(json) => CallToolResult::success(vec![ContentBlock::text(json)]),
            Err(Refusal::Report(json)) => CallToolResult::error(vec![ContentBlock::text(json)]),
            Err(Refusal::Failure(failure)) => {
                let json = serde_json::to_string(&failure).unwrap_or_else(|_| failure.message.clone());
                CallToolResult::error(vec![ContentBlock::text(json)])
            }
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for LoomServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("git-loom", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}
