//! The wasm front door end to end: `compile` to every container, `run` from entry points and by
//! export name, `--emit`, `disasm`, the C examples, determinism, and one-line errors that leave
//! no file behind.

mod common;

use common::{cli, gas_line, output_of, run, stdout_of};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c")
}

/// A small JAM service with a few plain exports.
const SERVICE: &str = r#"
(module
  (memory 1)
  (data (i32.const 16) "ok")
  ;; refine: the input reversed in place.
  (func (export "refine") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32) (local $j i32) (local $t i32)
    (local.set $j (i32.sub (i32.add (local.get $ptr) (local.get $len)) (i32.const 1)))
    (local.set $i (local.get $ptr))
    (block $done
      (loop $swap
        (br_if $done (i32.ge_s (local.get $i) (local.get $j)))
        (local.set $t (i32.load8_u (local.get $i)))
        (i32.store8 (local.get $i) (i32.load8_u (local.get $j)))
        (i32.store8 (local.get $j) (local.get $t))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $j (i32.sub (local.get $j) (i32.const 1)))
        (br $swap)))
    (i64.or (i64.extend_i32_u (local.get $ptr))
            (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))))
  ;; accumulate: "ok".
  (func (export "accumulate") (param i32 i32) (result i64)
    (i64.const 0x0000000200000010))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "mul64") (param i64 i64) (result i64) (i64.mul (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
)
"#;

/// A folder holding `svc.wat`.
fn service_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("svc.wat");
    std::fs::write(&wat, SERVICE).unwrap();
    (dir, wat)
}

fn compile(input: &Path, output: &Path, flags: &[&str]) -> String {
    stdout_of(
        cli()
            .arg("compile")
            .arg(input)
            .arg("-o")
            .arg(output)
            .args(flags),
    )
}

#[test]
fn compiled_wat_service_runs_its_entry_points() {
    let (dir, wat) = service_dir();
    let jam = dir.path().join("svc.jam");
    let summary = compile(&wat, &jam, &[]);
    assert_eq!(
        summary,
        format!(
            "wrote {} (jam, jam-v1): 708 bytes, code blob 679 bytes; entries: refine at pc 0, \
             accumulate at pc 5\n",
            jam.display()
        )
    );
    // Without the data copies the read/write image holds the memory's zeros and padding.
    let image = dir.path().join("image.jam");
    assert_eq!(
        compile(&wat, &image, &["--no-data-copy"]),
        format!(
            "wrote {} (jam, jam-v1): 4765 bytes, code blob 635 bytes; entries: refine at pc 0, \
             accumulate at pc 5\n",
            image.display()
        )
    );
    let refine = "exit: halt\n\
                  output (5 bytes): 6f6c6c6568\n\
                  output text: \"olleh\"\n"
        .to_string()
        + &gas_line(195, 1239);
    assert_eq!(
        stdout_of(&mut run(&jam, &["--pc", "0", "--args", "hello"])),
        refine
    );
    let accumulate = "exit: halt\n\
                      output (2 bytes): 6f6b\n\
                      output text: \"ok\"\n"
        .to_string()
        + &gas_line(161, 971);
    assert_eq!(
        stdout_of(&mut run(&jam, &["--pc", "5", "--args-hex", "68656c6c6f"])),
        accumulate
    );
    // The wasm itself runs the same, compiled in memory.
    assert_eq!(stdout_of(&mut run(&wat, &["--args", "hello"])), refine);
    // Argument bytes from a file.
    let args = dir.path().join("args.bin");
    std::fs::write(&args, "hello").unwrap();
    let from_file = format!("@{}", args.display());
    assert_eq!(stdout_of(&mut run(&wat, &["--args", &from_file])), refine);
}

