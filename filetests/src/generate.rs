//! Seeded random integer CLIF functions, for differential testing.
//!
//! [`generate`] turns a seed into one function that the verifier accepts: integer parameters
//! and results, straight-line code, if/else diamonds and switches that merge through block
//! parameters, counted loops, trap checks and stack slots. Which opcodes and types appear is a
//! [`Config`], so a test can start with what a backend lowers and widen as it grows.
//! [`arguments`] draws argument sets for a function from a seed of their own.
//!
//! [`generate_program`] makes several such functions, `%f0`, `%f1` … (the last is the entry),
//! that call each other: a function calls lower-numbered ones directly (`call`), through
//! their addresses (`func_addr`, sometimes chosen by a `select`, then `call_indirect`), and
//! in tail position (`return_call`, `return_call_indirect`) where the results match; now and
//! then a function calls itself with a counter that counts down. Signatures have up to
//! [`Config::max_params`] parameters (some then go on the stack) and up to
//! [`Config::max_returns`] results, and often repeat an earlier function's, so that tail calls
//! and indirect calls find matches.
//!
//! Every generated function is deterministic and terminates:
//! - a loop counts a block parameter from 0 up to a constant of at most [`Config::max_trips`],
//!   and nothing else can change the counter;
//! - every stack slot is completely written in the entry block before anything can read it;
//! - a function calls only lower-numbered functions, and itself only with a counter, capped
//!   at [`Config::max_recursion`] on entry, that is not zero and goes down by one per call;
//! - what one call runs, callees included, is estimated and kept under [`Config::max_cost`],
//!   so that calls in loops of functions that call in loops do not multiply without end.
//!
//! Constants and arguments lean towards the values where integer semantics have edges (0, 1,
//! -1, MIN, MAX, the width and the width minus one; for 64-bit values also the edges of a
//! 32-bit immediate), so that division traps, signed overflow and out-of-range shift amounts
//! come up often.

