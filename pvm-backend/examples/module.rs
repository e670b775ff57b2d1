//! A JAM service built through `cranelift-module`'s API with `cranelift-frontend`, linked by
//! [`PvmModule`] into a service blob, written to a file and run on polkavm.
//!
//! The service:
//! - `refine` (pc 0) calls `checksum`, which computes the weighted checksum of the argument
//!   bytes, `Σ args[i] · weights[i mod 4]` (`weights` is a read-only data object), and returns
//!   it as 8 little-endian bytes through a zero-filled writable data object (`output`);
//! - `accumulate` (pc 5) adds the argument length to a writable counter that starts at 100
//!   and returns the new count, 8 bytes; it finds the counter through `counter_ref`, a
//!   read-only data object holding the counter's address (a relocation in data).
//!
//! Usage: `cargo run -p pvm-backend --example module [-- <blob path>]`. It checks the blob's
//! exact outputs and exits with status 1 if one differs.

// `ModuleResult` is cranelift-module's own type, whose error is large.
#![allow(clippy::result_large_err)]

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types::I64, AbiParam, InstBuilder, MemFlags, Signature};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, Linkage, Module, ModuleResult};
use pvm_backend::module::{PvmModule, PvmProduct};
use pvm_backend::Options;
use pvm_isa::ServiceBlob;
use pvm_machine::{
    run_standard, DefaultHost, Exit, RunConfig, SpiStart, JAM_ACCUMULATE_PC, JAM_REFINE_PC,
};
use std::process::ExitCode;

/// The checksum weights, by argument index modulo 4.
pub const WEIGHTS: [u8; 4] = [1, 2, 3, 4];
/// The counter's initial value.
pub const COUNTER_START: u64 = 100;

/// `(i64, i64) -> (i64, i64)`: the JAM entry signature (argument buffer in, output out).
fn entry_signature(module: &PvmModule) -> Signature {
    let mut sig = module.make_signature();
    sig.params = vec![AbiParam::new(I64); 2];
    sig.returns = vec![AbiParam::new(I64); 2];
    sig
}

/// Defines a data object.
fn define_data(
    module: &mut PvmModule,
    name: &str,
    writable: bool,
    fill: impl FnOnce(&mut DataDescription),
) -> ModuleResult<DataId> {
    let id = module.declare_data(name, Linkage::Local, writable, false)?;
    let mut description = DataDescription::new();
    fill(&mut description);
    module.define_data(id, &description)?;
    Ok(id)
}

/// Builds the service.
pub fn build() -> ModuleResult<PvmProduct> {
    let mut module = PvmModule::new(Options::default());
    let weights = define_data(&mut module, "weights", false, |d| {
        d.define(Box::new(WEIGHTS));
    })?;
    let output = define_data(&mut module, "output", true, |d| d.define_zeroinit(8))?;
    let counter = define_data(&mut module, "counter", true, |d| {
        d.define(Box::new(COUNTER_START.to_le_bytes()));
        d.set_align(8);
    })?;
    let counter_ref = module.declare_data("counter_ref", Linkage::Local, false, false)?;
    let mut description = DataDescription::new();
    description.define(Box::new([0; 8]));
    let counter_in_data = module.declare_data_in_data(counter, &mut description);
    description.write_data_addr(0, counter_in_data, 0);
    module.define_data(counter_ref, &description)?;

    let sig = entry_signature(&module);
    let mut checksum_sig = module.make_signature();
    checksum_sig.params = vec![AbiParam::new(I64); 2];
    checksum_sig.returns = vec![AbiParam::new(I64)];
    let checksum = module.declare_function("checksum", Linkage::Local, &checksum_sig)?;
    let refine = module.declare_function("refine", Linkage::Export, &sig)?;
    let accumulate = module.declare_function("accumulate", Linkage::Export, &sig)?;
    module.set_entry_points(&[refine, accumulate]);

    let mut ctx = module.make_context();
    let mut builder_ctx = FunctionBuilderContext::new();
    let flags = MemFlags::new();

    // checksum(args, len) = Σ args[i] · weights[i & 3].
    ctx.func.signature = checksum_sig;
    {
        let weights = module.declare_data_in_func(weights, &mut ctx.func);
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
        let (entry, head, body, exit) = (
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
        );
        b.append_block_params_for_function_params(entry);
        b.append_block_param(head, I64);
        b.append_block_param(head, I64);
        b.append_block_param(exit, I64);

        b.switch_to_block(entry);
        let (args, len) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let weights = b.ins().global_value(I64, weights);
        let zero = b.ins().iconst(I64, 0);
        b.ins().jump(head, &[zero, zero]);

        b.switch_to_block(head);
        let (i, sum) = (b.block_params(head)[0], b.block_params(head)[1]);
        let done = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, i, len);
        b.ins().brif(done, exit, &[sum], body, &[]);

        b.switch_to_block(body);
        let byte_at = b.ins().iadd(args, i);
        let byte = b.ins().uload8(I64, flags, byte_at, 0);
        let index = b.ins().band_imm(i, 3);
        let weight_at = b.ins().iadd(weights, index);
        let weight = b.ins().uload8(I64, flags, weight_at, 0);
        let product = b.ins().imul(byte, weight);
        let sum = b.ins().iadd(sum, product);
        let next = b.ins().iadd_imm(i, 1);
        b.ins().jump(head, &[next, sum]);

        b.switch_to_block(exit);
        let sum = b.block_params(exit)[0];
        b.ins().return_(&[sum]);
        b.seal_all_blocks();
        b.finalize();
    }
    module.define_function(checksum, &mut ctx)?;
    module.clear_context(&mut ctx);

    // refine(args, len): output = checksum(args, len); return (output, 8).
    ctx.func.signature = sig.clone();
    {
        let checksum = module.declare_func_in_func(checksum, &mut ctx.func);
        let output = module.declare_data_in_func(output, &mut ctx.func);
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let (args, len) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let call = b.ins().call(checksum, &[args, len]);
        let sum = b.inst_results(call)[0];
        let output = b.ins().global_value(I64, output);
        b.ins().store(flags, sum, output, 0);
        let eight = b.ins().iconst(I64, 8);
        b.ins().return_(&[output, eight]);
        b.seal_all_blocks();
        b.finalize();
    }
    module.define_function(refine, &mut ctx)?;
    module.clear_context(&mut ctx);

    // accumulate(args, len): counter += len, the counter found through `counter_ref`;
    // return (counter, 8).
    ctx.func.signature = sig;
    {
        let counter_ref = module.declare_data_in_func(counter_ref, &mut ctx.func);
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let len = b.block_params(entry)[1];
        let counter_ref = b.ins().global_value(I64, counter_ref);
        let counter = b.ins().load(I64, flags, counter_ref, 0);
        let count = b.ins().load(I64, flags, counter, 0);
        let count = b.ins().iadd(count, len);
        b.ins().store(flags, count, counter, 0);
        let eight = b.ins().iconst(I64, 8);
        b.ins().return_(&[counter, eight]);
        b.seal_all_blocks();
        b.finalize();
    }
    module.define_function(accumulate, &mut ctx)?;

    module.finish()
}

