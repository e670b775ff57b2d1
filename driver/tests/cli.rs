//! The command line end to end: the README's main job, containers written and read back,
//! byte-identical output for identical input, and clear errors without partial files.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn cli() -> Command {
    Command::cargo_bin("cranelift-pvm").unwrap()
}

fn hello() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello.s")
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

const HELLO_RUN: &str = "\
log: INFO Hello, JAM!
exit: halt
output (11 bytes): Hello, JAM!
gas used: 79 (naive)
";

#[test]
fn readme_main_job_greets() {
    let out = stdout_of(cli().arg("run").arg(hello()).args(["--args", "JAM"]));
    assert_eq!(out, HELLO_RUN);
}

#[test]
fn every_container_runs_the_same_and_disassembles_to_the_same_listing() {
    let dir = tempfile::tempdir().unwrap();
    let listing = stdout_of(cli().arg("disasm").arg(hello()));
    for extension in ["jam", "spi", "polkavm"] {
        let out = dir.path().join(format!("hello.{extension}"));
        cli()
            .arg("asm")
            .arg(hello())
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        let bytes = std::fs::read(&out).unwrap();
        // Same input and flags: byte-identical output.
        cli()
            .arg("asm")
            .arg(hello())
            .arg("-o")
            .arg(&out)
            .assert()
            .success();
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{extension}");
        assert_eq!(
            stdout_of(cli().arg("disasm").arg(&out)),
            listing,
            "{extension}"
        );
        let run = stdout_of(cli().arg("run").arg(&out).args(["--args", "JAM"]));
        assert_eq!(run, HELLO_RUN, "{extension}");
    }
    // The listing assembles back to the same program.
    let relisted = dir.path().join("relisted.s");
    std::fs::write(&relisted, &listing).unwrap();
    let out = dir.path().join("relisted.jam");
    cli()
        .arg("asm")
        .arg(&relisted)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(dir.path().join("hello.jam")).unwrap()
    );
}

#[test]
fn gas_models_and_exits_are_reported() {
    let full =
        stdout_of(
            cli()
                .arg("run")
                .arg(hello())
                .args(["--args", "JAM", "--gas-model", "full"]),
        );
    assert!(full.ends_with("gas used: 639 (full)\n"), "{full}");
    // 10 gas: the 4-instruction entry block, then one pass of the 5-instruction copy loop at
    // 0x10; its second entry needs 5 more with 1 left.
    let starved = cli()
        .arg("run")
        .arg(hello())
        .args(["--gas", "10"])
        .assert()
        .code(3)
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(starved).unwrap(),
        "exit: out of gas at pc 0x10\ngas used: 9 (naive)\n"
    );
}

#[test]
fn bad_input_names_the_place_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad_asm = dir.path().join("bad.s");
    std::fs::write(&bad_asm, "trap\nload_imm r7\n").unwrap();
    let out = dir.path().join("bad.jam");
    let err = cli()
        .arg("asm")
        .arg(&bad_asm)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
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
    cli()
        .arg("asm")
        .arg(hello())
        .arg("-o")
        .arg(&good)
        .assert()
        .success();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 3]).unwrap();
    let err = cli()
        .arg("run")
        .arg(&truncated)
        .args(["--format", "jam"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("truncated.jam: not a program: "), "{err}");
    assert!(err.contains(" at offset 0x"), "{err}");

    cli()
        .arg("run")
        .arg(hello())
        .args(["--flavour", "gp-0.8"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "unknown instruction-set flavour `gp-0.8`",
        ));
}
