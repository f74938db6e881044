//! `sqlx`: checked query builders. Each judges the statement with the
//! dialect of its database before handing it to `sqlx`, so a statement an
//! input changed never reaches the pool.
//!
//! ```no_run
//! # async fn list(pool: &sqlx::PgPool, sort: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use rasp_stepup::sink;
//!
//! let statement = format!("SELECT id, name FROM items ORDER BY {sort}");
//! let rows = sink::sqlx::query(&statement)?.fetch_all(pool).await?;
//! # Ok(()) }
//! ```
//!
//! Bind parameters (`$1`, `?`) are not inputs of the statement: a query
//! written with them passes whatever the values.

use sqlx::{Database, FromRow};

use super::{Dialect, SinkError};

/// A database whose statements the SQL guard reads in its dialect.
pub trait GuardedDatabase: Database {
    /// The dialect.
    const DIALECT: Dialect;
}

#[cfg(feature = "sqlx-postgres")]
impl GuardedDatabase for sqlx::Postgres {
    const DIALECT: Dialect = Dialect::PostgreSql;
}

#[cfg(feature = "sqlx-sqlite")]
impl GuardedDatabase for sqlx::Sqlite {
    const DIALECT: Dialect = Dialect::Sqlite;
}

#[cfg(feature = "sqlx-mysql")]
impl GuardedDatabase for sqlx::MySql {
    const DIALECT: Dialect = Dialect::MySql;
}

/// Judges `statement` for database `DB`.
///
/// # Errors
///
/// In enforce mode, an input of the current request that changed it.
pub fn check<DB: GuardedDatabase>(statement: &str) -> Result<(), SinkError> {
    super::sql(statement, DB::DIALECT)
}

/// [`sqlx::query()`] after the SQL guard.
///
/// # Errors
///
/// In enforce mode, an input of the current request that changed the
/// statement.
pub fn query<DB: GuardedDatabase>(
    statement: &str,
) -> Result<sqlx::query::Query<'_, DB, <DB as Database>::Arguments<'_>>, SinkError> {
    check::<DB>(statement)?;
    Ok(sqlx::query(statement))
}

/// [`sqlx::query_as()`] after the SQL guard.
///
/// # Errors
///
/// In enforce mode, an input of the current request that changed the
/// statement.
pub fn query_as<DB, O>(
    statement: &str,
) -> Result<sqlx::query::QueryAs<'_, DB, O, <DB as Database>::Arguments<'_>>, SinkError>
where
    DB: GuardedDatabase,
    O: for<'r> FromRow<'r, DB::Row>,
{
    check::<DB>(statement)?;
    Ok(sqlx::query_as(statement))
}

/// [`sqlx::query_scalar()`] after the SQL guard.
///
/// # Errors
///
/// In enforce mode, an input of the current request that changed the
/// statement.
pub fn query_scalar<DB, O>(
    statement: &str,
) -> Result<sqlx::query::QueryScalar<'_, DB, O, <DB as Database>::Arguments<'_>>, SinkError>
where
    DB: GuardedDatabase,
    (O,): for<'r> FromRow<'r, DB::Row>,
{
    check::<DB>(statement)?;
    Ok(sqlx::query_scalar(statement))
}
