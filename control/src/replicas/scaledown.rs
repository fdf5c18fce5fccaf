//! Scaling ReplicaSets down: the older ones (neither new nor stable), the order and pace Argo
//! takes them in, the `scale-down-deadline` annotation that keeps a just-replaced ReplicaSet
//! up for a while (as time arithmetic over plain instants), and the hold on an aborted new
//! ReplicaSet.
//!
//! Mirrors the sizing decisions in Argo's `rollout/replicaset.go` (`reconcileNewReplicaSet`,
//! `shouldDelayScaleDownOnAbort`, `reconcileOtherReplicaSets`, `cleanupUnhealthyReplicas`,
//! `scaleDownDelayHelper`, `removeScaleDownDeadlines`), `rollout/canary.go`
//! (`scaleDownOldReplicaSetsForCanary`), `rollout/bluegreen.go`
//! (`scaleDownOldReplicaSetsForBlueGreen`, `GetScaleDownRevisionLimit`), the delay getters
//! of `utils/defaults` and the deadline and ordering helpers of `utils/replicaset`. What
//! those functions do through the API (patching, events, requeueing) comes back as values:
//! [`OlderReplicaSetAction`]s in Argo's order and a requeue hint.

use std::cmp::Ordering;
use std::time::Duration;

use weir_config::argo::{BlueGreenStrategy, CanaryStrategy};

use super::canary::CanaryRollout;
use super::intstr::canary_max_unavailable;
use super::{is_fully_promoted, saturate, total_spec_replicas, ReplicaSet};
use crate::analysis::Timestamp;
use crate::engine::clock::format_time;

/// `scaleDownDelaySeconds` when unset (Argo's `DefaultScaleDownDelaySeconds`).
pub const DEFAULT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// `abortScaleDownDelaySeconds` when unset (Argo's `DefaultAbortScaleDownDelaySeconds`).
pub const DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS: i32 = 30;

/// Argo's default `--rollout-resync` period (15 minutes). A wait shorter than the resync
/// period is requeued; a longer one is left to the resync, and in one rule (the abort hold)
/// changes the outcome, so the period is an input of these rules.
pub const DEFAULT_RESYNC_PERIOD: Duration = Duration::from_secs(15 * 60);

/// The Rollout's strategy, for the rules that read either one (Argo's rollout-level getters
/// check blue-green first, then canary).
#[derive(Clone, Copy, Debug)]
pub enum StrategyRef<'a> {
    Canary(&'a CanaryStrategy),
    BlueGreen(&'a BlueGreenStrategy),
}

/// How long an aborted Rollout keeps its new ReplicaSet up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortScaleDownDelay {
    /// Seconds before scaling it down; `None` means never (`abortScaleDownDelaySeconds: 0`).
    pub seconds: Option<i32>,
    /// The user set `abortScaleDownDelaySeconds` (rather than taking the default).
    pub explicit: bool,
}

impl AbortScaleDownDelay {
    /// The user asked for a delayed scale-down (Argo's `HasExplicitAbortScaleDownDelay`): an
    /// explicit non-zero value. An explicit 0 is not a delay but "never".
    pub fn is_explicit_delay(&self) -> bool {
        self.explicit && self.seconds.is_some()
    }
}

