//! Translating one function: cranelift-wasm's [`FuncEnvironment`] for PVM.
//!
//! Every piece of module state is at a constant address ([`crate::layout`]), so globals,
//! table entries and memory sizes are loads and stores with constant addresses, and the
//! linear memory's base is a constant (the heap base global value is rewritten to an
//! `iconst` after translation, see [`FuncEnv::finish`]) that the mid-end folds into each
//! access's immediate. Operations with loops (`memory.copy` …) call runtime helpers
//! ([`crate::runtime`]) that the program gets only when it uses them.
//!
//! Relied on: narrow integers are kept sign-extended by the backend, so an `i32` index is
//! zero-extended explicitly (`uextend`) before it is compared with a bound or scaled.

use crate::layout::{Layout, SegmentLayout, WASM_PAGE, WORD};
use crate::module_env::{GlobalInit, ModuleInfo};
use crate::runtime::Helper;
use crate::{BoundsChecks, FUNC_NAMESPACE};
use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    self, types, AbiParam, ExternalName, Function, GlobalValue, GlobalValueData, InstBuilder,
    MemFlags, Signature, TrapCode, Type, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_entity::PrimaryMap;
use cranelift_frontend::FunctionBuilder;
use cranelift_wasm::{
    FuncEnvironment, FuncIndex, GlobalIndex, GlobalVariable, Heap, HeapData, HeapStyle,
    MemoryIndex, TableIndex, TargetEnvironment, TypeConvert, TypeIndex, WasmError, WasmFuncType,
    WasmHeapType, WasmResult, WasmValType,
};
use pvm_backend::abi::HOST_CALL_NAMESPACE;
use std::collections::BTreeSet;

/// The CLIF type of a wasm value type (references are 64-bit words).
pub(crate) fn clif_type(ty: &WasmValType) -> WasmResult<Type> {
    Ok(match ty {
        WasmValType::I32 => types::I32,
        WasmValType::I64 => types::I64,
        WasmValType::F32 => types::F32,
        WasmValType::F64 => types::F64,
        WasmValType::Ref(_) => types::I64,
        WasmValType::V128 => return Err(WasmError::Unsupported("v128".into())),
    })
}

/// The CLIF signature of a wasm function type.
pub(crate) fn signature(ty: &WasmFuncType) -> WasmResult<Signature> {
    let mut sig = Signature::new(CallConv::Tail);
    for p in ty.params() {
        sig.params.push(AbiParam::new(clif_type(p)?));
    }
    for r in ty.returns() {
        sig.returns.push(AbiParam::new(clif_type(r)?));
    }
    Ok(sig)
}

/// The frontend configuration: 64-bit pointers, 4 KiB pages.
pub(crate) fn frontend_config() -> TargetFrontendConfig {
    TargetFrontendConfig {
        default_call_conv: CallConv::Tail,
        pointer_width: target_lexicon::PointerWidth::U64,
        page_size_align_log2: 12,
    }
}

/// Trusted flags for the compiler's own state (globals, tables, sizes).
fn state_flags() -> MemFlags {
    MemFlags::trusted()
}

/// The environment for one function.
pub(crate) struct FuncEnv<'a, 'data> {
    pub info: &'a ModuleInfo<'data>,
    pub layout: &'a Layout,
    pub bounds_checks: BoundsChecks,
    heaps: PrimaryMap<Heap, HeapData>,
    heap_base: Option<GlobalValue>,
    heap_bound: Option<GlobalValue>,
    /// The runtime helpers this module calls.
    pub helpers: &'a mut BTreeSet<Helper>,
}

impl<'a, 'data> FuncEnv<'a, 'data> {
    pub fn new(
        info: &'a ModuleInfo<'data>,
        layout: &'a Layout,
        bounds_checks: BoundsChecks,
        helpers: &'a mut BTreeSet<Helper>,
    ) -> Self {
        FuncEnv {
            info,
            layout,
            bounds_checks,
            heaps: PrimaryMap::new(),
            heap_base: None,
            heap_bound: None,
            helpers,
        }
    }

