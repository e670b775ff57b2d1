//! The command line end to end: the README's main job, containers written and read back,
//! byte-identical output for identical input, and clear errors without partial files.

mod common;

use common::{cli, gas_line, output_of, run, stdout_of};
use std::path::{Path, PathBuf};

fn hello() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.s")
}

/// Assembles `input` into `out` (the container is chosen by `out`'s extension).
fn asm(input: &Path, out: &Path) {
    cli()
        .arg("asm")
        .arg(input)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

fn hello_run() -> String {
    "log: INFO Hello, JAM!\n\
     exit: halt\n\
     output (11 bytes): 48656c6c6f2c204a414d21\n\
     output text: \"Hello, JAM!\"\n"
        .to_string()
        + &gas_line(79, 639)
}

#[test]
fn readme_main_job_greets() {
    let out = stdout_of(&mut run(&hello(), &["--args", "JAM"]));
    assert_eq!(out, hello_run());
}

#[test]
fn every_container_runs_the_same_and_disassembles_to_the_same_listing() {
    let dir = tempfile::tempdir().unwrap();
    let listing = stdout_of(cli().arg("disasm").arg(hello()));
    for extension in ["jam", "spi", "polkavm"] {
        let out = dir.path().join(format!("hello.{extension}"));
        asm(&hello(), &out);
        let bytes = std::fs::read(&out).unwrap();
        // Same input and flags: byte-identical output.
        asm(&hello(), &out);
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{extension}");
        assert_eq!(
            stdout_of(cli().arg("disasm").arg(&out)),
            listing,
            "{extension}"
        );
        let output = stdout_of(&mut run(&out, &["--args", "JAM"]));
        assert_eq!(output, hello_run(), "{extension}");
    }
    // The listing assembles back to the same program.
    let relisted = dir.path().join("relisted.s");
    std::fs::write(&relisted, &listing).unwrap();
    let out = dir.path().join("relisted.jam");
    asm(&relisted, &out);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.path().join("hello.jam")).unwrap()
    );
}

#[test]
fn gas_models_and_exits_are_reported() {
    // The full model runs first (it decides the exit); both figures are reported either way.
    if std::arch::is_x86_feature_detected!("avx2") {
        let full = stdout_of(&mut run(
            &hello(),
            &["--args", "JAM", "--gas-model", "full"],
        ));
        assert_eq!(full, hello_run());
    } else {
        eprintln!("NOTE: no AVX2 here: --gas-model full is not tested");
    }
    let per_instruction = stdout_of(&mut run(
        &hello(),
        &["--args", "JAM", "--gas-model", "per-instruction"],
    ));
    assert!(
        per_instruction.ends_with(&gas_line(79, 639).replace(": ", ": 79 (per-instruction), ")),
        "{per_instruction}"
    );
    // 10 gas: the 4-instruction entry block, then one pass of the 5-instruction copy loop at
    // 0x10; its second entry needs 5 more with 1 left. The GP 0.8 run stops at the same place.
    let (starved, _) = output_of(&mut run(&hello(), &["--gas", "10"]), 3);
    assert_eq!(
        starved,
        "exit: out of gas at pc 0x10\n".to_string() + &gas_line(9, 2)
    );
}

#[test]
fn bad_input_names_the_place_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad_asm = dir.path().join("bad.s");
    std::fs::write(&bad_asm, "trap\nload_imm r7\n").unwrap();
    let out = dir.path().join("bad.jam");
    let (_, err) = output_of(cli().arg("asm").arg(&bad_asm).arg("-o").arg(&out), 1);
    assert!(
        err.contains("bad.s: cannot assemble: line 2: `load_imm` takes 2 operands, found 1"),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no stray files"
    );

    let truncated = dir.path().join("truncated.jam");
    let good = dir.path().join("good.jam");
    asm(&hello(), &good);
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 3]).unwrap();
    let (_, err) = output_of(&mut run(&truncated, &["--format", "jam"]), 1);
    assert!(err.contains("truncated.jam: not a program: "), "{err}");
    assert!(err.contains(" at offset 0x"), "{err}");

    run(&hello(), &["--flavour", "gp-0.8"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "unknown instruction-set flavour `gp-0.8`",
        ));
}
