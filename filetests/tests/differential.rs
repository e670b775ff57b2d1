//! Differential testing against Cranelift's interpreter: random integer functions from
//! `pvm_filetests::generate` must return the same values on PVM as in `cranelift-interpreter`,
//! or trap in both.
//!
//! `PVM_DIFF_CASES` functions (default 10000) from seed `PVM_DIFF_SEED` (default 0) on, each
//! called with `CALLS_PER_FUNCTION` argument sets. A mismatch prints the seed, the CLIF, the
//! arguments, both outcomes and the PVM code; `PVM_DIFF_SEED=<seed> PVM_DIFF_CASES=1` repeats it.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, Function, InstBuilder, Opcode, Type, Value};
use cranelift_codegen::settings;
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState};
use cranelift_interpreter::step::ControlFlow;
use pvm_backend::{compile_function, CompileError, Options};
use pvm_filetests::execute::{Executable, ExecuteError, Outcome};
use pvm_filetests::generate::{self, Config};
use pvm_isa::Flavour;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The generator's opcodes that the backend lowers, all drawn on. Every other opcode of
/// `generate::ALL_OPCODES` is in `LEFT_OUT` with the reason.
const OPCODES: &[Opcode] = generate::ALL_OPCODES;

/// The generator's opcodes this test leaves out, and why.
const LEFT_OUT: &[(Opcode, &str)] = &[];

/// The generator's types that the backend handles. The others are in `LEFT_OUT_TYPES`.
const TYPES: &[Type] = generate::ALL_TYPES;

/// The generator's types this test leaves out, and why.
const LEFT_OUT_TYPES: &[(Type, &str)] = &[];

/// Opcodes, at types, that a configuration leaves out, and why.
type Gaps = &'static [(&'static [Opcode], &'static [Type], &'static str)];

/// What the interpreter cannot run, in any configuration.
const INTERPRETER_GAPS: Gaps = &[(
    &[Opcode::Umulhi, Opcode::Smulhi],
    &[types::I128],
    "cranelift-interpreter 0.112.3 has no 256-bit product (`unimplemented!`)",
)];

/// What the backend does not lower yet (at other types the opcodes are tested).
const BACKEND_GAPS: Gaps = &[(
    &[Opcode::Udiv, Opcode::Sdiv, Opcode::Urem, Opcode::Srem],
    &[types::I128],
    "i128 division is not lowered yet",
)];

fn excluding(mut config: Config, gaps: Gaps) -> Config {
    for &(ops, types, _) in gaps {
        for &op in ops {
            config = config.excluding(op, types);
        }
    }
    config
}

fn config() -> Config {
    let config = Config::new(OPCODES, TYPES);
    excluding(excluding(config, INTERPRETER_GAPS), BACKEND_GAPS)
}

/// Argument sets per function.
const CALLS_PER_FUNCTION: usize = 4;

/// Mismatches printed in full; the rest are only counted.
const MAX_REPORTS: u64 = 5;

/// Instructions the interpreter may run per call: generated loops are short.
const FUEL: u64 = 100_000;

/// How a call ended, in the terms both sides share.
#[derive(Clone, Debug, PartialEq)]
enum Expected {
    Returned(Vec<DataValue>),
    Trapped,
}

fn interpret(func: &Function, args: &[DataValue]) -> Expected {
    let mut store = FunctionStore::default();
    store.add("f".to_string(), func);
    let state = InterpreterState::default().with_function_store(store);
    let mut interpreter = Interpreter::new(state).with_fuel(Some(FUEL));
    match interpreter.call_by_name("f", args) {
        Ok(ControlFlow::Return(values)) => Expected::Returned(values.to_vec()),
        Ok(ControlFlow::Trap(_)) => Expected::Trapped,
        other => panic!("the interpreter failed on\n{func}\nwith {args:?}: {other:?}"),
    }
}

/// `func` where the interpreter's semantics differ from CLIF's documented ones, rewritten to
/// what the documentation says, so that the interpreter computes the documented result.
///
/// The exceptions:
/// - `srem MIN, -1` is 0 (the instruction traps only on a zero divisor), but the interpreter
///   traps with an integer overflow. `x % -1 == x % 1 == 0` for every `x`, so a divisor of -1 is
///   replaced by 1.
fn documented(func: &Function) -> Function {
    let mut func = func.clone();
    let mut pos = FuncCursor::new(&mut func);
    while pos.next_block().is_some() {
        while let Some(inst) = pos.next_inst() {
            if pos.func.dfg.insts[inst].opcode() != Opcode::Srem {
                continue;
            }
            let [_, divisor] = pos.func.dfg.inst_args(inst) else {
                unreachable!("srem has two operands");
            };
            let divisor = *divisor;
            let ty = pos.func.dfg.value_type(divisor);
            let minus_one = constant(&mut pos, ty, -1);
            let one = constant(&mut pos, ty, 1);
            let is_minus_one = pos.ins().icmp(IntCC::Equal, divisor, minus_one);
            let safe = pos.ins().select(is_minus_one, one, divisor);
            pos.func.dfg.inst_args_mut(inst)[1] = safe;
        }
    }
    func
}

