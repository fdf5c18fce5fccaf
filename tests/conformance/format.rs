//! The case files: their text format (documented at the top of `http_conformance.rs`)
//! parsed into [`Case`]s, each with the client's steps, the backend's script, the weir
//! configuration it needs and the outcomes it may have.

use crate::support::recorder::Action;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an outcome waits for its answers unless it says `within`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5);

/// How the client reaches weir: every case runs over both (unless it says `only:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls => "tls",
        }
    }
}

/// One step of the client's part.
#[derive(Clone, Debug)]
pub enum Step {
    Send(Vec<u8>),
    Wait(Duration),
    Shutdown,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// `file:line`, for the report.
    pub at: String,
    pub why: Vec<String>,
    pub steps: Vec<Step>,
    /// The backend's answer to the case's first request (`None`: the echo).
    pub backend: Option<Vec<Action>>,
    /// Added to weir's `limits` and to each route's `timeouts`.
    pub limits: BTreeMap<String, String>,
    pub timeouts: BTreeMap<String, String>,
    pub only: Option<Transport>,
    /// The case passes when any one of them holds.
    pub outcomes: Vec<Outcome>,
}

/// Alternatives for one compared value.
pub type Alts = Vec<Vec<u8>>;

/// A header by name (any case), with the values it may have (`None`: any value).
#[derive(Clone, Debug)]
pub struct HeaderCheck {
    pub name: String,
    pub value: Option<Alts>,
}

/// What becomes of the client's connection after the answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Then {
    /// Open or closed; if open, a probe on it must not get another request's answer.
    #[default]
    Checked,
    Closed,
    Open,
    Any,
}

/// One acceptable outcome of a case (the keys are documented in `http_conformance.rs`);
/// the `usize` in each pair picks the response or forwarded request, from 0.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Where it starts in its file.
    pub line: usize,
    /// One entry per final response: the codes or patterns it may have.
    pub statuses: Option<Vec<Vec<String>>>,
    pub interim: Option<Vec<Vec<String>>>,
    pub interim_headers: Vec<HeaderCheck>,
    pub headers: Vec<(usize, HeaderCheck)>,
    pub no_headers: Vec<(usize, HeaderCheck)>,
    pub bodies: Vec<(usize, Alts)>,
    pub body_contains: Vec<(usize, Alts)>,
    pub truncated: bool,
    pub then: Then,
    pub within: Option<Duration>,
    pub not_before: Option<Duration>,
    pub backend_requests: Option<usize>,
    pub backend_lines: Vec<(usize, Alts)>,
    pub backend_headers: Vec<(usize, HeaderCheck)>,
    pub backend_no_headers: Vec<(usize, String)>,
    pub backend_bodies: Vec<(usize, Alts)>,
    pub backend_framing: Vec<(usize, Vec<String>)>,
    pub backend_routes: Vec<(usize, Vec<String>)>,
}

impl Outcome {
    /// How many requests the backend gets when the outcome does not say: one when it
    /// asserts anything about the forwarded request, or the case scripts the backend's
    /// answer, or the client gets a 2xx (only the backend answers those); else none.
    pub fn implied_requests(&self, case: &Case) -> usize {
        let success = self
            .statuses
            .iter()
            .flatten()
            .any(|alts| alts.iter().any(|p| p.starts_with('2')));
        usize::from(self.says_anything_about_the_backend() || case.backend.is_some() || success)
    }

    pub fn says_anything_about_the_backend(&self) -> bool {
        !(self.backend_lines.is_empty()
            && self.backend_headers.is_empty()
            && self.backend_no_headers.is_empty()
            && self.backend_bodies.is_empty()
            && self.backend_framing.is_empty()
            && self.backend_routes.is_empty())
    }

    pub fn within(&self) -> Duration {
        self.within.unwrap_or(DEFAULT_WITHIN)
    }

    pub fn finals(&self) -> usize {
        self.statuses.as_ref().map_or(0, Vec::len)
    }
}

