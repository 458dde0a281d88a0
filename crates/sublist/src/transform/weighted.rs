//! Weighted account mappings: one source subject with several destinations, each taken
//! with a probability in percent, as nats-server's `AddWeightedMappings` builds them and
//! `selectMappedSubject` picks one. The random draw is a parameter so that callers (and
//! tests) decide where randomness comes from. Cluster-scoped destinations are not modelled
//! here: a caller holding them keeps one `WeightedMapping` per cluster.

use super::{transform_tokenize, validate_mapping, SubjectTransform, TransformError};
use crate::is_valid_subject;

/// Limit on a weight and on the sum of weights: they are percentages.
pub const WEIGHT_TOTAL_MAX: u8 = 100;

/// What [`WeightedMapping::choose`] decided for a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The subject does not match the mapping's source; publish it unchanged.
    NoMatch,
    /// Publish to this subject instead (it may be the subject itself).
    Mapped(String),
    /// The draw fell into the unassigned remainder of a mapping that lists its own source
    /// as a destination: nats-server then publishes to no one.
    Dropped,
}

/// One account mapping: a source and its destinations with cumulative weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedMapping {
    src: String,
    /// Sorted by weight (stable), each with the running total of weights up to it.
    dests: Vec<(SubjectTransform, u8)>,
}

impl WeightedMapping {
    /// Builds the mapping of `src` to `dests` (destination, weight in percent). When the
    /// weights add up to less than 100 the remainder keeps the subject as it is, unless
    /// `src` itself is one of the destinations: then the remainder drops the message.
    pub fn new(src: &str, dests: &[(&str, u8)]) -> Result<WeightedMapping, TransformError> {
        if !is_valid_subject(src) {
            return Err(TransformError::BadSubject);
        }
        let mut total: u8 = 0;
        let mut built: Vec<(SubjectTransform, u8)> = Vec::with_capacity(dests.len() + 1);
        for (i, &(dest, weight)) in dests.iter().enumerate() {
            if dests[..i].iter().any(|&(seen, _)| seen == dest) {
                return Err(TransformError::DuplicateDestination(dest.to_string()));
            }
            if weight > WEIGHT_TOTAL_MAX {
                return Err(TransformError::WeightTooLarge);
            }
            total = total.saturating_add(weight);
            if total > WEIGHT_TOTAL_MAX {
                return Err(TransformError::TotalWeightTooLarge);
            }
            validate_mapping(src, dest)?;
            built.push((SubjectTransform::new(src, dest)?, weight));
        }
        let lists_src = dests.iter().any(|&(dest, _)| dest == src);
        if total != WEIGHT_TOTAL_MAX && !lists_src {
            let identity = SubjectTransform::new(src, &transform_tokenize(src))?;
            built.push((identity, WEIGHT_TOTAL_MAX - total));
        }
        built.sort_by_key(|&(_, weight)| weight);
        let mut running: u8 = 0;
        for (_, weight) in &mut built {
            running = running.saturating_add(*weight);
            *weight = running;
        }
        Ok(WeightedMapping {
            src: src.to_string(),
            dests: built,
        })
    }

    /// The source subject (may contain wildcards).
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Picks the destination for `subject` with the draw `r`, uniform in `0..100` (larger
    /// values select nothing unless there is a single destination of weight 100). As in
    /// nats-server the subject is matched against the source without checking that it is
    /// a literal subject.
    pub fn choose(&self, subject: &str, r: u8) -> Choice {
        self.choose_with_random(subject, r, &mut super::thread_random)
    }

    /// [`WeightedMapping::choose`] with the draws for `{{random(n)}}` supplied.
    pub fn choose_with_random(
        &self,
        subject: &str,
        r: u8,
        random: &mut dyn FnMut() -> u32,
    ) -> Choice {
        let Some((first, _)) = self.dests.first() else {
            return Choice::NoMatch;
        };
        let tokens: Vec<&str> = subject.split('.').collect();
        if !first.matches_tokens(&tokens) {
            return Choice::NoMatch;
        }
        let chosen = match self.dests.as_slice() {
            [(only, WEIGHT_TOTAL_MAX)] => Some(only),
            all => all
                .iter()
                .find(|(_, cumulative)| r < *cumulative)
                .map(|(tr, _)| tr),
        };
        match chosen {
            Some(tr) => Choice::Mapped(tr.transform_tokens(&tokens, random)),
            None => Choice::Dropped,
        }
    }
}
