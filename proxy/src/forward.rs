//! One request through the proxy: route match, backend choice (header routes, conditional
//! rules, sticky cohort, weighted pick, spill), mirroring, the upstream call with retries,
//! and the measurement of the outcome.

use crate::body::{empty, Idle, IdleTimeout, ProxyBody};
use crate::deadline::LazyTimer;
use crate::error::ProxyError;
use crate::filters::{HeaderModifier, Redirect};
use crate::matching::RuleMatch;
use crate::mirror;
use crate::pool::UpstreamBody;
use crate::state::Proxy;
use crate::stats::BackendStats;
use crate::table::{BackendRule, Route, StickySource, BUCKETS};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Incoming};
use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use weir_config::proxy::NoEndpoints;

/// Bodies up to this size (with a known length) are held in memory so the request can
/// be retried or mirrored; larger or streamed bodies are forwarded as they arrive.
const BUFFER_LIMIT: u64 = 64 * 1024;

pub use crate::headers::ClientInfo;
use crate::headers::{prepare_headers, strip_hop_by_hop, Forwarded};

/// The request body as the proxy holds it.
enum HeldBody {
    Empty,
    Buffered(Bytes),
    Streaming(Idle<Incoming>),
}

impl HeldBody {
    fn replayable(&self) -> bool {
        !matches!(self, HeldBody::Streaming(_))
    }

    fn take(&mut self) -> ProxyBody {
        match std::mem::replace(self, HeldBody::Empty) {
            HeldBody::Empty => empty(),
            HeldBody::Buffered(b) => {
                let body = ProxyBody::Full(Some(b.clone()));
                *self = HeldBody::Buffered(b);
                body
            }
            HeldBody::Streaming(s) => ProxyBody::Client(s),
        }
    }
}

/// A client's request body as the listener hands it over.
pub(crate) enum ClientBody {
    /// From hyper's server: streamed, or buffered here when small.
    Incoming(Incoming),
    /// Already read whole (weir's own HTTP/1.1 server, [`crate::h1_server`]).
    Held(Bytes),
}

/// Entry point from hyper's server: never fails, errors become responses here.
pub async fn serve(
    proxy: Arc<Proxy>,
    client: ClientInfo,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (parts, body) = req.into_parts();
    // Boxed: hyper's HTTP/2 server spawns a task per stream and moves the stream's future
    // several times on the way (into the task cell, between task stages); a box keeps
    // those moves to a few hundred bytes instead of the whole request's state.
    let fwd = Box::pin(forward(
        &proxy,
        &client,
        parts,
        ClientBody::Incoming(body),
        None,
    ));
    Ok(fwd.await)
}

