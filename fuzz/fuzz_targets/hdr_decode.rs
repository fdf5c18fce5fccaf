//! HDR histograms of `/stats?format=hdr` answers as weir's controller reads them
//! (`kubernetes::fleet`): each backend's `histogram` field decoded with
//! `weir_proxy::hdr::decode` (base64, then hdrhistogram's V2 / V2+DEFLATE deserializer),
//! merged over the proxies with `Histogram::add`, then read by the `weir` provider
//! (`value_at_quantile`, as `latency` metrics do) and the dashboards (count, max, mean).
//!
//! Input: byte 0 picks the form: 0, the rest is the field's text as it arrives; 1, the rest
//! is the decoded bytes (base64-encoded here, so the fuzzer works on the binary format) of
//! two proxies' histograms, cut at the point byte 1 gives; 2, the rest is a whole `/stats`
//! JSON answer.
//!
//! Never panics (nor aborts on allocation), and a decoded histogram re-encoded with
//! `hdr::encode` decodes to the same counts.

#![no_main]

use std::io::Read;

use base64::Engine;
use hdrhistogram::Histogram;
use libfuzzer_sys::fuzz_target;
use weir_fuzz::known;
use weir_proxy::hdr::{decode, encode};

/// What the controller and the provider read of a (merged) histogram.
fn read(h: &Histogram<u64>) {
    let _ = (h.len(), h.max(), h.min(), h.mean(), h.stdev());
    for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
        let _ = h.value_at_quantile(q);
    }
}

/// The V2 encoding inside an encoded histogram (inflated from V2+DEFLATE, up to 16 MiB).
fn v2_bytes(text: &str) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    match word(&bytes, 0)? {
        0x1c84_9313 => Some(bytes),
        0x1c84_9314 => {
            let len = word(&bytes, 4)?;
            let zlib = &bytes[8..bytes.len().min(8 + len)];
            let mut inflated = Vec::new();
            let cap = 16 << 20;
            let _ = flate2::read::ZlibDecoder::new(zlib)
                .take(cap + 1)
                .read_to_end(&mut inflated);
            Some(inflated)
        }
        _ => None,
    }
}

fn word(b: &[u8], at: usize) -> Option<usize> {
    b.get(at..at + 4)
        .map(|w| u32::from_be_bytes(w.try_into().unwrap()) as usize)
}

/// Whether the V2 header of an encoded histogram claims a payload longer than what came:
/// the deserializer allocated the claimed length (up to 4 GiB) before reading it. Finding
/// `hdr-alloc` (fixed); only asked when WEIR_FUZZ_KNOWN lists it.
fn claims_more_than_it_has(text: &str) -> bool {
    v2_bytes(text).is_some_and(|b| {
        b.len() > 16 << 20 || word(&b, 4).is_some_and(|len| len > b.len().saturating_sub(40))
    })
}

/// The counts of an encoded histogram, and whether one of its numbers is i64::MIN (a run
/// of zeros hdrhistogram's deserializer negates, which overflows): its zigzag varints read
/// here.
fn scan_counts(text: &str) -> (u64, bool) {
    let Some(b) = v2_bytes(text) else {
        return (0, false);
    };
    let payload = b.get(40..).unwrap_or_default();
    let (mut at, mut sum, mut min) = (0usize, 0u64, false);
    while at < payload.len() {
        // hdrhistogram's varint: 7 bits a byte for 8 bytes, then a whole ninth byte.
        let mut n = 0u64;
        for i in 0..9 {
            let Some(&byte) = payload.get(at) else {
                break;
            };
            at += 1;
            if i == 8 {
                n |= u64::from(byte) << 56;
                break;
            }
            n |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                break;
            }
        }
        let value = ((n >> 1) as i64) ^ -((n & 1) as i64);
        min |= value == i64::MIN;
        if value > 0 {
            sum = sum.saturating_add(value as u64);
        }
    }
    (sum, min)
}

/// Whether an encoded histogram's counts add up to more than 2^56: hdrhistogram's
/// `value_at_quantile` sums counts unchecked, which overflows (a panic with overflow
/// checks, wrapped sums without) from three counts of 2^63 - 1; 2^56 leaves room for the
/// fleet's sum of many. Finding `hdr-count-overflow`; only asked when WEIR_FUZZ_KNOWN
/// lists it.
fn counts_overflow(text: &str) -> bool {
    scan_counts(text).0 > 1 << 56
}

/// Decodes, reads, checks the round trip, and adds into `merged` (the fleet's sum).
fn take(text: &str, merged: &mut Option<Histogram<u64>>) {
    if known("hdr-alloc") && claims_more_than_it_has(text) {
        return;
    }
    if known("hdr-count-overflow") && counts_overflow(text) {
        return;
    }
    // Finding `hdr-negate-overflow`: a zigzag number of i64::MIN.
    if known("hdr-negate-overflow") && scan_counts(text).1 {
        return;
    }
    let Ok(h) = decode(text) else {
        return;
    };
    read(&h);
    let again = decode(&encode(&h)).expect("weir's own encoding decodes");
    assert_eq!(again.len(), h.len(), "re-encoded, the count changed");
    assert!(
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .eq(again
                .iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))),
        "re-encoded, the counts changed"
    );
    match merged {
        None => *merged = Some(h),
        Some(sum) => {
            // A histogram that does not fit the sum is an error the controller reports.
            if sum.add(&h).is_ok() {
                read(sum);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [form, rest @ ..] = data else {
        return;
    };
    let mut merged = None;
    match form % 3 {
        0 => take(&String::from_utf8_lossy(rest), &mut merged),
        1 => {
            let [cut, blobs @ ..] = rest else {
                return;
            };
            let at = usize::from(*cut) * blobs.len() / 256;
            let b64 = base64::engine::general_purpose::STANDARD;
            for blob in [&blobs[..at], &blobs[at..]] {
                take(&b64.encode(blob), &mut merged);
            }
        }
        _ => {
            let Ok(answer) = serde_json::from_slice::<serde_json::Value>(rest) else {
                return;
            };
            let backends = answer.get("backends").and_then(|b| b.as_array());
            for b in backends.into_iter().flatten() {
                if let Some(text) = b.get("histogram").and_then(|h| h.as_str()) {
                    take(text, &mut merged);
                }
            }
        }
    }
});
