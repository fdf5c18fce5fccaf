//! Canary sizing: how many pods the canary (new) and stable ReplicaSets get at the current
//! step, with and without a traffic router, and whether a step's counts are reached.
//!
//! Without a traffic router ("basic" canary) the replica ratio *is* the traffic split, so the
//! weight is approximated in whole pods and the move is paced by `maxSurge` and
//! `maxUnavailable` ([`basic_canary_replica_counts`]). With a router the weight is applied
//! by the router, so the canary gets enough pods to carry its weight and the stable keeps all
//! of its pods unless `dynamicStableScale` asks to shrink it as traffic leaves
//! ([`traffic_routed_canary_replica_counts`]).
//!
//! Mirrors Argo's `utils/replicaset/canary.go`.

use weir_config::argo::{CanaryStep, CanaryStrategy, ReplicaProgressThreshold, SetCanaryScale};

use super::intstr::{canary_max_surge, canary_max_unavailable};
use super::scaledown::StrategyRef;
use super::{saturate, total_available_replicas, ReplicaSet, RolloutStatusView, TrafficWeights};

/// `replicaProgressThreshold.type` for a percentage of the desired pods (Argo's
/// `ProgressTypePercentage`). Any other type is read as a pod count.
pub const PROGRESS_TYPE_PERCENT: &str = "Percent";

/// What the canary rules read from a Rollout.
#[derive(Clone, Copy, Debug)]
pub struct CanaryRollout<'a> {
    /// `spec.replicas`, defaulted ([`super::replicas_or_default`]).
    pub replicas: i32,
    pub strategy: &'a CanaryStrategy,
    pub status: &'a RolloutStatusView,
}

/// How many pods each of the canary and stable ReplicaSets should have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CanaryReplicaCounts {
    /// The new ReplicaSet (the one the Rollout's template asks for).
    pub canary: i32,
    /// The stable ReplicaSet.
    pub stable: i32,
}

/// How the current step sizes the canary: an explicit pod count (`setCanaryScale.replicas`)
/// or a weight out of [`max_traffic_weight`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanaryScale {
    Replicas(i32),
    Weight(i32),
}

/// `trafficRouting.maxTrafficWeight`, or 100 (Argo's `weightutil.MaxTrafficWeight`). Without
/// a traffic router it is always 100.
pub fn max_traffic_weight(strategy: &CanaryStrategy) -> i32 {
    crate::engine::steps::max_weight(strategy)
}

/// The step the Rollout is at and its index (Argo's `GetCurrentCanaryStep`): no step and no
/// index when there are no steps; no step but the index when the index is past the last step
/// (the steps are done). A negative index, which Argo would crash on, reads as no step.
pub fn current_canary_step<'a>(
    strategy: &'a CanaryStrategy,
    status: &RolloutStatusView,
) -> (Option<&'a CanaryStep>, Option<i32>) {
    if strategy.steps.is_empty() {
        return (None, None);
    }
    let index = status.current_step_index.unwrap_or(0);
    let step = usize::try_from(index)
        .ok()
        .and_then(|i| strategy.steps.get(i));
    (step, Some(index))
}

/// The steps from the current one back to the first, nearest first.
fn steps_back_from_current(
    strategy: &CanaryStrategy,
    index: i32,
) -> impl Iterator<Item = &CanaryStep> {
    let upto = usize::try_from(index).map_or(0, |i| i.saturating_add(1).min(strategy.steps.len()));
    strategy.steps[..upto].iter().rev()
}

/// The weight the steps currently ask for (Argo's `GetCurrentSetWeight`): 0 when aborted;
/// all of it ([`max_traffic_weight`]) when there are no steps or they are done; otherwise the
/// nearest `setWeight` at or before the current step, or 0 if none.
pub fn current_set_weight(rollout: &CanaryRollout) -> i32 {
    if rollout.status.abort {
        return 0;
    }
    let (step, index) = current_canary_step(rollout.strategy, rollout.status);
    let (Some(_), Some(index)) = (step, index) else {
        return max_traffic_weight(rollout.strategy);
    };
    steps_back_from_current(rollout.strategy, index)
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The `setCanaryScale` in force, if any (Argo's `UseSetCanaryScale`): the nearest one at or
/// before the current step, unless it says `matchTrafficWeight`. Only with a traffic router
/// (without one the replica ratio is the traffic split, so it cannot be overridden), and not
/// once aborted unless `abortScaleDownDelaySeconds: 0` asked to leave the canary up.
pub fn use_set_canary_scale<'a>(rollout: &CanaryRollout<'a>) -> Option<&'a SetCanaryScale> {
    rollout.strategy.traffic_routing.as_ref()?;
    if rollout.status.abort
        && StrategyRef::Canary(rollout.strategy)
            .abort_scale_down_delay()
            .seconds
            .is_some()
    {
        return None;
    }
    let (step, index) = current_canary_step(rollout.strategy, rollout.status);
    let (Some(_), Some(index)) = (step, index) else {
        return None;
    };
    let scale = steps_back_from_current(rollout.strategy, index)
        .find_map(|s| s.set_canary_scale.as_ref())?;
    if scale.match_traffic_weight {
        return None;
    }
    Some(scale)
}

