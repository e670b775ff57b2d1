//! Frames: what a function keeps on the stack, computed from what register allocation
//! actually used, and where the frame is set up (shrink wrapping).
//!
//! The layout is the one `abi.rs` draws: from the stack pointer up, the saved return address
//! (functions that call), the argument area of the function's calls, the callee-saved
//! registers the function writes, spill slots, and CLIF stack slots.
//!
//! # Shrink wrapping
//!
//! A block *needs the frame* when it touches it or relies on it: it calls (the return
//! address is saved in the frame), addresses a stack slot or the outgoing argument area,
//! moves a value to or from a spill slot, or reads or writes a callee-saved register. With
//! [`crate::Options::shrink_wrap`], the frame is set up (the prologue) at the start of one
//! block `S`, found thus:
//!
//! 1. `S` starts as the nearest common dominator of the blocks that need the frame;
//! 2. while `S` lies on a cycle of the control-flow graph, `S` becomes its immediate
//!    dominator (the entry lies on none: nothing branches to it).
//!
//! The frame is *active* in exactly the blocks `S` dominates (the region). It is torn down
//! (the epilogue) wherever control leaves the region: at every return and tail call in it,
//! and at the end of every block in it that jumps out of it. Blocks outside the region run
//! no frame code at all, so an early exit before the work that needs the frame costs nothing.
//! Without shrink wrapping, `S` is the entry. A frame no block needs is never set up.
//!
//! Which blocks need the frame depends on the allocator: a value defined before the region
//! and live across a call in it would get one callee-saved register for its whole life, and
//! make the blocks before the region need the frame too. So before allocation,
//! `split_at_region` splits such live ranges at the region the calls and stack slots imply
//! (copies at its start and at its exits), and the allocator sees the parts apart.
//!
//! # Invariants
//!
//! - Every block that needs the frame is in the region (`S` dominates them), so every stack
//!   access and every callee-saved register use happens with the frame set up.
//! - Control enters the region only at `S`'s start, once per stay: any other block of the
//!   region has only predecessors in the region (a predecessor outside would give a path to it
//!   that avoids `S`), and no edge inside the region leads back to `S`, as `S` lies on no
//!   cycle.
//! - Control that leaves the region never comes back to it: a path from outside back into it
//!   passes through `S`, which would put `S` on a cycle. So each block runs either always or
//!   never with the frame set up, and the stack pointer (hence every stack offset) is fixed
//!   within each block.
//! - A block that jumps out of the region has one successor: a block with several successors
//!   in the region dominates each single-predecessor successor, and lowering split every edge
//!   into a block with several predecessors. So the epilogue of an exit goes at the end of
//!   its block, after the allocator's moves and before the jump; the values crossing the exit
//!   are in caller-saved registers, as the blocks outside read no callee-saved register and
//!   no spill slot.

use crate::abi::{self, reg_of};
use crate::inst::{Base, MInst};
use crate::vcode::VCode;
use pvm_isa::Reg;
use regalloc2::{Allocation, Block, Edit, Function, InstOrEdit, Output};

/// The frame of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Whether the function calls: it then saves its return address at `sp + 0`.
    pub saves_return_address: bool,
    /// Bytes of argument area for the function's calls, at `sp + 8`.
    pub outgoing_bytes: u32,
    /// Callee-saved registers written, saved in the frame.
    pub saved: Vec<Reg>,
    /// Bytes of spill slots.
    pub spill_bytes: u32,
    /// Bytes of CLIF stack slots.
    pub slot_bytes: u32,
    /// The whole frame.
    pub size: u32,
}

/// Whether `alloc` is a register a function must preserve.
fn is_callee_saved(alloc: &Allocation) -> bool {
    alloc
        .as_reg()
        .is_some_and(|preg| abi::CALLEE_SAVED.contains(&reg_of(preg)))
}

/// Whether `inst` uses the frame itself (as opposed to registers it may have to save).
fn uses_frame(inst: &MInst<regalloc2::VReg>) -> bool {
    let in_frame = |base: &Base<_>| matches!(base, Base::StackSlots | Base::OutgoingArgs);
    match inst {
        MInst::Call { .. } | MInst::StackAddr { .. } => true,
        MInst::Load { base, .. } | MInst::Store { base, .. } | MInst::StoreImm { base, .. } => {
            in_frame(base)
        }
        _ => false,
    }
}

