//! Where a wasm module's state lives in the PVM address space. Every address is fixed at
//! compile time, so code reaches globals, tables and linear memory through constant
//! addresses that fold into load/store immediates.
//!
//! ```text
//! 0x10000  read-only: passive data segments, then passive element segments
//! rw_start (= 2·Z_Z + Z(|ro|)) the state area, 8-byte words:
//!          globals · memory size in pages · per table: size · per data and element
//!          segment: its remaining length (0 once dropped) · table entries
//! base     linear memory (4 KiB aligned), min_pages · 64 KiB, the last thing in the
//!          read/write region: its trailing zero bytes are heap pages, not blob bytes
//! ...      unmapped up to max_pages · 64 KiB past base, then the stack's guard zone
//! ```
//!
//! How `memory.grow` gets pages, per flavour:
//! - jam-v1: the `grow_heap` host call maps pages at the region's end, so pages past the
//!   current size are unmapped and fault; the bounds check compares with the constant
//!   `max_pages · 64 KiB` (no load).
//! - gp-0.7.2: its `sbrk` instruction is not run by polkavm (ReviveV1 lacks it), so the
//!   region is reserved up front: all `max_pages` are heap pages (zero pages cost no blob
//!   bytes), `memory.grow` only moves the size, and the bounds check compares with the current
//!   size in bytes, loaded from the state area.
//!
//! Invariants: `base + max_pages · 64 KiB` ends at least one zone (64 KiB, unmapped)
//! below the stack, so an access the bounds check lets through either hits a mapped page of
//! the current memory or faults; and a table entry is one 8-byte word, `jump-table address |
//! type id << 32` (0 = null, type ids are ≥ 1), the same packing as a `funcref` value.

use crate::module_env::{GlobalInit, ModuleInfo};
use crate::WasmError;
use cranelift_entity::packed_option::ReservedValue;
use cranelift_wasm::FuncIndex;
use pvm_isa::{page_align, zone_align, PAGE_SIZE, RO_DATA_START, STACK_END, ZONE_SIZE};

/// Bytes of a wasm page.
pub const WASM_PAGE: u64 = 1 << 16;

/// Bytes of a table entry (and of a global, whatever its type).
pub const WORD: u32 = 8;

/// A table's place.
#[derive(Clone, Debug)]
pub struct TableLayout {
    /// Address of the word holding its current size.
    pub size_addr: u32,
    /// Address of entry 0.
    pub base: u32,
    /// Its initial size.
    pub min: u32,
    /// Entries reserved: the most it can grow to.
    pub capacity: u32,
    /// Whether its size can change (the module has `table.grow`); else the size is `min`.
    pub growable: bool,
}

/// The linear memory's place.
#[derive(Clone, Debug)]
pub struct MemoryLayout {
    /// Address of byte 0.
    pub base: u32,
    /// Address of the word holding the current size in pages.
    pub pages_addr: u32,
    /// Address of the word holding the current size in bytes.
    pub bytes_addr: u32,
    /// Whether all `max_pages` are mapped from the start (gp-0.7.2, growable memory), so the
    /// bounds check must use the current size.
    pub reserved: bool,
    /// Initial pages.
    pub min_pages: u32,
    /// The most pages `memory.grow` gives.
    pub max_pages: u32,
    /// Whether the module has `memory.grow` (else the size is always `min_pages`).
    pub growable: bool,
    /// The initial contents up to the last non-zero byte.
    pub image: Vec<u8>,
}

impl MemoryLayout {
    /// The bytes a constant bounds check allows: `max_pages` pages when the memory can grow
    /// (pages not yet grown are unmapped and fault), else exactly the memory. Not for a
    /// reserved memory, whose bound is its current size.
    pub fn bound(&self) -> u64 {
        let pages = if self.growable {
            self.max_pages
        } else {
            self.min_pages
        };
        u64::from(pages) * WASM_PAGE
    }
}

/// A passive segment's place: its bytes (read-only) and its remaining-length word.
#[derive(Clone, Copy, Debug)]
pub struct SegmentLayout {
    /// Address of its first byte (or entry).
    pub addr: u32,
    /// Address of the word holding its length (0 once dropped; 0 for active segments).
    pub len_addr: u32,
}