/// Parses a byte expression: quoted strings (with escapes), concatenated, each optionally
/// repeated (`"ab" * 3`), with `|` between alternatives.
pub fn parse_bytes(src: &str) -> Result<Alts, String> {
    let mut alts = vec![Vec::new()];
    let b = src.as_bytes();
    let mut i = 0;
    let mut last_term: Option<Vec<u8>> = None;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' => i += 1,
            b'|' => {
                alts.push(Vec::new());
                last_term = None;
                i += 1;
            }
            b'*' => {
                i += 1;
                while i < b.len() && b[i] == b' ' {
                    i += 1;
                }
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: usize = src[start..i]
                    .parse()
                    .map_err(|_| format!("a count after `*` in {src}"))?;
                let term = last_term.take().ok_or("`*` without a string before it")?;
                let cur = alts.last_mut().unwrap();
                for _ in 1..n {
                    cur.extend_from_slice(&term);
                }
                if n == 0 {
                    let l = cur.len() - term.len();
                    cur.truncate(l);
                }
            }
            b'"' => {
                i += 1;
                let mut term = Vec::new();
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(format!("unterminated string in {src}"));
                    };
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *b.get(i).ok_or("a lone backslash")?;
                            i += 1;
                            term.push(match e {
                                b'r' => b'\r',
                                b'n' => b'\n',
                                b't' => b'\t',
                                b'0' => 0,
                                b'\\' => b'\\',
                                b'"' => b'"',
                                b'x' => {
                                    let hex = src.get(i..i + 2).ok_or("\\x needs two digits")?;
                                    i += 2;
                                    u8::from_str_radix(hex, 16)
                                        .map_err(|_| format!("bad escape \\x{hex}"))?
                                }
                                other => return Err(format!("unknown escape \\{}", other as char)),
                            });
                        }
                        c => term.push(c),
                    }
                }
                alts.last_mut().unwrap().extend_from_slice(&term);
                last_term = Some(term);
            }
            c => return Err(format!("unexpected {:?} in byte string {src}", c as char)),
        }
    }
    Ok(alts)
}

/// A compared value: quoted byte strings, or plain text with `|` between alternatives.
pub fn parse_alts(v: &str) -> Result<Alts, String> {
    let v = v.trim();
    if v.starts_with('"') {
        parse_bytes(v)
    } else {
        Ok(v.split('|').map(|s| s.trim().as_bytes().to_vec()).collect())
    }
}

pub fn parse_one_bytes(v: &str) -> Result<Vec<u8>, String> {
    let mut alts = parse_bytes(v)?;
    if alts.len() != 1 {
        return Err("alternatives are not allowed here".into());
    }
    Ok(alts.remove(0))
}

pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let (num, unit) = if let Some(n) = v.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(format!("a duration like 300ms or 2s, not {v}"));
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {v}"))?;
    Ok(Duration::from_secs_f64(n * unit))
}

pub fn parse_statuses(v: &str) -> Vec<Vec<String>> {
    if v.trim() == "none" {
        return Vec::new();
    }
    v.split_whitespace()
        .map(|s| s.split('|').map(str::to_string).collect())
        .collect()
}

/// `name[: value]`.
pub fn parse_header_check(v: &str) -> Result<HeaderCheck, String> {
    let (name, value) = match v.split_once(':') {
        Some((n, val)) if !val.trim().is_empty() => (n, Some(parse_alts(val)?)),
        Some((n, _)) => (n, None),
        None => (v, None),
    };
    Ok(HeaderCheck {
        name: name.trim().to_ascii_lowercase(),
        value,
    })
}

/// `key.N` -> (key, N-1).
pub fn split_index(key: &str) -> Result<(&str, usize), String> {
    match key.rsplit_once('.') {
        Some((k, n)) if n.chars().all(|c| c.is_ascii_digit()) => {
            let n: usize = n.parse().map_err(|_| format!("bad index in {key}"))?;
            if n == 0 {
                return Err(format!("indexes start at 1: {key}"));
            }
            Ok((k, n - 1))
        }
        _ => Ok((key, 0)),
    }
}

