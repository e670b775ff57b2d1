//! The code blob (the GP's "deblob"): `E(|j|) ++ E_1(z) ++ E(|c|) ++ E_z(j_0) .. ++ c ++ k`.
//!
//! Invariants of a parsed [`CodeBlob`] (checked by [`CodeBlob::parse`], relied on by the
//! decoder, disassembler and machine): the bitmask `k` has exactly ⌈|c|/8⌉ bytes with no padding
//! bits set, non-empty code starts with an instruction, and every jump-table entry is the first
//! byte of an instruction inside the code.

use crate::decode::{decode, UnknownOpcode, MAX_SKIP};
use crate::error::{ParseError, ParseErrorKind, Reader};
use crate::inst::Instruction;
use crate::table::Flavour;
use crate::varint;

/// The largest code, in bytes, any container here accepts: polkavm's own limit is lower.
pub const MAX_CODE_LEN: u64 = 1 << 30;

/// Jump table, code and instruction-start bitmask.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CodeBlob {
    /// Code offsets reachable through `jump_indirect`: entry `i` has address `(i + 1) * 2`.
    pub jump_table: Vec<u32>,
    /// The instruction bytes.
    pub code: Vec<u8>,
    /// One bit per code byte, least significant first, set on each instruction's first byte.
    pub bitmask: Vec<u8>,
}

/// The address that `jump_indirect` takes to reach jump-table entry `index`.
pub const fn jump_table_address(index: u32) -> u32 {
    (index + 1) * 2
}

