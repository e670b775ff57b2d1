//! Division and square root.
//!
//! Both take the common path for normal operands straight to a block that computes from
//! `(e, sig)` pairs: the biased exponent field `e` and the significand `sig` with its leading
//! one at bit `mant`, so the operand is `sig · 2^(e − bias − mant)`. Zeros, infinities and
//! NaNs branch off and return; subnormal operands are normalized into the same form (with
//! `e ≤ 0`) and join the common path.

use super::build::{k, magnitude, ret, ret_if, round_pack, wide};
use super::Format;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Block, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// `x / y`.
///
/// The quotient of the significands is computed by long division in digits of
/// `w = 63 − mant` bits (one `udiv` and one `urem` per digit): the remainder stays below the
/// divisor `< 2^(mant+1)`, so appending a digit's worth of zeros still fits in 64 bits. The
/// quotient `Q = ⌊sx · 2^K / sy⌋` gets `K ≥ mant + 3` bits below its binary point (`K` a
/// multiple of `w`); as `1/2 < sx / sy < 2`, `2^(mant+2) ≤ Q < 2^(K+1) ≤ 2^63`: the precision
/// plus at least two rounding bits, the lowest of which takes the sticky bit (a nonzero final
/// remainder).
pub(super) fn div(b: &mut FunctionBuilder, f: Format, x: Value, y: Value) {
    let x = wide(b, f, x);
    let y = wide(b, f, y);
    let xor = b.ins().bxor(x, y);
    let sign = b.ins().ushr_imm(xor, 63);
    let ax = magnitude(b, f, x);
    let ay = magnitude(b, f, y);
    let (ex, ex_less) = exponent(b, f, ax);
    let (ey, ey_less) = exponent(b, f, ay);
    // `e − 1` is at least `max_exp − 1` (unsigned) iff `e` is 0 or `max_exp`.
    let worst = b.ins().umax(ex_less, ey_less);
    let special = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, worst, f.max_exp() - 1);
    let sx = normal_significand(b, f, ax, ex_less);
    let sy = normal_significand(b, f, ay, ey_less);
    let common = common_block(b, 4);
    let rare = b.create_block();
    b.set_cold_block(rare);
    b.ins().brif(special, rare, &[], common, &[ex, sx, ey, sy]);

    b.switch_to_block(rare);
    let inf = f.infinity() as i64;
    let x_nan = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, ax, inf);
    let y_nan = b.ins().icmp_imm(IntCC::UnsignedGreaterThan, ay, inf);
    let x_inf = b.ins().icmp_imm(IntCC::Equal, ax, inf);
    let y_inf = b.ins().icmp_imm(IntCC::Equal, ay, inf);
    let x_zero = b.ins().icmp_imm(IntCC::Equal, ax, 0);
    let y_zero = b.ins().icmp_imm(IntCC::Equal, ay, 0);
    // An infinite quotient (inf / finite, nonzero / 0), a zero one (0 / nonzero,
    // finite / inf), or both at once (0 / 0, inf / inf), which is invalid, like a NaN operand.
    let huge = b.ins().bor(x_inf, y_zero);
    let tiny = b.ins().bor(x_zero, y_inf);
    let both = b.ins().band(huge, tiny);
    let nan_operand = b.ins().bor(x_nan, y_nan);
    let invalid = b.ins().bor(both, nan_operand);
    let signed_inf = b.ins().bor_imm(xor, inf);
    let signed_inf = b
        .ins()
        .band_imm(signed_inf, (f.sign_mask() | f.infinity()) as i64);
    let signed_zero = b.ins().band_imm(xor, f.sign_mask() as i64);
    let bits = b.ins().select(huge, signed_inf, signed_zero);
    let nan = k(b, f.canonical_nan() as i64);
    let bits = b.ins().select(invalid, nan, bits);
    let decided = b.ins().bor(huge, tiny);
    let decided = b.ins().bor(decided, nan_operand);
    ret_if(b, f, decided, bits);
    let (ex, sx) = normalize(b, f, ax);
    let (ey, sy) = normalize(b, f, ay);
    b.ins().jump(common, &[ex, sx, ey, sy]);

    b.switch_to_block(common);
    let params = b.block_params(common).to_vec();
    let (ex, sx, ey, sy) = (params[0], params[1], params[2], params[3]);
    let mant = i64::from(f.mant_bits());
    // `sy` has its leading one at bit `mant` already; ORing it in again shows the lowering
    // that the divisor is not zero, so the divisions below need no zero checks.
    let sy = b.ins().bor_imm(sy, 1 << mant);
    let digit = 63 - mant;
    // `K = digit · digits ≥ mant + 3`: 40 bits in one digit for f32, 55 in five for f64.
    let digits = (mant + 3 + digit - 1) / digit;
    let n = b.ins().ishl_imm(sx, digit);
    let mut q = b.ins().udiv(n, sy);
    let mut r = b.ins().urem(n, sy);
    for _ in 1..digits {
        let n = b.ins().ishl_imm(r, digit);
        let d = b.ins().udiv(n, sy);
        r = b.ins().urem(n, sy);
        let shifted = b.ins().ishl_imm(q, digit);
        q = b.ins().bor(shifted, d);
    }
    let inexact = b.ins().icmp_imm(IntCC::NotEqual, r, 0);
    let inexact = b.ins().uextend(types::I64, inexact);
    let sig = b.ins().bor(q, inexact);
    // `x / y = (sx / sy) · 2^(ex − ey) ≈ Q · 2^(ex − ey − K)`; `round_pack` counts from 62.
    let exp = b.ins().isub(ex, ey);
    let exp = b.ins().iadd_imm(exp, 62 - digit * digits);
    let bits = round_pack(b, f, sign, exp, sig);
    ret(b, f, bits);
}

