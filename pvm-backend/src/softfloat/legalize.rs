//! Rewriting the float operations that are not bit manipulation into routine calls.
//!
//! Runs after the mid-end (`isa::prepare`), so the calls it inserts are not optimized away or
//! duplicated, and emits no `*_imm` instructions (the mid-end's legalization, which removes
//! them, has already run; lowering relies on their absence). Each rewritten instruction keeps
//! its result value, so no use changes:
//!
//! - a float result: the call's integer result goes through a `bitcast` that replaces the
//!   instruction (`v3 = fadd v1, v2` becomes `v3 = bitcast.f64 (call f64_add(bitcast v1,
//!   bitcast v2))`); `bitcast` costs nothing (`lower/float.isle`);
//! - `fsub a, b` is `a + (−b)`: the `fneg` is one inline instruction, and a NaN result is the
//!   canonical NaN either way;
//! - an integer result (`fcvt_to_*`): the instruction becomes the call itself;
//! - `fcmp cc a, b` becomes an integer compare of the routine's compare code (see
//!   [`condition`]);
//! - `fcvt_from_*` of an integer narrower than 64 bits extends it first (every such value is
//!   exactly an `i64`).
//!
//! Establishes: no float instruction other than those `lower/float.isle` handles is left.

use super::{Format, RoundMode, Routine};
use crate::CompileError;
use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, ExtFuncData, ExternalName, FuncRef, Function, Inst, InstBuilder, InstructionData,
    MemFlags, Opcode, Type, Value,
};
use std::collections::HashMap;

/// Rewrites `func`'s float operations into routine calls (see the module docs).
pub fn legalize(func: &mut Function) -> Result<(), CompileError> {
    let mut refs: HashMap<Routine, FuncRef> = HashMap::new();
    let mut pos = FuncCursor::new(func);
    while pos.next_block().is_some() {
        while let Some(inst) = pos.next_inst() {
            legalize_inst(&mut pos, &mut refs, inst)?;
        }
    }
    Ok(())
}

/// The float format of `ty`, or an error naming the instruction if it is not `f32`/`f64`.
fn format(pos: &FuncCursor, inst: Inst, ty: Type) -> Result<Format, CompileError> {
    Format::of(ty).ok_or_else(|| unsupported(pos, inst))
}

