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

/// Whether the V2 header of an encoded histogram claims a payload longer than what came:
/// the deserializer allocates the claimed length (up to 4 GiB) before reading it. Known
/// finding `hdr-alloc`; only asked when WEIR_FUZZ_KNOWN lists it.
fn claims_more_than_it_has(text: &str) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) else {
        return false;
    };
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_be_bytes(w.try_into().unwrap()) as usize)
    };
    let v2_claims_more = |b: &[u8]| word(b, 4).is_some_and(|len| len > b.len().saturating_sub(40));
    match word(&bytes, 0) {
        Some(0x1c84_9313) => v2_claims_more(&bytes),
        Some(0x1c84_9314) => {
            let Some(len) = word(&bytes, 4) else {
                return false;
            };
            let zlib = &bytes[8..bytes.len().min(8 + len)];
            let mut inflated = Vec::new();
            // The inflated payload, up to 16 MiB (more is a claim too large as well).
            let cap = 16 << 20;
            let _ = flate2::read::ZlibDecoder::new(zlib)
                .take(cap + 1)
                .read_to_end(&mut inflated);
            inflated.len() as u64 > cap || v2_claims_more(&inflated)
        }
        _ => false,
    }
}

/// Decodes, reads, checks the round trip, and adds into `merged` (the fleet's sum).
fn take(text: &str, merged: &mut Option<Histogram<u64>>) {
    if known("hdr-alloc") && claims_more_than_it_has(text) {
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
