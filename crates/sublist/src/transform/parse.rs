//! Parsing of one destination token into a [`Parsed`] value: `$N`, the `{{function(args)}}`
//! forms and literals. nats-server recognises functions with unanchored regular expressions
//! of the form `{{\s*Name\s*\((.*)\)\s*}}`; this module reproduces what those expressions
//! find (leftmost match, greedy argument capture that stops at a newline) without a regex
//! engine, so that odd tokens are accepted or rejected exactly as nats-server does.

use super::{Func, Parsed, TransformError};

/// How the arguments of a function are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Wildcard,
    Partition,
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Right,
    Left,
    Split,
    Random,
}

pub(super) struct FunctionSpec {
    /// The name; an upper-case letter matches either case, a lower-case one only itself
    /// (nats-server writes `[sS]plit[fF]rom[lL]eft`).
    pub(super) pattern: &'static str,
    kind: Kind,
}

/// In nats-server's order of trial: `split` must come after the `splitFrom...` forms.
pub(super) const FUNCTIONS: [FunctionSpec; 10] = [
    FunctionSpec {
        pattern: "Wildcard",
        kind: Kind::Wildcard,
    },
    FunctionSpec {
        pattern: "Partition",
        kind: Kind::Partition,
    },
    FunctionSpec {
        pattern: "SplitFromLeft",
        kind: Kind::SplitFromLeft,
    },
    FunctionSpec {
        pattern: "SplitFromRight",
        kind: Kind::SplitFromRight,
    },
    FunctionSpec {
        pattern: "SliceFromLeft",
        kind: Kind::SliceFromLeft,
    },
    FunctionSpec {
        pattern: "SliceFromRight",
        kind: Kind::SliceFromRight,
    },
    FunctionSpec {
        pattern: "Right",
        kind: Kind::Right,
    },
    FunctionSpec {
        pattern: "Left",
        kind: Kind::Left,
    },
    FunctionSpec {
        pattern: "Split",
        kind: Kind::Split,
    },
    FunctionSpec {
        pattern: "Random",
        kind: Kind::Random,
    },
];

/// Go's `\s`: tab, newline, form feed, carriage return and space (not vertical tab).
fn is_go_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// A token nats-server treats as a function call: longer than four bytes, `{{` ... `}}`.
pub(super) fn looks_like_function(token: &str) -> bool {
    token.len() > 4 && token.starts_with("{{") && token.ends_with("}}")
}

/// The argument text captured by `{{\s*<pattern>\s*\((.*)\)\s*}}` at its leftmost match in
/// `token`, or `None` when the expression does not match anywhere.
pub(super) fn find_function<'a>(token: &'a str, pattern: &str) -> Option<&'a str> {
    let bytes = token.as_bytes();
    (0..bytes.len())
        .filter(|&start| bytes[start..].starts_with(b"{{"))
        .find_map(|start| match_at(token, start + 2, pattern.as_bytes()))
}

fn match_at<'a>(token: &'a str, mut at: usize, pattern: &[u8]) -> Option<&'a str> {
    let bytes = token.as_bytes();
    let skip_space = |mut i: usize| {
        while bytes.get(i).copied().is_some_and(is_go_space) {
            i += 1;
        }
        i
    };
    at = skip_space(at);
    for &p in pattern {
        let b = *bytes.get(at)?;
        let ok = if p.is_ascii_uppercase() {
            b.eq_ignore_ascii_case(&p)
        } else {
            b == p
        };
        if !ok {
            return None;
        }
        at += 1;
    }
    at = skip_space(at);
    if bytes.get(at) != Some(&b'(') {
        return None;
    }
    let capture_start = at + 1;
    // `.` does not match a newline, so the capture ends before the first one.
    let limit = bytes[capture_start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| capture_start + p);
    // Greedy: the last `)` before the limit that is followed by `\s*}}`.
    (capture_start..limit).rev().find_map(|close| {
        let after = skip_space(close + 1);
        (bytes[close] == b')' && bytes[after..].starts_with(b"}}"))
            .then(|| &token[capture_start..close])
    })
}

