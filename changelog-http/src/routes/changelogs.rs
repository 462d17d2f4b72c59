//! Changelogs: listing with a keyset cursor and filters, manual creation, revisioned edits
//! (`If-Match` or `revision`; stale is 409), versions and restore, tags, annotations, export.
//!
//! Every route looks the changelog up through [`owned`]: another user's changelog is 404, as
//! one that does not exist.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use changelog_core::RangeQuery;
use changelog_core::Style;
use changelog_core::pipeline::Quiet;
use changelog_core::request::{self, Request};
use changelog_core::source::git::{RepoPolicy, check_location, check_range};
use changelog_core::source::parse_date;
use changelog_core::store::{
    Annotation, AuditOutcome, ChangelogQuery, ChangelogRecord, ChangelogSort, ChangelogSource,
    ChangelogStatus, ChangelogUpdate, ChangelogVersion, Direction, TagMatch,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, ClientInfo};
use crate::error::{ApiError, Json, Query};
use crate::jobs::GenerationSpec;
use crate::openapi::{
    Conflict, Forbidden, Invalid, JsonBody, NotFound, OptionalBody, PreconditionRequired,
    Unauthorized, schema,
};
use crate::routes::jobs::JobResponse;
use crate::routes::parse_id;
use crate::state::AppState;

// One set of limits for the store and the API: the API checks them first only to name the
// request's own fields (`repo_url`, not the store's `repository`).
use changelog_core::store::limits::{
    MAX_COMMIT_RANGE_LEN, MAX_CONTENT_LEN, MAX_MODEL_LEN, MAX_REPOSITORY_LEN,
    MAX_TAGS_PER_CHANGELOG as MAX_TAGS, MAX_TITLE_LEN as MAX_TITLE_CHARS, MAX_VERSION_LEN,
};

/// A changelog as the API shows it: its summary (the listing's item) and how it was made and
/// what it cost.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Changelog)]
pub struct ChangelogResponse {
    /// What it is and its state.
    #[serde(flatten)]
    pub summary: ChangelogSummary,
    /// `git` or `manual`.
    pub source: ChangelogSource,
    /// The commit range it covers.
    pub commit_range: Option<String>,
    /// The model that wrote it.
    pub model: Option<String>,
    /// Input tokens spent.
    pub input_tokens: i64,
    /// Output tokens spent.
    pub output_tokens: i64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}

impl From<ChangelogRecord> for ChangelogResponse {
    fn from(mut r: ChangelogRecord) -> Self {
        Self {
            source: r.source,
            commit_range: r.commit_range.take(),
            model: r.model.take(),
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            cost_usd: r.cost_usd,
            summary: r.into(),
        }
    }
}

