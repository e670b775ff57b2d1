//! polkavm's program container (`.polkavm`), byte-compatible with polkavm-common 0.37
//! (`ProgramParts::from_bytes`, `ProgramBlob::from_parts`, `ProgramBlobBuilder::to_vec`), so
//! that polkavm and `polkatool disassemble` read what [`PolkavmContainer::to_bytes`] writes.
//!
//! ```text
//! "PVM\0"  version: u8  length: u64 LE (of the whole blob, header included)
//! then sections, each `id: u8 ++ varint(|body|) ++ body`, in this order:
//!   1   memory config (optional): varint ro_data_size, varint rw_data_size, varint stack_size
//!   2   read-only data (optional): the initial bytes of the read-only region
//!   3   writable data (optional): the initial bytes of the writable region
//!   4   imports (optional): varint count, count × u32 LE symbol offsets, symbol bytes
//!   5   exports (optional): varint count, count × (varint pc, varint |name|, name)
//!   6   code and jump table (required): exactly the GP code blob ([`CodeBlob`])
//!   128 ..= 255  optional sections (debug info, metadata hash): any number, skipped here
//!   0   end of file
//! ```
//!
//! polkavm's varint is the GP's `E` restricted to values below 2^32. Versions: 3 is `JamV1`
//! ([`Flavour::JamV1`]); 0 is `ReviveV1`, whose opcode numbering is the GP 0.7.2 one
//! ([`Flavour::Gp072`]). Versions 1 and 2 (`Latest32`/`Latest64`) use a different code layout
//! and are refused.
//!
//! # Mapping to a [`StandardProgram`]
//!
//! polkavm lays memory out exactly like the SPI when its aux data size is the SPI's argument
//! area (2^24 bytes) and its page size is 4096: read-only data at 0x10000, writable data one
//! zone after it, the stack ending at 0xFEFE0000. polkavm rounds each size up to whole pages
//! when it maps memory, as the SPI does. The sizes map as follows:
//!
//! | polkavm          | written as                  | read as |
//! |------------------|-----------------------------|---------|
//! | `ro_data`        | `o`                         | `o` = `ro_data` zero-padded to `ro_data_size` |
//! | `ro_data_size`   | `\|o\|`                     | (the padding above) |
//! | `rw_data`        | `w`                         | `w` = `rw_data` |
//! | `rw_data_size`   | `P(\|w\|) + z·4096`         | `z` = `(P(rw_data_size) − P(\|w\|)) / 4096` |
//! | `stack_size`     | `s`                         | `s` = `stack_size` |
//!
//! The accessible pages and their initial contents are therefore the same on both sides.
//! A [`PolkavmContainer`] round-trips exactly through [`to_bytes`](PolkavmContainer::to_bytes)
//! and [`parse`](PolkavmContainer::parse). Bytes do not always round-trip the other way:
//! a foreign blob's trimmed read-only zeros come back written out in the ro data section,
//! an `rw_data_size` that is not a whole number of pages comes back rounded up (this moves
//! polkavm's `sbrk` heap base, which JAM programs do not use), a non-minimal jump-table entry
//! size comes back minimal, empty sections (an all-zero memory config, an import count of 0)
//! are left out as polkavm's writer leaves them out, and optional sections (debug info,
//! metadata hash) are dropped.
//!
//! # Invariants of a parsed [`PolkavmContainer`]
//!
//! Everything polkavm-common 0.37 checks holds (sizes cover their payloads, code at most
//! 32 MiB, at most 2^24 jump-table entries and 1024 imports), plus, deliberately stricter:
//! the code blob satisfies [`CodeBlob`]'s invariants; every export's pc is an instruction start;
//! names are UTF-8; import symbol offsets partition the symbol bytes; nothing follows the end
//! section; and the program is writable as an SPI (`ro_data_size`, `|rw_data|` and
//! `stack_size` below 2^24, at most 65535 heap pages), which bounds the zero padding of the
//! read-only data, the one allocation not bounded by the input's length, to 16 MiB.
//! Consequently [`PolkavmContainer::to_bytes`] and [`StandardProgram::to_bytes`] succeed on it.

use crate::blob::CodeBlob;
use crate::error::{ParseError, ParseErrorKind, Reader};
use crate::spi::{page_align, LayoutTooLarge, StandardProgram, PAGE_SIZE};
use crate::table::Flavour;
use crate::varint;

