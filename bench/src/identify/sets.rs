//! Which photos `identify` enrols and which it searches, from folder-per-identity sets.
//!
//! - `--gallery` and `--probes` the same folder (e.g. LFW): each identity with two or more photos has its first
//!   photo (in name order) enrolled and the others searched; identities with one photo are unknown probes.
//! - Different folders: every photo of the gallery's identity folders is enrolled; a probe folder names the
//!   identity of its photos (unknown when the gallery has no such identity). Photos loose at the top of the probes
//!   folder need a `--labels` line.
//!
//! A labels file has lines `file,identity` (file relative to the probes folder; `#` starts a comment). The identity
//! may list several names separated by `|` for a photo of several enrolled people (the largest face is searched,
//! any of them is right); an empty identity or `-` marks an unknown person.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    pub identity: String,
    pub path: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub path: PathBuf,
    /// The enrolled identities a right answer may name; empty for an unknown person.
    pub truth: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IdentifySet {
    pub gallery: Vec<Enrolment>,
    pub probes: Vec<Probe>,
}

impl IdentifySet {
    pub fn identities(&self) -> BTreeSet<&str> {
        self.gallery.iter().map(|e| e.identity.as_str()).collect()
    }

    pub fn unknown_probes(&self) -> usize {
        self.probes.iter().filter(|p| p.truth.is_empty()).count()
    }
}

fn is_photo(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("jpg" | "jpeg" | "png")
        )
}

/// Photos by identity folder name.
type IdentityFolders = BTreeMap<String, Vec<PathBuf>>;

/// The identity folders of `root` with their photos, and the photos loose at its top, all in name order.
fn read_folder(root: &Path) -> anyhow::Result<(IdentityFolders, Vec<PathBuf>)> {
    let (mut identities, mut loose) = (BTreeMap::new(), Vec::new());
    for entry in std::fs::read_dir(root).with_context(|| format!("reading {}", root.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            let mut photos: Vec<PathBuf> = std::fs::read_dir(&path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_photo(p))
                .collect();
            photos.sort();
            if !photos.is_empty() {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                identities.insert(name, photos);
            }
        } else if is_photo(&path) {
            loose.push(path);
        }
    }
    loose.sort();
    Ok((identities, loose))
}

/// `file -> names` from a labels file (empty names: unknown person).
pub fn read_labels(text: &str) -> anyhow::Result<HashMap<String, Vec<String>>> {
    let mut labels = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line == "file,identity" {
            continue;
        }
        let (file, identity) = line
            .split_once(',')
            .with_context(|| format!("labels line {}: expected `file,identity`", i + 1))?;
        let names: Vec<String> = identity
            .split('|')
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != "-")
            .map(str::to_string)
            .collect();
        ensure!(
            labels.insert(file.trim().to_string(), names).is_none(),
            "labels line {}: {file} is labelled twice",
            i + 1
        );
    }
    Ok(labels)
}

fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

