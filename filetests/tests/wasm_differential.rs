//! Differential testing of the wasm compiler: seeded `wasm-smith` modules (integers,
//! references and, in half of them, floats; no SIMD, threads, exceptions, GC, memory64 or
//! imports) compiled by
//! `pvm-wasm` and run on polkavm must behave as in the `wasmi` interpreter (1.x; see the
//! workspace manifest for why not 2.0). Half of the modules are compiled with the default
//! options, a quarter for gp-0.7.2 and a quarter without the mid-end and shrink wrapping
//! ([`options`]).
//!
//! Per module: instantiation fails on both sides or on neither (an active segment out of
//! bounds is `WasmError::Instantiation` at compile time, a trapping start function is
//! `InvokeError::StartTrapped`); then `ROUNDS` rounds call every exported function in export
//! order with seeded arguments (null for reference parameters) on the same instance on both
//! sides, comparing results exactly (references by nullness) and trap against no trap (not
//! the trap's kind); at the end the exported globals, tables (size, entry nullness) and
//! memory (size, bytes) must be equal. A module's first mismatch ends its check, as the two
//! states then differ.
//!
//! Floats: `wasm-smith` canonicalizes every NaN an arithmetic instruction produces
//! (`canonicalize_nans`), as wasm lets each engine choose the NaN and wasmi's choice (the
//! host's) differs from ours (always canonical, see `pvm_backend::softfloat`); every other
//! float result, NaN payloads moved by bit operations included, is compared bit for bit.
//!
//! Termination: `wasm-smith`'s `ensure_termination` gives each module a fuel global that
//! every function entry and loop iteration spends (bulk operations spend their length) and
//! that traps when spent; it is exported (`FUEL_EXPORT`) and refilled to `FUEL` on both sides
//! before each call. With `FUEL` below wasmi's raised recursion limit and frames well
//! below `stack_size / FUEL`, neither side overflows its stack first.
//!
//! `PVM_WASM_DIFF_CASES` modules (default 10,000) from seed `PVM_WASM_DIFF_SEED` (default
//! 0) on. A mismatch prints the seed and writes the module to the temp directory;
//! `PVM_WASM_DIFF_SEED=<seed> PVM_WASM_DIFF_CASES=1` repeats it, and
//! `PVM_WASM_DIFF_FILE=<.wasm or .wat> PVM_WASM_DIFF_SEED=<seed>` checks a module from a file
//! (a reduced one, say) with that seed's arguments.

