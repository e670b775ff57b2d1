//! The thirteen 64-bit PVM registers.

use core::fmt;

/// A PVM register, `r0` ..= `r12`.
///
/// The disassembler prints the plain `rN` names: this project's calling convention differs from
/// polkavm's (see `pvm-backend`'s ABI), so polkavm's role-suggesting ABI names would mislead there.
/// [`Reg::abi_name`] gives polkavm's names, and the assembler accepts both spellings.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum Reg {
    R0 = 0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
    R11,
    R12,
}

impl Reg {
    /// All registers, by index.
    pub const ALL: [Reg; 13] = [
        Reg::R0,
        Reg::R1,
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
        Reg::R9,
        Reg::R10,
        Reg::R11,
        Reg::R12,
    ];

    /// polkavm's ABI names, by index.
    const ABI_NAMES: [&'static str; 13] = [
        "ra", "sp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    ];
    const NAMES: [&'static str; 13] = [
        "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
    ];

    /// The register with index `index`, if it is below 13.
    pub const fn from_index(index: u8) -> Option<Reg> {
        if (index as usize) < Reg::ALL.len() {
            Some(Reg::ALL[index as usize])
        } else {
            None
        }
    }

    /// The register an encoded register field names (a nibble, or the whole three-register
    /// `rD` byte): the GP reads values above 12 as r12.
    pub const fn from_nibble(nibble: u8) -> Reg {
        let index = if nibble > 12 { 12 } else { nibble };
        Reg::ALL[index as usize]
    }

    /// The register's index, 0 ..= 12.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// `rN`.
    pub const fn name(self) -> &'static str {
        Reg::NAMES[self as usize]
    }

    /// polkavm's ABI name: r0 `ra`, r1 `sp`, r2-r4 `t0`-`t2`, r5-r6 `s0`-`s1`, r7-r12 `a0`-`a5`.
    pub const fn abi_name(self) -> &'static str {
        Reg::ABI_NAMES[self as usize]
    }

    /// Parses `rN` or an ABI name.
    pub fn from_name(name: &str) -> Option<Reg> {
        let index = Reg::NAMES
            .iter()
            .position(|&n| n == name)
            .or_else(|| Reg::ABI_NAMES.iter().position(|&n| n == name))?;
        Some(Reg::ALL[index])
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