impl StrategyRef<'_> {
    /// Seconds an older ReplicaSet stays up after it stops being stable or active (Argo's
    /// `GetScaleDownDelaySecondsOrDefault`): `scaleDownDelaySeconds` or 30 for blue-green and
    /// for a traffic-routed canary; 0 for a basic canary, whose replica ratio is its traffic
    /// split, so nothing may linger. The value is signed as in Argo: a negative delay gives a
    /// deadline already past.
    pub fn scale_down_delay_seconds(&self) -> i32 {
        match self {
            StrategyRef::BlueGreen(b) => b
                .scale_down_delay_seconds
                .unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS),
            StrategyRef::Canary(c) if c.traffic_routing.is_some() => c
                .scale_down_delay_seconds
                .unwrap_or(DEFAULT_SCALE_DOWN_DELAY_SECONDS),
            StrategyRef::Canary(_) => 0,
        }
    }

    /// How many older ReplicaSets may wait out a scale-down deadline at once; the rest are
    /// scaled down now (Argo's `GetScaleDownRevisionLimit`; unlimited when unset).
    pub fn scale_down_revision_limit(&self) -> i32 {
        let limit = match self {
            StrategyRef::BlueGreen(b) => b.scale_down_delay_revision_limit,
            StrategyRef::Canary(c) => c.scale_down_delay_revision_limit,
        };
        limit.unwrap_or(i32::MAX)
    }

    /// How long an aborted update keeps the new ReplicaSet (Argo's
    /// `GetAbortScaleDownDelaySecondsOrDefault`): for blue-green and a traffic-routed canary,
    /// `abortScaleDownDelaySeconds` (0 meaning never) or 30; for a basic canary 0 and not
    /// explicit, since it rolls back by replica ratio instead.
    pub fn abort_scale_down_delay(&self) -> AbortScaleDownDelay {
        let configured = match self {
            StrategyRef::BlueGreen(b) => b.abort_scale_down_delay_seconds,
            StrategyRef::Canary(c) if c.traffic_routing.is_some() => {
                c.abort_scale_down_delay_seconds
            }
            StrategyRef::Canary(_) => {
                return AbortScaleDownDelay {
                    seconds: Some(0),
                    explicit: false,
                }
            }
        };
        match configured {
            None => AbortScaleDownDelay {
                seconds: Some(DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS),
                explicit: false,
            },
            Some(0) => AbortScaleDownDelay {
                seconds: None,
                explicit: true,
            },
            Some(n) => AbortScaleDownDelay {
                seconds: Some(n),
                explicit: true,
            },
        }
    }

    fn is_basic_canary(&self) -> bool {
        matches!(self, StrategyRef::Canary(c) if c.traffic_routing.is_none())
    }

    fn dynamic_stable_scale(&self) -> bool {
        matches!(self, StrategyRef::Canary(c) if c.dynamic_stable_scale)
    }
}

/// The aborted update's new ReplicaSet is to be held up for `abortScaleDownDelaySeconds`
/// rather than sized by the usual rules (Argo's `shouldDelayScaleDownOnAbort`): only when
/// aborted, with a stable ReplicaSet to fall back on, not for a basic canary, not when the
/// delay is "never" (then it is simply left alone), and, with `dynamicStableScale`, only if
/// the delay was set explicitly (otherwise the canary drains as traffic leaves).
pub fn should_delay_scale_down_on_abort(
    strategy: StrategyRef,
    aborted: bool,
    stable_exists: bool,
) -> bool {
    if !aborted || !stable_exists || strategy.is_basic_canary() {
        return false;
    }
    let delay = strategy.abort_scale_down_delay();
    if delay.seconds.is_none() {
        return false;
    }
    !strategy.dynamic_stable_scale() || delay.is_explicit_delay()
}

/// `rs` carries a non-empty `scale-down-deadline` (Argo's `HasScaleDownDeadline`).
pub fn has_scale_down_deadline(rs: &ReplicaSet) -> bool {
    rs.scale_down_deadline
        .as_deref()
        .is_some_and(|d| !d.is_empty())
}

/// The annotation does not hold an RFC 3339 time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableDeadline(pub String);

/// Time left before `rs`'s scale-down deadline (Argo's `GetTimeRemainingBeforeScaleDownDeadline`):
/// `None` when it has no deadline or the deadline has passed; an error when the annotation
/// does not parse.
pub fn time_remaining_before_scale_down_deadline(
    rs: &ReplicaSet,
    now: Timestamp,
) -> Result<Option<Duration>, UnreadableDeadline> {
    if !has_scale_down_deadline(rs) {
        return Ok(None);
    }
    let text = rs.scale_down_deadline.as_deref().unwrap_or_default();
    let at = parse_deadline(text).ok_or_else(|| UnreadableDeadline(text.to_owned()))?;
    Ok((at > now).then(|| at.saturating_duration_since(now)))
}

