//! The WebAssembly spec-test runner: runs a `.wast` script's directives against modules
//! compiled by `pvm-wasm` and run on polkavm.
//!
//! Every directive is counted exactly once: passed, failed (with its 1-based line and why) or
//! skipped (with a reason, grouped in [`FileReport::skip_reasons`]). What is skipped, and why:
//! - functions the backend refuses (a tail call it cannot make) are trapping stubs, and calls
//!   reaching them are skipped with the backend's reason;
//! - modules are not linked (a PVM program is one instance): a function imported from a module
//!   other than `spectest` is a trapping stub, and a call that reaches it is skipped; a module
//!   importing a global, memory or table from one is skipped with every directive on it, and so
//!   is, from then on, the module it imports from (it could have changed that module's state);
//!   `register` itself;
//! - after a bare `invoke` is skipped, its module: later directives depend on its effects;
//! - `get` of exported globals, `assert_unlinkable`, `v128`, and directives this runner does
//!   not know.
//!
//! Semantics kept:
//! - each module runs in a fresh [`WasmInstance`]; assertions apply to the most recent module or
//!   to the one named by `$id`; a module that failed to compile or instantiate makes every
//!   directive on it fail (it should have worked);
//! - `assert_return` compares as the spec's reference interpreter does: integers exactly;
//!   floats exactly by their bits (so `-0` is not `+0`, and a NaN literal wants exactly that
//!   NaN); `nan:canonical` is either sign's canonical NaN and nothing else (f32 `0x7fc00000`,
//!   f64 `0x7ff8000000000000`, with or without the sign bit); `nan:arithmetic` is any NaN
//!   with the quiet bit (the mantissa's top bit) set, of either sign; `either` is any of its
//!   options; `ref.null` is `Value::Ref(0)`; `ref.extern N` is passed and compared as
//!   `Value::Ref(N + 1)` so that 0 stays null; `ref.func` is any non-null reference;
//! - arguments are passed as [`Value`]s: floats as their bits ([`WasmInstance`] puts an `f32`
//!   in its register as the backend holds it, sign-extended like an `i32`);
//! - `assert_trap` wants a trap (a PVM panic or page fault); in module form, compilation must
//!   report that instantiation traps ([`WasmError::Instantiation`]) or the start function must
//!   trap; `assert_exhaustion` wants a page fault (stack overflow faults on the guard zone);
//! - `assert_invalid` / `assert_malformed` want the module rejected, by the text parser or by
//!   [`pvm_wasm::compile`]; imports are bound generically for them (functions trap, globals
//!   are 0) so that only the module's own defects can reject it;
//! - every call has a gas limit ([`GAS_PER_CALL`]); running out is a failure that says so;
//! - `spectest`: `print*` are a host call the host resumes, the globals are 666 (666.6 as float
//!   bits), and importing its memory or table gives the importer its own memory or table with
//!   spectest's limits (1..2 pages, 10..20 entries); modules do not share them;
//! - memories may grow to [`MAX_MEMORY_PAGES`] (the tests grow one to 803 pages).

use pvm_isa::Flavour;
use pvm_machine::{Exit, Host, HostAction, HostContext, RunConfig, GROW_HEAP_HOST_CALL};
use pvm_wasm::instance::{InvokeError, Outcome, Value, WasmInstance};
use pvm_wasm::{compile, ImportMap, ImportTarget, WasmError, WasmOptions, WasmProgram};
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// The gas each call (and each start function) may use.
pub const GAS_PER_CALL: i64 = 1 << 30;

/// The host call the `spectest.print*` functions become; the host resumes it.
pub const SPECTEST_PRINT: u32 = 0x5e57;

/// What one `.wast` file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Directives that held.
    pub passed: usize,
    /// Directives that did not: `(1-based line, why)`.
    pub failed: Vec<(usize, String)>,
    /// Directives not checked.
    pub skipped: usize,
    /// Skipped directives by reason.
    pub skip_reasons: BTreeMap<String, usize>,
}

/// Runs the `.wast` file at `path`, compiling for `flavour`. A file that cannot be read or
/// parsed is one failure at line 0 (or the parse error's line).
pub fn run_wast_file(path: &Path, flavour: Flavour) -> FileReport {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return FileReport {
                failed: vec![(0, format!("cannot read {}: {e}", path.display()))],
                ..FileReport::default()
            }
        }
    };
    run_wast_text(&text, flavour, GAS_PER_CALL)
}