/// The canary weight the replica counts follow (Argo's `GetDesiredCanaryWeight`).
///
/// Normally the current `setWeight` ([`current_set_weight`]). When an aborted Rollout uses
/// `dynamicStableScale` (and both ReplicaSets exist) the weight instead walks back down the
/// `setWeight` steps, so the stable grows back step by step rather than all at once: the
/// canary pods still needed are what the available stable pods cannot yet cover (or, without
/// an explicit `abortScaleDownDelaySeconds`, at least the canary pods still available), and
/// the weight is that of the last `setWeight` step, searching from the end of the steps,
/// whose pods are fewer than that, or 0. With an
/// explicit delay the canary is held at full size by the abort deadline instead, so its size
/// must not hold the weight up (otherwise the weight, the stable and the deadline wait on
/// each other forever).
pub fn desired_canary_weight(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
) -> i32 {
    let (true, true, Some(new), Some(stable)) = (
        rollout.status.abort,
        rollout.strategy.dynamic_stable_scale,
        new,
        stable,
    ) else {
        return current_set_weight(rollout);
    };
    let max_weight = max_traffic_weight(rollout.strategy);
    let replicas = i64::from(rollout.replicas);
    let expected_canary = replicas - i64::from(stable.available_replicas);
    let mut canary_needed = expected_canary.max(i64::from(new.available_replicas));
    if StrategyRef::Canary(rollout.strategy)
        .abort_scale_down_delay()
        .is_explicit_delay()
    {
        canary_needed = expected_canary;
    }
    rollout
        .strategy
        .steps
        .iter()
        .rev()
        .filter_map(|s| s.set_weight)
        .find(|w| {
            i64::from(traffic_weight_to_replicas(rollout.replicas, *w, max_weight)) < canary_needed
        })
        .unwrap_or(0)
}

/// What sizes the canary now (Argo's `GetCanaryReplicasOrWeight`): all of the weight when
/// promoting fully, before there is a stable ReplicaSet, or once the template's ReplicaSet is
/// the stable one; else an active `setCanaryScale` (its replicas, else its weight); else
/// [`desired_canary_weight`].
pub fn canary_replicas_or_weight(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
) -> CanaryScale {
    let status = rollout.status;
    if status.promote_full
        || status.stable_rs.is_empty()
        || status.current_pod_hash == status.stable_rs
    {
        return CanaryScale::Weight(max_traffic_weight(rollout.strategy));
    }
    if let Some(scale) = use_set_canary_scale(rollout) {
        if let Some(r) = scale.replicas {
            return CanaryScale::Replicas(r);
        }
        if let Some(w) = scale.weight {
            return CanaryScale::Weight(w);
        }
    }
    CanaryScale::Weight(desired_canary_weight(rollout, new, stable))
}

/// Pods needed to carry `weight` out of `max_weight` of `replicas`, rounded up (Argo's
/// `trafficWeightToReplicas`), so a canary with any weight gets at least one pod.
pub fn traffic_weight_to_replicas(replicas: i32, weight: i32, max_weight: i32) -> i32 {
    let pods = (f64::from(weight) * f64::from(replicas) / f64::from(max_weight)).ceil();
    // `as` saturates; NaN (max_weight 0 with weight 0) is 0.
    pods as i32
}

