//! What the row already knows about the prospect: the email plus the columns that play a
//! role (name, company, title, LinkedIn, website). Drives the queries, the prompt and the
//! identity rules.

use super::email::EmailParts;
use super::free_mail::is_free_mail;
use super::verify::normalise;
use crate::input::{ColumnRole, ColumnRoles};

/// Longest value taken from a row cell; longer cells are cut (a cell is not a document).
const CELL_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prospect {
    pub email: EmailParts,
    /// The person's name from the row (full name, or first + last).
    pub name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub linkedin: Option<String>,
    /// The company's site domain (from the website column), lower case, without `www.`.
    pub website_domain: Option<String>,
}

impl Prospect {
    /// Only the email known (the seed's behaviour).
    pub fn from_email(email: EmailParts) -> Prospect {
        Prospect {
            email,
            name: None,
            company: None,
            title: None,
            linkedin: None,
            website_domain: None,
        }
    }

    /// The prospect from a full input row and the run's column roles.
    pub fn from_row(email: EmailParts, row: &[String], roles: &ColumnRoles) -> Prospect {
        let cell = |role: ColumnRole| -> Option<String> {
            let v = row.get(roles.get(role)?)?;
            let v: String = v.split_whitespace().collect::<Vec<_>>().join(" ");
            let v: String = v.chars().take(CELL_CHARS).collect();
            (!v.is_empty()
                && !matches!(
                    v.to_lowercase().as_str(),
                    "n/a" | "na" | "-" | "none" | "null" | "unknown"
                ))
            .then_some(v)
        };
        let name = cell(ColumnRole::FullName).or_else(|| {
            match (cell(ColumnRole::FirstName), cell(ColumnRole::LastName)) {
                (Some(f), Some(l)) => Some(format!("{f} {l}")),
                (Some(f), None) => Some(f),
                (None, Some(l)) => Some(l),
                (None, None) => None,
            }
        });
        Prospect {
            email,
            name,
            company: cell(ColumnRole::Company),
            title: cell(ColumnRole::Title),
            linkedin: cell(ColumnRole::Linkedin),
            website_domain: cell(ColumnRole::Website).and_then(|w| host_of(&w)),
        }
    }

    /// True when the address is at a free-mail provider.
    pub fn free_mail(&self) -> bool {
        is_free_mail(&self.email.domain)
    }

    /// The company's own domains: the website column's, and the email's unless free mail.
    pub fn company_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = self.website_domain.iter().cloned().collect();
        if !self.free_mail() && !out.contains(&self.email.domain) {
            out.push(self.email.domain.clone());
        }
        out
    }

    /// The person's name: the row's, else one read off a `first.last` address.
    pub fn known_name(&self) -> Option<String> {
        self.name
            .clone()
            .or_else(|| name_from_local_part(&self.email.username))
    }

    /// The row's own values as the prompt shows them (and as the opener may use them).
    pub fn row_lines(&self) -> String {
        let mut s = format!("Email: {}\n", self.email.address());
        for (label, v) in [
            ("Name", &self.name),
            ("Company", &self.company),
            ("Title", &self.title),
            ("LinkedIn", &self.linkedin),
            ("Website", &self.website_domain),
        ] {
            if let Some(v) = v {
                s.push_str(&format!("{label}: {v}\n"));
            }
        }
        s
    }

    /// The person search and the company search (`None` = no company search: a
    /// free-mail address without a company column).
    pub fn queries(&self) -> (String, Option<String>) {
        let company_hint = self
            .company
            .clone()
            .or_else(|| self.company_domains().into_iter().next());
        let person = match (&self.name, company_hint) {
            (Some(name), Some(company)) => format!("{name} {company}"),
            (Some(name), None) => name.clone(),
            (None, _) if self.free_mail() => match &self.company {
                Some(c) => format!("{} {c}", self.email.username),
                None => self.email.address(),
            },
            (None, _) => format!("{} {}", self.email.username, self.email.domain),
        };
        let company = match (self.company_domains().into_iter().next(), &self.company) {
            (Some(domain), _) => Some(domain),
            (None, Some(name)) => Some(name.clone()),
            (None, None) => None,
        };
        (person, company)
    }
}