/// Runs a `.wast` script given as text (see [`run_wast_file`]), each call (and start
/// function) with `gas_per_call` gas.
pub fn run_wast_text(text: &str, flavour: Flavour, gas_per_call: i64) -> FileReport {
    let mut lexer = wast::lexer::Lexer::new(text);
    // names.wast spells names with confusable characters on purpose.
    lexer.allow_confusing_unicode(true);
    let buffer = match ParseBuffer::new_with_lexer(lexer) {
        Ok(buffer) => buffer,
        Err(e) => return unparsable(e, text),
    };
    let directives = match parser::parse::<Wast>(&buffer) {
        Ok(wast) => wast.directives,
        Err(e) => return unparsable(e, text),
    };
    // A cell per directive: each compiles at most one module, and the programs must outlive
    // the instances that borrow them.
    let programs: Vec<OnceCell<Compiled>> = directives.iter().map(|_| OnceCell::new()).collect();
    let mut runner = Runner {
        text,
        flavour,
        config: RunConfig::with_gas(gas_per_call),
        programs: &programs,
        next_program: 0,
        modules: Vec::new(),
        current: None,
        named: HashMap::new(),
        registered: HashMap::new(),
        host: SpecHost { flavour },
        report: FileReport::default(),
    };
    for directive in directives {
        runner.directive(directive);
    }
    runner.report
}

/// The report of a script that does not parse: one failure at the error's line.
fn unparsable(mut error: wast::Error, text: &str) -> FileReport {
    error.set_text(text);
    let line = error.span().linecol_in(text).0 + 1;
    FileReport {
        failed: vec![(
            line,
            format!("the script does not parse: {}", error.message()),
        )],
        ..FileReport::default()
    }
}

/// A compiled module and what the runner needs to know about its functions.
struct Compiled {
    program: WasmProgram,
    /// Functions that are trapping stubs (replaced by `pvm-wasm`, or imports from other
    /// modules), by function index: why, as a skip reason.
    stubbed: BTreeMap<u32, String>,
    /// The modules (other than `spectest`) it imports from.
    exporters: Vec<String>,
}

impl Compiled {
    /// Why function `index` is a stub, as a skip reason.
    fn stub_reason(&self, index: u32) -> Option<&str> {
        self.stubbed.get(&index).map(String::as_str)
    }

    /// The stub reason of the function the code offset `pc` is in, if it is a stub.
    fn stub_at(&self, pc: u32) -> Option<&str> {
        let (symbol, _) = self
            .program
            .linked
            .functions
            .iter()
            .filter(|(_, start)| *start <= pc)
            .max_by_key(|(_, start)| *start)?;
        match *symbol {
            pvm_backend::link::Symbol::User {
                namespace: pvm_wasm::FUNC_NAMESPACE,
                index,
            } => self.stub_reason(index),
            _ => None,
        }
    }
}

/// A module the script defined.
enum Slot<'p> {
    /// Compiled and instantiated.
    Ready {
        instance: Box<WasmInstance<'p>>,
        compiled: &'p Compiled,
    },
    /// Not run: directives on it are skipped for this reason.
    Skipped(String),
    /// It should have worked and did not: directives on it fail with this message.
    Failed(String),
    /// Superseded and unnamed: nothing can refer to it any more.
    Gone,
}

/// The host of spectest modules: `print*` does nothing; jam-v1's `grow_heap` grows memory.
struct SpecHost {
    flavour: Flavour,
}

impl Host for SpecHost {
    fn ecalli(&mut self, index: u32, ctx: &mut HostContext<'_>) -> HostAction {
        match index {
            SPECTEST_PRINT => HostAction::Resume,
            GROW_HEAP_HOST_CALL if self.flavour == Flavour::JamV1 => pvm_machine::grow_heap(ctx),
            _ => HostAction::Stop,
        }
    }
}

/// How one directive ended.
enum Verdict {
    Pass,
    Fail(String),
    Skip(String),
}

struct Runner<'t, 'p> {
    text: &'t str,
    flavour: Flavour,
    /// How every call runs: polkavm's default backend, a gas limit per call.
    config: RunConfig,
    programs: &'p [OnceCell<Compiled>],
    next_program: usize,
    modules: Vec<Slot<'p>>,
    current: Option<usize>,
    named: HashMap<String, usize>,
    /// Modules by the names `register` gave them.
    registered: HashMap<String, usize>,
    host: SpecHost,
    report: FileReport,
}

/// The wasm bytes of a module directive, or why there are none.
fn encode(module: &mut wast::QuoteWat) -> Result<Vec<u8>, String> {
    module.encode().map_err(|e| e.to_string())
}

