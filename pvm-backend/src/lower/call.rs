//! Arguments, results and calls: where the calling convention (`abi.rs`) puts each word.
//!
//! Every argument and result list is a list of 64-bit words (an `i128` is two, low first).
//! Register words become fixed-register operands of the `Args`, `Ret`, `Call` and
//! `ReturnCall` pseudo-instructions, so the allocator places them; stack words become plain
//! loads and stores in an argument area ([`Base::IncomingArgs`] for this function's own
//! arguments and results, [`Base::OutgoingArgs`] for its calls').

use super::isle::InstOutput;
use super::{Lowering, ValueRegs};
use crate::abi::{self, Location};
use crate::inst::{Base, CallDest, MInst};
use crate::link::Symbol;
use crate::CompileError;
use cranelift_codegen::ir::{FuncRef, Signature, Value};
use pvm_isa::Opcode;
use regalloc2::{PReg, VReg};

/// The instructions that define the argument words `regs` at the function's entry: register
/// words arrive with `Args`, stack words are loaded from the incoming argument area. Every
/// incoming load comes before anything else, in particular before the stores of a tail call,
/// which reuse that area.
pub(super) fn entry_args(regs: &[VReg]) -> Vec<MInst<VReg>> {
    let mut args = Vec::new();
    let mut loads = Vec::new();
    for (&dst, location) in regs.iter().zip(abi::locations(regs.len())) {
        match location {
            Location::Reg(preg) => args.push((dst, preg)),
            Location::Stack(offset) => loads.push(MInst::Load {
                op: Opcode::load_indirect_u64,
                dst,
                base: Base::IncomingArgs,
                offset,
            }),
        }
    }
    std::iter::once(MInst::Args { args }).chain(loads).collect()
}

/// How many words the values of `types` take.
fn word_count(types: impl Iterator<Item = cranelift_codegen::ir::Type>) -> usize {
    types.map(super::regs_for).sum()
}

/// Bytes of argument area a function of `signature` reads its stack arguments from and
/// writes its stack results to.
fn arg_area_bytes(signature: &Signature) -> u32 {
    let params = word_count(signature.params.iter().map(|p| p.value_type));
    let returns = word_count(signature.returns.iter().map(|p| p.value_type));
    abi::stack_bytes(params).max(abi::stack_bytes(returns))
}

