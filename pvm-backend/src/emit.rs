//! Emission: allocated VCode → PVM instructions with function-local labels ([`FunctionCode`]),
//! for the linker.
//!
//! Relies on the VCode invariants (see `vcode.rs`) and on regalloc2's output for that VCode.
//!
//! Frames: the frame's layout (`abi.rs`), its size and where it is set up come from `frame.rs`.
//! The rule (shrink wrapping, documented with its invariants there): the frame is set up at
//! the start of the nearest common dominator of the blocks that need it (they call, touch a
//! stack slot, a spill slot or the outgoing argument area, or use a callee-saved register),
//! hoisted to its immediate dominator while it lies on a cycle; it is active in the blocks
//! that block dominates, and torn down wherever control leaves them. Emission relies on what
//! that gives: each block runs always or never with the frame, so stack offsets are fixed
//! per block (the incoming argument area is `frame size` further away in a block that runs
//! with it), and control leaves the region only through returns, tail calls and single-target
//! jumps. The prologue (stack pointer down, stack probes for a frame larger than the guard,
//! return address and callee-saved registers stored) starts the setup block; the epilogue
//! (registers reloaded, stack pointer up) precedes every return and tail call of a block that
//! runs with the frame, and the jump of such a block to one that runs without it. A block
//! holding such frame code is emitted even if it only jumps.
//!
//! Calls become the linker's [`Item::Call`] and [`Item::CallIndirect`] (the return address is
//! the next instruction's jump-table address, so it starts a PVM basic block), tail calls
//! [`Item::TailCall`] or a `jump_indirect`, function addresses [`Item::FuncAddr`].
//!
//! Control flow: blocks are emitted in VCode order. A block holding only a jump (an edge block
//! on which the allocator put no moves) is not emitted: branches to it go to its target. A
//! jump to the next emitted block is left out; a two-way branch whose `not_taken` block comes
//! next is one PVM branch, and one whose `taken` block comes next is the inverted branch. A
//! block that is a branch target but follows an instruction that does not end a PVM basic
//! block starts with `fallthrough`, as the PVM requires. Conditional traps, and branches to a
//! block that only traps (which is not emitted), go to one shared `trap` at the end of the
//! function: a branch to `trap` is cheap under the draft GP 0.8 gas model. A `br_table` either
//! tests its entries one by one (`branch_eq_imm`) or checks the index against the table size
//! and jumps through consecutive PVM jump-table entries: `jump_indirect` to the first entry's
//! address plus twice the index.

use crate::abi::{self, reg_of, RA, SP};
use crate::frame::{self, Frame, Placement};
use crate::inst::CallDest;
use crate::inst::{Base, MInst, RegOrImm};
use crate::link::{FunctionCode, Item, LocalLabel};
use crate::vcode::VCode;
use crate::{CompileError, Options};
use cranelift_codegen::ir::condcodes::{CondCode, IntCC};
use pvm_isa::{Flavour, Instruction, Opcode, Reg};
use regalloc2::{Allocation, Block, Edit, Function, InstOrEdit, Output, VReg};
use std::fmt::Write as _;

/// A function's code before linking, its frame, and its VCode listing after allocation.
pub struct Emitted {
    /// The code.
    pub code: FunctionCode,
    /// The frame.
    pub frame: Frame,
    /// The allocated VCode, one instruction per line, for precise-output tests.
    pub vcode_text: String,
}