pub fn parse_file(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let mut cases: Vec<Case> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let err = |m: String| format!("{file}:{lineno}: {m}");
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("===") {
            cases.push(Case {
                name: name.trim().to_string(),
                at: format!("{file}:{lineno}"),
                why: Vec::new(),
                steps: Vec::new(),
                backend: None,
                limits: BTreeMap::new(),
                timeouts: BTreeMap::new(),
                only: None,
                outcomes: Vec::new(),
            });
            continue;
        }
        let Some(case) = cases.last_mut() else {
            return Err(err("a line before the first `=== name`".into()));
        };
        let (key, value) = match line.split_once(':') {
            Some((k, v))
                if k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
            {
                (k.trim(), v.trim())
            }
            _ => (line, ""),
        };
        let in_outcome = !case.outcomes.is_empty();
        match key {
            "why" => case.why.push(value.to_string()),
            "send" => case
                .steps
                .push(Step::Send(parse_one_bytes(value).map_err(err)?)),
            "wait" => case
                .steps
                .push(Step::Wait(parse_duration(value).map_err(err)?)),
            "shutdown" => case.steps.push(Step::Shutdown),
            "backend-sends" | "backend-waits" | "backend-closes" | "backend-trickle"
            | "backend-silent" => {
                let action = match key {
                    "backend-sends" => Action::Send(parse_one_bytes(value).map_err(err)?),
                    "backend-waits" => Action::Wait(parse_duration(value).map_err(err)?),
                    "backend-closes" => Action::Close,
                    "backend-silent" => Action::Silent,
                    _ => {
                        let (bytes, every) = value
                            .rsplit_once(" every ")
                            .ok_or_else(|| err("backend-trickle: BYTES every DURATION".into()))?;
                        Action::Trickle(
                            parse_one_bytes(bytes).map_err(err)?,
                            parse_duration(every).map_err(err)?,
                        )
                    }
                };
                case.backend.get_or_insert_with(Vec::new).push(action);
            }
            "weir-limits" | "weir-timeouts" => {
                let (k, v) = value
                    .split_once(':')
                    .ok_or_else(|| err(format!("{key}: NAME: VALUE")))?;
                let map = if key == "weir-limits" {
                    &mut case.limits
                } else {
                    &mut case.timeouts
                };
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
            "only" => {
                case.only = Some(match value {
                    "plain" => Transport::Plain,
                    "tls" => Transport::Tls,
                    _ => return Err(err("only: plain or tls".into())),
                })
            }
            "expect" | "or" => {
                if (key == "expect") == in_outcome {
                    return Err(err(
                        "`expect:` first, then `or:` for each alternative".into()
                    ));
                }
                case.outcomes.push(Outcome {
                    line: lineno,
                    ..Outcome::default()
                });
            }
            _ if !in_outcome => return Err(err(format!("unknown case line `{key}`"))),
            _ => {
                let o = case.outcomes.last_mut().unwrap();
                let (base, idx) = split_index(key).map_err(err)?;
                match base {
                    "status" => o.statuses = Some(parse_statuses(value)),
                    "interim" => o.interim = Some(parse_statuses(value)),
                    "interim-header" => o
                        .interim_headers
                        .push(parse_header_check(value).map_err(err)?),
                    "header" => o
                        .headers
                        .push((idx, parse_header_check(value).map_err(err)?)),
                    "no-header" => o
                        .no_headers
                        .push((idx, parse_header_check(value).map_err(err)?)),
                    "body" => o.bodies.push((idx, parse_alts(value).map_err(err)?)),
                    "body-contains" => o.body_contains.push((idx, parse_alts(value).map_err(err)?)),
                    "truncated" => o.truncated = value == "yes",
                    "then" => {
                        o.then = match value {
                            "closed" => Then::Closed,
                            "open" => Then::Open,
                            "any" => Then::Any,
                            _ => return Err(err("then: closed, open or any".into())),
                        }
                    }
                    "within" => o.within = Some(parse_duration(value).map_err(err)?),
                    "not-before" => o.not_before = Some(parse_duration(value).map_err(err)?),
                    "backend-requests" => {
                        o.backend_requests = Some(
                            value
                                .parse()
                                .map_err(|_| err("backend-requests: a number".into()))?,
                        )
                    }
                    "backend-line" => o.backend_lines.push((idx, parse_alts(value).map_err(err)?)),
                    "backend-header" => o
                        .backend_headers
                        .push((idx, parse_header_check(value).map_err(err)?)),
                    "backend-no-header" => o
                        .backend_no_headers
                        .push((idx, value.trim().to_ascii_lowercase())),
                    "backend-body" => o
                        .backend_bodies
                        .push((idx, parse_alts(value).map_err(err)?)),
                    "backend-framing" => o.backend_framing.push((
                        idx,
                        value.split('|').map(|s| s.trim().to_string()).collect(),
                    )),
                    "backend-route" => o.backend_routes.push((
                        idx,
                        value.split('|').map(|s| s.trim().to_string()).collect(),
                    )),
                    _ => return Err(err(format!("unknown outcome line `{key}`"))),
                }
            }
        }
    }
    for c in &cases {
        if c.outcomes.is_empty() {
            return Err(format!("{}: case {} has no `expect:`", c.at, c.name));
        }
        if c.outcomes.iter().any(|o| o.statuses.is_none()) {
            return Err(format!(
                "{}: case {}: every outcome needs `status:`",
                c.at, c.name
            ));
        }
        if !c.steps.iter().any(|s| matches!(s, Step::Send(_))) {
            return Err(format!("{}: case {} sends nothing", c.at, c.name));
        }
    }
    Ok(cases)
}

pub fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

pub fn load_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(case_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        all.extend(parse_file(&f).unwrap_or_else(|e| panic!("{e}")));
    }
    let mut names = std::collections::HashSet::new();
    for c in &all {
        assert!(
            names.insert(c.name.clone()),
            "{}: duplicate case name {}",
            c.at,
            c.name
        );
    }
    all
}
