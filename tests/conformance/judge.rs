//! Judging what a case saw against its outcomes, the checks every case gets whatever its
//! outcome, and the report.

use crate::format::{Alts, Case, HeaderCheck, Outcome, Then, Transport};
use crate::support::recorder::{self, show, ConnLog, Framing};
use crate::wire::{clip, Resp, Seen, State};
use crate::{CLOSE_GRACE, PROBE_WAIT};
use std::fmt::Write as _;
use std::time::Duration;

/// What a case saw.
pub struct Observed {
    pub client: Seen,
    /// When the responses were in (or the connection closed), after the last write.
    pub settled: Option<Duration>,
    pub closed: Option<(String, Duration)>,
    pub write_failed: Option<String>,
    pub probe: ProbeResult,
    pub backend: Vec<ConnLog>,
    pub fresh: Vec<String>,
    /// Fresh probes that got another request's bytes.
    pub crossed: Vec<String>,
}

#[derive(Debug)]
pub enum ProbeResult {
    NotSent,
    Echo,
    Other(Resp),
    Closed,
    NoAnswer,
    WriteFailed,
}

pub fn status_matches(pats: &[String], status: u16) -> bool {
    let s = status.to_string();
    pats.iter().any(|p| {
        p.len() == 3
            && p.bytes()
                .zip(s.bytes())
                .all(|(a, b)| a == b'x' || a == b'X' || a == b)
    })
}

pub fn alts_show(a: &Alts) -> String {
    a.iter()
        .map(|v| format!("{:?}", show(v)))
        .collect::<Vec<_>>()
        .join(" | ")
}

pub fn check_header(
    what: &str,
    values: Vec<&[u8]>,
    h: &HeaderCheck,
    must: bool,
    why: &mut Vec<String>,
) {
    let hit = match &h.value {
        None => !values.is_empty(),
        Some(alts) => values.iter().any(|v| alts.iter().any(|a| a == v)),
    };
    if hit != must {
        let want = h
            .value
            .as_ref()
            .map(|a| format!(": {}", alts_show(a)))
            .unwrap_or_default();
        let got = values
            .iter()
            .map(|v| show(v))
            .collect::<Vec<_>>()
            .join(", ");
        why.push(format!(
            "{what} {} {}{want} (has: {got})",
            if must { "lacks" } else { "has" },
            h.name
        ));
    }
}

/// Why `o` does not hold for what was seen (empty: it holds).
pub fn judge(case: &Case, o: &Outcome, seen: &Observed) -> Vec<String> {
    let mut why = Vec::new();
    judge_answers(o, seen, &mut why);
    judge_connection(o, seen, &mut why);
    judge_backend(case, o, seen, &mut why);
    why
}

