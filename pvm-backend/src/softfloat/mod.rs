//! Floating point in software: PVM has no floating-point instructions.
//!
//! # Representation
//!
//! An `f32` or `f64` value lives in one integer register as its IEEE 754 bits, exactly as the
//! integer of the same width would (`f32` like `i32`: sign-extended to 64 bits, see
//! `lower/prelude.isle`). So `bitcast`, loads, stores, `select` and block parameters of float
//! type are the integer operations, and the calling convention passes floats as integers.
//!
//! # Who does what
//!
//! - Bit operations are lowered inline by ISLE (`lower/float.isle`): `f32const f64const`,
//!   `fneg fabs fcopysign`, `bitcast`, loads, stores, `select`. They keep NaN payloads.
//! - Everything else is a call to a **routine** of this runtime ([`Routine`]), inserted by
//!   [`legalize`] after the mid-end: arithmetic, comparisons, rounding to integral, format
//!   and integer conversions. Routines are CLIF functions built here with cranelift-frontend
//!   (one generic builder per family, instantiated per format) and compiled by this backend
//!   like any other function. A routine is the symbol `u`[`RUNTIME_NAMESPACE]`:index`; the
//!   linker adds the routines a program's code refers to, and only those (see
//!   [`crate::link::Linker::link`]). Their compiled code is cached ([`Routine::code`]).
//! - A routine's common path is straight-line code; special operands branch off into blocks
//!   marked cold, which start with `unlikely` on jam-v1 (`Options::unlikely`), so the draft
//!   GP 0.8 gas model charges those branches 1 rather than 20.
//!
//! # Semantics (IEEE 754-2019, binary32 and binary64)
//!
//! Round to nearest, ties to even, everywhere; subnormals are inputs and outputs like any
//! other number (no flush to zero); no exception flags. **NaN rule**, so that results are a
//! function of the operand bits alone, as JAM's consensus needs:
//! - every arithmetic operation that produces a NaN (`fadd fsub fmul fdiv sqrt fma`,
//!   `fmin`/`fmax`, rounding to integral) produces the *canonical quiet NaN*, positive with
//!   only the top fraction bit set: `0x7fc0_0000` (f32), `0x7ff8_0000_0000_0000` (f64) — the
//!   values Cranelift's NaN canonicalization uses, and a NaN wasm accepts for every
//!   instruction (`nan:canonical` ⊂ `nan:arithmetic`);
//! - `fpromote`/`fdemote` of a NaN keep its sign and the top of its payload (as much as the
//!   new format holds), with the quiet bit set: what x86-64 and AArch64 hardware, and so
//!   native code and most wasm engines, give; wasm allows it (an arithmetic NaN, canonical
//!   when the operand is);
//! - the bit operations (`fneg fabs fcopysign`, loads, stores, `bitcast`, `select`) copy
//!   payloads unchanged.
//!
//! `fmin`/`fmax` follow wasm: a NaN operand gives NaN, and `-0 < +0`. Conversions to integers
//! truncate toward zero; the trapping forms trap (a PVM `trap`) on NaN and out-of-range
//! values, the `_sat` forms saturate and give 0 for NaN.
//!
//! # Routine calling convention
//!
//! A routine's CLIF signature uses integer types: `i32` for `f32` bits, `i64` for `f64` bits
//! ([`Routine::signature`]); [`legalize`] inserts the `bitcast`s, which cost nothing (same
//! register). Compare routines return a code ([`CMP_EQ`], [`CMP_LT`], [`CMP_GT`],
//! [`CMP_UNORDERED`]) that each `FloatCC` tests with one integer compare (after one
//! subtraction for `one` and `ueq`).

mod arith;
mod build;
mod convert;
mod divsqrt;
mod exact;
pub mod legalize;

use crate::link::{FunctionCode, Symbol};
use crate::{compile_function_code, CompileError, Options};
use cranelift_codegen::ir::{
    types, AbiParam, Function, Signature, Type, UserExternalName, UserFuncName,
};
use cranelift_codegen::isa::CallConv;
use pvm_isa::Flavour;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// The `ExternalName::User` namespace of the runtime's routines.
pub const RUNTIME_NAMESPACE: u32 = 101;

/// Compare code: the operands are equal.
pub const CMP_EQ: i64 = 0;
/// Compare code: the first operand is less than the second.
pub const CMP_LT: i64 = 1;
/// Compare code: the first operand is greater than the second.
pub const CMP_GT: i64 = 2;
/// Compare code: at least one operand is a NaN.
pub const CMP_UNORDERED: i64 = 3;

/// An IEEE 754 binary format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// binary32.
    F32,
    /// binary64.
    F64,
}

impl Format {
    /// Both formats.
    pub const ALL: [Format; 2] = [Format::F32, Format::F64];

    /// The CLIF float type.
    pub fn float_type(self) -> Type {
        match self {
            Format::F32 => types::F32,
            Format::F64 => types::F64,
        }
    }

