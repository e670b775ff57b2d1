//! One test file: its header, its functions, and the tests the header asks for.
//!
//! Everything that goes wrong becomes a [`Failure`] naming the file and, where there is one,
//! the line; a panic in the backend fails the file it came from, not the whole run.

use crate::execute::{ExecuteError, FunctionSet};
use crate::header::{self, Header, TestKind};
use crate::precise::{self, Block};
use crate::run::RunLine;
use crate::{Failure, Settings};
use cranelift_codegen::ir::Function;
use cranelift_reader::{parse_test, ParseOptions};
use pvm_backend::link::Symbol;
use pvm_backend::{compile_function, Options};
use std::io::Write as _;
use std::ops::Range;
use std::path::Path;

/// What testing one file found.
#[derive(Default)]
pub(crate) struct FileReport {
    pub functions: usize,
    pub run_lines: usize,
    pub blessed: usize,
    pub failures: Vec<Failure>,
}

/// Tests the file at `path`; with `settings.bless`, rewrites its outdated expectations.
pub(crate) fn test_file(path: &Path, settings: &Settings) -> FileReport {
    let mut tester = Tester {
        path,
        bless: settings.bless,
        report: FileReport::default(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tester.file()));
    match result {
        Ok(Ok(())) => {}
        Ok(Err((line, message))) => tester.fail(line, message),
        Err(panic) => tester.fail(None, format!("panicked: {}", panic_message(&*panic))),
    }
    tester.report
}

/// An error that ends a file's test: the 1-based line, if any, and the message.
type FileError = (Option<usize>, String);

struct Tester<'a> {
    path: &'a Path,
    bless: bool,
    report: FileReport,
}

