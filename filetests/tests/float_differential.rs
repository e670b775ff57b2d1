//! Differential test of floating point on PVM against the host's IEEE 754 arithmetic.
//!
//! Every float operation of CLIF, in both formats, runs end to end through the real pipeline:
//! a *batch driver* `fn(in: i64, out: i64, n: i64)`, built with cranelift-frontend, loops over
//! `n` operand sets, loading each set's operands from 8-byte slots at `in`, applying the CLIF
//! instruction itself (`fadd`, `fcmp`, `fcvt_to_sint_sat` …) and storing the results at `out`.
//! The driver is compiled by this backend (the soft-float legalization turns the instruction
//! into a routine call) and linked with a writable buffer; the linker adds the routines. It
//! runs on polkavm, with the recompiler where its sandbox is available and the interpreter
//! otherwise: the operands are written into the machine's memory a chunk at a time, the driver
//! is restarted on them, and the results are read back and compared with the host's.
//!
//! Comparison is bit-exact everywhere:
//! - arithmetic, `sqrt`, `fma`, `fmin`/`fmax`, rounding to integral: the host's result,
//!   except that a NaN result must be exactly the canonical quiet NaN (the runtime's NaN
//!   rule, `pvm_backend::softfloat`; wasm allows any NaN there, and the canonical one is
//!   among them);
//! - `fpromote`/`fdemote`: the host's result; a NaN keeps its sign and the top of its
//!   payload, quieted (the rule's other half, written out in [`converted_nan`]);
//! - `fneg fabs fcopysign`: the exact bits, NaN payloads included (bit operations);
//! - `fcmp`: all 14 conditions for every operand pair;
//! - conversions from integers: the host's `as`, which rounds to nearest, ties to even;
//! - `fcvt_to_*_sat`: the host's `as`, which saturates and gives 0 for NaN;
//! - trapping `fcvt_to_*`: operands whose truncation is in range run in the batch; NaNs and
//!   out-of-range operands (every directed one and up to [`TRAP_CASES`] drawn ones) run one per
//!   run and must trap.
//!
//! Operands come from `pvm_filetests::floatgen`: first a directed set (the boundary values,
//! all pairs of them for binary operations and all triples for `fma`), then seeded random
//! draws concentrated on the hard cases (ties, cancellation, subnormals, overflow …).
//!
//! Environment:
//! - `PVM_FLOAT_DIFF_CASES`: random operand sets per operation (default [`DEFAULT_CASES`]);
//! - `PVM_FLOAT_DIFF_SEED`: the seed (default 0); each operation draws from its own stream,
//!   so a run limited to some operations sees the same operands;
//! - `PVM_FLOAT_DIFF_OPS`: comma-separated substrings; only operations whose name contains one
//!   run (`fadd.f64,fcvt_to`);
//! - `PVM_FLOAT_DIFF_BACKEND=interpreter`: do not try the recompiler.
//!
//! Each operation prints `fadd.f64: N cases, M mismatches, avg gas G per case …` (gas includes
//! the driver's loop, about as much as `fneg` costs in all), each test a total line; any
//! mismatch fails the test after every operation has run, and the first few of each
//! operation are printed with their operands, the expected bits and the bits PVM gave.

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{
    types, AbiParam, Function, InstBuilder, MemFlags, Signature, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use pvm_backend::link::{DataObject, LinkOptions, Linker, Symbol};
use pvm_backend::softfloat::Format;
use pvm_backend::{abi, compile_function_code, Options};
use pvm_filetests::env_u64;
use pvm_filetests::execute::STACK_SIZE;
use pvm_filetests::floatgen;
use pvm_machine::{
    Backend, DefaultHost, Exit, Instance, Machine, MachineError, RunConfig, SpiStart,
};
use rand::SeedableRng;
use rand_xorshift::XorShiftRng;
use std::fmt::Write as _;
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::time::Instant;

/// Random operand sets per operation when `PVM_FLOAT_DIFF_CASES` is not set.
const DEFAULT_CASES: usize = 200_000;
/// Operand sets per run of the driver.
const CHUNK: usize = 16_384;
/// Drawn out-of-range operands run (one per run) for each trapping conversion.
const TRAP_CASES: usize = 300;
/// Mismatches printed per operation.
const SHOWN: usize = 5;
/// The most results an operation has (`fcmp`'s 14 conditions).
const MAX_RESULTS: usize = 14;
/// The most operands an operation has (`fma`).
const MAX_ARGS: usize = 3;
/// The byte the output area is filled with before a run: a result slot still holding it
/// after a run that did not halt belongs to the case that stopped it.
const POISON: u8 = 0xa5;
/// Batch runs of one operation that may end without halting (each costs a restart and a
/// read of the results) before the operation's remaining operand sets are given up on.
const MAX_STOPPED_RUNS: usize = 100;
/// Gas per operand set of a run: far more than any operation needs, little enough that a
/// routine that loops forever ends the run within seconds.
const GAS_PER_CASE: i64 = 10_000;

/// One operand set: the bits of each operand (an `f32` or `i32` in the low 32 bits).
type Operands = [u64; MAX_ARGS];
/// The results of one operand set, zero-extended bits; only the first `results.len()` count.
type Results = [u64; MAX_RESULTS];

/// Draws a random operand set.
type Draw = Box<dyn Fn(&mut XorShiftRng) -> Operands>;
/// Emits the operation on the driver's loaded operands; its results.
type Emit = Box<dyn Fn(&mut FunctionBuilder, &[Value]) -> Vec<Value>>;
/// The host's results for an operand set, or `None` if the operation must trap.
type Expect = Box<dyn Fn(&Operands) -> Option<Results>>;

/// One CLIF operation under test.
struct Op {
    /// `fadd.f64`, `fcvt_to_sint.f64.i32` (operand type, then result type) …
    name: String,
    /// The operand types.
    args: Vec<Type>,
    /// The result types.
    results: Vec<Type>,
    /// Operand sets tested before the random ones.
    directed: Vec<Operands>,
    /// A random operand set.
    draw: Draw,
    /// The operation on the driver's loaded operands.
    emit: Emit,
    /// The host's results, or `None` if the operation must trap.
    expect: Expect,
}

/// A host float type: the reference arithmetic.
trait Host:
    Copy
    + PartialOrd
    + Neg<Output = Self>
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + 'static
{
    /// The IEEE format.
    const FORMAT: Format;
    /// The float with these bits.
    fn of(bits: u64) -> Self;
    /// Its bits, zero-extended.
    fn bits(self) -> u64;
    /// Whether it is a NaN.
    fn is_nan(self) -> bool;
    /// The value as an `f64` (exact).
    fn wide(self) -> f64;
    /// `√self`.
    fn sqrt(self) -> Self;
    /// `self · b + c`, rounded once.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// Rounded toward +∞.
    fn ceil(self) -> Self;
    /// Rounded toward −∞.
    fn floor(self) -> Self;
    /// Rounded toward zero.
    fn trunc(self) -> Self;
    /// Rounded to nearest, ties to even.
    fn nearest(self) -> Self;
    /// `|self|` (a bit operation).
    fn abs(self) -> Self;
    /// `self` with `sign`'s sign (a bit operation).
    fn copysign(self, sign: Self) -> Self;
    /// The low `bits` bits of an integer operand, signed or not, rounded to this format.
    fn from_int(value: u64, bits: u32, signed: bool) -> Self;
    /// Truncated to a `bits`-bit integer, saturating (NaN → 0), as zero-extended bits.
    fn to_int_sat(self, bits: u32, signed: bool) -> u64;
}

/// Implements [`Host`] for a Rust float type with bits type `$bits`.
macro_rules! host {
    ($float:ty, $bits:ty, $format:expr) => {
        impl Host for $float {
            const FORMAT: Format = $format;
            fn of(bits: u64) -> Self {
                <$float>::from_bits(bits as $bits)
            }
            fn bits(self) -> u64 {
                self.to_bits().into()
            }
            fn is_nan(self) -> bool {
                <$float>::is_nan(self)
            }
            fn wide(self) -> f64 {
                self.into()
            }
            fn sqrt(self) -> Self {
                <$float>::sqrt(self)
            }
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$float>::mul_add(self, b, c)
            }
            fn ceil(self) -> Self {
                <$float>::ceil(self)
            }
            fn floor(self) -> Self {
                <$float>::floor(self)
            }
            fn trunc(self) -> Self {
                <$float>::trunc(self)
            }
            fn nearest(self) -> Self {
                <$float>::round_ties_even(self)
            }
            fn abs(self) -> Self {
                <$float>::abs(self)
            }
            fn copysign(self, sign: Self) -> Self {
                <$float>::copysign(self, sign)
            }
            fn from_int(value: u64, bits: u32, signed: bool) -> Self {
                match (bits, signed) {
                    (32, true) => value as u32 as i32 as $float,
                    (32, false) => value as u32 as $float,
                    (_, true) => value as i64 as $float,
                    (_, false) => value as $float,
                }
            }
            fn to_int_sat(self, bits: u32, signed: bool) -> u64 {
                match (bits, signed) {
                    (32, true) => u64::from(self as i32 as u32),
                    (32, false) => u64::from(self as u32),
                    (_, true) => self as i64 as u64,
                    (_, false) => self as u64,
                }
            }
        }
    };
}