use arbitrary::Unstructured;
use cranelift_codegen::ir::types;
use pvm_filetests::env_u64;
use pvm_filetests::generate::interesting_value;
use pvm_isa::Flavour;
use pvm_machine::{DefaultHost, RunConfig};
use pvm_wasm::instance::{InvokeError, Outcome, Value, WasmInstance};
use pvm_wasm::{compile, WasmError, WasmOptions, WasmProgram};
use rand::{Rng, RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use wasm_encoder::Encode;
use wasmparser::{BinaryReader, ExternalKind, Parser, Payload};

/// Fuel of each module (see the module docs).
const FUEL: u32 = 1_000;

/// Bytes of seeded input each module is generated from: with fewer, `wasm-smith` makes
/// smaller modules (it reads zeros once the input is used up).
const INPUT_BYTES: usize = 32_768;

/// Rounds of calls of every exported function.
const ROUNDS: usize = 3;

/// How many mismatch reports to keep for the failure message.
const REPORTS: usize = 10;

/// The modules `seed` generates, with what both sides implement. Each seed also draws a
/// "swarm" of options (as in swarm testing: a narrower mix of instructions finds more than
/// always the full mix): floats or not, which instruction kinds and proposals are on,
/// whether `wasm-smith` guards loads, stores and divisions so that calls run further
/// (`disallow_traps`), and how long function bodies are.
fn smith_config(rng: &mut XorShiftRng) -> wasm_smith::Config {
    use wasm_smith::{InstructionKind, InstructionKinds};
    let floats = rng.random_ratio(1, 2);
    let mut kinds = vec![InstructionKind::Control];
    if floats {
        kinds.extend([InstructionKind::Numeric, InstructionKind::Memory]);
    }
    for kind in [
        InstructionKind::NumericInt,
        InstructionKind::Reference,
        InstructionKind::Parametric,
        InstructionKind::Variable,
        InstructionKind::Table,
        InstructionKind::MemoryInt,
    ] {
        if rng.random_ratio(3, 4) {
            kinds.push(kind);
        }
    }
    wasm_smith::Config {
        allowed_instructions: InstructionKinds::new(&kinds),
        disallow_traps: rng.random_ratio(3, 4),
        reference_types_enabled: rng.random_ratio(3, 4),
        bulk_memory_enabled: rng.random_ratio(3, 4),
        multi_value_enabled: rng.random_ratio(3, 4),
        tail_call_enabled: rng.random_ratio(3, 4),
        sign_extension_ops_enabled: rng.random_ratio(3, 4),
        max_instructions: rng.random_range(20..=500),
        allow_floats: floats,
        canonicalize_nans: floats,
        saturating_float_to_int_enabled: floats,
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        // Our validator (wasmparser 0.217 with `pvm_wasm`'s features) lacks these.
        extended_const_enabled: false,
        compact_imports_enabled: false,
        max_imports: 0,
        max_memories: 1,
        max_tables: 2,
        min_types: 1,
        min_funcs: 3,
        max_funcs: 8,
        max_globals: 8,
        max_types: 8,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        export_everything: true,
        // Maxima well inside `WasmOptions`' defaults (256 pages, 65536 entries), so
        // `memory.grow` and `table.grow` fail at the same sizes on both sides.
        memory_max_size_required: true,
        max_memory32_bytes: 4 << 16,
        table_max_size_required: true,
        max_table_elements: 64,
        ..wasm_smith::Config::default()
    }
}

/// The module `seed` makes.
fn generate(seed: u64) -> Result<Vec<u8>, String> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let config = smith_config(&mut rng);
    let mut input = vec![0u8; INPUT_BYTES];
    rng.fill_bytes(&mut input);
    let mut u = Unstructured::new(&input);
    let mut module = wasm_smith::Module::new(config, &mut u).map_err(|e| e.to_string())?;
    let fuel = module.ensure_termination(FUEL).map_err(|e| e.to_string())?;
    Ok(export_global(&module.to_bytes(), FUEL_EXPORT, fuel))
}

/// The name the fuel global is exported under.
const FUEL_EXPORT: &str = "\u{0}fuel";

/// `wasm` with global `index` also exported as `name` (a name `wasm-smith` never makes:
/// it has a NUL), so that both sides can refill the fuel before each call. The export
/// section is rewritten with one more entry, or added before the first section that must
/// follow it.
fn export_global(wasm: &[u8], name: &str, index: u32) -> Vec<u8> {
    const VALID: &str = "wasm-smith writes well-formed sections";
    let mut entry = Vec::new();
    name.encode(&mut entry);
    entry.push(0x03); // a global
    index.encode(&mut entry);
    let section = |count: u32, entries: &[u8]| {
        let mut content = Vec::new();
        count.encode(&mut content);
        content.extend_from_slice(entries);
        let mut out = vec![7u8];
        content.encode(&mut out);
        out
    };
    let mut out = wasm[..8].to_vec();
    let mut reader = BinaryReader::new(&wasm[8..], 8);
    let mut done = false;
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8().expect(VALID);
        let size = reader.read_var_u32().expect(VALID);
        let content = reader.read_bytes(size as usize).expect(VALID);
        if !done && id == 7 {
            let mut inner = BinaryReader::new(content, 0);
            let count = inner.read_var_u32().expect(VALID);
            let mut entries = content[inner.original_position()..].to_vec();
            entries.extend_from_slice(&entry);
            out.extend_from_slice(&section(count + 1, &entries));
            done = true;
            continue;
        }
        // start, element, data count, code, data: the sections after exports.
        if !done && matches!(id, 8..=12) {
            out.extend_from_slice(&section(1, &entry));
            done = true;
        }
        out.extend_from_slice(&wasm[start..reader.original_position()]);
    }
    if !done {
        out.extend_from_slice(&section(1, &entry));
    }
    out
}

