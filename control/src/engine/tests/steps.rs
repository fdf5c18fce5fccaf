//! Steps: setWeight (with verification), pauses, promote, promote --full, routes, steps
//! passed over, and completion.

use super::*;

#[test]
fn steps_advance_and_completion_promotes_stable() {
    let mut w = World::healthy(four_steps());
    let actions = w.deploy("c2");
    assert!(has_event(
        &actions,
        "RolloutUpdated",
        "Rollout updated to revision 2"
    ));
    assert!(has_event(
        &actions,
        "RolloutNotCompleted",
        "Rollout not completed, started update to revision 2 (c2)"
    ));
    assert!(has_event(
        &actions,
        "TrafficWeightUpdated",
        "Traffic weight updated from 0 to 20"
    ));
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/4 completed (setWeight: 20)"
    ));
    assert!(has_event(
        &actions,
        "RolloutPaused",
        "Rollout is paused (CanaryPauseStep)"
    ));
    assert_eq!(w.served(), (20, 80));
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"));
    assert!(w.status().controller_pause);
    assert_eq!(
        w.condition("Paused"),
        ("True", "RolloutPaused", "Rollout is paused")
    );
    assert_eq!(
        w.condition("Progressing"),
        ("Unknown", "RolloutPaused", "Rollout is paused")
    );
    assert_eq!(
        w.condition("Healthy"),
        ("False", "RolloutHealthy", "Rollout is not healthy")
    );
    let weights = w.status().canary.as_ref().unwrap().weights.clone().unwrap();
    assert_eq!(
        (
            weights.canary.weight,
            weights.canary.pod_template_hash.as_str()
        ),
        (20, "c2")
    );
    assert_eq!(
        (
            weights.stable.weight,
            weights.stable.pod_template_hash.as_str()
        ),
        (80, "s1")
    );

    let actions = w.command(&[Command::Promote]);
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 2/4 completed (pause)"
    ));
    let actions = w.settle();
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 3/4 completed (setWeight: 40)"
    ));
    assert_eq!(w.served(), (40, 60));
    assert_eq!(w.step(), Some(3));
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 30_000)));

    w.advance(30);
    let actions = w.settle();
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 4/4 completed (pause: 30s)"
    ));
    // Full weight to the canary first, confirmed, then the stable service takes it over.
    let fx = effects(&actions);
    let full = fx
        .iter()
        .position(|a| {
            *a == Action::SetWeights {
                canary: 100,
                stable: 0,
            }
        })
        .unwrap();
    let promote = fx
        .iter()
        .position(|a| {
            *a == Action::PromoteStable {
                pod_hash: "c2".into(),
            }
        })
        .unwrap();
    let back = fx
        .iter()
        .position(|a| {
            *a == Action::SetWeights {
                canary: 0,
                stable: 100,
            }
        })
        .unwrap();
    assert!(full < promote && promote < back, "{fx:?}");
    assert!(has_event(
        &actions,
        "RolloutCompleted",
        "Rollout completed update to revision 2 (c2): Completed all 4 canary steps"
    ));
    let s = w.status();
    assert_eq!(s.stable_rs, "c2");
    assert_eq!(s.current_step_index, Some(4));
    assert_eq!(w.served(), (0, 100));
    assert_eq!(w.phase(), ("Healthy", ""));
    assert_eq!(
        w.condition("Completed"),
        ("True", "RolloutCompleted", "RolloutCompleted")
    );
    assert_eq!(
        w.condition("Progressing"),
        (
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet \"web-c2\" has successfully progressed."
        )
    );
    let weights = s.canary.as_ref().unwrap().weights.clone().unwrap();
    assert_eq!(
        (weights.stable.pod_template_hash.as_str(), weights.verified),
        ("c2", Some(true))
    );
}

