//! The `weir` command: CLI wiring only. Each subcommand lives in its own module.

// Two audited exceptions: the global allocator (`alloc`) and asking it to return freed
// memory (`release_memory`).
#![deny(unsafe_code)]

mod alloc;
mod bench_churn;
mod cli_controller;
mod cli_lint;
mod cli_proxy;
mod cli_run;
mod dashboard_cluster;
mod demo;
mod logging;
mod rollouts_cli;

/// mimalloc: fewer instructions per allocation on the request path than glibc's malloc,
/// and it hands freed memory back to the system when asked ([`release_memory`]).
#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

/// Returns the memory freed on this thread to the system, now. weir-proxy calls it after
/// a burst of idle connections has parked and left their tasks behind.
fn release_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called at any time from any
    // thread; it only walks mimalloc's own structures for the calling thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_collect(true)
    };
}

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

/// The flag of the commands that serve traffic.
#[derive(clap::Args, Clone, Copy)]
struct Workers {
    /// Worker threads serving traffic (like nginx's worker_processes or HAProxy's
    /// nbthread). Default: the cores this process may use.
    #[arg(long, env = "WEIR_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy and the rollout controller in one process (standalone mode).
    Run {
        /// The run file: the proxy configuration plus Argo Rollouts and AnalysisTemplates.
        #[arg(short, long)]
        config: PathBuf,
        /// Where rollout status is kept across restarts (default: .weir-state beside the file).
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Once listening, write the bound addresses here as JSON.
        #[arg(long)]
        ready_file: Option<PathBuf>,
        #[command(flatten)]
        workers: Workers,
    },
    /// A self-contained demo: built-in backends, load, and a canary rollout driven by
    /// analysis of the proxy's own measurements, shown live until it ends.
    Demo(demo::DemoArgs),
    /// Show and drive rollouts: those of a running `weir run` (through its admin API), or
    /// with --kubernetes / -n NAMESPACE those of a Kubernetes cluster.
    Rollouts(rollouts_cli::RolloutsArgs),
    /// Show the experiments of a running `weir run` (through its admin API).
    Experiments(rollouts_cli::ExperimentsArgs),
    /// Validate Argo Rollouts manifests (and weir proxy configs) with Argo's rules.
    /// Prints `file:line: field: what is wrong`; exits 1 on any problem.
    Lint {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The Kubernetes controller for Argo Rollouts' resources (a drop-in for Argo's, on the
    /// same CRDs): canary (no router, nginx, Gateway API) and blue-green Rollouts, and
    /// AnalysisRuns. Experiments and other routers are not driven yet.
    Controller(cli_controller::ControllerArgs),
    /// Print weir's CustomResourceDefinitions: Argo Rollouts' five with the `weir` analysis
    /// provider added (kubectl apply -f - to install; deploy/crds/weir-crds.yaml holds the same).
    Crds,
    /// Run the proxy alone from a configuration file.
    Proxy {
        /// The proxy configuration (YAML).
        #[arg(short, long)]
        config: PathBuf,
        /// Once listening, write the bound addresses here as JSON (for scripts and tests).
        #[arg(long)]
        ready_file: Option<PathBuf>,
        /// Also take routes from the cluster (found as kubectl finds it): the Ingresses of
        /// weir's class, their Services' EndpointSlices, ingress-nginx's canary annotations.
        #[arg(long)]
        kubernetes: bool,
        /// The Ingress class weir claims (`nginx` takes over from ingress-nginx with no
        /// manifest changed); IngressClasses whose controller is weir.dev/ingress-controller
        /// are weir's too.
        #[arg(long, default_value = "weir", requires = "kubernetes")]
        ingress_class: String,
        /// A kubeconfig file (default: as kubectl finds the cluster).
        #[arg(long, requires = "kubernetes")]
        kubeconfig: Option<PathBuf>,
        /// Write this Service's load-balancer addresses into the served Ingresses'
        /// `status.loadBalancer` (the proxy's LoadBalancer Service), as ingress-nginx's flag.
        #[arg(
            long,
            value_name = "NAMESPACE/NAME",
            requires = "kubernetes",
            conflicts_with = "publish_status_address"
        )]
        publish_service: Option<String>,
        /// Write these addresses (IPs or host names, comma-separated) into the served
        /// Ingresses' `status.loadBalancer`, as ingress-nginx's flag.
        #[arg(
            long,
            value_name = "ADDRESS[,ADDRESS]",
            requires = "kubernetes",
            value_delimiter = ','
        )]
        publish_status_address: Vec<String>,
        #[command(flatten)]
        workers: Workers,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo logs to a file of its own, so nothing writes between the lines of its view.
    // `weir rollouts` words its own failures: the kube client's log lines about them would
    // only come before them, unless RUST_LOG asks for them.
    let logs = match &cli.command {
        Command::Demo(_) => false,
        Command::Rollouts(_) => std::env::var_os("RUST_LOG").is_some(),
        _ => true,
    };
    if logs {
        logging::init(cli.log_format);
    }
    weir_proxy::set_release_memory(release_memory);
    if let Command::Crds = &cli.command {
        return match weir_control::kubernetes::crds::crds_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("weir: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Lint { files } = &cli.command {
        return match cli_lint::run(files) {
            Ok(0) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("weir: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match runtime(&cli.command) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("weir: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Proxy {
            config,
            ready_file,
            kubernetes,
            ingress_class,
            kubeconfig,
            publish_service,
            publish_status_address,
            ..
        } => runtime
            .block_on(cli_proxy::run(
                config,
                ready_file,
                kubernetes.then_some(cli_proxy::Kubernetes {
                    class: ingress_class,
                    kubeconfig,
                    publish_service,
                    publish_status_address,
                }),
            ))
            .map(done),
        Command::Run {
            config,
            state_dir,
            ready_file,
            ..
        } => runtime
            .block_on(cli_run::run(config, state_dir, ready_file))
            .map(done),
        Command::Demo(args) => runtime.block_on(demo::run(args, cli.log_format)),
        Command::Controller(args) => runtime.block_on(cli_controller::run(args)).map(done),
        Command::Rollouts(args) => runtime.block_on(rollouts_cli::run(args)).map(done),
        Command::Experiments(args) => runtime
            .block_on(rollouts_cli::run_experiments(args))
            .map(done),
        Command::Lint { .. } | Command::Crds => {
            unreachable!("handled before the runtime starts")
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weir: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A command that returned without an error succeeded.
fn done((): ()) -> ExitCode {
    ExitCode::SUCCESS
}

/// The proxy with one worker runs on a current-thread runtime: no work-stealing queues, no
/// cross-thread wake-ups (about 3% fewer instructions per request under callgrind). With
/// more workers, or with the controller (`weir run`), tokio's multi-thread runtime; the
/// clients (`weir rollouts`, `weir experiments`) need only the current thread.
fn runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let cores = || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let workers = |w: &Workers| w.workers.map(usize::from).unwrap_or_else(cores);
    let threads = match command {
        Command::Proxy { workers: w, .. } => Some(workers(w)).filter(|&n| n > 1),
        Command::Run { workers: w, .. } => Some(workers(w)),
        Command::Demo(_) | Command::Controller(_) => Some(cores()),
        Command::Rollouts(_) | Command::Experiments(_) | Command::Lint { .. } | Command::Crds => {
            None
        }
    };
    let mut builder = match threads {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    builder.enable_all().build()
}
