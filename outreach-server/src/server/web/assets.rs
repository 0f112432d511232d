//! The web app's files, embedded in the binary, and how they are served.
//!
//! - The shell (`web/index.html`) is served for every page URL, `Cache-Control:
//!   no-cache`, with a Content-Security-Policy that allows only this origin (plus the
//!   Supabase project for sign-in), so no injected or third-party script can run.
//! - Assets are served under `/assets/<version>/…`, where the version is a hash of all
//!   of them: the shell names the current version, modules import each other by
//!   relative paths (so they stay under it), and a new build changes every URL. That
//!   makes them safe to cache forever (`immutable`) with no build step that renames
//!   files. A request for another version still gets the file, uncached (a page loaded
//!   before an upgrade).

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::WebState;
use crate::server::error::AppError;
use crate::server::extract::AppPath;

/// A page of the web app. The one list of pages ([`PAGES`]): the server routes the
/// shell from it, `/ui/config.json` hands it to `app.js` (which routes the URLs to the
/// page modules), and the tests walk it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    /// The URL; `{id}` matches one non-empty path segment. A trailing `/` is accepted.
    pub path: &'static str,
    /// The module under `web/assets/pages/` that renders it.
    pub module: &'static str,
    pub title: &'static str,
    /// Shown without a session (otherwise signed-out visitors go to `/login`).
    pub public: bool,
    /// The same URL is an API route: browsers get the shell there through
    /// `pages_for_browsers`, everyone else the API.
    pub api: bool,
}

const fn page(path: &'static str, module: &'static str, title: &'static str) -> Page {
    Page {
        path,
        module,
        title,
        public: false,
        api: false,
    }
}

/// Every page of the web app.
pub const PAGES: &[Page] = &[
    page("/", "dashboard", "Dashboard"),
    page("/upload", "upload", "Upload"),
    Page {
        api: true,
        ..page("/jobs", "jobs", "Jobs")
    },
    Page {
        api: true,
        ..page("/jobs/{id}", "job", "Job")
    },
    page("/billing", "billing", "Billing"),
    page("/settings", "settings", "Settings"),
    Page {
        public: true,
        ..page("/login", "login", "Sign in")
    },
    page("/account", "account", "Account"),
    Page {
        public: true,
        ..page("/verify", "verify", "Confirm your email")
    },
    Page {
        public: true,
        ..page("/reset", "reset", "Reset your password")
    },
];

impl Page {
    /// True when `path` is this page's URL.
    pub fn matches(&self, path: &str) -> bool {
        let trimmed = |p: &'static str| p.strip_suffix('/').unwrap_or(p);
        let path = if path == "/" {
            path
        } else {
            path.strip_suffix('/').unwrap_or(path)
        };
        let template = if self.path == "/" {
            "/"
        } else {
            trimmed(self.path)
        };
        let (mut want, mut got) = (template.split('/'), path.split('/'));
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("{id}"), Some(segment)) if !segment.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }

    /// The URL with `id` in place of `{id}`.
    pub fn url(&self, id: &str) -> String {
        self.path.replace("{id}", id)
    }
}

/// An embedded file: its path under `web/assets/`, content type and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/assets/", $path)),
        }
    };
}

/// Every file under `web/assets/` (a test checks the list against the directory).
pub const ASSETS: &[Asset] = &[
    asset!("api.js", JS),
    asset!("app.js", JS),
    asset!("auth.js", JS),
    asset!("destinations.js", JS),
    asset!("favicon.svg", SVG),
    asset!("jobactions.js", JS),
    asset!("live.js", JS),
    asset!("next.js", JS),
    asset!("pages/account.js", JS),
    asset!("pages/billing.js", JS),
    asset!("pages/dashboard.js", JS),
    asset!("pages/job.js", JS),
    asset!("pages/job/push.js", JS),
    asset!("pages/jobs.js", JS),
    asset!("pages/login.js", JS),
    asset!("pages/reset.js", JS),
    asset!("pages/settings.js", JS),
    asset!("pages/settings/destinations.js", JS),
    asset!("pages/settings/suppression.js", JS),
    asset!("pages/settings/webhook.js", JS),
    asset!("pages/upload.js", JS),
    asset!("pages/upload/columns.js", JS),
    asset!("pages/upload/file.js", JS),
    asset!("pages/upload/offer.js", JS),
    asset!("pages/upload/template.js", JS),
    asset!("pages/verify.js", JS),
    asset!("research.js", JS),
    asset!("service.js", JS),
    asset!("style.css", CSS),
    asset!("ui.js", JS),
];

