//! Gallery management: reading, listing and deleting templates and galleries.

use faceserve_index::{GalleryStats, TemplateRecord};
use faceserve_proto::v1 as pb;

use crate::convert::{self, gallery_name};
use crate::{ApiError, Engine, blocking};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

impl Engine {
    pub async fn get_template(
        &self,
        app: &str,
        req: pb::GetTemplateRequest,
    ) -> Result<pb::TemplateRecord, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let id = convert::template_id(&req.template_id)?;
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        let record = blocking(move || galleries.get(&app, &gallery, id)).await??;
        Ok(template_record(record, req.include_embedding))
    }

    pub async fn delete_template(
        &self,
        app: &str,
        req: pb::DeleteTemplateRequest,
    ) -> Result<pb::DeleteTemplateResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let id = convert::template_id(&req.template_id)?;
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        blocking(move || galleries.delete(&app, &gallery, id)).await??;
        Ok(pb::DeleteTemplateResponse {
            transaction_id: convert::transaction_id(),
        })
    }

    pub async fn list_templates(
        &self,
        app: &str,
        req: pb::ListTemplatesRequest,
    ) -> Result<pb::ListTemplatesResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let page_size = match req.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n <= MAX_PAGE_SIZE => n,
            n => {
                return Err(ApiError::invalid(format!(
                    "page_size {n} is outside 1..{MAX_PAGE_SIZE}"
                )));
            }
        };
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        let token = (!req.page_token.is_empty()).then_some(req.page_token);
        let (records, next) =
            blocking(move || galleries.list(&app, &gallery, token.as_deref(), page_size as usize))
                .await??;
        Ok(pb::ListTemplatesResponse {
            templates: records
                .into_iter()
                .map(|r| template_record(r, req.include_embeddings))
                .collect(),
            next_page_token: next.unwrap_or_default(),
        })
    }

    pub async fn delete_gallery(
        &self,
        app: &str,
        req: pb::DeleteGalleryRequest,
    ) -> Result<pb::DeleteGalleryResponse, ApiError> {
        let gallery = gallery_name(&req.gallery)?;
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        let deleted = blocking(move || galleries.delete_gallery(&app, &gallery)).await??;
        Ok(pb::DeleteGalleryResponse {
            transaction_id: convert::transaction_id(),
            deleted_templates: deleted,
        })
    }

    pub async fn gallery_stats(
        &self,
        app: &str,
        gallery: &str,
    ) -> Result<pb::GalleryStats, ApiError> {
        let gallery = gallery_name(gallery)?;
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        let stats = blocking(move || galleries.stats(&app, &gallery)).await??;
        Ok(gallery_stats(stats))
    }

    pub async fn list_galleries(&self, app: &str) -> Result<pb::ListGalleriesResponse, ApiError> {
        let (galleries, app) = (self.galleries.clone(), app.to_string());
        let all = blocking(move || galleries.galleries(&app)).await??;
        Ok(pb::ListGalleriesResponse {
            galleries: all.into_iter().map(gallery_stats).collect(),
        })
    }
}

fn template_record(r: TemplateRecord, include_embedding: bool) -> pb::TemplateRecord {
    pb::TemplateRecord {
        template_id: r.id.to_string(),
        gallery: r.gallery,
        face: Some(convert::stored_face(&r.face)),
        created_at_ms: r.created_at_ms,
        metadata: r.metadata.into_iter().collect(),
        template: include_embedding.then_some(pb::Template {
            model: r.model,
            embedding: r.embedding,
        }),
    }
}

fn gallery_stats(s: GalleryStats) -> pb::GalleryStats {
    pb::GalleryStats {
        gallery: s.gallery,
        template_count: s.template_count,
        index_kind: s.index_kind.to_string(),
        tombstones: s.tombstones,
        created_at_ms: s.created_at_ms,
        model: s.model,
        dimension: s.dimension,
    }
}
