//! Reading a module: cranelift-wasm's [`ModuleEnvironment`] collects what the module declares
//! into a [`ModuleInfo`]; nothing is compiled here.
//!
//! Invariants established for later stages:
//! - every function, table, memory and global is listed in its index space (imports first);
//!   imported tables and memories become the program's own (a PVM program is one instance;
//!   nothing can share them), imported globals get the value the [`ImportMap`] gives;
//! - `canonical_type[t]` is the same number (≥ 1) for structurally equal function types, so
//!   an indirect call compares one word; 0 is reserved for null table entries;
//! - function bodies are kept with their validators and translated only after the whole
//!   module has been read (the data section, which fixes the memory layout, comes after code).

use crate::imports::{ImportMap, ImportTarget};
use cranelift_wasm::wasmparser::{FuncValidator, FunctionBody, ValidatorResources, WasmFeatures};
use cranelift_wasm::{
    ConstExpr, DataIndex, ElemIndex, EngineOrModuleTypeIndex, FuncIndex, Global, GlobalIndex,
    Memory, MemoryIndex, ModuleEnvironment, ModuleInternedTypeIndex, Table, TableIndex,
    TypeConvert, TypeIndex, WasmError, WasmFuncType, WasmHeapType, WasmResult,
};
use std::collections::BTreeMap;

/// The wasm features accepted: wasm 1.0 plus mutable globals, sign extension, non-trapping
/// float-to-int, multi-value, bulk memory, reference types and tail calls.
pub fn features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::REFERENCE_TYPES
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::FLOATS
        | WasmFeatures::GC_TYPES
}

/// A function of the module.
pub(crate) struct FuncDecl<'data> {
    /// Its type.
    pub ty: TypeIndex,
    /// For an import: its module, name and binding.
    pub import: Option<(&'data str, &'data str, ImportTarget)>,
}

/// How a global starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GlobalInit {
    /// These bits (integers and floats alike; a null reference is 0).
    Bits(i64),
    /// A reference to this function.
    FuncRef(FuncIndex),
}

/// A global of the module.
pub(crate) struct GlobalDecl {
    /// Its type and mutability.
    pub ty: Global,
    /// Its initial value.
    pub init: GlobalInit,
}

/// An active element segment.
pub(crate) struct ActiveElems {
    pub table: TableIndex,
    pub base: Option<GlobalIndex>,
    pub offset: u32,
    /// `FuncIndex::reserved_value()` is a null entry.
    pub items: Box<[FuncIndex]>,
}

/// An active data segment.
pub(crate) struct ActiveData<'data> {
    pub base: Option<GlobalIndex>,
    pub offset: u64,
    pub bytes: &'data [u8],
}