/// The four bytes every `.polkavm` blob starts with.
pub const POLKAVM_MAGIC: [u8; 4] = *b"PVM\0";
/// polkavm's largest code (`VM_MAXIMUM_CODE_SIZE`).
pub const POLKAVM_MAX_CODE_LEN: u32 = 32 << 20;
/// polkavm's largest jump table (`VM_MAXIMUM_JUMP_TABLE_ENTRIES`).
pub const POLKAVM_MAX_JUMP_TABLE_ENTRIES: u32 = 16 << 20;
/// polkavm's largest import count (`VM_MAXIMUM_IMPORT_COUNT`).
pub const POLKAVM_MAX_IMPORTS: u32 = 1024;

/// The largest value of the SPI's 3-byte size fields: every parsed program must fit them.
const SPI_FIELD_MAX: u64 = (1 << 24) - 1;
const VERSION_REVIVE_V1: u8 = 0;
const VERSION_JAM_V1: u8 = 3;
/// Magic, version and length.
const HEADER_LEN: usize = 4 + 1 + 8;

const SECTION_END: u8 = 0;
const SECTION_MEMORY_CONFIG: u8 = 1;
const SECTION_RO_DATA: u8 = 2;
const SECTION_RW_DATA: u8 = 3;
const SECTION_IMPORTS: u8 = 4;
const SECTION_EXPORTS: u8 = 5;
const SECTION_CODE: u8 = 6;
const FIRST_OPTIONAL_SECTION: u8 = 128;

/// A named entry point.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Export {
    /// The code offset where it starts: an instruction start.
    pub pc: u32,
    /// Its symbol.
    pub name: String,
}

/// A program in polkavm's `.polkavm` container.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PolkavmContainer {
    /// The opcode numbering, from the container's version byte.
    pub flavour: Flavour,
    /// Memory and code; see the module documentation for how sizes map.
    pub program: StandardProgram,
    /// Imported symbols, by index (polkavm's host-function imports; unused by JAM).
    pub imports: Vec<String>,
    /// Named entry points.
    pub exports: Vec<Export>,
}

/// Why a [`PolkavmContainer`] cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolkavmWriteError {
    /// The program does not fit the SPI's size fields or address space (the parser refuses
    /// such programs, so the writer does too).
    #[error(transparent)]
    Layout(#[from] LayoutTooLarge),
    /// A count or size above polkavm's limit.
    #[error("{what} is {value}, more than polkavm's limit {max}")]
    TooLarge {
        /// The item.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// An export whose pc is not the first byte of an instruction.
    #[error("export `{name}` points at pc {pc:#x}, which is not an instruction start")]
    ExportNotInstructionStart {
        /// The export's name.
        name: String,
        /// Its pc.
        pc: u32,
    },
}

const fn version_of(flavour: Flavour) -> u8 {
    match flavour {
        Flavour::JamV1 => VERSION_JAM_V1,
        Flavour::Gp072 => VERSION_REVIVE_V1,
    }
}

const fn flavour_of(version: u8) -> Option<Flavour> {
    match version {
        VERSION_JAM_V1 => Some(Flavour::JamV1),
        VERSION_REVIVE_V1 => Some(Flavour::Gp072),
        _ => None,
    }
}

/// A value read from the input, with where it was.
#[derive(Clone, Copy)]
struct Field<T> {
    value: T,
    at: usize,
}

/// The sections of a blob, read but not yet checked against each other.
#[derive(Default)]
struct Sections<'a> {
    memory_config_at: usize,
    ro_data_size: Option<Field<u32>>,
    rw_data_size: Option<Field<u32>>,
    stack_size: Option<Field<u32>>,
    ro_data: Option<Field<&'a [u8]>>,
    rw_data: Option<Field<&'a [u8]>>,
    imports: Vec<String>,
    /// Each export with the offset of its pc.
    exports: Vec<Field<Export>>,
    code: Option<CodeBlob>,
}

fn bad_section(offset: usize, id: u8, why: &'static str) -> ParseError {
    ParseError {
        offset,
        kind: ParseErrorKind::BadSection { id, why },
    }
}

/// A polkavm varint: the GP's `E`, below 2^32.
fn read_u32(r: &mut Reader<'_>, what: &'static str) -> Result<Field<u32>, ParseError> {
    let at = r.offset();
    let value = r.varint_at_most(u32::MAX.into(), what)?;
    // In range: checked just above.
    Ok(Field {
        value: value as u32,
        at,
    })
}

fn utf8(bytes: &[u8], at: usize) -> Result<String, ParseError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ParseError {
        offset: at,
        kind: ParseErrorKind::BadName,
    })
}

