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
    // Emails (a tracked email's page).
    pub email_title: &'static str,
    pub no_subject: &'static str,
    pub email_from: &'static str,
    pub email_to: &'static str,
    pub email_cc: &'static str,
    pub email_date: &'static str,
    pub email_tracked_by: &'static str,
    pub email_details: &'static str,
    pub email_records: &'static str,
    pub email_no_records: &'static str,
    pub email_company: &'static str,
    pub email_contact: &'static str,
    pub email_attachments: &'static str,
    pub email_attachment_not_stored: &'static str,
    pub email_inline: &'static str,
    pub email_message: &'static str,
    pub email_frame_title: &'static str,
    pub email_images_blocked: &'static str,
    pub email_show_images: &'static str,
    pub email_hide_images: &'static str,
    pub email_no_body: &'static str,
    pub email_private_note: &'static str,
    pub email_tasks: &'static str,
    /// "Tracked privately by {name}"
    pub tracked_privately_by: fn(&str) -> String,
    // Tasks.
    pub tasks_title: &'static str,
    pub task_title_label: &'static str,
    pub task_due_label: &'static str,
    pub task_assignee: &'static str,
    pub task_linked: &'static str,
    pub task_source: &'static str,
    pub task_open_email: &'static str,
    pub task_description: &'static str,
    pub task_done: &'static str,
    pub task_mark_done: &'static str,
    pub task_reopen: &'static str,
    pub task_state: &'static str,
    pub task_open: &'static str,
    pub tasks_mine: &'static str,
    pub tasks_everyone: &'static str,
    pub tasks_filter_open: &'static str,
    pub tasks_filter_done: &'static str,
    pub tasks_filter_overdue: &'static str,
    pub tasks_whose: &'static str,
    pub tasks_which: &'static str,
    pub tasks_none: &'static str,
    pub tasks_list: &'static str,
    pub task_add: &'static str,
    pub task_add_submit: &'static str,
    pub task_edit: &'static str,
    pub task_save: &'static str,
    pub task_saved: &'static str,
    pub task_stale: &'static str,
    pub task_back: &'static str,
    pub task_none_linked: &'static str,
    pub task_optional: &'static str,
    // Home (connections).
    pub connections_open: &'static str,
    pub connection_needs_reauth: &'static str,
    pub connection_degraded: &'static str,
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
    // Integrations.
    pub integrations_title: &'static str,
    pub integrations_intro: &'static str,
    pub no_integrations: &'static str,
    pub connect: &'static str,
    pub reconnect: &'static str,
    pub disconnect: &'static str,
    pub sync_now: &'static str,
    pub refresh: &'static str,
    pub connected_as: &'static str,
    pub state_not_connected: &'static str,
    pub state_ok: &'static str,
    pub state_syncing: &'static str,
    pub state_needs_reauth: &'static str,
    pub state_degraded: &'static str,
    pub state_disconnected: &'static str,
    pub state_review: &'static str,
    pub state_off: &'static str,
    pub off_hint: &'static str,
    pub review_intro: &'static str,
    pub review_check_again: &'static str,
    pub review_apply_anyway: &'static str,
    pub next_run: &'static str,
    pub last_run: &'static str,
    pub run_history: &'static str,
    pub no_runs: &'static str,
    pub run_started: &'static str,
    pub run_status: &'static str,
    pub run_counts: &'static str,
    pub run_queued: &'static str,
    pub run_running: &'static str,
    pub run_ok: &'static str,
    pub run_failed: &'static str,
    pub run_refused: &'static str,
    pub run_interrupted: &'static str,
    pub sync_started: &'static str,
    pub disconnected_notice: &'static str,
    pub review_done: &'static str,
    pub nothing_to_sync: &'static str,
    pub disconnect_keeps: &'static str,
    pub counts_created: &'static str,
    pub counts_updated: &'static str,
    pub counts_deleted: &'static str,
    pub counts_errors: &'static str,
    pub counts_unchanged: &'static str,
    pub not_configured: &'static str,
    pub turn_on: &'static str,
    pub turn_off: &'static str,
    pub turned_off_notice: &'static str,
    pub continue_title: &'static str,
    pub continue_intro: &'static str,
    pub continue_to: &'static str,
    // Planning.
    pub planning_title: &'static str,
    pub planning_intro: &'static str,
    pub this_week: &'static str,
    pub busy: &'static str,
    pub all_day: &'static str,
    pub meeting: &'static str,
    pub nothing_planned: &'static str,
    pub make_meeting: &'static str,
    pub converted_notice: &'static str,
    pub repeating_busy: &'static str,
    pub repeating_hint: &'static str,
    pub time_zone: &'static str,
    pub time_zone_hint: &'static str,
    pub time_zone_refused: &'static str,
    pub calendar_not_connected: &'static str,
    pub week_of: &'static str,
    pub previous_period: &'static str,
    pub next_period: &'static str,
    pub view_day: &'static str,
    pub view_week: &'static str,
    pub view_month: &'static str,
    pub views_label: &'static str,
    pub weekdays: [&'static str; 7],
    pub months: [&'static str; 12],
    // Records (companies, contacts, projects, meetings, products).
    pub company: &'static str,
    pub contact: &'static str,
    pub project: &'static str,
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
    pub meeting_time_zone_hint: &'static str,
    pub details: &'static str,
    pub linked_records: &'static str,
    pub nothing_linked: &'static str,
    pub timeline: &'static str,
    pub no_timeline: &'static str,
    pub incoming: &'static str,
    pub outgoing: &'static str,
    pub older_emails: &'static str,
    pub record_tasks: &'static str,
    pub no_record_tasks: &'static str,
    pub edit: &'static str,
    pub create: &'static str,
    pub delete: &'static str,
    pub confirm_delete: &'static str,
    pub saved: &'static str,
    pub record_created: &'static str,
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
    /// "Too many attempts: try again in {minutes} minutes."
    pub throttled: fn(u64) -> String,
    // Importing contacts.
    pub import_title: &'static str,
    pub import_intro: &'static str,
    pub import_file: &'static str,
    pub import_limit: &'static str,
    pub import_separator: &'static str,
    pub separator_comma: &'static str,
    pub separator_semicolon: &'static str,
    pub separator_tab: &'static str,
    pub import_check: &'static str,
    pub import_recent: &'static str,
    pub import_none: &'static str,
    pub import_columns_used: &'static str,
    pub import_columns_ignored: &'static str,
    pub import_checked: &'static str,
    pub import_running: &'static str,
    pub import_done: &'static str,
    pub import_failed: &'static str,
    pub import_interrupted: &'static str,
    pub import_progress: &'static str,
    pub import_refresh: &'static str,
    pub import_rejects: &'static str,
    pub import_reasons: &'static str,
    pub import_rows: &'static str,
    pub import_another: &'static str,
    /// "{n} contacts would be created" (the check) / "{n} contacts created".
    pub import_created: fn(u64, bool) -> String,
    /// "{n} companies would be created" / "{n} companies created".
    pub import_companies: fn(u64, bool) -> String,
    /// "{n} rows skipped: already in the CRM or repeated in the file".
    pub import_skipped: fn(u64) -> String,
    /// "{n} rows rejected".
    pub import_rejected: fn(u64) -> String,
    /// The start button: "Import {n} contacts".
    pub import_start: fn(u64) -> String,
    // Documents (a record's documents panel).
    pub docs_title: &'static str,
    pub docs_record_parts: &'static str,
    pub docs_top: &'static str,
    pub docs_folders: &'static str,
    pub docs_empty: &'static str,
    pub docs_folder_empty: &'static str,
    pub docs_name: &'static str,
    pub docs_size: &'static str,
    pub docs_type: &'static str,
    pub docs_modified: &'static str,
    pub docs_by: &'static str,
    pub docs_actions: &'static str,
    pub docs_folder: &'static str,
    pub docs_change: &'static str,
    pub docs_upload: &'static str,
    pub docs_upload_files: &'static str,
    pub docs_limit: &'static str,
    pub docs_too_large: &'static str,
    pub docs_too_large_server: &'static str,
    pub docs_uploading: &'static str,
    pub docs_upload_failed: &'static str,
    pub docs_choose_files: &'static str,
    pub docs_upload_done: &'static str,
    pub docs_new_folder: &'static str,
    pub docs_folder_name: &'static str,
    pub docs_create_folder: &'static str,
    pub docs_rename: &'static str,
    pub docs_new_name: &'static str,
    pub docs_move: &'static str,
    pub docs_move_to: &'static str,
    pub docs_delete: &'static str,
    pub docs_trash: &'static str,
    pub docs_trash_empty: &'static str,
    pub docs_deleted_at: &'static str,
    pub docs_restore: &'static str,
    pub docs_back: &'static str,
    pub docs_done_folder: &'static str,
    pub docs_done_renamed: &'static str,
    pub docs_done_moved: &'static str,
    pub docs_done_trashed: &'static str,
    pub docs_done_restored: &'static str,
    pub docs_name_taken: &'static str,
    pub docs_stale: &'static str,
    pub docs_parent_in_trash: &'static str,
    pub docs_sync_title: &'static str,
    pub docs_sync_col: &'static str,
    pub docs_sync_now: &'static str,
    pub docs_sync_none: &'static str,
    pub docs_sync_open_integrations: &'static str,
    pub docs_sync_waiting: &'static str,
    pub docs_sync_module: &'static str,
    pub docs_state_synced: &'static str,
    pub docs_state_waiting: &'static str,
    pub docs_state_gone: &'static str,
    pub docs_done_sync_on: &'static str,
    pub docs_done_sync_off: &'static str,
    pub docs_done_sync_now: &'static str,
    pub docs_done_sync_busy: &'static str,
    /// "Sync with {provider}".
    pub docs_sync_with: fn(&str) -> String,
    /// "Stop syncing with {provider}".
    pub docs_sync_stop: fn(&str) -> String,
    /// "Synced with {provider} ({account})" / "Not synced with …".
    pub docs_sync_state: fn(&str, &str, bool) -> String,
    /// "Documents of {record}".
    pub docs_heading: fn(&str) -> String,
    /// "{n} files uploaded".
    pub docs_uploaded: fn(usize) -> String,
    /// "{file} was not uploaded: {reason}".
    pub docs_not_uploaded: fn(&str, &str) -> String,
}

impl Words {
    /// "Tracked privately by {name}".
    pub fn tracked_privately_by(&self, name: &str) -> String {
        (self.tracked_privately_by)(name)
    }

    pub fn throttled(&self, seconds: u64) -> String {
        (self.throttled)(seconds.div_ceil(60).max(1))
    }

    pub fn connect_question(&self, device: &str, who: &str) -> String {
        (self.connect_question)(device, who)
    }
}
