//! The `fields` parameter (Google's partial-response selector, "Return specific fields"
//! guide): `nextPageToken,files(id,name,parents)`, `files/id`, `*`, spaces allowed around
//! names. Every name is checked against the resource's schema (the Drive v3 discovery
//! document's `File`, `FileList`, `Change`, `ChangeList`, `StartPageToken`, `About`, `User`):
//! an unknown one is 400 `invalidParameter` "Invalid field selection <name>" (location
//! `fields`), as Drive answers it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::errors;
use crate::google::GoogleError;

/// What to keep of an object: everything, or these members (each with what to keep of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    All,
    Some(BTreeMap<String, Selection>),
}

/// The resources whose member names a selection is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Schema {
    File,
    FileList,
    Change,
    ChangeList,
    StartPageToken,
    GeneratedIds,
    About,
    User,
    StorageQuota,
    ShortcutDetails,
    /// A map (`appProperties`, `properties`) or an object the fake does not model: any
    /// member name.
    Open,
    /// A string, number or boolean: no member.
    Leaf,
}

/// Every property of the discovery document's `File` (revision 20250723), output-only ones
/// included: a client may ask for any of them, the fake renders those it models.
const FILE_FIELDS: &[&str] = &[
    "appProperties",
    "capabilities",
    "contentHints",
    "contentRestrictions",
    "copyRequiresWriterPermission",
    "createdTime",
    "description",
    "downloadRestrictions",
    "driveId",
    "explicitlyTrashed",
    "exportLinks",
    "fileExtension",
    "folderColorRgb",
    "fullFileExtension",
    "hasAugmentedPermissions",
    "hasThumbnail",
    "headRevisionId",
    "iconLink",
    "id",
    "imageMediaMetadata",
    "inheritedPermissionsDisabled",
    "isAppAuthorized",
    "kind",
    "labelInfo",
    "lastModifyingUser",
    "linkShareMetadata",
    "md5Checksum",
    "mimeType",
    "modifiedByMe",
    "modifiedByMeTime",
    "modifiedTime",
    "name",
    "originalFilename",
    "ownedByMe",
    "owners",
    "parents",
    "permissionIds",
    "permissions",
    "properties",
    "quotaBytesUsed",
    "resourceKey",
    "sha1Checksum",
    "sha256Checksum",
    "shared",
    "sharedWithMeTime",
    "sharingUser",
    "shortcutDetails",
    "size",
    "spaces",
    "starred",
    "teamDriveId",
    "thumbnailLink",
    "thumbnailVersion",
    "trashed",
    "trashedTime",
    "trashingUser",
    "version",
    "videoMediaMetadata",
    "viewedByMe",
    "viewedByMeTime",
    "viewersCanCopyContent",
    "webContentLink",
    "webViewLink",
    "writersCanShare",
];

/// Members of File that are objects the fake does not model (any sub-selection passes).
const FILE_OBJECTS: &[&str] = &[
    "capabilities",
    "contentHints",
    "contentRestrictions",
    "downloadRestrictions",
    "exportLinks",
    "imageMediaMetadata",
    "labelInfo",
    "linkShareMetadata",
    "permissions",
    "videoMediaMetadata",
];

