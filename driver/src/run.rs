//! `run`: run a program on polkavm and report how it ended, its result, log lines and gas.
//!
//! Two ways in:
//! - an entry point (`--pc`, default 0) with argument bytes, as the SPI enters a program.
//!   WebAssembly and CLIF are compiled in memory first; a wasm module becomes a JAM service with
//!   the default entry points (`refine` or `is_authorized` at pc 0, `accumulate` at pc 5);
//! - `--invoke EXPORT ARGS...`: one exported function with scalar arguments. Wasm: through a
//!   `pvm_wasm::instance::WasmInstance` (the start function runs first; arguments are parsed by
//!   the export's parameter types). A `.polkavm` container (or CLIF, compiled to one): the
//!   export by name, integer arguments in the calling convention's registers (r7, r8, r2 …).
//!
//! Gas is reported in the naive model and in draft GP 0.8's full model (each from a run of its
//! own; the one `--gas-model` names decides what else is reported). The full model needs AVX2;
//! without it that figure is `n/a (needs AVX2)`.
//!
//! Exit status: 0 when the program halted or the function returned, 3 when it ended any other
//! way (trap, page fault, out of gas, an unserved host call), 1 for bad input.

use crate::source::{self, shown, CompileFlags, Compiled, EntryDefaults, Input, Source};
use anyhow::{anyhow, bail, Context, Result};
use clap::ValueEnum;
use cranelift_wasm::WasmValType;
use pvm_backend::abi::{self, Location};
use pvm_isa::{ContainerFormat, Flavour, PolkavmContainer, Reg, StandardProgram};
use pvm_machine::{
    Backend, DefaultHost, Exit, GasModel, LogLine, Machine, MachineError, RunConfig, SpiStart,
};
use pvm_wasm::instance::{InvokeError, Outcome, Value, WasmInstance};
use pvm_wasm::WasmProgram;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// `run`'s arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: Input,
    #[command(flatten)]
    pub flags: CompileFlags,
    /// Call the export EXPORT with ARGS (integers: decimal, or hex with 0x; put --invoke last).
    /// Wasm: the arguments follow the export's parameter types. `.polkavm` and CLIF: they go in
    /// r7, r8, r2, r3 … and the result is read from r7 and r8.
    #[arg(long, num_args = 1.., value_name = "EXPORT ARGS", allow_negative_numbers = true,
          conflicts_with_all = ["args", "args_hex", "pc"])]
    pub invoke: Option<Vec<String>>,
    /// Argument bytes, as text; `@FILE` reads them from FILE.
    #[arg(long, conflicts_with = "args_hex")]
    pub args: Option<String>,
    /// Argument bytes, as hex digits.
    #[arg(long)]
    pub args_hex: Option<String>,
    /// The program counter to start at (JAM: 0 refine / is_authorized, 5 accumulate) [default: 0].
    #[arg(long)]
    pub pc: Option<u32>,
    /// Gas to start with.
    #[arg(long, default_value_t = RunConfig::DEFAULT_GAS)]
    pub gas: i64,
    /// The gas model of the run whose exit and output are reported (the naive and GP 0.8
    /// figures are always both shown).
    #[arg(long, value_enum, default_value_t = GasArg::Naive)]
    pub gas_model: GasArg,
    /// The polkavm backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Interpreter)]
    pub backend: BackendArg,
}

/// `--gas-model`.
#[derive(Copy, Clone, ValueEnum)]
pub enum GasArg {
    /// 1 per instruction, charged per basic block on entry (GP 0.7.2, polkavm's default).
    Naive,
    /// 1 per instruction executed (the GP 0.7.2 text; interpreter only).
    PerInstruction,
    /// Draft GP 0.8's pipeline cost model (needs AVX2).
    Full,
}

/// `--backend`.
#[derive(Copy, Clone, ValueEnum)]
pub enum BackendArg {
    /// polkavm's interpreter.
    Interpreter,
    /// polkavm's x86-64 recompiler.
    Recompiler,
}

/// The name of a gas model in reports.
pub fn model_name(model: GasModel) -> &'static str {
    match model {
        GasModel::Full => "GP 0.8",
        other => other.name(),
    }
}

