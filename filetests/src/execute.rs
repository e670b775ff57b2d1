//! Running compiled CLIF functions on polkavm, with CLIF values in and out.
//!
//! A [`FunctionSet`] holds functions compiled once; [`FunctionSet::executable`] links one of
//! them, with every function it reaches (calls, function addresses), into a program and enters
//! it at that function's first instruction, with the SPI's initial registers except that the
//! arguments are put where the calling convention wants them (`pvm_backend::abi::ARG_REGS`);
//! `r0` holds the halt address, so the function's return ends the run, and the results are
//! read from `pvm_backend::abi::RETURN_REGS`. Narrow integer arguments are passed
//! sign-extended, as the backend keeps them. Arguments and results must fit those registers
//! (no stack words). An [`Executable`] is linked once for many calls; each call gets a fresh
//! machine. [`Executable::new`] and [`execute`] do it all for a single function.

use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{types, Function, Signature, Type};
use pvm_backend::link::{FunctionCode, LinkOptions, Linker, Symbol};
use pvm_backend::{abi, compile_function_code, CompileError, Options};
use pvm_isa::{Flavour, StandardProgram};
use pvm_machine::{DefaultHost, Exit, Machine, MachineError, RunConfig, SpiStart};

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It returned these values.
    Returned(Vec<DataValue>),
    /// It trapped (any PVM panic or page fault).
    Trapped(Exit),
}

/// Why a call could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The backend refused the function.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The machine refused the program.
    #[error(transparent)]
    Machine(#[from] MachineError),
    /// An argument or result type the harness does not pass.
    #[error("cannot pass a value of type {0}")]
    Type(Type),
    /// Arguments that do not match the signature.
    #[error("{0}")]
    Signature(String),
    /// The run stopped for a reason other than a return or a trap (gas, host call).
    #[error("the run ended with {0}")]
    Stopped(Exit),
    /// The function to enter is not in the set.
    #[error("no function {0} was compiled")]
    NoFunction(Symbol),
}

/// The stack each program gets.
pub const STACK_SIZE: u32 = 1 << 20;
/// The gas a call gets: enough for any bounded test loop.
pub const GAS: i64 = 1 << 32;

/// A call's outcome and the gas it used (polkavm's naive model).
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// How it ended.
    pub outcome: Outcome,
    /// Gas used.
    pub gas: i64,
}

fn to_words(value: &DataValue) -> Result<Vec<u64>, ExecuteError> {
    Ok(match *value {
        DataValue::I8(v) => vec![v as i64 as u64],
        DataValue::I16(v) => vec![v as i64 as u64],
        DataValue::I32(v) => vec![v as i64 as u64],
        DataValue::I64(v) => vec![v as u64],
        DataValue::I128(v) => vec![v as u64, (v >> 64) as u64],
        // Floats travel as the integers of their width (see `pvm_backend::softfloat`).
        DataValue::F32(v) => vec![v.bits() as i32 as i64 as u64],
        DataValue::F64(v) => vec![v.bits()],
        ref other => return Err(ExecuteError::Type(other.ty())),
    })
}

fn from_words(ty: Type, words: &mut impl Iterator<Item = u64>) -> Result<DataValue, ExecuteError> {
    let mut next = || words.next().ok_or(ExecuteError::Type(ty));
    Ok(match ty {
        types::I8 => DataValue::I8(next()? as i8),
        types::I16 => DataValue::I16(next()? as i16),
        types::I32 => DataValue::I32(next()? as i32),
        types::I64 => DataValue::I64(next()? as i64),
        types::F32 => DataValue::F32(Ieee32::with_bits(next()? as u32)),
        types::F64 => DataValue::F64(Ieee64::with_bits(next()?)),
        types::I128 => {
            let lo = next()?;
            let hi = next()?;
            DataValue::I128((u128::from(hi) << 64 | u128::from(lo)) as i128)
        }
        other => return Err(ExecuteError::Type(other)),
    })
}

/// Compiles `func` and calls it with `args`.
pub fn execute(
    func: &Function,
    args: &[DataValue],
    options: &Options,
) -> Result<Call, ExecuteError> {
    Executable::new(func, options)?.call(args)
}

