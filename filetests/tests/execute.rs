//! The harness itself: a call returns what the function computes, and a trap is a trap.

use cranelift_codegen::data_value::DataValue;
use pvm_backend::Options;
use pvm_filetests::execute::{execute, Outcome};

fn func(text: &str) -> cranelift_codegen::ir::Function {
    cranelift_reader::parse_functions(text).unwrap().remove(0)
}

#[test]
fn returns_and_traps() {
    let f = func(
        "function %f(i64, i64) -> i64 {
         block0(v0: i64, v1: i64):
             v2 = iadd v0, v1
             brif v2, block1, block2
         block1:
             return v2
         block2:
             trap user1
         }",
    );
    let call = execute(
        &f,
        &[DataValue::I64(40), DataValue::I64(2)],
        &Options::default(),
    )
    .unwrap();
    assert_eq!(call.outcome, Outcome::Returned(vec![DataValue::I64(42)]));
    let call = execute(
        &f,
        &[DataValue::I64(-2), DataValue::I64(2)],
        &Options::default(),
    )
    .unwrap();
    assert!(matches!(call.outcome, Outcome::Trapped(_)), "{call:?}");
}
