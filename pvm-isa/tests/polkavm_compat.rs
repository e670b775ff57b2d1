//! `.polkavm` compatibility with polkavm-common 0.37, both ways:
//!
//! - what [`PolkavmContainer::to_bytes`] writes, `ProgramBlob::parse` accepts with equal
//!   parts (code, bitmask, jump table, data, sizes, exports, imports), and polkavm's memory map
//!   for those sizes equals our SPI layout;
//! - what polkavm-common's own writer (`ProgramBlobBuilder`) writes, [`PolkavmContainer::parse`]
//!   reads to the same parts.

use polkavm_common::abi::MemoryMapBuilder;
use polkavm_common::program::{
    asm, InstructionSetKind, ProgramBlob, Reg as PReg, SECTION_OPT_METADATA_HASH,
};
use polkavm_common::writer::ProgramBlobBuilder;
use pvm_isa::{
    encode, page_align, CodeBlob, Export, Flavour, Instruction, PolkavmContainer, Reg,
    StandardProgram, ARGS_START, MAX_INPUT_SIZE, PAGE_SIZE, STACK_END,
};

/// Lays out `insts` from pc 0; returns the blob and each instruction's pc.
fn code(insts: &[Instruction], flavour: Flavour, jump_table: &[usize]) -> (CodeBlob, Vec<u32>) {
    let mut code = Vec::new();
    let mut starts = Vec::new();
    for inst in insts {
        starts.push(code.len() as u32);
        encode(inst, flavour, code.len() as u32, &mut code).unwrap();
    }
    let mut bitmask = vec![0u8; code.len().div_ceil(8)];
    for &pc in &starts {
        bitmask[pc as usize / 8] |= 1 << (pc % 8);
    }
    let jump_table = jump_table.iter().map(|&i| starts[i]).collect();
    (
        CodeBlob {
            jump_table,
            code,
            bitmask,
        },
        starts,
    )
}

fn sample_programs() -> Vec<PolkavmContainer> {
    let body = [
        Instruction::load_imm(Reg::R7, 42),
        Instruction::add_64(Reg::R7, Reg::R7, Reg::R8),
        Instruction::ecalli(1),
        Instruction::load_imm64(Reg::R9, 0x1234_5678_9abc_def0),
        Instruction::jump_indirect(Reg::R0, 0),
        Instruction::trap(),
    ];
    let (jam_code, jam_starts) = code(&body, Flavour::JamV1, &[3, 5, 0]);
    let (trap_code, _) = code(&[Instruction::trap()], Flavour::Gp072, &[]);
    let (gp_code, gp_starts) = code(&body, Flavour::Gp072, &[1]);
    vec![
        // Everything at once.
        PolkavmContainer {
            flavour: Flavour::JamV1,
            program: StandardProgram {
                ro_data: (0..5000u32).map(|i| i as u8).collect(),
                rw_data: vec![9; 10],
                heap_pages: 3,
                stack_size: 0x4000,
                code: jam_code.clone(),
            },
            imports: vec!["gas".into(), "fetch".into()],
            exports: vec![
                Export {
                    pc: jam_starts[0],
                    name: "refine".into(),
                },
                Export {
                    pc: jam_starts[3],
                    name: "accumulate".into(),
                },
            ],
        },
        // Nothing but code.
        PolkavmContainer {
            flavour: Flavour::Gp072,
            program: StandardProgram {
                code: trap_code,
                ..StandardProgram::default()
            },
            imports: vec![],
            exports: vec![],
        },
        // Heap but no writable data, an unaligned stack, ro data of exactly one page.
        PolkavmContainer {
            flavour: Flavour::Gp072,
            program: StandardProgram {
                ro_data: vec![0xEE; 4096],
                rw_data: vec![],
                heap_pages: 17,
                stack_size: 1000,
                code: gp_code,
            },
            imports: vec![],
            exports: vec![Export {
                pc: gp_starts[4],
                name: "main".into(),
            }],
        },
        // Only a stack.
        PolkavmContainer {
            flavour: Flavour::JamV1,
            program: StandardProgram {
                stack_size: 1 << 20,
                code: jam_code,
                ..StandardProgram::default()
            },
            imports: vec![],
            exports: vec![],
        },
    ]
}

fn isa(flavour: Flavour) -> InstructionSetKind {
    match flavour {
        Flavour::JamV1 => InstructionSetKind::JamV1,
        Flavour::Gp072 => InstructionSetKind::ReviveV1,
    }
}

