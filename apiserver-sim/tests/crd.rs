//! CustomResourceDefinitions: registration, Established status, discovery, and the
//! structural schema's pruning, defaulting and validation of custom resources.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn a_crd_is_established_and_served() {
    let (server, c) = start().await;
    let (s, crd) = c
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &widget_crd(),
        )
        .await;
    assert_eq!(s, 201, "{crd}");
    assert_eq!(crd["spec"]["names"]["listKind"], "WidgetList", "defaulted");
    assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
    server
        .wait_until(std::time::Duration::from_secs(2), |s| {
            s.get(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                "",
                "widgets.example.com",
            )
            .is_ok_and(|c| c["status"]["conditions"][1]["type"] == "Established")
        })
        .await
        .unwrap();
    let (_, crd) = c
        .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
        .await;
    assert_eq!(crd["status"]["conditions"][1]["status"], "True");
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");

    let (s, list) = c.get("/apis/example.com/v1").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["widgets", "widgets/status", "widgets/scale"]);
    assert_eq!(list["resources"][0]["shortNames"], json!(["wd"]));

    let (s, w) = c.post(WIDGETS, &widget("default", "w1", 2)).await;
    assert_eq!(s, 201, "{w}");
    assert_eq!(w["metadata"]["generation"], 1);
    let (_, list) = c.get(WIDGETS).await;
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(
        list["items"][0]["kind"], "Widget",
        "custom resource lists keep apiVersion/kind"
    );
    let (s, e) = c.get(&format!("{WIDGETS}/nope")).await;
    assert_eq!(
        (s, e["message"].as_str()),
        (404, Some("widgets.example.com \"nope\" not found"))
    );
}

#[tokio::test]
async fn custom_resources_need_a_resource_version_to_update() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let (_, w) = c.post(WIDGETS, &widget("default", "w1", 2)).await;
    let (s, e) = c
        .put(&format!("{WIDGETS}/w1"), &widget("default", "w1", 3))
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        e["message"],
        "widgets.example.com \"w1\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    );
    let mut stale = w.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let (s, e) = c.put(&format!("{WIDGETS}/w1"), &stale).await;
    assert_eq!(s, 409);
    assert_eq!(
        e["details"],
        json!({"name": "w1", "group": "example.com", "kind": "widgets"})
    );
    assert_eq!(
        e["message"],
        "Operation cannot be fulfilled on widgets.example.com \"w1\": the object has been modified; please apply your changes to the latest version and try again"
    );
}

#[tokio::test]
async fn status_subresource_and_generation_of_custom_resources() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let mut body = widget("default", "w1", 2);
    body["status"] = json!({"phase": "Set"});
    let (_, w) = c.post(WIDGETS, &body).await;
    assert!(w.get("status").is_none(), "create drops status: {w}");
    let mut next = w.clone();
    next["metadata"]["labels"] = json!({"a": "b"});
    let (_, w2) = c.put(&format!("{WIDGETS}/w1"), &next).await;
    assert_eq!(
        w2["metadata"]["generation"], 1,
        "metadata changes keep the generation"
    );
    let mut next = w2.clone();
    next["status"] = json!({"phase": "Running"});
    next["spec"]["replicas"] = json!(5);
    let (_, w3) = c.put(&format!("{WIDGETS}/w1/status"), &next).await;
    assert_eq!(w3["status"]["phase"], "Running");
    assert_eq!(
        w3["spec"]["replicas"], 2,
        "status writes change only status"
    );
    assert_eq!(w3["metadata"]["generation"], 1);
    let mut next = w3.clone();
    next["spec"]["replicas"] = json!(4);
    next["status"]["phase"] = json!("Ignored");
    let (_, w4) = c.put(&format!("{WIDGETS}/w1"), &next).await;
    assert_eq!(w4["metadata"]["generation"], 2);
    assert_eq!(w4["status"]["phase"], "Running");
}

#[tokio::test]
async fn unknown_fields_are_pruned_and_defaults_applied() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let mut body = widget("default", "w1", 2);
    body["spec"]["unknown"] = json!(1);
    body["spec"]["free"] = json!({"anything": {"goes": true}});
    body["spec"]["labels"] = json!({"x": "y"});
    body["spec"]["port"] = json!("http");
    body["top"] = json!("level");
    body["metadata"]["bogus"] = json!("x");
    let (s, w) = c.post(WIDGETS, &body).await;
    assert_eq!(s, 201, "{w}");
    assert!(w["spec"].get("unknown").is_none(), "{w}");
    assert!(w.get("top").is_none());
    assert!(w["metadata"].get("bogus").is_none());
    assert_eq!(w["spec"]["free"], json!({"anything": {"goes": true}}));
    assert_eq!(w["spec"]["labels"], json!({"x": "y"}));
    assert_eq!(w["spec"]["size"], "M");
    assert_eq!(w["spec"]["port"], "http");
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let mut body = widget("default", "w1", 2);
    body["spec"]["unknown"] = json!(1);
    let (s, e) = c
        .post(&format!("{WIDGETS}?fieldValidation=Strict"), &body)
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        e["message"],
        "strict decoding error: unknown field \"spec.unknown\""
    );
    c.post(WIDGETS, &widget("default", "w1", 2)).await;
    let (s, e) = c
        .patch(
            &format!("{WIDGETS}/w1?fieldValidation=Strict"),
            "application/merge-patch+json",
            &json!({"spec": {"nope": 1}}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with(" \"\" is invalid: patch: Invalid value: "),
        "{msg}"
    );
    assert!(
        msg.ends_with("strict decoding error: unknown field \"spec.nope\""),
        "{msg}"
    );
}

