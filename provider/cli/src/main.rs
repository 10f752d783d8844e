//! `imageautomation`: the command-line tool. Each subcommand lives in its own
//! module and is a thin layer over the library crates; the contracts of the
//! subcommands (flags, output shapes, exit codes) are documented in README.md
//! and kept stable.

// The AWS SDK's futures (ECR logins, `imageautomation-registry`) nest deeper than the
// default limit of 128 allows when their layout is computed.
#![recursion_limit = "256"]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod policy_flags;
mod render;
mod run;
mod select;
mod tags;
mod update;

/// Flux-style container image update automation, without a cluster.
#[derive(Debug, Parser)]
#[command(name = "imageautomation", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Select the latest tag from a tag list with an ImagePolicy spec.
    Select(select::Args),
    /// Apply the $imagepolicy setters to the YAML files under a directory.
    Update(update::Args),
    /// List the tags of an image in a registry, as a Flux ImageRepository stores them.
    Tags(tags::Args),
    /// Run one reconcile of the Flux image automation manifests under a directory: scan,
    /// select, update, commit and push.
    Run(run::Args),
    /// Render the Flux objects cluster mode applies (no Secrets) from a Pulumi YAML project or
    /// a folder of Flux manifests, as multi-document YAML.
    Render(render::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Select(args) => select::run(args),
        Command::Update(args) => update::run(args),
        Command::Tags(args) => tags::run(args),
        Command::Run(args) => run::run(args),
        Command::Render(args) => render::run(args),
    }
}
