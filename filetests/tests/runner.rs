//! The runner itself: each kind of failure names its file and line, blessing rewrites only
//! expectation blocks, and `== trap` holds exactly when the call traps.

use pvm_backend::{compile_function, Options};
use pvm_filetests::{expectation, run_paths, Failure, Settings, Summary};
use pvm_isa::Flavour;
use std::path::{Path, PathBuf};

const ADD: &str = "function %add(i64, i64) -> i64 {
block0(v0: i64, v1: i64):
    v2 = iadd v0, v1
    return v2
}
";

const TRAP_IF_ZERO: &str = "function %f(i64) -> i64 {
block0(v0: i64):
    brif v0, block1, block2
block1:
    return v0
block2:
    trap user1
}
";

/// A folder holding one test file, `test.clif`, with `text`.
struct TestFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn test_file(text: &str) -> TestFile {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.clif");
    std::fs::write(&path, text).unwrap();
    TestFile { _dir: dir, path }
}

fn run(path: &Path, bless: bool) -> Result<Summary, Vec<Failure>> {
    run_paths(&[path], &Settings { bless }).map_err(|f| f.failures)
}

/// The failures of testing `text`, as (line, message).
fn failures_of(text: &str) -> Vec<(Option<usize>, String)> {
    let file = test_file(text);
    let failures = run(&file.path, false).expect_err("the file should fail");
    for failure in &failures {
        assert_eq!(failure.file, file.path);
    }
    failures.into_iter().map(|f| (f.line, f.message)).collect()
}

/// What precise-output expects of `%add` under the default options.
fn add_expectation() -> String {
    let func = cranelift_reader::parse_functions(ADD).unwrap().remove(0);
    let options = Options {
        optimize: false,
        ..Options::default()
    };
    expectation(&compile_function(&func, &options).unwrap(), Flavour::JamV1)
}

#[test]
fn a_precise_output_mismatch_is_a_diff_at_the_block() {
    let text = format!("test compile precise-output\ntarget pvm\n\n{ADD}\n; VCode:\n; wrong\n");
    let failures = failures_of(&text);
    assert_eq!(failures.len(), 1);
    let (line, message) = &failures[0];
    assert_eq!(*line, Some(10));
    let header = "%add: the output differs (CRANELIFT_TEST_BLESS=1 updates it)\n\
                  --- expected\n+++ actual\n";
    assert!(message.starts_with(header), "{message}");
    assert!(message.contains("\n-; wrong\n"), "{message}");
    for line in add_expectation().lines().skip(1) {
        assert!(
            message.contains(&format!("\n+{line}\n")),
            "{line} in {message}"
        );
    }
}

#[test]
fn bless_rewrites_only_the_expectation_blocks() {
    let sub = ADD.replace("%add", "%sub").replace("iadd", "isub");
    let before = format!(
        "; A preamble comment.\ntest compile precise-output\ntarget pvm\n\n{ADD}\n\
         ; VCode:\n; stale\n\n;; Not an expectation: the comment before %sub.\n\n{sub}"
    );
    let file = test_file(&before);
    let summary = run(&file.path, true).unwrap();
    assert_eq!(summary.blessed, 2);
    let sub_expectation = add_expectation().replace("add_64", "sub_64");
    let after = format!(
        "; A preamble comment.\ntest compile precise-output\ntarget pvm\n\n{ADD}\n\
         {}\n;; Not an expectation: the comment before %sub.\n\n{sub}\n{sub_expectation}",
        add_expectation()
    );
    assert_eq!(std::fs::read_to_string(&file.path).unwrap(), after);
    // Blessed, the file passes, and blessing again changes nothing.
    assert_eq!(run(&file.path, false).unwrap().blessed, 0);
    assert_eq!(run(&file.path, true).unwrap().blessed, 0);
    assert_eq!(std::fs::read_to_string(&file.path).unwrap(), after);
}

#[test]
fn a_failing_run_line_reports_its_line_call_and_values() {
    let text = format!(
        "test run\ntarget pvm\n\n{ADD}; run: %add(1, 2) == 3\n; run: %add(1, 2) == 4\n\
         ; run: %add(1, 2) != 3\n"
    );
    assert_eq!(
        failures_of(&text),
        [
            (
                Some(10),
                "%add(1, 2) [jam-v1]: expected == 4, got 3".to_owned()
            ),
            (
                Some(11),
                "%add(1, 2) [jam-v1]: expected != 3, got 3".to_owned()
            ),
        ]
    );
}

#[test]
fn trap_expectations_hold_exactly_when_the_call_traps() {
    let passing = format!("test run\ntarget pvm\n\n{TRAP_IF_ZERO}; run: %f(0) == trap\n");
    let summary = run(&test_file(&passing).path, false).unwrap();
    assert_eq!(
        summary,
        Summary {
            files: 1,
            functions: 1,
            run_lines: 1,
            failed: 0,
            blessed: 0,
        }
    );
    let failing =
        format!("test run\ntarget pvm\n\n{TRAP_IF_ZERO}; run: %f(1) == trap\n; run: %f(0) == 0\n");
    let failures = failures_of(&failing);
    assert_eq!(failures.len(), 2);
    assert_eq!(
        failures[0],
        (
            Some(12),
            "%f(1) [jam-v1]: expected a trap, got 1".to_owned()
        )
    );
    assert_eq!(failures[1].0, Some(13));
    let message = &failures[1].1;
    assert!(
        message.starts_with("%f(0) [jam-v1]: expected == 0, got a trap (panic"),
        "{message}"
    );
}