/// A changelog as a listing shows it: what it is and its state. How it was made (source,
/// commit range, model) and what it cost are in the whole changelog, `GET /changelogs/{id}`:
/// with them, a page of 20 would be a sixth larger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangelogSummary {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Release version.
    pub version: Option<String>,
    /// The repository it describes.
    pub repository: Option<String>,
    /// The Markdown.
    pub content: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Whether anyone may read it.
    pub is_public: bool,
    /// `draft` or `published`.
    pub status: ChangelogStatus,
    /// Current revision (also the `ETag`).
    pub revision: i64,
    /// Creation time.
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "super::timestamp::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl From<ChangelogRecord> for ChangelogSummary {
    fn from(r: ChangelogRecord) -> Self {
        Self {
            id: r.id,
            title: r.title,
            version: r.version,
            repository: r.repository,
            content: r.content,
            tags: r.tags,
            is_public: r.is_public,
            status: r.status,
            revision: r.revision,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One page of changelogs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangelogPage {
    /// The changelogs, in order.
    pub items: Vec<ChangelogSummary>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /changelogs`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(schema_with = schema::page_size)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Exactly this version.
    #[param(schema_with = schema::version)]
    pub version: Option<String>,
    /// Comma-separated tags.
    #[param(schema_with = schema::tag_filter)]
    pub tags: Option<String>,
    /// `any` (default) or `all` of the tags.
    #[param(inline)]
    pub tag_match: Option<TagMatch>,
    /// Created on or after (YYYY-MM-DD or RFC 3339).
    #[param(schema_with = schema::date_or_time)]
    pub since: Option<String>,
    /// Created on or before (YYYY-MM-DD, inclusive, or RFC 3339).
    #[param(schema_with = schema::date_or_time)]
    pub until: Option<String>,
    /// Exactly this repository.
    #[param(schema_with = schema::repository)]
    pub repository: Option<String>,
    /// Words that must all occur in the title or content.
    #[param(schema_with = schema::search)]
    pub q: Option<String>,
    /// `draft` or `published`.
    pub status: Option<ChangelogStatus>,
    /// `created` (default), `updated`, `title` or `version`.
    #[param(inline)]
    pub sort: Option<ChangelogSort>,
    /// `desc` (default) or `asc`.
    #[param(inline)]
    pub order: Option<Direction>,
}

fn date_param(
    name: &str,
    value: Option<&str>,
    end: bool,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            parse_date(v, end)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| ApiError::invalid(name, e.to_string()))
        })
        .transpose()
}

/// Lists the caller's changelogs, newest first unless `sort` and `order` say otherwise.
#[utoipa::path(
    get,
    path = "/changelogs",
    operation_id = "list_changelogs",
    tag = "changelogs",
    params(ListParams),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "One page", body = ChangelogPage),
        Unauthorized,
        Invalid,
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<ChangelogPage>, ApiError> {
    let limit = params.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    let until = date_param("until", params.until.as_deref(), true)?;
    let query = ChangelogQuery {
        owner_id: Some(caller.user_id),
        version: params.version,
        tags: params
            .tags
            .map(|t| t.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        tag_match: params.tag_match.unwrap_or_default(),
        created_since: date_param("since", params.since.as_deref(), false)?,
        // The store's bound is exclusive; the parameter's is inclusive.
        created_until: until.map(|u| u + chrono::Duration::microseconds(1)),
        repository: params.repository,
        is_public: None,
        status: params.status,
        text: params.q,
        sort: params.sort.unwrap_or_default(),
        direction: params.order.unwrap_or_default(),
        limit,
        cursor: params.cursor,
        // A listed changelog shows its Markdown; the document is for the export.
        skip_documents: true,
    };
    let page = state.store().list_changelogs(&query).await?;
    Ok(Json(ChangelogPage {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `POST /changelogs`: the request model of the service this replaces, plus `style` and
/// `is_public`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChangelog {
    /// `manual` (stored at once) or `git` (generated from a repository).
    pub source: ChangelogSource,
    /// The repository (for `git`: what to read; for `manual`: recorded as the repository).
    #[serde(default)]
    #[schema(schema_with = schema::optional_repository)]
    pub repo_url: Option<String>,
    /// The commit range (`v1.1.0..v1.2.0`).
    #[serde(default)]
    #[schema(schema_with = schema::optional_commit_range)]
    pub commit_range: Option<String>,
    /// Release version.
    #[serde(default)]
    #[schema(schema_with = schema::optional_version)]
    pub version: Option<String>,
    /// The Markdown (required for `manual`).
    #[serde(default)]
    #[schema(schema_with = schema::optional_content)]
    pub content: Option<String>,
    /// Title (default `Changelog`).
    #[serde(default)]
    #[schema(schema_with = schema::optional_title)]
    pub title: Option<String>,
    /// Tags.
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
    /// The model that wrote it (for `git`: the model to use).
    #[serde(default)]
    #[schema(schema_with = schema::optional_model)]
    pub model: Option<String>,
    /// Sampling temperature (for `git`).
    #[serde(default)]
    #[schema(schema_with = schema::temperature)]
    pub temperature: Option<f32>,
    /// The style (for `git`): `conventional` (default), `keep-a-changelog`, or, with a model,
    /// `release-notes`, `technical`, `social`.
    #[serde(default)]
    #[schema(schema_with = schema::style)]
    pub style: Option<String>,
    /// Who writes the entries (for `git`): `none` for the deterministic changelog, or the
    /// server's provider (its default).
    #[serde(default)]
    #[schema(schema_with = schema::provider)]
    pub provider: Option<String>,
    /// Whether anyone may read it.
    #[serde(default)]
    pub is_public: bool,
    /// `draft` (default) or `published`.
    #[serde(default)]
    pub status: ChangelogStatus,
}

fn check_title(title: &str) -> Result<(), ApiError> {
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid(
            "title",
            format!("must be 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(())
}

fn check_content(content: &str) -> Result<(), ApiError> {
    short_text("content", Some(content), MAX_CONTENT_LEN)
}

fn check_tags(tags: &[String]) -> Result<(), ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    if let Some(long) = tags
        .iter()
        // As sent, whitespace included, as the document's `maxLength` counts.
        .find(|t| t.chars().count() > changelog_core::store::MAX_TAG_LEN)
    {
        return Err(ApiError::invalid(
            "tags",
            format!(
                "`{}...` is longer than {} characters",
                long.chars().take(16).collect::<String>(),
                changelog_core::store::MAX_TAG_LEN
            ),
        ));
    }
    Ok(())
}

fn short_text(field: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(ApiError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// The changelog id of a path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ChangelogId {
    /// The changelog's id.
    #[expect(
        dead_code,
        reason = "documents the path parameter; handlers read it as text"
    )]
    id: Uuid,
}

/// The revision an update is based on, as a header.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct RevisionHeader {
    /// The ETag of the revision the update is based on (`"3"`), or `revision` in the body.
    #[param(rename = "If-Match", schema_with = schema::if_match)]
    #[expect(
        dead_code,
        reason = "documents the header; handlers read it from the HeaderMap"
    )]
    if_match: Option<String>,
}

fn etag(record: &ChangelogRecord) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", record.revision))
        .unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn with_etag(status: StatusCode, record: ChangelogRecord) -> Response {
    let tag = etag(&record);
    let mut response = (status, Json(ChangelogResponse::from(record))).into_response();
    response.headers_mut().insert(ETAG, tag);
    response
}

/// The generation a `git` request asks for, checked: the fields, the style and provider, and
/// the repository against the server's policy (nothing is read yet).
fn generation_spec(state: &AppState, body: CreateChangelog) -> Result<GenerationSpec, ApiError> {
    if body.content.is_some() {
        return Err(ApiError::invalid(
            "content",
            "only read with source \"manual\"; source \"git\" reads the history at repo_url",
        ));
    }
    let repo_url = body
        .repo_url
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("repo_url", "required for source \"git\""))?;
    short_text("repo_url", Some(&repo_url), MAX_REPOSITORY_LEN)?;
    short_text(
        "commit_range",
        body.commit_range.as_deref(),
        MAX_COMMIT_RANGE_LEN,
    )?;
    short_text("version", body.version.as_deref(), MAX_VERSION_LEN)?;
    short_text("model", body.model.as_deref(), MAX_MODEL_LEN)?;
    if let Some(title) = &body.title {
        check_title(title)?;
    }
    check_tags(&body.tags)?;
    let style = match body.style.as_deref() {
        None => Style::default(),
        Some(name) => name
            .parse::<Style>()
            .map_err(|e| ApiError::invalid("style", e.to_string()))?,
    };
    let configured = state.config().provider.as_ref();
    let use_model = match body.provider.as_deref() {
        None => configured.is_some(),
        Some("none") => false,
        Some(name) if configured.is_some_and(|p| p.provider.name() == name) => true,
        Some(name) => {
            return Err(ApiError::invalid(
                "provider",
                format!(
                    "`{name}` is not offered by this server: expected `none`{}",
                    configured.map_or(String::new(), |p| format!(" or `{}`", p.provider.name()))
                ),
            ));
        }
    };
    let spec = GenerationSpec {
        repo_url,
        commit_range: body.commit_range,
        version: body.version,
        title: body.title,
        tags: body.tags,
        model: body.model,
        temperature: body.temperature,
        style,
        use_model,
        is_public: body.is_public,
        status: body.status,
    };
    spec.request(configured).check()?;
    if let Some(range) = &spec.commit_range {
        check_range(range, &state.config().repo_policy)
            .map_err(|reason| ApiError::invalid("commit_range", reason))?;
    }
    check_location(&spec.repo_url, &state.config().repo_policy)
        .map_err(|e| ApiError::invalid("repo_url", e.to_string()))?;
    Ok(spec)
}

/// Queues a generation job (202 with the job; follow it at its `events_url`).
async fn queue(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    body: CreateChangelog,
) -> Result<Response, ApiError> {
    let spec = generation_spec(state, body)?;
    let request = serde_json::to_value(&spec).map_err(|e| ApiError::internal(&e))?;
    let job = state
        .store()
        .enqueue_job(Some(caller.user_id), &request)
        .await?;
    state.jobs().queued();
    metrics::counter!("changelog_jobs_total", "state" => "queued").increment(1);
    state
        .audit(
            "job.create",
            Some(caller.user_id),
            Some(job.id.to_string()),
            AuditOutcome::Success,
            client,
        )
        .await;
    let location = format!("{}/jobs/{}", crate::API_PREFIX, job.id);
    let mut response = (StatusCode::ACCEPTED, Json(JobResponse::from(job))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

/// What `POST /changelogs/estimate` answers: what generating with a model would cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct EstimateResponse {
    /// The model the tokens are counted for.
    pub model: String,
    /// Requests the generation would send.
    pub requests: usize,
    /// Prompt tokens of all requests.
    pub input_tokens: u64,
    /// The most answer tokens all requests may use.
    pub max_output_tokens: u64,
    /// Upper bound of the price, in US dollars; `null` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// Chunks the range is split into.
    pub chunks: usize,
    /// Rounds of merging.
    pub merge_rounds: usize,
}

/// Counts the tokens and the cost of generating with a model, reading the history but sending
/// nothing to a provider.
#[utoipa::path(
    post,
    path = "/changelogs/estimate",
    operation_id = "estimate_changelog",
    tag = "changelogs",
    request_body = CreateChangelog,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "What generating with a model would cost", body = EstimateResponse),
        Unauthorized,
        JsonBody,
    ),
)]
pub async fn estimate(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateChangelog>,
) -> Result<Json<EstimateResponse>, ApiError> {
    let _ = caller;
    if body.source != ChangelogSource::Git {
        return Err(ApiError::invalid(
            "source",
            "an estimate reads a history: use source \"git\"",
        ));
    }
    let spec = generation_spec(&state, body)?;
    let mut request = spec.request(state.config().provider.as_ref());
    if request.provider.is_none() {
        // The cost of a model's answer: the configured provider's model, or the request's.
        request.provider = state.config().provider.clone();
    }
    let estimate = request::estimate(&request, &state.config().repo_policy).await?;
    Ok(Json(estimate.into()))
}

impl From<changelog_core::pipeline::Estimate> for EstimateResponse {
    fn from(e: changelog_core::pipeline::Estimate) -> Self {
        Self {
            model: e.model,
            requests: e.requests,
            input_tokens: e.input_tokens,
            max_output_tokens: e.max_output_tokens,
            cost_usd: e.cost_usd,
            chunks: e.chunks,
            merge_rounds: e.merge_rounds,
        }
    }
}

/// Creates a changelog: `manual` is stored at once (201); `git` queues a generation job
/// (202).
#[utoipa::path(
    post,
    path = "/changelogs",
    operation_id = "create_changelog",
    tag = "changelogs",
    request_body = CreateChangelog,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 201, description = "The changelog", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
            ("Location" = String, description = "The changelog's URL"),
        )),
        (status = 202, description = "The generation job (`source: \"git\"`)", body = JobResponse, headers(
            ("Location" = String, description = "The job's URL"),
        )),
        Unauthorized,
        Forbidden,
        JsonBody,
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Json(body): Json<CreateChangelog>,
) -> Result<Response, ApiError> {
    caller.require_write()?;
    if body.source == ChangelogSource::Git {
        return queue(&state, &caller, &client, body).await;
    }
    // `style`, `model` and `temperature` of the request model are accepted and not used (its
    // clients send them); `provider` is this server's own field, and only means something for
    // `git`.
    if body.provider.is_some() {
        return Err(ApiError::invalid(
            "provider",
            "only read with source \"git\": a manual changelog is stored as given",
        ));
    }
    let content = body
        .content
        .ok_or_else(|| ApiError::invalid("content", "required for a manual changelog"))?;
    check_content(&content)?;
    let title = body.title.unwrap_or_else(|| "Changelog".to_owned());
    check_title(&title)?;
    check_tags(&body.tags)?;
    short_text("version", body.version.as_deref(), MAX_VERSION_LEN)?;
    short_text("repo_url", body.repo_url.as_deref(), MAX_REPOSITORY_LEN)?;
    short_text(
        "commit_range",
        body.commit_range.as_deref(),
        MAX_COMMIT_RANGE_LEN,
    )?;
    short_text("model", body.model.as_deref(), MAX_MODEL_LEN)?;
    // Checked whatever the source: a field the API accepts is a field it checks.
    let style = body
        .style
        .as_deref()
        .map(str::parse::<changelog_core::Style>)
        .transpose()
        .map_err(|e| ApiError::invalid("style", e.to_string()))?
        .unwrap_or_default();
    // The core's one entry point makes the record (a manual changelog reads nothing; its
    // `repo_url` is kept without credentials).
    let request = Request {
        source: ChangelogSource::Manual,
        repo_url: body.repo_url,
        query: RangeQuery {
            range: body.commit_range,
            ..RangeQuery::default()
        },
        version: body.version,
        title: Some(title),
        content: Some(content),
        tags: body.tags,
        model: body.model,
        temperature: body.temperature,
        style,
        ..Request::default()
    };
    let mut new = request::generate(&request, &RepoPolicy::default(), &Quiet)
        .await?
        .into_new_changelog(caller.user_id, body.is_public);
    new.model = request.model;
    new.status = body.status;
    let record = state.store().create_changelog(&new).await?;
    state
        .audit(
            "changelog.create",
            Some(caller.user_id),
            Some(record.id.to_string()),
            AuditOutcome::Success,
            &client,
        )
        .await;
    let location = format!("/api/v1/changelogs/{}", record.id);
    let mut response = with_etag(StatusCode::CREATED, record);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

/// The caller's changelog with this id; 404 for another user's or a missing one.
pub(crate) async fn owned(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<ChangelogRecord, ApiError> {
    let uuid = parse_id("changelog", id)?;
    let not_found = || ApiError::not_found("changelog", id);
    match state.store().changelog(uuid).await {
        Ok(record) if record.owner_id == caller.user_id => Ok(record),
        Ok(_) | Err(changelog_core::store::StoreError::NotFound { .. }) => Err(not_found()),
        Err(other) => Err(other.into()),
    }
}

fn matches_etag(header: &HeaderValue, record: &ChangelogRecord) -> bool {
    let Ok(text) = header.to_str() else {
        return false;
    };
    text.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/") == format!("\"{}\"", record.revision)
    })
}