impl CodeBlob {
    /// Reads a code blob that fills `bytes` exactly.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::parse_at(bytes, 0)
    }

    /// Like [`CodeBlob::parse`], for a blob found at offset `base` of a larger input.
    pub fn parse_at(bytes: &[u8], base: usize) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, base);
        let entries = r.varint_at_most(MAX_CODE_LEN, "the jump-table length")?;
        let entry_size = r.u8("the jump-table entry size")?;
        if entry_size > 4 {
            return Err(ParseError {
                offset: r.offset() - 1,
                kind: ParseErrorKind::TooLarge {
                    what: "the jump-table entry size",
                    value: entry_size.into(),
                    max: 4,
                },
            });
        }
        let code_len = r.varint_at_most(MAX_CODE_LEN, "the code length")?;
        // Every entry points at an instruction start; more entries than code
        // bytes can only be padding, and refusing them bounds the allocation by the input.
        if entries > code_len {
            return Err(ParseError {
                offset: base,
                kind: ParseErrorKind::TooLarge {
                    what: "the jump-table length",
                    value: entries,
                    max: code_len,
                },
            });
        }
        let table_offset = r.offset();
        let z = usize::from(entry_size);
        let table = r.bytes(entries * z as u64, "the jump table")?;
        let code_offset = r.offset();
        let code = r.bytes(code_len, "the code")?.to_vec();
        let jump_table = (0..entries as usize)
            .map(|i| varint::decode_fixed(&table[i * z..(i + 1) * z]) as u32)
            .collect();
        let bitmask_offset = r.offset();
        let bitmask = r.rest().to_vec();
        let blob = CodeBlob {
            jump_table,
            code,
            bitmask,
        };
        blob.check(table_offset, code_offset, bitmask_offset, entry_size)?;
        Ok(blob)
    }

    fn check(
        &self,
        table_offset: usize,
        code_offset: usize,
        bitmask_offset: usize,
        entry_size: u8,
    ) -> Result<(), ParseError> {
        let mismatch = ParseErrorKind::BitmaskMismatch {
            code_len: self.code.len() as u64,
            bitmask_len: self.bitmask.len() as u64,
        };
        if self.bitmask.len() != self.code.len().div_ceil(8) {
            return Err(ParseError {
                offset: bitmask_offset,
                kind: mismatch,
            });
        }
        let padding = self.bitmask.len() * 8 - self.code.len();
        if let Some(&last) = self.bitmask.last() {
            if padding > 0 && last >> (8 - padding) != 0 {
                return Err(ParseError {
                    offset: bitmask_offset + self.bitmask.len() - 1,
                    kind: mismatch,
                });
            }
        }
        if !self.code.is_empty() && !self.is_instruction_start(0) {
            return Err(ParseError {
                offset: code_offset,
                kind: ParseErrorKind::CodeDoesNotStartWithInstruction,
            });
        }
        for (index, &target) in self.jump_table.iter().enumerate() {
            if !self.is_instruction_start(target) {
                return Err(ParseError {
                    offset: table_offset + index * usize::from(entry_size),
                    kind: ParseErrorKind::JumpTableEntryNotInstructionStart {
                        index: index as u32,
                        target: target.into(),
                    },
                });
            }
        }
        Ok(())
    }

    /// The serialized blob; jump-table entries take the fewest bytes that hold the largest.
    pub fn to_bytes(&self) -> Vec<u8> {
        let largest = self.jump_table.iter().copied().max().unwrap_or(0);
        // At least one byte per entry when there are entries: polkavm reads size 0 as an
        // empty table, even though every entry would then be 0.
        let entry_size = if self.jump_table.is_empty() {
            0
        } else {
            (4 - largest.leading_zeros() / 8).max(1) as usize
        };
        let mut out = Vec::with_capacity(16 + self.code.len() + self.bitmask.len());
        varint::encode(self.jump_table.len() as u64, &mut out);
        out.push(entry_size as u8);
        varint::encode(self.code.len() as u64, &mut out);
        for &entry in &self.jump_table {
            varint::encode_fixed(entry.into(), entry_size, &mut out);
        }
        out.extend_from_slice(&self.code);
        out.extend_from_slice(&self.bitmask);
        out
    }

    /// Whether the bitmask marks `pc` as the first byte of an instruction inside the code.
    ///
    /// Total even on a blob built by hand that breaks the invariants: a `pc` the bitmask does
    /// not cover is not an instruction start.
    pub fn is_instruction_start(&self, pc: u32) -> bool {
        let pc = pc as usize;
        pc < self.code.len()
            && self
                .bitmask
                .get(pc / 8)
                .is_some_and(|bits| bits & (1 << (pc % 8)) != 0)
    }

    /// The GP's `skip(pc)`: bytes after the opcode at `pc` up to the next instruction start
    /// (the end of the code counts as one), at most 24.
    pub fn skip(&self, pc: u32) -> usize {
        (1..=MAX_SKIP)
            .find(|&n| {
                let next = pc as usize + n;
                next >= self.code.len() || self.is_instruction_start(next as u32)
            })
            .map_or(MAX_SKIP, |n| n - 1)
    }

    /// Every instruction start with its decoded instruction, in code order.
    pub fn instructions(
        &self,
        flavour: Flavour,
    ) -> impl Iterator<Item = (u32, Result<Instruction, UnknownOpcode>)> + '_ {
        (0..self.code.len() as u32)
            .filter(|&pc| self.is_instruction_start(pc))
            .map(move |pc| (pc, decode(&self.code, pc, self.skip(pc), flavour)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(code: &[u8], bitmask: &[u8], jump_table: &[u32]) -> CodeBlob {
        CodeBlob {
            jump_table: jump_table.to_vec(),
            code: code.to_vec(),
            bitmask: bitmask.to_vec(),
        }
    }

    #[test]
    fn round_trips_and_picks_smallest_entry_size() {
        let b = blob(&[0; 300], &[0x01; 38], &[0, 8, 296]);
        let bytes = b.to_bytes();
        assert_eq!(&bytes[..5], &[3, 2, 0x81, 0x2c, 0]);
        assert_eq!(CodeBlob::parse(&bytes), Ok(b));
    }

    #[test]
    fn a_table_of_zeros_keeps_one_byte_entries() {
        let bytes = blob(&[0], &[1], &[0, 0]).to_bytes();
        assert_eq!(&bytes[..3], &[2, 1, 1]);
    }

    #[test]
    fn skip_follows_the_bitmask_and_caps_at_24() {
        let b = blob(&[0; 40], &[0b0000_0101, 0, 0, 0, 0x80], &[]);
        assert_eq!(b.skip(0), 1);
        assert_eq!(b.skip(2), 24);
        assert_eq!(b.skip(39), 0);
    }

    #[test]
    fn a_short_bitmask_marks_nothing_past_its_end() {
        let b = blob(&[0; 16], &[0b1], &[]);
        assert!(b.is_instruction_start(0));
        assert!(!b.is_instruction_start(8));
        assert_eq!(b.skip(0), 15);
        assert_eq!(b.instructions(Flavour::JamV1).count(), 1);
    }

    #[test]
    fn jump_table_entry_inside_an_instruction_is_refused() {
        let bytes = blob(&[0, 0, 0], &[0b011], &[2]).to_bytes();
        let err = CodeBlob::parse(&bytes).unwrap_err();
        assert_eq!(
            err.to_string(),
            "jump-table entry 0 points at code offset 0x2, which is not an instruction start at offset 0x3"
        );
    }

    #[test]
    fn padding_bits_are_a_mismatch() {
        let bytes = blob(&[0, 0], &[0b111], &[]).to_bytes();
        let err = CodeBlob::parse(&bytes).unwrap_err();
        assert!(
            matches!(err.kind, ParseErrorKind::BitmaskMismatch { .. }),
            "{err}"
        );
        assert_eq!(err.offset, 5);
    }
}
