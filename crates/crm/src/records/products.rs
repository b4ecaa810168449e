//! Products: `/api/v1/products`. `price` is `{amount_minor, currency}`: an integer of the
//! currency's minor units (cents) and its ISO 4217 code, because binary floating point
//! cannot hold 0.10 exactly and sums of prices must be exact; the code says what the
//! minor unit is. Checks: `name` 1 to 200 characters; `code` at most 64; `price.currency`
//! three capital letters; `price.amount_minor` 0 or more.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::opt_text;
use super::{load_rows, save_row, Kind, Meta, MetaRow, Target, META_COLUMNS};
use super::{Editable, Record};
use crate::actor::Actor;
use crate::error::{CrmError, CrmResult};
use crate::validate::{self, MAX_NAME_CHARS};
use threadline_storage::db::{BoxFuture, Conn, Sql};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub amount_minor: i64,
    pub currency: String,
}

impl Price {
    /// The digits of `currency`'s minor unit (ISO 4217): 0 for the yen and its like, 3 for
    /// the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya and Tunisia and the Omani rial, 2
    /// for every other.
    pub fn minor_digits(currency: &str) -> u32 {
        match currency {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// As a person writes it: `12.50 EUR`, `1200 JPY`.
    pub fn to_text(&self) -> String {
        let digits = Price::minor_digits(&self.currency);
        let unit = 10i64.pow(digits);
        let (whole, part) = (self.amount_minor / unit, (self.amount_minor % unit).abs());
        match digits {
            0 => format!("{whole} {}", self.currency),
            d => format!(
                "{whole}.{part:0width$} {}",
                self.currency,
                width = d as usize
            ),
        }
    }

    /// A price as a person writes it (`12.50 EUR`, `EUR 12,50`, `1200 jpy`): an amount with
    /// at most the currency's minor digits and a three-letter code, either way round.
    /// `invalid_field` (`price`) otherwise; the code and the amount are then checked as any
    /// price is ([`Editable::validate`]).
    pub fn parse_text(text: &str) -> CrmResult<Price> {
        let refused = || {
            CrmError::invalid(
                "price",
                format!("{text:?} is not a price: write an amount and a currency, like 12.50 EUR"),
            )
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [a, b] = parts[..] else {
            return Err(refused());
        };
        let (amount, currency) = if a.chars().all(|c| c.is_ascii_alphabetic()) {
            (b, a.to_ascii_uppercase())
        } else {
            (a, b.to_ascii_uppercase())
        };
        let digits = Price::minor_digits(&currency);
        let (whole, part) = amount.split_once(['.', ',']).unwrap_or((amount, ""));
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(part)
            || part.len() > digits as usize
        {
            return Err(refused());
        }
        let part = format!("{part:0<width$}", width = digits as usize);
        let amount_minor = format!("{whole}{part}")
            .parse::<i64>()
            .map_err(|_| refused())?;
        Ok(Price {
            amount_minor,
            currency,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    pub code: Option<String>,
    pub price: Option<Price>,
    pub description: Option<String>,
    #[serde(flatten)]
    pub meta: Meta,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub price: Option<Price>,
    #[serde(default)]
    pub description: Option<String>,
}

pub struct ValidProduct {
    name: String,
    code: Option<String>,
    price: Option<Price>,
    description: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    meta: MetaRow,
    name: String,
    code: Option<String>,
    price_minor: Option<i64>,
    currency: Option<String>,
    description: Option<String>,
}

impl Record for Product {
    const KIND: Kind = Kind::Product;

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
            let rows: Vec<Row> = load_rows(conn, org, ids, &format!(
                "SELECT {META_COLUMNS}, t.name, t.code, t.price_minor, t.currency, t.description FROM products t"
            ))
            .await?;
            rows.into_iter()
                .map(|r| {
                    Ok(Product {
                        id: r.meta.uuid()?,
                        name: r.name,
                        code: r.code,
                        price: r
                            .price_minor
                            .zip(r.currency)
                            .map(|(amount_minor, currency)| Price {
                                amount_minor,
                                currency,
                            }),
                        description: r.description,
                        meta: r.meta.meta()?,
                    })
                })
                .collect()
        })
    }

    /// Name or code.
    fn search(sql: &mut Sql<'_>, _org: Uuid, q: &str) -> CrmResult<()> {
        name_search(sql, q, &["t.name", "t.code"]);
        Ok(())
    }
}

/// ` AND (lower(a) LIKE … OR lower(b) LIKE …)`: a case-insensitive substring of any column.
pub fn name_search(sql: &mut Sql<'_>, q: &str, columns: &[&str]) {
    let like = format!("%{}%", super::search::escape_like(q));
    sql.push(" AND (");
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(&format!("lower({column}) LIKE lower("))
            .push_bind(like.clone())
            .push(") ESCAPE '\\'");
    }
    sql.push(")");
}

impl Editable for Product {
    type Input = ProductInput;
    type Valid = ValidProduct;

    fn validate(input: ProductInput) -> CrmResult<ValidProduct> {
        if let Some(price) = &input.price {
            if price.amount_minor < 0 {
                return Err(CrmError::invalid(
                    "price.amount_minor",
                    "a price cannot be negative",
                ));
            }
            if price.currency.len() != 3 || !price.currency.bytes().all(|b| b.is_ascii_uppercase())
            {
                return Err(CrmError::invalid(
                    "price.currency",
                    format!(
                        "{:?} is not an ISO 4217 currency code (EUR, USD, …)",
                        price.currency
                    ),
                ));
            }
        }
        Ok(ValidProduct {
            name: validate::required_text("name", &input.name, MAX_NAME_CHARS)?,
            code: opt_text("code", input.code.as_deref(), 64)?,
            price: input.price,
            description: validate::optional_multiline_text(
                "description",
                input.description.as_deref(),
                20_000,
            )?,
        })
    }

    fn save<'c>(
        conn: &'c mut Conn,
        auth: &'c Actor,
        id: Uuid,
        target: Target,
        valid: &'c ValidProduct,
    ) -> BoxFuture<'c, CrmResult<()>> {
        Box::pin(async move {
            save_row(
                conn,
                Kind::Product,
                auth.org_id,
                id,
                target,
                &[
                    ("name", valid.name.clone().into()),
                    ("code", valid.code.clone().into()),
                    (
                        "price_minor",
                        valid.price.as_ref().map(|p| p.amount_minor).into(),
                    ),
                    (
                        "currency",
                        valid.price.as_ref().map(|p| p.currency.clone()).into(),
                    ),
                    ("description", valid.description.clone().into()),
                ],
            )
            .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Price;

    fn price(amount_minor: i64, currency: &str) -> Price {
        Price {
            amount_minor,
            currency: currency.into(),
        }
    }

    #[test]
    fn a_price_is_read_and_written_in_its_currencys_minor_unit() {
        assert_eq!(Price::parse_text("12.50 EUR").unwrap(), price(1250, "EUR"));
        assert_eq!(Price::parse_text("eur 12,5").unwrap(), price(1250, "EUR"));
        assert_eq!(Price::parse_text("1200 JPY").unwrap(), price(1200, "JPY"));
        assert_eq!(Price::parse_text("1.005 KWD").unwrap(), price(1005, "KWD"));
        assert_eq!(price(1250, "EUR").to_text(), "12.50 EUR");
        assert_eq!(price(5, "USD").to_text(), "0.05 USD");
        assert_eq!(price(1200, "JPY").to_text(), "1200 JPY");
        for bad in [
            "12.50",
            "12.505 EUR",
            "1.5 JPY",
            "-3 EUR",
            "twelve EUR",
            "1 2 EUR",
            "",
        ] {
            let e = Price::parse_text(bad).unwrap_err();
            assert_eq!(e.code(), Some("invalid_field"), "{bad}");
        }
    }
}
