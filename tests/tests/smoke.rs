use orm_core::prelude::*;
use orm_tests::models::{Address, User};

orm_tests::backend_test! {
    #[tokio::test]
    async fn blog_flow() -> orm_core::Result<()> {
        orm_tests::init_logging();
        let db = orm_tests::fresh_db(&[User::META, Address::META]).await?;
        let mut s = db.session();
        let mut jack = User::new("jack", "Jack Bean", "gjffdd");
        jack.addresses.push(Address::new("jack@google.com"));
        jack.addresses.push(Address::new("j25@yahoo.com"));
        let jack = s.add(jack)?;
        s.commit().await?;
        assert_eq!(s.query::<Address>().count().await?, 2);
        let addrs = s.related(jack, User::ADDRESSES).await?;
        assert_eq!(addrs.len(), 2);
        s.remove(jack, User::ADDRESSES, addrs[1]).await?;
        assert_eq!(s.query::<Address>().count().await?, 1);
        s.delete(jack)?;
        assert_eq!(
            s.query::<User>()
                .filter_by(User::NAME, "jack")
                .count()
                .await?,
            0
        );
        assert_eq!(s.query::<Address>().count().await?, 0);
        s.commit().await?;
        Ok(())
    }
}