host!(f32, u32, Format::F32);
host!(f64, u64, Format::F64);

/// A result array holding `values`.
fn results(values: &[u64]) -> Results {
    let mut results = [0; MAX_RESULTS];
    results[..values.len()].copy_from_slice(values);
    results
}

/// The bits of a float result under the NaN rule: a NaN must be the canonical NaN.
fn canonical<T: Host>(x: T) -> u64 {
    if x.is_nan() {
        T::FORMAT.canonical_nan()
    } else {
        x.bits()
    }
}

/// The bits `fpromote` (`to_f64`) or `fdemote` gives for a NaN operand `bits`: its sign, the
/// quiet bit and as much of its fraction, from the top, as the new format holds.
fn converted_nan(bits: u64, to_f64: bool) -> u64 {
    if to_f64 {
        let sign = (bits >> 31 & 1) << 63;
        sign | Format::F64.canonical_nan() | (bits & 0x7f_ffff) << 29
    } else {
        let sign = (bits >> 63) << 31;
        sign | Format::F32.canonical_nan() | (bits >> 29 & 0x7f_ffff)
    }
}

/// The integer type `bits` wide.
fn int_type(bits: u32) -> Type {
    Type::int(bits as u16).expect("32 or 64")
}

/// Every combination of `values`, `arity` at a time.
fn cross(values: &[u64], arity: usize) -> Vec<Operands> {
    let mut sets = vec![[0; MAX_ARGS]];
    for i in 0..arity {
        sets = sets
            .into_iter()
            .flat_map(|set| {
                values.iter().map(move |&v| {
                    let mut set = set;
                    set[i] = v;
                    set
                })
            })
            .collect();
    }
    sets
}