use cranelift_codegen::data_value::DataValue;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, AbiParam, Block, ExtFuncData, ExternalName, FuncRef, Function, InstBuilder,
    JumpTableData, Opcode, SigRef, Signature, StackSlot, StackSlotData, StackSlotKind, TrapCode,
    Type, UserFuncName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use rand::{Rng, RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use std::collections::{HashMap, HashSet};

/// Every opcode the generator can emit. `brif` makes if/else diamonds and, with `iadd` and
/// `icmp`, counted loops; `br_table` makes switches; `jump` closes them all; `trap` ends an
/// if/else arm now and then; `trapz`/`trapnz` check a condition.
pub const ALL_OPCODES: &[Opcode] = &[
    Opcode::Iconst,
    Opcode::Iadd,
    Opcode::Isub,
    Opcode::Imul,
    Opcode::Umulhi,
    Opcode::Smulhi,
    Opcode::Udiv,
    Opcode::Sdiv,
    Opcode::Urem,
    Opcode::Srem,
    Opcode::Band,
    Opcode::Bor,
    Opcode::Bxor,
    Opcode::Bnot,
    Opcode::BandNot,
    Opcode::BorNot,
    Opcode::BxorNot,
    Opcode::Ishl,
    Opcode::Ushr,
    Opcode::Sshr,
    Opcode::Rotl,
    Opcode::Rotr,
    Opcode::Clz,
    Opcode::Ctz,
    Opcode::Cls,
    Opcode::Popcnt,
    Opcode::Bswap,
    Opcode::Bitrev,
    Opcode::Sextend,
    Opcode::Uextend,
    Opcode::Ireduce,
    Opcode::Icmp,
    Opcode::Select,
    Opcode::Bmask,
    Opcode::Iabs,
    Opcode::Smin,
    Opcode::Smax,
    Opcode::Umin,
    Opcode::Umax,
    Opcode::Brif,
    Opcode::Jump,
    Opcode::BrTable,
    Opcode::StackStore,
    Opcode::StackLoad,
    Opcode::Trap,
    Opcode::Trapz,
    Opcode::Trapnz,
];

/// The opcodes of calls between a program's functions ([`generate_program`]): direct and
/// indirect calls, tail calls of both kinds, and `func_addr` for the indirect ones. A single
/// function ([`generate`]) has nothing to call and never emits them.
pub const CALL_OPCODES: &[Opcode] = &[
    Opcode::Call,
    Opcode::CallIndirect,
    Opcode::FuncAddr,
    Opcode::ReturnCall,
    Opcode::ReturnCallIndirect,
];

/// Every integer type the generator can use.
pub const ALL_TYPES: &[Type] = &[types::I8, types::I16, types::I32, types::I64, types::I128];

/// Two-operand ops whose operands and result share one type.
const BINARY: &[Opcode] = &[
    Opcode::Iadd,
    Opcode::Isub,
    Opcode::Imul,
    Opcode::Umulhi,
    Opcode::Smulhi,
    Opcode::Band,
    Opcode::Bor,
    Opcode::Bxor,
    Opcode::BandNot,
    Opcode::BorNot,
    Opcode::BxorNot,
    Opcode::Smin,
    Opcode::Smax,
    Opcode::Umin,
    Opcode::Umax,
];
/// Divisions: binary, with divisors that lean towards 0, -1 and 1.
const DIVISION: &[Opcode] = &[Opcode::Udiv, Opcode::Sdiv, Opcode::Urem, Opcode::Srem];
/// Shifts and rotates: the amount may have any integer type.
const SHIFT: &[Opcode] = &[
    Opcode::Ishl,
    Opcode::Ushr,
    Opcode::Sshr,
    Opcode::Rotl,
    Opcode::Rotr,
];
/// One-operand ops whose operand and result share one type.
const UNARY: &[Opcode] = &[
    Opcode::Bnot,
    Opcode::Clz,
    Opcode::Ctz,
    Opcode::Cls,
    Opcode::Popcnt,
    Opcode::Bswap,
    Opcode::Bitrev,
    Opcode::Iabs,
];
/// The remaining straight-line ops.
const OTHER: &[Opcode] = &[
    Opcode::Iconst,
    Opcode::Sextend,
    Opcode::Uextend,
    Opcode::Ireduce,
    Opcode::Icmp,
    Opcode::Select,
    Opcode::Bmask,
    Opcode::StackStore,
    Opcode::StackLoad,
];

/// The size of every stack slot.
const SLOT_SIZE: u32 = 16;

/// What the generator may emit, and how much.
#[derive(Clone, Debug)]
pub struct Config {
    /// The opcodes it may emit (`return` always).
    pub opcodes: Vec<Opcode>,
    /// The types of parameters, results and values (an `icmp` result is `i8` regardless).
    pub types: Vec<Type>,
    /// Opcodes never emitted at a controlling type: the result type, except the compared type
    /// for `icmp` and the condition type for `brif`, `trapz` and `trapnz`.
    pub excluded: Vec<(Opcode, Type)>,
    /// Instructions per function, roughly, at most.
    pub max_insts: usize,
    /// How deeply diamonds, switches and loops nest, at most.
    pub max_depth: usize,
    /// How many times a loop body runs, at most.
    pub max_trips: u8,
    /// Functions per program ([`generate_program`]), at most; there are at least 2.
    pub max_functions: usize,
    /// Parameters of a program's functions other than the entry, at most (the entry's
    /// arguments fit [`ENTRY_WORDS`]).
    pub max_params: usize,
    /// Results of a program's functions, at most.
    pub max_returns: usize,
    /// Instructions that one call of a program's function may run, callees included, at
    /// most, roughly: calls are left out where they would exceed it.
    pub max_cost: u64,
    /// How deep a self-recursive function recurses, at most.
    pub max_recursion: u8,
    /// Whether a function of the first signature may tail-call one of the second, indirectly
    /// if the flag says so: a test leaves out the tail calls its backend refuses.
    pub allows_tail_call: fn(&Signature, &Signature, bool) -> bool,
}

impl Config {
    /// These opcodes and types, with functions of modest size.
    pub fn new(opcodes: &[Opcode], types: &[Type]) -> Config {
        Config {
            opcodes: opcodes.to_vec(),
            types: types.to_vec(),
            excluded: Vec::new(),
            max_insts: 48,
            max_depth: 3,
            max_trips: 4,
            max_functions: 5,
            max_params: 10,
            max_returns: 3,
            max_cost: 2000,
            max_recursion: 3,
            allows_tail_call: |_, _, _| true,
        }
    }

    /// Never emits `opcode` at any of `types`.
    pub fn excluding(mut self, opcode: Opcode, types: &[Type]) -> Config {
        self.excluded.extend(types.iter().map(|&ty| (opcode, ty)));
        self
    }

    /// Whether `opcode` may be emitted at controlling type `ty`.
    pub fn allows(&self, opcode: Opcode, ty: Type) -> bool {
        self.opcodes.contains(&opcode)
            && self.types.contains(&ty)
            && !self.excluded.contains(&(opcode, ty))
            && shape_allows(opcode, ty)
    }

    fn has(&self, opcode: Opcode) -> bool {
        self.opcodes.contains(&opcode)
    }
}

/// What CLIF itself allows: `iconst` is at most 64 bits wide, `bswap` needs two bytes, and
/// extensions and reductions need a narrower or wider type to come from.
fn shape_allows(opcode: Opcode, ty: Type) -> bool {
    match opcode {
        Opcode::Iconst => ty.bits() <= 64,
        Opcode::Bswap => ty.bits() >= 16,
        Opcode::Sextend | Opcode::Uextend => ty.bits() > 8,
        Opcode::Ireduce => ty.bits() < 128,
        Opcode::BrTable => ty == types::I32,
        _ => true,
    }
}

/// A value of `ty` (as a sign-extended `i128`) that is often at an edge of integer semantics,
/// or, for the wide types, at an edge of PVM's 32-bit immediates.
pub fn interesting_value(rng: &mut impl Rng, ty: Type) -> i128 {
    let bits = ty.bits();
    let width = i128::from(bits);
    let value = match rng.random_range(0..26) {
        0 | 1 => 0,
        2 | 3 => 1,
        4 | 5 => -1,
        6 => i128::MIN >> (128 - bits),
        7 => i128::MAX >> (128 - bits),
        8 => (i128::MIN >> (128 - bits)) + 1,
        9 => width - 1,
        10 => width,
        11 => width + 1,
        12 => 2,
        13 => 1 << rng.random_range(0..bits),
        14 => rng.random_range(-16..16),
        15 if bits > 32 => {
            let edges = [
                i128::from(i32::MIN),
                i128::from(i32::MAX),
                i128::from(u32::MAX),
                i128::from(i32::MAX) + 1,
                i128::from(i32::MIN) - 1,
            ];
            edges[rng.random_range(0..edges.len())]
        }
        _ => rng.random(),
    };
    wrap(value, ty)
}

/// `value` reduced to `ty` and sign-extended back.
fn wrap(value: i128, ty: Type) -> i128 {
    let shift = 128 - ty.bits();
    (value << shift) >> shift
}

/// `count` argument sets for `signature`, drawn from `seed`.
pub fn arguments(seed: u64, signature: &Signature, count: usize) -> Vec<Vec<DataValue>> {
    let mut rng = XorShiftRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            signature
                .params
                .iter()
                .map(|param| {
                    let value = interesting_value(&mut rng, param.value_type);
                    DataValue::from_integer(value, param.value_type)
                        .expect("the generator passes only integer types")
                })
                .collect()
        })
        .collect()
}

/// The function that `seed` and `config` make; it always verifies.
///
/// # Panics
///
/// If `config` has no types.
pub fn generate(seed: u64, config: &Config) -> Function {
    assert!(!config.types.is_empty(), "the generator needs a type");
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let types = palette(&mut rng, config);
    let signature = random_signature(&mut rng, config, &types);
    build(rng, config, types, "f", signature, &[], None).0
}

/// Argument (and result) words, at most, of a program's entry: what the PVM calling
/// convention passes in registers, so that a harness can call it directly.
pub const ENTRY_WORDS: usize = 7;

/// The program that `seed` and `config` make: functions `%f0`, `%f1` …, each calling only
/// lower-numbered ones and itself (see the module documentation); the last is the entry.
/// Every function verifies.
///
/// # Panics
///
/// If `config` has no types.
pub fn generate_program(seed: u64, config: &Config) -> Vec<Function> {
    assert!(!config.types.is_empty(), "the generator needs a type");
    let mut rng = XorShiftRng::seed_from_u64(seed);
    let count = rng.random_range(2..=config.max_functions.max(2));
    let mut callees: Vec<Callee> = Vec::new();
    let mut functions = Vec::new();
    for index in 0..count {
        let entry = index + 1 == count;
        let mut types = palette(&mut rng, config);
        let signature = program_signature(&mut rng, config, &types, &callees, entry);
        for param in signature.params.iter().chain(&signature.returns) {
            if !types.contains(&param.value_type) {
                types.push(param.value_type);
            }
        }
        let recursion = recursion_limit(&mut rng, config, &signature);
        let name = format!("f{index}");
        let function_rng = XorShiftRng::seed_from_u64(rng.random());
        let (func, cost) = build(
            function_rng,
            config,
            types,
            &name,
            signature.clone(),
            &callees,
            recursion,
        );
        functions.push(func);
        callees.push(Callee {
            name,
            signature,
            cost,
        });
    }
    functions
}

