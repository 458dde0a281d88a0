//! Subject grammar: validation of subscription and publish subjects and queue names, and the
//! pure set relations between subjects (`subject_matches`, `subject_is_subset`,
//! `subjects_overlap`). Everything here is a total function over `&str`: no allocation, no
//! panics, and invalid input is answered with `false`, never with an error or a guess.
//!
//! The rules follow nats-server's `IsValidSubject` / `IsValidPublishSubject`: a subject is a
//! non-empty sequence of non-empty tokens separated by `.`; no token may contain whitespace
//! (space, tab, CR, LF, form feed); a token that is exactly `*` matches one token and a token
//! that is exactly `>` matches one or more trailing tokens and may only be last. A token that
//! merely *contains* a wildcard character (`foo*`, `>bar`) is an ordinary literal token.

/// Token separator.
pub(crate) const SEP: u8 = b'.';
/// Partial wildcard token: matches exactly one token.
pub(crate) const PWC: &str = "*";
/// Full wildcard token: matches one or more trailing tokens.
pub(crate) const FWC: &str = ">";

/// The kind of one token of a (possibly wildcard) subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    Literal(&'a str),
    Pwc,
    Fwc,
}

impl<'a> Token<'a> {
    #[inline]
    pub(crate) fn classify(token: &'a str) -> Token<'a> {
        match token {
            PWC => Token::Pwc,
            FWC => Token::Fwc,
            other => Token::Literal(other),
        }
    }
}

/// Splits a subject into tokens. Empty tokens are yielded as empty strings so that callers can
/// reject them; this never allocates.
#[inline]
pub(crate) fn tokens(subject: &str) -> std::str::Split<'_, char> {
    subject.split('.')
}

/// Returns true when the subject is empty or has an empty token (leading, trailing or doubled
/// separator). Such a subject can never be published to or subscribed to.
#[inline]
pub(crate) fn has_empty_token(subject: &str) -> bool {
    let bytes = subject.as_bytes();
    if bytes.is_empty() || bytes[0] == SEP || bytes[bytes.len() - 1] == SEP {
        return true;
    }
    bytes.windows(2).any(|w| w[0] == SEP && w[1] == SEP)
}

#[inline]
fn is_whitespace_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Is `subject` valid for SUB: wildcards allowed, non-empty tokens, no whitespace, `>` only as
/// the last token. Matches nats-server's `IsValidSubject`.
pub fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for token in tokens(subject) {
        if token.is_empty() || seen_fwc {
            return false;
        }
        if token.bytes().any(is_whitespace_byte) {
            return false;
        }
        seen_fwc = token == FWC;
    }
    true
}

/// Is `subject` a valid literal subject, i.e. valid for PUB: [`is_valid_subject`] and no token
/// is exactly `*` or `>`. Matches nats-server's `IsValidPublishSubject`.
pub fn is_valid_literal_subject(subject: &str) -> bool {
    is_valid_subject(subject) && is_literal(subject)
}

/// True when no token of `subject` is exactly `*` or `>`. Does not check validity.
#[inline]
pub(crate) fn is_literal(subject: &str) -> bool {
    tokens(subject).all(|t| t != PWC && t != FWC)
}

/// Is `queue` a valid queue group name: non-empty and without whitespace. nats-server takes
/// whatever the protocol parser splits out of the SUB line, which is exactly this set; dots
/// and wildcard characters carry no meaning in a queue name.
pub fn is_valid_queue(queue: &str) -> bool {
    !queue.is_empty() && !queue.bytes().any(is_whitespace_byte)
}

/// Does the literal `subject` match the (possibly wildcard) `filter`?
///
/// Returns false if either side has an empty token or `filter` has a `>` that is not last.
/// Tokens of `subject` are compared literally: a `*` token in `subject` is matched by a `*`
/// or `>` in `filter` (which match any token) or by an identical literal, exactly as the
/// subject index treats it.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    !has_empty_token(subject) && !has_empty_token(filter) && matches_unchecked(filter, subject)
}

