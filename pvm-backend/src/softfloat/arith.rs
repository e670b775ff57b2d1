//! Addition, multiplication and fused multiply-add.
//!
//! Each routine tests for its rare operands first (NaN, infinity, and zero factors), which
//! return early, and then computes the exact result with enough extra low bits, ORing what
//! falls off into a sticky bit, for [`round_pack`] to round once.
//!
//! A finite operand is unpacked ([`unpack`]) into an exponent `e` and an integer significand
//! `sig` with value `sig · 2^(e − bias − mant_bits)`: `sig` has its implicit leading one at
//! bit `mant_bits` for a normal number, and is the bare fraction with `e = 1` for a subnormal.

use super::build::{k, magnitude, ret, ret_if, round_pack, shift_right_sticky, wide};
use super::Format;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// The exponent and significand of the finite magnitude `m` (see the module docs).
///
/// `e = max(field, 1)`; subtracting `(e − 1) << mant_bits` from `m` leaves the fraction plus
/// the implicit one (a normal number's field minus one), or the bare fraction (a subnormal's).
fn unpack(b: &mut FunctionBuilder, f: Format, m: Value) -> (Value, Value) {
    let field = b.ins().ushr_imm(m, i64::from(f.mant_bits()));
    let one = k(b, 1);
    let e = b.ins().umax(field, one);
    let above = b.ins().iadd_imm(e, -1);
    let above = b.ins().ishl_imm(above, i64::from(f.mant_bits()));
    let sig = b.ins().isub(m, above);
    (e, sig)
}

/// `a + b`.
///
/// The operand of larger magnitude, `big`, has its significand moved to bit 61, so a carry
/// fits below bit 63, and the other one the same, then aligned to it with a sticky shift.
/// That shift only loses bits when it is longer than the `61 − mant_bits` zeros below the
/// significand; then the result still leads at bit 60 or above, so its rounding position is
/// far above the sticky bit, which stands for the lost bits (`f64`) or, with more zeros than
/// the precision, far above all of them (`f32`).
pub(super) fn add(b: &mut FunctionBuilder, f: Format, x: Value, y: Value) {
    let x = wide(b, f, x);
    let y = wide(b, f, y);
    let ax = magnitude(b, f, x);
    let ay = magnitude(b, f, y);
    let subtract = b.ins().bxor(x, y);
    let subtract = b.ins().band_imm(subtract, f.sign_mask() as i64);
    // NaN or infinity: NaN if either is a NaN or for `inf − inf` (equal magnitudes, opposite
    // signs), else the infinite operand.
    let inf = f.infinity() as i64;
    let top = b.ins().umax(ax, ay);
    let special = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, top, inf);
    let is_nan = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, top, inf);
    let same = b.ins().icmp(IntCC::Equal, ax, ay);
    let opposite = b.ins().icmp_imm(IntCC::NotEqual, subtract, 0);
    let opposite_infs = b.ins().band(same, opposite);
    let is_nan = b.ins().bor(is_nan, opposite_infs);
    let x_inf = b.ins().icmp_imm(IntCC::Equal, ax, inf);
    let result = b.ins().select(x_inf, x, y);
    let nan = k(b, f.canonical_nan() as i64);
    let result = b.ins().select(is_nan, nan, result);
    ret_if(b, f, special, result);

    // Finite: order by magnitude, so `big`'s exponent is the larger one.
    let x_big = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, ax, ay);
    let big = b.ins().select(x_big, x, y);
    let big_m = b.ins().select(x_big, ax, ay);
    let small_m = b.ins().select(x_big, ay, ax);
    let (e_big, sig_big) = unpack(b, f, big_m);
    let (e_small, sig_small) = unpack(b, f, small_m);
    let lift = 61 - i64::from(f.mant_bits());
    let sig_big = b.ins().ishl_imm(sig_big, lift);
    let sig_small = b.ins().ishl_imm(sig_small, lift);
    let dist = b.ins().isub(e_big, e_small);
    let sig_small = if lift >= i64::from(f.mant_bits()) + 3 {
        // So many zeros (`f32`) that a shift that loses bits leaves less than
        // `2^(mant_bits + 1)`, under half an ulp of any result next to `big`, itself a
        // multiple of `2^lift`: that result rounds to `big` whatever the lost bits were.
        let max = k(b, 63);
        let dist = b.ins().umin(dist, max);
        b.ins().ushr(sig_small, dist)
    } else {
        shift_right_sticky(b, sig_small, dist)
    };
    let sum = b.ins().iadd(sig_big, sig_small);
    let difference = b.ins().isub(sig_big, sig_small);
    let sig = b.ins().select(subtract, difference, sum);
    // An exact zero: `+0`, unless both operands are `−0`.
    let zero = b.ins().band(x, y);
    let zero = b.ins().band_imm(zero, f.sign_mask() as i64);
    let exact_zero = b.ins().icmp_imm(IntCC::Equal, sig, 0);
    ret_if(b, f, exact_zero, zero);

    // Bit 61 of `sig` weighs `2^(e_big − bias)`, which is `2^(exp − 1)` for `round_pack`.
    let exp = b.ins().iadd_imm(e_big, 1 - f.bias());
    let sign = b.ins().band_imm(big, f.sign_mask() as i64);
    let sign = b.ins().ushr_imm(sign, i64::from(f.bits() - 1));
    let bits = round_pack(b, f, sign, exp, sig);
    ret(b, f, bits);
}

