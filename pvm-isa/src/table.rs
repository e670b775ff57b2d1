//! The PVM instruction table: the one place where each instruction's name, operand shape, opcode
//! number in each [`Flavour`] and basic-block behaviour are written down.
//!
//! Everything else in this crate derives from it: [`Opcode`] and its lookups, the per-opcode
//! constructors on [`Instruction`](crate::Instruction), the encoder, decoder, disassembler and
//! assembler. Names follow polkavm (`shift_logical_right_imm_alt_64`); numbers follow draft GP 0.8
//! (polkavm `JamV1`) and GP 0.7.2.

use crate::inst::{Args, Instruction, Shape};
use crate::reg::Reg;
use core::fmt;
use core::str::FromStr;

/// Which opcode numbering (and which optional instructions) a program uses.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, Default)]
pub enum Flavour {
    /// Draft GP 0.8 numbering, polkavm's `JamV1`: has `unlikely`, no `sbrk`, block-based gas.
    #[default]
    JamV1,
    /// GP v0.7.2 numbering (unchanged since GP 0.5.4): has `sbrk`, no `unlikely`.
    Gp072,
}

impl Flavour {
    /// Both flavours, the default first.
    pub const ALL: [Flavour; 2] = [Flavour::JamV1, Flavour::Gp072];

    /// The name used on command lines and in test headers.
    pub const fn name(self) -> &'static str {
        match self {
            Flavour::JamV1 => "jam-v1",
            Flavour::Gp072 => "gp-0.7.2",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown flavour name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown instruction-set flavour `{0}` (expected `jam-v1` or `gp-0.7.2`)")]
pub struct UnknownFlavour(pub String);

impl FromStr for Flavour {
    type Err = UnknownFlavour;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flavour::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFlavour(s.to_owned()))
    }
}

macro_rules! opcode_number {
    (-) => {
        None
    };
    ($n:literal) => {
        Some($n)
    };
}

/// One associated constructor per opcode, whose parameters follow the opcode's shape, so a
/// wrong operand list does not type-check.
macro_rules! constructor {
    ($name:ident, Argless) => {
        #[doc = concat!("`", stringify!($name), "`")]
        pub const fn $name() -> Self {
            Self::from_parts(Opcode::$name, Args::Argless)
        }
    };
    ($name:ident, Imm) => {
        #[doc = concat!("`", stringify!($name), " imm`")]
        pub const fn $name(imm: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::Imm(imm))
        }
    };
    ($name:ident, RegImm64) => {
        #[doc = concat!("`", stringify!($name), " rA, imm64`")]
        pub const fn $name(a: Reg, imm: u64) -> Self {
            Self::from_parts(Opcode::$name, Args::RegImm64(a, imm))
        }
    };
    ($name:ident, ImmImm) => {
        #[doc = concat!("`", stringify!($name), " immX, immY`")]
        pub const fn $name(x: u32, y: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::ImmImm(x, y))
        }
    };
    ($name:ident, Offset) => {
        #[doc = concat!("`", stringify!($name), " target`")]
        pub const fn $name(target: T) -> Self {
            Self::from_parts(Opcode::$name, Args::Offset(target))
        }
    };
    ($name:ident, RegImm) => {
        #[doc = concat!("`", stringify!($name), " rA, imm`")]
        pub const fn $name(a: Reg, imm: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::RegImm(a, imm))
        }
    };
    ($name:ident, RegImmImm) => {
        #[doc = concat!("`", stringify!($name), " rA, immX, immY`")]
        pub const fn $name(a: Reg, x: u32, y: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::RegImmImm(a, x, y))
        }
    };
    ($name:ident, RegImmOffset) => {
        #[doc = concat!("`", stringify!($name), " rA, imm, target`")]
        pub const fn $name(a: Reg, imm: u32, target: T) -> Self {
            Self::from_parts(Opcode::$name, Args::RegImmOffset(a, imm, target))
        }
    };
    ($name:ident, RegReg) => {
        #[doc = concat!("`", stringify!($name), " rD, rA`")]
        pub const fn $name(d: Reg, a: Reg) -> Self {
            Self::from_parts(Opcode::$name, Args::RegReg(d, a))
        }
    };
    ($name:ident, RegRegImm) => {
        #[doc = concat!("`", stringify!($name), " rA, rB, imm`")]
        pub const fn $name(a: Reg, b: Reg, imm: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::RegRegImm(a, b, imm))
        }
    };
    ($name:ident, RegRegOffset) => {
        #[doc = concat!("`", stringify!($name), " rA, rB, target`")]
        pub const fn $name(a: Reg, b: Reg, target: T) -> Self {
            Self::from_parts(Opcode::$name, Args::RegRegOffset(a, b, target))
        }
    };
    ($name:ident, RegRegImmImm) => {
        #[doc = concat!("`", stringify!($name), " rA, rB, immX, immY`")]
        pub const fn $name(a: Reg, b: Reg, x: u32, y: u32) -> Self {
            Self::from_parts(Opcode::$name, Args::RegRegImmImm(a, b, x, y))
        }
    };
    ($name:ident, RegRegReg) => {
        #[doc = concat!("`", stringify!($name), " rD, rA, rB`")]
        pub const fn $name(d: Reg, a: Reg, b: Reg) -> Self {
            Self::from_parts(Opcode::$name, Args::RegRegReg(d, a, b))
        }
    };
}

