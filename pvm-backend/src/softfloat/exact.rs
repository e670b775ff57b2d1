//! Operations whose results need no rounding: min, max, compare, rounding to integral and
//! conversions to integers.
//!
//! Unlike the other families these compute in the format's own integer type (`i32` for
//! `f32`) rather than in `i64`, and return without [`super::build::ret`]: their results are
//! operand bits moved, masked or incremented, never repacked, so `i32` operations (which the
//! backend computes sign-extended, ready to return) do it all, where an `i64` computation
//! would need a final `ireduce`, which the mid-end moves onto the operands, one instruction
//! each. Signed integer order is then the order of the bit patterns as signed integers of
//! the format's width. Only the conversions to integers widen, for a 64-bit significand.
//!
//! The magnitude is often taken as `x << 1`, which drops the sign without the mask constant
//! that `f64` would need (a 64-bit `load_imm64`); constants compared with it are doubled.

use super::build::{magnitude, wide};
use super::{Format, RoundMode, CMP_GT, CMP_UNORDERED};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, TrapCode, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// The constant of integer type `ty` whose bits are the low bits of `bits`.
fn constant(b: &mut FunctionBuilder, ty: Type, bits: u64) -> Value {
    b.ins()
        .iconst(ty, (bits & ty.bounds(false).1 as u64) as i64)
}

/// The constant `bits` of the format's integer type.
fn konst(b: &mut FunctionBuilder, f: Format, bits: u64) -> Value {
    constant(b, f.int_type(), bits)
}

/// Returns `value` (of the routine's result type) if `cond` is set, and goes on building in
/// a new block otherwise: [`super::build::ret_if`] without the narrowing (also cold).
fn return_if(b: &mut FunctionBuilder, cond: Value, value: Value) {
    let taken = b.create_block();
    b.set_cold_block(taken);
    let rest = b.create_block();
    b.ins().brif(cond, taken, &[], rest, &[]);
    b.switch_to_block(taken);
    b.ins().return_(&[value]);
    b.switch_to_block(rest);
}

/// Whether `x` or `y` is a NaN, given their magnitudes (see [`magnitude`]) shifted left by
/// `shift`: the larger one is above infinity's.
fn either_nan(b: &mut FunctionBuilder, f: Format, shift: u32, mag_x: Value, mag_y: Value) -> Value {
    let larger = b.ins().umax(mag_x, mag_y);
    let infinity = konst(b, f, f.infinity() << shift);
    b.ins().icmp(IntCC::UnsignedGreaterThan, larger, infinity)
}

/// All ones if `x` is negative, else 0.
fn sign_fill(b: &mut FunctionBuilder, f: Format, x: Value) -> Value {
    b.ins().sshr_imm(x, i64::from(f.bits() - 1))
}

/// `x` (magnitude `mag`) as the two's-complement integer `±|x|`, which orders like the
/// numbers, with both zeros 0: `(mag ^ m) - m` negates `mag` when the sign fill `m` is all
/// ones.
fn ordered(b: &mut FunctionBuilder, f: Format, x: Value, mag: Value) -> Value {
    let m = sign_fill(b, f, x);
    let flipped = b.ins().bxor(mag, m);
    b.ins().isub(flipped, m)
}

/// wasm's `min` (`max` when `max`): the canonical NaN if either operand is a NaN.
///
/// Otherwise the bit patterns, as signed integers, order like the numbers (`-0 < +0`
/// included) except when both are negative: then the larger magnitude is the smaller
/// number and the integer order is reversed, so the integer maximum is the float minimum.
pub(super) fn min_max(b: &mut FunctionBuilder, f: Format, max: bool, x: Value, y: Value) {
    let (twice_x, twice_y) = (b.ins().ishl_imm(x, 1), b.ins().ishl_imm(y, 1));
    let nan = either_nan(b, f, 1, twice_x, twice_y);
    let canonical = konst(b, f, f.canonical_nan());
    return_if(b, nan, canonical);
    let lower = b.ins().smin(x, y);
    let upper = b.ins().smax(x, y);
    let (ordered, reversed) = if max { (upper, lower) } else { (lower, upper) };
    let both = b.ins().band(x, y);
    let both_negative = b.ins().icmp_imm(IntCC::SignedLessThan, both, 0);
    let result = b.ins().select(both_negative, reversed, ordered);
    b.ins().return_(&[result]);
}

