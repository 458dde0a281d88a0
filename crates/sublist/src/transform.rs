//! Subject transforms: rewriting a literal subject that matches a source filter into a
//! destination built from the source's wildcard tokens and mapping functions, with
//! nats-server's semantics (`server/subject_transform.go`). Account `mappings`, JetStream
//! `subject_transform`, stream import/export mapping and republish all build on it.
//!
//! It owns the destination grammar, its validation (with nats-server's error texts, as
//! `nats-server -t` prints them after `Error adding mapping for "src" to "dest" : `), the
//! rewrite itself and the weighted choice between several destinations of one source. It is
//! pure: no I/O, no clock, no randomness of its own except the `{{random(n)}}` function,
//! whose draw callers can supply ([`SubjectTransform::apply_with_random`]). It never panics on
//! any source, destination or subject string.
//!
//! # API
//! - [`SubjectTransform::new`] (nats-server's `NewSubjectTransform`) and
//!   [`SubjectTransform::new_strict`] (`NewSubjectTransformStrict`, for imports: only
//!   wildcard substitution, and every source wildcard must be used).
//! - [`validate_mapping`] (`ValidateMapping`): the stricter check account mappings and stream
//!   `subject_transform` run first; it also rejects empty tokens and whitespace in the
//!   destination.
//! - [`SubjectTransform::apply`] (`Match`): `None` when the subject is not a valid literal
//!   subject or does not match the source.
//! - [`WeightedMapping`]: one account mapping source with weighted destinations
//!   (`AddWeightedMappings` / `selectMappedSubject`), the random draw passed in.
//!
//! # Destination grammar
//! The destination is split on `.`; each token is one of:
//! - `$N` (N parsed as Go's `Atoi`, so `$+1` is `$1`): the N-th `*` of the source. A `$`
//!   token whose rest is not a number (`$x`, `$`) is a literal.
//! - `{{name(args)}}`: a mapping function when the token is longer than four bytes, starts
//!   with `{{` and ends with `}}`. Names match case-insensitively only on the first letter
//!   of each word, as nats-server's regular expressions do: `Wildcard`, `splitFromLeft` and
//!   `SplitFromLeft` are accepted, `WILDCARD` is an unknown function. Whitespace is allowed
//!   after `{{`, around the name's `(` and before `}}`; arguments are separated by `,` plus
//!   any whitespace, and then only spaces are trimmed (a tab before the first argument makes
//!   it invalid). Functions: `wildcard(i)`, `partition(n, i...)`, `split(i, sep)`,
//!   `splitFromLeft(i, n)`, `splitFromRight(i, n)`, `sliceFromLeft(i, n)`,
//!   `sliceFromRight(i, n)`, `left(i, n)`, `right(i, n)`, `random(n)`.
//! - `>`: the source's `>` tokens (only when the source ends in `>`).
//! - anything else, including `{{}}`: a literal token.
//!
//! Wildcard indexes are 1-based; an index above the number of `*` in the source is an error,
//! while 0 and negative indexes silently select the subject's first token, as in nats-server.
//! When the source has no wildcard only literals, `partition` (over the whole subject) and
//! `random` are allowed.
//!
//! Architecture Invariant: a transform holds no mutable state; `apply` is a function of the
//! subject (and, for `random`, of the supplied draw) only.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

mod parse;
mod weighted;

use parse::{find_function, looks_like_function, parse_token, FUNCTIONS};
pub use weighted::{Choice, WeightedMapping, WEIGHT_TOTAL_MAX};

/// The full wildcard as a destination or source token.
const FWC: &str = ">";
/// The partial wildcard.
const PWC: &str = "*";