#[test]
fn invoke_calls_wasm_exports_with_typed_arguments() {
    let (_dir, wat) = service_dir();
    assert_eq!(
        stdout_of(&mut run(&wat, &["--invoke", "add", "2", "40"])),
        "exit: returned\nresult: 42 (i32)\n".to_string() + &gas_line(2, 22)
    );
    assert_eq!(
        stdout_of(&mut run(&wat, &["--invoke", "add", "0x7fffffff", "1"])),
        "exit: returned\nresult: -2147483648 (i32)\n".to_string() + &gas_line(2, 22)
    );
    assert_eq!(
        stdout_of(&mut run(&wat, &["--invoke", "mul64", "-3", "0x10"])),
        "exit: returned\nresult: -48 (i64)\n".to_string() + &gas_line(2, 22)
    );
    // A trap: exit status 3.
    let (trap, _) = output_of(&mut run(&wat, &["--invoke", "div", "7", "0"]), 3);
    assert_eq!(
        trap,
        "exit: trap at pc 0x82\n".to_string() + &gas_line(2, 3)
    );
    // Out of gas: status 3, with the gas each model used before it stopped.
    let (starved, _) = output_of(&mut run(&wat, &["--args", "hello", "--gas", "100"]), 3);
    let gp08 = if std::arch::is_x86_feature_detected!("avx2") {
        "63 (GP 0.8, which ended: out of gas at pc 0x150)"
    } else {
        "n/a (needs AVX2)"
    };
    assert_eq!(
        starved,
        format!("exit: out of gas at pc 0x72\ngas used: 94 (naive), {gp08}\n")
    );
    let (starved, _) = output_of(
        &mut run(&wat, &["--gas", "1", "--invoke", "add", "1", "2"]),
        3,
    );
    assert_eq!(
        starved,
        "exit: out of gas at pc 0x61\n".to_string() + &gas_line(0, 0)
    );
    // Bad calls: one line naming the file, status 1.
    for (args, message) in [
        (
            &["--invoke", "add", "1"][..],
            "svc.wat: `add` takes 2 argument(s) (i32, i32), given 1",
        ),
        (
            &["--invoke", "add", "1", "4294967296"][..],
            "svc.wat: `add` argument 2: `4294967296` is not an i32",
        ),
        (
            &["--invoke", "nope"][..],
            "svc.wat: no exported function `nope` (the module exports: refine, accumulate, add, \
             mul64, div)",
        ),
    ] {
        let (_, err) = output_of(&mut run(&wat, args), 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(message), "{err}");
    }
}

#[test]
fn invoke_calls_polkavm_exports_by_name() {
    let (dir, wat) = service_dir();
    let polkavm = dir.path().join("svc.polkavm");
    compile(&wat, &polkavm, &[]);
    assert_eq!(
        stdout_of(&mut run(&polkavm, &["--invoke", "add", "2", "40"])),
        "exit: returned\nresult: r7 = 42, r8 = 40\n".to_string() + &gas_line(2, 22)
    );
    let (trap, _) = output_of(&mut run(&polkavm, &["--invoke", "div", "7", "0"]), 3);
    assert_eq!(
        trap,
        "exit: trap at pc 0x82\n".to_string() + &gas_line(2, 3)
    );
    let (_, err) = output_of(&mut run(&polkavm, &["--invoke", "nope"]), 1);
    assert!(
        err.ends_with("svc.polkavm: the program exports no function named `nope`\n"),
        "{err}"
    );
    // A service blob has no export names.
    let jam = dir.path().join("svc.jam");
    compile(&wat, &jam, &[]);
    let (_, err) = output_of(&mut run(&jam, &["--invoke", "add", "1", "2"]), 1);
    assert!(
        err.contains("svc.jam: --invoke calls exports by name"),
        "{err}"
    );
}

