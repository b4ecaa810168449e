//! `files.list`'s `q`, after the "Search for files & folders" guide: terms
//! `'<id>' in parents`, `'me' in owners` (also `writers`, `readers`), `name` and `mimeType`
//! with `=`, `!=`, `contains`, `shortcutDetails.targetId` with `=`, `!=`, `trashed` and
//! `starred` with `=`, `!=` and `true`/`false`, `createdTime` and `modifiedTime` with
//! `=`, `!=`, `<`, `<=`, `>`, `>=` and an RFC 3339 string, `appProperties` and `properties`
//! with `has { key='k' and value='v' }`; combined with `and`, `or`, `not` and parentheses
//! (`not` binds tighter than `and`, `and` than `or`). Strings are quoted with `'` (or `"`),
//! `\'` and `\\` escape. `'root'` names the My Drive root. A term outside this subset, or
//! anything malformed, is 400 `invalid` "Invalid Value" with location `q`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// What a query looks at in a file.
pub(crate) struct Facts<'a> {
    pub(crate) name: &'a str,
    pub(crate) mime_type: &'a str,
    pub(crate) parent: Option<&'a str>,
    pub(crate) trashed: bool,
    pub(crate) starred: bool,
    pub(crate) app_properties: &'a BTreeMap<String, String>,
    pub(crate) properties: &'a BTreeMap<String, String>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    pub(crate) shortcut_target: Option<&'a str>,
}

