//! The peers of the cascade benchmark (issue 14): Diesel and SeaORM doing the project's SQLite
//! workload (`tests/benches/cascade.rs`) idiomatically, measured the way the project measures
//! its ORM and floor sides.
//!
//! ```text
//! cargo run --release -- --op load --shape S,M   # a table
//! cargo run --release -- --json                  # one JSON object per line
//! ```
//!
//! Flags: `--op NAME` (insert, delete-cascade, delete-orphan, load, update; repeatable or
//! comma-separated; default all), `--shape S|M|L` (default all three), `--peer
//! diesel|seaorm` (default both), `--runs N` (timed runs per peer, default 5, after one
//! warm-up), `--json`, `--backend sqlite` (the only one; accepted so the project's command
//! line can be reused).
//!
//! Every run (warm-up or timed, either peer) gets a new SQLite file (WAL, synchronous=NORMAL,
//! foreign keys on) with the project's schema and, for every op but insert, the whole tree
//! inserted and checkpointed before a new connection is opened for the peer; setup is not
//! timed. Peers alternate run by run, as the project's sides do. After every run the database
//! is checked as the project's bench checks it; a wrong result fails the run.

mod diesel_peer;
mod seaorm_peer;
mod workload;

use peak_alloc::PeakAlloc;
use std::time::Duration;
use workload::{Done, Fresh, Op, Res, Sample, Shape, OPS, SHAPES};

/// The project's bench runs on this allocator wrapper (two atomics per allocation); so do
/// the peers, for the same cost per allocation and the same peak-heap number.
#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Diesel,
    SeaOrm,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Diesel => "diesel",
            Peer::SeaOrm => "seaorm",
        }
    }
}

const PEERS: [Peer; 2] = [Peer::Diesel, Peer::SeaOrm];

#[derive(Debug)]
struct Options {
    ops: Vec<Op>,
    shapes: Vec<Shape>,
    peers: Vec<Peer>,
    runs: usize,
    warmups: usize,
    json: bool,
}

/// Adds each comma-separated name of `value` that `find` knows to `out` (once).
fn push_names<T: PartialEq + Copy>(
    value: &str,
    out: &mut Vec<T>,
    find: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<(), String> {
    for name in value.split(',') {
        let item = find(name.trim()).ok_or_else(|| format!("unknown {what} `{name}`"))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(())
}

fn parse_args() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = Options {
        ops: Vec::new(),
        shapes: Vec::new(),
        peers: Vec::new(),
        runs: 5,
        warmups: 1,
        json: false,
    };
    let mut i = 0;
    while i < args.len() {
        let (flag, inline) = match args[i].split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (args[i].clone(), None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--json" => opts.json = true,
            "--op" => push_names(
                &value()?,
                &mut opts.ops,
                |n| OPS.into_iter().find(|o| o.name() == n),
                "op",
            )?,
            "--shape" => push_names(
                &value()?,
                &mut opts.shapes,
                |n| SHAPES.into_iter().find(|s| s.name.eq_ignore_ascii_case(n)),
                "shape (S, M or L)",
            )?,
            "--peer" => push_names(
                &value()?,
                &mut opts.peers,
                |n| PEERS.into_iter().find(|p| p.name().eq_ignore_ascii_case(n)),
                "peer (diesel or seaorm)",
            )?,
            "--runs" => {
                let v = value()?;
                opts.runs = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--runs needs a positive number, not `{v}`"))?;
            }
            "--backend" => {
                let v = value()?;
                if !v.eq_ignore_ascii_case("sqlite") {
                    return Err(format!("the peers run on SQLite only, not `{v}`"));
                }
            }
            // `cargo bench`-style invocations pass it; nothing to do.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument `{other}`; flags: --op NAME, --shape S|M|L, \
                     --peer diesel|seaorm, --runs N, --json, --backend sqlite"
                ))
            }
        }
        i += 1;
    }
    if opts.ops.is_empty() {
        opts.ops = OPS.to_vec();
    }
    if opts.shapes.is_empty() {
        opts.shapes = SHAPES.to_vec();
    }
    if opts.peers.is_empty() {
        opts.peers = PEERS.to_vec();
    }
    Ok(opts)
}

