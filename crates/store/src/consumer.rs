//! Consumer state: the types ([`ConsumerState`], [`ConsumerConfig`]), the pure transition
//! rules for deliveries and acks shared by both consumer stores, the binary encoding of a
//! state (used by the file consumer store and snapshots), and the memory consumer store.
//!
//! The ack floor only ever advances over acknowledged sequences: it moves to the delivery
//! just below the oldest still-pending message, never past it.

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::codec::{Reader, Writer};
use crate::error::{Result, StoreError};
use crate::traits::ConsumerStore;

/// A consumer sequence and the stream sequence it delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SequencePair {
    pub consumer: u64,
    pub stream: u64,
}

/// A delivered, not yet acknowledged message: its (first) delivery sequence and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pending {
    pub sequence: u64,
    pub ts: i64,
}

/// A consumer's durable state, as nats-server's `ConsumerState`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerState {
    pub delivered: SequencePair,
    pub ack_floor: SequencePair,
    /// Stream sequence → pending record.
    pub pending: BTreeMap<u64, Pending>,
    /// Stream sequence → number of redeliveries.
    pub redelivered: BTreeMap<u64, u64>,
}

/// Ack policy, the one consumer setting the state rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    None,
    All,
    #[default]
    Explicit,
}

/// What a consumer store keeps of a consumer's config: the fields its rules need and the
/// JetStream layer's encoded config, stored opaquely.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerConfig {
    pub ack_policy: AckPolicy,
    /// Deliveries after which a message leaves pending; <= 0 = unlimited.
    pub max_deliver: i64,
    /// The JetStream layer's full config (e.g. JSON), stored as is.
    pub raw: Bytes,
}

/// Hard bound on pending/redelivered entries accepted from disk or a snapshot.
pub(crate) const MAX_STATE_ENTRIES: u64 = 1 << 24;

impl ConsumerState {
    /// Applies a delivery (nats-server's rules).
    pub fn apply_delivered(
        &mut self,
        cfg: &ConsumerConfig,
        dseq: u64,
        sseq: u64,
        dc: u64,
        ts: i64,
    ) {
        if dseq <= self.ack_floor.consumer {
            return;
        }
        if cfg.ack_policy == AckPolicy::None {
            if dseq > self.delivered.consumer {
                self.delivered.consumer = dseq;
                self.ack_floor.consumer = dseq;
            }
            if sseq > self.delivered.stream {
                self.delivered.stream = sseq;
                self.ack_floor.stream = sseq;
            }
            return;
        }
        if sseq <= self.delivered.stream {
            if let Some(p) = self.pending.get_mut(&sseq) {
                p.ts = ts;
            }
        } else {
            self.pending.insert(sseq, Pending { sequence: dseq, ts });
        }
        self.delivered.consumer = self.delivered.consumer.max(dseq);
        self.delivered.stream = self.delivered.stream.max(sseq);
        if dc > 1 {
            if cfg.max_deliver > 0 && dc > cfg.max_deliver as u64 {
                self.pending.remove(&sseq);
            }
            let r = self.redelivered.entry(sseq).or_insert(0);
            *r = (*r).max(dc - 1);
        }
    }

    /// Applies an ack; `NotFound` if `sseq` is not pending.
    pub fn apply_ack(&mut self, cfg: &ConsumerConfig, dseq: u64, sseq: u64) -> Result<()> {
        if cfg.ack_policy == AckPolicy::None {
            return Err(StoreError::InvalidConfig("ack with ack policy none".into()));
        }
        self.redelivered.remove(&sseq);
        if dseq <= self.ack_floor.consumer {
            return Ok(());
        }
        let Some(p) = self.pending.get(&sseq).copied() else {
            return Err(StoreError::NotFound);
        };
        if cfg.ack_policy == AckPolicy::All {
            self.ack_floor = SequencePair {
                consumer: dseq,
                stream: sseq,
            };
            let acked: Vec<u64> = self.pending.range(..=sseq).map(|(&s, _)| s).collect();
            for s in acked {
                self.pending.remove(&s);
                self.redelivered.remove(&s);
            }
            return Ok(());
        }
        self.pending.remove(&sseq);
        let dseq = if p.sequence > 0 && dseq > p.sequence {
            p.sequence
        } else {
            dseq
        };
        self.advance_floor(dseq, sseq);
        Ok(())
    }