/// One request, from either server: never fails, errors become responses here.
/// `timer`: the connection's request timer ([`LazyTimer`]), when it keeps one; without,
/// each attempt registers a timer of its own.
pub(crate) async fn forward(
    proxy: &Proxy,
    client: &ClientInfo,
    mut parts: Parts,
    body: ClientBody,
    mut timer: Option<&mut LazyTimer>,
) -> Response<ProxyBody> {
    let start = Instant::now();
    if let Err(e) = check_request(&mut parts) {
        proxy.refused.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(error = %e, "request refused");
        return e.into_response();
    }
    let table = proxy.table_full();
    let found = table.find(&request_host(&parts), &parts, client.tls);
    let Some(route) = found else {
        proxy.no_route.fetch_add(1, Ordering::Relaxed);
        return ProxyError::NoRoute.into_response();
    };
    if let Some(redirect) = &route.redirect {
        return redirect_answer(route, redirect, None, client, &parts, start);
    }
    // Managed header routes first, then the conditional rules (a route without either
    // pays two empty checks).
    let header_route = route.header_routes.iter().find(|h| h.matches(&parts));
    let rule = match header_route {
        None if !route.rules.is_empty() => route.rule_for(&parts, client.tls),
        _ => None,
    };
    if let Some((r, m)) = rule {
        if let Some(redirect) = &r.redirect {
            return redirect_answer(route, redirect, Some((r, m)), client, &parts, start);
        }
    }
    route.budget.deposit();

    let (mut choice, forced, cookie) =
        match choose(route, &parts, header_route.map(|h| h.backend), rule) {
            Ok(c) => c,
            Err(e) => return fail(&route.unrouted, start, e),
        };
    // A rule's backends spill among themselves.
    let spill_weights = rule.map_or(&route.weights, |(r, _)| &r.weights);
    let rule_response = rule.and_then(|(r, _)| r.response_headers.as_deref());
    if let Some(reason) = &route.backends[choice].invalid {
        // Its share fails, here and now: no spill, no dial (the Gateway API's rule for an
        // invalid backendRef).
        let e = ProxyError::InvalidBackend(reason.to_string());
        return fail(&route.backends[choice].stats, start, e);
    }

    let upgrade = is_upgrade(&parts);
    // A client of weir's own HTTP/1.1 server (the only one that hands a held body) gets
    // the upstream's header lines copied on as they came, with no `HeaderMap` between
    // (`h1::RawHeaders`); hyper's servers need the map, and so does a route that changes
    // the answer's headers.
    let raw_head = matches!(body, ClientBody::Held(_))
        && route.response_headers.is_none()
        && rule_response.is_none();
    let mut held = match body {
        ClientBody::Held(b) if b.is_empty() => HeldBody::Empty,
        ClientBody::Held(b) => HeldBody::Buffered(b),
        ClientBody::Incoming(_) if upgrade => HeldBody::Empty,
        ClientBody::Incoming(body) if body.is_end_stream() => HeldBody::Empty,
        ClientBody::Incoming(body)
            if body.size_hint().exact().is_some_and(|n| n <= BUFFER_LIMIT) =>
        {
            // Read whole before any backend is asked: under the client body's pause
            // allowance and the route's request timeout, so a client that stops halfway
            // cannot hold its connection (and a `maxConnections` slot) for ever.
            let body = Idle::new(body, proxy.client_body_timeout);
            let read = Limited::new(body, BUFFER_LIMIT as usize).collect();
            match tokio::time::timeout(route.request_timeout, read).await {
                Ok(Ok(c)) => HeldBody::Buffered(c.to_bytes()),
                Ok(Err(e)) => {
                    let e = match e.downcast::<IdleTimeout>() {
                        Ok(t) => ProxyError::ClientTimeout(t.0),
                        Err(_) => ProxyError::BadRequest("the request body ended early"),
                    };
                    return fail(&route.unrouted, start, e);
                }
                Err(_) => {
                    let e = ProxyError::ClientTimeout(route.request_timeout);
                    return fail(&route.unrouted, start, e);
                }
            }
        }
        ClientBody::Incoming(body) => {
            HeldBody::Streaming(Idle::new(body, proxy.client_body_timeout))
        }
    };

    prepare_headers(&mut parts.headers, parts.uri.authority(), upgrade);
    // The route's filters change the request before it is mirrored and sent: mirrors get
    // the same request the backend gets (and their matches see it).
    if let Some(m) = &route.request_headers {
        m.apply(&mut parts.headers);
    }
    if let Some(rewrite) = &route.rewrite {
        rewrite.apply(&mut parts, &route.path_prefix);
    }
    if let Some((r, m)) = rule {
        // The rule's after the route's: the route hands the request on to the rule.
        if let Some(h) = &r.request_headers {
            h.apply(&mut parts.headers);
        }
        if let Some(rewrite) = &r.rewrite {
            rewrite.apply(&mut parts, &m.path_prefix);
        }
    }
    let forwarded = Forwarded(client);
    if !route.mirrors.is_empty() {
        let body = match &held {
            HeldBody::Empty => Some(Bytes::new()),
            HeldBody::Buffered(b) => Some(b.clone()),
            HeldBody::Streaming(_) => None,
        };
        mirror::maybe_mirror(proxy, route, &parts, body, forwarded);
    }
    let on_upgrade = if upgrade {
        parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
    } else {
        None
    };

    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    );
    let mut tried: Vec<SocketAddr> = Vec::new();
    let mut retries_left = route.retry_attempts;
    // Why the last attempt failed, when the request goes on to another endpoint.
    let mut last_error: Option<ProxyError> = None;
    loop {
        let backend = &route.backends[choice];
        let Some(endpoint) = backend.pool.pick(&tried) else {
            // This backend has nothing live (left to try): spill to the others by weight.
            if !forced && route.on_no_endpoints == NoEndpoints::Spill {
                // Only backends with an endpoint this request has not tried: two backends
                // whose endpoints all refused must not bounce the request between them.
                // Nor to a backend that cannot be served.
                let next = route.pick.pick_among(spill_weights, |i| {
                    i != choice
                        && route.backends[i].invalid.is_none()
                        && route.backends[i].pool.has_untried_endpoint(&tried)
                });
                if let Some(next) = next {
                    backend.stats.record_spill();
                    choice = next;
                    continue;
                }
            }
            let Some(e) = last_error.take() else {
                return fail(&backend.stats, start, ProxyError::NoEndpoints);
            };
            // Every attempt already counted its error; count the answer only, which says
            // what the last attempt met (a refused connect, or an upstream that closed).
            let e = match e {
                ProxyError::Connect(_) if tried.len() > 1 => {
                    ProxyError::Connect("every endpoint refused the connection".into())
                }
                e => e,
            };
            let status = e.status().as_u16();
            backend
                .stats
                .record(Instant::now(), status, true, start.elapsed());
            return e.into_response();
        };
        let mut up = endpoint.outgoing(backend.pool.protocol, &parts, held.take(), Some(forwarded));
        if raw_head {
            if let crate::pool::Outgoing::H1(r) = &mut up {
                r.want_raw_head();
                if let Some(interim) = &client.interim {
                    r.relay_early_hints(interim.clone());
                }
            }
        }
        // Pinned here, held once in this future's state (see `LazyTimer::run`).
        let call = std::pin::pin!(endpoint.send(route.connect_timeout, up));
        let result = match timer.as_deref_mut() {
            Some(t) => {
                let deadline = tokio::time::Instant::now() + route.request_timeout;
                t.run(deadline, call).await
            }
            None => tokio::time::timeout(route.request_timeout, call)
                .await
                .map_err(|_| ()),
        };
        let can_replay = held.replayable();
        match result {
            Err(_) => {
                let e = ProxyError::Timeout(route.request_timeout);
                return fail(&backend.stats, start, e);
            }
            Ok(Err(e)) => {
                let e = ProxyError::from_upstream(e);
                tried.push(endpoint.addr);
                if matches!(e, ProxyError::Connect(_)) {
                    endpoint.connect_failed();
                    if can_replay && tried.len() <= 8 {
                        backend.stats.record_error(e.kind());
                        last_error = Some(e);
                        continue;
                    }
                } else if matches!(e, ProxyError::Reset(_))
                    && idempotent
                    && can_replay
                    && retries_left > 0
                    && can_go_elsewhere(route, choice, forced, spill_weights, &tried, endpoint.addr)
                    && route.budget.withdraw()
                {
                    retries_left -= 1;
                    backend.stats.record_error(e.kind());
                    last_error = Some(e);
                    continue;
                }
                // A client that broke or stalled its body is not the backend's fault.
                let counted_on = if e.is_client_fault() {
                    &route.unrouted
                } else {
                    &backend.stats
                };
                return fail(counted_on, start, e);
            }
            Ok(Ok(resp)) => {
                endpoint.answered();
                let status = resp.status();
                if (status == StatusCode::BAD_GATEWAY || status == StatusCode::SERVICE_UNAVAILABLE)
                    && idempotent
                    && can_replay
                    && retries_left > 0
                    // Only where another endpoint can take it: otherwise this answer, not
                    // weir's own, is the client's.
                    && can_go_elsewhere(route, choice, forced, spill_weights, &tried, endpoint.addr)
                    && route.budget.withdraw()
                {
                    retries_left -= 1;
                    tried.push(endpoint.addr);
                    // Record the failed attempt so the backend's error rate is honest.
                    backend
                        .stats
                        .record(Instant::now(), status.as_u16(), true, start.elapsed());
                    continue;
                }
                return respond(
                    &backend.stats,
                    start,
                    resp,
                    cookie.as_ref(),
                    (route, rule_response),
                    on_upgrade,
                );
            }
        }
    }
}