/// Who asks: `'root'` and `'me'` are resolved against it.
pub(crate) struct Env<'a> {
    pub(crate) root: &'a str,
    pub(crate) email: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Query {
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
    Not(Box<Query>),
    InParents(String),
    /// `'x' in owners|writers|readers`: every file of the account is the user's own.
    InPeople(String),
    Text(TextField, TextOp, String),
    Flag(FlagField, bool, bool),
    Time(TimeField, Cmp, DateTime<Utc>),
    Has {
        private: bool,
        key: String,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TextField {
    Name,
    MimeType,
    ShortcutTarget,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TextOp {
    Eq,
    Ne,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FlagField {
    Trashed,
    Starred,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TimeField {
    Created,
    Modified,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Query {
    pub(crate) fn parse(text: &str) -> Option<Query> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let query = parser.or()?;
        (parser.at == parser.tokens.len()).then_some(query)
    }

    pub(crate) fn matches(&self, file: &Facts, env: &Env) -> bool {
        match self {
            Query::And(a, b) => a.matches(file, env) && b.matches(file, env),
            Query::Or(a, b) => a.matches(file, env) || b.matches(file, env),
            Query::Not(q) => !q.matches(file, env),
            Query::InParents(id) => {
                let id = if id == "root" { env.root } else { id };
                file.parent == Some(id)
            }
            Query::InPeople(who) => who == "me" || who.eq_ignore_ascii_case(env.email),
            Query::Text(field, op, value) => {
                let have = match field {
                    TextField::Name => file.name,
                    TextField::MimeType => file.mime_type,
                    TextField::ShortcutTarget => file.shortcut_target.unwrap_or(""),
                };
                match op {
                    TextOp::Eq => have == value,
                    TextOp::Ne => have != value,
                    TextOp::Contains if *field == TextField::Name => name_contains(have, value),
                    TextOp::Contains => have.to_lowercase().contains(&value.to_lowercase()),
                }
            }
            Query::Flag(field, equal, value) => {
                let have = match field {
                    FlagField::Trashed => file.trashed,
                    FlagField::Starred => file.starred,
                };
                (have == *value) == *equal
            }
            Query::Time(field, cmp, value) => {
                let have = match field {
                    TimeField::Created => file.created,
                    TimeField::Modified => file.modified,
                };
                match cmp {
                    Cmp::Eq => have == *value,
                    Cmp::Ne => have != *value,
                    Cmp::Lt => have < *value,
                    Cmp::Le => have <= *value,
                    Cmp::Gt => have > *value,
                    Cmp::Ge => have >= *value,
                }
            }
            Query::Has {
                private,
                key,
                value,
            } => {
                let map = if *private {
                    file.app_properties
                } else {
                    file.properties
                };
                map.get(key) == Some(value)
            }
        }
    }
}

/// "The contains operator only performs prefix matching for a name term": the name, or one
/// of its words, starts with the value (case-insensitive).
fn name_contains(name: &str, value: &str) -> bool {
    let name = name.to_lowercase();
    let value = value.to_lowercase();
    name.starts_with(&value)
        || name
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| word.starts_with(&value))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Word(String),
    Op(Cmp),
    Open,
    Close,
    OpenBrace,
    CloseBrace,
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::Open,
            ')' => Token::Close,
            '{' => Token::OpenBrace,
            '}' => Token::CloseBrace,
            '=' => Token::Op(Cmp::Eq),
            '!' if chars.next_if_eq(&'=').is_some() => Token::Op(Cmp::Ne),
            '<' if chars.next_if_eq(&'=').is_some() => Token::Op(Cmp::Le),
            '<' => Token::Op(Cmp::Lt),
            '>' if chars.next_if_eq(&'=').is_some() => Token::Op(Cmp::Ge),
            '>' => Token::Op(Cmp::Gt),
            '\'' | '"' => {
                let mut value = String::new();
                loop {
                    match chars.next()? {
                        '\\' => match chars.next()? {
                            escaped @ ('\\' | '\'' | '"') => value.push(escaped),
                            _ => return None,
                        },
                        end if end == c => break,
                        other => value.push(other),
                    }
                }
                Token::Str(value)
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::from(c);
                while let Some(next) =
                    chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_' || *n == '.')
                {
                    word.push(next);
                }
                Token::Word(word)
            }
            _ => return None,
        };
        tokens.push(token);
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn word(&mut self, word: &str) -> Option<()> {
        self.peek_word(word).then(|| self.at += 1)
    }

    fn token(&mut self, wanted: Token) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    fn string(&mut self) -> Option<String> {
        match self.next()? {
            Token::Str(s) => Some(s),
            _ => None,
        }
    }

    fn or(&mut self) -> Option<Query> {
        let mut left = self.and()?;
        while self.word("or").is_some() {
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Query> {
        let mut left = self.unary()?;
        while self.word("and").is_some() {
            left = Query::And(Box::new(left), Box::new(self.unary()?));
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Query> {
        if self.word("not").is_some() {
            return Some(Query::Not(Box::new(self.unary()?)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let inner = self.or()?;
            self.token(Token::Close)?;
            return Some(inner);
        }
        self.term()
    }

    fn term(&mut self) -> Option<Query> {
        match self.next()? {
            Token::Str(value) => {
                self.word("in")?;
                match self.next()? {
                    Token::Word(w) if w == "parents" => Some(Query::InParents(value)),
                    Token::Word(w) if matches!(w.as_str(), "owners" | "writers" | "readers") => {
                        Some(Query::InPeople(value))
                    }
                    _ => None,
                }
            }
            Token::Word(field) => self.field_term(&field),
            _ => None,
        }
    }

    fn field_term(&mut self, field: &str) -> Option<Query> {
        match field {
            "appProperties" | "properties" => {
                self.word("has")?;
                self.token(Token::OpenBrace)?;
                self.word("key")?;
                self.token(Token::Op(Cmp::Eq))?;
                let key = self.string()?;
                self.word("and")?;
                self.word("value")?;
                self.token(Token::Op(Cmp::Eq))?;
                let value = self.string()?;
                self.token(Token::CloseBrace)?;
                Some(Query::Has {
                    private: field == "appProperties",
                    key,
                    value,
                })
            }
            "name" | "mimeType" | "shortcutDetails.targetId" => {
                let text_field = match field {
                    "name" => TextField::Name,
                    "mimeType" => TextField::MimeType,
                    _ => TextField::ShortcutTarget,
                };
                let op = match self.next()? {
                    Token::Op(Cmp::Eq) => TextOp::Eq,
                    Token::Op(Cmp::Ne) => TextOp::Ne,
                    Token::Word(w)
                        if w == "contains" && text_field != TextField::ShortcutTarget =>
                    {
                        TextOp::Contains
                    }
                    _ => return None,
                };
                Some(Query::Text(text_field, op, self.string()?))
            }
            "trashed" | "starred" => {
                let flag = if field == "trashed" {
                    FlagField::Trashed
                } else {
                    FlagField::Starred
                };
                let equal = match self.next()? {
                    Token::Op(Cmp::Eq) => true,
                    Token::Op(Cmp::Ne) => false,
                    _ => return None,
                };
                let value = match self.next()? {
                    Token::Word(w) if w == "true" => true,
                    Token::Word(w) if w == "false" => false,
                    _ => return None,
                };
                Some(Query::Flag(flag, equal, value))
            }
            "createdTime" | "modifiedTime" => {
                let time_field = if field == "createdTime" {
                    TimeField::Created
                } else {
                    TimeField::Modified
                };
                let Token::Op(cmp) = self.next()? else {
                    return None;
                };
                let value = DateTime::parse_from_rfc3339(&self.string()?).ok()?;
                Some(Query::Time(time_field, cmp, value.with_timezone(&Utc)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(
        name: &'a str,
        parent: &'a str,
        trashed: bool,
        app: &'a BTreeMap<String, String>,
        none: &'a BTreeMap<String, String>,
    ) -> Facts<'a> {
        Facts {
            name,
            mime_type: "text/plain",
            parent: Some(parent),
            trashed,
            starred: false,
            app_properties: app,
            properties: none,
            created: DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            modified: DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            shortcut_target: None,
        }
    }

    #[test]
    fn queries_a_sync_client_sends() {
        let app = BTreeMap::from([("crmId".to_string(), "12".to_string())]);
        let none = BTreeMap::new();
        let env = Env {
            root: "ROOT",
            email: "ann@example.com",
        };
        let file = facts("Bob's \\ notes.txt", "F1", false, &app, &none);
        let yes = |q: &str| {
            Query::parse(q)
                .unwrap_or_else(|| panic!("{q}"))
                .matches(&file, &env)
        };
        assert!(yes("'F1' in parents and trashed = false"));
        assert!(!yes("'F2' in parents or trashed = true"));
        assert!(yes(r"name = 'Bob\'s \\ notes.txt'"));
        assert!(yes("name contains 'notes' and name contains 'bob'"));
        assert!(!yes("name contains 'otes'"));
        assert!(yes("mimeType != 'application/vnd.google-apps.folder'"));
        assert!(yes("appProperties has { key='crmId' and value='12' }"));
        assert!(!yes("appProperties has { key='crmId' and value='13' }"));
        assert!(!yes("properties has { key='crmId' and value='12' }"));
        assert!(yes(
            "not (trashed = true or 'F2' in parents) and 'me' in owners"
        ));
        assert!(yes(
            "modifiedTime > '2024-02-01T00:00:00Z' and createdTime <= '2024-01-01T00:00:00Z'"
        ));
        // `and` binds tighter than `or`.
        assert!(yes("trashed = true and 'F2' in parents or 'F1' in parents"));
        assert!(!yes(
            "trashed = true and ('F2' in parents or 'F1' in parents)"
        ));
        let in_root = facts("x", "ROOT", false, &app, &none);
        assert!(Query::parse("'root' in parents")
            .unwrap()
            .matches(&in_root, &env));
    }

    #[test]
    fn malformed_queries_are_refused() {
        for q in [
            "",
            "name = 'unterminated",
            "name = x",
            "name = 'a' and",
            "(trashed = false",
            "trashed = maybe",
            "title = 'a'",
            "'a' in children",
            "appProperties has { key='k' }",
            r"name = 'bad \n escape'",
            "name contains",
            "modifiedTime > 'yesterday'",
            "trashed contains true",
        ] {
            assert_eq!(Query::parse(q), None, "{q}");
        }
    }
}
