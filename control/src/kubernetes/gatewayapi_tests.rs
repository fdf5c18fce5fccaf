//! The plugin's HTTPRoute writes, on the manifests its users apply (vendored from the
//! plugin's examples): weights, the in-progress label, header routes and their removal.

use super::*;

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

fn envoy_route() -> Value {
    yaml(include_str!(
        "../../../config/tests/data/gatewayapi-plugin-examples/envoygateway/httproute.yaml"
    ))
}

fn cilium_route() -> Value {
    yaml(include_str!(
        "../../../config/tests/data/gatewayapi-plugin-examples/cilium-header-based/httproute.yaml"
    ))
}

/// The plugin configuration of a Rollout manifest.
fn plugin_config(rollout: &str) -> Value {
    let r = yaml(rollout);
    r["spec"]["strategy"]["canary"]["trafficRouting"]["plugins"][PLUGIN].clone()
}

fn services(managed: &[&str]) -> Services {
    Services {
        canary: "argo-rollouts-canary-service".into(),
        stable: "argo-rollouts-stable-service".into(),
        managed_routes: managed.iter().map(|s| s.to_string()).collect(),
    }
}

fn weights(route: &Value) -> Vec<(String, Value)> {
    route["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["backendRefs"].as_array().unwrap().iter())
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["weight"].clone()))
        .collect()
}

#[test]
fn configurations_read_as_the_plugin_reads_them() {
    let envoy = GatewayApiRouting::from_plugin(
        &plugin_config(include_str!(
            "../../../config/tests/data/gatewayapi-plugin-examples/envoygateway/rollout.yaml"
        )),
        "ignored",
    )
    .unwrap();
    assert_eq!(
        envoy.http_routes,
        vec![HttpRouteRef {
            name: "argo-rollouts-http-route".into(),
            use_header_routes: true
        }]
    );
    assert_eq!(envoy.namespace, "default");
    let cilium = GatewayApiRouting::from_plugin(
        &plugin_config(include_str!(
            "../../../config/tests/data/gatewayapi-plugin-examples/cilium-header-based/rollout.yaml"
        )),
        "ns",
    )
    .unwrap();
    assert!(cilium.http_routes[0].use_header_routes);
    let defaulted = GatewayApiRouting::from_plugin(&json!({"httpRoute": "r"}), "team-a").unwrap();
    assert_eq!(defaulted.namespace, "team-a");
    let none = GatewayApiRouting::from_plugin(&json!({"grpcRoute": "g"}), "ns");
    assert!(none.unwrap_err().contains("no httpRoute or httpRoutes"));
}

#[test]
fn a_weight_splits_canary_and_stable_and_labels_the_route_while_in_progress() {
    let mut route = envoy_route();
    let routing = GatewayApiRouting::from_plugin(&json!({"httpRoute": "x"}), "default").unwrap();
    set_weight(&mut route, &services(&[]), &routing, 30).unwrap();
    assert_eq!(
        weights(&route),
        vec![
            ("argo-rollouts-stable-service".to_owned(), json!(70)),
            ("argo-rollouts-canary-service".to_owned(), json!(30))
        ]
    );
    assert_eq!(
        route["metadata"]["labels"][IN_PROGRESS_LABEL],
        "in-progress"
    );
    set_weight(&mut route, &services(&[]), &routing, 0).unwrap();
    assert_eq!(weights(&route)[0].1, json!(100));
    assert!(route["metadata"]["labels"].get(IN_PROGRESS_LABEL).is_none());

    let quiet = GatewayApiRouting {
        disable_in_progress_label: true,
        ..routing
    };
    let mut route = envoy_route();
    set_weight(&mut route, &services(&[]), &quiet, 50).unwrap();
    assert!(route["metadata"].get("labels").is_none());
}

#[test]
fn a_route_without_both_services_is_an_error() {
    let mut route = envoy_route();
    route["spec"]["rules"][0]["backendRefs"]
        .as_array_mut()
        .unwrap()
        .pop();
    let routing = GatewayApiRouting::from_plugin(&json!({"httpRoute": "x"}), "default").unwrap();
    let e = set_weight(&mut route, &services(&[]), &routing, 10).unwrap_err();
    assert!(e.contains("argo-rollouts-http-route"), "{e}");
}

