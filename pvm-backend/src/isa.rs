//! Cranelift's verifier and mid-end, run through a stand-in ISA.
//!
//! `cranelift-codegen` cannot host an out-of-tree ISA (its backend framework is private), but
//! its mid-end asks the ISA only for flags, the pointer type and the triple. A 64-bit shape
//! ISA (riscv64) answers those as PVM would: 64-bit pointers and registers, little-endian.
//! Frontends that ask `isa().triple()` see riscv64's triple for this reason.

use crate::{softfloat, CompileError};
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
/// Finally, float operations become soft-float routine calls ([`softfloat::legalize`]).
pub fn prepare(func: &Function, optimize: bool) -> Result<Function, CompileError> {
    let isa = shape_isa(optimize);
    let mut ctx = Context::for_function(func.clone());
    ctx.verify(isa.flags())
        .map_err(|e| CompileError::Invalid(e.to_string()))?;
    ctx.optimize(&*isa, &mut ControlPlane::default())
        .map_err(|e| CompileError::Invalid(format!("{e:?}")))?;
    if optimize && fold_constant_branches(&mut ctx.func) {
        ctx.compute_cfg();
        ctx.compute_domtree();
        ctx.eliminate_unreachable_code(&*isa)
            .map_err(|e| CompileError::Invalid(format!("{e:?}")))?;
    }
    softfloat::legalize::legalize(&mut ctx.func)?;
    Ok(ctx.func)
}

/// Turns each `brif` on a constant (the egraph folds compares of constants, for example the
/// bounds check of a wasm access at a constant address, but leaves the branch) into a `jump`
/// to the target it selects; whether any changed. The mid-end of 0.112 does not do this.
fn fold_constant_branches(func: &mut Function) -> bool {
    use cranelift_codegen::ir::{InstBuilder, InstructionData, Opcode};
    let mut changed = false;
    let blocks: Vec<_> = func.layout.blocks().collect();
    for block in blocks {
        let Some(inst) = func.layout.last_inst(block) else {
            continue;
        };
        let InstructionData::Brif { arg, blocks, .. } = func.dfg.insts[inst] else {
            continue;
        };
        let Some(def) = func.dfg.value_def(arg).inst() else {
            continue;
        };
        let InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } = func.dfg.insts[def]
        else {
            continue;
        };
        // A narrow constant's bits above its width do not count.
        let bits = func.dfg.value_type(arg).bits();
        let value = imm.bits() as u64 & (u64::MAX >> (64 - bits));
        let taken = blocks[usize::from(value == 0)];
        let target = taken.block(&func.dfg.value_lists);
        let args = taken.args_slice(&func.dfg.value_lists).to_vec();
        func.dfg.replace(inst).jump(target, &args);
        changed = true;
    }
    changed
}