/// `jane.doe`, `jane_doe`, `jane-doe` → `jane doe`; anything else → `None`.
fn name_from_local_part(local: &str) -> Option<String> {
    let local = local.split('+').next().unwrap_or(local);
    let parts: Vec<&str> = local.split(['.', '_', '-']).collect();
    let ok = parts.len() == 2
        && parts
            .iter()
            .all(|p| p.chars().count() >= 2 && p.chars().all(char::is_alphabetic));
    ok.then(|| parts.join(" "))
}

/// The host of a URL or bare domain, lower case, without `www.`.
pub fn host_of(url: &str) -> Option<String> {
    let s = url.trim().to_lowercase();
    let s = s.split("://").nth(1).unwrap_or(&s).to_string();
    let host = s.split(['/', '?', '#']).next()?.split('@').next_back()?;
    let host = host.split(':').next()?.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    (host.contains('.') && !host.contains(' ')).then(|| host.to_string())
}

/// True when `url` is on `domain` or one of its subdomains.
pub fn on_domain(url: &str, domain: &str) -> bool {
    let Some(host) = host_of(url) else {
        return false;
    };
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// The name words worth matching: two or more letters, normalised.
pub fn name_words(name: &str) -> Vec<String> {
    normalise(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::research::parse_email;

    fn email(s: &str) -> EmailParts {
        parse_email(s).unwrap_or_else(|| EmailParts {
            username: "x".into(),
            domain: "x.invalid".into(),
        })
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn queries_use_what_the_row_knows() {
        let headers = row(&["email", "First Name", "Last Name", "Company", "Website"]);
        let roles = ColumnRoles::guess(&headers, Some(0));
        let p = Prospect::from_row(
            email("jd@northwind-logistics.com"),
            &row(&[
                "jd@northwind-logistics.com",
                "Jane",
                "Doe",
                "Northwind Logistics",
                "https://www.northwind.io/about",
            ]),
            &roles,
        );
        assert_eq!(p.name.as_deref(), Some("Jane Doe"));
        assert_eq!(p.website_domain.as_deref(), Some("northwind.io"));
        assert_eq!(
            p.company_domains(),
            vec!["northwind.io", "northwind-logistics.com"]
        );
        assert_eq!(
            p.queries(),
            (
                "Jane Doe Northwind Logistics".to_string(),
                Some("northwind.io".to_string())
            )
        );
    }

    #[test]
    fn email_only_keeps_the_seed_queries() {
        let p = Prospect::from_email(email("jane.doe@acme.io"));
        assert_eq!(
            p.queries(),
            ("jane.doe acme.io".to_string(), Some("acme.io".to_string()))
        );
        assert_eq!(p.known_name().as_deref(), Some("jane doe"));
    }

    #[test]
    fn free_mail_never_gets_a_company_domain_search() {
        let p = Prospect::from_email(email("jane.doe@gmail.com"));
        assert_eq!(p.queries(), ("jane.doe@gmail.com".to_string(), None));
        assert!(p.company_domains().is_empty());
        let mut p = p;
        p.company = Some("Acme".into());
        p.name = Some("Jane Doe".into());
        assert_eq!(
            p.queries(),
            ("Jane Doe Acme".to_string(), Some("Acme".to_string()))
        );
    }

    #[test]
    fn hosts_and_domains() {
        assert_eq!(
            host_of("https://WWW.Acme.io:443/x?y").as_deref(),
            Some("acme.io")
        );
        assert_eq!(host_of("acme.io").as_deref(), Some("acme.io"));
        assert!(on_domain("https://blog.acme.io/post", "acme.io"));
        assert!(!on_domain("https://notacme.io/", "acme.io"));
        assert!(!on_domain("https://acme.io.evil.com/", "acme.io"));
    }
}
