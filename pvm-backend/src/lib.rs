//! Cranelift IR → PVM machine code.
//!
//! The pipeline, one module per stage:
//! 1. verify the CLIF and run Cranelift's mid-end ([`isa`]: legalization, egraph GVN, LICM and
//!    constant folding, through a 64-bit "shape" ISA that stands in for PVM);
//! 2. [`lower`]: ISLE rules (`src/lower/*.isle`) turn CLIF into [`inst::MInst`]s on virtual
//!    registers, in [`vcode::VCode`];
//! 3. `regalloc2` assigns PVM registers ([`abi::machine_env`], the calling convention in
//!    [`abi`]), checked by its symbolic checker when [`Options::check_regalloc`] is set; with
//!    [`Options::shrink_wrap`], [`frame`] first splits live ranges at the frame's likely region;
//! 4. [`emit`]: frames ([`frame`]: layout and shrink wrapping), moves, branches and
//!    fallthroughs into relocatable
//!    [`link::FunctionCode`];
//! 5. [`link`]: functions and data objects into one program (layout, calls, addresses,
//!    dead-function elimination, entry points), written through `pvm-isa`'s containers.
//!
//! [`compile_function`] runs stages 1–5 for one function; [`module::PvmModule`] offers the
//! whole backend as a `cranelift_module::Module`.

#![deny(unsafe_code)]
#![forbid(unused_must_use)]

pub mod abi;
pub mod emit;
pub mod frame;
pub mod inst;
pub mod isa;
pub mod link;
pub mod lower;
pub mod module;
pub mod softfloat;
pub mod vcode;

use cranelift_codegen::ir::Function;
use link::{Linker, Symbol};
use pvm_isa::{BuiltCode, Flavour};

/// Why a function could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The CLIF does not verify, or the mid-end failed.
    #[error("invalid function: {0}")]
    Invalid(String),
    /// An instruction (shown) that the backend does not lower.
    #[error("unsupported instruction: {0}")]
    Unsupported(String),
    /// The function has no blocks.
    #[error("the function has no entry block")]
    NoEntry,
    /// Register allocation failed.
    #[error("register allocation failed: {0}")]
    Regalloc(String),
    /// Functions that do not link: a symbol used but not defined, or defined twice.
    #[error("link error: {0}")]
    Link(String),
    /// A bug in the backend.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How to compile.
#[derive(Clone, Debug)]
pub struct Options {
    /// The instruction-set flavour.
    pub flavour: Flavour,
    /// Run Cranelift's mid-end optimizations.
    pub optimize: bool,
    /// Verify register allocation with regalloc2's symbolic checker.
    pub check_regalloc: bool,
    /// Set the frame up only on the paths that need it (shrink wrapping, see `frame.rs`)
    /// rather than at the entry.
    pub shrink_wrap: bool,
    /// On jam-v1, start every cold block (CLIF's `cold`: the soft-float routines' special
    /// cases, say) with `unlikely`: the draft GP 0.8 gas model then charges a branch into it
    /// 1 instead of 20 (and the rare path 40 more cycles when taken).
    pub unlikely: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flavour: Flavour::JamV1,
            optimize: true,
            check_regalloc: cfg!(debug_assertions),
            shrink_wrap: true,
            unlikely: true,
        }
    }
}

/// One compiled function, standalone: its entry is offset 0.
pub struct CompiledFunction {
    /// The code.
    pub code: BuiltCode,
    /// The frame.
    pub frame: frame::Frame,
    /// The VCode after register allocation, as text.
    pub vcode: String,
}

/// Compiles `func` into a standalone piece of code. Functions it refers to but that are not
/// part of it become stubs that trap, placed after it (see [`link::LinkOptions::allow_undefined`]).
pub fn compile_function(
    func: &Function,
    options: &Options,
) -> Result<CompiledFunction, CompileError> {
    let emitted = compile_function_code(func, options)?;
    let mut linker = Linker::with_options(options);
    linker.add_function(Symbol::of_function(func), &emitted.code)?;
    let link_options = link::LinkOptions {
        allow_undefined: true,
        ..link::LinkOptions::default()
    };
    let code = linker.link(&link_options)?.code;
    Ok(CompiledFunction {
        code,
        frame: emitted.frame,
        vcode: emitted.vcode_text,
    })
}

/// Compiles `func` into relocatable code for a [`link::Linker`].
pub fn compile_function_code(
    func: &Function,
    options: &Options,
) -> Result<emit::Emitted, CompileError> {
    let func = isa::prepare(func, options.optimize)?;
    let mut vcode = lower::lower(&func)?;
    if options.shrink_wrap {
        vcode = frame::split_at_region(vcode);
    }
    let env = abi::machine_env();
    let ra_options = regalloc2::RegallocOptions {
        verbose_log: false,
        validate_ssa: cfg!(debug_assertions),
        algorithm: regalloc2::Algorithm::Ion,
    };
    let output = regalloc2::run(&vcode, &env, &ra_options)
        .map_err(|e| CompileError::Regalloc(format!("{e:?}")))?;
    if options.check_regalloc {
        let mut checker = regalloc2::checker::Checker::new(&vcode, &env);
        checker.prepare(&output);
        checker
            .run()
            .map_err(|e| CompileError::Regalloc(format!("checker: {e:?}")))?;
    }
    emit::emit(&vcode, &output, options)
}
