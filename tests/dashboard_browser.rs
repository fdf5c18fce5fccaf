//! The web dashboard in a real browser (headless Chromium over WebDriver) against a real
//! `weir run` carrying traffic: the list and the rollout page follow the rollout live, the
//! plots receive points for both sides with the verdicts marked, the promote and abort
//! buttons do what `weir rollouts promote` / `abort` do, a request from another site is
//! refused, and the page carries on by itself after weir is killed and restarted.
//! Screenshots of the pages go to the test's output directory.

mod support;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use support::browser::Browser;
use support::client::Load;
use support::rollout::wait_status;
use support::{Backend, Weir};

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
}

/// A number a page element shows, as an integer.
fn number(text: Option<String>) -> Option<i64> {
    text?.trim().trim_end_matches('%').parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_rollout_and_its_buttons_act() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let admin = free_addr();
    let steps = "      steps:\n        - setWeight: 20\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - pause: {}\n        - setWeight: 60\n        - pause: {}\n        - setWeight: 80\n        - pause: {}\n";
    let file = support::rollout::canary_run_file(
        &admin.to_string(),
        stable.addr,
        canary.addr,
        steps,
        &support::rollout::success_rate_template("2s", 3, "      interval: 1s\n      count: 3\n"),
    );
    let weir = Weir::start_run(&file).await;
    let load = Load::start(&weir.authority(), 2);
    let base = format!("http://{admin}/dashboard/");

    // The list: the rollout, live, paused after its analysis at 20%.
    browser.goto(&base).await;
    let row = "tr[data-rollout=\"default/web\"]";
    browser
        .until(
            "the list shows web paused",
            Duration::from_secs(45),
            || async {
                (browser.text(&format!("{row} .phase")).await.as_deref() == Some("Paused"))
                    .then_some(())
            },
        )
        .await;
    assert_eq!(
        browser.text(&format!("{row} .step")).await.as_deref(),
        Some("2/7"),
        "as Argo shows it: the current step index / the steps"
    );
    browser.screenshot(&screenshots().join("list.png")).await;

    // The rollout's page, through the list's link.
    browser.click(&format!("{row} a.open")).await;
    browser
        .until(
            "the rollout page, loaded",
            Duration::from_secs(10),
            || async {
                // The name is the address's at once; the phase comes with the first answer.
                (browser.text("#rollout-name").await.as_deref() == Some("web")
                    && browser.text("#phase").await.as_deref() == Some("Paused"))
                .then_some(())
            },
        )
        .await;
    assert_eq!(number(browser.text("#set-weight").await), Some(20));
    assert_eq!(number(browser.text("#actual-weight").await), Some(20));
    assert_eq!(
        browser.text("#weights-verified").await.as_deref(),
        Some("verified")
    );
    // The revision and the age weir keeps for a standalone Rollout.
    assert!(number(browser.text("#revision").await).is_some_and(|r| r >= 1));
    let age = browser.text("#age").await.unwrap_or_default();
    assert!(age.ends_with('s') && age.len() > 1, "age {age:?}");
    assert_eq!(
        browser
            .attr("ol#steps li.current", "data-index")
            .await
            .as_deref(),
        Some("2")
    );
    // The analysis run, its three measurements Successful.
    let measured = browser
        .eval(
            "return document.querySelectorAll('#analysis-runs .measurement[data-phase=\"Successful\"]').length",
            vec![],
        )
        .await;
    assert_eq!(measured, json!(3), "three successful measurements shown");
    assert!(
        browser
            .eval(
                "return document.querySelectorAll('ul#events li').length",
                vec![]
            )
            .await
            .as_u64()
            .unwrap_or(0)
            > 0,
        "events shown"
    );
    // The plots receive points for both sides, with the verdicts and weight changes marked.
    for plot in ["#plot-success", "#plot-rate", "#plot-latency"] {
        browser
            .until(
                &format!("{plot} plots both sides"),
                Duration::from_secs(30),
                || async {
                    let stable = number(browser.attr(plot, "data-points-stable").await)?;
                    let canary = number(browser.attr(plot, "data-points-canary").await)?;
                    let marks = number(browser.attr(plot, "data-marks").await)?;
                    (stable >= 3 && canary >= 3 && marks >= 3).then_some(())
                },
            )
            .await;
    }
    browser.screenshot(&screenshots().join("rollout.png")).await;

    // A request from another site is refused, through the dashboard and the admin API,
    // and changes nothing.
    let client = support::Client::http1();
    for path in [
        "/dashboard/api/rollouts/default/web/promote",
        "/rollouts/web/promote",
    ] {
        let req = http::Request::post(format!("http://{admin}{path}"))
            .header("sec-fetch-site", "cross-site")
            .header("origin", "http://evil.test")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let refused = client.request(req).await.unwrap();
        assert_eq!(refused.status, 403, "{path}");
    }
    let status = weir.admin_json("/rollouts/web").await["status"].clone();
    assert_eq!(
        status["currentStepIndex"], 2,
        "still paused at the same step"
    );

    // Promote: the button does what `weir rollouts promote` does: the pause ends and the
    // next setWeight is served.
    browser.click("button[data-action=\"promote\"]").await;
    let after = wait_status(
        &weir,
        "promoted to the next pause",
        Duration::from_secs(20),
        |s| s["currentStepIndex"] == 4 && s["pauseConditions"].is_array(),
    )
    .await;
    assert_eq!(after["phase"], "Paused");
    let weights = weir.admin_json("/routes").await;
    let route = weights["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web")
        .unwrap()
        .clone();
    let canary_weight = route["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["service"] == "web-canary" || b["name"] == "web-canary")
        .map(|b| b["weight"].clone());
    assert_eq!(canary_weight, Some(json!(60)), "{route}");
    browser
        .until(
            "the page shows the next step",
            Duration::from_secs(10),
            || async {
                (browser
                    .attr("ol#steps li.current", "data-index")
                    .await
                    .as_deref()
                    == Some("4")
                    && number(browser.text("#set-weight").await) == Some(60))
                .then_some(())
            },
        )
        .await;
    // The CLI, for comparison, takes the same step from here: 60% -> 80%.
    let (code, out) = weir.cli(&["rollouts", "promote", "web"]).await;
    assert_eq!(code, 0, "{out}");
    wait_status(&weir, "the CLI's promote", Duration::from_secs(20), |s| {
        s["currentStepIndex"] == 6
    })
    .await;
    browser
        .until(
            "the page follows the CLI's promote",
            Duration::from_secs(10),
            || async { (number(browser.text("#set-weight").await) == Some(80)).then_some(()) },
        )
        .await;

    // Abort: all traffic back on stable, the rollout Degraded, as `weir rollouts abort`.
    browser.click("button[data-action=\"abort\"]").await;
    let aborted = wait_status(&weir, "aborted", Duration::from_secs(20), |s| {
        s["abort"] == true && s["phase"] == "Degraded"
    })
    .await;
    assert_eq!(aborted["phase"], "Degraded");
    browser
        .until(
            "the page shows the abort",
            Duration::from_secs(10),
            || async {
                (browser.text("#phase").await.as_deref() == Some("Degraded")
                    && number(browser.text("#actual-weight").await) == Some(0))
                .then_some(())
            },
        )
        .await;
    assert_eq!(
        browser
            .text("#action-result")
            .await
            .map(|t| t.contains("abort")),
        Some(true)
    );
    browser.screenshot(&screenshots().join("aborted.png")).await;

    // weir killed: the page says it is not answering; restarted: it carries on by itself
    // (no reload), the rollout as it was.
    let weir = weir
        .kill9_and_restart_after(async {
            browser
                .until(
                    "the banner while weir is down",
                    Duration::from_secs(15),
                    || async { browser.visible("#banner").await.then_some(()) },
                )
                .await;
        })
        .await;
    browser
        .until(
            "the page back after the restart",
            Duration::from_secs(30),
            || async {
                (!browser.visible("#banner").await
                    && browser.text("#phase").await.as_deref() == Some("Degraded"))
                .then_some(())
            },
        )
        .await;
    let status: Value = weir.admin_json("/rollouts/web").await["status"].clone();
    assert_eq!(status["abort"], true, "the abort survived the restart");
    let outcomes = load.stop().await;
    assert!(!outcomes.is_empty());
}
