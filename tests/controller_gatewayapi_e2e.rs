//! `weir controller` with the Gateway API plugin's configuration
//! (`trafficRouting.plugins["argoproj-labs/gatewayAPI"]`), on the plugin's own examples,
//! against the in-memory API server with the standard-channel Gateway API CRDs: the
//! HTTPRoute's backendRef weights follow the steps, the in-progress label comes and goes,
//! a `setHeaderRoute` step adds the header rule and a later one (or an abort) takes it away.

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, rollout_path, rs_name, until, Controller,
};
use weir_apiserver_sim::{ApiServer, Options, WriteFailure};

const ENVOY: [&str; 5] = [
    include_str!("../config/tests/data/gatewayapi-plugin-examples/envoygateway/gateway.yaml"),
    include_str!("../config/tests/data/gatewayapi-plugin-examples/envoygateway/stable.yaml"),
    include_str!("../config/tests/data/gatewayapi-plugin-examples/envoygateway/canary.yaml"),
    include_str!("../config/tests/data/gatewayapi-plugin-examples/envoygateway/httproute.yaml"),
    include_str!("../config/tests/data/gatewayapi-plugin-examples/envoygateway/rollout.yaml"),
];

const CILIUM: [&str; 3] = [
    include_str!(
        "../config/tests/data/gatewayapi-plugin-examples/cilium-header-based/service.yaml"
    ),
    include_str!(
        "../config/tests/data/gatewayapi-plugin-examples/cilium-header-based/httproute.yaml"
    ),
    include_str!(
        "../config/tests/data/gatewayapi-plugin-examples/cilium-header-based/rollout.yaml"
    ),
];

const ROUTE: &str = "argo-rollouts-http-route";
const STABLE: &str = "argo-rollouts-stable-service";
const CANARY: &str = "argo-rollouts-canary-service";
const LABEL: &str = "rollouts.argoproj.io/gatewayapi-canary";

fn route(server: &ApiServer) -> Value {
    server
        .get(
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "default",
            ROUTE,
        )
        .unwrap()
}

/// (stable, canary) weights of the route's first rule.
fn weights(route: &Value) -> (Option<i64>, Option<i64>) {
    let refs = route["spec"]["rules"][0]["backendRefs"].as_array().unwrap();
    let of = |name: &str| {
        refs.iter()
            .find(|r| r["name"] == name)
            .and_then(|r| r["weight"].as_i64())
    };
    (of(STABLE), of(CANARY))
}

