//! weir's chunked decoder (`h1::body::decode_chunk`, the upstream answer's body) against a
//! reference decoder written here from RFC 9112 section 7.1, and against itself fed the
//! same bytes cut into other reads.
//!
//! Input: byte 0 says how the rest is cut into reads; the rest is the chunked body and
//! whatever follows it on the connection.
//!
//! The reference ([`reference`]): `chunk-size` is 1*HEXDIG; optional whitespace then `;`
//! starts the chunk extensions; a line ends in CRLF or a bare LF (section 2.2 lets a
//! recipient accept one); a bare CR is invalid (section 2.2); chunk data is followed by a
//! line end; the last chunk is size 0, then trailer lines up to an empty line. Extension
//! and trailer *contents* are not held to their grammar (token / quoted-string,
//! `field-name ":" field-value`): a recipient ignores unknown extensions (7.1.1) and may
//! discard trailers (7.1.2), and weir drops both, so only where their lines end matters
//! for framing (checked: a line runs to the first LF, any CR before it but the last is
//! invalid). The reference has no size limits (weir refuses long lines and 17+ digit
//! sizes, which is stricter).
//!
//! Checked:
//! - weir's body and outcome (end with the same bytes left after it, need more, error) do
//!   not depend on how the input is cut into reads;
//! - whenever weir reaches the end of the body, the reference does too, with the same body
//!   and the same bytes after it (weir accepting what the reference rejects, or ending where
//!   the reference reads on, is a framing disagreement: a finding);
//! - while weir has not failed, what it has given as body is what the reference reads as
//!   body (equal once both end; a prefix while weir needs more).
//!
//! weir failing where the reference accepts is allowed (stricter).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_fuzz::{bytewise, pieces};
use weir_proxy::fuzzing::{decode_chunked, Chunked};

/// How the reference's reading ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The body ended; the bytes after it.
    Complete(Vec<u8>),
    /// The input ended inside the chunked body (possibly inside a line).
    Incomplete,
    /// The framing is invalid at this offset.
    Invalid(usize, &'static str),
}

/// A line from `at`: its content (without the line end) and where the next line starts,
/// `None` when no LF came yet, `Err` for a bare CR in it.
fn line(input: &[u8], at: usize) -> Option<Result<(&[u8], usize), usize>> {
    let lf = input[at..].iter().position(|&b| b == b'\n')?;
    let raw = &input[at..at + lf];
    let content = raw.strip_suffix(b"\r").unwrap_or(raw);
    if let Some(cr) = content.iter().position(|&b| b == b'\r') {
        return Some(Err(at + cr));
    }
    Some(Ok((content, at + lf + 1)))
}

/// RFC 9112 7.1 chunked decoding of `input`: the body read (up to where it stopped) and
/// how it ended.
fn reference(input: &[u8]) -> (Vec<u8>, Outcome) {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        // chunk-size [ chunk-ext ] line-end
        let (content, next) = match line(input, at) {
            None => return (body, Outcome::Incomplete),
            Some(Err(cr)) => return (body, Outcome::Invalid(cr, "bare CR in a chunk-size line")),
            Some(Ok(l)) => l,
        };
        let digits = content.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return (body, Outcome::Invalid(at, "no chunk size"));
        }
        let rest = &content[digits..];
        let blanks = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if !rest.is_empty() && rest.get(blanks) != Some(&b';') {
            // Whitespace is BWS before a `;` only; anything else after the size is invalid.
            return (
                body,
                Outcome::Invalid(at + digits, "junk after the chunk size"),
            );
        }
        // Sizes past u64 cannot be satisfied by any input: saturate (then incomplete).
        let size = content[..digits].iter().fold(0u64, |acc, d| {
            let v = (*d as char).to_digit(16).unwrap() as u64;
            acc.checked_mul(16)
                .and_then(|a| a.checked_add(v))
                .unwrap_or(u64::MAX)
        });
        at = next;
        if size == 0 {
            break;
        }
        // chunk-data line-end
        let available = (input.len() - at) as u64;
        if available < size {
            body.extend_from_slice(&input[at..]);
            return (body, Outcome::Incomplete);
        }
        let size = size as usize;
        body.extend_from_slice(&input[at..at + size]);
        at += size;
        match &input[at..] {
            [b'\n', ..] => at += 1,
            [b'\r', b'\n', ..] => at += 2,
            [] | [b'\r'] => return (body, Outcome::Incomplete),
            _ => {
                return (
                    body,
                    Outcome::Invalid(at, "chunk data not followed by a line end"),
                )
            }
        }
    }
    // trailer-section line-end
    loop {
        match line(input, at) {
            None => return (body, Outcome::Incomplete),
            Some(Err(cr)) => return (body, Outcome::Invalid(cr, "bare CR in a trailer line")),
            Some(Ok((content, next))) => {
                at = next;
                if content.is_empty() {
                    return (body, Outcome::Complete(input[at..].to_vec()));
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [cut, input @ ..] = data else {
        return;
    };
    let whole = decode_chunked(&[input]);

    // Cut into reads, weir decides the same.
    let same = |other: &(Vec<u8>, Chunked), how: &str| {
        let kind = |c: &Chunked| match c {
            Chunked::End { leftover } => format!("end, {} bytes after", leftover.len()),
            Chunked::NeedMore => "needs more".into(),
            Chunked::Error(_) => "error".into(),
        };
        assert_eq!(
            kind(&whole.1),
            kind(&other.1),
            "{how}: the outcome differs ({:?} whole, {:?} cut)",
            whole.1,
            other.1
        );
        assert_eq!(whole.1 == Chunked::NeedMore, other.1 == Chunked::NeedMore);
        if let (Chunked::End { leftover: a }, Chunked::End { leftover: b }) = (&whole.1, &other.1) {
            assert_eq!(a, b, "{how}: different bytes after the body");
        }
        if !matches!(whole.1, Chunked::Error(_)) {
            assert_eq!(whole.0, other.0, "{how}: a different body");
        }
    };
    same(&decode_chunked(&pieces(input, *cut)), "cut into reads");
    if input.len() <= 1024 {
        same(&decode_chunked(&bytewise(input)), "a byte at a time");
    }

    // Against the reference.
    let (weir_body, weir) = whole;
    let (ref_body, reference) = reference(input);
    match (&weir, &reference) {
        (Chunked::End { leftover }, Outcome::Complete(after)) => {
            assert_eq!(
                weir_body, ref_body,
                "both ended the body, with different bodies"
            );
            assert_eq!(leftover, after, "both ended the body, at different places");
        }
        (Chunked::End { .. }, Outcome::Incomplete) => panic!(
            "weir ended the body where the reference reads on ({} body bytes, reference {})",
            weir_body.len(),
            ref_body.len()
        ),
        (Chunked::End { .. }, Outcome::Invalid(at, why)) => {
            panic!("weir accepted a chunked body the reference rejects at byte {at}: {why}")
        }
        (Chunked::NeedMore, _) => assert!(
            ref_body.starts_with(&weir_body),
            "weir gave {} bytes that are not the body the reference reads ({:?})",
            weir_body.len(),
            reference
        ),
        // Stricter than the reference: allowed.
        (Chunked::Error(_), _) => {}
    }
});
