//! Functions before and after linking.
//!
//! Emission turns one function into [`FunctionCode`]: PVM instructions whose jump targets are
//! labels local to the function, plus [`Item`]s for everything that depends on other functions
//! or on the program's layout (calls, function addresses, jump-table dispatch). The [`Linker`]
//! places functions one after another in one [`CodeBuilder`], gives every local label a label
//! of the builder, and resolves the rest:
//!
//! - a call is `load_imm_and_jump r0, <return address>, <callee>`: the return address is the
//!   jump-table address of the instruction after the call (a basic-block start, as every
//!   dynamic jump target must be), registered in the jump table at link time;
//! - an indirect call is `load_imm_and_jump_indirect r0, <target>, <return address>, 0`;
//! - a function's address (`func_addr`, a table entry) is the jump-table address of its entry,
//!   so `jump_indirect` and the indirect calls above reach it;
//! - a `br_table` dispatch gets consecutive jump-table entries, one per target.
//!
//! Invariant established by [`Linker::finish`]: every referenced symbol is defined, and the
//! builder's own checks hold (targets are block starts, code does not run off its end).

use crate::abi::RA;
use crate::CompileError;
use cranelift_codegen::ir::{ExternalName, Function, UserFuncName};
use pvm_isa::{BuiltCode, CodeBuilder, Flavour, Instruction, Label, Reg};
use std::collections::HashMap;
use std::fmt;

/// A label local to one function's code.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct LocalLabel(u32);

/// A function or data object, as CLIF names it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Symbol {
    /// `ExternalName::User`: a namespace and an index (cranelift-module uses namespace 0 for
    /// functions and 1 for data objects).
    User {
        /// The namespace.
        namespace: u32,
        /// The index.
        index: u32,
    },
    /// `ExternalName::TestCase` (filetests' `%name`).
    Name(String),
}

impl Symbol {
    /// The symbol `name` denotes in `func`, if it names a symbol at all.
    pub fn from_external_name(name: &ExternalName, func: &Function) -> Option<Symbol> {
        match name {
            ExternalName::User(reference) => {
                let user = &func.params.user_named_funcs()[*reference];
                Some(Symbol::User {
                    namespace: user.namespace,
                    index: user.index,
                })
            }
            ExternalName::TestCase(name) => Some(Symbol::Name(name.to_string())),
            ExternalName::LibCall(_) | ExternalName::KnownSymbol(_) => None,
        }
    }

    /// The symbol of `func` itself.
    pub fn of_function(func: &Function) -> Symbol {
        match &func.name {
            UserFuncName::User(user) => Symbol::User {
                namespace: user.namespace,
                index: user.index,
            },
            UserFuncName::Testcase(name) => Symbol::Name(name.to_string()),
        }
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Symbol::User { namespace, index } => write!(f, "u{namespace}:{index}"),
            Symbol::Name(name) => write!(f, "%{name}"),
        }
    }
}

/// One element of a function's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// An instruction.
    Inst(Instruction<LocalLabel>),
    /// Binds a label to the next instruction.
    Bind(LocalLabel),
    /// Calls `callee`; execution continues after this item when it returns.
    Call {
        /// The function called.
        callee: Symbol,
    },
    /// Calls the function whose jump-table address is in `target`.
    CallIndirect {
        /// The register holding the address.
        target: Reg,
    },
    /// Jumps to `callee`, whose return goes to this function's caller.
    TailCall {
        /// The function called.
        callee: Symbol,
    },
    /// `dst = ` the jump-table address of `func`'s entry.
    FuncAddr {
        /// The destination register.
        dst: Reg,
        /// The function.
        func: Symbol,
    },
    /// Jumps to `targets[i]` where `scaled` holds `2 * i` (the index is already bounds-checked).
    JumpTable {
        /// Twice the index.
        scaled: Reg,
        /// The targets, by index.
        targets: Vec<LocalLabel>,
    },
}

/// One function's code, before linking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionCode {
    /// The items, in order; the function's entry is the first.
    pub items: Vec<Item>,
    num_labels: u32,
}

impl FunctionCode {
    /// A fresh local label.
    pub fn new_label(&mut self) -> LocalLabel {
        self.num_labels += 1;
        LocalLabel(self.num_labels - 1)
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }
}

/// Linked code and where each function starts.
#[derive(Debug)]
pub struct LinkedCode {
    /// The code blob and offsets.
    pub code: BuiltCode,
    /// Each function's entry offset, in the order the functions were added.
    pub functions: Vec<(Symbol, u32)>,
}