/// The deadline `delay_seconds` after `now` as Argo writes it: whole seconds (RFC 3339
/// formatting drops the fraction), UTC. A negative delay gives an instant in the past.
pub fn scale_down_deadline(now: Timestamp, delay_seconds: i32) -> Timestamp {
    let millis = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
    let at = millis
        .saturating_add(i64::from(delay_seconds) * 1000)
        .max(0);
    let whole_seconds = at - at % 1000;
    Timestamp::from_millis(u64::try_from(whole_seconds).unwrap_or(0))
}

/// The annotation text for a deadline (`2026-11-26T12:00:30Z`).
pub fn format_deadline(at: Timestamp) -> String {
    format_time(at)
}

/// Reads a deadline the way Go's `time.Parse(time.RFC3339, …)` does: `YYYY-MM-DDTHH:MM:SS`,
/// an optional fraction (after `.`, or `,` as Go also takes), then `Z` or `±HH:MM`, with
/// calendar-checked fields. The fraction is kept to the millisecond. An instant before 1970
/// reads as 1970 (it has passed either way). `None` when it does not parse.
pub fn parse_deadline(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let digits = b.get(from..to)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':') {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if rest.len() >= 2 && (rest[0] == b'.' || rest[0] == b',') && rest[1].is_ascii_digit() {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        for (i, d) in rest[1..=digits].iter().take(3).enumerate() {
            millis += i64::from(d - b'0') * [100, 10, 1][i];
        }
        rest = &rest[1 + digits..];
    }
    let offset_seconds = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = (h * 60 + m) * 60;
            if *sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    let at = seconds * 1000 + millis;
    Some(Timestamp::from_millis(u64::try_from(at).unwrap_or(0)))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Argo's revision number of a ReplicaSet for ordering: the annotation read as Go's
/// `strconv.Atoi`; `None` when missing or not a number.
fn revision_number(rs: &ReplicaSet) -> Option<i64> {
    rs.revision.as_deref()?.parse().ok()
}

/// Orders ReplicaSets as Argo's `sort.Sort(ReplicaSetsByRevisionNumber(…))` does: those whose
/// revision does not parse first (oldest first), then by revision ascending, equal revisions
/// oldest first.
///
/// Argo's comparison is not a consistent order when a revision is unreadable (it answers by
/// list position); for lists of up to 12, where Go sorts by insertion, this is the order it
/// produces, and Argo's controller never has more older ReplicaSets than its revision history
/// limit (10 by default) plus the new and stable ones.
pub fn sort_by_revision(sets: &mut [&ReplicaSet]) {
    sets.sort_by(|a, b| revision_order(a, b, false));
}

/// The reverse, as Argo's `sort.Sort(sort.Reverse(ReplicaSetsByRevisionNumber(…)))` leaves it:
/// unreadable revisions still first (newest first), then the newest revision first, equal
/// revisions newest first. This is the order older ReplicaSets are scaled down in.
pub fn sort_by_revision_newest_first(sets: &mut [&ReplicaSet]) {
    sets.sort_by(|a, b| revision_order(a, b, true));
}

fn revision_order(a: &ReplicaSet, b: &ReplicaSet, newest_first: bool) -> Ordering {
    let by_age = |a: &ReplicaSet, b: &ReplicaSet| {
        let o = a.created_at.cmp(&b.created_at);
        if newest_first {
            o.reverse()
        } else {
            o
        }
    };
    match (revision_number(a), revision_number(b)) {
        (None, None) => by_age(a, b),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => {
            let o = if newest_first { y.cmp(&x) } else { x.cmp(&y) };
            o.then_with(|| by_age(a, b))
        }
    }
}

/// One change to an older ReplicaSet, in the order Argo makes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OlderReplicaSetAction {
    /// Set `spec.replicas` (Argo's `scaleReplicaSetAndRecordEvent`, which also writes the
    /// desired-replicas annotation and, when scaling to 0 outside an abort hold, drops the
    /// `scale-down-deadline` annotation).
    Scale { name: String, replicas: i32 },
    /// Write the `scale-down-deadline` annotation ([`format_deadline`] gives its text).
    SetScaleDownDeadline { name: String, at: Timestamp },
}

