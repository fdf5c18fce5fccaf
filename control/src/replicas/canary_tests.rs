//! Canary sizing, one row per Argo rule. Each group names the Argo test
//! (utils/replicaset/canary_test.go unless said otherwise) whose inputs and expectations it
//! ports; rows keep Argo's names so a failure can be looked up there.

use weir_config::argo::{
    CanaryStep, CanaryStrategy, IntOrString, ReplicaProgressThreshold, SetCanaryScale,
    TrafficRouting,
};

use super::canary::*;
#[allow(unused_imports)]
use super::test_support::*;
use super::*;

fn int(n: i32) -> IntOrString {
    IntOrString::Int(n)
}

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.to_owned())
}

fn weight_step(w: i32) -> CanaryStep {
    CanaryStep {
        set_weight: Some(w),
        ..Default::default()
    }
}

fn scale_step(scale: SetCanaryScale) -> CanaryStep {
    CanaryStep {
        set_canary_scale: Some(scale),
        ..Default::default()
    }
}

fn scs(replicas: Option<i32>, weight: Option<i32>, match_traffic_weight: bool) -> SetCanaryScale {
    SetCanaryScale {
        replicas,
        weight,
        match_traffic_weight,
    }
}

/// Argo's test helper `newRollout`: one step setting the weight (and the canary scale, if
/// any), the given surge and unavailability, optional traffic routing.
fn strategy(
    set_weight: i32,
    surge: IntOrString,
    unavailable: IntOrString,
    scale: Option<SetCanaryScale>,
    routed: bool,
) -> CanaryStrategy {
    CanaryStrategy {
        max_surge: Some(surge),
        max_unavailable: Some(unavailable),
        steps: vec![CanaryStep {
            set_weight: Some(set_weight),
            set_canary_scale: scale,
            ..Default::default()
        }],
        traffic_routing: routed.then(TrafficRouting::default),
        ..Default::default()
    }
}

/// One row of `TestCalculateReplicaCountsForCanary`.
struct CountsRow {
    name: &'static str,
    replicas: i32,
    set_weight: i32,
    surge: IntOrString,
    unavailable: IntOrString,
    promote_full: bool,
    stable: (i32, i32),
    canary: (i32, i32),
    want_stable: i32,
    want_canary: i32,
    older: Option<(i32, i32)>,
    set_canary_scale: Option<SetCanaryScale>,
    routed: bool,
    abort_scale_down_delay_seconds: Option<i32>,
    abort: bool,
    min_pods_per_replica_set: Option<i32>,
}

impl Default for CountsRow {
    fn default() -> Self {
        // Argo's Go zero values: weight 0, surge and unavailability the integer 0.
        CountsRow {
            name: "",
            replicas: 0,
            set_weight: 0,
            surge: int(0),
            unavailable: int(0),
            promote_full: false,
            stable: (0, 0),
            canary: (0, 0),
            want_stable: 0,
            want_canary: 0,
            older: None,
            set_canary_scale: None,
            routed: false,
            abort_scale_down_delay_seconds: None,
            abort: false,
            min_pods_per_replica_set: None,
        }
    }
}

