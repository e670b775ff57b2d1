//! Loading programs into polkavm and the one run loop both kinds of program share.
//!
//! Invariants:
//! - An [`Instance`] is a polkavm `RawInstance` with gas metering on (synchronous), page size
//!   4096, registers, pc and gas set; standard programs use polkavm's static memory map, raw
//!   programs dynamic paging. Nothing else differs between the two after loading.
//! - polkavm reports a bad memory access as a trap when paging is static. [`Instance::run`] then
//!   re-decodes the trapping instruction with `pvm-isa`'s decoder and, if it is a load or store
//!   whose range is (partly) inaccessible at or above `0x10000`, reports the GP's page fault at
//!   the lowest inaccessible page, as polkavm itself does with dynamic paging.

use crate::config::{Backend, GasModel, RunConfig};
use crate::error::{Access, MachineError, MemoryError};
use crate::host::{Host, HostAction, HostContext};
use crate::memory;
use crate::setup::{RawProgram, SpiStart};
use core::fmt;
use polkavm::{
    CacheModel, CostModel, CostModelKind, GasMeteringKind, InterruptKind, Module, ModuleConfig,
    ProgramBlob, ProgramCounter, ProgramParts, RawInstance,
};
use pvm_isa::{
    page_align, Args, CodeBlob, Flavour, Instruction, MemoryLayout, Opcode, PolkavmContainer, Reg,
    StandardProgram, ARGS_START, MAX_INPUT_SIZE, PAGE_SIZE, ZONE_SIZE,
};
use std::sync::OnceLock;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// The program jumped to `0xFFFF0000` (the GP's halt, `∎`).
    Halt,
    /// `trap`, an invalid instruction or jump, running off the code, an access below `0x10000`,
    /// or a host that answered [`HostAction::Panic`].
    Panic {
        /// The code offset of the instruction that panicked.
        pc: u32,
    },
    /// A load or store touched an inaccessible page (or a store a read-only one).
    PageFault {
        /// The lowest inaccessible page address the access touched.
        address: u32,
        /// The code offset of the load or store.
        pc: u32,
    },
    /// The gas ran out. With block-charged gas models this happens when a basic block is
    /// entered (the pc is its first instruction) or when a host call cannot be paid for.
    OutOfGas {
        /// The code offset where execution stopped.
        pc: u32,
    },
    /// `ecalli index` that the host did not serve ([`HostAction::Stop`]).
    HostCall {
        /// The host-call number.
        index: u32,
        /// The code offset of the `ecalli`.
        pc: u32,
    },
}

impl Exit {
    /// The code offset where the run stopped, if the exit names one ([`Exit::Halt`] does not).
    pub fn pc(&self) -> Option<u32> {
        match *self {
            Exit::Halt => None,
            Exit::Panic { pc }
            | Exit::PageFault { pc, .. }
            | Exit::OutOfGas { pc }
            | Exit::HostCall { pc, .. } => Some(pc),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Halt => f.write_str("halt"),
            Exit::Panic { pc } => write!(f, "panic at pc {pc:#x}"),
            Exit::PageFault { address, pc } => {
                write!(f, "page fault at address {address:#x} (pc {pc:#x})")
            }
            Exit::OutOfGas { pc } => write!(f, "out of gas at pc {pc:#x}"),
            Exit::HostCall { index, pc } => write!(f, "host call {index} at pc {pc:#x}"),
        }
    }
}

/// The outcome of [`Instance::run`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Report {
    /// How the run ended.
    pub exit: Exit,
    /// The code offset of the instruction the run stopped at: the exit's pc, or after a halt the
    /// halting jump's if [`RunConfig::track_halt_pc`] was set (otherwise `None`).
    pub pc: Option<u32>,
    /// The registers at the end.
    pub regs: [u64; 13],
    /// After a halt, the output `memory[r7 .. r7 + r8]` (the SPI's result). `None` for every
    /// other exit, and after a halt whose output range is not readable (the GP then returns
    /// an empty output).
    pub output: Option<Vec<u8>>,
    /// The gas left at the end (as polkavm counts it: an out-of-gas stop leaves the gas that
    /// could not pay for the next block, not a negative number).
    pub gas_left: i64,
    /// The gas this call of [`Instance::run`] used, host-call charges included.
    pub gas_used: i64,
}

