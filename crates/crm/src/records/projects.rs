//! Projects: `/api/v1/projects`. Checks: `name` 1 to 200 characters; `company_id` a live
//! company of the organisation.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::products::name_search;
use super::{load_rows, record_exists, save_row, Kind, Meta, MetaRow, Target, META_COLUMNS};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_storage::db::{parse_uuid, BoxFuture, Conn, Sql};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub company_id: Option<Uuid>,
    #[serde(flatten)]
    pub meta: Meta,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub company_id: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    name: String,
    description: Option<String>,
    company_id: Option<String>,
}

impl Record for Project {
    const KIND: Kind = Kind::Project;

    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn id(&self) -> Uuid {
        self.id
    }

    fn load<'c>(
        conn: &'c mut Conn,
        org: Uuid,
        ids: &'c [Uuid],
    ) -> BoxFuture<'c, CrmResult<Vec<Self>>> {
        Box::pin(async move {
            let rows: Vec<Row> = load_rows(
                conn,
                org,
                ids,
                &format!(
                    "SELECT {META_COLUMNS}, t.name, t.description, t.company_id FROM projects t"
                ),
            )
            .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(Project {
                        id: r.meta.uuid()?,
                        name: r.name,
                        description: r.description,
                        company_id: r.company_id.as_deref().map(parse_uuid).transpose()?,
                        meta: r.meta.meta()?,
                    })
                })
                .collect()
        })
    }

    fn search(sql: &mut Sql<'_>, _org: Uuid, q: &str) -> CrmResult<()> {
        name_search(sql, q, &["t.name"]);
        Ok(())
    }
}

impl Editable for Project {
    type Input = ProjectInput;
    type Valid = ProjectInput;

    fn validate(input: ProjectInput) -> CrmResult<ProjectInput> {
        Ok(ProjectInput {
            name: validate::required_text("name", &input.name, MAX_NAME_CHARS)?,
            description: validate::optional_multiline_text(
                "description",
                input.description.as_deref(),
                100_000,
            )?,
            company_id: input.company_id,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ProjectInput,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            if let Some(company) = valid.company_id {
                if !record_exists(conn, auth.org_id, Kind::Company, company).await? {
                    return Err(CrmError::unknown_record(
                        "company_id",
                        format!("there is no company with id {company}"),
                    ));
                }
            }
            save_row(
                conn,
                Kind::Project,
                auth.org_id,
                id,
                target,
                &[
                    ("name", valid.name.clone().into()),
                    ("description", valid.description.clone().into()),
                    ("company_id", valid.company_id.into()),
                ],
            )
            .await?;
            Ok(())
        })
    }
}
