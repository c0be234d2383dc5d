//! Fault injection at every database call of a flush that inserts, updates, deletes with
//! cascades and deletes orphans across three tables, as the first flush of a transaction and
//! as a later one: afterwards the database holds what it held, every object is in the state it
//! was, and the same session commits the same work once the fault is gone.

use orm_core::prelude::*;
use orm_core::Value;
use orm_tests::faults::faulty_database;
use orm_tests::harness::{self, Fresh};

#[derive(Model, Debug)]
#[model(table = "f_teams")]
pub struct Team {
    #[column(primary_key)]
    pub id: Option<i64>,
    pub name: String,
    #[relationship(back_populates = "team", cascade = "all, delete-orphan")]
    pub players: HasMany<Player>,
}

#[derive(Model, Debug)]
#[model(table = "f_players")]
pub struct Player {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "f_teams.id")]
    pub team_id: Option<i64>,
    pub name: String,
    #[relationship(back_populates = "players")]
    pub team: BelongsTo<Team>,
    #[relationship(back_populates = "player", cascade = "all, delete-orphan")]
    pub stats: HasMany<Stat>,
}

#[derive(Model, Debug)]
#[model(table = "f_stats")]
pub struct Stat {
    #[column(primary_key)]
    pub id: Option<i64>,
    #[column(foreign_key = "f_players.id")]
    pub player_id: Option<i64>,
    pub points: i64,
    #[relationship(back_populates = "stats")]
    pub player: BelongsTo<Player>,
}

const MODELS: [&orm_core::meta::ModelMeta; 3] = [Team::META, Player::META, Stat::META];

/// Two teams, three players, three stats.
async fn fixtures(t: &Fresh) {
    t.exec("INSERT INTO f_teams (id, name) VALUES (1, 'a'), (2, 'b')")
        .await;
    t.exec(
        "INSERT INTO f_players (id, team_id, name) VALUES (1, 1, 'p1'), (2, 1, 'p2'), (3, 2, 'p3')",
    )
    .await;
    t.exec("INSERT INTO f_stats (id, player_id, points) VALUES (1, 1, 10), (2, 1, 11), (3, 2, 20), (4, 3, 30)")
        .await;
}

/// Every row of the three tables, by key.
async fn snapshot(t: &Fresh) -> Vec<Vec<Vec<Value>>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id, name FROM f_teams ORDER BY id",
        "SELECT id, team_id, name FROM f_players ORDER BY id",
        "SELECT id, player_id, points FROM f_stats ORDER BY id",
    ] {
        out.push(t.rows(sql).await);
    }
    out
}

/// The handles whose states are checked.
struct Held {
    a: Handle<Team>,
    b: Handle<Team>,
    p1: Handle<Player>,
    p2: Handle<Player>,
    p4: Handle<Player>,
}

impl Held {
    fn states(&self, s: &Session) -> Vec<ObjectState> {
        vec![
            s.state(self.a),
            s.state(self.b),
            s.state(self.p1),
            s.state(self.p2),
            s.state(self.p4),
        ]
    }
}

/// Renames p1, removes p2 from team a (an orphan, with its stat), adds p4 with two stats to
/// team a, and deletes team b (with p3 and its stat): inserts, an update and cascaded deletes
/// in three tables, none flushed yet.
async fn edit(s: &mut Session) -> Result<Held> {
    let a = s.get::<Team>(1).await?.expect("team a");
    let b = s.get::<Team>(2).await?.expect("team b");
    let players = s.related(a, Team::PLAYERS).await?;
    let (p1, p2) = (players[0], players[1]);
    s.related(p2, Player::STATS).await?;
    s.write(p1).await?.name = "p1 renamed".into();
    s.remove(a, Team::PLAYERS, p2).await?;
    let mut p4 = Player {
        id: None,
        team_id: None,
        name: "p4".into(),
        team: BelongsTo::new(),
        stats: HasMany::new(),
    };
    for points in [40, 41] {
        p4.stats.push(Stat {
            id: None,
            player_id: None,
            points,
            player: BelongsTo::new(),
        });
    }
    let p4 = s.add(p4)?;
    s.append(a, Team::PLAYERS, p4).await?;
    s.delete(b)?;
    Ok(Held { a, b, p1, p2, p4 })
}

