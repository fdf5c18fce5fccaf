//! Scale-down rules, one row per Argo rule. Each group names the Argo test whose inputs and
//! expectations it ports: `utils/defaults/defaults_test.go` for the delay getters,
//! `utils/replicaset/replicaset_test.go` for deadlines and ordering, and the controller tests
//! in `rollout/` (which drive a fake cluster) for the older-ReplicaSet and abort rules, with
//! their fixtures written out as plain inputs.

use std::time::Duration;

use weir_config::argo::{
    BlueGreenStrategy, CanaryStep, CanaryStrategy, IntOrString, RolloutAnalysis, TrafficRouting,
};

use super::canary::CanaryRollout;
use super::scaledown::*;
#[allow(unused_imports)]
use super::test_support::*;
use super::*;
use crate::analysis::Timestamp;

/// 2027-01-15T08:00:00Z, a whole second.
const T0: u64 = 1_800_000_000_000;

fn at(seconds_from_t0: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(T0 as i64 + seconds_from_t0 * 1000).unwrap_or(0))
}

/// The deadline annotation Argo would write `seconds` after T0.
fn deadline_text(seconds_from_t0: i64) -> String {
    format_deadline(at(seconds_from_t0))
}

/// A ReplicaSet with a revision annotation, created `created` seconds after T0.
fn rev(name: &str, spec: i32, available: i32, revision: &str, created: i64) -> ReplicaSet {
    ReplicaSet {
        revision: Some(revision.to_owned()),
        created_at: at(created),
        ..rs(name, spec, available)
    }
}

fn with_deadline(mut set: ReplicaSet, text: &str) -> ReplicaSet {
    set.scale_down_deadline = Some(text.to_owned());
    set
}

fn scale(name: &str, replicas: i32) -> OlderReplicaSetAction {
    OlderReplicaSetAction::Scale {
        name: name.to_owned(),
        replicas,
    }
}

fn set_deadline(name: &str, seconds_from_t0: i64) -> OlderReplicaSetAction {
    OlderReplicaSetAction::SetScaleDownDeadline {
        name: name.to_owned(),
        at: at(seconds_from_t0),
    }
}

fn canary(surge: i32, unavailable: i32, routed: bool) -> CanaryStrategy {
    CanaryStrategy {
        max_surge: Some(IntOrString::Int(surge)),
        max_unavailable: Some(IntOrString::Int(unavailable)),
        steps: vec![CanaryStep {
            set_weight: Some(10),
            ..Default::default()
        }],
        traffic_routing: routed.then(TrafficRouting::default),
        ..Default::default()
    }
}

fn routed_canary() -> CanaryStrategy {
    CanaryStrategy {
        traffic_routing: Some(TrafficRouting::default()),
        ..Default::default()
    }
}

const RESYNC: Duration = DEFAULT_RESYNC_PERIOD;

fn nothing_referenced(_: &ReplicaSet) -> bool {
    false
}

