//! The programs the commands read, and compiling them in memory.
//!
//! An input is one of four kinds ([`Source`]): WebAssembly (`.wasm` binary or `.wat` text),
//! CLIF (`.clif`), an assembly listing (`.s`) or a program container (`.jam`, `.spi`,
//! `.polkavm`, code blob). `--format` forces a container; otherwise bytes that start with wasm's
//! magic are wasm whatever the file is called, and the extension decides the rest (anything not
//! named `.wasm`, `.wat`, `.clif` or `.s` is a container whose format `pvm_isa::load_program`
//! detects).
//!
//! WebAssembly and CLIF are compiled with [`CompileFlags`] into a [`Compiled`] program. Every
//! error names the input file first (`FILE: message`), and for text inputs the line.

use crate::clif;
use anyhow::{anyhow, bail, Context, Result};
use clap::ValueEnum;
use pvm_backend::link::LinkedProgram;
use pvm_isa::{
    assemble_program, load_program, ContainerFormat, Flavour, PolkavmContainer, StandardProgram,
};
use pvm_wasm::{BoundsChecks, ImportMap, WasmOptions, WasmProgram};
use std::path::{Path, PathBuf};

/// The input and flavour options of the commands that read any program (`disasm`, `run`).
#[derive(clap::Args)]
pub struct Input {
    /// A program: WebAssembly (`.wasm`, `.wat`), CLIF (`.clif`), an assembly listing (`.s`) or
    /// a container (`.jam`, `.spi`, `.polkavm`, code blob).
    pub input: PathBuf,
    /// Read the input as this container format (`jam`, `spi`, `polkavm`, `code`) instead of
    /// deciding by its name and contents.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<ContainerFormat>,
    /// The instruction-set flavour: `jam-v1` (draft GP 0.8, polkavm JamV1; the default) or
    /// `gp-0.7.2`. A `.polkavm` container states its own.
    #[arg(long = "isa", visible_alias = "flavour", value_parser = parse_flavour)]
    pub flavour: Option<Flavour>,
}

/// How WebAssembly and CLIF are compiled (`compile`, and `run`, `disasm` and `bench` when they
/// compile in memory).
#[derive(clap::Args, Clone, Debug)]
pub struct CompileFlags {
    /// Optimization level. 0: no mid-end and no shrink wrapping (every function sets its frame
    /// up at the entry). 1: Cranelift's mid-end (e-graph GVN, LICM, constant folding and
    /// algebraic rewrites). 2 (default): 1 and shrink wrapping (a function sets its frame up
    /// only on the paths that need one).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2,
          value_parser = clap::value_parser!(u8).range(0..=2))]
    pub opt_level: u8,
    /// Skip Cranelift's mid-end (what -O0 also skips).
    #[arg(long)]
    pub no_mid_end: bool,
    /// Skip shrink wrapping: set every frame up at the function's entry.
    #[arg(long)]
    pub no_shrink_wrap: bool,
    /// Do not start cold blocks with `unlikely` (jam-v1; -O1 and up do: the draft GP 0.8 gas
    /// model then charges a branch into a cold block 1 instead of 20).
    #[arg(long)]
    pub no_unlikely: bool,
    /// Keep the zero extension of every wasm memory index, even where the bounds check makes
    /// it redundant (-O1 and up drop it: two instructions per access).
    #[arg(long)]
    pub no_index_extension_fold: bool,
    /// Keep a JAM service's initial memory in its read/write image (zeros and padding
    /// included) instead of storing only the data segments and copying them in at each entry.
    #[arg(long)]
    pub no_data_copy: bool,
    /// A file of import bindings (`module.name = ecalli:N | trap | const:N`, one per line),
    /// added to the built-in `jam.*` host calls (wasm only).
    #[arg(long, value_name = "FILE")]
    pub imports: Option<PathBuf>,
    /// A JAM entry point: entry NAME calls export EXPORT (a CLIF function name for `.clif`).
    /// Repeatable; the entries take pcs 0, 5, 10 … in order. Replaces the default (`refine` or
    /// `is_authorized` at pc 0 and `accumulate` at pc 5, when the module exports them).
    #[arg(long = "entry", value_name = "NAME=EXPORT", value_parser = parse_entry)]
    pub entries: Vec<(String, String)>,
    /// The most 64 KiB pages the wasm memory may grow to [default: 256] (wasm only).
    #[arg(long, value_name = "PAGES")]
    pub max_memory: Option<u32>,
    /// The stack size in bytes [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    pub stack_size: Option<u32>,
    /// Memory bounds checks (wasm only) [default: explicit].
    #[arg(long, value_enum, value_name = "MODE")]
    pub bounds_checks: Option<BoundsArg>,
}

