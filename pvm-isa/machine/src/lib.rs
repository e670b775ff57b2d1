//! Running PVM programs on polkavm 0.37: memory layout, host calls, exits and gas.
//!
//! Three ways to load a program, one run loop:
//! - [`Machine::load_standard`]: a [`StandardProgram`] laid out as the
//!   GP's SPI says (polkavm's static memory map, whose auxiliary-data area is the SPI argument
//!   area), entered as a [`SpiStart`] says (arguments, start pc, register overrides).
//! - [`Machine::load_export`]: a `.polkavm` program, the same way, entered at one of its
//!   exports by name with given registers ([`call_export`] calls it in one step).
//! - [`Machine::load_raw`]: a [`RawProgram`]: code, explicit page ranges, memory contents,
//!   registers and pc (polkavm's dynamic paging), the form of the official test vectors.
//!
//! Each gives an [`Instance`]; [`Instance::run`] runs it with a [`Host`] serving `ecalli` and
//! returns a [`Report`]: the [`Exit`], final registers and pc, the output on halt, gas left and
//! used. [`run_standard`], [`call_export`] and [`run_raw`] do both steps at once.
//!
//! Flavours: jam-v1 code runs as polkavm's `JamV1` instruction set, gp-0.7.2 code as
//! `ReviveV1` (the same numbering, minus `sbrk`: a gp-0.7.2 program containing `sbrk` is
//! refused with [`MachineError::SbrkUnsupported`]). polkavm builds the program from our parsed
//! parts (`ProgramParts`), never from a container it parses itself.
//!
//! Gas: [`RunConfig::gas_model`] picks polkavm's naive block-charged model (default), naive
//! per-instruction charging (GP ≤ 0.7.2) or the full draft GP 0.8 model.
//!
//! Invariant: no input makes this crate panic; bad programs, refusals by polkavm and bad memory
//! accesses are [`MachineError`]s and [`MemoryError`]s.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

mod config;
mod error;
mod host;
mod machine;
mod memory;
mod setup;

pub use config::{Backend, GasModel, RunConfig};
pub use error::{Access, MachineError, MemoryError};
pub use host::{
    grow_heap, DefaultHost, Host, HostAction, HostContext, LogLine, GROW_HEAP_HOST_CALL,
    LOG_HOST_CALL, WHAT,
};
pub use machine::{Exit, Instance, Machine, Report};
pub use setup::{
    spi_registers, MemoryChunk, PageRange, RawProgram, SpiStart, JAM_ACCUMULATE_PC, JAM_REFINE_PC,
};

use pvm_isa::{Flavour, PolkavmContainer, Reg, StandardProgram};

/// Loads `program` with a fresh [`Machine`] and runs it once. Use a `Machine` directly to load
/// many programs (it keeps its polkavm engines) or to inspect memory after the run.
pub fn run_standard<H: Host + ?Sized>(
    program: &StandardProgram,
    flavour: Flavour,
    start: &SpiStart,
    config: &RunConfig,
    host: &mut H,
) -> Result<Report, MachineError> {
    Machine::new()
        .load_standard(program, flavour, start, config)?
        .run(host)
}

/// Calls the function a `.polkavm` program exports as `name` with a fresh [`Machine`]: see
/// [`Machine::load_export`]. The run ends when the function returns (a halt, with its results
/// in the report's registers), or as any other run does.
pub fn call_export<H: Host + ?Sized>(
    container: &PolkavmContainer,
    name: &str,
    regs: &[(Reg, u64)],
    config: &RunConfig,
    host: &mut H,
) -> Result<Report, MachineError> {
    Machine::new()
        .load_export(container, name, regs, config)?
        .run(host)
}

/// Loads a raw program with a fresh [`Machine`] and runs it once.
pub fn run_raw<H: Host + ?Sized>(
    program: &RawProgram,
    config: &RunConfig,
    host: &mut H,
) -> Result<Report, MachineError> {
    Machine::new().load_raw(program, config)?.run(host)
}