#[test]
fn set_weight_waits_until_the_proxy_confirms() {
    let mut w = World::healthy(four_steps());
    w.proxy_applies = false;
    let actions = w.deploy("c2");
    assert!(effects(&actions).contains(&Action::SetWeights {
        canary: 20,
        stable: 80
    }));
    assert_eq!(w.step(), Some(0));
    let weights = w.status().canary.as_ref().unwrap().weights.clone().unwrap();
    assert_eq!((weights.canary.weight, weights.verified), (20, Some(false)));
    assert_eq!(
        w.phase(),
        ("Progressing", "waiting for all steps to complete")
    );
    // Asked again on every call until confirmed, and a call is due soon.
    w.advance(5);
    assert_eq!(
        effects(&w.tick()),
        vec![Action::SetWeights {
            canary: 20,
            stable: 80
        }]
    );
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 15_000)));
    assert_eq!(w.step(), Some(0));
    // A confirmation of other weights does not count.
    w.observed.traffic = Some(ObservedTraffic {
        canary_weight: 10,
        stable_weight: 90,
        generation: 7,
    });
    w.tick();
    assert_eq!(w.step(), Some(0));
    w.observed.traffic = Some(ObservedTraffic {
        canary_weight: 20,
        stable_weight: 80,
        generation: 8,
    });
    w.tick();
    assert_eq!(w.step(), Some(1));
    assert_eq!(
        w.status()
            .canary
            .as_ref()
            .unwrap()
            .weights
            .as_ref()
            .unwrap()
            .verified,
        Some(true)
    );
}

#[test]
fn timed_pause_resumes_when_its_duration_has_passed() {
    let mut w =
        World::healthy(json!({"steps": [{"pause": {"duration": "30s"}}, {"setWeight": 50}]}));
    w.advance(100);
    w.deploy("c2");
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
    assert_eq!(
        w.status().pause_conditions[0].start_time,
        clock::format_time(w.at())
    );
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 130_000)));
    w.advance(29);
    w.settle();
    assert_eq!((w.step(), w.phase().0), (Some(0), "Paused"));
    w.advance(1);
    let actions = w.settle();
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/2 completed (pause: 30s)"
    ));
    assert!(has_event(&actions, "RolloutResumed", "Rollout is resumed"));
    assert!(w.pause_reasons().is_empty());
    assert!(!w.status().controller_pause);
    assert_eq!(w.served(), (0, 100));
    assert_eq!(w.status().stable_rs, "c2");
}

#[test]
fn integer_pause_duration_is_seconds() {
    let mut w = World::healthy(json!({"steps": [{"pause": {"duration": 10}}, {"setWeight": 50}]}));
    w.deploy("c2");
    assert_eq!(w.requeue_at, Some(Timestamp::from_millis(T0 + 10_000)));
    w.advance(10);
    let actions = w.settle();
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/2 completed (pause: 10)"
    ));
}

#[test]
fn indefinite_pause_waits_for_promote() {
    let mut w = World::healthy(
        json!({"steps": [{"setWeight": 10}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]}),
    );
    w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.requeue_at, None);
    w.advance(86_400);
    w.settle();
    assert_eq!(
        (w.step(), w.phase()),
        (Some(1), ("Paused", "CanaryPauseStep"))
    );
    // Not timed out: a pause step does not count against the progress deadline.
    assert_eq!(w.condition("Progressing").1, "RolloutPaused");
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!(w.step(), Some(3));
    assert_eq!(w.served(), (60, 40));
    assert_eq!(w.phase(), ("Paused", "CanaryPauseStep"));
}

#[test]
fn promote_without_a_pause_skips_the_current_step() {
    let mut w = World::healthy(four_steps());
    w.proxy_applies = false;
    w.deploy("c2");
    assert_eq!(w.step(), Some(0));
    // Skip setWeight 20 (never confirmed) and land on the indefinite pause.
    w.command(&[Command::Promote]);
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
}

