// Wiring, for src/main.rs (next to the other `mod` lines, in `enum Command`, in the match):
//
//     mod rollouts_cli;
//
//     /// Show and drive the rollouts of a running `weir run` (through its admin API).
//     Rollouts(rollouts_cli::RolloutsArgs),
//
//     Command::Rollouts(args) => runtime.block_on(rollouts_cli::run(args)),

//! `weir rollouts list | get NAME [--watch] | promote NAME [--full] | abort NAME | retry NAME
//! | pause NAME`: a client of the standalone control API on the admin listener of a running
//! `weir run`, showing what `kubectl argo rollouts` shows.
//!
//! `client.rs` makes the calls and words their failures; `view.rs` renders the header block,
//! the steps and the `list` table; `analysis_tree.rs` renders the tree of analysis runs. Both
//! renderers are pure functions of the API's answers (Argo's own types), which is what the
//! tests check.

mod analysis_tree;
mod client;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use client::{Action, AdminClient, AdminError};
use weir_config::argo::{AnalysisRun, Rollout};

/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Clears the terminal and moves to its top-left corner, as `kubectl argo rollouts -w` does.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

#[derive(Debug, Args)]
pub struct RolloutsArgs {
    /// Admin listener of the running `weir run` (host:port or http://host:port).
    #[arg(
        long,
        global = true,
        env = "WEIR_ADMIN",
        default_value = "127.0.0.1:9901",
        value_name = "ADDR"
    )]
    admin: String,
    /// File holding the admin token, sent as `Authorization: Bearer`. Without it the token
    /// is taken from WEIR_ADMIN_TOKEN when set.
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: RolloutsCommand,
}

#[derive(Debug, Subcommand)]
enum RolloutsCommand {
    /// List the rollouts: strategy, status, step and weights.
    List,
    /// Show a rollout: status, weights, revisions, steps and analysis runs.
    Get {
        /// The rollout's name (metadata.name).
        name: String,
        /// Redraw every second until the rollout is Healthy or Degraded (exit status 1 when
        /// Degraded), or until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
    },
    /// Resume a paused rollout, or skip its current step (a timed pause, an analysis).
    Promote {
        /// The rollout's name (metadata.name).
        name: String,
        /// Skip the remaining steps and analyses: make the canary stable now.
        #[arg(long)]
        full: bool,
    },
    /// Stop the rollout and send all traffic back to the stable version (Degraded).
    Abort {
        /// The rollout's name (metadata.name).
        name: String,
    },
    /// Start an aborted rollout again from its first step.
    Retry {
        /// The rollout's name (metadata.name).
        name: String,
    },
    /// Pause a rollout at its current step until it is promoted.
    Pause {
        /// The rollout's name (metadata.name).
        name: String,
    },
}

pub async fn run(args: RolloutsArgs) -> anyhow::Result<()> {
    let token = read_token(
        args.token_file.as_deref(),
        std::env::var("WEIR_ADMIN_TOKEN").ok(),
    )?;
    let client = AdminClient::new(&args.admin, token)?;
    let (name, action) = match args.command {
        RolloutsCommand::List => {
            print!("{}", view::list(&client.rollouts().await?));
            return Ok(());
        }
        RolloutsCommand::Get { name, watch: false } => {
            let (rollout, runs) = snapshot(&client, &name).await?;
            print!("{}", view::rollout(&rollout, &runs));
            return Ok(());
        }
        RolloutsCommand::Get { name, watch: true } => return watch(&client, &name).await,
        RolloutsCommand::Promote { name, full } => (name, Action::Promote { full }),
        RolloutsCommand::Abort { name } => (name, Action::Abort),
        RolloutsCommand::Retry { name } => (name, Action::Retry),
        RolloutsCommand::Pause { name } => (name, Action::Pause),
    };
    let rollout = client.act(&name, action).await?;
    println!("rollout '{name}' {}", action.done());
    println!("{}", view::status_line(&rollout));
    Ok(())
}

/// The token from `--token-file`, else from `WEIR_ADMIN_TOKEN`; surrounding whitespace (the
/// file's final newline) is not part of it.
fn read_token(file: Option<&Path>, env: Option<String>) -> anyhow::Result<Option<String>> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the admin token from {}", path.display()))?,
        None => match env {
            Some(token) => token,
            None => return Ok(None),
        },
    };
    let token = token.trim();
    if token.is_empty() {
        let source = file.map_or("WEIR_ADMIN_TOKEN".to_owned(), |p| p.display().to_string());
        return Err(anyhow!("{source}: the admin token is empty"));
    }
    Ok(Some(token.to_owned()))
}

/// The rollout and its analysis runs, fetched together.
async fn snapshot(
    client: &AdminClient,
    name: &str,
) -> Result<(Rollout, Vec<AnalysisRun>), AdminError> {
    tokio::try_join!(client.rollout(name), client.analysis_runs(name))
}

/// `get --watch`: redraw every second; stop at Healthy or Degraded (showing the final view),
/// or on Ctrl-C. When stdout is not a terminal, print a view only when it changed, without
/// escape codes, so the output can be logged.
async fn watch(client: &AdminClient, name: &str) -> anyhow::Result<()> {
    let tty = std::io::stdout().is_terminal();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // The last view fetched, kept on screen while weir cannot be reached.
    let mut last_view = String::new();
    // What was printed last, so a non-terminal gets each state once.
    let mut printed = String::new();
    let mut first = true;
    loop {
        let fetched = tokio::select! {
            fetched = snapshot(client, name) => fetched,
            _ = &mut ctrl_c => return Ok(()),
        };
        let (text, summary) = match fetched {
            Ok((rollout, runs)) => {
                last_view = view::rollout(&rollout, &runs);
                (last_view.clone(), Some(view::Summary::of(&rollout)))
            }
            // The first answer says whether the name and the token are right; later, a weir
            // restarting only interrupts the view.
            Err(e) if first || !e.is_transient() => return Err(e.into()),
            Err(e) => (format!("{last_view}\n(weir: {e}; retrying)\n"), None),
        };
        first = false;
        if tty {
            print!("{CLEAR_SCREEN}{text}");
        } else if text != printed {
            println!("{text}");
            printed = text;
        }
        std::io::stdout().flush().ok();
        if let Some(summary) = summary.filter(view::Summary::is_finished) {
            if summary.is_degraded() {
                return Err(anyhow!("rollout '{name}' is Degraded: {}", summary.message));
            }
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}
