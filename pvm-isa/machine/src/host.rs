//! Host calls: `ecalli N` stops the guest and hands the machine to a [`Host`].
//!
//! The host sees the guest through a [`HostContext`]: registers, gas and memory, with the
//! guest's own access rules (a host cannot write the read-only argument area, for example).
//! polkavm has already charged the `ecalli` instruction itself (as part of its basic block);
//! anything a host call costs beyond that is the host's to charge with
//! [`HostContext::charge_gas`].
//!
//! [`DefaultHost`] implements JIP-1's `log` (host call 100) and, for jam-v1 programs, the draft
//! GP 0.8's `grow_heap` (host call 1); it stops on every other call.

use crate::error::{Access, MemoryError};
use crate::memory;
use pvm_isa::{Flavour, Reg, PAGE_SIZE};

/// JIP-1's `log` host call.
pub const LOG_HOST_CALL: u32 = 100;

/// The JAM host-call result `WHAT` (2^64 − 2): "not a known host call". JIP-1's `log`
/// returns it so that a guest behaves the same whether or not the host implements `log`.
pub const WHAT: u64 = u64::MAX - 1;

/// The draft GP 0.8's `grow_heap` host call (jam-v1 programs only; 1 is `fetch` in GP 0.7.2).
pub const GROW_HEAP_HOST_CALL: u32 = 1;

/// What the machine does after a host call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostAction {
    /// Continue the guest after the `ecalli`.
    Resume,
    /// End the run with [`Exit::HostCall`](crate::Exit::HostCall); the embedder may handle the
    /// call itself and resume with [`Instance::run`](crate::Instance::run).
    Stop,
    /// End the run with [`Exit::Panic`](crate::Exit::Panic) at the `ecalli`.
    Panic,
    /// End the run with [`Exit::OutOfGas`](crate::Exit::OutOfGas) at the `ecalli` (what the GP
    /// does when the gas left cannot pay for the host call).
    OutOfGas,
}

/// Serves `ecalli`.
pub trait Host {
    /// Handles `ecalli index`. The arguments are in r7..r12 by JAM convention; results go to r7
    /// (and r8).
    fn ecalli(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostAction;
}

/// Any closure with the right signature is a host.
impl<F> Host for F
where
    F: FnMut(u32, &mut HostContext<'_>) -> HostAction,
{
    fn ecalli(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostAction {
        self(index, ctx)
    }
}

/// The guest as a host call sees it.
pub struct HostContext<'a> {
    pub(crate) raw: &'a mut polkavm::RawInstance,
    pub(crate) pc: u32,
    pub(crate) flavour: Flavour,
}

impl HostContext<'_> {
    /// The program's instruction-set flavour (host-call numbers differ between them).
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    /// The end of the read/write region (data and heap pages): the first unmapped address
    /// above it.
    pub fn heap_end(&self) -> u64 {
        let top =
            u64::from(self.raw.module().memory_map().heap_base()) + u64::from(self.raw.heap_size());
        top.next_multiple_of(u64::from(PAGE_SIZE))
    }

    /// Grows the read/write region so that it ends at `end` (an address) or beyond; returns
    /// whether it does now. The region never shrinks; it cannot reach the stack's guard zone.
    pub fn grow_heap_to(&mut self, end: u64) -> bool {
        let top =
            u64::from(self.raw.module().memory_map().heap_base()) + u64::from(self.raw.heap_size());
        if end <= top {
            return true;
        }
        let Ok(size) = u32::try_from(end - top) else {
            return false;
        };
        matches!(self.raw.sbrk(size), Ok(Some(_)))
    }

    /// The code offset of the `ecalli` being served.
    pub fn pc(&self) -> u32 {
        self.pc
    }

    /// A register.
    pub fn reg(&self, reg: Reg) -> u64 {
        self.raw.reg(memory::polkavm_reg(reg))
    }

    /// Sets a register.
    pub fn set_reg(&mut self, reg: Reg, value: u64) {
        self.raw.set_reg(memory::polkavm_reg(reg), value);
    }

    /// The gas left.
    pub fn gas(&self) -> i64 {
        self.raw.gas()
    }

    /// Sets the gas left. A negative value ends the run with out-of-gas when the guest resumes.
    pub fn set_gas(&mut self, gas: i64) {
        self.raw.set_gas(gas);
    }

    /// Takes `amount` gas if that much is left and returns `true`; otherwise leaves the gas
    /// alone and returns `false` (the host should then return [`HostAction::OutOfGas`]).
    pub fn charge_gas(&mut self, amount: u64) -> bool {
        let gas = self.raw.gas();
        match i64::try_from(amount) {
            Ok(amount) if gas >= amount => {
                self.raw.set_gas(gas - amount);
                true
            }
            _ => false,
        }
    }

    /// Reads `len` bytes of guest memory at `address` (both as register values: a range that
    /// does not fit in 32 bits fails).
    pub fn read_memory(&mut self, address: u64, len: u64) -> Result<Vec<u8>, MemoryError> {
        let error = MemoryError {
            address,
            len,
            access: Access::Read,
        };
        let (address, len) = memory::guest_range(address, len).ok_or(error)?;
        memory::read(self.raw, address, len).map_err(|_| error)
    }

    /// Writes `data` to guest memory at `address`.
    pub fn write_memory(&mut self, address: u64, data: &[u8]) -> Result<(), MemoryError> {
        let error = MemoryError {
            address,
            len: data.len() as u64,
            access: Access::Write,
        };
        let (address, _) = memory::guest_range(address, data.len() as u64).ok_or(error)?;
        memory::write(self.raw, address, data).map_err(|_| error)
    }
}

/// One message from JIP-1's `log`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogLine {
    /// The level: 0 fatal error, 1 warning, 2 important information, 3 helpful information,
    /// 4 pedantic information (other values are kept as they are).
    pub level: u64,
    /// The target (the guest passes none as pointer 0 and length 0); invalid UTF-8 is replaced.
    pub target: Option<String>,
    /// The message; invalid UTF-8 is replaced.
    pub message: String,
}

