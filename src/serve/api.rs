//! The HTTP API (the page uses it too; documented in the README):
//!
//! - `POST /api/jobs` (multipart: `mix`, optional `reference` or `profile` (a style profile
//!   saved by `lathe profile`) or `genre` (`auto`), `preset`, `sample_rate`,
//!   `lufs`, `ceiling`, `amount`, `eq_amount`, `bits` (16, 24, 32f), `format` (wav, flac),
//!   `limiter` (on, off)) -> 202 `{"id": ...}`; 400 with lathe's error text, 413 over the
//!   upload limit, 503 when the queue is full;
//! - `GET /api/jobs` -> every job's status; `GET /api/jobs/{id}` -> `{"state": "queued" |
//!   "running" | "done" | "failed", "stage", "progress": 0..1, "error", "result"}`;
//! - `GET /api/jobs/{id}/master`, `/report.html`, `/report.json`, `/mix`, `/preview-mix`,
//!   `/preview-master`; `DELETE /api/jobs/{id}`;
//! - `GET /api/options`: genres, presets and limits for the page.
//!
//! Every request passes [`guard`] first (Host and Origin checks). Errors are mapped to status
//! codes in one place, [`ApiError`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, Request, State as Shared};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::queue::{Entry, Jobs};
use super::{random_id, State};
use crate::error::Error;
use crate::io::encode::SampleFormat;
use crate::job::{self, Job, JobOutput, JobSettings, Target};
use crate::report::provenance::{Provenance, Setting};
use crate::targets::model::Model;
use crate::targets::presets;

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// Extensions an uploaded file may keep (lower case); any other name becomes `.audio` (the
/// decoder probes the content).
const UPLOAD_EXTENSIONS: &[&str] = &[
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga", "m4a", "mp4", "caf", "w64",
];
/// Longest text field accepted, bytes.
const MAX_FIELD_BYTES: usize = 256;

/// The app.
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { page(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/options", get(options))
        .route("/api/jobs", get(list).post(create))
        .route("/api/jobs/{id}", get(status).delete(delete))
        .route("/api/jobs/{id}/{file}", get(download))
        // The upload limit is counted while streaming to disk (see `create`).
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                 media-src 'self' blob:; frame-ancestors 'self'",
            ),
        ],
        body,
    )
        .into_response()
}

/// An API error: a status and a one-line message (`{"error": ...}`).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no such job (deleted or expired?)")
    }
    fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than this server's limit of {} MB (--max-upload-mb)",
                limit / (1024 * 1024)
            ),
        )
    }

    /// The one place where lathe's errors become status codes: the client's mistakes (bad
    /// audio, bad settings) are 400, anything else 500.
    fn from_lathe(err: &Error, text: String) -> Self {
        let status = match err {
            Error::Context { source, .. } => return Self::from_lathe(source, text),
            Error::EmptyFile { .. }
            | Error::UnrecognisedFormat { .. }
            | Error::UnsupportedCodec { .. }
            | Error::Corrupt { .. }
            | Error::NoAudio { .. }
            | Error::NonFiniteSample { .. }
            | Error::UnsupportedSampleRate { .. }
            | Error::UnsupportedChannelCount { .. }
            | Error::RenderChannels { .. }
            | Error::TooShort { .. }
            | Error::TooLong { .. }
            | Error::Silence { .. }
            | Error::TooQuiet { .. }
            | Error::UnsupportedOutput { .. }
            | Error::InvalidRange { .. }
            | Error::Profile { .. }
            | Error::InvalidSetting(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, text)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// lathe's message for `err`, with the job's own file paths replaced by the names the client
/// gave (the server's folders are none of its business).
pub fn client_text(entry: &Entry, err: &Error) -> String {
    let mut text = err.chain();
    for (path, name) in &entry.names {
        text = text.replace(&path.display().to_string(), name);
    }
    text.replace(&format!("{}/", entry.dir.display()), "")
}

/// Host and Origin checks (DNS rebinding, cross-site writes), before any handler.
async fn guard(Shared(state): Shared<Arc<State>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_allowed(&state, host) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Host '{host}' is not allowed: open http://{}/ (lathe serve refuses other names \
                 against DNS rebinding)",
                state.local_addr
            ),
        )
        .into_response();
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let origin_host = origin
                .strip_prefix("http://")
                .unwrap_or("\u{0}")
                .trim_end_matches('/');
            if !host_allowed(&state, origin_host) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("cross-origin request from '{origin}' refused"),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

