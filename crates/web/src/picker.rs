//! Choosing a record by typing: for any number of records, and without JavaScript. A form
//! has a text field; the server looks up what was typed ([`find`]): one match, or one
//! record whose name is exactly what was typed, is the choice; several come back as a
//! short list to choose from (each choice's value is `kind:id`, which [`find`] takes as it
//! is); none is said at the field. The search is the lists' own (`records::list` with
//! `q`: a name or an address), so the picker finds what the list pages find.

use threadline_crm::records::companies::Company;
use threadline_crm::records::contacts::Contact;
use threadline_crm::records::list::{self, ListParams, Sort};
use threadline_crm::records::Kind;
use threadline_crm::CrmResult;
use threadline_storage::db::Conn;
use uuid::Uuid;

use crate::pages::records::{name_of, RecordKind};

/// Most records offered when several match.
pub const MAX_CANDIDATES: usize = 8;

/// A record that matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub kind: Kind,
    pub id: Uuid,
    pub name: String,
}

impl Candidate {
    /// The value a choice posts back: `contact:<id>`.
    pub fn value(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }
}

/// What was typed, looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    One(Candidate),
    /// At most [`MAX_CANDIDATES`]; `more` when there are others (type more to narrow).
    Several {
        candidates: Vec<Candidate>,
        more: bool,
    },
    None,
}

/// `kind:id` of one of `kinds`, as a choice posts it.
pub fn parse_value(value: &str, kinds: &[Kind]) -> Option<(Kind, Uuid)> {
    let (kind, id) = value.split_once(':')?;
    let kind = Kind::parse(kind).filter(|k| kinds.contains(k))?;
    Some((kind, Uuid::parse_str(id).ok()?))
}

async fn matching<T: RecordKind>(
    conn: &mut Conn,
    org: Uuid,
    q: &str,
    into: &mut Vec<Candidate>,
) -> CrmResult<()> {
    let params = ListParams {
        limit: Some(MAX_CANDIDATES as u32 + 1),
        q: Some(q.to_string()),
        sort: Sort::Name,
        ..ListParams::default()
    };
    let page = list::list::<T>(conn, org, &params).await?;
    into.extend(page.items.into_iter().map(|r| Candidate {
        kind: T::KIND,
        id: r.id(),
        name: r.name(),
    }));
    Ok(())
}

/// Looks up `typed` among the live records of `kinds` (contacts and companies) of `org`.
pub async fn find(conn: &mut Conn, org: Uuid, typed: &str, kinds: &[Kind]) -> CrmResult<Found> {
    let typed = typed.trim();
    if let Some((kind, id)) = parse_value(typed, kinds) {
        return Ok(match name_of(conn, org, kind, id).await {
            Some(name) => Found::One(Candidate { kind, id, name }),
            None => Found::None,
        });
    }
    if typed.is_empty() {
        return Ok(Found::None);
    }
    let mut found = Vec::new();
    for kind in kinds {
        match kind {
            Kind::Contact => matching::<Contact>(conn, org, typed, &mut found).await?,
            Kind::Company => matching::<Company>(conn, org, typed, &mut found).await?,
            _ => {}
        }
    }
    Ok(choose(found, typed))
}

/// The choice among what matched `typed`: the only one, else the only one named exactly
/// so (ignoring case), else the list.
fn choose(mut found: Vec<Candidate>, typed: &str) -> Found {
    if found.len() == 1 {
        return Found::One(found.remove(0));
    }
    let exact: Vec<&Candidate> = found
        .iter()
        .filter(|c| c.name.trim().to_lowercase() == typed.to_lowercase())
        .collect();
    if let [one] = exact[..] {
        return Found::One(one.clone());
    }
    if found.is_empty() {
        return Found::None;
    }
    let more = found.len() > MAX_CANDIDATES;
    found.truncate(MAX_CANDIDATES);
    Found::Several {
        candidates: found,
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: Kind, name: &str) -> Candidate {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Candidate {
            kind,
            id: Uuid::from_u128(u128::from(n)),
            name: name.into(),
        }
    }

    #[test]
    fn one_match_is_the_choice() {
        let a = c(Kind::Company, "Acme");
        assert_eq!(choose(vec![a.clone()], "acm"), Found::One(a));
    }

    #[test]
    fn an_exact_name_wins_among_several() {
        let exact = c(Kind::Contact, "Ann Lee");
        let found = vec![
            c(Kind::Contact, "Ann Leeds"),
            exact.clone(),
            c(Kind::Company, "Ann Lee Ltd"),
        ];
        assert_eq!(choose(found, "ann lee"), Found::One(exact));
    }

    #[test]
    fn two_exact_names_are_still_a_choice() {
        let found = vec![c(Kind::Contact, "Ann Lee"), c(Kind::Company, "Ann Lee")];
        assert!(matches!(
            choose(found, "Ann Lee"),
            Found::Several { more: false, .. }
        ));
    }

    #[test]
    fn many_matches_are_cut_and_say_so() {
        let found: Vec<Candidate> = (0..=MAX_CANDIDATES)
            .map(|i| c(Kind::Contact, &format!("Ann {i}")))
            .collect();
        match choose(found, "ann") {
            Found::Several { candidates, more } => {
                assert_eq!(candidates.len(), MAX_CANDIDATES);
                assert!(more);
            }
            other => panic!("expected several, got {other:?}"),
        }
        assert_eq!(choose(Vec::new(), "x"), Found::None);
    }

    #[test]
    fn a_posted_choice_is_parsed_only_for_the_kinds_asked() {
        let id = Uuid::from_u128(7);
        let kinds = [Kind::Contact, Kind::Company];
        assert_eq!(
            parse_value(&format!("contact:{id}"), &kinds),
            Some((Kind::Contact, id))
        );
        assert_eq!(parse_value(&format!("project:{id}"), &kinds), None);
        assert_eq!(parse_value("contact:not-an-id", &kinds), None);
        assert_eq!(parse_value("Acme: the company", &kinds), None);
    }
}
