//! `weir controller` against the in-memory API server: the binary as a child process with
//! leader election on short times, merge patches as kubectl sends them, the Rollout and
//! its ReplicaSets read back, and the RBAC check of every call it made.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use weir_apiserver_sim::ApiServer;

/// Leader election on, with times short enough for a takeover within a test.
pub const SHORT_LEASE: [&str; 6] = [
    "--leader-election-lease-duration",
    "2s",
    "--leader-election-renew-deadline",
    "1500ms",
    "--leader-election-retry-period",
    "200ms",
];

pub struct Controller {
    child: Child,
    dir: tempfile::TempDir,
}

impl Controller {
    pub fn start(server: &ApiServer) -> Controller {
        Self::start_with(server, &SHORT_LEASE)
    }

    /// With `extra` arguments.
    pub fn start_with(server: &ApiServer, extra: &[&str]) -> Controller {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let log = std::fs::File::create(dir.path().join("controller.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["controller", "--leader-election-namespace", "default"])
            // Any free port, unless the test names one.
            .args(match extra.contains(&"--metrics-address") {
                true => &[][..],
                false => &["--metrics-address", "127.0.0.1:0"][..],
            })
            // No dashboard (tests run controllers side by side), unless the test asks.
            .args(match extra.contains(&"--dashboard-address") {
                true => &[][..],
                false => &["--dashboard-address", "off"][..],
            })
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--ready-file")
            .arg(dir.path().join("ready.json"))
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("WEIR_TEST_LOG").unwrap_or("info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Controller { child, dir }
    }

    pub fn logs(&self) -> String {
        // Lossy: a log line carrying a server's raw bytes must not hide the whole log.
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("controller.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// (status, body) of GET `path` on the metrics address.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let ready = self.dir.path().join("ready.json");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "{}", self.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let addr: Value = serde_json::from_str(&std::fs::read_to_string(ready).unwrap()).unwrap();
        let url = format!("http://{}{path}", addr["metrics"].as_str().unwrap());
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let resp = client.get(url.parse().unwrap()).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON merge patch over HTTP, as kubectl and the plugin send it.
pub async fn merge_patch(server: &ApiServer, path: &str, patch: Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::patch(format!("{}{path}", server.url()))
        .header("content-type", "application/merge-patch+json")
        .body(Full::new(Bytes::from(patch.to_string())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
}

/// The API path of Rollout `name` in the default namespace.
/// A new image for container `container` of Rollout `rollout` by a merge patch, which
/// replaces the container list: the container keeps its `http` port 8080 only because the
/// patch says it again.
#[allow(dead_code)]
pub async fn set_image_with_http_port(
    server: &ApiServer,
    rollout: &str,
    container: &str,
    image: &str,
) {
    merge_patch(
        server,
        &rollout_path(rollout),
        serde_json::json!({"spec": {"template": {"spec": {"containers": [{
            "name": container, "image": image,
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        }]}}}}),
    )
    .await;
}

pub fn rollout_path(name: &str) -> String {
    format!("/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/{name}")
}

/// Rollout `name` of the default namespace.
pub fn rollout(server: &ApiServer, name: &str) -> Value {
    server
        .get("argoproj.io/v1alpha1", "Rollout", "default", name)
        .unwrap()
}

/// The Rollout's ReplicaSets: name -> (spec replicas, ready replicas).
pub fn replica_sets(server: &ApiServer) -> std::collections::BTreeMap<String, (i64, i64)> {
    server
        .list("apps/v1", "ReplicaSet", "default")
        .unwrap()
        .into_iter()
        .map(|rs| {
            (
                rs["metadata"]["name"].as_str().unwrap().to_owned(),
                (
                    rs["spec"]["replicas"].as_i64().unwrap_or(0),
                    rs["status"]["readyReplicas"].as_i64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

/// Polls Rollout `name` and the ReplicaSets until `check` holds; panics after 30 s with
/// the status, the ReplicaSets and the controller's log.
pub async fn until(
    server: &ApiServer,
    controller: &Controller,
    name: &str,
    what: &str,
    check: impl Fn(&Value, &std::collections::BTreeMap<String, (i64, i64)>) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = rollout(server, name);
        let sets = replica_sets(server);
        if check(&r, &sets) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "never {what}:\nstatus {}\nreplica sets {sets:?}\nlog:\n{}",
            serde_json::to_string_pretty(&r["status"]).unwrap(),
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The name of the ReplicaSet the Rollout's template asks for.
pub fn rs_name(r: &Value) -> String {
    format!(
        "{}-{}",
        r["metadata"]["name"].as_str().unwrap(),
        r["status"]["currentPodHash"].as_str().unwrap()
    )
}

/// The (verb, resource) pairs a ClusterRole or Role of deploy/ grants.
pub fn granted(yaml: &str) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    for doc in yaml.split("\n---\n") {
        let v: Value = serde_saphyr::from_str(doc).unwrap();
        for rule in v["rules"].as_array().into_iter().flatten() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    let (r, v) = (resource.as_str().unwrap(), verb.as_str().unwrap());
                    assert!(r != "*" && v != "*", "no wildcards: {rule}");
                    out.insert((v.to_owned(), r.to_owned()));
                }
            }
        }
    }
    out
}

/// Every API call the server counted is one the roles in `roles` (YAML of deploy/'s
/// ClusterRoles and Roles) allow together: `who` names the callers in the message.
#[allow(dead_code)]
pub fn assert_calls_allowed_by(server: &ApiServer, who: &str, roles: &[&str]) {
    let mut allowed = std::collections::BTreeSet::new();
    for r in roles {
        allowed.extend(granted(r));
    }
    for ((verb, resource), n) in server.request_counts() {
        assert!(
            allowed.contains(&(verb.clone(), resource.clone())),
            "{who} made {n} `{verb} {resource}` call(s) that deploy/ does not allow"
        );
    }
}

/// Every API call the controller made is one deploy/'s RBAC allows (least privilege
/// that works: a call it does not allow would fail in a cluster).
pub fn assert_allowed_by_rbac(server: &ApiServer) {
    assert_allowed_by_rbac_but(server, &[]);
}

/// [`assert_allowed_by_rbac`], leaving out the kinds of call the test made itself over
/// HTTP (as kubectl would), which the controller never makes.
pub fn assert_allowed_by_rbac_but(server: &ApiServer, the_tests: &[(&str, &str)]) {
    let mut allowed = granted(include_str!("../../deploy/controller/clusterrole.yaml"));
    allowed.extend(granted(include_str!("../../deploy/controller/role.yaml")));
    for ((verb, resource), n) in server.request_counts() {
        if the_tests.contains(&(verb.as_str(), resource.as_str())) {
            continue;
        }
        assert!(
            allowed.contains(&(verb.clone(), resource.clone())),
            "the controller made {n} `{verb} {resource}` call(s) that deploy/ does not allow"
        );
    }
}

pub async fn wait_for(check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Argo's `rollout-canary.yaml` (five replicas, eight steps) in the default namespace, its
/// timed pauses shortened to a second, with `canary-stable` and `canary-preview` as its
/// Services ([`CANARY_SERVICES`]).
pub fn rollout_canary() -> String {
    include_str!("../../config/tests/data/argo-examples/rollout-canary.yaml")
        .replace("duration: 40s", "duration: 1s")
        .replace("duration: 20s", "duration: 1s")
        .replace(
            "  name: rollout-canary\n",
            "  name: rollout-canary\n  namespace: default\n",
        )
        .replace(
            "    canary:\n",
            "    canary:\n      stableService: canary-stable\n      canaryService: canary-preview\n",
        )
}

/// The stable and canary Services [`rollout_canary`] names.
pub const CANARY_SERVICES: &str = "\
apiVersion: v1
kind: Service
metadata: {name: canary-stable, namespace: default}
spec:
  selector: {app: rollout-canary}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: canary-preview, namespace: default}
spec:
  selector: {app: rollout-canary}
  ports: [{port: 80, targetPort: 8080}]
";

/// Argo's nginx getting-started set (its Services, Ingress and Rollout), as Argo's
/// examples write them.
pub const NGINX_EXAMPLE: [&str; 3] = [
    include_str!("../../config/tests/data/argo-examples/nginx/services.yaml"),
    include_str!("../../config/tests/data/argo-examples/nginx/ingress.yaml"),
    include_str!("../../config/tests/data/argo-examples/nginx/rollout.yaml"),
];

/// An in-memory API server (pods ready 200 ms after they start) with weir's CRDs and
/// `docs` applied in order.
pub async fn server_with(docs: &[&str]) -> ApiServer {
    let server = ApiServer::start(weir_apiserver_sim::Options {
        pod_ready_delay: Duration::from_millis(200),
        ..weir_apiserver_sim::Options::default()
    })
    .await
    .unwrap();
    server
        .apply_yaml(include_str!("../../deploy/crds/weir-crds.yaml"))
        .unwrap();
    for doc in docs {
        server.apply_yaml(doc).unwrap();
    }
    server
}