/// Everything a module declares.
pub(crate) struct ModuleInfo<'data> {
    imports: &'data ImportMap,
    pub types: Vec<WasmFuncType>,
    pub canonical_type: Vec<u32>,
    pub funcs: Vec<FuncDecl<'data>>,
    pub tables: Vec<Table>,
    pub memories: Vec<Memory>,
    pub globals: Vec<GlobalDecl>,
    /// Exported functions by name, in export order.
    pub func_exports: Vec<(&'data str, FuncIndex)>,
    pub start: Option<FuncIndex>,
    pub active_elems: Vec<ActiveElems>,
    /// Passive element segments by index; every other index is an active or declared
    /// segment, which is dropped once the module is instantiated.
    pub passive_elems: BTreeMap<ElemIndex, Box<[FuncIndex]>>,
    pub elem_segments: u32,
    pub active_data: Vec<ActiveData<'data>>,
    pub passive_data: BTreeMap<DataIndex, &'data [u8]>,
    pub data_segments: u32,
    pub bodies: Vec<(FuncValidator<ValidatorResources>, FunctionBody<'data>)>,
    pub names: BTreeMap<FuncIndex, &'data str>,
    /// The first import the map does not resolve, reported after reading.
    pub unresolved: Option<String>,
}

impl<'data> ModuleInfo<'data> {
    pub fn new(imports: &'data ImportMap) -> Self {
        ModuleInfo {
            imports,
            types: Vec::new(),
            canonical_type: Vec::new(),
            funcs: Vec::new(),
            tables: Vec::new(),
            memories: Vec::new(),
            globals: Vec::new(),
            func_exports: Vec::new(),
            start: None,
            active_elems: Vec::new(),
            passive_elems: BTreeMap::new(),
            elem_segments: 0,
            active_data: Vec::new(),
            passive_data: BTreeMap::new(),
            data_segments: 0,
            bodies: Vec::new(),
            names: BTreeMap::new(),
            unresolved: None,
        }
    }

    /// The number of imported functions (they come first in the index space).
    pub fn imported_funcs(&self) -> usize {
        self.funcs.iter().take_while(|f| f.import.is_some()).count()
    }

    /// The type of function `index`.
    pub fn func_type(&self, index: FuncIndex) -> &WasmFuncType {
        &self.types[self.funcs[index.as_u32() as usize].ty.as_u32() as usize]
    }

    /// The canonical id of function `index`'s type.
    pub fn func_type_id(&self, index: FuncIndex) -> u32 {
        self.canonical_type[self.funcs[index.as_u32() as usize].ty.as_u32() as usize]
    }

    /// A readable name of function `index`: its name-section name, else `func[N]`.
    pub fn func_name(&self, index: FuncIndex) -> String {
        match self.names.get(&index) {
            Some(name) => format!("{name} (func[{}])", index.as_u32()),
            None => format!("func[{}]", index.as_u32()),
        }
    }

    fn unresolved(&mut self, module: &str, field: &str, what: &str) {
        self.unresolved.get_or_insert_with(|| {
            format!("unresolved import `{module}.{field}` ({what}): map it with --imports")
        });
    }

    /// Evaluates a constant expression; `None` for one we cannot evaluate.
    pub fn eval(&self, expr: &ConstExpr) -> Option<GlobalInit> {
        use cranelift_wasm::ConstOp;
        let mut stack: Vec<GlobalInit> = Vec::new();
        for op in expr.ops() {
            let value = match *op {
                ConstOp::I32Const(v) => GlobalInit::Bits(i64::from(v)),
                ConstOp::I64Const(v) => GlobalInit::Bits(v),
                ConstOp::F32Const(v) => GlobalInit::Bits(i64::from(v)),
                ConstOp::F64Const(v) => GlobalInit::Bits(v as i64),
                ConstOp::RefNull => GlobalInit::Bits(0),
                ConstOp::RefFunc(f) => GlobalInit::FuncRef(f),
                ConstOp::GlobalGet(g) => self.globals.get(g.as_u32() as usize)?.init,
                ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                    let (GlobalInit::Bits(b), GlobalInit::Bits(a)) = (stack.pop()?, stack.pop()?)
                    else {
                        return None;
                    };
                    let (a, b) = (a as i32, b as i32);
                    let r = match op {
                        ConstOp::I32Add => a.wrapping_add(b),
                        ConstOp::I32Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    };
                    GlobalInit::Bits(i64::from(r))
                }
                ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                    let (GlobalInit::Bits(b), GlobalInit::Bits(a)) = (stack.pop()?, stack.pop()?)
                    else {
                        return None;
                    };
                    GlobalInit::Bits(match op {
                        ConstOp::I64Add => a.wrapping_add(b),
                        ConstOp::I64Sub => a.wrapping_sub(b),
                        _ => a.wrapping_mul(b),
                    })
                }
                ConstOp::V128Const(_) | ConstOp::RefI31 => return None,
            };
            stack.push(value);
        }
        stack.pop()
    }

    /// The value of an offset expression `base + offset` of a segment.
    pub fn segment_offset(&self, base: Option<GlobalIndex>, offset: u64) -> Option<u64> {
        match base {
            None => Some(offset),
            Some(g) => match self.globals.get(g.as_u32() as usize)?.init {
                // i32 offsets are unsigned.
                GlobalInit::Bits(v) => Some(u64::from(v as u32).wrapping_add(offset)),
                GlobalInit::FuncRef(_) => None,
            },
        }
    }
}

impl TypeConvert for ModuleInfo<'_> {
    fn lookup_heap_type(&self, index: cranelift_wasm::wasmparser::UnpackedIndex) -> WasmHeapType {
        WasmHeapType::ConcreteFunc(self.lookup_type_index(index))
    }

    fn lookup_type_index(
        &self,
        index: cranelift_wasm::wasmparser::UnpackedIndex,
    ) -> EngineOrModuleTypeIndex {
        let index = index.as_module_index().unwrap_or(0);
        EngineOrModuleTypeIndex::Module(ModuleInternedTypeIndex::from_u32(index))
    }
}

