//! `completions` and `man`: shell completion scripts and the manual page,
//! both generated from the CLI's own clap definitions, so they never drift.

use crate::output::emit;
use crate::{Failure, Outcome};

/// The shells `completions` writes for.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub(crate) fn completions(shell: Shell) -> Outcome {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut crate::command(), "runqy-vault", &mut script);
    emit(&String::from_utf8_lossy(&script))
}

/// The manual page, roff: name, synopsis, the global options and every
/// command with what it does (clap_mangen's page of the top-level command).
pub(crate) fn man() -> Outcome {
    let mut page = Vec::new();
    clap_mangen::Man::new(crate::command())
        .render(&mut page)
        .map_err(|e| Failure(format!("could not render the manual page: {e}")))?;
    emit(&String::from_utf8_lossy(&page))
}