impl<'a> Sections<'a> {
    /// Reads the sections after the header up to and including the end marker.
    fn read(r: &mut Reader<'a>) -> Result<Self, ParseError> {
        let mut sections = Sections::default();
        // polkavm reads sections 1 to 6 in a fixed order, each at most once.
        let mut last_core = SECTION_END;
        loop {
            let id_at = r.offset();
            let id = r.u8("a section id")?;
            match id {
                SECTION_END => break,
                SECTION_MEMORY_CONFIG..=SECTION_CODE => {
                    if id <= last_core {
                        return Err(bad_section(id_at, id, "out of order or repeated"));
                    }
                    last_core = id;
                    let (body, at) = Self::body(r)?;
                    sections.read_core(id, body, at)?;
                }
                FIRST_OPTIONAL_SECTION..=u8::MAX => {
                    // polkavm looks for optional sections only after the code, so one before it
                    // would leave the code section unread.
                    if last_core != SECTION_CODE {
                        return Err(bad_section(
                            id_at,
                            id,
                            "an optional section before the code section",
                        ));
                    }
                    Self::body(r)?;
                }
                _ => return Err(bad_section(id_at, id, "unknown section")),
            }
        }
        if last_core != SECTION_CODE {
            return Err(bad_section(
                r.offset() - 1,
                SECTION_CODE,
                "the code section is missing",
            ));
        }
        Ok(sections)
    }

    /// A section's length and body.
    fn body(r: &mut Reader<'a>) -> Result<(&'a [u8], usize), ParseError> {
        let len = r.varint_at_most(u32::MAX.into(), "a section length")?;
        let at = r.offset();
        Ok((r.bytes(len, "a section body")?, at))
    }

    fn read_core(&mut self, id: u8, body: &'a [u8], at: usize) -> Result<(), ParseError> {
        let mut r = Reader::new(body, at);
        match id {
            SECTION_MEMORY_CONFIG => {
                self.memory_config_at = at;
                self.ro_data_size = Some(read_u32(&mut r, "the read-only data size")?);
                self.rw_data_size = Some(read_u32(&mut r, "the writable data size")?);
                self.stack_size = Some(read_u32(&mut r, "the stack size")?);
            }
            SECTION_RO_DATA => {
                self.ro_data = Some(Field {
                    value: r.rest(),
                    at,
                })
            }
            SECTION_RW_DATA => {
                self.rw_data = Some(Field {
                    value: r.rest(),
                    at,
                })
            }
            SECTION_IMPORTS => self.imports = read_imports(&mut r)?,
            SECTION_EXPORTS => {
                let count = read_u32(&mut r, "the export count")?.value;
                // No preallocation: each export takes at least two bytes, so a lying count
                // runs out of input instead of memory.
                for _ in 0..count {
                    let pc = read_u32(&mut r, "an export's pc")?;
                    let len = r.varint_at_most(u32::MAX.into(), "an export name's length")?;
                    let name_at = r.offset();
                    let name = utf8(r.bytes(len, "an export name")?, name_at)?;
                    self.exports.push(Field {
                        value: Export { pc: pc.value, name },
                        at: pc.at,
                    });
                }
            }
            // SECTION_CODE: `read` passes only ids 1 to 6.
            _ => {
                let code = CodeBlob::parse_at(r.rest(), at)?;
                let too_large = |what, value: usize, max: u32| ParseError {
                    offset: at,
                    kind: ParseErrorKind::TooLarge {
                        what,
                        value: value as u64,
                        max: max.into(),
                    },
                };
                if code.code.len() > POLKAVM_MAX_CODE_LEN as usize {
                    return Err(too_large(
                        "the code length",
                        code.code.len(),
                        POLKAVM_MAX_CODE_LEN,
                    ));
                }
                if code.jump_table.len() > POLKAVM_MAX_JUMP_TABLE_ENTRIES as usize {
                    return Err(too_large(
                        "the jump-table length",
                        code.jump_table.len(),
                        POLKAVM_MAX_JUMP_TABLE_ENTRIES,
                    ));
                }
                self.code = Some(code);
            }
        }
        r.finish()
    }

