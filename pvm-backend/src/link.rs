//! Functions and data before and after linking.
//!
//! Emission turns one function into [`FunctionCode`]: PVM instructions whose jump targets are
//! labels local to the function, plus [`Item`]s for everything that depends on other functions
//! or on the program's layout (calls, function and data addresses, jump-table dispatch). The
//! [`Linker`] collects functions and [`DataObject`]s under their [`Symbol`]s and links them into
//! one [`LinkedProgram`]:
//!
//! 0. **Runtime routines.** A call of a soft-float routine (`u101:N`, see [`crate::softfloat`])
//!    that nothing added defines is resolved by adding the routine's code, compiled by this
//!    backend (but not with [`LinkOptions::allow_undefined`]); a program that uses no floats
//!    gets none of it.
//! 1. **What is kept.** With [`LinkOptions::roots`], only what the roots and the entry points
//!    reach: through calls, tail calls, function and data addresses in code, and relocations in
//!    data. Without, everything added.
//! 2. **Data** goes into the regions of the GP's standard program (SPI), each object at its
//!    alignment, in the order added: read-only objects from [`RO_DATA_START`]; writable ones from
//!    `rw_start` = 2·Z_Z + Z(|o|), those with contents first and zero-filled ones after them,
//!    so that the zero tail is heap pages (`z`) rather than bytes in the program (trailing zero
//!    bytes of the writable data are left out the same way).
//! 3. **Code**: the entry points first (below), then every other kept function in the order
//!    added, each placed whole into one [`CodeBuilder`], its local labels mapped to labels of
//!    the builder:
//!    - a call is `load_imm_and_jump r0, <return address>, <callee>`: the return address is the
//!      jump-table address of the instruction after the call (a basic-block start, as every
//!      dynamic jump target must be), registered in the jump table at link time;
//!    - an indirect call is `load_imm_and_jump_indirect r0, <target>, <return address>, 0`;
//!    - a function's address (`func_addr`, a table entry, a relocation in data) is the
//!      jump-table address of its entry, so `jump_indirect` and the indirect calls above reach
//!      it; a data object's address is absolute;
//!    - `symbol_value` ([`Item::DataAddr`]) loads the symbol's address plus an addend;
//!    - a `br_table` dispatch gets consecutive jump-table entries, one per target.
//! 4. **Relocations in data** write the target's address plus the addend as
//!    [`DATA_ADDRESS_BYTES`] little-endian bytes into the object.
//!
//! **Entry points** ([`LinkOptions::entries`]): entry `i` starts at pc [`ENTRY_SPACING`]` · i`,
//! as a JAM service blob wants (`refine` at 0, `accumulate` at 5). A single entry function is
//! simply placed first. With several, the code starts with a dispatch table: at pc `5·i` a
//! `jump` and three `trap`s of padding (the last entry's `jump` needs no padding); entry 0's
//! function follows the table, and the others are reached through one more `jump` placed
//! between the table and that function. Every table `jump` but the last therefore spans at most
//! `10 · MAX_ENTRIES` bytes, which a 1-byte offset encodes: each is exactly 2 bytes.
//!
//! **Determinism**: the output depends only on what was added, in which order, and on the
//! options; no hash-map order reaches it.
//!
//! Invariants established by [`Linker::link`]: every reference from kept code or data is
//! defined (or, with [`LinkOptions::allow_undefined`], a stub that traps); entry `i` is at pc
//! `5·i`; the builder's own checks hold (targets are block starts, code does not run off its
//! end); the program fits the SPI's fields and address space, so writing it into any container
//! succeeds.

use crate::abi::RA;
use crate::softfloat::{Routine, RUNTIME_NAMESPACE};
use crate::{CompileError, Options};
use cranelift_codegen::ir::{ExternalName, Function, UserFuncName};
use pvm_isa::{
    page_align, zone_align, BuiltCode, CodeBuilder, Export, Flavour, Instruction, Label,
    PolkavmContainer, Reg, ServiceBlob, StandardProgram, PAGE_SIZE, RO_DATA_START, ZONE_SIZE,
};
use std::collections::{HashMap, HashSet, VecDeque};
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
    /// `ExternalName::TestCase` (filetests' `%name`), without the `%`.
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
            ExternalName::TestCase(name) => Some(Symbol::testcase(name)),
            ExternalName::LibCall(_) | ExternalName::KnownSymbol(_) => None,
        }
    }

    /// The symbol of a test case's name (`TestcaseName` shows itself with a leading `%`,
    /// which [`Symbol::Name`] leaves out).
    fn testcase(name: &impl fmt::Display) -> Symbol {
        let name = name.to_string();
        Symbol::Name(name.strip_prefix('%').unwrap_or(&name).to_owned())
    }

    /// The symbol of `func` itself.
    pub fn of_function(func: &Function) -> Symbol {
        match &func.name {
            UserFuncName::User(user) => Symbol::User {
                namespace: user.namespace,
                index: user.index,
            },
            UserFuncName::Testcase(name) => Symbol::testcase(name),
        }
    }
}

/// CLIF's spelling (`u0:3`, `%name`); a soft-float routine also shows its name
/// (`u101:22 (f64_add)`).
impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(routine) = Routine::of_symbol(self) {
            return write!(f, "u{RUNTIME_NAMESPACE}:{} ({routine})", routine.index());
        }
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
    /// `dst = ` the address of `symbol` plus `addend`: a data object's absolute address, or a
    /// function's jump-table address.
    DataAddr {
        /// The destination register.
        dst: Reg,
        /// The data object (or function).
        symbol: Symbol,
        /// Added to the address.
        addend: i64,
    },
    /// Jumps to `targets[i]` where `scaled` holds `2 * i` (the index is already bounds-checked).
    JumpTable {
        /// Twice the index.
        scaled: Reg,
        /// The targets, by index.
        targets: Vec<LocalLabel>,
    },
}

