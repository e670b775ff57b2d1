//! The errors of loading and running a program.
//!
//! Invariant: nothing in this crate panics on a bad program, bad input or a refusal by polkavm;
//! every such case becomes a [`MachineError`] (or, for guest memory accesses made by the host
//! or the embedder, a [`MemoryError`]). polkavm's own messages are kept verbatim.

use crate::config::Backend;
use pvm_isa::Flavour;

/// Why a program could not be loaded or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MachineError {
    /// polkavm could not create an engine for the backend (for example, the recompiler's
    /// sandbox is not available on this system).
    #[error("polkavm cannot start the {backend} backend: {message}")]
    Engine {
        /// The backend that was asked for.
        backend: Backend,
        /// polkavm's message.
        message: String,
    },
    /// polkavm refused the program: its blob checks, its validator (jam-v1 code must not run
    /// off its end) or its memory map.
    #[error("polkavm refused the program: {0}")]
    Refused(String),
    /// polkavm failed while instantiating or running the program.
    #[error("polkavm failed: {0}")]
    Polkavm(String),
    /// A gp-0.7.2 program contains `sbrk`, which polkavm's `ReviveV1` instruction set (the one
    /// that runs gp-0.7.2 numbering) does not have; it would execute as `trap`.
    #[error(
        "the {flavour} program uses `sbrk` at code offset {pc:#x}; polkavm runs {flavour} code as \
         its ReviveV1 instruction set, which has no `sbrk`"
    )]
    SbrkUnsupported {
        /// The flavour of the program.
        flavour: Flavour,
        /// The code offset of the first `sbrk`.
        pc: u32,
    },
    /// The full (draft GP 0.8) gas cost model was asked for on an x86-64 CPU without AVX2,
    /// which polkavm's pipeline simulator needs.
    #[error("the full gas cost model needs a CPU with AVX2, and this one has none")]
    Avx2Required,
    /// The standard program's memory layout does not fit in the 32-bit address space.
    #[error("the program's memory layout does not fit in 2^32 bytes")]
    LayoutTooLarge,
    /// The argument bytes do not fit in the SPI's argument area.
    #[error("the arguments are {len} bytes, more than the {max} bytes the argument area holds")]
    ArgsTooLarge {
        /// The length of the arguments.
        len: usize,
        /// The largest allowed length (`Z_I`).
        max: u32,
    },
    /// A page range of a raw program cannot be mapped.
    #[error("page range {address:#x}+{length:#x} cannot be mapped: {why}")]
    BadPageRange {
        /// The range's first address.
        address: u32,
        /// The range's length.
        length: u32,
        /// Why not.
        why: &'static str,
    },
    /// Initial memory contents of a raw program that are not inside its page ranges.
    #[error("initial memory at {address:#x} ({len} bytes) is not inside the accessible pages")]
    MemoryOutsidePages {
        /// The chunk's first address.
        address: u32,
        /// The chunk's length.
        len: usize,
    },
    /// A `.polkavm` program has no export of this name.
    #[error("the program exports no function named `{0}`")]
    UnknownExport(String),
    /// [`Instance::run`](crate::Instance::run) was called again after an exit that ends the
    /// program (only a [`HostCall`](crate::Exit::HostCall) exit can be resumed).
    #[error("the program has already ended ({0}); only a host-call exit can be resumed")]
    NotResumable(crate::Exit),
}

/// Which kind of guest memory access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reading: the bytes must be on readable (read-only or writable) pages.
    Read,
    /// Writing: the bytes must be on writable pages.
    Write,
}

/// A guest memory access by the host or the embedder that the guest's page map does not allow.
///
/// Access rules are the guest's: addresses below `0x10000`, unmapped pages, writes to read-only
/// pages (including the SPI argument area) and ranges that run past `2^32` all fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("guest memory {address:#x}+{len:#x} is not {}", match .access { Access::Read => "readable", Access::Write => "writable" })]
pub struct MemoryError {
    /// The first address of the range.
    pub address: u64,
    /// The length of the range.
    pub len: u64,
    /// What was attempted.
    pub access: Access,
}
