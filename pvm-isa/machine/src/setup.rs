//! What a program starts with: the SPI entry (arguments, pc, register overrides) for standard
//! programs, and the explicit machine state of raw programs (the test vectors' form).

use pvm_isa::{CodeBlob, Flavour, Reg, ServiceBlob, ARGS_START, HALT_ADDRESS, STACK_END};

/// The entry point of a JAM service code blob's `refine` (and of an authorizer's
/// `is_authorized`): code offset 0 ([`ServiceBlob::REFINE_ENTRY`]).
pub const JAM_REFINE_PC: u32 = ServiceBlob::REFINE_ENTRY;

/// The entry point of a JAM service code blob's `accumulate`: code offset 5, the second
/// 5-byte jump of the dispatch table at the start of the code
/// ([`ServiceBlob::ACCUMULATE_ENTRY`]).
pub const JAM_ACCUMULATE_PC: u32 = ServiceBlob::ACCUMULATE_ENTRY;

/// The registers the SPI prescribes at entry for `args_len` bytes of arguments:
/// r0 = [`HALT_ADDRESS`] (returning halts), r1 = [`STACK_END`] (the stack pointer),
/// r7 = [`ARGS_START`], r8 = `args_len`, all others 0.
pub const fn spi_registers(args_len: u32) -> [u64; 13] {
    let mut regs = [0; 13];
    regs[Reg::R0 as usize] = HALT_ADDRESS as u64;
    regs[Reg::R1 as usize] = STACK_END as u64;
    regs[Reg::R7 as usize] = ARGS_START as u64;
    regs[Reg::R8 as usize] = args_len as u64;
    regs
}

/// How a standard program is entered: the argument bytes, the start pc and registers that
/// replace the SPI's initial values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpiStart {
    /// The argument bytes, mapped read-only at [`ARGS_START`].
    pub args: Vec<u8>,
    /// The code offset execution starts at ([`JAM_REFINE_PC`], [`JAM_ACCUMULATE_PC`] …).
    pub pc: u32,
    /// Registers to set after the SPI's initial values, in order (a later entry for the same
    /// register wins).
    pub regs: Vec<(Reg, u64)>,
}

impl SpiStart {
    /// Entry at pc 0 with `args` and the SPI's registers.
    pub fn new(args: impl Into<Vec<u8>>) -> Self {
        SpiStart {
            args: args.into(),
            ..SpiStart::default()
        }
    }

    /// The same entry, starting at code offset `pc`.
    pub fn at_pc(mut self, pc: u32) -> Self {
        self.pc = pc;
        self
    }

    /// The same entry with `reg` set to `value` after the SPI's initial values.
    pub fn with_reg(mut self, reg: Reg, value: u64) -> Self {
        self.regs.push((reg, value));
        self
    }

    /// The registers at entry: [`spi_registers`] with the overrides applied.
    pub fn registers(&self) -> [u64; 13] {
        // `load_standard` refuses arguments longer than `Z_I`, so the cast only matters
        // for a start that is never run.
        let mut regs = spi_registers(self.args.len().min(u32::MAX as usize) as u32);
        for &(reg, value) in &self.regs {
            regs[usize::from(reg.index())] = value;
        }
        regs
    }
}

/// Accessible memory of a raw program: `length` bytes from `address`, read-only or writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRange {
    /// The first address: a multiple of the page size, at least `0x10000`.
    pub address: u32,
    /// The length in bytes; the machine rounds it up to whole pages.
    pub length: u32,
    /// Whether the guest may write to it.
    pub writable: bool,
}

/// Bytes placed in memory before a raw program starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryChunk {
    /// Where the bytes go.
    pub address: u32,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// A program given as the machine state the GP's Ψ starts from: code, page map, memory
/// contents, registers and pc. This is the form of the official PVM test vectors.
///
/// Memory outside `pages` is inaccessible: an access there is a page fault (a panic below
/// `0x10000`). Pages are zero except for `memory`, which must lie inside `pages` (read-only
/// pages included: the machine writes them before protecting them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawProgram {
    /// The instruction-set flavour of `code`.
    pub flavour: Flavour,
    /// Jump table, code and bitmask.
    pub code: CodeBlob,
    /// The accessible memory.
    pub pages: Vec<PageRange>,
    /// The initial non-zero memory contents.
    pub memory: Vec<MemoryChunk>,
    /// The initial registers.
    pub regs: [u64; 13],
    /// The code offset execution starts at.
    pub pc: u32,
}
