//! What the engine returns: the state to persist, the actions the adapter carries out, and
//! when to call again.

use weir_config::argo::{HeaderRoutingMatch, MetricProvider, RouteMatch};

use super::experiment::ExperimentAction;
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
    /// Blue-green only (always empty for a canary): which version the active and preview
    /// services serve. Carry these out before `actions`. `SwitchActive` is asked for again
    /// until observed; `SetPreview` and `ScaleDownOld` are asked for once, so an adapter
    /// that persists `state` first and then crashes re-applies `status.blueGreen
    /// .previewSelector` on restart (a lost release only keeps an old version routable).
    /// They are kept apart from [`Action`] so that adapters which match [`Action`]
    /// exhaustively keep compiling; see [`ServiceAction`].
    pub services: Vec<ServiceAction>,
    /// Canary `experiment` steps: the experiments' backends to serve or remove. Carry these
    /// out with `actions` (either order); each is asked for again until observed in
    /// [`super::Observed::experiments`]. Kept apart from [`Action`] for the same reason as
    /// `services`.
    pub experiments: Vec<ExperimentAction>,
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

/// What a blue-green rollout asks of its two services (Argo's `activeService` and
/// `previewService`). A version is named by its hash ([`super::Observed::canary_hash`]): the
/// adapter keeps the endpoints of every version named here until a [`ScaleDownOld`] for it
/// falls due, so that it can route to any of them again (a switch back on abort).
///
/// [`ScaleDownOld`]: ServiceAction::ScaleDownOld
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceAction {
    /// The preview service serves `pod_hash` (the new version) from now on. Standalone: the
    /// preview service's endpoints are the new version's, so the adapter only records it;
    /// Kubernetes: patch the preview Service's `rollouts-pod-template-hash` selector. Asked
    /// for once per change (status `blueGreen.previewSelector` records it); halted while
    /// `spec.paused` or an inconclusive-analysis pause stands, as in Argo.
    SetPreview { pod_hash: String },
    /// The active service serves `pod_hash`'s endpoints, all of them at once: one route-table
    /// swap (Kubernetes: one selector patch), never a blend. Asked for again on every call
    /// until [`super::Observed::stable_hash`] reports that the active service serves
    /// `pod_hash`; until then the engine neither starts post-promotion analysis nor marks the
    /// version stable. Used to promote, and to switch back to the stable version on abort or a
    /// failed post-promotion analysis.
    SwitchActive { pod_hash: String },
    /// `pod_hash` is no longer stable, active, preview or desired: keep it routable until
    /// `at` (`scaleDownDelaySeconds` after now, default 30 s), so requests in flight finish
    /// and clients with cached connections drain; after `at` its endpoints may be released
    /// (Kubernetes: the ReplicaSet's `scale-down-deadline` annotation, then scale to 0). A
    /// later `SetPreview` or `SwitchActive` naming `pod_hash` cancels the release. Asked for
    /// once, when the version leaves.
    ScaleDownOld { pod_hash: String, at: Timestamp },
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
    /// `strategy.canary.analysis`, running from its startingStep until the rollout ends; also
    /// blue-green's `prePromotionAnalysis` and `postPromotionAnalysis` runs (names ending in
    /// `-pre` and `-post`), until the adapters learn kinds of their own for them.
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
