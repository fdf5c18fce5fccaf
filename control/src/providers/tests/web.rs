//! The web provider's jsonPath forms (requests are tested against a real server in
//! `control/tests/providers.rs`).

use serde_json::json;

use crate::providers::web::json_path;

fn first(path: &str, body: serde_json::Value) -> Option<serde_json::Value> {
    let (path, _) = json_path(Some(path)).unwrap().expect("a path");
    path.query(&body).first().cloned()
}

#[test]
fn argo_and_kubernetes_template_forms_are_accepted() {
    let body = json!({"data": {"ok": true, "items": [{"v": 1}, {"v": 2}]}});
    assert_eq!(first("{$.data.ok}", body.clone()), Some(json!(true)));
    assert_eq!(first("{.data.ok}", body.clone()), Some(json!(true)));
    assert_eq!(first("$.data.ok", body.clone()), Some(json!(true)));
    assert_eq!(first("{$.data.items[1].v}", body.clone()), Some(json!(2)));
    // A wildcard gives its first match, as Argo's getValue does.
    assert_eq!(first("{$.data.items[*].v}", body.clone()), Some(json!(1)));
    assert_eq!(first("{$.data.missing}", body), None);
}

#[test]
fn no_path_or_the_root_means_the_whole_body() {
    assert!(json_path(None).unwrap().is_none());
    assert!(json_path(Some("")).unwrap().is_none());
    assert!(json_path(Some("{$}")).unwrap().is_none());
}

#[test]
fn a_bad_path_is_an_error_naming_it() {
    let Err(err) = json_path(Some("{$.data[}")) else {
        panic!("expected an error");
    };
    assert!(
        err.starts_with(r#"jsonPath "{$.data[}" is not a JSONPath"#),
        "{err}"
    );
}
