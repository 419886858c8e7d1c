//! ZooKeeper's data on disk, read before ZooKeeper starts: which snapshot it will load and
//! whether the transactions it will replay after it run without a gap.
//!
//! ZooKeeper 3.8.0 (Debian 12's) can leave a gap in a follower's transaction log when the
//! follower restarts soon after a DIFF synchronisation (ZOOKEEPER-4646, -4785). Started on such
//! a log, the server replays a tree without the missing writes; elected, it spreads the loss to
//! every member it synchronises. ZooKeeper itself only counts digest mismatches, after the fact.
//!
//! Zxids are `epoch << 32 | counter`; within an epoch a leader numbers its transactions
//! 1, 2, 3, ..., and every server logs them in order (a server that missed some gets them from
//! the leader as a DIFF, or a snapshot, before it goes on). So, from the snapshot ZooKeeper
//! loads, each next transaction is either the next counter of the same epoch or the first of a
//! later epoch. Anything else is a gap.
//!
//! Formats (ZooKeeper's `FileTxnLog` and `FileSnap`, Jute big-endian): a log file is a header
//! (`ZKLG` magic, version, dbid) and records of Adler-32 checksum (8 bytes), length (4),
//! the transaction (its header: client id 8, cxid 4, zxid 8, time 8, type 4; then the body) and
//! an end-of-record `B`. Preallocated space reads as length 0. A snapshot is valid when it ends
//! with a sealed `/` (the last five bytes are the string length 1 and `/`); ZooKeeper loads the
//! newest valid one, then the log file that holds the snapshot's zxid and every later one.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The log's magic number, `ZKLG`.
const LOG_MAGIC: [u8; 4] = *b"ZKLG";

/// A hole in what ZooKeeper would replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The last zxid replayed before the hole (the snapshot's, or a transaction's).
    pub after: u64,
    /// The next zxid found.
    pub next: u64,
    /// The log file that holds `next`.
    pub file: PathBuf,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "after zxid {:#x} the next transaction is {:#x} ({})",
            self.after,
            self.next,
            self.file.display()
        )
    }
}

/// What ZooKeeper would load at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The zxid of the newest valid snapshot.
    pub snapshot: Option<u64>,
    /// The last zxid replayed after it.
    pub last: Option<u64>,
    /// Transactions replayed after the snapshot.
    pub replayed: usize,
    /// The first gap, if any.
    pub gap: Option<Gap>,
}

/// `epoch << 32 | counter` → (epoch, counter).
fn split(zxid: u64) -> (u64, u64) {
    (zxid >> 32, zxid & 0xffff_ffff)
}

/// Whether `next` may follow `prev` in a server's replay.
pub fn follows(prev: u64, next: u64) -> bool {
    let ((pe, _), (ne, nc)) = (split(prev), split(next));
    (ne == pe && next == prev + 1) || (ne > pe && nc == 1)
}

/// Whether `name` is exactly one of ZooKeeper's data files: `log.<hex>`, `snapshot.<hex>`, or
/// a compressed snapshot (`.gz`, `.snappy`). Stricter than [`zxid_of`], which only reads the
/// zxid: nothing else may follow (a backup manifest's names become paths).
pub fn is_data_file(name: &str) -> bool {
    let named = |prefix: &str, suffixes: &[&str]| {
        let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            return false;
        };
        let (hex, suffix) = rest.split_once('.').unwrap_or((rest, ""));
        !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_hexdigit())
            && (suffix.is_empty() || suffixes.contains(&suffix))
    };
    named("log", &[]) || named("snapshot", &["gz", "snappy"])
}

/// The zxid in a `snapshot.<hex>` / `log.<hex>` file name (compression suffixes allowed).
fn zxid_of(name: &str, prefix: &str) -> Option<u64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    let hex = rest.split('.').next()?;
    u64::from_str_radix(hex, 16).ok()
}

