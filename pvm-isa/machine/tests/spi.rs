//! Standard programs (SPI mode) built with the code builder: memory layout, exits, host calls
//! and exact gas under each gas model.
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
    assemble, encode, BuiltCode, CodeBlob, CodeBuilder, Flavour, Instruction as I, Label, Reg::*,
    StandardProgram, ARGS_START, HALT_ADDRESS, PAGE_SIZE, STACK_END,
};
use pvm_machine::{
    spi_registers, Access, Backend, DefaultHost, Exit, GasModel, HostAction, HostContext, LogLine,
    Machine, MachineError, MemoryChunk, PageRange, RawProgram, Report, RunConfig, SpiStart,
    JAM_ACCUMULATE_PC, LOG_HOST_CALL, WHAT,
};

/// Returns through r0, which the SPI sets to the halt address.
const HALT: I<Label> = I::jump_indirect(R0, 0);

/// `insts` laid out by the code builder.
fn build(flavour: Flavour, insts: &[I<Label>]) -> BuiltCode {
    let mut b = CodeBuilder::new(flavour);
    for &inst in insts {
        b.push(inst);
    }
    b.finish().expect("valid code")
}

/// `insts` as jam-v1 code.
fn jam_code(insts: &[I<Label>]) -> BuiltCode {
    build(Flavour::JamV1, insts)
}

/// A standard program with `code`, no data and one page of stack.
fn program(code: &BuiltCode) -> StandardProgram {
    StandardProgram {
        ro_data: Vec::new(),
        rw_data: Vec::new(),
        heap_pages: 0,
        stack_size: 4096,
        code: code.blob.clone(),
    }
}

/// 1000 gas on the interpreter, with the halting pc tracked.
fn config(gas_model: GasModel) -> RunConfig {
    RunConfig {
        gas: 1000,
        gas_model,
        backend: Backend::Interpreter,
        track_halt_pc: true,
    }
}

/// Runs a jam-v1 program once with a fresh [`DefaultHost`].
fn run(program: &StandardProgram, start: &SpiStart, config: &RunConfig) -> Report {
    pvm_machine::run_standard(
        program,
        Flavour::JamV1,
        start,
        config,
        &mut DefaultHost::new(),
    )
    .unwrap()
}

#[test]
fn polkavm_memory_map_is_the_spi_layout() {
    let program = StandardProgram {
        ro_data: (0..5000u32).map(|i| i as u8).collect(),
        rw_data: vec![7; 10],
        heap_pages: 3,
        stack_size: 100,
        code: jam_code(&[HALT]).blob,
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
    let code = jam_code(&[
        I::add_imm_64(R1, R1, -16i32 as u32),
        I::store_imm_indirect_u32(R1, 0, u32::from_le_bytes(*b"abcd")),
        I::move_reg(R7, R1),
        I::load_imm(R8, 4),
        HALT,
    ]);
    let program = program(&code);
    let report = run(&program, &SpiStart::default(), &config(GasModel::Naive));
    assert_eq!(report.exit, Exit::Halt);
    assert_eq!(report.pc, Some(code.offsets[4]));
    assert_eq!(report.output.as_deref(), Some(&b"abcd"[..]));
    assert_eq!(report.regs[1], u64::from(STACK_END) - 16);
    assert_eq!(report.regs[7], u64::from(STACK_END) - 16);
    // One block of five instructions.
    assert_eq!((report.gas_used, report.gas_left), (5, 995));

    // Without halt-pc tracking, the same run reports no pc.
    let untracked = RunConfig {
        track_halt_pc: false,
        ..config(GasModel::Naive)
    };
    let report = run(&program, &SpiStart::default(), &untracked);
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
        &program(&build(Flavour::Gp072, &[HALT])),
        Flavour::Gp072,
        &SpiStart::new(*b"hello"),
        &config(GasModel::Naive),
        &mut DefaultHost::new(),
    )
    .unwrap();
    assert_eq!(report.output.as_deref(), Some(&b"hello"[..]));

    // An output range in unmapped memory: a halt without output.
    let start = SpiStart::new(*b"hello")
        .with_reg(R7, 0x2_0000)
        .with_reg(R8, 1);
    let report = run(
        &program(&jam_code(&[HALT])),
        &start,
        &config(GasModel::Naive),
    );
    assert_eq!((report.exit, report.output), (Exit::Halt, None));
}

