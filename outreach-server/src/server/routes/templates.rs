//! `POST /templates/preview`: the email templates rendered on the first rows of an
//! upload by the core's MiniJinja renderer (the same `Drafts` a job uses), so the web
//! app's template step shows what a run will write before anything is charged. A
//! template that does not compile or names an unknown column is not an HTTP error
//! here: the answer carries it with its line and column, because a live preview meets
//! half-typed templates all the time.

use axum::extract::State;
use axum::Json;
use outreach_core::campaign::{DraftSpec, Drafts, VariantSpec};
use outreach_core::enricher::{RowOutcome, RowStatus};
use outreach_core::input::{guess_email_column, RowReader};
use outreach_core::{Error as CoreError, InputError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::server::auth::AuthUser;
use crate::server::error::{AppError, AppResult};
use crate::server::extract::AppJson;
use crate::server::openapi::{ApiRouter, Authed, JsonBody, NotFound, ReadsUpload, Timed};
use crate::server::routes::jobs::VariantSchema;
use crate::server::state::{AppState, ServerConfig};
use crate::server::tempfiles::TempCopy;
use crate::server::timed_api;
use crate::server::uploads::owned_upload;

pub fn router(config: &ServerConfig) -> ApiRouter<AppState> {
    ApiRouter::new().routes(timed_api(routes!(preview), config))
}

/// Rows rendered when the request does not say.
pub const DEFAULT_ROWS: usize = 3;
/// Most rows one preview renders.
pub const MAX_ROWS: usize = 10;

/// What to render: the templates as `POST /jobs` takes them, on an upload's first rows.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplatePreviewRequest {
    /// `file_path` from `POST /files`.
    #[schema(min_length = 1)]
    file_path: String,
    #[serde(default)]
    subject_template: Option<String>,
    #[serde(default)]
    body_template: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<VariantSchema>)]
    variants: Vec<VariantSpec>,
    #[serde(default)]
    variant_seed: Option<String>,
    /// Rows to render (default 3).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10)]
    rows: Option<usize>,
}

/// The drafts of the first rows, or what is wrong with the templates.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePreview {
    /// The upload's headers (what the templates can name).
    pub headers: Vec<String>,
    /// One per row, in input order (empty when `error` is set).
    pub drafts: Vec<DraftPreview>,
    #[schema(required = true)]
    pub error: Option<TemplateProblem>,
}

/// One row's draft. The research-backed opener is not known before a run: the
/// preview puts [`OPENER_PLACEHOLDER`] where `sif_personalized` goes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftPreview {
    /// The row's email cell (or empty).
    pub email: String,
    pub variant: String,
    pub subject: String,
    pub body: String,
}

/// A template error with its place.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateProblem {
    /// `subject`, `body`, or `variant `B` body`.
    pub template: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Stands in for the opener a run will write.
pub const OPENER_PLACEHOLDER: &str = "[the researched opener for this row]";

/// Email templates rendered on the first rows of an upload.
#[utoipa::path(
    post,
    path = "/templates/preview",
    operation_id = "previewTemplates",
    request_body = TemplatePreviewRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Drafts of the first rows, or the template error with its line and column", body = TemplatePreview),
        JsonBody, Authed, NotFound, Timed, ReadsUpload,
    )
)]
async fn preview(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(req): AppJson<TemplatePreviewRequest>,
) -> AppResult<Json<TemplatePreview>> {
    owned_upload(&user.user_id, &req.file_path)?;
    let limit = req.rows.unwrap_or(DEFAULT_ROWS).clamp(1, MAX_ROWS);
    let spec = DraftSpec::from_parts(
        req.subject_template,
        req.body_template,
        req.variants,
        req.variant_seed,
    )?
    .ok_or_else(|| {
        AppError::bad_request(
            "invalid_request",
            "give a subject and a body template (or variants)",
        )
    })?;
    let copy = TempCopy::fetch(&state, &req.file_path).await?;
    let path = copy.path.clone();
    let read = tokio::task::spawn_blocking(move || -> outreach_core::Result<_> {
        let reader = RowReader::open(&path)?;
        let headers = reader.headers().to_vec();
        let rows = reader
            .take(limit)
            .collect::<outreach_core::Result<Vec<_>>>()?;
        Ok((headers, rows))
    })
    .await
    .map_err(AppError::internal);
    copy.remove().await;
    let (headers, rows) = read??;
    let drafts = match Drafts::compile(&spec).and_then(|d| d.check(&headers).map(|()| d)) {
        Ok(drafts) => drafts,
        Err(CoreError::InvalidInput(InputError::Template {
            template,
            line,
            column,
            message,
        })) => {
            return Ok(Json(TemplatePreview {
                headers,
                drafts: Vec::new(),
                error: Some(TemplateProblem {
                    template,
                    line,
                    column,
                    message,
                }),
            }))
        }
        Err(e) => return Err(e.into()),
    };
    let email_column = guess_email_column(&headers, &rows);
    let outcome = RowOutcome {
        research: String::new(),
        personalized: OPENER_PLACEHOLDER.into(),
        status: RowStatus::Enriched,
        draft: None,
    };
    let drafts = rows
        .iter()
        .map(|row| {
            let email = email_column
                .and_then(|i| row.get(i))
                .cloned()
                .unwrap_or_default();
            let draft = drafts.render(&headers, row, &email, &outcome);
            DraftPreview {
                email,
                variant: draft.variant,
                subject: draft.subject,
                body: draft.body,
            }
        })
        .collect();
    Ok(Json(TemplatePreview {
        headers,
        drafts,
        error: None,
    }))
}
