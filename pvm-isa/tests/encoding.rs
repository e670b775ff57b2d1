//! The encoder and decoder for the whole instruction table, checked against themselves, the Gray
//! Paper (appendix A.5, v0.7.2) and polkavm-common 0.37.
//!
//! - `every_instruction_round_trips_and_matches_polkavm_{jam_v1,gp_072}`: for every opcode of the
//!   flavour (139 each), every register in every register position, boundary immediates in every
//!   immediate position (0, ±1, ±2, the i8, i16, i24 and i32 limits and their neighbours; large
//!   64-bit values for `load_imm64`) and targets at and around the instruction (pc, pc±1,
//!   pc±127/128/129, pc±32767/32768/32769, the i24 and i32 limits, far and wrapping addresses),
//!   at positions 0, 1, 0x1000 and 0xFFFF_FFF0:
//!   1. `encode` then `decode` with skip = length - 1 and junk bytes around the instruction gives
//!      back the same instruction (position 0xFFFF_FFF0 does not fit a test buffer: its bytes
//!      are decoded at 0x1000 and the target compared after translation);
//!   2. polkavm's `Instruction::serialize_into` writes the same bytes (`ISA_JamV1` for jam-v1,
//!      `ISA_ReviveV1` for gp-0.7.2; `sbrk`, which ReviveV1 lacks, against `ISA_Latest32`, which
//!      numbers it 101 as GP 0.7.2 does);
//!   3. polkavm's decoder reads those bytes, at the real position, as the same instruction.
//! - `opcode_tables_agree_with_polkavm`: for every byte 0..=255 both tables name the same
//!   instruction or none (jam-v1 against `ISA_JamV1`, gp-0.7.2 against `ISA_ReviveV1` except
//!   `sbrk` = 101), every name exists on both sides (polkavm's `memset` is in neither flavour),
//!   and both agree on which instructions end a basic block.
//! - `random_operand_bytes_decode_as_in_polkavm`: arbitrary operand bytes and skips decode alike
//!   in both decoders, except a three-register `rD` byte of 16 or more with `byte mod 16 < 12`:
//!   the GP reads `min(12, byte)` (so r12), polkavm `min(12, byte mod 16)`; this crate follows
//!   the GP.
//! - `operand_sets_cover_every_encoded_length`: the immediates and target offsets above take
//!   every encoded length 0..=4 at every position.
//! - `non_canonical_encodings_decode_as_the_gp_says`: over-long immediates, register nibbles
//!   13..15, immediate lengths above 4 in a length field, skips shorter than the immediates, bytes
//!   past the end of the code, each against the value the GP defines and against polkavm.
//! - `code_blob_decodes_like_polkavms_instruction_iterator`: a code blob holding every
//!   instruction, with and without junk bytes inside the skips, through `CodeBlob::instructions`
//!   and polkavm's `Instructions` iterator (which finds the skips from the bitmask itself).

use polkavm_common::program::{
    asm, Instruction as PkInstruction, InstructionSet, InstructionSetKind, Instructions,
    Opcode as PkOpcode, Reg as PkReg,
};
use pvm_isa::{
    decode, encode, imm_len, Args, CodeBlob, Flavour, Instruction, Opcode, Reg, Shape,
    MAX_INSTRUCTION_LEN, MAX_SKIP,
};

/// Instruction positions the round trip runs at.
const POSITIONS: [u32; 4] = [0, 1, 0x1000, 0xFFFF_FFF0];

/// Where an instruction whose position does not fit the test buffer is decoded instead.
const STAND_IN_PC: u32 = 0x1000;

/// Filler around every decoded instruction, so the decoder cannot rely on zero padding.
const JUNK: [u8; 16] = [
    0xFF, 0x80, 0x7F, 0xA5, 0x5A, 0x01, 0xFE, 0xC3, 0x3C, 0x99, 0x66, 0x0F, 0xF0, 0x81, 0x7E, 0xED,
];

/// Immediates: every encoded length 0..=4, each boundary with its neighbours.
#[rustfmt::skip]
const IMMS: [i32; 38] = [
    0, 1, -1, 2, -2,
    0x7E, 0x7F, 0x80, 0x81, -0x7F, -0x80, -0x81, 0xFF, 0x100,
    0x7FFE, 0x7FFF, 0x8000, 0x8001, -0x7FFF, -0x8000, -0x8001, 0xFFFF,
    0x7F_FFFE, 0x7F_FFFF, 0x80_0000, 0x80_0001, -0x7F_FFFF, -0x80_0000, -0x80_0001, 0xFF_FFFF,
    i32::MAX - 1, i32::MAX, i32::MIN, i32::MIN + 1,
    0x1234_5678, -0x1234_5678, 0x0100_0000, -0x0100_0000,
];

/// `load_imm64` values beyond the sign- and zero-extended 32-bit immediates.
#[rustfmt::skip]
const IMM64S: [u64; 14] = [
    u64::MAX, 1 << 63, (1 << 63) - 1, (1 << 63) + 1,
    1 << 32, (1 << 32) + 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF,
    0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_7FFF_FFFF,
    0x1234_5678_9ABC_DEF0, 0xFEDC_BA98_7654_3210, 0x00FF_0000_0000_0000,
];