/// One changelog, with its `ETag`; `If-None-Match` with the current one answers 304.
#[utoipa::path(
    get,
    path = "/changelogs/{id}",
    operation_id = "get_changelog",
    tag = "changelogs",
    params(
        ChangelogId,
        ("If-None-Match" = Option<String>, Header, description = "ETags the caller has; the current one answers 304"),
    ),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The changelog", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        (status = 304, description = "Not modified since the ETag given", headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        Unauthorized,
        NotFound,
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = owned(&state, &caller, &id).await?;
    if headers
        .get(IF_NONE_MATCH)
        .is_some_and(|h| matches_etag(h, &record))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(ETAG, etag(&record));
        return Ok(response);
    }
    Ok(with_etag(StatusCode::OK, record))
}

/// The revision an update expects: `If-Match` (`"3"`) or the body's `revision`; 428 without
/// either, 422 when they disagree.
fn expected_revision(headers: &HeaderMap, body: Option<i64>) -> Result<i64, ApiError> {
    let header = match headers.get(IF_MATCH) {
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let text = text.trim_start_matches("W/").trim_matches('"');
            Some(text.parse::<i64>().map_err(|_| {
                ApiError::invalid("If-Match", "must be the changelog's ETag, like \"3\"")
            })?)
        }
        None => None,
    };
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(ApiError::invalid(
            "revision",
            format!("the body says {b} and If-Match says {h}"),
        )),
        (Some(r), _) | (None, Some(r)) => Ok(r),
        (None, None) => Err(ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "name the revision this update is based on: `If-Match: \"<revision>\"` or \
             `revision` in the body",
        )),
    }
}

