//! The Kubernetes adapter: what weir's controller needs to run beside (or instead of) Argo
//! Rollouts' own on the same custom resources. The engine and analysis core stay the pure
//! code the standalone adapter drives; this module carries their actions out against the API
//! server.
//!
//! - [`analysisruns`]: AnalysisRuns as objects: a Rollout's created and read, and every
//!   run measured and its status written.
//! - [`experiments`]: Experiments as objects: every one run (its templates' ReplicaSets
//!   and Services, its AnalysisRuns, its status); [`step_experiments`]: a Rollout's made,
//!   terminated and read.
//! - [`jobs`]: Argo's `job` analysis provider: a measurement is a Job.
//! - [`controller`]: `weir controller`'s loop (client, leader election, watches).
//! - [`crds`]: weir's CustomResourceDefinitions (Argo's, plus the `weir` provider), which
//!   `weir crds` prints.
//! - [`leader`]: Lease-based leader election with client-go's guarantees.
//! - [`metrics`]: `/metrics` under Argo's controller metric names; [`client_metrics`]: the
//!   client's requests counted (`controller_clientset_k8s_request_total`).
//! - [`hash`]: the pod-template hash that names a Rollout's ReplicaSets.
//! - [`nginx`]: Argo's in-tree nginx routing: the canary Ingress and its weight patches;
//!   [`ingress`]: reading and writing them.
//! - [`gatewayapi`]: the Gateway API plugin's HTTPRoute writes (weights, header routes);
//!   [`httproute`]: reading and writing the HTTPRoutes.
//! - [`routers`]: the two routers behind one face, as the reconcile uses them.
//! - [`replicasets`]: a Rollout's ReplicaSets as Argo names, labels and owns them;
//!   [`podtemplate`]: the API server's pod defaults, to compare templates.
//! - [`services`]: pointing the stable and canary Services at ReplicaSets.
//! - [`fleet`]: the `weir` provider's windows from every proxy replica, histograms merged.
//! - [`rollouts`]: one Rollout reconciled: the engine on its status, its ReplicaSets, events;
//!   [`canary`] and [`bluegreen`]: each strategy's own part; [`restart`]: `spec.restartAt`,
//!   the pods older than it evicted one budget at a time.

pub mod analysisruns;
pub mod bluegreen;
pub mod canary;
pub mod client_metrics;
pub mod controller;
pub mod crds;
pub mod events;
pub mod experiments;
pub mod fleet;
pub mod gatewayapi;
pub mod hash;
pub mod history;
pub mod httproute;
pub mod ingress;
pub mod jobs;
pub mod leader;
pub mod metrics;
pub mod nginx;
pub mod podtemplate;
pub mod replicasets;
pub mod restart;
pub mod rollouts;
pub mod routers;
pub mod services;
pub mod step_experiments;
