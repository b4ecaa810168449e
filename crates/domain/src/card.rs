//! The contact panel's pure parts: which matched contact a thread's panel shows, and what
//! of its card ([`ContactCard`], `GET /api/v1/contacts/{id}/card`) is shown — bounded lists,
//! shortened texts, a colleague's private email as "tracked privately", never its content.
//! The server bounds the card with the same limits; the extension's DOM adapter
//! (`src/ui/panel.rs`) only turns a [`CardView`] into elements.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::api::{AddressLookup, ContactCard, ContactSummary, Direction, MatchStatus};

/// Most tracked emails on a card.
pub const CARD_EMAILS: usize = 5;
/// Most open tasks on a card.
pub const CARD_TASKS: usize = 5;
/// Most document names on a card (the count is of all of them).
pub const CARD_DOCUMENTS: usize = 3;
/// Most phone numbers on a card.
pub const CARD_PHONES: usize = 3;
/// Longest subject, title or name shown, in characters (the whole text goes in a tooltip).
pub const SHOWN_CHARS: usize = 80;

/// The contacts matched on a thread, in page order (`verdicts` are those of the thread's
/// people, first message first, sender before recipients), each once. Only exact matches
/// (`known`): an ambiguous address or a loose suggestion is shown by the bar, never guessed
/// here; the user's own addresses, colleagues and never-logged people are not contacts.
pub fn candidates<'a>(
    verdicts: impl IntoIterator<Item = &'a AddressLookup>,
) -> Vec<ContactSummary> {
    let mut out: Vec<ContactSummary> = Vec::new();
    for v in verdicts {
        if v.status != MatchStatus::Known {
            continue;
        }
        for c in &v.contacts {
            if !out.iter().any(|o| o.id == c.id) {
                out.push(c.clone());
            }
        }
    }
    out
}

/// Which candidate the panel shows: the one it shows now while it is still a candidate (so
/// expanding an older message, or a lookup answering, never swaps the card under the user),
/// else the first (the first external person of the thread).
pub fn choose(candidates: &[ContactSummary], shown: Option<Uuid>) -> Option<Uuid> {
    match shown {
        Some(id) if candidates.iter().any(|c| c.id == id) => Some(id),
        _ => candidates.first().map(|c| c.id),
    }
}

/// `text` with its whitespace collapsed, cut to `max_chars` characters (the last one an
/// ellipsis when cut).
pub fn shorten(text: &str, max_chars: usize) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut out: String = collapsed
        .chars()
        .take(max_chars.saturating_sub(1))
        .collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// An `http(s)` address, or nothing: the only kind of link the panel opens.
pub fn safe_web_url(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let lower = url.to_ascii_lowercase();
    let ok = (lower.starts_with("https://") || lower.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| url.to_string())
}

/// What the panel shows of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardView {
    pub name: String,
    /// "Job title · Company", either, or nothing.
    pub subtitle: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<EmailLine>,
    pub more_emails: bool,
    pub tasks: Vec<TaskLine>,
    /// Open tasks beyond those shown.
    pub more_tasks: u32,
    pub document_count: u32,
    pub documents: Vec<String>,
    /// "Open in Threadline", when the web app has a page for the contact.
    pub web_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLine {
    /// The subject, shortened; `None` for a colleague's private email.
    pub subject: Option<String>,
    /// Who tracked it, for a private one.
    pub tracked_by: Option<String>,
    pub date: DateTime<Utc>,
    pub outgoing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    pub title: String,
    pub due_date: Option<NaiveDate>,
}

