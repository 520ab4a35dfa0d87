//! Saving received files: only inside the download directory, under a sanitized name, never
//! overwriting anything, and removed again if the transfer does not complete.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

/// Why a received file could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The download directory could not be created or resolved to an absolute path.
    #[error("download directory {path}: {source}")]
    Dir {
        /// The directory as given by the caller.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// No new file could be created for a received file (including after 10 000 numbered copies).
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file that could not be created, inside the download directory.
        path: PathBuf,
        /// What the operating system said (`AlreadyExists` when every numbered name was taken).
        source: io::Error,
    },
    /// Writing received body bytes to the file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The transfer ended before the declared size was written; the partial file was removed
    /// (CLI-3).
    #[error("{path}: received {got} of {size} bytes")]
    Incomplete {
        /// The partial file, already removed.
        path: PathBuf,
        /// Body bytes received and written.
        got: u64,
        /// Size the FILE header declared, in bytes.
        size: u64,
    },
    /// The declared size exceeds the free space of the download directory, so the file was refused
    /// before anything was written.
    #[error("\"{name}\" ({size} bytes) does not fit in {} ({free} bytes free)", dir.display())]
    NoSpace {
        /// The sanitized filename the file would have been saved under.
        name: String,
        /// Size the FILE header declared, in bytes.
        size: u64,
        /// Free space of the download directory's filesystem, in bytes.
        free: u64,
        /// The download directory.
        dir: PathBuf,
    },
}

/// Names Windows reserves for devices, whatever the extension.
const DEVICE_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Turns a filename from the wire into a safe, single path component: no separators, no
/// control characters, no leading dot (hidden files), no trailing dots or spaces, no Windows
/// device names, valid UTF-8, at most 255 bytes. Never empty.
pub fn sanitize_filename(raw: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(raw);
    let mut name: String = lossy
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() || c == '\u{FFFD}' => '_',
            c => c,
        })
        .collect();
    while name.ends_with(['.', ' ']) {
        name.pop();
    }
    if name.starts_with('.') {
        name.replace_range(0..1, "_");
    }
    let stem = name.split('.').next().unwrap_or("").trim_end();
    if DEVICE_NAMES.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
        name.insert(0, '_');
    }
    if name.is_empty() {
        name.push_str("unnamed");
    }
    truncate_utf8(&mut name, 255);
    name
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `name (n).ext` for the n-th alternative of an existing name.
fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    let suffix = format!(" ({n}){ext}");
    let mut stem = stem.to_string();
    truncate_utf8(&mut stem, 255usize.saturating_sub(suffix.len()));
    format!("{stem}{suffix}")
}

/// The directory received files are saved in.
#[derive(Debug, Clone)]
pub struct DownloadDir {
    root: PathBuf,
}