/// The branch for `cc(a, b)`; reg-reg compares exist only for some conditions, the others swap.
fn branch(cc: IntCC, a: Reg, b: RegOrImm<Reg>, target: LocalLabel) -> Instruction<LocalLabel> {
    use IntCC::*;
    match b {
        RegOrImm::Imm(imm) => {
            let op = match cc {
                Equal => Instruction::branch_eq_imm,
                NotEqual => Instruction::branch_not_eq_imm,
                UnsignedLessThan => Instruction::branch_less_unsigned_imm,
                UnsignedLessThanOrEqual => Instruction::branch_less_or_equal_unsigned_imm,
                UnsignedGreaterThanOrEqual => Instruction::branch_greater_or_equal_unsigned_imm,
                UnsignedGreaterThan => Instruction::branch_greater_unsigned_imm,
                SignedLessThan => Instruction::branch_less_signed_imm,
                SignedLessThanOrEqual => Instruction::branch_less_or_equal_signed_imm,
                SignedGreaterThanOrEqual => Instruction::branch_greater_or_equal_signed_imm,
                SignedGreaterThan => Instruction::branch_greater_signed_imm,
            };
            op(a, imm, target)
        }
        RegOrImm::Reg(b) => match cc {
            Equal => Instruction::branch_eq(a, b, target),
            NotEqual => Instruction::branch_not_eq(a, b, target),
            UnsignedLessThan => Instruction::branch_less_unsigned(a, b, target),
            UnsignedGreaterThanOrEqual => {
                Instruction::branch_greater_or_equal_unsigned(a, b, target)
            }
            SignedLessThan => Instruction::branch_less_signed(a, b, target),
            SignedGreaterThanOrEqual => Instruction::branch_greater_or_equal_signed(a, b, target),
            UnsignedGreaterThan => Instruction::branch_less_unsigned(b, a, target),
            UnsignedLessThanOrEqual => Instruction::branch_greater_or_equal_unsigned(b, a, target),
            SignedGreaterThan => Instruction::branch_less_signed(b, a, target),
            SignedLessThanOrEqual => Instruction::branch_greater_or_equal_signed(b, a, target),
        },
    }
}

/// The absolute-address form (`[imm]`) of a `load_indirect_*`, `store_indirect_*` or
/// `store_imm_indirect_*` opcode.
fn absolute_form(op: Opcode) -> Option<Opcode> {
    use Opcode::*;
    Some(match op {
        load_indirect_u8 => load_u8,
        load_indirect_i8 => load_i8,
        load_indirect_u16 => load_u16,
        load_indirect_i16 => load_i16,
        load_indirect_u32 => load_u32,
        load_indirect_i32 => load_i32,
        load_indirect_u64 => load_u64,
        store_indirect_u8 => store_u8,
        store_indirect_u16 => store_u16,
        store_indirect_u32 => store_u32,
        store_indirect_u64 => store_u64,
        store_imm_indirect_u8 => store_imm_u8,
        store_imm_indirect_u16 => store_imm_u16,
        store_imm_indirect_u32 => store_imm_u32,
        store_imm_indirect_u64 => store_imm_u64,
        _ => return None,
    })
}

struct Emitter {
    code: FunctionCode,
    frame: Frame,
    placement: Placement,
    /// Whether the block being emitted runs with the frame set up.
    active: bool,
    labels: Vec<LocalLabel>,
    trap: Option<LocalLabel>,
    /// Whether the last instruction pushed ends a PVM basic block.
    ended_block: bool,
}

impl Emitter {
    fn push(&mut self, inst: Instruction<LocalLabel>) {
        self.ended_block = inst.opcode().ends_block();
        self.code.push(Item::Inst(inst));
    }

    fn trap_label(&mut self) -> LocalLabel {
        *self.trap.get_or_insert_with(|| self.code.new_label())
    }

    fn mov(&mut self, from: Allocation, to: Allocation) {
        match (from.as_reg(), to.as_reg(), from.as_stack(), to.as_stack()) {
            (Some(f), Some(t), _, _) if f != t => {
                self.push(Instruction::move_reg(reg_of(t), reg_of(f)));
            }
            (Some(_), Some(_), _, _) => {}
            (Some(f), None, _, Some(slot)) => self.push(Instruction::store_indirect_u64(
                reg_of(f),
                SP,
                self.frame.spill_offset(slot.index()),
            )),
            (None, Some(t), Some(slot), _) => self.push(Instruction::load_indirect_u64(
                reg_of(t),
                SP,
                self.frame.spill_offset(slot.index()),
            )),
            _ => unreachable!("regalloc2 never moves stack to stack"),
        }
    }