    /// Rewrites the heap's base global value into a constant and its bound (of a reserved
    /// memory) into a load from the state area (see the module docs); with
    /// `fold_index_extension`, drops the zero extension of memory indices where the bounds
    /// check makes it redundant ([`fold_index_extensions`]).
    pub fn finish(&self, func: &mut Function, fold_index_extension: bool) {
        let Some(memory) = &self.layout.memory else {
            return;
        };
        // Without checks only address uses remain, where both extensions give the same 32-bit
        // address (PVM addresses wrap at 2^32).
        let checked_below_2_31 = !memory.reserved && memory.bound() < 1 << 31;
        if fold_index_extension && (self.bounds_checks == BoundsChecks::None || checked_below_2_31)
        {
            fold_index_extensions(func);
        }
        let mut cursor = FuncCursor::new(func);
        while cursor.next_block().is_some() {
            while let Some(inst) = cursor.next_inst() {
                let ir::InstructionData::UnaryGlobalValue {
                    opcode: ir::Opcode::GlobalValue,
                    global_value,
                } = cursor.func.dfg.insts[inst]
                else {
                    continue;
                };
                if Some(global_value) == self.heap_base {
                    cursor
                        .func
                        .dfg
                        .replace(inst)
                        .iconst(types::I64, i64::from(memory.base));
                } else if Some(global_value) == self.heap_bound {
                    let addr = cursor
                        .ins()
                        .iconst(types::I64, i64::from(memory.bytes_addr));
                    cursor
                        .func
                        .dfg
                        .replace(inst)
                        .load(types::I64, state_flags(), addr, 0);
                }
            }
        }
    }

    fn memory(&self) -> WasmResult<&crate::layout::MemoryLayout> {
        self.layout
            .memory
            .as_ref()
            .ok_or_else(|| WasmError::Unsupported("a memory instruction without a memory".into()))
    }

    /// The memory's size in bytes as an `i64`.
    fn memory_bytes(&self, pos: &mut FuncCursor) -> WasmResult<Value> {
        let memory = self.memory()?;
        Ok(if memory.growable {
            let addr = pos.ins().iconst(types::I64, i64::from(memory.bytes_addr));
            pos.ins().load(types::I64, state_flags(), addr, 0)
        } else {
            pos.ins()
                .iconst(types::I64, i64::from(memory.min_pages) * WASM_PAGE as i64)
        })
    }

    /// A table's current size as an `i64`.
    fn table_size(&self, pos: &mut FuncCursor, table: TableIndex) -> Value {
        let table = &self.layout.tables[table.as_u32() as usize];
        if table.growable {
            let addr = pos.ins().iconst(types::I64, i64::from(table.size_addr));
            pos.ins().load(types::I64, state_flags(), addr, 0)
        } else {
            pos.ins().iconst(types::I64, i64::from(table.min))
        }
    }

    /// The address of `table`'s entry 0, as an `i64`.
    fn table_base(&self, pos: &mut FuncCursor, table: TableIndex) -> Value {
        let base = self.layout.tables[table.as_u32() as usize].base;
        pos.ins().iconst(types::I64, i64::from(base))
    }

    /// A passive segment's address and current length (0 once dropped), as `i64`s.
    fn segment(pos: &mut FuncCursor, segment: SegmentLayout) -> (Value, Value) {
        let addr = pos.ins().iconst(types::I64, i64::from(segment.addr));
        let len_addr = pos.ins().iconst(types::I64, i64::from(segment.len_addr));
        (addr, pos.ins().load(types::I64, state_flags(), len_addr, 0))
    }

    /// `data.drop` / `elem.drop`: the segment's length becomes 0.
    fn drop_segment(pos: &mut FuncCursor, segment: SegmentLayout) {
        let len_addr = pos.ins().iconst(types::I64, i64::from(segment.len_addr));
        let zero = pos.ins().iconst(types::I64, 0);
        pos.ins().store(state_flags(), zero, len_addr, 0);
    }