/// Mirrors `TestCalculateReplicaCountsForCanary`: every row, in order. As in Argo, the
/// traffic-routed rows pass no ReplicaSets and no weights; the basic rows pass a canary
/// `canary`, a stable `stable` and the older ReplicaSet if any. Then the worked examples in
/// the doc comment of Argo's `CalculateReplicaCountsForBasicCanary`.
#[test]
fn calculate_replica_counts_for_canary() {
    #[rustfmt::skip]
    let rows = vec![
        CountsRow { name: "Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas", replicas: 10, set_weight: 100, surge: int(3), unavailable: int(0), stable: (7, 8), canary: (6, 3), want_stable: 7, want_canary: 6, ..Default::default() },
        CountsRow { name: "Use max surge int to scale up canary", replicas: 10, set_weight: 20, surge: int(2), unavailable: int(0), stable: (10, 10), canary: (0, 0), want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "Use max surge percentage to scale up canary", replicas: 10, set_weight: 20, surge: pct("20%"), unavailable: int(0), stable: (10, 10), canary: (0, 0), want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "Scale down extra stable replicas", replicas: 10, set_weight: 20, surge: pct("20%"), unavailable: int(0), stable: (10, 10), canary: (2, 2), want_stable: 8, want_canary: 2, ..Default::default() },
        CountsRow { name: "Do not go past max surge", replicas: 10, set_weight: 30, surge: int(2), unavailable: int(0), stable: (10, 10), canary: (0, 0), want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "Use max unavailable int to scale down stableRS", replicas: 10, set_weight: 20, surge: int(0), unavailable: int(2), stable: (10, 10), canary: (0, 0), want_stable: 8, want_canary: 0, ..Default::default() },
        CountsRow { name: "Use max surge percentage to scale down stableRS", replicas: 10, set_weight: 20, surge: int(0), unavailable: pct("20%"), stable: (10, 10), canary: (0, 0), want_stable: 8, want_canary: 0, ..Default::default() },
        CountsRow { name: "Do not go past max unavailable", replicas: 10, set_weight: 30, surge: int(0), unavailable: int(2), stable: (10, 10), canary: (0, 0), want_stable: 8, want_canary: 0, ..Default::default() },
        CountsRow { name: "Use Max Surge and Max Unavailable", replicas: 10, set_weight: 50, surge: int(2), unavailable: int(1), stable: (10, 10), canary: (0, 0), want_stable: 9, want_canary: 2, ..Default::default() },
        CountsRow { name: "Scale canaryRS to zero on setWeight of 0%", replicas: 10, set_weight: 0, surge: int(1), unavailable: int(1), stable: (10, 10), canary: (1, 1), want_stable: 10, want_canary: 0, ..Default::default() },
        CountsRow { name: "Scale stable to zero on setWeight of 100%", replicas: 10, set_weight: 100, surge: int(1), unavailable: int(1), stable: (1, 1), canary: (10, 10), want_stable: 0, want_canary: 10, ..Default::default() },
        CountsRow { name: "Do not scale canaryRS down to zero on non-zero weight", replicas: 1, set_weight: 20, surge: int(1), unavailable: int(0), stable: (1, 1), canary: (0, 0), want_stable: 1, want_canary: 1, ..Default::default() },
        CountsRow { name: "Do not scale canaryRS down to zero on non-100 weight", replicas: 1, set_weight: 90, surge: int(1), unavailable: int(0), stable: (1, 1), canary: (0, 0), want_stable: 1, want_canary: 1, ..Default::default() },
        CountsRow { name: "Scale canaryRS to zero on <50 weight without surge", replicas: 1, set_weight: 49, surge: int(0), unavailable: int(1), stable: (1, 1), canary: (0, 0), want_stable: 1, want_canary: 0, ..Default::default() },
        CountsRow { name: "Scale stableRS down to zero on >=50 weight without surge", replicas: 1, set_weight: 51, surge: int(0), unavailable: int(1), stable: (1, 1), canary: (0, 0), want_stable: 0, want_canary: 0, ..Default::default() },
        CountsRow { name: "Scale canaryRS to one on >=50 weight without surge and stable replicas", replicas: 1, set_weight: 51, surge: int(0), unavailable: int(1), stable: (0, 0), canary: (0, 0), want_stable: 0, want_canary: 1, ..Default::default() },
        CountsRow { name: "Scale up Stable before canaryRS", replicas: 10, set_weight: 30, surge: int(1), unavailable: int(0), stable: (1, 1), canary: (0, 0), want_stable: 7, want_canary: 1, older: Some((3, 3)), ..Default::default() },
        CountsRow { name: "Scale down canaryRS and stable", replicas: 10, set_weight: 30, surge: int(0), unavailable: int(3), stable: (8, 5), canary: (4, 4), want_stable: 7, want_canary: 3, ..Default::default() },
        CountsRow { name: "Scale down stable and canary available", replicas: 10, set_weight: 100, surge: int(1), unavailable: int(0), stable: (10, 2), canary: (10, 8), want_stable: 2, want_canary: 9, ..Default::default() },
        CountsRow { name: "Do not scale down canaryRS or stable when older RS count >= scaleDownCount", replicas: 10, set_weight: 30, surge: int(0), unavailable: int(1), stable: (8, 6), canary: (4, 2), want_stable: 8, want_canary: 4, older: Some((3, 3)), ..Default::default() },
        CountsRow { name: "Do not round past maxSurge with uneven setWeight divisor", replicas: 10, set_weight: 5, surge: int(0), unavailable: int(1), stable: (10, 10), canary: (0, 0), want_stable: 9, want_canary: 0, ..Default::default() },
        CountsRow { name: "Do not round past maxSurge with uneven setWeight divisor (part 2)", replicas: 10, set_weight: 5, surge: int(0), unavailable: int(1), stable: (9, 9), canary: (0, 0), want_stable: 9, want_canary: 1, ..Default::default() },
        CountsRow { name: "Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas", replicas: 10, set_weight: 10, surge: pct("0%"), unavailable: pct("0%"), stable: (10, 10), canary: (0, 0), want_stable: 9, want_canary: 0, ..Default::default() },
        CountsRow { name: "For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)", replicas: 1, stable: (1, 1), want_stable: 1, want_canary: 9, set_weight: 100, set_canary_scale: Some(scs(Some(9), None, false)), routed: true, ..Default::default() },
        CountsRow { name: "Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)", replicas: 4, stable: (4, 4), want_stable: 4, want_canary: 8, set_weight: 100, set_canary_scale: Some(scs(None, Some(200), false)), routed: true, ..Default::default() },
        CountsRow { name: "Ignore setCanaryScale replicas/weight when matchTrafficWeight is true", replicas: 10, set_weight: 20, surge: pct("20%"), unavailable: int(0), stable: (10, 10), canary: (0, 0), set_canary_scale: Some(scs(Some(9), Some(100), true)), routed: true, want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas", replicas: 10, set_weight: 20, surge: pct("20%"), unavailable: int(0), stable: (10, 10), canary: (0, 0), set_canary_scale: Some(scs(Some(9), Some(100), false)), routed: false, want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "honor maxSurge during scale up when stableRS unavailable", replicas: 4, set_weight: 100, surge: int(1), unavailable: int(0), stable: (4, 1), canary: (0, 0), want_stable: 4, want_canary: 1, ..Default::default() },
        CountsRow { name: "scale down to maxunavailable without exceeding maxSurge", replicas: 3, set_weight: 99, surge: int(0), unavailable: int(2), stable: (3, 3), canary: (0, 0), want_stable: 1, want_canary: 0, ..Default::default() },
        CountsRow { name: "scale down to maxunavailable without exceeding maxSurge (part 2)", replicas: 3, set_weight: 99, surge: int(0), unavailable: int(2), stable: (1, 1), canary: (0, 0), want_stable: 1, want_canary: 2, ..Default::default() },
        CountsRow { name: "honor maxUnavailable during scale down stableRS unavailable", replicas: 4, set_weight: 100, surge: int(1), unavailable: int(0), stable: (4, 1), canary: (1, 1), want_stable: 3, want_canary: 1, ..Default::default() },
        CountsRow { name: "honor maxUnavailable when aborting or reducing weight part 1", replicas: 4, set_weight: 0, surge: int(1), unavailable: int(0), stable: (0, 0), canary: (4, 4), want_stable: 1, want_canary: 4, ..Default::default() },
        CountsRow { name: "honor maxUnavailable when aborting or reducing weight part 2", replicas: 4, set_weight: 0, surge: int(1), unavailable: int(0), stable: (1, 0), canary: (4, 4), want_stable: 1, want_canary: 4, ..Default::default() },
        CountsRow { name: "honor maxUnavailable when aborting or reducing weight part 3", replicas: 4, set_weight: 0, surge: int(1), unavailable: int(0), stable: (1, 1), canary: (4, 4), want_stable: 1, want_canary: 3, ..Default::default() },
        CountsRow { name: "promote full does not consider weight", promote_full: true, replicas: 4, set_weight: 1, surge: int(4), unavailable: int(4), stable: (4, 4), canary: (0, 0), want_stable: 0, want_canary: 4, ..Default::default() },
        CountsRow { name: "promote full still honors maxSurge/maxUnavailable", promote_full: true, replicas: 4, set_weight: 1, surge: int(3), unavailable: int(0), stable: (4, 4), canary: (0, 0), want_stable: 4, want_canary: 3, ..Default::default() },
        CountsRow { name: "aborted with abortScaleDownDelaySeconds:0 and setCanaryScale", replicas: 1, set_canary_scale: Some(scs(Some(1), None, false)), routed: true, abort_scale_down_delay_seconds: Some(0), abort: true, stable: (1, 1), canary: (1, 1), want_stable: 1, want_canary: 1, ..Default::default() },
        CountsRow { name: "aborted with abortScaleDownDelaySeconds>0 and setCanaryScale", replicas: 1, set_canary_scale: Some(scs(Some(1), None, false)), routed: true, abort_scale_down_delay_seconds: Some(30), abort: true, stable: (1, 1), canary: (1, 1), want_stable: 1, want_canary: 0, ..Default::default() },
        CountsRow { name: "Honor MinPodsPerReplicaSet when using trafficRouting and starting canary", replicas: 10, set_weight: 5, stable: (10, 10), canary: (0, 0), routed: true, min_pods_per_replica_set: Some(2), want_stable: 10, want_canary: 2, ..Default::default() },
        CountsRow { name: "Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting", replicas: 1, set_weight: 100, promote_full: true, stable: (1, 1), canary: (0, 0), routed: true, min_pods_per_replica_set: Some(2), want_stable: 1, want_canary: 1, ..Default::default() },
        // The worked examples in the doc comment of CalculateReplicaCountsForBasicCanary.
        CountsRow { name: "doc: replicas 10 weight 10 unavailable 1 surge 1", replicas: 10, set_weight: 10, surge: int(1), unavailable: int(1), stable: (10, 10), want_stable: 9, want_canary: 1, ..Default::default() },
        CountsRow { name: "doc: replicas 10 weight 30 unavailable 0 surge 3", replicas: 10, set_weight: 30, surge: int(3), unavailable: int(0), stable: (10, 10), want_stable: 10, want_canary: 3, ..Default::default() },
        CountsRow { name: "doc: replicas 10 weight 30 unavailable 5 surge 0", replicas: 10, set_weight: 30, surge: int(0), unavailable: int(5), stable: (10, 10), want_stable: 7, want_canary: 0, ..Default::default() },
        // Argo's doc comment says stable 9 here; its code gives 10: 5 % of 10 pods is half a
        // pod, a tie, so only the rounded-up canary is a candidate, and 1 canary of 11 pods
        // (9.1 %) is closer to 5 % than 1 of 10, so the stable keeps all 10 and the canary
        // surges. weir follows the code.
        CountsRow { name: "doc: replicas 10 weight 5 unavailable 1 surge 1", replicas: 10, set_weight: 5, surge: int(1), unavailable: int(1), stable: (10, 10), want_stable: 10, want_canary: 1, ..Default::default() },
        CountsRow { name: "doc: replicas 1 weight 5 unavailable 0 surge 1", replicas: 1, set_weight: 5, surge: int(1), unavailable: int(0), stable: (1, 1), want_stable: 1, want_canary: 1, ..Default::default() },
        CountsRow { name: "doc: replicas 1 weight 95 unavailable 0 surge 1", replicas: 1, set_weight: 95, surge: int(1), unavailable: int(0), stable: (1, 1), want_stable: 1, want_canary: 1, ..Default::default() },
    ];
    assert_eq!(rows.len(), 46);
    for row in rows {
        let mut strategy = strategy(
            row.set_weight,
            row.surge.clone(),
            row.unavailable.clone(),
            row.set_canary_scale,
            row.routed,
        );
        strategy.abort_scale_down_delay_seconds = row.abort_scale_down_delay_seconds;
        strategy.min_pods_per_replica_set = row.min_pods_per_replica_set;
        let mut status = status("canary", "stable");
        status.promote_full = row.promote_full;
        status.abort = row.abort;
        let rollout = CanaryRollout {
            replicas: row.replicas,
            strategy: &strategy,
            status: &status,
        };
        let stable = rs("stable", row.stable.0, row.stable.1);
        let canary = rs("canary", row.canary.0, row.canary.1);
        let older: Vec<ReplicaSet> = row
            .older
            .map(|(s, a)| rs("older", s, a))
            .into_iter()
            .collect();
        let got = if row.routed {
            traffic_routed_canary_replica_counts(&rollout, None, None, None)
        } else {
            basic_canary_replica_counts(&rollout, Some(&canary), Some(&stable), &older)
        };
        assert_eq!(
            (got.canary, got.stable),
            (row.want_canary, row.want_stable),
            "{} (canary, stable)",
            row.name
        );
    }
}

/// Mirrors `TestApproximateWeightedNewStableReplicaCounts`: every row, in order
/// (replicas, weight, max weight, surge → canary, stable).
#[test]
fn approximate_weighted_new_stable_replica_counts() {
    #[rustfmt::skip]
    let rows: [(i32, i32, i32, i32, i32, i32); 57] = [
        (0, 0, 100, 0, 0, 0),
        (0, 50, 100, 0, 0, 0),
        (0, 100, 100, 0, 0, 0),
        (0, 0, 100, 1, 0, 0),
        (0, 50, 100, 1, 0, 0),
        (0, 100, 100, 1, 0, 0),
        (1, 0, 100, 0, 0, 1),
        (1, 1, 100, 0, 0, 1),
        (1, 49, 100, 0, 0, 1),
        (1, 50, 100, 0, 1, 0),
        (1, 99, 100, 0, 1, 0),
        (1, 100, 100, 0, 1, 0),
        (1, 0, 100, 1, 0, 1),
        (1, 1, 100, 1, 1, 1),
        (1, 49, 100, 1, 1, 1),
        (1, 50, 100, 1, 1, 1),
        (1, 99, 100, 1, 1, 1),
        (1, 100, 100, 1, 1, 0),
        (2, 0, 100, 0, 0, 2),
        (2, 1, 100, 0, 1, 1),
        (2, 50, 100, 0, 1, 1),
        (2, 99, 100, 0, 1, 1),
        (2, 100, 100, 0, 2, 0),
        (2, 0, 100, 1, 0, 2),
        (2, 1, 100, 1, 1, 2),
        (2, 50, 100, 1, 1, 1),
        (2, 99, 100, 1, 2, 1),
        (2, 100, 100, 1, 2, 0),
        (3, 10, 100, 0, 1, 2),
        (3, 25, 100, 0, 1, 2),
        (3, 33, 100, 0, 1, 2),
        (3, 34, 100, 0, 1, 2),
        (3, 49, 100, 0, 1, 2),
        (3, 50, 100, 0, 2, 1),
        (3, 10, 100, 1, 1, 3),
        (3, 25, 100, 1, 1, 3),
        (3, 33, 100, 1, 1, 2),
        (3, 34, 100, 1, 1, 2),
        (3, 49, 100, 1, 2, 2),
        (3, 50, 100, 1, 2, 2),
        (10, 0, 100, 1, 0, 10),
        (10, 1, 100, 0, 1, 9),
        (10, 14, 100, 0, 1, 9),
        (10, 15, 100, 0, 2, 8),
        (10, 16, 100, 0, 2, 8),
        (10, 99, 100, 0, 9, 1),
        (10, 100, 100, 1, 10, 0),
        (10, 0, 100, 1, 0, 10),
        (10, 1, 100, 1, 1, 10),
        (10, 18, 100, 1, 2, 9),
        (10, 19, 100, 1, 2, 9),
        (10, 20, 100, 1, 2, 8),
        (10, 23, 100, 1, 2, 8),
        (10, 24, 100, 1, 3, 8),
        (10, 25, 100, 1, 3, 8),
        (10, 99, 100, 1, 10, 1),
        (10, 100, 100, 1, 10, 0),
    ];
    for (replicas, weight, max_weight, surge, canary, stable) in rows {
        assert_eq!(
            approximate_weighted_canary_stable_replica_counts(replicas, weight, max_weight, surge),
            (canary, stable),
            "replicas:{replicas} weight:{weight} maxweight:{max_weight} surge:{surge}"
        );
    }
}

/// Mirrors `TestCalculateReplicaCountsForNewDeployment` and
/// `TestCalculateReplicaCountsForCanaryStableRSdEdgeCases`: with no separate stable
/// ReplicaSet (none, or the new one under the stable name) the new one goes to all replicas.
#[test]
fn no_separate_stable_replica_set() {
    let strategy = strategy(10, int(0), int(1), None, false);
    // TestCalculateReplicaCountsForNewDeployment: the new ReplicaSet carries the stable name.
    let status_new = status("canary", "stable");
    let rollout = CanaryRollout {
        replicas: 10,
        strategy: &strategy,
        status: &status_new,
    };
    let same = rs("stable", 10, 0);
    let got = basic_canary_replica_counts(&rollout, Some(&same), Some(&same), &[]);
    assert_eq!((got.canary, got.stable), (10, 0), "new deployment");

    // TestCalculateReplicaCountsForCanaryStableRSdEdgeCases: no stable hash recorded.
    let status_edge = status("", "");
    let rollout = CanaryRollout {
        replicas: 10,
        strategy: &strategy,
        status: &status_edge,
    };
    let new = rs("stable", 9, 9);
    let got = basic_canary_replica_counts(&rollout, Some(&new), None, &[]);
    assert_eq!((got.canary, got.stable), (10, 0), "no stable");
    let got = basic_canary_replica_counts(&rollout, Some(&new), Some(&new), &[]);
    assert_eq!((got.canary, got.stable), (10, 0), "stable is new");
}

/// Mirrors `TestCalculateReplicaCountsForCanaryTrafficRouting`: without dynamic stable
/// scaling the stable stays at all replicas and the canary carries its weight.
#[test]
fn traffic_routing_keeps_stable_full() {
    let strategy = strategy(10, int(0), int(1), None, true);
    let status = status("canary", "stable");
    let rollout = CanaryRollout {
        replicas: 10,
        strategy: &strategy,
        status: &status,
    };
    let got = traffic_routed_canary_replica_counts(&rollout, None, None, None);
    assert_eq!((got.canary, got.stable), (1, 10));
}

/// Mirrors `TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale`: every row. As in
/// Argo, the first step's weight is the row's `rolloutMaxReplicas`, the row's extra steps
/// follow it, and a canary ReplicaSet (when passed) has all its pods available.
#[test]
fn traffic_routing_dynamic_scale() {
    struct Row {
        name: &'static str,
        replicas: i32,
        first_weight: i32,
        abort: bool,
        steps: Vec<CanaryStep>,
        weights: (i32, i32),
        canary_spec: i32,
        stable: (i32, i32),
        want: (i32, i32),
    }
    #[rustfmt::skip]
    let rows = [
        Row { name: "Should scale stable replica up depending on next expected canary downscale step, if abort is true", replicas: 10, first_weight: 20, abort: true, steps: vec![weight_step(60)], weights: (60, 40), canary_spec: 6, stable: (4, 4), want: (6, 8) },
        Row { name: "Should scale stable replica up depending on available canary replicas, if actual number of canaries is less than expected and abort is true", replicas: 10, first_weight: 20, abort: true, steps: vec![weight_step(60)], weights: (60, 40), canary_spec: 1, stable: (4, 4), want: (6, 8) },
        Row { name: "Should scale stable replica up depending on available stable replicas, if abort is true", replicas: 10, first_weight: 20, abort: true, steps: vec![weight_step(60)], weights: (60, 40), canary_spec: 2, stable: (8, 4), want: (6, 8) },
        Row { name: "Should scale stable up as if canaries are scaled down to 0 if stable and canary replicas not passed, and abort is true", replicas: 10, first_weight: 20, abort: true, steps: vec![weight_step(60)], weights: (60, 40), canary_spec: 0, stable: (0, 0), want: (6, 10) },
        Row { name: "Should scale down stable", replicas: 10, first_weight: 10, abort: false, steps: vec![], weights: (10, 90), canary_spec: 0, stable: (0, 0), want: (1, 9) },
        Row { name: "Should take max of desired canary (20) > actual (10)", replicas: 10, first_weight: 20, abort: false, steps: vec![], weights: (10, 90), canary_spec: 0, stable: (0, 0), want: (2, 9) },
        Row { name: "Should leave canary scaled up if there is still traffic to it on abort", replicas: 10, first_weight: 20, abort: true, steps: vec![], weights: (20, 80), canary_spec: 0, stable: (0, 0), want: (2, 10) },
        Row { name: "Should reduce canary when there is less traffic to it on abort", replicas: 10, first_weight: 20, abort: true, steps: vec![], weights: (10, 90), canary_spec: 0, stable: (0, 0), want: (1, 10) },
    ];
    for row in rows {
        let mut strategy = strategy(row.first_weight, int(0), int(1), None, true);
        strategy.dynamic_stable_scale = true;
        strategy.steps.extend(row.steps);
        let mut status = status("canary", "stable");
        status.abort = row.abort;
        let rollout = CanaryRollout {
            replicas: row.replicas,
            strategy: &strategy,
            status: &status,
        };
        let stable = (row.stable.0 > 0).then(|| rs("stable", row.stable.0, row.stable.1));
        let canary = (row.canary_spec > 0).then(|| rs("canary", row.canary_spec, row.canary_spec));
        let weights = TrafficWeights {
            canary: row.weights.0,
            stable: row.weights.1,
        };
        let got = traffic_routed_canary_replica_counts(
            &rollout,
            canary.as_ref(),
            stable.as_ref(),
            Some(&weights),
        );
        assert_eq!(
            (got.canary, got.stable),
            row.want,
            "{} (canary, stable)",
            row.name
        );
    }
}

/// Mirrors `TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay`: an explicit abort delay
/// holds the canary at full size, so its size must not hold the abort weight up; then the
/// follow-up subtest, where the weight has reached 0 and the stable returns to full size.
#[test]
fn desired_canary_weight_on_abort_with_scale_down_delay() {
    let aborted = |delay: Option<i32>| {
        let mut s = strategy(50, int(1), int(0), None, true);
        s.steps = vec![weight_step(10), weight_step(50)];
        s.dynamic_stable_scale = true;
        s.abort_scale_down_delay_seconds = delay;
        s
    };
    let mut st = status("canary", "stable");
    st.abort = true;
    #[rustfmt::skip]
    let rows = [
        ("no explicit delay: weight is held up by canary size (progressive drain unchanged)", None, 9, 10),
        ("explicit delay: weight steps down gradually while stable is scaling up", Some(30), 5, 10),
        ("explicit delay: weight reaches zero once stable nearly covers spec.Replicas (deadlock case)", Some(30), 9, 0),
        ("explicit zero delay (leave canary up indefinitely): weight is held up by canary size", Some(0), 9, 10),
    ];
    for (name, delay, stable_available, want) in rows {
        let strategy = aborted(delay);
        let rollout = CanaryRollout {
            replicas: 10,
            strategy: &strategy,
            status: &st,
        };
        let canary = rs("canary", 5, 5);
        let stable = rs("stable", stable_available, stable_available);
        assert_eq!(
            desired_canary_weight(&rollout, Some(&canary), Some(&stable)),
            want,
            "{name}"
        );
    }

    let strategy = aborted(Some(30));
    let rollout = CanaryRollout {
        replicas: 10,
        strategy: &strategy,
        status: &st,
    };
    let weights = TrafficWeights {
        canary: 10,
        stable: 90,
    };
    let got = traffic_routed_canary_replica_counts(
        &rollout,
        Some(&rs("canary", 5, 5)),
        Some(&rs("stable", 9, 9)),
        Some(&weights),
    );
    assert_eq!(
        got.stable, 10,
        "stable scales to spec.Replicas once weight reaches zero"
    );
}

/// Mirrors `TestTrafficWeightToReplicas`: every assertion (rounds up).
#[test]
fn traffic_weight_to_replicas_rows() {
    #[rustfmt::skip]
    let rows = [
        (10, 0, 100, 0),
        (10, 20, 100, 2),
        (10, 25, 100, 3),
        (10, 33, 100, 4),
        (10, 99, 100, 10),
        (10, 100, 100, 10),
        (23, 100_000_000, 100_000_000, 23),
    ];
    for (replicas, weight, max_weight, want) in rows {
        assert_eq!(
            traffic_weight_to_replicas(replicas, weight, max_weight),
            want,
            "{replicas} {weight}/{max_weight}"
        );
    }
}

/// Mirrors `TestGetOtherRSs`.
#[test]
fn other_replica_sets_rows() {
    let all = [rs("1", 0, 0), rs("2", 0, 0)];
    let names = |v: Vec<&ReplicaSet>| v.into_iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(other_replica_sets(None, None, &all[..1])),
        ["1"],
        "handle nil"
    );
    assert_eq!(
        names(other_replica_sets(Some(&all[0]), None, &all)),
        ["2"],
        "existing new"
    );
    assert_eq!(
        names(other_replica_sets(None, Some(&all[0]), &all)),
        ["2"],
        "existing stable"
    );
}

