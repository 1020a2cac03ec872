//! `stratus runtimes install`: fill Stratus's managed runtime folder with the
//! SDKs AWS's runtimes provide, for machines whose interpreters lack them:
//! `boto3` for the Python runtimes (`pip install --target`) and the AWS SDK
//! for JavaScript v3 for the Node.js runtimes (`npm install --prefix`).
//! Functions see the folder after their own code and layers.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use stratus_lambda::{LambdaConfig, ManagedRuntimes};

/// The v3 clients most functions use (the Node.js runtimes ship the whole
/// SDK; these cover the services Stratus emulates plus S3).
const NODE_PACKAGES: &[&str] = &[
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-eventbridge",
    "@aws-sdk/client-scheduler",
    "@aws-sdk/client-cloudwatch-logs",
    "@aws-sdk/client-sts",
];

#[derive(Parser, Debug, Clone)]
pub struct RuntimesArgs {
    #[command(subcommand)]
    pub command: RuntimesCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum RuntimesCommand {
    /// Install boto3 and the AWS SDK for JavaScript v3 into the managed
    /// runtime folder (`<data-dir>/lambda/runtimes`). Without `--python` or
    /// `--node`, both; a runtime whose interpreter already has its SDK is
    /// skipped unless `--force`.
    Install(InstallArgs),
}

#[derive(Parser, Debug, Clone)]
pub struct InstallArgs {
    /// The data directory `stratus start` uses.
    #[arg(long, env = "STRATUS_DATA_DIR", default_value = ".stratus")]
    pub data_dir: PathBuf,

    /// Install boto3 for the Python runtimes.
    #[arg(long)]
    pub python: bool,

    /// Install the AWS SDK for JavaScript v3 for the Node.js runtimes.
    #[arg(long)]
    pub node: bool,

    /// Install even when the machine's interpreter already provides the SDK.
    #[arg(long)]
    pub force: bool,

    /// The Python interpreter whose pip installs boto3.
    #[arg(long, default_value = "python3")]
    pub python_bin: String,
}

pub fn run(args: RuntimesArgs) -> anyhow::Result<()> {
    match args.command {
        RuntimesCommand::Install(a) => install(a),
    }
}

fn install(a: InstallArgs) -> anyhow::Result<()> {
    let managed = ManagedRuntimes::in_lambda_dir(&LambdaConfig::dir_in(&a.data_dir));
    let (python, node) = if a.python || a.node {
        (a.python, a.node)
    } else {
        (true, true)
    };
    if python {
        install_python(&managed, &a.python_bin, a.force)?;
    }
    if node {
        install_node(&managed, a.force)?;
    }
    Ok(())
}

/// Whether `check` exits 0 (the interpreter already has the SDK), run
/// without the managed folder on its path.
fn already_has(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .env_remove("PYTHONPATH")
        .env_remove("NODE_PATH")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn run_step(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("running {what} (is it installed and on PATH?)"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn install_python(m: &ManagedRuntimes, python: &str, force: bool) -> anyhow::Result<()> {
    if !force && already_has(python, &["-c", "import boto3"]) {
        println!(
            "python: {python} already provides boto3; skipped (use --force to install anyway)"
        );
        return Ok(());
    }
    std::fs::create_dir_all(&m.python)
        .with_context(|| format!("creating {}", m.python.display()))?;
    println!("python: installing boto3 into {}", m.python.display());
    run_step(
        Command::new(python)
            .args(["-m", "pip", "install", "--upgrade", "--no-input"])
            .args(["--disable-pip-version-check", "--no-warn-script-location"])
            .arg("--target")
            .arg(&m.python)
            .arg("boto3"),
        &format!("{python} -m pip install boto3"),
    )?;
    println!("python: boto3 installed");
    Ok(())
}

fn install_node(m: &ManagedRuntimes, force: bool) -> anyhow::Result<()> {
    if !force && already_has("node", &["-e", "require.resolve('@aws-sdk/client-sqs')"]) {
        println!(
            "nodejs: node already provides the AWS SDK v3; skipped (use --force to install anyway)"
        );
        return Ok(());
    }
    std::fs::create_dir_all(&m.node_modules)
        .with_context(|| format!("creating {}", m.node_modules.display()))?;
    write_package_json(&m.node_prefix)?;
    println!(
        "nodejs: installing the AWS SDK for JavaScript v3 into {}",
        m.node_modules.display()
    );
    run_step(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--omit=dev",
                "--prefix",
            ])
            .arg(&m.node_prefix)
            .args(NODE_PACKAGES),
        "npm install",
    )?;
    println!("nodejs: AWS SDK v3 installed");
    Ok(())
}

/// npm records what it installed in the prefix's package.json; give it one
/// so it does not climb to a parent project's.
fn write_package_json(prefix: &Path) -> anyhow::Result<()> {
    let p = prefix.join("package.json");
    if !p.exists() {
        std::fs::write(
            &p,
            "{\n  \"name\": \"stratus-managed-runtimes\",\n  \"private\": true\n}\n",
        )
        .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}
