//! Crash-resume: the engine's state survives JSON, and a restored engine continues exactly
//! as the original does.

use super::*;

#[test]
fn state_round_trips_through_json_and_the_engine_continues_identically() {
    let mut w = World::healthy(json!({
        "steps": [
            {"setWeight": 20},
            {"analysis": {"templates": [{"templateName": "rate"}]}},
            {"setWeight": 40},
            {"pause": {"duration": "45s"}},
            {"setWeight": 80},
        ],
        "analysis": {"templates": [{"templateName": "rate"}], "startingStep": 1},
    }));
    w.rollout.spec.paused = false;
    w.observed
        .templates
        .namespaced
        .insert("rate".into(), success_rate_template());
    w.advance(7);
    w.deploy("c2");
    w.set_run("web-c2-2-1", AnalysisPhase::Successful, "");
    w.settle();
    w.advance(12);
    w.command(&[Command::Pause]);
    assert_eq!(w.step(), Some(3));

    let json = serde_json::to_string_pretty(&w.state).unwrap();
    for key in [
        "\"currentStepIndex\": 3",
        "\"stableRS\": \"s1\"",
        "\"currentPodHash\": \"c2\"",
        "\"revision\": 2",
        "\"paused\": true",
        "\"reason\": \"CanaryPauseStep\"",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
    let restored: EngineState = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, w.state);

    let mut twin = World {
        rollout: w.rollout.clone(),
        state: restored,
        observed: w.observed.clone(),
        now: w.now,
        proxy_applies: true,
        generation: w.generation,
        history: Vec::new(),
        requeue_at: None,
    };
    // The same script on both: resume, time passes, the pause ends, the rollout completes.
    let script: [(u64, &[Command]); 5] = [
        (0, &[Command::Resume]),
        (10, &[]),
        (50, &[]),
        (0, &[]),
        (0, &[]),
    ];
    for (secs, commands) in script {
        w.advance(secs);
        twin.advance(secs);
        let a = w.command(commands);
        let b = twin.command(commands);
        assert_eq!(a, b);
        assert_eq!(w.state, twin.state);
        assert_eq!(w.requeue_at, twin.requeue_at);
        // And a JSON round trip at every point changes nothing either.
        let again: EngineState =
            serde_json::from_str(&serde_json::to_string(&twin.state).unwrap()).unwrap();
        assert_eq!(again, twin.state);
    }
    w.settle();
    twin.settle();
    assert_eq!(w.state, twin.state);
    assert_eq!(twin.status().stable_rs, "c2");
    assert_eq!(twin.phase(), ("Healthy", ""));
}