impl Item {
    /// The symbol the item refers to, if any.
    pub fn reference(&self) -> Option<&Symbol> {
        match self {
            Item::Call { callee } | Item::TailCall { callee } => Some(callee),
            Item::FuncAddr { func, .. } => Some(func),
            Item::DataAddr { symbol, .. } => Some(symbol),
            Item::Inst(_) | Item::Bind(_) | Item::CallIndirect { .. } | Item::JumpTable { .. } => {
                None
            }
        }
    }
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

    /// The symbols the code refers to, in order, with repeats.
    pub fn references(&self) -> impl Iterator<Item = &Symbol> {
        self.items.iter().filter_map(Item::reference)
    }
}

/// How many bytes a relocation in data writes: addresses are 64-bit values, as the backend's
/// pointer type is `i64`.
pub const DATA_ADDRESS_BYTES: u32 = 8;

/// The distance between the pcs of consecutive entry points.
pub const ENTRY_SPACING: u32 = 5;

/// The most entry points a program can have (see the module documentation).
pub const MAX_ENTRIES: usize = 12;

/// A data object's initial contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataContents {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many zero bytes.
    Zeros(u32),
}

impl DataContents {
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            DataContents::Bytes(bytes) => bytes.len() as u64,
            DataContents::Zeros(size) => u64::from(*size),
        }
    }

    /// Whether the object has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An address written into a data object at link time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataReloc {
    /// Where, in bytes from the object's start; [`DATA_ADDRESS_BYTES`] bytes are written.
    pub offset: u32,
    /// A data object (its absolute address) or a function (its jump-table address).
    pub target: Symbol,
    /// Added to the address.
    pub addend: i64,
}

/// A data object: contents, placement and the addresses to write into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataObject {
    /// The initial contents.
    pub contents: DataContents,
    /// Whether the program may write it (writable data region) or not (read-only region).
    pub writable: bool,
    /// The alignment of its address, in bytes: a power of two.
    pub align: u32,
    /// Addresses to write into it.
    pub relocs: Vec<DataReloc>,
}

impl DataObject {
    /// Read-only `bytes`, unaligned, without relocations.
    pub fn read_only(bytes: impl Into<Vec<u8>>) -> Self {
        DataObject {
            contents: DataContents::Bytes(bytes.into()),
            writable: false,
            align: 1,
            relocs: Vec::new(),
        }
    }

    /// Writable `bytes`, unaligned, without relocations.
    pub fn writable(bytes: impl Into<Vec<u8>>) -> Self {
        DataObject {
            writable: true,
            ..DataObject::read_only(bytes)
        }
    }

    /// `size` writable zero bytes, unaligned.
    pub fn zeroed(size: u32) -> Self {
        DataObject {
            contents: DataContents::Zeros(size),
            writable: true,
            align: 1,
            relocs: Vec::new(),
        }
    }

    /// The same object aligned to `align` bytes.
    pub fn with_align(self, align: u32) -> Self {
        DataObject { align, ..self }
    }

    /// The same object with `target`'s address plus `addend` written at `offset`.
    pub fn with_reloc(mut self, offset: u32, target: Symbol, addend: i64) -> Self {
        self.relocs.push(DataReloc {
            offset,
            target,
            addend,
        });
        self
    }

    /// Whether the object needs bytes in the program (rather than zeroed pages).
    fn has_contents(&self) -> bool {
        matches!(self.contents, DataContents::Bytes(_)) || !self.relocs.is_empty()
    }

    fn bytes(&self) -> Vec<u8> {
        match &self.contents {
            DataContents::Bytes(bytes) => bytes.clone(),
            DataContents::Zeros(size) => vec![0; *size as usize],
        }
    }
}

/// What to link and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkOptions {
    /// Functions that must start at pcs 0, 5, 10 …, in order (see the module documentation);
    /// at most [`MAX_ENTRIES`]. Empty: functions are laid out from pc 0 in the order added.
    pub entries: Vec<Symbol>,
    /// `Some`: keep only what these symbols and the entry points reach (dead-function
    /// elimination). `None`: keep every function and data object added.
    pub roots: Option<Vec<Symbol>>,
    /// The program's stack size in bytes (`s` of the SPI).
    pub stack_size: u32,
    /// Resolve symbols that are used but not defined to stubs that trap, placed after every
    /// function, instead of failing. Meant for compiling one function on its own: the
    /// soft-float routines it calls are left out (stubs) as well.
    pub allow_undefined: bool,
}

/// A linked program: code, data and where each symbol ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedProgram {
    /// The instruction-set flavour.
    pub flavour: Flavour,
    /// The code, with the offset of every instruction.
    pub code: BuiltCode,
    /// Each kept function's entry offset (its pc), in layout order.
    pub functions: Vec<(Symbol, u32)>,
    /// Each kept data object's address, in layout order (read-only objects first).
    pub data: Vec<(Symbol, u32)>,
    /// The program as the SPI lays it out (its code is `code.blob`).
    pub program: StandardProgram,
}

impl LinkedProgram {
    /// The pc of `symbol`'s entry, if it is a kept function.
    pub fn function_pc(&self, symbol: &Symbol) -> Option<u32> {
        lookup(&self.functions, symbol)
    }

