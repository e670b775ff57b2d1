//! Writing containers: the format an output's name implies, the container's bytes, and
//! atomic writes (a temporary file in the output's folder, renamed over the output only once
//! it is complete: a failure never leaves a partial or stale-looking file behind).

use anyhow::{anyhow, bail, Context, Result};
use pvm_isa::{ContainerFormat, Flavour, PolkavmContainer, ServiceBlob, StandardProgram};
use std::io::Write as _;
use std::path::Path;

/// The container an output file's extension asks for: `.jam` a JAM service blob, `.spi` or
/// `.pvm` a standard program, `.polkavm` polkavm's container, `.code`, `.bin` or `.blob` a
/// bare code blob.
pub fn format_from_extension(path: &Path, flag: &str) -> Result<ContainerFormat> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(match extension {
        "jam" => ContainerFormat::Service,
        "spi" | "pvm" => ContainerFormat::Spi,
        "polkavm" => ContainerFormat::Polkavm,
        "code" | "bin" | "blob" => ContainerFormat::CodeBlob,
        _ => bail!(
            "{}: cannot tell the container format from the name: use {flag} jam|spi|polkavm|code",
            path.display()
        ),
    })
}

/// The bytes of `program` in container `to`. `polkavm` is the `.polkavm` container to write
/// when it has exports; without it, a `.polkavm` container with none is made.
pub fn container_bytes(
    program: &StandardProgram,
    flavour: Flavour,
    to: ContainerFormat,
    polkavm: Option<PolkavmContainer>,
) -> Result<Vec<u8>> {
    Ok(match to {
        ContainerFormat::CodeBlob => {
            if !program.ro_data.is_empty() || !program.rw_data.is_empty() || program.heap_pages != 0
            {
                bail!(
                    "the program has data ({} bytes read-only, {} bytes read/write, {} heap \
                     pages), which a bare code blob cannot hold: write jam, spi or polkavm",
                    program.ro_data.len(),
                    program.rw_data.len(),
                    program.heap_pages
                );
            }
            program.code.to_bytes()
        }
        ContainerFormat::Spi => program.to_bytes()?,
        ContainerFormat::Service => ServiceBlob {
            metadata: Vec::new(),
            program: program.clone(),
        }
        .to_bytes()?,
        ContainerFormat::Polkavm => polkavm
            .unwrap_or_else(|| PolkavmContainer {
                flavour,
                program: program.clone(),
                imports: Vec::new(),
                exports: Vec::new(),
            })
            .to_bytes()?,
    })
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so a failure never
/// leaves a partial file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let cannot = || format!("{}: cannot write", path.display());
    if !dir.is_dir() {
        bail!(
            "{}: cannot write: there is no folder {}",
            path.display(),
            dir.display()
        );
    }
    // The error's kind only: tempfile's message names its random file, which means nothing
    // to the reader.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        anyhow!(
            "{}: cannot create a file in {}: {}",
            path.display(),
            dir.display(),
            e.kind()
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .with_context(cannot)?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(cannot)?;
    Ok(())
}
