//! Machine instructions: one variant per PVM operand shape the lowering uses, plus the
//! pseudo-instructions that register allocation and emission need (arguments, return, calls,
//! branches).
//!
//! `MInst<R>` is generic over its register type: `MInst<VReg>` before register allocation,
//! `MInst<Reg>` (physical PVM registers) after. [`MInst::map_regs`] is the one place that lists
//! an instruction's registers and their roles, in a fixed order; operand collection for
//! regalloc2 and the application of its allocations both go through it, so they cannot
//! disagree.

use crate::abi;
use crate::link::Symbol;
use cranelift_codegen::ir::condcodes::IntCC;
use pvm_isa::Opcode;
use regalloc2::{Block, PReg, PRegSet};
use std::fmt;

/// What an instruction does with one of its registers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read before any register is written.
    Use,
    /// Read after every register is written: it may not share a register with a definition
    /// or a clobber.
    LateUse,
    /// Written after every register is read (so it may share a register with a use).
    Def,
    /// Read, and must be in this physical register.
    FixedUse(PReg),
    /// Written, and must land in this physical register.
    FixedDef(PReg),
    /// Written into the same register as the use at this operand index (read-modify-write).
    ReuseDef(usize),
}

/// The second operand of a compare: a register or a 32-bit immediate (sign-extended).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegOrImm<R> {
    /// A register.
    Reg(R),
    /// An immediate.
    Imm(u32),
}

/// Where a load or store goes: a register plus offset, or the frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Base<R> {
    /// `[reg + offset]`.
    Reg(R),
    /// `[sp + frame offset of the slot area + offset]`: CLIF stack slots, resolved at emission
    /// once the frame is known.
    StackSlots,
    /// `[offset]`: a constant address (the PVM's absolute `load_*` / `store_*` forms).
    Absolute,
    /// `[sp + offset]` in this function's incoming argument area (the caller's frame; see
    /// `abi.rs`), resolved at emission, where the frame size is known.
    IncomingArgs,
    /// `[sp + offset]` in the argument area of this function's calls, at the bottom of its
    /// frame.
    OutgoingArgs,
}

/// What a call calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallDest<R> {
    /// A function, by name.
    Direct(Symbol),
    /// The function whose jump-table address is in a register.
    Indirect(R),
}

