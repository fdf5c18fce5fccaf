//! Prometheus text exposition of the proxy's measurements. Histogram buckets are derived
//! from the HDR histograms at scrape time, so nothing is recorded twice. Labels are
//! bounded: route and backend names from the configuration, status codes, and closed
//! sets of error reasons and mirror outcomes.

use crate::state::Proxy;
use crate::stats::{ErrorKind, MirrorOutcome};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Bucket bounds in seconds, Prometheus' defaults extended down to 0.5 ms.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Escapes a label value per the exposition format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(proxy: &Proxy, out: &mut String) {
    let table = proxy.table();
    let all = proxy.stats.all();

    let _ = writeln!(
        out,
        "# HELP weir_requests_total Requests answered, by route, backend and status code."
    );
    let _ = writeln!(out, "# TYPE weir_requests_total counter");
    let mut lifetimes = Vec::with_capacity(all.len());
    for ((route, backend), stats) in &all {
        let (codes, hist, sum) = stats.lifetime();
        if !backend.is_empty() {
            for (code, n) in &codes {
                let _ = writeln!(
                    out,
                    "weir_requests_total{{route=\"{}\",backend=\"{}\",code=\"{code}\"}} {n}",
                    esc(route),
                    esc(backend)
                );
            }
        }
        lifetimes.push((route, backend, stats, hist, sum));
    }

    let _ = writeln!(
        out,
        "# HELP weir_request_duration_seconds Request received to response headers sent."
    );
    let _ = writeln!(out, "# TYPE weir_request_duration_seconds histogram");
    for (route, backend, _, hist, sum) in &lifetimes {
        if backend.is_empty() {
            continue;
        }
        let labels = format!("route=\"{}\",backend=\"{}\"", esc(route), esc(backend));
        for le in BUCKETS {
            let micros = (le * 1e6) as u64;
            let n = hist.count_between(0, micros);
            let _ = writeln!(
                out,
                "weir_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "weir_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            hist.len()
        );
        let _ = writeln!(
            out,
            "weir_request_duration_seconds_sum{{{labels}}} {}",
            *sum as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "weir_request_duration_seconds_count{{{labels}}} {}",
            hist.len()
        );
    }

    let _ = writeln!(
        out,
        "# HELP weir_backend_weight The weight of each backend in the live route table."
    );
    let _ = writeln!(out, "# TYPE weir_backend_weight gauge");
    for r in &table.routes {
        for (b, w) in r.backends.iter().zip(&r.weights) {
            let _ = writeln!(
                out,
                "weir_backend_weight{{route=\"{}\",backend=\"{}\"}} {w}",
                esc(&r.name),
                esc(&b.name)
            );
        }
    }

    let _ = writeln!(
        out,
        "# HELP weir_upstream_errors_total Requests the proxy answered itself, by reason."
    );
    let _ = writeln!(out, "# TYPE weir_upstream_errors_total counter");
    for (route, backend, stats, _, _) in &lifetimes {
        for kind in ErrorKind::ALL {
            let n = stats.errors(kind);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "weir_upstream_errors_total{{route=\"{}\",backend=\"{}\",reason=\"{}\"}} {n}",
                    esc(route),
                    esc(backend),
                    kind.as_str()
                );
            }
        }
    }
    let no_route = proxy.no_route.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "weir_upstream_errors_total{{route=\"\",backend=\"\",reason=\"no_route\"}} {no_route}"
    );

    let _ = writeln!(
        out,
        "# HELP weir_spilled_requests_total Requests moved off a backend with no live endpoint."
    );
    let _ = writeln!(out, "# TYPE weir_spilled_requests_total counter");
    for (route, backend, stats, _, _) in &lifetimes {
        if !backend.is_empty() {
            let _ = writeln!(
                out,
                "weir_spilled_requests_total{{route=\"{}\",backend=\"{}\"}} {}",
                esc(route),
                esc(backend),
                stats.spilled()
            );
        }
    }

    let _ = writeln!(
        out,
        "# HELP weir_mirror_requests_total Mirrored copies, by outcome."
    );
    let _ = writeln!(out, "# TYPE weir_mirror_requests_total counter");
    for r in &table.routes {
        for m in &r.mirrors {
            for outcome in MirrorOutcome::ALL {
                let _ = writeln!(
                    out,
                    "weir_mirror_requests_total{{route=\"{}\",backend=\"{}\",outcome=\"{}\"}} {}",
                    esc(&r.name),
                    esc(&m.target.name),
                    outcome.as_str(),
                    m.target.stats.mirrors(outcome)
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "# HELP weir_config_reloads_total Configuration reloads, by result."
    );
    let _ = writeln!(out, "# TYPE weir_config_reloads_total counter");
    let _ = writeln!(
        out,
        "weir_config_reloads_total{{result=\"success\"}} {}",
        proxy.reloads_ok.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "weir_config_reloads_total{{result=\"failure\"}} {}",
        proxy.reloads_failed.load(Ordering::Relaxed)
    );

    let _ = writeln!(
        out,
        "# HELP weir_route_table_generation Generation of the live route table."
    );
    let _ = writeln!(out, "# TYPE weir_route_table_generation gauge");
    let _ = writeln!(out, "weir_route_table_generation {}", table.generation);

    let _ = writeln!(
        out,
        "# HELP weir_parked_connections Idle client connections parked (no task of their own)."
    );
    let _ = writeln!(out, "# TYPE weir_parked_connections gauge");
    let _ = writeln!(
        out,
        "weir_parked_connections {}",
        proxy.parked_connections.load(Ordering::Relaxed)
    );
}
