//! Which contact field each CSV column holds: the project's own column names and the headers
//! of Google Contacts' and Outlook's CSV exports, compared without case, spaces or
//! punctuation (`E-mail 1 - Value`, `e_mail_1_value` and `EMAIL1VALUE` are one header).

/// A contact field a column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    FirstName,
    LastName,
    /// A whole name (`Name`, `Full Name`): the first name when the row has no first or last
    /// name of its own.
    FullName,
    /// The n-th address column (`email` is 1, `email_2` 2, `E-mail 3 - Value` 3).
    Email(u32),
    /// Google's `E-mail n - Type` / `- Label`: `* Work` marks the primary address.
    EmailType(u32),
    /// The n-th phone column; `label` comes from the header (`Business Phone` is `work`).
    Phone(u32, Option<&'static str>),
    /// Google's `Phone n - Type` / `- Label`: the label of phone column n.
    PhoneType(u32),
    JobTitle,
    Company,
    /// The company's domain or web site (`acme.com`, `https://www.acme.com/`).
    CompanyDomain,
    Notes,
}

impl Field {
    /// How the summary names the field.
    pub fn describe(self) -> String {
        match self {
            Field::FirstName => "first name".into(),
            Field::LastName => "last name".into(),
            Field::FullName => "full name".into(),
            Field::Email(n) => format!("email {n}"),
            Field::EmailType(n) => format!("type of email {n}"),
            Field::Phone(n, None) => format!("phone {n}"),
            Field::Phone(n, Some(label)) => format!("phone {n} ({label})"),
            Field::PhoneType(n) => format!("type of phone {n}"),
            Field::JobTitle => "job title".into(),
            Field::Company => "company".into(),
            Field::CompanyDomain => "company domain".into(),
            Field::Notes => "notes".into(),
        }
    }

    /// Fields that a row has once: a second column for one is ignored.
    fn is_single(self) -> bool {
        !matches!(self, Field::Email(_) | Field::Phone(..))
    }
}

/// The header compared: lowercase letters and digits only.
pub fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `prefix` + optional number + `suffix` → the number (1 when absent).
fn numbered(key: &str, prefix: &str, suffix: &str) -> Option<u32> {
    let digits = key.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty() {
        return Some(1);
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return None;
    }
    digits.parse().ok().filter(|n| *n >= 1)
}

/// Outlook's phone columns and the label each gives its number.
const LABELLED_PHONES: &[(&str, &str)] = &[
    ("mobile", "mobile"),
    ("mobilephone", "mobile"),
    ("cellphone", "mobile"),
    ("businessphone", "work"),
    ("businessphone2", "work"),
    ("workphone", "work"),
    ("companymainphone", "main"),
    ("homephone", "home"),
    ("homephone2", "home"),
    ("otherphone", "other"),
    ("primaryphone", "primary"),
    ("businessfax", "fax"),
    ("homefax", "fax"),
];

/// The field a header names, if it is one the import knows.
pub fn field_of(header: &str) -> Option<Field> {
    let key = header_key(header);
    let exact = match key.as_str() {
        "firstname" | "givenname" | "first" | "forename" => Some(Field::FirstName),
        "lastname" | "familyname" | "surname" | "last" => Some(Field::LastName),
        "name" | "fullname" | "displayname" | "contactname" => Some(Field::FullName),
        "emails" | "emailaddresses" | "primaryemail" => Some(Field::Email(1)),
        "jobtitle" | "organizationtitle" | "organisationtitle" | "organization1title"
        | "organisation1title" | "position" => Some(Field::JobTitle),
        "company" | "companyname" | "organization" | "organisation" | "organizationname"
        | "organisationname" | "organization1name" | "organisation1name" => Some(Field::Company),
        "companydomain" | "domain" | "companywebsite" => Some(Field::CompanyDomain),
        "notes" | "note" => Some(Field::Notes),
        "phones" | "phonenumber" | "phonenumbers" => Some(Field::Phone(1, None)),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    if let Some(&(_, label)) = LABELLED_PHONES.iter().find(|(k, _)| *k == key) {
        // `Business Phone 2` comes after `Business Phone`.
        let n = if key.ends_with('2') { 2 } else { 1 };
        return Some(Field::Phone(n, Some(label)));
    }
    // Numbered columns: ours (`email_2`), Google's (`E-mail 2 - Value`, `- Type`, `- Label`),
    // Outlook's (`E-mail 2 Address`), and `Email Address 2` of other tools.
    [
        ("email", "", Field::Email as fn(u32) -> Field),
        ("email", "value", Field::Email),
        ("email", "address", Field::Email),
        ("emailaddress", "", Field::Email),
        ("email", "type", Field::EmailType),
        ("email", "label", Field::EmailType),
        ("phone", "", |n| Field::Phone(n, None)),
        ("phone", "value", |n| Field::Phone(n, None)),
        ("phone", "number", |n| Field::Phone(n, None)),
        ("phonenumber", "", |n| Field::Phone(n, None)),
        ("phone", "type", Field::PhoneType),
        ("phone", "label", Field::PhoneType),
    ]
    .into_iter()
    .find_map(|(prefix, suffix, make)| numbered(&key, prefix, suffix).map(make))
}

/// What the import does with each column of a file.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// The headers as the file has them (a BOM dropped).
    pub headers: Vec<String>,
    /// The field of each column (by index), `None` for an ignored one.
    pub fields: Vec<Option<Field>>,
    /// Columns ignored and why (not a contact field, a second column for one field).
    pub ignored: Vec<(String, String)>,
}

