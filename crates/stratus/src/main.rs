//! The `stratus` command.

mod cli;
mod logs_cmd;
mod runtimes_cmd;
mod start;

use clap::Parser;

// Request handling allocates many small, short-lived buffers; mimalloc serves
// them markedly faster than glibc malloc under concurrency.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Start(args) => start::run(args),
        cli::Command::Logs(args) => logs_cmd::run(args),
        cli::Command::Runtimes(args) => runtimes_cmd::run(args),
    }
}
