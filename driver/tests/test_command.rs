//! `cranelift-pvm test`: the filetest runner from the command line.

#[allow(dead_code)] // each test crate uses part of it
mod common;

use assert_cmd::Command;
use std::path::Path;

fn test_command(path: &Path) -> Command {
    let mut cmd = common::cli();
    cmd.env_remove("CRANELIFT_TEST_BLESS").arg("test").arg(path);
    cmd
}

#[test]
fn passing_files_print_the_summary() {
    let runner = Path::new(env!("CARGO_MANIFEST_DIR")).join("../filetests/filetests/runner");
    test_command(&runner)
        .assert()
        .success()
        .stdout("3 files, 5 functions, 5 run lines: 0 failed\n");
}

#[test]
fn failures_are_listed_with_their_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("add.clif");
    let text = "test run\ntarget pvm\n\nfunction %add(i64, i64) -> i64 {\n\
                block0(v0: i64, v1: i64):\n    v2 = iadd v0, v1\n    return v2\n}\n\
                ; run: %add(1, 2) == 4\n";
    std::fs::write(&path, text).unwrap();
    test_command(&path).assert().code(1).stdout(format!(
        "{}:9: %add(1, 2) [jam-v1]: expected == 4, got 3\n\
         1 files, 1 functions, 1 run lines: 1 failed\n",
        path.display()
    ));
}