impl Frame {
    /// The frame `vcode` needs after allocation `output`.
    pub(crate) fn new(vcode: &VCode, output: &Output) -> Self {
        let spill_bytes = output.num_spillslots as u32 * 8;
        let slot_bytes = vcode.slot_area().next_multiple_of(8);
        let saves_return_address = (0..vcode.num_insts())
            .any(|i| matches!(vcode.inst(regalloc2::Inst::new(i)), MInst::Call { .. }));
        // A register is written by a definition or by a move into it.
        let mut written = [false; 13];
        let mut write = |alloc: &Allocation| {
            if let Some(preg) = alloc.as_reg() {
                written[usize::from(reg_of(preg).index())] = true;
            }
        };
        for index in 0..vcode.num_insts() {
            let inst = regalloc2::Inst::new(index);
            let operands = vcode.inst_operands(inst);
            for (operand, alloc) in operands.iter().zip(output.inst_allocs(inst)) {
                if operand.kind() == regalloc2::OperandKind::Def {
                    write(alloc);
                }
            }
        }
        for (_, Edit::Move { to, .. }) in &output.edits {
            write(to);
        }
        let saved: Vec<Reg> = abi::CALLEE_SAVED
            .into_iter()
            .filter(|r| written[usize::from(r.index())])
            .collect();
        let mut frame = Frame {
            saves_return_address,
            outgoing_bytes: vcode.outgoing_area(),
            saved,
            spill_bytes,
            slot_bytes,
            size: 0,
        };
        frame.size = frame.slot_area_offset() + slot_bytes;
        frame
    }

    /// The frame of a function that sets none up.
    fn empty() -> Self {
        Frame {
            saves_return_address: false,
            outgoing_bytes: 0,
            saved: Vec::new(),
            spill_bytes: 0,
            slot_bytes: 0,
            size: 0,
        }
    }

    /// Offset from `sp` of the saved return address.
    pub fn return_address_offset(&self) -> u32 {
        0
    }

    /// Offset from `sp` of the saved callee-saved register `saved[index]`.
    pub fn saved_offset(&self, index: usize) -> u32 {
        let below = if self.saves_return_address {
            abi::ARG_AREA_OFFSET + self.outgoing_bytes
        } else {
            0
        };
        below + 8 * index as u32
    }

    /// Offset from `sp` of spill slot `slot`.
    pub fn spill_offset(&self, slot: usize) -> u32 {
        self.saved_offset(self.saved.len()) + 8 * slot as u32
    }

    /// Offset from `sp` of the CLIF stack slots.
    pub fn slot_area_offset(&self) -> u32 {
        self.saved_offset(self.saved.len()) + self.spill_bytes
    }
}

/// Where a function's frame is set up, and which blocks run with it (see the module docs).
pub(crate) struct Placement {
    /// The block whose start sets the frame up; `None` when no block needs a frame.
    pub setup: Option<Block>,
    /// For each block, whether it runs with the frame set up.
    pub active: Vec<bool>,
}

/// The frame of `vcode` after allocation `output`, and its placement.
pub(crate) fn frame_and_placement(
    vcode: &VCode,
    output: &Output,
    shrink_wrap: bool,
) -> (Frame, Placement) {
    let num_blocks = vcode.num_blocks();
    let needs: Vec<bool> = (0..num_blocks)
        .map(|b| needs_frame(vcode, output, Block::new(b)))
        .collect();
    if !needs.contains(&true) {
        let placement = Placement {
            setup: None,
            active: vec![false; num_blocks],
        };
        return (Frame::empty(), placement);
    }
    let frame = Frame::new(vcode, output);
    let entry = vcode.entry_block();
    if !shrink_wrap {
        let placement = Placement {
            setup: Some(entry),
            active: vec![true; num_blocks],
        };
        return (frame, placement);
    }
    let dom = Dominators::new(vcode);
    let setup = region_start(vcode, &dom, &needs);
    let placement = Placement {
        setup: Some(setup),
        active: dom.dominated_by(setup),
    };
    (frame, placement)
}

/// Where the frame of a function whose blocks `needs` it is set up (see the module docs);
/// some block must need it.
fn region_start(vcode: &VCode, dom: &Dominators, needs: &[bool]) -> Block {
    let mut start = (0..needs.len())
        .filter(|&b| needs[b])
        .map(Block::new)
        .reduce(|a, b| dom.common(a, b))
        .expect("some block needs the frame");
    let on_cycle = on_cycle(vcode);
    while on_cycle[start.index()] {
        start = dom.idom[start.index()].expect("the entry lies on no cycle");
    }
    start
}