/// Loads programs into polkavm. Holds one polkavm engine per backend, created when first
/// needed, so one `Machine` can load many programs cheaply.
#[derive(Default)]
pub struct Machine {
    interpreter: OnceLock<Result<polkavm::Engine, String>>,
    recompiler: OnceLock<Result<polkavm::Engine, String>>,
}

impl fmt::Debug for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("interpreter", &self.interpreter.get().map(Result::is_ok))
            .field("recompiler", &self.recompiler.get().map(Result::is_ok))
            .finish()
    }
}

/// polkavm's instruction set for a flavour: jam-v1 is `JamV1`; gp-0.7.2 numbering is
/// `ReviveV1`'s (which lacks `sbrk`).
fn instruction_set(flavour: Flavour) -> polkavm::program::InstructionSetKind {
    use polkavm::program::InstructionSetKind;
    match flavour {
        Flavour::JamV1 => InstructionSetKind::JamV1,
        Flavour::Gp072 => InstructionSetKind::ReviveV1,
    }
}

/// Whether polkavm's full cost model can run here: its simulator uses AVX2 on x86-64.
fn full_gas_model_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

impl Machine {
    /// A machine; no polkavm engine is created until a program is loaded.
    pub fn new() -> Self {
        Machine::default()
    }

    fn engine(&self, backend: Backend) -> Result<&polkavm::Engine, MachineError> {
        let (cell, kind) = match backend {
            Backend::Interpreter => (&self.interpreter, polkavm::BackendKind::Interpreter),
            Backend::Recompiler => (&self.recompiler, polkavm::BackendKind::Compiler),
        };
        let engine = cell.get_or_init(|| {
            let mut config = polkavm::Config::new();
            config.set_backend(Some(kind));
            // Raw programs need dynamic paging. The interpreter supports it at no cost; the
            // recompiler's sandbox would then need userfaultfd for every program, which many
            // systems (containers, hardened kernels) deny, so it only runs standard programs.
            config.set_allow_dynamic_paging(backend == Backend::Interpreter);
            polkavm::Engine::new(&config).map_err(|e| e.to_string())
        });
        engine.as_ref().map_err(|message| MachineError::Engine {
            backend,
            message: message.clone(),
        })
    }

    /// Loads a standard program laid out as the SPI says, entered as `start` says.
    ///
    /// Memory: read-only data at `0x10000`, writable data and heap pages at `2·Z_Z + Z(|o|)`,
    /// `P(s)` bytes of stack ending at `0xFEFE0000`, the arguments read-only at `0xFEFF0000`
    /// (`P(|a|)` bytes accessible). This is polkavm's own static memory map, with its
    /// auxiliary-data area as the SPI's argument area: an aux-data size of `Z_I` = 2^24 puts
    /// that area at `0xFFFF0000 − Z_I` = `0xFEFF0000` and the stack's end one zone below it.
    /// Registers are [`SpiStart::registers`]; execution starts at `start.pc`.
    pub fn load_standard(
        &self,
        program: &StandardProgram,
        flavour: Flavour,
        start: &SpiStart,
        config: &RunConfig,
    ) -> Result<Instance, MachineError> {
        let layout = program.layout().map_err(|_| MachineError::LayoutTooLarge)?;
        if start.args.len() > MAX_INPUT_SIZE as usize {
            return Err(MachineError::ArgsTooLarge {
                len: start.args.len(),
                max: MAX_INPUT_SIZE,
            });
        }
        let mut parts = ProgramParts::empty(instruction_set(flavour));
        // `layout()` succeeded, so every size here is below 2^32.
        parts.ro_data_size = program.ro_data.len() as u32;
        parts.rw_data_size = layout.rw_end - layout.rw_start;
        parts.stack_size = program.stack_size;
        parts.ro_data = program.ro_data.clone().into();
        parts.rw_data = program.rw_data.clone().into();
        parts.code_and_jump_table = program.code.to_bytes().into();
        let mut instance = self.instantiate(parts, &program.code, flavour, false, config)?;

        let raw = &mut instance.raw;
        let args_len = start.args.len() as u32;
        raw.set_accessible_aux_size(args_len)
            .map_err(|e| MachineError::Polkavm(e.to_string()))?;
        raw.write_memory(ARGS_START, &start.args)
            .map_err(|e| MachineError::Polkavm(e.to_string()))?;
        // The guest cannot write the argument area; this makes host calls obey the same rule.
        raw.set_host_side_aux_write_protect(true)
            .map_err(|e| MachineError::Polkavm(e.to_string()))?;
        instance.start(&start.registers(), start.pc, config.gas);
        Ok(instance)
    }