/// A function a program's later functions may call.
struct Callee {
    /// Its test-case name, without the `%`.
    name: String,
    signature: Signature,
    /// The instructions one call runs, at most, roughly.
    cost: u64,
}

/// The function named `name` with `signature`, calling `callees` and, if `recursion` is
/// given, itself down to that depth; and what one call of it runs, roughly.
fn build(
    mut rng: XorShiftRng,
    config: &Config,
    types: Vec<Type>,
    name: &str,
    signature: Signature,
    callees: &[Callee],
    recursion: Option<u8>,
) -> (Function, u64) {
    let mut func = Function::with_name_signature(UserFuncName::testcase(name), signature);
    let mut context = FunctionBuilderContext::new();
    let budget = rng.random_range(4..=config.max_insts.max(4));
    // Each level of recursion runs the whole body again.
    let levels = recursion.map_or(1, |depth| u64::from(depth) + 1);
    let mut generator = Generator {
        rng,
        config,
        types,
        builder: FunctionBuilder::new(&mut func, &mut context),
        scope: Vec::new(),
        unused: HashSet::new(),
        slots: Vec::new(),
        budget,
        name,
        callees,
        imported: HashMap::new(),
        weight: 1,
        cost: 0,
        max_cost: config.max_cost / levels,
        recursion_limit: recursion,
        counter: None,
    };
    generator.body();
    let cost = generator.cost.saturating_mul(levels);
    generator.builder.seal_all_blocks();
    generator.builder.finalize();
    (func, cost)
}

/// A signature for a program's function: often an earlier function's, or with an earlier
/// function's results, so that indirect calls can choose between functions and tail calls
/// find callees; otherwise up to [`Config::max_params`] parameters and
/// [`Config::max_returns`] results. The entry's arguments and results fit [`ENTRY_WORDS`].
fn program_signature(
    rng: &mut XorShiftRng,
    config: &Config,
    types: &[Type],
    callees: &[Callee],
    entry: bool,
) -> Signature {
    let max_words = if entry { ENTRY_WORDS } else { usize::MAX };
    let fits = |params: &[AbiParam]| {
        params.iter().map(|p| words(p.value_type)).sum::<usize>() <= max_words
    };
    if let Some(callee) = choose(rng, callees) {
        if rng.random_ratio(1, 4)
            && fits(&callee.signature.params)
            && fits(&callee.signature.returns)
        {
            return callee.signature.clone();
        }
    }
    let mut signature = Signature::new(CallConv::Tail);
    let mut arg_words = 0;
    for _ in 0..rng.random_range(0..=config.max_params) {
        let ty = random_type(rng, types);
        if arg_words + words(ty) <= max_words {
            arg_words += words(ty);
            signature.params.push(AbiParam::new(ty));
        }
    }
    let suppliable = |signature: &Signature, ty: Type| {
        signature.params.iter().any(|p| p.value_type == ty) || can_make_constant(config, ty)
    };
    if let Some(callee) = choose(rng, callees) {
        if rng.random_ratio(1, 3)
            && fits(&callee.signature.returns)
            && callee
                .signature
                .returns
                .iter()
                .all(|r| suppliable(&signature, r.value_type))
        {
            signature.returns = callee.signature.returns.clone();
            return signature;
        }
    }
    let candidates: Vec<Type> = types
        .iter()
        .copied()
        .filter(|&ty| suppliable(&signature, ty))
        .collect();
    let mut result_words = 0;
    for _ in 0..rng.random_range(0..=config.max_returns) {
        let Some(&ty) = choose(rng, &candidates) else {
            break;
        };
        if result_words + words(ty) <= max_words {
            result_words += words(ty);
            signature.returns.push(AbiParam::new(ty));
        }
    }
    signature
}

/// How deep a function with `signature` recurses, if it does: its first parameter is the
/// counter, which needs a type `iconst` makes and the ops that cap and count it down.
fn recursion_limit(rng: &mut XorShiftRng, config: &Config, signature: &Signature) -> Option<u8> {
    let ty = signature.params.first()?.value_type;
    let able = [Opcode::Iconst, Opcode::Umin, Opcode::Isub]
        .iter()
        .all(|&op| config.allows(op, ty))
        && config.has(Opcode::Brif)
        && (config.has(Opcode::Call) || config.has(Opcode::ReturnCall));
    (able && rng.random_ratio(1, 4)).then(|| rng.random_range(1..=config.max_recursion.max(1)))
}

/// The 64-bit words a value of `ty` takes.
fn words(ty: Type) -> usize {
    if ty == types::I128 {
        2
    } else {
        1
    }
}

/// The types one function uses: a few of the configured ones, so that its values meet.
fn palette(rng: &mut XorShiftRng, config: &Config) -> Vec<Type> {
    let mut types = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        let ty = random_type(rng, &config.types);
        if !types.contains(&ty) {
            types.push(ty);
        }
    }
    types
}

/// At most 6 argument words and 2 result words (an `i128` takes two), as the PVM
/// calling convention passes them in registers. Results have types a constant or a parameter
/// can supply.
fn random_signature(rng: &mut XorShiftRng, config: &Config, types: &[Type]) -> Signature {
    let mut signature = Signature::new(CallConv::Fast);
    let mut arg_words = 0;
    for _ in 0..rng.random_range(1..=4) {
        let ty = random_type(rng, types);
        if arg_words + words(ty) <= 6 {
            arg_words += words(ty);
            signature.params.push(AbiParam::new(ty));
        }
    }
    let suppliable: Vec<Type> = types
        .iter()
        .copied()
        .filter(|&ty| {
            signature.params.iter().any(|p| p.value_type == ty) || can_make_constant(config, ty)
        })
        .collect();
    let mut result_words = 0;
    for _ in 0..rng.random_range(1..=2) {
        let ty = random_type(rng, &suppliable);
        if result_words + words(ty) <= 2 {
            result_words += words(ty);
            signature.returns.push(AbiParam::new(ty));
        }
    }
    signature
}