    /// The address of `symbol`, if it is a kept data object.
    pub fn data_address(&self, symbol: &Symbol) -> Option<u32> {
        lookup(&self.data, symbol)
    }

    /// The program as a JAM service (or authorizer) code blob with `metadata`; its entry points
    /// are the ones given in [`LinkOptions::entries`].
    pub fn service_blob(&self, metadata: impl Into<Vec<u8>>) -> ServiceBlob {
        ServiceBlob {
            metadata: metadata.into(),
            program: self.program.clone(),
        }
    }

    /// The program as a `.polkavm` container exporting each `(name, function)` pair.
    pub fn polkavm(&self, exports: &[(String, Symbol)]) -> Result<PolkavmContainer, CompileError> {
        let exports = exports
            .iter()
            .map(|(name, symbol)| {
                let pc = self.function_pc(symbol).ok_or_else(|| {
                    CompileError::Link(format!("export `{name}`: {symbol} is not a kept function"))
                })?;
                Ok(Export {
                    pc,
                    name: name.clone(),
                })
            })
            .collect::<Result<_, CompileError>>()?;
        Ok(PolkavmContainer {
            flavour: self.flavour,
            program: self.program.clone(),
            imports: Vec::new(),
            exports,
        })
    }
}

fn lookup(table: &[(Symbol, u32)], symbol: &Symbol) -> Option<u32> {
    table
        .iter()
        .find_map(|(s, value)| (s == symbol).then_some(*value))
}

/// What a symbol is defined as: an index into the linker's functions or data objects.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Definition {
    Function(usize),
    Data(usize),
}

/// Collects functions and data objects, then links them into one program.
pub struct Linker {
    flavour: Flavour,
    /// What the soft-float routines are compiled for (see [`Routine::code`]).
    routine_options: Options,
    functions: Vec<(Symbol, FunctionCode)>,
    data: Vec<(Symbol, DataObject)>,
    definitions: HashMap<Symbol, Definition>,
    /// Names shown in error messages instead of the symbols' own spelling.
    names: HashMap<Symbol, String>,
}

impl Linker {
    /// An empty program for `flavour`.
    pub fn new(flavour: Flavour) -> Self {
        Linker::with_options(&Options {
            flavour,
            ..Options::default()
        })
    }

