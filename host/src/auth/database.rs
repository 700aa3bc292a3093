//! The credentials' database: a SQLite file of this host's, or the PostgreSQL
//! database every host shares, behind one way to run SQL.
//!
//! The credentials' statements are plain SQL both engines read alike, so each is
//! written once, with `?1`-style parameters (PostgreSQL gets them as `$1`), and its
//! parameters and columns pass as [`Value`]s. Engine-specific work (connections,
//! lanes, transactions) stays here.

use super::store::AuthStoreError;
use crate::postgres::{Database, Failure, Session};
use crate::sqlite::{Lane, Readers};
use postgres::GenericClient;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::{Connection, TransactionBehavior};
use std::sync::{Arc, Mutex, PoisonError};

/// A parameter or a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes (SQLite BLOB, PostgreSQL BYTEA).
    Bytes(Vec<u8>),
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_owned())
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Value {
        Value::Text(text.clone())
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(number)
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        Value::Bytes(bytes.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// One row of an answer.
#[derive(Debug)]
pub struct Row(Vec<Value>);

impl Row {
    fn column(&self, index: usize) -> Result<&Value, AuthStoreError> {
        self.0
            .get(index)
            .ok_or_else(|| AuthStoreError::Backend(format!("no column {index}")))
    }

    fn mistyped(index: usize, wanted: &str) -> AuthStoreError {
        AuthStoreError::Backend(format!("column {index} is not {wanted}"))
    }

    /// Column `index`, text or NULL.
    pub fn opt_text(&self, index: usize) -> Result<Option<String>, AuthStoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            Value::Text(text) => Ok(Some(text.clone())),
            _ => Err(Row::mistyped(index, "text")),
        }
    }

    /// Column `index`, text.
    pub fn text(&self, index: usize) -> Result<String, AuthStoreError> {
        self.opt_text(index)?
            .ok_or_else(|| Row::mistyped(index, "text"))
    }

    /// Column `index`, an integer or NULL.
    pub fn opt_int(&self, index: usize) -> Result<Option<i64>, AuthStoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            Value::Int(number) => Ok(Some(*number)),
            _ => Err(Row::mistyped(index, "an integer")),
        }
    }

    /// Column `index`, an integer.
    pub fn int(&self, index: usize) -> Result<i64, AuthStoreError> {
        self.opt_int(index)?
            .ok_or_else(|| Row::mistyped(index, "an integer"))
    }

    /// Column `index`, bytes.
    pub fn bytes(&self, index: usize) -> Result<Vec<u8>, AuthStoreError> {
        match self.column(index)? {
            Value::Bytes(bytes) => Ok(bytes.clone()),
            _ => Err(Row::mistyped(index, "bytes")),
        }
    }
}

/// Runs the credentials' statements on either engine.
pub trait Sql {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, AuthStoreError>;
    /// Every row a query returns.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, AuthStoreError>;
    /// The first row a query returns, if any.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, AuthStoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Where the credentials are.
pub enum CredentialsDatabase {
    /// A SQLite file: one writer and a few readers.
    Sqlite {
        /// Every write goes through it.
        writer: Mutex<Connection>,
        /// Reads share these.
        readers: Readers,
        /// As many threads as readers.
        reads: Lane,
        /// One thread, for the writer.
        writes: Lane,
    },
    /// The database every host shares.
    Postgres(Arc<Database>),
}

impl CredentialsDatabase {
    /// Runs `read`, which only reads.
    pub fn read<T: Send>(
        &self,
        read: impl FnOnce(&mut dyn Sql) -> Result<T, AuthStoreError> + Send,
    ) -> Result<T, AuthStoreError> {
        match self {
            CredentialsDatabase::Sqlite { readers, .. } => {
                readers.read(|connection| read(&mut SqliteSql(connection)))
            }
            CredentialsDatabase::Postgres(database) => {
                database.call(|session| read(&mut PostgresSql(session)))
            }
        }
    }