/// Whether a constant of `ty` can be made: `iconst`, or for `i128` an extended `i64` one.
fn can_make_constant(config: &Config, ty: Type) -> bool {
    if ty == types::I128 {
        config.allows(Opcode::Iconst, types::I64)
            && (config.allows(Opcode::Sextend, ty) || config.allows(Opcode::Uextend, ty))
    } else {
        config.allows(Opcode::Iconst, ty)
    }
}

/// One of `types`; `i128` a third as often as each other type.
fn random_type(rng: &mut XorShiftRng, types: &[Type]) -> Type {
    let weight = |ty: Type| if ty == types::I128 { 1 } else { 3 };
    let total: u32 = types.iter().map(|&ty| weight(ty)).sum();
    let mut pick = rng.random_range(0..total);
    for &ty in types {
        if pick < weight(ty) {
            return ty;
        }
        pick -= weight(ty);
    }
    unreachable!("the pick is below the total weight")
}

struct Generator<'a, 'f> {
    rng: XorShiftRng,
    config: &'a Config,
    /// The types this function uses.
    types: Vec<Type>,
    builder: FunctionBuilder<'f>,
    /// The values that dominate the insertion point, oldest first.
    scope: Vec<Value>,
    /// The values in `scope` that nothing uses yet.
    unused: HashSet<Value>,
    /// Stack slots, each `SLOT_SIZE` bytes, all written in the entry block.
    slots: Vec<StackSlot>,
    /// Instructions still to emit, roughly.
    budget: usize,
    /// This function's test-case name, for calls to itself.
    name: &'a str,
    /// The functions this one may call: lower-numbered ones of its program.
    callees: &'a [Callee],
    /// The callees imported so far, by index in `callees` (`None`: this function itself).
    imported: HashMap<Option<usize>, FuncRef>,
    /// How many times, at most, the code being emitted runs per call of the function: the
    /// product of the trip limits of the loops around it.
    weight: u64,
    /// The instructions one call runs, at most, roughly: its own, weighted, and its callees'.
    cost: u64,
    /// What `cost` may reach.
    max_cost: u64,
    /// How deep the function recurses, if it does.
    recursion_limit: Option<u8>,
    /// The recursion counter, once the entry block has capped the first parameter.
    counter: Option<Value>,
}

/// How an if/else arm ends.
#[derive(Clone, Copy, PartialEq)]
enum ArmEnd {
    /// By jumping to the merge block.
    Jump,
    /// By trapping.
    Trap,
    /// By a tail call, where a callee returns what the function does (else by jumping).
    TailCall,
}

impl Generator<'_, '_> {
    fn body(&mut self) {
        let entry = self.builder.create_block();
        self.builder.append_block_params_for_function_params(entry);
        self.builder.switch_to_block(entry);
        for &param in self.builder.block_params(entry).to_vec().iter() {
            self.define(param);
        }
        if let Some(limit) = self.recursion_limit {
            // Capped on entry: the counter is at most `limit` however the function is called.
            let param = self.builder.block_params(entry)[0];
            let ty = self.ty_of(param);
            let limit = self.iconst(ty, i128::from(limit));
            let counter = self.binary(Opcode::Umin, ty, param, limit);
            self.counter = Some(self.define(counter));
        }
        if self.rng.random_bool(0.5) {
            self.create_slots();
        }
        self.region(0);
        self.finish();
    }

    /// Returns the results, folded with the values nothing uses yet so that little of the
    /// function is dead; or ends in a tail call. A recursive function first calls itself
    /// unless its counter is zero.
    fn finish(&mut self) {
        if let Some(counter) = self.counter {
            self.recurse(counter);
        }
        if !self.callees.is_empty() && self.rng.random_ratio(1, 3) && self.tail_call(0) {
            return;
        }
        let returns = self.return_types();
        let results = self.outgoing(&returns, 0);
        self.builder.ins().return_(&results);
    }

    fn return_types(&self) -> Vec<Type> {
        types_of(&self.builder.func.signature.returns)
    }

    /// Unless `counter` is zero, calls this function with the counter minus one and returns
    /// what that returns (by a tail call, or a call and a return); continues where the counter
    /// is zero.
    fn recurse(&mut self, counter: Value) {
        let again = self.builder.create_block();
        let done = self.builder.create_block();
        self.spend(1);
        self.builder.ins().brif(counter, again, &[], done, &[]);
        self.builder.switch_to_block(again);
        let mark = self.scope.len();
        let ty = self.ty_of(counter);
        let one = self.iconst(ty, 1);
        let next = self.binary(Opcode::Isub, ty, counter, one);
        let params = types_of(&self.builder.func.signature.params);
        // The parameters are in scope, so a value of each of their types can be had.
        let rest: Vec<Value> = params[1..]
            .iter()
            .map(|&ty| {
                self.operand(ty)
                    .expect("a parameter of this type is in scope")
            })
            .collect();
        let args = [&[next], &rest[..]].concat();
        let callee = self.func_ref(None);
        self.spend(1);
        let own = &self.builder.func.signature;
        let tail = self.config.has(Opcode::ReturnCall)
            && (self.config.allows_tail_call)(own, own, false)
            && (!self.config.has(Opcode::Call) || self.rng.random_bool(0.5));
        if tail {
            self.builder.ins().return_call(callee, &args);
        } else {
            let call = self.builder.ins().call(callee, &args);
            for result in self.builder.inst_results(call).to_vec() {
                self.define(result);
            }
            let returns = self.return_types();
            let results = self.outgoing(&returns, mark);
            self.builder.ins().return_(&results);
        }
        self.leave(mark);
        self.builder.switch_to_block(done);
    }

    /// The callee of index `callee` in `callees` (`None`: this function), imported once.
    fn func_ref(&mut self, callee: Option<usize>) -> FuncRef {
        if let Some(&func_ref) = self.imported.get(&callee) {
            return func_ref;
        }
        let (name, signature) = match callee {
            Some(index) => (
                self.callees[index].name.as_str(),
                self.callees[index].signature.clone(),
            ),
            None => (self.name, self.builder.func.signature.clone()),
        };
        let signature = self.builder.import_signature(signature);
        let func_ref = self.builder.import_function(ExtFuncData {
            name: ExternalName::testcase(name),
            signature,
            colocated: true,
        });
        self.imported.insert(callee, func_ref);
        func_ref
    }

