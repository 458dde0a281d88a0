//! Where JetStream keeps stream and consumer configurations on disk, and how.
//!
//! Layout (as nats-server's): `<store_dir>/jetstream/$G/streams/<stream>/` holds the file
//! store's own files plus `natrium-stream.json`; consumer configs are
//! `<stream dir>/natrium-consumers/<consumer>.json` (their delivery state belongs to the
//! store's consumer store). Each file is `<crc32c hex>\n<json>`, replaced by writing a
//! temporary file, fsyncing it, renaming it over the old one and fsyncing the directory,
//! so a crash leaves either the old or the new file, and a damaged file is detected.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::types::{ConsumerConfig, StreamConfig};

const STREAM_FILE: &str = "natrium-stream.json";
const CONSUMERS_DIR: &str = "natrium-consumers";

#[derive(Serialize, Deserialize)]
struct Saved<T> {
    created: i64,
    config: T,
}

/// `<store_dir>/jetstream/<account>/streams/<name>`; `account_dir` is
/// `<store_dir>/jetstream/<account>`.
pub fn stream_dir(account_dir: &Path, name: &str) -> PathBuf {
    account_dir.join("streams").join(name)
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()
}

fn encode<T: Serialize>(created: i64, config: &T) -> Vec<u8> {
    let json = serde_json::to_vec(&Saved { created, config }).unwrap_or_default();
    let mut out = format!("{:08x}\n", crc32c::crc32c(&json)).into_bytes();
    out.extend_from_slice(&json);
    out
}

fn decode<T: DeserializeOwned>(path: &Path) -> Result<(T, i64), String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| format!("{}: missing checksum", path.display()))?;
    let want = std::str::from_utf8(&bytes[..nl])
        .ok()
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or_else(|| format!("{}: bad checksum line", path.display()))?;
    let json = &bytes[nl + 1..];
    if crc32c::crc32c(json) != want {
        return Err(format!("{}: checksum mismatch", path.display()));
    }
    let saved: Saved<T> =
        serde_json::from_slice(json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((saved.config, saved.created))
}

pub fn save_stream(account_dir: &Path, cfg: &StreamConfig, created: i64) -> std::io::Result<()> {
    write_atomic(
        &stream_dir(account_dir, &cfg.name).join(STREAM_FILE),
        &encode(created, cfg),
    )
}

/// Every stream config of an account. A damaged config is an error: the server must not
/// start pretending the stream does not exist.
pub fn load_streams(account_dir: &Path) -> Result<Vec<(StreamConfig, i64)>, String> {
    let root = account_dir.join("streams");
    let mut out = Vec::new();
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", root.display())),
    };
    for entry in entries.flatten() {
        let file = entry.path().join(STREAM_FILE);
        if file.exists() {
            out.push(decode(&file)?);
        }
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(out)
}

pub fn save_consumer(
    stream_dir: &Path,
    cfg: &ConsumerConfig,
    name: &str,
    created: i64,
) -> std::io::Result<()> {
    write_atomic(
        &stream_dir.join(CONSUMERS_DIR).join(format!("{name}.json")),
        &encode(created, cfg),
    )
}

pub fn remove_consumer(stream_dir: &Path, name: &str) {
    let _ = fs::remove_file(stream_dir.join(CONSUMERS_DIR).join(format!("{name}.json")));
}

pub fn load_consumers(stream_dir: &Path) -> Result<Vec<(String, ConsumerConfig, i64)>, String> {
    let dir = stream_dir.join(CONSUMERS_DIR);
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (cfg, created) = decode(&path)?;
        out.push((name, cfg, created));
    }
    Ok(out)
}
