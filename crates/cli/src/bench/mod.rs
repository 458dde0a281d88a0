//! `natrium bench`: load scenarios against any NATS server, through async-nats.
//!
//! Each scenario connects its own clients, runs a bounded number of messages under a time
//! limit, and produces a [`Report`] (messages, bytes, elapsed, rates and, where the scenario
//! measures round trips, latency percentiles from an HDR histogram). JetStream scenarios
//! create their own stream or bucket and delete it afterwards. Output is a text table or,
//! with `--json`, one JSON object per report line.

mod core;
mod js;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

pub type BenchError = Box<dyn std::error::Error + Send + Sync>;
pub type BenchResult<T> = Result<T, BenchError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Publishers only.
    Pub,
    /// Publishers and subscribers on one subject (every subscriber gets every message).
    PubSub,
    /// One publisher, `--subs` subscribers.
    Fanout,
    /// `--pubs` publishers, `--subs` subscribers.
    Nm,
    /// Publishers and a queue group of `--subs` members (each message handled once).
    Queue,
    /// Request/reply round trips with latency percentiles.
    ReqRep,
    /// JetStream publish, waiting for each ack before the next publish.
    JsPubSync,
    /// JetStream publish with up to `--window` acks outstanding.
    JsPubAsync,
    /// Pull consumer over a pre-filled stream.
    JsPull,
    /// Ordered consumer over a pre-filled stream.
    JsOrdered,
    /// Key-value puts then gets.
    Kv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AckMode {
    None,
    All,
    Explicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    File,
    Memory,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Scenario to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Server URL.
    #[arg(short, long, default_value = "nats://127.0.0.1:4222")]
    pub server: String,
    /// Total messages to publish (per scenario run).
    #[arg(short = 'n', long, default_value_t = 100_000)]
    pub msgs: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Number of publishing connections (or requesters for req-rep).
    #[arg(long, default_value_t = 1)]
    pub pubs: usize,
    /// Number of subscribing connections (or responders for req-rep).
    #[arg(long, default_value_t = 1)]
    pub subs: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    pub time_limit: u64,
    /// Outstanding acks for js-pub-async.
    #[arg(long, default_value_t = 256)]
    pub window: usize,
    /// Pull batch size for js-pull.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Ack policy for js-pull.
    #[arg(long, value_enum, default_value_t = AckMode::Explicit)]
    pub ack: AckMode,
    /// Stream storage for JetStream scenarios.
    #[arg(long, value_enum, default_value_t = StorageKind::File)]
    pub storage: StorageKind,
    /// Subject (JetStream scenarios use `<subject>.js`).
    #[arg(long, default_value = "bench")]
    pub subject: String,
    /// Print one JSON object per report instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl BenchArgs {
    pub fn payload(&self) -> bytes::Bytes {
        bytes::Bytes::from(vec![b'n'; self.size])
    }
    pub fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.time_limit)
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        })
    }
}

/// One measured result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    /// What was measured, e.g. "pub", "sub", "put", "get".
    pub side: String,
    pub msgs: u64,
    pub expected: u64,
    pub size: usize,
    pub elapsed_s: f64,
    pub msgs_per_s: f64,
    pub mb_per_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
}

impl Report {
    pub fn new(
        args: &BenchArgs,
        side: &str,
        msgs: u64,
        expected: u64,
        elapsed: Duration,
    ) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Report {
            scenario: args.scenario,
            side: side.to_string(),
            msgs,
            expected,
            size: args.size,
            elapsed_s: secs,
            msgs_per_s: msgs as f64 / secs,
            mb_per_s: msgs as f64 * args.size as f64 / secs / 1e6,
            latency: None,
        }
    }

    pub fn with_latency(mut self, h: &Histogram<u64>) -> Report {
        self.latency = Latency::from_histogram(h);
        self
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// A progress bar that appears only once a run has taken more than a second.
pub fn progress(args: &BenchArgs, total: u64) -> Arc<ProgressBar> {
    let pb = Arc::new(ProgressBar::with_draw_target(
        Some(total),
        ProgressDrawTarget::hidden(),
    ));
    pb.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} msgs [{elapsed_precise}] {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if !args.json {
        let pb2 = pb.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if !pb2.is_finished() {
                pb2.set_draw_target(ProgressDrawTarget::stderr());
            }
        });
    }
    pb
}

pub async fn connect(args: &BenchArgs) -> BenchResult<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 20)
        .connect(&args.server)
        .await?;
    Ok(client)
}

pub async fn run(args: BenchArgs) -> BenchResult<()> {
    let reports = match args.scenario {
        Scenario::Pub => core::publish_only(&args).await?,
        Scenario::PubSub | Scenario::Fanout | Scenario::Nm => core::pub_sub(&args, false).await?,
        Scenario::Queue => core::pub_sub(&args, true).await?,
        Scenario::ReqRep => core::request_reply(&args).await?,
        Scenario::JsPubSync => js::publish(&args, 1).await?,
        Scenario::JsPubAsync => js::publish(&args, args.window.max(1)).await?,
        Scenario::JsPull => js::pull_consume(&args).await?,
        Scenario::JsOrdered => js::ordered_consume(&args).await?,
        Scenario::Kv => js::key_value(&args).await?,
    };
    for r in &reports {
        print_report(&args, r);
    }
    Ok(())
}

fn print_report(args: &BenchArgs, r: &Report) {
    if args.json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    let scenario = serde_json::to_value(r.scenario)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    print!(
        "{scenario:<14} {:<5} {:>10} msgs  {:>8.3}s  {:>12.0} msgs/s  {:>9.2} MB/s",
        r.side, r.msgs, r.elapsed_s, r.msgs_per_s, r.mb_per_s
    );
    if r.msgs < r.expected {
        print!("  (expected {})", r.expected);
    }
    if let Some(l) = &r.latency {
        print!(
            "  p50 {}us p90 {}us p99 {}us p99.9 {}us max {}us",
            l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
        );
    }
    println!();
}