/// Rewrites `inst` if it is a float operation that is not bit manipulation.
fn legalize_inst(
    pos: &mut FuncCursor,
    refs: &mut HashMap<Routine, FuncRef>,
    inst: Inst,
) -> Result<(), CompileError> {
    let data = pos.func.dfg.insts[inst];
    let opcode = data.opcode();
    let args: Vec<Value> = pos.func.dfg.inst_args(inst).to_vec();
    let arg_type = |pos: &FuncCursor, i: usize| pos.func.dfg.value_type(args[i]);
    let result_type = |pos: &FuncCursor| pos.func.dfg.value_type(pos.func.dfg.first_result(inst));
    match opcode {
        Opcode::Fadd | Opcode::Fsub | Opcode::Fmul | Opcode::Fdiv | Opcode::Fmin | Opcode::Fmax => {
            let f = format(pos, inst, result_type(pos))?;
            let routine = match opcode {
                Opcode::Fadd | Opcode::Fsub => Routine::Add(f),
                Opcode::Fmul => Routine::Mul(f),
                Opcode::Fdiv => Routine::Div(f),
                Opcode::Fmin => Routine::Min(f),
                _ => Routine::Max(f),
            };
            let rhs = if opcode == Opcode::Fsub {
                pos.ins().fneg(args[1])
            } else {
                args[1]
            };
            float_call(pos, refs, inst, routine, &[args[0], rhs]);
        }
        Opcode::Sqrt | Opcode::Ceil | Opcode::Floor | Opcode::Trunc | Opcode::Nearest => {
            let f = format(pos, inst, result_type(pos))?;
            let routine = match opcode {
                Opcode::Sqrt => Routine::Sqrt(f),
                Opcode::Ceil => Routine::Round(f, RoundMode::Ceil),
                Opcode::Floor => Routine::Round(f, RoundMode::Floor),
                Opcode::Trunc => Routine::Round(f, RoundMode::Trunc),
                _ => Routine::Round(f, RoundMode::Nearest),
            };
            float_call(pos, refs, inst, routine, &args);
        }
        Opcode::Fma => {
            let f = format(pos, inst, result_type(pos))?;
            float_call(pos, refs, inst, Routine::Fma(f), &args);
        }
        Opcode::Fpromote | Opcode::Fdemote => {
            let from = format(pos, inst, arg_type(pos, 0))?;
            let to = format(pos, inst, result_type(pos))?;
            let routine = match (opcode, from, to) {
                (Opcode::Fpromote, Format::F32, Format::F64) => Routine::Promote,
                (Opcode::Fdemote, Format::F64, Format::F32) => Routine::Demote,
                _ => return Err(unsupported(pos, inst)),
            };
            float_call(pos, refs, inst, routine, &args);
        }
        Opcode::FcvtFromSint | Opcode::FcvtFromUint => {
            let to = format(pos, inst, result_type(pos))?;
            let signed = opcode == Opcode::FcvtFromSint;
            let ty = arg_type(pos, 0);
            let wide = match ty {
                types::I64 => args[0],
                types::I8 | types::I16 | types::I32 if signed => {
                    pos.ins().sextend(types::I64, args[0])
                }
                types::I8 | types::I16 | types::I32 => pos.ins().uextend(types::I64, args[0]),
                _ => return Err(unsupported(pos, inst)),
            };
            let callee = func_ref(pos, refs, Routine::FromInt { to, signed });
            let call = pos.ins().call(callee, &[wide]);
            let bits = pos.func.dfg.first_result(call);
            pos.func
                .dfg
                .replace(inst)
                .bitcast(to.float_type(), MemFlags::new(), bits);
        }
        Opcode::FcvtToSint | Opcode::FcvtToUint | Opcode::FcvtToSintSat | Opcode::FcvtToUintSat => {
            let from = format(pos, inst, arg_type(pos, 0))?;
            let bits = match result_type(pos) {
                types::I32 => 32,
                types::I64 => 64,
                _ => return Err(unsupported(pos, inst)),
            };
            let routine = Routine::ToInt {
                from,
                bits,
                signed: matches!(opcode, Opcode::FcvtToSint | Opcode::FcvtToSintSat),
                saturate: matches!(opcode, Opcode::FcvtToSintSat | Opcode::FcvtToUintSat),
            };
            let operand = to_bits(pos, from, args[0]);
            let callee = func_ref(pos, refs, routine);
            pos.func.dfg.replace(inst).call(callee, &[operand]);
        }
        Opcode::Fcmp => {
            let InstructionData::FloatCompare { cond, .. } = data else {
                unreachable!("fcmp is a FloatCompare");
            };
            let f = format(pos, inst, arg_type(pos, 0))?;
            let (swap, cc, k) = condition(cond);
            let (a, b) = if swap {
                (args[1], args[0])
            } else {
                (args[0], args[1])
            };
            let (a, b) = (to_bits(pos, f, a), to_bits(pos, f, b));
            let callee = func_ref(pos, refs, Routine::Compare(f));
            let call = pos.ins().call(callee, &[a, b]);
            let mut code = pos.func.dfg.first_result(call);
            if cc == IntCC::UnsignedLessThan || cc == IntCC::UnsignedGreaterThanOrEqual {
                // `one` and `ueq` test the code minus one (LT, GT → 0, 1).
                let one = pos.ins().iconst(types::I8, 1);
                code = pos.ins().isub(code, one);
            }
            let k = pos.ins().iconst(types::I8, k);
            pos.func.dfg.replace(inst).icmp(cc, code, k);
        }
        _ => {}
    }
    Ok(())
}

