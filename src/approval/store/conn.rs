//! The store's one connection abstraction over its two backends, embedded SQLite and
//! PostgreSQL: statements written once with `?N` placeholders (rewritten to `$N` for
//! PostgreSQL), values of two types (integers and text), rows read into plain values, and
//! the write transaction with the serialisation each backend needs. I/O: the database.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;

/// A value bound to or read from a statement: the store only uses integers and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Null,
    Int(i64),
    Text(String),
}

/// A Rust value bound to a statement (by reference: `args![item.id, ms(now)]`).
pub(super) trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

/// The arguments of a statement, in `?1, ?2, ...` order.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$($crate::approval::store::conn::ToValue::to_value(&$x)),*][..]
    };
}
pub(super) use args;

/// A database error of either backend, or a column of an unexpected type.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// Its message carries the causes (the sources are not chained again).
    #[error("{}", pg_message(.0))]
    Postgres(postgres::Error),
    #[error("column {column} is {found}, expected {expected}")]
    Type { column: usize, found: &'static str, expected: &'static str },
    #[error("the statement returned no row")]
    NoRow,
    #[error("the connection is closed")]
    Closed,
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> DbError {
        DbError::Postgres(e)
    }
}

/// PostgreSQL's own words (severity, message, detail), not the client's "db error".
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {} ({d})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => match e.source() {
            Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
            _ => e.to_string(),
        },
    }
}

/// One row read into plain values.
#[derive(Debug)]
pub(super) struct Row(Vec<Value>);

/// A column value converted to a Rust type.
pub(super) trait FromValue: Sized {
    fn from_value(v: &Value, column: usize) -> Result<Self, DbError>;
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Text(_) => "text",
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value, column: usize) -> Result<i64, DbError> {
        match v {
            Value::Int(i) => Ok(*i),
            _ => Err(DbError::Type { column, found: kind(v), expected: "an integer" }),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value, column: usize) -> Result<String, DbError> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err(DbError::Type { column, found: kind(v), expected: "text" }),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value, column: usize) -> Result<bool, DbError> {
        i64::from_value(v, column).map(|i| i != 0)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value, column: usize) -> Result<Option<T>, DbError> {
        match v {
            Value::Null => Ok(None),
            _ => T::from_value(v, column).map(Some),
        }
    }
}

impl Row {
    /// Column `i`, converted.
    pub(super) fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        T::from_value(self.0.get(i).unwrap_or(&Value::Null), i)
    }
}

/// What a write transaction serialises on. SQLite has one writer at a time (`BEGIN
/// IMMEDIATE`) whatever this says; PostgreSQL takes transaction-scoped advisory locks, so
/// writers of different items run in parallel and writers of one item (or one target, one
/// nonce) queue up across processes and hosts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Serial<'a> {
    /// The whole queue (enqueue: it reads and writes many items).
    Queue,
    /// One item: excludes the whole-queue writers and other writers of this item.
    Item(&'a str),
    /// One operation-lock target.
    Target(&'a str),
    /// One break-glass nonce.
    Nonce(&'a str),
    /// Schema migrations.
    Migrate,
}

/// Advisory-lock keys: one 64-bit key for the whole queue and for migrations, two 32-bit
/// keys (class, hash of the name) for items, targets and nonces (PostgreSQL keeps the two
/// key spaces apart).
const QUEUE_KEY: i64 = 0x6169_6f70_7301;
const MIGRATE_KEY: i64 = 0x6169_6f70_7302;

/// A connection of either backend.
pub(super) enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PgConn>),
}

/// A PostgreSQL client with its prepared statements.
pub(super) struct PgConn {
    /// `None` only while it is being dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl PgConn {
    pub(super) fn new(client: postgres::Client) -> PgConn {
        PgConn { client: RefCell::new(Some(client)), statements: RefCell::new(HashMap::new()) }
    }
}

impl Drop for PgConn {
    /// Closing the client blocks on its runtime too: off the caller's runtime as well.
    fn drop(&mut self) {
        self.statements.get_mut().clear();
        if let Some(client) = self.client.get_mut().take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Prepared statements kept at most per connection (list pages with literal bounds vary).
const PG_STATEMENTS: usize = 256;

/// `?N` → `$N` outside quoted strings.
pub(super) fn pg_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// The sync PostgreSQL client drives its own small tokio runtime and refuses to start it
/// on a thread that is already inside one (the server's tasks, `Handle::block_on`): there
/// the call runs on a scoped thread of its own.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn StdError + Sync + Send>> {
        use postgres::types::Type;
        match (self, ty) {
            (Value::Null, _) => Ok(postgres::types::IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Text(s), _) if <&str as postgres::types::ToSql>::accepts(ty) => {
                s.as_str().to_sql(ty, out)
            }
            (v, ty) => Err(format!("{} bound to a parameter of type {ty}", kind(v)).into()),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn sqlite_row(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Row> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Real(f) => Value::Text(f.to_string()),
            ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        });
    }
    Ok(Row(out))
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut out = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into())),
            // `SELECT pg_advisory_xact_lock(...)`.
            Type::VOID => None,
            _ => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