/// The request rules checked before routing, where weir's answer must not depend on which
/// server (its own HTTP/1.1 one or hyper's) parsed the request:
/// - one `Host` at most, and a valid one (RFC 9112 section 3.2: 400 otherwise);
/// - an HTTP/1.1 request has a `Host` (400 without, whatever its target); HTTP/1.0 need
///   not;
/// - a request target with an authority (absolute-form, or HTTP/2's `:authority`) sets
///   the host: the `Host` header is replaced by it, for routing and for the upstream (RFC
///   9112 section 3.2.2, RFC 9113 section 8.3.1); user information in it is an error (RFC
///   9110 section 4.2.4);
/// - the only transfer coding forwarded is a lone `chunked`: any other would be dropped
///   when weir frames the body anew, so it is refused with 501, as nginx does.
pub(crate) fn check_request(parts: &mut Parts) -> Result<(), ProxyError> {
    // One pass over the names (cheaper than two map lookups on a request of a few headers).
    let mut host = None;
    let mut codings = false;
    for (name, value) in &parts.headers {
        if name == header::HOST {
            if host.is_some() {
                return Err(ProxyError::BadRequest("more than one Host header"));
            }
            host = Some(value);
        } else if name == header::TRANSFER_ENCODING {
            codings = true;
        }
    }
    if host.is_some_and(|h| !valid_host(h.as_bytes())) {
        return Err(ProxyError::BadRequest(
            "the Host header is not a valid host",
        ));
    }
    if host.is_none() && parts.version == Version::HTTP_11 {
        // Even with an absolute-form target: "any HTTP/1.1 request message that lacks a
        // Host header field" (RFC 9112 3.2).
        return Err(ProxyError::BadRequest(
            "an HTTP/1.1 request without a Host header",
        ));
    }
    if let Some(authority) = parts.uri.authority() {
        // RFC 9110 4.2.4: user information in an http(s) URI is to be treated as an
        // error (`http://a.test@b.test/` is a phishing form).
        if authority.as_str().contains('@') {
            return Err(ProxyError::BadRequest(
                "the request target has user information",
            ));
        }
        let host_port = authority.as_str();
        let differs = host.is_none_or(|h| h.as_bytes() != host_port.as_bytes());
        if differs {
            let Ok(v) = HeaderValue::from_str(host_port) else {
                return Err(ProxyError::BadRequest(
                    "the request target's host is not valid",
                ));
            };
            if !valid_host(v.as_bytes()) {
                return Err(ProxyError::BadRequest(
                    "the request target's host is not valid",
                ));
            }
            parts.headers.insert(header::HOST, v);
        }
    }
    let mut codings = codings
        .then(|| parts.headers.get_all(header::TRANSFER_ENCODING).iter())
        .into_iter()
        .flatten();
    if let Some(first) = codings.next() {
        let lone_chunked = codings.next().is_none()
            && first
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"chunked");
        if !lone_chunked {
            return Err(ProxyError::NotImplemented(
                "a transfer coding other than a single chunked",
            ));
        }
    }
    Ok(())
}

