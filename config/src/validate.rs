//! Semantic checks that serde cannot express: references between sections, address
//! syntax, ranges. Every problem is collected, not just the first.

use crate::proxy::{
    HeaderModifier, PathMatch, PathModifier, ProxyConfig, Redirect, Rewrite, Route,
    RouteConditions, StringMatch,
};
use crate::ConfigError;
use serde_saphyr::Spanned;
use std::collections::HashSet;
use std::net::SocketAddr;

struct Report<'a> {
    file: &'a str,
    first_line: u64,
    errors: Vec<ConfigError>,
}

impl Report<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, field: String, message: impl Into<String>) {
        let line = span.referenced.line();
        self.push(line, field, message)
    }

    fn push(&mut self, line: u64, field: String, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.to_string(),
            line: if line == 0 {
                0
            } else {
                line + self.first_line - 1
            },
            field,
            message: message.into(),
        });
    }
}

pub(crate) fn check(config: &ProxyConfig, file: &str, first_line: u64) -> Vec<ConfigError> {
    let mut r = Report {
        file,
        first_line,
        errors: Vec::new(),
    };
    for (i, l) in config.listeners.iter().enumerate() {
        if l.address.value.parse::<SocketAddr>().is_err() {
            r.at(
                &l.address,
                format!("listeners[{i}].address"),
                format!(
                    "{:?} is not an address; write ip:port, e.g. 127.0.0.1:8080 or [::]:8443",
                    l.address.value
                ),
            );
        }
        if let Some(tls) = &l.tls {
            if tls.certificates.is_empty() {
                r.at(
                    &l.address,
                    format!("listeners[{i}].tls.certificates"),
                    "a TLS listener needs at least one certificate",
                );
            }
        }
    }
    // A zero pause allowance would cut every streamed body at its first wait.
    if config.limits.client_body_timeout.get().is_zero() {
        r.push(
            0,
            "limits.clientBodyTimeout".into(),
            "must be more than 0 (it is how long a client may pause while sending a body)",
        );
    }
    for (i, route) in config.routes.iter().enumerate() {
        if route.timeouts.read.get().is_zero() {
            r.push(
                0,
                format!("routes[{i}].timeouts.read"),
                "must be more than 0 (it is how long an upstream may pause while sending a body)",
            );
        }
    }
    match config.admin.address.value.parse::<SocketAddr>() {
        Err(_) => r.at(
            &config.admin.address,
            "admin.address".into(),
            format!(
                "{:?} is not an address; write ip:port, e.g. 127.0.0.1:9901",
                config.admin.address.value
            ),
        ),
        Ok(a) if !a.ip().is_loopback() && config.admin.token_file.is_none() => r.at(
            &config.admin.address,
            "admin.tokenFile".into(),
            "an admin listener beyond loopback needs tokenFile: mutating calls must carry its bearer token",
        ),
        Ok(_) => {}
    }
    for (name, svc) in &config.services {
        for (i, ep) in svc.endpoints.iter().enumerate() {
            if let Err(why) = check_endpoint(&ep.value) {
                r.at(ep, format!("services.{name}.endpoints[{i}]"), why);
            }
        }
    }
    let mut names = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        if route.name.value.is_empty() {
            r.at(
                &route.name,
                format!("routes[{i}].name"),
                "a route needs a name",
            );
        } else if !names.insert(route.name.value.as_str()) {
            r.at(
                &route.name,
                format!("routes[{i}].name"),
                format!("route name {:?} is used twice", route.name.value),
            );
        }
        check_route(&mut r, config, i, route);
    }
    r.errors
}

fn check_endpoint(ep: &str) -> Result<(), String> {
    let (host, port) = ep
        .rsplit_once(':')
        .ok_or_else(|| format!("{ep:?} has no port; write host:port, e.g. 127.0.0.1:8081"))?;
    if host.is_empty() {
        return Err(format!("{ep:?} has no host; write host:port"));
    }
    port.parse::<u16>()
        .map(|_| ())
        .map_err(|_| format!("{ep:?}: port {port:?} is not a number from 0 to 65535"))
}

