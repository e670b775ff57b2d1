//! WebAssembly → PVM.
//!
//! [`compile`] reads a module with cranelift-wasm ([`module_env`]), lays its state out at
//! fixed addresses ([`layout`]), translates each function to CLIF with our
//! [`FuncEnvironment`](cranelift_wasm::FuncEnvironment) ([`func_env`]), compiles it with
//! `pvm-backend`, adds the runtime helpers the code calls ([`runtime`]), import stubs and
//! JAM entry wrappers ([`entry`]), and links one PVM program. [`instance`] runs compiled
//! modules on polkavm: exports by name with wasm values, state kept between calls.
//!
//! Wasm semantics kept: out-of-bounds memory and table accesses, null, out-of-range and
//! mistyped `call_indirect`, `unreachable`, division traps and stack overflow all trap
//! (the last as a page fault in the guard zone below the stack, see `pvm_backend::abi`).
//! [`BoundsChecks::None`] removes the memory bounds checks and is unsound: only for
//! trusted code.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

pub mod entry;
mod func_env;
pub mod imports;
pub mod instance;
pub mod layout;
mod module_env;
mod runtime;

pub use imports::{ImportMap, ImportTarget};

use cranelift_codegen::ir::{
    ExtFuncData, ExternalName, FuncRef, Function, InstBuilder, Signature, TrapCode,
    UserExternalName, UserFuncName,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_wasm::wasmparser::Operator;
use cranelift_wasm::{FuncIndex, FuncTranslator, WasmValType};
use func_env::FuncEnv;
use module_env::ModuleInfo;
use pvm_backend::link::{DataObject, LinkOptions, LinkedProgram, Linker, Symbol};
use pvm_backend::{CompileError, Options};
use pvm_isa::{PolkavmContainer, ServiceBlob, StandardProgram, RO_DATA_START};
use std::collections::BTreeSet;

/// The `ExternalName::User` namespace of the module's functions: function `i` of the wasm
/// index space is `u0:i`.
pub const FUNC_NAMESPACE: u32 = 0;

/// Whether memory accesses are bounds-checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BoundsChecks {
    /// One compare-and-branch to the shared trap per access that is not provably in bounds.
    #[default]
    Explicit,
    /// None: an out-of-bounds access reads or writes whatever is there. Unsound; only for
    /// trusted code.
    None,
}

/// How to compile a module.
#[derive(Clone, Debug)]
pub struct WasmOptions {
    /// Backend options (flavour, optimization, passes).
    pub backend: Options,
    /// Memory bounds checks.
    pub bounds_checks: BoundsChecks,
    /// The most wasm pages (64 KiB) a memory may grow to, whatever the module declares.
    pub max_memory_pages: u32,
    /// The most entries a growable table may have.
    pub max_table_entries: u32,
    /// Stack bytes.
    pub stack_size: u32,
    /// Import bindings.
    pub imports: ImportMap,
    /// JAM entry points, in pc order (entry `i` at pc `5·i`): `(entry name, export name)`.
    /// Empty: no entry points, functions are reached by export name only.
    pub entries: Vec<(String, String)>,
    /// Replace functions the backend cannot compile (a tail call it cannot make) with stubs that
    /// trap, listing them in [`WasmProgram::stubbed`], instead of failing. For test runners.
    pub stub_unsupported: bool,
    /// Keep each function's CLIF and VCode text ([`WasmProgram::stages`]).
    pub keep_stages: bool,
    /// Drop the zero extension of memory indices where the bounds check makes it redundant
    /// (saves two instructions per access; `func_env::fold_index_extensions`).
    pub fold_index_extension: bool,
    /// With entry points: keep the active data segments out of the read/write image and copy
    /// them in when an entry starts (smaller blobs; see `layout::Layout::data_copies`).
    pub copy_data: bool,
}