/// An operation on `T`s giving one `T`, checked under the NaN rule (`canonical`) or bit for
/// bit (the bit operations).
fn float_op<T: Host>(
    name: &str,
    arity: usize,
    nan_rule: bool,
    emit: impl Fn(&mut FunctionBuilder, &[Value]) -> Value + 'static,
    host: impl Fn(&[T]) -> T + 'static,
    draw: impl Fn(&mut XorShiftRng) -> Operands + 'static,
) -> Op {
    let f = T::FORMAT;
    Op {
        name: format!("{name}.{}", f.name()),
        args: vec![f.float_type(); arity],
        results: vec![f.float_type()],
        directed: cross(&floatgen::specials(f), arity),
        draw: Box::new(draw),
        emit: Box::new(move |b, args| vec![emit(b, args)]),
        expect: Box::new(move |operands| {
            let args: Vec<T> = operands[..arity].iter().map(|&x| T::of(x)).collect();
            let result = host(&args);
            Some(results(&[if nan_rule {
                canonical(result)
            } else {
                result.bits()
            }]))
        }),
    }
}

/// One operand in a set.
fn one(x: u64) -> Operands {
    [x, 0, 0]
}

/// Two operands in a set.
fn two([a, b]: [u64; 2]) -> Operands {
    [a, b, 0]
}

/// wasm's `fmin` (`max` false) or `fmax`: a NaN operand gives NaN, `−0 < +0`.
fn wasm_min_max<T: Host>(a: T, b: T, max: bool) -> T {
    if a.is_nan() || b.is_nan() {
        return T::of(T::FORMAT.canonical_nan());
    }
    if a == b {
        // Equal but for the sign of zero: min takes a negative zero, max a positive one.
        return T::of(if max {
            a.bits() & b.bits()
        } else {
            a.bits() | b.bits()
        });
    }
    if (a < b) != max {
        a
    } else {
        b
    }
}

/// `a cc b` by the host's comparisons.
fn host_fcmp<T: Host>(cc: FloatCC, a: T, b: T) -> bool {
    let unordered = a.is_nan() || b.is_nan();
    match cc {
        FloatCC::Ordered => !unordered,
        FloatCC::Unordered => unordered,
        FloatCC::Equal => a == b,
        FloatCC::NotEqual => a != b,
        FloatCC::OrderedNotEqual => !unordered && a != b,
        FloatCC::UnorderedOrEqual => unordered || a == b,
        FloatCC::LessThan => a < b,
        FloatCC::LessThanOrEqual => a <= b,
        FloatCC::GreaterThan => a > b,
        FloatCC::GreaterThanOrEqual => a >= b,
        FloatCC::UnorderedOrLessThan => unordered || a < b,
        FloatCC::UnorderedOrLessThanOrEqual => unordered || a <= b,
        FloatCC::UnorderedOrGreaterThan => unordered || a > b,
        FloatCC::UnorderedOrGreaterThanOrEqual => unordered || a >= b,
    }
}

/// `fcmp` with every condition, one `i8` result each.
fn fcmp_op<T: Host>() -> Op {
    let f = T::FORMAT;
    let conditions = FloatCC::all();
    assert!(conditions.len() <= MAX_RESULTS);
    Op {
        name: format!("fcmp.{}", f.name()),
        args: vec![f.float_type(); 2],
        results: vec![types::I8; conditions.len()],
        directed: cross(&floatgen::specials(f), 2),
        draw: Box::new(move |rng| two(floatgen::compare_operands(rng, f))),
        emit: Box::new(|b, args| {
            FloatCC::all()
                .iter()
                .map(|&cc| b.ins().fcmp(cc, args[0], args[1]))
                .collect()
        }),
        expect: Box::new(|operands| {
            let (a, b) = (T::of(operands[0]), T::of(operands[1]));
            let values: Vec<u64> = FloatCC::all()
                .iter()
                .map(|&cc| u64::from(host_fcmp(cc, a, b)))
                .collect();
            Some(results(&values))
        }),
    }
}