/// What the client got: statuses, headers, bodies, whole or cut short.
fn judge_answers(o: &Outcome, seen: &Observed, why: &mut Vec<String>) {
    let finals = seen.client.finals();
    let want = o.statuses.as_ref().unwrap();
    let got: Vec<u16> = finals.iter().map(|r| r.status).collect();
    if got.len() != want.len() || want.iter().zip(&got).any(|(p, s)| !status_matches(p, *s)) {
        why.push(format!(
            "statuses {:?}, expected [{}]",
            got,
            want.iter()
                .map(|p| p.join("|"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    let interims: Vec<&Resp> = seen
        .client
        .responses
        .iter()
        .filter(|r| !r.is_final())
        .collect();
    if let Some(w) = &o.interim {
        let got: Vec<u16> = interims.iter().map(|r| r.status).collect();
        if got.len() != w.len() || w.iter().zip(&got).any(|(p, s)| !status_matches(p, *s)) {
            why.push(format!("interim responses {got:?}, expected {w:?}"));
        }
    }
    for h in &o.interim_headers {
        match interims.first() {
            Some(r) => check_header("the interim response", r.values(&h.name), h, true, why),
            None => why.push("no interim response".into()),
        }
    }
    let resp = |i: usize, why: &mut Vec<String>| -> Option<&Resp> {
        let r = finals.get(i).copied();
        if r.is_none() {
            why.push(format!("no response #{}", i + 1));
        }
        r
    };
    for (i, h) in &o.headers {
        if let Some(r) = resp(*i, why) {
            check_header(
                &format!("response #{}", i + 1),
                r.values(&h.name),
                h,
                true,
                why,
            );
        }
    }
    for (i, h) in &o.no_headers {
        if let Some(r) = finals.get(*i) {
            check_header(
                &format!("response #{}", i + 1),
                r.values(&h.name),
                h,
                false,
                why,
            );
        }
    }
    for (i, alts) in &o.bodies {
        if let Some(r) = resp(*i, why) {
            if !alts.contains(&r.body) {
                why.push(format!(
                    "response #{} body {:?}, expected {}",
                    i + 1,
                    clip(&show(&r.body), 200),
                    alts_show(alts)
                ));
            }
        }
    }
    for (i, alts) in &o.body_contains {
        if let Some(r) = resp(*i, why) {
            if !alts.iter().any(|a| recorder::find(&r.body, a).is_some()) {
                why.push(format!(
                    "response #{} body {:?} contains none of {}",
                    i + 1,
                    clip(&show(&r.body), 200),
                    alts_show(alts)
                ));
            }
        }
    }
    let truncated = finals.iter().any(|r| r.state == State::Truncated);
    if o.truncated && !finals.last().is_some_and(|r| r.state == State::Truncated) {
        why.push("the last response is complete, expected it cut short".into());
    } else if !o.truncated && truncated {
        why.push("a response was cut short by the close".into());
    }
    if let Some((e, bytes)) = &seen.client.garbage {
        why.push(format!(
            "the client got bytes that are no valid response ({e}): {:?}",
            clip(&show(bytes), 200)
        ));
    }
}

/// The connection afterwards, and when the answers came.
fn judge_connection(o: &Outcome, seen: &Observed, why: &mut Vec<String>) {
    match o.then {
        Then::Closed => match &seen.closed {
            None => why.push("the connection was still open".to_string()),
            Some((_, at)) => {
                let limit = o
                    .within
                    .unwrap_or(seen.settled.unwrap_or_default() + CLOSE_GRACE);
                if *at > limit + Duration::from_millis(50) {
                    why.push(format!("closed only after {at:?}, expected by {limit:?}"))
                }
            }
        },
        Then::Open => {
            if !matches!(seen.probe, ProbeResult::Echo) {
                why.push(format!(
                    "a request on the same connection afterwards: {}, expected its own answer",
                    probe_text(&seen.probe)
                ));
            }
        }
        Then::Checked | Then::Any => {}
    }
    if let Some(at) = seen.settled {
        if at > o.within() + Duration::from_millis(50) {
            why.push(format!(
                "answered after {at:?}, expected within {:?}",
                o.within()
            ));
        }
        if o.not_before.is_some_and(|nb| at < nb) {
            why.push(format!(
                "answered after {at:?}, expected not before {:?}",
                o.not_before.unwrap()
            ));
        }
    }
}

/// What the backend got.
fn judge_backend(case: &Case, o: &Outcome, seen: &Observed, why: &mut Vec<String>) {
    let reqs: Vec<&recorder::Request> = seen
        .backend
        .iter()
        .flat_map(|c| c.requests.iter())
        .filter(|r| !r.is_probe())
        .collect();
    let want_reqs = o.backend_requests.unwrap_or(o.implied_requests(case));
    if reqs.len() != want_reqs {
        why.push(format!(
            "the backend got {} request(s), expected {want_reqs}",
            reqs.len()
        ));
    }
    let leftover = seen.backend.iter().any(|c| !c.leftover().is_empty());
    if o.backend_requests.is_none() && leftover {
        why.push("the backend got part of a request".into());
    }
    let req = |i: usize, why: &mut Vec<String>| -> Option<&recorder::Request> {
        let r = reqs.get(i).copied();
        if r.is_none() && reqs.len() == want_reqs {
            why.push(format!("the backend got no request #{}", i + 1));
        }
        r
    };
    for (i, alts) in &o.backend_lines {
        if let Some(r) = req(*i, why) {
            if !alts.contains(&r.line) {
                why.push(format!(
                    "forwarded request line {:?}, expected {}",
                    show(&r.line),
                    alts_show(alts)
                ));
            }
        }
    }
    for (i, h) in &o.backend_headers {
        if let Some(r) = req(*i, why) {
            let values = r.header_values(&h.name);
            if values.len() > 1 {
                why.push(format!("forwarded {} {} lines", values.len(), h.name));
            }
            check_header("the forwarded request", values, h, true, why);
        }
    }
    for (i, name) in &o.backend_no_headers {
        if let Some(r) = req(*i, why) {
            let h = HeaderCheck {
                name: name.clone(),
                value: None,
            };
            check_header(
                "the forwarded request",
                r.header_values(name),
                &h,
                false,
                why,
            );
        }
    }
    for (i, alts) in &o.backend_bodies {
        if let Some(r) = req(*i, why) {
            if !alts.contains(&r.body) {
                why.push(format!(
                    "forwarded body {:?}, expected {}",
                    clip(&show(&r.body), 200),
                    alts_show(alts)
                ));
            }
        }
    }
    for (i, ways) in &o.backend_framing {
        if let Some(r) = req(*i, why) {
            let got = match r.framing {
                Framing::None => "none",
                Framing::Length(_) => "length",
                Framing::Chunked => "chunked",
            };
            if !ways.iter().any(|w| w == got) {
                why.push(format!(
                    "forwarded framing {got}, expected {}",
                    ways.join("|")
                ));
            }
        }
    }
    for (i, routes) in &o.backend_routes {
        if let Some(r) = req(*i, why) {
            if !routes.contains(&r.route) {
                why.push(format!(
                    "forwarded to route {}, expected {}",
                    r.route,
                    routes.join("|")
                ));
            }
        }
    }
}

pub fn probe_text(p: &ProbeResult) -> String {
    match p {
        ProbeResult::NotSent => "not sent".into(),
        ProbeResult::Echo => "its own answer".into(),
        ProbeResult::Other(r) => format!("another answer: {}", r.summary()),
        ProbeResult::Closed => "the connection closed".into(),
        ProbeResult::NoAnswer => format!("no answer within {PROBE_WAIT:?}"),
        ProbeResult::WriteFailed => "the write failed".into(),
    }
}

/// Problems that fail a case whatever its outcome; and the critical ones.
pub fn invariants(seen: &Observed, case: &Case) -> (Vec<String>, Vec<String>) {
    let mut why = Vec::new();
    let mut critical = Vec::new();
    for r in &seen.client.responses {
        for p in r.head_problems() {
            why.push(format!(
                "weir sent the client a malformed head ({p}): {:?}",
                show(&r.head)
            ));
        }
        if recorder::find(&r.body, b"POISON").is_some()
            || recorder::find(&r.head, b"POISON").is_some()
        {
            critical.push(format!(
                "the client got bytes the backend sent after its answer: {}",
                r.summary()
            ));
        }
    }
    for c in &seen.backend {
        for r in &c.requests {
            if !r.problems.is_empty() && !r.is_probe() {
                why.push(format!(
                    "weir forwarded a request a strict server refuses ({}): {:?}",
                    r.problems.join("; "),
                    clip(&show(&r.raw), 300)
                ));
            }
            if recorder::find(&r.line, b"smuggled").is_some() {
                critical.push(format!(
                    "weir forwarded the hidden request {:?}",
                    show(&r.line)
                ));
            }
        }
        if let Some(e) = &c.error {
            why.push(format!(
                "weir sent the backend bytes that are no request ({e}): {:?}",
                clip(&show(c.leftover()), 300)
            ));
        }
    }
    let max_reqs = case
        .outcomes
        .iter()
        .map(|o| o.backend_requests.unwrap_or(o.implied_requests(case)))
        .max()
        .unwrap_or(0);
    let reqs: Vec<String> = seen
        .backend
        .iter()
        .flat_map(|c| c.requests.iter())
        .filter(|r| !r.is_probe())
        .map(|r| show(&r.line))
        .collect();
    if reqs.len() > max_reqs && reqs.len() > 1 {
        critical.push(format!(
            "the backend got {} requests where the client sent at most {max_reqs}: {:?}",
            reqs.len(),
            reqs
        ));
    }
    if let ProbeResult::Other(r) = &seen.probe {
        let theirs =
            r.status < 300 || r.body.starts_with(b"GET /") || r.body.starts_with(b"POST /");
        if theirs {
            critical.push(format!(
                "a probe on the same connection got another answer: {}",
                r.summary()
            ));
        }
    }
    why.extend(seen.fresh.iter().cloned());
    critical.extend(seen.crossed.iter().cloned());
    (why, critical)
}

pub fn describe(seen: &Observed) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "      client got:");
    for r in &seen.client.responses {
        let _ = writeln!(s, "        {}", r.summary());
    }
    if seen.client.responses.is_empty() {
        let _ = writeln!(s, "        no response");
    }
    if let Some((e, b)) = &seen.client.garbage {
        let _ = writeln!(
            s,
            "        then bytes that are no response ({e}): {:?}",
            clip(&show(b), 200)
        );
    }
    if let Some(e) = &seen.write_failed {
        let _ = writeln!(s, "        (a client write failed: {e})");
    }
    let _ = writeln!(
        s,
        "        answered after {:?}; connection {}; same-connection probe: {}",
        seen.settled,
        seen.closed
            .as_ref()
            .map_or("still open".to_string(), |(h, at)| format!(
                "{h} after {at:?}"
            )),
        probe_text(&seen.probe)
    );
    let _ = writeln!(s, "      backend got:");
    let mut any = false;
    for c in &seen.backend {
        for r in c.requests.iter().filter(|r| !r.is_probe()) {
            any = true;
            let _ = writeln!(
                s,
                "        [{} conn {}] {:?}",
                r.route,
                r.conn,
                clip(&show(&r.raw), 400)
            );
        }
        if !c.leftover().is_empty() {
            any = true;
            let _ = writeln!(
                s,
                "        [{} conn {}] partial/unparsed: {:?}{}",
                c.route,
                c.id,
                clip(&show(c.leftover()), 300),
                c.error
                    .as_ref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    if !any {
        let _ = writeln!(s, "        nothing");
    }
    s
}

pub struct Verdict {
    pub name: String,
    pub at: String,
    pub passed: bool,
    pub critical: Vec<String>,
    pub text: String,
}

pub fn verdict(case: &Case, seen: &Observed, t: Transport, took: Duration) -> Verdict {
    let (invariant_why, critical) = invariants(seen, case);
    let per: Vec<Vec<String>> = case.outcomes.iter().map(|o| judge(case, o, seen)).collect();
    let holds = per.iter().any(Vec::is_empty);
    let passed = holds && invariant_why.is_empty() && critical.is_empty();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{} [{}] {} ({}) {:.2}s",
        if passed { "ok  " } else { "FAIL" },
        t.name(),
        case.name,
        case.at,
        took.as_secs_f64()
    );
    if !passed || verbose() {
        for w in &case.why {
            let _ = writeln!(text, "      why: {w}");
        }
        if !holds {
            for (o, why) in case.outcomes.iter().zip(&per) {
                let _ = writeln!(text, "      outcome at line {}: {}", o.line, why.join("; "));
            }
        }
        for w in &invariant_why {
            let _ = writeln!(text, "      {w}");
        }
        for c in &critical {
            let _ = writeln!(text, "      CRITICAL: {c}");
        }
        text.push_str(&describe(seen));
    }
    Verdict {
        name: case.name.clone(),
        at: case.at.clone(),
        passed,
        critical,
        text,
    }
}

/// `CONFORMANCE_VERBOSE=1`: every case reports what it saw, not only failing ones.
pub fn verbose() -> bool {
    std::env::var("CONFORMANCE_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0")
}
