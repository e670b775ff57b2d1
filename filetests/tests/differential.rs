//! Differential testing against Cranelift's interpreter: random integer functions from
//! `pvm_filetests::generate` must return the same values on PVM as in `cranelift-interpreter`,
//! or trap in both.
//!
//! `PVM_DIFF_CASES` functions (default 10000) from seed `PVM_DIFF_SEED` (default 0) on, each
//! called with `CALLS_PER_FUNCTION` argument sets. A mismatch prints the seed, the CLIF, the
//! arguments, both outcomes and the PVM code; `PVM_DIFF_SEED=<seed> PVM_DIFF_CASES=1` repeats it.
//!
//! The same for programs of several functions that call each other
//! (`generate::generate_program`: direct, indirect and tail calls, bounded self-recursion):
//! `PVM_DIFF_CALL_CASES` programs (default 10000) from seed `PVM_DIFF_CALL_SEED` (default 0)
//! on, linked with `FunctionSet` and entered at the last function; the interpreter runs them
//! with every function in its `FunctionStore`.

use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Function, InstBuilder, InstructionData, Opcode, Signature, Type, Value,
};
use cranelift_codegen::settings;
use cranelift_interpreter::environment::FunctionStore;
use cranelift_interpreter::interpreter::{Interpreter, InterpreterState};
use cranelift_interpreter::step::ControlFlow;
use pvm_backend::link::{LinkOptions, Linker, Symbol};
use pvm_backend::{abi, compile_function, compile_function_code, CompileError, Options};
use pvm_filetests::env_u64;
use pvm_filetests::execute::{Executable, ExecuteError, FunctionSet, Outcome, STACK_SIZE};
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

/// The call opcodes, all drawn on by the programs' test. Every other opcode of
/// `generate::CALL_OPCODES` is in `LEFT_OUT_CALLS` with the reason.
const CALL_OPCODES: &[Opcode] = generate::CALL_OPCODES;

/// The call opcodes the programs' test leaves out, and why.
const LEFT_OUT_CALLS: &[(Opcode, &str)] = &[];

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

/// The tail calls the backend refuses (`CompileError::Unsupported`), left out of programs by
/// `backend_allows_tail_call`.
const TAIL_CALL_GAPS: &[&str] = &[
    "a tail call whose stack arguments exceed the caller's incoming argument area (the \
     callee's stack arguments reuse the area the caller's caller sized)",
    "an indirect tail call with 7 or more argument words (no caller-saved register is left \
     for its target)",
];

/// Whether the backend compiles a tail call from `caller` to `callee` (see `TAIL_CALL_GAPS`).
fn backend_allows_tail_call(caller: &Signature, callee: &Signature, indirect: bool) -> bool {
    let words = |params: &[AbiParam]| -> usize {
        params
            .iter()
            .map(|p| if p.value_type == types::I128 { 2 } else { 1 })
            .sum()
    };
    let registers = abi::ARG_REGS.len();
    let stack = |words: usize| words.saturating_sub(registers);
    let area = stack(words(&caller.params)).max(stack(words(&caller.returns)));
    let callee_words = words(&callee.params);
    stack(callee_words) <= area && !(indirect && callee_words >= registers)
}

/// `config()` with calls, for programs.
fn call_config() -> Config {
    let mut config = Config::new(&[OPCODES, CALL_OPCODES].concat(), TYPES);
    config.allows_tail_call = backend_allows_tail_call;
    excluding(excluding(config, INTERPRETER_GAPS), BACKEND_GAPS)
}

/// Argument sets per function.
const CALLS_PER_FUNCTION: usize = 4;

/// Mismatches printed in full; the rest are only counted.
const MAX_REPORTS: u64 = 5;

/// Instructions the interpreter may run per call: generated loops are short, and a program's
/// calls are kept under `Config::max_cost` (roughly; this has room to spare).
const FUEL: u64 = 100_000;

/// How a call ended, in the terms both sides share.
#[derive(Clone, Debug, PartialEq)]
enum Expected {
    Returned(Vec<DataValue>),
    Trapped,
}

fn interpret(func: &Function, args: &[DataValue]) -> Expected {
    interpret_program(std::slice::from_ref(func), args)
}

