use super::super::args::{merge_args, resolve_args, resolve_metric, ArgsError};
use super::super::{Argument, Metric, ValueFrom};
use super::metric;

fn args() -> Vec<Argument> {
    vec![
        Argument::new("service", "web-canary"),
        Argument::new("threshold", "0.99"),
    ]
}

#[test]
fn substitution() {
    let rows: &[(&str, Result<&str, ArgsError>)] = &[
        ("no tags", Ok("no tags")),
        ("{{args.service}}", Ok("web-canary")),
        ("{{ args.service }}", Ok("web-canary")),
        (
            "rate{service=\"{{args.service}}\"} >= {{args.threshold}}",
            Ok("rate{service=\"web-canary\"} >= 0.99"),
        ),
        (
            "{{args.missing}}",
            Err(ArgsError::Unresolved("args.missing".into())),
        ),
        (
            "{{ args.missing }}",
            Err(ArgsError::Unresolved(" args.missing ".into())),
        ),
        ("{{service}}", Err(ArgsError::Unresolved("service".into()))),
        (
            // Argo reports the last unresolved tag.
            "{{args.a}} {{args.b}}",
            Err(ArgsError::Unresolved("args.b".into())),
        ),
        (
            "{{args.service",
            Err(ArgsError::UnclosedTag("{{args.service".into())),
        ),
    ];
    for (template, want) in rows {
        let got = resolve_args(template, &args());
        assert_eq!(got.as_deref(), want.as_ref().map(|s| *s), "{template}");
    }
}

#[test]
fn error_messages() {
    let rows = [
        (
            ArgsError::Unresolved("args.x".into()),
            "failed to resolve {{args.x}}",
        ),
        (
            ArgsError::NotSupplied("x".into()),
            "argument \"x\" was not supplied",
        ),
        (
            ArgsError::NotResolved("x".into()),
            "args.x was not resolved",
        ),
        (
            ArgsError::ValueFromUnsupported("x".into()),
            "args.x: valueFrom is not supported in standalone mode",
        ),
        (
            ArgsError::UnclosedTag("{{a".into()),
            "cannot find end tag \"}}\" in \"{{a\"",
        ),
    ];
    for (err, want) in rows {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn every_arg_needs_a_value_even_unused() {
    let mut with_unset = args();
    with_unset.push(Argument {
        name: "unset".into(),
        ..Argument::default()
    });
    assert_eq!(
        resolve_args("plain", &with_unset),
        Err(ArgsError::NotSupplied("unset".into()))
    );
    let mut with_secret = args();
    with_secret.push(Argument {
        name: "token".into(),
        value: None,
        value_from: Some(ValueFrom {
            secret_key_ref: Some(("creds".into(), "token".into())),
            field_ref: None,
        }),
    });
    assert_eq!(
        resolve_args("plain", &with_secret),
        Err(ArgsError::ValueFromUnsupported("token".into()))
    );
    // A caller that resolved valueFrom itself puts the value in `value`.
    with_secret[2].value = Some("s3cret".into());
    assert_eq!(
        resolve_args("{{args.token}}", &with_secret),
        Ok("s3cret".into())
    );
}

#[test]
fn rollout_args_override_template_defaults() {
    let template = vec![
        Argument::new("threshold", "0.95"),
        Argument {
            name: "service".into(),
            ..Argument::default()
        },
    ];
    let incoming = vec![
        Argument::new("service", "web-canary"),
        Argument::new("threshold", "0.99"),
        Argument::new("not-in-template", "dropped"),
    ];
    let merged = merge_args(&incoming, &template).expect("merged");
    assert_eq!(
        merged,
        vec![
            Argument::new("threshold", "0.99"),
            Argument::new("service", "web-canary")
        ]
    );
    // The template default stays when the Rollout does not supply the arg.
    let merged = merge_args(&incoming[..1], &template).expect("merged");
    assert_eq!(merged[0], Argument::new("threshold", "0.95"));
}

#[test]
fn merge_requires_every_template_arg() {
    let template = vec![Argument {
        name: "service".into(),
        ..Argument::default()
    }];
    assert_eq!(
        merge_args(&[], &template),
        Err(ArgsError::NotResolved("service".into()))
    );
    let from_secret = Argument {
        name: "service".into(),
        value: None,
        value_from: Some(ValueFrom {
            field_ref: Some("metadata.name".into()),
            ..ValueFrom::default()
        }),
    };
    let merged =
        merge_args(std::slice::from_ref(&from_secret), &template).expect("valueFrom counts");
    assert_eq!(merged, vec![from_secret]);
}

#[test]
fn metric_conditions_and_name_are_resolved() {
    let m = Metric {
        name: "{{args.service}}-success".into(),
        success_condition: "result >= {{args.threshold}}".into(),
        failure_condition: "result < {{ args.threshold }} - 0.1".into(),
        ..metric("ignored")
    };
    let resolved = resolve_metric(&m, &args()).expect("resolved");
    assert_eq!(resolved.name, "web-canary-success");
    assert_eq!(resolved.success_condition, "result >= 0.99");
    assert_eq!(resolved.failure_condition, "result < 0.99 - 0.1");
    let bad = Metric {
        success_condition: "result > {{args.nope}}".into(),
        ..metric("m")
    };
    assert_eq!(
        resolve_metric(&bad, &args()),
        Err(ArgsError::Unresolved("args.nope".into()))
    );
}