/// Mirrors `TestGetScaleDownDelaySecondsOrDefault` and `TestGetAbortScaleDownDelaySecondsOrDefault`
/// (utils/defaults/defaults_test.go); Argo's "no strategy" rows have no typed equivalent
/// and read like the basic canary rows. Then `GetScaleDownRevisionLimit`.
#[test]
fn strategy_delays() {
    let bg = |delay: Option<i32>, abort: Option<i32>, limit: Option<i32>| BlueGreenStrategy {
        scale_down_delay_seconds: delay,
        abort_scale_down_delay_seconds: abort,
        scale_down_delay_revision_limit: limit,
        ..Default::default()
    };
    let ca =
        |routed: bool, delay: Option<i32>, abort: Option<i32>, limit: Option<i32>| CanaryStrategy {
            traffic_routing: routed.then(TrafficRouting::default),
            scale_down_delay_seconds: delay,
            abort_scale_down_delay_seconds: abort,
            scale_down_delay_revision_limit: limit,
            ..Default::default()
        };

    #[rustfmt::skip]
    let delay_rows = [
        ("blue-green set", StrategyRef::BlueGreen(&bg(Some(60), None, None)), 60),
        ("blue-green default", StrategyRef::BlueGreen(&bg(None, None, None)), 30),
        ("canary without traffic routing ignores it", StrategyRef::Canary(&ca(false, Some(60), None, None)), 0),
        ("canary with traffic routing", StrategyRef::Canary(&ca(true, Some(60), None, None)), 60),
        ("canary with traffic routing, default", StrategyRef::Canary(&ca(true, None, None, None)), 30),
        ("negative kept as is", StrategyRef::BlueGreen(&bg(Some(-5), None, None)), -5),
    ];
    for (name, strategy, want) in delay_rows {
        assert_eq!(strategy.scale_down_delay_seconds(), want, "{name}");
    }

    let abort = |seconds: Option<i32>, explicit: bool| AbortScaleDownDelay { seconds, explicit };
    #[rustfmt::skip]
    let abort_rows = [
        ("blue-green set", StrategyRef::BlueGreen(&bg(None, Some(60), None)), abort(Some(60), true)),
        ("blue-green zero: never scale down the preview", StrategyRef::BlueGreen(&bg(None, Some(0), None)), abort(None, true)),
        ("blue-green default", StrategyRef::BlueGreen(&bg(None, None, None)), abort(Some(30), false)),
        ("canary with traffic routing set", StrategyRef::Canary(&ca(true, None, Some(60), None)), abort(Some(60), true)),
        ("canary zero: never scale down the canary", StrategyRef::Canary(&ca(true, None, Some(0), None)), abort(None, true)),
        ("canary with traffic routing, default", StrategyRef::Canary(&ca(true, None, None, None)), abort(Some(30), false)),
        ("basic canary has none", StrategyRef::Canary(&ca(false, None, None, None)), abort(Some(0), false)),
        ("basic canary ignores a set value", StrategyRef::Canary(&ca(false, None, Some(60), None)), abort(Some(0), false)),
    ];
    for (name, strategy, want) in abort_rows {
        assert_eq!(strategy.abort_scale_down_delay(), want, "{name}");
    }
    // HasExplicitAbortScaleDownDelay: explicit and not "never".
    assert!(abort(Some(60), true).is_explicit_delay());
    assert!(!abort(None, true).is_explicit_delay());
    assert!(!abort(Some(30), false).is_explicit_delay());

    #[rustfmt::skip]
    let limit_rows = [
        (StrategyRef::BlueGreen(&bg(None, None, Some(2))), 2),
        (StrategyRef::BlueGreen(&bg(None, None, None)), i32::MAX),
        (StrategyRef::Canary(&ca(true, None, None, Some(1))), 1),
        (StrategyRef::Canary(&ca(false, None, None, None)), i32::MAX),
    ];
    for (strategy, want) in limit_rows {
        assert_eq!(strategy.scale_down_revision_limit(), want, "{strategy:?}");
    }
}

/// `shouldDelayScaleDownOnAbort` (rollout/replicaset.go), one row per condition.
#[test]
fn should_delay_scale_down_on_abort_rows() {
    let bg_default = BlueGreenStrategy::default();
    let bg_never = BlueGreenStrategy {
        abort_scale_down_delay_seconds: Some(0),
        ..Default::default()
    };
    let basic = CanaryStrategy::default();
    let routed = routed_canary();
    let dynamic = CanaryStrategy {
        dynamic_stable_scale: true,
        ..routed_canary()
    };
    let dynamic_explicit = CanaryStrategy {
        abort_scale_down_delay_seconds: Some(600),
        ..dynamic.clone()
    };
    #[rustfmt::skip]
    let rows = [
        ("not aborted", StrategyRef::BlueGreen(&bg_default), false, true, false),
        ("no stable ReplicaSet", StrategyRef::BlueGreen(&bg_default), true, false, false),
        ("blue-green default delay", StrategyRef::BlueGreen(&bg_default), true, true, true),
        ("blue-green never", StrategyRef::BlueGreen(&bg_never), true, true, false),
        ("basic canary", StrategyRef::Canary(&basic), true, true, false),
        ("traffic-routed canary", StrategyRef::Canary(&routed), true, true, true),
        ("dynamic stable scale, default delay: drains instead", StrategyRef::Canary(&dynamic), true, true, false),
        ("dynamic stable scale, explicit delay", StrategyRef::Canary(&dynamic_explicit), true, true, true),
    ];
    for (name, strategy, aborted, stable_exists, want) in rows {
        assert_eq!(
            should_delay_scale_down_on_abort(strategy, aborted, stable_exists),
            want,
            "{name}"
        );
    }
}

