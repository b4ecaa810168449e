//! One CSV row → the API's [`ContactInput`], remembering which column each value came from,
//! so that the API's validation errors (`emails[1]`) can name the column at fault
//! (`"E-mail 2 - Value"`).

use threadline_domain::api::CompanyChoice;
use threadline_domain::company::derive_company;

use super::columns::{ColumnMap, Field};
use crate::records::contacts::{ContactInput, EmailInput, Phone};

/// A row's values as a contact input, and where each came from.
#[derive(Debug, Clone)]
pub struct RowInput {
    pub input: ContactInput,
    pub columns: Columns,
}

/// The columns a [`RowInput`]'s values came from.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The column of each of `input.emails`.
    email_columns: Vec<usize>,
    /// The column of each of `input.phones`.
    phone_columns: Vec<usize>,
    first_name_column: Option<usize>,
    last_name_column: Option<usize>,
    /// Where the company's domain came from: its column, or the address it was derived from.
    domain_column: Option<usize>,
}

/// Separators of several values in one cell: Google's ` ::: `, and `;` (and for addresses
/// `,`), which people type.
const GOOGLE_SEPARATOR: &str = ":::";

fn split_values<'a>(cell: &'a str, separators: &'a [char]) -> impl Iterator<Item = &'a str> + 'a {
    cell.split(GOOGLE_SEPARATOR)
        .flat_map(move |part| part.split(separators))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// True when a company's name and the name part of a domain look like one company: one
/// contains the other once both are reduced to lowercase letters and digits (`Acme Corp.`
/// and `acme-corp.com`, `IBM` and `ibm.com`; not `Globex` and `bigconsult.com`).
pub fn names_match(company: &str, domain_label: &str) -> bool {
    let compact = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (name, label) = (compact(company), compact(domain_label));
    name.len() >= 2 && label.len() >= 2 && (name.contains(&label) || label.contains(&name))
}

/// The host of a web address (`https://www.acme.com/about` → `www.acme.com`); other text as
/// it is (the domain check says what is wrong with it).
fn domain_of(value: &str) -> String {
    let value = value.trim();
    if value.contains('/') {
        let with_scheme = if value.contains("://") {
            value.to_string()
        } else {
            format!("https://{value}")
        };
        if let Some(host) = url::Url::parse(&with_scheme)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        {
            return host;
        }
    }
    value.to_string()
}

impl RowInput {
    /// The input of a row (`cells` by column), or `None` when every cell is blank.
    pub fn build(map: &ColumnMap, cells: &[&str]) -> Option<RowInput> {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return None;
        }
        let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
        let single = |field: Field| map.column_of(field).map(|i| (i, cell(i)));

        // Addresses: by column number; a Google type starting with `*` marks the primary.
        let mut emails: Vec<EmailInput> = Vec::new();
        let mut email_columns = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for (column, n) in map.columns_of(|f| match f {
            Field::Email(n) => Some(n),
            _ => None,
        }) {
            let starred = single(Field::EmailType(n)).is_some_and(|(_, t)| t.starts_with('*'));
            for (k, address) in split_values(cell(column), &[';', ',']).enumerate() {
                // The same address in two columns (an export listing it twice) is kept once.
                let folded = address.to_lowercase();
                if seen.contains(&folded) {
                    continue;
                }
                seen.push(folded);
                emails.push(match starred && k == 0 {
                    true => EmailInput::Tagged {
                        address: address.to_string(),
                        primary: true,
                    },
                    false => EmailInput::Plain(address.to_string()),
                });
                email_columns.push(column);
            }
        }

        let mut phones = Vec::new();
        let mut phone_columns = Vec::new();
        for (column, n) in map.columns_of(|f| match f {
            Field::Phone(n, _) => Some(n),
            _ => None,
        }) {
            let label = match map.fields[column] {
                Some(Field::Phone(_, Some(label))) => Some(label.to_string()),
                _ => single(Field::PhoneType(n))
                    .map(|(_, t)| t.trim_start_matches('*').trim().to_lowercase())
                    .filter(|t| !t.is_empty()),
            };
            for number in split_values(cell(column), &[';']) {
                phones.push(Phone {
                    number: number.to_string(),
                    label: label.clone(),
                });
                phone_columns.push(column);
            }
        }