    /// Loads a `.polkavm` program as a standard program (see [`Machine::load_standard`])
    /// entered at its export `name`: the SPI's registers (r0 the halt address, so that the
    /// function's return ends the run; r1 the stack's end), then `regs` (the function's
    /// arguments, in the registers its calling convention wants), and no argument bytes.
    pub fn load_export(
        &self,
        container: &PolkavmContainer,
        name: &str,
        regs: &[(Reg, u64)],
        config: &RunConfig,
    ) -> Result<Instance, MachineError> {
        let pc = container
            .exports
            .iter()
            .find(|export| export.name == name)
            .ok_or_else(|| MachineError::UnknownExport(name.to_owned()))?
            .pc;
        let start = SpiStart {
            args: Vec::new(),
            pc,
            regs: regs.to_vec(),
        };
        self.load_standard(&container.program, container.flavour, &start, config)
    }

    /// Loads a raw program: its code, page map, memory contents, registers and pc, with
    /// polkavm's dynamic paging (so a page fault is polkavm's own report).
    pub fn load_raw(
        &self,
        program: &RawProgram,
        config: &RunConfig,
    ) -> Result<Instance, MachineError> {
        let mut pages = Vec::with_capacity(program.pages.len());
        for range in &program.pages {
            let bad = |why| MachineError::BadPageRange {
                address: range.address,
                length: range.length,
                why,
            };
            let length = page_align(range.length.into());
            if range.address % PAGE_SIZE != 0 {
                return Err(bad("the address is not a multiple of the page size"));
            }
            if range.address < ZONE_SIZE && length > 0 {
                return Err(bad("every access below 0x10000 panics"));
            }
            if u64::from(range.address) + length > 1 << 32 {
                return Err(bad("it runs past the end of the address space"));
            }
            if length > 0 {
                pages.push((range.address, length as u32, range.writable));
            }
        }

        let mut parts = ProgramParts::empty(instruction_set(program.flavour));
        parts.code_and_jump_table = program.code.to_bytes().into();
        let mut instance = self.instantiate(parts, &program.code, program.flavour, true, config)?;

        let raw = &mut instance.raw;
        let polkavm_error = |e: polkavm::MemoryAccessError| MachineError::Polkavm(e.to_string());
        // Map everything writable first so the contents can be written, then protect.
        for &(address, length, _) in &pages {
            raw.zero_memory_with_memory_protection(
                address,
                length,
                polkavm::MemoryProtection::ReadWrite,
            )
            .map_err(polkavm_error)?;
        }
        for chunk in &program.memory {
            memory::write(raw, chunk.address, &chunk.contents).map_err(|()| {
                MachineError::MemoryOutsidePages {
                    address: chunk.address,
                    len: chunk.contents.len(),
                }
            })?;
        }
        for &(address, length, writable) in &pages {
            if !writable {
                raw.protect_memory(address, length).map_err(polkavm_error)?;
            }
        }
        instance.start(&program.regs, program.pc, config.gas);
        Ok(instance)
    }