/// A machine instruction with registers of type `R`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MInst<R> {
    /// Defines the function's arguments, which arrive in fixed registers (first in the entry block).
    Args {
        /// Each argument's register and where it arrives.
        args: Vec<(R, PReg)>,
    },
    /// Returns, with each result in its fixed register (ends a block).
    Ret {
        /// Each result's register and where the ABI wants it.
        rets: Vec<(R, PReg)>,
    },
    /// `op dst, a, b` (three-register shape).
    AluRRR {
        /// The PVM instruction.
        op: Opcode,
        /// Result.
        dst: R,
        /// First source.
        a: R,
        /// Second source.
        b: R,
    },
    /// `op dst, src, imm` (two registers and an immediate).
    AluRRI {
        /// The PVM instruction.
        op: Opcode,
        /// Result.
        dst: R,
        /// Source.
        src: R,
        /// Immediate (sign-extended by the machine).
        imm: u32,
    },
    /// `op dst, src` (two-register shape).
    AluRR {
        /// The PVM instruction.
        op: Opcode,
        /// Result.
        dst: R,
        /// Source.
        src: R,
    },
    /// `move_reg dst, src`.
    Mov {
        /// Destination.
        dst: R,
        /// Source.
        src: R,
    },
    /// `load_imm dst, imm` (sign-extended 32-bit constant).
    LoadImm {
        /// Destination.
        dst: R,
        /// Immediate.
        imm: u32,
    },
    /// `load_imm64 dst, imm`.
    LoadImm64 {
        /// Destination.
        dst: R,
        /// Immediate.
        imm: u64,
    },
    /// `cmov_if_zero` / `cmov_if_not_zero`: `dst = cond ? src : old`, in place.
    Cmov {
        /// The PVM instruction.
        op: Opcode,
        /// Result; shares the register of `old`.
        dst: R,
        /// The value kept when the condition fails.
        old: R,
        /// The value taken when it holds.
        src: R,
        /// The register tested against zero.
        cond: R,
    },
    /// `cmov_if_zero_imm` / `cmov_if_not_zero_imm`: `dst = cond ? imm : old`, in place.
    CmovImm {
        /// The PVM instruction.
        op: Opcode,
        /// Result; shares the register of `old`.
        dst: R,
        /// The value kept when the condition fails.
        old: R,
        /// The value taken when it holds (sign-extended by the machine).
        imm: u32,
        /// The register tested against zero.
        cond: R,
    },
    /// A load of `op`'s width and extension from `base + offset`.
    Load {
        /// A `load_indirect_*` opcode.
        op: Opcode,
        /// Destination.
        dst: R,
        /// Base.
        base: Base<R>,
        /// Offset.
        offset: u32,
    },
    /// A store of `op`'s width to `base + offset`.
    Store {
        /// A `store_indirect_*` opcode.
        op: Opcode,
        /// Value stored.
        src: R,
        /// Base.
        base: Base<R>,
        /// Offset.
        offset: u32,
    },
    /// A store of the constant `value` (`op`'s width; sign-extended from 32 bits for 64) to
    /// `base + offset`.
    StoreImm {
        /// A `store_imm_indirect_*` opcode.
        op: Opcode,
        /// The value stored.
        value: u32,
        /// Base.
        base: Base<R>,
        /// Offset.
        offset: u32,
    },
    /// `dst = sp + frame offset of the slot area + offset`: the address of a CLIF stack slot.
    StackAddr {
        /// Destination.
        dst: R,
        /// Offset within the slot area.
        offset: u32,
    },
    /// An unconditional jump to another block (ends a block).
    Jump {
        /// The target.
        target: Block,
    },
    /// A two-way branch on `cc(a, b)` (ends a block).
    CondBr {
        /// The condition.
        cc: IntCC,
        /// First operand.
        a: R,
        /// Second operand.
        b: RegOrImm<R>,
        /// Taken when the condition holds.
        taken: Block,
        /// Taken otherwise.
        not_taken: Block,
    },
    /// A multi-way branch on the unsigned `index`: to `targets[index]` if it is in range, else
    /// to `default` (ends a block). With `scaled` (a register holding `2 * index`), emission
    /// dispatches through the PVM jump table; without, through a chain of compares.
    BrTable {
        /// The index.
        index: R,
        /// `2 * index`, the distance between the jump-table addresses of entry 0 and entry
        /// `index`, for a jump-table dispatch.
        scaled: Option<R>,
        /// Taken when the index is out of range.
        default: Block,
        /// Taken for each index in range.
        targets: Vec<Block>,
    },
    /// Calls `dest` (see `abi.rs`): the arguments in fixed registers (stack arguments are
    /// stored to [`Base::OutgoingArgs`] before), the results defined in fixed registers; the
    /// other caller-saved registers are clobbered ([`MInst::clobbers`]).
    Call {
        /// The callee.
        dest: CallDest<R>,
        /// Each argument word's register and where the callee wants it.
        args: Vec<(R, PReg)>,
        /// Each result word's register and where the callee leaves it.
        rets: Vec<(R, PReg)>,
    },
    /// `ecalli index`: a host call (`abi::HOST_CALL_NAMESPACE`). Arguments in fixed
    /// registers, results defined in fixed registers; r7 and r8 are clobbered.
    HostCall {
        /// The host-call number.
        index: u32,
        /// Each argument word's register and where the host reads it.
        args: Vec<(R, PReg)>,
        /// Each result word's register and where the host leaves it.
        rets: Vec<(R, PReg)>,
    },
    /// A tail call: frees the frame and jumps to `dest`, which returns to this function's
    /// caller (ends a block, like a return). An indirect target is read late, after the
    /// callee-saved registers are restored, and so never lives in one ([`MInst::clobbers`]).
    ReturnCall {
        /// The callee.
        dest: CallDest<R>,
        /// Each argument word's register and where the callee wants it.
        args: Vec<(R, PReg)>,
    },
    /// `dst = ` the jump-table address of `func`, the value `call_indirect` calls.
    FuncAddr {
        /// Destination.
        dst: R,
        /// The function.
        func: Symbol,
    },
    /// `dst = ` the address of `symbol` plus `addend` (`symbol_value`): a data object's
    /// absolute address, resolved by the linker.
    DataAddr {
        /// Destination.
        dst: R,
        /// The data object.
        symbol: Symbol,
        /// Added to the address.
        addend: i64,
    },
    /// Unconditional trap.
    Trap,
    /// Trap when `cc(a, b)` holds; otherwise continue.
    TrapIf {
        /// The condition.
        cc: IntCC,
        /// First operand.
        a: R,
        /// Second operand.
        b: RegOrImm<R>,
    },
}