/// `--bounds-checks`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum BoundsArg {
    /// A compare and branch to a trap before every access not provably in bounds.
    Explicit,
    /// No checks: an out-of-bounds access reads or writes whatever is there. UNSOUND: for
    /// trusted code only.
    None,
}

/// Which JAM entry points a wasm module gets when no `--entry` names them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EntryDefaults {
    /// None: functions are reached by export name (`.polkavm`, `run --invoke`).
    Off,
    /// `refine` or `is_authorized` at pc 0 and `accumulate` at pc 5, those the module exports.
    Jam,
    /// As `Jam`, and a module exporting none of them is an error (a JAM service blob).
    JamRequired,
}

/// A program read from a file.
pub enum Source {
    /// WebAssembly, as binary (text already converted).
    Wasm(Vec<u8>),
    /// CLIF text.
    Clif(String),
    /// A program loaded from a listing or a container, with its flavour and, for `.polkavm`,
    /// its exports.
    Program(Box<pvm_isa::LoadedProgram>, Flavour),
}

/// A compiled WebAssembly or CLIF input.
pub enum Compiled {
    /// From WebAssembly.
    Wasm(Box<WasmProgram>),
    /// From CLIF.
    Clif(Box<clif::ClifProgram>),
}

impl Compiled {
    /// The linked program.
    pub fn linked(&self) -> &LinkedProgram {
        match self {
            Compiled::Wasm(p) => &p.linked,
            Compiled::Clif(p) => &p.linked,
        }
    }

    /// The program in the SPI's form.
    pub fn standard(&self) -> &StandardProgram {
        &self.linked().program
    }

    /// The flavour it was compiled for.
    pub fn flavour(&self) -> Flavour {
        self.linked().flavour
    }

    /// The `.polkavm` container: every export (wasm) or function (CLIF) by name, and the entry
    /// points by their names.
    pub fn polkavm(&self) -> Result<PolkavmContainer> {
        Ok(match self {
            Compiled::Wasm(p) => p.polkavm()?,
            Compiled::Clif(p) => p.polkavm()?,
        })
    }

    /// The entry points `(entry, export)`, entry `i` at pc `5·i`.
    pub fn entries(&self) -> &[(String, String)] {
        match self {
            Compiled::Wasm(p) => &p.entries,
            Compiled::Clif(p) => &p.entries,
        }
    }

    /// Exported functions (wasm exports, CLIF functions) by name, with their pcs.
    pub fn exports(&self) -> Vec<(String, u32)> {
        match self {
            Compiled::Wasm(p) => p.exports.iter().map(|e| (e.name.clone(), e.pc)).collect(),
            Compiled::Clif(p) => p
                .exports
                .iter()
                .filter_map(|(name, symbol)| Some((name.clone(), p.linked.function_pc(symbol)?)))
                .collect(),
        }
    }

    /// Each function's `(name, CLIF, VCode)` (kept when compiled with `keep_stages`).
    pub fn stages(&self) -> Vec<(&str, &str, &str)> {
        match self {
            Compiled::Wasm(p) => p
                .stages
                .iter()
                .map(|s| (s.name.as_str(), s.clif.as_str(), s.vcode.as_str()))
                .collect(),
            Compiled::Clif(p) => p
                .stages
                .iter()
                .map(|s| (s.name.as_str(), s.clif.as_str(), s.vcode.as_str()))
                .collect(),
        }
    }

    /// Things that compile but will not work as probably meant, one line each. Today: entry
    /// points that take argument bytes in a memory that cannot grow (`pvm_wasm::entry` grows
    /// the memory to hold them, so any non-empty argument traps).
    pub fn warnings(&self, path: &Path) -> Vec<String> {
        let Compiled::Wasm(program) = self else {
            return Vec::new();
        };
        let Some(memory) = &program.layout.memory else {
            return Vec::new();
        };
        if memory.max_pages > memory.min_pages {
            return Vec::new();
        }
        program
            .entries
            .iter()
            .filter(|(_, export)| {
                program.export(export).is_some_and(|e| {
                    e.params
                        == [
                            cranelift_wasm::WasmValType::I32,
                            cranelift_wasm::WasmValType::I32,
                        ]
                })
            })
            .map(|(entry, _)| {
                format!(
                    "warning: {}: entry `{entry}` takes argument bytes, which go in new memory \
                     pages, but the memory cannot grow past its {} pages: any non-empty argument \
                     traps (declare a larger or no maximum)",
                    shown(path),
                    memory.min_pages
                )
            })
            .collect()
    }

