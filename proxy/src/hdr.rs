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

pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
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
}
