//! `faceserve enrol DIR --gallery G`: every JPEG and PNG below a folder over one `AddStream`, with a progress bar.
//! Each photo's template id is derived from the gallery and the photo's path (UUID v5), so a second run skips what
//! the first enrolled and a stopped enrolment resumes where it stopped. The template is named after the file (its
//! stem, or the name a CSV mapping gives) in its metadata (`name`, `file`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use clap::Args;
use faceserve_proto::v1 as pb;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use super::{Client, ServerArgs};

/// Template ids of `faceserve enrol`: v5 UUIDs in this namespace.
const ENROL_NAMESPACE: Uuid = Uuid::from_u128(0x6661_6365_7365_7276_6565_6e72_6f6c_0001);

#[derive(Debug, Clone, Args)]
pub struct EnrolArgs {
    /// Folder of photos (searched recursively for .jpg, .jpeg and .png).
    pub dir: PathBuf,
    #[arg(long, default_value = "default")]
    pub gallery: String,
    /// CSV of `file,name` rows (file relative to DIR) naming the templates; default: the file's stem.
    #[arg(long)]
    pub names: Option<PathBuf>,
    /// Enrol the largest face of photos with several.
    #[arg(long)]
    pub largest_face: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// The photos below `dir`, by relative path, in a stable order.
fn photos(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)
            .map_err(|e| anyhow::anyhow!("can not read {}: {e}", folder.display()))?
        {
            let path = entry?.path();
            let photo = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"));
            if path.is_dir() {
                pending.push(path);
            } else if photo {
                found.push(path.strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    found.sort();
    Ok(found)
}

fn names(csv: Option<&Path>) -> anyhow::Result<HashMap<String, String>> {
    let Some(csv) = csv else {
        return Ok(HashMap::new());
    };
    let text = std::fs::read_to_string(csv)
        .map_err(|e| anyhow::anyhow!("can not read {}: {e}", csv.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let (file, name) = line.split_once(',').ok_or_else(|| {
                anyhow::anyhow!("{}:{}: expected `file,name`", csv.display(), i + 1)
            })?;
            Ok((file.trim().to_string(), name.trim().to_string()))
        })
        .collect()
}

/// The template id of a photo, the same on every run.
pub fn template_id(gallery: &str, relative: &Path) -> Uuid {
    let key = format!("{gallery}/{}", relative.display());
    Uuid::new_v5(&ENROL_NAMESPACE, key.as_bytes())
}

/// The ids the gallery holds already (none when it does not exist yet).
async fn enrolled(client: &mut Client, gallery: &str) -> anyhow::Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListTemplatesRequest {
            gallery: gallery.to_string(),
            page_size: 1000,
            page_token,
            include_embeddings: false,
        };
        let page = match client.list_templates(request).await {
            Ok(page) => page.into_inner(),
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(ids),
            Err(status) => anyhow::bail!("listing gallery {gallery}: {}", status.message()),
        };
        ids.extend(page.templates.into_iter().map(|t| t.template_id));
        if page.next_page_token.is_empty() {
            return Ok(ids);
        }
        page_token = page.next_page_token;
    }
}

pub async fn run(args: EnrolArgs) -> anyhow::Result<()> {
    let mut client = args.server.connect().await?;
    let names = names(args.names.as_deref())?;
    let done = enrolled(&mut client, &args.gallery).await?;
    let all = photos(&args.dir)?;
    let total = all.len();
    let todo: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| !done.contains(&template_id(&args.gallery, p).to_string()))
        .collect();
    let skipped = total - todo.len();
    eprintln!(
        "{total} photos in {}, {skipped} already in gallery {}",
        args.dir.display(),
        args.gallery
    );
    let bar = ProgressBar::new(todo.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("a valid template"),
    );
    let (dir, gallery, largest) = (args.dir.clone(), args.gallery.clone(), args.largest_face);
    let requests: Vec<(String, pb::AddStreamRequest)> = todo
        .iter()
        .map(|relative| {
            let file = relative.display().to_string();
            let stem = relative
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into());
            let name = names.get(&file).cloned().unwrap_or(stem);
            let request = pb::AddRequest {
                template_id: template_id(&gallery, relative).to_string(),
                gallery: gallery.clone(),
                metadata: [
                    ("name".to_string(), name),
                    ("file".to_string(), file.clone()),
                ]
                .into(),
                face_policy: if largest {
                    pb::FacePolicy::Largest as i32
                } else {
                    pb::FacePolicy::Single as i32
                },
                ..Default::default()
            };
            (
                file,
                pb::AddStreamRequest {
                    request_id: String::new(),
                    request: Some(request),
                },
            )
        })
        .collect();
    let files: Vec<String> = requests.iter().map(|(f, _)| f.clone()).collect();
    // Photos are read as the stream asks for them, so memory stays that of the requests in flight.
    let outgoing = tokio_stream::iter(requests.into_iter().map(move |(file, mut item)| {
        item.request_id = file.clone();
        if let Some(request) = item.request.as_mut() {
            request.image = Some(pb::Image {
                source: Some(pb::image::Source::Encoded(
                    std::fs::read(dir.join(&file)).unwrap_or_default(),
                )),
            });
        }
        item
    }));
    let mut answers = client
        .add_stream(outgoing)
        .await
        .map_err(|s| anyhow::anyhow!("AddStream: {}", s.message()))?
        .into_inner();
    let (mut added, mut failed) = (0usize, Vec::new());
    while let Some(answer) = answers.message().await? {
        match answer.result {
            Some(pb::add_stream_response::Result::Ok(_)) => added += 1,
            Some(pb::add_stream_response::Result::Error(e)) => {
                bar.suspend(|| eprintln!("{}: code {}: {}", answer.request_id, e.code, e.info));
                failed.push(answer.request_id);
            }
            None => failed.push(answer.request_id),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let unanswered = files.len().saturating_sub(added + failed.len());
    eprintln!(
        "enrolled {added}, failed {}, unanswered {unanswered}, already there {skipped}",
        failed.len()
    );
    anyhow::ensure!(
        failed.is_empty() && unanswered == 0,
        "{} photos were not enrolled (run the same command again to retry them)",
        failed.len() + unanswered
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_same_on_every_run_and_differ_by_gallery() {
        let a = template_id("staff", Path::new("amy/amy1.png"));
        assert_eq!(a, template_id("staff", Path::new("amy/amy1.png")));
        assert_ne!(a, template_id("visitors", Path::new("amy/amy1.png")));
        assert_eq!(a.get_version_num(), 5);
    }
}
