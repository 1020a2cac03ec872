//! The `stratus` command.

mod cli;
mod start;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Start(args) => start::run(args),
    }
}