    /// The address of entry `index` (an `i32`) of `table`, trapping when it is out of bounds.
    fn table_entry(&self, pos: &mut FuncCursor, table: TableIndex, index: Value) -> Value {
        let size = self.table_size(pos, table);
        let index = pos.ins().uextend(types::I64, index);
        let oob = pos
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, size);
        pos.ins().trapnz(oob, TrapCode::TableOutOfBounds);
        let offset = pos.ins().imul_imm(index, i64::from(WORD));
        let base = self.layout.tables[table.as_u32() as usize].base;
        pos.ins().iadd_imm(offset, i64::from(base))
    }

    /// Imports (declares) helper `helper` in `func` and records that the program needs it.
    fn helper(&mut self, func: &mut Function, helper: Helper) -> ir::FuncRef {
        self.helpers.insert(helper);
        helper.import(func)
    }

    /// Calls helper `helper` with `args` at `pos`; its results.
    fn call_helper(&mut self, pos: &mut FuncCursor, helper: Helper, args: &[Value]) -> Vec<Value> {
        let callee = self.helper(pos.func, helper);
        let call = pos.ins().call(callee, args);
        pos.func.dfg.inst_results(call).to_vec()
    }

    /// Calls memory helper `helper` with three `i32` operands (zero-extended) and the
    /// memory's size in bytes.
    fn memory_helper(
        &mut self,
        mut pos: FuncCursor,
        helper: Helper,
        operands: [Value; 3],
    ) -> WasmResult<()> {
        let size = self.memory_bytes(&mut pos)?;
        let [a, b, c] = operands.map(|v| Self::u64_arg(&mut pos, v));
        self.call_helper(&mut pos, helper, &[a, b, c, size]);
        Ok(())
    }

    fn u64_arg(pos: &mut FuncCursor, value: Value) -> Value {
        if pos.func.dfg.value_type(value) == types::I64 {
            value
        } else {
            pos.ins().uextend(types::I64, value)
        }
    }

    /// Checks a `call_indirect` target and returns its jump-table address.
    fn indirect_target(
        &mut self,
        builder: &mut FunctionBuilder,
        table: TableIndex,
        ty: TypeIndex,
        callee: Value,
    ) -> Value {
        let mut pos = builder.cursor();
        let entry = self.table_entry(&mut pos, table, callee);
        let id = pos.ins().uload32(state_flags(), entry, 4);
        let expected = self.info.canonical_type[ty.as_u32() as usize];
        let wrong = pos.ins().icmp_imm(IntCC::NotEqual, id, i64::from(expected));
        pos.ins().trapnz(wrong, TrapCode::BadSignature);
        pos.ins().uload32(state_flags(), entry, 0)
    }
}

/// Replaces `uextend.i64 x` of an `i32` memory index by `sextend.i64 x`, which costs nothing
/// (the backend keeps `i32`s sign-extended), where every use of the extension is
/// - a bounds check `icmp ugt ext, k` with `0 <= k < 2^31`: an index of 2^31 or more is huge
///   either way, so the compare decides the same; or
/// - an address `ext + …` (through `iadd`s) that only loads and stores use: they run only after
///   the check passed, so `x < 2^31` there and both extensions are equal.
///
/// Relied on: cranelift-wasm emits the check before the access in the same block, and the
/// mid-end does not move loads or stores across the `trapnz`.
pub(crate) fn fold_index_extensions(func: &mut Function) {
    use std::collections::HashMap;
    let mut uses: HashMap<Value, Vec<ir::Inst>> = HashMap::new();
    let mut extensions = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            // Block arguments are uses too: an extension passed to a successor escapes.
            for arg in func.dfg.inst_values(inst) {
                uses.entry(arg).or_default().push(inst);
            }
            if func.dfg.insts[inst].opcode() == ir::Opcode::Uextend {
                let arg = func.dfg.inst_args(inst)[0];
                if func.dfg.value_type(arg) == types::I32
                    && func.dfg.ctrl_typevar(inst) == types::I64
                {
                    extensions.push(inst);
                }
            }
        }
    }
    let small_constant = |func: &Function, v: Value| match func.dfg.value_def(v).inst() {
        Some(def) => matches!(
            func.dfg.insts[def],
            ir::InstructionData::UnaryImm { opcode: ir::Opcode::Iconst, imm }
                if (0..1 << 31).contains(&imm.bits())
        ),
        None => false,
    };
    // Whether every use of `v` is a load or store address, or an `iadd` whose result is.
    fn only_addresses(
        func: &Function,
        uses: &HashMap<Value, Vec<ir::Inst>>,
        v: Value,
        depth: u32,
    ) -> bool {
        uses.get(&v).is_none_or(|users| {
            users.iter().all(|&user| {
                let data = &func.dfg.insts[user];
                let args = func.dfg.inst_args(user);
                match data.opcode() {
                    op if op.can_load() && !op.can_store() => {
                        args.first() == Some(&v) && args.len() == 1
                    }
                    op if op.can_store() && !op.can_load() => {
                        args.len() == 2 && args[1] == v && args[0] != v
                    }
                    ir::Opcode::Iadd if depth < 4 => {
                        let result = func.dfg.first_result(user);
                        only_addresses(func, uses, result, depth + 1)
                    }
                    _ => false,
                }
            })
        })
    }
    for inst in extensions {
        let ext = func.dfg.first_result(inst);
        let fine = uses.get(&ext).is_none_or(|users| {
            users.iter().all(|&user| {
                let args = func.dfg.inst_args(user);
                match func.dfg.insts[user] {
                    ir::InstructionData::IntCompare {
                        cond: IntCC::UnsignedGreaterThan,
                        ..
                    } => args[0] == ext && small_constant(func, args[1]),
                    _ if func.dfg.insts[user].opcode() == ir::Opcode::Iadd => {
                        only_addresses(func, &uses, func.dfg.first_result(user), 0)
                    }
                    _ => false,
                }
            })
        });
        if fine {
            let x = func.dfg.inst_args(inst)[0];
            func.dfg.replace(inst).sextend(types::I64, x);
        }
    }
}

