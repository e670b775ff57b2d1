//! Every binary parser against random and mutated input: each input must give `Ok` or `Err`
//! without panicking, and every `Ok` must re-serialize and re-parse to an equal value.
//!
//! Inputs are mostly mutations of valid serialized programs (bit flips, byte overwrites,
//! truncation, insertion, deletion, duplication, splicing, and length fields overwritten with
//! huge or off-by-one values), plus plain random bytes. Each parser gets `PVM_FUZZ_CASES`
//! inputs (default 1,000,000; a smaller number makes local runs quick) from a fixed seed
//! (`PVM_FUZZ_SEED` changes it), one `#[test]` per parser so the harness spreads them over
//! the cores. Run with `--nocapture` to see the counts.

use polkavm_common::program::{asm, InstructionSetKind, ProgramBlob, Reg as PReg};
use polkavm_common::writer::ProgramBlobBuilder;
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use pvm_isa::{
    decode, encode, load_program, varint, CodeBlob, ContainerFormat, Export, Flavour,
    LoadedProgram, ParseError, PolkavmContainer, ServiceBlob, StandardProgram, MAX_SKIP,
};

fn cases() -> u64 {
    std::env::var("PVM_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

fn seed() -> u64 {
    std::env::var("PVM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f022)
}

struct Rng(TestRng);

impl Rng {
    fn new(stream: u64) -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&seed().to_le_bytes());
        bytes[8..].copy_from_slice(&stream.to_le_bytes());
        Rng(TestRng::from_seed(RngAlgorithm::XorShift, &bytes))
    }

    fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n`; `n > 0`.
    fn below(&mut self, n: usize) -> usize {
        (self.u64() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.u64() as u8).collect()
    }

    /// Random bytes, fewer than `max`.
    fn bytes_below(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }

    fn name(&mut self) -> String {
        let len = self.below(8);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

// ---- valid seeds ----

fn code_blob(rng: &mut Rng) -> CodeBlob {
    let len = match rng.below(8) {
        0 => 0,
        1 => 200 + rng.below(100),
        _ => 1 + rng.below(40),
    };
    let code = rng.bytes(len);
    let mut bitmask = vec![0u8; len.div_ceil(8)];
    let mut starts = Vec::new();
    for pc in 0..len {
        if pc == 0 || rng.chance(3) {
            bitmask[pc / 8] |= 1 << (pc % 8);
            starts.push(pc as u32);
        }
    }
    let entries = if starts.is_empty() { 0 } else { rng.below(5) };
    let jump_table = (0..entries)
        .map(|_| starts[rng.below(starts.len())])
        .collect();
    CodeBlob {
        jump_table,
        code,
        bitmask,
    }
}

fn standard_program(rng: &mut Rng) -> StandardProgram {
    let len = |rng: &mut Rng| match rng.below(6) {
        0 => 0,
        1 => 4096 + rng.below(200),
        _ => rng.below(40),
    };
    let ro = len(rng);
    let rw = len(rng);
    StandardProgram {
        ro_data: rng.bytes(ro),
        rw_data: rng.bytes(rw),
        heap_pages: match rng.below(4) {
            0 => 0,
            1 => u16::MAX,
            _ => rng.below(20) as u16,
        },
        stack_size: match rng.below(4) {
            0 => 0,
            1 => 0xFF_FFFF,
            _ => rng.below(0x2_0000) as u32,
        },
        code: code_blob(rng),
    }
}

fn service(rng: &mut Rng) -> ServiceBlob {
    let len = if rng.chance(4) { 130 } else { rng.below(10) };
    ServiceBlob {
        metadata: rng.bytes(len),
        program: standard_program(rng),
    }
}

fn polkavm(rng: &mut Rng) -> PolkavmContainer {
    let program = standard_program(rng);
    let starts: Vec<u32> = (0..program.code.code.len() as u32)
        .filter(|&pc| program.code.is_instruction_start(pc))
        .collect();
    let exports = if starts.is_empty() { 0 } else { rng.below(4) };
    PolkavmContainer {
        flavour: if rng.chance(2) {
            Flavour::JamV1
        } else {
            Flavour::Gp072
        },
        imports: (0..rng.below(4)).map(|_| rng.name()).collect(),
        exports: (0..exports)
            .map(|_| Export {
                pc: starts[rng.below(starts.len())],
                name: rng.name(),
            })
            .collect(),
        program,
    }
}

/// A blob from polkavm-common's own writer, with sizes larger than the payloads.
fn polkavm_written(rng: &mut Rng) -> Vec<u8> {
    let kind = if rng.chance(2) {
        InstructionSetKind::JamV1
    } else {
        InstructionSetKind::ReviveV1
    };
    let mut b = ProgramBlobBuilder::new(kind);
    let ro = rng.bytes_below(20);
    b.set_ro_data_size((ro.len() + rng.below(9000)) as u32);
    b.set_ro_data(ro);
    let rw = rng.bytes_below(20);
    b.set_rw_data_size((rw.len() + rng.below(90_000)) as u32);
    b.set_rw_data(rw);
    b.set_stack_size(rng.below(100_000) as u32);
    for _ in 0..rng.below(3) {
        b.add_import(rng.name().as_bytes());
    }
    b.add_export_by_basic_block(0, b"main");
    b.set_code(
        &[
            asm::load_imm(PReg::A0, rng.u64() as i32),
            asm::jump(1),
            asm::add_64(PReg::A0, PReg::A0, PReg::A1),
            asm::ret(),
        ],
        &[1],
    );
    if rng.chance(2) {
        b.add_custom_section(131, rng.bytes(32));
    }
    b.to_vec().unwrap()
}

/// Appends an optional (skippable) section before the end marker and fixes the length.
fn with_optional_section(mut bytes: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    let end = bytes.pop();
    debug_assert_eq!(end, Some(0));
    bytes.push(128 + rng.below(128) as u8);
    let body = rng.bytes_below(20);
    varint::encode(body.len() as u64, &mut bytes);
    bytes.extend_from_slice(&body);
    bytes.push(0);
    fix_polkavm_length(&mut bytes);
    bytes
}

fn fix_polkavm_length(bytes: &mut [u8]) {
    if bytes.len() >= 13 && bytes.starts_with(b"PVM\0") {
        let len = (bytes.len() as u64).to_le_bytes();
        bytes[5..13].copy_from_slice(&len);
    }
}

/// Valid serialized inputs, by format.
struct Corpus {
    code: Vec<Vec<u8>>,
    spi: Vec<Vec<u8>>,
    service: Vec<Vec<u8>>,
    polkavm: Vec<Vec<u8>>,
}

impl Corpus {
    fn new(rng: &mut Rng) -> Self {
        const N: usize = 48;
        let code = (0..N).map(|_| code_blob(rng).to_bytes()).collect();
        let spi = (0..N)
            .map(|_| standard_program(rng).to_bytes().unwrap())
            .collect();
        let service = (0..N).map(|_| service(rng).to_bytes().unwrap()).collect();
        let polkavm = (0..N)
            .map(|i| match i % 4 {
                0 => polkavm_written(rng),
                1 => with_optional_section(polkavm(rng).to_bytes().unwrap(), rng),
                _ => polkavm(rng).to_bytes().unwrap(),
            })
            .collect();
        Corpus {
            code,
            spi,
            service,
            polkavm,
        }
    }

    fn of(&self, format: ContainerFormat) -> &[Vec<u8>] {
        match format {
            ContainerFormat::CodeBlob => &self.code,
            ContainerFormat::Spi => &self.spi,
            ContainerFormat::Service => &self.service,
            ContainerFormat::Polkavm => &self.polkavm,
        }
    }

    /// Fills `out` with the next input: mostly a mutated seed of `target` (`None`: any format).
    fn input(&self, rng: &mut Rng, target: Option<ContainerFormat>, out: &mut Vec<u8>) {
        out.clear();
        let roll = rng.below(20);
        if roll < 2 {
            let len = rng.below(64);
            out.extend((0..len).map(|_| rng.u64() as u8));
            if rng.chance(2) {
                // Random bytes behind the right magic get past the first check.
                out.splice(0..0, *b"PVM\0\x03");
                fix_polkavm_length(out);
            }
            return;
        }
        let format = match target {
            Some(f) if roll < 16 => f,
            _ => ContainerFormat::ALL[rng.below(4)],
        };
        let seeds = self.of(format);
        out.extend_from_slice(&seeds[rng.below(seeds.len())]);
        if roll < 5 {
            return; // unchanged: the Ok path gets exercised too
        }
        for _ in 0..1 + rng.below(4) {
            self.mutate(rng, out);
        }
        // Most mutations would otherwise stop at the `.polkavm` length check.
        if !rng.chance(4) {
            fix_polkavm_length(out);
        }
    }

    fn mutate(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        let len = out.len();
        // Positions near the start hold most length fields: favour them.
        let pos = |rng: &mut Rng, len: usize| {
            if len == 0 {
                0
            } else if rng.chance(2) {
                rng.below(len.min(24))
            } else {
                rng.below(len)
            }
        };
        match rng.below(9) {
            0 if len > 0 => {
                let p = pos(rng, len);
                out[p] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let p = pos(rng, len);
                out[p] = [0, 0x7f, 0x80, 0xff, rng.u64() as u8][rng.below(5)];
            }
            2 => out.truncate(rng.below(len + 1)),
            3 => {
                let p = rng.below(len + 1);
                let extra = rng.bytes_below(9);
                out.splice(p..p, extra);
            }
            4 if len > 0 => {
                let p = rng.below(len);
                let end = (p + 1 + rng.below(8)).min(len);
                out.drain(p..end);
            }
            5 | 6 => {
                // A length field overwritten with a huge or off-by-one value, as a varint or
                // as a fixed-width little-endian number.
                let value = [
                    u64::MAX,
                    u32::MAX.into(),
                    (1 << 24) - 1,
                    1 << 24,
                    1 << 30,
                    1 << 32,
                    len as u64,
                    len as u64 + 1,
                    rng.below(300) as u64,
                ][rng.below(9)];
                let mut enc = Vec::new();
                if rng.chance(2) {
                    varint::encode(value, &mut enc);
                } else {
                    enc.extend_from_slice(&value.to_le_bytes()[..1 + rng.below(8)]);
                }
                let p = pos(rng, len);
                let end = (p + enc.len()).min(len);
                out.splice(p..end, enc);
            }
            7 if len > 0 => {
                let p = rng.below(len);
                let end = (p + 1 + rng.below(16)).min(len);
                let chunk = out[p..end].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, chunk);
            }
            _ => {
                // Splice: this input's head with another seed's tail.
                let other = &self.of(ContainerFormat::ALL[rng.below(4)]);
                let other = &other[rng.below(other.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
        }
    }
}

// ---- the harness ----

/// Feeds `cases()` inputs to `check`, which returns whether the parser accepted the input
/// (having asserted the round trip if so); prints and checks the counts.
fn fuzz(
    name: &str,
    stream: u64,
    mut next: impl FnMut(&mut Rng, &mut Vec<u8>),
    mut check: impl FnMut(&[u8]) -> Result<(), String>,
) {
    let wanted = cases();
    let stats = std::env::var_os("PVM_FUZZ_STATS").is_some();
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    let mut rng = Rng::new(stream);
    let mut input = Vec::new();
    let (mut ok, mut err) = (0u64, 0u64);
    let start = std::time::Instant::now();
    for _ in 0..wanted {
        next(&mut rng, &mut input);
        match check(&input) {
            Ok(()) => ok += 1,
            Err(kind) => {
                err += 1;
                if stats {
                    // Numbers stripped, so errors group by kind and field.
                    let kind: String = kind.chars().filter(|c| !c.is_ascii_digit()).collect();
                    *errors.entry(kind).or_default() += 1;
                }
            }
        }
    }
    println!(
        "fuzzed {name} with {} inputs: {ok} ok, {err} errors ({:.1?})",
        ok + err,
        start.elapsed()
    );
    for (kind, count) in errors {
        println!("    {count:8} {kind}");
    }
    assert!(ok + err >= wanted);
    if wanted >= 10_000 {
        assert!(ok > 0 && err > 0, "both outcomes should occur");
    }
}

fn fuzz_container(
    name: &str,
    stream: u64,
    target: Option<ContainerFormat>,
    check: impl FnMut(&[u8]) -> Result<(), String>,
) {
    let corpus = Corpus::new(&mut Rng::new(stream ^ 0xC0FFEE));
    fuzz(
        name,
        stream,
        |rng, out| corpus.input(rng, target, out),
        check,
    );
}

#[test]
fn fuzz_code_blob() {
    fuzz_container(
        "CodeBlob::parse",
        1,
        Some(ContainerFormat::CodeBlob),
        |b| match CodeBlob::parse(b) {
            Ok(blob) => {
                assert_eq!(CodeBlob::parse(&blob.to_bytes()).as_ref(), Ok(&blob));
                Ok(())
            }
            Err(e) => check_error(&e, b),
        },
    );
}

#[test]
fn fuzz_standard_program() {
    fuzz_container(
        "StandardProgram::parse",
        2,
        Some(ContainerFormat::Spi),
        |b| match StandardProgram::parse(b) {
            Ok(p) => {
                let again = p.to_bytes().expect("a parsed program serializes");
                assert_eq!(StandardProgram::parse(&again).as_ref(), Ok(&p));
                Ok(())
            }
            Err(e) => check_error(&e, b),
        },
    );
}

#[test]
fn fuzz_service_blob() {
    fuzz_container(
        "ServiceBlob::parse",
        3,
        Some(ContainerFormat::Service),
        |b| match ServiceBlob::parse(b) {
            Ok(s) => {
                let again = s.to_bytes().expect("a parsed blob serializes");
                assert_eq!(ServiceBlob::parse(&again).as_ref(), Ok(&s));
                Ok(())
            }
            Err(e) => check_error(&e, b),
        },
    );
}

#[test]
fn fuzz_polkavm_container() {
    fuzz_container(
        "PolkavmContainer::parse",
        4,
        Some(ContainerFormat::Polkavm),
        |b| {
            match PolkavmContainer::parse(b) {
                Ok(c) => {
                    let again = c.to_bytes().expect("a parsed container serializes");
                    assert_eq!(PolkavmContainer::parse(&again).as_ref(), Ok(&c));
                    // What we accept, polkavm-common accepts, before and after re-writing.
                    ProgramBlob::parse(b.to_vec().into()).expect("polkavm parses what we parse");
                    ProgramBlob::parse(again.into()).expect("polkavm parses what we write");
                    Ok(())
                }
                Err(e) => check_error(&e, b),
            }
        },
    );
}

/// The bytes of a loaded program in its own format.
fn reserialize(p: &LoadedProgram) -> Vec<u8> {
    match p.format {
        ContainerFormat::CodeBlob => p.program.code.to_bytes(),
        ContainerFormat::Spi => p.program.to_bytes().unwrap(),
        ContainerFormat::Service => ServiceBlob {
            metadata: p.metadata.clone().unwrap(),
            program: p.program.clone(),
        }
        .to_bytes()
        .unwrap(),
        ContainerFormat::Polkavm => PolkavmContainer {
            flavour: p.flavour.unwrap(),
            program: p.program.clone(),
            imports: p.imports.clone(),
            exports: p.exports.clone(),
        }
        .to_bytes()
        .unwrap(),
    }
}

fn check_load(bytes: &[u8], format: Option<ContainerFormat>) -> Result<(), String> {
    match load_program(bytes, format) {
        Ok(p) => {
            if let Some(f) = format {
                assert_eq!(p.format, f);
            }
            let again = reserialize(&p);
            assert_eq!(load_program(&again, Some(p.format)).as_ref(), Ok(&p));
            Ok(())
        }
        Err(e) => check_error(&e, bytes),
    }
}

#[test]
fn fuzz_load_code() {
    let f = ContainerFormat::CodeBlob;
    fuzz_container("load_program(code)", 5, Some(f), |b| check_load(b, Some(f)));
}

#[test]
fn fuzz_load_spi() {
    let f = ContainerFormat::Spi;
    fuzz_container("load_program(spi)", 6, Some(f), |b| check_load(b, Some(f)));
}

#[test]
fn fuzz_load_jam() {
    let f = ContainerFormat::Service;
    fuzz_container("load_program(jam)", 7, Some(f), |b| check_load(b, Some(f)));
}

#[test]
fn fuzz_load_polkavm() {
    let f = ContainerFormat::Polkavm;
    fuzz_container("load_program(polkavm)", 8, Some(f), |b| {
        check_load(b, Some(f))
    });
}

#[test]
fn fuzz_load_detect() {
    fuzz_container("load_program(detect)", 9, None, |b| check_load(b, None));
}

/// An error must point inside the input or just past its end.
fn check_error(e: &ParseError, input: &[u8]) -> Result<(), String> {
    assert!(e.offset <= input.len(), "{e} for {} bytes", input.len());
    Err(format!("{:?}", e.kind))
}

#[test]
fn fuzz_varint_decode() {
    fuzz(
        "varint::decode",
        10,
        |rng, out| {
            out.clear();
            if rng.chance(2) {
                let bits = rng.below(65);
                let value = if bits == 64 {
                    rng.u64()
                } else {
                    rng.u64() & ((1u64 << bits) - 1)
                };
                varint::encode(value, out);
                if rng.chance(2) {
                    let p = rng.below(out.len());
                    out[p] ^= 1 << rng.below(8);
                }
                if rng.chance(4) {
                    out.truncate(rng.below(out.len() + 1));
                }
            } else {
                let len = rng.below(11);
                out.extend((0..len).map(|_| rng.u64() as u8));
            }
        },
        |b| match varint::decode(b) {
            Ok((value, len)) => {
                let mut again = Vec::new();
                varint::encode(value, &mut again);
                assert_eq!(again, b[..len], "{value:#x}");
                Ok(())
            }
            Err(e) => Err(format!("{e:?}")),
        },
    );
}

#[test]
fn fuzz_instruction_decode() {
    let mut again = Vec::new();
    fuzz(
        "pvm_isa::decode",
        11,
        |rng, out| {
            // Three parameter bytes (pc, extent, flavour), then the code.
            let len = rng.below(33);
            out.clear();
            out.push(rng.below(len + 3) as u8);
            out.push(rng.below(MAX_SKIP + 8) as u8);
            out.push(rng.below(2) as u8);
            out.extend((0..len).map(|_| rng.u64() as u8));
        },
        |input| {
            let (pc, skip) = (u32::from(input[0]), usize::from(input[1]));
            let flavour = Flavour::ALL[usize::from(input[2])];
            let code = &input[3..];
            match decode(code, pc, skip, flavour) {
                Ok(inst) => {
                    again.clear();
                    again.resize(pc as usize, 0);
                    let len =
                        encode(&inst, flavour, pc, &mut again).expect("decoded, so encodable");
                    assert_eq!(
                        decode(&again, pc, len - 1, flavour),
                        Ok(inst),
                        "{code:02x?} at {pc} (skip {skip}, {flavour})"
                    );
                    Ok(())
                }
                Err(e) => Err(format!("{e:?}")),
            }
        },
    );
}