/// `localhost`, a loopback address or the bound address, on the bound port; with
/// `allow_remote`, any IP address on that port (names other than localhost stay refused: a
/// rebinding attack needs a name).
fn host_allowed(state: &State, host: &str) -> bool {
    let port = state.local_addr.port();
    let (name, host_port) = match host.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()),
        _ => (host, Some(80)),
    };
    if host_port != Some(port) {
        return false;
    }
    let name = name.to_ascii_lowercase();
    if name == "localhost" {
        return true;
    }
    let ip = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>();
    match ip {
        Ok(ip) => ip.is_loopback() || ip == state.local_addr.ip() || state.config.allow_remote,
        Err(_) => false,
    }
}

/// The bundled model, loaded on first use and shared by every job.
fn model() -> Result<Arc<Model>, ApiError> {
    static MODEL: OnceLock<Result<Arc<Model>, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| Model::bundled().map(Arc::new).map_err(|e| e.chain()))
        .clone()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn options(Shared(state): Shared<Arc<State>>) -> Result<Json<serde_json::Value>, ApiError> {
    let genres: Vec<String> = model()?.genres().into_iter().map(|g| g.name).collect();
    let presets: Vec<serde_json::Value> = presets::PRESETS
        .iter()
        .map(|p| {
            json!({"name": p.name, "label": p.label, "integrated_lufs": p.integrated_lufs,
                   "ceiling_dbtp": p.ceiling_dbtp})
        })
        .collect();
    Ok(Json(json!({
        "genres": genres,
        "presets": presets,
        "max_upload_bytes": state.config.max_upload_bytes,
        "jobs": state.config.jobs,
        "queue": state.config.queue,
    })))
}

fn status_json(e: &Entry) -> serde_json::Value {
    let s = e.status();
    json!({
        "id": e.id,
        "mix_name": e.mix_name,
        "state": s.state,
        "stage": s.stage,
        "progress": s.progress,
        "error": s.error,
        "result": s.result,
    })
}

async fn list(Shared(state): Shared<Arc<State>>) -> Json<serde_json::Value> {
    Json(serde_json::Value::Array(
        state.jobs.list().iter().map(|e| status_json(e)).collect(),
    ))
}

async fn status(
    Shared(state): Shared<Arc<State>>,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let e = state.jobs.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Json(status_json(&e)))
}

async fn delete(
    Shared(state): Shared<Arc<State>>,
    UrlPath(id): UrlPath<String>,
) -> Result<StatusCode, ApiError> {
    if state.jobs.delete(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// The files a job offers, by URL name: (file in the job folder, content type, download
/// suffix).
fn job_file(e: &Entry, name: &str) -> Option<(PathBuf, &'static str, String)> {
    let stem = download_stem(&e.mix_name);
    let master = e.master_file.as_deref()?;
    let ext = master.extension()?.to_string_lossy().into_owned();
    let audio_type = if ext == "flac" {
        "audio/flac"
    } else {
        "audio/wav"
    };
    Some(match name {
        "master" => (
            master.to_path_buf(),
            audio_type,
            format!("{stem}.master.{ext}"),
        ),
        "report.html" => (
            e.dir.join("report.html"),
            "text/html; charset=utf-8",
            format!("{stem}.report.html"),
        ),
        "report.json" => (
            e.dir.join("report.json"),
            "application/json",
            format!("{stem}.report.json"),
        ),
        "preview-mix" => (
            job::with_tag(master, "preview-mix"),
            audio_type,
            format!("{stem}.preview-mix.{ext}"),
        ),
        "preview-master" => (
            job::with_tag(master, "preview-master"),
            audio_type,
            format!("{stem}.preview-master.{ext}"),
        ),
        "mix" => {
            let (path, client) = e.names.first()?;
            (path.clone(), "application/octet-stream", client.clone())
        }
        // The files the report links to by their own names (its players, the EQ exports):
        // only names of this job's outputs, never a path.
        other => {
            let path = e
                .outputs
                .iter()
                .find(|p| p.file_name().is_some_and(|n| n == other))?;
            let content_type = match path.extension().and_then(|x| x.to_str()) {
                Some("wav") => "audio/wav",
                Some("flac") => "audio/flac",
                Some("txt") => "text/plain; charset=utf-8",
                _ => "application/octet-stream",
            };
            (path.clone(), content_type, format!("{stem}.{other}"))
        }
    })
}

/// A download name from the client's file name: letters, digits, `.-_ ` only.
fn download_stem(name: &str) -> String {
    let stem = Path::new(name)
        .file_stem()
        .map_or_else(|| "mix".into(), |s| s.to_string_lossy().into_owned());
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_. ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if clean.trim().is_empty() {
        "mix".into()
    } else {
        clean
    }
}

async fn download(
    Shared(state): Shared<Arc<State>>,
    UrlPath((id, name)): UrlPath<(String, String)>,
) -> Result<Response, ApiError> {
    let e = state.jobs.get(&id).ok_or_else(ApiError::not_found)?;
    let done = e.status().state == super::queue::Phase::Done;
    if !done && name != "mix" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the job has not finished: poll /api/jobs/{id} until its state is done",
        ));
    }
    let (path, content_type, download) =
        job_file(&e, &name).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such file"))?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such file"))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let mut resp = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let disposition = if name == "report.html" {
        format!("inline; filename=\"{download}\"")
    } else {
        format!("attachment; filename=\"{download}\"")
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if name == "report.html" {
        // The report is lathe's own self-contained page; it may run its inline scripts but
        // reach nothing.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                 img-src data:; media-src 'self' data: blob:; frame-ancestors 'self'",
            ),
        );
    }
    Ok(resp)
}