/// Mirrors `TestHasScaleDownDeadline` and `TestGetTimeRemainingBeforeScaleDownDeadline`
/// (utils/replicaset/replicaset_test.go); then Argo's RFC 3339 reading and writing.
#[test]
fn scale_down_deadline_rows() {
    let has = |text: Option<&str>| {
        has_scale_down_deadline(&ReplicaSet {
            scale_down_deadline: text.map(str::to_owned),
            ..Default::default()
        })
    };
    assert!(!has(None), "no annotation");
    assert!(!has(Some("")), "empty annotation");
    assert!(has(Some("asdf")), "unreadable still counts as a deadline");
    assert!(has(Some("2020-10-13T23:04:51Z")));

    let now = at(0);
    let remaining = |text: Option<String>| {
        time_remaining_before_scale_down_deadline(
            &ReplicaSet {
                scale_down_deadline: text,
                ..Default::default()
            },
            now,
        )
    };
    assert_eq!(remaining(None), Ok(None), "no deadline");
    assert_eq!(remaining(Some(deadline_text(-600))), Ok(None), "passed");
    assert_eq!(
        remaining(Some(deadline_text(600))),
        Ok(Some(Duration::from_secs(600))),
        "ahead"
    );
    assert_eq!(
        remaining(Some(deadline_text(0))),
        Ok(None),
        "exactly now has passed"
    );
    assert_eq!(
        remaining(Some("Abcd123".into())),
        Err(UnreadableDeadline("Abcd123".into()))
    );

    // How Argo writes a deadline: now + delay, whole seconds, UTC.
    assert_eq!(
        scale_down_deadline(Timestamp::from_millis(T0 + 700), 30),
        at(30),
        "fraction dropped"
    );
    assert_eq!(
        scale_down_deadline(at(0), -5),
        at(-5),
        "negative delay: already past"
    );
    assert_eq!(
        scale_down_deadline(Timestamp::from_millis(1_000), -5),
        Timestamp::from_millis(0),
        "clamped at 1970"
    );
    assert_eq!(format_deadline(at(0)), "2027-01-15T08:00:00Z");

    // Go's time.Parse(time.RFC3339, …).
    #[rustfmt::skip]
    let parse_rows: [(&str, Option<Timestamp>); 15] = [
        ("2027-01-15T08:00:00Z", Some(at(0))),
        ("2027-01-15T08:00:30Z", Some(at(30))),
        ("2027-01-15T10:00:00+02:00", Some(at(0))),
        ("2027-01-15T07:30:00-00:30", Some(at(0))),
        ("2027-01-15T08:00:00.250Z", Some(Timestamp::from_millis(T0 + 250))),
        ("2027-01-15T08:00:00.999999999Z", Some(Timestamp::from_millis(T0 + 999))),
        ("2027-01-15T08:00:00,5Z", Some(Timestamp::from_millis(T0 + 500))),
        ("2024-02-29T00:00:00Z", Some(Timestamp::from_millis(1_709_164_800_000))),
        ("1969-12-31T23:59:59Z", Some(Timestamp::from_millis(0))),
        ("2023-02-29T00:00:00Z", None),
        ("2027-01-15 08:00:00Z", None),
        ("2027-01-15T08:00:00", None),
        ("2027-01-15T08:00:60Z", None),
        ("2027-01-15t08:00:00z", None),
        ("Abcd123", None),
    ];
    for (text, want) in parse_rows {
        assert_eq!(parse_deadline(text), want, "{text}");
    }
}

/// Mirrors `TestReplicaSetsByRevisionNumber` (utils/replicaset/replicaset_test.go): every
/// subtest ascending; then the same inputs newest first, the order Argo scales down in.
#[test]
fn revision_order_rows() {
    let r = |revision: &str, created: i64| ReplicaSet {
        name: format!("{revision}@{created}"),
        revision: Some(revision.to_owned()),
        created_at: at(created),
        ..Default::default()
    };
    // (name, input, ascending, newest first), creation 0 = "now", -5 = "before".
    #[rustfmt::skip]
    let rows = [
        ("Sort only by revisionNumber", vec![r("1", 0), r("2", 0), r("0", 0)], vec!["0@0", "1@0", "2@0"], vec!["2@0", "1@0", "0@0"]),
        ("Invalid Annotation goes first", vec![r("2", 0), r("", 0)], vec!["@0", "2@0"], vec!["@0", "2@0"]),
        ("Invalid Annotation stays first", vec![r("", 0), r("2", 0)], vec!["@0", "2@0"], vec!["@0", "2@0"]),
        ("Use creationTimeStamp if both have invalid annotation", vec![r("", 0), r("", -5)], vec!["@-5", "@0"], vec!["@0", "@-5"]),
        ("Use creationTimeStamp if both have same annotation", vec![r("1", 0), r("1", -5)], vec!["1@-5", "1@0"], vec!["1@0", "1@-5"]),
        ("Missing annotation is invalid too", vec![ReplicaSet { name: "none".into(), ..Default::default() }, r("3", 0)], vec!["none", "3@0"], vec!["none", "3@0"]),
        ("Mixed", vec![r("2", 0), r("x", -5), r("10", -9), r("", 3)], vec!["x@-5", "@3", "2@0", "10@-9"], vec!["@3", "x@-5", "10@-9", "2@0"]),
    ];
    for (name, input, ascending, newest_first) in rows {
        let mut refs: Vec<&ReplicaSet> = input.iter().collect();
        sort_by_revision(&mut refs);
        assert_eq!(
            refs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ascending,
            "{name} ascending"
        );
        let mut refs: Vec<&ReplicaSet> = input.iter().collect();
        sort_by_revision_newest_first(&mut refs);
        assert_eq!(
            refs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            newest_first,
            "{name} newest first"
        );
    }
}

