//! Structure of the conf dialect: the top level (with optional surrounding braces), maps,
//! arrays, `include` and `$VARIABLE` resolution. Scalars are scanned in `scan.rs`.
//!
//! This is a hand-written recursive-descent parser that reproduces what nats-server's lexer
//! accepts, including its separators and error texts. It deliberately departs from it only where
//! nats-server yields garbage or crashes (see the crate's report): numbers may end at `]` inside
//! an array (`[1]`, rejected by nats-server), a map key without a value is an error, and nesting
//! and include depth are bounded.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::scan::Scalar;
use super::{go_io_reason, ConfError, Pos, Spanned, Value, INCLUDE_DEPTH_MAX, NESTING_DEPTH_MAX};

/// Looks up an environment variable; injectable so tests do not mutate the process environment.
pub type EnvLookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// Parses `text` with `env` as the environment. Includes resolve against the working directory.
pub fn parse_str_with_env(text: &str, env: EnvLookup<'_>) -> Result<Spanned, ConfError> {
    Parser::new(text, None, ".".to_string(), env, 0, 0).parse_document()
}

/// Parses the file at `path` with `env` as the environment.
pub fn parse_file_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Spanned, ConfError> {
    let name = path.to_string_lossy().into_owned();
    load_file(&name, env, 0, 0)
}

