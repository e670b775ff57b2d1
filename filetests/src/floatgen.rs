//! Seeded operands for differential tests of floating point, drawn where soft-float
//! arithmetic goes wrong.
//!
//! Every value is the IEEE 754 bits of an `f32` (low 32 bits) or `f64`, or the bits of an
//! integer for the integer → float conversions. Each draw mixes uniformly random bits with the
//! hard cases: zeros, subnormals, the normal boundaries, infinities, NaNs of every kind
//! (quiet, signalling, with payloads, negative), values near overflow and underflow, operand
//! pairs whose exponents are close (so that addition cancels) or far apart by about the
//! precision (so that alignment drops bits), operands whose exact result lies exactly halfway
//! between two floats (ties) or very near such a midpoint, and integers and floats at the
//! edges of the conversions' ranges. [`specials`] and its relatives list the boundary values
//! themselves, for tests that take every combination of them.
//!
//! Exact constructions go through [`exact`], which builds `±sig · 2^exp` and refuses values
//! that are not representable, so a construction never silently rounds: where one does not
//! fit, the draw falls back to an ordinary one.

use pvm_backend::softfloat::Format;
use rand::{Rng, RngExt};

/// The bits of `f` that are not the sign.
fn magnitude_mask(f: Format) -> u64 {
    f.sign_mask() - 1
}

/// The fraction (trailing significand) field.
fn fraction_mask(f: Format) -> u64 {
    (1 << f.mant_bits()) - 1
}

/// The precision in bits, the implicit leading one included: 24 or 53.
pub fn precision(f: Format) -> u32 {
    f.mant_bits() + 1
}

/// Whether `bits` is a NaN of format `f`.
fn is_nan(f: Format, bits: u64) -> bool {
    bits & magnitude_mask(f) > f.infinity()
}

/// `magnitude` with the sign bit set if `negative`.
fn with_sign(f: Format, negative: bool, magnitude: u64) -> u64 {
    if negative {
        magnitude | f.sign_mask()
    } else {
        magnitude
    }
}

/// The float with biased exponent field `exp` and fraction `fraction`.
fn pack(f: Format, negative: bool, exp: i64, fraction: u64) -> u64 {
    with_sign(
        f,
        negative,
        (exp as u64) << f.mant_bits() | (fraction & fraction_mask(f)),
    )
}

/// The largest finite magnitude.
fn max_finite(f: Format) -> u64 {
    f.infinity() - 1
}

/// The smallest normal magnitude.
fn min_normal(f: Format) -> u64 {
    1 << f.mant_bits()
}

/// The unbiased exponent of the smallest normal: −126 or −1022.
fn min_exponent(f: Format) -> i64 {
    1 - f.bias()
}

/// The exponent `q` such that the smallest subnormal is `2^q`: −149 or −1074.
fn min_subnormal_exponent(f: Format) -> i64 {
    min_exponent(f) - i64::from(f.mant_bits())
}

/// The exact float `±sig · 2^exp`, or `None` if it is not representable (too many significant
/// bits for its magnitude, or out of range).
pub fn exact(f: Format, negative: bool, sig: u128, exp: i64) -> Option<u64> {
    if sig == 0 {
        return Some(with_sign(f, negative, 0));
    }
    let mant = i64::from(f.mant_bits());
    // Normalize: the leading one at bit `mant`, refusing to drop set bits.
    let shift = i64::from(127 - sig.leading_zeros()) - mant;
    if i64::from(sig.trailing_zeros()) < shift {
        return None;
    }
    let normalized = if shift > 0 {
        sig >> shift
    } else {
        sig << -shift
    };
    let sig = normalized as u64;
    let exp = exp + shift;
    let biased = exp + mant + f.bias();
    if biased >= f.max_exp() {
        return None;
    }
    if biased >= 1 {
        return Some(pack(f, negative, biased, sig));
    }
    // A subnormal: the significand loses `1 − biased` low bits, which must be zeros.
    let drop = 1 - biased;
    if i64::from(sig.trailing_zeros()) < drop {
        return None;
    }
    Some(with_sign(f, negative, sig >> drop))
}

/// A finite float as `(negative, sig, exp)` with value `±sig · 2^exp`: `sig` is the integer
/// significand (the leading one included for normals). `None` for infinities and NaNs.
pub fn decompose(f: Format, bits: u64) -> Option<(bool, u64, i64)> {
    let negative = bits & f.sign_mask() != 0;
    let exp = ((bits >> f.mant_bits()) as i64) & f.max_exp();
    let fraction = bits & fraction_mask(f);
    let shift = f.bias() + i64::from(f.mant_bits());
    match exp {
        e if e == f.max_exp() => None,
        0 => Some((negative, fraction, 1 - shift)),
        e => Some((negative, fraction | min_normal(f), e - shift)),
    }
}

/// The float `steps` representable values further from zero than `bits` (closer for negative
/// `steps`), keeping the sign; clamped to `±0` and `±inf`. NaNs are returned unchanged.
fn step(f: Format, bits: u64, steps: i64) -> u64 {
    if is_nan(f, bits) {
        return bits;
    }
    let magnitude = (bits & magnitude_mask(f)) as i64;
    let moved = (magnitude + steps).clamp(0, f.infinity() as i64) as u64;
    (bits & f.sign_mask()) | moved
}

