//! A weight change: `Proxy::set_weights` validates the route and backends, builds a new
//! route table and swaps it in (what the admin API's PUT and the controller both call).
//! On a config with one route of two backends (the peers benchmark) and with 50 routes.
//! And the same change through the admin API's handler (`Admin::serve` on an already read
//! `PUT /routes/r0/weights`: JSON in, the change, JSON out), without the HTTP server.
//! And a change under traffic: 25 requests recorded on the route's backends between
//! changes (25,000 requests a second with 1,000 changes a second), against the same
//! records without changes, so the difference is what a change's cut of the
//! measurements costs when there is something to set apart.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use http_body_util::Full;
use std::collections::HashMap;
use std::sync::Arc;
use weir_proxy::admin::Admin;
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

    let cfg = weir_config::parse_proxy_config("bench.yaml", &config(1), 1).unwrap();
    let proxy = Proxy::new(cfg).unwrap();
    let record_25 = |proxy: &Proxy| {
        let table = proxy.table();
        let route = table.route("r0").unwrap();
        for i in 0..25u64 {
            let b = &route.backends[usize::from(i % 10 == 0)];
            b.stats.record(
                std::time::Instant::now(),
                200,
                false,
                std::time::Duration::from_micros(300 + i),
            );
        }
    };
    c.bench_function("25 requests recorded, no change", |b| {
        b.iter(|| record_25(&proxy))
    });
    let mut flip = false;
    c.bench_function("25 requests recorded, then set_weights, 1 route", |b| {
        b.iter(|| {
            record_25(&proxy);
            flip = !flip;
            let s = if flip { 89 } else { 90 };
            let w = HashMap::from([("stable".to_string(), s), ("canary".to_string(), 100 - s)]);
            proxy.set_weights("r0", &w).unwrap()
        })
    });

    let cfg = weir_config::parse_proxy_config("bench.yaml", &config(1), 1).unwrap();
    let admin = Arc::new(Admin {
        proxy: Proxy::new(cfg).unwrap(),
        token: None,
        ready: true.into(),
        extensions: Default::default(),
        weights_log: Default::default(),
    });
    let bodies =
        [90, 89].map(|s| Bytes::from(format!(r#"{{"stable": {s}, "canary": {}}}"#, 100 - s)));
    let mut flip = 0;
    c.bench_function("admin PUT /routes/r0/weights, 1 route", |b| {
        b.iter(|| {
            flip ^= 1;
            let req = http::Request::put("/routes/r0/weights")
                .header("content-type", "application/json")
                .body(Full::new(bodies[flip].clone()))
                .unwrap();
            let resp = admin.clone().serve(req).now_or_never().unwrap().unwrap();
            assert_eq!(resp.status(), 200);
            resp
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
