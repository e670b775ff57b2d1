//! Lowering: an optimized CLIF function → [`VCode`] on virtual registers, through the ISLE
//! rules in `src/lower/*.isle` (one file per family of CLIF instructions, `prelude.isle` first).
//!
//! Relies on: the function verifies and has been through the mid-end (so every block is
//! reachable from the entry or is skipped, and constants are folded where they can be).
//!
//! Establishes (what register allocation and emission rely on):
//! - blocks are laid out in reverse postorder, with blocks that end in `trap` and the regions
//!   of the blocks CLIF marks `cold` moved last (a cold block keeps the mark,
//!   `VCodeBlock::cold`); the first block starts with [`MInst::Args`], defining the
//!   arguments in their ABI registers (a synthetic first block does this and jumps to the
//!   CLIF entry block when branches lead back to the entry, whose parameters must then be
//!   block parameters);
//! - no critical edges: each edge from a block with several successors into a block with
//!   several incoming edges gets its own block holding one jump (emission removes it again
//!   when register allocation put nothing on it);
//! - an instruction is lowered only if it has a side effect or one of its results is used by
//!   something lowered; values fused into another instruction (a compare into a branch, a
//!   constant into an immediate) cost nothing when nothing else needs them. For this, blocks
//!   are lowered last to first and instructions bottom-up: in SSA form every use of a value
//!   is then seen before its definition;
//! - narrow integers are kept sign-extended to 64 bits in their registers (see `prelude.isle`).

mod call;
mod isle;

use crate::inst::MInst;
use crate::vcode::{VCode, VCodeBlock};
use crate::CompileError;
use cranelift_codegen::dominator_tree::DominatorTree;
use cranelift_codegen::entity::SecondaryMap;
use cranelift_codegen::flowgraph::ControlFlowGraph;
use cranelift_codegen::ir::{self, Function, InstructionData, Value};
use regalloc2::{Block, RegClass, VReg};
use std::collections::HashMap;

/// The registers holding one CLIF value: one, or two (low, high) for `i128`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ValueRegs {
    regs: [VReg; 2],
    len: u8,
}

impl ValueRegs {
    /// One register.
    pub fn one(reg: VReg) -> Self {
        ValueRegs {
            regs: [reg, reg],
            len: 1,
        }
    }

    /// Two registers, low half first.
    pub fn two(lo: VReg, hi: VReg) -> Self {
        ValueRegs {
            regs: [lo, hi],
            len: 2,
        }
    }

    /// The `index`th register.
    pub fn get(&self, index: usize) -> VReg {
        assert!(
            index < usize::from(self.len),
            "register {index} of a {}-register value",
            self.len
        );
        self.regs[index]
    }

    /// The registers, in order.
    pub fn regs(&self) -> &[VReg] {
        &self.regs[..usize::from(self.len)]
    }
}

/// A branch's successor blocks, in the order CLIF lists them.
pub(crate) type Targets = Vec<Block>;

/// The canonical register contents of a constant of type `ty`: its low `ty.bits()` bits,
/// sign-extended to 64.
pub(crate) fn canonical(ty: ir::Type, bits: i64) -> i64 {
    let width = ty.bits().min(64);
    let shift = 64 - width;
    (bits << shift) >> shift
}

/// How many registers hold a value of type `ty`.
pub(crate) fn regs_for(ty: ir::Type) -> usize {
    if ty.bits() > 64 {
        2
    } else {
        1
    }
}

/// The state of lowering one function.
pub(crate) struct Lowering<'f> {
    func: &'f Function,
    /// The registers assigned to each value up front (results are aliased to what the rules
    /// produce once their instruction is lowered).
    value_regs: SecondaryMap<Value, Option<ValueRegs>>,
    /// Values some lowered instruction reads from registers.
    used: SecondaryMap<Value, bool>,
    next_vreg: usize,
    aliases: HashMap<VReg, VReg>,
    /// The machine instructions of the CLIF instruction being lowered, in order.
    current: Vec<MInst<VReg>>,
    /// Byte offset of each CLIF stack slot within the frame's slot area.
    pub(crate) slot_offsets: SecondaryMap<ir::StackSlot, u32>,
    /// Bytes of argument area the calls lowered so far need.
    outgoing_area: u32,
    /// Why an instruction the rules matched cannot be compiled after all (the first reason).
    error: Option<CompileError>,
}