/// The boundary values of `f`, both signs: zeros, the smallest and largest subnormals and
/// normals, one and its neighbours, small integers and halves, the largest exponent, the
/// infinities and NaNs (canonical, signalling with the smallest payload, quiet with a payload,
/// all-ones payload).
pub fn specials(f: Format) -> Vec<u64> {
    let one = (f.bias() as u64) << f.mant_bits();
    let quiet = 1 << (f.mant_bits() - 1);
    let magnitudes = [
        0,
        1,
        fraction_mask(f),
        min_normal(f),
        min_normal(f) + 1,
        one - 1,
        one,
        one + 1,
        one - min_normal(f),                // 0.5
        one + min_normal(f),                // 2
        one + min_normal(f) + quiet,        // 3
        one + quiet,                        // 1.5
        pack(f, false, f.max_exp() - 1, 0), // the largest power of two
        max_finite(f),
        f.infinity(),
        f.canonical_nan(),
        f.infinity() | 1,
        f.infinity() | quiet | 0x5,
        f.infinity() | fraction_mask(f),
    ];
    magnitudes
        .iter()
        .flat_map(|&m| [m, m | f.sign_mask()])
        .collect()
}

/// A fraction field: uniformly random bits half the time, otherwise a pattern (all ones, zero,
/// one, the top bit, a few bits, ones ending in random bits).
fn fraction(rng: &mut impl Rng, f: Format) -> u64 {
    let mask = fraction_mask(f);
    let mant = f.mant_bits();
    match rng.random_range(0..12) {
        0 => mask,
        1 => 0,
        2 => 1,
        3 => 1 << (mant - 1),
        4 => (0..rng.random_range(1..4)).fold(0, |acc, _| acc | 1 << rng.random_range(0..mant)),
        5 => mask ^ (rng.random::<u64>() & ((1 << rng.random_range(0..mant)) - 1)),
        _ => rng.random::<u64>() & mask,
    }
}

/// A finite normal float with biased exponent in `lo..=hi` (clamped to the normal range).
fn normal_in(rng: &mut impl Rng, f: Format, lo: i64, hi: i64) -> u64 {
    let lo = lo.clamp(1, f.max_exp() - 1);
    let hi = hi.clamp(lo, f.max_exp() - 1);
    let exp = rng.random_range(lo..=hi);
    pack(f, rng.random(), exp, fraction(rng, f))
}

/// A NaN: canonical, signalling, quiet with a payload, either sign.
fn nan(rng: &mut impl Rng, f: Format) -> u64 {
    let quiet = 1 << (f.mant_bits() - 1);
    let payload = match rng.random_range(0..4) {
        0 => quiet,
        1 => (rng.random::<u64>() & (quiet - 1)).max(1),
        _ => rng.random::<u64>() & fraction_mask(f) | quiet,
    };
    with_sign(f, rng.random(), f.infinity() | payload)
}

/// A subnormal or zero of random sign.
fn subnormal(rng: &mut impl Rng, f: Format) -> u64 {
    pack(f, rng.random(), 0, fraction(rng, f))
}

/// A float near 1 in magnitude (exponent within ±`spread` of the bias).
fn ordinary(rng: &mut impl Rng, f: Format, spread: i64) -> u64 {
    normal_in(rng, f, f.bias() - spread, f.bias() + spread)
}

/// One operand of any class: a boundary value, a NaN, a value near overflow or underflow, a
/// subnormal, an ordinary value, or uniformly random bits.
pub fn float(rng: &mut impl Rng, f: Format) -> u64 {
    let max_exp = f.max_exp();
    match rng.random_range(0..16) {
        0 | 1 => {
            let specials = specials(f);
            specials[rng.random_range(0..specials.len())]
        }
        2 => nan(rng, f),
        3 => normal_in(rng, f, max_exp - 3, max_exp - 1),
        4 => normal_in(rng, f, 1, 3),
        5 | 6 => subnormal(rng, f),
        7 => normal_in(rng, f, 1, max_exp - 1),
        8..=11 => ordinary(rng, f, 30),
        _ => rng.random::<u64>() & (f.sign_mask() | magnitude_mask(f)),
    }
}

/// A finite float of any class.
fn finite(rng: &mut impl Rng, f: Format) -> u64 {
    loop {
        let x = float(rng, f);
        if decompose(f, x).is_some() {
            return x;
        }
    }
}

/// A finite nonzero normal float, mostly ordinary, sometimes near either end of the range.
fn normal(rng: &mut impl Rng, f: Format) -> u64 {
    match rng.random_range(0..4) {
        0 => normal_in(rng, f, 1, f.max_exp() - 1),
        _ => ordinary(rng, f, 60),
    }
}

/// A random odd integer of exactly `len` bits (`len` ≥ 1).
fn odd_of_len(rng: &mut impl Rng, len: u32) -> u128 {
    let top = 1u128 << (len - 1);
    (rng.random::<u128>() & (top - 1)) | top | 1
}

/// `x` with its sign flipped.
fn negate(f: Format, x: u64) -> u64 {
    x ^ f.sign_mask()
}