/// Why a file's header cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error(
        "the file has no email column, and every contact needs an address; its columns are: \
         {found}. Name the column `email` (more: `email_2`, …), or use the headers of a Google \
         Contacts (`E-mail 1 - Value`) or Outlook (`E-mail Address`) export"
    )]
    NoEmailColumn { found: String },
    #[error("the file is empty: it has no header line")]
    Empty,
}

impl ColumnMap {
    /// Maps a header line; refused when no column holds addresses.
    pub fn new(headers: Vec<String>) -> Result<ColumnMap, HeaderError> {
        if headers.iter().all(|h| h.trim().is_empty()) {
            return Err(HeaderError::Empty);
        }
        let mut fields: Vec<Option<Field>> = Vec::with_capacity(headers.len());
        let mut ignored = Vec::new();
        for (i, header) in headers.iter().enumerate() {
            let field = field_of(header);
            let earlier = field
                .filter(|f| f.is_single())
                .and_then(|f| fields.iter().position(|g| *g == Some(f)));
            match (field, earlier) {
                (Some(_), Some(j)) => {
                    ignored.push((
                        header.clone(),
                        format!("the same field as {:?}", headers[j]),
                    ));
                    fields.push(None);
                }
                (Some(f), None) => fields.push(Some(f)),
                (None, _) if header.trim().is_empty() => {
                    ignored.push((format!("column {}", i + 1), "no header".into()));
                    fields.push(None);
                }
                (None, _) => {
                    ignored.push((header.clone(), "not a contact field".into()));
                    fields.push(None);
                }
            }
        }
        if !fields.iter().any(|f| matches!(f, Some(Field::Email(_)))) {
            return Err(HeaderError::NoEmailColumn {
                found: headers
                    .iter()
                    .map(|h| format!("{h:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(ColumnMap {
            headers,
            fields,
            ignored,
        })
    }

    /// `"First Name" → first name, …`: what the summary shows.
    pub fn describe(&self) -> Vec<String> {
        self.headers
            .iter()
            .zip(&self.fields)
            .filter_map(|(h, f)| f.map(|f| format!("{h:?} → {}", f.describe())))
            .collect()
    }

    /// The columns of `want`, in the order a row's values are taken: by the field's number,
    /// then by position in the file.
    pub fn columns_of(&self, want: impl Fn(Field) -> Option<u32>) -> Vec<(usize, u32)> {
        let mut found: Vec<(usize, u32)> = self
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.and_then(&want).map(|n| (i, n)))
            .collect();
        found.sort_by_key(|&(i, n)| (n, i));
        found
    }

    /// The column of a single field.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.fields.iter().position(|f| *f == Some(field))
    }

    /// The header of column `i`, as the summary names it.
    pub fn header(&self, i: usize) -> &str {
        self.headers.get(i).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(headers: &[&str]) -> Result<ColumnMap, HeaderError> {
        ColumnMap::new(headers.iter().map(|h| h.to_string()).collect())
    }

    #[test]
    fn the_projects_own_columns() {
        assert_eq!(field_of("first_name"), Some(Field::FirstName));
        assert_eq!(field_of("last_name"), Some(Field::LastName));
        assert_eq!(field_of("email"), Some(Field::Email(1)));
        assert_eq!(field_of("email_2"), Some(Field::Email(2)));
        assert_eq!(field_of("email_12"), Some(Field::Email(12)));
        assert_eq!(field_of("emails"), Some(Field::Email(1)));
        assert_eq!(field_of("phone"), Some(Field::Phone(1, None)));
        assert_eq!(field_of("phone_3"), Some(Field::Phone(3, None)));
        assert_eq!(field_of("job_title"), Some(Field::JobTitle));
        assert_eq!(field_of("company"), Some(Field::Company));
        assert_eq!(field_of("company_domain"), Some(Field::CompanyDomain));
        assert_eq!(field_of("notes"), Some(Field::Notes));
    }

    #[test]
    fn google_contacts_exports_new_and_old() {
        // The current export.
        assert_eq!(field_of("First Name"), Some(Field::FirstName));
        assert_eq!(field_of("Last Name"), Some(Field::LastName));
        assert_eq!(field_of("E-mail 1 - Value"), Some(Field::Email(1)));
        assert_eq!(field_of("E-mail 2 - Value"), Some(Field::Email(2)));
        assert_eq!(field_of("E-mail 1 - Label"), Some(Field::EmailType(1)));
        assert_eq!(field_of("Phone 1 - Value"), Some(Field::Phone(1, None)));
        assert_eq!(field_of("Phone 2 - Label"), Some(Field::PhoneType(2)));
        assert_eq!(field_of("Organization Name"), Some(Field::Company));
        assert_eq!(field_of("Organization Title"), Some(Field::JobTitle));
        assert_eq!(field_of("Notes"), Some(Field::Notes));
        // The older one.
        assert_eq!(field_of("Given Name"), Some(Field::FirstName));
        assert_eq!(field_of("Family Name"), Some(Field::LastName));
        assert_eq!(field_of("Name"), Some(Field::FullName));
        assert_eq!(field_of("E-mail 1 - Type"), Some(Field::EmailType(1)));
        assert_eq!(field_of("Organization 1 - Name"), Some(Field::Company));
        assert_eq!(field_of("Organization 1 - Title"), Some(Field::JobTitle));
        // Fields the import does not keep.
        for ignored in [
            "Middle Name",
            "Birthday",
            "Labels",
            "Group Membership",
            "Address 1 - Street",
            "Organization 2 - Name",
        ] {
            assert_eq!(field_of(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn outlook_exports() {
        assert_eq!(field_of("E-mail Address"), Some(Field::Email(1)));
        assert_eq!(field_of("E-mail 2 Address"), Some(Field::Email(2)));
        assert_eq!(field_of("E-mail 3 Address"), Some(Field::Email(3)));
        assert_eq!(field_of("Company"), Some(Field::Company));
        assert_eq!(field_of("Job Title"), Some(Field::JobTitle));
        assert_eq!(
            field_of("Business Phone"),
            Some(Field::Phone(1, Some("work")))
        );
        assert_eq!(
            field_of("Business Phone 2"),
            Some(Field::Phone(2, Some("work")))
        );
        assert_eq!(
            field_of("Mobile Phone"),
            Some(Field::Phone(1, Some("mobile")))
        );
        assert_eq!(field_of("Home Phone"), Some(Field::Phone(1, Some("home"))));
        // Outlook's `Title` is "Mr."/"Dr.", not a job title.
        assert_eq!(field_of("Title"), None);
        assert_eq!(field_of("E-mail Display Name"), None);
    }

    #[test]
    fn headers_compare_without_case_spaces_or_punctuation() {
        for header in [
            "E-mail 1 - Value",
            "e_mail_1_value",
            "EMAIL1VALUE",
            "  Email 1 Value ",
        ] {
            assert_eq!(field_of(header), Some(Field::Email(1)), "{header}");
        }
        assert_eq!(field_of("FIRST NAME"), Some(Field::FirstName));
        assert_eq!(field_of("first-name"), Some(Field::FirstName));
        assert_eq!(field_of("email_0"), None, "numbers start at 1");
        assert_eq!(field_of("email_x"), None);
    }

    #[test]
    fn a_map_orders_addresses_and_reports_unknown_and_repeated_columns() {
        let m = map(&[
            "E-mail 2 - Value",
            "Name",
            "Birthday",
            "email",
            "First Name",
            "Given Name",
            "",
        ])
        .unwrap();
        let emails = m.columns_of(|f| match f {
            Field::Email(n) => Some(n),
            _ => None,
        });
        assert_eq!(
            emails,
            vec![(3, 1), (0, 2)],
            "email 1 first, whatever the column order"
        );
        assert_eq!(m.column_of(Field::FirstName), Some(4));
        assert_eq!(
            m.ignored,
            vec![
                ("Birthday".to_string(), "not a contact field".to_string()),
                (
                    "Given Name".to_string(),
                    "the same field as \"First Name\"".to_string()
                ),
                ("column 7".to_string(), "no header".to_string()),
            ]
        );
        assert!(m.describe().contains(&"\"email\" → email 1".to_string()));
    }

    #[test]
    fn several_phone_columns_of_one_number_are_kept_but_not_two_types() {
        let m = map(&[
            "email",
            "Mobile Phone",
            "Home Phone",
            "Phone 1 - Type",
            "Phone 1 - Label",
        ])
        .unwrap();
        assert_eq!(m.fields[1], Some(Field::Phone(1, Some("mobile"))));
        assert_eq!(m.fields[2], Some(Field::Phone(1, Some("home"))));
        assert_eq!(m.fields[3], Some(Field::PhoneType(1)));
        assert_eq!(m.fields[4], None);
    }

    #[test]
    fn a_file_without_an_email_column_is_refused() {
        let err = map(&["First Name", "Last Name", "Company"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("no email column"), "{message}");
        assert!(
            message.contains("\"First Name\", \"Last Name\", \"Company\""),
            "{message}"
        );
        assert_eq!(map(&[""]).unwrap_err(), HeaderError::Empty);
    }
}