impl<'f> Lowering<'f> {
    fn new(func: &'f Function) -> Self {
        let mut slot_offsets = SecondaryMap::new();
        let mut end = 0u32;
        for (slot, data) in func.sized_stack_slots.iter() {
            let align = 1u32 << data.align_shift.min(3);
            let offset = end.next_multiple_of(align);
            slot_offsets[slot] = offset;
            end = offset + data.size;
        }
        Lowering {
            func,
            value_regs: SecondaryMap::new(),
            used: SecondaryMap::new(),
            next_vreg: 0,
            aliases: HashMap::new(),
            current: Vec::new(),
            slot_offsets,
            outgoing_area: 0,
            error: None,
        }
    }

    /// A fresh virtual register.
    pub(crate) fn temp(&mut self) -> VReg {
        let reg = VReg::new(self.next_vreg, RegClass::Int);
        self.next_vreg += 1;
        reg
    }

    /// Appends a machine instruction to the current CLIF instruction's lowering.
    pub(crate) fn emit(&mut self, inst: MInst<VReg>) {
        self.current.push(inst);
    }

    /// The registers of `value` (assigned on first request).
    fn regs_of(&mut self, value: Value) -> ValueRegs {
        if let Some(regs) = self.value_regs[value] {
            return regs;
        }
        let ty = self.func.dfg.value_type(value);
        let regs = if regs_for(ty) == 2 {
            ValueRegs::two(self.temp(), self.temp())
        } else {
            ValueRegs::one(self.temp())
        };
        self.value_regs[value] = Some(regs);
        regs
    }

    /// The registers of `value`, marking it used so its definition is lowered.
    pub(crate) fn put_value_in_regs(&mut self, value: Value) -> ValueRegs {
        let value = self.func.dfg.resolve_aliases(value);
        self.used[value] = true;
        self.regs_of(value)
    }

    /// `value`'s constant contents (canonical), if an `iconst` defines it.
    pub(crate) fn constant(&self, value: Value) -> Option<i64> {
        let value = self.func.dfg.resolve_aliases(value);
        let inst = self.func.dfg.value_def(value).inst()?;
        match self.func.dfg.insts[inst] {
            InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                imm,
            } => Some(canonical(self.func.dfg.value_type(value), imm.bits())),
            _ => None,
        }
    }

    /// Whether `inst` must be lowered even if none of its results is used.
    fn has_side_effect(&self, inst: ir::Inst) -> bool {
        let data = &self.func.dfg.insts[inst];
        let op = data.opcode();
        let removable_load = op.can_load() && data.memflags().is_some_and(|f| f.notrap());
        // As in Cranelift, a load may trap (and so is kept) unless it is marked `notrap`.
        let trapping_load = op.can_load() && !removable_load;
        (op.can_trap() && !removable_load)
            || trapping_load
            || op.can_store()
            || op.is_call()
            || op.other_side_effects()
            || op.is_terminator()
    }

    fn lower_inst(&mut self, inst: ir::Inst) -> Result<(), CompileError> {
        let outputs = isle::generated::constructor_lower(self, inst);
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        let outputs = outputs.ok_or_else(|| self.unsupported(inst))?;
        let results = self.func.dfg.inst_results(inst);
        for (&result, produced) in results.iter().zip(outputs) {
            let assigned = self.regs_of(result);
            for (&from, &to) in assigned.regs().iter().zip(produced.regs()) {
                if from != to {
                    self.aliases.insert(from, to);
                }
            }
        }
        Ok(())
    }

    fn unsupported(&self, inst: ir::Inst) -> CompileError {
        CompileError::Unsupported(self.func.dfg.display_inst(inst).to_string())
    }

    /// Follows aliases to the register that is really defined.
    fn resolve(&self, mut reg: VReg) -> VReg {
        while let Some(&next) = self.aliases.get(&reg) {
            reg = next;
        }
        reg
    }
}

