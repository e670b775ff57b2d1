//! Conversions between the formats and from integers.

use super::build::{k, magnitude, ret, ret_if, round_pack, wide};
use super::Format;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// f32 → f64, exact.
///
/// A normal f32 only needs its exponent rebiased and its fraction widened, which is one
/// shift and one add of the magnitude; zeros, subnormals, infinities and NaNs branch off.
pub(super) fn promote(b: &mut FunctionBuilder, x: Value) {
    let (from, to) = (Format::F32, Format::F64);
    let fraction_shift = i64::from(to.mant_bits() - from.mant_bits());
    let x = wide(b, from, x);
    let abs = magnitude(b, from, x);
    let sign = b.ins().band_imm(x, to.sign_mask() as i64);
    // Normal iff the exponent field is in 1..max_exp, i.e. `abs − 2^mant` is below
    // `(max_exp − 1) · 2^mant` unsigned.
    let least_normal = 1 << from.mant_bits();
    let above = b.ins().iadd_imm(abs, -least_normal);
    let limit = from.infinity() as i64 - least_normal;
    let special = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, above, limit);
    let normal = b.create_block();
    let rare = b.create_block();
    b.set_cold_block(rare);
    b.ins().brif(special, rare, &[], normal, &[]);

    // Shifting the magnitude aligns both fields at once: the exponent field lands on the
    // f64 one, and adding the difference of the biases rebiases it.
    b.switch_to_block(normal);
    let magnitude = b.ins().ishl_imm(abs, fraction_shift);
    let magnitude = b
        .ins()
        .iadd_imm(magnitude, (to.bias() - from.bias()) << to.mant_bits());
    let bits = b.ins().bor(magnitude, sign);
    ret(b, to, bits);

    b.switch_to_block(rare);
    // A subnormal `abs · 2^(1 − bias − mant)` has its leading one at bit `p = 63 − zeros`,
    // worth `2^(p + 1 − bias − mant)`, which gives the f64 exponent field. Moved to bit `mant`
    // of the f64, that leading one adds one to the field, so the field goes in less one.
    let zeros = b.ins().clz(abs);
    let shift = b.ins().iadd_imm(zeros, i64::from(to.mant_bits()) - 63);
    let fraction = b.ins().ishl(abs, shift);
    let field_at_bit_0 = 1 - from.bias() - i64::from(from.mant_bits()) + to.bias();
    let field_less_at_bit_63 = k(b, field_at_bit_0 + 63 - 1);
    let field = b.ins().isub(field_less_at_bit_63, zeros);
    let field = b.ins().ishl_imm(field, i64::from(to.mant_bits()));
    let subnormal = b.ins().iadd(field, fraction);
    let is_zero = b.ins().icmp_imm(IntCC::Equal, abs, 0);
    let zero = k(b, 0);
    let finite = b.ins().select(is_zero, zero, subnormal);
    let is_inf = b.ins().icmp_imm(IntCC::Equal, abs, from.infinity() as i64);
    let inf = k(b, to.infinity() as i64);
    let magnitude = b.ins().select(is_inf, inf, finite);
    let bits = b.ins().bor(magnitude, sign);
    let is_nan = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThan, abs, from.infinity() as i64);
    let payload = b.ins().band_imm(abs, (1 << from.mant_bits()) - 1);
    let payload = b.ins().ishl_imm(payload, fraction_shift);
    let nan = quiet_nan(b, to, sign, payload);
    let bits = b.ins().select(is_nan, nan, bits);
    ret(b, to, bits);
}

/// The quiet NaN of format `f` with `sign` (in place) and fraction `payload`: a converted
/// NaN keeps its sign and the top of its payload, quieted, as the NaN rule says (the module
/// docs of `softfloat`).
fn quiet_nan(b: &mut FunctionBuilder, f: Format, sign: Value, payload: Value) -> Value {
    let nan = b.ins().bor_imm(payload, f.canonical_nan() as i64);
    b.ins().bor(nan, sign)
}