/// A constant of any integer type at the cursor (`iconst` is at most 64 bits wide).
fn constant(pos: &mut FuncCursor, ty: Type, value: i64) -> Value {
    if ty == types::I128 {
        let half = pos.ins().iconst(types::I64, value);
        return pos.ins().sextend(types::I128, half);
    }
    let mask = u64::MAX >> (64 - ty.bits());
    pos.ins().iconst(ty, (value as u64 & mask) as i64)
}

fn has_srem(func: &Function) -> bool {
    func.layout
        .blocks()
        .flat_map(|block| func.layout.block_insts(block))
        .any(|inst| func.dfg.insts[inst].opcode() == Opcode::Srem)
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text}: {e}")),
        Err(_) => default,
    }
}

#[derive(Default)]
struct Totals {
    functions: AtomicU64,
    calls: AtomicU64,
    traps: AtomicU64,
    mismatches: AtomicU64,
    exceptions: AtomicU64,
    /// Functions the backend refused, by the first instruction it could not lower (as
    /// `opcode.type`; the mid-end may have made it), or by the error.
    compile_errors: Mutex<BTreeMap<String, u64>>,
}

/// What a compile error is about, short enough to count: `ineg.i32` for an unsupported
/// `v7 = ineg.i32 v0`.
fn error_kind(error: &ExecuteError) -> String {
    match error {
        ExecuteError::Compile(CompileError::Unsupported(inst)) => {
            let text = inst.split_once("= ").map_or(inst.as_str(), |(_, rhs)| rhs);
            text.split_whitespace().next().unwrap_or(text).to_string()
        }
        other => other.to_string(),
    }
}

/// How the function of `seed` is compiled: with and without the mid-end (`.clif` run tests
/// default to `opt_level=none`), for either flavour, in turn.
fn options(seed: u64) -> Options {
    Options {
        optimize: seed.is_multiple_of(2),
        flavour: if seed % 4 < 2 {
            Flavour::JamV1
        } else {
            Flavour::Gp072
        },
        ..Options::default()
    }
}

/// Everything needed to look into a mismatch.
fn report(
    seed: u64,
    func: &Function,
    args: &[DataValue],
    expected: &Expected,
    actual: &str,
) -> String {
    let options = options(seed);
    let code = match compile_function(func, &options) {
        Ok(compiled) => format!(
            "VCode:\n{}\nDisassembly:\n{}",
            compiled.vcode,
            pvm_isa::disassemble(&compiled.code.blob, options.flavour)
        ),
        Err(e) => format!("compile error: {e}"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "MISMATCH at seed {seed} (repeat with PVM_DIFF_SEED={seed} PVM_DIFF_CASES=1)"
    );
    let _ = writeln!(out, "{func}");
    let _ = writeln!(
        out,
        "options:     mid-end {}, flavour {}",
        if options.optimize { "on" } else { "off" },
        options.flavour
    );
    let _ = writeln!(out, "arguments:   {args:?}");
    let _ = writeln!(out, "interpreter: {expected:?}");
    let _ = writeln!(out, "pvm:         {actual}");
    let _ = writeln!(out, "{code}");
    out
}

/// Generates and checks the function of `seed`; mismatches go to `reports`.
fn check_seed(seed: u64, config: &Config, totals: &Totals, reports: &Mutex<Vec<String>>) {
    let func = generate::generate(seed, config);
    let flags = settings::Flags::new(settings::builder());
    if let Err(e) = cranelift_codegen::verify_function(&func, &flags) {
        panic!("seed {seed}: the generator made a function the verifier rejects: {e}\n{func}");
    }
    totals.functions.fetch_add(1, Ordering::Relaxed);
    let oracle = if has_srem(&func) {
        Some(documented(&func))
    } else {
        None
    };
    let executable = match Executable::new(&func, &options(seed)) {
        Ok(executable) => executable,
        Err(e) => {
            let mut errors = totals.compile_errors.lock().unwrap();
            let count = errors.entry(error_kind(&e)).or_insert(0);
            *count += 1;
            if *count == 1 {
                eprintln!("seed {seed}: the backend cannot compile\n{func}{e}\n");
            }
            return;
        }
    };
    let mismatch = |args: &[DataValue], expected: &Expected, actual: String| {
        let count = totals.mismatches.fetch_add(1, Ordering::Relaxed);
        if count < MAX_REPORTS {
            let text = report(seed, &func, args, expected, &actual);
            eprintln!("{text}");
            reports.lock().unwrap().push(text);
        }
    };
    for args in generate::arguments(seed ^ 0x5eed, &func.signature, CALLS_PER_FUNCTION) {
        totals.calls.fetch_add(1, Ordering::Relaxed);
        let expected = match &oracle {
            Some(oracle) => {
                let documented = interpret(oracle, &args);
                if interpret(&func, &args) != documented {
                    totals.exceptions.fetch_add(1, Ordering::Relaxed);
                }
                documented
            }
            None => interpret(&func, &args),
        };
        if expected == Expected::Trapped {
            totals.traps.fetch_add(1, Ordering::Relaxed);
        }
        let actual = match executable.call(&args) {
            Ok(call) => match call.outcome {
                Outcome::Returned(values) => Expected::Returned(values),
                Outcome::Trapped(_) => Expected::Trapped,
            },
            Err(e) => {
                mismatch(&args, &expected, format!("execution error: {e}"));
                continue;
            }
        };
        if actual != expected {
            mismatch(&args, &expected, format!("{actual:?}"));
        }
    }
}

#[test]
fn pvm_agrees_with_the_interpreter() {
    let cases = env_u64("PVM_DIFF_CASES", 10_000);
    let first = env_u64("PVM_DIFF_SEED", 0);
    let config = config();
    let totals = Totals::default();
    let reports = Mutex::new(Vec::new());
    let next = AtomicU64::new(first);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + cases {
                    return;
                }
                check_seed(seed, &config, &totals, &reports);
            });
        }
    });
    let mismatches = totals.mismatches.load(Ordering::Relaxed);
    let compile_errors = totals.compile_errors.into_inner().unwrap();
    let refused: u64 = compile_errors.values().sum();
    let mut summary = format!(
        "differential: {} functions, {} calls, {} traps, {} mismatches, {} interpreter exceptions (srem MIN % -1), {} compile errors\n",
        totals.functions.load(Ordering::Relaxed),
        totals.calls.load(Ordering::Relaxed),
        totals.traps.load(Ordering::Relaxed),
        mismatches,
        totals.exceptions.load(Ordering::Relaxed),
        refused,
    );
    for (kind, count) in &compile_errors {
        let _ = writeln!(summary, "  not compiled: {kind} ({count} functions)");
    }
    // Straight to stderr, past the test harness's capture: the summary is worth seeing
    // when the test passes too.
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert_eq!(
        (mismatches, refused),
        (0, 0),
        "PVM disagrees with the interpreter, or cannot compile; the first mismatches:\n{}",
        reports.lock().unwrap().join("\n")
    );
}