    /// An empty program for functions compiled with `options`: their flavour, and the
    /// soft-float routines added to match them (see [`Routine::code`]).
    pub fn with_options(options: &Options) -> Self {
        Linker {
            flavour: options.flavour,
            routine_options: options.clone(),
            functions: Vec::new(),
            data: Vec::new(),
            definitions: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// Names `symbol` as `name` in error messages (cranelift-module's symbols are numbers).
    pub fn set_name(&mut self, symbol: Symbol, name: impl Into<String>) {
        self.names.insert(symbol, name.into());
    }

    fn describe(&self, symbol: &Symbol) -> String {
        match self.names.get(symbol) {
            Some(name) => format!("`{name}`"),
            None => symbol.to_string(),
        }
    }

    fn define(&mut self, symbol: &Symbol, definition: Definition) -> Result<(), CompileError> {
        if self.definitions.contains_key(symbol) {
            return Err(CompileError::Link(format!(
                "{} is defined twice",
                self.describe(symbol)
            )));
        }
        self.definitions.insert(symbol.clone(), definition);
        Ok(())
    }

    /// Adds `code` as the definition of the function `symbol`. Code that uses a label it never
    /// binds is refused here, naming the function (the code builder would only name the label,
    /// once every function is placed).
    pub fn add_function(
        &mut self,
        symbol: Symbol,
        code: &FunctionCode,
    ) -> Result<(), CompileError> {
        let mut bound = vec![false; code.num_labels as usize];
        for item in &code.items {
            if let Item::Bind(label) = item {
                bound[label.0 as usize] = true;
            }
        }
        let unbound = code.items.iter().find_map(|item| match item {
            Item::Inst(inst) => inst.target().copied().filter(|l| !bound[l.0 as usize]),
            Item::JumpTable { targets, .. } => {
                targets.iter().copied().find(|l| !bound[l.0 as usize])
            }
            _ => None,
        });
        if let Some(label) = unbound {
            return Err(CompileError::Internal(format!(
                "{}: local label {} is used but never bound",
                self.describe(&symbol),
                label.0
            )));
        }
        self.define(&symbol, Definition::Function(self.functions.len()))?;
        self.functions.push((symbol, code.clone()));
        Ok(())
    }

    /// Adds `data` as the definition of the data object `symbol`.
    pub fn add_data(&mut self, symbol: Symbol, data: DataObject) -> Result<(), CompileError> {
        let bad = |why: String| CompileError::Link(format!("{}: {why}", self.describe(&symbol)));
        if !data.align.is_power_of_two() {
            return Err(bad(format!(
                "alignment {} is not a power of two",
                data.align
            )));
        }
        let size = data.contents.len();
        for reloc in &data.relocs {
            if u64::from(reloc.offset) + u64::from(DATA_ADDRESS_BYTES) > size {
                return Err(bad(format!(
                    "a relocation at offset {} does not fit in {size} bytes",
                    reloc.offset
                )));
            }
        }
        self.define(&symbol, Definition::Data(self.data.len()))?;
        self.data.push((symbol, data));
        Ok(())
    }

    /// Links everything added, with no entry points, no stack and no undefined symbols.
    pub fn finish(self) -> Result<LinkedProgram, CompileError> {
        self.link(&LinkOptions::default())
    }

    /// Adds the soft-float routines (`crate::softfloat`) that the functions added so far
    /// refer to and do not define, and those the routines refer to, each after the functions
    /// before it (so the order depends only on what was added).
    fn add_routines(&mut self) -> Result<(), CompileError> {
        let mut next = 0;
        while next < self.functions.len() {
            let wanted: Vec<Routine> = self.functions[next]
                .1
                .references()
                .filter_map(Routine::of_symbol)
                .collect();
            for routine in wanted {
                let symbol = routine.symbol();
                if !self.definitions.contains_key(&symbol) {
                    self.set_name(symbol.clone(), routine.to_string());
                    let code = routine.code(&self.routine_options)?;
                    self.add_function(symbol, &code)?;
                }
            }
            next += 1;
        }
        Ok(())
    }

    /// Links the program as `options` say. The soft-float routines the code calls are added
    /// first (unless [`LinkOptions::allow_undefined`]).
    pub fn link(mut self, options: &LinkOptions) -> Result<LinkedProgram, CompileError> {
        if !options.allow_undefined {
            self.add_routines()?;
        }
        let link_error = |message: String| CompileError::Link(message);
        if options.entries.len() > MAX_ENTRIES {
            return Err(link_error(format!(
                "{} entry points, at most {MAX_ENTRIES} are supported",
                options.entries.len()
            )));
        }
        for entry in &options.entries {
            if !matches!(self.definitions.get(entry), Some(Definition::Function(_))) {
                return Err(link_error(format!(
                    "entry point {} is not a defined function",
                    self.describe(entry)
                )));
            }
        }
        let kept = self.reachable(options)?;
        let mut data = self.layout_data(&kept)?;
        let data_addresses = std::mem::take(&mut data.addresses);
        let mut placer = Placer {
            linker: &self,
            builder: CodeBuilder::new(self.flavour),
            entries: HashMap::new(),
            addresses: HashMap::new(),
            data: &data_addresses,
            stubs: &kept.stubs,
        };
        let slots = placer.dispatch(&options.entries)?;
        // Entry 0 comes first (right after the dispatch table, if any); every other kept
        // function, the other entries included, follows in the order added.
        let first = options
            .entries
            .first()
            .and_then(|entry| match self.definitions.get(entry) {
                Some(&Definition::Function(index)) => Some(index),
                _ => None,
            });
        let order: Vec<usize> = first
            .into_iter()
            .chain((0..self.functions.len()).filter(|&i| kept.functions[i] && Some(i) != first))
            .collect();
        let mut function_labels = Vec::new();
        for &index in &order {
            let (symbol, code) = &self.functions[index];
            let entry = placer.entry(symbol)?;
            placer.bind(entry)?;
            placer.place(code)?;
            function_labels.push((symbol.clone(), entry));
        }
        for stub in &kept.stubs {
            let entry = placer.entry(stub)?;
            placer.bind(entry)?;
            placer.builder.push(Instruction::trap());
        }
        // polkavm refuses a program without instructions (its validator decodes pc 0 as
        // invalid), so a program with no function (a data-only wasm module) gets a `trap`.
        if order.is_empty() && kept.stubs.is_empty() && slots.is_empty() {
            placer.builder.push(Instruction::trap());
        }
        data.write_relocs(&self, &mut placer)?;
        let code = placer
            .builder
            .finish()
            .map_err(|e| link_error(e.to_string()))?;
        for (index, slot) in slots.into_iter().enumerate() {
            let expected = ENTRY_SPACING * index as u32;
            if code.label_offset(slot) != Some(expected) {
                return Err(CompileError::Internal(format!(
                    "entry point {index} is not at pc {expected}"
                )));
            }
        }
        let functions = function_labels
            .into_iter()
            .map(|(symbol, label)| {
                let pc = code.label_offset(label).ok_or_else(|| {
                    CompileError::Internal(format!("{symbol} has no instructions"))
                })?;
                Ok((symbol, pc))
            })
            .collect::<Result<_, CompileError>>()?;
        let program = data.program(code.blob.clone(), options.stack_size)?;
        Ok(LinkedProgram {
            flavour: self.flavour,
            code,
            functions,
            data: data.order,
            program,
        })
    }

    /// Which functions and data objects are kept, and the undefined symbols to stub.
    fn reachable(&self, options: &LinkOptions) -> Result<Kept, CompileError> {
        let mut kept = Kept {
            functions: vec![options.roots.is_none(); self.functions.len()],
            data: vec![options.roots.is_none(); self.data.len()],
            stubs: Vec::new(),
        };
        let mut queue: VecDeque<&Symbol> = VecDeque::new();
        match &options.roots {
            None => {
                queue.extend(self.functions.iter().flat_map(|(_, f)| f.references()));
                queue.extend(
                    self.data
                        .iter()
                        .flat_map(|(_, d)| d.relocs.iter().map(|r| &r.target)),
                );
            }
            Some(roots) => {
                for root in roots {
                    if !self.definitions.contains_key(root) {
                        return Err(CompileError::Link(format!(
                            "root {} is not defined",
                            self.describe(root)
                        )));
                    }
                }
                queue.extend(options.entries.iter().chain(roots));
            }
        }
        let mut seen: HashSet<&Symbol> = HashSet::new();
        while let Some(symbol) = queue.pop_front() {
            if !seen.insert(symbol) {
                continue;
            }
            match self.definitions.get(symbol) {
                Some(&Definition::Function(index)) => {
                    if !kept.functions[index] {
                        kept.functions[index] = true;
                        queue.extend(self.functions[index].1.references());
                    }
                }
                Some(&Definition::Data(index)) => {
                    if !kept.data[index] {
                        kept.data[index] = true;
                        queue.extend(self.data[index].1.relocs.iter().map(|r| &r.target));
                    }
                }
                None if options.allow_undefined => kept.stubs.push(symbol.clone()),
                None => {
                    return Err(CompileError::Link(format!(
                        "{} is used but not defined",
                        self.describe(symbol)
                    )))
                }
            }
        }
        Ok(kept)
    }

    /// Places the kept data objects and gives each its address.
    fn layout_data(&self, kept: &Kept) -> Result<DataLayout, CompileError> {
        let mut layout = DataLayout::default();
        let kept_data = || {
            self.data
                .iter()
                .enumerate()
                .filter(|&(index, _)| kept.data[index])
        };
        for (index, (symbol, object)) in kept_data().filter(|(_, (_, d))| !d.writable) {
            let offset = align_from(RO_DATA_START, layout.ro.len() as u64, object.align);
            layout.ro.resize(offset as usize, 0);
            layout.ro.extend(object.bytes());
            layout.place(symbol, index, Region::ReadOnly, RO_DATA_START, offset)?;
        }
        let rw_start = 2 * u64::from(ZONE_SIZE) + zone_align(layout.ro.len() as u64);
        let rw_start = u32::try_from(rw_start).map_err(|_| too_large("the read-only data"))?;
        let writable = || kept_data().filter(|(_, (_, d))| d.writable);
        for (index, (symbol, object)) in writable().filter(|(_, (_, d))| d.has_contents()) {
            let offset = align_from(rw_start, layout.rw.len() as u64, object.align);
            layout.rw.resize(offset as usize, 0);
            layout.rw.extend(object.bytes());
            layout.place(symbol, index, Region::Writable, rw_start, offset)?;
        }
        layout.rw_size = layout.rw.len() as u64;
        for (index, (symbol, object)) in writable().filter(|(_, (_, d))| !d.has_contents()) {
            let offset = align_from(rw_start, layout.rw_size, object.align);
            layout.rw_size = offset + object.contents.len();
            layout.place(symbol, index, Region::Writable, rw_start, offset)?;
        }
        Ok(layout)
    }
}

/// `base + offset` rounded up to a multiple of `align`, as an offset from `base`.
fn align_from(base: u32, offset: u64, align: u32) -> u64 {
    let base = u64::from(base);
    (base + offset).next_multiple_of(u64::from(align)) - base
}

fn too_large(what: &str) -> CompileError {
    CompileError::Link(format!(
        "{what} does not fit in the program's 32-bit address space"
    ))
}

/// The outcome of dead-function elimination.
struct Kept {
    /// Whether each function (by index of addition) is kept.
    functions: Vec<bool>,
    /// Whether each data object is kept.
    data: Vec<bool>,
    /// Symbols used but not defined, in the order found.
    stubs: Vec<Symbol>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Region {
    ReadOnly,
    Writable,
}

/// Where the kept data objects go.
#[derive(Default)]
struct DataLayout {
    /// The read-only region's bytes.
    ro: Vec<u8>,
    /// The writable region's initialised bytes.
    rw: Vec<u8>,
    /// The writable region's size, zero-filled objects included.
    rw_size: u64,
    /// Each object's address (taken out while code is placed).
    addresses: HashMap<Symbol, u32>,
    /// Each object's symbol and address, in layout order.
    order: Vec<(Symbol, u32)>,
    /// Each placed object with contents: its index, region and offset in the region.
    placed: Vec<(usize, Region, u64)>,
}

impl DataLayout {
    fn place(
        &mut self,
        symbol: &Symbol,
        index: usize,
        region: Region,
        base: u32,
        offset: u64,
    ) -> Result<(), CompileError> {
        let address = u32::try_from(u64::from(base) + offset)
            .map_err(|_| too_large(&format!("data object {symbol}")))?;
        self.addresses.insert(symbol.clone(), address);
        self.order.push((symbol.clone(), address));
        self.placed.push((index, region, offset));
        Ok(())
    }

    /// Writes every relocation of the placed objects.
    fn write_relocs(
        &mut self,
        linker: &Linker,
        placer: &mut Placer<'_>,
    ) -> Result<(), CompileError> {
        for &(index, region, offset) in &self.placed {
            let bytes = match region {
                Region::ReadOnly => &mut self.ro,
                Region::Writable => &mut self.rw,
            };
            for reloc in &linker.data[index].1.relocs {
                let value = i64::from(placer.address(&reloc.target)?).wrapping_add(reloc.addend);
                let at = (offset + u64::from(reloc.offset)) as usize;
                bytes[at..at + DATA_ADDRESS_BYTES as usize].copy_from_slice(&value.to_le_bytes());
            }
        }
        Ok(())
    }

    /// The standard program holding this data and `code`.
    fn program(
        &self,
        code: pvm_isa::CodeBlob,
        stack_size: u32,
    ) -> Result<StandardProgram, CompileError> {
        // Zero bytes at the end of the writable data are zero pages all the same.
        let used = self.rw.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let rw_data = self.rw[..used].to_vec();
        let zero_pages =
            (page_align(self.rw_size) - page_align(used as u64)) / u64::from(PAGE_SIZE);
        let heap_pages = u16::try_from(zero_pages).map_err(|_| {
            CompileError::Link(format!(
                "the zero-filled data needs {zero_pages} pages, more than the SPI's 65535"
            ))
        })?;
        let program = StandardProgram {
            ro_data: self.ro.clone(),
            rw_data,
            heap_pages,
            stack_size,
            code,
        };
        // Writing checks every size field and the layout; a linked program must be writable.
        program
            .to_bytes()
            .map_err(|_| too_large("the program's data, heap and stack"))?;
        Ok(program)
    }
}

/// Places code into the builder and resolves symbols.
struct Placer<'a> {
    linker: &'a Linker,
    builder: CodeBuilder,
    /// Each function's entry label, made on first use.
    entries: HashMap<Symbol, Label>,
    /// Jump-table addresses of function entries, made on first use.
    addresses: HashMap<Symbol, u32>,
    /// Data objects' addresses.
    data: &'a HashMap<Symbol, u32>,
    stubs: &'a [Symbol],
}

impl Placer<'_> {
    fn is_function(&self, symbol: &Symbol) -> bool {
        matches!(
            self.linker.definitions.get(symbol),
            Some(Definition::Function(_))
        ) || self.stubs.contains(symbol)
    }

    /// The entry label of the function `symbol`.
    fn entry(&mut self, symbol: &Symbol) -> Result<Label, CompileError> {
        if !self.is_function(symbol) {
            return Err(CompileError::Link(format!(
                "{} is called or jumped to but is not a function",
                self.linker.describe(symbol)
            )));
        }
        if let Some(&label) = self.entries.get(symbol) {
            return Ok(label);
        }
        let label = self.builder.new_label();
        self.entries.insert(symbol.clone(), label);
        Ok(label)
    }

    /// The address of `symbol`: absolute for data, the entry's jump-table address for a
    /// function.
    fn address(&mut self, symbol: &Symbol) -> Result<u32, CompileError> {
        if let Some(&address) = self.data.get(symbol) {
            return Ok(address);
        }
        if let Some(&address) = self.addresses.get(symbol) {
            return Ok(address);
        }
        let entry = self.entry(symbol)?;
        let address = self.builder.jump_table_entry(entry);
        self.addresses.insert(symbol.clone(), address);
        Ok(address)
    }

    fn bind(&mut self, label: Label) -> Result<(), CompileError> {
        self.builder
            .bind(label)
            .map_err(|e| CompileError::Link(e.to_string()))
    }

    /// A label for the instruction after a call, and its jump-table address.
    fn return_point(&mut self) -> (Label, u32) {
        let label = self.builder.new_label();
        let address = self.builder.jump_table_entry(label);
        (label, address)
    }

    /// The dispatch table for `entries` (see the module documentation); returns the label of
    /// each entry's first instruction.
    fn dispatch(&mut self, entries: &[Symbol]) -> Result<Vec<Label>, CompileError> {
        let Some((last, others)) = entries.split_last() else {
            return Ok(Vec::new());
        };
        if others.is_empty() {
            // The one entry function is placed first: its entry label is the slot.
            return Ok(vec![self.entry(last)?]);
        }
        let mut slots = Vec::new();
        let mut trampolines = Vec::new();
        for (index, symbol) in others.iter().enumerate() {
            let target = if index == 0 {
                self.entry(symbol)?
            } else {
                let trampoline = self.builder.new_label();
                trampolines.push((trampoline, symbol));
                trampoline
            };
            slots.push(self.builder.bind_new());
            self.builder.push(Instruction::jump(target));
            for _ in 0..3 {
                self.builder.push(Instruction::trap());
            }
        }
        slots.push(self.builder.bind_new());
        let last = self.entry(last)?;
        self.builder.push(Instruction::jump(last));
        for (trampoline, symbol) in trampolines {
            self.bind(trampoline)?;
            let entry = self.entry(symbol)?;
            self.builder.push(Instruction::jump(entry));
        }
        Ok(slots)
    }

    /// Appends one function's code.
    fn place(&mut self, code: &FunctionCode) -> Result<(), CompileError> {
        let labels: Vec<Label> = (0..code.num_labels)
            .map(|_| self.builder.new_label())
            .collect();
        let local = |l: LocalLabel| labels[l.0 as usize];
        for item in &code.items {
            match item {
                Item::Inst(inst) => self.builder.push(inst.map_target(local)),
                Item::Bind(label) => self.bind(local(*label))?,
                Item::Call { callee } => {
                    let callee = self.entry(callee)?;
                    let (ret, address) = self.return_point();
                    self.builder
                        .push(Instruction::load_imm_and_jump(RA, address, callee));
                    self.bind(ret)?;
                }
                Item::CallIndirect { target } => {
                    let (ret, address) = self.return_point();
                    self.builder.push(Instruction::load_imm_and_jump_indirect(
                        RA, *target, address, 0,
                    ));
                    self.bind(ret)?;
                }
                Item::TailCall { callee } => {
                    let callee = self.entry(callee)?;
                    self.builder.push(Instruction::jump(callee));
                }
                Item::FuncAddr { dst, func } => {
                    self.entry(func)?;
                    let address = self.address(func)?;
                    self.builder.push(Instruction::load_imm(*dst, address));
                }
                Item::DataAddr {
                    dst,
                    symbol,
                    addend,
                } => {
                    let value = i64::from(self.address(symbol)?).wrapping_add(*addend);
                    self.builder.push(load_const(*dst, value));
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
}

/// `dst = value`, by the shortest instruction.
fn load_const(dst: Reg, value: i64) -> Instruction<Label> {
    if value == i64::from(value as i32) {
        Instruction::load_imm(dst, value as u32)
    } else {
        Instruction::load_imm64(dst, value as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvm_isa::{disassemble, jump_table_address};

    fn name(name: &str) -> Symbol {
        Symbol::Name(name.into())
    }

    /// A function of `items` followed by a return.
    fn function(items: Vec<Item>) -> FunctionCode {
        let mut code = FunctionCode::default();
        for item in items {
            code.push(item);
        }
        code.push(Item::Inst(Instruction::jump_indirect(RA, 0)));
        code
    }

    fn call(callee: &str) -> Item {
        Item::Call {
            callee: name(callee),
        }
    }

    fn data_addr(symbol: &str, addend: i64) -> Item {
        Item::DataAddr {
            dst: Reg::R7,
            symbol: name(symbol),
            addend,
        }
    }

    /// `main` calls `leaf` and takes the address of `table`, whose relocation points at
    /// `via_data`; `dead` is reached by nothing.
    fn sample() -> Linker {
        let mut linker = Linker::new(Flavour::JamV1);
        let main = function(vec![call("leaf"), data_addr("table", 8)]);
        linker.add_function(name("main"), &main).unwrap();
        linker
            .add_function(name("dead"), &function(vec![call("leaf")]))
            .unwrap();
        linker
            .add_function(name("leaf"), &function(vec![]))
            .unwrap();
        linker
            .add_function(name("via_data"), &function(vec![]))
            .unwrap();
        let table = DataObject::read_only([0xAA; 16]).with_reloc(0, name("via_data"), 0);
        linker.add_data(name("table"), table).unwrap();
        linker
            .add_data(name("unused"), DataObject::read_only([1, 2, 3]))
            .unwrap();
        linker
    }

    fn names(table: &[(Symbol, u32)]) -> Vec<String> {
        table.iter().map(|(s, _)| s.to_string()).collect()
    }

    #[test]
    fn only_what_the_roots_reach_is_kept() {
        let options = LinkOptions {
            roots: Some(vec![name("main")]),
            ..LinkOptions::default()
        };
        let linked = sample().link(&options).unwrap();
        assert_eq!(names(&linked.functions), ["%main", "%leaf", "%via_data"]);
        assert_eq!(names(&linked.data), ["%table"]);
        assert_eq!(linked.function_pc(&name("dead")), None);
        assert_eq!(linked.program.ro_data.len(), 16);

        let everything = sample().finish().unwrap();
        assert_eq!(
            names(&everything.functions),
            ["%main", "%dead", "%leaf", "%via_data"]
        );
        assert_eq!(names(&everything.data), ["%table", "%unused"]);
    }

    #[test]
    fn calls_and_addresses_resolve() {
        let options = LinkOptions {
            roots: Some(vec![name("main")]),
            ..LinkOptions::default()
        };
        let linked = sample().link(&options).unwrap();
        // Jump-table entry 0 (address 2) is the return point of the call, after the 4-byte
        // `load_imm_and_jump`; entry 1 is `via_data`, whose address `table` holds.
        assert_eq!(
            disassemble(&linked.program.code, Flavour::JamV1),
            ".jump_table @4, @13\n     \
             0: load_imm_and_jump r0, 2, @11\n     \
             4: load_imm r7, 0x10008\n     \
             9: jump_indirect r0, 0\n    \
             11: jump_indirect r0, 0\n    \
             13: jump_indirect r0, 0\n"
        );
        assert_eq!(linked.function_pc(&name("leaf")), Some(11));
        assert_eq!(linked.function_pc(&name("via_data")), Some(13));
        let table = linked.data_address(&name("table")).unwrap();
        assert_eq!(table, RO_DATA_START);
        let mut expected = u64::from(jump_table_address(1)).to_le_bytes().to_vec();
        expected.extend([0xAA; 8]);
        assert_eq!(linked.program.ro_data, expected);
    }

    #[test]
    fn data_goes_into_the_spi_regions() {
        let mut linker = Linker::new(Flavour::JamV1);
        let main = function(vec![data_addr("zeros", 0), data_addr("ro", -1)]);
        linker.add_function(name("main"), &main).unwrap();
        linker
            .add_data(name("ro"), DataObject::read_only([7; 3]))
            .unwrap();
        let zeros = DataObject::zeroed(3 * PAGE_SIZE + 1).with_align(8);
        linker.add_data(name("zeros"), zeros).unwrap();
        // Points at `ro` + 1 and at itself; written although its last bytes are zero.
        let rw = DataObject::writable([0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .with_align(16)
            .with_reloc(0, name("ro"), 1);
        linker
            .add_data(name("rw"), rw.with_reloc(10, name("rw"), 0))
            .unwrap();
        let linked = linker
            .link(&LinkOptions {
                stack_size: 4096,
                ..LinkOptions::default()
            })
            .unwrap();
        let layout = linked.program.layout().unwrap();
        assert_eq!(layout.rw_start, 0x30000);
        // Writable objects with contents first, then zero-filled ones, each aligned.
        assert_eq!(
            linked.data,
            [
                (name("ro"), 0x10000),
                (name("rw"), 0x30000),
                (name("zeros"), 0x30018),
            ]
        );
        let mut rw = 0x10001u64.to_le_bytes().to_vec();
        rw.extend([5, 0]);
        rw.extend(0x30000u64.to_le_bytes());
        // The object's last zero bytes are left to the zero pages.
        while rw.last() == Some(&0) {
            rw.pop();
        }
        assert_eq!(linked.program.rw_data, rw);
        // 0x18 + 3 pages + 1 byte of zeros: 4 pages in all, one of them holding `rw_data`.
        assert_eq!(linked.program.heap_pages, 3);
        assert_eq!(linked.program.stack_size, 4096);
        let text = disassemble(&linked.program.code, Flavour::JamV1);
        assert!(text.contains("load_imm r7, 0x30018\n"), "{text}");
        assert!(text.contains("load_imm r7, 65535\n"), "{text}");
    }

    #[test]
    fn entry_points_are_five_bytes_apart() {
        for entries in 1..=MAX_ENTRIES {
            let mut linker = Linker::new(Flavour::JamV1);
            let symbols: Vec<Symbol> = (0..entries).map(|i| name(&format!("e{i}"))).collect();
            // A long function first, so that later entries are far away.
            let long = function(vec![Item::Inst(Instruction::load_imm64(Reg::R2, 1)); 40]);
            linker.add_function(name("long"), &long).unwrap();
            for symbol in symbols.iter().rev() {
                linker
                    .add_function(symbol.clone(), &function(vec![]))
                    .unwrap();
            }
            let options = LinkOptions {
                entries: symbols.clone(),
                roots: Some(vec![name("long")]),
                ..LinkOptions::default()
            };
            let linked = linker.link(&options).unwrap();
            let code = &linked.program.code;
            for (i, symbol) in symbols.iter().enumerate() {
                let pc = ENTRY_SPACING * i as u32;
                let entry = linked.function_pc(symbol).unwrap();
                if entries == 1 {
                    assert_eq!(entry, 0);
                    continue;
                }
                // The slot jumps to the function, directly or through one more jump.
                let jump =
                    |at: u32| match pvm_isa::decode(&code.code, at, code.skip(at), Flavour::JamV1)
                        .unwrap()
                        .args()
                    {
                        pvm_isa::Args::Offset(target) => *target,
                        other => panic!("{other:?} at {at}"),
                    };
                let target = jump(pc);
                let target = if target == entry {
                    target
                } else {
                    jump(target)
                };
                assert_eq!(target, entry, "entry {i} of {entries}");
            }
        }
    }

    #[test]
    fn linking_is_deterministic() {
        let bytes = || {
            let options = LinkOptions {
                entries: vec![name("main")],
                roots: Some(vec![name("leaf")]),
                stack_size: 8192,
                allow_undefined: false,
            };
            sample().link(&options).unwrap().program.to_bytes().unwrap()
        };
        let first = bytes();
        for _ in 0..10 {
            assert_eq!(bytes(), first);
        }
    }

    #[test]
    fn errors_name_the_symbol() {
        let error =
            |linker: Linker, options: &LinkOptions| linker.link(options).unwrap_err().to_string();
        let mut linker = Linker::new(Flavour::JamV1);
        linker
            .add_function(name("f"), &function(vec![call("g")]))
            .unwrap();
        assert_eq!(
            error(linker, &LinkOptions::default()),
            "link error: %g is used but not defined"
        );

        let mut linker = Linker::new(Flavour::JamV1);
        linker.add_function(name("f"), &function(vec![])).unwrap();
        let again = linker.add_function(name("f"), &function(vec![]));
        assert_eq!(
            again.unwrap_err().to_string(),
            "link error: %f is defined twice"
        );
        let data = linker.add_data(name("f"), DataObject::read_only([0]));
        assert_eq!(
            data.unwrap_err().to_string(),
            "link error: %f is defined twice"
        );

        let mut linker = Linker::new(Flavour::JamV1);
        linker.set_name(name("d"), "my_data");
        linker
            .add_data(name("d"), DataObject::read_only([0]))
            .unwrap();
        linker
            .add_function(name("f"), &function(vec![call("d")]))
            .unwrap();
        assert_eq!(
            error(linker, &LinkOptions::default()),
            "link error: `my_data` is called or jumped to but is not a function"
        );

        let mut linker = Linker::new(Flavour::JamV1);
        let bad = DataObject::read_only([0; 8]).with_reloc(1, name("x"), 0);
        assert_eq!(
            linker.add_data(name("d"), bad).unwrap_err().to_string(),
            "link error: %d: a relocation at offset 1 does not fit in 8 bytes"
        );
        let bad = DataObject::read_only([0]).with_align(3);
        assert_eq!(
            linker.add_data(name("d"), bad).unwrap_err().to_string(),
            "link error: %d: alignment 3 is not a power of two"
        );
        linker
            .add_data(name("d"), DataObject::read_only([0]))
            .unwrap();
        let entries = LinkOptions {
            entries: vec![name("d")],
            ..LinkOptions::default()
        };
        assert_eq!(
            error(linker, &entries),
            "link error: entry point %d is not a defined function"
        );

        let roots = LinkOptions {
            roots: Some(vec![name("nothing")]),
            ..LinkOptions::default()
        };
        assert_eq!(
            error(Linker::new(Flavour::JamV1), &roots),
            "link error: root %nothing is not defined"
        );
    }

    #[test]
    fn undefined_functions_can_be_stubs() {
        let mut linker = Linker::new(Flavour::JamV1);
        linker
            .add_function(name("f"), &function(vec![call("g")]))
            .unwrap();
        let options = LinkOptions {
            allow_undefined: true,
            ..LinkOptions::default()
        };
        let linked = linker.link(&options).unwrap();
        assert_eq!(names(&linked.functions), ["%f"]);
        assert_eq!(
            disassemble(&linked.program.code, Flavour::JamV1),
            ".jump_table @4\n     \
             0: load_imm_and_jump r0, 2, @6\n     \
             4: jump_indirect r0, 0\n     \
             6: trap\n"
        );
    }
}