    /// Runs `write` in a transaction: all of it or nothing.
    pub fn write<T: Send>(
        &self,
        write: impl FnOnce(&mut dyn Sql) -> Result<T, AuthStoreError> + Send,
    ) -> Result<T, AuthStoreError> {
        match self {
            CredentialsDatabase::Sqlite { writer, .. } => {
                // Every write is one transaction: a panic cannot leave it half done.
                // It takes the write lock first, waiting up to the busy timeout: a
                // command and the server writing at once queue. Begun deferred, one
                // that read first could find its snapshot stale and fail at once.
                let mut connection = writer.lock().unwrap_or_else(PoisonError::into_inner);
                let transaction =
                    connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = write(&mut SqliteSql(&transaction))?;
                transaction.commit()?;
                Ok(value)
            }
            CredentialsDatabase::Postgres(database) => {
                database.transaction(|session| write(&mut PostgresSql(session)))
            }
        }
    }

    /// The threads reads run on.
    pub fn reads(&self) -> &Lane {
        match self {
            CredentialsDatabase::Sqlite { reads, .. } => reads,
            CredentialsDatabase::Postgres(database) => database.reads(),
        }
    }

    /// The threads writes run on.
    pub fn writes(&self) -> &Lane {
        match self {
            CredentialsDatabase::Sqlite { writes, .. } => writes,
            CredentialsDatabase::Postgres(database) => database.writes(),
        }
    }
}

struct SqliteSql<'a>(&'a Connection);

impl Sql for SqliteSql<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, AuthStoreError> {
        let changed = self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, AuthStoreError> {
        let mut statement = self.0.prepare_cached(sql)?;
        let columns = statement.column_count();
        let rows = statement.query_map(rusqlite::params_from_iter(params), |row| {
            (0..columns)
                .map(|index| {
                    Ok(match row.get::<_, rusqlite::types::Value>(index)? {
                        rusqlite::types::Value::Null => Value::Null,
                        rusqlite::types::Value::Integer(number) => Value::Int(number),
                        rusqlite::types::Value::Text(text) => Value::Text(text),
                        rusqlite::types::Value::Blob(bytes) => Value::Bytes(bytes),
                        rusqlite::types::Value::Real(number) => Value::Int(number as i64),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(Row)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(number) => ValueRef::Integer(*number),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Bytes(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

struct PostgresSql<'s, 'a, C>(&'s mut Session<'a, C>);

/// `sql` with PostgreSQL's parameters: `?1` becomes `$1`.
fn numbered_parameters(sql: &str) -> String {
    sql.replace('?', "$")
}

impl<C: GenericClient> Sql for PostgresSql<'_, '_, C> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, AuthStoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|value| value as _).collect();
        Ok(self.0.execute(&numbered_parameters(sql), &params)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, AuthStoreError> {
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|value| value as _).collect();
        let rows = self.0.query(&numbered_parameters(sql), &params)?;
        rows.iter().map(postgres_row).collect()
    }
}

fn postgres_row(row: &postgres::Row) -> Result<Row, AuthStoreError> {
    let failed = |error: postgres::Error| AuthStoreError::Backend(error.to_string());
    (0..row.len())
        .map(|index| {
            let value = match *row.columns()[index].type_() {
                Type::INT8 => row.try_get::<_, Option<i64>>(index).map(Value::from),
                Type::INT4 => row
                    .try_get::<_, Option<i32>>(index)
                    .map(|number| number.map(i64::from).into()),
                Type::BYTEA => row
                    .try_get::<_, Option<Vec<u8>>>(index)
                    .map(|bytes| bytes.map_or(Value::Null, Value::Bytes)),
                _ => row
                    .try_get::<_, Option<String>>(index)
                    .map(|text| text.map_or(Value::Null, Value::Text)),
            };
            value.map_err(failed)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Row)
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(number) if *ty == Type::INT4 => {
                i32::try_from(*number)?.to_sql_checked(ty, out)
            }
            Value::Int(number) => number.to_sql_checked(ty, out),
            Value::Text(text) => text.to_sql_checked(ty, out),
            Value::Bytes(bytes) => bytes.to_sql_checked(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl From<Failure> for AuthStoreError {
    fn from(failure: Failure) -> AuthStoreError {
        match failure {
            Failure::Unavailable(error) => AuthStoreError::Unavailable(error),
            Failure::Refused(error) => AuthStoreError::Backend(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_numbered_for_postgres() {
        assert_eq!(
            numbered_parameters("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?10"),
            "UPDATE t SET a = $2 WHERE b = $1 AND c = $10"
        );
    }
}