/// Mirrors `TestGetStableRS`.
#[test]
fn stable_replica_set_rows() {
    let (rs1, rs2, rs3) = (rs("1", 0, 0), rs("2", 0, 0), rs("3", 0, 0));
    let no_stable = RolloutStatusView::default();
    assert_eq!(
        stable_replica_set(&no_stable, Some(&rs1), &[rs2.clone(), rs3.clone()]),
        None,
        "no stable"
    );
    let stable_1 = status("", "1");
    assert_eq!(
        stable_replica_set(&stable_1, Some(&rs2), std::slice::from_ref(&rs3)),
        None,
        "stable not found"
    );
    assert_eq!(
        stable_replica_set(&stable_1, Some(&rs1), &[rs2.clone(), rs3.clone()]),
        Some(&rs1),
        "same as new"
    );
    let all = [rs1.clone(), rs2.clone(), rs3.clone()];
    assert_eq!(
        stable_replica_set(&stable_1, Some(&rs2), &all),
        Some(&all[0]),
        "stable in other RSs"
    );
}

/// Mirrors `TestGetCurrentCanaryStep` and `TestGetCurrentSetWeight`.
#[test]
fn current_step_and_set_weight() {
    let mut s = strategy(10, int(0), int(1), None, false);
    let mut st = status("", "");
    s.steps.clear();
    assert_eq!(current_canary_step(&s, &st).0, None, "no steps");

    s.steps = vec![CanaryStep {
        pause: Some(Default::default()),
        ..Default::default()
    }];
    st.current_step_index = Some(0);
    let (step, index) = current_canary_step(&s, &st);
    assert!(step.is_some());
    assert_eq!(index, Some(0));
    st.current_step_index = Some(1);
    assert_eq!(
        current_canary_step(&s, &st),
        (None, Some(1)),
        "no more steps"
    );

    let s = strategy(10, int(0), int(1), None, false);
    let mut st = status("", "");
    let weight = |st: &RolloutStatusView| {
        current_set_weight(&CanaryRollout {
            replicas: 10,
            strategy: &s,
            status: st,
        })
    };
    st.current_step_index = Some(1);
    assert_eq!(weight(&st), 100, "past the steps");
    st.current_step_index = Some(0);
    assert_eq!(weight(&st), 10, "at the step");
    st.abort = true;
    assert_eq!(weight(&st), 0, "aborted");
}