/// What to do to the older ReplicaSets this reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OlderReplicaSetPlan {
    pub actions: Vec<OlderReplicaSetAction>,
    /// Pods taken away, as Argo's canary rule counts them to decide whether this reconcile
    /// scaled anything. Argo reports 0 whenever it stops early (an unhealthy-pod cleanup
    /// error, no availability budget, unverified target groups), even after cleanups.
    pub scaled_down: i32,
    /// Reconcile again after this long: the shortest wait for a deadline Argo requeues for.
    pub requeue_after: Option<Duration>,
}

impl OlderReplicaSetPlan {
    fn requeue(&mut self, after: Duration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |d| d.min(after)));
    }

    /// Any `Scale` action (Argo's blue-green `hasScaled`).
    pub fn scaled(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, OlderReplicaSetAction::Scale { .. }))
    }
}

/// The inputs shared by both older-ReplicaSet rules.
#[derive(Clone, Copy)]
pub struct ScaleDownContext<'a> {
    /// The instant to measure deadlines against.
    pub now: Timestamp,
    /// The controller's resync period ([`DEFAULT_RESYNC_PERIOD`] for Argo's default).
    pub resync_period: Duration,
    /// Whether a ReplicaSet is still referenced and must not be scaled down (Argo's
    /// `isReplicaSetReferenced`): its hash is `status.stableRS`, `status.currentPodHash`, a
    /// blue-green selector or a hash in `status.canary.weights`, or a Service or Istio
    /// DestinationRule subset still selects it (or could not be read). The adapter answers
    /// this from its caches.
    pub is_referenced: &'a dyn Fn(&ReplicaSet) -> bool,
}

/// Argo's `scaleDownDelayHelper`: keep an older ReplicaSet up until its deadline, within
/// the revision limit. Returns the size it should have now.
fn scale_down_delay(
    plan: &mut OlderReplicaSetPlan,
    rs: &ReplicaSet,
    annotated: &mut i32,
    keep_at: i32,
    strategy: StrategyRef,
    ctx: &ScaleDownContext,
) -> i32 {
    let limit = strategy.scale_down_revision_limit();
    if !has_scale_down_deadline(rs) && rs.spec_replicas > 0 {
        // Up but not yet given a deadline: give it one, unless over the revision limit.
        if *annotated >= limit {
            return 0;
        }
        *annotated += 1;
        let delay = strategy.scale_down_delay_seconds();
        // A delay of 0 writes no deadline (Argo would only remove an existing one, and `rs`
        // has none), so the ReplicaSet stays up until the revision limit takes it.
        if delay != 0 {
            plan.actions
                .push(OlderReplicaSetAction::SetScaleDownDeadline {
                    name: rs.name.clone(),
                    at: scale_down_deadline(ctx.now, delay),
                });
        }
        plan.requeue(Duration::from_secs(u64::try_from(delay).unwrap_or(0)));
        return rs.spec_replicas;
    }
    if has_scale_down_deadline(rs) {
        *annotated = annotated.saturating_add(1);
        if *annotated > limit {
            return 0;
        }
        return match time_remaining_before_scale_down_deadline(rs, ctx.now) {
            Ok(Some(remaining)) => {
                if remaining < ctx.resync_period {
                    plan.requeue(remaining);
                }
                keep_at
            }
            // Passed, or unreadable (Argo logs a warning): scale down now.
            Ok(None) | Err(_) => 0,
        };
    }
    0
}

