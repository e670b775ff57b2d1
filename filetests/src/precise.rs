//! `test compile precise-output`: the expected VCode and disassembly of each function, kept as
//! the comment block after its closing `}`.
//!
//! The block is the run of comment lines that follows the `}` (after any blank lines) up to the
//! next line that is not a comment. Blessing replaces exactly those lines; a function without
//! a block gets one after its `}`, separated by a blank line.

use pvm_backend::CompiledFunction;
use pvm_isa::Flavour;
use std::ops::Range;

/// The expectation text for `compiled`: its VCode and its disassembly in `flavour`, each line
/// commented out with `; `, and each line ending in a newline.
pub fn expectation(compiled: &CompiledFunction, flavour: Flavour) -> String {
    let disassembly = pvm_isa::disassemble(&compiled.code.blob, flavour);
    let lines = std::iter::once("VCode:")
        .chain(compiled.vcode.lines())
        .chain(["", "Disassembly:"])
        .chain(disassembly.lines());
    lines
        .map(|line| format!("{}\n", format!("; {line}").trim_end()))
        .collect()
}

/// Where a function's expectation block is, as 0-based line indices of the file.
pub(crate) struct Block {
    /// The line of the function's closing `}`.
    pub close: usize,
    /// The block's lines; empty (just after `close`) when the function has none.
    pub lines: Range<usize>,
}

/// Finds the block of the function whose text spans `region` (from its `function` line up to
/// the next function's); `None` if the region has no closing `}` on a line of its own.
pub(crate) fn find_block(lines: &[&str], region: Range<usize>) -> Option<Block> {
    let close = region.clone().find(|&i| lines[i].trim_end() == "}")?;
    let is_blank = |i: &usize| lines[*i].trim().is_empty();
    let is_comment = |i: &usize| lines[*i].trim_start().starts_with(';');
    let start = (close + 1..region.end)
        .find(|i| !is_blank(i))
        .filter(is_comment)
        .unwrap_or(close + 1);
    let end = (start..region.end)
        .find(|i| !is_comment(i))
        .unwrap_or(region.end);
    Some(Block {
        close,
        lines: start..end,
    })
}

/// The file's text with each block replaced by its new text, everything else unchanged.
/// `edits` are in file order.
pub(crate) fn rewrite(lines: &[&str], edits: &[(Block, String)]) -> String {
    let mut out = String::new();
    let mut next = 0;
    for (block, text) in edits {
        out.push_str(&lines[next..block.lines.start].concat());
        if block.lines.is_empty() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
        }
        out.push_str(text);
        next = block.lines.end;
    }
    out.push_str(&lines[next..].concat());
    out
}
