//! What the engine returns: the state to persist, the actions the adapter carries out, and
//! when to call again.

use weir_config::argo::{HeaderRoutingMatch, MetricProvider, RouteMatch};

use super::state::EngineState;
use crate::analysis::{AnalysisRunSpec, Timestamp};

/// The outcome of one [`super::reconcile`] call.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// Persist this (state file, or the Rollout's status subresource plus annotations)
    /// before or after applying `actions`; either order is safe, since every action is
    /// idempotent and is asked for again while it is not observed done.
    pub state: EngineState,
    /// To carry out in order.
    pub actions: Vec<Action>,
    /// Call again at this instant at the latest (pause ends, progress deadline); also call
    /// again whenever an observation changes. `None`: nothing is due by time alone.
    pub requeue_at: Option<Timestamp>,
}

/// One thing for the adapter to do. Every action is idempotent.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Set the managed route's weights (the canary and stable services' backends).
    SetWeights { canary: i32, stable: i32 },
    /// Send requests matching any of `matches` to the canary, above the weighted split
    /// (Argo setHeaderRoute). No matches: remove the route of that name.
    SetHeaderRoute {
        name: String,
        matches: Vec<HeaderRoutingMatch>,
    },
    /// Copy `percentage` of the requests matching `matches` to the canary (Argo
    /// setMirrorRoute). No matches: remove the route of that name.
    SetMirrorRoute {
        name: String,
        percentage: i32,
        matches: Vec<RouteMatch>,
    },
    /// Remove every header and mirror route the Rollout set.
    RemoveManagedRoutes,
    /// Start (or keep running) an analysis run of this name. A run of that name that exists
    /// already is kept as it is.
    StartAnalysis(Box<StartAnalysis>),
    /// Stop the run (Argo's `spec.terminate`): it completes with its current verdict.
    TerminateAnalysis { name: String },
    /// The stable service takes the canary's version (`pod_hash`): in standalone mode its
    /// endpoints become the canary service's.
    PromoteStable { pod_hash: String },
    /// A Kubernetes-style event on the Rollout, with Argo's reason and message.
    Event(Event),
}

/// An analysis run to start: the pure spec plus each metric's provider.
#[derive(Debug, Clone, PartialEq)]
pub struct StartAnalysis {
    /// Argo's naming: `<rollout>-<hash>-<revision>[-<step index>][.<n>]`.
    pub name: String,
    pub kind: AnalysisKind,
    /// Metrics with numeric and duration fields resolved; names and conditions are resolved
    /// by [`crate::analysis::AnalysisRun::new`].
    pub spec: AnalysisRunSpec,
    /// `providers[i]` measures `spec.metrics[i]`; its fields may still hold `{{args.x}}`,
    /// resolved with [`crate::analysis::args::resolve_args`] and `spec.args`.
    pub providers: Vec<MetricProvider>,
}

/// Which analysis of the Rollout a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisKind {
    /// An `analysis` step, at this index.
    Step(usize),
    /// `strategy.canary.analysis`, running from its startingStep until the rollout ends.
    Background,
}

/// A Kubernetes event: `Normal` unless `warning`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub reason: String,
    pub message: String,
    pub warning: bool,
}

impl Event {
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Event {
            reason: reason.to_string(),
            message: message.into(),
            warning: false,
        }
    }

    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Event {
            reason: reason.to_string(),
            message: message.into(),
            warning: true,
        }
    }
}
