//! A stream's subject transform (`subject_transform`) and republish (`republish`): their
//! validation with nats-server v2.15's errors, their compiled form, and the republished
//! message's headers.
//!
//! It owns what nats-server answers to a bad transform or republish config and what a
//! republished copy looks like. It does no I/O: the stream's ingest path applies the ingest
//! transform before any other check, and its append completion (after the store made the
//! message durable) builds the copy here and publishes it through the outlet, before the
//! PubAck, as nats-server orders them.
//!
//! Behaviour recorded against nats-server v2.15.1:
//! - `subject_transform`: an empty `src` means `>`; an empty `dest` means no transform. A
//!   matching subject is stored (and acknowledged, counted, delivered) under the result;
//!   other subjects are stored as published.
//! - `republish`: an empty `src` is stored as `>`; an empty `dest` republishes nothing. The
//!   copy goes to the transform of the *stored* subject and carries the original headers
//!   followed by `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp`,
//!   `Nats-Last-Sequence` (the previous sequence stored under the same subject, 0 for the
//!   first) and, with `headers_only`, `Nats-Msg-Size` (payload bytes) and no payload.

use bytes::Bytes;
use natrium_sublist::{validate_mapping, SubjectTransform, TransformError};

use crate::errors::{self as e, ApiError};
use crate::headers as h;
use crate::types::{rfc3339, StreamConfig};

/// The full wildcard, what an empty source means.
const FWC: &str = ">";

/// A stream's compiled transforms.
#[derive(Debug, Default)]
pub struct Transforms {
    /// Applied to a published subject before it is stored.
    pub ingest: Option<SubjectTransform>,
    pub republish: Option<Republish>,
}

/// A compiled `republish`.
#[derive(Debug)]
pub struct Republish {
    transform: SubjectTransform,
    headers_only: bool,
}

/// One message to republish once its append is durable.
#[derive(Debug)]
pub struct RepublishMsg {
    pub dest: String,
    /// The previous sequence stored under the same subject (0 when none).
    pub last_seq: u64,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    pub headers_only: bool,
}

/// Fills in nats-server's defaults: an empty republish source is `>`.
pub fn normalize(cfg: &mut StreamConfig) {
    if let Some(rp) = cfg.republish.as_mut() {
        if rp.src.is_empty() {
            rp.src = FWC.to_string();
        }
    }
}

impl Transforms {
    /// Validates and compiles a (normalized) config's transforms, with nats-server's errors:
    /// the subject transform first (10155 for its source, 10156 for its destination), then
    /// the republish cycle check and transform (10052).
    pub fn compile(cfg: &StreamConfig) -> Result<Transforms, ApiError> {
        let mut out = Transforms::default();
        if let Some(st) = &cfg.subject_transform {
            if !st.src.is_empty() && !natrium_sublist::is_valid_subject(&st.src) {
                return Err(e::JS_STREAM_TRANSFORM_INVALID_SOURCE.with(format!(
                    "{} {}",
                    TransformError::BadSubject,
                    st.src
                )));
            }
            validate_mapping(&st.src, &st.dest)
                .map_err(|err| e::JS_STREAM_TRANSFORM_INVALID_DESTINATION.with(err))?;
            if !st.dest.is_empty() {
                let t = SubjectTransform::new(&st.src, &st.dest)
                    .map_err(|err| e::JS_STREAM_TRANSFORM_INVALID_DESTINATION.with(err))?;
                out.ingest = Some(t);
            }
        }
        if let Some(rp) = &cfg.republish {
            // A destination any stream subject can match would feed the stream its own copies.
            if cfg
                .subjects
                .iter()
                .any(|s| natrium_sublist::subjects_overlap(&rp.dest, s))
            {
                return Err(e::JS_STREAM_INVALID_CONFIG
                    .with("stream configuration for republish destination forms a cycle"));
            }
            let src = if rp.src.is_empty() { FWC } else { &rp.src };
            match SubjectTransform::new(src, &rp.dest) {
                Ok(transform) => {
                    out.republish = Some(Republish {
                        transform,
                        headers_only: rp.headers_only,
                    })
                }
                // nats-server accepts an empty destination and then republishes nothing.
                Err(TransformError::EmptyDestination) => {}
                Err(_) => {
                    return Err(e::JS_STREAM_INVALID_CONFIG.with(format!(
                        "stream configuration for republish with transform from '{src}' to '{}' not valid",
                        rp.dest
                    )))
                }
            }
        }
        Ok(out)
    }

    /// The subject a published message is stored under.
    pub fn ingest_subject(&self, subject: &str) -> Option<String> {
        self.ingest.as_ref().and_then(|t| t.apply(subject))
    }
}

impl Republish {
    /// The destination for a message stored under `subject`, when it matches the source.
    pub fn destination(&self, subject: &str) -> Option<String> {
        self.transform.apply(subject)
    }

    pub fn headers_only(&self) -> bool {
        self.headers_only
    }
}