/// `PUT /changelogs/{id}`: the whole editable document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceChangelog {
    /// Title.
    #[schema(schema_with = schema::title)]
    pub title: String,
    /// The Markdown.
    #[schema(schema_with = schema::content)]
    pub content: String,
    /// Release version (`null` clears it).
    #[serde(default)]
    #[schema(schema_with = schema::optional_version)]
    pub version: Option<String>,
    /// Tags (replace the old ones).
    #[serde(default)]
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
    /// Whether anyone may read it.
    #[serde(default)]
    pub is_public: bool,
    /// `draft` or `published` (default: unchanged).
    #[serde(default)]
    pub status: Option<ChangelogStatus>,
    /// The revision this edit is based on (or `If-Match`).
    #[serde(default, deserialize_with = "crate::routes::integer")]
    pub revision: Option<i64>,
}

/// `PATCH /changelogs/{id}`: the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchChangelog {
    /// Title (`null` leaves it).
    #[serde(default)]
    #[schema(schema_with = schema::optional_title)]
    pub title: Option<String>,
    /// The Markdown (`null` leaves it).
    #[serde(default)]
    #[schema(schema_with = schema::optional_content)]
    pub content: Option<String>,
    /// Release version (`null` clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(schema_with = schema::optional_version)]
    pub version: Option<Option<String>>,
    /// Tags (replace the old ones; `null` leaves them).
    #[serde(default)]
    #[schema(schema_with = schema::optional_tags)]
    pub tags: Option<Vec<String>>,
    /// Whether anyone may read it.
    #[serde(default)]
    pub is_public: Option<bool>,
    /// `draft` or `published`.
    #[serde(default)]
    pub status: Option<ChangelogStatus>,
    /// The revision this edit is based on (or `If-Match`).
    #[serde(default, deserialize_with = "crate::routes::integer")]
    pub revision: Option<i64>,
}