impl<R: Copy> MInst<R> {
    /// The same instruction with each register `r` replaced by `f(r, role)`, visiting registers
    /// in operand order: uses first, then definitions.
    pub fn map_regs<S>(&self, mut f: impl FnMut(R, Role) -> S) -> MInst<S> {
        match self {
            MInst::Args { args } => MInst::Args {
                args: args
                    .iter()
                    .map(|&(r, p)| (f(r, Role::FixedDef(p)), p))
                    .collect(),
            },
            MInst::Ret { rets } => MInst::Ret {
                rets: rets
                    .iter()
                    .map(|&(r, p)| (f(r, Role::FixedUse(p)), p))
                    .collect(),
            },
            &MInst::AluRRR { op, dst, a, b } => {
                let (a, b) = (f(a, Role::Use), f(b, Role::Use));
                MInst::AluRRR {
                    op,
                    a,
                    b,
                    dst: f(dst, Role::Def),
                }
            }
            &MInst::AluRRI { op, dst, src, imm } => {
                let src = f(src, Role::Use);
                MInst::AluRRI {
                    op,
                    src,
                    imm,
                    dst: f(dst, Role::Def),
                }
            }
            &MInst::AluRR { op, dst, src } => {
                let src = f(src, Role::Use);
                MInst::AluRR {
                    op,
                    src,
                    dst: f(dst, Role::Def),
                }
            }
            &MInst::Mov { dst, src } => {
                let src = f(src, Role::Use);
                MInst::Mov {
                    src,
                    dst: f(dst, Role::Def),
                }
            }
            &MInst::LoadImm { dst, imm } => MInst::LoadImm {
                dst: f(dst, Role::Def),
                imm,
            },
            &MInst::LoadImm64 { dst, imm } => MInst::LoadImm64 {
                dst: f(dst, Role::Def),
                imm,
            },
            &MInst::Cmov {
                op,
                dst,
                old,
                src,
                cond,
            } => {
                let (old, src, cond) = (f(old, Role::Use), f(src, Role::Use), f(cond, Role::Use));
                MInst::Cmov {
                    op,
                    old,
                    src,
                    cond,
                    dst: f(dst, Role::ReuseDef(0)),
                }
            }
            &MInst::CmovImm {
                op,
                dst,
                old,
                imm,
                cond,
            } => {
                let (old, cond) = (f(old, Role::Use), f(cond, Role::Use));
                MInst::CmovImm {
                    op,
                    old,
                    imm,
                    cond,
                    dst: f(dst, Role::ReuseDef(0)),
                }
            }
            &MInst::Load {
                op,
                dst,
                base,
                offset,
            } => {
                let base = map_base(base, &mut f);
                MInst::Load {
                    op,
                    base,
                    offset,
                    dst: f(dst, Role::Def),
                }
            }
            &MInst::Store {
                op,
                src,
                base,
                offset,
            } => {
                let src = f(src, Role::Use);
                MInst::Store {
                    op,
                    src,
                    base: map_base(base, &mut f),
                    offset,
                }
            }
            &MInst::StoreImm {
                op,
                value,
                base,
                offset,
            } => MInst::StoreImm {
                op,
                value,
                base: map_base(base, &mut f),
                offset,
            },
            &MInst::StackAddr { dst, offset } => MInst::StackAddr {
                dst: f(dst, Role::Def),
                offset,
            },
            MInst::Call { dest, args, rets } => {
                let dest = map_call_dest(dest, Role::Use, &mut f);
                let args = map_fixed(args, Role::FixedUse, &mut f);
                MInst::Call {
                    dest,
                    args,
                    rets: map_fixed(rets, Role::FixedDef, &mut f),
                }
            }
            MInst::HostCall { index, args, rets } => {
                let args = map_fixed(args, Role::FixedUse, &mut f);
                MInst::HostCall {
                    index: *index,
                    args,
                    rets: map_fixed(rets, Role::FixedDef, &mut f),
                }
            }
            MInst::ReturnCall { dest, args } => MInst::ReturnCall {
                dest: map_call_dest(dest, Role::LateUse, &mut f),
                args: map_fixed(args, Role::FixedUse, &mut f),
            },
            MInst::FuncAddr { dst, func } => MInst::FuncAddr {
                dst: f(*dst, Role::Def),
                func: func.clone(),
            },
            MInst::DataAddr {
                dst,
                symbol,
                addend,
            } => MInst::DataAddr {
                dst: f(*dst, Role::Def),
                symbol: symbol.clone(),
                addend: *addend,
            },
            &MInst::Jump { target } => MInst::Jump { target },
            &MInst::CondBr {
                cc,
                a,
                b,
                taken,
                not_taken,
            } => MInst::CondBr {
                cc,
                a: f(a, Role::Use),
                b: map_reg_or_imm(b, &mut f),
                taken,
                not_taken,
            },
            MInst::BrTable {
                index,
                scaled,
                default,
                targets,
            } => MInst::BrTable {
                index: f(*index, Role::Use),
                scaled: scaled.map(|r| f(r, Role::Use)),
                default: *default,
                targets: targets.clone(),
            },
            MInst::Trap => MInst::Trap,
            &MInst::TrapIf { cc, a, b } => MInst::TrapIf {
                cc,
                a: f(a, Role::Use),
                b: map_reg_or_imm(b, &mut f),
            },
        }
    }