        let (mut first_name_column, mut first_name) = single(Field::FirstName).unzip();
        let (last_name_column, last_name) = single(Field::LastName).unzip();
        if first_name.unwrap_or("").is_empty() && last_name.unwrap_or("").is_empty() {
            if let Some((column, full)) = single(Field::FullName) {
                (first_name_column, first_name) = (Some(column), Some(full));
            }
        }

        let company_name = single(Field::Company).map(|(_, v)| v).unwrap_or("");
        let mut domain_column = None;
        let mut domain = single(Field::CompanyDomain)
            .filter(|(_, v)| !v.is_empty())
            .map(|(column, v)| {
                domain_column = Some(column);
                domain_of(v)
            });
        let mut company_name = company_name.to_string();
        if company_name.is_empty() {
            // A domain alone names its company as the bar would (`acme-corp.com` → Acme Corp).
            if let Some(d) = &domain {
                company_name = derive_company(d).map_or_else(|| d.clone(), |c| c.name);
            }
        } else if domain.is_none() {
            // The company's domain is its people's, unless the address is free mail or on
            // another company's domain (a consultant's): then the company has no domain.
            let primary = emails
                .iter()
                .position(|e| matches!(e, EmailInput::Tagged { primary: true, .. }))
                .unwrap_or(0);
            let address = emails.get(primary).map(|e| match e {
                EmailInput::Plain(a) | EmailInput::Tagged { address: a, .. } => a.as_str(),
            });
            if let Some((_, at)) = address.and_then(|a| a.rsplit_once('@')) {
                if let Some(derived) = derive_company(at) {
                    let label = derived.domain.split('.').next().unwrap_or_default();
                    if names_match(&company_name, label) {
                        domain = Some(derived.domain);
                        domain_column = email_columns.get(primary).copied();
                    }
                }
            }
        }
        let company = (!company_name.is_empty()).then_some(CompanyChoice::New {
            name: company_name,
            domain,
        });

        let text = |field: Field| {
            single(field)
                .map(|(_, v)| v.to_string())
                .filter(|v| !v.is_empty())
        };
        Some(RowInput {
            input: ContactInput {
                first_name: first_name.unwrap_or("").to_string(),
                last_name: last_name.unwrap_or("").to_string(),
                emails,
                company,
                company_id: None,
                phones,
                job_title: text(Field::JobTitle),
                notes: text(Field::Notes),
            },
            columns: Columns {
                email_columns,
                phone_columns,
                first_name_column,
                last_name_column,
                domain_column,
            },
        })
    }
}

