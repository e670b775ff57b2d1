//! One test file: its header, its functions, and the tests the header asks for.
//!
//! Everything that goes wrong becomes a [`Failure`] naming the file and, where there is one,
//! the line; a panic in the backend fails the file it came from, not the whole run.

use crate::execute::Executable;
use crate::header::{self, Header, TestKind};
use crate::precise::{self, Block};
use crate::run::RunLine;
use crate::{Failure, Settings};
use cranelift_codegen::ir::Function;
use cranelift_reader::{parse_test, ParseOptions};
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
        let mut edits = Vec::new();
        for (index, (func, _)) in parsed.functions.iter().enumerate() {
            self.report.functions += 1;
            let region = starts[index]..starts.get(index + 1).copied().unwrap_or(lines.len());
            for &kind in &header.tests {
                match kind {
                    TestKind::Compile => self.compile(func, region.start, &header),
                    TestKind::PreciseOutput => {
                        edits.extend(self.precise_output(func, &lines, region.clone(), &header));
                    }
                    TestKind::Run => self.run(func, &lines, region.clone(), &header),
                }
            }
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

    fn run(&mut self, func: &Function, lines: &[&str], region: Range<usize>, header: &Header) {
        let mut runs = Vec::new();
        for index in region.clone() {
            match RunLine::parse(lines[index], func) {
                Ok(Some(run)) => runs.push((index + 1, run)),
                Ok(None) => {}
                Err(e) => self.fail(Some(index + 1), e),
            }
        }
        self.report.run_lines += runs.len();
        for &flavour in &header.flavours {
            let executable = match Executable::new(func, &options(header, flavour)) {
                Ok(executable) => executable,
                Err(e) => {
                    self.fail(
                        Some(region.start + 1),
                        format!("{} [{flavour}]: {e}", func.name),
                    );
                    continue;
                }
            };
            for (line, run) in &runs {
                if let Err(e) = run.check(&executable) {
                    self.fail(Some(*line), format!("{} [{flavour}]: {e}", run.invocation));
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