    /// Whether the instruction ends a block by leaving the function (a return or tail call).
    pub fn is_ret(&self) -> bool {
        matches!(self, MInst::Ret { .. } | MInst::ReturnCall { .. })
    }

    /// The allocatable registers the instruction overwrites besides its definitions: a call's
    /// caller-saved registers, and the callee-saved registers a tail call's epilogue restores
    /// before an indirect target is read.
    pub fn clobbers(&self) -> PRegSet {
        let set = |regs: &[pvm_isa::Reg]| regs.iter().map(|&r| abi::preg(r)).collect();
        match self {
            MInst::Call { rets, .. } => {
                let mut clobbers: PRegSet = set(&abi::CALLER_SAVED);
                for &(_, preg) in rets {
                    clobbers.remove(preg);
                }
                clobbers
            }
            MInst::HostCall { rets, .. } => {
                let mut clobbers: PRegSet = abi::HOST_CALL_RESULT_REGS.into_iter().collect();
                for &(_, preg) in rets {
                    clobbers.remove(preg);
                }
                clobbers
            }
            MInst::ReturnCall {
                dest: CallDest::Indirect(_),
                ..
            } => set(&abi::CALLEE_SAVED),
            _ => PRegSet::empty(),
        }
    }

    /// Whether the instruction ends a block by going to other blocks.
    pub fn is_branch(&self) -> bool {
        matches!(
            self,
            MInst::Jump { .. } | MInst::CondBr { .. } | MInst::BrTable { .. }
        )
    }

