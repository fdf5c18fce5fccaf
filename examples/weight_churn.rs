//! Drives weight changes through weir's admin API at a fixed rate, for
//! `benches/features.sh`: the route's weights alternate between A/B and A-1/B+1 (so the
//! split stays where the benchmark wants it) over one keep-alive connection.
//!
//!     cargo run --release --example weight_churn -- ADMIN_ADDR ROUTE STABLE CANARY RATE SECONDS
//!     cargo run --release --example weight_churn -- 127.0.0.1:9901 web stable canary 1000 10
//!
//! Prints `changes=N errors=E generation_first=G0 generation_last=G1 achieved_rate=R`; exits
//! 1 if any change was refused or failed.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [admin, route, stable, canary, rate, secs] = args.as_slice() else {
        eprintln!("usage: weight_churn ADMIN_ADDR ROUTE STABLE CANARY RATE SECONDS");
        std::process::exit(2);
    };
    let rate: u64 = rate
        .parse()
        .expect("RATE is a number of changes per second");
    let secs: u64 = secs.parse().expect("SECONDS is a number");
    let token = std::env::var("WEIR_ADMIN_TOKEN").ok();
    let stable_w = 90u32;

    let stream = tokio::net::TcpStream::connect(admin.as_str())
        .await
        .expect("connect to the admin API");
    stream.set_nodelay(true).unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake with the admin API");
    tokio::spawn(conn);

    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let (mut changes, mut errors) = (0u64, 0u64);
    let (mut first, mut last) = (None, 0u64);
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        let s = stable_w - (changes % 2) as u32;
        let body = format!(r#"{{"{stable}": {s}, "{canary}": {}}}"#, 100 - s);
        let mut req = Request::put(format!("/routes/{route}/weights"))
            .header("host", admin.as_str())
            .header("content-type", "application/json");
        if let Some(t) = &token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        send.ready().await.expect("admin connection open");
        match send.send_request(req).await {
            Ok(resp) => {
                let ok = resp.status().is_success();
                let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                match (ok, body) {
                    (true, Ok(b)) => {
                        let g = serde_json::from_slice::<serde_json::Value>(&b)
                            .ok()
                            .and_then(|v| v["generation"].as_u64())
                            .unwrap_or(0);
                        first.get_or_insert(g);
                        last = g;
                    }
                    _ => errors += 1,
                }
            }
            Err(_) => errors += 1,
        }
        changes += 1;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "changes={changes} errors={errors} generation_first={} generation_last={last} achieved_rate={:.0}",
        first.unwrap_or(0),
        changes as f64 / took
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
