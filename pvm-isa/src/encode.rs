//! Encoding single instructions (Gray Paper appendix A.5).
//!
//! Every immediate and offset gets its shortest encoding: the fewest little-endian bytes that
//! sign-extend back to the same 32 bits. Offsets are relative to the instruction's own address,
//! so the same instruction can encode to different lengths at different addresses; the
//! [`CodeBuilder`](crate::CodeBuilder) iterates layout to a fixpoint for that reason.

use crate::inst::{Args, Instruction};
use crate::table::{Flavour, Opcode};

/// The longest encoding of any instruction: opcode, two register bytes, two 4-byte immediates.
pub const MAX_INSTRUCTION_LEN: usize = 11;

/// The error for an instruction that the chosen flavour does not have (`sbrk` in `jam-v1`,
/// `unlikely` in `gp-0.7.2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`{opcode}` does not exist in the {flavour} instruction set")]
pub struct NotInFlavour {
    /// The instruction.
    pub opcode: Opcode,
    /// The flavour that lacks it.
    pub flavour: Flavour,
}

/// The number of bytes (0 ..= 4) that encode `value` such that sign-extending them gives `value`.
pub const fn imm_len(value: u32) -> usize {
    let signed = value as i32;
    if signed == 0 {
        0
    } else if signed == signed as i8 as i32 {
        1
    } else if signed == signed as i16 as i32 {
        2
    } else if signed == (signed << 8) >> 8 {
        3
    } else {
        4
    }
}

fn push_imm(out: &mut Vec<u8>, value: u32, len: usize) {
    out.extend_from_slice(&value.to_le_bytes()[..len]);
}

fn pack(low: u8, high: u8) -> u8 {
    low | (high << 4)
}

/// Appends the encoding of `inst`, placed at code offset `pc`, to `out`; returns its length.
pub fn encode(
    inst: &Instruction,
    flavour: Flavour,
    pc: u32,
    out: &mut Vec<u8>,
) -> Result<usize, NotInFlavour> {
    let opcode = inst.opcode();
    let number = opcode
        .number(flavour)
        .ok_or(NotInFlavour { opcode, flavour })?;
    let start = out.len();
    out.push(number);
    let rel = |target: u32| target.wrapping_sub(pc);
    match *inst.args() {
        Args::Argless => {}
        Args::Imm(x) => push_imm(out, x, imm_len(x)),
        Args::RegImm64(a, x) => {
            out.push(a.index());
            out.extend_from_slice(&x.to_le_bytes());
        }
        Args::ImmImm(x, y) => {
            let len_x = imm_len(x);
            out.push(len_x as u8);
            push_imm(out, x, len_x);
            push_imm(out, y, imm_len(y));
        }
        Args::Offset(t) => push_imm(out, rel(t), imm_len(rel(t))),
        Args::RegImm(a, x) => {
            out.push(a.index());
            push_imm(out, x, imm_len(x));
        }
        Args::RegImmImm(a, x, y) => push_reg_imm_imm(out, a.index(), x, y),
        Args::RegImmOffset(a, x, t) => push_reg_imm_imm(out, a.index(), x, rel(t)),
        Args::RegReg(d, a) => out.push(pack(d.index(), a.index())),
        Args::RegRegImm(a, b, x) => {
            out.push(pack(a.index(), b.index()));
            push_imm(out, x, imm_len(x));
        }
        Args::RegRegOffset(a, b, t) => {
            out.push(pack(a.index(), b.index()));
            push_imm(out, rel(t), imm_len(rel(t)));
        }
        Args::RegRegImmImm(a, b, x, y) => {
            let len_x = imm_len(x);
            out.push(pack(a.index(), b.index()));
            out.push(len_x as u8);
            push_imm(out, x, len_x);
            push_imm(out, y, imm_len(y));
        }
        Args::RegRegReg(d, a, b) => {
            out.push(pack(a.index(), b.index()));
            out.push(d.index());
        }
    }
    Ok(out.len() - start)
}

fn push_reg_imm_imm(out: &mut Vec<u8>, reg: u8, x: u32, y: u32) {
    let len_x = imm_len(x);
    out.push(pack(reg, len_x as u8));
    push_imm(out, x, len_x);
    push_imm(out, y, imm_len(y));
}

/// The length `inst` encodes to at code offset `pc` (the flavour only decides whether it exists).
pub fn encoded_len(inst: &Instruction, flavour: Flavour, pc: u32) -> Result<usize, NotInFlavour> {
    let mut scratch = Vec::with_capacity(MAX_INSTRUCTION_LEN);
    encode(inst, flavour, pc, &mut scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn immediate_lengths_are_shortest_sign_extended() {
        let cases: &[(u32, usize)] = &[
            (0, 0),
            (1, 1),
            (0x7f, 1),
            (0x80, 2),
            (u32::MAX, 1),
            (0xffff_ff80, 1),
            (0xffff_ff7f, 2),
            (0x7fff, 2),
            (0x8000, 3),
            (0x7f_ffff, 3),
            (0x80_0000, 4),
            (0x8000_0000, 4),
            (0xff80_0000, 3),
        ];
        for &(value, len) in cases {
            assert_eq!(imm_len(value), len, "{value:#x}");
        }
    }

    #[test]
    fn opcode_missing_from_flavour_is_an_error() {
        let err = encoded_len(&Instruction::unlikely(), Flavour::Gp072, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`unlikely` does not exist in the gp-0.7.2 instruction set"
        );
    }
}
