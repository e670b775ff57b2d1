//! The WebAssembly spec tests (`../shared/testdata/wasm-spec/*.wast`, `TESTDATA_DIR` overrides
//! the testdata folder) through `pvm-wasm` ([`pvm_filetests::wast`]).
//!
//! Prints one line per file (`FILE passed N failed N skipped N`), the totals, the skips by
//! reason and every failure, then enforces:
//! - the floors in `wast-floors.txt` (`FILE MIN_PASSED` per line, sorted by file): a file that
//!   passes fewer directives than its floor fails the test; every file needs a floor.
//!   `PVM_WAST_BLESS=1` rewrites the file with each file's current count where that is higher
//!   (floors only rise);
//! - the must-pass files ([`MUST_PASS`], every `table_*` and `return_call*` file): no failure.
//!
//! Both flavours run the whole suite against the same floors; only the jam-v1 run blesses.
//!
//! Without the testdata folder the tests fail, unless `PVM_ALLOW_MISSING_TESTDATA=1` (then they
//! say so loudly and check nothing).

use pvm_filetests::wast::{run_wast_file, FileReport};
use pvm_isa::Flavour;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Files that must have no failures (plus every `table_*` and `return_call*` file).
const MUST_PASS: &[&str] = &[
    "address",
    "align",
    "block",
    "br",
    "br_if",
    "br_table",
    "bulk",
    "call",
    "call_indirect",
    "conversions",
    "data",
    "elem",
    "endianness",
    "f32",
    "f32_bitwise",
    "f32_cmp",
    "f64",
    "f64_bitwise",
    "f64_cmp",
    "fac",
    "float_exprs",
    "float_literals",
    "float_memory",
    "float_misc",
    "forward",
    "func",
    "func_ptrs",
    "global",
    "i32",
    "i64",
    "if",
    "int_exprs",
    "int_literals",
    "labels",
    "left-to-right",
    "load",
    "local_get",
    "local_set",
    "local_tee",
    "loop",
    "memory",
    "memory_copy",
    "memory_fill",
    "memory_grow",
    "memory_init",
    "memory_size",
    "memory_trap",
    "nop",
    "return",
    "select",
    "stack",
    "store",
    "switch",
    "table",
    "traps",
    "unreachable",
    "unwind",
];

fn floors_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wast-floors.txt")
}

/// The spec-test folder, or `None` (after a loud notice) when it is absent and that is allowed.
fn spec_dir() -> Option<PathBuf> {
    let root = std::env::var_os("TESTDATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let dir = root.join("wasm-spec");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("PVM_ALLOW_MISSING_TESTDATA").is_some_and(|v| v == "1") {
        eprintln!(
            "\n!!!! SKIPPED: the wasm spec tests are not at {} (PVM_ALLOW_MISSING_TESTDATA=1) !!!!\n",
            dir.display()
        );
        return None;
    }
    panic!(
        "the wasm spec tests are not at {} (set TESTDATA_DIR, or PVM_ALLOW_MISSING_TESTDATA=1 to \
         skip them)",
        dir.display()
    );
}

/// The `.wast` files of `dir` by stem, sorted.
fn wast_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|e| e == "wast"))
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (stem, path)
        })
        .collect();
    files.sort();
    files
}

fn must_pass(stem: &str) -> bool {
    MUST_PASS.contains(&stem) || stem.starts_with("table_") || stem.starts_with("return_call")
}

