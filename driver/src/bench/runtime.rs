//! The soft-float runtime's table: every routine of `pvm_backend::softfloat` with the code bytes
//! it adds to a program and the gas it uses per call.
//!
//! **Code bytes**: how much a program's code blob grows when the program starts using the
//! routine: the blob of a one-instruction program with the routine linked in, minus the blob of
//! that program alone. That counts the routine's instruction bytes, their bitmask bits and any
//! jump-table entries, and the routines it calls itself (listed with it), as the linker adds
//! those too. The runtime's total is the same difference with every routine linked in.
//!
//! **Gas**: each routine is compiled as a function of its own and called with register
//! arguments on a fresh machine (`pvm_filetests::execute::Executable`), [`OPERANDS`] times over
//! a fixed operand set ([`operand_sets`], described by [`operand_mix`]); gas is polkavm's naive
//! model (one per instruction), counted from the routine's first instruction through its
//! return, so the caller's call instruction is not included. No operand makes a routine trap;
//! a trap is reported as a failure.

use anyhow::{bail, Context, Result};
use cranelift_codegen::data_value::DataValue;
use pvm_backend::link::{FunctionCode, Item, Linker, Symbol};
use pvm_backend::softfloat::{Format, Routine};
use pvm_backend::Options;
use pvm_filetests::execute::{Executable, Outcome};
use pvm_isa::{Flavour, Instruction};

/// Operand tuples each routine is called with.
pub const OPERANDS: usize = 1000;

/// One tuple in this many has a special operand.
const SPECIAL_EVERY: usize = 25;

/// Typical operands have an unbiased exponent in `-TYPICAL_EXPONENT..=TYPICAL_EXPONENT`.
const TYPICAL_EXPONENT: i64 = 20;

/// The operand set, in words (for the JSON output; the README says the same).
pub fn operand_mix() -> String {
    format!(
        "{OPERANDS} operand tuples per routine from a fixed xorshift64* sequence. Typical \
         floats: random sign, random fraction, unbiased exponent uniform in \
         -{TYPICAL_EXPONENT}..={TYPICAL_EXPONENT} (non-negative for sqrt and for conversions to \
         unsigned integers); typical integers (int to float): uniform random bit length 1..=64, \
         random sign when signed. In every {SPECIAL_EVERY}th tuple one operand, taking turns, \
         is special instead, cycling through +0, -0, +inf, -inf, the canonical NaN, the \
         smallest and the largest subnormal, the smallest normal and the largest finite value \
         (integers: 0, 1, -1, i64::MIN, i64::MAX); for the trapping float-to-integer \
         conversions only the in-range ones (zeros, subnormals, smallest normal)."
    )
}

/// One routine's measurements.
pub struct RoutineRow {
    /// The bytes it adds to a program's code blob (the routines it calls included).
    pub code_bytes: usize,
    /// The other routines it calls, which `code_bytes` includes.
    pub calls: Vec<Routine>,
    /// Mean gas per call.
    pub gas_avg: f64,
    /// The cheapest call.
    pub gas_min: i64,
    /// The dearest call.
    pub gas_max: i64,
}

/// xorshift64*: a fixed, seedable sequence, so the operand set never changes.
struct Sequence(u64);

impl Sequence {
    /// The next number (xorshift64* by Vigna: three shifts, then an odd multiplier).
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// What one operand of a routine is.
#[derive(Copy, Clone)]
enum Operand {
    /// The bits of a float of this format.
    Float {
        format: Format,
        /// Typical values are non-negative.
        non_negative: bool,
        /// Only specials a trapping conversion to an integer accepts.
        in_range: bool,
    },
    /// A 64-bit integer.
    Int { signed: bool },
}

/// The operands `routine` takes.
fn operands(routine: Routine) -> Vec<Operand> {
    let float = |format| Operand::Float {
        format,
        non_negative: false,
        in_range: false,
    };
    match routine {
        Routine::Add(f)
        | Routine::Mul(f)
        | Routine::Div(f)
        | Routine::Min(f)
        | Routine::Max(f)
        | Routine::Compare(f) => vec![float(f); 2],
        Routine::Fma(f) => vec![float(f); 3],
        Routine::Round(f, _) => vec![float(f)],
        Routine::Sqrt(format) => vec![Operand::Float {
            format,
            non_negative: true,
            in_range: false,
        }],
        Routine::Promote => vec![float(Format::F32)],
        Routine::Demote => vec![float(Format::F64)],
        Routine::FromInt { signed, .. } => vec![Operand::Int { signed }],
        Routine::ToInt {
            from,
            signed,
            saturate,
            ..
        } => vec![Operand::Float {
            format: from,
            non_negative: !signed,
            in_range: !saturate,
        }],
    }
}

impl Operand {
    /// A typical value (see [`operand_mix`]).
    fn typical(self, sequence: &mut Sequence) -> u64 {
        let random = sequence.next();
        match self {
            Operand::Float {
                format,
                non_negative,
                ..
            } => {
                let fraction = random & ((1 << format.mant_bits()) - 1);
                let exponent = format.bias() - TYPICAL_EXPONENT
                    + (sequence.next() % (2 * TYPICAL_EXPONENT as u64 + 1)) as i64;
                let sign = if non_negative {
                    0
                } else {
                    random >> 63 << (format.bits() - 1)
                };
                sign | (exponent as u64) << format.mant_bits() | fraction
            }
            Operand::Int { signed } => {
                let length = 1 + sequence.next() % 64;
                let magnitude = random >> (64 - length);
                if signed && sequence.next() & 1 == 1 {
                    magnitude.wrapping_neg()
                } else {
                    magnitude
                }
            }
        }
    }

