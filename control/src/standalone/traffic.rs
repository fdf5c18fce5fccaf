//! Carrying the engine's traffic actions out on the in-process proxy, and reading back
//! what the proxy actually serves.

use crate::engine::ObservedTraffic;
use std::collections::HashMap;
use weir_config::argo::{HeaderRoutingMatch, RouteMatch, StringMatch as ArgoMatch};
use weir_config::proxy::{self as cfg, spanned};
use weir_proxy::Proxy;

/// A version in standalone mode is a service's endpoint list; its "pod template hash" is
/// a stable hash of the sorted list (FNV-1a, so it is the same across restarts and builds).
pub fn version_hash(endpoints: &[String]) -> String {
    let mut sorted: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sorted.join(",").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:010x}", h & 0xff_ffff_ffff)
}

/// The weights the proxy serves on the first managed route, with the table generation.
pub fn observe(
    proxy: &Proxy,
    routes: &[String],
    stable: &str,
    canary: &str,
) -> Option<ObservedTraffic> {
    let table = proxy.table();
    let route = table.route(routes.first()?)?;
    let weight = |name: &str| {
        route
            .backends
            .iter()
            .position(|b| &*b.name == name)
            .map(|i| route.weights[i] as i32)
    };
    Some(ObservedTraffic {
        canary_weight: weight(canary)?,
        stable_weight: weight(stable)?,
        generation: table.generation,
    })
}

pub fn set_weights(
    proxy: &Proxy,
    routes: &[String],
    stable: &str,
    canary: &str,
    stable_w: i32,
    canary_w: i32,
) -> Result<u64, String> {
    let weights: HashMap<String, u32> = [
        (stable.to_string(), stable_w.max(0) as u32),
        (canary.to_string(), canary_w.max(0) as u32),
    ]
    .into();
    let mut generation = 0;
    for r in routes {
        generation = proxy.set_weights(r, &weights).map_err(|e| e.to_string())?;
    }
    Ok(generation)
}

fn string_match(m: &ArgoMatch) -> cfg::StringMatch {
    let some = |s: &String| (!s.is_empty()).then(|| s.clone());
    cfg::StringMatch {
        exact: some(&m.exact),
        prefix: some(&m.prefix),
        regex: some(&m.regex).map(spanned),
    }
}

pub fn header_route(name: &str, matches: &[HeaderRoutingMatch], canary: &str) -> cfg::HeaderRoute {
    cfg::HeaderRoute {
        name: name.to_string(),
        matches: matches
            .iter()
            .map(|m| cfg::HeaderMatch {
                header_name: m.header_name.clone(),
                header_value: m
                    .header_value
                    .as_ref()
                    .map(string_match)
                    .unwrap_or_else(|| cfg::StringMatch {
                        regex: Some(spanned(".*".to_string())),
                        ..Default::default()
                    }),
            })
            .collect(),
        backend: spanned(canary.to_string()),
    }
}

pub fn mirror(name: &str, percentage: i32, matches: &[RouteMatch], canary: &str) -> cfg::Mirror {
    cfg::Mirror {
        name: name.to_string(),
        backend: spanned(canary.to_string()),
        percentage: spanned(f64::from(percentage.clamp(0, 100))),
        matches: matches
            .iter()
            .map(|m| cfg::RequestMatch {
                method: m.method.as_ref().map(string_match),
                path: m.path.as_ref().map(string_match),
                headers: m
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), string_match(v)))
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_hash_ignores_order_and_tells_lists_apart() {
        let a = version_hash(&["127.0.0.1:1".into(), "127.0.0.1:2".into()]);
        let b = version_hash(&["127.0.0.1:2".into(), "127.0.0.1:1".into()]);
        let c = version_hash(&["127.0.0.1:3".into()]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 10);
    }
}
