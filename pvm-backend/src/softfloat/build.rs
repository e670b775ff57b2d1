//! Building the routines' CLIF: the entry point per routine and the pieces every family
//! shares (operands in 64-bit registers, rounding and packing a result).
//!
//! Conventions of the builders (`arith`, `divsqrt`, `convert`, `exact`): values are `i64`
//! throughout, an `f32` operand sign-extended ([`wide`]); a family builder starts in the
//! entry block with the routine's parameters and ends every path with [`ret`], which narrows
//! an `f32` result back to `i32`.

use super::{Format, Routine};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Function, InstBuilder, UserFuncName, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::{arith, convert, divsqrt, exact};

/// The CLIF function of `routine`, named `name`.
pub(super) fn function(routine: Routine, name: UserFuncName) -> Function {
    let mut func = Function::with_name_signature(name, routine.signature());
    let mut context = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut context);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    match routine {
        Routine::Add(f) => arith::add(&mut b, f, params[0], params[1]),
        Routine::Mul(f) => arith::mul(&mut b, f, params[0], params[1]),
        Routine::Fma(f) => arith::fma(&mut b, f, params[0], params[1], params[2]),
        Routine::Div(f) => divsqrt::div(&mut b, f, params[0], params[1]),
        Routine::Sqrt(f) => divsqrt::sqrt(&mut b, f, params[0]),
        Routine::Promote => convert::promote(&mut b, params[0]),
        Routine::Demote => convert::demote(&mut b, params[0]),
        Routine::FromInt { to, signed } => convert::from_int(&mut b, to, signed, params[0]),
        Routine::Min(f) => exact::min_max(&mut b, f, false, params[0], params[1]),
        Routine::Max(f) => exact::min_max(&mut b, f, true, params[0], params[1]),
        Routine::Compare(f) => exact::compare(&mut b, f, params[0], params[1]),
        Routine::Round(f, mode) => exact::round(&mut b, f, mode, params[0]),
        Routine::ToInt {
            from,
            bits,
            signed,
            saturate,
        } => exact::to_int(&mut b, from, bits, signed, saturate, params[0]),
    }
    b.seal_all_blocks();
    b.finalize();
    func
}

/// The `i64` constant `value`.
pub(crate) fn k(b: &mut FunctionBuilder, value: i64) -> Value {
    b.ins().iconst(types::I64, value)
}

/// The operand `x` (an `i32` for `f32`, an `i64` for `f64`) as an `i64`, sign-extended,
/// which costs nothing: the backend keeps an `i32` sign-extended. So the bits above an
/// `f32`'s 32 are copies of its sign: use its magnitude (masked) or its sign (bit 31 or 63).
pub(crate) fn wide(b: &mut FunctionBuilder, f: Format, x: Value) -> Value {
    match f {
        Format::F32 => b.ins().sextend(types::I64, x),
        Format::F64 => x,
    }
}

/// The magnitude bits of `x` (of format `f`, as an `i64` or its own width): `|x|` as an
/// unsigned integer, which orders like the absolute values (above [`Format::infinity`]
/// exactly for NaNs).
pub(crate) fn magnitude(b: &mut FunctionBuilder, f: Format, x: Value) -> Value {
    b.ins().band_imm(x, (f.sign_mask() - 1) as i64)
}

/// Returns `bits` (an `i64` holding a result of format `f` in its low bits) from the routine.
pub(crate) fn ret(b: &mut FunctionBuilder, f: Format, bits: Value) {
    let result = match f {
        Format::F32 => b.ins().ireduce(types::I32, bits),
        Format::F64 => bits,
    };
    b.ins().return_(&[result]);
}

/// Returns `bits` from the routine if `cond` (an `i8`) is set, and goes on building in a new
/// block otherwise. The returning block is a rare case: it is marked cold (`unlikely` on
/// jam-v1, see `Options::unlikely`).
pub(crate) fn ret_if(b: &mut FunctionBuilder, f: Format, cond: Value, bits: Value) {
    let taken = b.create_block();
    b.set_cold_block(taken);
    let rest = b.create_block();
    b.ins().brif(cond, taken, &[], rest, &[]);
    b.switch_to_block(taken);
    ret(b, f, bits);
    b.switch_to_block(rest);
}

