//! On Kubernetes the engine also reads the ReplicaSets (`Observed::replicas`): a
//! `setWeight` or `setCanaryScale` step is done only once its pods are there, and with a
//! traffic router no weight goes to a canary without an available pod, the previous step's
//! weight standing until the current step's pods are up (Argo's
//! `completedCurrentCanaryStep` and `reconcileTrafficRouting`). Standalone passes `None`
//! and is untouched (every other table).

use super::*;

fn replicas(new_available: i32, at_desired: bool) -> Option<ObservedReplicas> {
    Some(ObservedReplicas {
        new_available,
        at_desired,
    })
}

fn routed(steps: Value) -> Value {
    json!({"trafficRouting": {"nginx": {"stableIngress": "web"}}, "steps": steps})
}

#[test]
fn a_set_weight_step_waits_for_its_pods_even_when_the_weights_are_confirmed() {
    let mut w = World::healthy(json!({"steps": [{"setWeight": 20}, {"pause": {}}]}));
    w.observed.replicas = replicas(0, false);
    w.deploy("c2");
    assert_eq!(w.step(), Some(0), "not done before the pods are there");
    w.observed.replicas = replicas(1, true);
    w.settle();
    assert_eq!(w.step(), Some(1));
    assert_eq!(w.pause_reasons(), ["CanaryPauseStep"]);
}

#[test]
fn a_traffic_router_gives_no_weight_to_a_canary_without_a_pod() {
    let mut w = World::healthy(routed(json!([{"setWeight": 20}, {"pause": {}}])));
    w.observed.replicas = replicas(0, false);
    w.deploy("c2");
    assert_eq!(w.served(), (0, 100));
    w.observed.replicas = replicas(1, true);
    w.settle();
    assert_eq!(w.served(), (20, 80));
    assert_eq!(w.step(), Some(1));
}

#[test]
fn the_previous_weight_stands_until_the_current_steps_pods_are_up() {
    let mut w = World::healthy(routed(json!([
        {"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {}},
    ])));
    w.observed.replicas = replicas(1, true);
    w.deploy("c2");
    assert_eq!((w.step(), w.served()), (Some(1), (20, 80)));
    // Promoted to setWeight 50: its pods are not there yet, so 20 stands.
    w.observed.replicas = replicas(1, false);
    w.command(&[Command::Promote]);
    w.settle();
    assert_eq!((w.step(), w.served()), (Some(2), (20, 80)));
    w.observed.replicas = replicas(3, true);
    w.settle();
    assert_eq!((w.step(), w.served()), (Some(3), (50, 50)));
}

#[test]
fn a_set_canary_scale_step_is_done_when_its_pods_are() {
    let mut w = World::healthy(routed(json!([
        {"setCanaryScale": {"replicas": 2}}, {"setWeight": 10}, {"pause": {}},
    ])));
    w.observed.replicas = replicas(1, false);
    w.deploy("c2");
    assert_eq!(w.step(), Some(0));
    w.observed.replicas = replicas(2, true);
    w.settle();
    assert_eq!(w.step(), Some(2));
}

#[test]
fn a_step_reached_within_a_call_waits_for_its_own_replica_counts() {
    let mut w = World::healthy(json!({
        "trafficRouting": {
            "plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}},
            "managedRoutes": [{"name": "beta"}],
        },
        "steps": [
            {"pause": {}},
            {"setCanaryScale": {"replicas": 1}},
            {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "x", "headerValue": {"exact": "1"}}]}},
            {"pause": {}},
            {"setHeaderRoute": {"name": "beta"}},
        ],
    }));
    // Measured at the pause: no canary pods wanted, none there.
    w.observed.replicas = replicas(0, true);
    w.deploy("c2");
    assert_eq!(w.step(), Some(0));
    // Promoted: one call moves to setCanaryScale and no further, since the counts it was
    // given were measured for the pause, not for setCanaryScale's one pod.
    let mut actions = w.command(&[Command::Promote]);
    assert_eq!(w.step(), Some(1));
    w.observed.replicas = replicas(0, false);
    actions.extend(w.settle());
    assert_eq!(w.step(), Some(1));
    w.observed.replicas = replicas(1, true);
    actions.extend(w.settle());
    assert_eq!(w.step(), Some(3));
    let fx = effects(&actions);
    assert!(
        fx.iter()
            .any(|a| matches!(a, Action::SetHeaderRoute { .. })),
        "{fx:?}"
    );
    assert!(!fx.contains(&Action::RemoveManagedRoutes), "{fx:?}");
}

/// The pods as the Kubernetes adapter counts them: all of them, the new version's, and the
/// available ones (ready alike).
fn counted(replicas: i32, updated: i32, available: i32) -> Option<PodCounts> {
    Some(PodCounts {
        replicas,
        updated,
        ready: available,
        available,
        saturated: Vec::new(),
        generation_observed: true,
    })
}

#[test]
fn healthy_and_available_wait_for_every_pod_and_the_old_ones_to_go() {
    // Argo's RolloutHealthy and Available: a promoted canary is Healthy only once its
    // desired pods are updated and available and the old ones are gone.
    let mut w = World::healthy(json!({"steps": [{"setWeight": 50}]}));
    w.observed.pods = counted(1, 1, 1);
    w.tick();
    assert_eq!(w.condition("Healthy").0, "True");
    assert_eq!(w.condition("Available").0, "True");

    // The stable pod is lost: no longer Healthy, not Available, and progressing again
    // (Argo resets the condition so that a promoted Rollout does not time out).
    w.observed.pods = counted(1, 1, 0);
    w.tick();
    assert_eq!(
        w.condition("Healthy"),
        ("False", "RolloutHealthy", "Rollout is not healthy")
    );
    assert_eq!(
        w.condition("Available"),
        (
            "False",
            "AvailableReason",
            "Rollout does not have minimum availability"
        )
    );
    assert_eq!(
        w.condition("Progressing"),
        (
            "True",
            "ReplicaSetNotAvailable",
            "Rollout does not have minimum availability"
        )
    );

    // A new version, promoted through its one step with the weights confirmed: every step
    // is done and it is stable, but the old pod is still there.
    w.observed.pods = counted(2, 1, 2);
    w.observed.replicas = replicas(1, true);
    w.deploy("c2");
    w.settle();
    assert_eq!(w.status().stable_rs, "c2");
    assert_eq!(w.condition("Healthy").0, "False");
    assert_eq!(w.condition("Available").0, "True");
    assert_eq!(w.condition("Completed").0, "True");
    assert_eq!(w.condition("Progressing").1, "ReplicaSetUpdated");
    // The old pod gone: Healthy, and the new ReplicaSet has progressed.
    w.observed.pods = counted(1, 1, 1);
    w.tick();
    assert_eq!(w.condition("Healthy").0, "True");
    assert_eq!(
        w.condition("Progressing"),
        (
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet \"web-c2\" has successfully progressed."
        )
    );
}

#[test]
fn a_spec_change_not_yet_observed_is_not_healthy() {
    // Argo's RolloutHealthy also asks that the status read had observed the Rollout's
    // generation.
    let mut w = World::healthy(json!({"steps": [{"setWeight": 50}]}));
    w.observed.pods = counted(1, 1, 1);
    w.observed.pods.as_mut().unwrap().generation_observed = false;
    w.tick();
    assert_eq!(w.condition("Healthy").0, "False");
    w.observed.pods.as_mut().unwrap().generation_observed = true;
    w.tick();
    assert_eq!(w.condition("Healthy").0, "True");
}