/// Functions compiled once, to be linked into programs entered at any one of them.
pub struct FunctionSet {
    options: Options,
    functions: Vec<(Symbol, Signature, FunctionCode)>,
}

impl FunctionSet {
    /// An empty set compiled with `options`.
    pub fn new(options: &Options) -> Self {
        FunctionSet {
            options: options.clone(),
            functions: Vec::new(),
        }
    }

    /// Compiles `func` into the set, under its own name.
    pub fn add(&mut self, func: &Function) -> Result<(), CompileError> {
        let emitted = compile_function_code(func, &self.options)?;
        self.functions.push((
            Symbol::of_function(func),
            func.signature.clone(),
            emitted.code,
        ));
        Ok(())
    }

    /// A program holding `entry` and every function it reaches, entered at `entry`.
    pub fn executable(&self, entry: &Symbol) -> Result<Executable, ExecuteError> {
        let signature = self
            .functions
            .iter()
            .find_map(|(symbol, signature, _)| (symbol == entry).then_some(signature))
            .ok_or_else(|| ExecuteError::NoFunction(entry.clone()))?;
        let mut linker = Linker::with_options(&self.options);
        for (symbol, _, code) in &self.functions {
            linker.add_function(symbol.clone(), code)?;
        }
        let options = LinkOptions {
            roots: Some(vec![entry.clone()]),
            stack_size: STACK_SIZE,
            ..LinkOptions::default()
        };
        let linked = linker.link(&options)?;
        Ok(Executable {
            signature: signature.clone(),
            pc: linked
                .function_pc(entry)
                .ok_or_else(|| ExecuteError::NoFunction(entry.clone()))?,
            program: linked.program,
            flavour: self.options.flavour,
        })
    }
}

/// A function linked into a program once and called any number of times.
pub struct Executable {
    signature: Signature,
    program: StandardProgram,
    /// The function's entry.
    pc: u32,
    flavour: Flavour,
}

impl Executable {
    /// Compiles `func` as a program of its own.
    pub fn new(func: &Function, options: &Options) -> Result<Self, ExecuteError> {
        let mut set = FunctionSet::new(options);
        set.add(func)?;
        set.executable(&Symbol::of_function(func))
    }

    /// Calls the function with `args` on a fresh machine.
    pub fn call(&self, args: &[DataValue]) -> Result<Call, ExecuteError> {
        let params: Vec<Type> = self.signature.params.iter().map(|p| p.value_type).collect();
        let arg_types: Vec<Type> = args.iter().map(DataValue::ty).collect();
        if params != arg_types {
            return Err(ExecuteError::Signature(format!(
                "arguments of types {arg_types:?} for parameters {params:?}"
            )));
        }
        let mut start = SpiStart::new(Vec::new()).at_pc(self.pc);
        let mut words = Vec::new();
        for arg in args {
            words.extend(to_words(arg)?);
        }
        if words.len() > abi::ARG_REGS.len() {
            return Err(ExecuteError::Signature(format!(
                "{} argument registers needed",
                words.len()
            )));
        }
        for (word, preg) in words.into_iter().zip(abi::ARG_REGS) {
            start = start.with_reg(abi::reg_of(preg), word);
        }
        let config = RunConfig::with_gas(GAS);
        let report = Machine::new()
            .load_standard(&self.program, self.flavour, &start, &config)?
            .run(&mut DefaultHost::new())?;
        let outcome = match report.exit {
            Exit::Halt => {
                let mut words = abi::RETURN_REGS
                    .iter()
                    .map(|&preg| report.regs[usize::from(abi::reg_of(preg).index())]);
                let values = self
                    .signature
                    .returns
                    .iter()
                    .map(|r| from_words(r.value_type, &mut words))
                    .collect::<Result<_, _>>()?;
                Outcome::Returned(values)
            }
            exit @ (Exit::Panic { .. } | Exit::PageFault { .. }) => Outcome::Trapped(exit),
            other => return Err(ExecuteError::Stopped(other)),
        };
        Ok(Call {
            outcome,
            gas: report.gas_used,
        })
    }
}
