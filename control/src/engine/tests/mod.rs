//! Engine tests: one row or scenario per Argo rule, with a paused clock (time is an
//! argument) and a fake adapter that does what the actions say.

mod analysis;
mod bluegreen;
mod bridge;
mod experiment;
mod kubectl;
mod lifecycle;
mod replicas;
mod resume;
mod steps;

use serde_json::{json, Value};
use weir_config::argo::{Rollout, RolloutStatus, API_VERSION};

use super::*;
use crate::analysis::{AnalysisPhase, Timestamp};

/// 2027-01-15T08:00:00Z, a whole second, so status times round-trip exactly.
const T0: u64 = 1_800_000_000_000;

/// A Rollout named `web` with this canary strategy (services filled in).
fn rollout(mut canary: Value) -> Rollout {
    canary["canaryService"] = json!("web-canary");
    canary["stableService"] = json!("web-stable");
    serde_json::from_value(json!({
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": "web"},
        "spec": {"strategy": {"canary": canary}},
    }))
    .expect("test rollout")
}

/// A rollout, its saved state and what the adapter observes, driven one call at a time.
#[derive(Clone)]
struct World {
    rollout: Rollout,
    state: EngineState,
    observed: Observed,
    /// Seconds since T0.
    now: u64,
    /// Whether the fake proxy applies SetWeights (a proxy that never confirms: false).
    proxy_applies: bool,
    generation: u64,
    /// Everything asked for so far, for assertions on history.
    history: Vec<Action>,
    requeue_at: Option<Timestamp>,
}

impl World {
    /// A rollout whose stable and canary services both serve `s1`, reconciled once (and
    /// its weights applied): Healthy, nothing in progress.
    fn healthy(canary: Value) -> World {
        let mut w = World {
            rollout: rollout(canary),
            state: EngineState::default(),
            observed: Observed {
                canary_hash: "s1".into(),
                stable_hash: "s1".into(),
                ..Observed::default()
            },
            now: 0,
            proxy_applies: true,
            generation: 0,
            history: Vec::new(),
            requeue_at: None,
        };
        w.tick();
        w.tick();
        assert_eq!(w.status().phase, "Healthy", "{:?}", w.status());
        w
    }

    fn at(&self) -> Timestamp {
        Timestamp::from_millis(T0 + self.now * 1000)
    }

    fn tick(&mut self) -> Vec<Action> {
        self.command(&[])
    }

    /// One reconcile with these commands; the fake adapter then carries out the actions.
    fn command(&mut self, commands: &[Command]) -> Vec<Action> {
        let out = reconcile(
            &self.rollout,
            &self.state,
            &self.observed,
            commands,
            self.at(),
        );
        self.state = out.state;
        self.requeue_at = out.requeue_at;
        for action in &out.actions {
            match action {
                Action::SetWeights { canary, stable } if self.proxy_applies => {
                    self.generation += 1;
                    self.observed.traffic = Some(ObservedTraffic {
                        canary_weight: *canary,
                        stable_weight: *stable,
                        generation: self.generation,
                    });
                }
                Action::StartAnalysis(start) => {
                    self.observed
                        .analysis_runs
                        .entry(start.name.clone())
                        .or_insert(ObservedAnalysisRun {
                            phase: AnalysisPhase::Running,
                            message: String::new(),
                        });
                }
                Action::PromoteStable { pod_hash } => self.observed.stable_hash = pod_hash.clone(),
                _ => {}
            }
        }
        self.history.extend(out.actions.iter().cloned());
        out.actions
    }

    /// Calls until nothing more happens at this instant (the adapter reacting to its own
    /// applied actions).
    fn settle(&mut self) -> Vec<Action> {
        let mut all = Vec::new();
        for _ in 0..20 {
            let before = self.state.clone();
            let traffic = self.observed.traffic;
            let actions = self.tick();
            all.extend(actions);
            if self.state == before && self.observed.traffic == traffic {
                return all;
            }
        }
        panic!("engine did not settle: {:?}", self.status());
    }

    /// The canary service gets a new version.
    fn deploy(&mut self, hash: &str) -> Vec<Action> {
        self.observed.canary_hash = hash.into();
        self.settle()
    }

    fn advance(&mut self, secs: u64) {
        self.now += secs;
    }

    fn status(&self) -> &RolloutStatus {
        &self.state.status
    }

    fn step(&self) -> Option<i32> {
        self.status().current_step_index
    }

    /// (canary, stable) as the proxy serves them.
    fn served(&self) -> (i32, i32) {
        let t = self.observed.traffic.expect("proxy has weights");
        (t.canary_weight, t.stable_weight)
    }

    fn phase(&self) -> (&str, &str) {
        (&self.status().phase, &self.status().message)
    }

    fn pause_reasons(&self) -> Vec<&str> {
        self.status()
            .pause_conditions
            .iter()
            .map(|c| c.reason.as_str())
            .collect()
    }

