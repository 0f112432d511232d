//! Which columns say who the prospect is: name (first / last / full), company, title,
//! LinkedIn URL, website. Guessed from the headers the way the email column is, and
//! overridable per run (a header name per role). The research uses them to search the
//! right person and to tell a same-name stranger from the prospect.

use serde::{Deserialize, Serialize};

use crate::error::InputError;

/// A role a column can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    FirstName,
    LastName,
    FullName,
    Company,
    Title,
    Linkedin,
    Website,
}

impl ColumnRole {
    pub const ALL: [ColumnRole; 7] = [
        ColumnRole::FirstName,
        ColumnRole::LastName,
        ColumnRole::FullName,
        ColumnRole::Company,
        ColumnRole::Title,
        ColumnRole::Linkedin,
        ColumnRole::Website,
    ];

    /// The role's name in flags, API fields and Python arguments (`first_name_col`, …
    /// append `_col`).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnRole::FirstName => "first_name",
            ColumnRole::LastName => "last_name",
            ColumnRole::FullName => "full_name",
            ColumnRole::Company => "company",
            ColumnRole::Title => "title",
            ColumnRole::Linkedin => "linkedin",
            ColumnRole::Website => "website",
        }
    }

    /// Normalised header names that certainly play this role.
    fn names(self) -> &'static [&'static str] {
        match self {
            ColumnRole::FirstName => &[
                "firstname",
                "first",
                "givenname",
                "fname",
                "forename",
                "prenom",
                "vorname",
                "nombre",
                "contactfirstname",
            ],
            ColumnRole::LastName => &[
                "lastname",
                "last",
                "surname",
                "familyname",
                "lname",
                "nachname",
                "nom",
                "apellido",
                "contactlastname",
            ],
            ColumnRole::FullName => &[
                "name",
                "fullname",
                "contactname",
                "contact",
                "person",
                "prospect",
                "prospectname",
                "leadname",
                "personname",
            ],
            ColumnRole::Company => &[
                "company",
                "companyname",
                "organization",
                "organisation",
                "organizationname",
                "organisationname",
                "account",
                "accountname",
                "employer",
                "firm",
                "business",
                "businessname",
                "firma",
                "unternehmen",
                "entreprise",
                "empresa",
                "currentcompany",
            ],
            ColumnRole::Title => &[
                "title",
                "jobtitle",
                "position",
                "role",
                "jobrole",
                "designation",
                "headline",
                "currenttitle",
                "currentposition",
                "occupation",
            ],
            ColumnRole::Linkedin => &[
                "linkedin",
                "linkedinurl",
                "linkedinprofile",
                "linkedinprofileurl",
                "personlinkedinurl",
                "profileurl",
                "linkedinlink",
            ],
            ColumnRole::Website => &[
                "website",
                "companywebsite",
                "websiteurl",
                "url",
                "domain",
                "companydomain",
                "web",
                "homepage",
                "site",
                "companyurl",
            ],
        }
    }
}

/// Lower case, alphanumerics only: `First Name` → `firstname`.
fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Column indices per role; `None` = the file has no such column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnRoles {
    pub first_name: Option<usize>,
    pub last_name: Option<usize>,
    pub full_name: Option<usize>,
    pub company: Option<usize>,
    pub title: Option<usize>,
    pub linkedin: Option<usize>,
    pub website: Option<usize>,
}

/// Header names chosen by the user per role (CLI flags, API fields, Python arguments).
/// An empty string turns a guessed role off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnOverrides {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub linkedin: Option<String>,
    pub website: Option<String>,
}

impl ColumnOverrides {
    pub fn get(&self, role: ColumnRole) -> Option<&str> {
        match role {
            ColumnRole::FirstName => self.first_name.as_deref(),
            ColumnRole::LastName => self.last_name.as_deref(),
            ColumnRole::FullName => self.full_name.as_deref(),
            ColumnRole::Company => self.company.as_deref(),
            ColumnRole::Title => self.title.as_deref(),
            ColumnRole::Linkedin => self.linkedin.as_deref(),
            ColumnRole::Website => self.website.as_deref(),
        }
    }

    pub fn set(&mut self, role: ColumnRole, header: Option<String>) {
        let slot = match role {
            ColumnRole::FirstName => &mut self.first_name,
            ColumnRole::LastName => &mut self.last_name,
            ColumnRole::FullName => &mut self.full_name,
            ColumnRole::Company => &mut self.company,
            ColumnRole::Title => &mut self.title,
            ColumnRole::Linkedin => &mut self.linkedin,
            ColumnRole::Website => &mut self.website,
        };
        *slot = header;
    }

    pub fn is_empty(&self) -> bool {
        ColumnRole::ALL.iter().all(|r| self.get(*r).is_none())
    }
}

impl ColumnRoles {
    pub fn get(&self, role: ColumnRole) -> Option<usize> {
        match role {
            ColumnRole::FirstName => self.first_name,
            ColumnRole::LastName => self.last_name,
            ColumnRole::FullName => self.full_name,
            ColumnRole::Company => self.company,
            ColumnRole::Title => self.title,
            ColumnRole::Linkedin => self.linkedin,
            ColumnRole::Website => self.website,
        }
    }