/// The module's exports: name, kind, index.
fn exports(wasm: &[u8]) -> Vec<(String, ExternalKind, u32)> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        if let Ok(Payload::ExportSection(reader)) = payload {
            for export in reader.into_iter().flatten() {
                out.push((export.name.to_string(), export.kind, export.index));
            }
        }
    }
    out
}

/// What one side did with a call.
#[derive(Clone, Debug)]
enum CallResult {
    /// Returned these values; references as `Ref(0)` (null) or `Ref(1)`.
    Returned(Vec<Value>),
    /// Trapped, for this reason (for reports only: the reasons are not compared).
    Trapped(String),
}

impl std::fmt::Display for CallResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallResult::Returned(values) => write!(f, "returned {values:?}"),
            CallResult::Trapped(why) => write!(f, "trapped ({why})"),
        }
    }
}

impl CallResult {
    fn agrees(&self, other: &CallResult) -> bool {
        match (self, other) {
            (CallResult::Returned(a), CallResult::Returned(b)) => a == b,
            (CallResult::Trapped(_), CallResult::Trapped(_)) => true,
            _ => false,
        }
    }
}

/// Counts over all modules.
#[derive(Default)]
struct Totals {
    modules: u64,
    instantiation_failures: u64,
    functions: u64,
    calls: u64,
    traps: u64,
    /// Traps with the fuel spent.
    out_of_fuel: u64,
    mismatches: u64,
    compile_errors: u64,
    /// Calls or modules not compared, by reason.
    skipped: BTreeMap<&'static str, u64>,
    reports: Vec<String>,
}

impl Totals {
    fn add(&mut self, other: Totals) {
        self.modules += other.modules;
        self.instantiation_failures += other.instantiation_failures;
        self.functions += other.functions;
        self.calls += other.calls;
        self.traps += other.traps;
        self.out_of_fuel += other.out_of_fuel;
        self.mismatches += other.mismatches;
        self.compile_errors += other.compile_errors;
        for (reason, count) in other.skipped {
            *self.skipped.entry(reason).or_default() += count;
        }
        for report in other.reports {
            if self.reports.len() < REPORTS {
                self.reports.push(report);
            }
        }
    }

    fn skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Records a mismatch (or compile error) of module `seed` and keeps its bytes.
    fn fail(&mut self, seed: u64, wasm: &[u8], what: String) {
        let path = std::env::temp_dir().join(format!("pvm-wasm-diff-{seed}.wasm"));
        let saved = match std::fs::write(&path, wasm) {
            Ok(()) => format!("module saved to {}", path.display()),
            Err(e) => format!("module not saved: {e}"),
        };
        self.reports.push(format!("seed {seed}: {what} ({saved})"));
    }
}

/// The comparable form of a `wasmi` value.
fn from_wasmi(value: &wasmi::Val) -> Value {
    match value {
        wasmi::Val::I32(v) => Value::I32(*v),
        wasmi::Val::I64(v) => Value::I64(*v),
        wasmi::Val::F32(v) => Value::F32(v.to_bits()),
        wasmi::Val::F64(v) => Value::F64(v.to_bits()),
        wasmi::Val::FuncRef(r) => Value::Ref(u64::from(!r.is_null())),
        wasmi::Val::ExternRef(r) => Value::Ref(u64::from(!r.is_null())),
        other => panic!("a value {other:?} of a type the modules do not use"),
    }
}

/// The comparable form of one of our values: references by nullness.
fn normalized(value: Value) -> Value {
    match value {
        Value::Ref(bits) => Value::Ref(u64::from(bits != 0)),
        other => other,
    }
}