/// The two operands in random order.
fn shuffled(rng: &mut impl Rng, a: u64, b: u64) -> [u64; 2] {
    if rng.random() {
        [a, b]
    } else {
        [b, a]
    }
}

/// An addend `b` for `a` such that `a + b` has its lowest set bit exactly half an ulp of `a`
/// below `a`'s last bit: an exact tie whenever the sum keeps `a`'s exponent (and a
/// quarter-ulp case when it grows). `None` if `a` is not normal or `b` would underflow.
fn tie_addend(rng: &mut impl Rng, f: Format, a: u64) -> Option<u64> {
    let (_, sig, exp) = decompose(f, a)?;
    if sig < min_normal(f) {
        return None;
    }
    let len = rng.random_range(1..=precision(f));
    exact(f, rng.random(), odd_of_len(rng, len), exp - 1)
}

/// Operands for `fadd`/`fsub`: independent draws, cancelling pairs (close exponents, opposite
/// signs), exact ties, exponent differences around the precision, tiny pairs whose sum crosses
/// the normal boundary.
pub fn add_operands(rng: &mut impl Rng, f: Format) -> [u64; 2] {
    match rng.random_range(0..10) {
        0..=3 => [float(rng, f), float(rng, f)],
        4 | 5 => {
            let a = normal(rng, f);
            let b = close_to(rng, f, a);
            let b = if rng.random_ratio(4, 5) {
                negate(f, b)
            } else {
                b
            };
            shuffled(rng, a, b)
        }
        6 | 7 => {
            let a = normal(rng, f);
            match tie_addend(rng, f, a) {
                Some(b) => shuffled(rng, a, b),
                None => [a, float(rng, f)],
            }
        }
        8 => {
            let a = normal(rng, f);
            let b = scaled_below(rng, f, a);
            shuffled(rng, a, b)
        }
        _ => [tiny(rng, f), tiny(rng, f)],
    }
}

/// A subnormal, or a normal with one of the three smallest exponents; random sign.
fn tiny(rng: &mut impl Rng, f: Format) -> u64 {
    match rng.random_range(0..3) {
        0 => normal_in(rng, f, 1, 3),
        _ => subnormal(rng, f),
    }
}

/// A float near `x`: the exponent moved by at most one, a random number of low fraction bits
/// replaced by random bits.
fn close_to(rng: &mut impl Rng, f: Format, x: u64) -> u64 {
    let exp_step = (rng.random_range(0..3u64) << f.mant_bits()) as i64 - (1 << f.mant_bits());
    let moved = step(f, x, exp_step);
    let moved = if decompose(f, moved).is_some() {
        moved
    } else {
        x
    };
    let low = rng.random_range(0..=f.mant_bits());
    let low_mask = (1u64 << low) - 1;
    (moved & !low_mask) | (rng.random::<u64>() & low_mask)
}

/// A float whose exponent is below `x`'s by about the precision (between 0 and twice the
/// precision, mostly within a few bits of it), so that aligning it drops bits; random sign.
fn scaled_below(rng: &mut impl Rng, f: Format, x: u64) -> u64 {
    let p = i64::from(precision(f));
    let distance = match rng.random_range(0..3) {
        0 => rng.random_range(0..=2 * p + 4),
        _ => rng.random_range(p - 3..=p + 3),
    };
    let exp = ((x >> f.mant_bits()) as i64 & f.max_exp()) - distance;
    if exp >= 1 {
        pack(f, rng.random(), exp, fraction(rng, f))
    } else {
        subnormal(rng, f)
    }
}

/// Two floats `±ma · 2^qa`, `±mb · 2^qb` with `qa + qb = total`, both normal, the split of the
/// exponent random; `None` if no split keeps both normal.
fn split_exponent(
    rng: &mut impl Rng,
    f: Format,
    ma: u128,
    mb: u128,
    total: i64,
) -> Option<[u64; 2]> {
    let (lo, hi) = (min_exponent(f), f.bias());
    let len = |m: u128| i64::from(127 - m.leading_zeros());
    // a's exponent ea = len(ma) + qa, b's is eb = len(mb) + total − qa; both in [lo, hi].
    let sum = len(ma) + len(mb) + total;
    let ea_lo = lo.max(sum - hi);
    let ea_hi = hi.min(sum - lo);
    if ea_lo > ea_hi {
        return None;
    }
    let ea = rng.random_range(ea_lo..=ea_hi);
    let qa = ea - len(ma);
    let a = exact(f, rng.random(), ma, qa)?;
    let b = exact(f, rng.random(), mb, total - qa)?;
    Some([a, b])
}

/// Significands of `k` and `j` bits (odd, `k + j` = `total_len`, each at most the precision)
/// whose product has `total_len − 1` or `total_len` bits and is odd.
fn odd_factors(rng: &mut impl Rng, f: Format, total_len: u32) -> (u128, u128) {
    let p = precision(f);
    let total_len = total_len.clamp(2, 2 * p);
    let k = rng.random_range(total_len.saturating_sub(p).max(1)..=(total_len - 1).min(p));
    (odd_of_len(rng, k), odd_of_len(rng, total_len - k))
}