#[test]
fn panic_reports_the_trapping_instruction() {
    let code = jam_code(&[I::load_imm(R2, 1), I::trap()]);
    let trap_pc = code.offsets[1];
    for (model, gas) in [
        (GasModel::Naive, 2),
        (GasModel::PerInstruction, 2),
        // `trap` (latency 2) ends the block last: 5 cycles − 3.
        (GasModel::Full, 2),
    ] {
        let report = run(&program(&code), &SpiStart::default(), &config(model));
        assert_eq!(report.exit, Exit::Panic { pc: trap_pc }, "{model}");
        assert_eq!(report.pc, Some(trap_pc));
        assert_eq!(report.regs[2], 1);
        assert_eq!(report.output, None);
        assert_eq!(report.gas_used, gas, "{model}");
    }
}

#[test]
fn page_faults() {
    // `access` then halt, with 8 bytes of read-only data and 4 of arguments.
    let fault = |access: I<Label>| {
        let mut program = program(&jam_code(&[access, HALT]));
        program.ro_data = vec![1; 8];
        run(&program, &SpiStart::new(*b"args"), &config(GasModel::Naive)).exit
    };
    let page_fault = |address| Exit::PageFault { address, pc: 0 };
    // Unmapped memory (the writable region is empty here).
    assert_eq!(fault(I::load_u32(R2, 0x3_0004)), page_fault(0x3_0000));
    // A write to read-only data and to the argument area.
    assert_eq!(fault(I::store_u8(R2, 0x1_0000)), page_fault(0x1_0000));
    assert_eq!(
        fault(I::store_imm_u8(ARGS_START, 1)),
        page_fault(ARGS_START)
    );
    // Straddling the stack's lower end: the lowest inaccessible page is reported.
    assert_eq!(
        fault(I::store_indirect_u64(R2, R1, -4096i32 as u32 - 4)),
        page_fault(STACK_END - 2 * PAGE_SIZE)
    );
    // Below 0x10000 every access panics instead.
    assert_eq!(fault(I::load_u8(R2, 0xFFFF)), Exit::Panic { pc: 0 });
}

#[test]
fn page_fault_gas_differs_between_models() {
    // The fault is at the first instruction of a three-instruction block.
    let program = program(&jam_code(&[
        I::load_u32(R2, 0x4_0000),
        I::load_imm(R3, 1),
        HALT,
    ]));
    for (model, gas) in [
        // The whole block was paid on entry.
        (GasModel::Naive, 3),
        // Only the faulting load was started.
        (GasModel::PerInstruction, 1),
        // `jump_indirect`'s 22 cycles of latency overlap the load's 25: the load retires
        // last, so the block takes 25 + 3 cycles.
        (GasModel::Full, 25),
    ] {
        let report = run(&program, &SpiStart::default(), &config(model));
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
    let code = assemble(
        "top: add_imm_64 r2, r2, 1
              jump top",
        Flavour::JamV1,
    )
    .unwrap();
    let (add_pc, jump_pc) = (code.offsets[0], code.offsets[1]);
    let run_with_11 = |model| {
        let config = RunConfig {
            gas: 11,
            ..config(model)
        };
        run(&program(&code), &SpiStart::default(), &config)
    };
    // Naive: five iterations (10 gas); the sixth entry needs 2 but 1 is left.
    let report = run_with_11(GasModel::Naive);
    assert_eq!(report.exit, Exit::OutOfGas { pc: add_pc });
    assert_eq!(add_pc, 0);
    assert_eq!(
        (report.regs[2], report.gas_left, report.gas_used),
        (5, 1, 10)
    );
    // Per instruction: 11 instructions run (six adds), the 12th (a jump) cannot start.
    let report = run_with_11(GasModel::PerInstruction);
    assert_eq!(report.exit, Exit::OutOfGas { pc: jump_pc });
    assert_eq!(
        (report.regs[2], report.gas_left, report.gas_used),
        (6, 0, 11)
    );
}

#[test]
fn host_calls() {
    let code = jam_code(&[I::load_imm(R7, 21), I::ecalli(7), I::ecalli(8), HALT]);
    let (call_7, call_8) = (code.offsets[1], code.offsets[2]);
    let machine = Machine::new();
    let mut seen = Vec::new();
    // Serves 7 (doubles r7), stops on anything else.
    let mut host = |index: u32, ctx: &mut HostContext<'_>| {
        seen.push((index, ctx.pc()));
        if index != 7 {
            return HostAction::Stop;
        }
        let value = ctx.reg(R7);
        ctx.set_reg(R7, value * 2);
        // The argument area is read-only for hosts too.
        assert!(ctx.write_memory(u64::from(ARGS_START), b"x").is_err());
        assert!(ctx.write_memory(u64::from(STACK_END) - 8, b"x").is_ok());
        HostAction::Resume
    };
    let mut instance = machine
        .load_standard(
            &program(&code),
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
            pc: call_8
        }
    );
    assert_eq!(report.regs[7], 42);
    // All four instructions form one block, paid on entry.
    assert_eq!(report.gas_used, 4);
    // The embedder serves call 8 itself and resumes after it.
    instance.set_reg(R8, 0);
    let report = instance.run(&mut host).unwrap();
    assert_eq!((report.exit, report.gas_used), (Exit::Halt, 0));
    // A halted program stays halted.
    assert!(matches!(
        instance.run(&mut host),
        Err(MachineError::NotResumable(Exit::Halt))
    ));
    assert_eq!(seen, [(7, call_7), (8, call_8)]);
}