/// Helps shrink wrapping before register allocation by splitting live ranges at the frame's
/// likely region: values that the region uses but that are defined before it get a copy at
/// the region's start, used in their place inside it; and values a block of the region passes
/// to a block outside it are copied right before the jump.
///
/// The likely region is the one [`frame_and_placement`] would choose for the blocks known to
/// need the frame before allocation (calls, stack slots). Without the copies, a value defined
/// before the region (or a parameter of a block after it, which the allocator keeps in the
/// register of the values passed to it) and live across a call inside the region would get
/// one callee-saved register for its whole life, used outside the region: the frame would then
/// be needed, and set up, outside the region too. With them, the parts inside and outside are
/// allocated separately, and only the part inside needs a callee-saved register.
pub(crate) fn split_at_region(vcode: VCode) -> VCode {
    let num_blocks = vcode.num_blocks();
    let needs: Vec<bool> = (0..num_blocks)
        .map(|b| {
            let insts = vcode.block_insns(Block::new(b));
            insts.iter().any(|i| uses_frame(vcode.inst(i)))
        })
        .collect();
    if !needs.contains(&true) {
        return vcode;
    }
    let dom = Dominators::new(&vcode);
    let start = region_start(&vcode, &dom, &needs);
    if start == vcode.entry_block() {
        return vcode;
    }
    let in_region = dom.dominated_by(start);
    let region = || (0..num_blocks).filter(|&b| in_region[b]).map(Block::new);
    // The copies go before the start block's first call (the call reads its arguments before
    // it clobbers anything: they need no copy), or else at its start; uses from there on are
    // renamed.
    let start_insts = vcode.block_insns(start);
    let first_call = start_insts
        .iter()
        .position(|i| matches!(vcode.inst(i), MInst::Call { .. }));
    let renamed_from = first_call.map_or(0, |call| call + 1);
    let renamed = |block: Block| {
        let insts = vcode.block_insns(block);
        let skip = if block == start { renamed_from } else { 0 };
        insts.iter().skip(skip)
    };
    let mut defined_inside = vec![false; vcode.vreg_count()];
    for block in region() {
        for &param in vcode.block_params(block) {
            defined_inside[param.vreg()] = true;
        }
        for inst in vcode.block_insns(block).iter() {
            for operand in vcode.inst_operands(inst) {
                if operand.kind() == regalloc2::OperandKind::Def {
                    defined_inside[operand.vreg().vreg()] = true;
                }
            }
        }
    }
    // Each register defined before the region and read in it, once, in first-use order.
    let mut copies = Vec::new();
    let mut next = vcode.vreg_count();
    let mut copied = std::collections::HashMap::new();
    for block in region() {
        let last = vcode.block_insns(block).last();
        let operands = renamed(block).flat_map(|inst| vcode.inst_operands(inst).iter());
        let succ_args = (0..vcode.block_succs(block).len())
            .flat_map(|i| vcode.branch_blockparams(block, last, i).iter().copied());
        for reg in operands.map(|o| o.vreg()).chain(succ_args) {
            if !defined_inside[reg.vreg()] && !copied.contains_key(&reg) {
                let copy = regalloc2::VReg::new(next, reg.class());
                next += 1;
                copied.insert(reg, copy);
                copies.push(MInst::Mov {
                    dst: copy,
                    src: reg,
                });
            }
        }
    }
    // The blocks that jump out of the region.
    let exits: Vec<bool> = (0..num_blocks)
        .map(|b| {
            let succs = vcode.block_succs(Block::new(b));
            in_region[b] && succs.iter().any(|s| !in_region[s.index()])
        })
        .collect();
    if copies.is_empty() && !exits.contains(&true) {
        return vcode;
    }
    let (slot_area, outgoing_area) = (vcode.slot_area(), vcode.outgoing_area());
    let mut blocks = vcode.into_blocks();
    let rename = |reg: regalloc2::VReg| copied.get(&reg).copied().unwrap_or(reg);
    for (index, block) in blocks.iter_mut().enumerate() {
        if !in_region[index] {
            continue;
        }
        let skip = if index == start.index() {
            renamed_from
        } else {
            0
        };
        for inst in block.insts.iter_mut().skip(skip) {
            *inst = inst.map_regs(|reg, _| rename(reg));
        }
        for args in &mut block.succ_args {
            args.iter_mut().for_each(|reg| *reg = rename(*reg));
        }
    }
    let at = first_call.unwrap_or(0);
    blocks[start.index()].insts.splice(at..at, copies);
    // An exit has one successor (see the module docs): its arguments are copied before the
    // jump.
    for (block, _) in blocks.iter_mut().zip(&exits).filter(|(_, &exit)| exit) {
        let jump = block.insts.pop().expect("blocks end in a terminator");
        for args in &mut block.succ_args {
            for arg in args.iter_mut() {
                let copy = regalloc2::VReg::new(next, arg.class());
                next += 1;
                block.insts.push(MInst::Mov {
                    dst: copy,
                    src: *arg,
                });
                *arg = copy;
            }
        }
        block.insts.push(jump);
    }
    VCode::new(blocks, next, slot_area, outgoing_area)
}

