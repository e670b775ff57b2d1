//! CLIF input: every function of a `.clif` file compiled and linked into one program, as the
//! filetests do it.
//!
//! A filetest header (`test …`, `target pvm …`, `set …` lines before the first function) is
//! blanked, not removed, before the text goes to cranelift-reader, which does not know
//! `target pvm`: line numbers in errors stay the file's. The flavour comes from the command
//! line, never from the header.
//!
//! Functions are laid out in file order from pc 0, unless `--entry` places some at the entry
//! pcs; nothing is dropped (no dead-function elimination: every function is exported by name).

use pvm_backend::link::{LinkOptions, LinkedProgram, Linker, Symbol};
use pvm_backend::{compile_function_code, Options};
use pvm_isa::PolkavmContainer;

/// One function's intermediate forms.
pub struct Stage {
    /// The function's name (`%name` without the `%`, or `u0:1`).
    pub name: String,
    /// Its CLIF as read.
    pub clif: String,
    /// Its VCode after register allocation.
    pub vcode: String,
}

/// A compiled `.clif` file.
pub struct ClifProgram {
    /// The linked program.
    pub linked: LinkedProgram,
    /// Every function, by name.
    pub exports: Vec<(String, Symbol)>,
    /// The entry points `(entry, function)`.
    pub entries: Vec<(String, String)>,
    /// Each function's stages, in file order.
    pub stages: Vec<Stage>,
}

impl ClifProgram {
    /// The `.polkavm` container exporting every function and entry point by name.
    pub fn polkavm(&self) -> Result<PolkavmContainer, pvm_backend::CompileError> {
        let mut exports = self.exports.clone();
        // An entry named like a function is left out: calls by that name reach the function.
        for (entry, function) in &self.entries {
            let taken = exports.iter().any(|(name, _)| name == entry);
            let symbol = self
                .exports
                .iter()
                .find_map(|(name, symbol)| (name == function).then(|| symbol.clone()));
            if let (false, Some(symbol)) = (taken, symbol) {
                exports.push((entry.clone(), symbol));
            }
        }
        self.linked.polkavm(&exports)
    }
}

/// The symbol's name as exports and `--entry` spell it (`%name` without the `%`).
fn symbol_name(symbol: &Symbol) -> String {
    match symbol {
        Symbol::Name(name) => name.clone(),
        Symbol::User { .. } => symbol.to_string(),
    }
}

/// `text` with its filetest header lines blanked (see the module docs).
fn blank_header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        let first = line.split_whitespace().next();
        if in_header && matches!(first, Some("test" | "target" | "set")) {
            out.extend(line.chars().filter(|&c| c == '\n'));
            continue;
        }
        if first.is_some_and(|w| !w.starts_with(';')) {
            in_header = false;
        }
        out.push_str(line);
    }
    out
}

/// Compiles and links every function of `text`; `entries` are `(entry, function name)`.
pub fn compile(
    text: &str,
    options: &Options,
    entries: &[(String, String)],
    stack_size: u32,
) -> Result<ClifProgram, String> {
    let functions = cranelift_reader::parse_functions(&blank_header(text))
        .map_err(|e| format!("line {}: {}", e.location.line_number, e.message))?;
    if functions.is_empty() {
        return Err("no functions".to_string());
    }
    let mut linker = Linker::with_options(options);
    let mut exports = Vec::new();
    let mut stages = Vec::new();
    for func in &functions {
        let symbol = Symbol::of_function(func);
        let name = symbol_name(&symbol);
        let emitted =
            compile_function_code(func, options).map_err(|e| format!("function {name}: {e}"))?;
        linker
            .add_function(symbol.clone(), &emitted.code)
            .map_err(|e| e.to_string())?;
        stages.push(Stage {
            name: name.clone(),
            clif: func.display().to_string(),
            vcode: emitted.vcode_text,
        });
        exports.push((name, symbol));
    }
    let mut entry_symbols = Vec::new();
    for (entry, function) in entries {
        let function = function.strip_prefix('%').unwrap_or(function);
        let symbol = exports
            .iter()
            .find_map(|(name, symbol)| (name == function).then(|| symbol.clone()))
            .ok_or_else(|| format!("entry `{entry}`: no function `{function}`"))?;
        entry_symbols.push(symbol);
    }
    let linked = linker
        .link(&LinkOptions {
            entries: entry_symbols,
            roots: None,
            stack_size,
            allow_undefined: false,
        })
        .map_err(|e| e.to_string())?;
    let entries = entries
        .iter()
        .map(|(entry, f)| (entry.clone(), f.strip_prefix('%').unwrap_or(f).to_string()))
        .collect();
    Ok(ClifProgram {
        linked,
        exports,
        entries,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_are_blanked_and_line_numbers_kept() {
        let text = "test run\ntarget pvm\n; c\nset opt_level=speed\nfunction %f() {\n\
                    block0:\n    return\n}\n; run: test\n";
        assert_eq!(
            blank_header(text),
            "\n\n; c\n\nfunction %f() {\nblock0:\n    return\n}\n; run: test\n"
        );
    }
}
