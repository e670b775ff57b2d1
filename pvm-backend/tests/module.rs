//! `PvmModule`: the `cranelift-module` example's blob on polkavm, the linked program as a
//! `.polkavm` container called by export name, and the module's refusals.

#[allow(dead_code)] // The example's `main` is not called here.
#[path = "../examples/module.rs"]
mod example;

use cranelift_codegen::ir::{types::I64, AbiParam, InstBuilder};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, Linkage, Module, ModuleError};
use polkavm_common::program::ProgramBlob;
use pvm_backend::abi::{reg_of, ARG_REGS, RETURN_REGS};
use pvm_backend::module::PvmModule;
use pvm_backend::Options;
use pvm_isa::{PolkavmContainer, ServiceBlob};
use pvm_machine::{call_export, DefaultHost, Exit, RunConfig, JAM_ACCUMULATE_PC, JAM_REFINE_PC};

#[test]
fn the_example_blob_returns_the_expected_outputs() {
    let product = example::build().unwrap();
    let bytes = product.service_blob(b"test".to_vec()).to_bytes().unwrap();
    let blob = ServiceBlob::parse(&bytes).unwrap();
    assert_eq!(blob.metadata, b"test");
    // 1·1 + 2·2 + 3·3 + 4·4 + 5·1.
    let output = example::run(&blob, JAM_REFINE_PC, &[1, 2, 3, 4, 5]);
    assert_eq!(output, Ok(35u64.to_le_bytes().to_vec()));
    let output = example::run(&blob, JAM_ACCUMULATE_PC, b"abcd");
    assert_eq!(output, Ok(104u64.to_le_bytes().to_vec()));
    for check in example::checks(&blob) {
        assert_eq!(check.actual, Ok(check.expected), "{}", check.what);
    }
    // Writable data with contents comes first, the zero-filled output after it (a heap page).
    assert_eq!(product.data_address("weights"), Some(0x10000));
    assert_eq!(product.data_address("counter"), Some(0x30000));
    assert_eq!(product.data_address("output"), Some(0x30008));
    // `counter_ref` holds the counter's address: a relocation in data.
    assert_eq!(product.data_address("counter_ref"), Some(0x10004));
    let mut ro_data = example::WEIGHTS.to_vec();
    ro_data.extend(0x30000u64.to_le_bytes());
    assert_eq!(blob.program.ro_data, ro_data);
    assert_eq!(blob.program.rw_data, [100]);
    assert_eq!(blob.program.heap_pages, 0);
}

/// The argument registers for `(pointer, length)`.
fn buffer(pointer: u32, length: u64) -> [(pvm_isa::Reg, u64); 2] {
    [
        (reg_of(ARG_REGS[0]), pointer.into()),
        (reg_of(ARG_REGS[1]), length),
    ]
}

#[test]
fn a_linked_program_as_polkavm_is_accepted_and_callable_by_name() {
    let product = example::build().unwrap();
    let bytes = product.polkavm().to_bytes().unwrap();

    let blob = ProgramBlob::parse(bytes.clone().into()).expect("polkavm accepts the program");
    let exports: Vec<(String, u32)> = blob
        .exports()
        .map(|e| {
            let name = String::from_utf8(e.symbol().as_bytes().to_vec()).unwrap();
            (name, e.program_counter().0)
        })
        .collect();
    let pc = |name: &str| product.function_pc(name).unwrap();
    assert_eq!(
        exports,
        [
            ("refine".to_string(), pc("refine")),
            ("accumulate".to_string(), pc("accumulate"))
        ]
    );

    let container = PolkavmContainer::parse(&bytes).unwrap();
    let config = RunConfig::with_gas(1_000_000);
    let weights = product.data_address("weights").unwrap();
    // The checksum of the weights themselves: 1·1 + 2·2 + 3·3 + 4·4.
    let report = call_export(
        &container,
        "refine",
        &buffer(weights, 4),
        &config,
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::Halt);
    let result = |report: &pvm_machine::Report, i: usize| {
        report.regs[usize::from(reg_of(RETURN_REGS[i]).index())]
    };
    assert_eq!(
        result(&report, 0),
        product.data_address("output").unwrap().into()
    );
    assert_eq!(result(&report, 1), 8);
    assert_eq!(report.output, Some(30u64.to_le_bytes().to_vec()));

    let report = call_export(
        &container,
        "accumulate",
        &buffer(0, 5),
        &config,
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.output, Some(105u64.to_le_bytes().to_vec()));

    // `checksum` is in the program (refine calls it) but not exported.
    assert!(product.function_pc("checksum").is_some());
    let report = call_export(
        &container,
        "checksum",
        &[],
        &config,
        &mut DefaultHost::new(),
    );
    assert_eq!(
        report,
        Err(pvm_machine::MachineError::UnknownExport("checksum".into()))
    );
}

