//! Metadata files of the file store: the stream's config (`stream.meta`) and one state file
//! per consumer (`consumers/<hex name>.cons`). Each is a whole, checksummed image replaced
//! atomically (write tmp → fsync → rename → fsync dir), so a crash leaves either the old or
//! the new image and a damaged file is detected, never half-read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::codec::{check_sealed, Reader, Writer};
use crate::consumer::{ConsumerConfig, ConsumerState};
use crate::error::{Result, StoreError};
use crate::snapshot::{decode_config, encode_config, MAX_CONFIG_LEN};
use crate::traits::ConsumerStore;
use crate::types::StoreConfig;
use crate::vfs::{read_all, write_atomic, Vfs};

const META_MAGIC: &[u8; 4] = b"NTRM";
const CONSUMER_MAGIC: &[u8; 4] = b"NTRC";
const META_VERSION: u16 = 1;
/// Largest consumer state file accepted.
const MAX_CONSUMER_FILE: u64 = 1 << 30;

pub(crate) fn encode_meta(cfg: &StoreConfig) -> Vec<u8> {
    let mut w = Writer::default();
    w.raw(META_MAGIC);
    w.u16(META_VERSION);
    w.u16(0);
    encode_config(cfg, &mut w);
    w.seal();
    w.into_vec()
}

pub(crate) fn decode_meta(buf: &[u8]) -> Result<StoreConfig> {
    let body = check_sealed(buf)?;
    let mut r = Reader::new(body);
    if r.take(4)? != META_MAGIC || r.u16()? != META_VERSION {
        return Err(StoreError::BadFormat("stream.meta: magic/version".into()));
    }
    r.u16()?;
    decode_config(&mut r)
}

/// Reads `stream.meta`; `Ok(None)` if absent, `Err` if damaged.
pub(crate) fn read_meta(vfs: &dyn Vfs, path: &Path) -> Result<Option<StoreConfig>> {
    if !vfs.exists(path) {
        return Ok(None);
    }
    let buf = read_all(&*vfs.open(path, false)?, MAX_CONFIG_LEN as u64)?;
    decode_meta(&buf).map(Some)
}

pub(crate) fn write_meta(vfs: &dyn Vfs, path: &Path, cfg: &StoreConfig) -> Result<()> {
    write_atomic(vfs, path, &encode_meta(cfg))?;
    Ok(())
}

/// File name of a consumer: hex of its name, so any name is a safe file name.
pub(crate) fn consumer_file(dir: &Path, name: &str) -> PathBuf {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{hex}.cons"))
}

fn encode_consumer(name: &str, cfg: &ConsumerConfig, st: &ConsumerState) -> Vec<u8> {
    let mut w = Writer::default();
    w.raw(CONSUMER_MAGIC);
    w.u16(META_VERSION);
    w.u16(0);
    w.bytes16(name.as_bytes());
    cfg.encode(&mut w);
    st.encode(&mut w);
    w.seal();
    w.into_vec()
}

fn decode_consumer(buf: &[u8]) -> Result<(String, ConsumerConfig, ConsumerState)> {
    let body = check_sealed(buf)?;
    let mut r = Reader::new(body);
    if r.take(4)? != CONSUMER_MAGIC || r.u16()? != META_VERSION {
        return Err(StoreError::BadFormat("consumer file: magic/version".into()));
    }
    r.u16()?;
    let name = r.str16()?;
    let cfg = ConsumerConfig::decode(&mut r)?;
    let st = ConsumerState::decode(&mut r)?;
    Ok((name, cfg, st))
}

struct ConsumerInner {
    cfg: ConsumerConfig,
    state: ConsumerState,
    closed: bool,
}

/// A consumer's state persisted as one atomically replaced file. Every update rewrites
/// the file; with `durable` the rewrite is fsynced before the update returns.
pub struct FileConsumerStore {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    name: String,
    durable: bool,
    inner: Mutex<ConsumerInner>,
}

