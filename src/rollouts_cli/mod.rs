// Wiring, for src/main.rs (next to the other `mod` lines, in `enum Command`, in the match):
//
//     mod rollouts_cli;
//
//     /// Show and drive rollouts: those of a running `weir run` (through its admin API), or
//     /// with --kubernetes / -n NAMESPACE those of a Kubernetes cluster.
//     Rollouts(rollouts_cli::RolloutsArgs),
//
//     Command::Rollouts(args) => runtime.block_on(rollouts_cli::run(args)),
//
//     /// Show the experiments of a running `weir run` (through its admin API).
//     Experiments(rollouts_cli::ExperimentsArgs),
//
//     Command::Experiments(args) => runtime.block_on(rollouts_cli::run_experiments(args)),

//! `weir rollouts list | get NAME [--watch] | promote NAME [--full] | abort NAME | retry NAME
//! | pause NAME`: a client of the standalone control API on the admin listener of a running
//! `weir run`, or (`--kubernetes`, `-n NAMESPACE`, `--context`, `--kubeconfig`) of a
//! Kubernetes cluster's Rollouts, showing what `kubectl argo rollouts` shows.
//!
//! `client.rs` makes the admin API's calls and words their failures; `cluster.rs` reads the
//! cluster's objects and sends the patches `patches.rs` computes as `kubectl argo rollouts`
//! does; `view.rs` renders the header block, the steps and the `list` table;
//! `analysis_tree.rs` renders the tree of analysis runs (and, on Kubernetes, ReplicaSets).
//! The renderers are pure functions of Argo's own types, which both sources give, and that
//! is what the tests check.

mod analysis_tree;
pub mod client;
pub mod cluster;
mod experiment_view;
pub mod outcome;
mod patches;
pub mod view;

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod experiments_tests;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};

use client::{Action, AdminClient, AdminError};
use cluster::{ClusterArgs, ClusterClient, ClusterError};
use experiment_view::ExperimentInfo;
use weir_config::argo::{AnalysisRun, Rollout};

/// Where `weir run`'s admin API listens unless told otherwise.
const DEFAULT_ADMIN: &str = "127.0.0.1:9901";
/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Clears the terminal and moves to its top-left corner, as `kubectl argo rollouts -w` does.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

/// How `weir rollouts` and `weir experiments` reach the running `weir run`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Admin listener of the running `weir run` (host:port or http://host:port). Default:
    /// WEIR_ADMIN, else 127.0.0.1:9901.
    // WEIR_ADMIN is read here rather than by clap, for which an environment variable counts
    // as given: one left set would then conflict with --kubernetes and -n.
    #[arg(long, global = true, value_name = "ADDR")]
    admin: Option<String>,
    /// File holding the admin token, sent as `Authorization: Bearer`. Without it the token
    /// is taken from WEIR_ADMIN_TOKEN when set.
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl AdminArgs {
    fn client(&self) -> anyhow::Result<AdminClient> {
        let token = read_token(
            self.token_file.as_deref(),
            std::env::var("WEIR_ADMIN_TOKEN").ok(),
        )?;
        let address = self.address(std::env::var("WEIR_ADMIN").ok());
        Ok(AdminClient::new(&address, token)?)
    }

    /// `--admin`, else `env` (WEIR_ADMIN) unless empty, else the default listener.
    fn address(&self, env: Option<String>) -> String {
        self.admin
            .clone()
            .or(env.filter(|a| !a.is_empty()))
            .unwrap_or_else(|| DEFAULT_ADMIN.to_owned())
    }
}

#[derive(Debug, Args)]
pub struct RolloutsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
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
        /// Redraw every second until Ctrl-C, as `kubectl argo rollouts get --watch` does:
        /// a Healthy or Degraded rollout may start again with the next revision. To wait for
        /// the outcome in a script, use `weir rollouts status`.
        #[arg(short, long)]
        watch: bool,
    },
    /// Wait until the rollout is Healthy (exit status 0) or Degraded (1), printing its
    /// status when it changes, as `kubectl argo rollouts status` does.
    Status {
        /// The rollout's name (metadata.name).
        name: String,
        /// Give up after this long (exit status 1), e.g. 90s or 5m. Default: wait forever.
        #[arg(short, long, value_parser = parse_duration, value_name = "DURATION")]
        timeout: Option<Duration>,
        /// `--watch=false`: print the status once and exit (1 when Degraded).
        #[arg(
            short,
            long,
            default_value_t = true,
            action = clap::ArgAction::Set,
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "true"
        )]
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
    let target = if args.cluster.selected() {
        Target::Cluster(ClusterClient::connect(&args.cluster).await?)
    } else {
        Target::Admin(args.admin.client()?)
    };
    let target = &target;
    let (name, action) = match args.command {
        RolloutsCommand::List => {
            print!("{}", target.list().await?);
            return Ok(());
        }
        RolloutsCommand::Get { name, watch: false } => {
            print!("{}", target.view(&name).await?);
            return Ok(());
        }
        RolloutsCommand::Get { name, watch: true } => {
            let name = name.as_str();
            return redraw(|| async move {
                let text = target.view(name).await?;
                Ok::<_, TargetError>(Frame { text, done: None })
            })
            .await;
        }
        RolloutsCommand::Status {
            name,
            timeout,
            watch,
        } => {
            let fetch = || target.rollout_and_runs(&name);
            return status(fetch, &name, watch, timeout).await;
        }
        RolloutsCommand::Promote { name, full } => (name, Action::Promote { full }),
        RolloutsCommand::Abort { name } => (name, Action::Abort),
        RolloutsCommand::Retry { name } => (name, Action::Retry),
        RolloutsCommand::Pause { name } => (name, Action::Pause),
    };
    let status = target.act(&name, action).await?;
    println!("rollout '{name}' {}", action.done());
    println!("{status}");
    Ok(())
}