#[test]
fn run_lines_run_under_every_target() {
    let text =
        format!("test run\ntarget pvm\ntarget pvm gp-0.7.2\n\n{ADD}; run: %add(1, 2) == 0\n");
    assert_eq!(
        failures_of(&text),
        [
            (
                Some(10),
                "%add(1, 2) [jam-v1]: expected == 0, got 3".to_owned()
            ),
            (
                Some(10),
                "%add(1, 2) [gp-0.7.2]: expected == 0, got 3".to_owned()
            ),
        ]
    );
}

#[test]
fn bad_run_lines_are_errors_at_their_line() {
    let text =
        format!("test run\ntarget pvm\n\n{ADD}; run: %other(1, 2) == 3\n; run: %add(1) == 3\n");
    let failures = failures_of(&text);
    assert_eq!(
        failures[0],
        (
            Some(9),
            "`run: %other(1, 2) == 3` calls %other, which the file does not define".to_owned()
        )
    );
    assert_eq!(failures[1].0, Some(10));
    assert!(
        failures[1].1.starts_with("`run: %add(1) == 3`: "),
        "{failures:?}"
    );
    assert_eq!(failures.len(), 2);
}

#[test]
fn functions_of_a_file_call_each_other() {
    // `%twice` calls `%add`, defined after it; a run line may call any function of the file.
    let twice = "function %twice(i64) -> i64 {
    fn0 = %add(i64, i64) -> i64
block0(v0: i64):
    v1 = call fn0(v0, v0)
    return v1
}
";
    let text = format!(
        "test run\ntarget pvm\n\n{twice}; run: %twice(21) == 42\n{ADD}; run: %twice(-1) == -2\n\
         ; run: %add(1, 2) == 3\n"
    );
    let file = test_file(&text);
    let summary = run(&file.path, false).unwrap();
    assert_eq!((summary.functions, summary.run_lines), (2, 3));

    // A callee that is not in the file fails the caller's run lines, at the caller.
    let text = format!("test run\ntarget pvm\n\n{twice}; run: %twice(21) == 42\n");
    assert_eq!(
        failures_of(&text),
        [(
            Some(4),
            "%twice [jam-v1]: link error: %add is used but not defined".to_owned()
        )]
    );
}

#[test]
fn a_compile_error_names_the_function_line() {
    let text = "test compile\ntarget pvm\n\nfunction %f(i64) -> i64 {\nblock0(v0: i64):\n    \
                return\n}\n";
    let failures = failures_of(text);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, Some(4));
    assert!(
        failures[0].1.starts_with("%f [jam-v1]: invalid function: "),
        "{failures:?}"
    );
}

#[test]
fn a_syntax_error_names_its_line() {
    let text = "test run\ntarget pvm\n\nfunction %f(i64) -> i64 {\nblock0(v0: i64):\n    \
                v1 = iad v0, v0\n    return v1\n}\n";
    assert_eq!(
        failures_of(text),
        [(Some(6), "Unknown opcode: 'iad'".to_owned())]
    );
}

#[test]
fn header_errors_are_clear() {
    let cases = [
        (
            "test frobnicate\ntarget pvm\n",
            1,
            "unknown test `frobnicate`: expected `test compile`, \
             `test compile precise-output` or `test run`",
        ),
        (
            "test run\ntarget x86_64\n",
            2,
            "unsupported target `x86_64`: expected `target pvm [jam-v1|gp-0.7.2]`",
        ),
        (
            "test run\ntarget pvm gp-0.5\n",
            2,
            "unknown instruction-set flavour `gp-0.5` (expected `jam-v1` or `gp-0.7.2`)",
        ),
        (
            "test run\nset opt_level=fast\ntarget pvm\n",
            2,
            "unsupported setting `opt_level=fast`: expected `opt_level=none` or \
             `opt_level=speed`",
        ),
        ("test run\n", 1, "no `target pvm` line"),
        (
            "test compile precise-output\ntest run\ntarget pvm\n",
            1,
            "`test compile precise-output` and `test run` need separate files: both own the \
             comments after a function",
        ),
        (
            "test compile precise-output\ntarget pvm\ntarget pvm gp-0.7.2\n",
            1,
            "`test compile precise-output` needs exactly one `target` line",
        ),
        (
            "target pvm\n",
            1,
            "no `test` line: expected `test compile precise-output` or `test run`",
        ),
    ];
    for (text, line, message) in cases {
        assert_eq!(
            failures_of(text),
            [(Some(line), message.to_owned())],
            "{text}"
        );
    }
}

#[test]
fn an_unreadable_path_is_a_failure_without_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.clif");
    let failures = run(&missing, false).unwrap_err();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].line, None);
    assert!(failures[0]
        .to_string()
        .starts_with(&format!("{}: cannot read: ", missing.display())));
}

#[test]
fn folders_are_searched_for_clif_files_and_every_failure_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("nested");
    std::fs::create_dir(&nested).unwrap();
    let run_file = format!("test run\ntarget pvm\n\n{ADD}; run: %add(2, 2) == 5\n");
    std::fs::write(dir.path().join("a.clif"), &run_file).unwrap();
    std::fs::write(nested.join("b.clif"), &run_file).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a test").unwrap();
    let failures = run_paths(&[dir.path()], &Settings::default()).unwrap_err();
    assert_eq!(
        failures.summary.to_string(),
        "2 files, 2 functions, 2 run lines: 2 failed"
    );
    let files: Vec<_> = failures.failures.iter().map(|f| f.file.clone()).collect();
    assert_eq!(files, [dir.path().join("a.clif"), nested.join("b.clif")]);
}