/// `√x`.
///
/// With the exponent made even, `√(sig · 2^2h) = √sig · 2^h`: the significand, shifted to
/// `n ∈ [2^60, 2^62)` by an amount of the exponent's parity, has a 31-bit integer square root
/// ([`isqrt`]). That is enough for f32. For f64 it is refined to the root of `n · 2^(2j)`
/// ([`refine_root`]). The final remainder ≠ 0 is the sticky bit; a square root is never a
/// tie, and never overflows or underflows.
pub(super) fn sqrt(b: &mut FunctionBuilder, f: Format, x: Value) {
    let x = wide(b, f, x);
    // Positive normal iff `e − 1` is below `max_exp − 1` unsigned: a sign bit above the
    // exponent field makes it huge.
    let (e, e_less) = exponent(b, f, x);
    let special = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, e_less, f.max_exp() - 1);
    let sig = normal_significand(b, f, x, e_less);
    let common = common_block(b, 2);
    let rare = b.create_block();
    b.set_cold_block(rare);
    b.ins().brif(special, rare, &[], common, &[e, sig]);

    // ±0 is its own root; +inf too; NaNs and negative numbers give NaN. What is left is a
    // positive subnormal.
    b.switch_to_block(rare);
    let ax = magnitude(b, f, x);
    let is_zero = b.ins().icmp_imm(IntCC::Equal, ax, 0);
    let not_finite = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, x, f.infinity() as i64);
    let is_inf = b.ins().icmp_imm(IntCC::Equal, x, f.infinity() as i64);
    let nan = k(b, f.canonical_nan() as i64);
    let bits = b.ins().select(is_inf, x, nan);
    let bits = b.ins().select(is_zero, x, bits);
    let decided = b.ins().bor(is_zero, not_finite);
    ret_if(b, f, decided, bits);
    let (e, sig) = normalize(b, f, x);
    b.ins().jump(common, &[e, sig]);

    b.switch_to_block(common);
    let params = b.block_params(common).to_vec();
    let (e, sig) = (params[0], params[1]);
    let mant = i64::from(f.mant_bits());
    // `x = sig · 2^(e − bias − mant) = n · 2^(e − bias − 60 − odd)`, where `odd`, the parity
    // of `e − bias`, makes the exponent even.
    let parity = b.ins().iadd_imm(e, f.bias());
    let odd = b.ins().band_imm(parity, 1);
    let shift = b.ins().iadd_imm(odd, 60 - mant);
    let n = b.ins().ishl(sig, shift);
    let (root, rem) = isqrt(b, n);
    // Bits of the root below its binary point: `R ≥ 2^(mant+2)` leaves two rounding bits.
    let extra = (mant + 3 - 31).max(0);
    let (root, rem) = if extra > 0 {
        refine_root(b, n, root, rem, extra)
    } else {
        (root, rem)
    };
    let inexact = b.ins().icmp_imm(IntCC::NotEqual, rem, 0);
    let inexact = b.ins().uextend(types::I64, inexact);
    let root = b.ins().bor(root, inexact);
    // `√x ≈ R · 2^((e − bias − 60 − odd)/2 − extra)`, and the halving can round down instead
    // of subtracting `odd`; `round_pack` counts from 62.
    let exp = b.ins().iadd_imm(e, 2 * (62 - extra) - 60 - f.bias());
    let exp = b.ins().sshr_imm(exp, 1);
    let zero = k(b, 0);
    let bits = round_pack(b, f, zero, exp, root);
    ret(b, f, bits);
}

/// `a >> mant`, which is the exponent field `e` of a magnitude `a` (and more for a negative
/// `a`), and `e − 1`.
fn exponent(b: &mut FunctionBuilder, f: Format, a: Value) -> (Value, Value) {
    let e = b.ins().ushr_imm(a, i64::from(f.mant_bits()));
    let e_less = b.ins().iadd_imm(e, -1);
    (e, e_less)
}