/// Calls the last of `functions` with `args`; calls between them resolve by name.
fn interpret_program(functions: &[Function], args: &[DataValue]) -> Expected {
    let mut store = FunctionStore::default();
    for func in functions {
        store.add(func.name.to_string(), func);
    }
    let entry = functions.last().expect("a program has functions");
    let state = InterpreterState::default().with_function_store(store);
    let mut interpreter = Interpreter::new(state).with_fuel(Some(FUEL));
    match interpreter.call_by_name(&entry.name.to_string(), args) {
        Ok(ControlFlow::Return(values)) => Expected::Returned(values.to_vec()),
        Ok(ControlFlow::Trap(_)) => Expected::Trapped,
        other => panic!(
            "the interpreter failed on\n{}\nwith {args:?}: {other:?}",
            clif(functions)
        ),
    }
}

/// The CLIF of all `functions`.
fn clif(functions: &[Function]) -> String {
    functions.iter().map(|f| format!("{f}\n")).collect()
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

#[derive(Default)]
struct Totals {
    functions: AtomicU64,
    calls: AtomicU64,
    traps: AtomicU64,
    mismatches: AtomicU64,
    exceptions: AtomicU64,
    /// Programs (the programs' test).
    programs: AtomicU64,
    /// Call sites in programs, by kind.
    sites: Mutex<BTreeMap<&'static str, u64>>,
    /// Functions the backend refused, by the first instruction it could not lower (as
    /// `opcode.type`; the mid-end may have made it), or by the error.
    compile_errors: Mutex<BTreeMap<String, u64>>,
}

/// What a compile error is about, short enough to count: `ineg.i32` for an unsupported
/// `v7 = ineg.i32 v0`.
fn error_kind(error: &ExecuteError) -> String {
    match error {
        ExecuteError::Compile(CompileError::Unsupported(what)) => match what.split_once("= ") {
            Some((_, rhs)) => rhs.split_whitespace().next().unwrap_or(rhs).to_string(),
            None => what.clone(),
        },
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
        Err(e) => return refused("seed", seed, std::slice::from_ref(&func), &e, totals),
    };
    let documented_result = oracle
        .as_ref()
        .map(|oracle| move |args: &[DataValue]| interpret(oracle, args));
    compare_calls(
        seed,
        &func.signature,
        &executable,
        &|args| interpret(&func, args),
        documented_result
            .as_ref()
            .map(|f| f as &dyn Fn(&[DataValue]) -> Expected),
        totals,
        reports,
        &|args, expected, actual| report(seed, &func, args, expected, actual),
    );
}

/// An interpretation of calls: arguments to the expected outcome.
type Oracle<'a> = &'a dyn Fn(&[DataValue]) -> Expected;

/// Calls `executable` with seeded arguments for `signature` and compares each outcome with
/// the interpreter's (`interpret`), or with the documented one where the interpreter departs
/// from the documentation (`documented`; such a departure counts as an interpreter
/// exception). A mismatch is printed and kept in `reports`, as `report` writes it.
#[allow(clippy::too_many_arguments)]
fn compare_calls(
    seed: u64,
    signature: &cranelift_codegen::ir::Signature,
    executable: &Executable,
    interpret: Oracle,
    documented: Option<Oracle>,
    totals: &Totals,
    reports: &Mutex<Vec<String>>,
    report: &dyn Fn(&[DataValue], &Expected, &str) -> String,
) {
    let mismatch = |args: &[DataValue], expected: &Expected, actual: String| {
        let count = totals.mismatches.fetch_add(1, Ordering::Relaxed);
        if count < MAX_REPORTS {
            let text = report(args, expected, &actual);
            eprintln!("{text}");
            reports.lock().unwrap().push(text);
        }
    };
    for args in generate::arguments(seed ^ 0x5eed, signature, CALLS_PER_FUNCTION) {
        totals.calls.fetch_add(1, Ordering::Relaxed);
        let expected = match documented {
            Some(documented) => {
                let documented = documented(&args);
                if interpret(&args) != documented {
                    totals.exceptions.fetch_add(1, Ordering::Relaxed);
                }
                documented
            }
            None => interpret(&args),
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
    for_seeds(first, cases, |seed| {
        check_seed(seed, &config, &totals, &reports)
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

/// Runs `check` on seeds `first ..first + cases`, on every core.
fn for_seeds(first: u64, cases: u64, check: impl Fn(u64) + Sync) {
    let next = AtomicU64::new(first);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + cases {
                    return;
                }
                check(seed);
            });
        }
    });
}

/// The kind of each call site in `func`: `call`, `call_indirect`, `return_call`,
/// `return_call_indirect`, or `self` for a call of `func` itself.
fn call_sites(func: &Function) -> Vec<&'static str> {
    let own = func.name.to_string();
    let mut sites = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let kind = match func.dfg.insts[inst] {
                InstructionData::Call {
                    opcode, func_ref, ..
                } => {
                    if func.dfg.ext_funcs[func_ref].name.display(None).to_string() == own {
                        "self"
                    } else if opcode == Opcode::Call {
                        "call"
                    } else {
                        "return_call"
                    }
                }
                InstructionData::CallIndirect { opcode, .. } => {
                    if opcode == Opcode::CallIndirect {
                        "call_indirect"
                    } else {
                        "return_call_indirect"
                    }
                }
                _ => continue,
            };
            sites.push(kind);
        }
    }
    sites
}