/// The canary and stable counts that best approximate `desired_weight` with whole pods
/// (Argo's `approximateWeightedCanaryStableReplicaCounts`).
///
/// The candidates are the canary count rounded up and rounded down, out of `spec_replicas`
/// total and, when surging is allowed, out of one more; the closest ratio wins, the earliest
/// candidate on a tie, so the result sums to `spec_replicas` or `spec_replicas + 1` and never
/// exceeds `spec_replicas` without surge. When the two roundings are equally far from the
/// weight the larger canary is taken. A weight strictly between 0 and all never yields 0
/// canary pods, except for a single replica with no surge (where the choice is all or
/// nothing).
pub fn approximate_weighted_canary_stable_replica_counts(
    spec_replicas: i32,
    desired_weight: i32,
    max_weight: i32,
    max_surge: i32,
) -> (i32, i32) {
    if spec_replicas == 0 {
        return (0, 0);
    }
    let spec = i64::from(spec_replicas);
    let weight = i64::from(desired_weight);
    let max = i64::from(max_weight);
    let exact = (spec * weight) as f64 / max as f64;
    let ceil = exact.ceil() as i64;
    let floor = exact.floor() as i64;
    let tied = floor_ceiling_tied(weight, max, spec);
    let zero_allowed = weight == max || weight == 0 || (spec == 1 && max_surge == 0);

    // (canary, total) candidates, in Argo's order.
    let mut options: Vec<(i64, i64)> = Vec::with_capacity(4);
    if ceil < spec || zero_allowed {
        options.push((ceil, spec));
    }
    if !tied && (floor != 0 || zero_allowed) {
        options.push((floor, spec));
    }
    if max_surge > 0 {
        options.push((ceil, spec + 1));
        if !floor_ceiling_tied(weight, max, spec + 1) && (floor != 0 || zero_allowed) {
            options.push((floor, spec + 1));
        }
    }
    let Some(&first) = options.first() else {
        // Argo notes this cannot happen.
        return (0, spec_replicas);
    };
    let mut best = first;
    let mut best_delta = weight_delta(weight, max, best.0, best.1);
    for &option in &options[1..] {
        let delta = weight_delta(weight, max, option.0, option.1);
        if delta < best_delta {
            best = option;
            best_delta = delta;
        }
    }
    (saturate(best.0), saturate(best.1 - best.0))
}

/// The rounded-down and rounded-up canary counts are equally far from the weight (Argo's
/// `floorCeilingTied`: the fractional part of `total × weight / max` is exactly one half, as
/// computed in `f64`).
fn floor_ceiling_tied(weight: i64, max: i64, total: i64) -> bool {
    let x = total as f64 * (weight as f64 / max as f64);
    x.fract() == 0.5
}

/// How far `canary` of `total` pods is from the weight, in weight units (Argo's `weightDelta`).
fn weight_delta(weight: i64, max: i64, canary: i64, total: i64) -> f64 {
    let actual = (canary * max) as f64 / total as f64;
    (actual - weight as f64).abs()
}

/// Pods of `rs` to count as scale-down headroom (Argo's `GetReplicasForScaleDown`): its
/// available pods, or its `spec.replicas` when `ignore_availability` (so a ReplicaSet full of
/// crash-looping pods can still be scaled down to make room) or when fewer than its
/// available pods (pods above spec are already going away and must not be counted on).
pub fn replicas_for_scale_down(rs: Option<&ReplicaSet>, ignore_availability: bool) -> i32 {
    let Some(rs) = rs else { return 0 };
    if rs.spec_replicas < rs.available_replicas || ignore_availability {
        return rs.spec_replicas;
    }
    rs.available_replicas
}

/// There is a stable ReplicaSet and it is not the new one (Argo's `CheckStableRSExists`,
/// which compares names).
pub fn check_stable_rs_exists(new: Option<&ReplicaSet>, stable: Option<&ReplicaSet>) -> bool {
    match (new, stable) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(new), Some(stable)) => new.name != stable.name,
    }
}

