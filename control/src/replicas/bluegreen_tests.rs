//! Blue-green sizing, one row per Argo rule. Each group names the Argo test whose inputs and
//! expectations it ports.

use weir_config::argo::BlueGreenStrategy;

use super::bluegreen::*;
#[allow(unused_imports)]
use super::test_support::*;
use super::*;

fn names(sets: &[&ReplicaSet]) -> Vec<String> {
    sets.iter().map(|r| r.name.clone()).collect()
}

/// Mirrors `TestGetReplicaSetByTemplateHash` (utils/replicaset/bluegreen_test.go), plus a
/// ReplicaSet without the hash label, which lands in neither list.
#[test]
fn replica_set_by_template_hash_rows() {
    let (found, others) = replica_set_by_template_hash(&[], "");
    assert!(found.is_none() && others.is_empty(), "nothing");

    let rs1 = rs("abcd", 0, 0);
    let one = [rs1.clone()];
    let (found, others) = replica_set_by_template_hash(&one, "1234");
    assert_eq!(
        (found, names(&others)),
        (None, vec!["abcd".to_owned()]),
        "no match"
    );

    let rs2 = rs("1234", 0, 0);
    let unlabelled = ReplicaSet {
        name: "plain".into(),
        ..Default::default()
    };
    let all = [unlabelled, rs1, rs2.clone()];
    let (found, others) = replica_set_by_template_hash(&all, "1234");
    assert_eq!(found, Some(&rs2), "match");
    assert_eq!(names(&others), ["abcd"], "others carry a hash");

    let (found, others) = replica_set_by_template_hash(&all, "");
    assert_eq!(
        (found, others.len()),
        (None, 3),
        "empty hash: all are others"
    );
}

/// Mirrors `TestNewRSNewReplicasWitPreviewReplicaCount` (utils/replicaset/replicaset_test.go):
/// every row (10 replicas, preview 1, new ReplicaSet `foo`, the other `bar`, current hash
/// `foo` unless overridden); then `TestNewRSNewReplicas`'s blue-green half (no preview: all
/// replicas) and the controller test `TestBlueGreenRolloutIgnoringScalingUsePreviewRSCount`
/// (rollout/bluegreen_test.go: the preview count holds even above a smaller spec.replicas).
#[test]
fn new_replica_set_replicas_with_preview_count() {
    struct Row {
        name: &'static str,
        active_selector: &'static str,
        current_pod_hash: &'static str,
        checkpoint: bool,
        promote_full: bool,
        paused: bool,
        want: i32,
    }
    let base = Row {
        name: "",
        active_selector: "",
        current_pod_hash: "foo",
        checkpoint: false,
        promote_full: false,
        paused: false,
        want: 0,
    };
    #[rustfmt::skip]
    let rows = [
        Row { name: "No active rs is set", want: 10, ..base },
        Row { name: "Active rs is the new RS", active_selector: "foo", want: 10, ..base },
        Row { name: "Rollout's currentPodHash doesn't match up", active_selector: "bar", current_pod_hash: "baz", checkpoint: true, want: 1, ..base },
        Row { name: "Rollout is unpaused and ready to scale up", active_selector: "bar", checkpoint: true, want: 10, ..base },
        Row { name: "The rollout should use the preview value", active_selector: "bar", want: 1, ..base },
        Row { name: "Ignore preview replica count during promote full", active_selector: "bar", promote_full: true, want: 10, ..base },
        // Beyond Argo's table: past the checkpoint but paused again keeps the preview count;
        // an active selector naming no ReplicaSet counts as no active ReplicaSet.
        Row { name: "checkpoint passed but paused", active_selector: "bar", checkpoint: true, paused: true, want: 1, ..base },
        Row { name: "active selector names no ReplicaSet", active_selector: "gone", want: 10, ..base },
    ];
    let strategy = BlueGreenStrategy {
        preview_replica_count: Some(1),
        ..Default::default()
    };
    let all = [rs("foo", 0, 0), rs("bar", 0, 0)];
    for row in rows {
        let status = RolloutStatusView {
            active_selector: row.active_selector.into(),
            current_pod_hash: row.current_pod_hash.into(),
            scale_up_preview_check_point: row.checkpoint,
            promote_full: row.promote_full,
            paused: row.paused,
            ..Default::default()
        };
        let r = BlueGreenRollout {
            replicas: 10,
            strategy: &strategy,
            status: &status,
        };
        assert_eq!(
            blue_green_new_replica_set_replicas(&r, &all, &all[0]),
            row.want,
            "{}",
            row.name
        );
    }

    // TestNewRSNewReplicas: no previewReplicaCount, all replicas.
    let plain = BlueGreenStrategy::default();
    let status = RolloutStatusView::default();
    let r = BlueGreenRollout {
        replicas: 1,
        strategy: &plain,
        status: &status,
    };
    assert_eq!(blue_green_new_replica_set_replicas(&r, &all, &all[0]), 1);

    // TestBlueGreenRolloutIgnoringScalingUsePreviewRSCount: replicas 2, preview 3.
    let preview_3 = BlueGreenStrategy {
        preview_replica_count: Some(3),
        ..Default::default()
    };
    let status = RolloutStatusView {
        active_selector: "rs1".into(),
        current_pod_hash: "rs2".into(),
        ..Default::default()
    };
    let all = [rs("rs1", 2, 1), rs("rs2", 1, 1)];
    let r = BlueGreenRollout {
        replicas: 2,
        strategy: &preview_3,
        status: &status,
    };
    assert_eq!(blue_green_new_replica_set_replicas(&r, &all, &all[1]), 3);
}

