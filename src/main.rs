//! The `aiops` binary: parse arguments, set up telemetry, run, map to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The environment is read here, at the edge, and passed down as a lookup function.
    #[allow(clippy::disallowed_methods)]
    let env = |k: &str| std::env::var(k).ok();
    aiops::cli::main_with(std::env::args_os().collect(), &env)
}