#[test]
fn default_host_serves_log() {
    let mut b = CodeBuilder::new(Flavour::JamV1);
    let load_imms = |b: &mut CodeBuilder, values: &[(_, u32)]| {
        for &(reg, value) in values {
            b.push(I::load_imm(reg, value));
        }
    };
    // Level 2, target "target" and message "Hello" from the read-only data.
    load_imms(
        &mut b,
        &[(R7, 2), (R8, 0x1_0000), (R9, 6), (R10, 0x1_0006), (R11, 5)],
    );
    let first_log = b.bind_new();
    b.push(I::ecalli(LOG_HOST_CALL));
    // No target, and a message in unmapped memory: nothing is logged.
    load_imms(&mut b, &[(R8, 0), (R9, 0), (R10, 0x5_0000)]);
    b.push(I::ecalli(LOG_HOST_CALL));
    // No target, level 4.
    load_imms(&mut b, &[(R10, 0x1_0006), (R7, 4)]);
    b.push(I::ecalli(LOG_HOST_CALL));
    let unknown_call = b.bind_new();
    b.push(I::ecalli(99));
    b.push(HALT);
    let code = b.finish().unwrap();
    let pc_of = |label| code.label_offset(label).unwrap();
    let mut program = program(&code);
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
            pc: pc_of(unknown_call)
        }
    );
    assert_eq!(report.regs[7], WHAT);
    // One block of 15 instructions plus 10 for each of the three `log` calls.
    assert_eq!(code.offsets.len(), 15);
    assert_eq!(report.gas_used, 15 + 3 * 10);

    // Too little gas for the host call's 10: out of gas at the `ecalli`.
    let report = run(
        &program,
        &SpiStart::default(),
        &RunConfig {
            gas: 20,
            ..config(GasModel::Naive)
        },
    );
    assert_eq!(
        report.exit,
        Exit::OutOfGas {
            pc: pc_of(first_log)
        }
    );
    assert_eq!(report.gas_left, 5);
}

#[test]
fn gas_models_on_one_program() {
    // `log` (host call 100) with an unreadable message (r10 = 0, r11 = 1), then halt.
    let program = program(
        &assemble(
            "load_imm r7, 3
             load_imm r11, 1
             ecalli 100
             jump_indirect r0, 0",
            Flavour::JamV1,
        )
        .unwrap(),
    );
    let gas: Vec<i64> = [GasModel::Naive, GasModel::PerInstruction, GasModel::Full]
        .into_iter()
        .map(|model| {
            let report = run(&program, &SpiStart::default(), &config(model));
            assert_eq!(report.exit, Exit::Halt, "{model}");
            report.gas_used
        })
        .collect();
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
    // Five one-byte traps, then the accumulate entry.
    let mut b = CodeBuilder::new(Flavour::JamV1);
    for _ in 0..5 {
        b.push(I::trap());
    }
    let accumulate = b.bind_new();
    b.push(I::add_imm_64(R7, R9, 1));
    let halt = b.bind_new();
    b.push(HALT);
    let code = b.finish().unwrap();
    assert_eq!(code.label_offset(accumulate), Some(JAM_ACCUMULATE_PC));
    let program = program(&code);

    let start = SpiStart::new(*b"xy")
        .at_pc(JAM_ACCUMULATE_PC)
        .with_reg(R9, 41);
    let report = run(&program, &start, &config(GasModel::Naive));
    assert_eq!(report.exit, Exit::Halt);
    assert_eq!(report.pc, code.label_offset(halt));
    assert_eq!(report.regs[7], 42);
    assert_eq!(report.regs[8], 2);
    assert_eq!(report.regs[9], 41);
    assert_eq!(report.gas_used, 2);
    // Starting at 0 hits the first trap.
    let report = run(&program, &SpiStart::new(*b"xy"), &config(GasModel::Naive));
    assert_eq!(report.exit, Exit::Panic { pc: 0 });
}