    fn instantiate(
        &self,
        parts: ProgramParts,
        code: &CodeBlob,
        flavour: Flavour,
        dynamic_paging: bool,
        config: &RunConfig,
    ) -> Result<Instance, MachineError> {
        if flavour == Flavour::Gp072 {
            let sbrk = code.instructions(flavour).find_map(|(pc, inst)| {
                matches!(inst, Ok(inst) if inst.opcode() == Opcode::sbrk).then_some(pc)
            });
            if let Some(pc) = sbrk {
                return Err(MachineError::SbrkUnsupported { flavour, pc });
            }
        }
        if config.gas_model == GasModel::Full && !full_gas_model_supported() {
            return Err(MachineError::Avx2Required);
        }
        let engine = self.engine(config.backend)?;
        let blob =
            ProgramBlob::from_parts(parts).map_err(|e| MachineError::Refused(e.to_string()))?;

        let mut module_config = ModuleConfig::new();
        module_config.set_page_size(PAGE_SIZE);
        module_config.set_gas_metering(Some(GasMeteringKind::Sync));
        module_config.set_dynamic_paging(dynamic_paging);
        if !dynamic_paging {
            module_config.set_aux_data_size(MAX_INPUT_SIZE);
        }
        module_config.set_step_tracing(config.track_halt_pc);
        module_config.set_cost_model(Some(match config.gas_model {
            GasModel::Naive | GasModel::PerInstruction => {
                CostModelKind::Simple(CostModel::naive_ref())
            }
            GasModel::Full => CostModelKind::Full(CacheModel::L2Hit),
        }));
        module_config.set_per_instruction_metering(config.gas_model == GasModel::PerInstruction);
        let module = Module::from_blob(engine, &module_config, blob)
            .map_err(|e| MachineError::Refused(e.to_string()))?;
        let raw = module
            .instantiate()
            .map_err(|e| MachineError::Polkavm(e.to_string()))?;
        Ok(Instance {
            raw,
            code: code.clone(),
            flavour,
            dynamic_paging,
            ended: None,
        })
    }
}

/// A loaded program, ready to [`run`](Instance::run).
pub struct Instance {
    raw: RawInstance,
    code: CodeBlob,
    flavour: Flavour,
    dynamic_paging: bool,
    /// The exit that ended the program, once one has.
    ended: Option<Exit>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("flavour", &self.flavour)
            .field("dynamic_paging", &self.dynamic_paging)
            .field("regs", &self.regs())
            .field("gas", &self.gas())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Instance {
    fn start(&mut self, regs: &[u64; 13], pc: u32, gas: i64) {
        for reg in Reg::ALL {
            self.set_reg(reg, regs[usize::from(reg.index())]);
        }
        self.raw.set_next_program_counter(ProgramCounter(pc));
        self.raw.set_gas(gas);
    }

    /// Starts a new run at `pc` with registers `regs`, keeping memory and gas: for an embedder
    /// that calls into one program several times (wasm exports, one after another). Allowed
    /// after any exit, including a trap.
    pub fn restart(&mut self, pc: u32, regs: &[u64; 13]) {
        self.ended = None;
        let gas = self.raw.gas();
        self.start(regs, pc, gas);
    }

    /// The program's instruction-set flavour.
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// A register.
    pub fn reg(&self, reg: Reg) -> u64 {
        self.raw.reg(memory::polkavm_reg(reg))
    }

    /// Sets a register (before a run, or before resuming after a host-call exit).
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        self.raw.set_reg(memory::polkavm_reg(reg), value);
    }

    /// All registers, r0 first.
    pub fn regs(&self) -> [u64; 13] {
        Reg::ALL.map(|reg| self.reg(reg))
    }

    /// The gas left.
    pub fn gas(&self) -> i64 {
        self.raw.gas()
    }

    /// Sets the gas left.
    pub fn set_gas(&mut self, gas: i64) {
        self.raw.set_gas(gas);
    }

