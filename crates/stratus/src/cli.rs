use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Stratus: the AWS serverless stack on your own machine.
///
/// Point the AWS CLI and SDKs at it with `--endpoint-url http://127.0.0.1:4566`
/// or `AWS_ENDPOINT_URL=http://127.0.0.1:4566`. Any credentials work unless
/// `--auth verify` is set; a 12-digit access key id selects that account,
/// anything else account 000000000000.
#[derive(Parser, Debug)]
#[command(name = "stratus", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve every enabled service on one port until SIGINT/SIGTERM.
    Start(StartArgs),
    /// Print a log group's events; `--follow` keeps printing new ones.
    /// A function name `fn` reads `/aws/lambda/fn`.
    Logs(crate::logs_cmd::LogsArgs),
    /// Manage the SDKs functions import without packaging them:
    /// `stratus runtimes install [--python] [--node]`.
    Runtimes(crate::runtimes_cmd::RuntimesArgs),
}

#[derive(Parser, Debug, Clone)]
pub struct StartArgs {
    /// Port to listen on (0 picks a free one; the ready line names it).
    #[arg(long, env = "STRATUS_PORT", default_value_t = 4566)]
    pub port: u16,

    /// Address to bind. Use 0.0.0.0 to accept connections from other machines.
    #[arg(long, env = "STRATUS_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Where the embedded durable store keeps its data.
    #[arg(long, env = "STRATUS_DATA_DIR", default_value = ".stratus")]
    pub data_dir: PathBuf,

    /// Storage backend: `sqlite` (durable, the default) or `memory` (nothing survives a restart).
    #[arg(long, env = "STRATUS_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,

    /// `accept`: any credentials (or none) are accepted. `verify`: SigV4
    /// signatures are checked against `--credentials`.
    #[arg(long, env = "STRATUS_AUTH", value_enum, default_value_t = AuthArg::Accept)]
    pub auth: AuthArg,

    /// Credentials for `--auth verify`, as `ACCESS_KEY:SECRET`, comma-separated.
    #[arg(
        long,
        env = "STRATUS_CREDENTIALS",
        value_delimiter = ',',
        default_value = "test:test"
    )]
    pub credentials: Vec<String>,

    /// Log filter (tracing syntax), e.g. `info`, `debug`, `stratus_sqs=trace`.
    #[arg(long, env = "STRATUS_LOG", default_value = "info")]
    pub log: String,

    /// Extra PEM bundle of CA certificates trusted for outbound HTTPS (SNS
    /// HTTPS subscriptions, API destinations), besides the platform's and
    /// the built-in webpki roots.
    #[arg(long, env = "STRATUS_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Memory,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthArg {
    Accept,
    Verify,
}
