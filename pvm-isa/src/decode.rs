//! Decoding single instructions (Gray Paper appendix A.5), exactly as the machine reads them.
//!
//! Relies on: the caller knows the instruction's extent from the bitmask (`skip`, the number of
//! bytes after the opcode byte before the next instruction start, at most 24). As in the GP,
//! bytes past the end of the code read as zero, register fields above 12 name r12 (the
//! three-register `rD` byte too: the GP clamps the whole byte, where polkavm 0.37 first masks
//! it to 4 bits), the first of two immediates takes its length from its length field (at most
//! 4) and is read in full, and the last immediate takes what the extent leaves (at most 4).

use crate::inst::{Args, Instruction, Shape};
use crate::reg::Reg;
use crate::table::{Flavour, Opcode};

/// The GP's cap on `skip`: an instruction never spans more than 25 bytes.
pub const MAX_SKIP: usize = 24;

/// The error for an opcode byte that names no instruction of the flavour. The machine executes
/// such a byte as `trap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown opcode {byte} at offset {offset:#x} in the {flavour} instruction set")]
pub struct UnknownOpcode {
    /// The code offset of the opcode byte.
    pub offset: u32,
    /// The opcode byte.
    pub byte: u8,
    /// The flavour it was read in.
    pub flavour: Flavour,
}

struct Operands<'a> {
    code: &'a [u8],
    at: usize,
    left: usize,
}

impl Operands<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.code.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        self.left = self.left.saturating_sub(1);
        b
    }

    /// A sign-extended immediate of `len` bytes (0 ..= 4).
    fn imm(&mut self, len: usize) -> u32 {
        let mut bytes = [0u8; 4];
        for b in bytes.iter_mut().take(len) {
            *b = self.byte();
        }
        let raw = u32::from_le_bytes(bytes);
        if len == 0 {
            0
        } else {
            let shift = 32 - 8 * len as u32;
            (((raw << shift) as i32) >> shift) as u32
        }
    }

    /// An immediate that takes what is left of the extent, up to 4 bytes.
    fn rest_imm(&mut self) -> u32 {
        self.imm(self.left.min(4))
    }

    /// The two nibbles of a register byte, clamped to r12.
    fn regs(&mut self) -> (Reg, Reg) {
        let b = self.byte();
        (Reg::from_nibble(b & 15), Reg::from_nibble(b >> 4))
    }
}

/// Decodes the instruction at `code[pc]`, whose operands run for `skip` bytes.
pub fn decode(
    code: &[u8],
    pc: u32,
    skip: usize,
    flavour: Flavour,
) -> Result<Instruction, UnknownOpcode> {
    let at = pc as usize;
    let byte = code.get(at).copied().unwrap_or(0);
    let opcode = Opcode::from_number(flavour, byte).ok_or(UnknownOpcode {
        offset: pc,
        byte,
        flavour,
    })?;
    let mut ops = Operands {
        code,
        at: at + 1,
        left: skip.min(MAX_SKIP),
    };
    let target = |rel: u32| pc.wrapping_add(rel);
    let args = match opcode.shape() {
        Shape::Argless => Args::Argless,
        Shape::Imm => Args::Imm(ops.rest_imm()),
        Shape::RegImm64 => {
            let a = Reg::from_nibble(ops.byte() & 15);
            let mut bytes = [0u8; 8];
            for b in &mut bytes {
                *b = ops.byte();
            }
            Args::RegImm64(a, u64::from_le_bytes(bytes))
        }
        Shape::ImmImm => {
            let len_x = usize::from(ops.byte() & 7).min(4);
            let x = ops.imm(len_x);
            Args::ImmImm(x, ops.rest_imm())
        }
        Shape::Offset => Args::Offset(target(ops.rest_imm())),
        Shape::RegImm => {
            let a = Reg::from_nibble(ops.byte() & 15);
            Args::RegImm(a, ops.rest_imm())
        }
        Shape::RegImmImm | Shape::RegImmOffset => {
            let b = ops.byte();
            let a = Reg::from_nibble(b & 15);
            let len_x = usize::from((b >> 4) & 7).min(4);
            let x = ops.imm(len_x);
            let y = ops.rest_imm();
            if opcode.shape() == Shape::RegImmImm {
                Args::RegImmImm(a, x, y)
            } else {
                Args::RegImmOffset(a, x, target(y))
            }
        }
        Shape::RegReg => {
            let (d, a) = ops.regs();
            Args::RegReg(d, a)
        }
        Shape::RegRegImm => {
            let (a, b) = ops.regs();
            Args::RegRegImm(a, b, ops.rest_imm())
        }
        Shape::RegRegOffset => {
            let (a, b) = ops.regs();
            Args::RegRegOffset(a, b, target(ops.rest_imm()))
        }
        Shape::RegRegImmImm => {
            let (a, b) = ops.regs();
            let len_x = usize::from(ops.byte() & 7).min(4);
            let x = ops.imm(len_x);
            Args::RegRegImmImm(a, b, x, ops.rest_imm())
        }
        Shape::RegRegReg => {
            let (a, b) = ops.regs();
            let d = Reg::from_nibble(ops.byte());
            Args::RegRegReg(d, a, b)
        }
    };
    Ok(Instruction::new(opcode, args).expect("decoder builds operands of the opcode's shape"))
}
