//! VCode: machine instructions on virtual registers, in blocks, in final layout order, as
//! regalloc2 sees them.
//!
//! Invariants (established by lowering, relied on by regalloc2 and emission): every block ends
//! with exactly one terminator ([`MInst::is_terminator`]) and has no other; a block's
//! successors are its terminator's targets ([`MInst::successors`]), and `succ_args[i]` are
//! the registers passed to successor `i`'s parameters; no edge is critical; every virtual
//! register is defined once.

use crate::inst::{MInst, Role};
use regalloc2::{
    Block, Function, Inst, InstRange, Operand, OperandConstraint, OperandKind, OperandPos, PRegSet,
    RegClass, VReg,
};

/// One block while it is being built.
#[derive(Default, Debug)]
pub(crate) struct VCodeBlock {
    pub(crate) params: Vec<VReg>,
    pub(crate) insts: Vec<MInst<VReg>>,
    /// Registers passed to each successor, in successor order.
    pub(crate) succ_args: Vec<Vec<VReg>>,
    /// A cold block (CLIF's `cold`, a rare path): emission starts it with `unlikely` on
    /// jam-v1 (see [`crate::Options::unlikely`]).
    pub(crate) cold: bool,
}

/// A function's machine code on virtual registers.
#[derive(Debug)]
pub struct VCode {
    insts: Vec<MInst<VReg>>,
    operands: Vec<Operand>,
    /// Each instruction's range in `operands`.
    operand_ranges: Vec<(u32, u32)>,
    block_ranges: Vec<InstRange>,
    block_params: Vec<Vec<VReg>>,
    succs: Vec<Vec<Block>>,
    preds: Vec<Vec<Block>>,
    succ_args: Vec<Vec<Vec<VReg>>>,
    cold: Vec<bool>,
    num_vregs: usize,
    /// Bytes of CLIF stack slots in the frame.
    slot_area: u32,
    /// Bytes of the argument area the function's calls need.
    outgoing_area: u32,
}

fn operand(reg: VReg, role: Role) -> Operand {
    match role {
        Role::Use => Operand::reg_use(reg),
        Role::LateUse => Operand::new(
            reg,
            OperandConstraint::Reg,
            OperandKind::Use,
            OperandPos::Late,
        ),
        Role::Def => Operand::reg_def(reg),
        Role::FixedUse(preg) => Operand::reg_fixed_use(reg, preg),
        Role::FixedDef(preg) => Operand::reg_fixed_def(reg, preg),
        Role::ReuseDef(index) => Operand::new(
            reg,
            OperandConstraint::Reuse(index),
            OperandKind::Def,
            OperandPos::Late,
        ),
    }
}

impl VCode {
    pub(crate) fn new(
        blocks: Vec<VCodeBlock>,
        num_vregs: usize,
        slot_area: u32,
        outgoing_area: u32,
    ) -> Self {
        let mut vcode = VCode {
            insts: Vec::new(),
            operands: Vec::new(),
            operand_ranges: Vec::new(),
            block_ranges: Vec::new(),
            block_params: Vec::new(),
            succs: Vec::new(),
            preds: vec![Vec::new(); blocks.len()],
            succ_args: Vec::new(),
            cold: Vec::new(),
            num_vregs,
            slot_area,
            outgoing_area,
        };
        for (index, block) in blocks.into_iter().enumerate() {
            let start = vcode.insts.len();
            let succs: Vec<Block> = block
                .insts
                .last()
                .map(MInst::successors)
                .unwrap_or_default();
            for &succ in &succs {
                vcode.preds[succ.index()].push(Block::new(index));
            }
            for inst in block.insts {
                let first = vcode.operands.len() as u32;
                inst.map_regs(|reg, role| vcode.operands.push(operand(reg, role)));
                vcode
                    .operand_ranges
                    .push((first, vcode.operands.len() as u32));
                vcode.insts.push(inst);
            }
            vcode.block_ranges.push(InstRange::new(
                Inst::new(start),
                Inst::new(vcode.insts.len()),
            ));
            vcode.block_params.push(block.params);
            vcode.succs.push(succs);
            vcode.succ_args.push(block.succ_args);
            vcode.cold.push(block.cold);
        }
        vcode
    }

    /// Whether `block` is cold (`VCodeBlock::cold`).
    pub fn is_cold(&self, block: Block) -> bool {
        self.cold[block.index()]
    }

    /// The instruction at `inst`.
    pub fn inst(&self, inst: Inst) -> &MInst<VReg> {
        &self.insts[inst.index()]
    }

    /// Bytes of CLIF stack slots the frame needs.
    pub fn slot_area(&self) -> u32 {
        self.slot_area
    }

    /// Bytes of argument area the function's calls need (see `abi.rs`).
    pub fn outgoing_area(&self) -> u32 {
        self.outgoing_area
    }

    /// Number of virtual registers.
    pub(crate) fn vreg_count(&self) -> usize {
        self.num_vregs
    }

    /// The blocks again, to be changed and rebuilt with [`VCode::new`].
    pub(crate) fn into_blocks(self) -> Vec<VCodeBlock> {
        let mut insts = self.insts.into_iter();
        self.block_ranges
            .iter()
            .zip(self.block_params)
            .zip(self.succ_args)
            .zip(self.cold)
            .map(|(((range, params), succ_args), cold)| VCodeBlock {
                params,
                insts: insts.by_ref().take(range.len()).collect(),
                succ_args,
                cold,
            })
            .collect()
    }
}

impl Function for VCode {
    fn num_insts(&self) -> usize {
        self.insts.len()
    }

    fn num_blocks(&self) -> usize {
        self.block_ranges.len()
    }

    fn entry_block(&self) -> Block {
        Block::new(0)
    }

    fn block_insns(&self, block: Block) -> InstRange {
        self.block_ranges[block.index()]
    }

    fn block_succs(&self, block: Block) -> &[Block] {
        &self.succs[block.index()]
    }

    fn block_preds(&self, block: Block) -> &[Block] {
        &self.preds[block.index()]
    }

    fn block_params(&self, block: Block) -> &[VReg] {
        &self.block_params[block.index()]
    }

    fn is_ret(&self, insn: Inst) -> bool {
        self.insts[insn.index()].is_ret() || matches!(self.insts[insn.index()], MInst::Trap)
    }

    fn is_branch(&self, insn: Inst) -> bool {
        self.insts[insn.index()].is_branch()
    }

    fn branch_blockparams(&self, block: Block, _insn: Inst, succ_idx: usize) -> &[VReg] {
        &self.succ_args[block.index()][succ_idx]
    }

    fn inst_operands(&self, insn: Inst) -> &[Operand] {
        let (start, end) = self.operand_ranges[insn.index()];
        &self.operands[start as usize..end as usize]
    }

    fn inst_clobbers(&self, insn: Inst) -> PRegSet {
        self.insts[insn.index()].clobbers()
    }

    fn num_vregs(&self) -> usize {
        self.num_vregs
    }

    fn spillslot_size(&self, _regclass: RegClass) -> usize {
        1
    }
}
