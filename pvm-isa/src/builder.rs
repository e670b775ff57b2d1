//! The code builder: instructions with symbolic labels in, a [`CodeBlob`] out.
//!
//! Layout relies on one property of the encoding: an instruction's length is a non-decreasing
//! function of the distance to its target (in each direction), because [`imm_len`](crate::imm_len)
//! is. Starting from every distance at zero (the shortest lengths) and recomputing lengths from
//! the previous pass's offsets therefore only ever grows lengths, so the iteration reaches a
//! fixpoint, and at the fixpoint every instruction has the shortest encoding for its final place.
//!
//! Established for a successful [`CodeBuilder::finish`]: every static target and every
//! jump-table entry is a basic-block start (offset 0 or right after a terminator), as the GP
//! requires; every label is bound; and for [`Flavour::JamV1`], the code cannot run off its end
//! (polkavm's validator refuses such code).

use crate::blob::{jump_table_address, CodeBlob};
use crate::encode::{encode, NotInFlavour};
use crate::inst::Instruction;
use crate::table::{Flavour, Opcode};
use core::fmt;

/// A position in the code, bound to the instruction that follows [`CodeBuilder::bind`].
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Label(u32);

impl Label {
    /// The label's number, in creation order.
    pub const fn index(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

/// One unit of code: an instruction, or raw bytes that the machine reads as one (undecodable)
/// instruction.
#[derive(Clone, Debug)]
enum Item {
    Inst(Instruction<Label>),
    Raw(Vec<u8>),
}

impl Item {
    fn ends_block(&self) -> bool {
        match self {
            Item::Inst(inst) => inst.opcode().ends_block(),
            // An opcode byte outside the flavour executes as `trap` but is not in the GP's
            // terminator set, so it does not end a block.
            Item::Raw(_) => false,
        }
    }
}

/// Why code could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A label used as a target or jump-table entry was never bound.
    #[error("label {0} is used but never bound")]
    UnboundLabel(Label),
    /// [`CodeBuilder::bind`] was called twice for one label.
    #[error("label {0} is bound twice")]
    LabelBoundTwice(Label),
    /// A label bound after the last instruction is used: there is no instruction to jump to.
    #[error("label {0} is bound at the end of the code, after every instruction")]
    LabelAtEnd(Label),
    /// A jump, branch or jump-table entry targets an instruction that does not start a block.
    #[error("label {label} (instruction {index}, code offset {offset:#x}) is a jump target but not a basic-block start: the instruction before it does not end a block")]
    NotBlockStart {
        /// The label.
        label: Label,
        /// The index of the instruction it names.
        index: usize,
        /// That instruction's code offset.
        offset: u32,
    },
    /// An instruction the flavour lacks.
    #[error(transparent)]
    NotInFlavour(#[from] NotInFlavour),
    /// For `jam-v1`: the last instruction can fall through past the end of the code.
    #[error("the code can run off its end: the last instruction must be trap, jump, jump_indirect, load_imm_and_jump or load_imm_and_jump_indirect")]
    FallsOffEnd,
    /// The code exceeds the largest code blob.
    #[error("the code is {0} bytes, more than a code blob can hold")]
    TooLarge(u64),
}

/// Builds code from instructions whose targets are [`Label`]s.
#[derive(Clone, Debug)]
pub struct CodeBuilder {
    flavour: Flavour,
    items: Vec<Item>,
    /// For each label, the index of the item it names, once bound.
    labels: Vec<Option<usize>>,
    jump_table: Vec<Label>,
}

/// Built code: the blob and where each instruction and label ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltCode {
    /// The code blob.
    pub blob: CodeBlob,
    /// The code offset of each pushed instruction, in push order.
    pub offsets: Vec<u32>,
    /// The code offset of each label, by label index (`None` if never bound).
    pub label_offsets: Vec<Option<u32>>,
}

impl BuiltCode {
    /// The code offset of `label`, if it was bound.
    pub fn label_offset(&self, label: Label) -> Option<u32> {
        self.label_offsets.get(label.0 as usize).copied().flatten()
    }
}

impl CodeBuilder {
    /// An empty builder for `flavour`.
    pub fn new(flavour: Flavour) -> Self {
        CodeBuilder {
            flavour,
            items: Vec::new(),
            labels: Vec::new(),
            jump_table: Vec::new(),
        }
    }

    /// The flavour being built for.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label((self.labels.len() - 1) as u32)
    }

    /// Binds `label` to the next instruction pushed.
    pub fn bind(&mut self, label: Label) -> Result<(), BuildError> {
        let slot = &mut self.labels[label.0 as usize];
        if slot.is_some() {
            return Err(BuildError::LabelBoundTwice(label));
        }
        *slot = Some(self.items.len());
        Ok(())
    }