/// The weight, `setCanaryScale` and min-pods rules beyond Argo's tables: the nearest
/// `setWeight` before the current step, a `matchTrafficWeight` cancelling an earlier
/// `setCanaryScale`, a negative index, `maxTrafficWeight`.
#[test]
fn weight_and_scale_lookup_rows() {
    let routed = |steps: Vec<CanaryStep>| CanaryStrategy {
        steps,
        traffic_routing: Some(TrafficRouting::default()),
        ..Default::default()
    };
    let at = |i: i32| RolloutStatusView {
        current_step_index: Some(i),
        stable_rs: "stable".into(),
        current_pod_hash: "canary".into(),
        ..Default::default()
    };
    let pause = CanaryStep {
        pause: Some(Default::default()),
        ..Default::default()
    };

    // setWeight looks back past pauses; before any setWeight it is 0.
    let s = routed(vec![
        pause.clone(),
        weight_step(20),
        pause.clone(),
        weight_step(40),
    ]);
    for (index, want) in [(0, 0), (1, 20), (2, 20), (3, 40), (4, 100), (-1, 100)] {
        let st = at(index);
        let r = CanaryRollout {
            replicas: 10,
            strategy: &s,
            status: &st,
        };
        assert_eq!(current_set_weight(&r), want, "setWeight at step {index}");
    }

    // A later matchTrafficWeight cancels an earlier setCanaryScale.
    let s = routed(vec![
        scale_step(scs(Some(3), None, false)),
        weight_step(20),
        scale_step(scs(None, None, true)),
        weight_step(40),
    ]);
    for (index, want) in [(0, Some(3)), (1, Some(3)), (2, None), (3, None)] {
        let st = at(index);
        let r = CanaryRollout {
            replicas: 10,
            strategy: &s,
            status: &st,
        };
        assert_eq!(
            use_set_canary_scale(&r).and_then(|x| x.replicas),
            want,
            "setCanaryScale at step {index}"
        );
    }
    // A setCanaryScale with neither replicas nor weight falls back to the step weight.
    let s = routed(vec![weight_step(30), scale_step(scs(None, None, false))]);
    let st = at(1);
    let r = CanaryRollout {
        replicas: 10,
        strategy: &s,
        status: &st,
    };
    assert_eq!(
        canary_replicas_or_weight(&r, None, None),
        CanaryScale::Weight(30)
    );

    // maxTrafficWeight sets what "all of it" is.
    let mut s = routed(vec![weight_step(300)]);
    if let Some(t) = s.traffic_routing.as_mut() {
        t.max_traffic_weight = Some(1000);
    }
    assert_eq!(max_traffic_weight(&s), 1000);
    let st = at(0);
    let r = CanaryRollout {
        replicas: 10,
        strategy: &s,
        status: &st,
    };
    assert_eq!(
        traffic_routed_canary_replica_counts(&r, None, None, None),
        CanaryReplicaCounts {
            canary: 3,
            stable: 10
        }
    );
    let st = at(1);
    let r = CanaryRollout {
        replicas: 10,
        strategy: &s,
        status: &st,
    };
    assert_eq!(
        current_set_weight(&r),
        1000,
        "steps done: all of maxTrafficWeight"
    );
}

