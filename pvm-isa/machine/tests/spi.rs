//! Standard programs (SPI mode) built from hand-assembled code: memory layout, exits, host
//! calls and exact gas under each gas model.
//!
//! Gas arithmetic used below:
//! - naive: 1 per instruction, a basic block's total charged on entry (a run that stops inside
//!   a block has paid for all of it);
//! - per-instruction: 1 per instruction actually started;
//! - full (draft GP 0.8, polkavm `CacheModel::L2Hit`): block cost = cycles − 3 in polkavm's
//!   pipeline model, where an instruction takes decode + latency + retire cycles (latency +
//!   2), up to 4 independent instructions decode in the same cycle and retirement is in order:
//!   `trap` has latency 2 (block cost 2), `jump_indirect` 22 (cost 22), a load 25 (the L2 hit
//!   cost), `ecalli` 100.

use pvm_isa::{
    encode, CodeBlob, Flavour, Instruction, Reg, StandardProgram, ARGS_START, HALT_ADDRESS,
    PAGE_SIZE, STACK_END,
};
use pvm_machine::{
    spi_registers, Access, Backend, DefaultHost, Exit, GasModel, HostAction, HostContext, LogLine,
    Machine, MachineError, PageRange, RawProgram, RunConfig, SpiStart, JAM_ACCUMULATE_PC,
    LOG_HOST_CALL, WHAT,
};

/// Code from instructions laid out back to back (targets are absolute code offsets).
fn code(insts: &[Instruction], flavour: Flavour) -> CodeBlob {
    let mut code = Vec::new();
    let mut starts = Vec::new();
    for inst in insts {
        starts.push(code.len());
        encode(inst, flavour, code.len() as u32, &mut code).expect("encodable");
    }
    let mut bitmask = vec![0u8; code.len().div_ceil(8)];
    for start in starts {
        bitmask[start / 8] |= 1 << (start % 8);
    }
    CodeBlob {
        jump_table: Vec::new(),
        code,
        bitmask,
    }
}

/// The code offset of each instruction.
fn offsets(insts: &[Instruction], flavour: Flavour) -> Vec<u32> {
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    for inst in insts {
        out.push(scratch.len() as u32);
        encode(inst, flavour, scratch.len() as u32, &mut scratch).expect("encodable");
    }
    out
}

fn program(insts: &[Instruction]) -> StandardProgram {
    StandardProgram {
        ro_data: Vec::new(),
        rw_data: Vec::new(),
        heap_pages: 0,
        stack_size: 4096,
        code: code(insts, Flavour::JamV1),
    }
}

fn config(gas_model: GasModel) -> RunConfig {
    RunConfig {
        gas: 1000,
        gas_model,
        backend: Backend::Interpreter,
        track_halt_pc: true,
    }
}

const HALT: Instruction = Instruction::jump_indirect(Reg::R0, 0);