/// One block of the layout: a CLIF block, an edge block or the synthetic entry.
enum LayoutBlock {
    Entry,
    Clif(ir::Block),
    /// The `succ`th successor edge of the branch ending `from`.
    Edge {
        from: ir::Block,
        succ: usize,
    },
}

/// The successor edges of the branch `inst`: (target, arguments), in CLIF order.
fn successors(func: &Function, inst: ir::Inst) -> Vec<(ir::Block, Vec<Value>)> {
    func.dfg.insts[inst]
        .branch_destination(&func.dfg.jump_tables)
        .iter()
        .map(|call| {
            (
                call.block(&func.dfg.value_lists),
                call.args_slice(&func.dfg.value_lists).to_vec(),
            )
        })
        .collect()
}

/// Lowers `func` to VCode.
pub(crate) fn lower(func: &Function) -> Result<VCode, CompileError> {
    let cfg = ControlFlowGraph::with_function(func);
    let domtree = DominatorTree::with_function(func, &cfg);
    let entry = func.layout.entry_block().ok_or(CompileError::NoEntry)?;
    let terminator = |b: ir::Block| {
        func.layout
            .last_inst(b)
            .expect("verified: blocks end in a terminator")
    };

    // Reverse postorder of the reachable blocks, cold ones last: those that end in `trap`,
    // and the region of each block CLIF marks cold (it and every block it dominates, which is
    // reached only through it). Both parts keep reverse postorder, and a block outside a
    // cold region has no dominator inside one, so definitions still come before their uses.
    let rpo: Vec<ir::Block> = domtree.cfg_postorder().iter().rev().copied().collect();
    let mut cold_region: SecondaryMap<ir::Block, bool> = SecondaryMap::new();
    for &b in &rpo {
        let idom = domtree
            .idom(b)
            .and_then(|inst| func.layout.inst_block(inst));
        cold_region[b] = func.layout.is_cold(b) || idom.is_some_and(|d| cold_region[d]);
    }
    let is_cold =
        |b: ir::Block| cold_region[b] || func.dfg.insts[terminator(b)].opcode() == ir::Opcode::Trap;
    let order: Vec<ir::Block> = rpo
        .iter()
        .copied()
        .filter(|&b| !is_cold(b))
        .chain(rpo.iter().copied().filter(|&b| is_cold(b)))
        .collect();

    // Incoming edges per block (an edge per branch target, so a `brif` to one block twice
    // counts twice), to find the critical edges.
    let mut incoming: SecondaryMap<ir::Block, usize> = SecondaryMap::new();
    for &b in &order {
        for (target, _) in successors(func, terminator(b)) {
            incoming[target] += 1;
        }
    }
    // The arguments are defined at the top of the CLIF entry block, unless branches lead back
    // to it: then a block of its own defines them and jumps there with them as parameters.
    let synthetic_entry = incoming[entry] > 0;
    let mut layout = Vec::new();
    if synthetic_entry {
        incoming[entry] += 1;
        layout.push(LayoutBlock::Entry);
    }
    let mut block_index: SecondaryMap<ir::Block, u32> = SecondaryMap::new();
    let mut edge_index: HashMap<(ir::Block, usize), u32> = HashMap::new();
    for &b in &order {
        block_index[b] = layout.len() as u32;
        layout.push(LayoutBlock::Clif(b));
        let succs = successors(func, terminator(b));
        if succs.len() > 1 {
            for (succ, (target, _)) in succs.iter().enumerate() {
                if incoming[*target] > 1 {
                    edge_index.insert((b, succ), layout.len() as u32);
                    layout.push(LayoutBlock::Edge { from: b, succ });
                }
            }
        }
    }

    let mut lowering = Lowering::new(func);
    let mut blocks: Vec<VCodeBlock> = (0..layout.len()).map(|_| VCodeBlock::default()).collect();

    // Last to first, so uses are seen before definitions (see the module docs).
    for (index, item) in layout.iter().enumerate().rev() {
        let block = &mut blocks[index];
        match *item {
            LayoutBlock::Entry => {
                let mut arrives = Vec::new();
                for &param in func.dfg.block_params(entry) {
                    for _ in lowering.regs_of(param).regs() {
                        arrives.push(lowering.temp());
                    }
                }
                block.insts.extend(call::entry_args(&arrives));
                block.insts.push(MInst::Jump {
                    target: Block::new(block_index[entry] as usize),
                });
                block.succ_args = vec![arrives];
            }
            LayoutBlock::Edge { from, succ } => {
                let (target, args) = &successors(func, terminator(from))[succ];
                let mut regs = Vec::new();
                for &arg in args {
                    regs.extend_from_slice(lowering.put_value_in_regs(arg).regs());
                }
                block.insts.push(MInst::Jump {
                    target: Block::new(block_index[*target] as usize),
                });
                block.succ_args = vec![regs];
            }
            LayoutBlock::Clif(b) => {
                block.cold = func.layout.is_cold(b);
                let mut params = Vec::new();
                for &param in func.dfg.block_params(b) {
                    params.extend_from_slice(lowering.regs_of(param).regs());
                }
                let defines_args = b == entry && !synthetic_entry;
                if !defines_args {
                    block.params = params.clone();
                }
                let mut groups: Vec<Vec<MInst<VReg>>> = Vec::new();
                let term = terminator(b);
                // The branch, with each successor edge's block and the registers it passes.
                let succs = successors(func, term);
                let mut args_by_target: HashMap<Block, Vec<VReg>> = HashMap::new();
                let mut targets = Vec::new();
                for (succ, (target, args)) in succs.iter().enumerate() {
                    let vblock = match edge_index.get(&(b, succ)) {
                        Some(&edge) => Block::new(edge as usize),
                        None => {
                            let mut regs = Vec::new();
                            for &arg in args {
                                regs.extend_from_slice(lowering.put_value_in_regs(arg).regs());
                            }
                            let vblock = Block::new(block_index[*target] as usize);
                            args_by_target.insert(vblock, regs);
                            vblock
                        }
                    };
                    targets.push(vblock);
                }
                let lowered =
                    isle::generated::constructor_lower_branch(&mut lowering, term, &targets);
                if let Some(error) = lowering.error.take() {
                    return Err(error);
                }
                lowered.ok_or_else(|| lowering.unsupported(term))?;
                let branch = std::mem::take(&mut lowering.current);
                block.succ_args = branch
                    .last()
                    .map(MInst::successors)
                    .unwrap_or_default()
                    .iter()
                    .map(|t| args_by_target.get(t).cloned().unwrap_or_default())
                    .collect();
                groups.push(branch);

                let mut inst = func.layout.prev_inst(term);
                while let Some(i) = inst {
                    let needed = lowering.has_side_effect(i)
                        || func.dfg.inst_results(i).iter().any(|&r| lowering.used[r]);
                    if needed {
                        lowering.lower_inst(i)?;
                        groups.push(std::mem::take(&mut lowering.current));
                    }
                    inst = func.layout.prev_inst(i);
                }
                if defines_args {
                    groups.push(call::entry_args(&params));
                }
                block.insts = groups.into_iter().rev().flatten().collect();
            }
        }
    }

    let blocks = blocks
        .into_iter()
        .map(|mut block| {
            block.params = block.params.iter().map(|&r| lowering.resolve(r)).collect();
            for args in &mut block.succ_args {
                *args = args.iter().map(|&r| lowering.resolve(r)).collect();
            }
            block.insts = block
                .insts
                .iter()
                .map(|inst| inst.map_regs(|r, _| lowering.resolve(r)))
                .collect();
            block
        })
        .collect();
    let slot_area = func
        .sized_stack_slots
        .iter()
        .map(|(slot, data)| lowering.slot_offsets[slot] + data.size)
        .max()
        .unwrap_or(0);
    Ok(VCode::new(
        blocks,
        lowering.next_vreg,
        slot_area,
        lowering.outgoing_area,
    ))
}
