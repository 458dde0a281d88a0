//! Test harness shared by the integration tests: one factory per store kind, so every
//! test body runs against the memory store and the file store (durable and lazy), and the
//! file store can be closed and reopened mid-test.

#![allow(dead_code)]

use std::sync::Arc;

use natrium_store::{MessageStore, StorageKind, StoreConfig};

pub struct Harness {
    pub kind: &'static str,
    pub store: Arc<dyn MessageStore>,
    reopen: Option<Box<dyn Fn() -> Arc<dyn MessageStore>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// Stops and reopens the store (file store); the memory store stays as it is.
    pub fn reopen(&mut self) {
        if let Some(f) = &self.reopen {
            self.store.stop().unwrap();
            self.store = f();
        }
    }
    /// The file store's directory.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(|d| d.path())
    }
    pub fn is_file(&self) -> bool {
        self.reopen.is_some()
    }
}

pub type Factory = fn(StoreConfig) -> Harness;

pub fn memory(cfg: StoreConfig) -> Harness {
    let cfg = StoreConfig {
        storage: StorageKind::Memory,
        ..cfg
    };
    Harness {
        kind: "memory",
        store: natrium_store::new_memory_store(cfg),
        reopen: None,
        _dir: None,
    }
}

fn file_with(cfg: StoreConfig, sync: natrium_store::SyncPolicy, kind: &'static str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream");
    let cfg = StoreConfig {
        storage: StorageKind::File,
        ..cfg
    };
    let opts = natrium_store::FileStoreOptions {
        sync,
        block_size: 4096, // small blocks so tests cross block boundaries
        ..Default::default()
    };
    let open = {
        let path = path.clone();
        let opts = opts.clone();
        move || -> Arc<dyn MessageStore> {
            natrium_store::open_file_store(&path, cfg.clone(), opts.clone()).unwrap()
        }
    };
    let store = open();
    Harness {
        kind,
        store,
        reopen: Some(Box::new(open)),
        _dir: Some(dir),
    }
}

pub fn file(cfg: StoreConfig) -> Harness {
    file_with(cfg, natrium_store::SyncPolicy::Always, "file")
}

pub fn file_lazy(cfg: StoreConfig) -> Harness {
    let d = std::time::Duration::from_millis(50);
    file_with(cfg, natrium_store::SyncPolicy::Interval(d), "file-lazy")
}

/// A durable file store that compresses bodies (`compression: s2`).
pub fn file_packed(cfg: StoreConfig) -> Harness {
    let cfg = StoreConfig {
        compress: true,
        ..cfg
    };
    file_with(cfg, natrium_store::SyncPolicy::Always, "file-packed")
}

pub const FACTORIES: &[Factory] = &[memory, file, file_lazy, file_packed];
