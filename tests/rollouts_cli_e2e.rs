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

    // `status` waits for an outcome: a paused rollout has none within the timeout;
    // `--watch=false` only says where it stands.
    let (code, out) = cli(&weir, &["status", "web", "--timeout", "1s"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("Paused - CanaryPauseStep\n"), "{out}");
    assert!(
        out.contains("rollout 'web' is not Healthy after 1s"),
        "{out}"
    );
    let (code, out) = cli(&weir, &["status", "web", "--watch=false"]).await;
    assert_eq!((code, out.as_str()), (0, "Paused - CanaryPauseStep\n"));

    // `get --watch` keeps watching through an outcome, as kubectl argo rollouts does.
    let mut watching = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["rollouts", "get", "web", "--watch", "--admin"])
        .arg(weir.admin.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read what it draws as it draws it, and abort only once it has shown the pause:
    // otherwise a slow start could draw its first frame after the abort.
    let drawn = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let drawn = drawn.clone();
        let mut out = watching.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                if n == 0 {
                    break;
                }
                drawn
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let shown_at = std::time::Instant::now();
    while !drawn.lock().unwrap().contains("॥ Paused") {
        assert!(
            shown_at.elapsed() < Duration::from_secs(10),
            "get --watch never drew the pause: {}",
            drawn.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (code, out) = cli(&weir, &["abort", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "aborted", |s| s["phase"] == "Degraded").await;
    let (_, out) = cli(&weir, &["get", "web"]).await;
    assert!(
        out.contains("✖ Degraded") && out.contains("RolloutAborted"),
        "{out}"
    );
    let (code, out) = cli(&weir, &["status", "web"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rollout 'web' is Degraded: aborted by a user"),
        "{out}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        watching.try_wait().unwrap().is_none(),
        "get --watch stopped at Degraded"
    );
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &watching.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = watching.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    reader.join().unwrap();
    let watched = drawn.lock().unwrap().clone();
    assert!(
        watched.contains("॥ Paused") && watched.contains("✖ Degraded"),
        "{watched}"
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
    let (code, out) = cli(&weir, &["status", "web", "--timeout", "10s"]).await;
    assert_eq!((code, out.as_str()), (0, "Healthy\n"));

    let (code, out) = cli(&weir, &["pause", "web"]).await;
    assert_eq!(code, 0, "{out}");
    until(&weir, "paused by the operator", |s| s["phase"] == "Paused").await;

    let (code, out) = cli(&weir, &["get", "nobody"]).await;
    assert_ne!(code, 0);
    assert!(out.contains("404") || out.contains("no rollout"), "{out}");
}

#[test]
fn flags_show_only_on_the_commands_they_act_on() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weir"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for clients in [
        &["rollouts"][..],
        &["rollouts", "get"],
        &["lint"],
        &["demo"],
    ] {
        assert!(!help(clients).contains("--workers"), "weir {clients:?}");
    }
    for servers in [&["proxy"][..], &["run"]] {
        assert!(help(servers).contains("--workers"), "weir {servers:?}");
    }
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
