//! A program made with the [`CodeBuilder`] that uses read-only data, writable data, heap pages,
//! the argument buffer and a host call, written to every container that can hold data (SPI,
//! JAM service blob, `.polkavm`), read back (by name and by detection) and run in both
//! flavours, to exact output bytes, registers and gas. A bare code blob holds no data, so it
//! cannot carry this program; `load_program`'s handling of it is covered in `pvm-isa`.
//!
//! The program adds the argument length to a counter in writable data, sums the argument
//! bytes, logs its read-only data through the JAM `log` host call, and outputs, from a heap
//! page, `"sum="`, the sum's low byte and the new counter (8 bytes, little-endian).

use pvm_isa::{
    load_program, CodeBuilder, ContainerFormat, Flavour, Instruction as I, PolkavmContainer,
    Reg::*, ServiceBlob, StandardProgram, ARGS_START, HALT_ADDRESS, STACK_END,
};
use pvm_machine::{DefaultHost, Exit, GasModel, LogLine, Machine, RunConfig, SpiStart};

const RO: u32 = 0x10000;
/// `2·Z_Z + Z(|o|)` for 4 bytes of read-only data.
const RW: u32 = 0x30000;
/// The heap page right after the one page of writable data.
const HEAP: u32 = RW + 0x1000;

fn build(flavour: Flavour) -> StandardProgram {
    let mut b = CodeBuilder::new(flavour);
    let (sum_loop, done) = (b.new_label(), b.new_label());
    b.push(I::load_u64(R2, RW));
    b.push(I::add_64(R2, R2, R8));
    b.push(I::store_u64(R2, RW));
    b.push(I::load_imm(R3, 0));
    b.push(I::add_64(R4, R7, R8));
    b.push(I::branch_eq(R7, R4, done));
    b.bind(sum_loop).unwrap();
    b.push(I::load_indirect_u8(R5, R7, 0));
    b.push(I::add_64(R3, R3, R5));
    b.push(I::add_imm_64(R7, R7, 1));
    b.push(I::branch_less_unsigned(R7, R4, sum_loop));
    b.bind(done).unwrap();
    for (reg, value) in [(R7, 2), (R8, 0), (R9, 0), (R10, RO), (R11, 4)] {
        b.push(I::load_imm(reg, value));
    }
    b.push(I::ecalli(pvm_machine::LOG_HOST_CALL));
    b.push(I::load_u32(R6, RO));
    b.push(I::store_u32(R6, HEAP));
    b.push(I::store_u8(R3, HEAP + 4));
    b.push(I::store_u64(R2, HEAP + 5));
    b.push(I::load_imm(R7, HEAP));
    b.push(I::load_imm(R8, 13));
    b.push(I::jump_indirect(R0, 0));
    StandardProgram {
        ro_data: b"sum=".to_vec(),
        rw_data: 40u64.to_le_bytes().to_vec(),
        heap_pages: 1,
        stack_size: 4096,
        code: b.finish().expect("valid code").blob,
    }
}

/// Every container that holds data, with the program written into it.
fn containers(program: &StandardProgram, flavour: Flavour) -> Vec<(ContainerFormat, Vec<u8>)> {
    vec![
        (ContainerFormat::Spi, program.to_bytes().unwrap()),
        (
            ContainerFormat::Service,
            ServiceBlob {
                metadata: b"built_program".to_vec(),
                program: program.clone(),
            }
            .to_bytes()
            .unwrap(),
        ),
        (
            ContainerFormat::Polkavm,
            PolkavmContainer {
                flavour,
                program: program.clone(),
                imports: Vec::new(),
                exports: Vec::new(),
            }
            .to_bytes()
            .unwrap(),
        ),
    ]
}

#[test]
fn built_program_runs_from_every_container_in_both_flavours() {
    let args = b"abc";
    let mut expected_output = b"sum=".to_vec();
    expected_output.push((97 + 98 + 99) as u8);
    expected_output.extend_from_slice(&(40 + 3u64).to_le_bytes());
    // 6 instructions before the loop, 4 per argument byte, 13 after it; plus the host's
    // `DefaultHost::LOG_GAS` for the `log` call.
    let expected_naive_gas = 6 + 4 * 3 + 13 + DefaultHost::LOG_GAS as i64;
    let mut runs = 0;
    for flavour in Flavour::ALL {
        let program = build(flavour);
        for (format, bytes) in containers(&program, flavour) {
            for asked in [Some(format), None] {
                let loaded = load_program(&bytes, asked).unwrap();
                assert_eq!(loaded.format, format);
                assert_eq!(loaded.program, program, "{format} changed the program");
                for gas_model in [GasModel::Naive, GasModel::Full] {
                    let config = RunConfig {
                        gas_model,
                        ..RunConfig::default()
                    };
                    let mut host = DefaultHost::new();
                    let report = Machine::new()
                        .load_standard(&loaded.program, flavour, &SpiStart::new(*args), &config)
                        .unwrap()
                        .run(&mut host)
                        .unwrap();
                    let what = format!("{flavour}, {format}, {}", gas_model.name());
                    assert_eq!(report.exit, Exit::Halt, "{what}");
                    assert_eq!(
                        report.output.as_deref(),
                        Some(&expected_output[..]),
                        "{what}"
                    );
                    assert_eq!(
                        report.regs,
                        [
                            u64::from(HALT_ADDRESS),
                            u64::from(STACK_END),
                            43,
                            97 + 98 + 99,
                            u64::from(ARGS_START) + 3,
                            99,
                            u64::from(u32::from_le_bytes(*b"sum=")),
                            u64::from(HEAP),
                            13,
                            0,
                            u64::from(RO),
                            4,
                            0,
                        ],
                        "{what}"
                    );
                    assert_eq!(
                        host.logs,
                        [LogLine {
                            level: 2,
                            target: None,
                            message: "sum=".into()
                        }],
                        "{what}"
                    );
                    let expected_gas = match gas_model {
                        GasModel::Naive => expected_naive_gas,
                        _ => FULL_GAS,
                    };
                    assert_eq!(report.gas_used, expected_gas, "{what}");
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 2 * 3 * 2 * 2);
}

/// polkavm 0.37's draft GP 0.8 cost (L2 hit) of the run, the log call's 10 included: pinned,
/// as it is deterministic, so that a change in the cost model shows up here.
const FULL_GAS: i64 = 241;