impl<'p> Runner<'_, 'p> {
    fn line(&self, span: wast::token::Span) -> usize {
        span.linecol_in(self.text).0 + 1
    }

    fn record(&mut self, line: usize, verdict: Verdict) {
        match verdict {
            Verdict::Pass => self.report.passed += 1,
            Verdict::Fail(message) => self.report.failed.push((line, message)),
            Verdict::Skip(reason) => {
                self.report.skipped += 1;
                *self.report.skip_reasons.entry(reason).or_default() += 1;
            }
        }
    }

    /// Runs one directive; a panic in the compiler or machine is its failure.
    fn directive(&mut self, directive: WastDirective) {
        let line = self.line(directive.span());
        let verdict =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.judge(directive)))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)");
                    Verdict::Fail(format!("panicked: {message}"))
                });
        self.record(line, verdict);
    }

    fn judge(&mut self, directive: WastDirective) -> Verdict {
        match directive {
            WastDirective::Module(mut module) => self.module(&mut module),
            WastDirective::Register { name, module, .. } => {
                if let Ok(index) = self.slot(module) {
                    self.registered.insert(name.to_string(), index);
                }
                Verdict::Skip("register (modules are not linked)".into())
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke, true) {
                Err(verdict) => verdict,
                Ok((Outcome::Returned(_), _)) => Verdict::Pass,
                Ok((Outcome::Trapped(exit), _)) => Verdict::Fail(format!("trapped: {exit}")),
            },
            WastDirective::AssertReturn { exec, results, .. } => self.assert_return(exec, &results),
            WastDirective::AssertTrap { exec, message, .. } => self.assert_trap(exec, message),
            WastDirective::AssertExhaustion { call, message, .. } => {
                self.assert_exhaustion(&call, message)
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => self.assert_rejected(&mut module, message),
            WastDirective::AssertUnlinkable { .. } => {
                Verdict::Skip("assert_unlinkable (modules are not linked)".into())
            }
            other => Verdict::Skip(format!("directive {}", directive_kind(&other))),
        }
    }

    /// Options for a module importing `imports`: `spectest`'s exports, plus generic bindings
    /// of every other import when `bind_all` (for modules that only need to be rejected).
    fn options(&self, imports: &[Import], bind_all: bool) -> WasmOptions {
        let mut options = WasmOptions::default();
        options.backend.flavour = self.flavour;
        options.stub_unsupported = true;
        options.max_memory_pages = MAX_MEMORY_PAGES;
        options.imports = spectest_imports(self.flavour);
        if bind_all {
            for import in imports {
                if options.imports.get(&import.module, &import.name).is_none() {
                    let target = match import.kind {
                        ImportKind::Func => ImportTarget::Trap,
                        ImportKind::Global => ImportTarget::Const(0),
                        ImportKind::Other => continue,
                    };
                    options.imports.insert(&import.module, &import.name, target);
                }
            }
        }
        options
    }

    /// Compiles a module that should be valid; `Err` is the directive's verdict.
    ///
    /// Functions imported from modules other than `spectest` become trapping stubs: a call that
    /// reaches one is a skip. Any other import from them (a global, memory or table, whose
    /// value or contents the exporter decides) skips the module, and the exporter too: the
    /// module would have changed its state.
    fn compile_valid(&mut self, wasm: &[u8]) -> Result<&'p Compiled, Result<Verdict, WasmError>> {
        let read_error =
            |e: wasmparser::BinaryReaderError| Ok(Verdict::Fail(format!("does not read: {e}")));
        let wasm = link_spectest(wasm).map_err(read_error)?;
        let imports = imports(&wasm).map_err(read_error)?;
        let foreign = |import: &&Import| import.module != "spectest";
        let exporters: Vec<String> = imports
            .iter()
            .filter(foreign)
            .map(|i| i.module.clone())
            .collect();
        if let Some(import) = imports
            .iter()
            .filter(foreign)
            .find(|i| i.kind != ImportKind::Func)
        {
            let reason = format!(
                "imports a {} from {} (modules are not linked)",
                import.kind.name(),
                self.from(&import.module)
            );
            self.taint(&exporters);
            return Err(Ok(Verdict::Skip(reason)));
        }
        let mut options = self.options(&imports, false);
        let mut stubbed = BTreeMap::new();
        let funcs = imports.iter().filter(|i| i.kind == ImportKind::Func);
        for (index, import) in funcs.enumerate() {
            if foreign(&import) {
                options
                    .imports
                    .insert(&import.module, &import.name, ImportTarget::Trap);
                stubbed.insert(
                    index as u32,
                    format!(
                        "calls a function imported from {} (modules are not linked)",
                        self.from(&import.module)
                    ),
                );
            }
        }
        let program = compile(&wasm, &options).map_err(Err)?;
        stubbed.extend(stub_reasons(&program));
        let cell = &self.programs[self.next_program];
        self.next_program += 1;
        Ok(cell.get_or_init(|| Compiled {
            program,
            stubbed,
            exporters,
        }))
    }

    /// How a skip reason names module `name`.
    fn from(&self, name: &str) -> &'static str {
        if self.registered.contains_key(name) {
            "a registered module"
        } else {
            "another module"
        }
    }

    /// Skips from now on every directive on the registered modules `exporters`: a module that
    /// was not run, or not completely, imports from them and could have changed their state.
    fn taint(&mut self, exporters: &[String]) {
        for name in exporters {
            if let Some(&index) = self.registered.get(name) {
                if matches!(self.modules[index], Slot::Ready { .. }) {
                    self.modules[index] = Slot::Skipped(
                        "shares state with a module that was not run (modules are not linked)"
                            .into(),
                    );
                }
            }
        }
    }

    fn module(&mut self, module: &mut wast::QuoteWat) -> Verdict {
        let name = module.name().map(|id| id.name().to_string());
        let (slot, verdict) = match self.instantiate(module) {
            Ok(slot) => (slot, Verdict::Pass),
            Err(Verdict::Skip(reason)) => (Slot::Skipped(reason.clone()), Verdict::Skip(reason)),
            Err(Verdict::Fail(message)) => (
                Slot::Failed(format!("its module failed: {message}")),
                Verdict::Fail(message),
            ),
            Err(Verdict::Pass) => unreachable!("instantiate passes with a slot"),
        };
        // The previous module, unless named, can no longer be referred to.
        if let Some(previous) = self.current {
            if !self.named.values().any(|&i| i == previous) {
                self.modules[previous] = Slot::Gone;
            }
        }
        self.modules.push(slot);
        let index = self.modules.len() - 1;
        self.current = Some(index);
        if let Some(name) = name {
            self.named.insert(name, index);
        }
        verdict
    }

    fn instantiate(&mut self, module: &mut wast::QuoteWat) -> Result<Slot<'p>, Verdict> {
        let wasm =
            encode(module).map_err(|e| Verdict::Fail(format!("the module does not parse: {e}")))?;
        let compiled = match self.compile_valid(&wasm) {
            Ok(compiled) => compiled,
            Err(Ok(verdict)) => return Err(verdict),
            Err(Err(e)) => return Err(Verdict::Fail(format!("does not compile: {e}"))),
        };
        match WasmInstance::new(&compiled.program, &self.config, &mut self.host) {
            Ok(instance) => Ok(Slot::Ready {
                instance: Box::new(instance),
                compiled,
            }),
            Err(InvokeError::StartTrapped(exit)) => Err(match start_stub(compiled, &exit) {
                Some(reason) => {
                    self.taint(&compiled.exporters);
                    Verdict::Skip(reason)
                }
                None => Verdict::Fail(format!("the start function trapped: {exit}")),
            }),
            Err(e) => Err(Verdict::Fail(format!("does not instantiate: {e}"))),
        }
    }

    /// The module a directive names (or the current one).
    fn slot(&self, id: Option<wast::token::Id>) -> Result<usize, Verdict> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .copied()
                .ok_or_else(|| Verdict::Fail(format!("no module named ${}", id.name()))),
            None => self
                .current
                .ok_or_else(|| Verdict::Fail("no module defined yet".into())),
        }
    }

    /// Runs an `invoke`; `Err` is the directive's verdict when it cannot be judged by its
    /// outcome (skips, unusable modules, out of gas). A call of a stub, or a trap in one, is a
    /// skip; the modules the callee imports from are skipped from then on (the stub stands for
    /// their code, which could have changed their state), and so is the callee's module when the
    /// call is made `for_effect` (a bare `invoke`: later directives depend on what it does).
    fn invoke(
        &mut self,
        invoke: &WastInvoke,
        for_effect: bool,
    ) -> Result<(Outcome, &'p Compiled), Verdict> {
        let index = self.slot(invoke.module)?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>, _>>()?;
        let (instance, compiled) = match &mut self.modules[index] {
            Slot::Ready { instance, compiled } => (instance, *compiled),
            Slot::Skipped(reason) => return Err(Verdict::Skip(reason.clone())),
            Slot::Failed(message) => return Err(Verdict::Fail(message.clone())),
            Slot::Gone => unreachable!("only superseded unnamed modules are gone"),
        };
        let export = compiled
            .program
            .export(invoke.name)
            .ok_or_else(|| Verdict::Fail(format!("no exported function `{}`", invoke.name)))?;
        let stub = match export.symbol {
            pvm_backend::link::Symbol::User { index, .. } => compiled.stub_reason(index),
            _ => None,
        };
        if let Some(reason) = stub {
            return Err(self.stub_skip(index, compiled, reason, for_effect));
        }
        let call = match instance.invoke(invoke.name, &args, &mut self.host) {
            Ok(call) => call,
            Err(InvokeError::Stopped(exit @ Exit::OutOfGas { .. })) => {
                return Err(Verdict::Fail(format!(
                    "`{}` ran out of gas ({} per call): {exit}",
                    invoke.name, self.config.gas
                )))
            }
            Err(e) => return Err(Verdict::Fail(format!("`{}`: {e}", invoke.name))),
        };
        if let Outcome::Trapped(exit) = &call.outcome {
            if let Some(reason) = exit.pc().and_then(|pc| compiled.stub_at(pc)) {
                return Err(self.stub_skip(index, compiled, reason, for_effect));
            }
        }
        Ok((call.outcome, compiled))
    }

    /// The skip of a call that reached a stub of module `index` (see [`Runner::invoke`]).
    fn stub_skip(
        &mut self,
        index: usize,
        compiled: &Compiled,
        reason: &str,
        for_effect: bool,
    ) -> Verdict {
        self.taint(&compiled.exporters);
        if for_effect {
            self.modules[index] = Slot::Skipped(reason.to_string());
        }
        Verdict::Skip(reason.to_string())
    }

    fn assert_return(&mut self, exec: WastExecute, expected: &[WastRet]) -> Verdict {
        let invoke = match exec {
            WastExecute::Invoke(invoke) => invoke,
            WastExecute::Get { .. } => return Verdict::Skip("get (exported globals)".into()),
            WastExecute::Wat(_) => return Verdict::Skip("assert_return of a module".into()),
        };
        let expected = match expected
            .iter()
            .map(expectation)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(expected) => expected,
            Err(verdict) => return verdict,
        };
        match self.invoke(&invoke, false) {
            Err(verdict) => verdict,
            Ok((Outcome::Trapped(exit), _)) => Verdict::Fail(format!(
                "`{}` trapped ({exit}), expected {expected:?}",
                invoke.name
            )),
            Ok((Outcome::Returned(values), _)) => {
                let holds = values.len() == expected.len()
                    && values.iter().zip(&expected).all(|(v, e)| e.matches(v));
                if holds {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!(
                        "`{}` returned {:?}, expected {expected:?}",
                        invoke.name,
                        shown(&values)
                    ))
                }
            }
        }
    }

    fn assert_exhaustion(&mut self, call: &WastInvoke, message: &str) -> Verdict {
        match self.invoke(call, false) {
            Err(verdict) => verdict,
            // The stack's guard zone is unmapped: overflowing it is a page fault.
            Ok((Outcome::Trapped(Exit::PageFault { .. }), _)) => Verdict::Pass,
            Ok((Outcome::Trapped(exit), _)) => Verdict::Fail(format!(
                "`{}` trapped ({exit}), expected a stack overflow (a page fault): `{message}`",
                call.name
            )),
            Ok((Outcome::Returned(values), _)) => Verdict::Fail(format!(
                "`{}` returned {:?}, expected `{message}`",
                call.name,
                shown(&values)
            )),
        }
    }

    fn assert_trap(&mut self, exec: WastExecute, message: &str) -> Verdict {
        match exec {
            WastExecute::Invoke(invoke) => match self.invoke(&invoke, false) {
                Err(verdict) => verdict,
                Ok((Outcome::Trapped(_), _)) => Verdict::Pass,
                Ok((Outcome::Returned(values), _)) => Verdict::Fail(format!(
                    "`{}` returned {:?}, expected a trap `{message}`",
                    invoke.name,
                    shown(&values)
                )),
            },
            WastExecute::Get { .. } => Verdict::Skip("get (exported globals)".into()),
            WastExecute::Wat(mut wat) => {
                let wasm = match wat.encode() {
                    Ok(wasm) => wasm,
                    Err(e) => return Verdict::Fail(format!("the module does not parse: {e}")),
                };
                let compiled = match self.compile_valid(&wasm) {
                    Ok(compiled) => compiled,
                    Err(Ok(verdict)) => return verdict,
                    Err(Err(WasmError::Instantiation(_))) => return Verdict::Pass,
                    Err(Err(e)) => {
                        return Verdict::Fail(format!(
                            "does not compile ({e}), expected instantiation to trap `{message}`"
                        ))
                    }
                };
                match WasmInstance::new(&compiled.program, &self.config, &mut self.host) {
                    Ok(_) => Verdict::Fail(format!(
                        "instantiated, expected instantiation to trap `{message}`"
                    )),
                    Err(InvokeError::StartTrapped(exit)) => match start_stub(compiled, &exit) {
                        Some(reason) => {
                            self.taint(&compiled.exporters);
                            Verdict::Skip(reason)
                        }
                        None => Verdict::Pass,
                    },
                    Err(e) => Verdict::Fail(format!("does not instantiate: {e}")),
                }
            }
        }
    }

    fn assert_rejected(&mut self, module: &mut wast::QuoteWat, message: &str) -> Verdict {
        let Ok(wasm) = encode(module) else {
            return Verdict::Pass;
        };
        let imports = imports(&wasm).unwrap_or_default();
        let options = self.options(&imports, true);
        match compile(&wasm, &options) {
            Err(_) => Verdict::Pass,
            Ok(_) => Verdict::Fail(format!("compiled, expected a rejection: `{message}`")),
        }
    }
}

