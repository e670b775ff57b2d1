//! The calling convention: the one description of how PVM functions compiled by this backend
//! call each other (every CLIF `CallConv` tag means this convention).
//!
//! # Registers
//!
//! | register | role | preserved by a call |
//! |---|---|---|
//! | r0 | return address | no |
//! | r1 | stack pointer | yes |
//! | r2 ..= r8 | arguments, results, temporaries | no (caller-saved) |
//! | r9 ..= r12 | locals | yes (callee-saved) |
//!
//! - r0 holds the return address: a jump-table address (the caller's return point, or the
//!   halt address for a program's entry). A call is `load_imm_and_jump r0, <return address>,
//!   <callee>` (or `load_imm_and_jump_indirect r0, <callee register>, <return address>, 0`),
//!   a return is `jump_indirect r0, 0`. Neither r0 nor r1 is allocatable: a function that
//!   calls saves r0 in its frame.
//! - r1 is the stack pointer. The stack grows down; the stack pointer and every frame size
//!   are multiples of 8.
//! - Arguments go, in order, in r7, r8, r2, r3, r4, r5, r6 ([`ARG_REGS`]), one 64-bit word
//!   each; an `i128` takes two consecutive words, low half first. Words beyond the seventh
//!   go on the stack (below). Results use the same registers in the same order
//!   ([`RETURN_REGS`]), and the stack beyond them. The JAM entry convention passes the
//!   argument pointer in r7 and its length in r8, and host calls read r7.. and write r7 (r8):
//!   starting with r7, r8 means no moves at those boundaries.
//! - Narrow integers (`i8` .. `i32`) travel sign-extended to 64 bits, as the backend keeps
//!   them in registers (see `lower/prelude.isle`), in registers and in stack words alike.
//! - r2 ..= r8 (and r0) may be changed by a call; r9 ..= r12 are preserved: a function saves
//!   in its frame the ones it writes. The allocator prefers the caller-saved ones, so a leaf
//!   function rarely needs to save anything.
//!
//! # The stack
//!
//! The caller keeps an argument area at the bottom of its frame, just above its saved return
//! address; the callee finds word `k` (counting from 0 after the register words) of its
//! arguments at `entry sp + 8 + 8·k`, and writes word `k` of its results beyond the
//! registers to the same place before it returns (so the area is as large as the larger of
//! the two, for the callee with the most). One frame, from the stack pointer up (every
//! offset a multiple of 8; the parts a function does not need are empty):
//!
//! ```text
//!                 ┆ caller's frame                                       ┆
//!   entry sp + 8  │ argument area: stack arguments in, stack results out │
//!   entry sp      │ caller's saved return address                        │
//!                 ├──────────────────────────────────────────────────────┤ ← entry sp
//!                 │ CLIF stack slots                                     │
//!                 │ spill slots                                          │
//!                 │ saved callee-saved registers (only those written)    │
//!   sp + 8        │ argument area for this function's calls              │
//!   sp + 0        │ saved return address (functions that call)           │
//!                 └──────────────────────────────────────────────────────┘ ← sp
//! ```
//!
//! A function that needs none of these has no frame at all, and one that needs them on some
//! paths only sets its frame up on those paths (shrink wrapping, see `frame.rs`).
//!
//! A tail call (`return_call`) frees the frame first: it puts stack arguments in its own
//! incoming argument area, so the callee may need no more stack words than that area holds;
//! the backend refuses one that does.
//!
//! # Stack overflow
//!
//! The standard program layout (the SPI, `pvm_isa::StandardProgram::layout`) always leaves
//! at least [`GUARD_SIZE`] = `Z_Z` = 64 KiB of inaccessible memory between the end of the
//! writable data and heap (rounded up to a zone) and the lowest stack page: the layout
//! condition `5·Z_Z + Z(|o|) + Z(|w| + z·Z_P) + Z(s) + Z_I ≤ 2^32` leaves, between
//! `2·Z_Z + Z(|o|) + Z(|w| + z·Z_P)` and `2^32 − 2·Z_Z − Z_I − P(s)`, at least
//! `Z_Z + Z(s) − P(s) ≥ Z_Z` bytes. (The heap never grows into it: this backend never emits
//! `sbrk`.) Every access there faults, so an overflowing stack traps instead of writing the
//! heap, provided no access skips the gap. The invariant that ensures it: **when a function
//! is entered, its stack pointer lies in the stack** (it is at most the stack's end and at
//! least its lowest address). It holds at a program's entry; a function keeps it for its
//! callees because every function that calls stores its return address at `sp + 0` before
//! its first call, so a call is only reached once that store has succeeded; and a tail call
//! enters its callee with the caller's own entry stack pointer. Given the invariant, a frame
//! of at most [`GUARD_SIZE`] bytes is safe without any check: its lowest byte is at most
//! 64 KiB below a stack address, so it is in the stack or in the gap. A larger frame is
//! probed when it is set up: the prologue writes a word every [`GUARD_SIZE`] bytes from the
//! top of the new frame down, so its first access below the stack lands in the gap and
//! faults (see [`stack_probe_offsets`]).

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