/// Canary and stable counts for a canary without a traffic router (Argo's
/// `CalculateReplicaCountsForBasicCanary`).
///
/// 1. Targets: the weight ([`canary_replicas_or_weight`]) as whole pods
///    ([`approximate_weighted_canary_stable_replica_counts`]); if there is no separate
///    stable ReplicaSet the target is all `replicas` on the new one.
/// 2. Scale up within `replicas + maxSurge` (over every ReplicaSet's `spec.replicas`),
///    stable first, then the canary, each at most to its target.
/// 3. If older ReplicaSets still have pods, stop: they go down before the canary or stable.
/// 4. Scale down within `replicas - maxUnavailable` available pods. When the canary is
///    growing, the stable's unavailable pods do not count against the budget (so crash-looping
///    stable pods cannot block the move) and the stable shrinks; when it is shrinking (a lower
///    weight, an abort) the same holds with the roles swapped. Then the other ReplicaSet is
///    trimmed back inside the surge limit without breaking the availability floor.
pub fn basic_canary_replica_counts(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
    older: &[ReplicaSet],
) -> CanaryReplicaCounts {
    let replicas = i64::from(rollout.replicas);
    let desired_weight = match canary_replicas_or_weight(rollout, new, stable) {
        CanaryScale::Weight(w) => w,
        CanaryScale::Replicas(_) => 0,
    };
    let max_surge = canary_max_surge(rollout.replicas, rollout.strategy);
    let max_weight = max_traffic_weight(rollout.strategy);
    let (canary_target, stable_target) = approximate_weighted_canary_stable_replica_counts(
        rollout.replicas,
        desired_weight,
        max_weight,
        max_surge,
    );
    let mut desired_new = i64::from(canary_target);
    let mut desired_stable = i64::from(stable_target);

    let spec = |rs: Option<&ReplicaSet>| rs.map_or(0, |rs| i64::from(rs.spec_replicas));
    let mut new_count = spec(new);
    let mut stable_count = 0;
    let scale_stable = check_stable_rs_exists(new, stable);
    if scale_stable {
        stable_count = spec(stable);
    } else {
        // No separate stable: no steps to follow, the new ReplicaSet goes to all replicas.
        desired_new = replicas;
        desired_stable = 0;
    }

    let max_allowed = replicas + i64::from(max_surge);
    let older_total: i64 = older.iter().map(|rs| i64::from(rs.spec_replicas)).sum();
    let mut total_current = older_total + spec(new);
    if scale_stable {
        total_current += spec(stable);
    }
    let mut scale_up = max_allowed - total_current;

    if let (true, Some(stable_rs)) = (scale_stable, stable) {
        let current = i64::from(stable_rs.spec_replicas);
        if current < desired_stable && scale_up > 0 {
            if current + scale_up < desired_stable {
                stable_count = current + scale_up;
                scale_up = 0;
            } else {
                stable_count = desired_stable;
                scale_up -= desired_stable - current;
            }
        }
    }
    if let Some(new_rs) = new {
        let current = i64::from(new_rs.spec_replicas);
        if current < desired_new && scale_up > 0 {
            new_count = if current + scale_up < desired_new {
                current + scale_up
            } else {
                desired_new
            };
        }
    }

    let counts = |canary: i64, stable: i64| CanaryReplicaCounts {
        canary: saturate(canary),
        stable: saturate(stable),
    };
    if older_total > 0 {
        return counts(new_count, stable_count);
    }

    let min_available =
        replicas - i64::from(canary_max_unavailable(rollout.replicas, rollout.strategy));
    let increasing = new.is_none_or(|rs| desired_new >= i64::from(rs.spec_replicas));
    // Argo passes the stable ReplicaSet here even when it is the new one.
    let to_scale_down = i64::from(replicas_for_scale_down(new, !increasing))
        + i64::from(replicas_for_scale_down(stable, increasing));
    if to_scale_down <= min_available {
        return counts(new_count, stable_count);
    }
    let scale_down = to_scale_down - min_available;
    let limits = Limits {
        max_allowed,
        min_available,
    };
    if !increasing {
        new_count = scale_down_towards(new, desired_new, scale_down, new_count);
        (new_count, stable_count) = limits.adjust(new, stable, new_count, stable_count);
    } else if scale_stable {
        stable_count = scale_down_towards(stable, desired_stable, scale_down, stable_count);
        (stable_count, new_count) = limits.adjust(stable, new, stable_count, new_count);
    }
    counts(new_count, stable_count)
}

/// The ReplicaSet being drained moves towards its target by at most `scale_down` pods (Argo's
/// `calculateScaleDownReplicaCount`); untouched if it is at or below its target.
fn scale_down_towards(
    drain: Option<&ReplicaSet>,
    desired: i64,
    scale_down: i64,
    current: i64,
) -> i64 {
    match drain {
        Some(rs) if i64::from(rs.spec_replicas) > desired => {
            desired.max(i64::from(rs.spec_replicas) - scale_down)
        }
        _ => current,
    }
}

/// The surge ceiling and availability floor of one basic-canary calculation.
struct Limits {
    max_allowed: i64,
    min_available: i64,
}