/// Runs the scenario with a fault at call `fault` of the edited flush (or none), with or
/// without an earlier flush in the same transaction; returns the calls the flush made.
async fn run(later_flush: bool, fault: Option<u64>) -> Result<u64> {
    let t = harness::pooled(&MODELS, 2).await;
    fixtures(&t).await;
    let before = snapshot(&t).await;
    let (db, faults) = faulty_database(t.raw.clone());
    let mut s = db.session();
    s.set_autoflush(false);
    let c = s.add(Team {
        id: Some(3),
        name: "c".into(),
        players: HasMany::new(),
    })?;
    if later_flush {
        s.flush().await?;
    } else {
        s.expunge(c)?;
    }
    let held = edit(&mut s).await?;
    let states = held.states(&s);
    match fault {
        Some(at) => faults.arm(at),
        None => faults.count_only(),
    }
    let flushed = s.flush().await;
    let calls = faults.calls();
    faults.count_only();
    if let (Some(at), Err(err)) = (fault, &flushed) {
        let context = format!("fault at call {at}, later flush: {later_flush}: {err}");
        assert!(err.to_string().contains("injected fault"), "{context}");
        assert_eq!(snapshot(&t).await, before, "committed rows, {context}");
        if later_flush && s.state(c) != ObjectState::Persistent {
            // The savepoint could not be taken on a database where a failure aborts the
            // transaction: the session gave the transaction up and says so; a commit then
            // claims nothing that is not stored.
            s.commit().await?;
            assert_eq!(snapshot(&t).await, before, "nothing claimed, {context}");
            return Ok(calls);
        }
        assert_eq!(held.states(&s), states, "object states, {context}");
        assert_eq!(s.read(held.p1).await?.name, "p1 renamed", "{context}");
    } else {
        flushed?;
    }
    // The same session, the fault gone, commits the same work.
    s.commit().await?;
    let after = snapshot(&t).await;
    let teams: Vec<Value> = after[0].iter().map(|r| r[1].clone()).collect();
    let expected_teams: Vec<Value> = match later_flush {
        true => vec!["a".into(), "c".into()],
        false => vec!["a".into()],
    };
    assert_eq!(teams, expected_teams, "fault {fault:?}");
    let players: Vec<Value> = after[1].iter().map(|r| r[2].clone()).collect();
    assert_eq!(
        players,
        vec![Value::from("p1 renamed"), "p4".into()],
        "fault {fault:?}"
    );
    let points: Vec<Value> = after[2].iter().map(|r| r[2].clone()).collect();
    let expected_points: Vec<Value> = [10, 11, 40, 41].map(Value::Integer).into();
    assert_eq!(points, expected_points, "fault {fault:?}");
    t.assert_consistent().await;
    Ok(calls)
}

orm_tests::backend_test! {
    /// The first flush of a transaction, failed at each of its calls in turn.
    #[tokio::test]
    async fn a_first_flush_failed_at_any_call_leaves_nothing_behind() -> Result<()> {
        let calls = run(false, None).await?;
        assert!(calls >= 6, "BEGIN, inserts, an update, deletes: {calls} calls");
        for at in 0..calls {
            run(false, Some(at)).await?;
        }
        Ok(())
    }
}

orm_tests::backend_test! {
    /// A later flush of a transaction, failed at each of its calls in turn: its savepoint undoes
    /// it alone, and the earlier flush's work is committed with the retry.
    #[tokio::test]
    async fn a_later_flush_failed_at_any_call_leaves_the_earlier_one() -> Result<()> {
        let calls = run(true, None).await?;
        assert!(calls >= 6, "SAVEPOINT, inserts, an update, deletes: {calls} calls");
        for at in 0..calls {
            run(true, Some(at)).await?;
        }
        Ok(())
    }
}