/// Target offsets from the instruction's own position.
#[rustfmt::skip]
const DELTAS: [i32; 25] = [
    0, 1, -1, 2, -2,
    127, -127, 128, -128, 129, -129,
    32767, -32767, 32768, -32768, 32769, -32769,
    0x7F_FFFF, -0x80_0000, 0x80_0000, -0x80_0001,
    i32::MAX, i32::MIN, i32::MAX - 1, i32::MIN + 1,
];

/// Absolute targets, far from most positions (the offsets wrap modulo 2^32).
#[rustfmt::skip]
const FAR_TARGETS: [u32; 9] = [
    0, 1, 0x1000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_0000, 0xFFFF_FFF0, 0xFFFF_FFFF, 0x1234_5678,
];

fn imms() -> impl Iterator<Item = u32> + Clone {
    IMMS.into_iter().map(|x| x as u32)
}

fn imm64s() -> impl Iterator<Item = u64> {
    let sign_extended = IMMS.into_iter().map(|x| i64::from(x) as u64);
    let zero_extended = IMMS.into_iter().map(|x| u64::from(x as u32));
    sign_extended.chain(zero_extended).chain(IMM64S)
}

fn targets(pc: u32) -> impl Iterator<Item = u32> + Clone {
    DELTAS
        .into_iter()
        .map(move |d| pc.wrapping_add(d as u32))
        .chain(FAR_TARGETS)
}

/// Calls `f` on every operand combination of `op` that the round trip covers at `pc`.
fn for_each_instruction(op: Opcode, pc: u32, mut f: impl FnMut(Instruction)) {
    let mut emit = |args| f(Instruction::new(op, args).expect("operands of the table's shape"));
    let regs = Reg::ALL;
    match op.shape() {
        Shape::Argless => emit(Args::Argless),
        Shape::Imm => imms().for_each(|x| emit(Args::Imm(x))),
        Shape::RegImm64 => {
            for a in regs {
                imm64s().for_each(|x| emit(Args::RegImm64(a, x)));
            }
        }
        Shape::ImmImm => {
            for x in imms() {
                imms().for_each(|y| emit(Args::ImmImm(x, y)));
            }
        }
        Shape::Offset => targets(pc).for_each(|t| emit(Args::Offset(t))),
        Shape::RegImm => {
            for a in regs {
                imms().for_each(|x| emit(Args::RegImm(a, x)));
            }
        }
        Shape::RegImmImm => {
            for (a, x) in regs.into_iter().flat_map(|a| imms().map(move |x| (a, x))) {
                imms().for_each(|y| emit(Args::RegImmImm(a, x, y)));
            }
        }
        Shape::RegImmOffset => {
            for (a, x) in regs.into_iter().flat_map(|a| imms().map(move |x| (a, x))) {
                targets(pc).for_each(|t| emit(Args::RegImmOffset(a, x, t)));
            }
        }
        Shape::RegReg => {
            for d in regs {
                regs.into_iter().for_each(|a| emit(Args::RegReg(d, a)));
            }
        }
        Shape::RegRegImm => {
            for (a, b) in reg_pairs() {
                imms().for_each(|x| emit(Args::RegRegImm(a, b, x)));
            }
        }
        Shape::RegRegOffset => {
            for (a, b) in reg_pairs() {
                targets(pc).for_each(|t| emit(Args::RegRegOffset(a, b, t)));
            }
        }
        Shape::RegRegImmImm => {
            for (a, b) in reg_pairs() {
                for x in imms() {
                    imms().for_each(|y| emit(Args::RegRegImmImm(a, b, x, y)));
                }
            }
        }
        Shape::RegRegReg => {
            for (a, b) in reg_pairs() {
                regs.into_iter()
                    .for_each(|d| emit(Args::RegRegReg(d, a, b)));
            }
        }
    }
}

fn reg_pairs() -> impl Iterator<Item = (Reg, Reg)> {
    Reg::ALL
        .into_iter()
        .flat_map(|a| Reg::ALL.into_iter().map(move |b| (a, b)))
}

/// The polkavm instruction set that numbers `op` as `flavour` does (`InstructionSetKind::JamV1`
/// dispatches to `ISA_JamV1`, and so on).
fn polkavm_isa(flavour: Flavour, op: Opcode) -> InstructionSetKind {
    match (flavour, op) {
        (Flavour::JamV1, _) => InstructionSetKind::JamV1,
        // ReviveV1 lacks `sbrk`; Latest32 has it at GP 0.7.2's number, 101.
        (Flavour::Gp072, Opcode::sbrk) => InstructionSetKind::Latest32,
        (Flavour::Gp072, _) => InstructionSetKind::ReviveV1,
    }
}

fn pk_reg(reg: Reg) -> PkReg {
    PkReg::from_raw(u32::from(reg.index())).expect("r0..=r12")
}

