//! Subject mappings (`mappings` at the top level for the global account, or inside an
//! account): a source subject mapped to one destination, or to several with weights.
//!
//! ```text
//! mappings: {
//!   "orders.*": "orders.$1.in"
//!   canary: [{destination: "svc.v2", weight: 10%}, {destination: "svc.v1", weight: 90%}]
//! }
//! ```
//! The destinations' transforms are checked by the server when it builds them.

use super::convert::{go_quote, Loader};
use crate::conf::{Spanned, Value};

/// One source subject and where its messages go.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub source: String,
    pub destinations: Vec<MapDestination>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapDestination {
    pub subject: String,
    /// Percent of messages (1–100).
    pub weight: u8,
    /// Only applies inside this cluster (`cluster:`).
    pub cluster: Option<String>,
}

pub(super) fn parse_mappings(ld: &mut Loader, v: &Spanned) -> Vec<Mapping> {
    let Some(entries) = ld.map(v) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (source, dv) in entries {
        let destinations = match &dv.value {
            Value::String(s) => vec![MapDestination {
                subject: s.clone(),
                weight: 100,
                cluster: None,
            }],
            Value::Array(items) => {
                let mut list = Vec::new();
                for item in items {
                    if let Some(d) = destination(ld, item) {
                        list.push(d);
                    }
                }
                list
            }
            Value::Map(_) => destination(ld, dv).into_iter().collect(),
            _ => {
                ld.error(&dv.pos, "Expected an entry for the mapping destination");
                continue;
            }
        };
        let mapping = Mapping {
            source: source.clone(),
            destinations,
        };
        if let Err(e) = mapping.compile() {
            let to = match mapping.destinations.as_slice() {
                [only] if matches!(dv.value, Value::String(_)) => {
                    format!(" to {}", go_quote(&only.subject))
                }
                _ => String::new(),
            };
            ld.error(
                &dv.pos,
                format!("Error adding mapping for {}{to} : {e}", go_quote(source)),
            );
            continue;
        }
        out.push(mapping);
    }
    out
}

impl Mapping {
    /// The mapping as the server applies it. Destinations bound to a cluster are left out:
    /// this server is not part of one.
    pub fn compile(
        &self,
    ) -> Result<natrium_sublist::WeightedMapping, natrium_sublist::TransformError> {
        let dests: Vec<(&str, u8)> = self
            .destinations
            .iter()
            .filter(|d| d.cluster.is_none())
            .map(|d| (d.subject.as_str(), d.weight))
            .collect();
        natrium_sublist::WeightedMapping::new(&self.source, &dests)
    }
}

fn destination(ld: &mut Loader, v: &Spanned) -> Option<MapDestination> {
    let Value::Map(fields) = &v.value else {
        ld.error(&v.pos, "Expected an entry for the mapping destination");
        return None;
    };
    let mut d = MapDestination {
        subject: String::new(),
        weight: 100,
        cluster: None,
    };
    for (key, fv) in fields {
        match key.to_lowercase().as_str() {
            "dest" | "destination" => d.subject = ld.string(fv).unwrap_or_default(),
            "weight" => {
                let text = match &fv.value {
                    Value::Int(i) => i.to_string(),
                    Value::String(s) => s.clone(),
                    _ => String::new(),
                };
                match text.trim().trim_end_matches('%').parse::<u8>() {
                    Ok(w) if w <= 100 => d.weight = w,
                    _ => {
                        ld.error(
                            &fv.pos,
                            format!("Invalid weight {} for mapping destination", go_quote(&text)),
                        );
                        return None;
                    }
                }
            }
            "cluster" => d.cluster = ld.string(fv),
            _ => {
                ld.error(
                    &fv.pos,
                    format!("Unknown field {} for mapping destination", go_quote(key)),
                );
                return None;
            }
        }
    }
    Some(d)
}