/// Operands for `fmul`: independent draws, exact ties (an odd product one bit longer than the
/// precision), ties and near-ties in the subnormal range, products near overflow and
/// underflow, boundary values times anything.
pub fn mul_operands(rng: &mut impl Rng, f: Format) -> [u64; 2] {
    let p = precision(f);
    let drawn = match rng.random_range(0..10) {
        0..=3 => None,
        4 | 5 => {
            // An odd product of p + 1 bits (a tie), or of p (exact) or p + 2 (just off a tie).
            let len = p + 1 + rng.random_range(0..2);
            let (ma, mb) = odd_factors(rng, f, len);
            let product_len = i64::from(128 - (ma * mb).leading_zeros());
            let result_exp = rng.random_range(min_exponent(f)..=f.bias());
            split_exponent(rng, f, ma, mb, result_exp - (product_len - 1))
        }
        6 => {
            // The product's lowest bit at half the smallest subnormal (± 1 bit): ties at every
            // subnormal precision, and into the smallest normals.
            let len = rng.random_range(2..=p + 1);
            let (ma, mb) = odd_factors(rng, f, len);
            let total = min_subnormal_exponent(f) - 1 + rng.random_range(-1..=1);
            split_exponent(rng, f, ma, mb, total)
        }
        7 => {
            let total = f.bias() + rng.random_range(-2..=1);
            Some(exponent_sum(rng, f, total))
        }
        8 => {
            let below = rng.random_range(-2..=i64::from(p) + 2);
            Some(exponent_sum(rng, f, min_exponent(f) - below))
        }
        _ => Some(special_and_any(rng, f)),
    };
    drawn.unwrap_or_else(|| [float(rng, f), float(rng, f)])
}

/// A boundary value and any float, in random order.
fn special_and_any(rng: &mut impl Rng, f: Format) -> [u64; 2] {
    let specials = specials(f);
    let special = specials[rng.random_range(0..specials.len())];
    let any = float(rng, f);
    shuffled(rng, special, any)
}

/// Two normal floats whose unbiased exponents add up to `total` (so the product's exponent is
/// `total` or `total + 1`), random fractions and signs; clamped where that is out of range.
fn exponent_sum(rng: &mut impl Rng, f: Format, total: i64) -> [u64; 2] {
    let bias = f.bias();
    let (lo, hi) = (min_exponent(f), bias);
    let ea = rng.random_range(lo.max(total - hi)..=hi.min(total - lo).max(lo.max(total - hi)));
    let eb = total - ea;
    [
        normal_in(rng, f, ea + bias, ea + bias),
        normal_in(rng, f, eb + bias, eb + bias),
    ]
}

/// The product `a · b` rounded by the host.
fn host_mul(f: Format, a: u64, b: u64) -> u64 {
    match f {
        Format::F32 => (f32::from_bits(a as u32) * f32::from_bits(b as u32))
            .to_bits()
            .into(),
        Format::F64 => (f64::from_bits(a) * f64::from_bits(b)).to_bits(),
    }
}

/// Operands for `fdiv`: independent draws, quotients within a tiny fraction of an ulp of a
/// midpoint between two floats ([`div_near_tie`]), exact quotients and dividends one step off
/// them, quotients near overflow and underflow, ratios of small integers, equal operands,
/// boundary values.
pub fn div_operands(rng: &mut impl Rng, f: Format) -> [u64; 2] {
    let drawn = match rng.random_range(0..11) {
        0..=3 => None,
        4 | 5 => div_near_tie(rng, f),
        6 => {
            // An exact quotient (q · b has at most p bits), or the dividend one step off it.
            let len = rng.random_range(2..=precision(f));
            let (q, b) = odd_factors(rng, f, len);
            let steps = [0, 0, -1, 1][rng.random_range(0..4)];
            split_quotient(rng, f, q * b, b).map(|[a, b]| [step(f, a, steps), b])
        }
        7 => {
            let a = normal(rng, f);
            let exp_a = ((a >> f.mant_bits()) as i64) & f.max_exp();
            let p = i64::from(precision(f));
            let quotient_exp = if rng.random() {
                f.bias() + rng.random_range(-2..=1)
            } else {
                min_exponent(f) - rng.random_range(-2..=p + 2)
            };
            let b_exp = exp_a - quotient_exp;
            Some([a, normal_in(rng, f, b_exp, b_exp)])
        }
        8 => Some(special_and_any(rng, f)),
        9 => small_scaled(rng, f)
            .zip(small_scaled(rng, f))
            .map(|(a, b)| [a, b]),
        _ => {
            let a = finite(rng, f);
            let b = match rng.random_range(0..3) {
                0 => a,
                1 => negate(f, a),
                _ => pack(f, rng.random(), rng.random_range(1..f.max_exp()), 0),
            };
            Some(shuffled(rng, a, b))
        }
    };
    drawn.unwrap_or_else(|| [float(rng, f), float(rng, f)])
}

/// A small integer (1 to 1000) times a power of two between 2^−40 and 2^40, random sign.
fn small_scaled(rng: &mut impl Rng, f: Format) -> Option<u64> {
    let n = rng.random_range(1..=1000u128);
    exact(f, rng.random(), n, rng.random_range(-40..=40))
}