/// A module with one exported function `f() -> i64` returning 7, defined.
fn module_with_f() -> (PvmModule, cranelift_module::FuncId) {
    let mut module = PvmModule::new(Options::default());
    let f = define_constant(&mut module, "f", Linkage::Export, 7);
    (module, f)
}

/// Declares and defines `name() -> i64` returning `value`.
fn define_constant(
    module: &mut PvmModule,
    name: &str,
    linkage: Linkage,
    value: i64,
) -> cranelift_module::FuncId {
    let mut sig = module.make_signature();
    sig.returns.push(AbiParam::new(I64));
    let id = module.declare_function(name, linkage, &sig).unwrap();
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut ctx.func, &mut builder_ctx);
    let block = b.create_block();
    b.switch_to_block(block);
    let result = b.ins().iconst(I64, value);
    b.ins().return_(&[result]);
    b.seal_all_blocks();
    b.finalize();
    module.define_function(id, &mut ctx).unwrap();
    id
}

#[test]
fn refusals_are_module_errors() {
    let (mut module, f) = module_with_f();
    let mut ctx = module.make_context();
    let again = module.define_function(f, &mut ctx);
    assert!(
        matches!(again, Err(ModuleError::DuplicateDefinition(ref name)) if name == "f"),
        "{again:?}"
    );
    let bytes = module.define_function_bytes(f, &ctx.func, 1, &[0], &[]);
    assert_eq!(
        bytes.unwrap_err().to_string(),
        "Backend error: cannot define `f` from bytes: PVM functions are defined from CLIF"
    );

    let sig = module.make_signature();
    let import = module
        .declare_function("imported", Linkage::Import, &sig)
        .unwrap();
    let defined = module.define_function(import, &mut ctx);
    assert!(matches!(
        defined,
        Err(ModuleError::InvalidImportDefinition(ref name)) if name == "imported"
    ));

    let tls = module
        .declare_data("tls", Linkage::Local, true, true)
        .unwrap();
    let mut description = DataDescription::new();
    description.define_zeroinit(8);
    assert_eq!(
        module
            .define_data(tls, &description)
            .unwrap_err()
            .to_string(),
        "Backend error: `tls`: PVM programs have no thread-local data"
    );
    let empty = module
        .declare_data("empty", Linkage::Local, false, false)
        .unwrap();
    assert_eq!(
        module
            .define_data(empty, &DataDescription::new())
            .unwrap_err()
            .to_string(),
        "Backend error: `empty`: the data object has no contents"
    );

    // An exported function that is declared but never defined cannot be linked.
    module.declare_function("g", Linkage::Export, &sig).unwrap();
    assert_eq!(
        module.finish().unwrap_err().to_string(),
        "Backend error: link error: root `g` is not defined"
    );
}

#[test]
fn unexported_functions_are_left_out() {
    let (mut module, _) = module_with_f();
    define_constant(&mut module, "local", Linkage::Local, 1);
    let product = module.finish().unwrap();
    assert_eq!(product.function_pc("f"), Some(0));
    assert_eq!(product.function_pc("local"), None);
    let exports = product.polkavm().exports;
    assert_eq!(exports.len(), 1);
    assert_eq!((exports[0].name.as_str(), exports[0].pc), ("f", 0));
}

#[test]
fn building_twice_gives_the_same_bytes() {
    let bytes = || {
        let product = example::build().unwrap();
        (
            product.service_blob(b"m".to_vec()).to_bytes().unwrap(),
            product.polkavm().to_bytes().unwrap(),
        )
    };
    let first = bytes();
    for _ in 0..5 {
        assert_eq!(bytes(), first);
    }
}