/// Whether a `Host` value is a host with an optional port as RFC 3986 writes them: a
/// registered name (unreserved, sub-delims, percent-encoded), an IP literal in brackets,
/// then `:port`. Empty is allowed (RFC 9112: a target without an authority sends an empty
/// Host).
fn valid_host(v: &[u8]) -> bool {
    let (host, port) = match v.first() {
        Some(b'[') => match v.iter().position(|&b| b == b']') {
            Some(end) => {
                let inside = &v[1..end];
                if inside.is_empty()
                    || !inside
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'))
                {
                    return false;
                }
                (&v[..=end], &v[end + 1..])
            }
            None => return false,
        },
        _ => match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, &v[v.len()..]),
        },
    };
    let name_ok = host.first() == Some(&b'[')
        || host.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'%'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                )
        });
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    name_ok && port_ok
}

/// Whether a retry has somewhere to go besides `addr`: an endpoint of the same backend, or
/// (when the route spills) of another backend, that this request has not tried.
fn can_go_elsewhere(
    route: &Route,
    choice: usize,
    forced: bool,
    spill_weights: &[u32],
    tried: &[SocketAddr],
    addr: SocketAddr,
) -> bool {
    let mut tried = tried.to_vec();
    tried.push(addr);
    route.backends[choice].pool.has_untried_endpoint(&tried)
        || (!forced
            && route.on_no_endpoints == NoEndpoints::Spill
            && (0..route.backends.len()).any(|i| {
                i != choice
                    && spill_weights.get(i).is_some_and(|w| *w > 0)
                    && route.backends[i].invalid.is_none()
                    && route.backends[i].pool.has_untried_endpoint(&tried)
            }))
}

