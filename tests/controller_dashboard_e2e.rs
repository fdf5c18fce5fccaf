//! `weir controller`'s web dashboard (`--dashboard-address`, as `kubectl argo rollouts
//! dashboard`): the real controller against the in-memory API server with Argo's nginx
//! getting-started Rollout, and plain HTTP to the dashboard: the page with its security
//! headers, the Rollout listed with its phase, its events, a cross-site action refused and
//! nothing changed, a promote that moves the Rollout on as `weir rollouts promote
//! --kubernetes` does; beyond loopback, no start without a token, and actions only with it.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use support::kube::{
    assert_allowed_by_rbac, merge_patch, rollout, rollout_path, rs_name, until, Controller,
    SHORT_LEASE,
};
use weir_apiserver_sim::ApiServer;

const NAME: &str = "rollouts-demo";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The API server with weir's CRDs and Argo's nginx example (Services, Ingress, Rollout).
async fn nginx_example() -> ApiServer {
    support::kube::server_with(&support::kube::NGINX_EXAMPLE).await
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One plain HTTP/1.1 request to the dashboard at `addr`, waiting up to 10 s for the
/// listener to come up.
async fn request(method: &str, addr: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        match client
            .request(req.body(Full::new(Bytes::new())).unwrap())
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.into_body().collect().await.unwrap().to_bytes();
                return Answer {
                    status,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
            }
            Err(e) => {
                assert!(Instant::now() < deadline, "{method} {path}: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn get(addr: &str, path: &str) -> Answer {
    request("GET", addr, path, &[]).await
}

/// GETs `path` until `check` holds on its JSON; panics after 20 s with the last answer.
async fn get_until(
    controller: &Controller,
    addr: &str,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = get(addr, path).await;
        if answer.status == 200 && check(&answer.json()) {
            return answer.json();
        }
        assert!(
            Instant::now() < deadline,
            "GET {path}: {} {}\nlog:\n{}",
            answer.status,
            answer.body,
            controller.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A new image, as `kubectl argo rollouts set image` does: the Rollout pauses at 5%.
async fn set_image(server: &ApiServer, image: &str) {
    merge_patch(
        server,
        &rollout_path(NAME),
        json!({"spec": {"template": {"spec": {"containers": [{
            "name": "rollouts-demo", "image": image,
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        }]}}}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_serves_the_dashboard_of_its_rollouts() {
    let server = nginx_example().await;
    let addr = format!("127.0.0.1:{}", free_port());
    let args: Vec<&str> = SHORT_LEASE
        .iter()
        .copied()
        .chain(["--dashboard-address", addr.as_str()])
        .collect();
    let controller = Controller::start_with(&server, &args);
    let healthy = until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;

    // The page at `/` (and /index.html), weir's own scripts only, never in a frame.
    for path in ["/", "/index.html"] {
        let page = get(&addr, path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            page.body.to_ascii_lowercase().contains("<html"),
            "{}",
            page.body
        );
    }
    let script = get(&addr, "/assets/app.js").await;
    assert_eq!(script.status, 200);
    assert!(script.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(get(&addr, "/nothing-here").await.status, 404);
    let info = get(&addr, "/api/info").await.json();
    assert_eq!(info["mode"], "kubernetes");
    assert_eq!(info["tokenRequired"], false);

    // The Rollout listed with its phase, from the controller's caches.
    let list = get_until(&controller, &addr, "/api/rollouts", |v| {
        v["rollouts"][0]["phase"] == "Healthy"
    })
    .await;
    let rollouts = list["rollouts"].as_array().unwrap();
    assert_eq!(rollouts.len(), 1, "{list}");
    assert_eq!(rollouts[0]["namespace"], "default");
    assert_eq!(rollouts[0]["name"], NAME);
    assert_eq!(rollouts[0]["strategy"], "canary");
    assert_eq!(list["experiments"], json!([]));

    // Its page: the Rollout as Argo's object, its analysis runs (none here), its events.
    let detail_path = format!("/api/rollouts/default/{NAME}");
    let detail = get_until(&controller, &addr, &detail_path, |v| {
        v["events"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    assert_eq!(detail["rollout"]["metadata"]["name"], NAME);
    assert_eq!(detail["rollout"]["kind"], "Rollout");
    assert_eq!(
        detail["rollout"]["status"]["stableRS"],
        healthy["status"]["stableRS"]
    );
    assert_eq!(detail["analysisRuns"], json!([]), "{detail}");
    let events = detail["events"].as_array().unwrap();
    for e in events {
        assert!(e["time"].is_string(), "{e}");
        assert!(e["type"] == "Normal" || e["type"] == "Warning", "{e}");
        assert!(e["reason"].is_string() && e["message"].is_string(), "{e}");
    }
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    assert_eq!(
        get(&addr, "/api/rollouts/default/nope").await.status,
        404,
        "an unknown Rollout"
    );
    // The series: no traffic is sampled without --proxy-service, but the Rollout is known.
    let series = get(&addr, &format!("{detail_path}/series")).await;
    assert_eq!(series.status, 200, "{}", series.body);

    // A new image: the canary at 5%, paused.
    set_image(&server, "argoproj/rollouts-demo:yellow").await;
    let paused = until(&server, &controller, NAME, "paused", |r, _| {
        r["status"]["phase"] == "Paused"
    })
    .await;
    let yellow = paused["status"]["currentPodHash"].clone();
    assert_ne!(yellow, healthy["status"]["stableRS"]);

    // Another site's page cannot act: refused, and nothing changes.
    let abort_path = format!("{detail_path}/abort");
    let refused = request(
        "POST",
        &addr,
        &abort_path,
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("another site"), "{}", refused.body);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rollout(&server, NAME);
    assert_ne!(after["status"]["abort"], true, "{}", after["status"]);
    assert_eq!(after["status"]["phase"], "Paused");

    // An unknown action or Rollout.
    let unknown = request("POST", &addr, &format!("{detail_path}/explode"), &[]).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let missing = request("POST", &addr, "/api/rollouts/default/nope/promote", &[]).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert!(missing.body.contains("nope"), "{}", missing.body);

    // Promote, from the page's own origin: the pause ends, yellow becomes stable, as with
    // `weir rollouts promote --kubernetes`.
    let promoted = request(
        "POST",
        &addr,
        &format!("{detail_path}/promote"),
        &[("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.json()["summary"]["name"], NAME);
    until(&server, &controller, NAME, "promoted", |r, _| {
        r["status"]["phase"] == "Healthy" && r["status"]["stableRS"] == yellow
    })
    .await;
    get_until(&controller, &addr, "/api/rollouts", |v| {
        v["rollouts"][0]["phase"] == "Healthy"
    })
    .await;
    assert_allowed_by_rbac(&server);
    server.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_the_dashboard_needs_a_token() {
    let server = nginx_example().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();

    // No token file: the controller does not start, and says why.
    let port = free_port();
    let address = format!("0.0.0.0:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "controller",
            "--leader-elect=false",
            "--metrics-address",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--dashboard-address", &address])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the controller started with a dashboard on {address} and no token");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "--dashboard-address {address} is not a loopback address"
        )) && stderr.contains("--dashboard-token-file"),
        "{stderr}"
    );
    assert!(
        std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "nothing listens"
    );

    // With one: reads need no token, actions need it.
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let token_path = token_file.to_str().unwrap();
    let args: Vec<&str> = SHORT_LEASE
        .iter()
        .copied()
        .chain(["--dashboard-address", address.as_str()])
        .chain(["--dashboard-token-file", token_path])
        .collect();
    let controller = Controller::start_with(&server, &args);
    until(&server, &controller, NAME, "healthy", |r, sets| {
        r["status"]["phase"] == "Healthy" && sets.get(&rs_name(r)) == Some(&(1, 1))
    })
    .await;
    let local = format!("127.0.0.1:{port}");
    let info = get(&local, "/api/info").await.json();
    assert_eq!(info["tokenRequired"], true);
    get_until(&controller, &local, "/api/rollouts", |v| {
        v["rollouts"][0]["name"] == NAME
    })
    .await;
    let pause = format!("/api/rollouts/default/{NAME}/pause");
    for headers in [
        &[][..],
        &[("authorization", "Bearer wrong-token")][..],
        &[("authorization", "s3cret-token")][..],
    ] {
        let refused = request("POST", &local, &pause, headers).await;
        assert_eq!(refused.status, 401, "{headers:?}: {}", refused.body);
    }
    assert_ne!(rollout(&server, NAME)["spec"]["paused"], true);
    let bearer = [("authorization", "Bearer s3cret-token")];
    let paused = request("POST", &local, &pause, &bearer).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(rollout(&server, NAME)["spec"]["paused"], true);
    // Resume: spec.paused cleared, as the reverse of pause.
    let resume = format!("/api/rollouts/default/{NAME}/resume");
    let resumed = request("POST", &local, &resume, &bearer).await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(rollout(&server, NAME)["spec"]["paused"], false);
    assert_allowed_by_rbac(&server);
    server.shutdown();
}
