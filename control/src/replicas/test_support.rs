//! Helpers the replica tables share.

use super::{ReplicaSet, RolloutStatusView};

/// A ReplicaSet named after its hash, as Argo's test helper `newRS` makes them.
pub fn rs(hash: &str, spec: i32, available: i32) -> ReplicaSet {
    ReplicaSet {
        name: hash.to_owned(),
        pod_template_hash: Some(hash.to_owned()),
        spec_replicas: spec,
        available_replicas: available,
        ..Default::default()
    }
}

/// A status at `current` with `stable` as the stable hash.
pub fn status(current: &str, stable: &str) -> RolloutStatusView {
    RolloutStatusView {
        current_pod_hash: current.to_owned(),
        stable_rs: stable.to_owned(),
        ..Default::default()
    }
}
