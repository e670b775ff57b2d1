//! `bench`: compile and run the benchmark suite, one table row (or JSON object) per program.
//!
//! The suite is a manifest, `DIR/manifest.txt`, of lines `NAME FILE EXPECTED`, `#` starting a
//! comment. FILE is WebAssembly (`.wasm` or `.wat`) exporting `run: () -> i64`. The suite in
//! `driver/bench` names its files from the repository root (its header says so); a suite of
//! one's own may name them from DIR. Both are served by one rule: FILE is relative to the
//! nearest ancestor of DIR (DIR included) that holds it. EXPECTED is `run`'s result (decimal,
//! or 0x hex).
//!
//! For each program: its wasm size, the code blob's size, the JAM service blob's size (the SPI
//! program with empty metadata), the gas `run` uses in the naive and the GP 0.8 model, the
//! compile time (median of three compiles) and whether the result is the expected one. Any
//! failure (a program that does not compile or run, or a wrong result) is marked on its row and
//! makes the exit status 1.
//!
//! A second table (unless `--no-runtime`) has one row per soft-float runtime routine: the code
//! bytes it adds to a program and its gas per call over a fixed operand set ([`runtime`]), and
//! the whole runtime's size. A routine that fails to compile, or traps, fails the same way.

mod runtime;

use crate::run::model_name;
use crate::source::{self, shown, CompileFlags, Compiled, EntryDefaults, Source};
use anyhow::{anyhow, bail, Context, Result};
use pvm_backend::softfloat::Routine;
use pvm_isa::Flavour;
use pvm_machine::{DefaultHost, GasModel, MachineError, RunConfig};
use pvm_wasm::instance::{InvokeError, Outcome, Value, WasmInstance};
use pvm_wasm::WasmProgram;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `bench`'s arguments.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// The folder holding `manifest.txt` [default: the driver's `bench` folder].
    pub dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The instruction-set flavour: `jam-v1` or `gp-0.7.2`.
    #[arg(long, visible_alias = "flavour", default_value = "jam-v1", value_parser = source::parse_flavour)]
    pub isa: Flavour,
    /// Gas each run starts with.
    #[arg(long, default_value_t = RunConfig::DEFAULT_GAS)]
    pub gas: i64,
    /// Leave out the soft-float runtime's table.
    #[arg(long)]
    pub no_runtime: bool,
    #[command(flatten)]
    pub flags: CompileFlags,
}

/// One manifest line.
struct Program {
    name: String,
    file: String,
    expected: i64,
}

/// One program's measurements.
#[derive(Default)]
struct Row {
    wasm_bytes: usize,
    code_bytes: usize,
    blob_bytes: usize,
    gas_naive: i64,
    /// `None`: the GP 0.8 model cannot run here (no AVX2).
    gas_full: Option<i64>,
    compile: Duration,
    result: i64,
}

/// Reads the manifest at `path`.
fn read_manifest(path: &Path) -> Result<Vec<Program>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", shown(path)))?;
    let mut programs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let place = || format!("{}:{}", shown(path), index + 1);
        let line = line.split('#').next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            [] => continue,
            [name, file, expected] => {
                let expected = parse_i64(expected).ok_or_else(|| {
                    anyhow!("{}: expected result `{expected}` is not an i64", place())
                })?;
                if programs.iter().any(|p: &Program| p.name == name) {
                    bail!("{}: `{name}` is listed twice", place());
                }
                programs.push(Program {
                    name: name.to_string(),
                    file: file.to_string(),
                    expected,
                });
            }
            _ => bail!(
                "{}: expected `NAME FILE EXPECTED`, found `{}`",
                place(),
                line.trim()
            ),
        }
    }
    if programs.is_empty() {
        bail!("{}: no programs", shown(path));
    }
    Ok(programs)
}

fn parse_i64(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        Some(magnitude as i64)
    }
}

/// FILE relative to the nearest ancestor of `dir` (itself included) that holds it.
fn resolve(dir: &Path, file: &str) -> Option<PathBuf> {
    let dir = dir.canonicalize().ok()?;
    dir.ancestors().map(|a| a.join(file)).find(|p| p.is_file())
}