/// The arithmetic, sign, comparison and rounding operations of format `T`.
fn float_ops<T: Host>() -> Vec<Op> {
    let f = T::FORMAT;
    let negate_b = move |[a, b]: [u64; 2]| [a, b ^ f.sign_mask()];
    vec![
        float_op::<T>(
            "fadd",
            2,
            true,
            |b, x| b.ins().fadd(x[0], x[1]),
            |x| x[0] + x[1],
            move |rng| two(floatgen::add_operands(rng, f)),
        ),
        // Drawn with the second operand negated, so that subtraction cancels as often as
        // addition does.
        float_op::<T>(
            "fsub",
            2,
            true,
            |b, x| b.ins().fsub(x[0], x[1]),
            |x| x[0] - x[1],
            move |rng| two(negate_b(floatgen::add_operands(rng, f))),
        ),
        float_op::<T>(
            "fmul",
            2,
            true,
            |b, x| b.ins().fmul(x[0], x[1]),
            |x| x[0] * x[1],
            move |rng| two(floatgen::mul_operands(rng, f)),
        ),
        float_op::<T>(
            "fdiv",
            2,
            true,
            |b, x| b.ins().fdiv(x[0], x[1]),
            |x| x[0] / x[1],
            move |rng| two(floatgen::div_operands(rng, f)),
        ),
        float_op::<T>(
            "fma",
            3,
            true,
            |b, x| b.ins().fma(x[0], x[1], x[2]),
            |x| x[0].mul_add(x[1], x[2]),
            move |rng| floatgen::fma_operands(rng, f),
        ),
        float_op::<T>(
            "sqrt",
            1,
            true,
            |b, x| b.ins().sqrt(x[0]),
            |x| x[0].sqrt(),
            move |rng| one(floatgen::sqrt_operand(rng, f)),
        ),
        float_op::<T>(
            "fmin",
            2,
            true,
            |b, x| b.ins().fmin(x[0], x[1]),
            |x| wasm_min_max(x[0], x[1], false),
            move |rng| two(floatgen::compare_operands(rng, f)),
        ),
        float_op::<T>(
            "fmax",
            2,
            true,
            |b, x| b.ins().fmax(x[0], x[1]),
            |x| wasm_min_max(x[0], x[1], true),
            move |rng| two(floatgen::compare_operands(rng, f)),
        ),
        fcmp_op::<T>(),
        float_op::<T>(
            "fneg",
            1,
            false,
            |b, x| b.ins().fneg(x[0]),
            |x| -x[0],
            move |rng| one(floatgen::float(rng, f)),
        ),
        float_op::<T>(
            "fabs",
            1,
            false,
            |b, x| b.ins().fabs(x[0]),
            |x| x[0].abs(),
            move |rng| one(floatgen::float(rng, f)),
        ),
        float_op::<T>(
            "fcopysign",
            2,
            false,
            |b, x| b.ins().fcopysign(x[0], x[1]),
            |x| x[0].copysign(x[1]),
            move |rng| [floatgen::float(rng, f), floatgen::float(rng, f), 0],
        ),
    ]
}

/// Rounding to integral values in format `T`.
fn rounding_ops<T: Host>() -> Vec<Op> {
    let f = T::FORMAT;
    let draw = move |rng: &mut XorShiftRng| one(floatgen::integral_operand(rng, f));
    vec![
        float_op::<T>(
            "ceil",
            1,
            true,
            |b, x| b.ins().ceil(x[0]),
            |x| x[0].ceil(),
            draw,
        ),
        float_op::<T>(
            "floor",
            1,
            true,
            |b, x| b.ins().floor(x[0]),
            |x| x[0].floor(),
            draw,
        ),
        float_op::<T>(
            "trunc",
            1,
            true,
            |b, x| b.ins().trunc(x[0]),
            |x| x[0].trunc(),
            draw,
        ),
        float_op::<T>(
            "nearest",
            1,
            true,
            |b, x| b.ins().nearest(x[0]),
            |x| x[0].nearest(),
            draw,
        ),
    ]
}

/// `fpromote` and `fdemote`.
fn format_ops() -> Vec<Op> {
    let promote = Op {
        name: "fpromote.f32.f64".into(),
        args: vec![types::F32],
        results: vec![types::F64],
        directed: cross(&floatgen::specials(Format::F32), 1),
        draw: Box::new(|rng| one(floatgen::float(rng, Format::F32))),
        emit: Box::new(|b, x| vec![b.ins().fpromote(types::F64, x[0])]),
        expect: Box::new(|x| {
            let value = f32::of(x[0]);
            let bits = if value.is_nan() {
                converted_nan(x[0], true)
            } else {
                f64::from(value).to_bits()
            };
            Some(results(&[bits]))
        }),
    };
    let demote = Op {
        name: "fdemote.f64.f32".into(),
        args: vec![types::F64],
        results: vec![types::F32],
        directed: cross(&floatgen::specials(Format::F64), 1),
        draw: Box::new(|rng| one(floatgen::demote_operand(rng))),
        emit: Box::new(|b, x| vec![b.ins().fdemote(types::F32, x[0])]),
        expect: Box::new(|x| {
            let value = f64::of(x[0]);
            let bits = if value.is_nan() {
                converted_nan(x[0], false)
            } else {
                u64::from((value as f32).to_bits())
            };
            Some(results(&[bits]))
        }),
    };
    vec![promote, demote]
}

