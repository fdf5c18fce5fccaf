//! Parsing and validation of the proxy configuration, as a user meets it.

use weir_config::{parse_proxy_config, ConfigErrors};

const GOOD: &str = r#"
listeners:
  - address: 127.0.0.1:8080
admin:
  address: 127.0.0.1:9901
services:
  web-stable:
    endpoints: ["127.0.0.1:18081"]
  web-canary:
    endpoints: ["127.0.0.1:18082"]
routes:
  - name: web
    hosts: ["*"]
    pathPrefix: /
    backends:
      - service: web-stable
        weight: 90
      - service: web-canary
        weight: 10
    timeouts: {connect: 1s, request: 15s}
"#;

fn errors(text: &str) -> ConfigErrors {
    parse_proxy_config("weir.yaml", text, 1).expect_err("must be rejected")
}

#[test]
fn the_design_example_parses() {
    let c = parse_proxy_config("weir.yaml", GOOD, 1).unwrap();
    assert_eq!(c.routes[0].backends[1].weight, 10);
    assert_eq!(c.routes[0].timeouts.request.get().as_secs(), 15);
    assert_eq!(
        c.services["web-canary"].endpoints[0].value,
        "127.0.0.1:18082"
    );
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text = GOOD.replace("    pathPrefix: /", "    pathPrefx: /");
    let e = errors(&text);
    let s = e.to_string();
    assert_eq!(e.0[0].line, 14, "{s}");
    assert!(
        s.starts_with(
            "weir.yaml:14: routes[0].pathPrefx: unknown field `pathPrefx`, expected one of name"
        ),
        "{s}"
    );
    assert!(s.contains("pathPrefx"), "{s}");
}

#[test]
fn wrong_type_names_the_field() {
    let text = GOOD.replace("weight: 10", "weight: ten");
    let e = errors(&text);
    assert_eq!(e.0[0].line, 19, "{e}");
    assert!(
        e.to_string()
            .ends_with("weight: must be a whole number from 0 to 4294967295, got ten"),
        "{e}"
    );
    assert!(e.0[0].field.contains("backends[1].weight"), "{e}");
    let negative = errors(&GOOD.replace("weight: 10", "weight: -1"));
    assert_eq!(
        negative.to_string(),
        "weir.yaml:19: routes[0].backends[1].weight: must be a whole number from 0 to 4294967295, got -1"
    );
}

#[test]
fn semantic_errors_are_all_reported_with_lines() {
    let text = GOOD
        .replace("service: web-canary", "service: web-canery")
        .replace("127.0.0.1:18081", "127.0.0.1")
        .replace("address: 127.0.0.1:8080", "address: localhost-8080");
    let e = errors(&text);
    let lines: Vec<String> = e.0.iter().map(|x| x.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("weir.yaml:3: listeners[0].address:")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("weir.yaml:8: services.web-stable.endpoints[0]:")
                && l.contains("no port")
        ),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("weir.yaml:18: routes[0].backends[1].service:")
                && l.contains("web-canery")
        ),
        "{lines:#?}"
    );
}

#[test]
fn admin_beyond_loopback_needs_a_token_file() {
    let text = GOOD.replace("address: 127.0.0.1:9901", "address: 0.0.0.0:9901");
    let e = errors(&text);
    assert_eq!(e.0[0].field, "admin.tokenFile", "{e}");
    let ok = GOOD.replace(
        "address: 127.0.0.1:9901",
        "address: 0.0.0.0:9901\n  tokenFile: admin.token",
    );
    assert!(parse_proxy_config("weir.yaml", &ok, 1).is_ok());
}

#[test]
fn header_route_mirror_and_sticky_references_are_checked() {
    let text = format!(
        "{GOOD}    headerRoutes:\n      - name: h\n        match:\n          - headerName: x-canary\n            headerValue: {{exact: \"1\", prefix: \"1\"}}\n        backend: nobody\n    mirrors:\n      - name: m\n        backend: web-canary\n        percentage: 150\n    sticky: {{canary: web-canary}}\n"
    );
    let e = errors(&text);
    let s = e.to_string();
    assert!(
        s.contains("routes[0].headerRoutes[0].backend: \"nobody\" is not a backend"),
        "{s}"
    );
    assert!(
        s.contains("headerValue: set exactly one of exact, prefix or regex"),
        "{s}"
    );
    assert!(
        s.contains("routes[0].mirrors[0].percentage: 150 is out of range"),
        "{s}"
    );
    assert!(
        s.contains("routes[0].sticky: set exactly one of header or cookie"),
        "{s}"
    );
}