#[test]
fn refusals_are_errors() {
    let machine = Machine::new();
    let load = |program: &StandardProgram, flavour, start: &SpiStart| {
        machine
            .load_standard(program, flavour, start, &RunConfig::default())
            .map(drop)
    };
    // gp-0.7.2 code with `sbrk`: polkavm's ReviveV1 has no `sbrk`.
    let sbrk = program(&build(Flavour::Gp072, &[I::sbrk(R7, R8), HALT]));
    assert_eq!(
        load(&sbrk, Flavour::Gp072, &SpiStart::default()),
        Err(MachineError::SbrkUnsupported {
            flavour: Flavour::Gp072,
            pc: 0
        })
    );
    // jam-v1 code that can run off its end: polkavm's validator refuses it. The builder
    // refuses it too, so it is encoded by hand.
    let mut load_imm = Vec::new();
    encode(&I::load_imm(R7, 1), Flavour::JamV1, 0, &mut load_imm).unwrap();
    let runs_off = StandardProgram {
        stack_size: 4096,
        code: CodeBlob {
            jump_table: Vec::new(),
            code: load_imm,
            bitmask: vec![1],
        },
        ..StandardProgram::default()
    };
    let err = load(&runs_off, Flavour::JamV1, &SpiStart::default()).unwrap_err();
    assert!(matches!(err, MachineError::Refused(_)), "{err}");
    // A code blob made by hand whose bitmask is too short for its code: polkavm refuses it
    // (and the `sbrk` scan of gp-0.7.2 code before that must not panic).
    let short_bitmask = StandardProgram {
        stack_size: 4096,
        code: CodeBlob {
            jump_table: Vec::new(),
            code: vec![0; 16],
            bitmask: vec![1],
        },
        ..StandardProgram::default()
    };
    for flavour in [Flavour::Gp072, Flavour::JamV1] {
        let err = load(&short_bitmask, flavour, &SpiStart::default()).unwrap_err();
        assert!(matches!(err, MachineError::Refused(_)), "{flavour}: {err}");
    }
    // Arguments larger than Z_I.
    let too_long = SpiStart::new(vec![0; (1 << 24) + 1]);
    let err = load(&program(&jam_code(&[HALT])), Flavour::JamV1, &too_long).unwrap_err();
    assert!(matches!(err, MachineError::ArgsTooLarge { .. }), "{err}");
    // Raw programs: misaligned or low pages, memory outside the pages.
    let raw = |pages: Vec<PageRange>, memory: Vec<MemoryChunk>| {
        machine
            .load_raw(
                &RawProgram {
                    flavour: Flavour::Gp072,
                    code: build(Flavour::Gp072, &[HALT]).blob,
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
    let chunk = |address| MemoryChunk {
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
    let program = program(&jam_code(&[
        I::add_imm_64(R1, R1, -8i32 as u32),
        I::store_imm_indirect_u32(R1, 0, u32::from_le_bytes(*b"jam!")),
        I::move_reg(R7, R1),
        I::load_imm(R8, 4),
        I::ecalli(LOG_HOST_CALL),
        I::load_imm(R8, 4),
        I::load_u32(R3, 0x7_0000),
        HALT,
    ]));
    let machine = Machine::new();
    for model in [GasModel::Naive, GasModel::Full] {
        let mut reports = Vec::new();
        for backend in [Backend::Interpreter, Backend::Recompiler] {
            let config = RunConfig {
                backend,
                track_halt_pc: false,
                ..config(model)
            };
            let loaded =
                machine.load_standard(&program, Flavour::JamV1, &SpiStart::default(), &config);
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