/// Go's `regexp.MustCompile(",\s*").Split(s, -1)`.
fn split_args(capture: &str) -> Vec<&str> {
    let mut pieces = capture.split(',');
    let first = pieces.next().unwrap_or("");
    std::iter::once(first)
        .chain(pieces.map(|p| p.trim_start_matches(|c: char| c.is_ascii() && is_go_space(c as u8))))
        .collect()
}

/// Go's `strconv.Atoi(strings.Trim(s, " "))`: optional sign, decimal digits, 64-bit range.
fn atoi(arg: &str) -> Option<i64> {
    arg.trim_matches(' ').parse::<i64>().ok()
}

/// An `Atoi` argument that must not exceed `i32::MAX`, then truncated to 32 bits as Go's
/// `int32(x)` does.
fn atoi_i32_truncating(arg: &str) -> Option<i32> {
    atoi(arg)
        .filter(|&n| n <= i64::from(i32::MAX))
        .map(|n| n as i32)
}

/// Parses one destination token.
pub(super) fn parse_token(token: &str) -> Result<Parsed, TransformError> {
    if token.len() > 1 && token.starts_with('$') {
        // `$x` that is not a number stays literal: other features use `$` tokens.
        return Ok(match token[1..].parse::<i64>() {
            Ok(index) => Parsed::Uses(Func::Wildcard, vec![index]),
            Err(_) => Parsed::Literal,
        });
    }
    if !looks_like_function(token) {
        return Ok(Parsed::Literal);
    }
    for spec in &FUNCTIONS {
        if let Some(capture) = find_function(token, spec.pattern) {
            return parse_args(token, spec.kind, &split_args(capture));
        }
    }
    Err(TransformError::UnknownFunction {
        token: token.to_string(),
    })
}

fn parse_args(token: &str, kind: Kind, args: &[&str]) -> Result<Parsed, TransformError> {
    let owned = || token.to_string();
    let not_enough = || TransformError::NotEnoughArgs { token: owned() };
    let too_many = || TransformError::TooManyArgs { token: owned() };
    let invalid = || TransformError::InvalidArg { token: owned() };
    match kind {
        Kind::Wildcard => match args {
            [""] => Err(not_enough()),
            [index] => Ok(Parsed::Uses(
                Func::Wildcard,
                vec![atoi(index).ok_or_else(invalid)?],
            )),
            _ => Err(too_many()),
        },
        Kind::Partition => {
            let buckets = args
                .first()
                .and_then(|a| atoi_i32_truncating(a))
                .ok_or_else(invalid)?;
            let indexes = args
                .get(1..)
                .unwrap_or(&[])
                .iter()
                .map(|a| atoi(a).ok_or_else(invalid));
            Ok(Parsed::Uses(
                Func::Partition(buckets),
                indexes.collect::<Result<_, _>>()?,
            ))
        }
        Kind::Split => match args {
            [] | [_] => Err(not_enough()),
            [index, sep] => {
                let index = atoi(index).ok_or_else(invalid)?;
                if sep.contains(' ') || sep.contains('.') {
                    return Err(invalid());
                }
                Ok(Parsed::Uses(Func::Split((*sep).into()), vec![index]))
            }
            _ => Err(too_many()),
        },
        Kind::Random => match args {
            [ceiling] => Ok(Parsed::Random(
                atoi_i32_truncating(ceiling).ok_or_else(invalid)?,
            )),
            _ => Err(not_enough()),
        },
        _ => match args {
            [] | [_] => Err(not_enough()),
            [index, n] => {
                let index = atoi(index).ok_or_else(invalid)?;
                let n = n.trim_matches(' ').parse::<i32>().map_err(|_| invalid())?;
                let func = match kind {
                    Kind::SplitFromLeft => Func::SplitFromLeft(n),
                    Kind::SplitFromRight => Func::SplitFromRight(n),
                    Kind::SliceFromLeft => Func::SliceFromLeft(n),
                    Kind::SliceFromRight => Func::SliceFromRight(n),
                    Kind::Left => Func::Left(n),
                    _ => Func::Right(n),
                };
                Ok(Parsed::Uses(func, vec![index]))
            }
            _ => Err(too_many()),
        },
    }
}
