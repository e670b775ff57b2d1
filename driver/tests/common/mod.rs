//! What the command-line tests share: running the binary and reading what it prints.

use assert_cmd::Command;
use std::path::Path;

/// The `cranelift-pvm` binary.
pub fn cli() -> Command {
    Command::cargo_bin("cranelift-pvm").unwrap()
}

/// The command's stdout and stderr, after checking that it exits with `code`.
pub fn output_of(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.assert().code(code).get_output().clone();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The stdout of a command that succeeds.
pub fn stdout_of(cmd: &mut Command) -> String {
    output_of(cmd, 0).0
}

/// `cranelift-pvm run input flags…`.
pub fn run(input: &Path, flags: &[&str]) -> Command {
    let mut cmd = cli();
    cmd.arg("run").arg(input).args(flags);
    cmd
}

/// The `gas used:` line: naive gas, and GP 0.8 gas where the full model can run (AVX2).
pub fn gas_line(naive: i64, gp08: i64) -> String {
    let gp08 = if std::arch::is_x86_feature_detected!("avx2") {
        format!("{gp08} (GP 0.8)")
    } else {
        "n/a (needs AVX2)".to_string()
    };
    format!("gas used: {naive} (naive), {gp08}\n")
}
