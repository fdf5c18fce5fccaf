//! A weight change: `Proxy::set_weights` validates the route and backends, builds a new
//! route table and swaps it in (what the admin API's PUT and the controller both call).
//! On a config with one route of two backends (the peers benchmark) and with 50 routes.

use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::HashMap;
use weir_proxy::Proxy;

fn config(routes: usize) -> String {
    let mut y = String::from(
        "listeners:\n  - address: 127.0.0.1:0\nservices:\n  stable: {endpoints: [\"127.0.0.1:18081\"]}\n  canary: {endpoints: [\"127.0.0.1:18082\"]}\nroutes:\n",
    );
    for i in 0..routes {
        y.push_str(&format!(
            "  - name: r{i}\n    hosts: [\"h{i}.example.com\"]\n    backends: [{{service: stable, weight: 90}}, {{service: canary, weight: 10}}]\n"
        ));
    }
    y
}

fn bench(c: &mut Criterion) {
    for routes in [1, 50] {
        let cfg = weir_config::parse_proxy_config("bench.yaml", &config(routes), 1).unwrap();
        let proxy = Proxy::new(cfg).unwrap();
        let mut flip = false;
        c.bench_function(&format!("set_weights, {routes} route(s)"), |b| {
            b.iter(|| {
                flip = !flip;
                let s = if flip { 89 } else { 90 };
                let w = HashMap::from([("stable".to_string(), s), ("canary".to_string(), 100 - s)]);
                proxy.set_weights("r0", &w).unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