#[test]
fn promote_full_skips_all_remaining_steps() {
    let mut w = World::healthy(four_steps());
    w.deploy("c2");
    assert_eq!(w.step(), Some(1));
    let actions = w.command(&[Command::PromoteFull]);
    assert!(effects(&actions).contains(&Action::PromoteStable {
        pod_hash: "c2".into()
    }));
    assert!(has_event(
        &actions,
        "RolloutCompleted",
        "Rollout completed update to revision 2 (c2): Full promotion requested"
    ));
    w.settle();
    let s = w.status();
    assert_eq!(
        (s.stable_rs.as_str(), s.current_step_index, s.promote_full),
        ("c2", Some(4), false)
    );
    assert!(s.pause_conditions.is_empty());
    assert_eq!(w.served(), (0, 100));
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn header_and_mirror_routes_are_set_at_their_steps_and_removed_at_the_end() {
    let mut w = World::healthy(json!({"steps": [
        {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}]}},
        {"setMirrorRoute": {"name": "shadow", "percentage": 35, "match": [{"path": {"prefix": "/api"}}]}},
        {"setWeight": 10},
        {"pause": {}},
    ]}));
    let actions = w.deploy("c2");
    let fx = effects(&actions);
    match &fx[0] {
        Action::SetHeaderRoute { name, matches } => {
            assert_eq!(name, "beta");
            assert_eq!(matches[0].header_name, "x-beta");
            assert_eq!(matches[0].header_value.as_ref().unwrap().exact, "1");
        }
        other => panic!("expected the header route first, got {other:?}"),
    }
    match &fx[1] {
        Action::SetMirrorRoute {
            name,
            percentage,
            matches,
        } => {
            assert_eq!((name.as_str(), *percentage), ("shadow", 35));
            assert_eq!(matches[0].path.as_ref().unwrap().prefix, "/api");
        }
        other => panic!("expected the mirror route second, got {other:?}"),
    }
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/4 completed (setHeaderRoute: beta)"
    ));
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 2/4 completed (setMirrorRoute: shadow)"
    ));
    assert_eq!(w.step(), Some(3));
    assert!(w.state.managed_routes_set);
    let actions = w.command(&[Command::Promote]);
    let actions = [actions, w.settle()].concat();
    assert_eq!(
        effects(&actions)
            .iter()
            .filter(|a| **a == Action::RemoveManagedRoutes)
            .count(),
        1
    );
    assert!(!w.state.managed_routes_set);
    assert_eq!(w.status().stable_rs, "c2");
}

#[test]
fn experiment_and_set_canary_scale_steps_are_passed_over() {
    let mut w = World::healthy(json!({"steps": [
        {"setCanaryScale": {"weight": 25}},
        {"experiment": {"templates": [{"name": "baseline", "specRef": "stable"}]}},
        {"setWeight": 30},
        {"pause": {}},
    ]}));
    let actions = w.deploy("c2");
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 1/4 completed (setCanaryScale{weight: 25})"
    ));
    assert!(has_event(
        &actions,
        "RolloutStepCompleted",
        "Rollout step 2/4 completed (experiment)"
    ));
    assert_eq!(w.step(), Some(3));
    assert_eq!(w.served(), (30, 70));
}

#[test]
fn no_steps_promotes_at_once() {
    let mut w = World::healthy(json!({}));
    let actions = w.deploy("c2");
    assert!(has_event(
        &actions,
        "RolloutCompleted",
        "Rollout completed update to revision 2 (c2): Completed all 0 canary steps"
    ));
    assert_eq!(w.status().current_step_index, None);
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn max_traffic_weight_scales_the_split() {
    let mut w = World::healthy(json!({
        "trafficRouting": {"maxTrafficWeight": 1000},
        "steps": [{"setWeight": 250}, {"pause": {}}],
    }));
    w.deploy("c2");
    assert_eq!(w.served(), (250, 750));
    w.command(&[Command::Promote]);
    let actions = [w.history.clone(), w.settle()].concat();
    assert!(effects(&actions).contains(&Action::SetWeights {
        canary: 1000,
        stable: 0
    }));
    assert_eq!(w.served(), (0, 1000));
}