    /// Whether the guest could read (or write) `len` bytes at `address` now.
    pub fn is_accessible(&self, address: u32, len: u32, access: Access) -> bool {
        memory::accessible(&self.raw, address, len, access)
    }

    /// Reads guest memory; every byte must be readable by the guest.
    pub fn read_memory(&mut self, address: u32, len: u32) -> Result<Vec<u8>, MemoryError> {
        memory::read(&mut self.raw, address, len).map_err(|()| MemoryError {
            address: address.into(),
            len: len.into(),
            access: Access::Read,
        })
    }

    /// Writes guest memory; every byte must be writable by the guest.
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<(), MemoryError> {
        memory::write(&mut self.raw, address, data).map_err(|()| MemoryError {
            address: address.into(),
            len: data.len() as u64,
            access: Access::Write,
        })
    }

    /// For a standard program, the memory map polkavm actually built, in the SPI's terms
    /// (`None` for a raw program, which has no fixed layout). It equals
    /// [`StandardProgram::layout`]: the tests check this.
    pub fn polkavm_layout(&self) -> Option<MemoryLayout> {
        if self.dynamic_paging {
            return None;
        }
        let map = self.raw.module().memory_map();
        Some(MemoryLayout {
            ro_start: map.ro_data_address(),
            ro_end: map.ro_data_range().end,
            rw_start: map.rw_data_address(),
            rw_end: map.rw_data_range().end,
            stack_start: map.stack_address_low(),
            stack_end: map.stack_address_high(),
            args_start: map.aux_data_address(),
        })
    }

    /// The size of polkavm's auxiliary-data area (the SPI argument area) for a standard
    /// program: `Z_I` = 2^24 bytes, of which `P(|a|)` are accessible. `None` for a raw program.
    pub fn args_area_size(&self) -> Option<u32> {
        (!self.dynamic_paging).then(|| self.raw.module().memory_map().aux_data_size())
    }

    /// Runs until the program halts, panics, faults, runs out of gas or makes a host call that
    /// `host` does not serve.
    ///
    /// After an [`Exit::HostCall`] the embedder may set registers (r7, r8 …) and call `run`
    /// again to continue after the `ecalli`; every other exit ends the program, and a further
    /// `run` returns [`MachineError::NotResumable`].
    pub fn run<H: Host + ?Sized>(&mut self, host: &mut H) -> Result<Report, MachineError> {
        if let Some(exit) = self.ended {
            return Err(MachineError::NotResumable(exit));
        }
        let gas_before = self.raw.gas();
        // The last instruction step tracing reported (only with `track_halt_pc`).
        let mut last_step = None;
        let exit = loop {
            let interrupt = self
                .raw
                .run()
                .map_err(|e| MachineError::Polkavm(e.to_string()))?;
            match interrupt {
                InterruptKind::Step => last_step = self.raw.program_counter().map(|pc| pc.0),
                InterruptKind::Finished => break Exit::Halt,
                InterruptKind::Trap => {
                    let pc = self.stop_pc(last_step);
                    break self.classify_trap(pc);
                }
                InterruptKind::Segfault(fault) => {
                    break Exit::PageFault {
                        address: fault.page_address,
                        pc: self.stop_pc(last_step),
                    }
                }
                InterruptKind::NotEnoughGas => {
                    break Exit::OutOfGas {
                        pc: self.stop_pc(last_step),
                    }
                }
                InterruptKind::Ecalli(index) => {
                    let pc = self.stop_pc(last_step);
                    let mut ctx = HostContext {
                        raw: &mut self.raw,
                        pc,
                        flavour: self.flavour,
                    };
                    match host.ecalli(index, &mut ctx) {
                        HostAction::Resume => {}
                        HostAction::Stop => break Exit::HostCall { index, pc },
                        HostAction::Panic => break Exit::Panic { pc },
                        HostAction::OutOfGas => break Exit::OutOfGas { pc },
                    }
                }
            }
        };
        if !matches!(exit, Exit::HostCall { .. }) {
            self.ended = Some(exit);
        }
        let regs = self.regs();
        let output = match exit {
            Exit::Halt => memory::guest_range(regs[7], regs[8])
                .and_then(|(address, len)| memory::read(&mut self.raw, address, len).ok()),
            _ => None,
        };
        let gas_left = self.raw.gas();
        Ok(Report {
            exit,
            // Only a halt has no pc of its own.
            pc: exit.pc().or(last_step),
            regs,
            output,
            gas_left,
            gas_used: gas_before.saturating_sub(gas_left),
        })
    }

