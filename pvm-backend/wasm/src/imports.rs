//! What a wasm import becomes: a host call, a trap, or (for globals) a constant.
//!
//! JAM's host calls are built in under the import module `jam` (see [`ImportMap::jam`]); a
//! user mapping file adds or overrides entries, one per line:
//!
//! ```text
//! # comment
//! env.log = ecalli:100
//! env.abort = trap
//! spectest.global_i32 = const:666
//! ```
//!
//! An import the map does not resolve is a compile error that names it.

use pvm_isa::Flavour;
use std::collections::BTreeMap;

/// What one import is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportTarget {
    /// A function import made into `ecalli N`: arguments in r7..r12, results from r7, r8.
    HostCall(u32),
    /// A function import whose every call traps.
    Trap,
    /// A global import with this value (its bits, for any type).
    Const(i64),
}

/// The JAM host calls by name, numbered as GP 0.7.2 numbers them (`gp-0.7.2`). The draft GP 0.8
/// numbering that `jam-v1` follows inserts `grow_heap` at 1 and shifts every later call up by
/// one (PVM.md, "Host calls"). `log` is JIP-1's 100 in both.
const JAM_HOST_CALLS_GP_0_7_2: [&str; 27] = [
    "gas",
    "fetch",
    "lookup",
    "read",
    "write",
    "info",
    "historical_lookup",
    "export",
    "machine",
    "peek",
    "poke",
    "pages",
    "invoke",
    "expunge",
    "bless",
    "assign",
    "designate",
    "checkpoint",
    "new",
    "upgrade",
    "transfer",
    "eject",
    "query",
    "solicit",
    "forget",
    "yield",
    "provide",
];

/// JIP-1's `log` host call.
pub const JAM_LOG: u32 = 100;

/// The `grow_heap` host call of the draft GP 0.8 (`jam-v1` only): r7 = the desired end page of
/// the read/write region; returns the end page the region now has.
pub const JAM_GROW_HEAP: u32 = 1;

/// The number of the JAM host call `name` in `flavour`'s numbering.
pub fn jam_host_call(flavour: Flavour, name: &str) -> Option<u32> {
    if name == "log" {
        return Some(JAM_LOG);
    }
    if name == "grow_heap" {
        return (flavour == Flavour::JamV1).then_some(JAM_GROW_HEAP);
    }
    let index = JAM_HOST_CALLS_GP_0_7_2.iter().position(|&n| n == name)? as u32;
    Some(match flavour {
        Flavour::Gp072 => index,
        Flavour::JamV1 if index == 0 => 0,
        Flavour::JamV1 => index + 1,
    })
}

/// Import bindings by `(module, name)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportMap {
    entries: BTreeMap<(String, String), ImportTarget>,
}

/// A mapping file line that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ImportMapError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ImportMap {
    /// The built-in map: every JAM host call under module `jam`, in `flavour`'s numbering.
    pub fn jam(flavour: Flavour) -> Self {
        let mut map = ImportMap::default();
        let names = JAM_HOST_CALLS_GP_0_7_2
            .iter()
            .copied()
            .chain(["log", "grow_heap"]);
        for name in names {
            if let Some(index) = jam_host_call(flavour, name) {
                map.insert("jam", name, ImportTarget::HostCall(index));
            }
        }
        map
    }

    /// Binds `module.name` to `target`, replacing an earlier binding.
    pub fn insert(&mut self, module: &str, name: &str, target: ImportTarget) {
        self.entries
            .insert((module.to_string(), name.to_string()), target);
    }

    /// The binding of `module.name`.
    pub fn get(&self, module: &str, name: &str) -> Option<ImportTarget> {
        self.entries
            .get(&(module.to_string(), name.to_string()))
            .copied()
    }

    /// Adds the bindings of a mapping file (format in the module docs).
    pub fn parse_into(&mut self, text: &str) -> Result<(), ImportMapError> {
        for (number, line) in text.lines().enumerate() {
            let error = |message: String| ImportMapError {
                line: number + 1,
                message,
            };
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| error(format!("expected `module.name = target`, found `{line}`")))?;
            let (module, name) = key
                .trim()
                .split_once('.')
                .ok_or_else(|| error(format!("expected `module.name`, found `{}`", key.trim())))?;
            let value = value.trim();
            let target = if value == "trap" {
                ImportTarget::Trap
            } else if let Some(n) = value.strip_prefix("ecalli:") {
                ImportTarget::HostCall(
                    n.parse()
                        .map_err(|_| error(format!("bad host-call number `{n}`")))?,
                )
            } else if let Some(n) = value.strip_prefix("const:") {
                ImportTarget::Const(
                    n.parse()
                        .map_err(|_| error(format!("bad constant `{n}`")))?,
                )
            } else {
                return Err(error(format!(
                    "unknown target `{value}` (expected `ecalli:N`, `trap` or `const:N`)"
                )));
            };
            self.insert(module, name, target);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jam_numbering_per_flavour() {
        assert_eq!(jam_host_call(Flavour::Gp072, "gas"), Some(0));
        assert_eq!(jam_host_call(Flavour::Gp072, "fetch"), Some(1));
        assert_eq!(jam_host_call(Flavour::Gp072, "write"), Some(4));
        assert_eq!(jam_host_call(Flavour::Gp072, "grow_heap"), None);
        assert_eq!(jam_host_call(Flavour::JamV1, "gas"), Some(0));
        assert_eq!(jam_host_call(Flavour::JamV1, "grow_heap"), Some(1));
        assert_eq!(jam_host_call(Flavour::JamV1, "fetch"), Some(2));
        assert_eq!(jam_host_call(Flavour::JamV1, "provide"), Some(27));
        assert_eq!(jam_host_call(Flavour::JamV1, "log"), Some(100));
        assert_eq!(jam_host_call(Flavour::JamV1, "nope"), None);
    }

    #[test]
    fn mapping_file() {
        let mut map = ImportMap::jam(Flavour::JamV1);
        map.parse_into(
            "# x\nenv.f = ecalli:7\n env.g=trap \njam.log = ecalli:5\nspectest.g = const:-3\n",
        )
        .unwrap();
        assert_eq!(map.get("env", "f"), Some(ImportTarget::HostCall(7)));
        assert_eq!(map.get("env", "g"), Some(ImportTarget::Trap));
        assert_eq!(map.get("jam", "log"), Some(ImportTarget::HostCall(5)));
        assert_eq!(map.get("spectest", "g"), Some(ImportTarget::Const(-3)));
        assert_eq!(map.get("jam", "read"), Some(ImportTarget::HostCall(4)));
        let err = map.parse_into("ok.a = trap\nbad line\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = map.parse_into("a.b = ecalli:x").unwrap_err();
        assert_eq!(err.to_string(), "line 1: bad host-call number `x`");
    }
}
