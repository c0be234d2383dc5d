//! The child process of the crash-durability test (tests/tests/crash.rs): commits one user (with
//! an address) per transaction into the SQLite file named by its argument, forever, and prints
//! the name of each user once its commit has returned. The test kills it with SIGKILL.

use orm_core::Model as _;
use orm_tests::models::{Address, User};
use std::io::Write as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: crash_writer DB_PATH")?;
    let db = orm_sqlite::connect(&format!("sqlite://{path}")).await?;
    db.create_all(&[User::META, Address::META]).await?;
    let mut s = db.session();
    let first = s.query::<User>().count().await?;
    let mut stdout = std::io::stdout();
    for n in first.. {
        let name = format!("w{n}");
        let mut user = User::new(&name, "Writer", "w");
        user.addresses.push(Address::new(&format!("{name}@x")));
        s.add(user)?;
        s.commit().await?;
        writeln!(stdout, "{name}")?;
        stdout.flush()?;
    }
    Ok(())
}
