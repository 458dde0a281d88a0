//! natrium-sublist: the subject index of Natrium, the NATS-compatible server. It maps
//! subscriptions — a subject that may contain the wildcards `*` and `>`, an optional queue
//! group and a caller-chosen value — to the literal subjects published on, as nats-server's
//! `server/sublist.go` does. It owns subject validation, wildcard matching, queue-group
//! grouping of results, a bounded match cache with targeted invalidation, and the subject
//! set relations (`subject_matches`, `subject_is_subset`, `subjects_overlap`) that
//! permissions and JetStream build on.
//!
//! It is pure: no I/O, no async, no threads of its own, no knowledge of clients, accounts or
//! permissions. It never panics on any subject or queue string, valid or not.
//!
//! ```
//! use natrium_sublist::Sublist;
//!
//! let index = Sublist::new();
//! index.insert("orders.*", None, "audit")?;
//! index.insert("orders.>", Some("workers"), "worker-1")?;
//! index.insert("orders.>", Some("workers"), "worker-2")?;
//! let result = index.match_subject("orders.new");
//! assert_eq!(result.plain, vec!["audit"]);
//! assert_eq!(result.queues.len(), 1); // one group: deliver to one of its two members
//! assert!(!index.has_interest("invoices.new"));
//! # Ok::<(), natrium_sublist::SublistError>(())
//! ```
//!
//! Code map:
//! - `subject.rs`: the subject grammar and the pure subject relations.
//! - `trie.rs`: the arena-backed wildcard trie (insert, remove with pruning, match, enumerate).
//! - `cache.rs`: the bounded literal-subject → result cache and its targeted updates.
//! - `sublist.rs`: [`Sublist`], the thread-safe front with locking, generation and stats.
//! - `transform.rs` (+ `transform/`): [`SubjectTransform`], nats-server's subject mapping
//!   engine (`$N`, `{{wildcard}}`, `{{partition}}`, `{{split}}`...), destination validation
//!   and [`WeightedMapping`] for account `mappings`.

mod cache;
mod subject;
mod sublist;
mod transform;
mod trie;

pub use cache::{CACHE_MAX, CACHE_SWEEP};
pub use subject::{
    is_valid_literal_subject, is_valid_queue, is_valid_subject, subject_is_subset, subject_matches,
    subjects_overlap,
};
pub use sublist::{MatchResult, Sublist, SublistError, SublistStats};
pub use transform::{
    transform_tokenize, validate_mapping, Choice, SubjectTransform, TransformError,
    WeightedMapping, WEIGHT_TOTAL_MAX,
};
