//! S3-compatible object storage for
//! [`ObjectStorage`](super::object_storage::ObjectStorage) (cargo feature `s3`): the
//! configuration and the `object_store` client it builds; this module does not depend on
//! the `Storage` adapter.
//!
//! One code path serves AWS S3, Supabase Storage's S3 endpoint
//! (`https://<project>.supabase.co/storage/v1/s3`), MinIO and moto: requests are
//! addressed path-style (`ENDPOINT/BUCKET/KEY`), which all of them accept, whereas
//! virtual-hosted style (`BUCKET.ENDPOINT`) needs DNS that local servers do not have.
//!
//! Configuration is explicit ([`S3Config`]) or read from the conventional AWS
//! environment names by [`S3Config::from_url`] (`STORAGE_URL=s3://bucket[/prefix]`).
//! `object_store`'s own `AmazonS3Builder::from_env` is not used: it reads dozens of
//! variables, and a stray one (a profile's `AWS_ENDPOINT` pointing elsewhere, say) would
//! change where files go without a trace in our configuration.

use std::fmt;
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

use crate::error::{Error, Result};
use crate::ports::storage::validate_prefix;

/// The region used when none is configured (what AWS tools assume; MinIO, moto and
/// Supabase accept any region in the signature).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to reach an S3-compatible bucket.
///
/// `Debug` never prints the secret key or the session token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Keys are stored under this prefix inside the bucket (`""` for the bucket's root).
    /// Written without leading or trailing `/`, e.g. `outreach/prod`.
    pub prefix: String,
    /// The service's base URL, e.g. `http://127.0.0.1:9000` (MinIO) or
    /// `https://<project>.supabase.co/storage/v1/s3`; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// `""` means [`DEFAULT_REGION`].
    pub region: String,
    /// Static credentials. With neither key set, `object_store` asks the instance
    /// metadata service (EC2/ECS roles).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// For temporary credentials (`AWS_SESSION_TOKEN`).
    pub session_token: Option<String>,
    /// Allow a plain `http://` endpoint (local MinIO or moto). Off by default.
    pub allow_http: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { Some("<redacted>") } else { None };
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &redacted(self.secret_access_key.is_some()),
            )
            .field("session_token", &redacted(self.session_token.is_some()))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Config {
    /// A bucket on AWS in [`DEFAULT_REGION`], credentials from the instance; set the other
    /// fields for anything else.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            region: DEFAULT_REGION.to_owned(),
            ..Self::default()
        }
    }

    /// `s3://BUCKET[/PREFIX]` plus the environment:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT` (first set wins) | endpoint | AWS |
    /// | `AWS_REGION` or `AWS_DEFAULT_REGION` | region | `us-east-1` |
    /// | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | credentials | instance role |
    /// | `AWS_ALLOW_HTTP` | `true`/`false` (also `1`/`0`, `yes`/`no`) | `false` |
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_url_with(url, |name| std::env::var(name).ok())
    }

    /// [`Self::from_url`] with the environment given as a lookup function (for tests and
    /// for embedders that keep configuration elsewhere).
    pub fn from_url_with(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let var = |name: &str| {
            env(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let (bucket, prefix) = parse_s3_url(url)?;
        let allow_http = match var("AWS_ALLOW_HTTP") {
            None => false,
            Some(value) => parse_bool(&value).ok_or_else(|| {
                Error::Config(format!(
                    "AWS_ALLOW_HTTP must be true or false, not `{value}`"
                ))
            })?,
        };
        Ok(Self {
            bucket,
            prefix,
            endpoint: var("AWS_ENDPOINT_URL_S3")
                .or_else(|| var("AWS_ENDPOINT_URL"))
                .or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
            session_token: var("AWS_SESSION_TOKEN"),
            allow_http,
        })
    }

    /// Checks what `object_store` would otherwise report less clearly (or only at the
    /// first request).
    fn validate(&self) -> Result<()> {
        if self.bucket.is_empty() || self.bucket.contains('/') {
            return Err(Error::Config(format!(
                "S3 bucket name `{}` is not valid",
                self.bucket
            )));
        }
        let usable_prefix = validate_prefix(&self.prefix).is_ok_and(|p| p == self.prefix);
        if !usable_prefix {
            return Err(Error::Config(format!(
                "S3 key prefix `{}` is not usable: write it as `a/b` (no leading or trailing \
                 `/`, no empty, `.` or `..` segments)",
                self.prefix
            )));
        }
        match (&self.access_key_id, &self.secret_access_key) {
            (Some(_), None) => {
                return Err(Error::Config(
                    "an S3 access key id is set without its secret key (AWS_SECRET_ACCESS_KEY)"
                        .into(),
                ))
            }
            (None, Some(_)) => {
                return Err(Error::Config(
                    "an S3 secret key is set without its access key id (AWS_ACCESS_KEY_ID)".into(),
                ))
            }
            _ => {}
        }
        if let Some(endpoint) = &self.endpoint {
            if endpoint.starts_with("http://") && !self.allow_http {
                return Err(Error::Config(format!(
                    "the S3 endpoint {endpoint} is plain HTTP: set AWS_ALLOW_HTTP=true \
                     (or S3Config::allow_http) if that is intended"
                )));
            }
        }
        Ok(())
    }
}

/// `s3://BUCKET[/PREFIX][/]` → (bucket, prefix without surrounding `/`).
fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .trim()
        .strip_prefix("s3://")
        .ok_or_else(|| Error::Config(format!("`{url}` is not an s3://BUCKET[/PREFIX] URL")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Config(format!("`{url}` names no bucket")));
    }
    let prefix = validate_prefix(prefix)
        .map_err(|err| Error::Config(format!("the key prefix in `{url}` is not usable: {err}")))?;
    Ok((bucket.to_owned(), prefix.to_owned()))
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl S3Config {
    /// The bucket (under its key prefix) as an object store, path-style. Nothing is sent
    /// until the first operation. [`ObjectStorage::s3`](super::object_storage::ObjectStorage::s3)
    /// wraps it in the `Storage` port.
    pub fn build(&self) -> Result<Arc<dyn ObjectStore>> {
        let config = self;
        config.validate()?;
        let region = if config.region.is_empty() {
            DEFAULT_REGION
        } else {
            config.region.as_str()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(config.allow_http);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        let store = builder.build().map_err(|err| {
            Error::Config(format!("cannot use S3 bucket `{}`: {err}", config.bucket))
        })?;
        let store: Arc<dyn ObjectStore> = if config.prefix.is_empty() {
            Arc::new(store)
        } else {
            let prefix = ObjectPath::parse(&config.prefix).map_err(|err| {
                Error::Config(format!("S3 key prefix `{}`: {err}", config.prefix))
            })?;
            Arc::new(PrefixStore::new(store, prefix))
        };
        Ok(store)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::backends::object_storage::ObjectStorage;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn url_gives_bucket_and_prefix() {
        let config = S3Config::from_url_with("s3://files", env(&[])).unwrap();
        assert_eq!(
            (config.bucket.as_str(), config.prefix.as_str()),
            ("files", "")
        );
        assert_eq!(config.region, DEFAULT_REGION);
        assert!(!config.allow_http);
        assert_eq!(config.endpoint, None);

        for url in ["s3://files/a/b", "s3://files/a/b/"] {
            let config = S3Config::from_url_with(url, env(&[])).unwrap();
            assert_eq!(
                (config.bucket.as_str(), config.prefix.as_str()),
                ("files", "a/b")
            );
        }
        for bad in ["s3://", "s3:///x", "s3://b/../x", "s3://b//x", "gs://b"] {
            assert!(
                matches!(
                    S3Config::from_url_with(bad, env(&[])),
                    Err(Error::Config(_))
                ),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn environment_fills_the_rest() {
        let config = S3Config::from_url_with(
            "s3://b",
            env(&[
                ("AWS_ENDPOINT", "http://ignored:1"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ("AWS_DEFAULT_REGION", "ignored"),
                ("AWS_REGION", "eu-west-3"),
                ("AWS_ACCESS_KEY_ID", "id"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_ALLOW_HTTP", "TRUE"),
            ]),
        )
        .unwrap();
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(config.region, "eu-west-3");
        assert_eq!(config.access_key_id.as_deref(), Some("id"));
        assert!(config.allow_http);
        assert!(ObjectStorage::s3(config.clone()).is_ok());

        let debug = format!("{config:?}");
        assert!(!debug.contains("secret\""), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");

        let fallback =
            S3Config::from_url_with("s3://b", env(&[("AWS_ENDPOINT", "https://e")])).unwrap();
        assert_eq!(fallback.endpoint.as_deref(), Some("https://e"));

        assert!(matches!(
            S3Config::from_url_with("s3://b", env(&[("AWS_ALLOW_HTTP", "maybe")])),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn misconfigurations_are_config_errors() {
        let http = S3Config {
            endpoint: Some("http://127.0.0.1:9000".into()),
            ..S3Config::new("b")
        };
        match ObjectStorage::s3(http) {
            Err(Error::Config(message)) => assert!(message.contains("AWS_ALLOW_HTTP"), "{message}"),
            other => panic!("expected a config error, got {other:?}"),
        }
        let half_keys = S3Config {
            access_key_id: Some("id".into()),
            ..S3Config::new("b")
        };
        assert!(matches!(
            ObjectStorage::s3(half_keys),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            ObjectStorage::s3(S3Config::new("")),
            Err(Error::Config(_))
        ));
        let trailing = S3Config {
            prefix: "a/".into(),
            ..S3Config::new("b")
        };
        assert!(matches!(ObjectStorage::s3(trailing), Err(Error::Config(_))));
    }
}