impl Tester<'_> {
    fn fail(&mut self, line: Option<usize>, message: String) {
        self.report.failures.push(Failure {
            file: self.path.to_owned(),
            line,
            message,
        });
    }

    fn file(&mut self) -> Result<(), FileError> {
        let text =
            std::fs::read_to_string(self.path).map_err(|e| (None, format!("cannot read: {e}")))?;
        let (header, body) = header::parse(&text).map_err(|(line, e)| (Some(line), e))?;
        let parsed = parse_test(&body, ParseOptions::default())
            .map_err(|e| (Some(e.location.line_number), e.message))?;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let starts: Vec<usize> = parsed
            .functions
            .iter()
            .map(|(_, details)| details.location.line_number - 1)
            .collect();
        let functions: Vec<&Function> = parsed.functions.iter().map(|(f, _)| f).collect();
        let mut edits = Vec::new();
        let mut runs = Vec::new();
        for (index, (func, _)) in parsed.functions.iter().enumerate() {
            self.report.functions += 1;
            let region = starts[index]..starts.get(index + 1).copied().unwrap_or(lines.len());
            for &kind in &header.tests {
                match kind {
                    TestKind::Compile => self.compile(func, region.start, &header),
                    TestKind::PreciseOutput => {
                        edits.extend(self.precise_output(func, &lines, region.clone(), &header));
                    }
                    TestKind::Run => {
                        runs.extend(self.run_lines(&functions, &lines, region.clone()))
                    }
                }
            }
        }
        if header.tests.contains(&TestKind::Run) {
            self.run(&functions, &starts, &runs, &header);
        }
        if self.bless && !edits.is_empty() {
            self.report.blessed += edits.len();
            write_atomically(self.path, &precise::rewrite(&lines, &edits))
                .map_err(|e| (None, format!("cannot rewrite: {e}")))?;
        }
        Ok(())
    }

    fn compile(&mut self, func: &Function, start: usize, header: &Header) {
        for &flavour in &header.flavours {
            if let Err(e) = compile_function(func, &options(header, flavour)) {
                self.fail(Some(start + 1), format!("{} [{flavour}]: {e}", func.name));
            }
        }
    }

    /// Compares the function's expectation block; returns the edit that would bless it.
    fn precise_output(
        &mut self,
        func: &Function,
        lines: &[&str],
        region: Range<usize>,
        header: &Header,
    ) -> Option<(Block, String)> {
        let flavour = header.flavours[0];
        let compiled = match compile_function(func, &options(header, flavour)) {
            Ok(compiled) => compiled,
            Err(e) => {
                let message = format!("{} [{flavour}]: {e}", func.name);
                self.fail(Some(region.start + 1), message);
                return None;
            }
        };
        let Some(block) = precise::find_block(lines, region.clone()) else {
            let message = format!("{}: no closing `}}` on a line of its own", func.name);
            self.fail(Some(region.start + 1), message);
            return None;
        };
        let actual = precise::expectation(&compiled, flavour);
        let expected = lines[block.lines.clone()].concat();
        if actual == expected {
            return None;
        }
        if !self.bless {
            let line = if block.lines.is_empty() {
                block.close
            } else {
                block.lines.start
            };
            let diff = similar::TextDiff::from_lines(&expected, &actual)
                .unified_diff()
                .header("expected", "actual")
                .to_string();
            let message = format!(
                "{}: the output differs (CRANELIFT_TEST_BLESS=1 updates it)\n{diff}",
                func.name
            );
            self.fail(Some(line + 1), message);
        }
        Some((block, actual))
    }

    /// The run lines in `region`: the index of the function each calls, its 1-based line
    /// number and the line.
    fn run_lines(
        &mut self,
        functions: &[&Function],
        lines: &[&str],
        region: Range<usize>,
    ) -> Vec<(usize, usize, RunLine)> {
        let mut runs = Vec::new();
        for index in region {
            match RunLine::parse(lines[index], functions) {
                Ok(Some((callee, run))) => runs.push((callee, index + 1, run)),
                Ok(None) => {}
                Err(e) => self.fail(Some(index + 1), e),
            }
        }
        self.report.run_lines += runs.len();
        runs
    }

    /// Compiles every function of the file and, for each function some run line calls, links
    /// it with the functions it reaches and makes the calls: functions may call each other.
    fn run(
        &mut self,
        functions: &[&Function],
        starts: &[usize],
        runs: &[(usize, usize, RunLine)],
        header: &Header,
    ) {
        for &flavour in &header.flavours {
            let mut set = FunctionSet::new(&options(header, flavour));
            for (func, start) in functions.iter().zip(starts) {
                if let Err(e) = set.add(func) {
                    self.fail(Some(start + 1), format!("{} [{flavour}]: {e}", func.name));
                }
            }
            for (index, (func, start)) in functions.iter().zip(starts).enumerate() {
                let mut calls = runs
                    .iter()
                    .filter(|(callee, ..)| *callee == index)
                    .peekable();
                if calls.peek().is_none() {
                    continue;
                }
                let executable = match set.executable(&Symbol::of_function(func)) {
                    Ok(executable) => executable,
                    // A function that did not compile has failed already.
                    Err(ExecuteError::NoFunction(_)) => continue,
                    Err(e) => {
                        self.fail(Some(start + 1), format!("{} [{flavour}]: {e}", func.name));
                        continue;
                    }
                };
                for (_, line, run) in calls {
                    if let Err(e) = run.check(&executable) {
                        self.fail(Some(*line), format!("{} [{flavour}]: {e}", run.invocation));
                    }
                }
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    match panic.downcast_ref::<&str>() {
        Some(message) => message,
        None => panic.downcast_ref::<String>().map_or("?", String::as_str),
    }
}

fn options(header: &Header, flavour: pvm_isa::Flavour) -> Options {
    Options {
        flavour,
        optimize: header.optimize,
        ..Options::default()
    }
}

/// Writes `text` to `path` through a temporary file in the same folder, keeping its
/// permissions, so a failure never leaves a half-written test file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.as_file().sync_all()?;
    std::fs::set_permissions(file.path(), std::fs::metadata(path)?.permissions())?;
    file.persist(path)?;
    Ok(())
}