/// The bits of a seeded float argument (an `f64` when `double`, else an `f32` in the low
/// half): mostly specials, small integers and values near the integer conversions' limits,
/// sometimes any bits (NaN payloads included).
fn float_argument(rng: &mut XorShiftRng, double: bool) -> u64 {
    let value: f64 = match rng.random_range(0..12) {
        0 => 0.0,
        1 => -0.0,
        2 => f64::INFINITY,
        3 => f64::NEG_INFINITY,
        4 => f64::NAN,
        5 => f64::from(rng.random_range(-100i32..100)),
        6 => f64::from(rng.random_range(-100i32..100)) / 8.0,
        7 => {
            let edges = [2f64.powi(31), 2f64.powi(32), 2f64.powi(63), 2f64.powi(64)];
            let edge = edges[rng.random_range(0..edges.len())];
            let sign = if rng.random() { 1.0 } else { -1.0 };
            sign * edge + f64::from(rng.random_range(-2i32..=2))
        }
        8 => f64::MIN_POSITIVE * f64::from(rng.random_range(-4i32..4)),
        _ => {
            return if double {
                rng.random()
            } else {
                u64::from(rng.random::<u32>())
            }
        }
    };
    if double {
        value.to_bits()
    } else {
        u64::from((value as f32).to_bits())
    }
}

/// Seeded arguments for parameters `params`, both sides' forms; `None` if a parameter is
/// not a number or a reference.
fn arguments(
    rng: &mut XorShiftRng,
    params: &[wasmi::ValType],
) -> Option<(Vec<Value>, Vec<wasmi::Val>)> {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for param in params {
        let (a, b) = match param {
            wasmi::ValType::I32 => {
                let v = interesting_value(rng, types::I32) as i32;
                (Value::I32(v), wasmi::Val::I32(v))
            }
            wasmi::ValType::I64 => {
                let v = interesting_value(rng, types::I64) as i64;
                (Value::I64(v), wasmi::Val::I64(v))
            }
            wasmi::ValType::F32 => {
                let bits = float_argument(rng, false) as u32;
                (
                    Value::F32(bits),
                    wasmi::Val::F32(wasmi::F32::from_bits(bits)),
                )
            }
            wasmi::ValType::F64 => {
                let bits = float_argument(rng, true);
                (
                    Value::F64(bits),
                    wasmi::Val::F64(wasmi::F64::from_bits(bits)),
                )
            }
            wasmi::ValType::FuncRef => (Value::Ref(0), wasmi::Val::FuncRef(wasmi::Ref::Null)),
            wasmi::ValType::ExternRef => (Value::Ref(0), wasmi::Val::ExternRef(wasmi::Ref::Null)),
            _ => return None,
        };
        ours.push(a);
        theirs.push(b);
    }
    Some((ours, theirs))
}

/// Whether a wasmi error is a wasm trap: a trap code, or a table or memory error (wasmi
/// 1.1 reports an out-of-bounds `table.copy` as `TableError::CopyOutOfBounds` without a trap
/// code).
fn is_trap(error: &wasmi::Error) -> bool {
    use wasmi::errors::ErrorKind;
    error.as_trap_code().is_some()
        || matches!(error.kind(), ErrorKind::Table(_) | ErrorKind::Memory(_))
}

fn wasmi_engine() -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    // Recursion is bounded by the fuel: never let wasmi's own limit be what traps.
    config.set_max_recursion_depth(4 * FUEL as usize);
    wasmi::Engine::new(&config)
}

/// How module `seed` is compiled: the defaults for half of the seeds; a quarter for
/// gp-0.7.2 (whose memory is reserved up front and bounds-checked against its current size);
/// a quarter without the mid-end and without shrink wrapping.
fn options(seed: u64) -> WasmOptions {
    let mut options = WasmOptions::default();
    match seed % 4 {
        2 => {
            options.backend.flavour = Flavour::Gp072;
            options.imports = pvm_wasm::ImportMap::jam(Flavour::Gp072);
        }
        3 => {
            options.backend.optimize = false;
            options.backend.shrink_wrap = false;
        }
        _ => {}
    }
    options
}

/// Checks module `seed`.
fn check_seed(seed: u64, totals: &mut Totals) {
    match generate(seed) {
        Ok(wasm) => check_module(seed, &wasm, totals),
        Err(_) => totals.skip("wasm-smith could not generate a module"),
    }
}

