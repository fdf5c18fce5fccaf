//! The Kubernetes adapter: what weir's controller needs to run beside (or instead of) Argo
//! Rollouts' own on the same custom resources. The engine and analysis core stay the pure
//! code the standalone adapter drives; this module carries their actions out against the API
//! server.
//!
//! - [`crds`]: weir's CustomResourceDefinitions (Argo's, plus the `weir` provider), which
//!   `weir crds` prints.
//! - [`leader`]: Lease-based leader election with client-go's guarantees.
//! - [`hash`]: the pod-template hash that names a Rollout's ReplicaSets.
//! - [`nginx`]: Argo's in-tree nginx routing: the canary Ingress and its weight patches.
//! - [`gatewayapi`]: the Gateway API plugin's HTTPRoute writes (weights, header routes).

pub mod crds;
pub mod gatewayapi;
pub mod hash;
pub mod leader;
pub mod nginx;
