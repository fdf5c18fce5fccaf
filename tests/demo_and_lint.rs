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
    let slow = weir(&["demo", "--no-redraw", "--canary-latency", "300ms"]);
    let good = good.join().unwrap();
    let good_out = String::from_utf8_lossy(&good.stdout);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{good_out}\n{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(
        good_out.contains("result: Healthy: revision "),
        "{good_out}"
    );
    assert!(good_out.contains("Step:          6/6"), "{good_out}");

    // Degraded: exit status 1, the closing line says which metric measured what, and the
    // step list marks the analysis step, not the setWeight before it.
    for (out, metric) in [
        (&bad, "metric success-rate: "),
        (&slow, "metric p99-latency: 0.3"),
    ] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        let closing = format!("result: Degraded: aborted by analysis at step 1 ({metric}");
        assert!(text.contains(&closing), "{text}");
        assert!(text.contains("All traffic is back on v1."), "{text}");
        assert!(
            text.contains("  ✔ 0  setWeight: 20\n  ✖ 1  analysis: canary-health\n"),
            "{text}"
        );
        assert!(text.contains("RolloutAborted"), "{text}");
    }
    let slow_out = String::from_utf8_lossy(&slow.stdout);
    assert!(slow_out.contains(", not result <= 0.25)."), "{slow_out}");

    // weir's log went to the file the header names, never between the view's lines.
    for out in [&good, &bad, &slow] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !text.contains(" INFO ") && !text.contains(" WARN "),
            "{text}"
        );
        let log = text
            .split_whitespace()
            .skip_while(|w| *w != "log")
            .nth(1)
            .expect("the header names the log file");
        let logged = std::fs::read_to_string(log).unwrap();
        assert!(
            logged.contains("rollout controller") || logged.contains("weights set"),
            "{logged}"
        );
    }
}

/// `weir demo ARGS`, its stdout read line by line as it comes.
/// A demo process that is killed if the test ends first (a failed assertion): with
/// `--hold` it would otherwise outlive the test and keep cargo waiting on its output.
struct Demo(std::process::Child);

impl std::ops::Deref for Demo {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Demo {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_demo(
    args: &[&str],
) -> (
    Demo,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("demo")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (Demo(child), lines)
}

/// With no load the analysis finds no data, the rollout pauses as Inconclusive, and the demo
/// says a person is needed and how to act; an abort then ends it Degraded, by a user.
#[test]
fn the_demo_says_when_a_person_must_act_and_how() {
    let (mut child, mut lines) = spawn_demo(&["--no-redraw", "--clients", "0"]);
    let mut shown = Vec::new();
    let mut abort = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        shown.push(line.clone());
        if line.starts_with("waiting for you: paused (InconclusiveAnalysisRun) until promoted.") {
            let promote = lines.next().unwrap().unwrap();
            assert!(
                promote.contains(" rollouts promote web --admin 127.0.0.1:"),
                "{promote}"
            );
            let hint = lines.next().unwrap().unwrap();
            let command: Vec<String> = hint
                .trim()
                .trim_start_matches("(or ")
                .trim_end_matches(" to roll back)")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            abort = Some(command);
            break;
        }
    }
    let abort = abort.unwrap_or_else(|| panic!("never asked for a person:\n{}", shown.join("\n")));
    assert_eq!(abort[1..4], ["rollouts", "abort", "web"], "{abort:?}");
    let aborted = weir(&abort[1..].iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        aborted.status.success(),
        "{}",
        String::from_utf8_lossy(&aborted.stderr)
    );
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let rest = rest.join("\n");
    assert!(
        rest.contains("result: Degraded: aborted by a user."),
        "{rest}"
    );
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// `--hold` keeps everything serving after the outcome, and the hint's command works.
#[test]
fn the_demo_holds_after_the_outcome_until_interrupted() {
    let (mut child, mut lines) = spawn_demo(&["--no-redraw", "--bad-canary", "--hold"]);
    let mut admin = None;
    let mut page = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("watch it from another terminal: ") {
            admin = rest.split_whitespace().last().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("or in a browser: ") {
            page = Some(rest.trim().to_owned());
        }
        if line.starts_with("holding (Degraded)") {
            break;
        }
    }
    let admin = admin.expect("the header says where the admin API is");
    // The dashboard the header points at serves that rollout.
    let page = page.expect("the header says where the dashboard is");
    assert_eq!(
        page,
        format!("http://{admin}/dashboard/#/rollouts/default/web")
    );
    let mut conn = std::net::TcpStream::connect(&admin).unwrap();
    std::io::Write::write_all(
        &mut conn,
        b"GET /dashboard/api/rollouts/default/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"phase\":\"Degraded\""), "{answer}");
    let get = weir(&["rollouts", "get", "web", "--admin", &admin]);
    let shown = String::from_utf8_lossy(&get.stdout);
    assert!(get.status.success(), "{shown}");
    assert!(shown.contains("✖ Degraded"), "{shown}");
    let status = weir(&["rollouts", "status", "web", "--admin", &admin]);
    assert_eq!(status.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&status.stderr)
            .contains("is Degraded: aborted by analysis at step 1"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    assert_eq!(
        child.wait().unwrap().code(),
        Some(1),
        "Degraded, after Ctrl-C too"
    );
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

/// A YAML syntax error reads the same from `weir lint`, `weir proxy` and `weir run`: the
/// file, the line, the column, what the parser found.
#[test]
fn a_yaml_syntax_error_has_one_wording_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "listeners:\n  - address: 127.0.0.1:0\n  services: [\n",
    )
    .unwrap();
    let file = path.display().to_string();
    let expected = format!(
        "{file}:3: invalid YAML at column 3: while parsing a block collection, did not find expected '-' indicator"
    );
    let lint = weir(&["lint", &file]);
    assert_eq!(lint.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&lint.stdout).trim(), expected);
    for command in ["proxy", "run"] {
        let out = weir(&[command, "-c", &file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(
            err.trim(),
            format!("weir: configuration refused:\n{expected}"),
            "weir {command}"
        );
    }
}
