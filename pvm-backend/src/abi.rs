//! The register conventions this backend uses for a single function.
//!
//! - r0 holds the return address (a jump-table address, or the halt address for an entry
//!   point); a return is `jump_indirect r0, 0`. r1 is the stack pointer, growing down; frames
//!   are multiples of 8 bytes. Neither is allocatable.
//! - Arguments arrive in r7 ..= r12 in order (an `i128` takes two, low half first); results
//!   leave in r7, r8. The JAM entry convention puts the argument pointer in r7 and its length
//!   in r8, and host calls read r7.. and write r7 (r8), so these choices avoid moves there.
//! - r9 ..= r12 are callee-saved: a function saves in its frame the ones it writes. r2 ..= r8
//!   are caller-saved, and the allocator prefers them.

use pvm_isa::Reg;
use regalloc2::{MachineEnv, PReg, PRegSet, RegClass};

/// The allocator's view of a PVM register.
pub const fn preg(reg: Reg) -> PReg {
    PReg::new(reg.index() as usize, RegClass::Int)
}

/// The PVM register an allocation names.
pub fn reg_of(preg: PReg) -> Reg {
    Reg::from_index(preg.hw_enc() as u8).expect("the allocator only hands out PVM registers")
}

/// The stack pointer.
pub const SP: Reg = Reg::R1;
/// The return address.
pub const RA: Reg = Reg::R0;

/// Where arguments arrive, in order.
pub const ARG_REGS: [PReg; 6] = [
    preg(Reg::R7),
    preg(Reg::R8),
    preg(Reg::R9),
    preg(Reg::R10),
    preg(Reg::R11),
    preg(Reg::R12),
];

/// Where results leave, in order.
pub const RETURN_REGS: [PReg; 2] = [preg(Reg::R7), preg(Reg::R8)];

/// Registers a function must preserve if it writes them.
pub const CALLEE_SAVED: [Reg; 4] = [Reg::R9, Reg::R10, Reg::R11, Reg::R12];

/// The allocatable registers: caller-saved ones first.
pub fn machine_env() -> MachineEnv {
    let set = |regs: &[Reg]| regs.iter().map(|&r| preg(r)).collect::<PRegSet>();
    let caller_saved = [
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
    ];
    MachineEnv {
        preferred_regs_by_class: [set(&caller_saved), PRegSet::empty(), PRegSet::empty()],
        non_preferred_regs_by_class: [set(&CALLEE_SAVED), PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [None, None, None],
        fixed_stack_slots: Vec::new(),
    }
}
