//! The harness itself: a call returns what the function computes, a trap is a trap, and
//! functions compiled together call each other.

use cranelift_codegen::data_value::DataValue;
use pvm_backend::link::Symbol;
use pvm_backend::Options;
use pvm_filetests::execute::{execute, FunctionSet, Outcome};

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

#[test]
fn a_function_set_links_what_the_entry_reaches() {
    let functions = cranelift_reader::parse_functions(
        "function %inc(i64) -> i64 {
         block0(v0: i64):
             v1 = iadd_imm v0, 1
             return v1
         }
         function %inc_twice(i64) -> i64 {
             fn0 = %inc(i64) -> i64
         block0(v0: i64):
             v1 = call fn0(v0)
             v2 = call fn0(v1)
             return v2
         }
         function %broken(i64) -> i64 {
             fn0 = %missing(i64) -> i64
         block0(v0: i64):
             v1 = call fn0(v0)
             return v1
         }",
    )
    .unwrap();
    let mut set = FunctionSet::new(&Options::default());
    for f in &functions {
        set.add(f).unwrap();
    }
    let inc_twice = set.executable(&Symbol::of_function(&functions[1])).unwrap();
    let call = inc_twice.call(&[DataValue::I64(40)]).unwrap();
    assert_eq!(call.outcome, Outcome::Returned(vec![DataValue::I64(42)]));
    // `%broken` is left out of that program, but cannot be linked on its own.
    let error = set.executable(&Symbol::of_function(&functions[2]));
    assert_eq!(
        error.err().map(|e| e.to_string()),
        Some("link error: %missing is used but not defined".to_owned())
    );
    let error = set.executable(&Symbol::Name("nothing".into()));
    assert_eq!(
        error.err().map(|e| e.to_string()),
        Some("no function %nothing was compiled".to_owned())
    );
}