/// Records a proxy error on `stats` and turns it into the client's response.
fn fail(stats: &BackendStats, start: Instant, e: ProxyError) -> Response<ProxyBody> {
    stats.record_error(e.kind());
    let status = e.status().as_u16();
    stats.record(Instant::now(), status, true, start.elapsed());
    tracing::debug!(error = %e, "proxy error");
    e.into_response()
}

fn respond(
    stats: &Arc<BackendStats>,
    start: Instant,
    resp: Response<UpstreamBody>,
    cookie: Option<&HeaderValue>,
    (route, rule_response): (&Route, Option<&HeaderModifier>),
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ProxyBody> {
    let (mut parts, mut body) = resp.into_parts();
    let status = parts.status;
    if status == StatusCode::SWITCHING_PROTOCOLS {
        if let (Some(client_side), Some(upstream_side)) = (on_upgrade, body.take_upgraded()) {
            tokio::spawn(tunnel(client_side, upstream_side));
        }
    } else if body.may_have_hop_by_hop() {
        strip_hop_by_hop(&mut parts.headers);
    }
    // Such a route never asks for the head raw, so the headers are all in the map. The
    // rule's changes first, then the route's: the answer comes back through the route.
    if let Some(m) = rule_response {
        m.apply(&mut parts.headers);
    }
    if let Some(m) = &route.response_headers {
        m.apply(&mut parts.headers);
    }
    if let Some(c) = cookie {
        parts.headers.append(header::SET_COOKIE, c.clone());
    }
    let now = Instant::now();
    stats.record(now, status.as_u16(), status.is_server_error(), now - start);
    // The body may still stream: a pause longer than the route's read timeout cuts it,
    // and a cut body is counted on the backend.
    let body = Idle::new(body, route.read_timeout).counted_on(stats.clone());
    Response::from_parts(parts, ProxyBody::Upstream(body))
}

/// The answer of a route (or of its conditional `rule`, with the match that held) with a
/// redirect: its status and `Location`, an empty body, the rule's and the route's response
/// header changes; counted on the route's unrouted statistics (no backend was asked), not
/// as an error.
fn redirect_answer(
    route: &Route,
    redirect: &Redirect,
    rule: Option<(&BackendRule, &RuleMatch)>,
    client: &ClientInfo,
    parts: &Parts,
    start: Instant,
) -> Response<ProxyBody> {
    let prefix = rule.map_or(route.path_prefix.as_str(), |(_, m)| m.path_prefix.as_str());
    let location = redirect.location(parts, client.tls, prefix);
    let Ok(location) = HeaderValue::try_from(location) else {
        let e = ProxyError::BadRequest("the redirect's location is not a header value");
        return fail(&route.unrouted, start, e);
    };
    let mut resp = Response::new(empty());
    *resp.status_mut() = redirect.status;
    resp.headers_mut().insert(header::LOCATION, location);
    if let Some(m) = rule.and_then(|(r, _)| r.response_headers.as_ref()) {
        m.apply(resp.headers_mut());
    }
    if let Some(m) = &route.response_headers {
        m.apply(resp.headers_mut());
    }
    let now = Instant::now();
    route
        .unrouted
        .record(now, redirect.status.as_u16(), false, now - start);
    resp
}

/// Joins an upgraded client connection (WebSocket, ...) to the upgraded upstream one,
/// starting with the bytes the upstream sent right after its `101`.
async fn tunnel(
    client: hyper::upgrade::OnUpgrade,
    (mut upstream, early): (tokio::net::TcpStream, Bytes),
) {
    use tokio::io::AsyncWriteExt;
    let Ok(c) = client.await else {
        return;
    };
    let mut c = hyper_util::rt::TokioIo::new(c);
    if !early.is_empty() && c.write_all(&early).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut c, &mut upstream).await;
}

