//! The JAM service / authorizer code blob: `E(|m|) ++ m ++ SPI`, where `m` is opaque metadata
//! (by convention a name and version, but nothing here interprets it) and SPI is a
//! [`StandardProgram`].
//!
//! The same container holds both a service's code and an authorizer's code; the host picks
//! the entry point by starting execution at a fixed program counter:
//!
//! | entry point      | pc | used for |
//! |------------------|----|----------|
//! | `is_authorized`  | 0  | authorizer code |
//! | `refine`         | 0  | service code, in-core |
//! | `accumulate`     | 5  | service code, on-chain |
//!
//! A service's code therefore starts with a dispatch table of 5-byte jumps (`jump` with a 4-byte
//! offset), so that pc 5 lands on the second entry.
//!
//! Invariant of a parsed [`ServiceBlob`]: the program satisfies [`StandardProgram`]'s invariants
//! (its layout fits), so [`ServiceBlob::to_bytes`] succeeds for it and re-parses to an equal value.

use crate::error::{ParseError, Reader};
use crate::spi::{LayoutTooLarge, StandardProgram};
use crate::varint;

/// A JAM service or authorizer code blob: metadata and a standard program.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ServiceBlob {
    /// The metadata `m`, opaque to the PVM.
    pub metadata: Vec<u8>,
    /// The program, in the GP's standard program format.
    pub program: StandardProgram,
}

impl ServiceBlob {
    /// The pc where an authorizer's `is_authorized` starts.
    pub const IS_AUTHORIZED_ENTRY: u32 = 0;
    /// The pc where a service's `refine` starts.
    pub const REFINE_ENTRY: u32 = 0;
    /// The pc where a service's `accumulate` starts: the second 5-byte dispatch jump.
    pub const ACCUMULATE_ENTRY: u32 = 5;

    /// Reads a service blob that fills `bytes` exactly. Error offsets count from `bytes[0]`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, 0);
        let metadata_len = r.varint("the metadata length")?;
        let metadata = r.bytes(metadata_len, "the metadata")?.to_vec();
        let program_at = r.offset();
        let program = StandardProgram::parse_at(r.rest(), program_at)?;
        Ok(ServiceBlob { metadata, program })
    }

    /// The serialized blob. Fails when the program cannot be written as a standard program.
    pub fn to_bytes(&self) -> Result<Vec<u8>, LayoutTooLarge> {
        let program = self.program.to_bytes()?;
        let mut out = Vec::with_capacity(9 + self.metadata.len() + program.len());
        varint::encode(self.metadata.len() as u64, &mut out);
        out.extend_from_slice(&self.metadata);
        out.extend_from_slice(&program);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::CodeBlob;
    use crate::error::ParseErrorKind;

    /// `trap` as the only instruction.
    fn trap_program() -> StandardProgram {
        StandardProgram {
            ro_data: vec![0xAA],
            rw_data: vec![],
            heap_pages: 1,
            stack_size: 0x1000,
            code: CodeBlob {
                jump_table: vec![],
                code: vec![0],
                bitmask: vec![1],
            },
        }
    }

    #[test]
    fn exact_bytes_of_a_small_blob() {
        let blob = ServiceBlob {
            metadata: b"hi".to_vec(),
            program: trap_program(),
        };
        let bytes = blob.to_bytes().unwrap();
        #[rustfmt::skip]
        let expected = [
            2, b'h', b'i',          // E(|m|), m
            1, 0, 0,                // E3(|o|)
            0, 0, 0,                // E3(|w|)
            1, 0,                   // E2(z)
            0, 0x10, 0,             // E3(s)
            0xAA,                   // o
            5, 0, 0, 0,             // E4(|c|)
            0, 0, 1, 0, 1,          // code blob: |j|, z, |c|, trap, bitmask
        ];
        assert_eq!(bytes, expected);
        assert_eq!(ServiceBlob::parse(&bytes), Ok(blob));
    }

    #[test]
    fn long_metadata_uses_a_multi_byte_length() {
        let blob = ServiceBlob {
            metadata: vec![7; 200],
            program: trap_program(),
        };
        let bytes = blob.to_bytes().unwrap();
        assert_eq!(&bytes[..2], &[0x80, 200]);
        assert_eq!(ServiceBlob::parse(&bytes), Ok(blob));
    }

    #[test]
    fn errors_name_offsets_in_the_whole_input() {
        let good = ServiceBlob {
            metadata: b"hi".to_vec(),
            program: trap_program(),
        }
        .to_bytes()
        .unwrap();

        // Empty input: the length itself is missing.
        let err = ServiceBlob::parse(&[]).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(matches!(
            err.kind,
            ParseErrorKind::UnexpectedEnd { needed: 1, .. }
        ));

        // A non-canonical metadata length (2 written in two bytes).
        let err = ServiceBlob::parse(&[0x80, 2, b'h', b'i']).unwrap_err();
        assert_eq!(err.offset, 0);
        assert!(matches!(
            err.kind,
            ParseErrorKind::NonCanonicalVarint { .. }
        ));

        // A metadata length larger than the input.
        let err = ServiceBlob::parse(&[0xff; 9]).unwrap_err();
        assert_eq!(
            err,
            ParseError {
                offset: 9,
                kind: ParseErrorKind::UnexpectedEnd {
                    what: "the metadata",
                    needed: u64::MAX,
                    left: 0
                }
            }
        );

        // Truncated inside the program: the offset counts the metadata prefix.
        let err = ServiceBlob::parse(&good[..good.len() - 1]).unwrap_err();
        assert_eq!(err.offset, 19, "{err}");
        assert!(matches!(err.kind, ParseErrorKind::UnexpectedEnd { .. }));

        // A trailing byte after the program.
        let mut long = good.clone();
        long.push(0);
        let err = ServiceBlob::parse(&long).unwrap_err();
        assert_eq!(
            err,
            ParseError {
                offset: good.len(),
                kind: ParseErrorKind::TrailingBytes { count: 1 }
            }
        );

        // An oversize read-only data length in the SPI header.
        let mut oversize = good.clone();
        oversize[3..6].copy_from_slice(&[0xff, 0xff, 0xff]);
        let err = ServiceBlob::parse(&oversize).unwrap_err();
        assert_eq!(err.offset, 14, "{err}");
        assert!(matches!(err.kind, ParseErrorKind::UnexpectedEnd { .. }));
    }

    #[test]
    fn data_too_large_for_the_spi_is_refused() {
        let mut blob = ServiceBlob::default();
        blob.program.ro_data = vec![0; 1 << 24];
        assert_eq!(blob.to_bytes(), Err(LayoutTooLarge));
    }
}