macro_rules! instruction_table {
    ($( $name:ident : $shape:ident, $jam:tt, $gp:tt, $ends_block:ident; )+) => {
        /// A PVM instruction, independent of its numbering in any [`Flavour`].
        #[allow(non_camel_case_types)]
        #[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub enum Opcode {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )+
        }

        impl Opcode {
            /// Every instruction, in table order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name,)+];

            /// The instruction's name, as the disassembler prints it.
            pub const fn name(self) -> &'static str {
                match self { $(Opcode::$name => stringify!($name),)+ }
            }

            /// The shape of the instruction's operands, which fixes its encoding.
            pub const fn shape(self) -> Shape {
                match self { $(Opcode::$name => Shape::$shape,)+ }
            }

            /// Whether the instruction ends a basic block (the next instruction starts one).
            pub const fn ends_block(self) -> bool {
                match self { $(Opcode::$name => instruction_table!(@bool $ends_block),)+ }
            }

            /// The opcode byte in `flavour`, or `None` if the flavour lacks the instruction.
            pub const fn number(self, flavour: Flavour) -> Option<u8> {
                match flavour {
                    Flavour::JamV1 => match self { $(Opcode::$name => opcode_number!($jam),)+ },
                    Flavour::Gp072 => match self { $(Opcode::$name => opcode_number!($gp),)+ },
                }
            }
        }

        impl<T> Instruction<T> {
            $( constructor!($name, $shape); )+
        }
    };
    (@bool ends) => { true };
    (@bool flows) => { false };
}