    /// Moves the ack floor as far as acknowledged deliveries allow.
    fn advance_floor(&mut self, dseq: u64, sseq: u64) {
        match self.pending.iter().next() {
            None => self.ack_floor = self.delivered,
            Some((&first_sseq, first)) => {
                if dseq == self.ack_floor.consumer + 1 {
                    self.ack_floor = SequencePair {
                        consumer: dseq,
                        stream: sseq,
                    };
                }
                // Everything below the oldest pending message is acknowledged.
                if first.sequence > 0 && first_sseq > 0 {
                    let floor = SequencePair {
                        consumer: first.sequence - 1,
                        stream: first_sseq - 1,
                    };
                    if floor.consumer > self.ack_floor.consumer {
                        self.ack_floor = floor;
                    }
                }
            }
        }
    }

    /// Encodes the state (without framing; see `file::meta` for the file envelope).
    pub(crate) fn encode(&self, w: &mut Writer) {
        for v in [self.delivered.consumer, self.delivered.stream] {
            w.u64(v);
        }
        for v in [self.ack_floor.consumer, self.ack_floor.stream] {
            w.u64(v);
        }
        w.u64(self.pending.len() as u64);
        for (&s, p) in &self.pending {
            w.u64(s);
            w.u64(p.sequence);
            w.i64(p.ts);
        }
        w.u64(self.redelivered.len() as u64);
        for (&s, &n) in &self.redelivered {
            w.u64(s);
            w.u64(n);
        }
    }

    /// Decodes a state written by `encode`; bounded, never panics.
    pub(crate) fn decode(r: &mut Reader) -> Result<ConsumerState> {
        let mut st = ConsumerState {
            delivered: SequencePair {
                consumer: r.u64()?,
                stream: r.u64()?,
            },
            ack_floor: SequencePair {
                consumer: r.u64()?,
                stream: r.u64()?,
            },
            ..Default::default()
        };
        let n = r.count(MAX_STATE_ENTRIES, 24)?;
        for _ in 0..n {
            let s = r.u64()?;
            st.pending.insert(
                s,
                Pending {
                    sequence: r.u64()?,
                    ts: r.i64()?,
                },
            );
        }
        let n = r.count(MAX_STATE_ENTRIES, 16)?;
        for _ in 0..n {
            let s = r.u64()?;
            st.redelivered.insert(s, r.u64()?);
        }
        Ok(st)
    }
}

impl ConsumerConfig {
    pub(crate) fn encode(&self, w: &mut Writer) {
        w.u8(match self.ack_policy {
            AckPolicy::None => 0,
            AckPolicy::All => 1,
            AckPolicy::Explicit => 2,
        });
        w.i64(self.max_deliver);
        w.bytes32(&self.raw);
    }

    pub(crate) fn decode(r: &mut Reader) -> Result<ConsumerConfig> {
        let ack_policy = match r.u8()? {
            0 => AckPolicy::None,
            1 => AckPolicy::All,
            2 => AckPolicy::Explicit,
            v => return Err(StoreError::BadFormat(format!("ack policy {v}"))),
        };
        let max_deliver = r.i64()?;
        let raw = Bytes::copy_from_slice(r.bytes32(1 << 24)?);
        Ok(ConsumerConfig {
            ack_policy,
            max_deliver,
            raw,
        })
    }
}

/// A consumer store that keeps its state in memory only.
#[derive(Debug, Default)]
pub struct MemoryConsumerStore {
    inner: Mutex<(ConsumerConfig, ConsumerState, bool)>,
}

impl MemoryConsumerStore {
    pub fn new(cfg: ConsumerConfig) -> Self {
        MemoryConsumerStore {
            inner: Mutex::new((cfg, ConsumerState::default(), false)),
        }
    }
}