fn double_option<'de, D>(deserializer: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(Some)
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    client: &ClientInfo,
    id: &str,
    revision: i64,
    update: ChangelogUpdate,
) -> Result<Response, ApiError> {
    caller.require_write()?;
    let record = owned(state, caller, id).await?;
    if let Some(title) = &update.title {
        check_title(title)?;
    }
    if let Some(content) = &update.content {
        check_content(content)?;
    }
    if let Some(tags) = &update.tags {
        check_tags(tags)?;
    }
    if let Some(Some(version)) = &update.version {
        short_text("version", Some(version), MAX_VERSION_LEN)?;
    }
    let updated = state
        .store()
        .update_changelog(record.id, revision, &update, Some(caller.user_id))
        .await?;
    state
        .audit(
            "changelog.update",
            Some(caller.user_id),
            Some(record.id.to_string()),
            AuditOutcome::Success,
            client,
        )
        .await;
    Ok(with_etag(StatusCode::OK, updated))
}

/// Replaces a changelog's editable fields, as a new revision.
#[utoipa::path(
    put,
    path = "/changelogs/{id}",
    operation_id = "replace_changelog",
    tag = "changelogs",
    params(ChangelogId, RevisionHeader),
    request_body = ReplaceChangelog,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The new revision", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionRequired,
        JsonBody,
    ),
)]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ReplaceChangelog>,
) -> Result<Response, ApiError> {
    let revision = expected_revision(&headers, body.revision)?;
    let update = ChangelogUpdate {
        title: Some(body.title),
        version: Some(body.version),
        content: Some(body.content),
        document: None,
        is_public: Some(body.is_public),
        status: body.status,
        tags: Some(body.tags),
    };
    apply(&state, &caller, &client, &id, revision, update).await
}

