//! JAM entry points and import stubs.
//!
//! An entry point is a wrapper function placed at pc `5·i` by the linker. It copies the active
//! data segments in (when the layout keeps them apart, `Layout::data_copies`), runs the start
//! function, then calls its export with the JAM convention:
//! - an export of type `(i32, i32) -> …` gets the argument bytes (at `ARGS_START`, length in
//!   r8) as `(ptr, len)` inside linear memory: the wrapper grows the memory by enough pages
//!   (as `memory.grow` would; it traps when the memory may not grow) and copies the bytes to
//!   the start of the new pages; an export without parameters gets nothing;
//! - an `i64` result is `ptr | len << 32` (the JAM wasm SDKs' packing): the SPI output r7, r8
//!   becomes that range of linear memory; an `i32` result is returned in r7 with r8 = 0;
//!   no result gives r7 = r8 = 0.

use crate::func_env::signature;
use crate::layout::{Layout, MemoryLayout};
use crate::module_env::ModuleInfo;
use crate::runtime::Helper;
use crate::{ImportTarget, WasmError, FUNC_NAMESPACE};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, ExternalName, Function, InstBuilder, Signature, TrapCode, UserFuncName,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_wasm::{FuncIndex, WasmValType};
use pvm_backend::abi::HOST_CALL_NAMESPACE;
use pvm_backend::link::Symbol;
use std::collections::BTreeSet;

/// A resolved entry point.
pub(crate) struct Entry {
    /// The entry's name (`refine`, `accumulate` …).
    pub name: String,
    /// The export it calls.
    pub func: FuncIndex,
    /// Whether the export takes `(ptr, len)`.
    pub takes_args: bool,
}

const INIT_NAME: &str = "wasm_init";

/// The function that copies `layout`'s active data segments into memory.
pub(crate) fn init_function(layout: &Layout) -> Function {
    let mut func = Function::with_name_signature(
        UserFuncName::testcase(INIT_NAME),
        Signature::new(CallConv::Tail),
    );
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut ctx);
    let block = b.create_block();
    b.switch_to_block(block);
    let base = layout.memory.as_ref().map_or(0, |m| i64::from(m.base));
    for copy in &layout.data_copies {
        let dst = b.ins().iconst(types::I64, base + i64::from(copy.offset));
        let src = b.ins().iconst(types::I64, i64::from(copy.src));
        let len = b.ins().iconst(types::I64, i64::from(copy.len));
        crate::runtime::copy_bytes_forward(&mut b, dst, src, len);
    }
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize();
    func
}

/// The symbol of entry wrapper `index`.
pub fn entry_symbol(index: usize) -> Symbol {
    Symbol::Name(format!("jam_entry_{index}"))
}

/// Finds each entry's export and checks its type.
pub(crate) fn resolve(
    info: &ModuleInfo,
    entries: &[(String, String)],
) -> Result<Vec<Entry>, WasmError> {
    entries
        .iter()
        .map(|(name, export)| {
            let func = info
                .func_exports
                .iter()
                .find(|(n, _)| n == export)
                .map(|&(_, f)| f)
                .ok_or_else(|| WasmError::NoExport {
                    entry: name.clone(),
                    export: export.clone(),
                })?;
            let ty = info.func_type(func);
            let takes_args = match ty.params() {
                [] => false,
                [WasmValType::I32, WasmValType::I32] => true,
                _ => {
                    return Err(WasmError::Unsupported(format!(
                        "entry `{name}`: export `{export}` must take () or (i32 ptr, i32 len), not {ty}"
                    )))
                }
            };
            if !matches!(
                ty.returns(),
                [] | [WasmValType::I32] | [WasmValType::I64]
            ) {
                return Err(WasmError::Unsupported(format!(
                    "entry `{name}`: export `{export}` must return nothing, i32 or i64 (ptr | len << 32), not {ty}"
                )));
            }
            Ok(Entry {
                name: name.clone(),
                func,
                takes_args,
            })
        })
        .collect()
}