/// Files named `<prefix>.<zxid>` in `dirs`, sorted by zxid.
fn files(dirs: &[PathBuf], prefix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        };
        for entry in entries {
            let entry = entry?;
            if let Some(z) = entry.file_name().to_str().and_then(|n| zxid_of(n, prefix)) {
                out.push((z, entry.path()));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether a snapshot is one ZooKeeper would load: sealed with `/` (uncompressed), or
/// compressed (not checked here, as ZooKeeper's own check only reads the file). Only the last
/// five bytes are read: a snapshot can be gigabytes.
fn valid_snapshot(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".gz") || name.ends_with(".snappy") {
        return true;
    }
    let sealed = || -> io::Result<bool> {
        let mut f = File::open(path)?;
        if f.metadata()?.len() < 10 {
            return Ok(false);
        }
        f.seek(SeekFrom::End(-5))?;
        let mut tail = [0u8; 5];
        f.read_exact(&mut tail)?;
        Ok(tail == [0, 0, 0, 1, b'/'])
    };
    sealed().unwrap_or(false)
}

/// Reads the zxids of one log file, in order, up to its end (preallocated zeros, a torn or
/// corrupt last record: where ZooKeeper stops too).
fn log_zxids(path: &Path) -> io::Result<Vec<u64>> {
    Ok(read_log(path)?.0)
}

/// The zxids of one log file and the length of its valid part (header and whole records).
fn read_log(path: &Path) -> io::Result<(Vec<u64>, u64)> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut header = [0u8; 16];
    if r.read_exact(&mut header).is_err() || header[..4] != LOG_MAGIC {
        return Ok((Vec::new(), 0));
    }
    let mut zxids = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut end = 16u64;
    loop {
        let mut head = [0u8; 12];
        if r.read_exact(&mut head).is_err() {
            break;
        }
        let crc = u64::from_be_bytes(head[..8].try_into().unwrap());
        let len = i32::from_be_bytes(head[8..].try_into().unwrap());
        if len < 20 {
            break;
        }
        let Some((adler, zxid)) = read_txn(&mut r, len as usize, &mut chunk) else {
            break;
        };
        if u64::from(adler) != crc {
            break;
        }
        let mut eor = [0u8; 1];
        if r.read_exact(&mut eor).is_err() || eor[0] != b'B' {
            break;
        }
        zxids.push(zxid);
        end += 12 + len as u64 + 1;
    }
    Ok((zxids, end))
}

/// How much of a record is read at a time.
const CHUNK: usize = 64 * 1024;

/// One record's transaction of `len` bytes, read `chunk` by `chunk`: its Adler-32 and its zxid
/// (bytes 12..20); `None` when the file ends first. Never more than a chunk in memory, so a
/// corrupt length (up to 2^31 - 1) costs a read to the end of the file, not its size in
/// memory. (ZooKeeper refuses a record over jute.maxbuffer plus its extra size, 2 MiB by
/// default, but an operator may raise both, so no cap is assumed here.)
fn read_txn(r: &mut impl Read, len: usize, chunk: &mut [u8]) -> Option<(u32, u64)> {
    let mut adler = adler2::Adler32::new();
    let mut head = [0u8; 20];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        r.read_exact(&mut chunk[..n]).ok()?;
        if done < head.len() {
            let k = (head.len() - done).min(n);
            head[done..done + k].copy_from_slice(&chunk[..k]);
        }
        adler.write_slice(&chunk[..n]);
        done += n;
    }
    Some((
        adler.checksum(),
        u64::from_be_bytes(head[12..20].try_into().unwrap()),
    ))
}

/// The highest zxid the data in `dirs` holds: the newest snapshot's or any logged
/// transaction's, a gap or not (`None`: no data).
pub fn last_zxid(dirs: &[PathBuf]) -> io::Result<Option<u64>> {
    let mut last = files(dirs, "snapshot")?.into_iter().map(|(z, _)| z).max();
    for (_, path) in files(dirs, "log")? {
        if let Some(z) = log_zxids(&path)?.into_iter().max() {
            last = Some(last.map_or(z, |l| l.max(z)));
        }
    }
    Ok(last)
}