/// Reads and parses one file. `include_depth` and `depth` continue the including file's counts
/// so a chain of includes cannot nest deeper than one file could.
fn load_file(
    name: &str,
    env: EnvLookup<'_>,
    include_depth: usize,
    depth: usize,
) -> Result<Spanned, ConfError> {
    let bytes = std::fs::read(name).map_err(|e| ConfError::Io {
        op: if e.kind() == std::io::ErrorKind::IsADirectory {
            "read"
        } else {
            "open"
        },
        path: name.to_string(),
        reason: go_io_reason(&e),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let dir = go_dir(name);
    Parser::new(&text, Some(Arc::from(name)), dir, env, include_depth, depth).parse_document()
}

/// What a key-value step found.
enum Step {
    Done,
    /// A top-level key ran into the end of the text (tolerated only for a stray `}`).
    Eof,
}

/// The top level's states: outside braces, inside braces, and after a nested block closed.
#[derive(Clone, Copy, PartialEq)]
enum Top {
    Start,
    BlockStart,
    BlockEnd,
}

pub(super) struct Parser<'a, 'e> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    newlines: Vec<usize>,
    file: Option<Arc<str>>,
    /// Directory of this file in Go's path form, for joining include paths.
    dir: String,
    /// Maps under construction, innermost last: the scopes `$VARIABLES` resolve in.
    scopes: Vec<Vec<(String, Spanned)>>,
    /// Environment variables being expanded, to detect `A=$A` cycles.
    env_refs: HashSet<String>,
    env: EnvLookup<'e>,
    depth: usize,
    include_depth: usize,
}

impl<'a, 'e> Parser<'a, 'e> {
    fn new(
        src: &'a str,
        file: Option<Arc<str>>,
        dir: String,
        env: EnvLookup<'e>,
        include_depth: usize,
        depth: usize,
    ) -> Self {
        let newlines = src
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Parser {
            src,
            pos: 0,
            newlines,
            file,
            dir,
            scopes: Vec::new(),
            env_refs: HashSet::new(),
            env,
            depth,
            include_depth,
        }
    }

    // ----- cursor and positions -----

    pub(super) fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    pub(super) fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_while(&mut self, pred: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !pred(c) {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    /// nats-server's position of the byte at `offset`.
    pub(super) fn pos_at(&self, offset: usize) -> Pos {
        let nl_before = self.newlines.partition_point(|&n| n < offset);
        let col = if nl_before == 0 {
            offset
        } else {
            offset - self.newlines[nl_before - 1]
        };
        Pos {
            file: self.file.clone(),
            line: nl_before + 1,
            col,
        }
    }

    /// A syntax error at the cursor; like nats-server, the line counts every newline consumed.
    pub(super) fn syntax(&self, msg: impl Into<String>) -> ConfError {
        ConfError::Syntax {
            msg: msg.into(),
            pos: self.pos_at(self.pos),
        }
    }

    /// Consumes the offending character (if any) and reports it the way nats-server quotes it.
    pub(super) fn unexpected(&mut self, template: &str) -> ConfError {
        let c = self.bump();
        self.syntax(template.replace("{}", &show_char(c)))
    }

    /// `#` or `//` comment: everything up to (not including) the end of the line.
    fn skip_comment(&mut self) {
        self.skip_while(|c| c != '\n' && c != '\r');
    }

    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek2() == Some('/'),
            _ => false,
        }
    }

    // ----- top level -----

    pub(super) fn parse_document(mut self) -> Result<Spanned, ConfError> {
        self.scopes.push(Vec::new());
        self.top_level()?;
        let entries = self.scopes.pop().unwrap_or_default();
        let pos = Pos {
            file: self.file.clone(),
            line: 1,
            col: 0,
        };
        Ok(Spanned::new(Value::Map(entries), pos))
    }

    fn top_level(&mut self) -> Result<(), ConfError> {
        let mut returns: Vec<Top> = Vec::new();
        let mut state = Top::Start;
        loop {
            if state == Top::BlockEnd {
                state = self.block_end(&mut returns)?;
                continue;
            }
            self.skip_while(char::is_whitespace);
            let in_block = state == Top::BlockStart;
            match self.peek() {
                None => return Ok(()),
                Some('{') => {
                    if returns.len() >= NESTING_DEPTH_MAX {
                        return Err(self.too_deep());
                    }
                    self.bump();
                    returns.push(if in_block { Top::BlockEnd } else { Top::Start });
                    state = Top::BlockStart;
                }
                Some('}') if in_block => {
                    self.bump();
                    state = returns.pop().unwrap_or(Top::Start);
                }
                _ if self.at_comment() => self.skip_comment(),
                Some('/') => {
                    self.bump();
                    return Err(self.syntax("Unexpected EOF."));
                }
                Some(_) => {
                    if let Step::Eof = self.top_key_value()? {
                        return Ok(());
                    }
                    state = if in_block {
                        self.block_value_end()?
                    } else {
                        self.top_value_end()?;
                        Top::Start
                    };
                }
            }
        }
    }

    fn top_value_end(&mut self) -> Result<(), ConfError> {
        loop {
            match self.peek() {
                Some(' ' | '\t') => {
                    self.bump();
                }
                _ if self.at_comment() => {
                    self.skip_comment();
                    return Ok(());
                }
                Some('/') => {
                    // nats-server treats a lone '/' here like a blank.
                    self.bump();
                }
                None => return Ok(()),
                Some('\n' | '\r' | ';' | ',' | '}') => {
                    self.bump();
                    return Ok(());
                }
                Some(_) => {
                    return Err(self.unexpected(
                        "Expected a top-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                    ))
                }
            }
        }
    }

    fn block_value_end(&mut self) -> Result<Top, ConfError> {
        loop {
            match self.peek() {
                Some(' ' | '\t') => {
                    self.bump();
                }
                _ if self.at_comment() => self.skip_comment(),
                Some('/') => {
                    self.bump();
                }
                Some('\n' | '\r' | ';' | ',') => {
                    self.bump();
                    return Ok(Top::BlockStart);
                }
                Some('}') => return Ok(Top::BlockEnd),
                _ => {
                    return Err(self.unexpected(
                        "Expected a block-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                    ))
                }
            }
        }
    }

    fn block_end(&mut self, returns: &mut Vec<Top>) -> Result<Top, ConfError> {
        loop {
            match self.peek() {
                Some('\n' | '\r' | ' ' | '\t') => {
                    self.bump();
                }
                _ if self.at_comment() => {
                    self.skip_comment();
                    return Ok(Top::BlockStart);
                }
                Some('/') => {
                    self.bump();
                }
                Some(';' | ',') => {
                    self.bump();
                    return Ok(Top::BlockStart);
                }
                Some('}') => {
                    self.bump();
                    return Ok(returns.pop().unwrap_or(Top::Start));
                }
                _ => {
                    return Err(self.unexpected(
                        "Expected a block-level to end with a '}', but got '{}' instead.",
                    ))
                }
            }
        }
    }

    /// A key and its value at the top level (inside or outside top-level braces).
    fn top_key_value(&mut self) -> Result<Step, ConfError> {
        let key_start;
        let key = match self.peek() {
            Some(c @ ('=' | ':')) => {
                return Err(self.syntax(format!("Unexpected key separator '{c}'")));
            }
            Some(q @ ('"' | '\'')) => {
                self.bump();
                if self.peek().is_none() {
                    // nats-server ends quietly on a quote that opens nothing.
                    return Ok(Step::Eof);
                }
                key_start = self.pos;
                self.quoted_key(q, "Unexpected EOF.")?
            }
            _ => {
                key_start = self.pos;
                let (key, include) = self.unquoted_key(false)?;
                if include {
                    self.include()?;
                    return Ok(Step::Done);
                }
                key
            }
        };
        self.skip_while(char::is_whitespace);
        match self.peek() {
            Some('=' | ':') => {
                self.bump();
            }
            None if key == "}" => return Ok(Step::Eof),
            None => {
                return Err(ConfError::Incomplete {
                    pos: self.pos_at(self.pos),
                })
            }
            Some(_) => {}
        }
        let mut value = self.parse_value(false)?;
        value.pos = self.pos_at(key_start);
        self.insert(key, value);
        Ok(Step::Done)
    }

    /// Text between quotes, no escapes. The opening quote is consumed.
    fn quoted_key(&mut self, quote: char, eof_msg: &str) -> Result<String, ConfError> {
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.syntax(eof_msg)),
                Some(c) if c == quote => {
                    let key = self.src[start..self.pos].to_string();
                    self.bump();
                    return Ok(key);
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    /// An unquoted key: its first character is taken as is, then up to a blank or separator.
    /// Returns the key and whether it is the `include` keyword.
    fn unquoted_key(&mut self, in_map: bool) -> Result<(String, bool), ConfError> {
        let start = self.pos;
        if self.bump().is_none() && in_map {
            return Err(self.syntax("Unexpected EOF processing map key."));
        }
        loop {
            match self.peek() {
                None if in_map => return Err(self.syntax("Unexpected EOF processing map key.")),
                None | Some('=' | ':') => {
                    return Ok((self.src[start..self.pos].to_string(), false))
                }
                Some(c) if c.is_whitespace() => {
                    let key = &self.src[start..self.pos];
                    return Ok((key.to_string(), key.to_lowercase() == "include"));
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    // ----- values -----

    /// Any value. Blanks (not newlines) may precede it.
    pub(super) fn parse_value(&mut self, in_array: bool) -> Result<Spanned, ConfError> {
        self.skip_while(|c| c == ' ' || c == '\t');
        let start = self.pos;
        let value = match self.peek() {
            Some('[') => {
                self.bump();
                self.parse_array()?
            }
            Some('{') => {
                self.bump();
                self.parse_map()?
            }
            _ => match self.scalar(in_array)? {
                Scalar::Value(v) => v,
                Scalar::Variable(name) => return self.resolve_variable(name, start),
            },
        };
        Ok(Spanned::new(value, self.pos_at(start)))
    }

    fn enter(&mut self) -> Result<(), ConfError> {
        if self.depth >= NESTING_DEPTH_MAX {
            return Err(self.too_deep());
        }
        self.depth += 1;
        Ok(())
    }

    fn too_deep(&self) -> ConfError {
        ConfError::TooDeep {
            max: NESTING_DEPTH_MAX,
            pos: self.pos_at(self.pos),
        }
    }

    /// After `[`: values separated by commas or newlines, comments allowed, trailing comma ok.
    fn parse_array(&mut self) -> Result<Value, ConfError> {
        self.enter()?;
        let mut items = Vec::new();
        let result = self.array_items(&mut items);
        self.depth -= 1;
        result.map(|()| Value::Array(items))
    }

    fn array_items(&mut self, items: &mut Vec<Spanned>) -> Result<(), ConfError> {
        loop {
            // Before a value.
            loop {
                match self.peek() {
                    Some(c) if c.is_whitespace() => {
                        self.bump();
                    }
                    _ if self.at_comment() => self.skip_comment(),
                    Some('/') => {
                        // nats-server reports a lone '/' here as if it were a comma.
                        self.bump();
                        return Err(self.syntax("Unexpected array value terminator ','."));
                    }
                    Some(',') => {
                        return Err(self.unexpected("Unexpected array value terminator '{}'."))
                    }
                    Some(']') => {
                        self.bump();
                        return Ok(());
                    }
                    _ => break,
                }
            }
            items.push(self.parse_value(true)?);
            // After a value.
            loop {
                match self.peek() {
                    Some(' ' | '\t') => {
                        self.bump();
                    }
                    _ if self.at_comment() => self.skip_comment(),
                    Some('/' | ',' | '\n' | '\r') => {
                        // A lone '/' separates values in nats-server too.
                        self.bump();
                        break;
                    }
                    Some(']') => {
                        self.bump();
                        return Ok(());
                    }
                    _ => return Err(self.unexpected(
                        "Expected an array value terminator \",\" or an array terminator \"]\", \
                             but got '{}' instead.",
                    )),
                }
            }
        }
    }

    /// After `{`: a map, which is also a new scope for variables.
    fn parse_map(&mut self) -> Result<Value, ConfError> {
        self.enter()?;
        self.scopes.push(Vec::new());
        let result = self.map_entries();
        let entries = self.scopes.pop().unwrap_or_default();
        self.depth -= 1;
        result.map(|()| Value::Map(entries))
    }

    fn map_entries(&mut self) -> Result<(), ConfError> {
        loop {
            let key_start;
            let key = match self.peek() {
                None => return Err(self.syntax("Unexpected EOF processing map.")),
                Some(c @ ('=' | ':')) => {
                    return Err(self.syntax(format!("Unexpected key separator '{c}'.")));
                }
                Some(c @ ']') => {
                    return Err(self.syntax(format!("Unexpected array end '{c}' processing map.")));
                }
                Some(c) if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                Some('}') => {
                    self.bump();
                    return Ok(());
                }
                _ if self.at_comment() => {
                    self.skip_comment();
                    continue;
                }
                Some(q @ ('"' | '\'')) => {
                    self.bump();
                    key_start = self.pos;
                    let msg = if q == '"' {
                        "Unexpected EOF processing double quoted map key."
                    } else {
                        "Unexpected EOF processing quoted map key."
                    };
                    Some(self.quoted_key(q, msg)?)
                }
                Some(c) => {
                    if c == '/' {
                        // nats-server drops a lone '/' before a map key.
                        self.bump();
                    }
                    key_start = self.pos;
                    let (key, include) = self.unquoted_key(true)?;
                    if include {
                        self.include()?;
                        None
                    } else {
                        Some(key)
                    }
                }
            };
            if let Some(key) = key {
                self.map_value(key, key_start)?;
            }
            if self.map_value_end()? {
                return Ok(());
            }
        }
    }

    fn map_value(&mut self, key: String, key_start: usize) -> Result<(), ConfError> {
        self.skip_while(char::is_whitespace);
        if let Some('=' | ':') = self.peek() {
            self.bump();
        }
        self.skip_while(char::is_whitespace);
        match self.peek() {
            Some(',') => Err(self.unexpected("Unexpected map value terminator \"{}\".")),
            Some('}') => Err(self.syntax(format!("Expected a value for key '{key}'."))),
            _ => {
                let mut value = self.parse_value(false)?;
                value.pos = self.pos_at(key_start);
                self.insert(key, value);
                Ok(())
            }
        }
    }

    /// Between map entries. Returns true when the map closed.
    fn map_value_end(&mut self) -> Result<bool, ConfError> {
        loop {
            match self.peek() {
                Some(' ' | '\t') => {
                    self.bump();
                }
                _ if self.at_comment() => self.skip_comment(),
                Some('/' | ';' | ',' | '\n' | '\r') => {
                    self.bump();
                    return Ok(false);
                }
                Some('}') => {
                    self.bump();
                    return Ok(true);
                }
                _ => {
                    return Err(self.unexpected(
                        "Expected a map value terminator \",\" or a map terminator \"}\", \
                         but got '{}' instead.",
                    ))
                }
            }
        }
    }

    /// Adds an entry to the innermost map; a repeated key keeps its place and takes the new value.
    fn insert(&mut self, key: String, value: Spanned) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        match scope.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => scope.push((key, value)),
        }
    }

    // ----- include -----

    /// After the `include` keyword: a path, quoted or not, relative to this file's directory.
    fn include(&mut self) -> Result<(), ConfError> {
        self.skip_while(|c| c == ' ' || c == '\t');
        let at = self.pos;
        let path = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                let msg = if q == '"' {
                    "Unexpected EOF in double quoted include"
                } else {
                    "Unexpected EOF in quoted include"
                };
                self.quoted_key(q, msg)?
            }
            Some(c) => {
                let what = match c {
                    '[' => Some("start of an array"),
                    '{' => Some("start of a map"),
                    '(' => Some("start of a block"),
                    '-' => Some("start of a number"),
                    c if c.is_ascii_digit() => Some("start of a number"),
                    '\\' => Some("escape sequence"),
                    '\n' | '\r' => Some("new line"),
                    _ => None,
                };
                if let Some(what) = what {
                    self.bump();
                    return Err(self.syntax(format!("Expected include value but found {what}")));
                }
                self.unquoted_include()
            }
            None => String::new(),
        };
        let pos = self.pos_at(at);
        let included = self.load_include(&path, pos)?;
        if let Value::Map(entries) = included.value {
            for (k, v) in entries {
                self.insert(k, v);
            }
        }
        Ok(())
    }

    fn unquoted_include(&mut self) -> String {
        let start = self.pos;
        loop {
            match self.peek() {
                None | Some('\n' | '\r' | ';' | '}' | ' ' | '\t') => {
                    return self.src[start..self.pos].to_string()
                }
                Some('\'') => {
                    let path = self.src[start..self.pos].to_string();
                    self.bump();
                    return path;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }

    fn load_include(&self, path: &str, pos: Pos) -> Result<Spanned, ConfError> {
        if self.include_depth >= INCLUDE_DEPTH_MAX {
            return Err(ConfError::IncludeTooDeep {
                include: path.to_string(),
                max: INCLUDE_DEPTH_MAX,
                pos,
            });
        }
        let name = go_join(&self.dir, path);
        load_file(&name, self.env, self.include_depth + 1, self.depth).map_err(|e| {
            ConfError::Include {
                include: path.to_string(),
                pos,
                source: Box::new(e),
            }
        })
    }

    // ----- variables -----

    /// `$name`: an earlier key in this or an enclosing map, else the environment (whose text is
    /// parsed as a value). `$2a$...` is a bcrypt hash, not a variable.
    fn resolve_variable(&mut self, name: String, at: usize) -> Result<Spanned, ConfError> {
        let pos = self.pos_at(at);
        if name.starts_with("2a$") {
            return Ok(Spanned::new(Value::String(format!("${name}")), pos));
        }
        for scope in self.scopes.iter_mut().rev() {
            if let Some((_, found)) = scope.iter_mut().find(|(k, _)| *k == name) {
                found.used_as_variable = true;
                return Ok(Spanned::new(found.value.clone(), pos));
            }
        }
        if self.env_refs.contains(&name) {
            let cycle = ConfError::VariableCycle {
                name: name.clone(),
                pos: pos.clone(),
            };
            return Err(ConfError::VariableParse {
                name,
                pos,
                source: Box::new(cycle),
            });
        }
        let Some(text) = (self.env)(&name) else {
            return Err(ConfError::VariableNotFound { name, pos });
        };
        let source = format!("pk={text}");
        let mut child = Parser::new(
            &source,
            None,
            ".".to_string(),
            self.env,
            self.include_depth,
            self.depth,
        );
        self.env_refs.insert(name.clone());
        child.env_refs = std::mem::take(&mut self.env_refs);
        child.scopes.push(Vec::new());
        let result = child.top_level();
        self.env_refs = std::mem::take(&mut child.env_refs);
        self.env_refs.remove(&name);
        if let Err(e) = result {
            return Err(ConfError::VariableParse {
                name,
                pos,
                source: Box::new(e),
            });
        }
        let entries = child.scopes.pop().unwrap_or_default();
        match entries.into_iter().find(|(k, _)| k == "pk") {
            Some((_, v)) => Ok(Spanned::new(v.value, pos)),
            None => Err(ConfError::VariableNotFound { name, pos }),
        }
    }
}

/// How nats-server quotes an offending character in a message: newlines escaped, end of input
/// shown as the NUL character Go's lexer uses for it.
fn show_char(c: Option<char>) -> String {
    match c {
        Some('\n') => "\\n".to_string(),
        Some(c) => c.to_string(),
        None => "\0".to_string(),
    }
}

/// Go's `filepath.Dir`.
fn go_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => go_clean(&path[..=i]),
        None => ".".to_string(),
    }
}

/// Go's `filepath.Join(dir, name)`: note that an absolute `name` is still placed under `dir`,
/// which is what nats-server does with `include /abs/path`.
fn go_join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return go_clean(dir);
    }
    if dir.is_empty() {
        return go_clean(name);
    }
    go_clean(&format!("{dir}/{name}"))
}

/// Go's `path.Clean`: lexical removal of `.`, `..` and repeated slashes.
pub(crate) fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_helpers_match_go() {
        assert_eq!(go_clean("a/./b/../c//d"), "a/c/d");
        assert_eq!(go_clean("../a"), "../a");
        assert_eq!(go_clean("/../a"), "/a");
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_dir("x.conf"), ".");
        assert_eq!(go_dir("/etc/nats/x.conf"), "/etc/nats");
        assert_eq!(go_dir("/x.conf"), "/");
        assert_eq!(go_join("/etc/nats", "/tmp/c.conf"), "/etc/nats/tmp/c.conf");
        assert_eq!(go_join(".", "./b.conf"), "b.conf");
        assert_eq!(go_join("sub", "../b.conf"), "b.conf");
    }
}