#[test]
fn offsets_lines_for_a_document_inside_a_larger_file() {
    let text = GOOD.replace("weight: 10", "weight: -3");
    let e = parse_proxy_config("all.yaml", &text, 41).unwrap_err();
    assert_eq!(e.0[0].line, 59, "{e}");
}

#[test]
fn malformed_yaml_is_reported_with_a_line() {
    let e = errors("routes:\n  - name: web\n    backends: [\n");
    assert!(e.0[0].line >= 2, "{e}");
    assert!(e.0[0].file == "weir.yaml");
}

#[test]
fn route_conditions_are_checked() {
    let text = format!(
        "{GOOD}    match:\n      method: \"GE T\"\n      headers:\n        \"x canary\": {{exact: \"1\"}}\n        x-user: {{regex: \"(\"}}\n      queryParams:\n        v: {{exact: \"1\", prefix: \"1\"}}\n"
    );
    let s = errors(&text).to_string();
    for expected in [
        "routes[0].match.method: \"GE T\" is not an HTTP method",
        "routes[0].match.headers: \"x canary\" is not a header name",
        "routes[0].match.headers.x-user",
        "routes[0].match.queryParams.v",
    ] {
        assert!(s.contains(expected), "{expected} not in {s}");
    }
    let ok = format!(
        "{GOOD}    match:\n      method: POST\n      headers: {{x-canary: {{exact: \"1\"}}}}\n      queryParams: {{v: {{regex: \"^2$\"}}}}\n"
    );
    assert!(parse_proxy_config("weir.yaml", &ok, 1).is_ok());
}

#[test]
fn route_filters_parse_in_the_gateway_api_shape() {
    let text = format!(
        "{GOOD}    pathMatch: segments\n    requestHeaders:\n      set: {{x-a: \"1\"}}\n      add: {{X-B: \"2\"}}\n      remove: [x-c]\n    responseHeaders: {{set: {{}}, add: {{}}, remove: []}}\n    rewrite:\n      hostname: internal.example\n      path: {{replacePrefixMatch: /}}\n  - name: moved\n    pathPrefix: /old\n    redirect:\n      scheme: https\n      hostname: example.com\n      port: 8443\n      path: {{replaceFullPath: /new}}\n      statusCode: 301\n"
    );
    let c = parse_proxy_config("weir.yaml", &text, 1).unwrap();
    let web = &c.routes[0];
    let headers = web.request_headers.as_ref().unwrap();
    assert_eq!(headers.set["x-a"], "1");
    assert_eq!(headers.add["X-B"], "2");
    assert_eq!(headers.remove, ["x-c"]);
    assert!(web.response_headers.as_ref().unwrap().is_empty());
    let rewrite = web.rewrite.as_ref().unwrap();
    assert_eq!(rewrite.hostname.as_deref(), Some("internal.example"));
    let path = rewrite.path.as_ref().unwrap();
    assert_eq!(path.replace_prefix_match.as_deref(), Some("/"));
    assert_eq!(path.replace_full_path, None);
    // A redirect route needs no backends.
    let moved = &c.routes[1];
    assert!(moved.backends.is_empty());
    let redirect = moved.redirect.as_ref().unwrap();
    assert_eq!(redirect.scheme.as_deref(), Some("https"));
    assert_eq!(redirect.port, Some(8443));
    assert_eq!(redirect.status_code, Some(301));
    let path = redirect.path.as_ref().unwrap();
    assert_eq!(path.replace_full_path.as_deref(), Some("/new"));
    // A service that cannot be served says why.
    let invalid = text.replace(
        "    endpoints: [\"127.0.0.1:18082\"]\n",
        "    endpoints: []\n    invalid: \"Service apps/gone does not exist\"\n",
    );
    let c = parse_proxy_config("weir.yaml", &invalid, 1).unwrap();
    assert_eq!(
        c.services["web-canary"].invalid.as_deref(),
        Some("Service apps/gone does not exist")
    );
    assert_eq!(c.services["web-stable"].invalid, None);
    // Unknown fields in a filter are errors like everywhere else.
    let typo = text.replace("statusCode: 301", "status: 301");
    assert!(errors(&typo)
        .to_string()
        .contains("routes[1].redirect.status: unknown field"));
}