/// Runs `files` on every core; reports in file order.
fn run_all(files: &[(String, PathBuf)], flavour: Flavour) -> Vec<FileReport> {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len().max(1));
    let mut reports: Vec<(usize, FileReport)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some((_, path)) = files.get(index) else {
                            return done;
                        };
                        done.push((index, run_wast_file(path, flavour)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    reports.sort_by_key(|&(index, _)| index);
    reports.into_iter().map(|(_, report)| report).collect()
}

/// Prints the table, totals and failures; returns the must-pass files that failed.
fn print_reports(
    files: &[(String, PathBuf)],
    reports: &[FileReport],
    flavour: Flavour,
) -> Vec<String> {
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut broken = Vec::new();
    println!("wasm spec tests, {flavour:?}:");
    for ((stem, _), report) in files.iter().zip(reports) {
        println!(
            "{stem}.wast passed {} failed {} skipped {}",
            report.passed,
            report.failed.len(),
            report.skipped
        );
        passed += report.passed;
        failed += report.failed.len();
        skipped += report.skipped;
        for (reason, count) in &report.skip_reasons {
            *reasons.entry(reason).or_default() += count;
        }
        if must_pass(stem) && !report.failed.is_empty() {
            broken.push(stem.clone());
        }
    }
    println!(
        "TOTAL {} files: passed {passed} failed {failed} skipped {skipped}",
        files.len()
    );
    for (reason, count) in &reasons {
        println!("  skipped {count}: {reason}");
    }
    for ((stem, _), report) in files.iter().zip(reports) {
        for (line, message) in &report.failed {
            println!("FAIL {stem}.wast:{line}: {message}");
        }
    }
    broken
}

fn read_floors() -> BTreeMap<String, usize> {
    let path = floors_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(number, line)| {
            let bad = || {
                panic!(
                    "{}:{}: expected `FILE MIN_PASSED`",
                    path.display(),
                    number + 1
                )
            };
            let mut words = line.split_whitespace();
            let (Some(file), Some(floor), None) = (words.next(), words.next(), words.next()) else {
                bad()
            };
            (file.to_string(), floor.parse().unwrap_or_else(|_| bad()))
        })
        .collect()
}

/// Runs every file for `flavour` and checks floors and must-pass files; with `bless`, raises
/// the floors to what passes first.
fn check_suite(flavour: Flavour, bless: bool) {
    let Some(dir) = spec_dir() else {
        return;
    };
    let files = wast_files(&dir);
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());
    let missing: Vec<&&str> = MUST_PASS
        .iter()
        .filter(|stem| !files.iter().any(|(s, _)| s == **stem))
        .collect();
    assert!(missing.is_empty(), "must-pass files missing: {missing:?}");

    let reports = run_all(&files, flavour);
    let broken = print_reports(&files, &reports, flavour);

    let mut floors = read_floors();
    if bless {
        for ((stem, _), report) in files.iter().zip(&reports) {
            let floor = floors.entry(format!("{stem}.wast")).or_default();
            *floor = (*floor).max(report.passed);
        }
        let text: String = floors
            .iter()
            .map(|(file, floor)| format!("{file} {floor}\n"))
            .collect();
        std::fs::write(floors_path(), text).expect("writable floor file");
        println!("blessed {}", floors_path().display());
    }
    let mut problems = Vec::new();
    for ((stem, _), report) in files.iter().zip(&reports) {
        let file = format!("{stem}.wast");
        match floors.remove(&file) {
            None => problems.push(format!("{file}: no floor (run with PVM_WAST_BLESS=1)")),
            Some(floor) if report.passed < floor => {
                problems.push(format!("{file}: passed {} < floor {floor}", report.passed))
            }
            Some(_) => {}
        }
    }
    for file in floors.keys() {
        problems.push(format!("{file}: a floor for a file that does not exist"));
    }
    for stem in &broken {
        problems.push(format!("{stem}.wast: a must-pass file has failures"));
    }
    assert!(problems.is_empty(), "{flavour:?}:\n{}", problems.join("\n"));
}

/// The whole suite for jam-v1; `PVM_WAST_BLESS=1` raises the floors here.
#[test]
fn spec_suite_on_jam_v1() {
    let bless = std::env::var_os("PVM_WAST_BLESS").is_some_and(|v| v == "1");
    check_suite(Flavour::JamV1, bless);
}

/// The whole suite for gp-0.7.2, against the same floors (the flavours pass the same today).
#[test]
fn spec_suite_on_gp_0_7_2() {
    check_suite(Flavour::Gp072, false);
}

/// The runner's own judgement, on a script with known outcomes: each kind of pass, failure and
/// skip, with the failures' lines. The float functions only move bits (no soft-float routine),
/// so what they check is the runner's: float arguments (an `f32` with its sign bit set too),
/// exact comparison by bits, the NaN patterns and `either`.
#[test]
fn runner_verdicts() {
    let script = r#"
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "trap") (unreachable))
  (func (export "neg") (param f32) (result f32) (f32.neg (local.get 0)))
  (func (export "bits") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "id64") (param f64) (result f64) (local.get 0))
  (func (export "id") (param externref) (result externref) (local.get 0))
  (func (export "spin") (loop (br 0))))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))