/// The generator's whole repertoire verifies and runs in the interpreter, whatever the backend
/// supports yet.
#[test]
fn generator_makes_valid_functions_of_every_opcode() {
    let config = excluding(
        Config::new(generate::ALL_OPCODES, generate::ALL_TYPES),
        INTERPRETER_GAPS,
    );
    let flags = settings::Flags::new(settings::builder());
    let mut seen = std::collections::BTreeMap::new();
    let mut traps = 0;
    for seed in 0..2000 {
        let func = generate::generate(seed, &config);
        if let Err(e) = cranelift_codegen::verify_function(&func, &flags) {
            panic!("seed {seed}: {e}\n{func}");
        }
        for block in func.layout.blocks() {
            for inst in func.layout.block_insts(block) {
                *seen
                    .entry(func.dfg.insts[inst].opcode().to_string())
                    .or_insert(0) += 1;
            }
        }
        for args in generate::arguments(seed, &func.signature, 2) {
            if interpret(&documented(&func), &args) == Expected::Trapped {
                traps += 1;
            }
        }
    }
    println!("{traps} traps; {seen:?}");
}

/// Every opcode and type of the generator is either tested or left out with a reason.
#[test]
fn every_opcode_and_type_is_tested_or_named() {
    for &op in generate::ALL_OPCODES {
        let tested = OPCODES.contains(&op);
        let left_out = LEFT_OUT.iter().any(|&(o, _)| o == op);
        assert!(
            tested != left_out,
            "{op} must be in exactly one of OPCODES and LEFT_OUT"
        );
    }
    for &ty in generate::ALL_TYPES {
        let tested = TYPES.contains(&ty);
        let left_out = LEFT_OUT_TYPES.iter().any(|&(t, _)| t == ty);
        assert!(
            tested != left_out,
            "{ty} must be in exactly one of TYPES and LEFT_OUT_TYPES"
        );
    }
}

/// A seed always makes the same function and arguments, so a reported seed reproduces.
#[test]
fn generation_is_deterministic() {
    let config = config();
    for seed in 0..200 {
        let func = generate::generate(seed, &config);
        assert_eq!(
            func.to_string(),
            generate::generate(seed, &config).to_string()
        );
        assert_eq!(
            generate::arguments(seed, &func.signature, 3),
            generate::arguments(seed, &func.signature, 3)
        );
    }
}
