//! The Gray Paper's serialization of naturals: `E` (variable length, up to 2^64) and `E_l`
//! (fixed length, little-endian). Below 2^32, `E` equals polkavm's varint.

/// Why a variable-length natural could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended; the encoding needs `needed` bytes.
    Truncated {
        /// The full length of the encoding.
        needed: usize,
    },
    /// A longer encoding than the value needs: `E` is injective, so this is not an encoding.
    NonCanonical,
}

/// Appends `E(value)`.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    // l = the number of extra bytes: the largest l < 8 with 2^(7l) <= value, or 8.
    let l = (0..8u32).find(|&l| value < 1u64 << (7 * (l + 1)));
    match l {
        Some(l) => {
            let prefix = (256 - (1u32 << (8 - l))) as u64 + (value >> (8 * l));
            out.push(prefix as u8);
            out.extend_from_slice(&value.to_le_bytes()[..l as usize]);
        }
        None => {
            out.push(0xff);
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
}

/// Reads `E(value)` from the start of `bytes`; returns the value and the encoding's length.
pub fn decode(bytes: &[u8]) -> Result<(u64, usize), VarintError> {
    let first = *bytes.first().ok_or(VarintError::Truncated { needed: 1 })?;
    let l = first.leading_ones() as usize;
    let needed = 1 + l;
    let rest = bytes
        .get(1..needed)
        .ok_or(VarintError::Truncated { needed })?;
    let low = decode_fixed(rest);
    let value = if l == 8 {
        low
    } else {
        let high = u64::from(first) & ((1 << (7 - l)) - 1);
        (high << (8 * l)) | low
    };
    let mut canonical = Vec::with_capacity(9);
    encode(value, &mut canonical);
    if canonical.len() != needed {
        return Err(VarintError::NonCanonical);
    }
    Ok((value, needed))
}

/// `E_l^-1`: a little-endian number of up to 8 bytes.
pub fn decode_fixed(bytes: &[u8]) -> u64 {
    debug_assert!(bytes.len() <= 8);
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(buf)
}

/// Appends `E_len(value)`; `value` must fit in `len` bytes.
pub fn encode_fixed(value: u64, len: usize, out: &mut Vec<u8>) {
    debug_assert!(len == 8 || value < 1u64 << (8 * len));
    out.extend_from_slice(&value.to_le_bytes()[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_round_trip_with_expected_lengths() {
        let cases: &[(u64, usize)] = &[
            (0, 1),
            (127, 1),
            (128, 2),
            ((1 << 14) - 1, 2),
            (1 << 14, 3),
            ((1 << 21) - 1, 3),
            (1 << 21, 4),
            (u32::MAX as u64, 5),
            ((1 << 56) - 1, 8),
            (1 << 56, 9),
            (u64::MAX, 9),
        ];
        for &(value, len) in cases {
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out.len(), len, "{value:#x}");
            assert_eq!(decode(&out), Ok((value, len)), "{value:#x}");
        }
    }

    #[test]
    fn bad_encodings_are_refused() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated { needed: 1 }));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated { needed: 2 }));
        // 5 encoded with one extra byte.
        assert_eq!(decode(&[0x80, 5]), Err(VarintError::NonCanonical));
    }
}