/// Changes some of a changelog's fields, as a new revision.
#[utoipa::path(
    patch,
    path = "/changelogs/{id}",
    operation_id = "patch_changelog",
    tag = "changelogs",
    params(ChangelogId, RevisionHeader),
    request_body = PatchChangelog,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The new revision", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionRequired,
        JsonBody,
    ),
)]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PatchChangelog>,
) -> Result<Response, ApiError> {
    let revision = expected_revision(&headers, body.revision)?;
    let update = ChangelogUpdate {
        title: body.title,
        version: body.version,
        content: body.content,
        document: None,
        is_public: body.is_public,
        status: body.status,
        tags: body.tags,
    };
    apply(&state, &caller, &client, &id, revision, update).await
}

/// Deletes a changelog with its history.
#[utoipa::path(
    delete,
    path = "/changelogs/{id}",
    operation_id = "delete_changelog",
    tag = "changelogs",
    params(ChangelogId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_write()?;
    let record = owned(&state, &caller, &id).await?;
    state.store().delete_changelog(record.id).await?;
    state
        .audit(
            "changelog.delete",
            Some(caller.user_id),
            Some(record.id.to_string()),
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// One kept revision.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Version)]
pub struct VersionResponse {
    /// Revision number.
    pub revision: i64,
    /// Title then.
    pub title: String,
    /// Version then.
    pub version: Option<String>,
    /// Markdown then.
    pub content: String,
    /// Tags then.
    pub tags: Vec<String>,
    /// Who made the revision.
    pub edited_by: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<ChangelogVersion> for VersionResponse {
    fn from(v: ChangelogVersion) -> Self {
        Self {
            revision: v.revision,
            title: v.title,
            version: v.version,
            content: v.content,
            tags: v.tags,
            edited_by: v.edited_by,
            created_at: v.created_at,
        }
    }
}

/// Every revision, oldest first.
#[utoipa::path(
    get,
    path = "/changelogs/{id}/versions",
    operation_id = "list_versions",
    tag = "changelogs",
    params(ChangelogId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The revisions", body = Vec<VersionResponse>),
        Unauthorized,
        NotFound,
    ),
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionResponse>>, ApiError> {
    let record = owned(&state, &caller, &id).await?;
    let versions = state.store().versions(record.id).await?;
    Ok(Json(versions.into_iter().map(Into::into).collect()))
}

/// `POST /changelogs/{id}/versions/{rev}/restore`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The current revision (or `If-Match`).
    #[serde(default, deserialize_with = "crate::routes::integer")]
    pub revision: Option<i64>,
}

/// Makes a new revision with the content of an old one.
#[utoipa::path(
    post,
    path = "/changelogs/{id}/versions/{rev}/restore",
    operation_id = "restore_version",
    tag = "changelogs",
    params(
        ChangelogId,
        ("rev" = i64, Path, minimum = 1, description = "The revision to restore"),
        RevisionHeader,
    ),
    request_body(content = Option<RestoreRequest>, description = "Optional: the current revision, or `If-Match`"),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The new revision", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionRequired,
        OptionalBody,
    ),
)]
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path((id, rev)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.require_write()?;
    let body: RestoreRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RestoreRequest::default()
    } else {
        // `null` is no body, as the document's `RestoreRequest | null` says.
        crate::error::object_body(&body)?;
        serde_json::from_slice::<Option<RestoreRequest>>(&body)
            .map_err(|e| crate::error::body_error(&e.to_string()))?
            .unwrap_or_default()
    };
    let expected = expected_revision(&headers, body.revision)?;
    let record = owned(&state, &caller, &id).await?;
    let revision: i64 = rev
        .parse()
        .ok()
        .filter(|r| *r >= 1)
        .ok_or_else(|| ApiError::not_found("revision", &rev))?;
    let restored = state
        .store()
        .restore_revision(record.id, revision, expected, Some(caller.user_id))
        .await?;
    state
        .audit(
            "changelog.restore",
            Some(caller.user_id),
            Some(record.id.to_string()),
            AuditOutcome::Success,
            &client,
        )
        .await;
    Ok(with_etag(StatusCode::OK, restored))
}