async fn server() -> ApiServer {
    let server = ApiServer::start(Options {
        pod_ready_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../deploy/crds/weir-crds.yaml"))
        .unwrap();
    server
}

async fn route_until(
    server: &ApiServer,
    controller: &Controller,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = route(server);
        if check(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "route never {what}:\n{}\nlog:\n{}",
            serde_json::to_string_pretty(&r).unwrap(),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn promote(server: &ApiServer) {
    merge_patch(
        server,
        &format!("{}/status", rollout_path("rollouts-demo")),
        json!({"status": {"pauseConditions": null}}),
    )
    .await;
}

async fn new_image(server: &ApiServer, container: &str, image: &str) {
    merge_patch(
        server,
        &rollout_path("rollouts-demo"),
        json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}}),
    )
    .await;
}

fn paused_at(
    step: i64,
) -> impl Fn(&Value, &std::collections::BTreeMap<String, (i64, i64)>) -> bool {
    move |r, _| r["status"]["phase"] == "Paused" && r["status"]["currentStepIndex"] == step
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_gateway_example_weights_follow_the_steps() {
    let server = server().await;
    for doc in ENVOY {
        server.apply_yaml(doc).unwrap();
    }
    let controller = Controller::start(&server);
    let first = until(
        &server,
        &controller,
        "rollouts-demo",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(3, 3)),
    )
    .await;
    // At rest: everything to the stable Service (the CRD's default weight 1 is replaced).
    route_until(&server, &controller, "at rest", |r| {
        weights(r) == (Some(100), Some(0))
    })
    .await;
    let v1 = first["status"]["currentPodHash"]
        .as_str()
        .unwrap()
        .to_owned();

    // The API server answers the first route writes with two conflicts (retried at once
    // with a fresh read) and then an internal error (a TrafficRoutingError event; the
    // weight stays unverified and is written again on a later reconcile).
    server
        .faults()
        .fail_writes("httproutes", 2, WriteFailure::Conflict);
    server
        .faults()
        .fail_writes("httproutes", 1, WriteFailure::InternalError);
    new_image(
        &server,
        "rollouts-demo",
        "kostiscodefresh/summer-of-k8s-app:v2",
    )
    .await;
    let paused = until(
        &server,
        &controller,
        "rollouts-demo",
        "paused at 30%",
        |r, sets| paused_at(1)(r, sets) && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    assert_ne!(paused["status"]["currentPodHash"], json!(v1));
    let r = route(&server);
    assert_eq!(weights(&r), (Some(70), Some(30)));
    assert_eq!(r["metadata"]["labels"][LABEL], "in-progress");
    let events = server.list("v1", "Event", "default").unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "TrafficRoutingError" && e["type"] == "Warning"),
        "{events:?}"
    );
    // The rest of the route is as the user wrote it.
    assert_eq!(r["spec"]["hostnames"], json!(["demo.example.com"]));
    assert_eq!(r["spec"]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(r["spec"]["rules"][0]["matches"][0]["path"]["value"], "/");

    promote(&server).await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "paused at 60%",
        paused_at(3),
    )
    .await;
    assert_eq!(weights(&route(&server)), (Some(40), Some(60)));

    promote(&server).await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "paused at 100%",
        paused_at(5),
    )
    .await;
    assert_eq!(weights(&route(&server)), (Some(0), Some(100)));

    // The last pause promoted: the new version is stable, all traffic back on the stable
    // Service (which now selects it) and the label gone.
    promote(&server).await;
    let done = until(&server, &controller, "rollouts-demo", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
    })
    .await;
    let r = route_until(&server, &controller, "back on stable", |r| {
        weights(r) == (Some(100), Some(0))
    })
    .await;
    assert!(r["metadata"]["labels"].get(LABEL).is_none(), "{r}");
    let svc = server.get("v1", "Service", "default", STABLE).unwrap();
    assert_eq!(
        svc["spec"]["selector"]["rollouts-pod-template-hash"],
        done["status"]["stableRS"]
    );
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// The header rule `setHeaderRoute` writes for the cilium example's match.
fn header_rule(route: &Value) -> Option<Value> {
    route["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| {
            rule["backendRefs"]
                .as_array()
                .is_some_and(|b| b.len() == 1 && b[0]["name"] == CANARY)
        })
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cilium_header_route_example_sets_and_removes_the_header_rule() {
    let server = server().await;
    for doc in CILIUM {
        server.apply_yaml(doc).unwrap();
    }
    let controller = Controller::start(&server);
    until(
        &server,
        &controller,
        "rollouts-demo",
        "healthy",
        |r, sets| r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(5, 5)),
    )
    .await;

    // pause, setCanaryScale 1, setHeaderRoute, pause: one canary pod, no weight, and the
    // header rule sending X-Test: test to it.
    new_image(&server, "http-echo", "hashicorp/http-echo:1.0.1").await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "at the first pause",
        paused_at(0),
    )
    .await;
    assert!(header_rule(&route(&server)).is_none());
    promote(&server).await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "at the header route's pause",
        |r, sets| paused_at(3)(r, sets) && sets.get(&rs_name(r)) == Some(&(1, 1)),
    )
    .await;
    let r = route(&server);
    assert_eq!(weights(&r), (Some(100), Some(0)));
    let rule = header_rule(&r)
        .unwrap_or_else(|| panic!("no header rule: {r}\nlog:\n{}", controller.logs()));
    assert_eq!(
        rule["matches"][0]["headers"],
        json!([{"name": "X-Test", "type": "Exact", "value": "test"}])
    );
    // The route's own match (the CRD's default path) is kept in the header rule.
    assert_eq!(rule["matches"][0]["path"]["value"], "/");
    assert_eq!(rule["backendRefs"][0]["port"], 80);
    assert_eq!(r["spec"]["rules"].as_array().unwrap().len(), 2);

    // Promote: the next setHeaderRoute (no match) removes the rule; the rollout completes.
    promote(&server).await;
    until(&server, &controller, "rollouts-demo", "promoted", |r, _| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == r["status"]["currentPodHash"]
    })
    .await;
    let r = route_until(&server, &controller, "without the header rule", |r| {
        header_rule(r).is_none()
    })
    .await;
    assert_eq!(r["spec"]["rules"].as_array().unwrap().len(), 1);

    // Again, and abort at the header route's pause: the header rule goes at once.
    new_image(&server, "http-echo", "hashicorp/http-echo:1.0.2").await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "at the first pause",
        paused_at(0),
    )
    .await;
    promote(&server).await;
    until(
        &server,
        &controller,
        "rollouts-demo",
        "at the header route's pause",
        paused_at(3),
    )
    .await;
    route_until(&server, &controller, "with the header rule", |r| {
        header_rule(r).is_some()
    })
    .await;
    merge_patch(
        &server,
        &format!("{}/status", rollout_path("rollouts-demo")),
        json!({"status": {"abort": true}}),
    )
    .await;
    until(&server, &controller, "rollouts-demo", "aborted", |r, _| {
        r["status"]["phase"] == "Degraded"
    })
    .await;
    let r = route_until(
        &server,
        &controller,
        "without the header rule after the abort",
        |r| header_rule(r).is_none(),
    )
    .await;
    assert_eq!(weights(&r), (Some(100), Some(0)));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