    /// Checks the sections against each other and builds the program.
    fn into_container(self, flavour: Flavour) -> Result<PolkavmContainer, ParseError> {
        let config_at = self.memory_config_at;
        let zero = Field {
            value: 0,
            at: config_at,
        };
        let ro_size = self.ro_data_size.unwrap_or(zero);
        let rw_size = self.rw_data_size.unwrap_or(zero);
        let stack = self.stack_size.unwrap_or(zero);
        let empty = Field {
            value: &[][..],
            at: config_at,
        };
        let ro = self.ro_data.unwrap_or(empty);
        let rw = self.rw_data.unwrap_or(empty);
        let too_large = |at, what, value: u64, max: u64| ParseError {
            offset: at,
            kind: ParseErrorKind::TooLarge { what, value, max },
        };

        // polkavm-common refuses payloads larger than their declared sizes.
        if ro.value.len() as u64 > ro_size.value.into() {
            let (len, max) = (ro.value.len() as u64, ro_size.value.into());
            return Err(too_large(ro.at, "the read-only data", len, max));
        }
        if rw.value.len() as u64 > rw_size.value.into() {
            let (len, max) = (rw.value.len() as u64, rw_size.value.into());
            return Err(too_large(rw.at, "the writable data", len, max));
        }
        // The SPI's limits, so the program can be written as one.
        let spi_limit = |field: Field<u32>, what| {
            if u64::from(field.value) > SPI_FIELD_MAX {
                Err(too_large(field.at, what, field.value.into(), SPI_FIELD_MAX))
            } else {
                Ok(())
            }
        };
        spi_limit(ro_size, "the read-only data size")?;
        spi_limit(stack, "the stack size")?;
        if rw.value.len() as u64 > SPI_FIELD_MAX {
            let len = rw.value.len() as u64;
            return Err(too_large(rw.at, "the writable data", len, SPI_FIELD_MAX));
        }
        // rw_data_size >= |rw_data|, so this does not underflow.
        let heap_bytes = page_align(rw_size.value.into()) - page_align(rw.value.len() as u64);
        let heap_pages = heap_bytes / u64::from(PAGE_SIZE);
        let heap_pages = u16::try_from(heap_pages).map_err(|_| {
            too_large(
                rw_size.at,
                "the heap pages implied by the writable data size",
                heap_pages,
                u16::MAX.into(),
            )
        })?;

        // Bounded by SPI_FIELD_MAX above; zeroed memory is not touched until written.
        let mut ro_data = vec![0; ro_size.value as usize];
        ro_data[..ro.value.len()].copy_from_slice(ro.value);
        let Some(code) = self.code else {
            // `read` refuses a blob without a code section.
            return Err(bad_section(
                config_at,
                SECTION_CODE,
                "the code section is missing",
            ));
        };
        for export in &self.exports {
            if !code.is_instruction_start(export.value.pc) {
                return Err(bad_section(
                    export.at,
                    SECTION_EXPORTS,
                    "an export's pc is not an instruction start",
                ));
            }
        }
        let program = StandardProgram {
            ro_data,
            rw_data: rw.value.to_vec(),
            heap_pages,
            stack_size: stack.value,
            code,
        };
        program.layout().map_err(|LayoutTooLarge| ParseError {
            offset: config_at,
            kind: ParseErrorKind::LayoutTooLarge,
        })?;
        Ok(PolkavmContainer {
            flavour,
            program,
            imports: self.imports,
            exports: self.exports.into_iter().map(|e| e.value).collect(),
        })
    }
}