#[test]
fn gp_0_7_2_and_optimization_levels() {
    let (_dir, wat) = service_dir();
    let refine = |flags: &[&str]| {
        let mut args = vec!["--args", "hello"];
        args.extend_from_slice(flags);
        let out = stdout_of(&mut run(&wat, &args));
        assert!(out.contains("output text: \"olleh\"\n"), "{out}");
        out.lines().last().unwrap().to_string() + "\n"
    };
    assert_eq!(refine(&["--isa", "gp-0.7.2"]), gas_line(196, 1203));
    assert_eq!(refine(&["-O0"]), gas_line(193, 1280));
    assert_eq!(refine(&["-O1"]), gas_line(195, 1239));
    assert_eq!(refine(&["--no-mid-end"]), gas_line(177, 1276));
    assert_eq!(refine(&["--bounds-checks", "none"]), gas_line(187, 1137));
    // The index-extension fold saves two instructions per memory access in the loop.
    assert_eq!(refine(&["--no-index-extension-fold"]), gas_line(207, 1268));
}

#[test]
fn unlikely_makes_the_runtime_special_cases_cheap_branches() {
    // mandelbrot's doubles are soft-float routine calls; each routine branches off its
    // special cases into cold blocks, which `unlikely` marks: the GP 0.8 model then charges
    // those branches 1 instead of 20. Naive gas pays 1 for each cold block entered.
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/suite/mandelbrot.wasm");
    let gas = |flags: &[&str]| {
        let mut args = vec!["--invoke", "run"];
        args.extend_from_slice(flags);
        let out = stdout_of(&mut run(&program, &args));
        assert!(
            out.contains("result: -3275261165343917246 (i64)\n"),
            "{out}"
        );
        out.lines().last().unwrap().to_string() + "\n"
    };
    assert_eq!(gas(&[]), gas_line(2589114, 4409587));
    assert_eq!(gas(&["--no-unlikely"]), gas_line(2585980, 5935843));
}

#[test]
fn emit_prints_the_stages() {
    let (_dir, wat) = service_dir();
    let emit = |stage: &str| stdout_of(cli().arg("compile").arg(&wat).args(["--emit", stage]));
    let clif = emit("clif");
    assert!(
        clif.contains("function u0:2(i32, i32) -> i32 tail {"),
        "{clif}"
    );
    assert!(clif.contains("v3 = iadd v0, v1"), "{clif}");
    let vcode = emit("vcode");
    assert!(
        vcode.contains("  add_32 r7, r7, r8\n  ret r7=r7\n"),
        "{vcode}"
    );
    let asm = emit("asm");
    assert!(asm.starts_with(".ro_data "), "{asm}");
    assert!(asm.contains(": add_32 r7, r7, r8\n"), "{asm}");
    // The listing is `disasm`'s, without its comment header.
    let listing = stdout_of(cli().arg("disasm").arg(&wat));
    assert!(listing.starts_with(
        "; entry refine (export refine) at pc 0\n; entry accumulate (export accumulate) at pc 5\n"
    ));
    assert!(listing.ends_with(&asm), "{listing}");
}

#[test]
fn emit_with_output_writes_and_prints() {
    let (dir, wat) = service_dir();
    let out = dir.path().join("svc.spi");
    let printed = compile(&wat, &out, &["--emit", "asm"]);
    let listing = stdout_of(cli().arg("disasm").arg(&out));
    assert_eq!(printed, listing);
}

#[test]
fn every_container_from_one_module() {
    let (dir, wat) = service_dir();
    for extension in ["jam", "spi", "pvm"] {
        let out = dir.path().join(format!("svc.{extension}"));
        compile(&wat, &out, &[]);
        let result = stdout_of(&mut run(&out, &["--args", "hello"]));
        assert!(
            result.contains("output text: \"olleh\"\n"),
            "{extension}: {result}"
        );
    }
    // Explicit formats override the extension; a bare code blob cannot hold the module's data.
    let out = dir.path().join("svc.out");
    compile(&wat, &out, &["--format", "polkavm"]);
    assert!(stdout_of(&mut run(&out, &["--invoke", "add", "1", "2"])).contains("r7 = 3,"));
    let code = dir.path().join("svc.code");
    let (_, err) = output_of(cli().arg("compile").arg(&wat).arg("-o").arg(&code), 1);
    assert!(err.contains("svc.wat: the program has data"), "{err}");
    assert!(!code.exists());
}

