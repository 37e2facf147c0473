//! The command-line layer: argument parsing (clap), one file per command, and the only code
//! that writes to the terminal or reads the process environment. Each command turns library
//! results into human text or `--json`, and errors into messages, hints and exit codes
//! (see `error`).

mod cmd_cancel;
mod cmd_claim;
mod cmd_config;
mod cmd_create;
mod cmd_doctor;
mod cmd_graph;
mod cmd_handoff;
mod cmd_hooks;
mod cmd_idea;
mod cmd_init;
mod cmd_lease;
mod cmd_list;
mod cmd_log;
mod cmd_mcp;
mod cmd_merge;
mod cmd_next;
mod cmd_plan;
mod cmd_remote;
mod cmd_run;
mod cmd_sessions;
mod cmd_setup;
mod cmd_shell;
mod cmd_show;
mod cmd_status;
mod cmd_update;
mod cmd_verify;
mod cmd_worktree;
mod context;
mod error;
mod render;
mod run_view;
mod terminal;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use context::Context;
use error::{CommandError, Exit};
use ui::Ui;

/// Coordinate many coding agents on one repository, with git as the database
#[derive(Debug, Parser)]
#[command(name = "git-loom", bin_name = "git loom", version, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Run as if started in PATH (like `git -C`)
    #[arg(short = 'C', global = true, value_name = "PATH")]
    directory: Option<PathBuf>,
    /// Print results as JSON (errors stay text on stderr)
    #[arg(long, global = true)]
    json: bool,
    /// Print only results: no notes or warnings
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Act as this agent (default: $LOOM_AGENT, git config loom.agent, or user.name@host)
    #[arg(long, global = true, value_name = "NAME")]
    agent: Option<String>,
    /// Change only this clone, even with a coordination remote set (`git loom sync` publishes
    /// later)
    #[arg(long, global = true)]
    offline: bool,
    /// Colour errors, warnings and statuses: auto (on a terminal, unless NO_COLOR is set),
    /// always, or never
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t,
        hide_default_value = true
    )]
    color: terminal::ColorWhen,
    /// Do not pipe long output (`log`) through git's pager
    #[arg(long, global = true)]
    no_pager: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    Init(cmd_init::InitArgs),
    Create(cmd_create::CreateArgs),
    Show(cmd_show::ShowArgs),
    List(cmd_list::ListArgs),
    Ready(cmd_list::ReadyArgs),
    Status(cmd_status::StatusArgs),
    Update(cmd_update::UpdateArgs),
    Dep(cmd_update::DepArgs),
    Cancel(cmd_cancel::CancelArgs),
    Idea(cmd_idea::IdeaArgs),
    Ideas(cmd_idea::IdeasArgs),
    Promote(cmd_idea::PromoteArgs),
    Graph(cmd_graph::GraphArgs),
    Log(cmd_log::LogArgs),
    Claim(cmd_claim::ClaimArgs),
    Heartbeat(cmd_claim::HeartbeatArgs),
    Release(cmd_claim::ReleaseArgs),
    Done(cmd_claim::DoneArgs),
    Fail(cmd_claim::FailArgs),
    Sweep(cmd_lease::SweepArgs),
    Recover(cmd_lease::RecoverArgs),
    Dead(cmd_lease::DeadArgs),
    Reset(cmd_lease::ResetArgs),
    Handoff(cmd_handoff::HandoffArgs),
    Handoffs(cmd_handoff::HandoffsArgs),
    Plan(cmd_plan::PlanArgs),
    Verify(cmd_verify::VerifyArgs),
    Signal(cmd_next::SignalArgs),
    Next(cmd_next::NextArgs),
    Worktree(cmd_worktree::WorktreeArgs),
    Merge(cmd_merge::MergeArgs),
    Run(cmd_run::RunArgs),
    Remote(cmd_remote::RemoteArgs),
    Fetch(cmd_remote::FetchArgs),
    Push(cmd_remote::PushArgs),
    Sync(cmd_remote::SyncArgs),
    Config(cmd_config::ConfigArgs),
    Doctor(cmd_doctor::DoctorArgs),
    Hooks(cmd_hooks::HooksArgs),
    Hook(cmd_hooks::HookArgs),
    Setup(cmd_setup::SetupArgs),
    AgentHook(cmd_setup::AgentHookArgs),
    Completions(cmd_shell::CompletionsArgs),
    InstallMan(cmd_shell::InstallManArgs),
    Mcp(cmd_mcp::McpArgs),
    Sessions(cmd_sessions::SessionsArgs),
}