    /// Comment lines naming the entry points and exports, for listings.
    pub fn listing_header(&self) -> String {
        let mut out = String::new();
        for (index, (entry, export)) in self.entries().iter().enumerate() {
            out += &format!("; entry {entry} (export {export}) at pc {}\n", 5 * index);
        }
        for (name, pc) in self.exports() {
            out += &format!("; export {name} at pc {pc}\n");
        }
        out
    }
}

/// `--format`'s value.
pub fn parse_format(s: &str) -> Result<ContainerFormat, String> {
    s.parse()
        .map_err(|e: pvm_isa::UnknownContainerFormat| e.to_string())
}

/// `--isa`'s value.
pub fn parse_flavour(s: &str) -> Result<Flavour, String> {
    s.parse()
        .map_err(|e: pvm_isa::UnknownFlavour| e.to_string())
}

/// `--entry NAME=EXPORT`.
fn parse_entry(s: &str) -> Result<(String, String), String> {
    let bad = || format!("expected NAME=EXPORT (for example refine=refine), found `{s}`");
    let (name, export) = s.split_once('=').ok_or_else(bad)?;
    let valid = |part: &str| !part.is_empty() && !part.contains(char::is_whitespace);
    if !valid(name) || !valid(export) || export.contains('=') {
        return Err(bad());
    }
    Ok((name.to_string(), export.to_string()))
}

/// The display form of a path in messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Reads `path`: WebAssembly, CLIF, a listing or a container (see the module docs).
pub fn read_source(
    path: &Path,
    format: Option<ContainerFormat>,
    flavour: Option<Flavour>,
) -> Result<Source> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", shown(path)))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if format.is_none() {
        if bytes.starts_with(b"\0asm") || matches!(extension, "wasm" | "wat") {
            return Ok(Source::Wasm(parse_wasm(path, &bytes)?));
        }
        if extension == "clif" {
            return Ok(Source::Clif(text(path, bytes)?));
        }
        if extension == "s" {
            let flavour = flavour.unwrap_or_default();
            let text = text(path, bytes)?;
            let program = assemble_program(&text, flavour)
                .with_context(|| format!("{}: cannot assemble", shown(path)))?;
            let loaded = pvm_isa::LoadedProgram {
                format: ContainerFormat::Spi,
                program,
                flavour: None,
                exports: Vec::new(),
                imports: Vec::new(),
                metadata: None,
            };
            return Ok(Source::Program(Box::new(loaded), flavour));
        }
    }
    let loaded =
        load_program(&bytes, format).with_context(|| format!("{}: not a program", shown(path)))?;
    let flavour = match (loaded.flavour, flavour) {
        (Some(own), Some(flag)) if own != flag => bail!(
            "{}: the container is {own}, but --isa says {flag}",
            shown(path)
        ),
        (Some(own), _) => own,
        (None, flag) => flag.unwrap_or_default(),
    };
    Ok(Source::Program(Box::new(loaded), flavour))
}

fn text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{}: not UTF-8 text (at byte offset {:#x})",
            shown(path),
            e.utf8_error().valid_up_to()
        )
    })
}

/// Wasm text or binary to binary. A text error becomes `FILE:LINE:COLUMN: message` on one line
/// (the `wat` crate renders it over several lines, with the source line quoted).
fn parse_wasm(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    pvm_wasm::parse(bytes).map_err(|e| match e {
        pvm_wasm::WasmError::Invalid { message, .. } => {
            let mut lines = message.lines();
            let what = lines.next().unwrap_or("").trim();
            let place = lines
                .find_map(|l| l.trim().strip_prefix("--> "))
                .and_then(|at| {
                    let mut parts = at.rsplitn(3, ':');
                    let column = parts.next()?;
                    let line = parts.next()?;
                    Some(format!(":{line}:{column}"))
                })
                .unwrap_or_default();
            anyhow!("{}{place}: {what}", shown(path))
        }
        other => anyhow!("{}: {other}", shown(path)),
    })
}