impl LogLine {
    /// The level's name as JIP-1's console format prints it.
    pub fn level_name(&self) -> &'static str {
        match self.level {
            0 => "ERROR",
            1 => "WARN",
            2 => "INFO",
            3 => "DEBUG",
            4 => "TRACE",
            _ => "LOG",
        }
    }
}

impl core::fmt::Display for LogLine {
    /// JIP-1's console format without the time stamp, core and service: `LEVEL [target] message`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.level_name())?;
        if let Some(target) = &self.target {
            write!(f, " {target}")?;
        }
        write!(f, " {}", self.message)
    }
}

/// The host used when the embedder has none of its own: it serves JIP-1's `log` and stops on
/// every other host call (the run ends with [`Exit::HostCall`](crate::Exit::HostCall)).
///
/// `log` (host call [`LOG_HOST_CALL`]): r7 = level, r8/r9 = target pointer/length (both 0:
/// no target), r10/r11 = message pointer/length. The line is recorded in [`DefaultHost::logs`]
/// (and passed to the `log` crate under the target `pvm`) unless a range is unreadable, in which
/// case nothing happens, as JIP-1 says. Either way r7 becomes [`WHAT`], and the call costs
/// [`DefaultHost::log_gas`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultHost {
    /// The lines logged so far.
    pub logs: Vec<LogLine>,
    /// The gas a `log` call costs on top of its `ecalli` instruction: JIP-1 (current text) says
    /// 10, like any host call with an unknown index in the GP. If less is left, the run ends
    /// out of gas.
    pub log_gas: u64,
}

impl DefaultHost {
    /// The gas JIP-1 gives `log`.
    pub const LOG_GAS: u64 = 10;

    /// A host with no lines logged yet.
    pub fn new() -> Self {
        DefaultHost {
            logs: Vec::new(),
            log_gas: Self::LOG_GAS,
        }
    }

    fn log(&mut self, ctx: &mut HostContext<'_>) -> HostAction {
        if !ctx.charge_gas(self.log_gas) {
            return HostAction::OutOfGas;
        }
        let (target_ptr, target_len) = (ctx.reg(Reg::R8), ctx.reg(Reg::R9));
        let target = if target_ptr == 0 && target_len == 0 {
            Ok(None)
        } else {
            ctx.read_memory(target_ptr, target_len).map(Some)
        };
        let message = ctx.read_memory(ctx.reg(Reg::R10), ctx.reg(Reg::R11));
        if let (Ok(target), Ok(message)) = (target, message) {
            let line = LogLine {
                level: ctx.reg(Reg::R7),
                target: target.map(|t| String::from_utf8_lossy(&t).into_owned()),
                message: String::from_utf8_lossy(&message).into_owned(),
            };
            let level = match line.level {
                0 => log::Level::Error,
                1 => log::Level::Warn,
                2 => log::Level::Info,
                3 => log::Level::Debug,
                _ => log::Level::Trace,
            };
            log::log!(target: "pvm", level, "{line}");
            self.logs.push(line);
        }
        ctx.set_reg(Reg::R7, WHAT);
        HostAction::Resume
    }
}

impl Default for DefaultHost {
    fn default() -> Self {
        DefaultHost::new()
    }
}

impl Host for DefaultHost {
    fn ecalli(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostAction {
        match index {
            LOG_HOST_CALL => self.log(ctx),
            GROW_HEAP_HOST_CALL if ctx.flavour() == Flavour::JamV1 => grow_heap(ctx),
            _ => HostAction::Stop,
        }
    }
}

/// `grow_heap` (draft GP 0.8): r7 = the page number the read/write region should end at;
/// r7 becomes the page it ends at afterwards (unchanged when the request cannot be met or asks
/// for less than there is). Charged like any host call: [`DefaultHost::LOG_GAS`].
pub fn grow_heap(ctx: &mut HostContext<'_>) -> HostAction {
    if !ctx.charge_gas(DefaultHost::LOG_GAS) {
        return HostAction::OutOfGas;
    }
    let page = u64::from(PAGE_SIZE);
    if let Some(end) = ctx.reg(Reg::R7).checked_mul(page) {
        ctx.grow_heap_to(end);
    }
    let end_page = ctx.heap_end() / page;
    ctx.set_reg(Reg::R7, end_page);
    HostAction::Resume
}