/// [`subject_matches`] for callers that know neither side has an empty token (the cache,
/// whose keys and filters were checked on the way in); skips the two extra scans.
#[inline]
pub(crate) fn matches_unchecked(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = tokens(subject);
    let mut filter_tokens = tokens(filter).peekable();
    while let Some(f) = filter_tokens.next() {
        let Some(s) = subject_tokens.next() else {
            return false;
        };
        match Token::classify(f) {
            Token::Fwc => return filter_tokens.peek().is_none(),
            Token::Pwc => {}
            Token::Literal(lit) => {
                if lit != s {
                    return false;
                }
            }
        }
    }
    subject_tokens.next().is_none()
}

/// Is every literal subject matched by `sub` also matched by `of`? Both may contain
/// wildcards. Invalid subjects (see [`is_valid_subject`]) are never a subset of anything and
/// nothing is a subset of them.
///
/// Examples: `foo.bar` ⊆ `foo.*` ⊆ `foo.>` ⊆ `>`; `foo.>` ⊄ `foo.*`; `*.bar` ⊄ `foo.*`.
pub fn subject_is_subset(sub: &str, of: &str) -> bool {
    if !is_valid_subject(sub) || !is_valid_subject(of) {
        return false;
    }
    let mut sub_tokens = tokens(sub);
    for o in tokens(of) {
        // `sub` must still have a token here, whatever `of` holds: even `>` needs one.
        let Some(s) = sub_tokens.next() else {
            return false;
        };
        let (s, o) = (Token::classify(s), Token::classify(o));
        match (s, o) {
            // Whatever `sub` has from here on is one or more tokens.
            (_, Token::Fwc) => return true,
            // `sub` can produce any length here or any token; `of` cannot accept it.
            (Token::Fwc, _) => return false,
            (Token::Pwc, Token::Pwc) => {}
            (Token::Pwc, Token::Literal(_)) => return false,
            (Token::Literal(_), Token::Pwc) => {}
            (Token::Literal(a), Token::Literal(b)) => {
                if a != b {
                    return false;
                }
            }
        }
    }
    sub_tokens.next().is_none()
}

