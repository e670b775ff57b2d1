//! The Rust side of the ISLE lowering rules: the types the generated code names and the
//! `Context` trait's external terms, implemented over the lowering driver's state.

#![allow(missing_docs)]

use super::{Lowering, Targets, ValueRegs};
use crate::inst::{Base, MInst, RegOrImm};
use crate::link::Symbol;
use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use cranelift_codegen::ir::immediates::Offset32;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64, Imm64};
use cranelift_codegen::ir::{
    BlockCall, FuncRef, Function, GlobalValue, GlobalValueData, Inst, InstructionData, SigRef,
    StackSlot, Type, Value, ValueList,
};
use pvm_isa::Opcode as PvmOpcode;
use regalloc2::Block as Target;
use regalloc2::VReg as Reg;

pub(crate) type Unit = ();
pub(crate) type ValueArray2 = [Value; 2];
pub(crate) type ValueArray3 = [Value; 3];
pub(crate) type BlockArray2 = [BlockCall; 2];
pub(crate) type ValueSlice = Vec<Value>;
pub(crate) type InstOutput = Vec<ValueRegs>;
pub(crate) type CallDest = crate::inst::CallDest<Reg>;

/// A memory address: `base + offset`, modulo 2^32.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Amode {
    base: Base<Reg>,
    offset: u32,
}

/// A `br_table` with this many entries or fewer is dispatched by a chain of compares rather
/// than through the PVM jump table: two `branch_eq_imm` cost about what the bounds check,
/// the index scaling and the `jump_indirect` of a table dispatch cost (under both gas
/// models), and need no register for the scaled index.
const MAX_BR_TABLE_CHAIN: usize = 2;

#[allow(
    dead_code,
    unreachable_code,
    unreachable_patterns,
    unused_imports,
    unused_variables,
    non_snake_case,
    unused_mut,
    irrefutable_let_patterns,
    clippy::all
)]
pub(crate) mod generated {
    use super::*;
    use cranelift_codegen::ir::condcodes::FloatCC;
    use cranelift_codegen::ir::immediates::{Ieee16, Ieee32, Ieee64, Offset32, Uimm8};
    use cranelift_codegen::ir::types::{F32, F64, I128, I16, I32, I64, I8};
    use cranelift_codegen::ir::{
        AtomicRmwOp, Constant, DynamicStackSlot, FuncRef, GlobalValue, Immediate, JumpTable,
        MemFlags, Opcode, SigRef, StackSlot, TrapCode,
    };
    include!(concat!(env!("OUT_DIR"), "/isle_lower.rs"));
}