/// Places functions into one piece of code and resolves references between them.
pub struct Linker {
    builder: CodeBuilder,
    entries: HashMap<Symbol, Label>,
    defined: Vec<(Symbol, Label)>,
    /// Jump-table addresses of function entries, made on first use.
    entry_addresses: HashMap<Symbol, u32>,
}

impl Linker {
    /// An empty program for `flavour`.
    pub fn new(flavour: Flavour) -> Self {
        Linker {
            builder: CodeBuilder::new(flavour),
            entries: HashMap::new(),
            defined: Vec::new(),
            entry_addresses: HashMap::new(),
        }
    }

    fn entry(&mut self, symbol: &Symbol) -> Label {
        if let Some(&label) = self.entries.get(symbol) {
            return label;
        }
        let label = self.builder.new_label();
        self.entries.insert(symbol.clone(), label);
        label
    }

    /// The jump-table address of `symbol`'s entry.
    pub fn function_address(&mut self, symbol: &Symbol) -> u32 {
        if let Some(&address) = self.entry_addresses.get(symbol) {
            return address;
        }
        let entry = self.entry(symbol);
        let address = self.builder.jump_table_entry(entry);
        self.entry_addresses.insert(symbol.clone(), address);
        address
    }

    /// Appends `code` as the definition of `symbol`.
    pub fn add_function(
        &mut self,
        symbol: Symbol,
        code: &FunctionCode,
    ) -> Result<(), CompileError> {
        if self.defined.iter().any(|(s, _)| *s == symbol) {
            return Err(CompileError::Link(format!("{symbol} is defined twice")));
        }
        let entry = self.entry(&symbol);
        self.builder
            .bind(entry)
            .map_err(|e| CompileError::Link(e.to_string()))?;
        self.defined.push((symbol, entry));
        let labels: Vec<Label> = (0..code.num_labels)
            .map(|_| self.builder.new_label())
            .collect();
        let local = |l: LocalLabel| labels[l.0 as usize];
        for item in &code.items {
            match item {
                Item::Inst(inst) => self.builder.push(inst.map_target(local)),
                Item::Bind(label) => self
                    .builder
                    .bind(local(*label))
                    .map_err(|e| CompileError::Link(e.to_string()))?,
                Item::Call { callee } => {
                    let callee = self.entry(callee);
                    let ret = self.return_point();
                    self.builder
                        .push(Instruction::load_imm_and_jump(RA, ret.1, callee));
                    self.bind(ret.0)?;
                }
                Item::CallIndirect { target } => {
                    let ret = self.return_point();
                    self.builder.push(Instruction::load_imm_and_jump_indirect(
                        RA, *target, ret.1, 0,
                    ));
                    self.bind(ret.0)?;
                }
                Item::TailCall { callee } => {
                    let callee = self.entry(callee);
                    self.builder.push(Instruction::jump(callee));
                }
                Item::FuncAddr { dst, func } => {
                    let address = self.function_address(func);
                    self.builder.push(Instruction::load_imm(*dst, address));
                }
                Item::JumpTable { scaled, targets } => {
                    let mut first = None;
                    for &target in targets {
                        let address = self.builder.jump_table_entry(local(target));
                        first.get_or_insert(address);
                    }
                    let first = first
                        .ok_or_else(|| CompileError::Internal("an empty jump table".into()))?;
                    self.builder
                        .push(Instruction::jump_indirect(*scaled, first));
                }
            }
        }
        Ok(())
    }

    /// A label for the instruction after a call, and its jump-table address.
    fn return_point(&mut self) -> (Label, u32) {
        let label = self.builder.new_label();
        let address = self.builder.jump_table_entry(label);
        (label, address)
    }

    fn bind(&mut self, label: Label) -> Result<(), CompileError> {
        self.builder
            .bind(label)
            .map_err(|e| CompileError::Link(e.to_string()))
    }

    /// Lays out the code. Fails if a referenced function was never added.
    pub fn finish(self) -> Result<LinkedCode, CompileError> {
        let mut undefined: Vec<&Symbol> = self
            .entries
            .keys()
            .filter(|symbol| !self.defined.iter().any(|(s, _)| s == *symbol))
            .collect();
        undefined.sort();
        if let Some(symbol) = undefined.first() {
            return Err(CompileError::Link(format!(
                "{symbol} is used but not defined"
            )));
        }
        let code = self
            .builder
            .finish()
            .map_err(|e| CompileError::Link(e.to_string()))?;
        let functions = self
            .defined
            .into_iter()
            .map(|(symbol, label)| {
                let offset = code.label_offset(label).expect("every function is bound");
                (symbol, offset)
            })
            .collect();
        Ok(LinkedCode { code, functions })
    }
}