/// Builds `to_polkavm`: one exhaustive match over our opcodes, each arm calling polkavm's
/// assembler function of the same name with our operands in encoding order. The compiler checks
/// that every opcode is listed and that polkavm's function takes the listed shape's operands;
/// the tests check the listed shape against the table and the resulting name against polkavm's.
macro_rules! polkavm_by_shape {
    ($inst:expr; $( $shape:ident: [$($name:ident),+ $(,)?] )+) => {{
        let inst: &Instruction = $inst;
        match inst.opcode() {
            $($( Opcode::$name => polkavm_by_shape!(@$shape $name, inst), )+)+
        }
    }};
    (@Argless $name:ident, $inst:ident) => {
        match *$inst.args() { Args::Argless => asm::$name(), _ => wrong_shape($inst) }
    };
    (@Imm $name:ident, $inst:ident) => {
        match *$inst.args() { Args::Imm(x) => asm::$name(x as i32), _ => wrong_shape($inst) }
    };
    (@RegImm64 $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegImm64(a, x) => asm::$name(pk_reg(a), x),
            _ => wrong_shape($inst),
        }
    };
    (@ImmImm $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::ImmImm(x, y) => asm::$name(x as i32, y as i32),
            _ => wrong_shape($inst),
        }
    };
    (@Offset $name:ident, $inst:ident) => {
        match *$inst.args() { Args::Offset(t) => asm::$name(t), _ => wrong_shape($inst) }
    };
    (@RegImm $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegImm(a, x) => asm::$name(pk_reg(a), x as i32),
            _ => wrong_shape($inst),
        }
    };
    (@RegImmImm $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegImmImm(a, x, y) => asm::$name(pk_reg(a), x as i32, y as i32),
            _ => wrong_shape($inst),
        }
    };
    (@RegImmOffset $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegImmOffset(a, x, t) => asm::$name(pk_reg(a), x as i32, t),
            _ => wrong_shape($inst),
        }
    };
    (@RegReg $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegReg(d, a) => asm::$name(pk_reg(d), pk_reg(a)),
            _ => wrong_shape($inst),
        }
    };
    (@RegRegImm $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegRegImm(a, b, x) => asm::$name(pk_reg(a), pk_reg(b), x as i32),
            _ => wrong_shape($inst),
        }
    };
    (@RegRegOffset $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegRegOffset(a, b, t) => asm::$name(pk_reg(a), pk_reg(b), t),
            _ => wrong_shape($inst),
        }
    };
    (@RegRegImmImm $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegRegImmImm(a, b, x, y) => {
                asm::$name(pk_reg(a), pk_reg(b), x as i32, y as i32)
            }
            _ => wrong_shape($inst),
        }
    };
    // polkavm's three-register functions take (rD, rA, rB) and write `rA | rB << 4, rD`.
    (@RegRegReg $name:ident, $inst:ident) => {
        match *$inst.args() {
            Args::RegRegReg(d, a, b) => asm::$name(pk_reg(d), pk_reg(a), pk_reg(b)),
            _ => wrong_shape($inst),
        }
    };
}

fn wrong_shape(inst: &Instruction) -> PkInstruction {
    panic!("{inst:?}: the shape listed for polkavm differs from the table's")
}

/// polkavm's instruction with the same name and operands (targets stay absolute in both).
fn to_polkavm(inst: &Instruction) -> PkInstruction {
    let pk = polkavm_by_shape! { inst;
        Argless: [trap, fallthrough, unlikely]
        Imm: [ecalli]
        RegImm64: [load_imm64]
        ImmImm: [store_imm_u8, store_imm_u16, store_imm_u32, store_imm_u64]
        Offset: [jump]
        RegImm: [
            jump_indirect, load_imm, load_u8, load_i8, load_u16, load_i16, load_u32, load_i32,
            load_u64, store_u8, store_u16, store_u32, store_u64,
        ]
        RegImmImm: [
            store_imm_indirect_u8, store_imm_indirect_u16, store_imm_indirect_u32,
            store_imm_indirect_u64,
        ]
        RegImmOffset: [
            load_imm_and_jump, branch_eq_imm, branch_not_eq_imm, branch_less_unsigned_imm,
            branch_less_or_equal_unsigned_imm, branch_greater_or_equal_unsigned_imm,
            branch_greater_unsigned_imm, branch_less_signed_imm, branch_less_or_equal_signed_imm,
            branch_greater_or_equal_signed_imm, branch_greater_signed_imm,
        ]
        RegReg: [
            move_reg, sbrk, count_set_bits_64, count_set_bits_32, count_leading_zero_bits_64,
            count_leading_zero_bits_32, count_trailing_zero_bits_64, count_trailing_zero_bits_32,
            sign_extend_8, sign_extend_16, zero_extend_16, reverse_byte,
        ]
        RegRegImm: [
            store_indirect_u8, store_indirect_u16, store_indirect_u32, store_indirect_u64,
            load_indirect_u8, load_indirect_i8, load_indirect_u16, load_indirect_i16,
            load_indirect_u32, load_indirect_i32, load_indirect_u64, add_imm_32, and_imm,
            xor_imm, or_imm, mul_imm_32, set_less_than_unsigned_imm, set_less_than_signed_imm,
            shift_logical_left_imm_32, shift_logical_right_imm_32, shift_arithmetic_right_imm_32,
            negate_and_add_imm_32, set_greater_than_unsigned_imm, set_greater_than_signed_imm,
            shift_logical_left_imm_alt_32, shift_logical_right_imm_alt_32,
            shift_arithmetic_right_imm_alt_32, cmov_if_zero_imm, cmov_if_not_zero_imm,
            add_imm_64, mul_imm_64, shift_logical_left_imm_64, shift_logical_right_imm_64,
            shift_arithmetic_right_imm_64, negate_and_add_imm_64, shift_logical_left_imm_alt_64,
            shift_logical_right_imm_alt_64, shift_arithmetic_right_imm_alt_64,
            rotate_right_imm_64, rotate_right_imm_alt_64, rotate_right_imm_32,
            rotate_right_imm_alt_32,
        ]
        RegRegOffset: [
            branch_eq, branch_not_eq, branch_less_unsigned, branch_less_signed,
            branch_greater_or_equal_unsigned, branch_greater_or_equal_signed,
        ]
        RegRegImmImm: [load_imm_and_jump_indirect]
        RegRegReg: [
            add_32, sub_32, mul_32, div_unsigned_32, div_signed_32, rem_unsigned_32,
            rem_signed_32, shift_logical_left_32, shift_logical_right_32,
            shift_arithmetic_right_32, add_64, sub_64, mul_64, div_unsigned_64, div_signed_64,
            rem_unsigned_64, rem_signed_64, shift_logical_left_64, shift_logical_right_64,
            shift_arithmetic_right_64, and, xor, or, mul_upper_signed_signed,
            mul_upper_unsigned_unsigned, mul_upper_signed_unsigned, set_less_than_unsigned,
            set_less_than_signed, cmov_if_zero, cmov_if_not_zero, rotate_left_64, rotate_left_32,
            rotate_right_64, rotate_right_32, and_inverted, or_inverted, xnor, maximum,
            maximum_unsigned, minimum, minimum_unsigned,
        ]
    };
    assert_eq!(pk.opcode().name(), inst.opcode().name());
    pk
}

