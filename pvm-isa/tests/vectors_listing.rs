//! The official JAM PVM test vectors (v0.4, GP 0.7.2 numbering) through the parser, the
//! disassembler and the assembler: every program parses, every instruction decodes or is shown
//! as raw bytes, and assembling the listing gives back the same code blob, byte for byte.
//!
//! The vectors live in `../shared/testdata` beside the checkout (`TESTDATA_DIR` overrides it).
//! When the folder is absent the test says so loudly and checks nothing else.

use pvm_isa::{assemble, disassemble, CodeBlob, Flavour};
use std::path::PathBuf;

fn vector_programs() -> Option<Vec<(String, Vec<u8>)>> {
    let root = std::env::var_os("TESTDATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let dir = root.join("pvm-vectors-v0.4/programs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "\n!!!! SKIPPED: PVM test vectors not found at {} (set TESTDATA_DIR) !!!!\n",
            dir.display()
        );
        return None;
    };
    let mut programs: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("readable directory").path();
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).expect("readable vector"))
                    .expect("vector is JSON");
            let program = json["program"]
                .as_array()
                .expect("`program` is an array")
                .iter()
                .map(|b| b.as_u64().expect("byte") as u8)
                .collect();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                program,
            )
        })
        .collect();
    programs.sort();
    Some(programs)
}

#[test]
fn every_vector_parses_disassembles_and_reassembles_byte_for_byte() {
    let Some(programs) = vector_programs() else {
        return;
    };
    assert_eq!(programs.len(), 307, "the v0.4 set has 307 programs");
    let (mut instructions, mut raw) = (0, 0);
    for (name, bytes) in &programs {
        let blob = CodeBlob::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&blob.to_bytes(), bytes, "{name}: re-serialization differs");
        for (_, inst) in blob.instructions(Flavour::Gp072) {
            match inst {
                Ok(_) => instructions += 1,
                Err(_) => raw += 1,
            }
        }
        let listing = disassemble(&blob, Flavour::Gp072);
        let built =
            assemble(&listing, Flavour::Gp072).unwrap_or_else(|e| panic!("{name}: {e}\n{listing}"));
        assert_eq!(
            built.blob, blob,
            "{name}: reassembled code differs\n{listing}"
        );
    }
    eprintln!(
        "pvm-vectors-v0.4: {} programs, {instructions} instructions decoded, {raw} undecodable \
         (executed as trap), all reassembled byte for byte",
        programs.len()
    );
}