/// A relocation in one of the layout's data images: write `function's jump-table address +
/// addend` at `offset`.
#[derive(Clone, Debug)]
pub struct FuncReloc {
    /// Byte offset in the image.
    pub offset: u32,
    /// The function.
    pub func: FuncIndex,
    /// `type id << 32`.
    pub addend: i64,
}

/// The whole layout.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The read-only image (at `RO_DATA_START`).
    pub ro: Vec<u8>,
    /// Relocations in `ro`.
    pub ro_relocs: Vec<FuncReloc>,
    /// Start of the read/write region.
    pub rw_start: u32,
    /// The state image (at `rw_start`), padded to the memory's base.
    pub state: Vec<u8>,
    /// Relocations in `state`.
    pub state_relocs: Vec<FuncReloc>,
    /// Each global's address.
    pub globals: Vec<u32>,
    /// Each table.
    pub tables: Vec<TableLayout>,
    /// Each data segment (by index).
    pub data: Vec<SegmentLayout>,
    /// Each element segment (by index).
    pub elems: Vec<SegmentLayout>,
    /// The linear memory, if the module has one.
    pub memory: Option<MemoryLayout>,
    /// Why instantiating the module traps (an active segment out of bounds), if it does.
    pub instantiation_trap: Option<String>,
    /// Active data segments kept in the read-only region and copied into memory by the
    /// entry points (`entry::init_function`) instead of being part of the read/write image,
    /// with [`Limits::copy_data`]. The SPI stores the read/write image byte for byte up to its
    /// last non-zero byte: zeros between segments (a C stack placed below the data, say) and
    /// the padding that page-aligns the memory's base. The copies store only the segments'
    /// bytes, and cost each entry a word-by-word copy of them.
    pub data_copies: Vec<DataCopy>,
}

/// Limits the caller sets.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most pages a memory may have (`--max-memory`), whatever the module declares.
    pub max_memory_pages: u32,
    /// Most entries a growable table may have.
    pub max_table_entries: u32,
    /// The program's stack size in bytes.
    pub stack_size: u32,
    /// Map a growable memory's pages up front (see the module docs: gp-0.7.2).
    pub reserve_memory: bool,
    /// Use [`Layout::data_copies`] (only for programs with entry points, which run them).
    pub copy_data: bool,
}

/// An active data segment copied into memory when an entry point starts.
#[derive(Clone, Copy, Debug)]
pub struct DataCopy {
    /// Its bytes' address in the read-only region.
    pub src: u32,
    /// Its offset in linear memory.
    pub offset: u32,
    /// Its length.
    pub len: u32,
}

/// The initial memory image (up to its last non-zero byte) of `info`'s active data segments
/// for a memory of `min_bytes`, and why instantiation traps if a segment is out of bounds.
fn memory_image(info: &ModuleInfo, min_bytes: u64) -> Result<(Vec<u8>, Option<String>), WasmError> {
    let mut image = Vec::new();
    for segment in &info.active_data {
        let Some(offset) = info.segment_offset(segment.base, segment.offset) else {
            return Err(WasmError::Unsupported("a data segment offset".into()));
        };
        let end = offset + segment.bytes.len() as u64;
        if end > min_bytes {
            let why = format!(
                "data segment at {offset} with {} bytes is out of bounds of memory ({min_bytes} bytes)",
                segment.bytes.len()
            );
            return Ok((image, Some(why)));
        }
        if image.len() < end as usize {
            image.resize(end as usize, 0);
        }
        image[offset as usize..end as usize].copy_from_slice(segment.bytes);
    }
    while image.last() == Some(&0) {
        image.pop();
    }
    Ok((image, None))
}

fn align(x: u64, to: u64) -> u64 {
    x.next_multiple_of(to)
}