/// Why a transform or mapping could not be built. `Display` gives nats-server's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// Source or destination is not a valid subject, the destination has a `*`, or only one
    /// side ends in `>`: "invalid subject".
    BadSubject,
    /// The destination is empty. nats-server treats this as "no transform"; here it is an
    /// error so that a transform value always transforms.
    EmptyDestination,
    /// [`validate_mapping`]: an empty token, a token after `>`, or whitespace in a literal
    /// token. `token` is empty when nats-server names none.
    InvalidTransform {
        token: String,
    },
    /// `{{...}}` naming no known function.
    UnknownFunction {
        token: String,
    },
    /// A wildcard index above the number of `*` in the source, or a wildcard-using function
    /// in a destination whose source has no wildcard. `token` is nats-server's text, e.g.
    /// `$2: [2]`.
    IndexOutOfRange {
        token: String,
    },
    NotEnoughArgs {
        token: String,
    },
    TooManyArgs {
        token: String,
    },
    InvalidArg {
        token: String,
    },
    /// Strict (import) transforms must use every source wildcard.
    NotUsingAllWildcards {
        token: String,
    },
    /// Strict (import) transforms allow only `$N` / `{{wildcard(N)}}`.
    NotSupportedForImport {
        token: String,
    },
    /// [`WeightedMapping`]: the same destination twice.
    DuplicateDestination(String),
    /// [`WeightedMapping`]: one weight above 100.
    WeightTooLarge,
    /// [`WeightedMapping`]: weights sum above 100.
    TotalWeightTooLarge,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TransformError::*;
        let (reason, token) = match self {
            BadSubject => return f.write_str("invalid subject"),
            EmptyDestination => return f.write_str("empty mapping destination"),
            DuplicateDestination(dest) => return write!(f, "duplicate entry for {dest:?}"),
            WeightTooLarge => return f.write_str("individual weights need to be <= 100"),
            TotalWeightTooLarge => return f.write_str("total weight needs to be <= 100"),
            InvalidTransform { token } => ("invalid transform", token),
            UnknownFunction { token } => ("unknown function", token),
            IndexOutOfRange { token } => ("wildcard index out of range", token),
            NotEnoughArgs { token } => ("not enough arguments passed to the function", token),
            TooManyArgs { token } => ("too many arguments passed to the function", token),
            InvalidArg { token } => ("function argument is invalid or in the wrong format", token),
            NotUsingAllWildcards { token } => ("not using all of the token wildcard(s)", token),
            NotSupportedForImport { token } => (
                "the only mapping function allowed for import transforms is {{Wildcard()}}",
                token,
            ),
        };
        write!(f, "invalid mapping destination: {reason}")?;
        if !token.is_empty() {
            write!(f, " in {token}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransformError {}

/// A parsed destination token, before source wildcard indexes are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    Literal,
    Random(i32),
    /// The function, its 1-based wildcard indexes, and the string argument of `split`.
    Uses(Func, Vec<i64>),
}

/// A function that reads source tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Func {
    Wildcard,
    Partition(i32),
    SplitFromLeft(i32),
    SplitFromRight(i32),
    SliceFromLeft(i32),
    SliceFromRight(i32),
    Left(i32),
    Right(i32),
    Split(Box<str>),
}

/// One destination token, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Literal(Box<str>),
    /// The trailing `>`: the source's `>` tokens follow.
    Fwc,
    Random(i32),
    /// A function and the subject token positions it reads (for `partition` with no index
    /// list: empty, meaning the whole subject).
    Uses(Func, Vec<usize>),
}

/// A compiled subject transform. See the module documentation for the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: String,
    src_tokens: Vec<String>,
    ops: Vec<Op>,
}

impl SubjectTransform {
    /// Compiles `src` → `dest` as nats-server's `NewSubjectTransform`. An empty `src` means
    /// `>`.
    pub fn new(src: &str, dest: &str) -> Result<SubjectTransform, TransformError> {
        Self::build(src, dest, false)
    }

    /// As [`SubjectTransform::new`] for transforms that must be reversible (stream and
    /// service import mappings): only `$N` / `{{wildcard(N)}}`, and every `*` of the source
    /// must be used.
    pub fn new_strict(src: &str, dest: &str) -> Result<SubjectTransform, TransformError> {
        Self::build(src, dest, true)
    }