    /// The blocks a branch goes to, in successor order (`taken` before `not_taken`, the
    /// default before a table's entries); empty for any other instruction.
    pub fn successors(&self) -> Vec<Block> {
        match self {
            MInst::Jump { target } => vec![*target],
            MInst::CondBr {
                taken, not_taken, ..
            } => vec![*taken, *not_taken],
            MInst::BrTable {
                default, targets, ..
            } => std::iter::once(*default)
                .chain(targets.iter().copied())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The same instruction with each branch target `b` replaced by `f(b)`.
    pub fn map_targets(&self, mut f: impl FnMut(Block) -> Block) -> MInst<R> {
        let mut inst = self.clone();
        match &mut inst {
            MInst::Jump { target } => *target = f(*target),
            MInst::CondBr {
                taken, not_taken, ..
            } => {
                *taken = f(*taken);
                *not_taken = f(*not_taken);
            }
            MInst::BrTable {
                default, targets, ..
            } => {
                *default = f(*default);
                targets.iter_mut().for_each(|t| *t = f(*t));
            }
            _ => {}
        }
        inst
    }

    /// Whether the instruction must end its block (branches, returns, traps).
    pub fn is_terminator(&self) -> bool {
        self.is_ret() || self.is_branch() || matches!(self, MInst::Trap)
    }
}

fn map_base<R: Copy, S>(base: Base<R>, f: &mut impl FnMut(R, Role) -> S) -> Base<S> {
    match base {
        Base::Reg(r) => Base::Reg(f(r, Role::Use)),
        Base::StackSlots => Base::StackSlots,
        Base::Absolute => Base::Absolute,
        Base::IncomingArgs => Base::IncomingArgs,
        Base::OutgoingArgs => Base::OutgoingArgs,
    }
}

fn map_call_dest<R: Copy, S>(
    dest: &CallDest<R>,
    role: Role,
    f: &mut impl FnMut(R, Role) -> S,
) -> CallDest<S> {
    match dest {
        CallDest::Direct(symbol) => CallDest::Direct(symbol.clone()),
        CallDest::Indirect(r) => CallDest::Indirect(f(*r, role)),
    }
}

/// Registers bound to physical ones, each mapped with the role `fixed` gives its register.
fn map_fixed<R: Copy, S>(
    regs: &[(R, PReg)],
    fixed: fn(PReg) -> Role,
    f: &mut impl FnMut(R, Role) -> S,
) -> Vec<(S, PReg)> {
    regs.iter().map(|&(r, p)| (f(r, fixed(p)), p)).collect()
}

fn map_reg_or_imm<R: Copy, S>(value: RegOrImm<R>, f: &mut impl FnMut(R, Role) -> S) -> RegOrImm<S> {
    match value {
        RegOrImm::Reg(r) => RegOrImm::Reg(f(r, Role::Use)),
        RegOrImm::Imm(imm) => RegOrImm::Imm(imm),
    }
}

/// `IntCC` as the precise-output text spells it.
fn cc_name(cc: IntCC) -> &'static str {
    match cc {
        IntCC::Equal => "eq",
        IntCC::NotEqual => "ne",
        IntCC::SignedLessThan => "slt",
        IntCC::SignedGreaterThanOrEqual => "sge",
        IntCC::SignedGreaterThan => "sgt",
        IntCC::SignedLessThanOrEqual => "sle",
        IntCC::UnsignedLessThan => "ult",
        IntCC::UnsignedGreaterThanOrEqual => "uge",
        IntCC::UnsignedGreaterThan => "ugt",
        IntCC::UnsignedLessThanOrEqual => "ule",
    }
}

impl<R: fmt::Display> fmt::Display for RegOrImm<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegOrImm::Reg(r) => write!(f, "{r}"),
            RegOrImm::Imm(imm) => write!(f, "{}", *imm as i32),
        }
    }
}

impl<R: fmt::Display> fmt::Display for Base<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base::Reg(r) => write!(f, "{r}"),
            Base::StackSlots => f.write_str("slots"),
            Base::Absolute => f.write_str("abs"),
            Base::IncomingArgs => f.write_str("incoming_args"),
            Base::OutgoingArgs => f.write_str("outgoing_args"),
        }
    }
}

/// `call <callee>` or `call_indirect <register>`.
impl<R: fmt::Display> fmt::Display for CallDest<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallDest::Direct(symbol) => write!(f, "call {symbol}"),
            CallDest::Indirect(r) => write!(f, "call_indirect {r}"),
        }
    }
}

