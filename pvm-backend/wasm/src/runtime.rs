//! Runtime helpers: the wasm operations that loop (`memory.copy`, `table.grow` …), written
//! once as CLIF with cranelift-frontend and compiled by the backend like any function. A
//! program contains a helper only if its code calls it (the linker drops the rest).
//!
//! Helpers take every operand as an `i64`: `i32` operands arrive zero-extended (the caller
//! does it), so `a + b` of two of them cannot overflow and one unsigned compare is a bounds
//! check. Addresses are absolute; the caller passes the constants of the module's layout.
//! Every bounds check happens before the first byte moves, as wasm requires.

use crate::imports::JAM_GROW_HEAP;
use crate::layout::{MemoryLayout, WORD};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, ExternalName, FuncRef, Function, InstBuilder, MemFlags, Signature, TrapCode,
    Type, UserFuncName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use pvm_backend::abi::HOST_CALL_NAMESPACE;

/// A runtime helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Helper {
    /// `(delta) -> old pages or -1`.
    MemoryGrow,
    /// `(dst, src, len, memory bytes)`.
    MemoryCopy,
    /// `(dst, value, len, memory bytes)`.
    MemoryFill,
    /// `(dst, src, len, memory bytes, segment address, segment length)`.
    MemoryInit,
    /// `(table base, size address, capacity, init, delta) -> old size or -1`.
    TableGrow,
    /// `(dst base, dst size, src base, src size, dst, src, len)`.
    TableCopy,
    /// `(base, size, dst, value, len)`.
    TableFill,
    /// `(base, size, segment address, segment length, dst, src, len)`.
    TableInit,
}

impl Helper {
    /// The helper's symbol name.
    pub fn name(self) -> &'static str {
        match self {
            Helper::MemoryGrow => "wasm_memory_grow",
            Helper::MemoryCopy => "wasm_memory_copy",
            Helper::MemoryFill => "wasm_memory_fill",
            Helper::MemoryInit => "wasm_memory_init",
            Helper::TableGrow => "wasm_table_grow",
            Helper::TableCopy => "wasm_table_copy",
            Helper::TableFill => "wasm_table_fill",
            Helper::TableInit => "wasm_table_init",
        }
    }

    fn arity(self) -> (usize, Option<Type>) {
        match self {
            Helper::MemoryGrow => (1, Some(types::I32)),
            Helper::MemoryCopy | Helper::MemoryFill => (4, None),
            Helper::MemoryInit => (6, None),
            Helper::TableGrow => (5, Some(types::I32)),
            Helper::TableCopy | Helper::TableInit => (7, None),
            Helper::TableFill => (5, None),
        }
    }

    /// The helper's signature.
    pub fn signature(self) -> Signature {
        let (params, ret) = self.arity();
        let mut sig = Signature::new(CallConv::Tail);
        sig.params = vec![AbiParam::new(types::I64); params];
        sig.returns.extend(ret.map(AbiParam::new));
        sig
    }

    /// Declares the helper in `func`.
    pub fn import(self, func: &mut Function) -> FuncRef {
        crate::import_named(func, ExternalName::testcase(self.name()), self.signature())
    }

    /// The helper's body for a module with memory `memory` (if any).
    pub fn build(self, memory: Option<&MemoryLayout>) -> Function {
        let mut func =
            Function::with_name_signature(UserFuncName::testcase(self.name()), self.signature());
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let base = memory.map_or(0, |m| i64::from(m.base));
        match self {
            Helper::MemoryGrow => {
                let memory = memory.expect("memory.grow needs a memory");
                grow_memory(&mut b, memory, p[0]);
            }
            Helper::MemoryCopy => {
                let (dst, src, len, size) = (p[0], p[1], p[2], p[3]);
                check_range(&mut b, dst, len, size, TrapCode::HeapOutOfBounds);
                check_range(&mut b, src, len, size, TrapCode::HeapOutOfBounds);
                let d = b.ins().iadd_imm(dst, base);
                let s = b.ins().iadd_imm(src, base);
                memmove_bytes(&mut b, d, s, len);
                b.ins().return_(&[]);
            }
            Helper::MemoryFill => {
                let (dst, value, len, size) = (p[0], p[1], p[2], p[3]);
                check_range(&mut b, dst, len, size, TrapCode::HeapOutOfBounds);
                let d = b.ins().iadd_imm(dst, base);
                fill_bytes(&mut b, d, value, len);
                b.ins().return_(&[]);
            }
            Helper::MemoryInit => {
                let (dst, src, len, size, seg, seg_len) = (p[0], p[1], p[2], p[3], p[4], p[5]);
                check_range(&mut b, dst, len, size, TrapCode::HeapOutOfBounds);
                check_range(&mut b, src, len, seg_len, TrapCode::HeapOutOfBounds);
                let d = b.ins().iadd_imm(dst, base);
                let s = b.ins().iadd(seg, src);
                copy_bytes_forward(&mut b, d, s, len);
                b.ins().return_(&[]);
            }
            Helper::TableGrow => grow_table(&mut b, &p),
            Helper::TableCopy => {
                let (dbase, dsize, sbase, ssize) = (p[0], p[1], p[2], p[3]);
                let (dst, src, len) = (p[4], p[5], p[6]);
                check_range(&mut b, dst, len, dsize, TrapCode::TableOutOfBounds);
                check_range(&mut b, src, len, ssize, TrapCode::TableOutOfBounds);
                let d = entry_addr(&mut b, dbase, dst);
                let s = entry_addr(&mut b, sbase, src);
                memmove_words(&mut b, d, s, len);
                b.ins().return_(&[]);
            }
            Helper::TableFill => {
                let (tbase, size, dst, value, len) = (p[0], p[1], p[2], p[3], p[4]);
                check_range(&mut b, dst, len, size, TrapCode::TableOutOfBounds);
                let d = entry_addr(&mut b, tbase, dst);
                fill(&mut b, d, value, len, types::I64);
                b.ins().return_(&[]);
            }
            Helper::TableInit => {
                let (tbase, size, seg, seg_len) = (p[0], p[1], p[2], p[3]);
                let (dst, src, len) = (p[4], p[5], p[6]);
                check_range(&mut b, dst, len, size, TrapCode::TableOutOfBounds);
                check_range(&mut b, src, len, seg_len, TrapCode::TableOutOfBounds);
                let d = entry_addr(&mut b, tbase, dst);
                let s = entry_addr(&mut b, seg, src);
                copy_forward(&mut b, d, s, len, types::I64);
                b.ins().return_(&[]);
            }
        }
        b.seal_all_blocks();
        b.finalize();
        func
    }
}

