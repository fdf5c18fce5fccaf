//! `/metrics` as scrapers read it: the text format by default and OpenMetrics when asked
//! for, both clean under `promtool check metrics` (the Prometheus package's own linter),
//! with the same samples in both, from a live `weir run` that has carried traffic, mirrored,
//! refused a reload and run an analysis (so that every family has series).

mod support;

#[path = "../control/tests/support_prometheus.rs"]
mod support_prometheus;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::client::load;
use support::rollout::wait_status;
use support::{Backend, Client, Weir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Prometheus' own scrape `Accept` header (2.x).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// `GET /metrics` with `accept` (none when `None`): (content type, body).
async fn scrape(admin: SocketAddr, accept: Option<&str>) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(admin).await.unwrap();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    s.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{accept}Connection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .expect("a content type");
    // The admin API answers with a length (no chunks): the body is the exposition.
    (content_type, body.to_owned())
}

/// `promtool check metrics` on `exposition`: (success, what it printed).
fn promtool(exposition: &str) -> (bool, String) {
    let prometheus = support_prometheus::find_binary_now().expect("prometheus is installed");
    let promtool = prometheus.with_file_name("promtool");
    let mut command = Command::new(&promtool);
    command.args(["check", "metrics"]);
    run_with_input(command, exposition)
}