impl DownloadDir {
    /// Creates the directory if needed.
    pub fn open(path: &Path) -> Result<Self, DownloadError> {
        let dir_err = |source| DownloadError::Dir {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(dir_err)?;
        let root = path.canonicalize().map_err(dir_err)?;
        Ok(DownloadDir { root })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Creates a new file for `filename` (sanitized), choosing `name (1).ext`, `name (2).ext`…
    /// when the name exists. `O_EXCL` creation also refuses to follow a planted symlink.
    pub async fn create(&self, filename: &[u8], size: u64) -> Result<Download, DownloadError> {
        let clean = sanitize_filename(filename);
        // A declared size is a claim; refusing what cannot fit beats filling the disk.
        if let Ok(free) = fs4::available_space(&self.root) {
            if size > free {
                return Err(DownloadError::NoSpace {
                    name: clean,
                    size,
                    free,
                    dir: self.root.clone(),
                });
            }
        }
        for n in 0..10_000u32 {
            let candidate = if n == 0 {
                clean.clone()
            } else {
                numbered(&clean, n)
            };
            let path = self.root.join(&candidate);
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => {
                    return Ok(Download {
                        file,
                        path,
                        size,
                        written: 0,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(DownloadError::Create { path, source }),
            }
        }
        Err(DownloadError::Create {
            path: self.root.join(clean),
            source: io::Error::new(io::ErrorKind::AlreadyExists, "10 000 numbered copies exist"),
        })
    }
}

/// A file being received.
#[derive(Debug)]
pub struct Download {
    file: tokio::fs::File,
    path: PathBuf,
    size: u64,
    written: u64,
}

/// A file saved completely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFile {
    /// Where the file was saved: inside the download directory, under its sanitized (possibly
    /// numbered) name.
    pub path: PathBuf,
    /// Bytes written, equal to the size the FILE header declared.
    pub size: u64,
}

impl Download {
    /// Where the file is being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends received bytes (never more than the declared size).
    pub async fn write(&mut self, data: &[u8]) -> Result<(), DownloadError> {
        let room = self.size - self.written;
        let data = &data[..data.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        self.file
            .write_all(data)
            .await
            .map_err(|source| DownloadError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Completes the file; fails (and removes it) unless all declared bytes were written.
    pub async fn finish(mut self) -> Result<SavedFile, DownloadError> {
        let err = if self.written != self.size {
            DownloadError::Incomplete {
                path: self.path.clone(),
                got: self.written,
                size: self.size,
            }
        } else {
            let synced = async {
                self.file.flush().await?;
                self.file.sync_all().await
            };
            match synced.await {
                Ok(()) => {
                    return Ok(SavedFile {
                        path: self.path,
                        size: self.size,
                    })
                }
                Err(source) => DownloadError::Write {
                    path: self.path.clone(),
                    source,
                },
            }
        };
        self.abort().await;
        Err(err)
    }

    /// Removes the partial file.
    pub async fn abort(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.path).await;
    }
}

impl tokio::io::AsyncWrite for Download {
    /// Writes at most the declared size; counts what was written.
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let room = usize::try_from(self.size - self.written).unwrap_or(usize::MAX);
        let buf = &buf[..buf.len().min(room)];
        let poll = std::pin::Pin::new(&mut self.file).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = poll {
            self.written += n as u64;
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.file).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.file).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_one_safe_component() {
        for (raw, want) in [
            (&b"documento.txt"[..], "documento.txt"),
            (b"../../etc/passwd", "_._.._etc_passwd"),
            (b"/etc/passwd", "_etc_passwd"),
            (b"a\x1b[31mred", "a_[31mred"),
            (b"CON", "_CON"),
            (b"con.txt", "_con.txt"),
            (b"..", "unnamed"),
            (b".bashrc", "_bashrc"),
            (b"name. . ", "name"),
            (b"\xff\xfe", "__"),
            (b"C:\\x", "C__x"),
        ] {
            assert_eq!(sanitize_filename(raw), want, "{raw:?}");
        }
        let long = vec![b'a'; 600];
        assert_eq!(sanitize_filename(&long).len(), 255);
    }

    #[test]
    fn numbering_keeps_the_extension() {
        assert_eq!(numbered("a.txt", 1), "a (1).txt");
        assert_eq!(numbered("archive", 2), "archive (2)");
        assert_eq!(numbered("x.tar.gz", 1), "x.tar (1).gz");
    }

    #[tokio::test]
    async fn never_overwrites() {
        let tmp = std::env::temp_dir().join(format!("msrp-dl-{}", std::process::id()));
        let dir = DownloadDir::open(&tmp).unwrap();
        let mut a = dir.create(b"f.txt", 1).await.unwrap();
        a.write(b"A").await.unwrap();
        let a = a.finish().await.unwrap();
        let mut b = dir.create(b"f.txt", 1).await.unwrap();
        b.write(b"B").await.unwrap();
        let b = b.finish().await.unwrap();
        assert_eq!(a.path.file_name().unwrap(), "f.txt");
        assert_eq!(b.path.file_name().unwrap(), "f (1).txt");
        assert_eq!(std::fs::read(&a.path).unwrap(), b"A");
        let short = dir.create(b"short", 10).await.unwrap();
        let p = short.path().to_path_buf();
        assert!(short.finish().await.is_err());
        assert!(!p.exists(), "an incomplete file is removed");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