/// Traps with `code` unless `start + len <= size`.
fn check_range(b: &mut FunctionBuilder, start: Value, len: Value, size: Value, code: TrapCode) {
    let end = b.ins().iadd(start, len);
    let out = b.ins().icmp(IntCC::UnsignedGreaterThan, end, size);
    b.ins().trapnz(out, code);
}

/// `base + index · 8`.
fn entry_addr(b: &mut FunctionBuilder, base: Value, index: Value) -> Value {
    let offset = b.ins().imul_imm(index, i64::from(WORD));
    b.ins().iadd(base, offset)
}

/// Runs `body(i)` for `i` in `0..count`; the builder ends in the block after the loop.
fn counted_loop(
    b: &mut FunctionBuilder,
    count: Value,
    mut body: impl FnMut(&mut FunctionBuilder, Value),
) {
    let header = b.create_block();
    let body_block = b.create_block();
    let exit = b.create_block();
    b.append_block_param(header, types::I64);
    let zero = b.ins().iconst(types::I64, 0);
    b.ins().jump(header, &[zero]);
    b.switch_to_block(header);
    let i = b.block_params(header)[0];
    let more = b.ins().icmp(IntCC::UnsignedLessThan, i, count);
    b.ins().brif(more, body_block, &[], exit, &[]);
    b.switch_to_block(body_block);
    body(b, i);
    let next = b.ins().iadd_imm(i, 1);
    b.ins().jump(header, &[next]);
    b.switch_to_block(exit);
}

fn flags() -> MemFlags {
    MemFlags::trusted()
}

