//! Loading a program from any of the containers this crate reads, named or detected.
//!
//! | [`ContainerFormat`] | name      | layout |
//! |---------------------|-----------|--------|
//! | `CodeBlob`          | `code`    | the GP code blob ([`CodeBlob`]) |
//! | `Spi`               | `spi`     | the GP standard program ([`StandardProgram`]) |
//! | `Service`           | `jam`     | a JAM service / authorizer blob ([`ServiceBlob`]) |
//! | `Polkavm`           | `polkavm` | polkavm's `.polkavm` ([`PolkavmContainer`]) |
//!
//! Every format becomes a [`StandardProgram`]. A bare code blob says nothing about memory, so
//! it gets no data, no heap and a stack of [`CODE_BLOB_STACK_SIZE`] bytes.
//!
//! # Detection
//!
//! With no format given, [`load_program`] decides deterministically:
//!
//! 1. input starting with polkavm's magic `PVM\0` is read as `.polkavm` and nothing else;
//! 2. otherwise the first of `jam`, `spi`, `code` that parses the whole input wins.
//!
//! Each of the three GP formats must consume its input exactly and checks its lengths, so
//! real programs parse as one format only; but nothing in the bytes names the format, and an
//! input crafted to parse as more than one is read as the first in that order (the returned
//! [`LoadedProgram::format`] says which). `jam` comes before `spi` because a service blob
//! with empty metadata is one byte away from an SPI, and it is the format JAM tooling passes
//! around. When every format fails, the error returned is the one found furthest into the
//! input (ties: the earliest format in the order above), which is usually the most telling.

use core::fmt;
use core::str::FromStr;

use crate::blob::CodeBlob;
use crate::error::ParseError;
use crate::polkavm_container::{Export, PolkavmContainer, POLKAVM_MAGIC};
use crate::service::ServiceBlob;
use crate::spi::StandardProgram;
use crate::table::Flavour;

/// The stack a bare code blob gets: enough for the small programs that ship as bare code
/// blobs (test vectors, snippets); a container that needs more states its size.
pub const CODE_BLOB_STACK_SIZE: u32 = 64 * 1024;

/// The containers a program can come in.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum ContainerFormat {
    /// A bare GP code blob: jump table, code and bitmask (`code`).
    CodeBlob,
    /// The GP's standard program initialization container (`spi`).
    Spi,
    /// A JAM service or authorizer code blob: metadata then an SPI (`jam`).
    Service,
    /// polkavm's `.polkavm` container (`polkavm`).
    Polkavm,
}

impl ContainerFormat {
    /// Every format, in the order [`load_program`] tries them when detecting.
    pub const ALL: [ContainerFormat; 4] = [
        ContainerFormat::Polkavm,
        ContainerFormat::Service,
        ContainerFormat::Spi,
        ContainerFormat::CodeBlob,
    ];

    /// The name used on command lines.
    pub const fn name(self) -> &'static str {
        match self {
            ContainerFormat::CodeBlob => "code",
            ContainerFormat::Spi => "spi",
            ContainerFormat::Service => "jam",
            ContainerFormat::Polkavm => "polkavm",
        }
    }
}

impl fmt::Display for ContainerFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown container format name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown container format `{0}` (expected `code`, `spi`, `jam` or `polkavm`)")]
pub struct UnknownContainerFormat(pub String);

impl FromStr for ContainerFormat {
    type Err = UnknownContainerFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContainerFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownContainerFormat(s.to_owned()))
    }
}

/// A program read by [`load_program`], with what its container said besides the program.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LoadedProgram {
    /// The container it came in.
    pub format: ContainerFormat,
    /// The program.
    pub program: StandardProgram,
    /// The opcode numbering, known only from a `.polkavm` container's version byte.
    pub flavour: Option<Flavour>,
    /// Named entry points (only `.polkavm` has them).
    pub exports: Vec<Export>,
    /// Imported symbols (only `.polkavm` has them).
    pub imports: Vec<String>,
    /// A service blob's metadata.
    pub metadata: Option<Vec<u8>>,
}

impl LoadedProgram {
    fn new(format: ContainerFormat, program: StandardProgram) -> Self {
        LoadedProgram {
            format,
            program,
            flavour: None,
            exports: Vec::new(),
            imports: Vec::new(),
            metadata: None,
        }
    }
}

/// Reads a program in `format`, or in the detected format if `None` (see the module docs).
/// Error offsets count from `bytes[0]`.
pub fn load_program(
    bytes: &[u8],
    format: Option<ContainerFormat>,
) -> Result<LoadedProgram, ParseError> {
    match format {
        Some(format) => load_as(bytes, format),
        None if bytes.starts_with(&POLKAVM_MAGIC) => load_as(bytes, ContainerFormat::Polkavm),
        None => {
            let mut furthest = match load_as(bytes, ContainerFormat::Service) {
                Ok(loaded) => return Ok(loaded),
                Err(e) => e,
            };
            for format in [ContainerFormat::Spi, ContainerFormat::CodeBlob] {
                match load_as(bytes, format) {
                    Ok(loaded) => return Ok(loaded),
                    Err(e) if e.offset > furthest.offset => furthest = e,
                    Err(_) => {}
                }
            }
            Err(furthest)
        }
    }
}