/// `PUT /changelogs/{id}/tags`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTags {
    /// The new tag set (missing tags are created).
    #[schema(schema_with = schema::tags)]
    pub tags: Vec<String>,
    /// The current revision (or `If-Match`).
    #[serde(default, deserialize_with = "crate::routes::integer")]
    pub revision: Option<i64>,
}

/// Replaces the tags, as a new revision.
#[utoipa::path(
    put,
    path = "/changelogs/{id}/tags",
    operation_id = "set_tags",
    tag = "changelogs",
    params(ChangelogId, RevisionHeader),
    request_body = SetTags,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The new revision", body = ChangelogResponse, headers(
            ("ETag" = String, description = "The revision, quoted"),
        )),
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PreconditionRequired,
        JsonBody,
    ),
)]
pub async fn set_tags(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<SetTags>,
) -> Result<Response, ApiError> {
    let revision = expected_revision(&headers, body.revision)?;
    let update = ChangelogUpdate {
        tags: Some(body.tags),
        ..ChangelogUpdate::default()
    };
    apply(&state, &caller, &client, &id, revision, update).await
}

/// The tags on the caller's changelogs.
#[utoipa::path(
    get,
    path = "/tags",
    operation_id = "list_tags",
    tag = "changelogs",
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The tags, sorted", body = Vec<String>),
        Unauthorized,
    ),
)]
pub async fn tags(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.store().owner_tags(caller.user_id).await?))
}

/// The query of the export route.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `markdown` (default), `json` or `html`.
    #[serde(default)]
    #[param(inline)]
    pub format: ExportFormat,
}

/// Export formats.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// The Markdown as stored.
    #[default]
    Markdown,
    /// The record, with its structured document when it has one.
    Json,
    /// A standalone HTML page; the content is escaped, never interpreted.
    Html,
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A changelog exported as JSON: the record and its structured document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangelogExport {
    /// The record.
    #[serde(flatten)]
    pub changelog: ChangelogResponse,
    /// The structured document (sections, entries and their commits) of a generated changelog;
    /// `null` for one written by hand.
    #[schema(schema_with = schema::any_object_or_null)]
    pub document: Option<serde_json::Value>,
}