/// Runs the service's entry at `pc` with `args`; returns its output, or how it ended instead.
pub fn run(blob: &ServiceBlob, pc: u32, args: &[u8]) -> Result<Vec<u8>, String> {
    let start = SpiStart::new(args).at_pc(pc);
    let config = RunConfig::with_gas(1_000_000);
    let report = run_standard(
        &blob.program,
        pvm_isa::Flavour::JamV1,
        &start,
        &config,
        &mut DefaultHost::new(),
    )
    .map_err(|e| e.to_string())?;
    match (report.exit, report.output) {
        (Exit::Halt, Some(output)) => Ok(output),
        (exit, _) => Err(format!("the run ended with {exit}")),
    }
}

/// The weighted checksum `refine` computes, in Rust.
pub fn checksum(args: &[u8]) -> u64 {
    args.iter()
        .enumerate()
        .map(|(i, &byte)| u64::from(byte) * u64::from(WEIGHTS[i % 4]))
        .sum()
}

/// One check the example makes: a call and its expected output.
pub struct Check {
    /// The call.
    pub what: String,
    /// The output it must give.
    pub expected: Vec<u8>,
    /// What it gave, or how the run ended instead.
    pub actual: Result<Vec<u8>, String>,
}

/// Every check the example makes.
pub fn checks(blob: &ServiceBlob) -> Vec<Check> {
    let refine_args: [&[u8]; 3] = [b"", &[1, 2, 3, 4, 5], b"JAM service"];
    let mut checks: Vec<Check> = refine_args
        .iter()
        .map(|args| Check {
            what: format!("refine({args:?})"),
            expected: checksum(args).to_le_bytes().to_vec(),
            actual: run(blob, JAM_REFINE_PC, args),
        })
        .collect();
    checks.push(Check {
        what: "accumulate(\"abc\")".into(),
        expected: (COUNTER_START + 3).to_le_bytes().to_vec(),
        actual: run(blob, JAM_ACCUMULATE_PC, b"abc"),
    });
    checks
}

fn main() -> ExitCode {
    let product = match build() {
        Ok(product) => product,
        Err(e) => {
            eprintln!("building the module failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let blob = product.service_blob(b"pvm-backend module example".to_vec());
    let bytes = blob
        .to_bytes()
        .expect("a linked program fits every container");
    let path = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pvm-module-example.jam"));
    if let Err(e) = std::fs::write(&path, &bytes) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {} ({} bytes)", path.display(), bytes.len());
    for name in ["refine", "accumulate", "checksum"] {
        let pc = product
            .function_pc(name)
            .expect("reached from an entry point");
        println!("  function {name}: pc {pc}");
    }
    for name in ["weights", "counter_ref", "counter", "output"] {
        let address = product
            .data_address(name)
            .expect("reached from an entry point");
        println!("  data {name}: {address:#x}");
    }
    // Run the blob as written, read back from the file's bytes.
    let blob = match ServiceBlob::parse(&bytes) {
        Ok(blob) => blob,
        Err(e) => {
            eprintln!("the written blob does not parse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for Check {
        what,
        expected,
        actual,
    } in checks(&blob)
    {
        match actual {
            Ok(output) if output == expected => println!("{what} = {output:?}: ok"),
            actual => {
                println!("{what}: expected {expected:?}, got {actual:?}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
