//! `weir controller` against a real cluster, when `WEIR_E2E_KUBECONFIG` names a kubeconfig
//! (skipped, saying so, otherwise; no API server can run on the machines that build weir,
//! so the in-memory stand-in's suites are what CI runs). Everything goes through the real
//! `kubectl`: a namespace of its own, weir's CRDs created (a cluster with Argo's keeps them:
//! they are the same schema), a canary Rollout of `registry.k8s.io/pause`
//! images, the controller started on that namespace, a new image walked to the pause, the
//! promote patch `kubectl argo rollouts promote` sends, Healthy, and the namespace deleted.
//!
//! ```sh
//! WEIR_E2E_KUBECONFIG=~/.kube/config cargo test --test controller_real_cluster -- --nocapture
//! ```
//!
//! Stop Argo's controller first (or give weir an `--instance-id`): both use Argo's Lease.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Cluster {
    kubeconfig: PathBuf,
    namespace: String,
}

impl Cluster {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["--namespace", &self.namespace])
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("kubectl: {e}"))?;
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(format!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }

    fn rollout(&self) -> Value {
        let out = self
            .kubectl(&["get", "rollout", "web", "-o", "json"], None)
            .unwrap();
        serde_json::from_str(&out).unwrap()
    }

    fn until(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let r = self.rollout();
            if check(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "never {what}: {}", r["status"]);
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(["delete", "namespace", &self.namespace, "--wait=false"])
            .status();
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rollout(image: &str) -> String {
    format!(
        "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: weir-e2e}}}}
  template:
    metadata: {{labels: {{app: weir-e2e}}}}
    spec:
      containers: [{{name: web, image: '{image}'}}]
  strategy:
    canary:
      steps: [{{setWeight: 50}}, {{pause: {{}}}}]
"
    )
}

#[test]
fn a_canary_walks_to_healthy_on_a_real_cluster() {
    let Some(kubeconfig) = std::env::var_os("WEIR_E2E_KUBECONFIG") else {
        eprintln!("SKIPPED: WEIR_E2E_KUBECONFIG is not set (no real cluster to test against)");
        return;
    };
    walk(kubeconfig.into());
}

/// The same suite, the same kubectl commands, against the in-memory API server: so the
/// suite itself is known to work before anyone points it at a cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_cluster_suite_runs_against_the_stand_in() {
    let server = weir_apiserver_sim::ApiServer::start(weir_apiserver_sim::Options::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    tokio::task::spawn_blocking(move || walk(kubeconfig))
        .await
        .unwrap();
    server.shutdown();
}

fn walk(kubeconfig: PathBuf) {
    let namespace = format!("weir-e2e-{}", std::process::id());
    let cluster = Cluster {
        kubeconfig,
        namespace: namespace.clone(),
    };
    // From a manifest (`kubectl create namespace` would send protobuf, which the stand-in
    // does not speak).
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}}}\n"
            )),
        )
        .unwrap();
    // weir's CRDs unless the cluster has them (or Argo's, the same schema): created, as
    // their size rules out a client-side apply.
    if let Err(e) = cluster.kubectl(
        &["create", "-f", "-"],
        Some(include_str!("../deploy/crds/weir-crds.yaml")),
    ) {
        assert!(e.contains("AlreadyExists"), "{e}");
    }
    cluster
        .kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/rollouts.argoproj.io",
                "--timeout=60s",
            ],
            None,
        )
        .unwrap();
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&rollout("registry.k8s.io/pause:3.9")),
        )
        .unwrap();
    let _controller = Running(
        Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(["controller", "--kubeconfig"])
            .arg(&cluster.kubeconfig)
            .args(["--namespace", &namespace])
            .args(["--leader-election-namespace", &namespace])
            .args(["--metrics-address", "127.0.0.1:0"])
            .spawn()
            .unwrap(),
    );
    let first = cluster.until("Healthy", |r| {
        r["status"]["phase"] == "Healthy" && r["status"]["availableReplicas"] == 2
    });
    cluster
        .kubectl(
            &["apply", "-f", "-"],
            Some(&rollout("registry.k8s.io/pause:3.10")),
        )
        .unwrap();
    let paused = cluster.until("paused at 50%", |r| {
        r["status"]["phase"] == "Paused" && r["status"]["currentStepIndex"] == 1
    });
    assert_ne!(
        paused["status"]["currentPodHash"],
        first["status"]["currentPodHash"]
    );
    cluster
        .kubectl(
            &[
                "patch",
                "rollout",
                "web",
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"pauseConditions":null}}"#,
            ],
            None,
        )
        .unwrap();
    let done = cluster.until("promoted", |r| {
        r["status"]["phase"] == "Healthy"
            && r["status"]["stableRS"] == paused["status"]["currentPodHash"]
    });
    assert_eq!(done["status"]["availableReplicas"], 2);
}
