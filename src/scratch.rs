//! A scratch folder of this process, removed when dropped: where an uploaded file is read from and
//! a file to send back is written, for code that reads or writes paths.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A new empty folder under the system's temp folder; removed (with what it holds) on drop.
///
/// ```
/// let kept;
/// {
///     let s = wangge::scratch::ScratchDir::new("doc").unwrap();
///     std::fs::write(s.path().join("a.txt"), "x").unwrap();
///     kept = s.path().to_path_buf();
///     assert!(kept.exists());
/// }
/// assert!(!kept.exists());
/// ```
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Makes `wangge-{what}-{pid}-{n}` in the temp folder.
    pub fn new(what: &str) -> std::io::Result<ScratchDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wangge-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(ScratchDir(dir))
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