/// Calls `run` in `model`; `Ok(None)` when the model cannot run here.
fn run_once(program: &WasmProgram, model: GasModel, gas: i64) -> Result<Option<(i64, i64)>> {
    let config = RunConfig {
        gas,
        gas_model: model,
        ..RunConfig::default()
    };
    let mut host = DefaultHost::new();
    let mut instance = match WasmInstance::new(program, &config, &mut host) {
        Err(InvokeError::Machine(MachineError::Avx2Required)) => return Ok(None),
        other => other?,
    };
    let call = instance.invoke("run", &[], &mut host)?;
    match call.outcome {
        Outcome::Returned(values) => match values[..] {
            [Value::I64(v)] => Ok(Some((v, call.gas_used))),
            [Value::I32(v)] => Ok(Some((i64::from(v), call.gas_used))),
            _ => bail!("`run` returned {values:?}, not one integer"),
        },
        Outcome::Trapped(exit) => bail!(
            "`run` ended with {} ({})",
            crate::run::describe_exit(&exit),
            model_name(model)
        ),
    }
}

/// Compiles (three times, for the median time) and runs one program.
fn measure(path: &Path, flavour: Flavour, flags: &CompileFlags, gas: i64) -> Result<Row> {
    let source = source::read_source(path, None, None)?;
    let Source::Wasm(wasm) = &source else {
        bail!("{}: not WebAssembly", shown(path));
    };
    // Each program is built as the JAM service it would be deployed as, `refine` running `run`
    // (so the blob size is the deployed one); gas is measured calling `run` by name.
    let mut flags = flags.clone();
    if flags.entries.is_empty() {
        flags.entries = vec![("refine".to_string(), "run".to_string())];
    }
    let mut times = Vec::new();
    let mut compiled = None;
    for _ in 0..3 {
        let start = Instant::now();
        let program = source::compile(path, &source, flavour, &flags, EntryDefaults::Off, false)?;
        times.push(start.elapsed());
        compiled = Some(program);
    }
    times.sort();
    let Some(Compiled::Wasm(program)) = compiled else {
        unreachable!("wasm compiles to a wasm program")
    };
    let failed = |e: anyhow::Error| anyhow!("{}: {e:#}", shown(path));
    let (result, gas_naive) = run_once(&program, GasModel::Naive, gas)
        .map_err(failed)?
        .expect("the naive model runs everywhere");
    let gas_full = match run_once(&program, GasModel::Full, gas).map_err(failed)? {
        Some((full_result, used)) if full_result == result => Some(used),
        Some((other, _)) => bail!(
            "{}: `run` returned {result} (naive) but {other} (GP 0.8)",
            shown(path)
        ),
        None => None,
    };
    Ok(Row {
        wasm_bytes: wasm.len(),
        code_bytes: program.standard().code.to_bytes().len(),
        blob_bytes: program.service_blob().to_bytes()?.len(),
        gas_naive,
        gas_full,
        compile: times[1],
        result,
    })
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e5).round() / 100.0
}