/// `a · b`.
///
/// The significands are multiplied exactly: for `f32` they have 24 bits, so the product fits
/// a word; for `f64` they are first normalized (leading one at bits 63 and 62) so that the
/// high word of the 128-bit product holds at least 62 significant bits, and the low word
/// becomes the sticky bit.
pub(super) fn mul(b: &mut FunctionBuilder, f: Format, x: Value, y: Value) {
    let x = wide(b, f, x);
    let y = wide(b, f, y);
    let ax = magnitude(b, f, x);
    let ay = magnitude(b, f, y);
    let sign_bit = b.ins().bxor(x, y);
    let sign_bit = b.ins().band_imm(sign_bit, f.sign_mask() as i64);
    // Zero, infinity or NaN: `m − 1` wraps for zero, so one unsigned compare sees them all.
    // NaN for a NaN operand or `0 · inf`, else infinity if there is one, else zero.
    let inf = f.infinity() as i64;
    let ax1 = b.ins().iadd_imm(ax, -1);
    let ay1 = b.ins().iadd_imm(ay, -1);
    let rare = b.ins().umax(ax1, ay1);
    let rare = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, rare, inf - 1);
    let top = b.ins().umax(ax, ay);
    let bottom = b.ins().umin(ax, ay);
    let has_inf = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, top, inf);
    let has_nan = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, top, inf);
    let has_zero = b.ins().icmp_imm(IntCC::Equal, bottom, 0);
    let zero_inf = b.ins().band(has_inf, has_zero);
    let is_nan = b.ins().bor(has_nan, zero_inf);
    let signed_inf = b.ins().bor_imm(sign_bit, inf);
    let result = b.ins().select(has_inf, signed_inf, sign_bit);
    let nan = k(b, f.canonical_nan() as i64);
    let result = b.ins().select(is_nan, nan, result);
    ret_if(b, f, rare, result);

    let (ex, sx) = unpack(b, f, ax);
    let (ey, sy) = unpack(b, f, ay);
    let e = b.ins().iadd(ex, ey);
    let mant = i64::from(f.mant_bits());
    // The product is `sig · 2^(exp − 62)` (with a sticky bit for `f64`).
    let (sig, exp) = match f {
        Format::F32 => {
            let sig = b.ins().imul(sx, sy);
            let exp = b.ins().iadd_imm(e, 62 - 2 * (f.bias() + mant));
            (sig, exp)
        }
        Format::F64 => {
            let (sx, nx) = normalize(b, sx, 0);
            let (sy, ny) = normalize(b, sy, 1);
            let hi = b.ins().umulhi(sx, sy);
            let lo = b.ins().imul(sx, sy);
            let sticky = b.ins().icmp_imm(IntCC::NotEqual, lo, 0);
            let sticky = b.ins().uextend(types::I64, sticky);
            let sig = b.ins().bor(hi, sticky);
            let shifts = b.ins().iadd(nx, ny);
            let e = b.ins().isub(e, shifts);
            let exp = b.ins().iadd_imm(e, 126 - 2 * (f.bias() + mant));
            (sig, exp)
        }
    };
    let sign = b.ins().ushr_imm(sign_bit, i64::from(f.bits() - 1));
    let bits = round_pack(b, f, sign, exp, sig);
    ret(b, f, bits);
}

