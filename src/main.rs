//! The `git-loom` executable: a thin shell around the command-line layer, so that `git loom …`
//! works once the binary is on `PATH`. All behaviour lives in `cli` and the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
