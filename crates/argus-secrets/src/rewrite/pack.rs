//! A minimal pack writer, with the pack's `.idx`.
//!
//! Used twice by a rewrite: as a scratch pack that the new objects (replaced blobs, trees above
//! them, commits, tags) are appended to, undeltified and zlib-compressed, and read back by offset
//! (never given to git: no index); and for the output pack that `assemble` fills with whole
//! objects and `OFS_DELTA` entries. [`PackWriter::finish`] writes the version 2 index itself:
//! every entry's offset and CRC-32 are known as it is written, so nothing needs to be read back
//! and inflated again as `git index-pack` would. One sequential file beats hundreds of thousands
//! of loose-object files (one `open`/`write`/`rename` each) by a wide margin.
//!
//! Invariants: an object id is written at most once (duplicates would make an invalid pack); the
//! object count in the header and the trailing checksum are written by [`PackWriter::finish`], so
//! an unfinished pack is never left under a `pack-*.pack` name, and the `.idx` is renamed into
//! place only after its pack (git only looks at packs that have an index).

use gix::ObjectId;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// An entry of a scratch pack: id, offset, end.
pub(crate) type ScratchEntry = (ObjectId, u64, u64);

/// Appends objects to a temporary pack file in a repository's `objects/pack` folder.
pub(crate) struct PackWriter {
    file: BufWriter<File>,
    dir: PathBuf,
    tmp: PathBuf,
    hash: gix::hash::Kind,
    /// Bytes written so far (the offset of the next entry).
    pos: u64,
    /// Offset of every object written.
    written: gix::hashtable::HashMap<ObjectId, u64>,
    /// (id, offset, CRC-32 of the entry's header and compressed bytes) per entry.
    entries: Vec<(ObjectId, u64, u32)>,
    deflater: Deflater,
    zbuf: Vec<u8>,
}

/// A zlib compressor reused for every object one thread writes: a new stream allocates and
/// zeroes a few hundred KiB of tables (fresh pages, each faulted in), which for small trees,
/// commits and deltas cost more than compressing them; a reset only clears the hash table.
pub(crate) struct Deflater(flate2::Compress);

impl Deflater {
    pub(crate) fn new() -> Self {
        Deflater(flate2::Compress::new(flate2::Compression::fast(), true))
    }

    /// Compress `data` as one zlib stream into `out` (replacing its contents).
    pub(crate) fn deflate(&mut self, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        self.0.reset();
        out.clear();
        out.reserve(data.len() / 2 + 64);
        loop {
            let done = usize::try_from(self.0.total_in()).unwrap_or(usize::MAX);
            let rest = data.get(done..).unwrap_or(&[]);
            match self
                .0
                .compress_vec(rest, out, flate2::FlushCompress::Finish)
                .map_err(std::io::Error::other)?
            {
                flate2::Status::StreamEnd => return Ok(()),
                // The output is full: more room, and go on.
                _ => out.reserve(out.capacity().max(64)),
            }
        }
    }
}

/// Zlib-compress an object's bytes (callers do this in parallel, outside the writer's lock).
pub(crate) fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data)?;
    enc.finish()
}

/// The type code of an `OFS_DELTA` entry.
const OFS_DELTA: u8 = 6;

fn type_code(kind: gix::objs::Kind) -> u8 {
    match kind {
        gix::objs::Kind::Commit => 1,
        gix::objs::Kind::Tree => 2,
        gix::objs::Kind::Blob => 3,
        gix::objs::Kind::Tag => 4,
    }
}