/// The skip reason when a start function's trap was in a stub.
fn start_stub(compiled: &Compiled, exit: &Exit) -> Option<String> {
    exit.pc()
        .and_then(|pc| compiled.stub_at(pc))
        .map(str::to_string)
}

/// What a directive is called, for skip reasons.
fn directive_kind(directive: &WastDirective) -> &'static str {
    match directive {
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
        _ => "other",
    }
}

/// The most pages a memory may grow to: the spec tests grow memories to 803 pages and expect
/// that to work. (gp-0.7.2 maps all of them up front, see `pvm_wasm::layout`.)
pub const MAX_MEMORY_PAGES: u32 = 1 << 10;

/// `spectest`'s memory: 1 page, at most 2.
const SPECTEST_MEMORY: (u64, u64) = (1, 2);
/// `spectest`'s table: 10 `funcref`s, at most 20.
const SPECTEST_TABLE: (u64, u64) = (10, 20);

/// `wasm` with its imports of `spectest`'s memory and table declared with the limits they
/// really have ([`SPECTEST_MEMORY`], [`SPECTEST_TABLE`]): pvm-wasm makes an imported memory
/// or table the module's own, with the limits the import declares, but the memory a module
/// gets by importing `spectest.memory` is spectest's, whatever (compatible) limits it asks for.
/// (Modules do not share it, though: each has its own copy.)
fn link_spectest(wasm: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, wasmparser::BinaryReaderError> {
    use wasm_encoder::Encode;
    use wasmparser::{Payload, RefType, TypeRef};
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Payload::ImportSection(reader) = payload? else {
            continue;
        };
        let range = reader.range();
        let mut items = Vec::new();
        for item in reader.into_iter_with_offsets() {
            items.push(item?);
        }
        let mut content = Vec::new();
        items.len().encode(&mut content);
        let mut changed = false;
        for (i, (start, import)) in items.iter().enumerate() {
            let end = items.get(i + 1).map_or(range.end, |(next, _)| *next);
            let limits = match (import.module, import.name, import.ty) {
                ("spectest", "memory", TypeRef::Memory(m))
                    if (m.initial, m.maximum) != (SPECTEST_MEMORY.0, Some(SPECTEST_MEMORY.1))
                        && !m.memory64
                        && !m.shared =>
                {
                    Some((0x02, None, SPECTEST_MEMORY))
                }
                ("spectest", "table", TypeRef::Table(t))
                    if (t.initial, t.maximum) != (SPECTEST_TABLE.0, Some(SPECTEST_TABLE.1))
                        && t.element_type == RefType::FUNCREF
                        && !t.table64 =>
                {
                    Some((0x01, Some(0x70), SPECTEST_TABLE))
                }
                _ => None,
            };
            match limits {
                None => content.extend_from_slice(&wasm[*start..end]),
                Some((kind, element, (min, max))) => {
                    changed = true;
                    import.module.encode(&mut content);
                    import.name.encode(&mut content);
                    content.push(kind);
                    content.extend(element);
                    content.push(0x01); // limits with a maximum
                    min.encode(&mut content);
                    max.encode(&mut content);
                }
            }
        }
        if !changed {
            break;
        }
        // The section's header, `0x02` and the content's size, ends where the content starts.
        let header = (1..=6)
            .filter_map(|len| range.start.checked_sub(len))
            .find(|&at| {
                wasm[at] == 0x02 && {
                    let mut size = wasmparser::BinaryReader::new(&wasm[at + 1..range.start], 0);
                    size.read_var_u32().ok() == Some(range.len() as u32) && size.eof()
                }
            });
        let Some(header) = header else { break };
        let mut module = wasm[..header].to_vec();
        module.push(0x02);
        content.encode(&mut module);
        module.extend_from_slice(&wasm[range.end..]);
        return Ok(std::borrow::Cow::Owned(module));
    }
    Ok(std::borrow::Cow::Borrowed(wasm))
}

