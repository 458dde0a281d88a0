//! A simulated file system for crash and fault tests (after redb's crash backend). Each
//! file keeps a *written* image (what reads see) and a *durable* image (what survives a
//! power loss: only data covered by a `sync`); directory entries likewise need
//! `sync_dir` to become durable. [`SimVfs::crash`] builds the file system a machine would
//! find after losing power, optionally with a random prefix of each file's unsynced
//! appended bytes having reached the disk (torn writes). Writes and syncs can be made to
//! fail with ENOSPC or EIO. Test support only; the file store never depends on it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::vfs::{VFile, Vfs};

#[derive(Debug, Default, Clone)]
struct Inode {
    written: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct Fs {
    inodes: Vec<Arc<Mutex<Inode>>>,
    /// Path → inode number, as seen by the running program.
    names: BTreeMap<PathBuf, usize>,
    /// Path → inode number, as recorded durably.
    durable_names: BTreeMap<PathBuf, usize>,
    dirs: std::collections::BTreeSet<PathBuf>,
}

/// Which fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ENOSPC` on writes.
    NoSpace,
    /// `EIO` on writes.
    WriteIo,
    /// `EIO` on syncs (file and directory).
    SyncIo,
}

#[derive(Debug, Default)]
struct Faults {
    /// Fault armed, and how many more successful operations of its kind before it fires.
    armed: Option<(Fault, u64)>,
    fired: u64,
}

/// The simulated file system (cheap to clone; clones share state).
#[derive(Debug, Default, Clone)]
pub struct SimVfs {
    fs: Arc<Mutex<Fs>>,
    faults: Arc<Mutex<Faults>>,
}

struct SimFile {
    inode: Arc<Mutex<Inode>>,
    faults: Arc<Mutex<Faults>>,
}

impl Faults {
    fn check(&mut self, kind: &[Fault]) -> io::Result<()> {
        if let Some((f, left)) = self.armed.as_mut() {
            if kind.contains(f) {
                if *left > 0 {
                    *left -= 1;
                    return Ok(());
                }
                self.fired += 1;
                return Err(match f {
                    Fault::NoSpace => io::Error::from_raw_os_error(28),
                    _ => io::Error::from_raw_os_error(5),
                });
            }
        }
        Ok(())
    }
}

impl VFile for SimFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<usize> {
        let ino = self.inode.lock();
        let off = off.min(ino.written.len() as u64) as usize;
        let n = buf.len().min(ino.written.len() - off);
        buf[..n].copy_from_slice(&ino.written[off..off + n]);
        Ok(n)
    }
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.faults
            .lock()
            .check(&[Fault::NoSpace, Fault::WriteIo])?;
        let mut ino = self.inode.lock();
        let end = off as usize + buf.len();
        if ino.written.len() < end {
            ino.written.resize(end, 0);
        }
        ino.written[off as usize..end].copy_from_slice(buf);
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.inode.lock().written.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inode.lock().written.resize(len as usize, 0);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        self.faults.lock().check(&[Fault::SyncIo])?;
        let mut ino = self.inode.lock();
        ino.durable = ino.written.clone();
        Ok(())
    }
}

/// A small deterministic generator for crash images (xorshift).
fn next_rand(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

impl SimVfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms `fault` to fire after `after` more successful operations of its kind.
    pub fn inject(&self, fault: Fault, after: u64) {
        self.faults.lock().armed = Some((fault, after));
    }

    /// Disarms any fault; returns how many times faults fired.
    pub fn clear_faults(&self) -> u64 {
        let mut f = self.faults.lock();
        f.armed = None;
        f.fired
    }

    /// The file system after a power loss: durable names and durable contents. With
    /// `torn_seed`, each file whose written image extends its durable image also keeps a
    /// random prefix of the extension (partially landed appends).
    pub fn crash(&self, torn_seed: Option<u64>) -> SimVfs {
        let fs = self.fs.lock();
        let mut rng = torn_seed.unwrap_or(0) | 1;
        let mut out = Fs {
            dirs: fs.dirs.clone(),
            ..Default::default()
        };
        for (path, &ino) in &fs.durable_names {
            let node = fs.inodes[ino].lock();
            let mut data = node.durable.clone();
            if torn_seed.is_some()
                && node.written.len() > data.len()
                && node.written.starts_with(&data)
            {
                let extra = node.written.len() - data.len();
                let keep = (next_rand(&mut rng) % (extra as u64 + 1)) as usize;
                data.extend_from_slice(
                    &node.written[node.durable.len()..node.durable.len() + keep],
                );
            }
            let n = out.inodes.len();
            out.inodes.push(Arc::new(Mutex::new(Inode {
                written: data.clone(),
                durable: data,
            })));
            out.names.insert(path.clone(), n);
            out.durable_names.insert(path.clone(), n);
        }
        SimVfs {
            fs: Arc::new(Mutex::new(out)),
            faults: Arc::default(),
        }
    }

    /// Paths of all files currently visible.
    pub fn files(&self) -> Vec<PathBuf> {
        self.fs.lock().names.keys().cloned().collect()
    }

    /// The written contents of `path`.
    pub fn read_file(&self, path: &Path) -> Option<Vec<u8>> {
        let fs = self.fs.lock();
        fs.names
            .get(path)
            .map(|&i| fs.inodes[i].lock().written.clone())
    }

    /// Replaces the contents of `path` (written and durable), e.g. to flip bits.
    pub fn write_file(&self, path: &Path, data: Vec<u8>) {
        let fs = self.fs.lock();
        if let Some(&i) = fs.names.get(path) {
            let mut node = fs.inodes[i].lock();
            node.written = data.clone();
            node.durable = data;
        }
    }
}

impl Vfs for SimVfs {
    fn open(&self, path: &Path, create: bool) -> io::Result<Arc<dyn VFile>> {
        let mut fs = self.fs.lock();
        let ino = match fs.names.get(path) {
            Some(&i) => i,
            None if create => {
                let i = fs.inodes.len();
                fs.inodes.push(Arc::default());
                fs.names.insert(path.to_path_buf(), i);
                i
            }
            None => return Err(io::ErrorKind::NotFound.into()),
        };
        Ok(Arc::new(SimFile {
            inode: fs.inodes[ino].clone(),
            faults: self.faults.clone(),
        }))
    }
    fn exists(&self, path: &Path) -> bool {
        let fs = self.fs.lock();
        fs.names.contains_key(path) || fs.dirs.contains(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.fs
            .lock()
            .names
            .remove(path)
            .map(|_| ())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut fs = self.fs.lock();
        let i = fs
            .names
            .remove(from)
            .ok_or(io::Error::from(io::ErrorKind::NotFound))?;
        fs.names.insert(to.to_path_buf(), i);
        Ok(())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let fs = self.fs.lock();
        Ok(fs
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect())
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.fs.lock().dirs.insert(dir.to_path_buf());
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.lock().check(&[Fault::SyncIo])?;
        let mut fs = self.fs.lock();
        let Fs {
            names,
            durable_names,
            ..
        } = &mut *fs;
        durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, &i) in names.iter() {
            if p.parent() == Some(dir) {
                durable_names.insert(p.clone(), i);
            }
        }
        Ok(())
    }
    fn remove_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut fs = self.fs.lock();
        fs.names.retain(|p, _| !p.starts_with(dir));
        fs.durable_names.retain(|p, _| !p.starts_with(dir));
        fs.dirs.retain(|p| !p.starts_with(dir));
        Ok(())
    }
}
