//! The real kubectl against the server: apply (twice), get, watch, patch in all three
//! types, scale, wait, delete, a CRD and its objects. Skipped, with a notice, where
//! kubectl is not installed.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use weir_apiserver_sim::{ApiServer, Options};

struct Kubectl {
    server: ApiServer,
    dir: tempfile::TempDir,
}

impl Kubectl {
    async fn start() -> Option<Kubectl> {
        if std::process::Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_err()
        {
            println!("skipping: kubectl is not installed");
            return None;
        }
        let server = ApiServer::start(Options::default()).await.expect("server");
        let dir = tempfile::tempdir().expect("tempdir");
        server
            .write_kubeconfig(dir.path().join("config"))
            .expect("kubeconfig");
        Some(Kubectl { server, dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig").arg(self.dir.path().join("config"));
        c.arg("--cache-dir").arg(self.dir.path().join("cache"));
        c.args(args);
        c.kill_on_drop(true);
        c
    }

    /// Run; (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.command(args).output().await.expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {err}{out}");
        out
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write manifest");
        p.to_string_lossy().into_owned()
    }
}

const MANIFESTS: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: demo}
data: {greeting: hello}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{name: http, containerPort: 8080}]
"#;

#[tokio::test]
async fn apply_get_apply_again_scale_and_delete() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let file = k.write("m.yaml", MANIFESTS);
    let out = k.ok(&["apply", "-f", &file]).await;
    assert!(
        out.contains("namespace/demo created") && out.contains("replicaset.apps/web created"),
        "{out}"
    );
    let json: Value = serde_json::from_str(
        &k.ok(&["get", "configmap", "cfg", "-n", "demo", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(json["data"]["greeting"], "hello");
    k.server
        .wait_until(Duration::from_secs(5), |s| {
            s.list("v1", "Pod", "demo").is_ok_and(|p| p.len() == 2)
        })
        .await
        .unwrap();
    let pods = k.ok(&["get", "pods", "-n", "demo"]).await;
    assert_eq!(pods.lines().count(), 3, "{pods}");

    k.server.reset_request_counts();
    let file = k.write(
        "m.yaml",
        &MANIFESTS.replace("greeting: hello", "greeting: bonjour"),
    );
    let out = k.ok(&["apply", "-f", &file]).await;
    assert!(
        out.contains("configmap/cfg configured") && out.contains("service/web unchanged"),
        "{out}"
    );
    assert_eq!(
        k.server.request_count("patch", "configmaps"),
        1,
        "{:?}",
        k.server.request_counts()
    );
    let cm = k.server.get("v1", "ConfigMap", "demo", "cfg").unwrap();
    assert_eq!(cm["data"]["greeting"], "bonjour");

    let out = k
        .ok(&["scale", "rs", "web", "-n", "demo", "--replicas=1"])
        .await;
    assert!(out.contains("scaled"), "{out}");
    k.server
        .wait_until(Duration::from_secs(5), |s| {
            s.list("v1", "Pod", "demo").is_ok_and(|p| p.len() == 1)
        })
        .await
        .unwrap();
    let slices = k
        .ok(&[
            "get",
            "endpointslices",
            "-n",
            "demo",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "json",
        ])
        .await;
    let slices: Value = serde_json::from_str(&slices).unwrap();
    assert_eq!(slices["items"][0]["ports"][0]["port"], 8080);

    k.ok(&["delete", "namespace", "demo", "--timeout=10s"])
        .await;
    assert!(k.server.get("v1", "Namespace", "", "demo").is_err());
}

#[tokio::test]
async fn patch_types_and_a_watch() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let (ok, _, err) = k
        .run(&["create", "configmap", "pb", "--from-literal=a=1"])
        .await;
    assert!(
        !ok && err.contains("the body of the request was in an unknown format"),
        "protobuf bodies are refused: {err}"
    );
    let cm = k.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\"}\n",
    );
    k.ok(&["apply", "-f", &cm]).await;
    let mut child = k
        .command(&[
            "get",
            "configmaps",
            "-w",
            "-o",
            "custom-columns=NAME:.metadata.name,A:.data.a",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(next_line(&mut lines).await.starts_with("NAME"));
    assert!(next_line(&mut lines).await.starts_with("cfg"));
    k.ok(&[
        "patch",
        "configmap",
        "cfg",
        "--type",
        "merge",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ])
    .await;
    let line = next_line(&mut lines).await;
    assert!(line.starts_with("cfg") && line.ends_with('2'), "{line}");
    k.ok(&[
        "patch",
        "configmap",
        "cfg",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/data/a","value":"3"}]"#,
    ])
    .await;
    assert!(next_line(&mut lines).await.contains('3'));
    k.ok(&[
        "patch",
        "configmap",
        "cfg",
        "--type",
        "strategic",
        "-p",
        r#"{"data":{"a":"4"}}"#,
    ])
    .await;
    assert!(next_line(&mut lines).await.contains('4'));
    child.kill().await.expect("kill kubectl");
    let (ok, _, err) = k
        .run(&[
            "patch",
            "configmap",
            "cfg",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/data/a","value":"9"}]"#,
        ])
        .await;
    assert!(!ok);
    assert!(
        err.contains("the server rejected our request due to an error in our request"),
        "{err}"
    );
}

#[tokio::test]
async fn a_crd_its_objects_and_strategic_merge_refused() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let (crd, object, name) = match (
        std::fs::read_to_string("/work/shared/argo-examples/crds/rollout-crd.yaml"),
        std::fs::read_to_string("/work/shared/argo-examples/examples/rollout-canary.yaml"),
    ) {
        (Ok(c), Ok(o)) => (
            k.write("crd.yaml", &c),
            k.write("obj.yaml", &o),
            "rollout-canary",
        ),
        _ => {
            println!("the Argo CRDs are not here: using a small CRD");
            let crd = serde_json::to_string(&support::widget_crd())
                .unwrap()
                .replace("\"Widget\"", "\"Rollout\"")
                .replace("widget", "rollout")
                .replace("\"wd\"", "\"ro\"");
            let obj = r#"{"apiVersion":"example.com/v1","kind":"Rollout","metadata":{"name":"rollout-canary"},"spec":{"replicas":5}}"#;
            (
                k.write("crd.json", &crd),
                k.write("obj.json", obj),
                "rollout-canary",
            )
        }
    };
    if crd.ends_with(".yaml") {
        let (ok, _, err) = k.run(&["apply", "-f", &crd]).await;
        assert!(
            !ok,
            "client-side apply of a CRD this big fails on a real cluster too"
        );
        assert!(
            err.contains("metadata.annotations: Too long: must have at most 262144 bytes"),
            "{err}"
        );
    }
    k.ok(&["create", "-f", &crd]).await;
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=10s",
    ])
    .await;
    k.ok(&["apply", "-f", &object]).await;
    let table = k.ok(&["get", "rollouts"]).await;
    assert!(table.contains(name), "{table}");
    k.ok(&["apply", "-f", &object]).await;
    k.ok(&[
        "patch",
        "rollout",
        name,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":2}}"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "rollout",
        name,
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ])
    .await;
    let (ok, _, err) = k
        .run(&[
            "patch",
            "rollout",
            name,
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"replicas":4}}"#,
        ])
        .await;
    assert!(!ok);
    assert!(err.contains("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"), "{err}");
    let replicas = k
        .ok(&["get", "rollout", name, "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(replicas, "3");
    let out = k.ok(&["delete", "rollout", name]).await;
    assert!(out.contains("deleted"), "{out}");
    let (ok, _, err) = k.run(&["get", "rollout", name]).await;
    assert!(!ok && err.contains("not found"), "{err}");
}

#[tokio::test]
async fn kubectl_v8_asks_nothing_unserved() {
    let Some(k) = Kubectl::start().await else {
        return;
    };
    let file = k.write("m.yaml", MANIFESTS);
    let (ok, _, log) = k.run(&["apply", "-f", &file, "-v=6"]).await;
    assert!(ok, "{log}");
    let (ok, _, log2) = k.run(&["get", "all", "-A", "-v=6"]).await;
    assert!(ok, "{log2}");
    for line in log
        .lines()
        .chain(log2.lines())
        .filter(|l| l.contains("round_trippers"))
    {
        let served = line.contains(" 200 OK")
            || line.contains(" 201 Created")
            || line.contains("/openapi/v3")
            || line.contains(" 404 Not Found");
        assert!(served, "{line}");
        if line.contains(" 404 Not Found") {
            assert!(
                line.contains("/openapi/v3") || line.contains("GET"),
                "{line}"
            );
        }
    }
}

async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line in time");
    line.expect("reading kubectl's output")
        .expect("kubectl still running")
}
