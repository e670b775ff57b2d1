//! Calling the functions of a `.polkavm` program by their export names.

use pvm_isa::{
    CodeBuilder, Export, Flavour, Instruction as I, PolkavmContainer, Reg::*, StandardProgram,
};
use pvm_machine::{call_export, DefaultHost, Exit, MachineError, RunConfig};

/// Two functions, `add` (r7 = r7 + r8) and `twice_plus_one` (r7 = 2·r7 + 1), each returning
/// through r0, exported by name, written out and read back.
fn program(flavour: Flavour) -> PolkavmContainer {
    let mut b = CodeBuilder::new(flavour);
    let add = b.bind_new();
    b.push(I::add_64(R7, R7, R8));
    b.push(I::jump_indirect(R0, 0));
    let twice = b.bind_new();
    b.push(I::add_64(R7, R7, R7));
    b.push(I::add_imm_64(R7, R7, 1));
    b.push(I::jump_indirect(R0, 0));
    let code = b.finish().unwrap();
    let container = PolkavmContainer {
        flavour,
        program: StandardProgram {
            stack_size: 4096,
            code: code.blob.clone(),
            ..StandardProgram::default()
        },
        imports: Vec::new(),
        exports: vec![
            Export {
                pc: code.label_offset(add).unwrap(),
                name: "add".into(),
            },
            Export {
                pc: code.label_offset(twice).unwrap(),
                name: "twice_plus_one".into(),
            },
        ],
    };
    PolkavmContainer::parse(&container.to_bytes().unwrap()).unwrap()
}

#[test]
fn every_export_is_callable_by_name() {
    for flavour in Flavour::ALL {
        let container = program(flavour);
        let config = RunConfig::default();
        let report = call_export(
            &container,
            "add",
            &[(R7, 40), (R8, 2)],
            &config,
            &mut DefaultHost::new(),
        )
        .unwrap();
        assert_eq!(report.exit, Exit::Halt);
        assert_eq!(report.regs[7], 42);
        assert_eq!(report.gas_used, 2);

        let report = call_export(
            &container,
            "twice_plus_one",
            &[(R7, 20)],
            &config,
            &mut DefaultHost::new(),
        )
        .unwrap();
        assert_eq!(report.exit, Exit::Halt);
        assert_eq!(report.regs[7], 41);
        assert_eq!(report.gas_used, 3);

        let error = call_export(&container, "sub", &[], &config, &mut DefaultHost::new());
        assert_eq!(error, Err(MachineError::UnknownExport("sub".into())));
    }
}