/// `fcvt_from_sint`/`fcvt_from_uint` from `i32` and `i64` to format `T`.
fn from_int_ops<T: Host>() -> Vec<Op> {
    let f = T::FORMAT;
    let mut ops = Vec::new();
    for bits in [32, 64] {
        for signed in [true, false] {
            let name = if signed {
                "fcvt_from_sint"
            } else {
                "fcvt_from_uint"
            };
            ops.push(Op {
                name: format!("{name}.i{bits}.{}", f.name()),
                args: vec![int_type(bits)],
                results: vec![f.float_type()],
                directed: cross(&floatgen::int_specials(bits), 1),
                draw: Box::new(move |rng| {
                    one(floatgen::int_operand(
                        rng,
                        bits,
                        signed,
                        floatgen::precision(f),
                    ))
                }),
                emit: Box::new(move |b, x| {
                    let ty = f.float_type();
                    vec![if signed {
                        b.ins().fcvt_from_sint(ty, x[0])
                    } else {
                        b.ins().fcvt_from_uint(ty, x[0])
                    }]
                }),
                expect: Box::new(move |x| Some(results(&[T::from_int(x[0], bits, signed).bits()]))),
            });
        }
    }
    ops
}

/// Whether `x` truncated fits a `bits`-bit integer (signed or not).
fn in_range<T: Host>(x: T, bits: u32, signed: bool) -> bool {
    if x.is_nan() {
        return false;
    }
    let t = x.wide().trunc();
    let (lo, hi) = if signed {
        (-(2f64.powi(bits as i32 - 1)), 2f64.powi(bits as i32 - 1))
    } else {
        (0.0, 2f64.powi(bits as i32))
    };
    lo <= t && t < hi
}

/// `fcvt_to_sint`/`fcvt_to_uint` and their `_sat` forms from format `T` to `i32` and `i64`.
fn to_int_ops<T: Host>() -> Vec<Op> {
    let f = T::FORMAT;
    let mut ops = Vec::new();
    for saturate in [true, false] {
        for bits in [32, 64] {
            for signed in [true, false] {
                let name = format!(
                    "fcvt_to_{}int{}",
                    if signed { "s" } else { "u" },
                    if saturate { "_sat" } else { "" }
                );
                ops.push(Op {
                    name: format!("{name}.{}.i{bits}", f.name()),
                    args: vec![f.float_type()],
                    results: vec![int_type(bits)],
                    directed: cross(&floatgen::to_int_specials(f, bits), 1),
                    draw: Box::new(move |rng| one(floatgen::to_int_operand(rng, f, bits))),
                    emit: Box::new(move |b, x| {
                        let ty = int_type(bits);
                        vec![match (saturate, signed) {
                            (true, true) => b.ins().fcvt_to_sint_sat(ty, x[0]),
                            (true, false) => b.ins().fcvt_to_uint_sat(ty, x[0]),
                            (false, true) => b.ins().fcvt_to_sint(ty, x[0]),
                            (false, false) => b.ins().fcvt_to_uint(ty, x[0]),
                        }]
                    }),
                    expect: Box::new(move |x| {
                        let x = T::of(x[0]);
                        (saturate || in_range(x, bits, signed))
                            .then(|| results(&[x.to_int_sat(bits, signed)]))
                    }),
                });
            }
        }
    }
    ops
}

/// Where a driver's operands and results go, per operand set.
struct Layout {
    /// Bytes of operands per set: an 8-byte slot each.
    in_stride: usize,
    /// Bytes of results per set, a multiple of 8.
    out_stride: usize,
    /// Each result's offset in its set's results.
    offsets: Vec<usize>,
}

impl Layout {
    /// The layout of `op`'s operands and results: results packed by size.
    fn of(op: &Op) -> Self {
        let mut offsets = Vec::new();
        let mut end = 0;
        for ty in &op.results {
            offsets.push(end);
            end += ty.bytes() as usize;
        }
        Layout {
            in_stride: 8 * op.args.len(),
            out_stride: end.next_multiple_of(8),
            offsets,
        }
    }
}

/// The batch driver of `op`: `fn(in, out, n)` applies the operation to `n` operand sets.
fn driver(op: &Op, layout: &Layout) -> Function {
    let mut signature = Signature::new(CallConv::Fast);
    signature.params = vec![AbiParam::new(types::I64); 3];
    let mut func = Function::with_name_signature(UserFuncName::testcase("driver"), signature);
    let mut context = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut context);
    let entry = b.create_block();
    let body = b.create_block();
    let exit = b.create_block();
    b.append_block_params_for_function_params(entry);
    for _ in 0..3 {
        b.append_block_param(body, types::I64);
    }

    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    b.ins().brif(params[2], body, &params, exit, &[]);

    b.switch_to_block(body);
    let [input, output, left]: [Value; 3] = b.block_params(body).try_into().expect("3 params");
    let flags = MemFlags::trusted();
    let args: Vec<Value> = op
        .args
        .iter()
        .enumerate()
        .map(|(i, &ty)| b.ins().load(ty, flags, input, 8 * i as i32))
        .collect();
    let values = (op.emit)(&mut b, &args);
    for (&value, &offset) in values.iter().zip(&layout.offsets) {
        b.ins().store(flags, value, output, offset as i32);
    }
    let input = b.ins().iadd_imm(input, layout.in_stride as i64);
    let output = b.ins().iadd_imm(output, layout.out_stride as i64);
    let left = b.ins().iadd_imm(left, -1);
    b.ins().brif(left, body, &[input, output, left], exit, &[]);

    b.switch_to_block(exit);
    b.ins().return_(&[]);
    b.seal_all_blocks();
    b.finalize();
    func
}