/// Copies `count` elements of type `ty` from `src` to `dst`, lowest first.
fn copy_forward(b: &mut FunctionBuilder, dst: Value, src: Value, count: Value, ty: Type) {
    let size = i64::from(ty.bytes());
    counted_loop(b, count, |b, i| {
        let offset = b.ins().imul_imm(i, size);
        let s = b.ins().iadd(src, offset);
        let d = b.ins().iadd(dst, offset);
        let v = b.ins().load(ty, flags(), s, 0);
        b.ins().store(flags(), v, d, 0);
    });
}

/// Copies `count` elements of type `ty` from `src` to `dst`, highest first.
fn copy_backward(b: &mut FunctionBuilder, dst: Value, src: Value, count: Value, ty: Type) {
    let size = i64::from(ty.bytes());
    counted_loop(b, count, |b, i| {
        // Element count - 1 - i.
        let last = b.ins().iadd_imm(count, -1);
        let j = b.ins().isub(last, i);
        let offset = b.ins().imul_imm(j, size);
        let s = b.ins().iadd(src, offset);
        let d = b.ins().iadd(dst, offset);
        let v = b.ins().load(ty, flags(), s, 0);
        b.ins().store(flags(), v, d, 0);
    });
}

/// Splits `len` bytes into `(words, offset of the rest, rest)`: PVM loads and stores need no
/// alignment, so bulk operations move 8-byte words and then the last `len % 8` bytes.
fn split_words(b: &mut FunctionBuilder, len: Value) -> (Value, Value, Value) {
    let words = b.ins().ushr_imm(len, 3);
    let rest_offset = b.ins().ishl_imm(words, 3);
    let rest = b.ins().band_imm(len, 7);
    (words, rest_offset, rest)
}

/// Copies `len` bytes from `src` to `dst`, lowest first (ranges that do not overlap, or
/// `dst <= src`: a word is read before any store reaches it).
pub(crate) fn copy_bytes_forward(b: &mut FunctionBuilder, dst: Value, src: Value, len: Value) {
    let (words, rest_offset, rest) = split_words(b, len);
    copy_forward(b, dst, src, words, types::I64);
    let d = b.ins().iadd(dst, rest_offset);
    let s = b.ins().iadd(src, rest_offset);
    copy_forward(b, d, s, rest, types::I8);
}

/// Copies `len` bytes from `src` to `dst`, correct for overlapping ranges: lowest first when
/// `dst <= src`, else highest first (the trailing bytes, then the words from the top).
fn memmove_bytes(b: &mut FunctionBuilder, dst: Value, src: Value, len: Value) {
    let forward = b.create_block();
    let backward = b.create_block();
    let done = b.create_block();
    let down = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, dst, src);
    b.ins().brif(down, forward, &[], backward, &[]);
    b.switch_to_block(forward);
    copy_bytes_forward(b, dst, src, len);
    b.ins().jump(done, &[]);
    b.switch_to_block(backward);
    let (words, rest_offset, rest) = split_words(b, len);
    let d = b.ins().iadd(dst, rest_offset);
    let s = b.ins().iadd(src, rest_offset);
    copy_backward(b, d, s, rest, types::I8);
    copy_backward(b, dst, src, words, types::I64);
    b.ins().jump(done, &[]);
    b.switch_to_block(done);
}

/// Copies `count` 8-byte entries, correct for overlapping ranges.
fn memmove_words(b: &mut FunctionBuilder, dst: Value, src: Value, count: Value) {
    let forward = b.create_block();
    let backward = b.create_block();
    let done = b.create_block();
    let down = b.ins().icmp(IntCC::UnsignedLessThanOrEqual, dst, src);
    b.ins().brif(down, forward, &[], backward, &[]);
    b.switch_to_block(forward);
    copy_forward(b, dst, src, count, types::I64);
    b.ins().jump(done, &[]);
    b.switch_to_block(backward);
    copy_backward(b, dst, src, count, types::I64);
    b.ins().jump(done, &[]);
    b.switch_to_block(done);
}

/// Stores `value` (narrowed to `ty`) into `count` elements from `dst`.
fn fill(b: &mut FunctionBuilder, dst: Value, value: Value, count: Value, ty: Type) {
    let size = i64::from(ty.bytes());
    let value = if ty == types::I64 {
        value
    } else {
        b.ins().ireduce(ty, value)
    };
    counted_loop(b, count, |b, i| {
        let offset = b.ins().imul_imm(i, size);
        let d = b.ins().iadd(dst, offset);
        b.ins().store(flags(), value, d, 0);
    });
}

