//! HTTP/1.1 conformance of the real `weir` binary, byte for byte, over plain TCP and over
//! TLS (ALPN `http/1.1`): raw request and response byte sequences from the case files in
//! `tests/conformance/*.case`, each with the outcomes it may have.
//!
//! Behind weir is a recording backend (`support/recorder.rs`, one listener per route) that
//! keeps every byte it receives and splits them into requests as a strict server would,
//! so a case can say exactly what weir forwarded (request line, `Host`, framing, body),
//! and a hidden (smuggled) request shows up as a request the case did not expect. It
//! echoes each request (`200`, body `METHOD TARGET`) unless the case scripts its answer.
//!
//! Every case, whatever its outcome, is also checked for:
//! - what weir sent the client: well-formed response heads (CRLF line ends, no bare CR,
//!   LF or NUL, no folded lines, at most one `content-length`, never with
//!   `transfer-encoding`);
//! - what weir sent the backend: requests a strict server accepts (one `Host`, one
//!   framing, `chunked` alone, origin-form target, HTTP/1.1, no bare CR/LF/NUL);
//! - the same connection afterwards (unless the outcome says `then: closed` or `any`): a
//!   probe request on it gets its own answer, a refusal, or a close, never another
//!   request's answer;
//! - fresh connections afterwards, one per route: each probe gets its own answer (no
//!   response-queue poisoning through weir's upstream pool).
//!
//! A case fails as CRITICAL when the backend got a request the client never sent as one
//! (a request line with `smuggled`, or more requests than any outcome allows), or a
//! client got another request's answer or bytes the backend sent beyond its answer
//! (`POISON`).
//!
//! This file runs the cases; `conformance/format.rs` parses the case files,
//! `conformance/wire.rs` is the client's side (connections, responses as a strict client
//! parses them) and `conformance/judge.rs` holds the checks and the report.
//!
//! # The case format
//!
//! ```text
//! # A comment (whole lines only).
//! === te.xchunked                        a case starts with `===` and its name
//! why: RFC 9112 6.1: ...                 free text, any number of lines
//! send: "POST / HTTP/1.1\r\n" "..."      one client write (any number, in order)
//! wait: 200ms                            the client pauses between writes
//! shutdown                               the client closes its sending side
//! backend-sends: "HTTP/1.1 200 OK\r\n..."   the backend's scripted answer to the case's
//! backend-waits: 1s                         first request, in steps (default: the echo)
//! backend-closes
//! backend-trickle: "HTTP/1.1 100 Continue\r\n\r\n" every 100ms   (until the case ends)
//! backend-silent                            (never answers)
//! weir-limits: clientBodyTimeout: 1s     added to weir's `limits` (cases with the same
//! weir-timeouts: read: 1s                extras share one weir); added to each route's
//!                                        `timeouts`
//! only: plain                            run over one transport only (plain or tls)
//! expect:                                an outcome; `or:` starts another one: the case
//!   status: 400|501                      passes when any one of them holds
//!   ...
//! or:
//!   ...
//! ```
//!
//! Byte strings are written in double quotes with the escapes `\r \n \t \0 \\ \" \xNN`;
//! several strings side by side are concatenated, and `"a" * 3` repeats one. Where a value
//! is compared, alternatives are separated by `|` (`body: "ok" | "OK"`); unquoted values
//! are taken as written, trimmed.
//!
//! Outcome lines (a `.N` after a key picks the Nth final response or forwarded request,
//! 1-based; default the first):
//! - `status: 200 400|505` the final (non-1xx) responses the client got, in order, each
//!   a code, a pattern like `4xx`, or alternatives; `status: none` for no response at all.
//! - `interim: 103` the 1xx responses before the final one, exactly (not checked if
//!   absent); `interim-header: link: "</a.css>; rel=preload"`.
//! - `header: NAME[: VALUE]`, `no-header: NAME[: VALUE]`, `body: VALUE`,
//!   `body-contains: VALUE`.
//! - `truncated: yes`: the last final response's body ended before its framing did
//!   (the connection closed first). Without it every response must be complete.
//! - `then: closed` (weir closes the connection, sending nothing more, within 0.5 s of its
//!   answer, or within `within` when the outcome gives one), `then: open` (a probe on the
//!   same connection gets its own answer), `then: any` (no check); default: the lenient
//!   probe above.
//! - `within: 3s`: the responses (and the close, with `then: closed`) arrive within this
//!   time after the client's last write (default 5s); `not-before: 500ms`.
//! - `backend-requests: N`: how many whole requests the backend received (partial bytes
//!   of one more are then allowed). Without it: 1 when the outcome says anything about the
//!   backend's request, or the case scripts the backend, or a status is a 2xx (only the
//!   backend answers those); else 0, and then 0 means not a single byte.
//! - `backend-line: "GET /x HTTP/1.1"`, `backend-header: host: a.test` (exactly one line
//!   of that name, with that value), `backend-no-header: x-secret`, `backend-body: ""`,
//!   `backend-framing: none|length|chunked`, `backend-route: a|b|any`.
//!
//! Routes: `a` for host `a.test`, `b` for `b.test`, `any` for every other host; no retries,
//! a 3 s request timeout, and a 2 s header-read timeout.
//!
//! `CONFORMANCE_CASES=name,other` runs only the cases whose names contain one of these;
//! `CONFORMANCE_VERBOSE=1` prints what every case saw.