/// How `fcmp cond a, b` tests the compare code `c` of the routine: whether the routine
/// compares `(b, a)` instead, and the integer test `c cc k` (for `UnsignedLessThan` and
/// `UnsignedGreaterThanOrEqual`, of `c − 1`). One compare each: the codes are EQ 0, LT 1,
/// GT 2, UNORDERED 3, so "LT or EQ" is `c ≤ 1`, "GT or UNORDERED" is `c > 1` and
/// "LT or GT" is `c − 1 < 2`; a
/// condition that needs EQ with GT (`ge`) or LT with UNORDERED (`ult`) swaps the operands.
pub fn condition(cond: FloatCC) -> (bool, IntCC, i64) {
    use FloatCC::*;
    match cond {
        Equal => (false, IntCC::Equal, 0),
        NotEqual => (false, IntCC::NotEqual, 0),
        LessThan => (false, IntCC::Equal, 1),
        GreaterThan => (false, IntCC::Equal, 2),
        Unordered => (false, IntCC::Equal, 3),
        Ordered => (false, IntCC::NotEqual, 3),
        LessThanOrEqual => (false, IntCC::UnsignedLessThanOrEqual, 1),
        GreaterThanOrEqual => (true, IntCC::UnsignedLessThanOrEqual, 1),
        UnorderedOrGreaterThan => (false, IntCC::UnsignedGreaterThan, 1),
        UnorderedOrLessThan => (true, IntCC::UnsignedGreaterThan, 1),
        UnorderedOrLessThanOrEqual => (false, IntCC::NotEqual, 2),
        UnorderedOrGreaterThanOrEqual => (false, IntCC::NotEqual, 1),
        OrderedNotEqual => (false, IntCC::UnsignedLessThan, 2),
        UnorderedOrEqual => (false, IntCC::UnsignedGreaterThanOrEqual, 2),
    }
}

/// The error for a float instruction of a type or shape the runtime does not cover.
fn unsupported(pos: &FuncCursor, inst: Inst) -> CompileError {
    CompileError::Unsupported(pos.func.dfg.display_inst(inst).to_string())
}

/// The bits of the float `x` of format `f`, as its carrier integer.
fn to_bits(pos: &mut FuncCursor, f: Format, x: Value) -> Value {
    pos.ins().bitcast(f.int_type(), MemFlags::new(), x)
}

/// Replaces `inst`, whose float result has the format of the routine's result, by a call of
/// `routine` on the float operands `args`.
fn float_call(
    pos: &mut FuncCursor,
    refs: &mut HashMap<Routine, FuncRef>,
    inst: Inst,
    routine: Routine,
    args: &[Value],
) {
    let operands: Vec<Value> = args
        .iter()
        .map(|&arg| {
            let f = Format::of(pos.func.dfg.value_type(arg)).expect("float operands");
            to_bits(pos, f, arg)
        })
        .collect();
    let result_type = pos.func.dfg.value_type(pos.func.dfg.first_result(inst));
    let callee = func_ref(pos, refs, routine);
    let call = pos.ins().call(callee, &operands);
    let bits = pos.func.dfg.first_result(call);
    pos.func
        .dfg
        .replace(inst)
        .bitcast(result_type, MemFlags::new(), bits);
}

/// The function's reference to `routine`, declared on first use.
fn func_ref(
    pos: &mut FuncCursor,
    refs: &mut HashMap<Routine, FuncRef>,
    routine: Routine,
) -> FuncRef {
    *refs.entry(routine).or_insert_with(|| {
        let name = pos
            .func
            .declare_imported_user_function(routine.external_name());
        let signature = pos.func.import_signature(routine.signature());
        pos.func.import_function(ExtFuncData {
            name: ExternalName::User(name),
            signature,
            colocated: true,
        })
    })
}