/// `a · b + c`, rounded once.
///
/// The exact product and the addend are placed in a word (`i64` for `f32`, `i128` for `f64`,
/// see [`word_type`]) of `W` bits on a common scale with their leading ones at bit `W − 3`
/// (`W − 4` for some products, lower for a subnormal `c`), so that their sum stays below
/// `2^(W − 1)` and their difference above `−2^(W − 2)`. The one with the smaller exponent is
/// aligned with a sticky shift. That shift only loses bits when it is longer than the
/// operand's trailing zeros (at least 14 for any product, `W − 3 − mant_bits` for `c`).
/// Then either the larger operand leads at bit `W − 4` or above and the result at most two
/// bits lower, or it is a subnormal `c` and the result has at most the spacing of the
/// subnormals, bit `W − 3 − mant_bits`: either way the result's rounding position is far
/// above the sticky bit, which stands for the lost bits.
pub(super) fn fma(b: &mut FunctionBuilder, f: Format, x: Value, y: Value, z: Value) {
    let x = wide(b, f, x);
    let y = wide(b, f, y);
    let z = wide(b, f, z);
    let ax = magnitude(b, f, x);
    let ay = magnitude(b, f, y);
    let az = magnitude(b, f, z);
    let sign_p = b.ins().bxor(x, y);
    let sign_p = b.ins().band_imm(sign_p, f.sign_mask() as i64);
    let subtract = b.ins().bxor(sign_p, z);
    let subtract = b.ins().band_imm(subtract, f.sign_mask() as i64);
    fma_special(b, f, [ax, ay, az], sign_p, subtract, z);

    // From here `a` and `b` are finite and nonzero, `c` is finite.
    let (ex, sx) = unpack(b, f, ax);
    let (ey, sy) = unpack(b, f, ay);
    let (ez, sz) = unpack(b, f, az);
    let ty = word_type(f);
    let width = i64::from(ty.bits());
    // The product: `sx` with its leading one at bit `W/2 − 1` and `sy` at `W/2 − 3` make it
    // lead at bit `W − 3` or `W − 4`; its value is `p · 2^(e_p − bias − W + 3)`.
    let (sx, nx) = normalize(b, sx, 64 - width / 2);
    let (sy, ny) = normalize(b, sy, 66 - width / 2);
    let p = match f {
        Format::F32 => b.ins().imul(sx, sy),
        Format::F64 => {
            let lo = b.ins().imul(sx, sy);
            let hi = b.ins().umulhi(sx, sy);
            b.ins().iconcat(lo, hi)
        }
    };
    let e_p = b.ins().iadd(ex, ey);
    let shifts = b.ins().iadd(nx, ny);
    let e_p = b.ins().isub(e_p, shifts);
    let e_p = b
        .ins()
        .iadd_imm(e_p, width - 3 - f.bias() - 2 * i64::from(f.mant_bits()));
    // The addend, on the same scale: a normal one leads at bit `W − 3`, a subnormal one or
    // zero lower (with the least exponent, 1).
    let c = to_word(b, ty, sz, width - 3 - i64::from(f.mant_bits()));
    let e_c = ez;

    let p_big = b.ins().icmp(IntCC::SignedGreaterThanOrEqual, e_p, e_c);
    let big = b.ins().select(p_big, p, c);
    let small = b.ins().select(p_big, c, p);
    let e = b.ins().smax(e_p, e_c);
    let e_min = b.ins().smin(e_p, e_c);
    let dist = b.ins().isub(e, e_min);
    let small = shift_right_sticky(b, small, dist);
    let sum = b.ins().iadd(big, small);
    let difference = b.ins().isub(big, small);
    let r = b.ins().select(subtract, difference, sum);
    // Only a difference with equal exponents can go negative: then the sign flips.
    let negative = is_negative(b, r);
    let minus_r = b.ins().ineg(r);
    let r = b.ins().select(negative, minus_r, r);
    let sign_c = b.ins().band_imm(z, f.sign_mask() as i64);
    let sign = b.ins().select(p_big, sign_p, sign_c);
    let sign = b.ins().ushr_imm(sign, i64::from(f.bits() - 1));
    let negative = b.ins().uextend(types::I64, negative);
    let sign = b.ins().bxor(sign, negative);
    // An exact zero is `+0` (the signs differ: equal ones cannot cancel).
    let zero = b.ins().icmp_imm(IntCC::Equal, r, 0);
    let plus_zero = k(b, 0);
    ret_if(b, f, zero, plus_zero);

    // Bit `W − 3` of `r` weighs `2^(e − bias)`; after `top_word`, bit 61 of `sig` does, which
    // is `2^(exp − 1)` for `round_pack`.
    let (sig, e) = top_word(b, r, e);
    let exp = b.ins().iadd_imm(e, 1 - f.bias());
    let bits = round_pack(b, f, sign, exp, sig);
    ret(b, f, bits);
}

/// The word type of `fma`'s exact arithmetic for format `f`: twice the significand's width
/// plus headroom.
fn word_type(f: Format) -> Type {
    match f {
        Format::F32 => types::I64,
        Format::F64 => types::I128,
    }
}