#[tokio::test]
async fn schema_violations_are_invalid_with_field_paths() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    let mut body = widget("default", "w1", 2);
    body["spec"]["replicas"] = json!("two");
    let (s, e) = c.post(WIDGETS, &body).await;
    assert_eq!(s, 422);
    assert_eq!(
        e["message"],
        "Widget.example.com \"w1\" is invalid: spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""
    );
    assert_eq!(e["details"]["causes"][0]["field"], "spec.replicas");
    let cases = [
        (json!({"color": "green"}), "spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\""),
        (json!({"replicas": -1}), "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
        (json!({"size": "XXXL"}), "spec.size: Too long: may not be longer than 3"),
        (json!({"port": true}), "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""),
        (json!({"items": [{"name": "a"}, {"name": "a"}]}), "spec.items[1]: Duplicate value: map[string]interface {}{\"name\":\"a\"}"),
    ];
    for (spec_patch, want) in cases {
        let mut b = widget("default", "w2", 1);
        for (k, v) in spec_patch.as_object().unwrap() {
            b["spec"][k] = v.clone();
        }
        let (s, e) = c.post(WIDGETS, &b).await;
        assert_eq!(s, 422, "{b}");
        assert!(
            e["message"].as_str().unwrap().ends_with(want),
            "{} !~ {want}",
            e["message"]
        );
    }
    let (s, e) = c.post(WIDGETS, &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w3"}, "spec": {}})).await;
    assert_eq!(s, 422);
    assert_eq!(
        e["message"],
        "Widget.example.com \"w3\" is invalid: spec.replicas: Required value"
    );
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects_and_stops_serving_it() {
    let (_s, c) = start().await;
    install_widgets(&c).await;
    c.post(WIDGETS, &widget("default", "w1", 1)).await;
    let (s, _) = c
        .delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
        .await;
    assert_eq!(s, 200);
    let (s, _) = c.get(WIDGETS).await;
    assert_eq!(s, 404);
    install_widgets(&c).await;
    let (_, list) = c.get(WIDGETS).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn a_crd_must_be_named_after_its_plural_and_group() {
    let (_s, c) = start().await;
    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("gadgets.example.com");
    let (s, e) = c
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        )
        .await;
    assert_eq!(s, 422);
    assert!(e["message"].as_str().unwrap().contains("metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"), "{e}");
}

const ARGO: &str = "/work/shared/argo-examples";

fn argo_file(path: &str) -> Option<String> {
    match std::fs::read_to_string(format!("{ARGO}/{path}")) {
        Ok(s) => Some(s),
        Err(_) => {
            println!("skipping: {ARGO}/{path} is not here");
            None
        }
    }
}

#[tokio::test]
async fn argo_crds_register_and_prune_a_weir_provider() {
    let (Some(at_crd), Some(ro_crd)) = (
        argo_file("crds/analysis-template-crd.yaml"),
        argo_file("crds/rollout-crd.yaml"),
    ) else {
        return;
    };
    let (server, _c) = start().await;
    server.apply_yaml(&at_crd).unwrap();
    server.apply_yaml(&ro_crd).unwrap();
    let template = r#"
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: success-rate, namespace: default}
spec:
  metrics:
  - name: success-rate
    successCondition: result[0] >= 0.95
    provider:
      weir: {window: 30s}
      prometheus: {address: "http://prom:9090", query: "up"}
"#;
    let created = server.apply_yaml(template).unwrap();
    let provider = &created[0]["spec"]["metrics"][0]["provider"];
    assert!(
        provider.get("weir").is_none(),
        "a real server prunes the unknown provider: {provider}"
    );
    assert_eq!(provider["prometheus"]["query"], "up");
    if let Some(ro) = argo_file("examples/rollout-canary.yaml") {
        let created = server.apply_yaml(&ro).unwrap();
        assert_eq!(
            created[0]["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"], "TCP",
            "schema default"
        );
    }
}

#[tokio::test]
async fn every_argo_example_is_accepted() {
    let Ok(entries) = std::fs::read_dir(format!("{ARGO}/examples")) else {
        println!("skipping: {ARGO}/examples is not here");
        return;
    };
    let (server, _c) = start().await;
    for crd in [
        "analysis-run",
        "analysis-template",
        "cluster-analysis-template",
        "experiment",
        "rollout",
    ] {
        let Some(text) = argo_file(&format!("crds/{crd}-crd.yaml")) else {
            return;
        };
        server.apply_yaml(&text).unwrap();
    }
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let created = server
            .apply_yaml(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!created.is_empty(), "{}", f.display());
    }
    let ro = server
        .get(
            "argoproj.io/v1alpha1",
            "Rollout",
            "default",
            "rollout-canary",
        )
        .unwrap();
    let mut status = ro.clone();
    status["status"] = serde_json::json!({"phase": "Progressing", "currentStepIndex": 1, "HPAReplicas": 5, "selector": "app=rollout-canary"});
    let written = server.update_status(status).unwrap();
    assert_eq!(written["status"]["currentStepIndex"], 1);
}

#[tokio::test]
async fn dropped_fields_are_reported_in_warning_headers() {
    let (server, _c) = start().await;
    let c = support::Client::new(&server.url());
    install_widgets(&c).await;
    let mut body = widget("default", "w1", 2);
    body["spec"]["typo"] = json!(1);
    let warnings = c.post_warnings(WIDGETS, &body).await;
    assert_eq!(warnings, ["299 - \"unknown field \\\"spec.typo\\\"\""]);
    let clean = c.post_warnings(WIDGETS, &widget("default", "w2", 2)).await;
    assert!(clean.is_empty());
}