    /// Sets the frame up: stack pointer down, probes, registers saved.
    fn prologue(&mut self) {
        let size = self.frame.size;
        self.push(Instruction::add_imm_64(SP, SP, size.wrapping_neg()));
        for offset in abi::stack_probe_offsets(size) {
            self.push(Instruction::store_imm_indirect_u64(SP, offset, 0));
        }
        if self.frame.saves_return_address {
            let offset = self.frame.return_address_offset();
            self.push(Instruction::store_indirect_u64(RA, SP, offset));
        }
        for (i, &reg) in self.frame.saved.clone().iter().enumerate() {
            self.push(Instruction::store_indirect_u64(
                reg,
                SP,
                self.frame.saved_offset(i),
            ));
        }
    }

    /// Tears the frame down, if the current block runs with it.
    fn epilogue(&mut self) {
        if !self.active {
            return;
        }
        for (i, &reg) in self.frame.saved.clone().iter().enumerate() {
            self.push(Instruction::load_indirect_u64(
                reg,
                SP,
                self.frame.saved_offset(i),
            ));
        }
        if self.frame.saves_return_address {
            let offset = self.frame.return_address_offset();
            self.push(Instruction::load_indirect_u64(RA, SP, offset));
        }
        self.push(Instruction::add_imm_64(SP, SP, self.frame.size));
    }

    /// The base register and offset of `base + offset`; `None` for an absolute address.
    fn base(&self, base: Base<Reg>, offset: u32) -> Option<(Reg, u32)> {
        match base {
            Base::Reg(r) => Some((r, offset)),
            Base::StackSlots => Some((SP, self.frame.slot_area_offset().wrapping_add(offset))),
            Base::OutgoingArgs => Some((SP, abi::ARG_AREA_OFFSET.wrapping_add(offset))),
            Base::IncomingArgs => {
                let frame = if self.active { self.frame.size } else { 0 };
                Some((SP, (frame + abi::ARG_AREA_OFFSET).wrapping_add(offset)))
            }
            Base::Absolute => None,
        }
    }

    /// The access `op` (an indirect form) makes to `base + offset` with register `reg` (the
    /// value loaded or stored).
    fn memory(
        &self,
        op: Opcode,
        reg: Reg,
        base: Base<Reg>,
        offset: u32,
    ) -> Option<Instruction<LocalLabel>> {
        match self.base(base, offset) {
            Some((base, offset)) => {
                Instruction::new(op, pvm_isa::Args::RegRegImm(reg, base, offset))
            }
            None => Instruction::new(absolute_form(op)?, pvm_isa::Args::RegImm(reg, offset)),
        }
    }

    /// Emits a `br_table` on `index` (see the module docs); `default_next` says the default
    /// block comes next.
    fn br_table(
        &mut self,
        index: Reg,
        scaled: Option<Reg>,
        default: LocalLabel,
        targets: &[LocalLabel],
        default_next: bool,
    ) -> Result<(), CompileError> {
        match scaled {
            Some(scaled) => {
                let len = targets.len() as u32;
                self.push(Instruction::branch_greater_or_equal_unsigned_imm(
                    index, len, default,
                ));
                // The linker gives the targets consecutive jump-table entries, 2 address units
                // apart, so `scaled` (2 * index) added to the first entry's address selects one.
                self.code.push(Item::JumpTable {
                    scaled,
                    targets: targets.to_vec(),
                });
                self.ended_block = true;
            }
            None => {
                for (i, &target) in targets.iter().enumerate() {
                    // An entry that goes where the default goes needs no test.
                    if target != default {
                        self.push(Instruction::branch_eq_imm(index, i as u32, target));
                    }
                }
                if !default_next {
                    self.push(Instruction::jump(default));
                }
            }
        }
        Ok(())
    }

