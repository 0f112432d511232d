//! Account mail (email verification and password reset links) behind a small
//! [`Mailer`] trait, so tests read the mail from memory and self-hosters without a mail
//! server still get their links.
//!
//! Which mailer `outreach serve` uses ([`MailConfig::from_env`]):
//! - `OUTREACH_SMTP_URL` (`smtps://user:pass@host:465`, or `smtp://user:pass@host:587?tls=required`
//!   for STARTTLS): sent through that server with `lettre` (rustls with aws-lc-rs, the
//!   system's CAs; no OpenSSL), from `OUTREACH_MAIL_FROM`;
//! - else `OUTREACH_MAIL_OUTBOX=/path/file.jsonl`: each mail appended to that file as a
//!   JSON line (`{to, subject, text, link}`), for tests and for handing mail to
//!   another tool;
//! - else the console: the link is logged (tracing, info), so a self-hoster can copy it.
//!
//! Links point at `OUTREACH_PUBLIC_URL` (e.g. `https://outreach.example.com`), never at
//! the request's `Host` header, which a client chooses (a reset link aimed at an
//! attacker's host would hand them the token). Without it, the logged link is a path
//! to open on the server's own address; with SMTP it is required.
//!
//! Sending stays out of the core: only the server sends mail.

use std::fmt::Debug;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use outreach_core::Error as CoreError;
use serde::Serialize;

/// One plain-text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// The link the mail carries (what the console and outbox mailers show).
    pub link: String,
}

/// Why a mail was not sent (logged; the request that asked for it does not fail).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address {0} cannot receive mail")]
    Address(String),
    #[error("building the message: {0}")]
    Message(String),
    #[error("sending through SMTP: {0}")]
    Smtp(String),
    #[error("writing the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

/// Sends account mail.
pub trait Mailer: Send + Sync + Debug + 'static {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>>;
}

/// Logs each mail's link instead of sending it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleMailer;

impl Mailer for ConsoleMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>> {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            link = %mail.link,
            "account mail not sent (no OUTREACH_SMTP_URL); open the link to continue"
        );
        Box::pin(async { Ok(()) })
    }
}

/// Appends each mail to a file, one JSON object per line.
#[derive(Debug)]
pub struct OutboxMailer {
    path: PathBuf,
    lock: Mutex<()>,
}

impl OutboxMailer {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }
}

impl Mailer for OutboxMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>> {
        let result = (|| {
            let _one_writer = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            let mut line =
                serde_json::to_vec(&mail).map_err(|e| MailError::Message(e.to_string()))?;
            line.push(b'\n');
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            file.write_all(&line)?;
            Ok(())
        })();
        Box::pin(async move { result })
    }
}

/// Keeps every mail in memory (tests).
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer(Arc<Mutex<Vec<Mail>>>);

impl MemoryMailer {
    /// Every mail sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Mailer for MemoryMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
        Box::pin(async { Ok(()) })
    }
}

/// Sends through an SMTP server (`lettre`, pooled connections).
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the password: never printed.
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// `url`: `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=required`,
    /// or `smtp://host:port` (no TLS: a local relay).
    pub fn new(url: &str, from: &str) -> Result<Self, CoreError> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| CoreError::Config(format!("OUTREACH_SMTP_URL is not usable: {e}")))?
            .build();
        let from = from.parse().map_err(|e| {
            CoreError::Config(format!(
                "OUTREACH_MAIL_FROM `{from}` is not an address: {e}"
            ))
        })?;
        Ok(Self { transport, from })
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: Mail) -> BoxFuture<'_, Result<(), MailError>> {
        use lettre::AsyncTransport;
        Box::pin(async move {
            let to: lettre::message::Mailbox = mail
                .to
                .parse()
                .map_err(|_| MailError::Address(mail.to.clone()))?;
            let message = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(mail.subject)
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(mail.text)
                .map_err(|e| MailError::Message(e.to_string()))?;
            self.transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Smtp(e.to_string()))
        })
    }
}

/// Which mailer, and where links point.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub mailer: Arc<dyn Mailer>,
    /// `OUTREACH_PUBLIC_URL` without a trailing `/`.
    pub public_url: Option<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            mailer: Arc::new(ConsoleMailer),
            public_url: None,
        }
    }
}

/// The sender when `OUTREACH_MAIL_FROM` is unset.
pub const DEFAULT_FROM: &str = "outreach <no-reply@localhost>";

