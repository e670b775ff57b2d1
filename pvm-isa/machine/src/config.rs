//! How to run a program: gas, gas cost model, polkavm backend and tracing.

use core::fmt;

/// How gas is counted. All three are polkavm's own cost models; the machine only picks one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GasModel {
    /// polkavm's default naive model (`CostModel::naive_ref()`): every instruction costs 1, and
    /// a basic block's whole cost is charged when the block is entered. A run that ends inside a
    /// block (panic, page fault, host-call exit) has therefore paid for the rest of the block.
    #[default]
    Naive,
    /// 1 per instruction, charged as each instruction executes: the GP ≤ 0.7.2 rule taken
    /// literally (polkavm's deprecated per-instruction metering; interpreter only).
    PerInstruction,
    /// The draft GP 0.8 model: polkavm's `CostModelKind::Full(CacheModel::L2Hit)`, a pipeline
    /// simulation per basic block (block cost = max(cycles − 3, 1), memory accesses assumed to
    /// hit the L2 cache), charged on entry. Needs AVX2 on x86-64.
    Full,
}

impl GasModel {
    /// The name used on command lines and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            GasModel::Naive => "naive",
            GasModel::PerInstruction => "per-instruction",
            GasModel::Full => "full",
        }
    }
}

impl fmt::Display for GasModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which polkavm backend executes the code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// polkavm's interpreter: works everywhere and with every option here.
    #[default]
    Interpreter,
    /// polkavm's x86-64 recompiler in its Linux sandbox. Not with [`GasModel::PerInstruction`]
    /// or with raw programs (which need dynamic paging, and with it userfaultfd); polkavm
    /// reports those as errors.
    Recompiler,
}

impl Backend {
    /// The name used on command lines and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Interpreter => "interpreter",
            Backend::Recompiler => "recompiler",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything about a run that is not the program itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RunConfig {
    /// The initial gas.
    pub gas: i64,
    /// How gas is counted.
    pub gas_model: GasModel,
    /// Which polkavm backend runs the code.
    pub backend: Backend,
    /// Whether the report names the instruction that halted (the jump to `0xFFFF0000`).
    ///
    /// polkavm forgets the program counter when a program halts, so finding it means stopping
    /// after every instruction (polkavm's step tracing), which makes the run several times
    /// slower. Without it, [`Report::pc`](crate::Report::pc) is `None` after a halt. Gas and
    /// every other result are the same either way.
    pub track_halt_pc: bool,
}

impl RunConfig {
    /// The default gas: plenty for tests, small enough that a runaway loop ends quickly.
    pub const DEFAULT_GAS: i64 = 1 << 32;

    /// A configuration with `gas` and the defaults otherwise.
    pub fn with_gas(gas: i64) -> Self {
        RunConfig {
            gas,
            ..RunConfig::default()
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            gas: RunConfig::DEFAULT_GAS,
            gas_model: GasModel::default(),
            backend: Backend::default(),
            track_halt_pc: false,
        }
    }
}
