//! The GP's standard program initialization (SPI): the program container
//! `E_3(|o|) ++ E_3(|w|) ++ E_2(z) ++ E_3(s) ++ o ++ w ++ E_4(|c|) ++ c` and the memory layout
//! and registers it prescribes.
//!
//! Invariant of a parsed [`StandardProgram`]: its [`MemoryLayout`] fits in the 32-bit address
//! space (the GP's condition `5·Z_Z + Z(|o|) + Z(|w| + z·Z_P) + Z(s) + Z_I ≤ 2^32`), so
//! [`StandardProgram::layout`] succeeds for it.

use crate::blob::CodeBlob;
use crate::error::{ParseError, ParseErrorKind, Reader};
use crate::varint;

/// Page size `Z_P`: the unit of memory protection.
pub const PAGE_SIZE: u32 = 1 << 12;
/// Zone size `Z_Z`: regions are aligned to it and separated by at least one.
pub const ZONE_SIZE: u32 = 1 << 16;
/// `Z_I`: the largest argument (input) buffer.
pub const MAX_INPUT_SIZE: u32 = 1 << 24;
/// Where read-only data starts.
pub const RO_DATA_START: u32 = ZONE_SIZE;
/// Where the stack ends (the initial stack pointer, r1).
pub const STACK_END: u32 = (u32::MAX - 2 * ZONE_SIZE - MAX_INPUT_SIZE) + 1;
/// Where the read-only argument buffer starts (r7 at entry).
pub const ARGS_START: u32 = (u32::MAX - ZONE_SIZE - MAX_INPUT_SIZE) + 1;
/// The return address that halts the machine: `jump_indirect` here ends the program (r0 at entry).
pub const HALT_ADDRESS: u32 = (u32::MAX - ZONE_SIZE) + 1;

/// `P(x)`: `x` rounded up to whole pages.
pub const fn page_align(x: u64) -> u64 {
    x.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64
}

/// `Z(x)`: `x` rounded up to whole zones.
pub const fn zone_align(x: u64) -> u64 {
    x.div_ceil(ZONE_SIZE as u64) * ZONE_SIZE as u64
}

/// A program as the SPI describes it: data sections, heap and stack sizes, and code.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StandardProgram {
    /// Read-only data `o`, mapped at [`RO_DATA_START`].
    pub ro_data: Vec<u8>,
    /// Initialised writable data `w`, mapped at [`MemoryLayout::rw_start`].
    pub rw_data: Vec<u8>,
    /// `z`: zeroed writable pages after `w` (the initial heap).
    pub heap_pages: u16,
    /// `s`: stack bytes below [`STACK_END`].
    pub stack_size: u32,
    /// The code.
    pub code: CodeBlob,
}

/// Where each region of a standard program lives. Every range is `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemoryLayout {
    /// Read-only data start ([`RO_DATA_START`]).
    pub ro_start: u32,
    /// End of the read-only pages: `RO_DATA_START + P(|o|)`.
    pub ro_end: u32,
    /// Writable data start: `2·Z_Z + Z(|o|)`.
    pub rw_start: u32,
    /// End of the writable data and heap pages: `rw_start + P(|w|) + z·Z_P`.
    pub rw_end: u32,
    /// Lowest stack address: `STACK_END - P(s)`.
    pub stack_start: u32,
    /// [`STACK_END`].
    pub stack_end: u32,
    /// [`ARGS_START`].
    pub args_start: u32,
}

/// Why a program's memory cannot be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the program's memory layout does not fit in 2^32 bytes")]
pub struct LayoutTooLarge;