/// The `i64` `x` shifted left by `shift` into a word of type `ty`, which holds the result.
/// An `i128` word's shift is at least 64: `x` lands in its high half.
fn to_word(b: &mut FunctionBuilder, ty: Type, x: Value, shift: i64) -> Value {
    if ty == types::I64 {
        return b.ins().ishl_imm(x, shift);
    }
    let hi = b.ins().ishl_imm(x, shift - 64);
    let lo = k(b, 0);
    b.ins().iconcat(lo, hi)
}

/// Whether the word `r` is negative, from its top half alone if it is an `i128`.
fn is_negative(b: &mut FunctionBuilder, r: Value) -> Value {
    let top = if b.func.dfg.value_type(r) == types::I64 {
        r
    } else {
        b.ins().isplit(r).1
    };
    b.ins().icmp_imm(IntCC::SignedLessThan, top, 0)
}

/// `(x << s, s)` for `s = clz(x) − zeros`: the nonzero `i64` `x` with its leading one moved
/// to bit `63 − zeros`.
fn normalize(b: &mut FunctionBuilder, x: Value, zeros: i64) -> (Value, Value) {
    let s = b.ins().clz(x);
    let s = b.ins().iadd_imm(s, -zeros);
    (b.ins().ishl(x, s), s)
}

/// The nonzero word `r` below `2^(W − 1)` as an `i64` for [`round_pack`], and `e`, the
/// exponent of bit `W − 3` of `r`, adjusted to be that of bit 61 of the result. An `i64`
/// word is that already; an `i128` one is normalized to lead at bit 126, and its low half
/// becomes the sticky bit.
fn top_word(b: &mut FunctionBuilder, r: Value, e: Value) -> (Value, Value) {
    if b.func.dfg.value_type(r) == types::I64 {
        return (r, e);
    }
    let s = b.ins().clz(r);
    let s = b.ins().ireduce(types::I64, s);
    let s = b.ins().iadd_imm(s, -1);
    let r = b.ins().ishl(r, s);
    let e = b.ins().isub(e, s);
    let (lo, hi) = b.ins().isplit(r);
    let sticky = b.ins().icmp_imm(IntCC::NotEqual, lo, 0);
    let sticky = b.ins().uextend(types::I64, sticky);
    (b.ins().bor(hi, sticky), e)
}

/// The early returns of `fma` for NaN or infinite operands, or a zero factor, given the
/// magnitudes `[|a|, |b|, |c|]`, the product's sign bit `sign_p`, whether the signs of the
/// product and `c` differ (`subtract`, nonzero if so) and `c`.
///
/// NaN for a NaN operand, `0 · inf`, or an infinite product plus the opposite infinity;
/// else an infinite product; else `c` if it is infinite or nonzero (a zero product adds
/// nothing); else the sum of zeros, `−0` only if both are negative.
fn fma_special(
    b: &mut FunctionBuilder,
    f: Format,
    abs: [Value; 3],
    sign_p: Value,
    subtract: Value,
    z: Value,
) {
    let [ax, ay, az] = abs;
    let inf = f.infinity() as i64;
    // `m − 1` wraps for zero, so one unsigned compare sees zero, infinity and NaN factors.
    let ax1 = b.ins().iadd_imm(ax, -1);
    let ay1 = b.ins().iadd_imm(ay, -1);
    let factors = b.ins().umax(ax1, ay1);
    let factors = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, factors, inf - 1);
    let addend = b.ins().icmp_imm(IntCC::UnsignedGreaterThanOrEqual, az, inf);
    let special = b.ins().bor(factors, addend);

    let top = b.ins().umax(ax, ay);
    let bottom = b.ins().umin(ax, ay);
    let all_top = b.ins().umax(top, az);
    let has_nan = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, all_top, inf);
    let p_inf = b.ins().icmp_imm(IntCC::Equal, top, inf);
    let zero_factor = b.ins().icmp_imm(IntCC::Equal, bottom, 0);
    let signed_inf = b.ins().bor_imm(sign_p, inf);
    let c_inf = b.ins().icmp_imm(IntCC::Equal, az, inf);
    let opposite = b.ins().icmp_imm(IntCC::NotEqual, subtract, 0);
    let opposite = b.ins().band(c_inf, opposite);
    let p_nan = b.ins().bor(zero_factor, opposite);
    let p_nan = b.ins().band(p_inf, p_nan);
    let is_nan = b.ins().bor(has_nan, p_nan);
    let zeros = b.ins().band(sign_p, z);
    let c_zero = b.ins().icmp_imm(IntCC::Equal, az, 0);
    let result = b.ins().select(c_zero, zeros, z);
    let result = b.ins().select(p_inf, signed_inf, result);
    let nan = k(b, f.canonical_nan() as i64);
    let result = b.ins().select(is_nan, nan, result);
    ret_if(b, f, special, result);
}
