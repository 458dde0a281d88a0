//! Restart time and memory of the file store at scale: fills a store with N messages
//! (lazy syncing, to fill fast), stops it, then measures in a fresh process how long
//! `open_file_store` takes and how much resident memory the opened store holds.
//!
//!     cargo run --release -p natrium-store --example restart -- fill DIR 10000000 100
//!     cargo run --release -p natrium-store --example restart -- open DIR
//!
//! `fill DIR N SIZE` writes N messages of SIZE payload bytes on 1,000 subjects. `open DIR`
//! prints the open time, the resident set before and after, and the state it recovered.
//! Two processes keep the fill's memory out of the open's measurement.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use natrium_store::*;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cfg() -> StoreConfig {
    StoreConfig::new("RESTART", StorageKind::File)
}

fn fill(dir: &Path, n: u64, size: usize) {
    let opts = FileStoreOptions {
        sync: SyncPolicy::Interval(Duration::from_secs(60)),
        ..Default::default()
    };
    let store = open_file_store(dir, cfg(), opts).expect("open");
    let payload = Bytes::from(vec![b'x'; size]);
    let subjects: Vec<String> = (0..1000).map(|i| format!("restart.{i}")).collect();
    let start = Instant::now();
    let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
    for i in 0..n {
        let done: AppendDone = if i + 1 == n {
            let tx = tx.clone();
            Box::new(move |r| {
                r.expect("append");
                let _ = tx.send(());
            })
        } else {
            Box::new(|r| {
                r.expect("append");
            })
        };
        store.store_msg_async(
            &subjects[(i % 1000) as usize],
            None,
            payload.clone(),
            None,
            done,
        );
    }
    rx.recv().expect("last append");
    store.stop().expect("stop");
    let st = dir_bytes(dir);
    println!(
        "filled {n} messages of {size} B in {:.1?} ({} MB on disk)",
        start.elapsed(),
        st / 1_000_000
    );
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                stack.push(e.path());
            } else {
                total += md.len();
            }
        }
    }
    total
}

fn open(dir: &Path) {
    let before = rss_kib();
    let start = Instant::now();
    let store = open_file_store(dir, cfg(), FileStoreOptions::default()).expect("open");
    let took = start.elapsed();
    let after = rss_kib();
    let st = store.fast_state();
    let per_million = (after.saturating_sub(before)) as f64 * 1024.0 / st.msgs.max(1) as f64;
    println!(
        "opened {} messages ({} MB) in {:.2?}; RSS {} MB -> {} MB; {:.1} MB per million messages",
        st.msgs,
        st.bytes / 1_000_000,
        took,
        before / 1024,
        after / 1024,
        per_million
    );
    store.stop().expect("stop");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("fill") if args.len() == 5 => fill(
            Path::new(&args[2]),
            args[3].parse().expect("N"),
            args[4].parse().expect("SIZE"),
        ),
        Some("open") if args.len() == 3 => open(Path::new(&args[2])),
        _ => eprintln!("usage: restart fill DIR N SIZE | restart open DIR"),
    }
}