/// A driver linked with its buffer and loaded into polkavm.
struct Loaded {
    instance: Instance,
    /// The driver's entry.
    pc: u32,
    /// The operand area's address.
    input: u32,
    /// The result area's address, after the operands.
    output: u32,
    /// Which polkavm backend runs it.
    backend: Backend,
}

/// Compiles and links `op`'s driver with a buffer for [`CHUNK`] sets and loads it, on the
/// recompiler unless it is unavailable (or `PVM_FLOAT_DIFF_BACKEND=interpreter`).
fn load(machine: &Machine, op: &Op, layout: &Layout) -> Result<Loaded, String> {
    let options = Options::default();
    let func = driver(op, layout);
    let code = compile_function_code(&func, &options)
        .map_err(|e| format!("compiling the driver: {e}"))?
        .code;
    let mut linker = Linker::new(options.flavour);
    let entry = Symbol::of_function(&func);
    let buffer = Symbol::Name("buffer".into());
    let in_size = CHUNK * layout.in_stride;
    let size = in_size + CHUNK * layout.out_stride;
    let link_error = |e| format!("linking the driver: {e}");
    linker
        .add_function(entry.clone(), &code)
        .map_err(link_error)?;
    linker
        .add_data(
            buffer.clone(),
            DataObject::zeroed(size as u32).with_align(8),
        )
        .map_err(link_error)?;
    let linked = linker
        .link(&LinkOptions {
            stack_size: STACK_SIZE,
            ..LinkOptions::default()
        })
        .map_err(link_error)?;
    let pc = linked.function_pc(&entry).expect("the driver is kept");
    let input = linked.data_address(&buffer).expect("the buffer is kept");
    let start = SpiStart::new(Vec::new()).at_pc(pc);
    let interpreter_only =
        std::env::var("PVM_FLOAT_DIFF_BACKEND").is_ok_and(|b| b == "interpreter");
    let backends: &[Backend] = if interpreter_only {
        &[Backend::Interpreter]
    } else {
        &[Backend::Recompiler, Backend::Interpreter]
    };
    let mut last_error = None;
    for &backend in backends {
        let config = RunConfig {
            backend,
            ..RunConfig::default()
        };
        match machine.load_standard(&linked.program, options.flavour, &start, &config) {
            Ok(instance) => {
                return Ok(Loaded {
                    instance,
                    pc,
                    input,
                    output: input + in_size as u32,
                    backend,
                })
            }
            Err(e @ MachineError::Engine { .. }) => last_error = Some(e),
            Err(e) => return Err(format!("loading the driver: {e}")),
        }
    }
    Err(format!(
        "no polkavm backend: {}",
        last_error.expect("one was tried")
    ))
}

/// What happened to one operation.
#[derive(Default)]
struct Tally {
    /// Operand sets run in batches.
    cases: usize,
    /// Operand sets run one per run, expected to trap.
    trap_cases: usize,
    /// Operand sets whose results (or trap) differ from the host's.
    mismatches: usize,
    /// The first [`SHOWN`] mismatches, described.
    shown: Vec<String>,
    /// Gas of the batch runs.
    gas: i64,
    /// Batch runs that ended without halting.
    stopped_runs: usize,
    /// Whether [`MAX_STOPPED_RUNS`] was reached: the remaining operand sets were not run.
    gave_up: bool,
}

impl Tally {
    /// Counts a mismatch, described if it is among the first [`SHOWN`].
    fn mismatch(&mut self, describe: impl FnOnce() -> String) {
        self.mismatches += 1;
        if self.shown.len() < SHOWN {
            self.shown.push(describe());
        }
    }
}

/// `bits` of a value of type `ty`, with the float's value for float types.
fn show(ty: Type, bits: u64) -> String {
    match ty {
        types::F32 => format!("{bits:#010x} ({:e})", f32::from_bits(bits as u32)),
        types::F64 => format!("{bits:#018x} ({:e})", f64::from_bits(bits)),
        _ => format!("{bits:#x}"),
    }
}

/// An operand set, shown.
fn show_operands(op: &Op, operands: &Operands) -> String {
    let shown: Vec<String> = op
        .args
        .iter()
        .zip(operands)
        .map(|(&ty, &x)| show(ty, x))
        .collect();
    shown.join(", ")
}

/// Results, shown.
fn show_results(op: &Op, values: &[u64]) -> String {
    let shown: Vec<String> = op
        .results
        .iter()
        .zip(values)
        .map(|(&ty, &x)| show(ty, x))
        .collect();
    shown.join(" ")
}

/// The registers that enter the driver on `n` sets at `input`/`output`.
fn entry_registers(input: u32, output: u32, n: usize) -> [u64; 13] {
    let mut regs = SpiStart::new(Vec::new()).registers();
    for (preg, value) in abi::ARG_REGS
        .iter()
        .zip([input.into(), output.into(), n as u64])
    {
        regs[usize::from(abi::reg_of(*preg).index())] = value;
    }
    regs
}