/// What a backup copies: the snapshot ZooKeeper would load and the logs it would replay after
/// it, each log cut to its valid part (ZooKeeper preallocates 64 MiB of zeros).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPlan {
    /// The snapshot file and its zxid.
    pub snapshot: (PathBuf, u64),
    /// Log files and the bytes of each to copy.
    pub logs: Vec<(PathBuf, u64)>,
    /// The last zxid the copy holds.
    pub last: u64,
}

/// [`BackupPlan`] for the data in `dirs`; `None` without a valid snapshot.
pub fn backup_plan(dirs: &[PathBuf]) -> io::Result<Option<BackupPlan>> {
    let Some((s, snap)) = files(dirs, "snapshot")?
        .into_iter()
        .rev()
        .find(|(_, p)| valid_snapshot(p))
    else {
        return Ok(None);
    };
    let logs = files(dirs, "log")?;
    let first = logs.iter().rposition(|(z, _)| *z <= s).unwrap_or(0);
    let mut plan = BackupPlan {
        snapshot: (snap, s),
        logs: Vec::new(),
        last: s,
    };
    for (_, path) in &logs[first..] {
        let (zxids, end) = read_log(path)?;
        if let Some(&z) = zxids.iter().filter(|z| **z > s).max() {
            plan.last = plan.last.max(z);
            plan.logs.push((path.clone(), end));
        }
    }
    Ok(Some(plan))
}