/// One canary older-ReplicaSet case.
struct CanaryRow {
    name: &'static str,
    strategy: CanaryStrategy,
    replicas: i32,
    status: RolloutStatusView,
    older: Vec<ReplicaSet>,
    all_available: i32,
    target_groups_verified: bool,
    referenced: &'static [&'static str],
    want: Vec<OlderReplicaSetAction>,
    want_scaled_down: i32,
    want_requeue: Option<u64>,
}

/// The controller tests for `scaleDownOldReplicaSetsForCanary` (rollout/canary_test.go,
/// rollout/trafficrouting_test.go), each fixture written as plain inputs; then one row per
/// further rule of that function and `cleanupUnhealthyReplicas`.
#[test]
fn canary_older_replica_sets() {
    let promoted = status("rs3", "rs3");
    let updating = status("rs3", "rs1");
    let limit_1 = CanaryStrategy {
        scale_down_delay_revision_limit: Some(1),
        ..canary(1, 1, true)
    };
    let dynamic = CanaryStrategy {
        dynamic_stable_scale: true,
        ..canary(1, 1, true)
    };
    let limit_0 = CanaryStrategy {
        scale_down_delay_revision_limit: Some(0),
        ..canary(1, 1, true)
    };
    #[rustfmt::skip]
    let rows = vec![
        CanaryRow {
            name: "TestCanaryRolloutScaleDownOldRs",
            strategy: canary(1, 0, false), replicas: 10, status: updating.clone(),
            older: vec![rev("rs2", 1, 1, "2", 0)], all_available: 9 + 1 + 1,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs2", 0)], want_scaled_down: 1, want_requeue: None,
        },
        // Argo's test names its two updates rs1 and rs2 but matches them by order only: the
        // newest revision (rs2) goes first and takes the whole budget of 6, then rs1 gives 1.
        CanaryRow {
            name: "TestCanaryRolloutScaleDownOldRsDontScaleDownTooMuch",
            strategy: canary(1, 0, false), replicas: 4, status: promoted.clone(),
            older: vec![rev("rs1", 5, 5, "1", 0), rev("rs2", 5, 5, "2", 0)], all_available: 10,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs2", 0), scale("rs1", 4)], want_scaled_down: 6, want_requeue: None,
        },
        CanaryRow {
            name: "TestCanaryDontScaleDownOldRsDuringInterruptedUpdate",
            strategy: canary(1, 0, true), replicas: 5, status: updating.clone(),
            older: vec![rev("rs2", 5, 5, "2", 0)], all_available: 10,
            target_groups_verified: true, referenced: &["rs2"],
            want: vec![], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "TestCanaryScaleDownOldRsDuringInterruptedUpdate",
            strategy: canary(1, 0, true), replicas: 5, status: updating.clone(),
            older: vec![rev("rs2", 5, 5, "2", 0)], all_available: 15,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs2", 0)], want_scaled_down: 5, want_requeue: None,
        },
        CanaryRow {
            name: "TestCanaryWithTrafficRoutingAddScaleDownDelay",
            strategy: canary(1, 1, true), replicas: 1, status: status("rs2", "rs2"),
            older: vec![rev("rs1", 1, 1, "1", 0)], all_available: 2,
            target_groups_verified: true, referenced: &[],
            want: vec![set_deadline("rs1", 30)], want_scaled_down: 0, want_requeue: Some(30),
        },
        CanaryRow {
            name: "TestCanaryWithTrafficRoutingScaleDownLimit",
            strategy: limit_1.clone(), replicas: 1, status: promoted.clone(),
            older: vec![
                with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(10)),
                with_deadline(rev("rs2", 1, 1, "2", 0), &deadline_text(10)),
            ],
            all_available: 3, target_groups_verified: true, referenced: &[],
            want: vec![scale("rs1", 0)], want_scaled_down: 1, want_requeue: Some(10),
        },
        CanaryRow {
            name: "dynamic stable scale: an older ReplicaSet goes at once once promoted",
            strategy: dynamic, replicas: 2, status: promoted.clone(),
            older: vec![rev("rs1", 2, 2, "1", 0)], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs1", 0)], want_scaled_down: 2, want_requeue: None,
        },
        CanaryRow {
            name: "revision limit 0: no deadline, straight to 0",
            strategy: limit_0, replicas: 2, status: promoted.clone(),
            older: vec![rev("rs1", 2, 2, "1", 0)], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs1", 0)], want_scaled_down: 2, want_requeue: None,
        },
        CanaryRow {
            name: "unreadable deadline: scaled down",
            strategy: canary(1, 1, true), replicas: 2, status: promoted.clone(),
            older: vec![with_deadline(rev("rs1", 2, 2, "1", 0), "Abcd123")], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("rs1", 0)], want_scaled_down: 2, want_requeue: None,
        },
        CanaryRow {
            name: "deadline further off than the resync period: kept, no requeue",
            strategy: canary(1, 1, true), replicas: 2, status: promoted.clone(),
            older: vec![with_deadline(rev("rs1", 2, 2, "1", 0), &deadline_text(3600))], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "mid-update, a deadline already set is waited out",
            strategy: canary(1, 1, true), replicas: 2, status: updating.clone(),
            older: vec![with_deadline(rev("rs2", 2, 2, "2", 0), &deadline_text(20))], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![], want_scaled_down: 0, want_requeue: Some(20),
        },
        CanaryRow {
            name: "basic canary ignores references",
            strategy: canary(1, 0, false), replicas: 2, status: updating.clone(),
            older: vec![rev("rs2", 1, 1, "2", 0)], all_available: 3,
            target_groups_verified: true, referenced: &["rs2"],
            want: vec![scale("rs2", 0)], want_scaled_down: 1, want_requeue: None,
        },
        CanaryRow {
            name: "unhealthy pods cleaned first, oldest first, then the budget",
            strategy: canary(1, 0, false), replicas: 4, status: updating.clone(),
            older: vec![rev("young", 3, 1, "3", 20), rev("old", 4, 2, "2", 10)], all_available: 4 + 1 + 2,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("old", 2), scale("young", 1), scale("young", 0), scale("old", 0)], want_scaled_down: 7, want_requeue: None,
        },
        CanaryRow {
            name: "more available than asked for stops the pass",
            strategy: canary(1, 0, false), replicas: 4, status: updating.clone(),
            older: vec![rev("old", 4, 2, "2", 10), rev("shrinking", 1, 3, "3", 20)], all_available: 9,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("old", 2)], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "no availability budget: cleanup only, reported as 0",
            strategy: canary(1, 0, false), replicas: 4, status: updating.clone(),
            older: vec![rev("old", 3, 1, "2", 10)], all_available: 4,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("old", 1)], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "target groups not verified: cleanup only",
            strategy: canary(1, 0, true), replicas: 4, status: promoted.clone(),
            older: vec![rev("old", 3, 1, "2", 10)], all_available: 9,
            target_groups_verified: false, referenced: &[],
            want: vec![scale("old", 1)], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "ReplicaSets without pods are left alone",
            strategy: canary(1, 0, false), replicas: 4, status: updating.clone(),
            older: vec![rev("empty", 0, 2, "2", 10)], all_available: 9,
            target_groups_verified: true, referenced: &[],
            want: vec![], want_scaled_down: 0, want_requeue: None,
        },
        CanaryRow {
            name: "the budget runs out part way",
            strategy: canary(1, 1, false), replicas: 10, status: updating,
            // 13 available, at least 9 must stay: a budget of 4, 3 from b and 1 from a.
            older: vec![rev("a", 3, 3, "1", 0), rev("b", 3, 3, "2", 0)], all_available: 13,
            target_groups_verified: true, referenced: &[],
            want: vec![scale("b", 0), scale("a", 2)], want_scaled_down: 4, want_requeue: None,
        },
    ];
    for row in rows {
        let rollout = CanaryRollout {
            replicas: row.replicas,
            strategy: &row.strategy,
            status: &row.status,
        };
        let input = CanaryScaleDown {
            rollout,
            all_available: row.all_available,
            target_groups_verified: row.target_groups_verified,
        };
        let referenced = row.referenced;
        let is_referenced = |set: &ReplicaSet| referenced.contains(&set.name.as_str());
        let ctx = ScaleDownContext {
            now: at(0),
            resync_period: RESYNC,
            is_referenced: &is_referenced,
        };
        let plan = plan_canary_older_replica_sets(&input, &row.older, &ctx);
        assert_eq!(plan.actions, row.want, "{} actions", row.name);
        assert_eq!(
            plan.scaled_down, row.want_scaled_down,
            "{} scaled down",
            row.name
        );
        assert_eq!(
            plan.requeue_after,
            row.want_requeue.map(Duration::from_secs),
            "{} requeue",
            row.name
        );
    }
}