impl Default for WasmOptions {
    fn default() -> Self {
        let backend = Options::default();
        WasmOptions {
            imports: ImportMap::jam(backend.flavour),
            backend,
            bounds_checks: BoundsChecks::Explicit,
            max_memory_pages: DEFAULT_MAX_MEMORY_PAGES,
            max_table_entries: 1 << 16,
            stack_size: DEFAULT_STACK_SIZE,
            entries: Vec::new(),
            stub_unsupported: false,
            keep_stages: false,
            fold_index_extension: true,
            copy_data: true,
        }
    }
}

/// Default `--max-memory`: 256 pages, 16 MiB.
pub const DEFAULT_MAX_MEMORY_PAGES: u32 = 256;
/// Default stack: 1 MiB.
pub const DEFAULT_STACK_SIZE: u32 = 1 << 20;

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// Malformed or invalid wasm.
    #[error("invalid WebAssembly at byte offset {offset:#x}: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// Where, in bytes from the module's start.
        offset: usize,
    },
    /// A feature this compiler does not support.
    #[error("unsupported WebAssembly: {0}")]
    Unsupported(String),
    /// An import the map does not resolve.
    #[error("{0}")]
    UnresolvedImport(String),
    /// Instantiating the module traps (an active segment out of bounds).
    #[error("instantiation traps: {0}")]
    Instantiation(String),
    /// The module's state does not fit the address space.
    #[error("does not fit: {0}")]
    Layout(String),
    /// The backend failed on a function.
    #[error("in {function}: {error}")]
    Function {
        /// The function's name.
        function: String,
        /// Why.
        error: CompileError,
    },
    /// An entry point names an export that is not a function of the module.
    #[error("entry `{entry}`: no exported function `{export}`")]
    NoExport {
        /// The entry point.
        entry: String,
        /// The export it names.
        export: String,
    },
    /// Linking failed.
    #[error(transparent)]
    Link(#[from] CompileError),
}

impl From<cranelift_wasm::WasmError> for WasmError {
    fn from(error: cranelift_wasm::WasmError) -> Self {
        use cranelift_wasm::WasmError as E;
        match error {
            E::InvalidWebAssembly { message, offset } => WasmError::Invalid { message, offset },
            E::Unsupported(what) => WasmError::Unsupported(what),
            E::ImplLimitExceeded => WasmError::Unsupported("an implementation limit".into()),
            E::User(what) => WasmError::Unsupported(what),
        }
    }
}

/// An exported function of a compiled module.
#[derive(Clone, Debug)]
pub struct Export {
    /// The export name.
    pub name: String,
    /// Its symbol in the program.
    pub symbol: Symbol,
    /// Its entry pc.
    pub pc: u32,
    /// Parameter types.
    pub params: Vec<WasmValType>,
    /// Result types.
    pub results: Vec<WasmValType>,
}

/// One function's intermediate forms (with [`WasmOptions::keep_stages`]).
#[derive(Clone, Debug)]
pub struct Stages {
    /// The function's name.
    pub name: String,
    /// Its CLIF after translation (before the mid-end).
    pub clif: String,
    /// Its VCode after register allocation.
    pub vcode: String,
}

/// A compiled module.
#[derive(Clone, Debug)]
pub struct WasmProgram {
    /// The linked program.
    pub linked: LinkedProgram,
    /// Exported functions, in export order.
    pub exports: Vec<Export>,
    /// The pc of the function that copies the active data segments into memory
    /// ([`layout::Layout::data_copies`]), if the layout has copies; it runs before `start`.
    pub init: Option<u32>,
    /// The start function's pc, if the module has one.
    pub start: Option<u32>,
    /// JAM entry points: `(entry name, export name)`, entry `i` at pc `5·i`.
    pub entries: Vec<(String, String)>,
    /// The layout.
    pub layout: layout::Layout,
    /// Functions replaced by trapping stubs ([`WasmOptions::stub_unsupported`]), with why.
    pub stubbed: Vec<(String, String)>,
    /// Per-function stages ([`WasmOptions::keep_stages`]).
    pub stages: Vec<Stages>,
}

impl WasmProgram {
    /// The program in the SPI's form.
    pub fn standard(&self) -> &StandardProgram {
        &self.linked.program
    }

    /// The program as a JAM service blob (no metadata).
    pub fn service_blob(&self) -> ServiceBlob {
        self.linked.service_blob(Vec::new())
    }