/// Runs the driver from set `first` to the chunk's end; the exit and the gas used.
fn run_from(
    loaded: &mut Loaded,
    layout: &Layout,
    first: usize,
    n: usize,
) -> Result<(Exit, i64), String> {
    let input = loaded.input + (first * layout.in_stride) as u32;
    let output = loaded.output + (first * layout.out_stride) as u32;
    let regs = entry_registers(input, output, n - first);
    loaded.instance.restart(loaded.pc, &regs);
    loaded.instance.set_gas(GAS_PER_CASE * (n - first) as i64);
    let report = loaded
        .instance
        .run(&mut DefaultHost::new())
        .map_err(|e| format!("running the driver: {e}"))?;
    Ok((report.exit, report.gas_used))
}

/// Runs one chunk of in-range operand sets and compares the results.
fn run_chunk(
    op: &Op,
    layout: &Layout,
    loaded: &mut Loaded,
    chunk: &[(Operands, Results)],
    tally: &mut Tally,
) -> Result<(), String> {
    let n = chunk.len();
    let mut input = Vec::with_capacity(n * layout.in_stride);
    for (operands, _) in chunk {
        for x in &operands[..op.args.len()] {
            input.extend(x.to_le_bytes());
        }
    }
    let memory_error = |e| format!("driver memory: {e}");
    loaded
        .instance
        .write_memory(loaded.input, &input)
        .map_err(memory_error)?;
    let poison = vec![POISON; n * layout.out_stride];
    loaded
        .instance
        .write_memory(loaded.output, &poison)
        .map_err(memory_error)?;
    // A run that does not halt stopped at the first set whose results are still all poison:
    // that set is a mismatch, and the run resumes after it.
    let mut stops = vec![None; n];
    let mut first = 0;
    // The sets run: all of them, unless the operation is given up on.
    let mut ran = n;
    while first < n {
        let (exit, gas) = run_from(loaded, layout, first, n)?;
        tally.gas += gas;
        if exit == Exit::Halt {
            break;
        }
        tally.stopped_runs += 1;
        let out = loaded
            .instance
            .read_memory(loaded.output, (n * layout.out_stride) as u32)
            .map_err(memory_error)?;
        let stopped = (first..n)
            .find(|&i| {
                out[i * layout.out_stride..][..layout.out_stride]
                    .iter()
                    .all(|&byte| byte == POISON)
            })
            .ok_or_else(|| format!("a run ended with {exit}, after storing every result"))?;
        stops[stopped] = Some(exit);
        first = stopped + 1;
        if tally.stopped_runs == MAX_STOPPED_RUNS {
            tally.gave_up = true;
            ran = first;
            break;
        }
    }
    let out = loaded
        .instance
        .read_memory(loaded.output, (n * layout.out_stride) as u32)
        .map_err(memory_error)?;
    for (i, (operands, expected)) in chunk[..ran].iter().enumerate() {
        let slot = &out[i * layout.out_stride..];
        let got: Vec<u64> = op
            .results
            .iter()
            .zip(&layout.offsets)
            .map(|(ty, &offset)| {
                let mut bytes = [0; 8];
                let size = ty.bytes() as usize;
                bytes[..size].copy_from_slice(&slot[offset..offset + size]);
                u64::from_le_bytes(bytes)
            })
            .collect();
        let expected = &expected[..op.results.len()];
        if let Some(exit) = stops[i] {
            tally.mismatch(|| {
                format!(
                    "{}({}): the run ended with {exit}, expected {}",
                    op.name,
                    show_operands(op, operands),
                    show_results(op, expected)
                )
            });
        } else if got != expected {
            tally.mismatch(|| {
                format!(
                    "{}({}): expected {}, got {}",
                    op.name,
                    show_operands(op, operands),
                    show_results(op, expected),
                    show_results(op, &got)
                )
            });
        }
    }
    tally.cases += ran;
    Ok(())
}

/// Runs `operands` alone; it must trap.
fn run_trapping(
    op: &Op,
    layout: &Layout,
    loaded: &mut Loaded,
    operands: &Operands,
    tally: &mut Tally,
) -> Result<(), String> {
    let input: Vec<u8> = operands[..op.args.len()]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let memory_error = |e| format!("driver memory: {e}");
    loaded
        .instance
        .write_memory(loaded.input, &input)
        .map_err(memory_error)?;
    loaded
        .instance
        .write_memory(loaded.output, &vec![POISON; layout.out_stride])
        .map_err(memory_error)?;
    let (exit, _) = run_from(loaded, layout, 0, 1)?;
    tally.trap_cases += 1;
    if !matches!(exit, Exit::Panic { .. }) {
        let size = op.results[0].bytes() as usize;
        let mut bytes = [0; 8];
        let stored = loaded
            .instance
            .read_memory(loaded.output, size as u32)
            .map_err(memory_error)?;
        bytes[..size].copy_from_slice(&stored);
        tally.mismatch(|| {
            format!(
                "{}({}): expected a trap, got {exit} with result {}",
                op.name,
                show_operands(op, operands),
                show_results(op, &[u64::from_le_bytes(bytes)])
            )
        });
    }
    Ok(())
}