/// The compare code of `x` against `y`: from the two's-complement images ([`ordered`]),
/// [`CMP_GT`] when greater, else the "less than" bit, which is [`super::CMP_LT`] or
/// [`super::CMP_EQ`]; then [`CMP_UNORDERED`] instead if either is a NaN. No branch: it
/// would save only the final conditional move, and the mid-end recomputes the magnitudes
/// (masks with a constant) in every block that uses them.
pub(super) fn compare(b: &mut FunctionBuilder, f: Format, x: Value, y: Value) {
    let (mag_x, mag_y) = (magnitude(b, f, x), magnitude(b, f, y));
    let (ord_x, ord_y) = (ordered(b, f, x, mag_x), ordered(b, f, y, mag_y));
    let less = b.ins().icmp(IntCC::SignedLessThan, ord_x, ord_y);
    let greater = b.ins().icmp(IntCC::SignedGreaterThan, ord_x, ord_y);
    let gt = b.ins().iconst(types::I8, CMP_GT);
    let code = b.ins().select(greater, gt, less);
    let nan = either_nan(b, f, 0, mag_x, mag_y);
    let unordered = b.ins().iconst(types::I8, CMP_UNORDERED);
    let code = b.ins().select(nan, unordered, code);
    b.ins().return_(&[code]);
}

/// Rounding to an integral value in the same format, by `mode`.
///
/// By the unbiased exponent `t` of `x`: for `0 ≤ t < mant_bits` (the common case) the bits
/// below the integral part's last are cleared after a rounding addend ([`round_fraction`]);
/// `|x| < 1` rounds to `±0` or `±1` ([`round_below_one`]); larger values (`t ≥ mant_bits`),
/// infinities and NaNs are already integral: `x` itself, or the canonical NaN.
pub(super) fn round(b: &mut FunctionBuilder, f: Format, mode: RoundMode, x: Value) {
    // The biased exponent, from the magnitude shifted left by one.
    let no_sign = b.ins().ishl_imm(x, 1);
    let e = b.ins().ushr_imm(no_sign, i64::from(f.mant_bits() + 1));
    let t = b.ins().iadd_imm(e, -f.bias());
    let fraction = b.create_block();
    let outside = b.create_block();
    let large = b.create_block();
    let below_one = b.create_block();
    // One unsigned compare: a negative `t` wraps to a huge value.
    let has_fraction = b
        .ins()
        .icmp_imm(IntCC::UnsignedLessThan, t, i64::from(f.mant_bits()));
    b.ins().brif(has_fraction, fraction, &[], outside, &[]);

    b.switch_to_block(fraction);
    let result = round_fraction(b, f, mode, x, t);
    b.ins().return_(&[result]);

    b.switch_to_block(outside);
    let at_least_one = b.ins().icmp_imm(IntCC::SignedGreaterThanOrEqual, t, 0);
    b.ins().brif(at_least_one, large, &[], below_one, &[]);

    b.switch_to_block(large);
    let infinity = konst(b, f, f.infinity() << 1);
    let nan = b.ins().icmp(IntCC::UnsignedGreaterThan, no_sign, infinity);
    let canonical = konst(b, f, f.canonical_nan());
    return_if(b, nan, canonical);
    b.ins().return_(&[x]);

    b.switch_to_block(below_one);
    let result = round_below_one(b, f, mode, x, no_sign);
    b.ins().return_(&[result]);
}

/// `x` rounded by `mode` when its unbiased exponent `t` is in `[0, mant_bits)`: the lowest
/// `n = mant_bits - t ≥ 1` bits are the fraction, below the integral part's last bit of
/// weight `unit = 2^n` in the bit pattern; `integral = -1 << n` masks the other bits.
///
/// Every mode adds an addend below `unit` to the bits and clears the fraction: a carry out
/// of the fraction increments the integral part, and one out of the significand moves into
/// the exponent, which is then exactly the next power of two. The magnitude stays below
/// `2^mant_bits`, so nothing reaches the sign. Addends: none (trunc); `unit - 1` when the
/// direction is away from zero (ceil of a positive, floor of a negative), which rounds up
/// any nonzero fraction; for nearest, half a unit minus one plus the integral part's last
/// bit, which rounds up above half, and at half exactly when that bit is odd. (For `t = 0`
/// that bit is the exponent field's lowest, 1 like the integral part 1: the bias is odd.)
fn round_fraction(
    b: &mut FunctionBuilder,
    f: Format,
    mode: RoundMode,
    x: Value,
    t: Value,
) -> Value {
    let mant = konst(b, f, u64::from(f.mant_bits()));
    let n = b.ins().isub(mant, t);
    let ones = konst(b, f, u64::MAX);
    let integral = b.ins().ishl(ones, n);
    let addend = match mode {
        RoundMode::Trunc => None,
        // `unit - 1` unless negative: not (integral bits or sign fill).
        RoundMode::Ceil => {
            let m = sign_fill(b, f, x);
            let kept = b.ins().bor(integral, m);
            Some(b.ins().bnot(kept))
        }
        // `unit - 1` if negative: the sign fill without the integral bits.
        RoundMode::Floor => {
            let m = sign_fill(b, f, x);
            Some(b.ins().band_not(m, integral))
        }
        RoundMode::Nearest => {
            let fraction = b.ins().bnot(integral);
            let below_half = b.ins().ushr_imm(fraction, 1);
            let shifted = b.ins().ushr(x, n);
            let odd = b.ins().band_imm(shifted, 1);
            Some(b.ins().iadd(below_half, odd))
        }
    };
    let x = match addend {
        Some(addend) => b.ins().iadd(x, addend),
        None => x,
    };
    b.ins().band(x, integral)
}

