//! Instructions as values: an [`Opcode`] and operands of the opcode's [`Shape`].
//!
//! Invariant: `args.shape() == opcode.shape()` for every [`Instruction`]; the constructors
//! generated from the table and [`Instruction::new`] are the only ways to build one.
//!
//! Immediates are kept as the 32 bits they encode. The machine sign-extends them to 64 bits
//! (and an address wraps modulo 2^32), so `u32::MAX` and `-1i32 as u32` are the same operand.
//! Jump and branch targets have the type parameter `T`: an absolute code offset (`u32`) in
//! decoded and encodable code, a symbolic label in the [`CodeBuilder`](crate::CodeBuilder).

use crate::reg::Reg;
use crate::table::Opcode;

/// The operand shapes of the PVM encoding (Gray Paper appendix A.5).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Shape {
    /// No operands.
    Argless,
    /// One immediate (`ecalli`).
    Imm,
    /// A register and a full 64-bit immediate (`load_imm64`).
    RegImm64,
    /// Two immediates (`store_imm_*`: address, value).
    ImmImm,
    /// One jump target (`jump`).
    Offset,
    /// A register and an immediate.
    RegImm,
    /// A register and two immediates (`store_imm_indirect_*`: base, offset, value).
    RegImmImm,
    /// A register, an immediate and a target (`load_imm_and_jump`, `branch_*_imm`).
    RegImmOffset,
    /// Two registers.
    RegReg,
    /// Two registers and an immediate.
    RegRegImm,
    /// Two registers and a target (`branch_*`).
    RegRegOffset,
    /// Two registers and two immediates (`load_imm_and_jump_indirect`).
    RegRegImmImm,
    /// Three registers.
    RegRegReg,
}

/// Operands, one variant per [`Shape`]. Register order follows the encoding: for `RegReg` and
/// `RegRegReg` the destination comes first; otherwise `rA` is the low nibble and `rB` the high.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
#[allow(missing_docs)]
pub enum Args<T = u32> {
    Argless,
    Imm(u32),
    RegImm64(Reg, u64),
    ImmImm(u32, u32),
    Offset(T),
    RegImm(Reg, u32),
    RegImmImm(Reg, u32, u32),
    RegImmOffset(Reg, u32, T),
    RegReg(Reg, Reg),
    RegRegImm(Reg, Reg, u32),
    RegRegOffset(Reg, Reg, T),
    RegRegImmImm(Reg, Reg, u32, u32),
    RegRegReg(Reg, Reg, Reg),
}

impl<T> Args<T> {
    /// The shape these operands have.
    pub const fn shape(&self) -> Shape {
        match self {
            Args::Argless => Shape::Argless,
            Args::Imm(..) => Shape::Imm,
            Args::RegImm64(..) => Shape::RegImm64,
            Args::ImmImm(..) => Shape::ImmImm,
            Args::Offset(..) => Shape::Offset,
            Args::RegImm(..) => Shape::RegImm,
            Args::RegImmImm(..) => Shape::RegImmImm,
            Args::RegImmOffset(..) => Shape::RegImmOffset,
            Args::RegReg(..) => Shape::RegReg,
            Args::RegRegImm(..) => Shape::RegRegImm,
            Args::RegRegOffset(..) => Shape::RegRegOffset,
            Args::RegRegImmImm(..) => Shape::RegRegImmImm,
            Args::RegRegReg(..) => Shape::RegRegReg,
        }
    }

    /// The same operands with the target (if any) replaced by `f(target)`.
    pub fn try_map_target<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Args<U>, E> {
        Ok(match self {
            Args::Argless => Args::Argless,
            Args::Imm(x) => Args::Imm(x),
            Args::RegImm64(a, x) => Args::RegImm64(a, x),
            Args::ImmImm(x, y) => Args::ImmImm(x, y),
            Args::Offset(t) => Args::Offset(f(t)?),
            Args::RegImm(a, x) => Args::RegImm(a, x),
            Args::RegImmImm(a, x, y) => Args::RegImmImm(a, x, y),
            Args::RegImmOffset(a, x, t) => Args::RegImmOffset(a, x, f(t)?),
            Args::RegReg(d, a) => Args::RegReg(d, a),
            Args::RegRegImm(a, b, x) => Args::RegRegImm(a, b, x),
            Args::RegRegOffset(a, b, t) => Args::RegRegOffset(a, b, f(t)?),
            Args::RegRegImmImm(a, b, x, y) => Args::RegRegImmImm(a, b, x, y),
            Args::RegRegReg(d, a, b) => Args::RegRegReg(d, a, b),
        })
    }
}

/// One PVM instruction. `T` is the type of jump and branch targets.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Instruction<T = u32> {
    opcode: Opcode,
    args: Args<T>,
}

impl<T> Instruction<T> {
    /// Only for the table's constructors, which pass the shape the table names.
    pub(crate) const fn from_parts(opcode: Opcode, args: Args<T>) -> Self {
        Instruction { opcode, args }
    }

    /// An instruction from an opcode and operands, or `None` if the operands have the wrong shape.
    pub fn new(opcode: Opcode, args: Args<T>) -> Option<Self> {
        (args.shape() == opcode.shape()).then_some(Instruction { opcode, args })
    }

    /// The instruction's opcode.
    pub const fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// The instruction's operands.
    pub const fn args(&self) -> &Args<T> {
        &self.args
    }

    /// The static jump or branch target, if the instruction has one.
    pub const fn target(&self) -> Option<&T> {
        match &self.args {
            Args::Offset(t) | Args::RegImmOffset(_, _, t) | Args::RegRegOffset(_, _, t) => Some(t),
            _ => None,
        }
    }

    /// The same instruction with its target (if any) replaced by `f(target)`.
    pub fn try_map_target<U, E>(
        self,
        f: impl FnOnce(T) -> Result<U, E>,
    ) -> Result<Instruction<U>, E> {
        Ok(Instruction {
            opcode: self.opcode,
            args: self.args.try_map_target(f)?,
        })
    }

    /// The same instruction with its target (if any) replaced by `f(target)`.
    pub fn map_target<U>(self, f: impl FnOnce(T) -> U) -> Instruction<U> {
        match self.try_map_target(|t| Ok::<U, core::convert::Infallible>(f(t))) {
            Ok(inst) => inst,
            Err(never) => match never {},
        }
    }
}