/// A pack entry header: type and size, little-endian base-128 after the first 4 size bits.
fn entry_header(code: u8, size: usize) -> ([u8; 16], usize) {
    let mut header = [0u8; 16];
    let mut n = 0;
    let mut size = size as u64;
    let mut byte = (code << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        header[n] = byte | 0x80;
        n += 1;
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    header[n] = byte;
    (header, n + 1)
}

/// An `OFS_DELTA` base distance: big-endian base-128 where each continuation adds one (git's
/// encoding, so that every distance has exactly one form).
fn ofs_distance(mut distance: u64) -> ([u8; 10], usize) {
    let mut buf = [0u8; 10];
    let mut i = buf.len() - 1;
    buf[i] = (distance & 0x7f) as u8;
    distance >>= 7;
    while distance != 0 {
        distance -= 1;
        i -= 1;
        buf[i] = 0x80 | (distance & 0x7f) as u8;
        distance >>= 7;
    }
    let n = buf.len() - i;
    buf.copy_within(i.., 0);
    (buf, n)
}

/// The version 2 index of a pack: fan-out table, sorted ids, CRC-32s, offsets (31-bit, with a
/// table of 64-bit offsets for entries past 2 GiB), the pack's checksum and the index's own.
fn index_v2(
    hash: gix::hash::Kind,
    entries: &mut [(ObjectId, u64, u32)],
    pack_sum: &gix::oid,
) -> std::io::Result<Vec<u8>> {
    entries.sort_unstable_by_key(|e| e.0);
    let n = entries.len();
    let mut out = Vec::with_capacity(8 + 1024 + n * (hash.len_in_bytes() + 8) + 64);
    out.extend_from_slice(b"\xfftOc\0\0\0\x02");
    let mut fanout = [0u32; 256];
    for (id, _, _) in entries.iter() {
        fanout[usize::from(id.as_bytes()[0])] += 1;
    }
    let mut total = 0u32;
    for f in fanout {
        total += f;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for (id, _, _) in entries.iter() {
        out.extend_from_slice(id.as_bytes());
    }
    for (_, _, crc) in entries.iter() {
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for (_, offset, _) in entries.iter() {
        let small = if *offset < 0x8000_0000 {
            *offset as u32
        } else {
            let i = u32::try_from(large.len())
                .ok()
                .filter(|i| *i < 0x8000_0000)
                .ok_or_else(|| std::io::Error::other("too many large pack offsets"))?;
            large.push(*offset);
            0x8000_0000 | i
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_sum.as_bytes());
    let mut hasher = gix::hash::hasher(hash);
    hasher.update(&out);
    let sum = hasher
        .try_finalize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    out.extend_from_slice(sum.as_bytes());
    Ok(out)
}

impl PackWriter {
    /// Start a pack `tmp-argus-{name}.pack` in `pack_dir` (which must exist) for objects hashed
    /// with `hash`.
    pub(crate) fn create(
        pack_dir: &Path,
        name: &str,
        hash: gix::hash::Kind,
    ) -> std::io::Result<Self> {
        let tmp = pack_dir.join(format!("tmp-argus-{name}.pack"));
        // Read back by `finish` for the checksum.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mut file = BufWriter::with_capacity(1 << 20, file);
        // Signature, version 2, count (patched by `finish`).
        file.write_all(b"PACK\0\0\0\x02\0\0\0\0")?;
        Ok(PackWriter {
            file,
            dir: pack_dir.to_owned(),
            tmp,
            hash,
            pos: 12,
            written: Default::default(),
            entries: Vec::new(),
            deflater: Deflater::new(),
            zbuf: Vec::new(),
        })
    }

    /// Where object `id` was written, if it was.
    pub(crate) fn offset_of(&self, id: &gix::oid) -> Option<u64> {
        self.written.get(id).copied()
    }

    /// Append an entry made of `parts` (header, then data) for object `id`, unless `id` was
    /// written already.
    fn append(&mut self, id: ObjectId, parts: &[&[u8]]) -> std::io::Result<()> {
        if self.written.contains_key(&id) {
            return Ok(());
        }
        let mut crc = crc32fast::Hasher::new();
        let start = self.pos;
        for p in parts {
            crc.update(p);
            self.file.write_all(p)?;
            self.pos += p.len() as u64;
        }
        self.written.insert(id, start);
        self.entries.push((id, start, crc.finalize()));
        Ok(())
    }

    /// Append one object given its uncompressed size and its compressed bytes.
    pub(crate) fn add(
        &mut self,
        id: ObjectId,
        kind: gix::objs::Kind,
        size: usize,
        compressed: &[u8],
    ) -> std::io::Result<()> {
        let (header, n) = entry_header(type_code(kind), size);
        self.append(id, &[&header[..n], compressed])
    }

    /// Append a whole entry copied from another pack (an undeltified object: header and
    /// compressed bytes as they were).
    pub(crate) fn add_copied(&mut self, id: ObjectId, entry: &[u8]) -> std::io::Result<()> {
        self.append(id, &[entry])
    }

    /// Append object `id` as a delta against the object written at `base` (before the current
    /// position): `size` is the delta's inflated size, `compressed` its compressed bytes.
    pub(crate) fn add_delta(
        &mut self,
        id: ObjectId,
        base: u64,
        size: usize,
        compressed: &[u8],
    ) -> std::io::Result<()> {
        let distance = self
            .pos
            .checked_sub(base)
            .filter(|d| *d > 0)
            .ok_or_else(|| std::io::Error::other("delta base after its delta"))?;
        let (header, n) = entry_header(OFS_DELTA, size);
        let (ofs, m) = ofs_distance(distance);
        self.append(id, &[&header[..n], &ofs[..m], compressed])
    }

    /// Compress and append one object.
    pub(crate) fn add_raw(
        &mut self,
        id: ObjectId,
        kind: gix::objs::Kind,
        data: &[u8],
    ) -> std::io::Result<()> {
        if self.written.contains_key(&id) {
            return Ok(());
        }
        let mut z = std::mem::take(&mut self.zbuf);
        let result = self
            .deflater
            .deflate(data, &mut z)
            .and_then(|()| self.add(id, kind, data.len(), &z));
        self.zbuf = z;
        result
    }

    /// Compress and append a delta (its instructions `delta`) against the object written at
    /// `base`.
    pub(crate) fn add_delta_raw(
        &mut self,
        id: ObjectId,
        base: u64,
        delta: &[u8],
    ) -> std::io::Result<()> {
        if self.written.contains_key(&id) {
            return Ok(());
        }
        let mut z = std::mem::take(&mut self.zbuf);
        let result = self
            .deflater
            .deflate(delta, &mut z)
            .and_then(|()| self.add_delta(id, base, delta.len(), &z));
        self.zbuf = z;
        result
    }

    /// Close a scratch pack that is only read back by offset (never handed to git): its path and
    /// every entry as (id, offset, end), in file order.
    pub(crate) fn finish_scratch(self) -> std::io::Result<(PathBuf, Vec<ScratchEntry>)> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        let end = self.pos;
        let mut out = Vec::with_capacity(self.entries.len());
        for (i, &(id, offset, _)) in self.entries.iter().enumerate() {
            let next = self.entries.get(i + 1).map_or(end, |e| e.1);
            out.push((id, offset, next));
        }
        Ok((self.tmp, out))
    }

    /// Patch the count, append the checksum, give the pack its final name and write its index;
    /// the pack's path, or `None` (and no file left behind) when no object was written.
    pub(crate) fn finish(mut self) -> std::io::Result<Option<PathBuf>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        if self.entries.is_empty() {
            drop(file);
            std::fs::remove_file(&self.tmp)?;
            return Ok(None);
        }
        let count = u32::try_from(self.entries.len())
            .map_err(|_| std::io::Error::other("too many objects for one pack"))?;
        file.seek(SeekFrom::Start(8))?;
        file.write_all(&count.to_be_bytes())?;
        file.seek(SeekFrom::Start(0))?;
        let mut hasher = gix::hash::hasher(self.hash);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let sum = hasher
            .try_finalize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        file.seek(SeekFrom::End(0))?;
        file.write_all(sum.as_bytes())?;
        file.sync_all()?;
        drop(file);
        let path = self.dir.join(format!("pack-{sum}.pack"));
        std::fs::rename(&self.tmp, &path)?;
        let idx = index_v2(self.hash, &mut self.entries, &sum)?;
        let tmp_idx = self.tmp.with_extension("idx");
        let mut f = File::create(&tmp_idx)?;
        f.write_all(&idx)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp_idx, path.with_extension("idx"))?;
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The checks run the git CLI, as in `tests/common` (not product code).
    #[allow(clippy::disallowed_methods)]
    fn git(dir: &Path, args: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    #[test]
    fn written_pack_and_index_pass_git_verify_pack_and_fsck() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        assert!(git(repo, &["init", "-q", "--bare", "."]).0);
        let pack_dir = repo.join("objects/pack");
        let kind = gix::hash::Kind::Sha1;
        let mut w = PackWriter::create(&pack_dir, "t", kind).unwrap();
        let hash = |k, d: &[u8]| gix::objs::compute_hash(kind, k, d).unwrap();
        // A blob whose size needs several header bytes, a small one, a tree over both, a commit.
        let big: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let (b1, b2) = (
            hash(gix::objs::Kind::Blob, &big),
            hash(gix::objs::Kind::Blob, b"x\n"),
        );
        w.add_raw(b1, gix::objs::Kind::Blob, &big).unwrap();
        w.add_raw(b2, gix::objs::Kind::Blob, b"x\n").unwrap();
        // Written once even when added twice.
        w.add_raw(b2, gix::objs::Kind::Blob, b"x\n").unwrap();
        let mut tree = b"100644 big\0".to_vec();
        tree.extend_from_slice(b1.as_bytes());
        tree.extend_from_slice(b"100644 x\0");
        tree.extend_from_slice(b2.as_bytes());
        let t = hash(gix::objs::Kind::Tree, &tree);
        w.add_raw(t, gix::objs::Kind::Tree, &tree).unwrap();
        let commit = format!("tree {t}\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nm\n");
        let c = hash(gix::objs::Kind::Commit, commit.as_bytes());
        w.add_raw(c, gix::objs::Kind::Commit, commit.as_bytes())
            .unwrap();
        let pack = w.finish().unwrap().unwrap();
        let idx = pack.with_extension("idx");
        assert!(idx.exists());
        let leftovers: Vec<_> = std::fs::read_dir(&pack_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        let (ok, text) = git(repo, &["verify-pack", "-v", idx.to_str().unwrap()]);
        assert!(ok, "verify-pack: {text}");
        assert!(text.contains(&format!("{b1} blob")), "{text}");
        assert!(text.contains("non delta: 4 objects"), "{text}");
        assert!(git(repo, &["update-ref", "refs/heads/main", &c.to_string()]).0);
        let (ok, text) = git(repo, &["fsck", "--full", "--strict"]);
        assert!(ok && !text.contains("dangling"), "fsck: {text}");
        let (ok, text) = git(repo, &["cat-file", "-p", &format!("{c}:x")]);
        assert!(ok && text == "x\n", "{text}");
        // gix reads it too (the same index a later rewrite of this output would use).
        let gix_repo = gix::open(repo).unwrap();
        assert_eq!(gix_repo.find_object(b1).unwrap().data, big);
    }

    #[test]
    fn a_reused_deflater_gives_streams_that_inflate_back() {
        let mut d = Deflater::new();
        let mut z = Vec::new();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
        for data in [&b"tree"[..], &big, b"", b"commit"] {
            d.deflate(data, &mut z).unwrap();
            let mut back = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&z[..]), &mut back)
                .unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn an_empty_pack_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let w = PackWriter::create(dir.path(), "t", gix::hash::Kind::Sha1).unwrap();
        assert!(w.finish().unwrap().is_none());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn entry_headers_encode_type_and_size() {
        let (h, n) = entry_header(type_code(gix::objs::Kind::Blob), 5);
        assert_eq!(&h[..n], &[0x35]);
        let (h, n) = entry_header(type_code(gix::objs::Kind::Commit), 0x1234);
        // 0x1234: low nibble 4 (with the type and a continuation bit), then 0x123 in 7-bit
        // groups, least significant first: 0x23, 0x02.
        assert_eq!(&h[..n], &[0x80 | 0x10 | 0x4, 0x80 | 0x23, 0x02]);
    }

    #[test]
    fn ofs_distances_use_gits_encoding() {
        let enc = |d| {
            let (b, n) = ofs_distance(d);
            b[..n].to_vec()
        };
        assert_eq!(enc(1), [0x01]);
        assert_eq!(enc(127), [0x7f]);
        // 128 = (0 + 1) << 7 | 0.
        assert_eq!(enc(128), [0x80, 0x00]);
        // Decoded as gix decodes it.
        for d in [1u64, 127, 128, 300, 16_511, 16_512, 1 << 40] {
            let bytes = enc(d);
            let mut v = u64::from(bytes[0] & 0x7f);
            for b in &bytes[1..] {
                v = ((v + 1) << 7) | u64::from(b & 0x7f);
            }
            assert_eq!(v, d);
        }
    }

    #[test]
    fn large_offsets_go_to_the_64_bit_table() {
        let id = |b: u8| ObjectId::from_bytes_or_panic(&[b; 20]);
        let mut entries = vec![(id(9), 0x1_0000_0000, 7), (id(1), 12, 3)];
        let sum = ObjectId::from_bytes_or_panic(&[0xab; 20]);
        let idx = index_v2(gix::hash::Kind::Sha1, &mut entries, &sum).unwrap();
        let n = 2;
        let ids_at = 8 + 1024;
        let crc_at = ids_at + n * 20;
        let off_at = crc_at + n * 4;
        let large_at = off_at + n * 4;
        assert_eq!(
            &idx[8 + 4 * 8..8 + 4 * 9],
            &1u32.to_be_bytes(),
            "fan-out of 0x08"
        );
        assert_eq!(
            &idx[8 + 4 * 9..8 + 4 * 10],
            &2u32.to_be_bytes(),
            "fan-out of 0x09"
        );
        assert_eq!(&idx[8 + 4..8 + 8], &1u32.to_be_bytes(), "fan-out of 0x01");
        assert_eq!(&idx[ids_at..ids_at + 20], &[1; 20]);
        assert_eq!(&idx[crc_at..crc_at + 4], &3u32.to_be_bytes());
        assert_eq!(&idx[off_at..off_at + 4], &12u32.to_be_bytes());
        assert_eq!(&idx[off_at + 4..off_at + 8], &0x8000_0000u32.to_be_bytes());
        assert_eq!(
            &idx[large_at..large_at + 8],
            &0x1_0000_0000u64.to_be_bytes()
        );
        assert_eq!(&idx[large_at + 8..large_at + 28], &[0xab; 20]);
        assert_eq!(idx.len(), large_at + 8 + 20 + 20);
    }
}
