//! End-to-end checks of the wasm pipeline on small modules: exact results, traps and state
//! kept between calls.

use pvm_machine::{DefaultHost, RunConfig};
use pvm_wasm::instance::{Outcome, Value, WasmInstance};
use pvm_wasm::{compile, parse, WasmOptions};

const MODULE: &str = r#"
(module
  (memory 1 4)
  (global $g (mut i32) (i32.const 5))
  (global $k i64 (i64.const 77))
  (table 4 funcref)
  (elem (i32.const 0) $add $sub)
  (type $bin (func (param i32 i32) (result i32)))
  (data (i32.const 16) "hello")
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  (func (export "add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  (func (export "dispatch") (param i32 i32 i32) (result i32)
    (call_indirect (type $bin) (local.get 1) (local.get 2) (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "bump") (result i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1))) (global.get $g))
  (func (export "k") (result i64) (global.get $k))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
)
"#;

fn ret(v: &[Value]) -> Outcome {
    Outcome::Returned(v.to_vec())
}

fn check(options: &WasmOptions) {
    let wasm = parse(MODULE.as_bytes()).unwrap();
    let program = compile(&wasm, options).unwrap();
    let mut host = DefaultHost::new();
    let config = RunConfig::default();
    let mut inst = WasmInstance::new(&program, &config, &mut host).unwrap();
    let mut call = |name: &str, args: &[Value]| inst.invoke(name, args, &mut host).unwrap().outcome;
    use Value::*;
    assert_eq!(call("add", &[I32(2), I32(40)]), ret(&[I32(42)]));
    assert_eq!(call("add", &[I32(i32::MAX), I32(1)]), ret(&[I32(i32::MIN)]));
    assert_eq!(call("dispatch", &[I32(0), I32(7), I32(3)]), ret(&[I32(10)]));
    assert_eq!(call("dispatch", &[I32(1), I32(7), I32(3)]), ret(&[I32(4)]));
    assert!(matches!(
        call("dispatch", &[I32(2), I32(7), I32(3)]),
        Outcome::Trapped(_)
    ));
    assert!(matches!(
        call("dispatch", &[I32(4), I32(7), I32(3)]),
        Outcome::Trapped(_)
    ));
    assert!(matches!(
        call("dispatch", &[I32(-1), I32(7), I32(3)]),
        Outcome::Trapped(_)
    ));
    assert_eq!(call("load8", &[I32(16)]), ret(&[I32(b'h' as i32)]));
    assert_eq!(call("load8", &[I32(65535)]), ret(&[I32(0)]));
    assert!(matches!(call("load8", &[I32(65536)]), Outcome::Trapped(_)));
    assert!(matches!(call("load8", &[I32(-1)]), Outcome::Trapped(_)));
    assert!(matches!(call("load", &[I32(65533)]), Outcome::Trapped(_)));
    assert_eq!(call("store", &[I32(100), I32(-2)]), ret(&[]));
    assert_eq!(call("load", &[I32(100)]), ret(&[I32(-2)]));
    assert_eq!(call("bump", &[]), ret(&[I32(6)]));
    assert_eq!(call("bump", &[]), ret(&[I32(7)]));
    assert_eq!(call("k", &[]), ret(&[I64(77)]));
    assert!(matches!(
        call("div", &[I32(1), I32(0)]),
        Outcome::Trapped(_)
    ));
    assert_eq!(call("div", &[I32(-7), I32(2)]), ret(&[I32(-3)]));
    assert_eq!(call("size", &[]), ret(&[I32(1)]));
    assert!(matches!(call("load8", &[I32(70000)]), Outcome::Trapped(_)));
    assert_eq!(call("grow", &[I32(2)]), ret(&[I32(1)]));
    assert_eq!(call("size", &[]), ret(&[I32(3)]));
    assert_eq!(call("load8", &[I32(70000)]), ret(&[I32(0)]));
    assert_eq!(call("store", &[I32(3 * 65536 - 4), I32(9)]), ret(&[]));
    assert_eq!(call("load", &[I32(3 * 65536 - 4)]), ret(&[I32(9)]));
    assert!(matches!(
        call("load", &[I32(3 * 65536 - 3)]),
        Outcome::Trapped(_)
    ));
    assert_eq!(call("grow", &[I32(2)]), ret(&[I32(-1)]));
    assert_eq!(call("grow", &[I32(1)]), ret(&[I32(3)]));
    assert_eq!(call("grow", &[I32(0)]), ret(&[I32(4)]));
    assert_eq!(call("fill", &[I32(200), I32(0x41), I32(3)]), ret(&[]));
    assert_eq!(call("load", &[I32(200)]), ret(&[I32(0x414141)]));
    assert_eq!(call("copy", &[I32(201), I32(200), I32(3)]), ret(&[]));
    assert_eq!(call("load", &[I32(200)]), ret(&[I32(0x41414141)]));
    assert!(matches!(
        call("fill", &[I32(4 * 65536 - 1), I32(0), I32(2)]),
        Outcome::Trapped(_)
    ));
}

#[test]
fn module_on_jam_v1() {
    check(&WasmOptions::default());
}

#[test]
fn module_on_gp_0_7_2() {
    let mut options = WasmOptions::default();
    options.backend.flavour = pvm_isa::Flavour::Gp072;
    check(&options);
}

/// `memory.copy` (overlapping both ways) and `memory.fill` move words and then bytes: every
/// length and misalignment around the word size gives what `copy_within` and `fill` give.
#[test]
fn bulk_memory_matches_a_model() {
    const BULK: &str = r#"
    (module
      (memory 1)
      (data $pattern "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL")
      (func (export "reset") (memory.init $pattern (i32.const 0) (i32.const 0) (i32.const 48)))
      (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
      (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
      (func (export "word") (param i32) (result i64) (i64.load (local.get 0))))
    "#;
    let pattern = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
    let wasm = parse(BULK.as_bytes()).unwrap();
    let program = compile(&wasm, &WasmOptions::default()).unwrap();
    let mut host = DefaultHost::new();
    let mut inst = WasmInstance::new(&program, &RunConfig::default(), &mut host).unwrap();
    let mut call =
        |name: &str, args: &[Value]| match inst.invoke(name, args, &mut host).unwrap().outcome {
            Outcome::Returned(values) => values,
            other => panic!("{name}{args:?}: {other:?}"),
        };
    let read = |call: &mut dyn FnMut(&str, &[Value]) -> Vec<Value>| -> Vec<u8> {
        (0..6)
            .flat_map(|i| match call("word", &[Value::I32(i * 8)])[0] {
                Value::I64(w) => w.to_le_bytes(),
                ref other => panic!("{other:?}"),
            })
            .collect()
    };
    let lengths = [0, 1, 7, 8, 9, 15, 16, 17, 23];
    for dst in 0..10 {
        for src in 0..10 {
            for len in lengths {
                call("reset", &[]);
                call("copy", &[Value::I32(dst), Value::I32(src), Value::I32(len)]);
                let mut model = pattern.to_vec();
                model.copy_within(src as usize..(src + len) as usize, dst as usize);
                assert_eq!(read(&mut call), model, "copy({dst}, {src}, {len})");
            }
        }
        for len in lengths {
            call("reset", &[]);
            call(
                "fill",
                &[Value::I32(dst), Value::I32(0x1ff), Value::I32(len)],
            );
            let mut model = pattern.to_vec();
            model[dst as usize..(dst + len) as usize].fill(0xff);
            assert_eq!(read(&mut call), model, "fill({dst}, 0x1ff, {len})");
        }
    }
}