/// What the canary older-ReplicaSet rule reads besides the ReplicaSets.
#[derive(Clone, Copy, Debug)]
pub struct CanaryScaleDown<'a> {
    pub rollout: CanaryRollout<'a>,
    /// Available pods over *every* ReplicaSet of the Rollout, new and stable included
    /// (Argo's `GetAvailableReplicaCountForReplicaSets(allRSs)`).
    pub all_available: i32,
    /// Argo's `canProceedWithScaleDownAnnotation`: true unless the traffic router is ALB,
    /// some older ReplicaSet with pods has no deadline yet, and the stable target group's
    /// endpoints could not be verified (an AWS call, so the adapter's). When false only the
    /// unhealthy-pod cleanup happens.
    pub target_groups_verified: bool,
}

/// The older ReplicaSets of a canary Rollout, scaled down (Argo's `reconcileOtherReplicaSets`
/// with `scaleDownOldReplicaSetsForCanary`). `older` are the ReplicaSets that are neither new
/// nor stable.
///
/// 1. Only ReplicaSets with pods count; with none, nothing to do.
/// 2. Oldest first, a ReplicaSet with unavailable pods is cut to its available pods (they add
///    nothing to availability). One with more available than asked-for pods stops the whole
///    pass (Argo treats it as an error and retries next reconcile).
/// 3. The pass may take away `all_available - (replicas - maxUnavailable)` available pods.
/// 4. Newest revision first: without a traffic router each ReplicaSet goes down as far as
///    that budget allows (its pods take traffic). With one, a ReplicaSet still referenced is
///    skipped; once fully promoted, or if it already has a deadline, it waits out its
///    `scale-down-deadline` (or with `dynamicStableScale` goes to 0 at once); otherwise it is
///    an abandoned intermediate version and goes to 0.
pub fn plan_canary_older_replica_sets(
    input: &CanaryScaleDown,
    older: &[ReplicaSet],
    ctx: &ScaleDownContext,
) -> OlderReplicaSetPlan {
    let rollout = &input.rollout;
    let mut plan = OlderReplicaSetPlan::default();
    let mut active: Vec<ReplicaSet> = older
        .iter()
        .filter(|rs| rs.spec_replicas > 0)
        .cloned()
        .collect();
    if total_spec_replicas(&active) == 0 {
        return plan;
    }

    // Unhealthy pods first, oldest ReplicaSet first (by creation, then name).
    active.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut total: i64 = 0;
    for rs in active.iter_mut() {
        if rs.spec_replicas == 0 || rs.spec_replicas == rs.available_replicas {
            continue;
        }
        if rs.available_replicas > rs.spec_replicas {
            // Argo gives up on the pass and reports nothing scaled.
            return plan;
        }
        total += i64::from(rs.spec_replicas - rs.available_replicas);
        rs.spec_replicas = rs.available_replicas;
        plan.actions.push(OlderReplicaSetAction::Scale {
            name: rs.name.clone(),
            replicas: rs.spec_replicas,
        });
    }

    let min_available = i64::from(rollout.replicas)
        - i64::from(canary_max_unavailable(rollout.replicas, rollout.strategy));
    let mut max_scale_down = i64::from(input.all_available) - min_available;
    if max_scale_down <= 0 || !input.target_groups_verified {
        // Argo reports 0 here even when the cleanup scaled something.
        return plan;
    }

    let mut ordered: Vec<&ReplicaSet> = active.iter().collect();
    sort_by_revision_newest_first(&mut ordered);
    let routed = rollout.strategy.traffic_routing.is_some();
    let strategy = StrategyRef::Canary(rollout.strategy);
    let mut annotated = 0;
    for rs in ordered {
        if routed && (ctx.is_referenced)(rs) {
            continue;
        }
        if max_scale_down <= 0 {
            break;
        }
        if rs.spec_replicas == 0 {
            continue;
        }
        let spec = i64::from(rs.spec_replicas);
        let mut desired: i64 = 0;
        if !routed {
            if spec > max_scale_down {
                desired = spec - max_scale_down;
            }
        } else if (is_fully_promoted(rollout.status) || has_scale_down_deadline(rs))
            && !rollout.strategy.dynamic_stable_scale
        {
            desired = i64::from(scale_down_delay(
                &mut plan,
                rs,
                &mut annotated,
                rs.spec_replicas,
                strategy,
                ctx,
            ));
        }
        if spec == desired {
            continue;
        }
        plan.actions.push(OlderReplicaSetAction::Scale {
            name: rs.name.clone(),
            replicas: saturate(desired),
        });
        max_scale_down -= spec - desired;
        total += spec - desired;
    }
    plan.scaled_down = saturate(total);
    plan
}