#[test]
fn polkavm_memory_map_is_the_spi_layout() {
    let program = StandardProgram {
        ro_data: (0..5000u32).map(|i| i as u8).collect(),
        rw_data: vec![7; 10],
        heap_pages: 3,
        stack_size: 100,
        code: code(&[HALT], Flavour::JamV1),
    };
    let args = vec![0xAB; 5000];
    let layout = program.layout().unwrap();
    let machine = Machine::new();
    let mut instance = machine
        .load_standard(
            &program,
            Flavour::JamV1,
            &SpiStart::new(args.clone()),
            &RunConfig::default(),
        )
        .unwrap();
    assert_eq!(instance.polkavm_layout(), Some(layout));
    assert_eq!(layout.ro_start, 0x10000);
    assert_eq!(layout.ro_end, 0x10000 + 2 * PAGE_SIZE);
    assert_eq!(layout.rw_start, 0x30000);
    assert_eq!(layout.rw_end, 0x30000 + 4 * PAGE_SIZE);
    assert_eq!(layout.stack_start, STACK_END - PAGE_SIZE);
    assert_eq!(layout.stack_end, 0xFEFE_0000);
    assert_eq!(layout.args_start, 0xFEFF_0000);
    // The aux-data area is the whole argument area Z_I.
    assert_eq!(instance.args_area_size(), Some(1 << 24));
    assert_eq!(instance.regs(), spi_registers(5000));

    // What is actually accessible, at every boundary.
    let probes: &[(u32, Option<Access>)] = &[
        (0xFFFF, None),
        (layout.ro_start, Some(Access::Read)),
        (layout.ro_end - 1, Some(Access::Read)),
        (layout.ro_end, None),
        (layout.rw_start - 1, None),
        (layout.rw_start, Some(Access::Write)),
        (layout.rw_end - 1, Some(Access::Write)),
        (layout.rw_end, None),
        (layout.stack_start - 1, None),
        (layout.stack_start, Some(Access::Write)),
        (layout.stack_end - 1, Some(Access::Write)),
        (layout.stack_end, None),
        (layout.args_start - 1, None),
        (layout.args_start, Some(Access::Read)),
        (layout.args_start + 2 * PAGE_SIZE - 1, Some(Access::Read)),
        (layout.args_start + 2 * PAGE_SIZE, None),
        (HALT_ADDRESS, None),
    ];
    for &(address, most) in probes {
        let read = instance.is_accessible(address, 1, Access::Read);
        let write = instance.is_accessible(address, 1, Access::Write);
        let expected = (most.is_some(), most == Some(Access::Write));
        assert_eq!((read, write), expected, "{address:#x}");
    }
    // Contents: o, w then zeros, arguments.
    assert_eq!(
        instance.read_memory(0x10000, 5000).unwrap(),
        program.ro_data
    );
    assert_eq!(
        instance.read_memory(0x30000, 12).unwrap(),
        [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0]
    );
    assert_eq!(instance.read_memory(ARGS_START, 5000).unwrap(), args);
    assert!(instance.write_memory(ARGS_START, &[1]).is_err());
}