/// Where `weir rollouts` reads and acts: a `weir run`'s admin API, or a cluster.
enum Target {
    Admin(AdminClient),
    Cluster(ClusterClient),
}

impl Target {
    /// `list`'s table.
    async fn list(&self) -> Result<String, TargetError> {
        Ok(match self {
            Target::Admin(client) => view::list(&client.rollouts().await?),
            Target::Cluster(client) => match client.rollouts().await? {
                rollouts if rollouts.is_empty() => {
                    format!("No rollouts found in namespace {:?}.\n", client.namespace())
                }
                rollouts => view::list_on_cluster(&rollouts),
            },
        })
    }

    /// `get`'s view of rollout `name`.
    async fn view(&self, name: &str) -> Result<String, TargetError> {
        Ok(match self {
            Target::Admin(client) => {
                let (rollout, runs, experiment) = snapshot(client, name).await?;
                view::rollout_with_experiment(&rollout, &runs, experiment.as_ref())
            }
            Target::Cluster(client) => {
                let (rollout, runs, replica_sets) = client.snapshot(name).await?;
                view::rollout_on_cluster(&rollout, &runs, &replica_sets)
            }
        })
    }

    async fn rollout_and_runs(
        &self,
        name: &str,
    ) -> Result<(Rollout, Vec<AnalysisRun>), TargetError> {
        Ok(match self {
            Target::Admin(client) => {
                tokio::try_join!(client.rollout(name), client.analysis_runs(name))?
            }
            Target::Cluster(client) => client.rollout_and_runs(name).await?,
        })
    }

    /// Promote, abort, retry or pause: where the rollout stands after the command
    /// ([`view::status_line`]).
    async fn act(&self, name: &str, action: Action) -> Result<String, TargetError> {
        Ok(match self {
            Target::Admin(client) => view::status_line(&client.act(name, action).await?),
            Target::Cluster(client) => {
                let rollout = client.act(name, action).await?;
                let replica_sets = client.replica_sets(&rollout).await?;
                view::status_line_on_cluster(&rollout, &replica_sets)
            }
        })
    }
}

/// A failure of either [`Target`], worded by its own side.
#[derive(Debug)]
enum TargetError {
    Admin(AdminError),
    Cluster(ClusterError),
}

impl From<AdminError> for TargetError {
    fn from(e: AdminError) -> Self {
        TargetError::Admin(e)
    }
}

