//! `cranelift-pvm`: assemble, inspect and run PVM programs, and run `.clif` filetests.
//!
//! Exit status: 0 on success (for `run`: the program halted), 1 on bad input or flags (the
//! message names the file and the place) or a failed `test`, 3 when `run`'s program ended any
//! other way (panic, page fault, out of gas, an unhandled host call).

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use pvm_isa::{
    assemble_program, disassemble_program, load_program, ContainerFormat, Flavour,
    PolkavmContainer, ServiceBlob, StandardProgram,
};
use pvm_machine::{Backend, DefaultHost, Exit, GasModel, Machine, RunConfig, SpiStart};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cranelift-pvm",
    version,
    about = "Assemble, inspect and run PVM programs for JAM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Input and flavour options shared by the commands that read a program.
#[derive(clap::Args)]
struct Input {
    /// A program: an assembly listing (`.s`) or a container (`.jam`, `.spi`, `.polkavm`, code blob).
    input: PathBuf,
    /// The input's container format; detected when absent (listings by their `.s` extension).
    #[arg(long, value_parser = parse_format)]
    format: Option<ContainerFormat>,
    /// The instruction-set flavour: `jam-v1` (draft GP 0.8, polkavm JamV1) or `gp-0.7.2`.
    /// A `.polkavm` container states its own.
    #[arg(long, value_parser = parse_flavour)]
    flavour: Option<Flavour>,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble a listing into a program container.
    Asm {
        #[command(flatten)]
        input: Input,
        /// Where to write the container.
        #[arg(short, long)]
        output: PathBuf,
        /// The container to write: `jam`, `spi`, `polkavm` or `code`; by default taken from the
        /// output's extension.
        #[arg(long = "to", value_parser = parse_format)]
        to: Option<ContainerFormat>,
    },
    /// Print a program's data directives and code listing (which `asm` reads back).
    Disasm {
        #[command(flatten)]
        input: Input,
    },
    /// Run a program on polkavm and report how it ended, its output, log lines and gas.
    Run {
        #[command(flatten)]
        input: Input,
        /// Argument bytes, as text.
        #[arg(long, conflicts_with = "args_hex")]
        args: Option<String>,
        /// Argument bytes, as hex digits.
        #[arg(long)]
        args_hex: Option<String>,
        /// Gas to start with.
        #[arg(long, default_value_t = RunConfig::DEFAULT_GAS)]
        gas: i64,
        /// The gas cost model.
        #[arg(long, value_enum, default_value_t = GasArg::Naive)]
        gas_model: GasArg,
        /// The polkavm backend.
        #[arg(long, value_enum, default_value_t = BackendArg::Interpreter)]
        backend: BackendArg,
        /// The program counter to start at (JAM: 0 refine / is_authorized, 5 accumulate).
        #[arg(long, default_value_t = 0)]
        pc: u32,
    },
    /// Run `.clif` filetests (files, or folders searched for `.clif` files); with
    /// `CRANELIFT_TEST_BLESS=1`, rewrite outdated precise-output expectations.
    Test {
        /// Test files and folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Copy, Clone, ValueEnum)]
enum GasArg {
    /// 1 per instruction, charged per basic block on entry (GP 0.7.2, polkavm's default).
    Naive,
    /// 1 per instruction executed (the GP 0.7.2 text; interpreter only).
    PerInstruction,
    /// Draft GP 0.8's pipeline cost model (needs AVX2).
    Full,
}

#[derive(Copy, Clone, ValueEnum)]
enum BackendArg {
    /// polkavm's interpreter.
    Interpreter,
    /// polkavm's x86-64 recompiler.
    Recompiler,
}

fn parse_format(s: &str) -> Result<ContainerFormat, String> {
    s.parse()
        .map_err(|e: pvm_isa::UnknownContainerFormat| e.to_string())
}

fn parse_flavour(s: &str) -> Result<Flavour, String> {
    s.parse()
        .map_err(|e: pvm_isa::UnknownFlavour| e.to_string())
}

fn main() -> ExitCode {
    match run_cli(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run_cli(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Asm { input, output, to } => {
            let (program, flavour) = read_program(&input)?;
            let to = match to {
                Some(to) => to,
                None => format_from_extension(&output)?,
            };
            let bytes = write_container(&program, flavour, to)?;
            write_atomically(&output, &bytes)?;
            println!(
                "wrote {} ({to}, {flavour}): {} bytes, {} bytes of code",
                output.display(),
                bytes.len(),
                program.code.code.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Disasm { input } => {
            let (program, flavour) = read_program(&input)?;
            print!("{}", disassemble_program(&program, flavour));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            input,
            args,
            args_hex,
            gas,
            gas_model,
            backend,
            pc,
        } => {
            let (program, flavour) = read_program(&input)?;
            let args = match (args, args_hex) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(hex)) => hex::decode(&hex).context("--args-hex")?,
                (None, None) => Vec::new(),
            };
            let config = RunConfig {
                gas,
                gas_model: match gas_model {
                    GasArg::Naive => GasModel::Naive,
                    GasArg::PerInstruction => GasModel::PerInstruction,
                    GasArg::Full => GasModel::Full,
                },
                backend: match backend {
                    BackendArg::Interpreter => Backend::Interpreter,
                    BackendArg::Recompiler => Backend::Recompiler,
                },
                ..RunConfig::default()
            };
            let mut instance = Machine::new()
                .load_standard(&program, flavour, &SpiStart::new(args).at_pc(pc), &config)
                .with_context(|| format!("{}: cannot load the program", input.input.display()))?;
            let mut host = DefaultHost::new();
            let report = instance.run(&mut host)?;
            let mut out = std::io::stdout().lock();
            for line in &host.logs {
                writeln!(out, "log: {line}")?;
            }
            writeln!(out, "exit: {}", report.exit)?;
            if let Some(output) = &report.output {
                writeln!(
                    out,
                    "output ({} bytes): {}",
                    output.len(),
                    String::from_utf8_lossy(output).escape_debug()
                )?;
            }
            writeln!(
                out,
                "gas used: {} ({})",
                report.gas_used,
                config.gas_model.name()
            )?;
            Ok(match report.exit {
                Exit::Halt => ExitCode::SUCCESS,
                _ => ExitCode::from(3),
            })
        }
        Command::Test { paths } => {
            match pvm_filetests::run_paths(&paths, &pvm_filetests::Settings::from_env()) {
                Ok(summary) => {
                    println!("{summary}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(failures) => {
                    println!("{failures}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Reads a listing or a container; returns the program and the flavour to run it in.
fn read_program(input: &Input) -> Result<(StandardProgram, Flavour)> {
    let path = &input.input;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if input.format.is_none() && path.extension().is_some_and(|e| e == "s") {
        let flavour = input.flavour.unwrap_or_default();
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
        let program = assemble_program(text, flavour)
            .with_context(|| format!("{}: cannot assemble", path.display()))?;
        return Ok((program, flavour));
    }
    let loaded = load_program(&bytes, input.format)
        .with_context(|| format!("{}: not a program", path.display()))?;
    let flavour = match (loaded.flavour, input.flavour) {
        (Some(own), Some(flag)) if own != flag => bail!(
            "{}: the container is {own}, but --flavour says {flag}",
            path.display()
        ),
        (Some(own), _) => own,
        (None, flag) => flag.unwrap_or_default(),
    };
    Ok((loaded.program, flavour))
}

fn format_from_extension(path: &Path) -> Result<ContainerFormat> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(match extension {
        "jam" | "pvm" => ContainerFormat::Service,
        "spi" => ContainerFormat::Spi,
        "polkavm" => ContainerFormat::Polkavm,
        "code" | "blob" => ContainerFormat::CodeBlob,
        _ => bail!(
            "cannot tell the container format from `{}`: use --to jam|spi|polkavm|code",
            path.display()
        ),
    })
}

fn write_container(
    program: &StandardProgram,
    flavour: Flavour,
    to: ContainerFormat,
) -> Result<Vec<u8>> {
    Ok(match to {
        ContainerFormat::CodeBlob => {
            if !program.ro_data.is_empty() || !program.rw_data.is_empty() || program.heap_pages != 0
            {
                bail!(
                    "a bare code blob cannot hold the program's data: use --to jam, spi or polkavm"
                );
            }
            program.code.to_bytes()
        }
        ContainerFormat::Spi => program.to_bytes()?,
        ContainerFormat::Service => ServiceBlob {
            metadata: Vec::new(),
            program: program.clone(),
        }
        .to_bytes()?,
        ContainerFormat::Polkavm => PolkavmContainer {
            flavour,
            program: program.clone(),
            imports: Vec::new(),
            exports: Vec::new(),
        }
        .to_bytes()?,
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so a failure never
/// leaves a partial file behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