/// Where argument words go, in order; further words go on the stack.
pub const ARG_REGS: [PReg; 7] = [
    preg(Reg::R7),
    preg(Reg::R8),
    preg(Reg::R2),
    preg(Reg::R3),
    preg(Reg::R4),
    preg(Reg::R5),
    preg(Reg::R6),
];

/// Where result words go, in order; further words go on the stack.
pub const RETURN_REGS: [PReg; 7] = ARG_REGS;

/// The allocatable registers a call may change (r0 changes too, but is not allocatable).
pub const CALLER_SAVED: [Reg; 7] = [
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
    Reg::R7,
    Reg::R8,
];

/// Registers a function must preserve if it writes them.
pub const CALLEE_SAVED: [Reg; 4] = [Reg::R9, Reg::R10, Reg::R11, Reg::R12];

/// The `ExternalName::User` namespace of host calls: a CLIF `call` of `u100:N` is the
/// instruction `ecalli N`, not a call. Its arguments go in [`HOST_CALL_ARG_REGS`] (JAM's host
/// calls read r7..r12), its results come from [`HOST_CALL_RESULT_REGS`], and it changes no
/// other register: the host writes r7 and r8 at most, so only those two are clobbered.
pub const HOST_CALL_NAMESPACE: u32 = 100;

/// Where host-call argument words go (at most six).
pub const HOST_CALL_ARG_REGS: [PReg; 6] = [
    preg(Reg::R7),
    preg(Reg::R8),
    preg(Reg::R9),
    preg(Reg::R10),
    preg(Reg::R11),
    preg(Reg::R12),
];

/// Where host-call results come from (at most two words).
pub const HOST_CALL_RESULT_REGS: [PReg; 2] = [preg(Reg::R7), preg(Reg::R8)];

/// Bytes of inaccessible memory the SPI layout always leaves below the stack (`Z_Z`).
pub const GUARD_SIZE: u32 = pvm_isa::ZONE_SIZE;

/// Offset of the argument area from the stack pointer of the frame holding it (above the
/// saved return address).
pub const ARG_AREA_OFFSET: u32 = 8;

/// Where one word of an argument or result list goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A register.
    Reg(PReg),
    /// The argument area, at this byte offset.
    Stack(u32),
}

/// Where word `word` (counting from 0) of an argument or result list goes.
pub fn location(word: usize) -> Location {
    match ARG_REGS.get(word) {
        Some(&preg) => Location::Reg(preg),
        None => Location::Stack(8 * (word - ARG_REGS.len()) as u32),
    }
}

/// Where each of `words` argument (or result) words goes, in order.
pub fn locations(words: usize) -> impl Iterator<Item = Location> {
    (0..words).map(location)
}

/// Bytes of argument area `words` argument (or result) words need.
pub fn stack_bytes(words: usize) -> u32 {
    8 * words.saturating_sub(ARG_REGS.len()) as u32
}

/// The offsets from the new stack pointer at which the prologue of a frame of `size` bytes
/// writes a probe word, in order (top down); none for frames up to [`GUARD_SIZE`].
pub fn stack_probe_offsets(size: u32) -> impl Iterator<Item = u32> {
    let probes = if size > GUARD_SIZE {
        (size - 1) / GUARD_SIZE
    } else {
        0
    };
    (1..=probes).map(move |k| size - k * GUARD_SIZE)
}

/// The allocatable registers: caller-saved ones preferred, so that saving callee-saved ones
/// is the exception.
pub fn machine_env() -> MachineEnv {
    let set = |regs: &[Reg]| regs.iter().map(|&r| preg(r)).collect::<PRegSet>();
    MachineEnv {
        preferred_regs_by_class: [set(&CALLER_SAVED), PRegSet::empty(), PRegSet::empty()],
        non_preferred_regs_by_class: [set(&CALLEE_SAVED), PRegSet::empty(), PRegSet::empty()],
        scratch_by_class: [None, None, None],
        fixed_stack_slots: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_beyond_the_registers_go_to_the_argument_area() {
        let locations: Vec<Location> = locations(9).collect();
        assert_eq!(locations[0], Location::Reg(preg(Reg::R7)));
        assert_eq!(locations[2], Location::Reg(preg(Reg::R2)));
        assert_eq!(locations[6], Location::Reg(preg(Reg::R6)));
        assert_eq!(locations[7], Location::Stack(0));
        assert_eq!(locations[8], Location::Stack(8));
        assert_eq!(stack_bytes(9), 16);
        assert_eq!(stack_bytes(3), 0);
    }

    #[test]
    fn probes_are_at_most_a_guard_apart() {
        assert_eq!(stack_probe_offsets(GUARD_SIZE).count(), 0);
        let size = 3 * GUARD_SIZE + 8;
        let probes: Vec<u32> = stack_probe_offsets(size).collect();
        assert_eq!(probes, [2 * GUARD_SIZE + 8, GUARD_SIZE + 8, 8]);
        // From the old stack pointer (the frame's top) down, each probe is at most a guard
        // below the last address known to be in the stack, and the lowest probe is at most a
        // guard above the new stack pointer.
        let mut last = size;
        for probe in probes {
            assert!(last - probe <= GUARD_SIZE);
            last = probe;
        }
        assert!(last <= GUARD_SIZE);
        assert_eq!(stack_probe_offsets(GUARD_SIZE + 8).collect::<Vec<_>>(), [8]);
    }
}