impl generated::Context for Lowering<'_> {
    fn inst_data(&mut self, inst: Inst) -> InstructionData {
        self.func.dfg.insts[inst]
    }

    fn value_list_slice(&mut self, list: ValueList) -> ValueSlice {
        list.as_slice(&self.func.dfg.value_lists).to_vec()
    }

    fn unwrap_head_value_list_1(&mut self, list: ValueList) -> (Value, ValueSlice) {
        let values = list.as_slice(&self.func.dfg.value_lists);
        (values[0], values[1..].to_vec())
    }

    fn pack_value_array_2(&mut self, a: Value, b: Value) -> ValueArray2 {
        [a, b]
    }

    fn unpack_value_array_2(&mut self, array: &ValueArray2) -> (Value, Value) {
        (array[0], array[1])
    }

    fn pack_value_array_3(&mut self, a: Value, b: Value, c: Value) -> ValueArray3 {
        [a, b, c]
    }

    fn unpack_value_array_3(&mut self, array: &ValueArray3) -> (Value, Value, Value) {
        (array[0], array[1], array[2])
    }

    fn pack_block_array_2(&mut self, a: BlockCall, b: BlockCall) -> BlockArray2 {
        [a, b]
    }

    fn unpack_block_array_2(&mut self, array: &BlockArray2) -> (BlockCall, BlockCall) {
        (array[0], array[1])
    }

    fn first_result(&mut self, inst: Inst) -> Option<Value> {
        self.func.dfg.inst_results(inst).first().copied()
    }

    fn def_inst(&mut self, value: Value) -> Option<Inst> {
        self.func.dfg.value_def(value).inst()
    }

    fn value_type(&mut self, value: Value) -> Type {
        self.func.dfg.value_type(value)
    }

    fn iconst_value(&mut self, value: Value) -> Option<i64> {
        self.constant(value)
    }

    fn simm32_value(&mut self, value: Value) -> Option<u32> {
        let c = self.constant(value)?;
        (c == i64::from(c as i32)).then_some(c as u32)
    }

    fn imm64_canonical(&mut self, ty: Type, imm: Imm64) -> i64 {
        super::canonical(ty, imm.bits())
    }

    fn ty_bits(&mut self, ty: Type) -> u8 {
        ty.bits() as u8
    }

    fn fits_in_32(&mut self, ty: Type) -> Option<Type> {
        (ty.is_int() && ty.bits() <= 32).then_some(ty)
    }

    fn fits_in_64(&mut self, ty: Type) -> Option<Type> {
        (ty.is_int() && ty.bits() <= 64).then_some(ty)
    }

    fn ty_int_narrow(&mut self, ty: Type) -> Option<Type> {
        (ty.is_int() && ty.bits() < 32).then_some(ty)
    }

    fn float_carrier(&mut self, ty: Type) -> Option<Type> {
        crate::softfloat::Format::of(ty).map(|f| f.int_type())
    }

    fn ieee32_bits(&mut self, imm: Ieee32) -> i64 {
        super::canonical(cranelift_codegen::ir::types::I32, i64::from(imm.bits()))
    }

    fn ieee64_bits(&mut self, imm: Ieee64) -> i64 {
        imm.bits() as i64
    }

    fn put_in_reg(&mut self, value: Value) -> Reg {
        let regs = self.put_value_in_regs(value);
        assert_eq!(regs.regs().len(), 1, "put_in_reg on a multi-register value");
        regs.get(0)
    }

    fn put_in_regs(&mut self, value: Value) -> ValueRegs {
        self.put_value_in_regs(value)
    }

    fn value_reg(&mut self, reg: Reg) -> ValueRegs {
        ValueRegs::one(reg)
    }

    fn value_regs_pair(&mut self, lo: Reg, hi: Reg) -> ValueRegs {
        ValueRegs::two(lo, hi)
    }

    fn value_regs_get(&mut self, regs: ValueRegs, index: usize) -> Reg {
        regs.get(index)
    }

    fn output(&mut self, regs: ValueRegs) -> InstOutput {
        vec![regs]
    }

    fn output_none(&mut self) -> InstOutput {
        Vec::new()
    }

    fn output_pair(&mut self, first: ValueRegs, second: ValueRegs) -> InstOutput {
        vec![first, second]
    }

    fn alu_rrr(&mut self, op: &PvmOpcode, a: Reg, b: Reg) -> Reg {
        let dst = self.temp();
        self.emit(MInst::AluRRR { op: *op, dst, a, b });
        dst
    }

    fn alu_rri(&mut self, op: &PvmOpcode, src: Reg, imm: u32) -> Reg {
        let dst = self.temp();
        self.emit(MInst::AluRRI {
            op: *op,
            dst,
            src,
            imm,
        });
        dst
    }

    fn alu_rr(&mut self, op: &PvmOpcode, src: Reg) -> Reg {
        let dst = self.temp();
        self.emit(MInst::AluRR { op: *op, dst, src });
        dst
    }

    fn load_const(&mut self, value: i64) -> Reg {
        let dst = self.temp();
        self.emit(if value == i64::from(value as i32) {
            MInst::LoadImm {
                dst,
                imm: value as u32,
            }
        } else {
            MInst::LoadImm64 {
                dst,
                imm: value as u64,
            }
        });
        dst
    }

    fn cmov(&mut self, op: &PvmOpcode, old: Reg, src: Reg, cond: Reg) -> Reg {
        let dst = self.temp();
        self.emit(MInst::Cmov {
            op: *op,
            dst,
            old,
            src,
            cond,
        });
        dst
    }

    fn cmov_imm(&mut self, op: &PvmOpcode, old: Reg, imm: u32, cond: Reg) -> Reg {
        let dst = self.temp();
        self.emit(MInst::CmovImm {
            op: *op,
            dst,
            old,
            imm,
            cond,
        });
        dst
    }

    fn amode_reg(&mut self, base: Reg, offset: u32) -> Amode {
        Amode {
            base: Base::Reg(base),
            offset,
        }
    }

    fn amode_slots(&mut self, offset: u32) -> Amode {
        Amode {
            base: Base::StackSlots,
            offset,
        }
    }

    fn amode_abs(&mut self, address: u32) -> Amode {
        Amode {
            base: Base::Absolute,
            offset: address,
        }
    }

    fn amode_offset(&mut self, amode: Amode, offset: u32) -> Amode {
        Amode {
            offset: amode.offset.wrapping_add(offset),
            ..amode
        }
    }

    fn emit_load(&mut self, op: &PvmOpcode, amode: Amode) -> Reg {
        let dst = self.temp();
        self.emit(MInst::Load {
            op: *op,
            dst,
            base: amode.base,
            offset: amode.offset,
        });
        dst
    }

    fn emit_store(&mut self, op: &PvmOpcode, src: Reg, amode: Amode) -> Unit {
        self.emit(MInst::Store {
            op: *op,
            src,
            base: amode.base,
            offset: amode.offset,
        });
    }

    fn emit_store_imm(&mut self, op: &PvmOpcode, value: u32, amode: Amode) -> Unit {
        self.emit(MInst::StoreImm {
            op: *op,
            value,
            base: amode.base,
            offset: amode.offset,
        });
    }

    fn i64_nonzero(&mut self, x: i64) -> Option<i64> {
        (x != 0).then_some(x)
    }

    fn i64_simm32(&mut self, x: i64) -> Option<u32> {
        (x == i64::from(x as i32)).then_some(x as u32)
    }

    fn i64_low32(&mut self, x: i64) -> u32 {
        x as u32
    }

    fn u32_wrapping_add(&mut self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }

    fn ty_smin(&mut self, ty: Type) -> i64 {
        super::canonical(ty, 1 << (ty.bits().min(64) - 1))
    }

    fn ty_zext_const(&mut self, ty: Type, x: i64) -> i64 {
        match ty.bits() {
            bits @ 1..=63 => x & ((1 << bits) - 1),
            _ => x,
        }
    }

    fn ty_sext_const(&mut self, ty: Type, x: i64) -> i64 {
        super::canonical(ty, x)
    }

    fn offset32_bits(&mut self, offset: Offset32) -> u32 {
        i32::from(offset) as u32
    }

    fn slot_offset(&mut self, slot: StackSlot) -> u32 {
        self.slot_offsets[slot]
    }

    fn emit_stack_addr(&mut self, offset: u32) -> Reg {
        let dst = self.temp();
        self.emit(MInst::StackAddr { dst, offset });
        dst
    }

    fn ty_int(&mut self, ty: Type) -> Option<Type> {
        ty.is_int().then_some(ty)
    }

    fn intcc_swap_args(&mut self, cc: &IntCC) -> IntCC {
        cc.swap_args()
    }

    fn i64_neg(&mut self, x: i64) -> i64 {
        x.wrapping_neg()
    }

    fn i64_succ_simm32(&mut self, x: i64) -> Option<u32> {
        x.checked_add(1).and_then(simm32)
    }

    fn i64_pred_simm32(&mut self, x: i64) -> Option<u32> {
        x.checked_sub(1).and_then(simm32)
    }

    fn u64_succ_simm32(&mut self, x: i64) -> Option<u32> {
        (x as u64).checked_add(1).and_then(|y| simm32(y as i64))
    }

    fn u64_pred_simm32(&mut self, x: i64) -> Option<u32> {
        (x as u64).checked_sub(1).and_then(|y| simm32(y as i64))
    }

    fn shift_imm(&mut self, ty: Type, amount: i64) -> u32 {
        (amount as u32) & (ty.bits() - 1)
    }

    fn u32_wrapping_sub(&mut self, a: u32, b: u32) -> u32 {
        a.wrapping_sub(b)
    }

    fn u32_and(&mut self, a: u32, b: u32) -> u32 {
        a & b
    }

    fn call_dest_direct(&mut self, func: FuncRef) -> CallDest {
        self.callee(func)
    }

    fn call_dest_indirect(&mut self, target: Reg) -> CallDest {
        CallDest::Indirect(target)
    }

    fn func_ref_sig(&mut self, func: FuncRef) -> SigRef {
        self.callee_signature(func)
    }

    fn emit_call(&mut self, sig: SigRef, dest: &CallDest, args: ValueSlice) -> InstOutput {
        self.lower_call(sig, dest.clone(), &args)
    }

    fn emit_return_call(&mut self, dest: &CallDest, args: ValueSlice) -> Unit {
        self.lower_return_call(dest.clone(), &args);
    }

    fn emit_func_addr(&mut self, func: FuncRef) -> Option<Reg> {
        self.lower_func_addr(func)
    }

    fn br_table_targets(&mut self, targets: &Targets) -> Option<(Target, Targets)> {
        let (&default, entries) = targets.split_first()?;
        Some((default, entries.to_vec()))
    }

    fn br_table_small(&mut self, entries: &Targets) -> Option<Targets> {
        (entries.len() <= MAX_BR_TABLE_CHAIN).then(|| entries.clone())
    }

    fn emit_br_table_chain(&mut self, index: Reg, default: Target, targets: &Targets) -> Unit {
        self.emit(MInst::BrTable {
            index,
            scaled: None,
            default,
            targets: targets.clone(),
        });
    }

    fn emit_br_table_jump(
        &mut self,
        index: Reg,
        scaled: Reg,
        default: Target,
        targets: &Targets,
    ) -> Unit {
        self.emit(MInst::BrTable {
            index,
            scaled: Some(scaled),
            default,
            targets: targets.clone(),
        });
    }

    fn emit_jump(&mut self, target: Target) -> Unit {
        self.emit(MInst::Jump { target });
    }

    fn emit_cond_br(&mut self, cc: &IntCC, a: Reg, b: Reg, taken: Target, not_taken: Target) {
        self.emit(MInst::CondBr {
            cc: *cc,
            a,
            b: RegOrImm::Reg(b),
            taken,
            not_taken,
        });
    }

    fn emit_cond_br_imm(
        &mut self,
        cc: &IntCC,
        a: Reg,
        imm: u32,
        taken: Target,
        not_taken: Target,
    ) -> Unit {
        self.emit(MInst::CondBr {
            cc: *cc,
            a,
            b: RegOrImm::Imm(imm),
            taken,
            not_taken,
        });
    }

    fn emit_trap(&mut self) -> Unit {
        self.emit(MInst::Trap);
    }

    fn emit_trap_if(&mut self, cc: &IntCC, a: Reg, b: Reg) -> Unit {
        self.emit(MInst::TrapIf {
            cc: *cc,
            a,
            b: RegOrImm::Reg(b),
        });
    }

    fn emit_trap_if_imm(&mut self, cc: &IntCC, a: Reg, imm: u32) -> Unit {
        self.emit(MInst::TrapIf {
            cc: *cc,
            a,
            b: RegOrImm::Imm(imm),
        });
    }

    fn emit_return(&mut self, values: ValueSlice) -> Unit {
        self.lower_return(&values);
    }

    fn symbol_global(&mut self, gv: GlobalValue) -> Option<GlobalValue> {
        symbol_of(self.func, gv).map(|_| gv)
    }

    fn symbol_addr(&mut self, gv: GlobalValue) -> Reg {
        let (symbol, addend) = symbol_of(self.func, gv).expect("matched by `symbol_global`");
        let dst = self.temp();
        self.emit(MInst::DataAddr {
            dst,
            symbol,
            addend,
        });
        dst
    }

    fn targets_2(&mut self, targets: &Targets) -> Option<(Target, Target)> {
        match targets[..] {
            [a, b] => Some((a, b)),
            _ => None,
        }
    }

    fn targets_1(&mut self, targets: &Targets) -> Option<Target> {
        match targets[..] {
            [a] => Some(a),
            _ => None,
        }
    }
}

/// `x` as a PVM immediate (32 bits, sign-extended by the machine), if it is one.
fn simm32(x: i64) -> Option<u32> {
    (x == i64::from(x as i32)).then_some(x as u32)
}

/// The symbol a `symbol` global value names and the offset added to its address; `None` for
/// other global values, thread-local ones and library names.
fn symbol_of(func: &Function, gv: GlobalValue) -> Option<(Symbol, i64)> {
    match func.global_values[gv] {
        GlobalValueData::Symbol {
            ref name,
            offset,
            tls: false,
            ..
        } => Some((Symbol::from_external_name(name, func)?, offset.bits())),
        _ => None,
    }
}
