//! `imageautomation select` (being written).

/// Arguments of `imageautomation select`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