/// polkavm's decoding of one instruction: `bytes` start at the opcode; `skip` as in the GP.
fn polkavm_decode(isa: InstructionSetKind, bytes: &[u8], pc: u32, skip: usize) -> PkInstruction {
    let mut chunk = [0u8; 16];
    let n = bytes.len().min(16);
    chunk[..n].copy_from_slice(&bytes[..n]);
    isa.parse_instruction(
        usize::from(chunk[0]),
        u128::from_le_bytes(chunk),
        pc,
        skip as u32 + 1,
    )
}

#[derive(Default, Debug)]
struct Counts {
    opcodes: usize,
    round_trips: usize,
    polkavm_bytes: usize,
    polkavm_decodes: usize,
}

/// Scratch space and tallies for the round trip of one flavour.
struct RoundTrip {
    flavour: Flavour,
    /// Junk everywhere except while an instruction is being decoded.
    code: Vec<u8>,
    bytes: Vec<u8>,
    counts: Counts,
}

impl RoundTrip {
    fn new(flavour: Flavour) -> Self {
        let len = STAND_IN_PC as usize + MAX_INSTRUCTION_LEN + JUNK.len();
        RoundTrip {
            flavour,
            code: (0..len).map(|i| JUNK[i % JUNK.len()]).collect(),
            bytes: Vec::with_capacity(MAX_INSTRUCTION_LEN),
            counts: Counts::default(),
        }
    }

    fn check(&mut self, inst: &Instruction, pc: u32, isa: InstructionSetKind) {
        let flavour = self.flavour;
        self.bytes.clear();
        let len = encode(inst, flavour, pc, &mut self.bytes).expect("opcode is in the flavour");
        let bytes = &self.bytes[..];
        assert_eq!(len, bytes.len(), "{inst:?}");
        assert!(len <= MAX_INSTRUCTION_LEN, "{inst:?}: {bytes:02x?}");
        assert_eq!(Some(bytes[0]), inst.opcode().number(flavour));

        // 1. Our decoder, at the real position if the buffer holds it, else translated.
        let (at, expected) = if pc as usize + len + JUNK.len() <= self.code.len() {
            (pc, *inst)
        } else {
            let moved = inst.map_target(|t| t.wrapping_sub(pc).wrapping_add(STAND_IN_PC));
            (STAND_IN_PC, moved)
        };
        let range = at as usize..at as usize + len;
        self.code[range.clone()].copy_from_slice(bytes);
        let decoded = decode(&self.code, at, len - 1, flavour);
        for i in range {
            self.code[i] = JUNK[i % JUNK.len()];
        }
        assert_eq!(
            decoded,
            Ok(expected),
            "{flavour}: {inst:?} at {pc:#x} encodes as {bytes:02x?}"
        );
        self.counts.round_trips += 1;

        // 2. polkavm's encoder.
        let pk = to_polkavm(inst);
        let mut pk_bytes = [0u8; 32];
        let pk_len = pk.serialize_into(isa, pc, &mut pk_bytes);
        assert_eq!(
            &pk_bytes[..pk_len],
            bytes,
            "{flavour}: {inst:?} at {pc:#x}: polkavm's bytes differ from ours"
        );
        self.counts.polkavm_bytes += 1;

        // 3. polkavm's decoder, with junk after the instruction.
        let mut padded = [0u8; 16];
        padded[..len].copy_from_slice(bytes);
        padded[len..].copy_from_slice(&JUNK[..16 - len]);
        let parsed = polkavm_decode(isa, &padded, pc, len - 1);
        assert_eq!(
            parsed, pk,
            "{flavour}: {inst:?} at {pc:#x}: polkavm decodes {bytes:02x?}"
        );
        self.counts.polkavm_decodes += 1;
    }
}

