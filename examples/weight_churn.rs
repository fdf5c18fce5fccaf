//! Drives weight changes through weir's admin API at a fixed rate, for the `features` mode
//! of `benches/peers.sh`: the route's weights alternate between 90/10 and 89/11 (so the
//! split stays where the benchmark wants it) over one keep-alive connection.
//!
//!     cargo run --release --example weight_churn -- ADMIN_ADDR ROUTE STABLE CANARY RATE SECONDS
//!     cargo run --release --example weight_churn -- 127.0.0.1:9901 web stable canary 1000 10
//!
//! Prints `changes=N errors=E generation_first=G0 generation_last=G1 achieved_rate=R
//! cpu_us_per_change=C`; exits 1 if any change was refused or failed.
//!
//! The driver shares the machine's cores with the load generator and the proxy, so it is
//! kept cheap: blocking I/O on one thread, the two request texts built once, no runtime and
//! no timer wheel. What it still costs is printed (`cpu_us_per_change`, from `/proc/self/stat`) so it can be told apart from what the proxy pays.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Clock ticks per second in `/proc` times: 100 on every Linux architecture weir runs on.
const USER_HZ: f64 = 100.0;

fn main() {
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

    // The two changes it alternates between, each a complete request.
    let requests: Vec<Vec<u8>> = [90u32, 89]
        .iter()
        .map(|s| {
            let body = format!(r#"{{"{stable}": {s}, "{canary}": {}}}"#, 100 - s);
            let auth = token
                .as_ref()
                .map(|t| format!("authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            format!(
                "PUT /routes/{route}/weights HTTP/1.1\r\nhost: {admin}\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect();

    let mut conn = TcpStream::connect(admin.as_str()).expect("connect to the admin API");
    conn.set_nodelay(true).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let cpu0 = own_cpu_ticks();
    let start = Instant::now();
    let (mut changes, mut errors) = (0u64, 0u64);
    let (mut first, mut last) = (None, 0u64);
    let mut buf = Vec::with_capacity(4096);
    while start.elapsed() < Duration::from_secs(secs) {
        // Open loop on a fixed schedule: a late change is sent at once, not skipped.
        let due = start + period * changes as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let req = &requests[(changes % 2) as usize];
        match conn
            .write_all(req)
            .map_err(|e| e.to_string())
            .and_then(|_| read_response(&mut conn, &mut buf))
        {
            Ok((200, body)) => {
                let g = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["generation"].as_u64())
                    .unwrap_or(0);
                first.get_or_insert(g);
                last = g;
            }
            Ok((status, body)) => {
                errors += 1;
                if errors == 1 {
                    eprintln!("status {status}: {}", String::from_utf8_lossy(&body));
                }
            }
            Err(e) => {
                eprintln!("admin connection failed: {e}");
                errors += 1;
                changes += 1;
                break;
            }
        }
        changes += 1;
    }
    let took = start.elapsed().as_secs_f64();
    let cpu_us = own_cpu_ticks().saturating_sub(cpu0) as f64 * 1e6 / USER_HZ;
    println!(
        "changes={changes} errors={errors} generation_first={} generation_last={last} achieved_rate={:.0} cpu_us_per_change={:.1}",
        first.unwrap_or(0),
        changes as f64 / took,
        cpu_us / changes.max(1) as f64
    );
    if errors > 0 {
        std::process::exit(1);
    }
}

/// Reads one response (the admin API always sends `content-length`): its status and body.
fn read_response(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(u16, Vec<u8>), String> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) =
            resp.parse(buf).map_err(|e| format!("bad response: {e}"))?
        {
            let status = resp.code.unwrap_or(0);
            let body_len = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .ok_or("response without content-length")?;
            while buf.len() < head_len + body_len {
                let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, buf[head_len..head_len + body_len].to_vec()));
        }
        let n = conn.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// This process's user + system CPU time so far, in clock ticks (`/proc/self/stat`).
fn own_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 0, utime field 11, stime field 12.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}
