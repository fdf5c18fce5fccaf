//! serde-saphyr's errors in weir's words: one message for `weir proxy`, `weir run` and
//! `weir lint`, without the library's position prefix and source snippet (the caller
//! reports `file:line: field:` itself), and with a value that does not fit its type said
//! in full: "must be a whole number from 0 to 4294967295, got -1", not "invalid u32".

/// The message of `e`, raised while reading `text` (the document it points into).
pub(crate) fn message(e: &serde_saphyr::Error, text: &str) -> String {
    if let serde_saphyr::Error::InvalidScalar { ty, location } = e.without_snippet() {
        let got = scalar_at(text, location.line(), location.column());
        if let Some(expected) = expected(ty) {
            return match got {
                Some(got) => format!("{expected}, got {got}"),
                None => expected,
            };
        }
    }
    let rendered = e.without_snippet().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let rest = match first.strip_prefix("line ") {
        Some(r) => r.split_once(": ").map_or(first, |(_, msg)| msg),
        None => first,
    };
    // Some messages repeat the position at the end; the caller reports it already.
    let rest = match rest.rfind(" at line ") {
        Some(i) if rest[i..].contains(", column ") => &rest[..i],
        _ => rest,
    };
    rest.trim().to_owned()
}

/// What a value of Rust type `ty` must be, in a user's words.
fn expected(ty: &str) -> Option<String> {
    let whole = |min: &str, max: &str| Some(format!("must be a whole number from {min} to {max}"));
    match ty {
        "u8" => whole("0", "255"),
        "u16" => whole("0", "65535"),
        "u32" => whole("0", "4294967295"),
        "u64" | "usize" => whole("0", "18446744073709551615"),
        "i8" => whole("-128", "127"),
        "i16" => whole("-32768", "32767"),
        "i32" => whole("-2147483648", "2147483647"),
        "i64" | "isize" => whole("-9223372036854775808", "9223372036854775807"),
        "f32" | "f64" => Some("must be a number".to_owned()),
        "bool" => Some("must be true or false".to_owned()),
        _ => None,
    }
}

/// The scalar written at 1-based `line` and `column` of `text`, up to the end of the line
/// or a comment, without a trailing comma or closing bracket of a flow collection.
fn scalar_at(text: &str, line: u64, column: u64) -> Option<String> {
    let line = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = line
        .char_indices()
        .nth(usize::try_from(column).ok()?.checked_sub(1)?)
        .map(|(i, _)| i)?;
    let rest = &line[start..];
    let end = rest
        .find(" #")
        .or_else(|| rest.find([',', '}', ']']))
        .unwrap_or(rest.len());
    let value = rest[..end].trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_out_of_its_types_range_is_said_in_full() {
        let text = "weight: -1\nport: 70000 # too big\nflag: maybe\n";
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct W {
            weight: u32,
        }
        let e = serde_saphyr::from_str::<W>(text.lines().next().unwrap()).unwrap_err();
        assert_eq!(
            message(&e, text),
            "must be a whole number from 0 to 4294967295, got -1"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct P {
            port: u16,
        }
        let second = text.lines().nth(1).unwrap();
        let e = serde_saphyr::from_str::<P>(second).unwrap_err();
        assert_eq!(
            message(&e, second),
            "must be a whole number from 0 to 65535, got 70000"
        );
        assert_eq!(scalar_at("a: {w: -5, x: 1}", 1, 8).as_deref(), Some("-5"));
    }
}
