//! Writing loose objects, the way git lays them out, with one compressor for a whole command.
//!
//! A version is a blob, a tree and a commit; a claim writes two versions. Setting up a zlib
//! compressor (allocating and clearing a few hundred KiB of state) costs more than compressing
//! one of these small objects, and the general-purpose object writer sets one up per object.
//! This writer sets one up on first use and resets it between objects.
//!
//! Guarantees: an object file appears under its final name only once complete (written to a
//! temporary file in the objects directory, then renamed), is read-only like git's, and an
//! object that already exists is not rewritten.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use gix::objs::{Kind, WriteTo};
use gix::zlib::stream::deflate::{Compress, FlushCompress};
use gix::zlib::{Compression, Status};

use super::{Error, ObjectId, Result};

/// Writes objects into one repository's `objects` directory.
pub(super) struct LooseWriter {
    objects_dir: PathBuf,
    hash_kind: gix::hash::Kind,
    level: Compression,
    /// Behind a lock so one store can write from several threads; a command writes from one.
    compressor: Mutex<Option<Compress>>,
}

impl LooseWriter {
    pub(super) fn new(repo: &gix::Repository) -> LooseWriter {
        // git compresses loose objects at `core.looseCompression`, else `core.compression`,
        // else level 1.
        let config = repo.config_snapshot();
        let level = ["core.looseCompression", "core.compression"]
            .iter()
            .find_map(|key| config.integer(key))
            .map(|level| if level < 0 { 6 } else { level })
            .and_then(|level| i32::try_from(level).ok())
            .and_then(Compression::new)
            .unwrap_or(Compression::BEST_SPEED);
        LooseWriter {
            objects_dir: repo.common_dir().join("objects"),
            hash_kind: repo.object_hash(),
            level,
            compressor: Mutex::new(None),
        }
    }

    /// Write `object` and return its id.
    pub(super) fn write(&self, object: &dyn WriteTo) -> Result<ObjectId> {
        let mut data = Vec::with_capacity(object.size() as usize);
        object
            .write_to(&mut data)
            .map_err(|err| io_error("cannot serialise an object", err))?;
        self.write_buf(object.kind(), &data)
    }

    /// Write an object of `kind` whose content is `data` and return its id.
    pub(super) fn write_buf(&self, kind: Kind, data: &[u8]) -> Result<ObjectId> {
        let id = gix::objs::compute_hash(self.hash_kind, kind, data).map_err(Error::git("cannot hash an object"))?;
        let hex = id.to_hex().to_string();
        let dir = self.objects_dir.join(&hex[..2]);
        let path = dir.join(&hex[2..]);
        if path.exists() {
            return Ok(id);
        }
        let compressed = self.compress(&gix::objs::encode::loose_header(kind, data.len() as u64), data)?;
        let mut builder = tempfile::Builder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o444));
        }
        let mut file = builder
            .tempfile_in(&self.objects_dir)
            .map_err(|err| io_error("cannot create a temporary object file", err))?;
        file.write_all(&compressed)
            .map_err(|err| io_error("cannot write an object file", err))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(io_error("cannot create an object directory", err)),
        }
        // Another writer may have written the same object meanwhile: its bytes are the same.
        file.persist(&path)
            .map_err(|err| io_error("cannot move an object file into place", err.error))?;
        Ok(id)
    }

    fn compress(&self, header: &[u8], data: &[u8]) -> Result<Vec<u8>> {
        // A writer that panicked mid-compression leaves a compressor that is reset before use.
        let mut slot = self.compressor.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let compressor = match slot.as_mut() {
            Some(compressor) => {
                compressor.reset();
                compressor
            }
            None => slot.insert(Compress::new(self.level)),
        };
        let mut input = Vec::with_capacity(header.len() + data.len());
        input.extend_from_slice(header);
        input.extend_from_slice(data);
        // zlib's bound for one-shot compression: never more than the input plus a little.
        let mut output = vec![0u8; input.len() + input.len() / 1000 + 64];
        let before_out = compressor.total_out();
        let status = compressor
            .compress(&input, &mut output, FlushCompress::Finish)
            .map_err(Error::git("cannot compress an object"))?;
        if status != Status::StreamEnd {
            return Err(io_error(
                "cannot compress an object",
                std::io::Error::other("the compressed object did not fit its buffer"),
            ));
        }
        let written = usize::try_from(compressor.total_out() - before_out)
            .expect("the compressed size fits in memory because it was written to a buffer");
        output.truncate(written);
        Ok(output)
    }
}

fn io_error(context: &str, err: std::io::Error) -> Error {
    Error::Io {
        context: context.to_owned(),
        source: err,
    }
}