impl FileConsumerStore {
    /// Opens the consumer file, creating it with `cfg` and an empty state if absent. A
    /// damaged file is an error (`Corrupt`), never an empty state.
    pub(crate) fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        name: &str,
        cfg: &ConsumerConfig,
        durable: bool,
    ) -> Result<FileConsumerStore> {
        vfs.create_dir_all(dir)?;
        let path = consumer_file(dir, name);
        let (cfg, state) = if vfs.exists(&path) {
            let buf = read_all(&*vfs.open(&path, false)?, MAX_CONSUMER_FILE)?;
            let (stored, _, st) = decode_consumer(&buf).map_err(|e| StoreError::Corrupt {
                seq: 0,
                reason: format!("consumer {name}: {e}"),
            })?;
            if stored != name {
                return Err(StoreError::Corrupt {
                    seq: 0,
                    reason: format!("consumer file names {stored}"),
                });
            }
            (cfg.clone(), st)
        } else {
            (cfg.clone(), ConsumerState::default())
        };
        let store = FileConsumerStore {
            vfs,
            path,
            name: name.to_string(),
            durable,
            inner: Mutex::new(ConsumerInner {
                cfg,
                state,
                closed: false,
            }),
        };
        store.persist(&store.inner.lock())?;
        Ok(store)
    }

    fn persist(&self, inner: &ConsumerInner) -> Result<()> {
        let data = encode_consumer(&self.name, &inner.cfg, &inner.state);
        if self.durable {
            write_atomic(&*self.vfs, &self.path, &data)?;
        } else {
            let tmp = self.path.with_extension("cons.tmp");
            let f = self.vfs.open(&tmp, true)?;
            f.set_len(0)?;
            f.write_at(&data, 0)?;
            drop(f);
            self.vfs.rename(&tmp, &self.path)?;
        }
        Ok(())
    }

    fn update(&self, f: impl FnOnce(&mut ConsumerInner) -> Result<()>) -> Result<()> {
        let mut g = self.inner.lock();
        if g.closed {
            return Err(StoreError::Closed);
        }
        let before = g.state.clone();
        let r = f(&mut g);
        if g.state != before || r.is_ok() {
            if let Err(e) = self.persist(&g) {
                // Keep memory equal to what is on disk.
                g.state = before;
                return Err(e);
            }
        }
        r
    }
}

impl ConsumerStore for FileConsumerStore {
    fn update_delivered(&self, dseq: u64, sseq: u64, dc: u64, ts: i64) -> Result<()> {
        self.update(|i| {
            i.state.apply_delivered(&i.cfg, dseq, sseq, dc, ts);
            Ok(())
        })
    }
    fn update_acks(&self, dseq: u64, sseq: u64) -> Result<()> {
        self.update(|i| i.state.apply_ack(&i.cfg, dseq, sseq))
    }
    fn set_state(&self, state: &ConsumerState) -> Result<()> {
        self.update(|i| {
            i.state = state.clone();
            Ok(())
        })
    }
    fn state(&self) -> Result<ConsumerState> {
        Ok(self.inner.lock().state.clone())
    }
    fn update_config(&self, cfg: &ConsumerConfig) -> Result<()> {
        self.update(|i| {
            i.cfg = cfg.clone();
            Ok(())
        })
    }
    fn config(&self) -> ConsumerConfig {
        self.inner.lock().cfg.clone()
    }
    fn stop(&self) -> Result<()> {
        self.inner.lock().closed = true;
        Ok(())
    }
    fn delete(&self) -> Result<()> {
        let mut g = self.inner.lock();
        g.closed = true;
        match self.vfs.remove(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_roundtrip_and_damage_detected() {
        let cfg = StoreConfig {
            subjects: vec!["a.>".into()],
            max_msgs: 7,
            ..StoreConfig::new("S", Default::default())
        };
        let buf = encode_meta(&cfg);
        assert_eq!(decode_meta(&buf).unwrap(), cfg);
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x01;
            assert!(decode_meta(&b).is_err());
            assert!(decode_meta(&buf[..i]).is_err());
        }
    }
}