impl ConsumerStore for MemoryConsumerStore {
    fn update_delivered(&self, dseq: u64, sseq: u64, dc: u64, ts: i64) -> Result<()> {
        let mut g = self.inner.lock();
        let (cfg, st, closed) = &mut *g;
        if *closed {
            return Err(StoreError::Closed);
        }
        st.apply_delivered(cfg, dseq, sseq, dc, ts);
        Ok(())
    }
    fn update_acks(&self, dseq: u64, sseq: u64) -> Result<()> {
        let mut g = self.inner.lock();
        let (cfg, st, closed) = &mut *g;
        if *closed {
            return Err(StoreError::Closed);
        }
        st.apply_ack(cfg, dseq, sseq)
    }
    fn set_state(&self, state: &ConsumerState) -> Result<()> {
        self.inner.lock().1 = state.clone();
        Ok(())
    }
    fn state(&self) -> Result<ConsumerState> {
        Ok(self.inner.lock().1.clone())
    }
    fn update_config(&self, cfg: &ConsumerConfig) -> Result<()> {
        self.inner.lock().0 = cfg.clone();
        Ok(())
    }
    fn config(&self) -> ConsumerConfig {
        self.inner.lock().0.clone()
    }
    fn stop(&self) -> Result<()> {
        self.inner.lock().2 = true;
        Ok(())
    }
    fn delete(&self) -> Result<()> {
        let mut g = self.inner.lock();
        g.1 = ConsumerState::default();
        g.2 = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit() -> ConsumerConfig {
        ConsumerConfig {
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }
    }

    #[test]
    fn ack_floor_never_passes_pending() {
        let cfg = explicit();
        let mut st = ConsumerState::default();
        for i in 1..=5 {
            st.apply_delivered(&cfg, i, i + 10, 1, 0);
        }
        st.apply_ack(&cfg, 2, 12).unwrap();
        assert_eq!(st.ack_floor, SequencePair::default());
        st.apply_ack(&cfg, 1, 11).unwrap();
        assert_eq!(
            st.ack_floor,
            SequencePair {
                consumer: 2,
                stream: 12
            }
        );
        st.apply_ack(&cfg, 4, 14).unwrap();
        assert_eq!(st.ack_floor.consumer, 2);
        st.apply_ack(&cfg, 3, 13).unwrap();
        assert_eq!(
            st.ack_floor,
            SequencePair {
                consumer: 4,
                stream: 14
            }
        );
        st.apply_ack(&cfg, 5, 15).unwrap();
        assert_eq!(
            st.ack_floor,
            SequencePair {
                consumer: 5,
                stream: 15
            }
        );
        assert!(st.pending.is_empty());
        assert_eq!(st.apply_ack(&cfg, 9, 99), Err(StoreError::NotFound));
        assert_eq!(st.apply_ack(&cfg, 3, 13), Ok(())); // below the floor: a replay
    }

    #[test]
    fn ack_all_and_redelivery() {
        let cfg = ConsumerConfig {
            ack_policy: AckPolicy::All,
            max_deliver: 3,
            ..Default::default()
        };
        let mut st = ConsumerState::default();
        for i in 1..=4 {
            st.apply_delivered(&cfg, i, i, 1, 0);
        }
        st.apply_delivered(&cfg, 5, 2, 2, 7);
        assert_eq!(st.redelivered.get(&2), Some(&1));
        st.apply_ack(&cfg, 3, 3).unwrap();
        assert_eq!(
            st.ack_floor,
            SequencePair {
                consumer: 3,
                stream: 3
            }
        );
        assert_eq!(st.pending.len(), 1);
        assert!(st.redelivered.is_empty());
    }

    #[test]
    fn encode_roundtrip() {
        let cfg = explicit();
        let mut st = ConsumerState::default();
        st.apply_delivered(&cfg, 1, 5, 1, 42);
        st.apply_delivered(&cfg, 2, 6, 2, 43);
        let mut w = Writer::default();
        st.encode(&mut w);
        let buf = w.into_vec();
        let back = ConsumerState::decode(&mut Reader::new(&buf)).unwrap();
        assert_eq!(back, st);
        for cut in 0..buf.len() {
            assert!(ConsumerState::decode(&mut Reader::new(&buf[..cut])).is_err());
        }
    }
}