#[test]
fn a_header_route_adds_one_named_rule_to_the_canary_and_weights_skip_it() {
    let mut route = cilium_route();
    let svc = services(&["argo-rollouts"]);
    let step = json!({"name": "argo-rollouts",
                      "match": [{"headerName": "X-Test", "headerValue": {"exact": "test"}}]});
    set_header_route(&mut route, &svc, &step).unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    let managed = &rules[1];
    assert_eq!(managed["name"], "argo-rollouts");
    assert_eq!(
        managed["backendRefs"],
        json!([{"group": "", "kind": "Service", "name": "argo-rollouts-canary-service", "port": 80}])
    );
    let first_match = &managed["matches"][0];
    assert_eq!(
        first_match["headers"].as_array().unwrap().last().unwrap(),
        &json!({"name": "X-Test", "type": "Exact", "value": "test"})
    );
    // The source rule has no matches of its own: the managed rule matches on the headers.
    assert_eq!(first_match.as_object().unwrap().len(), 1, "{first_match}");

    // A weight leaves the managed rule alone.
    let routing = GatewayApiRouting::from_plugin(&json!({"httpRoute": "x"}), "default").unwrap();
    set_weight(&mut route, &svc, &routing, 40).unwrap();
    assert!(route["spec"]["rules"][1]["backendRefs"][0]
        .get("weight")
        .is_none());

    // The same header route again replaces it (prefix: a regular expression); then the
    // step without a match removes it.
    let step = json!({"name": "argo-rollouts",
                      "match": [{"headerName": "X-Test", "headerValue": {"prefix": "te"}}]});
    set_header_route(&mut route, &svc, &step).unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    let headers = rules[1]["matches"][0]["headers"].as_array().unwrap();
    assert_eq!(
        headers.last().unwrap(),
        &json!({"name": "X-Test", "type": "RegularExpression", "value": "te.*"})
    );
    set_header_route(&mut route, &svc, &json!({"name": "argo-rollouts"})).unwrap();
    assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 1);
}

#[test]
fn every_rule_with_both_services_gets_its_own_managed_rule() {
    let mut route = envoy_route();
    let second = json!({"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
        "backendRefs": [{"name": "argo-rollouts-stable-service", "port": 8080},
                        {"name": "argo-rollouts-canary-service", "port": 8080}]});
    route["spec"]["rules"].as_array_mut().unwrap().push(second);
    let svc = services(&["beta"]);
    let step = json!({"name": "beta",
                      "match": [{"headerName": "x-beta", "headerValue": {"regex": "^(1|yes)$"}}]});
    set_header_route(&mut route, &svc, &step).unwrap();
    let names: Vec<&str> = route["spec"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["beta", "beta-1"]);
    assert_eq!(route["spec"]["rules"][3]["backendRefs"][0]["port"], 8080);
    let bad = json!({"name": "beta", "match": [{"headerName": "x", "headerValue": {}}]});
    assert!(set_header_route(&mut route, &svc, &bad).is_err());
    assert!(remove_managed_routes(&mut route, &svc));
    assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 2);
    assert!(!remove_managed_routes(&mut route, &svc));
}

#[test]
fn managed_rule_names_are_the_route_name_or_it_with_a_number() {
    let managed: BTreeSet<String> = ["canary-route".to_owned()].into();
    for (name, expected) in [
        ("canary-route", true),
        ("canary-route-1", true),
        ("canary-route-12", true),
        ("canary-route-", false),
        ("canary-route-x", false),
        ("canary-routes", false),
        ("other", false),
    ] {
        assert_eq!(is_managed_rule_name(name, &managed), expected, "{name}");
    }
}

#[test]
fn a_running_experiments_templates_join_the_route_and_leave_it_after() {
    let mut route = envoy_route();
    let svcs = services(&[]);
    let routing = GatewayApiRouting::from_plugin(
        &plugin_config(include_str!(
            "../../../config/tests/data/gatewayapi-plugin-examples/envoygateway/rollout.yaml"
        )),
        "default",
    )
    .unwrap();
    set_weight(&mut route, &svcs, &routing, 0).unwrap();
    let running = [
        ExperimentRef {
            service: "ex-baseline".into(),
            weight: 5,
            port: 80,
        },
        ExperimentRef {
            service: "ex-canary".into(),
            weight: 10,
            port: 8080,
        },
    ];
    set_experiment_backends(&mut route, &svcs, "default", &running, &BTreeSet::new());
    // The plugin's HandleExperiment: the stable gives up the templates' share, the
    // templates' Services are added once with their weights and ports.
    assert_eq!(
        weights(&route),
        [
            ("argo-rollouts-stable-service".to_owned(), json!(85)),
            ("argo-rollouts-canary-service".to_owned(), json!(0)),
            ("ex-baseline".to_owned(), json!(5)),
            ("ex-canary".to_owned(), json!(10)),
        ]
    );
    let added = &route["spec"]["rules"][0]["backendRefs"][3];
    assert_eq!(added["port"], 8080);
    assert_eq!(added["namespace"], "default");
    let again = route.clone();
    set_experiment_backends(&mut route, &svcs, "default", &running, &BTreeSet::new());
    assert_eq!(route, again, "added once");
    let named: BTreeSet<String> = ["ex-baseline", "ex-canary"].map(String::from).into();
    assert_eq!(other_weights(&route, &svcs, &named), 15);
    assert_eq!(other_weights(&route, &svcs, &BTreeSet::new()), 0);

    // The experiment over: the Services the last status named leave, the stable takes all.
    set_experiment_backends(&mut route, &svcs, "default", &[], &named);
    assert_eq!(
        weights(&route),
        [
            ("argo-rollouts-stable-service".to_owned(), json!(100)),
            ("argo-rollouts-canary-service".to_owned(), json!(0)),
        ]
    );
    // A backend the Rollout never added is not its to remove.
    route["spec"]["rules"][0]["backendRefs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "someone-elses", "port": 80, "weight": 1}));
    set_experiment_backends(&mut route, &svcs, "default", &[], &named);
    assert_eq!(weights(&route).len(), 3);
}