impl Columns {
    /// The column of an API field named in a validation error (`emails[1].address`,
    /// `phones[0].number`, `company.name`, …).
    pub fn column_of(&self, map: &ColumnMap, field: &str) -> Option<usize> {
        let (head, index) = match field.split_once('[') {
            Some((head, rest)) => (
                head,
                rest.split(']').next().and_then(|i| i.parse::<usize>().ok()),
            ),
            None => (field, None),
        };
        match (head, index) {
            ("emails", Some(i)) => self.email_columns.get(i).copied(),
            ("emails", None) => self.email_columns.first().copied().or_else(|| {
                map.columns_of(|f| matches!(f, Field::Email(_)).then_some(0))
                    .first()
                    .map(|&(c, _)| c)
            }),
            ("phones", Some(i)) => self.phone_columns.get(i).copied(),
            ("phones", None) => self.phone_columns.first().copied(),
            ("first_name", _) => self.first_name_column,
            ("last_name", _) => self.last_name_column,
            ("company.name", _) => map.column_of(Field::Company),
            ("company.domain", _) => self.domain_column,
            ("job_title", _) => map.column_of(Field::JobTitle),
            ("notes", _) => map.column_of(Field::Notes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(headers: &[&str], cells: &[&str]) -> RowInput {
        let map = ColumnMap::new(headers.iter().map(|h| h.to_string()).collect()).unwrap();
        RowInput::build(&map, cells).expect("a row with values")
    }

    fn addresses(row: &RowInput) -> Vec<(String, bool)> {
        row.input
            .emails
            .iter()
            .map(|e| match e {
                EmailInput::Plain(a) => (a.clone(), false),
                EmailInput::Tagged { address, primary } => (address.clone(), *primary),
            })
            .collect()
    }

    #[test]
    fn several_addresses_per_cell_and_column_and_googles_primary_star() {
        let row = build(
            &[
                "E-mail 1 - Type",
                "E-mail 1 - Value",
                "E-mail 2 - Type",
                "E-mail 2 - Value",
                "email",
            ],
            &[
                "Home",
                "ann@home.net ::: ann@old.net",
                "* Work",
                "ann@acme.com; Ann@Home.net",
                "x@y.org, z@y.org",
            ],
        );
        assert_eq!(
            addresses(&row),
            vec![
                ("ann@home.net".into(), false),
                ("ann@old.net".into(), false),
                ("x@y.org".into(), false),
                ("z@y.org".into(), false),
                ("ann@acme.com".into(), true),
            ],
            "email (1) before E-mail 2; the starred type marks the primary; a repeat is dropped"
        );
        let map = ColumnMap::new(
            [
                "E-mail 1 - Type",
                "E-mail 1 - Value",
                "E-mail 2 - Type",
                "E-mail 2 - Value",
                "email",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        )
        .unwrap();
        assert_eq!(row.columns.column_of(&map, "emails[4].address"), Some(3));
        assert_eq!(row.columns.column_of(&map, "emails[2]"), Some(4));
    }

    #[test]
    fn blank_rows_are_none_and_a_full_name_fills_in_for_missing_names() {
        let map = ColumnMap::new(vec!["Name".into(), "email".into()]).unwrap();
        assert!(RowInput::build(&map, &[" ", ""]).is_none());
        assert!(RowInput::build(&map, &[]).is_none());
        let row = build(
            &["Name", "Given Name", "Family Name", "email"],
            &["Ann Lee", "", "", "a@b.co"],
        );
        assert_eq!(
            (row.input.first_name.as_str(), row.input.last_name.as_str()),
            ("Ann Lee", "")
        );
        let row = build(
            &["Name", "Given Name", "Family Name", "email"],
            &["Ann Lee", "Ann", "Lee", "a@b.co"],
        );
        assert_eq!(
            (row.input.first_name.as_str(), row.input.last_name.as_str()),
            ("Ann", "Lee")
        );
    }

    #[test]
    fn phones_take_the_headers_or_googles_label() {
        let row = build(
            &[
                "email",
                "Business Phone",
                "Mobile Phone",
                "Phone 1 - Label",
                "Phone 1 - Value",
            ],
            &[
                "a@b.co",
                "+1 555 0100",
                "",
                "* Mobile",
                "06 1234 5678 ::: 020 555 0000",
            ],
        );
        let phones: Vec<(&str, Option<&str>)> = row
            .input
            .phones
            .iter()
            .map(|p| (p.number.as_str(), p.label.as_deref()))
            .collect();
        assert_eq!(
            phones,
            vec![
                ("+1 555 0100", Some("work")),
                ("06 1234 5678", Some("mobile")),
                ("020 555 0000", Some("mobile"))
            ]
        );
    }

    fn company(row: &RowInput) -> Option<(String, Option<String>)> {
        match &row.input.company {
            Some(CompanyChoice::New { name, domain }) => Some((name.clone(), domain.clone())),
            _ => None,
        }
    }

    #[test]
    fn a_companys_domain_comes_from_its_column_or_a_matching_address() {
        let headers = ["email", "company", "company_domain"];
        let c = |cells: [&str; 3]| company(&build(&headers, &cells));
        assert_eq!(
            c(["a@mail.acme.co.uk", "Acme Ltd", ""]),
            Some(("Acme Ltd".into(), Some("acme.co.uk".into())))
        );
        assert_eq!(
            c(["a@bigconsult.com", "Globex", ""]),
            Some(("Globex".into(), None)),
            "a consultant's domain is not the client's"
        );
        assert_eq!(
            c(["a@gmail.com", "Acme", ""]),
            Some(("Acme".into(), None)),
            "free mail says nothing"
        );
        assert_eq!(
            c(["a@x.com", "Acme", "https://www.acme.com/about"]),
            Some(("Acme".into(), Some("www.acme.com".into())))
        );
        assert_eq!(
            c(["a@x.com", "", "initech-corp.com"]),
            Some(("Initech Corp".into(), Some("initech-corp.com".into())))
        );
        assert_eq!(
            c(["a@acme.com", "", ""]),
            None,
            "no company unless the row names one"
        );
    }

    #[test]
    fn company_names_and_domains_match_loosely() {
        assert!(names_match("Acme Corp.", "acme-corp"));
        assert!(names_match("IBM", "ibm"));
        assert!(names_match("Initech", "initechcorp"));
        assert!(!names_match("Globex", "bigconsult"));
        assert!(!names_match("A", "a"), "too short to tell");
    }
}
