//! PVM assembly text: the disassembler writes it, the assembler reads it back.
//!
//! One instruction per line, `offset: name operands`, operands in [`Args`] order, for example
//!
//! ```text
//! .jump_table @9
//!      0: load_imm r7, 5
//!      3: branch_eq_imm r7, 1, @9
//!      7: jump @0
//!      9: trap
//! ```
//!
//! - Registers print as `r0`..`r12`; the assembler also takes polkavm's ABI names (`ra`, `sp`, `a0`..).
//! - Immediates print in decimal when their sign-extended value is within ±0xffff, in hex
//!   otherwise; the assembler takes decimal (with `-`) and `0x` hex, wrapping to the 32 bits.
//! - Targets print as `@offset`, the offset of another line. The assembler treats each line's
//!   `offset:` prefix as a label and also takes named labels (`loop:` on its own line or before
//!   an instruction, and `jump loop`). It lays the code out anew, so text from canonically
//!   encoded code assembles to the same bytes.
//! - `.jump_table` lists the jump-table entries; `.bytes 0x.., 0x..` is one instruction's bytes
//!   that do not decode (an opcode the flavour lacks: the machine runs it as `trap`).
//! - `;` starts a comment.
//!
//! A whole [`StandardProgram`] adds data directives before the code: `.ro_data` and `.rw_data`
//! (hex digits, or a quoted string with `\n`, `\t`, `\\`, `\"` and `\xNN` escapes; repeated lines
//! append), `.heap_pages N` and `.stack_size N`.

use crate::blob::CodeBlob;
use crate::builder::{BuildError, BuiltCode, CodeBuilder, Label};
use crate::inst::{Args, Instruction, Shape};
use crate::reg::Reg;
use crate::spi::StandardProgram;
use crate::table::{Flavour, Opcode};
use std::collections::HashMap;
use std::fmt::{self, Write as _};

/// The text of one immediate: decimal when small, hex otherwise.
fn imm(value: u32) -> String {
    let signed = value as i32;
    if signed.unsigned_abs() <= 0xffff {
        signed.to_string()
    } else {
        format!("{value:#x}")
    }
}

fn imm64(value: u64) -> String {
    let signed = value as i64;
    if signed.unsigned_abs() <= 0xffff {
        signed.to_string()
    } else {
        format!("{value:#x}")
    }
}

/// Writes `inst` with each target written by `target`.
fn write_instruction<T>(
    f: &mut fmt::Formatter<'_>,
    inst: &Instruction<T>,
    target: impl Fn(&T) -> String,
) -> fmt::Result {
    let name = inst.opcode().name();
    match inst.args() {
        Args::Argless => write!(f, "{name}"),
        Args::Imm(x) => write!(f, "{name} {}", imm(*x)),
        Args::RegImm64(a, x) => write!(f, "{name} {a}, {}", imm64(*x)),
        Args::ImmImm(x, y) => write!(f, "{name} {}, {}", imm(*x), imm(*y)),
        Args::Offset(t) => write!(f, "{name} {}", target(t)),
        Args::RegImm(a, x) => write!(f, "{name} {a}, {}", imm(*x)),
        Args::RegImmImm(a, x, y) => write!(f, "{name} {a}, {}, {}", imm(*x), imm(*y)),
        Args::RegImmOffset(a, x, t) => write!(f, "{name} {a}, {}, {}", imm(*x), target(t)),
        Args::RegReg(d, a) => write!(f, "{name} {d}, {a}"),
        Args::RegRegImm(a, b, x) => write!(f, "{name} {a}, {b}, {}", imm(*x)),
        Args::RegRegOffset(a, b, t) => write!(f, "{name} {a}, {b}, {}", target(t)),
        Args::RegRegImmImm(a, b, x, y) => {
            write!(f, "{name} {a}, {b}, {}, {}", imm(*x), imm(*y))
        }
        Args::RegRegReg(d, a, b) => write!(f, "{name} {d}, {a}, {b}"),
    }
}

impl fmt::Display for Instruction<u32> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_instruction(f, self, |t| format!("@{t}"))
    }
}

impl fmt::Display for Instruction<Label> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_instruction(f, self, |t| t.to_string())
    }
}

/// The listing of `blob`: the jump table, then one line per instruction with its offset.
pub fn disassemble(blob: &CodeBlob, flavour: Flavour) -> String {
    let mut out = String::new();
    if !blob.jump_table.is_empty() {
        let entries: Vec<String> = blob.jump_table.iter().map(|t| format!("@{t}")).collect();
        let _ = writeln!(out, ".jump_table {}", entries.join(", "));
    }
    for (pc, inst) in blob.instructions(flavour) {
        let _ = match inst {
            Ok(inst) => writeln!(out, "{pc:>6}: {inst}"),
            Err(_) => {
                let end = (pc as usize + 1 + blob.skip(pc)).min(blob.code.len());
                let bytes: Vec<String> = blob.code[pc as usize..end]
                    .iter()
                    .map(|b| format!("{b:#04x}"))
                    .collect();
                writeln!(out, "{pc:>6}: .bytes {}", bytes.join(", "))
            }
        };
    }
    out
}