#[test]
fn route_filters_are_checked() {
    let text = format!(
        "{GOOD}    pathMatch: exact\n    requestHeaders:\n      set: {{\"x a\": \"1\", x-ok: \"a\\r\\nb\"}}\n      add: {{x-nul: \"a\\0b\"}}\n      remove: [\"bad:name\"]\n    responseHeaders:\n      set: {{x-tab: \"a\\tb\"}}\n      add: {{\"\": \"1\"}}\n    rewrite:\n      hostname: \"internal.example:8080\"\n      path: {{replacePrefixMatch: /v2}}\n  - name: moved\n    redirect:\n      scheme: ftp\n      hostname: \"a/b\"\n      port: 0\n      path: {{replaceFullPath: /x, replacePrefixMatch: /y}}\n      statusCode: 305\n    rewrite: {{hostname: ok.example}}\n  - name: moved-2\n    redirect:\n      port: 65536\n      path: {{replaceFullPath: \"x\"}}\n  - name: moved-3\n    redirect:\n      path: {{replacePrefixMatch: \"/a b\"}}\n  - name: empty-path\n    redirect:\n      path: {{}}\n  - name: nothing\n    pathPrefix: /nothing\n"
    );
    let s = errors(&text).to_string();
    for expected in [
        "routes[0].requestHeaders.set: \"x a\" is not a header name",
        "routes[0].requestHeaders.set.x-ok: \"a\\r\\nb\" holds the control character '\\r'",
        "routes[0].requestHeaders.add.x-nul: \"a\\0b\" holds the control character '\\0'",
        "routes[0].requestHeaders.remove[0]: \"bad:name\" is not a header name",
        "routes[0].responseHeaders.add: \"\" is not a header name",
        "routes[0].rewrite.hostname: \"internal.example:8080\" is not a host name",
        "routes[0].rewrite.path.replacePrefixMatch: not with pathMatch: exact",
        "routes[1].redirect: a route with a redirect cannot also have a rewrite",
        "routes[1].redirect.scheme: \"ftp\" is not one of http, https",
        "routes[1].redirect.hostname: \"a/b\" is not a host name",
        "routes[1].redirect.port: 0 is out of range; write 1 to 65535",
        "routes[1].redirect.path: set exactly one of replaceFullPath or replacePrefixMatch",
        "routes[1].redirect.statusCode: 305 is not one of 301, 302, 303, 307, 308",
        "routes[2].redirect.port: 65536 is out of range; write 1 to 65535",
        "routes[2].redirect.path.replaceFullPath: \"x\" must start with '/'",
        "routes[3].redirect.path.replacePrefixMatch: \"/a b\" holds ' '",
        "routes[4].redirect.path: set exactly one of replaceFullPath or replacePrefixMatch",
        "routes[5].backends: a route needs at least one backend (or a redirect)",
    ] {
        assert!(s.contains(expected), "{expected}\n not in\n{s}");
    }
    // A tab is a valid header value character; these routes have no other problem.
    assert!(!s.contains("x-tab"), "{s}");
    assert_eq!(s.lines().count(), 18, "{s}");
    // Lines point at the route.
    let e = errors(&text);
    let scheme =
        e.0.iter()
            .find(|e| e.field == "routes[1].redirect.scheme")
            .unwrap();
    assert_eq!(scheme.line, 32, "{e}");
}

#[test]
fn valid_route_filters_pass() {
    let text = format!(
        "{GOOD}    pathPrefix: /api\n    pathMatch: segments\n    requestHeaders: {{set: {{X-Env: \"prod\\tblue\"}}, remove: [Cookie]}}\n    rewrite: {{hostname: \"[::1]\", path: {{replacePrefixMatch: /}}}}\n  - name: to-https\n    pathPrefix: /old\n    redirect: {{scheme: https, port: 443, path: {{replacePrefixMatch: /new/%7Euser}}, statusCode: 308}}\n    backends: [{{service: web-stable, weight: 1}}]\n"
    )
    .replace("    pathPrefix: /\n", "");
    parse_proxy_config("weir.yaml", &text, 1).unwrap();
}