impl StandardProgram {
    /// The program's memory layout, if it fits in the address space.
    pub fn layout(&self) -> Result<MemoryLayout, LayoutTooLarge> {
        let o = self.ro_data.len() as u64;
        let w = self.rw_data.len() as u64;
        let heap = u64::from(self.heap_pages) * u64::from(PAGE_SIZE);
        let s = u64::from(self.stack_size);
        let zone = u64::from(ZONE_SIZE);
        let total = 5 * zone
            + zone_align(o)
            + zone_align(w + heap)
            + zone_align(s)
            + u64::from(MAX_INPUT_SIZE);
        if total > 1 << 32 {
            return Err(LayoutTooLarge);
        }
        let rw_start = 2 * zone + zone_align(o);
        // The checks above bound every sum here below 2^32.
        Ok(MemoryLayout {
            ro_start: RO_DATA_START,
            ro_end: (u64::from(RO_DATA_START) + page_align(o)) as u32,
            rw_start: rw_start as u32,
            rw_end: (rw_start + page_align(w) + heap) as u32,
            stack_start: (u64::from(STACK_END) - page_align(s)) as u32,
            stack_end: STACK_END,
            args_start: ARGS_START,
        })
    }

    /// Reads a standard program that fills `bytes` exactly.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::parse_at(bytes, 0)
    }

    /// Like [`StandardProgram::parse`], for a program found at offset `base` of a larger input.
    pub fn parse_at(bytes: &[u8], base: usize) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, base);
        let start = r.offset();
        let ro_len = r.fixed(3, "the read-only data length")?;
        let rw_len = r.fixed(3, "the writable data length")?;
        let heap_pages = r.fixed(2, "the heap page count")? as u16;
        let stack_size = r.fixed(3, "the stack size")? as u32;
        let ro_data = r.bytes(ro_len, "the read-only data")?.to_vec();
        let rw_data = r.bytes(rw_len, "the writable data")?.to_vec();
        let code_len = r.fixed(4, "the code blob length")?;
        let code_at = r.offset();
        let code = CodeBlob::parse_at(r.bytes(code_len, "the code blob")?, code_at)?;
        r.finish()?;
        let program = StandardProgram {
            ro_data,
            rw_data,
            heap_pages,
            stack_size,
            code,
        };
        program.layout().map_err(|LayoutTooLarge| ParseError {
            offset: start,
            kind: ParseErrorKind::LayoutTooLarge,
        })?;
        Ok(program)
    }

    /// The serialized program. Fails if the layout does not fit or a size is too large for its
    /// 3-byte field.
    pub fn to_bytes(&self) -> Result<Vec<u8>, LayoutTooLarge> {
        self.layout()?;
        let code = self.code.to_bytes();
        let fits = |len: usize, bytes: u32| (len as u64) < 1u64 << (8 * bytes);
        if !fits(self.ro_data.len(), 3)
            || !fits(self.rw_data.len(), 3)
            || !fits(self.stack_size as usize, 3)
        {
            return Err(LayoutTooLarge);
        }
        let mut out = Vec::with_capacity(15 + self.ro_data.len() + self.rw_data.len() + code.len());
        varint::encode_fixed(self.ro_data.len() as u64, 3, &mut out);
        varint::encode_fixed(self.rw_data.len() as u64, 3, &mut out);
        varint::encode_fixed(self.heap_pages.into(), 2, &mut out);
        varint::encode_fixed(self.stack_size.into(), 3, &mut out);
        out.extend_from_slice(&self.ro_data);
        out.extend_from_slice(&self.rw_data);
        varint::encode_fixed(code.len() as u64, 4, &mut out);
        out.extend_from_slice(&code);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_constants_match_the_gp() {
        assert_eq!(STACK_END, 0xFEFE_0000);
        assert_eq!(ARGS_START, 0xFEFF_0000);
        assert_eq!(HALT_ADDRESS, 0xFFFF_0000);
        let program = StandardProgram {
            ro_data: vec![1; 5000],
            rw_data: vec![2; 10],
            heap_pages: 3,
            stack_size: 100,
            code: CodeBlob::default(),
        };
        let layout = program.layout().unwrap();
        assert_eq!(layout.ro_end, 0x10000 + 0x2000);
        assert_eq!(layout.rw_start, 0x30000);
        assert_eq!(layout.rw_end, 0x30000 + 0x1000 + 3 * 0x1000);
        assert_eq!(layout.stack_start, 0xFEFE_0000 - 0x1000);
        let bytes = program.to_bytes().unwrap();
        assert_eq!(StandardProgram::parse(&bytes), Ok(program));
    }
}