/// One run of one peer on a database of its own (removed afterwards), checked.
fn one_run(
    rt: &tokio::runtime::Runtime,
    peer: Peer,
    op: Op,
    shape: Shape,
    first: &mut bool,
) -> Res<Sample> {
    let fresh = Fresh::new()?;
    workload::setup(&fresh, op, shape, std::mem::take(first))?;
    let (sample, done): (Sample, Done) = match peer {
        Peer::Diesel => diesel_peer::run(op, shape, &fresh)?,
        Peer::SeaOrm => rt.block_on(seaorm_peer::run(op, shape, &fresh))?,
    };
    workload::check(&fresh, shape, &done).map_err(|e| {
        format!(
            "{} {} {}: wrong result: {e}",
            peer.name(),
            op.name(),
            shape.name
        )
    })?;
    Ok(sample)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The median time; the statement count (the same every run, else the largest, with a note).
fn summarize(peer: Peer, op: Op, shape: Shape, samples: &[Sample]) -> Sample {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.time).collect();
    times.sort();
    let stmts: Vec<u64> = samples.iter().map(|s| s.stmts).collect();
    let max = stmts.iter().copied().max().unwrap_or(0);
    if stmts.iter().any(|&n| n != max) {
        eprintln!(
            "note: {} {} {}: statement counts differ between runs: {stmts:?}",
            peer.name(),
            op.name(),
            shape.name
        );
    }
    let mut peaks: Vec<usize> = samples.iter().map(|s| s.peak).collect();
    peaks.sort();
    Sample {
        time: times[times.len() / 2],
        stmts: max,
        peak: peaks[peaks.len() / 2],
    }
}

/// Every peer on one (op, shape): warm-ups then timed runs, peers alternating; medians.
fn bench(
    rt: &tokio::runtime::Runtime,
    opts: &Options,
    op: Op,
    shape: Shape,
) -> Res<Vec<(Peer, Sample)>> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); opts.peers.len()];
    let mut first = true;
    for run in 0..opts.warmups + opts.runs {
        let warm = run < opts.warmups;
        for (k, &peer) in opts.peers.iter().enumerate() {
            let sample = one_run(rt, peer, op, shape, &mut first)?;
            eprintln!(
                "  {:<14} {:<2} {:<6} {} {:>10.1} ms {:>7} stmts",
                op.name(),
                shape.name,
                peer.name(),
                if warm { "warm-up" } else { "run    " },
                ms(sample.time),
                sample.stmts
            );
            if !warm {
                samples[k].push(sample);
            }
        }
    }
    Ok(opts
        .peers
        .iter()
        .zip(&samples)
        .map(|(&peer, s)| (peer, summarize(peer, op, shape, s)))
        .collect())
}

fn main() {
    let opts = match parse_args() {
        Ok(opts) => opts,
        Err(message) => {
            eprintln!("peers bench: {message}");
            std::process::exit(2);
        }
    };
    // One thread, as the project's bench runs its sides (sqlx's SQLite worker threads aside).
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peers bench: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    let version = workload::sqlite_version().unwrap_or_else(|_| "?".to_owned());
    eprintln!(
        "peers bench on SQLite {version}: {} warm-up + {} timed run(s) per peer, each on a \
         fresh SQLite file (WAL, synchronous=NORMAL, foreign keys on)",
        opts.warmups, opts.runs
    );
    let mut failures = 0;
    let mut rows = Vec::new();
    for &op in &opts.ops {
        for &shape in &opts.shapes {
            match bench(&rt, &opts, op, shape) {
                Ok(results) => {
                    for (peer, s) in results {
                        if opts.json {
                            println!(
                                "{{\"backend\":\"sqlite\",\"sqlite\":\"{version}\",\"peer\":\"{}\",\
                                 \"op\":\"{}\",\"shape\":\"{}\",\"ms\":{:.3},\"statements\":{},\
                                 \"peak_heap_bytes\":{},\"runs\":{}}}",
                                peer.name(),
                                op.name(),
                                shape.name,
                                ms(s.time),
                                s.stmts,
                                s.peak,
                                opts.runs
                            );
                        }
                        rows.push((op, shape, peer, s));
                    }
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("FAILED: {} {}: {e}", op.name(), shape.name);
                }
            }
        }
    }
    if !opts.json {
        println!("\npeers on SQLite {version}");
        println!(
            "{:<14}  {:<5}  {:<6}  {:>10}  {:>7}  {:>10}",
            "op", "shape", "peer", "ms", "stmts", "peak heap"
        );
        for (op, shape, peer, s) in rows {
            println!(
                "{:<14}  {:<5}  {:<6}  {:>10.1}  {:>7}  {:>10}",
                op.name(),
                shape.name,
                peer.name(),
                ms(s.time),
                s.stmts,
                mib(s.peak)
            );
        }
        println!("(medians of {} run(s) per peer)", opts.runs);
    }
    if failures > 0 {
        eprintln!("peers bench: {failures} benchmark(s) FAILED (see the messages above)");
        std::process::exit(1);
    }
}
