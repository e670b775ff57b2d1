//! Frames and calls measured on polkavm: what shrink wrapping saves, and the calls the
//! backend refuses with an error rather than miscompiling.

use cranelift_reader::parse_functions;
use pvm_backend::abi::{reg_of, ARG_REGS, RETURN_REGS};
use pvm_backend::link::{LinkOptions, Linker, Symbol};
use pvm_backend::{compile_function_code, CompileError, Options};
use pvm_machine::{DefaultHost, Exit, Machine, RunConfig, SpiStart};

/// Functions with an early exit before the work that needs a frame.
const EARLY_EXITS: &str = "
function %fib(i64) -> i64 {
    fn0 = %fib(i64) -> i64
block0(v0: i64):
    v1 = icmp_imm ult v0, 2
    brif v1, block1, block2
block1:
    return v0
block2:
    v2 = iadd_imm v0, -1
    v3 = call fn0(v2)
    v4 = iadd_imm v0, -2
    v5 = call fn0(v4)
    v6 = iadd v3, v5
    return v6
}

function %g(i64) -> i64 {
block0(v0: i64):
    v1 = band_imm v0, 7
    return v1
}

function %sum_calls(i64) -> i64 {
    fn0 = %g(i64) -> i64
block0(v0: i64):
    v1 = iconst.i64 0
    brif v0, block1(v1, v1), block3(v1)
block1(v2: i64, v3: i64):
    v4 = call fn0(v2)
    v5 = iadd v3, v4
    v6 = iadd_imm v2, 1
    v7 = icmp ult v6, v0
    brif v7, block1(v6, v5), block3(v5)
block3(v8: i64):
    return v8
}

function %shared_return(i64) -> i64 {
    fn0 = %g(i64) -> i64
block0(v0: i64):
    brif v0, block1, block2(v0)
block1:
    v1 = call fn0(v0)
    v2 = iadd v1, v0
    jump block2(v2)
block2(v3: i64):
    v4 = imul_imm v3, 3
    return v4
}
";

/// A linked program.
struct Program {
    linked: pvm_backend::link::LinkedProgram,
}

fn build(source: &str, options: &Options) -> Result<Program, CompileError> {
    let functions = parse_functions(source).expect("the test's CLIF parses");
    let mut linker = Linker::new(options.flavour);
    for func in &functions {
        let emitted = compile_function_code(func, options)?;
        linker.add_function(Symbol::of_function(func), &emitted.code)?;
    }
    let options = LinkOptions {
        stack_size: 1 << 16,
        ..LinkOptions::default()
    };
    Ok(Program {
        linked: linker.link(&options)?,
    })
}

impl Program {
    /// Runs `name(arg)`: its result and the gas used.
    fn run(&self, name: &str, arg: u64) -> (u64, i64) {
        let pc = self
            .linked
            .function_pc(&Symbol::Name(name.into()))
            .expect("the function is linked");
        let start = SpiStart::new(Vec::new())
            .at_pc(pc)
            .with_reg(reg_of(ARG_REGS[0]), arg);
        let report = Machine::new()
            .load_standard(
                &self.linked.program,
                self.linked.flavour,
                &start,
                &RunConfig::with_gas(1 << 30),
            )
            .expect("the program loads")
            .run(&mut DefaultHost::new())
            .expect("the program runs");
        assert_eq!(report.exit, Exit::Halt, "{name}({arg})");
        let result = report.regs[usize::from(reg_of(RETURN_REGS[0]).index())];
        (result, report.gas_used)
    }

    /// Bytes of `name`'s code: up to the next function's, or the end.
    fn size(&self, name: &str) -> u32 {
        let functions = &self.linked.functions;
        let index = functions
            .iter()
            .position(|(symbol, _)| *symbol == Symbol::Name(name.into()))
            .expect("the function is linked");
        let end = functions
            .get(index + 1)
            .map_or_else(|| self.linked.code.blob.code.len() as u32, |&(_, pc)| pc);
        end - functions[index].1
    }
}