/// The controller tests for `scaleDownOldReplicaSetsForBlueGreen` and `scaleDownDelayHelper`
/// (rollout/bluegreen_test.go, and `TestReconcileOldReplicaSet` in rollout/replicaset_test.go),
/// each fixture written as plain inputs; then one row per further rule.
#[test]
fn blue_green_older_replica_sets() {
    struct Row {
        name: &'static str,
        strategy: BlueGreenStrategy,
        replicas: i32,
        older: Vec<ReplicaSet>,
        inconclusive: bool,
        post_promotion_pending: bool,
        referenced: &'static [&'static str],
        want: Vec<OlderReplicaSetAction>,
        want_requeue: Option<u64>,
    }
    let plain = BlueGreenStrategy::default();
    let limit = |n: i32| BlueGreenStrategy {
        scale_down_delay_revision_limit: Some(n),
        ..Default::default()
    };
    let post_promotion = BlueGreenStrategy {
        post_promotion_analysis: Some(RolloutAnalysis::default()),
        ..Default::default()
    };
    let post_promotion_with_delay = BlueGreenStrategy {
        scale_down_delay_seconds: Some(10),
        ..post_promotion.clone()
    };
    let no_delay = BlueGreenStrategy {
        scale_down_delay_seconds: Some(0),
        ..Default::default()
    };
    let base = |name, strategy, older, want, want_requeue| Row {
        name,
        strategy,
        replicas: 1,
        older,
        inconclusive: false,
        post_promotion_pending: false,
        referenced: &[],
        want,
        want_requeue,
    };
    #[rustfmt::skip]
    let rows = vec![
        base("TestBlueGreenScaleDownLimit", limit(1),
            vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(10)), with_deadline(rev("rs2", 1, 1, "2", 0), &deadline_text(10))],
            vec![scale("rs1", 0)], Some(10)),
        base("TestBlueGreenUnableToReadScaleDownAt", plain.clone(),
            vec![with_deadline(rev("rs1", 1, 1, "1", 0), "Abcd123")], vec![scale("rs1", 0)], None),
        base("TestBlueGreenNotReadyToScaleDownOldReplica", plain.clone(),
            vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(10))], vec![], Some(10)),
        base("TestBlueGreenReadyToScaleDownOldReplica", plain.clone(),
            vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![scale("rs1", 0)], None),
        base("TestBlueGreenAddScaleDownDelay", plain.clone(),
            vec![rev("rs1", 1, 1, "1", 0)], vec![set_deadline("rs1", 30)], Some(30)),
        Row { replicas: 10, ..base("TestReconcileOldReplicaSet: No pods to scale down", limit(0), vec![rev("foo-old", 0, 0, "1", 0)], vec![], None) },
        Row { replicas: 10, ..base("TestReconcileOldReplicaSet: Clean up unhealthy pods", limit(0), vec![rev("foo-old", 10, 8, "1", 0)], vec![scale("foo-old", 0)], None) },
        Row { replicas: 10, ..base("TestReconcileOldReplicaSet: Normal scale down when new ReplicaSet is healthy", limit(0), vec![rev("foo-old", 10, 10, "1", 0)], vec![scale("foo-old", 0)], None) },
        Row { inconclusive: true, ..base("paused on an inconclusive analysis: nothing moves", plain.clone(), vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![], None) },
        Row { post_promotion_pending: true, ..base("post-promotion analysis running, no scaleDownDelaySeconds: nothing moves", post_promotion.clone(), vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![], None) },
        Row { post_promotion_pending: true, ..base("post-promotion analysis running with scaleDownDelaySeconds: proceeds", post_promotion_with_delay, vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![scale("rs1", 0)], None) },
        base("post-promotion analysis done", post_promotion, vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![scale("rs1", 0)], None),
        Row { referenced: &["rs1"], ..base("still referenced: skipped", plain.clone(), vec![with_deadline(rev("rs1", 1, 1, "1", 0), &deadline_text(-10))], vec![], None) },
        // Waiting out the deadline holds the ReplicaSet at the Rollout's current size, which
        // scales it back up if spec.replicas grew meanwhile.
        Row { replicas: 3, ..base("waiting ReplicaSet follows spec.replicas", plain.clone(), vec![with_deadline(rev("rs1", 2, 2, "1", 0), &deadline_text(10))], vec![scale("rs1", 3)], Some(10)) },
        // scaleDownDelaySeconds: 0 writes no deadline, so the ReplicaSet stays up.
        base("scaleDownDelaySeconds 0: no deadline, kept", no_delay, vec![rev("rs1", 1, 1, "1", 0)], vec![], Some(0)),
        base("the revision limit counts newest first", limit(1),
            vec![rev("rs1", 1, 1, "1", 0), rev("rs2", 1, 1, "2", 0)],
            vec![set_deadline("rs2", 30), scale("rs1", 0)], Some(30)),
    ];
    for row in rows {
        let input = BlueGreenScaleDown {
            replicas: row.replicas,
            strategy: &row.strategy,
            paused_on_inconclusive_analysis: row.inconclusive,
            post_promotion_analysis_pending: row.post_promotion_pending,
        };
        let referenced = row.referenced;
        let is_referenced = |set: &ReplicaSet| referenced.contains(&set.name.as_str());
        let ctx = ScaleDownContext {
            now: at(0),
            resync_period: RESYNC,
            is_referenced: &is_referenced,
        };
        let plan = plan_blue_green_older_replica_sets(&input, &row.older, &ctx);
        assert_eq!(plan.actions, row.want, "{} actions", row.name);
        assert_eq!(
            plan.scaled(),
            row.want
                .iter()
                .any(|a| matches!(a, OlderReplicaSetAction::Scale { .. })),
            "{} scaled",
            row.name
        );
        assert_eq!(
            plan.requeue_after,
            row.want_requeue.map(Duration::from_secs),
            "{} requeue",
            row.name
        );
    }
    // Without any ReplicaSet there is nothing to plan.
    let input = BlueGreenScaleDown {
        replicas: 1,
        strategy: &plain,
        paused_on_inconclusive_analysis: false,
        post_promotion_analysis_pending: false,
    };
    let ctx = ScaleDownContext {
        now: at(0),
        resync_period: RESYNC,
        is_referenced: &nothing_referenced,
    };
    assert_eq!(
        plan_blue_green_older_replica_sets(&input, &[], &ctx),
        OlderReplicaSetPlan::default()
    );
}

