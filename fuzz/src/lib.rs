//! Helpers shared by the fuzz targets in `fuzz_targets/`.

/// Cuts `data` into pieces at points chosen by `seed` (as a connection's reads might bring
/// it): `seed`'s low bits say how many cuts (0 to 15), a small generator seeded by the rest
/// where. The same `(data, seed)` always gives the same pieces, so a crash reproduces.
pub fn pieces(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let cuts = usize::from(seed & 0x0f);
    if data.is_empty() || cuts == 0 {
        return vec![data];
    }
    let mut state = u32::from(seed)
        .wrapping_mul(0x9e37_79b9)
        .wrapping_add(data.len() as u32)
        | 1;
    let mut points: Vec<usize> = (0..cuts)
        .map(|_| {
            // xorshift32
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as usize % data.len()
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::with_capacity(points.len() + 1);
    let mut from = 0;
    for p in points {
        out.push(&data[from..p]);
        from = p;
    }
    out.push(&data[from..]);
    out
}

/// Whether a finding already written up (fuzz/README.md, "Known findings") may pass, so a
/// long run can look past it: `WEIR_FUZZ_KNOWN` lists their names, comma-separated. The
/// test command never sets it, so an unfixed finding fails it.
pub fn known(finding: &str) -> bool {
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("WEIR_FUZZ_KNOWN")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .iter()
        .any(|k| k == finding)
}

/// Every piece at one byte: the most a reader can be made to wait.
pub fn bytewise(data: &[u8]) -> Vec<&[u8]> {
    data.chunks(1).collect()
}

/// Whether a comma-separated header value holds `token`, in any case.
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_input_in_order() {
        let data: Vec<u8> = (0..200u8).collect();
        for seed in 0..=255u8 {
            let p = pieces(&data, seed);
            assert_eq!(p.concat(), data);
        }
    }
}