impl TypeConvert for FuncEnv<'_, '_> {
    fn lookup_heap_type(&self, index: cranelift_wasm::wasmparser::UnpackedIndex) -> WasmHeapType {
        self.info.lookup_heap_type(index)
    }

    fn lookup_type_index(
        &self,
        index: cranelift_wasm::wasmparser::UnpackedIndex,
    ) -> cranelift_wasm::EngineOrModuleTypeIndex {
        self.info.lookup_type_index(index)
    }
}

impl TargetEnvironment for FuncEnv<'_, '_> {
    fn target_config(&self) -> TargetFrontendConfig {
        frontend_config()
    }

    fn heap_access_spectre_mitigation(&self) -> bool {
        false
    }

    fn proof_carrying_code(&self) -> bool {
        false
    }

    fn reference_type(&self, _ty: WasmHeapType) -> (Type, bool) {
        (types::I64, false)
    }
}

fn unsupported<T>(what: &str) -> WasmResult<T> {
    Err(WasmError::Unsupported(what.to_string()))
}

impl FuncEnvironment for FuncEnv<'_, '_> {
    fn param_needs_stack_map(&self, _: &Signature, _: usize) -> bool {
        false
    }

    fn sig_ref_result_needs_stack_map(&self, _: ir::SigRef, _: usize) -> bool {
        false
    }

    fn func_ref_result_needs_stack_map(&self, _: &Function, _: ir::FuncRef, _: usize) -> bool {
        false
    }

    fn make_global(&mut self, _: &mut Function, _: GlobalIndex) -> WasmResult<GlobalVariable> {
        Ok(GlobalVariable::Custom)
    }

    fn heaps(&self) -> &PrimaryMap<Heap, HeapData> {
        &self.heaps
    }

    fn make_heap(&mut self, func: &mut Function, _index: MemoryIndex) -> WasmResult<Heap> {
        let memory = self.memory()?.clone();
        // A placeholder symbol, rewritten to the base address by `finish`.
        let base = func.create_global_value(GlobalValueData::Symbol {
            name: ExternalName::testcase("wasm_memory_base"),
            offset: 0.into(),
            colocated: true,
            tls: false,
        });
        self.heap_base = Some(base);
        let (bound, guard) = match self.bounds_checks {
            BoundsChecks::Explicit => (memory.bound(), 0),
            // A bound and guard that cover every 32-bit index: cranelift-wasm omits checks.
            BoundsChecks::None => (1 << 32, 1 << 32),
        };
        let style = if memory.reserved && self.bounds_checks == BoundsChecks::Explicit {
            // A placeholder, rewritten to a load of the current size by `finish`.
            let bound_gv = func.create_global_value(GlobalValueData::Symbol {
                name: ExternalName::testcase("wasm_memory_bytes"),
                offset: 0.into(),
                colocated: true,
                tls: false,
            });
            self.heap_bound = Some(bound_gv);
            HeapStyle::Dynamic { bound_gv }
        } else {
            HeapStyle::Static { bound }
        };
        Ok(self.heaps.push(HeapData {
            base,
            min_size: u64::from(memory.min_pages) * WASM_PAGE,
            max_size: Some(u64::from(memory.max_pages) * WASM_PAGE),
            offset_guard_size: guard,
            style,
            index_type: types::I32,
            memory_type: None,
            page_size_log2: 16,
        }))
    }