impl Lowering<'_> {
    /// Records the first error of this function's lowering (the driver reports it).
    fn fail(&mut self, error: CompileError) {
        self.error.get_or_insert(error);
    }

    /// How many words `values` take.
    fn words(&self, values: &[Value]) -> usize {
        word_count(values.iter().map(|&v| self.func.dfg.value_type(v)))
    }

    /// Places argument or result `values`: their stack words are stored to the argument area
    /// `base` now (a constant that fits an immediate directly); their register words are
    /// returned with their registers, for the instruction that passes them.
    fn place_values(&mut self, values: &[Value], base: Base<VReg>) -> Vec<(VReg, PReg)> {
        let mut in_regs = Vec::new();
        let mut word = 0;
        for &value in values {
            let constant = self.constant(value).filter(|&c| c == i64::from(c as i32));
            if let (Location::Stack(offset), Some(constant), 1) = (
                abi::location(word),
                constant,
                super::regs_for(self.func.dfg.value_type(value)),
            ) {
                self.emit(MInst::StoreImm {
                    op: Opcode::store_imm_indirect_u64,
                    value: constant as u32,
                    base,
                    offset,
                });
                word += 1;
                continue;
            }
            for &src in self.put_value_in_regs(value).regs() {
                match abi::location(word) {
                    Location::Reg(preg) => in_regs.push((src, preg)),
                    Location::Stack(offset) => self.emit(MInst::Store {
                        op: Opcode::store_indirect_u64,
                        src,
                        base,
                        offset,
                    }),
                }
                word += 1;
            }
        }
        in_regs
    }

    /// Returns `values`: stack words go to the caller's argument area.
    pub(super) fn lower_return(&mut self, values: &[Value]) {
        let rets = self.place_values(values, Base::IncomingArgs);
        self.emit(MInst::Ret { rets });
    }

    /// The symbol `func` names; `None` (and an error) for names that are not symbols
    /// (Cranelift's libcalls and known symbols).
    pub(crate) fn symbol(&mut self, func: FuncRef) -> Option<Symbol> {
        let name = &self.func.dfg.ext_funcs[func].name;
        let symbol = Symbol::from_external_name(name, self.func);
        if symbol.is_none() {
            let name = name.display(Some(&self.func.params)).to_string();
            self.fail(CompileError::Unsupported(format!(
                "`{name}`: only functions the program defines can be called or addressed"
            )));
        }
        symbol
    }

    /// The function `func` names. A name that is no symbol is recorded as an error (which
    /// the driver reports before anything uses the result); an empty name stands in.
    pub(crate) fn callee(&mut self, func: FuncRef) -> CallDest<VReg> {
        let symbol = self.symbol(func);
        CallDest::Direct(symbol.unwrap_or_else(|| Symbol::Name(String::new())))
    }

    /// The signature of the function `func` names.
    pub(crate) fn callee_signature(&self, func: FuncRef) -> cranelift_codegen::ir::SigRef {
        self.func.dfg.ext_funcs[func].signature
    }

    /// Calls `dest`, of signature `sig`, with `args`; the results' registers.
    pub(crate) fn lower_call(
        &mut self,
        sig: cranelift_codegen::ir::SigRef,
        dest: CallDest<VReg>,
        args: &[Value],
    ) -> InstOutput {
        if let CallDest::Direct(Symbol::User {
            namespace: abi::HOST_CALL_NAMESPACE,
            index,
        }) = dest
        {
            return self.lower_host_call(sig, index, args);
        }
        let words = self.words(args);
        let args = self.place_values(args, Base::OutgoingArgs);
        let types: Vec<_> = self.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|r| r.value_type)
            .collect();
        let results: InstOutput = types
            .iter()
            .map(|&ty| match super::regs_for(ty) {
                2 => ValueRegs::two(self.temp(), self.temp()),
                _ => ValueRegs::one(self.temp()),
            })
            .collect();
        let result_words: Vec<VReg> = results.iter().flat_map(|r| r.regs().to_vec()).collect();
        let mut rets = Vec::new();
        let mut loads = Vec::new();
        for (&dst, location) in result_words.iter().zip(abi::locations(result_words.len())) {
            match location {
                Location::Reg(preg) => rets.push((dst, preg)),
                Location::Stack(offset) => loads.push(MInst::Load {
                    op: Opcode::load_indirect_u64,
                    dst,
                    base: Base::OutgoingArgs,
                    offset,
                }),
            }
        }
        let area = abi::stack_bytes(words).max(abi::stack_bytes(result_words.len()));
        self.outgoing_area = self.outgoing_area.max(area);
        self.emit(MInst::Call { dest, args, rets });
        for load in loads {
            self.emit(load);
        }
        results
    }

    /// `ecalli index` with `args` in the host-call registers (`abi::HOST_CALL_ARG_REGS`).
    fn lower_host_call(
        &mut self,
        sig: cranelift_codegen::ir::SigRef,
        index: u32,
        args: &[Value],
    ) -> InstOutput {
        let returns: Vec<_> = self.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|r| r.value_type)
            .collect();
        let arg_words: Vec<VReg> = args
            .iter()
            .flat_map(|&a| self.put_value_in_regs(a).regs().to_vec())
            .collect();
        let result_words = word_count(returns.iter().copied());
        if arg_words.len() > abi::HOST_CALL_ARG_REGS.len()
            || result_words > abi::HOST_CALL_RESULT_REGS.len()
        {
            self.fail(CompileError::Unsupported(format!(
                "host call {index} with {} argument and {result_words} result words (at most \
                 {} and {})",
                arg_words.len(),
                abi::HOST_CALL_ARG_REGS.len(),
                abi::HOST_CALL_RESULT_REGS.len()
            )));
            return returns
                .iter()
                .map(|_| ValueRegs::one(self.temp()))
                .collect();
        }
        let args = arg_words.into_iter().zip(abi::HOST_CALL_ARG_REGS).collect();
        let results: InstOutput = returns
            .iter()
            .map(|&ty| match super::regs_for(ty) {
                2 => ValueRegs::two(self.temp(), self.temp()),
                _ => ValueRegs::one(self.temp()),
            })
            .collect();
        // The host leaves whole words: narrow results are sign-extended into the form the
        // backend keeps them in.
        let raw: Vec<VReg> = results
            .iter()
            .flat_map(|r| r.regs().to_vec())
            .map(|_| self.temp())
            .collect();
        let rets = raw
            .iter()
            .copied()
            .zip(abi::HOST_CALL_RESULT_REGS)
            .collect();
        self.emit(MInst::HostCall { index, args, rets });
        let finals: Vec<VReg> = results.iter().flat_map(|r| r.regs().to_vec()).collect();
        let types = returns
            .iter()
            .flat_map(|&ty| std::iter::repeat_n(ty, super::regs_for(ty)));
        for ((&src, &dst), ty) in raw.iter().zip(&finals).zip(types) {
            self.emit(match ty.bits() {
                8 => MInst::AluRR {
                    op: Opcode::sign_extend_8,
                    dst,
                    src,
                },
                16 => MInst::AluRR {
                    op: Opcode::sign_extend_16,
                    dst,
                    src,
                },
                32 => MInst::AluRRI {
                    op: Opcode::add_imm_32,
                    dst,
                    src,
                    imm: 0,
                },
                _ => MInst::Mov { dst, src },
            });
        }
        results
    }

    /// A tail call of `dest` with `args` (its results are this function's, so its signature
    /// does not matter here).
    pub(crate) fn lower_return_call(&mut self, dest: CallDest<VReg>, args: &[Value]) {
        let words = self.words(args);
        // The callee's stack arguments go where this function's came from: the caller sized
        // that area for this function's signature.
        let needed = abi::stack_bytes(words);
        let available = arg_area_bytes(&self.func.signature);
        if needed > available {
            self.fail(CompileError::Unsupported(format!(
                "a tail call with {needed} bytes of stack arguments from a function whose \
                 caller provides {available} bytes of argument area"
            )));
        }
        // Every caller-saved register carries an argument then, and the target must not be in
        // a callee-saved one, which the epilogue restores before the jump.
        if matches!(dest, CallDest::Indirect(_)) && words >= abi::ARG_REGS.len() {
            self.fail(CompileError::Unsupported(format!(
                "an indirect tail call with {words} argument words leaves no register for its \
                 target"
            )));
        }
        let args = self.place_values(args, Base::IncomingArgs);
        self.emit(MInst::ReturnCall { dest, args });
    }

    /// The jump-table address of `func`, in a register.
    pub(crate) fn lower_func_addr(&mut self, func: FuncRef) -> Option<VReg> {
        let func = self.symbol(func)?;
        let dst = self.temp();
        self.emit(MInst::FuncAddr { dst, func });
        Some(dst)
    }
}
