// Valid: derive(SqlValue) on a newtype key, a text enum and an integer enum.
use orm_core::prelude::*;
use orm_core::{SqlType, Value};

#[derive(SqlValue, Debug, Clone, Copy, PartialEq)]
pub struct InvoiceId(i64);

#[derive(SqlValue, Debug, Clone, Copy, PartialEq)]
#[sql(rename_all = "kebab-case")]
pub enum State {
    Draft,
    PaidInFull,
}

#[derive(SqlValue, Debug, Clone, Copy, PartialEq)]
#[repr(u8)]
pub enum Level {
    Low = 1,
    High,
}

#[derive(Model)]
pub struct Invoice {
    #[column(primary_key)]
    pub id: Option<InvoiceId>,
    pub state: State,
    pub level: Option<Level>,
}

fn main() {
    const { assert!(matches!(<State as SqlValue>::SQL_TYPE, SqlType::Text)) };
    assert!(Invoice::META.columns[0].generated, "an Option of an integer newtype key");
    assert_eq!(State::PaidInFull.to_value(), Value::Text("paid-in-full".into()));
    assert_eq!(Level::High.to_value(), Value::Integer(2));
    assert_eq!(Level::from_value(Value::Integer(1)), Ok(Level::Low));
    assert_eq!(InvoiceId::from_value(Value::Integer(7)), Ok(InvoiceId(7)));
}
