//! Per-scenario sandboxes: a deep temporary folder (`/tmp/msrp-client-…/a/b/c/work`) whose
//! parents are temporary too, so a filename with `../..` or an absolute path the harness
//! chose still lands inside it, and the whole tree can be compared before and after.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use super::driver::Driver;
use super::model::Content;
use crate::scenario::content::generate;

/// One client's sandbox.
#[derive(Debug)]
pub struct Sandbox {
    /// The temporary root; everything the client may touch is below it.
    pub root: PathBuf,
    /// The client's working folder (`root/a/b/c/work`).
    pub work: PathBuf,
    /// Where it must save files.
    pub downloads: PathBuf,
    /// Where the files it sends are.
    pub outbox: PathBuf,
    /// Keep the tree after the run (for a look at a failure).
    pub keep: bool,
}

/// What one path of the tree was: kind, size, modification time and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// True for a directory.
    pub dir: bool,
    /// Size, bytes.
    pub len: u64,
    /// Last modification time, when the filesystem reports it.
    pub modified: Option<std::time::SystemTime>,
    /// Inode number: a file replaced under the same name gets a new one.
    pub ino: u64,
}

/// Every path below the root (relative), with its stamp.
pub type Tree = BTreeMap<PathBuf, Stamp>;

impl Sandbox {
    /// Creates a fresh sandbox for `label` with the scenario's files to send and files
    /// already downloaded.
    pub fn create(
        label: &str,
        driver: &Driver,
        files: &BTreeMap<String, Content>,
        existing: &BTreeMap<String, Content>,
    ) -> io::Result<Sandbox> {
        let base = std::env::temp_dir();
        let mut root = None;
        for _ in 0..100 {
            let candidate = base.join(format!(
                "msrp-client-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ));
            match std::fs::create_dir(&candidate) {
                Ok(()) => {
                    root = Some(candidate);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        let root = root
            .ok_or_else(|| io::Error::new(io::ErrorKind::AlreadyExists, "no free sandbox name"))?;
        let work = root.join("a").join("b").join("c").join(label);
        std::fs::create_dir_all(&work)?;
        let downloads = work.join(&driver.file.download_dir);
        let outbox = work.join(&driver.file.send_dir);
        std::fs::create_dir_all(&outbox)?;
        if driver.file.create_download_dir || !existing.is_empty() {
            std::fs::create_dir_all(&downloads)?;
        }
        for (name, c) in files {
            write_content(&outbox.join(name), c)?;
        }
        for (name, c) in existing {
            write_content(&downloads.join(name), c)?;
        }
        Ok(Sandbox {
            root,
            work,
            downloads,
            outbox,
            keep: false,
        })
    }

    /// The tree below the root now.
    pub fn tree(&self) -> Tree {
        let mut out = Tree::new();
        walk(&self.root, &self.root, &mut out, 0);
        out
    }

    /// Regular files new (or changed) under the download folder since `before`: relative
    /// to the download folder, with their stamps.
    pub fn new_downloads(&self, before: &Tree) -> Vec<(PathBuf, Stamp)> {
        let rel = self
            .downloads
            .strip_prefix(&self.root)
            .unwrap_or(&self.downloads);
        self.tree()
            .into_iter()
            .filter(|(p, s)| !s.dir && p.starts_with(rel) && before.get(p) != Some(s))
            .filter_map(|(p, s)| Some((p.strip_prefix(rel).ok()?.to_path_buf(), s)))
            .collect()
    }

    /// Paths (absolute) created or changed since `before` outside the download folder; a
    /// folder the client created on the way to its download folder does not count.
    pub fn written_outside(&self, before: &Tree) -> Vec<PathBuf> {
        let rel = self
            .downloads
            .strip_prefix(&self.root)
            .unwrap_or(&self.downloads);
        self.tree()
            .into_iter()
            .filter(|(p, s)| !(p.starts_with(rel) || (s.dir && rel.starts_with(p))))
            .filter(|(p, s)| match before.get(p) {
                None => true,
                // A folder's times change when an entry is added; its new entries are
                // reported themselves.
                Some(b) => !s.dir && b != s,
            })
            .map(|(p, _)| self.root.join(p))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn write_content(path: &Path, c: &Content) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let mut done = 0u64;
    while done < c.size {
        let n = (c.size - done).min(1 << 20) as usize;
        f.write_all(&generate(c.seed, done, n))?;
        done += n as u64;
    }
    Ok(())
}

/// Walks without following symlinks (a planted link is an entry, not a way out), to a
/// bounded depth and count so a hostile client cannot make the harness walk forever.
fn walk(root: &Path, dir: &Path, out: &mut Tree, depth: usize) {
    if depth > 32 || out.len() > 100_000 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let stamp = Stamp {
            dir: meta.is_dir(),
            len: meta.len(),
            modified: meta.modified().ok(),
            ino: meta.ino(),
        };
        if let Ok(rel) = path.strip_prefix(root) {
            out.insert(rel.to_path_buf(), stamp);
        }
        if meta.is_dir() {
            walk(root, &path, out, depth + 1);
        }
    }
}