/// The listing of a whole program: its data directives, then [`disassemble`] of its code.
pub fn disassemble_program(program: &StandardProgram, flavour: Flavour) -> String {
    let mut out = String::new();
    for (directive, data) in [
        (".ro_data", &program.ro_data),
        (".rw_data", &program.rw_data),
    ] {
        for chunk in data.chunks(32) {
            let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "{directive} {hex}");
        }
    }
    if program.heap_pages != 0 {
        let _ = writeln!(out, ".heap_pages {}", program.heap_pages);
    }
    let _ = writeln!(out, ".stack_size {}", program.stack_size);
    out + &disassemble(&program.code, flavour)
}

/// Why assembly text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmError {
    /// A line that does not parse.
    #[error("line {line}: {message}")]
    Syntax {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Text that parses but cannot be laid out.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Data directives in text assembled as bare code.
    #[error("line {line}: data directives need a whole program (assemble it as a program)")]
    DataInCode {
        /// The 1-based line number of the first data directive.
        line: usize,
    },
    /// A program whose memory layout does not fit.
    #[error(transparent)]
    Layout(#[from] crate::spi::LayoutTooLarge),
}

/// Assembles `text` (the disassembler's format, plus named labels) for `flavour`.
pub fn assemble(text: &str, flavour: Flavour) -> Result<BuiltCode, AsmError> {
    let (built, data) = Assembler::new(flavour).run(text)?;
    match data.first_line {
        Some(line) => Err(AsmError::DataInCode { line }),
        None => Ok(built),
    }
}

/// Assembles a whole program: data directives and code.
pub fn assemble_program(text: &str, flavour: Flavour) -> Result<StandardProgram, AsmError> {
    let (built, data) = Assembler::new(flavour).run(text)?;
    let program = StandardProgram {
        ro_data: data.ro_data,
        rw_data: data.rw_data,
        heap_pages: data.heap_pages,
        stack_size: data.stack_size,
        code: built.blob,
    };
    program.layout()?;
    Ok(program)
}

/// The data directives seen so far.
#[derive(Default)]
struct Data {
    ro_data: Vec<u8>,
    rw_data: Vec<u8>,
    heap_pages: u16,
    stack_size: u32,
    /// The line of the first data directive, if any.
    first_line: Option<usize>,
}

struct Assembler {
    builder: CodeBuilder,
    labels: HashMap<String, Label>,
    data: Data,
}

type LineResult<T> = Result<T, String>;

impl Assembler {
    fn new(flavour: Flavour) -> Self {
        Assembler {
            builder: CodeBuilder::new(flavour),
            labels: HashMap::new(),
            data: Data::default(),
        }
    }

    fn run(mut self, text: &str) -> Result<(BuiltCode, Data), AsmError> {
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            self.line(line, line_no)
                .map_err(|message| AsmError::Syntax {
                    line: line_no,
                    message,
                })?;
        }
        Ok((self.builder.finish()?, self.data))
    }

    fn label(&mut self, name: &str) -> Label {
        if let Some(&label) = self.labels.get(name) {
            return label;
        }
        let label = self.builder.new_label();
        self.labels.insert(name.to_owned(), label);
        label
    }

    fn line(&mut self, line: &str, line_no: usize) -> LineResult<()> {
        let mut rest = strip_comment(line).trim();
        if let Some((head, tail)) = rest.split_once(':') {
            let head = head.trim();
            if is_label_name(head) || head.bytes().all(|b| b.is_ascii_digit()) {
                let label = self.label(head);
                self.builder
                    .bind(label)
                    .map_err(|_| format!("label `{head}` is defined twice"))?;
                rest = tail.trim();
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
        let (word, operands) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if matches!(
            word,
            ".ro_data" | ".rw_data" | ".heap_pages" | ".stack_size"
        ) {
            self.data.first_line.get_or_insert(line_no);
            return self.data_directive(word, operands.trim());
        }
        let operands: Vec<&str> = if operands.trim().is_empty() {
            Vec::new()
        } else {
            operands.split(',').map(str::trim).collect()
        };
        match word {
            ".jump_table" => {
                for target in operands {
                    let label = self.target(target)?;
                    self.builder.jump_table_entry(label);
                }
                Ok(())
            }
            ".bytes" => {
                let bytes = operands
                    .iter()
                    .map(|b| {
                        parse_u64(b)
                            .and_then(|v| u8::try_from(v).ok())
                            .ok_or_else(|| format!("`{b}` is not a byte"))
                    })
                    .collect::<LineResult<Vec<u8>>>()?;
                if bytes.is_empty() {
                    return Err(".bytes needs at least one byte".into());
                }
                self.builder.push_raw(bytes);
                Ok(())
            }
            _ => {
                let opcode = Opcode::from_name(word)
                    .ok_or_else(|| format!("unknown instruction `{word}`"))?;
                let inst = self.instruction(opcode, &operands)?;
                self.builder.push(inst);
                Ok(())
            }
        }
    }

    fn data_directive(&mut self, word: &str, operand: &str) -> LineResult<()> {
        let number = |max: u64| {
            parse_u64(operand)
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("`{operand}` is not a number up to {max} for {word}"))
        };
        match word {
            ".ro_data" => self.data.ro_data.extend(data_bytes(operand)?),
            ".rw_data" => self.data.rw_data.extend(data_bytes(operand)?),
            ".heap_pages" => self.data.heap_pages = number(u16::MAX.into())? as u16,
            _ => self.data.stack_size = number((1 << 24) - 1)? as u32,
        }
        Ok(())
    }

    fn target(&mut self, text: &str) -> LineResult<Label> {
        let name = text.strip_prefix('@').unwrap_or(text);
        if is_label_name(name) || (text.starts_with('@') && parse_u64(name).is_some()) {
            let key = match parse_u64(name) {
                Some(offset) => offset.to_string(),
                None => name.to_owned(),
            };
            Ok(self.label(&key))
        } else {
            Err(format!("`{text}` is not a target (`@offset` or a label)"))
        }
    }

    fn instruction(&mut self, opcode: Opcode, ops: &[&str]) -> LineResult<Instruction<Label>> {
        let want = match opcode.shape() {
            Shape::Argless => 0,
            Shape::Imm | Shape::Offset => 1,
            Shape::RegImm64 | Shape::ImmImm | Shape::RegImm | Shape::RegReg => 2,
            Shape::RegImmImm
            | Shape::RegImmOffset
            | Shape::RegRegImm
            | Shape::RegRegOffset
            | Shape::RegRegReg => 3,
            Shape::RegRegImmImm => 4,
        };
        if ops.len() != want {
            return Err(format!(
                "`{opcode}` takes {want} operands, found {}",
                ops.len()
            ));
        }
        let args = match opcode.shape() {
            Shape::Argless => Args::Argless,
            Shape::Imm => Args::Imm(imm32(ops[0])?),
            Shape::RegImm64 => Args::RegImm64(reg(ops[0])?, imm64_operand(ops[1])?),
            Shape::ImmImm => Args::ImmImm(imm32(ops[0])?, imm32(ops[1])?),
            Shape::Offset => Args::Offset(self.target(ops[0])?),
            Shape::RegImm => Args::RegImm(reg(ops[0])?, imm32(ops[1])?),
            Shape::RegImmImm => Args::RegImmImm(reg(ops[0])?, imm32(ops[1])?, imm32(ops[2])?),
            Shape::RegImmOffset => {
                Args::RegImmOffset(reg(ops[0])?, imm32(ops[1])?, self.target(ops[2])?)
            }
            Shape::RegReg => Args::RegReg(reg(ops[0])?, reg(ops[1])?),
            Shape::RegRegImm => Args::RegRegImm(reg(ops[0])?, reg(ops[1])?, imm32(ops[2])?),
            Shape::RegRegOffset => {
                Args::RegRegOffset(reg(ops[0])?, reg(ops[1])?, self.target(ops[2])?)
            }
            Shape::RegRegImmImm => {
                Args::RegRegImmImm(reg(ops[0])?, reg(ops[1])?, imm32(ops[2])?, imm32(ops[3])?)
            }
            Shape::RegRegReg => Args::RegRegReg(reg(ops[0])?, reg(ops[1])?, reg(ops[2])?),
        };
        Ok(Instruction::new(opcode, args).expect("operands built for the opcode's shape"))
    }
}

/// `line` without its `;` comment; a `;` inside a quoted string is data.
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ';' if !in_string => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Data bytes: a quoted string with escapes, or hex digits.
fn data_bytes(text: &str) -> LineResult<Vec<u8>> {
    if let Some(quoted) = text.strip_prefix('"') {
        let body = quoted
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated string `{text}`"))?;
        let mut out = Vec::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            match chars.next() {
                Some('n') => out.push(b'\n'),
                Some('t') => out.push(b'\t'),
                Some('0') => out.push(0),
                Some('\\') => out.push(b'\\'),
                Some('"') => out.push(b'"'),
                Some('x') => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let byte = u8::from_str_radix(&hex, 16)
                        .map_err(|_| format!("bad escape `\\x{hex}` in `{text}`"))?;
                    out.push(byte);
                }
                other => {
                    return Err(format!(
                        "bad escape `\\{}` in `{text}`",
                        other.unwrap_or(' ')
                    ))
                }
            }
        }
        return Ok(out);
    }
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{text}` is neither a quoted string nor an even number of hex digits"
        ));
    }
    Ok((0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("checked hex digits"))
        .collect())
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn reg(text: &str) -> LineResult<Reg> {
    Reg::from_name(text).ok_or_else(|| format!("`{text}` is not a register"))
}

/// A non-negative number in decimal or `0x` hex.
fn parse_u64(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// A 64-bit value: unsigned, or negative (two's complement).
fn parse_i65(text: &str) -> Option<(bool, u64)> {
    match text.strip_prefix('-') {
        Some(magnitude) => parse_u64(magnitude).map(|m| (true, m)),
        None => parse_u64(text).map(|m| (false, m)),
    }
}

fn imm32(text: &str) -> LineResult<u32> {
    match parse_i65(text) {
        Some((false, m)) if m <= u64::from(u32::MAX) => Ok(m as u32),
        Some((true, m)) if m <= 1 << 31 => Ok((m as u32).wrapping_neg()),
        _ => Err(format!("`{text}` is not a 32-bit immediate")),
    }
}

fn imm64_operand(text: &str) -> LineResult<u64> {
    match parse_i65(text) {
        Some((false, m)) => Ok(m),
        Some((true, m)) if m <= 1 << 63 => Ok(m.wrapping_neg()),
        _ => Err(format!("`{text}` is not a 64-bit immediate")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
.jump_table @9
     0: load_imm r7, 5
     3: branch_eq_imm r7, 1, @9
     7: jump @0
     9: trap
";

    #[test]
    fn listing_round_trips_to_the_same_text() {
        let built = assemble(LISTING, Flavour::JamV1).unwrap();
        assert_eq!(built.blob.jump_table, vec![9]);
        assert_eq!(disassemble(&built.blob, Flavour::JamV1), LISTING);
    }

    #[test]
    fn named_labels_abi_names_and_number_forms() {
        let text = "\
start:
    load_imm64 a0, 0x8000000000000000
    store_imm_u32 0x20000, -1 ; a comment
    add_imm_64 sp, sp, -16
    jump start
";
        let built = assemble(text, Flavour::JamV1).unwrap();
        assert_eq!(
            disassemble(&built.blob, Flavour::JamV1),
            concat!(
                "     0: load_imm64 r7, 0x8000000000000000\n",
                "    10: store_imm_u32 0x20000, -1\n",
                "    16: add_imm_64 r1, r1, -16\n",
                "    19: jump @0\n",
            )
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = assemble("trap\nfrobnicate r1\n", Flavour::JamV1).unwrap_err();
        assert_eq!(err.to_string(), "line 2: unknown instruction `frobnicate`");
        let err = assemble("add_64 r1, r2\n", Flavour::JamV1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: `add_64` takes 3 operands, found 2"
        );
        let err = assemble("load_imm r13, 1\n", Flavour::JamV1).unwrap_err();
        assert_eq!(err.to_string(), "line 1: `r13` is not a register");
        let err = assemble("load_imm r1, 0x100000000\n", Flavour::JamV1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: `0x100000000` is not a 32-bit immediate"
        );
    }

    #[test]
    fn whole_programs_round_trip() {
        let text = concat!(
            ".ro_data \"Hi\\n\\x00\" ; greeting\n",
            ".ro_data \";\"\n",
            ".rw_data 0102\n",
            ".heap_pages 2\n",
            ".stack_size 4096\n",
            "trap\n",
        );
        let program = assemble_program(text, Flavour::JamV1).unwrap();
        assert_eq!(program.ro_data, b"Hi\n\0;");
        assert_eq!(program.rw_data, [1, 2]);
        assert_eq!((program.heap_pages, program.stack_size), (2, 4096));
        let listing = disassemble_program(&program, Flavour::JamV1);
        assert_eq!(
            listing,
            ".ro_data 48690a003b\n.rw_data 0102\n.heap_pages 2\n.stack_size 4096\n     0: trap\n"
        );
        assert_eq!(assemble_program(&listing, Flavour::JamV1).unwrap(), program);
        assert_eq!(
            assemble(text, Flavour::JamV1).unwrap_err().to_string(),
            "line 1: data directives need a whole program (assemble it as a program)"
        );
    }

    #[test]
    fn undecodable_bytes_round_trip() {
        let text = "     0: .bytes 0x02, 0x07\n     2: trap\n";
        let built = assemble(text, Flavour::Gp072).unwrap();
        assert_eq!(built.blob.code, [2, 7, 0]);
        assert_eq!(disassemble(&built.blob, Flavour::Gp072), text);
    }
}