/// Removes a job folder unless kept: an upload that fails, is refused or is cut off by the
/// client leaves nothing behind (the handler's future is dropped on a disconnect).
struct DirGuard(Option<PathBuf>);

impl DirGuard {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(d) = self.0.take() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// What a POST carried.
#[derive(Default)]
struct Fields {
    mix: Option<(PathBuf, String)>,
    reference: Option<(PathBuf, String)>,
    /// A style profile saved by `lathe profile` (JSON).
    profile: Option<(PathBuf, String)>,
    text: Vec<(String, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.text
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn number(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ApiError::bad(format!("{name} '{v}' is not a number")))
            })
            .transpose()
    }
}

/// Streams one file field to `path`, counting against `budget`.
async fn save_field(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &Path,
    budget: &mut u64,
    limit: u64,
) -> Result<(), ApiError> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        let n = chunk.len() as u64;
        if n > *budget {
            return Err(ApiError::too_large(limit));
        }
        *budget -= n;
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(e.status(), format!("malformed upload: {}", e.body_text()))
}

/// The upload's extension, if it is one lathe reads; else `audio`.
fn upload_extension(client_name: &str) -> String {
    Path::new(client_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| UPLOAD_EXTENSIONS.contains(&e.as_str()))
        .unwrap_or_else(|| "audio".into())
}

async fn read_fields(
    multipart: &mut Multipart,
    dir: &Path,
    limit: u64,
) -> Result<Fields, ApiError> {
    let mut fields = Fields::default();
    let mut budget = limit;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "mix" | "reference" | "profile" => {
                let slot = match name.as_str() {
                    "mix" => &mut fields.mix,
                    "reference" => &mut fields.reference,
                    _ => &mut fields.profile,
                };
                if slot.is_some() {
                    return Err(ApiError::bad(format!("two '{name}' files: send one")));
                }
                let client = field.file_name().unwrap_or(&name).to_string();
                // A profile is JSON whatever its name; audio keeps a known extension.
                let ext = if name == "profile" {
                    "json".to_string()
                } else {
                    upload_extension(&client)
                };
                let path = dir.join(format!("{name}.{ext}"));
                save_field(&mut field, &path, &mut budget, limit).await?;
                *slot = Some((path, client));
            }
            "genre" | "preset" | "lufs" | "ceiling" | "amount" | "eq_amount" | "bits"
            | "format" | "limiter" | "sample_rate" => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    value.extend_from_slice(&chunk);
                    if value.len() > MAX_FIELD_BYTES {
                        return Err(ApiError::bad(format!("field '{name}' is too long")));
                    }
                }
                let value = String::from_utf8(value)
                    .map_err(|_| ApiError::bad(format!("field '{name}' is not UTF-8 text")))?;
                fields.text.push((name, value));
            }
            other => {
                return Err(ApiError::bad(format!(
                    "unknown field '{}': see the README's API section",
                    other.chars().take(40).collect::<String>()
                )))
            }
        }
    }
    Ok(fields)
}