/// Runs `command` with `input` on its standard input: (success, stdout then stderr).
fn run_with_input(mut command: Command, input: &str) -> (bool, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

/// The OpenMetrics reference parser (the Python client's, Debian's
/// `python3-prometheus-client`) on `exposition`: (accepted, what it printed).
fn openmetrics_parser(exposition: &str) -> (bool, String) {
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\nfamilies = list(parse(sys.stdin.read()))\nprint(len(families), 'families')\n";
    // /usr/bin/python3: the Debian package's module is on the system Python's path.
    let mut command = Command::new("/usr/bin/python3");
    command.args(["-c", script]);
    run_with_input(command, exposition)
}

/// Every sample line (`name{labels} value`) as a map from series to value; `_created`
/// lines and comments left out.
fn samples(exposition: &str) -> BTreeMap<String, f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The families declared (`# TYPE name type`).
fn types(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_formats_pass_promtool_and_carry_the_same_samples() {
    if support_prometheus::binary().await.is_none() {
        return;
    }
    let stable = Backend::start("v1").await;
    let canary = Backend::start("v2").await;
    let shadow = Backend::start("shadow").await;
    let steps = "        - setWeight: 40\n        - analysis:\n            templates: [{templateName: success-rate}]\n        - pause: {}\n";
    let template = support::rollout::success_rate_template("2s", 5, "");
    // A mirrored route beside the rollout's, so that the mirror family has series.
    let file = support::rollout::with_mirrored_route(
        &support::rollout::steps_run_file(stable.addr, canary.addr, steps, &template),
        shadow.addr,
    );
    let weir = Weir::start_run(&file).await;
    let client = Client::http1();
    // Traffic while the analysis runs, until the rollout pauses after it.
    let traffic = tokio::spawn({
        let authority = weir.authority();
        async move {
            let client = Client::http1();
            for _ in 0..40 {
                load(&client, &authority, 20, 4).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    wait_status(
        &weir,
        "paused after the analysis",
        Duration::from_secs(30),
        |s| s["currentStepIndex"] == 2 && s["pauseConditions"].is_array(),
    )
    .await;
    traffic.abort();
    let mirrored = client
        .get(&weir.authority(), "/", &[("host", "shadowed.test")])
        .await
        .unwrap();
    assert_eq!(mirrored.status, 200);
    // A refused reload.
    weir.write_config(&file.replace("routes:\n", "routes: [oops\n"));
    weir.signal("HUP");
    let mut refused = 0.0;
    for _ in 0..50 {
        refused = weir
            .metric("weir_config_reloads_total{result=\"failure\"}")
            .await;
        if refused >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused, 1.0, "the refused reload is counted");

    let (text_type, text) = scrape(weir.admin, None).await;
    let (open_type, open) = scrape(weir.admin, Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(text_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(
        open_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );

    // The text format through Prometheus' linter: no problem reported.
    let (ok, printed) = promtool(&text);
    assert!(
        ok && printed.trim().is_empty(),
        "promtool check metrics: {printed}\n{text}"
    );
    // promtool reads only the text format (prometheus/prometheus#8932): OpenMetrics goes
    // through the reference parser, the Python client's, which rejects what the
    // specification does not allow.
    let (ok, printed) = openmetrics_parser(&open);
    assert!(ok, "the OpenMetrics parser: {printed}\n{open}");
    // And the text format is not OpenMetrics: the same parser refuses it (the check has
    // teeth).
    assert!(!openmetrics_parser(&text).0, "text is not OpenMetrics");

    // The families as documented, in each format's spelling.
    let text_types = types(&text);
    let open_types = types(&open);
    for (family, kind) in [
        ("weir_requests", "counter"),
        ("weir_request_duration_seconds", "histogram"),
        ("weir_backend_weight", "gauge"),
        ("weir_upstream_errors", "counter"),
        ("weir_spilled_requests", "counter"),
        ("weir_mirror_requests", "counter"),
        ("weir_config_reloads", "counter"),
        ("weir_route_table_generation", "gauge"),
        ("weir_parked_connections", "gauge"),
        ("rollout_info", "gauge"),
        ("analysis_run_info", "gauge"),
        ("analysis_run_metric_phase", "gauge"),
        ("experiment_info", "gauge"),
    ] {
        let text_name = if kind == "counter" {
            format!("{family}_total")
        } else {
            family.to_owned()
        };
        assert_eq!(
            text_types.get(&text_name).map(String::as_str),
            Some(kind),
            "{text_name} in the text format"
        );
        assert_eq!(
            open_types.get(family).map(String::as_str),
            Some(kind),
            "{family} in OpenMetrics"
        );
    }
    assert!(open.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");

    // The same samples in both (a scrape apart: only what cannot move between the two).
    let text_samples = samples(&text);
    let open_samples = samples(&open);
    let stable_series = [
        "weir_config_reloads_total{result=\"failure\"}",
        "weir_requests_total{route=\"shadowed\",backend=\"web-stable\",code=\"200\"}",
        "weir_mirror_requests_total{route=\"shadowed\",backend=\"shadow\",outcome=\"sent\"}",
        "weir_upstream_errors_total{route=\"\",backend=\"\",reason=\"no_route\"}",
        "weir_backend_weight{route=\"web\",backend=\"web-canary\"}",
    ];
    for series in stable_series {
        let t = text_samples.get(series);
        assert!(t.is_some(), "{series} in the text format:\n{text}");
        assert_eq!(t, open_samples.get(series), "{series} in both formats");
    }
    assert_eq!(
        text_samples["weir_backend_weight{route=\"web\",backend=\"web-canary\"}"],
        40.0
    );
    assert_eq!(
        text_samples["weir_upstream_errors_total{route=\"\",backend=\"\",reason=\"no_route\"}"],
        0.0,
        "every request had a route"
    );
    assert_eq!(
        text_samples["weir_requests_total{route=\"shadowed\",backend=\"web-stable\",code=\"200\"}"],
        1.0
    );
    // A histogram's buckets are cumulative and end at the count.
    let route = "route=\"web\",backend=\"web-canary\"";
    let mut previous = 0.0;
    for le in [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
        "2.5", "5", "10", "+Inf",
    ] {
        let bucket =
            text_samples[&format!("weir_request_duration_seconds_bucket{{{route},le=\"{le}\"}}")];
        assert!(bucket >= previous, "le={le}: {bucket} after {previous}");
        previous = bucket;
    }
    let count = text_samples[&format!("weir_request_duration_seconds_count{{{route}}}")];
    assert_eq!(previous, count);
    assert!(count > 0.0, "the canary carried traffic");
    assert_eq!(
        text_samples[&format!("weir_requests_total{{{route},code=\"200\"}}")],
        count,
        "every canary request is in its histogram"
    );
    // The controller's families, with Argo's labels.
    assert_eq!(
        text_samples.get(
            "rollout_info{namespace=\"default\",name=\"web\",strategy=\"canary\",phase=\"Paused\"}"
        ),
        Some(&1.0),
        "{text}"
    );
    assert!(
        text_samples
            .keys()
            .any(|k| k.starts_with("analysis_run_metric_phase{")
                && k.contains("metric=\"success-rate\"")
                && k.contains("type=\"weir\"")
                && k.contains("phase=\"Successful\"")),
        "{text}"
    );
}