/// The `spectest` module's exports as imports: `print*` is a host call the runner resumes,
/// the globals are constants (666, and 666.6 as float bits); its memory and table become the
/// importer's own (pvm-wasm does that for every imported memory and table).
fn spectest_imports(flavour: Flavour) -> ImportMap {
    let mut map = ImportMap::jam(flavour);
    for name in [
        "print",
        "print_i32",
        "print_i64",
        "print_f32",
        "print_f64",
        "print_i32_f32",
        "print_f64_f64",
    ] {
        map.insert("spectest", name, ImportTarget::HostCall(SPECTEST_PRINT));
    }
    map.insert("spectest", "global_i32", ImportTarget::Const(666));
    map.insert("spectest", "global_i64", ImportTarget::Const(666));
    map.insert(
        "spectest",
        "global_f32",
        ImportTarget::Const(i64::from(666.6f32.to_bits())),
    );
    map.insert(
        "spectest",
        "global_f64",
        ImportTarget::Const(666.6f64.to_bits() as i64),
    );
    map
}

/// An argument as a wasm value (a float as its bits); `v128` and host references are skips.
fn arg_value(arg: &WastArg) -> Result<Value, Verdict> {
    let WastArg::Core(arg) = arg else {
        return Err(Verdict::Skip("component-model values".into()));
    };
    Ok(match arg {
        WastArgCore::I32(v) => Value::I32(*v),
        WastArgCore::I64(v) => Value::I64(*v),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::RefNull(_) => Value::Ref(0),
        WastArgCore::RefExtern(n) => Value::Ref(u64::from(*n) + 1),
        WastArgCore::V128(_) => return Err(Verdict::Skip("v128".into())),
        WastArgCore::RefHost(_) => return Err(Verdict::Skip("ref.host".into())),
    })
}

