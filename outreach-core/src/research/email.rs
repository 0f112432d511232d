//! Email validation: no provider call is made for an address that cannot be a person's.

/// A syntactically valid address split into its parts (lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailParts {
    pub username: String,
    pub domain: String,
}

impl EmailParts {
    /// The normalised address, used as the de-duplication key.
    pub fn address(&self) -> String {
        format!("{}@{}", self.username, self.domain)
    }
}

/// Parse an email the way a sales list holds it: trimmed, optional `mailto:`, optional
/// `Name <addr>` wrapper. Returns `None` for anything we should not research
/// (`john@`, `a@b`, `@acme.io`, spaces, two `@`s, a domain without a real TLD).
pub fn parse_email(raw: &str) -> Option<EmailParts> {
    let mut s = raw.trim();
    if let (Some(start), Some(end)) = (s.rfind('<'), s.rfind('>')) {
        if start < end {
            s = s[start + 1..end].trim();
        }
    }
    let s = s
        .strip_prefix("mailto:")
        .or_else(|| s.strip_prefix("MAILTO:"))
        .unwrap_or(s);
    let (user, domain) = s.split_once('@')?;
    if user.is_empty() || user.len() > 64 || domain.contains('@') {
        return None;
    }
    if user.starts_with('.') || user.ends_with('.') || user.contains("..") {
        return None;
    }
    let user_ok = user
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    if !user_ok {
        return None;
    }
    let domain = domain.trim_end_matches('.');
    if domain.len() > 253 {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return None;
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if !ok {
            return None;
        }
    }
    let tld = labels.last()?;
    if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) {
        return None;
    }
    Some(EmailParts {
        username: user.to_lowercase(),
        domain: domain.to_lowercase(),
    })
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_addresses() {
        let cases = [
            ("jane.doe@acme.io", "jane.doe", "acme.io"),
            ("  Jane.Doe@Acme.IO ", "jane.doe", "acme.io"),
            ("mailto:bob@sub.example.co.uk", "bob", "sub.example.co.uk"),
            (
                "Bob Smith <bob+sales@example.com>",
                "bob+sales",
                "example.com",
            ),
            ("o'neil@müller.de", "o'neil", "müller.de"),
        ];
        for (raw, user, domain) in cases {
            let parts = parse_email(raw).unwrap_or_else(|| panic!("{raw} rejected"));
            assert_eq!(parts.username, user, "{raw}");
            assert_eq!(parts.domain, domain, "{raw}");
        }
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for raw in [
            "",
            "john@",
            "a@b",
            "@acme.io",
            "john",
            "john@@acme.io",
            "jo hn@acme.io",
            "john@acme",
            "john@acme.c",
            "john@acme.123",
            "john@-acme.io",
            "john@acme..io",
            ".john@acme.io",
            "john.@acme.io",
            "john@ac me.io",
            "n/a",
            "x@y@z.com",
        ] {
            assert_eq!(parse_email(raw), None, "{raw:?} accepted");
        }
    }
}