    fn slot(&mut self, role: ColumnRole) -> &mut Option<usize> {
        match role {
            ColumnRole::FirstName => &mut self.first_name,
            ColumnRole::LastName => &mut self.last_name,
            ColumnRole::FullName => &mut self.full_name,
            ColumnRole::Company => &mut self.company,
            ColumnRole::Title => &mut self.title,
            ColumnRole::Linkedin => &mut self.linkedin,
            ColumnRole::Website => &mut self.website,
        }
    }

    /// Guess every role from the headers. The email column (`email_index`) never plays
    /// a role; the first header that matches a role's names takes it, and one column
    /// plays at most one role.
    pub fn guess(headers: &[String], email_index: Option<usize>) -> ColumnRoles {
        let mut roles = ColumnRoles::default();
        let mut taken: Vec<usize> = email_index.into_iter().collect();
        for role in ColumnRole::ALL {
            let found = headers
                .iter()
                .enumerate()
                .find(|(i, h)| !taken.contains(i) && role.names().contains(&normalise(h).as_str()));
            if let Some((i, _)) = found {
                *roles.slot(role) = Some(i);
                taken.push(i);
            }
        }
        roles
    }

    /// The guess with the user's choices applied: a named header must exist
    /// (`InputError::UnknownColumn` otherwise); an empty name turns the role off.
    pub fn resolve(
        headers: &[String],
        email_index: Option<usize>,
        overrides: &ColumnOverrides,
    ) -> crate::Result<ColumnRoles> {
        let mut roles = Self::guess(headers, email_index);
        for role in ColumnRole::ALL {
            let Some(name) = overrides.get(role) else {
                continue;
            };
            if name.trim().is_empty() {
                *roles.slot(role) = None;
                continue;
            }
            let index = headers
                .iter()
                .position(|h| h == name)
                .or_else(|| headers.iter().position(|h| h.trim() == name.trim()))
                .ok_or_else(|| InputError::UnknownColumn(name.to_string()))?;
            // The chosen column leaves any other role it was guessed for.
            for other in ColumnRole::ALL {
                if other != role && roles.get(other) == Some(index) {
                    *roles.slot(other) = None;
                }
            }
            *roles.slot(role) = Some(index);
        }
        Ok(roles)
    }

    /// The header name per role, for job metadata and the wizard.
    pub fn to_overrides(&self, headers: &[String]) -> ColumnOverrides {
        let mut out = ColumnOverrides::default();
        for role in ColumnRole::ALL {
            out.set(role, self.get(role).and_then(|i| headers.get(i).cloned()));
        }
        out
    }
}

/// Where a row says who the prospect is: the email cell and the role columns. Computed
/// once per run; every row of the run is read through it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProspectColumns {
    pub email: usize,
    pub roles: ColumnRoles,
}

impl ProspectColumns {
    /// Only the email column (the seed's behaviour).
    pub fn email_only(email: usize) -> ProspectColumns {
        ProspectColumns {
            email,
            roles: ColumnRoles::default(),
        }
    }

    /// The email column and the roles guessed from `headers`, with the user's overrides.
    pub fn resolve(
        headers: &[String],
        email: usize,
        overrides: &ColumnOverrides,
    ) -> crate::Result<ProspectColumns> {
        Ok(ProspectColumns {
            email,
            roles: ColumnRoles::resolve(headers, Some(email), overrides)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn guesses_common_export_headers() {
        let headers = h(&[
            "Email",
            "First Name",
            "Last Name",
            "Company Name",
            "Job Title",
            "LinkedIn URL",
            "Website",
        ]);
        let roles = ColumnRoles::guess(&headers, Some(0));
        assert_eq!(
            roles,
            ColumnRoles {
                first_name: Some(1),
                last_name: Some(2),
                full_name: None,
                company: Some(3),
                title: Some(4),
                linkedin: Some(5),
                website: Some(6),
            }
        );
    }

    #[test]
    fn full_name_and_unrelated_columns() {
        let headers = h(&["name", "email", "notes", "organisation", "Email Status"]);
        let roles = ColumnRoles::guess(&headers, Some(1));
        assert_eq!(roles.full_name, Some(0));
        assert_eq!(roles.company, Some(3));
        assert_eq!(roles.title, None);
        assert_eq!(roles.first_name, None);
    }

    #[test]
    fn overrides_pick_switch_off_and_reject_unknown_headers() {
        let headers = h(&["email", "Company", "Employer 2"]);
        let mut o = ColumnOverrides::default();
        o.set(ColumnRole::Company, Some("Employer 2".into()));
        o.set(ColumnRole::Title, Some(String::new()));
        let roles = ColumnRoles::resolve(&headers, Some(0), &o).unwrap_or_default();
        assert_eq!(roles.company, Some(2));
        o.set(ColumnRole::Company, Some(String::new()));
        let roles = ColumnRoles::resolve(&headers, Some(0), &o).unwrap_or_default();
        assert_eq!(roles.company, None);
        o.set(ColumnRole::Website, Some("nope".into()));
        let err = ColumnRoles::resolve(&headers, Some(0), &o)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("nope")));
    }

    #[test]
    fn the_email_column_never_plays_a_role() {
        let headers = h(&["name"]);
        assert_eq!(ColumnRoles::guess(&headers, Some(0)).full_name, None);
    }
}
