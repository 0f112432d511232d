//! `SmtpMailer` (lettre) against a fake SMTP server on loopback that answers with the
//! replies of RFC 5321, Appendix D.1 ("A Typical SMTP Transaction Scenario": `220 …
//! Service Ready`, a multi-line `250-` EHLO answer, `250 OK`, `354 Start mail input;
//! end with <CRLF>.<CRLF>`, `221 … closing transmission channel`). It records the
//! commands and the message, so the test sees the envelope and the mail as sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use base64::Engine;
use outreach_server::server::mail::{Mail, Mailer, SmtpMailer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Default)]
struct Seen {
    commands: Vec<String>,
    data: String,
}

/// One SMTP session at a time, as in RFC 5321 D.1.
async fn fake_smtp() -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let reply = |s: &str| format!("{s}\r\n");
                write
                    .write_all(reply("220 foo.com Simple Mail Transfer Service Ready").as_bytes())
                    .await
                    .unwrap();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            write.write_all(reply("250 OK").as_bytes()).await.unwrap();
                        } else {
                            let mut seen = record.lock().unwrap();
                            seen.data.push_str(&line);
                            seen.data.push_str("\r\n");
                        }
                        continue;
                    }
                    record.lock().unwrap().commands.push(line.clone());
                    let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" => "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP".to_string(),
                        "DATA" => {
                            in_data = true;
                            "354 Start mail input; end with <CRLF>.<CRLF>".to_string()
                        }
                        "QUIT" => {
                            write
                                .write_all(reply("221 foo.com Service closing transmission channel").as_bytes())
                                .await
                                .unwrap();
                            return;
                        }
                        _ => "250 OK".to_string(),
                    };
                    write.write_all(reply(&answer).as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, seen)
}

/// The body of a MIME message as sent (7bit, quoted-printable or base64).
fn decoded_body(message: &str) -> String {
    let (head, body) = message.split_once("\r\n\r\n").unwrap();
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        let joined: String = body.split("\r\n").collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if head.contains("content-transfer-encoding: quoted-printable") {
        body.replace("=\r\n", "").replace("=3D", "=")
    } else {
        body.to_string()
    }
}

#[tokio::test]
async fn a_mail_goes_out_through_smtp_with_its_envelope_and_link() {
    let (port, seen) = fake_smtp().await;
    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Outreach <hello@example.com>",
    )
    .unwrap();
    let link = format!(
        "https://app.example.test/verify?token={}",
        "eyJhbGciOiJIUzI1NiJ9.".repeat(6)
    );
    mailer
        .send(Mail {
            to: "new@example.com".into(),
            subject: "Confirm your email for outreach".into(),
            text: format!("Open this link to confirm your email address:\n\n{link}\n"),
            link: link.clone(),
        })
        .await
        .unwrap();
    let (commands, data) = {
        let seen = seen.lock().unwrap();
        (seen.commands.join("\n"), seen.data.clone())
    };
    assert!(commands.starts_with("EHLO "), "{commands}");
    assert!(
        commands.contains("MAIL FROM:<hello@example.com>"),
        "{commands}"
    );
    assert!(commands.contains("RCPT TO:<new@example.com>"), "{commands}");
    assert!(commands.contains("DATA"), "{commands}");
    let data = &data;
    assert!(
        data.contains("Subject: Confirm your email for outreach\r\n"),
        "{data}"
    );
    assert!(data.contains("To: new@example.com\r\n"), "{data}");
    assert!(
        data.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{data}"
    );
    assert!(decoded_body(data).contains(&link), "{data}");

    // A bad recipient is refused before anything is sent.
    let refused = mailer
        .send(Mail {
            to: "not an address".into(),
            subject: "x".into(),
            text: "x".into(),
            link: String::new(),
        })
        .await;
    assert!(refused.is_err());
}