#[test]
fn entry_flags_replace_the_defaults() {
    let (dir, wat) = service_dir();
    let jam = dir.path().join("swapped.jam");
    let summary = compile(
        &wat,
        &jam,
        &["--entry", "acc=accumulate", "--entry", "ref=refine"],
    );
    assert!(
        summary.ends_with("entries: acc (accumulate) at pc 0, ref (refine) at pc 5\n"),
        "{summary}"
    );
    let out = stdout_of(&mut run(&jam, &["--pc", "5", "--args", "ab"]));
    assert!(out.contains("output text: \"ba\"\n"), "{out}");
}

#[test]
fn entry_arguments_in_a_memory_that_cannot_grow_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("fixed.wat");
    std::fs::write(
        &wat,
        "(module (memory 1 1)\n\
         (func (export \"refine\") (param i32 i32) (result i64) (i64.extend_i32_u (local.get 1))))",
    )
    .unwrap();
    let jam = dir.path().join("fixed.jam");
    let out = cli()
        .arg("compile")
        .arg(&wat)
        .arg("-o")
        .arg(&jam)
        .assert()
        .success();
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(
        err,
        format!(
            "warning: {}: entry `refine` takes argument bytes, which go in new memory pages, but \
             the memory cannot grow past its 1 pages: any non-empty argument traps (declare a \
             larger or no maximum)\n",
            wat.display()
        )
    );
    // As warned: no arguments run, any argument traps.
    assert!(stdout_of(&mut run(&jam, &[])).starts_with("exit: halt\n"));
    let (out, _) = output_of(&mut run(&jam, &["--args", "x"]), 3);
    assert!(out.starts_with("exit: trap at pc "), "{out}");
}

#[test]
fn clif_files_compile_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let clif = dir.path().join("f.clif");
    std::fs::write(
        &clif,
        "test run\ntarget pvm\n\n\
         function %double(i64) -> i64 {\n    fn0 = %add(i64, i64) -> i64\n\
         block0(v0: i64):\n    v1 = call fn0(v0, v0)\n    return v1\n}\n\n\
         function %add(i64, i64) -> i64 {\nblock0(v0: i64, v1: i64):\n\
         v2 = iadd v0, v1\n    return v2\n}\n",
    )
    .unwrap();
    let polkavm = dir.path().join("f.polkavm");
    compile(&clif, &polkavm, &[]);
    assert_eq!(
        stdout_of(&mut run(&polkavm, &["--invoke", "double", "21"])),
        "exit: returned\nresult: r7 = 42, r8 = 21\n".to_string() + &gas_line(9, 95)
    );
    assert!(stdout_of(&mut run(&clif, &["--invoke", "add", "2", "3"])).contains("r7 = 5,"));
    let listing = stdout_of(cli().arg("disasm").arg(&clif));
    assert!(
        listing.starts_with("; export double at pc 0\n; export add at pc 18\n"),
        "{listing}"
    );
    let vcode = stdout_of(cli().arg("compile").arg(&clif).args(["--emit", "vcode"]));
    assert!(vcode.starts_with("; double\nblock0:\n"), "{vcode}");
    // Errors name the file and the line or function.
    let bad = dir.path().join("bad.clif");
    std::fs::write(
        &bad,
        "function %f() -> i64 {\nblock0:\n    v0 = iconst.i32 1\n    return v0\n}\n",
    )
    .unwrap();
    let (_, err) = output_of(cli().arg("compile").arg(&bad).args(["--emit", "asm"]), 1);
    assert!(err.starts_with("error: ") && err.contains("bad.clif: function f: invalid function"));
    assert_eq!(err.lines().count(), 1, "{err}");
    let (_, err) = output_of(&mut run(&clif, &["--max-memory", "2"]), 1);
    assert!(
        err.contains("f.clif: --max-memory applies to WebAssembly input only"),
        "{err}"
    );
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        examples().join("kvstore.wasm"),
        examples().join("service.wasm"),
    ];
    for input in &inputs {
        for (extension, flags) in [
            ("polkavm", &[][..]),
            ("spi", &["-O0"][..]),
            ("jam", &[][..]),
        ] {
            if extension == "jam" && input.ends_with("kvstore.wasm") {
                continue; // no JAM entry points
            }
            let first = dir.path().join(format!("first.{extension}"));
            let second = dir.path().join(format!("second.{extension}"));
            compile(input, &first, flags);
            compile(input, &second, flags);
            assert_eq!(
                std::fs::read(&first).unwrap(),
                std::fs::read(&second).unwrap(),
                "{} as {extension}",
                input.display()
            );
        }
    }
}