    fn build(src: &str, dest: &str, strict: bool) -> Result<SubjectTransform, TransformError> {
        if dest.is_empty() {
            return Err(TransformError::EmptyDestination);
        }
        let src = if src.is_empty() { FWC } else { src };
        let (Some(s_info), Some(d_info)) = (subject_info(src), subject_info(dest)) else {
            return Err(TransformError::BadSubject);
        };
        if d_info.pwcs > 0 || s_info.fwc != d_info.fwc {
            return Err(TransformError::BadSubject);
        }
        // Positions of the source's `*` tokens: wildcard index k reads position pwc_pos[k-1].
        let pwc_pos: Vec<usize> = src
            .split('.')
            .enumerate()
            .filter(|(_, t)| *t == PWC)
            .map(|(i, _)| i)
            .collect();
        let has_wildcards = !pwc_pos.is_empty() || s_info.fwc;
        let mut ops = Vec::new();
        let mut used = 0usize;
        for token in dest.split('.') {
            let parsed = parse_token(token)?;
            let op = if has_wildcards {
                if strict && !matches!(parsed, Parsed::Literal | Parsed::Uses(Func::Wildcard, _)) {
                    let token = token.to_string();
                    return Err(TransformError::NotSupportedForImport { token });
                }
                used += match &parsed {
                    Parsed::Uses(_, indexes) => indexes.len(),
                    _ => 0,
                };
                resolve(token, parsed, &pwc_pos)?
            } else {
                match parsed {
                    Parsed::Literal => literal_op(token),
                    Parsed::Random(n) => Op::Random(n),
                    // Without source wildcards a partition always hashes the whole subject.
                    Parsed::Uses(Func::Partition(n), _) => Op::Uses(Func::Partition(n), Vec::new()),
                    Parsed::Uses(..) => {
                        let token = token.to_string();
                        return Err(TransformError::IndexOutOfRange { token });
                    }
                }
            };
            ops.push(op);
        }
        if strict && has_wildcards && used < pwc_pos.len() {
            let token = dest.to_string();
            return Err(TransformError::NotUsingAllWildcards { token });
        }
        Ok(SubjectTransform {
            src: src.to_string(),
            dest: dest.to_string(),
            src_tokens: src.split('.').map(str::to_string).collect(),
            ops,
        })
    }