    /// The program as a `.polkavm` container exporting every wasm export and entry point by
    /// name.
    pub fn polkavm(&self) -> Result<PolkavmContainer, CompileError> {
        let mut exports: Vec<(String, Symbol)> = self
            .exports
            .iter()
            .map(|e| (e.name.clone(), e.symbol.clone()))
            .collect();
        for (index, (entry, _)) in self.entries.iter().enumerate() {
            exports.push((entry.clone(), entry::entry_symbol(index)));
        }
        self.linked.polkavm(&exports)
    }

    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }
}

/// Reads `.wat` text or `.wasm` bytes into wasm bytes.
pub fn parse(bytes: &[u8]) -> Result<Vec<u8>, WasmError> {
    wat::parse_bytes(bytes)
        .map(|b| b.into_owned())
        .map_err(|e| WasmError::Invalid {
            message: e.to_string(),
            offset: 0,
        })
}

/// Which memories and tables the code can grow. Runs before the bodies are validated, so a
/// table index may be out of range (validation rejects it later).
///
/// Also rejects what wasmparser lets through: without multi-memory, the memory index of
/// `memory.size` and `memory.grow` is a single zero byte, not a longer LEB128 zero.
fn growth(info: &ModuleInfo) -> Result<(bool, Vec<bool>), WasmError> {
    let mut memory = false;
    let mut tables = vec![false; info.tables.len()];
    for (_, body) in &info.bodies {
        let mut reader = body.get_operators_reader().map_err(wasmparser_error)?;
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset().map_err(wasmparser_error)?;
            if matches!(
                op,
                Operator::MemoryGrow { .. } | Operator::MemorySize { .. }
            ) && reader.original_position() - offset != 2
            {
                return Err(WasmError::Invalid {
                    message: "zero byte expected".into(),
                    offset: offset + 1,
                });
            }
            match op {
                Operator::MemoryGrow { .. } => memory = true,
                Operator::TableGrow { table } => {
                    if let Some(grows) = tables.get_mut(table as usize) {
                        *grows = true;
                    }
                }
                _ => {}
            }
        }
    }
    Ok((memory, tables))
}

fn wasmparser_error(e: cranelift_wasm::wasmparser::BinaryReaderError) -> WasmError {
    WasmError::Invalid {
        message: e.message().to_string(),
        offset: e.offset(),
    }
}

/// A function of `signature` whose body traps.
fn trap_function(name: UserFuncName, signature: cranelift_codegen::ir::Signature) -> Function {
    let mut func = Function::with_name_signature(name, signature);
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.ins().trap(TrapCode::UnreachableCodeReached);
    b.seal_all_blocks();
    b.finalize();
    func
}

/// Declares, in `func`, the colocated function `name` of signature `sig`.
pub(crate) fn import_named(func: &mut Function, name: ExternalName, sig: Signature) -> FuncRef {
    let signature = func.import_signature(sig);
    func.import_function(ExtFuncData {
        name,
        signature,
        colocated: true,
    })
}

/// Declares, in `func`, the function `u{namespace}:{index}` of signature `sig`.
pub(crate) fn import_user(
    func: &mut Function,
    namespace: u32,
    index: u32,
    sig: Signature,
) -> FuncRef {
    let name = func.declare_imported_user_function(UserExternalName::new(namespace, index));
    import_named(func, ExternalName::User(name), sig)
}

/// The symbol of wasm function `index`.
pub fn func_symbol(index: FuncIndex) -> Symbol {
    Symbol::User {
        namespace: FUNC_NAMESPACE,
        index: index.as_u32(),
    }
}

const RO_SYMBOL: &str = "wasm_ro";
const RW_SYMBOL: &str = "wasm_rw";
const HEAP_SYMBOL: &str = "wasm_heap";

