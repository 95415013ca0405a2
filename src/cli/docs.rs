//! `aiops completions SHELL` and `aiops man`: the shell completion scripts and the man pages,
//! generated from the clap definitions, so they always match the binary. Writes to stdout,
//! or the man pages into a directory.

use std::path::Path;

use clap::CommandFactory;

use super::{Cli, CliError, exit, output};
use crate::jobs::JobError;

/// Prints the completion script of `shell` for every command and flag.
///
/// # Errors
/// Stdout cannot be written.
pub fn completions(shell: clap_complete::Shell) -> Result<u8, CliError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "aiops", &mut buf);
    output::emit(&String::from_utf8_lossy(&buf))?;
    Ok(exit::OK)
}

/// Prints the aiops(1) man page, or writes one page per command (`aiops.1`,
/// `aiops-report.1`, ...) into `out` and prints their paths.
///
/// # Errors
/// Stdout or the directory cannot be written.
pub fn man(out: Option<&Path>) -> Result<u8, CliError> {
    let cmd = Cli::command();
    match out {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(|e| JobError::Task(format!("rendering the man page: {e}")))?;
            output::emit(&String::from_utf8_lossy(&buf))?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(JobError::io(format!("creating {}", dir.display())))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(JobError::io(format!("writing man pages into {}", dir.display())))?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map_err(JobError::io(format!("reading {}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "1"))
                .map(|p| format!("wrote {}\n", p.display()))
                .collect();
            pages.sort();
            output::emit(&pages.concat())?;
        }
    }
    Ok(exit::OK)
}
