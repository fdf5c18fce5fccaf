//! weir's HTTP/1.1 client reading an upstream's answer: the response head
//! (`h1::head::parse`, 1xx answers skipped) and the body framing (content-length, chunked,
//! until close), fed as reads bring it, the end of the input being the upstream closing.
//!
//! Input: byte 0 says what the request asked (bit 0: HEAD, bit 1: the headers as
//! `RawHeaders`, as `h1_server` asks, bit 2: an upgrade), byte 1 how the rest is cut into
//! reads; the rest is what the upstream sent.
//!
//! Never panics, and:
//! - the result does not depend on how the input is cut into reads (whole, in pieces, one
//!   byte at a time), below the 64 KiB head limit that is checked per read;
//! - the heads taken are whole heads (re-parsed here), the last a final one: no 1xx but a
//!   `101`, and a `101` only when the request asked for an upgrade;
//! - the body is never longer than the input after the head; a content-length body is those
//!   bytes, complete only at its length; close-delimited is all the rest;
//! - HEAD, 204, 304 and 101 answers have no body; `transfer-encoding` overrides
//!   `content-length`;
//! - the connection is reused exactly when the body is complete with nothing after it, and never
//!   after HTTP/1.0, `connection: close`, both `transfer-encoding` and `content-length`, or
//!   a body that ended at close;
//! - the headers kept for the client hold no hop-by-hop header and none the `connection`
//!   header names (but on a 101), and at most one `content-length`, a plain number, only
//!   where the body's framing does not replace it (never next to `transfer-encoding`; as
//!   `RawHeaders` only for HEAD, 204 and 304).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_fuzz::{bytewise, has_token, known, pieces};
use weir_proxy::fuzzing::{decode_response, Answer, Asked, BodyFraming, Response};

/// `h1::MAX_HEAD`: a head not complete within this many bytes is refused, checked per read.
const MAX_HEAD: usize = 64 * 1024;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fuzz_target!(|data: &[u8]| {
    let [flags, cut, input @ ..] = data else {
        return;
    };
    let asked = Asked {
        head_method: flags & 1 != 0,
        raw: flags & 2 != 0,
        upgrade: flags & 4 != 0,
    };
    let whole = decode_response(&[input], asked);
    if input.len() < MAX_HEAD {
        let split = decode_response(&pieces(input, *cut), asked);
        assert_eq!(
            timeless(&whole),
            timeless(&split),
            "reads cut differently, answers differ"
        );
        if input.len() <= 512 {
            let bytes = decode_response(&bytewise(input), asked);
            assert_eq!(
                timeless(&whole),
                timeless(&bytes),
                "read a byte at a time, the answer differs"
            );
        }
    }
    if let Response::Answer(a) = &whole {
        check(input, asked, a);
    }
});

/// The answer without what depends on when bytes arrive: whether the connection was given
/// back (bytes after the body that came in a later read are found by the pool's check).
fn timeless(r: &Response) -> Response {
    let mut r = r.clone();
    if let Response::Answer(a) = &mut r {
        a.reused = false;
    }
    r
}

/// The final head as httparse reads it: version, status and headers.
struct FinalHead {
    version: u8,
    code: u16,
    headers: Vec<(String, Vec<u8>)>,
}

/// Re-parses the heads weir took (`input[..heads_len]`): 1xx heads but a 101, then one
/// final head ending exactly at `heads_len`.
fn final_head(input: &[u8], heads_len: usize) -> FinalHead {
    let mut at = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut resp = httparse::Response::new(&mut headers);
        let n = match resp.parse(&input[at..heads_len]) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("the heads taken do not parse as heads at {at}: {other:?}"),
        };
        let code = resp.code.expect("complete");
        if (100..200).contains(&code) && code != 101 {
            at += n;
            continue;
        }
        assert_eq!(
            at + n,
            heads_len,
            "the final head does not end where weir says"
        );
        return FinalHead {
            version: resp.version.expect("complete"),
            code,
            headers: resp
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect(),
        };
    }
}

