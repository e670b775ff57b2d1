//! [`PvmModule`]: the backend as a `cranelift_module::Module`, so that any frontend written
//! against `cranelift-module` can produce PVM programs.
//!
//! - Declarations are cranelift-module's own ([`ModuleDeclarations`]).
//! - [`Module::define_function`] runs this backend's pipeline ([`compile_function_code`]) and
//!   keeps the relocatable code; [`Module::define_data`] keeps the data object.
//! - [`PvmModule::finish`] links everything into one program ([`link`]): the roots are the
//!   functions and data objects declared with [`Linkage::Export`], the entry points
//!   ([`PvmModule::set_entry_points`]) and any added with [`PvmModule::add_root`]; what they do
//!   not reach is left out. The [`PvmProduct`] writes the program as a JAM service blob, a
//!   `.polkavm` container exporting the exported functions, or a standard program.
//!
//! Symbols: a function declared as `FuncId(i)` is [`Symbol::User`] `{ namespace: 0, index: i }`
//! and a data object `DataId(i)` is `{ namespace: 1, index: i }`, the names cranelift-module
//! puts into CLIF (`declare_func_in_func`, `declare_data_in_func`, `declare_func_in_data` …).
//!
//! Target: [`Module::isa`] is the 64-bit shape ISA the mid-end runs with ([`isa::shape_isa`]):
//! frontends see riscv64's triple, `i64` pointers, little-endian and its default calling
//! convention; every calling-convention tag means this backend's convention (see [`abi`]).
//! Relocations in data write 8-byte addresses ([`link::DATA_ADDRESS_BYTES`]); a function's
//! address is its jump-table address, which `call_indirect` calls.
//!
//! A JAM entry point (`refine`, `accumulate`, `is_authorized`) is entered with the argument
//! buffer's address in r7 and its length in r8, and its output is the memory `r7 .. r7 + r8`
//! when it returns: a function of signature `(i64, i64) -> (i64, i64)` gets the buffer as its
//! arguments and returns the output's address and length, as [`abi::ARG_REGS`] and
//! [`abi::RETURN_REGS`] start with r7, r8.
//!
//! [`abi`]: crate::abi
//! [`abi::ARG_REGS`]: crate::abi::ARG_REGS
//! [`abi::RETURN_REGS`]: crate::abi::RETURN_REGS

// `ModuleResult` is cranelift-module's own type, whose error is large.
#![allow(clippy::result_large_err)]

use crate::link::{
    self, DataContents, DataObject, DataReloc, LinkOptions, LinkedProgram, Linker, Symbol,
};
use crate::{compile_function_code, isa, CompileError, Options};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir;
use cranelift_codegen::isa::TargetIsa;
use cranelift_codegen::{Context, FinalizedMachReloc};
use cranelift_module::{
    DataDescription, DataId, FuncId, FuncOrDataId, Init, Linkage, Module, ModuleDeclarations,
    ModuleError, ModuleRelocTarget, ModuleResult,
};
use pvm_isa::{PolkavmContainer, ServiceBlob, StandardProgram};
use std::collections::HashSet;
use std::sync::Arc;

/// The symbol of a module's function.
pub fn function_symbol(id: FuncId) -> Symbol {
    Symbol::User {
        namespace: 0,
        index: id.as_u32(),
    }
}

/// The symbol of a module's data object.
pub fn data_symbol(id: DataId) -> Symbol {
    Symbol::User {
        namespace: 1,
        index: id.as_u32(),
    }
}

fn symbol_of(id: FuncOrDataId) -> Symbol {
    match id {
        FuncOrDataId::Func(id) => function_symbol(id),
        FuncOrDataId::Data(id) => data_symbol(id),
    }
}

fn backend(error: CompileError) -> ModuleError {
    ModuleError::Backend(anyhow::Error::new(error))
}

/// A `cranelift_module::Module` that compiles to PVM and links into one program.
pub struct PvmModule {
    options: Options,
    isa: Arc<dyn TargetIsa>,
    declarations: ModuleDeclarations,
    /// Defined functions, in the order defined.
    functions: Vec<(FuncId, link::FunctionCode)>,
    /// Defined data objects, in the order defined.
    data: Vec<(DataId, DataObject)>,
    defined: HashSet<FuncOrDataId>,
    entries: Vec<FuncId>,
    roots: Vec<FuncOrDataId>,
    stack_size: u32,
}

impl PvmModule {
    /// The stack size programs get unless [`PvmModule::set_stack_size`] says otherwise.
    pub const DEFAULT_STACK_SIZE: u32 = 64 * 1024;