instruction_table! {
    // name                                 shape          jam-v1  gp-0.7.2  block
    trap                                  : Argless,        0,      0,      ends;
    fallthrough                           : Argless,        1,      1,      ends;
    unlikely                              : Argless,        2,      -,      flows;
    ecalli                                : Imm,            10,     10,     flows;
    load_imm64                            : RegImm64,       20,     20,     flows;
    store_imm_u8                          : ImmImm,         30,     30,     flows;
    store_imm_u16                         : ImmImm,         31,     31,     flows;
    store_imm_u32                         : ImmImm,         32,     32,     flows;
    store_imm_u64                         : ImmImm,         33,     33,     flows;
    jump                                  : Offset,         40,     40,     ends;
    jump_indirect                         : RegImm,         50,     50,     ends;
    load_imm                              : RegImm,         51,     51,     flows;
    load_u8                               : RegImm,         52,     52,     flows;
    load_i8                               : RegImm,         53,     53,     flows;
    load_u16                              : RegImm,         54,     54,     flows;
    load_i16                              : RegImm,         55,     55,     flows;
    load_u32                              : RegImm,         56,     56,     flows;
    load_i32                              : RegImm,         57,     57,     flows;
    load_u64                              : RegImm,         58,     58,     flows;
    store_u8                              : RegImm,         59,     59,     flows;
    store_u16                             : RegImm,         60,     60,     flows;
    store_u32                             : RegImm,         61,     61,     flows;
    store_u64                             : RegImm,         62,     62,     flows;
    store_imm_indirect_u8                 : RegImmImm,      70,     70,     flows;
    store_imm_indirect_u16                : RegImmImm,      71,     71,     flows;
    store_imm_indirect_u32                : RegImmImm,      72,     72,     flows;
    store_imm_indirect_u64                : RegImmImm,      73,     73,     flows;
    load_imm_and_jump                     : RegImmOffset,   80,     80,     ends;
    branch_eq_imm                         : RegImmOffset,   81,     81,     ends;
    branch_not_eq_imm                     : RegImmOffset,   82,     82,     ends;
    branch_less_unsigned_imm              : RegImmOffset,   83,     83,     ends;
    branch_less_or_equal_unsigned_imm     : RegImmOffset,   84,     84,     ends;
    branch_greater_or_equal_unsigned_imm  : RegImmOffset,   85,     85,     ends;
    branch_greater_unsigned_imm           : RegImmOffset,   86,     86,     ends;
    branch_less_signed_imm                : RegImmOffset,   87,     87,     ends;
    branch_less_or_equal_signed_imm       : RegImmOffset,   88,     88,     ends;
    branch_greater_or_equal_signed_imm    : RegImmOffset,   89,     89,     ends;
    branch_greater_signed_imm             : RegImmOffset,   90,     90,     ends;
    move_reg                              : RegReg,         100,    100,    flows;
    sbrk                                  : RegReg,         -,      101,    flows;
    count_set_bits_64                     : RegReg,         101,    102,    flows;
    count_set_bits_32                     : RegReg,         102,    103,    flows;
    count_leading_zero_bits_64            : RegReg,         103,    104,    flows;
    count_leading_zero_bits_32            : RegReg,         104,    105,    flows;
    count_trailing_zero_bits_64           : RegReg,         105,    106,    flows;
    count_trailing_zero_bits_32           : RegReg,         106,    107,    flows;
    sign_extend_8                         : RegReg,         107,    108,    flows;
    sign_extend_16                        : RegReg,         108,    109,    flows;
    zero_extend_16                        : RegReg,         109,    110,    flows;
    reverse_byte                          : RegReg,         110,    111,    flows;
    store_indirect_u8                     : RegRegImm,      120,    120,    flows;
    store_indirect_u16                    : RegRegImm,      121,    121,    flows;
    store_indirect_u32                    : RegRegImm,      122,    122,    flows;
    store_indirect_u64                    : RegRegImm,      123,    123,    flows;
    load_indirect_u8                      : RegRegImm,      124,    124,    flows;
    load_indirect_i8                      : RegRegImm,      125,    125,    flows;
    load_indirect_u16                     : RegRegImm,      126,    126,    flows;
    load_indirect_i16                     : RegRegImm,      127,    127,    flows;
    load_indirect_u32                     : RegRegImm,      128,    128,    flows;
    load_indirect_i32                     : RegRegImm,      129,    129,    flows;
    load_indirect_u64                     : RegRegImm,      130,    130,    flows;
    add_imm_32                            : RegRegImm,      131,    131,    flows;
    and_imm                               : RegRegImm,      132,    132,    flows;
    xor_imm                               : RegRegImm,      133,    133,    flows;
    or_imm                                : RegRegImm,      134,    134,    flows;
    mul_imm_32                            : RegRegImm,      135,    135,    flows;
    set_less_than_unsigned_imm            : RegRegImm,      136,    136,    flows;
    set_less_than_signed_imm              : RegRegImm,      137,    137,    flows;
    shift_logical_left_imm_32             : RegRegImm,      138,    138,    flows;
    shift_logical_right_imm_32            : RegRegImm,      139,    139,    flows;
    shift_arithmetic_right_imm_32         : RegRegImm,      140,    140,    flows;
    negate_and_add_imm_32                 : RegRegImm,      141,    141,    flows;
    set_greater_than_unsigned_imm         : RegRegImm,      142,    142,    flows;
    set_greater_than_signed_imm           : RegRegImm,      143,    143,    flows;
    shift_logical_left_imm_alt_32         : RegRegImm,      144,    144,    flows;
    shift_logical_right_imm_alt_32        : RegRegImm,      145,    145,    flows;
    shift_arithmetic_right_imm_alt_32     : RegRegImm,      146,    146,    flows;
    cmov_if_zero_imm                      : RegRegImm,      147,    147,    flows;
    cmov_if_not_zero_imm                  : RegRegImm,      148,    148,    flows;
    add_imm_64                            : RegRegImm,      149,    149,    flows;
    mul_imm_64                            : RegRegImm,      150,    150,    flows;
    shift_logical_left_imm_64             : RegRegImm,      151,    151,    flows;
    shift_logical_right_imm_64            : RegRegImm,      152,    152,    flows;
    shift_arithmetic_right_imm_64         : RegRegImm,      153,    153,    flows;
    negate_and_add_imm_64                 : RegRegImm,      154,    154,    flows;
    shift_logical_left_imm_alt_64         : RegRegImm,      155,    155,    flows;
    shift_logical_right_imm_alt_64        : RegRegImm,      156,    156,    flows;
    shift_arithmetic_right_imm_alt_64     : RegRegImm,      157,    157,    flows;
    rotate_right_imm_64                   : RegRegImm,      158,    158,    flows;
    rotate_right_imm_alt_64               : RegRegImm,      159,    159,    flows;
    rotate_right_imm_32                   : RegRegImm,      160,    160,    flows;
    rotate_right_imm_alt_32               : RegRegImm,      161,    161,    flows;
    branch_eq                             : RegRegOffset,   170,    170,    ends;
    branch_not_eq                         : RegRegOffset,   171,    171,    ends;
    branch_less_unsigned                  : RegRegOffset,   172,    172,    ends;
    branch_less_signed                    : RegRegOffset,   173,    173,    ends;
    branch_greater_or_equal_unsigned      : RegRegOffset,   174,    174,    ends;
    branch_greater_or_equal_signed        : RegRegOffset,   175,    175,    ends;
    load_imm_and_jump_indirect            : RegRegImmImm,   180,    180,    ends;
    add_32                                : RegRegReg,      190,    190,    flows;
    sub_32                                : RegRegReg,      191,    191,    flows;
    mul_32                                : RegRegReg,      192,    192,    flows;
    div_unsigned_32                       : RegRegReg,      193,    193,    flows;
    div_signed_32                         : RegRegReg,      194,    194,    flows;
    rem_unsigned_32                       : RegRegReg,      195,    195,    flows;
    rem_signed_32                         : RegRegReg,      196,    196,    flows;
    shift_logical_left_32                 : RegRegReg,      197,    197,    flows;
    shift_logical_right_32                : RegRegReg,      198,    198,    flows;
    shift_arithmetic_right_32             : RegRegReg,      199,    199,    flows;
    add_64                                : RegRegReg,      200,    200,    flows;
    sub_64                                : RegRegReg,      201,    201,    flows;
    mul_64                                : RegRegReg,      202,    202,    flows;
    div_unsigned_64                       : RegRegReg,      203,    203,    flows;
    div_signed_64                         : RegRegReg,      204,    204,    flows;
    rem_unsigned_64                       : RegRegReg,      205,    205,    flows;
    rem_signed_64                         : RegRegReg,      206,    206,    flows;
    shift_logical_left_64                 : RegRegReg,      207,    207,    flows;
    shift_logical_right_64                : RegRegReg,      208,    208,    flows;
    shift_arithmetic_right_64             : RegRegReg,      209,    209,    flows;
    and                                   : RegRegReg,      210,    210,    flows;
    xor                                   : RegRegReg,      211,    211,    flows;
    or                                    : RegRegReg,      212,    212,    flows;
    mul_upper_signed_signed               : RegRegReg,      213,    213,    flows;
    mul_upper_unsigned_unsigned           : RegRegReg,      214,    214,    flows;
    mul_upper_signed_unsigned             : RegRegReg,      215,    215,    flows;
    set_less_than_unsigned                : RegRegReg,      216,    216,    flows;
    set_less_than_signed                  : RegRegReg,      217,    217,    flows;
    cmov_if_zero                          : RegRegReg,      218,    218,    flows;
    cmov_if_not_zero                      : RegRegReg,      219,    219,    flows;
    rotate_left_64                        : RegRegReg,      220,    220,    flows;
    rotate_left_32                        : RegRegReg,      221,    221,    flows;
    rotate_right_64                       : RegRegReg,      222,    222,    flows;
    rotate_right_32                       : RegRegReg,      223,    223,    flows;
    and_inverted                          : RegRegReg,      224,    224,    flows;
    or_inverted                           : RegRegReg,      225,    225,    flows;
    xnor                                  : RegRegReg,      226,    226,    flows;
    maximum                               : RegRegReg,      227,    227,    flows;
    maximum_unsigned                      : RegRegReg,      228,    228,    flows;
    minimum                               : RegRegReg,      229,    229,    flows;
    minimum_unsigned                      : RegRegReg,      230,    230,    flows;
}