/// The envoy-gateway example with a weighted experiment step first: the experiment's
/// template gets a Service of its own, which the route sends its weight to while the
/// experiment runs (as the plugin's HandleExperiment adds it), and loses after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weighted_experiment_step_routes_its_share_to_the_templates_service() {
    let server = server().await;
    let steps = "      steps:\n      - setWeight: 30\n";
    let rollout = ENVOY[4].replace(
        steps,
        "      steps:\n      - experiment:\n          duration: 3s\n          templates:\n          - {name: preview, specRef: canary, weight: 20}\n      - setWeight: 30\n",
    );
    assert_ne!(rollout, ENVOY[4]);
    for doc in &ENVOY[..4] {
        server.apply_yaml(doc).unwrap();
    }
    server.apply_yaml(&rollout).unwrap();
    let controller = Controller::start(&server);
    until(&server, &controller, "rollouts-demo", "healthy", |r, _| {
        r["status"]["phase"] == "Healthy"
    })
    .await;
    // A merge patch replaces the container list: the port goes with it (an experiment
    // template without ports gets no Service, as with Argo).
    support::kube::set_image_with_http_port(
        &server,
        "rollouts-demo",
        "rollouts-demo",
        "kostiscodefresh/summer-of-k8s-app:v2",
    )
    .await;
    let at = until(
        &server,
        &controller,
        "rollouts-demo",
        "experimenting",
        |r, _| r["status"]["canary"]["weights"]["additional"][0]["weight"] == 20,
    )
    .await;
    let hash = at["status"]["currentPodHash"].as_str().unwrap();
    let service = format!("rollouts-demo-{hash}-2-0-preview");
    assert_eq!(
        at["status"]["canary"]["weights"]["additional"][0]["serviceName"],
        json!(service)
    );
    assert_eq!(at["status"]["canary"]["weights"]["stable"]["weight"], 80);
    let r = route_until(&server, &controller, "with the template's Service", |r| {
        r["spec"]["rules"][0]["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == json!(service) && b["weight"] == 20)
    })
    .await;
    assert_eq!(weights(&r), (Some(80), Some(0)));
    let added = r["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == json!(service))
        .unwrap()
        .clone();
    assert_eq!(added["port"], 8080, "the Service's port named http");
    assert_eq!(added["namespace"], "default");
    let svc = server.get("v1", "Service", "default", &service).unwrap();
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");

    // The experiment over: the template's Service leaves the route, the next step's
    // weight is set.
    until(
        &server,
        &controller,
        "rollouts-demo",
        "paused at 30%",
        paused_at(2),
    )
    .await;
    let r = route_until(
        &server,
        &controller,
        "without the template's Service",
        |r| {
            r["spec"]["rules"][0]["backendRefs"]
                .as_array()
                .unwrap()
                .len()
                == 2
        },
    )
    .await;
    assert_eq!(weights(&r), (Some(70), Some(30)));
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