    fn condition(&self, type_: &str) -> (&str, &str, &str) {
        let c =
            conditions::get(self.status(), type_).unwrap_or_else(|| panic!("no {type_} condition"));
        (&c.status, &c.reason, &c.message)
    }

    fn set_run(&mut self, name: &str, phase: AnalysisPhase, message: &str) {
        self.observed.analysis_runs.insert(
            name.to_string(),
            ObservedAnalysisRun {
                phase,
                message: message.to_string(),
            },
        );
    }

    fn step_run(&self) -> Option<(&str, &str)> {
        let run = self
            .status()
            .canary
            .as_ref()?
            .current_step_analysis_run_status
            .as_ref()?;
        Some((&run.name, &run.status))
    }

    fn background_run(&self) -> Option<(&str, &str)> {
        let run = self
            .status()
            .canary
            .as_ref()?
            .current_background_analysis_run_status
            .as_ref()?;
        Some((&run.name, &run.status))
    }
}

/// (reason, message) of the events among `actions`.
fn events(actions: &[Action]) -> Vec<(String, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some((e.reason.clone(), e.message.clone())),
            _ => None,
        })
        .collect()
}

fn has_event(actions: &[Action], reason: &str, message: &str) -> bool {
    events(actions)
        .iter()
        .any(|(r, m)| r == reason && m == message)
}

/// The actions that are not events.
fn effects(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Event(_)))
        .cloned()
        .collect()
}

/// The canary strategy most tests use.
fn four_steps() -> Value {
    json!({"steps": [
        {"setWeight": 20},
        {"pause": {}},
        {"setWeight": 40},
        {"pause": {"duration": "30s"}},
    ]})
}

#[test]
fn first_sight_adopts_the_stable_version_and_is_healthy() {
    let w = World::healthy(four_steps());
    let s = w.status();
    assert_eq!(s.stable_rs, "s1");
    assert_eq!(s.current_pod_hash, "s1");
    assert_eq!(s.current_step_index, Some(4));
    assert_eq!(w.served(), (0, 100));
    assert_eq!(w.state.revision, 1);
    assert_eq!(w.phase(), ("Healthy", ""));
    assert_eq!(
        w.condition("Healthy"),
        ("True", "RolloutHealthy", "Rollout is healthy")
    );
    assert_eq!(
        w.condition("Completed"),
        ("True", "RolloutCompleted", "RolloutCompleted")
    );
    assert_eq!(
        w.condition("Progressing"),
        (
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet \"web-s1\" has successfully progressed."
        )
    );
    assert_eq!(
        w.condition("Available"),
        (
            "True",
            "AvailableReason",
            "Rollout has minimum availability"
        )
    );
    let weights = s.canary.as_ref().unwrap().weights.as_ref().unwrap();
    assert_eq!(weights.verified, Some(true));
    assert_eq!(weights.canary.service_name, "web-canary");
    assert_eq!(weights.stable.service_name, "web-stable");
    assert!(events(&w.history).iter().all(|(r, _)| r != "SkipSteps"));
}

#[test]
fn a_healthy_rollout_is_quiet_and_records_the_observed_generation() {
    let mut w = World::healthy(four_steps());
    w.rollout
        .metadata
        .other
        .insert("generation".into(), json!(3));
    w.advance(3600);
    let actions = w.tick();
    assert_eq!(actions, vec![]);
    assert_eq!(w.requeue_at, None);
    assert_eq!(w.status().observed_generation, "3");
    assert_eq!(w.phase(), ("Healthy", ""));
}

#[test]
fn initial_deploy_without_a_stable_version_promotes_at_once() {
    let mut w = World {
        rollout: rollout(four_steps()),
        state: EngineState::default(),
        observed: Observed {
            canary_hash: "c1".into(),
            ..Observed::default()
        },
        now: 0,
        proxy_applies: true,
        generation: 0,
        history: Vec::new(),
        requeue_at: None,
    };
    let actions = w.settle();
    let fx = effects(&actions);
    assert_eq!(
        fx[0],
        Action::PromoteStable {
            pod_hash: "c1".into()
        }
    );
    assert!(fx.contains(&Action::SetWeights {
        canary: 0,
        stable: 100
    }));
    assert!(has_event(
        &actions,
        "RolloutCompleted",
        "Rollout completed update to revision 1 (c1): Initial deploy"
    ));
    assert_eq!(w.status().stable_rs, "c1");
    assert_eq!(w.phase(), ("Healthy", ""));
}

/// One metric over Prometheus, taking the service as an argument.
fn success_rate_template() -> weir_config::argo::AnalysisTemplateSpec {
    serde_json::from_value(json!({
        "args": [{"name": "service", "value": "web-canary"}],
        "metrics": [{
            "name": "success-rate",
            "interval": "1m",
            "successCondition": "result >= 0.99",
            "provider": {"prometheus": {"address": "http://prom:9090", "query": "rate({{args.service}})"}},
        }],
    }))
    .expect("test template")
}
