//! The README's walkthrough, run as written: the block after its `walkthrough` marker goes
//! to bash with this build's `weir` first on PATH. It uses the fixed ports of the examples
//! (8080, 9901, 18081, 18082), as a newcomer's machine would.

mod support;

use std::process::Command;

fn walkthrough() -> String {
    let readme = include_str!("../README.md");
    let marker = readme
        .find("<!-- walkthrough")
        .expect("the README marks its walkthrough");
    let start = readme[marker..].find("```sh\n").expect("a sh block") + marker + 6;
    let end = readme[start..].find("```").expect("the block ends") + start;
    readme[start..end].to_owned()
}

/// The split a `total: N ok (v1 A, v2 B), F failed` line reports: (v2, all ok).
fn split(line: &str) -> (u64, u64) {
    let number = |after: &str| -> u64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after} in {line}"))
            + after.len()..];
        rest.split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number("v2 "), number("total: "))
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    for port in [8080, 9901, 18081, 18082] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: the walkthrough uses the examples' fixed ports"
        );
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_weir"))
        .parent()
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{}",
        walkthrough()
    );
    let out = Command::new("timeout")
        .args(["120", "bash", "-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PATH", path)
        .env("RUST_LOG", "warn")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    // The proxy answered, split 90/10, then 50/50 after the weight change.
    assert!(
        stdout.contains("\nv1\n") || stdout.contains("\nv2\n"),
        "{stdout}"
    );
    let totals: Vec<(u64, u64)> = stdout
        .lines()
        .filter(|l| l.starts_with("total: "))
        .map(split)
        .collect();
    assert_eq!(totals.len(), 2, "{stdout}");
    support::assert_binomial("v2 at 10%", totals[0].0, totals[0].1, 0.1);
    support::assert_binomial("v2 at 50%", totals[1].0, totals[1].1, 0.5);
    assert!(stdout.contains("\"web-canary\": 50"), "{stdout}");
    // The rollout: shown, aborted, retried, promoted, and status says Healthy.
    for expected in [
        "Rollout      ◌ Progressing",
        "rollout 'web' aborted",
        "rollout 'web' retried",
        "rollout 'web' fully promoted",
        "\nHealthy\n",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in:\n{stdout}\n{stderr}"
        );
    }
}
