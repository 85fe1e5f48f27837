//! The f32 copies of an index's vectors, for exact re-ranking: flat files of little-endian rows in the index's
//! folder, appended to and read with positioned reads. The rows live in the kernel's page cache (reclaimable,
//! shared, read back from disk when evicted) rather than in the process's memory, so an index that keeps 64 or
//! 512 bytes per template in RAM still answers with exact cosines.
//!
//! The rows are a list of segments, each a file only this index writes to, and only by appending. A save links
//! every segment under the save's names (a copy where the file system has no hard links) and records how many
//! rows each holds; rows appended afterwards do not change those. A restore links the saved segments under live
//! names of its own, reads them, and appends to a new segment, so no two indexes ever write to one file.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes live file names unique within a process.
static LIVE_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Rows converted and written per system call while appending (1 MiB at 512-d).
const WRITE_ROWS: usize = 128;
/// Prefix of the files live indexes use; anything else in an index folder belongs to a save.
pub const LIVE_PREFIX: &str = "live-";

/// Rows of `dimension` floats in segment files, removed (their live names) when dropped.
pub struct VectorFile {
    dir: PathBuf,
    dimension: usize,
    segments: Vec<Segment>,
    rows: usize,
}

struct Segment {
    /// This index's own name for the file.
    path: PathBuf,
    file: File,
    first_row: usize,
    rows: usize,
    /// Only a segment this index created is appended to (and synced); restored ones are read.
    writable: bool,
}

impl VectorFile {
    /// No rows yet; the first append creates a file in `dir` (and `dir` when missing).
    pub fn new(dir: &Path, dimension: usize) -> Self {
        assert!(dimension > 0, "rows need a dimension of at least 1");
        VectorFile {
            dir: dir.to_path_buf(),
            dimension,
            segments: Vec::new(),
            rows: 0,
        }
    }

    /// The rows a save wrote: `(file, rows)` per segment, in order. Bytes past a segment's rows (what its
    /// writer appended after the save) are ignored.
    pub fn open_saved(
        dir: &Path,
        dimension: usize,
        saved: &[(PathBuf, usize)],
    ) -> io::Result<Self> {
        let mut vectors = VectorFile::new(dir, dimension);
        for (source, rows) in saved {
            let needed = (rows * dimension * 4) as u64;
            let found = std::fs::metadata(source)?.len();
            if found < needed {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} holds {found} bytes; {rows} rows of {dimension} floats need {needed}",
                        source.display()
                    ),
                ));
            }
            let path = live_path(dir);
            link_or_copy(source, &path)?;
            let file = File::open(&path)?;
            vectors.segments.push(Segment {
                path,
                file,
                first_row: vectors.rows,
                rows: *rows,
                writable: false,
            });
            vectors.rows += rows;
        }
        Ok(vectors)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Appends `rows` (each `dimension` floats); returns the number of the first. Written a bounded piece at a
    /// time, so a large batch costs no copy of itself.
    pub fn append(&mut self, rows: &[&[f32]]) -> io::Result<usize> {
        if !self.segments.last().is_some_and(|s| s.writable) {
            std::fs::create_dir_all(&self.dir)?;
            let path = live_path(&self.dir);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)?;
            self.segments.push(Segment {
                path,
                file,
                first_row: self.rows,
                rows: 0,
                writable: true,
            });
        }
        let row_bytes = self.dimension * 4;
        let segment = self.segments.last_mut().expect("a writable segment");
        let mut bytes = Vec::with_capacity(WRITE_ROWS.min(rows.len()) * row_bytes);
        let mut written = 0;
        for piece in rows.chunks(WRITE_ROWS) {
            bytes.clear();
            for row in piece {
                assert_eq!(row.len(), self.dimension, "row dimension");
                bytes.extend(row.iter().flat_map(|x| x.to_le_bytes()));
            }
            let at = ((segment.rows + written) * row_bytes) as u64;
            segment.file.write_all_at(&bytes, at)?;
            written += piece.len();
        }
        // Counted only once all is written: a failed append leaves the row numbers as they were.
        let first = self.rows;
        segment.rows += written;
        self.rows += written;
        Ok(first)
    }

    /// Reads row `row` into `out` (`dimension` floats), using `bytes` as scratch space.
    pub fn read_row(&self, row: usize, bytes: &mut Vec<u8>, out: &mut [f32]) -> io::Result<()> {
        assert!(row < self.rows, "row {row} of {}", self.rows);
        assert_eq!(out.len(), self.dimension, "row buffer dimension");
        let at = self.segments.partition_point(|s| s.first_row <= row) - 1;
        let segment = &self.segments[at];
        bytes.resize(self.dimension * 4, 0);
        segment.file.read_exact_at(
            bytes,
            ((row - segment.first_row) * self.dimension * 4) as u64,
        )?;
        for (value, raw) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *value = f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        }
        Ok(())
    }

    /// Makes the rows written so far durable and visible as `<stem>.<n>` in `dir`, one file per segment; returns
    /// each file's name and rows, which [`Self::open_saved`] is given.
    pub fn save(&self, dir: &Path, stem: &str) -> io::Result<Vec<(String, usize)>> {
        let mut saved = Vec::with_capacity(self.segments.len());
        for (n, segment) in self.segments.iter().enumerate() {
            if segment.writable {
                segment.file.sync_data()?;
            }
            let name = format!("{stem}.{n}");
            link_or_copy(&segment.path, &dir.join(&name))?;
            saved.push((name, segment.rows));
        }
        Ok(saved)
    }
}