/// Parse the command line, run the command, and turn the outcome into an exit code.
pub fn main() -> ExitCode {
    // clap's own messages (usage errors, --help) follow --color too, so it is read before the
    // full parse; anything unreadable here is left for clap to report.
    let command = <Cli as clap::CommandFactory>::command().color(terminal::clap_color(std::env::args_os()));
    let parsed = command
        .try_get_matches()
        .and_then(|matches| <Cli as clap::FromArgMatches>::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.use_stderr() {
                true => Exit::Usage.into(),
                false => Exit::Success.into(),
            };
        }
    };
    terminal::init(cli.global.color);
    let mut ui = Ui::new(cli.global.json, cli.global.quiet);
    let context = match Context::new(&cli.global) {
        Ok(context) => context,
        Err(err) => return err.report(),
    };
    let result = run(&cli.command, &context, &mut ui);
    let flushed = ui.finish().map_err(CommandError::from);
    let outcome = match (result, flushed) {
        // Output cut short because the pager never ran is that failure, not a reader who left.
        (Err(cut), Err(pager)) if cut.exit == Exit::Success => Err(pager),
        (result, flushed) => result.and_then(|exit| flushed.map(|()| exit)),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => err.report(),
    }
}

fn run(command: &Command, context: &Context<'_>, ui: &mut Ui) -> Result<Exit, CommandError> {
    match command {
        Command::Init(args) => cmd_init::run(args, context, ui),
        Command::Create(args) => cmd_create::run(args, context, ui),
        Command::Show(args) => cmd_show::run(args, context, ui),
        Command::List(args) => cmd_list::run_list(args, context, ui),
        Command::Ready(args) => cmd_list::run_ready(args, context, ui),
        Command::Status(args) => cmd_status::run(args, context, ui),
        Command::Update(args) => cmd_update::run(args, context, ui),
        Command::Dep(args) => cmd_update::run_dep(args, context, ui),
        Command::Cancel(args) => cmd_cancel::run(args, context, ui),
        Command::Idea(args) => cmd_idea::run_idea(args, context, ui),
        Command::Ideas(args) => cmd_idea::run_ideas(args, context, ui),
        Command::Promote(args) => cmd_idea::run_promote(args, context, ui),
        Command::Graph(args) => cmd_graph::run(args, context, ui),
        Command::Merge(args) => cmd_merge::run(args, context, ui),
        Command::Log(args) => cmd_log::run(args, context, ui),
        Command::Claim(args) => cmd_claim::run_claim(args, context, ui),
        Command::Heartbeat(args) => cmd_claim::run_heartbeat(args, context, ui),
        Command::Release(args) => cmd_claim::run_release(args, context, ui),
        Command::Done(args) => cmd_claim::run_done(args, context, ui),
        Command::Fail(args) => cmd_claim::run_fail(args, context, ui),
        Command::Sweep(args) => cmd_lease::run_sweep(args, context, ui),
        Command::Recover(args) => cmd_lease::run_recover(args, context, ui),
        Command::Dead(args) => cmd_lease::run_dead(args, context, ui),
        Command::Reset(args) => cmd_lease::run_reset(args, context, ui),
        Command::Handoff(args) => cmd_handoff::run_handoff(args, context, ui),
        Command::Handoffs(args) => cmd_handoff::run_handoffs(args, context, ui),
        Command::Plan(args) => cmd_plan::run(args, context, ui),
        Command::Verify(args) => cmd_verify::run(args, context, ui),
        Command::Signal(args) => cmd_next::run_signal(args, context, ui),
        Command::Next(args) => cmd_next::run_next(args, context, ui),
        Command::Config(args) => cmd_config::run(args, context, ui),
        Command::Worktree(args) => cmd_worktree::run(args, context, ui),
        Command::Run(args) => cmd_run::run(args, context, ui),
        Command::Remote(args) => cmd_remote::run_remote(args, context, ui),
        Command::Fetch(args) => cmd_remote::run_fetch(args, context, ui),
        Command::Push(args) => cmd_remote::run_push(args, context, ui),
        Command::Sync(args) => cmd_remote::run_sync(args, context, ui),
        Command::Doctor(args) => cmd_doctor::run(args, context, ui),
        Command::Hooks(args) => cmd_hooks::run_hooks(args, context, ui),
        Command::Hook(args) => cmd_hooks::run_hook(args, context, ui),
        Command::Setup(args) => cmd_setup::run_setup(args, context, ui),
        Command::AgentHook(args) => cmd_setup::run_agent_hook(args, context, ui),
        Command::Completions(args) => cmd_shell::run_completions(args, ui),
        Command::InstallMan(args) => cmd_shell::run_install_man(args, context, ui),
        Command::Mcp(args) => cmd_mcp::run(args, context, ui),
        Command::Sessions(args) => cmd_sessions::run(args, context, ui),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