/// A float type, for the NaN patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FloatType {
    F32,
    F64,
}

impl FloatType {
    /// The bits of `value` without the sign bit, if it is a float of this type.
    fn magnitude(self, value: &Value) -> Option<u64> {
        match (self, value) {
            (FloatType::F32, Value::F32(bits)) => Some(u64::from(bits & 0x7fff_ffff)),
            (FloatType::F64, Value::F64(bits)) => Some(bits & !(1 << 63)),
            _ => None,
        }
    }

    /// The positive canonical NaN: the exponent all ones and, of the mantissa, only the quiet
    /// bit (its top bit). A magnitude with all these bits set is therefore a quiet NaN.
    fn canonical_nan(self) -> u64 {
        match self {
            FloatType::F32 => 0x7fc0_0000,
            FloatType::F64 => 0x7ff8_0000_0000_0000,
        }
    }
}

/// An expected result.
enum Expected {
    /// Exactly this value (floats bit for bit).
    Exact(Value),
    /// `nan:canonical`: the canonical NaN of either sign.
    CanonicalNan(FloatType),
    /// `nan:arithmetic`: a quiet NaN of either sign, any payload.
    ArithmeticNan(FloatType),
    /// Any non-null reference.
    NonNull,
    /// Any of these.
    Either(Vec<Expected>),
}