/// `setCanaryScale.replicas` with `dynamicStableScale`: the stable keeps all replicas (the
/// desired weight reads as 0) and the minimum applies to the explicit count, which it does
/// not without dynamic scaling.
#[test]
fn set_canary_scale_replicas_with_dynamic_stable_scale() {
    let mut s = strategy(50, int(0), int(1), Some(scs(Some(1), None, false)), true);
    s.min_pods_per_replica_set = Some(2);
    let st = status("canary", "stable");
    let r = CanaryRollout {
        replicas: 10,
        strategy: &s,
        status: &st,
    };
    assert_eq!(
        traffic_routed_canary_replica_counts(&r, None, None, None),
        CanaryReplicaCounts {
            canary: 1,
            stable: 10
        }
    );
    s.dynamic_stable_scale = true;
    let r = CanaryRollout {
        replicas: 10,
        strategy: &s,
        status: &st,
    };
    let weights = TrafficWeights {
        canary: 50,
        stable: 50,
    };
    assert_eq!(
        traffic_routed_canary_replica_counts(&r, None, None, Some(&weights)),
        CanaryReplicaCounts {
            canary: 2,
            stable: 10
        }
    );
}

/// `CheckMinPodsPerReplicaSet`: 0 stays 0, only with a traffic router, capped at replicas.
#[test]
fn min_pods_per_replica_set_rows() {
    let st = status("canary", "stable");
    #[rustfmt::skip]
    let rows = [
        // (routed, min pods, replicas, count, want)
        (true, Some(2), 10, 0, 0),
        (true, Some(2), 10, 1, 2),
        (true, Some(2), 10, 5, 5),
        (true, Some(20), 10, 1, 10),
        (true, None, 10, 1, 1),
        (false, Some(2), 10, 1, 1),
    ];
    for (routed, min_pods, replicas, count, want) in rows {
        let mut s = strategy(10, int(0), int(1), None, routed);
        s.min_pods_per_replica_set = min_pods;
        let r = CanaryRollout {
            replicas,
            strategy: &s,
            status: &st,
        };
        assert_eq!(
            check_min_pods_per_replica_set(&r, count),
            want,
            "routed:{routed} min:{min_pods:?} count:{count}"
        );
    }
}