/// The job's settings from the text fields.
fn settings_from(fields: &Fields) -> Result<JobSettings, ApiError> {
    let lathe_err = |e: Error| ApiError::bad(e.chain());
    let presets = match fields.get("preset") {
        None | Some("none") => Vec::new(),
        Some(p) => presets::parse_list(p).map_err(lathe_err)?,
    };
    if presets.len() > 1 {
        return Err(ApiError::bad(
            "one preset per job here (the CLI renders several at once)",
        ));
    }
    let sample_format = match fields.get("bits") {
        None => None,
        Some("16") => Some(SampleFormat::Int16),
        Some("24") => Some(SampleFormat::Int24),
        Some("32f") => Some(SampleFormat::Float32),
        Some(other) => {
            return Err(ApiError::bad(format!(
                "bits '{other}': choose 16, 24 or 32f"
            )))
        }
    };
    let limiter = match fields.get("limiter") {
        None | Some("on") | Some("true") => true,
        Some("off") | Some("false") => false,
        Some(other) => return Err(ApiError::bad(format!("limiter '{other}': on or off"))),
    };
    let settings = JobSettings {
        presets,
        integrated_lufs: fields.number("lufs")?,
        ceiling_dbtp: fields.number("ceiling")?,
        amount_pct: fields.number("amount")?.unwrap_or(100.0),
        eq_amount_pct: fields.number("eq_amount")?.unwrap_or(100.0),
        limiter,
        sample_format,
        sample_rate_hz: fields.number("sample_rate")?.map(|hz| hz as u32),
        copy_tags: true,
        dither_seed: job::DITHER_SEED,
    };
    settings.validate().map_err(lathe_err)?;
    Ok(settings)
}

/// How the job was asked for, for its report: the request and every field as sent.
fn provenance(fields: &Fields) -> Provenance {
    let mut settings: Vec<Setting> = fields
        .text
        .iter()
        .map(|(k, v)| Setting {
            name: k.clone(),
            value: v.trim().to_string(),
            given: true,
        })
        .collect();
    if let Some((_, name)) = &fields.reference {
        settings.push(Setting {
            name: "reference".into(),
            value: name.clone(),
            given: true,
        });
    }
    Provenance {
        command_line: vec!["lathe serve".into(), "POST /api/jobs".into()],
        settings,
        ..Provenance::default()
    }
}