/// The function standing for imported function `index`: a host call made a function, or a
/// trap.
pub(crate) fn import_function(info: &ModuleInfo, index: FuncIndex) -> Result<Function, WasmError> {
    let sig = signature(info.func_type(index))?;
    let name = UserFuncName::user(FUNC_NAMESPACE, index.as_u32());
    let target = info.funcs[index.as_u32() as usize]
        .import
        .map(|(_, _, target)| target);
    let Some(ImportTarget::HostCall(number)) = target else {
        return Ok(crate::trap_function(name, sig));
    };
    let mut func = Function::with_name_signature(name, sig.clone());
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let args = b.block_params(block).to_vec();
    let callee = crate::import_user(b.func, HOST_CALL_NAMESPACE, number, sig);
    let call = b.ins().call(callee, &args);
    let results = b.func.dfg.inst_results(call).to_vec();
    b.ins().return_(&results);
    b.seal_all_blocks();
    b.finalize();
    Ok(func)
}

/// The wrapper of entry `index` (see the module docs).
pub(crate) fn wrapper(
    info: &ModuleInfo,
    index: usize,
    entry: &Entry,
    memory: Option<&MemoryLayout>,
    copies_data: bool,
    helpers: &mut BTreeSet<Helper>,
) -> Result<Function, WasmError> {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params = vec![AbiParam::new(types::I64); 2];
    sig.returns = vec![AbiParam::new(types::I64); 2];
    let Symbol::Name(name) = entry_symbol(index) else {
        unreachable!("entry symbols are names")
    };
    let mut func = Function::with_name_signature(UserFuncName::testcase(&name), sig);
    let mut ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut ctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    let (args_addr, args_len) = (b.block_params(block)[0], b.block_params(block)[1]);

    if copies_data {
        let callee = crate::import_named(
            b.func,
            ExternalName::testcase(INIT_NAME),
            Signature::new(CallConv::Tail),
        );
        b.ins().call(callee, &[]);
    }
    if let Some(start) = info.start {
        let callee = crate::import_user(
            b.func,
            FUNC_NAMESPACE,
            start.as_u32(),
            signature(info.func_type(start))?,
        );
        b.ins().call(callee, &[]);
    }
    let mut call_args = Vec::new();
    if entry.takes_args {
        let memory = memory.ok_or_else(|| {
            WasmError::Unsupported(format!(
                "entry `{}` takes argument bytes but the module has no memory",
                entry.name
            ))
        })?;
        helpers.insert(Helper::MemoryGrow);
        let grow = Helper::MemoryGrow.import(b.func);
        let pages = b.ins().iadd_imm(args_len, 0xFFFF);
        let pages = b.ins().ushr_imm(pages, 16);
        let call = b.ins().call(grow, &[pages]);
        let old = b.func.dfg.inst_results(call)[0];
        let failed = b.ins().icmp_imm(IntCC::Equal, old, -1);
        b.ins().trapnz(failed, TrapCode::HeapOutOfBounds);
        let old = b.ins().uextend(types::I64, old);
        let ptr = b.ins().ishl_imm(old, 16);
        let dst = b.ins().iadd_imm(ptr, i64::from(memory.base));
        crate::runtime::copy_bytes_forward(&mut b, dst, args_addr, args_len);
        let ptr32 = b.ins().ireduce(types::I32, ptr);
        let len32 = b.ins().ireduce(types::I32, args_len);
        call_args = vec![ptr32, len32];
    }
    let export_sig = signature(info.func_type(entry.func))?;
    let callee = crate::import_user(b.func, FUNC_NAMESPACE, entry.func.as_u32(), export_sig);
    let call = b.ins().call(callee, &call_args);
    let results = b.func.dfg.inst_results(call).to_vec();
    let zero = b.ins().iconst(types::I64, 0);
    let (r7, r8) = match results.first().map(|&r| (r, b.func.dfg.value_type(r))) {
        None => (zero, zero),
        Some((r, types::I64)) => {
            let low = b.ins().ireduce(types::I32, r);
            let ptr = b.ins().uextend(types::I64, low);
            let base = i64::from(memory.map_or(0, |m| m.base));
            let addr = b.ins().iadd_imm(ptr, base);
            let len = b.ins().ushr_imm(r, 32);
            (addr, len)
        }
        Some((r, _)) => (b.ins().sextend(types::I64, r), zero),
    };
    b.ins().return_(&[r7, r8]);
    b.seal_all_blocks();
    b.finalize();
    Ok(func)
}
