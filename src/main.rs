//! The `weir` command: CLI wiring only. Each subcommand lives in its own module.

#![forbid(unsafe_code)]

mod cli_proxy;
mod logging;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "Progressive delivery: a weighted L7 proxy and an Argo Rollouts-compatible controller"
)]
struct Cli {
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy alone from a configuration file.
    Proxy {
        /// The proxy configuration (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Once listening, write the bound addresses here as JSON (for scripts and tests).
        #[arg(long)]
        ready_file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Proxy { config, ready_file } => {
            runtime.block_on(cli_proxy::run(config, ready_file))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e:#}");
            ExitCode::FAILURE
        }
    }
}