    /// Emits one non-branch instruction.
    fn inst(&mut self, inst: &MInst<Reg>) -> Result<(), CompileError> {
        let unexpected =
            |op: Opcode| CompileError::Internal(format!("`{op}` in the wrong machine instruction"));
        match *inst {
            MInst::Args { .. } => {}
            MInst::Ret { .. } => {
                self.epilogue();
                self.push(Instruction::jump_indirect(RA, 0));
            }
            MInst::Call { ref dest, .. } => {
                self.code.push(match dest {
                    CallDest::Direct(callee) => Item::Call {
                        callee: callee.clone(),
                    },
                    &CallDest::Indirect(target) => Item::CallIndirect { target },
                });
                // The call's return address starts a basic block.
                self.ended_block = true;
            }
            MInst::HostCall { index, .. } => self.push(Instruction::ecalli(index)),
            MInst::ReturnCall { ref dest, .. } => {
                self.epilogue();
                match dest {
                    CallDest::Direct(callee) => {
                        self.code.push(Item::TailCall {
                            callee: callee.clone(),
                        });
                        self.ended_block = true;
                    }
                    &CallDest::Indirect(target) => {
                        self.push(Instruction::jump_indirect(target, 0));
                    }
                }
            }
            MInst::FuncAddr { dst, ref func } => {
                self.code.push(Item::FuncAddr {
                    dst,
                    func: func.clone(),
                });
                self.ended_block = false;
            }
            MInst::AluRRR { op, dst, a, b } => self.push(
                Instruction::new(op, pvm_isa::Args::RegRegReg(dst, a, b)).ok_or(unexpected(op))?,
            ),
            MInst::AluRRI { op, dst, src, imm } => self.push(
                Instruction::new(op, pvm_isa::Args::RegRegImm(dst, src, imm))
                    .ok_or(unexpected(op))?,
            ),
            MInst::AluRR { op, dst, src } => self
                .push(Instruction::new(op, pvm_isa::Args::RegReg(dst, src)).ok_or(unexpected(op))?),
            MInst::Mov { dst, src } => {
                if dst != src {
                    self.push(Instruction::move_reg(dst, src));
                }
            }
            MInst::LoadImm { dst, imm } => self.push(Instruction::load_imm(dst, imm)),
            MInst::LoadImm64 { dst, imm } => self.push(Instruction::load_imm64(dst, imm)),
            MInst::Cmov {
                op, dst, src, cond, ..
            } => self.push(
                Instruction::new(op, pvm_isa::Args::RegRegReg(dst, src, cond))
                    .ok_or(unexpected(op))?,
            ),
            MInst::CmovImm {
                op, dst, imm, cond, ..
            } => self.push(
                Instruction::new(op, pvm_isa::Args::RegRegImm(dst, cond, imm))
                    .ok_or(unexpected(op))?,
            ),
            MInst::Load {
                op,
                dst,
                base,
                offset,
            } => self.push(self.memory(op, dst, base, offset).ok_or(unexpected(op))?),
            MInst::Store {
                op,
                src,
                base,
                offset,
            } => self.push(self.memory(op, src, base, offset).ok_or(unexpected(op))?),
            MInst::StoreImm {
                op,
                value,
                base,
                offset,
            } => {
                let inst = match self.base(base, offset) {
                    Some((base, offset)) => {
                        Instruction::new(op, pvm_isa::Args::RegImmImm(base, offset, value))
                    }
                    None => absolute_form(op)
                        .and_then(|op| Instruction::new(op, pvm_isa::Args::ImmImm(offset, value))),
                };
                self.push(inst.ok_or(unexpected(op))?);
            }
            MInst::StackAddr { dst, offset } => {
                let offset = self.frame.slot_area_offset().wrapping_add(offset);
                self.push(Instruction::add_imm_64(dst, SP, offset));
            }
            MInst::DataAddr {
                dst,
                ref symbol,
                addend,
            } => {
                self.code.push(Item::DataAddr {
                    dst,
                    symbol: symbol.clone(),
                    addend,
                });
                self.ended_block = false;
            }
            MInst::Trap => self.push(Instruction::trap()),
            MInst::TrapIf { cc, a, b } => {
                let trap = self.trap_label();
                self.push(branch(cc, a, b, trap));
            }
            MInst::Jump { .. } | MInst::CondBr { .. } | MInst::BrTable { .. } => {
                return Err(CompileError::Internal(
                    "branch in the middle of a block".into(),
                ))
            }
        }
        Ok(())
    }
}