impl Schema {
    /// The schema of member `name`, or `None` when there is no such member.
    fn member(self, name: &str) -> Option<Schema> {
        use Schema::*;
        match (self, name) {
            (Open, _) => Some(Open),
            (Leaf, _) => None,
            (File, "appProperties" | "properties") => Some(Open),
            (File, "shortcutDetails") => Some(ShortcutDetails),
            (File, "owners" | "lastModifyingUser" | "sharingUser" | "trashingUser") => Some(User),
            (File, n) if FILE_OBJECTS.contains(&n) => Some(Open),
            (File, n) if FILE_FIELDS.contains(&n) => Some(Leaf),
            (FileList, "files") => Some(File),
            (FileList, "kind" | "nextPageToken" | "incompleteSearch") => Some(Leaf),
            (ChangeList, "changes") => Some(Change),
            (ChangeList, "kind" | "nextPageToken" | "newStartPageToken") => Some(Leaf),
            (Change, "file") => Some(File),
            (Change, "drive" | "teamDrive") => Some(Open),
            (
                Change,
                "changeType" | "driveId" | "fileId" | "kind" | "removed" | "teamDriveId" | "time"
                | "type",
            ) => Some(Leaf),
            (StartPageToken, "kind" | "startPageToken") => Some(Leaf),
            (GeneratedIds, "kind" | "space" | "ids") => Some(Leaf),
            (About, "user") => Some(User),
            (About, "storageQuota") => Some(StorageQuota),
            (
                About,
                "driveThemes" | "teamDriveThemes" | "exportFormats" | "importFormats"
                | "maxImportSizes",
            ) => Some(Open),
            (
                About,
                "appInstalled"
                | "canCreateDrives"
                | "canCreateTeamDrives"
                | "folderColorPalette"
                | "kind"
                | "maxUploadSize",
            ) => Some(Leaf),
            (
                User,
                "displayName" | "emailAddress" | "kind" | "me" | "permissionId" | "photoLink",
            ) => Some(Leaf),
            (StorageQuota, "limit" | "usage" | "usageInDrive" | "usageInDriveTrash") => Some(Leaf),
            (ShortcutDetails, "targetId" | "targetMimeType" | "targetResourceKey") => Some(Leaf),
            _ => None,
        }
    }
}

impl Selection {
    /// Drive's default for a method's response when `fields` is absent: a file's `kind`,
    /// `id`, `name` and `mimeType` ("Return specific fields" guide), inside the list or
    /// change envelope, whose own members all come back.
    pub(crate) fn default_for(schema: Schema) -> Selection {
        let file = Selection::names(&["kind", "id", "name", "mimeType"]);
        match schema {
            Schema::File => file,
            Schema::FileList => {
                Selection::names(&["kind", "nextPageToken", "incompleteSearch"]).with("files", file)
            }
            Schema::ChangeList => {
                let change = Selection::names(&["kind", "changeType", "time", "removed", "fileId"])
                    .with("file", file);
                Selection::names(&["kind", "nextPageToken", "newStartPageToken"])
                    .with("changes", change)
            }
            _ => Selection::All,
        }
    }

    fn names(names: &[&str]) -> Selection {
        Selection::Some(
            names
                .iter()
                .map(|n| (n.to_string(), Selection::All))
                .collect(),
        )
    }

    fn with(mut self, name: &str, inner: Selection) -> Selection {
        if let Selection::Some(map) = &mut self {
            map.insert(name.to_string(), inner);
        }
        self
    }

    /// The selection `fields` asks for (the method's default when absent), checked
    /// against `schema`.
    pub(crate) fn parse(fields: Option<&str>, schema: Schema) -> Result<Selection, GoogleError> {
        let Some(text) = fields else {
            return Ok(Selection::default_for(schema));
        };
        let mut parser = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        let selection = parser
            .list()
            .filter(|_| parser.at == parser.chars.len())
            .ok_or_else(|| errors::invalid_field_selection(text.trim()))?;
        selection.check(schema)?;
        Ok(selection)
    }

    fn check(&self, schema: Schema) -> Result<(), GoogleError> {
        let Selection::Some(members) = self else {
            return Ok(());
        };
        for (name, inner) in members {
            let member = schema
                .member(name)
                .ok_or_else(|| errors::invalid_field_selection(name))?;
            if member == Schema::Leaf && *inner != Selection::All {
                return Err(errors::invalid_field_selection(name));
            }
            inner.check(member)?;
        }
        Ok(())
    }