/// Mirrors `TestGetReplicasForScaleDown`.
#[test]
fn replicas_for_scale_down_rows() {
    #[rustfmt::skip]
    let rows = [
        ("test rs is nil", None, false, 0),
        ("test expected replicas is less than actual replicas", Some(rs("a", 3, 5)), false, 3),
        ("test ignore availability", Some(rs("a", 3, 2)), true, 3),
        ("test not ignore availability", Some(rs("a", 3, 2)), false, 2),
    ];
    for (name, set, ignore, want) in rows {
        assert_eq!(
            replicas_for_scale_down(set.as_ref(), ignore),
            want,
            "{name}"
        );
    }
}

/// Mirrors `TestGetCanaryReplicasOrWeight`. Its last row is a blue-green Rollout, which has
/// no canary strategy and no stable hash; here that is an empty canary strategy.
#[test]
fn canary_replicas_or_weight_rows() {
    let routed_steps = |second: SetCanaryScale| CanaryStrategy {
        steps: vec![weight_step(10), scale_step(second)],
        traffic_routing: Some(TrafficRouting::default()),
        ..Default::default()
    };
    let at_step_1 = RolloutStatusView {
        current_step_index: Some(1),
        stable_rs: "stable-rs".into(),
        ..Default::default()
    };
    let promote_full = RolloutStatusView {
        promote_full: true,
        ..Default::default()
    };
    let aborted = RolloutStatusView {
        abort: true,
        ..Default::default()
    };
    let empty = CanaryStrategy::default();
    let weight_20 = routed_steps(scs(None, Some(20), false));
    let replicas_5 = routed_steps(scs(Some(5), None, false));
    #[rustfmt::skip]
    let rows: [(&str, &CanaryStrategy, &RolloutStatusView, CanaryScale); 4] = [
        ("test full promote rollout", &empty, &promote_full, CanaryScale::Weight(100)),
        ("test canary step weight", &weight_20, &at_step_1, CanaryScale::Weight(20)),
        ("test canary step replicas", &replicas_5, &at_step_1, CanaryScale::Replicas(5)),
        ("test get current step weight", &empty, &aborted, CanaryScale::Weight(100)),
    ];
    for (name, strategy, status, want) in rows {
        let r = CanaryRollout {
            replicas: 1,
            strategy,
            status,
        };
        assert_eq!(canary_replicas_or_weight(&r, None, None), want, "{name}");
    }
}

