//! `cranelift-pvm bench` on a small manifest of its own: the table, the JSON, and a wrong
//! expected result marked loudly with exit status 1; the soft-float runtime's table; and the
//! whole suite, float programs included, giving the manifest's results.

#[allow(dead_code)] // each test crate uses part of it
mod common;

use assert_cmd::Command;
use common::{cli, output_of, stdout_of};
use pvm_backend::softfloat::Routine;
use std::path::Path;

const FIB: &str = r#"
(module
  (func $fib (param i64) (result i64)
    (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
      (then (local.get 0))
      (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                     (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
  (func (export "run") (result i64) (call $fib (i64.const 15))))
"#;

const SUM: &str = r#"
(module
  (func (export "run") (result i64) (local $i i64) (local $s i64)
    (loop $next
      (local.set $s (i64.add (local.get $s) (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $next (i64.lt_u (local.get $i) (i64.const 100))))
    (local.get $s)))
"#;

/// A suite folder: `manifest.txt` (with `manifest` as its text) and the two programs, `sum`
/// in a subfolder.
fn suite(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fib.wat"), FIB).unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    std::fs::write(dir.path().join("more/sum.wat"), SUM).unwrap();
    std::fs::write(dir.path().join("manifest.txt"), manifest).unwrap();
    dir
}

/// `bench DIR` without the runtime's table (see `the_runtime_table_has_every_routine`).
fn bench(dir: &Path, json: bool) -> Command {
    let mut cmd = cli();
    cmd.arg("bench").arg(dir).arg("--no-runtime");
    if json {
        cmd.arg("--json");
    }
    cmd
}

fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

#[test]
fn table_and_json_report_each_program() {
    let dir =
        suite("# NAME FILE EXPECTED\nfib fib.wat 610  # fib(15)\n\nsum more/sum.wat 0x1356\n");
    let table = stdout_of(&mut bench(dir.path(), false));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("program"), "{table}");
    // Every column but the compile time is exact.
    let columns = |line: &str| -> Vec<String> {
        let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
        words.remove(6); // compile ms
        words
    };
    let full = |gas: &str| {
        if avx2() {
            gas.to_string()
        } else {
            "n/a".to_string()
        }
    };
    assert_eq!(
        columns(lines[1]),
        ["fib", "88", "131", "147", "26634", &full("150975"), "ok"]
    );
    assert_eq!(
        columns(lines[2]),
        ["sum", "92", "61", "77", "502", &full("3609"), "ok"]
    );
    assert!(
        lines[3].starts_with("2 programs, 0 failed (jam-v1;"),
        "{table}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&stdout_of(&mut bench(dir.path(), true))).unwrap();
    assert_eq!(json["failed"], 0);
    let fib = &json["programs"][0];
    assert_eq!(fib["name"], "fib");
    assert_eq!(fib["result"], 610);
    assert_eq!(fib["ok"], true);
    assert_eq!(fib["wasm_bytes"], 88);
    assert_eq!(fib["code_bytes"], 131);
    assert_eq!(fib["jam_blob_bytes"], 147);
    assert_eq!(fib["gas_naive"], 26634);
    if avx2() {
        assert_eq!(fib["gas_gp08"], 150975);
    } else {
        assert!(fib["gas_gp08"].is_null());
    }
    assert!(fib["compile_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(json["programs"][1]["result"], 4950);
    assert!(json.get("runtime").is_none(), "--no-runtime");
}

/// What `bench` (with the runtime's table) prints on a one-program suite.
fn bench_with_runtime(json: bool) -> String {
    let dir = suite("sum more/sum.wat 4950\n");
    let mut cmd = cli();
    cmd.arg("bench").arg(dir.path());
    if json {
        cmd.arg("--json");
    }
    stdout_of(&mut cmd)
}

#[test]
fn the_runtime_table_has_every_routine() {
    let routines: Vec<String> = Routine::all().iter().map(Routine::to_string).collect();
    let json: serde_json::Value = serde_json::from_str(&bench_with_runtime(true)).unwrap();
    let runtime = &json["runtime"];
    assert_eq!(runtime["failed"], 0, "{runtime}");
    let rows = runtime["routines"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, routines);
    let mut sum = 0;
    for row in rows {
        assert_eq!(row["ok"], true, "{row}");
        let bytes = row["code_bytes"].as_u64().unwrap();
        let (min, avg, max) = (
            row["gas_min"].as_u64().unwrap(),
            row["gas_avg"].as_f64().unwrap(),
            row["gas_max"].as_u64().unwrap(),
        );
        // Every routine is code and runs at least its return; the mean lies within the range.
        assert!(bytes > 0 && min > 0, "{row}");
        assert!(min as f64 <= avg && avg <= max as f64, "{row}");
        sum += bytes;
    }
    // All routines in one program: their sizes add up, up to the bitmask's rounding to bytes
    // (at most one byte per routine, either way).
    let total = runtime["total_code_bytes"].as_u64().unwrap();
    assert!(total.abs_diff(sum) <= rows.len() as u64, "{total} vs {sum}");
    assert!(runtime["operands"]
        .as_str()
        .unwrap()
        .starts_with("1000 operand tuples"));

    // The operand set is fixed: a second run measures the same.
    let again: serde_json::Value = serde_json::from_str(&bench_with_runtime(true)).unwrap();
    assert_eq!(again["runtime"], *runtime);

    // The table: the programs', a blank line, then one row per routine and the total.
    let table = bench_with_runtime(false);
    let runtime_table = table.split("\n\n").nth(1).expect("a second table");
    let lines: Vec<&str> = runtime_table.lines().collect();
    assert!(lines[0].starts_with("routine"), "{table}");
    for (line, row) in lines[1..].iter().zip(rows) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], row["name"], "{line}");
        assert_eq!(words[1], row["code_bytes"].to_string(), "{line}");
        assert_eq!(
            words[2],
            format!("{:.1}", row["gas_avg"].as_f64().unwrap()),
            "{line}"
        );
    }
    let total_line: Vec<&str> = lines[1 + rows.len()].split_whitespace().collect();
    assert_eq!(
        total_line[..3],
        ["runtime", "total", &total.to_string()],
        "{table}"
    );
    assert!(
        lines[2 + rows.len()].starts_with(&format!("{} routines, 0 failed (jam-v1;", rows.len())),
        "{table}"
    );
}

#[test]
fn wrong_results_and_missing_files_fail_loudly() {
    let dir = suite("fib fib.wat 611\nsum more/sum.wat 4950\ngone gone.wat 1\n");
    let (table, _) = output_of(&mut bench(dir.path(), false), 1);
    assert!(
        table.contains("  MISMATCH: got 610, expected 611\n"),
        "{table}"
    );
    assert!(table.contains("gone         FAILED: "), "{table}");
    assert!(table.contains("`gone.wat` not found"), "{table}");
    assert!(table.contains("\n3 programs, 2 failed ("), "{table}");
}

#[test]
fn bad_manifests_name_the_line() {
    let dir = suite("fib fib.wat\n");
    let (_, err) = output_of(&mut bench(dir.path(), false), 1);
    assert!(
        err.contains("manifest.txt:1: expected `NAME FILE EXPECTED`, found `fib fib.wat`"),
        "{err}"
    );
    let dir = suite("fib fib.wat ten\n");
    let (_, err) = output_of(&mut bench(dir.path(), false), 1);
    assert!(
        err.contains("manifest.txt:1: expected result `ten` is not an i64"),
        "{err}"
    );
}

#[test]
fn the_suite_gives_every_expected_result() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let out = bench(&dir, true).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let programs = json["programs"].as_array().unwrap();
    for program in programs {
        assert_eq!(program["ok"], true, "{program}");
        assert_eq!(program["result"], program["expected"], "{program}");
    }
    assert_eq!(json["failed"], 0);
    // The float programs are there: their checksums fold the bits of double and float results,
    // so the soft-float runtime must be exact for them to match.
    for float in ["mandelbrot", "nbody", "dot", "spectral"] {
        assert!(
            programs.iter().any(|p| p["name"] == float),
            "{float} missing"
        );
    }
    assert!(out.status.success());
    // One row per manifest line.
    let manifest = std::fs::read_to_string(dir.join("manifest.txt")).unwrap();
    let listed = manifest
        .lines()
        .filter(|l| !l.split('#').next().unwrap().trim().is_empty())
        .count();
    assert_eq!(programs.len(), listed);
    assert!(listed > 0);
}