    /// The integer type of the same width, which carries the bits in routine signatures.
    pub fn int_type(self) -> Type {
        match self {
            Format::F32 => types::I32,
            Format::F64 => types::I64,
        }
    }

    /// The format of a CLIF float type.
    pub fn of(ty: Type) -> Option<Format> {
        match ty {
            types::F32 => Some(Format::F32),
            types::F64 => Some(Format::F64),
            _ => None,
        }
    }

    /// Width in bits.
    pub fn bits(self) -> u32 {
        match self {
            Format::F32 => 32,
            Format::F64 => 64,
        }
    }

    /// Fraction (trailing significand) bits: 23 or 52.
    pub fn mant_bits(self) -> u32 {
        match self {
            Format::F32 => 23,
            Format::F64 => 52,
        }
    }

    /// Exponent field bits: 8 or 11.
    pub fn exp_bits(self) -> u32 {
        self.bits() - 1 - self.mant_bits()
    }

    /// The exponent bias: 127 or 1023.
    pub fn bias(self) -> i64 {
        (1 << (self.exp_bits() - 1)) - 1
    }

    /// The all-ones exponent field (infinities and NaNs): 255 or 2047.
    pub fn max_exp(self) -> i64 {
        (1 << self.exp_bits()) - 1
    }

    /// The sign bit.
    pub fn sign_mask(self) -> u64 {
        1 << (self.bits() - 1)
    }

    /// The bits of +infinity.
    pub fn infinity(self) -> u64 {
        (self.max_exp() as u64) << self.mant_bits()
    }

    /// The canonical quiet NaN (see the module docs).
    pub fn canonical_nan(self) -> u64 {
        self.infinity() | 1 << (self.mant_bits() - 1)
    }

    /// `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Format::F32 => "f32",
            Format::F64 => "f64",
        }
    }
}

/// How `Routine::Round` rounds to an integral value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoundMode {
    /// Toward +infinity (`ceil`).
    Ceil,
    /// Toward −infinity (`floor`).
    Floor,
    /// Toward zero (`trunc`).
    Trunc,
    /// To nearest, ties to even (`nearest`).
    Nearest,
}

impl RoundMode {
    /// All modes.
    pub const ALL: [RoundMode; 4] = [
        RoundMode::Ceil,
        RoundMode::Floor,
        RoundMode::Trunc,
        RoundMode::Nearest,
    ];

    fn name(self) -> &'static str {
        match self {
            RoundMode::Ceil => "ceil",
            RoundMode::Floor => "floor",
            RoundMode::Trunc => "trunc",
            RoundMode::Nearest => "nearest",
        }
    }
}

/// One routine of the runtime. Operands and results are bits (see the module docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Routine {
    /// `a + b` (`fsub` is `a + (−b)`).
    Add(Format),
    /// `a · b`.
    Mul(Format),
    /// `a / b`.
    Div(Format),
    /// `√a`.
    Sqrt(Format),
    /// `a · b + c`, rounded once.
    Fma(Format),
    /// wasm's `min`: NaN if either is NaN, `−0 < +0`.
    Min(Format),
    /// wasm's `max`: NaN if either is NaN, `−0 < +0`.
    Max(Format),
    /// The compare code of `a` against `b` (an `i8`: [`CMP_EQ`] ...).
    Compare(Format),
    /// Rounding to an integral value in the same format.
    Round(Format, RoundMode),
    /// f32 → f64 (exact).
    Promote,
    /// f64 → f32 (rounded).
    Demote,
    /// A 64-bit integer → float, rounded (narrower integers are extended to 64 bits first).
    FromInt {
        /// The result's format.
        to: Format,
        /// Whether the operand is signed.
        signed: bool,
    },
    /// float → integer, truncated toward zero.
    ToInt {
        /// The operand's format.
        from: Format,
        /// The result's width: 32 or 64.
        bits: u8,
        /// Whether the result is signed.
        signed: bool,
        /// Saturate (and NaN → 0) instead of trapping.
        saturate: bool,
    },
}

