//! The LFW pairs format. The first line is either `N` (one set of N same-person then N different-person pairs,
//! as `pairsDevTrain.txt`) or `F N` (F folds of N + N pairs each, as View 2's `pairs.txt`). A same-person line is
//! `Name i j`, a different-person line `Name1 i Name2 j` (tabs or spaces); photo i of Name is
//! `DIR/Name/Name_%04d.jpg`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

/// One photo of the pairs file: a person and the photo's number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhotoRef {
    pub name: String,
    pub number: u32,
}

impl PhotoRef {
    pub fn path(&self, images: &Path) -> PathBuf {
        images
            .join(&self.name)
            .join(format!("{}_{:04}.jpg", self.name, self.number))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub a: PhotoRef,
    pub b: PhotoRef,
    /// Same person (genuine pair) or not (impostor pair).
    pub same: bool,
    /// The fold the pair belongs to (0 for a single set).
    pub fold: usize,
}

#[derive(Debug, Clone)]
pub struct PairsFile {
    /// 1 for the `N` header.
    pub folds: usize,
    /// Same-person pairs per fold (and as many different-person ones).
    pub per_fold: usize,
    pub pairs: Vec<Pair>,
}

fn number(field: &str, line_no: usize) -> anyhow::Result<u32> {
    field
        .parse()
        .with_context(|| format!("line {line_no}: {field:?} is not a photo number"))
}

fn parse_pair(line: &str, line_no: usize, fold: usize) -> anyhow::Result<Pair> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let photo = |name: &str, n: &str| -> anyhow::Result<PhotoRef> {
        Ok(PhotoRef {
            name: name.to_string(),
            number: number(n, line_no)?,
        })
    };
    match fields.as_slice() {
        [name, i, j] => Ok(Pair {
            a: photo(name, i)?,
            b: photo(name, j)?,
            same: true,
            fold,
        }),
        [name1, i, name2, j] => Ok(Pair {
            a: photo(name1, i)?,
            b: photo(name2, j)?,
            same: false,
            fold,
        }),
        _ => bail!(
            "line {line_no}: expected `Name i j` or `Name1 i Name2 j`, found {} fields",
            fields.len()
        ),
    }
}

impl PairsFile {
    pub fn parse(text: &str) -> anyhow::Result<PairsFile> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty());
        let (_, header) = lines.next().context("empty pairs file")?;
        let counts: Vec<usize> = header
            .split_whitespace()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("line 1: {header:?} is not `N` or `F N`"))?;
        let (folds, per_fold) = match counts.as_slice() {
            [n] => (1, *n),
            [f, n] => (*f, *n),
            _ => bail!("line 1: {header:?} is not `N` or `F N`"),
        };
        ensure!(
            folds > 0 && per_fold > 0,
            "line 1: {header:?} announces no pairs"
        );
        let mut pairs = Vec::with_capacity(folds * per_fold * 2);
        for (index, (line_no, line)) in lines.enumerate() {
            let fold = index / (2 * per_fold);
            ensure!(
                fold < folds,
                "line {line_no}: more pairs than the header's {folds} x {per_fold} x 2"
            );
            pairs.push(parse_pair(line, line_no, fold)?);
        }
        ensure!(
            pairs.len() == folds * per_fold * 2,
            "the header announces {} pairs, the file has {}",
            folds * per_fold * 2,
            pairs.len()
        );
        for fold in 0..folds {
            let same = pairs.iter().filter(|p| p.fold == fold && p.same).count();
            ensure!(
                same == per_fold,
                "fold {} has {same} same-person pairs, the header announces {per_fold}",
                fold + 1
            );
        }
        Ok(PairsFile {
            folds,
            per_fold,
            pairs,
        })
    }

    pub fn read(path: &Path) -> anyhow::Result<PairsFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The distinct photos the pairs use, in first-use order.
    pub fn photos(&self) -> Vec<PhotoRef> {
        let mut seen = std::collections::HashSet::new();
        self.pairs
            .iter()
            .flat_map(|p| [&p.a, &p.b])
            .filter(|r| seen.insert((*r).clone()))
            .cloned()
            .collect()
    }

    /// Fails naming the first few photos missing under `images`, before any request is sent.
    pub fn check_photos(&self, images: &Path) -> anyhow::Result<usize> {
        let photos = self.photos();
        let missing: Vec<String> = photos
            .iter()
            .map(|r| r.path(images))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        ensure!(
            missing.is_empty(),
            "{} photos of the pairs file are missing, e.g. {}",
            missing.len(),
            missing[..missing.len().min(3)].join(", ")
        );
        Ok(photos.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_set_and_folds_parse() {
        let single = PairsFile::parse("2\nA\t1\t2\nB 1 3\nA\t1\tB\t2\nC 4 A 1\n").unwrap();
        assert_eq!(
            (single.folds, single.per_fold, single.pairs.len()),
            (1, 2, 4)
        );
        assert!(single.pairs[0].same && !single.pairs[2].same);
        assert_eq!(single.pairs[3].a.name, "C");
        assert_eq!(
            single.pairs[3].b.path(Path::new("img")),
            Path::new("img/A/A_0001.jpg")
        );

        let folds = PairsFile::parse("2 1\nA 1 2\nA 1 B 1\nB 1 2\nB 2 A 2\n").unwrap();
        assert_eq!((folds.folds, folds.per_fold), (2, 1));
        assert_eq!(
            folds.pairs.iter().map(|p| p.fold).collect::<Vec<_>>(),
            [0, 0, 1, 1]
        );
        assert_eq!(folds.photos().len(), 4);
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        let err = |text: &str| format!("{:#}", PairsFile::parse(text).unwrap_err());
        assert!(err("").contains("empty"));
        assert!(err("x\n").contains("line 1"));
        assert!(err("1\nA 1 2\nA 1 B\n").contains("line 3"));
        assert!(err("1\nA 1 2\n").contains("announces 2 pairs"));
        assert!(err("1\nA 1 2\nB 1 2\n").contains("same-person"));
        assert!(err("1\nA 1 2\nA 1 B 1\nB 1 2\n").contains("line 4"));
    }
}
