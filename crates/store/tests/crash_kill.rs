//! Crash test (a): a child process (this test binary re-run with `NATRIUM_STORE_CHILD` set)
//! appends pipelined messages to a real file store and prints one `ack <seq> <tag>` line
//! per completed append; the parent SIGKILLs it at a random moment, reopens the store and
//! checks that every acknowledged message is present and intact. Several rounds on the
//! same directory, bounded in time.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use natrium_store::*;

const CHILD_ENV: &str = "NATRIUM_STORE_CHILD";

fn payload(tag: u64) -> Bytes {
    let len = (tag * 7919 % 700) as usize;
    Bytes::from(
        (0..len)
            .map(|i| (tag as usize).wrapping_mul(31).wrapping_add(i) as u8)
            .collect::<Vec<u8>>(),
    )
}

fn opts() -> FileStoreOptions {
    FileStoreOptions {
        block_size: 64 << 10,
        ..Default::default()
    }
}

fn cfg() -> StoreConfig {
    StoreConfig::new("K", StorageKind::File)
}

/// The child: append forever, acknowledging on stdout.
fn child(dir: &Path, round: u64) {
    let store = open_file_store(dir, cfg(), opts()).unwrap();
    let (tx, rx) = mpsc::sync_channel::<(u64, u64)>(4096);
    let printer = std::thread::spawn(move || {
        let out = std::io::stdout();
        let mut out = out.lock();
        for (seq, tag) in rx {
            writeln!(out, "ack {seq} {tag}").unwrap();
            out.flush().unwrap();
        }
    });
    for i in 0u64.. {
        let tag = round * 1_000_000_000 + i;
        let tx = tx.clone();
        store.store_msg_async(
            &format!("k.{}", tag % 13),
            None,
            payload(tag),
            None,
            Box::new(move |r| {
                if let Ok((seq, _)) = r {
                    let _ = tx.send((seq, tag));
                }
            }),
        );
        if i % 64 == 63 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    drop(tx);
    let _ = printer.join();
}

#[test]
fn sigkill_during_appends_loses_no_acked_message() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let round = std::env::var("NATRIUM_STORE_ROUND")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        child(Path::new(&dir), round);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stream");
    let started = Instant::now();
    let mut acked: Vec<(u64, u64)> = Vec::new();
    let mut rng = 0x1234_5678_9abc_def0u64;
    for round in 1..=8u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let run_ms = 100 + rng % 400;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sigkill_during_appends_loses_no_acked_message",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .env("NATRIUM_STORE_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut parts = line.split_whitespace();
                if parts.next() != Some("ack") {
                    continue;
                }
                let (Some(Ok(seq)), Some(Ok(tag))) =
                    (parts.next().map(str::parse), parts.next().map(str::parse))
                else {
                    continue;
                };
                let _ = tx.send((seq, tag));
            }
        });
        std::thread::sleep(Duration::from_millis(run_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let round_acks: Vec<(u64, u64)> = rx.try_iter().collect();
        assert!(
            !round_acks.is_empty() || round > 1,
            "child acknowledged nothing in round {round}"
        );
        acked.extend(round_acks);

        let store = open_file_store(&dir, cfg(), opts()).unwrap();
        let st = store.state();
        assert!(
            st.failed.is_none() && st.corrupt_ranges.is_empty(),
            "round {round}: {st:?} {:?}",
            store.recovery_report()
        );
        for &(seq, tag) in &acked {
            let m = store
                .load_msg(seq)
                .unwrap_or_else(|e| panic!("round {round}: acked seq {seq} lost: {e}"));
            assert_eq!(m.payload, payload(tag), "round {round}: seq {seq} altered");
            assert_eq!(&*m.subject, format!("k.{}", tag % 13));
        }
        store.stop().unwrap();
        eprintln!(
            "round {round}: {} acked so far, {} in store, {:?}",
            acked.len(),
            st.msgs,
            store.recovery_report()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "crash test over its time budget"
        );
    }
}
