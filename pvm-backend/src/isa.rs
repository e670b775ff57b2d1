//! Cranelift's verifier and mid-end, run through a stand-in ISA.
//!
//! `cranelift-codegen` cannot host an out-of-tree ISA (its backend framework is private), but
//! its mid-end asks the ISA only for flags, the pointer type and the triple. A 64-bit shape
//! ISA (riscv64) answers those as PVM would: 64-bit pointers and registers, little-endian.
//! Frontends that ask `isa().triple()` see riscv64's triple for this reason.

use crate::CompileError;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::Function;
use cranelift_codegen::isa::{self, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use std::sync::{Arc, OnceLock};

/// The shape ISA with the mid-end's optimizations on (`speed`) or off (`none`), built once each.
pub fn shape_isa(optimize: bool) -> Arc<dyn TargetIsa> {
    static SPEED: OnceLock<Arc<dyn TargetIsa>> = OnceLock::new();
    static NONE: OnceLock<Arc<dyn TargetIsa>> = OnceLock::new();
    let (cell, level) = if optimize {
        (&SPEED, "speed")
    } else {
        (&NONE, "none")
    };
    cell.get_or_init(|| {
        let mut flags = settings::builder();
        flags.set("opt_level", level).expect("known setting");
        flags.set("enable_verifier", "true").expect("known setting");
        let triple = target_lexicon::triple!("riscv64");
        isa::lookup(triple)
            .expect("riscv64 is compiled in")
            .finish(settings::Flags::new(flags))
            .expect("riscv64 accepts these flags")
    })
    .clone()
}

/// Verifies `func` and runs the mid-end on a copy: always legalization, unreachable-code
/// removal and constant-phi removal (lowering relies on them: no `*_imm` forms survive
/// legalization); with `optimize`, also the egraph pass (GVN, LICM, constant folding).
pub fn prepare(func: &Function, optimize: bool) -> Result<Function, CompileError> {
    let isa = shape_isa(optimize);
    let mut ctx = Context::for_function(func.clone());
    ctx.verify(isa.flags())
        .map_err(|e| CompileError::Invalid(e.to_string()))?;
    ctx.optimize(&*isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Invalid(format!("{e:?}")))?;
    Ok(ctx.func)
}