impl Drop for VectorFile {
    fn drop(&mut self) {
        for segment in &self.segments {
            // Already gone when the folder was removed (a deleted gallery); saves keep their own links.
            let _ = std::fs::remove_file(&segment.path);
        }
    }
}

fn live_path(dir: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    dir.join(format!(
        "{LIVE_PREFIX}{}-{nanos}-{}.f32",
        std::process::id(),
        LIVE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A hard link shares the rows without copying them; file systems without links get a copy.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Err(error),
        Err(_) => std::fs::copy(from, to).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(vectors: &VectorFile, at: usize) -> Vec<f32> {
        let mut out = vec![0.0; vectors.dimension()];
        vectors.read_row(at, &mut Vec::new(), &mut out).unwrap();
        out
    }

    #[test]
    fn rows_read_back_and_a_save_keeps_its_rows_while_both_sides_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut vectors = VectorFile::new(dir.path(), 3);
        assert_eq!(
            vectors
                .append(&[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]])
                .unwrap(),
            0
        );
        assert_eq!(vectors.append(&[&[7.0, 8.0, 9.0]]).unwrap(), 2);
        assert_eq!(row(&vectors, 1), [4.0, 5.0, 6.0]);

        let saved = vectors.save(dir.path(), "save").unwrap();
        assert_eq!(saved, vec![("save.0".to_string(), 3)]);
        vectors.append(&[&[10.0, 11.0, 12.0]]).unwrap();
        let paths: Vec<(PathBuf, usize)> = saved
            .iter()
            .map(|(name, rows)| (dir.path().join(name), *rows))
            .collect();
        let mut restored = VectorFile::open_saved(dir.path(), 3, &paths).unwrap();
        assert_eq!(restored.rows(), 3);
        assert_eq!(restored.append(&[&[-1.0, -2.0, -3.0]]).unwrap(), 3);
        assert_eq!(row(&restored, 2), [7.0, 8.0, 9.0]);
        assert_eq!(row(&restored, 3), [-1.0, -2.0, -3.0]);
        assert_eq!(
            row(&vectors, 3),
            [10.0, 11.0, 12.0],
            "the two never share a written file"
        );

        let again = restored.save(dir.path(), "again").unwrap();
        assert_eq!(
            again,
            vec![("again.0".to_string(), 3), ("again.1".to_string(), 1)]
        );
        let too_many = vec![(dir.path().join("save.0"), 5)];
        assert!(VectorFile::open_saved(dir.path(), 3, &too_many).is_err());

        drop((vectors, restored));
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            left.iter().all(|name| !name.starts_with(LIVE_PREFIX)),
            "live files go with their index: {left:?}"
        );
        assert_eq!(left.len(), 3, "saves outlive the index: {left:?}");
    }
}
