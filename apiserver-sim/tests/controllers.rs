//! The simulated controllers: ReplicaSets make ready pods, Services get EndpointSlices,
//! Jobs complete.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;
use weir_apiserver_sim::{ApiServer, Options};

const T: Duration = Duration::from_secs(3);

fn rs(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, "extra": "x"}, "annotations": {"note": "n"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 8080}]}]}}}})
}

fn pods_of(s: &ApiServer, app: &str) -> Vec<Value> {
    s.list("v1", "Pod", "default")
        .unwrap()
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == app)
        .collect()
}

#[tokio::test]
async fn a_replicaset_gets_ready_pods_and_status() {
    let (server, _c) = start().await;
    server.create(rs("web", 3)).unwrap();
    server
        .wait_until(T, |s| {
            s.get("apps/v1", "ReplicaSet", "default", "web")
                .is_ok_and(|r| r["status"]["readyReplicas"] == 3)
        })
        .await
        .unwrap();
    let r = server
        .get("apps/v1", "ReplicaSet", "default", "web")
        .unwrap();
    assert_eq!(
        r["status"],
        json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1})
    );
    let pods = pods_of(&server, "web");
    assert_eq!(pods.len(), 3);
    let p = &pods[0];
    assert!(p["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(p["metadata"]["generateName"], "web-");
    assert_eq!(p["metadata"]["annotations"]["note"], "n");
    let owner = &p["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["controller"].as_bool()),
        (Some("ReplicaSet"), Some(true))
    );
    assert_eq!(owner["uid"], r["metadata"]["uid"]);
    assert_eq!(p["status"]["phase"], "Running");
    assert!(p["status"]["podIP"]
        .as_str()
        .unwrap()
        .starts_with("10.244."));
    assert_eq!(p["spec"]["nodeName"], "sim-node");
    let ips: std::collections::HashSet<&str> = pods
        .iter()
        .map(|p| p["status"]["podIP"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 3, "distinct IPs");

    let mut next = r.clone();
    next["spec"]["replicas"] = json!(1);
    server.update(next).unwrap();
    server
        .wait_until(T, |s| {
            s.get("apps/v1", "ReplicaSet", "default", "web")
                .is_ok_and(|r| {
                    r["status"]["replicas"] == 1 && r["status"]["observedGeneration"] == 2
                })
        })
        .await
        .unwrap();
    server
        .wait_until(T, |s| pods_of(s, "web").len() == 1)
        .await
        .unwrap();
}

#[tokio::test]
async fn pods_become_ready_after_the_configured_delay() {
    let (server, _c) = start_with(Options {
        pod_ready_delay: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    server.create(rs("slow", 1)).unwrap();
    server
        .wait_until(T, |s| pods_of(s, "slow").len() == 1)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_ne!(pods_of(&server, "slow")[0]["status"]["phase"], "Running");
    server
        .wait_until(T, |s| {
            pods_of(s, "slow")
                .first()
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoint_slices_follow_pods_with_named_ports() {
    let (server, _c) = start().await;
    server
        .create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
        .unwrap();
    let slices = |s: &ApiServer| -> Vec<Value> {
        s.list("discovery.k8s.io/v1", "EndpointSlice", "default")
            .unwrap()
            .into_iter()
            .filter(|e| e["metadata"]["labels"]["kubernetes.io/service-name"] == "web")
            .collect()
    };
    server
        .wait_until(T, |s| slices(s).len() == 1)
        .await
        .unwrap();
    assert_eq!(
        slices(&server)[0]["endpoints"],
        json!([]),
        "no pods yet: an empty slice"
    );
    server.create(rs("web", 2)).unwrap();
    server
        .wait_until(T, |s| {
            slices(s)
                .first()
                .is_some_and(|e| e["endpoints"].as_array().unwrap().len() == 2)
        })
        .await
        .unwrap();
    let slice = slices(&server).remove(0);
    assert_eq!(
        slice["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    let ep = &slice["endpoints"][0];
    assert_eq!(
        ep["conditions"],
        json!({"ready": true, "serving": true, "terminating": false})
    );
    assert_eq!(ep["targetRef"]["kind"], "Pod");
    let mut r = server
        .get("apps/v1", "ReplicaSet", "default", "web")
        .unwrap();
    r["spec"]["replicas"] = json!(0);
    server.update(r).unwrap();
    server
        .wait_until(T, |s| {
            slices(s)
                .first()
                .is_some_and(|e| e["endpoints"] == json!([]))
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn terminating_pods_are_serving_but_not_ready() {
    let (server, _c) = start_with(Options {
        pod_termination_delay: Duration::from_secs(30),
        ..Options::default()
    })
    .await;
    server
        .create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "default"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}}))
        .unwrap();
    server.create(rs("api", 1)).unwrap();
    let slice = |s: &ApiServer| -> Option<Value> {
        s.list("discovery.k8s.io/v1", "EndpointSlice", "default")
            .unwrap()
            .into_iter()
            .find(|e| e["metadata"]["labels"]["kubernetes.io/service-name"] == "api")
    };
    server
        .wait_until(T, |s| {
            slice(s).is_some_and(|e| e["endpoints"][0]["conditions"]["ready"] == true)
        })
        .await
        .unwrap();
    let pod = pods_of(&server, "api").remove(0);
    assert!(
        !server
            .delete(
                "v1",
                "Pod",
                "default",
                pod["metadata"]["name"].as_str().unwrap()
            )
            .unwrap(),
        "graceful"
    );
    server
        .wait_until(T, |s| {
            slice(s).is_some_and(|e| {
                e["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|ep| ep["conditions"]["terminating"] == true)
            })
        })
        .await
        .unwrap();
    let e = slice(&server).unwrap();
    let ep = e["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ep| ep["conditions"]["terminating"] == true)
        .unwrap()
        .clone();
    assert_eq!(
        ep["conditions"],
        json!({"ready": false, "serving": false, "terminating": true})
    );
}

#[tokio::test]
async fn unready_pods_by_annotation() {
    let (server, _c) = start().await;
    let mut r = rs("cold", 1);
    r["spec"]["template"]["metadata"]["annotations"] =
        json!({"apiserver-sim.weir.dev/ready": "false"});
    server.create(r).unwrap();
    server
        .wait_until(T, |s| {
            pods_of(s, "cold")
                .first()
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await
        .unwrap();
    let p = pods_of(&server, "cold").remove(0);
    assert_eq!(
        p["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap()["status"],
        "False"
    );
    let r = server
        .get("apps/v1", "ReplicaSet", "default", "cold")
        .unwrap();
    assert!(
        r["status"].get("readyReplicas").is_none(),
        "{}",
        r["status"]
    );
}

#[tokio::test]
async fn jobs_complete_or_fail() {
    let (server, _c) = start().await;
    let job = |name: &str, outcome: Option<&str>| {
        let mut j = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}});
        if let Some(o) = outcome {
            j["metadata"]["annotations"] = json!({"apiserver-sim.weir.dev/job-outcome": o});
        }
        j
    };
    let created = server.create(job("ok", None)).unwrap();
    assert_eq!(
        created["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        created["metadata"]["uid"],
        "a generated selector"
    );
    server.create(job("bad", Some("Failed"))).unwrap();
    let cond = |s: &ApiServer, name: &str, t: &str| {
        s.get("batch/v1", "Job", "default", name).is_ok_and(|j| {
            j["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
        })
    };
    server
        .wait_until(T, |s| cond(s, "ok", "Complete"))
        .await
        .unwrap();
    server
        .wait_until(T, |s| cond(s, "bad", "Failed"))
        .await
        .unwrap();
    let ok = server.get("batch/v1", "Job", "default", "ok").unwrap();
    assert_eq!(ok["status"]["succeeded"], 1);
    assert!(ok["status"]["completionTime"].is_string());
    let bad = server.get("batch/v1", "Job", "default", "bad").unwrap();
    assert_eq!(bad["status"]["failed"], 1);
}

#[tokio::test]
async fn controllers_can_be_turned_off() {
    let (server, _c) = start_with(Options::api_only()).await;
    server.create(rs("idle", 2)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pods_of(&server, "idle").is_empty());
}

#[tokio::test]
async fn min_ready_seconds_delays_availability() {
    let (server, _c) = start().await;
    let mut r = rs("mrs", 1);
    r["spec"]["minReadySeconds"] = json!(2);
    server.create(r).unwrap();
    server
        .wait_until(T, |s| {
            s.get("apps/v1", "ReplicaSet", "default", "mrs")
                .is_ok_and(|r| r["status"]["readyReplicas"] == 1)
        })
        .await
        .unwrap();
    let st = server
        .get("apps/v1", "ReplicaSet", "default", "mrs")
        .unwrap()["status"]
        .clone();
    assert!(
        st.get("availableReplicas").is_none(),
        "ready but not yet available: {st}"
    );
    let ready_at = std::time::Instant::now();
    server
        .wait_until(T, |s| {
            s.get("apps/v1", "ReplicaSet", "default", "mrs")
                .is_ok_and(|r| r["status"]["availableReplicas"] == 1)
        })
        .await
        .unwrap();
    // Timestamps have whole seconds, so "ready for 2 s" comes after 1 to 2 s.
    assert!(
        ready_at.elapsed() >= Duration::from_millis(900),
        "{:?}",
        ready_at.elapsed()
    );
}

fn deployment(image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "default"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "app"}},
            "template": {"metadata": {"labels": {"app": "app"}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn replica_sets(s: &ApiServer) -> Vec<Value> {
    s.list("apps/v1", "ReplicaSet", "default")
        .unwrap()
        .into_iter()
        .filter(|r| r["metadata"]["labels"]["app"] == "app")
        .collect()
}

#[tokio::test]
async fn a_deployment_rolls_out_through_replica_sets() {
    let (server, _c) = start().await;
    server.create(deployment("nginx:1")).unwrap();
    let available = |s: &ApiServer, n: i64| {
        s.get("apps/v1", "Deployment", "default", "app")
            .is_ok_and(|d| {
                d["status"]["availableReplicas"] == n
                    && d["status"]["updatedReplicas"] == n
                    && d["status"]["conditions"][1]["reason"] == "NewReplicaSetAvailable"
            })
    };
    server.wait_until(T, |s| available(s, 4)).await.unwrap();
    let rss = replica_sets(&server);
    assert_eq!(rss.len(), 1);
    let rs1 = &rss[0];
    let hash = rs1["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rs1["metadata"]["name"], format!("app-{hash}"));
    assert_eq!(
        rs1["spec"]["selector"]["matchLabels"],
        json!({"app": "app", "pod-template-hash": hash})
    );
    assert_eq!(
        rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(rs1["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    let d = server
        .get("apps/v1", "Deployment", "default", "app")
        .unwrap();
    assert_eq!(d["status"]["conditions"][0]["type"], "Available");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    let mut next = d.clone();
    next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    server.update(next).unwrap();
    server
        .wait_until(T, |s| {
            available(s, 4)
                && replica_sets(s).iter().any(|r| {
                    r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
                })
        })
        .await
        .unwrap();
    server
        .wait_until(T, |s| {
            replica_sets(s)
                .iter()
                .filter(|r| r["spec"]["replicas"] != 0)
                .count()
                == 1
        })
        .await
        .unwrap();
    let rss = replica_sets(&server);
    assert_eq!(rss.len(), 2, "the old one is kept for history");
    let pods = pods_of(&server, "app");
    server
        .wait_until(T, |s| pods_of(s, "app").len() == 4)
        .await
        .unwrap();
    assert!(pods.len() >= 4);
    let d = server
        .get("apps/v1", "Deployment", "default", "app")
        .unwrap();
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
}

#[tokio::test]
async fn odd_status_shapes_do_not_break_the_controllers() {
    let (server, c) = start().await;
    server.create(rs("odd", 1)).unwrap();
    server
        .wait_until(T, |s| {
            pods_of(s, "odd")
                .first()
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await
        .unwrap();
    let mut pod = pods_of(&server, "odd").remove(0);
    pod["status"] = json!("not an object");
    let name = pod["metadata"]["name"].as_str().unwrap().to_string();
    let (s, _) = c
        .put(
            &format!("/api/v1/namespaces/default/pods/{name}/status"),
            &pod,
        )
        .await;
    assert_eq!(s, 200);
    let (_, ns) = c.get("/api/v1/namespaces/default").await;
    let mut ns = ns;
    ns["status"] = json!(["odd"]);
    ns["spec"] = json!("odd");
    assert_eq!(c.put("/api/v1/namespaces/default/status", &ns).await.0, 200);
    server
        .wait_until(T, |s| {
            pods_of(s, "odd")
                .first()
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await
        .unwrap();
    assert_eq!(c.delete("/api/v1/namespaces/default").await.0, 200);
    server
        .wait_until(T, |s| s.get("v1", "Namespace", "", "default").is_err())
        .await
        .unwrap();
}

#[tokio::test]
async fn endpoints_list_ready_and_unready_addresses() {
    let (server, _c) = start().await;
    server
        .create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mix", "namespace": "default"},
            "spec": {"selector": {"app": "mix"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
        .unwrap();
    server.create(rs("mix", 1)).unwrap();
    let mut cold = rs("mix-cold", 1);
    cold["spec"]["template"]["metadata"]["labels"]["app"] = json!("mix");
    cold["spec"]["selector"] = json!({"matchLabels": {"app": "mix", "extra": "cold"}});
    cold["spec"]["template"]["metadata"]["labels"]["extra"] = json!("cold");
    cold["spec"]["template"]["metadata"]["annotations"] =
        json!({"apiserver-sim.weir.dev/ready": "false"});
    server.create(cold).unwrap();
    let ep = |s: &ApiServer| s.get("v1", "Endpoints", "default", "mix").ok();
    server
        .wait_until(T, |s| {
            ep(s).is_some_and(|e| {
                e["subsets"][0]["addresses"].is_array()
                    && e["subsets"][0]["notReadyAddresses"].is_array()
            })
        })
        .await
        .unwrap();
    let e = ep(&server).unwrap();
    assert_eq!(
        e["subsets"][0]["ports"],
        json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(e["subsets"][0]["addresses"][0]["targetRef"]["kind"], "Pod");
}

#[tokio::test]
async fn readiness_follows_the_annotation_at_run_time() {
    let (server, c) = start().await;
    server.create(rs("flip", 1)).unwrap();
    let ready = |s: &ApiServer| {
        s.get("apps/v1", "ReplicaSet", "default", "flip")
            .ok()
            .and_then(|r| r["status"]["readyReplicas"].as_i64())
            .unwrap_or(0)
    };
    server.wait_until(T, |s| ready(s) == 1).await.unwrap();
    let name = pods_of(&server, "flip")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/namespaces/default/pods/{name}");
    let patch = json!({"metadata": {"annotations": {"apiserver-sim.weir.dev/ready": "false"}}});
    assert_eq!(
        c.patch(&path, "application/merge-patch+json", &patch)
            .await
            .0,
        200
    );
    server.wait_until(T, |s| ready(s) == 0).await.unwrap();
    let patch = json!({"metadata": {"annotations": {"apiserver-sim.weir.dev/ready": null}}});
    assert_eq!(
        c.patch(&path, "application/merge-patch+json", &patch)
            .await
            .0,
        200
    );
    server.wait_until(T, |s| ready(s) == 1).await.unwrap();
}