#[test]
fn polkavm_reads_what_we_write() {
    for ours in sample_programs() {
        let bytes = ours.to_bytes().unwrap();
        assert_eq!(PolkavmContainer::parse(&bytes).as_ref(), Ok(&ours));
        let blob = ProgramBlob::parse(bytes.into()).expect("polkavm-common parses our blob");
        let p = &ours.program;

        assert_eq!(blob.isa(), isa(ours.flavour));
        assert_eq!(blob.code(), p.code.code);
        assert_eq!(blob.bitmask(), p.code.bitmask);
        let table = blob.jump_table();
        assert_eq!(table.len() as usize, p.code.jump_table.len());
        for (i, &entry) in p.code.jump_table.iter().enumerate() {
            assert_eq!(table.get_by_index(i as u32).map(|pc| pc.0), Some(entry));
        }
        assert_eq!(blob.ro_data(), p.ro_data);
        assert_eq!(blob.ro_data_size() as usize, p.ro_data.len());
        assert_eq!(blob.rw_data(), p.rw_data);
        assert_eq!(
            u64::from(blob.rw_data_size()),
            page_align(p.rw_data.len() as u64) + u64::from(p.heap_pages) * u64::from(PAGE_SIZE)
        );
        assert_eq!(blob.stack_size(), p.stack_size);
        let exports: Vec<(u32, Vec<u8>)> = blob
            .exports()
            .map(|e| (e.program_counter().0, e.symbol().as_bytes().to_vec()))
            .collect();
        let expected: Vec<(u32, Vec<u8>)> = ours
            .exports
            .iter()
            .map(|e| (e.pc, e.name.as_bytes().to_vec()))
            .collect();
        assert_eq!(exports, expected);
        let imports: Vec<Vec<u8>> = blob
            .imports()
            .iter()
            .map(|s| s.unwrap().as_bytes().to_vec())
            .collect();
        let expected: Vec<Vec<u8>> = ours.imports.iter().map(|s| s.clone().into()).collect();
        assert_eq!(imports, expected);

        // polkavm decodes instructions at the same offsets as our bitmask marks.
        let starts: Vec<u32> = blob
            .instructions()
            .map(|i| i.offset.0)
            .filter(|&pc| (pc as usize) < p.code.code.len())
            .collect();
        let ours_starts: Vec<u32> = (0..p.code.code.len() as u32)
            .filter(|&pc| p.code.is_instruction_start(pc))
            .collect();
        assert_eq!(starts, ours_starts);

        // With 4 KiB pages and a 2^24-byte aux area, polkavm's memory map is the SPI layout.
        let map = MemoryMapBuilder::new(PAGE_SIZE)
            .ro_data_size(blob.ro_data_size())
            .rw_data_size(blob.rw_data_size())
            .stack_size(blob.stack_size())
            .aux_data_size(MAX_INPUT_SIZE)
            .build()
            .unwrap();
        let layout = p.layout().unwrap();
        assert_eq!(map.ro_data_range(), layout.ro_start..layout.ro_end);
        assert_eq!(map.rw_data_range(), layout.rw_start..layout.rw_end);
        assert_eq!(map.stack_range(), layout.stack_start..STACK_END);
        assert_eq!(map.aux_data_address(), ARGS_START);
    }
}

/// A program built with polkavm-common's own writer: two basic blocks, data, exports,
/// imports and a metadata-hash section (which we skip).
fn polkavm_built(kind: InstructionSetKind) -> Vec<u8> {
    let mut b = ProgramBlobBuilder::new(kind);
    b.set_ro_data_size(10_000);
    b.set_ro_data(vec![1, 2, 3]);
    b.set_rw_data_size(5000);
    b.set_rw_data(vec![4; 100]);
    b.set_stack_size(0x1_0000);
    b.add_import(b"host");
    b.add_export_by_basic_block(0, b"main");
    b.add_export_by_basic_block(1, b"second");
    b.set_code(
        &[
            asm::load_imm(PReg::A0, 7),
            asm::ecalli(0),
            asm::jump(1),
            asm::add_64(PReg::A0, PReg::A0, PReg::A1),
            asm::ret(),
        ],
        &[1, 0],
    );
    b.add_custom_section(SECTION_OPT_METADATA_HASH, vec![0xAB; 32]);
    b.to_vec().unwrap()
}

#[test]
fn we_read_what_polkavm_writes() {
    for (kind, flavour) in [
        (InstructionSetKind::JamV1, Flavour::JamV1),
        (InstructionSetKind::ReviveV1, Flavour::Gp072),
    ] {
        let bytes = polkavm_built(kind);
        let blob = ProgramBlob::parse(bytes.clone().into()).unwrap();
        let ours = PolkavmContainer::parse(&bytes).expect("we parse polkavm's blob");
        let p = &ours.program;

        assert_eq!(ours.flavour, flavour);
        assert_eq!(p.code.code, blob.code());
        assert_eq!(p.code.bitmask, blob.bitmask());
        let table: Vec<u32> = (0..blob.jump_table().len())
            .map(|i| blob.jump_table().get_by_index(i).unwrap().0)
            .collect();
        assert_eq!(p.code.jump_table, table);
        assert_eq!(table.len(), 2);

        // Read-only data is padded to its declared size; the writable size becomes heap pages.
        let mut ro = vec![0; 10_000];
        ro[..3].copy_from_slice(&[1, 2, 3]);
        assert_eq!(p.ro_data, ro);
        assert_eq!(p.rw_data, vec![4; 100]);
        assert_eq!(p.heap_pages, 1, "P(5000) - P(100) = one page");
        assert_eq!(p.stack_size, 0x1_0000);
        assert_eq!(ours.imports, ["host"]);
        let exports: Vec<(u32, Vec<u8>)> = blob
            .exports()
            .map(|e| (e.program_counter().0, e.symbol().as_bytes().to_vec()))
            .collect();
        let ours_exports: Vec<(u32, Vec<u8>)> = ours
            .exports
            .iter()
            .map(|e| (e.pc, e.name.clone().into_bytes()))
            .collect();
        assert_eq!(exports.len(), 2);
        assert_eq!(ours_exports, exports);

        // Written back, polkavm still reads it, with the same code and memory map.
        let again = ours.to_bytes().unwrap();
        assert_eq!(PolkavmContainer::parse(&again).as_ref(), Ok(&ours));
        let blob2 = ProgramBlob::parse(again.into()).unwrap();
        assert_eq!(blob2.code(), blob.code());
        assert_eq!(blob2.ro_data_size(), blob.ro_data_size());
        assert_eq!(blob2.rw_data_size(), page_align(5000) as u32);
        assert_eq!(blob2.stack_size(), blob.stack_size());
    }
}