/// A 64-bit FNV-1a hash: each operation's random stream is seeded by its name.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, byte| {
        (h ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Tests `op` on its directed operand sets and `cases` random ones from `seed`.
fn test_op(
    machine: &Machine,
    op: &Op,
    cases: usize,
    seed: u64,
) -> Result<(Tally, Backend), String> {
    let layout = Layout::of(op);
    let mut loaded = load(machine, op, &layout)?;
    let mut rng = XorShiftRng::seed_from_u64(seed ^ name_hash(&op.name));
    let mut tally = Tally::default();
    let mut directed = op.directed.iter();
    let mut random_left = cases;
    let mut traps = Vec::new();
    let mut drawn_traps = 0;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            let (operands, is_directed) = match directed.next() {
                Some(&operands) => (operands, true),
                None if random_left > 0 => ((op.draw)(&mut rng), false),
                None => break,
            };
            match (op.expect)(&operands) {
                Some(expected) => {
                    random_left -= usize::from(!is_directed);
                    chunk.push((operands, expected));
                }
                None if is_directed => traps.push(operands),
                None if drawn_traps < TRAP_CASES => {
                    drawn_traps += 1;
                    traps.push(operands);
                }
                None => {}
            }
        }
        if chunk.is_empty() {
            break;
        }
        run_chunk(op, &layout, &mut loaded, &chunk, &mut tally)?;
        if tally.gave_up {
            break;
        }
    }
    for operands in &traps {
        run_trapping(op, &layout, &mut loaded, operands, &mut tally)?;
    }
    Ok((tally, loaded.backend))
}

/// Tests every operation of `ops` the filter selects, prints a line each and a total, and
/// fails if any mismatched.
fn test_ops(group: &str, ops: Vec<Op>) {
    let cases = env_u64("PVM_FLOAT_DIFF_CASES", DEFAULT_CASES as u64) as usize;
    let seed = env_u64("PVM_FLOAT_DIFF_SEED", 0);
    let filter = std::env::var("PVM_FLOAT_DIFF_OPS").ok();
    let selected = |op: &Op| {
        filter
            .as_deref()
            .is_none_or(|filter| filter.split(',').any(|part| op.name.contains(part.trim())))
    };
    let machine = Machine::new();
    let mut report = String::new();
    let (mut total_cases, mut total_mismatches, mut failed_ops) = (0, 0, Vec::new());
    let started = Instant::now();
    for op in ops.iter().filter(|op| selected(op)) {
        let op_started = Instant::now();
        let (tally, backend) = match test_op(&machine, op, cases, seed) {
            Ok(done) => done,
            Err(error) => {
                let line = format!("{}: ERROR {error}", op.name);
                println!("{line}");
                writeln!(report, "{line}").unwrap();
                failed_ops.push(op.name.clone());
                continue;
            }
        };
        let seconds = op_started.elapsed().as_secs_f64();
        let run = tally.cases + tally.trap_cases;
        let mut line = format!(
            "{}: {} cases{}, {} mismatches, avg gas {:.1} per case ({backend}, {seconds:.2} s, {:.0} cases/s)",
            op.name,
            tally.cases,
            if tally.trap_cases > 0 {
                format!(" + {} trapping", tally.trap_cases)
            } else {
                String::new()
            },
            tally.mismatches,
            tally.gas as f64 / tally.cases.max(1) as f64,
            run as f64 / seconds,
        );
        if tally.gave_up {
            write!(
                line,
                "; GAVE UP after {MAX_STOPPED_RUNS} runs that did not halt"
            )
            .unwrap();
        }
        println!("{line}");
        for shown in &tally.shown {
            println!("    {shown}");
        }
        total_cases += run;
        total_mismatches += tally.mismatches;
        if tally.mismatches > 0 {
            failed_ops.push(op.name.clone());
            writeln!(report, "{line}").unwrap();
            for shown in &tally.shown {
                writeln!(report, "    {shown}").unwrap();
            }
        }
    }
    println!(
        "{group}: {total_cases} cases, {total_mismatches} mismatches, {} operations failed, {:.1} s (seed {seed})",
        failed_ops.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed_ops.is_empty(),
        "{group}: {} operations failed: {}\n{report}",
        failed_ops.len(),
        failed_ops.join(" ")
    );
}

/// Arithmetic, `fmin`/`fmax`, comparisons and the sign operations, both formats.
#[test]
fn arithmetic() {
    let mut ops = float_ops::<f32>();
    ops.extend(float_ops::<f64>());
    test_ops("arithmetic", ops);
}

/// Rounding to integral values (both formats), `fpromote` and `fdemote`.
#[test]
fn rounding_and_format_conversions() {
    let mut ops = rounding_ops::<f32>();
    ops.extend(rounding_ops::<f64>());
    ops.extend(format_ops());
    test_ops("rounding and format conversions", ops);
}

/// Conversions between `i32`/`i64` (signed and unsigned) and both formats, both ways.
#[test]
fn integer_conversions() {
    let mut ops = from_int_ops::<f32>();
    ops.extend(from_int_ops::<f64>());
    ops.extend(to_int_ops::<f32>());
    ops.extend(to_int_ops::<f64>());
    test_ops("integer conversions", ops);
}
