//! `weir crds`: the CRDs committed under deploy/crds/ are what the binary prints, and they
//! read back as Argo's five with the `weir` provider.

use std::process::Command;

#[test]
fn the_committed_crds_are_what_weir_crds_prints() {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("crds")
        .output()
        .expect("weir runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/crds/weir-crds.yaml"),
    )
    .unwrap();
    assert!(
        printed == committed,
        "deploy/crds/weir-crds.yaml is stale: run `cargo run -- crds > deploy/crds/weir-crds.yaml`"
    );
    // The YAML reads back to the objects it was written from, field for field.
    let objects: Vec<serde_json::Value> = printed
        .split("\n---\n")
        .skip(1)
        .map(|d| serde_saphyr::from_str(d).unwrap())
        .collect();
    let expected = weir_control::kubernetes::crds::crds().unwrap();
    assert_eq!(objects.len(), 5);
    for (read, crd) in objects.iter().zip(&expected) {
        assert_eq!(read, &crd.object, "{}", crd.name);
        assert_eq!(read["kind"], "CustomResourceDefinition");
    }
    let provider = |i: usize| {
        objects[i].pointer("/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/metrics/items/properties/provider/properties/weir/required").cloned()
    };
    for i in 0..3 {
        assert_eq!(
            provider(i),
            Some(serde_json::json!(["route", "backend", "metric"]))
        );
    }
    assert_eq!(objects[4]["metadata"]["name"], "rollouts.argoproj.io");
    assert_eq!(
        objects[4].pointer("/spec/versions/0/subresources/scale/labelSelectorPath"),
        Some(&serde_json::json!(".status.selector"))
    );
}