    /// An empty module compiling with `options`.
    pub fn new(options: Options) -> Self {
        PvmModule {
            isa: isa::shape_isa(options.optimize),
            options,
            declarations: ModuleDeclarations::default(),
            functions: Vec::new(),
            data: Vec::new(),
            defined: HashSet::new(),
            entries: Vec::new(),
            roots: Vec::new(),
            stack_size: Self::DEFAULT_STACK_SIZE,
        }
    }

    /// Makes `entries[i]` start at pc `5·i` (JAM: `[refine, accumulate]` for a service,
    /// `[is_authorized]` for an authorizer); see [`link`] for the dispatch table.
    pub fn set_entry_points(&mut self, entries: &[FuncId]) {
        self.entries = entries.to_vec();
    }

    /// Sets the program's stack size in bytes.
    pub fn set_stack_size(&mut self, bytes: u32) {
        self.stack_size = bytes;
    }

    /// Keeps `id` (and what it reaches) in the program even if it is not exported.
    pub fn add_root(&mut self, id: FuncOrDataId) {
        self.roots.push(id);
    }

    fn function_name(&self, id: FuncId) -> String {
        self.declarations
            .get_function_decl(id)
            .linkage_name(id)
            .into_owned()
    }

    fn data_name(&self, id: DataId) -> String {
        self.declarations
            .get_data_decl(id)
            .linkage_name(id)
            .into_owned()
    }

    /// Checks that `id`, named `name`, of linkage `linkage`, may be defined now.
    fn check_definable(
        &self,
        id: FuncOrDataId,
        name: String,
        linkage: Linkage,
    ) -> ModuleResult<()> {
        if !linkage.is_definable() {
            return Err(ModuleError::InvalidImportDefinition(name));
        }
        if self.defined.contains(&id) {
            return Err(ModuleError::DuplicateDefinition(name));
        }
        Ok(())
    }

    /// Links every definition into one program (see the module documentation).
    pub fn finish(self) -> ModuleResult<PvmProduct> {
        let mut linker = Linker::with_options(&self.options);
        let mut names = Vec::new();
        let mut roots: Vec<Symbol> = self.roots.iter().map(|&id| symbol_of(id)).collect();
        let mut exports = Vec::new();
        for (id, decl) in self.declarations.get_functions() {
            let symbol = function_symbol(id);
            let name = decl.linkage_name(id).into_owned();
            linker.set_name(symbol.clone(), name.clone());
            if decl.linkage == Linkage::Export {
                roots.push(symbol.clone());
                exports.push((name.clone(), symbol.clone()));
            }
            names.push((name, symbol));
        }
        for (id, decl) in self.declarations.get_data_objects() {
            let symbol = data_symbol(id);
            let name = decl.linkage_name(id).into_owned();
            linker.set_name(symbol.clone(), name.clone());
            if decl.linkage == Linkage::Export {
                roots.push(symbol.clone());
            }
            names.push((name, symbol));
        }
        for (id, code) in &self.functions {
            linker
                .add_function(function_symbol(*id), code)
                .map_err(backend)?;
        }
        for (id, object) in self.data {
            linker.add_data(data_symbol(id), object).map_err(backend)?;
        }
        let options = LinkOptions {
            entries: self.entries.iter().map(|&id| function_symbol(id)).collect(),
            roots: Some(roots),
            stack_size: self.stack_size,
            allow_undefined: false,
        };
        let linked = linker.link(&options).map_err(backend)?;
        Ok(PvmProduct {
            linked,
            names,
            exports,
        })
    }
}

impl Module for PvmModule {
    /// The shape ISA (riscv64's triple; see the module documentation).
    fn isa(&self) -> &dyn TargetIsa {
        &*self.isa
    }

    fn declarations(&self) -> &ModuleDeclarations {
        &self.declarations
    }

    fn declare_function(
        &mut self,
        name: &str,
        linkage: Linkage,
        signature: &ir::Signature,
    ) -> ModuleResult<FuncId> {
        let (id, _) = self
            .declarations
            .declare_function(name, linkage, signature)?;
        Ok(id)
    }

    fn declare_anonymous_function(&mut self, signature: &ir::Signature) -> ModuleResult<FuncId> {
        self.declarations.declare_anonymous_function(signature)
    }

    fn declare_data(
        &mut self,
        name: &str,
        linkage: Linkage,
        writable: bool,
        tls: bool,
    ) -> ModuleResult<DataId> {
        let (id, _) = self
            .declarations
            .declare_data(name, linkage, writable, tls)?;
        Ok(id)
    }

    fn declare_anonymous_data(&mut self, writable: bool, tls: bool) -> ModuleResult<DataId> {
        self.declarations.declare_anonymous_data(writable, tls)
    }