/// `x >> n` (unsigned, `n ≥ 0` an `i64`, any size) with every bit shifted out ORed into bit 0
/// (the sticky bit), so rounding still sees that the value was inexact. `x` is an `i64` or an
/// `i128` whose top bit is clear: shifting by its width minus one or more then leaves only
/// the sticky bit.
pub(crate) fn shift_right_sticky(b: &mut FunctionBuilder, x: Value, n: Value) -> Value {
    let ty = b.func.dfg.value_type(x);
    let max = k(b, i64::from(ty.bits()) - 1);
    let n = b.ins().umin(n, max);
    // A bit is lost exactly when the lowest set bit of `x` is below `n` (never for `x = 0`,
    // whose count is the width).
    let zeros = b.ins().ctz(x);
    let zeros = if ty == types::I64 {
        zeros
    } else {
        b.ins().ireduce(types::I64, zeros)
    };
    let sticky = b.ins().icmp(IntCC::UnsignedLessThan, zeros, n);
    let sticky = b.ins().uextend(ty, sticky);
    let kept = b.ins().ushr(x, n);
    b.ins().bor(kept, sticky)
}

/// The bits (in an `i64`) of the number `(−1)^sign · sig · 2^(exp − 62)` of format `f`,
/// rounded to nearest, ties to even: normal, subnormal, zero (when it rounds to nothing) or
/// infinity (overflow).
///
/// `sign` is 0 or 1; `exp` is a signed `i64`; `sig` must be in `(0, 2^63)`: bits below the
/// format's precision are rounding bits, and a caller that dropped nonzero bits must have
/// ORed them into bit 0 (sticky). `sig` need not be normalized: the leading one is moved to
/// bit 62 here.
///
/// A normal result takes one compare and branch past the rare cases; building goes on in the
/// block where both paths meet.
pub(crate) fn round_pack(
    b: &mut FunctionBuilder,
    f: Format,
    sign: Value,
    exp: Value,
    sig: Value,
) -> Value {
    // Normalize: the leading one to bit 62.
    let zeros = b.ins().clz(sig);
    let shift = b.ins().iadd_imm(zeros, -1);
    let sig = b.ins().ishl(sig, shift);
    let exp = b.ins().isub(exp, shift);
    // `e − 1` for the biased exponent `e` of the leading bit: the packing below adds the
    // leading one to it. The result is normal iff `1 ≤ e < max_exp`, one unsigned compare.
    let e_less = b.ins().iadd_imm(exp, f.bias() - 1);
    let rare_case = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThanOrEqual, e_less, f.max_exp() - 1);
    let round = b.create_block();
    let sig_param = b.append_block_param(round, types::I64);
    let e_less_param = b.append_block_param(round, types::I64);
    let rare = b.create_block();
    b.set_cold_block(rare);
    b.ins().brif(rare_case, rare, &[], round, &[sig, e_less]);

    // Overflow (`e ≥ max_exp`): the significand 2^62 with `e − 1 = max_exp − 1` packs to
    // infinity and does not round. Below the normal range (`e ≤ 0`): shift right to the
    // minimum exponent (1, so `e − 1 = 0`), keeping the sticky bit, and let the packing see a
    // significand without its leading one (a subnormal's zero exponent field).
    b.switch_to_block(rare);
    let overflow = b.ins().icmp_imm(IntCC::SignedGreaterThan, e_less, 0);
    let dist = b.ins().ineg(e_less);
    let tiny_sig = shift_right_sticky(b, sig, dist);
    let inf_sig = k(b, 1 << 62);
    let sig = b.ins().select(overflow, inf_sig, tiny_sig);
    let max_e_less = k(b, f.max_exp() - 1);
    let zero = k(b, 0);
    let e_less = b.ins().select(overflow, max_e_less, zero);
    b.ins().jump(round, &[sig, e_less]);

    // Round: `drop` bits go; up when above half, or at half with an odd kept part.
    b.switch_to_block(round);
    let (sig, e_less) = (sig_param, e_less_param);
    let drop = 62 - i64::from(f.mant_bits());
    let q = b.ins().ushr_imm(sig, drop);
    let rem = b.ins().band_imm(sig, (1 << drop) - 1);
    let odd = b.ins().band_imm(q, 1);
    let rem = b.ins().iadd(rem, odd);
    let up = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThan, rem, 1 << (drop - 1));
    let up = b.ins().uextend(types::I64, up);
    let q = b.ins().iadd(q, up);
    // Pack by adding: the leading one of `q` (bit `mant_bits`) lands in the exponent field,
    // so a subnormal whose rounding carries becomes the least normal, and a carry out of the
    // largest significand becomes infinity.
    let field = b.ins().ishl_imm(e_less, i64::from(f.mant_bits()));
    let magnitude = b.ins().iadd(field, q);
    let sign = b.ins().ishl_imm(sign, i64::from(f.bits() - 1));
    b.ins().bor(magnitude, sign)
}