fn check_route(r: &mut Report<'_>, config: &ProxyConfig, i: usize, route: &Route) {
    let at = format!("routes[{i}]");
    check_path(
        r,
        &route.name,
        &format!("{at}.pathPrefix"),
        &route.path_prefix,
        route.path_match,
    );
    if route.backends.is_empty() && route.redirect.is_none() {
        r.at(
            &route.name,
            format!("{at}.backends"),
            "a route needs at least one backend (or a redirect)",
        );
    }
    let mut seen = HashSet::new();
    for (b, backend) in route.backends.iter().enumerate() {
        let svc = &backend.service.value;
        if !config.services.contains_key(svc) {
            r.at(
                &backend.service,
                format!("{at}.backends[{b}].service"),
                unknown_service(config, svc),
            );
        }
        if !seen.insert(svc.as_str()) {
            r.at(
                &backend.service,
                format!("{at}.backends[{b}].service"),
                format!("service {svc:?} appears twice in this route"),
            );
        }
    }
    check_conditions(r, &route.name, &format!("{at}.match"), &route.conditions);
    let is_backend = |name: &str| route.backends.iter().any(|b| b.service.value == name);
    for (h, hr) in route.header_routes.iter().enumerate() {
        if !is_backend(&hr.backend.value) {
            r.at(
                &hr.backend,
                format!("{at}.headerRoutes[{h}].backend"),
                format!(
                    "{:?} is not a backend of route {:?}",
                    hr.backend.value, route.name.value
                ),
            );
        }
        if hr.matches.is_empty() {
            r.at(
                &hr.backend,
                format!("{at}.headerRoutes[{h}].match"),
                "a header route needs at least one match",
            );
        }
        for (m, hm) in hr.matches.iter().enumerate() {
            let field = format!("{at}.headerRoutes[{h}].match[{m}].headerValue");
            check_string_match(r, &hr.backend, field, &hm.header_value);
        }
    }
    for (m, mirror) in route.mirrors.iter().enumerate() {
        if !config.services.contains_key(&mirror.backend.value) {
            r.at(
                &mirror.backend,
                format!("{at}.mirrors[{m}].backend"),
                unknown_service(config, &mirror.backend.value),
            );
        }
        let p = mirror.percentage.value;
        if !(0.0..=100.0).contains(&p) {
            r.at(
                &mirror.percentage,
                format!("{at}.mirrors[{m}].percentage"),
                format!("{p} is out of range; write 0 to 100"),
            );
        }
        for (k, rm) in mirror.matches.iter().enumerate() {
            let field = format!("{at}.mirrors[{m}].match[{k}]");
            if let Some(sm) = &rm.method {
                check_string_match(r, &mirror.backend, format!("{field}.method"), sm);
            }
            if let Some(sm) = &rm.path {
                check_string_match(r, &mirror.backend, format!("{field}.path"), sm);
            }
            for (name, sm) in &rm.headers {
                check_string_match(r, &mirror.backend, format!("{field}.headers.{name}"), sm);
            }
        }
    }
    check_rules(r, &at, route);
    let filters = Filters {
        request_headers: route.request_headers.as_ref(),
        response_headers: route.response_headers.as_ref(),
        redirect: route.redirect.as_ref(),
        rewrite: route.rewrite.as_ref(),
    };
    let prefix_matched = !matches!(route.path_match, PathMatch::Exact | PathMatch::Regex);
    check_filters(r, &route.name, &at, &filters, prefix_matched);
    if let Some(sticky) = &route.sticky {
        if sticky.header.is_some() == sticky.cookie.is_some() {
            r.at(
                &sticky.canary,
                format!("{at}.sticky"),
                "set exactly one of header or cookie",
            );
        }
        if !is_backend(&sticky.canary.value) {
            r.at(
                &sticky.canary,
                format!("{at}.sticky.canary"),
                format!(
                    "{:?} is not a backend of route {:?}",
                    sticky.canary.value, route.name.value
                ),
            );
        }
    }
}

/// A path and how it matches (a route's `pathPrefix` and `pathMatch`, or a rule match's).
fn check_path<T>(r: &mut Report<'_>, near: &Spanned<T>, field: &str, path: &str, kind: PathMatch) {
    if kind == PathMatch::Regex {
        if let Err(e) = regex::Regex::new(&format!("^(?:{path})$")) {
            r.at(
                near,
                field.to_string(),
                format!("{path:?} is not a regular expression (pathMatch: regex): {e}"),
            );
        }
    } else if !path.starts_with('/') {
        r.at(
            near,
            field.to_string(),
            format!("{path:?} must start with '/'"),
        );
    }
}

/// A method, header and query conditions (`at`: the field holding them).
fn check_conditions<T>(r: &mut Report<'_>, near: &Spanned<T>, at: &str, c: &RouteConditions) {
    if let Some(m) = &c.method {
        if http_method_invalid(m) {
            r.at(
                near,
                format!("{at}.method"),
                format!("{m:?} is not an HTTP method"),
            );
        }
    }
    for (name, sm) in &c.headers {
        if http_header_name_invalid(name) {
            r.at(
                near,
                format!("{at}.headers"),
                format!("{name:?} is not a header name"),
            );
        }
        check_string_match(r, near, format!("{at}.headers.{name}"), sm);
    }
    for (name, sm) in &c.query_params {
        check_string_match(r, near, format!("{at}.queryParams.{name}"), sm);
    }
}