/// How one exit reads in reports.
pub fn describe_exit(exit: &Exit) -> String {
    match *exit {
        Exit::Halt => "halt".to_string(),
        Exit::Panic { pc } => format!("trap at pc {pc:#x}"),
        Exit::PageFault { address, pc } => {
            format!("page fault at address {address:#x} (pc {pc:#x})")
        }
        Exit::OutOfGas { pc } => format!("out of gas at pc {pc:#x}"),
        Exit::HostCall { index, pc } => format!("host call {index} at pc {pc:#x} (not served)"),
    }
}

/// Runs `run`.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let path = args.input.input.clone();
    let source = source::read_source(&path, args.input.format, args.input.flavour)?;
    let flavour = args.input.flavour.unwrap_or_default();
    let config = RunConfig {
        gas: args.gas,
        gas_model: match args.gas_model {
            GasArg::Naive => GasModel::Naive,
            GasArg::PerInstruction => GasModel::PerInstruction,
            GasArg::Full => GasModel::Full,
        },
        backend: match args.backend {
            BackendArg::Interpreter => Backend::Interpreter,
            BackendArg::Recompiler => Backend::Recompiler,
        },
        ..RunConfig::default()
    };
    let report = match (&source, &args.invoke) {
        (Source::Wasm(_) | Source::Clif(_), Some(invoke)) => {
            let compiled = source::compile(
                &path,
                &source,
                flavour,
                &args.flags,
                EntryDefaults::Off,
                false,
            )?;
            match compiled {
                Compiled::Wasm(program) => invoke_wasm(&path, &program, invoke, &config)?,
                Compiled::Clif(_) => {
                    let container = compiled.polkavm().with_context(|| shown(&path))?;
                    invoke_export(&path, &container, invoke, &config)?
                }
            }
        }
        (Source::Program(loaded, flavour), Some(invoke)) => {
            if loaded.format != ContainerFormat::Polkavm {
                bail!(
                    "{}: --invoke calls exports by name, which only .polkavm containers (and \
                     WebAssembly and CLIF input) have; this is a {} container: use --pc",
                    shown(&path),
                    loaded.format
                );
            }
            let container = PolkavmContainer {
                flavour: *flavour,
                program: loaded.program.clone(),
                imports: loaded.imports.clone(),
                exports: loaded.exports.clone(),
            };
            invoke_export(&path, &container, invoke, &config)?
        }
        (Source::Wasm(_) | Source::Clif(_), None) => {
            let compiled = source::compile(
                &path,
                &source,
                flavour,
                &args.flags,
                EntryDefaults::Jam,
                false,
            )?;
            if matches!(source, Source::Wasm(_)) && compiled.entries().is_empty() {
                bail!(
                    "{}: the module exports none of `refine`, `is_authorized`, `accumulate`: \
                     call an export with --invoke EXPORT ARGS..., or name entry points with \
                     --entry NAME=EXPORT",
                    shown(&path)
                );
            }
            crate::print_warnings(&compiled.warnings(&path));
            let start = spi_start(&args)?;
            run_entry(
                &path,
                compiled.standard(),
                compiled.flavour(),
                &start,
                &config,
            )?
        }
        (Source::Program(loaded, flavour), None) => {
            let start = spi_start(&args)?;
            run_entry(&path, &loaded.program, *flavour, &start, &config)?
        }
    };
    crate::print_out(&report.text)?;
    Ok(if report.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// What a run printed and whether it succeeded.
struct RunReport {
    text: String,
    success: bool,
}

fn spi_start(args: &RunArgs) -> Result<SpiStart> {
    let bytes = match (&args.args, &args.args_hex) {
        (Some(text), _) => match text.strip_prefix('@') {
            Some(file) => {
                std::fs::read(file).with_context(|| format!("--args {text}: cannot read {file}"))?
            }
            None => text.clone().into_bytes(),
        },
        (None, Some(hex)) => hex::decode(hex).map_err(|e| anyhow!("--args-hex `{hex}`: {e}"))?,
        (None, None) => Vec::new(),
    };
    Ok(SpiStart::new(bytes).at_pc(args.pc.unwrap_or(0)))
}

/// The other gas models to report besides the run's own, in report order.
fn report_models(primary: GasModel) -> Vec<GasModel> {
    let mut models = Vec::new();
    if primary == GasModel::PerInstruction {
        models.push(primary);
    }
    models.extend([GasModel::Naive, GasModel::Full]);
    models
}

/// What a run in one gas model measured: its gas and how it ended, or nothing when the model
/// cannot run here.
enum Measured {
    /// The gas used (unknown when a wasm module's start function trapped) and how the run
    /// ended.
    Gas {
        used: Option<i64>,
        end: String,
    },
    NeedsAvx2,
}

/// The `gas used:` line: the primary run's gas, and each other model's from `measure`.
fn gas_line(
    primary: GasModel,
    used: Option<i64>,
    end: &str,
    mut measure: impl FnMut(GasModel) -> Result<Measured>,
) -> Result<String> {
    let mut parts = Vec::new();
    for model in report_models(primary) {
        let name = model_name(model);
        let measured = if model == primary {
            Measured::Gas {
                used,
                end: end.to_string(),
            }
        } else {
            measure(model)?
        };
        parts.push(match measured {
            Measured::NeedsAvx2 => "n/a (needs AVX2)".to_string(),
            Measured::Gas { used, end: other } => {
                let used = used.map_or("n/a".to_string(), |u| u.to_string());
                if other == end {
                    format!("{used} ({name})")
                } else {
                    // The gas limit can end one model's run where the other's goes on.
                    format!("{used} ({name}, which ended: {other})")
                }
            }
        });
    }
    Ok(format!("gas used: {}\n", parts.join(", ")))
}

fn is_avx2_missing(error: &MachineError) -> bool {
    *error == MachineError::Avx2Required
}

/// Output bytes: hex, and the text when every byte is printable ASCII or white space.
fn output_lines(output: &[u8]) -> String {
    let mut text = format!("output ({} bytes): {}\n", output.len(), hex::encode(output));
    let printable = |b: &u8| b.is_ascii_graphic() || b.is_ascii_whitespace();
    if !output.is_empty() && output.iter().all(printable) {
        let _ = writeln!(text, "output text: {:?}", String::from_utf8_lossy(output));
    }
    text
}

fn log_lines(logs: &[LogLine]) -> String {
    logs.iter().map(|line| format!("log: {line}\n")).collect()
}

/// Runs a program from an entry point.
fn run_entry(
    path: &Path,
    program: &StandardProgram,
    flavour: Flavour,
    start: &SpiStart,
    config: &RunConfig,
) -> Result<RunReport> {
    let machine = Machine::new();
    run_machine(
        path,
        config,
        |config| machine.load_standard(program, flavour, start, config),
        |e| anyhow::Error::new(e).context(format!("{}: cannot run", shown(path))),
        describe_exit,
        |report| {
            report
                .output
                .as_deref()
                .map(output_lines)
                .unwrap_or_default()
        },
    )
}

/// Runs the instances `load` makes with the default host and reports the run: log lines, the
/// exit as `describe` names it, `results` of the report, and the gas in both models (the other
/// model's figure from a second run). `first_error` words a failure of the first run.
fn run_machine(
    path: &Path,
    config: &RunConfig,
    load: impl Fn(&RunConfig) -> Result<pvm_machine::Instance, MachineError>,
    first_error: impl FnOnce(MachineError) -> anyhow::Error,
    describe: impl Fn(&Exit) -> String,
    results: impl FnOnce(&pvm_machine::Report) -> String,
) -> Result<RunReport> {
    let once = |config: &RunConfig| -> Result<(pvm_machine::Report, DefaultHost), MachineError> {
        let mut host = DefaultHost::new();
        let report = load(config)?.run(&mut host)?;
        Ok((report, host))
    };
    let (report, host) = once(config).map_err(first_error)?;
    let end = describe(&report.exit);
    let mut text = log_lines(&host.logs);
    let _ = writeln!(text, "exit: {end}");
    text += &results(&report);
    text += &gas_line(
        config.gas_model,
        Some(report.gas_used),
        &end,
        |model| match once(&RunConfig {
            gas_model: model,
            ..*config
        }) {
            Ok((report, _)) => Ok(Measured::Gas {
                used: Some(report.gas_used),
                end: describe(&report.exit),
            }),
            Err(e) if is_avx2_missing(&e) => Ok(Measured::NeedsAvx2),
            Err(e) => Err(anyhow!("{}: cannot run: {e}", shown(path))),
        },
    )?;
    Ok(RunReport {
        text,
        success: report.exit == Exit::Halt,
    })
}

/// Parses an integer argument: decimal (signed or not) or `0x` hex, fitting `bits`.
fn parse_int(text: &str, bits: u32) -> Option<u64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    if negative {
        let min = 1u64 << (bits - 1);
        (magnitude <= min).then(|| magnitude.wrapping_neg() & max)
    } else {
        (magnitude <= max).then_some(magnitude)
    }
}