fn load_as(bytes: &[u8], format: ContainerFormat) -> Result<LoadedProgram, ParseError> {
    Ok(match format {
        ContainerFormat::CodeBlob => {
            let program = StandardProgram {
                stack_size: CODE_BLOB_STACK_SIZE,
                code: CodeBlob::parse(bytes)?,
                ..StandardProgram::default()
            };
            LoadedProgram::new(format, program)
        }
        ContainerFormat::Spi => LoadedProgram::new(format, StandardProgram::parse(bytes)?),
        ContainerFormat::Service => {
            let blob = ServiceBlob::parse(bytes)?;
            LoadedProgram {
                metadata: Some(blob.metadata),
                ..LoadedProgram::new(format, blob.program)
            }
        }
        ContainerFormat::Polkavm => {
            let c = PolkavmContainer::parse(bytes)?;
            LoadedProgram {
                flavour: Some(c.flavour),
                exports: c.exports,
                imports: c.imports,
                ..LoadedProgram::new(format, c.program)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    fn trap() -> CodeBlob {
        CodeBlob {
            jump_table: vec![],
            code: vec![0],
            bitmask: vec![1],
        }
    }

    fn program() -> StandardProgram {
        StandardProgram {
            ro_data: vec![1, 2, 3],
            rw_data: vec![4],
            heap_pages: 1,
            stack_size: 4096,
            code: trap(),
        }
    }

    #[test]
    fn names_round_trip() {
        for format in ContainerFormat::ALL {
            assert_eq!(format.to_string().parse(), Ok(format));
        }
        assert_eq!(
            "elf".parse::<ContainerFormat>(),
            Err(UnknownContainerFormat("elf".into()))
        );
        assert_eq!(ContainerFormat::Service.to_string(), "jam");
    }

    #[test]
    fn each_format_is_detected_as_itself() {
        let code = trap().to_bytes();
        let spi = program().to_bytes().unwrap();
        let service = ServiceBlob {
            metadata: vec![],
            program: program(),
        }
        .to_bytes()
        .unwrap();
        let polkavm = PolkavmContainer {
            flavour: Flavour::Gp072,
            program: program(),
            imports: vec![],
            exports: vec![Export {
                pc: 0,
                name: "main".into(),
            }],
        }
        .to_bytes()
        .unwrap();

        let loaded = load_program(&code, None).unwrap();
        assert_eq!(loaded.format, ContainerFormat::CodeBlob);
        assert_eq!(loaded.program.stack_size, CODE_BLOB_STACK_SIZE);
        assert_eq!(loaded.program.code, trap());
        assert!(loaded.program.ro_data.is_empty() && loaded.program.heap_pages == 0);

        let loaded = load_program(&spi, None).unwrap();
        assert_eq!(loaded.format, ContainerFormat::Spi);
        assert_eq!(loaded.program, program());
        assert_eq!(loaded.metadata, None);

        let loaded = load_program(&service, None).unwrap();
        assert_eq!(loaded.format, ContainerFormat::Service);
        assert_eq!(loaded.program, program());
        assert_eq!(loaded.metadata, Some(vec![]));

        let loaded = load_program(&polkavm, None).unwrap();
        assert_eq!(loaded.format, ContainerFormat::Polkavm);
        assert_eq!(loaded.program, program());
        assert_eq!(loaded.flavour, Some(Flavour::Gp072));
        assert_eq!(loaded.exports[0].name, "main");

        // Named formats agree with detection, and a wrong name fails.
        for (bytes, format) in [
            (&code, ContainerFormat::CodeBlob),
            (&spi, ContainerFormat::Spi),
            (&service, ContainerFormat::Service),
            (&polkavm, ContainerFormat::Polkavm),
        ] {
            assert_eq!(load_program(bytes, Some(format)), load_program(bytes, None));
            for other in ContainerFormat::ALL.into_iter().filter(|&f| f != format) {
                assert!(
                    load_program(bytes, Some(other)).is_err(),
                    "{format} as {other}"
                );
            }
        }
    }

    #[test]
    fn polkavm_magic_decides_alone() {
        let err = load_program(b"PVM\0\x09", None).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnsupportedVersion { version: 9 });
    }

    #[test]
    fn detection_failure_reports_the_furthest_error() {
        // An SPI with one byte missing: as `jam` it fails at offset 0 or soon after, as `code`
        // early too, as `spi` at the code blob, furthest in.
        let spi = program().to_bytes().unwrap();
        let cut = &spi[..spi.len() - 1];
        let err = load_program(cut, None).unwrap_err();
        assert_eq!(err, StandardProgram::parse(cut).unwrap_err());
        assert_eq!(load_program(&[], None).unwrap_err().offset, 0);
    }
}
