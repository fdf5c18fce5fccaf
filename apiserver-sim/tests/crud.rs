//! Create, read, update, delete of built-in and custom resources over HTTP, with the
//! real server's answers and messages.

mod support;

use serde_json::json;
use support::*;

const CMS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn create_get_list_update_delete_a_configmap() {
    let (_s, c) = start().await;
    let (s, created) = c
        .post(CMS, &configmap("default", "a", json!({"k": "v"})))
        .await;
    assert_eq!(s, 201, "{created}");
    let md = &created["metadata"];
    assert_eq!(md["namespace"], "default");
    assert!(md["uid"].as_str().is_some_and(|u| u.len() == 36), "{md}");
    assert!(
        md["creationTimestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{md}"
    );
    assert!(
        md.get("generation").is_none(),
        "configmaps have no generation: {md}"
    );
    let (s, got) = c.get(&format!("{CMS}/a")).await;
    assert_eq!((s, &got), (200, &created));

    let (s, list) = c.get(CMS).await;
    assert_eq!(s, 200);
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["items"][0]["metadata"]["name"], "a");
    assert!(
        list["items"][0].get("kind").is_none(),
        "typed list items carry no kind: {list}"
    );
    assert!(rv(&list) >= rv(&created));

    let mut next = created.clone();
    next["data"]["k"] = json!("w");
    let (s, updated) = c.put(&format!("{CMS}/a"), &next).await;
    assert_eq!(s, 200, "{updated}");
    assert!(rv(&updated) > rv(&created));
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);

    let (s, gone) = c.delete(&format!("{CMS}/a")).await;
    assert_eq!(s, 200);
    assert_eq!(gone["kind"], "Status");
    assert_eq!(gone["status"], "Success");
    assert_eq!(
        gone["details"],
        json!({"name": "a", "kind": "configmaps", "uid": created["metadata"]["uid"]})
    );
    let (s, err) = c.get(&format!("{CMS}/a")).await;
    assert_eq!(s, 404);
    assert_eq!(err["message"], "configmaps \"a\" not found");
}