/// Picks the backend: the matching header route's (`header_route`, its backend) first,
/// then the matching conditional rule's by its weights (`rule`), then the sticky cohort,
/// then the weighted pick. Returns the backend index, whether it is forced (no spilling),
/// and a cookie to set on the response.
fn choose(
    route: &Route,
    parts: &Parts,
    header_route: Option<usize>,
    rule: Option<(&BackendRule, &RuleMatch)>,
) -> Result<(usize, bool, Option<HeaderValue>), ProxyError> {
    if let Some(backend) = header_route {
        return Ok((backend, true, None));
    }
    if let Some((r, _)) = rule {
        return match r.pick.pick() {
            Some(i) => Ok((i, false, None)),
            None => Err(ProxyError::ZeroWeight),
        };
    }
    if let Some(sticky) = &route.sticky {
        let (bucket, cookie) = match &sticky.source {
            StickySource::Header(name) => match parts.headers.get(name) {
                Some(v) => (Some(fnv1a(v.as_bytes()) % BUCKETS), None),
                None => (None, None),
            },
            StickySource::Cookie(name) => match cookie_value(&parts.headers, name) {
                Some(v) => (
                    Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|b| *b < BUCKETS)
                            .unwrap_or_else(|| fnv1a(v.as_bytes()) % BUCKETS),
                    ),
                    None,
                ),
                None => {
                    let b = fastrand::u64(..BUCKETS);
                    let c = HeaderValue::from_str(&format!(
                        "{name}={b}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"
                    ))
                    .ok();
                    (Some(b), c)
                }
            },
        };
        if let Some(bucket) = bucket {
            return match route.sticky_pick(sticky.canary, bucket) {
                Some(i) => Ok((i, false, cookie)),
                None => Err(ProxyError::ZeroWeight),
            };
        }
    }
    match route.pick.pick() {
        Some(i) => Ok((i, false, None)),
        None => Err(ProxyError::ZeroWeight),
    }
}

/// FNV-1a: a stable hash, so a user's bucket does not change across restarts or
/// versions (std's hasher promises neither).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The host the request is for, as routes match it: the `host` header, or the URI's
/// authority when there is none (HTTP/2), without its port, lowercase (borrowed unless it
/// had uppercase letters).
fn request_host(parts: &Parts) -> Cow<'_, [u8]> {
    let from_header = parts.headers.get(header::HOST).map(HeaderValue::as_bytes);
    if let Some(host) = from_header.and_then(host_without_port) {
        return host;
    }
    let authority = parts
        .uri
        .authority()
        .map_or(&b""[..], |a| a.as_str().as_bytes());
    host_without_port(authority).unwrap_or_default()
}

/// A `host` value (or URI authority) without its port, lowercased: in one pass over the
/// bytes, as this runs for every request. `None` when it has a byte a header value may
/// not hold as text (what `HeaderValue::to_str` refuses).
fn host_without_port(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    let mut colon = None;
    let mut upper = false;
    for (i, &b) in raw.iter().enumerate() {
        match b {
            b':' => colon = Some(i),
            b'A'..=b'Z' => upper = true,
            b'\t' | b' '..=b'~' => {}
            _ => return None,
        }
    }
    let end = match colon {
        // `[::1]` is an IPv6 literal without a port; `[::1]:8080` has one.
        Some(i) if raw.last() != Some(&b']') => i,
        _ => raw.len(),
    };
    let host = &raw[..end];
    Some(if upper {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    })
}

fn is_upgrade(parts: &Parts) -> bool {
    parts.version == Version::HTTP_11 && parts.headers.contains_key(header::UPGRADE)
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