/// `POST /api/jobs`.
async fn create(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let limit = state.config.max_upload_bytes;
    // Refuse what cannot fit before reading a byte of it.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(64 * 1024)) {
        return Err(ApiError::too_large(limit));
    }
    let slot = state.jobs.try_reserve().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "busy: {} jobs running and {} waiting; try again later",
                state.config.jobs, state.config.queue
            ),
        )
    })?;
    let id = random_id();
    let dir = state.run_dir.join(format!("job-{id}"));
    std::fs::create_dir(&dir)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let guard = DirGuard(Some(dir.clone()));

    let fields = read_fields(&mut multipart, &dir, limit).await?;
    let (mix, mix_name) = fields
        .mix
        .clone()
        .ok_or_else(|| ApiError::bad("no 'mix' file in the upload"))?;
    let settings = settings_from(&fields)?;
    let format = match fields.get("format") {
        None | Some("wav") => "wav",
        Some("flac") => "flac",
        Some(other) => return Err(ApiError::bad(format!("format '{other}': wav or flac"))),
    };
    let genre = fields
        .get("genre")
        .filter(|g| !g.eq_ignore_ascii_case("auto"));
    let target = match (&fields.reference, &fields.profile, genre) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(ApiError::bad(
                "choose one of a reference, a style profile or a genre",
            ))
        }
        (Some((path, _)), None, None) => Target::Reference(path.clone()),
        (None, Some((path, _)), None) => Target::Profile(path.clone()),
        (None, None, genre) => {
            let model = model()?;
            let genre = match genre {
                Some(g) => Some(
                    model
                        .choose_genre(g)
                        .map_err(|e| ApiError::bad(e.chain()))?
                        .genre,
                ),
                None => None,
            };
            Target::Genre { model, genre }
        }
    };

    let master = dir.join(format!("master.{format}"));
    let report = dir.join("report.html");
    let renders = job::render_specs(&settings, &master, Some(&report), None, true);
    let job = Job {
        mix: mix.clone(),
        target,
        settings,
        renders,
        force: false,
        measure_after: true,
        provenance: provenance(&fields),
    };
    let mut names = vec![(mix, mix_name.clone())];
    names.extend(fields.reference.clone());
    names.extend(fields.profile.clone());
    let outputs = job
        .renders
        .iter()
        .flat_map(|r| r.paths.all())
        .map(Path::to_path_buf)
        .collect();
    let entry = Arc::new(Entry::new(
        id.clone(),
        dir,
        mix_name,
        names,
        Some(master),
        outputs,
    ));
    job.check()
        .map_err(|e| ApiError::from_lathe(&e, client_text(&entry, &e)))?;

    // Junk is refused now, with lathe's error text, not later as a failed job.
    let inputs: Vec<PathBuf> = job.inputs().iter().map(|p| p.to_path_buf()).collect();
    let probe = state
        .jobs
        .validation
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let profile = fields.profile.as_ref().map(|(p, _)| p.clone());
    let checked = tokio::task::spawn_blocking(move || -> crate::Result<()> {
        let _permit = probe;
        for p in inputs {
            if profile.as_deref() == Some(p.as_path()) {
                job::read_profile(&p)?;
                continue;
            }
            job::decode(&p)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if let Err(e) = checked {
        return Err(ApiError::from_lathe(&e, client_text(&entry, &e)));
    }

    guard.keep();
    Jobs::start(&state, entry, job, slot, describe);
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": id }))).into_response())
}

/// Loudness and dynamics figures of one file for the page.
fn figures(f: &crate::Features) -> serde_json::Value {
    json!({
        "integrated_lufs": f.loudness.integrated_lufs,
        "true_peak_dbtp": f.loudness.true_peak_dbtp,
        "lra_lu": f.loudness.lra_lu,
        "plr_db": f.loudness.plr_db,
        "max_short_term_lufs": f.loudness.max_short_term_lufs,
        "width_db": f.stereo.width_db,
        "correlation": f.stereo.correlation,
        "duration_s": f.duration_s,
        "sample_rate_hz": f.sample_rate_hz,
        "channels": f.channels,
    })
}

/// The result of a finished job as `GET /api/jobs/{id}` shows it.
fn describe(entry: &Entry, _job: &Job, out: &JobOutput) -> serde_json::Value {
    let m = &out.renders[0];
    let base = format!("/api/jobs/{}", entry.id);
    json!({
        "mix_name": entry.mix_name,
        "detected_genre": out.detected_genre.as_ref().map(|(g, p, _)| json!({"genre": g, "probability": p})),
        "source": m.targets.source,
        "targets": {
            "integrated_lufs": m.targets.integrated_lufs,
            "ceiling_dbtp": m.targets.ceiling_dbtp,
            "plr_db": m.targets.plr_db,
            "width_db": m.targets.width_db,
        },
        "before": figures(&out.mix_features),
        "after": m.after.as_ref().map(figures),
        "loudness": m.log.loudness,
        "warnings": m.log.warnings,
        "preview": m.preview.as_ref().map(|p| json!({
            "start_s": p.start_s, "length_s": p.length_s,
            "mix_gain_db": p.mix_gain_db, "master_gain_db": p.master_gain_db,
            "matched_lufs": p.matched_lufs,
        })),
        "files": {
            "mix": format!("{base}/mix"),
            "master": format!("{base}/master"),
            "report_html": format!("{base}/report.html"),
            "report_json": format!("{base}/report.json"),
            "preview_mix": format!("{base}/preview-mix"),
            "preview_master": format!("{base}/preview-master"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_keep_only_safe_characters() {
        assert_eq!(download_stem("My Song (v2).wav"), "My Song _v2_");
        assert_eq!(download_stem("../../etc/passwd"), "passwd");
        assert_eq!(download_stem("\"><script>.wav"), "___script_");
        assert_eq!(download_stem(""), "mix");
    }

    #[test]
    fn upload_extensions_come_from_the_fixed_list() {
        assert_eq!(upload_extension("a.FLAC"), "flac");
        assert_eq!(upload_extension("a.wav/../../x"), "audio");
        assert_eq!(upload_extension("evil.sh"), "audio");
        assert_eq!(upload_extension("noext"), "audio");
    }
}
