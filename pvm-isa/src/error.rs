//! The error type of every binary parser in this crate, and the byte reader they share.
//!
//! Invariant: a parser never panics and never allocates more than the input could describe:
//! every declared length is checked against the bytes that are left before it is used.

use core::fmt;

/// What went wrong while reading a container.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended inside `what`.
    UnexpectedEnd {
        /// The item being read.
        what: &'static str,
        /// How many bytes it needed.
        needed: u64,
        /// How many were left.
        left: u64,
    },
    /// A variable-length number was not the canonical GP encoding.
    NonCanonicalVarint {
        /// The number's field.
        what: &'static str,
    },
    /// A value exceeds what its field allows.
    TooLarge {
        /// The field.
        what: &'static str,
        /// The value read.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// The bitmask has the wrong length for the code, or sets padding bits past its end.
    BitmaskMismatch {
        /// Bytes of code.
        code_len: u64,
        /// Bytes of bitmask.
        bitmask_len: u64,
    },
    /// Non-empty code whose first byte is not marked as an instruction start.
    CodeDoesNotStartWithInstruction,
    /// A jump-table entry that is not the first byte of an instruction.
    JumpTableEntryNotInstructionStart {
        /// The entry's index.
        index: u32,
        /// The code offset it holds.
        target: u64,
    },
    /// Bytes after the end of the container.
    TrailingBytes {
        /// How many.
        count: u64,
    },
    /// The memory layout the program asks for does not fit in the 32-bit address space.
    LayoutTooLarge,
    /// A container did not start with its magic bytes.
    BadMagic,
    /// A container version this crate does not read.
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// A section out of order, repeated, or unknown.
    BadSection {
        /// The section id.
        id: u8,
        /// Why it was refused.
        why: &'static str,
    },
    /// A name that is not UTF-8.
    BadName,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd { what, needed, left } => write!(
                f,
                "input ends inside {what}: {needed} bytes needed, {left} left"
            ),
            Self::NonCanonicalVarint { what } => {
                write!(f, "{what} is not a canonically encoded number")
            }
            Self::TooLarge { what, value, max } => {
                write!(f, "{what} is {value}, more than the maximum {max}")
            }
            Self::BitmaskMismatch {
                code_len,
                bitmask_len,
            } => write!(
                f,
                "a bitmask of {bitmask_len} bytes does not match {code_len} bytes of code"
            ),
            Self::CodeDoesNotStartWithInstruction => {
                f.write_str("the bitmask does not mark code offset 0 as an instruction start")
            }
            Self::JumpTableEntryNotInstructionStart { index, target } => write!(
                f,
                "jump-table entry {index} points at code offset {target:#x}, which is not an instruction start"
            ),
            Self::TrailingBytes { count } => write!(f, "{count} unexpected bytes after the end"),
            Self::LayoutTooLarge => {
                f.write_str("the program's memory layout does not fit in 2^32 bytes")
            }
            Self::BadMagic => f.write_str("missing magic bytes"),
            Self::UnsupportedVersion { version } => {
                write!(f, "unsupported container version {version}")
            }
            Self::BadSection { id, why } => write!(f, "section {id}: {why}"),
            Self::BadName => f.write_str("a name is not valid UTF-8"),
        }
    }
}

/// An error from reading a binary container, with the byte offset (from the start of the
/// outermost input) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at offset {offset:#x}")]
pub struct ParseError {
    /// The byte offset of the problem.
    pub offset: usize,
    /// The problem.
    pub kind: ParseErrorKind,
}

/// A cursor over input bytes that reports errors at absolute offsets.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The offset of `bytes[0]` in the outermost input.
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    /// The absolute offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn error_here(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            offset: self.offset(),
            kind,
        }
    }

    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], ParseError> {
        match usize::try_from(len) {
            Ok(n) if n <= self.left() => {
                let out = &self.bytes[self.pos..self.pos + n];
                self.pos += n;
                Ok(out)
            }
            _ => Err(self.error_here(ParseErrorKind::UnexpectedEnd {
                what,
                needed: len,
                left: self.left() as u64,
            })),
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        Ok(self.bytes(1, what)?[0])
    }

    /// A little-endian number of `len` bytes (the GP's `E_len`).
    pub(crate) fn fixed(&mut self, len: usize, what: &'static str) -> Result<u64, ParseError> {
        let bytes = self.bytes(len as u64, what)?;
        Ok(crate::varint::decode_fixed(bytes))
    }

    /// A GP variable-length natural (`E`), rejecting non-canonical encodings.
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u64, ParseError> {
        let start = self.offset();
        let (value, len) = crate::varint::decode(&self.bytes[self.pos..]).map_err(|e| {
            let kind = match e {
                crate::varint::VarintError::Truncated { needed } => ParseErrorKind::UnexpectedEnd {
                    what,
                    needed: needed as u64,
                    left: self.left() as u64,
                },
                crate::varint::VarintError::NonCanonical => {
                    ParseErrorKind::NonCanonicalVarint { what }
                }
            };
            ParseError {
                offset: start,
                kind,
            }
        })?;
        self.pos += len;
        Ok(value)
    }

    /// A GP natural that must not exceed `max`.
    pub(crate) fn varint_at_most(
        &mut self,
        max: u64,
        what: &'static str,
    ) -> Result<u64, ParseError> {
        let start = self.offset();
        let value = self.varint(what)?;
        if value > max {
            return Err(ParseError {
                offset: start,
                kind: ParseErrorKind::TooLarge { what, value, max },
            });
        }
        Ok(value)
    }

    /// Everything that is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        out
    }

    /// Fails unless the input has been read to its end.
    pub(crate) fn finish(&self) -> Result<(), ParseError> {
        match self.left() {
            0 => Ok(()),
            count => Err(self.error_here(ParseErrorKind::TrailingBytes {
                count: count as u64,
            })),
        }
    }
}