/// Checks module `wasm`, calling its functions with arguments from `seed`.
fn check_module(seed: u64, wasm: &[u8], totals: &mut Totals) {
    totals.modules += 1;
    let engine = wasmi_engine();
    let module = match wasmi::Module::new(&engine, wasm) {
        Ok(module) => module,
        Err(e) => {
            totals.mismatches += 1;
            totals.fail(seed, wasm, format!("wasmi rejects the module: {e}"));
            return;
        }
    };
    let options = options(seed);
    let compiled = catch_unwind(AssertUnwindSafe(|| compile(wasm, &options)));
    let program = match compiled {
        Ok(Ok(program)) => Some(program),
        Ok(Err(WasmError::Instantiation(_))) => None,
        Ok(Err(e)) => {
            totals.compile_errors += 1;
            totals.fail(seed, wasm, format!("compile error: {e}"));
            return;
        }
        Err(_) => {
            totals.compile_errors += 1;
            totals.fail(seed, wasm, "the compiler panicked".into());
            return;
        }
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut local = Totals::default();
        compare(seed, wasm, &module, program.as_ref(), &mut local);
        local
    }));
    match outcome {
        Ok(local) => totals.add(local),
        Err(_) => {
            totals.mismatches += 1;
            totals.fail(seed, wasm, "the check panicked".into());
        }
    }
}

/// Runs `module` in wasmi and `program` (`None`: instantiation traps at compile time) on
/// polkavm and compares them.
fn compare(
    seed: u64,
    wasm: &[u8],
    module: &wasmi::Module,
    program: Option<&WasmProgram>,
    totals: &mut Totals,
) {
    let mut store = wasmi::Store::new(module.engine(), ());
    let linker = wasmi::Linker::<()>::new(module.engine());
    let reference = linker.instantiate_and_start(&mut store, module);
    let mut host = DefaultHost::new();
    let config = RunConfig::default();
    let ours = program.map(|p| WasmInstance::new(p, &config, &mut host));
    let (reference, mut ours) = match (reference, ours) {
        (Ok(reference), Some(Ok(ours))) => (reference, ours),
        (Err(_), None | Some(Err(InvokeError::StartTrapped(_)))) => {
            totals.instantiation_failures += 1;
            return;
        }
        (reference, ours) => {
            let ours = match ours {
                None => "traps (a segment out of bounds)".to_string(),
                Some(Ok(_)) => "succeeds".to_string(),
                Some(Err(e)) => format!("fails: {e}"),
            };
            let reference = match reference {
                Ok(_) => "succeeds".to_string(),
                Err(e) => format!("fails: {e}"),
            };
            totals.mismatches += 1;
            totals.fail(
                seed,
                wasm,
                format!("instantiation: wasmi {reference}, ours {ours}"),
            );
            return;
        }
    };

    let exports = exports(wasm);
    let mut rng = XorShiftRng::seed_from_u64(seed ^ 0x5eed_a12c_0ffe_e000);
    let mut callable = Vec::new();
    for (name, kind, _) in &exports {
        if *kind != ExternalKind::Func {
            continue;
        }
        let func = reference
            .get_func(&store, name)
            .expect("wasmi has every exported function");
        let ty = func.ty(&store);
        if ty.params().iter().chain(ty.results()).any(|t| {
            !matches!(
                t,
                wasmi::ValType::I32
                    | wasmi::ValType::I64
                    | wasmi::ValType::F32
                    | wasmi::ValType::F64
                    | wasmi::ValType::FuncRef
                    | wasmi::ValType::ExternRef
            )
        }) {
            totals.skip("a function with a vector type");
            continue;
        }
        totals.functions += 1;
        callable.push((name.clone(), func, ty));
    }

    // The fuel global: both sides' handles (absent in a module from a file without one).
    let fuel = exports
        .iter()
        .find(|(name, kind, _)| name == FUEL_EXPORT && *kind == ExternalKind::Global)
        .map(|&(_, _, index)| {
            let global = reference.get_global(&store, FUEL_EXPORT).expect("exported");
            (global, ours.program().layout.globals[index as usize])
        });
    for round in 0..ROUNDS {
        for (name, func, ty) in &callable {
            if let Some((global, addr)) = &fuel {
                global
                    .set(&mut store, wasmi::Val::I32(FUEL as i32))
                    .expect("the fuel global is a mutable i32");
                ours.machine()
                    .write_memory(*addr, &u64::from(FUEL).to_le_bytes())
                    .expect("the fuel global is writable");
            }
            let (args, wasmi_args) = arguments(&mut rng, ty.params()).expect("integer parameters");
            let mut outputs: Vec<wasmi::Val> = ty
                .results()
                .iter()
                .map(|t| wasmi::Val::default(*t))
                .collect();
            let expected = match func.call(&mut store, &wasmi_args, &mut outputs) {
                Ok(()) => CallResult::Returned(outputs.iter().map(from_wasmi).collect()),
                Err(e) if is_trap(&e) => CallResult::Trapped(e.to_string()),
                Err(e) => {
                    totals.mismatches += 1;
                    totals.fail(seed, wasm, format!("wasmi failed in `{name}`: {e}"));
                    return;
                }
            };
            let actual = match ours.invoke(name, &args, &mut host) {
                Ok(invocation) => match invocation.outcome {
                    Outcome::Returned(values) => {
                        CallResult::Returned(values.into_iter().map(normalized).collect())
                    }
                    Outcome::Trapped(exit) => CallResult::Trapped(format!("{exit:?}")),
                },
                Err(e) => {
                    totals.mismatches += 1;
                    totals.fail(
                        seed,
                        wasm,
                        format!("`{name}`{args:?} in round {round}: {e}"),
                    );
                    return;
                }
            };
            totals.calls += 1;
            if matches!(actual, CallResult::Trapped(_)) {
                totals.traps += 1;
                if let Some((global, _)) = &fuel {
                    if matches!(global.get(&store), wasmi::Val::I32(0)) {
                        totals.out_of_fuel += 1;
                    }
                }
            }
            if !actual.agrees(&expected) {
                totals.mismatches += 1;
                totals.fail(
                    seed,
                    wasm,
                    format!("`{name}`{args:?} in round {round}: wasmi {expected}, ours {actual}"),
                );
                return;
            }
        }
    }

    if let Err(what) = compare_state(&exports, &reference, &store, &mut ours) {
        totals.mismatches += 1;
        totals.fail(seed, wasm, format!("final state: {what}"));
    }
}

