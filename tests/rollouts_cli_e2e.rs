//! `weir rollouts` against a running `weir run`: list, get, abort, retry, promote and
//! pause through the CLI, as an operator would.

mod support;

use std::time::Duration;
use support::{Backend, Client, Weir};

fn run_file(stable: std::net::SocketAddr, canary: std::net::SocketAddr) -> String {
    let steps = "      steps:\n        - setWeight: 25\n        - pause: {}\n        - setWeight: 75\n        - pause: {}\n";
    support::rollout::canary_run_file("127.0.0.1:0", stable, canary, steps, "")
}

/// Runs `weir rollouts ARGS --admin ADDR`; returns (exit code, stdout + stderr).
async fn cli(weir: &Weir, args: &[&str]) -> (i32, String) {
    weir.cli(&[&["rollouts"], args].concat()).await
}

async fn until(weir: &Weir, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    support::rollout::wait_status(weir, what, Duration::from_secs(10), check).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_drive_a_rollout_with_the_cli() {
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let weir = Weir::start_run(&run_file(stable.addr, canary.addr)).await;
    until(&weir, "paused at 25%", |s| s["phase"] == "Paused").await;

    let (code, out) = cli(&weir, &["list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("web") && out.contains("Paused"), "{out}");

    let (code, out) = cli(&weir, &["get", "web"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("॥ Paused"), "{out}");
    assert!(out.contains("Step:          1/4"), "{out}");
    assert!(out.contains("SetWeight:     25"), "{out}");
    assert!(out.contains("ActualWeight:  25"), "{out}");

    let (code, out) = cli(&weir, &["abort", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "aborted", |s| s["phase"] == "Degraded").await;
    let (_, out) = cli(&weir, &["get", "web"]).await;
    assert!(
        out.contains("✖ Degraded") && out.contains("RolloutAborted"),
        "{out}"
    );
    let c = Client::http1();
    c.assert_served_by(&weir.authority(), 10, "v1").await;

    let (code, out) = cli(&weir, &["retry", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "paused again after retry", |s| {
        s["phase"] == "Paused" && s["currentStepIndex"] == 1
    })
    .await;

    let (code, out) = cli(&weir, &["promote", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "at 75%", |s| {
        s["currentStepIndex"] == 3 && s["canary"]["weights"]["canary"]["weight"] == 75
    })
    .await;

    let (code, out) = cli(&weir, &["promote", "web", "--full"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "promoted", |s| {
        s["phase"] == "Healthy" && s["stableRS"] == s["currentPodHash"]
    })
    .await;
    let (code, out) = cli(&weir, &["get", "web"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✔ Healthy"), "{out}");

    let (code, out) = cli(&weir, &["pause", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "paused by the operator", |s| s["phase"] == "Paused").await;

    let (code, out) = cli(&weir, &["get", "nobody"]).await;
    assert_ne!(code, 0);
    assert!(out.contains("404") || out.contains("no rollout"), "{out}");
}

#[tokio::test]
async fn the_cli_explains_when_weir_is_not_running() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["rollouts", "list", "--admin", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach weir's admin API") && err.contains("--admin"),
        "{err}"
    );
}
