//! Which application a request belongs to. Every gallery and template is scoped by application, so one
//! application can never see another's faces. With authentication off, every caller is the default application "".

use tonic::{Request, Status};

/// The authenticated application of a request, put into its extensions by the authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppId(pub String);

/// The application a request acts for.
pub fn caller_app<T>(request: &Request<T>) -> Result<String, Status> {
    Ok(request
        .extensions()
        .get::<AppId>()
        .map(|app| app.0.clone())
        .unwrap_or_default())
}