/// The inverse of an odd `x` modulo 2^128 (Newton's iteration: each step doubles the number
/// of correct low bits, and `x` is its own inverse modulo 8).
fn inverse_mod_2_128(x: u128) -> u128 {
    (0..6).fold(x, |y, _| {
        y.wrapping_mul(2u128.wrapping_sub(x.wrapping_mul(y)))
    })
}

/// A dividend and divisor whose quotient lies within `c / b` half-ulps of a midpoint between
/// two floats (`c` ≤ 15, `b` the divisor's p-bit significand, so within about 2^−p·c): the
/// hardest rounding decisions of division, since no quotient is exactly a midpoint.
///
/// With M = 2^(p+1), b odd and u ≡ ±c·b⁻¹ (mod M), u · b ∓ c is a multiple of M: the dividend
/// a = (u·b ∓ c) / M is an integer of at most p bits, and a · M / b = u ∓ c/b, where u, odd
/// with p + 1 bits, is a midpoint. The operands are scaled by random powers of two.
fn div_near_tie(rng: &mut impl Rng, f: Format) -> Option<[u64; 2]> {
    let p = precision(f);
    let modulus = 1u128 << (p + 1);
    let b = odd_of_len(rng, p);
    let c = 2 * rng.random_range(0..8u128) + 1;
    let above = rng.random();
    let residue = if above { modulus - c } else { c };
    let u = residue.wrapping_mul(inverse_mod_2_128(b)) & (modulus - 1);
    if u >> p != 1 {
        return None;
    }
    // u · b ≡ residue (mod M): adding c (above) or taking c away leaves a multiple of M.
    let a = if above { u * b + c } else { u * b - c } >> (p + 1);
    split_quotient(rng, f, a, b)
}

/// Two normal floats `±ma · 2^qa`, `±mb · 2^qb` whose quotient's exponent is random over the
/// normal range; `None` if the significands do not fit.
fn split_quotient(rng: &mut impl Rng, f: Format, ma: u128, mb: u128) -> Option<[u64; 2]> {
    let (lo, hi) = (min_exponent(f), f.bias());
    let len = |m: u128| i64::from(127 - m.leading_zeros());
    // The exponents ea of a and eb = ea − quotient_exp of b, both in [lo, hi].
    let quotient_exp = rng.random_range(lo..=hi);
    let ea = rng.random_range(lo.max(lo + quotient_exp)..=hi.min(hi + quotient_exp));
    let a = exact(f, rng.random(), ma, ea - len(ma))?;
    let b = exact(f, rng.random(), mb, ea - quotient_exp - len(mb))?;
    Some([a, b])
}

/// A square whose root lies within about 2^−(p+1)·r half-ulps of a midpoint between two
/// floats (r < 2^7): the hardest rounding decisions of `sqrt`, which has no exact midpoints.
///
/// With K = p + 2 and r ≡ 1 (mod 8) a small positive or negative residue, Hensel lifting finds
/// the u with u² ≡ r (mod 2^K); one with exactly p + 1 bits (odd: a midpoint) gives the
/// integer a = (u² − r) / 2^K of at most p bits, and √(a · 2^K) = √(u² − r) ≈ u − r/(2u).
/// The result is scaled by an even power of two.
fn sqrt_near_tie(rng: &mut impl Rng, f: Format) -> Option<u64> {
    let p = precision(f);
    let k = p + 2;
    let modulus = 1u128 << k;
    let t = rng.random_range(0..16u128);
    // r = 1 + 8t, or −(7 + 8t) (≡ 1 mod 8 too), as a residue modulo 2^K.
    let (residue, negative) = if rng.random() {
        (1 + 8 * t, false)
    } else {
        (modulus - 7 - 8 * t, true)
    };
    // Invariant: x² ≡ r (mod 2^j); a wrong bit j is fixed by adding 2^(j−1).
    let mut x = 1u128;
    for j in 3..k {
        if (x * x).wrapping_sub(residue) >> j & 1 != 0 {
            x += 1 << (j - 1);
        }
    }
    let half = modulus / 2;
    let roots = [
        x,
        modulus - x,
        (x + half) % modulus,
        (modulus - x + half) % modulus,
    ];
    let midpoints: Vec<u128> = roots.into_iter().filter(|u| u >> p == 1).collect();
    if midpoints.is_empty() {
        return None;
    }
    let u = midpoints[rng.random_range(0..midpoints.len())];
    let square = u * u;
    let a = if negative {
        square + (modulus - residue)
    } else {
        square - residue
    } >> k;
    // a · 2^K is about 2^(2p): scaled by 2^(2e), it stays in the normal range.
    let p = i64::from(p);
    let e = rng.random_range((min_exponent(f) - 2 * p) / 2 + 1..=(f.bias() - 2 * p - 2) / 2);
    exact(f, false, a, i64::from(k) + 2 * e)
}

/// The float `±sig · 2^exp` with `sig` truncated to the precision, if that is in range.
fn truncated(f: Format, negative: bool, sig: u128, exp: i64) -> Option<u64> {
    let drop = (128 - sig.leading_zeros()).saturating_sub(precision(f));
    exact(f, negative, sig >> drop, exp + i64::from(drop))
}

