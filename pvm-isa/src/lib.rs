//! The PVM machine as data: the instruction table and everything derived from it.
//!
//! - [`Opcode`], [`Flavour`], [`Shape`]: the one instruction table (`src/table.rs`).
//! - [`Instruction`], [`Reg`]: instructions as values; [`encode`] and [`decode`] one instruction.
//! - [`CodeBlob`]: jump table + code + bitmask; [`StandardProgram`]: the GP's SPI container.
//! - [`ServiceBlob`]: JAM service code; [`PolkavmContainer`]: polkavm's `.polkavm`;
//!   [`load_program`] reads any of them, by name or detected ([`ContainerFormat`]).
//!
//! Every parser returns a [`ParseError`] naming the byte offset of the problem; none panics.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

mod asm;
mod blob;
mod builder;
mod container;
mod decode;
mod encode;
mod error;
mod inst;
mod polkavm_container;
mod reg;
mod service;
mod spi;
mod table;
pub mod varint;

pub use asm::{assemble, assemble_program, disassemble, disassemble_program, AsmError};
pub use blob::{jump_table_address, CodeBlob, MAX_CODE_LEN};
pub use builder::{BuildError, BuiltCode, CodeBuilder, Label};
pub use container::{
    load_program, ContainerFormat, LoadedProgram, UnknownContainerFormat, CODE_BLOB_STACK_SIZE,
};
pub use decode::{decode, UnknownOpcode, MAX_SKIP};
pub use encode::{encode, encoded_len, imm_len, NotInFlavour, MAX_INSTRUCTION_LEN};
pub use error::{ParseError, ParseErrorKind};
pub use inst::{Args, Instruction, Shape};
pub use polkavm_container::{
    Export, PolkavmContainer, PolkavmWriteError, POLKAVM_MAGIC, POLKAVM_MAX_CODE_LEN,
    POLKAVM_MAX_IMPORTS, POLKAVM_MAX_JUMP_TABLE_ENTRIES,
};
pub use reg::Reg;
pub use service::ServiceBlob;
pub use spi::{
    page_align, zone_align, LayoutTooLarge, MemoryLayout, StandardProgram, ARGS_START,
    HALT_ADDRESS, MAX_INPUT_SIZE, PAGE_SIZE, RO_DATA_START, STACK_END, ZONE_SIZE,
};
pub use table::{Flavour, Opcode, UnknownFlavour};