/// What to show of `card`.
pub fn view(card: &ContactCard) -> CardView {
    let contact = &card.contact;
    let job = card
        .job_title
        .as_deref()
        .map(str::trim)
        .filter(|j| !j.is_empty());
    let company = contact.company.as_ref().map(|c| c.name.trim());
    let subtitle = match (job, company.filter(|c| !c.is_empty())) {
        (Some(j), Some(c)) => Some(format!("{j} · {c}")),
        (Some(j), None) => Some(j.to_string()),
        (None, Some(c)) => Some(c.to_string()),
        (None, None) => None,
    }
    .map(|s| shorten(&s, SHOWN_CHARS));
    let phones = card
        .phones
        .iter()
        .take(CARD_PHONES)
        .map(|p| match p.label.as_deref().map(str::trim) {
            Some(label) if !label.is_empty() => format!("{} ({label})", p.number),
            _ => p.number.clone(),
        })
        .collect();
    let emails = card
        .emails
        .iter()
        .take(CARD_EMAILS)
        .map(|e| EmailLine {
            subject: (!e.redacted).then(|| shorten(&e.subject, SHOWN_CHARS)),
            tracked_by: e.redacted.then(|| shorten(&e.owner.name, SHOWN_CHARS)),
            date: e.date,
            outgoing: e.direction == Direction::Outgoing,
        })
        .collect();
    let tasks: Vec<TaskLine> = card
        .open_tasks
        .iter()
        .take(CARD_TASKS)
        .map(|t| TaskLine {
            title: shorten(&t.title, SHOWN_CHARS),
            due_date: t.due_date,
        })
        .collect();
    CardView {
        name: shorten(&contact.display_name(), SHOWN_CHARS),
        subtitle,
        phones,
        more_emails: card.more_emails || card.emails.len() > CARD_EMAILS,
        more_tasks: card.open_task_count.saturating_sub(tasks.len() as u32),
        emails,
        tasks,
        document_count: card.document_count,
        documents: card
            .documents
            .iter()
            .take(CARD_DOCUMENTS)
            .map(|d| shorten(&d.name, SHOWN_CHARS))
            .collect(),
        web_url: safe_web_url(card.web_url.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CardDocument, CardEmail, CardPhone, CardTask, CompanyRef, UserRef};

    fn contact(n: u128, first: &str) -> ContactSummary {
        ContactSummary {
            id: Uuid::from_u128(n),
            first_name: first.into(),
            last_name: String::new(),
            primary_email: format!("{first}@acme.example").to_lowercase(),
            company: None,
        }
    }

    fn verdict(status: MatchStatus, contacts: Vec<ContactSummary>) -> AddressLookup {
        AddressLookup {
            address: "x@example.com".into(),
            normalized: None,
            status,
            contacts,
            suggestions: Vec::new(),
            suggested_company: None,
            error: None,
            privacy: None,
        }
    }

    #[test]
    fn candidates_are_exact_matches_in_page_order_each_once() {
        let (ann, bob, cat) = (contact(1, "Ann"), contact(2, "Bob"), contact(3, "Cat"));
        let mut loose = verdict(MatchStatus::Unknown, Vec::new());
        loose.suggestions = vec![cat.clone()];
        let verdicts = [
            verdict(MatchStatus::Own, Vec::new()),
            verdict(MatchStatus::Colleague, Vec::new()),
            verdict(MatchStatus::Known, vec![bob.clone()]),
            verdict(MatchStatus::Ambiguous, vec![cat.clone(), ann.clone()]),
            loose,
            verdict(MatchStatus::Known, vec![ann.clone()]),
            verdict(MatchStatus::Known, vec![bob.clone()]),
        ];
        let ids: Vec<Uuid> = candidates(&verdicts).iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![bob.id, ann.id]);
        assert!(candidates(&[verdict(MatchStatus::NeverLog, Vec::new())]).is_empty());
    }

    #[test]
    fn the_shown_contact_stays_while_it_is_a_candidate_else_the_first() {
        let list = [contact(1, "Ann"), contact(2, "Bob")];
        assert_eq!(choose(&list, None), Some(list[0].id));
        assert_eq!(choose(&list, Some(list[1].id)), Some(list[1].id));
        assert_eq!(choose(&list, Some(Uuid::from_u128(9))), Some(list[0].id));
        assert_eq!(choose(&[], Some(list[0].id)), None);
    }

    #[test]
    fn shorten_collapses_whitespace_and_cuts_with_an_ellipsis() {
        assert_eq!(shorten("  a \n b\t c ", 10), "a b c");
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("abcd efgh", 6), "abcd…");
        // Characters, not bytes: never a cut inside a character.
        assert_eq!(shorten("ééééé", 3), "éé…");
        assert_eq!(shorten("👩‍👩‍👧 family", 4).chars().count(), 4);
    }

    #[test]
    fn only_http_links_are_opened() {
        assert_eq!(
            safe_web_url(Some(" https://crm.example/c/1 ")).as_deref(),
            Some("https://crm.example/c/1")
        );
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,x",
            "https://",
            "https://a b",
            "//crm.example",
        ] {
            assert_eq!(safe_web_url(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_web_url(None), None);
    }

    fn card() -> ContactCard {
        let owner = UserRef {
            id: Uuid::from_u128(7),
            name: "Zoe Colleague".into(),
            email: "zoe@ourco.example".into(),
        };
        let email = |n: u128, subject: &str, redacted: bool| CardEmail {
            id: Uuid::from_u128(100 + n),
            direction: if n.is_multiple_of(2) {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            date: DateTime::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
            subject: subject.into(),
            owner: owner.clone(),
            redacted,
        };
        let mut ann = contact(1, "Ann");
        ann.last_name = "Lee".into();
        ann.company = Some(CompanyRef {
            id: Uuid::from_u128(50),
            name: "Acme".into(),
        });
        ContactCard {
            contact: ann,
            job_title: Some(" Buyer ".into()),
            phones: (0..5)
                .map(|i| CardPhone {
                    number: format!("+3110000000{i}"),
                    label: (i == 0).then(|| "work".to_string()),
                })
                .collect(),
            emails: (1..=6)
                .map(|n| email(n, &format!("Quote {n}"), n == 2))
                .collect(),
            more_emails: false,
            open_tasks: vec![CardTask {
                id: Uuid::from_u128(200),
                title: "t".repeat(100),
                due_date: NaiveDate::from_ymd_opt(2026, 12, 24),
            }],
            open_task_count: 4,
            document_count: 9,
            documents: (0..4)
                .map(|i| CardDocument {
                    id: Uuid::from_u128(300 + i),
                    name: format!("doc{i}.pdf"),
                })
                .collect(),
            web_url: Some("https://crm.example/contacts/1".into()),
        }
    }

    #[test]
    fn the_view_bounds_every_list_and_hides_private_content() {
        let v = view(&card());
        assert_eq!(v.name, "Ann Lee");
        assert_eq!(v.subtitle.as_deref(), Some("Buyer · Acme"));
        assert_eq!(v.phones.len(), CARD_PHONES);
        assert_eq!(v.phones[0], "+31100000000 (work)");
        assert_eq!(v.emails.len(), CARD_EMAILS);
        assert!(v.more_emails, "six emails, five shown");
        let private = &v.emails[1];
        assert_eq!(private.subject, None);
        assert_eq!(private.tracked_by.as_deref(), Some("Zoe Colleague"));
        assert!(private.outgoing);
        assert_eq!(v.emails[0].subject.as_deref(), Some("Quote 1"));
        assert_eq!(v.emails[0].tracked_by, None);
        assert_eq!(v.tasks.len(), 1);
        assert_eq!(v.tasks[0].title.chars().count(), SHOWN_CHARS);
        assert_eq!(v.more_tasks, 3);
        assert_eq!(v.document_count, 9);
        assert_eq!(v.documents, vec!["doc0.pdf", "doc1.pdf", "doc2.pdf"]);
        assert_eq!(v.web_url.as_deref(), Some("https://crm.example/contacts/1"));
    }

    #[test]
    fn the_subtitle_is_what_there_is() {
        let mut c = card();
        c.job_title = None;
        assert_eq!(view(&c).subtitle.as_deref(), Some("Acme"));
        c.contact.company = None;
        assert_eq!(view(&c).subtitle, None);
        c.job_title = Some("CEO".into());
        assert_eq!(view(&c).subtitle.as_deref(), Some("CEO"));
        // A nameless contact is shown by address.
        c.contact.first_name.clear();
        c.contact.last_name.clear();
        assert_eq!(view(&c).name, "ann@acme.example");
    }
}
