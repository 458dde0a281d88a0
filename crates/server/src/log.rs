//! The server's logger, writing nats-server's line format.
//!
//! Lines look like `[PID] 2026/11/22 03:55:35.123456 [INF] text` (time omitted when
//! `logtime` is off) and go to stderr or to the `-l` log file, which is rotated when it grows
//! past `logfile_size_limit`. Operators and test helpers grep these lines, so the wording of
//! the key lines lives with the code that emits them and must match nats-server. The level
//! switches are atomics so a disabled debug or trace line costs one load and no formatting.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn tag(self) -> &'static str {
        match self {
            Level::Fatal => "[FTL]",
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        }
    }
}

/// What the logger is told by options (at start and on reload).
#[derive(Debug, Clone, Default)]
pub struct LogConfig {
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub logtime_utc: bool,
    pub file: Option<PathBuf>,
    pub size_limit: u64,
}

struct FileSink {
    path: PathBuf,
    file: File,
    written: u64,
    size_limit: u64,
}

struct Sink {
    file: Option<FileSink>,
    logtime: bool,
    utc: bool,
}

static DEBUG: AtomicBool = AtomicBool::new(false);
static TRACE: AtomicBool = AtomicBool::new(false);
static SINK: Mutex<Sink> = Mutex::new(Sink {
    file: None,
    logtime: true,
    utc: false,
});

/// Applies a logging configuration. Opening the log file can fail; the error is returned
/// and the previous sink stays in place.
pub fn configure(cfg: &LogConfig) -> std::io::Result<()> {
    let file = match &cfg.file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            let written = file.metadata().map(|m| m.len()).unwrap_or(0);
            Some(FileSink {
                path: path.clone(),
                file,
                written,
                size_limit: cfg.size_limit,
            })
        }
        None => None,
    };
    let mut sink = SINK.lock();
    sink.file = file;
    sink.logtime = cfg.logtime;
    sink.utc = cfg.logtime_utc;
    DEBUG.store(cfg.debug, Ordering::Relaxed);
    TRACE.store(cfg.trace, Ordering::Relaxed);
    Ok(())
}

/// Reopens the log file (SIGUSR1, for external log rotation).
pub fn reopen() -> std::io::Result<()> {
    let mut sink = SINK.lock();
    if let Some(fs) = sink.file.as_mut() {
        fs.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&fs.path)?;
        fs.written = fs.file.metadata().map(|m| m.len()).unwrap_or(0);
    }
    Ok(())
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn trace_enabled() -> bool {
    TRACE.load(Ordering::Relaxed)
}

pub fn enabled(level: Level) -> bool {
    match level {
        Level::Debug => debug_enabled(),
        Level::Trace => trace_enabled(),
        _ => true,
    }
}

/// Formats and writes one line. Use the `info!`-style macros rather than calling this.
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    let mut sink = SINK.lock();
    let mut line = format!("[{}] ", std::process::id());
    if sink.logtime {
        let fmt = "%Y/%m/%d %H:%M:%S%.6f ";
        if sink.utc {
            line.push_str(&chrono::Utc::now().format(fmt).to_string());
        } else {
            line.push_str(&chrono::Local::now().format(fmt).to_string());
        }
    }
    line.push_str(level.tag());
    line.push(' ');
    std::fmt::write(&mut line, args).ok();
    line.push('\n');
    match sink.file.as_mut() {
        Some(fs) => {
            // A failed log write has nowhere better to be reported; stderr is the fallback.
            if fs.file.write_all(line.as_bytes()).is_err() {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            fs.written += line.len() as u64;
            if fs.size_limit > 0 && fs.written >= fs.size_limit {
                rotate(fs);
            }
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

/// Renames the full log file aside with a timestamp suffix and starts a new one.
fn rotate(fs: &mut FileSink) {
    let stamp = chrono::Local::now().format("%Y.%m.%d.%H.%M.%S%.9f");
    let mut aside = fs.path.clone().into_os_string();
    aside.push(format!(".{stamp}"));
    if std::fs::rename(&fs.path, &aside).is_ok() {
        if let Ok(f) = OpenOptions::new().create(true).append(true).open(&fs.path) {
            fs.file = f;
            fs.written = 0;
        }
    }
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($arg:tt)*) => {
        if $crate::log::enabled($lvl) {
            $crate::log::write($lvl, format_args!($($arg)*))
        }
    };
}
#[macro_export]
macro_rules! info { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Info, $($arg)*) }; }
#[macro_export]
macro_rules! warn { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Warn, $($arg)*) }; }
#[macro_export]
macro_rules! error { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Error, $($arg)*) }; }
#[macro_export]
macro_rules! fatal { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Fatal, $($arg)*) }; }
#[macro_export]
macro_rules! debug { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Debug, $($arg)*) }; }
#[macro_export]
macro_rules! trace { ($($arg:tt)*) => { $crate::log_at!($crate::log::Level::Trace, $($arg)*) }; }