impl Limits {
    /// Bring the pair back inside `maxSurge` after one was drained (Argo's
    /// `adjustReplicaWithinLimits`): trim the other ReplicaSet (`adjust`) by whatever exceeds
    /// the ceiling, give back as many of the available pods that trim removed as the
    /// availability floor needs, and take any excess that remains off the drained one.
    fn adjust(
        &self,
        drain: Option<&ReplicaSet>,
        adjust: Option<&ReplicaSet>,
        mut drain_count: i64,
        mut adjust_count: i64,
    ) -> (i64, i64) {
        let mut over = (adjust_count + drain_count - self.max_allowed).max(0);
        let mut available = 0;
        if let Some(drain) = drain {
            available += i64::from(drain.available_replicas).min(drain_count);
        }
        if let Some(adjust) = adjust {
            let adjust_available = i64::from(adjust.available_replicas);
            adjust_count -= over;
            available += adjust_available.min(adjust_count);
            let lost = (adjust_available - adjust_count).max(0);
            let still_needed = (self.min_available - available).max(0);
            adjust_count += lost.min(still_needed);
            over = (adjust_count + drain_count - self.max_allowed).max(0);
            drain_count -= over;
        }
        (drain_count, adjust_count)
    }
}

/// At least `minPodsPerReplicaSet` pods for a ReplicaSet that gets any (Argo's
/// `CheckMinPodsPerReplicaSet`), for high availability; only with a traffic router. The
/// minimum is capped at the Rollout's replicas so it cannot ask for more than exist.
pub fn check_min_pods_per_replica_set(rollout: &CanaryRollout, count: i32) -> i32 {
    if count == 0 {
        return 0;
    }
    let (Some(min_pods), Some(_)) = (
        rollout.strategy.min_pods_per_replica_set,
        rollout.strategy.traffic_routing.as_ref(),
    ) else {
        return count;
    };
    count.max(min_pods.min(rollout.replicas))
}

/// Canary and stable counts for a canary with a traffic router (Argo's
/// `CalculateReplicaCountsForTrafficRoutedCanary`).
///
/// The canary gets an explicit `setCanaryScale.replicas`, or enough pods for its weight (at
/// least `minPodsPerReplicaSet`). The stable stays at all `replicas`, unless
/// `dynamicStableScale`: then it gets enough pods for the larger of the stable weight the
/// step asks for and the stable weight the router still sends it (`weights`, when known), so
/// it never shrinks below what it is serving and grows ahead of traffic coming back. When
/// aborted with `dynamicStableScale`, the canary likewise keeps enough pods for the weight
/// the router still sends it.
///
/// Argo sizes the stable from the weights of the *previous* reconcile and the canary from the
/// weights just applied; the caller passes whichever applies.
pub fn traffic_routed_canary_replica_counts(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
    weights: Option<&TrafficWeights>,
) -> CanaryReplicaCounts {
    let replicas = rollout.replicas;
    let max_weight = max_traffic_weight(rollout.strategy);
    let scale = canary_replicas_or_weight(rollout, new, stable);
    let (mut canary, desired_weight) = match scale {
        CanaryScale::Replicas(r) => (r, 0),
        CanaryScale::Weight(w) => (
            check_min_pods_per_replica_set(
                rollout,
                traffic_weight_to_replicas(replicas, w, max_weight),
            ),
            w,
        ),
    };
    if !rollout.strategy.dynamic_stable_scale {
        return CanaryReplicaCounts {
            canary,
            stable: replicas,
        };
    }
    let stable_weight = saturate(i64::from(max_weight) - i64::from(desired_weight));
    let mut stable_count = traffic_weight_to_replicas(replicas, stable_weight, max_weight);
    if let Some(weights) = weights {
        stable_count = stable_count.max(traffic_weight_to_replicas(
            replicas,
            weights.stable,
            max_weight,
        ));
        if rollout.status.abort {
            canary = canary.max(traffic_weight_to_replicas(
                replicas,
                weights.canary,
                max_weight,
            ));
        }
    }
    CanaryReplicaCounts {
        canary: check_min_pods_per_replica_set(rollout, canary),
        stable: check_min_pods_per_replica_set(rollout, stable_count),
    }
}

/// The canary and stable counts for the Rollout's kind of canary: basic without a traffic
/// router, traffic-routed with one (the dispatch in Argo's `NewRSNewReplicas`,
/// `reconcileCanaryStableReplicaSet` and `AtDesiredReplicaCountsForCanary`). `older` is only
/// read by the basic calculation and `weights` only by the traffic-routed one.
pub fn canary_replica_counts(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
    older: &[ReplicaSet],
    weights: Option<&TrafficWeights>,
) -> CanaryReplicaCounts {
    if rollout.strategy.traffic_routing.is_none() {
        basic_canary_replica_counts(rollout, new, stable, older)
    } else {
        traffic_routed_canary_replica_counts(rollout, new, stable, weights)
    }
}