    /// A new label bound to the next instruction pushed.
    pub fn bind_new(&mut self) -> Label {
        let label = self.new_label();
        self.labels[label.0 as usize] = Some(self.items.len());
        label
    }

    /// Appends an instruction.
    pub fn push(&mut self, inst: Instruction<Label>) {
        self.items.push(Item::Inst(inst));
    }

    /// Appends bytes that the machine will read as one instruction starting at their first byte
    /// (for reproducing code that does not decode, such as an unknown opcode).
    pub fn push_raw(&mut self, bytes: Vec<u8>) {
        self.items.push(Item::Raw(bytes));
    }

    /// The number of instructions pushed so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `label` to the jump table and returns the address `jump_indirect` uses to reach it
    /// (known at once: it depends on the entry's index, not on the layout).
    pub fn jump_table_entry(&mut self, label: Label) -> u32 {
        self.jump_table.push(label);
        jump_table_address((self.jump_table.len() - 1) as u32)
    }

    /// Lays the code out and encodes it.
    pub fn finish(self) -> Result<BuiltCode, BuildError> {
        let targets = self.resolve_labels()?;
        if self.flavour == Flavour::JamV1 {
            self.check_cannot_fall_off_end()?;
        }
        let mut lengths = vec![0u32; self.items.len()];
        let mut offsets = vec![0u32; self.items.len() + 1];
        let mut bytes = Vec::new();
        loop {
            let mut changed = false;
            bytes.clear();
            for (i, item) in self.items.iter().enumerate() {
                let start = bytes.len();
                self.encode_item(item, offsets[i], &offsets, &mut bytes)?;
                let len = (bytes.len() - start) as u32;
                changed |= len != lengths[i];
                lengths[i] = len;
            }
            if !changed {
                break;
            }
            for i in 0..self.items.len() {
                offsets[i + 1] = offsets[i] + lengths[i];
            }
            if u64::from(offsets[self.items.len()]) > crate::blob::MAX_CODE_LEN {
                return Err(BuildError::TooLarge(offsets[self.items.len()].into()));
            }
        }
        let offsets = &offsets[..self.items.len()];
        self.check_block_starts(&targets, offsets)?;
        let mut bitmask = vec![0u8; bytes.len().div_ceil(8)];
        for &offset in offsets {
            bitmask[offset as usize / 8] |= 1 << (offset % 8);
        }
        let item_offset = |index: usize| offsets[index];
        let blob = CodeBlob {
            jump_table: self
                .jump_table
                .iter()
                .map(|&label| item_offset(targets[label.0 as usize].expect("resolved")))
                .collect(),
            code: bytes,
            bitmask,
        };
        Ok(BuiltCode {
            blob,
            offsets: offsets.to_vec(),
            label_offsets: self
                .labels
                .iter()
                .map(|slot| slot.filter(|&i| i < offsets.len()).map(item_offset))
                .collect(),
        })
    }

    /// Encodes `item` at `pc`, with targets taken from the current `offsets` guess.
    fn encode_item(
        &self,
        item: &Item,
        pc: u32,
        offsets: &[u32],
        out: &mut Vec<u8>,
    ) -> Result<(), BuildError> {
        match item {
            Item::Raw(bytes) => out.extend_from_slice(bytes),
            Item::Inst(inst) => {
                let inst = inst.map_target(|label| {
                    // `resolve_labels` has checked every used label is bound inside the code.
                    let index = self.labels[label.0 as usize].expect("resolved");
                    offsets[index]
                });
                encode(&inst, self.flavour, pc, out)?;
            }
        }
        Ok(())
    }

