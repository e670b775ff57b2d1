//! The filetest runner for cranelift-pvm.
//!
//! A test file is CLIF after a header:
//! ```text
//! test compile precise-output      ; or `test compile`, or `test run`
//! set opt_level=speed              ; optional: Cranelift's default is `none`
//! target pvm                       ; or `target pvm gp-0.7.2`; several run tests under each
//!
//! function %add(i64, i64) -> i64 {
//! block0(v0: i64, v1: i64):
//!     v2 = iadd v0, v1
//!     return v2
//! }
//!
//! ; VCode:
//! ; ...
//! ```
//! - `test compile`: every function compiles.
//! - `test compile precise-output`: the comment block after each function's `}` is its
//!   [`expectation`]; with `CRANELIFT_TEST_BLESS=1` outdated blocks are rewritten in place.
//! - `test run`: every `; run: %f(args) == results` (or `!=`) line holds when `%f` runs on
//!   polkavm ([`execute`]); `; run: %f(args) == trap` wants a trap. The functions of a file
//!   are compiled once and linked together, so they may call each other (`fn0 = %g(i64) ->
//!   i64` … `call fn0(v0)`); a line may call any function of the file.
//!
//! Files run in parallel; every failure is collected and names its file and line.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

pub mod execute;
mod file;
pub mod floatgen;
pub mod generate;
mod header;
mod precise;
mod run;
pub mod wast;

pub use precise::expectation;

/// The number in the environment variable `name` (a test's case count or seed), `default`
/// when it is unset; a value that is not a number fails the test, naming the variable.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|e| panic!("{name}={text}: {e}")),
        Err(_) => default,
    }
}

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Rewrite outdated precise-output expectations instead of failing.
    pub bless: bool,
}

impl Settings {
    /// Blesses when the environment has `CRANELIFT_TEST_BLESS=1`.
    pub fn from_env() -> Self {
        Settings {
            bless: std::env::var_os("CRANELIFT_TEST_BLESS").is_some_and(|v| v == "1"),
        }
    }
}

/// One failed check.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The test file.
    pub file: PathBuf,
    /// The 1-based line, when the failure has one.
    pub line: Option<usize>,
    /// What went wrong (a precise-output mismatch carries its diff).
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a run covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Test files read.
    pub files: usize,
    /// Functions in them.
    pub functions: usize,
    /// `; run:` lines in them.
    pub run_lines: usize,
    /// Failures.
    pub failed: usize,
    /// Expectation blocks rewritten by blessing.
    pub blessed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files, {} functions, {} run lines: {} failed",
            self.files, self.functions, self.run_lines, self.failed
        )?;
        if self.blessed > 0 {
            write!(f, " ({} expectations blessed)", self.blessed)?;
        }
        Ok(())
    }
}

/// Every failure of a run, and its summary.
#[derive(Clone, Debug)]
pub struct Failures {
    /// What the run covered.
    pub summary: Summary,
    /// The failures, in file order.
    pub failures: Vec<Failure>,
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for failure in &self.failures {
            writeln!(f, "{failure}")?;
        }
        write!(f, "{}", self.summary)
    }
}

impl std::error::Error for Failures {}

/// Tests the `.clif` files under each of `paths` (a file is tested whatever its name).
pub fn run_paths<P: AsRef<Path>>(paths: &[P], settings: &Settings) -> Result<Summary, Failures> {
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for path in paths {
        collect(path.as_ref(), &mut files, &mut failures);
    }
    let mut summary = Summary {
        files: files.len(),
        ..Summary::default()
    };
    for report in in_parallel(&files, |path| file::test_file(path, settings)) {
        summary.functions += report.functions;
        summary.run_lines += report.run_lines;
        summary.blessed += report.blessed;
        failures.extend(report.failures);
    }
    summary.failed = failures.len();
    if failures.is_empty() {
        Ok(summary)
    } else {
        Err(Failures { summary, failures })
    }
}

/// Adds `path` if it is a file, or the `.clif` files under it in name order if it is a folder.
fn collect(path: &Path, files: &mut Vec<PathBuf>, failures: &mut Vec<Failure>) {
    if !path.is_dir() {
        files.push(path.to_owned());
        return;
    }
    let entries = std::fs::read_dir(path).and_then(|dir| {
        dir.map(|entry| entry.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()
    });
    let mut entries = match entries {
        Ok(entries) => entries,
        Err(e) => {
            failures.push(Failure {
                file: path.to_owned(),
                line: None,
                message: format!("cannot list: {e}"),
            });
            return;
        }
    };
    entries.sort();
    for entry in entries {
        if entry.is_dir() || entry.extension().is_some_and(|e| e == "clif") {
            collect(&entry, files, failures);
        }
    }
}

/// `f` of each item, on as many threads as there are cores; results in item order.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else {
                return done;
            };
            done.push((index, f(item)));
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(items.len());
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|&(index, _)| index);
    results.into_iter().map(|(_, result)| result).collect()
}