/// `rs` is asked for exactly `desired` pods and has that many available (Argo's
/// `allDesiredAreAvailable`).
pub fn all_desired_are_available(rs: Option<&ReplicaSet>, desired: i32) -> bool {
    rs.is_some_and(|rs| rs.spec_replicas == desired && rs.available_replicas == desired)
}

/// `rs` is asked for exactly `desired` pods and has that many pods, ready or not (Argo's
/// `allDesiredAreCreated`).
pub fn all_desired_are_created(rs: Option<&ReplicaSet>, desired: i32) -> bool {
    rs.is_some_and(|rs| rs.spec_replicas == desired && rs.status_replicas == desired)
}

/// Enough of the canary is available to move on (Argo's `ReplicaProgressThresholdMet`).
/// Without a usable threshold (unset, negative) or without a ReplicaSet: all desired pods
/// available. With `type: Percent`: available pods as a percentage of `desired` reach the
/// value (always, when nothing is desired; within 1e-10 to absorb floating-point error).
/// With any other type: available pods reach the value.
pub fn replica_progress_threshold_met(
    threshold: Option<&ReplicaProgressThreshold>,
    rs: Option<&ReplicaSet>,
    desired: i32,
) -> bool {
    let (Some(threshold), Some(rs)) = (threshold, rs) else {
        return all_desired_are_available(rs, desired);
    };
    if threshold.value < 0 {
        return all_desired_are_available(Some(rs), desired);
    }
    if threshold.type_ == PROGRESS_TYPE_PERCENT {
        if desired == 0 {
            return true;
        }
        let percent = f64::from(rs.available_replicas) / f64::from(desired) * 100.0;
        let value = f64::from(threshold.value);
        return percent >= value || (percent - value).abs() <= 1e-10;
    }
    rs.available_replicas >= threshold.value
}

/// The current step's counts are reached (Argo's `AtDesiredReplicaCountsForCanary`): the
/// canary meets its progress threshold; the stable has exactly its count created (skipped
/// with a traffic router and `dynamicStableScale`, where the stable trails the traffic); and
/// without a traffic router no older ReplicaSet has available pods, since those would still
/// take traffic.
pub fn at_desired_replica_counts_for_canary(
    rollout: &CanaryRollout,
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
    older: &[ReplicaSet],
    weights: Option<&TrafficWeights>,
) -> bool {
    let counts = canary_replica_counts(rollout, new, stable, older, weights);
    let basic = rollout.strategy.traffic_routing.is_none();
    if !replica_progress_threshold_met(
        rollout.strategy.replica_progress_threshold.as_ref(),
        new,
        counts.canary,
    ) {
        return false;
    }
    // No stable ReplicaSet apart from the new one (the first version, or fully promoted):
    // Argo counts its replicas as 0 (`GetReplicaCountForReplicaSets` of nil).
    let stable_at_desired = match stable {
        Some(_) => all_desired_are_created(stable, counts.stable),
        None => counts.stable == 0,
    };
    if (basic || !rollout.strategy.dynamic_stable_scale) && !stable_at_desired {
        return false;
    }
    if basic && total_available_replicas(older) != 0 {
        return false;
    }
    true
}

/// The ReplicaSets that are neither the new nor the stable one, by name (Argo's
/// `GetOtherRSs`).
pub fn other_replica_sets<'a>(
    new: Option<&ReplicaSet>,
    stable: Option<&ReplicaSet>,
    all: &'a [ReplicaSet],
) -> Vec<&'a ReplicaSet> {
    all.iter()
        .filter(|rs| stable.is_none_or(|s| s.name != rs.name))
        .filter(|rs| new.is_none_or(|n| n.name != rs.name))
        .collect()
}

/// The stable ReplicaSet (Argo's `GetStableRS`): none before `status.stableRS` is set; the
/// new ReplicaSet if its hash label is the stable one; else the first in `all` whose hash
/// label is.
pub fn stable_replica_set<'a>(
    status: &RolloutStatusView,
    new: Option<&'a ReplicaSet>,
    all: &'a [ReplicaSet],
) -> Option<&'a ReplicaSet> {
    if status.stable_rs.is_empty() {
        return None;
    }
    if let Some(new) =
        new.filter(|rs| rs.pod_template_hash.as_deref() == Some(status.stable_rs.as_str()))
    {
        return Some(new);
    }
    all.iter()
        .find(|rs| rs.pod_template_hash.as_deref() == Some(status.stable_rs.as_str()))
}