/// Runs `bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench"));
    let manifest = dir.join("manifest.txt");
    let programs = read_manifest(&manifest)?;
    let mut failures = 0;
    let mut json_rows = Vec::new();
    let mut table = format!(
        "{:<12} {:>8} {:>8} {:>9} {:>12} {:>12} {:>11}  {}\n",
        "program", "wasm B", "code B", "jam B", "gas naive", "gas GP 0.8", "compile ms", "result"
    );
    for program in &programs {
        let measured = match resolve(&dir, &program.file) {
            Some(path) => measure(&path, args.isa, &args.flags, args.gas),
            None => Err(anyhow!(
                "{}: `{}` not found under {} or its ancestors",
                shown(&manifest),
                program.file,
                shown(&dir)
            )),
        };
        let mut json = serde_json::json!({
            "name": program.name,
            "file": program.file,
            "expected": program.expected,
        });
        match measured {
            Ok(row) => {
                let ok = row.result == program.expected;
                let status = if ok {
                    "ok".to_string()
                } else {
                    failures += 1;
                    format!(
                        "MISMATCH: got {}, expected {}",
                        row.result, program.expected
                    )
                };
                table += &format!(
                    "{:<12} {:>8} {:>8} {:>9} {:>12} {:>12} {:>11.2}  {status}\n",
                    program.name,
                    row.wasm_bytes,
                    row.code_bytes,
                    row.blob_bytes,
                    row.gas_naive,
                    row.gas_full.map_or("n/a".to_string(), |g| g.to_string()),
                    ms(row.compile),
                );
                let extra = serde_json::json!({
                    "wasm_bytes": row.wasm_bytes,
                    "code_bytes": row.code_bytes,
                    "jam_blob_bytes": row.blob_bytes,
                    "gas_naive": row.gas_naive,
                    "gas_gp08": row.gas_full,
                    "compile_ms": ms(row.compile),
                    "result": row.result,
                    "ok": ok,
                });
                json.as_object_mut()
                    .expect("an object")
                    .extend(extra.as_object().expect("an object").clone());
            }
            Err(e) => {
                failures += 1;
                let message = format!("{e:#}");
                table += &format!("{:<12} FAILED: {message}\n", program.name);
                json["ok"] = false.into();
                json["error"] = message.into();
            }
        }
        json_rows.push(json);
    }
    let runtime = (!args.no_runtime).then(|| runtime_report(args.isa));
    let runtime_failures = runtime.as_ref().map_or(0, |r| r.failures);
    if args.json {
        let mut out = serde_json::json!({
            "isa": args.isa.to_string(),
            "blob": "JAM service blob (SPI program, empty metadata)",
            "regalloc_checker": cfg!(debug_assertions),
            "programs": json_rows,
            "failed": failures,
        });
        if let Some(runtime) = runtime {
            out["runtime"] = runtime.json;
        }
        crate::print_out(&(serde_json::to_string_pretty(&out)? + "\n"))?;
    } else {
        table += &format!(
            "{} programs, {failures} failed ({}; code B: the code blob; jam B: the JAM service \
             blob, an SPI program with empty metadata; compile ms: median of 3{})\n",
            programs.len(),
            args.isa,
            if cfg!(debug_assertions) {
                ", a debug build: with the register allocation checker"
            } else {
                ""
            }
        );
        if let Some(runtime) = runtime {
            table += "\n";
            table += &runtime.table;
        }
        crate::print_out(&table)?;
    }
    Ok(if failures + runtime_failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The runtime's table, its JSON and how many measurements failed (routines, and the total).
struct RuntimeReport {
    table: String,
    json: serde_json::Value,
    failures: usize,
}

/// Measures the soft-float runtime for `flavour` (see [`runtime`]).
fn runtime_report(flavour: Flavour) -> RuntimeReport {
    let measured = runtime::measure_all(flavour);
    let mut table = format!(
        "{:<20} {:>8} {:>9} {:>8} {:>8}\n",
        "routine", "code B", "gas avg", "gas min", "gas max"
    );
    let mut json_rows = Vec::new();
    let mut failures = 0;
    for (routine, row) in Routine::all().iter().zip(&measured.rows) {
        match row {
            Ok(row) => {
                let calls: Vec<String> = row.calls.iter().map(Routine::to_string).collect();
                let includes = if calls.is_empty() {
                    String::new()
                } else {
                    format!("  includes {}", calls.join(", "))
                };
                table += &format!(
                    "{:<20} {:>8} {:>9.1} {:>8} {:>8}{includes}\n",
                    routine.to_string(),
                    row.code_bytes,
                    row.gas_avg,
                    row.gas_min,
                    row.gas_max
                );
                json_rows.push(serde_json::json!({
                    "name": routine.to_string(),
                    "code_bytes": row.code_bytes,
                    "calls": calls,
                    "gas_avg": row.gas_avg,
                    "gas_min": row.gas_min,
                    "gas_max": row.gas_max,
                    "ok": true,
                }));
            }
            Err(e) => {
                failures += 1;
                let message = format!("{e:#}");
                table += &format!("{:<20} FAILED: {message}\n", routine.to_string());
                json_rows.push(serde_json::json!({
                    "name": routine.to_string(),
                    "ok": false,
                    "error": message,
                }));
            }
        }
    }
    let total = match &measured.total_code_bytes {
        Ok(bytes) => bytes.to_string(),
        Err(e) => format!("FAILED: {e:#}"),
    };
    table += &format!(
        "{:<20} {total:>8}  (every routine linked into one program)\n\
         {} routines, {failures} failed ({flavour}; code B: bytes the routine, with any routine \
         it calls, adds to a program's code blob; gas: naive model, from the routine's entry \
         through its return, over {} operand tuples, driver/bench/README.md)\n",
        "runtime total",
        Routine::all().len(),
        runtime::OPERANDS,
    );
    let json = serde_json::json!({
        "operands": runtime::operand_mix(),
        "routines": json_rows,
        "total_code_bytes": measured.total_code_bytes.as_ref().ok(),
        "failed": failures,
    });
    RuntimeReport {
        table,
        json,
        failures: failures + usize::from(measured.total_code_bytes.is_err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_results_parse() {
        assert_eq!(parse_i64("42"), Some(42));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("0xffffffffffffffff"), Some(-1));
        assert_eq!(parse_i64("-0x10"), Some(-16));
        assert_eq!(parse_i64("4x"), None);
    }
}
