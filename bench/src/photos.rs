//! Loading a folder of photos into memory for load runs, in a stable order so runs are comparable.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("jpg" | "jpeg" | "png")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// The bytes of at most `max` photos under `dir`, in path order.
pub fn load_photos(dir: &Path, max: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths = Vec::new();
    collect(dir, &mut paths).map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?;
    paths.sort();
    paths.truncate(max);
    anyhow::ensure!(
        !paths.is_empty(),
        "no .jpg or .png photos under {}",
        dir.display()
    );
    paths
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display())))
        .collect()
}