/// `x` rounded by `mode` when `|x| < 1` (zeros and subnormals included): `±1` or the zero
/// of `x`'s sign. `no_sign` is `x << 1`. The tests use it and the zero rather than `x`, so
/// `x` dies where the result is defined: otherwise the register allocator moves `x` out of
/// the result register, and does so on the common path too.
fn round_below_one(
    b: &mut FunctionBuilder,
    f: Format,
    mode: RoundMode,
    x: Value,
    no_sign: Value,
) -> Value {
    let zero = b.ins().band_imm(x, f.sign_mask() as i64);
    let one = (f.bias() as u64) << f.mant_bits();
    let (away, up) = match mode {
        RoundMode::Trunc => return zero,
        // Up to 1 when positive and not zero: the magnitude is then above the zero, 0 (and
        // never above a negative's, `-0`, unsigned).
        RoundMode::Ceil => {
            let up = b.ins().icmp(IntCC::UnsignedGreaterThan, no_sign, zero);
            (konst(b, f, one), up)
        }
        // Down to -1 when negative and not zero: the zero is `-0` and the magnitude adds to
        // it (`no_sign` is below `2.0`, clear of the sign bit).
        RoundMode::Floor => {
            let both = b.ins().bor(zero, no_sign);
            let negative_zero = konst(b, f, f.sign_mask());
            let down = b
                .ins()
                .icmp(IntCC::UnsignedGreaterThan, both, negative_zero);
            (konst(b, f, f.sign_mask() | one), down)
        }
        // Away from zero above one half (one half itself goes to the even 0).
        RoundMode::Nearest => {
            let half = konst(b, f, (f.bias() as u64 - 1) << (f.mant_bits() + 1));
            let up = b.ins().icmp(IntCC::UnsignedGreaterThan, no_sign, half);
            (b.ins().bor_imm(zero, one as i64), up)
        }
    };
    b.ins().select(up, away, zero)
}

/// The bits of the least number of format `f` that is at least the integer `value`.
fn at_least(f: Format, value: u128) -> u64 {
    // `as` rounds to nearest: one step up when that went below.
    let (bits, below) = match f {
        Format::F32 => {
            let v = value as f32;
            (u64::from(v.to_bits()), (v as u128) < value)
        }
        Format::F64 => {
            let v = value as f64;
            (v.to_bits(), (v as u128) < value)
        }
    };
    bits + u64::from(below)
}