    /// Compiles the function with this backend and keeps its code for [`PvmModule::finish`].
    fn define_function_with_control_plane(
        &mut self,
        func: FuncId,
        ctx: &mut Context,
        _ctrl_plane: &mut ControlPlane,
    ) -> ModuleResult<()> {
        let linkage = self.declarations.get_function_decl(func).linkage;
        self.check_definable(FuncOrDataId::Func(func), self.function_name(func), linkage)?;
        let emitted = compile_function_code(&ctx.func, &self.options).map_err(backend)?;
        self.defined.insert(FuncOrDataId::Func(func));
        self.functions.push((func, emitted.code));
        Ok(())
    }

    /// Refused: PVM code is linked from relocatable items, not from bytes.
    fn define_function_bytes(
        &mut self,
        func: FuncId,
        _definition: &ir::Function,
        _alignment: u64,
        _bytes: &[u8],
        _relocs: &[FinalizedMachReloc],
    ) -> ModuleResult<()> {
        Err(ModuleError::Backend(anyhow::anyhow!(
            "cannot define `{}` from bytes: PVM functions are defined from CLIF",
            self.function_name(func)
        )))
    }

    fn define_data(&mut self, data: DataId, description: &DataDescription) -> ModuleResult<()> {
        let decl = self.declarations.get_data_decl(data);
        let (writable, tls, linkage) = (decl.writable, decl.tls, decl.linkage);
        let name = self.data_name(data);
        self.check_definable(FuncOrDataId::Data(data), name.clone(), linkage)?;
        let refuse = |why: &str| ModuleError::Backend(anyhow::anyhow!("`{name}`: {why}"));
        if tls {
            return Err(refuse("PVM programs have no thread-local data"));
        }
        let contents = match &description.init {
            Init::Uninitialized => return Err(refuse("the data object has no contents")),
            Init::Zeros { size } => match u32::try_from(*size) {
                Ok(size) => DataContents::Zeros(size),
                Err(_) => return Err(refuse("the data object is larger than the address space")),
            },
            Init::Bytes { contents } => DataContents::Bytes(contents.to_vec()),
        };
        let align = match u32::try_from(description.align.unwrap_or(1)) {
            Ok(align) => align,
            Err(_) => return Err(refuse("the alignment is larger than the address space")),
        };
        let mut relocs = Vec::new();
        for reloc in description.all_relocs(Reloc::Abs8) {
            let ModuleRelocTarget::User { namespace, index } = reloc.name else {
                return Err(refuse(&format!(
                    "relocation to {} is not supported",
                    reloc.name
                )));
            };
            relocs.push(DataReloc {
                offset: reloc.offset,
                target: Symbol::User { namespace, index },
                addend: reloc.addend,
            });
        }
        self.defined.insert(FuncOrDataId::Data(data));
        self.data.push((
            data,
            DataObject {
                contents,
                writable,
                align,
                relocs,
            },
        ));
        Ok(())
    }
}

/// A linked module: the program and the names of its functions and data.
#[derive(Clone, Debug)]
pub struct PvmProduct {
    /// The linked program.
    pub linked: LinkedProgram,
    /// Every declared name and its symbol.
    names: Vec<(String, Symbol)>,
    /// The functions declared with [`Linkage::Export`], by name.
    exports: Vec<(String, Symbol)>,
}

impl PvmProduct {
    fn symbol(&self, name: &str) -> Option<&Symbol> {
        self.names
            .iter()
            .find_map(|(n, symbol)| (n == name).then_some(symbol))
    }

    /// The program in the SPI's terms.
    pub fn program(&self) -> &StandardProgram {
        &self.linked.program
    }

    /// The pc of the function named `name`, if it is in the program.
    pub fn function_pc(&self, name: &str) -> Option<u32> {
        self.linked.function_pc(self.symbol(name)?)
    }

    /// The address of the data object named `name`, if it is in the program.
    pub fn data_address(&self, name: &str) -> Option<u32> {
        self.linked.data_address(self.symbol(name)?)
    }

    /// The program as a JAM service (or authorizer) code blob with `metadata`; its entry
    /// points are the ones set with [`PvmModule::set_entry_points`].
    pub fn service_blob(&self, metadata: impl Into<Vec<u8>>) -> ServiceBlob {
        self.linked.service_blob(metadata)
    }

    /// The program as a `.polkavm` container exporting every function declared with
    /// [`Linkage::Export`] under its name.
    pub fn polkavm(&self) -> PolkavmContainer {
        self.linked
            .polkavm(&self.exports)
            .expect("exported functions are roots, so they are kept")
    }
}