fn put_word(image: &mut [u8], addr_offset: u32, value: u64) {
    let at = addr_offset as usize;
    image[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Lays `info` out. `grows` says whether the module has `memory.grow` and, per table,
/// `table.grow`.
pub(crate) fn layout(
    info: &ModuleInfo,
    limits: &Limits,
    memory_grows: bool,
    table_grows: &[bool],
) -> Result<Layout, WasmError> {
    let too_large = |what: String| WasmError::Layout(what);

    let (image, data_trap) = match info.memories.first() {
        Some(memory) if memory.minimum <= u64::from(limits.max_memory_pages) => {
            memory_image(info, memory.minimum * WASM_PAGE)?
        }
        _ => (Vec::new(), None),
    };
    let copy_data = limits.copy_data && data_trap.is_none() && !image.is_empty();

    // Read-only: passive data, then passive elements (8-byte aligned), then the active data
    // segments that are copied in.
    let mut ro = Vec::new();
    let mut ro_relocs = Vec::new();
    // Each segment's address and initial length (active segments: 0, they count as dropped).
    let mut data_addrs = vec![(0u32, 0u64); info.data_segments as usize];
    for (index, bytes) in &info.passive_data {
        data_addrs[index.as_u32() as usize] = (RO_DATA_START + ro.len() as u32, bytes.len() as u64);
        ro.extend_from_slice(bytes);
    }
    ro.resize(align(ro.len() as u64, 8) as usize, 0);
    let mut elem_addrs = vec![(0u32, 0u64); info.elem_segments as usize];
    for (index, items) in &info.passive_elems {
        elem_addrs[index.as_u32() as usize] = (RO_DATA_START + ro.len() as u32, items.len() as u64);
        for &func in items.iter() {
            let offset = ro.len() as u32;
            ro.extend_from_slice(&[0; 8]);
            if !func.is_reserved_value() {
                ro_relocs.push(FuncReloc {
                    offset,
                    func,
                    addend: i64::from(info.func_type_id(func)) << 32,
                });
            }
        }
    }
    let mut data_copies = Vec::new();
    if copy_data {
        for segment in &info.active_data {
            let offset = info
                .segment_offset(segment.base, segment.offset)
                .expect("checked by memory_image");
            data_copies.push(DataCopy {
                src: RO_DATA_START + ro.len() as u32,
                offset: offset as u32,
                len: segment.bytes.len() as u32,
            });
            ro.extend_from_slice(segment.bytes);
        }
    }
    if u64::from(RO_DATA_START) + ro.len() as u64 > u64::from(ZONE_SIZE) * 1024 {
        return Err(too_large("the passive segments".into()));
    }
    let rw_start = (2 * u64::from(ZONE_SIZE) + zone_align(ro.len() as u64)) as u32;

    // The state area's words.
    let mut next = u64::from(rw_start);
    let mut word = || {
        let addr = next as u32;
        next += u64::from(WORD);
        addr
    };
    let globals: Vec<u32> = info.globals.iter().map(|_| word()).collect();
    let pages_addr = word();
    let bytes_addr = word();
    let table_sizes: Vec<u32> = info.tables.iter().map(|_| word()).collect();
    let mut segments = |addrs: &[(u32, u64)]| -> Vec<SegmentLayout> {
        addrs
            .iter()
            .map(|&(addr, _)| SegmentLayout {
                addr,
                len_addr: word(),
            })
            .collect()
    };
    let data = segments(&data_addrs);
    let elems = segments(&elem_addrs);
    let mut tables = Vec::new();
    for (index, table) in info.tables.iter().enumerate() {
        let growable = table_grows[index];
        let capacity = if growable {
            table
                .maximum
                .unwrap_or(u32::MAX)
                .min(limits.max_table_entries)
                .max(table.minimum)
        } else {
            table.minimum
        };
        if capacity > limits.max_table_entries.max(1 << 20) {
            return Err(too_large(format!("table {index} of {capacity} entries")));
        }
        let base = next as u32;
        next += u64::from(capacity) * u64::from(WORD);
        tables.push(TableLayout {
            size_addr: table_sizes[index],
            base,
            min: table.minimum,
            capacity,
            growable,
        });
    }
    let base = align(next, u64::from(PAGE_SIZE));
    let stack_start = u64::from(STACK_END) - page_align(u64::from(limits.stack_size));
    // One zone of unmapped memory between the memory's largest extent and the stack.
    let room = stack_start.saturating_sub(u64::from(ZONE_SIZE) + base) / WASM_PAGE;

    let mut state = vec![0u8; (base - u64::from(rw_start)) as usize];
    let mut state_relocs = Vec::new();
    let rel = |addr: u32| addr - rw_start;
    let mut instantiation_trap = None;

    for (index, global) in info.globals.iter().enumerate() {
        match global.init {
            GlobalInit::Bits(bits) => put_word(&mut state, rel(globals[index]), bits as u64),
            GlobalInit::FuncRef(func) => state_relocs.push(FuncReloc {
                offset: rel(globals[index]),
                func,
                addend: i64::from(info.func_type_id(func)) << 32,
            }),
        }
    }
    let lengths = data_addrs.iter().chain(&elem_addrs).map(|&(_, len)| len);
    for (segment, len) in data.iter().chain(&elems).zip(lengths) {
        put_word(&mut state, rel(segment.len_addr), len);
    }
    for table in &tables {
        put_word(&mut state, rel(table.size_addr), u64::from(table.min));
    }
    for segment in &info.active_elems {
        let table = &tables[segment.table.as_u32() as usize];
        let Some(offset) = info.segment_offset(segment.base, u64::from(segment.offset)) else {
            return Err(WasmError::Unsupported("an element segment offset".into()));
        };
        if offset + segment.items.len() as u64 > u64::from(table.min) {
            instantiation_trap.get_or_insert_with(|| {
                format!(
                    "element segment at {offset} with {} entries is out of bounds of table {} ({} entries)",
                    segment.items.len(),
                    segment.table.as_u32(),
                    table.min
                )
            });
            break;
        }
        for (i, &func) in segment.items.iter().enumerate() {
            let at = rel(table.base) + (offset as u32 + i as u32) * WORD;
            state_relocs.retain(|r| r.offset != at);
            if func.is_reserved_value() {
                put_word(&mut state, at, 0);
            } else {
                put_word(&mut state, at, 0);
                state_relocs.push(FuncReloc {
                    offset: at,
                    func,
                    addend: i64::from(info.func_type_id(func)) << 32,
                });
            }
        }
    }

    let memory = match info.memories.first() {
        None => {
            if !info.active_data.is_empty() {
                return Err(WasmError::Unsupported(
                    "a data segment without a memory".into(),
                ));
            }
            None
        }
        Some(memory) => {
            let declared_max = memory.maximum.unwrap_or(1 << 16);
            let max_pages = declared_max
                .min(u64::from(limits.max_memory_pages))
                .min(room)
                .max(memory.minimum);
            if memory.minimum > room || memory.minimum > u64::from(limits.max_memory_pages) {
                return Err(too_large(format!(
                    "a memory of {} pages (at most {} fit with --max-memory {} and a stack of {} bytes)",
                    memory.minimum,
                    room.min(u64::from(limits.max_memory_pages)),
                    limits.max_memory_pages,
                    limits.stack_size
                )));
            }
            let min_bytes = memory.minimum * WASM_PAGE;
            if let Some(why) = data_trap {
                instantiation_trap.get_or_insert(why);
            }
            let image = if copy_data { Vec::new() } else { image };
            put_word(&mut state, rel(pages_addr), memory.minimum);
            put_word(&mut state, rel(bytes_addr), min_bytes);
            Some(MemoryLayout {
                base: base as u32,
                pages_addr,
                bytes_addr,
                reserved: memory_grows && limits.reserve_memory,
                min_pages: memory.minimum as u32,
                max_pages: max_pages as u32,
                growable: memory_grows,
                image,
            })
        }
    };

    Ok(Layout {
        ro,
        ro_relocs,
        rw_start,
        state,
        state_relocs,
        globals,
        tables,
        data,
        elems,
        memory,
        instantiation_trap,
        data_copies,
    })
}

impl MemoryLayout {
    /// The pages mapped when the program starts.
    pub fn initial_pages(&self) -> u32 {
        if self.reserved {
            self.max_pages
        } else {
            self.min_pages
        }
    }
}