#[test]
fn halt_with_output() {
    // Writes "abcd" below the stack pointer and returns it.
    let insts = [
        Instruction::add_imm_64(Reg::R1, Reg::R1, -16i32 as u32),
        Instruction::store_imm_indirect_u32(Reg::R1, 0, u32::from_le_bytes(*b"abcd")),
        Instruction::move_reg(Reg::R7, Reg::R1),
        Instruction::load_imm(Reg::R8, 4),
        HALT,
    ];
    let at = offsets(&insts, Flavour::JamV1);
    let report = pvm_machine::run_standard(
        &program(&insts),
        Flavour::JamV1,
        &SpiStart::default(),
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::Halt);
    assert_eq!(report.pc, Some(at[4]));
    assert_eq!(report.output.as_deref(), Some(&b"abcd"[..]));
    assert_eq!(report.regs[1], u64::from(STACK_END) - 16);
    assert_eq!(report.regs[7], u64::from(STACK_END) - 16);
    // One block of five instructions.
    assert_eq!((report.gas_used, report.gas_left), (5, 995));

    // Without halt-pc tracking, the same run reports no pc.
    let report = pvm_machine::run_standard(
        &program(&insts),
        Flavour::JamV1,
        &SpiStart::default(),
        &RunConfig {
            track_halt_pc: false,
            ..config(GasModel::Naive)
        },
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(
        (report.exit, report.pc, report.gas_used),
        (Exit::Halt, None, 5)
    );
    assert_eq!(report.output.as_deref(), Some(&b"abcd"[..]));
}

#[test]
fn arguments_come_back_and_unreadable_output_is_none() {
    // r7/r8 point at the arguments on entry, so an immediate return echoes them.
    let report = pvm_machine::run_standard(
        &program(&[HALT]),
        Flavour::Gp072,
        &SpiStart::new(*b"hello"),
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.output.as_deref(), Some(&b"hello"[..]));

    // An output range in unmapped memory: a halt without output.
    let start = SpiStart::new(*b"hello")
        .with_reg(Reg::R7, 0x2_0000)
        .with_reg(Reg::R8, 1);
    let report = pvm_machine::run_standard(
        &program(&[HALT]),
        Flavour::JamV1,
        &start,
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!((report.exit, report.output), (Exit::Halt, None));
}

#[test]
fn panic_reports_the_trapping_instruction() {
    let insts = [Instruction::load_imm(Reg::R2, 1), Instruction::trap()];
    let at = offsets(&insts, Flavour::JamV1);
    for (model, gas) in [
        (GasModel::Naive, 2),
        (GasModel::PerInstruction, 2),
        // `trap` (latency 2) ends the block last: 5 cycles − 3.
        (GasModel::Full, 2),
    ] {
        let report = pvm_machine::run_standard(
            &program(&insts),
            Flavour::JamV1,
            &SpiStart::default(),
            &config(model),
            &mut DefaultHost::new(),
        )
        .unwrap();
        assert_eq!(report.exit, Exit::Panic { pc: at[1] }, "{model}");
        assert_eq!(report.pc, Some(at[1]));
        assert_eq!(report.regs[2], 1);
        assert_eq!(report.output, None);
        assert_eq!(report.gas_used, gas, "{model}");
    }
}

#[test]
fn page_faults() {
    let fault = |insts: &[Instruction]| {
        let mut program = program(insts);
        program.ro_data = vec![1; 8];
        pvm_machine::run_standard(
            &program,
            Flavour::JamV1,
            &SpiStart::new(*b"args"),
            &config(GasModel::Naive),
            &mut DefaultHost::new(),
        )
        .unwrap()
        .exit
    };
    // Unmapped memory (the writable region is empty here).
    assert_eq!(
        fault(&[Instruction::load_u32(Reg::R2, 0x3_0004), HALT]),
        Exit::PageFault {
            address: 0x3_0000,
            pc: 0
        }
    );
    // A write to read-only data and to the argument area.
    assert_eq!(
        fault(&[Instruction::store_u8(Reg::R2, 0x1_0000), HALT]),
        Exit::PageFault {
            address: 0x1_0000,
            pc: 0
        }
    );
    assert_eq!(
        fault(&[Instruction::store_imm_u8(ARGS_START, 1), HALT]),
        Exit::PageFault {
            address: ARGS_START,
            pc: 0
        }
    );
    // Straddling the stack's lower end: the lowest inaccessible page is reported.
    assert_eq!(
        fault(&[
            Instruction::store_indirect_u64(Reg::R2, Reg::R1, -4096i32 as u32 - 4),
            HALT
        ]),
        Exit::PageFault {
            address: STACK_END - 2 * PAGE_SIZE,
            pc: 0
        }
    );
    // Below 0x10000 every access panics instead.
    assert_eq!(
        fault(&[Instruction::load_u8(Reg::R2, 0xFFFF), HALT]),
        Exit::Panic { pc: 0 }
    );
}

#[test]
fn page_fault_gas_differs_between_models() {
    // The fault is at the first instruction of a three-instruction block.
    let insts = [
        Instruction::load_u32(Reg::R2, 0x4_0000),
        Instruction::load_imm(Reg::R3, 1),
        HALT,
    ];
    for (model, gas) in [
        // The whole block was paid on entry.
        (GasModel::Naive, 3),
        // Only the faulting load was started.
        (GasModel::PerInstruction, 1),
        // `jump_indirect`'s 22 cycles of latency overlap the load's 25: the load retires
        // last, so the block takes 25 + 3 cycles.
        (GasModel::Full, 25),
    ] {
        let report = pvm_machine::run_standard(
            &program(&insts),
            Flavour::JamV1,
            &SpiStart::default(),
            &config(model),
            &mut DefaultHost::new(),
        )
        .unwrap();
        assert_eq!(
            report.exit,
            Exit::PageFault {
                address: 0x4_0000,
                pc: 0
            },
            "{model}"
        );
        assert_eq!(report.gas_used, gas, "{model}");
    }
}

#[test]
fn out_of_gas() {
    // A loop of two instructions: 2 gas per iteration, charged when the block is entered.
    let insts = [
        Instruction::add_imm_64(Reg::R2, Reg::R2, 1),
        Instruction::jump(0),
    ];
    let at = offsets(&insts, Flavour::JamV1);
    let run = |model| {
        pvm_machine::run_standard(
            &program(&insts),
            Flavour::JamV1,
            &SpiStart::default(),
            &RunConfig {
                gas: 11,
                ..config(model)
            },
            &mut DefaultHost::new(),
        )
        .unwrap()
    };
    // Naive: five iterations (10 gas); the sixth entry needs 2 but 1 is left.
    let report = run(GasModel::Naive);
    assert_eq!(report.exit, Exit::OutOfGas { pc: 0 });
    assert_eq!(
        (report.regs[2], report.gas_left, report.gas_used),
        (5, 1, 10)
    );
    // Per instruction: 11 instructions run (six adds), the 12th (a jump) cannot start.
    let report = run(GasModel::PerInstruction);
    assert_eq!(report.exit, Exit::OutOfGas { pc: at[1] });
    assert_eq!(
        (report.regs[2], report.gas_left, report.gas_used),
        (6, 0, 11)
    );
}

#[test]
fn host_calls() {
    let insts = [
        Instruction::load_imm(Reg::R7, 21),
        Instruction::ecalli(7),
        Instruction::ecalli(8),
        HALT,
    ];
    let at = offsets(&insts, Flavour::JamV1);
    let program = program(&insts);
    let machine = Machine::new();
    let mut seen = Vec::new();
    // Serves 7 (doubles r7), stops on anything else.
    let mut host = |index: u32, ctx: &mut HostContext<'_>| {
        seen.push((index, ctx.pc()));
        if index != 7 {
            return HostAction::Stop;
        }
        let value = ctx.reg(Reg::R7);
        ctx.set_reg(Reg::R7, value * 2);
        // The argument area is read-only for hosts too.
        assert!(ctx.write_memory(u64::from(ARGS_START), b"x").is_err());
        assert!(ctx.write_memory(u64::from(STACK_END) - 8, b"x").is_ok());
        HostAction::Resume
    };
    let mut instance = machine
        .load_standard(
            &program,
            Flavour::JamV1,
            &SpiStart::default(),
            &config(GasModel::Naive),
        )
        .unwrap();
    let report = instance.run(&mut host).unwrap();
    assert_eq!(
        report.exit,
        Exit::HostCall {
            index: 8,
            pc: at[2]
        }
    );
    assert_eq!(report.regs[7], 42);
    // All four instructions form one block, paid on entry.
    assert_eq!(report.gas_used, 4);
    // The embedder serves call 8 itself and resumes after it.
    instance.set_reg(Reg::R8, 0);
    let report = instance.run(&mut host).unwrap();
    assert_eq!((report.exit, report.gas_used), (Exit::Halt, 0));
    // A halted program stays halted.
    assert!(matches!(
        instance.run(&mut host),
        Err(MachineError::NotResumable(Exit::Halt))
    ));
    assert_eq!(seen, [(7, at[1]), (8, at[2])]);
}

#[test]
fn default_host_serves_log() {
    let insts = [
        Instruction::load_imm(Reg::R7, 2),
        Instruction::load_imm(Reg::R8, 0x1_0000),
        Instruction::load_imm(Reg::R9, 6),
        Instruction::load_imm(Reg::R10, 0x1_0006),
        Instruction::load_imm(Reg::R11, 5),
        Instruction::ecalli(LOG_HOST_CALL),
        // No target, and a message in unmapped memory: nothing is logged.
        Instruction::load_imm(Reg::R8, 0),
        Instruction::load_imm(Reg::R9, 0),
        Instruction::load_imm(Reg::R10, 0x5_0000),
        Instruction::ecalli(LOG_HOST_CALL),
        // No target.
        Instruction::load_imm(Reg::R10, 0x1_0006),
        Instruction::load_imm(Reg::R7, 4),
        Instruction::ecalli(LOG_HOST_CALL),
        Instruction::ecalli(99),
        HALT,
    ];
    let at = offsets(&insts, Flavour::JamV1);
    let mut program = program(&insts);
    program.ro_data = b"targetHello".to_vec();
    let mut host = DefaultHost::new();
    let report = pvm_machine::run_standard(
        &program,
        Flavour::JamV1,
        &SpiStart::default(),
        &config(GasModel::Naive),
        &mut host,
    )
    .unwrap();
    assert_eq!(
        host.logs,
        [
            LogLine {
                level: 2,
                target: Some("target".into()),
                message: "Hello".into()
            },
            LogLine {
                level: 4,
                target: None,
                message: "Hello".into()
            },
        ]
    );
    assert_eq!(host.logs[0].to_string(), "INFO target Hello");
    assert_eq!(
        report.exit,
        Exit::HostCall {
            index: 99,
            pc: at[13]
        }
    );
    assert_eq!(report.regs[7], WHAT);
    // One block of 15 instructions plus 10 for each of the three `log` calls.
    assert_eq!(report.gas_used, 15 + 3 * 10);

    // Too little gas for the host call's 10: out of gas at the `ecalli`.
    let report = pvm_machine::run_standard(
        &program,
        Flavour::JamV1,
        &SpiStart::default(),
        &RunConfig {
            gas: 20,
            ..config(GasModel::Naive)
        },
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::OutOfGas { pc: at[5] });
    assert_eq!(report.gas_left, 5);
}

#[test]
fn gas_models_on_one_program() {
    // load_imm; load_imm; ecalli 100 (log, unreadable message); halt.
    let insts = [
        Instruction::load_imm(Reg::R7, 3),
        Instruction::load_imm(Reg::R11, 1),
        Instruction::ecalli(LOG_HOST_CALL),
        HALT,
    ];
    let mut gas = Vec::new();
    for model in [GasModel::Naive, GasModel::PerInstruction, GasModel::Full] {
        let report = pvm_machine::run_standard(
            &program(&insts),
            Flavour::JamV1,
            &SpiStart::default(),
            &config(model),
            &mut DefaultHost::new(),
        )
        .unwrap();
        assert_eq!(report.exit, Exit::Halt, "{model}");
        gas.push(report.gas_used);
    }
    // Naive and per instruction: 4 instructions + 10 for `log`.
    assert_eq!(gas[0], 14);
    assert_eq!(gas[1], 14);
    // Full: the two `load_imm`s take two of cycle 0's four decode slots; `ecalli` needs all
    // four, so it decodes in cycle 1, and with its latency of 100 it retires last (the
    // `jump_indirect` after it, latency 22, finishes long before): 1 + 100 + 3 cycles, minus
    // the 3 of slack, is 101; plus 10 for `log`.
    assert_eq!(gas[2], 101 + 10);
}

#[test]
fn jam_accumulate_entry_and_register_overrides() {
    // Five traps, then the accumulate entry at pc 5.
    let mut insts = vec![Instruction::trap(); 5];
    insts.extend([Instruction::add_imm_64(Reg::R7, Reg::R9, 1), HALT]);
    let start = SpiStart::new(*b"xy")
        .at_pc(JAM_ACCUMULATE_PC)
        .with_reg(Reg::R9, 41);
    let report = pvm_machine::run_standard(
        &program(&insts),
        Flavour::JamV1,
        &start,
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::Halt);
    assert_eq!(report.pc, Some(offsets(&insts, Flavour::JamV1)[6]));
    assert_eq!(report.regs[7], 42);
    assert_eq!(report.regs[8], 2);
    assert_eq!(report.regs[9], 41);
    assert_eq!(report.gas_used, 2);
    // Starting at 0 hits the first trap.
    let report = pvm_machine::run_standard(
        &program(&insts),
        Flavour::JamV1,
        &SpiStart::new(*b"xy"),
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.exit, Exit::Panic { pc: 0 });
}

#[test]
fn refusals_are_errors() {
    let machine = Machine::new();
    let run = |program: &StandardProgram, flavour| {
        machine
            .load_standard(
                program,
                flavour,
                &SpiStart::default(),
                &RunConfig::default(),
            )
            .map(drop)
    };
    // gp-0.7.2 code with `sbrk`: polkavm's ReviveV1 has no `sbrk`.
    let mut sbrk = program(&[]);
    sbrk.code = code(&[Instruction::sbrk(Reg::R7, Reg::R8), HALT], Flavour::Gp072);
    assert_eq!(
        run(&sbrk, Flavour::Gp072),
        Err(MachineError::SbrkUnsupported {
            flavour: Flavour::Gp072,
            pc: 0
        })
    );
    // jam-v1 code that can run off its end: polkavm's validator refuses it.
    let err = run(
        &program(&[Instruction::load_imm(Reg::R7, 1)]),
        Flavour::JamV1,
    )
    .unwrap_err();
    assert!(matches!(err, MachineError::Refused(_)), "{err}");
    // Arguments larger than Z_I.
    let err = machine
        .load_standard(
            &program(&[HALT]),
            Flavour::JamV1,
            &SpiStart::new(vec![0; (1 << 24) + 1]),
            &RunConfig::default(),
        )
        .unwrap_err();
    assert!(matches!(err, MachineError::ArgsTooLarge { .. }), "{err}");
    // Raw programs: misaligned or low pages, memory outside the pages.
    let raw = |pages: Vec<PageRange>, memory: Vec<pvm_machine::MemoryChunk>| {
        machine
            .load_raw(
                &RawProgram {
                    flavour: Flavour::Gp072,
                    code: code(&[HALT], Flavour::Gp072),
                    pages,
                    memory,
                    regs: [0; 13],
                    pc: 0,
                },
                &RunConfig::default(),
            )
            .map(drop)
    };
    let page = |address, writable| PageRange {
        address,
        length: PAGE_SIZE,
        writable,
    };
    assert!(matches!(
        raw(vec![page(0x2_0001, true)], vec![]),
        Err(MachineError::BadPageRange { .. })
    ));
    assert!(matches!(
        raw(vec![page(0x1000, true)], vec![]),
        Err(MachineError::BadPageRange { .. })
    ));
    let chunk = |address| pvm_machine::MemoryChunk {
        address,
        contents: vec![1, 2],
    };
    assert!(raw(vec![page(0x2_0000, false)], vec![chunk(0x2_0000)]).is_ok());
    assert_eq!(
        raw(vec![page(0x2_0000, false)], vec![chunk(0x2_0FFF)]),
        Err(MachineError::MemoryOutsidePages {
            address: 0x2_0FFF,
            len: 2
        })
    );
}

#[test]
fn recompiler_gives_the_same_report() {
    let insts = [
        Instruction::add_imm_64(Reg::R1, Reg::R1, -8i32 as u32),
        Instruction::store_imm_indirect_u32(Reg::R1, 0, u32::from_le_bytes(*b"jam!")),
        Instruction::move_reg(Reg::R7, Reg::R1),
        Instruction::load_imm(Reg::R8, 4),
        Instruction::ecalli(LOG_HOST_CALL),
        Instruction::load_imm(Reg::R8, 4),
        Instruction::load_u32(Reg::R3, 0x7_0000),
        HALT,
    ];
    let machine = Machine::new();
    for model in [GasModel::Naive, GasModel::Full] {
        let mut reports = Vec::new();
        for backend in [Backend::Interpreter, Backend::Recompiler] {
            let config = RunConfig {
                backend,
                track_halt_pc: false,
                ..config(model)
            };
            let loaded = machine.load_standard(
                &program(&insts),
                Flavour::JamV1,
                &SpiStart::default(),
                &config,
            );
            match loaded.and_then(|mut instance| instance.run(&mut DefaultHost::new())) {
                Ok(report) => reports.push(report),
                Err(err @ MachineError::Engine { .. }) => {
                    eprintln!("!!!!!!!! SKIPPED the recompiler comparison: {err} !!!!!!!!");
                    return;
                }
                Err(err) => panic!("{backend}, {model}: {err}"),
            }
        }
        assert_eq!(reports[0], reports[1], "{model}");
        assert!(matches!(
            reports[0].exit,
            Exit::PageFault {
                address: 0x7_0000,
                ..
            }
        ));
    }
}