/// Whether `block` needs the frame (see the module docs).
fn needs_frame(vcode: &VCode, output: &Output, block: Block) -> bool {
    output
        .block_insts_and_edits(vcode, block)
        .any(|item| match item {
            InstOrEdit::Edit(Edit::Move { from, to }) => {
                from.is_stack() || to.is_stack() || is_callee_saved(from) || is_callee_saved(to)
            }
            InstOrEdit::Inst(inst) => {
                uses_frame(vcode.inst(inst)) || output.inst_allocs(inst).iter().any(is_callee_saved)
            }
        })
}

/// Blocks in reverse postorder from the entry (every VCode block is reachable).
fn reverse_postorder(vcode: &VCode) -> Vec<Block> {
    let mut order = Vec::with_capacity(vcode.num_blocks());
    let mut visited = vec![false; vcode.num_blocks()];
    let entry = vcode.entry_block();
    visited[entry.index()] = true;
    // Each entry: a block and how many of its successors have been looked at.
    let mut stack = vec![(entry, 0)];
    while let Some((block, next)) = stack.last_mut() {
        let succs = vcode.block_succs(*block);
        if let Some(&succ) = succs.get(*next) {
            *next += 1;
            if !visited[succ.index()] {
                visited[succ.index()] = true;
                stack.push((succ, 0));
            }
        } else {
            order.push(*block);
            stack.pop();
        }
    }
    order.reverse();
    order
}

/// The dominator tree (Cooper, Harvey and Kennedy's iteration over reverse postorder).
struct Dominators {
    /// Each block's immediate dominator; `None` for the entry.
    idom: Vec<Option<Block>>,
    /// Each block's position in reverse postorder.
    rpo_index: Vec<usize>,
}

impl Dominators {
    fn new(vcode: &VCode) -> Self {
        let rpo = reverse_postorder(vcode);
        let mut rpo_index = vec![usize::MAX; vcode.num_blocks()];
        for (i, b) in rpo.iter().enumerate() {
            rpo_index[b.index()] = i;
        }
        let entry = vcode.entry_block();
        let mut dom = Dominators {
            idom: vec![None; vcode.num_blocks()],
            rpo_index,
        };
        // The entry is its own dominator during the iteration only.
        dom.idom[entry.index()] = Some(entry);
        let mut changed = true;
        while changed {
            changed = false;
            for &block in &rpo[1..] {
                let new = vcode
                    .block_preds(block)
                    .iter()
                    .copied()
                    .filter(|p| dom.idom[p.index()].is_some())
                    .reduce(|a, b| dom.common(a, b));
                if new.is_some() && new != dom.idom[block.index()] {
                    dom.idom[block.index()] = new;
                    changed = true;
                }
            }
        }
        dom.idom[entry.index()] = None;
        dom
    }

    /// The nearest block dominating both `a` and `b`.
    fn common(&self, mut a: Block, mut b: Block) -> Block {
        while a != b {
            while self.rpo_index[a.index()] > self.rpo_index[b.index()] {
                a = self.idom[a.index()].expect("only the entry has no dominator");
            }
            while self.rpo_index[b.index()] > self.rpo_index[a.index()] {
                b = self.idom[b.index()].expect("only the entry has no dominator");
            }
        }
        a
    }

    /// For each block, whether `root` dominates it.
    fn dominated_by(&self, root: Block) -> Vec<bool> {
        let mut dominated = vec![false; self.idom.len()];
        dominated[root.index()] = true;
        // Dominators come before the blocks they dominate in reverse postorder.
        let mut blocks: Vec<usize> = (0..self.idom.len()).collect();
        blocks.sort_by_key(|&b| self.rpo_index[b]);
        for b in blocks {
            if let Some(idom) = self.idom[b] {
                dominated[b] |= dominated[idom.index()];
            }
        }
        dominated
    }
}

/// For each block, whether it lies on a cycle: whether its strongly connected component
/// (Tarjan's algorithm) has several blocks or an edge to itself.
fn on_cycle(vcode: &VCode) -> Vec<bool> {
    let n = vcode.num_blocks();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut result = vec![false; n];
    let mut counter = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // The depth-first search, as (block, next successor to look at).
        let mut work = vec![(root, 0)];
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (block, ref mut next)) = work.last_mut() {
            let succs = vcode.block_succs(Block::new(block));
            if let Some(succ) = succs.get(*next).map(|s| s.index()) {
                *next += 1;
                if index[succ] == usize::MAX {
                    index[succ] = counter;
                    low[succ] = counter;
                    counter += 1;
                    stack.push(succ);
                    on_stack[succ] = true;
                    work.push((succ, 0));
                } else if on_stack[succ] {
                    low[block] = low[block].min(index[succ]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[block]);
            }
            if low[block] == index[block] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == block {
                        break;
                    }
                }
                let cyclic = component.len() > 1 || succs.iter().any(|s| s.index() == block);
                for member in component {
                    result[member] = cyclic;
                }
            }
        }
    }
    result
}