/// Everything needed to look into a mismatch of a program: its CLIF, each function's
/// VCode, and the linked program's code with each function's pc.
fn program_report(
    seed: u64,
    functions: &[Function],
    args: &[DataValue],
    expected: &Expected,
    actual: &str,
) -> String {
    let options = options(seed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "MISMATCH at program seed {seed} (repeat with PVM_DIFF_CALL_SEED={seed} \
         PVM_DIFF_CALL_CASES=1); the entry is the last function"
    );
    let _ = write!(out, "{}", clif(functions));
    let _ = writeln!(
        out,
        "options:     mid-end {}, flavour {}",
        if options.optimize { "on" } else { "off" },
        options.flavour
    );
    let _ = writeln!(out, "arguments:   {args:?}");
    let _ = writeln!(out, "interpreter: {expected:?}");
    let _ = writeln!(out, "pvm:         {actual}");
    let mut linker = Linker::new(options.flavour);
    for func in functions {
        match compile_function_code(func, &options) {
            Ok(emitted) => {
                let _ = writeln!(out, "VCode of {}:\n{}", func.name, emitted.vcode_text);
                if let Err(e) = linker.add_function(Symbol::of_function(func), &emitted.code) {
                    let _ = writeln!(out, "link error: {e}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "compile error in {}: {e}", func.name);
            }
        }
    }
    let entry = functions.last().map(Symbol::of_function);
    let link_options = LinkOptions {
        roots: entry.map(|entry| vec![entry]),
        stack_size: STACK_SIZE,
        ..LinkOptions::default()
    };
    match linker.link(&link_options) {
        Ok(linked) => {
            let _ = writeln!(out, "function pcs: {:?}", linked.functions);
            let _ = writeln!(
                out,
                "Disassembly:\n{}",
                pvm_isa::disassemble(&linked.code.blob, options.flavour)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "link error: {e}");
        }
    }
    out
}

/// Counts a compile (or link) error of `functions` (the function or program `what seed`),
/// printing the first of a kind.
fn refused(what: &str, seed: u64, functions: &[Function], error: &ExecuteError, totals: &Totals) {
    let mut errors = totals.compile_errors.lock().unwrap();
    let count = errors.entry(error_kind(error)).or_insert(0);
    *count += 1;
    if *count == 1 {
        eprintln!(
            "{what} {seed}: the backend cannot compile\n{}{error}\n",
            clif(functions)
        );
    }
}

/// Generates and checks the program of `seed`; mismatches go to `reports`.
fn check_program(seed: u64, config: &Config, totals: &Totals, reports: &Mutex<Vec<String>>) {
    let functions = generate::generate_program(seed, config);
    let flags = settings::Flags::new(settings::builder());
    for func in &functions {
        if let Err(e) = cranelift_codegen::verify_function(func, &flags) {
            panic!(
                "program seed {seed}: the generator made a function the verifier rejects: {e}\n{}",
                clif(&functions)
            );
        }
    }
    totals.programs.fetch_add(1, Ordering::Relaxed);
    totals
        .functions
        .fetch_add(functions.len() as u64, Ordering::Relaxed);
    {
        let mut sites = totals.sites.lock().unwrap();
        for kind in functions.iter().flat_map(call_sites) {
            *sites.entry(kind).or_insert(0) += 1;
        }
    }
    let oracle: Option<Vec<Function>> = functions
        .iter()
        .any(has_srem)
        .then(|| functions.iter().map(documented).collect());
    let mut set = FunctionSet::new(&options(seed));
    for func in &functions {
        if let Err(e) = set.add(func) {
            return refused(
                "program seed",
                seed,
                &functions,
                &ExecuteError::Compile(e),
                totals,
            );
        }
    }
    let entry = functions.last().expect("a program has functions");
    let executable = match set.executable(&Symbol::of_function(entry)) {
        Ok(executable) => executable,
        Err(e) => return refused("program seed", seed, &functions, &e, totals),
    };
    let documented_result = oracle
        .as_ref()
        .map(|oracle| move |args: &[DataValue]| interpret_program(oracle, args));
    compare_calls(
        seed,
        &entry.signature,
        &executable,
        &|args| interpret_program(&functions, args),
        documented_result
            .as_ref()
            .map(|f| f as &dyn Fn(&[DataValue]) -> Expected),
        totals,
        reports,
        &|args, expected, actual| program_report(seed, &functions, args, expected, actual),
    );
}

/// Programs of several functions that call each other agree with the interpreter.
#[test]
fn pvm_agrees_with_the_interpreter_on_calls() {
    let cases = env_u64("PVM_DIFF_CALL_CASES", 10_000);
    let first = env_u64("PVM_DIFF_CALL_SEED", 0);
    let config = call_config();
    let totals = Totals::default();
    let reports = Mutex::new(Vec::new());
    for_seeds(first, cases, |seed| {
        check_program(seed, &config, &totals, &reports)
    });
    let mismatches = totals.mismatches.load(Ordering::Relaxed);
    let compile_errors = totals.compile_errors.into_inner().unwrap();
    let refused: u64 = compile_errors.values().sum();
    let sites = totals.sites.into_inner().unwrap();
    let site_count: u64 = sites.values().sum();
    let kinds: Vec<String> = sites
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    let mut summary = format!(
        "differential calls: {} programs, {} functions, {} call sites ({}), {} runs, {} traps, {} mismatches, {} interpreter exceptions (srem MIN % -1), {} compile errors\n",
        totals.programs.load(Ordering::Relaxed),
        totals.functions.load(Ordering::Relaxed),
        site_count,
        kinds.join(", "),
        totals.calls.load(Ordering::Relaxed),
        totals.traps.load(Ordering::Relaxed),
        mismatches,
        totals.exceptions.load(Ordering::Relaxed),
        refused,
    );
    for (kind, count) in &compile_errors {
        let _ = writeln!(summary, "  not compiled: {kind} ({count} programs)");
    }
    for gap in TAIL_CALL_GAPS {
        let _ = writeln!(summary, "  left out: {gap}");
    }
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert_eq!(
        (mismatches, refused),
        (0, 0),
        "PVM disagrees with the interpreter, or cannot compile; the first mismatches:\n{}",
        reports.lock().unwrap().join("\n")
    );
    // Enough programs make every kind of call site (and bounded self-recursion).
    if cases >= 1000 {
        for kind in [
            "call",
            "call_indirect",
            "return_call",
            "return_call_indirect",
            "self",
        ] {
            assert!(
                sites.contains_key(kind),
                "no {kind} call site was generated"
            );
        }
    }
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
    for &op in generate::CALL_OPCODES {
        let tested = CALL_OPCODES.contains(&op);
        let left_out = LEFT_OUT_CALLS.iter().any(|&(o, _)| o == op);
        assert!(
            tested != left_out,
            "{op} must be in exactly one of CALL_OPCODES and LEFT_OUT_CALLS"
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
    let config = call_config();
    for seed in 0..200 {
        assert_eq!(
            clif(&generate::generate_program(seed, &config)),
            clif(&generate::generate_program(seed, &config))
        );
    }
}