impl MailConfig {
    pub fn from_env() -> Result<Self, CoreError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, CoreError> {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let public_url = var("OUTREACH_PUBLIC_URL")
            .map(|u| {
                let u = u.trim_end_matches('/').to_string();
                if u.starts_with("https://") || u.starts_with("http://") {
                    Ok(u)
                } else {
                    Err(CoreError::Config(format!(
                        "OUTREACH_PUBLIC_URL must be an http(s) URL, got `{u}`"
                    )))
                }
            })
            .transpose()?;
        let mailer: Arc<dyn Mailer> = match (var("OUTREACH_SMTP_URL"), var("OUTREACH_MAIL_OUTBOX"))
        {
            (Some(url), _) => {
                if public_url.is_none() {
                    return Err(CoreError::Config(
                        "OUTREACH_SMTP_URL is set but OUTREACH_PUBLIC_URL is not: mailed links need the server's public address".into(),
                    ));
                }
                let from = var("OUTREACH_MAIL_FROM").unwrap_or_else(|| DEFAULT_FROM.into());
                Arc::new(SmtpMailer::new(&url, &from)?)
            }
            (None, Some(path)) => Arc::new(OutboxMailer::new(path)),
            (None, None) => Arc::new(ConsoleMailer),
        };
        Ok(Self { mailer, public_url })
    }

    /// One line for the startup log: where account mail goes.
    pub fn describe(&self) -> String {
        let links = self.public_url.as_deref().map_or(
            "links are paths (set OUTREACH_PUBLIC_URL)".to_string(),
            |u| format!("links to {u}"),
        );
        format!("{:?}; {links}", self.mailer)
    }

    /// `<public url><path>?token=<token>` (just the path without a public URL).
    pub fn link(&self, path: &str, token: &str) -> String {
        format!(
            "{}{path}?token={token}",
            self.public_url.as_deref().unwrap_or("")
        )
    }

    /// Sends in the background: the request that asked for the mail answers at once and
    /// in the same time whether or not a mail goes out (no account enumeration by
    /// timing). A failure is logged.
    pub fn send_later(&self, mail: Mail) {
        let mailer = self.mailer.clone();
        tokio::spawn(async move {
            let to = mail.to.clone();
            if let Err(e) = mailer.send(mail).await {
                tracing::warn!(%to, error = %e, "account mail not sent");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    // The SMTP pool starts a task: a runtime is needed (as in `outreach serve`).
    #[tokio::test]
    async fn settings_choose_the_mailer() {
        let c = MailConfig::from_lookup(lookup(&[])).unwrap();
        assert!(format!("{:?}", c.mailer).contains("ConsoleMailer"));
        assert_eq!(c.link("/verify", "t"), "/verify?token=t");
        let c = MailConfig::from_lookup(lookup(&[
            ("OUTREACH_MAIL_OUTBOX", "/tmp/outbox.jsonl"),
            ("OUTREACH_PUBLIC_URL", "https://o.example.com/"),
        ]))
        .unwrap();
        assert!(format!("{:?}", c.mailer).contains("OutboxMailer"));
        assert_eq!(
            c.link("/verify", "t"),
            "https://o.example.com/verify?token=t"
        );
        let smtp = MailConfig::from_lookup(lookup(&[
            (
                "OUTREACH_SMTP_URL",
                "smtps://user:secret@smtp.example.com:465",
            ),
            ("OUTREACH_PUBLIC_URL", "https://o.example.com"),
            ("OUTREACH_MAIL_FROM", "Outreach <hello@example.com>"),
        ]))
        .unwrap();
        let shown = format!("{:?}", smtp.mailer);
        assert!(
            shown.contains("SmtpMailer") && !shown.contains("secret"),
            "{shown}"
        );
        assert!(
            MailConfig::from_lookup(lookup(&[("OUTREACH_SMTP_URL", "smtps://h:465")])).is_err(),
            "SMTP needs a public URL"
        );
        assert!(
            MailConfig::from_lookup(lookup(&[("OUTREACH_PUBLIC_URL", "o.example.com")])).is_err()
        );
        assert!(MailConfig::from_lookup(lookup(&[
            ("OUTREACH_SMTP_URL", "smtps://h:465"),
            ("OUTREACH_PUBLIC_URL", "https://o.example.com"),
            ("OUTREACH_MAIL_FROM", "not an address"),
        ]))
        .is_err());
    }

    #[tokio::test]
    async fn the_outbox_gets_one_json_line_per_mail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let mailer = OutboxMailer::new(&path);
        for i in 0..2 {
            mailer
                .send(Mail {
                    to: format!("u{i}@example.com"),
                    subject: "Verify".into(),
                    text: "line one\nline two".into(),
                    link: format!("/verify?token={i}"),
                })
                .await
                .unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["to"], "u1@example.com");
        assert_eq!(lines[1]["link"], "/verify?token=1");
    }
}
