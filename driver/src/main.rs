//! `cranelift-pvm`: compile WebAssembly and CLIF to PVM programs for JAM; assemble, inspect,
//! run and benchmark PVM programs; run `.clif` filetests.
//!
//! One module per command that needs more than a few lines: [`compile`], [`run`], [`bench`];
//! [`source`] reads and compiles every kind of input, [`clif`] compiles `.clif` files and
//! [`output`] writes containers.
//!
//! Errors are one line on stderr, `error: FILE: message` (or naming the flag), never a panic.
//! Exit status: 0 on success (for `run`: the program halted or the function returned), 1 on bad
//! input (or a failed `test` or `bench`), 2 on bad flags, 3 when `run`'s program ended any other
//! way (trap, page fault, out of gas, an unserved host call).

mod bench;
mod clif;
mod compile;
mod output;
mod run;
mod source;

use anyhow::Result;
use clap::{Parser, Subcommand};
use output::{container_bytes, format_from_extension, write_atomically};
use pvm_isa::{disassemble_program, ContainerFormat};
use source::{CompileFlags, EntryDefaults, Input, Source};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cranelift-pvm",
    version,
    about = "Compile WebAssembly and CLIF to PVM, and assemble, inspect, run and benchmark PVM \
             programs for JAM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile WebAssembly (.wasm, .wat) or CLIF (.clif) into a program container.
    Compile(compile::CompileArgs),
    /// Assemble a listing into a program container.
    Asm {
        #[command(flatten)]
        input: Input,
        /// Where to write the container.
        #[arg(short, long)]
        output: PathBuf,
        /// The container to write: `jam`, `spi`, `polkavm` or `code`; by default taken from the
        /// output's extension (.jam, .spi or .pvm, .polkavm, .code or .bin).
        #[arg(long = "to", value_parser = source::parse_format)]
        to: Option<ContainerFormat>,
    },
    /// Print a program's data directives and code listing (which `asm` reads back).
    /// WebAssembly and CLIF are compiled first (as `compile` does).
    Disasm {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        flags: CompileFlags,
    },
    /// Run a program on polkavm (WebAssembly and CLIF are compiled first) and report how it
    /// ended, its result, log lines and gas.
    Run(run::RunArgs),
    /// Compile and run the benchmark suite: sizes, gas, compile time and results.
    Bench(bench::BenchArgs),
    /// Run `.clif` filetests (files, or folders searched for `.clif` files); with
    /// `CRANELIFT_TEST_BLESS=1`, rewrite outdated precise-output expectations.
    Test {
        /// Test files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // No command at all: the help is the answer.
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                clap_error_line(&e.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    match run_cli(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// Writes `text` to stdout. A reader that went away (`| head`) is not an error: whatever it
/// wanted it has.
pub fn print_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes each warning line to stderr.
pub fn print_warnings(warnings: &[String]) {
    for warning in warnings {
        let _ = writeln!(std::io::stderr(), "{warning}");
    }
}

/// clap's error as one line: the paragraph before the usage, its lines joined.
fn clap_error_line(rendered: &str) -> String {
    let first = rendered.split("\n\n").next().unwrap_or(rendered);
    one_line(first)
}

/// `text`'s lines, trimmed and joined with spaces (some errors, such as the CLIF verifier's,
/// come over several lines).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_cli(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Compile(args) => compile::run(args),
        Command::Asm { input, output, to } => {
            let path = &input.input;
            let Source::Program(loaded, flavour) =
                source::read_source(path, input.format, input.flavour)?
            else {
                anyhow::bail!(
                    "{}: `asm` reads listings and containers; use `compile` for WebAssembly and CLIF",
                    path.display()
                );
            };
            let to = match to {
                Some(to) => to,
                None => format_from_extension(&output, "--to")?,
            };
            let program = &loaded.program;
            let bytes = container_bytes(program, flavour, to, None)?;
            write_atomically(&output, &bytes)?;
            print_out(&format!(
                "wrote {} ({to}, {flavour}): {} bytes, {} bytes of code\n",
                output.display(),
                bytes.len(),
                program.code.code.len()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Disasm { input, flags } => {
            let path = &input.input;
            let listing = match source::read_source(path, input.format, input.flavour)? {
                Source::Program(loaded, flavour) => disassemble_program(&loaded.program, flavour),
                source => {
                    let flavour = input.flavour.unwrap_or_default();
                    let compiled =
                        source::compile(path, &source, flavour, &flags, EntryDefaults::Jam, false)?;
                    compiled.listing_header()
                        + &disassemble_program(compiled.standard(), compiled.flavour())
                }
            };
            print_out(&listing)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Test { paths } => {
            match pvm_filetests::run_paths(&paths, &pvm_filetests::Settings::from_env()) {
                Ok(summary) => {
                    print_out(&format!("{summary}\n"))?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(failures) => {
                    print_out(&format!("{failures}\n"))?;
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