#[test]
fn a_regex_path_must_compile_and_takes_no_prefix_replacement() {
    let text = GOOD.replace(
        "    pathPrefix: /\n",
        "    pathPrefix: \"/v[0-9\"\n    pathMatch: regex\n",
    );
    assert!(text.contains("pathMatch: regex"), "{text}");
    let s = errors(&text).to_string();
    assert!(
        s.contains("routes[0].pathPrefix: \"/v[0-9\" is not a regular expression"),
        "{s}"
    );
    let ok = GOOD.replace(
        "    pathPrefix: /\n",
        "    pathPrefix: \"/v[0-9]+/.*\"\n    pathMatch: regex\n",
    );
    assert!(parse_proxy_config("weir.yaml", &ok, 1).is_ok());
}

#[test]
fn conditional_rules_parse_and_are_checked_field_by_field() {
    let ok = format!(
        "{GOOD}    rules:
      - name: api
        match:
          - {{pathPrefix: /api, pathMatch: segments, method: GET}}
          - headers: {{x-a: {{exact: \"1\"}}, x-b: {{regex: \"^b.*$\"}}}}
            queryParams: {{v: {{exact: \"2\"}}}}
        backends: [{{service: web-canary, weight: 1}}, {{service: web-stable, weight: 3}}]
        requestHeaders: {{set: {{x-rule: api}}}}
        rewrite: {{path: {{replacePrefixMatch: /}}}}
      - name: moved
        match: [{{pathPrefix: /old, pathMatch: exact}}]
        redirect: {{path: {{replaceFullPath: /new}}}}
"
    );
    let config = parse_proxy_config("weir.yaml", &ok, 1).unwrap();
    let rules = &config.routes[0].rules;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].matches[1].headers.len(), 2);
    assert_eq!(rules[0].backends[1].weight, 3);
    assert!(rules[1].backends.is_empty() && rules[1].redirect.is_some());

    let bad = format!(
        "{GOOD}    rules:
      - name: a
        match:
          - {{pathPrefix: api}}
          - {{pathPrefix: \"/v[\", pathMatch: regex, method: \"GE T\"}}
          - headers: {{\"x y\": {{exact: \"1\"}}, x-b: {{regex: \"(\"}}}}
            queryParams: {{v: {{exact: \"1\", prefix: \"1\"}}}}
        backends: [{{service: nobody, weight: 1}}, {{service: web-canary, weight: 1}}, {{service: web-canary, weight: 2}}]
        rewrite: {{path: {{replacePrefixMatch: /}}}}
      - name: a
      - name: \"\"
        match: [{{pathPrefix: /x, pathMatch: exact}}]
        redirect: {{path: {{replacePrefixMatch: /y}}}}
        rewrite: {{hostname: example.com}}
"
    );
    let s = errors(&bad).to_string();
    for expected in [
        "routes[0].rules[0].match[0].pathPrefix: \"api\" must start with '/'",
        "routes[0].rules[0].match[1].pathPrefix: \"/v[\" is not a regular expression",
        "routes[0].rules[0].match[1].method: \"GE T\" is not an HTTP method",
        "routes[0].rules[0].match[2].headers: \"x y\" is not a header name",
        "routes[0].rules[0].match[2].headers.x-b.regex: invalid regex",
        "routes[0].rules[0].match[2].queryParams.v: set exactly one of exact, prefix or regex",
        "routes[0].rules[0].backends[0].service: \"nobody\" is not a backend of route \"web\"",
        "routes[0].rules[0].backends[2].service: service \"web-canary\" appears twice in this rule",
        "routes[0].rules[0].rewrite.path.replacePrefixMatch: not with pathMatch: exact or regex",
        "routes[0].rules[1].name: rule name \"a\" is used twice in this route",
        "routes[0].rules[1].backends: a rule needs at least one backend (or a redirect)",
        "routes[0].rules[2].name: a rule needs a name",
        "routes[0].rules[2].redirect: a route with a redirect cannot also have a rewrite",
        "routes[0].rules[2].redirect.path.replacePrefixMatch: not with pathMatch: exact or regex",
    ] {
        assert!(s.contains(expected), "{expected} not in {s}");
    }
}