    /// The source filter (`>` when built from an empty source).
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The destination as given.
    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Transforms `subject` (nats-server's `Match`): `None` when `subject` is not a valid
    /// literal subject (an empty token, or a `*` / `>` token) or does not match the source.
    /// `{{random(n)}}` draws from a per-thread generator; see
    /// [`SubjectTransform::apply_with_random`] for a deterministic draw.
    ///
    /// The result is what nats-server produces, which is not always a valid subject: e.g.
    /// `{{split(1,-)}}` of the token `---` is empty (nats-server then delivers to no one).
    pub fn apply(&self, subject: &str) -> Option<String> {
        self.apply_with_random(subject, &mut thread_random)
    }

    /// [`SubjectTransform::apply`] with the draws for `{{random(n)}}` taken from `random`
    /// (only the low 31 bits are used, as Go's `rand.Int31`).
    pub fn apply_with_random(
        &self,
        subject: &str,
        random: &mut dyn FnMut() -> u32,
    ) -> Option<String> {
        // nats-server passes any subject through a `>` → `>` transform untouched.
        if self.src == FWC && self.dest == FWC {
            return Some(subject.to_string());
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        if tokens
            .iter()
            .any(|t| t.is_empty() || *t == PWC || *t == FWC)
        {
            return None;
        }
        if !self.matches_tokens(&tokens) {
            return None;
        }
        Some(self.transform_tokens(&tokens, random))
    }

    /// Does the tokenized subject match the source? nats-server's `isSubsetMatchTokenized`:
    /// a `*` token in the subject matches only a `*` of the source.
    fn matches_tokens(&self, tokens: &[&str]) -> bool {
        for (i, s) in self.src_tokens.iter().enumerate() {
            let Some(t) = tokens.get(i) else {
                return false;
            };
            if s == FWC {
                return true;
            }
            if t.is_empty() || *t == FWC {
                return false;
            }
            if *t == PWC {
                if s != PWC {
                    return false;
                }
                continue;
            }
            if s != PWC && s != t {
                return false;
            }
        }
        tokens.len() == self.src_tokens.len()
    }

    /// Builds the destination from a subject already known to match.
    fn transform_tokens(&self, tokens: &[&str], random: &mut dyn FnMut() -> u32) -> String {
        let mut out = String::with_capacity(self.dest.len() + tokens.len() * 8);
        let last = self.ops.len().saturating_sub(1);
        for (i, op) in self.ops.iter().enumerate() {
            match op {
                Op::Fwc => break,
                Op::Literal(text) => out.push_str(text),
                Op::Random(n) => out.push_str(&random_partition(*n, random())),
                Op::Uses(func, positions) => apply_func(&mut out, func, positions, tokens),
            }
            if i < last {
                out.push('.');
            }
        }
        if matches!(self.ops.last(), Some(Op::Fwc)) {
            let from = self.src_tokens.len().saturating_sub(1);
            let rest = tokens.get(from..).unwrap_or(&[]);
            out.push_str(&rest.join("."));
        }
        out
    }
}

/// nats-server's `ValidateMapping`: the checks account mappings and stream
/// `subject_transform` run before building the transform. An empty `dest` is valid (no
/// mapping). `left` and `right` are accepted here as nats-server v2.15.1 accepts them
/// (recorded with `nats-server -t`), although the `ValidateMapping` source read does not
/// list them.
pub fn validate_mapping(src: &str, dest: &str) -> Result<(), TransformError> {
    if dest.is_empty() {
        return Ok(());
    }
    let mut seen_fwc = false;
    for token in dest.split('.') {
        if token.is_empty() || seen_fwc {
            let token = token.to_string();
            return Err(TransformError::InvalidTransform { token });
        }
        if looks_like_function(token) {
            if !FUNCTIONS
                .iter()
                .any(|f| find_function(token, f.pattern).is_some())
            {
                let token = token.to_string();
                return Err(TransformError::UnknownFunction { token });
            }
            continue;
        }
        if token == FWC {
            seen_fwc = true;
        } else if token
            .bytes()
            .any(|b| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
        {
            let token = String::new();
            return Err(TransformError::InvalidTransform { token });
        }
    }
    SubjectTransform::new(src, dest).map(|_| ())
}

/// Replaces each `*` of `subject` with `$1`, `$2`, ... (nats-server's `transformTokenize`):
/// the identity destination for a wildcard source.
pub fn transform_tokenize(subject: &str) -> String {
    let mut n = 0;
    let tokens: Vec<String> = subject
        .split('.')
        .map(|t| {
            if t == PWC {
                n += 1;
                format!("${n}")
            } else {
                t.to_string()
            }
        })
        .collect();
    tokens.join(".")
}

struct SubjectInfo {
    pwcs: usize,
    fwc: bool,
}

/// nats-server's `subjectInfo`: non-empty tokens, nothing after `>`. Whitespace is allowed.
fn subject_info(subject: &str) -> Option<SubjectInfo> {
    let mut info = SubjectInfo {
        pwcs: 0,
        fwc: false,
    };
    for token in subject.split('.') {
        if token.is_empty() || info.fwc {
            return None;
        }
        match token {
            PWC => info.pwcs += 1,
            FWC => info.fwc = true,
            _ => {}
        }
    }
    Some(info)
}

fn literal_op(token: &str) -> Op {
    if token == FWC {
        Op::Fwc
    } else {
        Op::Literal(token.into())
    }
}

/// Maps 1-based wildcard indexes to subject token positions. Index 0 and negative indexes
/// read position 0, because nats-server looks them up in a map that answers 0 when absent.
fn resolve(token: &str, parsed: Parsed, pwc_pos: &[usize]) -> Result<Op, TransformError> {
    let (func, indexes) = match parsed {
        Parsed::Literal => return Ok(literal_op(token)),
        Parsed::Random(n) => return Ok(Op::Random(n)),
        Parsed::Uses(func, indexes) => (func, indexes),
    };
    let mut positions = Vec::with_capacity(indexes.len());
    for index in indexes {
        if index > pwc_pos.len() as i64 {
            let token = format!("{token}: [{index}]");
            return Err(TransformError::IndexOutOfRange { token });
        }
        let position = usize::try_from(index)
            .ok()
            .and_then(|k| k.checked_sub(1))
            .and_then(|k| pwc_pos.get(k).copied())
            .unwrap_or(0);
        positions.push(position);
    }
    Ok(Op::Uses(func, positions))
}

/// Appends the output of one function reading `tokens` at `positions`.
fn apply_func(out: &mut String, func: &Func, positions: &[usize], tokens: &[&str]) {
    if let Func::Partition(n) = func {
        let key = if positions.is_empty() {
            tokens.join(".")
        } else {
            positions
                .iter()
                .filter_map(|&p| tokens.get(p).copied())
                .collect()
        };
        out.push_str(&hash_partition(key.as_bytes(), *n));
        return;
    }
    // Every other function reads exactly one token; a position beyond the subject (which
    // a matching subject cannot produce) writes nothing.
    let Some(token) = positions.first().and_then(|&p| tokens.get(p).copied()) else {
        return;
    };
    let len = token.len();
    // Sizes that do not fall strictly inside the token leave it whole. Positions are byte
    // offsets as in nats-server; one that splits a UTF-8 character also leaves it whole.
    let inner = |n: i32| -> Option<usize> {
        let n = usize::try_from(n).ok()?;
        (n > 0 && n < len).then_some(n)
    };
    let fits = |cuts: &[usize]| cuts.iter().all(|&c| token.is_char_boundary(c));
    match func {
        Func::Wildcard => out.push_str(token),
        Func::SplitFromLeft(n) => match inner(*n).filter(|&n| fits(&[n])) {
            Some(n) => push_cut(out, token, &[n]),
            None => out.push_str(token),
        },
        Func::SplitFromRight(n) => match inner(*n).filter(|&n| fits(&[len - n])) {
            Some(n) => push_cut(out, token, &[len - n]),
            None => out.push_str(token),
        },
        Func::SliceFromLeft(n) => {
            let cuts: Vec<usize> = inner(*n).map_or(Vec::new(), |n| (n..len).step_by(n).collect());
            push_cut_checked(out, token, &cuts);
        }
        Func::SliceFromRight(n) => {
            let cuts: Vec<usize> = inner(*n).map_or(Vec::new(), |n| {
                let first = len % n;
                (first..len).step_by(n).filter(|&c| c > 0).collect()
            });
            push_cut_checked(out, token, &cuts);
        }
        Func::Left(n) => match inner(*n).filter(|&n| fits(&[n])) {
            Some(n) => out.push_str(&token[..n]),
            None => out.push_str(token),
        },
        Func::Right(n) => match inner(*n).filter(|&n| fits(&[len - n])) {
            Some(n) => out.push_str(&token[len - n..]),
            None => out.push_str(token),
        },
        Func::Split(sep) => push_split(out, token, sep),
        Func::Partition(_) => {}
    }
}

/// Writes `token` with a `.` at each cut (cuts ascending, inside the token).
fn push_cut(out: &mut String, token: &str, cuts: &[usize]) {
    let mut start = 0;
    for &cut in cuts {
        out.push_str(&token[start..cut]);
        out.push('.');
        start = cut;
    }
    out.push_str(&token[start..]);
}

fn push_cut_checked(out: &mut String, token: &str, cuts: &[usize]) {
    if cuts.iter().all(|&c| token.is_char_boundary(c)) {
        push_cut(out, token, cuts);
    } else {
        out.push_str(token);
    }
}

/// `split(i, sep)`: the pieces of `token` between separators, empty pieces dropped, joined
/// by `.`, exactly as nats-server writes them. An empty separator splits into characters
/// (Go's `strings.Split`).
fn push_split(out: &mut String, token: &str, sep: &str) {
    let pieces: Vec<&str> = if sep.is_empty() {
        token
            .char_indices()
            .map(|(i, c)| &token[i..i + c.len_utf8()])
            .collect()
    } else {
        token.split(sep).collect()
    };
    for (j, piece) in pieces.iter().enumerate() {
        out.push_str(piece);
        let next_non_empty = pieces.get(j + 1).is_some_and(|p| !p.is_empty());
        if next_non_empty && !(j == 0 && piece.is_empty()) {
            out.push('.');
        }
    }
}

/// FNV-1a 32 of `key` modulo `buckets`, which nats-server reinterprets as unsigned (so a
/// negative count hashes modulo 2^32 + count). Zero buckets give `0`.
fn hash_partition(key: &[u8], buckets: i32) -> String {
    if buckets == 0 {
        return "0".to_string();
    }
    let mut hash: u32 = 0x811c_9dc5;
    for &b in key {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % buckets as u32).to_string()
}

/// `random(n)`: a 31-bit draw modulo `n` (Go's `%`: the sign follows the draw, so never
/// negative). Zero gives `0`.
fn random_partition(ceiling: i32, draw: u32) -> String {
    if ceiling == 0 {
        return "0".to_string();
    }
    (i64::from(draw & 0x7fff_ffff) % i64::from(ceiling)).to_string()
}

thread_local! {
    static RANDOM_STATE: Cell<u64> = Cell::new({
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x9e37_79b9_7f4a_7c15);
        hasher.finish() | 1
    });
}

/// xorshift64* over a per-thread seed from std's hash randomness: only for `random(n)`,
/// which needs spread, not unpredictability.
fn thread_random() -> u32 {
    RANDOM_STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    })
}
