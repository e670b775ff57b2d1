//! Linker errors name the function at fault.

use pvm_backend::link::{FunctionCode, Item, Linker, Symbol};
use pvm_backend::CompileError;
use pvm_isa::{Flavour, Instruction};

/// Code jumping to a label it never binds is refused when it is added, with the function's
/// name (the wasm spec tests' loop.wast once produced such code: "label L385 is used but
/// never bound", naming no function).
#[test]
fn unbound_label_names_the_function() {
    let mut code = FunctionCode::default();
    let bound = code.new_label();
    let unbound = code.new_label();
    code.push(Item::Bind(bound));
    code.push(Item::Inst(Instruction::jump(bound)));
    code.push(Item::Inst(Instruction::jump(unbound)));
    let mut linker = Linker::new(Flavour::JamV1);
    match linker.add_function(Symbol::Name("spin".into()), &code) {
        Err(CompileError::Internal(message)) => {
            assert_eq!(message, "%spin: local label 1 is used but never bound")
        }
        other => panic!("{other:?}"),
    }
    let mut fixed = FunctionCode::default();
    let label = fixed.new_label();
    fixed.push(Item::Bind(label));
    fixed.push(Item::Inst(Instruction::jump(label)));
    linker
        .add_function(Symbol::Name("spin".into()), &fixed)
        .unwrap();
}
