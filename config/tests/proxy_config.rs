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
