//! Regressions found by the WebAssembly spec tests (`pvm_filetests::wast`), each reduced to a
//! small module with exact expectations, on both flavours.

use pvm_isa::Flavour;
use pvm_machine::{DefaultHost, Exit, RunConfig};
use pvm_wasm::instance::{InvokeError, Outcome, Value, WasmInstance};
use pvm_wasm::{compile, parse, WasmError, WasmOptions};

fn options(flavour: Flavour) -> WasmOptions {
    let mut options = WasmOptions::default();
    options.backend.flavour = flavour;
    options
}

fn call(
    wat: &str,
    flavour: Flavour,
    name: &str,
    args: &[Value],
    gas: i64,
) -> Result<Outcome, InvokeError> {
    let wasm = parse(wat.as_bytes()).unwrap();
    let program = compile(&wasm, &options(flavour)).unwrap();
    let mut host = DefaultHost::new();
    let config = RunConfig::with_gas(gas);
    let mut instance = WasmInstance::new(&program, &config, &mut host).unwrap();
    instance
        .invoke(name, args, &mut host)
        .map(|call| call.outcome)
}

/// endianness.wast: `i64.extend_i32_u` of a call's result, passed on as a block argument, was
/// folded into a (free) sign extension as if it were a memory index (the fold runs in modules
/// with a memory).
#[test]
fn zero_extension_passed_to_a_block_is_kept() {
    let wat = r#"(module
      (memory 1)
      (func $minus_one (result i32) (i32.const -1))
      (func (export "f") (result i64) (i64.extend_i32_u (call $minus_one))))"#;
    for flavour in Flavour::ALL {
        let outcome = call(wat, flavour, "f", &[], 1 << 20).unwrap();
        assert_eq!(
            outcome,
            Outcome::Returned(vec![Value::I64(0xFFFF_FFFF)]),
            "{flavour:?}"
        );
    }
}

/// loop.wast: blocks that only jump to each other (an empty infinite loop) all forwarded their
/// branches away, so none was emitted and linking failed with an unbound label.
#[test]
fn empty_infinite_loops_link_and_run_out_of_gas() {
    let wat = r#"(module
      (func (export "f") (result i32) (loop (result i32) (loop (result i32) (br 1))))
      (func (export "g") (result i32)
        (i32.add (i32.const 1) (loop (result i32) (loop (result i32) (loop (result i32) (br 2)))))))"#;
    for flavour in Flavour::ALL {
        for name in ["f", "g"] {
            match call(wat, flavour, name, &[], 10_000) {
                Err(InvokeError::Stopped(Exit::OutOfGas { .. })) => {}
                other => panic!("{flavour:?} {name}: {other:?}"),
            }
        }
    }
}

/// data.wast: an `i32.const` data-segment offset is unsigned; a negative one is far out of
/// bounds (instantiation traps) and used to overflow the layout's arithmetic.
#[test]
fn negative_data_offset_is_an_instantiation_trap() {
    let wasm = parse(br#"(module (memory 1) (data (i32.const -1) "a"))"#).unwrap();
    match compile(&wasm, &WasmOptions::default()) {
        Err(WasmError::Instantiation(why)) => assert_eq!(
            why,
            "data segment at 4294967295 with 1 bytes is out of bounds of memory (65536 bytes)"
        ),
        other => panic!("{other:?}"),
    }
}

/// binary.wast: the memory index of `memory.grow` / `memory.size` is one zero byte; a longer
/// LEB128 zero is malformed.
#[test]
fn long_memory_index_is_malformed() {
    // (module (memory 1) (func (drop (memory.grow (i32.const 0)))))
    let good: &[u8] = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x05\x03\x01\0\x01\
        \x0a\x09\x01\x07\0\x41\0\x40\0\x1a\x0b";
    assert!(compile(good, &WasmOptions::default()).is_ok());
    let long: &[u8] = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x05\x03\x01\0\x01\
        \x0a\x0a\x01\x08\0\x41\0\x40\x80\0\x1a\x0b";
    match compile(long, &WasmOptions::default()) {
        Err(WasmError::Invalid { message, offset }) => {
            assert_eq!(message, "zero byte expected");
            assert_eq!(offset, long.len() - 4);
        }
        other => panic!("{other:?}"),
    }
}

/// A `table.grow` of a table that does not exist is invalid, not a panic.
#[test]
fn table_grow_of_a_missing_table_is_invalid() {
    let wasm = parse(
        br#"(module (table 1 funcref)
              (func (drop (table.grow 0 (ref.null func) (i32.const 1)))))"#,
    )
    .unwrap();
    let at = wasm
        .windows(3)
        .position(|w| w == [0xfc, 0x0f, 0x00])
        .expect("table.grow 0");
    let mut bad = wasm.clone();
    bad[at + 2] = 5;
    assert!(matches!(
        compile(&bad, &WasmOptions::default()),
        Err(WasmError::Invalid { .. })
    ));
}