/// What the blue-green older-ReplicaSet rule reads from the Rollout.
#[derive(Clone, Copy, Debug)]
pub struct BlueGreenScaleDown<'a> {
    /// `spec.replicas`, defaulted.
    pub replicas: i32,
    pub strategy: &'a BlueGreenStrategy,
    /// The Rollout is paused on an inconclusive AnalysisRun (an `InconclusiveAnalysis`
    /// pause condition).
    pub paused_on_inconclusive_analysis: bool,
    /// The post-promotion AnalysisRun applies to this update and has not yet succeeded
    /// (missing or in any other phase). Only consulted when `postPromotionAnalysis` is set
    /// and `scaleDownDelaySeconds` is not.
    pub post_promotion_analysis_pending: bool,
}

/// The older ReplicaSets of a blue-green Rollout, scaled down (Argo's
/// `reconcileOtherReplicaSets` with `scaleDownOldReplicaSetsForBlueGreen`).
///
/// Nothing moves while paused on an inconclusive analysis, or while a post-promotion
/// analysis without a `scaleDownDelaySeconds` is still running. Otherwise, newest revision
/// first, every ReplicaSet with pods that is not referenced waits out its
/// `scale-down-deadline` (held at `replicas`, the Rollout's current size) within
/// `scaleDownDelayRevisionLimit`, and goes to 0 after.
pub fn plan_blue_green_older_replica_sets(
    rollout: &BlueGreenScaleDown,
    older: &[ReplicaSet],
    ctx: &ScaleDownContext,
) -> OlderReplicaSetPlan {
    let mut plan = OlderReplicaSetPlan::default();
    let mut active: Vec<&ReplicaSet> = older.iter().filter(|rs| rs.spec_replicas > 0).collect();
    if total_spec_replicas(active.iter().copied()) == 0 {
        return plan;
    }
    if rollout.paused_on_inconclusive_analysis {
        return plan;
    }
    if rollout.strategy.post_promotion_analysis.is_some()
        && rollout.strategy.scale_down_delay_seconds.is_none()
        && rollout.post_promotion_analysis_pending
    {
        return plan;
    }
    sort_by_revision_newest_first(&mut active);
    let strategy = StrategyRef::BlueGreen(rollout.strategy);
    let mut annotated = 0;
    for rs in active {
        if (ctx.is_referenced)(rs) || rs.spec_replicas == 0 {
            continue;
        }
        let desired = scale_down_delay(
            &mut plan,
            rs,
            &mut annotated,
            rollout.replicas,
            strategy,
            ctx,
        );
        if rs.spec_replicas == desired {
            continue;
        }
        plan.actions.push(OlderReplicaSetAction::Scale {
            name: rs.name.clone(),
            replicas: desired,
        });
    }
    plan
}

/// What to do with the new ReplicaSet this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewReplicaSetDecision {
    /// Size it to this many pods (a no-op when it already has them).
    ScaleTo(i32),
    /// An aborted update's ReplicaSet is held as it is: Argo returns before scaling. It still
    /// brings the desired-replicas annotation up to date, and may add the deadline.
    Hold {
        /// Write this `scale-down-deadline` (the stable ReplicaSet can now carry everything).
        set_deadline: Option<Timestamp>,
        /// Reconcile again after this long (the deadline is near).
        requeue_after: Option<Duration>,
    },
}

