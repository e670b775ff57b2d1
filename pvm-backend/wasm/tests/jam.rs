//! JAM entry points: a service's `refine` at pc 0 and `accumulate` at pc 5 get their argument
//! bytes as `(ptr, len)` in linear memory and return `ptr | len << 32` as the SPI output.

use pvm_machine::{run_standard, DefaultHost, Exit, RunConfig, SpiStart};
use pvm_wasm::{compile, parse, WasmOptions};

const SERVICE: &str = r#"
(module
  (memory 1 16)
  (global $calls (mut i32) (i32.const 0))
  (func $start (global.set $calls (i32.const 100)))
  (start $start)
  ;; Reverses the argument bytes into a buffer at 1024 and appends the start global's byte.
  (func (export "refine") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (i32.store8 offset=1024
        (i32.sub (i32.sub (local.get $len) (local.get $i)) (i32.const 1))
        (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store8 offset=1024 (local.get $len) (global.get $calls))
    (i64.or (i64.const 1024)
            (i64.shl (i64.extend_i32_u (i32.add (local.get $len) (i32.const 1))) (i64.const 32))))
  ;; The sum of the argument bytes, as a 4-byte output.
  (func (export "accumulate") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $sum i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
      (local.set $sum (i32.add (local.get $sum)
        (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.store (i32.const 2048) (local.get $sum))
    (i64.or (i64.const 2048) (i64.shl (i64.const 4) (i64.const 32))))
)
"#;

fn run(options: &WasmOptions, pc: u32, args: &[u8]) -> (Vec<u8>, i64) {
    let wasm = parse(SERVICE.as_bytes()).unwrap();
    let program = compile(&wasm, options).unwrap();
    let report = run_standard(
        program.standard(),
        options.backend.flavour,
        &SpiStart::new(args.to_vec()).at_pc(pc),
        &RunConfig::default(),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::Halt);
    (report.output.expect("output"), report.gas_used)
}

fn options(flavour: pvm_isa::Flavour) -> WasmOptions {
    let mut options = WasmOptions::default();
    options.backend.flavour = flavour;
    options.imports = pvm_wasm::ImportMap::jam(flavour);
    options.entries = vec![
        ("refine".into(), "refine".into()),
        ("accumulate".into(), "accumulate".into()),
    ];
    options
}

#[test]
fn refine_and_accumulate_on_both_flavours() {
    for flavour in [pvm_isa::Flavour::JamV1, pvm_isa::Flavour::Gp072] {
        let options = options(flavour);
        assert_eq!(run(&options, 0, b"hello").0, b"olleh\x64");
        assert_eq!(run(&options, 0, b"").0, b"\x64");
        assert_eq!(run(&options, 5, b"abc").0, 294u32.to_le_bytes());
        let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let sum: u32 = big.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(run(&options, 5, &big).0, sum.to_le_bytes());
    }
}

/// The gas of growing memory for the argument bytes, per flavour: jam-v1 asks the host
/// (`grow_heap`), gp-0.7.2 has the pages reserved and only moves the size.
#[test]
fn growth_gas_per_flavour() {
    let jam = run(&options(pvm_isa::Flavour::JamV1), 5, b"abc").1;
    let gp = run(&options(pvm_isa::Flavour::Gp072), 5, b"abc").1;
    // jam-v1 pays the host call (an `ecalli` block plus 10 gas of host cost); gp-0.7.2 pays a
    // load of the current size in every bounds check instead.
    assert_eq!((jam, gp), (142, 139), "jam-v1 {jam}, gp-0.7.2 {gp}");
}