/// The significand of the normal magnitude `a` whose exponent field less one is `e_less`:
/// the fraction with the leading one at bit `mant`, which is `a − (e − 1) · 2^mant`.
fn normal_significand(b: &mut FunctionBuilder, f: Format, a: Value, e_less: Value) -> Value {
    let field = b.ins().ishl_imm(e_less, i64::from(f.mant_bits()));
    b.ins().isub(a, field)
}

/// `(e, sig)` of the nonzero finite magnitude `a`, normal or subnormal: `a = sig · 2^(e −
/// bias − mant)` with the leading one of `sig` at bit `mant` (so `e ≤ 0` for a subnormal).
fn normalize(b: &mut FunctionBuilder, f: Format, a: Value) -> (Value, Value) {
    // A subnormal is the fraction times the least normal's scale, as if its field were 1.
    let e = b.ins().ushr_imm(a, i64::from(f.mant_bits()));
    let one = k(b, 1);
    let e = b.ins().umax(e, one);
    let e_less = b.ins().iadd_imm(e, -1);
    let sig = normal_significand(b, f, a, e_less);
    let zeros = b.ins().clz(sig);
    let shift = b.ins().iadd_imm(zeros, i64::from(f.mant_bits()) - 63);
    let sig = b.ins().ishl(sig, shift);
    let e = b.ins().isub(e, shift);
    (e, sig)
}

/// A block with `count` `i64` parameters, where the fast and the normalizing paths meet.
fn common_block(b: &mut FunctionBuilder, count: usize) -> Block {
    let block = b.create_block();
    for _ in 0..count {
        b.append_block_param(block, types::I64);
    }
    block
}

/// `(⌊√n⌋, n − ⌊√n⌋²)` for `n ∈ [2^60, 2^62)`.
///
/// Newton's iteration `y ← ⌊(y + ⌊n/y⌋) / 2⌋` from the line `y₀ = 2^30 · (3t/8 + 19/32)`,
/// `t = n / 2^60`, which is within 6% of `√n`: the relative error then goes 6% → 2·10⁻³ →
/// 2·10⁻⁶ → 10⁻¹² (it about squares each step), so three steps get within 0.01 of `√n`.
/// After a step `y ≥ ⌊√n⌋` (the arithmetic-geometric mean inequality), so `y` is `⌊√n⌋` or
/// one more, which the check `y² > n` corrects.
fn isqrt(b: &mut FunctionBuilder, n: Value) -> (Value, Value) {
    let quarter = b.ins().ushr_imm(n, 32);
    let eighth = b.ins().ushr_imm(n, 33);
    let y = b.ins().iadd(quarter, eighth);
    let mut y = b.ins().iadd_imm(y, 19 << 25);
    for _ in 0..3 {
        let q = b.ins().udiv(n, y);
        let sum = b.ins().iadd(y, q);
        y = b.ins().ushr_imm(sum, 1);
    }
    let square = b.ins().imul(y, y);
    let over = b.ins().icmp(IntCC::UnsignedGreaterThan, square, n);
    let over = b.ins().uextend(types::I64, over);
    let y = b.ins().isub(y, over);
    let square = b.ins().imul(y, y);
    let rem = b.ins().isub(n, square);
    (y, rem)
}

/// `(R, rem)` with `R = ⌊√(n · 2^(2j))⌋` and `rem ≠ 0` iff `R² ≠ n · 2^(2j)`, given `y = ⌊√n⌋`
/// and `r = n − y²` (so `r ≤ 2y`), for `n ∈ [2^60, 2^62)` and `j ≤ 29`.
///
/// By the tangent at `y²`, `√(y² + r) ≤ y + r/(2y)` and falls short of it by less than
/// `r²/(8y³) ≤ 1/(2y)`; scaled by `2^j` that error is below `2^(j−31)`, so
/// `R' = y · 2^j + ⌊r · 2^j / (2y)⌋` is `R` or `R + 1` (and `R` for an exact square), and
/// `R' = R + 1` exactly when the remainder `n · 2^(2j) − R'²` is negative. That remainder is
/// small (`|rem| ≤ 2R + 1`), so wrapping 64-bit arithmetic computes it exactly. It is nonzero
/// both when negative and when `R` is inexact, and zero for an exact square.
fn refine_root(b: &mut FunctionBuilder, n: Value, y: Value, r: Value, j: i64) -> (Value, Value) {
    let scaled = b.ins().ishl_imm(r, j - 1);
    let step = b.ins().udiv(scaled, y);
    let root = b.ins().ishl_imm(y, j);
    let root = b.ins().iadd(root, step);
    let wide_n = b.ins().ishl_imm(n, 2 * j);
    let square = b.ins().imul(root, root);
    let rem = b.ins().isub(wide_n, square);
    let negative = b.ins().ushr_imm(rem, 63);
    let root = b.ins().isub(root, negative);
    (root, rem)
}
