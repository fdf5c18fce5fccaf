//! deploy/ as `kubectl apply -k deploy/` would send it: built by the real kubectl's
//! kustomize, every object accepted by the in-memory API server (built-in kinds validated
//! as the server validates them, the CRDs registered and Established), the Deployment's
//! pods running with the ServiceAccount the RBAC binds.

use std::process::Command;

use weir_apiserver_sim::{ApiServer, Options};

/// `kubectl kustomize DIR` applied to a fresh in-memory API server (after `setup`): the
/// server, the objects as it accepted them, and their `Kind/name`s. `None` (the test
/// skipped, said on stdout) when kubectl is not installed.
async fn built(dir: &str, setup: &str) -> Option<(ApiServer, Vec<serde_json::Value>, Vec<String>)> {
    let built = match Command::new("kubectl")
        .args(["kustomize", dir])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            println!("kubectl is not installed ({e}): {dir} not built, test skipped");
            return None;
        }
    };
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let yaml = String::from_utf8(built.stdout).unwrap();
    let server = ApiServer::start(Options::default()).await.unwrap();
    if !setup.is_empty() {
        server.apply_yaml(setup).unwrap();
    }
    let applied = server.apply_yaml(&yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let kinds = applied
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    Some((server, applied, kinds))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kustomization_builds_and_every_object_is_accepted() {
    let Some((server, applied, kinds)) = built(
        "deploy/",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: argo-rollouts}\n",
    )
    .await
    else {
        return;
    };
    for expected in [
        "CustomResourceDefinition/rollouts.argoproj.io",
        "ServiceAccount/weir-controller",
        "ClusterRole/weir-controller",
        "ClusterRoleBinding/weir-controller",
        "Role/weir-controller-leader-election",
        "Deployment/weir-controller",
        "Service/weir-controller-metrics",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} in {kinds:?}"
        );
    }
    // Everything namespaced went to argo-rollouts, where the bindings point.
    for o in &applied {
        if let Some(ns) = o["metadata"]["namespace"].as_str() {
            assert_eq!(ns, "argo-rollouts", "{}", o["metadata"]["name"]);
        }
    }
    let crd = server
        .get(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "rollouts.argoproj.io",
        )
        .unwrap();
    let established = crd["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True");
    assert!(established, "{}", crd["status"]);
    // The Deployment's two replicas come up with the controller's ServiceAccount.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let pods = server.list("v1", "Pod", "argo-rollouts").unwrap();
        let running = pods
            .iter()
            .filter(|p| {
                p["spec"]["serviceAccountName"] == "weir-controller"
                    && p["status"]["phase"] == "Running"
            })
            .count();
        if running == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{pods:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.shutdown();
}

/// deploy/proxy/ (weir's proxy as the Ingress controller) the same way: built by kubectl,
/// every object accepted, the proxy's replicas running with its ServiceAccount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxys_kustomization_builds_and_every_object_is_accepted() {
    let Some((server, _, kinds)) = built("deploy/proxy/", "").await else {
        return;
    };
    for expected in [
        "Namespace/weir",
        "ServiceAccount/weir-proxy",
        "ClusterRole/weir-proxy",
        "ClusterRoleBinding/weir-proxy",
        "IngressClass/weir",
        "ConfigMap/weir-proxy",
        "Deployment/weir-proxy",
        "Service/weir-proxy",
        "Service/weir-proxy-admin",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} in {kinds:?}"
        );
    }
    let class = server
        .get("networking.k8s.io/v1", "IngressClass", "", "weir")
        .unwrap();
    assert_eq!(class["spec"]["controller"], "weir.dev/ingress-controller");
    // The ConfigMap's configuration is one weir accepts.
    let config = server.get("v1", "ConfigMap", "weir", "weir-proxy").unwrap();
    weir_config::parse_proxy_config(
        "weir.yaml",
        config["data"]["weir.yaml"].as_str().unwrap(),
        1,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let pods = server.list("v1", "Pod", "weir").unwrap();
        let running = pods
            .iter()
            .filter(|p| {
                p["spec"]["serviceAccountName"] == "weir-proxy" && p["status"]["phase"] == "Running"
            })
            .count();
        if running == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{pods:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    server.shutdown();
}

/// deploy/proxy-gateway/: the proxy and the GatewayClass `weir`, accepted by a server with
/// the Gateway API's CRDs, the class naming weir's controller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_with_its_gateway_class_builds_and_is_accepted() {
    let Some((server, _, kinds)) = built("deploy/proxy-gateway/", "").await else {
        return;
    };
    assert!(kinds.iter().any(|k| k == "GatewayClass/weir"), "{kinds:?}");
    assert!(
        kinds.iter().any(|k| k == "Deployment/weir-proxy"),
        "{kinds:?}"
    );
    let class = server
        .get("gateway.networking.k8s.io/v1", "GatewayClass", "", "weir")
        .unwrap();
    assert_eq!(
        class["spec"]["controllerName"],
        weir_ingress::gateway::CONTROLLER
    );
    server.shutdown();
}

/// deploy/proxy-daemonset/: the proxy as a DaemonSet in place of the Deployment, the rest
/// deploy/proxy/'s, every object accepted; the Services select the DaemonSet's pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_as_a_daemonset_builds_and_is_accepted() {
    let Some((server, _, kinds)) = built("deploy/proxy-daemonset/", "").await else {
        return;
    };
    assert!(
        kinds.iter().any(|k| k == "DaemonSet/weir-proxy"),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.starts_with("Deployment/")),
        "the Deployment is replaced: {kinds:?}"
    );
    for expected in [
        "Service/weir-proxy",
        "Service/weir-proxy-admin",
        "IngressClass/weir",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "{expected} in {kinds:?}"
        );
    }
    let ds = server
        .get("apps/v1", "DaemonSet", "weir", "weir-proxy")
        .unwrap();
    let labels = ds["spec"]["template"]["metadata"]["labels"].clone();
    for service in ["weir-proxy", "weir-proxy-admin"] {
        let svc = server.get("v1", "Service", "weir", service).unwrap();
        for (k, v) in svc["spec"]["selector"].as_object().unwrap() {
            assert_eq!(&labels[k], v, "{service} selects the DaemonSet's pods");
        }
    }
    server.shutdown();
}
