//! `WEIR_BENCH_CHURN="ROUTE STABLE CANARY RATE"`: weight changes made inside `weir proxy`,
//! for the `features` mode of `benches/peers.sh`.
//!
//! The standalone controller (`weir run`) changes weights in process, through
//! [`Proxy::set_weights`], with no HTTP. This hook drives that same call at a fixed rate, the
//! route's weights alternating between 90/10 and 89/11, so the benchmark can tell what a
//! weight change costs the data plane apart from what an admin API client and its
//! requests cost (`examples/weight_churn.rs` measures that path). It is off unless the
//! variable is set; `weir proxy` logs what it did when it stops.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use weir_proxy::Proxy;

/// What the churn did so far.
#[derive(Default)]
pub struct Counts {
    pub changes: AtomicU64,
    pub errors: AtomicU64,
}

/// What `WEIR_BENCH_CHURN` asks for.
#[derive(Debug, PartialEq)]
pub struct Spec {
    pub route: String,
    pub stable: String,
    pub canary: String,
    pub per_second: u32,
}

/// Parses `ROUTE STABLE CANARY RATE` (whitespace separated, RATE changes per second).
pub fn parse(spec: &str) -> Result<Spec, String> {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [route, stable, canary, rate] = parts.as_slice() else {
        return Err(format!(
            "WEIR_BENCH_CHURN: expected \"ROUTE STABLE CANARY RATE\", got {spec:?}"
        ));
    };
    let per_second = rate
        .parse::<u32>()
        .ok()
        .filter(|r| (1..=1_000_000).contains(r))
        .ok_or_else(|| {
            format!("WEIR_BENCH_CHURN: RATE must be 1 to 1000000 changes per second, got {rate:?}")
        })?;
    Ok(Spec {
        route: route.to_string(),
        stable: stable.to_string(),
        canary: canary.to_string(),
        per_second,
    })
}

/// Starts the churn on the current runtime; the counts say what it has done.
pub fn start(proxy: Arc<Proxy>, spec: Spec) -> Arc<Counts> {
    let counts = Arc::new(Counts::default());
    let out = counts.clone();
    let weights: [HashMap<String, u32>; 2] = [90u32, 89]
        .map(|s| HashMap::from([(spec.stable.clone(), s), (spec.canary.clone(), 100 - s)]));
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(Duration::from_nanos(1_000_000_000 / spec.per_second as u64));
        // A late tick is made up at once, so the rate holds on average (an open loop).
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tick.tick().await;
            let n = out.changes.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = proxy.set_weights(&spec.route, &weights[(n % 2) as usize]) {
                if out.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::error!(error = %e, "bench churn: weight change refused");
                }
            }
        }
    });
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_the_route_its_two_backends_and_a_rate() {
        assert_eq!(
            parse(" web  web-stable web-canary 1000 ").unwrap(),
            Spec {
                route: "web".into(),
                stable: "web-stable".into(),
                canary: "web-canary".into(),
                per_second: 1000,
            }
        );
        let e = parse("web stable canary").unwrap_err();
        assert!(e.contains("ROUTE STABLE CANARY RATE"), "{e}");
        for rate in ["0", "fast", "-5"] {
            let e = parse(&format!("web stable canary {rate}")).unwrap_err();
            assert!(e.contains("RATE must be"), "{rate}: {e}");
        }
    }
}
