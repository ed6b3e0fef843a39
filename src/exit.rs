//! Exit codes, documented in `--help` and the README.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// An error; the message says what failed.
    Failure,
    /// Finished, but some records were rejected, or `verify` could not check every imported file.
    Rejects,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Rejects => ExitCode::from(3),
        }
    }
}