/// Reads a little-endian word of `len` bytes at `addr` of our instance.
fn read_word(ours: &mut WasmInstance, addr: u32, len: u32) -> Result<u64, String> {
    let bytes = ours
        .machine()
        .read_memory(addr, len)
        .map_err(|e| format!("reading {addr:#x}: {e}"))?;
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(&bytes);
    Ok(u64::from_le_bytes(word))
}

/// Compares the exported globals, tables and memory.
fn compare_state(
    exports: &[(String, ExternalKind, u32)],
    reference: &wasmi::Instance,
    store: &wasmi::Store<()>,
    ours: &mut WasmInstance,
) -> Result<(), String> {
    let layout = ours.program().layout.clone();
    for (name, kind, index) in exports {
        let index = *index as usize;
        match kind {
            ExternalKind::Global => {
                let global = reference.get_global(store, name).expect("exported");
                let expected = from_wasmi(&global.get(store));
                let addr = layout.globals[index];
                let actual = match expected {
                    Value::I32(_) => Value::I32(read_word(ours, addr, 4)? as i32),
                    Value::I64(_) => Value::I64(read_word(ours, addr, 8)? as i64),
                    Value::F32(_) => Value::F32(read_word(ours, addr, 4)? as u32),
                    Value::F64(_) => Value::F64(read_word(ours, addr, 8)?),
                    _ => normalized(Value::Ref(read_word(ours, addr, 8)?)),
                };
                if actual != expected {
                    return Err(format!(
                        "global `{name}`: wasmi {expected:?}, ours {actual:?}"
                    ));
                }
            }
            ExternalKind::Table => {
                let table = reference.get_table(store, name).expect("exported");
                let ours_table = &layout.tables[index];
                let size = if ours_table.growable {
                    read_word(ours, ours_table.size_addr, 8)?
                } else {
                    u64::from(ours_table.min)
                };
                if size != table.size(store) {
                    return Err(format!(
                        "table `{name}`: size wasmi {}, ours {size}",
                        table.size(store)
                    ));
                }
                for i in 0..size {
                    let expected =
                        from_wasmi(&table.get(store, i).expect("in bounds")) == Value::Ref(0);
                    let entry = read_word(ours, ours_table.base + 8 * i as u32, 8)?;
                    if (entry == 0) != expected {
                        return Err(format!(
                            "table `{name}` entry {i}: null in wasmi {expected}, ours {entry:#x}"
                        ));
                    }
                }
            }
            ExternalKind::Memory => {
                let memory = reference.get_memory(store, name).expect("exported");
                let ours_memory = layout.memory.as_ref().expect("a memory");
                let pages = if ours_memory.growable {
                    read_word(ours, ours_memory.pages_addr, 8)?
                } else {
                    u64::from(ours_memory.min_pages)
                };
                if pages != memory.size(store) {
                    return Err(format!(
                        "memory `{name}`: {} pages in wasmi, ours {pages}",
                        memory.size(store)
                    ));
                }
                let expected = memory.data(store);
                let actual = ours
                    .machine()
                    .read_memory(ours_memory.base, expected.len() as u32)
                    .map_err(|e| format!("reading the memory: {e}"))?;
                if let Some(at) = (0..expected.len()).find(|&i| expected[i] != actual[i]) {
                    return Err(format!(
                        "memory `{name}` byte {at:#x}: wasmi {:#x}, ours {:#x}",
                        expected[at], actual[at]
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn pvm_wasm_agrees_with_wasmi() {
    let cases = env_u64("PVM_WASM_DIFF_CASES", 10_000);
    let first = env_u64("PVM_WASM_DIFF_SEED", 0);
    let started = std::time::Instant::now();
    if let Ok(path) = std::env::var("PVM_WASM_DIFF_FILE") {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let wasm = pvm_wasm::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut totals = Totals::default();
        check_module(first, &wasm, &mut totals);
        for report in &totals.reports {
            eprintln!("{report}");
        }
        assert_eq!((totals.mismatches, totals.compile_errors), (0, 0));
        return;
    }
    let next = AtomicU64::new(first);
    let totals = Mutex::new(Totals::default());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut local = Totals::default();
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + cases {
                        break;
                    }
                    check_seed(seed, &mut local);
                }
                totals.lock().unwrap().add(local);
            });
        }
    });
    let totals = totals.into_inner().unwrap();
    let skipped: u64 = totals.skipped.values().sum();
    let reasons: Vec<String> = totals
        .skipped
        .iter()
        .map(|(reason, count)| format!("{count} {reason}"))
        .collect();
    let mut summary = format!(
        "wasm differential: {} modules ({} fail to instantiate on both sides), {} functions, {} calls, {} traps ({} out of fuel), {} mismatches, {} compile errors, {} skipped ({}) in {:.1} s\n",
        totals.modules,
        totals.instantiation_failures,
        totals.functions,
        totals.calls,
        totals.traps,
        totals.out_of_fuel,
        totals.mismatches,
        totals.compile_errors,
        skipped,
        if reasons.is_empty() { "none".to_string() } else { reasons.join(", ") },
        started.elapsed().as_secs_f64(),
    );
    for report in &totals.reports {
        let _ = writeln!(summary, "  {report}");
    }
    // Straight to stderr, past the harness's capture: worth seeing when the test passes too.
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert_eq!(
        (totals.mismatches, totals.compile_errors),
        (0, 0),
        "pvm-wasm disagrees with wasmi or cannot compile a module; the first reports:\n{}",
        totals.reports.join("\n")
    );
}