/// The names of the functions `wasm` exports, in order; empty when the module does not parse
/// (compiling it then reports why).
fn function_exports(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(wasmparser::Payload::ExportSection(reader)) => {
                for export in reader.into_iter().flatten() {
                    if export.kind == wasmparser::ExternalKind::Func {
                        names.push(export.name.to_string());
                    }
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    names
}

/// The default JAM entry points of a module exporting `exports`: `refine` or `is_authorized`
/// at pc 0 and `accumulate` at pc 5, those it exports.
fn default_entries(exports: &[String]) -> Vec<(String, String)> {
    let has = |name: &str| exports.iter().any(|e| e == name);
    let mut entries = Vec::new();
    if let Some(first) = ["refine", "is_authorized"].into_iter().find(|&n| has(n)) {
        entries.push((first.to_string(), first.to_string()));
        if has("accumulate") {
            entries.push(("accumulate".to_string(), "accumulate".to_string()));
        }
    }
    entries
}

/// Fails when a JAM service blob would get no entry points.
fn check_required_entries(path: &Path, exports: &[String]) -> Result<()> {
    if exports.iter().any(|e| e == "accumulate") {
        bail!(
            "{}: the module exports `accumulate` (pc 5) but neither `refine` nor \
             `is_authorized` for pc 0: name the entry points with --entry NAME=EXPORT",
            shown(path)
        );
    }
    bail!(
        "{}: a JAM service needs entry points, and the module exports none of `refine`, \
         `is_authorized`, `accumulate`: name them with --entry NAME=EXPORT",
        shown(path)
    )
}

impl CompileFlags {
    /// The backend options for `flavour`.
    pub fn backend(&self, flavour: Flavour) -> pvm_backend::Options {
        pvm_backend::Options {
            flavour,
            optimize: self.opt_level >= 1 && !self.no_mid_end,
            shrink_wrap: self.opt_level >= 2 && !self.no_shrink_wrap,
            unlikely: self.opt_level >= 1 && !self.no_unlikely,
            ..pvm_backend::Options::default()
        }
    }

    /// The stack size.
    pub fn stack_size(&self) -> u32 {
        self.stack_size.unwrap_or(pvm_wasm::DEFAULT_STACK_SIZE)
    }

    /// The wasm options (entry points not included).
    fn wasm_options(&self, flavour: Flavour) -> Result<WasmOptions> {
        let mut imports = ImportMap::jam(flavour);
        if let Some(file) = &self.imports {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read", shown(file)))?;
            imports.parse_into(&text).with_context(|| shown(file))?;
        }
        Ok(WasmOptions {
            backend: self.backend(flavour),
            bounds_checks: match self.bounds_checks {
                None | Some(BoundsArg::Explicit) => BoundsChecks::Explicit,
                Some(BoundsArg::None) => BoundsChecks::None,
            },
            max_memory_pages: self
                .max_memory
                .unwrap_or(pvm_wasm::DEFAULT_MAX_MEMORY_PAGES),
            stack_size: self.stack_size(),
            imports,
            fold_index_extension: self.opt_level >= 1 && !self.no_index_extension_fold,
            copy_data: !self.no_data_copy,
            ..WasmOptions::default()
        })
    }

    /// Fails when a wasm-only flag is given for CLIF input.
    fn check_clif(&self, path: &Path) -> Result<()> {
        let wasm_only = [
            ("--imports", self.imports.is_some()),
            ("--max-memory", self.max_memory.is_some()),
            ("--bounds-checks", self.bounds_checks.is_some()),
        ];
        if let Some((flag, _)) = wasm_only.iter().find(|(_, given)| *given) {
            bail!("{}: {flag} applies to WebAssembly input only", shown(path));
        }
        Ok(())
    }
}

/// Compiles wasm or CLIF `source` read from `path`; other sources are refused.
pub fn compile(
    path: &Path,
    source: &Source,
    flavour: Flavour,
    flags: &CompileFlags,
    defaults: EntryDefaults,
    keep_stages: bool,
) -> Result<Compiled> {
    match source {
        Source::Wasm(wasm) => {
            let mut options = flags.wasm_options(flavour)?;
            options.keep_stages = keep_stages;
            let exports = function_exports(wasm);
            options.entries = match defaults {
                _ if !flags.entries.is_empty() => flags.entries.clone(),
                EntryDefaults::Off => Vec::new(),
                EntryDefaults::Jam | EntryDefaults::JamRequired => default_entries(&exports),
            };
            // Compiled first: an invalid module's error says more than a missing entry point.
            let program =
                pvm_wasm::compile(wasm, &options).map_err(|e| anyhow!("{}: {e}", shown(path)))?;
            if defaults == EntryDefaults::JamRequired && program.entries.is_empty() {
                check_required_entries(path, &exports)?;
            }
            Ok(Compiled::Wasm(Box::new(program)))
        }
        Source::Clif(text) => {
            flags.check_clif(path)?;
            let program = clif::compile(
                text,
                &flags.backend(flavour),
                &flags.entries,
                flags.stack_size(),
            )
            .map_err(|e| anyhow!("{}: {e}", shown(path)))?;
            Ok(Compiled::Clif(Box::new(program)))
        }
        Source::Program(..) => bail!(
            "{}: not WebAssembly (.wasm, .wat) or CLIF (.clif)",
            shown(path)
        ),
    }
}
