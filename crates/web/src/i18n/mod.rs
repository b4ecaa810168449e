//! The web app's words in English, Dutch and German: a typed catalogue.
//!
//! Every page reads its words from one [`Words`] value (`{{ w.sign_in }}` in a template), so
//! a word missing in one language, or a template naming a word that does not exist, does not
//! compile. Words with a number or a name are methods, each language with its own grammar.
//! Where the extension says the same thing (`extension/_locales/*/messages.json`), the words
//! are the same.

mod de;
mod en;
mod nl;

use axum::http::HeaderMap;

/// A language of the web app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Nl,
    De,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Nl, Lang::De];

    /// The BCP 47 tag (`<html lang>`, the settings).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
            Lang::De => "de",
        }
    }

    /// The language's own name, for the switch in the settings.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Nl => "Nederlands",
            Lang::De => "Deutsch",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.tag() == tag)
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &en::WORDS,
            Lang::Nl => &nl::WORDS,
            Lang::De => &de::WORDS,
        }
    }

    /// The user's choice if any, else the first of the browser's languages (by q-value,
    /// `Accept-Language`) that the app speaks, else English.
    pub fn choose(chosen: Option<&str>, headers: &HeaderMap) -> Lang {
        if let Some(lang) = chosen.and_then(Lang::from_tag) {
            return lang;
        }
        let header = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        accept_language::parse(header)
            .iter()
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
                Lang::from_tag(&primary)
            })
            .unwrap_or(Lang::En)
    }
}

/// The web app's words in one language. See the module doc.
pub struct Words {
    pub lang: Lang,
    pub app_name: &'static str,
    pub skip_to_content: &'static str,
    pub main_navigation: &'static str,
    // Navigation.
    pub nav_home: &'static str,
    pub nav_companies: &'static str,
    pub nav_contacts: &'static str,
    pub nav_projects: &'static str,
    pub nav_meetings: &'static str,
    pub nav_products: &'static str,
    pub nav_tasks: &'static str,
    pub nav_planning: &'static str,
    pub nav_integrations: &'static str,
    pub nav_settings: &'static str,
    pub signed_in_as: &'static str,
    // Signing in.
    pub sign_in: &'static str,
    pub sign_in_title: &'static str,
    pub sign_out: &'static str,
    pub sign_out_everywhere: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub new_password: &'static str,
    pub your_name: &'static str,
    pub wrong_credentials: &'static str,
    pub signed_out: &'static str,
    pub password_rules: &'static str,
    // The first start and invitations.
    pub setup_title: &'static str,
    pub setup_intro: &'static str,
    pub setup_submit: &'static str,
    pub link_invalid_title: &'static str,
    pub link_invalid: &'static str,
    pub invitation_title: &'static str,
    pub invitation_submit: &'static str,
    // Home.
    pub home_title: &'static str,
    pub my_open_tasks: &'static str,
    pub no_open_tasks: &'static str,
    pub recently_tracked: &'static str,
    pub nothing_tracked: &'static str,
    pub connections_attention: &'static str,
    pub connections_all_well: &'static str,
    pub due: &'static str,
    pub no_due_date: &'static str,
    pub overdue: &'static str,
    // Errors.
    pub error_title: &'static str,
    pub not_found: &'static str,
    pub forbidden: &'static str,
    pub refused_cross_site: &'static str,
    pub internal_error: &'static str,
    pub back_home: &'static str,
    // Records (companies, contacts, projects, meetings, products).
    pub company: &'static str,
    pub contact: &'static str,
    pub project: &'static str,
    pub meeting: &'static str,
    pub product: &'static str,
    pub new_company: &'static str,
    pub new_contact: &'static str,
    pub new_project: &'static str,
    pub new_meeting: &'static str,
    pub new_product: &'static str,
    pub no_companies: &'static str,
    pub no_contacts: &'static str,
    pub no_projects: &'static str,
    pub no_meetings: &'static str,
    pub no_products: &'static str,
    pub no_matches: &'static str,
    pub search: &'static str,
    pub sort_by: &'static str,
    pub sort_name: &'static str,
    pub sort_newest: &'static str,
    pub sort_created: &'static str,
    pub apply: &'static str,
    pub pages: &'static str,
    pub next_page: &'static str,
    pub previous_page: &'static str,
    pub field_name: &'static str,
    pub field_title: &'static str,
    pub field_domains: &'static str,
    pub field_website: &'static str,
    pub field_phone: &'static str,
    pub field_vat_number: &'static str,
    pub field_address: &'static str,
    pub field_first_name: &'static str,
    pub field_last_name: &'static str,
    pub field_emails: &'static str,
    pub field_job_title: &'static str,
    pub field_notes: &'static str,
    pub field_description: &'static str,
    pub field_start_at: &'static str,
    pub field_end_at: &'static str,
    pub field_time_zone: &'static str,
    pub field_location: &'static str,
    pub field_code: &'static str,
    pub field_attendees: &'static str,
    pub one_per_line: &'static str,
    pub time_hint: &'static str,
    pub time_zone_hint: &'static str,
    pub details: &'static str,
    pub linked_records: &'static str,
    pub nothing_linked: &'static str,
    pub timeline: &'static str,
    pub no_timeline: &'static str,
    pub no_subject: &'static str,
    pub incoming: &'static str,
    pub outgoing: &'static str,
    pub older_emails: &'static str,
    pub record_tasks: &'static str,
    pub no_record_tasks: &'static str,
    pub task_done: &'static str,
    pub edit: &'static str,
    pub save: &'static str,
    pub create: &'static str,
    pub delete: &'static str,
    pub confirm_delete: &'static str,
    pub saved: &'static str,
    pub created: &'static str,
    pub deleted: &'static str,
    pub form_problem: &'static str,
    pub stale_title: &'static str,
    pub stale_explain: &'static str,
    pub field: &'static str,
    pub their_value: &'static str,
    pub your_value: &'static str,
    pub keep_theirs: &'static str,
    pub save_mine: &'static str,
    pub empty_value: &'static str,
    /// "Tracked privately by {name}".
    pub tracked_privately_by: fn(&str) -> String,
    /// "Too many attempts: try again in {minutes} minutes."
    pub throttled: fn(u64) -> String,
}

impl Words {
    pub fn throttled(&self, seconds: u64) -> String {
        (self.throttled)(seconds.div_ceil(60).max(1))
    }
}