impl<'data> ModuleEnvironment<'data> for ModuleInfo<'data> {
    fn declare_type_func(&mut self, ty: WasmFuncType) -> WasmResult<()> {
        let canonical = match self.types.iter().position(|t| *t == ty) {
            Some(first) => self.canonical_type[first],
            None => self.types.len() as u32 + 1,
        };
        self.types.push(ty);
        self.canonical_type.push(canonical);
        Ok(())
    }

    fn type_to_signature(&self, index: TypeIndex) -> WasmResult<ModuleInternedTypeIndex> {
        Ok(ModuleInternedTypeIndex::from_u32(index.as_u32()))
    }

    fn declare_func_import(
        &mut self,
        ty: TypeIndex,
        module: &'data str,
        field: &'data str,
    ) -> WasmResult<()> {
        let target = match self.imports.get(module, field) {
            Some(target @ (ImportTarget::HostCall(_) | ImportTarget::Trap)) => target,
            _ => {
                self.unresolved(module, field, "function");
                ImportTarget::Trap
            }
        };
        self.funcs.push(FuncDecl {
            ty,
            import: Some((module, field, target)),
        });
        Ok(())
    }

    fn declare_table_import(
        &mut self,
        table: Table,
        _module: &'data str,
        _field: &'data str,
    ) -> WasmResult<()> {
        self.tables.push(table);
        Ok(())
    }

    fn declare_memory_import(
        &mut self,
        memory: Memory,
        _module: &'data str,
        _field: &'data str,
    ) -> WasmResult<()> {
        self.declare_memory(memory)
    }

    fn declare_global_import(
        &mut self,
        ty: Global,
        module: &'data str,
        field: &'data str,
    ) -> WasmResult<()> {
        let value = match self.imports.get(module, field) {
            Some(ImportTarget::Const(value)) => value,
            _ => {
                self.unresolved(module, field, "global");
                0
            }
        };
        self.globals.push(GlobalDecl {
            ty,
            init: GlobalInit::Bits(value),
        });
        Ok(())
    }

    fn declare_func_type(&mut self, ty: TypeIndex) -> WasmResult<()> {
        self.funcs.push(FuncDecl { ty, import: None });
        Ok(())
    }

    fn declare_table(&mut self, table: Table) -> WasmResult<()> {
        self.tables.push(table);
        Ok(())
    }

    fn declare_memory(&mut self, memory: Memory) -> WasmResult<()> {
        if memory.shared || memory.memory64 || memory.page_size_log2 != 16 {
            return Err(WasmError::Unsupported(
                "shared, 64-bit and custom-page-size memories".to_string(),
            ));
        }
        if !self.memories.is_empty() {
            return Err(WasmError::Unsupported("more than one memory".to_string()));
        }
        self.memories.push(memory);
        Ok(())
    }

    fn declare_global(&mut self, ty: Global, init: ConstExpr) -> WasmResult<()> {
        let init = self.eval(&init).ok_or_else(|| {
            WasmError::Unsupported(format!("the initializer of global {}", self.globals.len()))
        })?;
        self.globals.push(GlobalDecl { ty, init });
        Ok(())
    }

    fn declare_func_export(&mut self, index: FuncIndex, name: &'data str) -> WasmResult<()> {
        self.func_exports.push((name, index));
        Ok(())
    }

    fn declare_table_export(&mut self, _: TableIndex, _: &'data str) -> WasmResult<()> {
        Ok(())
    }

    fn declare_memory_export(&mut self, _: MemoryIndex, _: &'data str) -> WasmResult<()> {
        Ok(())
    }

    fn declare_global_export(&mut self, _: GlobalIndex, _: &'data str) -> WasmResult<()> {
        Ok(())
    }

    fn declare_start_func(&mut self, index: FuncIndex) -> WasmResult<()> {
        self.start = Some(index);
        Ok(())
    }

    fn reserve_table_elements(&mut self, num: u32) -> WasmResult<()> {
        self.elem_segments = num;
        Ok(())
    }

    fn declare_table_elements(
        &mut self,
        table: TableIndex,
        base: Option<GlobalIndex>,
        offset: u32,
        items: Box<[FuncIndex]>,
    ) -> WasmResult<()> {
        self.active_elems.push(ActiveElems {
            table,
            base,
            offset,
            items,
        });
        Ok(())
    }

    fn declare_passive_element(
        &mut self,
        index: ElemIndex,
        items: Box<[FuncIndex]>,
    ) -> WasmResult<()> {
        self.passive_elems.insert(index, items);
        Ok(())
    }

    fn reserve_data_initializers(&mut self, num: u32) -> WasmResult<()> {
        self.data_segments = num;
        Ok(())
    }

    fn declare_passive_data(&mut self, index: DataIndex, bytes: &'data [u8]) -> WasmResult<()> {
        self.passive_data.insert(index, bytes);
        Ok(())
    }

    fn define_function_body(
        &mut self,
        validator: FuncValidator<ValidatorResources>,
        body: FunctionBody<'data>,
    ) -> WasmResult<()> {
        self.bodies.push((validator, body));
        Ok(())
    }

    fn declare_data_initialization(
        &mut self,
        _memory: MemoryIndex,
        base: Option<GlobalIndex>,
        offset: u64,
        bytes: &'data [u8],
    ) -> WasmResult<()> {
        // One memory at most (`declare_memory`), so every segment is for memory 0. It is a
        // 32-bit memory, so the offset is an unsigned `i32`: cranelift-wasm sign-extends
        // `i32.const` offsets to 64 bits.
        self.active_data.push(ActiveData {
            base,
            offset: u64::from(offset as u32),
            bytes,
        });
        Ok(())
    }

    fn declare_func_name(&mut self, index: FuncIndex, name: &'data str) {
        self.names.insert(index, name);
    }

    /// cranelift-wasm 0.112 hands the name section over unparsed: read the function names
    /// (for messages and `--emit`). A malformed name section is ignored, as the spec says of
    /// custom sections.
    fn custom_section(&mut self, name: &'data str, data: &'data [u8]) -> WasmResult<()> {
        use cranelift_wasm::wasmparser::{BinaryReader, Name, NameSectionReader};
        if name != "name" {
            return Ok(());
        }
        for subsection in NameSectionReader::new(BinaryReader::new(data, 0)) {
            let Ok(Name::Function(map)) = subsection else {
                continue;
            };
            for naming in map.into_iter().flatten() {
                self.declare_func_name(FuncIndex::from_u32(naming.index), naming.name);
            }
        }
        Ok(())
    }

    fn wasm_features(&self) -> WasmFeatures {
        features()
    }
}
