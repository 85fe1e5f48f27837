//! Reading the cloud API's requests: the multipart form (`photo`, `templateId`, ...) and the query flags
//! (`check_liveness`, `check_deepfake`). A request that is not multipart at all has no photo: the spec's error 1.

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartRejection;
use axum::http::StatusCode;
use faceserve_proto::v1::{self as pb, ErrorCode};

use faceserve_engine::ApiError;

/// Form field names of the cloud API and of faceserve's verify extension.
pub const PHOTO: &str = "photo";
pub const PHOTO2: &str = "photo2";
pub const TEMPLATE_ID: &str = "templateId";

/// The fields of one multipart request: files as bytes, text fields as strings. Unknown fields are ignored, as a
/// client written for the cloud API may send extra ones.
#[derive(Debug, Default)]
pub struct Form {
    fields: HashMap<String, Vec<u8>>,
}

impl Form {
    /// Reads the whole form (the body size is bounded by the router's limit).
    pub async fn read(
        multipart: Result<Option<Multipart>, MultipartRejection>,
    ) -> Result<Form, ApiError> {
        let mut multipart = match multipart {
            Ok(Some(multipart)) => multipart,
            Ok(None) => return Ok(Form::default()),
            Err(rejection) => {
                return Err(ApiError::invalid(format!(
                    "malformed multipart/form-data request: {}",
                    rejection.body_text()
                )));
            }
        };
        let mut form = Form::default();
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) => return Err(multipart_error(e.status(), e.body_text())),
            };
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| multipart_error(e.status(), e.body_text()))?;
            if form.fields.insert(name.clone(), bytes.to_vec()).is_some() {
                return Err(ApiError::invalid(format!(
                    "form field {} is given more than once",
                    faceserve_engine::convert::echo(&name)
                )));
            }
        }
        Ok(form)
    }

    /// A file field as an image: absent is the spec's error 1, empty its error 3 (decided by the pipeline).
    pub fn image(&mut self, name: &str) -> Option<pb::Image> {
        self.fields.remove(name).map(|bytes| pb::Image {
            source: Some(pb::image::Source::Encoded(bytes)),
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    /// A text field, trimmed; empty counts as absent.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(bytes) = self.fields.get(name) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ApiError::invalid(format!("form field {name:?} is not UTF-8 text")))?
            .trim();
        Ok((!text.is_empty()).then(|| text.to_string()))
    }
}

fn multipart_error(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::ImageTooLarge,
            "request body is larger than the server accepts (photos are limited to --max-image-bytes each)",
        )
    } else {
        ApiError::invalid(format!("malformed multipart/form-data request: {text}"))
    }
}

/// A boolean query flag as the cloud API's clients write it: true/false, 1/0, yes/no; absent is false.
pub fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(false),
        Some("true" | "1" | "yes" | "on" | "") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(ApiError::invalid(format!(
            "query parameter {name}={} is not a boolean (true or false)",
            faceserve_engine::convert::echo(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_accept_the_usual_spellings() {
        assert!(flag("check_liveness", Some("TRUE")).unwrap());
        assert!(!flag("check_deepfake", Some("0")).unwrap());
        assert!(!flag("absent", None).unwrap());
        assert_eq!(
            flag("bad", Some("maybe")).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
