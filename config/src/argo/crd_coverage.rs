//! Every property of Argo's CRDs has a field in weir's types, under Argo's name: a document
//! holding all of them (tests/data/argo-crd-fields) deserializes with unknown fields denied
//! and serializes back unchanged.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::*;

fn check<T: DeserializeOwned + Serialize>(kind: &str) {
    let path = format!(
        "{}/tests/data/argo-crd-fields/{kind}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    let all: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let typed: T = serde_json::from_value(all.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    let mut lost = Vec::new();
    differences(&all, &back, kind.to_owned(), &mut lost);
    assert!(lost.is_empty(), "{}", lost.join("\n"));

    // JSON is YAML: the YAML loader must agree with serde_json.
    let docs = parse_documents(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let from_yaml = match docs.first() {
        Some(Document::Rollout(d)) => serde_json::to_value(&d.resource),
        Some(Document::AnalysisTemplate(d)) => serde_json::to_value(&d.resource),
        Some(Document::ClusterAnalysisTemplate(d)) => serde_json::to_value(&d.resource),
        Some(Document::AnalysisRun(d)) => serde_json::to_value(&d.resource),
        Some(Document::Experiment(d)) => serde_json::to_value(&d.resource),
        other => panic!("{kind}: loaded as {other:?}"),
    }
    .expect("serializes");
    assert_eq!(from_yaml, back, "{kind}: YAML and JSON loading differ");
}

fn differences(want: &Value, got: &Value, path: String, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => differences(v, w, format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k} is dropped")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                out.push(format!("{path}.{k} appears from nowhere"));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                differences(v, w, format!("{path}[{i}]"), out);
            }
        }
        _ if want != got => out.push(format!("{path}: {want} became {got}")),
        _ => {}
    }
}

#[test]
fn rollout_has_every_crd_field() {
    check::<Rollout>("Rollout");
}

#[test]
fn analysis_templates_have_every_crd_field() {
    check::<AnalysisTemplate>("AnalysisTemplate");
    check::<ClusterAnalysisTemplate>("ClusterAnalysisTemplate");
}

#[test]
fn analysis_run_has_every_crd_field() {
    check::<AnalysisRun>("AnalysisRun");
}

#[test]
fn experiment_has_every_crd_field() {
    check::<Experiment>("Experiment");
}