/// Can some literal subject match both `a` and `b`? Both may contain wildcards. Invalid
/// subjects (see [`is_valid_subject`]) overlap nothing.
pub fn subjects_overlap(a: &str, b: &str) -> bool {
    if !is_valid_subject(a) || !is_valid_subject(b) {
        return false;
    }
    let mut a_tokens = tokens(a);
    let mut b_tokens = tokens(b);
    loop {
        match (a_tokens.next(), b_tokens.next()) {
            (None, None) => return true,
            // One side ran out without a `>`: the lengths can never agree.
            (None, Some(_)) | (Some(_), None) => return false,
            (Some(x), Some(y)) => match (Token::classify(x), Token::classify(y)) {
                // The other side has at least this token, so some suffix satisfies both.
                (Token::Fwc, _) | (_, Token::Fwc) => return true,
                (Token::Pwc, _) | (_, Token::Pwc) => {}
                (Token::Literal(p), Token::Literal(q)) => {
                    if p != q {
                        return false;
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "*",
            ">",
            "foo.*",
            "foo.>",
            "*.bar.>",
            "foo*",
            "foo.b*r",
            ">foo",
            "foo.>bar",
            "a.*.c",
            "$JS.API.>",
            "_INBOX.abc",
            "ünïcødé.ok",
        ] {
            assert!(is_valid_subject(s), "{s:?} should be valid");
        }
        for s in [
            "",
            ".",
            "foo.",
            ".foo",
            "foo..bar",
            ">.foo",
            "foo.>.bar",
            "foo bar",
            "foo\tbar",
            "foo.\nbar",
            "foo\r",
            "a.\x0cb",
            " ",
            "a.>.>",
        ] {
            assert!(!is_valid_subject(s), "{s:?} should be invalid");
        }
    }

    #[test]
    fn literal_subjects() {
        for s in ["foo", "foo.bar", "foo*", "foo.>bar", "a.b.c"] {
            assert!(is_valid_literal_subject(s), "{s:?} should be literal");
        }
        for s in [
            "*", ">", "foo.*", "foo.>", "*.bar", "", "foo..bar", "foo bar",
        ] {
            assert!(!is_valid_literal_subject(s), "{s:?} should not be literal");
        }
    }

    #[test]
    fn queues() {
        for q in ["q", "workers", "a.b", "*", ">", "q-1_x"] {
            assert!(is_valid_queue(q), "{q:?}");
        }
        for q in ["", " ", "a b", "a\tb", "q\r\n"] {
            assert!(!is_valid_queue(q), "{q:?}");
        }
    }

    #[test]
    fn matches() {
        let yes = [
            ("foo", "foo"),
            ("*", "foo"),
            (">", "foo"),
            (">", "foo.bar.baz"),
            ("foo.*", "foo.bar"),
            ("foo.>", "foo.bar"),
            ("foo.>", "foo.bar.baz"),
            ("*.bar", "foo.bar"),
            ("*.*.baz", "a.b.baz"),
            ("foo*", "foo*"),
            ("foo.*", "foo.*"),
        ];
        for (f, s) in yes {
            assert!(subject_matches(f, s), "{f:?} should match {s:?}");
        }
        let no = [
            ("foo", "bar"),
            ("foo", "foo.bar"),
            ("foo.bar", "foo"),
            ("foo.*", "foo"),
            ("foo.*", "foo.bar.baz"),
            ("foo.>", "foo"),
            ("*", "foo.bar"),
            ("foo*", "foox"),
            ("foo.>.bar", "foo.x.bar"),
            ("foo", "foo."),
            ("foo..bar", "foo..bar"),
            ("", ""),
            ("*", ""),
            (">", ".foo"),
        ];
        for (f, s) in no {
            assert!(!subject_matches(f, s), "{f:?} should not match {s:?}");
        }
    }

    #[test]
    fn subsets() {
        let yes = [
            ("foo.bar", "foo.bar"),
            ("foo.bar", "foo.*"),
            ("foo.bar", "foo.>"),
            ("foo.*", "foo.>"),
            ("foo.>", "foo.>"),
            ("foo.>", ">"),
            ("*.*", "*.>"),
            ("foo.*.baz", "*.*.*"),
            ("foo.*", "*.*"),
            (">", ">"),
        ];
        for (a, b) in yes {
            assert!(subject_is_subset(a, b), "{a:?} should be a subset of {b:?}");
        }
        let no = [
            ("foo.>", "foo.*"),
            ("foo", "foo.>"),
            ("*.bar", "foo.*"),
            (">", "*"),
            ("foo.*", "foo.bar"),
            ("foo.bar.baz", "foo.*"),
            ("foo.bar", "foo.bar.baz"),
            ("foo..bar", ">"),
            ("foo", "foo.>.bar"),
        ];
        for (a, b) in no {
            assert!(
                !subject_is_subset(a, b),
                "{a:?} should not be a subset of {b:?}"
            );
        }
    }

    #[test]
    fn overlaps() {
        let yes = [
            ("foo", "foo"),
            ("foo.*", "*.bar"),
            ("foo.>", "*.*.baz"),
            (">", "a.b.c"),
            ("foo.*", "foo.>"),
            ("*.*", "a.>"),
        ];
        for (a, b) in yes {
            assert!(
                subjects_overlap(a, b) && subjects_overlap(b, a),
                "{a:?} ~ {b:?}"
            );
        }
        let no = [
            ("foo", "bar"),
            ("foo", "foo.>"),
            ("foo.*", "foo.*.*"),
            ("foo.*", "bar.>"),
            ("a.b", "a..b"),
            ("foo", ""),
        ];
        for (a, b) in no {
            assert!(
                !subjects_overlap(a, b) && !subjects_overlap(b, a),
                "{a:?} !~ {b:?}"
            );
        }
    }

    #[test]
    fn empty_tokens() {
        assert!(has_empty_token(""));
        assert!(has_empty_token("."));
        assert!(has_empty_token("a."));
        assert!(has_empty_token(".a"));
        assert!(has_empty_token("a..b"));
        assert!(!has_empty_token("a.b"));
        assert!(!has_empty_token("a"));
    }
}
