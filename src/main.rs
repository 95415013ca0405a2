//! The `aiops` binary: parse arguments, set up telemetry, run, map to an exit code.

use std::process::ExitCode;

// Large snapshots allocate and free big column buffers in bursts; mimalloc keeps them
// mapped instead of returning them to the OS and faulting them in again.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The environment is read here, at the edge, and passed down as a lookup function.
    #[allow(clippy::disallowed_methods)]
    let env = |k: &str| std::env::var(k).ok();
    aiops::cli::main_with(std::env::args_os().collect(), &env)
}