impl From<ClusterError> for TargetError {
    fn from(e: ClusterError) -> Self {
        TargetError::Cluster(e)
    }
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Admin(e) => e.fmt(f),
            TargetError::Cluster(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TargetError {}

/// Failures that may pass on their own (the server restarting): `--watch` keeps the last
/// view and retries them.
trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for AdminError {
    fn is_transient(&self) -> bool {
        AdminError::is_transient(self)
    }
}

impl Transient for TargetError {
    fn is_transient(&self) -> bool {
        match self {
            TargetError::Admin(e) => e.is_transient(),
            TargetError::Cluster(e) => e.is_transient(),
        }
    }
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

/// The rollout and its analysis runs, fetched together, then the experiment its current step
/// runs (`status.canary.currentExperiment`), unless weir no longer knows it.
async fn snapshot(
    client: &AdminClient,
    name: &str,
) -> Result<(Rollout, Vec<AnalysisRun>, Option<ExperimentInfo>), AdminError> {
    let (rollout, runs) = tokio::try_join!(client.rollout(name), client.analysis_runs(name))?;
    let current = rollout
        .status
        .as_ref()
        .and_then(|s| s.canary.as_ref())
        .map(|c| c.current_experiment.as_str())
        .filter(|e| !e.is_empty());
    let experiment = match current {
        Some(e) => client
            .experiment_if_any(e)
            .await?
            .map(|info| info.with_step_weights(&rollout)),
        None => None,
    };
    Ok((rollout, runs, experiment))
}

/// One redraw of `--watch`: the view, and once nothing more will change, how the command
/// ends.
struct Frame {
    text: String,
    done: Option<anyhow::Result<()>>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    weir_config::duration::parse(s).map(|d| d.get())
}

/// `weir rollouts status NAME`: a line each time the status changes (`Paused -
/// CanaryPauseStep`), until Healthy (Ok) or Degraded (an error saying why), or `timeout`.
async fn status<F, Fut>(
    mut fetch: F,
    name: &str,
    watch: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Rollout, Vec<AnalysisRun>), TargetError>>,
{
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last = String::new();
    loop {
        let (rollout, runs) = fetch().await?;
        let summary = view::Summary::of(&rollout);
        let line = match summary.message.as_str() {
            "" => summary.phase.clone(),
            message => format!("{} - {message}", summary.phase),
        };
        if line != last {
            println!("{line}");
            std::io::stdout().flush().ok();
            last = line;
        }
        match outcome::outcome(&rollout, &runs) {
            outcome::Outcome::Degraded(why) => {
                return Err(anyhow!("rollout '{name}' is Degraded: {why}"))
            }
            _ if summary.phase == "Healthy" => return Ok(()),
            _ if !watch => return Ok(()),
            _ => {}
        }
        let pause = match deadline {
            Some(d) if tokio::time::Instant::now() >= d => {
                return Err(anyhow!(
                    "rollout '{name}' is not Healthy after {}: {last}",
                    weir_config::Duration(timeout.unwrap_or_default())
                ))
            }
            Some(d) => WATCH_INTERVAL.min(d - tokio::time::Instant::now()),
            None => WATCH_INTERVAL,
        };
        tokio::time::sleep(pause).await;
    }
}

/// Redraw every second what `fetch` gives until it says it is done (showing the final
/// view), or until Ctrl-C. When stdout is not a terminal, print a view only when it changed,
/// without escape codes, so the output can be logged.
async fn redraw<F, Fut, E>(mut fetch: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Frame, E>>,
    E: Transient + std::error::Error + Send + Sync + 'static,
{
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
            fetched = fetch() => fetched,
            _ = &mut ctrl_c => return Ok(()),
        };
        let (text, done) = match fetched {
            Ok(frame) => {
                last_view = frame.text;
                (last_view.clone(), frame.done)
            }
            // The first answer says whether the name and the token are right; later, a weir
            // (or an API server) restarting only interrupts the view.
            Err(e) if first || !e.is_transient() => return Err(e.into()),
            Err(e) => (format!("{last_view}\n({e}; retrying)\n"), None),
        };
        first = false;
        if tty {
            print!("{CLEAR_SCREEN}{text}");
        } else if text != printed {
            println!("{text}");
            printed = text;
        }
        std::io::stdout().flush().ok();
        if let Some(result) = done {
            return result;
        }
        tokio::select! {
            _ = tokio::time::sleep(WATCH_INTERVAL) => {}
            _ = &mut ctrl_c => return Ok(()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ExperimentsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    command: ExperimentsCommand,
}

#[derive(Debug, Subcommand)]
enum ExperimentsCommand {
    /// List the experiments: those of Rollout experiment steps and standalone ones.
    List,
    /// Show an experiment: status, duration, its templates (their backends or services) and
    /// analysis runs.
    Get {
        /// The experiment's name (metadata.name).
        name: String,
        /// Redraw every second until the experiment is Successful, Failed, Error or
        /// Inconclusive (exit status 1 unless Successful), or until Ctrl-C.
        #[arg(short, long)]
        watch: bool,
    },
}

/// `weir experiments list | get NAME [--watch]`.
pub async fn run_experiments(args: ExperimentsArgs) -> anyhow::Result<()> {
    let client = args.admin.client()?;
    match args.command {
        ExperimentsCommand::List => {
            print!("{}", experiment_view::list(&client.experiments().await?));
        }
        ExperimentsCommand::Get { name, watch: false } => {
            print!(
                "{}",
                experiment_view::experiment(&client.experiment(&name).await?)
            );
        }
        ExperimentsCommand::Get { name, watch: true } => {
            let (client, name) = (&client, name.as_str());
            redraw(|| async move {
                let info = client.experiment(name).await?;
                let done = info.is_finished().then(|| match info.phase() {
                    "Successful" => Ok(()),
                    phase => Err(anyhow!(
                        "experiment '{name}' is {phase}: {}",
                        info.message()
                    )),
                });
                let text = experiment_view::experiment(&info);
                Ok::<_, AdminError>(Frame { text, done })
            })
            .await?;
        }
    }
    Ok(())
}