/// An allocation as the VCode text shows it: a register, or `spillN`.
fn location(alloc: Allocation) -> String {
    match (alloc.as_reg(), alloc.as_stack()) {
        (Some(preg), _) => reg_of(preg).to_string(),
        (None, Some(slot)) => format!("spill{}", slot.index()),
        _ => "none".into(),
    }
}

/// The instruction of a block that emits nothing else (no moves either).
fn only_inst<'v>(vcode: &'v VCode, output: &Output, block: Block) -> Option<&'v MInst<VReg>> {
    let mut items = output.block_insts_and_edits(vcode, block);
    match (items.next(), items.next()) {
        (Some(InstOrEdit::Inst(inst)), None) => Some(vcode.inst(inst)),
        _ => None,
    }
}

/// Whether `block` emits nothing but a jump, and where that jump goes.
fn forwarding_target(vcode: &VCode, output: &Output, block: Block) -> Option<Block> {
    match only_inst(vcode, output, block)? {
        MInst::Jump { target } => Some(*target),
        _ => None,
    }
}

/// Emits the allocated `vcode`.
pub(crate) fn emit(
    vcode: &VCode,
    output: &Output,
    options: &Options,
) -> Result<Emitted, CompileError> {
    let num_blocks = vcode.num_blocks();
    let (frame, placement) = frame::frame_and_placement(vcode, output, options.shrink_wrap);
    // A block that sets the frame up or tears it down on its way out emits more than a jump.
    let forwards = |b: Block| {
        let target = forwarding_target(vcode, output, b)?;
        let frame_code = placement.setup == Some(b)
            || (placement.active[b.index()] && !placement.active[target.index()]);
        (!frame_code).then_some(target)
    };
    // Where a branch to each block really goes, past blocks that only jump on. A chain that
    // runs into a cycle of such blocks (an empty infinite loop) stops at the first block it
    // meets twice: walked from a block of the cycle, that is the block itself, so every block
    // of the cycle is its own destination and is emitted.
    let dest: Vec<Block> = (0..num_blocks)
        .map(|b| {
            let mut path = vec![Block::new(b)];
            let mut target = Block::new(b);
            while let Some(next) = forwards(target).filter(|&next| next != target) {
                if path.contains(&next) {
                    return next;
                }
                path.push(next);
                target = next;
            }
            target
        })
        .collect();
    // Blocks that only trap are not emitted either: branches to them go to the shared `trap`.
    let trap_only: Vec<bool> = (0..num_blocks)
        .map(|b| matches!(only_inst(vcode, output, Block::new(b)), Some(MInst::Trap)))
        .collect();
    // The entry block is always emitted: the function starts there.
    let emitted: Vec<Block> = (0..num_blocks)
        .map(Block::new)
        .filter(|&b| b.index() == 0 || (dest[b.index()] == b && !trap_only[b.index()]))
        .collect();
    let next_emitted = |b: Block| emitted.iter().find(|&&e| e.index() > b.index()).copied();
    // The blocks some emitted branch or jump will name (the others are only fallen into).
    let mut targeted = vec![false; num_blocks];
    for &block in &emitted {
        let last = vcode.block_insns(block).last();
        let next = next_emitted(block);
        match *vcode.inst(last) {
            MInst::Jump { target } if Some(dest[target.index()]) != next => {
                targeted[dest[target.index()].index()] = true;
            }
            MInst::CondBr {
                taken, not_taken, ..
            } => {
                let (taken, not_taken) = (dest[taken.index()], dest[not_taken.index()]);
                if Some(not_taken) != next {
                    targeted[not_taken.index()] = true;
                }
                if Some(taken) != next || Some(not_taken) != next {
                    targeted[taken.index()] = true;
                }
            }
            MInst::BrTable {
                scaled,
                default,
                ref targets,
                ..
            } => {
                let default = dest[default.index()];
                // A compare chain falls through to a default that comes next.
                if scaled.is_some() || Some(default) != next {
                    targeted[default.index()] = true;
                }
                for target in targets {
                    targeted[dest[target.index()].index()] = true;
                }
            }
            _ => {}
        }
    }

    let mut emitter = Emitter {
        code: FunctionCode::default(),
        frame,
        placement,
        active: false,
        labels: Vec::new(),
        trap: None,
        ended_block: true,
    };
    let labels = (0..num_blocks)
        .map(|b| {
            if trap_only[b] {
                emitter.trap_label()
            } else {
                emitter.code.new_label()
            }
        })
        .collect();
    emitter.labels = labels;
    let mut vcode_text = String::new();

    for &block in &emitted {
        let next = next_emitted(block);
        let label = emitter.labels[block.index()];
        emitter.code.push(Item::Bind(label));
        let _ = writeln!(vcode_text, "block{}:", block.index());
        // First, before any frame setup: the gas model looks at a branch target's first
        // instruction.
        if vcode.is_cold(block) && options.unlikely && options.flavour == Flavour::JamV1 {
            let _ = writeln!(vcode_text, "  unlikely");
            emitter.push(Instruction::unlikely());
        }
        emitter.active = emitter.placement.active[block.index()];
        if emitter.placement.setup == Some(block) {
            emitter.prologue();
        }
        for item in output.block_insts_and_edits(vcode, block) {
            match item {
                InstOrEdit::Edit(Edit::Move { from, to }) => {
                    let _ = writeln!(
                        vcode_text,
                        "  move {} <- {}",
                        location(*to),
                        location(*from)
                    );
                    emitter.mov(*from, *to);
                }
                InstOrEdit::Inst(index) => {
                    let mut allocs = output.inst_allocs(index).iter();
                    let inst = vcode.inst(index).map_regs(|_, _| {
                        let alloc = allocs.next().expect("one allocation per operand");
                        reg_of(alloc.as_reg().expect("operands are register-constrained"))
                    });
                    // Show where branches really go: blocks that only jump on are not emitted.
                    let shown = inst.map_targets(|b| dest[b.index()]);
                    let _ = writeln!(vcode_text, "  {shown}");
                    match inst {
                        MInst::Jump { target } => {
                            let target = dest[target.index()];
                            if !emitter.placement.active[target.index()] {
                                emitter.epilogue();
                            }
                            if Some(target) != next {
                                let label = emitter.labels[target.index()];
                                emitter.push(Instruction::jump(label));
                            }
                        }
                        MInst::CondBr {
                            cc,
                            a,
                            b,
                            taken,
                            not_taken,
                        } => {
                            let (taken, not_taken) = (dest[taken.index()], dest[not_taken.index()]);
                            let label = |b: Block| emitter.labels[b.index()];
                            let (t, f) = (label(taken), label(not_taken));
                            if Some(not_taken) == next {
                                emitter.push(branch(cc, a, b, t));
                            } else if Some(taken) == next {
                                emitter.push(branch(cc.complement(), a, b, f));
                            } else {
                                emitter.push(branch(cc, a, b, t));
                                emitter.push(Instruction::jump(f));
                            }
                        }
                        MInst::BrTable {
                            index,
                            scaled,
                            default,
                            targets,
                        } => {
                            let label = |b: Block| emitter.labels[dest[b.index()].index()];
                            let targets: Vec<LocalLabel> = targets.into_iter().map(label).collect();
                            let default_next = Some(dest[default.index()]) == next;
                            emitter.br_table(
                                index,
                                scaled,
                                label(default),
                                &targets,
                                default_next,
                            )?;
                        }
                        other => emitter.inst(&other)?,
                    }
                }
            }
        }
        // Falling into a block that is also a branch target: the PVM wants it to start a
        // basic block.
        if !emitter.ended_block && next.is_some_and(|n| targeted[n.index()]) {
            emitter.push(Instruction::fallthrough());
        }
    }
    if let Some(trap) = emitter.trap {
        emitter.code.push(Item::Bind(trap));
        emitter.push(Instruction::trap());
    }
    Ok(Emitted {
        code: emitter.code,
        frame: emitter.frame,
        vcode_text,
    })
}