/// An operand for `sqrt`: any float (mostly positive), exact squares, roots within a tiny
/// fraction of an ulp of a midpoint between two floats ([`sqrt_near_tie`]), subnormals,
/// negative values.
pub fn sqrt_operand(rng: &mut impl Rng, f: Format) -> u64 {
    let p = precision(f);
    let half_range = f.bias() / 2;
    let drawn = match rng.random_range(0..10) {
        0..=3 => Some(float(rng, f) & magnitude_mask(f)),
        4 => {
            let len = rng.random_range(1..=p / 2);
            let root = odd_of_len(rng, len);
            exact(
                f,
                false,
                root * root,
                2 * rng.random_range(-half_range..=half_range),
            )
        }
        5 | 6 => sqrt_near_tie(rng, f),
        7 => Some(subnormal(rng, f) & magnitude_mask(f)),
        8 => Some(float(rng, f) | f.sign_mask()),
        _ => None,
    };
    drawn.unwrap_or_else(|| float(rng, f))
}

/// Operands for `fma`: independent draws, addends cancelling the rounded product (the result
/// is the product's rounding error), exact ties of product plus addend, products that overflow
/// or underflow with addends that may bring them back, boundary values, products far above or
/// below the addend.
pub fn fma_operands(rng: &mut impl Rng, f: Format) -> [u64; 3] {
    let p = precision(f);
    let drawn = match rng.random_range(0..10) {
        0..=2 => None,
        3 | 4 => {
            let [a, b] = [normal(rng, f), normal(rng, f)];
            let c = negate(f, host_mul(f, a, b));
            Some([a, b, step(f, c, rng.random_range(-1..=1))])
        }
        5 => {
            // An exact product (at most p bits) and an addend half its ulp below its last bit.
            let len = rng.random_range(2..=p);
            let (ma, mb) = odd_factors(rng, f, len);
            let result_exp = rng.random_range(min_exponent(f) + 2 * i64::from(p)..=f.bias() - 2);
            let product_len = i64::from(128 - (ma * mb).leading_zeros());
            split_exponent(rng, f, ma, mb, result_exp - (product_len - 1)).and_then(|[a, b]| {
                let c = tie_addend(rng, f, host_mul(f, a, b))?;
                Some([a, b, c])
            })
        }
        6 => {
            let total = if rng.random() {
                f.bias() + rng.random_range(-1..=3)
            } else {
                min_subnormal_exponent(f) - rng.random_range(-3..=3)
            };
            let [a, b] = exponent_sum(rng, f, total);
            Some([a, b, float(rng, f)])
        }
        7 => {
            let specials = specials(f);
            let mut operands = [float(rng, f), float(rng, f), float(rng, f)];
            operands[rng.random_range(0..3)] = specials[rng.random_range(0..specials.len())];
            Some(operands)
        }
        8 => {
            let [a, b] = [normal(rng, f), normal(rng, f)];
            let product = host_mul(f, a, b);
            decompose(f, product).map(|_| [a, b, negate(f, close_to(rng, f, product))])
        }
        _ => {
            let [a, b] = [normal(rng, f), normal(rng, f)];
            let product = host_mul(f, a, b);
            let c = if decompose(f, product).is_some() && rng.random() {
                scaled_below(rng, f, product)
            } else {
                finite(rng, f)
            };
            Some([a, b, c])
        }
    };
    drawn.unwrap_or_else(|| [float(rng, f), float(rng, f), float(rng, f)])
}

/// Operands for comparisons and `fmin`/`fmax`: independent draws, equal operands, opposite
/// operands (`±0`, `±inf`), neighbours, NaNs against anything, equal exponents.
pub fn compare_operands(rng: &mut impl Rng, f: Format) -> [u64; 2] {
    let a = float(rng, f);
    let b = match rng.random_range(0..10) {
        0..=3 => float(rng, f),
        4 => a,
        5 => negate(f, a),
        6 => step(f, a, rng.random_range(-2..=2)),
        7 => with_sign(f, rng.random(), [0, f.infinity()][rng.random_range(0..2)]),
        8 => nan(rng, f),
        _ => (a & !fraction_mask(f)) | fraction(rng, f),
    };
    shuffled(rng, a, b)
}

/// A random integer of `len` bits plus 0, ¼, ½ or ¾, random sign; when that is not
/// representable, the integer truncated to the precision.
fn quarters(rng: &mut impl Rng, f: Format, len: u32) -> Option<u64> {
    let k = if len == 0 {
        0
    } else {
        (rng.random::<u128>() & ((1 << (len - 1)) - 1)) | 1 << (len - 1)
    };
    let negative = rng.random();
    exact(f, negative, k << 2 | rng.random_range(0..4), -2).or_else(|| truncated(f, negative, k, 0))
}

/// An operand for rounding to an integral value (`ceil floor trunc nearest`): integers and
/// integers plus quarters and halves of every size up to beyond the precision, their
/// neighbours, values in (−1, 1), large integral values, boundary values.
pub fn integral_operand(rng: &mut impl Rng, f: Format) -> u64 {
    let p = precision(f);
    let drawn = match rng.random_range(0..10) {
        0 | 1 => None,
        2..=7 => {
            let len = rng.random_range(0..=p);
            let steps = [0, 0, 0, 0, -2, -1, 1, 2][rng.random_range(0..8)];
            quarters(rng, f, len).map(|x| step(f, x, steps))
        }
        8 => Some(normal_in(rng, f, 1, f.bias())),
        _ => Some(normal_in(
            rng,
            f,
            f.bias() + i64::from(f.mant_bits()) - 2,
            f.max_exp() - 1,
        )),
    };
    drawn.unwrap_or_else(|| float(rng, f))
}

