//! Upload keys: `uploads/<user>/<uuid>/<sanitized filename>`. A `file_path` in a request
//! is trusted only when it is a valid storage key under the caller's own prefix.

use outreach_core::ports::storage::{validate_key, Storage};

use super::error::{AppError, AppResult};

/// Longest stored file name, in characters (the extension is kept).
const MAX_NAME_CHARS: usize = 120;

/// The extensions the reader understands.
pub const EXTENSIONS: [&str; 2] = ["csv", "xlsx"];

pub fn upload_key(user_id: &str, filename: &str) -> String {
    format!("uploads/{user_id}/{}/{filename}", uuid::Uuid::new_v4())
}

/// Where a user's bytes live: uploads, job inputs (chunk manifests, headers, the
/// do-not-contact snapshot), job outputs (chunk results and the result file), push
/// records and webhook events still owed. `OUTREACH_USER_QUOTA_BYTES` counts all of it.
const USER_PREFIXES: [&str; 5] = [
    "uploads", "inputs", "outputs", "pushes",
    "events", // outreach_core's jobs::events::EVENTS_ROOT (events/<user>/<event>.json)
];

/// Bytes stored for `user_id`, everything counted: one listing per prefix (no reads).
pub async fn stored_bytes(storage: &dyn Storage, user_id: &str) -> AppResult<u64> {
    let sizes = futures::future::try_join_all(
        USER_PREFIXES
            .iter()
            .map(|p| async move { storage.size_under(&format!("{p}/{user_id}/")).await }),
    )
    .await?;
    Ok(sizes.into_iter().fold(0, u64::saturating_add))
}

/// The last path component of a client-supplied name, reduced to a safe alphabet
/// (letters, digits, space, `.`, `-`, `_`, `(`, `)`), without leading dots, at most 120
/// characters. `None` when nothing is left.
pub fn sanitize_filename(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return None;
    }
    if cleaned.chars().count() <= MAX_NAME_CHARS {
        return Some(cleaned.to_string());
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (cleaned, String::new()),
    };
    let keep = MAX_NAME_CHARS.saturating_sub(ext.chars().count());
    Some(format!(
        "{}{ext}",
        stem.chars().take(keep).collect::<String>()
    ))
}

/// The lowercase extension when it is one we read.
pub fn supported_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    EXTENSIONS.into_iter().find(|e| *e == ext)
}

/// Checks that `file_path` is the caller's upload: a valid key (no `..`, not absolute)
/// → else 400; under `uploads/<user>/` → else 404 for another user's upload (their
/// existence is not revealed) and 400 for anything else. Returns the file name.
pub fn owned_upload<'a>(user_id: &str, file_path: &'a str) -> AppResult<&'a str> {
    validate_key(file_path)?;
    let prefix = format!("uploads/{user_id}/");
    match file_path.strip_prefix(&prefix) {
        Some(rest) => match rest.split('/').collect::<Vec<_>>().as_slice() {
            [_, name] => Ok(name),
            _ => Err(AppError::NotFound),
        },
        None if file_path.starts_with("uploads/") => Err(AppError::NotFound),
        None => Err(AppError::bad_request(
            "invalid_path",
            "file_path must be a key returned by POST /files",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reduced_to_their_last_safe_component() {
        for (raw, want) in [
            ("prospects.csv", Some("prospects.csv")),
            ("../../etc/passwd", Some("passwd")),
            ("C:\\Users\\me\\list (2).xlsx", Some("list (2).xlsx")),
            ("..hidden.csv", Some("hidden.csv")),
            ("a/b/", None),
            ("...", None),
            ("na\u{0}me;rm -rf.csv", Some("na_me_rm -rf.csv")),
            ("Liste Müller.csv", Some("Liste Müller.csv")),
        ] {
            assert_eq!(sanitize_filename(raw).as_deref(), want, "{raw:?}");
        }
        let long = format!("{}.xlsx", "a".repeat(300));
        let cut = sanitize_filename(&long).unwrap_or_default();
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".xlsx"));
    }

    #[test]
    fn extensions() {
        assert_eq!(supported_extension("a.CSV"), Some("csv"));
        assert_eq!(supported_extension("a.xlsx"), Some("xlsx"));
        assert_eq!(supported_extension("a.pdf"), None);
        assert_eq!(supported_extension("csv"), None);
    }

    #[test]
    fn only_the_callers_uploads_are_accepted() {
        assert_eq!(owned_upload("u1", "uploads/u1/x/a.csv").ok(), Some("a.csv"));
        for (path, status) in [
            ("uploads/u2/x/a.csv", 404),
            ("uploads/u1/a.csv", 404),
            ("uploads/u1/x/y/a.csv", 404),
            ("uploads/u1x/x/a.csv", 404),
            ("uploads/u1/../u2/x/a.csv", 400),
            ("/etc/passwd", 400),
            ("inputs/u1/j/a.csv", 400),
            ("", 400),
        ] {
            let got = owned_upload("u1", path).err().map(|e| e.status().as_u16());
            assert_eq!(got, Some(status), "{path}");
        }
    }
}
