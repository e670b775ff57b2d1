//! A test file's header: the `test`, `target` and `set` lines before the first function.
//!
//! cranelift-reader does not know `target pvm`, so the header is read here and its lines are
//! blanked (not removed) before the rest goes to the reader: line numbers stay those of the file.

use pvm_isa::Flavour;

/// What a file asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TestKind {
    /// `test compile`: every function compiles.
    Compile,
    /// `test compile precise-output`: the VCode and disassembly match the comments after each
    /// function.
    PreciseOutput,
    /// `test run`: every `; run:` line holds.
    Run,
}

/// A parsed header.
#[derive(Debug)]
pub(crate) struct Header {
    /// The tests, each once, in file order.
    pub tests: Vec<TestKind>,
    /// One flavour per `target pvm` line; tests run under each.
    pub flavours: Vec<Flavour>,
    /// `set opt_level=speed` (Cranelift's default is `none`).
    pub optimize: bool,
}

/// A header error: the 1-based line and what is wrong.
pub(crate) type HeaderError = (usize, String);

/// Reads the header of `text`; returns it with the text whose header lines are blank.
pub(crate) fn parse(text: &str) -> Result<(Header, String), HeaderError> {
    let mut header = Header {
        tests: Vec::new(),
        flavours: Vec::new(),
        optimize: false,
    };
    let mut body = String::with_capacity(text.len());
    let mut lines = text.split_inclusive('\n').enumerate();
    for (index, line) in lines.by_ref() {
        let number = index + 1;
        let mut words = line.split_whitespace();
        let is_header = match words.next() {
            None => false,
            Some(word) if word.starts_with(';') => false,
            Some("test") => {
                let kind = test_kind(words.collect()).map_err(|e| (number, e))?;
                if !header.tests.contains(&kind) {
                    header.tests.push(kind);
                }
                true
            }
            Some("target") => {
                let flavour = target(words.collect()).map_err(|e| (number, e))?;
                header.flavours.push(flavour);
                true
            }
            Some("set") => {
                for setting in words {
                    header.optimize = opt_level(setting).map_err(|e| (number, e))?;
                }
                true
            }
            Some(_) => {
                body.push_str(line);
                break;
            }
        };
        body.push_str(if is_header { blank(line) } else { line });
    }
    body.extend(lines.map(|(_, line)| line));
    check(&header)?;
    Ok((header, body))
}

fn blank(line: &str) -> &str {
    if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

fn test_kind(words: Vec<&str>) -> Result<TestKind, String> {
    match words[..] {
        ["compile"] => Ok(TestKind::Compile),
        ["compile", "precise-output"] => Ok(TestKind::PreciseOutput),
        ["run"] => Ok(TestKind::Run),
        _ => Err(format!(
            "unknown test `{}`: expected `test compile`, `test compile precise-output` or `test run`",
            words.join(" ")
        )),
    }
}

fn target(words: Vec<&str>) -> Result<Flavour, String> {
    match words[..] {
        ["pvm"] => Ok(Flavour::default()),
        ["pvm", flavour] => flavour
            .parse()
            .map_err(|e: pvm_isa::UnknownFlavour| e.to_string()),
        _ => Err(format!(
            "unsupported target `{}`: expected `target pvm [jam-v1|gp-0.7.2]`",
            words.join(" ")
        )),
    }
}

fn opt_level(setting: &str) -> Result<bool, String> {
    match setting {
        "opt_level=none" => Ok(false),
        "opt_level=speed" => Ok(true),
        _ => Err(format!(
            "unsupported setting `{setting}`: expected `opt_level=none` or `opt_level=speed`"
        )),
    }
}

fn check(header: &Header) -> Result<(), HeaderError> {
    let has = |kind| header.tests.contains(&kind);
    if header.tests.is_empty() {
        return Err((
            1,
            "no `test` line: expected `test compile precise-output` or `test run`".into(),
        ));
    }
    if header.flavours.is_empty() {
        return Err((1, "no `target pvm` line".into()));
    }
    if has(TestKind::PreciseOutput) && has(TestKind::Run) {
        return Err((
            1,
            "`test compile precise-output` and `test run` need separate files: both own the comments after a function".into(),
        ));
    }
    if has(TestKind::PreciseOutput) && header.flavours.len() > 1 {
        return Err((
            1,
            "`test compile precise-output` needs exactly one `target` line".into(),
        ));
    }
    Ok(())
}