#[path = "conformance/format.rs"]
mod format;
#[path = "conformance/judge.rs"]
mod judge;
mod support;
#[path = "conformance/wire.rs"]
mod wire;

use format::{load_cases, Case, Outcome, Step, Then, Transport};
use judge::{verdict, Observed, ProbeResult, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use support::raw::tls_files;
use support::recorder::{self, Framing, Recorder};
use support::Weir;
use tokio::io::AsyncWriteExt;
use wire::{clip, connect, ClientConn, State};

/// The routes: name and the hosts it answers.
const ROUTES: [(&str, &str); 3] = [("a", "[a.test]"), ("b", "[b.test]"), ("any", "[\"*\"]")];
/// A host for each route, for the fresh-connection probes.
const PROBE_HOSTS: [(&str, &str); 3] = [("a", "a.test"), ("b", "b.test"), ("any", "other.test")];
/// `then: closed` without `within`: the close must follow the answer this closely.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// How long a probe waits for its answer.
const PROBE_WAIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------
// weir, one per transport and configuration.

fn weir_yaml(rec: &Recorder, t: Transport, case: &Case) -> String {
    let mut limits = BTreeMap::from([("headerReadTimeout".to_string(), "2s".to_string())]);
    limits.extend(case.limits.clone());
    let mut timeouts = BTreeMap::from([("request".to_string(), "3s".to_string())]);
    timeouts.extend(case.timeouts.clone());
    let mut y = String::from("listeners:\n  - address: 127.0.0.1:0\n");
    if t == Transport::Tls {
        y.push_str("    tls:\n      certificates:\n        - {cert: cert.pem, key: key.pem}\n");
    }
    y.push_str("admin:\n  address: 127.0.0.1:0\nlimits:\n");
    for (k, v) in &limits {
        let _ = writeln!(y, "  {k}: {v}");
    }
    y.push_str("services:\n");
    for (name, addr) in &rec.listeners {
        let _ = writeln!(y, "  svc-{name}:\n    endpoints: [\"{addr}\"]");
    }
    y.push_str("routes:\n");
    for (name, hosts) in ROUTES {
        let _ = writeln!(
            y,
            "  - name: {name}\n    hosts: {hosts}\n    backends:\n      - service: svc-{name}\n        weight: 1\n    retries:\n      attempts: 0\n    timeouts:"
        );
        for (k, v) in &timeouts {
            let _ = writeln!(y, "      {k}: {v}");
        }
    }
    y
}

/// Starts weir on `yaml`; the reason when it does not start (a field it does not know).
async fn start_weir(yaml: String, cert: String, key: String) -> Result<Weir, String> {
    let started = tokio::spawn(async move {
        Weir::start_with_files(
            &yaml,
            &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())],
        )
        .await
    })
    .await;
    started.map_err(|e| {
        let p = e.into_panic();
        let text = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!(
            "weir did not start with this configuration: {}",
            clip(text.trim(), 600)
        )
    })
}

// ---------------------------------------------------------------------------------------
// Running a case.

