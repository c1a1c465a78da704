//! A minimal pack writer for the objects a rewrite creates.
//!
//! New objects (replaced blobs, trees above them, commits, tags) are appended, undeltified and
//! zlib-compressed, to one pack file; `git index-pack` then indexes it and the final repack deltas
//! them against everything else. One sequential file beats hundreds of thousands of loose-object
//! files (one `open`/`write`/`rename` each) by a wide margin.
//!
//! Invariants: an object id is written at most once (duplicates would make a pack `index-pack`
//! refuses); the object count in the header and the trailing checksum are written by
//! [`PackWriter::finish`], so an unfinished pack is never left under a `pack-*.pack` name.

use gix::ObjectId;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Appends objects to a temporary pack file in a repository's `objects/pack` folder.
pub(crate) struct PackWriter {
    file: BufWriter<File>,
    dir: PathBuf,
    tmp: PathBuf,
    count: u32,
    written: HashSet<ObjectId>,
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

fn type_code(kind: gix::objs::Kind) -> u8 {
    match kind {
        gix::objs::Kind::Commit => 1,
        gix::objs::Kind::Tree => 2,
        gix::objs::Kind::Blob => 3,
        gix::objs::Kind::Tag => 4,
    }
}

impl PackWriter {
    /// Start a pack in `pack_dir` (which must exist).
    pub(crate) fn create(pack_dir: &Path) -> std::io::Result<Self> {
        let tmp = pack_dir.join("tmp-argus-rewrite.pack");
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
            count: 0,
            written: HashSet::new(),
        })
    }

    /// Append one object given its uncompressed size and its compressed bytes.
    pub(crate) fn add(
        &mut self,
        id: ObjectId,
        kind: gix::objs::Kind,
        size: usize,
        compressed: &[u8],
    ) -> std::io::Result<()> {
        if !self.written.insert(id) {
            return Ok(());
        }
        let mut header = [0u8; 16];
        let mut n = 0;
        let mut size = size as u64;
        let mut byte = (type_code(kind) << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            header[n] = byte | 0x80;
            n += 1;
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        header[n] = byte;
        n += 1;
        self.file.write_all(&header[..n])?;
        self.file.write_all(compressed)?;
        self.count += 1;
        Ok(())
    }

    /// Compress and append one object.
    pub(crate) fn add_raw(
        &mut self,
        id: ObjectId,
        kind: gix::objs::Kind,
        data: &[u8],
    ) -> std::io::Result<()> {
        if self.written.contains(&id) {
            return Ok(());
        }
        let z = deflate(data)?;
        self.add(id, kind, data.len(), &z)
    }

    /// Patch the count, append the checksum and give the pack its final name; `None` (and no
    /// file left behind) when no object was written.
    pub(crate) fn finish(self) -> std::io::Result<Option<PathBuf>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        if self.count == 0 {
            drop(file);
            std::fs::remove_file(&self.tmp)?;
            return Ok(None);
        }
        file.seek(SeekFrom::Start(8))?;
        file.write_all(&self.count.to_be_bytes())?;
        file.seek(SeekFrom::Start(0))?;
        let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
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
        Ok(Some(path))
    }
}