    /// Every label used as a static target or jump-table entry, with repeats.
    fn used_labels(&self) -> impl Iterator<Item = Label> + '_ {
        self.items
            .iter()
            .filter_map(|item| match item {
                Item::Inst(inst) => inst.target().copied(),
                Item::Raw(_) => None,
            })
            .chain(self.jump_table.iter().copied())
    }

    /// Checks every used label is bound to an instruction; returns the label → item map.
    fn resolve_labels(&self) -> Result<Vec<Option<usize>>, BuildError> {
        for label in self.used_labels() {
            match self.labels[label.0 as usize] {
                None => return Err(BuildError::UnboundLabel(label)),
                Some(index) if index >= self.items.len() => {
                    return Err(BuildError::LabelAtEnd(label))
                }
                Some(_) => {}
            }
        }
        Ok(self.labels.clone())
    }

    fn check_block_starts(
        &self,
        targets: &[Option<usize>],
        offsets: &[u32],
    ) -> Result<(), BuildError> {
        let starts_block = |index: usize| index == 0 || self.items[index - 1].ends_block();
        for label in self.used_labels() {
            let index = targets[label.0 as usize].expect("resolved");
            if !starts_block(index) {
                return Err(BuildError::NotBlockStart {
                    label,
                    index,
                    offset: offsets[index],
                });
            }
        }
        Ok(())
    }

    fn check_cannot_fall_off_end(&self) -> Result<(), BuildError> {
        let ends_cleanly = match self.items.last() {
            None => true,
            Some(Item::Raw(_)) => false,
            Some(Item::Inst(inst)) => matches!(
                inst.opcode(),
                Opcode::trap
                    | Opcode::jump
                    | Opcode::jump_indirect
                    | Opcode::load_imm_and_jump
                    | Opcode::load_imm_and_jump_indirect
            ),
        };
        if ends_cleanly {
            Ok(())
        } else {
            Err(BuildError::FallsOffEnd)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reg::Reg::*;

    #[test]
    fn backward_and_forward_branches_resolve() {
        let mut b = CodeBuilder::new(Flavour::JamV1);
        let exit = b.new_label();
        b.push(Instruction::fallthrough());
        let top = b.bind_new();
        b.push(Instruction::branch_eq_imm(R7, 10, exit));
        b.push(Instruction::add_imm_64(R7, R7, 1));
        b.push(Instruction::jump(top));
        b.bind(exit).unwrap();
        b.push(Instruction::trap());
        let built = b.finish().unwrap();
        assert_eq!(built.offsets, vec![0, 1, 5, 8, 10]);
        assert_eq!(built.label_offset(top), Some(1));
        assert_eq!(built.label_offset(exit), Some(10));
        assert_eq!(
            built.blob.code,
            [1, 81, 0x17, 10, 9, 149, 0x77, 1, 40, 0xf9, 0]
        );
        assert_eq!(built.blob.bitmask, [0b0010_0011, 0b0000_0101]);
    }

    #[test]
    fn lengths_grow_to_a_fixpoint() {
        // A forward jump over 200 bytes of code needs a 2-byte offset, which moves the target.
        let mut b = CodeBuilder::new(Flavour::JamV1);
        let end = b.new_label();
        b.push(Instruction::jump(end));
        for _ in 0..25 {
            b.push(Instruction::load_imm64(R2, u64::MAX)); // 10 bytes each
        }
        b.push(Instruction::trap());
        b.bind(end).unwrap();
        b.push(Instruction::trap());
        let built = b.finish().unwrap();
        assert_eq!(built.offsets[1], 3);
        assert_eq!(built.label_offset(end), Some(254));
        assert_eq!(&built.blob.code[..3], &[40, 254, 0]);
    }

    #[test]
    fn jump_table_entries_resolve_to_offsets() {
        let mut b = CodeBuilder::new(Flavour::JamV1);
        let target = b.new_label();
        let address = b.jump_table_entry(target);
        assert_eq!(address, 2);
        b.push(Instruction::jump_indirect(crate::Reg::R0, address));
        b.bind(target).unwrap();
        b.push(Instruction::trap());
        let built = b.finish().unwrap();
        assert_eq!(built.blob.jump_table, vec![3]);
    }

    #[test]
    fn errors_name_the_problem() {
        let mut b = CodeBuilder::new(Flavour::JamV1);
        let nowhere = b.new_label();
        b.push(Instruction::jump(nowhere));
        assert_eq!(b.finish().unwrap_err(), BuildError::UnboundLabel(nowhere));

        let mut b = CodeBuilder::new(Flavour::JamV1);
        let l = b.bind_new();
        assert_eq!(b.bind(l), Err(BuildError::LabelBoundTwice(l)));

        let mut b = CodeBuilder::new(Flavour::JamV1);
        b.push(Instruction::load_imm(R7, 1));
        let mid = b.bind_new();
        b.push(Instruction::jump(mid));
        assert_eq!(
            b.finish().unwrap_err().to_string(),
            "label L0 (instruction 1, code offset 0x3) is a jump target but not a basic-block start: the instruction before it does not end a block"
        );

        let mut b = CodeBuilder::new(Flavour::JamV1);
        b.push(Instruction::load_imm(R7, 1));
        assert_eq!(b.finish().unwrap_err(), BuildError::FallsOffEnd);

        let mut b = CodeBuilder::new(Flavour::Gp072);
        b.push(Instruction::unlikely());
        assert!(matches!(b.finish(), Err(BuildError::NotInFlavour(_))));
    }
}
