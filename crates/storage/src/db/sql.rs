//! [`Sql`]: a query built piece by piece, with `$N` parameters.

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Arguments, Encode, FromRow, Type};

use super::Any;

/// A query whose text depends on the input (an `IN (…)` list, several rows of `VALUES`):
/// text and values are pushed in order, and each value becomes the next `$N` parameter.
///
/// Use it instead of `sqlx::QueryBuilder`, which writes `?` placeholders for the Any driver:
/// SQLite takes them, PostgreSQL does not.
///
/// ```
/// # use threadline_storage::db::Sql;
/// let mut sql = Sql::new("SELECT id FROM contacts WHERE org_id = ");
/// sql.push_bind("org").push(" AND id IN ").push_list(["a", "b"]);
/// assert_eq!(sql.sql(), "SELECT id FROM contacts WHERE org_id = $1 AND id IN ($2, $3)");
/// ```
#[derive(Default)]
pub struct Sql<'a> {
    text: String,
    args: AnyArguments<'a>,
}

impl<'a> Sql<'a> {
    pub fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: AnyArguments::default(),
        }
    }

    /// Appends SQL text (never a value: values go through [`Sql::push_bind`]).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next parameter, `$N`, bound to `value`.
    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'a + Encode<'a, Any> + Type<Any>,
    {
        // Adding to the Any driver's argument list cannot fail: it only records the value.
        self.args
            .add(value)
            .expect("the Any driver records every value");
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `($N, $N+1, …)`, one parameter per value: the right side of `IN`, or one row
    /// of `VALUES` whose values have one type.
    ///
    /// # Panics
    /// When `values` is empty (`IN ()` is not SQL): return early when there is nothing to
    /// look for.
    pub fn push_list<T>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self
    where
        T: 'a + Encode<'a, Any> + Type<Any>,
    {
        self.text.push('(');
        let before = self.args.len();
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.push_bind(value);
        }
        assert!(
            self.args.len() > before,
            "Sql::push_list needs at least one value: {}",
            self.text
        );
        self.text.push(')');
        self
    }

    /// The SQL text so far.
    pub fn sql(&self) -> &str {
        &self.text
    }

    /// The same query behind `prefix` (e.g. `EXPLAIN `).
    pub fn prefixed(self, prefix: &str) -> Self {
        Sql {
            text: format!("{prefix}{}", self.text),
            args: self.args,
        }
    }

    /// The query, to `execute` or `fetch_*`. Takes the values: build once.
    pub fn build(&mut self) -> Query<'_, Any, AnyArguments<'_>> {
        sqlx::query_with(&self.text, std::mem::take(&mut self.args))
    }

    /// The query, mapping each row to a `T`.
    pub fn build_query_as<T>(&mut self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_as_with(&self.text, std::mem::take(&mut self.args))
    }

    /// The query, taking the first column of each row.
    pub fn build_query_scalar<T>(&mut self) -> QueryScalar<'_, Any, T, AnyArguments<'_>>
    where
        (T,): for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        sqlx::query_scalar_with(&self.text, std::mem::take(&mut self.args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_in_order() {
        let mut sql = Sql::new("INSERT INTO t (a, b) VALUES ");
        sql.push_list(["x", "y"]).push(", ").push_list([1i64, 2]);
        sql.push(" ON CONFLICT DO NOTHING");
        assert_eq!(
            sql.sql(),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(sql.args.len(), 4);
        let explained = sql.prefixed("EXPLAIN ");
        assert!(explained.sql().starts_with("EXPLAIN INSERT"));
    }

    #[test]
    #[should_panic(expected = "at least one value")]
    fn an_empty_list_is_a_bug() {
        Sql::new("SELECT 1 WHERE 1 IN ").push_list(Vec::<String>::new());
    }
}