impl Expected {
    fn matches(&self, value: &Value) -> bool {
        match self {
            Expected::Exact(expected) => expected == value,
            Expected::CanonicalNan(ty) => ty.magnitude(value) == Some(ty.canonical_nan()),
            Expected::ArithmeticNan(ty) => ty
                .magnitude(value)
                .is_some_and(|m| m & ty.canonical_nan() == ty.canonical_nan()),
            Expected::NonNull => matches!(value, Value::Ref(r) if *r != 0),
            Expected::Either(options) => options.iter().any(|e| e.matches(value)),
        }
    }
}

impl std::fmt::Debug for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Exact(value) => write!(f, "{:?}", Shown(value)),
            Expected::CanonicalNan(ty) => write!(f, "{ty:?}(nan:canonical)"),
            Expected::ArithmeticNan(ty) => write!(f, "{ty:?}(nan:arithmetic)"),
            Expected::NonNull => write!(f, "non-null reference"),
            Expected::Either(options) => write!(f, "either {options:?}"),
        }
    }
}

/// A value as failure messages show it: a float as its bits in hex and the number they are.
struct Shown<'v>(&'v Value);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self.0 {
            Value::F32(bits) => write!(f, "F32({bits:#010x} = {:?})", f32::from_bits(bits)),
            Value::F64(bits) => write!(f, "F64({bits:#018x} = {:?})", f64::from_bits(bits)),
            ref other => write!(f, "{other:?}"),
        }
    }
}