/// float → integer of `bits` (32 or 64) bits, `signed` or not, truncated toward zero;
/// out-of-range values and NaNs trap, or when `saturate` give the nearest bound and 0.
///
/// The common case, a number that converts to a nonzero integer, is told apart with one
/// unsigned compare ([`converts_to_nonzero`]). Its significand, leading one at bit 63, then
/// shifts right by `63 - t`: the unbiased exponent `t` is in `[0, 63]` there. Everything
/// else ([`to_int_outside`]) is rare: `|x| < 1` gives 0.
pub(super) fn to_int(
    b: &mut FunctionBuilder,
    f: Format,
    bits: u8,
    signed: bool,
    saturate: bool,
    x: Value,
) {
    let m = sign_fill(b, f, x);
    let in_range = converts_to_nonzero(b, f, bits, signed, x, m);
    let convert = b.create_block();
    let outside = b.create_block();
    b.set_cold_block(outside);
    b.ins().brif(in_range, convert, &[], outside, &[]);

    b.switch_to_block(convert);
    let x64 = wide(b, f, x);
    let with_one = b.ins().bor_imm(x64, 1 << f.mant_bits());
    let significand = b.ins().ishl_imm(with_one, i64::from(63 - f.mant_bits()));
    // `63 - t` is `bias + 63 - e` for the biased exponent `e`, and only matters modulo 64
    // (a shift amount is): bits from the sign or the exponent above its lowest six add
    // multiples of 64, so `x >> mant_bits` serves as `e` without masking the sign off.
    let e = b.ins().ushr_imm(x, i64::from(f.mant_bits()));
    let top = konst(b, f, (f.bias() + 63) as u64);
    let shift = b.ins().isub(top, e);
    let magnitude = b.ins().ushr(significand, shift);
    let result = if signed {
        let negated = b.ins().ineg(magnitude);
        b.ins().select(m, negated, magnitude)
    } else {
        magnitude
    };
    let result = if bits == 32 {
        b.ins().ireduce(types::I32, result)
    } else {
        result
    };
    b.ins().return_(&[result]);

    b.switch_to_block(outside);
    to_int_outside(b, f, bits, signed, saturate, x, m);
}

/// Whether `x` (sign fill `m`) truncates to a nonzero integer of `bits` bits, `signed` or
/// not: whether its magnitude is in `[1, limit)`, with `limit` the least magnitude that
/// truncates out of range for the sign. Unsigned: `2^bits` for a positive `x`; a negative
/// one never qualifies, and since its sign bit makes its bits, unsigned, larger than every
/// positive number's, `x - 1.0 < limit - 1.0` (unsigned) is the whole test. Signed:
/// `2^(bits-1)` when positive, the least number reaching `2^(bits-1) + 1` when negative
/// (`-2^(bits-1) - 0.9` truncates to `-2^(bits-1)`), comparing `x << 1`. NaNs are above
/// every limit.
fn converts_to_nonzero(
    b: &mut FunctionBuilder,
    f: Format,
    bits: u8,
    signed: bool,
    x: Value,
    m: Value,
) -> Value {
    let width = u32::from(bits);
    let one = (f.bias() as u64) << f.mant_bits();
    let (key, one, span) = if signed {
        let half = 1u128 << (width - 1);
        let twice = b.ins().ishl_imm(x, 1);
        let positive = konst(b, f, (at_least(f, half) - one) << 1);
        let negative = konst(b, f, (at_least(f, half + 1) - one) << 1);
        (twice, one << 1, b.ins().select(m, negative, positive))
    } else {
        let span = konst(b, f, at_least(f, 1u128 << width) - one);
        (x, one, span)
    };
    let above_one = b.ins().iadd_imm(key, -(one as i64));
    b.ins().icmp(IntCC::UnsignedLessThan, above_one, span)
}

/// The conversion of a number `x` (sign fill `m`) outside the nonzero range of [`to_int`]:
/// 0 when `|x| < 1`; otherwise a trap, or when `saturate` 0 for a NaN and the bound on
/// `x`'s side. (A PVM trap carries no code, so NaNs and overflows share one.)
fn to_int_outside(
    b: &mut FunctionBuilder,
    f: Format,
    bits: u8,
    signed: bool,
    saturate: bool,
    x: Value,
    m: Value,
) {
    // For a signed conversion the value [`converts_to_nonzero`] computed: `x` itself is
    // then not live here, which spares the register allocator a copy on the common path.
    let twice = b.ins().ishl_imm(x, 1);
    let ty = if bits == 32 { types::I32 } else { types::I64 };
    let one = konst(b, f, (f.bias() as u64) << (f.mant_bits() + 1));
    let below_one = b.ins().icmp(IntCC::UnsignedLessThan, twice, one);
    let zero = constant(b, ty, 0);
    if !saturate {
        return_if(b, below_one, zero);
        b.ins().trap(TrapCode::BadConversionToInteger);
        return;
    }
    let (min, max) = ty.bounds(signed);
    let min = constant(b, ty, min as u64);
    let max = constant(b, ty, max as u64);
    let bound = b.ins().select(m, min, max);
    let infinity = konst(b, f, f.infinity() << 1);
    let nan = b.ins().icmp(IntCC::UnsignedGreaterThan, twice, infinity);
    let bound = b.ins().select(nan, zero, bound);
    let result = b.ins().select(below_one, zero, bound);
    b.ins().return_(&[result]);
}