/// Mirrors `TestReadyForPause` (utils/replicaset/bluegreen_test.go). Its first assertion (a
/// Rollout with no strategy) is an error path that a typed strategy cannot reach.
#[test]
fn ready_for_pause_rows() {
    let strategy = BlueGreenStrategy::default();
    let status = RolloutStatusView::default();
    let r = BlueGreenRollout {
        replicas: 1,
        strategy: &strategy,
        status: &status,
    };
    let ready = rs("abcd", 1, 1);
    let not_ready = rs("abcd", 1, 0);
    assert!(ready_for_pause(&r, &ready, std::slice::from_ref(&ready)));
    assert!(!ready_for_pause(
        &r,
        &not_ready,
        std::slice::from_ref(&ready)
    ));
}

/// `calculateScaleUpPreviewCheckPoint` (rollout/bluegreen.go); the first row is the
/// controller test `TestPreviewReplicaCountHandleScaleUpPreviewCheckPoint/TrueAfterMeetingMinAvailable`
/// (preview 3, three new pods available, no analysis, no pause).
#[test]
fn scale_up_preview_check_point_rows() {
    let with_preview = BlueGreenStrategy {
        preview_replica_count: Some(3),
        ..Default::default()
    };
    let without = BlueGreenStrategy::default();
    let new = |available: i32| Some(rs("new", 3, available));
    #[rustfmt::skip]
    let rows = [
        ("TrueAfterMeetingMinAvailable", &with_preview, false, true, true, new(3), true),
        ("no previewReplicaCount", &without, true, true, true, new(3), false),
        ("stays true once set", &with_preview, true, false, false, new(0), true),
        ("pre-promotion analysis incomplete", &with_preview, false, false, true, new(3), false),
        ("pause incomplete", &with_preview, false, true, false, new(3), false),
        ("not all preview pods available", &with_preview, false, true, true, new(2), false),
        ("more than the preview count available", &with_preview, false, true, true, new(4), false),
        ("no new ReplicaSet", &with_preview, false, true, true, None, false),
    ];
    for (name, strategy, previous, analysis_done, pause_done, new, want) in rows {
        assert_eq!(
            scale_up_preview_check_point(
                strategy,
                previous,
                analysis_done,
                pause_done,
                new.as_ref()
            ),
            want,
            "{name}"
        );
    }
}

/// `reconcileBlueGreenStableReplicaSet` and the controller tests
/// `TestBlueGreenRolloutScaleUpdateStableRS` / `...ActiveRS` (rollout/bluegreen_test.go):
/// the stable ReplicaSet follows spec.replicas.
#[test]
fn stable_follows_replicas() {
    for replicas in [0, 1, 2, 10] {
        assert_eq!(blue_green_stable_replica_set_replicas(replicas), replicas);
    }
}
