//! Subject filter helpers on top of `natrium-sublist`'s matcher: what counts as "all
//! subjects", what is a literal filter, and the match used by every store query.

use natrium_sublist::subject_matches;

/// `""` and `">"` select every subject.
pub(crate) fn is_all(filter: &str) -> bool {
    filter.is_empty() || filter == ">"
}

/// A filter without wildcard tokens.
pub(crate) fn is_literal(filter: &str) -> bool {
    !filter.split('.').any(|t| t == "*" || t == ">")
}

/// Does `subject` (literal) match `filter` (possibly wildcard, possibly "all")?
pub(crate) fn matches(filter: &str, subject: &str) -> bool {
    is_all(filter) || subject_matches(filter, subject)
}

/// Subjects a store accepts: non-empty and well formed. Wildcard tokens are kept as
/// plain tokens (nats-server stores a message published to `a.>` the same way; a KV
/// client that skips key validation relies on it).
pub(crate) fn valid_publish_subject(subject: &str) -> bool {
    natrium_sublist::is_valid_subject(subject)
}
