//! Regressions found by the wasm differential test (`pvm-filetests`' `wasm_differential`:
//! `wasm-smith` modules against wasmi), each reduced to a small module with exact
//! expectations, on both flavours.

use pvm_isa::Flavour;
use pvm_machine::{DefaultHost, RunConfig};
use pvm_wasm::instance::WasmInstance;
use pvm_wasm::{compile, parse, WasmOptions};

fn options(flavour: Flavour) -> WasmOptions {
    let mut options = WasmOptions::default();
    options.backend.flavour = flavour;
    options.imports = pvm_wasm::ImportMap::jam(flavour);
    options
}

/// A module without functions (only state) has no code of its own: the program still needs
/// an instruction, or polkavm refuses to load it ("validation failed at offset 0").
#[test]
fn module_without_functions_loads() {
    let wat = r#"
        (module
          (memory (export "m") 1 2)
          (global (export "g") (mut i32) (i32.const 7))
          (table (export "t") 1 funcref)
          (data (i32.const 8) "\2a"))
    "#;
    let wasm = parse(wat.as_bytes()).unwrap();
    for flavour in [Flavour::JamV1, Flavour::Gp072] {
        let program = compile(&wasm, &options(flavour)).unwrap();
        assert!(program.exports.is_empty());
        let mut host = DefaultHost::new();
        let mut instance = WasmInstance::new(&program, &RunConfig::default(), &mut host)
            .unwrap_or_else(|e| panic!("{flavour:?}: {e}"));
        let memory = program.layout.memory.as_ref().unwrap();
        let bytes = instance.machine().read_memory(memory.base + 8, 1).unwrap();
        assert_eq!(bytes, [0x2a], "{flavour:?}");
    }
}

/// The same for a module with nothing at all.
#[test]
fn empty_module_loads() {
    let wasm = parse(b"(module)").unwrap();
    for flavour in [Flavour::JamV1, Flavour::Gp072] {
        let program = compile(&wasm, &options(flavour)).unwrap();
        let mut host = DefaultHost::new();
        assert!(
            WasmInstance::new(&program, &RunConfig::default(), &mut host).is_ok(),
            "{flavour:?}"
        );
    }
}