fn wasm_value(text: &str, ty: &WasmValType) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not {what}");
    match ty {
        WasmValType::I32 => parse_int(text, 32)
            .map(|v| Value::I32(v as u32 as i32))
            .ok_or_else(|| bad("an i32")),
        WasmValType::I64 => parse_int(text, 64)
            .map(|v| Value::I64(v as i64))
            .ok_or_else(|| bad("an i64")),
        other => Err(format!(
            "{other} arguments are not supported, only i32 and i64"
        )),
    }
}

fn show_value(value: &Value) -> String {
    match *value {
        Value::I32(v) => format!("{v} (i32)"),
        Value::I64(v) => format!("{v} (i64)"),
        Value::F32(bits) => format!("{} (f32)", f32::from_bits(bits)),
        Value::F64(bits) => format!("{} (f64)", f64::from_bits(bits)),
        Value::Ref(0) => "null (ref)".to_string(),
        Value::Ref(v) => format!("{v:#x} (ref)"),
    }
}

/// How a wasm call ended, for comparing runs.
enum WasmEnd {
    Returned(Vec<Value>),
    Trapped(Exit),
    Stopped(Exit),
    StartTrapped(Exit),
}

impl WasmEnd {
    fn describe(&self) -> String {
        match self {
            WasmEnd::Returned(_) => "returned".to_string(),
            WasmEnd::Trapped(exit) | WasmEnd::Stopped(exit) => describe_exit(exit),
            WasmEnd::StartTrapped(exit) => {
                format!("the start function ended: {}", describe_exit(exit))
            }
        }
    }
}