/// `lines` of an `.expected` file, or `None` (said loudly) when it is missing or empty.
fn expected_lines(name: &str) -> Vec<String> {
    let path = examples().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    assert!(!lines.is_empty(), "{} has no expectations", path.display());
    lines
}

#[test]
fn c_kvstore_returns_its_expected_results() {
    let lines = expected_lines("kvstore.expected");
    let wasm = examples().join("kvstore.wasm");
    for line in lines {
        let (export, value) = line.split_once(char::is_whitespace).unwrap();
        let out = stdout_of(&mut run(&wasm, &["--invoke", export]));
        let result = out
            .lines()
            .find_map(|l| l.strip_prefix("result: "))
            .unwrap();
        let number = result.split_whitespace().next().unwrap();
        assert_eq!(number, value.trim(), "{export}: {out}");
    }
}

/// The input bytes `service.expected` names.
fn service_input(name: &str) -> Vec<u8> {
    match name {
        "hello" => b"hello".to_vec(),
        "ramp1000" => (0..1000u32).map(|i| (i % 251) as u8).collect(),
        other => panic!("service.expected names an unknown input `{other}`"),
    }
}

#[test]
fn c_service_entry_points_give_the_expected_outputs() {
    let lines = expected_lines("service.expected");
    let dir = tempfile::tempdir().unwrap();
    let jam = dir.path().join("service.jam");
    compile(&examples().join("service.wasm"), &jam, &[]);
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [entry, input, hex] = words[..] else {
            panic!("service.expected: bad line `{line}`");
        };
        let pc = match entry {
            "refine" => "0",
            "accumulate" => "5",
            other => panic!("service.expected: unknown entry `{other}`"),
        };
        let args = dir.path().join(input);
        std::fs::write(&args, service_input(input)).unwrap();
        let result = run(
            &jam,
            &["--pc", pc, "--args", &format!("@{}", args.display())],
        )
        .output()
        .unwrap();
        let out = String::from_utf8_lossy(&result.stdout);
        let expected = format!("exit: halt\noutput ({} bytes): {hex}\n", hex.len() / 2);
        assert!(
            result.status.success() && out.starts_with(&expected),
            "{entry} {input}: {out}{}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

/// Runs `compile` with `input` and `flags` into `dir/out.jam`; checks the failure is one line
/// that contains `message`, and that `dir` holds nothing but `keep` afterwards.
fn fails_cleanly(dir: &Path, input: &Path, flags: &[&str], code: i32, message: &str, keep: usize) {
    let out = dir.join("out.jam");
    let (stdout, err) = output_of(
        cli()
            .arg("compile")
            .arg(input)
            .arg("-o")
            .arg(&out)
            .args(flags),
        code,
    );
    assert_eq!(stdout, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains(message), "{err}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), keep, "stray files");
}

#[test]
fn bad_input_fails_with_one_line_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, bytes: &[u8]| {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let truncated = write("truncated.wasm", b"\0asm\x01\0\0\0\x01\x05\x01\x60\0");
    fails_cleanly(
        d,
        &truncated,
        &[],
        1,
        "truncated.wasm: invalid WebAssembly at byte offset 0xa: unexpected end-of-file",
        1,
    );
    let bad_type = write("badtype.wasm", b"\0asm\x01\0\0\0\x01\x05\x01\x60\x01\x55\0");
    fails_cleanly(
        d,
        &bad_type,
        &[],
        1,
        "badtype.wasm: invalid WebAssembly at byte offset 0xd: invalid value type",
        2,
    );
    let bad_text = write("bad.wat", b"(module\n  (func (result i32) i32.const))\n");
    fails_cleanly(d, &bad_text, &[], 1, "bad.wat:2:31: expected a i32", 3);
    let import = write(
        "import.wat",
        b"(module (import \"env\" \"foo\" (func)) (func (export \"refine\") call 0))",
    );
    fails_cleanly(
        d,
        &import,
        &[],
        1,
        "import.wat: unresolved import `env.foo` (function)",
        4,
    );
    // The same import mapped by --imports compiles.
    let map = write("imports.txt", b"env.foo = trap\n");
    let out = d.join("ok.jam");
    compile(&import, &out, &["--imports", map.to_str().unwrap()]);
    std::fs::remove_file(&out).unwrap();
    let bad_map = write("bad-imports.txt", b"env.foo = nope\n");
    fails_cleanly(
        d,
        &import,
        &["--imports", bad_map.to_str().unwrap()],
        1,
        "bad-imports.txt: line 1: unknown target `nope`",
        6,
    );
    let no_entries = write(
        "lib.wat",
        b"(module (func (export \"run\") (result i64) i64.const 1))",
    );
    fails_cleanly(
        d,
        &no_entries,
        &[],
        1,
        "lib.wat: a JAM service needs entry points",
        7,
    );
    fails_cleanly(
        d,
        &no_entries,
        &["--entry", "refine=nope"],
        1,
        "lib.wat: entry `refine`: no exported function `nope`",
        7,
    );

    // Bad flags: clap's status 2, one line naming the flag.
    fails_cleanly(
        d,
        &no_entries,
        &["--isa", "gp-0.8"],
        2,
        "invalid value 'gp-0.8' for '--isa <ISA>': unknown instruction-set flavour `gp-0.8`",
        7,
    );
    fails_cleanly(
        d,
        &no_entries,
        &["--entry", "refine"],
        2,
        "invalid value 'refine' for '--entry <NAME=EXPORT>': expected NAME=EXPORT",
        7,
    );
    fails_cleanly(
        d,
        &no_entries,
        &["--max-memory", "abc"],
        2,
        "invalid value 'abc' for '--max-memory <PAGES>'",
        7,
    );
    fails_cleanly(
        d,
        &no_entries,
        &["-O3"],
        2,
        "invalid value '3' for '-O <LEVEL>'",
        7,
    );
    fails_cleanly(
        d,
        &no_entries,
        &["--bounds-checks", "some"],
        2,
        "invalid value 'some' for '--bounds-checks <MODE>'",
        7,
    );

    // Missing input.
    fails_cleanly(
        d,
        &d.join("missing.wasm"),
        &[],
        1,
        "missing.wasm: cannot read: No such file or directory",
        7,
    );

    // Unwritable outputs: a missing folder, and a name taken by a folder.
    let valid = write("valid.wat", SERVICE.as_bytes());
    for (output, message) in [
        (
            d.join("no/such/dir/x.jam"),
            "x.jam: cannot write: there is no folder",
        ),
        (
            d.join("taken.jam"),
            "taken.jam: cannot write: Is a directory",
        ),
    ] {
        if output.ends_with("taken.jam") {
            std::fs::create_dir(&output).unwrap();
        }
        let (_, err) = output_of(cli().arg("compile").arg(&valid).arg("-o").arg(&output), 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err}");
    }
    // taken.jam is the folder; nothing else appeared.
    assert_eq!(std::fs::read_dir(d).unwrap().count(), 9, "stray files");
    assert_eq!(std::fs::read_dir(d.join("taken.jam")).unwrap().count(), 0);
}