/// Compiles a wasm module (binary; see [`parse`] for text).
pub fn compile(wasm: &[u8], options: &WasmOptions) -> Result<WasmProgram, WasmError> {
    let mut info = ModuleInfo::new(&options.imports);
    cranelift_wasm::translate_module(wasm, &mut info)?;
    if let Some(unresolved) = info.unresolved.take() {
        return Err(WasmError::UnresolvedImport(unresolved));
    }
    let entries = entry::resolve(&info, &options.entries)?;
    let (memory_grows, table_grows) = growth(&info)?;
    // Entry points that take argument bytes grow the memory to hold them.
    let memory_grows = memory_grows || entries.iter().any(|e| e.takes_args);
    let limits = layout::Limits {
        max_memory_pages: options.max_memory_pages,
        max_table_entries: options.max_table_entries,
        stack_size: options.stack_size,
        reserve_memory: options.backend.flavour == pvm_isa::Flavour::Gp072,
        // Only entry points run the copies: programs called by export name keep the image.
        copy_data: options.copy_data && !entries.is_empty(),
    };
    let layout = layout::layout(&info, &limits, memory_grows, &table_grows)?;
    if let Some(why) = &layout.instantiation_trap {
        return Err(WasmError::Instantiation(why.clone()));
    }

    let mut linker = Linker::with_options(&options.backend);
    let mut helpers = BTreeSet::new();
    let mut stubbed = Vec::new();
    let mut stages = Vec::new();
    let mut add = |linker: &mut Linker,
                   func: &Function,
                   name: String,
                   stubbed: &mut Vec<(String, String)>|
     -> Result<(), WasmError> {
        let emitted = match pvm_backend::compile_function_code(func, &options.backend) {
            Ok(emitted) => emitted,
            Err(error @ CompileError::Unsupported(_)) if options.stub_unsupported => {
                stubbed.push((name.clone(), error.to_string()));
                let stub = trap_function(func.name.clone(), func.signature.clone());
                pvm_backend::compile_function_code(&stub, &options.backend).map_err(|error| {
                    WasmError::Function {
                        function: name.clone(),
                        error,
                    }
                })?
            }
            Err(error) => {
                return Err(WasmError::Function {
                    function: name,
                    error,
                })
            }
        };
        if options.keep_stages {
            stages.push(Stages {
                name: name.clone(),
                clif: func.display().to_string(),
                vcode: emitted.vcode_text.clone(),
            });
        }
        linker
            .add_function(Symbol::of_function(func), &emitted.code)
            .map_err(|error| WasmError::Function {
                function: name,
                error,
            })?;
        Ok(())
    };

    // Imports: a function each, for calls through tables and references (direct calls of
    // host calls are `ecalli` in place).
    let imported = info.imported_funcs();
    for index in 0..imported {
        let index = FuncIndex::from_u32(index as u32);
        let func = entry::import_function(&info, index)?;
        add(&mut linker, &func, info.func_name(index), &mut stubbed)?;
    }

    let mut translator = FuncTranslator::new();
    let bodies = std::mem::take(&mut info.bodies);
    for (i, (mut validator, body)) in bodies.into_iter().enumerate() {
        let index = FuncIndex::from_u32((imported + i) as u32);
        let sig = func_env::signature(info.func_type(index))?;
        let mut func =
            Function::with_name_signature(UserFuncName::user(FUNC_NAMESPACE, index.as_u32()), sig);
        let mut env = FuncEnv::new(&info, &layout, options.bounds_checks, &mut helpers);
        translator.translate_body(&mut validator, body, &mut func, &mut env)?;
        env.finish(&mut func, options.fold_index_extension);
        add(&mut linker, &func, info.func_name(index), &mut stubbed)?;
    }

    let mut roots: Vec<Symbol> = Vec::new();
    let init = (!layout.data_copies.is_empty()).then(|| entry::init_function(&layout));
    if let Some(func) = &init {
        add(&mut linker, func, "data copies".to_string(), &mut stubbed)?;
        roots.push(Symbol::of_function(func));
    }
    for (index, entry) in entries.iter().enumerate() {
        let func = entry::wrapper(
            &info,
            index,
            entry,
            layout.memory.as_ref(),
            init.is_some(),
            &mut helpers,
        )?;
        add(
            &mut linker,
            &func,
            format!("entry {}", entry.name),
            &mut stubbed,
        )?;
    }
    for &helper in &helpers {
        let func = helper.build(layout.memory.as_ref());
        add(&mut linker, &func, helper.name().to_string(), &mut stubbed)?;
    }

    // Data: the read-only image, the state and initial memory, the memory's zero tail.
    let ro_symbol = Symbol::Name(RO_SYMBOL.into());
    let rw_symbol = Symbol::Name(RW_SYMBOL.into());
    let heap_symbol = Symbol::Name(HEAP_SYMBOL.into());
    if !layout.ro.is_empty() {
        let mut ro = DataObject::read_only(layout.ro.clone()).with_align(8);
        for r in &layout.ro_relocs {
            ro = ro.with_reloc(r.offset, func_symbol(r.func), r.addend);
        }
        linker.add_data(ro_symbol.clone(), ro)?;
        roots.push(ro_symbol.clone());
    }
    let mut rw_bytes = layout.state.clone();
    let mut memory_end = u64::from(layout.rw_start) + rw_bytes.len() as u64;
    if let Some(memory) = &layout.memory {
        rw_bytes.extend_from_slice(&memory.image);
        memory_end = u64::from(memory.base) + u64::from(memory.initial_pages()) * layout::WASM_PAGE;
    }
    let tail = memory_end - u64::from(layout.rw_start) - rw_bytes.len() as u64;
    let mut rw = DataObject::writable(rw_bytes).with_align(8);
    for r in &layout.state_relocs {
        rw = rw.with_reloc(r.offset, func_symbol(r.func), r.addend);
    }
    linker.add_data(rw_symbol.clone(), rw)?;
    roots.push(rw_symbol.clone());
    if tail > 0 {
        let tail = u32::try_from(tail).map_err(|_| WasmError::Layout("the memory".into()))?;
        linker.add_data(heap_symbol.clone(), DataObject::zeroed(tail))?;
        roots.push(heap_symbol.clone());
    }

    let mut exports = Vec::new();
    for &(name, index) in &info.func_exports {
        let ty = info.func_type(index);
        exports.push((name, index, ty.params().to_vec(), ty.returns().to_vec()));
        roots.push(func_symbol(index));
    }
    if let Some(start) = info.start {
        roots.push(func_symbol(start));
    }
    let entry_symbols: Vec<Symbol> = (0..entries.len()).map(entry::entry_symbol).collect();
    let linked = linker.link(&LinkOptions {
        entries: entry_symbols,
        roots: Some(roots),
        stack_size: options.stack_size,
        allow_undefined: false,
    })?;

    // The layout's addresses were fixed before linking: check the linker agrees.
    let internal = |what: &str| WasmError::Link(CompileError::Internal(what.to_string()));
    if !layout.ro.is_empty() && linked.data_address(&ro_symbol) != Some(RO_DATA_START) {
        return Err(internal("read-only image misplaced"));
    }
    if linked.data_address(&rw_symbol) != Some(layout.rw_start) {
        return Err(internal("state image misplaced"));
    }
    let spi = linked
        .program
        .layout()
        .map_err(|_| WasmError::Layout("the program".into()))?;
    if layout.memory.is_some() && u64::from(spi.rw_end) != memory_end {
        return Err(internal(
            "the read/write region does not end with the memory",
        ));
    }

    let exports = exports
        .into_iter()
        .map(|(name, index, params, results)| {
            let symbol = func_symbol(index);
            let pc = linked
                .function_pc(&symbol)
                .ok_or_else(|| internal("export dropped"))?;
            Ok(Export {
                name: name.to_string(),
                symbol,
                pc,
                params,
                results,
            })
        })
        .collect::<Result<Vec<_>, WasmError>>()?;
    let start = info.start.and_then(|s| linked.function_pc(&func_symbol(s)));
    let init = init.and_then(|f| linked.function_pc(&Symbol::of_function(&f)));
    Ok(WasmProgram {
        linked,
        exports,
        init,
        start,
        entries: options.entries.clone(),
        layout,
        stubbed,
        stages,
    })
}