    fn merge(&mut self, other: Selection) {
        match (self, other) {
            (Selection::All, _) => {}
            (this, Selection::All) => *this = Selection::All,
            (Selection::Some(mine), Selection::Some(theirs)) => {
                for (name, inner) in theirs {
                    match mine.get_mut(&name) {
                        Some(existing) => existing.merge(inner),
                        None => {
                            mine.insert(name, inner);
                        }
                    }
                }
            }
        }
    }

    /// What is left of `value` (an object, or an array of them) once unselected members
    /// are dropped.
    pub(crate) fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (Selection::All, value) => value,
            (selection, Value::Array(items)) => {
                Value::Array(items.into_iter().map(|v| selection.apply(v)).collect())
            }
            (Selection::Some(members), Value::Object(mut object)) => {
                let mut out = Map::new();
                for (name, inner) in members {
                    if let Some(value) = object.remove(name) {
                        out.insert(name.clone(), inner.apply(value));
                    }
                }
                Value::Object(out)
            }
            (_, scalar) => scalar,
        }
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn skip_spaces(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn eat(&mut self, wanted: char) -> bool {
        self.skip_spaces();
        if self.chars.get(self.at) == Some(&wanted) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Option<String> {
        self.skip_spaces();
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '*')
        {
            self.at += 1;
        }
        (self.at > start).then(|| self.chars[start..self.at].iter().collect())
    }

    /// `item (, item)*`
    fn list(&mut self) -> Option<Selection> {
        let mut selection = Selection::Some(BTreeMap::new());
        loop {
            selection.merge(self.item()?);
            if !self.eat(',') {
                self.skip_spaces();
                return Some(selection);
            }
        }
    }

    /// `name(/name)* [ '(' list ')' ]`; `*` selects everything at its level.
    fn item(&mut self) -> Option<Selection> {
        let mut path = vec![self.name()?];
        while self.eat('/') {
            path.push(self.name()?);
        }
        let mut inner = if self.eat('(') {
            let inner = self.list()?;
            if !self.eat(')') {
                return None;
            }
            inner
        } else {
            Selection::All
        };
        for name in path.into_iter().rev() {
            inner = if name == "*" {
                Selection::All
            } else {
                Selection::Some(BTreeMap::from([(name, inner)]))
            };
        }
        Some(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selections_keep_what_they_name() {
        let s = Selection::parse(
            Some("nextPageToken, files(id, name,appProperties), files/parents"),
            Schema::FileList,
        )
        .unwrap();
        let page = json!({"kind": "drive#fileList", "nextPageToken": "t", "files": [
            {"id": "a", "name": "n", "mimeType": "x", "parents": ["p"], "appProperties": {"k": "v"}}
        ]});
        assert_eq!(
            s.apply(page),
            json!({"nextPageToken": "t", "files": [
                {"id": "a", "name": "n", "parents": ["p"], "appProperties": {"k": "v"}}
            ]})
        );
        assert_eq!(
            Selection::parse(Some("*"), Schema::File).unwrap(),
            Selection::All
        );
        assert_eq!(
            Selection::parse(Some("files(*)"), Schema::FileList)
                .unwrap()
                .apply(json!({"kind": "k", "files": [{"id": "a"}]})),
            json!({"files": [{"id": "a"}]})
        );
    }

    #[test]
    fn unknown_names_and_bad_syntax_are_refused() {
        for (fields, schema) in [
            ("items(id)", Schema::FileList),
            ("files(id,title)", Schema::FileList),
            ("id(x)", Schema::File),
            ("files(id", Schema::FileList),
            ("", Schema::File),
            ("starred", Schema::FileList),
            ("changes(file(nope))", Schema::ChangeList),
        ] {
            let e = Selection::parse(Some(fields), schema).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.reason),
                (400, "invalidParameter"),
                "{fields}"
            );
        }
        assert!(Selection::parse(Some("appProperties/crmId"), Schema::File).is_ok());
        assert!(Selection::parse(Some("shortcutDetails(targetId)"), Schema::File).is_ok());
    }
}