    /// Where execution stopped: polkavm's pc if it knows one, else where it would resume,
    /// else the last traced step.
    fn stop_pc(&self, last_step: Option<u32>) -> u32 {
        self.raw
            .program_counter()
            .or_else(|| self.raw.next_program_counter())
            .map(|pc| pc.0)
            .or(last_step)
            .unwrap_or(u32::MAX)
    }

    /// A polkavm trap with static paging is either a panic or a page fault polkavm does not
    /// tell apart: decide as the GP does, from the access the instruction at `pc` makes.
    fn classify_trap(&self, pc: u32) -> Exit {
        if self.dynamic_paging || !self.code.is_instruction_start(pc) {
            return Exit::Panic { pc };
        }
        let Ok(inst) = pvm_isa::decode(&self.code.code, pc, self.code.skip(pc), self.flavour)
        else {
            return Exit::Panic { pc };
        };
        let Some((address, len, access)) = memory_access(&inst, |reg| self.reg(reg)) else {
            return Exit::Panic { pc };
        };
        // The GP: the lowest inaccessible address decides; below 0x10000 it is a panic.
        let lowest_bad = (0..len)
            .map(|i| address.wrapping_add(i))
            .filter(|&byte| !memory::accessible(&self.raw, byte, 1, access))
            .min();
        match lowest_bad {
            Some(byte) if byte >= ZONE_SIZE => Exit::PageFault {
                address: byte - byte % PAGE_SIZE,
                pc,
            },
            _ => Exit::Panic { pc },
        }
    }
}

/// The guest memory a load or store accesses: address, length, kind.
fn memory_access(inst: &Instruction, reg: impl Fn(Reg) -> u64) -> Option<(u32, u32, Access)> {
    use Opcode as O;
    let op = inst.opcode();
    let len = match op {
        O::load_u8 | O::load_i8 | O::store_u8 | O::store_imm_u8 | O::store_imm_indirect_u8 => 1,
        O::load_indirect_u8 | O::load_indirect_i8 | O::store_indirect_u8 => 1,
        O::load_u16 | O::load_i16 | O::store_u16 | O::store_imm_u16 | O::store_imm_indirect_u16 => {
            2
        }
        O::load_indirect_u16 | O::load_indirect_i16 | O::store_indirect_u16 => 2,
        O::load_u32 | O::load_i32 | O::store_u32 | O::store_imm_u32 | O::store_imm_indirect_u32 => {
            4
        }
        O::load_indirect_u32 | O::load_indirect_i32 | O::store_indirect_u32 => 4,
        O::load_u64 | O::store_u64 | O::store_imm_u64 | O::store_imm_indirect_u64 => 8,
        O::load_indirect_u64 | O::store_indirect_u64 => 8,
        _ => return None,
    };
    let access = if op.name().starts_with("store") {
        Access::Write
    } else {
        Access::Read
    };
    // Addresses are taken modulo 2^32, and immediates hold the low 32 bits of their
    // sign-extended value, so 32-bit wrapping arithmetic gives the GP's address.
    let address = match *inst.args() {
        Args::RegImm(_, imm) | Args::ImmImm(imm, _) => imm,
        Args::RegImmImm(base, imm, _) | Args::RegRegImm(_, base, imm) => {
            (reg(base) as u32).wrapping_add(imm)
        }
        _ => return None,
    };
    Some((address, len, access))
}
