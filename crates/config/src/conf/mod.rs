//! The NATS configuration dialect: text in, a tree of positioned [`Value`]s out.
//!
//! This module owns the grammar nats-server's `conf` package accepts (`key: value`,
//! `key = value`, `key value`, `{}` maps, `[]` arrays, `#`/`//` comments, quoted, unquoted and
//! block strings, numbers with size suffixes, Zulu datetimes, `include`, `$VARIABLES`), and the
//! exact error texts nats-server prints for bad input. It knows nothing about what the keys
//! mean: that is the `options` module's job. It never panics on any input and bounds nesting
//! depth and include depth so hostile input cannot exhaust the stack.
//!
//! Positions follow nats-server's convention so error messages match byte for byte: `line` is
//! 1-based; `col` is the byte offset from the newline that starts the line, which makes it
//! 0-based on line 1 and 1-based on every later line. A map entry's value carries the position
//! of its *key* (nats-server reports errors there); array elements carry their own position.

mod digest;
mod parse;
mod scan;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use digest::config_digest;
pub use parse::{parse_file_with_env, parse_str_with_env};

/// Deepest nesting of maps and arrays accepted; deeper input is an error, not a stack overflow.
pub const NESTING_DEPTH_MAX: usize = 128;
/// Deepest chain of `include`s accepted (an include cycle hits this and fails cleanly).
pub const INCLUDE_DEPTH_MAX: usize = 32;

/// Where a value (or an error) sits in its source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pos {
    /// The file as it was named (the `-c` argument, or an include path joined to the including
    /// file's directory); `None` for text parsed from a string or the environment.
    pub file: Option<Arc<str>>,
    /// 1-based line.
    pub line: usize,
    /// nats-server's column: bytes from the newline that starts the line (0-based on line 1).
    pub col: usize,
}

impl fmt::Display for Pos {
    /// `file:line:col`, the form nats-server prints before a configuration error. Line 0 is
    /// the command line (flags have no place in a file).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 && self.file.is_none() {
            return f.write_str("command line");
        }
        let file = self.file.as_deref().unwrap_or("");
        write!(f, "{file}:{}:{}", self.line, self.col)
    }
}

/// A parsed configuration value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    /// Entries in source order. Keys are case-sensitive here; a key defined twice keeps its
    /// first place and its last value, like nats-server's Go map.
    Map(Vec<(String, Spanned)>),
    Array(Vec<Spanned>),
    /// An ISO 8601 Zulu datetime, validated, kept as written (`2016-05-04T18:53:41Z`).
    DateTime(String),
}

impl Value {
    /// The Go type name nats-server would print for this value (`int64`, `string`, ...).
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::Map(_) => "map[string]interface {}",
            Value::Array(_) => "[]interface {}",
            Value::DateTime(_) => "time.Time",
        }
    }

    /// Looks a key up in a map, exactly (case-sensitive). `None` for non-maps.
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// A value with the position nats-server attributes to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub value: Value,
    pub pos: Pos,
    /// True when a later `$reference` used this entry as a variable. nats-server does not report
    /// such entries as unknown fields (`PORT = 4222` then `port: $PORT` is valid).
    pub used_as_variable: bool,
}

impl Spanned {
    pub fn new(value: Value, pos: Pos) -> Spanned {
        Spanned {
            value,
            pos,
            used_as_variable: false,
        }
    }
}

/// Why a configuration text could not be parsed. `Display` gives nats-server's wording.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfError {
    /// A lexical or structural error. nats-server: `Parse error on line N: '...'`.
    #[error("Parse error on line {}: '{msg}'", pos.line)]
    Syntax { msg: String, pos: Pos },
    /// The text ended right after a key.
    #[error("config is invalid ({pos})")]
    Incomplete { pos: Pos },
    #[error("integer '{text}' is out of the range")]
    IntegerRange { text: String, pos: Pos },
    /// Deviation: nats-server silently drops a key whose number has a suffix such as `1kbb`.
    #[error("invalid size suffix in '{text}'")]
    SizeSuffix { text: String, pos: Pos },
    #[error("float '{text}' is out of the range")]
    FloatRange { text: String, pos: Pos },
    #[error("expected Zulu formatted DateTime, but got '{text}'")]
    DateTime { text: String, pos: Pos },
    #[error("variable reference for '{name}' on line {} can not be found", pos.line)]
    VariableNotFound { name: String, pos: Pos },
    #[error("variable reference for '{name}' on line {} could not be parsed: {source}", pos.line)]
    VariableParse {
        name: String,
        pos: Pos,
        source: Box<ConfError>,
    },
    #[error("variable reference cycle for '{name}'")]
    VariableCycle { name: String, pos: Pos },
    /// An included file failed; `include` is the path as written after `include`.
    #[error("error parsing include file '{include}', {source}")]
    Include {
        include: String,
        pos: Pos,
        source: Box<ConfError>,
    },
    /// Reading a file failed; the text mimics Go's (`open x.conf: no such file or directory`).
    #[error("{op} {path}: {reason}")]
    Io {
        op: &'static str,
        path: String,
        reason: String,
    },
    #[error("Parse error on line {}: 'maps and arrays nested deeper than {max} levels'", pos.line)]
    TooDeep { max: usize, pos: Pos },
    #[error("error parsing include file '{include}', includes nested deeper than {max} levels")]
    IncludeTooDeep {
        include: String,
        max: usize,
        pos: Pos,
    },
}

impl ConfError {
    /// Where the error was found, when it has a place (I/O errors do not).
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            ConfError::Io { .. } => None,
            ConfError::Syntax { pos, .. }
            | ConfError::Incomplete { pos }
            | ConfError::IntegerRange { pos, .. }
            | ConfError::SizeSuffix { pos, .. }
            | ConfError::FloatRange { pos, .. }
            | ConfError::DateTime { pos, .. }
            | ConfError::VariableNotFound { pos, .. }
            | ConfError::VariableParse { pos, .. }
            | ConfError::VariableCycle { pos, .. }
            | ConfError::Include { pos, .. }
            | ConfError::TooDeep { pos, .. }
            | ConfError::IncludeTooDeep { pos, .. } => Some(pos),
        }
    }
}

/// Parses configuration text; `include` paths resolve against the working directory and
/// `$VARIABLES` fall back to the process environment. Returns the top-level map.
pub fn parse_str(text: &str) -> Result<Spanned, ConfError> {
    parse_str_with_env(text, &|name| std::env::var(name).ok())
}

/// Parses a configuration file; `include` paths resolve against its directory. The file name
/// in positions is `path` as given. JSON files parse too (the dialect is a superset).
pub fn parse_file(path: &Path) -> Result<Spanned, ConfError> {
    parse_file_with_env(path, &|name| std::env::var(name).ok())
}

/// Formats an I/O error the way Go's `os` package does (`no such file or directory`).
pub(crate) fn go_io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => "no such file or directory".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let text = err.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests;