fn probe_request(target: &str, host: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

fn echo_body(target: &str) -> Vec<u8> {
    format!("GET {target}").into_bytes()
}

/// Runs cases one after another against one transport.
struct Runner {
    t: Transport,
    /// The backend every route forwards to (one listener per route).
    rec: Recorder,
    /// The certificate weir's TLS listener serves, for the client to trust.
    der: Vec<u8>,
    /// Numbers the cases, so every probe's target (and so its echo) is unique.
    seq: usize,
}

impl Runner {
    async fn run_case(&mut self, weir: &Weir, case: &Case) -> Observed {
        self.seq += 1;
        let tag = format!("/__probe/{}/{}", self.t.name(), self.seq);
        self.rec.next_case(case.backend.clone()).await;
        let addr = weir.listeners[0];
        let head_first = case
            .steps
            .iter()
            .find_map(|s| match s {
                Step::Send(b) => Some(b.starts_with(b"HEAD ")),
                _ => None,
            })
            .unwrap_or(false);
        let mut c = ClientConn::new(connect(self.t, addr, &self.der).await, head_first);
        let write_failed = send_steps(&mut c, &case.steps).await;
        let sent = Instant::now();
        let want = case.outcomes.iter().map(Outcome::finals).max().unwrap_or(0);
        let within = case.outcomes.iter().map(Outcome::within).max().unwrap();
        let settled_at = c
            .read_until(sent + within, |s| s.finals().len() >= want)
            .await;
        let settled = settled_at.map(|at| at.saturating_duration_since(sent));
        // The connection afterwards: wait for the close where an outcome wants one, then
        // probe it if it is still open and an outcome wants that.
        let close_by = case
            .outcomes
            .iter()
            .filter(|o| o.then == Then::Closed)
            .map(|o| {
                o.within
                    .map_or(settled_at.unwrap_or_else(Instant::now) + CLOSE_GRACE, |w| {
                        sent + w
                    })
            })
            .max();
        if let (None, Some(deadline)) = (&c.closed, close_by) {
            c.read_until(deadline + Duration::from_millis(50), |_| false)
                .await;
        }
        let probing = case
            .outcomes
            .iter()
            .any(|o| matches!(o.then, Then::Checked | Then::Open));
        let mut probe = ProbeResult::NotSent;
        let mut client = c.seen();
        if c.closed.is_none() && probing && write_failed.is_none() {
            let before = client.finals().len();
            probe = probe_same_connection(&mut c, &format!("{tag}/same")).await;
            // The probe's answer, and anything after it, is not the case's.
            client = c.seen();
            client.truncate_finals(before);
        }
        let closed = c
            .closed
            .as_ref()
            .map(|(how, at)| (how.clone(), at.saturating_duration_since(sent)));
        drop(c);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let backend = self.rec.snapshot();
        let (fresh, crossed) = self.fresh_probes(addr, &tag).await;
        Observed {
            client,
            settled,
            closed,
            write_failed,
            probe,
            backend,
            fresh,
            crossed,
        }
    }

    /// A probe through each route on a fresh connection: problems, and probes that got
    /// another request's answer (response-queue poisoning: critical).
    async fn fresh_probes(&self, addr: SocketAddr, tag: &str) -> (Vec<String>, Vec<String>) {
        let mut fresh = Vec::new();
        let mut crossed = Vec::new();
        for (route, host) in PROBE_HOSTS {
            let target = format!("{tag}/fresh-{route}");
            let mut p = ClientConn::new(connect(self.t, addr, &self.der).await, false);
            if send_steps(&mut p, &[Step::Send(probe_request(&target, host))])
                .await
                .is_some()
            {
                fresh.push(format!("fresh probe via {host}: the write failed"));
                continue;
            }
            p.read_until(Instant::now() + PROBE_WAIT, |s| !s.finals().is_empty())
                .await;
            match p.seen().finals().first() {
                Some(r) if r.status == 200 && r.body == echo_body(&target) => {}
                Some(r) if r.status == 200 || r.body.starts_with(b"GET /") => {
                    crossed.push(format!(
                        "fresh probe via {host} got another request's answer: {}",
                        r.summary()
                    ));
                }
                Some(r) => fresh.push(format!("fresh probe via {host}: {}", r.summary())),
                None => fresh.push(format!(
                    "fresh probe via {host}: no answer ({})",
                    p.closed.as_ref().map_or("still open", |(h, _)| h.as_str())
                )),
            }
        }
        (fresh, crossed)
    }
}

/// The client's part of a case; why a write failed, if one did (the rest is skipped).
async fn send_steps(c: &mut ClientConn, steps: &[Step]) -> Option<String> {
    for step in steps {
        match step {
            Step::Send(b) => {
                let w = async {
                    c.io.write_all(b).await?;
                    c.io.flush().await
                };
                if let Err(e) = w.await {
                    return Some(e.to_string());
                }
            }
            Step::Wait(d) => tokio::time::sleep(*d).await,
            Step::Shutdown => {
                let _ = c.io.shutdown().await;
            }
        }
    }
    None
}

/// A probe request on the case's own connection, after the case's answers.
async fn probe_same_connection(c: &mut ClientConn, target: &str) -> ProbeResult {
    let before = c.seen().finals().len();
    if send_steps(c, &[Step::Send(probe_request(target, "a.test"))])
        .await
        .is_some()
    {
        return ProbeResult::WriteFailed;
    }
    c.read_until(Instant::now() + PROBE_WAIT, |s| s.finals().len() > before)
        .await;
    match c.seen().finals().get(before) {
        Some(r) if r.status == 200 && r.body == echo_body(target) => ProbeResult::Echo,
        Some(r) => ProbeResult::Other((*r).clone()),
        None if c.closed.is_some() => ProbeResult::Closed,
        None => ProbeResult::NoAnswer,
    }
}

fn selected(cases: Vec<Case>, t: Transport) -> Vec<Case> {
    let filter: Vec<String> = std::env::var("CONFORMANCE_CASES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    cases
        .into_iter()
        .filter(|c| c.only.is_none_or(|o| o == t))
        .filter(|c| filter.is_empty() || filter.iter().any(|f| c.name.contains(f.as_str())))
        .collect()
}

async fn run(t: Transport) {
    let cases = selected(load_cases(), t);
    let (cert, key, der) = tls_files();
    let rec = Recorder::start(&ROUTES.map(|(n, _)| n)).await;
    // Cases that need the same configuration share a weir, started when first needed.
    let mut groups: Vec<(String, Vec<&Case>)> = Vec::new();
    for c in &cases {
        let key = format!("{:?} {:?}", c.limits, c.timeouts);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(c),
            None => groups.push((key, vec![c])),
        }
    }
    let mut runner = Runner {
        t,
        rec,
        der,
        seq: 0,
    };
    let started = Instant::now();
    let mut verdicts = Vec::new();
    for (_, group) in &groups {
        let yaml = weir_yaml(&runner.rec, t, group[0]);
        let weir = start_weir(yaml, cert.clone(), key.clone()).await;
        for case in group {
            let v = match &weir {
                Ok(weir) => {
                    let began = Instant::now();
                    let seen = runner.run_case(weir, case).await;
                    verdict(case, &seen, t, began.elapsed())
                }
                Err(e) => Verdict {
                    name: case.name.clone(),
                    at: case.at.clone(),
                    passed: false,
                    critical: Vec::new(),
                    text: format!(
                        "FAIL [{}] {} ({})\n      {e}\n",
                        t.name(),
                        case.name,
                        case.at
                    ),
                },
            };
            print!("{}", v.text);
            verdicts.push(v);
        }
    }
    let failed: Vec<&Verdict> = verdicts.iter().filter(|v| !v.passed).collect();
    let critical: Vec<&Verdict> = verdicts.iter().filter(|v| !v.critical.is_empty()).collect();
    println!(
        "\n[{}] {} cases in {:?}: {} passed, {} failed ({} critical)",
        t.name(),
        verdicts.len(),
        started.elapsed(),
        verdicts.len() - failed.len(),
        failed.len(),
        critical.len()
    );
    for v in &failed {
        println!(
            "  FAIL {}{} ({})",
            v.name,
            if v.critical.is_empty() {
                ""
            } else {
                " CRITICAL"
            },
            v.at
        );
    }
    assert!(
        failed.is_empty(),
        "[{}] {} of {} conformance cases failed: {}",
        t.name(),
        failed.len(),
        verdicts.len(),
        failed
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn the_case_files_parse() {
    let cases = load_cases();
    assert!(cases.len() > 50, "{} cases", cases.len());
    // The escapes and repetition of the byte strings.
    assert_eq!(
        format::parse_bytes(r#""a\r\n\0\x7f\\\"" "b" * 3 | "c""#).unwrap(),
        vec![b"a\r\n\0\x7f\\\"bbb".to_vec(), b"c".to_vec()]
    );
    // The harness's own parsers agree with a well-formed exchange.
    let seen = wire::parse_responses(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel",
        false,
        true,
    );
    let got: Vec<(u16, &[u8], State)> = seen
        .responses
        .iter()
        .map(|r| (r.status, &r.body[..], r.state.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (103, &b""[..], State::Complete),
            (200, &b"ok"[..], State::Complete),
            (200, &b"hel"[..], State::Truncated)
        ]
    );
    let (req, used) = recorder::parse_request(
        b"POST /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nt: 1\r\n\r\nGET",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (&req.body[..], req.framing.clone(), used),
        (&b"abc"[..], Framing::Chunked, 80)
    );
    assert!(req.problems.is_empty(), "{:?}", req.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http1_conformance_over_plain_tcp() {
    run(Transport::Plain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http1_conformance_over_tls() {
    run(Transport::Tls).await;
}