/// A route's conditional backend rules: names, matches, backends (each one of the
/// route's), filters.
fn check_rules(r: &mut Report<'_>, at: &str, route: &Route) {
    let mut names = HashSet::new();
    for (k, rule) in route.rules.iter().enumerate() {
        let at = format!("{at}.rules[{k}]");
        let near = &rule.name;
        if rule.name.value.is_empty() {
            r.at(near, format!("{at}.name"), "a rule needs a name");
        } else if !names.insert(rule.name.value.as_str()) {
            r.at(
                near,
                format!("{at}.name"),
                format!(
                    "rule name {:?} is used twice in this route",
                    rule.name.value
                ),
            );
        }
        for (m, rm) in rule.matches.iter().enumerate() {
            let field = format!("{at}.match[{m}]");
            check_path(
                r,
                near,
                &format!("{field}.pathPrefix"),
                &rm.path_prefix,
                rm.path_match,
            );
            check_conditions(r, near, &field, &rm.conditions());
        }
        if rule.backends.is_empty() && rule.redirect.is_none() {
            r.at(
                near,
                format!("{at}.backends"),
                "a rule needs at least one backend (or a redirect)",
            );
        }
        let mut seen = HashSet::new();
        for (b, backend) in rule.backends.iter().enumerate() {
            let svc = &backend.service.value;
            let field = format!("{at}.backends[{b}].service");
            if !route.backends.iter().any(|rb| rb.service.value == *svc) {
                r.at(
                    &backend.service,
                    field,
                    format!(
                        "{svc:?} is not a backend of route {:?} (add it there, with weight 0 if it takes no share of its own)",
                        route.name.value
                    ),
                );
            } else if !seen.insert(svc.as_str()) {
                r.at(
                    &backend.service,
                    field,
                    format!("service {svc:?} appears twice in this rule"),
                );
            }
        }
        let filters = Filters {
            request_headers: rule.request_headers.as_ref(),
            response_headers: rule.response_headers.as_ref(),
            redirect: rule.redirect.as_ref(),
            rewrite: rule.rewrite.as_ref(),
        };
        let prefix_matched = rule
            .matches
            .iter()
            .all(|m| !matches!(m.path_match, PathMatch::Exact | PathMatch::Regex));
        check_filters(r, near, &at, &filters, prefix_matched);
    }
}

/// The Gateway API filters of a route or of one of its rules.
struct Filters<'a> {
    request_headers: Option<&'a HeaderModifier>,
    response_headers: Option<&'a HeaderModifier>,
    redirect: Option<&'a Redirect>,
    rewrite: Option<&'a Rewrite>,
}

/// The Gateway API filters of a route (or rule, `at`): header modifiers, redirect,
/// rewrite. `prefix_matched`: whether every path it matches is a prefix one (else
/// `replacePrefixMatch` has no prefix to replace).
fn check_filters(
    r: &mut Report<'_>,
    near: &Spanned<String>,
    at: &str,
    f: &Filters<'_>,
    prefix_matched: bool,
) {
    if let Some(m) = f.request_headers {
        check_header_modifier(r, near, &format!("{at}.requestHeaders"), m);
    }
    if let Some(m) = f.response_headers {
        check_header_modifier(r, near, &format!("{at}.responseHeaders"), m);
    }
    if let Some(redirect) = f.redirect {
        let field = format!("{at}.redirect");
        if f.rewrite.is_some() {
            r.at(
                near,
                field.clone(),
                "a route with a redirect cannot also have a rewrite: a redirect sends nothing upstream",
            );
        }
        if let Some(scheme) = &redirect.scheme {
            if scheme != "http" && scheme != "https" {
                r.at(
                    near,
                    format!("{field}.scheme"),
                    format!("{scheme:?} is not one of http, https"),
                );
            }
        }
        if let Some(host) = &redirect.hostname {
            check_hostname(r, near, format!("{field}.hostname"), host);
        }
        if let Some(port) = redirect.port {
            if !(1..=65535).contains(&port) {
                r.at(
                    near,
                    format!("{field}.port"),
                    format!("{port} is out of range; write 1 to 65535"),
                );
            }
        }
        if let Some(code) = redirect.status_code {
            if ![301, 302, 303, 307, 308].contains(&code) {
                r.at(
                    near,
                    format!("{field}.statusCode"),
                    format!("{code} is not one of 301, 302, 303, 307, 308"),
                );
            }
        }
        if let Some(path) = &redirect.path {
            check_path_modifier(r, near, &format!("{field}.path"), path, prefix_matched);
        }
    }
    if let Some(rewrite) = f.rewrite {
        let field = format!("{at}.rewrite");
        if let Some(host) = &rewrite.hostname {
            check_hostname(r, near, format!("{field}.hostname"), host);
        }
        if let Some(path) = &rewrite.path {
            check_path_modifier(r, near, &format!("{field}.path"), path, prefix_matched);
        }
    }
}