/// Opcode byte → instruction, per flavour, built once from the table at compile time.
const fn decode_table(flavour: Flavour) -> [Option<Opcode>; 256] {
    let mut map = [None; 256];
    let mut i = 0;
    while i < Opcode::ALL.len() {
        let op = Opcode::ALL[i];
        if let Some(n) = op.number(flavour) {
            assert!(
                map[n as usize].is_none(),
                "two instructions share an opcode number"
            );
            map[n as usize] = Some(op);
        }
        i += 1;
    }
    map
}

const JAM_V1_OPCODES: [Option<Opcode>; 256] = decode_table(Flavour::JamV1);
const GP_072_OPCODES: [Option<Opcode>; 256] = decode_table(Flavour::Gp072);

impl Opcode {
    /// The instruction with opcode byte `byte` in `flavour`, if any.
    pub const fn from_number(flavour: Flavour, byte: u8) -> Option<Opcode> {
        match flavour {
            Flavour::JamV1 => JAM_V1_OPCODES[byte as usize],
            Flavour::Gp072 => GP_072_OPCODES[byte as usize],
        }
    }

    /// The instruction named `name` (as [`Opcode::name`] spells it).
    pub fn from_name(name: &str) -> Option<Opcode> {
        Opcode::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// Whether the instruction is a conditional branch (one static target, falls through otherwise).
    pub const fn is_branch(self) -> bool {
        matches!(self.shape(), Shape::RegImmOffset | Shape::RegRegOffset)
            && !matches!(self, Opcode::load_imm_and_jump)
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_differs_only_where_documented() {
        // JamV1 adds `unlikely`, drops `sbrk`, and shifts the two-register group down by one.
        for &op in Opcode::ALL {
            match (op.number(Flavour::JamV1), op.number(Flavour::Gp072)) {
                (Some(j), Some(g)) if j == g => {}
                (Some(j), Some(g)) => {
                    assert_eq!(op.shape(), Shape::RegReg, "{op}");
                    assert_eq!(j + 1, g, "{op}");
                    assert!((101..=110).contains(&j), "{op}");
                }
                (Some(_), None) => assert_eq!(op, Opcode::unlikely),
                (None, Some(_)) => assert_eq!(op, Opcode::sbrk),
                (None, None) => panic!("{op} is in no flavour"),
            }
        }
    }

    #[test]
    fn numbers_round_trip() {
        for flavour in Flavour::ALL {
            let mut count = 0;
            for &op in Opcode::ALL {
                if let Some(n) = op.number(flavour) {
                    assert_eq!(Opcode::from_number(flavour, n), Some(op));
                    count += 1;
                }
            }
            assert_eq!(count, 139, "{flavour}");
        }
    }
}