    /// The special values, in the order they take turns (see [`operand_mix`]).
    fn specials(self) -> Vec<u64> {
        match self {
            Operand::Float {
                format, in_range, ..
            } => {
                let min_normal = 1 << format.mant_bits();
                let all = [
                    0,
                    format.sign_mask(),
                    format.infinity(),
                    format.sign_mask() | format.infinity(),
                    format.canonical_nan(),
                    1,
                    min_normal - 1,
                    min_normal,
                    format.infinity() - 1,
                ];
                // In range: magnitudes below 1, which truncate to 0.
                all.into_iter()
                    .filter(|&bits| !in_range || bits & !format.sign_mask() <= min_normal)
                    .collect()
            }
            Operand::Int { .. } => vec![0, 1, u64::MAX, 1 << 63, (1 << 63) - 1],
        }
    }

    /// `bits` as the argument the routine's signature wants.
    fn value(self, bits: u64) -> DataValue {
        match self {
            Operand::Float {
                format: Format::F32,
                ..
            } => DataValue::I32(bits as u32 as i32),
            _ => DataValue::I64(bits as i64),
        }
    }
}

/// The [`OPERANDS`] argument lists `routine` is measured with (see [`operand_mix`]).
pub fn operand_sets(routine: Routine) -> Vec<Vec<DataValue>> {
    let kinds = operands(routine);
    let mut sequence = Sequence(0x9e37_79b9_7f4a_7c15);
    (0..OPERANDS)
        .map(|tuple| {
            let mut bits: Vec<u64> = kinds.iter().map(|k| k.typical(&mut sequence)).collect();
            if tuple % SPECIAL_EVERY == 0 {
                let turn = tuple / SPECIAL_EVERY;
                let position = turn % kinds.len();
                let specials = kinds[position].specials();
                bits[position] = specials[turn / kinds.len() % specials.len()];
            }
            kinds.iter().zip(bits).map(|(k, b)| k.value(b)).collect()
        })
        .collect()
}

/// The options programs are compiled with for `flavour`: the defaults.
fn backend_options(flavour: Flavour) -> Options {
    Options {
        flavour,
        ..Options::default()
    }
}

/// The code blob of a one-instruction program with `routines` (and the routines they call)
/// linked in.
fn code_blob_bytes(flavour: Flavour, routines: &[Routine]) -> Result<usize> {
    let mut linker = Linker::new(flavour);
    let mut program = FunctionCode::default();
    program.push(Item::Inst(Instruction::trap()));
    linker.add_function(Symbol::Name("program".to_string()), &program)?;
    for &routine in routines {
        linker.add_function(routine.symbol(), &*routine.code(&backend_options(flavour))?)?;
    }
    Ok(linker.finish()?.program.code.to_bytes().len())
}

/// The gas of every call of `routine` over its operand set.
fn gas_per_call(routine: Routine, flavour: Flavour) -> Result<Vec<i64>> {
    let executable = Executable::new(&routine.function(), &backend_options(flavour))?;
    operand_sets(routine)
        .into_iter()
        .map(|args| {
            let call = executable.call(&args)?;
            if let Outcome::Trapped(exit) = &call.outcome {
                bail!("trapped ({}) on {args:?}", crate::run::describe_exit(exit));
            }
            Ok(call.gas)
        })
        .collect()
}

/// The bytes `routines` (and the routines they call) add to a program's code blob.
fn added_bytes(flavour: Flavour, routines: &[Routine]) -> Result<usize> {
    Ok(code_blob_bytes(flavour, routines)? - code_blob_bytes(flavour, &[])?)
}

/// Measures `routine`.
fn measure(routine: Routine, flavour: Flavour) -> Result<RoutineRow> {
    let gas = gas_per_call(routine, flavour)?;
    let mut calls: Vec<Routine> = routine
        .code(&backend_options(flavour))?
        .references()
        .filter_map(Routine::of_symbol)
        .filter(|&callee| callee != routine)
        .collect();
    calls.sort();
    calls.dedup();
    Ok(RoutineRow {
        code_bytes: added_bytes(flavour, &[routine])?,
        calls,
        gas_avg: gas.iter().sum::<i64>() as f64 / gas.len() as f64,
        gas_min: gas.iter().copied().min().unwrap_or(0),
        gas_max: gas.iter().copied().max().unwrap_or(0),
    })
}

/// The whole runtime measured.
pub struct Runtime {
    /// One result per routine, in `Routine::all()` order.
    pub rows: Vec<Result<RoutineRow>>,
    /// The bytes all the routines add to a program together.
    pub total_code_bytes: Result<usize>,
}

/// Measures every routine for `flavour`.
pub fn measure_all(flavour: Flavour) -> Runtime {
    Runtime {
        rows: Routine::all()
            .iter()
            .map(|&routine| measure(routine, flavour).with_context(|| routine.to_string()))
            .collect(),
        total_code_bytes: added_bytes(flavour, Routine::all()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float an argument's bits stand for.
    fn float(arg: &DataValue) -> f64 {
        match *arg {
            DataValue::I32(bits) => f64::from(f32::from_bits(bits as u32)),
            DataValue::I64(bits) => f64::from_bits(bits as u64),
            ref other => panic!("{other:?} is no float's bits"),
        }
    }

    /// Whether `arg` is a typical float: a normal magnitude in [2^-20, 2^21).
    fn typical(arg: &DataValue) -> bool {
        (2f64.powi(-20)..2f64.powi(21)).contains(&float(arg).abs())
    }

    #[test]
    fn operand_sets_fit_the_signatures() {
        for &routine in Routine::all() {
            let params: Vec<_> = routine
                .signature()
                .params
                .iter()
                .map(|p| p.value_type)
                .collect();
            let sets = operand_sets(routine);
            assert_eq!(sets.len(), OPERANDS);
            for args in sets {
                assert_eq!(args.iter().map(DataValue::ty).collect::<Vec<_>>(), params);
            }
        }
    }

    #[test]
    fn operand_sets_mix_typical_and_special_values() {
        for format in Format::ALL {
            let sets = operand_sets(Routine::Fma(format));
            for (index, args) in sets.iter().enumerate() {
                let specials = args.iter().filter(|a| !typical(a)).count();
                assert_eq!(
                    specials,
                    usize::from(index % SPECIAL_EVERY == 0),
                    "{args:?}"
                );
            }
            // Every special value turns up in every operand position.
            let mut seen: Vec<(usize, DataValue)> = sets
                .iter()
                .flat_map(|args| args.iter().cloned().enumerate())
                .filter(|(_, a)| !typical(a))
                .collect();
            seen.sort_by_key(|(position, a)| (*position, format!("{a:?}")));
            seen.dedup();
            assert_eq!(seen.len(), 3 * 9, "{seen:?}");
            let sqrt = operand_sets(Routine::Sqrt(format));
            assert!(sqrt
                .iter()
                .flatten()
                .filter(|a| typical(a))
                .all(|a| float(a) > 0.0));
        }
    }

    #[test]
    fn trapping_conversions_get_only_operands_in_range() {
        for &routine in Routine::all() {
            let Routine::ToInt {
                bits,
                signed,
                saturate: false,
                ..
            } = routine
            else {
                continue;
            };
            let (low, high) = if signed {
                (
                    -(2f64.powi(i32::from(bits) - 1)),
                    2f64.powi(i32::from(bits) - 1),
                )
            } else {
                (0.0, 2f64.powi(i32::from(bits)))
            };
            for args in operand_sets(routine) {
                let truncated = float(&args[0]).trunc();
                assert!((low..high).contains(&truncated), "{routine}: {args:?}");
            }
        }
    }
}