/// `base, offset` as VCode text: the offset signed, a constant address in hex.
struct Address<R>(Base<R>, u32);

impl<R: fmt::Display> fmt::Display for Address<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Base::Absolute => write!(f, "abs, {:#x}", self.1),
            base => write!(f, "{base}, {}", self.1 as i32),
        }
    }
}

/// The VCode text of an instruction (precise-output filetests show it after allocation).
impl<R: fmt::Display + Copy> fmt::Display for MInst<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |regs: &[(R, PReg)]| {
            regs.iter()
                .map(|(r, p)| format!("{r}=r{}", p.hw_enc()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            MInst::Args { args } => write!(f, "args {}", list(args)),
            MInst::Ret { rets } => write!(f, "ret {}", list(rets)),
            MInst::AluRRR { op, dst, a, b } => write!(f, "{op} {dst}, {a}, {b}"),
            MInst::AluRRI { op, dst, src, imm } => {
                write!(f, "{op} {dst}, {src}, {}", *imm as i32)
            }
            MInst::AluRR { op, dst, src } => write!(f, "{op} {dst}, {src}"),
            MInst::Mov { dst, src } => write!(f, "move_reg {dst}, {src}"),
            MInst::LoadImm { dst, imm } => write!(f, "load_imm {dst}, {}", *imm as i32),
            MInst::LoadImm64 { dst, imm } => write!(f, "load_imm64 {dst}, {imm:#x}"),
            MInst::Cmov {
                op,
                dst,
                old,
                src,
                cond,
            } => write!(f, "{op} {dst}, {src}, {cond} ; old {old}"),
            MInst::CmovImm {
                op,
                dst,
                old,
                imm,
                cond,
            } => write!(f, "{op} {dst}, {cond}, {} ; old {old}", *imm as i32),
            MInst::Load {
                op,
                dst,
                base,
                offset,
            } => write!(f, "{op} {dst}, {}", Address(*base, *offset)),
            MInst::Store {
                op,
                src,
                base,
                offset,
            } => write!(f, "{op} {src}, {}", Address(*base, *offset)),
            MInst::StoreImm {
                op,
                value,
                base,
                offset,
            } => write!(f, "{op} {}, {}", Address(*base, *offset), *value as i32),
            MInst::StackAddr { dst, offset } => write!(f, "stack_addr {dst}, {}", *offset as i32),
            MInst::Jump { target } => write!(f, "jump block{}", target.index()),
            MInst::CondBr {
                cc,
                a,
                b,
                taken,
                not_taken,
            } => write!(
                f,
                "br_{} {a}, {b}, block{}, block{}",
                cc_name(*cc),
                taken.index(),
                not_taken.index()
            ),
            MInst::BrTable {
                index,
                scaled,
                default,
                targets,
            } => {
                let targets: Vec<String> = targets
                    .iter()
                    .map(|t| format!("block{}", t.index()))
                    .collect();
                write!(f, "br_table {index}, ")?;
                if let Some(scaled) = scaled {
                    write!(f, "{scaled}, ")?;
                }
                write!(f, "block{}, [{}]", default.index(), targets.join(", "))
            }
            MInst::Call { dest, args, rets } => {
                write!(f, "{dest}, args {}", list(args))?;
                if !rets.is_empty() {
                    write!(f, ", rets {}", list(rets))?;
                }
                Ok(())
            }
            MInst::HostCall { index, args, rets } => {
                write!(f, "ecalli {index}, args {}", list(args))?;
                if !rets.is_empty() {
                    write!(f, ", rets {}", list(rets))?;
                }
                Ok(())
            }
            MInst::ReturnCall { dest, args } => write!(f, "return_{dest}, args {}", list(args)),
            MInst::FuncAddr { dst, func } => write!(f, "func_addr {dst}, {func}"),
            MInst::DataAddr {
                dst,
                symbol,
                addend,
            } => write!(f, "data_addr {dst}, {symbol}{addend:+}"),
            MInst::Trap => f.write_str("trap"),
            MInst::TrapIf { cc, a, b } => write!(f, "trap_if_{} {a}, {b}", cc_name(*cc)),
        }
    }
}