impl Routine {
    /// Every routine, in symbol-index order (the index is a routine's place here).
    pub fn all() -> &'static [Routine] {
        static ALL: OnceLock<Vec<Routine>> = OnceLock::new();
        ALL.get_or_init(|| {
            let mut all = Vec::new();
            for f in Format::ALL {
                all.extend([
                    Routine::Add(f),
                    Routine::Mul(f),
                    Routine::Div(f),
                    Routine::Sqrt(f),
                    Routine::Fma(f),
                    Routine::Min(f),
                    Routine::Max(f),
                    Routine::Compare(f),
                ]);
                all.extend(RoundMode::ALL.map(|mode| Routine::Round(f, mode)));
                for signed in [true, false] {
                    all.push(Routine::FromInt { to: f, signed });
                }
                for saturate in [false, true] {
                    for bits in [32, 64] {
                        for signed in [true, false] {
                            all.push(Routine::ToInt {
                                from: f,
                                bits,
                                signed,
                                saturate,
                            });
                        }
                    }
                }
            }
            all.extend([Routine::Promote, Routine::Demote]);
            all
        })
    }

    /// The routine's symbol index.
    pub fn index(self) -> u32 {
        Routine::all()
            .iter()
            .position(|&r| r == self)
            .expect("every routine is listed") as u32
    }

    /// The routine with symbol index `index`.
    pub fn from_index(index: u32) -> Option<Routine> {
        Routine::all().get(index as usize).copied()
    }

    /// The routine's symbol.
    pub fn symbol(self) -> Symbol {
        Symbol::User {
            namespace: RUNTIME_NAMESPACE,
            index: self.index(),
        }
    }

    /// The routine a symbol names, if it is one.
    pub fn of_symbol(symbol: &Symbol) -> Option<Routine> {
        match *symbol {
            Symbol::User {
                namespace: RUNTIME_NAMESPACE,
                index,
            } => Routine::from_index(index),
            _ => None,
        }
    }

    /// The routine's CLIF name.
    pub fn external_name(self) -> UserExternalName {
        UserExternalName::new(RUNTIME_NAMESPACE, self.index())
    }

    /// Its signature: parameters and results in integer types (see the module docs).
    pub fn signature(self) -> Signature {
        let mut sig = Signature::new(CallConv::Fast);
        let (params, returns): (Vec<Type>, Vec<Type>) = match self {
            Routine::Add(f)
            | Routine::Mul(f)
            | Routine::Div(f)
            | Routine::Min(f)
            | Routine::Max(f) => (vec![f.int_type(); 2], vec![f.int_type()]),
            Routine::Sqrt(f) | Routine::Round(f, _) => (vec![f.int_type()], vec![f.int_type()]),
            Routine::Fma(f) => (vec![f.int_type(); 3], vec![f.int_type()]),
            Routine::Compare(f) => (vec![f.int_type(); 2], vec![types::I8]),
            Routine::Promote => (vec![types::I32], vec![types::I64]),
            Routine::Demote => (vec![types::I64], vec![types::I32]),
            Routine::FromInt { to, .. } => (vec![types::I64], vec![to.int_type()]),
            Routine::ToInt { from, bits, .. } => (
                vec![from.int_type()],
                vec![if bits == 32 { types::I32 } else { types::I64 }],
            ),
        };
        sig.params = params.into_iter().map(AbiParam::new).collect();
        sig.returns = returns.into_iter().map(AbiParam::new).collect();
        sig
    }

    /// The routine as a CLIF function named by its symbol.
    pub fn function(self) -> Function {
        let name = UserFuncName::User(self.external_name());
        build::function(self, name)
    }

    /// Its compiled code for a program compiled with `options` (compiled once per process
    /// and combination). The runtime is always compiled with the default options, optimized;
    /// only the flavour and [`Options::unlikely`] come from `options`.
    pub fn code(self, options: &Options) -> Result<Arc<FunctionCode>, CompileError> {
        type Cache = Mutex<HashMap<(Routine, Flavour, bool), Arc<FunctionCode>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Cache::default);
        let key = (self, options.flavour, options.unlikely);
        if let Some(code) = cache.lock().expect("no panics while held").get(&key) {
            return Ok(code.clone());
        }
        let options = Options {
            flavour: options.flavour,
            unlikely: options.unlikely,
            ..Options::default()
        };
        let code = Arc::new(compile_function_code(&self.function(), &options)?.code);
        cache
            .lock()
            .expect("no panics while held")
            .insert(key, code.clone());
        Ok(code)
    }
}

impl fmt::Display for Routine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Routine::Add(t) => write!(f, "{}_add", t.name()),
            Routine::Mul(t) => write!(f, "{}_mul", t.name()),
            Routine::Div(t) => write!(f, "{}_div", t.name()),
            Routine::Sqrt(t) => write!(f, "{}_sqrt", t.name()),
            Routine::Fma(t) => write!(f, "{}_fma", t.name()),
            Routine::Min(t) => write!(f, "{}_min", t.name()),
            Routine::Max(t) => write!(f, "{}_max", t.name()),
            Routine::Compare(t) => write!(f, "{}_cmp", t.name()),
            Routine::Round(t, mode) => write!(f, "{}_{}", t.name(), mode.name()),
            Routine::Promote => write!(f, "f64_promote_f32"),
            Routine::Demote => write!(f, "f32_demote_f64"),
            Routine::FromInt { to, signed } => {
                write!(f, "{}_from_{}64", to.name(), if signed { "i" } else { "u" })
            }
            Routine::ToInt {
                from,
                bits,
                signed,
                saturate,
            } => write!(
                f,
                "{}_to_{}{bits}{}",
                from.name(),
                if signed { "i" } else { "u" },
                if saturate { "_sat" } else { "" }
            ),
        }
    }
}