/// Calls a wasm export (see the module docs).
fn invoke_wasm(
    path: &Path,
    program: &WasmProgram,
    invoke: &[String],
    config: &RunConfig,
) -> Result<RunReport> {
    let (name, texts) = invoke.split_first().expect("clap asks for an export");
    let Some(export) = program.export(name) else {
        let names: Vec<&str> = program.exports.iter().map(|e| e.name.as_str()).collect();
        bail!(
            "{}: no exported function `{name}` (the module exports: {})",
            shown(path),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let types: Vec<String> = export.params.iter().map(|t| t.to_string()).collect();
    if texts.len() != export.params.len() {
        bail!(
            "{}: `{name}` takes {} argument(s) ({}), given {}",
            shown(path),
            export.params.len(),
            types.join(", "),
            texts.len()
        );
    }
    let args = texts
        .iter()
        .zip(&export.params)
        .enumerate()
        .map(|(i, (text, ty))| {
            wasm_value(text, ty)
                .map_err(|e| anyhow!("{}: `{name}` argument {}: {e}", shown(path), i + 1))
        })
        .collect::<Result<Vec<_>>>()?;

    // Ok((end, gas, logs)): the gas is unknown when the start function trapped.
    let once = |config: &RunConfig| -> Result<(WasmEnd, Option<i64>, Vec<LogLine>), InvokeError> {
        let mut host = DefaultHost::new();
        let mut instance = match WasmInstance::new(program, config, &mut host) {
            Ok(instance) => instance,
            Err(InvokeError::StartTrapped(exit)) => {
                return Ok((WasmEnd::StartTrapped(exit), None, host.logs))
            }
            Err(e) => return Err(e),
        };
        match instance.invoke(name, &args, &mut host) {
            Ok(call) => {
                let end = match call.outcome {
                    Outcome::Returned(values) => WasmEnd::Returned(values),
                    Outcome::Trapped(exit) => WasmEnd::Trapped(exit),
                };
                Ok((end, Some(call.gas_used), host.logs))
            }
            Err(InvokeError::Stopped(exit)) => {
                // The call's gas: what it started with less what the machine has left.
                let used = config.gas - instance.machine().gas();
                Ok((WasmEnd::Stopped(exit), Some(used), host.logs))
            }
            Err(e) => Err(e),
        }
    };
    let (end, gas, logs) = once(config).map_err(|e| anyhow!("{}: cannot run: {e}", shown(path)))?;
    let mut text = log_lines(&logs);
    let _ = writeln!(text, "exit: {}", end.describe());
    if let WasmEnd::Returned(values) = &end {
        let shown_values: Vec<String> = values.iter().map(show_value).collect();
        let _ = writeln!(
            text,
            "result: {}",
            if values.is_empty() {
                "none".to_string()
            } else {
                shown_values.join(", ")
            }
        );
    }
    text += &gas_line(config.gas_model, gas, &end.describe(), |model| {
        match once(&RunConfig {
            gas_model: model,
            ..*config
        }) {
            Ok((end, used, _)) => Ok(Measured::Gas {
                used,
                end: end.describe(),
            }),
            Err(InvokeError::Machine(e)) if is_avx2_missing(&e) => Ok(Measured::NeedsAvx2),
            Err(e) => Err(anyhow!("{}: cannot run: {e}", shown(path))),
        }
    })?;
    Ok(RunReport {
        success: matches!(end, WasmEnd::Returned(_)),
        text,
    })
}

/// Calls an export of a `.polkavm` container with integer arguments (see the module docs).
fn invoke_export(
    path: &Path,
    container: &PolkavmContainer,
    invoke: &[String],
    config: &RunConfig,
) -> Result<RunReport> {
    let (name, texts) = invoke.split_first().expect("clap asks for an export");
    let mut regs: Vec<(Reg, u64)> = Vec::new();
    for (word, text) in texts.iter().enumerate() {
        let value = parse_int(text, 64).ok_or_else(|| {
            anyhow!(
                "{}: `{name}` argument {}: `{text}` is not an integer",
                shown(path),
                word + 1
            )
        })?;
        match abi::location(word) {
            Location::Reg(preg) => regs.push((abi::reg_of(preg), value)),
            Location::Stack(_) => bail!(
                "{}: `{name}`: at most {word} arguments can be passed (in registers)",
                shown(path)
            ),
        }
    }
    let machine = Machine::new();
    run_machine(
        path,
        config,
        |config| machine.load_export(container, name, &regs, config),
        |e| anyhow!("{}: {e}", shown(path)),
        |exit| match exit {
            Exit::Halt => "returned".to_string(),
            other => describe_exit(other),
        },
        |report| {
            if report.exit != Exit::Halt {
                return String::new();
            }
            let [r7, r8] = [Reg::R7, Reg::R8].map(|r| report.regs[r as usize] as i64);
            format!("result: r7 = {r7}, r8 = {r8}\n")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_in_range() {
        assert_eq!(parse_int("42", 32), Some(42));
        assert_eq!(parse_int("-1", 32), Some(0xffff_ffff));
        assert_eq!(parse_int("0xffffffff", 32), Some(0xffff_ffff));
        assert_eq!(parse_int("0x100000000", 32), None);
        assert_eq!(parse_int("-2147483648", 32), Some(0x8000_0000));
        assert_eq!(parse_int("-2147483649", 32), None);
        assert_eq!(parse_int("-1", 64), Some(u64::MAX));
        assert_eq!(parse_int("18446744073709551615", 64), Some(u64::MAX));
        assert_eq!(parse_int("1x", 64), None);
        assert_eq!(parse_int("", 64), None);
    }
}
