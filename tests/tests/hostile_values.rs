//! Hostile values and names round-trip exactly, or are refused with an error that says why:
//! quotes, NUL bytes, right-to-left marks, emoji, megabyte strings and blobs, integer extremes,
//! and tables and columns named with SQL keywords.

use orm_core::prelude::*;
use orm_tests::harness::{self, Backend};

/// A table and columns named with SQL keywords.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "select")]
pub struct Keyword {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(name = "from")]
    pub text: String,
    #[column(name = "where")]
    pub bytes: Vec<u8>,
    #[column(name = "order")]
    pub number: i64,
    #[column(name = "group")]
    pub maybe: Option<String>,
}

fn row(text: &str, bytes: Vec<u8>, number: i64) -> Keyword {
    Keyword {
        id: None,
        text: text.into(),
        bytes,
        number,
        maybe: Some(text.into()),
    }
}

fn hostile() -> Vec<Keyword> {
    let megabyte_text: String = "ab\"c'd😀".repeat(150_000);
    let megabyte_blob: Vec<u8> = (0..1_048_576u32).map(|i| (i % 251) as u8).collect();
    vec![
        row(
            "'; DROP TABLE \"select\"; --",
            vec![0, 39, 34, 92],
            i64::MIN,
        ),
        row(
            "\u{202E}gnirts desrever\u{202C} and \u{200F}rtl",
            vec![255; 3],
            i64::MAX,
        ),
        row("emoji 👩‍👩‍👧‍👦 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", Vec::new(), 0),
        row("back\\slash % _ ? $1 :name @p", vec![0; 16], -1),
        row(&megabyte_text, megabyte_blob, 42),
        row("", vec![], 1),
    ]
}

orm_tests::backend_test! {
    /// Every value comes back byte for byte, through keyword-named tables and columns, and a
    /// value that looks like SQL is only ever a value.
    #[tokio::test]
    async fn hostile_values_and_names_round_trip() -> Result<()> {
        let t = harness::fresh(&[Keyword::META]).await;
        let mut s = t.db.session();
        let written = hostile();
        let handles = written
            .iter()
            .map(|k| s.add(k.clone()))
            .collect::<Result<Vec<_>>>()?;
        s.commit().await?;
        let mut fresh = t.db.session();
        for (h, expected) in handles.into_iter().zip(written) {
            let id = s.read(h).await?.id;
            let stored = fresh.get::<Keyword>(id).await?.expect("stored");
            assert_eq!(*fresh.read(stored).await?, Keyword { id, ..expected });
        }
        let injected = fresh
            .query::<Keyword>()
            .filter(Keyword::TEXT.eq("'; DROP TABLE \"select\"; --"))
            .count()
            .await?;
        assert_eq!(injected, 1);
        assert_eq!(t.count("select").await, 6, "the table is still there");
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A NUL byte in text: SQLite stores it; PostgreSQL has no NUL in text and refuses it with
    /// its own error, storing nothing of the flush.
    #[tokio::test]
    async fn a_nul_in_text_is_stored_or_refused() -> Result<()> {
        let t = harness::fresh(&[Keyword::META]).await;
        let mut s = t.db.session();
        let h = s.add(row("nul\0inside", vec![0], 7))?;
        match t.backend {
            Backend::Sqlite => {
                s.commit().await?;
                let id = s.read(h).await?.id;
                let mut fresh = t.db.session();
                let stored = fresh.get::<Keyword>(id).await?.expect("stored");
                assert_eq!(fresh.read(stored).await?.text, "nul\0inside");
            }
            Backend::Postgres => {
                let err = s.commit().await.expect_err("PostgreSQL text has no NUL");
                assert!(
                    err.to_string().contains("0x00") || err.db_code() == Some("22021"),
                    "{err}"
                );
                assert_eq!(t.count("select").await, 0);
            }
        }
        Ok(())
    }
}