/// Exports a changelog.
#[utoipa::path(
    get,
    path = "/changelogs/{id}/export",
    operation_id = "export_changelog",
    tag = "changelogs",
    params(ChangelogId, ExportParams),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The changelog in the format asked for", content(
            (String = "text/markdown"),
            (ChangelogExport = "application/json"),
            (String = "text/html"),
        )),
        Unauthorized,
        NotFound,
        Invalid,
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<ExportParams>,
) -> Result<Response, ApiError> {
    let record = owned(&state, &caller, &id).await?;
    let response = match params.format {
        ExportFormat::Markdown => (
            [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
            record.content,
        )
            .into_response(),
        ExportFormat::Json => {
            let document = record
                .document
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| ApiError::internal(&e))?;
            Json(ChangelogExport {
                changelog: record.into(),
                document,
            })
            .into_response()
        }
        ExportFormat::Html => {
            let page = format!(
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\
                 <body><pre>{}</pre></body></html>\n",
                escape_html(&record.title),
                escape_html(&record.content)
            );
            let mut response = ([(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
            response.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'"),
            );
            response
        }
    };
    Ok(response)
}

/// An annotation as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Annotation)]
pub struct AnnotationResponse {
    /// Id.
    pub id: Uuid,
    /// The author.
    pub user_id: Uuid,
    /// The note.
    pub body: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Annotation> for AnnotationResponse {
    fn from(a: Annotation) -> Self {
        Self {
            id: a.id,
            user_id: a.user_id,
            body: a.body,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// `POST` and `PATCH` bodies of annotations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotationBody {
    /// The note (1 to 10,000 characters).
    #[schema(schema_with = schema::annotation)]
    pub body: String,
}

/// The notes on a changelog.
#[utoipa::path(
    get,
    path = "/changelogs/{id}/annotations",
    operation_id = "list_annotations",
    tag = "changelogs",
    params(ChangelogId),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The notes, oldest first", body = Vec<AnnotationResponse>),
        Unauthorized,
        NotFound,
    ),
)]
pub async fn annotations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<AnnotationResponse>>, ApiError> {
    let record = owned(&state, &caller, &id).await?;
    let notes = state.store().annotations(record.id).await?;
    Ok(Json(notes.into_iter().map(Into::into).collect()))
}

/// Adds a note.
#[utoipa::path(
    post,
    path = "/changelogs/{id}/annotations",
    operation_id = "add_annotation",
    tag = "changelogs",
    params(ChangelogId),
    request_body = AnnotationBody,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 201, description = "The note", body = AnnotationResponse),
        Unauthorized,
        Forbidden,
        NotFound,
        JsonBody,
    ),
)]
pub async fn add_annotation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AnnotationBody>,
) -> Result<(StatusCode, Json<AnnotationResponse>), ApiError> {
    caller.require_write()?;
    let record = owned(&state, &caller, &id).await?;
    let note = state
        .store()
        .add_annotation(record.id, caller.user_id, &body.body)
        .await
        .map_err(|e| annotation_error(e, "body"))?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

fn annotation_error(error: changelog_core::store::StoreError, field: &str) -> ApiError {
    match error {
        changelog_core::store::StoreError::Invalid { reason, .. } => {
            ApiError::invalid(field, reason)
        }
        other => other.into(),
    }
}

async fn owned_annotation(
    state: &AppState,
    caller: &Caller,
    id: &str,
    note: &str,
) -> Result<Uuid, ApiError> {
    let record = owned(state, caller, id).await?;
    let note_id = parse_id("annotation", note)?;
    state
        .store()
        .annotations(record.id)
        .await?
        .iter()
        .find(|a| a.id == note_id && a.user_id == caller.user_id)
        .map(|a| a.id)
        .ok_or_else(|| ApiError::not_found("annotation", note))
}

/// Replaces a note's text (the caller's own notes only).
#[utoipa::path(
    patch,
    path = "/changelogs/{id}/annotations/{note}",
    operation_id = "edit_annotation",
    tag = "changelogs",
    params(ChangelogId, ("note" = Uuid, Path, description = "The note's id")),
    request_body = AnnotationBody,
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 200, description = "The note", body = AnnotationResponse),
        Unauthorized,
        Forbidden,
        NotFound,
        JsonBody,
    ),
)]
pub async fn edit_annotation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, note)): Path<(String, String)>,
    Json(body): Json<AnnotationBody>,
) -> Result<Json<AnnotationResponse>, ApiError> {
    caller.require_write()?;
    let note_id = owned_annotation(&state, &caller, &id, &note).await?;
    let note = state
        .store()
        .edit_annotation(note_id, &body.body)
        .await
        .map_err(|e| annotation_error(e, "body"))?;
    Ok(Json(note.into()))
}

/// Deletes a note (the caller's own notes only).
#[utoipa::path(
    delete,
    path = "/changelogs/{id}/annotations/{note}",
    operation_id = "delete_annotation",
    tag = "changelogs",
    params(ChangelogId, ("note" = Uuid, Path, description = "The note's id")),
    security(("bearer_token" = []), ("bearer_api_key" = []), ("api_key_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound,
    ),
)]
pub async fn delete_annotation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, note)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require_write()?;
    let note_id = owned_annotation(&state, &caller, &id, &note).await?;
    state.store().delete_annotation(note_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