/// An `f64` operand for `fdemote`: any `f64`, values in `f32`'s range, and `f64`s at or next
/// to a midpoint between two `f32`s: normal, subnormal, and between the largest `f32` and
/// 2^128 (a tie that overflows).
pub fn demote_operand(rng: &mut impl Rng) -> u64 {
    let (narrow, wide) = (Format::F32, Format::F64);
    let drawn = match rng.random_range(0..10) {
        0..=2 => None,
        3 | 4 => {
            // Within f32's exponent range, a few exponents beyond either end.
            let bias = wide.bias();
            Some(normal_in(rng, wide, bias - 155, bias + 130))
        }
        _ => {
            let x = finite(rng, narrow);
            let (negative, sig, exp) = decompose(narrow, x).expect("finite");
            // The midpoint above x's magnitude: x's significand and one more bit, set.
            exact(wide, negative, u128::from(sig) << 1 | 1, exp - 1)
                .map(|mid| step(wide, mid, [0, 0, 0, 1, -1, 2][rng.random_range(0..6)]))
        }
    };
    drawn.unwrap_or_else(|| float(rng, wide))
}

/// An integer operand for a conversion to a float of precision `p` from a `bits`-bit integer
/// (signed or not), as the low `bits` of the result: random bits, powers of two and their
/// neighbours, integers one or two bits longer than `p` whose low part is a tie (or a tie plus
/// sticky bits), small integers, the extremes.
pub fn int_operand(rng: &mut impl Rng, bits: u32, signed: bool, p: u32) -> u64 {
    let mask = u64::MAX >> (64 - bits);
    let value = match rng.random_range(0..10) {
        0..=2 => rng.random::<u64>(),
        3 | 4 => (1u64 << rng.random_range(0..bits)).wrapping_add_signed(rng.random_range(-3..=3)),
        5 | 6 if bits > p => {
            // Top bit at `n` ≥ p: p random high bits, then the half bit, then zeros or junk.
            let n = rng.random_range(p..bits);
            let high = (rng.random::<u64>() >> (64 - p)) | 1 << (p - 1);
            let low_len = n + 1 - p;
            let half = 1u64 << (low_len - 1);
            let below = match rng.random_range(0..3) {
                0 => 0,
                1 => rng.random::<u64>() & (half - 1),
                _ => half.wrapping_sub(1) & 1,
            };
            high << low_len | half | below
        }
        7 => rng.random_range(-1000..=1000i64) as u64,
        8 => {
            let extremes = [
                0,
                1,
                mask,
                mask >> 1,
                (mask >> 1) + 1,
                (mask >> 1) - 1,
                mask - 1,
            ];
            extremes[rng.random_range(0..extremes.len())]
        }
        _ => rng.random::<u64>() >> rng.random_range(0..64),
    };
    let value = if signed && rng.random_ratio(1, 3) {
        value.wrapping_neg()
    } else {
        value
    };
    value & mask
}

/// Boundary integers for conversions from `bits`-bit integers: 0, and ±2^n − 1, ±2^n, ±2^n + 1
/// for every n (as the low `bits` bits).
pub fn int_specials(bits: u32) -> Vec<u64> {
    let mask = u64::MAX >> (64 - bits);
    let mut values = vec![0];
    for n in 0..bits {
        for d in [-1, 0, 1] {
            let v = (1u64 << n).wrapping_add_signed(d);
            values.extend([v & mask, v.wrapping_neg() & mask]);
        }
    }
    values
}

/// The float `±2^n`.
fn power_of_two(f: Format, negative: bool, n: i64) -> u64 {
    exact(f, negative, 1, n).expect("in range")
}

/// Boundary floats for conversions to `bits`-bit integers: [`specials`], the powers of two
/// at the ends of the signed and unsigned ranges and up to three representable values either
/// side, both signs, and the halves and near-ones around zero.
pub fn to_int_specials(f: Format, bits: u32) -> Vec<u64> {
    let mut values = specials(f);
    let half = power_of_two(f, false, -1);
    let one = power_of_two(f, false, 0);
    for magnitude in [
        half,
        one,
        step(f, one, -1),
        step(f, half, -1),
        step(f, one, 1),
    ] {
        values.extend([magnitude, negate(f, magnitude)]);
    }
    for n in [bits - 2, bits - 1, bits, bits + 1] {
        for negative in [false, true] {
            let edge = power_of_two(f, negative, i64::from(n));
            values.extend((-3..=3).map(|s| step(f, edge, s)));
        }
    }
    values
}