const SHELL_TEMPLATE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html"));

/// A hash of every asset's path and bytes (12 hex digits).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = Sha256::new();
        for asset in ASSETS {
            hasher.update(asset.path.as_bytes());
            hasher.update([0]);
            hasher.update(asset.body);
        }
        hasher.update(SHELL_TEMPLATE.as_bytes());
        hasher
            .finalize()
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// The shell with the current asset URLs.
pub fn shell_html() -> &'static str {
    static SHELL: OnceLock<String> = OnceLock::new();
    SHELL.get_or_init(|| SHELL_TEMPLATE.replace("{{ASSETS}}", &format!("/assets/{}", version())))
}

fn content_security_policy(web: &WebState) -> String {
    let connect = match &web.config.supabase {
        Some(s) => format!("'self' {}", s.url),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

pub fn shell_response(web: &WebState) -> Response {
    let mut response = shell_html().into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(VARY, HeaderValue::from_static("Accept, Authorization"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(web)) {
        headers.insert(CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// The shell, at every page URL that is not also an API route.
pub async fn shell(State(web): State<std::sync::Arc<WebState>>) -> Response {
    shell_response(&web)
}

pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// `GET /assets/{version}/{*path}`.
pub async fn asset(
    AppPath((requested, path)): AppPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let asset = find(&path).ok_or(AppError::NotFound)?;
    let current = requested == version();
    let etag = format!("\"{}\"", version());
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
            asset.body,
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, etag);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn files_under(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path: PathBuf = entry.path();
            if path.is_dir() {
                files_under(&path, base, out);
            } else if let Ok(rel) = path.strip_prefix(base) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_under_web_assets_is_embedded() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/assets");
        let mut files = Vec::new();
        files_under(&base, &base, &mut files);
        files.sort();
        let embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(files, embedded, "web/assets vs ASSETS (keep ASSETS sorted)");
    }

    #[test]
    fn the_shell_names_the_current_assets() {
        let shell = shell_html();
        assert!(!shell.contains("{{"), "unreplaced placeholder");
        assert!(shell.contains(&format!("/assets/{}/app.js", version())));
        assert_eq!(version().len(), 12);
    }

    #[test]
    fn relative_imports_name_embedded_files() {
        // `import … from './x.js'` / `'../x.js'` in every module resolves to an asset.
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = String::from_utf8_lossy(asset.body);
            let dir = asset.path.rsplit_once('/').map_or("", |(d, _)| d);
            for quote in ['\'', '"', '`'] {
                for part in text.split(quote).skip(1).step_by(2) {
                    if !(part.starts_with("./") || part.starts_with("../"))
                        || !part.ends_with(".js")
                    {
                        continue;
                    }
                    if part.contains("${") {
                        continue;
                    }
                    let mut segments: Vec<&str> =
                        dir.split('/').filter(|s| !s.is_empty()).collect();
                    for seg in part.split('/') {
                        match seg {
                            "." => {}
                            ".." => {
                                segments.pop();
                            }
                            s => segments.push(s),
                        }
                    }
                    let resolved = segments.join("/");
                    assert!(
                        find(&resolved).is_some(),
                        "{}: `{part}` → {resolved} is not embedded",
                        asset.path
                    );
                }
            }
        }
    }
}