#[tokio::test]
async fn errors_are_status_objects_in_the_real_wording() {
    let (_s, c) = start().await;
    c.post(CMS, &configmap("default", "a", json!({}))).await;
    let (s, e) = c.post(CMS, &configmap("default", "a", json!({}))).await;
    assert_eq!(s, 409);
    assert_eq!(
        e,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "configmaps \"a\" already exists", "reason": "AlreadyExists",
            "details": {"name": "a", "kind": "configmaps"}, "code": 409})
    );
    let (s, e) = c
        .post(
            "/api/v1/namespaces/nope/configmaps",
            &configmap("nope", "a", json!({})),
        )
        .await;
    assert_eq!(
        (s, e["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );
    let (s, e) = c.post(CMS, &configmap("other", "b", json!({}))).await;
    assert_eq!(s, 400);
    assert_eq!(
        e["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    let (s, e) = c
        .post(CMS, &configmap("default", "Bad_Name", json!({})))
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["reason"], "Invalid");
    assert!(e["message"].as_str().unwrap().starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{e}");
    assert_eq!(e["details"]["causes"][0]["field"], "metadata.name");
    let (s, e) = c
        .post(
            CMS,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["message"], "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required");
    let mut with_rv = configmap("default", "c", json!({}));
    with_rv["metadata"]["resourceVersion"] = json!("5");
    let (s, e) = c.post(CMS, &with_rv).await;
    assert_eq!(
        (s, e["message"].as_str()),
        (
            500,
            Some("resourceVersion should not be set on objects to be created")
        )
    );
    let (s, e) = c.get("/api/v1/namespaces/default/nonsense").await;
    assert_eq!(
        (s, e["message"].as_str()),
        (
            404,
            Some("the server could not find the requested resource")
        )
    );
}

#[tokio::test]
async fn generate_name_makes_a_unique_name() {
    let (_s, c) = start().await;
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "web-"}});
    let (_, a) = c.post(CMS, &body).await;
    let (_, b) = c.post(CMS, &body).await;
    let (na, nb) = (
        a["metadata"]["name"].as_str().unwrap(),
        b["metadata"]["name"].as_str().unwrap(),
    );
    assert!(na.starts_with("web-") && na.len() == 9, "{na}");
    assert_ne!(na, nb);
}

#[tokio::test]
async fn stale_put_is_a_conflict_and_configmaps_allow_unconditional_puts() {
    let (_s, c) = start().await;
    let (_, created) = c
        .post(CMS, &configmap("default", "a", json!({"k": "1"})))
        .await;
    let mut first = created.clone();
    first["data"]["k"] = json!("2");
    assert_eq!(c.put(&format!("{CMS}/a"), &first).await.0, 200);
    let mut stale = created.clone();
    stale["data"]["k"] = json!("3");
    let (s, e) = c.put(&format!("{CMS}/a"), &stale).await;
    assert_eq!(s, 409);
    assert_eq!(e["reason"], "Conflict");
    assert_eq!(
        e["message"],
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let mut unconditional = configmap("default", "a", json!({"k": "4"}));
    unconditional["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let (s, out) = c.put(&format!("{CMS}/a"), &unconditional).await;
    assert_eq!((s, &out["data"]["k"]), (200, &json!("4")), "{out}");
    let (s, e) = c
        .put(&format!("{CMS}/b"), &configmap("default", "b", json!({})))
        .await;
    assert_eq!(
        (s, e["reason"].as_str()),
        (404, Some("NotFound")),
        "configmaps are not created by PUT"
    );
    let (s, e) = c
        .put(&format!("{CMS}/a"), &configmap("default", "z", json!({})))
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        e["message"],
        "the name of the object (z) does not match the name on the URL (a)"
    );
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_nothing() {
    let (_s, c) = start().await;
    let (_, created) = c
        .post(CMS, &configmap("default", "a", json!({"k": "1"})))
        .await;
    let (s, same) = c.put(&format!("{CMS}/a"), &created).await;
    assert_eq!(s, 200);
    assert_eq!(
        rv(&same),
        rv(&created),
        "no-op updates keep the resourceVersion"
    );
}

#[tokio::test]
async fn services_are_created_by_put_and_keep_their_cluster_ip() {
    let (_s, c) = start().await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let (s, created) = c.put("/api/v1/namespaces/default/services/web", &svc).await;
    assert_eq!(s, 201, "{created}");
    let ip = created["spec"]["clusterIP"].clone();
    assert!(ip.as_str().unwrap().starts_with("10.96."), "{created}");
    assert_eq!(
        created["spec"]["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(created["spec"]["type"], "ClusterIP");
    let (s, updated) = c.put("/api/v1/namespaces/default/services/web", &svc).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["spec"]["clusterIP"], ip);
}

#[tokio::test]
async fn workload_generation_and_status_subresource() {
    let (_s, c) = start_with(weir_apiserver_sim::Options::api_only()).await;
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": {"replicas": 5}});
    let path = "/apis/apps/v1/namespaces/default/replicasets";
    let (s, created) = c.post(path, &rs).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(
        created["status"],
        json!({"replicas": 0}),
        "create resets status"
    );
    assert_eq!(
        created["spec"]["template"]["spec"]["restartPolicy"], "Always",
        "defaults apply"
    );
    let mut next = created.clone();
    next["spec"]["replicas"] = json!(2);
    next["status"]["replicas"] = json!(9);
    let (_, updated) = c.put(&format!("{path}/web"), &next).await;
    assert_eq!(updated["metadata"]["generation"], 2);
    assert_eq!(
        updated["status"]["replicas"], 0,
        "the main resource ignores status"
    );
    let mut st = updated.clone();
    st["status"]["replicas"] = json!(2);
    st["spec"]["replicas"] = json!(7);
    let (s, status) = c.put(&format!("{path}/web/status"), &st).await;
    assert_eq!(s, 200, "{status}");
    assert_eq!(status["status"]["replicas"], 2);
    assert_eq!(status["spec"]["replicas"], 2, "/status ignores spec");
    assert_eq!(
        status["metadata"]["generation"], 2,
        "status writes leave generation alone"
    );
    let mut bad = status.clone();
    bad["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let (s, e) = c.put(&format!("{path}/web"), &bad).await;
    assert_eq!(s, 422);
    assert!(e["message"].as_str().unwrap().contains("spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"), "{e}");
}

#[tokio::test]
async fn deployments_bump_generation_on_annotation_changes() {
    let (_s, c) = start_with(weir_apiserver_sim::Options::api_only()).await;
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}});
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let (_, created) = c.post(path, &d).await;
    assert_eq!(created["spec"]["replicas"], 1);
    assert_eq!(
        created["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    let mut next = created.clone();
    next["metadata"]["annotations"] = json!({"a": "b"});
    let (_, updated) = c.put(&format!("{path}/web"), &next).await;
    assert_eq!(updated["metadata"]["generation"], 2);
    let mut labels_only = updated.clone();
    labels_only["metadata"]["labels"] = json!({"x": "y"});
    let (_, updated) = c.put(&format!("{path}/web"), &labels_only).await;
    assert_eq!(updated["metadata"]["generation"], 2);
}

#[tokio::test]
async fn cluster_scoped_objects_have_no_namespace() {
    let (_s, c) = start().await;
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "viewer", "namespace": "ignored"}, "rules": []});
    let (s, created) = c
        .post("/apis/rbac.authorization.k8s.io/v1/clusterroles", &role)
        .await;
    assert_eq!(s, 201, "{created}");
    assert!(created["metadata"].get("namespace").is_none());
    let (s, _) = c
        .get("/apis/rbac.authorization.k8s.io/v1/namespaces/default/clusterroles/viewer")
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let (server, c) = start().await;
    let before = server.resource_version();
    let (s, obj) = c
        .post(
            &format!("{CMS}?dryRun=All"),
            &configmap("default", "a", json!({"k": "v"})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(obj["data"]["k"], "v");
    assert_eq!(c.get(&format!("{CMS}/a")).await.0, 404);
    let (_, real) = c
        .post(CMS, &configmap("default", "b", json!({"k": "v"})))
        .await;
    let (s, p) = c
        .patch(
            &format!("{CMS}/b?dryRun=All"),
            "application/merge-patch+json",
            &json!({"data": {"k": "w"}}),
        )
        .await;
    assert_eq!((s, &p["data"]["k"]), (200, &json!("w")));
    let (s, _) = c
        .send(
            hyper::Method::DELETE,
            &format!("{CMS}/b?dryRun=All"),
            "application/json",
            "",
            "application/json",
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = c.get(&format!("{CMS}/b")).await;
    assert_eq!(b, real);
    assert_eq!(
        server.resource_version(),
        before + 1,
        "only the real create wrote"
    );
}

#[tokio::test]
async fn wrong_json_types_in_built_ins_are_decode_errors() {
    let (_s, c) = start_with(weir_apiserver_sim::Options::api_only()).await;
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": "3", "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (s, e) = c
        .post("/apis/apps/v1/namespaces/default/replicasets", &rs)
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        e["message"],
        "ReplicaSet in version \"v1\" cannot be handled as a ReplicaSet: json: cannot unmarshal string into Go struct field ReplicaSetSpec.spec.replicas of type int32"
    );
    c.post(CMS, &configmap("default", "a", json!({"k": "v"})))
        .await;
    let (s, e) = c
        .patch(
            &format!("{CMS}/a"),
            "application/merge-patch+json",
            &json!({"data": {"k": 1}}),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with(" \"\" is invalid: patch: Invalid value: "),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn immutable_fields_of_services_and_workloads() {
    let (_s, c) = start_with(weir_apiserver_sim::Options::api_only()).await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let (_, created) = c.post("/api/v1/namespaces/default/services", &svc).await;
    let mut headless = created.clone();
    headless["spec"]["clusterIP"] = json!("None");
    headless["spec"]
        .as_object_mut()
        .unwrap()
        .remove("clusterIPs");
    let (s, e) = c
        .put("/api/v1/namespaces/default/services/web", &headless)
        .await;
    assert_eq!(s, 422);
    assert_eq!(e["message"], "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"None\"}: may not change once set");
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web", "v": "1"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let (_, created) = c
        .post("/apis/apps/v1/namespaces/default/replicasets", &rs)
        .await;
    let mut next = created.clone();
    next["spec"]["selector"]["matchLabels"]["v"] = json!("1");
    let (s, e) = c
        .put("/apis/apps/v1/namespaces/default/replicasets/web", &next)
        .await;
    assert_eq!(s, 422);
    assert_eq!(
        e["message"],
        "ReplicaSet.apps \"web\" is invalid: spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: web,v: 1,},MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"
    );
}

#[tokio::test]
async fn a_secrets_string_data_is_stored_as_data_and_never_kept() {
    let (_s, c) = start().await;
    let path = "/api/v1/namespaces/default/secrets";
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"a": "b2xk", "b": "Yg=="}, "stringData": {"a": "new", "c": "c"}});
    let (s, created) = c.post(path, &secret).await;
    assert_eq!(s, 201, "{created}");
    // stringData wins over data for a key in both; "new" and "c" in base64.
    assert_eq!(
        created["data"],
        json!({"a": "bmV3", "b": "Yg==", "c": "Yw=="})
    );
    assert!(created.get("stringData").is_none(), "{created}");
    let mut next = created.clone();
    next["stringData"] = json!({"b": "bee"});
    let (s, updated) = c.put(&format!("{path}/s"), &next).await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["data"]["b"], "YmVl");
    assert!(updated.get("stringData").is_none(), "{updated}");
}

/// DaemonSets (stored, no controller): the workload checks (`ValidateDaemonSetSpec`) and a
/// generation bumped by spec changes only.
#[tokio::test]
async fn daemonsets_are_validated_as_workloads() {
    let (_s, c) = start_with(weir_apiserver_sim::Options::api_only()).await;
    let path = "/apis/apps/v1/namespaces/default/daemonsets";
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "edge"},
        "spec": {"selector": {"matchLabels": {"app": "edge"}},
            "template": {"metadata": {"labels": {"app": "edge"}}, "spec": {"containers": [{"name": "c", "image": "weir:1"}]}}}});
    let (s, created) = c.post(path, &ds).await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    let mut empty = ds.clone();
    empty["metadata"]["name"] = json!("empty");
    empty["spec"]["selector"] = json!({});
    let (s, e) = c.post(path, &empty).await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("empty selector is invalid for daemonset"),
        "{e}"
    );
    let mut other = ds.clone();
    other["metadata"]["name"] = json!("other");
    other["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let (s, e) = c.post(path, &other).await;
    assert_eq!(s, 422, "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("`selector` does not match template `labels`"),
        "{e}"
    );
    let mut labelled = created.clone();
    labelled["metadata"]["labels"] = json!({"team": "edge"});
    let (_, updated) = c.put(&format!("{path}/edge"), &labelled).await;
    assert_eq!(
        updated["metadata"]["generation"], 1,
        "metadata only: {updated}"
    );
    let mut image = updated.clone();
    image["spec"]["template"]["spec"]["containers"][0]["image"] = json!("weir:2");
    let (_, updated) = c.put(&format!("{path}/edge"), &image).await;
    assert_eq!(updated["metadata"]["generation"], 2);
}