pub fn build(
    gallery_dir: &Path,
    probes_dir: &Path,
    labels: Option<&HashMap<String, Vec<String>>>,
) -> anyhow::Result<IdentifySet> {
    let same_folder = gallery_dir.canonicalize().ok() == probes_dir.canonicalize().ok();
    let (gallery_folders, gallery_loose) = read_folder(gallery_dir)?;
    let (mut gallery, mut probes) = (Vec::new(), Vec::new());
    if same_folder {
        for (name, photos) in &gallery_folders {
            if photos.len() >= 2 {
                gallery.push(Enrolment {
                    identity: name.clone(),
                    path: photos[0].clone(),
                });
            }
        }
        for (name, photos) in &gallery_folders {
            let truth = if photos.len() >= 2 {
                vec![name.clone()]
            } else {
                Vec::new()
            };
            let searched = if photos.len() >= 2 {
                &photos[1..]
            } else {
                &photos[..]
            };
            probes.extend(searched.iter().map(|p| Probe {
                path: p.clone(),
                truth: truth.clone(),
            }));
        }
    } else {
        ensure!(
            gallery_loose.is_empty(),
            "gallery photos must sit in identity folders; loose: {}",
            gallery_loose[0].display()
        );
        for (name, photos) in &gallery_folders {
            gallery.extend(photos.iter().map(|p| Enrolment {
                identity: name.clone(),
                path: p.clone(),
            }));
        }
        let (probe_folders, _) = read_folder(probes_dir)?;
        for (name, photos) in probe_folders {
            let truth = if gallery_folders.contains_key(&name) {
                vec![name]
            } else {
                Vec::new()
            };
            probes.extend(photos.into_iter().map(|path| Probe {
                path,
                truth: truth.clone(),
            }));
        }
    }
    ensure!(
        !gallery.is_empty(),
        "nothing to enrol from {}",
        gallery_dir.display()
    );

    let (_, probe_loose) = read_folder(probes_dir)?;
    let mut unlabelled = Vec::new();
    for path in probe_loose {
        match labels.and_then(|l| l.get(&relative(&path, probes_dir))) {
            Some(names) => probes.push(Probe {
                path,
                truth: names.clone(),
            }),
            None => unlabelled.push(relative(&path, probes_dir)),
        }
    }
    if !unlabelled.is_empty() {
        bail!(
            "{} photos loose in {} have no identity: give --labels with a line for each (e.g. {})",
            unlabelled.len(),
            probes_dir.display(),
            unlabelled[0]
        );
    }
    // Labels override the folder's identity, and must name real files and enrolled people.
    if let Some(labels) = labels {
        let enrolled: BTreeSet<&str> = gallery.iter().map(|e| e.identity.as_str()).collect();
        for (file, names) in labels {
            ensure!(
                probes_dir.join(file).is_file(),
                "labels name {file}, which is not under {}",
                probes_dir.display()
            );
            if let Some(name) = names.iter().find(|n| !enrolled.contains(n.as_str())) {
                bail!("labels give {file} the identity {name:?}, which the gallery does not have");
            }
            for probe in probes
                .iter_mut()
                .filter(|p| relative(&p.path, probes_dir) == *file)
            {
                probe.truth = names.clone();
            }
        }
    }
    ensure!(
        !probes.is_empty(),
        "no probe photos under {}",
        probes_dir.display()
    );
    Ok(IdentifySet { gallery, probes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, relative: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"not read").unwrap();
    }

    #[test]
    fn one_folder_splits_into_first_photo_enrolled_and_the_rest_searched() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "A/A_0001.jpg",
            "A/A_0002.jpg",
            "A/A_0003.jpg",
            "B/B_0001.jpg",
            "C/C_0001.jpg",
            "C/C_0002.jpg",
        ] {
            touch(dir.path(), f);
        }
        let set = build(dir.path(), dir.path(), None).unwrap();
        let enrolled: Vec<_> = set
            .gallery
            .iter()
            .map(|e| relative(&e.path, dir.path()))
            .collect();
        assert_eq!(enrolled, ["A/A_0001.jpg", "C/C_0001.jpg"]);
        let probes: Vec<_> = set
            .probes
            .iter()
            .map(|p| (relative(&p.path, dir.path()), p.truth.join("|")))
            .collect();
        assert_eq!(
            probes,
            [
                ("A/A_0002.jpg".into(), "A".into()),
                ("A/A_0003.jpg".into(), "A".into()),
                ("B/B_0001.jpg".into(), String::new()),
                ("C/C_0002.jpg".into(), "C".into()),
            ]
        );
        assert_eq!(set.unknown_probes(), 1);
    }

    #[test]
    fn separate_folders_use_folder_names_and_labels_for_loose_photos() {
        let dir = tempfile::tempdir().unwrap();
        let (gallery, probes) = (dir.path().join("train"), dir.path().join("test"));
        for f in ["obama/1.jpg", "obama/2.jpg", "biden/1.jpg"] {
            touch(&gallery, f);
        }
        for f in ["obama/3.jpg", "stranger/1.jpg", "both.jpg", "nobody.png"] {
            touch(&probes, f);
        }
        let missing = build(&gallery, &probes, None).unwrap_err().to_string();
        assert!(missing.contains("--labels"), "{missing}");
        let labels =
            read_labels("file,identity\nboth.jpg,obama|biden\nnobody.png,-  # a stranger\n")
                .unwrap();
        let set = build(&gallery, &probes, Some(&labels)).unwrap();
        assert_eq!(set.gallery.len(), 3);
        let truth = |name: &str| {
            set.probes
                .iter()
                .find(|p| p.path.ends_with(name))
                .unwrap()
                .truth
                .clone()
        };
        assert_eq!(truth("obama/3.jpg"), ["obama"]);
        assert!(truth("stranger/1.jpg").is_empty());
        assert_eq!(truth("both.jpg"), ["obama", "biden"]);
        assert!(truth("nobody.png").is_empty());

        let wrong = read_labels("both.jpg,trump\nnobody.png,-\n").unwrap();
        let refused = build(&gallery, &probes, Some(&wrong))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("trump"), "{refused}");
    }
}