/// Mirrors `TestAllDesiredAreAvailable`. Argo's "spec.replicas nil" rows read it as the
/// default 1; a weir [`ReplicaSet`] carries the defaulted value.
#[test]
fn all_desired_are_available_rows() {
    #[rustfmt::skip]
    let rows = [
        ("all desired pods are available", Some(rs("a", 10, 10)), 10, true),
        ("not all desired pods are available", Some(rs("a", 10, 9)), 10, false),
        ("ReplicaSet is nil", None, 10, false),
        ("spec.replicas nil and desired != 1", Some(rs("a", 1, 10)), 10, false),
        ("spec.replicas nil and desired is 1", Some(rs("a", 1, 1)), 1, true),
    ];
    for (name, set, desired, want) in rows {
        assert_eq!(
            all_desired_are_available(set.as_ref(), desired),
            want,
            "{name}"
        );
    }
}

/// Mirrors `TestAllReplicaProgressThresholdMet`: every row. Argo's "Pods" type is any type
/// other than "Percent".
#[test]
fn replica_progress_threshold_rows() {
    let threshold = |t: &str, v: i32| {
        Some(ReplicaProgressThreshold {
            type_: t.to_owned(),
            value: v,
        })
    };
    #[rustfmt::skip]
    let rows = [
        ("percentage: 90% availability passes", threshold("Percent", 90), Some(rs("a", 0, 9)), 10, true),
        ("pods: 9 of 10 passes", threshold("Pods", 9), Some(rs("a", 0, 9)), 10, true),
        ("percentage: under 90% fails", threshold("Percent", 90), Some(rs("a", 0, 8)), 10, false),
        ("pods: under 8 fails", threshold("Pods", 8), Some(rs("a", 0, 7)), 10, false),
        ("threshold under 0: 100% available passes", threshold("Pods", -100), Some(rs("a", 10, 10)), 10, true),
        ("threshold nil: spec differs from desired fails", None, Some(rs("a", 5, 10)), 10, false),
        ("ReplicaSet nil fails", threshold("Pods", 5), None, 10, false),
        ("percentages well above the threshold pass", threshold("Percent", 100), Some(rs("a", 0, 100)), 10, true),
        ("desired 0 always met (percentage)", threshold("Percent", 90), Some(rs("a", 0, 0)), 0, true),
        // Beyond Argo's table: 2 of 3 is 66.666...%, within 1e-10 of nothing, so 67 fails;
        // "Pod" (the spelling Argo's docs use) is read as a pod count like "Pods".
        ("2 of 3 is below 67%", threshold("Percent", 67), Some(rs("a", 0, 2)), 3, false),
        ("2 of 3 reaches 66%", threshold("Percent", 66), Some(rs("a", 0, 2)), 3, true),
        ("Pod spelling counts pods", threshold("Pod", 2), Some(rs("a", 0, 2)), 3, true),
    ];
    for (name, threshold, set, desired, want) in rows {
        assert_eq!(
            replica_progress_threshold_met(threshold.as_ref(), set.as_ref(), desired),
            want,
            "{name}"
        );
    }
}

/// Mirrors `TestAtDesiredReplicaCountsForCanary`: every subtest. The Rollouts there carry a
/// `setCanaryScale` without a traffic router, so it is ignored and the basic rule applies.
#[test]
fn at_desired_replica_counts_rows() {
    let set = |name: &str, spec: i32, available: i32, pods: i32| ReplicaSet {
        name: name.to_owned(),
        pod_template_hash: Some(String::new()),
        spec_replicas: spec,
        available_replicas: available,
        status_replicas: pods,
        ..Default::default()
    };
    let weights = |c: i32, s: i32| TrafficWeights {
        canary: c,
        stable: s,
    };
    let half = scs(Some(2), Some(2), false);
    #[rustfmt::skip]
    let rows = [
        ("we are at desired replica counts and availability", 50, Some(half.clone()), set("newRS", 2, 2, 2), set("stableRS", 2, 2, 2), weights(50, 50), true),
        ("new replicaset is not at desired counts or availability", 50, Some(half.clone()), set("newRS", 2, 1, 2), set("stableRS", 2, 2, 2), weights(50, 50), false),
        ("stable replicaset is not at desired counts or availability", 75, Some(scs(None, None, false)), set("newRS", 3, 3, 3), set("stableRS", 2, 2, 2), weights(75, 25), false),
        ("stable replicaset is not at desired availability but is at correct count", 75, Some(scs(None, None, false)), set("newRS", 3, 3, 1), set("stableRS", 1, 0, 1), weights(75, 25), true),
        ("test that when status field lags behind spec.replicas we fail", 50, Some(half), set("newRS", 2, 2, 2), set("stableRS", 2, 2, 3), weights(50, 50), false),
    ];
    for (name, weight, scale, new, stable, w, want) in rows {
        let s = strategy(weight, int(1), int(1), scale, false);
        let st = status("current", "stable");
        let r = CanaryRollout {
            replicas: 4,
            strategy: &s,
            status: &st,
        };
        assert_eq!(
            at_desired_replica_counts_for_canary(&r, Some(&new), Some(&stable), &[], Some(&w)),
            want,
            "{name}"
        );
    }
}