(assert_trap (invoke "trap") "unreachable")
(assert_trap (invoke "add" (i32.const 1) (i32.const 2)) "no trap")
(assert_return (invoke "neg" (f32.const 1.5)) (f32.const -1.5))
(assert_return (invoke "neg" (f32.const -0)) (f32.const -0))
(assert_return (invoke "bits" (f32.const -0x1p-149)) (i32.const 0x80000001))
(assert_return (invoke "neg" (f32.const -nan)) (f32.const nan:canonical))
(assert_return (invoke "neg" (f32.const nan:0x600000)) (f32.const nan:canonical))
(assert_return (invoke "neg" (f32.const nan:0x600000)) (f32.const nan:arithmetic))
(assert_return (invoke "neg" (f32.const nan:0x1)) (f32.const nan:arithmetic))
(assert_return (invoke "id64" (f64.const -nan:0x8000000000001)) (f64.const nan:arithmetic))
(assert_return (invoke "id64" (f64.const nan:0x4000000000000)) (f64.const nan:arithmetic))
(assert_return (invoke "id64" (f64.const -nan)) (f64.const nan:canonical))
(assert_return (invoke "id64" (f64.const nan)) (f32.const nan:canonical))
(assert_return (invoke "id64" (f64.const 0x1p-1074)) (either (f64.const 1) (f64.const 0x1p-1074)))
(assert_return (invoke "id64" (f64.const nan)) (f64.const nan))
(assert_return (invoke "id" (ref.extern 7)) (ref.extern 7))
(assert_return (invoke "id" (ref.null extern)) (ref.null extern))
(assert_return (invoke "id" (ref.extern 7)) (ref.null extern))
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_invalid (module (func)) "nothing wrong")
(assert_malformed (module quote "(func") "unexpected end")
(assert_return (invoke "spin"))
(module $A (func (export "five") (result i32) (i32.const 5)))
(register "A" $A)
(module $B
  (import "A" "five" (func $five (result i32)))
  (import "spectest" "print_i32" (func $print (param i32)))
  (import "spectest" "memory" (memory 0))
  (func (export "via") (result i32) (call $five))
  (func (export "size") (result i32) (call $print (i32.const 1)) (memory.size)))
(assert_return (invoke $B "via") (i32.const 5))
(assert_return (invoke $B "size") (i32.const 1))
(assert_trap (module (memory 1) (data (i32.const 65536) "x")) "out of bounds")
(assert_unlinkable (module (import "A" "none" (func))) "unknown import")
"#;
    let report = pvm_filetests::wast::run_wast_text(script, Flavour::JamV1, 100_000);
    let failed: Vec<usize> = report.failed.iter().map(|&(line, _)| line).collect();
    assert_eq!(
        failed,
        [11, 13, 15, 18, 20, 22, 24, 29, 31, 33],
        "{report:#?}"
    );
    let message = |line| &report.failed[failed.iter().position(|&l| l == line).unwrap()].1;
    assert!(message(11).contains("returned [I32(3)]"), "{report:#?}");
    assert!(
        message(15).contains("returned [F32(0x00000000 = 0.0)], expected [F32(0x80000000 = -0.0)]"),
        "{report:#?}"
    );
    assert!(
        message(18).contains("returned [F32(0xffe00000 = NaN)], expected [F32(nan:canonical)]"),
        "{report:#?}"
    );
    assert!(
        message(33).contains("ran out of gas (100000 per call)"),
        "{report:#?}"
    );
    assert_eq!(report.passed, 19, "{report:#?}");
    let reasons: Vec<(&str, usize)> = report
        .skip_reasons
        .iter()
        .map(|(reason, &count)| (reason.as_str(), count))
        .collect();
    assert_eq!(
        reasons,
        [
            ("assert_unlinkable (modules are not linked)", 1),
            (
                "calls a function imported from a registered module (modules are not linked)",
                1
            ),
            ("register (modules are not linked)", 1),
        ],
        "{report:#?}"
    );
    assert_eq!(report.skipped, 3);
}
