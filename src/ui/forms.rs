//! The bar's two small forms: add a contact, convert an email to a task. Building them and
//! reading them back into API requests; validation errors name the field.

use chrono::NaiveDate;
use threadline_domain::address::EmailAddress;
use threadline_domain::api::{AddressLookup, CompanyChoice, NewContact, NewTask};
use web_sys::Element;

use super::dom::{button, field, h, input_value};
use crate::bridge::{t, t_with};
use crate::gmail::Person;

/// Splits a display name into (first, last): "Lee, Ann" → (Ann, Lee); "Ann Marie Lee" →
/// (Ann Marie, Lee); one word → (word, "").
pub fn split_name(name: &str) -> (String, String) {
    let name = name.trim().trim_matches('"').trim();
    if let Some((last, first)) = name.split_once(',') {
        return (first.trim().to_string(), last.trim().to_string());
    }
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (first.trim().to_string(), last.trim().to_string()),
        None => (name.to_string(), String::new()),
    }
}

pub fn contact_form(person: &Person, verdict: Option<&AddressLookup>) -> Element {
    let (first, last) = person.name.as_deref().map(split_name).unwrap_or_default();
    let company = verdict
        .and_then(|v| v.suggested_company.as_ref())
        .map(|s| s.name.clone())
        .unwrap_or_default();
    h("form")
        .attr("data-tl", "contact-form")
        .attr("novalidate", "")
        .child(field(&t("formFirstName"), "first_name", &first, "text"))
        .child(field(&t("formLastName"), "last_name", &last, "text"))
        .child(field(&t("formEmail"), "email", &person.address, "email"))
        .child(field(&t("formCompany"), "company", &company, "text"))
        .child(button("submit-contact", &t("formSave")).attr("type", "submit"))
        .child(button("cancel", &t("formCancel")))
        .build()
}

/// Reads the contact form. The company is the suggested existing one when the user kept
/// its name, a new one otherwise (the server reuses a company with the same domain).
pub fn read_contact_form(
    form: &Element,
    verdict: Option<&AddressLookup>,
) -> Result<NewContact, String> {
    let email = input_value(form, "[data-tl-field=email]");
    let address =
        EmailAddress::parse(&email).map_err(|e| format!("{} {}", t("errorInvalidAddress"), e))?;
    let company_name = input_value(form, "[data-tl-field=company]")
        .trim()
        .to_string();
    let suggestion = verdict.and_then(|v| v.suggested_company.as_ref());
    let company = if company_name.is_empty() {
        None
    } else {
        match suggestion {
            Some(s) if s.name == company_name => match &s.existing {
                Some(existing) => Some(CompanyChoice::Existing { id: existing.id }),
                None => Some(CompanyChoice::New {
                    name: company_name,
                    domain: Some(s.domain.clone()),
                }),
            },
            _ => Some(CompanyChoice::New {
                name: company_name,
                domain: None,
            }),
        }
    };
    Ok(NewContact {
        first_name: input_value(form, "[data-tl-field=first_name]")
            .trim()
            .to_string(),
        last_name: input_value(form, "[data-tl-field=last_name]")
            .trim()
            .to_string(),
        emails: vec![address.to_string()],
        company,
    })
}

pub fn task_form(title: &str) -> Element {
    h("form")
        .attr("data-tl", "task-form")
        .attr("novalidate", "")
        .child(field(&t("formTaskTitle"), "title", title, "text"))
        .child(field(&t("formDueDate"), "due_date", "", "date"))
        .child(button("submit-task", &t("formSave")).attr("type", "submit"))
        .child(button("cancel", &t("formCancel")))
        .build()
}

pub fn read_task_form(form: &Element) -> Result<(String, Option<NaiveDate>), String> {
    let title = input_value(form, "[data-tl-field=title]")
        .trim()
        .to_string();
    if title.is_empty() {
        return Err(t_with("errorFieldRequired", &[&t("formTaskTitle")]));
    }
    let due = input_value(form, "[data-tl-field=due_date]");
    let due = if due.trim().is_empty() {
        None
    } else {
        Some(
            // `YYYY-MM-DD`, what a date input gives (FromStr: no strftime parser in the
            // bundle).
            due.trim()
                .parse::<NaiveDate>()
                .map_err(|_| t_with("errorInvalidDate", &[due.trim()]))?,
        )
    };
    Ok((title, due))
}

pub fn new_task(
    title: String,
    due_date: Option<NaiveDate>,
    source_message_id: Option<String>,
    gmail_thread_id: Option<String>,
    contact_id: Option<uuid::Uuid>,
) -> NewTask {
    NewTask {
        title,
        description: None,
        due_date,
        source_message_id,
        gmail_thread_id,
        contact_id,
    }
}

#[cfg(test)]
mod tests {
    use super::split_name;

    #[test]
    fn names_split_into_first_and_last() {
        for (input, first, last) in [
            ("Ann Lee", "Ann", "Lee"),
            ("Lee, Ann", "Ann", "Lee"),
            ("Ann Marie Lee", "Ann Marie", "Lee"),
            ("\"Ann Lee\"", "Ann", "Lee"),
            ("Cher", "Cher", ""),
            ("  ", "", ""),
        ] {
            assert_eq!(
                split_name(input),
                (first.to_string(), last.to_string()),
                "{input}"
            );
        }
    }
}