    /// A callee that `fits` and whose cost, run `weight` times, the budget still allows.
    fn affordable_callee(&mut self, fits: impl Fn(&Callee) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.callees.len())
            .filter(|&index| {
                let callee = &self.callees[index];
                fits(callee) && self.cost + callee.cost.saturating_mul(self.weight) <= self.max_cost
            })
            .collect();
        choose(&mut self.rng, &candidates).copied()
    }

    /// Counts a call of `callee` in the cost.
    fn charge(&mut self, callee: usize) {
        self.cost += self.callees[callee].cost.saturating_mul(self.weight);
        self.spend(1);
    }

    /// Arguments for a call of `callee`; `None` if a type cannot be had.
    fn arguments(&mut self, callee: usize) -> Option<Vec<Value>> {
        types_of(&self.callees[callee].signature.params)
            .into_iter()
            .map(|ty| self.operand(ty))
            .collect()
    }

    /// The signature and the address of `callee` for an indirect call; the address is now and
    /// then chosen by a `select` between it and another affordable callee of the same
    /// signature.
    fn callee_address(&mut self, callee: usize) -> (SigRef, Value) {
        let func_ref = self.func_ref(Some(callee));
        let signature = self.builder.func.dfg.ext_funcs[func_ref].signature;
        self.spend(1);
        let address = self.builder.ins().func_addr(types::I64, func_ref);
        if !self.config.has(Opcode::Select) || !self.rng.random_bool(0.5) {
            return (signature, address);
        }
        let wanted = self.callees[callee].signature.clone();
        let Some(other) = self.affordable_callee(|c| c.signature == wanted) else {
            return (signature, address);
        };
        let Some(condition) = self.condition(Opcode::Select) else {
            return (signature, address);
        };
        self.charge(other);
        let other_ref = self.func_ref(Some(other));
        let other_address = self.builder.ins().func_addr(types::I64, other_ref);
        self.spend(2);
        let chosen = self.builder.ins().select(condition, address, other_address);
        (signature, chosen)
    }

    /// `direct` or `indirect` (which also needs `func_addr`), chosen among those the
    /// configuration has; `None` if it has neither.
    fn call_kind(&mut self, direct: Opcode, indirect: Opcode) -> Option<Opcode> {
        let kinds: Vec<Opcode> = [
            (direct, self.config.has(direct)),
            (
                indirect,
                self.config.has(indirect) && self.config.has(Opcode::FuncAddr),
            ),
        ]
        .into_iter()
        .filter_map(|(op, able)| able.then_some(op))
        .collect();
        choose(&mut self.rng, &kinds).copied()
    }

    /// A call of a lower-numbered function, direct or indirect; its results join the scope.
    fn call_site(&mut self) {
        let Some(op) = self.call_kind(Opcode::Call, Opcode::CallIndirect) else {
            return self.straight_line();
        };
        let Some(callee) = self.affordable_callee(|_| true) else {
            return self.straight_line();
        };
        let Some(args) = self.arguments(callee) else {
            return self.spend(1);
        };
        self.charge(callee);
        let call = if op == Opcode::Call {
            let func_ref = self.func_ref(Some(callee));
            self.builder.ins().call(func_ref, &args)
        } else {
            let (signature, address) = self.callee_address(callee);
            self.builder.ins().call_indirect(signature, address, &args)
        };
        for result in self.builder.inst_results(call).to_vec() {
            self.define(result);
        }
    }

    /// Ends the block with `return_call` or `return_call_indirect` of a callee that returns
    /// what this function returns, its first argument folded with the values defined since
    /// `mark` that nothing uses yet; `false`, with the block still open, if there is none.
    fn tail_call(&mut self, mark: usize) -> bool {
        let Some(op) = self.call_kind(Opcode::ReturnCall, Opcode::ReturnCallIndirect) else {
            return false;
        };
        let returns = self.return_types();
        let caller = self.builder.func.signature.clone();
        let allows = self.config.allows_tail_call;
        let indirect = op == Opcode::ReturnCallIndirect;
        let Some(callee) = self.affordable_callee(|c| {
            types_of(&c.signature.returns) == returns && allows(&caller, &c.signature, indirect)
        }) else {
            return false;
        };
        let Some(mut args) = self.arguments(callee) else {
            return false;
        };
        if let Some(first) = args.first_mut() {
            *first = self.fold_unused(*first, mark);
        }
        self.charge(callee);
        if op == Opcode::ReturnCall {
            let func_ref = self.func_ref(Some(callee));
            self.builder.ins().return_call(func_ref, &args);
        } else {
            let (signature, address) = self.callee_address(callee);
            self.builder
                .ins()
                .return_call_indirect(signature, address, &args);
        }
        true
    }

    /// Values of `types` for a block's exit (a jump, a branch or a return), the first folded
    /// with the values defined since `mark` that nothing uses yet: those values then matter
    /// to the result.
    fn outgoing(&mut self, types: &[Type], mark: usize) -> Vec<Value> {
        let mut values: Vec<Value> = types
            .iter()
            .map(|&ty| {
                self.operand(ty)
                    .expect("outgoing types are ones whose values can be had")
            })
            .collect();
        if let Some(first) = values.first_mut() {
            *first = self.fold_unused(*first, mark);
        }
        values
    }

    /// `acc` combined with up to 8 unused values defined since `mark`, each converted to its
    /// type where the configuration can.
    fn fold_unused(&mut self, mut acc: Value, mark: usize) -> Value {
        let ty = self.ty_of(acc);
        let combine: Vec<Opcode> = [Opcode::Iadd, Opcode::Bxor, Opcode::Isub]
            .into_iter()
            .filter(|&op| self.config.allows(op, ty))
            .collect();
        if combine.is_empty() {
            return acc;
        }
        let unused: Vec<Value> = self.scope[mark..]
            .iter()
            .copied()
            .filter(|v| self.unused.contains(v))
            .collect();
        for value in unused.into_iter().take(8) {
            if let Some(value) = self.convert(value, ty) {
                let op = *choose(&mut self.rng, &combine).expect("not empty");
                acc = self.binary(op, ty, acc, value);
            }
        }
        acc
    }

    /// `value` as a `ty`, by an extension or a reduction if it has another type; `None` if
    /// the configuration has neither. Marks `value` used.
    fn convert(&mut self, value: Value, ty: Type) -> Option<Value> {
        let from = self.ty_of(value);
        let op = if from == ty {
            return Some(self.take(value));
        } else if from.bits() > ty.bits() {
            Opcode::Ireduce
        } else if self.rng.random_bool(0.5) {
            Opcode::Sextend
        } else {
            Opcode::Uextend
        };
        if !self.config.allows(op, ty) {
            return None;
        }
        let value = self.take(value);
        Some(self.unary(op, ty, value))
    }

    /// Straight-line code, diamonds, switches, loops and trap checks, until the budget runs
    /// out or a coin says stop.
    fn region(&mut self, depth: usize) {
        while self.budget > 0 && !self.rng.random_ratio(1, 10) {
            let nest = depth < self.config.max_depth && self.config.has(Opcode::Jump);
            match self.rng.random_range(0..20) {
                0 | 1 if nest && self.config.has(Opcode::Brif) => self.diamond(depth),
                2 if nest && self.can_loop() => self.counted_loop(depth),
                3 if nest && self.config.has(Opcode::BrTable) => self.switch(depth),
                4 => self.trap_check(),
                5 | 6 if !self.callees.is_empty() => self.call_site(),
                _ => self.straight_line(),
            };
        }
    }

    fn spend(&mut self, insts: usize) {
        self.budget = self.budget.saturating_sub(insts);
        self.cost = self
            .cost
            .saturating_add((insts as u64).saturating_mul(self.weight));
    }

    fn ty_of(&self, value: Value) -> Type {
        self.builder.func.dfg.value_type(value)
    }

    fn define(&mut self, value: Value) -> Value {
        self.scope.push(value);
        self.unused.insert(value);
        value
    }

    fn take(&mut self, value: Value) -> Value {
        self.unused.remove(&value);
        value
    }

    /// Leaves a nested region: its values no longer dominate the insertion point.
    fn leave(&mut self, mark: usize) {
        for value in self.scope.drain(mark..) {
            self.unused.remove(&value);
        }
    }

    /// A value of `ty`: one in scope (often one nothing uses yet), or one of another type
    /// converted, or a constant.
    fn operand(&mut self, ty: Type) -> Option<Value> {
        let in_scope: Vec<Value> = self
            .scope
            .iter()
            .copied()
            .filter(|&v| self.ty_of(v) == ty)
            .collect();
        let fresh: Vec<Value> = in_scope
            .iter()
            .copied()
            .filter(|v| self.unused.contains(v))
            .collect();
        if !fresh.is_empty() && self.rng.random_bool(0.5) {
            let value = *choose(&mut self.rng, &fresh)?;
            return Some(self.take(value));
        }
        if !in_scope.is_empty() && self.rng.random_ratio(4, 5) {
            let value = *choose(&mut self.rng, &in_scope)?;
            return Some(self.take(value));
        }
        if self.rng.random_bool(0.5) {
            if let Some(value) = self.converted(ty) {
                return Some(value);
            }
        }
        if let Some(value) = self.constant(ty) {
            return Some(value);
        }
        match self.converted(ty) {
            Some(value) => Some(value),
            None => {
                let value = *choose(&mut self.rng, &in_scope)?;
                Some(self.take(value))
            }
        }
    }

    /// A value in scope of another type, converted to `ty`, if the configuration can.
    fn converted(&mut self, ty: Type) -> Option<Value> {
        let others: Vec<Value> = self
            .scope
            .iter()
            .copied()
            .filter(|&v| self.ty_of(v) != ty)
            .collect();
        let value = *choose(&mut self.rng, &others)?;
        self.convert(value, ty)
    }

    /// A constant of `ty`, at an edge more often than not.
    fn constant(&mut self, ty: Type) -> Option<Value> {
        if !can_make_constant(self.config, ty) {
            return None;
        }
        if ty == types::I128 {
            let half = self.constant(types::I64)?;
            let op = if self.config.allows(Opcode::Sextend, ty)
                && (!self.config.allows(Opcode::Uextend, ty) || self.rng.random_bool(0.5))
            {
                Opcode::Sextend
            } else {
                Opcode::Uextend
            };
            return Some(self.unary(op, ty, half));
        }
        let value = interesting_value(&mut self.rng, ty);
        Some(self.iconst(ty, value))
    }

    fn iconst(&mut self, ty: Type, value: i128) -> Value {
        self.spend(1);
        // The verifier wants the immediate zero-extended from the type's width.
        let mask = u64::MAX >> (64 - ty.bits());
        let bits = (value as u64 & mask) as i64;
        self.builder.ins().iconst(ty, bits)
    }

    fn binary(&mut self, op: Opcode, ty: Type, x: Value, y: Value) -> Value {
        self.spend(1);
        let (inst, dfg) = self.builder.ins().Binary(op, ty, x, y);
        dfg.first_result(inst)
    }

    fn unary(&mut self, op: Opcode, ty: Type, x: Value) -> Value {
        self.spend(1);
        let (inst, dfg) = self.builder.ins().Unary(op, ty, x);
        dfg.first_result(inst)
    }

    /// A type at which the configuration allows `opcode`.
    fn type_for(&mut self, opcode: Opcode) -> Option<Type> {
        let candidates: Vec<Type> = self
            .types
            .iter()
            .copied()
            .filter(|&ty| self.config.allows(opcode, ty))
            .collect();
        (!candidates.is_empty()).then(|| random_type(&mut self.rng, &candidates))
    }

    /// A type of this function's whose values can be had here.
    fn available_type(&mut self) -> Option<Type> {
        let candidates: Vec<Type> = self
            .types
            .iter()
            .copied()
            .filter(|&ty| {
                can_make_constant(self.config, ty)
                    || self.scope.iter().any(|&v| self.ty_of(v) == ty)
            })
            .collect();
        (!candidates.is_empty()).then(|| random_type(&mut self.rng, &candidates))
    }

    /// A condition for `brif`, `select`, `trapz` or `trapnz`: a compare, or any integer
    /// (of a type the configuration allows `user` to test; `select` tests any type).
    fn condition(&mut self, user: Opcode) -> Option<Value> {
        if self.rng.random_bool(0.5) {
            if let Some(ty) = self.type_for(Opcode::Icmp) {
                let x = self.operand(ty)?;
                let y = self.operand(ty)?;
                return Some(self.icmp(x, y));
            }
        }
        let ty = if user == Opcode::Select {
            self.available_type()?
        } else {
            self.type_for(user)?
        };
        self.operand(ty)
    }

    fn icmp(&mut self, x: Value, y: Value) -> Value {
        self.spend(1);
        let cc = *choose(&mut self.rng, IntCC::all()).expect("there are condition codes");
        self.builder.ins().icmp(cc, x, y)
    }

    /// One instruction of straight-line code (a few with the constants it needs).
    fn straight_line(&mut self) {
        let ops: Vec<Opcode> = [BINARY, DIVISION, SHIFT, UNARY, OTHER]
            .concat()
            .into_iter()
            .filter(|&op| self.config.has(op))
            .collect();
        let stack_ops: Vec<Opcode> = [Opcode::StackLoad, Opcode::StackStore]
            .into_iter()
            .filter(|&op| self.config.has(op))
            .collect();
        // One op among many: give the slots, where there are some, a fair share.
        let ops = if !self.slots.is_empty() && self.rng.random_ratio(1, 6) {
            stack_ops
        } else {
            ops
        };
        let Some(&op) = choose(&mut self.rng, &ops) else {
            self.spend(1);
            return;
        };
        let budget = self.budget;
        if let Some(value) = self.value_op(op) {
            self.define(value);
        }
        // An op can miss its operands (an `i128` with no way to make one): still count it.
        if self.budget == budget {
            self.spend(1);
        }
    }

    fn value_op(&mut self, op: Opcode) -> Option<Value> {
        match op {
            _ if BINARY.contains(&op) => {
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                let y = self.operand(ty)?;
                Some(self.binary(op, ty, x, y))
            }
            _ if DIVISION.contains(&op) => {
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                let y = self.divisor(ty)?;
                Some(self.binary(op, ty, x, y))
            }
            _ if SHIFT.contains(&op) => {
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                let amount = self.shift_amount(ty.bits())?;
                Some(self.binary(op, ty, x, amount))
            }
            _ if UNARY.contains(&op) => {
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                Some(self.unary(op, ty, x))
            }
            Opcode::Iconst => {
                let ty = self.type_for(op)?;
                let value = interesting_value(&mut self.rng, ty);
                Some(self.iconst(ty, value))
            }
            Opcode::Sextend | Opcode::Uextend | Opcode::Ireduce => {
                let ty = self.type_for(op)?;
                let widening = op != Opcode::Ireduce;
                let from = self.source_type(ty, widening)?;
                let x = self.operand(from)?;
                Some(self.unary(op, ty, x))
            }
            Opcode::Icmp => {
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                let y = self.operand(ty)?;
                Some(self.icmp(x, y))
            }
            Opcode::Select => {
                let ty = self.type_for(op)?;
                let c = self.condition(op)?;
                let x = self.operand(ty)?;
                let y = self.operand(ty)?;
                Some(self.builder.ins().select(c, x, y))
            }
            Opcode::Bmask => {
                let ty = self.type_for(op)?;
                let from = self.available_type()?;
                let x = self.operand(from)?;
                Some(self.builder.ins().bmask(ty, x))
            }
            Opcode::StackLoad => {
                let slot = *choose(&mut self.rng, &self.slots)?;
                let ty = self.type_for(op)?;
                let offset = self.slot_offset(ty);
                Some(self.builder.ins().stack_load(ty, slot, offset))
            }
            Opcode::StackStore => {
                let slot = *choose(&mut self.rng, &self.slots)?;
                let ty = self.type_for(op)?;
                let x = self.operand(ty)?;
                let offset = self.slot_offset(ty);
                self.builder.ins().stack_store(x, slot, offset);
                None
            }
            _ => unreachable!("{op} is not a straight-line op"),
        }
    }

    /// A type of this function's narrower (`widening`) or wider than `ty`, for an extension
    /// or reduction to start from.
    fn source_type(&mut self, ty: Type, widening: bool) -> Option<Type> {
        let candidates: Vec<Type> = self
            .types
            .iter()
            .copied()
            .filter(|&from| {
                if widening {
                    from.bits() < ty.bits()
                } else {
                    from.bits() > ty.bits()
                }
            })
            .collect();
        (!candidates.is_empty()).then(|| random_type(&mut self.rng, &candidates))
    }

    /// A divisor of `ty`: often a constant 0, -1, 1 or MIN, so that traps and overflow happen.
    fn divisor(&mut self, ty: Type) -> Option<Value> {
        if ty.bits() <= 64 && self.config.allows(Opcode::Iconst, ty) && self.rng.random_bool(0.4) {
            let min = i128::MIN >> (128 - ty.bits());
            let edges = [0, -1, 1, min, 2, 3];
            let value = *choose(&mut self.rng, &edges)?;
            return Some(self.iconst(ty, value));
        }
        self.operand(ty)
    }

    /// A shift amount of any configured type: often a constant near `bits` (the shifted
    /// type's width), where the amount's wrap-around matters.
    fn shift_amount(&mut self, bits: u32) -> Option<Value> {
        let ty = self.available_type()?;
        if ty.bits() <= 64 && self.config.allows(Opcode::Iconst, ty) && self.rng.random_bool(0.5) {
            let bits = i128::from(bits);
            let edges = [0, 1, bits - 1, bits, bits + 1, 2 * bits - 1, -1];
            let value = *choose(&mut self.rng, &edges)?;
            return Some(self.iconst(ty, wrap(value, ty)));
        }
        self.operand(ty)
    }

    /// Up to two stack slots, each filled in the entry block so that every later load reads
    /// written bytes.
    fn create_slots(&mut self) {
        let Some(ty) = self
            .config
            .types
            .iter()
            .copied()
            .filter(|&ty| self.config.allows(Opcode::StackStore, ty))
            .max_by_key(|ty| ty.bits())
        else {
            return;
        };
        for _ in 0..self.rng.random_range(1..=2) {
            let slot = self.builder.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                SLOT_SIZE,
                0,
            ));
            for offset in (0..SLOT_SIZE).step_by(ty.bytes() as usize) {
                let Some(x) = self.operand(ty) else {
                    return;
                };
                self.builder.ins().stack_store(x, slot, offset as i32);
            }
            self.slots.push(slot);
        }
    }

    /// An offset in a slot for an access of `ty`: usually aligned, sometimes not.
    fn slot_offset(&mut self, ty: Type) -> i32 {
        let size = ty.bytes();
        let last = SLOT_SIZE - size;
        let offset = if self.rng.random_bool(0.7) {
            self.rng.random_range(0..=last / size) * size
        } else {
            self.rng.random_range(0..=last)
        };
        offset as i32
    }

    /// Block parameter types for a merge point or a loop: values of each can be had here.
    fn param_types(&mut self, max: usize) -> Vec<Type> {
        let count = self.rng.random_range(1..=max);
        (0..count).filter_map(|_| self.available_type()).collect()
    }

    fn block_with_params(&mut self, types: &[Type]) -> Block {
        let block = self.builder.create_block();
        for &ty in types {
            self.builder.append_block_param(block, ty);
        }
        block
    }

    fn enter(&mut self, block: Block) {
        self.builder.switch_to_block(block);
        for param in self.builder.block_params(block).to_vec() {
            self.define(param);
        }
    }

    /// A region that ends by jumping to `merge` with values of `types`, by trapping or by a
    /// tail call.
    fn arm(&mut self, depth: usize, merge: Block, types: &[Type], end: ArmEnd) {
        let mark = self.scope.len();
        self.region(depth + 1);
        if end == ArmEnd::Trap {
            self.builder.ins().trap(TrapCode::User(1));
        } else if end == ArmEnd::TailCall && self.tail_call(mark) {
            // The tail call ended the block.
        } else {
            let args = self.outgoing(types, mark);
            self.builder.ins().jump(merge, &args);
        }
        self.leave(mark);
    }

    /// `brif` to two arms that meet again in a block with parameters.
    fn diamond(&mut self, depth: usize) {
        let Some(cond) = self.condition(Opcode::Brif) else {
            return;
        };
        let types = self.param_types(2);
        let then_block = self.builder.create_block();
        let else_block = self.builder.create_block();
        let merge = self.block_with_params(&types);
        self.spend(3);
        self.builder
            .ins()
            .brif(cond, then_block, &[], else_block, &[]);
        let trapping = (self.config.has(Opcode::Trap) && self.rng.random_ratio(1, 6))
            .then(|| self.rng.random_range(0..2));
        // One arm may leave by a tail call instead (not both: `merge` needs a predecessor).
        let calling =
            (trapping.is_none() && !self.callees.is_empty() && self.rng.random_ratio(1, 4))
                .then(|| self.rng.random_range(0..2));
        for (arm, block) in [then_block, else_block].into_iter().enumerate() {
            self.builder.switch_to_block(block);
            let end = if trapping == Some(arm) {
                ArmEnd::Trap
            } else if calling == Some(arm) {
                ArmEnd::TailCall
            } else {
                ArmEnd::Jump
            };
            self.arm(depth, merge, &types, end);
        }
        self.enter(merge);
    }

    /// `br_table` to a few cases and a default that meet again in a block with parameters.
    fn switch(&mut self, depth: usize) {
        let Some(index) = self.switch_index() else {
            return;
        };
        let types = self.param_types(2);
        let merge = self.block_with_params(&types);
        let default = self.builder.create_block();
        let cases: Vec<Block> = (0..self.rng.random_range(1..=3))
            .map(|_| self.builder.create_block())
            .collect();
        let dfg = &mut self.builder.func.dfg;
        let default_call = dfg.block_call(default, &[]);
        let case_calls: Vec<_> = cases.iter().map(|&b| dfg.block_call(b, &[])).collect();
        let table = self
            .builder
            .create_jump_table(JumpTableData::new(default_call, &case_calls));
        self.spend(2 + cases.len());
        self.builder.ins().br_table(index, table);
        for block in cases.into_iter().chain([default]) {
            self.builder.switch_to_block(block);
            self.arm(depth, merge, &types, ArmEnd::Jump);
        }
        self.enter(merge);
    }

    /// An `i32` table index; random values almost always pick the default, so it is often
    /// masked down to the first few entries.
    fn switch_index(&mut self) -> Option<Value> {
        let i32 = types::I32;
        if !self.types.contains(&i32) {
            return None;
        }
        let index = self.operand(i32)?;
        if self.config.allows(Opcode::Band, i32)
            && self.config.allows(Opcode::Iconst, i32)
            && self.rng.random_bool(0.6)
        {
            let mask = self.iconst(i32, 3);
            return Some(self.binary(Opcode::Band, i32, index, mask));
        }
        Some(index)
    }

    fn can_loop(&self) -> bool {
        self.config.has(Opcode::Brif) && self.types.iter().any(|&ty| self.counter_type_ok(ty))
    }

    fn counter_type_ok(&self, ty: Type) -> bool {
        [Opcode::Iadd, Opcode::Icmp, Opcode::Iconst]
            .iter()
            .all(|&op| self.config.allows(op, ty))
    }

    /// A loop whose header counts a parameter from 0 up to a small constant, carrying a few
    /// other values around and out.
    fn counted_loop(&mut self, depth: usize) {
        let counters: Vec<Type> = self
            .types
            .iter()
            .copied()
            .filter(|&ty| self.counter_type_ok(ty))
            .collect();
        let Some(&counter_ty) = choose(&mut self.rng, &counters) else {
            return;
        };
        let types = self.param_types(2);
        let inits: Vec<Value> = types
            .iter()
            .map(|&ty| self.operand(ty).expect("loop types are available"))
            .collect();
        let zero = self.iconst(counter_ty, 0);
        let header = self.block_with_params(&[&[counter_ty], &types[..]].concat());
        let exit = self.block_with_params(&types);
        self.builder
            .ins()
            .jump(header, &[&[zero], &inits[..]].concat());
        let mark = self.scope.len();
        self.enter(header);
        let counter = self.builder.block_params(header)[0];
        let outer = self.weight;
        self.weight = outer.saturating_mul(u64::from(self.config.max_trips.max(1)));
        self.region(depth + 1);
        let one = self.iconst(counter_ty, 1);
        let next = self.binary(Opcode::Iadd, counter_ty, counter, one);
        let trips = self.rng.random_range(1..=self.config.max_trips.max(1));
        let limit = self.iconst(counter_ty, i128::from(trips));
        self.spend(2);
        let again = self
            .builder
            .ins()
            .icmp(IntCC::UnsignedLessThan, next, limit);
        let carried = self.outgoing(&types, mark);
        self.builder.ins().brif(
            again,
            header,
            &[&[next], &carried[..]].concat(),
            exit,
            &carried,
        );
        self.weight = outer;
        self.leave(mark);
        self.enter(exit);
    }

    /// `trapz` or `trapnz` on a condition.
    fn trap_check(&mut self) {
        let ops: Vec<Opcode> = [Opcode::Trapz, Opcode::Trapnz]
            .into_iter()
            .filter(|&op| self.config.has(op))
            .collect();
        let Some(&op) = choose(&mut self.rng, &ops) else {
            return self.straight_line();
        };
        let Some(cond) = self.condition(op) else {
            return;
        };
        self.spend(1);
        let code = TrapCode::User(2);
        if op == Opcode::Trapz {
            self.builder.ins().trapz(cond, code);
        } else {
            self.builder.ins().trapnz(cond, code);
        }
    }
}

fn types_of(params: &[AbiParam]) -> Vec<Type> {
    params.iter().map(|p| p.value_type).collect()
}

fn choose<'s, T>(rng: &mut XorShiftRng, items: &'s [T]) -> Option<&'s T> {
    (!items.is_empty()).then(|| &items[rng.random_range(0..items.len())])
}
