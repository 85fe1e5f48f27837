//! `faceserve export` and `import`: a gallery's templates as JSON lines (`{"template_id", "metadata", "template"}`,
//! the template as the Image API's base64 template bytes, which name their recognizer), and back over `AddStream`
//! with the same ids. An import into a server with another recognizer is refused template by template (code 115).

use std::io::{BufRead, BufWriter, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use faceserve_engine::template;
use faceserve_proto::v1 as pb;
use serde::{Deserialize, Serialize};

use super::ServerArgs;

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[arg(long, default_value = "default")]
    pub gallery: String,
    /// The file to write ("-" for standard output).
    #[arg(long, default_value = "-")]
    pub out: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// An export file ("-" for standard input).
    pub file: String,
    /// The gallery to import into [default: the one each line came from is not kept: "default"].
    #[arg(long, default_value = "default")]
    pub gallery: String,
    /// Overwrite templates whose id the gallery holds already (otherwise they are reported and kept).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// One exported template.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    template_id: String,
    #[serde(default)]
    metadata: std::collections::BTreeMap<String, String>,
    /// Base64 of the template bytes.
    template: String,
}

pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let mut client = args.server.connect().await?;
    let mut out: Box<dyn Write> = match args.out.as_str() {
        "-" => Box::new(BufWriter::new(std::io::stdout().lock())),
        path => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| anyhow::anyhow!("can not create {path}: {e}"))?,
        )),
    };
    let (mut page_token, mut count) = (String::new(), 0usize);
    loop {
        let page = client
            .list_templates(pb::ListTemplatesRequest {
                gallery: args.gallery.clone(),
                page_size: 1000,
                page_token,
                include_embeddings: true,
            })
            .await
            .map_err(|s| anyhow::anyhow!("listing gallery {}: {}", args.gallery, s.message()))?
            .into_inner();
        for record in page.templates {
            let template = record.template.ok_or_else(|| {
                anyhow::anyhow!(
                    "the server sent template {} without its embedding",
                    record.template_id
                )
            })?;
            let line = Line {
                template_id: record.template_id,
                metadata: record.metadata.into_iter().collect(),
                template: STANDARD.encode(template::encode(&template)),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            count += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    out.flush()?;
    eprintln!("exported {count} templates of gallery {}", args.gallery);
    Ok(())
}

pub async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let mut client = args.server.connect().await?;
    let input: Box<dyn BufRead + Send> = match args.file.as_str() {
        "-" => Box::new(std::io::BufReader::new(std::io::stdin())),
        path => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).map_err(|e| anyhow::anyhow!("can not open {path}: {e}"))?,
        )),
    };
    let mut requests = Vec::new();
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", args.file, number + 1))?;
        let bytes = STANDARD.decode(&parsed.template).map_err(|e| {
            anyhow::anyhow!("{}:{}: template is not base64: {e}", args.file, number + 1)
        })?;
        requests.push(pb::AddStreamRequest {
            request_id: format!("line {}", number + 1),
            request: Some(pb::AddRequest {
                template_id: parsed.template_id,
                gallery: args.gallery.clone(),
                metadata: parsed.metadata.into_iter().collect(),
                replace: args.replace,
                template_bytes: bytes,
                ..Default::default()
            }),
        });
    }
    let total = requests.len();
    let mut answers = client
        .add_stream(tokio_stream::iter(requests))
        .await
        .map_err(|s| anyhow::anyhow!("AddStream: {}", s.message()))?
        .into_inner();
    let (mut added, mut failed) = (0usize, 0usize);
    while let Some(answer) = answers.message().await? {
        match answer.result {
            Some(pb::add_stream_response::Result::Ok(_)) => added += 1,
            Some(pb::add_stream_response::Result::Error(e)) => {
                eprintln!("{}: code {}: {}", answer.request_id, e.code, e.info);
                failed += 1;
            }
            None => failed += 1,
        }
    }
    eprintln!(
        "imported {added} of {total} templates into gallery {}",
        args.gallery
    );
    anyhow::ensure!(
        failed == 0 && added == total,
        "{} templates were not imported",
        total - added
    );
    Ok(())
}
