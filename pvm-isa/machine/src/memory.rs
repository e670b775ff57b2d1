//! Guest memory access from the host side, with the guest's rules.
//!
//! Every access is checked with polkavm's `is_memory_accessible` before polkavm touches memory:
//! polkavm's own accessors answer some inaccessible ranges (such as host writes to read-only
//! data) and, with debug assertions, even panic when they disagree with `is_memory_accessible`.
//! For a standard program, `Machine::load_standard` turns on polkavm's host-side write
//! protection of the argument area, so the check refuses host writes there as the guest's
//! page map does.

use crate::error::Access;
use polkavm::{MemoryProtection, RawInstance};
use pvm_isa::Reg;

/// The polkavm register with the same index (polkavm's order is r0 … r12 too).
pub(crate) fn polkavm_reg(reg: Reg) -> polkavm::Reg {
    polkavm::Reg::ALL[usize::from(reg.index())]
}

/// `address .. address + len` as a 32-bit range, if it lies below 2^32.
pub(crate) fn guest_range(address: u64, len: u64) -> Option<(u32, u32)> {
    let end = address.checked_add(len)?;
    (end <= 1 << 32).then_some((address as u32, u32::try_from(len).ok()?))
}

/// Whether the guest could make the access (`len` 0 always can).
pub(crate) fn accessible(raw: &RawInstance, address: u32, len: u32, access: Access) -> bool {
    if len == 0 {
        return true;
    }
    if u64::from(address) + u64::from(len) > 1 << 32 {
        return false;
    }
    let protection = match access {
        Access::Read => MemoryProtection::Read,
        Access::Write => MemoryProtection::ReadWrite,
    };
    raw.is_memory_accessible(address, len, protection)
}

/// Reads guest memory; `Err(())` if any byte is unreadable.
pub(crate) fn read(raw: &mut RawInstance, address: u32, len: u32) -> Result<Vec<u8>, ()> {
    if !accessible(raw, address, len, Access::Read) {
        return Err(());
    }
    raw.read_memory(address, len).map_err(drop)
}

/// Writes guest memory; `Err(())` if any byte is not writable.
pub(crate) fn write(raw: &mut RawInstance, address: u32, data: &[u8]) -> Result<(), ()> {
    let Ok(len) = u32::try_from(data.len()) else {
        return Err(());
    };
    if !accessible(raw, address, len, Access::Write) {
        return Err(());
    }
    raw.write_memory(address, data).map_err(drop)
}