/// A float operand for a conversion to a `bits`-bit integer: any float, values at the range
/// ends and their neighbours, integers with quarter fractions of every size up to the range,
/// values in (−1, 1), values a few binades above and below the range's end.
pub fn to_int_operand(rng: &mut impl Rng, f: Format, bits: u32) -> u64 {
    let drawn = match rng.random_range(0..10) {
        0 | 1 => None,
        2..=4 => {
            let n = i64::from(bits) + rng.random_range(-2..=1);
            let edge = power_of_two(f, rng.random(), n);
            Some(step(f, edge, rng.random_range(-4..=4)))
        }
        5 | 6 => {
            let len = rng.random_range(0..=bits + 1);
            quarters(rng, f, len)
        }
        7 => Some(normal_in(rng, f, 1, f.bias() - 1)),
        8 => {
            let specials = specials(f);
            Some(specials[rng.random_range(0..specials.len())])
        }
        _ => {
            let exp = f.bias() + i64::from(bits);
            Some(normal_in(rng, f, exp - 4, exp + 3))
        }
    };
    drawn.unwrap_or_else(|| float(rng, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_builds_and_refuses() {
        let f = Format::F64;
        assert_eq!(exact(f, false, 1, 0), Some(1.0f64.to_bits()));
        assert_eq!(exact(f, true, 3, -1), Some((-1.5f64).to_bits()));
        assert_eq!(exact(f, false, 1, -1074), Some(1));
        assert_eq!(exact(f, false, 1, -1075), None);
        assert_eq!(exact(f, false, (1 << 53) + 1, 0), None);
        assert_eq!(exact(f, false, 1, 1024), None);
        assert_eq!(
            exact(f, false, (1 << 53) - 1, 971),
            Some(f64::MAX.to_bits())
        );
        assert_eq!(exact(Format::F32, false, 3, -149), Some(3));
        assert_eq!(exact(Format::F32, false, 3, -150), None);
        for bits in [
            1u64,
            0x000f_ffff_ffff_ffff,
            0x0010_0000_0000_0000,
            0x4009_21fb_5444_2d18,
        ] {
            let (negative, sig, exp) = decompose(f, bits).unwrap();
            assert_eq!(exact(f, negative, sig.into(), exp), Some(bits));
        }
    }

    /// The distance of `x` from the nearest midpoint between two `f32`s, in `f32` ulps.
    fn from_f32_midpoint(x: f64) -> f64 {
        let nearest = x as f32;
        let ulp = f64::from(f32::from_bits(nearest.to_bits() + 1)) - f64::from(nearest);
        ((x - f64::from(nearest)).abs() / ulp.abs() - 0.5).abs()
    }

    #[test]
    fn near_ties_are_near() {
        use rand::SeedableRng;
        let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(2);
        let (mut quotients, mut roots) = (0, 0);
        for _ in 0..2_000 {
            if let Some([a, b]) = div_near_tie(&mut rng, Format::F64) {
                let (a, b) = (f64::from_bits(a), f64::from_bits(b));
                let q = a / b;
                let half = (f64::from_bits(q.abs().to_bits() + 1) - q.abs()) / 2.0 * b.abs();
                // Where the remainder is normal, it is exact: half an ulp of q (times b), nearly.
                if q.is_normal() && half > 1e-290 {
                    let remainder = (-q).mul_add(b, a).abs();
                    assert!((remainder - half).abs() < half * 1e-12, "{a:e} / {b:e}");
                    quotients += 1;
                }
            }
            if let Some([a, b]) = div_near_tie(&mut rng, Format::F32) {
                let (a, b) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
                if (a / b).is_normal() {
                    let distance = from_f32_midpoint(f64::from(a) / f64::from(b));
                    assert!(distance < 1e-5, "{a:e} / {b:e}");
                }
            }
            // Where the residual a − root² is normal, it is exact: about ± root · ulp(root),
            // so √a is near root ± ulp/2.
            let square = sqrt_near_tie(&mut rng, Format::F64).map(f64::from_bits);
            if let Some(a) = square.filter(|&a| a > 1e-290) {
                let root = a.sqrt();
                let residual = (-root).mul_add(root, a).abs();
                let ulp = f64::from_bits(root.to_bits() + 1) - root;
                assert!((residual - root * ulp).abs() < root * ulp * 1e-12, "√{a:e}");
                roots += 1;
            }
            if let Some(a) = sqrt_near_tie(&mut rng, Format::F32) {
                let a = f32::from_bits(a as u32);
                assert!(from_f32_midpoint(f64::from(a).sqrt()) < 1e-5, "√{a:e}");
            }
        }
        assert!(
            quotients > 500 && roots > 500,
            "{quotients} quotients, {roots} roots"
        );
    }

    #[test]
    fn ties_are_ties() {
        use rand::SeedableRng;
        let mut rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
        let mut ties = 0;
        for _ in 0..10_000 {
            let a = ordinary(&mut rng, Format::F64, 10);
            let Some(b) = tie_addend(&mut rng, Format::F64, a) else {
                continue;
            };
            let (x, y) = (f64::from_bits(a), f64::from_bits(b));
            let sum = x + y;
            // A tie: the rounding error (Knuth's two-sum) is exactly half an ulp of the result.
            let y_part = sum - x;
            let error = (x - (sum - y_part)) + (y - y_part);
            let half_ulp = (f64::from_bits(sum.abs().to_bits() + 1) - sum.abs()) / 2.0;
            ties += usize::from(error.abs() == half_ulp);
        }
        assert!(ties > 3_000, "{ties} ties");
    }
}
