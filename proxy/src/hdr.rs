//! Serialized HDR histograms (`/stats?format=hdr`): the standard V2 compressed format,
//! base64-encoded, so a controller can merge several proxies' windows exactly.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serializing into a Vec cannot fail for a valid histogram.
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// The largest payload a serialized histogram may claim. weir's own (1 µs to an hour, 2
/// significant digits) are about 30 KiB uncompressed; hdrhistogram's deserializer
/// allocates what the header claims before reading it (up to 4 GiB, found by fuzzing).
const MAX_PAYLOAD: u32 = 4 << 20;
/// V2's cookies, without the word-size bits (0xf0): uncompressed, and DEFLATE-compressed
/// (whose inner histogram is V2).
const V2_COOKIE: u32 = 0x1c84_9303;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9304;

pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    check_claimed_length(&bytes)?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    // Counts whose sum does not fit (the deserializer saturates it) would overflow every
    // quantile read and every merge (found by fuzzing); no proxy records 2^48 requests.
    if h.len() > MAX_TOTAL_COUNT {
        return Err("histogram claims more samples than it can hold".into());
    }
    Ok(h)
}

/// The most samples a decoded histogram may hold, so that quantiles and the merge of many
/// proxies' histograms cannot overflow.
const MAX_TOTAL_COUNT: u64 = 1 << 48;

/// Refuses a serialized histogram whose header claims more payload than it can hold: an
/// uncompressed one more than the bytes that follow, a compressed one more than
/// [`MAX_PAYLOAD`] once inflated (inflated here with that cap, before the deserializer
/// allocates anything).
fn check_claimed_length(bytes: &[u8]) -> Result<(), String> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let too_large = || Err("histogram claims a payload larger than it holds".to_string());
    match word(0).map(|c| c & !0xf0) {
        Some(V2_COOKIE) => {
            let claimed = word(4).unwrap_or(0);
            // Header: cookie, length, normalizing offset, digits, lowest, highest, ratio.
            if claimed > MAX_PAYLOAD || claimed as usize > bytes.len().saturating_sub(40) {
                return too_large();
            }
        }
        Some(V2_DEFLATE_COOKIE) => {
            // The compressed length comes first, and is allocated as claimed too.
            if word(4).unwrap_or(0) as usize > bytes.len().saturating_sub(8) {
                return too_large();
            }
            let compressed = bytes.get(8..).unwrap_or_default();
            let mut inflated = Vec::new();
            let limit = u64::from(MAX_PAYLOAD) + 40;
            let read = std::io::Read::read_to_end(
                &mut std::io::Read::take(flate2::read::ZlibDecoder::new(compressed), limit + 1),
                &mut inflated,
            );
            if read.is_err() {
                return Err("histogram does not inflate".into());
            }
            if inflated.len() as u64 > limit {
                return too_large();
            }
            check_claimed_length(&inflated)?;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_merges_exactly() {
        let mut a = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 2).unwrap();
        let mut b = a.clone();
        for v in 1..=100 {
            a.record(v * 10).unwrap();
            b.record(v * 1000).unwrap();
        }
        let mut merged = decode(&encode(&a)).unwrap();
        merged.add(decode(&encode(&b)).unwrap()).unwrap();
        assert_eq!(merged.len(), 200);
        assert_eq!(merged.max(), b.max());
        assert_eq!(merged.value_at_quantile(0.25), a.value_at_quantile(0.5));
    }

    /// Found by fuzzing (fuzz/regressions/hdr_decode/payload-length-4gb): a header that
    /// claims 4 GiB of payload is refused before anything is allocated for it.
    #[test]
    fn a_histogram_claiming_more_than_it_holds_is_refused() {
        let claims_4gb = "HISTE/AAAAAAAAAAAAAAAgAAAAAAAAABAAAAANaTpAA/8AAAAAAAAA==";
        let e = decode(claims_4gb).unwrap_err();
        assert!(e.contains("larger than it holds"), "{e}");
        // Uncompressed, the same claim.
        let mut raw = vec![0x1c, 0x84, 0x93, 0x13, 0xff, 0xff, 0xff, 0xf0];
        raw.resize(64, 0);
        let text = base64::engine::general_purpose::STANDARD.encode(&raw);
        assert!(decode(&text).unwrap_err().contains("larger than it holds"));
        let mut big = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        big.record(3_000_000_000).unwrap();
        assert_eq!(decode(&encode(&big)).unwrap().len(), 1);
    }

    /// Found by fuzzing (fuzz/regressions/hdr_decode/count-sum-overflow): three counts of
    /// 2^63 - 1, whose sum overflows, are refused rather than read.
    #[test]
    fn a_histogram_whose_counts_overflow_is_refused() {
        let e = decode("HISTEwAAAB4AAAAAAAAAAgAAAAAAAAABAAAAANaTpAA/8AAAAAAAAP7//////////wH+//////////8B/v//////////AQ==").unwrap_err();
        assert!(e.contains("more samples"), "{e}");
    }
}
