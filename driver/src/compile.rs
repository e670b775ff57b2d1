//! `compile`: WebAssembly or CLIF to a PVM container, and the intermediate stages on request.
//!
//! Nothing is written unless everything succeeded (see [`crate::output::write_atomically`]);
//! the same input and flags always give the same bytes.

use crate::output::{container_bytes, format_from_extension, write_atomically};
use crate::source::{self, shown, CompileFlags, EntryDefaults};
use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use pvm_isa::{disassemble_program, ContainerFormat, Flavour};
use std::path::PathBuf;
use std::process::ExitCode;

/// `compile`'s arguments.
#[derive(clap::Args)]
pub struct CompileArgs {
    /// The program: WebAssembly (`.wasm`, `.wat`) or CLIF (`.clif`, every function compiled
    /// and linked; exported by name in a `.polkavm`).
    pub input: PathBuf,
    /// Where to write the container.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,
    /// The container: `jam` (JAM service blob), `spi` (standard program), `polkavm` or `code`
    /// (bare code blob). By default from the output's extension: .jam, .spi or .pvm, .polkavm,
    /// .code or .bin.
    #[arg(long, value_parser = source::parse_format)]
    pub format: Option<ContainerFormat>,
    /// The instruction-set flavour: `jam-v1` (draft GP 0.8, polkavm JamV1) or `gp-0.7.2`.
    #[arg(long, visible_alias = "flavour", default_value = "jam-v1", value_parser = source::parse_flavour)]
    pub isa: Flavour,
    /// Print a stage to stdout: `clif` (each function's CLIF before the mid-end), `vcode` (after
    /// register allocation) or `asm` (the linked program's listing). Repeatable; works with or
    /// without -o.
    #[arg(long, value_enum)]
    pub emit: Vec<Stage>,
    #[command(flatten)]
    pub flags: CompileFlags,
}

/// A stage `--emit` prints.
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    /// Each function's CLIF, before the mid-end.
    Clif,
    /// Each function's VCode after register allocation.
    Vcode,
    /// The linked program's listing (as `disasm` prints it).
    Asm,
}

/// Runs `compile`.
pub fn run(args: CompileArgs) -> Result<ExitCode> {
    let path = &args.input;
    if args.output.is_none() && args.emit.is_empty() {
        bail!(
            "{}: nothing to do: give -o OUTPUT or --emit clif|vcode|asm",
            shown(path)
        );
    }
    let format = match (args.format, &args.output) {
        (Some(format), _) => format,
        (None, Some(output)) => format_from_extension(output, "--format")?,
        // Only printing: the stages are those of a JAM service's program.
        (None, None) => ContainerFormat::Service,
    };
    let source = source::read_source(path, None, None)?;
    if let source::Source::Program(..) = source {
        bail!(
            "{}: compile takes WebAssembly (.wasm, .wat) or CLIF (.clif); use `asm` for listings",
            shown(path)
        );
    }
    let defaults = match format {
        ContainerFormat::Service if args.output.is_some() => EntryDefaults::JamRequired,
        ContainerFormat::Service | ContainerFormat::Spi | ContainerFormat::CodeBlob => {
            EntryDefaults::Jam
        }
        ContainerFormat::Polkavm => EntryDefaults::Off,
    };
    let keep_stages = args.emit.iter().any(|s| *s != Stage::Asm);
    let compiled = source::compile(path, &source, args.isa, &args.flags, defaults, keep_stages)?;
    crate::print_warnings(&compiled.warnings(path));

    let bytes = match &args.output {
        Some(output) => {
            let polkavm = match format {
                ContainerFormat::Polkavm => Some(compiled.polkavm().with_context(|| shown(path))?),
                _ => None,
            };
            let bytes = container_bytes(compiled.standard(), compiled.flavour(), format, polkavm)
                .with_context(|| shown(path))?;
            Some((output, bytes))
        }
        None => None,
    };

    let mut out = String::new();
    for stage in &args.emit {
        match stage {
            Stage::Clif | Stage::Vcode => {
                for (name, clif, vcode) in compiled.stages() {
                    let text = if *stage == Stage::Clif { clif } else { vcode };
                    out += &format!("; {name}\n{text}");
                    if !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push('\n');
                }
            }
            Stage::Asm => out += &disassemble_program(compiled.standard(), compiled.flavour()),
        }
    }

    if let Some((output, bytes)) = bytes {
        write_atomically(output, &bytes)?;
        if args.emit.is_empty() {
            let entries: Vec<String> = compiled
                .entries()
                .iter()
                .enumerate()
                .map(|(i, (entry, export))| {
                    if entry == export {
                        format!("{entry} at pc {}", 5 * i)
                    } else {
                        format!("{entry} ({export}) at pc {}", 5 * i)
                    }
                })
                .collect();
            out += &format!(
                "wrote {} ({format}, {}): {} bytes, code blob {} bytes{}\n",
                output.display(),
                compiled.flavour(),
                bytes.len(),
                compiled.standard().code.to_bytes().len(),
                if entries.is_empty() {
                    String::new()
                } else {
                    format!("; entries: {}", entries.join(", "))
                }
            );
        }
    }
    crate::print_out(&out)?;
    Ok(ExitCode::SUCCESS)
}