/// The imports section: a count, one u32 offset per symbol into the symbol bytes, the bytes.
fn read_imports(r: &mut Reader<'_>) -> Result<Vec<String>, ParseError> {
    let count = r.varint_at_most(POLKAVM_MAX_IMPORTS.into(), "the import count")?;
    let offsets_at = r.offset();
    let offsets = r.bytes(count * 4, "the import symbol offsets")?;
    let symbols_at = r.offset();
    let symbols = r.rest();
    let offset = |i: usize| -> usize {
        offsets.get(i * 4..i * 4 + 4).map_or(symbols.len(), |b| {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
    };
    if count == 0 && !symbols.is_empty() {
        return Err(bad_section(
            symbols_at,
            SECTION_IMPORTS,
            "symbol bytes without imports",
        ));
    }
    // Symbol i runs from offset i to offset i + 1 (the last to the end). Requiring the offsets
    // to partition the bytes keeps every byte meaningful, so nothing is lost on re-writing.
    let mut names = Vec::new();
    for i in 0..count as usize {
        let (start, end) = (offset(i), offset(i + 1));
        if (i == 0 && start != 0) || start > end || end > symbols.len() {
            return Err(bad_section(
                offsets_at + i * 4,
                SECTION_IMPORTS,
                "import symbol offsets do not partition the symbol bytes",
            ));
        }
        names.push(utf8(&symbols[start..end], symbols_at + start)?);
    }
    Ok(names)
}

fn check_limit(what: &'static str, value: usize, max: u32) -> Result<u32, PolkavmWriteError> {
    u32::try_from(value)
        .ok()
        .filter(|&v| v <= max)
        .ok_or(PolkavmWriteError::TooLarge {
            what,
            value: value as u64,
            max: max.into(),
        })
}

fn push_varint(value: u32, out: &mut Vec<u8>) {
    varint::encode(value.into(), out);
}

/// Appends a section; polkavm's writer omits empty ones, and so does this.
fn push_section(id: u8, body: &[u8], out: &mut Vec<u8>) -> Result<(), PolkavmWriteError> {
    if body.is_empty() {
        return Ok(());
    }
    let len = check_limit("a section's length", body.len(), u32::MAX)?;
    out.push(id);
    push_varint(len, out);
    out.extend_from_slice(body);
    Ok(())
}

impl PolkavmContainer {
    /// Reads a `.polkavm` blob that fills `bytes` exactly.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if !bytes.starts_with(&POLKAVM_MAGIC) {
            return Err(ParseError {
                offset: 0,
                kind: ParseErrorKind::BadMagic,
            });
        }
        let mut r = Reader::new(bytes, 0);
        r.bytes(POLKAVM_MAGIC.len() as u64, "the magic")?;
        let version_at = r.offset();
        let version = r.u8("the version")?;
        let flavour = flavour_of(version).ok_or(ParseError {
            offset: version_at,
            kind: ParseErrorKind::UnsupportedVersion { version },
        })?;
        let length_at = r.offset();
        let declared = r.fixed(8, "the blob length")?;
        let actual = bytes.len() as u64;
        if declared > actual {
            return Err(ParseError {
                offset: length_at,
                kind: ParseErrorKind::UnexpectedEnd {
                    what: "the blob, as long as its length field declares",
                    needed: declared,
                    left: actual,
                },
            });
        }
        if declared < actual {
            return Err(ParseError {
                // `declared < actual <= usize::MAX`.
                offset: declared as usize,
                kind: ParseErrorKind::TrailingBytes {
                    count: actual - declared,
                },
            });
        }
        let sections = Sections::read(&mut r)?;
        // polkavm ignores bytes after the end section; refusing them keeps parsing injective.
        r.finish()?;
        sections.into_container(flavour)
    }

    /// The serialized blob, in the section layout of polkavm-common 0.37's writer.
    ///
    /// Fails if the program does not fit the SPI's size fields (as the parser requires), a
    /// count or size exceeds polkavm's limits, or an export's pc is not an instruction start.
    /// `program.code` is assumed to satisfy [`CodeBlob`]'s invariants.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PolkavmWriteError> {
        let program = &self.program;
        program.layout()?;
        let fits_spi = |len: usize| len as u64 <= SPI_FIELD_MAX;
        if !fits_spi(program.ro_data.len())
            || !fits_spi(program.rw_data.len())
            || !fits_spi(program.stack_size as usize)
        {
            return Err(LayoutTooLarge.into());
        }
        let code = &program.code;
        check_limit("the code length", code.code.len(), POLKAVM_MAX_CODE_LEN)?;
        check_limit(
            "the jump-table length",
            code.jump_table.len(),
            POLKAVM_MAX_JUMP_TABLE_ENTRIES,
        )?;
        let import_count =
            check_limit("the import count", self.imports.len(), POLKAVM_MAX_IMPORTS)?;
        if let Some(bad) = self
            .exports
            .iter()
            .find(|e| !code.is_instruction_start(e.pc))
        {
            return Err(PolkavmWriteError::ExportNotInstructionStart {
                name: bad.name.clone(),
                pc: bad.pc,
            });
        }

        // All three are below 2^24 + 2^28 after the checks above.
        let ro_size = program.ro_data.len() as u32;
        let rw_size = (page_align(program.rw_data.len() as u64)
            + u64::from(program.heap_pages) * u64::from(PAGE_SIZE)) as u32;
        let stack_size = program.stack_size;

        let mut out = Vec::with_capacity(
            64 + program.ro_data.len() + program.rw_data.len() + code.code.len() * 2,
        );
        out.extend_from_slice(&POLKAVM_MAGIC);
        out.push(version_of(self.flavour));
        out.extend_from_slice(&[0; 8]);

        let mut body = Vec::new();
        if ro_size > 0 || rw_size > 0 || stack_size > 0 {
            push_varint(ro_size, &mut body);
            push_varint(rw_size, &mut body);
            push_varint(stack_size, &mut body);
        }
        push_section(SECTION_MEMORY_CONFIG, &body, &mut out)?;
        push_section(SECTION_RO_DATA, &program.ro_data, &mut out)?;
        push_section(SECTION_RW_DATA, &program.rw_data, &mut out)?;

        body.clear();
        if import_count > 0 {
            push_varint(import_count, &mut body);
            let mut symbols_len = 0usize;
            for name in &self.imports {
                let offset = check_limit("the import symbols' length", symbols_len, u32::MAX)?;
                body.extend_from_slice(&offset.to_le_bytes());
                symbols_len += name.len();
            }
            for name in &self.imports {
                body.extend_from_slice(name.as_bytes());
            }
        }
        push_section(SECTION_IMPORTS, &body, &mut out)?;

        body.clear();
        if !self.exports.is_empty() {
            let count = check_limit("the export count", self.exports.len(), u32::MAX)?;
            push_varint(count, &mut body);
            for export in &self.exports {
                push_varint(export.pc, &mut body);
                let len = check_limit("an export name's length", export.name.len(), u32::MAX)?;
                push_varint(len, &mut body);
                body.extend_from_slice(export.name.as_bytes());
            }
        }
        push_section(SECTION_EXPORTS, &body, &mut out)?;
        push_section(SECTION_CODE, &code.to_bytes(), &mut out)?;
        out.push(SECTION_END);

        let len = (out.len() as u64).to_le_bytes();
        out[HEADER_LEN - 8..HEADER_LEN].copy_from_slice(&len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `trap; fallthrough` with a jump-table entry for each instruction.
    fn two_instructions() -> CodeBlob {
        CodeBlob {
            jump_table: vec![0, 1],
            code: vec![0, 1],
            bitmask: vec![0b11],
        }
    }

    fn small() -> PolkavmContainer {
        PolkavmContainer {
            flavour: Flavour::JamV1,
            program: StandardProgram {
                ro_data: vec![1, 2],
                rw_data: vec![3],
                heap_pages: 2,
                stack_size: 0x2000,
                code: two_instructions(),
            },
            imports: vec!["ab".into(), "c".into()],
            exports: vec![Export {
                pc: 1,
                name: "main".into(),
            }],
        }
    }

    #[rustfmt::skip]
    const SMALL: &[u8] = &[
        b'P', b'V', b'M', 0, 3,             // magic, version
        61, 0, 0, 0, 0, 0, 0, 0,            // length
        1, 5, 2, 0xB0, 0x00, 0xA0, 0x00,    // memory config: 2, 0x3000, 0x2000
        2, 2, 1, 2,                         // ro data
        3, 1, 3,                            // rw data
        4, 12, 2, 0, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', b'c', // imports
        5, 7, 1, 1, 4, b'm', b'a', b'i', b'n', // exports
        6, 8, 2, 1, 2, 0, 1, 0, 1, 0b11,    // code: |j|, z, |c|, j, c, k
        0,                                  // end
    ];

    #[test]
    fn exact_bytes_of_a_small_blob() {
        let bytes = small().to_bytes().unwrap();
        assert_eq!(bytes, SMALL);
        assert_eq!(PolkavmContainer::parse(&bytes), Ok(small()));
    }

    #[test]
    fn a_minimal_blob_has_only_the_code_section() {
        let container = PolkavmContainer {
            flavour: Flavour::Gp072,
            program: StandardProgram {
                code: CodeBlob {
                    jump_table: vec![],
                    code: vec![0],
                    bitmask: vec![1],
                },
                ..StandardProgram::default()
            },
            ..PolkavmContainer::default()
        };
        let bytes = container.to_bytes().unwrap();
        assert_eq!(
            bytes,
            [b'P', b'V', b'M', 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 6, 5, 0, 0, 1, 0, 1, 0]
        );
        assert_eq!(PolkavmContainer::parse(&bytes), Ok(container));
    }

    /// Rebuilds a blob from the sections of [`SMALL`] with some replaced, fixing the length.
    fn with_sections(sections: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = SMALL[..13].to_vec();
        for &(id, body) in sections {
            out.push(id);
            varint::encode(body.len() as u64, &mut out);
            out.extend_from_slice(body);
        }
        out.push(0);
        let len = (out.len() as u64).to_le_bytes();
        out[5..13].copy_from_slice(&len);
        out
    }

    const CODE: &[u8] = &[2, 1, 2, 0, 1, 0, 1, 0b11];

    fn err(bytes: &[u8]) -> (usize, ParseErrorKind) {
        let e = PolkavmContainer::parse(bytes).unwrap_err();
        (e.offset, e.kind)
    }

    #[test]
    fn foreign_sizes_map_to_the_standard_program() {
        // ro_data_size 5000 with 2 bytes of payload; rw_data_size 5000 with 1 byte: P(5000) is
        // two pages, P(1) one, so one heap page.
        let mut config = Vec::new();
        for v in [5000, 5000, 100] {
            varint::encode(v, &mut config);
        }
        let bytes = with_sections(&[(1, &config), (2, &[1, 2]), (3, &[3]), (6, CODE)]);
        let parsed = PolkavmContainer::parse(&bytes).unwrap();
        let mut ro = vec![0; 5000];
        ro[..2].copy_from_slice(&[1, 2]);
        assert_eq!(parsed.program.ro_data, ro);
        assert_eq!(parsed.program.rw_data, [3]);
        assert_eq!(parsed.program.heap_pages, 1);
        assert_eq!(parsed.program.stack_size, 100);
        // Written back, rw_data_size is rounded to 0x2000 and the ro zeros are explicit.
        let again = PolkavmContainer::parse(&parsed.to_bytes().unwrap()).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn optional_sections_after_the_code_are_skipped() {
        let bytes = with_sections(&[(6, CODE), (131, &[9; 32]), (200, &[]), (128, &[1])]);
        let parsed = PolkavmContainer::parse(&bytes).unwrap();
        assert_eq!(parsed.program.code, two_instructions());
        assert_eq!(
            err(&with_sections(&[(128, &[1]), (6, CODE)])),
            (
                13,
                ParseErrorKind::BadSection {
                    id: 128,
                    why: "an optional section before the code section"
                }
            )
        );
    }

    #[test]
    fn bad_magic_and_version() {
        assert_eq!(err(b"PVM"), (0, ParseErrorKind::BadMagic));
        assert_eq!(err(b"PVX\0\x03"), (0, ParseErrorKind::BadMagic));
        let mut bytes = SMALL.to_vec();
        bytes[4] = 1;
        assert_eq!(
            err(&bytes),
            (4, ParseErrorKind::UnsupportedVersion { version: 1 })
        );
        assert!(matches!(
            err(b"PVM\0"),
            (4, ParseErrorKind::UnexpectedEnd { .. })
        ));
    }

    #[test]
    fn length_field_must_match() {
        let mut bytes = SMALL.to_vec();
        bytes[5] += 1;
        assert_eq!(
            err(&bytes),
            (
                5,
                ParseErrorKind::UnexpectedEnd {
                    what: "the blob, as long as its length field declares",
                    needed: 62,
                    left: 61
                }
            )
        );
        bytes[5] -= 2;
        assert_eq!(
            err(&bytes),
            (60, ParseErrorKind::TrailingBytes { count: 1 })
        );
        bytes[5..13].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            err(&bytes),
            (5, ParseErrorKind::UnexpectedEnd { .. })
        ));
        // Truncated in the header.
        assert!(matches!(
            err(&SMALL[..8]),
            (
                5,
                ParseErrorKind::UnexpectedEnd {
                    needed: 8,
                    left: 3,
                    ..
                }
            )
        ));
    }

    #[test]
    fn truncation_anywhere_is_an_error() {
        for len in 0..SMALL.len() {
            let mut bytes = SMALL[..len].to_vec();
            if len >= 13 {
                bytes[5..13].copy_from_slice(&(len as u64).to_le_bytes());
            }
            let e = PolkavmContainer::parse(&bytes).unwrap_err();
            assert!(e.offset <= len, "{len}: {e}");
        }
    }

    #[test]
    fn section_order_is_enforced() {
        let bytes = with_sections(&[(3, &[3]), (2, &[1]), (6, CODE)]);
        assert_eq!(
            err(&bytes),
            (
                16,
                ParseErrorKind::BadSection {
                    id: 2,
                    why: "out of order or repeated"
                }
            )
        );
        let bytes = with_sections(&[(6, CODE), (6, CODE)]);
        assert_eq!(
            err(&bytes),
            (
                23,
                ParseErrorKind::BadSection {
                    id: 6,
                    why: "out of order or repeated"
                }
            )
        );
        let bytes = with_sections(&[(7, &[]), (6, CODE)]);
        assert_eq!(
            err(&bytes),
            (
                13,
                ParseErrorKind::BadSection {
                    id: 7,
                    why: "unknown section"
                }
            )
        );
        let bytes = with_sections(&[(2, &[1])]);
        assert_eq!(
            err(&bytes),
            (
                16,
                ParseErrorKind::BadSection {
                    id: 6,
                    why: "the code section is missing"
                }
            )
        );
    }

    #[test]
    fn bad_varints_and_oversize_sections() {
        // A section length that runs past the end.
        let mut bytes = with_sections(&[(6, CODE)]);
        bytes[14] = 0x7f;
        assert!(matches!(
            err(&bytes),
            (15, ParseErrorKind::UnexpectedEnd { needed: 127, .. })
        ));
        // A non-canonical section length.
        let mut bytes = SMALL[..14].to_vec();
        bytes.extend_from_slice(&[0x80, 8]);
        bytes.extend_from_slice(CODE);
        bytes.push(0);
        let len = (bytes.len() as u64).to_le_bytes();
        bytes[5..13].copy_from_slice(&len);
        bytes[13] = 6;
        assert!(matches!(
            err(&bytes),
            (14, ParseErrorKind::NonCanonicalVarint { .. })
        ));
        // A memory-config value above 2^32.
        let mut config = vec![];
        varint::encode(1 << 32, &mut config);
        config.extend_from_slice(&[0, 0]);
        assert!(matches!(
            err(&with_sections(&[(1, &config), (6, CODE)])),
            (
                15,
                ParseErrorKind::TooLarge {
                    max: 0xFFFF_FFFF,
                    ..
                }
            )
        ));
        // Extra bytes inside the memory config.
        assert_eq!(
            err(&with_sections(&[(1, &[0, 0, 0, 0]), (6, CODE)])),
            (18, ParseErrorKind::TrailingBytes { count: 1 })
        );
        // A payload larger than its declared size (no memory config: size 0).
        assert_eq!(
            err(&with_sections(&[(2, &[1]), (6, CODE)])),
            (
                15,
                ParseErrorKind::TooLarge {
                    what: "the read-only data",
                    value: 1,
                    max: 0
                }
            )
        );
        // A read-only size the SPI cannot hold.
        let mut config = vec![];
        varint::encode(1 << 24, &mut config);
        config.extend_from_slice(&[0, 0]);
        assert_eq!(
            err(&with_sections(&[(1, &config), (6, CODE)])),
            (
                15,
                ParseErrorKind::TooLarge {
                    what: "the read-only data size",
                    value: 1 << 24,
                    max: SPI_FIELD_MAX
                }
            )
        );
        // More heap than 65535 pages.
        let mut config = vec![0];
        varint::encode(u32::MAX.into(), &mut config);
        config.push(0);
        assert_eq!(
            err(&with_sections(&[(1, &config), (6, CODE)])),
            (
                16,
                ParseErrorKind::TooLarge {
                    what: "the heap pages implied by the writable data size",
                    value: 1 << 20,
                    max: 65535
                }
            )
        );
    }

    #[test]
    fn bad_imports_and_exports() {
        // Offsets that do not start at 0.
        let imports = [1, 1, 0, 0, 0, b'a'];
        assert_eq!(
            err(&with_sections(&[(4, &imports), (6, CODE)])),
            (
                16,
                ParseErrorKind::BadSection {
                    id: 4,
                    why: "import symbol offsets do not partition the symbol bytes"
                }
            )
        );
        // An offset past the symbol bytes.
        let imports = [2, 0, 0, 0, 0, 2, 0, 0, 0, b'a'];
        assert!(matches!(
            err(&with_sections(&[(4, &imports), (6, CODE)])),
            (16, ParseErrorKind::BadSection { id: 4, .. })
        ));
        // Too many imports.
        let mut imports = vec![];
        varint::encode(1025, &mut imports);
        assert!(matches!(
            err(&with_sections(&[(4, &imports), (6, CODE)])),
            (15, ParseErrorKind::TooLarge { max: 1024, .. })
        ));
        // A name that is not UTF-8.
        let exports = [1, 0, 1, 0xff];
        assert_eq!(
            err(&with_sections(&[(5, &exports), (6, CODE)])),
            (18, ParseErrorKind::BadName)
        );
        // An export count larger than the section holds.
        let exports = [2, 0, 1, b'a'];
        assert!(matches!(
            err(&with_sections(&[(5, &exports), (6, CODE)])),
            (19, ParseErrorKind::UnexpectedEnd { .. })
        ));
        // An export past the end of the code.
        let exports = [1, 2, 1, b'a'];
        assert_eq!(
            err(&with_sections(&[(5, &exports), (6, CODE)])),
            (
                16,
                ParseErrorKind::BadSection {
                    id: 5,
                    why: "an export's pc is not an instruction start"
                }
            )
        );
    }

    #[test]
    fn bad_code_reports_offsets_in_the_whole_blob() {
        // A jump-table entry size of 5.
        let code = [0, 5, 0];
        assert!(matches!(
            err(&with_sections(&[(6, &code)])),
            (16, ParseErrorKind::TooLarge { max: 4, .. })
        ));
        // An empty code section.
        assert!(matches!(
            err(&with_sections(&[(6, &[])])),
            (15, ParseErrorKind::UnexpectedEnd { .. })
        ));
    }

    #[test]
    fn the_writer_refuses_what_the_parser_would() {
        let mut c = small();
        c.exports[0].pc = 2;
        assert_eq!(
            c.to_bytes(),
            Err(PolkavmWriteError::ExportNotInstructionStart {
                name: "main".into(),
                pc: 2
            })
        );
        let mut c = small();
        c.program.stack_size = 1 << 24;
        assert_eq!(c.to_bytes(), Err(PolkavmWriteError::Layout(LayoutTooLarge)));
        let mut c = small();
        c.imports = vec![String::new(); 1025];
        assert!(matches!(
            c.to_bytes(),
            Err(PolkavmWriteError::TooLarge { max: 1024, .. })
        ));
    }
}