    fn make_indirect_sig(
        &mut self,
        func: &mut Function,
        index: TypeIndex,
    ) -> WasmResult<ir::SigRef> {
        let sig = signature(&self.info.types[index.as_u32() as usize])?;
        Ok(func.import_signature(sig))
    }

    fn make_direct_func(
        &mut self,
        func: &mut Function,
        index: FuncIndex,
    ) -> WasmResult<ir::FuncRef> {
        let decl = &self.info.funcs[index.as_u32() as usize];
        let sig = signature(&self.info.types[decl.ty.as_u32() as usize])?;
        let (namespace, target) = match decl.import {
            Some((_, _, crate::ImportTarget::HostCall(n))) => (HOST_CALL_NAMESPACE, n),
            _ => (FUNC_NAMESPACE, index.as_u32()),
        };
        Ok(crate::import_user(func, namespace, target, sig))
    }

    fn translate_call_indirect(
        &mut self,
        builder: &mut FunctionBuilder,
        table: TableIndex,
        ty: TypeIndex,
        sig_ref: ir::SigRef,
        callee: Value,
        args: &[Value],
    ) -> WasmResult<Option<ir::Inst>> {
        let target = self.indirect_target(builder, table, ty, callee);
        Ok(Some(builder.ins().call_indirect(sig_ref, target, args)))
    }

    fn translate_return_call(
        &mut self,
        builder: &mut FunctionBuilder,
        index: FuncIndex,
        callee: ir::FuncRef,
        args: &[Value],
    ) -> WasmResult<()> {
        // A host call is an instruction, not a function: call it and return its results.
        if matches!(
            self.info.funcs[index.as_u32() as usize].import,
            Some((_, _, crate::ImportTarget::HostCall(_)))
        ) {
            let call = builder.ins().call(callee, args);
            let results = builder.func.dfg.inst_results(call).to_vec();
            builder.ins().return_(&results);
        } else {
            builder.ins().return_call(callee, args);
        }
        Ok(())
    }

    fn translate_return_call_indirect(
        &mut self,
        builder: &mut FunctionBuilder,
        table: TableIndex,
        ty: TypeIndex,
        sig_ref: ir::SigRef,
        callee: Value,
        args: &[Value],
    ) -> WasmResult<()> {
        let target = self.indirect_target(builder, table, ty, callee);
        builder.ins().return_call_indirect(sig_ref, target, args);
        Ok(())
    }

    fn translate_return_call_ref(
        &mut self,
        _: &mut FunctionBuilder,
        _: ir::SigRef,
        _: Value,
        _: &[Value],
    ) -> WasmResult<()> {
        unsupported("return_call_ref (typed function references)")
    }

    fn translate_call_ref(
        &mut self,
        _: &mut FunctionBuilder,
        _: ir::SigRef,
        _: Value,
        _: &[Value],
    ) -> WasmResult<ir::Inst> {
        unsupported("call_ref (typed function references)")
    }

    fn translate_memory_grow(
        &mut self,
        mut pos: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        delta: Value,
    ) -> WasmResult<Value> {
        self.memory()?;
        let delta = Self::u64_arg(&mut pos, delta);
        Ok(self.call_helper(&mut pos, Helper::MemoryGrow, &[delta])[0])
    }

    fn translate_memory_size(
        &mut self,
        mut pos: FuncCursor,
        _: MemoryIndex,
        _: Heap,
    ) -> WasmResult<Value> {
        let memory = self.memory()?;
        Ok(if memory.growable {
            let addr = pos.ins().iconst(types::I64, i64::from(memory.pages_addr));
            pos.ins().load(types::I32, state_flags(), addr, 0)
        } else {
            pos.ins().iconst(types::I32, i64::from(memory.min_pages))
        })
    }