/// Stores the low byte of `value` into `len` bytes from `dst`, a word at a time.
fn fill_bytes(b: &mut FunctionBuilder, dst: Value, value: Value, len: Value) {
    let byte = b.ins().band_imm(value, 0xff);
    let pattern = b.ins().imul_imm(byte, 0x0101_0101_0101_0101);
    let (words, rest_offset, rest) = split_words(b, len);
    fill(b, dst, pattern, words, types::I64);
    let d = b.ins().iadd(dst, rest_offset);
    fill(b, d, byte, rest, types::I8);
}

/// Asks the host to map the pages up to `end` (an absolute address, page aligned) with
/// jam-v1's `grow_heap`; whether it did.
fn map_pages(b: &mut FunctionBuilder, end: Value) -> Value {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(types::I64));
    let callee = crate::import_user(b.func, HOST_CALL_NAMESPACE, JAM_GROW_HEAP, sig);
    let end_page = b.ins().ushr_imm(end, 12);
    let call = b.ins().call(callee, &[end_page]);
    let result = b.func.dfg.inst_results(call)[0];
    // grow_heap returns the region's end page: enough if it reaches ours.
    b.ins()
        .icmp(IntCC::UnsignedGreaterThanOrEqual, result, end_page)
}

fn grow_memory(b: &mut FunctionBuilder, memory: &MemoryLayout, delta: Value) {
    let fail = b.create_block();
    let grow = b.create_block();
    let done = b.create_block();
    let pages_addr = b.ins().iconst(types::I64, i64::from(memory.pages_addr));
    let old = b.ins().load(types::I64, flags(), pages_addr, 0);
    let new = b.ins().iadd(old, delta);
    let too_many = b
        .ins()
        .icmp_imm(IntCC::UnsignedGreaterThan, new, i64::from(memory.max_pages));
    b.ins().brif(too_many, fail, &[], grow, &[]);

    b.switch_to_block(grow);
    let mapped = b.create_block();
    let has_delta = b.ins().icmp_imm(IntCC::NotEqual, delta, 0);
    let call = b.create_block();
    b.ins().brif(has_delta, call, &[], done, &[]);
    b.switch_to_block(call);
    let new_bytes = b.ins().ishl_imm(new, 16);
    if memory.reserved {
        // The pages are mapped already.
        b.ins().jump(mapped, &[]);
    } else {
        let end = b.ins().iadd_imm(new_bytes, i64::from(memory.base));
        let ok = map_pages(b, end);
        b.ins().brif(ok, mapped, &[], fail, &[]);
    }
    b.switch_to_block(mapped);
    b.ins().store(flags(), new, pages_addr, 0);
    let bytes_addr = b.ins().iconst(types::I64, i64::from(memory.bytes_addr));
    b.ins().store(flags(), new_bytes, bytes_addr, 0);
    b.ins().jump(done, &[]);

    b.switch_to_block(done);
    let old32 = b.ins().ireduce(types::I32, old);
    b.ins().return_(&[old32]);

    b.switch_to_block(fail);
    let minus_one = b.ins().iconst(types::I32, -1);
    b.ins().return_(&[minus_one]);
}

fn grow_table(b: &mut FunctionBuilder, p: &[Value]) {
    let (base, size_addr, capacity, init, delta) = (p[0], p[1], p[2], p[3], p[4]);
    let fail = b.create_block();
    let grow = b.create_block();
    let old = b.ins().load(types::I64, flags(), size_addr, 0);
    let new = b.ins().iadd(old, delta);
    let too_many = b.ins().icmp(IntCC::UnsignedGreaterThan, new, capacity);
    b.ins().brif(too_many, fail, &[], grow, &[]);

    b.switch_to_block(grow);
    let first = entry_addr(b, base, old);
    fill(b, first, init, delta, types::I64);
    b.ins().store(flags(), new, size_addr, 0);
    let old32 = b.ins().ireduce(types::I32, old);
    b.ins().return_(&[old32]);

    b.switch_to_block(fail);
    let minus_one = b.ins().iconst(types::I32, -1);
    b.ins().return_(&[minus_one]);
}