#[test]
fn shrink_wrapping_frees_early_exits_from_frame_code() {
    let wrapped = build(EARLY_EXITS, &Options::default()).unwrap();
    let at_entry = build(
        EARLY_EXITS,
        &Options {
            shrink_wrap: false,
            ..Options::default()
        },
    )
    .unwrap();
    // (function, argument, result, gas with shrink wrapping, gas without).
    let cases = [
        ("fib", 0, 0, 2, 8),
        ("fib", 1, 1, 2, 8),
        ("fib", 20, 6765, 229_847, 295_523),
        ("sum_calls", 0, 0, 4, 15),
        ("sum_calls", 100, 342, 720, 1_216),
        ("shared_return", 0, 0, 3, 11),
        // The path through the call pays a move for the split live ranges.
        ("shared_return", 5, 30, 16, 15),
    ];
    let mut measured = Vec::new();
    for (name, arg, result, _, _) in cases {
        let (with, gas_with) = wrapped.run(name, arg);
        let (without, gas_without) = at_entry.run(name, arg);
        assert_eq!((with, without), (result, result), "{name}({arg})");
        measured.push((name, arg, result, gas_with, gas_without));
    }
    assert_eq!(measured, cases);
    // Bytes of code: (function, with shrink wrapping, without).
    let sizes: Vec<_> = ["fib", "sum_calls", "shared_return"]
        .into_iter()
        .map(|name| (name, wrapped.size(name), at_entry.size(name)))
        .collect();
    assert_eq!(
        sizes,
        [
            ("fib", 55, 61),
            ("sum_calls", 62, 73),
            ("shared_return", 36, 38)
        ]
    );
}

/// The error compiling the function of `source`.
fn compile_error(source: &str) -> String {
    let func = &parse_functions(source).expect("the test's CLIF parses")[0];
    match compile_function_code(func, &Options::default()) {
        Ok(_) => panic!("{} compiled", func.name),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_tail_call_needing_more_stack_arguments_than_the_caller_received_is_refused() {
    let error = compile_error(
        "
function %grow(i64) -> i64 tail {
    fn0 = %h(i64, i64, i64, i64, i64, i64, i64, i64, i64) -> i64 tail
block0(v0: i64):
    return_call fn0(v0, v0, v0, v0, v0, v0, v0, v0, v0)
}",
    );
    assert_eq!(
        error,
        "unsupported instruction: a tail call with 16 bytes of stack arguments from a function \
         whose caller provides 0 bytes of argument area"
    );
}

#[test]
fn an_indirect_tail_call_with_every_argument_register_in_use_is_refused() {
    let error = compile_error(
        "
function %ind(i64, i64) -> i64 tail {
    sig0 = (i64, i64, i64, i64, i64, i64, i64) -> i64 tail
block0(v0: i64, v1: i64):
    return_call_indirect sig0, v0(v1, v1, v1, v1, v1, v1, v1)
}",
    );
    assert_eq!(
        error,
        "unsupported instruction: an indirect tail call with 7 argument words leaves no register \
         for its target"
    );
}

#[test]
fn a_call_to_a_library_function_is_refused() {
    let error = compile_error(
        "
function %f(i64) -> i64 {
    fn0 = %CeilF32(i64) -> i64
block0(v0: i64):
    v1 = call fn0(v0)
    return v1
}",
    );
    assert_eq!(
        error,
        "unsupported instruction: `%CeilF32`: only functions the program defines can be called \
         or addressed"
    );
}

#[test]
fn a_tail_call_within_the_argument_area_it_received_compiles() {
    let source = "
function %within(i64, i64, i64, i64, i64, i64, i64, i64, i64) -> i64 tail {
    fn0 = %h(i64, i64, i64, i64, i64, i64, i64, i64, i64) -> i64 tail
block0(v0: i64, v1: i64, v2: i64, v3: i64, v4: i64, v5: i64, v6: i64, v7: i64, v8: i64):
    return_call fn0(v8, v7, v6, v5, v4, v3, v2, v1, v0)
}";
    let func = &parse_functions(source).unwrap()[0];
    let emitted = compile_function_code(func, &Options::default()).unwrap();
    assert!(!emitted.frame.saves_return_address);
}