/// f64 → f32, rounded.
///
/// The f64 significand (53 bits) goes to [`round_pack`] as is, which rounds it to 24 bits or
/// to an f32 subnormal, or overflows to infinity. f64 zeros and subnormals are all far below
/// half the least f32 subnormal and give a signed zero; infinities and NaNs branch off too.
pub(super) fn demote(b: &mut FunctionBuilder, x: Value) {
    let (from, to) = (Format::F64, Format::F32);
    let sign = b.ins().ushr_imm(x, i64::from(from.bits() - 1));
    let abs = magnitude(b, from, x);
    let e = b.ins().ushr_imm(abs, i64::from(from.mant_bits()));
    // `e − 1` is below `max_exp − 1` unsigned iff `e` is neither 0 nor `max_exp`.
    let e_less = b.ins().iadd_imm(e, -1);
    let special = b.ins().icmp_imm(
        IntCC::UnsignedGreaterThanOrEqual,
        e_less,
        from.max_exp() - 1,
    );
    let normal = b.create_block();
    let rare = b.create_block();
    b.set_cold_block(rare);
    b.ins().brif(special, rare, &[], normal, &[]);

    // A normal's significand with its leading one: subtracting `(e − 1) · 2^mant` from the
    // magnitude leaves the fraction plus `2^mant`. Its value is `sig · 2^(e − bias − mant)`,
    // and `round_pack` wants it as `sig · 2^(exp − 62)`.
    b.switch_to_block(normal);
    let field = b.ins().ishl_imm(e_less, i64::from(from.mant_bits()));
    let sig = b.ins().isub(abs, field);
    let exp = b
        .ins()
        .iadd_imm(e, 62 - from.bias() - i64::from(from.mant_bits()));
    let bits = round_pack(b, to, sign, exp, sig);
    ret(b, to, bits);

    b.switch_to_block(rare);
    let is_tiny = b.ins().icmp_imm(IntCC::Equal, e, 0);
    let zero = k(b, 0);
    let inf = k(b, to.infinity() as i64);
    let magnitude = b.ins().select(is_tiny, zero, inf);
    let sign = b.ins().ishl_imm(sign, i64::from(to.bits() - 1));
    let bits = b.ins().bor(magnitude, sign);
    let is_nan = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThan, abs, from.infinity() as i64);
    let payload = b
        .ins()
        .ushr_imm(abs, i64::from(from.mant_bits() - to.mant_bits()));
    let payload = b.ins().band_imm(payload, (1 << to.mant_bits()) - 1);
    let nan = quiet_nan(b, to, sign, payload);
    let bits = b.ins().select(is_nan, nan, bits);
    ret(b, to, bits);
}

/// i64 (`signed`) or u64 → float, rounded.
///
/// The magnitude is the significand of `mag · 2^0`, but [`round_pack`] needs it below `2^63`.
/// A u64 with bit 63 set is halved, and the bit shifted out joins the sticky bit 0, which
/// is sound because the result keeps at most 53 of the 64 bits. The one signed magnitude
/// that large, `2^63` of `i64::MIN`, is clamped to `2^63 − 1`: 63 ones round up to `2^63`
/// in both formats.
pub(super) fn from_int(b: &mut FunctionBuilder, to: Format, signed: bool, x: Value) {
    let is_zero = b.ins().icmp_imm(IntCC::Equal, x, 0);
    let zero = k(b, 0);
    ret_if(b, to, is_zero, zero);
    let (sign, exp, sig) = if signed {
        let sign = b.ins().ushr_imm(x, 63);
        // `|x|` as `(x ^ m) − m` with `m` all ones for a negative `x`.
        let m = b.ins().sshr_imm(x, 63);
        let flipped = b.ins().bxor(x, m);
        let mag = b.ins().isub(flipped, m);
        let max = k(b, i64::MAX);
        (sign, k(b, 62), b.ins().umin(mag, max))
    } else {
        let high = b.ins().ushr_imm(x, 63);
        let halved = b.ins().ushr(x, high);
        let lost = b.ins().band(x, high);
        let sig = b.ins().bor(halved, lost);
        (k(b, 0), b.ins().iadd_imm(high, 62), sig)
    };
    let bits = round_pack(b, to, sign, exp, sig);
    ret(b, to, bits);
}
