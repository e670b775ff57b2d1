//! `test run`: the `; run:` lines of a file. A line may call any function of the file; it is
//! usually written after the function it calls.
//!
//! Besides cranelift-reader's `; run: %f(args) == values` and `!= values`, a line may say
//! `; run: %f(args) == trap`: the call must trap.

use crate::execute::{Executable, Outcome};
use cranelift_codegen::data_value::{DataValue, DisplayDataValues};
use cranelift_codegen::ir::Function;
use cranelift_reader::{parse_run_command, Comparison, Invocation, RunCommand};
use std::fmt;

/// What a run line expects.
enum Expected {
    /// The call returns values that compare so.
    Values(Comparison, Vec<DataValue>),
    /// The call traps.
    Trap,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Values(comparison, values) => {
                write!(f, "{comparison} {}", DisplayDataValues(values))
            }
            Expected::Trap => f.write_str("a trap"),
        }
    }
}

/// One `; run:` line.
pub(crate) struct RunLine {
    /// The call, as the line writes it.
    pub invocation: Invocation,
    expected: Expected,
}

impl RunLine {
    /// Parses one line of the file: `None` if it is not a run line; the index in `functions`
    /// of the function it calls and the line if it is one; an error if it is a run line that
    /// calls no function of the file or does not parse against that function's signature.
    pub fn parse(line: &str, functions: &[&Function]) -> Result<Option<(usize, RunLine)>, String> {
        let Some(comment) = line.trim_start().strip_prefix(';') else {
            return Ok(None);
        };
        let command = comment.trim_start_matches([';', ' ']).trim_end();
        let Some(rest) = command.strip_prefix("run") else {
            return Ok(None);
        };
        if !(rest.is_empty() || rest.starts_with([':', ' '])) {
            return Ok(None);
        }
        let called = rest
            .split_once('%')
            .and_then(|(_, call)| call.split_once('('))
            .map(|(name, _)| format!("%{}", name.trim()))
            .ok_or_else(|| format!("`{command}` calls no `%function`"))?;
        let (index, func) = functions
            .iter()
            .enumerate()
            .find(|(_, f)| f.name.to_string() == called)
            .ok_or_else(|| format!("`{command}` calls {called}, which the file does not define"))?;
        let trapping_call = rest
            .strip_prefix(':')
            .and_then(|r| r.strip_suffix("trap"))
            .and_then(|r| r.trim_end().strip_suffix("=="));
        let parsed = match trapping_call {
            Some(call) => parse_run_command(&format!("print: {call}"), &func.signature),
            None => parse_run_command(command, &func.signature),
        };
        let run = match parsed.map_err(|e| format!("`{command}`: {}", e.message))? {
            Some(RunCommand::Print(invocation)) => RunLine {
                invocation,
                expected: Expected::Trap,
            },
            Some(RunCommand::Run(invocation, comparison, values)) => RunLine {
                invocation,
                expected: Expected::Values(comparison, values),
            },
            None => return Err(format!("`{command}` is not a run command")),
        };
        Ok(Some((index, run)))
    }

    /// Makes the call; an error says what was expected and what happened.
    pub fn check(&self, executable: &Executable) -> Result<(), String> {
        let call = executable
            .call(&self.invocation.args)
            .map_err(|e| e.to_string())?;
        let passed = match (&self.expected, &call.outcome) {
            (Expected::Values(comparison, expected), Outcome::Returned(actual)) => {
                let equal = expected.len() == actual.len()
                    && expected.iter().zip(actual).all(|(e, a)| e.bitwise_eq(a));
                equal == (*comparison == Comparison::Equals)
            }
            (Expected::Trap, Outcome::Trapped(_)) => true,
            _ => false,
        };
        if passed {
            return Ok(());
        }
        let actual = match &call.outcome {
            Outcome::Returned(values) => DisplayDataValues(values).to_string(),
            Outcome::Trapped(exit) => format!("a trap ({exit})"),
        };
        Err(format!("expected {}, got {actual}", self.expected))
    }
}