/// Mirrors `TestReconcileNewReplicaSet` (rollout/replicaset_test.go; blue-green, a 30 s
/// resync, the stable fully available; its failing-patch row is I/O), then
/// `TestReconcileNewReplicaSetAbortDelaySyncsReplicasAnnotation` (a 15 min resync) and
/// `TestAbortScaleDownDelayDoesNotWedgeScalingEvent` (a traffic-routed canary), then one row
/// per further rule of `reconcileNewReplicaSet`.
#[test]
fn new_replica_set_on_abort() {
    use NewReplicaSetDecision::{Hold, ScaleTo};
    let bg = |delay: Option<i32>| BlueGreenStrategy {
        abort_scale_down_delay_seconds: delay,
        ..Default::default()
    };
    let bg5 = bg(Some(5));
    let bg30 = bg(Some(30));
    let bg_default = bg(None);
    let bg_never = bg(Some(0));
    let routed = routed_canary();
    let basic = CanaryStrategy::default();
    let dynamic = CanaryStrategy {
        dynamic_stable_scale: true,
        ..routed_canary()
    };
    let hold = |deadline: Option<i64>, requeue: Option<u64>| Hold {
        set_deadline: deadline.map(at),
        requeue_after: requeue.map(Duration::from_secs),
    };
    struct Row<'a> {
        name: &'static str,
        strategy: StrategyRef<'a>,
        aborted: bool,
        replicas: i32,
        computed: i32,
        new_spec: i32,
        deadline: Option<String>,
        stable_available: Option<i32>,
        resync_seconds: u64,
        want: NewReplicaSetDecision,
    }
    let row = |name, strategy, aborted, deadline: Option<String>, want| Row {
        name,
        strategy,
        aborted,
        replicas: 10,
        computed: 10,
        new_spec: 10,
        deadline,
        stable_available: Some(10),
        resync_seconds: 30,
        want,
    };
    #[rustfmt::skip]
    let rows = vec![
        row("New Replica Set matches rollout replica: No scale", StrategyRef::BlueGreen(&bg_default), false, None, ScaleTo(10)),
        Row { new_spec: 12, ..row("New Replica Set higher than rollout replica: Scale down", StrategyRef::BlueGreen(&bg_default), false, None, ScaleTo(10)) },
        Row { new_spec: 8, ..row("New Replica Set lower than rollout replica: Scale up", StrategyRef::BlueGreen(&bg_default), false, None, ScaleTo(10)) },
        row("scale down on abort - deadline passed", StrategyRef::BlueGreen(&bg5), true, Some(deadline_text(-5)), ScaleTo(0)),
        Row { new_spec: 8, ..row("scale down on abort - deadline not passed", StrategyRef::BlueGreen(&bg5), true, Some(deadline_text(5)), hold(None, Some(5))) },
        row("scale down on abort - add annotation", StrategyRef::BlueGreen(&bg5), true, None, hold(Some(5), None)),
        Row { replicas: 4, computed: 4, new_spec: 5, stable_available: Some(4), resync_seconds: 900, ..row("AbortDelaySyncsReplicasAnnotation: before the deadline is added", StrategyRef::BlueGreen(&bg30), true, None, hold(Some(30), None)) },
        Row { replicas: 4, computed: 4, new_spec: 5, stable_available: Some(4), resync_seconds: 900, ..row("AbortDelaySyncsReplicasAnnotation: waiting out the deadline", StrategyRef::BlueGreen(&bg30), true, Some(deadline_text(30)), hold(None, Some(30))) },
        Row { replicas: 4, computed: 0, new_spec: 5, stable_available: Some(4), resync_seconds: 900, ..row("TestAbortScaleDownDelayDoesNotWedgeScalingEvent", StrategyRef::Canary(&routed), true, None, hold(Some(30), None)) },
        Row { stable_available: Some(9), ..row("stable not yet able to carry everything: held, no deadline", StrategyRef::BlueGreen(&bg5), true, None, hold(None, None)) },
        Row { computed: 0, resync_seconds: 900, ..row("deadline further off than the resync period: sized by the rules", StrategyRef::Canary(&routed), true, Some(deadline_text(3600)), ScaleTo(0)) },
        Row { computed: 7, ..row("unreadable deadline: sized by the rules", StrategyRef::BlueGreen(&bg5), true, Some("Abcd123".into()), ScaleTo(7)) },
        Row { computed: 7, ..row("empty deadline is unreadable here", StrategyRef::BlueGreen(&bg5), true, Some(String::new()), ScaleTo(7)) },
        row("abortScaleDownDelaySeconds 0: never held, left to the rules", StrategyRef::BlueGreen(&bg_never), true, None, ScaleTo(10)),
        Row { computed: 3, ..row("basic canary: never held", StrategyRef::Canary(&basic), true, None, ScaleTo(3)) },
        Row { computed: 3, ..row("dynamic stable scale without an explicit delay: drains", StrategyRef::Canary(&dynamic), true, None, ScaleTo(3)) },
        Row { computed: 3, stable_available: None, ..row("no stable ReplicaSet: never held", StrategyRef::BlueGreen(&bg5), true, None, ScaleTo(3)) },
    ];
    for r in rows {
        let new = ReplicaSet {
            scale_down_deadline: r.deadline,
            ..rs("new", r.new_spec, r.new_spec)
        };
        let abort = AbortHold {
            strategy: r.strategy,
            aborted: r.aborted,
            stable_available: r.stable_available,
            replicas: r.replicas,
        };
        let got = reconcile_new_replica_set(
            r.computed,
            &new,
            &abort,
            at(0),
            Duration::from_secs(r.resync_seconds),
        );
        assert_eq!(got, r.want, "{}", r.name);
    }
}