fn check(input: &[u8], asked: Asked, a: &Answer) {
    assert!(a.heads_len <= input.len());
    let head = final_head(input, a.heads_len);
    assert_eq!(head.code, a.status);
    assert!((100..1000).contains(&a.status));
    assert!(
        !(100..200).contains(&a.status) || a.status == 101,
        "a {} answer taken as final",
        a.status
    );
    if a.status == 101 {
        assert!(
            asked.upgrade,
            "a 101 accepted for a request that asked no upgrade"
        );
    }
    let after_head = &input[a.heads_len..];
    assert!(
        a.body.len() + a.after_body <= after_head.len(),
        "the body and what follows it ({} + {}) are more than the input after the head ({})",
        a.body.len(),
        a.after_body,
        after_head.len()
    );

    let get = |name: &str| -> Vec<&[u8]> {
        head.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    let te = get("transfer-encoding");
    let cl = get("content-length");
    let bodiless = asked.head_method || matches!(a.status, 101 | 204 | 304);

    // Framing.
    if bodiless {
        assert_eq!(a.framing, BodyFraming::None, "a body on a bodiless answer");
    } else if let Some(last) = te.last() {
        let last_coding = last.rsplit(|b| *b == b',').next().unwrap_or_default();
        if last_coding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            assert_eq!(a.framing, BodyFraming::Chunked);
        } else {
            assert_eq!(
                a.framing,
                BodyFraming::Close,
                "not chunked last: read to close"
            );
        }
    }
    match a.framing {
        BodyFraming::None => {
            assert!(a.body.is_empty());
            assert_eq!(a.end, Ok(()));
        }
        BodyFraming::Length(n) => {
            assert!(
                te.is_empty() && !cl.is_empty(),
                "a length without content-length"
            );
            assert_eq!(&after_head[..a.body.len()], &a.body[..]);
            match a.end {
                Ok(()) => assert_eq!(a.body.len() as u64, n),
                Err(_) => assert!((a.body.len() as u64) < n),
            }
        }
        BodyFraming::Close => {
            assert_eq!(&a.body[..], after_head, "close-delimited: all the rest");
            assert_eq!(a.end, Ok(()));
            assert!(
                !a.keep_alive && !a.reused,
                "reused after a close-delimited body"
            );
        }
        BodyFraming::Chunked => {}
    }

    // Connection reuse (the input read whole: anything after the body is in the buffer).
    assert_eq!(
        a.reused,
        a.keep_alive && a.end.is_ok() && a.after_body == 0 && a.framing != BodyFraming::Close,
        "reused: {}",
        a.reused
    );
    if a.keep_alive {
        assert_eq!(head.version, 1, "keep-alive after HTTP/1.0");
        assert!(
            !get("connection").iter().any(|v| has_token(v, b"close")),
            "keep-alive after connection: close"
        );
        assert!(
            bodiless || te.is_empty() || cl.is_empty(),
            "keep-alive after both transfer-encoding and content-length"
        );
    }

    // The headers the client gets.
    if a.status != 101 {
        let listed: Vec<&[u8]> = get("connection");
        for (name, _) in &a.headers {
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            assert!(
                !HOP_BY_HOP.contains(&lower.as_str()),
                "hop-by-hop {lower} kept"
            );
            assert!(
                !listed.iter().any(|v| has_token(v, lower.as_bytes())),
                "{lower}, named by connection, kept"
            );
        }
    }
    let lengths: Vec<&[u8]> = a
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
        .map(|(_, v)| &v[..])
        .collect();
    // Known finding `duplicate-cl`: repeated equal lengths (two lines, or `5, 5`) go on
    // to the client as they came.
    let repeated = lengths
        .iter()
        .flat_map(|v| v.split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == 1;
    if !(known("duplicate-cl") && repeated) {
        assert!(
            lengths.len() <= 1,
            "{} content-length headers kept for the client: {lengths:?}",
            lengths.len()
        );
    }
    for v in &lengths {
        if known("duplicate-cl") && repeated {
            break;
        }
        assert!(
            !v.is_empty() && v.iter().all(u8::is_ascii_digit),
            "content-length {:?} kept for the client",
            String::from_utf8_lossy(v)
        );
    }
    if !lengths.is_empty() {
        // Known finding `bodiless-te-cl`: on HEAD, 204 and 304 answers.
        if !(known("bodiless-te-cl") && bodiless) {
            assert!(
                te.is_empty(),
                "content-length kept next to transfer-encoding"
            );
        }
        if a.raw_has_date.is_some() {
            assert!(
                asked.head_method || matches!(a.status, 204 | 304),
                "a content-length in RawHeaders, whose writer frames the body itself"
            );
        }
    }
    if let Some(has_date) = a.raw_has_date {
        let dates = a
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(b"date"))
            .count();
        assert_eq!(has_date, dates > 0, "RawHeaders' has_date is wrong");
    }
}
