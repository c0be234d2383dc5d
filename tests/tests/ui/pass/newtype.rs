// Valid: a user type implementing SqlValue is a column type.
use orm_core::prelude::*;
use orm_core::{SqlType, Value, ValueError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cents(pub i64);

impl SqlValue for Cents {
    const SQL_TYPE: SqlType = SqlType::Integer;
    fn to_value(&self) -> Value {
        Value::Integer(self.0)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        i64::from_value(value).map(Cents)
    }
}

#[derive(Model)]
pub struct Invoice {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub total: Cents,
    pub discount: Option<Cents>,
}

fn main() {
    assert!(Invoice::META.columns[2].nullable);
    let invoice = Invoice { id: None, total: Cents(250), discount: None };
    assert_eq!(invoice.column_value(1), Value::Integer(250));
}
