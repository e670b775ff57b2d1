//! Running a compiled module on polkavm as a wasm instance: exports called by name with wasm
//! values, memory, globals and tables kept from one call to the next (a trap ends the call,
//! not the instance, as in wasm).
//!
//! A call enters the export's pc with the SPI's registers (r0 the halt address, so the
//! function's return ends the run) and its arguments where the calling convention
//! (`pvm_backend::abi`) wants them: registers first, further words in an argument area just
//! below the stack's end. `i32` arguments are passed sign-extended, as the backend keeps them.

use crate::{Export, WasmProgram};
use cranelift_wasm::WasmValType;
use pvm_backend::abi::{self, Location};
use pvm_isa::{Reg, STACK_END};
use pvm_machine::{Exit, Host, Instance, Machine, MachineError, RunConfig, SpiStart};

/// A wasm value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32`, as bits.
    F32(u32),
    /// `f64`, as bits.
    F64(u64),
    /// A reference, as the compiled code holds it: 0 is null; a `funcref` is its function's
    /// jump-table address with its type id in the high half.
    Ref(u64),
}

impl Value {
    fn word(self) -> u64 {
        match self {
            Value::I32(v) => v as i64 as u64,
            Value::I64(v) => v as u64,
            // An `f32` is held as the `i32` of its bits (see `pvm_backend::softfloat`).
            Value::F32(v) => v as i32 as i64 as u64,
            Value::F64(v) | Value::Ref(v) => v,
        }
    }

    fn from_word(ty: &WasmValType, word: u64) -> Value {
        match ty {
            WasmValType::I32 => Value::I32(word as i32),
            WasmValType::I64 => Value::I64(word as i64),
            WasmValType::F32 => Value::F32(word as u32),
            WasmValType::F64 => Value::F64(word),
            WasmValType::Ref(_) | WasmValType::V128 => Value::Ref(word),
        }
    }

    fn matches(&self, ty: &WasmValType) -> bool {
        matches!(
            (self, ty),
            (Value::I32(_), WasmValType::I32)
                | (Value::I64(_), WasmValType::I64)
                | (Value::F32(_), WasmValType::F32)
                | (Value::F64(_), WasmValType::F64)
                | (Value::Ref(_), WasmValType::Ref(_))
        )
    }
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It returned these values.
    Returned(Vec<Value>),
    /// It trapped (a PVM panic or page fault).
    Trapped(Exit),
}

/// One call's outcome and the gas it used.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// How it ended.
    pub outcome: Outcome,
    /// Gas used, in the configuration's gas model.
    pub gas_used: i64,
}

/// Why a call could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No exported function has that name.
    #[error("no exported function `{0}`")]
    NoExport(String),
    /// Arguments that do not match the export's type.
    #[error("`{name}` takes ({expected}), given {given}")]
    Arguments {
        /// The export.
        name: String,
        /// Its parameter types.
        expected: String,
        /// What was given.
        given: String,
    },
    /// The machine failed.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// The argument area below the stack could not be read or written.
    #[error(transparent)]
    Memory(#[from] pvm_machine::MemoryError),
    /// The run stopped for a reason other than a return or a trap: out of gas, or a host call
    /// the host does not serve.
    #[error("the call ended with {0}")]
    Stopped(Exit),
    /// The start function trapped.
    #[error("the start function trapped: {0}")]
    StartTrapped(Exit),
}

/// A compiled module loaded into a machine.
pub struct WasmInstance<'p> {
    program: &'p WasmProgram,
    instance: Instance,
    config: RunConfig,
}

impl<'p> WasmInstance<'p> {
    /// Loads `program` and runs its data copies and start function, if it has them.
    pub fn new(
        program: &'p WasmProgram,
        config: &RunConfig,
        host: &mut (impl Host + ?Sized),
    ) -> Result<Self, InvokeError> {
        let instance = Machine::new().load_standard(
            &program.linked.program,
            program.linked.flavour,
            &SpiStart::default(),
            config,
        )?;
        let mut this = WasmInstance {
            program,
            instance,
            config: *config,
        };
        for pc in program.init.into_iter().chain(program.start) {
            let call = this.call_pc(pc, &[], &[], host)?;
            if let Outcome::Trapped(exit) = call.outcome {
                return Err(InvokeError::StartTrapped(exit));
            }
        }
        Ok(this)
    }

    /// The program.
    pub fn program(&self) -> &'p WasmProgram {
        self.program
    }

    /// The machine (memory, registers) as the last call left it.
    pub fn machine(&mut self) -> &mut Instance {
        &mut self.instance
    }

    /// Calls export `name` with `args`.
    pub fn invoke(
        &mut self,
        name: &str,
        args: &[Value],
        host: &mut (impl Host + ?Sized),
    ) -> Result<Invocation, InvokeError> {
        let export: &Export = self
            .program
            .export(name)
            .ok_or_else(|| InvokeError::NoExport(name.to_string()))?;
        let fits = args.len() == export.params.len()
            && args.iter().zip(&export.params).all(|(a, t)| a.matches(t));
        if !fits {
            let types: Vec<String> = export.params.iter().map(|t| t.to_string()).collect();
            return Err(InvokeError::Arguments {
                name: name.to_string(),
                expected: types.join(", "),
                given: format!("{args:?}"),
            });
        }
        let (pc, results) = (export.pc, export.results.clone());
        self.call_pc(pc, args, &results, host)
    }

    fn call_pc(
        &mut self,
        pc: u32,
        args: &[Value],
        results: &[WasmValType],
        host: &mut (impl Host + ?Sized),
    ) -> Result<Invocation, InvokeError> {
        let words = args.len().max(results.len());
        let area = abi::stack_bytes(words);
        let sp = u64::from(STACK_END) - u64::from(area) - u64::from(abi::ARG_AREA_OFFSET);
        let mut regs = pvm_machine::spi_registers(0);
        regs[Reg::R1 as usize] = sp;
        regs[Reg::R7 as usize] = 0;
        for (word, value) in args.iter().enumerate() {
            match abi::location(word) {
                Location::Reg(preg) => regs[abi::reg_of(preg) as usize] = value.word(),
                Location::Stack(offset) => {
                    let at = sp + u64::from(abi::ARG_AREA_OFFSET) + u64::from(offset);
                    self.instance
                        .write_memory(at as u32, &value.word().to_le_bytes())
                        .map_err(InvokeError::Memory)?;
                }
            }
        }
        self.instance.restart(pc, &regs);
        self.instance.set_gas(self.config.gas);
        let report = self.instance.run(host)?;
        let outcome = match report.exit {
            Exit::Halt => {
                let mut values = Vec::new();
                for (word, ty) in results.iter().enumerate() {
                    let bits = match abi::location(word) {
                        Location::Reg(preg) => report.regs[abi::reg_of(preg) as usize],
                        Location::Stack(offset) => {
                            let at = sp + u64::from(abi::ARG_AREA_OFFSET) + u64::from(offset);
                            let bytes = self
                                .instance
                                .read_memory(at as u32, 8)
                                .map_err(InvokeError::Memory)?;
                            u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
                        }
                    };
                    values.push(Value::from_word(ty, bits));
                }
                Outcome::Returned(values)
            }
            exit @ (Exit::Panic { .. } | Exit::PageFault { .. }) => Outcome::Trapped(exit),
            exit => return Err(InvokeError::Stopped(exit)),
        };
        Ok(Invocation {
            outcome,
            gas_used: report.gas_used,
        })
    }
}