    fn translate_memory_copy(
        &mut self,
        pos: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        _: MemoryIndex,
        _: Heap,
        dst: Value,
        src: Value,
        len: Value,
    ) -> WasmResult<()> {
        self.memory_helper(pos, Helper::MemoryCopy, [dst, src, len])
    }

    fn translate_memory_fill(
        &mut self,
        pos: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        dst: Value,
        val: Value,
        len: Value,
    ) -> WasmResult<()> {
        self.memory_helper(pos, Helper::MemoryFill, [dst, val, len])
    }

    fn translate_memory_init(
        &mut self,
        mut pos: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        seg: u32,
        dst: Value,
        src: Value,
        len: Value,
    ) -> WasmResult<()> {
        let size = self.memory_bytes(&mut pos)?;
        let segment = self.layout.data[seg as usize];
        let (seg_addr, seg_len) = Self::segment(&mut pos, segment);
        let args = [dst, src, len].map(|v| Self::u64_arg(&mut pos, v));
        self.call_helper(
            &mut pos,
            Helper::MemoryInit,
            &[args[0], args[1], args[2], size, seg_addr, seg_len],
        );
        Ok(())
    }

    fn translate_data_drop(&mut self, mut pos: FuncCursor, seg: u32) -> WasmResult<()> {
        Self::drop_segment(&mut pos, self.layout.data[seg as usize]);
        Ok(())
    }

    fn translate_table_size(
        &mut self,
        mut pos: FuncCursor,
        table: TableIndex,
    ) -> WasmResult<Value> {
        let size = self.table_size(&mut pos, table);
        Ok(pos.ins().ireduce(types::I32, size))
    }

    fn translate_table_grow(
        &mut self,
        mut pos: FuncCursor,
        table: TableIndex,
        delta: Value,
        init: Value,
    ) -> WasmResult<Value> {
        let layout = &self.layout.tables[table.as_u32() as usize];
        let consts = [
            i64::from(layout.base),
            i64::from(layout.size_addr),
            i64::from(layout.capacity),
        ]
        .map(|c| pos.ins().iconst(types::I64, c));
        let delta = Self::u64_arg(&mut pos, delta);
        Ok(self.call_helper(
            &mut pos,
            Helper::TableGrow,
            &[consts[0], consts[1], consts[2], init, delta],
        )[0])
    }

    fn translate_table_get(
        &mut self,
        builder: &mut FunctionBuilder,
        table: TableIndex,
        index: Value,
    ) -> WasmResult<Value> {
        let mut pos = builder.cursor();
        let entry = self.table_entry(&mut pos, table, index);
        Ok(pos.ins().load(types::I64, state_flags(), entry, 0))
    }

    fn translate_table_set(
        &mut self,
        builder: &mut FunctionBuilder,
        table: TableIndex,
        value: Value,
        index: Value,
    ) -> WasmResult<()> {
        let mut pos = builder.cursor();
        let entry = self.table_entry(&mut pos, table, index);
        pos.ins().store(state_flags(), value, entry, 0);
        Ok(())
    }

    fn translate_table_copy(
        &mut self,
        mut pos: FuncCursor,
        dst_table: TableIndex,
        src_table: TableIndex,
        dst: Value,
        src: Value,
        len: Value,
    ) -> WasmResult<()> {
        let dst_size = self.table_size(&mut pos, dst_table);
        let src_size = self.table_size(&mut pos, src_table);
        let bases = [dst_table, src_table].map(|t| self.table_base(&mut pos, t));
        let args = [dst, src, len].map(|v| Self::u64_arg(&mut pos, v));
        self.call_helper(
            &mut pos,
            Helper::TableCopy,
            &[
                bases[0], dst_size, bases[1], src_size, args[0], args[1], args[2],
            ],
        );
        Ok(())
    }

    fn translate_table_fill(
        &mut self,
        mut pos: FuncCursor,
        table: TableIndex,
        dst: Value,
        val: Value,
        len: Value,
    ) -> WasmResult<()> {
        let size = self.table_size(&mut pos, table);
        let base = self.table_base(&mut pos, table);
        let dst = Self::u64_arg(&mut pos, dst);
        let len = Self::u64_arg(&mut pos, len);
        self.call_helper(&mut pos, Helper::TableFill, &[base, size, dst, val, len]);
        Ok(())
    }