fn round_trip_flavour(flavour: Flavour) {
    let mut rt = RoundTrip::new(flavour);
    for &op in Opcode::ALL {
        if op.number(flavour).is_none() {
            continue;
        }
        rt.counts.opcodes += 1;
        let isa = polkavm_isa(flavour, op);
        for pc in POSITIONS {
            for_each_instruction(op, pc, |inst| rt.check(&inst, pc, isa));
        }
    }
    let c = &rt.counts;
    assert_eq!(c.opcodes, 139, "{flavour}: opcodes covered");
    println!(
        "{flavour}: {} opcodes, checked {} encodings (encode -> decode), {} compared byte-for-byte \
         with polkavm-common's encoder, {} decoded back by polkavm-common",
        c.opcodes, c.round_trips, c.polkavm_bytes, c.polkavm_decodes
    );
}

#[test]
fn every_instruction_round_trips_and_matches_polkavm_jam_v1() {
    round_trip_flavour(Flavour::JamV1);
}

#[test]
fn every_instruction_round_trips_and_matches_polkavm_gp_072() {
    round_trip_flavour(Flavour::Gp072);
}

#[test]
fn operand_sets_cover_every_encoded_length() {
    let lengths = |values: &mut dyn Iterator<Item = u32>| {
        let mut seen = [false; 5];
        values.for_each(|v| seen[imm_len(v)] = true);
        seen
    };
    assert_eq!(lengths(&mut imms()), [true; 5], "immediates");
    for pc in POSITIONS {
        let offsets = &mut targets(pc).map(|t| t.wrapping_sub(pc));
        assert_eq!(lengths(offsets), [true; 5], "offsets at {pc:#x}");
    }
}

#[test]
fn opcode_tables_agree_with_polkavm() {
    let pairs = [
        (Flavour::JamV1, InstructionSetKind::JamV1),
        (Flavour::Gp072, InstructionSetKind::ReviveV1),
    ];
    for (flavour, isa) in pairs {
        let mut named = 0;
        for byte in 0..=255u8 {
            let ours = Opcode::from_number(flavour, byte).map(Opcode::name);
            let theirs = isa.opcode_from_raw(u32::from(byte)).map(PkOpcode::name);
            if (flavour, byte) == (Flavour::Gp072, 101) {
                assert_eq!(
                    (ours, theirs),
                    (Some("sbrk"), None),
                    "GP 0.7.2 has sbrk at 101"
                );
                let latest32 = InstructionSetKind::Latest32.opcode_from_raw(101);
                assert_eq!(latest32.map(PkOpcode::name), Some("sbrk"));
            } else {
                assert_eq!(ours, theirs, "{flavour}: opcode byte {byte}");
            }
            named += usize::from(ours.is_some());
        }
        assert_eq!(named, 139, "{flavour}");
    }
    for &pk_op in PkOpcode::ALL {
        match Opcode::from_name(pk_op.name()) {
            Some(op) => assert_eq!(
                op.ends_block(),
                pk_op.starts_new_basic_block(),
                "{op}: whether it ends a basic block"
            ),
            None => assert_eq!(
                pk_op.name(),
                "memset",
                "an instruction missing from the table"
            ),
        }
    }
    for &op in Opcode::ALL {
        assert!(
            op.name().parse::<PkOpcode>().is_ok(),
            "{op} is not a polkavm name"
        );
    }
}

/// xorshift64*: reproducible pseudo-random bytes without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The one place the decoders differ: polkavm reads a three-register `rD` byte modulo 16.
fn polkavm_reads_rd_differently(inst: &Instruction, bytes: &[u8]) -> bool {
    inst.opcode().shape() == Shape::RegRegReg
        && Reg::from_nibble(bytes[2] & 15) != Reg::R12
        && bytes[2] > 15
}

#[test]
fn random_operand_bytes_decode_as_in_polkavm() {
    const CASES_PER_OPCODE: usize = 3000;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut divergent) = (0, 0);
    for flavour in Flavour::ALL {
        for &op in Opcode::ALL {
            let Some(number) = op.number(flavour) else {
                continue;
            };
            let isa = polkavm_isa(flavour, op);
            for case in 0..CASES_PER_OPCODE {
                let mut bytes = [0u8; 16];
                // Every other case keeps each byte below 16, so small register and length
                // fields (and the agreeing side of the rD difference) come up often.
                let mask = if case % 2 == 0 { 0xFF } else { 0x0F };
                bytes.iter_mut().for_each(|b| *b = rng.next() as u8 & mask);
                bytes[0] = number;
                let skip = rng.below(MAX_SKIP as u64 + 1) as usize;
                let pc = if case % 3 == 0 {
                    rng.below(64) as u32
                } else {
                    rng.next() as u32
                };

                let ours = decode(&bytes, 0, skip, flavour).expect("opcode is in the flavour");
                let ours = ours.map_target(|t| t.wrapping_add(pc));
                let theirs = polkavm_decode(isa, &bytes, pc, skip);
                let context = || format!("{flavour}: {bytes:02x?}, skip {skip}, pc {pc:#x}");
                if polkavm_reads_rd_differently(&ours, &bytes) {
                    let Args::RegRegReg(d, a, b) = *ours.args() else {
                        unreachable!()
                    };
                    assert_eq!(
                        d,
                        Reg::R12,
                        "{}: the GP reads rD = min(12, byte)",
                        context()
                    );
                    let pk_d = Reg::from_nibble(bytes[2] & 15);
                    let pk_view = Instruction::new(op, Args::RegRegReg(pk_d, a, b)).unwrap();
                    assert_eq!(theirs, to_polkavm(&pk_view), "{}", context());
                    divergent += 1;
                } else {
                    assert_eq!(theirs, to_polkavm(&ours), "{}", context());
                }
                decoded += 1;
            }
        }
    }
    assert!(divergent > 0);
    println!(
        "random operand bytes: {decoded} decodings compared with polkavm-common, {divergent} of \
         them three-register rD bytes >= 16 where polkavm (mod 16) and the GP (r12) differ"
    );
}