/// What the abort hold reads besides the new ReplicaSet.
#[derive(Clone, Copy, Debug)]
pub struct AbortHold<'a> {
    pub strategy: StrategyRef<'a>,
    /// The update is aborted (`status.abort`, or an abort decided in this reconcile).
    pub aborted: bool,
    /// The stable ReplicaSet's available pods; `None` when there is no stable ReplicaSet.
    pub stable_available: Option<i32>,
    /// `spec.replicas`, defaulted.
    pub replicas: i32,
}

impl AbortHold<'_> {
    /// [`should_delay_scale_down_on_abort`] for these values.
    pub fn applies(&self) -> bool {
        should_delay_scale_down_on_abort(
            self.strategy,
            self.aborted,
            self.stable_available.is_some(),
        )
    }
}

/// The new ReplicaSet's size, or the hold Argo puts on it after an abort (Argo's
/// `reconcileNewReplicaSet`). `computed` is its size by the strategy's rules
/// ([`super::canary::canary_replica_counts`] or
/// [`super::bluegreen::blue_green_new_replica_set_replicas`]).
///
/// Held only when [`AbortHold::applies`]. Then: with no deadline yet, the deadline is added
/// once the stable ReplicaSet has `replicas` available (the deadline scales the new one to 0
/// whatever else happens), and it stays as it is. With a deadline that has passed, it goes to
/// 0. With one still ahead it stays and a requeue is asked for, but only if the wait is
/// shorter than the resync period: for a longer wait Argo falls through and sizes it by
/// `computed`, which for an aborted traffic-routed canary is usually 0. A deadline annotation
/// that does not parse (including an empty one) also falls through to `computed`.
pub fn reconcile_new_replica_set(
    computed: i32,
    new: &ReplicaSet,
    hold: &AbortHold,
    now: Timestamp,
    resync_period: Duration,
) -> NewReplicaSetDecision {
    if !hold.applies() {
        return NewReplicaSetDecision::ScaleTo(computed);
    }
    if let Some(text) = new.scale_down_deadline.as_deref() {
        return match parse_deadline(text) {
            Some(at) if at > now => {
                let remaining = at.saturating_duration_since(now);
                if remaining < resync_period {
                    NewReplicaSetDecision::Hold {
                        set_deadline: None,
                        requeue_after: Some(remaining),
                    }
                } else {
                    NewReplicaSetDecision::ScaleTo(computed)
                }
            }
            Some(_) => NewReplicaSetDecision::ScaleTo(0),
            None => NewReplicaSetDecision::ScaleTo(computed),
        };
    }
    if let Some(seconds) = hold.strategy.abort_scale_down_delay().seconds {
        let stable_ready = hold.stable_available.is_some_and(|a| a >= hold.replicas);
        // A delay of 0 cannot get here (it means "never", which is not held); Argo would
        // write no deadline for it.
        let set_deadline =
            (stable_ready && seconds != 0).then(|| scale_down_deadline(now, seconds));
        return NewReplicaSetDecision::Hold {
            set_deadline,
            requeue_after: None,
        };
    }
    NewReplicaSetDecision::ScaleTo(computed)
}

/// The ReplicaSets whose `scale-down-deadline` must go at the start of a reconcile (Argo's
/// `removeScaleDownDeadlines`): a Rollout that moved back to an older revision still inside
/// its delay must not have it scaled down. The new ReplicaSet keeps its deadline while held
/// after an abort; the stable always loses it. Only ReplicaSets that have one are returned.
pub fn scale_down_deadlines_to_remove<'a>(
    new: Option<&'a ReplicaSet>,
    stable: Option<&'a ReplicaSet>,
    hold_on_abort: bool,
) -> Vec<&'a ReplicaSet> {
    let mut out: Vec<&ReplicaSet> = Vec::new();
    if let Some(new) = new.filter(|_| !hold_on_abort) {
        out.push(new);
    }
    if let Some(stable) = stable {
        if out.is_empty() || new.is_some_and(|n| n.name != stable.name) {
            out.push(stable);
        }
    }
    out.retain(|rs| has_scale_down_deadline(rs));
    out
}