/// `removeScaleDownDeadlines` (rollout/replicaset.go): which deadlines go at the start of a
/// reconcile.
#[test]
fn deadlines_to_remove_rows() {
    let d = |name: &str| with_deadline(rs(name, 1, 1), &deadline_text(10));
    let (new, stable, bare) = (d("new"), d("stable"), rs("bare", 1, 1));
    let names = |v: Vec<&ReplicaSet>| v.into_iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(scale_down_deadlines_to_remove(
            Some(&new),
            Some(&stable),
            false
        )),
        ["new", "stable"]
    );
    assert_eq!(
        names(scale_down_deadlines_to_remove(
            Some(&new),
            Some(&stable),
            true
        )),
        ["stable"],
        "held new keeps it"
    );
    assert_eq!(
        names(scale_down_deadlines_to_remove(
            Some(&new),
            Some(&new),
            false
        )),
        ["new"],
        "same ReplicaSet once"
    );
    assert_eq!(
        names(scale_down_deadlines_to_remove(Some(&new), Some(&new), true)),
        ["new"],
        "held, but it is also the stable"
    );
    assert_eq!(
        names(scale_down_deadlines_to_remove(None, Some(&stable), false)),
        ["stable"]
    );
    assert_eq!(
        names(scale_down_deadlines_to_remove(Some(&bare), None, false)),
        Vec::<String>::new(),
        "nothing to remove"
    );
}