/// One hand-written encoding, what the GP says it means, and whether polkavm agrees.
struct Case {
    what: &'static str,
    flavour: Flavour,
    bytes: Vec<u8>,
    skip: usize,
    /// Junk after `bytes`; without it the code ends there and the GP reads zeros beyond.
    junk_after: bool,
    gp: Instruction,
    polkavm_agrees: bool,
}

fn num(op: Opcode) -> u8 {
    op.number(Flavour::JamV1).expect("in jam-v1")
}

fn case(what: &'static str, bytes: &[u8], skip: usize, gp: Instruction) -> Case {
    Case {
        what,
        flavour: Flavour::JamV1,
        bytes: bytes.to_vec(),
        skip,
        junk_after: true,
        gp,
        polkavm_agrees: true,
    }
}

fn non_canonical_cases() -> Vec<Case> {
    use Opcode as O;
    use Reg::*;
    let li = num(O::load_imm);
    let add64 = num(O::add_64);
    vec![
        // Over-long immediates: the value is the same, only the length differs.
        case(
            "1 in four bytes",
            &[li, 0x01, 1, 0, 0, 0],
            5,
            Instruction::load_imm(R1, 1),
        ),
        case(
            "-1 in two bytes",
            &[li, 0x02, 0xFF, 0xFF],
            3,
            Instruction::load_imm(R2, u32::MAX),
        ),
        case(
            "0 in four bytes",
            &[num(O::ecalli), 0, 0, 0, 0],
            4,
            Instruction::ecalli(0),
        ),
        case(
            "0x80 in two bytes stays positive",
            &[num(O::add_imm_64), 0x43, 0x80, 0x00],
            3,
            Instruction::add_imm_64(R3, R4, 0x80),
        ),
        case(
            "0x80 in one byte is -128",
            &[num(O::add_imm_64), 0x43, 0x80],
            2,
            Instruction::add_imm_64(R3, R4, 0xFFFF_FF80),
        ),
        case(
            "a skip beyond four immediate bytes reads four",
            &[li, 0x01, 0x78, 0x56, 0x34, 0x12, 0xAA, 0xBB],
            7,
            Instruction::load_imm(R1, 0x1234_5678),
        ),
        case(
            "an over-long offset",
            &[num(O::jump), 0x10, 0, 0, 0],
            4,
            Instruction::jump(0x10),
        ),
        // Register fields 13..=15 name r12.
        case(
            "move_reg 0xFD",
            &[num(O::move_reg), 0xFD],
            1,
            Instruction::move_reg(R12, R12),
        ),
        case(
            "move_reg 0xE3",
            &[num(O::move_reg), 0xE3],
            1,
            Instruction::move_reg(R3, R12),
        ),
        case(
            "load_imm 0x0D",
            &[li, 0x0D, 5],
            2,
            Instruction::load_imm(R12, 5),
        ),
        case(
            "a one-register byte ignores its high nibble",
            &[li, 0xF3, 5],
            2,
            Instruction::load_imm(R3, 5),
        ),
        case(
            "load_imm64 0x1D",
            &[num(O::load_imm64), 0x1D, 1, 2, 3, 4, 5, 6, 7, 8],
            9,
            Instruction::load_imm64(R12, 0x0807_0605_0403_0201),
        ),
        case(
            "add_64 rA 14, rB 13, rD 15",
            &[add64, 0xDE, 0x0F],
            2,
            Instruction::add_64(R12, R12, R12),
        ),
        case(
            "add_64 rD 0x1C: both read r12",
            &[add64, 0x21, 0x1C],
            2,
            Instruction::add_64(R12, R1, R2),
        ),
        // The GP clamps the whole rD byte (min(12, byte)); polkavm takes it modulo 16 first.
        Case {
            polkavm_agrees: false,
            ..case(
                "add_64 rD 0x10",
                &[add64, 0x21, 0x10],
                2,
                Instruction::add_64(R12, R1, R2),
            )
        },
        Case {
            polkavm_agrees: false,
            ..case(
                "add_64 rD 0x35",
                &[add64, 0x21, 0x35],
                2,
                Instruction::add_64(R12, R1, R2),
            )
        },
        // Immediate lengths: min(4, field mod 8).
        case(
            "store_imm lenX 5",
            &[num(O::store_imm_u8), 0x05, 0x11, 0x22, 0x33, 0x44, 0x7F],
            6,
            Instruction::store_imm_u8(0x4433_2211, 0x7F),
        ),
        case(
            "store_imm lenX 15 (mod 8 = 7)",
            &[num(O::store_imm_u8), 0x0F, 0x11, 0x22, 0x33, 0x44, 0x7F],
            6,
            Instruction::store_imm_u8(0x4433_2211, 0x7F),
        ),
        case(
            "store_imm lenX 9 (mod 8 = 1)",
            &[num(O::store_imm_u16), 0x09, 0x81, 0x22, 0x33],
            4,
            Instruction::store_imm_u16(0xFFFF_FF81, 0x3322),
        ),
        case(
            "store_imm_indirect 0x73: r3, lenX 7",
            &[
                num(O::store_imm_indirect_u32),
                0x73,
                0x11,
                0x22,
                0x33,
                0x44,
                0x01,
            ],
            6,
            Instruction::store_imm_indirect_u32(R3, 0x4433_2211, 1),
        ),
        case(
            "store_imm_indirect 0x93: r3, lenX 9 mod 8 = 1",
            &[num(O::store_imm_indirect_u32), 0x93, 0x05, 0x06],
            3,
            Instruction::store_imm_indirect_u32(R3, 5, 6),
        ),
        case(
            "store_imm_indirect 0xFD: r12, lenX 15 mod 8 = 7",
            &[num(O::store_imm_indirect_u64), 0xFD, 1, 0, 0, 0, 2],
            6,
            Instruction::store_imm_indirect_u64(R12, 1, 2),
        ),
        case(
            "branch_eq_imm lenX 5",
            &[num(O::branch_eq_imm), 0x51, 0x11, 0x22, 0x33, 0x44, 0x08],
            6,
            Instruction::branch_eq_imm(R1, 0x4433_2211, 8),
        ),
        case(
            "load_imm_and_jump_indirect lenX 14 (mod 8 = 6)",
            &[
                num(O::load_imm_and_jump_indirect),
                0x21,
                0x0E,
                0x11,
                0x22,
                0x33,
                0x44,
                0xFE,
            ],
            7,
            Instruction::load_imm_and_jump_indirect(R1, R2, 0x4433_2211, u32::MAX - 1),
        ),
        // Skips shorter than the immediates: X is read in full, Y gets what is left (maybe 0).
        case(
            "store_imm lenX 4, skip 2",
            &[num(O::store_imm_u16), 0x04, 0x11, 0x22, 0x33, 0x44],
            2,
            Instruction::store_imm_u16(0x4433_2211, 0),
        ),
        case(
            "branch_eq_imm lenX 2, skip 1",
            &[num(O::branch_eq_imm), 0x21, 0x11, 0x22],
            1,
            Instruction::branch_eq_imm(R1, 0x2211, 0),
        ),
        case(
            "load_imm_and_jump_indirect lenX 3, skip 3",
            &[
                num(O::load_imm_and_jump_indirect),
                0x21,
                0x03,
                0x11,
                0x22,
                0x83,
            ],
            3,
            Instruction::load_imm_and_jump_indirect(R1, R2, 0xFF83_2211, 0),
        ),
        case(
            "load_imm64 reads 8 bytes whatever the skip",
            &[num(O::load_imm64), 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
            0,
            Instruction::load_imm64(R1, 0x0807_0605_0403_0201),
        ),
        case(
            "add_64 with skip 0 still has its registers",
            &[add64, 0x21, 0x03],
            0,
            Instruction::add_64(R3, R1, R2),
        ),
        case(
            "load_imm with skip 0 has immediate 0",
            &[li, 0x05],
            0,
            Instruction::load_imm(R5, 0),
        ),
        case(
            "jump with skip 0 jumps to itself",
            &[num(O::jump)],
            0,
            Instruction::jump(0),
        ),
        // The code ends inside the instruction: the GP reads zeros beyond it.
        Case {
            junk_after: false,
            ..case(
                "code ends after 0xFF",
                &[li, 0x01, 0xFF],
                5,
                Instruction::load_imm(R1, 0xFF),
            )
        },
        Case {
            junk_after: false,
            ..case(
                "code ends after the opcode",
                &[add64],
                2,
                Instruction::add_64(R0, R0, R0),
            )
        },
        // gp-0.7.2 numbering, including sbrk.
        Case {
            flavour: Flavour::Gp072,
            ..case(
                "gp-0.7.2 sbrk 0xF1",
                &[101, 0xF1],
                1,
                Instruction::sbrk(R1, R12),
            )
        },
        Case {
            flavour: Flavour::Gp072,
            ..case(
                "gp-0.7.2 reverse_byte",
                &[111, 0x21],
                1,
                Instruction::reverse_byte(R1, R2),
            )
        },
    ]
}

#[test]
fn non_canonical_encodings_decode_as_the_gp_says() {
    let (mut checked, mut divergent) = (0, 0);
    for c in non_canonical_cases() {
        let mut code = c.bytes.clone();
        if c.junk_after {
            code.extend_from_slice(&JUNK);
        }
        let what = c.what;
        let decoded = decode(&code, 0, c.skip, c.flavour);
        assert_eq!(decoded, Ok(c.gp), "{what}: {:02x?}", c.bytes);

        let isa = polkavm_isa(c.flavour, c.gp.opcode());
        for pc in POSITIONS {
            let theirs = polkavm_decode(isa, &code, pc, c.skip);
            let gp = to_polkavm(&c.gp.map_target(|t| t.wrapping_add(pc)));
            if c.polkavm_agrees {
                assert_eq!(theirs, gp, "{what}: polkavm at {pc:#x}");
            } else {
                assert_ne!(theirs, gp, "{what}: polkavm now agrees with the GP");
            }
        }
        checked += 1;
        divergent += usize::from(!c.polkavm_agrees);
    }

    // A skip above the GP's cap reads like the cap.
    let code = [num(Opcode::load_imm), 0x01, 0x01, 0x02, 0x03, 0x04, 0x05];
    let at_cap = decode(&code, 0, MAX_SKIP, Flavour::JamV1);
    assert_eq!(at_cap, Ok(Instruction::load_imm(Reg::R1, 0x0403_0201)));
    assert_eq!(decode(&code, 0, 1000, Flavour::JamV1), at_cap);
    println!(
        "non-canonical encodings: {checked} checked against the GP, {divergent} where polkavm \
         reads otherwise (rD bytes >= 16)"
    );
}

/// Some instruction of `op` whose operands vary with `i`.
fn sample(op: Opcode, i: usize, pc: u32) -> Instruction {
    let reg = |k: usize| Reg::ALL[(i * 5 + k * 3) % Reg::ALL.len()];
    let imm = |k: usize| IMMS[(i * 7 + k * 11) % IMMS.len()] as u32;
    let target = pc.wrapping_add(DELTAS[(i * 3) % DELTAS.len()] as u32);
    let args = match op.shape() {
        Shape::Argless => Args::Argless,
        Shape::Imm => Args::Imm(imm(0)),
        Shape::RegImm64 => Args::RegImm64(reg(0), IMM64S[i % IMM64S.len()]),
        Shape::ImmImm => Args::ImmImm(imm(0), imm(1)),
        Shape::Offset => Args::Offset(target),
        Shape::RegImm => Args::RegImm(reg(0), imm(0)),
        Shape::RegImmImm => Args::RegImmImm(reg(0), imm(0), imm(1)),
        Shape::RegImmOffset => Args::RegImmOffset(reg(0), imm(0), target),
        Shape::RegReg => Args::RegReg(reg(0), reg(1)),
        Shape::RegRegImm => Args::RegRegImm(reg(0), reg(1), imm(0)),
        Shape::RegRegOffset => Args::RegRegOffset(reg(0), reg(1), target),
        Shape::RegRegImmImm => Args::RegRegImmImm(reg(0), reg(1), imm(0), imm(1)),
        Shape::RegRegReg => Args::RegRegReg(reg(0), reg(1), reg(2)),
    };
    Instruction::new(op, args).expect("operands of the table's shape")
}

#[test]
fn code_blob_decodes_like_polkavms_instruction_iterator() {
    let mut compared = 0;
    for flavour in Flavour::ALL {
        // One polkavm instruction set must number the whole blob: ReviveV1 has no sbrk.
        let isa = polkavm_isa(flavour, Opcode::trap);
        let ops: Vec<Opcode> = Opcode::ALL
            .iter()
            .copied()
            .filter(|&op| op.number(flavour).is_some() && op != Opcode::sbrk)
            .collect();
        for junk_in_skips in [false, true] {
            let mut blob = CodeBlob {
                jump_table: Vec::new(),
                code: Vec::new(),
                bitmask: Vec::new(),
            };
            let mut starts = Vec::new();
            let mut written = Vec::new();
            for (i, &op) in ops.iter().chain(&[Opcode::trap]).enumerate() {
                let pc = blob.code.len() as u32;
                let inst = sample(op, i, pc);
                encode(&inst, flavour, pc, &mut blob.code).expect("opcode is in the flavour");
                if junk_in_skips {
                    blob.code.extend_from_slice(&JUNK[..i % 4]);
                }
                starts.push(pc);
                written.push(inst);
            }
            blob.bitmask = vec![0; blob.code.len().div_ceil(8)];
            for &pc in &starts {
                blob.bitmask[pc as usize / 8] |= 1 << (pc % 8);
            }

            let ours: Vec<(u32, Instruction)> = blob
                .instructions(flavour)
                .map(|(pc, inst)| (pc, inst.expect("opcode is in the flavour")))
                .collect();
            let theirs: Vec<(u32, PkInstruction)> =
                Instructions::new_unbounded(isa, &blob.code, &blob.bitmask, 0)
                    .filter(|parsed| (parsed.offset.0 as usize) < blob.code.len())
                    .map(|parsed| (parsed.offset.0, parsed.kind))
                    .collect();
            let context = format!("{flavour}, junk in skips: {junk_in_skips}");
            assert_eq!(ours.len(), starts.len(), "{context}");
            assert_eq!(theirs.len(), starts.len(), "{context}");
            for ((pc, inst), (pk_pc, pk)) in ours.iter().zip(&theirs) {
                assert_eq!(pc, pk_pc, "{context}");
                assert_eq!(to_polkavm(inst), *pk, "{context}: at {pc:#x}");
                compared += 1;
            }
            if !junk_in_skips {
                let decoded: Vec<Instruction> = ours.iter().map(|&(_, inst)| inst).collect();
                assert_eq!(decoded, written, "{context}");
            }
        }
    }
    println!(
        "code blobs: {compared} instructions decoded alike by CodeBlob and polkavm's iterator"
    );
}
