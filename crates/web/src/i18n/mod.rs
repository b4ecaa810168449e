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
    // Settings and devices.
    pub settings_title: &'static str,
    pub profile: &'static str,
    pub language: &'static str,
    pub follow_browser: &'static str,
    pub save: &'static str,
    pub settings_saved: &'static str,
    pub current_password: &'static str,
    pub change_password: &'static str,
    pub password_change_ends_sessions: &'static str,
    pub password_changed: &'static str,
    pub wrong_current_password: &'static str,
    pub sessions_title: &'static str,
    pub browser: &'static str,
    pub unknown_browser: &'static str,
    pub this_session: &'static str,
    pub started: &'static str,
    pub last_active: &'static str,
    pub actions: &'static str,
    pub session_ended: &'static str,
    pub devices_title: &'static str,
    pub devices_empty: &'static str,
    pub device: &'static str,
    pub created: &'static str,
    pub last_used: &'static str,
    pub never_used: &'static str,
    pub revoke: &'static str,
    pub token_revoked: &'static str,
    pub tokens_title: &'static str,
    pub tokens_intro: &'static str,
    pub tokens_empty: &'static str,
    pub token_name: &'static str,
    pub create_token: &'static str,
    pub new_token_once: &'static str,
    pub users_title: &'static str,
    pub role: &'static str,
    pub role_owner: &'static str,
    pub role_member: &'static str,
    pub invitations_title: &'static str,
    pub invite: &'static str,
    pub invitations_empty: &'static str,
    pub invitation_link: &'static str,
    pub invitation_link_once: &'static str,
    pub invitation_revoked: &'static str,
    pub expires: &'static str,
    pub connect_title: &'static str,
    pub connect_explain: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    /// "Allow {device} to use Threadline as {who}?"
    pub connect_question: fn(&str, &str) -> String,
    /// "Too many attempts: try again in {minutes} minutes."
    pub throttled: fn(u64) -> String,
}

impl Words {
    pub fn throttled(&self, seconds: u64) -> String {
        (self.throttled)(seconds.div_ceil(60).max(1))
    }

    pub fn connect_question(&self, device: &str, who: &str) -> String {
        (self.connect_question)(device, who)
    }
}