impl Conn {
    fn pg_prepared(
        cache: &mut HashMap<String, postgres::Statement>,
        client: &mut postgres::Client,
        sql: &str,
    ) -> Result<postgres::Statement, DbError> {
        let sql = pg_sql(sql);
        if let Some(st) = cache.get(&sql) {
            return Ok(st.clone());
        }
        let st = client.prepare(&sql)?;
        if cache.len() >= PG_STATEMENTS {
            cache.clear();
        }
        cache.insert(sql, st.clone());
        Ok(st)
    }

    /// Runs one statement; the number of rows it changed.
    pub(super) fn execute(&self, sql: &str, args: &[Value]) -> Result<usize, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                Ok(st.execute(rusqlite::params_from_iter(args.iter()))?)
            }
            Conn::Postgres(pg) => {
                let (mut client, mut cache) = (pg.client.borrow_mut(), pg.statements.borrow_mut());
                let (Some(client), cache) = (client.as_mut(), &mut *cache) else {
                    return Err(DbError::Closed);
                };
                off_runtime(|| {
                    let st = Self::pg_prepared(cache, client, sql)?;
                    let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        args.iter().map(|a| a as &(dyn postgres::types::ToSql + Sync)).collect();
                    let n = client.execute(&st, &params)?;
                    Ok(usize::try_from(n).unwrap_or(usize::MAX))
                })
            }
        }
    }

    /// Every row of a query.
    pub(super) fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                let n = st.column_count();
                let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| sqlite_row(r, n))?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Conn::Postgres(pg) => {
                let (mut client, mut cache) = (pg.client.borrow_mut(), pg.statements.borrow_mut());
                let (Some(client), cache) = (client.as_mut(), &mut *cache) else {
                    return Err(DbError::Closed);
                };
                off_runtime(|| {
                    let st = Self::pg_prepared(cache, client, sql)?;
                    let params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        args.iter().map(|a| a as &(dyn postgres::types::ToSql + Sync)).collect();
                    client.query(&st, &params)?.iter().map(pg_row).collect()
                })
            }
        }
    }

    /// The first row of a query, if any.
    pub(super) fn query_opt(&self, sql: &str, args: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The first row of a query that always returns one (an aggregate, `RETURNING`).
    pub(super) fn query_one(&self, sql: &str, args: &[Value]) -> Result<Row, DbError> {
        self.query_opt(sql, args)?.ok_or(DbError::NoRow)
    }

    /// Several statements without arguments (migrations).
    pub(super) fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(pg) => {
                let mut client = pg.client.borrow_mut();
                let Some(client) = client.as_mut() else {
                    return Err(DbError::Closed);
                };
                off_runtime(|| Ok(client.batch_execute(sql)?))
            }
        }
    }

    /// Whether the connection can still be used (a PostgreSQL server may have closed it).
    pub(super) fn usable(&self) -> bool {
        match self {
            Conn::Sqlite(_) => true,
            Conn::Postgres(pg) => pg.client.borrow().as_ref().is_some_and(|c| !c.is_closed()),
        }
    }

    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// Starts a write transaction serialised on `on`; it rolls back unless committed.
    ///
    /// SQLite: `BEGIN IMMEDIATE` (one writer at a time; the reads inside see every commit
    /// before it). PostgreSQL: `READ COMMITTED` and then the advisory locks of `on`, held to
    /// the end of the transaction; READ COMMITTED reads each statement's data as of that
    /// statement, so the re-reads after the lock see what the previous holder committed (a
    /// snapshot taken at `BEGIN`, as REPEATABLE READ would, could miss it).
    pub(super) fn begin(&self, on: Serial<'_>) -> Result<Tx<'_>, DbError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch("BEGIN IMMEDIATE")?,
            Conn::Postgres(_) => {
                self.batch("BEGIN ISOLATION LEVEL READ COMMITTED")?;
                let tx = Tx { conn: self, open: true };
                let (sql, args): (&str, Vec<Value>) = match on {
                    Serial::Queue => ("SELECT pg_advisory_xact_lock(?1)", vec![QUEUE_KEY.into()]),
                    Serial::Migrate => ("SELECT pg_advisory_xact_lock(?1)", vec![MIGRATE_KEY.into()]),
                    Serial::Item(id) => (
                        "SELECT pg_advisory_xact_lock_shared(?1), pg_advisory_xact_lock(1, hashtext(?2))",
                        vec![QUEUE_KEY.into(), id.into()],
                    ),
                    Serial::Target(t) => ("SELECT pg_advisory_xact_lock(2, hashtext(?1))", vec![t.into()]),
                    Serial::Nonce(n) => ("SELECT pg_advisory_xact_lock(3, hashtext(?1))", vec![n.into()]),
                };
                self.query(sql, &args)?;
                return Ok(tx);
            }
        }
        Ok(Tx { conn: self, open: true })
    }
}

/// A write transaction; dropped without [`Tx::commit`], it rolls back.
pub(super) struct Tx<'a> {
    conn: &'a Conn,
    open: bool,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Tx<'_> {
    /// Commits.
    pub(super) fn commit(mut self) -> Result<(), DbError> {
        self.open = false;
        self.conn.batch("COMMIT")
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves a broken connection: the next statement says so.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}