    fn translate_table_init(
        &mut self,
        mut pos: FuncCursor,
        seg: u32,
        table: TableIndex,
        dst: Value,
        src: Value,
        len: Value,
    ) -> WasmResult<()> {
        let size = self.table_size(&mut pos, table);
        let base = self.table_base(&mut pos, table);
        let segment = self.layout.elems[seg as usize];
        let (seg_addr, seg_len) = Self::segment(&mut pos, segment);
        let args = [dst, src, len].map(|v| Self::u64_arg(&mut pos, v));
        self.call_helper(
            &mut pos,
            Helper::TableInit,
            &[base, size, seg_addr, seg_len, args[0], args[1], args[2]],
        );
        Ok(())
    }

    fn translate_elem_drop(&mut self, mut pos: FuncCursor, seg: u32) -> WasmResult<()> {
        Self::drop_segment(&mut pos, self.layout.elems[seg as usize]);
        Ok(())
    }

    fn translate_ref_null(&mut self, mut pos: FuncCursor, _: WasmHeapType) -> WasmResult<Value> {
        Ok(pos.ins().iconst(types::I64, 0))
    }

    fn translate_ref_is_null(&mut self, mut pos: FuncCursor, value: Value) -> WasmResult<Value> {
        let null = pos.ins().icmp_imm(IntCC::Equal, value, 0);
        Ok(pos.ins().uextend(types::I32, null))
    }

    fn translate_ref_func(&mut self, mut pos: FuncCursor, index: FuncIndex) -> WasmResult<Value> {
        let sig = signature(self.info.func_type(index))?;
        let callee = crate::import_user(pos.func, FUNC_NAMESPACE, index.as_u32(), sig);
        let addr = pos.ins().func_addr(types::I64, callee);
        let id = i64::from(self.info.func_type_id(index)) << 32;
        Ok(pos.ins().bor_imm(addr, id))
    }

    fn translate_custom_global_get(
        &mut self,
        builder: &mut FunctionBuilder,
        index: GlobalIndex,
    ) -> WasmResult<Value> {
        let global = &self.info.globals[index.as_u32() as usize];
        let ty = clif_type(&global.ty.wasm_ty)?;
        if !global.ty.mutability {
            if let GlobalInit::Bits(bits) = global.init {
                return Ok(match ty {
                    types::F32 => builder.ins().f32const(Ieee32::with_bits(bits as u32)),
                    types::F64 => builder.ins().f64const(Ieee64::with_bits(bits as u64)),
                    types::I32 => builder.ins().iconst(ty, i64::from(bits as i32)),
                    _ => builder.ins().iconst(ty, bits),
                });
            }
        }
        let addr = self.layout.globals[index.as_u32() as usize];
        let addr = builder.ins().iconst(types::I64, i64::from(addr));
        Ok(builder.ins().load(ty, state_flags(), addr, 0))
    }

    fn translate_custom_global_set(
        &mut self,
        builder: &mut FunctionBuilder,
        index: GlobalIndex,
        value: Value,
    ) -> WasmResult<()> {
        let addr = self.layout.globals[index.as_u32() as usize];
        let addr = builder.ins().iconst(types::I64, i64::from(addr));
        builder.ins().store(state_flags(), value, addr, 0);
        Ok(())
    }

    fn translate_atomic_wait(
        &mut self,
        _: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        _: Value,
        _: Value,
        _: Value,
    ) -> WasmResult<Value> {
        unsupported("atomics")
    }

    fn translate_atomic_notify(
        &mut self,
        _: FuncCursor,
        _: MemoryIndex,
        _: Heap,
        _: Value,
        _: Value,
    ) -> WasmResult<Value> {
        unsupported("atomics")
    }

    fn translate_ref_i31(&mut self, _: FuncCursor, _: Value) -> WasmResult<Value> {
        unsupported("i31ref")
    }

    fn translate_i31_get_s(&mut self, _: FuncCursor, _: Value) -> WasmResult<Value> {
        unsupported("i31ref")
    }

    fn translate_i31_get_u(&mut self, _: FuncCursor, _: Value) -> WasmResult<Value> {
        unsupported("i31ref")
    }
}