/// Scans the `version-2` directories (dataDir's and dataLogDir's) as ZooKeeper would load them.
pub fn scan(dirs: &[PathBuf]) -> io::Result<Scan> {
    let snapshot = files(dirs, "snapshot")?
        .into_iter()
        .rev()
        .find(|(_, p)| valid_snapshot(p))
        .map(|(z, _)| z);
    let mut scan = Scan {
        snapshot,
        ..Scan::default()
    };
    // Without a snapshot ZooKeeper either starts empty or refuses: nothing to check.
    let Some(s) = snapshot else {
        return Ok(scan);
    };
    let logs = files(dirs, "log")?;
    // The log that holds the snapshot's zxid (the newest that starts at or before it), and on.
    let first = logs.iter().rposition(|(z, _)| *z <= s).unwrap_or(0);
    let mut prev = s;
    for (_, path) in &logs[first..] {
        for z in log_zxids(path)? {
            if z <= prev {
                continue;
            }
            if !follows(prev, z) {
                scan.gap = Some(Gap {
                    after: prev,
                    next: z,
                    file: path.clone(),
                });
                return Ok(scan);
            }
            prev = z;
            scan.last = Some(z);
            scan.replayed += 1;
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    /// A log file as ZooKeeper writes it: header, records, preallocated zeros.
    fn log(zxids: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&LOG_MAGIC);
        out.extend_from_slice(&2i32.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        for &z in zxids {
            let mut txn = Vec::new();
            txn.extend_from_slice(&0x1234i64.to_be_bytes()); // client id
            txn.extend_from_slice(&7i32.to_be_bytes()); // cxid
            txn.extend_from_slice(&z.to_be_bytes());
            txn.extend_from_slice(&0i64.to_be_bytes()); // time
            txn.extend_from_slice(&1i32.to_be_bytes()); // type: create
            txn.extend_from_slice(b"body");
            out.extend_from_slice(&u64::from(adler2::adler32_slice(&txn)).to_be_bytes());
            out.extend_from_slice(&(txn.len() as i32).to_be_bytes());
            out.extend_from_slice(&txn);
            out.push(b'B');
        }
        out.extend_from_slice(&[0u8; 64]);
        out
    }

    fn snapshot() -> Vec<u8> {
        let mut s = vec![9u8; 40];
        s.extend_from_slice(&[0, 0, 0, 1, b'/']);
        s
    }

    fn dir(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(d.path().join(name), bytes).unwrap();
        }
        d
    }

    /// The largest single allocation this thread asked for since [`largest_reset`]: reading
    /// ZooKeeper's files must not cost memory in proportion to what a corrupt header claims.
    mod largest {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        struct Tracking;

        thread_local! {
            static LARGEST: Cell<usize> = const { Cell::new(0) };
        }

        // SAFETY: every call is passed on to the system allocator unchanged; the thread-local
        // is a const-initialised Cell, which neither allocates nor has a destructor.
        unsafe impl GlobalAlloc for Tracking {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
                unsafe { System.alloc(layout) }
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                unsafe { System.dealloc(ptr, layout) }
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
                unsafe { System.realloc(ptr, layout, new_size) }
            }
        }

        #[global_allocator]
        static TRACKING: Tracking = Tracking;

        pub fn reset() {
            LARGEST.with(|l| l.set(0));
        }

        pub fn get() -> usize {
            LARGEST.with(Cell::get)
        }
    }

    #[test]
    fn a_corrupt_length_or_a_huge_snapshot_costs_no_memory() {
        // A record whose length field claims 2^31 - 1 bytes, after one good record.
        let mut bytes = log(&[E5 + 1]);
        bytes.truncate(bytes.len() - 64);
        bytes.extend_from_slice(&0x0102_0304u64.to_be_bytes());
        bytes.extend_from_slice(&i32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[7u8; 4096]);
        // A sealed snapshot of 64 MiB (sparse: nothing is written but its end).
        let d = dir(&[("log.500000001", bytes)]);
        let snap = d.path().join("snapshot.500000000");
        let mut f = File::create(&snap).unwrap();
        f.set_len(64 << 20).unwrap();
        f.seek(SeekFrom::End(-5)).unwrap();
        std::io::Write::write_all(&mut f, &[0, 0, 0, 1, b'/']).unwrap();
        drop(f);

        largest::reset();
        let s = scan(&[d.path().to_path_buf()]).unwrap();
        let largest = largest::get();
        assert_eq!(s.snapshot, Some(E5));
        assert_eq!(s.last, Some(E5 + 1), "the log ends at the corrupt record");
        assert_eq!(s.gap, None);
        assert!(
            largest <= 1 << 20,
            "reading asked for {largest} bytes at once"
        );
    }

    const E5: u64 = 5 << 32;
    const E6: u64 = 6 << 32;

    #[test]
    fn data_file_names_are_zookeepers_own_and_nothing_more() {
        for ok in [
            "log.100000001",
            "snapshot.100000000",
            "snapshot.1a.gz",
            "snapshot.1a.snappy",
        ] {
            assert!(is_data_file(ok), "{ok}");
        }
        for bad in [
            "log.",
            "log.1.gz",
            "snapshot.1./../../x",
            "log.1/../x",
            "../../x",
            "/tmp/x",
            "zoo.cfg",
            "snapshot.xyz",
            "snapshot.1.zip",
        ] {
            assert!(!is_data_file(bad), "{bad}");
        }
    }

    #[test]
    fn next_transactions_follow_in_an_epoch_or_open_a_later_one() {
        assert!(follows(E5 + 3, E5 + 4));
        assert!(follows(E5, E5 + 1));
        assert!(follows(E5 + 3, E6 + 1));
        assert!(follows(E5 + 3, (9 << 32) + 1));
        assert!(!follows(E5 + 3, E5 + 5));
        assert!(!follows(E5 + 3, E6 + 2));
        assert!(!follows(E6 + 3, E5 + 4));
    }

    #[test]
    fn a_contiguous_replay_across_files_and_epochs_has_no_gap() {
        let d = dir(&[
            ("snapshot.500000002", snapshot()),
            ("log.500000001", log(&[E5 + 1, E5 + 2, E5 + 3])),
            ("log.500000004", log(&[E5 + 4, E6 + 1, E6 + 2])),
        ]);
        let scan = scan(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(scan.snapshot, Some(E5 + 2));
        assert_eq!(scan.last, Some(E6 + 2));
        assert_eq!(scan.replayed, 4);
        assert_eq!(scan.gap, None);
    }

    #[test]
    fn a_missing_log_file_between_the_snapshot_and_the_next_is_a_gap() {
        let d = dir(&[
            ("snapshot.500000002", snapshot()),
            ("log.500000001", log(&[E5 + 1, E5 + 2, E5 + 3])),
            // log.500000004 (E5+4 .. E5+6) is gone
            ("log.500000007", log(&[E5 + 7, E5 + 8])),
        ]);
        let scan = scan(&[d.path().to_path_buf()]).unwrap();
        let gap = scan.gap.expect("a gap");
        assert_eq!((gap.after, gap.next), (E5 + 3, E5 + 7));
        assert!(gap.file.ends_with("log.500000007"), "{gap}");
    }

    #[test]
    fn a_hole_inside_one_file_is_a_gap() {
        let d = dir(&[
            ("snapshot.500000000", snapshot()),
            ("log.500000001", log(&[E5 + 1, E5 + 2, E5 + 9, E5 + 10])),
        ]);
        let gap = scan(&[d.path().to_path_buf()]).unwrap().gap.expect("a gap");
        assert_eq!((gap.after, gap.next), (E5 + 2, E5 + 9));
    }

    #[test]
    fn the_newest_valid_snapshot_is_the_one_replayed_from() {
        // The newest snapshot is torn (not sealed): ZooKeeper falls back to the older one, and
        // so must the check (the log after the older one is complete).
        let d = dir(&[
            ("snapshot.500000001", snapshot()),
            ("snapshot.500000003", vec![1, 2, 3]),
            ("log.500000001", log(&[E5 + 1, E5 + 2, E5 + 3, E5 + 4])),
        ]);
        let scan = scan(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(scan.snapshot, Some(E5 + 1));
        assert_eq!((scan.replayed, scan.gap), (3, None));
    }

    #[test]
    fn a_torn_or_corrupt_last_record_ends_the_file_as_it_does_for_zookeeper() {
        let mut torn = log(&[E5 + 1, E5 + 2]);
        torn.truncate(torn.len() - 64 - 10);
        let mut corrupt = log(&[E5 + 1, E5 + 2]);
        let at = corrupt.len() - 64 - 8;
        corrupt[at] ^= 0xff;
        for bytes in [torn, corrupt] {
            let d = dir(&[("snapshot.500000000", snapshot()), ("log.500000001", bytes)]);
            let scan = scan(&[d.path().to_path_buf()]).unwrap();
            assert_eq!((scan.last, scan.gap), (Some(E5 + 1), None));
        }
    }

    #[test]
    fn a_backup_takes_the_loaded_snapshot_and_the_valid_part_of_the_logs_after_it() {
        let d = dir(&[
            ("snapshot.500000001", snapshot()),
            ("snapshot.500000003", snapshot()),
            ("log.500000001", log(&[E5 + 1, E5 + 2, E5 + 3, E5 + 4])),
            ("log.500000005", log(&[E5 + 5, E5 + 6])),
        ]);
        let plan = backup_plan(&[d.path().to_path_buf()]).unwrap().unwrap();
        assert_eq!(plan.snapshot.1, E5 + 3);
        assert_eq!(plan.last, E5 + 6);
        let names: Vec<String> = plan
            .logs
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["log.500000001", "log.500000005"]);
        // Cut before the preallocated zeros: a file of exactly the records.
        let (_, len) = &plan.logs[1];
        assert_eq!(*len as usize, log(&[E5 + 5, E5 + 6]).len() - 64);
        let d = dir(&[("log.500000001", log(&[E5 + 1]))]);
        assert_eq!(backup_plan(&[d.path().to_path_buf()]).unwrap(), None);
    }

    #[test]
    fn no_data_or_no_snapshot_says_nothing() {
        let d = dir(&[]);
        assert_eq!(
            scan(&[d.path().join("version-2")]).unwrap(),
            Scan::default()
        );
        let d = dir(&[("log.500000001", log(&[E5 + 1, E5 + 5]))]);
        assert_eq!(scan(&[d.path().to_path_buf()]).unwrap().gap, None);
    }

    #[test]
    fn snapshots_and_logs_in_separate_directories_are_read_together() {
        let snaps = dir(&[("snapshot.500000000", snapshot())]);
        let logs = dir(&[("log.500000001", log(&[E5 + 1, E5 + 3]))]);
        let scan = scan(&[snaps.path().to_path_buf(), logs.path().to_path_buf()]).unwrap();
        assert_eq!(scan.gap.map(|g| (g.after, g.next)), Some((E5 + 1, E5 + 3)));
    }
}
