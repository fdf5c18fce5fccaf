//! The README's run command and `weir lint`, as a newcomer runs them.

use std::process::Command;

fn weir(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("weir runs")
}

#[test]
fn the_demo_promotes_a_good_canary_and_rolls_back_a_bad_one() {
    let good = std::thread::spawn(|| weir(&["demo", "--no-redraw"]));
    let bad = weir(&["demo", "--no-redraw", "--bad-canary"]);
    let good = good.join().unwrap();
    let good_out = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{good_out}\n{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(good_out.contains("result: Healthy"), "{good_out}");
    assert!(good_out.contains("Step:          6/6"), "{good_out}");
    let bad_out = String::from_utf8_lossy(&bad.stdout);
    assert!(bad.status.success(), "{bad_out}");
    assert!(bad_out.contains("result: Degraded"), "{bad_out}");
    assert!(bad_out.contains("RolloutAborted"), "{bad_out}");
}

fn examples_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tests/data/argo-examples")
}

#[test]
fn lint_accepts_every_argo_example_at_once() {
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    let mut args = vec!["lint"];
    args.extend(files.iter().map(String::as_str));
    let out = weir(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no problems"));
    let ours = weir(&[
        "lint",
        "examples/quickstart.yaml",
        "examples/demo-rollout.yaml",
        "examples/experiment.yaml",
    ]);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stdout)
    );
}

#[test]
fn lint_rejects_bad_manifests_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let text = include_str!("../examples/demo-rollout.yaml")
        .replace("- setWeight: 50", "- setWeight: 150")
        .replace(
            "      count: 3\n      successCondition: result >= 0.95",
            "      count: 3\n      failurLimit: 2\n      successCondition: result >= 0.95",
        )
        .replace("weight: 0\n", "weight: zero\n");
    std::fs::write(&path, &text).unwrap();
    let out = weir(&["lint", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let p = path.display();
    assert!(
        stdout.contains(&format!(
            "{p}:{}: spec.strategy.canary.steps[2].setWeight:",
            line_of("setWeight: 150")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{p}:{}:", line_of("failurLimit")))
            && stdout.contains("failurLimit"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "{p}:{}: routes[0].backends[1].weight:",
            line_of("weight: zero")
        )),
        "{stdout}"
    );
}