impl RepublishMsg {
    /// The copy's headers and payload for the message stored as `seq` at `ts_ns`.
    pub fn build(&self, stream: &str, subject: &str, seq: u64, ts_ns: i64) -> (Bytes, Bytes) {
        let (seq, last, ts) = (seq.to_string(), self.last_seq.to_string(), rfc3339(ts_ns));
        let size = self.payload.len().to_string();
        let mut pairs = vec![
            ("Nats-Stream", stream),
            ("Nats-Subject", subject),
            ("Nats-Sequence", seq.as_str()),
            ("Nats-Time-Stamp", ts.as_str()),
            ("Nats-Last-Sequence", last.as_str()),
        ];
        if self.headers_only {
            pairs.push(("Nats-Msg-Size", size.as_str()));
        }
        let hdr = h::append(self.headers.as_deref(), &pairs);
        let payload = if self.headers_only {
            Bytes::new()
        } else {
            self.payload.clone()
        };
        (hdr, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{RePublish, SubjectTransform as Cfg};

    fn cfg(st: Option<(&str, &str)>, rp: Option<(&str, &str)>) -> StreamConfig {
        let mut c = StreamConfig {
            name: "S".into(),
            subjects: vec!["a.>".into()],
            subject_transform: st.map(|(src, dest)| Cfg {
                src: src.into(),
                dest: dest.into(),
            }),
            republish: rp.map(|(src, dest)| RePublish {
                src: src.into(),
                dest: dest.into(),
                headers_only: false,
            }),
            ..Default::default()
        };
        normalize(&mut c);
        c
    }

    /// err_code and description, as nats-server v2.15.1 answered these configs.
    fn check(st: Option<(&str, &str)>, rp: Option<(&str, &str)>, want: Option<(u16, &str)>) {
        let got = Transforms::compile(&cfg(st, rp)).err();
        let got = got.map(|e| (e.err_code, e.description.clone()));
        assert_eq!(got, want.map(|(c, d)| (c, d.to_string())), "{st:?} {rp:?}");
    }

    #[test]
    fn validation_matches_nats_server() {
        check(Some(("", "x.>")), None, None);
        check(Some(("", "")), None, None);
        check(Some((">", "t.>")), None, None);
        check(
            Some(("a..b", "x")),
            None,
            Some((10155, "stream transform source: invalid subject a..b")),
        );
        check(
            Some(("a.*", "x.$2")),
            None,
            Some((
                10156,
                "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]",
            )),
        );
        check(
            Some(("a.*", "x.*")),
            None,
            Some((10156, "stream transform: invalid subject")),
        );
        check(
            Some(("a.*", "x..y")),
            None,
            Some((
                10156,
                "stream transform: invalid mapping destination: invalid transform",
            )),
        );
        check(
            Some(("", "b.x")),
            None,
            Some((10156, "stream transform: invalid subject")),
        );
        let cycle = "stream configuration for republish destination forms a cycle";
        check(None, Some(("a.>", "a.x.>")), Some((10052, cycle)));
        check(None, Some(("x.>", "*.>")), Some((10052, cycle)));
        check(None, Some(("a..", "a.>")), Some((10052, cycle)));
        check(None, Some(("", "r.>")), None);
        check(None, Some(("b.>", "r.>")), None);
        check(None, Some(("", "")), None);
        check(
            None,
            Some(("", "r.x")),
            Some((
                10052,
                "stream configuration for republish with transform from '>' to 'r.x' not valid",
            )),
        );
        check(
            None,
            Some(("a.>", "r.{{wildcard(1)}}")),
            Some((
                10052,
                "stream configuration for republish with transform from 'a.>' to 'r.{{wildcard(1)}}' not valid",
            )),
        );
        // The subject transform is checked first.
        check(
            Some(("a.*", "x.$2")),
            Some(("a.b.c", "a.>")),
            Some((
                10156,
                "stream transform: invalid mapping destination: wildcard index out of range in $2: [2]",
            )),
        );
    }

    #[test]
    fn empty_sources_and_destinations() {
        let c = cfg(Some(("", "")), Some(("", "")));
        assert_eq!(c.republish.as_ref().unwrap().src, ">");
        assert_eq!(c.subject_transform.as_ref().unwrap().src, "");
        let t = Transforms::compile(&c).unwrap();
        assert!(t.ingest.is_none() && t.republish.is_none());
        let t = Transforms::compile(&cfg(Some(("", "t.>")), Some(("", "r.>")))).unwrap();
        assert_eq!(t.ingest_subject("a.b").as_deref(), Some("t.a.b"));
        let rp = t.republish.unwrap();
        assert_eq!(rp.destination("t.a.b").as_deref(), Some("r.t.a.b"));
    }

    #[test]
    fn republished_headers() {
        let m = RepublishMsg {
            dest: "r.a".into(),
            last_seq: 1,
            headers: Some(h::build(None, &[("X", "1")])),
            payload: Bytes::from_static(b"payload12"),
            headers_only: true,
        };
        let (hdr, payload) = m.build("S", "a", 3, 1_000_000_001);
        assert_eq!(
            &hdr[..],
            &b"NATS/1.0\r\nX: 1\r\nNats-Stream: S\r\nNats-Subject: a\r\nNats-Sequence: 3\r\n\
Nats-Time-Stamp: 1970-01-01T00:00:01.000000001Z\r\nNats-Last-Sequence: 1\r\nNats-Msg-Size: 9\r\n\r\n"[..]
        );
        assert!(payload.is_empty());
    }
}