fn check_header_modifier<T>(
    r: &mut Report<'_>,
    near: &Spanned<T>,
    field: &str,
    m: &HeaderModifier,
) {
    for (list, headers) in [("set", &m.set), ("add", &m.add)] {
        for (name, value) in headers {
            if http_header_name_invalid(name) {
                r.at(
                    near,
                    format!("{field}.{list}"),
                    format!("{name:?} is not a header name"),
                );
            }
            if let Some(c) = value.chars().find(|c| header_value_char_invalid(*c)) {
                r.at(
                    near,
                    format!("{field}.{list}.{name}"),
                    format!(
                        "{value:?} holds the control character {c:?}; a header value may not hold CR, LF, NUL or other control characters (tab is allowed)"
                    ),
                );
            }
        }
    }
    for (i, name) in m.remove.iter().enumerate() {
        if http_header_name_invalid(name) {
            r.at(
                near,
                format!("{field}.remove[{i}]"),
                format!("{name:?} is not a header name"),
            );
        }
    }
}

fn check_path_modifier(
    r: &mut Report<'_>,
    near: &Spanned<String>,
    field: &str,
    p: &PathModifier,
    prefix_matched: bool,
) {
    match (&p.replace_full_path, &p.replace_prefix_match) {
        (Some(_), Some(_)) | (None, None) => r.at(
            near,
            field.to_string(),
            "set exactly one of replaceFullPath or replacePrefixMatch",
        ),
        _ => {}
    }
    for (name, value) in [
        ("replaceFullPath", &p.replace_full_path),
        ("replacePrefixMatch", &p.replace_prefix_match),
    ] {
        let Some(value) = value else { continue };
        if !value.starts_with('/') {
            r.at(
                near,
                format!("{field}.{name}"),
                format!("{value:?} must start with '/'"),
            );
        } else if let Some(c) = value.chars().find(|c| !is_path_char(*c)) {
            r.at(
                near,
                format!("{field}.{name}"),
                format!("{value:?} holds {c:?}, which a URI path may not hold (percent-encode it)"),
            );
        }
    }
    if p.replace_prefix_match.is_some() && !prefix_matched {
        r.at(
            near,
            format!("{field}.replacePrefixMatch"),
            "not with pathMatch: exact or regex (there is no prefix to replace); use replaceFullPath",
        );
    }
}

/// A host name as a `Location` or `host` carries it: letters, digits, `-` and `.`, or an
/// IPv6 literal in brackets. No port: that is a field of its own.
fn check_hostname<T>(r: &mut Report<'_>, near: &Spanned<T>, field: String, host: &str) {
    let ipv6 = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
    let name = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !ipv6 && !name {
        r.at(
            near,
            field,
            format!("{host:?} is not a host name (letters, digits, '-' and '.'; no port)"),
        );
    }
}

/// RFC 3986 `pchar`s, `/` and `%` (of a percent-encoding).
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

/// What `http::HeaderValue` refuses: control characters (DEL among them) other than tab.
fn header_value_char_invalid(c: char) -> bool {
    c.is_ascii_control() && c != '\t'
}

fn check_string_match<T>(r: &mut Report<'_>, near: &Spanned<T>, field: String, sm: &StringMatch) {
    let set = [sm.exact.is_some(), sm.prefix.is_some(), sm.regex.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if set != 1 {
        r.at(
            near,
            field.clone(),
            "set exactly one of exact, prefix or regex",
        );
    }
    if let Some(re) = &sm.regex {
        if let Err(e) = regex::Regex::new(&re.value) {
            r.at(re, format!("{field}.regex"), format!("invalid regex: {e}"));
        }
    }
}

fn unknown_service(config: &ProxyConfig, name: &str) -> String {
    let known: Vec<&str> = config.services.keys().map(String::as_str).collect();
    format!(
        "no service named {name:?}; services defined: {}",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

/// An RFC 9110 method is a token: one or more of its characters.
fn http_method_invalid(m: &str) -> bool {
    m.is_empty() || !m.bytes().all(is_token_char)
}

/// A header name is a token too.
fn http_header_name_invalid(n: &str) -> bool {
    n.is_empty() || !n.bytes().all(is_token_char)
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