/// `values` as failure messages show them.
fn shown(values: &[Value]) -> Vec<Shown<'_>> {
    values.iter().map(Shown).collect()
}

fn expectation(ret: &WastRet) -> Result<Expected, Verdict> {
    let WastRet::Core(ret) = ret else {
        return Err(Verdict::Skip("component-model values".into()));
    };
    core_expectation(ret)
}

fn core_expectation(ret: &WastRetCore) -> Result<Expected, Verdict> {
    Ok(match ret {
        WastRetCore::I32(v) => Expected::Exact(Value::I32(*v)),
        WastRetCore::I64(v) => Expected::Exact(Value::I64(*v)),
        WastRetCore::F32(pattern) => {
            float_expectation(pattern, FloatType::F32, |v| Value::F32(v.bits))
        }
        WastRetCore::F64(pattern) => {
            float_expectation(pattern, FloatType::F64, |v| Value::F64(v.bits))
        }
        WastRetCore::RefNull(_) => Expected::Exact(Value::Ref(0)),
        WastRetCore::RefExtern(Some(n)) => Expected::Exact(Value::Ref(u64::from(*n) + 1)),
        WastRetCore::RefExtern(None) | WastRetCore::RefFunc(_) => Expected::NonNull,
        WastRetCore::Either(options) => Expected::Either(
            options
                .iter()
                .map(core_expectation)
                .collect::<Result<_, _>>()?,
        ),
        WastRetCore::V128(_) => return Err(Verdict::Skip("v128".into())),
        _ => return Err(Verdict::Skip("GC references".into())),
    })
}

/// The expectation of a float result of type `ty`: a NaN pattern, or the literal's bits.
fn float_expectation<T>(
    pattern: &NanPattern<T>,
    ty: FloatType,
    value: impl Fn(&T) -> Value,
) -> Expected {
    match pattern {
        NanPattern::CanonicalNan => Expected::CanonicalNan(ty),
        NanPattern::ArithmeticNan => Expected::ArithmeticNan(ty),
        NanPattern::Value(v) => Expected::Exact(value(v)),
    }
}

/// The kinds of import the runner tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ImportKind {
    Func,
    Global,
    Other,
}

impl ImportKind {
    fn name(self) -> &'static str {
        match self {
            ImportKind::Func => "function",
            ImportKind::Global => "global",
            ImportKind::Other => "memory or table",
        }
    }
}

/// One import of a module.
#[derive(Clone, Debug)]
struct Import {
    module: String,
    name: String,
    kind: ImportKind,
}

/// A module's imports.
fn imports(wasm: &[u8]) -> Result<Vec<Import>, wasmparser::BinaryReaderError> {
    use wasmparser::{Payload, TypeRef};
    let mut imports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Payload::ImportSection(reader) = payload? else {
            continue;
        };
        for import in reader {
            let import = import?;
            imports.push(Import {
                module: import.module.to_string(),
                name: import.name.to_string(),
                kind: match import.ty {
                    TypeRef::Func(_) => ImportKind::Func,
                    TypeRef::Global(_) => ImportKind::Global,
                    _ => ImportKind::Other,
                },
            });
        }
    }
    Ok(imports)
}

/// The skip reason of each function `pvm-wasm` replaced by a stub, by index: what the backend
/// said.
fn stub_reasons(program: &WasmProgram) -> BTreeMap<u32, String> {
    let mut reasons = BTreeMap::new();
    for (name, why) in &program.stubbed {
        // `pvm-wasm` names functions `func[N]` or `name (func[N])`.
        let Some(index) = name
            .rfind("func[")
            .map(|at| &name[at + "func[".len()..])
            .and_then(|rest| rest.split(']').next())
            .and_then(|digits| digits.parse::<u32>().ok())
        else {
            continue;
        };
        reasons.insert(index, format!("backend cannot compile: {why}"));
    }
    reasons
}