/// `AtDesiredReplicaCountsForCanary` beyond Argo's table: a basic canary waits for older
/// ReplicaSets to lose their available pods; a traffic-routed one does not; with
/// `dynamicStableScale` the stable's count is not checked.
#[test]
fn at_desired_replica_counts_older_and_dynamic() {
    let full = |name: &str, n: i32| ReplicaSet {
        status_replicas: n,
        ..rs(name, n, n)
    };
    let st = status("canary", "stable");
    let basic = strategy(100, int(1), int(0), None, false);
    let r = CanaryRollout {
        replicas: 2,
        strategy: &basic,
        status: &st,
    };
    let older_up = [rs("older", 0, 1)];
    assert!(!at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 2)),
        Some(&full("stable", 0)),
        &older_up,
        None
    ));
    assert!(at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 2)),
        Some(&full("stable", 0)),
        &[],
        None
    ));

    // Fully promoted (the new ReplicaSet is the stable one, so there is no stable one
    // apart from it): at desired once the new one has all the pods. This held a fully
    // promoted basic canary "unverified" and reconciled it every 10 s.
    let promoted = status("canary", "canary");
    let r = CanaryRollout {
        replicas: 2,
        strategy: &basic,
        status: &promoted,
    };
    assert!(at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 2)),
        None,
        &[],
        None
    ));

    let routed = strategy(50, int(1), int(0), None, true);
    let r = CanaryRollout {
        replicas: 2,
        strategy: &routed,
        status: &st,
    };
    assert!(at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 1)),
        Some(&full("stable", 2)),
        &older_up,
        None
    ));
    assert!(!at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 1)),
        Some(&full("stable", 1)),
        &[],
        None
    ));
    let mut dynamic = routed.clone();
    dynamic.dynamic_stable_scale = true;
    let r = CanaryRollout {
        replicas: 2,
        strategy: &dynamic,
        status: &st,
    };
    assert!(at_desired_replica_counts_for_canary(
        &r,
        Some(&full("canary", 1)),
        Some(&full("stable", 2)),
        &[],
        None
    ));
}

/// `CheckStableRSExists`, by name.
#[test]
fn check_stable_rs_exists_rows() {
    let (a, b, a_again) = (rs("a", 1, 1), rs("b", 1, 1), rs("a", 5, 0));
    assert!(!check_stable_rs_exists(Some(&a), None));
    assert!(!check_stable_rs_exists(None, None));
    assert!(check_stable_rs_exists(None, Some(&a)));
    assert!(check_stable_rs_exists(Some(&a), Some(&b)));
    assert!(!check_stable_rs_exists(Some(&a), Some(&a_again)));
}

/// Once fully promoted (the template's ReplicaSet is the stable one) the weight is all of
/// it: a basic canary puts every replica on the new ReplicaSet, a traffic-routed one keeps
/// the stable at all replicas (they are the same ReplicaSet; Argo then skips the stable).
#[test]
fn fully_promoted_rows() {
    let promoted = status("v2", "v2");
    let basic = strategy(10, int(1), int(0), None, false);
    let r = CanaryRollout {
        replicas: 4,
        strategy: &basic,
        status: &promoted,
    };
    assert_eq!(
        canary_replicas_or_weight(&r, None, None),
        CanaryScale::Weight(100)
    );
    let new = rs("v2", 2, 2);
    assert_eq!(
        basic_canary_replica_counts(&r, Some(&new), Some(&new), &[]),
        CanaryReplicaCounts {
            canary: 4,
            stable: 0
        }
    );
    let routed = strategy(10, int(1), int(0), None, true);
    let r = CanaryRollout {
        replicas: 4,
        strategy: &routed,
        status: &promoted,
    };
    assert_eq!(
        traffic_routed_canary_replica_counts(&r, Some(&new), Some(&new), None),
        CanaryReplicaCounts {
            canary: 4,
            stable: 4
        }
    );
    assert!(!check_stable_rs_exists(Some(&new), Some(&new)));
}

/// [`RolloutStatusView::of`] reads the status fields (and `spec.paused`) of a parsed Rollout;
/// a pause condition counts as paused.
#[test]
fn status_view_of_a_rollout() {
    let rollout: weir_config::argo::Rollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"strategy": {"blueGreen": {"activeService": "web"}}},
        "status": {
            "currentPodHash": "b",
            "stableRS": "a",
            "currentStepIndex": 2,
            "abort": true,
            "promoteFull": true,
            "pauseConditions": [{"reason": "BlueGreenPause", "startTime": "2027-01-15T08:00:00Z"}],
            "blueGreen": {"activeSelector": "a", "scaleUpPreviewCheckPoint": true}
        }
    }))
    .expect("rollout");
    let view = RolloutStatusView::of(&rollout);
    assert_eq!(
        view,
        RolloutStatusView {
            current_pod_hash: "b".into(),
            stable_rs: "a".into(),
            current_step_index: Some(2),
            abort: true,
            promote_full: true,
            paused: true,
            active_selector: "a".into(),
            scale_up_preview_check_point: true,
        }
    );
    assert!(!is_fully_promoted(&view));
    let bare: weir_config::argo::Rollout = serde_json::from_value(serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"paused": true, "strategy": {"canary": {}}}
    }))
    .expect("rollout");
    assert_eq!(
        RolloutStatusView::of(&bare),
        RolloutStatusView {
            paused: true,
            ..Default::default()
        }
    );
}
